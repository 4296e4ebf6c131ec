//! What quotes and orders share: lines resolved against the catalogue, exact totals, and the
//! lock that serialises writes to one business key.

use crm_domain::platform::money::Quantity;
use crm_domain::sales::orders::LineKind;
use crm_domain::sales::totals::{compute, LineInput, StatedAmounts, Totals};
use crm_domain::{Violation, Violations};
use std::collections::HashMap;

use crate::platform::db::DbConnection;
use crate::{sales::products, StoreError};

/// A line as a client gives it; the product fills in what is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDraft {
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub description: Option<String>,
    pub quantity: Quantity,
    pub unit_price_minor: Option<i64>,
    pub unit_cost_minor: Option<i64>,
    pub discount_bp: i64,
    pub tax_rate_bp: Option<i64>,
    pub kind: LineKind,
    pub stated: Option<StatedAmounts>,
    /// The shop's id of the line, which its refunds name.
    pub external_id: Option<String>,
    /// A shop's line keeps a SKU that names no product, without a product, rather than being
    /// refused: the shop has charged for it.
    pub keep_unknown_sku: bool,
}

impl LineDraft {
    /// A line of a product named by id or SKU, or of a description and price.
    pub fn new(quantity: Quantity) -> Self {
        LineDraft {
            product_id: None,
            sku: None,
            description: None,
            quantity,
            unit_price_minor: None,
            unit_cost_minor: None,
            discount_bp: 0,
            tax_rate_bp: None,
            kind: LineKind::Product,
            stated: None,
            external_id: None,
            keep_unknown_sku: false,
        }
    }
}

/// A line as stored: everything explicit, the cost snapshotted at the time of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub product_id: Option<String>,
    pub sku: Option<String>,
    pub description: String,
    pub quantity: Quantity,
    pub unit_price_minor: i64,
    pub unit_cost_minor: Option<i64>,
    pub discount_bp: i64,
    pub tax_rate_bp: i64,
    pub kind: LineKind,
    /// Amounts a shop charged, kept as stated rather than computed.
    pub stated: Option<StatedAmounts>,
    /// The shop's id of an order line.
    pub external_id: Option<String>,
}

impl Line {
    /// A line of goods whose amounts are computed from its price and rates.
    pub fn computed(description: String, quantity: Quantity, unit_price_minor: i64) -> Self {
        Line {
            product_id: None,
            sku: None,
            description,
            quantity,
            unit_price_minor,
            unit_cost_minor: None,
            discount_bp: 0,
            tax_rate_bp: 0,
            kind: LineKind::Product,
            stated: None,
            external_id: None,
        }
    }

    pub fn input(&self) -> LineInput {
        LineInput {
            quantity: self.quantity,
            unit_price_minor: self.unit_price_minor,
            discount_bp: self.discount_bp,
            tax_rate_bp: self.tax_rate_bp,
            stated: self.stated,
        }
    }

    /// Whether both lines sell the same thing on the same terms; the cost snapshot aside.
    pub fn sells_same(&self, other: &Line) -> bool {
        Line {
            unit_cost_minor: other.unit_cost_minor,
            ..self.clone()
        } == *other
    }
}

/// The stated amounts of a stored line: its tax column is set only when its amounts are the
/// shop's, and its gross and discount columns hold them.
pub fn stated_of(
    stated_tax_minor: Option<i64>,
    gross_minor: i64,
    discount_minor: i64,
) -> Option<StatedAmounts> {
    stated_tax_minor.map(|tax_minor| StatedAmounts {
        gross_minor,
        discount_minor,
        tax_minor,
    })
}

/// Resolves drafts in a currency: the product (by id or SKU) supplies the description, price,
/// tax rate and cost that the draft leaves out. Every problem is reported with its line.
pub fn resolve_lines(
    conn: &mut DbConnection,
    drafts: Vec<LineDraft>,
    currency: &str,
) -> Result<Vec<Line>, StoreError> {
    let catalogue = Catalogue::of(conn, &drafts)?;
    catalogue.resolve(drafts, currency)
}

/// The products that some line drafts name, by id and by SKU, read in two queries rather than
/// one a line; an import reads them once for all the orders of a chunk.
#[derive(Debug, Default)]
pub struct Catalogue {
    by_id: HashMap<String, products::Product>,
    by_sku: HashMap<String, products::Product>,
}

