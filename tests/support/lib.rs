//! The harness for black-box tests: the real server on a random port with its own database,
//! driven over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
pub mod receiver;
pub mod report;
pub mod servers;

use std::path::PathBuf;

use crm::app::{self, Application};
use crm::config::Config;
use crm_domain::access::roles::Role;
use diesel::{Connection, RunQueryDsl};
use reqwest::{header::HeaderMap, Method, StatusCode};
use secrecy::SecretString;
use serde_json::Value;

pub use crm_store::Backend;
pub use fixtures::{
    eur, events_of_type, id_of, money, query_value, Order, Product, MAINTENANCE_RUN,
};

/// The PostgreSQL server tests create their databases on, when configured. Without an explicit
/// `sslmode`, tests connect without TLS: it adds nothing on a test server, and libpq's OpenSSL
/// cleanup at process exit can race the connections of servers still running in the test
/// process ("double free or corruption").
pub fn postgres_admin_url() -> Option<String> {
    let url = std::env::var("CRM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())?;
    Some(if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    })
}

/// A database of one test, removed when the test ends.
pub enum TestDb {
    Sqlite { dir: PathBuf },
    Postgres { admin_url: String, name: String },
}

/// A short fingerprint of a backend's migration tree (the names and contents of its
/// migrations), so that a template built from other migrations is never used.
fn migrations_fingerprint(backend: Backend) -> String {
    use sha2::{Digest, Sha256};
    let tree = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../migrations")
        .join(tree);
    let mut migrations: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    migrations.sort();
    let mut hasher = Sha256::new();
    for migration in migrations {
        hasher.update(migration.file_name().unwrap().as_encoded_bytes());
        hasher.update(std::fs::read(migration.join("up.sql")).unwrap_or_default());
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Applies every migration to the database at `url`, on a thread of its own: the migrations
/// need a deeper stack than a test thread has.
fn migrate(url: String) {
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            let mut conn = crm_store::DatabaseUrl::parse(&url)
                .unwrap()
                .connect()
                .unwrap();
            crm_store::platform::db::run_migrations(&mut conn).unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A migrated SQLite database file that each test copies, built once per fingerprint: tests
/// then start without running every migration.
fn sqlite_template() -> &'static PathBuf {
    static TEMPLATE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "crm-template-{}.db",
            migrations_fingerprint(Backend::Sqlite)
        ));
        if !path.exists() {
            let building = std::env::temp_dir()
                .join(format!("crm-template-{}.db", uuid::Uuid::now_v7().simple()));
            migrate(format!("sqlite://{}", building.display()));
            // Renamed into place whole, so that another test process never copies half a file.
            std::fs::rename(&building, &path).unwrap();
        }
        path
    })
}

/// The name of a migrated PostgreSQL database that each test's database is created from
/// (`CREATE DATABASE ... TEMPLATE`), built once per fingerprint by whichever test process gets
/// there first; templates of other fingerprints are dropped then.
fn postgres_template(admin_url: &str) -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| {
        #[derive(diesel::QueryableByName)]
        struct Database {
            #[diesel(sql_type = diesel::sql_types::Text)]
            datname: String,
        }
        let name = format!(
            "crm_template_{}",
            migrations_fingerprint(Backend::Postgres)
        );
        let mut admin = diesel::PgConnection::establish(admin_url).unwrap();
        diesel::sql_query("SELECT pg_advisory_lock(72651017)")
            .execute(&mut admin)
            .unwrap();
        let templates: Vec<Database> = diesel::sql_query(
            "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'crm\\_template\\_%'",
        )
        .load(&mut admin)
        .unwrap();
        if !templates.iter().any(|t| t.datname == name) {
            for old in &templates {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", old.datname))
                    .execute(&mut admin)
                    .unwrap();
            }
            let building = format!("crm_building_{}", uuid::Uuid::now_v7().simple());
            diesel::sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut admin)
                .unwrap();
            migrate(with_database(admin_url, &building));
            diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut admin)
                .unwrap();
        }
        diesel::sql_query("SELECT pg_advisory_unlock(72651017)")
            .execute(&mut admin)
            .unwrap();
        name
    })
}

