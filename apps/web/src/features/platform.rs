//! The platform's own pages on the bare base domain.

use crate::context::AppState;
use crate::error::AppError;
use crate::http::page;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{Request, Response, handler};
use serde_json::json;

/// The landing page: every trust on the platform.
#[handler]
pub fn landing(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let tenants: Vec<_> = state
        .directory
        .sites()
        .iter()
        .map(|s| json!({ "name": s.entry.name, "slug": s.entry.slug, "ods_code": s.entry.ods_code, "url": s.url }))
        .collect();
    let mut ctx = page::context(state, None, &page::RequestInfo::of(req), "Organisations on Trellis", &[]);
    ctx.insert("tenants", &tenants);
    page::render(state, None, "pages/platform_home.html", &ctx, StatusCode::OK)
}

/// The platform's terms of use, for anyone to read.
#[handler]
pub fn terms(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let docs: Vec<_> = state.terms.iter().filter(|d| d.key != "privacy").cloned().collect();
    crate::features::account::read_only(state, None, req, "Terms of use", &docs)
}

/// The platform's privacy notice, for anyone to read.
#[handler]
pub fn privacy(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let docs: Vec<_> = state.terms.iter().filter(|d| d.key == "privacy").cloned().collect();
    crate::features::account::read_only(state, None, req, "Privacy notice", &docs)
}

/// The cookies page: every cookie the service sets, from its one list.
#[handler]
pub fn cookies(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let mut ctx = page::context(state, None, &page::RequestInfo::of(req), "Cookies", &[("Home", "/")]);
    ctx.insert("cookies", &crate::http::cookies::all(&state.config));
    page::render(state, None, "pages/cookies.html", &ctx, StatusCode::OK)
}

/// The platform's accessibility statement.
#[handler]
pub fn accessibility(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let ctx = page::context(state, None, &page::RequestInfo::of(req), "Accessibility statement", &[("Home", "/")]);
    page::render(state, None, "pages/accessibility.html", &ctx, StatusCode::OK)
}
