//! Invoices: kinds and their UBL codes, numbering, derived payment status, what may still be
//! credited or paid, and the integrity chain.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use crate::platform::money::add_minor;
use crate::platform::transitions::IllegalTransition;
use crate::sales::totals::TaxLine;
use crate::Violation;

text_enum! {
    /// What a fiscal document is.
    InvoiceKind {
        Invoice => "invoice",
        CreditNote => "credit_note",
        SelfBilled => "self_billed",
        SelfBilledCreditNote => "self_billed_credit_note",
    }
}

impl InvoiceKind {
    /// The UBL document type code (UNTDID 1001).
    pub fn type_code(self) -> &'static str {
        match self {
            InvoiceKind::Invoice => "380",
            InvoiceKind::CreditNote => "381",
            InvoiceKind::SelfBilled => "389",
            InvoiceKind::SelfBilledCreditNote => "261",
        }
    }

    pub fn is_credit(self) -> bool {
        matches!(
            self,
            InvoiceKind::CreditNote | InvoiceKind::SelfBilledCreditNote
        )
    }
}

text_enum! {
    /// The state an invoice reads as. Only `draft`, `issued`, `pending_acceptance` and
    /// `disputed` are stored; the payment states are derived from payments and the due date.
    InvoiceStatus {
        Draft => "draft",
        PendingAcceptance => "pending_acceptance",
        Disputed => "disputed",
        Issued => "issued",
        PartiallyPaid => "partially_paid",
        Paid => "paid",
        Overdue => "overdue",
        Credited => "credited",
    }
}

impl InvoiceStatus {
    /// Whether the status is stored, and so can filter a list; the payment states are derived.
    pub fn is_stored(self) -> bool {
        matches!(
            self,
            InvoiceStatus::Draft
                | InvoiceStatus::Issued
                | InvoiceStatus::PendingAcceptance
                | InvoiceStatus::Disputed
        )
    }
}

/// The payment state of an issued invoice: credited in full with nothing paid, paid in full,
/// overdue (a balance past its due date), partially paid, or issued. Credit notes are plain issued documents.
pub fn payment_status(
    kind: InvoiceKind,
    total_minor: i64,
    credited_minor: i64,
    paid_minor: i64,
    due_date: Option<NaiveDate>,
    today: NaiveDate,
) -> InvoiceStatus {
    if kind.is_credit() {
        return InvoiceStatus::Issued;
    }
    let payable = total_minor - credited_minor;
    if payable <= 0 && paid_minor == 0 {
        InvoiceStatus::Credited
    } else if paid_minor >= payable {
        InvoiceStatus::Paid
    } else if due_date.is_some_and(|due| due < today) {
        InvoiceStatus::Overdue
    } else if paid_minor > 0 {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Issued
    }
}

/// A payment must be positive and not exceed what is still owed.
pub fn check_payment(
    amount_minor: i64,
    total_minor: i64,
    credited_minor: i64,
    paid_minor: i64,
) -> Result<(), Violation> {
    if amount_minor <= 0 {
        return Err(Violation::new("amount", "must be greater than zero"));
    }
    let owed = total_minor - credited_minor - paid_minor;
    if amount_minor > owed {
        return Err(Violation::new(
            "amount",
            format!("exceeds the {owed} minor units still owed"),
        ));
    }
    Ok(())
}

/// A payment is in the currency of the invoice it pays: no conversion happens on the ledger.
pub fn check_payment_currency(paid: &str, invoiced: &str) -> Result<(), Violation> {
    if paid == invoiced {
        Ok(())
    } else {
        Err(Violation::new(
            "amount.currency",
            format!("must be {invoiced}"),
        ))
    }
}

/// An invoice gathers at most this many orders, so that one document stays printable.
pub const MAX_ORDERS_PER_INVOICE: usize = 100;

/// Refuses a request for an invoice of more orders than [`MAX_ORDERS_PER_INVOICE`].
pub fn check_order_count(count: usize) -> Result<(), Violation> {
    if count > MAX_ORDERS_PER_INVOICE {
        Err(Violation::new(
            "order_ids",
            "at most 100 orders per invoice",
        ))
    } else {
        Ok(())
    }
}

