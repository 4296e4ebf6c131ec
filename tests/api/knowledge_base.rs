//! The knowledge base: articles in Markdown with their revisions and states, readers' votes,
//! links to the cases they answered, and search in Spanish, Portuguese and English, with the
//! same stems and stop words on SQLite (FTS5 over derived terms) and PostgreSQL (tsvector).

use std::collections::BTreeSet;

use crm_domain::access::roles::Role;
use crm_tests::{id_of, on_both_backends, query_value, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// A draft article in Spanish; `extra` adds or overrides fields.
async fn draft(app: &TestApp, title: &str, body: &str, extra: Value) -> Value {
    let mut fields = json!({"title": title, "body": body, "locale": "es"});
    if let (Some(fields), Some(extra)) = (fields.as_object_mut(), extra.as_object()) {
        fields.extend(extra.clone());
    }
    app.create("/v1/kb/articles", fields).await
}

/// `action` on an article as the bootstrap admin, asserting that it was done.
async fn done(app: &TestApp, id: &str, action: &str) -> Value {
    let r = app.act(&format!("/v1/kb/articles/{id}/{action}")).await;
    assert_eq!(r.status, 200, "{action}: {}", r.text);
    r.body
}

/// A published article in Spanish; returns its id.
async fn published(app: &TestApp, title: &str, body: &str, extra: Value) -> String {
    let id = id_of(&draft(app, title, body, extra).await);
    assert_eq!(done(app, &id, "publish").await["status"], "published");
    id
}

/// The hits of a search (`path` with its query) as `token` gets them, best first.
async fn hits(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let r = app.get_as(token, path).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.body["data"].as_array().unwrap().clone()
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter().map(id_of).collect()
}

fn rank(hit: &Value) -> f64 {
    hit["rank"].as_f64().unwrap()
}

/// A question by email about `subject`; returns its id.
async fn case_about(app: &TestApp, company: &str, subject: &str) -> String {
    id_of(
        &app.create(
            "/v1/cases",
            json!({"subject": subject, "company_id": company, "channel": "email",
                "priority": "normal", "category": "question"}),
        )
        .await,
    )
}

on_both_backends! {
    async fn inflected_and_unaccented_spanish_words_find_their_articles_titles_first(app: TestApp) {
        let admin = app.admin_token.clone();
        let company = id_of(&app.company("Lectora SL", json!({})).await);
        let customer = app.portal_user(&company).await;
        let titled = published(&app, "Reembolsos de pedidos", "Cómo se devuelve el dinero de una compra.", json!({"tags": ["pagos"]})).await;
        let in_body = published(&app, "Plazos de entrega",
            "Si el paquete no llega, pida un reembolso <script>alert(1)</script> desde su cuenta.", json!({})).await;
        let accented = published(&app, "Cambios de talla", "La devolución es gratuita durante 30 días.", json!({})).await;
        let unpublished = id_of(&draft(&app, "Reembolsos urgentes", "Borrador de un reembolso inmediato.", json!({})).await);
        let english = published(&app, "Refunds", "How refunds reach your card.", json!({"locale": "en"})).await;
        published(&app, "Facturas", "Descargue sus facturas en PDF.", json!({})).await;

        // Staff find every state; articles whose title matches rank first, at 1 or more.
        let staff = hits(&app, &admin, "/v1/kb/search?q=reembolso").await;
        let found = ids(&staff);
        assert_eq!(found.len(), 3, "{staff:?}");
        assert_eq!(found[..2].iter().cloned().collect::<BTreeSet<_>>(), BTreeSet::from([titled.clone(), unpublished.clone()]));
        assert_eq!(found[2], in_body);
        assert!(rank(&staff[1]) >= 1.0 && rank(&staff[2]) < 1.0 && rank(&staff[2]) >= 0.0, "{staff:?}");

        // Customers find published articles only, the title match first, whatever the inflection.
        for q in ["reembolso", "reembolsos", "REEMBOLSO", "Reembolsos!"] {
            let found = hits(&app, &customer, &format!("/v1/portal/kb/search?q={}", query_value(q))).await;
            assert_eq!(ids(&found), [titled.clone(), in_body.clone()], "{q}");
            assert!(rank(&found[0]) >= 1.0 && rank(&found[1]) < 1.0, "{q}: {found:?}");
            assert_eq!(found[0]["title"], "Reembolsos de pedidos");
        }
        let found = hits(&app, &customer, "/v1/portal/kb/search?q=reembolso").await;
        let snippet = found[1]["snippet"].as_str().unwrap();
        assert!(snippet.contains("<mark>reembolso</mark>"), "{snippet}");
        assert!(snippet.contains("&lt;script&gt;") && !snippet.contains("<script"), "the body's HTML is escaped: {snippet}");

        // With or without accents, either way round.
        for q in ["devolucion", "devolución", "DEVOLUCIONES"] {
            let found = hits(&app, &customer, &format!("/v1/portal/kb/search?q={}", query_value(q))).await;
            assert_eq!(ids(&found), std::slice::from_ref(&accented), "{q}");
        }
        let found = hits(&app, &customer, "/v1/portal/kb/search?q=devolucion").await;
        assert!(found[0]["snippet"].as_str().unwrap().contains("<mark>devolución</mark>"), "{found:?}");
        let found = hits(&app, &admin, &format!("/v1/kb/search?q={}", query_value("dias gratuitos"))).await;
        assert_eq!(ids(&found), std::slice::from_ref(&accented), "every word matches, stemmed and unaccented");

        // Every word must match; tags and locales narrow; each locale has its own stemmer.
        assert_eq!(ids(&hits(&app, &customer, "/v1/portal/kb/search?q=reembolso%20cuenta").await), std::slice::from_ref(&in_body));
        assert_eq!(ids(&hits(&app, &customer, "/v1/portal/kb/search?q=reembolso&tag=pagos").await), std::slice::from_ref(&titled));
        assert!(hits(&app, &customer, "/v1/portal/kb/search?q=reembolso&locale=en").await.is_empty());
        assert_eq!(ids(&hits(&app, &customer, "/v1/portal/kb/search?q=refunded&locale=en").await), std::slice::from_ref(&english));
        assert_eq!(ids(&hits(&app, &customer, "/v1/portal/kb/search?q=refunds").await), std::slice::from_ref(&english));
        assert_eq!(hits(&app, &customer, "/v1/portal/kb/search?q=reembolso&limit=1").await.len(), 1);

        // Drafts stay private: staff read them, customers do not find them.
        let r = app.get_as(&customer, &format!("/v1/portal/kb/articles/{unpublished}")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        let r = app.get(&format!("/v1/kb/articles/{unpublished}")).await;
        assert_eq!((r.status.as_u16(), &r.body["status"]), (200, &json!("draft")), "{}", r.text);
        let r = app.get_as(&customer, &format!("/v1/portal/kb/articles/{titled}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((&r.body["title"], &r.body["locale"]), (&json!("Reembolsos de pedidos"), &json!("es")));
        assert!(r.body["body_html"].as_str().unwrap().starts_with("<p>"), "{}", r.body);
        assert!(r.body.get("helpful_count").is_none() && r.body.get("body").is_none(), "{}", r.body);
        let r = app.get_as(&customer, &format!("/v1/kb/articles/{titled}")).await;
        assert_eq!(r.status, 403, "customers use the portal's routes");
        let r = app.get_as(&customer, "/v1/portal/kb/articles?locale=es&limit=100").await;
        assert_eq!(r.status, 200, "{}", r.text);
        let listed: Vec<String> = r.body["data"].as_array().unwrap().iter().map(id_of).collect();
        assert!(listed.contains(&titled) && listed.contains(&in_body) && !listed.contains(&unpublished), "published only: {listed:?}");
        assert!(r.body["data"].as_array().unwrap().iter().all(|a| a["locale"] == "es"), "{}", r.text);
        let r = app.get_as(&customer, "/v1/portal/kb/articles?tag=pagos").await;
        assert_eq!(r.body["data"].as_array().unwrap().iter().map(id_of).collect::<Vec<_>>(), vec![titled.clone()], "{}", r.text);
        // Archived articles leave the portal.
        done(&app, &titled, "archive").await;
        let r = app.get_as(&customer, &format!("/v1/portal/kb/articles/{titled}")).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(ids(&hits(&app, &customer, "/v1/portal/kb/search?q=reembolso").await), std::slice::from_ref(&in_body));

        // No query is syntax, and none fails: nothing to search for finds nothing.
        for q in ["\"", "*", "NEAR(", ") OR (", "'; DROP TABLE kb_articles; --", "", "de la", "title : reembolso",
            "reembolso\" OR \"x", "reembolso*", "%", "_", "\\", "{a}", "😀", "-reembolso", "reembolso OR devolucion"] {
            for base in ["/v1/kb/search", "/v1/portal/kb/search"] {
                let token = if base.starts_with("/v1/portal") { &customer } else { &admin };
                let r = app.get_as(token, &format!("{base}?q={}", query_value(q))).await;
                assert_eq!(r.status, 200, "{base} {q:?}: {}", r.text);
                assert!(r.body["data"].is_array(), "{q:?}: {}", r.text);
            }
        }
        for q in ["", "de la", "\"", ") OR (", "*"] {
            assert!(hits(&app, &admin, &format!("/v1/kb/search?q={}", query_value(q))).await.is_empty(), "{q:?}");
        }
        let r = app.get("/v1/kb/search").await;
        assert_eq!(r.status, 422, "q is required: {}", r.text);
        let r = app.get(&format!("/v1/kb/search?q={}", "a".repeat(501))).await;
        assert_eq!((r.status.as_u16(), &r.body["errors"][0]["field"]), (422, &json!("q")), "{}", r.text);
        let r = app.get("/v1/kb/search?q=reembolso&limit=0").await;
        assert_eq!(r.status, 422, "{}", r.text);
    }

    async fn every_edit_is_a_revision_and_states_follow_their_rules(app: TestApp) {
        let created = draft(&app, "Cómo pagar", "Con **tarjeta** o transferencia.", json!({"tags": ["pagos"]})).await;
        let id = id_of(&created);
        assert_eq!((&created["status"], &created["revision"], &created["version"]), (&json!("draft"), &json!(1), &json!(1)));
        assert_eq!(created["allowed_actions"], json!(["publish", "archive"]));
        assert_eq!((&created["helpful_count"], &created["not_helpful_count"], &created["solved_cases_count"]), (&json!(0), &json!(0), &json!(0)));
        assert_eq!((&created["tags"], &created["published_at"]), (&json!(["pagos"]), &Value::Null));
        assert!(created["body_html"].as_str().unwrap().contains("<strong>tarjeta</strong>"), "{created}");
        let r = app.get(&format!("/v1/kb/articles/{id}")).await;
        assert_eq!((r.status.as_u16(), r.header("etag")), (200, Some("\"1\"")));
        assert_eq!(r.body, created, "the GET answers what the create did");

        let edited = app.patch(&format!("/v1/kb/articles/{id}"), json!({"title": "Cómo pagar un pedido"})).await;
        assert_eq!(edited.status, 200, "{}", edited.text);
        assert_eq!((&edited.body["revision"], &edited.body["version"]), (&json!(2), &json!(2)));
        let edited = app.patch(&format!("/v1/kb/articles/{id}"), json!({"body": "Nunca <script>alert(1)</script> por **Bizum**."})).await;
        assert_eq!(edited.status, 200, "{}", edited.text);
        assert_eq!(edited.body["revision"], 3);
        let html = edited.body["body_html"].as_str().unwrap();
        assert!(html.contains("<strong>Bizum</strong>") && !html.contains("<script") && !html.contains("alert("), "{html}");
        // An edit that changes nothing is no revision.
        let same = app.patch(&format!("/v1/kb/articles/{id}"), json!({"title": "Cómo pagar un pedido"})).await;
        assert_eq!(same.status, 200, "{}", same.text);
        assert_eq!(same.body, edited.body);
        let stale = app.request(Method::PATCH, &format!("/v1/kb/articles/{id}"), Some(&app.admin_token), Some(json!({"title": "Otro"})), &[("If-Match", "\"1\"")]).await;
        assert_eq!(stale.status, 412, "{}", stale.text);
        for (body, field) in [(json!({"title": "  "}), "title"), (json!({"locale": "fr"}), "locale"), (json!({"tags": ["a\"b"]}), "tags"), (json!({"revision": 9}), "revision")] {
            let r = app.patch(&format!("/v1/kb/articles/{id}"), body.clone()).await;
            assert_eq!(r.status, 422, "{body}: {}", r.text);
            assert!(r.body["errors"][0]["field"].as_str().unwrap().contains(field), "{body}: {}", r.text);
        }
        let r = app.post("/v1/kb/articles", json!({"title": "Sin cuerpo", "body": "", "locale": "es"})).await;
        assert_eq!((r.status.as_u16(), &r.body["errors"][0]["field"]), (422, &json!("body")), "{}", r.text);

        let r = app.get(&format!("/v1/kb/articles/{id}/revisions")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let revisions = r.body["data"].as_array().unwrap();
        let numbers: Vec<i64> = revisions.iter().map(|r| r["revision"].as_i64().unwrap()).collect();
        assert_eq!(numbers, [1, 2, 3]);
        let titles: Vec<&str> = revisions.iter().map(|r| r["title"].as_str().unwrap()).collect();
        assert_eq!(titles, ["Cómo pagar", "Cómo pagar un pedido", "Cómo pagar un pedido"]);
        assert_eq!(revisions[0]["body"], "Con **tarjeta** o transferencia.");
        assert!(revisions.iter().all(|r| r["article_id"] == json!(id) && r["edited_by"].is_string() && r["edited_at"].is_string()));

        let live = done(&app, &id, "publish").await;
        assert_eq!((&live["status"], &live["allowed_actions"], &live["revision"]), (&json!("published"), &json!(["archive"]), &json!(3)));
        assert!(live["published_at"].is_string(), "{live}");
        let r = app.act(&format!("/v1/kb/articles/{id}/publish")).await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!((&r.body["current_state"], &r.body["allowed_actions"]), (&json!("published"), &json!(["archive"])));
        let r = app.act(&format!("/v1/kb/articles/{id}/restore")).await;
        assert_eq!(r.status, 409, "{}", r.text);
        let archived = done(&app, &id, "archive").await;
        assert_eq!((&archived["status"], &archived["allowed_actions"]), (&json!("archived"), &json!(["restore"])));
        let r = app.act(&format!("/v1/kb/articles/{id}/publish")).await;
        assert_eq!((r.status.as_u16(), &r.body["current_state"], &r.body["allowed_actions"]), (409, &json!("archived"), &json!(["restore"])), "{}", r.text);
        let restored = done(&app, &id, "restore").await;
        assert_eq!((&restored["status"], &restored["allowed_actions"]), (&json!("draft"), &json!(["publish", "archive"])));
        assert_eq!(restored["version"], 6, "created, edited twice, then three actions");

        let listed = |query: &'static str| {
            let app = &app;
            async move {
                let r = app.get(&format!("/v1/kb/articles?{query}")).await;
                assert_eq!(r.status, 200, "{query}: {}", r.text);
                ids(r.body["data"].as_array().unwrap())
            }
        };
        let other = published(&app, "Envíos", "Los envíos tardan dos días.", json!({"locale": "pt", "tags": ["envios"]})).await;
        assert_eq!(listed("").await, [other.clone(), id.clone()], "newest first");
        assert_eq!(listed("status=draft").await, std::slice::from_ref(&id));
        assert_eq!(listed("status=published&locale=pt").await, std::slice::from_ref(&other));
        assert_eq!(listed("tag=pagos").await, std::slice::from_ref(&id));
        let r = app.get("/v1/kb/articles?status=deleted").await;
        assert_eq!(r.status, 422, "{}", r.text);

        // Who may write: support and managers; sales read.
        let sales = app.token_for(Role::Sales, None).await;
        let r = app.get_as(&sales, &format!("/v1/kb/articles/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.request(Method::POST, "/v1/kb/articles", Some(&sales), Some(json!({"title": "x", "body": "y", "locale": "es"})), &[]).await;
        assert_eq!(r.status, 403, "{}", r.text);
        let support = app.token_for(Role::Support, None).await;
        let r = app.request(Method::POST, &format!("/v1/kb/articles/{id}/publish"), Some(&support), None, &[]).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    async fn each_reader_has_one_vote_and_the_last_counts(app: TestApp) {
        let id = published(&app, "Cambiar la contraseña", "Desde **Mi cuenta**.", json!({})).await;
        let vote = |token: String, helpful: bool| {
            let app = &app;
            let path = format!("/v1/kb/articles/{id}/feedback");
            async move {
                let r = app.request(Method::POST, &path, Some(&token), Some(json!({"helpful": helpful})), &[]).await;
                assert_eq!(r.status, 200, "{}", r.text);
                (r.body["helpful_count"].as_i64().unwrap(), r.body["not_helpful_count"].as_i64().unwrap())
            }
        };
        let admin = app.admin_token.clone();
        assert_eq!(vote(admin.clone(), true).await, (1, 0));
        assert_eq!(vote(admin.clone(), false).await, (0, 1), "the same user changed their mind");
        let sales = app.token_for(Role::Sales, None).await;
        assert_eq!(vote(sales.clone(), true).await, (1, 1), "readers vote too");
        assert_eq!(vote(sales, true).await, (1, 1), "once each");
        let r = app.get(&format!("/v1/kb/articles/{id}")).await;
        assert_eq!((&r.body["helpful_count"], &r.body["not_helpful_count"], &r.body["version"]), (&json!(1), &json!(1), &json!(2)), "votes leave the version");

        let r = app.post(&format!("/v1/kb/articles/{id}/feedback"), json!({"helpful": "yes"})).await;
        assert_eq!(r.status, 422, "{}", r.text);
        let r = app.post("/v1/kb/articles/00000000-0000-7000-8000-000000000000/feedback", json!({"helpful": true})).await;
        assert_eq!(r.status, 404, "{}", r.text);
        let company = id_of(&app.company("Votante SL", json!({})).await);
        let customer = app.portal_user(&company).await;
        let r = app.request(Method::POST, &format!("/v1/kb/articles/{id}/feedback"), Some(&customer), Some(json!({"helpful": true})), &[]).await;
        assert_eq!(r.status, 403, "{}", r.text);
    }

    async fn articles_linked_to_cases_count_what_they_solved(app: TestApp) {
        let company = id_of(&app.company("Casos SL", json!({})).await);
        let article = published(&app, "Reembolsos de pedidos", "Pida el reembolso desde **Mis pedidos**.", json!({})).await;
        let other = published(&app, "Facturas", "Descargue sus facturas.", json!({})).await;
        let hidden = id_of(&draft(&app, "Reembolsos en borrador", "Reembolso.", json!({})).await);
        let first = case_about(&app, &company, "Quiero un reembolso").await;
        let second = case_about(&app, &company, "El pedido llegó roto").await;

        let link = |case: String, article: String, relation: &'static str| {
            let app = &app;
            async move { app.post(&format!("/v1/cases/{case}/articles"), json!({"article_id": article, "relation": relation})).await }
        };
        let r = link(first.clone(), article.clone(), "solved_with").await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((&r.body["case_id"], &r.body["article_id"], &r.body["relation"]), (&json!(first), &json!(article), &json!("solved_with")));
        assert!(r.body["linked_by"].is_string() && r.body["linked_at"].is_string(), "{}", r.body);
        let r = link(second.clone(), article.clone(), "solved_with").await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = link(second.clone(), other.clone(), "related").await;
        assert_eq!(r.status, 201, "{}", r.text);
        let solved = |id: String| {
            let app = &app;
            async move { app.get(&format!("/v1/kb/articles/{id}")).await.body["solved_cases_count"].as_i64().unwrap() }
        };
        assert_eq!(solved(article.clone()).await, 2);
        assert_eq!(solved(other.clone()).await, 0, "related is not solved");
        let r = link(first.clone(), article.clone(), "solved_with").await;
        assert_eq!(r.status, 201, "linking again is no error: {}", r.text);
        assert_eq!(solved(article.clone()).await, 2, "a case counts once");
        assert_eq!(link(second.clone(), article.clone(), "related").await.status, 201);
        assert_eq!(solved(article.clone()).await, 1, "the relation was replaced");

        let r = app.get(&format!("/v1/cases/{first}/events")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let linked: Vec<&Value> = r.body["data"].as_array().unwrap().iter().filter(|e| e["type"] == "article_linked").collect();
        assert_eq!(linked.len(), 2, "{}", r.body);
        assert_eq!(linked[0]["data"], json!({"article_id": article, "relation": "solved_with"}));
        assert!(linked[0]["actor_id"].is_string());

        let r = link(first.clone(), "00000000-0000-7000-8000-000000000000".into(), "solved_with").await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.body["errors"][0]["field"], "article_id");
        let r = link(first.clone(), article.clone(), "fixed").await;
        assert_eq!(r.status, 422, "{}", r.text);
        let r = link("00000000-0000-7000-8000-000000000000".into(), article.clone(), "related").await;
        assert_eq!(r.status, 404, "{}", r.text);
        let sales = app.token_for(Role::Sales, None).await;
        let r = app.request(Method::POST, &format!("/v1/cases/{first}/articles"), Some(&sales), Some(json!({"article_id": article, "relation": "related"})), &[]).await;
        assert_eq!(r.status, 201, "sales work cases and read the knowledge base: {}", r.text);

        // Suggestions: published articles in the case's language holding any word of its subject.
        let r = app.get(&format!("/v1/cases/{first}/suggested-articles")).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let suggested = ids(r.body["data"].as_array().unwrap());
        assert_eq!(suggested, std::slice::from_ref(&article), "not the draft {hidden}, not the invoices");
        assert!(r.body["data"][0]["snippet"].as_str().unwrap().contains("<mark>reembolso</mark>"), "{}", r.body);
        let quiet = case_about(&app, &company, "Hola, buenos días").await;
        let r = app.get(&format!("/v1/cases/{quiet}/suggested-articles")).await;
        assert_eq!((r.status.as_u16(), &r.body["data"]), (200, &json!([])), "{}", r.text);
        let r = app.get("/v1/cases/00000000-0000-7000-8000-000000000000/suggested-articles").await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
}
