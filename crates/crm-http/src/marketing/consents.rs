//! Consent: `/v1/contacts/{id}/consents` and the signed unsubscribe links anyone may open.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::marketing::campaigns::ConsentChannel;
use crm_domain::marketing::consent::{sign, verify, ConsentStatus, LawfulBasis, Unsubscribe};
use crm_store::marketing::consents::{self as store, ConsentEvent};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, IfMatch};
use crate::platform::fields::{Checker, SHORT};
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// One recorded change of consent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Consent {
    pub id: String,
    pub contact_id: String,
    pub channel: ConsentChannel,
    pub status: ConsentStatus,
    pub lawful_basis: LawfulBasis,
    pub source: String,
    /// When the person gave or withdrew it.
    pub at: DateTime<Utc>,
    /// The user who recorded it; null for an API key, a link or a migration.
    pub recorded_by: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

impl From<store::Consent> for Consent {
    fn from(c: store::Consent) -> Self {
        Consent {
            id: c.id,
            contact_id: c.contact_id,
            channel: c.event.channel,
            status: c.event.status,
            lawful_basis: c.event.lawful_basis,
            source: c.event.source,
            at: utc(c.event.at),
            recorded_by: c.event.recorded_by,
            recorded_at: utc(c.recorded_at),
        }
    }
}

/// A change of consent to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub channel: ConsentChannel,
    pub status: ConsentStatus,
    /// Default `consent`.
    pub lawful_basis: Option<LawfulBasis>,
    /// Where it came from: a form, a call, a shop's checkbox.
    pub source: String,
    /// When the person gave or withdrew it; default now.
    pub at: Option<DateTime<Utc>>,
}

#[utoipa::path(tag = "consents", operation_id = "recordConsent", summary = "Record a change of consent",
    description = "Appends an event; the latest event of a channel is its state. An email event also sets the contact's read-only `marketing_consent` summary.",
    params(("id" = String, Path, description = "Contact id")),
    request_body = ConsentInput,
    responses((status = 201, description = "Recorded", body = Consent)))]
#[post("/contacts/{id}/consents")]
pub async fn record_consent(
    target: ActionTarget,
    ApiJson(body): ApiJson<ConsentInput>,
) -> Result<HttpResponse, ApiError> {
    let principal = &target.principal;
    principal.authorize(Resource::Consents, Access::Write)?;
    let mut c = Checker::default();
    let source = c.required("source", &body.source, SHORT);
    c.finish()?;
    let event = ConsentEvent {
        channel: body.channel,
        status: body.status,
        lawful_basis: body.lawful_basis.unwrap_or(LawfulBasis::Consent),
        source,
        at: body.at.unwrap_or_else(Utc::now).naive_utc(),
        recorded_by: principal.user_id().map(str::to_owned),
    };
    let consent = target
        .write(Resource::Consents, move |conn, id, version| {
            store::record(conn, id, version, &event)
        })
        .await?;
    Ok(HttpResponse::Created().json(Consent::from(consent)))
}

/// A channel's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelConsent {
    pub channel: ConsentChannel,
    /// The latest event's; null when none was recorded.
    pub status: Option<ConsentStatus>,
    /// Whether campaigns may use the channel: opt-in channels (email, SMS) need `granted`,
    /// the others work unless `withdrawn`.
    pub usable: bool,
    pub lawful_basis: Option<LawfulBasis>,
    pub source: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelConsents {
    /// Every channel, in a fixed order.
    pub data: Vec<ChannelConsent>,
}

