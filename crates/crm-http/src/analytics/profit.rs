//! `/v1/analytics`: profit contribution per customer, the customer ranking, profit tiers,
//! product margins and commissions.
//! Staff only; every amount in the base currency.

use actix_web::{get, post, web};
use chrono::{Datelike, Months, NaiveDate};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::analytics::clv::YearAhead;
use crm_domain::analytics::profit::{self, ProductTierThresholds, RankOrder};
use crm_domain::parties::companies::Tier;
use crm_domain::platform::money::Quantity;
use crm_store::analytics::profit as profit_store;
use crm_store::platform::pagination::{After, KeyValue};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiQuery, PagedQuery};
use crate::platform::money::Money;
use crate::platform::pagination::{
    decode_cursor, encode_cursor, page_limit, sort_choices, ListResponse, PageQuery,
};
use crate::platform::state::{AppState, HttpSettings};

/// How a series is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Month,
    Quarter,
    Year,
}

fn parse_month(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| text.len() == 7 && (1000..=9999).contains(&d.year()))
        .ok_or_else(|| ApiError::validation(field, "must be a month as YYYY-MM"))
}

fn month_text(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

impl From<Granularity> for profit::Granularity {
    fn from(g: Granularity) -> Self {
        match g {
            Granularity::Month => profit::Granularity::Month,
            Granularity::Quarter => profit::Granularity::Quarter,
            Granularity::Year => profit::Granularity::Year,
        }
    }
}

/// One period of a customer's profit.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfitPeriod {
    /// `YYYY-MM`, `YYYY-Qn` or `YYYY`.
    pub period: String,
    /// Net sales (after discounts, before tax) of orders not cancelled.
    pub revenue: Money,
    /// Cost of goods of those orders.
    pub cost: Money,
    /// Credit notes and refunds, net of tax.
    pub returns_and_credits: Money,
    /// Concessions to customers who kept returned items.
    pub concessions: Money,
    /// revenue − cost − returns and credits − concessions.
    pub gross_profit: Money,
    /// Gross profit over revenue, in basis points.
    pub margin_bp: Option<i64>,
    /// Orders placed.
    pub orders: i64,
    /// Revenue per order.
    pub average_order_value: Option<Money>,
    /// Gross profit change against the previous period, in basis points.
    pub gross_profit_change_vs_previous_bp: Option<i64>,
    /// Gross profit change against the same period a year earlier, in basis points.
    pub gross_profit_change_vs_last_year_bp: Option<i64>,
    /// Revenue change against the previous period, in basis points.
    pub revenue_change_vs_previous_bp: Option<i64>,
    /// Revenue change against the same period a year earlier, in basis points.
    pub revenue_change_vs_last_year_bp: Option<i64>,
}

/// A customer's profit contribution over time.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfitSeries {
    /// The customer.
    pub company_id: String,
    /// The base currency of every amount.
    pub currency: String,
    /// How periods are grouped.
    pub granularity: Granularity,
    /// Oldest first.
    pub periods: Vec<ProfitPeriod>,
}

/// The series' range.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProfitQuery {
    /// First month, `YYYY-MM`.
    #[param(example = "2026-01")]
    pub from: String,
    /// Last month, `YYYY-MM`, at most 10 years after `from`.
    #[param(example = "2026-12")]
    pub to: String,
    /// `month` (default), `quarter` or `year`.
    pub granularity: Option<Granularity>,
}

const RANKING_SORTS: [&str; 2] = ["-gross_profit", "-orders"];
const PRODUCT_SORTS: [&str; 3] = ["-gross_margin", "-revenue", "-return_rate_bp"];

fn ranking_sorts() -> utoipa::openapi::Object {
    sort_choices(&RANKING_SORTS)
}

fn product_sorts() -> utoipa::openapi::Object {
    sort_choices(&PRODUCT_SORTS)
}

fn product_tiers(settings: &HttpSettings) -> ProductTierThresholds {
    ProductTierThresholds {
        a_from_bp: settings.product_tier_a_from_margin_bp,
        b_from_bp: settings.product_tier_b_from_margin_bp,
    }
}

