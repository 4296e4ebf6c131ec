//! `/v1/segments`: saved filters over companies or contacts, whose members are read live.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::marketing::campaigns::{ConsentChannel, SegmentSubject};
use crm_domain::platform::filter::Expr;
use crm_store::marketing::campaigns::Visible;
use crm_store::marketing::segments::{self as store, MembersCursor, SegmentFields};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::marketing::campaigns::visible_to;
use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{page_limit, read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// Members a preview shows.
const SAMPLE: usize = 10;

/// A saved filter over companies or contacts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Segment {
    pub id: String,
    pub name: String,
    pub subject: SegmentSubject,
    /// In the filter language of `GET /v1/companies` or `GET /v1/contacts`.
    pub filter: String,
    /// People unreachable on it are not members (on an opt-in channel, those who did not
    /// grant consent); a company is one while any of its live contacts is reachable.
    pub channel: Option<ConsentChannel>,
    pub owner_id: Option<String>,
    /// On a snapshot (a static copy): the segment it was taken from. Its members are those
    /// the segment had then, less any archived or, on its channel, unreachable since; its
    /// filter and channel cannot change.
    pub snapshot_of: Option<String>,
    /// On a snapshot: when it was taken, by the service clock.
    pub snapshot_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::Segment> for Segment {
    fn from(s: store::Segment) -> Self {
        Segment {
            id: s.id,
            name: s.fields.name,
            subject: s.fields.subject,
            filter: s.fields.filter,
            channel: s.fields.channel,
            owner_id: s.fields.owner_id,
            snapshot_of: s.snapshot_of,
            snapshot_at: s.snapshot_at.map(utc),
            version: s.version,
            created_at: utc(s.created_at),
            updated_at: utc(s.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    pub name: String,
    pub subject: SegmentSubject,
    pub filter: String,
    /// Drops people unreachable on this channel.
    pub channel: Option<ConsentChannel>,
    /// Active staff; defaults to the caller.
    pub owner_id: Option<String>,
}

/// Changes, as a JSON Merge Patch. The subject is fixed.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentUpdate {
    pub name: Option<String>,
    pub filter: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    pub channel: Option<Option<ConsentChannel>>,
    #[serde(default, deserialize_with = "patch")]
    pub owner_id: Option<Option<String>>,
}

/// A filter, parsed: a syntax error is a `422` naming `filter`.
fn parse_filter(c: &mut Checker, text: &str) -> Option<Expr> {
    let parsed = crm_domain::platform::filter::parse(text).map_err(|mut v| {
        v.field = "filter".to_owned();
        v
    });
    c.violations.check(parsed)
}

impl SegmentUpdate {
    fn apply(self, f: &mut SegmentFields) -> Result<Expr, crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(filter) = self.filter {
            f.filter = filter.trim().to_owned();
        }
        let parsed = parse_filter(&mut c, &f.filter);
        if let Some(channel) = self.channel {
            f.channel = channel;
        }
        if let Some(owner) = self.owner_id {
            f.owner_id = c.id("owner_id", owner);
        }
        c.finish()?;
        parsed.ok_or_else(|| crm_domain::Violation::new("filter", "is required").into())
    }
}

#[utoipa::path(tag = "segments", operation_id = "createSegment", summary = "Create a segment",
    description = "A bad path, operator or value in `filter` is a `422` naming it, as in lists.",
    request_body = SegmentInput,
    responses((status = 201, description = "Created", body = Segment, headers(("Location" = String, description = "URL of the segment"), ("ETag" = String, description = "Its version")))))]
#[post("/segments")]
pub async fn create_segment(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SegmentInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Segments, Access::Write)?;
    let mut fields = SegmentFields {
        name: String::new(),
        subject: body.subject,
        filter: String::new(),
        owner_id: None,
        channel: None,
    };
    let owner = visible_to(&principal).owner_for(body.owner_id, principal.user_id());
    let filter = SegmentUpdate {
        name: Some(body.name),
        filter: Some(body.filter),
        channel: Some(body.channel),
        owner_id: Some(owner),
    }
    .apply(&mut fields)?;
    let segment = state
        .db
        .write(move |conn| store::create(conn, fields, &filter))
        .await?;
    Ok(created(
        format!("/v1/segments/{}", segment.id),
        segment.version,
        &Segment::from(segment),
    ))
}

/// What a snapshot is called and who owns it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentSnapshotInput {
    /// Default: the segment's name and the day.
    pub name: Option<String>,
    /// Active staff; defaults to the caller.
    pub owner_id: Option<String>,
}

#[utoipa::path(tag = "segments", operation_id = "snapshotSegment", summary = "Take a static copy of a segment",
    description = "A new segment whose members are fixed: the members this one has now (on its channel, those reachable), in its order. Later orders, edits and new records change nothing; records archived since, or people who withdrew consent on its channel, drop out.",
    request_body = SegmentSnapshotInput,
    responses((status = 201, description = "The snapshot", body = Segment, headers(("Location" = String, description = "URL of the snapshot"), ("ETag" = String, description = "Its version")))))]
