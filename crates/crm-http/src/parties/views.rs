//! `/v1/views`: saved filters, sorts and columns over the lists of objects with custom fields.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::platform::custom_fields::CustomObject;
use crm_domain::Violations;
use crm_store::parties::views::{self as store, ViewFields};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::clock::service_now;
use crate::platform::error::ApiError;
use crate::platform::extract::{ApiJson, ApiQuery};
use crate::platform::fields::{patch, Checker, SHORT};
use crate::platform::pagination::{list_query, next_cursor, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, versioned};
use crate::platform::shape::Shape;
use crate::platform::state::AppState;
use crm_store::platform::query::{ListQuery, Listed};
use serde_json::{json, Value};

/// A saved view of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct View {
    pub id: String,
    /// Who saved it: `user:<id>` or `api_key:<id>`.
    pub owner: String,
    pub name: String,
    /// The object listed.
    pub object: CustomObject,
    /// A condition in the filter language.
    pub filter: Option<String>,
    /// Up to 3 paths, comma-separated; `-` for descending.
    pub sort: Option<String>,
    /// The fields to show, as `fields=` takes them.
    pub columns: Vec<String>,
    /// Whether every user sees it; a private view is not found by others.
    pub shared: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<store::View> for View {
    fn from(view: store::View) -> Self {
        View {
            id: view.id,
            owner: view.owner_id,
            name: view.fields.name,
            object: view.fields.object,
            filter: view.fields.filter,
            sort: view.fields.sort,
            columns: view.fields.columns,
            shared: view.fields.shared,
            version: view.version,
            created_at: utc(view.created_at),
            updated_at: utc(view.updated_at),
        }
    }
}

/// A new view.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Retail in Iberia", "object": "companies", "filter": "and(custom.segment.eq.retail,billing_address.country.in.(ES,PT))", "sort": "-last_order_at", "columns": ["name", "tier", "custom.segment"], "shared": true}))]
pub struct ViewCreate {
    pub name: String,
    pub object: CustomObject,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub columns: Option<Vec<String>>,
    /// Default false.
    pub shared: Option<bool>,
}

/// Changes to a view, as a JSON Merge Patch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ViewUpdate {
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub filter: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub sort: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    pub columns: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub shared: Option<Option<bool>>,
}

impl ViewUpdate {
    fn apply(self, fields: &mut ViewFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        match self.name {
            Some(Some(name)) => fields.name = c.required("name", &name, SHORT),
            Some(None) => c.not_null("name"),
            None => {}
        }
        if let Some(filter) = self.filter {
            fields.filter = c.optional("filter", filter.as_deref(), 4_000);
        }
        if let Some(sort) = self.sort {
            fields.sort = c.optional("sort", sort.as_deref(), SHORT);
        }
        if let Some(columns) = self.columns {
            fields.columns = columns.unwrap_or_default();
        }
        match self.shared {
            Some(Some(shared)) => fields.shared = shared,
            Some(None) => c.not_null("shared"),
            None => {}
        }
        c.finish()
    }
}

/// Whoever reads an object with views may keep views of it.
fn authorize_any(principal: &Principal) -> Result<(), ApiError> {
    let reads_one = CustomObject::ALL
        .iter()
        .any(|object| principal.authorize(object.resource(), Access::Read).is_ok());
    if reads_one {
        Ok(())
    } else {
        principal
            .authorize(Resource::Contacts, Access::Read)
            .map(|_| ())
    }
}

/// Which views to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewListQuery {
    /// Only views of this object.
    pub object: Option<CustomObject>,
}

/// The caller's views and the shared ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct ViewList {
    pub data: Vec<View>,
}

#[utoipa::path(
    tag = "views",
    operation_id = "listViews",
    summary = "List saved views",
    description = "The caller's own views and every shared one, oldest first.",
    params(ViewListQuery),
    responses((status = 200, description = "The views", body = ViewList))
)]
#[get("/views")]
pub async fn list_views(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ViewListQuery>,
) -> Result<web::Json<ViewList>, ApiError> {
    authorize_any(&principal)?;
    let viewer = principal.key();
    let views = state
        .db
        .read(move |conn| store::list(conn, &viewer, query.object))
        .await?;
    Ok(web::Json(ViewList {
        data: views.into_iter().map(View::from).collect(),
    }))
}

