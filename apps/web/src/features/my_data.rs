//! *Download my data* (the right of access): a person asks for a copy of everything held about
//! them; the worker builds one zip of it from every trust they belong to (their account, their
//! acceptances of the platform's documents, and at each trust every row about them, the audit
//! trail's entries included, as JSON and CSV; and the xAPI statements about them), keeps it in the
//! file store, and emails a link that works for 7 days, for them alone (signed in). One request a
//! day at each trust; another within the day is answered 429.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::records::archive::Archive;
use poem::http::StatusCode;
use poem::web::{CsrfToken, Path, Query};
use poem::{Body, Response, handler};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use trellis_db::{audit, data_exports as exports, identity as id, outbox};

/// How long the emailed link works.
const LINK_DAYS: i64 = 7;
/// Statements read from each trust's learning record store, at most.
const MAX_STATEMENTS: u32 = 100_000;

/// The page: what the copy holds, the button, and the person's requests here.
#[handler]
pub async fn form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mine = exports::of(&tx, me.person, 10).await?;
    tx.commit().await?;
    let zone = site.zone();
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).format("%-d %B %Y at %H:%M").to_string();
    let now = chrono::Utc::now();
    let rows: Vec<Value> = mine
        .iter()
        .map(|e| {
            let status = match (e.status.as_str(), e.expires_at) {
                ("ready", Some(x)) if x > now => format!("Ready: the link we emailed works until {}", when(x)),
                ("ready", _) => "The link has expired".to_owned(),
                ("failed", _) => "It could not be made: ask again".to_owned(),
                _ => "Being prepared: we will email you a link".to_owned(),
            };
            json!({ "requested": when(e.requested_at), "status": status })
        })
        .collect();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Download my data",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("csrf_token", &token.0);
    ctx.insert("requests", &rows);
    ctx.insert("link_days", &LINK_DAYS);
    page::render(state, Some(site), "pages/my_data.html", &ctx, StatusCode::OK)
}

/// Asks for a copy: queued for the worker, at most once a day (429 otherwise).
#[handler]
pub async fn request(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    // The emailed link's token: kept only as its hash, sent once, in the email.
    let raw = page::link_token();
    match exports::request(&tx, me.person, &raw).await? {
        Ok(id) => {
            audit::record(&tx, Some(me.person), "privacy.data_requested", &id.to_string(), None, json!({})).await?;
            // The raw token rides in the job's payload to the worker, which puts it in the email
            // (as every emailed link does); only its hash is kept with the request.
            outbox::enqueue_job(&tx, exports::JOB, &json!({ "id": id.to_string(), "token": raw })).await?;
            tx.commit().await?;
            crate::context::queue::wake(state).await;
            Ok(page::see_other_saying(
                req,
                "/account/my-data",
                "We are preparing a copy of your data: we will email you a link to download it",
            ))
        }
        Err(last) => {
            tx.commit().await?;
            let zone = site.zone();
            let message = format!(
                "You asked for a copy of your data on {}. You can ask once a day: use the link we emailed you, or ask again tomorrow.",
                last.with_timezone(&zone).format("%-d %B %Y at %H:%M")
            );
            let mut resp = crate::features::account::message_page(
                state,
                site,
                req,
                StatusCode::TOO_MANY_REQUESTS,
                "You have already asked today",
                &message,
                None,
            )?;
            resp.headers_mut().insert("retry-after", poem::http::HeaderValue::from_static("86400"));
            Ok(resp)
        }
    }
}

#[derive(serde::Deserialize)]
pub struct DownloadQuery {
    #[serde(default)]
    token: String,
}

/// The copy, to the person who asked for it, signed in, with the emailed link's token, until it
/// expires (410 after).
#[handler]
pub async fn download(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    let e = exports::ready_by_token(&tx, id, me.person, &q.token).await?;
    tx.commit().await?;
    let e = e.ok_or(AppError::NotFound)?;
    if e.expires_at.is_none_or(|x| x <= chrono::Utc::now()) {
        return crate::features::account::message_page(
            state,
            site,
            req,
            StatusCode::GONE,
            "This link has expired",
            "A copy of your data can be downloaded for 7 days. Ask for a new copy on the Download my data page.",
            Some(("Download my data", "/account/my-data")),
        );
    }
    let fetched =
        state.files.get(&exports::file_key(site.entry.id, e.id), None).await.map_err(|_| AppError::NotFound)?;
    Ok(Response::builder()
        .content_type("application/zip")
        .header(
            "content-disposition",
            format!("attachment; filename=\"my-data-{}-{}.zip\"", site.entry.slug, e.requested_at.date_naive()),
        )
        .header("content-length", fetched.size.to_string())
        .header("cache-control", "no-store")
        .body(Body::from_bytes_stream(fetched.body)))
}

