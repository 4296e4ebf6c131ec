//! `/v1/invoices` and `/v1/invoice-series`: fiscal documents that obey the law. Numbers are
//! gapless per series and assigned at issue; issued documents are immutable and chained.

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use crm_domain::access::permissions::{Access, Resource};
use crm_domain::billing::invoices::{
    check_order_count, outstanding_minor, InvoiceKind, InvoiceStatus,
};
use crm_domain::Violations;
use crm_store::billing::invoice_series::{self as series_store, SeriesFields};
use crm_store::billing::invoices::{
    self as store, CreditLineDraft, DraftChanges, DraftInput, InvoiceFilter, PaymentInput,
    VatMentions,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::platform::actions::ActionTarget;
use crate::platform::auth::Principal;
use crate::platform::error::{ApiError, Problem};
use crate::platform::extract::{ApiJson, ApiQuery, IfMatch, PagedQuery};
use crate::platform::fields::{patch, Checker, LONG, SHORT};
use crate::platform::money::Money;
use crate::platform::pagination::{fixed_order, read_page, respond, ListResponse, PageQuery};
use crate::platform::respond::{created, utc, utc_opt, versioned};
use crate::platform::state::AppState;
use crate::sales::documents::{line_drafts, totals_output, LineInput, TotalsOutput};

const SORT: &str = "-created_at";

/// A line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLine {
    /// The line's id; a credit note names it to credit the line.
    pub id: String,
    /// On a credit note: the line of the corrected invoice it credits.
    pub credits_line_id: Option<String>,
    /// The order it invoices, if any.
    pub order_id: Option<String>,
    /// The order line it invoices, if any; an order line is invoiced at most once.
    pub order_line_id: Option<String>,
    /// The product, if any.
    pub product_id: Option<String>,
    /// What is invoiced.
    pub description: String,
    /// Exact decimal string.
    pub quantity: String,
    /// Price per unit.
    pub unit_price: Money,
    /// Discount in basis points.
    pub discount_bp: i64,
    /// Tax rate in basis points.
    pub tax_rate_bp: i64,
    /// quantity × unit price, rounded.
    pub gross: Money,
    /// The line's discount, rounded.
    pub discount: Money,
    /// gross − discount.
    pub net: Money,
}

/// Our fiscal data as printed on an issued document. The store keeps it as frozen JSON, which
/// the integrity chain covers, and the response passes it on as it is: these types only describe
/// that JSON to the OpenAPI document and are never built.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct IssuerSnapshot {
    legal_name: String,
    tax_id: String,
    address: SnapshotAddress,
    email: Option<String>,
    phone: Option<String>,
}

/// The customer's fiscal data as printed on an issued document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RecipientSnapshot {
    company_id: String,
    name: String,
    legal_name: Option<String>,
    tax_id: Option<String>,
    address: SnapshotAddress,
    email: Option<String>,
}

/// An address as frozen on a document.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SnapshotAddress {
    line1: Option<String>,
    line2: Option<String>,
    city: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
}

