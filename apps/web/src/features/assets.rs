//! Theme assets under content-hashed names: cached for a year, immutable.

use crate::context::AppState;
use crate::error::AppError;
use poem::web::Data;
use poem::{Request, Response, handler};

#[handler]
pub fn asset(req: &Request, Data(state): Data<&AppState>) -> Result<Response, AppError> {
    let asset = state.themes.asset(req.uri().path()).ok_or(AppError::NotFound)?;
    Ok(Response::builder()
        .content_type(asset.content_type.as_str())
        .header("cache-control", "public, max-age=31536000, immutable")
        .header("cross-origin-resource-policy", "cross-origin")
        .body(asset.bytes.clone()))
}
