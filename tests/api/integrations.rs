//! Shop integrations: Shopify and WooCommerce order webhooks, signed with the connection's
//! secret, become orders through the order upsert by the rules of `INGESTION.md`, and a shop's
//! refunds become returns and credit notes. The payloads are in the shapes the shops send:
//! Shopify's Admin REST order and refund webhooks, WooCommerce's REST v3 order webhook.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crm_domain::access::roles::Role;
use crm_tests::{eur, id_of, on_both_backends, Product, Response, TestApp};
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

const CONNECTIONS: &str = "/v1/integrations/connections";

/// The shops' signature: the base64 of HMAC-SHA256 of the raw body, keyed by the secret.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// A connection as its shop sees it: the URL to post to, the secret it signs with, and the
/// domain (Shopify) or site (WooCommerce) its headers name.
#[derive(Clone)]
struct Shop {
    platform: &'static str,
    id: String,
    secret: String,
    /// `X-Shopify-Shop-Domain`, or `X-WC-Webhook-Source` (WooCommerce's `home_url('/')`).
    origin: String,
}

/// A connection of `platform` selling on `channel` for the shop at `host`, with tax at 21%
/// where a payload states no rate.
async fn connect(app: &TestApp, platform: &'static str, channel: &str, host: &str) -> Shop {
    let secret = format!("{channel}-{}", uuid::Uuid::now_v7().simple());
    let mut body = json!({"platform": platform, "name": format!("Tienda {channel}"), "channel": channel,
        "secret": secret, "default_tax_rate_bp": 2100});
    let origin = if platform == "shopify" {
        body["shop_domain"] = json!(host);
        host.to_owned()
    } else {
        body["site_url"] = json!(format!("https://{host}"));
        format!("https://{host}/")
    };
    let created = app.create(CONNECTIONS, body).await;
    Shop {
        platform,
        id: id_of(&created),
        secret,
        origin,
    }
}

impl Shop {
    fn path(&self) -> String {
        format!("/v1/integrations/{}/{}/webhooks", self.platform, self.id)
    }

