//! WooCommerce payloads in the shape of its REST v3 order webhooks.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::woocommerce::map_order;
use super::{IgnoredReason, LineKind, Mapped, ShopOrder, ShopSettings, ShopTax};
use crate::sales::orders::OrderStatus;

fn settings() -> ShopSettings {
    ShopSettings {
        prices_include_tax_default: true,
        default_tax_rate_bp: 2100,
        accept_test_orders: false,
    }
}

fn mapped(payload: &Value) -> ShopOrder {
    match map_order(payload, &settings()).unwrap() {
        Mapped::Order(order) => *order,
        ignored => panic!("expected an order, got {ignored:?}"),
    }
}

/// California, 8.25% on everything, with the store rounding tax at subtotal: line taxes carry
/// up to 6 decimals and only the tax line's totals are rounded. A coupon took 3.00 off.
fn sacramento_order() -> Value {
    serde_json::from_str(SACRAMENTO_ORDER).unwrap()
}

const SACRAMENTO_ORDER: &str = r##"{
        "id": 727, "parent_id": 0, "number": "727", "order_key": "wc_order_58d2d042d1d",
        "created_via": "checkout", "version": "8.7.0", "status": "processing", "currency": "USD",
        "date_created": "2024-05-02T02:30:00", "date_created_gmt": "2024-05-02T09:30:00",
        "date_modified": "2024-05-02T02:31:10", "date_modified_gmt": "2024-05-02T09:31:10",
        "discount_total": "3.00", "discount_tax": "0.25",
        "shipping_total": "5.00", "shipping_tax": "0.41",
        "cart_tax": "2.14", "total": "33.47", "total_tax": "2.55",
        "prices_include_tax": false, "customer_id": 26,
        "billing": {
            "first_name": "Dana", "last_name": "Reyes", "company": "Reyes Catering LLC",
            "address_1": "1201 K St", "address_2": "", "city": "Sacramento", "state": "CA",
            "postcode": "95814", "country": "US", "email": "dana@reyescatering.example",
            "phone": "(916) 555-0142"
        },
        "payment_method": "stripe", "payment_method_title": "Credit Card (Stripe)",
        "line_items": [
            {
                "id": 315, "name": "Stoneware mug", "product_id": 93, "variation_id": 0,
                "quantity": 2, "tax_class": "", "subtotal": "19.92", "subtotal_tax": "1.64",
                "total": "17.92", "total_tax": "1.48",
                "taxes": [{"id": 1, "total": "1.4784", "subtotal": "1.6434"}],
                "meta_data": [], "sku": "MUG-1", "price": 8.96
            },
            {
                "id": 316, "name": "Coaster set", "product_id": 94, "variation_id": 0,
                "quantity": 2, "tax_class": "", "subtotal": "7.00", "subtotal_tax": "0.58",
                "total": "6.00", "total_tax": "0.50",
                "taxes": [{"id": 1, "total": "0.495", "subtotal": "0.5775"}],
                "meta_data": [], "sku": "", "price": 3
            }
        ],
        "tax_lines": [{
            "id": 318, "rate_code": "US-CA-STATE TAX-1", "rate_id": 1, "label": "State Tax",
            "compound": false, "tax_total": "2.14", "shipping_tax_total": "0.41",
            "rate_percent": 8.25, "meta_data": []
        }],
        "shipping_lines": [{
            "id": 317, "method_title": "Flat rate", "method_id": "flat_rate", "instance_id": "1",
            "total": "5.00", "total_tax": "0.41",
            "taxes": [{"id": 1, "total": "0.4125", "subtotal": ""}], "meta_data": []
        }],
        "fee_lines": [{
            "id": 319, "name": "Gift wrap", "tax_class": "", "tax_status": "taxable",
            "amount": "2", "total": "2.00", "total_tax": "0.17",
            "taxes": [{"id": 1, "total": "0.165", "subtotal": ""}], "meta_data": []
        }],
        "coupon_lines": [{"id": 320, "code": "spring3", "discount": "3.00", "discount_tax": "0.25"}],
        "refunds": []
    }"##;

fn taxes_of(order: &ShopOrder) -> Vec<Vec<i64>> {
    order
        .lines
        .iter()
        .map(|line| line.taxes.iter().map(|tax| tax.amount_minor).collect())
        .collect()
}

#[test]
fn unrounded_line_taxes_are_rounded_to_the_tax_lines_totals() {
    let order = mapped(&sacramento_order());
    // Each rounded alone, 1.4784 + 0.495 + 0.165 would make 2.15; the shop charged 2.14.
    assert_eq!(taxes_of(&order), [vec![148], vec![49], vec![17], vec![41]]);
    assert!(order
        .lines
        .iter()
        .flat_map(|line| &line.taxes)
        .all(|tax| tax.rate_bp == 825));
    assert_eq!((order.total_minor, order.total_tax_minor), (3347, 255));
    assert!(order.order_taxes.is_empty());
}

