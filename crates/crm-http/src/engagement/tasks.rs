//! `/v1/tasks`: work for a person, made by hand or by the maintenance loop's rules.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{sees_own_tasks_only, Access, Resource};
use crm_domain::engagement::tasks::{TaskAction, TaskSource, TaskStatus};
use crm_store::engagement::tasks::{self as store, TaskFields, TaskFilter};
use crm_store::marketing::campaigns::Visible;

use crate::marketing::campaigns::visible_by_role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::{ActionResponses, ActionTarget, StateRecord};
use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::pagination::{fixed_order, read_page, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

/// A piece of work for a person.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    pub id: String,
    pub title: String,
    pub notes: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// When `task.reminder_due` is emitted, once.
    pub reminder_at: Option<DateTime<Utc>>,
    /// When the reminder was sent; null until then.
    pub reminded_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub quote_id: Option<String>,
    pub status: TaskStatus,
    /// `manual`, or the rule that made it.
    pub source: TaskSource,
    pub completed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl StateRecord for Task {
    const NOUN: &'static str = "task";
}

impl From<store::Task> for Task {
    fn from(t: store::Task) -> Self {
        Task {
            id: t.id,
            title: t.fields.title,
            notes: t.fields.notes,
            due_at: utc_opt(t.fields.due_at),
            reminder_at: utc_opt(t.fields.reminder_at),
            reminded_at: utc_opt(t.reminded_at),
            assignee_id: t.fields.assignee_id,
            company_id: t.fields.company_id,
            contact_id: t.fields.contact_id,
            opportunity_id: t.fields.opportunity_id,
            quote_id: t.fields.quote_id,
            status: t.status,
            source: t.source,
            completed_at: utc_opt(t.completed_at),
            version: t.version,
            created_at: utc(t.created_at),
            updated_at: utc(t.updated_at),
        }
    }
}

/// A task made by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    pub title: String,
    pub notes: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// No later than `due_at`.
    pub reminder_at: Option<DateTime<Utc>>,
    /// Active staff; defaults to the caller. Salespeople and support staff make tasks for
    /// themselves.
    pub assignee_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub quote_id: Option<String>,
}

/// Changes, as a JSON Merge Patch: absent fields stay, `null` clears.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub notes: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub due_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "patch")]
    pub reminder_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "patch")]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub contact_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub opportunity_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub quote_id: Option<Option<String>>,
}

impl TaskUpdate {
    fn apply(self, f: &mut TaskFields) -> Result<(), crm_domain::Violations> {
        let mut c = Checker::default();
        match self.title {
            Some(Some(title)) => f.title = c.required("title", &title, SHORT),
            Some(None) => c.not_null("title"),
            None => {}
        }
        if let Some(notes) = self.notes {
            f.notes = c.optional("notes", notes.as_deref(), LONG);
        }
        if let Some(due) = self.due_at {
            f.due_at = c.instant("due_at", due);
        }
        if let Some(reminder) = self.reminder_at {
            f.reminder_at = c.instant("reminder_at", reminder);
        }
        if let Some(v) = self.assignee_id {
            f.assignee_id = c.id("assignee_id", v);
        }
        if let Some(v) = self.company_id {
            f.company_id = c.id("company_id", v);
        }
        if let Some(v) = self.contact_id {
            f.contact_id = c.id("contact_id", v);
        }
        if let Some(v) = self.opportunity_id {
            f.opportunity_id = c.id("opportunity_id", v);
        }
        if let Some(v) = self.quote_id {
            f.quote_id = c.id("quote_id", v);
        }
        c.finish()
    }
}

/// Which tasks a caller sees: all, or those assigned to them.
pub fn visible_to(principal: &Principal) -> Visible {
    visible_by_role(principal, sees_own_tasks_only)
}

#[utoipa::path(tag = "tasks", operation_id = "createTask", summary = "Create a task",
    request_body = TaskInput,
    responses((status = 201, description = "Created, open", body = Task, headers(("Location" = String, description = "URL of the task"), ("ETag" = String, description = "Its version")))))]