fn money(amount: i64, currency: &str) -> Money {
    Money::new(amount, currency)
}

#[utoipa::path(tag = "analytics", operation_id = "getCustomerProfit", summary = "A customer's profit contribution over time",
    description = "From the maintained rollups, in the base currency: each month converts at the latest rate on or before its last day; a missing rate is a `422` naming the currency and the date.",
    params(("company_id" = String, Path, description = "Company id"), ProfitQuery),
    responses((status = 200, description = "The series", body = ProfitSeries)))]
#[get("/analytics/customers/{company_id}/profit")]
pub async fn customer_profit(
    state: web::Data<AppState>,
    principal: Principal,
    company_id: web::Path<String>,
    ApiQuery(query): ApiQuery<ProfitQuery>,
) -> Result<web::Json<ProfitSeries>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let granularity = query.granularity.unwrap_or(Granularity::Month);
    let months = query.months(granularity)?;
    let base = state.settings.base_currency;
    let company = company_id.into_inner();
    let id = company.clone();
    let periods = state
        .db
        .read(move |conn| {
            profit_store::customer_profit_series(conn, &id, months, granularity.into(), base)
        })
        .await?;
    let series = ProfitSeries::new(company, &periods, granularity, base.to_string());
    Ok(web::Json(series))
}

impl ProfitQuery {
    /// The first and last month, at most ten years apart counted from the start of the
    /// period that holds `from`.
    fn months(&self, granularity: Granularity) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let from = parse_month("from", &self.from)?;
        let to = parse_month("to", &self.to)?;
        let start = profit::Granularity::from(granularity).period_start(from);
        if to < start || to > start + Months::new(120) {
            return Err(ApiError::validation(
                "to",
                "must be from 0 to 120 months after from",
            ));
        }
        Ok((from, to))
    }
}

impl ProfitSeries {
    fn new(
        company_id: String,
        periods: &[profit::PeriodFigures],
        granularity: Granularity,
        currency: String,
    ) -> Self {
        ProfitSeries {
            company_id,
            periods: periods
                .iter()
                .map(|p| ProfitPeriod::new(p, &currency))
                .collect(),
            currency,
            granularity,
        }
    }
}

impl ProfitPeriod {
    fn new(p: &profit::PeriodFigures, currency: &str) -> Self {
        let now = &p.now;
        ProfitPeriod {
            period: p.period.clone(),
            revenue: money(now.revenue_minor, currency),
            cost: money(now.cost_minor, currency),
            returns_and_credits: money(now.returns_minor, currency),
            concessions: money(now.concessions_minor, currency),
            gross_profit: money(now.gross_profit_minor(), currency),
            margin_bp: now.margin_bp(),
            orders: now.orders,
            average_order_value: now.average_order_value_minor().map(|a| money(a, currency)),
            gross_profit_change_vs_previous_bp: p.gross_profit_change_vs_previous_bp(),
            gross_profit_change_vs_last_year_bp: p.gross_profit_change_vs_last_year_bp(),
            revenue_change_vs_previous_bp: p.revenue_change_vs_previous_bp(),
            revenue_change_vs_last_year_bp: p.revenue_change_vs_last_year_bp(),
        }
    }
}

/// A `YYYY` or `YYYY-MM..YYYY-MM` period as its first and last month.
fn parse_period(text: &str) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::validation("period", "must be YYYY or YYYY-MM..YYYY-MM");
    if let Some((a, b)) = text.split_once("..") {
        let (from, to) = (
            parse_month("period", a).map_err(|_| invalid())?,
            parse_month("period", b).map_err(|_| invalid())?,
        );
        if to < from || to > from + Months::new(120) {
            return Err(invalid());
        }
        return Ok((month_text(from), month_text(to)));
    }
    let year: i32 = text.parse().map_err(|_| invalid())?;
    if !(1000..=9999).contains(&year) || text.len() != 4 {
        return Err(invalid());
    }
    Ok((format!("{year}-01"), format!("{year}-12")))
}

