//! A trust's own pages on its host.

use crate::context::AppState;
use crate::error::AppError;
use crate::http::page;
use crate::http::{Ctx, CurrentSite};
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

/// How many key messages the home page shows.
const HOME_MESSAGES: u64 = 10;

/// The trust's home page: its name, branding and current key messages (read from the database).
#[handler]
pub async fn home(Ctx { req, state, site }: Ctx<'_>) -> Result<Response, AppError> {
    if let Some(resp) = crate::features::home::signed_in(req, state, site).await? {
        return Ok(resp);
    }
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let messages = trellis_db::site::current_messages(&tx, site.today(), HOME_MESSAGES).await?;
    tx.commit().await?;
    let messages = crate::features::home::messages_json(&messages);
    let mut ctx = page::context(state, Some(site), &page::RequestInfo::of(req), "Home", &[]);
    ctx.insert("messages", &messages);
    page::render(state, Some(site), "pages/tenant_home.html", &ctx, StatusCode::OK)
}

/// The cookies page: every cookie the service sets, from its one list.
#[handler]
pub fn cookies(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
) -> Result<Response, AppError> {
    let mut ctx = page::context(state, Some(site), &page::RequestInfo::of(req), "Cookies", &[("Home", "/")]);
    ctx.insert("cookies", &crate::http::cookies::all(&state.config));
    if site.asks_video_consent() {
        let names: Vec<&str> =
            site.entry.embeds.iter().map(|e| if e == "youtube" { "YouTube" } else { "Vimeo" }).collect();
        ctx.insert("consent_asked", &true);
        ctx.insert("embed_names", &names.join(" and "));
        ctx.insert("consent", &crate::http::cookies::consent_of(req));
    }
    page::render(state, Some(site), "pages/cookies.html", &ctx, StatusCode::OK)
}

/// The trust's accessibility statement.
#[handler]
pub fn accessibility(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
) -> Result<Response, AppError> {
    let ctx =
        page::context(state, Some(site), &page::RequestInfo::of(req), "Accessibility statement", &[("Home", "/")]);
    page::render(state, Some(site), "pages/accessibility.html", &ctx, StatusCode::OK)
}

/// The per-trust stylesheet (`/trust-style/<hash>.css`). A stale hash still gets the current
/// sheet, uncached, so a page cached across a colour change is never unstyled.
#[handler]
pub fn stylesheet(Path(file): Path<String>, CurrentSite(site): CurrentSite<'_>) -> Response {
    let current = file.strip_suffix(".css") == Some(site.stylesheet_hash.as_str());
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header("cache-control", if current { "public, max-age=31536000, immutable" } else { "no-cache" })
        .body(site.stylesheet.clone())
}

/// The trust's logo by content hash. SVG is served under a sandboxing policy of its own.
#[handler]
pub async fn logo(Path(sha): Path<String>, Ctx { state, site, .. }: Ctx<'_>) -> Result<Response, AppError> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::NotFound);
    }
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let logo = trellis_db::site::logo(&tx, &sha).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(Response::builder()
        .content_type(logo.content_type.as_str())
        .header("cache-control", "public, max-age=31536000, immutable")
        .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
        .body(logo.bytes))
}
