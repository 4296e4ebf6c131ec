//! The OWASP API Security Top 10 (2023), driven by the route table: every operation of the
//! OpenAPI document the server generates from its code is called by every kind of principal, so
//! a new endpoint is covered the moment it exists, or fails the coverage check here.
//!
//! - API1 object-level authorization: a customer of company A gets `404` for company B's
//!   objects on every customer-reachable operation, and never a `2xx` on any.
//! - API5 function-level authorization: each principal's expected outcome comes from the
//!   permission matrix in `crm_domain::access::permissions`; denied means `403`, allowed never `403`.
//! - API3 property-level authorization: read-only and unknown fields in any body get `422`, and
//!   nothing a customer can read carries a cost, margin or profit.
//! - API8 odd input: hostile strings, numbers and bytes in every parameter and body field get a
//!   `4xx` or are stored faithfully, never a `5xx`, and the database stays intact.

use std::collections::BTreeMap;

use crm_domain::access::permissions::{authorize, Access, Resource, Scope};
use crm_domain::access::roles::Role;
use crm_tests::{eur, on_both_backends, query_value, Order, Product, Response, TestApp};
use reqwest::Method;
use serde_json::{json, Map, Value};

/// One operation of the route table.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    path: String,
    tag: String,
    /// Required query parameters with a sample value each.
    query: Vec<(String, String)>,
    /// Every query parameter with its schema.
    query_params: Vec<(String, Value)>,
    /// The JSON request body schema, if any.
    body: Option<Value>,
}

impl Operation {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What an operation requires of its caller.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    /// No credentials (log-in, health).
    Public,
    /// Every one of these grants.
    All(Vec<(Resource, Access)>),
    /// At least one of these grants: a read across kinds that skips those the caller may not
    /// read, and refuses a caller who may read none.
    Any(Vec<(Resource, Access)>),
}

fn resource_of_tag(tag: &str) -> Option<Resource> {
    Some(match tag {
        "users" => Resource::Users,
        "api-keys" => Resource::ApiKeys,
        "companies" => Resource::Companies,
        "contacts" => Resource::Contacts,
        "interactions" => Resource::Interactions,
        "leads" => Resource::Leads,
        "products" => Resource::Products,
        "quotes" => Resource::Quotes,
        "orders" => Resource::Orders,
        "pipelines" => Resource::Pipelines,
        "opportunities" => Resource::Opportunities,
        "exchange-rates" => Resource::ExchangeRates,
        "settings" => Resource::Settings,
        "invoices" | "self-billing" => Resource::Invoices,
        "returns" => Resource::Returns,
        "portal" => Resource::Portal,
        "analytics" => Resource::Analytics,
        "events" => Resource::Events,
        "webhooks" => Resource::Webhooks,
        "integrations" => Resource::Integrations,
        "cases" => Resource::Cases,
        "service" => Resource::ServiceSettings,
        "knowledge-base" => Resource::KnowledgeBase,
        "campaigns" => Resource::Campaigns,
        "campaign-costs" => Resource::CampaignCosts,
        "consents" => Resource::Consents,
        "segments" => Resource::Segments,
        "tasks" => Resource::Tasks,
        "visit-plans" => Resource::VisitPlans,
        "automation-rules" => Resource::AutomationRules,
        _ => return None,
    })
}

