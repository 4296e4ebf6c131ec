//! `/v1/users`: staff and portal accounts, managed by admins.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::access::roles::Role;
use crm_domain::{Violation, Violations};
use crm_store::access::users::{self as store, UserFields};
use crm_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::{hash_password, Principal};
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, Patch};
use crate::platform::pagination::{read_oldest_first, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;

const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 256;

/// A user account. The password is never returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    /// Server-assigned id (UUIDv7).
    pub id: String,
    /// Login email, lower-cased.
    pub email: String,
    /// What the user may do.
    pub role: Role,
    /// For `customer` users: their company.
    pub company_id: Option<String>,
    /// Inactive users cannot log in.
    pub active: bool,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was archived (deleted); null while it exists.
    pub archived_at: Option<DateTime<Utc>>,
    /// Staff: whom their breached cases escalate to.
    pub manager_id: Option<String>,
}

impl From<store::User> for User {
    fn from(u: store::User) -> Self {
        User {
            id: u.id,
            email: u.email,
            role: u.role,
            company_id: u.company_id,
            active: u.active,
            version: u.version,
            created_at: utc(u.created_at),
            updated_at: utc(u.updated_at),
            archived_at: utc_opt(u.archived_at),
            manager_id: u.manager_id,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "maria@example.com", "password": "a long passphrase", "role": "sales"}))]
pub struct UserCreate {
    /// Login email.
    pub email: String,
    /// At least 12 characters; write-only.
    #[schema(write_only, min_length = 12, max_length = 256)]
    pub password: String,
    /// What the user may do.
    pub role: Role,
    /// Required for, and only for, the `customer` role.
    pub company_id: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

/// Changes to a user, as a JSON Merge Patch. Changing the password or deactivating ends the
/// user's sessions.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "manager"}))]
pub struct UserUpdate {
    /// Login email.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub email: Option<Option<String>>,
    /// A new password; write-only.
    #[serde(default, deserialize_with = "patch")]
    #[schema(write_only, nullable = false)]
    pub password: Option<Option<String>>,
    /// What the user may do.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub role: Option<Option<Role>>,
    /// For `customer` users: their company.
    #[serde(default, deserialize_with = "patch")]
    pub company_id: Option<Option<String>>,
    /// Inactive users cannot log in.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub active: Option<Option<bool>>,
    /// Staff: whom their breached cases escalate to; another active staff user.
    #[serde(default, deserialize_with = "patch")]
    pub manager_id: Option<Option<String>>,
}

fn check_password(password: &str) -> Result<(), Violation> {
    let length = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&length) {
        return Err(Violation::new(
            "password",
            format!("must have {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// A new user's fields, with the password hashed. Also used by `crm user create`.
pub fn new_user_fields(
    email: &str,
    password: &str,
    role: Role,
    company_id: Option<String>,
) -> Result<UserFields, ApiError> {
    let mut c = Checker::default();
    let email = c.email("email", Some(email)).map(|e| e.to_lowercase());
    c.violations.check(check_password(password));
    if email.is_none() && c.violations.0.is_empty() {
        c.violations.push(Violation::new("email", "is required"));
    }
    c.finish()?;
    Ok(UserFields {
        email: email.unwrap_or_default(),
        password_hash: hash_password(password)?,
        role,
        company_id,
        active: true,
        manager_id: None,
    })
}

impl UserUpdate {
    /// Hashing happens before the transaction so that the database is not held during it.
    fn prepare(self) -> Result<PreparedUserUpdate, ApiError> {
        let mut c = Checker::default();
        let email = match self.email {
            Some(Some(e)) => Some(c.email("email", Some(&e)).map(|e| e.to_lowercase())),
            Some(None) => {
                c.not_null("email");
                None
            }
            None => None,
        };
        let password_hash = match self.password {
            Some(Some(p)) => {
                c.violations.check(check_password(&p));
                Some(p)
            }
            Some(None) => {
                c.not_null("password");
                None
            }
            None => None,
        };
        let role = match self.role {
            Some(None) => {
                c.not_null("role");
                None
            }
            other => other.flatten(),
        };
        let active = match self.active {
            Some(None) => {
                c.not_null("active");
                None
            }
            other => other.flatten(),
        };
        c.finish()?;
        Ok(PreparedUserUpdate {
            email: email.flatten(),
            password_hash: password_hash.map(|p| hash_password(&p)).transpose()?,
            role,
            company_id: self.company_id,
            active,
            manager_id: self.manager_id,
        })
    }
}

struct PreparedUserUpdate {
    email: Option<String>,
    password_hash: Option<String>,
    role: Option<Role>,
    company_id: Patch<String>,
    active: Option<bool>,
    manager_id: Patch<String>,
}

impl PreparedUserUpdate {
    fn apply(self, fields: &mut UserFields) -> Result<(), Violations> {
        if let Some(v) = self.email {
            fields.email = v;
        }
        if let Some(v) = self.password_hash {
            fields.password_hash = v;
        }
        if let Some(v) = self.role {
            fields.role = v;
        }
        if let Some(v) = self.company_id {
            fields.company_id = v;
        }
        if let Some(v) = self.active {
            fields.active = v;
        }
        if let Some(v) = self.manager_id {
            fields.manager_id = v;
        }
        Ok(())
    }
}

/// Paging for the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Include archived users.
    pub include_archived: Option<bool>,
}

#[utoipa::path(
    tag = "users",
    operation_id = "listUsers",
    summary = "List users",
    params(UserListQuery, PageQuery),
    responses((status = 200, description = "A page of users, oldest first", body = ListResponse<User>))
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<UserListQuery>,
) -> Result<web::Json<ListResponse<User>>, ApiError> {
    principal.authorize(Resource::Users, Access::Read)?;
    let include_archived = query.include_archived.unwrap_or(false);
    read_oldest_first(&state, store::list, include_archived, paging, User::from).await
}

#[utoipa::path(
    tag = "users",
    operation_id = "createUser",
    summary = "Create a user",
    request_body = UserCreate,
    responses((status = 201, description = "Created; `Location` names it", body = User,
        headers(("Location" = String, description = "URL of the new user"), ("ETag" = String, description = "Its version"))))
)]
#[post("/users")]
pub async fn create_user(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<UserCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Users, Access::Write)?;
    let mut fields = web::block(move || {
        new_user_fields(&body.email, &body.password, body.role, body.company_id)
            .map(|f| (f, body.active))
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    if let Some(active) = fields.1 {
        fields.0.active = active;
    }
    let user = state
        .db
        .write(move |conn| store::create(conn, fields.0))
        .await?;
    Ok(created(
        format!("/v1/users/{}", user.id),
        user.version,
        &User::from(user),
    ))
}

#[utoipa::path(
    tag = "users",
    operation_id = "getUser",
    summary = "Get a user",
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, description = "The user", body = User,
        headers(("ETag" = String, description = "Its version"))))
)]
#[get("/users/{id}")]
pub async fn get_user(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(Resource::Users, store::get, |r| r.version, User::from)
        .await
}

