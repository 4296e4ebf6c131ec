//! `POST /v1/contacts/batch` and `POST /v1/companies/batch`: up to 1,000 records created or
//! updated by a key (an email, a tax id, or a unique custom field such as an external id), each
//! item on its own, answered as the order import answers.

use actix_web::{post, web};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::custom_fields::{path, CustomObject};
use crm_domain::Violation;
use crm_store::parties::batch::{self as store, CompanyKey, ContactKey, Upserted};
use crm_store::parties::companies::CompanyFields;
use crm_store::parties::contacts::ContactFields;
use crm_store::StoreError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::parties::companies::{CompanyCreate, CompanyUpdate};
use crate::parties::contacts::{ContactCreate, ContactUpdate};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{parse_json, ApiJson};
use crate::platform::fields::Checker;
use crate::platform::state::AppState;

/// The most items one batch takes.
const MAX_ITEMS: usize = 1000;

/// Contacts to create or update, each found by `match_on`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"match_on": "email", "items": [
    {"email": "ana@example.com", "first_name": "Ana", "last_name": "García", "title": "Buyer"},
    {"email": "luis@example.com", "last_name": "Martín", "custom_fields": {"segment": "retail"}}]}))]
pub struct ContactBatch {
    /// What finds an item's contact among the live ones: `email` (the default, compared
    /// case-insensitively), or `custom.<key>` of a `unique` custom field, such as an external id.
    #[schema(example = "email")]
    pub match_on: Option<String>,
    /// Up to 1,000 contacts, each carrying the value it is matched on. A new one is created as
    /// `POST /v1/contacts` takes it (owned by the caller unless `owner_id` says otherwise); a
    /// matched one is changed as a JSON Merge Patch of the fields given (`last_name` may be left
    /// out).
    #[schema(value_type = Vec<ContactCreate>)]
    pub items: Vec<Value>,
}

/// Companies to create or update, each found by `match_on`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"match_on": "tax_id", "items": [
    {"tax_id": "ESB12345678", "name": "Acme Iberia", "industry": "Retail"},
    {"tax_id": "ESB87654321", "name": "Martín Hermanos SL"}]}))]
pub struct CompanyBatch {
    /// What finds an item's company among the live ones: `tax_id` (the default, compared
    /// exactly; the oldest of several), or `custom.<key>` of a `unique` custom field, such as an
    /// external id.
    #[schema(example = "tax_id")]
    pub match_on: Option<String>,
    /// Up to 1,000 companies, each carrying the value it is matched on. A new one is created as
    /// `POST /v1/companies` takes it (owned by the caller unless `owner_id` says otherwise); a
    /// matched one is changed as a JSON Merge Patch of the fields given (`name` may be left out).
    #[schema(value_type = Vec<CompanyCreate>)]
    pub items: Vec<Value>,
}

/// The outcome of one item of a batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    /// The item's position in `items`, from 0.
    pub index: usize,
    /// `created`, `updated`, `unchanged` (nothing written) or `error`.
    #[schema(example = "created")]
    pub status: String,
    /// The record's id, unless `error`.
    pub id: Option<String>,
    /// Why the item was refused, for `error`.
    pub problem: Option<Problem>,
}

impl BatchResult {
    fn new(index: usize, outcome: Result<(Upserted, String), ApiError>) -> Self {
        match outcome {
            Ok((upserted, id)) => BatchResult {
                index,
                status: upserted.as_str().into(),
                id: Some(id),
                problem: None,
            },
            Err(error) => BatchResult {
                index,
                status: "error".into(),
                id: None,
                problem: Some(error.problem()),
            },
        }
    }
}

/// One result per item, in the order of `items`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// In the order of `items`.
    pub results: Vec<BatchResult>,
}

/// What finds an item's record.
enum MatchOn {
    /// The object's own key: contacts' `email`, companies' `tax_id`.
    BuiltIn,
    /// A live unique custom field, by key.
    Custom(String),
}

/// Reads `match_on`: the object's own key (also when absent), or `custom.<key>` of a live
/// unique custom field of `object`; anything else is a `422` naming `match_on`.
async fn match_on(
    state: &AppState,
    object: CustomObject,
    given: Option<&str>,
    built_in: &str,
) -> Result<MatchOn, ApiError> {
    let given = given.unwrap_or(built_in);
    if given == built_in {
        return Ok(MatchOn::BuiltIn);
    }
    let Some(key) = given.strip_prefix("custom.") else {
        return Err(ApiError::validation(
            "match_on",
            format!("must be `{built_in}` or `custom.<key>` of a unique custom field"),
        ));
    };
    let checked = key.to_owned();
    state
        .db
        .read(move |conn| store::match_field(conn, object, &checked).map(|_| ()))
        .await?;
    Ok(MatchOn::Custom(key.to_owned()))
}

