//! Request ids, a tracing span per request, a log line, and metrics.

use crate::context::AppState;
use crate::context::access_log::AccessLine;
use crate::http::middleware::{forwarded, security};
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
        // Capability links: the token is the credential, so it never reaches the logs.
        ["", first @ ("run" | "content" | "tutor" | "certificate-check"), _token, rest @ ..] => {
            let mut p = format!("/{first}/…");
            for r in rest {
                p.push('/');
                p.push_str(r);
            }
            p
        }
        ["", "cmi5", "fetch", tenant, session, _key] => format!("/cmi5/fetch/{tenant}/{session}/…"),
        ["", "reporting", "authoriser", _token] => "/reporting/authoriser/…".to_owned(),
        _ => path.to_owned(),
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
mod tests {
    use super::loggable;

    #[test]
    fn launch_tokens_and_fetch_keys_never_reach_the_log() {
        assert_eq!(loggable("/run/SECRET"), "/run/…");
        assert_eq!(loggable("/run/SECRET/commit"), "/run/…/commit");
        assert_eq!(loggable("/content/SECRET/a/b.html"), "/content/…/a/b.html");
        assert_eq!(loggable("/cmi5/fetch/t/s/SECRET"), "/cmi5/fetch/t/s/…");
        assert_eq!(loggable("/tutor/SECRET"), "/tutor/…");
        assert_eq!(loggable("/tutor/SECRET/courses/c"), "/tutor/…/courses/c");
        assert_eq!(loggable("/certificate-check/SECRET"), "/certificate-check/…");
        assert_eq!(loggable("/reporting/authoriser/SECRET"), "/reporting/authoriser/…");
        assert_eq!(loggable("/courses/1"), "/courses/1");
    }
}
