//! Request size limits: headers (431) and bodies (413), whether or not a length is declared.

use crate::error::plain_page;
use futures_util::StreamExt;
use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Request, Response, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which body limit applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Forms and the rest: `server.max_body_bytes`.
    Plain,
    /// Course media, a library resource or a staff file (`files.max_upload_mb`).
    Upload,
    /// An e-learning package (`elearning.max_package_mb`).
    Package,
    /// The LRS (statements with attachments) and SCORM commits.
    Records,
}

/// The kind of body a request carries, by its path; handlers then enforce their own limits as
/// they stream.
pub fn kind(req: &Request) -> Kind {
    let path = req.uri().path();
    let multipart = req.header("content-type").is_some_and(|c| c.starts_with("multipart/form-data"));
    if path == "/xapi" || path.starts_with("/xapi/") || (path.starts_with("/run/") && path.ends_with("/commit")) {
        Kind::Records
    } else if (multipart && path.starts_with("/admin/courses/") && path.ends_with("/package"))
        || (req.method() == poem::http::Method::POST
            && (path == "/api/v1/courses" || (path.starts_with("/api/v1/courses/") && path.ends_with("/package"))))
    {
        Kind::Package
    } else if multipart
        && ((path.starts_with("/admin/courses/") && path.contains("/sessions"))
            || path == "/admin/staff/import"
            || path == "/library"
            || (path.starts_with("/library/") && path.ends_with("/versions")))
    {
        Kind::Upload
    } else {
        Kind::Plain
    }
}

/// Checks the limits, then calls `ep`.
pub async fn limit<E: Endpoint>(ep: Arc<E>, mut req: Request, max_headers: usize, max_body: usize) -> Result<Response> {
    let header_bytes: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if header_bytes > max_headers {
        return Ok(plain_page(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request headers too large",
            &format!("The request's headers are {header_bytes} bytes; this service accepts at most {max_headers}."),
        ));
    }
    let declared = req.header("content-length").map(|v| v.trim().parse::<usize>());
    match declared {
        Some(Ok(len)) if len > max_body => {
            return Ok(plain_page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request too large",
                &format!("The request body is {len} bytes; this service accepts at most {max_body}."),
            ));
        }
        Some(Err(_)) => {
            return Ok(plain_page(
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The Content-Length header is not a number.",
            ));
        }
        Some(Ok(_)) => {}
        None => {
            // No declared length (chunked): count as it streams and stop past the limit.
            let seen = Arc::new(AtomicUsize::new(0));
            let body = req.take_body().into_bytes_stream();
            let limited = body.map(move |chunk| {
                let chunk = chunk?;
                if seen.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len() > max_body {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "request body too large"));
                }
                Ok(chunk)
            });
            req.set_body(Body::from_bytes_stream(limited));
        }
    }
    Ok(ep.call(req).await?.into_response())
}
