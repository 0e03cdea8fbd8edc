//! CSRF protection on every unsafe request, checked in one place so no handler can forget it.
//! poem's `Csrf` middleware issues the token (a cookie plus a masked form value); here every
//! POST, PUT, PATCH and DELETE must carry the value, as the form field `csrf_token` or the
//! `X-CSRF-Token` header, or it gets a 403 page.

use poem::http::{Method, StatusCode};
use poem::web::CsrfVerifier;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};
use std::sync::Arc;
use trellis_db::audit;

/// The form field that carries the token.
pub const FIELD: &str = "csrf_token";

/// Why the request was refused.
#[derive(Debug, thiserror::Error)]
#[error("The form has expired or did not come from this site. Go back, reload the page and try again.")]
pub struct CsrfFailed;

impl poem::error::ResponseError for CsrfFailed {
    fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

/// Verifies the token on unsafe methods, then calls `ep`.
pub async fn verify<E: Endpoint>(ep: Arc<E>, mut req: Request) -> Result<Response> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(ep.call(req).await?.into_response());
    }
    let header = req.header("x-csrf-token").map(str::to_owned);
    let token = match header {
        Some(t) => Some(t),
        None => {
            let content_type = req.header("content-type").unwrap_or_default().to_owned();
            if content_type.starts_with("application/x-www-form-urlencoded") {
                let bytes = req.take_body().into_bytes().await.map_err(|_| CsrfFailed)?;
                let token = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == FIELD).map(|(_, v)| v.into_owned());
                req.set_body(Body::from_bytes(bytes));
                token
            } else if content_type.starts_with("multipart/form-data") {
                // An upload form, which may be hundreds of megabytes: the token must be the first
                // field (every form here puts it first). Read only as far as the end of that
                // field, then hand the handler the bytes read followed by the rest, still streaming.
                let (token, body) = first_multipart_field(&content_type, req.take_body()).await;
                req.set_body(body);
                token
            } else {
                None
            }
        }
    };
    let valid = match (token, req.extensions().get::<CsrfVerifier>()) {
        (Some(t), Some(v)) => v.is_valid(&t),
        _ => false,
    };
    if !valid {
        record_refusal(&req).await;
        return Err(CsrfFailed.into());
    }
    Ok(ep.call(req).await?.into_response())
}

/// Reads a multipart body as far as the end of its first field (at most 64 KiB) and returns that
/// field's value if it is the token, with a body that replays what was read and streams the rest.
async fn first_multipart_field(content_type: &str, body: Body) -> (Option<String>, Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_bytes_stream();
    let Ok(boundary) = multer::parse_boundary(content_type) else {
        return (None, Body::from_bytes_stream(stream));
    };
    let marker = format!("--{boundary}");
    let mut prefix = bytes::BytesMut::new();
    let mut failed = false;
    while prefix.len() < 64 * 1024 && count(&prefix, marker.as_bytes()) < 2 {
        match stream.next().await {
            Some(Ok(chunk)) => prefix.extend_from_slice(&chunk),
            Some(Err(_)) => {
                failed = true;
                break;
            }
            None => break,
        }
    }
    let prefix = prefix.freeze();
    let token = if failed { None } else { multipart_field(content_type, prefix.clone()).await };
    let replay = futures_util::stream::once(async move { Ok::<_, std::io::Error>(prefix) }).chain(stream);
    (token, Body::from_bytes_stream(replay))
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

/// The `csrf_token` field of a multipart body, if it is the first field.
async fn multipart_field(content_type: &str, bytes: bytes::Bytes) -> Option<String> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut parts = multer::Multipart::new(stream, boundary);
    match parts.next_field().await {
        Ok(Some(field)) if field.name() == Some(FIELD) => field.text().await.ok(),
        _ => None,
    }
}

/// Puts the refused attempt in the trust's audit trail.
async fn record_refusal(req: &Request) {
    let (Some(state), Some(site)) =
        (req.data::<crate::context::AppState>(), req.data::<Arc<crate::context::directory::Site>>())
    else {
        return;
    };
    let ip = crate::http::middleware::forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string());
    let result = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        audit::record(&tx, None, "csrf.refused", req.uri().path(), ip.as_deref(), serde_json::json!({})).await?;
        tx.commit().await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot record a refused CSRF check");
    }
}
