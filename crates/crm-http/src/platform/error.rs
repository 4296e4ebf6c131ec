//! One closed error type for the whole API, mapped to HTTP in exactly one place and rendered
//! as RFC 9457 `application/problem+json`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use crm_domain::platform::transitions::IllegalTransition;
use crm_domain::{Violation, Violations};
use crm_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field, as a path into the request (`billing_address.country`), or the query
    /// parameter's name.
    #[schema(example = "email")]
    pub field: String,
    /// What is wrong with it.
    #[schema(example = "is not a valid email address")]
    pub message: String,
}

/// An RFC 9457 problem. Every error response of this API has this shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; stable, one per `code`.
    #[schema(example = "/problems/validation-failed")]
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    #[schema(example = "Validation failed")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong in this occurrence.
    #[schema(example = "The request has 1 invalid field.")]
    pub detail: String,
    /// A stable machine-readable code, the last segment of `type`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// For validation problems: every invalid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// For conflicts with an existing record: its id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<String>,
    /// For `412`: the record's current version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
    /// For an illegal action (`409`): the state the record is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_state: Option<String>,
    /// For an illegal action (`409`): the actions its state allows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<String>>,
    /// For a write to a merged record (`409`): the record it was merged into.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{0}")]
    MalformedRequest(String),
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("this path accepts {allow}")]
    MethodNotAllowed { allow: String },
    #[error("{detail}")]
    Conflict {
        detail: String,
        existing_id: Option<String>,
    },
    #[error("{0}")]
    IllegalTransition(IllegalTransition),
    /// A write to a record that was merged into another.
    #[error("this record was merged into {merged_into}; write to that one instead")]
    Merged { merged_into: String },
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    /// What the request points at is no longer kept (an events cursor past retention).
    #[error("{0}")]
    Gone(String),
    #[error("the record has changed; current version is {current}")]
    PreconditionFailed { current: i64 },
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(Violations),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
    #[error("the database is unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(Violation::new(field, message).into())
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedRequest(_) => "malformed_request",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::IllegalTransition(_) => "illegal_transition",
            ApiError::Merged { .. } => "merged",
            ApiError::IdempotencyInProgress => "idempotency_in_progress",
            ApiError::Gone(_) => "gone",
            ApiError::PreconditionFailed { .. } => "precondition_failed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation(_) => "validation_failed",
            ApiError::IdempotencyMismatch => "idempotency_key_reused",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::MalformedRequest(_) => "Malformed request",
            ApiError::Unauthenticated(_) => "Authentication required",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::IllegalTransition(_) => "Action not allowed in this state",
            ApiError::Merged { .. } => "Merged into another record",
            ApiError::IdempotencyInProgress => "Request in progress",
            ApiError::Gone(_) => "Gone",
            ApiError::PreconditionFailed { .. } => "Precondition failed",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType(_) => "Unsupported media type",
            ApiError::Validation(_) => "Validation failed",
            ApiError::IdempotencyMismatch => "Idempotency key reused",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::Unavailable => "Service unavailable",
            ApiError::Internal => "Internal error",
        }
    }

    pub fn problem(&self) -> Problem {
        let code = self.code();
        let detail = match self {
            ApiError::Validation(v) => match v.0.len() {
                1 => "The request has 1 invalid field.".to_owned(),
                n => format!("The request has {n} invalid fields."),
            },
            ApiError::NotFound => "No such resource, or it is not visible to you.".to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("/problems/{}", code.replace('_', "-")),
            title: self.title().to_owned(),
            status: self.status_code().as_u16(),
            detail,
            code: code.to_owned(),
            errors: match self {
                ApiError::Validation(v) => Some(
                    v.0.iter()
                        .map(|v| FieldError {
                            field: v.field.clone(),
                            message: v.message.clone(),
                        })
                        .collect(),
                ),
                _ => None,
            },
            existing_id: match self {
                ApiError::Conflict { existing_id, .. } => existing_id.clone(),
                _ => None,
            },
            current_version: match self {
                ApiError::PreconditionFailed { current } => Some(*current),
                _ => None,
            },
            current_state: match self {
                ApiError::IllegalTransition(t) => Some(t.state.clone()),
                _ => None,
            },
            allowed_actions: match self {
                ApiError::IllegalTransition(t) => Some(t.allowed.clone()),
                _ => None,
            },
            merged_into: match self {
                ApiError::Merged { merged_into } => Some(merged_into.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. }
            | ApiError::IllegalTransition(_)
            | ApiError::Merged { .. }
            | ApiError::IdempotencyInProgress => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::IdempotencyMismatch => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        match self {
            ApiError::Unauthenticated(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::VersionMismatch { current } => ApiError::PreconditionFailed { current },
            StoreError::Conflict {
                message,
                existing_id,
            } => ApiError::Conflict {
                detail: message,
                existing_id,
            },
            StoreError::Invalid(violations) => ApiError::Validation(violations),
            StoreError::IllegalTransition(t) => ApiError::IllegalTransition(t),
            StoreError::Merged { merged_into } => ApiError::Merged { merged_into },
            StoreError::Unavailable(cause) => {
                tracing::warn!(%cause, "database unavailable");
                ApiError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal
            }
        }
    }
}

impl From<Violations> for ApiError {
    fn from(violations: Violations) -> Self {
        ApiError::Validation(violations)
    }
}

impl From<Violation> for ApiError {
    fn from(violation: Violation) -> Self {
        ApiError::Validation(violation.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    fn body_of(error: ApiError) -> serde_json::Value {
        let bytes = error.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn validation_problem_lists_fields() {
        let body = body_of(ApiError::validation(
            "email",
            "is not a valid email address",
        ));
        assert_eq!(body["status"], 422);
        assert_eq!(body["type"], "/problems/validation-failed");
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], "email");
    }

    #[test]
    fn conflict_carries_existing_id() {
        let body = body_of(ApiError::Conflict {
            detail: "duplicate".into(),
            existing_id: Some("abc".into()),
        });
        assert_eq!(body["status"], 409);
        assert_eq!(body["existing_id"], "abc");
    }

    #[test]
    fn a_write_to_a_merged_record_names_where_it_went() {
        let body = body_of(
            StoreError::Merged {
                merged_into: "survivor".into(),
            }
            .into(),
        );
        assert_eq!(body["status"], 409);
        assert_eq!(body["code"], "merged");
        assert_eq!(body["merged_into"], "survivor");
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let error: ApiError = StoreError::Database(diesel_free_error()).into();
        let body = body_of(error);
        assert_eq!(body["status"], 500);
        assert_eq!(body["detail"], "internal error");
    }

    fn diesel_free_error() -> crm_store::DieselError {
        crm_store::DieselError::QueryBuilderError("SELECT secret FROM t".into())
    }

    #[test]
    fn content_type_is_problem_json() {
        let response = ApiError::NotFound.error_response();
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
    }
}
