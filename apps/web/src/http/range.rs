//! HTTP byte ranges (`Range: bytes=…`), for files served in parts, and serving a stored file with
//! them (a video player seeks by asking for ranges).

use crate::context::AppState;
use crate::error::AppError;
use poem::http::StatusCode;
use poem::{Body, Response};

/// A stored file to serve.
pub struct Served<'a> {
    pub key: &'a str,
    /// Its type, as read from its content when it was stored.
    pub content_type: &'a str,
    pub name: &'a str,
    /// Offered as a download (documents) rather than shown in the page (media, images).
    pub attachment: bool,
}

/// Streams a stored file from the file store: the whole of it, or the range asked for (206).
pub async fn serve(state: &AppState, f: &Served<'_>, range: Option<(u64, Option<u64>)>) -> Result<Response, AppError> {
    let fetched = state.files.get(f.key, range).await.map_err(AppError::Internal)?;
    let name = f.name.replace(['"', '\\', '\r', '\n'], "_");
    let disposition = if f.attachment { "attachment" } else { "inline" };
    let len = fetched.range.end - fetched.range.start;
    let mut b = Response::builder()
        .content_type(f.content_type)
        .header("content-length", len.to_string())
        .header("accept-ranges", "bytes")
        .header("content-disposition", format!("{disposition}; filename=\"{name}\""))
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "private, max-age=3600");
    if range.is_some() {
        b = b.status(StatusCode::PARTIAL_CONTENT).header(
            "content-range",
            format!("bytes {}-{}/{}", fetched.range.start, fetched.range.end.saturating_sub(1), fetched.size),
        );
    }
    Ok(b.body(Body::from_bytes_stream(fetched.body)))
}

pub fn parse_range(h: &str) -> Option<(u64, Option<u64>)> {
    let spec = h.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() { None } else { Some(b.trim().parse::<u64>().ok()?.checked_add(1)?) };
    Some((start, end))
}
