//! Per-customer, per-month rollups of what drives profit, kept in the same transaction as every
//! write that changes them (orders, cancels, credit notes, return resolutions), so that reports
//! never scan raw lines. [`from_scratch`] recomputes them from the raw records; the property
//! test holds the two equal.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::analytics::profit::{attribute, Figures, ProductFigures};
use crm_domain::billing::invoices::InvoiceKind;
use crm_domain::billing::returns::{net_of_tax_minor, returned_rate, Disposition, Resolution};
use crm_domain::platform::money::{add_minor, Quantity};
use crm_domain::sales::orders::OrderStatus;
use diesel::prelude::*;

use crate::analytics::campaign_rollups::{self, CampaignKey, Tag};
use crate::analytics::rollup_sql::add_rows;
use crate::analytics::years;
use crate::platform::db::{DbConnection, BATCH_ROWS};
use crate::platform::schema::{
    campaign_rollups as campaign_rollups_table, companies, customer_rollups, invoice_lines,
    invoices, order_lines, orders, product_rollups, return_lines, returns,
};
use crate::StoreError;

/// (company, `YYYY-MM`, currency).
pub type Key = (String, String, String);

/// (product, salesperson, `YYYY-MM`, currency); `""` for no catalog product or no salesperson.
pub type ProductKey = (String, String, String, String);

pub fn month_of(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

fn negate(f: &Figures) -> Figures {
    Figures {
        revenue_minor: -f.revenue_minor,
        cost_minor: -f.cost_minor,
        returns_minor: -f.returns_minor,
        concessions_minor: -f.concessions_minor,
        orders: -f.orders,
        units_milli: -f.units_milli,
    }
}

/// Adds changes to the customer rollups in multi-row upserts, in key order, and what each
/// month's change makes in the base currency to its company's year and facts.
fn add_customer_changes(
    conn: &mut DbConnection,
    changes: &BTreeMap<Key, Figures>,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    add_customers(conn, changes)?;
    // The rows as they stand now: this transaction holds them since its upsert.
    let companies: BTreeSet<&str> = changes.keys().map(|(c, _, _)| c.as_str()).collect();
    let months: BTreeSet<&str> = changes.keys().map(|(_, m, _)| m.as_str()).collect();
    let stored: BTreeMap<Key, Figures> = customer_rollups::table
        .filter(customer_rollups::company_id.eq_any(companies))
        .filter(customer_rollups::month.eq_any(months))
        .select(years::MonthColumns::default())
        .load::<RollupRow>(conn)?
        .into_iter()
        .map(customer_figures)
        .filter(|(key, _)| changes.contains_key(key))
        .collect();
    let mut changed = Vec::with_capacity(changes.len());
    for (key, delta) in changes {
        let after = stored.get(key).copied().unwrap_or_default();
        let mut before = after;
        before.add(&negate(delta))?;
        changed.push((key, before, after));
    }
    years::months_changed(conn, &changed)
}

/// What one record adds to the customer, product and campaign rollups.
#[derive(Debug, Default)]
pub(crate) struct Contribution {
    pub customers: Vec<(Key, Figures)>,
    pub products: Vec<(ProductKey, ProductFigures)>,
    pub campaigns: Vec<(CampaignKey, Figures)>,
}

/// The stripes each product rollup key is spread over.
const PRODUCT_SHARDS: u128 = 8;

/// Replaces one contribution by another. Rows are written in key order, customer rows first,
/// then campaign rows, then product rows, so that two transactions touching the same rollup rows lock them in the same order and
/// never wait on each other in a cycle. Product rows go to one stripe picked at random per
/// call, so that concurrent orders of one best seller mostly update different rows.
pub(crate) fn swap(
    conn: &mut DbConnection,
    before: Contribution,
    after: Contribution,
) -> Result<(), StoreError> {
    let changes = Changes {
        customers: before
            .customers
            .into_iter()
            .map(|(key, figures)| (key, negate(&figures)))
            .chain(after.customers)
            .collect(),
        products: before
            .products
            .into_iter()
            .map(|(key, figures)| (key, figures.negated()))
            .chain(after.products)
            .collect(),
        campaigns: before
            .campaigns
            .into_iter()
            .map(|(key, figures)| (key, negate(&figures)))
            .chain(after.campaigns)
            .collect(),
    };
    let deferred = DEFERRED.with(|pending| match pending.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(changes);
            None
        }
        None => Some(changes),
    });
    match deferred {
        Some(changes) => write_changes(conn, changes),
        None => Ok(()),
    }
}

/// Rollup changes, not yet written.
#[derive(Default)]
struct Changes {
    customers: Vec<(Key, Figures)>,
    products: Vec<(ProductKey, ProductFigures)>,
    campaigns: Vec<(CampaignKey, Figures)>,
}

/// Writes changes in key order: customer rows, campaign rows, product rows.
fn write_changes(conn: &mut DbConnection, changes: Changes) -> Result<(), StoreError> {
    let Changes {
        customers,
        products,
        mut campaigns,
    } = changes;
    let mut summed: BTreeMap<Key, Figures> = BTreeMap::new();
    for (key, figures) in customers {
        summed.entry(key).or_default().add(&figures)?;
    }
    summed.retain(|_, figures| *figures != Figures::default());
    add_customer_changes(conn, &summed)?;
    campaigns.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, figures) in campaigns {
        campaign_rollups::apply(conn, &key, &figures)?;
    }
    let mut summed: BTreeMap<ProductKey, ProductFigures> = BTreeMap::new();
    for (key, figures) in products {
        summed.entry(key).or_default().add(&figures)?;
    }
    summed.retain(|_, figures| *figures != ProductFigures::default());
    let shard = i16::try_from(uuid::Uuid::now_v7().as_u128() % PRODUCT_SHARDS).unwrap_or(0);
    // In key order, in multi-row statements: rows are locked in the order of their VALUES.
    add_products(conn, &summed, shard)?;
    Ok(())
}

thread_local! {
    /// The rollup changes held back by [`deferring`] on this thread, in the order they came.
    static DEFERRED: RefCell<Option<Vec<Changes>>> = const { RefCell::new(None) };
}

/// Where the held-back changes stood: [`Deferral::rewind`] drops what came after it.
pub struct Mark(usize);

/// The changes held back by one [`deferring`] run.
pub struct Deferral(());

impl Deferral {
    pub fn mark(&self) -> Mark {
        Mark(DEFERRED.with(|pending| pending.borrow().as_ref().map_or(0, Vec::len)))
    }

    /// Drops the changes made since `mark`, whose writes were rolled back.
    pub fn rewind(&self, mark: Mark) {
        DEFERRED.with(|pending| {
            if let Some(pending) = pending.borrow_mut().as_mut() {
                pending.truncate(mark.0);
            }
        });
    }
}

/// Forgets held-back changes however `deferring` ends.
struct ClearOnDrop;

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        DEFERRED.with(|pending| pending.borrow_mut().take());
    }
}