/// An invoice, credit note or self-billed document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invoice {
    /// Server-assigned id.
    pub id: String,
    /// What document this is.
    pub kind: InvoiceKind,
    /// UBL document type code: 380 invoice, 381 credit note, 389 self-billed invoice, 261
    /// self-billed credit note.
    pub type_code: String,
    /// Its series.
    pub series_id: String,
    /// Assigned at issue, gapless within the series; null for drafts.
    pub number: Option<String>,
    /// draft; pending_acceptance or disputed (self-billing); issued, partially_paid, paid or
    /// overdue (derived from payments and the due date).
    pub status: InvoiceStatus,
    /// The customer company.
    pub company_id: String,
    /// ISO 4217 currency of every amount.
    pub currency: String,
    /// Set at issue.
    pub issue_date: Option<NaiveDate>,
    /// Payment due; 30 days after issue unless set.
    pub due_date: Option<NaiveDate>,
    /// Notes printed on the invoice.
    pub notes: Option<String>,
    /// For credit notes: the invoice corrected.
    pub corrects_invoice_id: Option<String>,
    /// For credit notes: why.
    pub correction_reason: Option<String>,
    /// For issued credit notes: the number of the invoice corrected, as printed.
    pub corrects_number: Option<String>,
    /// Why its lines at 0% VAT are exempt, printed (VAT Directive art. 226(11)).
    pub exemption_reason: Option<String>,
    /// The customer accounts for the VAT (art. 226(11a)); printed as a legal mention.
    pub reverse_charge: bool,
    /// The date of supply, where it differs from the issue date (art. 226(7)).
    pub supply_date: Option<NaiveDate>,
    /// For self-billed documents: the agreement.
    pub agreement_id: Option<String>,
    /// Mentions the document must carry, such as "Self-billing".
    pub legal_mentions: Vec<String>,
    /// Our fiscal data, frozen at issue; `null` on a draft.
    #[schema(value_type = Option<IssuerSnapshot>)]
    pub issuer: Option<serde_json::Value>,
    /// The customer's fiscal data, frozen at issue; `null` on a draft.
    #[schema(value_type = Option<RecipientSnapshot>)]
    pub recipient: Option<serde_json::Value>,
    /// The lines.
    pub lines: Vec<InvoiceLine>,
    /// Totals, with the documented rounding rule.
    pub totals: TotalsOutput,
    /// Credited by issued credit notes.
    pub credited: Money,
    /// Paid so far.
    pub paid: Money,
    /// Still owed: total − credited − paid (zero for credit notes).
    pub outstanding: Money,
    /// Its place in its series' chain: the number's sequence, gapless within the series and
    /// year. Null on a draft.
    pub sequence: Option<i64>,
    /// The hash of the series' previous document (`""` for the first). Null on a draft.
    pub previous_hash: Option<String>,
    /// This document's link in its series' integrity chain: SHA-256 of `previous_hash`, a
    /// newline and the canonical form in docs/ledger.md, in lowercase hex.
    pub hash: Option<String>,
    /// The canonical form `hash` was computed in (docs/ledger.md): 3 since it covers the tax per
    /// rate as printed, 2 since the due date, notes and agreement, 1 before.
    pub chain_format: i64,
    /// When it was issued.
    pub issued_at: Option<DateTime<Utc>>,
    /// For self-billed invoices: when it was accepted or disputed.
    pub decided_at: Option<DateTime<Utc>>,
    /// For self-billed invoices: why it was disputed.
    pub dispute_reason: Option<String>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When the draft was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<store::Invoice> for Invoice {
    fn from(i: store::Invoice) -> Self {
        let c = i.currency.clone();
        let outstanding = if i.kind.is_credit() || i.number.is_none() {
            0
        } else {
            outstanding_minor(i.totals.total_minor, i.credited_minor, i.paid_minor)
        };
        let mut legal_mentions = match i.kind {
            InvoiceKind::SelfBilled | InvoiceKind::SelfBilledCreditNote => {
                vec!["Self-billing".to_owned()]
            }
            _ => Vec::new(),
        };
        if i.vat.reverse_charge {
            legal_mentions.push("Reverse charge".to_owned());
        }
        Invoice {
            legal_mentions,
            type_code: i.kind.type_code().to_owned(),
            lines: i
                .lines
                .iter()
                .zip(&i.totals.lines)
                .map(|(l, a)| InvoiceLine {
                    id: l.id.clone().unwrap_or_default(),
                    credits_line_id: l.credits_line_id.clone(),
                    order_id: l.order_id.clone(),
                    order_line_id: l.order_line_id.clone(),
                    product_id: l.line.product_id.clone(),
                    description: l.line.description.clone(),
                    quantity: l.line.quantity.to_string(),
                    unit_price: Money::new(l.line.unit_price_minor, &c),
                    discount_bp: l.line.discount_bp,
                    tax_rate_bp: l.line.tax_rate_bp,
                    gross: Money::new(a.gross_minor, &c),
                    discount: Money::new(a.discount_minor, &c),
                    net: Money::new(a.net_minor, &c),
                })
                .collect(),
            totals: totals_output(&i.totals, &c),
            credited: Money::new(i.credited_minor, &c),
            paid: Money::new(i.paid_minor, &c),
            outstanding: Money::new(outstanding, &c),
            id: i.id,
            kind: i.kind,
            series_id: i.series_id,
            number: i.number,
            status: i.status,
            company_id: i.company_id,
            issue_date: i.issue_date,
            due_date: i.due_date,
            notes: i.notes,
            corrects_invoice_id: i.corrects_invoice_id,
            correction_reason: i.correction_reason,
            agreement_id: i.agreement_id,
            issuer: i.issuer,
            recipient: i.recipient,
            sequence: i.sequence,
            previous_hash: i.previous_hash,
            hash: i.hash,
            chain_format: i.chain_format,
            corrects_number: i.corrects_number,
            exemption_reason: i.vat.exemption_reason,
            reverse_charge: i.vat.reverse_charge,
            supply_date: i.vat.supply_date,
            issued_at: utc_opt(i.issued_at),
            decided_at: utc_opt(i.decided_at),
            dispute_reason: i.dispute_reason,
            version: i.version,
            created_at: utc(i.created_at),
            updated_at: utc(i.updated_at),
            currency: c,
        }
    }
}