/// A customer's place in the ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct RankedCustomer {
    /// The customer.
    pub company_id: String,
    /// Its name.
    pub name: String,
    /// Its current tier.
    pub tier: Option<Tier>,
    /// Net sales.
    pub revenue: Money,
    /// Profit contribution.
    pub gross_profit: Money,
    /// Gross profit over revenue, in basis points.
    pub margin_bp: Option<i64>,
    /// Orders placed.
    pub orders: i64,
    /// Its share of the period's total positive profit, in basis points.
    pub share_bp: i64,
    /// The share of the customers ranked above it and its own, in basis points.
    pub cumulative_share_bp: i64,
    /// 1 for the most profitable.
    pub profit_rank: i64,
    /// 1 for the most orders: compare with `profit_rank` to see where volume and profit disagree.
    pub volume_rank: i64,
}

/// The ranking's period and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingQuery {
    /// `YYYY`, or `YYYY-MM..YYYY-MM`.
    #[param(example = "2026")]
    pub period: String,
    /// `-gross_profit` (default) or `-orders`.
    #[param(schema_with = ranking_sorts)]
    pub sort: Option<String>,
}

#[utoipa::path(tag = "analytics", operation_id = "rankCustomers", summary = "Customers ranked by profit contribution",
    description = "Each customer's share and cumulative share of the period's positive profit, its tier, and its order-volume rank beside its profit rank. Cursor-paginated.",
    params(RankingQuery, PageQuery),
    responses((status = 200, description = "A page of the ranking", body = ListResponse<RankedCustomer>)))]
#[get("/analytics/customers")]
pub async fn rank_customers(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<RankingQuery>,
) -> Result<web::Json<ListResponse<RankedCustomer>>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let (from, to) = parse_period(&query.period)?;
    let (sort, order) = query.order()?;
    let window = page_window(&paging, &sort)?;
    let base = state.settings.base_currency;
    let (rows, total) = state
        .db
        .read(move |conn| profit_store::customer_ranking(conn, &from, &to, base, order, window))
        .await?;
    let currency = base.to_string();
    let data: Vec<RankedCustomer> = rows
        .into_iter()
        .map(|(ranked, name, tier)| RankedCustomer::new(ranked, name, tier, &currency))
        .collect();
    let next_cursor = next_page(window.0, data.len(), total, &sort);
    Ok(web::Json(ListResponse { data, next_cursor }))
}

impl RankingQuery {
    /// The sort asked for, and the order of the ranking it means.
    fn order(&self) -> Result<(String, RankOrder), ApiError> {
        let sort = self.sort.clone().unwrap_or_else(|| "-gross_profit".into());
        if !RANKING_SORTS.contains(&sort.as_str()) {
            return Err(ApiError::validation(
                "sort",
                "must be -gross_profit or -orders",
            ));
        }
        let order = if sort == "-orders" {
            RankOrder::Volume
        } else {
            RankOrder::Profit
        };
        Ok((sort, order))
    }
}

impl RankedCustomer {
    fn new(
        ranked: profit::RankedCustomer,
        name: String,
        tier: Option<Tier>,
        currency: &str,
    ) -> Self {
        let f = ranked.figures;
        RankedCustomer {
            company_id: ranked.company_id,
            name,
            tier,
            revenue: money(f.revenue_minor, currency),
            gross_profit: money(f.gross_profit_minor(), currency),
            margin_bp: f.margin_bp(),
            orders: f.orders,
            share_bp: ranked.share_bp,
            cumulative_share_bp: ranked.cumulative_share_bp,
            profit_rank: ranked.profit_rank,
            volume_rank: ranked.volume_rank,
        }
    }
}

