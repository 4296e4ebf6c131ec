//! `/v1/opportunities` and `/v1/forecast`: sales in progress and what they will bring.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Months, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::sales::opportunities::{ForecastGrouping, StageOutcome};
use crm_domain::Violations;
use crm_store::sales::opportunities::{self as store, OpportunityFields, OpportunityFilter};
use crm_store::sales::related as expanded;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use crate::parties::views::{listing, Asked, ListSearch};
use crate::platform::shape::{ReadQuery, Shape};
use crate::sales::related::{embed_of, names, shaped, Kind, Relation};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// What `expand=` embeds.
const RELATIONS: &[Relation] = &[
    Relation {
        name: "company",
        kind: Kind::Company,
        via: "company_id",
    },
    Relation {
        name: "contact",
        kind: Kind::Contact,
        via: "contact_id",
    },
    Relation {
        name: "owner",
        kind: Kind::User,
        via: "owner_id",
    },
];

/// The keys of an opportunity, which `fields=` may name.
const KEYS: &[&str] = &[
    "id",
    "name",
    "company_id",
    "contact_id",
    "owner_id",
    "pipeline_id",
    "stage_id",
    "stage_name",
    "outcome",
    "amount",
    "probability_bp",
    "probability_override_bp",
    "expected_close_date",
    "lead_id",
    "campaign_id",
    "next_step",
    "loss_reason",
    "closed_at",
    "version",
    "created_at",
    "updated_at",
    "archived_at",
    "custom_fields",
];

