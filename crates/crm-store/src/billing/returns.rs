//! Returns (RMA): against an order, never more than was sold, with a root cause, and a credit
//! note when a refund concerns an invoiced order.

use chrono::{Datelike, NaiveDateTime};
use crm_domain::billing::returns::{
    check_quantity, check_root_cause, counts_against_order, transition, Disposition, ReasonCode,
    Resolution, ReturnAction, ReturnStatus, RootCauseCategory,
};
use crm_domain::events::catalogue::EventType;
use crm_domain::platform::money::Quantity;
use crm_domain::sales::totals::{compute, LineInput, StatedAmounts};
use crm_domain::Violation;
use diesel::prelude::*;

use crate::events::outbox;
use crate::parties::timeline::subject_page;
use crate::platform::db::DbConnection;
use crate::platform::pagination::{page_by_time, Page, PageRequest};
use crate::platform::records::{self, Record};
use crate::platform::schema::{return_lines, returns};
use crate::platform::stored::{stored, stored_opt};
use crate::sales::documents::Line;
use crate::{billing::invoices, new_id, now, platform::counters, sales::orders, StoreError};
use crm_domain::access::actors::user_of;
use crm_domain::billing::returns::{check_window, net_of_tax_minor, returned_rate};
use crm_domain::sales::totals::require_lines;

// Crate-visible so that `demo` writes the same rows in bulk. `None` inserts NULL rather than
// DEFAULT (no column has a default), so that SQLite takes many rows in one statement.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = returns, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ReturnRow {
    pub id: String,
    pub number: String,
    pub order_id: String,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub currency: String,
    pub status: String,
    pub customer_comment: Option<String>,
    pub reject_reason: Option<String>,
    pub root_cause_category: Option<String>,
    pub root_cause_notes: Option<String>,
    pub preventive_action: Option<String>,
    pub resolution: Option<String>,
    pub restocking_fee_minor: i64,
    pub concession_minor: i64,
    pub refund_minor: i64,
    pub saved_revenue_minor: i64,
    pub credit_note_id: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    pub window_override_by: Option<String>,
    pub window_override_at: Option<NaiveDateTime>,
    pub opened_by: Option<String>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = return_lines, treat_none_as_default_value = false)]