#[utoipa::path(tag = "consents", operation_id = "getConsents", summary = "Each channel's consent",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, description = "The state of every channel", body = ChannelConsents)))]
#[get("/contacts/{id}/consents")]
pub async fn get_consents(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<ChannelConsents>, ApiError> {
    principal.authorize(Resource::Consents, Access::Read)?;
    let opt_in = state.settings.consent_opt_in;
    let states = state
        .db
        .read(move |conn| store::states(conn, &id, opt_in))
        .await?;
    Ok(web::Json(ChannelConsents {
        data: states
            .into_iter()
            .map(|s| ChannelConsent {
                channel: s.channel,
                status: s.latest.as_ref().map(|c| c.event.status),
                usable: s.usable,
                lawful_basis: s.latest.as_ref().map(|c| c.event.lawful_basis),
                at: s.latest.as_ref().map(|c| utc(c.event.at)),
                source: s.latest.map(|c| c.event.source),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentHistory {
    /// In the order they happened.
    pub data: Vec<Consent>,
}

#[utoipa::path(tag = "consents", operation_id = "getConsentHistory", summary = "Every change of a contact's consent",
    params(("id" = String, Path, description = "Contact id")),
    responses((status = 200, description = "The events", body = ConsentHistory)))]
#[get("/contacts/{id}/consents/history")]
pub async fn consent_history(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<ConsentHistory>, ApiError> {
    principal.authorize(Resource::Consents, Access::Read)?;
    let history = state.db.read(move |conn| store::history(conn, &id)).await?;
    Ok(web::Json(ConsentHistory {
        data: history.into_iter().map(Consent::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeLinkInput {
    pub channel: ConsentChannel,
}

/// A link that withdraws one contact's consent on one channel, for a message's footer or its
/// `List-Unsubscribe` header (RFC 8058).
#[derive(Debug, Serialize, ToSchema)]
pub struct UnsubscribeLink {
    pub url: String,
    /// Signed (HMAC-SHA256); it grants nothing but this withdrawal.
    pub token: String,
    pub channel: ConsentChannel,
}

#[utoipa::path(tag = "consents", operation_id = "createUnsubscribeLink", summary = "Make an unsubscribe link",
    params(("id" = String, Path, description = "Contact id")),
    request_body = UnsubscribeLinkInput,
    responses((status = 201, description = "The link", body = UnsubscribeLink)))]
#[post("/contacts/{id}/unsubscribe-links")]
pub async fn create_unsubscribe_link(
    state: web::Data<AppState>,
    principal: Principal,
    request: HttpRequest,
    id: web::Path<String>,
    // Parsed so that a malformed one is a `400`; the link changes nothing to hold it to.
    _if_match: IfMatch,
    ApiJson(body): ApiJson<UnsubscribeLinkInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Consents, Access::Write)?;
    let what = Unsubscribe {
        contact_id: id.into_inner(),
        channel: body.channel,
    };
    let contact_id = what.contact_id.clone();
    state
        .db
        .read(move |conn| store::current(conn, &contact_id, body.channel))
        .await?;
    let token = sign(state.settings.unsubscribe_key.expose_secret(), &what);
    let info = request.connection_info();
    let url = format!("{}://{}/v1/unsubscribe/{token}", info.scheme(), info.host());
    Ok(HttpResponse::Created().json(UnsubscribeLink {
        url,
        token,
        channel: what.channel,
    }))
}

/// What an unsubscribe link does, as its holder sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnsubscribePage {
    pub channel: ConsentChannel,
    /// The channel's state: null when no consent was ever recorded.
    pub status: Option<ConsentStatus>,
}

/// The withdrawal a token names, or a `404` for one that was altered or made up.
fn named(state: &AppState, token: &str) -> Result<Unsubscribe, ApiError> {
    verify(state.settings.unsubscribe_key.expose_secret(), token).ok_or(ApiError::NotFound)
}

#[utoipa::path(tag = "consents", operation_id = "showUnsubscribe", summary = "What an unsubscribe link withdraws",
    description = "No login: the token is the credential. Changes nothing, so that a mail scanner following the link unsubscribes no one. A token that was altered is a `404`.",
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "The channel and its state", body = UnsubscribePage)),
    security(()))]
#[get("/unsubscribe/{token}")]
pub async fn show_unsubscribe(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<web::Json<UnsubscribePage>, ApiError> {
    let what = named(&state, &token)?;
    let channel = what.channel;
    let status = state
        .db
        .read(move |conn| store::current(conn, &what.contact_id, channel))
        .await?;
    Ok(web::Json(UnsubscribePage { channel, status }))
}

#[utoipa::path(tag = "consents", operation_id = "unsubscribe", summary = "Unsubscribe (one click)",
    description = "No login (RFC 8058 one-click: any body is accepted and ignored). Withdraws the contact's consent on the link's channel (source `unsubscribe_link`) and opts their memberships of campaigns on that channel out. A token that was altered is a `404` and changes nothing.",
    params(("token" = String, Path, description = "The link's token")),
    responses((status = 200, description = "Withdrawn", body = UnsubscribePage)),
    security(()))]
#[post("/unsubscribe/{token}")]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<web::Json<UnsubscribePage>, ApiError> {
    let what = named(&state, &token)?;
    let channel = what.channel;
    let consent = state
        .db
        .write(move |conn| store::unsubscribe(conn, &what.contact_id, channel))
        .await?;
    Ok(web::Json(UnsubscribePage {
        channel,
        status: Some(consent.event.status),
    }))
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(record_consent)
        .service(get_consents)
        .service(consent_history)
        .service(create_unsubscribe_link);
}

/// The routes under `/unsubscribe`.
pub fn unsubscribe_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(show_unsubscribe).service(unsubscribe);
}
