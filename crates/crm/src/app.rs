//! Building and running the server, and the commands that act on the database directly.

use crm_store::engagement::automation::AutomationReport;
use crm_store::marketing::Audience;
use crm_store::platform::clock::Clock;
use crm_store::service::sweep::SweepReport;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use crm_domain::access::roles::Role;
use crm_domain::platform::money::Currency;
use crm_http::platform::replicas::Replicas;
use crm_http::{ApiError, AppState};
use crm_store::platform::db::{build_pool, run_migrations, write_transaction};
use crm_store::{Pool, StoreError};

use crate::config::{Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Api(String),
    #[error("could not listen: {0}")]
    Io(#[from] std::io::Error),
    #[error("metrics: {0}")]
    Metrics(#[from] crm_http::platform::metrics::MetricsError),
}

impl From<ApiError> for AppError {
    fn from(error: ApiError) -> Self {
        AppError::Api(match &error {
            ApiError::Validation(v) => v.to_string(),
            other => other.to_string(),
        })
    }
}

pub fn connect(config: &Config) -> Result<Pool, AppError> {
    let url = config.database()?;
    if let Some(path) = url.sqlite_path() {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    // Every command may write, and every write records its events with the API's rendering
    // and keeps the yearly rollups in the configured base currency.
    crm_http::events::render::install();
    let base: Currency = config.base_currency.parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "base_currency `{}` is not an ISO 4217 currency code",
            config.base_currency
        ))
    })?;
    crm_store::analytics::years::install_base_currency(base);
    Ok(build_pool(&url, config.pool_size, config.pool_timeout())?)
}

/// The configured read replicas, each with a pool as large as the primary's.
fn read_replicas(config: &Config) -> Result<Option<Arc<Replicas>>, AppError> {
    let urls = config.read_replicas()?;
    if urls.is_empty() {
        return Ok(None);
    }
    let pools = urls
        .iter()
        .map(|url| build_pool(url, config.pool_size, config.pool_timeout()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Arc::new(Replicas::new(
        pools,
        Duration::from_millis(config.database_read_max_lag_ms),
    ))))
}

/// Applies pending migrations, and fills what a migration added from the records; returns how
/// many migrations ran.
pub fn migrate(pool: &Pool) -> Result<usize, AppError> {
    let mut conn = pool.get().map_err(StoreError::from)?;
    let applied = run_migrations(&mut conn)?;
    write_transaction(&mut conn, |c| {
        crm_store::analytics::rollups::fill_campaigns_if_new(c, &applied)
    })?;
    Ok(applied.len())
}

/// A server bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
    pool: Pool,
    webhooks: WebhookWorker,
}

/// The webhook worker of this node, and the switch that stops it.
struct WebhookWorker {
    stop: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    done: actix_web::rt::task::JoinHandle<()>,
}

impl Application {
    pub fn build(config: &Config) -> Result<Self, AppError> {
        let pool = connect(config)?;
        if config.migrate_on_start {
            let applied = migrate(&pool)?;
            if applied > 0 {
                tracing::info!(applied, "migrations applied");
            }
        }
        let replicas = read_replicas(config)?;
        if let Some(replicas) = &replicas {
            actix_web::rt::spawn(replicas.clone().watch(pool.clone()));
        }
        let state = AppState::new(
            pool.clone(),
            config.database()?.backend(),
            replicas,
            config.http_settings()?,
        )?;
        let base_currency = state.settings.base_currency;
        let clock = state.settings.clock;
        let audience = crm_http::marketing::audience(&state.settings);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // A pool of its own, so that deliveries never take the connections requests need.
        let webhook_pool = build_pool(&config.database()?, 2, config.pool_timeout())?;
        let done = actix_web::rt::spawn(crm_http::events::delivery::run(
            webhook_pool,
            state.settings.webhooks.clone(),
            stopped,
        ));
        let retention = state.settings.webhooks.events_retention;
        let listener = TcpListener::bind(&config.bind)?;
        let port = listener.local_addr()?.port();
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(2, usize::from),
            n => n,
        };
        let server = crm_http::serve(listener, state, workers)?;
        spawn_maintenance(
            pool.clone(),
            config.login_window_seconds,
            base_currency,
            retention,
            clock,
        );
        spawn_sla_sweep(
            pool.clone(),
            audience,
            Duration::from_secs(config.sla_sweep_seconds.max(1)),
        );
        Ok(Self {
            port,
            server,
            pool,
            webhooks: WebhookWorker {
                stop: std::sync::Arc::new(stop),
                done,
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), finishing requests in flight;
    /// then lets webhook attempts in flight finish for up to ten seconds and gives back the
    /// deliveries this node claimed, for another node to send at once.
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let stop = self.webhooks.stop.clone();
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: webhook worker first, then the HTTP server");
            let _ = stop.send(true);
            handle.stop(true).await;
        });
        let served = self.server.await;
        let _ = self.webhooks.stop.send(true);
        let _ = self.webhooks.done.await;
        served
    }

    pub fn into_server(self) -> Server {
        self.server
    }
}

