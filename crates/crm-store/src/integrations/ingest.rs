//! A shop's webhook applied: an order through the order upsert, a refund as a return. Each
//! webhook id is taken once; what it did is logged in the same transaction.

use chrono::Utc;
use crm_domain::billing::returns::{Disposition, ReasonCode, RootCauseCategory};
use crm_domain::integrations::lines::{next_status, stated_lines};
use crm_domain::integrations::{
    is_stale, shopify, IgnoredReason, IngestionStatus, ShopOrder, ShopRefund,
};
use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::{LineKind, OrderStatus};
use crm_domain::sales::totals::StatedAmounts;
use crm_domain::Violation;
use diesel::prelude::*;

use crate::billing::returns::{self, LineRequest, Received as ReceivedLine, ReturnRequest};
use crate::integrations::connections::Connection;
use crate::integrations::ingestions::{self, Outcome, Received};
use crate::parties::customers::CustomerRef;
use crate::platform::db::{lock_key, DbConnection};
use crate::platform::schema::integration_refunds;
use crate::sales::documents::{Line, LineDraft};
use crate::sales::orders::{self, OrderInput, ShopOrigin, Upserted};
use crate::{now, StoreError};

/// What a webhook asks, once its signature is checked and its body read.
pub enum Work {
    Order(Box<ShopOrder>),
    /// A Shopify `refunds/create` payload: read once its order, and so its currency, is known.
    ShopifyRefund(serde_json::Value),
    Ignored(IgnoredReason),
}

/// Applies `work` unless the webhook was taken before, and logs what it did.
pub fn ingest(
    conn: &mut DbConnection,
    connection: &Connection,
    received: &Received,
    work: Work,
) -> Result<Outcome, StoreError> {
    if let Some(duplicate) = take(conn, received)? {
        return Ok(duplicate);
    }
    let outcome = match work {
        Work::Ignored(reason) => Outcome::of(IngestionStatus::Ignored).because(reason.as_str()),
        _ if !connection.fields.enabled => Outcome::of(IngestionStatus::Ignored)
            .because(IgnoredReason::ConnectionDisabled.as_str()),
        Work::Order(order) => take_order(conn, connection, *order)?,
        Work::ShopifyRefund(payload) => take_refund(conn, connection, &payload)?,
    };
    ingestions::log(conn, received, &outcome)?;
    Ok(outcome)
}

/// Logs a webhook refused as malformed, unless it was taken before.
pub fn reject(
    conn: &mut DbConnection,
    received: &Received,
    problem: String,
) -> Result<Outcome, StoreError> {
    if let Some(duplicate) = take(conn, received)? {
        return Ok(duplicate);
    }
    let outcome = Outcome::of(IngestionStatus::Rejected).because(problem);
    ingestions::log(conn, received, &outcome)?;
    Ok(outcome)
}

/// Holds the webhook id until the transaction ends; a repeat is logged and answered as such.
fn take(conn: &mut DbConnection, received: &Received) -> Result<Option<Outcome>, StoreError> {
    lock_key(
        conn,
        &format!(
            "ingestion:{}:{}",
            received.connection_id, received.webhook_id
        ),
    )?;
    if !ingestions::already_taken(conn, received)? {
        return Ok(None);
    }
    let outcome = Outcome::of(IngestionStatus::Duplicate);
    ingestions::log(conn, received, &outcome)?;
    Ok(Some(outcome))
}

