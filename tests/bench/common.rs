//! What the benches share: a scratch database per run, the release `crm serve` on it, and the
//! description of the machine they ran on. Each bench binary includes it as `mod common;`.

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The admin every bench logs in as.
pub const ADMIN_EMAIL: &str = "bench-admin@example.com";

/// Migrates the database at `url` and creates the admin with `password`; returns the pool and
/// the admin's id.
pub fn migrated_with_admin(
    url: &crm_store::DatabaseUrl,
    password: &str,
) -> Result<(crm_store::Pool, String)> {
    let pool = crm_store::platform::db::build_pool(url, 2, std::time::Duration::from_secs(30))?;
    crm::app::migrate(&pool)?;
    let (admin_id, _) = crm::app::create_user(
        &pool,
        ADMIN_EMAIL,
        crm_domain::access::roles::Role::Admin,
        None,
        Some(password.to_owned()),
    )?;
    Ok((pool, admin_id))
}

/// The release `crm` binary the benches start: `BENCH_CRM`, else the one next to the bench.
pub fn crm_binary() -> Result<std::path::PathBuf> {
    let crm = match std::env::var_os("BENCH_CRM") {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe()?
            .parent()
            .ok_or("no directory")?
            .join("crm"),
    };
    if !crm.exists() {
        return Err(format!(
            "{} not found; build it with cargo build --release -p crm",
            crm.display()
        )
        .into());
    }
    Ok(crm)
}

/// Where a bench measures: the backends of `BENCH_BACKENDS` (`postgres,sqlite` by default), and
/// the PostgreSQL server of `BENCH_POSTGRES_URL`, where it may create databases.
pub struct Targets {
    pub backends: String,
    pub admin: String,
}

impl Targets {
    pub fn from_env() -> Result<Targets> {
        Ok(Targets {
            backends: env_or("BENCH_BACKENDS", "postgres,sqlite".to_owned())?,
            admin: env_or(
                "BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
            )?,
        })
    }
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(text) if !text.is_empty() => text
            .parse()
            .map_err(|_| format!("{name}: cannot read `{text}`").into()),
        _ => Ok(default),
    }
}

/// A database made for one measurement, removed when it ends however it ends.
pub enum Scratch {
    Postgres {
        admin: String,
        url: String,
        name: &'static str,
    },
    Sqlite {
        dir: PathBuf,
        url: String,
    },
}

impl Scratch {
    /// A database named after the bench (`crm_bench_<name>`, `crm-bench-<name>-*`).
    pub fn new(backend: &str, admin: &str, name: &'static str) -> Result<Scratch> {
        match backend {
            "postgres" => Scratch::postgres(admin, name),
            "sqlite" => Scratch::sqlite(name),
            other => Err(format!("unknown backend `{other}`").into()),
        }
    }

    fn postgres(admin: &str, name: &'static str) -> Result<Scratch> {
        // Without TLS, as the test harness does: it adds nothing on a local server.
        let admin = if admin.contains("sslmode=") {
            admin.to_owned()
        } else if admin.contains('?') {
            format!("{admin}&sslmode=disable")
        } else {
            format!("{admin}?sslmode=disable")
        };
        let (base, query) = admin.split_once('?').unwrap_or((&admin, ""));
        let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
        let database = format!("crm_bench_{name}");
        let url = format!("{server}/{database}?{query}");
        let mut conn = diesel::PgConnection::establish(&admin)?;
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .execute(&mut conn)?;
        diesel::sql_query(format!("CREATE DATABASE {database}")).execute(&mut conn)?;
        Ok(Scratch::Postgres { admin, url, name })
    }

    fn sqlite(name: &str) -> Result<Scratch> {
        let dir = std::env::temp_dir().join(format!(
            "crm-bench-{name}-{}",
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("crm.db").display());
        Ok(Scratch::Sqlite { dir, url })
    }

    pub fn url(&self) -> &str {
        match self {
            Scratch::Postgres { url, .. } | Scratch::Sqlite { url, .. } => url,
        }
    }

    /// A directory for the server's data and log.
    pub fn work_dir(&self) -> PathBuf {
        match self {
            Scratch::Postgres { name, .. } => {
                std::env::temp_dir().join(format!("crm-bench-{name}-pg"))
            }
            Scratch::Sqlite { dir, .. } => dir.clone(),
        }
    }

    /// The last lines of the server's log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.work_dir().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        match self {
            Scratch::Postgres { admin, name, .. } => {
                if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS crm_bench_{name} WITH (FORCE)"
                    ))
                    .execute(&mut conn);
                }
                let _ = std::fs::remove_dir_all(self.work_dir());
            }
            Scratch::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The `crm serve` process, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts `crm` on the scratch database with `settings` added to its environment.
    pub fn start(crm: &Path, scratch: &Scratch, settings: &[(&str, &str)]) -> Result<Server> {
        let dir = scratch.work_dir();
        std::fs::create_dir_all(&dir)?;
        let log = std::fs::File::create(dir.join("server.log"))?;
        let secret = format!(
            "bench-{}-{}",
            uuid::Uuid::now_v7().simple(),
            uuid::Uuid::now_v7().simple()
        );
        let mut child = Command::new(crm)
            .arg("serve")
            // Away from any crm.toml of the checkout.
            .current_dir(&dir)
            .env("CRM_DATABASE_URL", scratch.url())
            .env("CRM_BIND", "127.0.0.1:0")
            .env("CRM_DATA_DIR", &dir)
            .env("CRM_JWT_SECRET", secret)
            .env("CRM_ACCESS_TOKEN_TTL_SECONDS", "7200")
            // A bench measures the API, not its rate limit.
            .env("CRM_RATE_LIMIT_PER_MINUTE", "0")
            .envs(settings.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout from crm serve")?;
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let Some(line) = lines.next() else {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("crm serve stopped:\n{}", scratch.log_tail()).into());
            };
            let line = line?;
            if let Some((_, rest)) = line.split_once("listening on ") {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
        };
        // Nothing else is printed there, but a full pipe must never stall the server.
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Server { child, base })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value at percentile `p` (nearest rank) of `samples`.
pub fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied().unwrap_or_default()
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 120.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1} s")
    }
}

pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(|| "?".into(), |kb| format!("{} GiB", kb / 1024 / 1024));
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{cores} cores ({cpu}), {memory} RAM")
}

/// The server's version and memory, with the value of one more `setting` the bench depends on.
pub fn postgres_settings(admin: &str, setting: &str) -> Result<String> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let mut conn = diesel::PgConnection::establish(admin)?;
    let mut values = Vec::new();
    for query in [
        "SELECT split_part(version(), ' ', 2) AS value",
        "SELECT current_setting('shared_buffers') AS value",
        &format!("SELECT current_setting('{setting}') AS value"),
    ] {
        let s: Setting = diesel::sql_query(query).get_result(&mut conn)?;
        values.push(s.value);
    }
    Ok(format!(
        "PostgreSQL {} (shared_buffers {}, {setting} {}, otherwise defaults)",
        values[0], values[1], values[2]
    ))
}