#[post("/segments/{id}/snapshot")]
pub async fn snapshot_segment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiJson(body): ApiJson<SegmentSnapshotInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Segments, Access::Write)?;
    let mut c = Checker::default();
    let name = body.name.map(|name| c.required("name", &name, SHORT));
    let visible = visible_to(&principal);
    let owner = c.id(
        "owner_id",
        visible.owner_for(body.owner_id, principal.user_id()),
    );
    c.finish()?;
    let audience = crate::marketing::audience(&state.settings);
    let snapshot = state
        .db
        .write(move |conn| store::snapshot(conn, audience, &id, &visible, name, owner))
        .await?;
    Ok(created(
        format!("/v1/segments/{}", snapshot.id),
        snapshot.version,
        &Segment::from(snapshot),
    ))
}

#[utoipa::path(tag = "segments", operation_id = "listSegments", summary = "List segments",
    description = "Oldest first. Salespeople see the segments they own.",
    params(PageQuery),
    responses((status = 200, description = "A page of segments", body = ListResponse<Segment>)))]
#[get("/segments")]
pub async fn list_segments(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Segment>>, ApiError> {
    principal.authorize(Resource::Segments, Access::Read)?;
    read_oldest_first(
        &state,
        store::list,
        visible_to(&principal),
        paging,
        Segment::from,
    )
    .await
}

#[utoipa::path(tag = "segments", operation_id = "getSegment", summary = "Get a segment",
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, description = "The segment", body = Segment, headers(("ETag" = String, description = "Its version")))))]
#[get("/segments/{id:[0-9a-fA-F-]+}")]
pub async fn get_segment(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let read = move |conn: &mut _, id: &str| store::get(conn, id, &visible);
    target
        .respond(Resource::Segments, read, |r| r.version, Segment::from)
        .await
}

#[utoipa::path(tag = "segments", operation_id = "updateSegment", summary = "Update a segment",
    params(("id" = String, Path, description = "Segment id")),
    request_body(content = SegmentUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated segment", body = Segment, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/segments/{id:[0-9a-fA-F-]+}")]
pub async fn update_segment(
    target: ActionTarget,
    ApiJson(body): ApiJson<SegmentUpdate>,
) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let segment = target
        .write(Resource::Segments, move |conn, id, version| {
            store::update(
                conn,
                id,
                version,
                &visible,
                |fields| Ok(body.apply(fields)?),
            )
        })
        .await?;
    Ok(versioned(segment.version, &Segment::from(segment)))
}

#[utoipa::path(tag = "segments", operation_id = "deleteSegment", summary = "Delete a segment",
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/segments/{id:[0-9a-fA-F-]+}")]
pub async fn delete_segment(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    target
        .write_no_content(Resource::Segments, move |conn, id, version| {
            store::delete(conn, id, version, &visible)
        })
        .await
}

/// A member, as a segment lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentMember {
    /// The company's or contact's id.
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    /// A contact's company.
    pub company_id: Option<String>,
}

impl From<store::Member> for SegmentMember {
    fn from(m: store::Member) -> Self {
        SegmentMember {
            id: m.id,
            name: m.name,
            email: m.email,
            company_id: m.company_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentMembers {
    pub data: Vec<SegmentMember>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn encode(cursor: &MembersCursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(cursor).unwrap_or_default())
}

fn decode(cursor: Option<&str>) -> Result<Option<MembersCursor>, ApiError> {
    let Some(text) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .map(Some)
        .ok_or_else(|| ApiError::validation("cursor", "is not a cursor returned by this list"))
}

#[utoipa::path(tag = "segments", operation_id = "listSegmentMembers", summary = "The segment's members, now",
    description = "Oldest first. Archived records are never members, nor are people unreachable on the segment's `channel`. A cursor made before the segment changed is a `422`. With `Accept: text/csv`, every member is streamed as RFC 4180 CSV (`id,name,email,company_id`, a header row first) in one response, a page at a time; `limit` and `cursor` do not apply.",
    params(("id" = String, Path, description = "Segment id"), PageQuery),
    responses((status = 200, description = "A page of members, or all of them as CSV", content(
        (SegmentMembers = "application/json"),
        (String = "text/csv"),
    ))))]
#[get("/segments/{id}/members")]
pub async fn list_segment_members(
    request: HttpRequest,
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Segments, Access::Read)?;
    let visible = visible_to(&principal);
    let audience = crate::marketing::audience(&state.settings);
    if wants_csv(&request) {
        let id = id.into_inner();
        let (first_id, first_visible) = (id.clone(), visible.clone());
        let first = state
            .db
            .read(move |conn| {
                store::members(conn, audience, &first_id, &first_visible, CSV_PAGE, None)
            })
            .await?;
        return Ok(csv_members(&state, id, visible, first));
    }
    let limit = page_limit(paging.limit)?;
    let after = decode(paging.cursor.as_deref())?;
    let (members, next) = state
        .db
        .read(move |conn| store::members(conn, audience, &id, &visible, limit, after))
        .await?;
    Ok(HttpResponse::Ok().json(SegmentMembers {
        data: members.into_iter().map(SegmentMember::from).collect(),
        next_cursor: next.as_ref().map(encode),
    }))
}

