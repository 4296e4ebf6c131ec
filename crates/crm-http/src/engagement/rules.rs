//! `/v1/greeting-rules` and `/v1/follow-up-rules`: what the maintenance loop turns into tasks.
//! An edit applies from the next run.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::engagement::automation::{FollowUpTrigger, Occasion};
use crm_domain::marketing::campaigns::ConsentChannel;
use crm_store::engagement::rules::{self as store, FollowUpRuleFields, GreetingRuleFields};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::state::AppState;

/// Greets contacts on an occasion: one task per contact, rule and year, for the contact's owner.
#[derive(Debug, Serialize, ToSchema)]
pub struct GreetingRule {
    pub id: String,
    pub name: String,
    /// `birthday` (each contact's), or a day of the year as `--MM-DD`.
    pub occasion: String,
    /// BCP 47 tags; `es` takes `es-ES`. Empty takes every contact.
    pub locales: Vec<String>,
    /// Contacts unreachable on this channel are not greeted.
    pub channel: Option<ConsentChannel>,
    /// The task is made this many days before the occasion, due at 09:00 on its day.
    pub days_before: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::GreetingRule> for GreetingRule {
    fn from(r: store::GreetingRule) -> Self {
        GreetingRule {
            id: r.id,
            name: r.fields.name,
            occasion: r.fields.occasion.to_text(),
            locales: r.fields.locales,
            channel: r.fields.channel,
            days_before: r.fields.days_before,
            version: r.version,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GreetingRuleInput {
    pub name: String,
    /// `birthday`, or a day of the year as `--MM-DD`.
    #[schema(example = "--12-24")]
    pub occasion: String,
    #[serde(default)]
    pub locales: Vec<String>,
    pub channel: Option<ConsentChannel>,
    /// 0 to 60; default 0.
    pub days_before: Option<i32>,
}

#[utoipa::path(tag = "automation-rules", operation_id = "createGreetingRule", summary = "Create a greeting rule",
    request_body = GreetingRuleInput,
    responses((status = 201, description = "Created", body = GreetingRule, headers(("Location" = String, description = "URL of the rule"), ("ETag" = String, description = "Its version")))))]
#[post("/greeting-rules")]
pub async fn create_greeting_rule(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<GreetingRuleInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::AutomationRules, Access::Write)?;
    let mut c = Checker::default();
    let name = c.required("name", &body.name, SHORT);
    let occasion = c
        .violations
        .check(Occasion::parse("occasion", &body.occasion));
    c.finish()?;
    let fields = GreetingRuleFields {
        name,
        occasion: occasion.unwrap_or(Occasion::Birthday),
        locales: body.locales.iter().map(|l| l.trim().to_owned()).collect(),
        channel: body.channel,
        days_before: body.days_before.unwrap_or(0),
    };
    let rule = state
        .db
        .write(move |conn| store::create_greeting(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/greeting-rules/{}", rule.id),
        rule.version,
        &GreetingRule::from(rule),
    ))
}

#[utoipa::path(tag = "automation-rules", operation_id = "listGreetingRules", summary = "List greeting rules",
    description = "Oldest first.",
    params(PageQuery),
    responses((status = 200, description = "A page of rules", body = ListResponse<GreetingRule>)))]
#[get("/greeting-rules")]
pub async fn list_greeting_rules(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<GreetingRule>>, ApiError> {
    principal.authorize(Resource::AutomationRules, Access::Read)?;
    read_oldest_first(
        &state,
        store::list_greetings,
        (),
        paging,
        GreetingRule::from,
    )
    .await
}

#[utoipa::path(tag = "automation-rules", operation_id = "getGreetingRule", summary = "Get a greeting rule",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = GreetingRule, headers(("ETag" = String, description = "Its version")))))]
#[get("/greeting-rules/{id}")]
pub async fn get_greeting_rule(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::AutomationRules,
            store::get_greeting,
            |r| r.version,
            GreetingRule::from,
        )
        .await
}

/// Changes, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GreetingRuleUpdate {
    pub name: Option<String>,
    pub occasion: Option<String>,
    pub locales: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub channel: Option<Option<ConsentChannel>>,
    pub days_before: Option<i32>,
}

impl GreetingRuleUpdate {
    fn apply(self, f: &mut GreetingRuleFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(occasion) = self.occasion {
            if let Some(occasion) = c.violations.check(Occasion::parse("occasion", &occasion)) {
                f.occasion = occasion;
            }
        }
        if let Some(locales) = self.locales {
            f.locales = locales.iter().map(|l| l.trim().to_owned()).collect();
        }
        if let Some(channel) = self.channel {
            f.channel = channel;
        }
        if let Some(days) = self.days_before {
            f.days_before = days;
        }
        c.finish()
    }
}

#[utoipa::path(tag = "automation-rules", operation_id = "updateGreetingRule", summary = "Update a greeting rule",
    description = "Applies from the next run of the rules; tasks it made stay, and it makes no second task for an occasion it already served.",
    params(("id" = String, Path, description = "Rule id")),
    request_body(content = GreetingRuleUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated rule", body = GreetingRule, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/greeting-rules/{id}")]
pub async fn update_greeting_rule(
    target: ActionTarget,
    ApiJson(body): ApiJson<GreetingRuleUpdate>,
) -> Result<HttpResponse, ApiError> {
    let rule = target
        .write(Resource::AutomationRules, move |conn, id, version| {
            store::update_greeting(conn, id, version, |fields| Ok(body.apply(fields)?))
        })
        .await?;
    Ok(versioned(rule.version, &GreetingRule::from(rule)))
}

