//! Shopify payloads in the shapes its Admin REST webhooks send.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::shopify::{map_order, map_refund, refund_order_id};
use super::{IgnoredReason, LineKind, Mapped, ShopOrder, ShopSettings, ShopTax};
use crate::sales::orders::OrderStatus;

fn settings() -> ShopSettings {
    ShopSettings {
        prices_include_tax_default: false,
        default_tax_rate_bp: 2100,
        accept_test_orders: false,
    }
}

fn mapped(payload: &Value, settings: &ShopSettings) -> ShopOrder {
    match map_order(payload, settings).unwrap() {
        Mapped::Order(order) => *order,
        ignored => panic!("expected an order, got {ignored:?}"),
    }
}

/// Ontario: HST on top of the prices, a 10.00 order discount spread 3.34/3.33/3.33 over three
/// lines, half the shipping off, paid in USD.
fn ontario_order() -> Value {
    serde_json::from_str(ONTARIO_ORDER).unwrap()
}

const ONTARIO_ORDER: &str = r##"{
  "id": 5712347890123,
  "admin_graphql_api_id": "gid://shopify/Order/5712347890123",
  "name": "#1042",
  "order_number": 1042,
  "email": "",
  "contact_email": "jo.tremblay@example.ca",
  "created_at": "2024-03-01T10:15:00-05:00",
  "processed_at": "2024-03-01T10:14:58-05:00",
  "updated_at": "2024-03-01T10:16:30-05:00",
  "cancelled_at": null,
  "currency": "CAD",
  "presentment_currency": "USD",
  "financial_status": "paid",
  "fulfillment_status": null,
  "taxes_included": false,
  "test": false,
  "subtotal_price": "45.00",
  "total_line_items_price": "60.00",
  "total_line_items_price_set": {"shop_money": {"amount": "60.00", "currency_code": "CAD"}, "presentment_money": {"amount": "44.40", "currency_code": "USD"}},
  "total_discounts": "15.00",
  "total_discounts_set": {"shop_money": {"amount": "15.00", "currency_code": "CAD"}, "presentment_money": {"amount": "11.10", "currency_code": "USD"}},
  "discount_codes": [{"code": "WELCOME10", "amount": "10.00", "type": "fixed_amount"}],
  "total_shipping_price_set": {"shop_money": {"amount": "10.00", "currency_code": "CAD"}, "presentment_money": {"amount": "7.40", "currency_code": "USD"}},
  "total_tax": "7.16",
  "total_tax_set": {"shop_money": {"amount": "7.16", "currency_code": "CAD"}, "presentment_money": {"amount": "5.30", "currency_code": "USD"}},
  "total_price": "62.16",
  "total_price_set": {"shop_money": {"amount": "62.16", "currency_code": "CAD"}, "presentment_money": {"amount": "46.00", "currency_code": "USD"}},
  "total_price_usd": "46.00",
  "current_total_price": "62.16",
  "customer": {"id": 6213451234, "email": "Jo.Tremblay@example.ca", "first_name": "Jo", "last_name": "Tremblay"},
  "billing_address": {
    "first_name": "Joanne", "last_name": "Tremblay", "company": " Tremblay Design Inc. ",
    "address1": "12 King St W", "city": "Toronto", "province_code": "ON", "country_code": "CA", "zip": "M5V 2T6"
  },
  "tax_lines": [
    {"title": "HST", "rate": 0.13, "price": "7.16", "price_set": {"shop_money": {"amount": "7.16", "currency_code": "CAD"}, "presentment_money": {"amount": "5.30", "currency_code": "USD"}}, "channel_liable": false}
  ],
  "line_items": [
    {
      "id": 13712345678901, "product_id": 8123, "variant_id": 45123,
      "title": "Merino socks", "variant_title": "M", "name": "Merino socks - M",
      "sku": "SOCK-M", "vendor": "North Knits", "quantity": 2, "current_quantity": 2,
      "price": "12.50",
      "price_set": {"shop_money": {"amount": "12.50", "currency_code": "CAD"}, "presentment_money": {"amount": "9.25", "currency_code": "USD"}},
      "total_discount": "0.00", "taxable": true,
      "discount_allocations": [
        {"amount": "3.34", "amount_set": {"shop_money": {"amount": "3.34", "currency_code": "CAD"}, "presentment_money": {"amount": "2.47", "currency_code": "USD"}}, "discount_application_index": 0}
      ],
      "tax_lines": [
        {"title": "HST", "rate": 0.13, "price": "2.82", "price_set": {"shop_money": {"amount": "2.82", "currency_code": "CAD"}, "presentment_money": {"amount": "2.09", "currency_code": "USD"}}, "channel_liable": false}
      ]
    },
    {
      "id": 13712345678902, "title": "Beanie", "name": "Beanie", "sku": "HAT-01", "quantity": 1,
      "price": "20.00",
      "price_set": {"shop_money": {"amount": "20.00", "currency_code": "CAD"}, "presentment_money": {"amount": "14.80", "currency_code": "USD"}},
      "discount_allocations": [
        {"amount": "3.33", "amount_set": {"shop_money": {"amount": "3.33", "currency_code": "CAD"}, "presentment_money": {"amount": "2.46", "currency_code": "USD"}}, "discount_application_index": 0}
      ],
      "tax_lines": [
        {"title": "HST", "rate": 0.13, "price": "2.17", "price_set": {"shop_money": {"amount": "2.17", "currency_code": "CAD"}, "presentment_money": {"amount": "1.61", "currency_code": "USD"}}, "channel_liable": false}
      ]
    },
    {
      "id": 13712345678903, "title": "Gift box", "name": "Gift box", "sku": null, "quantity": 1,
      "price": "15.00",
      "price_set": {"shop_money": {"amount": "15.00", "currency_code": "CAD"}, "presentment_money": {"amount": "11.10", "currency_code": "USD"}},
      "discount_allocations": [
        {"amount": "3.33", "amount_set": {"shop_money": {"amount": "3.33", "currency_code": "CAD"}, "presentment_money": {"amount": "2.46", "currency_code": "USD"}}, "discount_application_index": 0}
      ],
      "tax_lines": [{"title": "HST", "rate": 0.13, "price": 1.52}]
    }
  ],
  "shipping_lines": [
    {
      "id": 4412345678901, "title": "Canada Post Expedited", "code": "Expedited Parcel", "source": "canada_post",
      "price": "10.00",
      "price_set": {"shop_money": {"amount": "10.00", "currency_code": "CAD"}, "presentment_money": {"amount": "7.40", "currency_code": "USD"}},
      "discounted_price": "5.00",
      "discount_allocations": [
        {"amount": "5.00", "amount_set": {"shop_money": {"amount": "5.00", "currency_code": "CAD"}, "presentment_money": {"amount": "3.70", "currency_code": "USD"}}, "discount_application_index": 1}
      ],
      "tax_lines": [
        {"title": "HST", "rate": 0.13, "price": "0.65", "price_set": {"shop_money": {"amount": "0.65", "currency_code": "CAD"}, "presentment_money": {"amount": "0.48", "currency_code": "USD"}}}
      ]
    }
  ],
  "refunds": []
}"##;

