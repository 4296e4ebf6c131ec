//! Quotes: numbered per year, lines with exact totals, a state machine, revisions, and
//! conversion into an order.

use crate::events::outbox;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use crm_domain::events::catalogue::EventType;
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::LineKind;
use crm_domain::sales::quotes::{
    check_currency_change, check_editable, effective_status, quote_number, transition, QuoteAction,
    QuoteStatus,
};
use crm_domain::sales::totals::Totals;
use crm_domain::Violations;
use diesel::prelude::*;

use crate::marketing::campaigns;
use crate::parties::timeline::subject_page;
use crate::platform::db::{natively, DbConnection};
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{quote_lines, quotes};
use crate::platform::stored::stored;
use crate::sales::documents::{self, Line, LineDraft};
use crate::{
    access::users, new_id, now, parties::companies, parties::contacts, platform::counters,
    sales::orders, StoreError,
};
use crm_domain::sales::totals::require_lines;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = quotes, treat_none_as_null = true)]
struct QuoteRow {
    id: String,
    number: String,
    revision: i64,
    previous_revision_id: Option<String>,
    company_id: Option<String>,
    contact_id: Option<String>,
    owner_id: Option<String>,
    currency: String,
    valid_until: Option<NaiveDate>,
    status: String,
    reject_reason: Option<String>,
    notes: Option<String>,
    subtotal_minor: i64,
    discount_minor: i64,
    tax_minor: i64,
    total_minor: i64,
    order_id: Option<String>,
    sent_at: Option<NaiveDateTime>,
    decided_at: Option<NaiveDateTime>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    opportunity_id: Option<String>,
    campaign_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = quote_lines, treat_none_as_default_value = false)]
struct QuoteLineRow {
    id: String,
    quote_id: String,
    position: i64,
    product_id: Option<String>,
    description: String,
    quantity_milli: i64,
    unit_price_minor: i64,
    unit_cost_minor: Option<i64>,
    discount_bp: i64,
    tax_rate_bp: i64,
    gross_minor: i64,
    discount_minor: i64,
    net_minor: i64,
}

/// What a client may write on a draft, with its lines as `L`: priced [`Line`]s as stored, or
/// the client's [`LineDraft`]s in a [`QuoteDraft`].
#[derive(Debug, Clone)]
pub struct QuoteFields<L = Line> {
    pub opportunity_id: Option<String>,
    /// The campaign that brought it, which its order takes; else its opportunity's.
    pub campaign_id: Option<String>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub owner_id: Option<String>,
    pub currency: String,
    pub valid_until: Option<NaiveDate>,
    pub notes: Option<String>,
    pub lines: Vec<L>,
}

