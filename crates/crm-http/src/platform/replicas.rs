//! Reads on PostgreSQL streaming replicas.
//!
//! The read-only endpoints (lists, analytics, search, the 360 overview, the portal) may be
//! served by a replica that is at most `max_lag` behind the primary. A watcher on each node
//! samples the primary's WAL position and each replica's replayed position, so a replica is
//! known to hold everything the primary held at some instant; one that lags more, or does not
//! answer, is skipped until it catches up.
//!
//! Read-your-writes: a write records the primary's WAL position after its commit under the
//! caller (user or API key). Until a replica has been seen past that position, that caller's
//! reads go to the primary; after `max_lag` no replica in use can be short of it.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::Method;
use actix_web::web;
use crm_store::platform::db::PooledConnection;
use crm_store::platform::replicas::{self, Lsn};
use crm_store::{Pool, StoreError};

tokio::task_local! {
    static ROUTE: ReadRoute;
}

/// The request being served, as the database layer sees it: who asks, and whether its reads
/// may lag.
#[derive(Clone)]
pub struct ReadRoute {
    pub caller: Option<String>,
    pub may_lag: bool,
}

impl ReadRoute {
    /// Runs `request` as this route.
    pub async fn scope<F: Future>(self, request: F) -> F::Output {
        ROUTE.scope(self, request).await
    }

    /// The route of the request this task serves, if one was set.
    pub fn current() -> Option<ReadRoute> {
        ROUTE.try_with(ReadRoute::clone).ok()
    }

    /// Whether a request may be served from a replica: every GET of a list (its route ends in
    /// a word, not an id), of analytics, of the portal, of search and of the 360 overview, and
    /// the POST searches. Reads of one record by id stay on the primary, so that a record's
    /// version (ETag) is always the latest to build an `If-Match` on.
    pub fn may_lag(method: &Method, pattern: &str) -> bool {
        let last = pattern.rsplit('/').next().unwrap_or_default();
        if method == Method::POST {
            return pattern.starts_with("/v1/") && last == "search";
        }
        method == Method::GET
            && pattern.starts_with("/v1/")
            && (pattern.starts_with("/v1/analytics/")
                || pattern.starts_with("/v1/portal/")
                || !last.starts_with('{'))
    }
}

/// Where a replica stood at its last check.
#[derive(Clone, Copy)]
struct Standing {
    replayed: Lsn,
    /// The latest instant at which the primary had written no more than the replica has
    /// replayed: the replica holds every commit made before it.
    current_as_of: Instant,
}

struct Replica {
    name: String,
    pool: Pool,
    standing: Mutex<Option<Standing>>,
}

/// The replicas of one node, with what it knows of each.
pub struct Replicas {
    replicas: Vec<Replica>,
    max_lag: Duration,
    /// The primary's WAL position at each check, oldest first.
    primary_positions: Mutex<VecDeque<(Instant, Lsn)>>,
    /// Each caller's last write, forgotten after `max_lag`.
    writes: moka::sync::Cache<String, Lsn>,
    next: AtomicUsize,
}

/// How long a request waits for a replica's connection before it reads from the primary.
const REPLICA_CHECKOUT: Duration = Duration::from_millis(250);

impl Replicas {
    pub fn new(pools: Vec<Pool>, max_lag: Duration) -> Self {
        Self {
            replicas: pools
                .into_iter()
                .enumerate()
                .map(|(i, pool)| Replica {
                    name: format!("replica-{}", i + 1),
                    pool,
                    standing: Mutex::new(None),
                })
                .collect(),
            max_lag,
            primary_positions: Mutex::new(VecDeque::new()),
            writes: moka::sync::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(max_lag)
                .build(),
            next: AtomicUsize::new(0),
        }
    }