    /// Posts `body` as given, with the shop's headers and `signature` if any.
    async fn post(
        &self,
        app: &TestApp,
        topic: &str,
        delivery_id: &str,
        body: Vec<u8>,
        signature: Option<String>,
    ) -> Response {
        let mut headers: Vec<(&str, String)> = if self.platform == "shopify" {
            vec![
                ("X-Shopify-Topic", topic.to_owned()),
                ("X-Shopify-Webhook-Id", delivery_id.to_owned()),
                ("X-Shopify-Shop-Domain", self.origin.clone()),
                ("X-Shopify-API-Version", "2024-10".to_owned()),
                (
                    "X-Shopify-Triggered-At",
                    "2026-03-02T09:16:31.118412Z".to_owned(),
                ),
            ]
        } else {
            let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
            vec![
                ("X-WC-Webhook-Topic", topic.to_owned()),
                ("X-WC-Webhook-Resource", resource.to_owned()),
                ("X-WC-Webhook-Event", event.to_owned()),
                ("X-WC-Webhook-Delivery-ID", delivery_id.to_owned()),
                ("X-WC-Webhook-ID", "12".to_owned()),
                ("X-WC-Webhook-Source", self.origin.clone()),
            ]
        };
        if let Some(signature) = signature {
            let name = if self.platform == "shopify" {
                "X-Shopify-Hmac-Sha256"
            } else {
                "X-WC-Webhook-Signature"
            };
            headers.push((name, signature));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        app.post_raw(&self.path(), "application/json", body, &headers)
            .await
    }

    /// Posts `body` signed with this connection's secret.
    async fn deliver(
        &self,
        app: &TestApp,
        topic: &str,
        delivery_id: &str,
        body: &Value,
    ) -> Response {
        let bytes = serde_json::to_vec(body).unwrap();
        let signature = sign(&self.secret, &bytes);
        self.post(app, topic, delivery_id, bytes, Some(signature))
            .await
    }

    /// Delivers `body`, asserting `200` with `status`; returns the answer.
    async fn expect(
        &self,
        app: &TestApp,
        topic: &str,
        delivery_id: &str,
        body: &Value,
        status: &str,
    ) -> Value {
        let r = self.deliver(app, topic, delivery_id, body).await;
        assert_eq!(r.status, 200, "{topic} {delivery_id}: {}", r.text);
        assert_eq!(
            r.body["status"], status,
            "{topic} {delivery_id}: {}",
            r.text
        );
        r.body
    }

    /// The ingestion log, newest first.
    async fn ingestions(&self, app: &TestApp) -> Vec<Value> {
        let r = app
            .get(&format!("{CONNECTIONS}/{}/ingestions", self.id))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["data"].as_array().unwrap().clone()
    }

    async fn statuses(&self, app: &TestApp) -> Vec<String> {
        self.ingestions(app)
            .await
            .iter()
            .map(|i| i["status"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn assert_unauthorized(r: &Response, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
}

async fn orders_of(app: &TestApp, channel: &str) -> Vec<Value> {
    let r = app.get(&format!("/v1/orders?channel={channel}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

async fn order(app: &TestApp, answer: &Value) -> Value {
    let r = app
        .get(&format!(
            "/v1/orders/{}",
            answer["order_id"].as_str().expect("an order_id")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn line_with_sku<'a>(order: &'a Value, sku: &str) -> &'a Value {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["sku"] == sku)
        .unwrap_or_else(|| panic!("no line {sku}: {order}"))
}

fn line_of_kind<'a>(order: &'a Value, kind: &str) -> &'a Value {
    order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} line: {order}"))
}

fn kinds(order: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

fn eur_set(amount: &str) -> Value {
    json!({"shop_money": {"amount": amount, "currency_code": "EUR"}, "presentment_money": {"amount": amount, "currency_code": "EUR"}})
}

const SHOPIFY_ORDER_ID: u64 = 5_712_347_890_123;

/// An order of a Spanish Shopify shop with IVA on top of its prices, as `orders/create` sends
/// it: two mugs of the catalogue (`SHOP-MUG`) and a T-shirt the catalogue does not know
/// (`SHOP-TEE-XL`), a 10.00 code spread 6.67/3.33 over them by price, and shipping, each taxed
/// at 21% on its own line: 30.00 − 10.00 + 4.95 + (2.80 + 1.40 + 1.04) = 30.19.
fn shopify_order(id: u64, updated_at: &str) -> Value {
    let mut order: Value = serde_json::from_str(SHOPIFY_ORDER).unwrap();
    order["id"] = json!(id);
    order["admin_graphql_api_id"] = json!(format!("gid://shopify/Order/{id}"));
    order["updated_at"] = json!(updated_at);
    order
}

const SHOPIFY_ORDER: &str = r##"{
  "id": 5712347890123,
  "admin_graphql_api_id": "gid://shopify/Order/5712347890123",
  "name": "#1001",
  "number": 1,
  "order_number": 1001,
  "token": "b1946ac92492d2347c6235b4d2611184",
  "email": "marta.ruiz@example.es",
  "contact_email": "marta.ruiz@example.es",
  "phone": null,
  "created_at": "2026-03-02T10:15:00+01:00",
  "processed_at": "2026-03-02T10:14:58+01:00",
  "updated_at": "2026-03-02T10:16:30+01:00",
  "cancelled_at": null,
  "cancel_reason": null,
  "closed_at": null,
  "currency": "EUR",
  "presentment_currency": "EUR",
  "financial_status": "paid",
  "fulfillment_status": null,
  "confirmed": true,
  "taxes_included": false,
  "tax_exempt": false,
  "test": false,
  "source_name": "web",
  "tags": "",
  "note": null,
  "subtotal_price": "20.00",
  "subtotal_price_set": {"shop_money": {"amount": "20.00", "currency_code": "EUR"}, "presentment_money": {"amount": "20.00", "currency_code": "EUR"}},
  "total_line_items_price": "30.00",
  "total_line_items_price_set": {"shop_money": {"amount": "30.00", "currency_code": "EUR"}, "presentment_money": {"amount": "30.00", "currency_code": "EUR"}},
  "total_discounts": "10.00",
  "total_discounts_set": {"shop_money": {"amount": "10.00", "currency_code": "EUR"}, "presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
  "total_shipping_price_set": {"shop_money": {"amount": "4.95", "currency_code": "EUR"}, "presentment_money": {"amount": "4.95", "currency_code": "EUR"}},
  "total_tax": "5.24",
  "total_tax_set": {"shop_money": {"amount": "5.24", "currency_code": "EUR"}, "presentment_money": {"amount": "5.24", "currency_code": "EUR"}},
  "total_price": "30.19",
  "total_price_set": {"shop_money": {"amount": "30.19", "currency_code": "EUR"}, "presentment_money": {"amount": "30.19", "currency_code": "EUR"}},
  "current_total_price": "30.19",
  "total_outstanding": "0.00",
  "total_weight": 900,
  "discount_codes": [{"code": "BIENVENIDA10", "amount": "10.00", "type": "fixed_amount"}],
  "discount_applications": [
    {"type": "discount_code", "code": "BIENVENIDA10", "value": "10.0", "value_type": "fixed_amount", "allocation_method": "across", "target_selection": "all", "target_type": "line_item"}
  ],
  "customer": {
    "id": 7012345678901, "email": "marta.ruiz@example.es", "first_name": "Marta", "last_name": "Ruiz",
    "phone": null, "state": "enabled", "verified_email": true, "currency": "EUR", "tax_exempt": false
  },
  "billing_address": {
    "first_name": "Marta", "last_name": "Ruiz", "company": "Cafetería Sol SL", "address1": "Calle Mayor 12", "address2": "",
    "city": "Madrid", "zip": "28013", "province": "Madrid", "province_code": "M", "country": "Spain", "country_code": "ES", "phone": null
  },
  "shipping_address": {
    "first_name": "Marta", "last_name": "Ruiz", "company": "Cafetería Sol SL", "address1": "Calle Mayor 12", "address2": "",
    "city": "Madrid", "zip": "28013", "province": "Madrid", "province_code": "M", "country": "Spain", "country_code": "ES", "phone": null
  },
  "tax_lines": [
    {"title": "IVA", "rate": 0.21, "price": "5.24", "price_set": {"shop_money": {"amount": "5.24", "currency_code": "EUR"}, "presentment_money": {"amount": "5.24", "currency_code": "EUR"}}, "channel_liable": false}
  ],
  "line_items": [
    {
      "id": 13712345678901, "admin_graphql_api_id": "gid://shopify/LineItem/13712345678901",
      "product_id": 8123456789, "variant_id": 45123456789, "title": "Taza de cerámica", "variant_title": null,
      "name": "Taza de cerámica", "sku": "SHOP-MUG", "vendor": "Cerámica Talavera", "quantity": 2, "current_quantity": 2,
      "fulfillable_quantity": 2, "fulfillment_status": null, "requires_shipping": true, "taxable": true, "gift_card": false, "grams": 350,
      "price": "10.00",
      "price_set": {"shop_money": {"amount": "10.00", "currency_code": "EUR"}, "presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
      "total_discount": "0.00",
      "total_discount_set": {"shop_money": {"amount": "0.00", "currency_code": "EUR"}, "presentment_money": {"amount": "0.00", "currency_code": "EUR"}},
      "discount_allocations": [
        {"amount": "6.67", "amount_set": {"shop_money": {"amount": "6.67", "currency_code": "EUR"}, "presentment_money": {"amount": "6.67", "currency_code": "EUR"}}, "discount_application_index": 0}
      ],
      "tax_lines": [
        {"title": "IVA", "rate": 0.21, "price": "2.80", "price_set": {"shop_money": {"amount": "2.80", "currency_code": "EUR"}, "presentment_money": {"amount": "2.80", "currency_code": "EUR"}}, "channel_liable": false}
      ]
    },
    {
      "id": 13712345678902, "admin_graphql_api_id": "gid://shopify/LineItem/13712345678902",
      "product_id": 8123456790, "variant_id": 45123456795, "title": "Camiseta logo", "variant_title": "XL",
      "name": "Camiseta logo - XL", "sku": "SHOP-TEE-XL", "vendor": "Sol Merch", "quantity": 1, "current_quantity": 1,
      "fulfillable_quantity": 1, "fulfillment_status": null, "requires_shipping": true, "taxable": true, "gift_card": false, "grams": 200,
      "price": "10.00",
      "price_set": {"shop_money": {"amount": "10.00", "currency_code": "EUR"}, "presentment_money": {"amount": "10.00", "currency_code": "EUR"}},
      "total_discount": "0.00",
      "total_discount_set": {"shop_money": {"amount": "0.00", "currency_code": "EUR"}, "presentment_money": {"amount": "0.00", "currency_code": "EUR"}},
      "discount_allocations": [
        {"amount": "3.33", "amount_set": {"shop_money": {"amount": "3.33", "currency_code": "EUR"}, "presentment_money": {"amount": "3.33", "currency_code": "EUR"}}, "discount_application_index": 0}
      ],
      "tax_lines": [
        {"title": "IVA", "rate": 0.21, "price": "1.40", "price_set": {"shop_money": {"amount": "1.40", "currency_code": "EUR"}, "presentment_money": {"amount": "1.40", "currency_code": "EUR"}}, "channel_liable": false}
      ]
    }
  ],
  "shipping_lines": [
    {
      "id": 4412345678901, "title": "Envío estándar", "code": "Estándar", "source": "shopify", "carrier_identifier": null,
      "price": "4.95",
      "price_set": {"shop_money": {"amount": "4.95", "currency_code": "EUR"}, "presentment_money": {"amount": "4.95", "currency_code": "EUR"}},
      "discounted_price": "4.95",
      "discounted_price_set": {"shop_money": {"amount": "4.95", "currency_code": "EUR"}, "presentment_money": {"amount": "4.95", "currency_code": "EUR"}},
      "discount_allocations": [],
      "tax_lines": [
        {"title": "IVA", "rate": 0.21, "price": "1.04", "price_set": {"shop_money": {"amount": "1.04", "currency_code": "EUR"}, "presentment_money": {"amount": "1.04", "currency_code": "EUR"}}, "channel_liable": false}
      ]
    }
  ],
  "fulfillments": [],
  "refunds": []
}"##;

/// A Shopify order with IVA included in its prices: two mugs at 12.10 (4.20 of it tax) and
/// shipping at 6.05 (1.05 of it tax), 30.25 in all, with no tax on top.
const SHOPIFY_ORDER_TAX_INCLUDED: &str = r##"{
  "id": 5712347890555, "admin_graphql_api_id": "gid://shopify/Order/5712347890555",
  "name": "#1002", "order_number": 1002, "email": "jordi.puig@example.es", "contact_email": "jordi.puig@example.es",
  "created_at": "2026-03-03T09:00:00+01:00", "processed_at": "2026-03-03T09:00:00+01:00", "updated_at": "2026-03-03T11:20:00+01:00",
  "cancelled_at": null, "currency": "EUR", "presentment_currency": "EUR",
  "financial_status": "paid", "fulfillment_status": "fulfilled", "taxes_included": true, "test": false,
  "subtotal_price": "24.20",
  "total_line_items_price": "24.20",
  "total_line_items_price_set": {"shop_money": {"amount": "24.20", "currency_code": "EUR"}, "presentment_money": {"amount": "24.20", "currency_code": "EUR"}},
  "total_discounts": "0.00",
  "total_discounts_set": {"shop_money": {"amount": "0.00", "currency_code": "EUR"}, "presentment_money": {"amount": "0.00", "currency_code": "EUR"}},
  "total_shipping_price_set": {"shop_money": {"amount": "6.05", "currency_code": "EUR"}, "presentment_money": {"amount": "6.05", "currency_code": "EUR"}},
  "total_tax": "5.25",
  "total_tax_set": {"shop_money": {"amount": "5.25", "currency_code": "EUR"}, "presentment_money": {"amount": "5.25", "currency_code": "EUR"}},
  "total_price": "30.25",
  "total_price_set": {"shop_money": {"amount": "30.25", "currency_code": "EUR"}, "presentment_money": {"amount": "30.25", "currency_code": "EUR"}},
  "discount_codes": [],
  "customer": {"id": 7012345678955, "email": "jordi.puig@example.es", "first_name": "Jordi", "last_name": "Puig", "currency": "EUR"},
  "billing_address": {"first_name": "Jordi", "last_name": "Puig", "company": null, "address1": "Carrer de Mallorca 401", "city": "Barcelona", "zip": "08013", "province_code": "B", "country_code": "ES"},
  "tax_lines": [
    {"title": "IVA", "rate": 0.21, "price": "5.25", "price_set": {"shop_money": {"amount": "5.25", "currency_code": "EUR"}, "presentment_money": {"amount": "5.25", "currency_code": "EUR"}}, "channel_liable": false}
  ],
  "line_items": [
    {
      "id": 13712345679001, "product_id": 8123456789, "variant_id": 45123456789, "title": "Taza de cerámica", "name": "Taza de cerámica",
      "sku": "SHOP-MUG", "quantity": 2, "current_quantity": 2, "taxable": true, "requires_shipping": true, "gift_card": false,
      "price": "12.10",
      "price_set": {"shop_money": {"amount": "12.10", "currency_code": "EUR"}, "presentment_money": {"amount": "12.10", "currency_code": "EUR"}},
      "total_discount": "0.00", "discount_allocations": [],
      "tax_lines": [
        {"title": "IVA", "rate": 0.21, "price": "4.20", "price_set": {"shop_money": {"amount": "4.20", "currency_code": "EUR"}, "presentment_money": {"amount": "4.20", "currency_code": "EUR"}}, "channel_liable": false}
      ]
    }
  ],
  "shipping_lines": [
    {
      "id": 4412345679001, "title": "Envío 24 h", "code": "24h", "source": "shopify",
      "price": "6.05",
      "price_set": {"shop_money": {"amount": "6.05", "currency_code": "EUR"}, "presentment_money": {"amount": "6.05", "currency_code": "EUR"}},
      "discounted_price": "6.05", "discount_allocations": [],
      "tax_lines": [
        {"title": "IVA", "rate": 0.21, "price": "1.05", "price_set": {"shop_money": {"amount": "1.05", "currency_code": "EUR"}, "presentment_money": {"amount": "1.05", "currency_code": "EUR"}}, "channel_liable": false}
      ]
    }
  ],
  "refunds": []
}"##;

/// `refunds/create` for one of the two mugs of `shopify_order`, back to stock: its share of the
/// line after the discount, 6.67, and its tax, 1.40, paid back in one successful transaction
/// after a failed one.
fn shopify_refund(refund_id: u64, order_id: u64) -> Value {
    let mut refund: Value = serde_json::from_str(SHOPIFY_REFUND).unwrap();
    refund["id"] = json!(refund_id);
    refund["admin_graphql_api_id"] = json!(format!("gid://shopify/Refund/{refund_id}"));
    refund["order_id"] = json!(order_id);
    for transaction in refund["transactions"].as_array_mut().unwrap() {
        transaction["order_id"] = json!(order_id);
    }
    refund
}

const SHOPIFY_REFUND: &str = r##"{
  "id": 929361464,
  "admin_graphql_api_id": "gid://shopify/Refund/929361464",
  "order_id": 5712347890123,
  "created_at": "2026-03-10T12:00:00+01:00",
  "processed_at": "2026-03-10T12:00:00+01:00",
  "note": "Una taza llegó rota",
  "restock": true,
  "user_id": 548380009,
  "refund_line_items": [
    {
      "id": 1041, "line_item_id": 13712345678901, "quantity": 1, "location_id": 487838322, "restock_type": "return",
      "subtotal": 6.67,
      "subtotal_set": {"shop_money": {"amount": "6.67", "currency_code": "EUR"}, "presentment_money": {"amount": "6.67", "currency_code": "EUR"}},
      "total_tax": 1.4,
      "total_tax_set": {"shop_money": {"amount": "1.40", "currency_code": "EUR"}, "presentment_money": {"amount": "1.40", "currency_code": "EUR"}}
    }
  ],
  "transactions": [
    {"id": 5510471000, "order_id": 5712347890123, "kind": "refund", "gateway": "shopify_payments", "status": "failure", "amount": "8.07", "currency": "EUR", "parent_id": 5510470000, "test": false, "created_at": "2026-03-10T11:59:40+01:00"},
    {"id": 5510471001, "order_id": 5712347890123, "kind": "refund", "gateway": "shopify_payments", "status": "success", "amount": "8.07", "currency": "EUR", "parent_id": 5510470000, "test": false, "created_at": "2026-03-10T12:00:00+01:00"}
  ],
  "order_adjustments": [],
  "duties": []
}"##;

const WOO_ORDER_ID: u64 = 4127;

/// A WooCommerce order (REST v3, as `order.created` and `order.updated` send it) of a shop
/// whose line amounts are net of IVA: two mugs of the catalogue (`WOO-MUG`) and a T-shirt it
/// does not know (`WOO-TEE-XL`), 20% off with a coupon (4.00 + 2.00), gift wrap as a fee, and
/// shipping, all at 21%: 16.00 + 8.00 + 4.95 + 2.00 + 6.50 = 37.45.
fn woo_order(status: &str, date_modified_gmt: &str) -> Value {
    let mut order: Value = serde_json::from_str(WOO_ORDER).unwrap();
    let gmt =
        chrono::NaiveDateTime::parse_from_str(date_modified_gmt, "%Y-%m-%dT%H:%M:%S").unwrap();
    let madrid = (gmt + chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    order["status"] = json!(status);
    order["date_modified_gmt"] = json!(date_modified_gmt);
    order["date_modified"] = json!(madrid);
    if status == "completed" {
        order["date_completed_gmt"] = json!(date_modified_gmt);
        order["date_completed"] = json!(madrid);
    }
    order
}

const WOO_ORDER: &str = r##"{
  "id": 4127, "parent_id": 0, "number": "4127", "order_key": "wc_order_kD8sPq3LrT2xY",
  "created_via": "checkout", "version": "9.3.3", "status": "processing", "currency": "EUR",
  "date_created": "2026-03-02T10:30:00", "date_created_gmt": "2026-03-02T09:30:00",
  "date_modified": "2026-03-02T10:31:10", "date_modified_gmt": "2026-03-02T09:31:10",
  "discount_total": "6.00", "discount_tax": "1.26",
  "shipping_total": "4.95", "shipping_tax": "1.04",
  "cart_tax": "5.46", "total": "37.45", "total_tax": "6.50",
  "prices_include_tax": false, "customer_id": 31, "customer_ip_address": "203.0.113.7",
  "customer_user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3)", "customer_note": "",
  "billing": {
    "first_name": "Lucía", "last_name": "Gómez", "company": "Bar Lucía SL", "address_1": "Calle del Pez 7", "address_2": "",
    "city": "Madrid", "state": "M", "postcode": "28004", "country": "ES", "email": "lucia@example.es", "phone": "+34 611 222 333"
  },
  "shipping": {
    "first_name": "Lucía", "last_name": "Gómez", "company": "Bar Lucía SL", "address_1": "Calle del Pez 7", "address_2": "",
    "city": "Madrid", "state": "M", "postcode": "28004", "country": "ES", "phone": ""
  },
  "payment_method": "stripe", "payment_method_title": "Tarjeta de crédito", "transaction_id": "pi_3OqLrT2eZvKYlo2C0a1b2c3d",
  "date_paid": "2026-03-02T10:30:55", "date_paid_gmt": "2026-03-02T09:30:55",
  "date_completed": null, "date_completed_gmt": null, "cart_hash": "5c9a1f0e3d2b7a6c", "meta_data": [],
  "line_items": [
    {
      "id": 901, "name": "Taza de cerámica", "product_id": 210, "variation_id": 0, "quantity": 2, "tax_class": "",
      "subtotal": "20.00", "subtotal_tax": "4.20", "total": "16.00", "total_tax": "3.36",
      "taxes": [{"id": 1, "total": "3.36", "subtotal": "4.2"}],
      "meta_data": [], "sku": "WOO-MUG", "price": 8, "image": {"id": "311", "src": "https://shop.example.com/wp-content/uploads/taza.jpg"}, "parent_name": null
    },
    {
      "id": 902, "name": "Camiseta logo - XL", "product_id": 231, "variation_id": 233, "quantity": 1, "tax_class": "",
      "subtotal": "10.00", "subtotal_tax": "2.10", "total": "8.00", "total_tax": "1.68",
      "taxes": [{"id": 1, "total": "1.68", "subtotal": "2.1"}],
      "meta_data": [{"id": 8870, "key": "pa_talla", "value": "xl", "display_key": "Talla", "display_value": "XL"}],
      "sku": "WOO-TEE-XL", "price": 8, "image": {"id": "", "src": ""}, "parent_name": "Camiseta logo"
    }
  ],
  "tax_lines": [
    {"id": 905, "rate_code": "ES-IVA-1", "rate_id": 1, "label": "IVA", "compound": false, "tax_total": "5.46", "shipping_tax_total": "1.04", "rate_percent": 21, "meta_data": []}
  ],
  "shipping_lines": [
    {"id": 903, "method_title": "Envío estándar", "method_id": "flat_rate", "instance_id": "1", "total": "4.95", "total_tax": "1.04",
     "taxes": [{"id": 1, "total": "1.0395", "subtotal": ""}], "meta_data": []}
  ],
  "fee_lines": [
    {"id": 904, "name": "Envoltorio regalo", "tax_class": "", "tax_status": "taxable", "amount": "2", "total": "2.00", "total_tax": "0.42",
     "taxes": [{"id": 1, "total": "0.42", "subtotal": ""}], "meta_data": []}
  ],
  "coupon_lines": [{"id": 906, "code": "primavera20", "discount": "6.00", "discount_tax": "1.26", "meta_data": []}],
  "refunds": [],
  "payment_url": "https://shop.example.com/finalizar-compra/order-pay/4127/?pay_for_order=true&key=wc_order_kD8sPq3LrT2xY",
  "is_editable": false, "needs_payment": false, "needs_processing": true, "currency_symbol": "€"
}"##;

on_both_backends! {
    async fn connections_are_for_admins_and_never_show_their_secret(app: TestApp) {
        let secret = "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";
        let r = app.post(CONNECTIONS, json!({"platform": "shopify", "name": "Tienda Madrid", "channel": "shopify-es",
            "secret": secret, "shop_domain": "demo.myshopify.com"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let shopify = r.body.clone();
        let id = id_of(&shopify);
        assert!(shopify.get("secret").is_none() && !r.text.contains(secret), "the secret is write-only");
        assert_eq!((&shopify["platform"], &shopify["channel"], &shopify["shop_domain"]), (&json!("shopify"), &json!("shopify-es"), &json!("demo.myshopify.com")));
        assert_eq!(shopify["site_url"], Value::Null);
        assert_eq!((&shopify["prices_include_tax"], &shopify["default_tax_rate_bp"]), (&json!(false), &json!(0)), "defaults");
        assert_eq!((&shopify["accept_test_orders"], &shopify["enabled"]), (&json!(false), &json!(true)), "defaults");
        let url = shopify["webhook_url"].as_str().unwrap();
        assert!(url.starts_with("http") && url.ends_with(&format!("/v1/integrations/shopify/{id}/webhooks")), "{url}");

        let same_channel = app.post(CONNECTIONS, json!({"platform": "woocommerce", "name": "Otra", "channel": "shopify-es",
            "secret": "s3cret-woo", "site_url": "https://shop.example.com"})).await;
        assert_eq!(same_channel.status, 409, "{}", same_channel.text);
        assert_eq!(same_channel.body["existing_id"], id.as_str());
        let no_domain = app.post(CONNECTIONS, json!({"platform": "shopify", "name": "Sin dominio", "channel": "shopify-pt", "secret": "x-secret"})).await;
        assert_eq!(no_domain.status, 422, "{}", no_domain.text);
        assert_eq!(no_domain.body["errors"][0]["field"], "shop_domain");
        let no_site = app.post(CONNECTIONS, json!({"platform": "woocommerce", "name": "Sin sitio", "channel": "woo-es", "secret": "x-secret"})).await;
        assert_eq!(no_site.status, 422, "{}", no_site.text);
        assert_eq!(no_site.body["errors"][0]["field"], "site_url");

        let woo = app.create(CONNECTIONS, json!({"platform": "woocommerce", "name": "Tienda Woo", "channel": "woo-es",
            "secret": "s3cret-woo", "site_url": "https://shop.example.com", "prices_include_tax": true})).await;
        let woo_id = id_of(&woo);
        assert!(woo["webhook_url"].as_str().unwrap().ends_with(&format!("/v1/integrations/woocommerce/{woo_id}/webhooks")));
        let listed = app.get(CONNECTIONS).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);
        assert!(listed.body.get("next_cursor").is_some());
        assert!(!listed.text.contains(secret) && !listed.text.contains("s3cret-woo"));
        assert_eq!(app.get(&format!("{CONNECTIONS}/{id}")).await.body, shopify, "the GET answers what the create did");

        let patched = app.patch(&format!("{CONNECTIONS}/{id}"), json!({"name": "Tienda Madrid centro", "secret": "shpss_rotated",
            "default_tax_rate_bp": 2100, "accept_test_orders": true})).await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!((&patched.body["name"], &patched.body["default_tax_rate_bp"], &patched.body["accept_test_orders"]),
            (&json!("Tienda Madrid centro"), &json!(2100), &json!(true)));
        assert!(patched.body.get("secret").is_none() && !patched.text.contains("shpss_rotated"));
        assert_eq!(patched.body["version"].as_i64(), shopify["version"].as_i64().map(|v| v + 1));
        assert_eq!(app.delete(&format!("{CONNECTIONS}/{woo_id}")).await.status, 204);
        assert_eq!(app.get(&format!("{CONNECTIONS}/{woo_id}")).await.status, 404);

        let company = id_of(&app.company("Portal SL", json!({})).await);
        let mut tokens = vec![("customer", app.portal_user(&company).await)];
        for role in [Role::Manager, Role::Support, Role::Sales] {
            tokens.push((role.as_str(), app.token_for(role, None).await));
        }
        let key = app.create("/v1/api-keys", json!({"name": "Shop sync", "scopes": ["orders:write", "products:write"]})).await;
        tokens.push(("api key", key["key"].as_str().unwrap().to_owned()));
        let body = json!({"platform": "shopify", "name": "Intrusa", "channel": "intrusa", "secret": "x-secret", "shop_domain": "evil.myshopify.com"});
        for (who, token) in &tokens {
            for (method, path, body) in [
                (Method::GET, CONNECTIONS.to_owned(), None),
                (Method::POST, CONNECTIONS.to_owned(), Some(body.clone())),
                (Method::GET, format!("{CONNECTIONS}/{id}"), None),
                (Method::GET, format!("{CONNECTIONS}/{id}/ingestions"), None),
            ] {
                let r = app.request(method.clone(), &path, Some(token.as_str()), body, &[]).await;
                assert_eq!(r.status, 403, "{who} {method} {path}: {}", r.text);
            }
        }
        assert_eq!(app.get(CONNECTIONS).await.body["data"].as_array().unwrap().len(), 1, "nothing was created by the refused");
    }

    async fn a_signed_shopify_order_is_stored_once_to_the_cent(app: TestApp) {
        let mug = Product::new("SHOP-MUG", 1000, 400).ensure(&app).await;
        let shop = connect(&app, "shopify", "shopify-es", "demo.myshopify.com").await;
        let created = shopify_order(SHOPIFY_ORDER_ID, "2026-03-02T10:16:30+01:00");
        let answer = shop.expect(&app, "orders/create", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", &created, "applied").await;
        assert_eq!(answer["unknown_skus"], json!(["SHOP-TEE-XL"]));

        let stored = order(&app, &answer).await;
        assert_eq!((&stored["channel"], &stored["external_id"]), (&json!("shopify-es"), &json!(SHOPIFY_ORDER_ID.to_string())));
        assert_eq!((&stored["connection_id"], &stored["shop_number"]), (&json!(shop.id), &json!("#1001")));
        assert_eq!((&stored["status"], &stored["currency"], &stored["prices_include_tax"]), (&json!("paid"), &json!("EUR"), &json!(false)));
        assert_eq!(stored["totals"]["total"], eur(3019), "the shop's total_price, to the cent");
        assert_eq!(stored["totals"]["tax"], eur(524), "the tax as the shop stated it, line by line");
        assert_eq!(stored["totals"]["discount"], eur(1000));
        assert_eq!(stored["totals"]["subtotal"], eur(3495), "lines and shipping before discounts");
        assert_eq!(kinds(&stored), ["product", "product", "shipping"]);
        let mugs = line_with_sku(&stored, "SHOP-MUG");
        assert_eq!((&mugs["product_id"], &mugs["kind"], &mugs["quantity"]), (&json!(mug), &json!("product"), &json!("2")));
        assert_eq!((&mugs["unit_price"], &mugs["discount"], &mugs["tax_rate_bp"]), (&eur(1000), &eur(667), &json!(2100)));
        let tee = line_with_sku(&stored, "SHOP-TEE-XL");
        assert_eq!(tee["product_id"], Value::Null, "an unknown SKU keeps its line, without a product");
        assert_eq!((&tee["description"], &tee["discount"]), (&json!("Camiseta logo"), &eur(333)));
        let shipping = line_of_kind(&stored, "shipping");
        assert_eq!((&shipping["description"], &shipping["gross"], &shipping["product_id"]), (&json!("Envío estándar"), &eur(495), &Value::Null));
        let contact = app.get(&format!("/v1/contacts/{}", stored["contact_id"].as_str().unwrap())).await.body;
        assert_eq!((&contact["email"], &contact["lifecycle_stage"]), (&json!("marta.ruiz@example.es"), &json!("customer")));
        assert!(stored["company_id"].is_string(), "billing_address.company names the company");
        let contact_id = stored["contact_id"].as_str().unwrap();
        let overview = app.get(&format!("/v1/contacts/{contact_id}/overview")).await.body;
        assert_eq!((&overview["recent_orders"][0]["shop_number"], &overview["recent_orders"][0]["connection_id"]), (&json!("#1001"), &json!(shop.id)), "the 360 view names the shop's number");
        let timeline = app.get(&format!("/v1/contacts/{contact_id}/timeline")).await.body;
        let entry = timeline["data"].as_array().unwrap().iter().find(|e| e["kind"] == "order").unwrap();
        assert!(entry["summary"].as_str().unwrap().contains("#1001"), "and so does the timeline: {entry}");

        let log = shop.ingestions(&app).await;
        assert_eq!(log.len(), 1);
        assert_eq!((&log[0]["status"], &log[0]["topic"], &log[0]["webhook_id"]), (&json!("applied"), &json!("orders/create"), &json!("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")));
        assert_eq!((&log[0]["order_id"], &log[0]["unknown_skus"], &log[0]["problem"]), (&stored["id"], &json!(["SHOP-TEE-XL"]), &Value::Null));
        assert!(log[0]["received_at"].is_string());

        // Changed after signing: a new customer, on another order. Then unsigned.
        let other = serde_json::to_vec(&shopify_order(SHOPIFY_ORDER_ID + 1, "2026-03-02T11:00:00+01:00")).unwrap();
        let signature = sign(&shop.secret, &other);
        let tampered = String::from_utf8(other.clone()).unwrap().replace("marta.ruiz@example.es", "mallory@example.com");
        assert_unauthorized(&shop.post(&app, "orders/create", "tampered-1", tampered.into_bytes(), Some(signature)).await, "tampered");
        assert_unauthorized(&shop.post(&app, "orders/create", "unsigned-1", other, None).await, "unsigned");
        assert_eq!(shop.ingestions(&app).await.len(), 1, "a refused signature is not logged");
        assert_eq!(orders_of(&app, "shopify-es").await.len(), 1, "nor stored");

        let version = stored["version"].clone();
        shop.expect(&app, "orders/create", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", &created, "duplicate").await;
        shop.expect(&app, "orders/updated", "0f3b8d27-6a51-4c88-9d0e-2a4c7e1f9b60", &created, "unchanged").await;
        let mut older = shopify_order(SHOPIFY_ORDER_ID, "2026-03-02T10:15:05+01:00");
        older["fulfillment_status"] = json!("fulfilled");
        shop.expect(&app, "orders/updated", "5d2e7c11-93f0-4e4b-a1c6-8b0f2d3e4a57", &older, "stale").await;
        let now = order(&app, &answer).await;
        assert_eq!((&now["version"], &now["status"]), (&version, &json!("paid")), "neither the replay, the same content nor the older payload changed it");

        let mut cancelled = shopify_order(SHOPIFY_ORDER_ID, "2026-03-03T08:05:00+01:00");
        cancelled["cancelled_at"] = json!("2026-03-03T08:05:00+01:00");
        cancelled["cancel_reason"] = json!("customer");
        cancelled["closed_at"] = json!("2026-03-03T08:05:00+01:00");
        shop.expect(&app, "orders/cancelled", "7a9c1e55-0b2d-4f63-8e17-c4d5a6b7e8f9", &cancelled, "applied").await;
        assert_eq!(order(&app, &answer).await["status"], "cancelled");
        let refund = shop.expect(&app, "refunds/create", "refund-of-cancelled", &shopify_refund(929_361_001, SHOPIFY_ORDER_ID), "ignored").await;
        assert_eq!(refund["problem"], "order_cancelled", "a cancelled order counts for nothing: no return to make");
        assert_eq!(shop.statuses(&app).await, ["ignored", "applied", "stale", "unchanged", "duplicate", "applied"]);
    }

    async fn shopify_prices_with_tax_included_add_no_tax_on_top(app: TestApp) {
        Product::new("SHOP-MUG", 1000, 400).ensure(&app).await;
        let shop = connect(&app, "shopify", "shopify-es", "demo.myshopify.com").await;
        let payload: Value = serde_json::from_str(SHOPIFY_ORDER_TAX_INCLUDED).unwrap();
        let answer = shop.expect(&app, "orders/create", "c0ffee00-1234-4abc-8def-000000000002", &payload, "applied").await;
        assert_eq!(answer["unknown_skus"], json!([]));
        let stored = order(&app, &answer).await;
        assert_eq!((&stored["prices_include_tax"], &stored["status"], &stored["shop_number"]), (&json!(true), &json!("fulfilled"), &json!("#1002")));
        assert_eq!(stored["totals"]["total"], eur(3025), "the shop's total_price: nothing added on top");
        assert_eq!(stored["totals"]["tax"], eur(525), "the tax included, as stated");
        let mugs = line_with_sku(&stored, "SHOP-MUG");
        assert_eq!((&mugs["unit_price"], &mugs["tax_rate_bp"], &mugs["amounts_stated"]), (&eur(1000), &json!(2100), &json!(true)), "stored amounts are net of tax: 12.10 charged is 10.00 and its tax");
        assert_eq!(line_of_kind(&stored, "shipping")["gross"], eur(500), "6.05 of shipping, tax included, is 5.00 and its tax");
        assert_eq!(stored["company_id"], Value::Null, "no billing company, and a new contact has none");
    }

    async fn what_a_shop_should_not_have_sent_is_refused_or_ignored(app: TestApp) {
        let shop = connect(&app, "shopify", "shopify-es", "demo.myshopify.com").await;
        let mut wrong = shopify_order(SHOPIFY_ORDER_ID, "2026-03-02T10:16:30+01:00");
        wrong["total_price"] = json!("30.20");
        wrong["total_price_set"] = eur_set("30.20");
        let r = shop.deliver(&app, "orders/create", "e1", &wrong).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.body["errors"][0]["field"], "total_price", "{}", r.text);
        let malformed = b"{\"id\": 5712347890124, \"line_items\": [{\"id\": 1, \"price\":".to_vec();
        let signature = sign(&shop.secret, &malformed);
        let r = shop.post(&app, "orders/create", "e2", malformed, Some(signature)).await;
        assert_eq!(r.status, 422, "signed but not JSON: {}", r.text);
        let log = shop.ingestions(&app).await;
        assert_eq!(log.iter().map(|i| i["status"].as_str().unwrap()).collect::<Vec<_>>(), ["rejected", "rejected"]);
        assert!(log.iter().all(|i| i["problem"].is_string() && i["order_id"].is_null()), "{log:?}");
        assert!(log[1]["problem"].as_str().unwrap().contains("total_price"), "{}", log[1]["problem"]);
        assert_eq!(orders_of(&app, "shopify-es").await.len(), 0);

        let mut test_order = shopify_order(SHOPIFY_ORDER_ID + 7, "2026-03-02T10:16:30+01:00");
        test_order["test"] = json!(true);
        let ignored = shop.expect(&app, "orders/create", "t1", &test_order, "ignored").await;
        assert_eq!(ignored["order_id"], Value::Null);
        let r = app.patch(&format!("{CONNECTIONS}/{}", shop.id), json!({"accept_test_orders": true})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        shop.expect(&app, "orders/create", "t2", &test_order, "applied").await;
        assert_eq!(orders_of(&app, "shopify-es").await.len(), 1);
    }

    async fn a_shopify_refund_of_an_invoiced_order_is_a_return_and_a_credit_note(app: TestApp) {
        app.configure_issuer().await;
        Product::new("SHOP-MUG", 1000, 400).ensure(&app).await;
        let shop = connect(&app, "shopify", "shopify-es", "demo.myshopify.com").await;
        let mut fulfilled = shopify_order(SHOPIFY_ORDER_ID, "2026-03-04T09:00:00+01:00");
        fulfilled["fulfillment_status"] = json!("fulfilled");
        for line in fulfilled["line_items"].as_array_mut().unwrap() {
            line["fulfillment_status"] = json!("fulfilled");
            line["fulfillable_quantity"] = json!(0);
        }
        let answer = shop.expect(&app, "orders/create", "o1", &fulfilled, "applied").await;
        let stored = order(&app, &answer).await;
        let company = stored["company_id"].as_str().expect("the billing company").to_owned();
        let company_body = app.get(&format!("/v1/companies/{company}")).await.body;
        assert_eq!(company_body["name"], "Cafetería Sol SL");
        let r = app.patch(&format!("/v1/companies/{company}"), json!({"tax_id": "ESB87654321", "billing_address": {"line1": "Calle Mayor 12", "city": "Madrid", "postal_code": "28013", "country": "ES"}})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let invoice = app.issued_invoice(&company, &stored).await;

        let refund = shopify_refund(929_361_464, SHOPIFY_ORDER_ID);
        let refunded = shop.expect(&app, "refunds/create", "r1", &refund, "applied").await;
        assert_eq!(refunded["order_id"], stored["id"]);
        let returns = app.get(&format!("/v1/returns?order_id={}", stored["id"].as_str().unwrap())).await;
        let returns = returns.body["data"].as_array().unwrap().clone();
        assert_eq!(returns.len(), 1, "{returns:?}");
        let ret = app.get(&format!("/v1/returns/{}", id_of(&returns[0]))).await.body;
        assert_eq!((&ret["status"], &ret["resolution"], &ret["refund"]), (&json!("resolved"), &json!("refund"), &eur(807)));
        assert_eq!(ret["lines"][0]["order_line_id"], line_with_sku(&stored, "SHOP-MUG")["id"]);
        assert_eq!((&ret["lines"][0]["quantity"], &ret["lines"][0]["disposition"]), (&json!("1"), &json!("restock")));
        let note = app.get(&format!("/v1/invoices/{}", ret["credit_note_id"].as_str().expect("a credit note"))).await.body;
        assert_eq!((&note["type_code"], &note["corrects_invoice_id"]), (&json!("381"), &json!(invoice)));
        assert_eq!(note["totals"]["total"], eur(807), "the money the shop paid back");
        assert_eq!(app.get(&format!("/v1/invoices/{invoice}")).await.body["credited"], eur(807));

        shop.expect(&app, "refunds/create", "r2", &refund, "unchanged").await;
        let again = app.get(&format!("/v1/returns?order_id={}", stored["id"].as_str().unwrap())).await;
        assert_eq!(again.body["data"].as_array().unwrap().len(), 1, "a refund applies once per shop refund id");
        assert_eq!(app.get(&format!("/v1/invoices/{invoice}")).await.body["credited"], eur(807));

        let stray = shop.expect(&app, "refunds/create", "r3", &shopify_refund(929_361_999, 999_999_999), "ignored").await;
        assert_eq!(stray["order_id"], Value::Null, "a refund of an order never stored");
        assert_eq!(shop.statuses(&app).await, ["ignored", "unchanged", "applied", "applied"]);
    }

    async fn a_signed_woocommerce_order_is_stored_once_to_the_cent(app: TestApp) {
        let mug = Product::new("WOO-MUG", 1000, 400).ensure(&app).await;
        let shop = connect(&app, "woocommerce", "woo-es", "shop.example.com").await;
        let ping = app.post_raw(&shop.path(), "application/x-www-form-urlencoded", b"webhook_id=12".to_vec(), &[]).await;
        assert_eq!(ping.status, 200, "{}", ping.text);
        assert_eq!(ping.body["status"], "ping");
        assert_eq!(shop.ingestions(&app).await.len(), 0, "a ping is not logged");

        let created = woo_order("processing", "2026-03-02T09:31:10");
        let answer = shop.expect(&app, "order.created", "a3f1c2d4e5b6978812ab34cd56ef7890", &created, "applied").await;
        assert_eq!(answer["unknown_skus"], json!(["WOO-TEE-XL"]));
        let stored = order(&app, &answer).await;
        assert_eq!((&stored["channel"], &stored["external_id"], &stored["shop_number"]), (&json!("woo-es"), &json!(WOO_ORDER_ID.to_string()), &json!("4127")));
        assert_eq!((&stored["connection_id"], &stored["status"], &stored["prices_include_tax"]), (&json!(shop.id), &json!("paid"), &json!(false)));
        assert_eq!(stored["totals"]["total"], eur(3745), "the shop's total, to the cent");
        assert_eq!((&stored["totals"]["tax"], &stored["totals"]["discount"]), (&eur(650), &eur(600)));
        assert_eq!(kinds(&stored), ["fee", "product", "product", "shipping"]);
        let mugs = line_with_sku(&stored, "WOO-MUG");
        assert_eq!((&mugs["product_id"], &mugs["unit_price"], &mugs["discount"]), (&json!(mug), &eur(1000), &eur(400)));
        assert_eq!(line_with_sku(&stored, "WOO-TEE-XL")["product_id"], Value::Null);
        assert_eq!((&line_of_kind(&stored, "fee")["description"], &line_of_kind(&stored, "fee")["gross"]), (&json!("Envoltorio regalo"), &eur(200)));
        assert_eq!(line_of_kind(&stored, "shipping")["gross"], eur(495));
        let contact = app.get(&format!("/v1/contacts/{}", stored["contact_id"].as_str().unwrap())).await.body;
        assert_eq!((&contact["email"], &contact["lifecycle_stage"]), (&json!("lucia@example.es"), &json!("customer")));

        let bytes = serde_json::to_vec(&woo_order("processing", "2026-03-02T09:40:00")).unwrap();
        let signature = sign(&shop.secret, &bytes);
        let tampered = String::from_utf8(bytes).unwrap().replace("\"37.45\"", "\"3.74\"");
        assert_unauthorized(&shop.post(&app, "order.updated", "tampered-1", tampered.into_bytes(), Some(signature)).await, "tampered");
        assert_eq!(shop.ingestions(&app).await.len(), 1, "a refused signature is not logged");

        let version = stored["version"].clone();
        shop.expect(&app, "order.created", "a3f1c2d4e5b6978812ab34cd56ef7890", &created, "duplicate").await;
        shop.expect(&app, "order.updated", "b7e2d3c4f5a6071829bc45de67fa8901", &created, "unchanged").await;
        shop.expect(&app, "order.updated", "c8f3e4d5a6b7182930cd56ef78ab9012", &woo_order("completed", "2026-03-02T09:31:00"), "stale").await;
        let now = order(&app, &answer).await;
        assert_eq!((&now["version"], &now["status"]), (&version, &json!("paid")));
        shop.expect(&app, "order.updated", "d9a4f5e6b7c8293041de67fa89bc0123", &woo_order("completed", "2026-03-04T08:00:00"), "applied").await;
        assert_eq!(order(&app, &answer).await["status"], "fulfilled");
        let deleted = shop.expect(&app, "order.deleted", "e0b5a6f7c8d9304152ef78ab90cd1234", &json!({"id": WOO_ORDER_ID}), "ignored").await;
        assert_eq!(deleted["order_id"], Value::Null);
        assert_eq!(order(&app, &answer).await["status"], "fulfilled");
        assert_eq!(shop.statuses(&app).await, ["ignored", "applied", "stale", "unchanged", "duplicate", "applied"]);
        assert_eq!(orders_of(&app, "woo-es").await.len(), 1);
    }

    async fn a_secret_opens_only_its_own_connection(app: TestApp) {
        let madrid = connect(&app, "shopify", "shopify-es", "demo.myshopify.com").await;
        let lisboa = connect(&app, "shopify", "shopify-pt", "demo-pt.myshopify.com").await;
        let woo = connect(&app, "woocommerce", "woo-es", "shop.example.com").await;
        let payload = shopify_order(SHOPIFY_ORDER_ID, "2026-03-02T10:16:30+01:00");
        let refused = [
            ("another connection's secret", Shop { secret: lisboa.secret.clone(), ..madrid.clone() }),
            ("another shop's domain", Shop { origin: lisboa.origin.clone(), ..madrid.clone() }),
            ("an unknown connection", Shop { id: uuid::Uuid::now_v7().to_string(), ..madrid.clone() }),
        ];
        for (what, shop) in &refused {
            assert_unauthorized(&shop.deliver(&app, "orders/create", "x1", &payload).await, what);
        }
        let woo_payload = woo_order("processing", "2026-03-02T09:31:10");
        let wrong_site = Shop { origin: "https://evil.example.com/".into(), ..woo.clone() };
        assert_unauthorized(&wrong_site.deliver(&app, "order.created", "x2", &woo_payload).await, "another site");
        let madrids_secret = Shop { secret: madrid.secret.clone(), ..woo.clone() };
        assert_unauthorized(&madrids_secret.deliver(&app, "order.created", "x3", &woo_payload).await, "a Shopify secret on WooCommerce");
        for shop in [&madrid, &lisboa, &woo] {
            assert_eq!(shop.ingestions(&app).await.len(), 0, "nothing was logged");
        }
        assert_eq!(app.get("/v1/orders").await.body["data"].as_array().unwrap().len(), 0, "nor stored");

        let without_slash = Shop { origin: "https://shop.example.com".into(), ..woo.clone() };
        without_slash.expect(&app, "order.created", "x4", &woo_payload, "applied").await;
        let r = app.patch(&format!("{CONNECTIONS}/{}", madrid.id), json!({"secret": "shpss_rotated_0f9e8d7c"})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_unauthorized(&madrid.deliver(&app, "orders/create", "x5", &payload).await, "the secret before the change");
        let rotated = Shop { secret: "shpss_rotated_0f9e8d7c".into(), ..madrid.clone() };
        rotated.expect(&app, "orders/create", "x6", &payload, "applied").await;
        assert_eq!(app.delete(&format!("{CONNECTIONS}/{}", lisboa.id)).await.status, 204);
        assert_unauthorized(&lisboa.deliver(&app, "orders/create", "x7", &payload).await, "a deleted connection");
    }
}

/// Posts a signed Shopify delivery to one node of a shared database.
async fn deliver_to(
    client: &reqwest::Client,
    base: &str,
    connection_id: &str,
    secret: &str,
    topic: &str,
    delivery_id: &str,
    body: &Value,
) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let response = client
        .post(format!(
            "{base}/v1/integrations/shopify/{connection_id}/webhooks"
        ))
        .header("content-type", "application/json")
        .header("X-Shopify-Hmac-Sha256", sign(secret, &bytes))
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Webhook-Id", delivery_id)
        .header("X-Shopify-Shop-Domain", "demo.myshopify.com")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Shops retry, and a load balancer may hand the retry to another node while the first is
/// still at work: on two processes, one delivery id applies once, one order is stored once,
/// and one refund makes one return, whichever node each copy reaches.
#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn copies_of_a_webhook_at_two_processes_apply_once() {
    use crate::nodes::{send, SharedDatabase, TwoNodes};
    use futures_util::stream::{self, StreamExt};
    let db = SharedDatabase::create();
    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes();
    let secret = "a shared shop secret";
    let created = send(
        &client,
        Method::POST,
        format!("{base_a}{CONNECTIONS}"),
        &token,
        Some(
            json!({"platform": "shopify", "name": "Race", "channel": "shopify-race",
            "secret": secret, "shop_domain": "demo.myshopify.com"}),
        ),
        &[],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let connection = created.body["id"].as_str().unwrap().to_owned();
    const ORDERS: u64 = 12;
    let order_ids: Vec<u64> = (0..ORDERS).map(|i| SHOPIFY_ORDER_ID + i).collect();

    // Each order twice with one delivery id, and twice more with an id per node, all at once.
    let deliveries: Vec<(String, u64, String)> = order_ids
        .iter()
        .flat_map(|&id| {
            [
                (base_a.clone(), id, format!("same-{id}")),
                (base_b.clone(), id, format!("same-{id}")),
                (base_a.clone(), id, format!("a-{id}")),
                (base_b.clone(), id, format!("b-{id}")),
            ]
        })
        .collect();
    let answers: Vec<(u64, String, u16, Value)> = stream::iter(deliveries)
        .map(|(base, id, delivery)| {
            let (client, connection) = (&client, &connection);
            async move {
                let body = shopify_order(id, "2026-03-02T10:16:30+01:00");
                let (status, answer) = deliver_to(
                    client,
                    &base,
                    connection,
                    secret,
                    "orders/create",
                    &delivery,
                    &body,
                )
                .await;
                (id, delivery, status, answer)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for id in &order_ids {
        let of_order: Vec<&(u64, String, u16, Value)> =
            answers.iter().filter(|(i, ..)| i == id).collect();
        assert!(
            of_order.iter().all(|(_, _, status, _)| *status == 200),
            "{of_order:?}"
        );
        let statuses = |prefix: &str| -> Vec<String> {
            let mut s: Vec<String> = of_order
                .iter()
                .filter(|(_, d, ..)| d.starts_with(prefix))
                .map(|(.., a)| a["status"].as_str().unwrap().to_owned())
                .collect();
            s.sort();
            s
        };
        let applied: usize = of_order
            .iter()
            .filter(|(.., a)| a["status"] == "applied")
            .count();
        assert_eq!(
            applied, 1,
            "one of four copies of order {id} applies: {of_order:?}"
        );
        let same = statuses("same-");
        assert!(
            same == ["applied", "duplicate"] || same == ["duplicate", "unchanged"],
            "one delivery id is taken once: {of_order:?}"
        );
    }
    let orders = send(
        &client,
        Method::GET,
        format!("{base_b}/v1/orders?channel=shopify-race&limit=100"),
        &token,
        None,
        &[],
    )
    .await;
    assert_eq!(
        orders.body["data"].as_array().unwrap().len(),
        ORDERS as usize,
        "one order per shop order"
    );

    // One refund of each order, in two deliveries at once, one per node.
    let refunds: Vec<(String, u64, String)> = order_ids
        .iter()
        .flat_map(|&id| {
            [
                (base_a.clone(), id, format!("refund-a-{id}")),
                (base_b.clone(), id, format!("refund-b-{id}")),
            ]
        })
        .collect();
    let refunded: Vec<(u64, u16, Value)> = stream::iter(refunds)
        .map(|(base, id, delivery)| {
            let (client, connection) = (&client, &connection);
            async move {
                let body = shopify_refund(900_000 + id, id);
                let (status, answer) = deliver_to(
                    client,
                    &base,
                    connection,
                    secret,
                    "refunds/create",
                    &delivery,
                    &body,
                )
                .await;
                (id, status, answer)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for id in &order_ids {
        let mut statuses: Vec<String> = refunded
            .iter()
            .filter(|(i, ..)| i == id)
            .map(|(_, status, answer)| {
                assert_eq!(*status, 200, "{answer}");
                answer["status"].as_str().unwrap().to_owned()
            })
            .collect();
        statuses.sort();
        assert_eq!(
            statuses,
            ["applied", "unchanged"],
            "refund of order {id} applies once"
        );
        let order_id = answers
            .iter()
            .find(|(i, .., a)| i == id && a["status"] == "applied")
            .unwrap()
            .3["order_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let returns = send(
            &client,
            Method::GET,
            format!("{base_a}/v1/returns?order_id={order_id}"),
            &token,
            None,
            &[],
        )
        .await;
        assert_eq!(
            returns.body["data"].as_array().unwrap().len(),
            1,
            "one return per shop refund"
        );
    }
}
