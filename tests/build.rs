//! Whether the tests that need more than the Rust toolchain can run is known when they are
//! built, so that the test output says they were skipped instead of reporting them as passed:
//! - `crm_test_postgres`: `CRM_TEST_POSTGRES_URL` is set;
//! - `crm_test_pgbouncer`: that, and Debian's PgBouncer is installed;
//! - `crm_test_replica`: PostgreSQL's server binaries (`initdb`, `pg_basebackup`) are installed.
use std::path::Path;

fn main() {
    println!("cargo::rerun-if-env-changed=CRM_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CRM_TEST_PG_BINDIR");
    // A directory changes when a package adds a binary to it.
    println!("cargo::rerun-if-changed=/usr/sbin");
    println!("cargo::rerun-if-changed=/usr/lib/postgresql");
    for cfg in [
        "crm_test_postgres",
        "crm_test_pgbouncer",
        "crm_test_replica",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    let postgres = std::env::var("CRM_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty());
    if postgres {
        println!("cargo::rustc-cfg=crm_test_postgres");
    }
    if postgres && Path::new("/usr/sbin/pgbouncer").exists() {
        println!("cargo::rustc-cfg=crm_test_pgbouncer");
    }
    if server_binaries() {
        println!("cargo::rustc-cfg=crm_test_replica");
    }
}

fn server_binaries() -> bool {
    let has_both = |bin: &Path| bin.join("initdb").exists() && bin.join("pg_basebackup").exists();
    if let Ok(dir) = std::env::var("CRM_TEST_PG_BINDIR") {
        return has_both(Path::new(&dir));
    }
    std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
        versions
            .filter_map(Result::ok)
            .any(|version| has_both(&version.path().join("bin")))
    })
}
