//! The shared part of every state action (send a quote, approve a return, pay an order,
//! qualify a lead): what it takes from the request, and what it answers, described once for the
//! OpenAPI document: the record after the action, or a `409` that says which actions its state
//! allows.

use std::collections::BTreeMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde::Serialize;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{IntoResponses, ToSchema};

use crm_domain::access::permissions::{Access, Resource};
use crm_domain::Violations;
use crm_store::platform::db::DbConnection;
use crm_store::StoreError;

use crate::platform::auth::Principal;
use crate::platform::error::ApiError;
use crate::platform::extract::IfMatch;
use crate::platform::openapi::problem_response;
use crate::platform::respond::versioned;
use crate::platform::state::AppState;

/// What a request on one record (`/{records}/{id}`, or an action on `/{records}/{id}/{action}`)
/// acts on, and for whom. `If-Match` is read for writes only.
pub struct ActionTarget {
    pub state: web::Data<AppState>,
    pub principal: Principal,
    pub id: String,
    pub if_match: IfMatch,
}

impl ActionTarget {
    /// Authorises a write of `resource` and runs `action` on the record, with the version that
    /// `If-Match` expects, in one write transaction.
    pub async fn write<T, F>(self, resource: Resource, action: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &str, Option<i64>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.principal.authorize(resource, Access::Write)?;
        let (id, expected_version) = (self.id, self.if_match.0);
        self.state
            .db
            .write(move |conn| action(conn, &id, expected_version))
            .await
    }

    /// Authorises a write of `resource` and has the store's `update` apply `change` to the
    /// record's fields; `change` checks the request's values against the settings in `AppState`.
    pub async fn update<Fields, T, U, C>(
        self,
        resource: Resource,
        update: U,
        change: C,
    ) -> Result<T, ApiError>
    where
        U: FnOnce(
                &mut DbConnection,
                &str,
                Option<i64>,
                FieldsChange<Fields>,
            ) -> Result<T, StoreError>
            + Send
            + 'static,
        C: FnOnce(&mut Fields, &AppState) -> Result<(), Violations> + Send + 'static,
        Fields: 'static,
        T: Send + 'static,
    {
        let app = self.state.get_ref().clone();
        self.write(resource, move |conn, id, expected_version| {
            let change: FieldsChange<Fields> =
                Box::new(move |fields| change(fields, &app).map_err(StoreError::from));
            update(conn, id, expected_version, change)
        })
        .await
    }

    /// Authorises a read of `resource` and answers the record `read` finds, with its `version`
    /// as the ETag.
    pub async fn respond<T, D, F>(
        self,
        resource: Resource,
        read: F,
        version: fn(&T) -> i64,
        to_dto: fn(T) -> D,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce(&mut DbConnection, &str) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
        D: Serialize,
    {
        self.principal.authorize(resource, Access::Read)?;
        let id = self.id;
        let record = self.state.db.read(move |conn| read(conn, &id)).await?;
        Ok(versioned(version(&record), &to_dto(record)))
    }

    /// Runs a write that answers nothing (archive, delete): `204 No Content`.
    pub async fn write_no_content<F>(
        self,
        resource: Resource,
        action: F,
    ) -> Result<HttpResponse, ApiError>
    where
        F: FnOnce(&mut DbConnection, &str, Option<i64>) -> Result<(), StoreError> + Send + 'static,
    {
        self.write(resource, action).await?;
        Ok(HttpResponse::NoContent().finish())
    }
}

/// A change to a record's fields, as the store's `update` functions take it.
pub type FieldsChange<Fields> = Box<dyn FnOnce(&mut Fields) -> Result<(), StoreError>>;

impl FromRequest for ActionTarget {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or(ApiError::Internal)?;
            let principal = Principal::extract(&req).await?;
            let if_match = if req.method() == Method::GET {
                IfMatch(None)
            } else {
                IfMatch::extract(&req).await?
            };
            let id = req.match_info().get("id").ok_or(ApiError::NotFound)?;
            Ok(ActionTarget {
                state,
                principal,
                id: id.to_owned(),
                if_match,
            })
        })
    }
}

/// A record with a state machine.
pub trait StateRecord: ToSchema {
    /// How the documentation names one, such as "quote".
    const NOUN: &'static str;
}

/// The responses of an action on a `T`.
pub struct ActionResponses<T>(PhantomData<T>);

impl<T: StateRecord> IntoResponses for ActionResponses<T> {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let noun = T::NOUN;
        let done = ResponseBuilder::new()
            .description(format!("The {noun} after the action"))
            .header(
                "ETag",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("Its new version"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name(T::name())))
                    .build(),
            )
            .build();
        let refused = problem_response(format!(
            "The {noun}'s state does not allow this; `current_state` and `allowed_actions` say what can be done"
        ));
        BTreeMap::from([
            ("200".to_owned(), RefOr::T(done)),
            ("409".to_owned(), RefOr::T(refused)),
        ])
    }
}
