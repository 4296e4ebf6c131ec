//! The records black-box tests build on, as builders. Test files take them from here and write
//! none of their own, so that a change of the API's shape is fixed in one place.

use chrono::{DateTime, Duration, Utc};
use crm_domain::access::roles::Role;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{Response, TestApp};

/// An amount in minor units of `currency`.
pub fn money(amount_minor: i64, currency: &str) -> Value {
    json!({"amount_minor": amount_minor, "currency": currency})
}

pub fn eur(amount_minor: i64) -> Value {
    money(amount_minor, "EUR")
}

/// Where admins run the maintenance loop now.
pub const MAINTENANCE_RUN: &str = "/v1/admin/maintenance/run";

/// The events of `events` (a case's log) of type `kind`.
pub fn events_of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// `text` percent-encoded as a query value.
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `id` of a response body.
pub fn id_of(body: &Value) -> String {
    body["id"].as_str().expect("a body with an id").to_owned()
}

/// A catalogue product at 21% VAT.
pub struct Product {
    body: Value,
}

impl Product {
    /// Sells at `price` and costs `cost`, in EUR minor units.
    pub fn new(sku: &str, price: i64, cost: i64) -> Self {
        Product {
            body: json!({"sku": sku, "name": format!("Product {sku}"), "unit_price": eur(price), "unit_cost": eur(cost), "tax_rate_bp": 2100}),
        }
    }

    /// Without a known cost.
    pub fn without_cost(mut self) -> Self {
        if let Some(body) = self.body.as_object_mut() {
            body.remove("unit_cost");
        }
        self
    }

    /// Creates it, or finds it when its SKU exists; returns its id.
    pub async fn ensure(self, app: &TestApp) -> String {
        let r = app.post("/v1/products", self.body).await;
        match r.status.as_u16() {
            201 => id_of(&r.body),
            409 => r.body["existing_id"].as_str().unwrap().to_owned(),
            status => panic!("product: {status} {}", r.text),
        }
    }
}

/// An order pushed by a shop (`PUT /v1/orders/by-external-id/shop/{external_id}`): by default
/// paid, placed now, in EUR, for a customer with the email `{external_id}@example.com`, with no
/// lines until some are added.
pub struct Order {
    external_id: String,
    body: Value,
}

impl Order {
    pub fn new(external_id: &str) -> Self {
        Order {
            external_id: external_id.to_owned(),
            body: json!({"ordered_at": Utc::now().to_rfc3339(), "currency": "EUR", "status": "paid",
                "customer": {"email": format!("{external_id}@example.com")}, "lines": []}),
        }
    }

    fn set(mut self, field: &str, value: Value) -> Self {
        self.body[field] = value;
        self
    }

    pub fn company(self, company_id: &str) -> Self {
        self.set("company_id", json!(company_id))
    }

    pub fn salesperson(self, user_id: &str) -> Self {
        self.set("salesperson_id", json!(user_id))
    }

    pub fn status(self, status: &str) -> Self {
        self.set("status", json!(status))
    }

    pub fn currency(self, currency: &str) -> Self {
        self.set("currency", json!(currency))
    }

    pub fn ordered_at(self, at: DateTime<Utc>) -> Self {
        self.set("ordered_at", json!(at.to_rfc3339()))
    }

    pub fn custom_fields(self, values: Value) -> Self {
        self.set("custom_fields", values)
    }

    pub fn days_ago(self, days: i64) -> Self {
        self.ordered_at(Utc::now() - Duration::days(days))
    }

    /// `quantity` of `sku` at `price` (minor units of the order's currency) and 21% VAT.
    pub fn line(self, sku: &str, quantity: &str, price: i64) -> Self {
        let currency = self.body["currency"].as_str().unwrap_or("EUR").to_owned();
        self.line_with(json!({"sku": sku, "quantity": quantity, "unit_price": money(price, &currency), "tax_rate_bp": 2100}))
    }

    /// A line as the API takes it, for fields the other builders do not set.
    pub fn line_with(mut self, line: Value) -> Self {
        if let Some(lines) = self.body["lines"].as_array_mut() {
            lines.push(line);
        }
        self
    }

    /// The body as it would be sent.
    pub fn body(&self) -> &Value {
        &self.body
    }

    /// Pushes it and returns the response, whatever its status.
    pub async fn send(self, app: &TestApp) -> Response {
        app.request(
            Method::PUT,
            &format!("/v1/orders/by-external-id/shop/{}", self.external_id),
            Some(&app.admin_token.clone()),
            Some(self.body),
            &[],
        )
        .await
    }

