//! Embedded videos, only with consent: a trust may allow YouTube or Vimeo players in its pages
//! (`embeds` in its `tenant.toml`). A link session to such a video then shows the player, in the
//! service's privacy-enhanced mode (`youtube-nocookie.com`; Vimeo with `dnt=1`), but only once the
//! person has said yes in the cookie banner, on the *Cookies* page or beside the video; before
//! that, and after a no, it shows a link to watch it on the service's own site and no frame is
//! loaded. The choice is kept for 12 months in [`crate::http::cookies::CONSENT`].

use crate::context::AppState;
use crate::error::AppError;
use crate::http::cookies::{CONSENT, CONSENT_DAYS};
use poem::http::StatusCode;
use poem::web::Form;
use poem::{Request, Response, handler};
use serde::Deserialize;

/// A video a page may embed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Embed {
    /// `youtube` or `vimeo`.
    pub service: &'static str,
    /// What the page calls the service.
    pub name: &'static str,
    /// The player's address, in its privacy-enhanced mode.
    pub src: String,
    /// Where to watch it on the service's own site instead.
    pub watch: String,
    /// The origin the page's policy must allow frames from.
    pub origin: &'static str,
}

fn id_ok(id: &str, digits: bool) -> bool {
    !id.is_empty()
        && id.len() <= 20
        && id
            .chars()
            .all(|c| if digits { c.is_ascii_digit() } else { c.is_ascii_alphanumeric() || c == '-' || c == '_' })
}

/// The embeddable video at `url`, if it is on a service in `allowed`.
pub fn embed_of(url: &str, allowed: &[String]) -> Option<Embed> {
    let u = url::Url::parse(url.trim()).ok()?;
    if !matches!(u.scheme(), "https" | "http") {
        return None;
    }
    let host = u.host_str()?.trim_start_matches("www.").trim_start_matches("m.").to_owned();
    let segments: Vec<&str> = u.path_segments().map(|s| s.filter(|x| !x.is_empty()).collect()).unwrap_or_default();
    let youtube = || -> Option<String> {
        match (host.as_str(), segments.as_slice()) {
            ("youtube.com", ["watch"]) => u.query_pairs().find(|(k, _)| k == "v").map(|(_, v)| v.into_owned()),
            ("youtube.com" | "youtube-nocookie.com", ["embed" | "shorts" | "live", id]) => Some((*id).to_owned()),
            ("youtu.be", [id]) => Some((*id).to_owned()),
            _ => None,
        }
    };
    let vimeo = || -> Option<String> {
        match (host.as_str(), segments.as_slice()) {
            ("vimeo.com", [id]) | ("player.vimeo.com", ["video", id]) => Some((*id).to_owned()),
            _ => None,
        }
    };
    if allowed.iter().any(|a| a == "youtube")
        && let Some(id) = youtube().filter(|id| id_ok(id, false))
    {
        return Some(Embed {
            service: "youtube",
            name: "YouTube",
            src: format!("https://www.youtube-nocookie.com/embed/{id}"),
            watch: format!("https://www.youtube.com/watch?v={id}"),
            origin: "https://www.youtube-nocookie.com",
        });
    }
    if allowed.iter().any(|a| a == "vimeo")
        && let Some(id) = vimeo().filter(|id| id_ok(id, true))
    {
        return Some(Embed {
            service: "vimeo",
            name: "Vimeo",
            src: format!("https://player.vimeo.com/video/{id}?dnt=1"),
            watch: format!("https://vimeo.com/{id}"),
            origin: "https://player.vimeo.com",
        });
    }
    None
}

#[derive(Debug, Deserialize, Default)]
pub struct ChoiceForm {
    #[serde(default)]
    choice: String,
    #[serde(default)]
    back: String,
}

/// Only a form of this site's own pages may set the choice: the browser says where the request
/// came from (`Sec-Fetch-Site`, or `Origin`); one from another site is refused.
fn same_site(req: &Request) -> bool {
    if let Some(v) = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(v, "same-origin" | "none");
    }
    match req.headers().get("origin").and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
            url::Url::parse(origin).ok().is_some_and(|o| {
                let with_port = match o.port() {
                    Some(p) => format!("{}:{p}", o.host_str().unwrap_or("")),
                    None => o.host_str().unwrap_or("").to_owned(),
                };
                with_port.eq_ignore_ascii_case(host)
            })
        }
        // Neither header: an old browser or a script; the choice harms no one, so it is kept.
        None => true,
    }
}

/// Records the choice about embedded videos (yes or no, for 12 months) and goes back to the page
/// it was made on, which then says it was saved.
#[handler]
pub async fn choose(req: &Request, Form(f): Form<ChoiceForm>) -> Result<Response, AppError> {
    let state = req.data::<AppState>().ok_or(AppError::NotFound)?;
    if !same_site(req) {
        return Err(AppError::forbidden(
            "This choice was not made here",
            "Cookie choices can only be made on this site's own pages.",
            Some(("Go to the cookies page", "/cookies")),
        ));
    }
    let value = match f.choice.as_str() {
        "accept" => "yes",
        "reject" => "no",
        _ => return Err(AppError::BadRequest("Choose whether to allow embedded videos.".into())),
    };
    // Only a path of this site (never another site's address).
    let back = if f.back.starts_with('/')
        && !f.back.starts_with("//")
        && !f.back.contains('\\')
        && !f.back.chars().any(char::is_control)
    {
        f.back.split('#').next().unwrap_or("/").to_owned()
    } else {
        "/".to_owned()
    };
    let back = format!("{back}{}cookies=saved", if back.contains('?') { '&' } else { '?' });
    let secure = if state.config.server.secure { "; Secure" } else { "" };
    let cookie =
        format!("{CONSENT}={value}; Max-Age={}; Path=/; HttpOnly; SameSite=Lax{secure}", CONSENT_DAYS * 86_400);
    Ok(Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header("location", back)
        .header("set-cookie", cookie)
        .header("cache-control", "no-store")
        .finish())
}

#[cfg(test)]
mod tests {
    use super::embed_of;

    #[test]
    fn only_allowed_services_and_real_video_ids_are_embedded() {
        let both = vec!["youtube".to_owned(), "vimeo".to_owned()];
        for url in [
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
            "https://youtu.be/dQw4w9WgXcQ",
            "https://youtube.com/embed/dQw4w9WgXcQ",
            "https://m.youtube.com/shorts/dQw4w9WgXcQ",
        ] {
            let src = embed_of(url, &both).map(|e| e.src);
            assert_eq!(src.as_deref(), Some("https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"), "{url}");
        }
        assert_eq!(
            embed_of("https://vimeo.com/76979871", &both).map(|e| e.src).as_deref(),
            Some("https://player.vimeo.com/video/76979871?dnt=1")
        );
        assert!(embed_of("https://vimeo.com/76979871", &["youtube".to_owned()]).is_none(), "not allowed here");
        for bad in [
            "https://www.youtube.com/watch?v=x\"><script>",
            "https://vimeo.com/abc",
            "https://evil.example/watch?v=dQw4w9WgXcQ",
            "javascript:alert(1)",
            "https://youtube.com.evil.example/watch?v=abc",
        ] {
            assert!(embed_of(bad, &both).is_none(), "{bad}");
        }
    }
}