/// A new draft invoice: orders of one company and/or manual lines.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"company_id": "0193a1b2-0000-7000-8000-000000000001", "order_ids": ["0193a1b2-0000-7000-8000-0000000000aa"]}))]
pub struct InvoiceCreate {
    /// The customer company.
    pub company_id: String,
    /// Orders of that company to invoice in full; none may already be invoiced.
    #[serde(default)]
    pub order_ids: Vec<String>,
    /// Manual lines.
    #[serde(default)]
    pub lines: Vec<LineInput>,
    /// Required when no orders are given; otherwise the orders' currency.
    pub currency: Option<String>,
    /// Its series; default the default invoice series.
    pub series_id: Option<String>,
    /// Payment due; default 30 days after issue.
    pub due_date: Option<NaiveDate>,
    /// Notes printed on the invoice.
    pub notes: Option<String>,
    /// Why its lines at 0% VAT are exempt, as the law words it (for example "Exento, art.
    /// 20.Uno.9 LIVA"); printed, and required to issue a document with a 0% line.
    pub exemption_reason: Option<String>,
    /// The customer accounts for the VAT (reverse charge): every line at 0%, and the customer
    /// must have a VAT number (`tax_id`) to issue. Default false.
    pub reverse_charge: Option<bool>,
    /// When the goods or services were supplied, if not on the issue date; printed.
    pub supply_date: Option<NaiveDate>,
}

/// The VAT mentions a document prints (VAT Directive art. 226), checked; shared with the
/// self-billed invoices of the portal.
pub(crate) fn vat_mentions(
    c: &mut Checker,
    exemption_reason: Option<&str>,
    reverse_charge: Option<bool>,
    supply_date: Option<NaiveDate>,
) -> VatMentions {
    VatMentions {
        exemption_reason: c.optional("exemption_reason", exemption_reason, SHORT),
        reverse_charge: reverse_charge.unwrap_or(false),
        supply_date,
    }
}

/// Records a violation when more orders are asked for than one invoice may gather; shared with
/// the self-billed invoices of the portal.
pub(crate) fn check_order_ids(c: &mut Checker, order_ids: &[String]) {
    if let Err(violation) = check_order_count(order_ids.len()) {
        c.violations.push(violation);
    }
}

impl InvoiceCreate {
    fn into_input(self) -> Result<DraftInput, ApiError> {
        let mut c = Checker::default();
        let currency = self
            .currency
            .as_deref()
            .and_then(|code| c.currency("currency", code));
        let lines = line_drafts(&mut c, self.lines, currency.as_deref());
        let notes = c.optional("notes", self.notes.as_deref(), LONG);
        let vat = vat_mentions(
            &mut c,
            self.exemption_reason.as_deref(),
            self.reverse_charge,
            self.supply_date,
        );
        check_order_ids(&mut c, &self.order_ids);
        c.finish()?;
        Ok(DraftInput {
            company_id: self.company_id,
            currency,
            series_id: self.series_id,
            due_date: self.due_date,
            notes,
            order_ids: self.order_ids,
            lines,
            vat,
        })
    }
}

/// Changes to a draft, as a JSON Merge Patch. Issued documents are immutable.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"due_date": "2026-12-31"}))]
pub struct InvoiceUpdate {
    /// Payment due.
    #[serde(default, deserialize_with = "patch")]
    pub due_date: Option<Option<NaiveDate>>,
    /// Notes.
    #[serde(default, deserialize_with = "patch")]
    pub notes: Option<Option<String>>,
    /// Why its lines at 0% VAT are exempt.
    #[serde(default, deserialize_with = "patch")]
    pub exemption_reason: Option<Option<String>>,
    /// The customer accounts for the VAT.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub reverse_charge: Option<Option<bool>>,
    /// When the goods or services were supplied, if not on the issue date.
    #[serde(default, deserialize_with = "patch")]
    pub supply_date: Option<Option<NaiveDate>>,
}

