//! The OpenAPI 3.1 `webhooks` object: one entry per event type, whose body is the event with
//! `data` typed as its resource, so that generated clients get a model for each. utoipa 5 does
//! not build this object (its issue #686), so it is added to the document as JSON.

use crm_domain::events::catalogue::{EventResource, EventType};
use serde_json::{json, Map, Value};

use EventType as E;

/// A pushed order: created or changed, with the verb of its new status, and the customer the
/// push matched or made.
const ORDER_PUSH: &[EventType] = &[
    E::OrderCreated,
    E::OrderUpdated,
    E::OrderPaid,
    E::OrderFulfilled,
    E::OrderCancelled,
    E::ContactCreated,
    E::CompanyCreated,
];

/// A shop's webhook: its order pushed, and its refunds recorded as returns, credited when the
/// order is invoiced.
const SHOP_WEBHOOK: &[EventType] = &[
    E::OrderCreated,
    E::OrderUpdated,
    E::OrderPaid,
    E::OrderFulfilled,
    E::OrderCancelled,
    E::ContactCreated,
    E::CompanyCreated,
    E::ReturnCreated,
    E::ReturnUpdated,
    E::ReturnApproved,
    E::ReturnReceived,
    E::ReturnResolved,
    E::CreditNoteCreated,
    E::CreditNoteIssued,
    E::InvoiceCredited,
];

