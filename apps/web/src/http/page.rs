//! Themed pages: the context every template gets, and rendering.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::middleware::observe::RequestId;
use poem::http::StatusCode;
use poem::{Request, Response};
use serde_json::json;

/// What a page needs of its request (kept apart so error pages can be made after the request
/// has been handed to a route).
#[derive(Debug, Clone)]
pub struct RequestInfo {
    pub path: String,
    pub request_id: String,
    pub wants_json: bool,
    /// Who is signed in, as the header shows them (on pages served with a session).
    pub viewer: Option<crate::http::auth::Viewer>,
    /// The CSRF token (on pages served with a session), for the header's sign-out form.
    pub csrf: Option<String>,
    /// What the last action did, said once on the page it led to (the success banner).
    pub flash: Option<String>,
    /// The browser's choice about embedded videos, if it has made one.
    pub consent: Option<bool>,
    /// The page was reached by making that choice (`?cookies=saved`): the banner says it is saved.
    pub cookies_saved: bool,
}

/// The session key of the success banner's message.
pub(crate) const K_FLASH: &str = "flash";

/// A `303 See Other` to `to` after an action, with `message` ("Logo updated") shown once in the
/// success banner of the page it leads to. Without a session (never on a form post) the message
/// is dropped.
pub fn see_other_saying(req: &Request, to: &str, message: impl Into<String>) -> Response {
    if let Some(session) = req.extensions().get::<poem::session::Session>() {
        session.set(K_FLASH, message.into());
    }
    see_other(to)
}

impl RequestInfo {
    pub fn of(req: &Request) -> Self {
        Self {
            path: req.uri().path().to_owned(),
            request_id: req.data::<RequestId>().map_or_else(String::new, |r| r.0.clone()),
            wants_json: crate::error::wants_json(req),
            viewer: crate::http::auth::viewer_of(req),
            csrf: req.extensions().get::<poem::web::CsrfToken>().map(|t| t.0.clone()),
            flash: req.extensions().get::<poem::session::Session>().and_then(|s| {
                let m = s.get::<String>(K_FLASH);
                if m.is_some() {
                    s.remove(K_FLASH);
                }
                m
            }),
            consent: crate::http::cookies::consent_of(req),
            cookies_saved: req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "cookies=saved")),
        }
    }
}

/// The context every page shares: platform, trust (if any), title, breadcrumbs, request id.
pub fn context(
    state: &AppState,
    site: Option<&Site>,
    info: &RequestInfo,
    title: &str,
    breadcrumbs: &[(&str, &str)],
) -> tera::Context {
    let theme = site.map_or("default", |s| s.entry.theme.as_str());
    let mut ctx = tera::Context::new();
    ctx.insert("platform_name", "Trellis");
    ctx.insert("platform_url", &state.config.url_for_host(&state.config.server.base_domain));
    ctx.insert("css_url", state.themes.css_url(theme));
    if let Some(site) = site {
        ctx.insert_value("tenant", site.view.clone());
        // A site that offers embedded videos asks once (the cookie banner), and says when the
        // choice was saved.
        if site.asks_video_consent() {
            ctx.insert("cookie_banner", &info.consent.is_none());
            ctx.insert("cookie_back", &info.path);
            if info.cookies_saved {
                ctx.insert("cookies_saved", &info.consent);
            }
        }
    }
    ctx.insert("title", title);
    let crumbs: Vec<_> = breadcrumbs.iter().map(|(label, href)| json!({ "label": label, "href": href })).collect();
    ctx.insert("breadcrumbs", &crumbs);
    ctx.insert("request_id", &info.request_id);
    if let Some(v) = &info.viewer {
        ctx.insert("viewer", v);
    }
    if let Some(t) = &info.csrf {
        ctx.insert("csrf_token", t);
    }
    if let Some(m) = &info.flash {
        ctx.insert("flash", m);
    }
    ctx
}

/// Renders a page of the site's theme (the default theme on platform pages).
pub fn render(
    state: &AppState,
    site: Option<&Site>,
    template: &str,
    ctx: &tera::Context,
    status: StatusCode,
) -> Result<Response, AppError> {
    let theme = site.map_or("default", |s| s.entry.theme.as_str());
    let html = state.themes.render(theme, template, ctx)?;
    Ok(Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(html))
}

