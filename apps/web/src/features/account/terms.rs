//! Terms and policies, accepted before going on.

use super::*;
use crate::http::page::see_other;
use crate::http::{Ctx, CurrentSite};
use trellis_db::audit;

/// The documents the signed-in person has yet to accept, with a button to accept them.
#[handler]
pub async fn terms_page(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    // Signed in with something to accept: the acceptance form. Otherwise anyone may read them.
    let me = auth::current(state, site, session).await?;
    let outstanding = match &me {
        Some(me) => {
            let tx = state.dbs.app.begin_read(site.entry.id).await?;
            let o = trellis_db::terms::outstanding(&tx, me.person, &state.terms).await?;
            tx.commit().await?;
            o
        }
        None => Vec::new(),
    };
    if outstanding.is_empty() {
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let own = trellis_db::terms::tenant_terms(&tx).await?;
        tx.commit().await?;
        let docs: Vec<trellis_domain::terms::Document> =
            state.terms.iter().filter(|d| d.key != "privacy").cloned().chain(own).collect();
        return read_only(state, Some(site), req, "Terms of use", &docs);
    }
    let docs: Vec<_> = outstanding
        .iter()
        .map(|d| json!({ "key": d.key, "title": d.title, "version": d.version, "paragraphs": d.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>() }))
        .collect();
    let accepting: Vec<String> = outstanding.iter().map(|d| format!("{}:{}", d.key, d.version)).collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Terms and policies", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("documents", &docs);
    ctx.insert("accepting", &accepting.join(","));
    page::render(state, Some(site), "pages/terms.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct TermsForm {
    #[serde(default)]
    accepting: String,
}

/// Accepts exactly the versions the person was shown; if any changed meanwhile, shows them again.
#[handler]
pub async fn accept_terms(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    Form(f): Form<TermsForm>,
) -> Result<Response, AppError> {
    let Some(me) = auth::current(state, site, session).await? else {
        return Ok(see_other("/sign-in"));
    };
    let itx = state.dbs.app.begin(site.entry.id).await?;
    let outstanding = trellis_db::terms::outstanding(&itx, me.person, &state.terms).await?;
    let current: Vec<String> = outstanding.iter().map(|d| format!("{}:{}", d.key, d.version)).collect();
    if current.join(",") != f.accepting {
        itx.commit().await?;
        return Ok(see_other("/terms"));
    }
    let ip = client_ip(state, req);
    trellis_db::terms::accept(&itx, me.person, &outstanding, ip.as_deref()).await?;
    audit::record(
        &itx,
        Some(me.person),
        "terms.accepted",
        &me.person.to_string(),
        ip.as_deref(),
        json!({ "documents": current }),
    )
    .await?;
    itx.commit().await?;
    Ok(see_other("/"))
}

/// The platform's documents (and, on a trust's site, its own terms) for anyone to read.
pub fn read_only(
    state: &AppState,
    site: Option<&Site>,
    req: &Request,
    title: &str,
    docs: &[trellis_domain::terms::Document],
) -> Result<Response, AppError> {
    let documents: Vec<_> = docs
        .iter()
        .map(|d| json!({ "key": d.key, "title": d.title, "version": d.version, "paragraphs": d.body.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>() }))
        .collect();
    let mut ctx = page::context(state, site, &RequestInfo::of(req), title, &[("Home", "/")]);
    ctx.insert("documents", &documents);
    ctx.insert("heading", title);
    page::render(state, site, "pages/documents.html", &ctx, StatusCode::OK)
}

/// The privacy notice, for anyone to read.
#[handler]
pub fn privacy(
    req: &Request,
    Data(state): Data<&AppState>,
    CurrentSite(site): CurrentSite<'_>,
) -> Result<Response, AppError> {
    let docs: Vec<_> = state.terms.iter().filter(|d| d.key == "privacy").cloned().collect();
    read_only(state, Some(site), req, "Privacy notice", &docs)
}