#[utoipa::path(tag = "automation-rules", operation_id = "deleteGreetingRule", summary = "Delete a greeting rule",
    description = "Tasks it made stay.",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/greeting-rules/{id}")]
pub async fn delete_greeting_rule(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::AutomationRules, |conn, id, version| {
            store::delete_greeting(conn, id, version)
        })
        .await
}

/// Follows something up `after_days` after it happened: one task per subject and rule, for
/// its owner. Only what happens after the rule exists is followed up.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpRule {
    pub id: String,
    pub name: String,
    /// `quote_sent` (while the quote is still unanswered), `return_resolved` or
    /// `case_resolved`.
    pub trigger: FollowUpTrigger,
    pub after_days: i32,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::FollowUpRule> for FollowUpRule {
    fn from(r: store::FollowUpRule) -> Self {
        FollowUpRule {
            id: r.id,
            name: r.fields.name,
            trigger: r.fields.trigger,
            after_days: r.fields.after_days,
            version: r.version,
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRuleInput {
    pub name: String,
    pub trigger: FollowUpTrigger,
    /// 1 to 365.
    pub after_days: i32,
}

#[utoipa::path(tag = "automation-rules", operation_id = "createFollowUpRule", summary = "Create a follow-up rule",
    request_body = FollowUpRuleInput,
    responses((status = 201, description = "Created", body = FollowUpRule, headers(("Location" = String, description = "URL of the rule"), ("ETag" = String, description = "Its version")))))]
#[post("/follow-up-rules")]
pub async fn create_follow_up_rule(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<FollowUpRuleInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::AutomationRules, Access::Write)?;
    let mut c = Checker::default();
    let name = c.required("name", &body.name, SHORT);
    c.finish()?;
    let fields = FollowUpRuleFields {
        name,
        trigger: body.trigger,
        after_days: body.after_days,
    };
    let clock = state.settings.clock;
    let rule = state
        .db
        .write(move |conn| {
            let now = clock.now(conn)?;
            store::create_follow_up(conn, fields, now)
        })
        .await?;
    Ok(created(
        format!("/v1/follow-up-rules/{}", rule.id),
        rule.version,
        &FollowUpRule::from(rule),
    ))
}

#[utoipa::path(tag = "automation-rules", operation_id = "listFollowUpRules", summary = "List follow-up rules",
    description = "Oldest first.",
    params(PageQuery),
    responses((status = 200, description = "A page of rules", body = ListResponse<FollowUpRule>)))]
#[get("/follow-up-rules")]
pub async fn list_follow_up_rules(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<FollowUpRule>>, ApiError> {
    principal.authorize(Resource::AutomationRules, Access::Read)?;
    read_oldest_first(
        &state,
        store::list_follow_ups,
        (),
        paging,
        FollowUpRule::from,
    )
    .await
}

#[utoipa::path(tag = "automation-rules", operation_id = "getFollowUpRule", summary = "Get a follow-up rule",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 200, description = "The rule", body = FollowUpRule, headers(("ETag" = String, description = "Its version")))))]
#[get("/follow-up-rules/{id}")]
pub async fn get_follow_up_rule(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::AutomationRules,
            store::get_follow_up,
            |r| r.version,
            FollowUpRule::from,
        )
        .await
}

/// Changes, as a JSON Merge Patch.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRuleUpdate {
    pub name: Option<String>,
    pub trigger: Option<FollowUpTrigger>,
    pub after_days: Option<i32>,
}

impl FollowUpRuleUpdate {
    fn apply(self, f: &mut FollowUpRuleFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        if let Some(name) = self.name {
            f.name = c.required("name", &name, SHORT);
        }
        if let Some(trigger) = self.trigger {
            f.trigger = trigger;
        }
        if let Some(days) = self.after_days {
            f.after_days = days;
        }
        c.finish()
    }
}

#[utoipa::path(tag = "automation-rules", operation_id = "updateFollowUpRule", summary = "Update a follow-up rule",
    description = "Applies from the next run of the rules; what it follows up still starts when the rule was created.",
    params(("id" = String, Path, description = "Rule id")),
    request_body(content = FollowUpRuleUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated rule", body = FollowUpRule, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/follow-up-rules/{id}")]
pub async fn update_follow_up_rule(
    target: ActionTarget,
    ApiJson(body): ApiJson<FollowUpRuleUpdate>,
) -> Result<HttpResponse, ApiError> {
    let rule = target
        .write(Resource::AutomationRules, move |conn, id, version| {
            store::update_follow_up(conn, id, version, |fields| Ok(body.apply(fields)?))
        })
        .await?;
    Ok(versioned(rule.version, &FollowUpRule::from(rule)))
}

#[utoipa::path(tag = "automation-rules", operation_id = "deleteFollowUpRule", summary = "Delete a follow-up rule",
    description = "Tasks it made stay.",
    params(("id" = String, Path, description = "Rule id")),
    responses((status = 204, description = "Deleted")))]
#[delete("/follow-up-rules/{id}")]
pub async fn delete_follow_up_rule(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::AutomationRules, |conn, id, version| {
            store::delete_follow_up(conn, id, version)
        })
        .await
}

/// The routes under `/greeting-rules`.
pub fn greeting_rules_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_greeting_rules)
        .service(create_greeting_rule)
        .service(get_greeting_rule)
        .service(update_greeting_rule)
        .service(delete_greeting_rule);
}

/// The routes under `/follow-up-rules`.
pub fn follow_up_rules_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_follow_up_rules)
        .service(create_follow_up_rule)
        .service(get_follow_up_rule)
        .service(update_follow_up_rule)
        .service(delete_follow_up_rule);
}
