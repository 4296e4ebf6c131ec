//! `/v1/campaigns`: campaigns, what they cost, and whom they reach.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{
    sees_campaign_costs, sees_own_campaigns_only, Access, Resource,
};
use crm_domain::access::roles::Role;
use crm_domain::marketing::campaigns::{
    allowed_actions, CampaignAction, CampaignChannel, CampaignStatus, ConsentChannel, MemberStatus,
    Schedule,
};
use crm_domain::Violation;
use crm_store::marketing::campaigns::{
    self as store, CampaignFields, CampaignFilter, CostFields, Visible,
};
use crm_store::marketing::members::{self, Added, Target};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::ids::is_uuid;
use crate::platform::money::Money;
use crate::platform::pagination::{
    fixed_order, read_oldest_first, read_page, ListResponse, PageQuery,
};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// The default attribution window, in days after the campaign's end.
const DEFAULT_WINDOW_DAYS: i32 = 30;

/// Targets one request may add.
const MAX_TARGETS: usize = 1_000;

/// A marketing campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Campaign {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    pub name: String,
    /// Unique, case ignored; an order's `utm.campaign` equal to it attributes the order.
    pub code: String,
    pub channel: CampaignChannel,
    /// The consent a member needs; null reaches everyone.
    pub consent_channel: Option<ConsentChannel>,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Orders count from `starts_on` to `ends_on` plus this many days.
    pub attribution_window_days: i32,
    /// Planned spend; null for support staff, who do not see campaign money.
    pub budget: Option<Money>,
    pub owner_id: Option<String>,
    /// The segment whose members, as of activation, activation adds.
    pub target_segment_id: Option<String>,
    pub status: CampaignStatus,
    /// The actions its status allows.
    pub allowed_actions: Vec<CampaignAction>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Campaign {
    const NOUN: &'static str = "campaign";
}

impl Campaign {
    /// The campaign as `role` sees it: support staff see no budget.
    pub fn for_role(c: store::Campaign, role: Role) -> Self {
        Campaign {
            id: c.id,
            name: c.fields.name,
            code: c.fields.code,
            channel: c.fields.channel,
            consent_channel: c.fields.consent_channel,
            starts_on: c.fields.schedule.starts_on,
            ends_on: c.fields.schedule.ends_on,
            attribution_window_days: c.fields.schedule.attribution_window_days,
            budget: c
                .fields
                .budget
                .filter(|_| sees_campaign_costs(role))
                .map(|(minor, currency)| Money::new(minor, &currency)),
            owner_id: c.fields.owner_id,
            target_segment_id: c.fields.target_segment_id,
            allowed_actions: allowed_actions(c.status).to_vec(),
            status: c.status,
            version: c.version,
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
        }
    }
}

/// A new campaign. It starts `planned`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    pub code: String,
    pub channel: CampaignChannel,
    /// Defaults from `channel`: `email` and `phone` need that consent, the others none.
    pub consent_channel: Option<ConsentChannel>,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// Days after `ends_on` that orders still count (default 30).
    pub attribution_window_days: Option<i32>,
    pub budget: Option<Money>,
    /// Active staff; defaults to the caller.
    pub owner_id: Option<String>,
    pub target_segment_id: Option<String>,
}

/// Changes, as a JSON Merge Patch.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignUpdate {
    pub name: Option<String>,
    pub code: Option<String>,
    pub channel: Option<CampaignChannel>,
    #[serde(default, deserialize_with = "patch")]
    pub consent_channel: Option<Option<ConsentChannel>>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub attribution_window_days: Option<i32>,
    #[serde(default, deserialize_with = "patch")]
    pub budget: Option<Option<Money>>,
    #[serde(default, deserialize_with = "patch")]
    pub owner_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub target_segment_id: Option<Option<String>>,
}

