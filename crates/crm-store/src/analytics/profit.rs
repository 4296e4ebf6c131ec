//! Analytics read from the rollups, in the base currency.

use std::collections::BTreeMap;

use chrono::{Months, NaiveDate};

use crm_domain::analytics::profit::{
    assign_tiers, commissions, product_totals, profit_series, rank_customers, ranked_at, Figures,
    Granularity, PeriodFigures, ProductFigures, ProductSales, ProductTierThresholds, RankOrder,
    RankedCustomer, SalespersonCommission, TierCounts,
};
use crm_domain::parties::companies::Tier;
use crm_domain::platform::money::Currency;
use crm_domain::Violation;

use crate::analytics::{rollups, years};
use crate::platform::db::DbConnection;
use crate::platform::exchange_rates::ToBase;
use crate::StoreError;

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
            returns_minor: c(figures.returns_minor)?,
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
        months.entry(month).or_default().add(&converted)?;
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
        companies.entry(company).or_default().add(&converted)?;
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
) -> Result<ProductSales, StoreError> {
    let mut to_base = ToBase::new(base);
    let mut sales: BTreeMap<(String, String), ProductFigures> = BTreeMap::new();
    for ((product, salesperson, month, currency), figures) in
        rollups::product_range(conn, from, to)?
    {
        let converted = to_base.product(conn, &figures, &currency, &month)?;
        sales
            .entry((product, salesperson))
            .or_default()
            .add(&converted)?;
    }
    Ok(sales)
}

/// The commission report of `from..=to` (or of `only` salesperson): each salesperson's
/// commission, with their email.
pub fn commission_report(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
    thresholds: ProductTierThresholds,
    only: Option<&str>,
) -> Result<Vec<(SalespersonCommission, Option<String>)>, StoreError> {
    if let Some(id) = only {
        crate::access::users::get(conn, id).map_err(|e| match e {
            StoreError::NotFound => Violation::new("salesperson_id", "no user has this id").into(),
            other => other,
        })?;
    }
    let sales = by_product_and_salesperson(conn, from, to, base)?;
    let rates = crate::analytics::commission_rates::get(conn)?.value;
    let people = commissions(&sales, &rates, thresholds, only)?;
    let ids: Vec<String> = people.iter().map(|p| p.salesperson_id.clone()).collect();
    let emails: BTreeMap<String, String> = crate::access::users::emails(conn, &ids)?
        .into_iter()
        .collect();
    Ok(people
        .into_iter()
        .map(|person| {
            let email = emails.get(&person.salesperson_id).cloned();
            (person, email)
        })
        .collect())
}

/// Each catalogue product sold in `from..=to`, with its SKU, name and figures.
pub fn product_report(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<Vec<(String, String, String, ProductFigures)>, StoreError> {
    let mut totals = product_totals(&by_product_and_salesperson(conn, from, to, base)?)?;
    totals.remove("");
    let ids: Vec<String> = totals.keys().cloned().collect();
    Ok(crate::sales::products::names(conn, &ids)?
        .into_iter()
        .filter_map(|(id, sku, name)| {
            let figures = totals.remove(&id)?;
            Some((id, sku, name, figures))
        })
        .collect())
}

/// A ranked customer with its name and current tier.
pub type NamedRank = (RankedCustomer, String, Option<Tier>);

/// One page of the customer ranking of `from..=to`, each customer with its name and current
/// tier, and how many the whole ranking holds. Names are looked up for the page only: the
/// ranking itself needs none of them.
pub fn customer_ranking(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
    order: RankOrder,
    (offset, limit): (usize, usize),
) -> Result<(Vec<NamedRank>, usize), StoreError> {
    let (page, total) = match usable_year(conn, from, to, base)? {
        Some(year) => {
            let (positions, positive, total) =
                years::ranking_page(conn, year, order, (offset, limit))?;
            (ranked_at(positions, positive), total)
        }
        None => {
            let ranked = rank_customers(&by_company(conn, from, to, base)?, order);
            let total = ranked.len();
            let page: Vec<RankedCustomer> = ranked.into_iter().skip(offset).take(limit).collect();
            (page, total)
        }
    };
    let ids: Vec<String> = page.iter().map(|r| r.company_id.clone()).collect();
    let mut names: BTreeMap<String, (String, Option<Tier>)> =
        crate::parties::companies::names(conn, &ids)?
            .into_iter()
            .map(|(id, name, tier)| (id, (name, tier)))
            .collect();
    let rows = page
        .into_iter()
        .map(|ranked| {
            let (name, tier) = names.remove(&ranked.company_id).unwrap_or_default();
            (ranked, name, tier)
        })
        .collect();
    Ok((rows, total))
}

/// The year that `from..=to` spans whole, when its yearly rollups can answer in `base`.
fn usable_year(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
    base: Currency,
) -> Result<Option<i32>, StoreError> {
    let year = from
        .strip_suffix("-01")
        .filter(|year| to.strip_suffix("-12") == Some(*year))
        .and_then(|year| year.parse::<i32>().ok());
    match year {
        Some(year) if years::usable(conn, year, base)? => Ok(Some(year)),
        _ => Ok(None),
    }
}

/// A customer's profit from the period holding `from` to the one holding `to`, each period
/// beside the one before and the same one a year earlier.
pub fn customer_profit_series(
    conn: &mut DbConnection,
    company_id: &str,
    (from, to): (NaiveDate, NaiveDate),
    granularity: Granularity,
    base: Currency,
) -> Result<Vec<PeriodFigures>, StoreError> {
    crate::parties::companies::ensure_exists(conn, company_id)?;
    let month_text = |d: NaiveDate| d.format("%Y-%m").to_string();
    let reach_back = granularity.period_start(from) - Months::new(12);
    let months = monthly(
        conn,
        company_id,
        &month_text(reach_back),
        &month_text(to),
        base,
    )?
    .into_iter()
    .map(|(month, figures)| {
        let first_day =
            NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").map_err(|_| {
                StoreError::Corrupt {
                    table: "customer_rollups",
                    column: "month",
                    value: month.clone(),
                }
            })?;
        Ok((first_day, figures))
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(profit_series(&months, from, to, granularity)?)
}

/// Tiers every live customer by its profit in `year` (the thresholds are cumulative shares of
/// the profit, in basis points) and says how many landed in each tier.
pub fn recompute_tiers(
    conn: &mut DbConnection,
    year: i32,
    (a_up_to_bp, b_up_to_bp): (i64, i64),
    base: Currency,
) -> Result<TierCounts, StoreError> {
    let (from, to) = (format!("{year}-01"), format!("{year}-12"));
    let profits: Vec<(String, i64)> = match usable_year(conn, &from, &to, base)? {
        Some(year) => years::profits(conn, year)?,
        None => by_company(conn, &from, &to, base)?
            .into_iter()
            .map(|(id, f)| (id, f.gross_profit_minor()))
            .collect(),
    };
    let tiers = assign_tiers(&profits, a_up_to_bp, b_up_to_bp);
    let tiered = crate::parties::companies::set_tiers(conn, &tiers, year)?;
    Ok(TierCounts::of(&tiers, tiered))
}
