//! Every event the API emits, as `<resource>.<verb>`, and the patterns that subscribe to them.

use crate::Violation;

text_enum! {
    /// The resource whose `GET`, as an admin sees it, is an event's `data`.
    EventResource {
        Contact => "contact",
        Company => "company",
        Product => "product",
        Interaction => "interaction",
        Lead => "lead",
        Opportunity => "opportunity",
        Quote => "quote",
        Order => "order",
        Return => "return",
        Invoice => "invoice",
        CreditNote => "credit_note",
        SelfBillingAgreement => "self_billing_agreement",
        WebhookEndpoint => "webhook_endpoint",
        Case => "case",
        Campaign => "campaign",
        Task => "task",
    }
}

text_enum! {
    /// What happened: one verb per creation, change, removal and state action.
    EventType {
        ContactCreated => "contact.created",
        ContactUpdated => "contact.updated",
        ContactArchived => "contact.archived",
        ContactMerged => "contact.merged",
        CompanyCreated => "company.created",
        CompanyUpdated => "company.updated",
        CompanyArchived => "company.archived",
        CompanyTierChanged => "company.tier_changed",
        CompanyMerged => "company.merged",
        ProductCreated => "product.created",
        ProductUpdated => "product.updated",
        ProductArchived => "product.archived",
        InteractionCreated => "interaction.created",
        InteractionUpdated => "interaction.updated",
        InteractionDeleted => "interaction.deleted",
        LeadCreated => "lead.created",
        LeadUpdated => "lead.updated",
        LeadArchived => "lead.archived",
        LeadAssigned => "lead.assigned",
        LeadQualified => "lead.qualified",
        LeadDisqualified => "lead.disqualified",
        LeadConverted => "lead.converted",
        OpportunityCreated => "opportunity.created",
        OpportunityUpdated => "opportunity.updated",
        OpportunityArchived => "opportunity.archived",
        QuoteCreated => "quote.created",
        QuoteUpdated => "quote.updated",
        QuoteSent => "quote.sent",
        QuoteAccepted => "quote.accepted",
        QuoteRejected => "quote.rejected",
        QuoteCancelled => "quote.cancelled",
        QuoteRevised => "quote.revised",
        QuoteConverted => "quote.converted",
        OrderCreated => "order.created",
        OrderUpdated => "order.updated",
        OrderPaid => "order.paid",
        OrderFulfilled => "order.fulfilled",
        OrderCancelled => "order.cancelled",
        ReturnCreated => "return.created",
        ReturnUpdated => "return.updated",
        ReturnApproved => "return.approved",
        ReturnRejected => "return.rejected",
        ReturnReceived => "return.received",
        ReturnResolved => "return.resolved",
        ReturnClosed => "return.closed",
        ReturnWithdrawn => "return.withdrawn",
        InvoiceCreated => "invoice.created",
        InvoiceUpdated => "invoice.updated",
        InvoiceDeleted => "invoice.deleted",
        InvoiceIssued => "invoice.issued",
        InvoicePaymentRecorded => "invoice.payment_recorded",
        InvoicePaid => "invoice.paid",
        InvoiceCredited => "invoice.credited",
        InvoiceAccepted => "invoice.accepted",
        InvoiceDisputed => "invoice.disputed",
        CreditNoteCreated => "credit_note.created",
        CreditNoteIssued => "credit_note.issued",
        SelfBillingAgreementCreated => "self_billing_agreement.created",
        SelfBillingAgreementTerminated => "self_billing_agreement.terminated",
        WebhookEndpointTest => "webhook_endpoint.test",
        WebhookEndpointDisabled => "webhook_endpoint.disabled",
        CaseCreated => "case.created",
        CaseUpdated => "case.updated",
        CaseAssigned => "case.assigned",
        CaseOpened => "case.opened",
        CasePended => "case.pended",
        CaseResolved => "case.resolved",
        CaseReopened => "case.reopened",
        CaseClosed => "case.closed",
        CaseCommented => "case.commented",
        CaseEscalated => "case.escalated",
        CampaignCreated => "campaign.created",
        CampaignUpdated => "campaign.updated",
        CampaignActivated => "campaign.activated",
        CampaignCompleted => "campaign.completed",
        CampaignCancelled => "campaign.cancelled",
        CampaignCostAdded => "campaign.cost_added",
        CampaignMembersChanged => "campaign.members_changed",
        TaskCreated => "task.created",
        TaskUpdated => "task.updated",
        TaskCompleted => "task.completed",
        TaskCancelled => "task.cancelled",
        TaskReopened => "task.reopened",
        /// Its `reminder_at` came; sent once.
        TaskReminderDue => "task.reminder_due",
    }
}