#[post("/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<TaskInput>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Tasks, Access::Write)?;
    let assignee = visible_to(&principal).owner_for(body.assignee_id, principal.user_id());
    let mut fields = TaskFields::default();
    TaskUpdate {
        title: Some(Some(body.title)),
        notes: Some(body.notes),
        due_at: Some(body.due_at),
        reminder_at: Some(body.reminder_at),
        assignee_id: Some(assignee),
        company_id: Some(body.company_id),
        contact_id: Some(body.contact_id),
        opportunity_id: Some(body.opportunity_id),
        quote_id: Some(body.quote_id),
    }
    .apply(&mut fields)?;
    let task = state
        .db
        .write(move |conn| store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/tasks/{}", task.id),
        task.version,
        &Task::from(task),
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    pub status: Option<TaskStatus>,
    pub source: Option<TaskSource>,
    pub assignee_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub opportunity_id: Option<String>,
    pub quote_id: Option<String>,
    /// Tasks due before this instant.
    pub due_before: Option<DateTime<Utc>>,
    /// Tasks due at or after this instant.
    pub due_after: Option<DateTime<Utc>>,
}

#[utoipa::path(tag = "tasks", operation_id = "listTasks", summary = "List tasks",
    description = "Oldest first. Salespeople and support staff see the tasks assigned to them.",
    params(TaskListQuery, PageQuery),
    responses((status = 200, description = "A page of tasks", body = ListResponse<Task>)))]
#[get("/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<TaskListQuery>,
) -> Result<web::Json<ListResponse<Task>>, ApiError> {
    principal.authorize(Resource::Tasks, Access::Read)?;
    let page = fixed_order("created_at", &paging)?;
    let mut c = Checker::default();
    let filter = TaskFilter {
        visible: visible_to(&principal),
        status: query.status,
        source: query.source,
        assignee_id: query.assignee_id,
        company_id: query.company_id,
        contact_id: query.contact_id,
        opportunity_id: query.opportunity_id,
        quote_id: query.quote_id,
        due_before: c.instant("due_before", query.due_before),
        due_after: c.instant("due_after", query.due_after),
    };
    c.finish()?;
    read_page(&state, store::list, filter, page, "created_at", Task::from).await
}

#[utoipa::path(tag = "tasks", operation_id = "getTask", summary = "Get a task",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = Task, headers(("ETag" = String, description = "Its version")))))]
#[get("/tasks/{id}")]
pub async fn get_task(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let read = move |conn: &mut _, id: &str| store::get(conn, id, &visible);
    target
        .respond(Resource::Tasks, read, |r| r.version, Task::from)
        .await
}

#[utoipa::path(tag = "tasks", operation_id = "updateTask", summary = "Update a task",
    description = "A new `reminder_at` is a new reminder. Salespeople and support staff cannot hand their tasks to someone else.",
    params(("id" = String, Path, description = "Task id")),
    request_body(content = TaskUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated task", body = Task, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/tasks/{id}")]
pub async fn update_task(
    target: ActionTarget,
    ApiJson(body): ApiJson<TaskUpdate>,
) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let task = target
        .write(Resource::Tasks, move |conn, id, version| {
            store::update(
                conn,
                id,
                version,
                &visible,
                |fields| Ok(body.apply(fields)?),
            )
        })
        .await?;
    Ok(versioned(task.version, &Task::from(task)))
}

async fn act(target: ActionTarget, action: TaskAction) -> Result<HttpResponse, ApiError> {
    let visible = visible_to(&target.principal);
    let clock = target.state.settings.clock;
    let task = target
        .write(Resource::Tasks, move |conn, id, version| {
            let now = clock.now(conn)?;
            store::act(conn, id, version, &visible, action, now)
        })
        .await?;
    Ok(versioned(task.version, &Task::from(task)))
}

#[utoipa::path(tag = "tasks", operation_id = "completeTask", summary = "Mark a task done",
    description = "open → done.",
    params(("id" = String, Path, description = "Task id")),
    responses(ActionResponses<Task>))]
#[post("/tasks/{id}/complete")]
pub async fn complete_task(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, TaskAction::Complete).await
}

#[utoipa::path(tag = "tasks", operation_id = "cancelTask", summary = "Cancel a task",
    description = "open → cancelled.",
    params(("id" = String, Path, description = "Task id")),
    responses(ActionResponses<Task>))]
#[post("/tasks/{id}/cancel")]
pub async fn cancel_task(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, TaskAction::Cancel).await
}

#[utoipa::path(tag = "tasks", operation_id = "reopenTask", summary = "Reopen a task",
    description = "done or cancelled → open.",
    params(("id" = String, Path, description = "Task id")),
    responses(ActionResponses<Task>))]
#[post("/tasks/{id}/reopen")]
pub async fn reopen_task(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    act(target, TaskAction::Reopen).await
}

/// The routes under `/tasks`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_tasks)
        .service(create_task)
        .service(get_task)
        .service(update_task)
        .service(complete_task)
        .service(cancel_task)
        .service(reopen_task);
}
