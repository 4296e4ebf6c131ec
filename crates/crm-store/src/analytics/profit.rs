//! Analytics read from the rollups, in the base currency.

use std::collections::{BTreeMap, HashMap};

use chrono::{Months, NaiveDate};
use crm_domain::analytics::profit::{Figures, ProductFigures};
use crm_domain::platform::exchange::{convert, Rate};
use crm_domain::platform::money::Currency;
use crm_domain::Violation;

use crate::platform::db::DbConnection;
use crate::{analytics::rollups, platform::exchange_rates, StoreError};

/// The last day of a `YYYY-MM` month.
fn month_end(month: &str) -> Result<NaiveDate, StoreError> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
        StoreError::from(Violation::new("month", format!("`{month}` is not a month")))
    })?;
    Ok((first + Months::new(1)).pred_opt().unwrap_or(first))
}

/// Converts a month's amounts into the base currency at the latest rate on or before the last
/// day of that month; a missing rate is a violation naming the currency and the day. Each rate
/// is looked up once per report.
pub struct ToBase {
    base: Currency,
    rates: HashMap<(String, String), Rate>,
}

impl ToBase {
    pub fn new(base: Currency) -> Self {
        ToBase {
            base,
            rates: HashMap::new(),
        }
    }

    /// A converter of amounts of `currency` earned in `month`, or none for the base currency.
    fn converter(
        &mut self,
        conn: &mut DbConnection,
        currency: &str,
        month: &str,
    ) -> Result<Option<impl Fn(i64) -> Result<i64, Violation>>, StoreError> {
        let from: Currency = currency.parse()?;
        let base = self.base;
        if from == base {
            return Ok(None);
        }
        let key = (currency.to_owned(), month.to_owned());
        let rate = match self.rates.get(&key) {
            Some(rate) => *rate,
            None => {
                let day = month_end(month)?;
                let text =
                    exchange_rates::rate_on_or_before(conn, currency, day)?.ok_or_else(|| {
                        StoreError::from(Violation::new(
                            "exchange_rate",
                            format!("no {currency} to {base} rate on or before {day}"),
                        ))
                    })?;
                let rate = Rate::parse("exchange_rate", &text)?;
                self.rates.insert(key, rate);
                rate
            }
        };
        Ok(Some(move |amount: i64| convert(amount, from, base, rate)))
    }

    pub fn figures(
        &mut self,
        conn: &mut DbConnection,
        figures: &Figures,
        currency: &str,
        month: &str,
    ) -> Result<Figures, StoreError> {
        let Some(c) = self.converter(conn, currency, month)? else {
            return Ok(*figures);
        };
        Ok(Figures {
            revenue_minor: c(figures.revenue_minor)?,
            cost_minor: c(figures.cost_minor)?,
            returns_minor: c(figures.returns_minor)?,
            concessions_minor: c(figures.concessions_minor)?,
            orders: figures.orders,
            units_milli: figures.units_milli,
        })
    }

    pub fn product(
        &mut self,
        conn: &mut DbConnection,
        figures: &ProductFigures,
        currency: &str,
        month: &str,
    ) -> Result<ProductFigures, StoreError> {
        let Some(c) = self.converter(conn, currency, month)? else {
            return Ok(*figures);
        };
        Ok(ProductFigures {
            revenue_minor: c(figures.revenue_minor)?,
            cost_minor: c(figures.cost_minor)?,
            ..*figures
        })
    }

    pub fn amount(
        &mut self,
        conn: &mut DbConnection,
        amount_minor: i64,
        currency: &str,
        month: &str,
    ) -> Result<i64, StoreError> {
        match self.converter(conn, currency, month)? {
            Some(c) => Ok(c(amount_minor)?),
            None => Ok(amount_minor),
        }
    }
}

/// One company's figures per month over `from..=to` (`YYYY-MM`), in the base currency.
pub fn monthly(
    conn: &mut DbConnection,
    company_id: &str,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<BTreeMap<String, Figures>, StoreError> {
    let mut to_base = ToBase::new(base);
    let mut months: BTreeMap<String, Figures> = BTreeMap::new();
    for ((_, month, currency), figures) in rollups::range(conn, Some(company_id), from, to)? {
        let converted = to_base.figures(conn, &figures, &currency, &month)?;
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
    let mut to_base = ToBase::new(base);
    let mut companies: BTreeMap<String, Figures> = BTreeMap::new();
    for ((company, month, currency), figures) in rollups::range(conn, None, from, to)? {
        let converted = to_base.figures(conn, &figures, &currency, &month)?;
        companies.entry(company).or_default().add(&converted);
    }
    Ok(companies)
}

/// Sales per (product, salesperson) over `from..=to`, in the base currency; `""` stands for
/// lines without a catalog product and orders without a salesperson.
pub fn by_product_and_salesperson(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<BTreeMap<(String, String), ProductFigures>, StoreError> {
    let mut to_base = ToBase::new(base);
    let mut sales: BTreeMap<(String, String), ProductFigures> = BTreeMap::new();
    for ((product, salesperson, month, currency), figures) in
        rollups::product_range(conn, from, to)?
    {
        let converted = to_base.product(conn, &figures, &currency, &month)?;
        sales
            .entry((product, salesperson))
            .or_default()
            .add(&converted);
    }
    Ok(sales)
}
