//! What quote and order endpoints share: money, lines in and out, totals.

use crm_domain::sales::orders::LineKind;
use crm_domain::sales::totals::Totals;
use crm_domain::Violation;
use crm_store::sales::documents::{Line, LineDraft};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::fields::{Checker, SHORT};
use crate::platform::money::Money;

/// A line of a quote: a product (its price, name and tax rate are the defaults) or free text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// The product sold; leave out for a free-text line.
    pub product_id: Option<String>,
    /// Defaults to the product's name; required without a product.
    pub description: Option<String>,
    /// A decimal string with at most 3 decimals, such as `"2"` or `"2.5"`.
    #[schema(example = "2")]
    pub quantity: String,
    /// Defaults to the product's price; required without a product.
    pub unit_price: Option<Money>,
    /// Discount in basis points (`1000` = 10%); default 0.
    pub discount_bp: Option<i64>,
    /// Tax rate in basis points (`2100` = 21%); defaults to the product's.
    pub tax_rate_bp: Option<i64>,
}

/// Checks lines and turns them into drafts for the store.
pub fn line_drafts(
    c: &mut Checker,
    lines: Vec<LineInput>,
    currency: Option<&str>,
) -> Vec<LineDraft> {
    if lines.len() > 500 {
        c.violations
            .push(Violation::new("lines", "at most 500 lines"));
        return Vec::new();
    }
    let mut drafts = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let f = |name: &str| format!("lines[{i}].{name}");
        let quantity = c.quantity(&f("quantity"), &line.quantity);
        let unit_price = match &line.unit_price {
            Some(m) => match c.money(&f("unit_price"), m, currency) {
                Some(v) => Some(v),
                None => continue,
            },
            None => None,
        };
        let description = c.optional(&f("description"), line.description.as_deref(), SHORT);
        let discount_bp = c.discount_bp(&f("discount_bp"), line.discount_bp.unwrap_or(0));
        let tax_rate_bp = line
            .tax_rate_bp
            .and_then(|bp| c.tax_rate_bp(&f("tax_rate_bp"), bp));
        if let (Some(quantity), Some(discount_bp)) = (quantity, discount_bp) {
            drafts.push(LineDraft {
                product_id: line.product_id,
                sku: None,
                description,
                quantity,
                unit_price_minor: unit_price,
                unit_cost_minor: None,
                discount_bp,
                tax_rate_bp,
                ..LineDraft::new(quantity)
            });
        }
    }
    drafts
}

/// A line as stored, with its amounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineOutput {
    /// The line's id, on orders: name it to return or invoice the line.
    pub id: Option<String>,
    /// The product sold, if any.
    pub product_id: Option<String>,
    /// The product's SKU at the time, if any.
    pub sku: Option<String>,
    /// What was sold.
    pub description: String,
    /// Exact decimal string.
    pub quantity: String,
    /// Price per unit.
    pub unit_price: Money,
    /// Cost per unit at the time of the document (staff only).
    pub unit_cost: Option<Money>,
    /// Discount in basis points.
    pub discount_bp: i64,
    /// Tax rate in basis points.
    pub tax_rate_bp: i64,
    /// quantity × unit price, rounded.
    pub gross: Money,
    /// The line's discount, rounded.
    pub discount: Money,
    /// gross − discount.
    pub net: Money,
    /// `product`, or a shop's `shipping` or `fee`; lines of quotes and invoices are `product`.
    pub kind: LineKind,
    /// Whether a shop stated the line's amounts: its gross, discount and tax are then what the
    /// shop charged, net of tax, rather than computed from the price and rates.
    pub amounts_stated: bool,
}

/// Tax of one rate.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaxOutput {
    /// Tax rate in basis points.
    pub rate_bp: i64,
    /// The sum of the line nets at this rate.
    pub base: Money,
    /// base × rate, rounded; the lines whose amounts a shop stated add their own tax instead.
    pub tax: Money,
}

/// A document's totals. Rounding rule: amounts are rounded to the minor unit, half away from
/// zero, at three points only: each line's gross (quantity × unit price), each line's discount,
/// and each tax rate's tax computed on the sum of that rate's line nets. total = subtotal −
/// discount + tax.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsOutput {
    /// Sum of line gross amounts.
    pub subtotal: Money,
    /// Sum of line discounts.
    pub discount: Money,
    /// Tax by rate.
    pub taxes: Vec<TaxOutput>,
    /// Sum of the taxes.
    pub tax: Money,
    /// subtotal − discount + tax.
    pub total: Money,
}

