//! `/v1/analytics`: profit contribution per customer, the customer ranking, and profit tiers.
//! Staff only; every amount in the base currency.

use std::collections::BTreeMap;

use actix_web::{get, post, web};
use chrono::{Datelike, Months, NaiveDate};
use crm_domain::analytics::{assign_tiers, change_bp, Figures};
use crm_domain::companies::Tier;
use crm_domain::permissions::{Access, Resource};
use crm_store::pagination::{After, KeyValue};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::documents::Money;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::pagination::{decode_cursor, encode_cursor, page_limit, ListResponse};
use crate::state::AppState;

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

/// The period a month falls in: `2026-03`, `2026-Q1` or `2026`.
fn period_of(month: NaiveDate, g: Granularity) -> String {
    match g {
        Granularity::Month => month_text(month),
        Granularity::Quarter => format!("{}-Q{}", month.year(), (month.month() - 1) / 3 + 1),
        Granularity::Year => month.year().to_string(),
    }
}

/// The first month of the period that contains `month`.
fn period_start(month: NaiveDate, g: Granularity) -> NaiveDate {
    let m = match g {
        Granularity::Month => month.month(),
        Granularity::Quarter => (month.month() - 1) / 3 * 3 + 1,
        Granularity::Year => 1,
    };
    NaiveDate::from_ymd_opt(month.year(), m, 1).unwrap_or(month)
}

fn step(g: Granularity) -> Months {
    Months::new(match g {
        Granularity::Month => 1,
        Granularity::Quarter => 3,
        Granularity::Year => 12,
    })
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
    let g = query.granularity.unwrap_or(Granularity::Month);
    let from = period_start(parse_month("from", &query.from)?, g);
    let to = parse_month("to", &query.to)?;
    if to < from || to > from + Months::new(120) {
        return Err(ApiError::validation(
            "to",
            "must be from 0 to 120 months after from",
        ));
    }
    let fetch_from = month_text(from - Months::new(12));
    let base = state.settings.base_currency;
    let company = company_id.into_inner();
    let id = company.clone();
    let to_text = month_text(to);
    let months = state
        .db
        .read(move |conn| {
            crm_store::companies::ensure_exists(conn, &id)?;
            crm_store::analytics::monthly(conn, &id, &fetch_from, &to_text, base)
        })
        .await?;
    let mut grouped: BTreeMap<String, Figures> = BTreeMap::new();
    for (month, figures) in &months {
        let date = parse_month("month", month)?;
        grouped.entry(period_of(date, g)).or_default().add(figures);
    }
    let currency = base.to_string();
    let mut periods = Vec::new();
    let mut start = from;
    while start <= to {
        let key = period_of(start, g);
        let now = grouped.get(&key).copied().unwrap_or_default();
        let previous = grouped
            .get(&period_of(start - step(g), g))
            .copied()
            .unwrap_or_default();
        let last_year = grouped
            .get(&period_of(start - Months::new(12), g))
            .copied()
            .unwrap_or_default();
        periods.push(ProfitPeriod {
            period: key,
            revenue: money(now.revenue_minor, &currency),
            cost: money(now.cost_minor, &currency),
            returns_and_credits: money(now.returns_minor, &currency),
            concessions: money(now.concessions_minor, &currency),
            gross_profit: money(now.gross_profit_minor(), &currency),
            margin_bp: now.margin_bp(),
            orders: now.orders,
            average_order_value: now.average_order_value_minor().map(|a| money(a, &currency)),
            gross_profit_change_vs_previous_bp: change_bp(
                now.gross_profit_minor(),
                previous.gross_profit_minor(),
            ),
            gross_profit_change_vs_last_year_bp: change_bp(
                now.gross_profit_minor(),
                last_year.gross_profit_minor(),
            ),
            revenue_change_vs_previous_bp: change_bp(now.revenue_minor, previous.revenue_minor),
            revenue_change_vs_last_year_bp: change_bp(now.revenue_minor, last_year.revenue_minor),
        });
        start = start + step(g);
    }
    Ok(web::Json(ProfitSeries {
        company_id: company,
        currency,
        granularity: g,
        periods,
    }))
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
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50; larger values are capped).
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[utoipa::path(tag = "analytics", operation_id = "rankCustomers", summary = "Customers ranked by profit contribution",
    description = "Each customer's share and cumulative share of the period's positive profit, its tier, and its order-volume rank beside its profit rank. Cursor-paginated.",
    params(RankingQuery),
    responses((status = 200, description = "A page of the ranking", body = ListResponse<RankedCustomer>)))]
