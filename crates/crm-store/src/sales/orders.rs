//! Orders: pushed in by shops (idempotent upsert by channel and external id), or converted
//! from quotes. Lines keep the unit price and unit cost of the time of sale.

use crate::events::outbox;
use crate::platform::query::{sql_text, FixedSql};
use chrono::NaiveDateTime;
use crm_domain::events::catalogue::EventType;
use crm_domain::parties::contacts::LifecycleStage;
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::{check_pushed_status, transition, OrderAction, OrderStatus};
use crm_domain::sales::totals::{LineAmounts, Totals};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::marketing::{campaigns, members};
use crate::parties::customers::{self, CustomerRef};
use crate::parties::timeline::subject_page;
use crate::platform::custom_fields as custom;
use crate::platform::db::{insert_batch, natively, DbConnection};
use crate::platform::db::{lock_key, lock_keys};
use crate::platform::pagination::PageRequest;
use crate::platform::query::{
    choices, json_text, planned, Column, ColumnKind, Dialect, ListQuery, Listed, Table,
};
use crate::platform::records::{self, Record};
use crate::platform::schema::{
    invoice_lines, invoices, order_lines, orders, return_lines, returns,
};
use crate::platform::stored::{stored, stored_json, to_json};
use crate::sales::documents::{self, Line, LineDraft};
use crate::sales::related::{self, Pointers};
use crate::{access::users, new_id, now, StoreError};
use crm_domain::marketing::campaigns::Utm;
use crm_domain::platform::custom_fields::{self as custom_values, CustomField, CustomObject};
use crm_domain::platform::filter::FieldValue;
use crm_domain::sales::totals::require_lines;
use serde_json::{Map, Value};

sql_text!(OrderCustomFields: diesel::sql_types::Text = "CAST(orders.custom_fields AS TEXT)");

// Crate-visible so that `demo` writes the same rows in bulk. `None` inserts NULL rather than
// DEFAULT (no column has a default), so that SQLite takes many rows in one statement.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = orders, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct OrderRow {
    pub id: String,
    pub channel: String,
    pub external_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub quote_id: Option<String>,
    pub currency: String,
    pub status: String,
    pub ordered_at: NaiveDateTime,
    pub salesperson_id: Option<String>,
    pub campaign_id: Option<String>,
    pub payload_hash: String,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub cost_minor: i64,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub prices_include_tax: bool,
    pub connection_id: Option<String>,
    pub shop_number: Option<String>,
    pub shop_updated_at: Option<NaiveDateTime>,
    /// The shop's UTM parameters, as JSON.
    pub utm: Option<String>,
    #[diesel(
        select_expression = FixedSql::<OrderCustomFields>::new(),
        select_expression_type = FixedSql<OrderCustomFields>,
        skip_insertion,
        skip_update
    )]
    pub custom_fields: String,
}

/// Where a shop connection's order came from, for timelines, the 360 view and staleness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShopOrigin {
    pub connection_id: Option<String>,
    /// The number the shop shows its customer, such as `#1001`.
    pub shop_number: Option<String>,
    /// When the shop last changed the order: an older payload is stale.
    pub shop_updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