/// Refuses a batch of more than [`MAX_ITEMS`] items, before any is written.
fn check_size(items: &[Value]) -> Result<(), ApiError> {
    if items.len() > MAX_ITEMS {
        return Err(ApiError::validation(
            "items",
            format!("at most {MAX_ITEMS} items per batch"),
        ));
    }
    Ok(())
}

/// Reads one item as `T`: an item that is not an object, or holds an unknown field or a value
/// of the wrong type, is refused alone.
fn parse_item<T: DeserializeOwned>(item: &Value) -> Result<T, ApiError> {
    if !item.is_object() {
        return Err(ApiError::MalformedRequest(
            "each item must be a JSON object".into(),
        ));
    }
    parse_json(item.to_string().as_bytes())
}

/// An item's problem found inside its transaction, as the store carries it back: parsing an
/// item fails only with violations.
fn invalid(error: ApiError) -> StoreError {
    match error {
        ApiError::Validation(violations) => StoreError::Invalid(violations),
        other => Violation::new("body", other.to_string()).into(),
    }
}

/// The violation of an item without the value the batch matches on.
fn missing(field: &str, match_on: &str) -> ApiError {
    ApiError::validation(
        field,
        format!("is required: the batch matches on {match_on}"),
    )
}

/// The item's value of the custom field `key`, as written.
fn custom_value(written: Option<&Value>, key: &str) -> Result<Value, ApiError> {
    written
        .and_then(|values| values.get(key))
        .filter(|value| !value.is_null())
        .cloned()
        .ok_or_else(|| missing(&path(key), &format!("custom.{key}")))
}

fn contact_key(by: &MatchOn, patch: &ContactUpdate) -> Result<ContactKey, ApiError> {
    match by {
        MatchOn::BuiltIn => {
            let Some(Some(email)) = &patch.email else {
                return Err(missing("email", "email"));
            };
            let mut c = Checker::default();
            let email = c.email("email", Some(email.as_str()));
            c.finish()?;
            email
                .map(ContactKey::Email)
                .ok_or_else(|| missing("email", "email"))
        }
        MatchOn::Custom(key) => Ok(ContactKey::Custom {
            key: key.clone(),
            value: custom_value(patch.custom_fields.as_ref(), key)?,
        }),
    }
}

fn company_key(by: &MatchOn, patch: &CompanyUpdate) -> Result<CompanyKey, ApiError> {
    match by {
        MatchOn::BuiltIn => {
            let Some(Some(tax_id)) = &patch.tax_id else {
                return Err(missing("tax_id", "tax_id"));
            };
            let mut c = Checker::default();
            let tax_id = c.optional("tax_id", Some(tax_id.as_str()), 50);
            c.finish()?;
            tax_id
                .map(CompanyKey::TaxId)
                .ok_or_else(|| missing("tax_id", "tax_id"))
        }
        MatchOn::Custom(key) => Ok(CompanyKey::Custom {
            key: key.clone(),
            value: custom_value(patch.custom_fields.as_ref(), key)?,
        }),
    }
}

/// Upserts one contact in its own transaction.
async fn upsert_contact(
    state: &web::Data<AppState>,
    by: &MatchOn,
    caller: Option<String>,
    item: Value,
) -> Result<(Upserted, String), ApiError> {
    let patch: ContactUpdate = parse_item(&item)?;
    let key = contact_key(by, &patch)?;
    let (for_create, for_change) = (state.get_ref().clone(), state.get_ref().clone());
    let (upserted, contact) = state
        .db
        .write(move |conn| {
            store::upsert_contact(
                conn,
                &key,
                move || {
                    if item.get("last_name").is_none() {
                        return Err(
                            Violation::new("last_name", "is required for a new contact").into()
                        );
                    }
                    let body: ContactCreate = parse_item(&item).map_err(invalid)?;
                    let mut fields = ContactFields::default();
                    body.into_update(caller.as_deref())
                        .apply(&mut fields, &for_create)?;
                    Ok(fields)
                },
                move |fields| Ok(patch.apply(fields, &for_change)?),
            )
        })
        .await?;
    Ok((upserted, contact.id))
}

