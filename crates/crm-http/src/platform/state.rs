//! What every handler can reach: the pool, the settings, the metrics.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use crm_domain::platform::money::Currency;
use crm_domain::platform::phone::PhoneRegion;
use crm_store::platform::custom_fields::FieldCache;
use crm_store::platform::db::{read_transaction, write_transaction, Backend, DbConnection};
use crm_store::platform::replicas::{written as written_up_to, Lsn};
use crm_store::{Pool, StoreError};
use secrecy::{SecretSlice, SecretString};

use crate::platform::error::ApiError;
use crate::platform::metrics::Metrics;
use crate::platform::rate_limit::RateLimiter;
use crate::platform::replicas::{ReadRoute, Replicas};

/// Settings the HTTP layer needs; the binary builds them from its configuration.
#[derive(Clone)]
pub struct HttpSettings {
    pub jwt_secret: SecretString,
    /// Signs unsubscribe links (HMAC-SHA256).
    pub unsubscribe_key: SecretSlice<u8>,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    pub default_phone_region: PhoneRegion,
    pub idempotency_ttl: Duration,
    /// Failed logins for one email within `login_window` before it is locked out.
    pub login_max_failures: i64,
    pub login_window: Duration,
    /// Web-form lead submissions allowed per API key per minute.
    pub intake_per_minute: i64,
    /// Survey reads and answers by token allowed per client address per minute.
    pub survey_per_minute: i64,
    /// `/v1` requests allowed per user, API key (unless the key has its own budget) or, before
    /// login, client address, per minute and per node; 0 turns rate limiting off.
    pub rate_limit_per_minute: u64,
    /// The currency figures such as the forecast are reported in.
    pub base_currency: Currency,
    /// Days after the order within which a return needs no manager override.
    pub return_window_days: i64,
    /// Profit tiers: A while the share of profit above a customer is below this (basis points).
    pub tier_a_up_to_bp: i64,
    /// Profit tiers: B while the share of profit above a customer is below this.
    pub tier_b_up_to_bp: i64,
    /// Product profit tiers: A from this margin up (basis points).
    pub product_tier_a_from_margin_bp: i64,
    /// Product profit tiers: B from this margin up, else C.
    pub product_tier_b_from_margin_bp: i64,
    /// How long a user's standing (active, role, company) is trusted without asking the
    /// database again; zero asks on every request.
    pub auth_cache_ttl: Duration,
    /// Events and webhook delivery.
    pub webhooks: crate::events::delivery::WebhookSettings,
    /// Where service-desk times come from; `Test` lets admins freeze it.
    pub clock: crm_store::platform::clock::Clock,
    /// The consent channels that need a grant (`CRM_CONSENT_OPT_IN_CHANNELS`).
    pub consent_opt_in: crm_domain::marketing::campaigns::OptIn,
}

/// What authenticating a user's token needs to know of the user.
#[derive(Debug, Clone)]
pub struct Standing {
    pub can_log_in: bool,
    pub role: crm_domain::access::roles::Role,
    pub company_id: Option<String>,
}

/// What a verified access token says: whose it is, in which role, and until when.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user_id: String,
    pub role: crm_domain::access::roles::Role,
    pub expires_at: i64,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<HttpSettings>,
    pub metrics: Arc<Metrics>,
    /// Users' standing by id, for `auth_cache_ttl`. A change through this process forgets the
    /// user at once; other processes see it within the TTL.
    pub standing: moka::sync::Cache<String, Standing>,
    /// Access tokens whose signature this process has verified, with their claims, for
    /// `auth_cache_ttl`: a token's claims cannot change, and its expiry is checked on each use.
    pub verified_tokens: moka::sync::Cache<String, VerifiedToken>,
    /// Each caller's current rate-limit window in this process.
    pub rate_limits: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(
        pool: Pool,
        backend: Backend,
        replicas: Option<Arc<Replicas>>,
        settings: HttpSettings,
    ) -> Result<Self, prometheus::Error> {
        let metrics = Arc::new(Metrics::new(pool.clone())?);
        Ok(Self {
            db: Db {
                primary: pool,
                backend,
                replicas,
                metrics: metrics.clone(),
                fields: Arc::default(),
            },
            metrics,
            standing: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(settings.auth_cache_ttl)
                .build(),
            verified_tokens: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(settings.auth_cache_ttl)
                .build(),
            rate_limits: Arc::new(RateLimiter::default()),
            settings: Arc::new(settings),
        })
    }
}