#[derive(Debug, Clone)]
pub struct Quote {
    pub id: String,
    pub number: String,
    pub revision: i64,
    pub previous_revision_id: Option<String>,
    pub fields: QuoteFields,
    /// As it reads today: a sent quote past `valid_until` is `expired`.
    pub status: QuoteStatus,
    pub reject_reason: Option<String>,
    pub totals: Totals,
    pub order_id: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub decided_at: Option<NaiveDateTime>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The client's side of a quote: lines still as drafts.
pub type QuoteDraft = QuoteFields<LineDraft>;

fn today() -> NaiveDate {
    now().date()
}

fn check_references(conn: &mut DbConnection, f: &QuoteFields) -> Result<(), StoreError> {
    if f.company_id.is_none() && f.contact_id.is_none() {
        return Err(crm_domain::Violation::new(
            "company_id",
            "a quote needs a company_id or a contact_id",
        )
        .into());
    }
    if let Some(id) = &f.company_id {
        companies::ensure_active(conn, id, "company_id")?;
    }
    if let Some(id) = &f.contact_id {
        contacts::ensure_active(conn, id, "contact_id")?;
    }
    if let Some(id) = &f.owner_id {
        users::ensure_active(conn, id, "owner_id")?;
    }
    if let Some(id) = &f.opportunity_id {
        crate::sales::opportunities::ensure_exists(conn, id, "opportunity_id")?;
    }
    if let Some(id) = &f.campaign_id {
        campaigns::ensure_exists(conn, id, "campaign_id")?;
    }
    Ok(())
}

/// Turns a client's draft into fields: lines resolved against the catalogue.
pub fn resolve(conn: &mut DbConnection, draft: QuoteDraft) -> Result<QuoteFields, StoreError> {
    let lines = documents::resolve_lines(conn, draft.lines, &draft.currency)?;
    let campaign_id = match (draft.campaign_id, &draft.opportunity_id) {
        (None, Some(opportunity)) => crate::sales::opportunities::campaign_of(conn, opportunity)?,
        (given, _) => given,
    };
    Ok(QuoteFields {
        opportunity_id: draft.opportunity_id,
        campaign_id,
        company_id: draft.company_id,
        contact_id: draft.contact_id,
        owner_id: draft.owner_id,
        currency: draft.currency,
        valid_until: draft.valid_until,
        notes: draft.notes,
        lines,
    })
}

fn write_lines(
    conn: &mut DbConnection,
    quote_id: &str,
    lines: &[Line],
    totals: &Totals,
) -> Result<(), StoreError> {
    diesel::delete(quote_lines::table.filter(quote_lines::quote_id.eq(quote_id))).execute(conn)?;
    let rows: Vec<QuoteLineRow> = lines
        .iter()
        .zip(&totals.lines)
        .enumerate()
        .map(|(position, (line, amounts))| QuoteLineRow {
            id: new_id(),
            quote_id: quote_id.to_owned(),
            position: i64::try_from(position).unwrap_or(i64::MAX),
            product_id: line.product_id.clone(),
            description: line.description.clone(),
            quantity_milli: line.quantity.milli(),
            unit_price_minor: line.unit_price_minor,
            unit_cost_minor: line.unit_cost_minor,
            discount_bp: line.discount_bp,
            tax_rate_bp: line.tax_rate_bp,
            gross_minor: amounts.gross_minor,
            discount_minor: amounts.discount_minor,
            net_minor: amounts.net_minor,
        })
        .collect();
    crate::platform::db::insert_batch!(conn, quote_lines::table, rows);
    Ok(())
}

fn insert(
    conn: &mut DbConnection,
    number: String,
    revision: i64,
    previous_revision_id: Option<String>,
    fields: QuoteFields,
) -> Result<Quote, StoreError> {
    check_references(conn, &fields)?;
    let totals = documents::totals(&fields.lines)?;
    let at = now();
    let row = QuoteRow {
        id: new_id(),
        number,
        revision,
        previous_revision_id,
        company_id: fields.company_id.clone(),
        contact_id: fields.contact_id.clone(),
        owner_id: fields.owner_id.clone(),
        currency: fields.currency.clone(),
        valid_until: fields.valid_until,
        status: QuoteStatus::Draft.as_str().to_owned(),
        reject_reason: None,
        notes: fields.notes.clone(),
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        total_minor: totals.total_minor,
        order_id: None,
        sent_at: None,
        decided_at: None,
        version: 1,
        created_at: at,
        updated_at: at,
        opportunity_id: fields.opportunity_id.clone(),
        campaign_id: fields.campaign_id.clone(),
    };
    diesel::insert_into(quotes::table)
        .values(&row)
        .execute(conn)?;
    write_lines(conn, &row.id, &fields.lines, &totals)?;
    outbox::record(conn, EventType::QuoteCreated, &row.id)?;
    get(conn, &row.id)
}

/// Drafts the quote a client asked for: its lines resolved against the catalogue, numbered in
/// the current year.
pub fn draft(conn: &mut DbConnection, draft: QuoteDraft) -> Result<Quote, StoreError> {
    let fields = resolve(conn, draft)?;
    create(conn, fields)
}

/// Creates a draft with the next number of the current year.
pub fn create(conn: &mut DbConnection, fields: QuoteFields) -> Result<Quote, StoreError> {
    let year = today().year();
    let sequence = counters::next(conn, &format!("quote:{year}"))?;
    insert(conn, quote_number(year, sequence), 1, None, fields)
}

fn load(conn: &mut DbConnection, id: &str) -> Result<QuoteRow, StoreError> {
    Ok(natively!(conn, |native| quotes::table
        .find(id)
        .select(QuoteRow::as_select())
        .first(native))?)
}

fn lines_of(conn: &mut DbConnection, quote_id: &str) -> Result<Vec<Line>, StoreError> {
    let rows: Vec<QuoteLineRow> = quote_lines::table
        .filter(quote_lines::quote_id.eq(quote_id))
        .order(quote_lines::position.asc())
        .select(QuoteLineRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Line {
            product_id: r.product_id,
            sku: None,
            description: r.description,
            quantity: Quantity::from_milli(r.quantity_milli),
            unit_price_minor: r.unit_price_minor,
            unit_cost_minor: r.unit_cost_minor,
            discount_bp: r.discount_bp,
            tax_rate_bp: r.tax_rate_bp,
            kind: LineKind::Product,
            stated: None,
            external_id: None,
        })
        .collect())
}