/// A `*_set` of the Ontario shop, whose customer paid in USD.
fn cad(shop: &str, usd: &str) -> Value {
    json!({
        "shop_money": {"amount": shop, "currency_code": "CAD"},
        "presentment_money": {"amount": usd, "currency_code": "USD"}
    })
}

#[test]
fn an_order_with_tax_on_top_keeps_the_shop_money_and_exact_discounts() {
    let order = mapped(&ontario_order(), &settings());
    assert_eq!(order.external_id, "5712347890123");
    assert_eq!(order.number.as_deref(), Some("#1042"));
    assert_eq!(order.currency.as_str(), "CAD");
    assert_eq!(order.status, OrderStatus::Paid);
    assert!(!order.prices_include_tax);
    assert_eq!(
        (
            order.total_minor,
            order.total_tax_minor,
            order.total_discount_minor
        ),
        (6216, 716, 1500)
    );
    let discounts: Vec<i64> = order.lines.iter().map(|l| l.discount_minor).collect();
    assert_eq!(discounts, [334, 333, 333, 500]);
    let kinds: Vec<LineKind> = order.lines.iter().map(|l| l.kind).collect();
    use LineKind::*;
    assert_eq!(kinds, [Product, Product, Product, Shipping]);
    let socks = &order.lines[0];
    assert_eq!(socks.external_id.as_deref(), Some("13712345678901"));
    assert_eq!(
        (socks.title.as_str(), socks.quantity.as_str()),
        ("Merino socks", "2")
    );
    assert_eq!((socks.unit_price_minor, socks.gross_minor), (1250, 2500));
    let hst = |amount_minor| {
        vec![ShopTax {
            rate_bp: 1300,
            amount_minor,
        }]
    };
    assert_eq!(socks.taxes, hst(282));
    assert_eq!(order.lines[2].taxes, hst(152));
    let shipping = &order.lines[3];
    assert_eq!(shipping.title, "Canada Post Expedited");
    assert_eq!(
        (shipping.gross_minor, shipping.taxes.clone()),
        (1000, hst(65))
    );
    assert!(order.order_taxes.is_empty());
    assert_eq!(order.email.as_deref(), Some("Jo.Tremblay@example.ca"));
    assert_eq!(order.first_name.as_deref(), Some("Jo"));
    assert_eq!(
        order.billing_company.as_deref(),
        Some("Tremblay Design Inc.")
    );
    assert_eq!(
        (order.ordered_at, order.updated_at),
        (
            Utc.with_ymd_and_hms(2024, 3, 1, 15, 14, 58).single(),
            Utc.with_ymd_and_hms(2024, 3, 1, 15, 16, 30).single()
        )
    );
    assert!(!order.test);
}