pub fn lines_output(lines: &[Line], totals: &Totals, currency: &str) -> Vec<LineOutput> {
    lines
        .iter()
        .zip(&totals.lines)
        .map(|(l, a)| LineOutput {
            id: None,
            product_id: l.product_id.clone(),
            sku: l.sku.clone(),
            description: l.description.clone(),
            quantity: l.quantity.to_string(),
            unit_price: Money::new(l.unit_price_minor, currency),
            unit_cost: l.unit_cost_minor.map(|c| Money::new(c, currency)),
            discount_bp: l.discount_bp,
            tax_rate_bp: l.tax_rate_bp,
            gross: Money::new(a.gross_minor, currency),
            discount: Money::new(a.discount_minor, currency),
            net: Money::new(a.net_minor, currency),
            kind: l.kind,
            amounts_stated: l.stated.is_some(),
        })
        .collect()
}

pub fn totals_output(totals: &Totals, currency: &str) -> TotalsOutput {
    TotalsOutput {
        subtotal: Money::new(totals.subtotal_minor, currency),
        discount: Money::new(totals.discount_minor, currency),
        taxes: totals
            .taxes
            .iter()
            .map(|t| TaxOutput {
                rate_bp: t.rate_bp,
                base: Money::new(t.base_minor, currency),
                tax: Money::new(t.tax_minor, currency),
            })
            .collect(),
        tax: Money::new(totals.tax_minor, currency),
        total: Money::new(totals.total_minor, currency),
    }
}

/// Gross margin figures (staff only): net revenue less cost, and the margin in basis points.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarginOutput {
    /// Cost of goods of the lines whose cost is known.
    pub cost: Money,
    /// Net revenue (subtotal − discount) − cost.
    pub gross_profit: Money,
    /// gross_profit / net revenue, in basis points; null when net revenue is zero.
    pub margin_bp: Option<i64>,
}

pub fn margin_output(totals: &Totals, cost_minor: i64, currency: &str) -> MarginOutput {
    let net = i128::from(totals.subtotal_minor) - i128::from(totals.discount_minor);
    let profit = net - i128::from(cost_minor);
    MarginOutput {
        cost: Money::new(cost_minor, currency),
        gross_profit: Money::new(i64::try_from(profit).unwrap_or(i64::MAX), currency),
        margin_bp: (net != 0).then(|| i64::try_from(profit * 10_000 / net).unwrap_or(0)),
    }
}

/// A product as a customer sees it in an expanded line: no cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalProduct {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub description: Option<String>,
    pub unit_price: Money,
    pub tax_rate_bp: i64,
}

impl From<crm_store::sales::products::Product> for PortalProduct {
    fn from(product: crm_store::sales::products::Product) -> Self {
        PortalProduct {
            unit_price: Money::new(product.fields.unit_price_minor, &product.fields.currency),
            id: product.id,
            sku: product.fields.sku,
            name: product.fields.name,
            description: product.fields.description,
            tax_rate_bp: product.fields.tax_rate_bp,
        }
    }
}

/// What a single read of a quote or order embeds.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentReadQuery {
    /// `lines.product` embeds each line's product.
    pub expand: Option<String>,
}

/// Whether a read asked for `expand=lines.product`, the one relation documents embed.
pub fn expands_products(expand: Option<&str>) -> Result<bool, crate::platform::error::ApiError> {
    let shape = crate::platform::shape::Shape::parse(None, expand, &[], &["lines.product"])?;
    Ok(shape.expands("lines.product"))
}

/// Puts each line's product beside its `product_id` in a serialized document: as staff see
/// products, or for a customer without cost.
pub fn embed_products(
    document: &mut serde_json::Value,
    products: &[crm_store::sales::products::Product],
    customer: bool,
) {
    let Some(lines) = document
        .get_mut("lines")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for line in lines {
        let product = line["product_id"]
            .as_str()
            .and_then(|id| products.iter().find(|p| p.id == id))
            .map(|p| {
                if customer {
                    serde_json::to_value(PortalProduct::from(p.clone()))
                } else {
                    serde_json::to_value(crate::sales::products::Product::from(p.clone()))
                }
                .unwrap_or(serde_json::Value::Null)
            });
        crate::platform::shape::embed(line, "product", product);
    }
}
