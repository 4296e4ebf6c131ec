//! The last price quoted and the last price sold to a customer for a product, so that a
//! salesperson quotes consistently.

use chrono::NaiveDateTime;
use crm_domain::sales::orders::OrderStatus;
use crm_domain::sales::quotes::QuoteStatus;
use diesel::prelude::*;

use crate::platform::db::DbConnection;
use crate::platform::schema::{order_lines, orders, quote_lines, quotes};
use crate::StoreError;

pub enum Customer {
    Company(String),
    Contact(String),
}

#[derive(Debug, Clone)]
pub struct PricePoint {
    pub unit_price_minor: i64,
    pub currency: String,
    pub discount_bp: i64,
    pub at: NaiveDateTime,
    pub document_id: String,
    /// The quote number or the order's external id.
    pub document_ref: String,
}

type Found = (i64, String, i64, Option<NaiveDateTime>, String, String);

/// The price on the most recently sent quote (of any outcome but cancelled) for the product.
pub fn last_quoted(
    conn: &mut DbConnection,
    customer: &Customer,
    product_id: &str,
) -> Result<Option<PricePoint>, StoreError> {
    let mut query = quote_lines::table
        .inner_join(quotes::table)
        .filter(quote_lines::product_id.eq(product_id))
        .filter(quotes::sent_at.is_not_null())
        .filter(quotes::status.ne(QuoteStatus::Cancelled.as_str()))
        .select((
            quote_lines::unit_price_minor,
            quotes::currency,
            quote_lines::discount_bp,
            quotes::sent_at,
            quotes::id,
            quotes::number,
        ))
        .order((quotes::sent_at.desc(), quotes::id.desc()))
        .into_boxed();
    query = match customer {
        Customer::Company(id) => query.filter(quotes::company_id.eq(id.clone())),
        Customer::Contact(id) => query.filter(quotes::contact_id.eq(id.clone())),
    };
    Ok(price_point(query.first(conn).optional()?))
}

/// The price on the most recent order (not cancelled) for the product.
pub fn last_sold(
    conn: &mut DbConnection,
    customer: &Customer,
    product_id: &str,
) -> Result<Option<PricePoint>, StoreError> {
    let mut query = order_lines::table
        .inner_join(orders::table)
        .filter(order_lines::product_id.eq(product_id))
        .filter(orders::status.ne(OrderStatus::Cancelled.as_str()))
        .select((
            order_lines::unit_price_minor,
            orders::currency,
            order_lines::discount_bp,
            orders::ordered_at.nullable(),
            orders::id,
            orders::external_id,
        ))
        .order((orders::ordered_at.desc(), orders::id.desc()))
        .into_boxed();
    query = match customer {
        Customer::Company(id) => query.filter(orders::company_id.eq(id.clone())),
        Customer::Contact(id) => query.filter(orders::contact_id.eq(id.clone())),
    };
    Ok(price_point(query.first(conn).optional()?))
}

/// The price of the line found; a line whose document has no date yet is none.
fn price_point(found: Option<Found>) -> Option<PricePoint> {
    let (unit_price_minor, currency, discount_bp, at, document_id, document_ref) = found?;
    Some(PricePoint {
        unit_price_minor,
        currency,
        discount_bp,
        at: at?,
        document_id,
        document_ref,
    })
}
