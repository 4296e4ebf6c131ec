//! Shopify's order webhooks (`orders/create`, `orders/updated`, `orders/cancelled`, which share
//! the Admin REST order shape) and `refunds/create`, read into a [`ShopOrder`] and
//! [`ShopRefund`].

use serde::Deserialize;
use serde_json::Value;

use super::fields::{self, at, check_total, id_text, instant, list, non_empty, sum};
use super::{
    status_rank, IgnoredReason, LineKind, Mapped, MappingError, ShopLine, ShopOrder, ShopRefund,
    ShopRefundLine, ShopSettings, ShopTax,
};
use crate::platform::money::Currency;
use crate::sales::orders::OrderStatus;

/// A `*_set` field: the same figure in the shop's and in the customer's currency.
#[derive(Deserialize)]
struct MoneySet {
    shop_money: ShopMoney,
}

#[derive(Deserialize)]
struct ShopMoney {
    amount: Value,
    currency_code: Option<String>,
}

#[derive(Deserialize)]
struct Order {
    id: Value,
    name: Option<String>,
    order_number: Option<Value>,
    currency: String,
    email: Option<String>,
    contact_email: Option<String>,
    customer: Option<Person>,
    billing_address: Option<Address>,
    created_at: Option<String>,
    processed_at: Option<String>,
    updated_at: Option<String>,
    cancelled_at: Option<String>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    taxes_included: Option<bool>,
    test: Option<bool>,
    total_price: Option<Value>,
    total_price_set: Option<MoneySet>,
    total_line_items_price: Option<Value>,
    total_line_items_price_set: Option<MoneySet>,
    total_discounts: Option<Value>,
    total_discounts_set: Option<MoneySet>,
    total_tax: Option<Value>,
    total_tax_set: Option<MoneySet>,
    #[serde(default, deserialize_with = "list")]
    line_items: Vec<LineItem>,
    #[serde(default, deserialize_with = "list")]
    shipping_lines: Vec<ShippingLine>,
    #[serde(default, deserialize_with = "list")]
    tax_lines: Vec<TaxLine>,
    #[serde(default, deserialize_with = "list")]
    refunds: Vec<Refund>,
}

#[derive(Deserialize)]
struct Person {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct Address {
    company: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
}

#[derive(Deserialize)]
struct LineItem {
    id: Value,
    title: Option<String>,
    name: Option<String>,
    sku: Option<String>,
    quantity: Value,
    #[serde(flatten)]
    charge: Charge,
}

#[derive(Deserialize)]
struct ShippingLine {
    id: Option<Value>,
    title: Option<String>,
    code: Option<String>,
    #[serde(flatten)]
    charge: Charge,
}

/// What a product line and a shipping line both carry: a price, with its discounts and taxes.
#[derive(Deserialize)]
struct Charge {
    price: Option<Value>,
    price_set: Option<MoneySet>,
    #[serde(default, deserialize_with = "list")]
    discount_allocations: Vec<Allocation>,
    #[serde(default, deserialize_with = "list")]
    tax_lines: Vec<TaxLine>,
}

#[derive(Deserialize)]
struct Allocation {
    amount: Option<Value>,
    amount_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct TaxLine {
    price: Option<Value>,
    price_set: Option<MoneySet>,
    rate: Option<Value>,
}

#[derive(Deserialize)]
struct Refund {
    id: Value,
    order_id: Value,
    note: Option<String>,
    /// Before `restock_type` existed, one flag for the whole refund.
    restock: Option<bool>,
    #[serde(default, deserialize_with = "list")]
    refund_line_items: Vec<RefundLineItem>,
    #[serde(default, deserialize_with = "list")]
    transactions: Vec<Transaction>,
    #[serde(default, deserialize_with = "list")]
    order_adjustments: Vec<OrderAdjustment>,
}

#[derive(Deserialize)]
struct RefundLineItem {
    line_item_id: Value,
    quantity: Value,
    restock_type: Option<String>,
    subtotal: Option<Value>,
    subtotal_set: Option<MoneySet>,
    total_tax: Option<Value>,
    total_tax_set: Option<MoneySet>,
}

#[derive(Deserialize)]
struct Transaction {
    kind: Option<String>,
    status: Option<String>,
    amount: Option<Value>,
    amount_set: Option<MoneySet>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct OrderAdjustment {
    kind: Option<String>,
    amount: Option<Value>,
    amount_set: Option<MoneySet>,
    tax_amount: Option<Value>,
    tax_amount_set: Option<MoneySet>,
}

/// Reads figures in the shop's currency.
struct ShopCurrency {
    currency: Currency,
    exponent: u32,
}

impl ShopCurrency {
    fn of(path: &str, code: &str) -> Result<Self, MappingError> {
        let (currency, exponent) = fields::currency(path, code)?;
        Ok(ShopCurrency { currency, exponent })
    }

