//! The ledger's cross-document rules, one test per way it was found broken (issue 14's
//! examples); the races among them are in races.rs.
use crm_domain::access::roles::Role;
use crm_store::platform::db::write_transaction;
use crm_tests::{eur, id_of, on_both_backends, Backend, Order, Product, TestApp};
use diesel::RunQueryDsl;
use serde_json::{json, Value};

/// A company with a paid order of 2 × 10.00 EUR at 21%, invoiced and issued: (company, order,
/// invoice).
async fn invoiced_order(app: &TestApp, external_id: &str) -> (String, Value, String) {
    app.configure_issuer().await;
    Product::new("LED-1", 1000, 400).ensure(app).await;
    let company = id_of(&app.company(&format!("Ledger {external_id}"), json!({"tax_id": "ESB11111111", "billing_address": {"city": "Bilbao", "country": "ES"}})).await);
    let order = Order::new(external_id)
        .company(&company)
        .line("LED-1", "2", 1000)
        .push(app)
        .await;
    let invoice = app.issued_invoice(&company, &order).await;
    (company, order, invoice)
}

/// Runs `sql` as the database owner, outside the API; whether the database took it.
fn raw(app: &TestApp, sql: &str) -> Result<usize, diesel::result::Error> {
    let mut conn = app.pool.get().unwrap();
    write_transaction(&mut conn, |conn| diesel::sql_query(sql).execute(conn))
}

