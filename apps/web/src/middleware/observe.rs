//! Request ids, a tracing span per request, a log line, and metrics.

use crate::middleware::{forwarded, security};
use crate::state::AppState;
use poem::PathPattern;
use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response, Result};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;

/// The request's id: from a trusted proxy's `X-Request-Id`, else a new UUID v7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Which trust served the response (set by the dispatcher), for metrics and logs.
#[derive(Debug, Clone)]
pub struct TenantLabel(pub String);

/// The path as logged: launch tokens and fetch keys in content-origin paths are credentials, so
/// they are replaced by `…`.
fn loggable(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", first @ ("run" | "content"), _token, rest @ ..] => {
            let mut p = format!("/{first}/…");
            for r in rest {
                p.push('/');
                p.push_str(r);
            }
            p
        }
        ["", "cmi5", "fetch", tenant, session, _key] => format!("/cmi5/fetch/{tenant}/{session}/…"),
        _ => path.to_owned(),
    }
}

/// Which requests the access log records, and how it writes them.
pub struct AccessLog {
    mode: Mode,
    every: u64,
    json: bool,
    seen: std::sync::atomic::AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Errors,
    Off,
}

/// A request over this long is always logged (unless the log is off).
const SLOW_SECONDS: f64 = 1.0;

impl AccessLog {
    pub fn new(cfg: &trellis_core::config::LogConfig) -> Self {
        let mode = match cfg.access.as_str() {
            "off" => Mode::Off,
            "errors" => Mode::Errors,
            _ => Mode::All,
        };
        Self {
            mode,
            every: u64::from(cfg.access_sample.max(1)),
            json: cfg.format == "json",
            seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether this request is logged: errors and slow requests always (unless off), the rest
    /// with `all`, one in `access_sample`. The log filter still applies (target `access`).
    fn wants(&self, status: u16, seconds: f64) -> bool {
        let notable = status >= 400 || seconds >= SLOW_SECONDS;
        let chosen = match self.mode {
            Mode::Off => false,
            Mode::Errors => notable,
            Mode::All => {
                notable || self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(self.every)
            }
        };
        chosen && tracing::enabled!(target: "access", tracing::Level::INFO)
    }

    /// Writes one line to standard error, in one write.
    fn write(&self, line: &AccessLine<'_>) {
        use std::io::Write as _;
        let mut text = if self.json { line.json() } else { line.text() };
        text.push('\n');
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// One request, as the access log records it.
#[derive(serde::Serialize)]
struct AccessLine<'a> {
    id: &'a str,
    method: &'a str,
    path: &'a str,
    tenant: &'a str,
    status: u16,
    ms: f64,
    client: &'a str,
}

impl AccessLine<'_> {
    /// The path, cut to its first 100 characters (the line stays short whatever is asked for).
    fn short_path(&self) -> String {
        match self.path.char_indices().nth(100) {
            Some((at, _)) => format!("{}…", &self.path[..at]),
            None => self.path.to_owned(),
        }
    }

    fn now() -> String {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// `{"ts":…,"id":…,"m":"GET","p":"/x","t":"trust","s":200,"ms":1.2,"ip":…}` (the route
    /// pattern is in the metrics, so it is not repeated here).
    fn json(&self) -> String {
        serde_json::json!({
            "ts": Self::now(),
            "id": self.id,
            "m": self.method,
            "p": self.short_path(),
            "t": self.tenant,
            "s": self.status,
            "ms": (self.ms * 100.0).round() / 100.0,
            "ip": self.client,
        })
        .to_string()
    }

    /// `2026-12-06T08:40:00.123Z access GET /x 200 1.20ms trust ip=… id=…`.
    fn text(&self) -> String {
        format!(
            "{} access {} {} {} {:.2}ms {} ip={} id={}",
            Self::now(),
            self.method,
            self.short_path(),
            self.status,
            self.ms,
            self.tenant,
            self.client,
            self.id
        )
    }
}

/// Wraps every request.
pub async fn observe<E: Endpoint>(ep: Arc<E>, mut req: Request, state: AppState) -> Result<Response> {
    let started = Instant::now();
    let proxied = forwarded::peer_ip(&req).is_some_and(|ip| state.proxies.iter().any(|n| n.contains(&ip)));
    let id = req
        .header("x-request-id")
        .filter(|v| proxied && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.set_data(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = loggable(req.uri().path());
    let client = forwarded::client_ip(&req, &state.proxies).map(|ip| ip.to_string()).unwrap_or_default();
    let span = tracing::info_span!("request", request_id = %id, %method, %path, tenant = tracing::field::Empty);
    let result = ep.call(req).instrument(span.clone()).await;
    let mut resp = match result {
        Ok(r) => r.into_response(),
        Err(e) => e.into_response(),
    };
    let route = resp.data::<PathPattern>().map_or_else(|| "unmatched".to_owned(), |p| p.0.to_string());
    let tenant = resp.data::<TenantLabel>().map_or_else(|| "none".to_owned(), |t| t.0.clone());
    let status = resp.status();
    let elapsed = started.elapsed().as_secs_f64();
    state.metrics.requests.with_label_values(&[&route, &method, status.as_str(), &tenant]).inc();
    state.metrics.latency.with_label_values(&[&route, &method]).observe(elapsed);
    state.metrics.tenant_seconds.with_label_values(&[&tenant]).inc_by(elapsed);
    span.record("tenant", tenant.as_str());
    if state.access.wants(status.as_u16(), elapsed) {
        let line = AccessLine {
            id: &id,
            method: &method,
            path: &path,
            tenant: &tenant,
            status: status.as_u16(),
            ms: elapsed * 1000.0,
            client: &client,
        };
        state.access.write(&line);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    security::apply(&mut resp, state.config.server.secure);
    Ok(resp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{AccessLine, loggable};

    #[test]
    fn an_access_line_is_one_short_line() {
        // A learner's page: an id of our own, IPv4, a path with two ids.
        let path = format!("/learn/{}/{}", uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let typical = AccessLine {
            id: &uuid::Uuid::now_v7().to_string(),
            method: "GET",
            path: &path,
            tenant: "northmoor",
            status: 200,
            ms: 1.234_567,
            client: "10.20.30.40",
        };
        // The longest anything can be: a proxy's 64-character request id, the longest slug
        // (63 characters), an IPv6 client and a long path.
        let long_path = format!("/learn/{}/{}", "a".repeat(36), "b".repeat(200));
        let worst = AccessLine {
            id: &"r".repeat(64),
            method: "OPTIONS",
            path: &long_path,
            tenant: &"n".repeat(63),
            status: 303,
            ms: 12.345_678,
            client: "2001:db8:85a3:1234:5678:8a2e:370:7334",
        };
        for text in [typical.json(), typical.text()] {
            assert!(!text.contains('\n'));
            assert!(text.len() < 250, "{} bytes: {text}", text.len());
        }
        for text in [worst.json(), worst.text()] {
            assert!(!text.contains('\n'));
            assert!(text.len() < 400, "{} bytes: {text}", text.len());
        }
        let v: serde_json::Value = serde_json::from_str(&worst.json()).unwrap();
        assert_eq!(v["s"], 303);
        assert_eq!(v["ms"], 12.35);
        assert!(v["p"].as_str().unwrap().ends_with('…'));
    }

    #[test]
    fn launch_tokens_and_fetch_keys_never_reach_the_log() {
        assert_eq!(loggable("/run/SECRET"), "/run/…");
        assert_eq!(loggable("/run/SECRET/commit"), "/run/…/commit");
        assert_eq!(loggable("/content/SECRET/a/b.html"), "/content/…/a/b.html");
        assert_eq!(loggable("/cmi5/fetch/t/s/SECRET"), "/cmi5/fetch/t/s/…");
        assert_eq!(loggable("/courses/1"), "/courses/1");
    }
}
