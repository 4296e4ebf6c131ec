//! Customer lifetime value: the purchase histories the models are fitted on, and the fits,
//! stored with their date and sample size so that every prediction names the model behind it.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::analytics::clv::{
    fit_bg_nbd, fit_gamma_gamma, summarise, year_ahead, BgNbdParams, CustomerSummary,
    GammaGammaParams, YearAhead,
};
use crm_domain::analytics::profit::Figures;
use crm_domain::platform::money::Currency;
use crm_domain::sales::orders::OrderStatus;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::exchange_rates::ToBase;
use crate::platform::schema::{clv_fits, orders};
use crate::{new_id, now, StoreError};

/// A fitted pair of models.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub id: String,
    pub fitted_at: NaiveDateTime,
    /// Purchases up to and including this day were seen.
    pub observed_until: NaiveDate,
    /// Customers the purchase model was fitted on.
    pub customers: i64,
    /// Customers with repeat purchases of positive value: the spend model's sample.
    pub repeat_customers: i64,
    pub purchases: BgNbdParams,
    pub spend: GammaGammaParams,
}

/// Each customer's purchase days up to `observed_until`, with the profit contribution
/// (revenue − cost of goods, in base-currency minor units) of each day; optionally of one
/// company only.
pub fn purchase_days(
    conn: &mut DbConnection,
    company_id: Option<&str>,
    observed_until: NaiveDate,
    base: Currency,
) -> Result<BTreeMap<String, BTreeMap<NaiveDate, f64>>, StoreError> {
    let end = observed_until
        .succ_opt()
        .unwrap_or(observed_until)
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default();
    let mut query = orders::table
        .filter(orders::company_id.is_not_null())
        .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
        .filter(orders::ordered_at.lt(end))
        .select((
            orders::company_id,
            orders::ordered_at,
            orders::currency,
            orders::subtotal_minor - orders::discount_minor - orders::cost_minor,
        ))
        .into_boxed();
    if let Some(id) = company_id {
        query = query.filter(orders::company_id.eq(id.to_owned()));
    }
    let rows: Vec<(Option<String>, NaiveDateTime, String, i64)> = query.load(conn)?;
    let mut to_base = ToBase::new(base);
    let mut customers: BTreeMap<String, BTreeMap<NaiveDate, f64>> = BTreeMap::new();
    for (company, at, currency, profit) in rows {
        let Some(company) = company else { continue };
        let month = crate::analytics::rollups::month_of(at.date());
        let converted = to_base.amount(conn, profit, &currency, &month)?;
        // Minor units stay far below 2^53, where f64 is exact.
        *customers
            .entry(company)
            .or_default()
            .entry(at.date())
            .or_default() += converted as f64;
    }
    Ok(customers)
}

fn fit_error(e: crm_domain::analytics::clv::FitError) -> StoreError {
    Violation::new("clv", format!("the models cannot be fitted: {e}")).into()
}

/// Fits both models on every customer's purchases up to `observed_until`, and stores the fit.
pub fn fit(
    conn: &mut DbConnection,
    observed_until: NaiveDate,
    base: Currency,
) -> Result<Fit, StoreError> {
    let summaries: Vec<CustomerSummary> = purchase_days(conn, None, observed_until, base)?
        .values()
        .filter_map(|days| summarise(days, observed_until))
        .collect();
    let histories: Vec<_> = summaries.iter().map(|s| s.history).collect();
    let purchases = fit_bg_nbd(&histories).map_err(fit_error)?;
    let spend_sample: Vec<(u32, f64)> = summaries
        .iter()
        .filter(|s| s.history.frequency > 0 && s.repeat_mean_value > 0.0)
        .map(|s| (s.history.frequency, s.repeat_mean_value))
        .collect();
    let spend = fit_gamma_gamma(&spend_sample).map_err(fit_error)?;
    let fit = Fit {
        id: new_id(),
        fitted_at: now(),
        observed_until,
        customers: i64::try_from(summaries.len()).unwrap_or(i64::MAX),
        repeat_customers: i64::try_from(spend_sample.len()).unwrap_or(i64::MAX),
        purchases,
        spend,
    };
    diesel::insert_into(clv_fits::table)
        .values(FitRow::from(&fit))
        .execute(conn)?;
    Ok(fit)
}

