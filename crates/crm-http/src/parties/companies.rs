//! `/v1/companies`: accounts.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Reach, Resource};
use crm_domain::parties::companies::Tier;
use crm_domain::platform::address::country_code;
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::Violations;
use crm_store::parties::companies::{self as store, CompanyFields, CompanyFilter};
use crm_store::parties::companies::{Expand, Related};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::parties::merged::{merged_redirect, MergedInto};
use crate::parties::views::{listing, Asked, ListSearch};
use crate::platform::actions::ActionTarget;
use crate::platform::address::{apply_address, BillingAddress, BillingAddressUpdate};
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::shape::{embed, Shape, Shaped};
use crate::platform::state::AppState;

/// The keys of a company, which `fields=` may name.
const KEYS: &[&str] = &[
    "id",
    "name",
    "legal_name",
    "tax_id",
    "billing_address",
    "email",
    "phone",
    "website",
    "industry",
    "owner_id",
    "tier",
    "tier_basis_year",
    "tags",
    "preferences",
    "version",
    "created_at",
    "updated_at",
    "archived_at",
    "merged_into_id",
    "last_order_at",
    "custom_fields",
];

/// The relations `expand=` may embed.
const RELATIONS: &[&str] = &["owner"];

/// A company (account).
#[derive(Debug, Serialize, ToSchema)]
pub struct Company {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Trading name.
    pub name: String,
    /// Registered legal name, for invoices.
    pub legal_name: Option<String>,
    /// Tax identifier (VAT number, NIF, EIN...).
    pub tax_id: Option<String>,
    /// Billing address.
    pub billing_address: BillingAddress,
    /// Main email address.
    pub email: Option<String>,
    /// Main phone number, in E.164.
    pub phone: Option<String>,
    /// Website URL.
    pub website: Option<String>,
    /// Industry, free text.
    pub industry: Option<String>,
    /// The user who owns the account.
    pub owner_id: Option<String>,
    /// Profit tier (A, B, C), computed from a year's profit contribution; read-only.
    pub tier: Option<Tier>,
    /// The year the tier was computed from; read-only.
    pub tier_basis_year: Option<i64>,
    /// Labels.
    pub tags: Vec<String>,
    /// What this customer likes: free-form JSON object.
    #[schema(value_type = Object)]
    pub preferences: serde_json::Value,
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
    /// The company this one was merged into (`POST /v1/companies/{id}/merge`); null unless
    /// merged. A merged company is archived, its `GET` redirects there and it takes no writes.
    pub merged_into_id: Option<String>,
    /// Values of the fields admins added (`GET /v1/schema/companies`), by key.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl From<store::Company> for Company {
    fn from(company: store::Company) -> Self {
        Company {
            id: company.id,
            name: company.fields.name,
            legal_name: company.fields.legal_name,
            tax_id: company.fields.tax_id,
            billing_address: BillingAddress::from(company.fields.billing_address),
            email: company.fields.email,
            phone: company.fields.phone,
            website: company.fields.website,
            industry: company.fields.industry,
            owner_id: company.fields.owner_id,
            tier: company.tier,
            tier_basis_year: company.tier_basis_year,
            tags: company.fields.tags,
            preferences: company.fields.preferences,
            version: company.version,
            created_at: utc(company.created_at),
            updated_at: utc(company.updated_at),
            archived_at: utc_opt(company.archived_at),
            last_order_at: utc_opt(company.last_order_at),
            merged_into_id: company.merged_into_id,
            custom_fields: company.custom_fields,
        }
    }
}