/// The requirement of each operation: its tag's resource, `read` for GET and `write`
/// otherwise, except where an operation reads across resources or is configuration. `None`
/// means the operation is not covered, which fails the suite.
fn requirement(op: &Operation) -> Option<Requirement> {
    use Access::{Intake, Merge, Read, Write};
    let access = if op.method == Method::GET {
        Read
    } else {
        Write
    };
    let path = op.path.as_str();
    let special: Option<Vec<(Resource, Access)>> = match (op.method.as_str(), path) {
        (_, p) if p.starts_with("/v1/auth/") => return Some(Requirement::Public),
        ("GET", "/v1/search") => {
            return Some(Requirement::Any(
                [
                    Resource::Contacts,
                    Resource::Companies,
                    Resource::Leads,
                    Resource::Opportunities,
                    Resource::Quotes,
                    Resource::Orders,
                    Resource::Invoices,
                ]
                .into_iter()
                .map(|r| (r, Read))
                .collect(),
            ))
        }
        (_, "/healthz" | "/readyz" | "/metrics") => return Some(Requirement::Public),
        // The survey token is the credential.
        (_, p) if p.starts_with("/v1/csat/") => return Some(Requirement::Public),
        // So is an unsubscribe link's.
        (_, p) if p.starts_with("/v1/unsubscribe/") => return Some(Requirement::Public),
        // Signed by the shop, not called with a token: `integrations.rs` covers their 401s.
        ("POST", p) if p.starts_with("/v1/integrations/") && p.ends_with("/webhooks") => {
            return Some(Requirement::Public)
        }
        ("POST", "/v1/leads/intake") => Some(vec![(Resource::Leads, Intake)]),
        // A filter tried without saving reads.
        ("POST", "/v1/segments/preview") => Some(vec![(Resource::Segments, Read)]),
        // Merging rewrites other records' history: admins, managers and `merge` scopes.
        ("POST", "/v1/contacts/{id}/merge") => Some(vec![(Resource::Contacts, Merge)]),
        ("POST", "/v1/companies/{id}/merge") => Some(vec![(Resource::Companies, Merge)]),
        // Field definitions are read by whoever reads the object and changed by admins.
        ("GET", p) if p.starts_with("/v1/schema/") => Some(vec![(Resource::Contacts, Read)]),
        (_, p) if p.starts_with("/v1/schema/") => Some(vec![(Resource::Settings, Write)]),
        // A view of companies (the example the suite sends) needs their read.
        ("POST", "/v1/views") => Some(vec![(Resource::Companies, Read)]),
        // Whoever reads an object with custom fields keeps views of it.
        (_, p) if p.starts_with("/v1/views") => {
            return Some(Requirement::Any(vec![
                (Resource::Contacts, Read),
                (Resource::Companies, Read),
                (Resource::Leads, Read),
                (Resource::Opportunities, Read),
                (Resource::Orders, Read),
            ]))
        }
        // A list with its filter in a body.
        ("POST", "/v1/contacts/search") => Some(vec![(Resource::Contacts, Read)]),
        ("POST", "/v1/companies/search") => Some(vec![(Resource::Companies, Read)]),
        ("POST", "/v1/leads/search") => Some(vec![(Resource::Leads, Read)]),
        ("POST", "/v1/opportunities/search") => Some(vec![(Resource::Opportunities, Read)]),
        ("POST", "/v1/orders/search") => Some(vec![(Resource::Orders, Read)]),
        // Whoever may read an article may say whether it helped.
        ("POST", "/v1/kb/articles/{id}/feedback") => Some(vec![(Resource::KnowledgeBase, Read)]),
        ("POST", "/v1/cases/{id}/articles") => Some(vec![
            (Resource::Cases, Write),
            (Resource::KnowledgeBase, Read),
        ]),
        ("GET", "/v1/cases/{id}/suggested-articles") => Some(vec![
            (Resource::Cases, Read),
            (Resource::KnowledgeBase, Read),
        ]),
        // Running maintenance and freezing the test clock are the admin's.
        (_, p) if p.starts_with("/v1/admin/") => Some(vec![(Resource::Settings, Write)]),
        ("POST" | "PATCH", p) if p.starts_with("/v1/invoice-series") => {
            Some(vec![(Resource::Settings, Write)])
        }
        ("GET", "/v1/companies/{id}/contacts") => Some(vec![(Resource::Contacts, Read)]),
        ("GET", "/v1/companies/{id}/timeline") => Some(vec![
            (Resource::Companies, Read),
            (Resource::Interactions, Read),
        ]),
        ("GET", "/v1/contacts/{id}/timeline") => Some(vec![
            (Resource::Contacts, Read),
            (Resource::Interactions, Read),
        ]),
        ("GET", "/v1/companies/{id}/last-prices" | "/v1/contacts/{id}/last-prices") => {
            Some(vec![(Resource::Quotes, Read), (Resource::Orders, Read)])
        }
        ("GET", "/v1/companies/{id}/overview" | "/v1/contacts/{id}/overview") => Some(
            [
                Resource::Companies,
                Resource::Contacts,
                Resource::Quotes,
                Resource::Orders,
                Resource::Returns,
                Resource::Invoices,
                Resource::Interactions,
                Resource::Analytics,
                Resource::Cases,
            ]
            .into_iter()
            .map(|r| (r, Read))
            .collect(),
        ),
        _ => None,
    };
    if let Some(grants) = special {
        return Some(Requirement::All(grants));
    }
    let resource = resource_of_tag(&op.tag)?;
    Some(Requirement::All(vec![(resource, access)]))
}

/// A caller of the suite: a role, or an API key (the integration role narrowed by scopes).
struct Caller {
    name: String,
    role: Role,
    scopes: Option<Vec<Scope>>,
    token: String,
}

impl Caller {
    /// Whether the matrix lets this caller through; `Own` reach counts as allowed.
    fn allowed(&self, requirement: &Requirement) -> bool {
        match requirement {
            Requirement::Public => true,
            Requirement::All(grants) => grants
                .iter()
                .all(|(resource, access)| self.granted(*resource, *access)),
            Requirement::Any(grants) => grants
                .iter()
                .any(|(resource, access)| self.granted(*resource, *access)),
        }
    }

