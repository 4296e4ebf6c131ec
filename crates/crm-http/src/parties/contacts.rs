//! `/v1/contacts`: people.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::parties::contacts::LifecycleStage;
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::Violations;
use crm_store::parties::companies::{Expand, Related};
use crm_store::parties::contacts::{self as store, ContactFields, ContactFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::parties::merged::{merged_redirect, MergedInto};
use crate::parties::views::{listing, Asked, ListSearch};
use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::shape::{embed, Shape, Shaped};
use crate::platform::state::AppState;

/// The keys of a contact, which `fields=` may name.
const KEYS: &[&str] = &[
    "id",
    "company_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "lifecycle_stage",
    "owner_id",
    "tags",
    "preferences",
    "marketing_consent",
    "marketing_consent_at",
    "birthday",
    "locale",
    "version",
    "created_at",
    "updated_at",
    "archived_at",
    "merged_into_id",
    "last_order_at",
    "custom_fields",
];

/// The relations `expand=` may embed.
const RELATIONS: &[&str] = &["company", "owner", "company.owner"];

/// A person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// The company the person works for.
    pub company_id: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: String,
    /// Email address; unique among active contacts, compared case-insensitively.
    pub email: Option<String>,
    /// Phone number in E.164 (`+34600123456`).
    pub phone: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Where the person stands with us.
    pub lifecycle_stage: LifecycleStage,
    /// The user who owns the relationship.
    pub owner_id: Option<String>,
    /// Labels.
    pub tags: Vec<String>,
    /// What this person likes: free-form JSON object.
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
    /// Read-only: whether email consent is granted now, the summary of the email channel's
    /// latest consent event. Consent is written with `POST /v1/contacts/{id}/consents`.
    pub marketing_consent: bool,
    /// Read-only: when the email consent now in force was granted; null without it.
    pub marketing_consent_at: Option<DateTime<Utc>>,
    /// Greeting rules with the occasion `birthday` greet on its day each year.
    pub birthday: Option<NaiveDate>,
    /// A BCP 47 language tag, such as `es-ES`; greeting rules pick contacts by it.
    pub locale: Option<String>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived (deleted); null while active.
    pub archived_at: Option<DateTime<Utc>>,
    /// When its newest order was placed; read-only, null without orders.
    pub last_order_at: Option<DateTime<Utc>>,
    /// The contact this one was merged into (`POST /v1/contacts/{id}/merge`); null unless
    /// merged. A merged contact is archived, its `GET` redirects there and it takes no writes.
    pub merged_into_id: Option<String>,
    /// Values of the fields admins added (`GET /v1/schema/contacts`), by key.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl From<store::Contact> for Contact {
    fn from(contact: store::Contact) -> Self {
        Contact {
            id: contact.id,
            company_id: contact.fields.company_id,
            first_name: contact.fields.first_name,
            last_name: contact.fields.last_name,
            email: contact.fields.email,
            phone: contact.fields.phone,
            title: contact.fields.title,
            lifecycle_stage: contact.fields.lifecycle_stage,
            owner_id: contact.fields.owner_id,
            tags: contact.fields.tags,
            preferences: contact.fields.preferences,
            marketing_consent: contact.fields.marketing_consent,
            marketing_consent_at: utc_opt(contact.marketing_consent_at),
            birthday: contact.fields.birthday,
            locale: contact.fields.locale,
            version: contact.version,
            created_at: utc(contact.created_at),
            updated_at: utc(contact.updated_at),
            archived_at: utc_opt(contact.archived_at),
            last_order_at: utc_opt(contact.last_order_at),
            merged_into_id: contact.merged_into_id,
            custom_fields: contact.custom_fields,
        }
    }
}

