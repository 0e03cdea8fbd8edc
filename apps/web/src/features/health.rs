//! `/healthz` (the process is up) and `/readyz` (it can reach what it needs). Any host.

use crate::context::AppState;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde_json::json;

/// Always 200 while the process serves.
pub fn healthz() -> Response {
    Response::builder().content_type("application/json").header("cache-control", "no-store").body(r#"{"status":"ok"}"#)
}

/// 200 when the database (both roles) and Redis (if configured) answer; 503 otherwise.
pub async fn readyz(state: &AppState) -> Response {
    let mut ok = true;
    let db = match (state.dbs.app.ping().await, state.dbs.platform.ping().await) {
        (Ok(()), Ok(())) => "ok".to_owned(),
        (a, b) => {
            ok = false;
            tracing::warn!(app = ?a.err(), platform = ?b.err(), "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let redis = match &state.redis {
        None => "not configured".to_owned(),
        Some(bus) => match bus.ping().await {
            Ok(()) => "ok".to_owned(),
            Err(e) => {
                ok = false;
                tracing::warn!(error = %e, "readiness: Redis unreachable");
                "unreachable".to_owned()
            }
        },
    };
    let body = json!({ "status": if ok { "ok" } else { "unavailable" }, "checks": { "database": db, "redis": redis } });
    Response::builder()
        .status(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE })
        .content_type("application/json")
        .header("cache-control", "no-store")
        .body(body.to_string())
        .into_response()
}