    /// The figure `path` in the shop's money: the `shop_money` half of `<path>_set` where the
    /// payload has one, else the plain field, which Shopify states in the shop's currency.
    fn money(
        &self,
        path: &str,
        plain: Option<&Value>,
        set: Option<&MoneySet>,
    ) -> Result<i64, MappingError> {
        let Some(set) = set else {
            let value = plain.ok_or_else(|| MappingError::new(path, "is missing"))?;
            return fields::amount(path, value, self.exponent);
        };
        let set_path = format!("{path}_set.shop_money");
        self.check_currency(
            &at(&set_path, "currency_code"),
            set.shop_money.currency_code.as_deref(),
        )?;
        fields::amount(
            &at(&set_path, "amount"),
            &set.shop_money.amount,
            self.exponent,
        )
    }

    fn check_currency(&self, path: &str, code: Option<&str>) -> Result<(), MappingError> {
        match code {
            Some(code) if code != self.currency.as_str() => Err(MappingError::new(
                path,
                format!("{code} is not the shop's currency {}", self.currency),
            )),
            _ => Ok(()),
        }
    }

    fn allocations(&self, path: &str, allocations: &[Allocation]) -> Result<i64, MappingError> {
        let mut total: i64 = 0;
        for (i, allocation) in allocations.iter().enumerate() {
            let amount = self.money(
                &format!("{path}.discount_allocations[{i}].amount"),
                allocation.amount.as_ref(),
                allocation.amount_set.as_ref(),
            )?;
            total = total
                .checked_add(amount)
                .ok_or_else(|| MappingError::new(path, "discounts too large to add up"))?;
        }
        Ok(total)
    }