/// The sort of older clients, `amount`, is the amount in minor units.
fn sort_paths(sort: Option<String>) -> Option<String> {
    sort.map(|sort| {
        sort.split(',')
            .map(|key| match key.trim() {
                "amount" => "amount.amount_minor",
                "-amount" => "-amount.amount_minor",
                other => other,
            })
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A sale in progress with a company.
#[derive(Debug, Serialize, ToSchema)]
pub struct Opportunity {
    /// Server-assigned id.
    pub id: String,
    /// What is being sold.
    pub name: String,
    /// The customer company.
    pub company_id: String,
    /// The main contact.
    pub contact_id: Option<String>,
    /// The salesperson.
    pub owner_id: Option<String>,
    /// Its pipeline.
    pub pipeline_id: String,
    /// Its current stage.
    pub stage_id: String,
    /// The stage's name.
    pub stage_name: String,
    /// open, won or lost, from the stage.
    pub outcome: StageOutcome,
    /// Value of the sale.
    pub amount: Money,
    /// What the forecast counts, in basis points: the override, else the stage's; 100% won, 0% lost.
    pub probability_bp: i64,
    /// The override, if set.
    pub probability_override_bp: Option<i64>,
    /// When it is expected to close.
    pub expected_close_date: NaiveDate,
    /// The lead it came from.
    pub lead_id: Option<String>,
    /// The campaign credited.
    pub campaign_id: Option<String>,
    /// What happens next.
    pub next_step: Option<String>,
    /// Why it was lost.
    pub loss_reason: Option<String>,
    /// When it was won or lost.
    pub closed_at: Option<DateTime<Utc>>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived; null while active.
    pub archived_at: Option<DateTime<Utc>>,
    /// Values of the fields admins added (`GET /v1/schema/opportunities`), by key.
    #[schema(value_type = Object)]
    pub custom_fields: Map<String, Value>,
}

impl From<store::Opportunity> for Opportunity {
    fn from(o: store::Opportunity) -> Self {
        Opportunity {
            id: o.id,
            name: o.fields.name,
            company_id: o.fields.company_id,
            contact_id: o.fields.contact_id,
            owner_id: o.fields.owner_id,
            pipeline_id: o.stage.pipeline_id.clone(),
            stage_id: o.stage.id.clone(),
            stage_name: o.stage.fields.name.clone(),
            outcome: o.stage.fields.outcome,
            amount: Money::new(o.fields.amount_minor, &o.fields.currency),
            probability_bp: o.probability_bp,
            probability_override_bp: o.fields.probability_bp,
            expected_close_date: o.fields.expected_close_date,
            lead_id: o.fields.lead_id,
            campaign_id: o.fields.campaign_id,
            next_step: o.fields.next_step,
            loss_reason: o.fields.loss_reason,
            closed_at: utc_opt(o.closed_at),
            version: o.version,
            created_at: utc(o.created_at),
            updated_at: utc(o.updated_at),
            archived_at: utc_opt(o.archived_at),
            custom_fields: o.custom_fields,
        }
    }
}

/// A new opportunity. Without a pipeline, the default; without a stage, its first open stage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Fleet renewal", "company_id": "0193a1b2-0000-7000-8000-000000000001", "amount": {"amount_minor": 2500000, "currency": "EUR"}, "expected_close_date": "2026-12-15"}))]
pub struct OpportunityCreate {
    /// What is being sold.
    pub name: String,
    /// The customer company.
    pub company_id: String,
    /// The main contact.
    pub contact_id: Option<String>,
    /// The salesperson; defaults to the caller.
    pub owner_id: Option<String>,
    /// Its pipeline.
    pub pipeline_id: Option<String>,
    /// Its stage.
    pub stage_id: Option<String>,
    /// Value of the sale.
    pub amount: Money,
    /// Overrides the stage's probability, in basis points.
    pub probability_bp: Option<i64>,
    /// When it is expected to close.
    pub expected_close_date: NaiveDate,
    /// The lead it came from.
    pub lead_id: Option<String>,
    /// The campaign credited.
    pub campaign_id: Option<String>,
    /// What happens next.
    pub next_step: Option<String>,
    /// Required when the stage is a lost one.
    pub loss_reason: Option<String>,
    /// Values of custom fields, by key; required ones must be given, defaults fill the rest.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

/// Changes to an opportunity, as a JSON Merge Patch. Changing `stage_id` records the move in the
/// history; a lost stage needs `loss_reason`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"stage_id": "00000000-0000-7000-8000-000000000013", "next_step": "Send the proposal"}))]
pub struct OpportunityUpdate {
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    pub name: Option<Option<String>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    /// The main contact.
    #[serde(default, deserialize_with = "patch")]
    pub contact_id: Option<Option<String>>,
    /// The salesperson.
    #[serde(default, deserialize_with = "patch")]
    pub owner_id: Option<Option<String>>,
    /// Another pipeline; the stage resets to its first open stage unless given. Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub pipeline_id: Option<Option<String>>,
    /// The new stage; cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub stage_id: Option<Option<String>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub amount: Option<Option<Money>>,
    /// Probability override; null returns to the stage's.
    #[serde(default, deserialize_with = "patch")]
    pub probability_bp: Option<Option<i64>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    pub expected_close_date: Option<Option<NaiveDate>>,
    /// The campaign credited.
    #[serde(default, deserialize_with = "patch")]
    pub campaign_id: Option<Option<String>>,
    /// What happens next.
    #[serde(default, deserialize_with = "patch")]
    pub next_step: Option<Option<String>>,
    /// Why it was lost.
    #[serde(default, deserialize_with = "patch")]
    pub loss_reason: Option<Option<String>>,
    /// Values of custom fields, by key, merged into the stored ones: `null` clears a field.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<Value>,
}

fn close_date(c: &mut Checker, date: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    if !(1000..=9999).contains(&date.year()) {
        c.violations.push(crm_domain::Violation::new(
            "expected_close_date",
            "must be between the years 1000 and 9999",
        ));
    }
    date
}

impl OpportunityUpdate {
    fn apply(self, f: &mut OpportunityFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        macro_rules! required {
            ($field:ident, $name:literal, $value:expr) => {
                match self.$field {
                    Some(Some(v)) => f.$field = $value(&mut c, v),
                    Some(None) => c.not_null($name),
                    None => {}
                }
            };
        }
        required!(name, "name", |c: &mut Checker, v: String| c
            .required("name", &v, SHORT));
        required!(company_id, "company_id", |_: &mut Checker, v: String| v);
        required!(expected_close_date, "expected_close_date", close_date);
        match self.pipeline_id {
            Some(Some(v)) => f.pipeline_id = Some(v),
            Some(None) => c.not_null("pipeline_id"),
            None => {}
        }
        match self.stage_id {
            Some(Some(v)) => f.stage_id = Some(v),
            Some(None) => c.not_null("stage_id"),
            None => {}
        }
        match self.amount {
            Some(Some(m)) => {
                if let Some(amount) = c.money("amount", &m, None) {
                    f.amount_minor = amount;
                    f.currency = m.currency;
                }
            }
            Some(None) => c.not_null("amount"),
            None => {}
        }
        if let Some(v) = self.contact_id {
            f.contact_id = v;
        }
        if let Some(v) = self.owner_id {
            f.owner_id = v;
        }
        if let Some(v) = self.probability_bp {
            f.probability_bp = v.and_then(|bp| {
                c.violations
                    .check(crm_domain::platform::money::check_discount_bp(
                        "probability_bp",
                        bp,
                    ))
            });
        }
        if let Some(v) = self.campaign_id {
            f.campaign_id = c.optional("campaign_id", v.as_deref(), SHORT);
        }
        if let Some(v) = self.next_step {
            f.next_step = c.optional("next_step", v.as_deref(), LONG);
        }
        if let Some(v) = self.loss_reason {
            f.loss_reason = c.optional("loss_reason", v.as_deref(), LONG);
        }
        f.custom_written = self.custom_fields;
        c.finish()
    }
}

/// Builds the store's fields of a new opportunity.
pub fn new_fields(
    body: OpportunityCreate,
    caller: Option<&str>,
) -> Result<OpportunityFields, ApiError> {
    let mut fields = OpportunityFields {
        name: String::new(),
        company_id: body.company_id.clone(),
        contact_id: None,
        owner_id: None,
        pipeline_id: body.pipeline_id.clone(),
        stage_id: body.stage_id.clone(),
        amount_minor: 0,
        currency: String::new(),
        probability_bp: None,
        expected_close_date: body.expected_close_date,
        lead_id: body.lead_id.clone(),
        campaign_id: None,
        next_step: None,
        loss_reason: None,
        custom_fields: Map::new(),
        custom_written: None,
    };
    OpportunityUpdate {
        name: Some(Some(body.name)),
        company_id: None,
        contact_id: Some(body.contact_id),
        owner_id: Some(body.owner_id.or_else(|| caller.map(str::to_owned))),
        pipeline_id: None,
        stage_id: None,
        amount: Some(Some(body.amount)),
        probability_bp: Some(body.probability_bp),
        expected_close_date: Some(Some(body.expected_close_date)),
        campaign_id: Some(body.campaign_id),
        next_step: Some(body.next_step),
        loss_reason: Some(body.loss_reason),
        custom_fields: body.custom_fields,
    }
    .apply(&mut fields)?;
    Ok(fields)
}

/// Filters and paging for the opportunity list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OpportunityListQuery {
    /// Only this pipeline.
    pub pipeline_id: Option<String>,
    /// Only this stage.
    pub stage_id: Option<String>,
    /// Only this owner.
    pub owner_id: Option<String>,
    /// Only this company.
    pub company_id: Option<String>,
    /// Expected to close on or after this day.
    pub close_from: Option<NaiveDate>,
    /// Expected to close on or before this day.
    pub close_to: Option<NaiveDate>,
    /// Only open, won or lost ones.
    pub outcome: Option<StageOutcome>,
    /// Include archived opportunities.
    pub include_archived: Option<bool>,
    /// Up to 3 sortable paths (`GET /v1/schema/opportunities`), such as `created_at`,
    /// `amount.amount_minor` or `expected_close_date`, custom ones too, comma-separated; prefix
    /// `-` for descending; nulls last. Default `-created_at`.
    pub sort: Option<String>,
    /// A condition in the filter language (see the API description), ANDed with the other
    /// parameters: `and(amount.amount_minor.gte.100000,custom.region.eq.north)`.
    pub filter: Option<String>,
    /// A saved view (`/v1/views`) of opportunities to apply.
    pub view: Option<String>,
    /// Only these keys (and `id`), comma-separated; `custom.<key>` for custom fields.
    pub fields: Option<String>,
    /// Related records to embed: `company`, `contact`, `owner`.
    pub expand: Option<String>,
}

#[utoipa::path(tag = "opportunities", operation_id = "listOpportunities", summary = "List opportunities",
    params(OpportunityListQuery, PageQuery),
    responses((status = 200, description = "A page of opportunities", body = ListResponse<Opportunity>)))]
#[get("/opportunities")]
pub async fn list_opportunities(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<OpportunityListQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Read)?;
    list(&state, &principal, query, paging).await
}

