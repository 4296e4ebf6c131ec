//! What every state action (send a quote, approve a return, pay an order, qualify a lead)
//! answers, described once for the OpenAPI document: the record after the action, or a `409`
//! that says which actions its state allows.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
use utoipa::{IntoResponses, ToSchema};

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
        let refused = ResponseBuilder::new()
            .description(format!(
                "The {noun}'s state does not allow this; `current_state` and `allowed_actions` say what can be done"
            ))
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        BTreeMap::from([
            ("200".to_owned(), RefOr::T(done)),
            ("409".to_owned(), RefOr::T(refused)),
        ])
    }
}
