//! Configuration: defaults, then an optional TOML file, then `CRM_*` environment variables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crm_domain::events::addresses::TargetPolicy;
use crm_domain::events::delivery::RetrySchedule;
use crm_domain::marketing::campaigns::OptIn;
use crm_domain::platform::phone::PhoneRegion;
use crm_http::events::delivery::WebhookSettings;
use crm_http::HttpSettings;
use crm_store::platform::clock::Clock;
use crm_store::platform::db::Pooler;
use crm_store::{Backend, DatabaseUrl};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("could not keep the development secret in {path}: {source}")]
    Secret {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// `sqlite://PATH`, a plain path, or `postgres://...`.
    pub database_url: String,
    /// `transaction` when the nodes reach PostgreSQL through a pooler in transaction mode
    /// (PgBouncer's `pool_mode = transaction`); `session` (the default) otherwise.
    pub database_pooler: Pooler,
    /// PostgreSQL streaming replicas that serve the read-only endpoints (lists, analytics,
    /// search, the 360 overview, the portal); a comma-separated string in the environment.
    #[serde(deserialize_with = "comma_list")]
    pub database_read_url: Vec<String>,
    /// How far behind the primary a replica may be and still serve reads; a replica further
    /// behind, or not answering, is skipped. It also bounds how long a caller's own write sends
    /// its reads to the primary.
    pub database_read_max_lag_ms: u64,
    /// Where SQLite data and the development JWT secret live.
    pub data_dir: PathBuf,
    /// HS256 secret for access tokens. Required with PostgreSQL.
    #[serde(serialize_with = "redacted", default)]
    pub jwt_secret: Option<SecretString>,
    /// Signs unsubscribe links; without it, a key derived from the JWT secret, so that every
    /// node signs alike and a link is never an API credential.
    #[serde(serialize_with = "redacted", default)]
    pub unsubscribe_secret: Option<SecretString>,
    pub access_token_ttl_seconds: u64,
    pub refresh_token_ttl_seconds: u64,
    pub pool_size: u32,
    /// How long a request waits for a free database connection before it is answered 503.
    pub pool_timeout_ms: u64,
    /// Origins allowed by CORS; a comma-separated string in the environment.
    #[serde(deserialize_with = "comma_list")]
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    /// ISO 3166-1 alpha-2 region used to read national phone numbers.
    pub default_phone_region: String,
    pub idempotency_ttl_seconds: u64,
    pub login_max_failures: i64,
    pub login_window_seconds: u64,
    /// Web-form lead submissions allowed per API key per minute.
    pub intake_per_minute: i64,
    /// ISO 4217 currency that reports (such as the forecast) use.
    pub base_currency: String,
    /// Days after the order within which a return needs no manager override.
    pub return_window_days: i64,
    /// Tier A up to this cumulative share of profit, in basis points.
    pub tier_a_up_to_bp: i64,
    /// Tier B up to this cumulative share of profit, in basis points.
    pub tier_b_up_to_bp: i64,
    /// Product profit tiers: A from this margin up, in basis points.
    pub product_tier_a_from_margin_bp: i64,
    /// Product profit tiers: B from this margin up, else C.
    pub product_tier_b_from_margin_bp: i64,
    /// Seconds a user's standing (active, role) is trusted between database checks.
    pub auth_cache_seconds: u64,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// `text` or `json`.
    pub log_format: String,
    /// Days events are kept; a cursor older than this is `410 Gone`.
    pub events_retention_days: i64,
    /// Waits between webhook attempts, such as `5s,5m,30m,2h,5h,10h,10h`.
    pub webhook_retry_schedule: String,
    /// Days an endpoint may fail before it is disabled.
    pub webhook_disable_after_days: i64,
    pub webhook_timeout_seconds: u64,
    /// Attempts in flight per node.
    pub webhook_concurrency: usize,
    /// Seconds a node holds a claimed delivery before another may take it.
    pub webhook_lease_seconds: u64,
    /// Allow `http://` receivers.
    pub webhook_allow_http: bool,
    /// Allow loopback and private receivers (tests, intranets).
    pub webhook_allow_private: bool,
    /// Hosts and CIDR networks allowed although private; a comma-separated string in the
    /// environment.
    #[serde(deserialize_with = "comma_list")]
    pub webhook_allow_hosts: Vec<String>,
    /// Let admins freeze the service clock (`PUT /v1/admin/clock`): for test deployments only.
    pub test_clock: bool,
    /// Consent channels on which a person must have granted consent to be reached (the others
    /// work unless withdrawn): comma-separated `email`, `phone`, `sms`, `post`; may be empty.
    pub consent_opt_in_channels: String,
    /// Seconds between SLA sweeps (breaches, escalations, closing resolved cases).
    pub sla_sweep_seconds: u64,
    /// Survey reads and answers by token allowed per client address per minute.
    pub survey_per_minute: i64,
    /// `/v1` requests per user or API key (per client address before login) per minute, on
    /// each node; an API key's `rate_limit_per_minute` replaces it for that key. 0 is off.
    pub rate_limit_per_minute: u64,
}