/// What each writing operation emits; the route-table test holds every writing operation to
/// this list or to [`CONFIGURATION`].
pub const EMITS: &[(&str, &[EventType])] = &[
    ("createCompany", &[E::CompanyCreated]),
    ("updateCompany", &[E::CompanyUpdated]),
    ("deleteCompany", &[E::CompanyArchived]),
    ("createContact", &[E::ContactCreated]),
    ("updateContact", &[E::ContactUpdated]),
    ("deleteContact", &[E::ContactArchived]),
    ("mergeContacts", &[E::ContactMerged, E::ContactUpdated]),
    ("mergeCompanies", &[E::CompanyMerged, E::CompanyUpdated]),
    (
        "batchUpsertCompanies",
        &[E::CompanyCreated, E::CompanyUpdated],
    ),
    (
        "batchUpsertContacts",
        &[E::ContactCreated, E::ContactUpdated],
    ),
    ("createInteraction", &[E::InteractionCreated]),
    ("updateInteraction", &[E::InteractionUpdated]),
    ("deleteInteraction", &[E::InteractionDeleted]),
    ("createLead", &[E::LeadCreated]),
    ("intakeLead", &[E::LeadCreated]),
    ("updateLead", &[E::LeadUpdated]),
    ("deleteLead", &[E::LeadArchived]),
    ("assignLead", &[E::LeadAssigned]),
    ("qualifyLead", &[E::LeadQualified]),
    ("disqualifyLead", &[E::LeadDisqualified]),
    (
        "convertLead",
        &[
            E::LeadConverted,
            E::ContactCreated,
            E::CompanyCreated,
            E::OpportunityCreated,
            E::QuoteCreated,
        ],
    ),
    ("createProduct", &[E::ProductCreated]),
    ("updateProduct", &[E::ProductUpdated]),
    ("deleteProduct", &[E::ProductArchived]),
    ("createQuote", &[E::QuoteCreated]),
    ("updateQuote", &[E::QuoteUpdated]),
    ("sendQuote", &[E::QuoteSent]),
    ("acceptQuote", &[E::QuoteAccepted, E::OpportunityUpdated]),
    ("rejectQuote", &[E::QuoteRejected]),
    ("cancelQuote", &[E::QuoteCancelled]),
    ("reviseQuote", &[E::QuoteRevised, E::QuoteCreated]),
    ("convertQuote", &[E::QuoteConverted, E::OrderCreated]),
    ("upsertOrder", ORDER_PUSH),
    ("importOrders", ORDER_PUSH),
    ("receiveShopifyWebhook", SHOP_WEBHOOK),
    ("receiveWooCommerceWebhook", SHOP_WEBHOOK),
    ("payOrder", &[E::OrderPaid]),
    ("fulfilOrder", &[E::OrderFulfilled]),
    ("cancelOrder", &[E::OrderCancelled]),
    ("createOpportunity", &[E::OpportunityCreated]),
    ("updateOpportunity", &[E::OpportunityUpdated]),
    ("deleteOpportunity", &[E::OpportunityArchived]),
    ("createInvoice", &[E::InvoiceCreated]),
    ("updateInvoice", &[E::InvoiceUpdated]),
    ("deleteInvoice", &[E::InvoiceDeleted]),
    (
        "issueInvoice",
        &[E::InvoiceIssued, E::CreditNoteIssued, E::InvoiceCredited],
    ),
    ("createCreditNote", &[E::CreditNoteCreated]),
    (
        "createPayment",
        &[E::InvoicePaymentRecorded, E::InvoicePaid],
    ),
    ("acceptSelfBilledInvoice", &[E::InvoiceAccepted]),
    ("disputeSelfBilledInvoice", &[E::InvoiceDisputed]),
    ("createAgreement", &[E::SelfBillingAgreementCreated]),
    ("terminateAgreement", &[E::SelfBillingAgreementTerminated]),
    (
        "createSelfBilledInvoice",
        &[E::InvoiceCreated, E::InvoiceIssued],
    ),
    ("createReturn", &[E::ReturnCreated]),
    ("updateReturn", &[E::ReturnUpdated]),
    ("approveReturn", &[E::ReturnApproved]),
    ("rejectReturn", &[E::ReturnRejected]),
    ("receiveReturn", &[E::ReturnReceived]),
    (
        "resolveReturn",
        &[E::ReturnResolved, E::CreditNoteIssued, E::InvoiceCredited],
    ),
    ("closeReturn", &[E::ReturnClosed]),
    ("withdrawReturn", &[E::ReturnWithdrawn]),
    (
        "acceptPortalQuote",
        &[E::QuoteAccepted, E::OpportunityUpdated],
    ),
    ("rejectPortalQuote", &[E::QuoteRejected]),
    ("createPortalReturn", &[E::ReturnCreated]),
    ("updateFiscalData", &[E::CompanyUpdated]),
    ("recomputeTiers", &[E::CompanyTierChanged]),
    ("testWebhookEndpoint", &[E::WebhookEndpointTest]),
    ("createCase", &[E::CaseCreated]),
    ("createCampaign", &[E::CampaignCreated]),
    ("updateCampaign", &[E::CampaignUpdated]),
    (
        "activateCampaign",
        &[E::CampaignActivated, E::CampaignMembersChanged],
    ),
    ("completeCampaign", &[E::CampaignCompleted]),
    ("cancelCampaign", &[E::CampaignCancelled]),
    ("addCampaignCost", &[E::CampaignCostAdded]),
    ("addCampaignMembers", &[E::CampaignMembersChanged]),
    ("setCampaignMemberStatus", &[E::CampaignMembersChanged]),
    ("recordConsent", &[E::ContactUpdated]),
    ("unsubscribe", &[E::ContactUpdated]),
    ("updateCase", &[E::CaseUpdated]),
    ("assignCase", &[E::CaseAssigned]),
    ("openCase", &[E::CaseOpened]),
    ("pendCase", &[E::CasePended, E::CaseEscalated]),
    ("resolveCase", &[E::CaseResolved, E::CaseEscalated]),
    ("reopenCase", &[E::CaseReopened]),
    ("closeCase", &[E::CaseClosed]),
    ("createCaseComment", &[E::CaseCommented, E::CaseEscalated]),
    (
        "runMaintenance",
        &[
            E::CaseEscalated,
            E::CaseClosed,
            E::TaskCreated,
            E::TaskReminderDue,
        ],
    ),
    ("createTask", &[E::TaskCreated]),
    ("updateTask", &[E::TaskUpdated]),
    ("completeTask", &[E::TaskCompleted]),
    ("cancelTask", &[E::TaskCancelled]),
    ("reopenTask", &[E::TaskReopened]),
    ("answerSurvey", &[E::CaseUpdated]),
    ("answerPortalSurvey", &[E::CaseUpdated]),
    ("createPortalCase", &[E::CaseCreated]),
    ("createPortalCaseComment", &[E::CaseCommented]),
];