#[utoipa::path(tag = "opportunities", operation_id = "searchOpportunities", summary = "Search opportunities",
    description = "The list with its filter, sort, fields and expansions in a body, for filters too long for a URL; answers as `GET /v1/opportunities`.",
    request_body = ListSearch,
    responses((status = 200, description = "A page of opportunities", body = ListResponse<Opportunity>)))]
#[post("/opportunities/search")]
pub async fn search_opportunities(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ListSearch>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Read)?;
    let (query, paging) = body.into_query()?;
    list(&state, &principal, query, paging).await
}

async fn list(
    state: &AppState,
    principal: &Principal,
    query: OpportunityListQuery,
    paging: PageQuery,
) -> Result<HttpResponse, ApiError> {
    let listing = listing(
        state,
        principal,
        CustomObject::Opportunities,
        Asked {
            view: query.view,
            filter: query.filter,
            sort: sort_paths(query.sort),
            fields: query.fields,
            expand: query.expand,
            paging,
        },
        "-created_at",
        KEYS,
        &names(RELATIONS, false),
    )
    .await?;
    let embed = embed_of(principal, &listing.shape, RELATIONS)?;
    let filter = OpportunityFilter {
        pipeline_id: query.pipeline_id,
        stage_id: query.stage_id,
        owner_id: query.owner_id,
        company_id: query.company_id,
        close_from: query.close_from,
        close_to: query.close_to,
        outcome: query.outcome,
        include_archived: query.include_archived.unwrap_or(false),
    };
    let request = listing.query.clone();
    let (page, embedded) = state
        .db
        .read(move |conn| expanded::list_expanded(conn, &filter, &request, embed, store::list))
        .await?;
    Ok(listing.respond(page, |opportunity| {
        shaped(
            Opportunity::from(opportunity),
            &listing.shape,
            RELATIONS,
            &embedded,
        )
    }))
}