/// A new contact. Only `last_name` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"first_name": "Ana", "last_name": "García", "email": "ana@example.com", "phone": "600 123 456", "lifecycle_stage": "prospect"}))]
pub struct ContactCreate {
    /// The company the person works for.
    pub company_id: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number in any common format; national numbers are read in the server's default
    /// region.
    pub phone: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Default `prospect`.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Owning user; defaults to the caller.
    pub owner_id: Option<String>,
    /// Labels.
    pub tags: Option<Vec<String>>,
    /// Free-form JSON object.
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    pub birthday: Option<NaiveDate>,
    /// A BCP 47 language tag, such as `es-ES`.
    pub locale: Option<String>,
    /// Values of custom fields, by key; required ones must be given, defaults fill the rest.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// Changes to a contact, as a JSON Merge Patch: absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Head of Purchasing", "tags": ["vip"]}))]
pub struct ContactUpdate {
    /// The company the person works for.
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    /// Given name.
    #[serde(default, deserialize_with = "patch")]
    pub first_name: Option<Option<String>>,
    /// Family name; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub last_name: Option<Option<String>>,
    /// Email address.
    #[serde(default, deserialize_with = "patch")]
    pub email: Option<Option<String>>,
    /// Phone number in any common format.
    #[serde(default, deserialize_with = "patch")]
    pub phone: Option<Option<String>>,
    /// Job title.
    #[serde(default, deserialize_with = "patch")]
    pub title: Option<Option<String>>,
    /// Lifecycle stage; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub lifecycle_stage: Option<Option<LifecycleStage>>,
    /// Owning user.
    #[serde(default, deserialize_with = "patch")]
    pub owner_id: Option<Option<String>>,
    /// Labels; replaces the list.
    #[serde(default, deserialize_with = "patch")]
    pub tags: Option<Option<Vec<String>>>,
    /// Merged into the stored preferences (RFC 7396).
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "patch")]
    pub birthday: Option<Option<NaiveDate>>,
    /// A BCP 47 language tag, such as `es-ES`.
    #[serde(default, deserialize_with = "patch")]
    pub locale: Option<Option<String>>,
    /// Values of custom fields, by key, merged into the stored ones: `null` clears a field.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

impl ContactCreate {
    pub(crate) fn into_update(self, caller: Option<&str>) -> ContactUpdate {
        ContactUpdate {
            company_id: Some(self.company_id),
            first_name: Some(self.first_name),
            last_name: Some(Some(self.last_name)),
            email: Some(self.email),
            phone: Some(self.phone),
            title: Some(self.title),
            lifecycle_stage: self.lifecycle_stage.map(Some),
            owner_id: Some(self.owner_id.or_else(|| caller.map(str::to_owned))),
            tags: Some(self.tags),
            preferences: Some(self.preferences),
            birthday: Some(self.birthday),
            locale: Some(self.locale),
            custom_fields: self.custom_fields,
        }
    }
}

impl ContactUpdate {
    pub(crate) fn apply(
        self,
        fields: &mut ContactFields,
        state: &AppState,
    ) -> Result<(), Violations> {
        let mut c = Checker::default();
        if let Some(v) = self.company_id {
            fields.company_id = v;
        }
        if let Some(v) = self.first_name {
            fields.first_name = c.optional("first_name", v.as_deref(), SHORT);
        }
        match self.last_name {
            Some(Some(v)) => fields.last_name = c.required("last_name", &v, SHORT),
            Some(None) => c.not_null("last_name"),
            None => {}
        }
        if let Some(v) = self.email {
            fields.email = c.email("email", v.as_deref());
        }
        if let Some(v) = self.phone {
            let region = state.settings.default_phone_region;
            fields.phone = c.phone("phone", v.as_deref(), region);
        }
        if let Some(v) = self.title {
            fields.title = c.optional("title", v.as_deref(), SHORT);
        }
        match self.lifecycle_stage {
            Some(Some(v)) => fields.lifecycle_stage = v,
            Some(None) => c.not_null("lifecycle_stage"),
            None => {}
        }
        if let Some(v) = self.owner_id {
            fields.owner_id = v;
        }
        if let Some(v) = self.tags {
            fields.tags = c.tags("tags", &v.unwrap_or_default());
        }
        c.preferences(&mut fields.preferences, self.preferences);
        if let Some(v) = self.birthday {
            if v.is_some_and(|day| !(1900..=9999).contains(&day.year())) {
                c.violations.push(crm_domain::Violation::new(
                    "birthday",
                    "must be a date from the year 1900",
                ));
            }
            fields.birthday = v;
        }
        if let Some(v) = self.locale {
            fields.locale = c.optional("locale", v.as_deref(), SHORT);
            if fields
                .locale
                .as_deref()
                .is_some_and(|tag| !crm_domain::platform::text::valid_locale(tag))
            {
                c.violations.push(crm_domain::Violation::new(
                    "locale",
                    "must be a BCP 47 language tag, such as es-ES",
                ));
            }
        }
        fields.custom_written = self.custom_fields;
        c.finish()
    }
}