impl CampaignUpdate {
    fn apply(self, f: &mut CampaignFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(code) = self.code {
            f.code = c.required("code", code.trim(), SHORT);
        }
        if let Some(channel) = self.channel {
            f.channel = channel;
        }
        if let Some(consent) = self.consent_channel {
            f.consent_channel = consent;
        }
        if let Some(day) = self.starts_on {
            f.schedule.starts_on = day;
        }
        if let Some(day) = self.ends_on {
            f.schedule.ends_on = day;
        }
        if let Some(days) = self.attribution_window_days {
            f.schedule.attribution_window_days = days;
        }
        if let Some(budget) = self.budget {
            f.budget = budget.and_then(|money| {
                c.money("budget", &money, None)
                    .map(|minor| (minor, money.currency.clone()))
            });
        }
        if let Some(owner) = self.owner_id {
            if owner.as_deref().is_some_and(|id| !is_uuid(id)) {
                c.violations
                    .push(Violation::new("owner_id", "is not an id (a UUID)"));
            }
            f.owner_id = owner;
        }
        if let Some(segment) = self.target_segment_id {
            if segment.as_deref().is_some_and(|id| !is_uuid(id)) {
                c.violations
                    .push(Violation::new("target_segment_id", "is not an id (a UUID)"));
            }
            f.target_segment_id = segment;
        }
        if let Err(schedule) = f.schedule.validate() {
            c.violations.0.extend(schedule.0);
        }
        c.finish()
    }
}

/// Which campaigns `principal` sees.
pub fn visible_to(principal: &Principal) -> Visible {
    visible_by_role(principal, sees_own_campaigns_only)
}

/// What `principal` sees of records with owners: all, or only their own where `own_only`
/// says so of their role.
pub fn visible_by_role(principal: &Principal, own_only: fn(Role) -> bool) -> Visible {
    Visible {
        owned_by: own_only(principal.role)
            .then(|| principal.user_id().unwrap_or_default().to_owned()),
    }
}

#[utoipa::path(tag = "campaigns", operation_id = "createCampaign", summary = "Create a campaign",
    request_body = CampaignInput,
    responses((status = 201, description = "Created, planned", body = Campaign, headers(("Location" = String, description = "URL of the campaign"), ("ETag" = String, description = "Its version")))))]
#[post("/campaigns")]
pub async fn create_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<CampaignInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Campaigns, Access::Write)?;
    let mut fields = CampaignFields {
        name: String::new(),
        code: String::new(),
        channel: body.channel,
        consent_channel: body.consent_channel,
        schedule: Schedule {
            starts_on: body.starts_on,
            ends_on: body.ends_on,
            attribution_window_days: DEFAULT_WINDOW_DAYS,
        },
        budget: None,
        owner_id: None,
        target_segment_id: None,
    };
    let consent_channel = body
        .consent_channel
        .or_else(|| body.channel.default_consent_channel());
    // A salesperson's campaign is theirs, so that they keep seeing it.
    let owner_id = visible_to(&principal).owner_for(body.owner_id, principal.user_id());
    CampaignUpdate {
        name: Some(body.name),
        code: Some(body.code),
        consent_channel: Some(consent_channel),
        attribution_window_days: body.attribution_window_days,
        budget: Some(body.budget),
        owner_id: Some(owner_id),
        target_segment_id: Some(body.target_segment_id),
        ..CampaignUpdate::default()
    }
    .apply(&mut fields)?;
    let campaign = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/campaigns/{}", campaign.id),
        campaign.version,
        &Campaign::for_role(campaign, principal.role),
    ))
}

/// Filters and paging for the campaign list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignListQuery {
    pub status: Option<CampaignStatus>,
    pub channel: Option<CampaignChannel>,
    pub owner_id: Option<String>,
}

#[utoipa::path(tag = "campaigns", operation_id = "listCampaigns", summary = "List campaigns",
    description = "Oldest first. Salespeople see the campaigns they own.",
    params(CampaignListQuery, PageQuery),
    responses((status = 200, description = "A page of campaigns", body = ListResponse<Campaign>)))]
#[get("/campaigns")]
pub async fn list_campaigns(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<CampaignListQuery>,
) -> Result<web::Json<ListResponse<Campaign>>, ApiError> {
    principal.authorize(Resource::Campaigns, Access::Read)?;
    let page = fixed_order("created_at", &paging)?;
    let filter = CampaignFilter {
        visible: visible_to(&principal),
        status: query.status,
        channel: query.channel,
        owner_id: query.owner_id,
    };
    let role = principal.role;
    read_page(&state, store::list, filter, page, "created_at", move |c| {
        Campaign::for_role(c, role)
    })
    .await
}

#[utoipa::path(tag = "campaigns", operation_id = "getCampaign", summary = "Get a campaign",
    params(("id" = String, Path, description = "Campaign id")),
    responses((status = 200, description = "The campaign", body = Campaign, headers(("ETag" = String, description = "Its version")))))]
