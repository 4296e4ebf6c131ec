//! WooCommerce's order webhooks (`order.created`, `order.updated`: the REST v3 order shape)
//! read into a [`ShopOrder`], with the refunds they list.

use serde::Deserialize;
use serde_json::Value;

use super::fields::{self, at, check_total, format_minor, id_text, instant, list, non_empty, sum};
use super::{
    IgnoredReason, LineKind, Mapped, MappingError, ShopLine, ShopOrder, ShopRefund, ShopSettings,
    ShopTax,
};
use crate::platform::money::BP_SCALE;
use crate::sales::orders::OrderStatus;
use crate::sales::totals::div_round;

/// WooCommerce keeps line taxes unrounded, at its rounding precision of 6 decimals (4 are
/// usual), and rounds only the order's tax lines; more decimals than these are refused.
const LINE_TAX_DECIMALS: u32 = 6;

#[derive(Deserialize)]
struct Order {
    id: Value,
    number: Option<Value>,
    status: String,
    currency: String,
    date_created_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    discount_total: Value,
    shipping_total: Value,
    shipping_tax: Value,
    cart_tax: Value,
    total: Value,
    total_tax: Value,
    billing: Option<Billing>,
    #[serde(default, deserialize_with = "list")]
    line_items: Vec<LineItem>,
    #[serde(default, deserialize_with = "list")]
    tax_lines: Vec<TaxLine>,
    #[serde(default, deserialize_with = "list")]
    shipping_lines: Vec<ChargeLine>,
    #[serde(default, deserialize_with = "list")]
    fee_lines: Vec<ChargeLine>,
    #[serde(default, deserialize_with = "list")]
    refunds: Vec<Refund>,
}

#[derive(Deserialize)]
struct Billing {
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct LineItem {
    id: Value,
    name: Option<String>,
    sku: Option<String>,
    quantity: Value,
    /// Before discounts, net of tax.
    subtotal: Value,
    /// After discounts, net of tax.
    total: Value,
    #[serde(default, deserialize_with = "list")]
    taxes: Vec<LineTax>,
}

/// A shipping line (`method_title`) or a fee line (`name`): an amount with its taxes.
#[derive(Deserialize)]
struct ChargeLine {
    id: Value,
    method_title: Option<String>,
    name: Option<String>,
    total: Value,
    #[serde(default, deserialize_with = "list")]
    taxes: Vec<LineTax>,
}

#[derive(Deserialize)]
struct LineTax {
    id: Value,
    /// `""` where the rate taxed only the line's subtotal.
    total: Option<Value>,
}

#[derive(Deserialize)]
struct TaxLine {
    rate_id: Value,
    tax_total: Value,
    shipping_tax_total: Value,
    /// Since WooCommerce 3.7.
    rate_percent: Option<Value>,
}

#[derive(Deserialize)]
struct Refund {
    id: Value,
    reason: Option<String>,
    total: Value,
}

/// One line's tax at one rate, exactly as WooCommerce keeps it.
struct LineTaxShare {
    line: usize,
    rate_id: String,
    path: String,
    /// In units of 10^-`Scales::fine_scale`.
    exact: i128,
}

/// The currency's decimals, and the finer ones of WooCommerce's unrounded line taxes.
#[derive(Clone, Copy)]
struct Scales {
    exponent: u32,
    fine_scale: u32,
}

impl Scales {
    fn amount(self, path: &str, value: &Value) -> Result<i64, MappingError> {
        fields::amount(path, value, self.exponent)
    }

    /// Units of a fine amount in one minor unit.
    fn fine_per_minor(self) -> i128 {
        10_i128.pow(self.fine_scale - self.exponent)
    }
}

/// The order's lines as read, with the taxes WooCommerce states for each.
struct Lines {
    lines: Vec<ShopLine>,
    /// Product and fee taxes, which each tax line rounds once as its `tax_total`.
    cart_shares: Vec<LineTaxShare>,
    /// Shipping taxes, which each tax line rounds once as its `shipping_tax_total`.
    shipping_shares: Vec<LineTaxShare>,
}

impl Lines {
    fn shares(&self) -> impl Iterator<Item = &LineTaxShare> {
        self.cart_shares.iter().chain(&self.shipping_shares)
    }

