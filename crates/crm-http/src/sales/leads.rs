//! `/v1/leads`: prospects, their qualification, conversion, and web-form intake.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::platform::throttle::{minute_bucket, seconds_to_next_minute};
use crm_domain::sales::leads::{LeadAction, LeadSource, LeadStatus};
use crm_domain::Violations;
use crm_store::sales::leads::{self as store, Intake, LeadFields, LeadFilter};
use crm_store::sales::opportunities::OpportunityFields;
use crm_store::sales::quotes::QuoteDraft;
use crm_store::sales::related as expanded;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::parties::views::{listing, Asked, ListSearch};
use crate::platform::shape::{ReadQuery, Shape};
use crate::sales::related::{embed_of, names, shaped, Kind, Relation};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, OptionalJson, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;
use crate::sales::opportunities::{self, OpportunityCreate};
use crate::sales::quotes::{quote_draft, QuoteCreate};

const SORT: &str = "-created_at";

/// What `expand=` embeds.
const RELATIONS: &[Relation] = &[Relation {
    name: "owner",
    kind: Kind::User,
    via: "owner_id",
}];

/// The keys of a lead, which `fields=` may name.
const KEYS: &[&str] = &[
    "id",
    "source",
    "status",
    "owner_id",
    "score",
    "estimated_value",
    "notes",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "campaign_id",
    "disqualify_reason",
    "converted_contact_id",
    "converted_company_id",
    "converted_quote_id",
    "converted_at",
    "version",
    "created_at",
    "updated_at",
    "archived_at",
    "custom_fields",
];

/// A lead: someone who may become a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Lead {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Where it came from.
    pub source: LeadSource,
    /// `new` and `working` are open; then `qualified`, `unqualified` or `converted`.
    pub status: LeadStatus,
    /// The user working it.
    pub owner_id: Option<String>,
    /// A score, higher is hotter.
    pub score: Option<i64>,
    /// What it could be worth.
    pub estimated_value: Option<Money>,
    /// Notes.
    pub notes: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone in E.164.
    pub phone: Option<String>,
    /// The company the person named.
    pub company_name: Option<String>,
    /// The campaign that brought it; its opportunity and quote take it on conversion.
    pub campaign_id: Option<String>,
    /// Why it was disqualified.
    pub disqualify_reason: Option<String>,
    /// What it became: the contact.
    pub converted_contact_id: Option<String>,
    /// What it became: the company.
    pub converted_company_id: Option<String>,
    /// What it became: the draft quote.
    pub converted_quote_id: Option<String>,
    /// When it was converted; a converted lead is read-only.
    pub converted_at: Option<DateTime<Utc>>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived (deleted); null while active.
    pub archived_at: Option<DateTime<Utc>>,
    /// Values of the fields admins added (`GET /v1/schema/leads`), by key.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl StateRecord for Lead {
    const NOUN: &'static str = "lead";
}

impl From<store::Lead> for Lead {
    fn from(l: store::Lead) -> Self {
        Lead {
            id: l.id,
            source: l.fields.source,
            status: l.status,
            owner_id: l.fields.owner_id,
            score: l.fields.score,
            estimated_value: l
                .fields
                .estimated_value
                .map(|(amount, currency)| Money::new(amount, &currency)),
            notes: l.fields.notes,
            first_name: l.fields.first_name,
            last_name: l.fields.last_name,
            email: l.fields.email,
            phone: l.fields.phone,
            company_name: l.fields.company_name,
            campaign_id: l.fields.campaign_id,
            disqualify_reason: l.disqualify_reason,
            converted_contact_id: l.converted_contact_id,
            converted_company_id: l.converted_company_id,
            converted_quote_id: l.converted_quote_id,
            converted_at: utc_opt(l.converted_at),
            version: l.version,
            created_at: utc(l.created_at),
            updated_at: utc(l.updated_at),
            archived_at: utc_opt(l.archived_at),
            custom_fields: l.custom_fields,
        }
    }
}