impl EventType {
    /// The resource this event is about; its `data` is that resource's `GET`.
    pub fn resource(self) -> EventResource {
        let prefix = self.as_str().split('.').next().unwrap_or_default();
        EventResource::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == prefix)
            .unwrap_or(EventResource::WebhookEndpoint)
    }

    /// Whether the event says its resource is gone, so that its `data` is the resource as it
    /// was just before.
    pub fn removes(self) -> bool {
        self.as_str().ends_with(".deleted")
    }
}

/// What a subscriber or a reader asks for: every event (`*`), every event of one resource
/// (`order.*`), or one type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPattern {
    All,
    Resource(EventResource),
    Exact(EventType),
}

impl EventPattern {
    pub fn parse(text: &str, field: &str) -> Result<Self, Violation> {
        let text = text.trim();
        if text == "*" {
            return Ok(EventPattern::All);
        }
        if let Some(resource) = text.strip_suffix(".*") {
            return resource
                .parse::<EventResource>()
                .map(EventPattern::Resource)
                .map_err(|_| {
                    Violation::new(field, format!("`{text}` names no resource of events"))
                });
        }
        text.parse::<EventType>()
            .map(EventPattern::Exact)
            .map_err(|_| Violation::new(field, format!("`{text}` is not an event type")))
    }

    /// A comma-separated list, as `?type=` takes it; empty entries are refused.
    pub fn parse_list(text: &str, field: &str) -> Result<Vec<Self>, Violation> {
        text.split(',')
            .map(|part| Self::parse(part, field))
            .collect()
    }

    pub fn matches(self, event: EventType) -> bool {
        match self {
            EventPattern::All => true,
            EventPattern::Resource(resource) => event.resource() == resource,
            EventPattern::Exact(exact) => exact == event,
        }
    }

    /// The types the pattern stands for, for a SQL `IN` list.
    pub fn expand(patterns: &[Self]) -> Vec<EventType> {
        EventType::ALL
            .iter()
            .copied()
            .filter(|t| patterns.iter().any(|p| p.matches(*t)))
            .collect()
    }

    pub fn to_text(self) -> String {
        match self {
            EventPattern::All => "*".to_owned(),
            EventPattern::Resource(resource) => format!("{resource}.*"),
            EventPattern::Exact(event) => event.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_names_a_known_resource() {
        for event in EventType::ALL {
            let prefix = event.as_str().split('.').next().unwrap();
            assert_eq!(event.resource().as_str(), prefix, "{event}");
        }
    }

    #[test]
    fn patterns_match_by_resource_and_exactly() {
        let orders = EventPattern::parse("order.*", "type").unwrap();
        assert!(orders.matches(EventType::OrderPaid));
        assert!(!orders.matches(EventType::InvoicePaid));
        let paid = EventPattern::parse("invoice.paid", "type").unwrap();
        assert!(paid.matches(EventType::InvoicePaid));
        assert!(!paid.matches(EventType::InvoiceIssued));
        assert!(EventPattern::parse("*", "type")
            .unwrap()
            .matches(EventType::LeadConverted));
        let expanded = EventPattern::expand(&[orders, paid]);
        assert!(expanded.contains(&EventType::OrderCreated));
        assert!(expanded.contains(&EventType::InvoicePaid));
        assert!(!expanded.contains(&EventType::InvoiceIssued));
    }

    #[test]
    fn unknown_types_and_resources_are_refused() {
        assert_eq!(
            EventPattern::parse("order.shipped", "event_types[0]")
                .unwrap_err()
                .field,
            "event_types[0]"
        );
        assert!(EventPattern::parse("ship.*", "type").is_err());
        assert!(EventPattern::parse_list("order.paid,", "type").is_err());
        assert_eq!(
            EventPattern::parse_list("order.paid, lead.*", "type")
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn only_deletions_remove() {
        assert!(EventType::InvoiceDeleted.removes());
        assert!(!EventType::ContactArchived.removes());
    }
}