/// A fit as stored: the models' parameters flattened into columns.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = clv_fits)]
struct FitRow {
    id: String,
    fitted_at: NaiveDateTime,
    observed_until: NaiveDate,
    customers: i64,
    repeat_customers: i64,
    bgnbd_r: f64,
    bgnbd_alpha: f64,
    bgnbd_a: f64,
    bgnbd_b: f64,
    gamma_gamma_p: f64,
    gamma_gamma_q: f64,
    gamma_gamma_gamma: f64,
}

impl From<&Fit> for FitRow {
    fn from(fit: &Fit) -> Self {
        let (purchases, spend) = (&fit.purchases, &fit.spend);
        FitRow {
            id: fit.id.clone(),
            fitted_at: fit.fitted_at,
            observed_until: fit.observed_until,
            customers: fit.customers,
            repeat_customers: fit.repeat_customers,
            bgnbd_r: purchases.r,
            bgnbd_alpha: purchases.alpha,
            bgnbd_a: purchases.a,
            bgnbd_b: purchases.b,
            gamma_gamma_p: spend.p,
            gamma_gamma_q: spend.q,
            gamma_gamma_gamma: spend.gamma,
        }
    }
}

impl From<FitRow> for Fit {
    fn from(row: FitRow) -> Self {
        Fit {
            id: row.id,
            fitted_at: row.fitted_at,
            observed_until: row.observed_until,
            customers: row.customers,
            repeat_customers: row.repeat_customers,
            purchases: BgNbdParams {
                r: row.bgnbd_r,
                alpha: row.bgnbd_alpha,
                a: row.bgnbd_a,
                b: row.bgnbd_b,
            },
            spend: GammaGammaParams {
                p: row.gamma_gamma_p,
                q: row.gamma_gamma_q,
                gamma: row.gamma_gamma_gamma,
            },
        }
    }
}

/// The newest fit, if any.
pub fn latest(conn: &mut DbConnection) -> Result<Option<Fit>, StoreError> {
    Ok(clv_fits::table
        .order((clv_fits::fitted_at.desc(), clv_fits::id.desc()))
        .select(FitRow::as_select())
        .first(conn)
        .optional()?
        .map(Fit::from))
}

/// Fits anew when the newest fit is older than `max_age`, or there is none. Not enough
/// customers to fit is not an error here: a young database simply has no model yet.
pub fn refit_if_stale(
    conn: &mut DbConnection,
    max_age: chrono::Duration,
    base: Currency,
) -> Result<Option<Fit>, StoreError> {
    let at = now();
    if latest(conn)?.is_some_and(|f| at - f.fitted_at < max_age) {
        return Ok(None);
    }
    match fit(conn, at.date(), base) {
        Ok(fit) => Ok(Some(fit)),
        Err(StoreError::Invalid(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A customer's lifetime value: its profit contribution to date, and, once a model has been
/// fitted, the newest fit with what it expects of the customer's next year.
pub fn customer_value(
    conn: &mut DbConnection,
    company_id: &str,
    base: Currency,
) -> Result<(i64, Option<(Fit, YearAhead)>), StoreError> {
    crate::parties::companies::ensure_exists(conn, company_id)?;
    let months = crate::analytics::profit::monthly(conn, company_id, "0000-01", "9999-12", base)?;
    let historical = Figures::total(months.values())?.gross_profit_minor();
    let Some(fit) = latest(conn)? else {
        return Ok((historical, None));
    };
    let days = purchase_days(conn, Some(company_id), fit.observed_until, base)?.remove(company_id);
    let ahead = year_ahead(
        &fit.purchases,
        &fit.spend,
        days.as_ref(),
        fit.observed_until,
    );
    Ok((historical, Some((fit, ahead))))
}
