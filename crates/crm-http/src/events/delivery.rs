//! The webhook worker every `crm serve` runs: it fans new events out to the endpoints that
//! subscribe to them, claims due deliveries through the database (so that two nodes never
//! send one at once), POSTs them signed, and records each attempt.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_domain::events::addresses::{check_address, TargetPolicy};
use crm_domain::events::catalogue::EventType;
use crm_domain::events::delivery::{
    outcome, retry_after_seconds, should_disable, snippet, DisabledReason, Outcome, RetrySchedule,
};
use crm_domain::events::signing::{signature_header, WebhookSecret};
use crm_store::events::deliveries::{self, Attempt, Claimed, Next};
use crm_store::events::{endpoints, outbox};
use crm_store::platform::db::{database_now, write_transaction};
use crm_store::{Pool, StoreError};
use rand::Rng;
use tokio::sync::{watch, Semaphore};

/// The operator's webhook settings (`CRM_WEBHOOK_*`, `CRM_EVENTS_RETENTION_DAYS`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub policy: TargetPolicy,
    pub retry: RetrySchedule,
    pub timeout: Duration,
    pub concurrency: usize,
    pub lease: Duration,
    pub disable_after: chrono::Duration,
    pub events_retention: chrono::Duration,
}

/// What a receiver may answer before the rest is dropped.
const RESPONSE_LIMIT: usize = 64 * 1024;
/// What is kept of it with the attempt.
const SNIPPET_LIMIT: usize = 1024;
/// Events one fan-out pass moves per endpoint.
const FAN_OUT_BATCH: i64 = 500;
/// How often an idle worker looks for work.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How long a stopping worker lets its attempts finish.
const DRAIN: Duration = Duration::from_secs(10);

/// Resolves a receiver's name and keeps only the addresses the policy allows, so that a name
/// that resolves to an internal address when it is called (DNS rebinding) is not called.
struct CheckedResolver {
    policy: TargetPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .filter(
                    |address| match check_address(&host, address.ip(), &policy) {
                        Ok(()) => true,
                        Err(why) => {
                            refusal = Some(why);
                            false
                        }
                    },
                )
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(why)) => Err(format!("{host} {}", why.reason()).into()),
                (true, None) => Err(format!("{host} does not resolve").into()),
                (false, _) => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

fn client(settings: &WebhookSettings) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("crm-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(CheckedResolver {
            policy: settings.policy.clone(),
        }))
        .build()
}

/// Runs until `stop` turns true; then lets attempts in flight finish for up to ten seconds
/// and gives back every claim it still holds.
pub async fn run(pool: Pool, settings: WebhookSettings, mut stop: watch::Receiver<bool>) {
    let client = match client(&settings) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook worker cannot start");
            return;
        }
    };
    let worker = Arc::new(Worker {
        token: crm_store::new_id(),
        pool,
        settings,
        client,
        slots: Arc::new(Semaphore::new(0)),
    });
    worker.slots.add_permits(worker.settings.concurrency.max(1));
    while !*stop.borrow() {
        // A busy worker waits for a slot to free rather than for the idle poll, so that the
        // next delivery starts as soon as one ends.
        tokio::select! {
            slot = worker.slots.clone().acquire_owned() => drop(slot),
            _ = stop.changed() => continue,
        }
        let found = match worker.clone().round().await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "webhook worker round failed");
                0
            }
        };
        if found == 0 {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
    worker.drain().await;
}

struct Worker {
    /// This node's claim mark: a claim taken over after its lease ran out no longer carries it.
    token: String,
    pool: Pool,
    settings: WebhookSettings,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
}

