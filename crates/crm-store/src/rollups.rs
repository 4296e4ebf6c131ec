//! Per-customer, per-month rollups of what drives profit, kept in the same transaction as every
//! write that changes them (orders, cancels, credit notes, return resolutions), so that reports
//! never scan raw lines. [`from_scratch`] recomputes them from the raw records; the property
//! test holds the two equal.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use crm_domain::analytics::Figures;
use crm_domain::invoices::InvoiceKind;
use crm_domain::orders::OrderStatus;
use crm_domain::returns::Resolution;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::DbConnection;
use crate::schema::{customer_rollups, invoices, order_lines, orders, return_lines, returns};
use crate::StoreError;

/// (company, `YYYY-MM`, currency).
pub type Key = (String, String, String);

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

/// Adds `delta` to the rollup of `key`.
pub(crate) fn apply(conn: &mut DbConnection, key: &Key, delta: &Figures) -> Result<(), StoreError> {
    if *delta == Figures::default() {
        return Ok(());
    }
    let (company, month, currency) = key;
    for _ in 0..2 {
        let target = customer_rollups::table.find((company, month, currency));
        let updated = diesel::update(target)
            .set((
                customer_rollups::revenue_minor
                    .eq(customer_rollups::revenue_minor + delta.revenue_minor),
                customer_rollups::cost_minor.eq(customer_rollups::cost_minor + delta.cost_minor),
                customer_rollups::returns_minor
                    .eq(customer_rollups::returns_minor + delta.returns_minor),
                customer_rollups::concessions_minor
                    .eq(customer_rollups::concessions_minor + delta.concessions_minor),
                customer_rollups::orders.eq(customer_rollups::orders + delta.orders),
                customer_rollups::units_milli.eq(customer_rollups::units_milli + delta.units_milli),
            ))
            .execute(conn)?;
        if updated == 1 {
            return Ok(());
        }
        let inserted = conn.transaction(|c| {
            diesel::insert_into(customer_rollups::table)
                .values((
                    customer_rollups::company_id.eq(company),
                    customer_rollups::month.eq(month),
                    customer_rollups::currency.eq(currency),
                    customer_rollups::revenue_minor.eq(delta.revenue_minor),
                    customer_rollups::cost_minor.eq(delta.cost_minor),
                    customer_rollups::returns_minor.eq(delta.returns_minor),
                    customer_rollups::concessions_minor.eq(delta.concessions_minor),
                    customer_rollups::orders.eq(delta.orders),
                    customer_rollups::units_milli.eq(delta.units_milli),
                ))
                .execute(c)
        });
        match inserted {
            Ok(_) => return Ok(()),
            Err(e) if StoreError::is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StoreError::Conflict {
        message: "rollup contended; retry".into(),
        existing_id: None,
    })
}

/// Replaces one contribution by another (either may be absent).
pub(crate) fn swap(
    conn: &mut DbConnection,
    before: Option<(Key, Figures)>,
    after: Option<(Key, Figures)>,
) -> Result<(), StoreError> {
    if let Some((key, figures)) = before {
        apply(conn, &key, &negate(&figures))?;
    }
    if let Some((key, figures)) = after {
        apply(conn, &key, &figures)?;
    }
    Ok(())
}

type OrderFacts = (Option<String>, NaiveDateTime, String, String, i64, i64, i64);

fn order_facts_figures(
    conn: &mut DbConnection,
    id: &str,
    facts: OrderFacts,
) -> Result<Option<(Key, Figures)>, StoreError> {
    let (company, ordered_at, currency, status, subtotal, discount, cost) = facts;
    let Some(company) = company else {
        return Ok(None);
    };
    if status == OrderStatus::Cancelled.as_str() {
        return Ok(None);
    }
    let units: i64 = order_lines::table
        .filter(order_lines::order_id.eq(id))
        .select(sql::<BigInt>(
            "CAST(COALESCE(SUM(quantity_milli), 0) AS BIGINT)",
        ))
        .first(conn)?;
    Ok(Some((
        (company, month_of(ordered_at.date()), currency),
        Figures {
            revenue_minor: subtotal - discount,
            cost_minor: cost,
            orders: 1,
            units_milli: units,
            ..Figures::default()
        },
    )))
}

/// What an order, as stored now, contributes: nothing when cancelled or without a company.
pub(crate) fn order_contribution(
    conn: &mut DbConnection,
    order_id: &str,
) -> Result<Option<(Key, Figures)>, StoreError> {
    let facts: Option<OrderFacts> = orders::table
        .find(order_id)
        .select((
            orders::company_id,
            orders::ordered_at,
            orders::currency,
            orders::status,
            orders::subtotal_minor,
            orders::discount_minor,
            orders::cost_minor,
        ))
        .first(conn)
        .optional()?;
    match facts {
        Some(f) => order_facts_figures(conn, order_id, f),
        None => Ok(None),
    }
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

/// What a resolved return contributes when no credit note carries it: the net refund (less
/// the restocking fee) or the concession, in the month it was resolved.
pub(crate) fn return_contribution(
    company_id: &str,
    currency: &str,
    resolved: NaiveDate,
    resolution: Resolution,
    refund_net_minor: i64,
    concession_minor: i64,
) -> Option<(Key, Figures)> {
    let key = (
        company_id.to_owned(),
        month_of(resolved),
        currency.to_owned(),
    );
    match resolution {
        Resolution::RetainedWithDiscount => Some((
            key,
            Figures {
                concessions_minor: concession_minor,
                ..Figures::default()
            },
        )),
        r if r.credits() => Some((
            key,
            Figures {
                returns_minor: refund_net_minor,
                ..Figures::default()
            },
        )),
        _ => None,
    }
}

type RollupRow = (String, String, String, i64, i64, i64, i64, i64, i64);
/// An order's id with its facts.
type OrderWithFacts = (
    String,
    Option<String>,
    NaiveDateTime,
    String,
    String,
    i64,
    i64,
    i64,
);
/// A resolved return: id, company, currency, resolution, when, credit note, fee, concession.
type ResolvedReturn = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    i64,
    i64,
);

/// The maintained rollups, leaving out rows that net to nothing.
pub fn stored(conn: &mut DbConnection) -> Result<BTreeMap<Key, Figures>, StoreError> {
    let rows: Vec<RollupRow> = customer_rollups::table
        .select((
            customer_rollups::company_id,
            customer_rollups::month,
            customer_rollups::currency,
            customer_rollups::revenue_minor,
            customer_rollups::cost_minor,
            customer_rollups::returns_minor,
            customer_rollups::concessions_minor,
            customer_rollups::orders,
            customer_rollups::units_milli,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(c, m, cur, revenue, cost, ret, conc, orders, units)| {
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
        })
        .filter(|(_, f)| *f != Figures::default())
        .collect())
}

/// The rollups recomputed from the raw orders, credit notes and returns.
pub fn from_scratch(conn: &mut DbConnection) -> Result<BTreeMap<Key, Figures>, StoreError> {
    let mut totals: BTreeMap<Key, Figures> = BTreeMap::new();
    let mut add = |entry: Option<(Key, Figures)>| {
        if let Some((key, f)) = entry {
            totals.entry(key).or_default().add(&f);
        }
    };
    let all_orders: Vec<OrderWithFacts> = orders::table
        .select((
            orders::id,
            orders::company_id,
            orders::ordered_at,
            orders::currency,
            orders::status,
            orders::subtotal_minor,
            orders::discount_minor,
            orders::cost_minor,
        ))
        .load(conn)?;
    for (id, company, at, currency, status, subtotal, discount, cost) in all_orders {
        add(order_facts_figures(
            conn,
            &id,
            (company, at, currency, status, subtotal, discount, cost),
        )?);
    }
    let credits: Vec<(String, String, Option<NaiveDate>, i64, i64)> = invoices::table
        .filter(invoices::kind.eq_any([
            InvoiceKind::CreditNote.as_str(),
            InvoiceKind::SelfBilledCreditNote.as_str(),
        ]))
        .filter(invoices::number.is_not_null())
        .select((
            invoices::company_id,
            invoices::currency,
            invoices::issue_date,
            invoices::subtotal_minor,
            invoices::discount_minor,
        ))
        .load(conn)?;
    for (company, currency, issued, subtotal, discount) in credits {
        if let Some(day) = issued {
            add(Some(credit_contribution(
                &company,
                &currency,
                day,
                subtotal - discount,
            )));
        }
    }
    let resolved: Vec<ResolvedReturn> = returns::table
        .filter(returns::resolved_at.is_not_null())
        .select((
            returns::id,
            returns::company_id,
            returns::currency,
            returns::resolution,
            returns::resolved_at,
            returns::credit_note_id,
            returns::restocking_fee_minor,
            returns::concession_minor,
        ))
        .load(conn)?;
    for (id, company, currency, resolution, at, credit_note, fee, concession) in resolved {
        let (Some(company), Some(resolution), Some(at)) = (
            company,
            resolution.and_then(|r| r.parse::<Resolution>().ok()),
            at,
        ) else {
            continue;
        };
        if credit_note.is_some() && resolution.credits() {
            continue;
        }
        let net = returned_net(conn, &id)? - fee;
        add(return_contribution(
            &company,
            &currency,
            at.date(),
            resolution,
            net,
            concession,
        ));
    }
    Ok(totals
        .into_iter()
        .filter(|(_, f)| *f != Figures::default())
        .collect())
}

/// The net (before tax) value of a return's lines: received quantities when known.
pub(crate) fn returned_net(conn: &mut DbConnection, return_id: &str) -> Result<i64, StoreError> {
    let lines: Vec<(i64, Option<i64>, i64, i64, i64)> = return_lines::table
        .filter(return_lines::return_id.eq(return_id))
        .select((
            return_lines::quantity_milli,
            return_lines::received_quantity_milli,
            return_lines::unit_price_minor,
            return_lines::discount_bp,
            return_lines::tax_rate_bp,
        ))
        .load(conn)?;
    let inputs: Vec<crm_domain::totals::LineInput> = lines
        .into_iter()
        .map(
            |(q, received, price, discount, tax)| crm_domain::totals::LineInput {
                quantity: crm_domain::money::Quantity::from_milli(received.unwrap_or(q)),
                unit_price_minor: price,
                discount_bp: discount,
                tax_rate_bp: tax,
            },
        )
        .collect();
    let totals = crm_domain::totals::compute(&inputs)?;
    Ok(totals.subtotal_minor - totals.discount_minor)
}

/// Replaces the maintained rollups by a recomputation; returns how many rows it wrote.
pub fn rebuild(conn: &mut DbConnection) -> Result<usize, StoreError> {
    let fresh = from_scratch(conn)?;
    diesel::delete(customer_rollups::table).execute(conn)?;
    for (key, figures) in &fresh {
        apply(conn, key, figures)?;
    }
    Ok(fresh.len())
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
        .select((
            customer_rollups::company_id,
            customer_rollups::month,
            customer_rollups::currency,
            customer_rollups::revenue_minor,
            customer_rollups::cost_minor,
            customer_rollups::returns_minor,
            customer_rollups::concessions_minor,
            customer_rollups::orders,
            customer_rollups::units_milli,
        ))
        .into_boxed();
    if let Some(company) = company_id {
        query = query.filter(customer_rollups::company_id.eq(company.to_owned()));
    }
    let rows: Vec<RollupRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(c, m, cur, revenue, cost, ret, conc, orders, units)| {
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
        })
        .collect())
}