#[utoipa::path(
    tag = "views",
    operation_id = "createView",
    summary = "Save a view",
    description = "Its filter, sort and columns must name fields of the object; apply it with `GET /v1/{object}?view={id}`.",
    request_body = ViewCreate,
    responses((status = 201, description = "Saved", body = View,
        headers(("Location" = String, description = "URL of the view"), ("ETag" = String, description = "Its version"))))
)]
#[post("/views")]
pub async fn create_view(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<ViewCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(body.object.resource(), Access::Read)?;
    let mut fields = ViewFields {
        name: String::new(),
        object: body.object,
        filter: None,
        sort: None,
        columns: Vec::new(),
        shared: false,
    };
    ViewUpdate {
        name: Some(Some(body.name)),
        filter: Some(body.filter),
        sort: Some(body.sort),
        columns: Some(body.columns),
        shared: Some(body.shared.or(Some(false))),
    }
    .apply(&mut fields)?;
    let owner = principal.key();
    let view = state
        .db
        .write(move |conn| store::create(conn, &owner, fields))
        .await?;
    Ok(created(
        format!("/v1/views/{}", view.id),
        view.version,
        &View::from(view),
    ))
}

#[utoipa::path(
    tag = "views",
    operation_id = "getView",
    summary = "Get a view",
    params(("id" = String, Path, description = "View id")),
    responses((status = 200, description = "The view", body = View,
        headers(("ETag" = String, description = "Its version"))))
)]
#[get("/views/{id}")]
pub async fn get_view(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    authorize_any(&principal)?;
    let viewer = principal.key();
    let view = state
        .db
        .read(move |conn| store::get(conn, &id, &viewer))
        .await?;
    Ok(versioned(view.version, &View::from(view)))
}

#[utoipa::path(
    tag = "views",
    operation_id = "updateView",
    summary = "Update a view",
    description = "Only its owner may change it.",
    params(("id" = String, Path, description = "View id")),
    request_body(content = ViewUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The view", body = View,
        headers(("ETag" = String, description = "Its new version"))))
)]
#[patch("/views/{id}")]
pub async fn update_view(
    target: ActionTarget,
    ApiJson(body): ApiJson<ViewUpdate>,
) -> Result<HttpResponse, ApiError> {
    authorize_any(&target.principal)?;
    let viewer = target.principal.key();
    let (id, expected) = (target.id, target.if_match.0);
    let view = target
        .state
        .db
        .write(move |conn| {
            store::update(conn, &id, &viewer, expected, |fields| {
                body.apply(fields).map_err(Into::into)
            })
        })
        .await?;
    Ok(versioned(view.version, &View::from(view)))
}