/// Runs `work` (many writes in one transaction) with its rollup changes held back, then writes
/// them summed per key, each row once and in key order. Rows are then locked only at the end
/// and always in the same order, so two such transactions never wait on each other in a cycle
/// over rollup rows, and a key sold by many orders is written once. `work` gets a [`Deferral`]
/// to drop the changes of a part it rolled back to a savepoint.
pub fn deferring<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection, &Deferral) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    DEFERRED.with(|pending| *pending.borrow_mut() = Some(Vec::new()));
    let _clear = ClearOnDrop;
    let done = work(conn, &Deferral(()))?;
    let pending = DEFERRED.with(|pending| pending.borrow_mut().take().unwrap_or_default());
    let mut customers: BTreeMap<Key, Figures> = BTreeMap::new();
    let mut products: BTreeMap<ProductKey, ProductFigures> = BTreeMap::new();
    let mut campaigns: BTreeMap<CampaignKey, Figures> = BTreeMap::new();
    for changes in pending {
        for (key, figures) in changes.customers {
            customers.entry(key).or_default().add(&figures)?;
        }
        for (key, figures) in changes.products {
            products.entry(key).or_default().add(&figures)?;
        }
        for (key, figures) in changes.campaigns {
            campaigns.entry(key).or_default().add(&figures)?;
        }
    }
    write_changes(
        conn,
        Changes {
            customers: customers.into_iter().collect(),
            products: products.into_iter().collect(),
            campaigns: campaigns.into_iter().collect(),
        },
    )?;
    Ok(done)
}

/// An order line as the product rollups see it: its product, quantity, net amount and unit cost.
pub(crate) type LineFacts = (Option<String>, i64, i64, Option<i64>);

fn line_figures(
    (_, quantity_milli, net_minor, unit_cost_minor): &LineFacts,
) -> Result<ProductFigures, StoreError> {
    let cost = match unit_cost_minor {
        Some(cost) => {
            crm_domain::sales::totals::line_amounts(&crm_domain::sales::totals::LineInput {
                quantity: crm_domain::platform::money::Quantity::from_milli(*quantity_milli),
                unit_price_minor: *cost,
                discount_bp: 0,
                tax_rate_bp: 0,
                stated: None,
            })?
            .gross_minor
        }
        None => 0,
    };
    Ok(ProductFigures {
        revenue_minor: *net_minor,
        cost_minor: cost,
        units_milli: *quantity_milli,
        ..ProductFigures::default()
    })
}

fn product_key(
    product: Option<String>,
    salesperson: Option<&str>,
    month: &str,
    currency: &str,
) -> ProductKey {
    (
        product.unwrap_or_default(),
        salesperson.unwrap_or_default().to_owned(),
        month.to_owned(),
        currency.to_owned(),
    )
}

fn add_product(
    totals: &mut BTreeMap<ProductKey, ProductFigures>,
    key: ProductKey,
    figures: &ProductFigures,
) -> Result<(), StoreError> {
    Ok(totals.entry(key).or_default().add(figures)?)
}

/// An order's company, date, currency, status, salesperson, subtotal, discount, cost and
/// campaign.
/// An order's company, time, currency, status, salesperson, subtotal, discount, cost of goods
/// and campaign.
pub(crate) type OrderFacts = (
    Option<String>,
    NaiveDateTime,
    String,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    Option<String>,
);

/// The columns of [`OrderFacts`].
const ORDER_FACTS: (
    orders::company_id,
    orders::ordered_at,
    orders::currency,
    orders::status,
    orders::salesperson_id,
    orders::subtotal_minor,
    orders::discount_minor,
    orders::cost_minor,
    orders::campaign_id,
) = (
    orders::company_id,
    orders::ordered_at,
    orders::currency,
    orders::status,
    orders::salesperson_id,
    orders::subtotal_minor,
    orders::discount_minor,
    orders::cost_minor,
    orders::campaign_id,
);

fn order_figures(facts: &OrderFacts, units_milli: i64) -> Option<(Key, Figures)> {
    let (company, ordered_at, currency, _, _, subtotal, discount, cost, _) = facts;
    Some((
        (
            company.clone()?,
            month_of(ordered_at.date()),
            currency.clone(),
        ),
        Figures {
            revenue_minor: subtotal - discount,
            cost_minor: *cost,
            orders: 1,
            units_milli,
            ..Figures::default()
        },
    ))
}

/// What a campaign-tagged order's own sale adds to its campaign.
fn campaign_sale(facts: &OrderFacts) -> Option<(CampaignKey, Figures)> {
    let (_, ordered_at, currency, _, _, subtotal, discount, cost, campaign) = facts;
    let tag: Tag = (campaign.clone()?, ordered_at.date());
    Some((
        campaign_rollups::key(&tag, month_of(ordered_at.date()), currency),
        Figures {
            revenue_minor: subtotal - discount,
            cost_minor: *cost,
            orders: 1,
            ..Figures::default()
        },
    ))
}

/// What a campaign-tagged order adds to its campaign: its sale, and the refunds, concessions
/// and credit notes of its resolved returns and invoices. The order owns all of them, so that
/// a write changing its campaign or its date moves them with it.
fn campaign_contribution(
    conn: &mut DbConnection,
    order_id: &str,
    facts: &OrderFacts,
) -> Result<Vec<(CampaignKey, Figures)>, StoreError> {
    let Some(sale) = campaign_sale(facts) else {
        return Ok(Vec::new());
    };
    let mut campaigns = vec![sale];
    let order_ids = [order_id.to_owned()];
    let resolved: Vec<ResolvedReturn> = returns::table
        .filter(returns::resolved_at.is_not_null())
        .filter(returns::order_id.eq(order_id))
        .select(RESOLVED_RETURN)
        .load(conn)?;
    for contribution in resolved_returns(conn, resolved)? {
        campaigns.extend(contribution.campaigns);
    }
    let credits = credits_of_orders(conn, &order_ids)?;
    campaigns.extend(campaign_rollups::of_credits(conn, credits)?);
    Ok(campaigns)
}

fn is_cancelled(facts: &OrderFacts) -> bool {
    facts.3 == OrderStatus::Cancelled.as_str()
}

