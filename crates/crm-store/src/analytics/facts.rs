//! Each customer's figures as segments filter them (`profit_last_12_months.amount_minor`,
//! `order_count`, `probability_alive`...), kept in `customer_facts` so that a segment count is
//! one indexed join, not a recomputation. Refreshed whole, as of a day, by one node at a time;
//! between refreshes, every change to a customer's monthly rollups adds to its order count and
//! profits in the same transaction (`crate::analytics::fact_changes`).

use chrono::{Datelike, Months, NaiveDate};
use crm_domain::analytics::clv::{probability_in_ten_thousandths, value_at_risk, year_ahead};
use crm_domain::platform::money::Currency;
use diesel::prelude::*;

use crate::analytics::clv::{latest, purchase_days};
use crate::analytics::profit::by_company;
use crate::platform::clock::Clock;
use crate::platform::db::{natively, try_lock_key, write_transaction, DbConnection};
use crate::platform::schema::{companies, customer_facts};
use crate::platform::settings;
use crate::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = customer_facts, treat_none_as_default_value = false)]
pub struct Facts {
    pub company_id: String,
    pub order_count: i64,
    pub profit_last_12_months_minor: i64,
    pub profit_last_year_minor: i64,
    pub clv_historical_minor: i64,
    pub clv_predicted_12_months_minor: Option<i64>,
    pub probability_alive_bp: Option<i64>,
    pub value_at_risk_minor: Option<i64>,
    pub as_of: NaiveDate,
    /// The months of the profit windows as of `as_of`, both ends included.
    pub recent_from: String,
    pub recent_to: String,
    pub last_year_from: String,
    pub last_year_to: String,
}

/// Rows inserted per statement, below SQLite's bound-parameter limit.
const CHUNK: usize = 1_000;

/// The months `from..=to` of the twelve ending with `today`'s, and of the calendar year
/// before `today`'s, as `YYYY-MM`.
fn windows(today: NaiveDate) -> ((String, String), (String, String)) {
    let this_month = today.with_day(1).unwrap_or(today);
    let twelve = (
        (this_month - Months::new(11)).format("%Y-%m").to_string(),
        this_month.format("%Y-%m").to_string(),
    );
    let last_year = today.year() - 1;
    (
        twelve,
        (format!("{last_year:04}-01"), format!("{last_year:04}-12")),
    )
}

/// Recomputes every live company's facts as of `today`, in the caller's write transaction;
/// a node that finds another refreshing skips (`None`). Returns the rows written.
pub fn refresh(
    conn: &mut DbConnection,
    base: Currency,
    today: NaiveDate,
) -> Result<Option<usize>, StoreError> {
    if !try_lock_key(conn, "customer-facts")? {
        return Ok(None);
    }
    let ((from, to), (year_from, year_to)) = windows(today);
    let months = (from.clone(), to.clone(), year_from.clone(), year_to.clone());
    let recent = by_company(conn, &from, &to, base)?;
    let last_year = by_company(conn, &year_from, &year_to, base)?;
    let ever = by_company(conn, "0000-01", "9999-12", base)?;
    let fit = latest(conn)?;
    let days = match &fit {
        Some(fit) => purchase_days(conn, None, fit.observed_until, base)?,
        None => Default::default(),
    };
    let live: Vec<String> = companies::table
        .filter(companies::archived_at.is_null())
        .select(companies::id)
        .load(conn)?;
    let rows: Vec<Facts> = live
        .into_iter()
        .map(|id| {
            let profit = |map: &std::collections::BTreeMap<
                String,
                crm_domain::analytics::profit::Figures,
            >| { map.get(&id).map_or(0, |f| f.gross_profit_minor()) };
            let historical = profit(&ever);
            let ahead = fit.as_ref().map(|fit| {
                year_ahead(
                    &fit.purchases,
                    &fit.spend,
                    days.get(&id),
                    fit.observed_until,
                )
            });
            let alive = ahead.as_ref().and_then(|a| a.probability_alive);
            Facts {
                order_count: ever.get(&id).map_or(0, |f| f.orders),
                profit_last_12_months_minor: profit(&recent),
                profit_last_year_minor: profit(&last_year),
                clv_historical_minor: historical,
                clv_predicted_12_months_minor: ahead.as_ref().and_then(|a| a.value_minor),
                probability_alive_bp: alive.and_then(probability_in_ten_thousandths),
                value_at_risk_minor: alive.map(|p| value_at_risk(p, historical)),
                as_of: today,
                recent_from: months.0.clone(),
                recent_to: months.1.clone(),
                last_year_from: months.2.clone(),
                last_year_to: months.3.clone(),
                company_id: id,
            }
        })
        .collect();
    diesel::delete(customer_facts::table).execute(conn)?;
    for chunk in rows.chunks(CHUNK) {
        // Multi-row inserts compile per backend.
        natively!(conn, |c| diesel::insert_into(customer_facts::table)
            .values(chunk)
            .execute(c))?;
    }
    Ok(Some(rows.len()))
}

/// Refreshes the facts as of the service clock's day in the fiscal time zone, in a write
/// transaction of its own.
pub fn refresh_today(
    conn: &mut DbConnection,
    base: Currency,
    clock: Clock,
) -> Result<Option<usize>, StoreError> {
    let now = clock.now(conn)?;
    let zone = crm_domain::platform::time::time_zone(
        "fiscal_time_zone",
        &settings::get(conn)?.fields.fiscal_time_zone,
    )?;
    let today = crm_domain::platform::time::local_date(now, zone);
    write_transaction(conn, |c| refresh(c, base, today))
}

/// A company's facts, if they were computed.
pub fn of_company(conn: &mut DbConnection, company_id: &str) -> Result<Option<Facts>, StoreError> {
    Ok(customer_facts::table
        .find(company_id)
        .select(Facts::as_select())
        .first(conn)
        .optional()?)
}

/// The day the facts were computed for, if they ever were.
pub fn as_of(conn: &mut DbConnection) -> Result<Option<NaiveDate>, StoreError> {
    Ok(customer_facts::table
        .select(diesel::dsl::max(customer_facts::as_of))
        .first(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_are_the_last_twelve_months_and_last_year() {
        let today = NaiveDate::from_ymd_opt(2027, 3, 18).unwrap();
        assert_eq!(
            windows(today),
            (
                ("2026-04".to_owned(), "2027-03".to_owned()),
                ("2026-01".to_owned(), "2026-12".to_owned())
            )
        );
    }
}
