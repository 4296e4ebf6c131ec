//! The contract around the code: the committed OpenAPI document, the migration trees, the README.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crm_store::platform::db::run_migrations;
use crm_store::{DatabaseUrl, DbConnection};
use crm_tests::{Backend, TestDb};
use diesel::sql_types::{Bool, Text};
use diesel::{QueryableByName, RunQueryDsl};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[test]
fn committed_openapi_matches_the_code() {
    let committed = std::fs::read_to_string(repo_file("openapi/openapi.json")).unwrap_or_default();
    let generated = crm_http::openapi_json().unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `make openapi` and commit it"
    );
}

#[test]
fn every_operation_is_documented_for_generated_clients() {
    let spec: serde_json::Value = serde_json::from_str(&crm_http::openapi_json().unwrap()).unwrap();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: operationId"));
            assert!(
                operation_ids.insert(id.to_owned()),
                "duplicate operationId {id}"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id}: tag"
            );
            assert!(op["summary"].is_string(), "{id}: summary");
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{id}: success response"
            );
            if path.starts_with("/v1/") {
                assert!(
                    responses.keys().any(|s| s.starts_with('4')),
                    "{id}: problem responses"
                );
                assert!(responses.contains_key("422"), "{id}: 422");
            }
            // Logging in needs no credential, and a survey's or an unsubscribe link's token is
            // its own.
            let public = path.starts_with("/v1/auth/")
                || path.starts_with("/v1/csat/")
                || path.starts_with("/v1/unsubscribe/");
            if path.starts_with("/v1/") && !public {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{id}: auth responses"
                );
                let schemes: Vec<&str> = op["security"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
                    .collect();
                assert_eq!(schemes, vec!["bearer_jwt", "api_key"], "{id}: security");
            }
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{id}: 404");
            }
        }
    }
    for expected in [
        "listContacts",
        "createContact",
        "getContact",
        "updateContact",
        "deleteContact",
        "listCompanies",
        "getContactTimeline",
        "createToken",
    ] {
        assert!(operation_ids.contains(expected), "{expected}");
    }
}

#[test]
fn readme_shows_the_permission_matrix_from_code() {
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let table = crm_domain::access::permissions::markdown_table();
    assert!(
        readme.contains(&table),
        "README.md must contain the permission matrix:\n{table}"
    );
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnInfo {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
}

/// Each backend's own full-text index, left out of the comparison: PostgreSQL's `tsvector`
/// columns, and on SQLite (besides its FTS5 virtual tables) the keys of the search rows.
const SQLITE_SEARCH_INDEX_TABLES: [&str; 1] = ["kb_search_keys"];

fn columns(conn: &mut DbConnection) -> BTreeSet<(String, String, bool)> {
    let sql = match conn {
        DbConnection::Sqlite(_) => "SELECT m.name AS table_name, p.name AS column_name, p.\"notnull\" = 1 AS not_null \
             FROM pragma_table_list m JOIN pragma_table_info(m.name) p \
             WHERE m.schema = 'main' AND m.type = 'table' AND m.name NOT LIKE '\\_\\_diesel%' ESCAPE '\\' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        DbConnection::Postgres(_) => "SELECT table_name::text AS table_name, column_name::text AS column_name, is_nullable = 'NO' AS not_null \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type <> 'tsvector' AND table_name NOT LIKE '\\_\\_diesel%'",
    };
    diesel::sql_query(sql)
        .load::<ColumnInfo>(conn)
        .unwrap()
        .into_iter()
        .filter(|c| !SQLITE_SEARCH_INDEX_TABLES.contains(&c.table_name.as_str()))
        .map(|c| (c.table_name, c.column_name, c.not_null))
        .collect()
}

fn migrated(backend: Backend) -> (TestDb, BTreeSet<(String, String, bool)>) {
    let (db, url) = TestDb::create(backend);
    let mut conn = DatabaseUrl::parse(&url).unwrap().connect().unwrap();
    assert!(!run_migrations(&mut conn).unwrap().is_empty());
    let found = columns(&mut conn);
    (db, found)
}

#[test]
#[cfg_attr(not(crm_test_postgres), ignore = "needs CRM_TEST_POSTGRES_URL")]
fn both_migration_trees_define_the_same_tables_and_columns() {
    let (_sqlite_db, sqlite) = migrated(Backend::Sqlite);
    assert!(sqlite
        .iter()
        .any(|(t, c, _)| t == "contacts" && c == "email_key"));
    let (_pg_db, postgres) = migrated(Backend::Postgres);
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}\nonly in PostgreSQL: {only_postgres:?}"
    );
}