    fn taxes(
        &self,
        path: &str,
        tax_lines: &[TaxLine],
        settings: &ShopSettings,
    ) -> Result<Vec<ShopTax>, MappingError> {
        tax_lines
            .iter()
            .enumerate()
            .map(|(i, tax)| {
                let tax_path = format!("{path}[{i}]");
                let rate_bp = match &tax.rate {
                    Some(rate) => fields::rate_bp(&at(&tax_path, "rate"), rate, 4)?,
                    None => settings.default_tax_rate_bp,
                };
                let amount_minor = self.money(
                    &at(&tax_path, "price"),
                    tax.price.as_ref(),
                    tax.price_set.as_ref(),
                )?;
                Ok(ShopTax {
                    rate_bp,
                    amount_minor,
                })
            })
            .collect()
    }
}

/// Reads an order webhook. Refused (`422`) where its figures do not add up to its totals.
pub fn map_order(payload: &Value, settings: &ShopSettings) -> Result<Mapped, MappingError> {
    let order: Order = fields::shaped(payload)?;
    let test = order.test.unwrap_or(false);
    if test && !settings.accept_test_orders {
        return Ok(Mapped::Ignored(IgnoredReason::TestOrder));
    }
    let shop = ShopCurrency::of("currency", &order.currency)?;
    let mut lines = Vec::with_capacity(order.line_items.len() + order.shipping_lines.len());
    for (i, item) in order.line_items.iter().enumerate() {
        lines.push(product_line(
            &shop,
            &format!("line_items[{i}]"),
            item,
            settings,
        )?);
    }
    for (i, shipping) in order.shipping_lines.iter().enumerate() {
        let path = format!("shipping_lines[{i}]");
        lines.push(shipping_line(&shop, &path, shipping, settings)?);
    }
    let stated = StatedTotals::of(&order, &shop)?;
    let order_taxes = if lines.iter().any(|line| !line.taxes.is_empty()) {
        Vec::new()
    } else {
        shop.taxes("tax_lines", &order.tax_lines, settings)?
    };
    let taxes_included = order
        .taxes_included
        .unwrap_or(settings.prices_include_tax_default);
    stated.check(&lines, &order_taxes, taxes_included, shop.exponent)?;

    let refunds = order
        .refunds
        .iter()
        .enumerate()
        .map(|(i, refund)| map_refund_shape(&shop, &format!("refunds[{i}]"), refund))
        .collect::<Result<_, _>>()?;
    let customer = order.customer.as_ref();
    let billing = order.billing_address.as_ref();
    let first_of = |candidates: [Option<&str>; 2]| candidates.into_iter().find_map(non_empty);
    let mapped = ShopOrder {
        external_id: id_text("id", &order.id)?,
        number: match (non_empty(order.name.as_deref()), &order.order_number) {
            (Some(name), _) => Some(name),
            (None, Some(number)) => Some(id_text("order_number", number)?),
            (None, None) => None,
        },
        currency: shop.currency,
        email: [
            customer.and_then(|c| c.email.as_deref()),
            order.email.as_deref(),
            order.contact_email.as_deref(),
        ]
        .into_iter()
        .find_map(non_empty),
        first_name: first_of([
            customer.and_then(|c| c.first_name.as_deref()),
            billing.and_then(|b| b.first_name.as_deref()),
        ]),
        last_name: first_of([
            customer.and_then(|c| c.last_name.as_deref()),
            billing.and_then(|b| b.last_name.as_deref()),
        ]),
        billing_company: non_empty(billing.and_then(|b| b.company.as_deref())),
        // processed_at is the date the shop reports the order by, and imports backdate it.
        ordered_at: match instant("processed_at", order.processed_at.as_deref())? {
            Some(at) => Some(at),
            None => instant("created_at", order.created_at.as_deref())?,
        },
        updated_at: instant("updated_at", order.updated_at.as_deref())?,
        status: status(&order)?,
        prices_include_tax: taxes_included,
        lines,
        order_taxes,
        total_minor: stated.price,
        total_tax_minor: stated.tax,
        total_discount_minor: stated.discounts,
        refunds,
        test,
    };
    Ok(Mapped::Order(Box::new(mapped)))
}

/// The totals an order states, in the shop's money.
struct StatedTotals {
    line_items_price: i64,
    discounts: i64,
    tax: i64,
    price: i64,
}

impl StatedTotals {
    fn of(order: &Order, shop: &ShopCurrency) -> Result<Self, MappingError> {
        let stated = |name: &str, plain: &Option<Value>, set: &Option<MoneySet>| {
            shop.money(name, plain.as_ref(), set.as_ref())
        };
        Ok(StatedTotals {
            line_items_price: stated(
                "total_line_items_price",
                &order.total_line_items_price,
                &order.total_line_items_price_set,
            )?,
            discounts: stated(
                "total_discounts",
                &order.total_discounts,
                &order.total_discounts_set,
            )?,
            tax: stated("total_tax", &order.total_tax, &order.total_tax_set)?,
            price: stated("total_price", &order.total_price, &order.total_price_set)?,
        })
    }

