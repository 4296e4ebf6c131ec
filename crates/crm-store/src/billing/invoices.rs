//! Invoices and credit notes: drafts from orders or manual lines, issuing with a gapless
//! number, a frozen fiscal snapshot and a link in the series' integrity chain, payments, and
//! the chain's verification.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use crm_domain::billing::invoices::{
    chain_hash, check_action, check_credit, check_credit_by_rate, check_credit_line, check_payment,
    check_payment_currency, check_vat_mentions, payment_status, settle_credit_taxes, CreditAsked,
    CreditableLine, InvoiceAction, InvoiceKind, InvoiceStatus,
};
use crm_domain::events::catalogue::EventType;
use crm_domain::platform::money::Quantity;
use crm_domain::platform::time::{local_date, time_zone};
use crm_domain::sales::orders::LineKind;
use crm_domain::sales::totals::{TaxLine, Totals};
use crm_domain::Violation;
use diesel::prelude::*;
use serde_json::json;

use crate::billing::invoice_series::{self, claim_number};
use crate::events::outbox;
use crate::platform::db::{database_now, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{invoice_lines, invoices, payments, self_billing_agreements};
use crate::platform::stored::stored;
use crate::sales::documents::{self, Line, LineDraft};
use crate::{new_id, now, parties::companies, platform::settings, sales::orders, StoreError};
use crm_domain::sales::totals::require_lines;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = invoices, treat_none_as_null = true)]
struct InvoiceRow {
    id: String,
    kind: String,
    series_id: String,
    number: Option<String>,
    sequence: Option<i64>,
    status: String,
    company_id: String,
    currency: String,
    issue_date: Option<NaiveDate>,
    due_date: Option<NaiveDate>,
    notes: Option<String>,
    corrects_invoice_id: Option<String>,
    correction_reason: Option<String>,
    agreement_id: Option<String>,
    issuer_snapshot: Option<String>,
    recipient_snapshot: Option<String>,
    subtotal_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    credited_minor: i64,
    paid_minor: i64,
    previous_hash: Option<String>,
    hash: Option<String>,
    issued_at: Option<NaiveDateTime>,
    decided_at: Option<NaiveDateTime>,
    dispute_reason: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    chain_format: i64,
    /// [`Mentions`] as JSON.
    mentions: Option<String>,
}

impl InvoiceRow {
    fn mentions(&self) -> Result<Mentions, StoreError> {
        match &self.mentions {
            None => Ok(Mentions::default()),
            Some(text) => serde_json::from_str(text).map_err(|_| StoreError::Corrupt {
                table: "invoices",
                column: "mentions",
                value: text.clone(),
            }),
        }
    }

    fn set_mentions(&mut self, mentions: &Mentions) {
        self.mentions = (*mentions != Mentions::default()).then(|| json!(mentions).to_string());
    }
}

/// What a document prints beyond its lines and parties.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Mentions {
    /// On a credit note: the printed number of the invoice it corrects.
    pub corrects_number: Option<String>,
    #[serde(flatten)]
    pub vat: VatMentions,
    /// On a credit note: the rates whose tax was settled at what remained of the original's,
    /// rather than at the rounding of the note's own base.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub settled_taxes: Vec<TaxLine>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_lines)]
struct InvoiceLineRow {
    id: String,
    invoice_id: String,
    position: i64,
    is_credit: bool,
    /// Freed for invoicing again because the invoice was fully credited; not part of the
    /// fiscal content.
    released: bool,
    order_id: Option<String>,
    order_line_id: Option<String>,
    product_id: Option<String>,
    description: String,
    quantity_milli: i64,
    unit_price_minor: i64,
    discount_bp: i64,
    tax_rate_bp: i64,
    gross_minor: i64,
    discount_minor: i64,
    net_minor: i64,
    credits_line_id: Option<String>,
    stated_tax_minor: Option<i64>,
}

/// A line of an invoice, with where it came from.
#[derive(Debug, Clone)]
pub struct InvoiceLine {
    /// Set once stored.
    pub id: Option<String>,
    /// On a credit note: the line of the original it credits.
    pub credits_line_id: Option<String>,
    pub order_id: Option<String>,
    pub order_line_id: Option<String>,
    pub line: Line,
}

#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub kind: InvoiceKind,
    pub series_id: String,
    pub number: Option<String>,
    /// Derived for issued invoices from payments and the due date.
    pub status: InvoiceStatus,
    pub company_id: String,
    pub currency: String,
    pub issue_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub corrects_invoice_id: Option<String>,
    pub correction_reason: Option<String>,
    pub agreement_id: Option<String>,
    pub issuer: Option<serde_json::Value>,
    pub recipient: Option<serde_json::Value>,
    pub lines: Vec<InvoiceLine>,
    pub totals: Totals,
    pub credited_minor: i64,
    pub paid_minor: i64,
    pub sequence: Option<i64>,
    pub previous_hash: Option<String>,
    pub hash: Option<String>,
    pub chain_format: i64,
    pub corrects_number: Option<String>,
    pub vat: VatMentions,
    pub issued_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub dispute_reason: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A new draft: orders of one company and/or manual lines.
#[derive(Debug, Clone)]
pub struct DraftInput {
    pub company_id: String,
    pub currency: Option<String>,
    pub series_id: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub order_ids: Vec<String>,
    pub lines: Vec<LineDraft>,
    pub vat: VatMentions,
}

/// What art. 226 of the VAT Directive has an invoice print beyond its lines.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct VatMentions {
    /// Why its 0% lines are exempt, as the law words it.
    pub exemption_reason: Option<String>,
    /// The customer accounts for the VAT.
    pub reverse_charge: bool,
    /// When the goods or services were supplied, if not on the issue date.
    pub supply_date: Option<NaiveDate>,
}

/// Changes to a draft, as a merge patch: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DraftChanges {
    pub due_date: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
    pub exemption_reason: Option<Option<String>>,
    pub reverse_charge: Option<bool>,
    pub supply_date: Option<Option<NaiveDate>>,
}

fn line_rows(conn: &mut DbConnection, invoice_id: &str) -> Result<Vec<InvoiceLineRow>, StoreError> {
    Ok(invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(invoice_id))
        .order(invoice_lines::position.asc())
        .select(InvoiceLineRow::as_select())
        .load(conn)?)
}

