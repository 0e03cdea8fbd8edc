//! One error type for the web tier, and how errors become pages or RFC 9457 problem documents.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use serde_json::json;

/// What a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// The request conflicts with what is stored (no budget left, no seats): says what to do.
    #[error("{0}")]
    Conflict(String),
    /// Signed in, but this is not theirs to see or do: a 403 page saying why, and where to go.
    #[error("{}", .0.detail)]
    Forbidden(Box<Refusal>),
    /// Not signed in (or the session ended): a `303` to the sign-in page.
    #[error("sign in required")]
    SignInRequired,
    /// Signed in, with terms still to accept: a `303` to the terms page.
    #[error("terms to accept")]
    TermsRequired,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a refused person is told: a heading, a sentence, and where they can go instead.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub heading: String,
    pub detail: String,
    pub link: Option<(String, String)>,
}

impl AppError {
    /// A refusal with its heading, its sentence and an optional (label, address) link.
    pub fn forbidden(heading: &str, detail: &str, link: Option<(&str, &str)>) -> Self {
        Self::Forbidden(Box::new(Refusal {
            heading: heading.to_owned(),
            detail: detail.to_owned(),
            link: link.map(|(l, h)| (l.to_owned(), h.to_owned())),
        }))
    }

    /// Where a redirecting error sends the browser, if it is one.
    pub fn redirect(&self) -> Option<&'static str> {
        match self {
            Self::SignInRequired => Some("/sign-in"),
            Self::TermsRequired => Some("/terms"),
            _ => None,
        }
    }
}

impl From<trellis_db::DbError> for AppError {
    fn from(e: trellis_db::DbError) -> Self {
        match e {
            trellis_db::DbError::NotFound => Self::NotFound,
            trellis_db::DbError::Conflict(m) => Self::Conflict(m),
            other => Self::Internal(other.into()),
        }
    }
}

impl poem::error::ResponseError for AppError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::SignInRequired | Self::TermsRequired => StatusCode::SEE_OTHER,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The heading and the sentence a person sees for a status. Server errors never show their cause.
pub fn describe(status: StatusCode, err: Option<&poem::Error>) -> (String, String) {
    let detail_of = |fallback: &str| match err.and_then(|e| e.downcast_ref::<AppError>()) {
        Some(AppError::BadRequest(m) | AppError::PayloadTooLarge(m) | AppError::Conflict(m)) => m.clone(),
        _ => fallback.to_owned(),
    };
    match status {
        StatusCode::NOT_FOUND => (
            "Page not found".into(),
            "If you typed the web address, check it is correct. If you pasted it, check you copied the entire address."
                .into(),
        ),
        StatusCode::BAD_REQUEST => ("Bad request".into(), detail_of("The request could not be understood.")),
        StatusCode::CONFLICT => ("This cannot be done now".into(), detail_of("It conflicts with what is stored.")),
        StatusCode::FORBIDDEN => {
            ("Access refused".into(), err.map_or_else(|| "You cannot do that here.".to_owned(), ToString::to_string))
        }
        StatusCode::METHOD_NOT_ALLOWED => ("Method not allowed".into(), "This page cannot be used that way.".into()),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("Request too large".into(), detail_of("What you sent is larger than this service accepts."))
        }
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("Request headers too large".into(), "The request's headers are larger than this service accepts.".into())
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            ("Service unavailable".into(), "The service is not available at the moment. Try again later.".into())
        }
        s if s.is_server_error() => ("Sorry, there is a problem with the service".into(), "Try again later.".into()),
        s => (s.canonical_reason().unwrap_or("Error").to_owned(), detail_of("The request could not be completed.")),
    }
}

/// Whether the client asked for JSON rather than a page.
pub fn wants_json(req: &poem::Request) -> bool {
    let accept = req.header("accept").unwrap_or_default();
    (accept.contains("application/json") || accept.contains("application/problem+json"))
        && !accept.contains("text/html")
}

/// An RFC 9457 problem document.
pub fn problem(status: StatusCode, title: &str, detail: &str, instance: &str) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": instance,
    });
    Response::builder().status(status).content_type("application/problem+json").body(body.to_string()).into_response()
}

/// A bare page for errors raised before a theme is known (oversized headers, bad Host).
pub fn plain_page(status: StatusCode, title: &str, detail: &str) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let html = format!(
        "<!DOCTYPE html><html lang=\"en-GB\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body><main><h1>{t}</h1><p>{d}</p></main></body></html>",
        t = esc(title),
        d = esc(detail)
    );
    Response::builder().status(status).content_type("text/html; charset=utf-8").body(html)
}