/// A credit note may not credit more than what is left of the original.
pub fn check_credit(
    credit_total_minor: i64,
    original_total_minor: i64,
    credited_minor: i64,
) -> Result<(), Violation> {
    let creditable = original_total_minor - credited_minor;
    if credit_total_minor <= 0 {
        return Err(Violation::new(
            "lines",
            "a credit note must credit something",
        ));
    }
    if credit_total_minor > creditable {
        return Err(Violation::new(
            "lines",
            format!(
                "credits {credit_total_minor} but only {creditable} minor units remain creditable"
            ),
        ));
    }
    Ok(())
}

/// One line of an invoice as credit notes see it: what was invoiced on it, and what issued
/// credit notes already took back, in net minor units and in units (milli). Units count only
/// credits at the invoiced price, which take goods back; a credit at a lower price corrects
/// the price and takes amount only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditableLine {
    pub invoiced_milli: i64,
    pub invoiced_net_minor: i64,
    pub credited_milli: i64,
    pub credited_net_minor: i64,
}

impl CreditableLine {
    pub fn remaining_milli(&self) -> i64 {
        self.invoiced_milli - self.credited_milli
    }
}

/// What credit lines ask of one line of the original: units at the invoiced price, which
/// take goods back, and their net; and the net of price corrections at a lower price.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CreditAsked {
    pub milli: i64,
    pub net_minor: i64,
    pub corrected_net_minor: i64,
}

impl CreditAsked {
    /// Adds a credit line of `milli` units at `unit_price_minor`, worth `net_minor`, against a
    /// line invoiced at `invoiced_price_minor`.
    pub fn add(
        &mut self,
        invoiced_price_minor: i64,
        unit_price_minor: i64,
        milli: i64,
        net_minor: i64,
    ) {
        if unit_price_minor == invoiced_price_minor {
            self.milli += milli;
            self.net_minor += net_minor;
        } else {
            self.corrected_net_minor += net_minor;
        }
    }

    /// Whether any of it corrected the price.
    pub fn corrects_price(&self) -> bool {
        self.corrected_net_minor != 0
    }
}

/// Units at the invoiced price never exceed the units left: their net follows from the price,
/// and rounding per document may make it differ from the line's net left by a cent. A price
/// correction never exceeds the amount left once those units are taken. `field` names the
/// credit line.
pub fn check_credit_line(
    field: &str,
    line: CreditableLine,
    asked: CreditAsked,
) -> Result<(), Violation> {
    if asked.milli > line.remaining_milli() {
        return Err(Violation::new(
            format!("{field}.quantity"),
            format!(
                "only {} of the line remain creditable",
                crate::platform::money::Quantity::from_milli(line.remaining_milli().max(0))
            ),
        ));
    }
    let net_left = line.invoiced_net_minor - line.credited_net_minor - asked.net_minor;
    if asked.corrected_net_minor > net_left.max(0) {
        return Err(Violation::new(
            format!("{field}.unit_price"),
            format!(
                "corrects {} but only {} minor units of the line remain",
                asked.corrected_net_minor,
                net_left.max(0)
            ),
        ));
    }
    Ok(())
}

/// A credit note reverses, at each VAT rate, no more taxable base than the original still has
/// at that rate once `credited` (the issued credit notes) is taken off: a credit of 121.00 at 0%
/// against 100.00 + 21% VAT reverses base that was never invoiced at 0%. Its tax is bounded by
/// `settle_credit_taxes`, which never takes more than the tax left at a rate.
pub fn check_credit_by_rate(
    original: &[TaxLine],
    credited: &[TaxLine],
    credit: &[TaxLine],
) -> Result<(), Violation> {
    for line in credit {
        let rate = line.rate_bp;
        let Some(invoiced) = original.iter().find(|o| o.rate_bp == rate) else {
            return Err(Violation::new(
                "lines",
                format!("the original invoices nothing at {} VAT", percent(rate)),
            ));
        };
        let base_left = invoiced.base_minor - taken_at(credited, rate).0;
        if line.base_minor > base_left {
            return Err(Violation::new(
                "lines",
                format!(
                    "at {} VAT the credit reverses a base of {}, but only {base_left} minor units remain",
                    percent(rate),
                    line.base_minor
                ),
            ));
        }
    }
    Ok(())
}