    /// The sums INGESTION.md checks, and only those: Shopify's other aggregates
    /// (`subtotal_price`, `discount_codes`, `current_*`) are known to disagree with its lines.
    fn check(
        &self,
        lines: &[ShopLine],
        order_taxes: &[ShopTax],
        taxes_included: bool,
        exponent: u32,
    ) -> Result<(), MappingError> {
        let lines_of = |kind: LineKind| lines.iter().filter(move |line| line.kind == kind);
        let products = sum(lines_of(LineKind::Product).map(|line| line.gross_minor));
        let parts = "Σ price × quantity";
        check_total(
            "total_line_items_price",
            parts,
            products,
            self.line_items_price,
            exponent,
        )?;
        // Shipping discounts are allocated on the shipping lines and counted in total_discounts.
        let discounts = sum(lines.iter().map(|line| line.discount_minor));
        let parts = "Σ discount allocations";
        check_total(
            "total_discounts",
            parts,
            discounts,
            self.discounts,
            exponent,
        )?;
        let taxes = lines
            .iter()
            .flat_map(|line| &line.taxes)
            .chain(order_taxes)
            .map(|tax| tax.amount_minor);
        check_total("total_tax", "Σ tax lines", sum(taxes), self.tax, exponent)?;
        let shipping = sum(lines_of(LineKind::Shipping).map(|line| line.gross_minor));
        let (charged, parts) = if taxes_included {
            (
                products - discounts + shipping,
                "lines − discounts + shipping",
            )
        } else {
            (
                products - discounts + shipping + i128::from(self.tax),
                "lines − discounts + shipping + tax",
            )
        };
        check_total("total_price", parts, charged, self.price, exponent)
    }
}

fn product_line(
    shop: &ShopCurrency,
    path: &str,
    item: &LineItem,
    settings: &ShopSettings,
) -> Result<ShopLine, MappingError> {
    let quantity = fields::quantity(&at(path, "quantity"), &item.quantity)?;
    let price_path = at(path, "price");
    let unit_price_minor = shop.money(
        &price_path,
        item.charge.price.as_ref(),
        item.charge.price_set.as_ref(),
    )?;
    let title = [item.title.as_deref(), item.name.as_deref()]
        .into_iter()
        .find_map(non_empty)
        .ok_or_else(|| MappingError::new(at(path, "title"), "a line needs a title"))?;
    Ok(ShopLine {
        external_id: Some(id_text(&at(path, "id"), &item.id)?),
        kind: LineKind::Product,
        sku: non_empty(item.sku.as_deref()),
        title,
        quantity: quantity.to_string(),
        unit_price_minor,
        gross_minor: fields::times_quantity(&price_path, unit_price_minor, quantity)?,
        discount_minor: shop.allocations(path, &item.charge.discount_allocations)?,
        taxes: shop.taxes(&at(path, "tax_lines"), &item.charge.tax_lines, settings)?,
    })
}

/// A shipping line, free ones too, so that the method is kept.
fn shipping_line(
    shop: &ShopCurrency,
    path: &str,
    shipping: &ShippingLine,
    settings: &ShopSettings,
) -> Result<ShopLine, MappingError> {
    let price = shop.money(
        &at(path, "price"),
        shipping.charge.price.as_ref(),
        shipping.charge.price_set.as_ref(),
    )?;
    let title = [shipping.title.as_deref(), shipping.code.as_deref()]
        .into_iter()
        .find_map(non_empty)
        .ok_or_else(|| MappingError::new(at(path, "title"), "a shipping line needs a title"))?;
    Ok(ShopLine {
        external_id: match &shipping.id {
            Some(id) => Some(id_text(&at(path, "id"), id)?),
            None => None,
        },
        kind: LineKind::Shipping,
        sku: None,
        title,
        quantity: "1".to_owned(),
        unit_price_minor: price,
        gross_minor: price,
        discount_minor: shop.allocations(path, &shipping.charge.discount_allocations)?,
        taxes: shop.taxes(&at(path, "tax_lines"), &shipping.charge.tax_lines, settings)?,
    })
}

fn status(order: &Order) -> Result<OrderStatus, MappingError> {
    let financial = match order.financial_status.as_deref() {
        None | Some("pending" | "authorized" | "partially_paid") => OrderStatus::Pending,
        // Refunds are applied as refunds; the sale itself was paid.
        Some("paid" | "partially_refunded" | "refunded") => OrderStatus::Paid,
        Some("voided") => OrderStatus::Cancelled,
        Some(other) => {
            return Err(MappingError::new(
                "financial_status",
                format!("`{other}` is not a financial status this mapping knows"),
            ))
        }
    };
    let cancelled = non_empty(order.cancelled_at.as_deref()).map(|_| OrderStatus::Cancelled);
    let fulfilled = (order.fulfillment_status.as_deref() == Some("fulfilled"))
        .then_some(OrderStatus::Fulfilled);
    Ok([Some(financial), cancelled, fulfilled]
        .into_iter()
        .flatten()
        .max_by_key(|status| status_rank(*status))
        .unwrap_or(financial))
}

/// The order id of a `refunds/create` payload, to find the stored order (and its currency)
/// before the refund is read with [`map_refund`].
pub fn refund_order_id(payload: &Value) -> Result<String, MappingError> {
    let order_id = payload
        .get("order_id")
        .ok_or_else(|| MappingError::new("order_id", "is missing"))?;
    id_text("order_id", order_id)
}

/// Reads a `refunds/create` payload of an order stored in `currency`.
pub fn map_refund(payload: &Value, currency: Currency) -> Result<ShopRefund, MappingError> {
    let refund: Refund = fields::shaped(payload)?;
    let shop = ShopCurrency::of("currency", currency.as_str())?;
    map_refund_shape(&shop, "", &refund)
}

fn map_refund_shape(
    shop: &ShopCurrency,
    path: &str,
    refund: &Refund,
) -> Result<ShopRefund, MappingError> {
    let mut lines = Vec::with_capacity(refund.refund_line_items.len());
    for (i, item) in refund.refund_line_items.iter().enumerate() {
        let item_path = at(path, &format!("refund_line_items[{i}]"));
        let restock = match item.restock_type.as_deref() {
            Some("return" | "cancel" | "legacy_restock") => true,
            Some("no_restock") => false,
            None => refund.restock.unwrap_or(false),
            Some(other) => {
                return Err(MappingError::new(
                    at(&item_path, "restock_type"),
                    format!("`{other}` is not a restock type this mapping knows"),
                ))
            }
        };
        lines.push(ShopRefundLine {
            line_external_id: id_text(&at(&item_path, "line_item_id"), &item.line_item_id)?,
            quantity: fields::quantity(&at(&item_path, "quantity"), &item.quantity)?.to_string(),
            restock,
            subtotal_minor: shop.money(
                &at(&item_path, "subtotal"),
                item.subtotal.as_ref(),
                item.subtotal_set.as_ref(),
            )?,
            tax_minor: shop.money(
                &at(&item_path, "total_tax"),
                item.total_tax.as_ref(),
                item.total_tax_set.as_ref(),
            )?,
        });
    }
    let mut refunded: Vec<i64> = Vec::new();
    for (i, transaction) in refund.transactions.iter().enumerate() {
        let succeeded_refund = transaction.kind.as_deref() == Some("refund")
            && transaction.status.as_deref() == Some("success");
        if !succeeded_refund {
            continue;
        }
        let transaction_path = at(path, &format!("transactions[{i}]"));
        if transaction.amount_set.is_none() {
            shop.check_currency(
                &at(&transaction_path, "currency"),
                transaction.currency.as_deref(),
            )?;
        }
        refunded.push(shop.money(
            &at(&transaction_path, "amount"),
            transaction.amount.as_ref(),
            transaction.amount_set.as_ref(),
        )?);
    }
    let (mut shipping, mut shipping_tax) = (Vec::new(), Vec::new());
    for (i, adjustment) in refund.order_adjustments.iter().enumerate() {
        // Other kinds (refund_discrepancy) only explain the money, which wins anyway.
        if adjustment.kind.as_deref() != Some("shipping_refund") {
            continue;
        }
        let adjustment_path = at(path, &format!("order_adjustments[{i}]"));
        shipping.push(shop.money(
            &at(&adjustment_path, "amount"),
            adjustment.amount.as_ref(),
            adjustment.amount_set.as_ref(),
        )?);
        shipping_tax.push(shop.money(
            &at(&adjustment_path, "tax_amount"),
            adjustment.tax_amount.as_ref(),
            adjustment.tax_amount_set.as_ref(),
        )?);
    }
    let whole = |field: &str, total: i128| {
        i64::try_from(total).map_err(|_| MappingError::new(at(path, field), "is too large"))
    };
    Ok(ShopRefund {
        external_id: id_text(&at(path, "id"), &refund.id)?,
        order_external_id: id_text(&at(path, "order_id"), &refund.order_id)?,
        lines,
        amount_minor: whole("transactions", sum(refunded))?,
        // Adjustments lower the order, so Shopify states them negative; the refund is their size.
        shipping_minor: whole("order_adjustments", sum(shipping).abs())?,
        shipping_tax_minor: whole("order_adjustments", sum(shipping_tax).abs())?,
        note: non_empty(refund.note.as_deref()),
    })
}