/// The offset and size of the page a report computed whole is asked for: the cursor holds the
/// offset, bound to the sort.
fn page_window(paging: &PageQuery, sort: &str) -> Result<(usize, usize), ApiError> {
    let limit = usize::try_from(page_limit(paging.limit)?).unwrap_or(50);
    let offset = match decode_cursor(paging.cursor.as_deref(), sort)? {
        Some(After {
            key: KeyValue::Number(n),
            ..
        }) => usize::try_from(n).unwrap_or(0),
        Some(_) => {
            return Err(ApiError::validation(
                "cursor",
                "is not a cursor returned by this list",
            ))
        }
        None => 0,
    };
    Ok((offset, limit))
}

/// The cursor of the page after `returned` rows from `offset`, when the report holds more.
fn next_page(offset: usize, returned: usize, total: usize, sort: &str) -> Option<String> {
    let next = offset + returned;
    (next < total).then(|| {
        encode_cursor(
            &After {
                key: KeyValue::Number(i64::try_from(next).unwrap_or(0)),
                id: String::new(),
            },
            sort,
        )
    })
}

/// A page of a report computed whole.
fn page_of<T: ToSchema>(
    rows: Vec<T>,
    paging: &PageQuery,
    sort: &str,
) -> Result<ListResponse<T>, ApiError> {
    let (offset, limit) = page_window(paging, sort)?;
    let total = rows.len();
    let data: Vec<T> = rows.into_iter().skip(offset).take(limit).collect();
    let next_cursor = next_page(offset, data.len(), total, sort);
    Ok(ListResponse { data, next_cursor })
}

/// How many customers landed in each tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierCounts {
    /// The year whose profit decided.
    pub basis_year: i32,
    /// Customers in A.
    pub a: i64,
    /// Customers in B.
    pub b: i64,
    /// Customers in C, including those with no or negative profit.
    pub c: i64,
}

/// Which year decides.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TierQuery {
    /// The year whose profit contribution decides the tiers.
    #[param(example = 2025, minimum = 1000, maximum = 9999)]
    pub basis_year: i32,
}

#[utoipa::path(tag = "analytics", operation_id = "recomputeTiers", summary = "Recompute customer tiers from a year's profit",
    description = "Managers and admins. Ranks customers by the basis year's profit contribution; A while the cumulative share of profit above a customer is below the A threshold (80% by default), B below the B threshold (95%), else C. Customers with zero or negative contribution, and those without sales, are C. Writes `tier` and `tier_basis_year` to every company.",
    params(TierQuery),
    responses((status = 200, description = "The counts per tier", body = TierCounts)))]
#[post("/analytics/tiers/recompute")]
pub async fn recompute_tiers(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<TierQuery>,
) -> Result<web::Json<TierCounts>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Write)?;
    let year = query.year()?;
    let base = state.settings.base_currency;
    let thresholds = (
        state.settings.tier_a_up_to_bp,
        state.settings.tier_b_up_to_bp,
    );
    let counts = state
        .db
        .write(move |conn| profit_store::recompute_tiers(conn, year, thresholds, base))
        .await?;
    Ok(web::Json(TierCounts {
        basis_year: year,
        a: counts.a,
        b: counts.b,
        c: counts.c,
    }))
}

impl TierQuery {
    fn year(&self) -> Result<i32, ApiError> {
        if !(1000..=9999).contains(&self.basis_year) {
            return Err(ApiError::validation(
                "basis_year",
                "must be a year between 1000 and 9999",
            ));
        }
        Ok(self.basis_year)
    }
}

/// One product's sales and margin over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductAnalytics {
    /// The product.
    pub product_id: String,
    /// Its SKU.
    pub sku: String,
    /// Its name.
    pub name: String,
    /// Net sales (after discounts, before tax) on orders not cancelled.
    pub revenue: Money,
    /// Refunded, credited or conceded on these sales in the period, net of tax.
    pub returns: Money,
    /// Cost of goods, at the cost snapshotted on each order, less the cost of units that came
    /// back into stock.
    pub cost: Money,
    /// revenue − returns − cost.
    pub gross_margin: Money,
    /// Gross margin over revenue less returns, in basis points.
    pub margin_bp: Option<i64>,
    /// Units sold, as a decimal.
    pub units: String,
    /// Units on returns resolved in the period, as a decimal.
    pub returned_units: String,
    /// Returned units over units sold, in basis points.
    pub return_rate_bp: Option<i64>,
    /// A from the A margin threshold up, B from the B threshold up, else C.
    pub tier: Tier,
}