/// Filters and paging for contact lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactListQuery {
    /// Text to find in the name, email or phone (case-insensitive).
    pub q: Option<String>,
    /// Exact email, compared case-insensitively.
    pub email: Option<String>,
    /// A phone number in any common format; finds the contact whose number it is.
    pub phone: Option<String>,
    /// Only contacts of this company.
    pub company_id: Option<String>,
    /// Only contacts owned by this user.
    pub owner_id: Option<String>,
    /// Only contacts at this lifecycle stage.
    pub lifecycle_stage: Option<LifecycleStage>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Created at or after this instant (RFC 3339).
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this instant (RFC 3339).
    pub created_before: Option<DateTime<Utc>>,
    /// Include archived contacts.
    pub include_archived: Option<bool>,
    /// Up to 3 sortable paths (`GET /v1/schema/contacts`), custom ones too, comma-separated;
    /// prefix `-` for descending; nulls last. Default `-created_at`.
    pub sort: Option<String>,
    /// A condition in the filter language (see the API description), ANDed with the other
    /// parameters: `and(lifecycle_stage.eq.customer,custom.segment.in.(retail,food))`.
    pub filter: Option<String>,
    /// A saved view (`/v1/views`) to apply: its filter is ANDed with `filter`, its sort and
    /// columns apply unless `sort` and `fields` are given.
    pub view: Option<String>,
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `company`, `owner`, `company.owner`.
    pub expand: Option<String>,
}

/// `fields` and `expand` of a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactReadQuery {
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `company`, `owner`, `company.owner`.
    pub expand: Option<String>,
}

/// The shape a caller asked for: an embedded company is read as the company itself would be,
/// so it needs the caller's read of companies.
fn shape_of(
    principal: &Principal,
    fields: Option<&str>,
    expand: Option<&str>,
) -> Result<Shape, ApiError> {
    let shape = Shape::parse(fields, expand, KEYS, RELATIONS)?;
    authorize_expansion(principal, &shape)?;
    Ok(shape)
}

/// An embedded company is read as the company itself would be, so it needs the caller's read
/// of companies.
fn authorize_expansion(principal: &Principal, shape: &Shape) -> Result<(), ApiError> {
    if shape.expands("company") || shape.expands("company.owner") {
        principal.authorize(Resource::Companies, Access::Read)?;
    }
    Ok(())
}

fn expand_of(shape: &Shape) -> Expand {
    Expand {
        company: shape.expands("company") || shape.expands("company.owner"),
        owner: shape.expands("owner"),
        company_owner: shape.expands("company.owner"),
    }
}

/// A contact as the caller shaped it: embedded relations, then only the asked fields.
fn shaped(contact: store::Contact, shape: &Shape, related: &Related) -> Shaped<Contact> {
    let company_id = contact.fields.company_id.clone();
    let owner_id = contact.fields.owner_id.clone();
    shape.apply(Contact::from(contact), |value| {
        if shape.expands("company") || shape.expands("company.owner") {
            let company = company_id
                .and_then(|id| related.companies.get(&id))
                .map(|company| {
                    let owner = company.fields.owner_id.clone();
                    let mut embedded = serde_json::to_value(
                        crate::parties::companies::Company::from(company.clone()),
                    )
                    .unwrap_or(Value::Null);
                    if shape.expands("company.owner") {
                        embed(
                            &mut embedded,
                            "owner",
                            crate::parties::companies::user(owner.as_deref(), related),
                        );
                    }
                    embedded
                });
            embed(value, "company", company);
        }
        if shape.expands("owner") {
            embed(
                value,
                "owner",
                crate::parties::companies::user(owner_id.as_deref(), related),
            );
        }
    })
}