/// A new lead: at least an email, a phone, a last name or a company name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"source": "web", "first_name": "Luis", "last_name": "Martín", "email": "luis@example.com", "company_name": "Martín Hermanos SL"}))]
pub struct LeadCreate {
    /// Where it came from; default `web`.
    pub source: Option<LeadSource>,
    /// The user working it.
    pub owner_id: Option<String>,
    /// A score.
    pub score: Option<i64>,
    /// What it could be worth.
    pub estimated_value: Option<Money>,
    /// Notes.
    pub notes: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone in any common format.
    pub phone: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// The campaign that brought it (`/v1/campaigns`); unknown is a `422`.
    pub campaign_id: Option<String>,
    /// Values of custom fields, by key; required ones must be given, defaults fill the rest.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// Changes to an open lead, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"score": 80}))]
pub struct LeadUpdate {
    /// Where it came from; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub source: Option<Option<LeadSource>>,
    /// A score.
    #[serde(default, deserialize_with = "patch")]
    pub score: Option<Option<i64>>,
    /// What it could be worth.
    #[serde(default, deserialize_with = "patch")]
    pub estimated_value: Option<Option<Money>>,
    /// Notes.
    #[serde(default, deserialize_with = "patch")]
    pub notes: Option<Option<String>>,
    /// Given name.
    #[serde(default, deserialize_with = "patch")]
    pub first_name: Option<Option<String>>,
    /// Family name.
    #[serde(default, deserialize_with = "patch")]
    pub last_name: Option<Option<String>>,
    /// Email.
    #[serde(default, deserialize_with = "patch")]
    pub email: Option<Option<String>>,
    /// Phone in any common format.
    #[serde(default, deserialize_with = "patch")]
    pub phone: Option<Option<String>>,
    /// Company name.
    #[serde(default, deserialize_with = "patch")]
    pub company_name: Option<Option<String>>,
    /// The campaign that brought it.
    #[serde(default, deserialize_with = "patch")]
    pub campaign_id: Option<Option<String>>,
    /// Values of custom fields, by key, merged into the stored ones: `null` clears a field.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

impl LeadUpdate {
    fn apply(self, f: &mut LeadFields, state: &AppState) -> Result<(), Violations> {
        let mut c = Checker::default();
        match self.source {
            Some(Some(v)) => f.source = v,
            Some(None) => c.not_null("source"),
            None => {}
        }
        if let Some(v) = self.score {
            f.score = v;
        }
        if let Some(v) = self.estimated_value {
            f.estimated_value = v.and_then(|m| {
                c.money("estimated_value", &m, None)
                    .map(|a| (a, m.currency))
            });
        }
        if let Some(v) = self.notes {
            f.notes = c.optional("notes", v.as_deref(), LONG);
        }
        if let Some(v) = self.first_name {
            f.first_name = c.optional("first_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.last_name {
            f.last_name = c.optional("last_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.email {
            f.email = c.email("email", v.as_deref());
        }
        if let Some(v) = self.phone {
            f.phone = c.phone("phone", v.as_deref(), state.settings.default_phone_region);
        }
        if let Some(v) = self.company_name {
            f.company_name = c.optional("company_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.campaign_id {
            f.campaign_id = c.id("campaign_id", v);
        }
        f.custom_written = self.custom_fields;
        c.finish()
    }
}

fn new_fields(body: LeadCreate, state: &AppState) -> Result<LeadFields, ApiError> {
    let mut fields = LeadFields {
        source: body.source.unwrap_or(LeadSource::Web),
        owner_id: body.owner_id,
        score: None,
        estimated_value: None,
        notes: None,
        first_name: None,
        last_name: None,
        email: None,
        phone: None,
        company_name: None,
        campaign_id: None,
        custom_fields: Map::new(),
        custom_written: None,
    };
    LeadUpdate {
        source: None,
        score: Some(body.score),
        estimated_value: Some(body.estimated_value),
        notes: Some(body.notes),
        first_name: Some(body.first_name),
        last_name: Some(body.last_name),
        email: Some(body.email),
        phone: Some(body.phone),
        company_name: Some(body.company_name),
        campaign_id: Some(body.campaign_id),
        custom_fields: body.custom_fields,
    }
    .apply(&mut fields, state)?;
    Ok(fields)
}

/// Filters and paging for the lead list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadListQuery {
    /// Only leads in this status.
    pub status: Option<LeadStatus>,
    /// Only leads from this source.
    pub source: Option<LeadSource>,
    /// Only leads of this owner.
    pub owner_id: Option<String>,
    /// Text to find in the name, email, phone or company name.
    pub q: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Include archived leads.
    pub include_archived: Option<bool>,
    /// Up to 3 sortable paths (`GET /v1/schema/leads`), custom ones too, comma-separated;
    /// prefix `-` for descending; nulls last. Default `-created_at`.
    pub sort: Option<String>,
    /// A condition in the filter language (see the API description), ANDed with the other
    /// parameters: `and(status.in.(new,working),score.gte.50)`.
    pub filter: Option<String>,
    /// A saved view (`/v1/views`) of leads to apply.
    pub view: Option<String>,
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `owner`.
    pub expand: Option<String>,
}

#[utoipa::path(tag = "leads", operation_id = "listLeads", summary = "List leads", description = "Newest first unless `sort` says otherwise.",
    params(LeadListQuery, PageQuery),
    responses((status = 200, description = "A page of leads", body = ListResponse<Lead>)))]
#[get("/leads")]
pub async fn list_leads(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<LeadListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Leads, Access::Read)?;
    list(&state, &principal, query, paging).await
}

#[utoipa::path(tag = "leads", operation_id = "searchLeads", summary = "Search leads",
    description = "The list with its filter, sort, fields and expansions in a body, for filters too long for a URL; answers as `GET /v1/leads`.",
    request_body = ListSearch,
    responses((status = 200, description = "A page of leads", body = ListResponse<Lead>)))]