#[get("/campaigns/{id}")]
pub async fn get_campaign(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Campaigns, Access::Read)?;
    let visible = visible_to(&principal);
    let campaign = state
        .db
        .read(move |conn| store::get(conn, &id, &visible))
        .await?;
    Ok(versioned(
        campaign.version,
        &Campaign::for_role(campaign, principal.role),
    ))
}

#[utoipa::path(tag = "campaigns", operation_id = "updateCampaign", summary = "Update a campaign",
    params(("id" = String, Path, description = "Campaign id")),
    request_body(content = CampaignUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated campaign", body = Campaign, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/campaigns/{id}")]
pub async fn update_campaign(
    target: ActionTarget,
    ApiJson(body): ApiJson<CampaignUpdate>,
) -> Result<HttpResponse, ApiError> {
    let (visible, role) = (visible_to(&target.principal), target.principal.role);
    let campaign = target
        .write(Resource::Campaigns, move |conn, id, version| {
            store::update(
                conn,
                id,
                version,
                &visible,
                |fields| Ok(body.apply(fields)?),
            )
        })
        .await?;
    Ok(versioned(
        campaign.version,
        &Campaign::for_role(campaign, role),
    ))
}

async fn act(target: ActionTarget, action: CampaignAction) -> Result<HttpResponse, ApiError> {
    let (visible, role) = (visible_to(&target.principal), target.principal.role);
    let audience = crate::marketing::audience(&target.state.settings);
    let campaign = target
        .write(Resource::Campaigns, move |conn, id, version| match action {
            CampaignAction::Activate => members::activate(conn, audience, id, version, &visible),
            _ => store::act(conn, id, version, &visible, action),
        })
        .await?;
    Ok(versioned(
        campaign.version,
        &Campaign::for_role(campaign, role),
    ))
}

#[utoipa::path(tag = "campaigns", operation_id = "activateCampaign", summary = "Activate a campaign",
    description = "planned → active. The members of `target_segment_id`, as of now, are added (refused per member as by `POST .../members`).",
    params(("id" = String, Path, description = "Campaign id")),
    responses(ActionResponses<Campaign>))]
#[post("/campaigns/{id}/activate")]
pub async fn activate_campaign(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CampaignAction::Activate).await
}

#[utoipa::path(tag = "campaigns", operation_id = "completeCampaign", summary = "Complete a campaign",
    description = "active → completed. Orders keep counting until the attribution window ends.",
    params(("id" = String, Path, description = "Campaign id")),
    responses(ActionResponses<Campaign>))]
#[post("/campaigns/{id}/complete")]
pub async fn complete_campaign(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CampaignAction::Complete).await
}

#[utoipa::path(tag = "campaigns", operation_id = "cancelCampaign", summary = "Cancel a campaign",
    description = "planned or active → cancelled.",
    params(("id" = String, Path, description = "Campaign id")),
    responses(ActionResponses<Campaign>))]
#[post("/campaigns/{id}/cancel")]
pub async fn cancel_campaign(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, CampaignAction::Cancel).await
}

/// An amount spent on a campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cost {
    pub id: String,
    pub campaign_id: String,
    /// In any currency; converted to the base currency at the rate of `incurred_on`'s month.
    pub amount: Money,
    pub incurred_on: NaiveDate,
    pub description: String,
    /// The user who recorded it; null for an API key.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<store::Cost> for Cost {
    fn from(c: store::Cost) -> Self {
        Cost {
            amount: Money::new(c.amount_minor, &c.currency),
            id: c.id,
            campaign_id: c.campaign_id,
            incurred_on: c.incurred_on,
            description: c.description,
            created_by: c.created_by,
            created_at: utc(c.created_at),
        }
    }
}

/// A cost to append. Costs never change; a negative amount corrects an earlier one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostInput {
    pub amount: Money,
    pub incurred_on: NaiveDate,
    pub description: String,
}

impl CostInput {
    fn check(self) -> Result<CostFields, crm_domain::Violations> {
        let mut c = Checker::default();
        let currency = c.currency("amount.currency", &self.amount.currency);
        if self.amount.amount_minor == 0 {
            c.violations
                .push(Violation::new("amount.amount_minor", "must not be zero"));
        }
        let description = c.required("description", &self.description, SHORT);
        c.finish()?;
        Ok(CostFields {
            amount_minor: self.amount.amount_minor,
            currency: currency.unwrap_or_default(),
            incurred_on: self.incurred_on,
            description,
        })
    }
}