/// One unit of `order`'s first line returned, received with `disposition` and refunded less
/// a restocking fee of `fee` (tax included); returns the resolved return.
async fn refunded_unit(app: &TestApp, order: &Value, disposition: &str, fee: i64) -> Value {
    let ret = app.returned_unit(order, "damaged").await;
    let line = app.get(&format!("/v1/returns/{ret}")).await.body["lines"][0]["id"].clone();
    for (action, body) in [
        ("approve", None),
        (
            "receive",
            Some(
                json!({"lines": [{"return_line_id": line, "quantity": "1", "disposition": disposition}]}),
            ),
        ),
    ] {
        let r = app
            .act_with(&format!("/v1/returns/{ret}/{action}"), body)
            .await;
        assert_eq!(r.status, 200, "{action}: {}", r.text);
    }
    let r = app.patch(&format!("/v1/returns/{ret}"), json!({"root_cause": {"category": "packaging", "notes": "Crushed", "preventive_action": "Boxes"}})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .act_with(
            &format!("/v1/returns/{ret}/resolve"),
            Some(json!({"resolution": "refund", "restocking_fee": eur(fee)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

on_both_backends! {
    async fn an_invoiced_order_is_not_cancelled(app: TestApp) {
        let (_, order, invoice) = invoiced_order(&app, "LED-CANCEL").await;
        let r = app.act(&format!("/v1/orders/{}/cancel", id_of(&order))).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.body["existing_id"], invoice.as_str(), "it names the invoice: {}", r.text);
        assert!(r.text.contains("credit it"), "and says what to do: {}", r.text);
        let pushed = Order::new("LED-CANCEL").status("cancelled").line("LED-1", "2", 1000).send(&app).await;
        assert_eq!(pushed.status, 409, "nor by a push: {}", pushed.text);
        assert_eq!(app.get(&format!("/v1/orders/{}", id_of(&order))).await.body["status"], "paid");
    }

    async fn a_push_may_not_change_the_lines_of_an_invoiced_order(app: TestApp) {
        let (_, order, _) = invoiced_order(&app, "LED-PUSH").await;
        let changed = Order::new("LED-PUSH").line("LED-1", "3", 1000).send(&app).await;
        assert_eq!(changed.status, 409, "{}", changed.text);
        assert!(changed.text.contains("invoice"), "it says why: {}", changed.text);
        let fulfilled = Order::new("LED-PUSH").status("fulfilled").line("LED-1", "2", 1000).send(&app).await;
        assert_eq!(fulfilled.status, 200, "a status change applies: {}", fulfilled.text);
        assert_eq!(fulfilled.body["status"], "fulfilled");
        assert_eq!(fulfilled.body["lines"][0]["id"], order["lines"][0]["id"], "the invoiced line stays");
        let back = Order::new("LED-PUSH").status("pending").line("LED-1", "2", 1000).send(&app).await;
        assert_eq!(back.status, 409, "a status never goes back: {}", back.text);
    }

    async fn a_repush_keeps_the_cost_of_unchanged_lines(app: TestApp) {
        let product = Product::new("LED-COST", 1000, 400).ensure(&app).await;
        let order = Order::new("LED-COST").status("pending").line("LED-COST", "1", 1000).push(&app).await;
        let r = app.patch(&format!("/v1/products/{product}"), json!({"unit_cost": eur(700)})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let paid = Order::new("LED-COST").status("paid").line("LED-COST", "1", 1000).push(&app).await;
        assert_eq!(paid["lines"][0]["unit_cost"], order["lines"][0]["unit_cost"], "January's cost, not today's");
        assert_eq!(paid["lines"][0]["unit_cost"], eur(400));
    }

    #[smoke]
    async fn a_credit_note_credits_the_invoices_own_lines_and_no_more(app: TestApp) {
        let company = id_of(&app.company("Rates SL", json!({"tax_id": "ESB22222222", "billing_address": {"city": "Vigo", "country": "ES"}})).await);
        app.configure_issuer().await;
        let draft = app.create("/v1/invoices", json!({"company_id": company, "currency": "EUR",
            "lines": [{"description": "Service", "quantity": "1", "unit_price": eur(10000), "tax_rate_bp": 2100}]})).await;
        let invoice = id_of(&draft);
        let issued_invoice = app.act(&format!("/v1/invoices/{invoice}/issue")).await;
        assert_eq!(issued_invoice.status, 200);
        assert_eq!(issued_invoice.body["chain_format"], 3);
        let line = issued_invoice.body["lines"][0]["id"].clone();
        // A free line of 121.00 at 0% cannot be written: a credit line names the invoiced line,
        // whose description and rate it takes, and never prices above it.
        let at_zero = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "wrong rate",
            "lines": [{"description": "Service", "quantity": "1", "unit_price": eur(12100), "tax_rate_bp": 0}]})).await;
        assert_eq!(at_zero.status, 422, "{}", at_zero.text);
        let dearer = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "wrong rate",
            "lines": [{"invoice_line_id": line, "quantity": "1", "unit_price": eur(12100)}]})).await;
        assert_eq!(dearer.status, 422, "{}", dearer.text);
        assert_eq!(dearer.body["errors"][0]["field"], "lines[0].unit_price");
        let other_currency = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "x",
            "lines": [{"invoice_line_id": line, "quantity": "1", "unit_price": {"amount_minor": 100, "currency": "USD"}}]})).await;
        assert_eq!(other_currency.body["errors"][0]["field"], "lines[0].unit_price.currency", "the original's currency");
        let half = json!({"reason": "half", "lines": [{"invoice_line_id": line, "quantity": "1", "unit_price": eur(5000)}]});
        for _ in 0..2 {
            let note = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), half.clone()).await;
            assert_eq!(note.status, 201, "{}", note.text);
            let issued = app.act(&format!("/v1/invoices/{}/issue", id_of(&note.body))).await;
            assert_eq!(issued.status, 200, "{}", issued.text);
            assert_eq!(issued.body["corrects_number"], issued_invoice.body["number"], "it prints the original's number");
        }
        let credited = app.get(&format!("/v1/invoices/{invoice}")).await;
        assert_eq!(credited.body["credited"], eur(12100));
        assert_eq!(credited.body["status"], "credited", "fully credited and unpaid is not paid");
        let more = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), half).await;
        assert!(more.status == 422 || more.status == 409, "nothing is left: {}", more.text);
        let notes = app.get("/v1/invoices?kind=credit_note&limit=100").await.body["data"].as_array().unwrap().clone();
        assert!(notes.iter().all(|n| n["lines"][0]["credits_line_id"] == line), "each names the line it credits");
    }

    async fn two_series_never_share_a_prefix(app: TestApp) {
        let first = app.post("/v1/invoice-series", json!({"code": "EXP", "prefix": "EX", "kind": "invoice"})).await;
        assert_eq!(first.status, 201, "{}", first.text);
        for kind in ["invoice", "credit_note"] {
            let second = app.post("/v1/invoice-series", json!({"code": format!("EXP-{kind}"), "prefix": "EX", "kind": kind})).await;
            assert_eq!(second.status, 409, "{kind}: {}", second.text);
            assert_eq!(second.body["existing_id"], first.body["id"]);
        }
    }

    async fn a_customer_never_reads_its_tier_owner_or_preferences(app: TestApp) {
        let company = app.company("Portal Tiered", json!({"preferences": {"channel": "phone"}})).await;
        let id = id_of(&company);
        let token = app.portal_user(&id).await;
        for path in [format!("/v1/companies/{id}"), "/v1/companies".to_owned()] {
            let r = app.get_as(&token, &path).await;
            assert_eq!(r.status, 403, "{path}: {}", r.text);
        }
        let own = app.get_as(&token, "/v1/portal/fiscal-data").await;
        assert_eq!(own.status, 200, "{}", own.text);
        assert_eq!(own.body["name"], "Portal Tiered");
        for internal in ["tier", "tier_basis_year", "owner_id", "preferences"] {
            assert!(own.body.get(internal).is_none(), "{internal} shown: {}", own.text);
        }
    }

    async fn the_database_refuses_to_change_an_issued_invoice(app: TestApp) {
        let (_, _, invoice) = invoiced_order(&app, "LED-SQL").await;
        let issued = app.get(&format!("/v1/invoices/{invoice}")).await.body;
        for sql in [
            format!("UPDATE invoices SET total_minor = 1 WHERE id = '{invoice}'"),
            format!("UPDATE invoices SET number = 'F-1999-000001' WHERE id = '{invoice}'"),
            format!("UPDATE invoices SET notes = 'rewritten' WHERE id = '{invoice}'"),
            format!("UPDATE invoices SET hash = 'x' WHERE id = '{invoice}'"),
            format!("UPDATE invoices SET status = 'draft' WHERE id = '{invoice}'"),
            format!("DELETE FROM invoices WHERE id = '{invoice}'"),
            format!("UPDATE invoice_lines SET net_minor = 1 WHERE invoice_id = '{invoice}'"),
            format!("DELETE FROM invoice_lines WHERE invoice_id = '{invoice}'"),
            format!("INSERT INTO invoice_lines (id, invoice_id, position, is_credit, description, quantity_milli, unit_price_minor, discount_bp, tax_rate_bp, gross_minor, discount_minor, net_minor, released)
                     VALUES ('extra', '{invoice}', 9, {f}, 'Extra', 1000, 1, 0, 0, 1, 0, 1, {f})", f = if app.backend == Backend::Sqlite { "0" } else { "false" }),
        ] {
            let refused = raw(&app, &sql);
            assert!(refused.is_err(), "the database took: {sql}");
        }
        assert_eq!(raw(&app, &format!("UPDATE invoices SET paid_minor = 100, version = version + 1 WHERE id = '{invoice}'")).unwrap(), 1, "a derived column may change");
        let after = app.get(&format!("/v1/invoices/{invoice}")).await.body;
        for printed in ["number", "issue_date", "totals", "lines", "issuer", "recipient", "hash"] {
            assert_eq!(after[printed], issued[printed], "{printed}");
        }
    }

    async fn the_issue_date_is_the_day_in_our_fiscal_time_zone(app: TestApp) {
        app.configure_issuer().await;
        assert_eq!(app.get("/v1/settings/company").await.body["fiscal_time_zone"], "Europe/Madrid");
        let refused = app.patch("/v1/settings/company", json!({"fiscal_time_zone": "Mars/Olympus"})).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "fiscal_time_zone");
        let company = id_of(&app.company("Zoned SL", json!({})).await);
        // Fixed offsets, no daylight saving: a day ahead of UTC and a day behind for part of it.
        for (zone, hours) in [("Pacific/Kiritimati", 14), ("Pacific/Pago_Pago", -11)] {
            let r = app.patch("/v1/settings/company", json!({"fiscal_time_zone": zone})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let draft = app.create("/v1/invoices", json!({"company_id": company, "currency": "EUR",
                "lines": [{"description": "Zoned", "quantity": "1", "unit_price": eur(1000), "tax_rate_bp": 2100}]})).await;
            let offset = chrono::FixedOffset::east_opt(hours * 3600).unwrap();
            let before = chrono::Utc::now().with_timezone(&offset).date_naive();
            let issued = app.act(&format!("/v1/invoices/{}/issue", id_of(&draft))).await;
            let after = chrono::Utc::now().with_timezone(&offset).date_naive();
            assert_eq!(issued.status, 200, "{}", issued.text);
            let day: chrono::NaiveDate = issued.body["issue_date"].as_str().unwrap().parse().unwrap();
            assert!(day == before || day == after, "{zone}: dated {day}, the zone's day is {before}");
            let year = day.format("-%Y-").to_string();
            assert!(issued.body["number"].as_str().unwrap().contains(&year), "numbered in the zone's year");
        }
    }

    async fn an_invoice_prints_what_article_226_asks(app: TestApp) {
        app.configure_issuer().await;
        let untaxed = id_of(&app.company("Sin NIF SL", json!({})).await);
        let draft = |company: &str, rate: i64, extra: Value| {
            let mut body = json!({"company_id": company, "currency": "EUR",
                "lines": [{"description": "Export", "quantity": "1", "unit_price": eur(10000), "tax_rate_bp": rate}]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            body
        };
        let zero = id_of(&app.create("/v1/invoices", draft(&untaxed, 0, json!({}))).await);
        let refused = app.act(&format!("/v1/invoices/{zero}/issue")).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "exemption_reason");
        let reason = "Exento, art. 21 LIVA (exportación)";
        assert_eq!(app.patch(&format!("/v1/invoices/{zero}"), json!({"exemption_reason": reason})).await.status, 200);
        let issued = app.act(&format!("/v1/invoices/{zero}/issue")).await;
        assert_eq!(issued.status, 200, "{}", issued.text);
        assert_eq!(issued.body["exemption_reason"], reason, "printed");

        let reverse = id_of(&app.create("/v1/invoices", draft(&untaxed, 0, json!({"reverse_charge": true}))).await);
        let refused = app.act(&format!("/v1/invoices/{reverse}/issue")).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.body["errors"][0]["field"], "recipient.tax_id", "art. 226(4)");
        assert_eq!(app.patch(&format!("/v1/companies/{untaxed}"), json!({"tax_id": "DE123456789"})).await.status, 200);
        let issued = app.act(&format!("/v1/invoices/{reverse}/issue")).await;
        assert_eq!(issued.status, 200, "{}", issued.text);
        assert!(issued.body["legal_mentions"].as_array().unwrap().contains(&json!("Reverse charge")));
        let taxed_reverse = id_of(&app.create("/v1/invoices", draft(&untaxed, 2100, json!({"reverse_charge": true}))).await);
        assert_eq!(app.act(&format!("/v1/invoices/{taxed_reverse}/issue")).await.body["errors"][0]["field"], "lines");

        let today = chrono::Utc::now().date_naive();
        let earlier = (today - chrono::Days::new(40)).to_string();
        let supplied = id_of(&app.create("/v1/invoices", draft(&untaxed, 2100, json!({"supply_date": earlier}))).await);
        let issued = app.act(&format!("/v1/invoices/{supplied}/issue")).await;
        assert_eq!(issued.body["supply_date"], earlier.as_str(), "stored when it differs from the issue date");
        let same_day = issued.body["issue_date"].clone();
        let plain = id_of(&app.create("/v1/invoices", draft(&untaxed, 2100, json!({"supply_date": same_day}))).await);
        assert_eq!(app.act(&format!("/v1/invoices/{plain}/issue")).await.body["supply_date"], Value::Null, "not printed twice");
    }

    async fn a_restocked_refund_gives_back_its_cost_and_a_scrapped_one_does_not(app: TestApp) {
        app.configure_issuer().await;
        Product::new("LED-STOCK", 1000, 400).ensure(&app).await;
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let mut profits = Vec::new();
        for disposition in ["restock", "scrap"] {
            let company = id_of(&app.company(&format!("Stock {disposition}"), json!({"tax_id": "ESB3", "billing_address": {"city": "León", "country": "ES"}})).await);
            let order = Order::new(&format!("LED-{disposition}")).company(&company).status("fulfilled").line("LED-STOCK", "2", 1000).push(&app).await;
            app.issued_invoice(&company, &order).await;
            let ret = app.returned_unit(&order, "damaged").await;
            let line = app.get(&format!("/v1/returns/{ret}")).await.body["lines"][0]["id"].clone();
            for (action, body) in [("approve", None), ("receive", Some(json!({"lines": [{"return_line_id": line, "quantity": "1", "disposition": disposition}]})))] {
                let r = app.act_with(&format!("/v1/returns/{ret}/{action}"), body).await;
                assert_eq!(r.status, 200, "{action}: {}", r.text);
            }
            let r = app.patch(&format!("/v1/returns/{ret}"), json!({"root_cause": {"category": "packaging", "notes": "Crushed", "preventive_action": "Boxes"}})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = app.act_with(&format!("/v1/returns/{ret}/resolve"), Some(json!({"resolution": "refund"}))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let profit = app.get(&format!("/v1/analytics/customers/{company}/profit?from={month}&to={month}")).await;
            assert_eq!(profit.status, 200, "{}", profit.text);
            profits.push(profit.body["periods"][0]["gross_profit"]["amount_minor"].as_i64().unwrap());
        }
        // Sold 2 at 10.00 costing 4.00, one refunded (10.00 net): kept one unit.
        assert_eq!(profits, [2000 - 800 + 400 - 1000, 2000 - 800 - 1000], "restock gives back 4.00 of cost; scrap is a loss");
        let mut conn = app.pool.get().unwrap();
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap(),
            "the maintained rollups equal a rebuild"
        );
    }

    async fn a_concession_on_an_invoiced_order_is_credited_and_counted_net_of_tax(app: TestApp) {
        app.configure_issuer().await;
        Product::new("LED-KEEP", 1000, 400).ensure(&app).await;
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        for invoiced in [true, false] {
            let company = id_of(&app.company(&format!("Keeper {invoiced}"), json!({"tax_id": "ESB4", "billing_address": {"city": "Cádiz", "country": "ES"}})).await);
            let order = Order::new(&format!("LED-KEEP-{invoiced}")).company(&company).status("fulfilled").line("LED-KEEP", "2", 1000).push(&app).await;
            let invoice = if invoiced { Some(app.issued_invoice(&company, &order).await) } else { None };
            let ret = app.returned_unit(&order, "damaged").await;
            assert_eq!(app.act(&format!("/v1/returns/{ret}/approve")).await.status, 200);
            let r = app.patch(&format!("/v1/returns/{ret}"), json!({"root_cause": {"category": "packaging", "notes": "Scratched", "preventive_action": "Film"}})).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = app.act_with(&format!("/v1/returns/{ret}/resolve"), Some(json!({"resolution": "retained_with_discount", "concession": eur(500)}))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            match &invoice {
                Some(invoice) => {
                    let note = app.get(&format!("/v1/invoices/{}", r.body["credit_note_id"].as_str().unwrap())).await.body;
                    assert_eq!(note["totals"]["total"], eur(500), "the concession, tax included");
                    assert_eq!(note["totals"]["subtotal"], eur(413), "at the goods' 21%");
                    assert_eq!(app.get(&format!("/v1/invoices/{invoice}")).await.body["credited"], eur(500));
                }
                None => assert_eq!(r.body["credit_note_id"], Value::Null, "nothing to correct"),
            }
            let profit = app.get(&format!("/v1/analytics/customers/{company}/profit?from={month}&to={month}")).await;
            assert_eq!(profit.body["periods"][0]["gross_profit"], eur(2000 - 800 - 413), "invoiced {invoiced}: net of tax");
        }
        let mut conn = app.pool.get().unwrap();
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap()
        );
    }

    async fn commissions_are_net_of_returns_and_credit_notes(app: TestApp) {
        app.configure_issuer().await;
        Product::new("NET-A", 1000, 400).ensure(&app).await;
        let (seller, _, _) = app.login_new_user(Role::Sales, None).await;
        let year = chrono::Utc::now().format("%Y").to_string();
        let company = id_of(&app.company("Net Sales SL", json!({"tax_id": "ESB55555555", "billing_address": {"city": "Soria", "country": "ES"}})).await);
        let invoiced = Order::new("NET-1").company(&company).salesperson(&seller).status("fulfilled").line("NET-A", "4", 1000).push(&app).await;
        let invoice = app.issued_invoice(&company, &invoiced).await;
        let plain = Order::new("NET-2").company(&company).salesperson(&seller).status("fulfilled").line("NET-A", "2", 1000).push(&app).await;
        // One unit back into stock through a credit note, keeping a fee of 1.21 (1.00 net): 9.00.
        let carried = refunded_unit(&app, &invoiced, "restock", 121).await;
        assert!(carried["credit_note_id"].is_string());
        // A price correction of 2.00 on one invoiced unit.
        let line = app.get(&format!("/v1/invoices/{invoice}")).await.body["lines"][0]["id"].clone();
        let note = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "price", "lines": [{"invoice_line_id": line, "quantity": "1", "unit_price": eur(200)}]})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        assert_eq!(app.act(&format!("/v1/invoices/{}/issue", id_of(&note.body))).await.status, 200);
        // One unit of the uninvoiced order refunded in full, and scrapped: 10.00.
        assert_eq!(refunded_unit(&app, &plain, "scrap", 0).await["credit_note_id"], Value::Null);

        // Sold 60.00 costing 24.00; 21.00 given back; one unit (4.00) back in stock.
        let products = app.get(&format!("/v1/analytics/products?period={year}")).await;
        assert_eq!(products.status, 200, "{}", products.text);
        let product = &products.body["data"][0];
        assert_eq!((&product["revenue"], &product["returns"], &product["cost"]), (&eur(6000), &eur(2100), &eur(2000)));
        assert_eq!(product["gross_margin"], eur(1900));
        assert_eq!(product["margin_bp"], 4871, "19.00 of 39.00 kept: still tier A");
        let commissions = app.get(&format!("/v1/analytics/commissions?period={year}&salesperson_id={seller}")).await;
        assert_eq!(commissions.status, 200, "{}", commissions.text);
        assert_eq!(commissions.body["salespeople"][0]["tiers"][0]["sales"], eur(3900), "net of the refunds and the correction");
        assert_eq!(commissions.body["salespeople"][0]["total_commission"], eur(195), "5% of 39.00");
        let mut conn = app.pool.get().unwrap();
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap()
        );
    }

    async fn partial_refunds_credit_the_whole_invoice_to_the_cent(app: TestApp) {
        app.configure_issuer().await;
        let company = id_of(&app.company("Cents SL", json!({"tax_id": "ESB66666666", "billing_address": {"city": "Teruel", "country": "ES"}})).await);
        // 2 × 0.03 at 21% is 0.06 + 0.01; a unit alone rounds to 0.03 + 0.01, a cent too many
        // twice. 2 × 0.02 is 0.04 + 0.01; a unit alone rounds to no tax, a cent short twice.
        for (sku, price, invoiced, notes) in [("CENT-3", 3, 7, [4, 3]), ("CENT-2", 2, 5, [2, 3])] {
            Product::new(sku, price, 1).ensure(&app).await;
            let order = Order::new(sku).company(&company).status("fulfilled").line(sku, "2", price).push(&app).await;
            let invoice = app.issued_invoice(&company, &order).await;
            assert_eq!(app.get(&format!("/v1/invoices/{invoice}")).await.body["totals"]["total"], eur(invoiced));
            for (i, expected) in notes.into_iter().enumerate() {
                let resolved = refunded_unit(&app, &order, "restock", 0).await;
                let note = app.get(&format!("/v1/invoices/{}", resolved["credit_note_id"].as_str().unwrap())).await.body;
                assert_eq!(note["totals"]["total"], eur(expected), "{sku}, refund {}", i + 1);
                assert_eq!(resolved["refund"], eur(expected));
            }
            let credited = app.get(&format!("/v1/invoices/{invoice}")).await.body;
            assert_eq!(credited["credited"], eur(invoiced), "{sku}: the whole invoice, not a cent more or less");
            assert_eq!(credited["status"], "credited");
            let series = credited["series_id"].as_str().unwrap().to_owned();
            let notes_series = app.get("/v1/invoice-series?limit=100").await.body["data"].as_array().unwrap().iter()
                .filter_map(|s| s["id"].as_str().map(str::to_owned)).collect::<Vec<_>>();
            for id in notes_series.iter().chain([&series]) {
                assert_eq!(app.get(&format!("/v1/invoice-series/{id}/verify")).await.body["valid"], true, "{id}");
            }
        }
    }

    async fn a_credited_order_counts_once_whether_cancelled_or_invoiced_again(app: TestApp) {
        app.configure_issuer().await;
        Product::new("ONCE-1", 1000, 400).ensure(&app).await;
        let (seller, _, _) = app.login_new_user(Role::Sales, None).await;
        let (other_seller, _, _) = app.login_new_user(Role::Sales, None).await;
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let profit = |company: String| {
            let app = &app;
            let month = month.clone();
            async move {
                let r = app.get(&format!("/v1/analytics/customers/{company}/profit?from={month}&to={month}")).await;
                assert_eq!(r.status, 200, "{}", r.text);
                r.body["periods"][0]["gross_profit"]["amount_minor"].as_i64().unwrap()
            }
        };
        for then in ["cancel", "invoice again"] {
            let company = id_of(&app.company(&format!("Once {then}"), json!({"tax_id": "ESB77777777", "billing_address": {"city": "Ávila", "country": "ES"}})).await);
            let pushed = Order::new(&format!("ONCE-{}", then.len())).company(&company).salesperson(&seller).line("ONCE-1", "2", 1000);
            let body = pushed.body().clone();
            let order = pushed.push(&app).await;
            let invoice = app.issued_invoice(&company, &order).await;
            let mut moved = body.clone();
            moved["salesperson_id"] = json!(other_seller);
            let r = app.request(reqwest::Method::PUT, &format!("/v1/orders/by-external-id/shop/ONCE-{}", then.len()), Some(&app.admin_token.clone()), Some(moved), &[]).await;
            assert_eq!(r.status, 409, "an invoiced order keeps its salesperson: {}", r.text);
            assert_eq!(profit(company.clone()).await, 2000 - 800);
            let note = app.post(&format!("/v1/invoices/{invoice}/credit-notes"), json!({"reason": "wrong mention"})).await;
            assert_eq!(note.status, 201, "{}", note.text);
            assert_eq!(app.act(&format!("/v1/invoices/{}/issue", id_of(&note.body))).await.status, 200);
            assert_eq!(profit(company.clone()).await, -800, "credited in full: the goods are still out");
            match then {
                "cancel" => {
                    let r = app.act(&format!("/v1/orders/{}/cancel", id_of(&order))).await;
                    assert_eq!(r.status, 200, "{}", r.text);
                    assert_eq!(profit(company.clone()).await, -800, "the credit note already took the sale off: not twice");
                }
                _ => {
                    app.issued_invoice(&company, &order).await;
                    assert_eq!(profit(company.clone()).await, 2000 - 800, "billed again: the sale counts once");
                }
            }
        }
        let commissions = app.get(&format!("/v1/analytics/commissions?period={}&salesperson_id={seller}", &month[..4])).await;
        let sales: i64 = commissions.body["salespeople"][0]["tiers"].as_array().unwrap().iter().map(|t| t["sales"]["amount_minor"].as_i64().unwrap()).sum();
        assert_eq!(sales, 2000, "the order cancelled nets to nothing, the one invoiced again counts once");
        let mut conn = app.pool.get().unwrap();
        assert_eq!(
            crm_store::analytics::rollups::stored(&mut conn).unwrap(),
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap()
        );
    }
}