pub struct OrderLineRow {
    pub id: String,
    pub order_id: String,
    pub position: i64,
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub description: String,
    pub quantity_milli: i64,
    pub unit_price_minor: i64,
    pub unit_cost_minor: Option<i64>,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    pub gross_minor: i64,
    pub discount_minor: i64,
    pub net_minor: i64,
    pub kind: String,
    pub stated_tax_minor: Option<i64>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Order {
    pub id: String,
    pub channel: String,
    pub external_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub quote_id: Option<String>,
    pub currency: String,
    pub status: OrderStatus,
    pub ordered_at: NaiveDateTime,
    pub salesperson_id: Option<String>,
    pub campaign_id: Option<String>,
    pub utm: Option<Utm>,
    pub lines: Vec<Line>,
    /// The id of each line, in the order of `lines`.
    pub line_ids: Vec<String>,
    pub totals: Totals,
    /// Cost of goods of the lines whose cost is known.
    pub cost_minor: i64,
    /// Whether the shop's prices included tax; the stored amounts are net of it either way.
    pub prices_include_tax: bool,
    pub origin: ShopOrigin,
    /// The custom values staff see.
    pub custom_fields: Map<String, Value>,
    /// The custom values its customer sees in the portal.
    pub portal_custom_fields: Map<String, Value>,
    pub version: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An order as a shop pushes it.
#[derive(Debug, Clone)]
pub struct OrderInput {
    pub channel: String,
    pub external_id: String,
    pub ordered_at: NaiveDateTime,
    pub currency: String,
    pub status: Option<OrderStatus>,
    pub customer: Option<CustomerRef>,
    pub company_id: Option<String>,
    pub lines: Vec<LineDraft>,
    pub salesperson_id: Option<String>,
    /// The campaign credited; without it, `utm.campaign` names one by its code.
    pub campaign_id: Option<String>,
    pub utm: Option<Utm>,
    /// A digest of the payload: the same digest again changes nothing.
    pub payload_hash: String,
    pub prices_include_tax: bool,
    pub origin: ShopOrigin,
    /// What the client wrote under `custom_fields`, merged into the stored values.
    pub custom_written: Option<Value>,
}

/// Renders an order as its `GET` answers an admin, for the data of its events. The HTTP layer
/// owns the representation and installs it at start-up beside the outbox's renderer, so that a
/// push renders the order it has just read rather than reading it again.
pub type Renderer = fn(&Order) -> Result<Value, StoreError>;

static RENDERER: OnceLock<Renderer> = OnceLock::new();

pub fn install_renderer(renderer: Renderer) {
    // A second installation is the same function: nothing to do.
    let _ = RENDERER.set(renderer);
}

fn render(order: &Order) -> Result<Value, StoreError> {
    let render = RENDERER
        .get()
        .ok_or_else(|| StoreError::Config("no order renderer is installed".into()))?;
    render(order)
}

pub enum Upserted {
    Created(Order),
    Updated(Order),
    Unchanged(Order),
}

/// What became of one order of an import chunk.
pub enum Imported {
    Done(Result<Upserted, StoreError>),
    /// Rolled back after losing a lock race with a concurrent write (a deadlock): to be pushed
    /// again on its own.
    Retry(OrderInput),
}

/// Upserts the orders of one import chunk in one transaction, each in a savepoint so that a
/// failing order leaves the others, with the chunk's rollup changes written once per key at
/// its end (see `rollups::deferring`).
pub fn import_chunk(
    conn: &mut DbConnection,
    inputs: Vec<OrderInput>,
) -> Result<Vec<Imported>, StoreError> {
    crate::analytics::rollups::deferring(conn, |conn, deferral| {
        let start = deferral.mark();
        match conn.transaction(|c| import_looked_up(c, deferral, &inputs, true)) {
            Ok(imported) => Ok(imported),
            // The deferred inserts failed (a company deleted meanwhile, say): the chunk goes
            // again with every order written in its own savepoint, so that only its own fail.
            Err(_) => {
                deferral.rewind(start);
                import_looked_up(conn, deferral, &inputs, false)
            }
        }
    })
}

/// The orders of a chunk, each in a savepoint unless `defer` lets it wait for the chunk's end.
fn import_looked_up(
    conn: &mut DbConnection,
    deferral: &crate::analytics::rollups::Deferral,
    inputs: &[OrderInput],
    defer: bool,
) -> Result<Vec<Imported>, StoreError> {
    let mut lookups = match conn.transaction(|c| Lookups::read(c, inputs)) {
        Ok(lookups) => lookups,
        // A deadlock on the keys' locks: each order goes again on its own.
        Err(error) if error.is_transient() => {
            return Ok(inputs.iter().cloned().map(Imported::Retry).collect())
        }
        Err(error) => return Err(error),
    };
    let mut deferred = Deferred::default();
    let imported = inputs
        .iter()
        .map(|input| {
            let mark = deferral.mark();
            let written = match defer && lookups.deferrable(input) {
                // It writes nothing before the chunk's end, so it needs no savepoint.
                true => {
                    let mut own = Deferred::default();
                    let written =
                        write_looked_up(conn, &mut lookups, input.clone(), None, Some(&mut own));
                    if written.is_ok() {
                        deferred.append(own);
                    }
                    written
                }
                false => conn
                    .transaction(|c| write_looked_up(c, &mut lookups, input.clone(), None, None)),
            };
            match written {
                Ok(upserted) => Imported::Done(Ok(upserted)),
                Err(error) => {
                    deferral.rewind(mark);
                    if error.is_transient() {
                        Imported::Retry(input.clone())
                    } else {
                        Imported::Done(Err(error))
                    }
                }
            }
        })
        .collect();
    deferred.insert(conn)?;
    Ok(imported)
}

/// New orders of an import chunk whose rows are inserted together at the chunk's end: only
/// orders that write nothing else and that nothing in the chunk reads (`Lookups::deferrable`).
#[derive(Default)]
struct Deferred {
    orders: Vec<OrderRow>,
    lines: Vec<OrderLineRow>,
    events: Vec<outbox::NewEvent>,
}

impl Deferred {
    fn append(&mut self, other: Deferred) {
        self.orders.extend(other.orders);
        self.lines.extend(other.lines);
        self.events.extend(other.events);
    }

    fn insert(self, conn: &mut DbConnection) -> Result<(), StoreError> {
        insert_batch!(conn, orders::table, self.orders);
        insert_batch!(conn, order_lines::table, self.lines);
        outbox::insert(conn, &self.events)
    }
}

/// What the orders of an import chunk look up before they are written, read once for the
/// chunk: the custom field definitions (under the lock that a change of definition waits
/// for), the products their lines name, the companies they name without a customer, and which
/// of their keys are stored, under the keys' locks, which hold until the chunk commits.
struct Lookups {
    defs: Vec<CustomField>,
    catalogue: documents::Catalogue,
    companies: HashMap<String, Option<NaiveDateTime>>,
    /// The stored order of each key that no order of the chunk has pushed yet (`None`: none).
    stored: HashMap<(String, String), Option<String>>,
    /// The keys that more than one order of the chunk pushes.
    repeated: HashSet<(String, String)>,
}

impl Lookups {
    fn read(conn: &mut DbConnection, inputs: &[OrderInput]) -> Result<Lookups, StoreError> {
        // The definitions before the records, in the order a change of definition takes them.
        let defs = custom::fields_for_write(conn, CustomObject::Orders)?;
        let keys: Vec<String> = inputs
            .iter()
            .map(|i| external_key(&i.channel, &i.external_id))
            .collect();
        lock_keys(conn, &keys)?;
        let channels: Vec<&str> = inputs.iter().map(|i| i.channel.as_str()).collect();
        let external_ids: Vec<&str> = inputs.iter().map(|i| i.external_id.as_str()).collect();
        let found: Vec<(String, String, String)> = orders::table
            .filter(orders::channel.eq_any(&channels))
            .filter(orders::external_id.eq_any(&external_ids))
            .select((orders::channel, orders::external_id, orders::id))
            .load(conn)?;
        let mut stored: HashMap<(String, String), Option<String>> = HashMap::new();
        let mut repeated = HashSet::new();
        for input in inputs {
            let key = (input.channel.clone(), input.external_id.clone());
            if stored.insert(key.clone(), None).is_some() {
                repeated.insert(key);
            }
        }
        for (channel, external_id, id) in found {
            if let Some(slot) = stored.get_mut(&(channel, external_id)) {
                *slot = Some(id);
            }
        }
        let company_ids: Vec<String> = inputs
            .iter()
            .filter(|i| i.customer.is_none())
            .filter_map(|i| i.company_id.clone())
            .collect();
        let companies = match company_ids.is_empty() {
            true => HashMap::new(),
            false => crate::parties::companies::archived_at_of(conn, &company_ids)?,
        };
        Ok(Lookups {
            defs,
            catalogue: documents::Catalogue::of(conn, inputs.iter().flat_map(|i| &i.lines))?,
            companies,
            stored,
            repeated,
        })
    }

    /// Whether an order can wait for the chunk's end to be inserted: a new order of a key that
    /// no other order of the chunk pushes, which matches no customer, credits no campaign and
    /// holds no custom values (none are defined) writes nothing else, and nothing reads it.
    fn deferrable(&self, input: &OrderInput) -> bool {
        let key = (input.channel.clone(), input.external_id.clone());
        self.defs.is_empty()
            && input.customer.is_none()
            && input.campaign_id.is_none()
            && input.utm.as_ref().is_none_or(|utm| utm.campaign.is_none())
            && matches!(self.stored.get(&key), Some(None))
            && !self.repeated.contains(&key)
    }

    /// The id of the stored order of a key: as read for the chunk, or read again once an
    /// earlier order of the chunk has pushed the same key.
    fn take_stored(
        &mut self,
        conn: &mut DbConnection,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<String>, StoreError> {
        match self
            .stored
            .remove(&(channel.to_owned(), external_id.to_owned()))
        {
            Some(stored) => Ok(stored),
            None => Ok(find_by_external(conn, channel, external_id)?.map(|row| row.id)),
        }
    }
}

fn external_key(channel: &str, external_id: &str) -> String {
    format!("order:{channel}:{external_id}")
}

/// Holds the order of (`channel`, `external_id`), stored or not, until the transaction ends: a
/// push reads what it overwrites under it, so that two pushes of one order take turns.
pub(crate) fn lock_external(
    conn: &mut DbConnection,
    channel: &str,
    external_id: &str,
) -> Result<(), StoreError> {
    lock_key(conn, &external_key(channel, external_id))
}

pub(crate) fn find_by_external(
    conn: &mut DbConnection,
    channel: &str,
    external_id: &str,
) -> Result<Option<OrderRow>, StoreError> {
    Ok(orders::table
        .filter(orders::channel.eq(channel))
        .filter(orders::external_id.eq(external_id))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()?)
}

impl OrderLineRow {
    fn into_line(self) -> Result<Line, StoreError> {
        Ok(Line {
            kind: stored("order_lines", "kind", &self.kind)?,
            stated: documents::stated_of(
                self.stated_tax_minor,
                self.gross_minor,
                self.discount_minor,
            ),
            product_id: self.product_id,
            sku: self.sku,
            description: self.description,
            quantity: Quantity::from_milli(self.quantity_milli),
            unit_price_minor: self.unit_price_minor,
            unit_cost_minor: self.unit_cost_minor,
            discount_bp: self.discount_bp,
            tax_rate_bp: self.tax_rate_bp,
            external_id: self.external_id,
        })
    }

    /// The stored form of the `position`th line of an order, with its computed amounts.
    pub fn new(order_id: &str, position: usize, line: &Line, amounts: &LineAmounts) -> Self {
        OrderLineRow {
            id: new_id(),
            order_id: order_id.to_owned(),
            position: i64::try_from(position).unwrap_or(i64::MAX),
            product_id: line.product_id.clone(),
            sku: line.sku.clone(),
            description: line.description.clone(),
            quantity_milli: line.quantity.milli(),
            unit_price_minor: line.unit_price_minor,
            unit_cost_minor: line.unit_cost_minor,
            discount_bp: line.discount_bp,
            tax_rate_bp: line.tax_rate_bp,
            gross_minor: amounts.gross_minor,
            discount_minor: amounts.discount_minor,
            net_minor: amounts.net_minor,
            kind: line.kind.as_str().to_owned(),
            stated_tax_minor: line.stated.map(|s| s.tax_minor),
            external_id: line.external_id.clone(),
        }
    }
}

/// What an order's rows contribute to the rollups, from the rows its writer holds.
fn contribution_of_rows(
    conn: &mut DbConnection,
    row: &OrderRow,
    lines: &[OrderLineRow],
) -> Result<crate::analytics::rollups::Contribution, StoreError> {
    let facts = (
        row.company_id.clone(),
        row.ordered_at,
        row.currency.clone(),
        row.status.clone(),
        row.salesperson_id.clone(),
        row.subtotal_minor,
        row.discount_minor,
        row.cost_minor,
        row.campaign_id.clone(),
    );
    let lines = lines
        .iter()
        .map(|l| {
            (
                l.product_id.clone(),
                l.quantity_milli,
                l.net_minor,
                l.unit_cost_minor,
            )
        })
        .collect();
    crate::analytics::rollups::contribution_of(conn, &row.id, facts, lines)
}

struct NewOrder {
    channel: String,
    external_id: String,
    contact_id: Option<String>,
    company_id: Option<String>,
    quote_id: Option<String>,
    currency: String,
    status: OrderStatus,
    ordered_at: NaiveDateTime,
    salesperson_id: Option<String>,
    campaign_id: Option<String>,
    utm: Option<Utm>,
    payload_hash: String,
    lines: Vec<Line>,
    prices_include_tax: bool,
    origin: ShopOrigin,
    /// Checked custom values, in canonical form.
    custom_fields: Map<String, Value>,
}

/// The rows of an order as written; `lines` only when the write replaced them.
struct Written {
    row: OrderRow,
    lines: Option<Vec<OrderLineRow>>,
}

impl Written {
    /// The order as stored, read back only for what the write did not replace.
    fn into_order(
        self,
        conn: &mut DbConnection,
        defs: &[CustomField],
    ) -> Result<Order, StoreError> {
        match self.lines {
            Some(lines) => assemble_rows(self.row, lines, defs),
            None => assemble(conn, self.row, defs),
        }
    }
}

/// Writes an order (new, or over `existing`) with its lines and totals; a new order's rows go
/// to `deferred` when given.
fn save(
    conn: &mut DbConnection,
    order: NewOrder,
    existing: Option<OrderRow>,
    defs: &[CustomField],
    mut deferred: Option<&mut Deferred>,
) -> Result<Written, StoreError> {
    if let Some(id) = &order.salesperson_id {
        users::ensure_active(conn, id, "salesperson_id")?;
    }
    if let Some(id) = &order.campaign_id {
        campaigns::ensure_exists(conn, id, "campaign_id")?;
    }
    require_lines("order", order.lines.len())?;
    let mut order = order;
    let rewrite_lines = match &existing {
        Some(e) => {
            keep_salesperson(conn, e, order.salesperson_id.as_deref())?;
            keep_line_history(conn, e, &mut order.lines)?
        }
        None => true,
    };
    let totals = documents::totals(&order.lines)?;
    let cost_minor = documents::cost_of(&order.lines)?;
    let before = match &existing {
        Some(e) => crate::analytics::rollups::order_contribution(conn, &e.id)?,
        None => crate::analytics::rollups::Contribution::default(),
    };
    let at = now();
    let row = OrderRow {
        id: existing.as_ref().map_or_else(new_id, |e| e.id.clone()),
        channel: order.channel,
        external_id: order.external_id,
        contact_id: order.contact_id,
        company_id: order.company_id,
        quote_id: order.quote_id,
        currency: order.currency,
        status: order.status.as_str().to_owned(),
        ordered_at: order.ordered_at,
        salesperson_id: order.salesperson_id,
        campaign_id: order.campaign_id,
        utm: order.utm.as_ref().map(to_json),
        payload_hash: order.payload_hash,
        subtotal_minor: totals.subtotal_minor,
        discount_minor: totals.discount_minor,
        tax_minor: totals.tax_minor,
        total_minor: totals.total_minor,
        cost_minor,
        version: existing.as_ref().map_or(1, |e| e.version + 1),
        created_at: existing.as_ref().map_or(at, |e| e.created_at),
        updated_at: at,
        prices_include_tax: order.prices_include_tax,
        connection_id: order.origin.connection_id,
        shop_number: order.origin.shop_number,
        shop_updated_at: order.origin.shop_updated_at,
        custom_fields: Value::Object(order.custom_fields).to_string(),
    };
    let custom_fields =
        orders::custom_fields.eq(json_text(Dialect::of(conn), row.custom_fields.clone()));
    match &existing {
        Some(e) => {
            let updated = diesel::update(
                orders::table
                    .filter(orders::id.eq(&row.id))
                    .filter(orders::version.eq(e.version)),
            )
            .set((&row, custom_fields))
            .execute(conn)
            .map_err(|e| map_write_error(e, defs))?;
            records::written(updated, e.version)?;
        }
        None => match deferred.as_deref_mut() {
            Some(deferred) => deferred.orders.push(row.clone()),
            None => {
                diesel::insert_into(orders::table)
                    .values((&row, custom_fields))
                    .execute(conn)
                    .map_err(|e| map_write_error(e, defs))?;
            }
        },
    }
    let line_rows: Vec<OrderLineRow> = order
        .lines
        .iter()
        .zip(&totals.lines)
        .enumerate()
        .map(|(position, (line, amounts))| OrderLineRow::new(&row.id, position, line, amounts))
        .collect();
    match (rewrite_lines, deferred) {
        (true, Some(deferred)) => deferred.lines.extend(line_rows.iter().cloned()),
        (true, None) => {
            if existing.is_some() {
                diesel::delete(order_lines::table.filter(order_lines::order_id.eq(&row.id)))
                    .execute(conn)?;
            }
            insert_batch!(conn, order_lines::table, line_rows);
        }
        (false, _) => {}
    }
    // When the lines stay, the pushed lines equal the stored ones (`keep_line_history`).
    let after = contribution_of_rows(conn, &row, &line_rows)?;
    crate::analytics::rollups::swap(conn, before, after)?;
    if let (Some(campaign), false) = (&row.campaign_id, order.status == OrderStatus::Cancelled) {
        members::convert_buyer(
            conn,
            campaign,
            row.contact_id.as_deref(),
            row.company_id.as_deref(),
            row.ordered_at.date(),
        )?;
    }
    Ok(Written {
        row,
        lines: rewrite_lines.then_some(line_rows),
    })
}

/// A concurrent write of a `unique` custom value, which the check cannot see, meets its index.
fn map_write_error(error: diesel::result::Error, defs: &[CustomField]) -> StoreError {
    custom::unique_index_conflict(CustomObject::Orders, defs, &error)
        .unwrap_or_else(|| error.into())
}

/// Whether a re-push must rewrite the stored lines of `existing`; fills in the cost snapshot of
/// every pushed line that sells the same as the stored line in its place, so that a status
/// push in March keeps January's costs. Lines an invoice or a return refers to cannot change.
fn keep_line_history(
    conn: &mut DbConnection,
    existing: &OrderRow,
    pushed: &mut [Line],
) -> Result<bool, StoreError> {
    let stored: Vec<Line> = lines_with_ids(conn, &existing.id)?
        .into_iter()
        .map(|(_, line)| line)
        .collect();
    for (line, before) in pushed.iter_mut().zip(&stored) {
        if line.sells_same(before) {
            line.unit_cost_minor = before.unit_cost_minor;
        }
    }
    if stored.len() == pushed.len() && stored.iter().zip(pushed.iter()).all(|(a, b)| a == b) {
        return Ok(false);
    }
    if let Some(document) = documents_on_lines(conn, &existing.id)? {
        return Err(StoreError::Conflict {
            message: format!(
                "order {} is on {document}, which refers to its lines: they can no longer change (a change of status or customer still applies); push further items as a new order",
                existing.external_id
            ),
            existing_id: None,
        });
    }
    Ok(true)
}

/// Refuses to change the salesperson of an order that an invoice or a return refers to: its
/// credit notes and refunds are booked against the salesperson who sold it, in commissions.
fn keep_salesperson(
    conn: &mut DbConnection,
    existing: &OrderRow,
    pushed: Option<&str>,
) -> Result<(), StoreError> {
    if existing.salesperson_id.as_deref() == pushed {
        return Ok(());
    }
    match documents_on_lines(conn, &existing.id)? {
        Some(document) => Err(StoreError::Conflict {
            message: format!(
                "order {} is on {document}: its salesperson can no longer change, because its credits and refunds count against the one who sold it",
                existing.external_id
            ),
            existing_id: None,
        }),
        None => Ok(()),
    }
}

/// What refers to the order's lines, if anything: an invoice (draft, issued or credited) or a
/// return.
fn documents_on_lines(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Option<String>, StoreError> {
    let invoice: Option<(String, Option<String>)> = invoice_lines::table
        .inner_join(invoices::table)
        .filter(invoice_lines::order_id.eq(order_id))
        .select((invoices::id, invoices::number))
        .first(conn)
        .optional()?;
    if let Some((id, number)) = invoice {
        return Ok(Some(format!("invoice {}", number.unwrap_or(id))));
    }
    let returned: Option<String> = returns::table
        .inner_join(return_lines::table)
        .filter(returns::order_id.eq(order_id))
        .select(returns::number)
        .first(conn)
        .optional()?;
    Ok(returned.map(|number| format!("return {number}")))
}

/// The invoice, draft or issued, that holds the order's lines and has not been credited in
/// full, if any: while there is one, the order cannot be cancelled.
pub fn live_invoice(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    Ok(invoice_lines::table
        .inner_join(invoices::table)
        .filter(invoice_lines::order_id.eq(order_id))
        .filter(invoice_lines::is_credit.eq(false))
        .filter(invoice_lines::released.eq(false))
        .select((invoices::id, invoices::number))
        .first(conn)
        .optional()?)
}

/// Refuses to cancel an order that a live invoice holds.
fn check_cancellable(conn: &mut DbConnection, order_id: &str) -> Result<(), StoreError> {
    match live_invoice(conn, order_id)? {
        Some((id, number)) => Err(StoreError::Conflict {
            message: format!(
                "the order is on invoice {}: credit it before cancelling the order",
                number.as_deref().unwrap_or("(draft)")
            ),
            existing_id: Some(id),
        }),
        None => Ok(()),
    }
}

/// Creates or updates the order of (`channel`, `external_id`). With `expected_version`, an
/// existing order changes only while it is still at that version; the check runs under the
/// order's lock, so a concurrent push cannot slip between it and the write.
pub fn upsert(
    conn: &mut DbConnection,
    input: OrderInput,
    expected_version: Option<i64>,
) -> Result<Upserted, StoreError> {
    let mut lookups = Lookups::read(conn, std::slice::from_ref(&input))?;
    write_looked_up(conn, &mut lookups, input, expected_version, None)
}

/// [`upsert`], with what it looks up read beforehand; a new order's rows go to `deferred` when
/// given.
fn write_looked_up(
    conn: &mut DbConnection,
    lookups: &mut Lookups,
    input: OrderInput,
    expected_version: Option<i64>,
    mut deferred: Option<&mut Deferred>,
) -> Result<Upserted, StoreError> {
    let stored_id = lookups.take_stored(conn, &input.channel, &input.external_id)?;
    let defs = lookups.defs.as_slice();
    let existing = match stored_id {
        Some(id) => Some(records::checkout(
            conn,
            Record::Order,
            &id,
            expected_version,
            load,
            |r| r.version,
        )?),
        None => None,
    };
    if let Some(row) = &existing {
        if row.payload_hash == input.payload_hash {
            return Ok(Upserted::Unchanged(read(conn, &row.id, defs)?));
        }
    }
    let matched = match &input.customer {
        Some(customer) => customers::match_or_create(
            conn,
            customer,
            input.company_id.clone(),
            false,
            Some(LifecycleStage::Customer),
        )?,
        None => customers::Matched {
            company_id: input.company_id.clone(),
            ..customers::Matched::default()
        },
    };
    if let (Some(id), None) = (&input.company_id, &input.customer) {
        crate::ensure_live(lookups.companies.get(id).copied(), "company_id", "company")?;
    }
    let lines = lookups.catalogue.resolve(input.lines, &input.currency)?;
    let stored_status = existing
        .as_ref()
        .map(|e| stored("orders", "status", &e.status))
        .transpose()?;
    let status = input
        .status
        .or(stored_status)
        .unwrap_or(OrderStatus::Pending);
    if let (Some(from), Some(row)) = (stored_status, &existing) {
        check_pushed_status(from, status)?;
        if status == OrderStatus::Cancelled && from != OrderStatus::Cancelled {
            check_cancellable(conn, &row.id)?;
        }
    }
    let created = existing.is_none();
    let stored_custom = match &existing {
        Some(row) => custom::stored_values("orders", &row.custom_fields)?,
        None => Map::new(),
    };
    let custom_fields =
        custom_values::apply(defs, &stored_custom, input.custom_written.as_ref(), created)?;
    custom::check_unique(
        conn,
        CustomObject::Orders,
        defs,
        &custom_fields,
        existing.as_ref().map_or("", |e| e.id.as_str()),
    )?;
    let quote_id = existing.as_ref().and_then(|e| e.quote_id.clone());
    let campaign_id = match (
        input.campaign_id,
        input.utm.as_ref().and_then(|u| u.campaign.as_deref()),
    ) {
        (Some(id), _) => Some(id),
        (None, Some(code)) => campaigns::id_by_code(conn, code)?,
        (None, None) => None,
    };
    let written = save(
        conn,
        NewOrder {
            channel: input.channel,
            external_id: input.external_id,
            contact_id: matched.contact_id,
            company_id: matched.company_id,
            quote_id,
            currency: input.currency,
            status,
            ordered_at: input.ordered_at,
            salesperson_id: input.salesperson_id,
            campaign_id,
            utm: input.utm,
            payload_hash: input.payload_hash,
            lines,
            prices_include_tax: input.prices_include_tax,
            origin: input.origin,
            custom_fields,
        },
        existing,
        defs,
        deferred.as_deref_mut(),
    )?;
    let event = if created {
        EventType::OrderCreated
    } else {
        EventType::OrderUpdated
    };
    let status_changed = status_event(status).filter(|_| stored_status != Some(status));
    let events: Vec<EventType> = std::iter::once(event).chain(status_changed).collect();
    let order = written.into_order(conn, defs)?;
    let rendered = outbox::rendered(&events, &order.id, &render(&order)?);
    match deferred {
        Some(deferred) => deferred.events.extend(rendered),
        None => outbox::insert(conn, &rendered)?,
    }
    Ok(if created {
        Upserted::Created(order)
    } else {
        Upserted::Updated(order)
    })
}

/// What an accepted quote hands over to become an order.
pub(crate) struct QuotedOrder {
    pub quote_id: String,
    /// The quote's number and revision, unique per quote.
    pub external_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub currency: String,
    pub salesperson_id: Option<String>,
    pub campaign_id: Option<String>,
    pub lines: Vec<Line>,
}

/// The order of an accepted quote: channel `quote`, its lines and cost snapshot copied.
pub(crate) fn create_from_quote(
    conn: &mut DbConnection,
    quote: QuotedOrder,
) -> Result<String, StoreError> {
    let defs = custom::fields_for_write(conn, CustomObject::Orders)?;
    let id = save(
        conn,
        NewOrder {
            channel: "quote".to_owned(),
            external_id: quote.external_id,
            contact_id: quote.contact_id,
            company_id: quote.company_id,
            payload_hash: format!("quote:{}", quote.quote_id),
            quote_id: Some(quote.quote_id),
            currency: quote.currency,
            status: OrderStatus::Pending,
            ordered_at: now(),
            salesperson_id: quote.salesperson_id,
            campaign_id: quote.campaign_id,
            utm: None,
            lines: quote.lines,
            prices_include_tax: false,
            origin: ShopOrigin::default(),
            // Nobody writes the values of a quote's order: it takes the defaults.
            custom_fields: custom_values::defaults(&defs),
        },
        None,
        &defs,
        None,
    )?
    .row
    .id;
    outbox::record(conn, EventType::OrderCreated, &id)?;
    Ok(id)
}

/// The event of an order reaching `status`; none for pending, where every order starts.
fn status_event(status: OrderStatus) -> Option<EventType> {
    match status {
        OrderStatus::Pending => None,
        OrderStatus::Paid => Some(EventType::OrderPaid),
        OrderStatus::Fulfilled => Some(EventType::OrderFulfilled),
        OrderStatus::Cancelled => Some(EventType::OrderCancelled),
    }
}

fn load(conn: &mut DbConnection, id: &str) -> Result<OrderRow, StoreError> {
    Ok(natively!(conn, |native| orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(native))?)
}

fn assemble(
    conn: &mut DbConnection,
    row: OrderRow,
    defs: &[CustomField],
) -> Result<Order, StoreError> {
    let line_rows: Vec<OrderLineRow> = order_lines::table
        .filter(order_lines::order_id.eq(&row.id))
        .order(order_lines::position.asc())
        .select(OrderLineRow::as_select())
        .load(conn)?;
    assemble_rows(row, line_rows, defs)
}

/// An order from its rows, its lines in position order.
fn assemble_rows(
    row: OrderRow,
    line_rows: Vec<OrderLineRow>,
    defs: &[CustomField],
) -> Result<Order, StoreError> {
    let line_ids: Vec<String> = line_rows.iter().map(|r| r.id.clone()).collect();
    let lines: Vec<Line> = line_rows
        .into_iter()
        .map(OrderLineRow::into_line)
        .collect::<Result<_, _>>()?;
    let totals = documents::totals(&lines)?;
    let custom_stored = custom::stored_values("orders", &row.custom_fields)?;
    Ok(Order {
        custom_fields: custom_values::visible(defs, &custom_stored, false),
        portal_custom_fields: custom_values::visible(defs, &custom_stored, true),
        status: stored("orders", "status", &row.status)?,
        lines,
        line_ids,
        totals,
        cost_minor: row.cost_minor,
        prices_include_tax: row.prices_include_tax,
        origin: ShopOrigin {
            connection_id: row.connection_id,
            shop_number: row.shop_number,
            shop_updated_at: row.shop_updated_at,
        },
        id: row.id,
        channel: row.channel,
        external_id: row.external_id,
        contact_id: row.contact_id,
        company_id: row.company_id,
        quote_id: row.quote_id,
        currency: row.currency,
        ordered_at: row.ordered_at,
        salesperson_id: row.salesperson_id,
        campaign_id: row.campaign_id,
        utm: row
            .utm
            .as_deref()
            .map(|text| stored_json("orders", "utm", text))
            .transpose()?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The position of the first of `order_ids` that names no order of `company_id`, if any; one
/// query for them all.
pub fn first_not_of(
    conn: &mut DbConnection,
    order_ids: &[String],
    company_id: &str,
) -> Result<Option<usize>, StoreError> {
    let owned: std::collections::HashSet<String> = orders::table
        .filter(orders::id.eq_any(order_ids))
        .filter(orders::company_id.eq(company_id))
        .select(orders::id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    Ok(order_ids.iter().position(|id| !owned.contains(id)))
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Order, StoreError> {
    let defs = custom::fields(conn, CustomObject::Orders)?;
    read(conn, id, &defs)
}

/// An order, read with definitions its caller already holds (a write reads them first).
fn read(conn: &mut DbConnection, id: &str, defs: &[CustomField]) -> Result<Order, StoreError> {
    let row = load(conn, id)?;
    assemble(conn, row, defs)
}

impl related::PointsAt for Order {
    fn point(&self, pointers: &mut Pointers) {
        pointers.add(
            self.company_id.as_deref(),
            self.contact_id.as_deref(),
            self.salesperson_id.as_deref(),
        );
        pointers
            .products
            .extend(self.lines.iter().filter_map(|l| l.product_id.clone()));
    }
}

pub fn act(
    conn: &mut DbConnection,
    id: &str,
    expected_version: Option<i64>,
    action: OrderAction,
) -> Result<Order, StoreError> {
    let row = records::checkout(conn, Record::Order, id, expected_version, load, |r| {
        r.version
    })?;
    let status: OrderStatus = stored("orders", "status", &row.status)?;
    let next = transition(status, action)?;
    if action == OrderAction::Cancel {
        check_cancellable(conn, id)?;
    }
    let before = crate::analytics::rollups::order_contribution(conn, id)?;
    let updated = diesel::update(
        orders::table
            .filter(orders::id.eq(id))
            .filter(orders::version.eq(row.version)),
    )
    .set((
        orders::status.eq(next.as_str()),
        orders::version.eq(row.version + 1),
        orders::updated_at.eq(now()),
    ))
    .execute(conn)?;
    records::written(updated, row.version)?;
    let after = crate::analytics::rollups::order_contribution(conn, id)?;
    crate::analytics::rollups::swap(conn, before, after)?;
    if let Some(event) = status_event(next) {
        outbox::record(conn, event, id)?;
    }
    get(conn, id)
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub status: Option<OrderStatus>,
    pub channel: Option<String>,
    pub ordered_from: Option<NaiveDateTime>,
    pub ordered_to: Option<NaiveDateTime>,
    pub salesperson_id: Option<String>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &OrderFilter,
    query: &ListQuery,
) -> Result<Listed<Order>, StoreError> {
    let defs = custom::fields(conn, CustomObject::Orders)?;
    let plan = TABLE.plan(Dialect::of(conn), &defs, query)?;
    let mut rows = orders::table.select(OrderRow::as_select()).into_boxed();
    if let Some(v) = &filter.contact_id {
        rows = rows.filter(orders::contact_id.eq(v.clone()));
    }
    if let Some(v) = &filter.company_id {
        rows = rows.filter(orders::company_id.eq(v.clone()));
    }
    if let Some(v) = filter.status {
        rows = rows.filter(orders::status.eq(v.as_str()));
    }
    if let Some(v) = &filter.channel {
        rows = rows.filter(orders::channel.eq(v.clone()));
    }
    if let Some(v) = filter.ordered_from {
        rows = rows.filter(orders::ordered_at.ge(v));
    }
    if let Some(v) = filter.ordered_to {
        rows = rows.filter(orders::ordered_at.lt(v));
    }
    if let Some(v) = &filter.salesperson_id {
        rows = rows.filter(orders::salesperson_id.eq(v.clone()));
    }
    let rows: Vec<OrderRow> = planned!(rows, plan).load(conn)?;
    plan.page(
        rows,
        |row, path| row.value(path, &defs),
        |row| row.id.clone(),
    )
    .try_map(|row| assemble(conn, row, &defs))
}

impl OrderRow {
    /// What the filter language reads at `path`.
    fn value(&self, path: &str, defs: &[CustomField]) -> FieldValue {
        match path {
            "id" => FieldValue::text(Some(&self.id)),
            "channel" => FieldValue::text(Some(&self.channel)),
            "external_id" => FieldValue::text(Some(&self.external_id)),
            "contact_id" => FieldValue::text(self.contact_id.as_deref()),
            "company_id" => FieldValue::text(self.company_id.as_deref()),
            "quote_id" => FieldValue::text(self.quote_id.as_deref()),
            "currency" => FieldValue::text(Some(&self.currency)),
            "status" => FieldValue::text(Some(&self.status)),
            "ordered_at" => FieldValue::instant(Some(self.ordered_at)),
            "salesperson_id" => FieldValue::text(self.salesperson_id.as_deref()),
            "campaign_id" => FieldValue::text(self.campaign_id.as_deref()),
            "subtotal.amount_minor" => FieldValue::integer(Some(self.subtotal_minor)),
            "tax.amount_minor" => FieldValue::integer(Some(self.tax_minor)),
            "total.amount_minor" => FieldValue::integer(Some(self.total_minor)),
            "shop_number" => FieldValue::text(self.shop_number.as_deref()),
            "created_at" => FieldValue::instant(Some(self.created_at)),
            "updated_at" => FieldValue::instant(Some(self.updated_at)),
            _ => custom::stored_path_value("orders", &self.custom_fields, path, defs),
        }
    }
}

/// What lists of orders filter and sort on.
pub const TABLE: Table = Table {
    object: "orders",
    joins: &[],
    relations: &[
        ("company", "company_id", "companies"),
        ("contact", "contact_id", "contacts"),
        ("salesperson", "salesperson_id", "users"),
    ],
    columns: &[
        Column::ID,
        Column::new("channel", "channel", ColumnKind::Text)
            .indexed()
            .not_null()
            .required(),
        Column::new("external_id", "external_id", ColumnKind::Text)
            .indexed()
            .not_null()
            .required(),
        Column::new("contact_id", "contact_id", ColumnKind::Text).indexed(),
        Column::new("company_id", "company_id", ColumnKind::Text).indexed(),
        Column::new("quote_id", "quote_id", ColumnKind::Text),
        Column::new("currency", "currency", ColumnKind::Text)
            .not_null()
            .required(),
        Column::new(
            "status",
            "status",
            ColumnKind::Choice(|| choices(OrderStatus::ALL, |v| v.as_str())),
        )
        .sortable()
        .not_null(),
        Column::new("ordered_at", "ordered_at", ColumnKind::Instant)
            .sortable()
            .indexed()
            .not_null()
            .required(),
        Column::new("salesperson_id", "salesperson_id", ColumnKind::Text).indexed(),
        Column::new("campaign_id", "campaign_id", ColumnKind::Text),
        Column::new(
            "subtotal.amount_minor",
            "subtotal_minor",
            ColumnKind::Integer,
        )
        .sortable()
        .not_null(),
        Column::new("tax.amount_minor", "tax_minor", ColumnKind::Integer)
            .sortable()
            .not_null(),
        Column::new("total.amount_minor", "total_minor", ColumnKind::Integer)
            .sortable()
            .not_null(),
        Column::new("shop_number", "shop_number", ColumnKind::Text),
        Column::CREATED_AT,
        Column::UPDATED_AT,
    ],
};

/// The built-in names custom field keys may not take.
pub fn built_in_names() -> Vec<&'static str> {
    TABLE
        .columns
        .iter()
        .map(|c| c.path)
        .chain([
            "subtotal",
            "discount",
            "tax",
            "total",
            "cost",
            "lines",
            "customer",
            "prices_include_tax",
            "shop",
            "version",
            "custom_fields",
        ])
        .collect()
}

pub fn count(conn: &mut DbConnection) -> Result<i64, StoreError> {
    Ok(orders::table.count().get_result(conn)?)
}

/// The orders of a contact or company as timeline entries, newest first.
pub(crate) fn timeline_page(
    conn: &mut DbConnection,
    subject: &crm_domain::parties::timeline::Subject,
    page: &PageRequest<()>,
) -> Result<Vec<crm_domain::parties::timeline::TimelineEntry>, StoreError> {
    let rows = subject_page!(conn, subject, orders::ordered_at, OrderRow, page);
    Ok(rows
        .into_iter()
        .map(|row| crm_domain::parties::timeline::TimelineEntry {
            kind: crm_domain::parties::timeline::TimelineKind::Order,
            summary: match &row.shop_number {
                Some(number) => format!("Order {}/{} ({number})", row.channel, row.external_id),
                None => format!("Order {}/{}", row.channel, row.external_id),
            },
            detail: Some(row.status),
            id: row.id,
            at: row.ordered_at,
            contact_id: row.contact_id,
            company_id: row.company_id,
            user_id: row.salesperson_id,
        })
        .collect())
}

/// The lines of an order with their ids, for invoicing and returns.
pub fn lines_with_ids(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Vec<(String, Line)>, StoreError> {
    let rows: Vec<OrderLineRow> = order_lines::table
        .filter(order_lines::order_id.eq(order_id))
        .order(order_lines::position.asc())
        .select(OrderLineRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| Ok((r.id.clone(), r.into_line()?)))
        .collect()
}
