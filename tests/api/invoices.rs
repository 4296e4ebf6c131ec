use crm_store::platform::db::write_transaction;
use crm_store::DatabaseUrl;
use crm_tests::{eur, id_of, on_both_backends, Backend, Order, Product, TestApp};
use diesel::RunQueryDsl;
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::nodes::{SharedDatabase, TwoNodes};

/// A company with one paid order of 2 × 10.00 EUR at 21% (24.20 EUR).
async fn company_with_order(app: &TestApp, name: &str, external_id: &str) -> (String, String) {
    Product::new("INV-1", 1000, 600).ensure(app).await;
    let company = app.company(name, json!({"tax_id": "ESB99999999", "billing_address": {"city": "Sevilla", "country": "ES"}})).await;
    let order = Order::new(external_id)
        .company(&id_of(&company))
        .ordered_at("2026-03-01T10:00:00Z".parse().unwrap())
        .line("INV-1", "2", 1000)
        .push(app)
        .await;
    (id_of(&company), id_of(&order))
}

async fn issue(app: &TestApp, id: &str) -> crm_tests::Response {
    app.act(&format!("/v1/invoices/{id}/issue")).await
}

fn sequence(number: &Value) -> i64 {
    number
        .as_str()
        .unwrap()
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

async fn manual_draft(app: &TestApp, company_id: &str, notes: &str) -> String {
    let draft = app.create("/v1/invoices", json!({"company_id": company_id, "currency": "EUR", "notes": notes,
        "lines": [{"description": "Service", "quantity": "1", "unit_price": eur(10000), "tax_rate_bp": 2100}]})).await;
    draft["id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    #[smoke]
    async fn issued_invoices_are_immutable_and_money_is_checked(app: TestApp) {
        let (cid, order_id) = company_with_order(&app, "Cliente SL", "ORD-1").await;
        let draft = app.create("/v1/invoices", json!({"company_id": cid, "order_ids": [order_id]})).await;
        let id = draft["id"].as_str().unwrap().to_owned();
        assert_eq!(draft["status"], "draft");
        assert_eq!(draft["number"], Value::Null);
        assert_eq!(draft["totals"]["total"], eur(2420));
        let again = app.post("/v1/invoices", json!({"company_id": cid, "order_ids": [order_id]})).await;
        assert_eq!(again.status, 409, "an order line is never invoiced twice");
        assert_eq!(again.body["existing_id"], id.as_str());

        let r = issue(&app, &id).await;
        assert_eq!(r.status, 422, "our fiscal data is needed first");
        app.configure_issuer().await;
        let issued = issue(&app, &id).await;
        assert_eq!(issued.status, 200, "{}", issued.text);
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(issued.body["number"], format!("F-{year}-000001"));
        assert_eq!(issued.body["type_code"], "380");
        assert_eq!(issued.body["issuer"]["legal_name"], "Nuestra Empresa SL");
        assert_eq!(issued.body["recipient"]["tax_id"], "ESB99999999");
        assert_eq!(issued.body["status"], "issued");
        assert_eq!(issue(&app, &id).await.status, 409);
        assert_eq!(app.patch(&format!("/v1/invoices/{id}"), json!({"notes": "changed"})).await.status, 409);
        assert_eq!(app.delete(&format!("/v1/invoices/{id}")).await.status, 409);

        let pay = async |amount: i64| app.post(&format!("/v1/invoices/{id}/payments"), json!({"amount": eur(amount), "paid_on": "2026-03-05"})).await;
        let r = pay(1000).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "partially_paid");
        assert_eq!(r.body["outstanding"], eur(1420));
        assert_eq!(pay(1421).await.status, 422, "overpayment");
        assert_eq!(pay(1420).await.body["status"], "paid");
        assert_eq!(pay(1).await.status, 422);
        assert_eq!(app.get(&format!("/v1/invoices/{id}/payments")).await.body["data"].as_array().unwrap().len(), 2);

        let line = issued.body["lines"][0]["id"].clone();
        let note = app.post(&format!("/v1/invoices/{id}/credit-notes"), json!({"reason": "One unit returned", "lines": [{"invoice_line_id": line, "quantity": "1"}]})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        let note_id = note.body["id"].as_str().unwrap().to_owned();
        let issued_note = issue(&app, &note_id).await;
        assert_eq!(issued_note.status, 200, "{}", issued_note.text);
        assert_eq!(issued_note.body["number"], format!("R-{year}-000001"), "credit notes have their own series");
        assert_eq!(issued_note.body["type_code"], "381");
        assert_eq!(issued_note.body["corrects_invoice_id"], id.as_str());
        assert_eq!(app.get(&format!("/v1/invoices/{id}")).await.body["credited"], eur(1210));
        let too_much = app.post(&format!("/v1/invoices/{id}/credit-notes"), json!({"reason": "Everything", "lines": [{"invoice_line_id": line, "quantity": "2"}]})).await;
        assert_eq!(too_much.status, 422, "more than remains creditable");
    }

    async fn an_overdue_invoice_reads_overdue(app: TestApp) {
        app.configure_issuer().await;
        let company = app.create("/v1/companies", json!({"name": "Late payer"})).await;
        let draft = app.create("/v1/invoices", json!({"company_id": company["id"], "currency": "EUR", "due_date": "2020-01-31",
            "lines": [{"description": "Consulting", "quantity": "1", "unit_price": eur(5000), "tax_rate_bp": 2100}]})).await;
        let issued = issue(&app, draft["id"].as_str().unwrap()).await;
        assert_eq!(issued.body["status"], "overdue");
    }

    async fn verify_finds_an_altered_invoice(app: TestApp) {
        app.configure_issuer().await;
        let company = app.create("/v1/companies", json!({"name": "Chain Co"})).await;
        let cid = company["id"].as_str().unwrap().to_owned();
        let mut ids = Vec::new();
        for i in 0..3 {
            let id = manual_draft(&app, &cid, &format!("n{i}")).await;
            assert_eq!(issue(&app, &id).await.status, 200);
            ids.push(id);
        }
        let series = app.get("/v1/invoice-series").await.body["data"][0]["id"].as_str().unwrap().to_owned();
        let r = app.get(&format!("/v1/invoice-series/{series}/verify")).await;
        assert_eq!(r.body["valid"], true, "{}", r.text);
        assert_eq!(r.body["checked"], 3);
        let issued = app.get(&format!("/v1/invoices?series_id={series}")).await.body["data"].as_array().unwrap().clone();
        assert_eq!(chain_from_json(issued), Ok(3), "the chain, from the JSON alone");
        let mut conn = app.pool.get().unwrap();
        let tamper = format!("UPDATE invoices SET total_minor = 1 WHERE id = '{}'", ids[1]);
        assert!(diesel::sql_query(&tamper).execute(&mut *conn).is_err(), "the database refuses to change an issued invoice");
        // Someone with the rights to drop the guard can still change the row; the chain shows it.
        let drop_guard = match app.backend {
            Backend::Sqlite => "DROP TRIGGER invoices_issued_are_frozen",
            Backend::Postgres => "DROP TRIGGER invoices_issued_are_frozen ON invoices",
        };
        diesel::sql_query(drop_guard).execute(&mut *conn).unwrap();
        diesel::sql_query(&tamper).execute(&mut *conn).unwrap();
        drop(conn);
        let r = app.get(&format!("/v1/invoice-series/{series}/verify")).await;
        assert_eq!(r.body["valid"], false);
        assert_eq!(r.body["broken"]["invoice_id"], ids[1].as_str(), "{}", r.text);
    }

    #[smoke]
    async fn a_failed_issue_consumes_no_number(app: TestApp) {
        app.configure_issuer().await;
        let company = app.create("/v1/companies", json!({"name": "Gap Co"})).await;
        let cid = company["id"].as_str().unwrap().to_owned();
        let first = manual_draft(&app, &cid, "ok").await;
        assert_eq!(sequence(&issue(&app, &first).await.body["number"]), 1);
        let trigger = match app.backend {
            Backend::Sqlite => vec!["CREATE TRIGGER fail_issue BEFORE UPDATE OF number ON invoices WHEN NEW.notes = 'FAIL' AND NEW.number IS NOT NULL BEGIN SELECT RAISE(ABORT, 'forced failure'); END".to_owned()],
            Backend::Postgres => vec![
                "CREATE FUNCTION fail_issue() RETURNS trigger AS $$ BEGIN IF NEW.notes = 'FAIL' AND NEW.number IS NOT NULL THEN RAISE EXCEPTION 'forced failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql".to_owned(),
                "CREATE TRIGGER fail_issue BEFORE UPDATE ON invoices FOR EACH ROW EXECUTE FUNCTION fail_issue()".to_owned(),
            ],
        };
        let mut conn = app.pool.get().unwrap();
        for sql in trigger {
            diesel::sql_query(sql).execute(&mut *conn).unwrap();
        }
        drop(conn);
        let failing = manual_draft(&app, &cid, "FAIL").await;
        let r = issue(&app, &failing).await;
        assert_eq!(r.status, 500, "the forced failure after numbering");
        assert!(!r.text.contains("forced failure"), "no database text leaks");
        assert_eq!(app.get(&format!("/v1/invoices/{failing}")).await.body["status"], "draft", "rolled back");
        let next = manual_draft(&app, &cid, "ok").await;
        assert_eq!(sequence(&issue(&app, &next).await.body["number"]), 2, "no gap");
    }
}

#[actix_rt::test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
async fn two_api_processes_issue_500_invoices_with_gapless_numbers() {
    let db = SharedDatabase::create();
    let mut conn = DatabaseUrl::parse(&db.url).unwrap().connect().unwrap();
    let drafts: Vec<String> = write_transaction(&mut conn, |c| {
        crm_store::platform::settings::update(c, None, |f| {
            f.legal_name = Some("Nuestra Empresa SL".into());
            f.tax_id = Some("ESB00000000".into());
            Ok(())
        })?;
        let company = crm_store::parties::customers::company_by_name(c, "Concurrent Co")?.0;
        (0..500)
            .map(|i| {
                crm_store::billing::invoices::create_draft(
                    c,
                    crm_store::billing::invoices::DraftInput {
                        company_id: company.clone(),
                        currency: Some("EUR".into()),
                        series_id: None,
                        due_date: None,
                        notes: Some(format!("#{i}")),
                        order_ids: vec![],
                        lines: vec![crm_store::sales::documents::LineDraft {
                            product_id: None,
                            sku: None,
                            description: Some("Service".into()),
                            quantity: crm_domain::platform::money::Quantity::parse("q", "1")
                                .unwrap(),
                            unit_price_minor: Some(100 + i),
                            unit_cost_minor: None,
                            discount_bp: 0,
                            tax_rate_bp: Some(2100),
                            kind: crm_domain::sales::orders::LineKind::Product,
                            stated: None,
                            external_id: None,
                            keep_unknown_sku: false,
                        }],
                        vat: Default::default(),
                    },
                )
                .map(|inv| inv.id)
            })
            .collect::<Result<Vec<_>, crm_store::StoreError>>()
    })
    .unwrap();
    drop(conn);

    let TwoNodes {
        processes: _processes,
        base_a,
        base_b,
        token,
        client,
    } = db.start_two_nodes();
    let results: Vec<(u16, Value)> = stream::iter(drafts.iter().enumerate())
        .map(|(i, id)| {
            let base = if i % 2 == 0 { &base_a } else { &base_b };
            let request = client
                .post(format!("{base}/v1/invoices/{id}/issue"))
                .bearer_auth(&token)
                .send();
            async move {
                let response = request.await.unwrap();
                let status = response.status().as_u16();
                (
                    status,
                    response.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        })
        .buffer_unordered(24)
        .collect()
        .await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    let mut sequences: Vec<i64> = results
        .iter()
        .map(|(_, body)| sequence(&body["number"]))
        .collect();
    sequences.sort_unstable();
    assert_eq!(
        sequences,
        (1..=500).collect::<Vec<_>>(),
        "exactly 1..500: no gaps, no duplicates"
    );
    let verify = client
        .get(format!(
            "{base_a}/v1/invoice-series/00000000-0000-7000-8000-0000000000f1/verify"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let verify: Value = verify.json().await.unwrap();
    assert_eq!(verify["valid"], true, "{verify}");
    assert_eq!(verify["checked"], 500);

    let mut documents = Vec::new();
    let mut cursor = String::new();
    loop {
        let page: Value = client
            .get(format!("{base_b}/v1/invoices?series_id=00000000-0000-7000-8000-0000000000f1&limit=100{cursor}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        documents.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(documents.len(), 500);
    assert_eq!(
        chain_from_json(documents),
        Ok(500),
        "the chain, recomputed from the API's JSON alone"
    );
}

/// Verifies a series' chain as an outsider would, from the documents' JSON and the canonical
/// form of docs/ledger.md only; how many links held, or the first that did not.
fn chain_from_json(mut documents: Vec<Value>) -> Result<usize, String> {
    use sha2::{Digest, Sha256};
    documents.sort_by_key(|d| {
        (
            d["issue_date"].as_str().unwrap()[..4].to_owned(),
            d["sequence"].as_i64(),
        )
    });
    let minor = |money: &Value| money["amount_minor"].as_i64().unwrap();
    let milli = |quantity: &str| -> i64 {
        let (whole, fraction) = quantity.split_once('.').unwrap_or((quantity, ""));
        whole.parse::<i64>().unwrap() * 1000 + format!("{fraction:0<3}").parse::<i64>().unwrap()
    };
    let mut previous = String::new();
    for (checked, d) in documents.iter().enumerate() {
        if d["previous_hash"] != previous.as_str() {
            return Err(format!("{} does not follow the one before", d["number"]));
        }
        let snapshot = |v: &Value| {
            if v.is_null() {
                Value::Null
            } else {
                json!(v.to_string())
            }
        };
        let lines: Vec<Value> = d["lines"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(position, l)| {
                json!([
                    position,
                    l["description"],
                    milli(l["quantity"].as_str().unwrap()),
                    minor(&l["unit_price"]),
                    l["discount_bp"],
                    l["tax_rate_bp"],
                    minor(&l["gross"]),
                    minor(&l["discount"]),
                    minor(&l["net"]),
                    l["order_line_id"]
                ])
            })
            .collect();
        let mut canonical = json!({
            "number": d["number"], "kind": d["kind"], "series_id": d["series_id"], "issue_date": d["issue_date"],
            "currency": d["currency"], "company_id": d["company_id"], "corrects_invoice_id": d["corrects_invoice_id"],
            "correction_reason": d["correction_reason"], "issuer": snapshot(&d["issuer"]), "recipient": snapshot(&d["recipient"]),
            "subtotal_minor": minor(&d["totals"]["subtotal"]), "discount_minor": minor(&d["totals"]["discount"]),
            "tax_minor": minor(&d["totals"]["tax"]), "total_minor": minor(&d["totals"]["total"]), "lines": lines,
        });
        if d["chain_format"].as_i64().unwrap() >= 2 {
            for key in [
                "due_date",
                "notes",
                "agreement_id",
                "corrects_number",
                "exemption_reason",
                "reverse_charge",
                "supply_date",
                "chain_format",
            ] {
                canonical[key] = d[key].clone();
            }
        }
        if d["chain_format"].as_i64().unwrap() >= 3 {
            let taxes: Vec<Value> = d["totals"]["taxes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| json!([t["rate_bp"], minor(&t["base"]), minor(&t["tax"])]))
                .collect();
            canonical["taxes"] = json!(taxes);
        }
        let mut hasher = Sha256::new();
        hasher.update(format!("{previous}\n{canonical}").as_bytes());
        let hash = hex::encode(hasher.finalize());
        if d["hash"] != hash.as_str() {
            return Err(format!(
                "{} does not match its hash after {checked} links",
                d["number"]
            ));
        }
        previous = hash;
    }
    Ok(documents.len())
}