#[utoipa::path(
    tag = "views",
    operation_id = "deleteView",
    summary = "Delete a view",
    description = "Only its owner may delete it.",
    params(("id" = String, Path, description = "View id")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/views/{id}")]
pub async fn delete_view(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    authorize_any(&target.principal)?;
    let viewer = target.principal.key();
    let (id, expected) = (target.id, target.if_match.0);
    target
        .state
        .db
        .write(move |conn| store::delete(conn, &id, &viewer, expected))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a list asked for, with a saved view applied: the view's filter ANDed with the given
/// one, and its sort and columns unless the request gives its own.
struct Applied {
    filter: Option<String>,
    sort: Option<String>,
    fields: Option<String>,
}

/// Reads view `id` (one the caller may see, of `object`) and applies it to a list's parameters.
async fn apply(
    state: &AppState,
    principal: &Principal,
    object: CustomObject,
    id: Option<String>,
    asked: Applied,
) -> Result<Applied, ApiError> {
    let Some(id) = id.filter(|id| !id.trim().is_empty()) else {
        return Ok(asked);
    };
    let viewer = principal.key();
    // A view named in a query is a reference in the request: a missing one is a `422`.
    let view = state
        .db
        .read(move |conn| store::get(conn, &id, &viewer))
        .await
        .map_err(|error| match error {
            ApiError::NotFound => ApiError::validation("view", "no such view, or not yours"),
            other => other,
        })?;
    if view.fields.object != object {
        return Err(ApiError::validation(
            "view",
            format!("lists {}, not {object}", view.fields.object),
        ));
    }
    let filter = match (view.fields.filter, asked.filter) {
        (Some(saved), Some(given)) => Some(format!("and({saved},{given})")),
        (saved, given) => saved.or(given),
    };
    let columns = (!view.fields.columns.is_empty()).then(|| view.fields.columns.join(","));
    Ok(Applied {
        filter,
        sort: asked.sort.or(view.fields.sort),
        fields: asked.fields.or(columns),
    })
}

/// What a list in the filter language was asked for, before a saved view applies.
#[derive(Debug, Default)]
pub struct Asked {
    pub view: Option<String>,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub fields: Option<String>,
    pub expand: Option<String>,
    pub paging: PageQuery,
}

/// A list's request with its saved view applied: the store's query and the shape of its rows.
pub struct Listing {
    pub query: ListQuery,
    pub shape: Shape,
    /// The filter as applied, which the next cursor is bound to.
    filter: Option<String>,
}

/// Applies the saved view `asked` names, and reads the filter, sort, `fields` and `expand` of a
/// list of `object`, whose records have `keys` and `relations`.
pub async fn listing(
    state: &AppState,
    principal: &Principal,
    object: CustomObject,
    mut asked: Asked,
    default_sort: &str,
    keys: &[&str],
    relations: &[&str],
) -> Result<Listing, ApiError> {
    let applied = apply(
        state,
        principal,
        object,
        asked.view.take(),
        Applied {
            filter: asked.filter,
            sort: asked.sort,
            fields: asked.fields,
        },
    )
    .await?;
    let shape = Shape::parse(
        applied.fields.as_deref(),
        asked.expand.as_deref(),
        keys,
        relations,
    )?;
    let query = list_query(
        applied.filter.as_deref(),
        applied.sort.as_deref(),
        default_sort,
        &asked.paging,
        service_now(state).await?,
    )?;
    Ok(Listing {
        query,
        shape,
        filter: applied.filter,
    })
}

impl Listing {
    /// The page as the list's body, each record as `to_body` shapes it.
    pub fn respond<T, B: Serialize>(
        &self,
        page: Listed<T>,
        to_body: impl FnMut(T) -> B,
    ) -> HttpResponse {
        let next_cursor = next_cursor(page.next, &self.query, self.filter.as_deref());
        let data: Vec<B> = page.items.into_iter().map(to_body).collect();
        HttpResponse::Ok().json(ListResponse { data, next_cursor })
    }
}

/// A list's query in a body, for filters too long for a URL: `POST /v1/{object}/search`
/// answers as `GET /v1/{object}` with these parameters.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"filter": "and(created_at.gte.2026-01-01,not(email.is.null))", "sort": "-created_at", "fields": ["id", "email"], "limit": 100}))]
pub struct ListSearch {
    /// A condition in the filter language.
    pub filter: Option<String>,
    /// Up to 3 sortable paths, comma-separated; prefix `-` for descending.
    pub sort: Option<String>,
    /// Only these keys (and `id`); `custom.<key>` for custom fields.
    pub fields: Option<Vec<String>>,
    /// Related records to embed.
    pub expand: Option<Vec<String>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
}

impl ListSearch {
    /// The list's query parameters this body stands for; the list's other parameters are unset.
    pub fn into_query<Q: serde::de::DeserializeOwned>(self) -> Result<(Q, PageQuery), ApiError> {
        let joined = |list: Option<Vec<String>>| list.map(|items| items.join(","));
        let parameters = json!({
            "filter": self.filter,
            "sort": self.sort,
            "fields": joined(self.fields),
            "expand": joined(self.expand),
        });
        let without_nulls: serde_json::Map<String, Value> = parameters
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let query = serde_json::from_value(Value::Object(without_nulls))
            .map_err(|e| ApiError::validation("body", e.to_string()))?;
        let paging = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        };
        Ok((query, paging))
    }
}

/// The routes under `/views`.
pub fn routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_views)
        .service(create_view)
        .service(get_view)
        .service(update_view)
        .service(delete_view);
}