fn redacted<S: serde::Serializer>(value: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrString {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrString::deserialize(d)? {
        ListOrString::List(list) => list,
        ListOrString::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://data/crm.db".into(),
            database_pooler: Pooler::Session,
            database_read_url: Vec::new(),
            database_read_max_lag_ms: 5_000,
            data_dir: PathBuf::from("data"),
            jwt_secret: None,
            unsubscribe_secret: None,
            access_token_ttl_seconds: 900,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            pool_size: 10,
            pool_timeout_ms: 3_000,
            cors_origins: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            default_phone_region: "ES".into(),
            idempotency_ttl_seconds: 24 * 3600,
            login_max_failures: 5,
            login_window_seconds: 15 * 60,
            intake_per_minute: 30,
            base_currency: "EUR".into(),
            return_window_days: 30,
            tier_a_up_to_bp: 8_000,
            tier_b_up_to_bp: 9_500,
            product_tier_a_from_margin_bp: 4_000,
            product_tier_b_from_margin_bp: 2_000,
            auth_cache_seconds: 2,
            migrate_on_start: true,
            workers: 0,
            log_format: "text".into(),
            events_retention_days: 30,
            webhook_retry_schedule: "5s,5m,30m,2h,5h,10h,10h".into(),
            webhook_disable_after_days: 5,
            webhook_timeout_seconds: 15,
            webhook_concurrency: 8,
            webhook_lease_seconds: 60,
            webhook_allow_http: false,
            webhook_allow_private: false,
            webhook_allow_hosts: Vec::new(),
            test_clock: false,
            consent_opt_in_channels: "email,sms".into(),
            sla_sweep_seconds: 60,
            survey_per_minute: 30,
            rate_limit_per_minute: 6_000,
        }
    }
}