/// Whether an issued invoice or a resolved return refers to the order. Such an order keeps
/// its sales when it is cancelled: its credit notes and refunds are what reverse them, and
/// dropping the sales as well would take them off twice.
fn reversed_by_documents(conn: &mut DbConnection, order_id: &str) -> Result<bool, StoreError> {
    let invoiced: i64 = invoice_lines::table
        .inner_join(invoices::table)
        .filter(invoice_lines::order_id.eq(order_id))
        .filter(invoice_lines::is_credit.eq(false))
        .filter(invoices::number.is_not_null())
        .count()
        .get_result(conn)?;
    if invoiced > 0 {
        return Ok(true);
    }
    let resolved: i64 = returns::table
        .filter(returns::order_id.eq(order_id))
        .filter(returns::resolved_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(resolved > 0)
}

/// What an order, as stored now, contributes: nothing when cancelled before any invoice or
/// refund; nothing to the customer rollups without a company.
pub(crate) fn order_contribution(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Contribution, StoreError> {
    let facts: Option<OrderFacts> = orders::table
        .find(order_id)
        .select(ORDER_FACTS)
        .first(conn)
        .optional()?;
    let Some(facts) = facts else {
        return Ok(Contribution::default());
    };
    let lines: Vec<LineFacts> = order_lines::table
        .filter(order_lines::order_id.eq(order_id))
        .select((
            order_lines::product_id,
            order_lines::quantity_milli,
            order_lines::net_minor,
            order_lines::unit_cost_minor,
        ))
        .load(conn)?;
    contribution_of(conn, order_id, facts, lines)
}

/// What an order with these facts and lines contributes; its writer, which holds them, need
/// not read them back.
pub(crate) fn contribution_of(
    conn: &mut DbConnection,
    order_id: &str,
    facts: OrderFacts,
    lines: Vec<LineFacts>,
) -> Result<Contribution, StoreError> {
    if is_cancelled(&facts) && !reversed_by_documents(conn, order_id)? {
        return Ok(Contribution::default());
    }
    let month = month_of(facts.1.date());
    let mut products = BTreeMap::new();
    let mut units = 0;
    for line in lines {
        let figures = line_figures(&line)?;
        units += figures.units_milli;
        add_product(
            &mut products,
            product_key(line.0, facts.4.as_deref(), &month, &facts.2),
            &figures,
        )?;
    }
    Ok(Contribution {
        customers: order_figures(&facts, units).into_iter().collect(),
        products: products.into_iter().collect(),
        campaigns: campaign_contribution(conn, order_id, &facts)?,
    })
}

/// What an issued credit note contributes: its net amount, in the month it was issued.
pub(crate) fn credit_contribution(
    company_id: &str,
    currency: &str,
    issue_date: NaiveDate,
    net_minor: i64,
) -> (Key, Figures) {
    (
        (
            company_id.to_owned(),
            month_of(issue_date),
            currency.to_owned(),
        ),
        Figures {
            returns_minor: net_minor,
            ..Figures::default()
        },
    )
}

/// What a resolved return contributes in the month it was resolved: the net refund (less the
/// restocking fee) unless a credit note carries it (`None`), the cost of goods of what came
/// back into stock, which the customer did not keep, or the concession.
pub(crate) fn return_contribution(
    company_id: &str,
    currency: &str,
    resolved: NaiveDate,
    resolution: Resolution,
    refund_net_minor: Option<i64>,
    concession_minor: i64,
    restocked_cost_minor: i64,
) -> Option<(Key, Figures)> {
    let key = (
        company_id.to_owned(),
        month_of(resolved),
        currency.to_owned(),
    );
    let figures = match resolution {
        Resolution::RetainedWithDiscount => Figures {
            concessions_minor: concession_minor,
            ..Figures::default()
        },
        r if r.credits() => Figures {
            returns_minor: refund_net_minor.unwrap_or(0),
            cost_minor: -restocked_cost_minor,
            ..Figures::default()
        },
        _ => return None,
    };
    (figures != Figures::default()).then_some((key, figures))
}

/// An issued credit note: id, the invoice it corrects, company, currency, issue date,
/// subtotal and discount.
type CreditNoteFacts = (
    String,
    Option<String>,
    String,
    String,
    Option<NaiveDate>,
    i64,
    i64,
);
type RollupRow = years::MonthTuple;
type ProductRollupRow = (String, String, String, String, i64, i64, i64, i64, i64);
/// A resolved return: id, order, company, currency, resolution, when, credit note, fee,
/// concession.
type ResolvedReturn = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    i64,
    i64,
);

/// The customer, product and campaign rollups, leaving out rows that net to nothing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub customers: BTreeMap<Key, Figures>,
    pub products: BTreeMap<ProductKey, ProductFigures>,
    pub campaigns: BTreeMap<CampaignKey, Figures>,
}

impl Snapshot {
    fn without_empty_rows(self) -> Snapshot {
        Snapshot {
            customers: self
                .customers
                .into_iter()
                .filter(|(_, f)| *f != Figures::default())
                .collect(),
            products: self
                .products
                .into_iter()
                .filter(|(_, f)| *f != ProductFigures::default())
                .collect(),
            campaigns: self
                .campaigns
                .into_iter()
                .filter(|(_, f)| *f != Figures::default())
                .collect(),
        }
    }
}

fn customer_figures(row: RollupRow) -> (Key, Figures) {
    let (c, m, cur, revenue, cost, ret, conc, orders, units) = row;
    (
        (c, m, cur),
        Figures {
            revenue_minor: revenue,
            cost_minor: cost,
            returns_minor: ret,
            concessions_minor: conc,
            orders,
            units_milli: units,
        },
    )
}

/// The product rollup rows with the stripes of each key summed.
fn folded_products(
    rows: Vec<ProductRollupRow>,
) -> Result<BTreeMap<ProductKey, ProductFigures>, StoreError> {
    let mut folded: BTreeMap<ProductKey, ProductFigures> = BTreeMap::new();
    for (key, figures) in rows.into_iter().map(product_figures) {
        folded.entry(key).or_default().add(&figures)?;
    }
    Ok(folded)
}

fn product_figures(row: ProductRollupRow) -> (ProductKey, ProductFigures) {
    let (product, salesperson, month, currency, revenue, cost, units, returned, returns) = row;
    (
        (product, salesperson, month, currency),
        ProductFigures {
            revenue_minor: revenue,
            cost_minor: cost,
            units_milli: units,
            returned_units_milli: returned,
            returns_minor: returns,
        },
    )
}

const PRODUCT_COLUMNS: (
    product_rollups::product_id,
    product_rollups::salesperson_id,
    product_rollups::month,
    product_rollups::currency,
    product_rollups::revenue_minor,
    product_rollups::cost_minor,
    product_rollups::units_milli,
    product_rollups::returned_units_milli,
    product_rollups::returns_minor,
) = (
    product_rollups::product_id,
    product_rollups::salesperson_id,
    product_rollups::month,
    product_rollups::currency,
    product_rollups::revenue_minor,
    product_rollups::cost_minor,
    product_rollups::units_milli,
    product_rollups::returned_units_milli,
    product_rollups::returns_minor,
);

/// The maintained rollups.
pub fn stored(conn: &mut DbConnection) -> Result<Snapshot, StoreError> {
    let customers: Vec<RollupRow> = customer_rollups::table
        .select(years::MonthColumns::default())
        .load(conn)?;
    let products: Vec<ProductRollupRow> =
        product_rollups::table.select(PRODUCT_COLUMNS).load(conn)?;
    Ok(Snapshot {
        customers: customers.into_iter().map(customer_figures).collect(),
        products: folded_products(products)?,
        campaigns: campaign_rollups::stored(conn)?,
    }
    .without_empty_rows())
}

/// The companies one pass of a recomputation covers: ids after `after` up to and including
/// `through`, unbounded where `None`; or the records of no company.
#[derive(Clone, Copy)]
enum Slice<'a> {
    Companies {
        after: Option<&'a str>,
        through: Option<&'a str>,
    },
    NoCompany,
}

/// Narrows a boxed query to the records whose company `$column` names falls in `$slice`.
macro_rules! in_slice {
    ($query:expr, $column:expr, $slice:expr) => {{
        let mut query = $query;
        match $slice {
            Slice::Companies { after, through } => {
                // An open-ended first slice would otherwise take the records of no company too,
                // which the last pass counts.
                query = query.filter($column.is_not_null());
                if let Some(after) = after {
                    query = query.filter($column.gt(after.to_owned()));
                }
                if let Some(through) = through {
                    query = query.filter($column.le(through.to_owned()));
                }
            }
            Slice::NoCompany => query = query.filter($column.is_null()),
        }
        query
    }};
}

