//! Prometheus metrics: requests by route and status, latency, pool state.

use crm_store::Pool;
pub use prometheus::Error as MetricsError;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    reads: IntCounterVec,
    latency: HistogramVec,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool: Pool,
}

impl Metrics {
    pub fn new(pool: Pool) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "crm_http_requests_total",
                "HTTP requests by method, route and status",
            ),
            &["method", "route", "status"],
        )?;
        let reads = IntCounterVec::new(
            Opts::new(
                "crm_db_reads_total",
                "Database reads by the pool that served them: primary, or replica-N",
            ),
            &["pool"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "crm_http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let pool_size = IntGauge::new("crm_db_pool_connections", "Open database connections")?;
        let pool_idle = IntGauge::new("crm_db_pool_idle_connections", "Idle database connections")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(reads.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_size.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        Ok(Self {
            registry,
            requests,
            reads,
            latency,
            pool_size,
            pool_idle,
            pool,
        })
    }

    pub(crate) fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    pub(crate) fn served_read(&self, pool: &str) {
        self.reads.with_label_values(&[pool]).inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let state = self.pool.state();
        self.pool_size.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
