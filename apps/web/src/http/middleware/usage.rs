//! Counts page views for managers' usage figures, on the server and without cookies: each HTML
//! page a trust's site serves (its administration pages aside), and each course's pages.

use crate::context::AppState;
use crate::context::directory::Site;
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;

/// The middleware: counts each page served.
pub async fn count<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let counted = (req.method() == poem::http::Method::GET && !req.uri().path().starts_with("/admin"))
        .then(|| (req.data::<AppState>().cloned(), req.data::<Arc<Site>>().cloned(), req.uri().path().to_owned()));
    let resp = next.call(req).await?.into_response();
    if let Some((Some(state), Some(site), path)) = counted
        && resp.status() == poem::http::StatusCode::OK
        && resp.content_type().is_some_and(|c| c.starts_with("text/html"))
    {
        state.usage.view(site.entry.id, crate::context::usage::course_of(&path));
    }
    Ok(resp)
}