    /// Σ (subtotal − discount) of the lines of one kind.
    fn net_of(&self, kind: LineKind) -> i128 {
        self.lines
            .iter()
            .filter(|line| line.kind == kind)
            .map(net_minor)
            .sum()
    }
}

/// Reads an order webhook. Refused (`422`) where its figures do not add up to its totals.
/// WooCommerce pings a new webhook with an unsigned form body `webhook_id=<n>`.
pub fn is_ping(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok_and(|text| {
        text.strip_prefix("webhook_id=")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

pub fn map_order(payload: &Value, settings: &ShopSettings) -> Result<Mapped, MappingError> {
    // The block checkout's cart, not yet an order, which may lack what an order has.
    if payload.get("status").and_then(Value::as_str) == Some("checkout-draft") {
        return Ok(Mapped::Ignored(IgnoredReason::CheckoutDraft));
    }
    let order: Order = fields::shaped(payload)?;
    let status = status(&order.status)?;
    let (currency, exponent) = fields::currency("currency", &order.currency)?;
    let scales = Scales {
        exponent,
        fine_scale: exponent.max(LINE_TAX_DECIMALS),
    };
    let mut lines = read_lines(&order, scales)?;
    let order_taxes = apply_tax_lines(&order, &mut lines, scales, settings)?;
    let total_discount_minor = scales.amount("discount_total", &order.discount_total)?;
    check_total(
        "discount_total",
        "Σ line subtotal − total",
        sum(lines.lines.iter().map(|line| line.discount_minor)),
        total_discount_minor,
        exponent,
    )?;
    let (total_minor, total_tax_minor) = check_totals(&order, &lines, scales)?;
    let external_id = id_text("id", &order.id)?;
    let refunds = order
        .refunds
        .iter()
        .enumerate()
        .map(|(i, refund)| concession(&format!("refunds[{i}]"), refund, &external_id, scales))
        .collect::<Result<_, _>>()?;
    let billing = order.billing.as_ref();
    let billing_field = |field: fn(&Billing) -> &Option<String>| {
        non_empty(billing.and_then(|b| field(b).as_deref()))
    };
    let mapped = ShopOrder {
        number: match &order.number {
            Some(number) => Some(id_text("number", number)?),
            None => None,
        },
        external_id,
        currency,
        email: billing_field(|b| &b.email),
        first_name: billing_field(|b| &b.first_name),
        last_name: billing_field(|b| &b.last_name),
        billing_company: billing_field(|b| &b.company),
        ordered_at: instant("date_created_gmt", order.date_created_gmt.as_deref())?,
        updated_at: instant("date_modified_gmt", order.date_modified_gmt.as_deref())?,
        status,
        prices_include_tax: false,
        lines: lines.lines,
        order_taxes,
        total_minor,
        total_tax_minor,
        total_discount_minor,
        refunds,
        test: false,
    };
    Ok(Mapped::Order(Box::new(mapped)))
}

fn status(woo_status: &str) -> Result<OrderStatus, MappingError> {
    Ok(match woo_status {
        "pending" | "on-hold" => OrderStatus::Pending,
        // Refunded orders were paid; their refunds are applied as refunds.
        "processing" | "refunded" => OrderStatus::Paid,
        "completed" => OrderStatus::Fulfilled,
        "cancelled" | "failed" => OrderStatus::Cancelled,
        other => {
            return Err(MappingError::new(
                "status",
                format!("`{other}` is not an order status this mapping knows"),
            ))
        }
    })
}

/// Products, then fees, then shipping, each net of tax, their taxes still to be rounded.
fn read_lines(order: &Order, scales: Scales) -> Result<Lines, MappingError> {
    let mut read = Lines {
        lines: Vec::new(),
        cart_shares: Vec::new(),
        shipping_shares: Vec::new(),
    };
    for (i, item) in order.line_items.iter().enumerate() {
        let path = format!("line_items[{i}]");
        let quantity = fields::quantity(&at(&path, "quantity"), &item.quantity)?;
        let subtotal = scales.amount(&at(&path, "subtotal"), &item.subtotal)?;
        let total = scales.amount(&at(&path, "total"), &item.total)?;
        let too_large = |field: &str| MappingError::new(at(&path, field), "is too large");
        let discount_minor = subtotal
            .checked_sub(total)
            .ok_or_else(|| too_large("total"))?;
        // WooCommerce states the line's amount only; its unit price is a rounded quotient.
        let unit = div_round(i128::from(subtotal) * 1000, i128::from(quantity.milli()));
        let line = read.lines.len();
        read_shares(&path, line, &item.taxes, scales, &mut read.cart_shares)?;
        read.lines.push(ShopLine {
            external_id: Some(id_text(&at(&path, "id"), &item.id)?),
            kind: LineKind::Product,
            sku: non_empty(item.sku.as_deref()),
            title: non_empty(item.name.as_deref())
                .ok_or_else(|| MappingError::new(at(&path, "name"), "a line needs a name"))?,
            quantity: quantity.to_string(),
            unit_price_minor: i64::try_from(unit).map_err(|_| too_large("subtotal"))?,
            gross_minor: subtotal,
            discount_minor,
            taxes: Vec::new(),
        });
    }
    let charges = [
        ("fee_lines", LineKind::Fee, &order.fee_lines),
        ("shipping_lines", LineKind::Shipping, &order.shipping_lines),
    ];
    for (list_name, kind, charge_lines) in charges {
        for (i, charge) in charge_lines.iter().enumerate() {
            let path = format!("{list_name}[{i}]");
            let total = scales.amount(&at(&path, "total"), &charge.total)?;
            let shares = match kind {
                LineKind::Shipping => &mut read.shipping_shares,
                _ => &mut read.cart_shares,
            };
            read_shares(&path, read.lines.len(), &charge.taxes, scales, shares)?;
            let title = [charge.method_title.as_deref(), charge.name.as_deref()]
                .into_iter()
                .find_map(non_empty)
                .ok_or_else(|| MappingError::new(at(&path, "name"), "a line needs a name"))?;
            read.lines.push(ShopLine {
                external_id: Some(id_text(&at(&path, "id"), &charge.id)?),
                kind,
                sku: None,
                title,
                quantity: "1".to_owned(),
                unit_price_minor: total,
                gross_minor: total,
                discount_minor: 0,
                taxes: Vec::new(),
            });
        }
    }
    Ok(read)
}

/// Gives each line its taxes, rounded so that each rate's add up to the order's tax line, and
/// returns the taxes that the order states on no line.
fn apply_tax_lines(
    order: &Order,
    lines: &mut Lines,
    scales: Scales,
    settings: &ShopSettings,
) -> Result<Vec<ShopTax>, MappingError> {
    let rate_ids = order
        .tax_lines
        .iter()
        .enumerate()
        .map(|(i, tax_line)| id_text(&format!("tax_lines[{i}].rate_id"), &tax_line.rate_id))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, rate_id) in rate_ids.iter().enumerate() {
        if rate_ids[..i].contains(rate_id) {
            return Err(MappingError::new(
                format!("tax_lines[{i}].rate_id"),
                format!("rate id {rate_id} has two tax lines"),
            ));
        }
    }
    if let Some(stray) = lines.shares().find(|s| !rate_ids.contains(&s.rate_id)) {
        return Err(MappingError::new(
            &stray.path,
            format!("no tax line has rate id {}", stray.rate_id),
        ));
    }
    let mut order_taxes = Vec::new();
    for (i, (tax_line, rate_id)) in order.tax_lines.iter().zip(&rate_ids).enumerate() {
        let path = format!("tax_lines[{i}]");
        let cart_target = scales.amount(&at(&path, "tax_total"), &tax_line.tax_total)?;
        let shipping_field = at(&path, "shipping_tax_total");
        let shipping_target = scales.amount(&shipping_field, &tax_line.shipping_tax_total)?;
        let at_rate = |share: &&LineTaxShare| share.rate_id == *rate_id;
        let rate_bp = match &tax_line.rate_percent {
            Some(percent) => fields::rate_bp(&at(&path, "rate_percent"), percent, 2)?,
            None => inferred_rate_bp(lines.shares().filter(at_rate), &lines.lines, scales)
                .unwrap_or(settings.default_tax_rate_bp),
        };
        if !lines.shares().any(|share| at_rate(&share)) {
            // Stated for the whole order only, as older orders and manual ones may be.
            let amount_minor = cart_target
                .checked_add(shipping_target)
                .ok_or_else(|| MappingError::new(&shipping_field, "is too large"))?;
            order_taxes.push(ShopTax {
                rate_bp,
                amount_minor,
            });
            continue;
        }
        let groups = [
            (&lines.cart_shares, cart_target, "tax_total"),
            (
                &lines.shipping_shares,
                shipping_target,
                "shipping_tax_total",
            ),
        ];
        let mut rounded_shares = Vec::new();
        for (shares, target, field) in groups {
            let group: Vec<&LineTaxShare> = shares.iter().filter(at_rate).collect();
            let exact: Vec<i128> = group.iter().map(|share| share.exact).collect();
            let rounded = fields::round_to_total(&exact, scales.fine_per_minor(), target)
                .ok_or_else(|| {
                    MappingError::new(
                        at(&path, field),
                        format!(
                            "line taxes at rate id {rate_id} add up to {} but {field} is {}",
                            format_minor(exact.iter().sum(), scales.fine_scale),
                            format_minor(i128::from(target), scales.exponent)
                        ),
                    )
                })?;
            rounded_shares.extend(group.iter().map(|share| share.line).zip(rounded));
        }
        for (line, amount_minor) in rounded_shares {
            if let Some(line) = lines.lines.get_mut(line) {
                line.taxes.push(ShopTax {
                    rate_bp,
                    amount_minor,
                });
            }
        }
    }
    Ok(order_taxes)
}

/// Checks the tax, shipping and grand totals; returns the total and the total tax.
fn check_totals(order: &Order, lines: &Lines, scales: Scales) -> Result<(i64, i64), MappingError> {
    let exponent = scales.exponent;
    let cart_tax = scales.amount("cart_tax", &order.cart_tax)?;
    let shipping_tax = scales.amount("shipping_tax", &order.shipping_tax)?;
    let shipping_total = scales.amount("shipping_total", &order.shipping_total)?;
    let total_tax = scales.amount("total_tax", &order.total_tax)?;
    let total = scales.amount("total", &order.total)?;
    let mut tax_totals = Vec::new();
    let mut shipping_tax_totals = Vec::new();
    for (i, tax_line) in order.tax_lines.iter().enumerate() {
        let path = format!("tax_lines[{i}]");
        tax_totals.push(scales.amount(&at(&path, "tax_total"), &tax_line.tax_total)?);
        let shipping_field = at(&path, "shipping_tax_total");
        shipping_tax_totals.push(scales.amount(&shipping_field, &tax_line.shipping_tax_total)?);
    }
    let stated_taxes = sum(tax_totals);
    check_total(
        "cart_tax",
        "Σ tax_lines tax_total",
        stated_taxes,
        cart_tax,
        exponent,
    )?;
    let stated_shipping_taxes = sum(shipping_tax_totals);
    let parts = "Σ tax_lines shipping_tax_total";
    check_total(
        "shipping_tax",
        parts,
        stated_shipping_taxes,
        shipping_tax,
        exponent,
    )?;
    let taxes = i128::from(cart_tax) + i128::from(shipping_tax);
    check_total(
        "total_tax",
        "cart_tax + shipping_tax",
        taxes,
        total_tax,
        exponent,
    )?;
    let shipping = lines.net_of(LineKind::Shipping);
    check_total(
        "shipping_total",
        "Σ shipping lines",
        shipping,
        shipping_total,
        exponent,
    )?;
    let charged = lines.net_of(LineKind::Product)
        + shipping
        + lines.net_of(LineKind::Fee)
        + i128::from(total_tax);
    let parts = "lines + shipping + fees + total_tax";
    check_total("total", parts, charged, total, exponent)?;
    Ok((total, total_tax))
}

/// A WooCommerce refund names no lines: it is money, a concession over the order.
fn concession(
    path: &str,
    refund: &Refund,
    order_external_id: &str,
    scales: Scales,
) -> Result<ShopRefund, MappingError> {
    let signed = scales.amount(&at(path, "total"), &refund.total)?;
    if signed > 0 {
        return Err(MappingError::new(
            at(path, "total"),
            "WooCommerce lists a refund as a negative total",
        ));
    }
    Ok(ShopRefund {
        external_id: id_text(&at(path, "id"), &refund.id)?,
        order_external_id: order_external_id.to_owned(),
        lines: Vec::new(),
        amount_minor: signed
            .checked_neg()
            .ok_or_else(|| MappingError::new(at(path, "total"), "is too large"))?,
        shipping_minor: 0,
        shipping_tax_minor: 0,
        note: non_empty(refund.reason.as_deref()),
    })
}

/// Collects the taxes of the line at index `line`, skipping rates that taxed only its subtotal.
fn read_shares(
    path: &str,
    line: usize,
    taxes: &[LineTax],
    scales: Scales,
    into: &mut Vec<LineTaxShare>,
) -> Result<(), MappingError> {
    for (j, tax) in taxes.iter().enumerate() {
        let tax_path = format!("{path}.taxes[{j}]");
        let total = match &tax.total {
            None => continue,
            Some(Value::String(text)) if text.is_empty() => continue,
            Some(total) => total,
        };
        into.push(LineTaxShare {
            line,
            rate_id: id_text(&at(&tax_path, "id"), &tax.id)?,
            exact: fields::fine_amount(&at(&tax_path, "total"), total, scales.fine_scale)?,
            path: at(&tax_path, "id"),
        });
    }
    Ok(())
}

/// A rate that states no percentage (before WooCommerce 3.7) is its taxes ÷ the lines they
/// tax, when that is a whole number of basis points; `None` otherwise. The unrounded line
/// taxes make that exact far more often than the rounded ones would.
fn inferred_rate_bp<'a>(
    shares: impl Iterator<Item = &'a LineTaxShare>,
    lines: &[ShopLine],
    scales: Scales,
) -> Option<i64> {
    let (mut tax, mut base) = (0_i128, 0_i128);
    for share in shares {
        let line = lines.get(share.line)?;
        tax += share.exact;
        base += net_minor(line);
    }
    let denominator = base.checked_mul(scales.fine_per_minor())?;
    if denominator == 0 {
        return None;
    }
    let numerator = tax.checked_mul(i128::from(BP_SCALE))?;
    if numerator % denominator != 0 {
        return None;
    }
    i64::try_from(numerator / denominator)
        .ok()
        .filter(|bp| *bp >= 0)
}

fn net_minor(line: &ShopLine) -> i128 {
    i128::from(line.gross_minor) - i128::from(line.discount_minor)
}