pub struct ReturnLineRow {
    pub id: String,
    pub return_id: String,
    pub position: i64,
    pub order_line_id: String,
    pub product_id: Option<String>,
    pub description: String,
    pub quantity_milli: i64,
    pub reason_code: String,
    pub received_quantity_milli: Option<i64>,
    pub disposition: Option<String>,
    pub unit_price_minor: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    pub stated_gross_minor: Option<i64>,
    pub stated_discount_minor: Option<i64>,
    pub stated_tax_minor: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ReturnLine {
    pub id: String,
    pub order_line_id: String,
    pub product_id: Option<String>,
    pub description: String,
    pub quantity: Quantity,
    pub reason: ReasonCode,
    pub received_quantity: Option<Quantity>,
    pub disposition: Option<Disposition>,
    pub unit_price_minor: i64,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    /// What a shop's refund gave back for the line, net of tax, when it said.
    pub stated: Option<StatedAmounts>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootCause {
    pub category: Option<RootCauseCategory>,
    pub notes: Option<String>,
    pub preventive_action: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Return {
    pub id: String,
    pub number: String,
    pub order_id: String,
    pub company_id: Option<String>,
    pub contact_id: Option<String>,
    pub currency: String,
    pub status: ReturnStatus,
    pub customer_comment: Option<String>,
    pub reject_reason: Option<String>,
    pub root_cause: RootCause,
    pub resolution: Option<Resolution>,
    pub restocking_fee_minor: i64,
    pub concession_minor: i64,
    pub refund_minor: i64,
    pub saved_revenue_minor: i64,
    pub credit_note_id: Option<String>,
    pub window_override_by: Option<String>,
    pub window_override_at: Option<NaiveDateTime>,
    pub lines: Vec<ReturnLine>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub struct LineRequest {
    pub order_line_id: String,
    pub quantity: Quantity,
    pub reason: ReasonCode,
    /// What the shop's refund gave back for the line; else its share of the order line.
    pub stated: Option<StatedAmounts>,
}

pub struct ReturnRequest {
    pub order_id: String,
    pub lines: Vec<LineRequest>,
    pub customer_comment: Option<String>,
    /// The manager who allows a return outside the window.
    pub window_override_by: Option<String>,
    pub opened_by: Option<String>,
    pub window_days: i64,
    /// A refund the shop already made: it is recorded whatever the window.
    pub shop_refund: bool,
}

fn assemble(conn: &mut DbConnection, row: ReturnRow) -> Result<Return, StoreError> {
    let lines: Vec<ReturnLineRow> = return_lines::table
        .filter(return_lines::return_id.eq(&row.id))
        .order(return_lines::position.asc())
        .select(ReturnLineRow::as_select())
        .load(conn)?;
    Ok(Return {
        status: stored("returns", "status", &row.status)?,
        root_cause: RootCause {
            category: stored_opt(
                "returns",
                "root_cause_category",
                row.root_cause_category.as_deref(),
            )?,
            notes: row.root_cause_notes,
            preventive_action: row.preventive_action,
        },
        resolution: stored_opt("returns", "resolution", row.resolution.as_deref())?,
        lines: lines
            .into_iter()
            .map(|l| {
                Ok(ReturnLine {
                    reason: stored("return_lines", "reason_code", &l.reason_code)?,
                    received_quantity: l.received_quantity_milli.map(Quantity::from_milli),
                    disposition: stored_opt(
                        "return_lines",
                        "disposition",
                        l.disposition.as_deref(),
                    )?,
                    quantity: Quantity::from_milli(l.quantity_milli),
                    id: l.id,
                    order_line_id: l.order_line_id,
                    product_id: l.product_id,
                    description: l.description,
                    unit_price_minor: l.unit_price_minor,
                    discount_bp: l.discount_bp,
                    tax_rate_bp: l.tax_rate_bp,
                    stated: l
                        .stated_gross_minor
                        .zip(l.stated_discount_minor)
                        .zip(l.stated_tax_minor)
                        .map(|((gross_minor, discount_minor), tax_minor)| StatedAmounts {
                            gross_minor,
                            discount_minor,
                            tax_minor,
                        }),
                })
            })
            .collect::<Result<_, StoreError>>()?,
        id: row.id,
        number: row.number,
        order_id: row.order_id,
        company_id: row.company_id,
        contact_id: row.contact_id,
        currency: row.currency,
        customer_comment: row.customer_comment,
        reject_reason: row.reject_reason,
        restocking_fee_minor: row.restocking_fee_minor,
        concession_minor: row.concession_minor,
        refund_minor: row.refund_minor,
        saved_revenue_minor: row.saved_revenue_minor,
        credit_note_id: row.credit_note_id,
        window_override_by: row.window_override_by,
        window_override_at: row.window_override_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// How much of an order line other live returns already hold.
fn already_returned(conn: &mut DbConnection, order_line_id: &str) -> Result<i64, StoreError> {
    let held: Vec<(i64, String)> = return_lines::table
        .inner_join(returns::table)
        .filter(return_lines::order_line_id.eq(order_line_id))
        .select((return_lines::quantity_milli, returns::status))
        .load(conn)?;
    held.into_iter()
        .map(|(quantity, status)| {
            let status = stored("returns", "status", &status)?;
            Ok(if counts_against_order(status) {
                quantity
            } else {
                0
            })
        })
        .sum()
}

/// Opens a return a customer asks for, against an order of its own company; another
/// company's order is not found.
pub fn open_for_customer(
    conn: &mut DbConnection,
    company_id: &str,
    request: ReturnRequest,
) -> Result<Return, StoreError> {
    // Held before its company is read, so that a push moving the order to another company
    // cannot slip between this check and the return.
    records::lock(conn, Record::Order, &request.order_id)?;
    let order = orders::get(conn, &request.order_id)?;
    if order.company_id.as_deref() != Some(company_id) {
        return Err(StoreError::NotFound);
    }
    open(conn, request)
}

/// Opens a return. It holds the order's row, so concurrent returns of one order take turns and
/// together never exceed what was sold, and a push cannot rewrite the lines being returned.
pub fn open(conn: &mut DbConnection, request: ReturnRequest) -> Result<Return, StoreError> {
    let order = match records::lock(conn, Record::Order, &request.order_id)
        .and_then(|()| orders::get(conn, &request.order_id))
    {
        Ok(o) => o,
        Err(StoreError::NotFound) => return Err(Violation::new("order_id", "no such order").into()),
        Err(e) => return Err(e),
    };
    if order.status == crm_domain::sales::orders::OrderStatus::Cancelled {
        return Err(Violation::new("order_id", "the order is cancelled").into());
    }
    let at = now();
    let overridden = !request.shop_refund
        && check_window(
            order.ordered_at,
            at,
            request.window_days,
            request.window_override_by.is_some(),
        )?;
    require_lines("return", request.lines.len())?;
    let order_lines = orders::lines_with_ids(conn, &order.id)?;
    let id = new_id();
    let mut rows = Vec::with_capacity(request.lines.len());
    let mut seen = std::collections::HashSet::new();
    for (i, line) in request.lines.iter().enumerate() {
        let field = format!("lines[{i}].order_line_id");
        let Some((_, sold)) = order_lines
            .iter()
            .find(|(lid, _)| *lid == line.order_line_id)
        else {
            return Err(Violation::new(field, "is not a line of the order").into());
        };
        if !seen.insert(line.order_line_id.clone()) {
            return Err(Violation::new(field, "appears twice").into());
        }
        let held = already_returned(conn, &line.order_line_id)?;
        check_quantity(
            &format!("lines[{i}].quantity"),
            line.quantity.milli(),
            sold.quantity.milli(),
            held,
        )?;
        rows.push(ReturnLineRow {
            id: new_id(),
            return_id: id.clone(),
            position: i64::try_from(i).unwrap_or(i64::MAX),
            order_line_id: line.order_line_id.clone(),
            product_id: sold.product_id.clone(),
            description: sold.description.clone(),
            quantity_milli: line.quantity.milli(),
            reason_code: line.reason.as_str().to_owned(),
            received_quantity_milli: None,
            disposition: None,
            unit_price_minor: sold.unit_price_minor,
            discount_bp: sold.discount_bp,
            tax_rate_bp: sold.tax_rate_bp,
            stated_gross_minor: line.stated.map(|s| s.gross_minor),
            stated_discount_minor: line.stated.map(|s| s.discount_minor),
            stated_tax_minor: line.stated.map(|s| s.tax_minor),
        });
    }
    let year = at.date().year();
    let sequence = counters::next(conn, &format!("return:{year}"))?;
    let row = ReturnRow {
        id: id.clone(),
        number: format!("RMA-{year}-{sequence:06}"),
        order_id: order.id.clone(),
        company_id: order.company_id.clone(),
        contact_id: order.contact_id.clone(),
        currency: order.currency.clone(),
        status: ReturnStatus::Requested.as_str().to_owned(),
        customer_comment: request.customer_comment,
        reject_reason: None,
        root_cause_category: None,
        root_cause_notes: None,
        preventive_action: None,
        resolution: None,
        restocking_fee_minor: 0,
        concession_minor: 0,
        refund_minor: 0,
        saved_revenue_minor: 0,
        credit_note_id: None,
        resolved_at: None,
        window_override_by: request.window_override_by.filter(|_| overridden),
        window_override_at: overridden.then_some(at),
        opened_by: request.opened_by,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    diesel::insert_into(returns::table)
        .values(&row)
        .execute(conn)?;
    for line in rows {
        diesel::insert_into(return_lines::table)
            .values(&line)
            .execute(conn)?;
    }
    outbox::record(conn, EventType::ReturnCreated, &id)?;
    get(conn, &id)
}

fn load(conn: &mut DbConnection, id: &str) -> Result<ReturnRow, StoreError> {
    records::load_row(conn, returns::table, id)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Return, StoreError> {
    let row = load(conn, id)?;
    assemble(conn, row)
}

fn save(
    conn: &mut DbConnection,
    row: &mut ReturnRow,
    previous_version: i64,
) -> Result<(), StoreError> {
    row.version = previous_version + 1;
    row.updated_at = now();
    records::update_versioned!(conn, returns, &row.id, previous_version, &*row)
}

/// Records the root cause and the customer's comment, until the return is resolved.
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    change: impl FnOnce(&mut RootCause, &mut Option<String>) -> Result<(), StoreError>,
) -> Result<Return, StoreError> {
    let mut row = records::checkout(conn, Record::Return, id, expected_version, load, |r| {
        r.version
    })?;
    let status: ReturnStatus = stored("returns", "status", &row.status)?;
    if matches!(
        status,
        ReturnStatus::Resolved
            | ReturnStatus::Closed
            | ReturnStatus::Rejected
            | ReturnStatus::Withdrawn
    ) {
        return Err(crm_domain::platform::transitions::IllegalTransition {
            document: "return",
            action: "edit".into(),
            state: status.as_str().into(),
            allowed: crm_domain::billing::returns::allowed_actions(status)
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        }
        .into());
    }
    let mut cause = RootCause {
        category: stored_opt(
            "returns",
            "root_cause_category",
            row.root_cause_category.as_deref(),
        )?,
        notes: row.root_cause_notes.clone(),
        preventive_action: row.preventive_action.clone(),
    };
    change(&mut cause, &mut row.customer_comment)?;
    row.root_cause_category = cause.category.map(|c| c.as_str().to_owned());
    row.root_cause_notes = cause.notes;
    row.preventive_action = cause.preventive_action;
    let previous = row.version;
    save(conn, &mut row, previous)?;
    outbox::record(conn, EventType::ReturnUpdated, id)?;
    assemble(conn, row)
}

/// `approve`, `reject` (with a reason), `close` or `withdraw`.
pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: ReturnAction,
    reason: Option<String>,
) -> Result<Return, StoreError> {
    let mut row = records::checkout(conn, Record::Return, id, expected_version, load, |r| {
        r.version
    })?;
    let status: ReturnStatus = stored("returns", "status", &row.status)?;
    let next = transition(status, action, None)?;
    if action == ReturnAction::Reject {
        row.reject_reason = reason;
    }
    row.status = next.as_str().to_owned();
    let previous = row.version;
    save(conn, &mut row, previous)?;
    outbox::record(conn, event_of(action), id)?;
    assemble(conn, row)
}

/// The event a return's action records.
fn event_of(action: ReturnAction) -> EventType {
    match action {
        ReturnAction::Approve => EventType::ReturnApproved,
        ReturnAction::Reject => EventType::ReturnRejected,
        ReturnAction::Receive => EventType::ReturnReceived,
        ReturnAction::Resolve => EventType::ReturnResolved,
        ReturnAction::Close => EventType::ReturnClosed,
        ReturnAction::Withdraw => EventType::ReturnWithdrawn,
    }
}

pub struct Received {
    pub return_line_id: String,
    pub quantity: Quantity,
    pub disposition: Disposition,
}

/// Records what arrived, line by line, and what becomes of it.
pub fn receive(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    received: Vec<Received>,
) -> Result<Return, StoreError> {
    let mut row = records::checkout(conn, Record::Return, id, expected_version, load, |r| {
        r.version
    })?;
    let status: ReturnStatus = stored("returns", "status", &row.status)?;
    let next = transition(status, ReturnAction::Receive, None)?;
    let current = assemble(conn, row.clone())?;
    for (i, r) in received.iter().enumerate() {
        let Some(line) = current.lines.iter().find(|l| l.id == r.return_line_id) else {
            return Err(Violation::new(
                format!("lines[{i}].return_line_id"),
                "is not a line of this return",
            )
            .into());
        };
        if r.quantity.milli() > line.quantity.milli() {
            return Err(Violation::new(
                format!("lines[{i}].quantity"),
                "is more than was requested",
            )
            .into());
        }
        diesel::update(return_lines::table.find(&r.return_line_id))
            .set((
                return_lines::received_quantity_milli.eq(Some(r.quantity.milli())),
                return_lines::disposition.eq(Some(r.disposition.as_str())),
            ))
            .execute(conn)?;
    }
    row.status = next.as_str().to_owned();
    let previous = row.version;
    save(conn, &mut row, previous)?;
    outbox::record(conn, event_of(ReturnAction::Receive), id)?;
    assemble(conn, row)
}

pub struct Resolve {
    pub resolution: Resolution,
    pub restocking_fee_minor: i64,
    /// For `retained_with_discount`: what the customer is given back to keep the item.
    pub concession_minor: Option<i64>,
    /// A refund the shop made resolves with its root cause still pending.
    pub shop_refund: bool,
}

/// One unit of an amount given tax included, such as a concession (credited) or a restocking
/// fee (negative: kept), priced net of its tax at `rate_bp`.
fn adjustment(description: String, gross_minor: i64, rate_bp: i64) -> Line {
    Line {
        tax_rate_bp: rate_bp,
        ..Line::computed(
            description,
            Quantity::from_milli(1000),
            net_of_tax_minor(gross_minor, rate_bp),
        )
    }
}

/// A line to credit, with the order line it returns (none for a fee or a concession).
type CreditLine = (Option<String>, Line);

/// The value (tax included) of the returned lines: the received quantity when known. Each
/// line comes with the order line it returns; a line whose amounts the shop stated returns its
/// share of them.
fn returned_value(
    ret: &Return,
    sold: &[(String, Line)],
) -> Result<(i64, Vec<CreditLine>), StoreError> {
    let mut lines: Vec<CreditLine> = Vec::with_capacity(ret.lines.len());
    for l in &ret.lines {
        let quantity = l.received_quantity.unwrap_or(l.quantity);
        if quantity.milli() <= 0 {
            continue;
        }
        let stated = match l.stated {
            Some(refunded) => Some(refunded.portion(quantity, l.quantity)?),
            None => sold
                .iter()
                .find(|(id, _)| *id == l.order_line_id)
                .and_then(|(_, line)| line.stated.map(|s| s.portion(quantity, line.quantity)))
                .transpose()?,
        };
        lines.push((
            Some(l.order_line_id.clone()),
            Line {
                product_id: l.product_id.clone(),
                discount_bp: l.discount_bp,
                tax_rate_bp: l.tax_rate_bp,
                stated,
                ..Line::computed(
                    format!("Return {}: {}", ret.number, l.description),
                    quantity,
                    l.unit_price_minor,
                )
            },
        ));
    }
    let inputs: Vec<LineInput> = lines.iter().map(|(_, l)| l.input()).collect();
    Ok((compute(&inputs)?.total_minor, lines))
}

/// The value, tax included, that resolving the return now would credit before any fee.
pub(crate) fn returned_total(conn: &mut DbConnection, id: &str) -> Result<i64, StoreError> {
    let ret = get(conn, id)?;
    let sold = orders::lines_with_ids(conn, &ret.order_id)?;
    Ok(returned_value(&ret, &sold)?.0)
}

/// Resolves the return with amounts given in its currency: `resolve_in` checks what the caller
/// asked for against the return's currency and says how to resolve.
pub fn resolve_return(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    resolve_in: impl FnOnce(&str) -> Result<Resolve, StoreError>,
) -> Result<Return, StoreError> {
    let asked = resolve_in(&get(conn, id)?.currency)?;
    resolve(conn, id, expected_version, asked)
}

/// Resolves the return once its root cause is known. A refund or store credit on an invoiced
/// order issues a credit note against the invoice in this same transaction; a customer who keeps
/// the item for a concession records the revenue saved.
pub fn resolve(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    resolve: Resolve,
) -> Result<Return, StoreError> {
    let mut row = records::checkout(conn, Record::Return, id, expected_version, load, |r| {
        r.version
    })?;
    let ret = assemble(conn, row.clone())?;
    let next = transition(ret.status, ReturnAction::Resolve, Some(resolve.resolution))?;
    if !resolve.shop_refund {
        check_root_cause(
            ret.root_cause.category,
            ret.root_cause.notes.as_deref(),
            ret.root_cause.preventive_action.as_deref(),
        )?;
    }
    let sold = orders::lines_with_ids(conn, &ret.order_id)?;
    let (value, mut lines) = returned_value(&ret, &sold)?;
    let rate_of_returned = returned_rate(
        lines
            .iter()
            .map(|(_, l)| (l.unit_price_minor, l.tax_rate_bp)),
    );
    if resolve.restocking_fee_minor < 0 || resolve.restocking_fee_minor > value {
        return Err(Violation::new(
            "restocking_fee",
            format!("must be between 0 and the returned value, {value}"),
        )
        .into());
    }
    match resolve.resolution {
        Resolution::RetainedWithDiscount => {
            let concession = resolve.concession_minor.ok_or_else(|| {
                StoreError::from(Violation::new(
                    "concession",
                    "is required when the customer keeps the item",
                ))
            })?;
            if concession < 0 || concession > value {
                return Err(Violation::new(
                    "concession",
                    format!("must be between 0 and the returned value, {value}"),
                )
                .into());
            }
            row.concession_minor = concession;
            row.saved_revenue_minor = value - concession;
            if concession > 0 {
                if let Some((invoice_id, Some(_))) = orders::live_invoice(conn, &ret.order_id)? {
                    // The customer pays less than invoiced: the invoice is corrected by a credit
                    // note for the concession, at the returned goods' VAT rate.
                    let concession_line = adjustment(
                        format!("Concession, return {}", ret.number),
                        concession,
                        rate_of_returned,
                    );
                    let note = invoices::credit_and_issue(
                        conn,
                        &invoice_id,
                        format!(
                            "Return {} ({})",
                            ret.number,
                            Resolution::RetainedWithDiscount.as_str()
                        ),
                        vec![(None, concession_line)],
                    )?;
                    row.credit_note_id = Some(note.id);
                }
            }
        }
        r if r.credits() => {
            row.refund_minor = value - resolve.restocking_fee_minor;
            if row.refund_minor > 0 {
                if let Some((invoice_id, Some(_))) = orders::live_invoice(conn, &ret.order_id)? {
                    if resolve.restocking_fee_minor > 0 {
                        lines.push((
                            None,
                            adjustment(
                                format!("Restocking fee, return {}", ret.number),
                                -resolve.restocking_fee_minor,
                                rate_of_returned,
                            ),
                        ));
                    }
                    let note = invoices::credit_and_issue(
                        conn,
                        &invoice_id,
                        format!("Return {} ({})", ret.number, r.as_str()),
                        lines,
                    )?;
                    row.refund_minor = note.totals.total_minor;
                    row.credit_note_id = Some(note.id);
                }
            }
        }
        _ => {}
    }
    row.resolution = Some(resolve.resolution.as_str().to_owned());
    row.restocking_fee_minor = resolve.restocking_fee_minor;
    row.status = next.as_str().to_owned();
    let at = now();
    row.resolved_at = Some(at);
    let outcome = crate::analytics::rollups::ReturnOutcome {
        return_id: &row.id,
        order_id: &row.order_id,
        currency: &row.currency,
        resolved: at.date(),
        resolution: resolve.resolution,
        carried_by_credit_note: row.credit_note_id.is_some(),
        fee_net_minor: net_of_tax_minor(resolve.restocking_fee_minor, rate_of_returned),
        concession_net_minor: net_of_tax_minor(row.concession_minor, rate_of_returned),
    };
    let contributions =
        crate::analytics::rollups::return_contributions(conn, &outcome, row.company_id.as_deref())?;
    crate::analytics::rollups::swap(
        conn,
        crate::analytics::rollups::Contribution::default(),
        contributions,
    )?;
    let previous = row.version;
    save(conn, &mut row, previous)?;
    // A credit note issued above has recorded its own events (`invoices::issue`).
    outbox::record(conn, event_of(ReturnAction::Resolve), id)?;
    assemble(conn, row)
}

#[derive(Debug, Clone, Default)]
pub struct ReturnFilter {
    pub status: Option<ReturnStatus>,
    pub order_id: Option<String>,
    pub company_id: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &ReturnFilter,
    page: &PageRequest<()>,
) -> Result<Page<Return>, StoreError> {
    let mut query = returns::table.select(ReturnRow::as_select()).into_boxed();
    if let Some(v) = filter.status {
        query = query.filter(returns::status.eq(v.as_str()));
    }
    if let Some(v) = &filter.order_id {
        query = query.filter(returns::order_id.eq(v.clone()));
    }
    if let Some(v) = &filter.company_id {
        query = query.filter(returns::company_id.eq(v.clone()));
    }
    let page = page_by_time!(conn, page, query, returns::created_at, ReturnRow);
    page.try_map(|row| assemble(conn, row))
}

/// Counts and amounts for returns opened in `from..to`.
#[derive(Debug, Clone, Default)]
pub struct ReturnReport {
    pub returns: i64,
    /// Lines per reason code.
    pub by_reason: Vec<(String, i64)>,
    /// Returns per root-cause category (`unknown` until set).
    pub by_root_cause: Vec<(String, i64)>,
    /// Returns per resolution (`unresolved` until resolved).
    pub by_resolution: Vec<(String, i64)>,
    pub refunded_minor: i64,
    pub saved_revenue_minor: i64,
}

/// Amounts are converted into `base` at the latest rate on or before the end of the month the
/// return was resolved (or opened).
pub fn report(
    conn: &mut DbConnection,
    from: NaiveDateTime,
    to: NaiveDateTime,
    base: crm_domain::platform::money::Currency,
) -> Result<ReturnReport, StoreError> {
    use std::collections::BTreeMap;
    let rows: Vec<ReturnRow> = returns::table
        .filter(returns::created_at.ge(from))
        .filter(returns::created_at.lt(to))
        .select(ReturnRow::as_select())
        .load(conn)?;
    let mut report = ReturnReport {
        returns: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        ..ReturnReport::default()
    };
    let (mut causes, mut resolutions, mut reasons) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut to_base = crate::platform::exchange_rates::ToBase::new(base);
    for row in &rows {
        *causes
            .entry(
                row.root_cause_category
                    .clone()
                    .unwrap_or_else(|| "unknown".into()),
            )
            .or_insert(0) += 1;
        *resolutions
            .entry(
                row.resolution
                    .clone()
                    .unwrap_or_else(|| "unresolved".into()),
            )
            .or_insert(0) += 1;
        let month =
            crate::analytics::rollups::month_of(row.resolved_at.unwrap_or(row.created_at).date());
        report.refunded_minor += to_base.amount(conn, row.refund_minor, &row.currency, &month)?;
        report.saved_revenue_minor +=
            to_base.amount(conn, row.saved_revenue_minor, &row.currency, &month)?;
    }
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    for chunk in ids.chunks(500) {
        let codes: Vec<String> = return_lines::table
            .filter(return_lines::return_id.eq_any(chunk))
            .select(return_lines::reason_code)
            .load(conn)?;
        for code in codes {
            *reasons.entry(code).or_insert(0) += 1;
        }
    }
    report.by_reason = reasons.into_iter().collect();
    report.by_root_cause = causes.into_iter().collect();
    report.by_resolution = resolutions.into_iter().collect();
    Ok(report)
}

/// The returns of a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &crm_domain::parties::timeline::Subject,
    page: &PageRequest<()>,
) -> Result<Vec<crm_domain::parties::timeline::TimelineEntry>, StoreError> {
    let rows = subject_page!(conn, subject, returns::created_at, ReturnRow, page);
    Ok(rows
        .into_iter()
        .map(|row| crm_domain::parties::timeline::TimelineEntry {
            kind: crm_domain::parties::timeline::TimelineKind::Return,
            summary: format!("Return {}", row.number),
            detail: Some(row.status),
            id: row.id,
            at: row.created_at,
            contact_id: row.contact_id,
            company_id: row.company_id,
            user_id: row
                .opened_by
                .as_deref()
                .and_then(user_of)
                .map(str::to_owned),
        })
        .collect())
}
