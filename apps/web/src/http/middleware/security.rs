//! Security headers on every response.

use poem::Response;
use poem::http::HeaderValue;

/// The strict policy every page carries: no inline script or style, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; \
connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the headers a response has not set itself.
pub fn apply(resp: &mut Response, secure: bool) {
    let mut set = |name: &'static str, value: &'static str| {
        if !resp.headers().contains_key(name) {
            resp.headers_mut().insert(name, HeaderValue::from_static(value));
        }
    };
    set("content-security-policy", CSP);
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "strict-origin-when-cross-origin");
    set("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
    set("cross-origin-opener-policy", "same-origin");
    set("cross-origin-resource-policy", "same-origin");
    if secure {
        set("strict-transport-security", "max-age=63072000; includeSubDomains");
    }
}
