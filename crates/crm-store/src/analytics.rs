//! Analytics read from the rollups, in the base currency.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};
use crm_domain::analytics::Figures;
use crm_domain::exchange::{convert, Rate};
use crm_domain::money::Currency;
use crm_domain::Violation;

use crate::db::DbConnection;
use crate::{exchange_rates, rollups, StoreError};

/// The last day of a `YYYY-MM` month.
fn month_end(month: &str) -> Result<NaiveDate, StoreError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        StoreError::from(Violation::new("month", format!("`{month}` is not a month")))
    })?;
    Ok((first + Months::new(1)).pred_opt().unwrap_or(first))
}

/// Converts a month's figures into the base currency at the latest rate on or before the last
/// day of that month; a missing rate is a violation naming the currency and the day.
fn to_base(
    conn: &mut DbConnection,
    figures: &Figures,
    currency: &str,
    month: &str,
    base: Currency,
) -> Result<Figures, StoreError> {
    let from: Currency = currency.parse()?;
    if from == base {
        return Ok(*figures);
    }
    let day = month_end(month)?;
    let rate = exchange_rates::rate_on_or_before(conn, currency, day)?.ok_or_else(|| {
        StoreError::from(Violation::new(
            "exchange_rate",
            format!("no {currency} to {base} rate on or before {day}"),
        ))
    })?;
    let rate = Rate::parse("exchange_rate", &rate)?;
    let c = |amount: i64| convert(amount, from, base, rate);
    Ok(Figures {
        revenue_minor: c(figures.revenue_minor)?,
        cost_minor: c(figures.cost_minor)?,
        returns_minor: c(figures.returns_minor)?,
        concessions_minor: c(figures.concessions_minor)?,
        orders: figures.orders,
        units_milli: figures.units_milli,
    })
}

/// Converts an amount of `currency` earned in `month` (`YYYY-MM`) into the base currency.
pub fn amount_to_base(
    conn: &mut DbConnection,
    amount_minor: i64,
    currency: &str,
    month: &str,
    base: Currency,
) -> Result<i64, StoreError> {
    let figures = Figures {
        revenue_minor: amount_minor,
        ..Figures::default()
    };
    Ok(to_base(conn, &figures, currency, month, base)?.revenue_minor)
}

/// One company's figures per month over `from..=to` (`YYYY-MM`), in the base currency.
pub fn monthly(
    conn: &mut DbConnection,
    company_id: &str,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<BTreeMap<String, Figures>, StoreError> {
    let mut months: BTreeMap<String, Figures> = BTreeMap::new();
    for ((_, month, currency), figures) in rollups::range(conn, Some(company_id), from, to)? {
        let converted = to_base(conn, &figures, &currency, &month, base)?;
        months.entry(month).or_default().add(&converted);
    }
    Ok(months)
}

/// Every company's totals over `from..=to`, in the base currency.
pub fn by_company(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<BTreeMap<String, Figures>, StoreError> {
    let mut companies: BTreeMap<String, Figures> = BTreeMap::new();
    for ((company, month, currency), figures) in rollups::range(conn, None, from, to)? {
        let converted = to_base(conn, &figures, &currency, &month, base)?;
        companies.entry(company).or_default().add(&converted);
    }
    Ok(companies)
}