#[utoipa::path(tag = "opportunities", operation_id = "createOpportunity", summary = "Create an opportunity",
    request_body = OpportunityCreate,
    responses((status = 201, description = "Created", body = Opportunity, headers(("Location" = String, description = "URL of the new opportunity"), ("ETag" = String, description = "Its version")))))]
#[post("/opportunities")]
pub async fn create_opportunity(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<OpportunityCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Write)?;
    let fields = new_fields(body, principal.user_id())?;
    let user = principal.user_id().map(str::to_owned);
    let opportunity = state
        .db
        .write(move |conn| store::create(conn, fields, user.as_deref()))
        .await?;
    Ok(created(
        format!("/v1/opportunities/{}", opportunity.id),
        opportunity.version,
        &Opportunity::from(opportunity),
    ))
}

#[utoipa::path(tag = "opportunities", operation_id = "getOpportunity", summary = "Get an opportunity",
    params(("id" = String, Path, description = "Opportunity id"), ReadQuery),
    responses((status = 200, description = "The opportunity", body = Opportunity, headers(("ETag" = String, description = "Its version")))))]
#[get("/opportunities/{id:[0-9a-fA-F-]+}")]
pub async fn get_opportunity(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(query): ApiQuery<ReadQuery>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Read)?;
    let shape = Shape::parse(
        query.fields.as_deref(),
        query.expand.as_deref(),
        KEYS,
        &names(RELATIONS, false),
    )?;
    let embed = embed_of(&principal, &shape, RELATIONS)?;
    let (opportunity, embedded) = state
        .db
        .read_one(move |conn| expanded::get_expanded(conn, &id, embed, store::get))
        .await?;
    Ok(versioned(
        opportunity.version,
        &shaped(Opportunity::from(opportunity), &shape, RELATIONS, &embedded),
    ))
}