#[post("/leads/search")]
pub async fn search_leads(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ListSearch>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Leads, Access::Read)?;
    let (query, paging) = body.into_query()?;
    list(&state, &principal, query, paging).await
}

async fn list(
    state: &AppState,
    principal: &Principal,
    query: LeadListQuery,
    paging: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let listing = listing(
        state,
        principal,
        CustomObject::Leads,
        Asked {
            view: query.view,
            filter: query.filter,
            sort: query.sort,
            fields: query.fields,
            expand: query.expand,
            paging,
        },
        SORT,
        KEYS,
        &names(RELATIONS, false),
    )
    .await?;
    let embed = embed_of(principal, &listing.shape, RELATIONS)?;
    let mut c = Checker::default();
    let filter = LeadFilter {
        status: query.status,
        source: query.source,
        owner_id: query.owner_id,
        q: c.optional("q", query.q.as_deref(), SHORT)
            .map(|q| q.to_lowercase()),
        created_after: c.instant("created_after", query.created_after),
        created_before: c.instant("created_before", query.created_before),
        include_archived: query.include_archived.unwrap_or(false),
    };
    c.finish()?;
    let request = listing.query.clone();
    let (page, embedded) = state
        .db
        .read(move |conn| expanded::list_expanded(conn, &filter, &request, embed, store::list))
        .await?;
    Ok(listing.respond(page, |lead| {
        shaped(Lead::from(lead), &listing.shape, RELATIONS, &embedded)
    }))
}

#[utoipa::path(tag = "leads", operation_id = "createLead", summary = "Create a lead",
    request_body = LeadCreate,
    responses((status = 201, description = "Created", body = Lead, headers(("Location" = String, description = "URL of the new lead"), ("ETag" = String, description = "Its version")))))]