impl TestDb {
    /// A database with every migration applied, copied from a template.
    pub fn migrated(backend: Backend) -> (TestDb, String) {
        match backend {
            Backend::Sqlite => {
                let (db, url) = TestDb::create(backend);
                if let TestDb::Sqlite { dir } = &db {
                    std::fs::copy(sqlite_template(), dir.join("crm.db")).unwrap();
                }
                (db, url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url().expect("CRM_TEST_POSTGRES_URL");
                let template = postgres_template(&admin_url);
                let name = format!("crm_test_{}", uuid::Uuid::now_v7().simple());
                let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .execute(&mut conn)
                    .unwrap();
                // The database is dropped after the test: a commit need not wait for its WAL
                // to reach the disk.
                diesel::sql_query(format!(
                    "ALTER DATABASE {name} SET synchronous_commit = off"
                ))
                .execute(&mut conn)
                .unwrap();
                let url = with_database(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
        }
    }

    /// An empty database.
    pub fn create(backend: Backend) -> (TestDb, String) {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("crm-test-{unique}"));
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}", dir.join("crm.db").display());
                (TestDb::Sqlite { dir }, url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url().expect("CRM_TEST_POSTGRES_URL");
                let name = format!("crm_test_{unique}");
                let mut conn = diesel::PgConnection::establish(&admin_url).unwrap_or_else(|e| {
                    panic!("PostgreSQL at CRM_TEST_POSTGRES_URL is unreachable: {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .unwrap();
                let url = with_database(&admin_url, &name);
                (TestDb::Postgres { admin_url, name }, url)
            }
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{name}?{q}"),
        None => format!("{host_part}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDb::Postgres { admin_url, name } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            }
        }
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub jwt_secret: String,
    pub admin_token: String,
    pub pool: crm_store::Pool,
    _db: TestDb,
    _pooler: Option<servers::PgBouncer>,
}

pub const TEST_BODY_LIMIT: usize = 64 * 1024;

/// How long a test server, or a test's own pool, waits for a free connection. The suite runs
/// many servers and databases on a couple of cores: a long wait there is the machine's load,
/// which a 503 would report as a fault.
pub const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A pool of `size` connections to `url` for a test's own reads and writes.
pub fn test_pool(url: &crm_store::DatabaseUrl, size: u32) -> crm_store::Pool {
    crm_store::platform::db::build_pool(url, size, POOL_WAIT).unwrap()
}

fn init_test_log() {
    if std::env::var("TEST_LOG").is_ok_and(|v| v == "1") {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        // The first test to start installs it for the process; later ones find it there.
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

impl TestApp {
    /// Starts the app on `backend`, with the test clock (`/v1/admin/clock`) that tests set the
    /// service desk's time with. With `TEST_LOG=1` the server's logs go to the test's output
    /// (shown when it fails, or always with `--nocapture`); `RUST_LOG` filters them.
    /// Rate limits are off (`CRM_RATE_LIMIT_PER_MINUTE=0`): tests make many calls as one user
    /// from one address.
    pub async fn spawn(backend: Backend) -> TestApp {
        let (db, url) = TestDb::migrated(backend);
        Self::start(db, url, None, |_| {}).await
    }

    /// As `spawn`, but as in production: without the test clock.
    pub async fn spawn_without_test_clock(backend: Backend) -> TestApp {
        let (db, url) = TestDb::migrated(backend);
        Self::start(db, url, None, |config| config.test_clock = false).await
    }

    /// As `spawn`, with the configuration changed by `adjust`.
    pub async fn spawn_configured(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let (db, url) = TestDb::migrated(backend);
        Self::start(db, url, None, adjust).await
    }

    /// As `spawn`, with a rate limit of `per_minute` requests per caller.
    pub async fn spawn_with_rate_limit(backend: Backend, per_minute: u64) -> TestApp {
        let (db, url) = TestDb::migrated(backend);
        Self::start(db, url, None, |config| {
            config.rate_limit_per_minute = per_minute;
        })
        .await
    }

    /// As `spawn` on PostgreSQL, every connection through a PgBouncer in transaction mode
    /// started for this test.
    pub async fn spawn_through_pgbouncer() -> TestApp {
        let (db, direct_url) = TestDb::migrated(Backend::Postgres);
        let TestDb::Postgres { name, .. } = &db else {
            unreachable!("a PostgreSQL database")
        };
        let upstream = reqwest::Url::parse(&direct_url).unwrap();
        let bouncer = servers::PgBouncer::start(
            upstream.host_str().unwrap(),
            upstream.port().unwrap_or(5432),
        );
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            bouncer.port
        );
        Self::start(db, url, Some(bouncer), |config| {
            config.database_pooler = crm_store::platform::db::Pooler::Transaction;
        })
        .await
    }

    /// The app on `database` of `primary`, reading from `replicas` that may lag up to
    /// `max_lag_ms`.
    pub async fn spawn_with_replicas(
        primary: &servers::PgServer,
        replicas: &[&servers::PgServer],
        max_lag_ms: u64,
    ) -> TestApp {
        let name = format!("crm_test_{}", uuid::Uuid::now_v7().simple());
        let admin_url = primary.url("postgres");
        let mut conn = diesel::PgConnection::establish(&admin_url).unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .unwrap();
        let url = primary.url(&name);
        let read_urls = replicas.iter().map(|r| r.url(&name)).collect();
        let db = TestDb::Postgres { admin_url, name };
        Self::start(db, url, None, move |config| {
            config.database_read_url = read_urls;
            config.database_read_max_lag_ms = max_lag_ms;
        })
        .await
    }

    async fn start(
        db: TestDb,
        url: String,
        pooler: Option<servers::PgBouncer>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestApp {
        init_test_log();
        let backend = match db {
            TestDb::Sqlite { .. } => Backend::Sqlite,
            TestDb::Postgres { .. } => Backend::Postgres,
        };
        let jwt_secret = format!("test-secret-{}", uuid::Uuid::now_v7().simple());
        let data_dir =
            std::env::temp_dir().join(format!("crm-test-data-{}", uuid::Uuid::now_v7().simple()));
        let mut config = Config {
            bind: "127.0.0.1:0".into(),
            database_url: url,
            data_dir,
            jwt_secret: Some(SecretString::from(jwt_secret.clone())),
            pool_size: 4,
            pool_timeout_ms: u64::try_from(POOL_WAIT.as_millis()).unwrap(),
            workers: 1,
            body_limit_bytes: TEST_BODY_LIMIT,
            cors_origins: vec!["https://app.example".into()],
            intake_per_minute: 5,
            // Every test client calls from loopback: the race harness alone rates hundreds of
            // surveys a minute.
            survey_per_minute: 100_000,
            // Tests make many calls as one user from one address.
            rate_limit_per_minute: 0,
            // Test receivers listen on loopback over plain HTTP.
            webhook_allow_http: true,
            webhook_allow_private: true,
            test_clock: true,
            // The SLA sweep runs when a test asks (`POST /v1/admin/maintenance/run`), never on
            // its own while a test moves the clock.
            sla_sweep_seconds: 24 * 3600,
            ..Config::default()
        };
        adjust(&mut config);
        let application = Application::build(&config).unwrap();
        let port = application.port();
        let pool = application.pool().clone();
        actix_rt::spawn(application.into_server());
        let mut app = TestApp {
            base: format!("http://127.0.0.1:{port}"),
            backend,
            client: reqwest::Client::new(),
            jwt_secret,
            admin_token: String::new(),
            pool,
            _db: db,
            _pooler: pooler,
        };
        app.admin_token = app.token_for(Role::Admin, None).await;
        app
    }

    /// Creates a user with `role` and logs it in over HTTP; returns its access token.
    pub async fn token_for(&self, role: Role, company_id: Option<String>) -> String {
        self.login_new_user(role, company_id).await.1
    }

    /// Creates a user and logs it in; returns (user id, access token, refresh token).
    pub async fn login_new_user(
        &self,
        role: Role,
        company_id: Option<String>,
    ) -> (String, String, String) {
        let email = format!("{}-{}@example.com", role, uuid::Uuid::now_v7().simple());
        let password = "a long test passphrase".to_owned();
        let pool = self.pool.clone();
        let (id, _) = {
            let email = email.clone();
            let password = password.clone();
            actix_web::web::block(move || {
                app::create_user(&pool, &email, role, company_id, Some(password))
            })
            .await
            .unwrap()
            .unwrap()
        };
        let r = self
            .request(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(serde_json::json!({"email": email, "password": password})),
                &[],
            )
            .await;
        assert_eq!(r.status, 200, "login failed: {}", r.text);
        (
            id,
            r.body["access_token"].as_str().unwrap().to_owned(),
            r.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut builder = self.client.request(method, self.url(path));
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        Self::read(builder.send().await.unwrap()).await
    }

    pub async fn read(response: reqwest::Response) -> Response {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Response {
            status,
            headers,
            body,
            text,
        }
    }

    /// As the bootstrap admin.
    pub async fn get(&self, path: &str) -> Response {
        self.request(
            Method::GET,
            path,
            Some(&self.admin_token.clone()),
            None,
            &[],
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.request(
            Method::POST,
            path,
            Some(&self.admin_token.clone()),
            Some(body),
            &[],
        )
        .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.request(
            Method::PATCH,
            path,
            Some(&self.admin_token.clone()),
            Some(body),
            &[],
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.request(
            Method::DELETE,
            path,
            Some(&self.admin_token.clone()),
            None,
            &[],
        )
        .await
    }

    /// A POST of `body` exactly as given, without a token: what a shop's webhook sends, whose
    /// signature covers the raw bytes.
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut builder = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        Self::read(builder.send().await.unwrap()).await
    }

    /// Creates a record and returns its body, asserting `201`.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, 201, "create {path}: {}", r.text);
        r.body
    }

    /// Signs arbitrary claims with the server's secret and the given header.
    pub fn forge_token(
        &self,
        header: jsonwebtoken::Header,
        claims: &Value,
        secret: &str,
    ) -> String {
        jsonwebtoken::encode(
            &header,
            claims,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }
}

/// Runs each test body against SQLite and against PostgreSQL, as `name::sqlite` and
/// `name::postgres`. Without `CRM_TEST_POSTGRES_URL` at build time the PostgreSQL variant is
/// ignored (see `build.rs`). A test marked `#[smoke]` also runs as `name::pgbouncer`, through a
/// PgBouncer in transaction mode (ignored where `/usr/sbin/pgbouncer` was absent at build time).
#[macro_export]
macro_rules! on_both_backends {
    ($($(#[$mark:ident])? async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $( $crate::on_both_backends!(@test [$($mark)?] $name $app $body); )*
    };
    (@test [] $name:ident $app:ident $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::TestApp) $body

            $crate::on_both_backends!(@backends);
        }
    };
    (@test [smoke] $name:ident $app:ident $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::TestApp) $body

            $crate::on_both_backends!(@backends);

            #[actix_rt::test]
            #[cfg_attr(not(crm_test_pgbouncer), ignore = "skipped: needs CRM_TEST_POSTGRES_URL and /usr/sbin/pgbouncer (Debian's pgbouncer) when the tests were built")]
            async fn pgbouncer() {
                run($crate::TestApp::spawn_through_pgbouncer().await).await;
            }
        }
    };
    (@backends) => {
        #[actix_rt::test]
        async fn sqlite() {
            run($crate::TestApp::spawn($crate::Backend::Sqlite).await).await;
        }

        #[actix_rt::test]
        #[cfg_attr(not(crm_test_postgres), ignore = "skipped: CRM_TEST_POSTGRES_URL was not set when the tests were built")]
        async fn postgres() {
            run($crate::TestApp::spawn($crate::Backend::Postgres).await).await;
        }
    };
}