/// A new company. Only `name` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Acme Iberia", "tax_id": "ESB12345678", "billing_address": {"city": "Madrid", "country": "ES"}, "tags": ["wholesale"]}))]
pub struct CompanyCreate {
    /// Trading name.
    pub name: String,
    /// Registered legal name.
    pub legal_name: Option<String>,
    /// Tax identifier.
    pub tax_id: Option<String>,
    /// Billing address.
    pub billing_address: Option<BillingAddress>,
    /// Main email address.
    pub email: Option<String>,
    /// Main phone number, any common format; stored in E.164.
    pub phone: Option<String>,
    /// Website URL.
    pub website: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Owning user; defaults to the caller.
    pub owner_id: Option<String>,
    /// Labels.
    pub tags: Option<Vec<String>>,
    /// Free-form JSON object.
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    /// Values of custom fields, by key; required ones must be given, defaults fill the rest.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// Changes to a company, as a JSON Merge Patch: absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"industry": "Retail", "billing_address": {"postal_code": "28014"}}))]
pub struct CompanyUpdate {
    /// Trading name; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub name: Option<Option<String>>,
    /// Registered legal name.
    #[serde(default, deserialize_with = "patch")]
    pub legal_name: Option<Option<String>>,
    /// Tax identifier.
    #[serde(default, deserialize_with = "patch")]
    pub tax_id: Option<Option<String>>,
    /// Billing address; merged field by field.
    #[serde(default, deserialize_with = "patch")]
    pub billing_address: Option<Option<BillingAddressUpdate>>,
    /// Main email address.
    #[serde(default, deserialize_with = "patch")]
    pub email: Option<Option<String>>,
    /// Main phone number.
    #[serde(default, deserialize_with = "patch")]
    pub phone: Option<Option<String>>,
    /// Website URL.
    #[serde(default, deserialize_with = "patch")]
    pub website: Option<Option<String>>,
    /// Industry.
    #[serde(default, deserialize_with = "patch")]
    pub industry: Option<Option<String>>,
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
    /// Values of custom fields, by key, merged into the stored ones: `null` clears a field.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

impl CompanyCreate {
    pub(crate) fn into_update(self) -> CompanyUpdate {
        let address = self.billing_address.unwrap_or_default();
        CompanyUpdate {
            name: Some(Some(self.name)),
            legal_name: Some(self.legal_name),
            tax_id: Some(self.tax_id),
            billing_address: Some(Some(BillingAddressUpdate {
                line1: Some(address.line1),
                line2: Some(address.line2),
                city: Some(address.city),
                region: Some(address.region),
                postal_code: Some(address.postal_code),
                country: Some(address.country),
            })),
            email: Some(self.email),
            phone: Some(self.phone),
            website: Some(self.website),
            industry: Some(self.industry),
            owner_id: Some(self.owner_id),
            tags: Some(self.tags),
            preferences: Some(self.preferences),
            custom_fields: self.custom_fields,
        }
    }
}

impl CompanyUpdate {
    /// Applies the patch to `fields`, cleaning every value and collecting every violation.
    pub(crate) fn apply(
        self,
        fields: &mut CompanyFields,
        state: &AppState,
    ) -> Result<(), Violations> {
        let mut c = Checker::default();
        match self.name {
            Some(Some(name)) => fields.name = c.required("name", &name, SHORT),
            Some(None) => c.not_null("name"),
            None => {}
        }
        if let Some(v) = self.legal_name {
            fields.legal_name = c.optional("legal_name", v.as_deref(), SHORT);
        }
        if let Some(v) = self.tax_id {
            fields.tax_id = c.optional("tax_id", v.as_deref(), 50);
        }
        if let Some(address) = self.billing_address {
            let a = address.unwrap_or_else(BillingAddressUpdate::cleared);
            apply_address(&mut c, &mut fields.billing_address, a, "billing_address");
        }
        if let Some(v) = self.email {
            fields.email = c.email("email", v.as_deref());
        }
        if let Some(v) = self.phone {
            let region = state.settings.default_phone_region;
            fields.phone = c.phone("phone", v.as_deref(), region);
        }
        if let Some(v) = self.website {
            fields.website = c.url("website", v.as_deref());
        }
        if let Some(v) = self.industry {
            fields.industry = c.optional("industry", v.as_deref(), SHORT);
        }
        if let Some(v) = self.owner_id {
            fields.owner_id = v;
        }
        if let Some(v) = self.tags {
            fields.tags = c.tags("tags", &v.unwrap_or_default());
        }
        c.preferences(&mut fields.preferences, self.preferences);
        fields.custom_written = self.custom_fields;
        c.finish()
    }
}

/// Filters and paging for the company list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyListQuery {
    /// Text to find in name, legal name, tax id, email, phone or website (case-insensitive).
    pub q: Option<String>,
    /// Exact tax id.
    pub tax_id: Option<String>,
    /// Billing country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Owning user.
    pub owner_id: Option<String>,
    /// Profit tier.
    pub tier: Option<Tier>,
    /// Only companies with this tag.
    pub tag: Option<String>,
    /// Include archived companies.
    pub include_archived: Option<bool>,
    /// Up to 3 sortable paths (`GET /v1/schema/companies`), custom ones too, comma-separated;
    /// prefix `-` for descending; nulls last. Default `-created_at`.
    pub sort: Option<String>,
    /// A condition in the filter language (see the API description), ANDed with the other
    /// parameters: `and(tier.eq.A,custom.segment.in.(retail,food))`.
    pub filter: Option<String>,
    /// A saved view (`/v1/views`) to apply: its filter is ANDed with `filter`, its sort and
    /// columns apply unless `sort` and `fields` are given.
    pub view: Option<String>,
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `owner`.
    pub expand: Option<String>,
}

/// `fields` and `expand` of a single read.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompanyReadQuery {
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `owner`.
    pub expand: Option<String>,
}