    /// Pushes it, asserting that it was stored; returns the order.
    pub async fn push(self, app: &TestApp) -> Value {
        let r = self.send(app).await;
        assert!(r.status.is_success(), "order: {} {}", r.status, r.text);
        r.body
    }
}

impl TestApp {
    /// Creates a contact who has granted email consent (`POST .../consents`, source `form`);
    /// the contact as read after the grant.
    pub async fn consenting_contact(&self, body: Value) -> Value {
        let id = self.create("/v1/contacts", body).await["id"]
            .as_str()
            .expect("an id")
            .to_owned();
        let granted = self
            .post(
                &format!("/v1/contacts/{id}/consents"),
                json!({"channel": "email", "status": "granted", "source": "form"}),
            )
            .await;
        assert_eq!(granted.status, 201, "{}", granted.text);
        self.get(&format!("/v1/contacts/{id}")).await.body
    }

    /// Runs the maintenance loop once (`POST /v1/admin/maintenance/run`); what it did.
    pub async fn run_maintenance(&self) -> Value {
        let r = self.act(MAINTENANCE_RUN).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    /// A case's event log, oldest first.
    pub async fn case_events(&self, id: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/cases/{id}/events")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body["data"].as_array().expect("a list").clone()
    }

    /// Sets the service clock to `now` (RFC 3339, UTC) and stops it there.
    pub async fn freeze_clock(&self, now: &str) {
        let r = self
            .request(
                Method::PUT,
                "/v1/admin/clock",
                Some(self.admin_token.as_str()),
                Some(json!({"now": now})),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "{now}: {}", r.text);
        assert_eq!(
            (&r.body["now"], &r.body["frozen"]),
            (&json!(now), &json!(true))
        );
    }

    /// Sets our fiscal data, which issuing an invoice needs.
    pub async fn configure_issuer(&self) {
        let r = self
            .patch("/v1/settings/company", json!({"legal_name": "Nuestra Empresa SL", "tax_id": "ESB00000000", "address": {"city": "Madrid", "country": "ES"}}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// A company; `extra` adds or overrides fields of `{"name": name}`.
    pub async fn company(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        self.create("/v1/companies", body).await
    }

    /// An issued invoice of `order` for `company_id`; returns its id. Needs the issuer set.
    pub async fn issued_invoice(&self, company_id: &str, order: &Value) -> String {
        let invoice = id_of(
            &self
                .create(
                    "/v1/invoices",
                    json!({"company_id": company_id, "order_ids": [order["id"]]}),
                )
                .await,
        );
        let issued = self.act(&format!("/v1/invoices/{invoice}/issue")).await;
        assert_eq!(issued.status, 200, "{}", issued.text);
        invoice
    }

    /// A sent quote of two units at 9.00 EUR and 21%; returns its id.
    pub async fn sent_quote(&self, company_id: &str, description: &str) -> String {
        let quote = id_of(&self.create("/v1/quotes", json!({"company_id": company_id, "currency": "EUR",
            "lines": [{"description": description, "quantity": "2", "unit_price": eur(900), "tax_rate_bp": 2100}]})).await);
        let sent = self.act(&format!("/v1/quotes/{quote}/send")).await;
        assert_eq!(sent.status, 200, "{}", sent.text);
        quote
    }

    /// A return of one unit of `order`'s first line; returns its id.
    pub async fn returned_unit(&self, order: &Value, reason: &str) -> String {
        id_of(&self.create("/v1/returns", json!({"order_id": order["id"],
            "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": "1", "reason": reason}]})).await)
    }

    /// A portal user of `company_id`, logged in; returns its access token.
    pub async fn portal_user(&self, company_id: &str) -> String {
        self.token_for(Role::Customer, Some(company_id.to_owned()))
            .await
    }

    /// A POST without a body, as the bootstrap admin: the state actions.
    pub async fn act(&self, path: &str) -> Response {
        self.act_with(path, None).await
    }

    pub async fn act_with(&self, path: &str, body: Option<Value>) -> Response {
        self.request(
            Method::POST,
            path,
            Some(&self.admin_token.clone()),
            body,
            &[],
        )
        .await
    }

    /// As `token`.
    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.request(Method::GET, path, Some(token), None, &[])
            .await
    }
}