#[test]
fn a_line_without_sku_keeps_its_title_and_is_counted() {
    let order = mapped(&ontario_order(), &settings());
    let gift_box = &order.lines[2];
    assert_eq!(
        (gift_box.sku.as_deref(), gift_box.title.as_str()),
        (None, "Gift box")
    );
    assert_eq!(order.lines_without_sku(), 1);
    let mut empty_sku = ontario_order();
    empty_sku["line_items"][1]["sku"] = json!("");
    assert_eq!(mapped(&empty_sku, &settings()).lines_without_sku(), 2);
}

#[test]
fn the_email_is_the_first_non_empty_of_customer_order_and_contact() {
    let mut payload = ontario_order();
    payload["customer"]["email"] = Value::Null;
    let order = mapped(&payload, &settings());
    assert_eq!(order.email.as_deref(), Some("jo.tremblay@example.ca"));
    payload["contact_email"] = json!("  ");
    assert_eq!(mapped(&payload, &settings()).email, None);
}

#[test]
fn figures_that_do_not_add_up_are_refused_naming_the_field() {
    let refused = |field: &str, value: &str| {
        let mut payload = ontario_order();
        payload[field] = json!(value);
        payload[format!("{field}_set")] = cad(value, "0.00");
        map_order(&payload, &settings()).unwrap_err()
    };
    let err = refused("total_price", "62.17");
    assert_eq!(err.field, "total_price");
    assert_eq!(
        err.message,
        "lines − discounts + shipping + tax = 62.16 but total_price is 62.17"
    );
    assert_eq!(
        err.to_string(),
        "total_price: lines − discounts + shipping + tax = 62.16 but total_price is 62.17"
    );
    // discount_codes say 10.00; the allocations, shipping's included, say 15.00.
    assert_eq!(refused("total_discounts", "10.00").field, "total_discounts");
    assert_eq!(
        refused("total_line_items_price", "59.99").field,
        "total_line_items_price"
    );
    assert_eq!(refused("total_tax", "7.15").field, "total_tax");
}

#[test]
fn presentment_money_in_the_shop_money_slot_is_refused() {
    let mut payload = ontario_order();
    payload["line_items"][0]["price_set"]["shop_money"]["currency_code"] = json!("USD");
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(
        err.field,
        "line_items[0].price_set.shop_money.currency_code"
    );
}