/// Writing operations that change configuration, not business records, and searches sent as a
/// `POST` body: they emit nothing.
pub const CONFIGURATION: &[&str] = &[
    // Signs a token; writes nothing.
    "createUnsubscribeLink",
    // Saved filters: their members change with the records, which emit their own events.
    "createSegment",
    "updateSegment",
    "deleteSegment",
    "previewSegment",
    "snapshotSegment",
    // Plans and rules: the tasks they make emit `task.created`.
    "createVisitPlan",
    "updateVisitPlan",
    "deleteVisitPlan",
    "createGreetingRule",
    "updateGreetingRule",
    "deleteGreetingRule",
    "createFollowUpRule",
    "updateFollowUpRule",
    "deleteFollowUpRule",
    "searchContacts",
    "searchCompanies",
    "searchLeads",
    "searchOpportunities",
    "searchOrders",
    "dismissContactDuplicates",
    "dismissCompanyDuplicates",
    "createCustomField",
    "updateCustomField",
    "deleteCustomField",
    "createView",
    "updateView",
    "deleteView",
    "createToken",
    "refreshToken",
    "revokeToken",
    "createUser",
    "updateUser",
    "deleteUser",
    "createApiKey",
    "deleteApiKey",
    "createPipeline",
    "updatePipeline",
    "deletePipeline",
    "createStage",
    "updateStage",
    "createInvoiceSeries",
    "updateInvoiceSeries",
    "setCommissionRates",
    "putExchangeRate",
    "deleteExchangeRate",
    "updateCompanySettings",
    "createWebhookEndpoint",
    "updateWebhookEndpoint",
    "deleteWebhookEndpoint",
    "rotateWebhookSecret",
    "enableWebhookEndpoint",
    "disableWebhookEndpoint",
    "replayWebhookDelivery",
    "replayWebhookEvents",
    "createConnection",
    "updateConnection",
    "deleteConnection",
    "createBusinessCalendar",
    "updateBusinessCalendar",
    "deleteBusinessCalendar",
    "createSlaPolicy",
    "updateSlaPolicy",
    "deleteSlaPolicy",
    "createTeam",
    "updateTeam",
    "deleteTeam",
    "updateServiceSettings",
    "freezeServiceClock",
    "resumeServiceClock",
    "createKbArticle",
    "updateKbArticle",
    "publishKbArticle",
    "archiveKbArticle",
    "restoreKbArticle",
    "rateKbArticle",
    "linkCaseArticle",
];

/// Marks each operation of the document with the events it emits (`x-events`), or as
/// configuration (`x-configuration`).
fn declare_events(document: &mut Value) {
    let Some(Value::Object(paths)) = document.get_mut("paths") else {
        return;
    };
    for item in paths.values_mut() {
        let Value::Object(item) = item else { continue };
        for operation in item.values_mut() {
            let Some(id) = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let Value::Object(operation) = operation else {
                continue;
            };
            if let Some((_, types)) = EMITS.iter().find(|(op, _)| *op == id) {
                let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                operation.insert("x-events".to_owned(), json!(names));
            } else if CONFIGURATION.contains(&id.as_str()) {
                operation.insert("x-configuration".to_owned(), json!(true));
            }
        }
    }
}

/// The component schema each resource's `GET` answers with.
fn resource_schema(resource: EventResource) -> &'static str {
    match resource {
        EventResource::Contact => "Contact",
        EventResource::Company => "Company",
        EventResource::Product => "Product",
        EventResource::Interaction => "Interaction",
        EventResource::Lead => "Lead",
        EventResource::Opportunity => "Opportunity",
        EventResource::Quote => "Quote",
        EventResource::Order => "Order",
        EventResource::Return => "Return",
        EventResource::Invoice | EventResource::CreditNote => "Invoice",
        EventResource::SelfBillingAgreement => "Agreement",
        EventResource::WebhookEndpoint => "WebhookEndpoint",
        EventResource::Case => "Case",
        EventResource::Campaign => "Campaign",
        EventResource::Task => "Task",
    }
}