#[utoipa::path(tag = "opportunities", operation_id = "updateOpportunity", summary = "Update an opportunity, or move it to another stage",
    params(("id" = String, Path, description = "Opportunity id")),
    request_body(content = OpportunityUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated opportunity", body = Opportunity, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/opportunities/{id:[0-9a-fA-F-]+}")]
pub async fn update_opportunity(
    target: ActionTarget,
    ApiJson(body): ApiJson<OpportunityUpdate>,
) -> Result<HttpResponse, ApiError> {
    // The store records who moved the opportunity between stages.
    let user = target.principal.user_id().map(str::to_owned);
    let update = move |conn: &mut _, id: &str, expected_version, change| {
        store::update(conn, id, expected_version, user.as_deref(), change)
    };
    let opportunity = target
        .update(Resource::Opportunities, update, move |fields, _| {
            body.apply(fields)
        })
        .await?;
    Ok(versioned(
        opportunity.version,
        &Opportunity::from(opportunity),
    ))
}

#[utoipa::path(tag = "opportunities", operation_id = "deleteOpportunity", summary = "Archive an opportunity",
    description = "Archives it: readable by id, gone from lists and the forecast.",
    params(("id" = String, Path, description = "Opportunity id")),
    responses((status = 204, description = "Archived")))]
#[delete("/opportunities/{id:[0-9a-fA-F-]+}")]
pub async fn delete_opportunity(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Opportunities, store::archive)
        .await
}

/// One move between stages.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageChange {
    /// The stage it left; null for the first stage.
    pub from_stage_id: Option<String>,
    /// The stage it entered.
    pub to_stage_id: String,
    /// The user who moved it.
    pub changed_by: Option<String>,
    /// When.
    pub changed_at: DateTime<Utc>,
}

/// The stage history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct StageHistory {
    /// Every stage change, oldest first.
    pub data: Vec<StageChange>,
}

#[utoipa::path(tag = "opportunities", operation_id = "getOpportunityHistory", summary = "An opportunity's stage history",
    params(("id" = String, Path, description = "Opportunity id")),
    responses((status = 200, description = "Every stage change, oldest first", body = StageHistory)))]
#[get("/opportunities/{id}/history")]
pub async fn opportunity_history(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<StageHistory>, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Read)?;
    let changes = state.db.read(move |conn| store::history(conn, &id)).await?;
    Ok(web::Json(StageHistory {
        data: changes
            .into_iter()
            .map(|c| StageChange {
                from_stage_id: c.from_stage_id,
                to_stage_id: c.to_stage_id,
                changed_by: c.changed_by,
                changed_at: utc(c.changed_at),
            })
            .collect(),
    }))
}

/// The forecast's figures for one group, in the base currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastFigures {
    /// The month (`YYYY-MM`), owner id or pipeline id; `total` for the whole period.
    pub key: String,
    /// Open opportunities expected to close in the period.
    pub open: Money,
    /// Each open amount × its probability, rounded half away from zero, summed.
    pub weighted: Money,
    /// Everything not lost: open + won.
    pub best_case: Money,
    /// Won in the period.
    pub won: Money,
    /// How many open.
    pub open_count: i64,
    /// How many won.
    pub won_count: i64,
    /// How many lost.
    pub lost_count: i64,
}

/// An owner's record in the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerPerformance {
    /// The owner (`unassigned` for none).
    pub owner_id: String,
    /// Won ÷ (won + lost) of those closed in the period, in basis points.
    pub win_rate_bp: Option<i64>,
    /// Mean days from creation to won, to one decimal.
    pub average_sales_cycle_days: Option<f64>,
}

/// The sales forecast.
#[derive(Debug, Serialize, ToSchema)]
pub struct Forecast {
    /// The base currency of every amount.
    pub currency: String,
    /// First month, `YYYY-MM`.
    pub from: String,
    /// Last month, `YYYY-MM`.
    pub to: String,
    /// How `groups` is keyed.
    pub group_by: ForecastGrouping,
    /// One entry per group, by key.
    pub groups: Vec<ForecastFigures>,
    /// The whole period.
    pub total: ForecastFigures,
    /// Win rate and sales cycle per owner.
    pub owners: Vec<OwnerPerformance>,
}