impl InvoiceUpdate {
    fn into_changes(self) -> Result<DraftChanges, ApiError> {
        let mut c = Checker::default();
        let changes = DraftChanges {
            due_date: self.due_date,
            notes: self.notes.map(|n| c.optional("notes", n.as_deref(), LONG)),
            exemption_reason: self
                .exemption_reason
                .map(|r| c.optional("exemption_reason", r.as_deref(), SHORT)),
            reverse_charge: match self.reverse_charge {
                Some(None) => {
                    c.not_null("reverse_charge");
                    None
                }
                other => other.flatten(),
            },
            supply_date: self.supply_date,
        };
        c.finish()?;
        Ok(changes)
    }
}

/// Filters and paging for the invoice list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListQuery {
    /// Only this customer.
    pub company_id: Option<String>,
    /// Only this kind.
    pub kind: Option<InvoiceKind>,
    /// Only this series.
    pub series_id: Option<String>,
    /// `draft`, `issued` (whatever its payment state), `pending_acceptance` or `disputed`.
    pub status: Option<InvoiceStatus>,
}

impl InvoiceListQuery {
    fn into_filter(self) -> Result<InvoiceFilter, ApiError> {
        if self.status.is_some_and(|s| !s.is_stored()) {
            return Err(ApiError::validation(
                "status",
                "filter by draft, issued, pending_acceptance or disputed; payment states are derived",
            ));
        }
        Ok(InvoiceFilter {
            company_id: self.company_id,
            kind: self.kind,
            series_id: self.series_id,
            stored_status: self.status,
            numbered_only: false,
        })
    }
}

#[utoipa::path(tag = "invoices", operation_id = "listInvoices", summary = "List invoices and credit notes", description = "Newest first.",
    params(InvoiceListQuery, PageQuery),
    responses((status = 200, description = "A page of invoices", body = ListResponse<Invoice>)))]
#[get("/invoices")]
pub async fn list_invoices(
    state: web::Data<AppState>,
    principal: Principal,
    PagedQuery(query, paging): PagedQuery<InvoiceListQuery>,
) -> Result<web::Json<ListResponse<Invoice>>, ApiError> {
    principal.authorize(Resource::Invoices, Access::Read)?;
    let page = fixed_order(SORT, &paging)?;
    let filter = query.into_filter()?;
    read_page(&state, store::list, filter, page, SORT, Invoice::from).await
}

#[utoipa::path(tag = "invoices", operation_id = "createInvoice", summary = "Create a draft invoice",
    description = "From orders of one company (each order line is invoiced at most once) and/or manual lines. Issue it with `POST /v1/invoices/{id}/issue`.",
    request_body = InvoiceCreate,
    responses(
        (status = 201, description = "The draft", body = Invoice, headers(("Location" = String, description = "URL of the draft"), ("ETag" = String, description = "Its version"))),
        (status = 409, description = "An order is already invoiced; `existing_id` names the invoice", body = Problem, content_type = "application/problem+json")))]
#[post("/invoices")]
pub async fn create_invoice(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<InvoiceCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let input = body.into_input()?;
    let invoice = state
        .db
        .write(move |conn| store::create_draft(conn, input))
        .await?;
    Ok(created(
        format!("/v1/invoices/{}", invoice.id),
        invoice.version,
        &Invoice::from(invoice),
    ))
}

#[utoipa::path(tag = "invoices", operation_id = "getInvoice", summary = "Get an invoice",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "The invoice", body = Invoice, headers(("ETag" = String, description = "Its version")))))]
#[get("/invoices/{id}")]
pub async fn get_invoice(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(Resource::Invoices, store::get, |r| r.version, Invoice::from)
        .await
}