/// The shape a caller asked for; customers may not expand (they do not see users).
fn shape_of(fields: Option<&str>, expand: Option<&str>, reach: Reach) -> Result<Shape, ApiError> {
    let shape = Shape::parse(fields, expand, KEYS, RELATIONS)?;
    refuse_users_to_customers(&shape, reach)?;
    Ok(shape)
}

fn refuse_users_to_customers(shape: &Shape, reach: Reach) -> Result<(), ApiError> {
    if reach == Reach::OwnCompany && shape.expands("owner") {
        return Err(ApiError::Forbidden(
            "customers cannot expand the users behind a record".into(),
        ));
    }
    Ok(())
}

fn expand_of(shape: &Shape) -> Expand {
    Expand {
        owner: shape.expands("owner"),
        ..Expand::default()
    }
}

/// A user as an expansion shows it: `id`, `email` and `role`.
pub fn user(id: Option<&str>, related: &Related) -> Option<Value> {
    related.users.get(id?).map(user_summary)
}

/// A user embedded in another record: `id`, `email` and `role`, nothing more.
pub fn user_summary(user: &crm_store::access::users::UserSummary) -> Value {
    json!({"id": user.id, "email": user.email, "role": user.role})
}

/// A company as the caller shaped it.
fn shaped(company: store::Company, shape: &Shape, related: &Related) -> Shaped<Company> {
    let owner_id = company.fields.owner_id.clone();
    shape.apply(Company::from(company), |value| {
        if shape.expands("owner") {
            embed(value, "owner", user(owner_id.as_deref(), related));
        }
    })
}

#[utoipa::path(
    tag = "companies",
    operation_id = "listCompanies",
    summary = "List companies",
    description = "Customer users see only their own company.",
    params(CompanyListQuery, PageQuery),
    responses((status = 200, description = "A page of companies", body = ListResponse<Company>))
)]
#[get("/companies")]
pub async fn list_companies(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<CompanyListQuery>,
) -> Result<HttpResponse, ApiError> {
    list_companies_by(&state, &principal, query, paging).await
}

async fn list_companies_by(
    state: &AppState,
    principal: &Principal,
    mut query: CompanyListQuery,
    paging: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let reach = principal.authorize(Resource::Companies, Access::Read)?;
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
        CustomObject::Companies,
        asked,
        "-created_at",
        KEYS,
        RELATIONS,
    )
    .await?;
    refuse_users_to_customers(&listing.shape, reach)?;
    let filter = query.into_filter(reach, principal.company_id.as_deref())?;
    let expand = expand_of(&listing.shape);
    let request = listing.query.clone();
    let (page, related) = state
        .db
        .read(move |conn| store::list_expanded(conn, &filter, &request, expand))
        .await?;
    Ok(listing.respond(page, |company| shaped(company, &listing.shape, &related)))
}

impl CompanyListQuery {
    /// Checks the filters; a caller who reaches only its own company sees only that one.
    fn into_filter(
        self,
        reach: Reach,
        own_company_id: Option<&str>,
    ) -> Result<CompanyFilter, ApiError> {
        let mut c = Checker::default();
        let filter = CompanyFilter {
            q: c.optional("q", self.q.as_deref(), SHORT)
                .map(|q| q.to_lowercase()),
            tax_id: c.optional("tax_id", self.tax_id.as_deref(), 50),
            country: self
                .country
                .as_deref()
                .and_then(|raw| c.violations.check(country_code("country", raw))),
            owner_id: self.owner_id,
            tier: self.tier,
            tag: self.tag.as_deref().and_then(|t| {
                c.violations
                    .check(crm_domain::parties::tags::filter_value(t))
            }),
            include_archived: self.include_archived.unwrap_or(false),
            only_id: match reach {
                Reach::All => None,
                Reach::OwnCompany => Some(own_company_id.unwrap_or_default().to_owned()),
            },
        };
        c.finish()?;
        Ok(filter)
    }
}