/// Runs diesel work on actix's blocking thread pool, SQLite's reads of one record aside
/// ([`Db::read_one`]): writes on the primary, reads on a replica where the request may lag and
/// one can serve it.
#[derive(Clone)]
pub struct Db {
    primary: Pool,
    backend: Backend,
    replicas: Option<Arc<Replicas>>,
    metrics: Arc<Metrics>,
    /// The custom field definitions this process read last, shared by its workers.
    fields: Arc<FieldCache>,
}

impl Db {
    /// Whether reads may go to replicas.
    pub fn has_replicas(&self) -> bool {
        self.replicas.is_some()
    }

    /// Runs `work` on a pooled connection outside a transaction.
    pub async fn read<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (primary, replicas, metrics) = (
            self.primary.clone(),
            self.replicas.clone(),
            self.metrics.clone(),
        );
        let route = ReadRoute::current();
        web::block(move || {
            let replica = replicas.and_then(|replicas| replicas.connection(route.as_ref()));
            let (pool_name, mut conn) = match replica {
                Some(replica) => replica,
                None => ("primary".to_owned(), primary.get()?),
            };
            metrics.served_read(&pool_name);
            work(&mut conn)
        })
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::from)
    }

    /// Runs `work`, the read of one record and what it embeds, like [`Db::read`], except on
    /// SQLite when the pool has an idle connection: then on this worker, since the read takes
    /// microseconds and the hop to the blocking pool and back costs more (docs/benchmarks.md).
    /// A worker never waits here for a connection. The reads run in one transaction, so they
    /// see one snapshot (the record and the field definitions it is read with).
    pub async fn read_one<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if self.backend == Backend::Sqlite {
            if let Some(mut conn) = self.primary.try_get() {
                self.metrics.served_read("primary");
                return read_transaction(&mut conn, work).map_err(ApiError::from);
            }
        }
        self.read(work).await
    }

    /// Runs `work`, the read of one record, with the field definitions this process holds;
    /// `work` takes the transaction it needs, if any. Runs on this worker like
    /// [`Db::read_one`] on SQLite with an idle connection.
    pub async fn read_record<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection, &FieldCache) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if self.backend == Backend::Sqlite {
            if let Some(mut conn) = self.primary.try_get() {
                self.metrics.served_read("primary");
                return work(&mut conn, &self.fields).map_err(ApiError::from);
            }
        }
        let fields = self.fields.clone();
        self.read(move |conn| work(conn, &fields)).await
    }

    /// Whether the database answers within `timeout`: a readiness probe must answer before
    /// the prober gives up, not after the pool's longer wait for a connection.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ApiError> {
        let pool = self.primary.clone();
        web::block(move || {
            let mut conn = pool.get_timeout(timeout)?;
            crm_store::platform::db::ping(&mut conn)
        })
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::from)
    }

    /// Runs `work` in one write transaction: all of it commits, or none of it.
    pub async fn write<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (primary, replicas) = (self.primary.clone(), self.replicas.clone());
        let caller = ReadRoute::current().and_then(|route| route.caller);
        web::block(move || {
            let mut conn = primary.get()?;
            let written = write_transaction(&mut conn, work)?;
            if let (Some(replicas), Some(caller)) = (replicas, caller) {
                // The write has committed: failing to read where it ended must not fail it.
                // The caller then reads from the primary until its write is surely replayed.
                let position = written_up_to(&mut conn).unwrap_or_else(|error| {
                    tracing::warn!(%error, "could not read the WAL position after a write");
                    Lsn::END
                });
                replicas.wrote(&caller, position);
            }
            Ok::<T, StoreError>(written)
        })
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::from)
    }
}