#[utoipa::path(tag = "invoices", operation_id = "updateInvoice", summary = "Update a draft invoice",
    description = "Only drafts change. An issued document gets `409`: correct it with a credit note.",
    params(("id" = String, Path, description = "Invoice id")),
    request_body(content = InvoiceUpdate, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The draft", body = Invoice, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "The invoice is issued and immutable", body = Problem, content_type = "application/problem+json")))]
#[patch("/invoices/{id}")]
pub async fn update_invoice(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    if_match: IfMatch,
    ApiJson(body): ApiJson<InvoiceUpdate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let changes = body.into_changes()?;
    let invoice = state
        .db
        .write(move |conn| store::update_draft(conn, &id, if_match.0, changes))
        .await?;
    Ok(versioned(invoice.version, &Invoice::from(invoice)))
}

#[utoipa::path(tag = "invoices", operation_id = "deleteInvoice", summary = "Delete a draft invoice",
    description = "Deletes a draft and frees its order lines. An issued document cannot be deleted: `409`.",
    params(("id" = String, Path, description = "Invoice id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "The invoice is issued and immutable", body = Problem, content_type = "application/problem+json")))]
#[delete("/invoices/{id}")]
pub async fn delete_invoice(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .write_no_content(Resource::Invoices, store::delete_draft)
        .await
}

#[utoipa::path(tag = "invoices", operation_id = "issueInvoice", summary = "Issue an invoice",
    description = "Assigns the next gapless number of its series inside the issuing transaction, freezes the issuer, recipient, lines and totals, and links it into the series' integrity chain. A failed issue consumes no number.",
    params(("id" = String, Path, description = "Invoice id")),
    responses(
        (status = 200, description = "The issued invoice", body = Invoice, headers(("ETag" = String, description = "Its new version"))),
        (status = 409, description = "Not a draft", body = Problem, content_type = "application/problem+json")))]
#[post("/invoices/{id}/issue")]
pub async fn issue_invoice(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    let invoice = target.write(Resource::Invoices, store::issue).await?;
    Ok(versioned(invoice.version, &Invoice::from(invoice)))
}

/// A correction of an issued invoice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Two units returned", "lines": [{"invoice_line_id": "0192a7a4-4b1e-7c3a-9d1e-2f7a1c9e5b11", "quantity": "2"}]}))]
pub struct CreditNoteCreate {
    /// Why the invoice is corrected.
    pub reason: String,
    /// What is credited, line by line of the invoice; default everything its lines have left.
    /// A line is never credited beyond what it invoiced, in units or in amount.
    pub lines: Option<Vec<CreditLineInput>>,
}

/// A line of a credit note: which line of the invoice it credits, and how much of it. The
/// description, discount and VAT rate are the invoiced line's. At the invoiced price it takes
/// units back, never more than the line has left; at a lower price it corrects the price, and
/// never takes more than the line's amount left.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_line_id": "0192a7a4-4b1e-7c3a-9d1e-2f7a1c9e5b11", "quantity": "1"}))]
pub struct CreditLineInput {
    /// The `id` of the invoice's line credited.
    pub invoice_line_id: String,
    /// Units credited, exact decimal string; at most what the line has left.
    pub quantity: String,
    /// A lower price per unit, to correct a price rather than take goods back; default the
    /// invoiced price, and never above it. In the invoice's currency.
    pub unit_price: Option<Money>,
}

/// The credit lines asked for, checked for form; the store checks them against the invoice.
fn credit_line_drafts(c: &mut Checker, lines: Vec<CreditLineInput>) -> Vec<CreditLineDraft> {
    if lines.len() > 500 {
        c.violations
            .push(crm_domain::Violation::new("lines", "at most 500 lines"));
        return Vec::new();
    }
    let mut drafts = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let quantity = c.quantity(&format!("lines[{i}].quantity"), &line.quantity);
        let unit_price = match &line.unit_price {
            Some(m) => match c.money(&format!("lines[{i}].unit_price"), m, None) {
                Some(minor) => Some((minor, m.currency.clone())),
                None => continue,
            },
            None => None,
        };
        if let Some(quantity) = quantity {
            drafts.push(CreditLineDraft {
                invoice_line_id: line.invoice_line_id,
                quantity,
                unit_price,
            });
        }
    }
    drafts
}

#[utoipa::path(tag = "invoices", operation_id = "createCreditNote", summary = "Draft a credit note",
    description = "A rectifying document referencing the invoice, in the credit-note series. Issue it like an invoice; its total never exceeds what remains creditable (`422`).",
    params(("id" = String, Path, description = "The invoice to correct")),
    request_body = CreditNoteCreate,
    responses((status = 201, description = "The draft credit note", body = Invoice, headers(("Location" = String, description = "URL of the credit note"), ("ETag" = String, description = "Its version")))))]