/// Companies per pass of a recomputation. One pass holds their orders and lines in memory, so
/// the memory of a rebuild follows the largest slice, not the size of the history.
pub const COMPANIES_PER_SLICE: i64 = 500;

/// Recomputes the rollups slice by slice of companies, in id order, then the records of no
/// company, and hands `each` every slice's part. Rows of two slices may share a key (product
/// rows, and the customer of a rebill invoiced to another company) and then add up.
fn recompute_in_slices(
    conn: &mut DbConnection,
    companies_per_slice: i64,
    mut each: impl FnMut(&mut DbConnection, Snapshot) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut after: Option<String> = None;
    loop {
        let mut query = companies::table
            .select(companies::id)
            .order(companies::id.asc())
            .limit(companies_per_slice)
            .into_boxed();
        if let Some(after) = &after {
            query = query.filter(companies::id.gt(after.clone()));
        }
        let ids: Vec<String> = query.load(conn)?;
        // The last slice is open-ended, so that no record escapes the slices.
        let through = (i64::try_from(ids.len()) == Ok(companies_per_slice))
            .then(|| ids.last().cloned())
            .flatten();
        let slice = Slice::Companies {
            after: after.as_deref(),
            through: through.as_deref(),
        };
        let part = recompute(conn, slice)?;
        each(conn, part)?;
        match through {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    let part = recompute(conn, Slice::NoCompany)?;
    each(conn, part)
}

/// The rollups recomputed from the raw orders, credit notes and returns, set by set rather
/// than record by record, so that a rebuild of millions of lines takes seconds.
pub fn from_scratch(conn: &mut DbConnection) -> Result<Snapshot, StoreError> {
    from_scratch_sliced(conn, COMPANIES_PER_SLICE)
}

/// [`from_scratch`], `companies_per_slice` companies at a time.
pub fn from_scratch_sliced(
    conn: &mut DbConnection,
    companies_per_slice: i64,
) -> Result<Snapshot, StoreError> {
    let mut snapshot = Snapshot::default();
    recompute_in_slices(conn, companies_per_slice, |_, part| {
        for (key, figures) in part.customers {
            snapshot.customers.entry(key).or_default().add(&figures)?;
        }
        for (key, figures) in part.products {
            add_product(&mut snapshot.products, key, &figures)?;
        }
        for (key, figures) in part.campaigns {
            snapshot.campaigns.entry(key).or_default().add(&figures)?;
        }
        Ok(())
    })?;
    Ok(snapshot.without_empty_rows())
}

/// What the records of one slice of companies add to the rollups.
fn recompute(conn: &mut DbConnection, slice: Slice) -> Result<Snapshot, StoreError> {
    let mut snapshot = Snapshot::default();
    let mut add = |entry: Option<(Key, Figures)>| -> Result<(), StoreError> {
        if let Some((key, f)) = entry {
            snapshot.customers.entry(key).or_default().add(&f)?;
        }
        Ok(())
    };
    let documented = documented_orders(conn, slice)?;
    let all_orders: Vec<(String, OrderFacts)> = in_slice!(
        orders::table
            .select((orders::id, ORDER_FACTS,))
            .into_boxed(),
        orders::company_id,
        slice
    )
    .load(conn)?;
    let live_orders: Vec<(String, OrderFacts)> = all_orders
        .into_iter()
        .filter(|(id, facts)| !is_cancelled(facts) || documented.contains(id))
        .collect();
    let lines: Vec<(String, LineFacts)> = in_slice!(
        order_lines::table
            .inner_join(orders::table)
            .select((
                order_lines::order_id,
                (
                    order_lines::product_id,
                    order_lines::quantity_milli,
                    order_lines::net_minor,
                    order_lines::unit_cost_minor,
                ),
            ))
            .into_boxed(),
        orders::company_id,
        slice
    )
    .load(conn)?;
    let facts: BTreeMap<&str, &OrderFacts> =
        live_orders.iter().map(|(id, f)| (id.as_str(), f)).collect();
    let mut units: BTreeMap<&str, i64> = BTreeMap::new();
    for (order_id, line) in &lines {
        let Some(order) = facts.get(order_id.as_str()) else {
            continue;
        };
        let figures = line_figures(line)?;
        *units.entry(order_id.as_str()).or_default() += figures.units_milli;
        add_product(
            &mut snapshot.products,
            product_key(
                line.0.clone(),
                order.4.as_deref(),
                &month_of(order.1.date()),
                &order.2,
            ),
            &figures,
        )?;
    }
    for (id, order) in &live_orders {
        add(order_figures(
            order,
            units.get(id.as_str()).copied().unwrap_or(0),
        ))?;
        if let Some((key, figures)) = campaign_sale(order) {
            snapshot.campaigns.entry(key).or_default().add(&figures)?;
        }
    }
    let any_tagged = orders::table
        .filter(orders::campaign_id.is_not_null())
        .select(orders::id)
        .first::<String>(conn)
        .optional()?
        .is_some();
    let credits: Vec<CreditNoteFacts> = in_slice!(
        invoices::table
            .filter(invoices::kind.eq_any([
                InvoiceKind::CreditNote.as_str(),
                InvoiceKind::SelfBilledCreditNote.as_str(),
            ]))
            .filter(invoices::number.is_not_null())
            .select((
                invoices::id,
                invoices::corrects_invoice_id,
                invoices::company_id,
                invoices::currency,
                invoices::issue_date,
                invoices::subtotal_minor,
                invoices::discount_minor,
            ))
            .into_boxed(),
        invoices::company_id,
        slice
    )
    .load(conn)?;
    for (id, corrects, company, currency, issued, subtotal, discount) in credits {
        let Some(day) = issued else {
            continue;
        };
        add(Some(credit_contribution(
            &company,
            &currency,
            day,
            subtotal - discount,
        )))?;
        if let Some(original) = corrects {
            for (key, figures) in credit_products(conn, &id, &original, &currency, day)? {
                add_product(&mut snapshot.products, key, &figures)?;
            }
            if any_tagged {
                for (key, figures) in credit_campaigns(conn, &id, &original, &currency, day)? {
                    snapshot.campaigns.entry(key).or_default().add(&figures)?;
                }
            }
        }
    }
    let rebills = rebilled(billed_lines(conn, Billed::Of(slice))?, None)?;
    for (key, figures) in rebills.customers {
        add(Some((key, figures)))?;
    }
    for (key, figures) in rebills.products {
        add_product(&mut snapshot.products, key, &figures)?;
    }
    let resolved: Vec<ResolvedReturn> = in_slice!(
        returns::table
            .filter(returns::resolved_at.is_not_null())
            .select(RESOLVED_RETURN)
            .into_boxed(),
        returns::company_id,
        slice
    )
    .load(conn)?;
    for contributions in resolved_returns(conn, resolved)? {
        for (key, figures) in contributions.customers {
            add(Some((key, figures)))?;
        }
        for (key, figures) in contributions.products {
            add_product(&mut snapshot.products, key, &figures)?;
        }
        for (key, figures) in contributions.campaigns {
            snapshot.campaigns.entry(key).or_default().add(&figures)?;
        }
    }
    Ok(snapshot.without_empty_rows())
}

/// The columns of [`ResolvedReturn`].
const RESOLVED_RETURN: (
    returns::id,
    returns::order_id,
    returns::company_id,
    returns::currency,
    returns::resolution,
    returns::resolved_at,
    returns::credit_note_id,
    returns::restocking_fee_minor,
    returns::concession_minor,
) = (
    returns::id,
    returns::order_id,
    returns::company_id,
    returns::currency,
    returns::resolution,
    returns::resolved_at,
    returns::credit_note_id,
    returns::restocking_fee_minor,
    returns::concession_minor,
);

/// What each of `resolved` returns adds to the rollups.
fn resolved_returns(
    conn: &mut DbConnection,
    resolved: Vec<ResolvedReturn>,
) -> Result<Vec<Contribution>, StoreError> {
    let mut all = Vec::with_capacity(resolved.len());
    for (id, order_id, company, currency, resolution, at, credit_note, fee, concession) in resolved
    {
        let (Some(resolution), Some(at)) = (resolution, at) else {
            continue;
        };
        let resolution: Resolution =
            crate::platform::stored::stored("returns", "resolution", &resolution)?;
        let carried = credit_note.is_some();
        let lines: Vec<(i64, Option<i64>, i64, i64)> = return_lines::table
            .filter(return_lines::return_id.eq(&id))
            .order(return_lines::position.asc())
            .select((
                return_lines::quantity_milli,
                return_lines::received_quantity_milli,
                return_lines::unit_price_minor,
                return_lines::tax_rate_bp,
            ))
            .load(conn)?;
        // The rate of a fee or a concession, as resolve saw it: of the lines with units back.
        let rate = returned_rate(
            lines
                .into_iter()
                .filter(|(quantity, received, _, _)| received.unwrap_or(*quantity) > 0)
                .map(|(_, _, price, rate)| (price, rate)),
        );
        let outcome = ReturnOutcome {
            return_id: &id,
            order_id: &order_id,
            currency: &currency,
            resolved: at.date(),
            resolution,
            carried_by_credit_note: carried,
            fee_net_minor: net_of_tax_minor(fee, rate),
            concession_net_minor: net_of_tax_minor(concession, rate),
        };
        all.push(return_contributions(conn, &outcome, company.as_deref())?);
    }
    Ok(all)
}

/// What issued credit notes take off each of `order_ids`, net of tax: (order, month, currency,
/// amount).
pub(crate) fn credits_of_orders(
    conn: &mut DbConnection,
    order_ids: &[String],
) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    let mut billed: BTreeSet<String> = BTreeSet::new();
    for part in order_ids.chunks(BATCH_ROWS) {
        let invoices: Vec<String> = invoice_lines::table
            .filter(invoice_lines::is_credit.eq(false))
            .filter(invoice_lines::order_id.eq_any(part))
            .select(invoice_lines::invoice_id)
            .distinct()
            .load(conn)?;
        billed.extend(invoices);
    }
    let billed: Vec<String> = billed.into_iter().collect();
    let wanted: BTreeSet<&str> = order_ids.iter().map(String::as_str).collect();
    let mut credits = Vec::new();
    for part in billed.chunks(BATCH_ROWS) {
        let notes: Vec<(String, Option<String>, String, Option<NaiveDate>)> = invoices::table
            .filter(invoices::kind.eq_any([
                InvoiceKind::CreditNote.as_str(),
                InvoiceKind::SelfBilledCreditNote.as_str(),
            ]))
            .filter(invoices::number.is_not_null())
            .filter(invoices::corrects_invoice_id.eq_any(part))
            .select((
                invoices::id,
                invoices::corrects_invoice_id,
                invoices::currency,
                invoices::issue_date,
            ))
            .load(conn)?;
        for (note, corrects, currency, issued) in notes {
            let (Some(original), Some(day)) = (corrects, issued) else {
                continue;
            };
            credits.extend(
                note_credits(conn, &note, &original, &currency, day)?
                    .into_iter()
                    .filter(|(order, ..)| wanted.contains(order.as_str())),
            );
        }
    }
    Ok(credits)
}

/// What an issued credit note of `credited_invoice_id` takes off the campaigns of the orders
/// it credits.
pub(crate) fn credit_campaigns(
    conn: &mut DbConnection,
    note_id: &str,
    credited_invoice_id: &str,
    currency: &str,
    issued: NaiveDate,
) -> Result<Vec<(CampaignKey, Figures)>, StoreError> {
    let credits = note_credits(conn, note_id, credited_invoice_id, currency, issued)?;
    campaign_rollups::of_credits(conn, credits)
}

/// What one issued credit note of `credited_invoice_id` takes off each order the invoice
/// billed, net of tax: (order, month, currency, amount). A credited line counts against the
/// order of the line it credits; the rest of the note is spread as the product rollups spread
/// it, over its keyed lines or over what the credited invoice billed.
pub(crate) fn note_credits(
    conn: &mut DbConnection,
    note_id: &str,
    credited_invoice_id: &str,
    currency: &str,
    issued: NaiveDate,
) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    let sold: Vec<(String, i64, Option<String>)> = invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(credited_invoice_id))
        .select((
            invoice_lines::id,
            invoice_lines::net_minor,
            invoice_lines::order_id,
        ))
        .load(conn)?;
    let credited: Vec<(i64, Option<String>)> = invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(note_id))
        .select((invoice_lines::net_minor, invoice_lines::credits_line_id))
        .load(conn)?;
    let order_of: BTreeMap<&str, String> = sold
        .iter()
        .map(|(id, _, order)| (id.as_str(), order.clone().unwrap_or_default()))
        .collect();
    let fallback: Vec<(String, i64)> = sold
        .iter()
        .map(|(_, net, order)| (order.clone().unwrap_or_default(), *net))
        .collect();
    let amounts: Vec<(Option<String>, i64)> = credited
        .into_iter()
        .map(|(net, line)| {
            let order = line.map(|l| order_of.get(l.as_str()).cloned().unwrap_or_default());
            (order, net)
        })
        .collect();
    Ok(attribute(&amounts, &fallback)?
        .into_iter()
        .filter(|(order, _)| !order.is_empty())
        .map(|(order, amount)| (order, month_of(issued), currency.to_owned(), amount))
        .collect())
}

