//! Duplicates and merges: `/v1/{contacts,companies}/duplicates` (and `/dismiss`),
//! `/v1/{contacts,companies}/{id}/merge` and `/v1/{contacts,companies}/{id}/merges`.

use std::collections::BTreeMap;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::parties::duplicates::{self as rules, Candidate, DuplicateReason};
use crm_store::parties::merges::{self as store, MergeEntry, MergeRequest, Merged, Party};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::parties::companies::Company;
use crate::parties::contacts::Contact;
use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::pagination::limit_within;
use crate::platform::respond::utc;
use crate::platform::state::AppState;

/// How many pairs a read of duplicates lists unless `limit` says otherwise.
const DEFAULT_PAIRS: i64 = 50;

/// Two records that look like one.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicatePair {
    /// The two ids, the smaller first.
    pub ids: Vec<String>,
    /// Every reason they were found by, the strongest first.
    pub reasons: Vec<DuplicateReason>,
    /// How alike they are, 0 to 1: the score of the strongest reason (a shared email or tax id
    /// 1, a shared phone or web domain 0.9, alike names their similarity).
    pub score: f64,
}

impl From<Candidate> for DuplicatePair {
    fn from(candidate: Candidate) -> Self {
        DuplicatePair {
            ids: candidate.ids.to_vec(),
            reasons: candidate.reasons,
            score: candidate.score,
        }
    }
}

/// Candidate pairs, the most alike first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateList {
    pub data: Vec<DuplicatePair>,
}

/// How many pairs to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DuplicateQuery {
    /// 1 to 100 pairs (default 50; larger values are capped).
    pub limit: Option<i64>,
}

/// A pair that is not a duplicate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ids": ["0190a1b2-0000-7000-8000-000000000001", "0190a1b2-0000-7000-8000-000000000002"]}))]
pub struct DismissDuplicates {
    /// The pair's two ids, in any order.
    pub ids: Vec<String>,
}

/// Records to merge into the one in the path.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": ["0190a1b2-0000-7000-8000-000000000002"], "dry_run": true}))]
pub struct MergeBody {
    /// The records merged away, 1 to 10; where the one in the path has no value, theirs fill
    /// it in this order.
    pub from: Vec<String>,
    /// Answer what the merge would do and write nothing. Default `false`.
    pub dry_run: Option<bool>,
}

/// A value of a merged record that the merge did not keep.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeConflict {
    /// The field, such as `phone` or `custom_fields.segment`.
    pub field: String,
    /// The merged record that had the value.
    pub merged_id: String,
    /// The value kept.
    #[schema(value_type = Object)]
    pub kept: Value,
    /// The merged record's value, dropped (the merge log keeps it).
    #[schema(value_type = Object)]
    pub dropped: Value,
}

impl From<rules::Conflict> for MergeConflict {
    fn from(conflict: rules::Conflict) -> Self {
        MergeConflict {
            field: conflict.field,
            merged_id: conflict.merged_id,
            kept: conflict.kept,
            dropped: conflict.dropped,
        }
    }
}

fn moved(counts: BTreeMap<&'static str, i64>) -> BTreeMap<String, i64> {
    counts
        .into_iter()
        .map(|(kind, n)| (kind.to_owned(), n))
        .collect()
}

/// A merge of contacts, done or, for a dry run, as it would be.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactMerge {
    /// The contact that stayed, after the merge.
    pub result: Contact,
    /// How many records of each kind now point at it: `interactions`, `orders`, `quotes`,
    /// `leads` (converted into the merged contacts), `opportunities`, `returns`, `cases`.
    pub moved: BTreeMap<String, i64>,
    /// Values of the merged contacts that differed from the ones kept.
    pub conflicts: Vec<MergeConflict>,
}

impl From<Merged<crm_store::parties::contacts::Contact>> for ContactMerge {
    fn from(merged: Merged<crm_store::parties::contacts::Contact>) -> Self {
        ContactMerge {
            result: Contact::from(merged.result),
            moved: moved(merged.moved),
            conflicts: merged
                .conflicts
                .into_iter()
                .map(MergeConflict::from)
                .collect(),
        }
    }
}

/// A merge of companies, done or, for a dry run, as it would be.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyMerge {
    /// The company that stayed, after the merge.
    pub result: Company,
    /// How many records of each kind now point at it: `contacts`, `interactions`, `orders`,
    /// `quotes`, `leads`, `opportunities`, `returns`, `cases`, `invoices` (drafts: issued
    /// invoices keep the company they were issued to), `portal_users` and `rollups` (monthly
    /// figures added to the survivor's).
    pub moved: BTreeMap<String, i64>,
    /// Values of the merged companies that differed from the ones kept.
    pub conflicts: Vec<MergeConflict>,
}

impl From<Merged<crm_store::parties::companies::Company>> for CompanyMerge {
    fn from(merged: Merged<crm_store::parties::companies::Company>) -> Self {
        CompanyMerge {
            result: Company::from(merged.result),
            moved: moved(merged.moved),
            conflicts: merged
                .conflicts
                .into_iter()
                .map(MergeConflict::from)
                .collect(),
        }
    }
}

