//! Churn risk: which customers' value the newest CLV fit says is most at risk.

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::analytics::clv::{summarise, value_at_risk, year_ahead};
use crm_domain::analytics::profit::Figures;
use crm_domain::parties::companies::Tier;
use crm_domain::platform::money::Currency;
use crm_domain::sales::orders::OrderStatus;
use diesel::prelude::*;

use crate::analytics::clv::{latest, purchase_days};
use crate::analytics::profit::by_company;
use crate::platform::db::DbConnection;
use crate::platform::schema::{companies, orders};
use crate::platform::stored::stored;
use crate::StoreError;

/// Which value is at risk: the customer's profit to date, or the fit's next twelve months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    Historical,
    Predicted,
}

#[derive(Debug, Clone, Default)]
pub struct ChurnFilter {
    pub tier: Option<Tier>,
    pub owner_id: Option<String>,
    /// In minor units of the base currency.
    pub min_value: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ChurnRow {
    pub company_id: String,
    pub name: String,
    pub tier: Option<Tier>,
    pub last_order_at: Option<NaiveDateTime>,
    pub orders: i64,
    /// Repeat purchase days, as the purchase model counts them.
    pub frequency: u32,
    pub probability_alive: f64,
    pub value_minor: i64,
    pub value_at_risk_minor: i64,
}

type CompanyRow = (String, String, Option<String>, Option<String>);

/// The customers of the newest fit, most value at risk first (ties by id), at most `limit`.
/// Without a fit, a `409`.
pub fn churn_risk(
    conn: &mut DbConnection,
    base: Currency,
    basis: Basis,
    filter: &ChurnFilter,
    limit: usize,
) -> Result<(NaiveDate, Vec<ChurnRow>), StoreError> {
    let Some(fit) = latest(conn)? else {
        return Err(StoreError::Conflict {
            message: "no CLV fit yet: run `crm analytics fit`, or wait for the maintenance loop"
                .to_owned(),
            existing_id: None,
        });
    };
    let days = purchase_days(conn, None, fit.observed_until, base)?;
    let totals = by_company(conn, "0000-01", "9999-12", base)?;
    let mut query = companies::table
        .filter(companies::archived_at.is_null())
        .select((
            companies::id,
            companies::name,
            companies::tier,
            companies::owner_id,
        ))
        .into_boxed();
    if let Some(tier) = filter.tier {
        query = query.filter(companies::tier.eq(tier.as_str()));
    }
    if let Some(owner) = &filter.owner_id {
        query = query.filter(companies::owner_id.eq(owner.clone()));
    }
    let listed: Vec<CompanyRow> = query.load(conn)?;
    let mut rows = Vec::new();
    for (id, name, tier, _) in listed {
        let Some(purchases) = days.get(&id) else {
            continue;
        };
        let Some(summary) = summarise(purchases, fit.observed_until) else {
            continue;
        };
        let ahead = year_ahead(
            &fit.purchases,
            &fit.spend,
            Some(purchases),
            fit.observed_until,
        );
        let figures = totals.get(&id).copied().unwrap_or_else(Figures::default);
        let value_minor = match basis {
            Basis::Historical => figures.gross_profit_minor(),
            Basis::Predicted => ahead.value_minor.unwrap_or(0),
        };
        if filter.min_value.is_some_and(|min| value_minor < min) {
            continue;
        }
        let probability_alive = ahead.probability_alive.unwrap_or(0.0);
        rows.push(ChurnRow {
            tier: tier
                .as_deref()
                .map(|t| stored("companies", "tier", t))
                .transpose()?,
            company_id: id,
            name,
            last_order_at: None,
            orders: figures.orders,
            frequency: summary.history.frequency,
            probability_alive,
            value_minor,
            value_at_risk_minor: value_at_risk(probability_alive, value_minor),
        });
    }
    rows.sort_by(|a, b| {
        b.value_at_risk_minor
            .cmp(&a.value_at_risk_minor)
            .then_with(|| a.company_id.cmp(&b.company_id))
    });
    rows.truncate(limit);
    let ids: Vec<String> = rows.iter().map(|r| r.company_id.clone()).collect();
    let last: Vec<(Option<String>, Option<NaiveDateTime>)> = orders::table
        .filter(orders::company_id.eq_any(&ids))
        .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
        .group_by(orders::company_id)
        .select((orders::company_id, diesel::dsl::max(orders::ordered_at)))
        .load(conn)?;
    let last: std::collections::HashMap<String, NaiveDateTime> = last
        .into_iter()
        .filter_map(|(company, at)| Some((company?, at?)))
        .collect();
    for row in &mut rows {
        row.last_order_at = last.get(&row.company_id).copied();
    }
    Ok((fit.observed_until, rows))
}
