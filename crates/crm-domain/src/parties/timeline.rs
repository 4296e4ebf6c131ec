//! The timeline of a customer: every kind of record that touched them, newest first.

text_enum! {
    /// Kinds of timeline entries. Quotes, orders, returns and invoices join as they land.
    TimelineKind {
        Interaction => "interaction",
        Quote => "quote",
        Order => "order",
        Opportunity => "opportunity",
        Return => "return",
    }
}