/// The orders of a slice's companies that an issued invoice or a resolved return refers to.
fn documented_orders(
    conn: &mut DbConnection,
    slice: Slice,
) -> Result<BTreeSet<String>, StoreError> {
    let invoiced: Vec<Option<String>> = in_slice!(
        invoice_lines::table
            .inner_join(invoices::table)
            .inner_join(orders::table.on(orders::id.nullable().eq(invoice_lines::order_id)))
            .filter(invoice_lines::is_credit.eq(false))
            .filter(invoices::number.is_not_null())
            .select(invoice_lines::order_id)
            .distinct()
            .into_boxed(),
        orders::company_id,
        slice
    )
    .load(conn)?;
    let returned: Vec<String> = in_slice!(
        returns::table
            .inner_join(orders::table.on(orders::id.eq(returns::order_id)))
            .filter(returns::resolved_at.is_not_null())
            .select(returns::order_id)
            .distinct()
            .into_boxed(),
        orders::company_id,
        slice
    )
    .load(conn)?;
    Ok(invoiced.into_iter().flatten().chain(returned).collect())
}

/// An issued invoice's line of an order line: the order line, the invoice, when it was issued,
/// its company, currency and issue date, the line's net, and the product and salesperson.
type BilledLine = (
    Option<String>,
    String,
    Option<NaiveDateTime>,
    String,
    String,
    Option<NaiveDate>,
    i64,
    Option<String>,
    Option<String>,
);