/// The forecast's period and grouping.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// First month, `YYYY-MM`.
    #[param(example = "2026-01")]
    pub from: String,
    /// Last month, `YYYY-MM`, at most 36 months after `from`.
    #[param(example = "2026-12")]
    pub to: String,
    /// `month` (default), `owner` or `pipeline`.
    pub group_by: Option<ForecastGrouping>,
}

fn month_start(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d")
        .ok()
        .filter(|d| text.len() == 7 && (1000..=9999).contains(&chrono::Datelike::year(d)))
        .ok_or_else(|| ApiError::validation(field, "must be a month as YYYY-MM"))
}

fn figures(
    key: String,
    f: &crm_domain::sales::opportunities::ForecastFigures,
    currency: &str,
) -> ForecastFigures {
    ForecastFigures {
        key,
        open: Money::new(f.open_minor, currency),
        weighted: Money::new(f.weighted_minor, currency),
        best_case: Money::new(f.best_case_minor, currency),
        won: Money::new(f.won_minor, currency),
        open_count: f.open_count,
        won_count: f.won_count,
        lost_count: f.lost_count,
    }
}

#[utoipa::path(tag = "opportunities", operation_id = "getForecast", summary = "The sales forecast",
    description = "Open pipeline, weighted amount, best case and won amount over whole months, in the base currency. Open opportunities count in the month they are expected to close and convert at the latest rate on or before today; won and lost ones count in the month they closed and convert at the rate of that day. A missing exchange rate is a `422` naming the currency and the date.",
    params(ForecastQuery),
    responses((status = 200, description = "The forecast", body = Forecast)))]
#[get("/forecast")]
pub async fn get_forecast(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ForecastQuery>,
) -> Result<web::Json<Forecast>, ApiError> {
    principal.authorize(Resource::Opportunities, Access::Read)?;
    let period = query.period()?;
    let grouping = query.group_by.unwrap_or(ForecastGrouping::Month);
    let base = state.settings.base_currency;
    let today = Utc::now().date_naive();
    let forecast = state
        .db
        .read(move |conn| store::forecast(conn, period, grouping, base, today))
        .await?;
    Ok(web::Json(Forecast::new(
        forecast,
        query,
        grouping,
        &base.to_string(),
    )))
}

impl ForecastQuery {
    /// The first day of `from` and the last day of `to`.
    fn period(&self) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let from = month_start("from", &self.from)?;
        let to_month = month_start("to", &self.to)?;
        if to_month < from || to_month > from + Months::new(36) {
            return Err(ApiError::validation(
                "to",
                "must be from 0 to 36 months after from",
            ));
        }
        Ok((
            from,
            (to_month + Months::new(1)).pred_opt().unwrap_or(to_month),
        ))
    }
}

impl Forecast {
    fn new(
        forecast: store::Forecast,
        query: ForecastQuery,
        grouping: ForecastGrouping,
        currency: &str,
    ) -> Self {
        Forecast {
            groups: forecast
                .groups
                .iter()
                .map(|(k, f)| figures(k.clone(), f, currency))
                .collect(),
            total: figures("total".into(), &forecast.total, currency),
            owners: forecast
                .owners
                .into_iter()
                .map(|(owner_id, s)| OwnerPerformance {
                    owner_id,
                    win_rate_bp: s.win_rate_bp,
                    average_sales_cycle_days: s.average_sales_cycle_days,
                })
                .collect(),
            currency: currency.to_owned(),
            from: query.from,
            to: query.to,
            group_by: grouping,
        }
    }
}

/// The routes under `/opportunities`.
pub fn opportunities_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_opportunities)
        .service(search_opportunities)
        .service(create_opportunity)
        .service(get_opportunity)
        .service(update_opportunity)
        .service(delete_opportunity)
        .service(opportunity_history);
}

/// The routes under `/forecast`.
pub fn forecast_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(get_forecast);
}
