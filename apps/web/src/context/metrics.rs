//! Prometheus metrics, served on the internal listener only.
//!
//! Requests are counted by route, method, status and trust. Latency histograms are by route and
//! method only, with a per-trust sum of seconds beside them: a histogram per trust per route would
//! multiply series by thousands of trusts.

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The platform's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub tenant_seconds: CounterVec,
    pub host_reloads: IntCounter,
    /// Password checks (argon2 verifications) made for sign-ins, by whether an account's own hash
    /// or the stand-in was checked: the same work either way, so the two are alike in cost.
    pub password_checks: IntCounterVec,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("trellis_http_requests_total", "HTTP requests by route, method, status and trust"),
            &["route", "method", "status", "tenant"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("trellis_http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route", "method"],
        )?;
        let tenant_seconds = CounterVec::new(
            Opts::new("trellis_http_request_seconds_total", "Total time spent serving each trust's requests"),
            &["tenant"],
        )?;
        let host_reloads = IntCounter::new("trellis_host_map_reloads_total", "Host map reloads")?;
        let password_checks = IntCounterVec::new(
            Opts::new("trellis_password_checks_total", "argon2 password verifications for sign-ins"),
            &["against"],
        )?;
        registry.register(Box::new(password_checks.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(tenant_seconds.clone()))?;
        registry.register(Box::new(host_reloads.clone()))?;
        Ok(Self { registry, requests, latency, tenant_seconds, host_reloads, password_checks })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
