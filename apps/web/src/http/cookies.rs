//! Every cookie the service sets, in one list: the session and CSRF middleware take their names
//! from here, and each site's *Cookies* page (`/cookies`) is made from it, so the page cannot
//! drift from what is set. Trellis's own are strictly necessary; there are no analytics or
//! advertising cookies. Usage figures for managers are counted on the server, without any cookie.
//! The one choice asked for is embedded videos (a trust may allow YouTube or Vimeo players, which
//! set cookies of their own): [`CONSENT`] remembers it, and no such player loads without a yes.

use trellis_domain::config::Config;

/// The session cookie: which signed-in session this browser is (host-only, HttpOnly, SameSite=Lax).
pub const SESSION: &str = "trellis_session";
/// The CSRF cookie: ties the forms a page shows to this browser.
pub const CSRF: &str = "trellis_csrf";

/// The cookie that remembers a person's choice about embedded videos (`yes` or `no`).
pub const CONSENT: &str = "trellis_consent";
/// How long that choice lasts: 12 months.
pub const CONSENT_DAYS: i64 = 365;

/// The choice this request's browser made about embedded videos, if any.
pub fn consent_of(req: &poem::Request) -> Option<bool> {
    let header = req.headers().get(poem::http::header::COOKIE)?.to_str().ok()?;
    header.split(';').map(str::trim).find_map(|c| match c.split_once('=') {
        Some((name, "yes")) if name == CONSENT => Some(true),
        Some((name, "no")) if name == CONSENT => Some(false),
        _ => None,
    })
}

/// One cookie as the *Cookies* page describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CookieUse {
    pub name: &'static str,
    pub purpose: &'static str,
    pub lasts: String,
    pub necessary: bool,
}

/// Every cookie the service sets, with how long each lasts under this configuration.
pub fn all(config: &Config) -> Vec<CookieUse> {
    let hours = config.auth.session_absolute_hours;
    vec![
        CookieUse {
            name: SESSION,
            purpose: "Keeps you signed in as you move from page to page, and remembers messages shown after an action. Set when you visit a page that has a form or needs you signed in.",
            lasts: format!(
                "{hours} {}, or until you sign out (after {} minutes without using the site you are asked to sign in again)",
                if hours == 1 { "hour" } else { "hours" },
                config.auth.session_idle_minutes
            ),
            necessary: true,
        },
        CookieUse {
            name: CSRF,
            purpose: "Proves that a form you send was shown to you by this site, so another website cannot send it in your name.",
            lasts: "Until you close your browser".into(),
            necessary: true,
        },
        CookieUse {
            name: CONSENT,
            purpose: "Remembers whether you agreed to videos from YouTube or Vimeo being shown in pages, on sites that offer them. Set only when you choose.",
            lasts: "12 months, or until you change your choice on this page".into(),
            necessary: true,
        },
    ]
}