#[post("/leads")]
pub async fn create_lead(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<LeadCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Leads, Access::Write)?;
    let mut fields = new_fields(body, &state)?;
    if fields.owner_id.is_none() {
        fields.owner_id = principal.user_id().map(str::to_owned);
    }
    let lead = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/leads/{}", lead.id),
        lead.version,
        &Lead::from(lead),
    ))
}

#[utoipa::path(tag = "leads", operation_id = "intakeLead", summary = "Submit a lead from a web form",
    description = "For website forms, with an API key of scope `leads:intake`. Strictly validated, rate-limited per key (`429` with `Retry-After` over the limit), and safe to retry with `Idempotency-Key`. The lead's source is `web` unless given.",
    request_body = LeadCreate,
    responses(
        (status = 201, description = "Created", body = Lead, headers(("Location" = String, description = "URL of the new lead"), ("ETag" = String, description = "Its version"))),
        (status = 429, description = "Too many submissions with this key; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json")))]
#[post("/leads/intake")]
pub async fn intake_lead(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<LeadCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Leads, Access::Intake)?;
    let fields = body.into_intake(&state)?;
    let now = Utc::now().naive_utc();
    let bucket = minute_bucket("intake", &principal.key(), now);
    let limit = state.settings.intake_per_minute;
    let intake = state
        .db
        .write(move |conn| store::intake(conn, &bucket, limit, fields))
        .await?;
    match intake {
        Intake::Created(lead) => Ok(created(
            format!("/v1/leads/{}", lead.id),
            lead.version,
            &Lead::from(*lead),
        )),
        Intake::Throttled => Err(throttled(limit, now)),
        Intake::Refused(error) => Err(error.into()),
    }
}

/// Refuses a submission over the limit until the next minute, when the count starts again.
fn throttled(limit: i64, now: NaiveDateTime) -> ApiError {
    ApiError::TooManyRequests {
        detail: format!("at most {limit} intake submissions per minute per key"),
        retry_after: u64::from(seconds_to_next_minute(now)),
    }
}

impl LeadCreate {
    /// Checks a web-form submission, which may not pick the lead's owner.
    fn into_intake(self, state: &AppState) -> Result<LeadFields, ApiError> {
        if self.owner_id.is_some() {
            return Err(ApiError::validation(
                "owner_id",
                "cannot be set through intake",
            ));
        }
        new_fields(self, state)
    }
}

#[utoipa::path(tag = "leads", operation_id = "getLead", summary = "Get a lead",
    params(("id" = String, Path, description = "Lead id"), ReadQuery),
    responses((status = 200, description = "The lead", body = Lead, headers(("ETag" = String, description = "Its version")))))]
#[get("/leads/{id:[0-9a-fA-F-]+}")]
pub async fn get_lead(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Leads, Access::Read)?;
    let shape = Shape::parse(
        query.fields.as_deref(),
        query.expand.as_deref(),
        KEYS,
        &names(RELATIONS, false),
    )?;
    let embed = embed_of(&principal, &shape, RELATIONS)?;
    let (lead, embedded) = state
        .db
        .read_record(move |conn, fields| store::get_expanded(conn, fields, &id, embed))
        .await?;
    Ok(versioned(
        lead.version,
        &shaped(Lead::from(lead), &shape, RELATIONS, &embedded),
    ))
}

#[utoipa::path(tag = "leads", operation_id = "updateLead", summary = "Update a lead",
    description = "A converted lead is read-only: `409`.",
    params(("id" = String, Path, description = "Lead id")),
    request_body(content = LeadUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated lead", body = Lead, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/leads/{id:[0-9a-fA-F-]+}")]
pub async fn update_lead(
    target: ActionTarget,
    ApiJson(body): ApiJson<LeadUpdate>,
) -> Result<HttpResponse, ApiError> {
    let lead = target
        .update(Resource::Leads, store::update, move |fields, app| {
            body.apply(fields, app)
        })
        .await?;
    Ok(versioned(lead.version, &Lead::from(lead)))
}