/// The worker: builds the copy, keeps it, marks it ready and emails the link (`token`).
pub async fn build(state: &AppState, site: &Site, id: uuid::Uuid, token: &str) -> anyhow::Result<()> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let e = exports::by_id(&tx, id).await?.filter(|e| e.status == "building");
    // The platform's documents the person accepted (read as a member of this trust).
    let accepted = match &e {
        Some(e) => exports::platform_terms_of(&tx, e.person).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let Some(e) = e else { return Ok(()) };
    let person = e.person;
    // The account, the platform's documents accepted, the trusts they belong to, and the xAPI
    // statements about them: the identity path's named reads of one person.
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let account = id::account_rows(&itx, person).await?;
    let Some(who) = id::account_by_id(&itx, person).await? else {
        itx.commit().await?;
        let tx = state.dbs.app.begin(site.entry.id).await?;
        exports::failed(&tx, id, "the account no longer exists").await?;
        tx.commit().await?;
        return Ok(());
    };
    let trusts: Vec<trellis_domain::TenantId> =
        id::memberships_of(&itx, person).await?.into_iter().map(|(t, _)| t).collect();
    let agents: Vec<(trellis_domain::TenantId, String)> = trusts
        .iter()
        .filter_map(|t| {
            let at = state.directory.site_by_id(*t)?;
            Some((*t, trellis_elearning::lrs::agent_hash(&crate::features::elearning::learner_actor(&at, person))?))
        })
        .collect();
    let statements = id::statements_of(&itx, person, &agents, MAX_STATEMENTS).await?;
    itx.commit().await?;

    let mut zip = Archive::new();
    let mut listing = BTreeSet::new();
    for (table, rows) in &account {
        add_table(&mut zip, &mut listing, "account", table, rows)?;
    }
    add_table(&mut zip, &mut listing, "account", "platform_terms_acceptances", &accepted)?;
    for tenant in &trusts {
        let Some(at) = state.directory.site_by_id(*tenant) else { continue };
        // Each trust in turn, through its own handle, reading only the rows about this person.
        let tx = state.dbs.app.begin_read(*tenant).await?;
        let tables = exports::rows_about(&tx, person).await?;
        tx.commit().await?;
        for (table, rows) in &tables {
            add_table(&mut zip, &mut listing, &at.entry.slug, table, rows)?;
        }
        let theirs: Vec<Value> = statements
            .iter()
            .filter(|s| s.tenant == *tenant)
            .filter_map(|s| serde_json::from_str(&s.body).ok())
            .collect();
        zip.add(&format!("{}/xapi_statements.json", at.entry.slug), &serde_json::to_vec_pretty(&theirs)?)?;
        listing.insert(format!("{}/ (the organisation {})", at.entry.slug, at.entry.name));
    }
    let readme = format!(
        "Everything {name} ({email}) has on this learning service, as of {at} (UTC).\n\n\
         account/        your account (people) and the platform's terms and privacy notice you accepted\n\
         <organisation>/ for each organisation you belong to: every row about you, table by table, as\n\
         \x20               JSON and as CSV (memberships and roles, staff record, sessions, terms accepted,\n\
         \x20               enrolments, progress, completions, attempts and each SCORM commit as sent,\n\
         \x20               certificates' links, tutors'\n\
         \x20               access, reports' grants, uploads and downloads, these requests, your enquiries\n\
         \x20               and their messages, the resources you shared in its library and their versions,\n\
         \x20               your ratings, feedback and reports of resources, the content policy you\n\
         \x20               accepted, and the audit trail's entries you made or that are about you), and\n\
         \x20               the xAPI statements about you in its learning record store (xapi_statements.json)\n\n\
         Passwords, two-step verification secrets and the hashes of links are not included.\n\n\
         Folders:\n{folders}\n",
        name = who.given_name,
        email = who.email,
        at = chrono::Utc::now().format("%-d %B %Y %H:%M"),
        folders = listing.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"),
    );
    zip.add("README.txt", readme.as_bytes())?;
    let bytes = zip.finish()?;
    let size = bytes.len() as u64;
    state.files.put(&exports::file_key(site.entry.id, id), bytes.into()).await?;
    let expires = chrono::Utc::now() + chrono::Duration::days(LINK_DAYS);
    let link = format!("{}account/my-data/{id}?token={token}", site.url);
    let zone = site.zone();
    let mail = crate::features::account::render_email(
        state,
        site,
        "data_ready",
        &who.email,
        "A copy of your data is ready",
        json!({
            "name": who.given_name, "link": link,
            "until": expires.with_timezone(&zone).format("%-d %B %Y at %H:%M").to_string(),
        }),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    exports::ready(&tx, id, size, expires).await?;
    outbox::enqueue_email(&tx, &mail).await?;
    audit::record(
        &tx,
        None,
        "privacy.data_ready",
        &id.to_string(),
        None,
        json!({ "bytes": size, "trusts": trusts.len() }),
    )
    .await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(())
}

/// Adds one table's rows as `<folder>/<table>.json` and `.csv` (columns: every key seen).
fn add_table(
    zip: &mut Archive,
    listing: &mut BTreeSet<String>,
    folder: &str,
    table: &str,
    rows: &[Value],
) -> Result<(), AppError> {
    if rows.is_empty() {
        return Ok(());
    }
    zip.add(
        &format!("{folder}/{table}.json"),
        &serde_json::to_vec_pretty(rows).map_err(|e| AppError::Internal(e.into()))?,
    )?;
    let mut columns = BTreeSet::new();
    for r in rows {
        if let Value::Object(m) = r {
            columns.extend(m.keys().cloned());
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&columns).map_err(|e| AppError::Internal(e.into()))?;
    for r in rows {
        let cells = columns.iter().map(|c| match &r[c] {
            Value::Null => String::new(),
            Value::String(s) => crate::http::export::cell(s),
            v => v.to_string(),
        });
        w.write_record(cells).map_err(|e| AppError::Internal(e.into()))?;
    }
    zip.add(
        &format!("{folder}/{table}.csv"),
        &w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?,
    )?;
    listing.insert(format!("{folder}/{table}"));
    Ok(())
}