/// The tax a credit note prints, rate by rate: the rounding of its own base, but never more
/// than the tax left at that rate; and, at a rate where it takes all the base that remains of
/// the original's, exactly the tax left. So a sequence of partial credits reverses the
/// invoice's tax to the cent, where each rounding on its own would leave a cent behind or ask
/// for one too many, and no note ever reverses tax that was not invoiced.
pub fn settle_credit_taxes(
    original: &[TaxLine],
    credited: &[TaxLine],
    credit: &[TaxLine],
) -> Vec<TaxLine> {
    credit
        .iter()
        .map(|line| {
            let Some(invoiced) = original.iter().find(|o| o.rate_bp == line.rate_bp) else {
                return *line;
            };
            let (base_taken, tax_taken) = taken_at(credited, line.rate_bp);
            let tax_left = (invoiced.tax_minor - tax_taken).max(0);
            let tax_minor = if line.base_minor == invoiced.base_minor - base_taken {
                tax_left
            } else {
                line.tax_minor.min(tax_left)
            };
            TaxLine { tax_minor, ..*line }
        })
        .collect()
}

/// The base and the tax that `credited` took at `rate_bp`.
fn taken_at(credited: &[TaxLine], rate_bp: i64) -> (i64, i64) {
    credited
        .iter()
        .filter(|c| c.rate_bp == rate_bp)
        .fold((0, 0), |(base, tax), c| {
            (
                base.saturating_add(c.base_minor),
                tax.saturating_add(c.tax_minor),
            )
        })
}

fn percent(rate_bp: i64) -> String {
    format!("{}.{:02}%", rate_bp / 100, rate_bp % 100)
}

/// What VAT Directive 2006/112/EC, art. 226, asks an invoice to print, checked at issue:
/// a line at 0% needs the legal reason it is exempt (226(11)) unless the customer accounts
/// for the VAT (reverse charge, 226(11a)); a reverse charge needs the customer's VAT number
/// (226(4)), and puts every line at 0%.
pub fn check_vat_mentions(
    rates_bp: &[i64],
    exemption_reason: Option<&str>,
    reverse_charge: bool,
    recipient_tax_id: Option<&str>,
) -> Result<(), crate::Violations> {
    let mut violations = Vec::new();
    let has_reason = exemption_reason.is_some_and(|r| !r.trim().is_empty());
    if !reverse_charge && !has_reason && rates_bp.contains(&0) {
        violations.push(Violation::new(
            "exemption_reason",
            "a line at 0% VAT needs the legal reason for the exemption, printed on the invoice (art. 226(11))",
        ));
    }
    if reverse_charge {
        if recipient_tax_id.is_none_or(|t| t.trim().is_empty()) {
            violations.push(Violation::new(
                "recipient.tax_id",
                "a reverse charge needs the customer's VAT number (art. 226(4)); set the company's tax_id",
            ));
        }
        if rates_bp.iter().any(|r| *r != 0) {
            violations.push(Violation::new(
                "lines",
                "under a reverse charge the customer accounts for the VAT: every line is at 0%",
            ));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(crate::Violations(violations))
    }
}

text_enum! {
    /// What can be done to an invoice or credit note, as the store asks before it writes.
    InvoiceAction {
        Edit => "edit",
        Delete => "delete",
        Issue => "issue",
        Pay => "pay",
        Credit => "credit",
        Accept => "accept",
        Dispute => "dispute",
    }
}

/// The actions a document of `kind` allows in its stored `status`. A draft is edited,
/// deleted or issued; an issued invoice is paid or credited; a self-billed invoice awaiting
/// the customer's acceptance is accepted or disputed, and a disputed one can only be
/// credited. A credit note, once issued, allows nothing.
pub fn allowed_actions(kind: InvoiceKind, status: InvoiceStatus) -> Vec<InvoiceAction> {
    use InvoiceAction::*;
    match (status, kind.is_credit()) {
        (InvoiceStatus::Draft, _) => vec![Edit, Delete, Issue],
        (InvoiceStatus::PendingAcceptance, false) => vec![Accept, Dispute],
        (InvoiceStatus::Disputed, false) => vec![Credit],
        (
            InvoiceStatus::Issued
            | InvoiceStatus::PartiallyPaid
            | InvoiceStatus::Paid
            | InvoiceStatus::Overdue
            | InvoiceStatus::Credited,
            false,
        ) => vec![Pay, Credit],
        _ => vec![],
    }
}

/// Whether `action` is allowed on a document of `kind` in its stored `status`.
pub fn check_action(
    kind: InvoiceKind,
    status: InvoiceStatus,
    action: InvoiceAction,
) -> Result<(), IllegalTransition> {
    let allowed = allowed_actions(kind, status);
    if allowed.contains(&action) {
        return Ok(());
    }
    let document = if kind.is_credit() {
        "credit note"
    } else {
        "invoice"
    };
    Err(IllegalTransition::refused(
        document,
        action.as_str(),
        status.as_str(),
        allowed.iter().map(|a| a.as_str()),
    ))
}

/// `F-2026-000001` with a yearly reset, `F-000001` without.
pub fn invoice_number(prefix: &str, year: Option<i32>, sequence: i64) -> String {
    match year {
        Some(year) => format!("{prefix}-{year}-{sequence:06}"),
        None => format!("{prefix}-{sequence:06}"),
    }
}

/// The link of a document in its series' chain: SHA-256 over the previous link and the
/// document's canonical content. Changing any issued document, or removing one, breaks every
/// later link.
pub fn chain_hash(previous_hash: &str, canonical_content: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(previous_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_content.as_bytes());
    hex::encode(hasher.finalize())
}

/// What is still owed on an issued invoice: its total less its credit notes and payments.
pub fn outstanding_minor(total_minor: i64, credited_minor: i64, paid_minor: i64) -> i64 {
    total_minor - credited_minor - paid_minor
}

/// What a customer's invoices in one currency still owe, and how much of that is overdue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Receivable {
    pub unpaid_minor: i64,
    pub overdue_minor: i64,
}