#[utoipa::path(tag = "leads", operation_id = "deleteLead", summary = "Archive a lead",
    description = "Archives the lead; it stays readable by id and leaves lists unless `include_archived=true`.",
    params(("id" = String, Path, description = "Lead id")),
    responses((status = 204, description = "Archived")))]
#[delete("/leads/{id:[0-9a-fA-F-]+}")]
pub async fn delete_lead(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Leads, store::archive)
        .await
}

/// Whom to assign a lead to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"owner_id": "0193a1b2-0000-7000-8000-000000000002"}))]
pub struct AssignLead {
    /// The user who will work it; null to unassign.
    pub owner_id: Option<String>,
}

/// Why a lead is disqualified.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "No budget"}))]
pub struct DisqualifyLead {
    /// The reason.
    pub reason: String,
}

async fn act(
    target: ActionTarget,
    action: LeadAction,
    owner_id: Option<String>,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let lead = target
        .write(Resource::Leads, move |conn, id, version| {
            store::act(conn, id, version, action, owner_id, reason)
        })
        .await?;
    Ok(versioned(lead.version, &Lead::from(lead)))
}

#[utoipa::path(tag = "leads", operation_id = "assignLead", summary = "Assign a lead",
    description = "Sets the owner; a new lead starts being worked.",
    params(("id" = String, Path, description = "Lead id")),
    request_body = AssignLead,
    responses(ActionResponses<Lead>))]
#[post("/leads/{id}/assign")]
pub async fn assign_lead(
    target: ActionTarget,
    ApiJson(body): ApiJson<AssignLead>,
) -> Result<HttpResponse, ApiError> {
    act(target, LeadAction::Assign, body.owner_id, None).await
}

#[utoipa::path(tag = "leads", operation_id = "qualifyLead", summary = "Qualify a lead",
    description = "new or working → qualified.",
    params(("id" = String, Path, description = "Lead id")),
    responses(ActionResponses<Lead>))]
#[post("/leads/{id}/qualify")]
pub async fn qualify_lead(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, LeadAction::Qualify, None, None).await
}

#[utoipa::path(tag = "leads", operation_id = "disqualifyLead", summary = "Disqualify a lead",
    description = "new or working → unqualified, with a reason.",
    params(("id" = String, Path, description = "Lead id")),
    request_body = DisqualifyLead,
    responses(ActionResponses<Lead>))]
#[post("/leads/{id}/disqualify")]
pub async fn disqualify_lead(
    target: ActionTarget,
    ApiJson(body): ApiJson<DisqualifyLead>,
) -> Result<HttpResponse, ApiError> {
    let mut c = Checker::default();
    let reason = c.required("reason", &body.reason, 2000);
    c.finish()?;
    act(target, LeadAction::Disqualify, None, Some(reason)).await
}

/// Options of a conversion.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"quote": {"currency": "EUR", "lines": [{"description": "Consulting", "quantity": "10", "unit_price": {"amount_minor": 9000, "currency": "EUR"}, "tax_rate_bp": 2100}]}}))]
pub struct ConvertLead {
    /// Also create a draft quote for the customer with these lines. Its customer fields are
    /// filled from the conversion.
    pub quote: Option<QuoteCreate>,
    /// Also create an opportunity for the customer's company, linked to the lead.
    pub opportunity: Option<ConvertOpportunity>,
}

/// The opportunity a conversion creates; company, contact and lead come from the conversion.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConvertOpportunity {
    /// What is being sold.
    pub name: String,
    /// Value of the sale.
    pub amount: Money,
    /// When it is expected to close.
    pub expected_close_date: chrono::NaiveDate,
    /// Its pipeline; default the default pipeline.
    pub pipeline_id: Option<String>,
    /// Its stage; default the pipeline's first open stage.
    pub stage_id: Option<String>,
    /// Overrides the stage's probability.
    pub probability_bp: Option<i64>,
}

