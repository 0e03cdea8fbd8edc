//! Input every route can trust: one Host, not contradicted by the request line, and no control
//! characters (NUL above all, which PostgreSQL cannot store) in query strings or form fields.
//! Each refusal names what was wrong, so the person can correct it; nothing reaches a handler.

use poem::{Body, Request};

/// Whether a character may appear in a form field or query parameter: any but the control
/// characters (C0, DEL and C1), tab, line feed and carriage return excepted.
pub fn acceptable(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// The first field (by name) whose name or value holds a character no form may carry.
pub fn bad_field<'a, I>(pairs: I) -> Option<String>
where
    I: IntoIterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
{
    pairs.into_iter().find_map(|(k, v)| {
        let bad = |s: &str| s.chars().any(|c| !acceptable(c));
        (bad(&k) || bad(&v)).then(|| k.chars().filter(|c| acceptable(*c)).take(60).collect())
    })
}

/// What to tell the person about a field that holds a control character.
pub fn field_message(field: &str) -> String {
    if field.is_empty() {
        "A field in the form contains a control character (such as a NUL byte), which this service does not accept. Remove it and try again.".into()
    } else {
        format!(
            "The field \u{201c}{field}\u{201d} contains a control character (such as a NUL byte), which this service does not accept. Remove it and try again."
        )
    }
}

/// Why the request's host is ambiguous, if it is: more than one `Host` header, or a request line
/// in absolute form (`GET http://a.example/ HTTP/1.1`) whose authority is not the `Host` given.
pub fn ambiguous_host(req: &Request) -> Option<String> {
    let hosts: Vec<&str> = req.headers().get_all("host").iter().filter_map(|v| v.to_str().ok()).collect();
    if req.headers().get_all("host").iter().count() > 1 || hosts.first().is_some_and(|h| h.contains(',')) {
        return Some("The request has more than one Host header.".into());
    }
    if let (Some(authority), Some(host)) = (req.uri().authority(), hosts.first())
        && !authority.as_str().eq_ignore_ascii_case(host.trim())
    {
        return Some(format!(
            "The request line names the host {authority}, but the Host header names {}; they must agree.",
            host.trim()
        ));
    }
    None
}

/// Checks the query string and, for an urlencoded form, the body (already size-limited); returns
/// the request with its body put back, or the message for the person.
pub async fn check_fields(mut req: Request) -> Result<Request, (Request, String)> {
    if let Some(q) = req.uri().query()
        && let Some(field) = bad_field(url::form_urlencoded::parse(q.as_bytes()))
    {
        return Err((req, field_message(&field)));
    }
    let form = req.header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form {
        let bytes = match req.take_body().into_bytes().await {
            Ok(b) => b,
            Err(_) => return Err((req, "The form could not be read.".into())),
        };
        let bad = bad_field(url::form_urlencoded::parse(&bytes));
        req.set_body(Body::from_bytes(bytes));
        if let Some(field) = bad {
            return Err((req, field_message(&field)));
        }
    }
    Ok(req)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::bad_field;

    #[test]
    fn control_characters_are_found_by_field() {
        let pairs = |s: &'static str| url::form_urlencoded::parse(s.as_bytes());
        assert_eq!(bad_field(pairs("email=a%00b&password=x")), Some("email".into()));
        assert_eq!(bad_field(pairs("a=1&b=ok%01")), Some("b".into()));
        assert_eq!(bad_field(pairs("a=line%0Aone%09tab%0D")), None);
        assert_eq!(bad_field(pairs("name=Zo%C3%AB&q=caf%C3%A9")), None);
        assert_eq!(bad_field(pairs("x%00y=1")), Some("xy".into()));
    }
}