#[utoipa::path(tag = "campaign-costs", operation_id = "addCampaignCost", summary = "Record a campaign cost",
    description = "Append-only. Not for support staff (`403`).",
    params(("id" = String, Path, description = "Campaign id")),
    request_body = CostInput,
    responses((status = 201, description = "Recorded", body = Cost)))]
#[post("/campaigns/{id}/costs")]
pub async fn add_cost(
    target: ActionTarget,
    ApiJson(body): ApiJson<CostInput>,
) -> Result<HttpResponse, ApiError> {
    target
        .principal
        .authorize(Resource::CampaignCosts, Access::Write)?;
    let cost = body.check()?;
    let (visible, by) = (
        visible_to(&target.principal),
        target.principal.user_id().map(str::to_owned),
    );
    let cost = target
        .write(Resource::CampaignCosts, move |conn, id, version| {
            store::add_cost(conn, id, version, &visible, cost, by)
        })
        .await?;
    Ok(HttpResponse::Created().json(Cost::from(cost)))
}

#[utoipa::path(tag = "campaign-costs", operation_id = "listCampaignCosts", summary = "List a campaign's costs",
    description = "Oldest first. Not for support staff (`403`).",
    params(("id" = String, Path, description = "Campaign id"), PageQuery),
    responses((status = 200, description = "A page of costs", body = ListResponse<Cost>)))]
#[get("/campaigns/{id}/costs")]
pub async fn list_costs(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Cost>>, ApiError> {
    principal.authorize(Resource::CampaignCosts, Access::Read)?;
    let campaign = (id.into_inner(), visible_to(&principal));
    read_oldest_first(&state, store::list_costs, campaign, paging, Cost::from).await
}

/// One person or company a campaign reaches.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub id: String,
    pub campaign_id: String,
    /// The person, for a contact's membership.
    pub contact_id: Option<String>,
    /// The company: the member's own, or the contact's.
    pub company_id: Option<String>,
    pub status: MemberStatus,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<members::Member> for Member {
    fn from(m: members::Member) -> Self {
        Member {
            id: m.id,
            campaign_id: m.campaign_id,
            contact_id: m.contact_id,
            company_id: m.company_id,
            status: m.status,
            version: m.version,
            created_at: utc(m.created_at),
            updated_at: utc(m.updated_at),
        }
    }
}

/// Whom to add: contacts, companies, the live members of a segment, or any of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersInput {
    #[serde(default)]
    pub contact_ids: Vec<String>,
    #[serde(default)]
    pub company_ids: Vec<String>,
    /// A segment whose members, as of now, are added after the ids.
    pub segment_id: Option<String>,
}

impl MembersInput {
    fn targets(self) -> Result<Vec<Target>, crm_domain::Violations> {
        let mut c = Checker::default();
        if self.contact_ids.len() + self.company_ids.len() > MAX_TARGETS {
            c.violations.push(Violation::new(
                "contact_ids",
                format!("at most {MAX_TARGETS} contacts and companies a request"),
            ));
        }
        if self.segment_id.as_deref().is_some_and(|id| !is_uuid(id)) {
            c.violations
                .push(Violation::new("segment_id", "is not an id (a UUID)"));
        }
        let lists = [
            ("contact_ids", &self.contact_ids),
            ("company_ids", &self.company_ids),
        ];
        for (field, ids) in lists {
            for (i, id) in ids.iter().enumerate() {
                if !is_uuid(id) {
                    c.violations.push(Violation::new(
                        format!("{field}[{i}]"),
                        "is not an id (a UUID)",
                    ));
                }
            }
        }
        c.finish()?;
        Ok(self
            .contact_ids
            .into_iter()
            .map(Target::Contact)
            .chain(self.company_ids.into_iter().map(Target::Company))
            .collect())
    }
}

/// What became of one target.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberOutcome {
    Added,
    Existing,
    Refused,
}