/// `self_billing_agreement.created` as `SelfBillingAgreementCreated`.
fn pascal_case(text: &str) -> String {
    text.split(['.', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn event_schema_name(resource: EventResource) -> String {
    format!("{}Event", pascal_case(resource.as_str()))
}

fn operation_id(event: EventType) -> String {
    format!("on{}", pascal_case(event.as_str()))
}

fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": true, "description": description, "schema": {"type": "string"}})
}

/// Adds the event schemas, the `webhooks` object and each operation's events to a serialised
/// document.
pub fn add_webhooks(document: &mut Value) {
    declare_events(document);
    let mut schemas = Map::new();
    for resource in EventResource::ALL {
        let types: Vec<&str> = EventType::ALL
            .iter()
            .filter(|t| t.resource() == *resource)
            .map(|t| t.as_str())
            .collect();
        schemas.insert(
            event_schema_name(*resource),
            json!({
                "type": "object",
                "description": format!("An event about a {}: `data` is the resource as its `GET` answered an admin when the event happened.", resource.as_str().replace('_', " ")),
                "required": ["id", "type", "occurred_at", "data"],
                "properties": {
                    "id": {"type": "string", "format": "uuid", "description": "Event id; the `webhook-id` header."},
                    "type": {"type": "string", "enum": types, "description": "`<resource>.<verb>`."},
                    "occurred_at": {"type": "string", "format": "date-time", "description": "When it happened."},
                    "data": {"$ref": format!("#/components/schemas/{}", resource_schema(*resource))}
                }
            }),
        );
    }
    let mut webhooks = Map::new();
    for event in EventType::ALL {
        webhooks.insert(
            event.as_str().to_owned(),
            json!({"post": {
                "tags": ["webhooks"],
                "operationId": operation_id(*event),
                // The receiver checks the signature, not a credential of ours.
                "security": [],
                "summary": event.as_str(),
                "description": "Sent to each enabled endpoint subscribed to this type. Verify `webhook-signature` with the endpoint's secret (Standard Webhooks), and keep the highest `version` of a resource: a retry may arrive after a later event.",
                "parameters": [
                    header("webhook-id", "The event id, the same on every retry and replay."),
                    header("webhook-timestamp", "Unix seconds when this attempt was signed."),
                    header("webhook-signature", "`v1,<base64 HMAC-SHA256 of \"{id}.{timestamp}.{body}\">`, one per valid secret, space-separated.")
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", event_schema_name(event.resource()))}}}},
                "responses": {
                    "200": {"description": "Received. Any 2xx counts; anything else is retried, and `410` disables the endpoint."}
                }
            }}),
        );
    }
    if let Some(Value::Object(existing)) = document.pointer_mut("/components/schemas") {
        existing.extend(schemas);
    }
    if let Value::Object(root) = document {
        root.insert("webhooks".to_owned(), Value::Object(webhooks));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_an_entry_typed_by_its_resource() {
        let mut document = json!({"components": {"schemas": {}}});
        add_webhooks(&mut document);
        assert_eq!(
            document["webhooks"].as_object().unwrap().len(),
            EventType::ALL.len()
        );
        let body = &document["webhooks"]["credit_note.issued"]["post"]["requestBody"];
        assert_eq!(
            body["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/CreditNoteEvent"
        );
        let schema = &document["components"]["schemas"]["CreditNoteEvent"];
        assert_eq!(
            schema["properties"]["data"]["$ref"],
            "#/components/schemas/Invoice"
        );
        assert_eq!(
            operation_id(EventType::SelfBillingAgreementCreated),
            "onSelfBillingAgreementCreated"
        );
    }

    /// An event schema named like a schema of the routes would replace it in the document.
    #[test]
    fn event_schemas_take_no_name_of_the_routes() {
        let routes = serde_json::to_value(crate::openapi()).unwrap();
        let taken = routes["components"]["schemas"].as_object().unwrap();
        for resource in EventResource::ALL {
            let name = event_schema_name(*resource);
            assert!(
                !taken.contains_key(&name),
                "{name} is a schema of the routes"
            );
        }
    }
}