/// Which billed lines to read: those of the orders of a slice of companies, or of these order
/// lines. All the bills of one order line fall in one slice, its order's.
enum Billed<'a> {
    Of(Slice<'a>),
    Lines(&'a [String]),
}

/// The lines of issued invoices that bill order lines, of every order line or only of those
/// in `order_lines`.
fn billed_lines(conn: &mut DbConnection, which: Billed) -> Result<Vec<BilledLine>, StoreError> {
    let mut query = invoice_lines::table
        .inner_join(invoices::table)
        .inner_join(
            order_lines::table.on(order_lines::id.nullable().eq(invoice_lines::order_line_id)),
        )
        .inner_join(orders::table.on(orders::id.eq(order_lines::order_id)))
        .filter(invoice_lines::is_credit.eq(false))
        .filter(invoices::number.is_not_null())
        .select((
            invoice_lines::order_line_id,
            invoices::id,
            invoices::issued_at,
            invoices::company_id,
            invoices::currency,
            invoices::issue_date,
            invoice_lines::net_minor,
            order_lines::product_id,
            orders::salesperson_id,
        ))
        .into_boxed();
    match which {
        Billed::Of(slice) => query = in_slice!(query, orders::company_id, slice),
        Billed::Lines(ids) => query = query.filter(order_lines::id.eq_any(ids.to_vec())),
    }
    Ok(query.load(conn)?)
}

/// What billing order lines again adds back (of every invoice, or `only` of one): an order
/// line is billed again only once the invoice that billed it was credited in full, and that
/// credit took it off as returns. So each bill after the first counts its net back, in the
/// month it was issued, and an order credited and invoiced again counts once, not zero times.
fn rebilled(lines: Vec<BilledLine>, only: Option<&str>) -> Result<Contribution, StoreError> {
    let mut by_order_line: BTreeMap<String, Vec<BilledLine>> = BTreeMap::new();
    for line in lines {
        if let Some(order_line) = line.0.clone() {
            by_order_line.entry(order_line).or_default().push(line);
        }
    }
    let mut customers: BTreeMap<Key, Figures> = BTreeMap::new();
    let mut products: BTreeMap<ProductKey, ProductFigures> = BTreeMap::new();
    for mut bills in by_order_line.into_values() {
        bills.sort_by(|a, b| (a.2, &a.1).cmp(&(b.2, &b.1)));
        for (_, invoice, _, company, currency, issued, net, product, salesperson) in
            bills.into_iter().skip(1)
        {
            let (Some(day), true) = (issued, only.is_none_or(|only| only == invoice)) else {
                continue;
            };
            let month = month_of(day);
            let back = Figures {
                returns_minor: -net,
                ..Figures::default()
            };
            customers
                .entry((company, month.clone(), currency.clone()))
                .or_default()
                .add(&back)?;
            add_product(
                &mut products,
                product_key(product, salesperson.as_deref(), &month, &currency),
                &ProductFigures {
                    returns_minor: -net,
                    ..ProductFigures::default()
                },
            )?;
        }
    }
    Ok(Contribution {
        customers: customers.into_iter().collect(),
        products: products.into_iter().collect(),
        campaigns: Vec::new(),
    })
}

/// What issuing `invoice_id` adds back for the order lines it bills again (see `rebilled`).
pub(crate) fn rebilled_by(
    conn: &mut DbConnection,
    invoice_id: &str,
) -> Result<Contribution, StoreError> {
    let order_lines: Vec<Option<String>> = invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(invoice_id))
        .select(invoice_lines::order_line_id)
        .load(conn)?;
    let order_lines: Vec<String> = order_lines.into_iter().flatten().collect();
    if order_lines.is_empty() {
        return Ok(Contribution::default());
    }
    rebilled(
        billed_lines(conn, Billed::Lines(&order_lines))?,
        Some(invoice_id),
    )
}

/// A product and the salesperson who sold it; `""` for none.
type Seller = (String, String);

fn seller(product: Option<String>, salesperson: Option<&str>) -> Seller {
    (
        product.unwrap_or_default(),
        salesperson.unwrap_or_default().to_owned(),
    )
}

fn in_month(
    sellers: BTreeMap<Seller, ProductFigures>,
    month: &str,
    currency: &str,
) -> Vec<(ProductKey, ProductFigures)> {
    sellers
        .into_iter()
        .map(|((product, salesperson), figures)| {
            (
                (product, salesperson, month.to_owned(), currency.to_owned()),
                figures,
            )
        })
        .collect()
}

fn add_returns(
    sellers: &mut BTreeMap<Seller, ProductFigures>,
    returns: BTreeMap<Seller, i64>,
) -> Result<(), StoreError> {
    for (key, returns_minor) in returns {
        sellers.entry(key).or_default().add(&ProductFigures {
            returns_minor,
            ..ProductFigures::default()
        })?;
    }
    Ok(())
}

/// What an issued credit note takes from the product rollups, in the month it was issued:
/// each line from the product and salesperson of the order line it credits. A line that
/// credits none (a restocking fee, a concession) is spread over the note's other lines, or
/// over what the credited invoice sold; a line sold outside any order was never in the
/// product rollups, and stays with no product and no salesperson.
pub(crate) fn credit_products(
    conn: &mut DbConnection,
    note_id: &str,
    credited_invoice_id: &str,
    currency: &str,
    issued: NaiveDate,
) -> Result<Vec<(ProductKey, ProductFigures)>, StoreError> {
    let sold: Vec<(String, i64, Option<String>, Option<String>)> = invoice_lines::table
        .inner_join(
            order_lines::table.on(order_lines::id.nullable().eq(invoice_lines::order_line_id)),
        )
        .inner_join(orders::table.on(orders::id.eq(order_lines::order_id)))
        .filter(invoice_lines::invoice_id.eq(credited_invoice_id))
        .select((
            invoice_lines::id,
            invoice_lines::net_minor,
            order_lines::product_id,
            orders::salesperson_id,
        ))
        .load(conn)?;
    let credited: Vec<(i64, Option<String>)> = invoice_lines::table
        .filter(invoice_lines::invoice_id.eq(note_id))
        .select((invoice_lines::net_minor, invoice_lines::credits_line_id))
        .load(conn)?;
    let sellers: BTreeMap<&str, Seller> = sold
        .iter()
        .map(|(id, _, product, salesperson)| {
            (id.as_str(), seller(product.clone(), salesperson.as_deref()))
        })
        .collect();
    let fallback: Vec<(Seller, i64)> = sold
        .iter()
        .map(|(_, net, product, salesperson)| {
            (seller(product.clone(), salesperson.as_deref()), *net)
        })
        .collect();
    let amounts: Vec<(Option<Seller>, i64)> = credited
        .into_iter()
        .map(|(net, credits)| {
            let key = credits.map(|line| sellers.get(line.as_str()).cloned().unwrap_or_default());
            (key, net)
        })
        .collect();
    let mut products = BTreeMap::new();
    add_returns(&mut products, attribute(&amounts, &fallback)?)?;
    Ok(in_month(products, &month_of(issued), currency))
}