/// France: VAT included in the prices, so nothing is added on top.
fn paris_order() -> Value {
    let eur = |amount: &str| json!({"shop_money": {"amount": amount, "currency_code": "EUR"}, "presentment_money": {"amount": amount, "currency_code": "EUR"}});
    json!({
        "id": 5712347890555_u64, "name": "#2001", "currency": "EUR",
        "email": "camille@example.fr", "financial_status": "paid", "fulfillment_status": "fulfilled",
        "taxes_included": true,
        "created_at": "2024-04-02T09:00:00+02:00",
        "total_line_items_price": "24.00", "total_line_items_price_set": eur("24.00"),
        "total_discounts": "0.00", "total_discounts_set": eur("0.00"),
        "total_tax": "5.00", "total_tax_set": eur("5.00"),
        "total_price": "30.00", "total_price_set": eur("30.00"),
        "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "5.00", "price_set": eur("5.00")}],
        "line_items": [{
            "id": 1, "title": "Tasse expresso", "sku": "CUP-ESP", "quantity": 2,
            "price": "12.00", "price_set": eur("12.00"), "discount_allocations": [],
            "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "4.00", "price_set": eur("4.00")}]
        }],
        "shipping_lines": [{
            "id": 2, "title": "Colissimo", "price": "6.00", "price_set": eur("6.00"),
            "discount_allocations": [],
            "tax_lines": [{"title": "TVA", "rate": 0.2, "price": "1.00", "price_set": eur("1.00")}]
        }]
    })
}

#[test]
fn an_order_with_tax_included_adds_no_tax_on_top() {
    let order = mapped(&paris_order(), &settings());
    assert!(order.prices_include_tax);
    assert_eq!((order.total_minor, order.total_tax_minor), (3000, 500));
    assert_eq!(order.status, OrderStatus::Fulfilled);
    assert_eq!(
        order.lines[0].taxes,
        [ShopTax {
            rate_bp: 2000,
            amount_minor: 400
        }]
    );
}

#[test]
fn a_payload_without_taxes_included_follows_the_connection() {
    let mut payload = paris_order();
    payload.as_object_mut().unwrap().remove("taxes_included");
    let included = ShopSettings {
        prices_include_tax_default: true,
        ..settings()
    };
    assert!(mapped(&payload, &included).prices_include_tax);
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(err.field, "total_price");
    assert!(
        err.message.ends_with("= 35.00 but total_price is 30.00"),
        "{err}"
    );
}

#[test]
fn yen_have_no_decimals_and_may_come_as_numbers() {
    let payload = json!({
        "id": 6001, "name": "#3001", "currency": "JPY", "financial_status": "paid",
        "taxes_included": true,
        "total_line_items_price": "3000", "total_discounts": "0",
        "total_tax": 300, "total_price": 3300.0,
        "line_items": [{
            "id": 61, "title": "Matcha 100g", "sku": "MATCHA-100", "quantity": 2, "price": "1500.00",
            "tax_lines": [{"title": "消費税", "rate": 0.1, "price": "273"}]
        }],
        "shipping_lines": [{
            "id": 62, "title": "Yamato", "price": 300,
            "tax_lines": [{"title": "消費税", "rate": 0.1, "price": "27"}]
        }]
    });
    let order = mapped(&payload, &settings());
    assert_eq!(order.currency.as_str(), "JPY");
    assert_eq!(order.lines[0].unit_price_minor, 1500);
    assert_eq!((order.total_minor, order.total_tax_minor), (3300, 300));
    let mut half_yen = payload;
    half_yen["line_items"][0]["price"] = json!("1500.5");
    let err = map_order(&half_yen, &settings()).unwrap_err();
    assert_eq!(err.field, "line_items[0].price");
    assert_eq!(err.message, "has more than 0 decimals");
}

#[test]
fn order_level_tax_lines_stand_when_no_line_states_tax() {
    let mut payload = paris_order();
    payload["line_items"][0]["tax_lines"] = json!([]);
    payload["shipping_lines"][0]["tax_lines"] = json!([]);
    let order = mapped(&payload, &settings());
    assert!(order.lines.iter().all(|line| line.taxes.is_empty()));
    assert_eq!(
        order.order_taxes,
        [ShopTax {
            rate_bp: 2000,
            amount_minor: 500
        }]
    );
}