/// The period and paging of the product report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductsQuery {
    /// `YYYY`, or `YYYY-MM..YYYY-MM`.
    #[param(example = "2026")]
    pub period: String,
    /// `-gross_margin` (default), `-revenue` or `-return_rate_bp`.
    #[param(schema_with = product_sorts)]
    pub sort: Option<String>,
}

/// Sales per (product, salesperson) over a period, in the base currency, from the rollups.
#[utoipa::path(tag = "analytics", operation_id = "productAnalytics", summary = "Sales, margin and return rate per product",
    description = "From the maintained product rollups, in the base currency (each month at the latest rate on or before its last day; a missing rate is a `422`). Lines without a catalog product are left out. The tier comes from the product's margin over the period and the configured thresholds (by default A from 40%, B from 20%).",
    params(ProductsQuery, PageQuery),
    responses((status = 200, description = "A page of products", body = ListResponse<ProductAnalytics>)))]
#[get("/analytics/products")]
pub async fn product_analytics(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ProductsQuery>,
) -> Result<web::Json<ListResponse<ProductAnalytics>>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let (from, to) = parse_period(&query.period)?;
    let sort = query.sort()?;
    let base = state.settings.base_currency;
    let thresholds = product_tiers(&state.settings);
    let products = state
        .db
        .read(move |conn| profit_store::product_report(conn, &from, &to, base))
        .await?;
    let currency = base.to_string();
    let mut rows: Vec<ProductAnalytics> = products
        .into_iter()
        .map(|(id, sku, name, f)| ProductAnalytics::new(id, sku, name, &f, &thresholds, &currency))
        .collect();
    sort_products(&mut rows, &sort);
    let page = page_of(rows, &paging, &sort)?;
    Ok(web::Json(page))
}

impl ProductsQuery {
    fn sort(&self) -> Result<String, ApiError> {
        let sort = self.sort.clone().unwrap_or_else(|| "-gross_margin".into());
        if !PRODUCT_SORTS.contains(&sort.as_str()) {
            return Err(ApiError::validation(
                "sort",
                "must be -gross_margin, -revenue or -return_rate_bp",
            ));
        }
        Ok(sort)
    }
}

impl ProductAnalytics {
    fn new(
        product_id: String,
        sku: String,
        name: String,
        f: &profit::ProductFigures,
        thresholds: &ProductTierThresholds,
        currency: &str,
    ) -> Self {
        ProductAnalytics {
            product_id,
            sku,
            name,
            revenue: money(f.revenue_minor, currency),
            returns: money(f.returns_minor, currency),
            cost: money(f.cost_minor, currency),
            gross_margin: money(f.gross_margin_minor(), currency),
            margin_bp: f.margin_bp(),
            units: Quantity::from_milli(f.units_milli).to_string(),
            returned_units: Quantity::from_milli(f.returned_units_milli).to_string(),
            return_rate_bp: f.return_rate_bp(),
            tier: thresholds.tier(f),
        }
    }
}

/// Sorts the product report by one of `PRODUCT_SORTS`, descending, ties by product id.
fn sort_products(rows: &mut [ProductAnalytics], sort: &str) {
    rows.sort_by(|x, y| {
        let key = |r: &ProductAnalytics| match sort {
            "-revenue" => r.revenue.amount_minor,
            "-return_rate_bp" => r.return_rate_bp.unwrap_or(i64::MIN),
            _ => r.gross_margin.amount_minor,
        };
        key(y)
            .cmp(&key(x))
            .then_with(|| x.product_id.cmp(&y.product_id))
    });
}

/// A salesperson's sales in one product profit tier and the commission on them.
#[derive(Debug, Serialize, ToSchema)]
pub struct TierCommission {
    /// The product profit tier.
    pub tier: Tier,
    /// Net sales of products in that tier, less what was refunded, credited or conceded on them.
    pub sales: Money,
    /// The tier's commission rate, in basis points.
    pub rate_bp: i64,
    /// sales × rate, rounded half away from zero.
    pub commission: Money,
}

