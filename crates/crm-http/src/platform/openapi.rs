//! The OpenAPI document. Handlers declare their own success responses; the conventions every
//! operation shares (problem responses, `Idempotency-Key`, `If-Match`, security) are added here
//! in one pass, so that no operation can forget them.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::ServerBuilder;
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Contact, ContactBuilder, ContentBuilder, InfoBuilder, LicenseBuilder, ObjectBuilder, OpenApi,
    Ref, RefOr, Required, Response, ResponseBuilder, Type,
};

use crate::platform::error::{FieldError, Problem};

const CONVENTIONS: &str =
    "**Authentication.** Send `Authorization: Bearer <token>` on every `/v1` call except
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
`X-Request-Id`.

**References.** An id in the path that names no record (or one the caller may not see) is a
`404`. An id in the body that names no record is a `422` whose `errors[].field` names the
field. An unknown path is a `404`, and a method a path does not serve is a `405` whose `Allow`
header lists the ones it does.

**Rate limits.** Every `/v1` response carries `RateLimit-Limit`, `RateLimit-Remaining` and
`RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers, up to revision 06): the caller's budget
for a one-minute window, what is left of it, and the seconds until the window ends. The caller
is the user or API key, or the client address without valid credentials. Over the budget the
answer is `429` with `Retry-After`, and the request does nothing. Each API node counts on its
own. A server with rate limits off sends none of these headers.

**Filters.** Lists of contacts, companies, leads, opportunities and orders take `filter=` (and
`POST /v1/{object}/search` takes it in a body), ANDed with their other parameters; other lists
refuse it, as they refuse any parameter they do not take. `GET /v1/schema/{object}` lists every path,
built-in and custom (`custom.<key>`), with its operators.

```text
expr  = (\"and\"|\"or\") \"(\" expr (\",\" expr)* \")\" | \"not(\" expr \")\" | path \".\" op [\".\" value]
op    = eq|neq|lt|lte|gt|gte|in|contains|starts_with|is      (is takes null)
value = bare | '\"' (char|'\\\"'|'\\\\')* '\"' | \"(\" value (\",\" value)* \")\"
```

A bare value runs to the next `,` or `)`; quote values holding those. A comparison with null is
false, `neq` too, and `not(c)` is true when `c` is false. `contains` and `starts_with` ignore
case; on tags and multi-enums `contains` means has the element. Money filters by
`.amount_minor`. A date or instant may be relative to the service clock's now: `-180d`, `2w`,
`-6m`, `1y` (days, weeks, calendar months, years; `last_order_at.lt.-180d`). Contacts also
filter by their company's built-in paths (`company.tier.eq.A`; no company is null) and by the
status of their latest consent event on a channel (`consent.email.eq.granted`). An unknown path, an operator the field does not take or a bad value is a `422`
whose `errors[].field` is `filter`. Values are always bound parameters. `sort` takes up to 3
paths (`-` for descending), nulls last; a cursor is bound to its filter and sort. `fields=`
returns only the named keys (and `id`), and `expand=` embeds related records (at most two hops,
such as `company.owner`).";

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
    StandardResponse { status: "409", name: "Conflict", description: "Conflicts with an existing record (`existing_id` names it), writes to a record merged into another (`merged_into` names it), or a request with the same Idempotency-Key is still running." },
    StandardResponse { status: "412", name: "PreconditionFailed", description: "`If-Match` names an older version; `current_version` has the current one." },
    StandardResponse { status: "413", name: "PayloadTooLarge", description: "The body is larger than the configured limit." },
    StandardResponse { status: "415", name: "UnsupportedMediaType", description: "The body is not `application/json`." },
    StandardResponse { status: "422", name: "ValidationFailed", description: "Invalid input: `errors` lists each field and what is wrong with it. Also an Idempotency-Key reused with another body." },
    StandardResponse { status: "429", name: "TooManyRequests", description: "Rate limited; retry after `Retry-After` seconds." },
    StandardResponse { status: "503", name: "ServiceUnavailable", description: "The database is unreachable; retry later." },
];

const TAGS: [(&str, &str); 38] = [
    ("auth", "Log in, refresh and revoke tokens."),
    ("users", "Staff and portal accounts (admins)."),
    (
        "api-keys",
        "Scoped, revocable keys for integrations (admins).",
    ),
    (
        "companies",
        "Customer accounts, their contacts, timelines and last prices.",
    ),
    (
        "contacts",
        "People, found by email or phone, with their timelines.",
    ),
    (
        "interactions",
        "Calls, emails, meetings, visits and notes, logged or planned.",
    ),
    (
        "schema",
        "Custom fields admins add to records, and every field lists filter and sort on.",
    ),
    (
        "views",
        "Saved filters, sorts and columns of lists, private or shared.",
    ),
    (
        "search",
        "One search over contacts, companies, leads, opportunities, quotes, orders and invoices.",
    ),
    (
        "leads",
        "Prospects, their qualification, conversion and web-form intake.",
    ),
    ("products", "The catalogue, with costs (staff only)."),
    (
        "quotes",
        "Numbered offers with exact totals and a state machine.",
    ),
    (
        "orders",
        "Orders pushed in by shops (idempotent upsert, bulk import) or converted from quotes.",
    ),
    ("pipelines", "Sales pipelines and their stages."),
    (
        "opportunities",
        "Sales in progress and the weighted forecast.",
    ),
    ("exchange-rates", "Rates into the base currency, by date."),
    (
        "invoices",
        "Invoices, credit notes, payments, series and their integrity chain.",
    ),
    (
        "self-billing",
        "Agreements under which customers invoice on our behalf.",
    ),
    ("returns", "Returns (RMA) with their root cause."),
    (
        "settings",
        "Our company's fiscal data, and commission rates.",
    ),
    (
        "portal",
        "What a customer user sees and does for its own company.",
    ),
    ("operations", "Liveness, readiness and metrics."),
    ("analytics", "Profit and customer analytics."),
    (
        "events",
        "Everything that happened, in commit order: the feed a poller resumes with a cursor.",
    ),
    (
        "webhooks",
        "Endpoints that receive events, signed with Standard Webhooks, with their deliveries.",
    ),
    (
        "integrations",
        "Shopify and WooCommerce stores that push their orders and refunds by signed webhooks.",
    ),
    (
        "cases",
        "Support cases: states, replies and internal notes, an SLA in business time, escalation, and the reports.",
    ),
    (
        "service",
        "The desk's set-up: business calendars, SLA policies, teams, settings, and the maintenance run.",
    ),
    (
        "knowledge-base",
        "Articles that answer customers' questions: revisions, publication, votes, and search in Spanish, Portuguese and English by stem and without accents.",
    ),
    (
        "csat",
        "Satisfaction surveys answered by whoever holds the token a resolution issued.",
    ),
    (
        "campaigns",
        "Marketing campaigns: their costs, their members and how far each went, and the orders attributed to them by `campaign_id` or `utm.campaign`.",
    ),
    (
        "campaign-costs",
        "What campaigns cost, append-only, in any currency. Not for support staff.",
    ),
    (
        "consents",
        "What each contact agreed to on each channel, as events, and the signed unsubscribe links anyone may follow.",
    ),
    (
        "segments",
        "Saved filters over companies or contacts, in the filter language of the lists; their members are read live.",
    ),
    (
        "tasks",
        "Work for a person: made by hand, or by visit plans and greeting and follow-up rules when the maintenance loop runs.",
    ),
    (
        "visit-plans",
        "Recurring visits to a company; each visit becomes a task for its owner, once.",
    ),
    (
        "automation-rules",
        "Greeting and follow-up rules: what the maintenance loop turns into tasks.",
    ),
    ("admin", "The test clock of a test deployment."),
];

/// Adds the shared conventions to a document whose paths are already collected.
pub fn apply_conventions(api: &mut OpenApi) {
    api.info = InfoBuilder::new()
        .title("CRM API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(format!(
            "{}\n\n{CONVENTIONS}",
            env!("CARGO_PKG_DESCRIPTION")
        )))
        .contact(Some(maintainers()))
        .license(Some(
            LicenseBuilder::new()
                .name(env!("CARGO_PKG_LICENSE"))
                .identifier(Some(env!("CARGO_PKG_LICENSE")))
                .build(),
        ))
        .build();
    api.servers = Some(vec![ServerBuilder::new()
        .url("/")
        .description(Some("The server that serves this document"))
        .build()]);
    let used_tags: std::collections::BTreeSet<String> = api
        .paths
        .paths
        .values()
        .flat_map(|item| [&item.get, &item.post, &item.put, &item.patch, &item.delete])
        .flatten()
        .flat_map(|op| op.tags.clone().unwrap_or_default())
        .collect();
    api.tags = Some(
        TAGS.iter()
            .filter(|(name, _)| used_tags.contains(*name))
            .map(|(name, description)| {
                TagBuilder::new()
                    .name(*name)
                    .description(Some(*description))
                    .build()
            })
            .collect(),
    );
    let components = api.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("Problem".into(), utoipa_schema::<Problem>());
    components
        .schemas
        .insert("FieldError".into(), utoipa_schema::<FieldError>());
    for r in &RESPONSES {
        // Only `/v1` operations refer to these, and every `/v1` response is rate limited.
        let mut response = problem_response(r.description);
        add_rate_limit_headers(r.status, &mut response.headers);
        components
            .responses
            .insert(r.name.to_owned(), RefOr::T(response));
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

    remove_unused_schemas(api);
    for (path, item) in api.paths.paths.iter_mut() {
        let secured = path.starts_with("/v1/")
            && !path.starts_with("/v1/auth/")
            && !path.starts_with("/v1/csat/")
            && !path.starts_with("/v1/unsubscribe/");
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
    tighten(api);
}

/// The contact of the OpenAPI `info` block: the workspace's first author, `Name <email>`.
/// A response whose body is a problem+json `Problem`.
pub fn problem_response(description: impl Into<String>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn maintainers() -> Contact {
    let author = env!("CARGO_PKG_AUTHORS")
        .split(':')
        .next()
        .unwrap_or_default();
    let (name, email) = match author.split_once('<') {
        Some((name, email)) => (name.trim(), Some(email.trim_end_matches('>').trim())),
        None => (author.trim(), None),
    };
    ContactBuilder::new().name(Some(name)).email(email).build()
}

/// Runs the passes of `openapi_tighten` over the document's JSON form.
fn tighten(api: &mut OpenApi) {
    let Ok(mut document) = serde_json::to_value(&*api) else {
        return;
    };
    crate::platform::openapi_tighten::tighten(&mut document);
    if let Ok(tightened) = serde_json::from_value(document) {
        *api = tightened;
    }
}

/// Drops component schemas nothing refers to (generic wrappers inline their parameters).
fn remove_unused_schemas(api: &mut OpenApi) {
    let Ok(text) = serde_json::to_string(&api.paths) else {
        return;
    };
    let Some(components) = api.components.as_mut() else {
        return;
    };
    let schemas = serde_json::to_string(&components.schemas).unwrap_or_default();
    let responses = serde_json::to_string(&components.responses).unwrap_or_default();
    let referenced = |name: &str| {
        let reference = format!("\"#/components/schemas/{name}\"");
        text.contains(&reference) || schemas.contains(&reference) || responses.contains(&reference)
    };
    let unused: Vec<String> = components
        .schemas
        .keys()
        .filter(|name| !referenced(name))
        .cloned()
        .collect();
    for name in unused {
        components.schemas.remove(&name);
    }
}

fn utoipa_schema<T: utoipa::ToSchema>() -> RefOr<utoipa::openapi::schema::Schema> {
    T::schema()
}

fn decorate(operation: &mut Operation, method: &str, secured: bool, has_id: bool, path: &str) {
    if operation.description.is_none() {
        let summary = operation.summary.clone().unwrap_or_default();
        let is_list = serde_json::to_string(&operation.responses)
            .is_ok_and(|r| r.contains("next_cursor") || r.contains("ListResponse"));
        let how = match method {
            "GET" if is_list => {
                "Cursor-paginated: pass `next_cursor` as `cursor` for the next page."
            }
            "GET" => "",
            "POST" => "Safe to retry with `Idempotency-Key`.",
            "PATCH" => {
                "JSON Merge Patch; send `If-Match` with the last `ETag` to avoid lost updates."
            }
            "DELETE" => "Send `If-Match` with the last `ETag` to avoid lost updates.",
            _ => "",
        };
        operation.description = Some(format!("{summary}. {how}").trim().to_owned());
    }
    let is_v1 = path.starts_with("/v1/");
    let has_body = operation.request_body.is_some();
    let mut statuses: Vec<&str> = Vec::new();
    if is_v1 {
        statuses.extend(["422", "429", "503"]);
    }
    if secured {
        statuses.extend(["401", "403"]);
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
    let conditional = secured && honours_if_match(method, has_id, path);
    if conditional {
        // A malformed If-Match is a bad request.
        statuses.extend(["412", "400"]);
    }
    if path.starts_with("/v1/auth/") {
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
    if is_v1 {
        // The shared responses have them already; these are the operation's own.
        for (status, response) in operation.responses.responses.iter_mut() {
            if let RefOr::T(response) = response {
                add_rate_limit_headers(status, &mut response.headers);
            }
        }
    }

    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    if secured && method == "POST" {
        parameters.push(header_parameter(
            "Idempotency-Key",
            "A unique key for this request (such as a UUID). A retry with the same key and body replays the first response instead of acting twice; keys expire after a day.",
            None,
        ));
    }
    if conditional {
        parameters.push(header_parameter(
            "If-Match",
            "The ETag from your last read. The change applies only if the record is still at that version; otherwise `412`.",
            Some(IF_MATCH_PATTERN),
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

/// The headers every `/v1` response carries while rate limits are on.
const RATE_LIMIT_HEADERS: [(&str, &str); 3] = [
    (
        "RateLimit-Limit",
        "Requests the caller may make in the current one-minute window: its API key's `rate_limit_per_minute`, else the server's `CRM_RATE_LIMIT_PER_MINUTE`. Absent when the server has rate limits off.",
    ),
    (
        "RateLimit-Remaining",
        "Requests the caller has left in the current window.",
    ),
    (
        "RateLimit-Reset",
        "Seconds until the current window ends and the budget is whole again.",
    ),
];

/// Adds the rate-limit headers to a `/v1` response, and to a `429` the `Retry-After` it
/// always carries.
fn add_rate_limit_headers(status: &str, headers: &mut std::collections::BTreeMap<String, Header>) {
    let retry_after =
        (status == "429").then_some(("Retry-After", "Seconds to wait before trying again."));
    for (name, description) in RATE_LIMIT_HEADERS.into_iter().chain(retry_after) {
        headers.entry(name.to_owned()).or_insert_with(|| {
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(0)),
                )
                .description(Some(description))
                .build()
        });
    }
}

/// `*`, or an ETag as the server sends it, weak or strong, or its bare version number.
const IF_MATCH_PATTERN: &str = r#"^(\*|[0-9]{1,18}|(W/)?"[0-9]{1,18}")$"#;

/// Singletons without an id in their path that still carry a version.
const VERSIONED_SINGLETONS: [(&str, &str); 2] = [
    ("PATCH", "/v1/settings/company"),
    ("PUT", "/v1/settings/commission-rates"),
];

/// Whether the operation takes `If-Match`: every change to a record named in the path, and the
/// versioned singletons.
fn honours_if_match(method: &str, has_id: bool, path: &str) -> bool {
    (has_id && matches!(method, "PATCH" | "DELETE" | "POST"))
        || VERSIONED_SINGLETONS.contains(&(method, path))
}

fn header_parameter(name: &str, description: &str, pattern: Option<&str>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(pattern),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    use utoipa::PartialSchema;

    /// The values a schema's enum lists, as JSON strings.
    fn enum_values<T: PartialSchema>() -> Vec<String> {
        match T::schema() {
            RefOr::T(Schema::Object(o)) => o
                .enum_values
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => panic!("not an enum schema"),
        }
    }

    macro_rules! schema_matches_wire {
        ($($t:ty),+ $(,)?) => {
            $(
                let wire: Vec<String> = <$t>::ALL.iter().map(|v| serde_json::to_value(v).unwrap().as_str().unwrap().to_owned()).collect();
                let text: Vec<String> = <$t>::ALL.iter().map(|v| v.as_str().to_owned()).collect();
                assert_eq!(wire, text, "{} serializes as its text", stringify!($t));
                assert_eq!(enum_values::<$t>(), text, "{} schema lists its wire values", stringify!($t));
            )+
        };
    }

    #[test]
    fn every_v1_response_declares_the_rate_limit_headers() {
        let document = serde_json::to_value(crate::openapi()).unwrap();
        let shared = &document["components"]["responses"];
        for (path, item) in document["paths"].as_object().unwrap() {
            if !path.starts_with("/v1/") {
                continue;
            }
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(responses) = item[method]["responses"].as_object() else {
                    continue;
                };
                assert!(responses.contains_key("429"), "{method} {path}: 429");
                for (status, response) in responses {
                    let response = match response["$ref"].as_str() {
                        Some(name) => &shared[name.trim_start_matches("#/components/responses/")],
                        None => response,
                    };
                    let mut expected = super::RATE_LIMIT_HEADERS.map(|(name, _)| name).to_vec();
                    if status == "429" {
                        expected.push("Retry-After");
                    }
                    for header in expected {
                        assert_eq!(
                            response["headers"][header]["schema"]["type"], "integer",
                            "{method} {path} {status}: {header}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_enum_schema_lists_the_values_on_the_wire() {
        use crm_domain::{access::*, billing::*, parties::*, sales::*};
        schema_matches_wire!(
            companies::Tier,
            contacts::LifecycleStage,
            interactions::InteractionKind,
            interactions::Direction,
            roles::Role,
            timeline::TimelineKind,
            duplicates::DuplicateReason,
            quotes::QuoteStatus,
            orders::OrderStatus,
            leads::LeadSource,
            leads::LeadStatus,
            opportunities::StageOutcome,
            opportunities::ForecastGrouping,
            invoices::InvoiceKind,
            invoices::InvoiceStatus,
            returns::ReasonCode,
            returns::RootCauseCategory,
            returns::ReturnStatus,
            returns::Disposition,
            returns::Resolution,
        );
    }
}