/// A resolved return, as the product rollups see it.
pub(crate) struct ReturnOutcome<'a> {
    pub return_id: &'a str,
    pub order_id: &'a str,
    pub currency: &'a str,
    pub resolved: NaiveDate,
    pub resolution: Resolution,
    /// A credit note carries the refund or the concession, and counts it itself.
    pub carried_by_credit_note: bool,
    /// The restocking fee and the concession, net of tax.
    pub fee_net_minor: i64,
    pub concession_net_minor: i64,
}

/// What a resolved return adds to the rollups, in the month it was resolved, read in one pass
/// over its lines. To the product rollups, for the salesperson of its order: its units (as
/// received, when known); for a refund, the cost of the units back in stock, which the
/// customer did not keep; and, unless a credit note carries them, the refund less the
/// restocking fee, or the concession, spread over the returned lines by their value. To the
/// customer rollups of `company_id`: the same money in one sum (`return_contribution`).
pub(crate) fn return_contributions(
    conn: &mut DbConnection,
    outcome: &ReturnOutcome,
    company_id: Option<&str>,
) -> Result<Contribution, StoreError> {
    let order: Option<(Option<String>, Option<String>, NaiveDateTime)> = orders::table
        .find(outcome.order_id)
        .select((
            orders::salesperson_id,
            orders::campaign_id,
            orders::ordered_at,
        ))
        .first(conn)
        .optional()?;
    let (salesperson, tag) = match order {
        Some((salesperson, campaign, at)) => (salesperson, campaign.map(|c| (c, at.date()))),
        None => (None, None),
    };
    type ReturnedLine = (
        Option<String>,
        i64,
        Option<i64>,
        i64,
        i64,
        Option<String>,
        Option<i64>,
        (i64, i64, i64, Option<i64>),
        (Option<i64>, Option<i64>, Option<i64>),
    );
    let lines: Vec<ReturnedLine> = return_lines::table
        .inner_join(order_lines::table.on(order_lines::id.eq(return_lines::order_line_id)))
        .filter(return_lines::return_id.eq(outcome.return_id))
        .select((
            return_lines::product_id,
            return_lines::quantity_milli,
            return_lines::received_quantity_milli,
            return_lines::unit_price_minor,
            return_lines::discount_bp,
            return_lines::disposition,
            order_lines::unit_cost_minor,
            (
                order_lines::quantity_milli,
                order_lines::gross_minor,
                order_lines::discount_minor,
                order_lines::stated_tax_minor,
            ),
            (
                return_lines::stated_gross_minor,
                return_lines::stated_discount_minor,
                return_lines::stated_tax_minor,
            ),
        ))
        .load(conn)?;
    let refunds = outcome.resolution.credits();
    let mut products: BTreeMap<Seller, ProductFigures> = BTreeMap::new();
    let mut values: Vec<(Option<Seller>, i64)> = Vec::with_capacity(lines.len() + 1);
    let (mut returned_net, mut restocked_cost) = (0_i64, 0_i64);
    for (product, quantity, received, price, discount_bp, disposition, unit_cost, sold, refunded) in
        lines
    {
        let units = received.unwrap_or(quantity);
        let key = seller(product, salesperson.as_deref());
        let restocked = disposition.as_deref() == Some(Disposition::Restock.as_str());
        let cost_back = match received {
            Some(received) if refunds && restocked => {
                line_figures(&(None, received, 0, unit_cost))?.cost_minor
            }
            _ => 0,
        };
        restocked_cost = add_minor("cost", restocked_cost, cost_back)?;
        products
            .entry(key.clone())
            .or_default()
            .add(&ProductFigures {
                returned_units_milli: units,
                cost_minor: -cost_back,
                ..ProductFigures::default()
            })?;
        let (sold_quantity, sold_gross, sold_discount, sold_tax) = sold;
        // The shop's own figures for what its refund gave back, else the line's share of what
        // was sold.
        let stated = match refunded {
            (Some(gross), Some(discount), tax) => {
                crate::sales::documents::stated_of(tax, gross, discount)
                    .map(|s| s.portion(Quantity::from_milli(units), Quantity::from_milli(quantity)))
            }
            _ => crate::sales::documents::stated_of(sold_tax, sold_gross, sold_discount).map(|s| {
                s.portion(
                    Quantity::from_milli(units),
                    Quantity::from_milli(sold_quantity),
                )
            }),
        }
        .transpose()?;
        let value =
            crm_domain::sales::totals::line_amounts(&crm_domain::sales::totals::LineInput {
                quantity: Quantity::from_milli(units),
                unit_price_minor: price,
                discount_bp,
                tax_rate_bp: 0,
                stated,
            })?;
        returned_net = add_minor("returns", returned_net, value.net_minor)?;
        values.push((Some(key), value.net_minor));
    }
    if !outcome.carried_by_credit_note {
        let returns = match outcome.resolution {
            Resolution::RetainedWithDiscount => {
                let weights: Vec<(Seller, i64)> = values
                    .iter()
                    .filter_map(|(key, value)| Some((key.clone()?, *value)))
                    .collect();
                attribute(&[(None, outcome.concession_net_minor)], &weights)?
            }
            _ if refunds => {
                values.push((None, -outcome.fee_net_minor));
                attribute(&values, &[])?
            }
            _ => BTreeMap::new(),
        };
        add_returns(&mut products, returns)?;
    }
    let carried = outcome.carried_by_credit_note;
    let money = return_contribution(
        company_id.unwrap_or_default(),
        outcome.currency,
        outcome.resolved,
        outcome.resolution,
        (!carried).then(|| returned_net - outcome.fee_net_minor),
        if carried {
            0
        } else {
            outcome.concession_net_minor
        },
        restocked_cost,
    );
    let month = month_of(outcome.resolved);
    let campaigns = match (&tag, &money) {
        (Some(tag), Some((_, figures))) => vec![(
            campaign_rollups::key(tag, month.clone(), outcome.currency),
            *figures,
        )],
        _ => Vec::new(),
    };
    Ok(Contribution {
        customers: money.filter(|_| company_id.is_some()).into_iter().collect(),
        products: in_month(products, &month, outcome.currency),
        campaigns,
    })
}