/// One salesperson's commission over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalespersonCommission {
    /// The salesperson (a user).
    pub salesperson_id: String,
    /// Their email.
    pub email: Option<String>,
    /// Sales and commission per tier, A, B then C.
    pub tiers: Vec<TierCommission>,
    /// The sum of the tiers' commissions.
    pub total_commission: Money,
}

impl SalespersonCommission {
    fn new(person: profit::SalespersonCommission, email: Option<String>, currency: &str) -> Self {
        SalespersonCommission {
            salesperson_id: person.salesperson_id,
            email,
            tiers: person
                .tiers
                .into_iter()
                .map(|t| TierCommission {
                    tier: t.tier,
                    sales: money(t.sales_minor, currency),
                    rate_bp: t.rate_bp,
                    commission: money(t.commission_minor, currency),
                })
                .collect(),
            total_commission: money(person.total_minor, currency),
        }
    }
}

/// The commission report.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionReport {
    /// First month, `YYYY-MM`.
    pub from: String,
    /// Last month, `YYYY-MM`.
    pub to: String,
    /// The base currency of every amount.
    pub currency: String,
    /// One entry per salesperson with sales in the period.
    pub salespeople: Vec<SalespersonCommission>,
}

/// The commission report's period and salesperson.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommissionQuery {
    /// `YYYY`, or `YYYY-MM..YYYY-MM`.
    #[param(example = "2026")]
    pub period: String,
    /// Only this salesperson.
    pub salesperson_id: Option<String>,
}

#[utoipa::path(tag = "analytics", operation_id = "commissions", summary = "Commission per salesperson by product profit tier",
    description = "Each salesperson's net sales (orders not cancelled, less what was refunded, credited or conceded on them in the period, in the base currency) split by the profit tier of the product sold, times that tier's rate from `/v1/settings/commission-rates`. A product's tier is the one `/v1/analytics/products` shows for the same period, so every salesperson is paid on the same tiering; lines without a catalog product count as tier C.",
    params(CommissionQuery),
    responses((status = 200, description = "The report", body = CommissionReport)))]
#[get("/analytics/commissions")]
pub async fn commissions(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<CommissionQuery>,
) -> Result<web::Json<CommissionReport>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let (from, to) = parse_period(&query.period)?;
    let base = state.settings.base_currency;
    let thresholds = product_tiers(&state.settings);
    let (from_month, to_month) = (from.clone(), to.clone());
    let people = state
        .db
        .read(move |conn| {
            let only = query.salesperson_id.as_deref();
            profit_store::commission_report(conn, &from_month, &to_month, base, thresholds, only)
        })
        .await?;
    Ok(web::Json(CommissionReport::new(
        from,
        to,
        people,
        base.to_string(),
    )))
}

impl CommissionReport {
    fn new(
        from: String,
        to: String,
        people: Vec<(profit::SalespersonCommission, Option<String>)>,
        currency: String,
    ) -> Self {
        CommissionReport {
            salespeople: people
                .into_iter()
                .map(|(person, email)| SalespersonCommission::new(person, email, &currency))
                .collect(),
            from,
            to,
            currency,
        }
    }
}

/// The fitted models a prediction comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClvModel {
    /// When it was fitted.
    pub fitted_at: chrono::DateTime<chrono::Utc>,
    /// Purchases up to this day were seen.
    pub observed_until: NaiveDate,
    /// Customers the BG/NBD purchase model was fitted on.
    pub customers: i64,
    /// Customers with repeat purchases of positive profit: the Gamma-Gamma sample.
    pub repeat_customers: i64,
    /// BG/NBD: purchase rates ~ Gamma(r, alpha), per week.
    pub r: f64,
    /// BG/NBD rate parameter, in weeks.
    pub alpha: f64,
    /// BG/NBD: drop-out probability ~ Beta(a, b).
    pub a: f64,
    /// BG/NBD drop-out parameter.
    pub b: f64,
    /// Gamma-Gamma: profit per purchase ~ Gamma(p, ν).
    pub p: f64,
    /// Gamma-Gamma: ν ~ Gamma(q, gamma) across customers.
    pub q: f64,
    /// Gamma-Gamma scale, in minor units of the base currency.
    pub gamma: f64,
}