    /// How often the watcher checks: often enough that a replica is seen current well within
    /// `max_lag`.
    pub fn check_interval(&self) -> Duration {
        (self.max_lag / 5).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// Samples the primary's position, then each replica's. Blocking.
    pub fn check(&self, primary: &Pool) {
        let now = Instant::now();
        let written = primary
            .get_timeout(self.check_interval())
            .map_err(StoreError::from)
            .and_then(|mut conn| replicas::written(&mut conn));
        let positions = {
            let mut positions = self
                .primary_positions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match written {
                Ok(lsn) => positions.push_back((now, lsn)),
                Err(error) => tracing::warn!(%error, "could not read the primary's WAL position"),
            }
            while positions
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) > self.max_lag * 2)
            {
                positions.pop_front();
            }
            positions.clone()
        };
        for replica in &self.replicas {
            let replayed = replica
                .pool
                .get_timeout(self.check_interval())
                .map_err(StoreError::from)
                .and_then(|mut conn| replicas::replayed(&mut conn));
            let standing = match replayed {
                Ok(Some(replayed)) => positions
                    .iter()
                    .rev()
                    .find(|(_, written)| *written <= replayed)
                    .map(|(at, _)| Standing {
                        replayed,
                        current_as_of: *at,
                    }),
                Ok(None) => {
                    tracing::warn!(replica = %replica.name, "is not a replica (pg_last_wal_replay_lsn is null); not reading from it");
                    None
                }
                Err(error) => {
                    tracing::warn!(replica = %replica.name, %error, "replica not answering; reading from the primary");
                    None
                }
            };
            *replica
                .standing
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = standing;
        }
    }

    /// Checks the replicas every `check_interval` for the life of the node.
    pub async fn watch(self: Arc<Self>, primary: Pool) {
        let mut ticks = tokio::time::interval(self.check_interval());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let (replicas, primary) = (self.clone(), primary.clone());
            if web::block(move || replicas.check(&primary)).await.is_err() {
                tracing::error!("the replica check panicked");
            }
        }
    }

    /// Records that `caller` wrote, up to `lsn`.
    pub fn wrote(&self, caller: &str, lsn: Lsn) {
        self.writes.insert(caller.to_owned(), lsn);
    }

    /// A replica that may serve `caller` now, taken in turn among those that can.
    fn choose(&self, caller: Option<&str>, now: Instant) -> Option<&Replica> {
        let must_hold = caller.and_then(|caller| self.writes.get(caller));
        let usable: Vec<&Replica> = self
            .replicas
            .iter()
            .filter(|replica| {
                let standing = *replica
                    .standing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                standing.is_some_and(|standing| {
                    now.saturating_duration_since(standing.current_as_of) <= self.max_lag
                        && must_hold.is_none_or(|lsn| standing.replayed >= lsn)
                })
            })
            .collect();
        if usable.is_empty() {
            return None;
        }
        Some(usable[self.next.fetch_add(1, Ordering::Relaxed) % usable.len()])
    }

    /// A connection for the current request's reads: a replica's when the request may lag
    /// and one can serve it, and the pool's name for the metrics.
    pub(crate) fn connection(
        &self,
        route: Option<&ReadRoute>,
    ) -> Option<(String, PooledConnection)> {
        let route = route.filter(|route| route.may_lag)?;
        let replica = self.choose(route.caller.as_deref(), Instant::now())?;
        match replica.pool.get_timeout(REPLICA_CHECKOUT) {
            Ok(conn) => Some((replica.name.clone(), conn)),
            Err(error) => {
                tracing::warn!(replica = %replica.name, %error, "replica connection failed; reading from the primary");
                *replica
                    .standing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_analytics_portal_and_searches_may_lag_reads_by_id_do_not() {
        assert!(ReadRoute::may_lag(&Method::GET, "/v1/contacts"));
        assert!(ReadRoute::may_lag(
            &Method::GET,
            "/v1/companies/{id}/overview"
        ));
        assert!(ReadRoute::may_lag(
            &Method::GET,
            "/v1/analytics/customers/{id}"
        ));
        assert!(ReadRoute::may_lag(&Method::GET, "/v1/portal/orders/{id}"));
        assert!(ReadRoute::may_lag(&Method::POST, "/v1/contacts/search"));
        assert!(!ReadRoute::may_lag(&Method::GET, "/v1/contacts/{id}"));
        assert!(!ReadRoute::may_lag(&Method::POST, "/v1/contacts"));
        assert!(!ReadRoute::may_lag(&Method::PATCH, "/v1/contacts/{id}"));
        assert!(!ReadRoute::may_lag(&Method::GET, "/readyz"));
    }
}