impl Config {
    /// Loads the layers. `file` defaults to `crm.toml` and may be absent.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = file.map_or_else(|| PathBuf::from("crm.toml"), Path::to_path_buf);
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("CRM_").ignore(&["config"]))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }

    pub fn pool_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_timeout_ms)
    }

    pub fn database(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(&self.database_url)
            .map(|url| url.through(self.database_pooler))
            .map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// The replicas' URLs: PostgreSQL only, and only beside a PostgreSQL primary.
    pub fn read_replicas(&self) -> Result<Vec<DatabaseUrl>, ConfigError> {
        let replicas = self
            .database_read_url
            .iter()
            .map(|url| {
                DatabaseUrl::parse(url)
                    .map(|url| url.through(self.database_pooler))
                    .map_err(|e| ConfigError::Invalid(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let all_postgres = replicas
            .iter()
            .chain(std::iter::once(&self.database()?))
            .all(|url| url.backend() == Backend::Postgres);
        if !replicas.is_empty() && !all_postgres {
            return Err(ConfigError::Invalid(
                "database_read_url names PostgreSQL streaming replicas of a PostgreSQL database_url"
                    .into(),
            ));
        }
        Ok(replicas)
    }

    /// The JWT secret: configured, or for SQLite a development secret generated once and kept
    /// in the data directory. PostgreSQL means production, where a generated secret would
    /// differ between nodes, so there it must be configured.
    pub fn jwt_secret(&self) -> Result<SecretString, ConfigError> {
        if let Some(secret) = &self.jwt_secret {
            if secret.expose_secret().len() < 32 {
                return Err(ConfigError::Invalid(
                    "CRM_JWT_SECRET must be at least 32 characters".into(),
                ));
            }
            return Ok(secret.clone());
        }
        if self.database()?.backend() == Backend::Postgres {
            return Err(ConfigError::Invalid(
                "CRM_JWT_SECRET is required with PostgreSQL: every API node must sign tokens with the same secret. Set it to a random string of 32 or more characters.".into(),
            ));
        }
        let path = self.data_dir.join("jwt-secret");
        let io = |source| ConfigError::Secret {
            path: path.clone(),
            source,
        };
        if let Ok(existing) = std::fs::read_to_string(&path) {
            let existing = existing.trim().to_owned();
            if existing.len() >= 32 {
                tracing::warn!(path = %path.display(), "using the development JWT secret from the data directory; set CRM_JWT_SECRET in production");
                return Ok(SecretString::from(existing));
            }
        }
        std::fs::create_dir_all(&self.data_dir).map_err(io)?;
        let mut bytes = [0_u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let secret = hex_encode(&bytes);
        write_private(&path, &secret).map_err(io)?;
        tracing::warn!(path = %path.display(), "generated a development JWT secret; set CRM_JWT_SECRET in production");
        Ok(SecretString::from(secret))
    }

    pub fn http_settings(&self) -> Result<HttpSettings, ConfigError> {
        let region: PhoneRegion = self.default_phone_region.parse().map_err(|_| {
            ConfigError::Invalid(format!(
                "default_phone_region `{}` is not a region",
                self.default_phone_region
            ))
        })?;
        if !(0..=10_000).contains(&self.tier_a_up_to_bp)
            || !(self.tier_a_up_to_bp..=10_000).contains(&self.tier_b_up_to_bp)
        {
            return Err(ConfigError::Invalid(
                "tier thresholds must satisfy 0 <= tier_a_up_to_bp <= tier_b_up_to_bp <= 10000"
                    .into(),
            ));
        }
        if !(-10_000..=10_000).contains(&self.product_tier_a_from_margin_bp)
            || !(-10_000..=self.product_tier_a_from_margin_bp)
                .contains(&self.product_tier_b_from_margin_bp)
        {
            return Err(ConfigError::Invalid(
                "product tier thresholds must satisfy -10000 <= product_tier_b_from_margin_bp <= product_tier_a_from_margin_bp <= 10000"
                    .into(),
            ));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "body_limit_bytes must be at least 1024".into(),
            ));
        }
        let jwt_secret = self.jwt_secret()?;
        let unsubscribe_key = match &self.unsubscribe_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => derived_key(jwt_secret.expose_secret(), "crm unsubscribe links"),
        };
        Ok(HttpSettings {
            unsubscribe_key: SecretSlice::from(unsubscribe_key),
            jwt_secret,
            access_token_ttl: Duration::from_secs(self.access_token_ttl_seconds),
            refresh_token_ttl: Duration::from_secs(self.refresh_token_ttl_seconds),
            cors_origins: self.cors_origins.clone(),
            body_limit_bytes: self.body_limit_bytes,
            default_phone_region: region,
            idempotency_ttl: Duration::from_secs(self.idempotency_ttl_seconds),
            login_max_failures: self.login_max_failures,
            login_window: Duration::from_secs(self.login_window_seconds),
            intake_per_minute: self.intake_per_minute,
            survey_per_minute: self.survey_per_minute,
            rate_limit_per_minute: self.rate_limit_per_minute,
            return_window_days: self.return_window_days,
            tier_a_up_to_bp: self.tier_a_up_to_bp,
            tier_b_up_to_bp: self.tier_b_up_to_bp,
            product_tier_a_from_margin_bp: self.product_tier_a_from_margin_bp,
            product_tier_b_from_margin_bp: self.product_tier_b_from_margin_bp,
            auth_cache_ttl: Duration::from_secs(self.auth_cache_seconds),
            webhooks: self.webhook_settings()?,
            clock: if self.test_clock {
                Clock::Test
            } else {
                Clock::Real
            },
            consent_opt_in: OptIn::parse(&self.consent_opt_in_channels)
                .map_err(|why| ConfigError::Invalid(format!("consent_opt_in_channels: {why}")))?,
            base_currency: self.base_currency.parse().map_err(|_| {
                ConfigError::Invalid(format!(
                    "base_currency `{}` is not an ISO 4217 code",
                    self.base_currency
                ))
            })?,
        })
    }
}

/// A key for one purpose, derived from `secret` (HMAC-SHA256 of the purpose), so that a key of
/// one purpose reveals nothing of the other.
fn derived_key(secret: &str, purpose: &str) -> Vec<u8> {
    use hmac::Mac;
    match hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(purpose.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => secret.as_bytes().to_vec(),
    }
}

impl Config {
    fn webhook_settings(&self) -> Result<WebhookSettings, ConfigError> {
        let invalid = |name: &str, why: String| ConfigError::Invalid(format!("{name}: {why}"));
        if self.events_retention_days < 1 || self.webhook_disable_after_days < 1 {
            return Err(ConfigError::Invalid(
                "events_retention_days and webhook_disable_after_days must be at least 1".into(),
            ));
        }
        Ok(WebhookSettings {
            policy: TargetPolicy {
                allow_http: self.webhook_allow_http,
                allow_private: self.webhook_allow_private,
                allow_hosts: TargetPolicy::parse_hosts(&self.webhook_allow_hosts.join(","))
                    .map_err(|why| invalid("webhook_allow_hosts", why))?,
            },
            retry: RetrySchedule::parse(&self.webhook_retry_schedule)
                .map_err(|why| invalid("webhook_retry_schedule", why))?,
            timeout: Duration::from_secs(self.webhook_timeout_seconds.max(1)),
            concurrency: self.webhook_concurrency.max(1),
            lease: Duration::from_secs(
                self.webhook_lease_seconds
                    .max(self.webhook_timeout_seconds + 5),
            ),
            disable_after: chrono::Duration::days(self.webhook_disable_after_days),
            events_retention: chrono::Duration::days(self.events_retention_days),
        })
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_serialized_forms_hide_the_secret() {
        let config = Config {
            jwt_secret: Some(SecretString::from("super-secret-value-that-is-long-enough")),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("super-secret"));
        assert!(!serde_json::to_string(&config)
            .unwrap()
            .contains("super-secret"));
    }

    #[test]
    fn postgres_without_secret_refuses() {
        let config = Config {
            database_url: "postgres://u@localhost/db".into(),
            ..Config::default()
        };
        let err = config.jwt_secret().unwrap_err().to_string();
        assert!(err.contains("CRM_JWT_SECRET is required"), "{err}");
    }

    #[test]
    fn sqlite_generates_and_keeps_a_dev_secret() {
        let dir = std::env::temp_dir().join(format!("crm-config-{}", std::process::id()));
        let config = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        let first = config.jwt_secret().unwrap();
        let second = config.jwt_secret().unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_rate_limit_defaults_to_6000_a_minute_and_0_turns_it_off() {
        assert_eq!(Config::default().rate_limit_per_minute, 6_000);
        figment::Jail::expect_with(|jail| {
            jail.set_env("CRM_RATE_LIMIT_PER_MINUTE", "0");
            assert_eq!(Config::load(None).unwrap().rate_limit_per_minute, 0);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn replicas_and_the_pooler_come_from_the_environment_and_need_postgres() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CRM_DATABASE_URL", "postgres://u@primary/crm");
            jail.set_env(
                "CRM_DATABASE_READ_URL",
                "postgres://u@replica-a/crm, postgres://u@replica-b/crm",
            );
            jail.set_env("CRM_DATABASE_POOLER", "transaction");
            let config = Config::load(None).unwrap();
            assert_eq!(config.database_pooler, Pooler::Transaction);
            assert_eq!(config.read_replicas().unwrap().len(), 2);
            jail.set_env("CRM_DATABASE_URL", "sqlite://data/crm.db");
            let sqlite = Config::load(None).unwrap();
            assert!(sqlite.read_replicas().is_err());
            jail.set_env("CRM_DATABASE_POOLER", "statement");
            assert!(Config::load(None).is_err());
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn cors_origins_accept_a_comma_list() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CRM_CORS_ORIGINS", "https://a.example, https://b.example");
            let config = Config::load(None).unwrap();
            assert_eq!(
                config.cors_origins,
                vec!["https://a.example", "https://b.example"]
            );
            Ok(())
        });
    }
}