/// Resolves on SIGTERM (an orchestrator stopping the node) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = terminate.recv() => {}
                    _ = interrupt => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Every five minutes, deletes idempotency keys past their expiry, failed logins older than
/// the lockout window, spent rate-limit counters, and events and settled deliveries past
/// their retention, so that no table grows without bound; and
/// accepts self-billed invoices whose acceptance period has run out; refits the CLV models
/// once a week; and recomputes the customer figures segments filter by. Safe on several nodes at once: the deletes are idempotent, and two nodes
/// refitting together only store two equal fits.
fn spawn_maintenance(
    pool: Pool,
    login_window_seconds: u64,
    base_currency: Currency,
    events_retention: chrono::Duration,
    clock: Clock,
) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(Duration::from_secs(300));
        loop {
            interval.tick().await;
            let pool = pool.clone();
            let purged = actix_web::web::block(move || -> Result<(usize, usize), StoreError> {
                let mut conn = pool.get()?;
                let window = chrono::Duration::seconds(
                    i64::try_from(login_window_seconds).unwrap_or(i64::MAX / 1000),
                );
                let keys = crm_store::platform::idempotency::purge_expired(&mut conn)?;
                let failures = crm_store::access::login_failures::purge_before(
                    &mut conn,
                    crm_store::now() - window,
                )?;
                crm_store::platform::counters::purge(
                    &mut conn,
                    "rate:",
                    crm_store::now() - chrono::Duration::hours(1),
                )?;
                crm_store::platform::db::write_transaction(&mut conn, |c| {
                    crm_store::billing::self_billing::auto_accept_due(c, crm_store::now().date())
                })?;
                let kept_from = crm_store::now() - events_retention;
                crm_store::events::outbox::purge_before(&mut conn, kept_from)?;
                crm_store::events::deliveries::purge_settled_before(&mut conn, kept_from)?;
                crm_store::analytics::clv::refit_if_stale(
                    &mut conn,
                    chrono::Duration::days(7),
                    base_currency,
                )?;
                crm_store::analytics::facts::refresh_today(&mut conn, base_currency, clock)?;
                let folded = crm_store::analytics::years::fold_other_bases(&mut conn)?;
                if folded > 0 {
                    tracing::info!(folded, "folded customer years into the base currency");
                }
                Ok((keys, failures))
            })
            .await;
            match purged {
                Ok(Ok((keys, failures))) => {
                    tracing::debug!(
                        keys,
                        failures,
                        "purged expired idempotency keys and login failures"
                    )
                }
                Ok(Err(error)) => tracing::warn!(%error, "maintenance failed"),
                Err(error) => tracing::warn!(%error, "maintenance task failed"),
            }
        }
    });
}

/// Every `every`, records SLA breaches and escalates them, and closes resolved cases past their
/// reopen window; then runs the engagement rules (visits, greetings, follow-ups, reminders).
/// Nodes may all run it: one sweeps at a time, each change is conditional, and each generated
/// task has a unique key.
fn spawn_sla_sweep(pool: Pool, audience: Audience, every: Duration) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let pool = pool.clone();
            let swept = actix_web::web::block(move || {
                let mut conn = pool.get()?;
                let swept = crm_store::service::sweep::sweep(&mut conn, audience.clock)?;
                let automated = crm_store::engagement::automation::run(&mut conn, audience)?;
                if automated != AutomationReport::default() {
                    tracing::info!(
                        visit_tasks = automated.visit_tasks,
                        greeting_tasks = automated.greeting_tasks,
                        follow_up_tasks = automated.follow_up_tasks,
                        reminders = automated.reminders,
                        "engagement rules"
                    );
                }
                Ok::<_, StoreError>(swept)
            })
            .await;
            match swept {
                Ok(Ok(report)) if report != SweepReport::default() => {
                    tracing::info!(
                        breached = report.breached,
                        escalated = report.escalated,
                        closed = report.closed,
                        "SLA sweep"
                    )
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => tracing::warn!(%error, "SLA sweep failed"),
                Err(error) => tracing::warn!(%error, "SLA sweep task failed"),
            }
        }
    });
}