#[test]
fn test_orders_are_ignored_unless_the_connection_accepts_them() {
    let mut payload = ontario_order();
    payload["test"] = json!(true);
    assert_eq!(
        map_order(&payload, &settings()).unwrap(),
        Mapped::Ignored(IgnoredReason::TestOrder)
    );
    let accepting = ShopSettings {
        accept_test_orders: true,
        ..settings()
    };
    assert!(mapped(&payload, &accepting).test);
}

#[test]
fn statuses_follow_the_ingestion_table() {
    let status = |financial: Value, fulfillment: Value, cancelled_at: Value| {
        let mut payload = ontario_order();
        payload["financial_status"] = financial;
        payload["fulfillment_status"] = fulfillment;
        payload["cancelled_at"] = cancelled_at;
        map_order(&payload, &settings()).map(|mapped| match mapped {
            Mapped::Order(order) => order.status,
            Mapped::Ignored(reason) => panic!("{reason}"),
        })
    };
    use OrderStatus::*;
    let (null, fulfilled) = (Value::Null, json!("fulfilled"));
    let cancelled_at = json!("2024-03-02T08:00:00-05:00");
    for (financial, expected) in [
        ("pending", Pending),
        ("authorized", Pending),
        ("partially_paid", Pending),
        ("paid", Paid),
        ("partially_refunded", Paid),
        ("refunded", Paid),
        ("voided", Cancelled),
    ] {
        assert_eq!(
            status(json!(financial), null.clone(), null.clone()),
            Ok(expected)
        );
    }
    assert_eq!(
        status(json!("paid"), fulfilled.clone(), null.clone()),
        Ok(Fulfilled)
    );
    assert_eq!(
        status(json!("pending"), json!("partial"), null.clone()),
        Ok(Pending)
    );
    assert_eq!(
        status(json!("refunded"), null.clone(), cancelled_at.clone()),
        Ok(Cancelled)
    );
    assert_eq!(
        status(json!("paid"), fulfilled, cancelled_at),
        Ok(Cancelled)
    );
    assert_eq!(
        status(json!("expired"), null.clone(), null)
            .unwrap_err()
            .field,
        "financial_status"
    );
}

#[test]
fn a_payload_of_another_shape_is_refused_where_it_differs() {
    let mut payload = ontario_order();
    payload["line_items"] = json!({"id": 1});
    assert_eq!(
        map_order(&payload, &settings()).unwrap_err().field,
        "line_items"
    );
    let mut payload = ontario_order();
    payload.as_object_mut().unwrap().remove("total_price_set");
    payload.as_object_mut().unwrap().remove("total_price");
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(
        (err.field.as_str(), err.message.as_str()),
        ("total_price", "is missing")
    );
}

/// A `refunds/create` of the Ontario order: one pair of socks back to stock, the beanie kept
/// at a discount, the shipping discount's remainder refunded, one failed attempt.
fn ontario_refund() -> Value {
    serde_json::from_str(
        r##"{
  "id": 929361464,
  "order_id": 5712347890123,
  "created_at": "2024-03-10T12:00:00-05:00",
  "note": "Socks too small; customer keeps the beanie",
  "restock": false,
  "refund_line_items": [
    {
      "id": 1041, "line_item_id": 13712345678901, "quantity": 1, "location_id": 487838322,
      "restock_type": "return", "subtotal": 10.83,
      "subtotal_set": {"shop_money": {"amount": "10.83", "currency_code": "CAD"}, "presentment_money": {"amount": "8.01", "currency_code": "USD"}},
      "total_tax": 1.41,
      "total_tax_set": {"shop_money": {"amount": "1.41", "currency_code": "CAD"}, "presentment_money": {"amount": "1.04", "currency_code": "USD"}}
    },
    {
      "id": 1042, "line_item_id": 13712345678902, "quantity": 1,
      "restock_type": "no_restock", "subtotal": 16.67, "total_tax": 2.17
    }
  ],
  "transactions": [
    {"id": 1, "kind": "refund", "status": "failure", "amount": "36.73", "currency": "CAD", "gateway": "shopify_payments"},
    {"id": 2, "kind": "refund", "status": "success", "amount": "36.73", "currency": "CAD", "gateway": "shopify_payments"}
  ],
  "order_adjustments": [
    {
      "id": 77, "order_id": 5712347890123, "refund_id": 929361464,
      "kind": "shipping_refund", "reason": "Shipping refund",
      "amount": "-5.00",
      "amount_set": {"shop_money": {"amount": "-5.00", "currency_code": "CAD"}, "presentment_money": {"amount": "-3.70", "currency_code": "USD"}},
      "tax_amount": "-0.65",
      "tax_amount_set": {"shop_money": {"amount": "-0.65", "currency_code": "CAD"}, "presentment_money": {"amount": "-0.48", "currency_code": "USD"}}
    }
  ]
}"##,
    )
    .unwrap()
}