/// One record merged into another.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeLogEntry {
    /// The merge's id; the timeline's entry of kind `merge` has it too.
    pub id: String,
    /// The record that stayed.
    pub survivor_id: String,
    /// The record merged into it: archived, its `GET` redirects to the survivor.
    pub merged_id: String,
    /// Who merged: `user:<id>` or `key:<id>` (an API key).
    pub merged_by: String,
    /// When.
    pub merged_at: DateTime<Utc>,
    /// Both records' values before the merge: `{"survivor": {...}, "merged": {...}}`.
    #[schema(value_type = Object)]
    pub old_values: Value,
}

impl From<MergeEntry> for MergeLogEntry {
    fn from(entry: MergeEntry) -> Self {
        MergeLogEntry {
            id: entry.id,
            survivor_id: entry.survivor_id,
            merged_id: entry.merged_id,
            merged_by: entry.actor,
            merged_at: utc(entry.merged_at),
            old_values: entry.old_values,
        }
    }
}

/// The records merged into one, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeLog {
    pub data: Vec<MergeLogEntry>,
}

fn resource_of(party: Party) -> Resource {
    match party {
        Party::Contacts => Resource::Contacts,
        Party::Companies => Resource::Companies,
    }
}

async fn duplicates(
    state: &AppState,
    principal: &Principal,
    party: Party,
    query: DuplicateQuery,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(resource_of(party), Access::Read)?;
    let limit = limit_within(query.limit, DEFAULT_PAIRS, rules::MAX_CANDIDATES)?;
    let pairs = state
        .db
        .read(move |conn| store::duplicates(conn, party, limit))
        .await?;
    Ok(HttpResponse::Ok().json(DuplicateList {
        data: pairs.into_iter().map(DuplicatePair::from).collect(),
    }))
}