    fn granted(&self, resource: Resource, access: Access) -> bool {
        authorize(self.role, resource, access).is_ok()
            && self
                .scopes
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s.covers(resource, access)))
    }
}

/// Resolves `$ref`s of the components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The smallest value of `schema` that deserialises: required properties only, each a typical
/// value of its type. It lets a request reach the handler, where authorization happens.
fn sample(doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if depth > 8 {
        return Value::Null;
    }
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        if let Some(first) = schema[combinator].as_array().and_then(|a| {
            a.iter()
                .find(|s| resolve(doc, s)["type"] != "null")
                .or(a.first())
        }) {
            return sample(doc, first, depth + 1);
        }
    }
    if let Some(value) = schema["enum"].as_array().and_then(|e| e.first()) {
        return value.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .and_then(Value::as_str)
            .unwrap_or("null"),
        Value::String(kind) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(props) = schema["properties"].as_object() {
                for (name, prop) in props {
                    if required.contains(&name.as_str()) {
                        out.insert(name.clone(), sample(doc, prop, depth + 1));
                    }
                }
            }
            Value::Object(out)
        }
        "array" => {
            if schema["minItems"].as_u64().unwrap_or(0) > 0 {
                json!([sample(doc, &schema["items"], depth + 1)])
            } else {
                json!([])
            }
        }
        "integer" | "number" => schema
            .get("minimum")
            .cloned()
            .filter(|m| m.as_i64().is_some_and(|m| m > 0))
            .unwrap_or(json!(1)),
        "boolean" => json!(false),
        "string" => json!(match schema["format"].as_str() {
            Some("date") => "2026-01-15",
            Some("date-time") => "2026-01-15T10:00:00Z",
            Some("email") => "someone@example.com",
            Some("uuid") => "00000000-0000-7000-8000-000000000000",
            _ => "sample",
        }),
        _ => Value::Null,
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                _ => continue,
            };
            let mut query = Vec::new();
            let mut query_params = Vec::new();
            for p in op["parameters"].as_array().cloned().unwrap_or_default() {
                let p = resolve(doc, &p).clone();
                if p["in"] != "query" {
                    continue;
                }
                let name = p["name"].as_str().unwrap().to_owned();
                if p["required"] == true {
                    let value = p
                        .get("example")
                        .cloned()
                        .unwrap_or_else(|| sample(doc, &p["schema"], 0));
                    let text = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    query.push((name.clone(), text));
                }
                query_params.push((name, p["schema"].clone()));
            }
            let body = op["requestBody"]["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|c| c["schema"].clone());
            out.push(Operation {
                method,
                path: path.clone(),
                tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
                query,
                query_params,
                body,
            });
        }
    }
    out
}

/// One company's records, as seen by staff, with a portal user of its own.
struct CustomerWorld {
    company: String,
    contact: String,
    quote: String,
    order: String,
    invoice: String,
    ret: String,
    user: String,
    token: String,
}

/// Records that belong to no customer.
struct StaffWorld {
    product: String,
    lead: String,
    opportunity: String,
    interaction: String,
    pipeline: String,
    stage: String,
    series: String,
    agreement: String,
    api_key: String,
    webhook_endpoint: String,
    delivery: String,
    event: String,
    connection: String,
    calendar: String,
    policy: String,
    team: String,
    case: String,
    article: String,
    kb_draft: String,
    campaign: String,
    member: String,
    segment: String,
    task: String,
    visit_plan: String,
    greeting_rule: String,
    follow_up_rule: String,
}

