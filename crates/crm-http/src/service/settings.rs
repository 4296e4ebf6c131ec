//! `/v1/settings/service`: reopen window, surveys, low ratings, at-risk threshold, locale.

use actix_web::{get, patch, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::service::cases::Locale;
use crm_domain::service::settings::{LowCsatAction, ServiceSettings as Fields};
use crm_store::service::settings as store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, IfMatch};
use crate::platform::respond::{utc, versioned};
use crate::platform::state::AppState;

/// How the service desk behaves.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceSettings {
    /// Days after its resolution a case may reopen; the sweep closes it after (default 7).
    pub reopen_window_days: i64,
    /// Days a satisfaction survey stays open (default 14).
    pub survey_valid_days: i64,
    /// Ratings at or below this are low (default 2).
    pub low_csat_threshold: i64,
    /// What a low rating does: `flag` the case (default) or `reopen` it.
    pub low_csat_action: LowCsatAction,
    /// A case is at risk once this share of a target has passed (basis points, default 7500).
    pub at_risk_from_bp: i64,
    /// The locale of cases that do not say.
    pub default_locale: Locale,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Changes: each given field replaces the stored one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettingsUpdate {
    pub reopen_window_days: Option<i64>,
    pub survey_valid_days: Option<i64>,
    pub low_csat_threshold: Option<i64>,
    pub low_csat_action: Option<LowCsatAction>,
    pub at_risk_from_bp: Option<i64>,
    pub default_locale: Option<Locale>,
}

impl ServiceSettingsUpdate {
    fn apply(self, f: &mut Fields) {
        f.reopen_window_days = self.reopen_window_days.unwrap_or(f.reopen_window_days);
        f.survey_valid_days = self.survey_valid_days.unwrap_or(f.survey_valid_days);
        f.low_csat_threshold = self.low_csat_threshold.unwrap_or(f.low_csat_threshold);
        f.low_csat_action = self.low_csat_action.unwrap_or(f.low_csat_action);
        f.at_risk_from_bp = self.at_risk_from_bp.unwrap_or(f.at_risk_from_bp);
        f.default_locale = self.default_locale.unwrap_or(f.default_locale);
    }
}

fn to_dto(s: store::StoredServiceSettings) -> ServiceSettings {
    ServiceSettings {
        reopen_window_days: s.value.reopen_window_days,
        survey_valid_days: s.value.survey_valid_days,
        low_csat_threshold: s.value.low_csat_threshold,
        low_csat_action: s.value.low_csat_action,
        at_risk_from_bp: s.value.at_risk_from_bp,
        default_locale: s.value.default_locale,
        version: s.version,
        updated_at: utc(s.updated_at),
    }
}

#[utoipa::path(tag = "service", operation_id = "getServiceSettings", summary = "The service desk's settings",
    responses((status = 200, description = "The settings", body = ServiceSettings, headers(("ETag" = String, description = "Its version")))))]
#[get("/settings/service")]
pub async fn get_service_settings(
    state: web::Data<AppState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Read)?;
    let settings = state.db.read(store::get).await?;
    Ok(versioned(settings.version, &to_dto(settings)))
}

#[utoipa::path(tag = "service", operation_id = "updateServiceSettings", summary = "Change the service desk's settings",
    request_body(content = ServiceSettingsUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The settings", body = ServiceSettings, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/settings/service")]
pub async fn update_service_settings(
    state: web::Data<AppState>,
    principal: Principal,
    if_match: IfMatch,
    ApiJson(body): ApiJson<ServiceSettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::ServiceSettings, Access::Write)?;
    let settings = state
        .db
        .write(move |conn| {
            store::update(conn, if_match.0, |fields| {
                body.apply(fields);
                Ok(())
            })
        })
        .await?;
    Ok(versioned(settings.version, &to_dto(settings)))
}

/// The routes under `/settings`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_service_settings)
        .service(update_service_settings);
}