#[test]
fn lines_are_net_of_tax_with_their_discounts_fees_and_shipping() {
    let order = mapped(&sacramento_order());
    let kinds: Vec<LineKind> = order.lines.iter().map(|line| line.kind).collect();
    use LineKind::*;
    assert_eq!(kinds, [Product, Product, Fee, Shipping]);
    let mug = &order.lines[0];
    assert_eq!(
        (mug.unit_price_minor, mug.gross_minor, mug.discount_minor),
        (996, 1992, 200)
    );
    assert_eq!(
        (mug.sku.as_deref(), mug.external_id.as_deref()),
        (Some("MUG-1"), Some("315"))
    );
    let coasters = &order.lines[1];
    assert_eq!(
        (coasters.sku.as_deref(), coasters.title.as_str()),
        (None, "Coaster set")
    );
    assert_eq!(order.lines_without_sku(), 1);
    assert_eq!(
        (order.lines[2].title.as_str(), order.lines[2].gross_minor),
        ("Gift wrap", 200)
    );
    assert_eq!(
        (order.lines[3].title.as_str(), order.lines[3].gross_minor),
        ("Flat rate", 500)
    );
    assert_eq!(order.total_discount_minor, 300);
    assert!(
        !order.prices_include_tax,
        "WooCommerce line amounts are net"
    );
}

#[test]
fn the_order_keeps_its_customer_number_dates_and_status() {
    let order = mapped(&sacramento_order());
    assert_eq!(
        (order.external_id.as_str(), order.number.as_deref()),
        ("727", Some("727"))
    );
    assert_eq!(order.email.as_deref(), Some("dana@reyescatering.example"));
    assert_eq!(order.billing_company.as_deref(), Some("Reyes Catering LLC"));
    assert_eq!(
        (order.first_name.as_deref(), order.last_name.as_deref()),
        (Some("Dana"), Some("Reyes"))
    );
    assert_eq!(
        order.ordered_at,
        Utc.with_ymd_and_hms(2024, 5, 2, 9, 30, 0).single()
    );
    assert_eq!(
        order.updated_at,
        Utc.with_ymd_and_hms(2024, 5, 2, 9, 31, 10).single()
    );
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.currency.as_str(), "USD");
}

#[test]
fn statuses_follow_the_ingestion_table() {
    let status = |woo: &str| {
        let mut payload = sacramento_order();
        payload["status"] = json!(woo);
        map_order(&payload, &settings()).map(|mapped| match mapped {
            Mapped::Order(order) => Some(order.status),
            Mapped::Ignored(_) => None,
        })
    };
    use OrderStatus::*;
    assert_eq!(status("pending"), Ok(Some(Pending)));
    assert_eq!(status("on-hold"), Ok(Some(Pending)));
    assert_eq!(status("processing"), Ok(Some(Paid)));
    assert_eq!(status("completed"), Ok(Some(Fulfilled)));
    assert_eq!(status("cancelled"), Ok(Some(Cancelled)));
    assert_eq!(status("failed"), Ok(Some(Cancelled)));
    assert_eq!(status("refunded"), Ok(Some(Paid)));
    assert_eq!(status("checkout-draft"), Ok(None));
    assert_eq!(status("trash").unwrap_err().field, "status");
}

#[test]
fn a_checkout_draft_is_ignored_before_its_figures_are_read() {
    let draft = json!({"id": 731, "status": "checkout-draft", "currency": "USD", "line_items": []});
    assert_eq!(
        map_order(&draft, &settings()).unwrap(),
        Mapped::Ignored(IgnoredReason::CheckoutDraft)
    );
}

#[test]
fn a_rate_without_a_percentage_is_inferred_from_the_exact_line_taxes() {
    let mut payload = sacramento_order();
    payload["version"] = json!("3.6.5");
    payload["tax_lines"][0]
        .as_object_mut()
        .unwrap()
        .remove("rate_percent");
    let order = mapped(&payload);
    // 2.5509 of tax on 30.92 of lines is 8.25% exactly.
    assert!(order
        .lines
        .iter()
        .flat_map(|l| &l.taxes)
        .all(|t| t.rate_bp == 825));
}

/// A one-line order of a shop that rounds per line, whose tax line states no percentage.
fn old_order(line_total: &str, tax: &str, total: &str) -> Value {
    json!({
        "id": 88, "number": "88", "status": "completed", "currency": "EUR", "version": "3.4.0",
        "discount_total": "0.00", "shipping_total": "0.00", "shipping_tax": "0.00",
        "cart_tax": tax, "total_tax": tax, "total": total, "prices_include_tax": true,
        "billing": {"email": "", "company": ""},
        "line_items": [{
            "id": 1, "name": "Wall calendar", "sku": "CAL-24", "quantity": 1,
            "subtotal": line_total, "total": line_total, "total_tax": tax,
            "taxes": [{"id": 7, "total": tax, "subtotal": tax}]
        }],
        "tax_lines": [{"id": 9, "rate_code": "DE-MWST-1", "rate_id": 7, "label": "MwSt", "compound": false, "tax_total": tax, "shipping_tax_total": "0.00"}],
        "shipping_lines": [], "fee_lines": [], "refunds": []
    })
}