#[get("/analytics/customers")]
pub async fn rank_customers(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<RankingQuery>,
) -> Result<web::Json<ListResponse<RankedCustomer>>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let (from, to) = parse_period(&query.period)?;
    let sort = query.sort.clone().unwrap_or_else(|| "-gross_profit".into());
    if sort != "-gross_profit" && sort != "-orders" {
        return Err(ApiError::validation(
            "sort",
            "must be -gross_profit or -orders",
        ));
    }
    let limit = usize::try_from(page_limit(query.limit)?).unwrap_or(50);
    let offset = match decode_cursor(query.cursor.as_deref(), &sort)? {
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
    let base = state.settings.base_currency;
    let (totals, names) = state
        .db
        .read(move |conn| {
            let totals = crm_store::analytics::by_company(conn, &from, &to, base)?;
            let ids: Vec<String> = totals.keys().cloned().collect();
            let names = crm_store::companies::names(conn, &ids)?;
            Ok((totals, names))
        })
        .await?;
    let names: BTreeMap<String, (String, Option<String>)> = names
        .into_iter()
        .map(|(id, name, tier)| (id, (name, tier)))
        .collect();
    let mut by_profit: Vec<(&String, &Figures)> = totals.iter().collect();
    by_profit.sort_by(|a, b| {
        b.1.gross_profit_minor()
            .cmp(&a.1.gross_profit_minor())
            .then_with(|| a.0.cmp(b.0))
    });
    let mut by_volume: Vec<(&String, &Figures)> = totals.iter().collect();
    by_volume.sort_by(|a, b| b.1.orders.cmp(&a.1.orders).then_with(|| a.0.cmp(b.0)));
    let volume_rank: BTreeMap<&String, i64> = by_volume
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (*id, i64::try_from(i).unwrap_or(0) + 1))
        .collect();
    let positive: i128 = by_profit
        .iter()
        .map(|(_, f)| i128::from(f.gross_profit_minor().max(0)))
        .sum();
    let share = |amount: i128| {
        if positive == 0 {
            0
        } else {
            i64::try_from(amount * 10_000 / positive).unwrap_or(0)
        }
    };
    let currency = base.to_string();
    let mut cumulative: i128 = 0;
    let mut rows: Vec<RankedCustomer> = by_profit
        .iter()
        .enumerate()
        .map(|(i, (id, f))| {
            let profit = f.gross_profit_minor();
            cumulative += i128::from(profit.max(0));
            let (name, tier) = names.get(*id).cloned().unwrap_or_default();
            RankedCustomer {
                company_id: (*id).clone(),
                name,
                tier: tier.and_then(|t| t.parse().ok()),
                revenue: money(f.revenue_minor, &currency),
                gross_profit: money(profit, &currency),
                margin_bp: f.margin_bp(),
                orders: f.orders,
                share_bp: share(i128::from(profit.max(0))),
                cumulative_share_bp: share(cumulative),
                profit_rank: i64::try_from(i).unwrap_or(0) + 1,
                volume_rank: volume_rank.get(id).copied().unwrap_or(0),
            }
        })
        .collect();
    if sort == "-orders" {
        rows.sort_by_key(|r| r.volume_rank);
    }
    let total = rows.len();
    let page: Vec<RankedCustomer> = rows.into_iter().skip(offset).take(limit).collect();
    let next = offset + page.len();
    let next_cursor = (next < total).then(|| {
        encode_cursor(
            &After {
                key: KeyValue::Number(i64::try_from(next).unwrap_or(0)),
                id: String::new(),
            },
            &sort,
        )
    });
    Ok(web::Json(ListResponse {
        data: page,
        next_cursor,
    }))
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
    if !(1000..=9999).contains(&query.basis_year) {
        return Err(ApiError::validation(
            "basis_year",
            "must be a year between 1000 and 9999",
        ));
    }
    let year = query.basis_year;
    let base = state.settings.base_currency;
    let (a_up_to, b_up_to) = (
        state.settings.tier_a_up_to_bp,
        state.settings.tier_b_up_to_bp,
    );
    let (tiers, tiered) = state
        .db
        .write(move |conn| {
            let totals = crm_store::analytics::by_company(
                conn,
                &format!("{year}-01"),
                &format!("{year}-12"),
                base,
            )?;
            let profits: Vec<(String, i64)> = totals
                .into_iter()
                .map(|(id, f)| (id, f.gross_profit_minor()))
                .collect();
            let tiers = assign_tiers(&profits, a_up_to, b_up_to);
            let tiered = crm_store::companies::set_tiers(conn, &tiers, year)?;
            Ok((tiers, tiered))
        })
        .await?;
    let count =
        |t: Tier| i64::try_from(tiers.iter().filter(|(_, tier)| *tier == t).count()).unwrap_or(0);
    let (a, b) = (count(Tier::A), count(Tier::B));
    let c = i64::try_from(tiered).unwrap_or(0) - a - b;
    Ok(web::Json(TierCounts {
        basis_year: year,
        a,
        b,
        c,
    }))
}