fn take_order(
    conn: &mut DbConnection,
    connection: &Connection,
    shop: ShopOrder,
) -> Result<Outcome, StoreError> {
    orders::lock_external(conn, &connection.channel, &shop.external_id)?;
    let stored = orders::find_by_external(conn, &connection.channel, &shop.external_id)?;
    if let Some(row) = &stored {
        if is_stale(row.shop_updated_at.map(|t| t.and_utc()), shop.updated_at) {
            return Ok(Outcome {
                order_id: Some(row.id.clone()),
                ..Outcome::of(IngestionStatus::Stale)
            });
        }
    }
    let stored_status = stored
        .as_ref()
        .map(|row| crate::platform::stored::stored::<OrderStatus>("orders", "status", &row.status))
        .transpose()?;
    let lines = stated_lines(&shop).map_err(Violation::from)?;
    let drafts = lines
        .into_iter()
        .zip(&shop.lines)
        .map(|(line, shop_line)| LineDraft {
            sku: line.sku,
            description: Some(line.title),
            unit_price_minor: Some(line.unit_price_minor),
            tax_rate_bp: Some(line.tax_rate_bp),
            kind: line.kind,
            stated: Some(line.amounts),
            external_id: shop_line.external_id.clone(),
            keep_unknown_sku: true,
            ..LineDraft::new(line.quantity)
        })
        .collect();
    let input = OrderInput {
        custom_written: None,
        channel: connection.channel.clone(),
        external_id: shop.external_id.clone(),
        ordered_at: shop.ordered_at.unwrap_or_else(Utc::now).naive_utc(),
        currency: shop.currency.as_str().to_owned(),
        status: Some(next_status(stored_status, shop.status)),
        customer: shop.email.clone().map(|email| CustomerRef {
            email: Some(email),
            first_name: shop.first_name.clone(),
            last_name: shop.last_name.clone(),
            phone: None,
            company_name: shop.billing_company.clone(),
        }),
        company_id: None,
        lines: drafts,
        salesperson_id: stored.as_ref().and_then(|r| r.salesperson_id.clone()),
        campaign_id: stored.as_ref().and_then(|r| r.campaign_id.clone()),
        utm: stored
            .as_ref()
            .and_then(|r| r.utm.as_deref())
            .map(|text| crate::platform::stored::stored_json("orders", "utm", text))
            .transpose()?,
        payload_hash: shop.digest(),
        prices_include_tax: shop.prices_include_tax,
        origin: ShopOrigin {
            connection_id: Some(connection.id.clone()),
            shop_number: shop.number.clone(),
            shop_updated_at: shop.updated_at.map(|t| t.naive_utc()),
        },
    };
    let (mut status, order) = match orders::upsert(conn, input, None)? {
        Upserted::Created(order) | Upserted::Updated(order) => (IngestionStatus::Applied, order),
        Upserted::Unchanged(order) => (IngestionStatus::Unchanged, order),
    };
    let mut problems = Vec::new();
    let refunds = if order.status == OrderStatus::Cancelled {
        &[][..]
    } else {
        &shop.refunds[..]
    };
    for refund in refunds {
        // Each refund in a savepoint of its own: one the returns rules refuse is noted, and the
        // order and the other refunds still apply.
        match diesel::Connection::transaction(conn, |conn| {
            apply_refund(conn, connection, &order.id, refund)
        }) {
            Ok(RefundApplied::Now(note)) => {
                status = IngestionStatus::Applied;
                problems.extend(note);
            }
            Ok(RefundApplied::Before) => {}
            Err(error) => problems.push(format!("refund {}: {error}", refund.external_id)),
        }
    }
    Ok(Outcome {
        status,
        order_id: Some(order.id.clone()),
        unknown_skus: unknown_skus(&order.lines),
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// The SKUs of product lines that name no product of the catalogue.
fn unknown_skus(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.kind == LineKind::Product && l.product_id.is_none())
        .filter_map(|l| l.sku.clone())
        .collect()
}

fn take_refund(
    conn: &mut DbConnection,
    connection: &Connection,
    payload: &serde_json::Value,
) -> Result<Outcome, StoreError> {
    let order_external_id = shopify::refund_order_id(payload).map_err(Violation::from)?;
    let Some(row) = orders::find_by_external(conn, &connection.channel, &order_external_id)? else {
        return Ok(
            Outcome::of(IngestionStatus::Ignored).because(IgnoredReason::UnknownOrder.as_str())
        );
    };
    if row.status == OrderStatus::Cancelled.as_str() {
        return Ok(Outcome {
            order_id: Some(row.id),
            ..Outcome::of(IngestionStatus::Ignored).because(IgnoredReason::OrderCancelled.as_str())
        });
    }
    let currency = row.currency.parse().map_err(|_| StoreError::Corrupt {
        table: "orders",
        column: "currency",
        value: row.currency.clone(),
    })?;
    let refund = shopify::map_refund(payload, currency).map_err(Violation::from)?;
    let applied = apply_refund(conn, connection, &row.id, &refund)?;
    let order = orders::get(conn, &row.id)?;
    Ok(Outcome {
        order_id: Some(row.id),
        unknown_skus: unknown_skus(&order.lines),
        ..match applied {
            RefundApplied::Now(note) => Outcome {
                problem: note,
                ..Outcome::of(IngestionStatus::Applied)
            },
            RefundApplied::Before => Outcome::of(IngestionStatus::Unchanged),
        }
    })
}

enum RefundApplied {
    /// Applied now, with what was odd about it (`amount_mismatch`).
    Now(Option<String>),
    Before,
}

/// Records a shop refund once per refund id, as a return under the returns rules: the goods
/// given back (all the order's lines for money alone), resolved `refund` for goods back in
/// stock and `retained_with_discount` for goods the customer keeps, with a credit note when the
/// order is invoiced. The money refunded wins over the value of the goods: less money keeps
/// the difference (as a restocking fee would), and more is noted.
fn apply_refund(
    conn: &mut DbConnection,
    connection: &Connection,
    order_id: &str,
    refund: &ShopRefund,
) -> Result<RefundApplied, StoreError> {
    lock_key(
        conn,
        &format!("shop-refund:{}:{}", connection.id, refund.external_id),
    )?;
    let seen: Option<String> = integration_refunds::table
        .filter(integration_refunds::connection_id.eq(&connection.id))
        .filter(integration_refunds::refund_id.eq(&refund.external_id))
        .select(integration_refunds::order_id)
        .first(conn)
        .optional()?;
    if seen.is_some() {
        return Ok(RefundApplied::Before);
    }
    let order = orders::get(conn, order_id)?;
    let mut requests = Vec::new();
    let mut restocked = Vec::new();
    for (i, line) in refund.lines.iter().enumerate() {
        let Some(position) = order
            .lines
            .iter()
            .position(|l| l.external_id.as_deref() == Some(line.line_external_id.as_str()))
        else {
            return Err(Violation::new(
                format!("refund_line_items[{i}].line_item_id"),
                format!("names no line of order {}", order.external_id),
            )
            .into());
        };
        let quantity =
            Quantity::parse(&format!("refund_line_items[{i}].quantity"), &line.quantity)?;
        if line.restock {
            restocked.push((position, quantity));
        }
        requests.push(LineRequest {
            order_line_id: order.line_ids[position].clone(),
            quantity,
            reason: ReasonCode::Other,
            stated: Some(line.stated(order.prices_include_tax)),
        });
    }
    let shipping = refund.shipping_minor + refund.shipping_tax_minor;
    if shipping != 0 {
        if let Some(position) = order
            .lines
            .iter()
            .position(|l| l.kind == LineKind::Shipping)
        {
            requests.push(LineRequest {
                order_line_id: order.line_ids[position].clone(),
                quantity: order.lines[position].quantity,
                reason: ReasonCode::Other,
                stated: Some(StatedAmounts {
                    gross_minor: refund.shipping_minor,
                    discount_minor: 0,
                    tax_minor: refund.shipping_tax_minor,
                }),
            });
        }
    }
    let whole_order = requests.is_empty();
    if whole_order {
        // Money alone: a concession over every line of goods, or a full return when it
        // reaches the order's total.
        for (position, line) in order.lines.iter().enumerate() {
            if line.kind == LineKind::Product {
                requests.push(LineRequest {
                    order_line_id: order.line_ids[position].clone(),
                    quantity: line.quantity,
                    reason: ReasonCode::Other,
                    stated: None,
                });
            }
        }
    }
    let opened = returns::open(
        conn,
        ReturnRequest {
            order_id: order_id.to_owned(),
            lines: requests,
            customer_comment: refund.note.clone(),
            window_override_by: None,
            opened_by: None,
            window_days: 0,
            shop_refund: true,
        },
    )?;
    let opened = returns::update(conn, &opened.id, None, |cause, _| {
        cause.category = Some(RootCauseCategory::Pending);
        Ok(())
    })?;
    let approved = returns::act(
        conn,
        &opened.id,
        None,
        crm_domain::billing::returns::ReturnAction::Approve,
        None,
    )?;
    let mut current = approved;
    if !restocked.is_empty() {
        let received = restocked
            .iter()
            .filter_map(|(position, quantity)| {
                let order_line_id = &order.line_ids[*position];
                current
                    .lines
                    .iter()
                    .find(|l| l.order_line_id == *order_line_id)
                    .map(|l| ReceivedLine {
                        return_line_id: l.id.clone(),
                        quantity: *quantity,
                        disposition: Disposition::Restock,
                    })
            })
            .collect();
        current = returns::receive(conn, &current.id, None, received)?;
    }
    let value = returns::returned_total(conn, &current.id)?;
    let plan = refund.plan(
        value,
        order.totals.total_minor,
        whole_order,
        !restocked.is_empty(),
    );
    let resolve = returns::Resolve {
        resolution: plan.resolution,
        restocking_fee_minor: plan.restocking_fee_minor,
        concession_minor: plan.concession_minor,
        shop_refund: true,
    };
    let resolved = returns::resolve(conn, &current.id, None, resolve)?;
    let note = plan.amount_mismatch.then(|| "amount_mismatch".to_owned());
    diesel::insert_into(integration_refunds::table)
        .values((
            integration_refunds::connection_id.eq(&connection.id),
            integration_refunds::refund_id.eq(&refund.external_id),
            integration_refunds::order_id.eq(order_id),
            integration_refunds::return_id.eq(Some(&resolved.id)),
            integration_refunds::applied_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(RefundApplied::Now(note))
}