/// The receivables per currency of invoices given as (currency, outstanding, due date), on
/// `today`: an invoice is overdue the day after its due date. Currencies with nothing unpaid
/// are left out.
pub fn receivables<'a>(
    invoices: impl IntoIterator<Item = (&'a str, i64, Option<NaiveDate>)>,
    today: NaiveDate,
) -> Result<std::collections::BTreeMap<String, Receivable>, Violation> {
    let mut by_currency: std::collections::BTreeMap<String, Receivable> = Default::default();
    for (currency, owed, due) in invoices {
        let entry = by_currency.entry(currency.to_owned()).or_default();
        entry.unpaid_minor = add_minor("receivables", entry.unpaid_minor, owed)?;
        if due.is_some_and(|d| d < today) {
            entry.overdue_minor = add_minor("receivables", entry.overdue_minor, owed)?;
        }
    }
    by_currency.retain(|_, r| r.unpaid_minor > 0);
    Ok(by_currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stored_statuses_filter_and_payments_keep_the_invoice_currency() {
        assert!(InvoiceStatus::PendingAcceptance.is_stored());
        assert!(!InvoiceStatus::Paid.is_stored());
        assert!(check_payment_currency("EUR", "EUR").is_ok());
        assert!(check_payment_currency("USD", "EUR").is_err());
        assert!(check_order_count(100).is_ok());
        assert!(check_order_count(101).is_err());
    }

    fn tax(rate_bp: i64, base_minor: i64, tax_minor: i64) -> TaxLine {
        TaxLine {
            rate_bp,
            base_minor,
            tax_minor,
        }
    }

    #[test]
    fn the_last_partial_credit_takes_exactly_the_tax_left() {
        // 2 × 0.03 at 21%: 0.06 + 0.01. Each unit alone rounds to 0.03 + 0.01.
        let original = [tax(2100, 6, 1)];
        let first = settle_credit_taxes(&original, &[], &[tax(2100, 3, 1)]);
        assert_eq!(first, [tax(2100, 3, 1)], "not the last: its own rounding");
        let last = settle_credit_taxes(&original, &first, &[tax(2100, 3, 1)]);
        assert_eq!(last, [tax(2100, 3, 0)], "a cent too many otherwise");
        // 2 × 0.02 at 21%: 0.04 + 0.01; each unit alone rounds to no tax at all.
        let original = [tax(2100, 4, 1)];
        let first = settle_credit_taxes(&original, &[], &[tax(2100, 2, 0)]);
        let last = settle_credit_taxes(&original, &first, &[tax(2100, 2, 0)]);
        assert_eq!(last, [tax(2100, 2, 1)], "a cent left behind otherwise");
        let whole = settle_credit_taxes(&original, &[], &[tax(2100, 4, 1)]);
        assert_eq!(whole, [tax(2100, 4, 1)]);
        let other_rate = settle_credit_taxes(&original, &[], &[tax(1000, 2, 0)]);
        assert_eq!(
            other_rate,
            [tax(1000, 2, 0)],
            "refused elsewhere, left as it is"
        );
    }

    #[test]
    fn no_partial_credit_takes_tax_that_is_not_left() {
        // 5 × 0.03 at 21%: 0.15 + 0.03. One unit alone rounds to 0.03 + 0.01.
        let original = [tax(2100, 15, 3)];
        let mut credited = Vec::new();
        for _ in 0..5 {
            let note = settle_credit_taxes(&original, &credited, &[tax(2100, 3, 1)]);
            assert!(note[0].tax_minor >= 0);
            credited.extend(note);
        }
        let taxes: Vec<i64> = credited.iter().map(|t| t.tax_minor).collect();
        assert_eq!(
            taxes,
            [1, 1, 1, 0, 0],
            "the invoice's 0.03 of tax, and no more"
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn type_codes_follow_ubl() {
        assert_eq!(InvoiceKind::Invoice.type_code(), "380");
        assert_eq!(InvoiceKind::CreditNote.type_code(), "381");
        assert_eq!(InvoiceKind::SelfBilled.type_code(), "389");
        assert_eq!(InvoiceKind::SelfBilledCreditNote.type_code(), "261");
    }

    #[test]
    fn payment_states_are_derived() {
        let today = d("2026-03-10");
        let status =
            |paid, due| payment_status(InvoiceKind::Invoice, 1000, 0, paid, Some(d(due)), today);
        assert_eq!(status(0, "2026-03-31"), InvoiceStatus::Issued);
        assert_eq!(status(400, "2026-03-31"), InvoiceStatus::PartiallyPaid);
        assert_eq!(status(1000, "2026-03-31"), InvoiceStatus::Paid);
        assert_eq!(status(400, "2026-03-01"), InvoiceStatus::Overdue);
        assert_eq!(status(1000, "2026-03-01"), InvoiceStatus::Paid);
        assert_eq!(
            payment_status(InvoiceKind::Invoice, 1000, 600, 400, None, today),
            InvoiceStatus::Paid,
            "credited part is not owed"
        );
        assert_eq!(
            payment_status(InvoiceKind::Invoice, 1000, 1000, 0, None, today),
            InvoiceStatus::Credited,
            "fully credited and unpaid is not paid"
        );
    }

    #[test]
    fn overpayment_is_refused() {
        assert!(check_payment(600, 1000, 0, 400).is_ok());
        assert!(check_payment(601, 1000, 0, 400).is_err());
        assert!(check_payment(1, 1000, 1000, 0).is_err());
        assert!(check_payment(0, 1000, 0, 0).is_err());
    }

    #[test]
    fn credit_never_exceeds_what_remains() {
        assert!(check_credit(1000, 1000, 0).is_ok());
        assert!(check_credit(501, 1000, 500).is_err());
        assert!(check_credit(0, 1000, 0).is_err());
    }

    #[test]
    fn numbers_are_padded() {
        assert_eq!(invoice_number("F", Some(2026), 1), "F-2026-000001");
        assert_eq!(invoice_number("R", None, 42), "R-000042");
    }

    #[test]
    fn the_chain_changes_with_any_byte() {
        let a = chain_hash("", "{\"n\":1}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, chain_hash("", "{\"n\":2}"));
        assert_ne!(chain_hash(&a, "x"), chain_hash("other", "x"));
    }

    #[test]
    fn a_credit_stays_within_each_rate() {
        let at = |rate_bp, base_minor, tax_minor| TaxLine {
            rate_bp,
            base_minor,
            tax_minor,
        };
        let original = [at(2100, 10000, 2100)];
        let wrong_rate = check_credit_by_rate(&original, &[], &[at(0, 12100, 0)]).unwrap_err();
        assert!(
            wrong_rate.message.contains("nothing at 0.00% VAT"),
            "{}",
            wrong_rate.message
        );
        assert!(check_credit_by_rate(&original, &[], &[at(2100, 10000, 2100)]).is_ok());
        let half = [at(2100, 5000, 1050)];
        assert!(check_credit_by_rate(&original, &half, &half).is_ok());
        let too_much = check_credit_by_rate(&original, &half, &[at(2100, 5001, 1050)]).unwrap_err();
        assert!(
            too_much.message.contains("only 5000 minor units"),
            "{}",
            too_much.message
        );
        let six_cents = [at(2100, 6, 1)];
        let first = [at(2100, 3, 1)];
        assert!(
            check_credit_by_rate(&six_cents, &first, &[at(2100, 3, 1)]).is_ok(),
            "the last partial credit carries its own rounded tax"
        );
    }

    #[test]
    fn issued_documents_are_immutable() {
        use InvoiceAction::*;
        let invoice = InvoiceKind::Invoice;
        for action in [Edit, Delete, Issue] {
            assert!(check_action(invoice, InvoiceStatus::Draft, action).is_ok());
            let refused = check_action(invoice, InvoiceStatus::Issued, action).unwrap_err();
            assert_eq!(refused.state, "issued");
            assert_eq!(refused.allowed, ["pay", "credit"]);
        }
        assert!(check_action(invoice, InvoiceStatus::Draft, Pay).is_err());
        assert!(check_action(InvoiceKind::CreditNote, InvoiceStatus::Issued, Pay).is_err());
        assert!(check_action(InvoiceKind::CreditNote, InvoiceStatus::Issued, Credit).is_err());
        assert!(check_action(invoice, InvoiceStatus::PendingAcceptance, Pay).is_err());
        let self_billed = InvoiceKind::SelfBilled;
        assert!(check_action(self_billed, InvoiceStatus::PendingAcceptance, Accept).is_ok());
        assert!(check_action(self_billed, InvoiceStatus::Disputed, Accept).is_err());
    }

    #[test]
    fn a_line_is_credited_at_most_once() {
        let line = CreditableLine {
            invoiced_milli: 2000,
            invoiced_net_minor: 1807,
            credited_milli: 1000,
            credited_net_minor: 904,
        };
        let units = |milli, net_minor| CreditAsked {
            milli,
            net_minor,
            corrected_net_minor: 0,
        };
        assert!(
            check_credit_line("lines[0]", line, units(1000, 904)).is_ok(),
            "the last unit, a cent over the net left by rounding"
        );
        let too_many = check_credit_line("lines[0]", line, units(1500, 1356)).unwrap_err();
        assert_eq!(too_many.field, "lines[0].quantity");
        assert!(
            too_many.message.contains("only 1 of the line"),
            "{}",
            too_many.message
        );
        let correction = |corrected_net_minor| CreditAsked {
            corrected_net_minor,
            ..CreditAsked::default()
        };
        assert!(check_credit_line("lines[0]", line, correction(903)).is_ok());
        let mut asked = CreditAsked::default();
        asked.add(1000, 1000, 1000, 904);
        asked.add(1000, 400, 1000, 361);
        assert_eq!(
            (asked.milli, asked.net_minor, asked.corrected_net_minor),
            (1000, 904, 361)
        );
        assert!(
            asked.corrects_price(),
            "a lower price corrects, it takes no units back"
        );
        assert_eq!(
            check_credit_line("lines[0]", line, correction(904))
                .unwrap_err()
                .field,
            "lines[0].unit_price"
        );
    }

    #[test]
    fn zero_rated_lines_say_why() {
        let fields = |r: Result<(), crate::Violations>| -> Vec<String> {
            r.err()
                .map_or(vec![], |v| v.0.into_iter().map(|v| v.field).collect())
        };
        assert_eq!(
            fields(check_vat_mentions(&[2100, 0], None, false, None)),
            ["exemption_reason"]
        );
        assert!(check_vat_mentions(&[0], Some("Art. 20.Uno.9 LIVA"), false, None).is_ok());
        assert!(check_vat_mentions(&[2100], None, false, None).is_ok());
        assert!(check_vat_mentions(&[0], None, true, Some("DE123456789")).is_ok());
        assert_eq!(
            fields(check_vat_mentions(&[0], None, true, None)),
            ["recipient.tax_id"]
        );
        assert_eq!(
            fields(check_vat_mentions(&[2100], None, true, Some("DE1"))),
            ["lines"]
        );
    }

    #[test]
    fn a_sum_past_i64_is_refused_not_wrapped() {
        let refused = receivables([("EUR", i64::MAX, None), ("EUR", 1, None)], NaiveDate::MIN);
        assert_eq!(refused.unwrap_err().field, "receivables");
    }

    #[test]
    fn receivables_sum_what_is_owed_per_currency_and_what_is_overdue() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
        let owed = receivables(
            [
                ("EUR", outstanding_minor(12_100, 2_100, 5_000), Some(day(1))),
                ("EUR", 1_000, Some(day(10))),
                ("USD", 0, None),
            ],
            day(5),
        )
        .unwrap();
        assert_eq!(owed.len(), 1, "nothing unpaid in USD");
        assert_eq!(
            owed["EUR"],
            Receivable {
                unpaid_minor: 6_000,
                overdue_minor: 5_000
            }
        );
    }
}