#[utoipa::path(
    tag = "companies",
    operation_id = "searchCompanies",
    summary = "Search companies",
    description = "The list with its filter, sort, fields and expansions in a body, for filters too long for a URL; answers as `GET /v1/companies`.",
    request_body = ListSearch,
    responses((status = 200, description = "A page of companies", body = ListResponse<Company>))
)]
#[post("/companies/search")]
pub async fn search_companies(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ListSearch>,
) -> Result<HttpResponse, ApiError> {
    let (query, paging) = body.into_query()?;
    list_companies_by(&state, &principal, query, paging).await
}

#[utoipa::path(
    tag = "companies",
    operation_id = "createCompany",
    summary = "Create a company",
    request_body = CompanyCreate,
    responses((status = 201, description = "Created; `Location` names it", body = Company,
        headers(("Location" = String, description = "URL of the new company"), ("ETag" = String, description = "Its version"))))
)]
#[post("/companies")]
pub async fn create_company(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CompanyCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Companies, Access::Write)?;
    let mut fields = CompanyFields::named(String::new());
    let mut update = body.into_update();
    if matches!(update.owner_id, Some(None)) {
        update.owner_id = Some(principal.user_id().map(str::to_owned));
    }
    update.apply(&mut fields, &state)?;
    let company = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/companies/{}", company.id),
        company.version,
        &Company::from(company),
    ))
}

#[utoipa::path(
    tag = "companies",
    operation_id = "getCompany",
    summary = "Get a company",
    params(("id" = String, Path, description = "Company id"), CompanyReadQuery),
    responses((status = 200, description = "The company", body = Company,
        headers(("ETag" = String, description = "Its version"))),
        (status = 308, description = "The company was merged into another: `Location` is that one's URL, and `merged_into` its id", body = MergedInto,
            headers(("Location" = String, description = "URL of the company it was merged into")))
    )
)]
#[get("/companies/{id:[0-9a-fA-F-]+}")]
pub async fn get_company(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<CompanyReadQuery>,
) -> Result<HttpResponse, ApiError> {
    let reach = principal.authorize(Resource::Companies, Access::Read)?;
    let shape = shape_of(query.fields.as_deref(), query.expand.as_deref(), reach)?;
    let own = principal.company_id.clone();
    let expand = expand_of(&shape);
    let (company, related) = state
        .db
        .read_record(move |conn, fields| {
            store::get_expanded(conn, fields, &id, reach, own.as_deref(), expand)
        })
        .await?;
    if let Some(survivor) = &company.merged_into_id {
        return Ok(merged_redirect("companies", survivor));
    }
    let version = company.version;
    Ok(versioned(version, &shaped(company, &shape, &related)))
}

#[utoipa::path(
    tag = "companies",
    operation_id = "updateCompany",
    summary = "Update a company",
    params(("id" = String, Path, description = "Company id")),
    request_body(content = CompanyUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated company", body = Company,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/companies/{id:[0-9a-fA-F-]+}")]
pub async fn update_company(
    target: ActionTarget,
    ApiJson(body): ApiJson<CompanyUpdate>,
) -> Result<HttpResponse, ApiError> {
    let company = target
        .update(Resource::Companies, store::update, move |fields, app| {
            body.apply(fields, app)
        })
        .await?;
    Ok(versioned(company.version, &Company::from(company)))
}

#[utoipa::path(
    tag = "companies",
    operation_id = "deleteCompany",
    summary = "Archive a company",
    description = "Archives the company: it keeps its history, stays readable by id, and leaves lists unless `include_archived=true`.",
    params(("id" = String, Path, description = "Company id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 409, description = "The company was merged into another; `merged_into` names it", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/companies/{id:[0-9a-fA-F-]+}")]
pub async fn delete_company(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Companies, store::archive)
        .await
}

/// The routes under `/companies`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_companies)
        .service(search_companies)
        .service(create_company)
        .service(get_company)
        .service(update_company)
        .service(delete_company);
}
