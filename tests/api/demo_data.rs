//! Demo data: the same seed gives the same history, the rollups agree with the raw records, and
//! the API reports on it (several currencies, returns) without a missing exchange rate.

use std::collections::BTreeMap;

use crm::demo::{DemoCounts, DemoSpec};
use crm_domain::analytics::profit::Figures;
use crm_store::platform::schema::{orders, returns};
use crm_tests::{on_both_backends, TestApp};
use diesel::prelude::*;

fn spec(seed: u64) -> DemoSpec {
    DemoSpec {
        companies: 20,
        orders: 200,
        seed,
        until: chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap(),
    }
}

/// What a load wrote, without the ids (which are new each time): the counts, each order's
/// currency, status, date and amounts, each return's amounts, and the rollups per month and
/// currency.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    counts: DemoCounts,
    orders: Vec<(String, String, chrono::NaiveDateTime, i64, i64, i64)>,
    returns: Vec<(String, Option<String>, i64, i64, i64)>,
    rollups: BTreeMap<(String, String), Figures>,
}

async fn load(app: &TestApp, seed: u64) -> Result<Fingerprint, String> {
    let pool = app.pool.clone();
    actix_web::web::block(move || {
        let counts = crm::app::load_demo_data(&pool, &spec(seed), &mut |_| {})
            .map_err(|e| e.to_string())?
            .counts;
        let mut conn = pool.get().unwrap();
        let orders = orders::table
            .select((
                orders::currency,
                orders::status,
                orders::ordered_at,
                orders::total_minor,
                orders::tax_minor,
                orders::cost_minor,
            ))
            .order((orders::ordered_at, orders::total_minor))
            .load(&mut conn)
            .unwrap();
        let returns = returns::table
            .select((
                returns::status,
                returns::resolution,
                returns::refund_minor,
                returns::concession_minor,
                returns::restocking_fee_minor,
            ))
            .order((returns::created_at, returns::refund_minor))
            .load(&mut conn)
            .unwrap();
        let stored = crm_store::analytics::rollups::stored(&mut conn).unwrap();
        assert_eq!(
            stored,
            crm_store::analytics::rollups::from_scratch(&mut conn).unwrap(),
            "the stored rollups are what the raw records add up to"
        );
        let mut rollups: BTreeMap<(String, String), Figures> = BTreeMap::new();
        for ((_, month, currency), figures) in stored.customers {
            rollups
                .entry((month, currency))
                .or_default()
                .add(&figures)
                .unwrap();
        }
        Ok(Fingerprint {
            counts,
            orders,
            returns,
            rollups,
        })
    })
    .await
    .unwrap()
}

on_both_backends! {
    async fn the_same_seed_gives_the_same_history_and_the_api_reports_on_it(app: TestApp) {
        let first = load(&app, 7).await.unwrap();
        assert_eq!((first.counts.companies, first.counts.orders), (20, 200));
        assert!((20..=60).contains(&first.counts.contacts), "one to three people per company");
        assert_eq!(first.orders.len(), 200);
        assert_eq!(first.returns.len(), first.counts.returns);
        let currencies: std::collections::BTreeSet<&str> =
            first.orders.iter().map(|o| o.0.as_str()).collect();
        assert!(currencies.len() >= 2, "several currencies: {currencies:?}");
        assert!(first.counts.resolved_returns > 0, "some returns were resolved");
        assert!(
            first.rollups.values().any(|f| f.returns_minor > 0 || f.concessions_minor > 0),
            "returns reach the rollups"
        );

        let again = load(&app, 7).await.unwrap_err();
        assert!(again.contains("already loaded"), "{again}");

        let elsewhere = TestApp::spawn(app.backend).await;
        assert_eq!(load(&elsewhere, 7).await.unwrap(), first);

        // Every month has its rates: a report over the whole history converts without a 422.
        let r = app.get("/v1/analytics/customers?period=2024-12..2026-11&limit=5").await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["data"].as_array().unwrap().len(), 5);
    }
}
