//! Whether the PostgreSQL variants of the tests can run is known when they are built: without
//! `CRM_TEST_POSTGRES_URL` they are compiled as ignored, so that the test output says they did
//! not run instead of reporting them as passed.
fn main() {
    println!("cargo::rerun-if-env-changed=CRM_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(crm_test_postgres)");
    if std::env::var("CRM_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=crm_test_postgres");
    }
}