fn line_of(r: &InvoiceLineRow) -> InvoiceLine {
    InvoiceLine {
        id: Some(r.id.clone()),
        credits_line_id: r.credits_line_id.clone(),
        order_id: r.order_id.clone(),
        order_line_id: r.order_line_id.clone(),
        line: Line {
            product_id: r.product_id.clone(),
            sku: None,
            description: r.description.clone(),
            quantity: Quantity::from_milli(r.quantity_milli),
            unit_price_minor: r.unit_price_minor,
            unit_cost_minor: None,
            discount_bp: r.discount_bp,
            tax_rate_bp: r.tax_rate_bp,
            kind: LineKind::Product,
            stated: documents::stated_of(r.stated_tax_minor, r.gross_minor, r.discount_minor),
            external_id: None,
        },
    }
}

fn today() -> NaiveDate {
    now().date()
}

fn assemble(conn: &mut DbConnection, row: InvoiceRow) -> Result<Invoice, StoreError> {
    let lines: Vec<InvoiceLine> = line_rows(conn, &row.id)?.iter().map(line_of).collect();
    let plain: Vec<Line> = lines.iter().map(|l| l.line.clone()).collect();
    let mentions = row.mentions()?;
    let totals = documents::totals(&plain)?.with_taxes(&mentions.settled_taxes)?;
    let kind: InvoiceKind = stored("invoices", "kind", &row.kind)?;
    let stored_status: InvoiceStatus = stored("invoices", "status", &row.status)?;
    let status = match stored_status {
        InvoiceStatus::Issued => payment_status(
            kind,
            row.total_minor,
            row.credited_minor,
            row.paid_minor,
            row.due_date,
            today(),
        ),
        other => other,
    };
    Ok(Invoice {
        kind,
        status,
        issuer: row
            .issuer_snapshot
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        recipient: row
            .recipient_snapshot
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        lines,
        totals,
        id: row.id,
        series_id: row.series_id,
        number: row.number,
        company_id: row.company_id,
        currency: row.currency,
        issue_date: row.issue_date,
        due_date: row.due_date,
        notes: row.notes,
        corrects_invoice_id: row.corrects_invoice_id,
        correction_reason: row.correction_reason,
        agreement_id: row.agreement_id,
        credited_minor: row.credited_minor,
        paid_minor: row.paid_minor,
        sequence: row.sequence,
        previous_hash: row.previous_hash,
        hash: row.hash,
        chain_format: row.chain_format,
        corrects_number: mentions.corrects_number,
        vat: mentions.vat,
        issued_at: row.issued_at,
        decided_at: row.decided_at,
        dispute_reason: row.dispute_reason,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn load(conn: &mut DbConnection, id: &str) -> Result<InvoiceRow, StoreError> {
    records::load_row(conn, invoices::table, id)
}

/// Locks the document and reads it, checked against the caller's `If-Match` and against
/// what the domain allows `action` to do in its stored state.
fn load_for(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: InvoiceAction,
) -> Result<InvoiceRow, StoreError> {
    let row = records::checkout(conn, Record::Invoice, id, expected_version, load, |r| {
        r.version
    })?;
    check_action(
        stored("invoices", "kind", &row.kind)?,
        stored("invoices", "status", &row.status)?,
        action,
    )?;
    Ok(row)
}

/// Writes back a row read by [`load_for`], on condition that its version is the one read.
fn save(
    conn: &mut DbConnection,
    row: &mut InvoiceRow,
    at: NaiveDateTime,
) -> Result<(), StoreError> {
    let read_version = row.version;
    row.version += 1;
    row.updated_at = at;
    let updated = diesel::update(
        invoices::table
            .filter(invoices::id.eq(&row.id))
            .filter(invoices::version.eq(read_version)),
    )
    .set(&*row)
    .execute(conn)?;
    records::written(updated, read_version)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Invoice, StoreError> {
    let row = load(conn, id)?;
    assemble(conn, row)
}

fn write_lines(
    conn: &mut DbConnection,
    invoice_id: &str,
    is_credit: bool,
    lines: &[InvoiceLine],
    totals: &Totals,
) -> Result<(), StoreError> {
    diesel::delete(invoice_lines::table.filter(invoice_lines::invoice_id.eq(invoice_id)))
        .execute(conn)?;
    for (position, (l, a)) in lines.iter().zip(&totals.lines).enumerate() {
        let inserted = diesel::insert_into(invoice_lines::table)
            .values(InvoiceLineRow {
                id: new_id(),
                invoice_id: invoice_id.to_owned(),
                position: i64::try_from(position).unwrap_or(i64::MAX),
                is_credit,
                released: false,
                order_id: l.order_id.clone(),
                order_line_id: l.order_line_id.clone(),
                product_id: l.line.product_id.clone(),
                description: l.line.description.clone(),
                quantity_milli: l.line.quantity.milli(),
                unit_price_minor: l.line.unit_price_minor,
                discount_bp: l.line.discount_bp,
                tax_rate_bp: l.line.tax_rate_bp,
                gross_minor: a.gross_minor,
                discount_minor: a.discount_minor,
                net_minor: a.net_minor,
                credits_line_id: l.credits_line_id.clone(),
                stated_tax_minor: l.line.stated.map(|s| s.tax_minor),
            })
            .execute(conn);
        match inserted {
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict {
                    message: "an order line is already on another invoice".into(),
                    existing_id: None,
                })
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

fn new_row(
    kind: InvoiceKind,
    series_id: String,
    company_id: String,
    currency: String,
    totals: &Totals,
) -> InvoiceRow {
    let at = now();
    InvoiceRow {
        id: new_id(),
        kind: kind.as_str().to_owned(),
        series_id,
        number: None,
        sequence: None,
        status: InvoiceStatus::Draft.as_str().to_owned(),
        company_id,
        currency,
        issue_date: None,
        due_date: None,
        notes: None,
        corrects_invoice_id: None,
        correction_reason: None,
        agreement_id: None,
        issuer_snapshot: None,
        recipient_snapshot: None,
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        total_minor: totals.total_minor,
        credited_minor: 0,
        paid_minor: 0,
        previous_hash: None,
        hash: None,
        issued_at: None,
        decided_at: None,
        dispute_reason: None,
        version: 1,
        created_at: at,
        updated_at: at,
        chain_format: CHAIN_FORMAT,
        mentions: None,
    }
}

/// The invoice already holding an order line, if any.
fn invoice_of_order_line(
    conn: &mut DbConnection,
    order_line_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(invoice_lines::table
        .filter(invoice_lines::order_line_id.eq(order_line_id))
        .filter(invoice_lines::is_credit.eq(false))
        .filter(invoice_lines::released.eq(false))
        .select(invoice_lines::invoice_id)
        .first(conn)
        .optional()?)
}

/// The lines of orders to invoice, checked: they belong to the company, are not cancelled,
/// share one currency, and no line is on another invoice.
pub(crate) fn order_lines_to_invoice(
    conn: &mut DbConnection,
    company_id: &str,
    order_ids: &[String],
    currency: &mut Option<String>,
    require_fulfilled: bool,
) -> Result<Vec<InvoiceLine>, StoreError> {
    // Every order's row is taken in id order before any is read: a draft of [A, B] racing one
    // of [B, A] then waits instead of deadlocking.
    let ids: Vec<&str> = order_ids.iter().map(String::as_str).collect();
    records::lock_present(conn, Record::Order, &ids)?;
    let mut lines = Vec::new();
    for (i, order_id) in order_ids.iter().enumerate() {
        let field = format!("order_ids[{i}]");
        let order = match orders::get(conn, order_id) {
            Ok(o) => o,
            Err(StoreError::NotFound) => return Err(Violation::new(field, "no such order").into()),
            Err(e) => return Err(e),
        };
        if order.company_id.as_deref() != Some(company_id) {
            return Err(Violation::new(field, "the order belongs to another company").into());
        }
        if order.status == crm_domain::sales::orders::OrderStatus::Cancelled {
            return Err(Violation::new(field, "the order is cancelled").into());
        }
        if require_fulfilled && order.status != crm_domain::sales::orders::OrderStatus::Fulfilled {
            return Err(Violation::new(field, "the order is not fulfilled").into());
        }
        match currency {
            Some(c) if *c != order.currency => {
                return Err(Violation::new(
                    field,
                    format!("the order is in {}, the invoice in {c}", order.currency),
                )
                .into())
            }
            Some(_) => {}
            None => *currency = Some(order.currency.clone()),
        }
        for (line_id, line) in orders::lines_with_ids(conn, order_id)? {
            if let Some(invoice_id) = invoice_of_order_line(conn, &line_id)? {
                return Err(StoreError::Conflict {
                    message: format!("order {} is already invoiced", order.external_id),
                    existing_id: Some(invoice_id),
                });
            }
            lines.push(InvoiceLine {
                id: None,
                credits_line_id: None,
                order_id: Some(order_id.clone()),
                order_line_id: Some(line_id),
                line,
            });
        }
    }
    Ok(lines)
}

/// Creates a draft invoice in `series` (or the default invoice series).
pub fn create_draft(conn: &mut DbConnection, input: DraftInput) -> Result<Invoice, StoreError> {
    let draft = create_draft_of_kind(conn, input, InvoiceKind::Invoice, None, false)?;
    outbox::record(conn, EventType::InvoiceCreated, &draft.id)?;
    Ok(draft)
}

pub(crate) fn create_draft_of_kind(
    conn: &mut DbConnection,
    input: DraftInput,
    kind: InvoiceKind,
    agreement_id: Option<String>,
    require_fulfilled: bool,
) -> Result<Invoice, StoreError> {
    companies::ensure_active(conn, &input.company_id, "company_id")?;
    let series = match &input.series_id {
        Some(id) => invoice_series::get(conn, id).map_err(|e| match e {
            StoreError::NotFound => Violation::new("series_id", "no such series").into(),
            other => other,
        })?,
        None => invoice_series::default_for(conn, kind)?,
    };
    if series.fields.kind != kind {
        return Err(Violation::new(
            "series_id",
            format!("is a {} series", series.fields.kind.as_str()),
        )
        .into());
    }
    let mut currency = input.currency.clone();
    let mut lines = order_lines_to_invoice(
        conn,
        &input.company_id,
        &input.order_ids,
        &mut currency,
        require_fulfilled,
    )?;
    let currency = currency.ok_or_else(|| {
        StoreError::from(Violation::new(
            "currency",
            "is required when no orders are given",
        ))
    })?;
    for line in documents::resolve_lines(conn, input.lines, &currency)? {
        lines.push(InvoiceLine {
            id: None,
            credits_line_id: None,
            order_id: None,
            order_line_id: None,
            line,
        });
    }
    if lines.is_empty() {
        return Err(Violation::new("lines", "an invoice needs orders or lines").into());
    }
    let plain: Vec<Line> = lines.iter().map(|l| l.line.clone()).collect();
    let totals = documents::totals(&plain)?;
    let mut row = new_row(kind, series.id, input.company_id, currency, &totals);
    row.due_date = input.due_date;
    row.notes = input.notes;
    row.agreement_id = agreement_id;
    row.set_mentions(&Mentions {
        vat: input.vat,
        ..Mentions::default()
    });
    diesel::insert_into(invoices::table)
        .values(&row)
        .execute(conn)?;
    write_lines(conn, &row.id, false, &lines, &totals)?;
    get(conn, &row.id)
}

/// Changes a draft's due date and notes; anything issued is immutable.
pub fn update_draft(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    changes: DraftChanges,
) -> Result<Invoice, StoreError> {
    let mut row = load_for(conn, id, expected_version, InvoiceAction::Edit)?;
    if let Some(v) = changes.due_date {
        row.due_date = v;
    }
    if let Some(v) = changes.notes {
        row.notes = v;
    }
    let mut mentions = row.mentions()?;
    if let Some(v) = changes.exemption_reason {
        mentions.vat.exemption_reason = v;
    }
    if let Some(v) = changes.reverse_charge {
        mentions.vat.reverse_charge = v;
    }
    if let Some(v) = changes.supply_date {
        mentions.vat.supply_date = v;
    }
    row.set_mentions(&mentions);
    save(conn, &mut row, now())?;
    outbox::record(conn, EventType::InvoiceUpdated, id)?;
    assemble(conn, row)
}

/// Deletes a draft, freeing its order lines; an issued invoice cannot be deleted.
pub fn delete_draft(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<(), StoreError> {
    let row = load_for(conn, id, expected_version, InvoiceAction::Delete)?;
    // Recorded while the draft can still be read.
    outbox::record(conn, EventType::InvoiceDeleted, id)?;
    diesel::delete(invoice_lines::table.filter(invoice_lines::invoice_id.eq(id))).execute(conn)?;
    let deleted = diesel::delete(
        invoices::table
            .filter(invoices::id.eq(id))
            .filter(invoices::version.eq(row.version)),
    )
    .execute(conn)?;
    records::written(deleted, row.version)
}

fn issuer_snapshot(conn: &mut DbConnection) -> Result<serde_json::Value, StoreError> {
    let s = settings::get(conn)?.fields;
    let (Some(legal_name), Some(tax_id)) = (&s.legal_name, &s.tax_id) else {
        return Err(Violation::new(
            "issuer",
            "set our legal name and tax id in the company settings before issuing",
        )
        .into());
    };
    Ok(json!({
        "legal_name": legal_name,
        "tax_id": tax_id,
        "address": address_json(&s.address),
        "email": s.email,
        "phone": s.phone,
    }))
}

fn address_json(a: &crate::platform::address::Address) -> serde_json::Value {
    json!({"line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region, "postal_code": a.postal_code, "country": a.country})
}

fn recipient_snapshot(
    conn: &mut DbConnection,
    company_id: &str,
) -> Result<serde_json::Value, StoreError> {
    let c = companies::get(
        conn,
        company_id,
        crm_domain::access::permissions::Reach::All,
        None,
    )?;
    Ok(json!({
        "company_id": c.id,
        "name": c.fields.name,
        "legal_name": c.fields.legal_name,
        "tax_id": c.fields.tax_id,
        "address": address_json(&c.fields.billing_address),
        "email": c.fields.email,
    }))
}

/// The content a document's chain link covers: everything fiscal about it.
/// The form of the hash a document issued now gets; docs/ledger.md defines each.
const CHAIN_FORMAT: i64 = 3;

/// What a document's hash covers, in its chain format: format 1 as documents were first hashed,
/// format 2 adding every other printed field (the due date, notes, the agreement, the number of
/// the invoice a credit note corrects) and the format itself, so that it cannot be rewritten
/// as an older one.
fn canonical(row: &InvoiceRow, lines: &[InvoiceLineRow]) -> Result<String, StoreError> {
    let mut content = canonical_v1(row, lines);
    if row.chain_format >= 2 {
        let mentions = row.mentions()?;
        if let Some(fields) = content.as_object_mut() {
            fields.insert(
                "due_date".into(),
                json!(row.due_date.map(|d| d.to_string())),
            );
            fields.insert("notes".into(), json!(row.notes));
            fields.insert("agreement_id".into(), json!(row.agreement_id));
            fields.insert("corrects_number".into(), json!(mentions.corrects_number));
            fields.insert(
                "exemption_reason".into(),
                json!(mentions.vat.exemption_reason),
            );
            fields.insert("reverse_charge".into(), json!(mentions.vat.reverse_charge));
            let supplied = mentions.vat.supply_date.map(|d| d.to_string());
            fields.insert("supply_date".into(), json!(supplied));
            fields.insert("chain_format".into(), json!(row.chain_format));
            if row.chain_format >= 3 {
                // The tax per rate, as printed: a credit note's may be settled rather than
                // follow from its lines.
                let plain: Vec<Line> = lines.iter().map(|l| line_of(l).line).collect();
                let taxes = documents::totals(&plain)?
                    .with_taxes(&mentions.settled_taxes)?
                    .taxes;
                let taxes: Vec<[i64; 3]> = taxes
                    .iter()
                    .map(|t| [t.rate_bp, t.base_minor, t.tax_minor])
                    .collect();
                fields.insert("taxes".into(), json!(taxes));
            }
        }
    }
    Ok(content.to_string())
}

fn canonical_v1(row: &InvoiceRow, lines: &[InvoiceLineRow]) -> serde_json::Value {
    json!({
        "number": row.number,
        "kind": row.kind,
        "series_id": row.series_id,
        "issue_date": row.issue_date.map(|d| d.to_string()),
        "currency": row.currency,
        "company_id": row.company_id,
        "corrects_invoice_id": row.corrects_invoice_id,
        "correction_reason": row.correction_reason,
        "issuer": row.issuer_snapshot,
        "recipient": row.recipient_snapshot,
        "subtotal_minor": row.subtotal_minor,
        "discount_minor": row.discount_minor,
        "tax_minor": row.tax_minor,
        "total_minor": row.total_minor,
        "lines": lines.iter().map(|l| json!([
            l.position, l.description, l.quantity_milli, l.unit_price_minor, l.discount_bp,
            l.tax_rate_bp, l.gross_minor, l.discount_minor, l.net_minor, l.order_line_id
        ])).collect::<Vec<_>>(),
    })
}

/// Issues a draft: the next number of its series, the fiscal snapshot of issuer, recipient,
/// lines and totals, and its link in the series' chain, all in the caller's transaction. A
/// credit note also reduces what remains creditable on its original.
pub fn issue(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
) -> Result<Invoice, StoreError> {
    let issued = issue_as(conn, id, expected_version, InvoiceStatus::Issued)?;
    record_issued(conn, &issued)?;
    Ok(issued)
}

/// Records that `document` was issued: `invoice.issued`, or for a credit note
/// `credit_note.issued` and `invoice.credited` on the invoice it corrects.
pub(crate) fn record_issued(conn: &mut DbConnection, document: &Invoice) -> Result<(), StoreError> {
    if document.kind.is_credit() {
        outbox::record(conn, EventType::CreditNoteIssued, &document.id)?;
        if let Some(original) = &document.corrects_invoice_id {
            outbox::record(conn, EventType::InvoiceCredited, original)?;
        }
    } else {
        outbox::record(conn, EventType::InvoiceIssued, &document.id)?;
    }
    Ok(())
}

pub(crate) fn issue_as(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    status: InvoiceStatus,
) -> Result<Invoice, StoreError> {
    let mut row = load_for(conn, id, expected_version, InvoiceAction::Issue)?;
    let lines = line_rows(conn, id)?;
    require_lines("invoice", lines.len())?;
    let issuer = issuer_snapshot(conn)?;
    let recipient = recipient_snapshot(conn, &row.company_id)?;
    let mut mentions = row.mentions()?;
    let kind: InvoiceKind = stored("invoices", "kind", &row.kind)?;
    // A credit note takes its mentions from the invoice it corrects, checked when that was
    // issued; checking them again would refuse to correct an invoice issued before the rule.
    if !kind.is_credit() {
        let rates: Vec<i64> = lines.iter().map(|l| l.tax_rate_bp).collect();
        check_vat_mentions(
            &rates,
            mentions.vat.exemption_reason.as_deref(),
            mentions.vat.reverse_charge,
            recipient["tax_id"].as_str(),
        )?;
    }
    if kind.is_credit() {
        let original_id = row
            .corrects_invoice_id
            .clone()
            .ok_or_else(|| StoreError::Corrupt {
                table: "invoices",
                column: "corrects_invoice_id",
                value: format!("none on credit note {}", row.id),
            })?;
        let original = load_for(conn, &original_id, None, InvoiceAction::Credit)?;
        mentions.corrects_number = original.number.clone();
        let note_lines: Vec<InvoiceLine> = lines.iter().map(line_of).collect();
        let plain: Vec<Line> = note_lines.iter().map(|l| l.line.clone()).collect();
        let original_now = assemble(conn, original.clone())?;
        let credited = issued_credit_lines(conn, &original_id)?;
        let credited_taxes = credited_by_rate(conn, &original_id, &credited)?;
        // Settled again: a note issued since this one was drafted may have taken the rest.
        let (credit, settled_taxes) =
            credit_totals(&original_now.totals.taxes, &credited_taxes, &plain)?;
        mentions.settled_taxes = settled_taxes;
        row.tax_minor = credit.tax_minor;
        row.total_minor = credit.total_minor;
        check_credit(
            row.total_minor,
            original.total_minor,
            original.credited_minor,
        )?;
        check_credit_by_rate(&original_now.totals.taxes, &credited_taxes, &credit.taxes)?;
        check_credit_lines(
            &creditable_lines(&original_now, &credited),
            &note_lines,
            &credit,
        )?;
        let credited = diesel::update(
            invoices::table
                .filter(invoices::id.eq(&original_id))
                .filter(invoices::version.eq(original.version)),
        )
        .set((
            invoices::credited_minor.eq(original.credited_minor + row.total_minor),
            invoices::version.eq(original.version + 1),
            invoices::updated_at.eq(now()),
        ))
        .execute(conn)?;
        if credited == 0 {
            return Err(StoreError::Conflict {
                message: "the original changed meanwhile; retry".into(),
                existing_id: Some(original_id),
            });
        }
        if original.credited_minor + row.total_minor == original.total_minor {
            diesel::update(invoice_lines::table.filter(invoice_lines::invoice_id.eq(&original_id)))
                .set(invoice_lines::released.eq(true))
                .execute(conn)?;
        }
    }
    // One clock for the ledger: the database's, on the calendar of our fiscal time zone, read
    // once the series is held, so that dates follow the order numbers are claimed in.
    records::lock(conn, Record::InvoiceSeries, &row.series_id)?;
    let at = database_now(conn)?;
    let zone = settings::get(conn)?.fields.fiscal_time_zone;
    let day = local_date(at, time_zone("fiscal_time_zone", &zone)?);
    let year = day.year();
    let numbered = claim_number(conn, &row.series_id, year)?;
    row.number = Some(numbered.number);
    row.sequence = Some(numbered.sequence);
    row.status = status.as_str().to_owned();
    row.issue_date = Some(day);
    // Printed only where it differs from the issue date.
    mentions.vat.supply_date = mentions.vat.supply_date.filter(|supplied| *supplied != day);
    row.set_mentions(&mentions);
    row.due_date = row
        .due_date
        .or_else(|| day.checked_add_days(chrono::Days::new(30)));
    row.issuer_snapshot = Some(issuer.to_string());
    row.recipient_snapshot = Some(recipient.to_string());
    row.previous_hash = Some(numbered.previous_hash.clone());
    row.chain_format = CHAIN_FORMAT;
    let hash = chain_hash(&numbered.previous_hash, &canonical(&row, &lines)?);
    row.hash = Some(hash.clone());
    row.issued_at = Some(at);
    save(conn, &mut row, at)?;
    invoice_series::advance(conn, &row.series_id, numbered.sequence, year, &hash)?;
    let rollups = if kind.is_credit() {
        let customer = crate::analytics::rollups::credit_contribution(
            &row.company_id,
            &row.currency,
            day,
            row.subtotal_minor - row.discount_minor,
        );
        let (products, campaigns) = match &row.corrects_invoice_id {
            Some(original) => {
                let products = crate::analytics::rollups::credit_products(
                    conn,
                    &row.id,
                    original,
                    &row.currency,
                    day,
                )?;
                let campaigns = crate::analytics::rollups::credit_campaigns(
                    conn,
                    &row.id,
                    original,
                    &row.currency,
                    day,
                )?;
                (products, campaigns)
            }
            None => (Vec::new(), Vec::new()),
        };
        crate::analytics::rollups::Contribution {
            customers: vec![customer],
            products,
            campaigns,
        }
    } else {
        crate::analytics::rollups::rebilled_by(conn, &row.id)?
    };
    crate::analytics::rollups::swap(
        conn,
        crate::analytics::rollups::Contribution::default(),
        rollups,
    )?;
    assemble(conn, row)
}

/// A line of a credit note as asked: the line of the original it credits, how many units,
/// and a lower unit price when it corrects a price rather than returns goods.
#[derive(Debug, Clone)]
pub struct CreditLineDraft {
    pub invoice_line_id: String,
    pub quantity: Quantity,
    /// A lower price per unit, with the currency it was given in.
    pub unit_price: Option<(i64, String)>,
}

/// A line of the original as its issued credit notes left it.
#[derive(Debug, Clone, Copy, Default)]
struct LineCredits {
    line: CreditableLine,
    invoiced_price_minor: i64,
    /// What the issued credit notes took of it.
    taken: CreditAsked,
}

/// Each line of `original`, by id, as its issued credit notes left it.
fn creditable_lines(
    original: &Invoice,
    credited: &[InvoiceLineRow],
) -> BTreeMap<String, LineCredits> {
    let mut lines = BTreeMap::new();
    for (line, amounts) in original.lines.iter().zip(&original.totals.lines) {
        if let Some(id) = &line.id {
            let credits = LineCredits {
                line: CreditableLine {
                    invoiced_milli: line.line.quantity.milli(),
                    invoiced_net_minor: amounts.net_minor,
                    ..CreditableLine::default()
                },
                invoiced_price_minor: line.line.unit_price_minor,
                taken: CreditAsked::default(),
            };
            lines.insert(id.clone(), credits);
        }
    }
    for row in credited {
        if let Some(entry) = row
            .credits_line_id
            .as_ref()
            .and_then(|id| lines.get_mut(id))
        {
            entry.taken.add(
                entry.invoiced_price_minor,
                row.unit_price_minor,
                row.quantity_milli,
                row.net_minor,
            );
            entry.line.credited_milli = entry.taken.milli;
            entry.line.credited_net_minor = entry.taken.net_minor + entry.taken.corrected_net_minor;
        }
    }
    lines
}

/// The lines of the credit notes issued against `original_id`, note by note: everything the
/// checks of a new credit need, in one query.
fn issued_credit_lines(
    conn: &mut DbConnection,
    original_id: &str,
) -> Result<Vec<InvoiceLineRow>, StoreError> {
    Ok(invoice_lines::table
        .inner_join(invoices::table)
        .filter(invoices::corrects_invoice_id.eq(original_id))
        .filter(invoices::number.is_not_null())
        .order((
            invoice_lines::invoice_id.asc(),
            invoice_lines::position.asc(),
        ))
        .select(InvoiceLineRow::as_select())
        .load(conn)?)
}

/// Checks the lines of a credit note against what each line of the original has left.
fn check_credit_lines(
    creditable: &BTreeMap<String, LineCredits>,
    lines: &[InvoiceLine],
    totals: &Totals,
) -> Result<(), StoreError> {
    // Per line of the original: the first credit line naming it, and all that they ask.
    let mut asked: BTreeMap<&str, (usize, CreditAsked)> = BTreeMap::new();
    for (i, (line, amounts)) in lines.iter().zip(&totals.lines).enumerate() {
        let Some(id) = line.credits_line_id.as_deref() else {
            continue;
        };
        // A line the original does not have is checked against nothing left.
        let credits = creditable.get(id).copied().unwrap_or_default();
        let (_, credit) = asked.entry(id).or_insert((i, CreditAsked::default()));
        credit.add(
            credits.invoiced_price_minor,
            line.line.unit_price_minor,
            line.line.quantity.milli(),
            amounts.net_minor,
        );
    }
    for (id, (i, credit)) in asked {
        let line = creditable.get(id).map(|c| c.line).unwrap_or_default();
        check_credit_line(&format!("lines[{i}]"), line, credit)?;
    }
    Ok(())
}

/// A credit of every unit the original's lines have left, at the invoiced price. A line whose
/// price was corrected has an amount left that no number of units at that price matches, so
/// the caller names what to credit instead.
fn everything_left(
    original: &Invoice,
    creditable: &BTreeMap<String, LineCredits>,
) -> Result<Vec<InvoiceLine>, StoreError> {
    let mut lines = Vec::new();
    for (i, l) in original.lines.iter().enumerate() {
        let Some((id, credits)) = l.id.as_ref().and_then(|id| creditable.get_key_value(id)) else {
            continue;
        };
        if credits.taken.corrects_price() {
            return Err(Violation::new(
                "lines",
                format!(
                    "line {i} of the invoice had its price corrected: name the lines to credit"
                ),
            )
            .into());
        }
        let left = credits.line.remaining_milli();
        if left > 0 {
            lines.push(InvoiceLine {
                id: None,
                credits_line_id: Some(id.clone()),
                order_id: l.order_id.clone(),
                order_line_id: l.order_line_id.clone(),
                line: Line {
                    quantity: Quantity::from_milli(left),
                    stated: l
                        .line
                        .stated
                        .map(|s| s.portion(Quantity::from_milli(left), l.line.quantity))
                        .transpose()?,
                    ..l.line.clone()
                },
            });
        }
    }
    Ok(lines)
}

/// The credit line for `draft`, copied from the line of `original` it names.
fn credit_line(
    original: &Invoice,
    i: usize,
    draft: CreditLineDraft,
) -> Result<InvoiceLine, StoreError> {
    let Some(credited) = original
        .lines
        .iter()
        .find(|l| l.id.as_deref() == Some(draft.invoice_line_id.as_str()))
    else {
        return Err(Violation::new(
            format!("lines[{i}].invoice_line_id"),
            "is not a line of the invoice",
        )
        .into());
    };
    let invoiced_price = credited.line.unit_price_minor;
    let unit_price_minor = match draft.unit_price {
        Some((_, currency)) if currency != original.currency => {
            return Err(Violation::new(
                format!("lines[{i}].unit_price.currency"),
                format!("must be {}, the invoice's currency", original.currency),
            )
            .into());
        }
        Some((price, _)) => price,
        None => invoiced_price,
    };
    if unit_price_minor <= 0 || unit_price_minor > invoiced_price {
        return Err(Violation::new(
            format!("lines[{i}].unit_price"),
            format!("must be above 0 and at most the invoiced {invoiced_price}"),
        )
        .into());
    }
    Ok(InvoiceLine {
        id: None,
        credits_line_id: Some(draft.invoice_line_id),
        order_id: credited.order_id.clone(),
        order_line_id: credited.order_line_id.clone(),
        line: Line {
            quantity: draft.quantity,
            unit_price_minor,
            // A stated line credited at its invoiced price credits its share of what was
            // charged; at a corrected price, the amounts follow from that price.
            stated: match credited.line.stated {
                Some(s) if unit_price_minor == invoiced_price => {
                    Some(s.portion(draft.quantity, credited.line.quantity)?)
                }
                _ => None,
            },
            ..credited.line.clone()
        },
    })
}

/// Drafts a credit note against an issued invoice, in the credit series of its kind: the given
/// lines, or else everything the original's lines have left.
pub fn create_credit_note(
    conn: &mut DbConnection,
    original_id: &str,
    reason: String,
    lines: Option<Vec<CreditLineDraft>>,
) -> Result<Invoice, StoreError> {
    let original = get(conn, original_id)?;
    if original.kind.is_credit()
        || original.number.is_none()
        || original.status == InvoiceStatus::PendingAcceptance
    {
        return Err(Violation::new(
            "corrects_invoice_id",
            "only an issued invoice can be credited",
        )
        .into());
    }
    let kind = if original.kind == InvoiceKind::SelfBilled {
        InvoiceKind::SelfBilledCreditNote
    } else {
        InvoiceKind::CreditNote
    };
    let series_id = credit_series(conn, &original, kind)?;
    let credit_lines: Vec<InvoiceLine> = match lines {
        Some(drafts) => drafts
            .into_iter()
            .enumerate()
            .map(|(i, draft)| credit_line(&original, i, draft))
            .collect::<Result<_, _>>()?,
        None => {
            let credited = issued_credit_lines(conn, &original.id)?;
            everything_left(&original, &creditable_lines(&original, &credited))?
        }
    };
    let note = draft_credit(conn, &original, kind, &series_id, reason, credit_lines)?;
    outbox::record(conn, EventType::CreditNoteCreated, &note.id)?;
    Ok(note)
}

/// Where a credit note of `original` is numbered: the agreement's credit series for a
/// self-billed invoice, else the default series of its kind.
fn credit_series(
    conn: &mut DbConnection,
    original: &Invoice,
    kind: InvoiceKind,
) -> Result<String, StoreError> {
    match (&original.agreement_id, kind) {
        (Some(agreement), InvoiceKind::SelfBilledCreditNote) => Ok(self_billing_agreements::table
            .find(agreement)
            .select(self_billing_agreements::credit_series_id)
            .first(conn)?),
        _ => Ok(invoice_series::default_for(conn, kind)?.id),
    }
}

/// The base and tax that the issued credit notes of `original_id` reversed, per rate.
fn credited_by_rate(
    conn: &mut DbConnection,
    original_id: &str,
    credited: &[InvoiceLineRow],
) -> Result<Vec<TaxLine>, StoreError> {
    let notes: Vec<InvoiceRow> = invoices::table
        .filter(invoices::corrects_invoice_id.eq(original_id))
        .filter(invoices::number.is_not_null())
        .select(InvoiceRow::as_select())
        .load(conn)?;
    // Each note's tax is rounded on its own base, or settled, as it was printed.
    let mut by_note: BTreeMap<&str, Vec<Line>> = BTreeMap::new();
    for row in credited {
        by_note
            .entry(&row.invoice_id)
            .or_default()
            .push(line_of(row).line);
    }
    let mut taxes = Vec::new();
    for note in &notes {
        let lines = by_note.remove(note.id.as_str()).unwrap_or_default();
        let settled = note.mentions()?.settled_taxes;
        taxes.extend(documents::totals(&lines)?.with_taxes(&settled)?.taxes);
    }
    Ok(taxes)
}

/// A credit note's totals, its tax settled at what remains of the original's where it takes
/// the rest of a rate's base (`settle_credit_taxes`), and the rates so settled.
fn credit_totals(
    original: &[TaxLine],
    credited: &[TaxLine],
    lines: &[Line],
) -> Result<(Totals, Vec<TaxLine>), StoreError> {
    let own = documents::totals(lines)?;
    let settled: Vec<TaxLine> = settle_credit_taxes(original, credited, &own.taxes)
        .into_iter()
        .filter(|tax| !own.taxes.contains(tax))
        .collect();
    Ok((own.with_taxes(&settled)?, settled))
}

/// Drafts a credit note of `kind` in `series_id` with exactly these lines.
fn draft_credit(
    conn: &mut DbConnection,
    original: &Invoice,
    kind: InvoiceKind,
    series_id: &str,
    reason: String,
    credit_lines: Vec<InvoiceLine>,
) -> Result<Invoice, StoreError> {
    let plain: Vec<Line> = credit_lines.iter().map(|l| l.line.clone()).collect();
    let credited = issued_credit_lines(conn, &original.id)?;
    let credited_taxes = credited_by_rate(conn, &original.id, &credited)?;
    let (totals, settled_taxes) = credit_totals(&original.totals.taxes, &credited_taxes, &plain)?;
    check_credit(
        totals.total_minor,
        original.totals.total_minor,
        original.credited_minor,
    )?;
    check_credit_by_rate(&original.totals.taxes, &credited_taxes, &totals.taxes)?;
    check_credit_lines(
        &creditable_lines(original, &credited),
        &credit_lines,
        &totals,
    )?;
    let mut row = new_row(
        kind,
        series_id.to_owned(),
        original.company_id.clone(),
        original.currency.clone(),
        &totals,
    );
    row.corrects_invoice_id = Some(original.id.clone());
    row.correction_reason = Some(reason);
    row.agreement_id = original.agreement_id.clone();
    row.set_mentions(&Mentions {
        corrects_number: None,
        vat: VatMentions {
            supply_date: None,
            ..original.vat.clone()
        },
        settled_taxes,
    });
    diesel::insert_into(invoices::table)
        .values(&row)
        .execute(conn)?;
    write_lines(conn, &row.id, true, &credit_lines, &totals)?;
    get(conn, &row.id)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = payments)]
pub struct Payment {
    pub id: String,
    pub invoice_id: String,
    pub amount_minor: i64,
    pub paid_on: NaiveDate,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
}

pub struct PaymentInput {
    pub amount_minor: i64,
    pub paid_on: NaiveDate,
    pub method: Option<String>,
    pub reference: Option<String>,
    pub created_by: Option<String>,
}

/// Records a payment against an issued invoice; never more than is still owed.
pub fn pay(conn: &mut DbConnection, id: &str, input: PaymentInput) -> Result<Invoice, StoreError> {
    let row = load_for(conn, id, None, InvoiceAction::Pay)?;
    check_payment(
        input.amount_minor,
        row.total_minor,
        row.credited_minor,
        row.paid_minor,
    )?;
    let updated = diesel::update(
        invoices::table
            .filter(invoices::id.eq(id))
            .filter(invoices::paid_minor.eq(row.paid_minor)),
    )
    .set((
        invoices::paid_minor.eq(row.paid_minor + input.amount_minor),
        invoices::version.eq(row.version + 1),
        invoices::updated_at.eq(now()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::Conflict {
            message: "another payment was recorded meanwhile; retry".into(),
            existing_id: None,
        });
    }
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(new_id()),
            payments::invoice_id.eq(id),
            payments::amount_minor.eq(input.amount_minor),
            payments::paid_on.eq(input.paid_on),
            payments::method.eq(input.method),
            payments::reference.eq(input.reference),
            payments::created_by.eq(input.created_by),
            payments::created_at.eq(now()),
        ))
        .execute(conn)?;
    outbox::record(conn, EventType::InvoicePaymentRecorded, id)?;
    if row.paid_minor + input.amount_minor >= row.total_minor - row.credited_minor {
        outbox::record(conn, EventType::InvoicePaid, id)?;
    }
    get(conn, id)
}

/// Records a payment in `currency`, which must be the invoice's own.
pub fn record_payment(
    conn: &mut DbConnection,
    id: &str,
    currency: &str,
    input: PaymentInput,
) -> Result<Invoice, StoreError> {
    check_payment_currency(currency, &get(conn, id)?.currency)?;
    pay(conn, id, input)
}

/// An invoice's payments, oldest first, and the currency they are in.
pub struct InvoicePayments {
    pub currency: String,
    pub payments: Vec<Payment>,
}

pub fn invoice_payments(conn: &mut DbConnection, id: &str) -> Result<InvoicePayments, StoreError> {
    Ok(InvoicePayments {
        currency: get(conn, id)?.currency,
        payments: payments_of(conn, id)?,
    })
}

pub fn payments_of(conn: &mut DbConnection, id: &str) -> Result<Vec<Payment>, StoreError> {
    load(conn, id)?;
    Ok(payments::table
        .filter(payments::invoice_id.eq(id))
        .order((payments::created_at.asc(), payments::id.asc()))
        .select(Payment::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    pub company_id: Option<String>,
    pub kind: Option<InvoiceKind>,
    pub series_id: Option<String>,
    /// Only drafts (`draft`) or only issued documents (`issued`); derived states are not
    /// filtered in the database.
    pub stored_status: Option<InvoiceStatus>,
    /// Only documents with a number (no drafts).
    pub numbered_only: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &InvoiceFilter,
    page: &PageRequest<()>,
) -> Result<Page<Invoice>, StoreError> {
    let mut query = invoices::table.select(InvoiceRow::as_select()).into_boxed();
    if let Some(v) = &filter.company_id {
        query = query.filter(invoices::company_id.eq(v.clone()));
    }
    if let Some(v) = filter.kind {
        query = query.filter(invoices::kind.eq(v.as_str()));
    }
    if let Some(v) = &filter.series_id {
        query = query.filter(invoices::series_id.eq(v.clone()));
    }
    if let Some(v) = filter.stored_status {
        query = query.filter(invoices::status.eq(v.as_str()));
    }
    if filter.numbered_only {
        query = query.filter(invoices::number.is_not_null());
    }
    let page = page_by_time!(conn, page, query, invoices::created_at, InvoiceRow);
    page.try_map(|row| assemble(conn, row))
}

/// The first broken link of a chain, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub invoice_id: Option<String>,
    pub number: Option<String>,
    pub reason: String,
}

pub struct Verification {
    pub checked: i64,
    pub broken: Option<BrokenLink>,
}

/// Walks the series in issue order, recomputing every link from the stored documents.
pub fn verify(conn: &mut DbConnection, series_id: &str) -> Result<Verification, StoreError> {
    let series = invoice_series::get(conn, series_id)?;
    let mut rows: Vec<InvoiceRow> = invoices::table
        .filter(invoices::series_id.eq(series_id))
        .filter(invoices::hash.is_not_null())
        .select(InvoiceRow::as_select())
        .load(conn)?;
    // The chain runs in the order numbers were claimed: by year, then sequence (a yearly
    // series restarts its sequence but not its chain). No node's clock decides it.
    rows.sort_by_key(|r| (r.issue_date.map(|d| d.year()), r.sequence));
    let mut expected_previous = String::new();
    let mut checked = 0;
    for row in rows {
        checked += 1;
        let broken = |reason: &str| BrokenLink {
            invoice_id: Some(row.id.clone()),
            number: row.number.clone(),
            reason: reason.to_owned(),
        };
        if row.previous_hash.as_deref() != Some(expected_previous.as_str()) {
            return Ok(Verification {
                checked,
                broken: Some(broken(
                    "does not follow the previous document of the series",
                )),
            });
        }
        let lines = line_rows(conn, &row.id)?;
        let recomputed = chain_hash(&expected_previous, &canonical(&row, &lines)?);
        if row.hash.as_deref() != Some(recomputed.as_str()) {
            return Ok(Verification {
                checked,
                broken: Some(broken("its content no longer matches its hash")),
            });
        }
        expected_previous = recomputed;
    }
    if series.last_hash != expected_previous {
        return Ok(Verification {
            checked,
            broken: Some(BrokenLink {
                invoice_id: None,
                number: None,
                reason: "the series' last document is missing".into(),
            }),
        });
    }
    Ok(Verification {
        checked,
        broken: None,
    })
}

/// Issues a credit note with these lines against an issued invoice, in the default credit
/// series of its kind, inside the caller's transaction.
/// `lines` pairs each line with the order line it returns, if any: such a line credits the
/// original's line of that order line. Records `credit_note.issued` and `invoice.credited`, as
/// [`issue`] does; not `credit_note.created`, for no draft is ever seen.
pub(crate) fn credit_and_issue(
    conn: &mut DbConnection,
    original_id: &str,
    reason: String,
    lines: Vec<(Option<String>, Line)>,
) -> Result<Invoice, StoreError> {
    let original = get(conn, original_id)?;
    let kind = if original.kind == InvoiceKind::SelfBilled {
        InvoiceKind::SelfBilledCreditNote
    } else {
        InvoiceKind::CreditNote
    };
    let series_id = credit_series(conn, &original, kind)?;
    let lines = lines
        .into_iter()
        .map(|(order_line_id, line)| {
            let credited = order_line_id.as_ref().and_then(|ordered| {
                original
                    .lines
                    .iter()
                    .find(|l| l.order_line_id.as_ref() == Some(ordered))
            });
            InvoiceLine {
                id: None,
                credits_line_id: credited.and_then(|l| l.id.clone()),
                order_id: None,
                order_line_id: None,
                line,
            }
        })
        .collect();
    let note = draft_credit(conn, &original, kind, &series_id, reason, lines)?;
    issue(conn, &note.id, None)
}

/// Accepts or disputes a self-billed invoice awaiting acceptance.
pub(crate) fn decide(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    accept: bool,
    reason: Option<String>,
) -> Result<Invoice, StoreError> {
    let action = if accept {
        InvoiceAction::Accept
    } else {
        InvoiceAction::Dispute
    };
    let mut row = load_for(conn, id, expected_version, action)?;
    let at = now();
    row.status = if accept {
        InvoiceStatus::Issued
    } else {
        InvoiceStatus::Disputed
    }
    .as_str()
    .to_owned();
    row.dispute_reason = reason;
    row.decided_at = Some(at);
    save(conn, &mut row, at)?;
    let event = if accept {
        EventType::InvoiceAccepted
    } else {
        EventType::InvoiceDisputed
    };
    outbox::record(conn, event, id)?;
    assemble(conn, row)
}

/// A self-billed invoice awaiting acceptance: its id, agreement and issue date.
pub(crate) struct Pending {
    pub id: String,
    pub agreement_id: Option<String>,
    pub issue_date: Option<NaiveDate>,
}

/// Self-billed invoices awaiting acceptance.
pub(crate) fn pending_acceptance(conn: &mut DbConnection) -> Result<Vec<Pending>, StoreError> {
    let rows: Vec<(String, Option<String>, Option<NaiveDate>)> = invoices::table
        .filter(invoices::status.eq(InvoiceStatus::PendingAcceptance.as_str()))
        .select((invoices::id, invoices::agreement_id, invoices::issue_date))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, agreement_id, issue_date)| Pending {
            id,
            agreement_id,
            issue_date,
        })
        .collect())
}