/// Why a target was refused.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// Not reachable on the campaign's consent channel.
    NoConsent,
    /// No such contact or company, or archived.
    NotFound,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResult {
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub outcome: MemberOutcome,
    pub reason: Option<RefusalReason>,
    /// The membership, added or existing.
    pub member: Option<Member>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembersAdded {
    /// One result per target: contacts, then companies, in the order sent, then the segment's
    /// members.
    pub results: Vec<MemberResult>,
}

fn result_of(target: Target, added: Added) -> MemberResult {
    let (contact_id, company_id) = match target {
        Target::Contact(id) => (Some(id), None),
        Target::Company(id) => (None, Some(id)),
    };
    let (outcome, reason, member) = match added {
        Added::Added(m) => (MemberOutcome::Added, None, Some(m.into())),
        Added::Existing(m) => (MemberOutcome::Existing, None, Some(m.into())),
        Added::NoConsent => (MemberOutcome::Refused, Some(RefusalReason::NoConsent), None),
        Added::NotFound => (MemberOutcome::Refused, Some(RefusalReason::NotFound), None),
    };
    MemberResult {
        contact_id,
        company_id,
        outcome,
        reason,
        member,
    }
}

#[utoipa::path(tag = "campaigns", operation_id = "addCampaignMembers", summary = "Add members to a campaign",
    description = "Per target (the ids, then the segment's members as of now): `added`, `existing`, or `refused` (`no_consent` when no one is reachable on the campaign's `consent_channel`; `not_found`). A company is reachable through any of its live contacts. Adding twice makes one membership.",
    params(("id" = String, Path, description = "Campaign id")),
    request_body = MembersInput,
    responses((status = 200, description = "What became of each target", body = MembersAdded)))]
#[post("/campaigns/{id}/members")]
pub async fn add_members(
    target: ActionTarget,
    ApiJson(body): ApiJson<MembersInput>,
) -> Result<web::Json<MembersAdded>, ApiError> {
    target
        .principal
        .authorize(Resource::Campaigns, Access::Write)?;
    let segment_id = body.segment_id.clone();
    let targets = body.targets()?;
    let visible = visible_to(&target.principal);
    let audience = crate::marketing::audience(&target.state.settings);
    let results = target
        .write(Resource::Campaigns, move |conn, id, version| {
            members::add(
                conn,
                audience,
                id,
                version,
                &visible,
                targets,
                segment_id.as_deref(),
            )
        })
        .await?;
    Ok(web::Json(MembersAdded {
        results: results
            .into_iter()
            .map(|(target, added)| result_of(target, added))
            .collect(),
    }))
}

#[utoipa::path(tag = "campaigns", operation_id = "listCampaignMembers", summary = "List a campaign's members",
    description = "Oldest first.",
    params(("id" = String, Path, description = "Campaign id"), PageQuery),
    responses((status = 200, description = "A page of members", body = ListResponse<Member>)))]
#[get("/campaigns/{id}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<Member>>, ApiError> {
    principal.authorize(Resource::Campaigns, Access::Read)?;
    let campaign = (id.into_inner(), visible_to(&principal));
    read_oldest_first(&state, members::list, campaign, paging, Member::from).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberStatusInput {
    /// Forward only: targeted → contacted → responded → converted.
    pub status: MemberStatus,
}

#[utoipa::path(tag = "campaigns", operation_id = "setCampaignMemberStatus", summary = "Move a member forward",
    description = "targeted → contacted → responded → converted, skipping allowed. Backwards, or after `opted_out`, is a `409` with `allowed_actions`.",
    params(("id" = String, Path, description = "Campaign id"), ("member_id" = String, Path, description = "Member id")),
    request_body = MemberStatusInput,
    responses((status = 200, description = "The member", body = Member, headers(("ETag" = String, description = "Its version")))))]
#[post("/campaigns/{id}/members/{member_id}/status")]
pub async fn set_member_status(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<MemberStatusInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Campaigns, Access::Write)?;
    let (campaign_id, member_id) = path.into_inner();
    let visible = visible_to(&principal);
    let member = state
        .db
        .write(move |conn| {
            members::set_status(
                conn,
                &campaign_id,
                &member_id,
                if_match.0,
                &visible,
                body.status,
            )
        })
        .await?;
    Ok(versioned(member.version, &Member::from(member)))
}

/// The routes under `/campaigns`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_campaigns)
        .service(create_campaign)
        .service(get_campaign)
        .service(update_campaign)
        .service(activate_campaign)
        .service(complete_campaign)
        .service(cancel_campaign)
        .service(list_costs)
        .service(add_cost)
        .service(list_members)
        .service(add_members)
        .service(set_member_status);
}