impl Catalogue {
    pub fn of<'a>(
        conn: &mut DbConnection,
        drafts: impl IntoIterator<Item = &'a LineDraft>,
    ) -> Result<Catalogue, StoreError> {
        let (mut ids, mut skus) = (Vec::new(), Vec::new());
        for draft in drafts {
            match (&draft.product_id, &draft.sku) {
                (Some(id), _) => ids.push(id.clone()),
                (None, Some(sku)) => skus.push(sku.clone()),
                (None, None) => {}
            }
        }
        let by_id = match ids.is_empty() {
            true => HashMap::new(),
            false => products::by_ids(conn, &ids)?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect(),
        };
        let by_sku = match skus.is_empty() {
            true => HashMap::new(),
            false => products::by_skus(conn, &skus)?
                .into_iter()
                .map(|p| (p.fields.sku.clone(), p))
                .collect(),
        };
        Ok(Catalogue { by_id, by_sku })
    }

    /// Resolves drafts whose products this catalogue holds, as [`resolve_lines`] does.
    pub fn resolve(&self, drafts: Vec<LineDraft>, currency: &str) -> Result<Vec<Line>, StoreError> {
        resolve_against(&self.by_id, &self.by_sku, drafts, currency)
    }
}

fn resolve_against(
    by_id: &HashMap<String, products::Product>,
    by_sku: &HashMap<String, products::Product>,
    drafts: Vec<LineDraft>,
    currency: &str,
) -> Result<Vec<Line>, StoreError> {
    let mut violations = Violations::default();
    let mut lines = Vec::with_capacity(drafts.len());
    for (i, draft) in drafts.into_iter().enumerate() {
        let field = |name: &str| format!("lines[{i}].{name}");
        let product = match (&draft.product_id, &draft.sku) {
            (Some(id), _) => match by_id.get(id) {
                Some(p) => Some(p.clone()),
                None => {
                    violations.push(Violation::new(field("product_id"), "no such product"));
                    continue;
                }
            },
            (None, Some(sku)) => match by_sku.get(sku).cloned() {
                Some(p) => Some(p),
                None if draft.keep_unknown_sku => None,
                None => {
                    violations.push(Violation::new(
                        field("sku"),
                        format!("no product has SKU {sku}"),
                    ));
                    continue;
                }
            },
            (None, None) => None,
        };
        let same_currency = product.as_ref().map(|p| p.fields.currency == currency);
        let unit_price_minor = match (draft.unit_price_minor, &product) {
            (Some(price), _) => price,
            (None, Some(p)) if same_currency == Some(true) => p.fields.unit_price_minor,
            (None, Some(p)) => {
                violations.push(Violation::new(
                    field("unit_price"),
                    format!(
                        "the product is priced in {}; give a price in {currency}",
                        p.fields.currency
                    ),
                ));
                continue;
            }
            (None, None) => {
                violations.push(Violation::new(
                    field("unit_price"),
                    "is required for a line without a product",
                ));
                continue;
            }
        };
        let description = match (draft.description, &product) {
            (Some(d), _) => d,
            (None, Some(p)) => p.fields.name.clone(),
            (None, None) => {
                violations.push(Violation::new(
                    field("description"),
                    "is required for a line without a product",
                ));
                continue;
            }
        };
        lines.push(Line {
            product_id: product.as_ref().map(|p| p.id.clone()),
            sku: product.as_ref().map(|p| p.fields.sku.clone()).or(draft.sku),
            description,
            quantity: draft.quantity,
            unit_price_minor,
            unit_cost_minor: draft.unit_cost_minor.or_else(|| {
                product
                    .as_ref()
                    .filter(|_| same_currency == Some(true))
                    .and_then(|p| p.fields.unit_cost_minor)
            }),
            discount_bp: draft.discount_bp,
            tax_rate_bp: draft
                .tax_rate_bp
                .or(product.as_ref().map(|p| p.fields.tax_rate_bp))
                .unwrap_or(0),
            kind: draft.kind,
            stated: draft.stated,
            external_id: draft.external_id,
        });
    }
    violations.into_result()?;
    Ok(lines)
}

pub fn totals(lines: &[Line]) -> Result<Totals, StoreError> {
    let inputs: Vec<LineInput> = lines.iter().map(Line::input).collect();
    Ok(compute(&inputs)?)
}

/// The cost of goods of lines whose cost is known, in minor units (rounded like amounts).
pub fn cost_of(lines: &[Line]) -> Result<i64, StoreError> {
    let mut total: i128 = 0;
    for line in lines {
        if let Some(cost) = line.unit_cost_minor {
            let amount = crm_domain::sales::totals::line_amounts(&LineInput {
                quantity: line.quantity,
                unit_price_minor: cost,
                discount_bp: 0,
                tax_rate_bp: 0,
                stated: None,
            })?;
            total += i128::from(amount.gross_minor);
        }
    }
    i64::try_from(total)
        .map_err(|_| Violation::new("lines", "the amounts are too large to compute").into())
}

/// The products the lines of `documents` sell, in one query (none when not `wanted`).
pub fn products_of<'a>(
    conn: &mut DbConnection,
    lines: impl Iterator<Item = &'a Line>,
    wanted: bool,
) -> Result<Vec<crate::sales::products::Product>, StoreError> {
    if !wanted {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = lines.filter_map(|l| l.product_id.clone()).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    crate::sales::products::by_ids(conn, &ids)
}