#[post("/invoices/{id}/credit-notes")]
pub async fn create_credit_note(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiJson(body): ApiJson<CreditNoteCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let mut c = Checker::default();
    let reason = c.required("reason", &body.reason, 2000);
    let lines = body.lines.map(|l| credit_line_drafts(&mut c, l));
    c.finish()?;
    let note = state
        .db
        .write(move |conn| store::create_credit_note(conn, &id, reason, lines))
        .await?;
    Ok(created(
        format!("/v1/invoices/{}", note.id),
        note.version,
        &Invoice::from(note),
    ))
}

/// A payment received.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payment {
    /// Server-assigned id.
    pub id: String,
    /// The invoice paid.
    pub invoice_id: String,
    /// How much.
    pub amount: Money,
    /// When it was received.
    pub paid_on: NaiveDate,
    /// Transfer, card, cash...
    pub method: Option<String>,
    /// The bank or processor reference.
    pub reference: Option<String>,
    /// Who recorded it.
    pub created_by: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// A payment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": {"amount_minor": 5000, "currency": "EUR"}, "paid_on": "2026-11-20", "method": "transfer"}))]
pub struct PaymentCreate {
    /// In the invoice's currency; never more than is still owed.
    pub amount: Money,
    /// When it was received; default today.
    pub paid_on: Option<NaiveDate>,
    /// Transfer, card, cash...
    pub method: Option<String>,
    /// The bank or processor reference.
    pub reference: Option<String>,
}

impl PaymentCreate {
    /// The payment's currency and what the store records; `today` is the default `paid_on`.
    fn into_input(
        self,
        created_by: Option<String>,
        today: NaiveDate,
    ) -> Result<(String, PaymentInput), ApiError> {
        let mut c = Checker::default();
        let method = c.optional("method", self.method.as_deref(), SHORT);
        let reference = c.optional("reference", self.reference.as_deref(), SHORT);
        c.currency("amount.currency", &self.amount.currency);
        c.finish()?;
        let input = PaymentInput {
            amount_minor: self.amount.amount_minor,
            paid_on: self.paid_on.unwrap_or(today),
            method,
            reference,
            created_by,
        };
        Ok((self.amount.currency, input))
    }
}

/// The payments of an invoice, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    /// Oldest first.
    pub data: Vec<Payment>,
}

impl From<store::InvoicePayments> for PaymentList {
    fn from(p: store::InvoicePayments) -> Self {
        let currency = p.currency;
        PaymentList {
            data: p
                .payments
                .into_iter()
                .map(|p| Payment {
                    amount: Money::new(p.amount_minor, &currency),
                    id: p.id,
                    invoice_id: p.invoice_id,
                    paid_on: p.paid_on,
                    method: p.method,
                    reference: p.reference,
                    created_by: p.created_by,
                    created_at: utc(p.created_at),
                })
                .collect(),
        }
    }
}

#[utoipa::path(tag = "invoices", operation_id = "createPayment", summary = "Record a payment",
    description = "Partial or full; more than is still owed gets `422`. The invoice's status follows: partially_paid, paid.",
    params(("id" = String, Path, description = "Invoice id")),
    request_body = PaymentCreate,
    responses((status = 201, description = "The invoice after the payment", body = Invoice, headers(("Location" = String, description = "URL of the invoice's payments")))))]
#[post("/invoices/{id}/payments")]
pub async fn create_payment(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
    ApiJson(body): ApiJson<PaymentCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Invoices, Access::Write)?;
    let created_by = principal.user_id().map(str::to_owned);
    let (currency, input) = body.into_input(created_by, Utc::now().date_naive())?;
    let location = format!("/v1/invoices/{id}/payments");
    let invoice = state
        .db
        .write(move |conn| store::record_payment(conn, &id, &currency, input))
        .await?;
    Ok(created(location, invoice.version, &Invoice::from(invoice)))
}

#[utoipa::path(tag = "invoices", operation_id = "listPayments", summary = "An invoice's payments",
    params(("id" = String, Path, description = "Invoice id")),
    responses((status = 200, description = "Oldest first", body = PaymentList)))]