#[test]
fn a_rate_that_rounded_taxes_do_not_pin_to_a_basis_point_is_the_default() {
    // 1.65 ÷ 8.26 is 19.975…%: the connection's default (21%) stands in.
    let cases = [
        ("10.00", "1.90", "11.90", 1900, 190),
        ("8.26", "1.65", "9.91", 2100, 165),
    ];
    for (net, tax, total, rate_bp, amount_minor) in cases {
        let order = mapped(&old_order(net, tax, total));
        assert_eq!(
            order.lines[0].taxes,
            [ShopTax {
                rate_bp,
                amount_minor
            }],
            "{net} + {tax}"
        );
        assert_eq!((order.email, order.billing_company), (None, None));
    }
}

#[test]
fn tax_stated_only_on_the_order_stays_on_the_order() {
    let mut payload = old_order("10.00", "1.90", "11.90");
    payload["line_items"][0]["taxes"] = json!([]);
    payload["tax_lines"][0]["rate_percent"] = json!("19.0000");
    let order = mapped(&payload);
    assert!(order.lines[0].taxes.is_empty());
    assert_eq!(
        order.order_taxes,
        [ShopTax {
            rate_bp: 1900,
            amount_minor: 190
        }]
    );
}

#[test]
fn refunds_are_concessions_of_their_negated_totals() {
    let mut payload = sacramento_order();
    payload["status"] = json!("refunded");
    payload["refunds"] = json!([
        {"id": 801, "reason": "Mug chipped in transit", "total": "-5.00"},
        {"id": 802, "reason": "", "total": "-28.47"}
    ]);
    let order = mapped(&payload);
    assert_eq!(order.status, OrderStatus::Paid);
    let refunds: Vec<(&str, i64, Option<&str>)> = order
        .refunds
        .iter()
        .map(|r| (r.external_id.as_str(), r.amount_minor, r.note.as_deref()))
        .collect();
    assert_eq!(
        refunds,
        [
            ("801", 500, Some("Mug chipped in transit")),
            ("802", 2847, None)
        ]
    );
    assert!(order
        .refunds
        .iter()
        .all(|r| r.lines.is_empty() && r.order_external_id == "727"));
    payload["refunds"][0]["total"] = json!("5.00");
    assert_eq!(
        map_order(&payload, &settings()).unwrap_err().field,
        "refunds[0].total"
    );
}

#[test]
fn figures_that_do_not_add_up_are_refused_naming_the_field() {
    let refused = |pointer: &str, value: Value| {
        let mut payload = sacramento_order();
        *payload.pointer_mut(pointer).unwrap() = value;
        map_order(&payload, &settings()).unwrap_err()
    };
    let err = refused("/total", json!("33.48"));
    assert_eq!(
        err.to_string(),
        "total: lines + shipping + fees + total_tax = 33.47 but total is 33.48"
    );
    assert_eq!(refused("/cart_tax", json!("2.15")).field, "cart_tax");
    assert_eq!(
        refused("/shipping_tax", json!("0.40")).field,
        "shipping_tax"
    );
    assert_eq!(refused("/total_tax", json!("2.54")).field, "total_tax");
    assert_eq!(
        refused("/discount_total", json!("2.00")).field,
        "discount_total"
    );
    assert_eq!(
        refused("/shipping_total", json!("4.00")).field,
        "shipping_total"
    );
    let beyond_rounding = refused("/tax_lines/0/tax_total", json!("2.20"));
    assert_eq!(beyond_rounding.field, "tax_lines[0].tax_total");
    assert_eq!(
        beyond_rounding.message,
        "line taxes at rate id 1 add up to 2.138400 but tax_total is 2.20"
    );
}

#[test]
fn line_taxes_must_name_a_tax_line_and_stay_within_woocommerce_precision() {
    let mut payload = sacramento_order();
    payload["line_items"][1]["taxes"][0]["id"] = json!(2);
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("line_items[1].taxes[0].id", "no tax line has rate id 2")
    );
    let mut payload = sacramento_order();
    payload["line_items"][0]["taxes"][0]["total"] = json!("1.4784001");
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("line_items[0].taxes[0].total", "has more than 6 decimals")
    );
    // A rate that taxed only the subtotal leaves an empty total, which is no tax.
    let mut payload = sacramento_order();
    payload["line_items"][1]["taxes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": 5, "total": "", "subtotal": "0.10"}));
    assert_eq!(taxes_of(&mapped(&payload))[1], [49]);
}