/// Upserts one company in its own transaction.
async fn upsert_company(
    state: &web::Data<AppState>,
    by: &MatchOn,
    caller: Option<String>,
    item: Value,
) -> Result<(Upserted, String), ApiError> {
    let patch: CompanyUpdate = parse_item(&item)?;
    let key = company_key(by, &patch)?;
    let (for_create, for_change) = (state.get_ref().clone(), state.get_ref().clone());
    let (upserted, company) = state
        .db
        .write(move |conn| {
            store::upsert_company(
                conn,
                &key,
                move || {
                    if item.get("name").is_none() {
                        return Err(Violation::new("name", "is required for a new company").into());
                    }
                    let body: CompanyCreate = parse_item(&item).map_err(invalid)?;
                    let mut update = body.into_update();
                    if matches!(update.owner_id, Some(None)) {
                        update.owner_id = Some(caller);
                    }
                    let mut fields = CompanyFields::named(String::new());
                    update.apply(&mut fields, &for_create)?;
                    Ok(fields)
                },
                move |fields| Ok(patch.apply(fields, &for_change)?),
            )
        })
        .await?;
    Ok((upserted, company.id))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "batchUpsertContacts",
    summary = "Create or update contacts in bulk",
    description = "Up to 1,000 contacts, each found among the live ones by `match_on`: `email` (the default) or `custom.<key>` of a `unique` custom field (an external id). A contact not found is created; one found is changed by the fields the item gives, or, when it already holds every one of them, answered `unchanged` with nothing written (no new version, no event). Each item is applied on its own, atomically, in input order, so later items see earlier ones: a bad item gets an `error` result with its problem and never blocks or half-writes the others. An item without the value it is matched on is an `error` naming that field. A retry with the same `Idempotency-Key` replays the first response.",
    request_body = ContactBatch,
    responses((status = 200, description = "One result per item, in input order", body = BatchResponse))
)]
#[post("/contacts/batch")]
pub async fn batch_upsert_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ContactBatch>,
) -> Result<web::Json<BatchResponse>, ApiError> {
    principal.authorize(Resource::Contacts, Access::Write)?;
    check_size(&body.items)?;
    let by = match_on(
        &state,
        CustomObject::Contacts,
        body.match_on.as_deref(),
        "email",
    )
    .await?;
    let caller = principal.user_id().map(str::to_owned);
    let mut results = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.into_iter().enumerate() {
        // One transaction per item, so that a failing item never undoes the others.
        let outcome = upsert_contact(&state, &by, caller.clone(), item).await;
        results.push(BatchResult::new(index, outcome));
    }
    Ok(web::Json(BatchResponse { results }))
}

#[utoipa::path(
    tag = "companies",
    operation_id = "batchUpsertCompanies",
    summary = "Create or update companies in bulk",
    description = "Up to 1,000 companies, each found among the live ones by `match_on`: `tax_id` (the default; the oldest of several with it) or `custom.<key>` of a `unique` custom field (an external id). A company not found is created; one found is changed by the fields the item gives, or, when it already holds every one of them, answered `unchanged` with nothing written (no new version, no event). Each item is applied on its own, atomically, in input order, so later items see earlier ones: a bad item gets an `error` result with its problem and never blocks or half-writes the others. An item without the value it is matched on is an `error` naming that field. A retry with the same `Idempotency-Key` replays the first response.",
    request_body = CompanyBatch,
    responses((status = 200, description = "One result per item, in input order", body = BatchResponse))
)]
#[post("/companies/batch")]
pub async fn batch_upsert_companies(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CompanyBatch>,
) -> Result<web::Json<BatchResponse>, ApiError> {
    principal.authorize(Resource::Companies, Access::Write)?;
    check_size(&body.items)?;
    let by = match_on(
        &state,
        CustomObject::Companies,
        body.match_on.as_deref(),
        "tax_id",
    )
    .await?;
    let caller = principal.user_id().map(str::to_owned);
    let mut results = Vec::with_capacity(body.items.len());
    for (index, item) in body.items.into_iter().enumerate() {
        let outcome = upsert_company(&state, &by, caller.clone(), item).await;
        results.push(BatchResult::new(index, outcome));
    }
    Ok(web::Json(BatchResponse { results }))
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(batch_upsert_companies);
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(batch_upsert_contacts);
}