#[utoipa::path(
    tag = "users",
    operation_id = "updateUser",
    summary = "Update a user",
    params(("id" = String, Path, description = "User id")),
    request_body(content = UserUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated user", body = User,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/users/{id}")]
pub async fn update_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<UserUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Users, Access::Write)?;
    let prepared = web::block(move || body.prepare())
        .await
        .map_err(|_| ApiError::Internal)??;
    let actor = principal.user_id().map(str::to_owned);
    let user = state
        .db
        .write(move |conn| {
            store::update(conn, actor.as_deref(), &id, if_match.0, |fields| {
                prepared.apply(fields).map_err(StoreError::from)
            })
        })
        .await?;
    state.standing.invalidate(&user.id);
    Ok(versioned(user.version, &User::from(user)))
}

#[utoipa::path(
    tag = "users",
    operation_id = "deleteUser",
    summary = "Archive a user",
    description = "Deactivates and archives the user and ends its sessions; records it owns keep pointing at it.",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Archived"),
        (status = 409, description = "You cannot archive yourself, nor the last active admin", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/users/{id}")]
pub async fn delete_user(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Users, Access::Write)?;
    let actor = principal.user_id().map(str::to_owned);
    let archived = id.clone();
    state
        .db
        .write(move |conn| store::archive(conn, actor.as_deref(), &id, if_match.0))
        .await?;
    state.standing.invalidate(archived.as_str());
    Ok(HttpResponse::NoContent().finish())
}

/// The routes under `/users`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(delete_user);
}