fn assemble(conn: &mut DbConnection, row: QuoteRow) -> Result<Quote, StoreError> {
    let lines = lines_of(conn, &row.id)?;
    let totals = documents::totals(&lines)?;
    let stored_status: QuoteStatus = stored("quotes", "status", &row.status)?;
    Ok(Quote {
        status: effective_status(stored_status, row.valid_until, today()),
        fields: QuoteFields {
            opportunity_id: row.opportunity_id,
            campaign_id: row.campaign_id,
            company_id: row.company_id,
            contact_id: row.contact_id,
            owner_id: row.owner_id,
            currency: row.currency,
            valid_until: row.valid_until,
            notes: row.notes,
            lines,
        },
        totals,
        id: row.id,
        number: row.number,
        revision: row.revision,
        previous_revision_id: row.previous_revision_id,
        reject_reason: row.reject_reason,
        order_id: row.order_id,
        sent_at: row.sent_at,
        decided_at: row.decided_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Quote, StoreError> {
    let row = load(conn, id)?;
    assemble(conn, row)
}

/// A quote with the products its lines sell, when `products` is asked.
pub fn get_expanded(
    conn: &mut DbConnection,
    id: &str,
    products: bool,
) -> Result<(Quote, Vec<crate::sales::products::Product>), StoreError> {
    let quote = get(conn, id)?;
    let sold = documents::products_of(conn, quote.fields.lines.iter(), products)?;
    Ok((quote, sold))
}

/// Checks the lines a caller sent against the currency the quote will be in, which is known
/// only once the stored quote is read.
pub type LineCheck = Box<dyn FnOnce(&str) -> Result<Vec<LineDraft>, Violations> + Send>;

/// What an edit of a draft changes; `None` leaves a field as it is.
pub struct QuoteChanges {
    pub opportunity_id: Option<Option<String>>,
    pub campaign_id: Option<Option<String>>,
    pub company_id: Option<Option<String>>,
    pub contact_id: Option<Option<String>>,
    pub owner_id: Option<Option<String>>,
    pub currency: Option<String>,
    pub valid_until: Option<Option<NaiveDate>>,
    pub notes: Option<Option<String>>,
    /// All lines, replacing the current ones.
    pub lines: Option<LineCheck>,
}

impl QuoteChanges {
    fn apply(self, conn: &mut DbConnection, f: &mut QuoteFields) -> Result<(), StoreError> {
        if let Some(code) = self.currency {
            check_currency_change(
                &f.currency,
                &code,
                self.lines.is_some(),
                !f.lines.is_empty(),
            )?;
            f.currency = code;
        }
        let lines = self.lines.map(|check| check(&f.currency)).transpose()?;
        if let Some(v) = self.opportunity_id {
            f.opportunity_id = v;
        }
        if let Some(v) = self.campaign_id {
            f.campaign_id = v;
        }
        if let Some(v) = self.company_id {
            f.company_id = v;
        }
        if let Some(v) = self.contact_id {
            f.contact_id = v;
        }
        if let Some(v) = self.owner_id {
            f.owner_id = v;
        }
        if let Some(v) = self.valid_until {
            f.valid_until = v;
        }
        if let Some(v) = self.notes {
            f.notes = v;
        }
        if let Some(drafts) = lines {
            f.lines = documents::resolve_lines(conn, drafts, &f.currency)?;
        }
        Ok(())
    }
}

/// Edits a draft; any other state gets an illegal-transition error.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    changes: QuoteChanges,
) -> Result<Quote, StoreError> {
    let row = records::checkout(conn, Record::Quote, id, expected_version, load, |r| {
        r.version
    })?;
    let mut quote = assemble(conn, row.clone())?;
    check_editable(quote.status)?;
    changes.apply(conn, &mut quote.fields)?;
    check_references(conn, &quote.fields)?;
    let totals = documents::totals(&quote.fields.lines)?;
    let f = &quote.fields;
    records::update_versioned!(
        conn,
        quotes,
        id,
        row.version,
        (
            quotes::opportunity_id.eq(&f.opportunity_id),
            quotes::campaign_id.eq(&f.campaign_id),
            quotes::company_id.eq(&f.company_id),
            quotes::contact_id.eq(&f.contact_id),
            quotes::owner_id.eq(&f.owner_id),
            quotes::currency.eq(&f.currency),
            quotes::valid_until.eq(f.valid_until),
            quotes::notes.eq(&f.notes),
            quotes::subtotal_minor.eq(totals.subtotal_minor),
            quotes::discount_minor.eq(totals.discount_minor),
            quotes::tax_minor.eq(totals.tax_minor),
            quotes::total_minor.eq(totals.total_minor),
            quotes::version.eq(row.version + 1),
            quotes::updated_at.eq(now()),
        )
    )?;
    write_lines(conn, id, &quote.fields.lines, &totals)?;
    outbox::record(conn, EventType::QuoteUpdated, id)?;
    get(conn, id)
}

/// What an action produced: the quote itself, plus the new revision or the order.
pub struct ActionOutcome {
    pub quote: Quote,
    pub created_quote_id: Option<String>,
    pub created_order_id: Option<String>,
}

/// Performs `action` on the quote. `revise` creates revision n+1 as a new draft and leaves
/// this one cancelled; `convert` creates an order with channel `quote`.
pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: QuoteAction,
    reason: Option<String>,
) -> Result<ActionOutcome, StoreError> {
    let row = records::checkout(conn, Record::Quote, id, expected_version, load, |r| {
        r.version
    })?;
    let quote = assemble(conn, row.clone())?;
    let next = transition(quote.status, action)?;
    if action == QuoteAction::Send {
        require_lines("quote", quote.fields.lines.len())?;
    }
    let at = now();
    let mut created_quote_id = None;
    let mut created_order_id = None;
    match action {
        QuoteAction::Revise => {
            let revision = insert(
                conn,
                row.number.clone(),
                row.revision + 1,
                Some(row.id.clone()),
                quote.fields.clone(),
            )?;
            created_quote_id = Some(revision.id);
        }
        QuoteAction::Convert => {
            let order = orders::create_from_quote(
                conn,
                orders::QuotedOrder {
                    quote_id: quote.id.clone(),
                    external_id: format!("{}-{}", quote.number, quote.revision),
                    contact_id: quote.fields.contact_id.clone(),
                    company_id: quote.fields.company_id.clone(),
                    currency: quote.fields.currency.clone(),
                    salesperson_id: quote.fields.owner_id.clone(),
                    campaign_id: quote.fields.campaign_id.clone(),
                    lines: quote.fields.lines.clone(),
                },
            )?;
            created_order_id = Some(order);
        }
        QuoteAction::Accept => {
            if let Some(opportunity_id) = &quote.fields.opportunity_id {
                crate::sales::opportunities::win_on_quote_accept(
                    conn,
                    opportunity_id,
                    quote.fields.owner_id.as_deref(),
                )?;
            }
        }
        _ => {}
    }
    records::update_versioned!(
        conn,
        quotes,
        id,
        row.version,
        (
            quotes::status.eq(next.as_str()),
            quotes::sent_at.eq(if action == QuoteAction::Send {
                Some(at)
            } else {
                row.sent_at
            }),
            quotes::decided_at.eq(
                if matches!(action, QuoteAction::Accept | QuoteAction::Reject) {
                    Some(at)
                } else {
                    row.decided_at
                },
            ),
            quotes::reject_reason.eq(if action == QuoteAction::Reject {
                reason
            } else {
                row.reject_reason.clone()
            }),
            quotes::order_id.eq(created_order_id.clone().or(row.order_id.clone())),
            quotes::version.eq(row.version + 1),
            quotes::updated_at.eq(at),
        )
    )?;
    let event = match action {
        QuoteAction::Send => EventType::QuoteSent,
        QuoteAction::Accept => EventType::QuoteAccepted,
        QuoteAction::Reject => EventType::QuoteRejected,
        QuoteAction::Cancel => EventType::QuoteCancelled,
        QuoteAction::Revise => EventType::QuoteRevised,
        QuoteAction::Convert => EventType::QuoteConverted,
    };
    outbox::record(conn, event, id)?;
    Ok(ActionOutcome {
        quote: get(conn, id)?,
        created_quote_id,
        created_order_id,
    })
}

#[derive(Debug, Clone, Default)]
pub struct QuoteFilter {
    pub status: Option<QuoteStatus>,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub owner_id: Option<String>,
    /// Leave drafts out (what a customer may see).
    pub exclude_drafts: bool,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &QuoteFilter,
    page: &PageRequest<()>,
) -> Result<Page<Quote>, StoreError> {
    let mut query = quotes::table.select(QuoteRow::as_select()).into_boxed();
    let day = today();
    if let Some(status) = filter.status {
        query = match status {
            QuoteStatus::Expired => query
                .filter(quotes::status.eq(QuoteStatus::Sent.as_str()))
                .filter(quotes::valid_until.lt(day)),
            QuoteStatus::Sent => query
                .filter(quotes::status.eq(QuoteStatus::Sent.as_str()))
                .filter(
                    quotes::valid_until
                        .is_null()
                        .or(quotes::valid_until.ge(day)),
                ),
            other => query.filter(quotes::status.eq(other.as_str())),
        };
    }
    if let Some(id) = &filter.company_id {
        query = query.filter(quotes::company_id.eq(id.clone()));
    }
    if let Some(id) = &filter.contact_id {
        query = query.filter(quotes::contact_id.eq(id.clone()));
    }
    if let Some(id) = &filter.owner_id {
        query = query.filter(quotes::owner_id.eq(id.clone()));
    }
    if filter.exclude_drafts {
        query = query.filter(quotes::status.ne(QuoteStatus::Draft.as_str()));
    }
    let page = page_by_time!(conn, page, query, quotes::created_at, QuoteRow);
    page.try_map(|row| assemble(conn, row))
}

/// The quotes of a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &crm_domain::parties::timeline::Subject,
    page: &PageRequest<()>,
) -> Result<Vec<crm_domain::parties::timeline::TimelineEntry>, StoreError> {
    let rows = subject_page!(conn, subject, quotes::created_at, QuoteRow, page);
    let day = today();
    rows.into_iter()
        .map(|row| {
            let stored_status: QuoteStatus = stored("quotes", "status", &row.status)?;
            Ok(crm_domain::parties::timeline::TimelineEntry {
                kind: crm_domain::parties::timeline::TimelineKind::Quote,
                summary: format!("Quote {} rev. {}", row.number, row.revision),
                detail: Some(
                    effective_status(stored_status, row.valid_until, day)
                        .as_str()
                        .to_owned(),
                ),
                id: row.id,
                at: row.created_at,
                contact_id: row.contact_id,
                company_id: row.company_id,
                user_id: row.owner_id,
            })
        })
        .collect()
}