/// What a conversion created or linked.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadConversion {
    /// The lead, now converted.
    pub lead: Lead,
    /// The contact the lead became.
    pub contact_id: Option<String>,
    /// False when an existing contact with the lead's email or phone was linked.
    pub contact_created: bool,
    /// The company.
    pub company_id: Option<String>,
    /// False when an existing company was linked.
    pub company_created: bool,
    /// The draft quote, when one was asked for.
    pub quote_id: Option<String>,
    /// The opportunity, when one was asked for.
    pub opportunity_id: Option<String>,
}

#[utoipa::path(tag = "leads", operation_id = "convertLead", summary = "Convert a lead",
    description = "Links the contact with the lead's email or phone, or creates one (with a company when the lead names one), and optionally a draft quote. A converted lead is read-only; converting again gets `409`.",
    params(("id" = String, Path, description = "Lead id")),
    request_body(content = ConvertLead, description = "Optional", content_type = "application/json"),
    responses(
        (status = 200, description = "What was created or linked", body = LeadConversion),
        (status = 409, description = "Already converted, or unqualified", body = Problem, content_type = "application/problem+json")))]
#[post("/leads/{id}/convert")]
pub async fn convert_lead(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    OptionalJson(body): OptionalJson<ConvertLead>,
) -> Result<web::Json<LeadConversion>, ApiError> {
    principal.authorize(Resource::Leads, Access::Write)?;
    let (quote, opportunity) = body.unwrap_or_default().into_extras(&principal)?;
    let user = principal.user_id().map(str::to_owned);
    let conversion = state
        .db
        .write(move |conn| {
            store::convert(conn, &id, if_match.0, quote, opportunity, user.as_deref())
        })
        .await?;
    Ok(web::Json(LeadConversion::from(conversion)))
}

impl ConvertLead {
    /// Checks the quote and the opportunity the conversion also creates, each under its own
    /// permission.
    fn into_extras(
        self,
        principal: &Principal,
    ) -> Result<(Option<QuoteDraft>, Option<OpportunityFields>), ApiError> {
        if self.quote.is_some() {
            principal.authorize(Resource::Quotes, Access::Write)?;
        }
        let quote = self
            .quote
            .map(|q| quote_draft(q, principal.user_id()))
            .transpose()?;
        if self.opportunity.is_some() {
            principal.authorize(Resource::Opportunities, Access::Write)?;
        }
        let opportunity = self
            .opportunity
            .map(ConvertOpportunity::into_fields)
            .transpose()?;
        Ok((quote, opportunity))
    }
}

impl ConvertOpportunity {
    /// Its company, contact and lead are left for the conversion to fill.
    fn into_fields(self) -> Result<OpportunityFields, ApiError> {
        opportunities::new_fields(
            OpportunityCreate {
                custom_fields: None,
                name: self.name,
                company_id: String::new(),
                contact_id: None,
                owner_id: None,
                pipeline_id: self.pipeline_id,
                stage_id: self.stage_id,
                amount: self.amount,
                probability_bp: self.probability_bp,
                expected_close_date: self.expected_close_date,
                lead_id: None,
                campaign_id: None,
                next_step: None,
                loss_reason: None,
            },
            None,
        )
    }
}

impl From<store::Conversion> for LeadConversion {
    fn from(conversion: store::Conversion) -> Self {
        LeadConversion {
            lead: Lead::from(conversion.lead),
            contact_id: conversion.contact_id,
            contact_created: conversion.contact_created,
            company_id: conversion.company_id,
            company_created: conversion.company_created,
            quote_id: conversion.quote_id,
            opportunity_id: conversion.opportunity_id,
        }
    }
}

/// The routes under `/leads`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_leads)
        .service(search_leads)
        .service(create_lead)
        .service(intake_lead)
        .service(get_lead)
        .service(update_lead)
        .service(delete_lead)
        .service(assign_lead)
        .service(qualify_lead)
        .service(disqualify_lead)
        .service(convert_lead);
}