async fn list(
    state: &AppState,
    principal: &Principal,
    mut query: ContactListQuery,
    paging: PageQuery,
    company_id: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let asked = Asked {
        view: query.view.take(),
        filter: query.filter.take(),
        sort: query.sort.take(),
        fields: query.fields.take(),
        expand: query.expand.take(),
        paging,
    };
    let listing = listing(
        state,
        principal,
        CustomObject::Contacts,
        asked,
        "-created_at",
        KEYS,
        RELATIONS,
    )
    .await?;
    authorize_expansion(principal, &listing.shape)?;
    let mut c = Checker::default();
    let filter = ContactFilter {
        q: c.optional("q", query.q.as_deref(), SHORT)
            .map(|q| q.to_lowercase()),
        email: c.optional("email", query.email.as_deref(), 254),
        phone: c.phone(
            "phone",
            query.phone.as_deref(),
            state.settings.default_phone_region,
        ),
        company_id: company_id.or(query.company_id),
        owner_id: query.owner_id,
        lifecycle_stage: query.lifecycle_stage,
        tag: query.tag.as_deref().and_then(|t| {
            c.violations
                .check(crm_domain::parties::tags::filter_value(t))
        }),
        created_after: c.instant("created_after", query.created_after),
        created_before: c.instant("created_before", query.created_before),
        include_archived: query.include_archived.unwrap_or(false),
    };
    c.finish()?;
    let expand = expand_of(&listing.shape);
    let request = listing.query.clone();
    let (page, related) = state
        .db
        .read(move |conn| store::list_expanded(conn, &filter, &request, expand))
        .await?;
    Ok(listing.respond(page, |contact| shaped(contact, &listing.shape, &related)))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "listContacts",
    summary = "List contacts",
    description = "Find a caller by number with `phone=` in any format: `+34600123456`, `0034 600-123-456` and `600 123 456` (in the default region) all match.",
    params(ContactListQuery, PageQuery),
    responses((status = 200, description = "A page of contacts", body = ListResponse<Contact>))
)]
#[get("/contacts")]
pub async fn list_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<ContactListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Contacts, Access::Read)?;
    list(&state, &principal, query, paging, None).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "listCompanyContacts",
    summary = "List a company's contacts",
    params(("id" = String, Path, description = "Company id"), ContactListQuery, PageQuery),
    responses((status = 200, description = "A page of the company's contacts", body = ListResponse<Contact>))
)]
#[get("/companies/{id}/contacts")]
pub async fn list_company_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    PagedQuery(query, paging): PagedQuery<ContactListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Contacts, Access::Read)?;
    let company_id = id.into_inner();
    let check = company_id.clone();
    state
        .db
        .read(move |conn| crm_store::parties::companies::ensure_exists(conn, &check))
        .await?;
    list(&state, &principal, query, paging, Some(company_id)).await
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "searchContacts",
    summary = "Search contacts",
    description = "The list with its filter, sort, fields and expansions in a body, for filters too long for a URL; answers as `GET /v1/contacts`.",
    request_body = ListSearch,
    responses((status = 200, description = "A page of contacts", body = ListResponse<Contact>))
)]
#[post("/contacts/search")]
pub async fn search_contacts(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ListSearch>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Contacts, Access::Read)?;
    let (query, paging) = body.into_query()?;
    list(&state, &principal, query, paging, None).await
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "createContact",
    summary = "Create a contact",
    request_body = ContactCreate,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Contact,
            headers(("Location" = String, description = "URL of the new contact"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "An active contact already has this email; `existing_id` names it", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/contacts")]
pub async fn create_contact(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ContactCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Contacts, Access::Write)?;
    let mut fields = ContactFields::default();
    body.into_update(principal.user_id())
        .apply(&mut fields, &state)?;
    let contact = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/contacts/{}", contact.id),
        contact.version,
        &Contact::from(contact),
    ))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "getContact",
    summary = "Get a contact",
    params(("id" = String, Path, description = "Contact id"), ContactReadQuery),
    responses((status = 200, description = "The contact", body = Contact,
        headers(("ETag" = String, description = "Its version"))),
        (status = 308, description = "The contact was merged into another: `Location` is that one's URL, and `merged_into` its id", body = MergedInto,
            headers(("Location" = String, description = "URL of the contact it was merged into")))
    )
)]
#[get("/contacts/{id:[0-9a-fA-F-]+}")]
pub async fn get_contact(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<ContactReadQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Contacts, Access::Read)?;
    let shape = shape_of(&principal, query.fields.as_deref(), query.expand.as_deref())?;
    let expand = expand_of(&shape);
    let (contact, related) = state
        .db
        .read_record(move |conn, fields| store::get_expanded(conn, fields, &id, expand))
        .await?;
    if let Some(survivor) = &contact.merged_into_id {
        return Ok(merged_redirect("contacts", survivor));
    }
    let version = contact.version;
    Ok(versioned(version, &shaped(contact, &shape, &related)))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "updateContact",
    summary = "Update a contact",
    params(("id" = String, Path, description = "Contact id")),
    request_body(content = ContactUpdate, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated contact", body = Contact,
            headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Another active contact has this email (`existing_id` names it), or this one was merged into another (`merged_into` names it)", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/contacts/{id:[0-9a-fA-F-]+}")]
pub async fn update_contact(
    target: ActionTarget,
    ApiJson(body): ApiJson<ContactUpdate>,
) -> Result<HttpResponse, ApiError> {
    let contact = target
        .update(Resource::Contacts, store::update, move |fields, app| {
            body.apply(fields, app)
        })
        .await?;
    Ok(versioned(contact.version, &Contact::from(contact)))
}

#[utoipa::path(
    tag = "contacts",
    operation_id = "deleteContact",
    summary = "Archive a contact",
    description = "Archives the contact: it keeps its history, stays readable by id, leaves lists unless `include_archived=true`, and frees its email for a new contact.",
    params(("id" = String, Path, description = "Contact id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 409, description = "The contact was merged into another; `merged_into` names it", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/contacts/{id:[0-9a-fA-F-]+}")]
pub async fn delete_contact(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Contacts, store::archive)
        .await
}

/// The routes under `/companies`.
pub fn companies_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_company_contacts);
}

/// The routes under `/contacts`.
pub fn contacts_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_contacts)
        .service(search_contacts)
        .service(create_contact)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact);
}