/// Adds customer rows to the stored rollups.
fn add_customers(
    conn: &mut DbConnection,
    customers: &BTreeMap<Key, Figures>,
) -> Result<usize, StoreError> {
    let rows: Vec<_> = customers
        .iter()
        .map(|((company, month, currency), f)| {
            (
                customer_rollups::company_id.eq(company),
                customer_rollups::month.eq(month),
                customer_rollups::currency.eq(currency),
                customer_rollups::revenue_minor.eq(f.revenue_minor),
                customer_rollups::cost_minor.eq(f.cost_minor),
                customer_rollups::returns_minor.eq(f.returns_minor),
                customer_rollups::concessions_minor.eq(f.concessions_minor),
                customer_rollups::orders.eq(f.orders),
                customer_rollups::units_milli.eq(f.units_milli),
            )
        })
        .collect();
    Ok(add_rows!(conn, customer_rollups, rows,
        keys: (company_id, month, currency),
        sums: (revenue_minor, cost_minor, returns_minor, concessions_minor, orders, units_milli)))
}

/// Adds product rows to the stored rollups, in one stripe.
fn add_products(
    conn: &mut DbConnection,
    products: &BTreeMap<ProductKey, ProductFigures>,
    shard: i16,
) -> Result<usize, StoreError> {
    let rows: Vec<_> = products
        .iter()
        .map(|((product, salesperson, month, currency), f)| {
            (
                product_rollups::product_id.eq(product),
                product_rollups::salesperson_id.eq(salesperson),
                product_rollups::month.eq(month),
                product_rollups::currency.eq(currency),
                product_rollups::shard.eq(shard),
                product_rollups::revenue_minor.eq(f.revenue_minor),
                product_rollups::cost_minor.eq(f.cost_minor),
                product_rollups::units_milli.eq(f.units_milli),
                product_rollups::returned_units_milli.eq(f.returned_units_milli),
                product_rollups::returns_minor.eq(f.returns_minor),
            )
        })
        .collect();
    Ok(add_rows!(conn, product_rollups, rows,
        keys: (product_id, salesperson_id, month, currency, shard),
        sums: (revenue_minor, cost_minor, units_milli, returned_units_milli, returns_minor)))
}

/// Replaces the maintained rollups by a recomputation, slice by slice of companies, the years
/// folded from the months; returns how many rows it wrote. Each slice's customer rows are
/// written as it ends. The product rows add up across slices in memory and are written once at
/// the end: their count follows the catalogue (products × salespeople × months), not the
/// history, where writing them per slice would rewrite each of them once a slice.
pub fn rebuild(conn: &mut DbConnection) -> Result<usize, StoreError> {
    rebuild_sliced(conn, COMPANIES_PER_SLICE)
}

/// [`rebuild`], `companies_per_slice` companies at a time.
pub fn rebuild_sliced(
    conn: &mut DbConnection,
    companies_per_slice: i64,
) -> Result<usize, StoreError> {
    hold_off_rollup_writers(conn)?;
    diesel::delete(customer_rollups::table).execute(conn)?;
    diesel::delete(product_rollups::table).execute(conn)?;
    diesel::delete(campaign_rollups_table::table).execute(conn)?;
    let mut written = 0;
    let mut products = BTreeMap::new();
    let mut campaigns: BTreeMap<CampaignKey, Figures> = BTreeMap::new();
    recompute_in_slices(conn, companies_per_slice, |conn, part| {
        let part = part.without_empty_rows();
        written += add_customers(conn, &part.customers)?;
        for (key, figures) in part.products {
            add_product(&mut products, key, &figures)?;
        }
        for (key, figures) in part.campaigns {
            campaigns.entry(key).or_default().add(&figures)?;
        }
        Ok(())
    })?;
    let rest = Snapshot {
        products,
        campaigns,
        ..Snapshot::default()
    }
    .without_empty_rows();
    written += campaign_rollups::add(conn, &rest.campaigns)?;
    written += add_products(conn, &rest.products, 0)?;
    Ok(written + years::rebuild(conn)?)
}

/// The migration that made the campaign rollups.
const CAMPAIGN_ROLLUPS_CREATED_BY: &str = "20261206000032";

/// Fills the campaign rollups from the records when `applied` (the migrations that just ran)
/// created them, so that a database upgraded with campaign orders reports them at once.
pub fn fill_campaigns_if_new(
    conn: &mut DbConnection,
    applied: &[String],
) -> Result<(), StoreError> {
    if applied
        .iter()
        .any(|version| version == CAMPAIGN_ROLLUPS_CREATED_BY)
    {
        rebuild_campaigns(conn)?;
    }
    Ok(())
}

/// Replaces the campaign rollups alone by a recomputation; returns how many rows it wrote.
pub fn rebuild_campaigns(conn: &mut DbConnection) -> Result<usize, StoreError> {
    hold_off_rollup_writers(conn)?;
    diesel::delete(campaign_rollups_table::table).execute(conn)?;
    let mut campaigns: BTreeMap<CampaignKey, Figures> = BTreeMap::new();
    recompute_in_slices(conn, COMPANIES_PER_SLICE, |_, part| {
        for (key, figures) in part.campaigns {
            campaigns.entry(key).or_default().add(&figures)?;
        }
        Ok(())
    })?;
    campaigns.retain(|_, figures| *figures != Figures::default());
    campaign_rollups::add(conn, &campaigns)
}

/// Makes every other transaction that writes a rollup wait until this one ends. The rebuild adds
/// each slice's recomputation to what its rows hold, so an order committed on another node
/// between the rebuild's delete and its read of that order's slice would otherwise be counted
/// twice: once by the writer's own upsert, once by the recomputation. With the lock, a writer
/// either committed before the rebuild began (and the rebuild reads its order) or adds its
/// change after the rebuild committed. Readers are not blocked. The tables are locked in the
/// order writers touch them (months, years, campaigns, products). On SQLite the write transaction already
/// holds the database's write lock.
fn hold_off_rollup_writers(conn: &mut DbConnection) -> Result<(), StoreError> {
    if let DbConnection::Postgres(_) = conn {
        diesel::sql_query(
            "LOCK TABLE customer_rollups, customer_year_rollups, campaign_rollups, product_rollups \
             IN EXCLUSIVE MODE",
        )
        .execute(conn)?;
    }
    Ok(())
}

/// The rollups of months `from..=to` (`YYYY-MM`), optionally of one company.
pub fn range(
    conn: &mut DbConnection,
    company_id: Option<&str>,
    from: &str,
    to: &str,
) -> Result<Vec<(Key, Figures)>, StoreError> {
    let mut query = customer_rollups::table
        .filter(customer_rollups::month.ge(from.to_owned()))
        .filter(customer_rollups::month.le(to.to_owned()))
        .select(years::MonthColumns::default())
        .into_boxed();
    if let Some(company) = company_id {
        query = query.filter(customer_rollups::company_id.eq(company.to_owned()));
    }
    let rows: Vec<RollupRow> = query.load(conn)?;
    Ok(rows.into_iter().map(customer_figures).collect())
}

/// The product rollups of months `from..=to` (`YYYY-MM`).
pub fn product_range(
    conn: &mut DbConnection,
    from: &str,
    to: &str,
) -> Result<Vec<(ProductKey, ProductFigures)>, StoreError> {
    let rows: Vec<ProductRollupRow> = product_rollups::table
        .filter(product_rollups::month.ge(from.to_owned()))
        .filter(product_rollups::month.le(to.to_owned()))
        .select(PRODUCT_COLUMNS)
        .load(conn)?;
    Ok(folded_products(rows)?.into_iter().collect())
}
