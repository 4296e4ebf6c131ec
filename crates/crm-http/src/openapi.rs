//! The OpenAPI document. Handlers declare their own success responses; the conventions every
//! operation shares (problem responses, `Idempotency-Key`, `If-Match`, security) are added here
//! in one pass, so that no operation can forget them.

use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type,
};

use crate::error::{FieldError, Problem};

const DESCRIPTION: &str = "A headless CRM: companies, contacts and their interactions.

**Authentication.** Send `Authorization: Bearer <token>` on every `/v1` call except
`/v1/auth/*`. The token is either an access token (a JWT from `POST /v1/auth/token`, short-lived;
renew it with `POST /v1/auth/refresh`) or an API key (`crm_...`, created by an admin, scoped,
revocable).

**Conventions.** Money in integer minor units; timestamps RFC 3339 UTC. Lists are cursor
paginated (`limit` up to 200, `cursor` from `next_cursor`). Every record has a `version` and
its reads return an `ETag`; send it back in `If-Match` on PATCH and DELETE to avoid lost updates
(`412` when stale). POSTs accept `Idempotency-Key`: a retry with the same key and body replays the
first response. PATCH bodies are JSON Merge Patch (RFC 7396): absent fields stay, `null` clears.
Errors are RFC 9457 problems (`application/problem+json`). DELETE archives; archived records stay
readable by id and hidden from lists unless `include_archived=true`. Every response carries
`X-Request-Id`.";

struct StandardResponse {
    status: &'static str,
    name: &'static str,
    description: &'static str,
}

const RESPONSES: [StandardResponse; 11] = [
    StandardResponse { status: "400", name: "BadRequest", description: "Malformed request: the body is not valid JSON, or a header is malformed." },
    StandardResponse { status: "401", name: "Unauthorized", description: "No credentials, or invalid, expired or revoked ones." },
    StandardResponse { status: "403", name: "Forbidden", description: "Authenticated, but the role or API key scope does not allow this." },
    StandardResponse { status: "404", name: "NotFound", description: "No such record, or it is not visible to the caller." },
    StandardResponse { status: "409", name: "Conflict", description: "Conflicts with an existing record (`existing_id` names it), or a request with the same Idempotency-Key is still running." },
    StandardResponse { status: "412", name: "PreconditionFailed", description: "`If-Match` names an older version; `current_version` has the current one." },
    StandardResponse { status: "413", name: "PayloadTooLarge", description: "The body is larger than the configured limit." },
    StandardResponse { status: "415", name: "UnsupportedMediaType", description: "The body is not `application/json`." },
    StandardResponse { status: "422", name: "ValidationFailed", description: "Invalid input: `errors` lists each field and what is wrong with it. Also an Idempotency-Key reused with another body." },
    StandardResponse { status: "429", name: "TooManyRequests", description: "Rate limited; retry after `Retry-After` seconds." },
    StandardResponse { status: "503", name: "ServiceUnavailable", description: "The database is unreachable; retry later." },
];

/// Adds the shared conventions to a document whose paths are already collected.
pub fn apply_conventions(api: &mut OpenApi) {
    api.info.title = "CRM API".to_owned();
    api.info.description = Some(DESCRIPTION.to_owned());
    let components = api.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".into(), utoipa_schema::<Problem>());
    components
        .schemas
        .insert("FieldError".into(), utoipa_schema::<FieldError>());
    for r in &RESPONSES {
        components.responses.insert(
            r.name.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description(r.description)
                    .content(
                        "application/problem+json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("Problem")))
                            .build(),
                    )
                    .build(),
            ),
        );
    }
    components.add_security_scheme(
        "bearer_jwt",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("An access token from POST /v1/auth/token."))
                .build(),
        ),
    );
    components.add_security_scheme(
        "api_key",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("API key")
                .description(Some(
                    "An API key (`crm_...`). Keys act as the integration role, narrowed to their scopes, such as `contacts:read`.",
                ))
                .build(),
        ),
    );

    for (path, item) in api.paths.paths.iter_mut() {
        let secured = path.starts_with("/v1/") && !path.starts_with("/v1/auth/");
        let has_id = path.contains('{');
        let operations = [
            (&mut item.get, "GET"),
            (&mut item.post, "POST"),
            (&mut item.patch, "PATCH"),
            (&mut item.delete, "DELETE"),
            (&mut item.put, "PUT"),
        ];
        for (operation, method) in operations {
            if let Some(operation) = operation {
                decorate(operation, method, secured, has_id, path);
            }
        }
    }
}

fn utoipa_schema<T: utoipa::ToSchema>() -> RefOr<utoipa::openapi::schema::Schema> {
    T::schema()
}

fn decorate(operation: &mut Operation, method: &str, secured: bool, has_id: bool, path: &str) {
    let is_v1 = path.starts_with("/v1/");
    let has_body = operation.request_body.is_some();
    let mut statuses: Vec<&str> = Vec::new();
    if is_v1 {
        statuses.extend(["422", "503"]);
    }
    if secured {
        statuses.extend(["401", "403", "429"]);
    }
    if has_id {
        statuses.push("404");
    }
    if has_body || method == "POST" || method == "PATCH" {
        statuses.extend(["400", "413", "415"]);
    }
    if is_v1 && (method == "POST" || method == "PATCH") {
        statuses.push("409");
    }
    if has_id && matches!(method, "PATCH" | "DELETE" | "POST") {
        statuses.push("412");
    }
    if path.starts_with("/v1/auth/") {
        statuses.push("429");
        statuses.push("401");
    }
    for status in statuses {
        if let Some(r) = RESPONSES.iter().find(|r| r.status == status) {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| RefOr::Ref(Ref::from_response_name(r.name)));
        }
    }

    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    if secured && method == "POST" {
        parameters.push(header_parameter(
            "Idempotency-Key",
            "A unique key for this request (such as a UUID). A retry with the same key and body replays the first response instead of acting twice; keys expire after a day.",
        ));
    }
    if has_id && matches!(method, "PATCH" | "DELETE" | "POST") && secured {
        parameters.push(header_parameter(
            "If-Match",
            "The ETag from your last read. The change applies only if the record is still at that version; otherwise `412`.",
        ));
    }
    if parameters.is_empty() {
        operation.parameters = None;
    }

    if secured {
        operation.security = Some(vec![
            SecurityRequirement::new("bearer_jwt", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    } else {
        operation.security = Some(vec![SecurityRequirement::default()]);
    }
}

fn header_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255)),
        ))
        .build()
}
