//! Analytics read from the rollups, in the base currency.

use std::collections::BTreeMap;

use crm_domain::analytics::profit::{Figures, ProductFigures};
use crm_domain::platform::money::Currency;

use crate::platform::db::DbConnection;
use crate::platform::exchange_rates::ToBase;
use crate::{analytics::rollups, StoreError};

impl ToBase {
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