#[get("/invoices/{id}/payments")]
pub async fn list_payments(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<PaymentList>, ApiError> {
    principal.authorize(Resource::Invoices, Access::Read)?;
    let payments = state
        .db
        .read(move |conn| store::invoice_payments(conn, &id))
        .await?;
    Ok(web::Json(PaymentList::from(payments)))
}

/// An invoice series.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceSeries {
    /// Server-assigned id.
    pub id: String,
    /// Short code, unique.
    pub code: String,
    /// The prefix of its numbers (`F` gives `F-2026-000001`).
    pub prefix: String,
    /// The kind of document it numbers.
    pub kind: InvoiceKind,
    /// Used for its kind when a document names no series.
    pub is_default: bool,
    /// Numbering restarts every year, and numbers carry the year.
    pub yearly_reset: bool,
    /// The last number given (in the current year, with a yearly reset).
    pub last_number: i64,
    /// The year of the last number, with a yearly reset.
    pub current_year: Option<i64>,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<series_store::Series> for InvoiceSeries {
    fn from(s: series_store::Series) -> Self {
        InvoiceSeries {
            id: s.id,
            code: s.fields.code,
            prefix: s.fields.prefix,
            kind: s.fields.kind,
            is_default: s.fields.is_default,
            yearly_reset: s.fields.yearly_reset,
            last_number: s.last_number,
            current_year: s.current_year,
            version: s.version,
            created_at: utc(s.created_at),
        }
    }
}

/// A new series.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "W", "prefix": "W", "kind": "invoice", "yearly_reset": true}))]
pub struct InvoiceSeriesCreate {
    /// Short code, unique.
    pub code: String,
    /// The prefix of its numbers: letters, digits and `/`, up to 10.
    pub prefix: String,
    /// The kind of document it numbers.
    pub kind: InvoiceKind,
    /// Default false.
    pub is_default: Option<bool>,
    /// Default true.
    pub yearly_reset: Option<bool>,
}

/// Changes to a series, as a JSON Merge Patch. Once it has numbered a document only
/// `is_default` can change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"is_default": true}))]
pub struct InvoiceSeriesUpdate {
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub code: Option<Option<String>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub prefix: Option<Option<String>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub is_default: Option<Option<bool>>,
    /// Cannot be null.
    #[serde(default, deserialize_with = "patch")]
    #[schema(nullable = false)]
    pub yearly_reset: Option<Option<bool>>,
}

fn prefix(c: &mut Checker, value: &str) -> String {
    let p = c.required("prefix", value, 10);
    if !p.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '/') {
        c.violations.push(crm_domain::Violation::new(
            "prefix",
            "letters, digits and / only",
        ));
    }
    p
}

impl InvoiceSeriesCreate {
    fn into_fields(self) -> Result<SeriesFields, ApiError> {
        let mut c = Checker::default();
        let fields = SeriesFields {
            code: c.required("code", &self.code, 20),
            prefix: prefix(&mut c, &self.prefix),
            kind: self.kind,
            is_default: self.is_default.unwrap_or(false),
            yearly_reset: self.yearly_reset.unwrap_or(true),
        };
        c.finish()?;
        Ok(fields)
    }
}

impl InvoiceSeriesUpdate {
    /// Merges the changes into the stored fields, checking each; none may be null.
    fn apply(self, f: &mut SeriesFields) -> Result<(), Violations> {
        let mut c = Checker::default();
        match self.code {
            Some(Some(v)) => f.code = c.required("code", &v, 20),
            Some(None) => c.not_null("code"),
            None => {}
        }
        match self.prefix {
            Some(Some(v)) => f.prefix = prefix(&mut c, &v),
            Some(None) => c.not_null("prefix"),
            None => {}
        }
        match self.is_default {
            Some(Some(v)) => f.is_default = v,
            Some(None) => c.not_null("is_default"),
            None => {}
        }
        match self.yearly_reset {
            Some(Some(v)) => f.yearly_reset = v,
            Some(None) => c.not_null("yearly_reset"),
            None => {}
        }
        c.finish()
    }
}

#[utoipa::path(tag = "invoices", operation_id = "listInvoiceSeries", summary = "List invoice series",
    params(PageQuery),
    responses((status = 200, description = "A page of series, oldest first", body = ListResponse<InvoiceSeries>)))]
#[get("/invoice-series")]
pub async fn list_series(
    state: web::Data<AppState>,
    principal: Principal,
    ApiQuery(paging): ApiQuery<PageQuery>,
) -> Result<web::Json<ListResponse<InvoiceSeries>>, ApiError> {
    principal.authorize(Resource::Invoices, Access::Read)?;
    let page = fixed_order("created_at", &paging)?;
    let result = state
        .db
        .read(move |conn| series_store::list(conn, &page))
        .await?;
    Ok(web::Json(respond(
        result,
        "created_at",
        InvoiceSeries::from,
    )))
}

