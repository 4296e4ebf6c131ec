//! Reads on a real PostgreSQL streaming replica, started for the test from the server binaries
//! (`initdb`, then `pg_basebackup -R`): which pool serves a list, read-your-writes, a lagging
//! replica skipped, and the primary taking over when the replica stops.
use std::time::{Duration, Instant};

use crm_domain::access::roles::Role;
use crm_tests::servers::PgServer;
use crm_tests::TestApp;
use diesel::{Connection, RunQueryDsl};
use reqwest::Method;
use serde_json::json;

/// How far the replica may lag in these tests.
const MAX_LAG_MS: u64 = 1_500;

/// The reads each pool has served so far, from `/metrics`.
async fn reads_served(app: &TestApp, pool: &str) -> u64 {
    // Without a token: authenticating reads the caller's standing from the primary.
    let text = app
        .request(Method::GET, "/metrics", None, None, &[])
        .await
        .text;
    let series = format!("crm_db_reads_total{{pool=\"{pool}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// The names of the companies `token` lists, and which pool served the list.
async fn list_names(app: &TestApp, token: &str) -> (Vec<String>, &'static str) {
    let replica_before = reads_served(app, "replica-1").await;
    let primary_before = reads_served(app, "primary").await;
    let r = app
        .request(
            Method::GET,
            "/v1/companies?limit=200",
            Some(token),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Authentication reads the caller's standing from the primary; a list on the replica
    // reads nothing else there.
    let pool = if reads_served(app, "replica-1").await > replica_before {
        "replica"
    } else {
        assert!(reads_served(app, "primary").await > primary_before);
        "primary"
    };
    let names = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    (names, pool)
}

/// Waits until `token`'s list is served by `pool`, and returns the names it saw then.
async fn list_from(app: &TestApp, token: &str, pool: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (names, served_by) = list_names(app, token).await;
        if served_by == pool {
            return names;
        }
        assert!(Instant::now() < deadline, "lists never went to the {pool}");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_company(app: &TestApp, token: &str, name: &str) {
    let r = app
        .request(
            Method::POST,
            "/v1/companies",
            Some(token),
            Some(json!({"name": name})),
            &[],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

fn on_replica(replica: &PgServer, sql: &str) {
    let mut conn = diesel::PgConnection::establish(&replica.url("postgres")).unwrap();
    diesel::sql_query(sql).execute(&mut conn).unwrap();
}

#[actix_rt::test]
#[cfg_attr(
    not(crm_test_replica),
    ignore = "skipped: PostgreSQL's server binaries (initdb, pg_basebackup) were not found under /usr/lib/postgresql when the tests were built"
)]
async fn lists_read_from_a_current_replica_and_a_caller_reads_its_own_writes() {
    let primary = PgServer::primary();
    let replica = primary.replica();
    let app = TestApp::spawn_with_replicas(&primary, &[&replica], MAX_LAG_MS).await;
    let writer = app.token_for(Role::Admin, None).await;
    let reader = app.token_for(Role::Sales, None).await;

    create_company(&app, &writer, "Before the pause").await;
    let seen = list_from(&app, &reader, "replica").await;
    assert!(seen.contains(&"Before the pause".to_owned()));

    // With replay paused, the replica holds what it held; it stays usable until it is
    // MAX_LAG_MS behind.
    on_replica(&replica, "SELECT pg_wal_replay_pause()");
    create_company(&app, &writer, "During the pause").await;
    let (writer_sees, writer_pool) = list_names(&app, &writer).await;
    assert!(
        writer_sees.contains(&"During the pause".to_owned()),
        "the writer reads its own write ({writer_pool})"
    );
    assert_eq!(
        writer_pool, "primary",
        "the replica has not replayed the write"
    );
    let (reader_sees, reader_pool) = list_names(&app, &reader).await;
    assert_eq!(
        reader_pool, "replica",
        "another caller may read a replica within the bound"
    );
    assert!(!reader_sees.contains(&"During the pause".to_owned()));

    // Past the bound the paused replica is skipped.
    actix_rt::time::sleep(Duration::from_millis(MAX_LAG_MS + 1_000)).await;
    let (reader_sees, reader_pool) = list_names(&app, &reader).await;
    assert_eq!(
        reader_pool, "primary",
        "a replica past the bound is skipped"
    );
    assert!(reader_sees.contains(&"During the pause".to_owned()));

    // Replay resumed, the replica serves again, with the write.
    on_replica(&replica, "SELECT pg_wal_replay_resume()");
    let seen = list_from(&app, &reader, "replica").await;
    assert!(seen.contains(&"During the pause".to_owned()));
    let seen = list_from(&app, &writer, "replica").await;
    assert!(seen.contains(&"During the pause".to_owned()));
}

#[actix_rt::test]
#[cfg_attr(
    not(crm_test_replica),
    ignore = "skipped: PostgreSQL's server binaries (initdb, pg_basebackup) were not found under /usr/lib/postgresql when the tests were built"
)]
async fn when_the_replica_stops_the_primary_serves_every_read() {
    let primary = PgServer::primary();
    let replica = primary.replica();
    let app = TestApp::spawn_with_replicas(&primary, &[&replica], MAX_LAG_MS).await;
    let reader = app.token_for(Role::Sales, None).await;
    create_company(&app, &app.admin_token, "Acme").await;
    list_from(&app, &reader, "replica").await;

    replica.stop();
    for _ in 0..20 {
        let (names, _) = list_names(&app, &reader).await;
        assert!(names.contains(&"Acme".to_owned()));
    }
    let (_, pool) = list_names(&app, &reader).await;
    assert_eq!(pool, "primary");
    // Reads by id and writes never touched the replica.
    create_company(&app, &app.admin_token, "After the stop").await;
    let (names, _) = list_names(&app, &reader).await;
    assert!(names.contains(&"After the stop".to_owned()));
}
