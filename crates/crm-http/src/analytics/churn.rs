//! `GET /v1/analytics/churn-risk`: the customers whose value is most at risk.

use actix_web::{get, web};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::parties::companies::Tier;
use crm_store::analytics::churn::{self as store, Basis, ChurnFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::ApiQuery;
use crate::platform::money::Money;
use crate::platform::respond::utc_opt;
use crate::platform::state::AppState;

/// Rows a page holds at most.
const MAX_ROWS: usize = 200;

/// Which value is at risk.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChurnBasis {
    /// The customer's profit contribution to date (`/clv`'s `historical`).
    #[default]
    Historical,
    /// What the fit expects of the next twelve months (`/clv`'s prediction).
    Predicted,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChurnQuery {
    #[param(inline)]
    pub basis: Option<ChurnBasis>,
    pub tier: Option<Tier>,
    pub owner_id: Option<String>,
    /// Only customers worth at least this, in minor units of the base currency.
    pub min_value: Option<i64>,
    /// Rows, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// One customer, with why it is at risk.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChurnRisk {
    pub company_id: String,
    pub name: String,
    pub tier: Option<Tier>,
    pub last_order_at: Option<DateTime<Utc>>,
    /// Orders to date, not cancelled.
    pub orders: i64,
    /// Repeat purchase days, as the purchase model counts them.
    pub frequency: u32,
    /// The fit's probability that the customer still buys, as `/clv` gives it.
    pub probability_alive: f64,
    pub value: Money,
    /// (1 − probability_alive) × value, rounded half away from zero.
    pub value_at_risk: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChurnRiskList {
    /// Most value at risk first.
    pub data: Vec<ChurnRisk>,
    /// The last day of purchases the fit saw.
    pub observed_until: NaiveDate,
}

#[utoipa::path(tag = "analytics", operation_id = "churnRisk", summary = "Customers whose value is most at risk",
    description = "Ranks companies by (1 − P(alive)) × value, with P(alive) and the value of `/v1/analytics/customers/{id}/clv` under the newest fit. `409` until a fit exists.",
    params(ChurnQuery),
    responses((status = 200, description = "The ranking", body = ChurnRiskList),
        (status = 409, description = "No CLV fit yet", body = crate::platform::error::Problem, content_type = "application/problem+json")))]
#[get("/analytics/churn-risk")]
pub async fn churn_risk(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ChurnQuery>,
) -> Result<web::Json<ChurnRiskList>, ApiError> {
    principal.authorize(Resource::Analytics, Access::Read)?;
    let limit = match query.limit {
        None => 50,
        Some(n) if (1..=200).contains(&n) => usize::try_from(n).unwrap_or(MAX_ROWS),
        Some(_) => {
            return Err(crm_domain::Violation::new("limit", "must be from 1 to 200").into());
        }
    };
    let basis = match query.basis.unwrap_or_default() {
        ChurnBasis::Historical => Basis::Historical,
        ChurnBasis::Predicted => Basis::Predicted,
    };
    let filter = ChurnFilter {
        tier: query.tier,
        owner_id: query.owner_id,
        min_value: query.min_value,
    };
    let base = state.settings.base_currency;
    let (observed_until, rows) = state
        .db
        .read(move |conn| store::churn_risk(conn, base, basis, &filter, limit))
        .await?;
    let currency = base.to_string();
    Ok(web::Json(ChurnRiskList {
        observed_until,
        data: rows
            .into_iter()
            .map(|r| ChurnRisk {
                company_id: r.company_id,
                name: r.name,
                tier: r.tier,
                last_order_at: utc_opt(r.last_order_at),
                orders: r.orders,
                frequency: r.frequency,
                probability_alive: r.probability_alive,
                value: Money::new(r.value_minor, &currency),
                value_at_risk: Money::new(r.value_at_risk_minor, &currency),
            })
            .collect(),
    }))
}

/// The routes under `/analytics`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(churn_risk);
}