/// Creates a user; returns its id. With no password given, one is generated and returned.
pub fn create_user(
    pool: &Pool,
    email: &str,
    role: Role,
    company_id: Option<String>,
    password: Option<String>,
) -> Result<(String, Option<String>), AppError> {
    let generated = password
        .is_none()
        .then(crm_http::platform::auth::random_token);
    let password = password.or_else(|| generated.clone()).unwrap_or_default();
    let fields = crm_http::access::users::new_user_fields(email, &password, role, company_id)?;
    let mut conn = pool.get().map_err(StoreError::from)?;
    let user = write_transaction(&mut conn, |c| crm_store::access::users::create(c, fields))?;
    Ok((user.id, generated))
}

/// On first start, with no users at all, creates an admin with a generated password, so that a
/// fresh install can be logged into. Returns the credentials to show once.
pub fn bootstrap_admin(pool: &Pool) -> Result<Option<(String, String)>, AppError> {
    const EMAIL: &str = "admin@example.com";
    let mut conn = pool.get().map_err(StoreError::from)?;
    if crm_store::access::users::count(&mut conn)? > 0 {
        return Ok(None);
    }
    drop(conn);
    match create_user(pool, EMAIL, Role::Admin, None, None) {
        Ok((_, Some(password))) => Ok(Some((EMAIL.to_owned(), password))),
        Ok((_, None)) => Ok(None),
        // Another node created it first.
        Err(AppError::Store(StoreError::Conflict { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates an API key; returns its id and the key, to be shown once.
pub fn create_api_key(
    pool: &Pool,
    name: &str,
    scopes: &[String],
) -> Result<(String, String), AppError> {
    let minted = crm_http::access::api_keys::mint(scopes)?;
    if name.trim().is_empty() {
        return Err(AppError::Api("name must not be empty".into()));
    }
    let mut conn = pool.get().map_err(StoreError::from)?;
    let record = write_transaction(&mut conn, |c| {
        crm_store::access::api_keys::create(
            c,
            crm_store::access::api_keys::NewApiKey {
                name: name.trim(),
                prefix: &minted.prefix,
                key_hash: &minted.hash,
                scopes: &minted.scopes,
                created_by: None,
                rate_limit_per_minute: None,
            },
        )
    })?;
    Ok((record.id, minted.key))
}

/// Fits the CLV models on every customer's purchases up to `observed_until` and stores them.
pub fn fit_clv(
    pool: &Pool,
    base_currency: Currency,
    observed_until: chrono::NaiveDate,
) -> Result<crm_store::analytics::clv::Fit, AppError> {
    let mut conn = pool.get().map_err(StoreError::from)?;
    Ok(write_transaction(&mut conn, |c| {
        crm_store::analytics::clv::fit(c, observed_until, base_currency)
    })?)
}

/// Recomputes the analytics rollups from raw data, in one transaction.
pub fn rebuild_rollups(pool: &Pool) -> Result<usize, AppError> {
    let mut conn = pool.get().map_err(StoreError::from)?;
    Ok(write_transaction(
        &mut conn,
        crm_store::analytics::rollups::rebuild,
    )?)
}

/// Recomputes the customer figures segments filter by, as of today; returns the companies.
pub fn refresh_customer_facts(pool: &Pool, base_currency: Currency) -> Result<usize, AppError> {
    let mut conn = pool.get().map_err(StoreError::from)?;
    Ok(
        crm_store::analytics::facts::refresh_today(&mut conn, base_currency, Clock::Real)?
            .unwrap_or(0),
    )
}

/// What `crm demo-data` wrote, and how long loading and rebuilding the rollups took.
pub struct DemoLoad {
    pub counts: crate::demo::DemoCounts,
    pub rollup_rows: usize,
    pub load: Duration,
    pub rebuild: Duration,
}

/// Loads demo data, then rebuilds the analytics rollups from it (the generator writes in bulk
/// and leaves them behind) and refreshes the planner's statistics.
pub fn load_demo_data(
    pool: &Pool,
    spec: &crate::demo::DemoSpec,
    progress: &mut dyn FnMut(&crate::demo::DemoCounts),
) -> Result<DemoLoad, AppError> {
    let started = std::time::Instant::now();
    let mut conn = pool.get().map_err(StoreError::from)?;
    let counts = crate::demo::generate(&mut conn, spec, progress)?;
    drop(conn);
    let load = started.elapsed();
    let started = std::time::Instant::now();
    let rollup_rows = rebuild_rollups(pool)?;
    crm_store::platform::db::analyze(&mut *pool.get().map_err(StoreError::from)?)?;
    Ok(DemoLoad {
        counts,
        rollup_rows,
        load,
        rebuild: started.elapsed(),
    })
}
