//! Satisfaction surveys: `GET|POST /v1/csat/{token}` for whoever holds the token (no login,
//! rate-limited per address), and the portal's `POST /v1/portal/cases/{id}/csat`.

use actix_web::{get, post, web, HttpRequest};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::Access;
use crm_store::service::csat::{self as store, Survey as StoredSurvey, SurveyOutcome};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::billing::portal::own_company;
use crate::platform::auth::{secret_hash, Principal};
use crate::platform::error::ApiError;
use crate::platform::extract::ApiJson;
use crate::platform::fields::{Checker, LONG};
use crate::platform::respond::{utc, utc_opt};
use crate::platform::state::AppState;

/// A satisfaction survey.
#[derive(Debug, Serialize, ToSchema)]
pub struct Survey {
    pub case_id: String,
    pub case_number: String,
    pub subject: String,
    /// After this it takes no answer (`410`).
    pub expires_at: DateTime<Utc>,
    /// 1 to 5, once answered.
    pub rating: Option<i64>,
    pub comment: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

impl From<StoredSurvey> for Survey {
    fn from(s: StoredSurvey) -> Self {
        Survey {
            case_id: s.case_id,
            case_number: s.case_number,
            subject: s.subject,
            expires_at: utc(s.expires_at),
            rating: s.rating,
            comment: s.comment,
            answered_at: utc_opt(s.answered_at),
        }
    }
}

/// An answer: once per survey.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"rating": 5, "comment": "Rápido y amable"}))]
pub struct SurveyAnswer {
    /// 1 to 5.
    pub rating: i64,
    pub comment: Option<String>,
}

fn outcome(outcome: SurveyOutcome) -> Result<web::Json<Survey>, ApiError> {
    match outcome {
        SurveyOutcome::Open(s) | SurveyOutcome::Answered(s) => Ok(web::Json(s.into())),
        SurveyOutcome::AlreadyAnswered => Err(ApiError::Conflict {
            detail: "this survey was answered already".to_owned(),
            existing_id: None,
        }),
        SurveyOutcome::Expired => Err(ApiError::Gone("this survey has expired".to_owned())),
        SurveyOutcome::UnknownToken => Err(ApiError::NotFound),
        SurveyOutcome::Refused(violations) => Err(ApiError::Validation(violations)),
        SurveyOutcome::Throttled {
            retry_after_seconds,
        } => Err(ApiError::TooManyRequests {
            detail: "too many survey requests from this address; wait for the next minute"
                .to_owned(),
            retry_after: u64::from(retry_after_seconds),
        }),
    }
}

/// Where the caller calls from: its tries are counted by address.
fn address(request: &HttpRequest) -> String {
    request
        .peer_addr()
        .map_or_else(|| "unknown".to_owned(), |a| a.ip().to_string())
}

fn comment(text: Option<String>) -> Result<Option<String>, ApiError> {
    let mut c = Checker::default();
    let comment = c.optional("comment", text.as_deref(), LONG);
    c.finish()?;
    Ok(comment)
}

#[utoipa::path(tag = "csat", operation_id = "getSurvey", summary = "Read a satisfaction survey",
    description = "No login: the token is the credential. `404` for an unknown token, `410` once expired, `429` over `CRM_SURVEY_PER_MINUTE` (30) tries a minute from one address.",
    params(("token" = String, Path, description = "The `survey_token` that resolving the case answered")),
    responses((status = 200, description = "The survey", body = Survey)))]
#[get("/csat/{token}")]
pub async fn get_survey(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
) -> Result<web::Json<Survey>, ApiError> {
    let (clock, address, hash) = (state.settings.clock, address(&request), secret_hash(&token));
    let limit = state.settings.survey_per_minute;
    let found = state
        .db
        .write(move |conn| store::survey_by_token(conn, clock, &address, limit, &hash))
        .await?;
    outcome(found)
}

#[utoipa::path(tag = "csat", operation_id = "answerSurvey", summary = "Answer a satisfaction survey",
    description = "No login. Once: then `409`; expired: `410`; a rating outside 1–5: `422`. A rating at or below `low_csat_threshold` flags the case or reopens it, as `low_csat_action` says.",
    params(("token" = String, Path, description = "The `survey_token` that resolving the case answered")),
    request_body = SurveyAnswer,
    responses((status = 200, description = "The answered survey", body = Survey)))]
#[post("/csat/{token}")]
pub async fn answer_survey(
    state: web::Data<AppState>,
    request: HttpRequest,
    token: web::Path<String>,
    ApiJson(body): ApiJson<SurveyAnswer>,
) -> Result<web::Json<Survey>, ApiError> {
    let comment = comment(body.comment)?;
    let (clock, address, hash) = (state.settings.clock, address(&request), secret_hash(&token));
    let limit = state.settings.survey_per_minute;
    let answered = state
        .db
        .write(move |conn| {
            store::answer_by_token(conn, clock, &address, limit, &hash, body.rating, comment)
        })
        .await?;
    outcome(answered)
}

#[utoipa::path(tag = "portal", operation_id = "answerPortalSurvey", summary = "Rate a resolved case",
    description = "A customer user rates a case of its company once (`409` after). A case not yet resolved has no survey (`422`); another company's case is `404`.",
    params(("id" = String, Path, description = "Case id")),
    request_body = SurveyAnswer,
    responses((status = 200, description = "The answered survey", body = Survey)))]
#[post("/portal/cases/{id}/csat")]
pub async fn answer_portal_survey(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiJson(body): ApiJson<SurveyAnswer>,
) -> Result<web::Json<Survey>, ApiError> {
    let company = own_company(&principal, Access::Write)?;
    let comment = comment(body.comment)?;
    let clock = state.settings.clock;
    let user = principal.user_id().map(str::to_owned);
    let answered = state
        .db
        .write(move |conn| {
            store::answer_for_company(
                conn,
                clock,
                &id,
                &company,
                user.as_deref(),
                body.rating,
                comment,
            )
        })
        .await?;
    outcome(answered)
}

/// The routes under `/csat`.
pub fn csat_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_survey).service(answer_survey);
}

/// The routes under `/portal`.
pub fn portal_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(answer_portal_survey);
}