#[utoipa::path(tag = "invoices", operation_id = "createInvoiceSeries", summary = "Create an invoice series", description = "Admins only.",
    request_body = InvoiceSeriesCreate,
    responses((status = 201, description = "Created", body = InvoiceSeries, headers(("Location" = String, description = "URL of the series"), ("ETag" = String, description = "Its version")))))]
#[post("/invoice-series")]
pub async fn create_series(
    state: web::Data<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<InvoiceSeriesCreate>,
) -> Result<HttpResponse, ApiError> {
    principal.authorize(Resource::Settings, Access::Write)?;
    let fields = body.into_fields()?;
    let series = state
        .db
        .write(move |conn| series_store::create(conn, fields))
        .await?;
    Ok(created(
        format!("/v1/invoice-series/{}", series.id),
        series.version,
        &InvoiceSeries::from(series),
    ))
}

#[utoipa::path(tag = "invoices", operation_id = "getInvoiceSeries", summary = "Get an invoice series",
    params(("id" = String, Path, description = "Series id")),
    responses((status = 200, description = "The series", body = InvoiceSeries, headers(("ETag" = String, description = "Its version")))))]
#[get("/invoice-series/{id}")]
pub async fn get_series(target: ActionTarget) -> Result<HttpResponse, ApiError> {
    target
        .respond(
            Resource::Invoices,
            series_store::get,
            |r| r.version,
            InvoiceSeries::from,
        )
        .await
}

#[utoipa::path(tag = "invoices", operation_id = "updateInvoiceSeries", summary = "Update an invoice series", description = "Admins only. Numbering fields are fixed once the series has issued a document (`409`).",
    params(("id" = String, Path, description = "Series id")),
    request_body(content = InvoiceSeriesUpdate, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The series", body = InvoiceSeries, headers(("ETag" = String, description = "Its new version")))))]
#[patch("/invoice-series/{id}")]
pub async fn update_series(
    target: ActionTarget,
    ApiJson(body): ApiJson<InvoiceSeriesUpdate>,
) -> Result<HttpResponse, ApiError> {
    let series = target
        .update(
            Resource::Settings,
            series_store::update,
            move |fields, _| body.apply(fields),
        )
        .await?;
    Ok(versioned(series.version, &InvoiceSeries::from(series)))
}

/// The result of checking a series' integrity chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainVerification {
    /// The series.
    pub series_id: String,
    /// True when every link holds.
    pub valid: bool,
    /// How many documents were checked.
    pub checked: i64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Where a chain breaks.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    /// The document whose link fails; null when the end of the series is missing.
    pub invoice_id: Option<String>,
    /// Its number.
    pub number: Option<String>,
    /// What is wrong.
    pub reason: String,
}

#[utoipa::path(tag = "invoices", operation_id = "verifyInvoiceSeries", summary = "Verify a series' integrity chain",
    description = "Recomputes every issued document's hash from its stored content and the previous link, and reports the first broken link: an altered, removed or reordered document.",
    params(("id" = String, Path, description = "Series id")),
    responses((status = 200, description = "The verification", body = ChainVerification)))]
#[get("/invoice-series/{id}/verify")]
pub async fn verify_series(
    state: web::Data<AppState>,
    principal: Principal,
    id: web::Path<String>,
) -> Result<web::Json<ChainVerification>, ApiError> {
    principal.authorize(Resource::Invoices, Access::Read)?;
    let series_id = id.into_inner();
    let sid = series_id.clone();
    let result = state.db.read(move |conn| store::verify(conn, &sid)).await?;
    Ok(web::Json(ChainVerification {
        series_id,
        valid: result.broken.is_none(),
        checked: result.checked,
        broken: result.broken.map(|b| BrokenLink {
            invoice_id: b.invoice_id,
            number: b.number,
            reason: b.reason,
        }),
    }))
}

/// The routes under `/invoice-series`.
pub fn invoice_series_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_series)
        .service(create_series)
        .service(get_series)
        .service(update_series)
        .service(verify_series);
}

/// The routes under `/invoices`.
pub fn invoices_routes(cfg: &mut impl crate::platform::routing::Register) {
    cfg.service(list_invoices)
        .service(create_invoice)
        .service(get_invoice)
        .service(update_invoice)
        .service(delete_invoice)
        .service(issue_invoice)
        .service(create_credit_note)
        .service(create_payment)
        .service(list_payments);
}