/// The themed error page (or a problem document if the client wants JSON).
pub fn error_page(
    state: &AppState,
    site: Option<&Site>,
    info: &RequestInfo,
    status: StatusCode,
    err: Option<&poem::Error>,
) -> Response {
    let app_err = err.and_then(|e| e.downcast_ref::<AppError>());
    if let Some(to) = app_err.and_then(AppError::redirect) {
        return see_other(to);
    }
    if let Some(AppError::Forbidden(r)) = app_err
        && !info.wants_json
    {
        let mut ctx = context(state, site, info, &r.heading, &[("Home", "/")]);
        ctx.insert("heading", &r.heading);
        ctx.insert("body", &r.detail);
        ctx.insert("link", &r.link.as_ref().map(|(label, href)| json!({ "label": label, "href": href })));
        return render(state, site, "pages/message.html", &ctx, status).unwrap_or_else(|e| {
            tracing::error!(error = ?e, "cannot render the refusal page");
            crate::error::plain_page(status, &r.heading, &r.detail)
        });
    }
    let (heading, detail) = crate::error::describe(status, err);
    if info.wants_json {
        return crate::error::problem(status, &heading, &detail, &info.path);
    }
    let mut ctx = context(state, site, info, &heading, &[]);
    ctx.insert("status", &status.as_u16());
    ctx.insert("heading", &heading);
    ctx.insert("detail", &detail);
    render(state, site, "pages/error.html", &ctx, status).unwrap_or_else(|e| {
        tracing::error!(error = ?e, "cannot render the error page");
        crate::error::plain_page(status, &heading, &detail)
    })
}

/// A date as entered: the NHS date input's day, month and year (`parts`), or one `yyyy-mm-dd`
/// field. `None` when nothing was entered, `Some(Err(()))` when it is not a real date.
pub fn date_entered(one: &str, parts: [&str; 3]) -> Option<Result<chrono::NaiveDate, ()>> {
    let [d, m, y] = parts.map(str::trim);
    if d.is_empty() && m.is_empty() && y.is_empty() {
        let one = one.trim();
        if one.is_empty() {
            return None;
        }
        return Some(chrono::NaiveDate::parse_from_str(one, "%Y-%m-%d").map_err(|_| ()));
    }
    let num = |s: &str| s.parse::<u32>().ok();
    Some(match (num(d), num(m), y.parse::<i32>().ok()) {
        (Some(d), Some(m), Some(y)) if (1000..=9999).contains(&y) => chrono::NaiveDate::from_ymd_opt(y, m, d).ok_or(()),
        _ => Err(()),
    })
}

/// A date as entered, for showing the form again: `year-month-day` of the parts as typed.
pub fn date_as_typed(one: &str, parts: [&str; 3]) -> String {
    let [d, m, y] = parts.map(str::trim);
    if d.is_empty() && m.is_empty() && y.is_empty() { one.trim().to_owned() } else { format!("{y}-{m}-{d}") }
}

/// An id from the request path; one that does not parse is "not found", like one that matches
/// nothing.
/// The "until" day of a grant form (`until`, or `until-day`/`-month`/`-year`): after `today` and
/// at most `max_days` ahead; otherwise the error is put on `until` (`missing` when nothing was
/// entered).
pub fn last_day(
    one: &dyn Fn(&str) -> String,
    today: chrono::NaiveDate,
    max_days: i64,
    missing: &str,
    errors: &mut crate::http::form::FormErrors,
) -> Option<chrono::NaiveDate> {
    match date_entered(&one("until"), [&one("until-day"), &one("until-month"), &one("until-year")]) {
        Some(Ok(d)) if d > today && d <= today + chrono::Duration::days(max_days) => Some(d),
        Some(Ok(_)) => {
            errors.insert("until", "Choose a day after today and no more than 12 months ahead");
            None
        }
        Some(Err(())) => {
            errors.insert("until", "Enter the last day as a real date, like 31 3 2027");
            None
        }
        None => {
            errors.insert("until", missing);
            None
        }
    }
}

/// Text made safe inside HTML or XML markup and its double-quoted attributes.
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A new capability link's token: 256 random bits, URL-safe (kept only as its hash).
pub fn link_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub fn path_id<T: std::str::FromStr>(raw: &str) -> Result<T, AppError> {
    raw.parse().map_err(|_| AppError::NotFound)
}

/// A `303 See Other` to `to`: where a form post or a refused page sends the browser next.
pub fn see_other(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header("location", to).finish()
}
