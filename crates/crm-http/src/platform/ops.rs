//! Operational endpoints: liveness, readiness, metrics.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::error::ApiError;
use crate::platform::state::AppState;

/// A health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    #[schema(example = "ok")]
    pub status: String,
}

#[utoipa::path(
    tag = "operations",
    operation_id = "getHealth",
    summary = "Liveness",
    description = "200 while the process serves requests; does not touch the database.",
    responses((status = 200, description = "The process is up", body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

#[utoipa::path(
    tag = "operations",
    operation_id = "getReadiness",
    summary = "Readiness",
    description = "200 when the database answers, 503 when it does not.",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "The database is unreachable", body = crate::platform::error::Problem, content_type = "application/problem+json")
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    state.db.ping(std::time::Duration::from_millis(500)).await?;
    Ok(web::Json(Health {
        status: "ok".into(),
    }))
}

#[utoipa::path(
    tag = "operations",
    operation_id = "getMetrics",
    summary = "Prometheus metrics",
    description = "Requests by route and status, latency histograms, and database pool state, in the Prometheus text format.",
    responses((status = 200, description = "Metrics", body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}