async fn dismiss(
    state: &AppState,
    principal: &Principal,
    party: Party,
    body: DismissDuplicates,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(resource_of(party), Access::Write)?;
    let [first, second] = <[String; 2]>::try_from(body.ids)
        .map_err(|_| ApiError::validation("ids", "must name exactly two records"))?;
    let actor = principal.key();
    state
        .db
        .write(move |conn| store::dismiss(conn, party, [&first, &second], &actor))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks the caller may merge `party`, and reads the request.
fn merge_request(
    target: &ActionTarget,
    party: Party,
    body: MergeBody,
) -> Result<MergeRequest, ApiError> {
    target
        .principal
        .authorize(resource_of(party), Access::Merge)?;
    Ok(MergeRequest {
        survivor_id: target.id.clone(),
        from: body.from,
        expected_version: target.if_match.0,
        actor: target.principal.key(),
        dry_run: body.dry_run.unwrap_or(false),
    })
}

async fn log(
    state: &AppState,
    principal: &Principal,
    party: Party,
    id: String,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(resource_of(party), Access::Read)?;
    let entries = state
        .db
        .read(move |conn| store::log_of(conn, party, &id))
        .await?;
    Ok(HttpResponse::Ok().json(MergeLog {
        data: entries.into_iter().map(MergeLogEntry::from).collect(),
    }))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "listContactDuplicates",
    summary = "Find duplicate contacts",
    description = "Pairs of live contacts that look like one, the most alike first: the same email once case and a `+tag` are dropped (`email`), the same phone (`phone`), alike names at the same company (`name`; trigram similarity on PostgreSQL with pg_trgm, the folded name elsewhere). A pair found by several reasons lists them all. Dismissed pairs do not show.",
    params(DuplicateQuery),
    responses((status = 200, description = "Candidate pairs", body = DuplicateList))
)]
#[get("/contacts/duplicates")]
pub async fn list_contact_duplicates(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DuplicateQuery>,
) -> Result<HttpResponse, ApiError> {
    duplicates(&state, &principal, Party::Contacts, query).await
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "dismissContactDuplicates",
    summary = "Dismiss a pair of duplicate contacts",
    description = "Says the two contacts are different people: the pair no longer shows among the duplicates. Dismissing it again changes nothing.",
    request_body = DismissDuplicates,
    responses((status = 204, description = "Dismissed"))
)]
#[post("/contacts/duplicates/dismiss")]
pub async fn dismiss_contact_duplicates(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<DismissDuplicates>,
) -> Result<HttpResponse, ApiError> {
    dismiss(&state, &principal, Party::Contacts, body).await
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "mergeContacts",
    summary = "Merge contacts into this one",
    description = "Merges the contacts of `from` into this one, which stays, in one transaction. Their interactions, orders, quotes, converted leads, opportunities, returns and cases move to it (`moved` counts them), and marketing consent follows the email kept. Its non-empty values win and its empty ones fill from `from`, in order; tags and multi-enum custom values are unioned; a unique custom value stays with the record that had it. Each merged record is archived and names the survivor in `merged_into_id`: its `GET` is a `308` to the survivor, and a write to it a `409` naming `merged_into`. `conflicts` lists the merged values that were dropped; `GET .../merges` keeps who merged, when, and both records' values before, and the timeline shows an entry of kind `merge`. With `dry_run: true` nothing is written and the answer is what the merge would do. A missing or already merged id in `from` is a `422`; an archived or merged survivor is a `409`. `If-Match` applies to the survivor. Admins, managers and API keys scoped `contacts:merge`.",
    params(("id" = String, Path, description = "The contact that stays")),
    request_body = MergeBody,
    responses((status = 200, description = "The merge, done or (`dry_run`) as it would be", body = ContactMerge))
)]
#[post("/contacts/{id}/merge")]
pub async fn merge_contacts(
    target: ActionTarget,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<HttpResponse, ApiError> {
    let request = merge_request(&target, Party::Contacts, body)?;
    let merged = target
        .state
        .db
        .write(move |conn| store::merge_contacts(conn, &request))
        .await?;
    Ok(HttpResponse::Ok().json(ContactMerge::from(merged)))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "listContactMerges",
    summary = "Contacts merged into a contact",
    description = "Who merged which contact into this one, when, and both contacts' values before, newest first (at most 200).",
    params(("id" = String, Path, description = "The contact that stayed")),
    responses((status = 200, description = "The merges", body = MergeLog))
)]
#[get("/contacts/{id}/merges")]
pub async fn list_contact_merges(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    log(&state, &principal, Party::Contacts, id.into_inner()).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "listCompanyDuplicates",
    summary = "Find duplicate companies",
    description = "Pairs of live companies that look like one, the most alike first: the same tax id once separators are dropped (`tax_id`), the same web domain (`domain`), alike names (`name`; trigram similarity on PostgreSQL with pg_trgm, the folded name elsewhere). A pair found by several reasons lists them all. Dismissed pairs do not show.",
    params(DuplicateQuery),
    responses((status = 200, description = "Candidate pairs", body = DuplicateList))
)]
#[get("/companies/duplicates")]
pub async fn list_company_duplicates(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<DuplicateQuery>,
) -> Result<HttpResponse, ApiError> {
    duplicates(&state, &principal, Party::Companies, query).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "dismissCompanyDuplicates",
    summary = "Dismiss a pair of duplicate companies",
    description = "Says the two companies are different: the pair no longer shows among the duplicates. Dismissing it again changes nothing.",
    request_body = DismissDuplicates,
    responses((status = 204, description = "Dismissed"))
)]
#[post("/companies/duplicates/dismiss")]
pub async fn dismiss_company_duplicates(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<DismissDuplicates>,
) -> Result<HttpResponse, ApiError> {
    dismiss(&state, &principal, Party::Companies, body).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "mergeCompanies",
    summary = "Merge companies into this one",
    description = "Merges the companies of `from` into this one, which stays, in one transaction. Their contacts, interactions, orders, quotes, converted leads, opportunities, returns, cases, draft invoices and portal users move to it, and their monthly rollups add to its own (`moved` counts them). Issued invoices and credit notes keep the company they were issued to, and the recipient they print. Its non-empty values win and its empty ones fill from `from`, in order; tags and multi-enum custom values are unioned; a unique custom value stays with the record that had it. Each merged record is archived and names the survivor in `merged_into_id`: its `GET` is a `308` to the survivor, and a write to it a `409` naming `merged_into`. `conflicts` lists the merged values that were dropped; `GET .../merges` keeps who merged, when, and both records' values before, and the timeline shows an entry of kind `merge`. With `dry_run: true` nothing is written and the answer is what the merge would do. A missing or already merged id in `from` is a `422`; an archived or merged survivor is a `409`. `If-Match` applies to the survivor. Admins, managers and API keys scoped `companies:merge`.",
    params(("id" = String, Path, description = "The company that stays")),
    request_body = MergeBody,
    responses((status = 200, description = "The merge, done or (`dry_run`) as it would be", body = CompanyMerge))
)]
#[post("/companies/{id}/merge")]
pub async fn merge_companies(
    target: ActionTarget,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<HttpResponse, ApiError> {
    let request = merge_request(&target, Party::Companies, body)?;
    let dry_run = request.dry_run;
    let merged = target
        .state
        .db
        .write(move |conn| store::merge_companies(conn, &request))
        .await?;
    if !dry_run {
        // Portal users of the merged companies now belong to the survivor.
        target.state.standing.invalidate_all();
    }
    Ok(HttpResponse::Ok().json(CompanyMerge::from(merged)))
}

#[utoipa::path(
    tag = "companies",
    operation_id = "listCompanyMerges",
    summary = "Companies merged into a company",
    description = "Who merged which company into this one, when, and both companies' values before, newest first (at most 200).",
    params(("id" = String, Path, description = "The company that stayed")),
    responses((status = 200, description = "The merges", body = MergeLog))
)]
#[get("/companies/{id}/merges")]
pub async fn list_company_merges(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    log(&state, &principal, Party::Companies, id.into_inner()).await
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_company_duplicates)
        .service(dismiss_company_duplicates)
        .service(merge_companies)
        .service(list_company_merges);
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_contact_duplicates)
        .service(dismiss_contact_duplicates)
        .service(merge_contacts)
        .service(list_contact_merges);
}