/// Whether the client asked for CSV rather than JSON.
fn wants_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|media| media.split(';').next().unwrap_or("").trim() == "text/csv")
        })
}

/// Pages of CSV read ahead of the client.
const CSV_PAGES_IN_FLIGHT: usize = 2;

/// Members per page of CSV.
const CSV_PAGE: i64 = 500;

/// One page of members as CSV rows; the header row first when `header` is set.
fn csv_rows(members: Vec<store::Member>, header: bool) -> Result<Bytes, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let write = |writer: &mut csv::Writer<Vec<u8>>| -> Result<(), csv::Error> {
        if header {
            writer.write_record(["id", "name", "email", "company_id"])?;
        }
        for m in members {
            writer.write_record([
                m.id.as_str(),
                m.name.as_str(),
                m.email.as_deref().unwrap_or(""),
                m.company_id.as_deref().unwrap_or(""),
            ])?;
        }
        Ok(())
    };
    write(&mut writer).map_err(|_| ApiError::Internal)?;
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|_| ApiError::Internal)
}

/// Streams the members of segment `id` as CSV from its `first` page, read before answering so
/// that a bad segment is still a problem+json. Each further page is one read on a pooled
/// connection, handed over a channel two pages deep: memory holds a few pages, no connection
/// waits on a slow client, and a client that hangs up stops the reading. A segment changed
/// while streaming ends the stream early (its cursor no longer holds).
fn csv_members(
    state: &AppState,
    id: String,
    visible: Visible,
    first: (Vec<store::Member>, Option<MembersCursor>),
) -> HttpResponse {
    let (sender, receiver) =
        tokio::sync::mpsc::channel::<Result<Bytes, ApiError>>(CSV_PAGES_IN_FLIGHT);
    let db = state.db.clone();
    let audience = crate::marketing::audience(&state.settings);
    actix_web::rt::spawn(async move {
        let (mut members, mut next) = first;
        let mut header = true;
        loop {
            let rows = csv_rows(members, std::mem::take(&mut header));
            if sender.send(rows).await.is_err() {
                return;
            }
            let Some(after) = next else {
                return;
            };
            let (id, visible) = (id.clone(), visible.clone());
            let page = db
                .read(move |conn| {
                    store::members(conn, audience, &id, &visible, CSV_PAGE, Some(after))
                })
                .await;
            match page {
                Ok(page) => (members, next) = page,
                Err(error) => {
                    tracing::warn!(%error, "streaming a segment's members stopped");
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            }
        }
    });
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|page| (page, receiver))
    });
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .streaming(body)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentCount {
    pub count: usize,
    /// Records the filter matches that the segment's channel drops.
    pub excluded_no_consent: usize,
}

#[utoipa::path(tag = "segments", operation_id = "countSegment", summary = "How many members a segment has, now",
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, description = "The count", body = SegmentCount)))]
#[get("/segments/{id}/count")]
pub async fn count_segment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<SegmentCount>, ApiError> {
    principal.authorize(Resource::Segments, Access::Read)?;
    let visible = visible_to(&principal);
    let audience = crate::marketing::audience(&state.settings);
    let counted = state
        .db
        .read(move |conn| store::count(conn, audience, &id, &visible))
        .await?;
    Ok(web::Json(SegmentCount {
        count: counted.count,
        excluded_no_consent: counted.excluded_no_consent,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPreviewInput {
    pub subject: SegmentSubject,
    pub filter: String,
    pub channel: Option<ConsentChannel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SegmentPreview {
    pub count: usize,
    /// Records the filter matches that `channel` drops.
    pub excluded_no_consent: usize,
    /// The first members, oldest first.
    pub sample: Vec<SegmentMember>,
}

#[utoipa::path(tag = "segments", operation_id = "previewSegment", summary = "Try a filter without saving it",
    request_body = SegmentPreviewInput,
    responses((status = 200, description = "How many match, and the first of them", body = SegmentPreview)))]
#[post("/segments/preview")]
pub async fn preview_segment(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<SegmentPreviewInput>,
) -> Result<web::Json<SegmentPreview>, ApiError> {
    principal.authorize(Resource::Segments, Access::Read)?;
    let mut c = Checker::default();
    let filter = parse_filter(&mut c, body.filter.trim());
    c.finish()?;
    let filter = filter.ok_or_else(|| ApiError::validation("filter", "is required"))?;
    let audience = crate::marketing::audience(&state.settings);
    let (counted, sample) = state
        .db
        .read(move |conn| {
            store::preview(conn, audience, body.subject, &filter, body.channel, SAMPLE)
        })
        .await?;
    Ok(web::Json(SegmentPreview {
        count: counted.count,
        excluded_no_consent: counted.excluded_no_consent,
        sample: sample.into_iter().map(SegmentMember::from).collect(),
    }))
}

/// The routes under `/segments`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(preview_segment)
        .service(list_segments)
        .service(create_segment)
        .service(get_segment)
        .service(update_segment)
        .service(delete_segment)
        .service(list_segment_members)
        .service(count_segment)
        .service(snapshot_segment);
}
