//! Commission rates per product profit tier: stored settings that every commission report reads.

use actix_web::{get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, IfMatch};
use crate::platform::respond::{utc, versioned};
use crate::platform::state::AppState;

/// Commission per product profit tier, in basis points of net sales (500 = 5%).
#[derive(Debug, Serialize, ToSchema)]
pub struct CommissionRates {
    /// Rate on products of tier A.
    pub a_bp: i64,
    /// Rate on products of tier B.
    pub b_bp: i64,
    /// Rate on products of tier C and on lines without a catalog product.
    pub c_bp: i64,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The new rates, all three.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"a_bp": 500, "b_bp": 300, "c_bp": 100}))]
pub struct CommissionRatesInput {
    /// Rate on tier A, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub a_bp: i64,
    /// Rate on tier B, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub b_bp: i64,
    /// Rate on tier C, 0 to 10000.
    #[schema(minimum = 0, maximum = 10000)]
    pub c_bp: i64,
}

fn rates_dto(stored: crm_store::analytics::commission_rates::StoredRates) -> CommissionRates {
    CommissionRates {
        a_bp: stored.value.a_bp,
        b_bp: stored.value.b_bp,
        c_bp: stored.value.c_bp,
        version: stored.version,
        updated_at: utc(stored.updated_at),
    }
}

#[utoipa::path(tag = "settings", operation_id = "getCommissionRates", summary = "Commission rates per product profit tier",
    responses((status = 200, description = "The rates", body = CommissionRates, headers(("ETag" = String, description = "Its version")))))]
#[get("/settings/commission-rates")]
pub async fn get_commission_rates(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Read)?;
    let stored = state
        .db
        .read(crm_store::analytics::commission_rates::get)
        .await?;
    Ok(versioned(stored.version, &rates_dto(stored)))
}

#[utoipa::path(tag = "settings", operation_id = "setCommissionRates", summary = "Replace the commission rates",
    description = "Admins. Applies to every commission report from now on, past periods included: commissions are computed, not stored.",
    request_body = CommissionRatesInput,
    responses((status = 200, description = "The rates", body = CommissionRates, headers(("ETag" = String, description = "Its new version")))))]
#[put("/settings/commission-rates")]
pub async fn set_commission_rates(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    ApiJson(body): ApiJson<CommissionRatesInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let rates = crm_domain::analytics::profit::CommissionRates {
        a_bp: body.a_bp,
        b_bp: body.b_bp,
        c_bp: body.c_bp,
    };
    let stored = state
        .db
        .write(move |conn| crm_store::analytics::commission_rates::set(conn, if_match.0, rates))
        .await?;
    Ok(versioned(stored.version, &rates_dto(stored)))
}

/// The routes under `/settings`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_commission_rates)
        .service(set_commission_rates);
}
