//! The timeline of a customer: every kind of record that touched them, newest first.

use chrono::NaiveDateTime;

text_enum! {
    /// Kinds of timeline entries. Quotes, orders, returns and invoices join as they land.
    TimelineKind {
        Interaction => "interaction",
        Quote => "quote",
        Order => "order",
        Opportunity => "opportunity",
        Return => "return",
        /// A change of a support case; `detail` is its event type, such as `status_changed`.
        Case => "case",
        /// Another record merged into this one; `id` is the merge's, listed under `/merges`,
        /// and `detail` the merged record's id.
        Merge => "merge",
        /// A task about the customer; `detail` is its status.
        Task => "task",
        /// A campaign the customer was added to; `id` is the membership's, `detail` its
        /// status.
        Campaign => "campaign",
        /// A consent event; `detail` is its channel.
        Consent => "consent",
    }
}

/// Whose timeline: a contact's, or a company's with all of its contacts.
pub enum Subject {
    Contact(String),
    Company(String),
}

#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub kind: TimelineKind,
    pub id: String,
    pub at: NaiveDateTime,
    /// A one-line description, such as the interaction's subject.
    pub summary: String,
    /// The kind's own classification, such as `call` for an interaction.
    pub detail: Option<String>,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub user_id: Option<String>,
}
