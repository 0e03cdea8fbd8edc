//! Download audit: every response of a trust's site that hands out a file (one with a
//! `Content-Disposition` filename: media, certificates, reports, exports) is recorded in the
//! upload and download log (`trellis_db::transfers`) with who, what, when, the bytes actually sent
//! and the trust. The [`record`] middleware counts the bytes as the body goes and records once it
//! has finished, or once the client has gone (`complete: false`), in a transaction of its own
//! (the bytes sent are only known then). A video player's later byte ranges are not counted again
//! (only a whole file or a range from the start is). A handler may name the download itself with
//! [`note`] (what it is, and for whom).

use crate::context::AppState;
use crate::context::directory::Site;
use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use trellis_db::transfers::{self, Direction, NewTransfer};
use trellis_domain::PersonId;

/// What a response hands out, and to whom.
#[derive(Debug, Clone)]
pub struct Download {
    pub person: Option<PersonId>,
    /// `media`, `certificate`, `activity`, `report`, `export`, `earnings`, …
    pub what: &'static str,
    /// The file as people know it.
    pub subject: String,
}

/// Marks `resp` as a download of content, to be recorded once it has been sent.
pub fn note(mut resp: Response, person: Option<PersonId>, what: &'static str, subject: &str) -> Response {
    resp.set_data(Download { person, what, subject: subject.to_owned() });
    resp
}

/// The middleware: records each successful download (see the module's notes).
pub async fn record<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let state = req.data::<AppState>().cloned();
    let site = req.data::<Arc<Site>>().cloned();
    let (Some(state), Some(site)) = (state, site) else { return next.call(req).await.map(IntoResponse::into_response) };
    let ip = crate::http::middleware::forwarded::client_ip(&req, &state.proxies)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let person =
        req.extensions().get::<poem::session::Session>().and_then(|s| crate::http::auth::session_person(s, &site));
    let path = req.uri().path().to_owned();
    let mut resp = next.call(req).await?.into_response();
    let noted = resp.data::<Download>().cloned();
    let file = resp
        .headers()
        .get(poem::http::header::CONTENT_DISPOSITION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once("filename=\"").map(|(_, f)| f.trim_end_matches('"').to_owned()));
    if (noted.is_none() && file.is_none()) || !resp.status().is_success() {
        return Ok(resp);
    }
    // A player's later ranges of a file already being counted.
    let from_start = resp
        .headers()
        .get(poem::http::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|r| r.starts_with("bytes 0-"));
    if !from_start {
        return Ok(resp);
    }
    let download =
        noted.unwrap_or_else(|| Download { person, what: what_of(&path), subject: file.unwrap_or_default() });
    let body = resp.take_body().into_bytes_stream();
    let done: Done = Box::new(move |bytes, complete| {
        let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
        handle.spawn(async move {
            let written = async {
                let tx = state.dbs.app.begin(site.entry.id).await?;
                transfers::record(
                    &tx,
                    &NewTransfer {
                        direction: Direction::Download,
                        what: download.what,
                        person: download.person,
                        subject: &download.subject,
                        bytes,
                        ip: &ip,
                        detail: serde_json::json!({ "complete": complete }),
                    },
                )
                .await?;
                tx.commit().await?;
                Ok::<_, trellis_db::DbError>(())
            }
            .await;
            if let Err(e) = written {
                tracing::error!(error = %e, tenant = %site.entry.slug, "download not recorded");
            }
        });
    });
    resp.set_body(poem::Body::from_bytes_stream(Counted { inner: Box::pin(body), sent: 0, done: Some(done) }));
    Ok(resp)
}

/// Who is sending an upload with this request: `person` (none for an API token), from the
/// client's address.
pub fn uploader(
    state: &AppState,
    req: &Request,
    person: Option<PersonId>,
    api_token: Option<String>,
) -> crate::usecases::uploads::Uploader {
    let ip = crate::http::middleware::forwarded::client_ip(req, &state.proxies).map(|ip| ip.to_string());
    crate::usecases::uploads::Uploader { person, ip: ip.unwrap_or_default(), api_token }
}

/// What a download is, by where it was asked for.
fn what_of(path: &str) -> &'static str {
    if path.contains("certificate") {
        "certificate"
    } else if path.starts_with("/learn/") {
        "media"
    } else if path.starts_with("/account/activity") || path.starts_with("/tutor/") {
        "activity"
    } else if path.starts_with("/account/") {
        "export"
    } else if path.starts_with("/reporting/") {
        "report"
    } else if path.starts_with("/admin/") {
        "admin_export"
    } else if path.starts_with("/selling") || path.starts_with("/marketplace") {
        "marketplace"
    } else {
        "file"
    }
}

type Done = Box<dyn FnOnce(u64, bool) + Send>;

/// A body that counts what it yields and reports once, at its end or when dropped unfinished.
struct Counted {
    inner: BoxStream<'static, std::io::Result<Bytes>>,
    sent: u64,
    done: Option<Done>,
}

impl Stream for Counted {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(b))) => self.sent += b.len() as u64,
            Poll::Ready(None) => {
                if let Some(done) = self.done.take() {
                    done(self.sent, true);
                }
            }
            _ => {}
        }
        next
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done(self.sent, false);
        }
    }
}