/// A customer's lifetime value: what it has earned us, and what it is expected to earn.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerLifetimeValue {
    /// The customer.
    pub company_id: String,
    /// Historical CLV: cumulative gross profit contribution to date (revenue − cost − returns
    /// and credits − concessions), from the rollups.
    pub historical: Money,
    /// Expected gross profit of the next 12 months: expected purchases (BG/NBD) × expected
    /// profit per purchase (Gamma-Gamma), undiscounted. Null until a model has been fitted.
    pub predicted_12_months: Option<Money>,
    /// Probability that the customer is still active, 0 to 1. Null without a model.
    pub probability_alive: Option<f64>,
    /// Expected purchases (days with orders) in the next 12 months. Null without a model.
    pub expected_purchases_12_months: Option<f64>,
    /// The model used; fit it with `crm analytics fit` (the server also refits weekly).
    pub model: Option<ClvModel>,
}

#[utoipa::path(tag = "analytics", operation_id = "getCustomerClv", summary = "A customer's historical and predicted lifetime value",
    description = "Historical CLV is the cumulative profit contribution. The 12-month prediction uses the newest fit of a BG/NBD purchase model and a Gamma-Gamma profit model over all customers, by maximum likelihood; purchases are counted per day, with each day's profit (revenue − cost of goods) in the base currency. The method and its validation are in `docs/clv.md`.",
    params(("company_id" = String, Path, description = "Company id")),
    responses((status = 200, description = "The customer's lifetime value", body = CustomerLifetimeValue)))]
#[get("/analytics/customers/{company_id}/clv")]
pub async fn customer_clv(
    state: web::Data<AppState>,
    principal: Principal,
    company_id: web::Path<String>,
) -> Result<web::Json<CustomerLifetimeValue>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let base = state.settings.base_currency;
    let company = company_id.into_inner();
    let id = company.clone();
    let (historical, model) = state
        .db
        .read(move |conn| crm_store::analytics::clv::customer_value(conn, &id, base))
        .await?;
    let value = CustomerLifetimeValue::new(company, historical, model, &base.to_string());
    Ok(web::Json(value))
}

impl CustomerLifetimeValue {
    fn new(
        company_id: String,
        historical: i64,
        model: Option<(crm_store::analytics::clv::Fit, YearAhead)>,
        currency: &str,
    ) -> Self {
        let ahead = model.as_ref().map(|(_, ahead)| *ahead);
        CustomerLifetimeValue {
            company_id,
            historical: money(historical, currency),
            predicted_12_months: ahead
                .and_then(|a| a.value_minor)
                .map(|v| money(v, currency)),
            probability_alive: ahead.and_then(|a| a.probability_alive),
            expected_purchases_12_months: ahead.and_then(|a| a.expected_purchases),
            model: model.map(|(fit, _)| ClvModel::from(fit)),
        }
    }
}

impl From<crm_store::analytics::clv::Fit> for ClvModel {
    fn from(f: crm_store::analytics::clv::Fit) -> Self {
        ClvModel {
            fitted_at: crate::platform::respond::utc(f.fitted_at),
            observed_until: f.observed_until,
            customers: f.customers,
            repeat_customers: f.repeat_customers,
            r: f.purchases.r,
            alpha: f.purchases.alpha,
            a: f.purchases.a,
            b: f.purchases.b,
            p: f.spend.p,
            q: f.spend.q,
            gamma: f.spend.gamma,
        }
    }
}

/// The routes under `/analytics`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(customer_profit)
        .service(rank_customers)
        .service(recompute_tiers)
        .service(product_analytics)
        .service(commissions)
        .service(customer_clv);
}