impl Worker {
    async fn blocking<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Worker) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let worker = self.clone();
        tokio::task::spawn_blocking(move || work(&worker))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Fans out, then claims as many due deliveries as there are free slots and starts them in
    /// event order; returns how many it started.
    async fn round(self: Arc<Self>) -> Result<usize, StoreError> {
        let enabled = self.blocking(|w| w.fan_out()).await?;
        let free = self.slots.available_permits();
        if free == 0 || enabled == 0 {
            return Ok(0);
        }
        let claimed = self.blocking(move |w| w.claim(free)).await?;
        let started = claimed.len();
        for delivery in claimed {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                break;
            };
            let worker = self.clone();
            tokio::spawn(async move {
                worker.deliver(delivery).await;
                drop(permit);
            });
        }
        Ok(started)
    }

    /// Returns how many endpoints are enabled: with none there is nothing to claim.
    fn fan_out(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.get()?;
        if !deliveries::any_endpoint_behind(&mut conn)? {
            return Ok(usize::from(!endpoints::enabled_ids(&mut conn)?.is_empty()));
        }
        write_transaction(&mut conn, |c| deliveries::fan_out_all(c, FAN_OUT_BATCH))
    }

    fn claim(&self, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        let mut conn = self.pool.get()?;
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60));
        let limit = i64::try_from(limit).unwrap_or(1);
        let now = database_now(&mut conn)?;
        if !deliveries::any_due(&mut conn, now)? {
            return Ok(Vec::new());
        }
        write_transaction(&mut conn, |c| {
            let at = database_now(c)?;
            deliveries::claim(c, &self.token, at, lease, limit)
        })
    }

    async fn deliver(self: Arc<Self>, delivery: Claimed) {
        let attempted_at = crm_store::now();
        let started = Instant::now();
        let answer = self.send(&delivery).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, retry_after, body, error) = match answer {
            Ok(Answer {
                status,
                retry_after,
                body,
            }) => (Some(status), retry_after, body, None),
            Err(error) => (None, None, Vec::new(), Some(error)),
        };
        let result = outcome(status);
        let error = error.or_else(|| {
            (result != Outcome::Succeeded)
                .then(|| format!("the receiver answered {}", status.unwrap_or(0)))
        });
        let attempt = Attempt {
            attempted_at,
            status_code: status.map(i32::from),
            latency_ms,
            error,
            response_snippet: (!body.is_empty()).then(|| snippet(&body, SNIPPET_LIMIT)),
        };
        let failed_attempts = usize::try_from(delivery.attempt_count).unwrap_or(0) + 1;
        let next = match result {
            Outcome::Succeeded => Next::Succeeded,
            Outcome::Gone => Next::Failed,
            Outcome::Failed => {
                let jitter = rand::thread_rng().gen_range(-200..=200);
                match self
                    .settings
                    .retry
                    .wait_after(failed_attempts, jitter, retry_after)
                {
                    Some(wait) => Next::RetryAt(
                        attempted_at + chrono::Duration::from_std(wait).unwrap_or_default(),
                    ),
                    None => Next::Failed,
                }
            }
        };
        tracing::info!(
            delivery = %delivery.delivery_id, event = %delivery.event.id, endpoint = %delivery.endpoint_id,
            status = ?attempt.status_code, error = ?attempt.error, latency_ms, "webhook attempt"
        );
        let gone = result == Outcome::Gone;
        let recorded = self
            .blocking(move |w| w.record(&delivery, &attempt, next, gone))
            .await;
        if let Err(error) = recorded {
            tracing::warn!(%error, "could not record a webhook attempt; its lease will run out and it is sent again");
        }
    }

    fn record(
        &self,
        delivery: &Claimed,
        attempt: &Attempt,
        next: Next,
        gone: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        write_transaction(&mut conn, |c| {
            let failing_since =
                deliveries::record_attempt(c, &delivery.delivery_id, &self.token, attempt, next)?;
            let reason = if gone {
                Some(DisabledReason::ReceiverGone)
            } else if should_disable(
                failing_since,
                attempt.attempted_at,
                self.settings.disable_after,
            ) {
                Some(DisabledReason::FailingTooLong)
            } else {
                None
            };
            if let Some(reason) = reason {
                let endpoint =
                    endpoints::set_enabled(c, &delivery.endpoint_id, None, false, reason)?;
                outbox::record(c, EventType::WebhookEndpointDisabled, &endpoint.id)?;
            }
            Ok(())
        })
    }

    async fn send(&self, delivery: &Claimed) -> Result<Answer, String> {
        let url = reqwest::Url::parse(&delivery.url).map_err(|e| e.to_string())?;
        if let Some(host) = url.host_str() {
            if let Ok(ip) = host.trim_matches(|c| c == '[' || c == ']').parse() {
                check_address(host, ip, &self.settings.policy)
                    .map_err(|why| format!("{host} {}", why.reason()))?;
            }
        }
        let body = body_of(&delivery.event);
        let timestamp = chrono::Utc::now().timestamp();
        let secrets = delivery
            .secrets
            .0
            .iter()
            .map(|s| WebhookSecret::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "the endpoint's secret is corrupt".to_owned())?;
        let mut response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature_header(&secrets, &delivery.event.id, timestamp, body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after_seconds);
        let mut read = Vec::new();
        while read.len() < RESPONSE_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                _ => break,
            }
        }
        read.truncate(RESPONSE_LIMIT);
        Ok(Answer {
            status,
            retry_after,
            body: read,
        })
    }

    async fn drain(self: Arc<Self>) {
        let all = u32::try_from(self.settings.concurrency.max(1)).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(DRAIN, self.slots.acquire_many(all)).await;
        match self
            .blocking(|w| {
                let mut conn = w.pool.get()?;
                deliveries::release(&mut conn, &w.token)
            })
            .await
        {
            Ok(released) => tracing::info!(released, "webhook worker stopped"),
            Err(error) => {
                tracing::warn!(%error, "webhook worker could not release its claims; their leases will run out")
            }
        }
    }
}

struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// The delivered body: the event with its `data` exactly as stored.
fn body_of(event: &outbox::Event) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        r#"{{"id":{},"type":{},"occurred_at":{},"data":{}}}"#,
        text(&event.id),
        text(event.event_type.as_str()),
        text(
            &event
                .occurred_at
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
        event.data
    )
}

fn describe(error: reqwest::Error) -> String {
    use std::error::Error;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