async fn customer_world(app: &TestApp, name: &str) -> CustomerWorld {
    let company = app
        .create(
            "/v1/companies",
            json!({"name": name, "legal_name": format!("{name} SL"), "tax_id": "ESB12345678"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = app
        .create(
            "/v1/contacts",
            json!({"last_name": name, "company_id": company, "email": format!("{}@example.com", name.to_lowercase())}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let order = Order::new(&name.to_lowercase())
        .company(&company)
        .status("fulfilled")
        .line_with(json!({"sku": "SEC-1", "quantity": "3", "unit_price": eur(1000), "unit_cost": eur(300), "tax_rate_bp": 2100}))
        .push(app)
        .await;
    let invoice = app.issued_invoice(&company, &order).await;
    let quote = app.sent_quote(&company, "Extra").await;
    let ret = app.returned_unit(&order, "defective").await;
    let (user, token, _) = app
        .login_new_user(Role::Customer, Some(company.clone()))
        .await;
    CustomerWorld {
        company,
        contact,
        quote,
        order: order["id"].as_str().unwrap().to_owned(),
        invoice,
        ret,
        user,
        token,
    }
}

async fn staff_world(app: &TestApp) -> StaffWorld {
    let product = Product::new("SEC-1", 1000, 300).ensure(app).await;
    app.configure_issuer().await;
    let lead = app
        .create(
            "/v1/leads",
            json!({"last_name": "Prospect", "email": "prospect@example.com"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pipelines = app.get("/v1/pipelines").await;
    let pipeline = pipelines.body["data"][0]["id"].as_str().unwrap().to_owned();
    let stage = pipelines.body["data"][0]["stages"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let series = app.get("/v1/invoice-series").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let api_key = app
        .create(
            "/v1/api-keys",
            json!({"name": "to revoke", "scopes": ["contacts:read"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook_endpoint = app
        .create(
            "/v1/webhook-endpoints",
            json!({"url": "https://hooks.example.com/crm", "event_types": ["*"]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = app
        .post(
            &format!("/v1/webhook-endpoints/{webhook_endpoint}/test"),
            json!({}),
        )
        .await;
    let event = sent.body["event_id"].as_str().unwrap().to_owned();
    let delivery = app
        .get(&format!(
            "/v1/webhook-endpoints/{webhook_endpoint}/deliveries"
        ))
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let connection = app
        .create(
            "/v1/integrations/connections",
            json!({"platform": "shopify", "name": "Security", "channel": "security-shop",
                "secret": "a security secret", "shop_domain": "security.myshopify.com"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let calendar = app
        .create(
            "/v1/business-calendars",
            json!({"name": "Security", "time_zone": "Europe/Madrid",
                "hours": [{"weekday": "mon", "start": "09:00", "end": "17:00"}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy = app
        .create(
            "/v1/sla-policies",
            json!({"name": "Security", "calendar_id": calendar, "position": 1,
                "rules": [{"priority": "high", "first_response_minutes": 60, "resolution_minutes": 240}]}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let team = app.create("/v1/teams", json!({"name": "Security"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut articles = Vec::new();
    for title in ["Security", "Security draft"] {
        articles.push(
            app.create(
                "/v1/kb/articles",
                json!({"title": title, "body": "Security article", "locale": "en"}),
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let kb_draft = articles.pop().unwrap();
    let article = articles.pop().unwrap();
    let campaign = app
        .create(
            "/v1/campaigns",
            json!({"name": "Security", "code": "security", "channel": "ads",
                "starts_on": "2026-01-01", "ends_on": "2026-12-31"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = app
        .create("/v1/companies", json!({"name": "Security member"}))
        .await["id"]
        .clone();
    let added = app
        .post(
            &format!("/v1/campaigns/{campaign}/members"),
            json!({"company_ids": [target]}),
        )
        .await;
    let member = added.body["results"][0]["member"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let segment = app
        .create(
            "/v1/segments",
            json!({"name": "Security", "subject": "companies", "filter": "name.eq.Security"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let task = id(app
        .create("/v1/tasks", json!({"title": "Security task"}))
        .await);
    let visit_plan = id(app
        .create(
            "/v1/visit-plans",
            json!({"company_id": target, "every_weeks": 4, "next_visit_on": "2030-01-07"}),
        )
        .await);
    let greeting_rule = id(app
        .create(
            "/v1/greeting-rules",
            json!({"name": "Security", "occasion": "--12-24"}),
        )
        .await);
    let follow_up_rule = id(app
        .create(
            "/v1/follow-up-rules",
            json!({"name": "Security", "trigger": "return_resolved", "after_days": 3}),
        )
        .await);
    StaffWorld {
        campaign,
        member,
        segment,
        task,
        visit_plan,
        greeting_rule,
        follow_up_rule,
        article,
        kb_draft,
        connection,
        calendar,
        policy,
        team,
        case: String::new(),
        product,
        lead,
        opportunity: String::new(),
        interaction: String::new(),
        pipeline,
        stage,
        series,
        agreement: String::new(),
        api_key,
        webhook_endpoint,
        delivery,
        event,
    }
}

/// Fills the path parameters with the records of `world` (the customer's) and `staff`.
/// `None` when a parameter has no fixture: the operation is not covered.
fn fill(path: &str, world: &CustomerWorld, staff: &StaffWorld) -> Option<String> {
    let id = match path {
        p if p.starts_with("/v1/companies/") => &world.company,
        p if p.starts_with("/v1/contacts/") => &world.contact,
        p if p.starts_with("/v1/quotes/") || p.starts_with("/v1/portal/quotes/") => &world.quote,
        p if p.starts_with("/v1/orders/{id}") || p.starts_with("/v1/portal/orders/") => {
            &world.order
        }
        p if p.starts_with("/v1/invoices/") || p.starts_with("/v1/portal/invoices/") => {
            &world.invoice
        }
        p if p.starts_with("/v1/returns/") || p.starts_with("/v1/portal/returns/") => &world.ret,
        p if p.starts_with("/v1/users/") => &world.user,
        p if p.starts_with("/v1/analytics/customers/") => &world.company,
        p if p.starts_with("/v1/products/") => &staff.product,
        p if p.starts_with("/v1/leads/") => &staff.lead,
        p if p.starts_with("/v1/opportunities/") => &staff.opportunity,
        p if p.starts_with("/v1/interactions/") => &staff.interaction,
        p if p.starts_with("/v1/pipelines/") => &staff.pipeline,
        p if p.starts_with("/v1/invoice-series/") => &staff.series,
        p if p.starts_with("/v1/self-billing/agreements/") => &staff.agreement,
        p if p.starts_with("/v1/api-keys/") => &staff.api_key,
        p if p.starts_with("/v1/webhook-endpoints/") => &staff.webhook_endpoint,
        p if p.starts_with("/v1/events/") => &staff.event,
        p if p.starts_with("/v1/integrations/connections/") => &staff.connection,
        p if p.starts_with("/v1/cases/") || p.starts_with("/v1/portal/cases/") => &staff.case,
        p if p.starts_with("/v1/csat/") => return Some(p.replace("{token}", "not-a-survey-token")),
        p if p.starts_with("/v1/unsubscribe/") => {
            return Some(p.replace("{token}", "not-a-signed-token"))
        }
        p if p.starts_with("/v1/schema/") => {
            return Some(
                p.replace("{object}", "contacts")
                    .replace("{key}", "security_suite"),
            )
        }
        p if p.starts_with("/v1/views/") => return Some(p.replace("{id}", "no-such-view")),
        p if p.starts_with("/v1/business-calendars/") => &staff.calendar,
        p if p.starts_with("/v1/sla-policies/") => &staff.policy,
        p if p.starts_with("/v1/teams/") => &staff.team,
        p if p.starts_with("/v1/campaigns/") => &staff.campaign,
        p if p.starts_with("/v1/segments/") => &staff.segment,
        p if p.starts_with("/v1/tasks/") => &staff.task,
        p if p.starts_with("/v1/visit-plans/") => &staff.visit_plan,
        p if p.starts_with("/v1/greeting-rules/") => &staff.greeting_rule,
        p if p.starts_with("/v1/follow-up-rules/") => &staff.follow_up_rule,
        p if p.starts_with("/v1/kb/articles/") => &staff.article,
        p if p.starts_with("/v1/portal/kb/articles/") => &staff.kb_draft,
        p if p.starts_with("/v1/integrations/") => {
            return Some(p.replace("{connection_id}", &staff.connection))
        }
        p if p.starts_with("/v1/exchange-rates/") => {
            return Some(
                p.replace("{currency}", "USD")
                    .replace("{date}", "2026-01-15"),
            )
        }
        p if p.starts_with("/v1/orders/by-external-id/") => {
            return Some(
                p.replace("{channel}", "shop")
                    .replace("{external_id}", "security-suite"),
            )
        }
        p if !p.contains('{') => return Some(p.to_owned()),
        _ => return None,
    };
    let filled = path
        .replace("{id}", id)
        .replace("{company_id}", id)
        .replace("{stage_id}", &staff.stage)
        .replace("{delivery_id}", &staff.delivery)
        .replace("{member_id}", &staff.member);
    (!filled.contains('{')).then_some(filled)
}

fn with_query(path: &str, query: &[(String, String)]) -> String {
    if query.is_empty() {
        return path.to_owned();
    }
    let pairs: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

async fn call(app: &TestApp, doc: &Value, op: &Operation, path: &str, token: &str) -> Response {
    let body = op.body.as_ref().map(|schema| sample(doc, schema, 0));
    let content_type = if op.method == Method::PATCH {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let mut builder = app
        .client
        .request(op.method.clone(), app.url(&with_query(path, &op.query)))
        .bearer_auth(token);
    if let Some(body) = body {
        builder = builder
            .header("content-type", content_type)
            .body(body.to_string());
    }
    TestApp::read(builder.send().await.unwrap()).await
}

async fn spec(app: &TestApp) -> Value {
    let r = app.get("/openapi.json").await;
    assert_eq!(r.status, 200);
    r.body
}

/// The staff records that need a customer to exist.
async fn complete_staff_world(app: &TestApp, staff: &mut StaffWorld, owner: &CustomerWorld) {
    staff.opportunity = app
        .create(
            "/v1/opportunities",
            json!({"name": "Deal", "company_id": owner.company, "amount": eur(100000), "expected_close_date": "2026-12-31"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    staff.interaction = app
        .create(
            "/v1/interactions",
            json!({"contact_id": owner.contact, "kind": "call", "subject": "Hello", "occurred_at": "2026-01-05T10:00:00Z"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    staff.case = app
        .create(
            "/v1/cases",
            json!({"subject": "Security", "company_id": owner.company, "channel": "email",
                "priority": "high", "category": "question"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    staff.agreement = app.create("/v1/self-billing/agreements", json!({"company_id": owner.company, "valid_from": "2026-01-01", "series_prefix": "SEC"})).await["id"].as_str().unwrap().to_owned();
}

/// Every text a customer can read, walked for anything that reveals cost or margin, or what we
/// derive from them or keep for ourselves: the tier, its year, the owner, the preferences.
fn cost_fields(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let lower = key.to_lowercase();
                if ["cost", "margin", "profit"]
                    .iter()
                    .any(|word| lower.contains(word))
                    || ["tier", "tier_basis_year", "owner_id", "preferences"]
                        .contains(&key.as_str())
                {
                    found.push(format!("{at}.{key}"));
                }
                cost_fields(v, &format!("{at}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                cost_fields(v, &format!("{at}[{i}]"), found);
            }
        }
        _ => {}
    }
}

on_both_backends! {
    async fn every_operation_is_authorized_as_the_matrix_says(app: TestApp) {
        let doc = spec(&app).await;
        let ops = operations(&doc);
        let uncovered: Vec<String> = ops.iter().filter(|op| requirement(op).is_none()).map(Operation::label).collect();
        assert!(uncovered.is_empty(), "operations with no BFLA case: {uncovered:?}");

        let mut staff = staff_world(&app).await;
        let mine = customer_world(&app, "Alpha").await;
        let theirs = customer_world(&app, "Beta").await;
        complete_staff_world(&app, &mut staff, &theirs).await;
        let not_filled: Vec<String> = ops.iter().filter(|op| fill(&op.path, &theirs, &staff).is_none()).map(Operation::label).collect();
        assert!(not_filled.is_empty(), "operations with no BOLA case: {not_filled:?}");

        let mut callers = Vec::new();
        for role in [Role::Admin, Role::Manager, Role::Sales, Role::Support] {
            callers.push(Caller { name: role.to_string(), role, scopes: None, token: app.token_for(role, None).await });
        }
        callers.push(Caller { name: "customer of Alpha".into(), role: Role::Customer, scopes: None, token: mine.token.clone() });
        for scopes in [vec!["contacts:read"], vec!["orders:write", "leads:intake"], vec!["contacts:merge", "companies:merge"]] {
            let key = app.create("/v1/api-keys", json!({"name": "suite", "scopes": scopes})).await["key"].as_str().unwrap().to_owned();
            callers.push(Caller {
                name: format!("API key {scopes:?}"),
                role: Role::Integration,
                scopes: Some(scopes.iter().map(|s| s.parse().unwrap()).collect()),
                token: key,
            });
        }

        let mut failures = Vec::new();
        // Destructive operations last, so that every caller meets the same records.
        let mut ordered: Vec<&Operation> = ops.iter().collect();
        ordered.sort_by_key(|op| op.method == Method::DELETE);
        for op in ordered {
            let required = requirement(op).unwrap();
            if required == Requirement::Public {
                continue;
            }
            let path = fill(&op.path, &theirs, &staff).unwrap();
            for caller in &callers {
                let r = call(&app, &doc, op, &path, &caller.token).await;
                let status = r.status.as_u16();
                let allowed = caller.allowed(&required);
                let customer = caller.role == Role::Customer;
                let fine = if status >= 500 {
                    false
                } else if !allowed {
                    status == 403
                } else if customer && op.path.contains('{') {
                    // Allowed by the matrix to reach its own company: Beta's records are not found.
                    status == 404
                } else {
                    status != 403 && status != 401
                };
                if !fine {
                    failures.push(format!("{} as {} ({}): {status} {}", op.label(), caller.name, if allowed { "allowed" } else { "denied" }, r.text.chars().take(160).collect::<String>()));
                }
            }
        }
        assert!(failures.is_empty(), "{} authorization failures:\n{}", failures.len(), failures.join("\n"));
    }

    async fn read_only_and_unknown_fields_are_refused_everywhere(app: TestApp) {
        let doc = spec(&app).await;
        let mut staff = staff_world(&app).await;
        let world = customer_world(&app, "Gamma").await;
        complete_staff_world(&app, &mut staff, &world).await;
        let mut failures = Vec::new();
        for op in operations(&doc) {
            // A shop's payload is its own shape, read by the mapping after its signature.
            if requirement(&op) == Some(Requirement::Public) {
                continue;
            }
            let Some(schema) = &op.body else { continue };
            let resolved = resolve(&doc, schema);
            if resolved["type"] != "object" && resolved.get("properties").is_none() {
                continue;
            }
            let path = fill(&op.path, &world, &staff).unwrap();
            let declared = resolved["properties"].as_object().cloned().unwrap_or_default();
            let token = if op.tag == "portal" { world.token.clone() } else { app.admin_token.clone() };
            for field in ["id", "version", "created_at", "updated_at", "tier", "owner_id", "unit_cost", "is_admin"] {
                if declared.contains_key(field) {
                    continue;
                }
                let mut body = sample(&doc, schema, 0);
                body[field] = json!("2026-01-01T00:00:00Z");
                let content_type = if op.method == Method::PATCH { "application/merge-patch+json" } else { "application/json" };
                let r = TestApp::read(app.client.request(op.method.clone(), app.url(&with_query(&path, &op.query)))
                    .bearer_auth(&token).header("content-type", content_type).body(body.to_string()).send().await.unwrap()).await;
                let named = r.body["errors"].as_array().is_some_and(|e| e.iter().any(|e| e["field"].as_str().is_some_and(|f| f.contains(field))));
                if r.status != 422 || !named {
                    failures.push(format!("{} with `{field}`: {} {}", op.label(), r.status, r.text.chars().take(160).collect::<String>()));
                }
            }
        }
        assert!(failures.is_empty(), "{} mass-assignment failures:\n{}", failures.len(), failures.join("\n"));
    }

    async fn nothing_a_customer_reads_reveals_cost_or_margin(app: TestApp) {
        let doc = spec(&app).await;
        let mut staff = staff_world(&app).await;
        let world = customer_world(&app, "Delta").await;
        complete_staff_world(&app, &mut staff, &world).await;
        let mut read = 0;
        let mut found = Vec::new();
        for op in operations(&doc).into_iter().filter(|op| op.method == Method::GET) {
            let Some(path) = fill(&op.path, &world, &staff) else { continue };
            let r = call(&app, &doc, &op, &path, &world.token).await;
            assert!(r.status.as_u16() < 500, "{}: {}", op.label(), r.status);
            if r.status == 200 {
                read += 1;
                cost_fields(&r.body, &op.path, &mut found);
            }
        }
        assert!(read >= 10, "the customer reads its company and the portal ({read} operations)");
        assert!(found.is_empty(), "cost or margin visible to a customer: {found:?}");
    }

    async fn hostile_parameters_and_fields_never_break_the_server(app: TestApp) {
        let doc = spec(&app).await;
        let mut staff = staff_world(&app).await;
        let world = customer_world(&app, "Epsilon").await;
        complete_staff_world(&app, &mut staff, &world).await;
        let hostile_text = [
            "' OR 1=1 --".to_owned(),
            "x'); DROP TABLE contacts; --".to_owned(),
            "\u{0}nul".to_owned(),
            "😀 emoji ☃".to_owned(),
            "a".repeat(20_000),
            "../../etc/passwd".to_owned(),
        ];
        let hostile_numbers = ["99999999999999999999999", "-1", "-9223372036854775808", "1e308", "NaN"];
        let contacts_before = app.get("/v1/contacts?limit=200").await.body["data"].as_array().unwrap().len();
        let mut failures = Vec::new();
        let mut requests = 0;
        for op in operations(&doc) {
            if requirement(&op) == Some(Requirement::Public) {
                continue;
            }
            let path = fill(&op.path, &world, &staff).unwrap();
            // Every query parameter, including raw invalid UTF-8.
            for (name, schema) in &op.query_params {
                let numeric = matches!(resolve(&doc, schema)["type"].as_str(), Some("integer" | "number"));
                let mut values: Vec<String> = if numeric { hostile_numbers.iter().map(|v| query_value(v)).collect() } else { hostile_text.iter().map(|v| query_value(v)).collect() };
                values.push("%FF%FE".to_owned());
                for value in values {
                    let mut query: Vec<String> = op.query.iter().filter(|(k, _)| k != name).map(|(k, v)| format!("{k}={}", query_value(v))).collect();
                    query.push(format!("{name}={value}"));
                    let url = app.url(&format!("{path}?{}", query.join("&")));
                    let r = TestApp::read(app.client.request(op.method.clone(), url).bearer_auth(&app.admin_token).send().await.unwrap()).await;
                    requests += 1;
                    if r.status.as_u16() >= 500 {
                        failures.push(format!("{} ?{name}={}: {}", op.label(), value.chars().take(40).collect::<String>(), r.status));
                    }
                }
            }
            // Every top-level field of every body.
            let Some(schema) = &op.body else { continue };
            let resolved = resolve(&doc, schema);
            let Some(props) = resolved["properties"].as_object() else { continue };
            for (field, prop) in props {
                let numeric = matches!(resolve(&doc, prop)["type"].as_str(), Some("integer" | "number"));
                let values: Vec<Value> = if numeric {
                    vec![json!(1e30), json!(-1), json!(i64::MIN), json!("12")]
                } else {
                    hostile_text.iter().map(|t| json!(t)).chain([json!(1e30), json!({"nested": [[[[]]]]})]).collect()
                };
                for value in values {
                    let mut body = sample(&doc, schema, 0);
                    body[field.as_str()] = value;
                    let content_type = if op.method == Method::PATCH { "application/merge-patch+json" } else { "application/json" };
                    let r = TestApp::read(app.client.request(op.method.clone(), app.url(&with_query(&path, &op.query)))
                        .bearer_auth(&app.admin_token).header("content-type", content_type).body(body.to_string()).send().await.unwrap()).await;
                    requests += 1;
                    if r.status.as_u16() >= 500 {
                        failures.push(format!("{} {field}: {} {}", op.label(), r.status, r.text.chars().take(120).collect::<String>()));
                    }
                }
            }
        }
        // Deeply nested JSON and invalid UTF-8 bodies.
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        for body in [deep.into_bytes(), b"{\"last_name\": \"\xFF\xFE\"}".to_vec()] {
            let r = TestApp::read(app.client.post(app.url("/v1/contacts")).bearer_auth(&app.admin_token).header("content-type", "application/json").body(body).send().await.unwrap()).await;
            assert!(r.status.is_client_error(), "{}", r.status);
        }
        assert!(failures.is_empty(), "{} server errors out of {requests} hostile requests:\n{}", failures.len(), failures.join("\n"));
        assert!(requests > 500, "{requests} hostile requests");
        let after = app.get("/v1/contacts?limit=200").await;
        assert_eq!(after.status, 200, "the contacts table is intact");
        assert!(after.body["data"].as_array().unwrap().len() >= contacts_before);

        // Text is stored faithfully and read back identical.
        for text in ["' OR 1=1 --", "😀 emoji ☃ ñ", "<script>alert(1)</script>", "Robert'); DROP TABLE contacts;--"] {
            let created = app.create("/v1/contacts", json!({"last_name": text})).await;
            let read = app.get(&format!("/v1/contacts/{}", created["id"].as_str().unwrap())).await;
            assert_eq!(read.body["last_name"], text);
        }
    }

    async fn headers_reveal_nothing_and_analytics_are_bounded(app: TestApp) {
        let r = app.get("/v1/contacts").await;
        assert!(r.header("server").is_none_or(|s| !s.chars().any(|c| c.is_ascii_digit())), "no server version: {:?}", r.header("server"));
        assert!(r.header("x-powered-by").is_none());
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let company = app.create("/v1/companies", json!({"name": "Bounded"})).await["id"].as_str().unwrap().to_owned();
        for path in [
            format!("/v1/analytics/customers/{company}/profit?from=1000-01&to=9999-12"),
            "/v1/analytics/customers?period=1000-01..9999-12".to_owned(),
            "/v1/analytics/products?period=1000-01..9999-12".to_owned(),
            "/v1/analytics/commissions?period=1000-01..9999-12".to_owned(),
        ] {
            let r = app.get(&path).await;
            assert_eq!(r.status, 422, "{path}: at most ten years at once");
        }
        for id in ["%00", "x%00y", "%27%20OR%201%3D1--", "..%2F..%2Fetc%2Fpasswd", "%F0%9F%98%80"] {
            for prefix in ["/v1/contacts/", "/v1/companies/", "/v1/orders/", "/v1/invoices/"] {
                let r = app.get(&format!("{prefix}{id}")).await;
                assert_eq!(r.status, 404, "{prefix}{id}: {}", r.text);
            }
        }
        let r = app.get("/v1/contacts?limit=100000").await;
        assert!(r.status == 200 || r.status == 422);
        let passwords = app.get("/v1/users?limit=200").await;
        assert!(!passwords.text.to_lowercase().contains("password"), "no password or hash is ever returned");
    }
}

/// The matrix and the suite's callers agree on which scopes exist.
#[test]
fn the_suite_knows_every_resource_of_the_matrix() {
    let tagged: BTreeMap<&str, Resource> = [
        "users",
        "api-keys",
        "companies",
        "contacts",
        "interactions",
        "leads",
        "products",
        "quotes",
        "orders",
        "pipelines",
        "opportunities",
        "exchange-rates",
        "settings",
        "invoices",
        "returns",
        "portal",
        "analytics",
        "events",
        "webhooks",
        "integrations",
        "cases",
        "service",
        "knowledge-base",
        "campaigns",
        "campaign-costs",
        "consents",
        "segments",
        "tasks",
        "visit-plans",
        "automation-rules",
    ]
    .into_iter()
    .map(|t| (t, resource_of_tag(t).unwrap()))
    .collect();
    for resource in Resource::ALL {
        assert!(
            tagged.values().any(|r| *r == resource),
            "{resource:?} has no tag"
        );
    }
}