#[test]
fn a_refund_restocks_returned_goods_and_leaves_kept_ones_with_the_customer() {
    let payload = ontario_refund();
    assert_eq!(refund_order_id(&payload).unwrap(), "5712347890123");
    let currency = "CAD".parse().unwrap();
    let refund = map_refund(&payload, currency).unwrap();
    assert_eq!(refund.external_id, "929361464");
    assert_eq!(refund.order_external_id, "5712347890123");
    let restocked: Vec<(&str, bool)> = refund
        .lines
        .iter()
        .map(|line| (line.line_external_id.as_str(), line.restock))
        .collect();
    assert_eq!(
        restocked,
        [("13712345678901", true), ("13712345678902", false)]
    );
    assert_eq!(
        (refund.lines[1].subtotal_minor, refund.lines[1].tax_minor),
        (1667, 217)
    );
    assert_eq!(
        refund.amount_minor, 3673,
        "the failed attempt refunded nothing"
    );
    assert_eq!(
        (refund.shipping_minor, refund.shipping_tax_minor),
        (500, 65)
    );
    assert_eq!(
        refund.note.as_deref(),
        Some("Socks too small; customer keeps the beanie")
    );
    assert!(!refund.amount_mismatch());
}

#[test]
fn refunded_money_that_differs_from_the_goods_is_noted() {
    let mut payload = ontario_refund();
    payload["transactions"][1]["amount"] = json!("30.00");
    let refund = map_refund(&payload, "CAD".parse().unwrap()).unwrap();
    assert_eq!(refund.amount_minor, 3000);
    assert!(refund.amount_mismatch());
}

#[test]
fn a_refund_paid_in_another_currency_is_refused() {
    let mut payload = ontario_refund();
    payload["transactions"][1]["currency"] = json!("USD");
    let err = map_refund(&payload, "CAD".parse().unwrap()).unwrap_err();
    assert_eq!(err.field, "transactions[1].currency");
}

#[test]
fn restock_falls_back_to_the_refund_flag_of_older_api_versions() {
    let mut payload = ontario_refund();
    payload["restock"] = json!(true);
    payload["refund_line_items"][1]
        .as_object_mut()
        .unwrap()
        .remove("restock_type");
    let refund = map_refund(&payload, "CAD".parse().unwrap()).unwrap();
    assert!(refund.lines.iter().all(|line| line.restock));
}

#[test]
fn refunds_embedded_in_an_order_are_read_with_the_order() {
    let mut payload = ontario_order();
    payload["financial_status"] = json!("partially_refunded");
    payload["refunds"] = json!([ontario_refund()]);
    let order = mapped(&payload, &settings());
    assert_eq!(order.status, OrderStatus::Paid);
    assert_eq!(order.refunds.len(), 1);
    assert_eq!(order.refunds[0].amount_minor, 3673);
    payload["refunds"][0]["refund_line_items"][0]["restock_type"] = json!("maybe");
    let err = map_order(&payload, &settings()).unwrap_err();
    assert_eq!(err.field, "refunds[0].refund_line_items[0].restock_type");
}
