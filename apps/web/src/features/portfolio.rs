//! ePortfolio (issue 19): *Export my record* (`/account/export`), with the learner's explicit
//! approval, as one zip: their xAPI statements at this trust (JSON), *My activity* as CSV (every
//! trust), certificate PDFs (this trust), and an Open Badges 3.0 credential for each completion
//! (every trust, each signed by the trust where it was completed). The trust's public key is at
//! `/.well-known/jwks.json` and its issuer profile at `/badges/issuer`.

use crate::context::AppState;
use crate::error::AppError;
use crate::features::records::table;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may, tx};
use crate::usecases::records::activity::{Filter, Report};
use crate::usecases::records::archive::{Archive, file_name};
use crate::usecases::records::badges::{self, Completion};
use poem::http::StatusCode;
use poem::web::Form;
use poem::{Body, Response, handler};
use serde_json::json;
use std::collections::BTreeMap;
use trellis_db::{audit, identity as id, portfolio};

/// Statements put in an export at most (the first stored at each trust in turn).
const MAX_STATEMENTS: u32 = 100_000;

#[allow(clippy::too_many_arguments)]
async fn export_page(
    state: &AppState,
    site: &crate::context::directory::Site,
    req: &poem::Request,
    tx: trellis_db::TenantTx,
    person: trellis_domain::PersonId,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let links = portfolio::links_of(&tx, person).await?;
    tx.commit().await?;
    let zone = site.zone();
    let day = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).format("%-d %B %Y").to_string();
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Export my record",
        &[("Home", "/"), ("My activity", "/account/activity")],
    );
    ctx.insert(
        "links",
        &links
            .iter()
            .map(|l| {
                json!({
                    "id": l.id.to_string(), "endpoint": l.endpoint, "username": l.username, "since": day(l.created_at),
                    "sent": l.sent, "last": l.last_sent_at.map(day), "error": l.last_error,
                    "live": l.unlinked_at.is_none(), "ended": l.unlinked_at.map(day),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/export.html", &ctx, status)
}

fn blank() -> serde_json::Value {
    json!({ "endpoint": "", "username": "" })
}

/// What the export holds, and the approval to make it.
#[handler]
pub async fn export_form(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    export_page(state, site, req, tx, me.person, &FormErrors::new(), blank(), StatusCode::OK).await
}

/// Makes the archive, if the learner approved it.
#[handler]
pub async fn export(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone, tx::Writes>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    if !pairs.iter().any(|(k, v)| k == "approve" && v == "yes") {
        return export_page(
            state,
            site,
            req,
            tx,
            me.person,
            &FormErrors::one("approve", "Tick the box to agree to the export of your record"),
            blank(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let zone = site.zone();
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    // Every trust's record and the statements about the learner in each trust's LRS (which knows
    // them by an opaque account of that trust's site): the identity path's named reads, as My
    // activity.
    let (rows, statements) = {
        let itx = state.dbs.identity.begin_read(site.entry.id).await?;
        let rows = id::activity_of(&itx, me.person).await?;
        let mut agents: Vec<(trellis_domain::TenantId, String)> = Vec::new();
        for r in &rows {
            if agents.iter().any(|(t, _)| *t == r.tenant) {
                continue;
            }
            if let Some(at) = state.directory.site_by_id(r.tenant)
                && let Some(key) =
                    trellis_elearning::lrs::agent_hash(&crate::features::elearning::learner_actor(&at, me.person))
            {
                agents.push((r.tenant, key));
            }
        }
        let statements = id::statements_of(&itx, me.person, &agents, MAX_STATEMENTS).await?;
        itx.commit().await?;
        (rows, statements)
    };
    let trusts: BTreeMap<trellis_domain::TenantId, &str> = rows.iter().map(|r| (r.tenant, r.trust.as_str())).collect();
    let statements: Vec<serde_json::Value> = statements
        .iter()
        .filter_map(|s| {
            let body: serde_json::Value = serde_json::from_str(&s.body).ok()?;
            Some(json!({ "trust": trusts.get(&s.tenant).copied().unwrap_or_default(), "statement": body }))
        })
        .collect();
    audit::record(
        &tx,
        Some(me.person),
        "record.exported",
        &me.person.to_string(),
        None,
        json!({ "statements": statements.len(), "trusts": trusts.len() }),
    )
    .await?;
    // One line per completed enrolment.
    let mut completions: BTreeMap<uuid::Uuid, &id::ActivityRow> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.completed_at.is_some()) {
        completions.entry(r.enrolment).or_insert(r);
    }
    // Certificates from this trust.
    let mut certificates = Vec::new();
    for r in completions.values().filter(|r| r.tenant == site.entry.id) {
        if let Some(doc) = crate::features::certificates::of_course(&tx, site, me.person, r.course).await? {
            certificates.push(doc);
        }
    }
    tx.commit().await?;

    let mut zip = Archive::new();
    let mut readme = format!(
        "The learning record of {name} ({email}), exported from {trust} on {at}.\n\n\
         activity-record.csv   one line per course at every organisation you learnt at (My activity)\n\
         activity-detail.csv   one line per session\n\
         statements.json       the xAPI statements about you in the learning record store of every\n\
         \x20                     organisation you learnt at, each with the organisation's name\n\
         certificates/         your certificates from {trust} (a course summary overleaf)\n\
         badges/               an Open Badges 3.0 credential for each completed course: a .jwt file\n\
         \x20                     (a VC-JWT signed with EdDSA) and the same credential as .json. Each is\n\
         \x20                     signed by the organisation where you completed the course; its public\n\
         \x20                     key is at <that organisation's site>/.well-known/jwks.json.\n",
        email = person.email,
        trust = site.entry.name,
        at = chrono::Utc::now().with_timezone(&zone).format("%-d %B %Y at %H:%M"),
    );
    for (file, report) in [("activity-record.csv", Report::Summary), ("activity-detail.csv", Report::Detail)] {
        let (header, lines) = table(report, &rows, &Filter::default(), zone, true);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).map_err(|e| AppError::Internal(e.into()))?;
        for l in &lines {
            w.write_record(l.iter().map(|c| crate::http::export::cell(c))).map_err(|e| AppError::Internal(e.into()))?;
        }
        zip.add(file, &w.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))?)?;
    }
    zip.add("statements.json", &serde_json::to_vec_pretty(&statements).map_err(|e| AppError::Internal(e.into()))?)?;
    let mut keys = BTreeMap::new();
    for r in completions.values() {
        let Some(at) = r.completed_at else { continue };
        let Some(by) = state.directory.site_by_id(r.tenant) else { continue };
        if let std::collections::btree_map::Entry::Vacant(e) = keys.entry(r.tenant) {
            e.insert(badges::issuer_key(state, r.tenant)?);
        }
        let key = &keys[&r.tenant];
        let c = Completion {
            enrolment: r.enrolment,
            course: r.course,
            title: &r.course_title,
            completed_at: at,
            email: &person.email,
            name: &name,
        };
        let (cid, vc) = badges::credential(&by.url, &by.entry.name, &by.entry.ods_code, &c);
        let jwt = badges::sign(key, &by.url, &cid, &vc, at)?;
        let stem = format!("badges/{}-{}", file_name(&r.course_title), at.with_timezone(&zone).date_naive());
        zip.add(&format!("{stem}.jwt"), jwt.as_bytes())?;
        zip.add(&format!("{stem}.json"), &serde_json::to_vec_pretty(&vc).map_err(|e| AppError::Internal(e.into()))?)?;
    }
    if completions.is_empty() {
        readme.push_str("\nYou have not completed a course yet, so there are no certificates or badges.\n");
    }
    // The PDFs: drawing is CPU work, off the async threads.
    let pdfs = tokio::task::spawn_blocking(move || {
        certificates
            .into_iter()
            .map(|d| (d.file.clone(), crate::http::pdf::pdf_table_overleaf(&d.title, &d.lines, &d.rows)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))?;
    for (file, bytes) in pdfs {
        zip.add(&format!("certificates/{file}"), &bytes)?;
    }
    zip.add("README.txt", readme.as_bytes())?;
    let bytes = zip.finish()?;
    Ok(Response::builder()
        .content_type("application/zip")
        .header(
            "content-disposition",
            format!("attachment; filename=\"learning-record-{}-{}.zip\"", site.entry.slug, site.today()),
        )
        .header("cache-control", "no-store")
        .body(Body::from(bytes)))
}

/// The trust's public key for its Open Badges credentials, as a JWKS.
#[handler]
pub async fn jwks(Ctx { req: _, state, site }: Ctx<'_>) -> Result<Response, AppError> {
    let keys = badges::issuer_keys(state, site.entry.id)?;
    Ok(Response::builder()
        .content_type("application/jwk-set+json")
        .header("cache-control", "public, max-age=3600")
        .header("access-control-allow-origin", "*")
        .body(badges::jwks(&keys).to_string()))
}

/// The trust as the issuer of its Open Badges credentials.
#[handler]
pub async fn issuer(Ctx { req: _, state: _, site }: Ctx<'_>) -> Result<Response, AppError> {
    Ok(Response::builder()
        .content_type("application/json")
        .header("access-control-allow-origin", "*")
        .body(badges::issuer_profile(&site.url, &site.entry.name, &site.entry.ods_code).to_string()))
}

/// Links an ePortfolio's learning record store: the learner's completions here are sent to it
/// (those already made, then each new one) until they unlink.
#[handler]
pub async fn link(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).unwrap_or_default();
    let mut errors = FormErrors::new();
    let endpoint = one("endpoint");
    let allow_local = state.config.development.allow_local_network;
    match trellis_domain::outbound::check_url(&endpoint, allow_local) {
        Ok(u) if endpoint.len() <= 500 && u.query().is_none() && u.fragment().is_none() => {}
        _ => errors.insert(
            "endpoint",
            "Enter the ePortfolio's xAPI address as https:// and a public host name, like https://lrs.example.org/xapi/",
        ),
    }
    let username = one("username");
    if username.is_empty() || username.chars().count() > 200 {
        errors.insert("username", "Enter the key (user name) the ePortfolio gave you, up to 200 characters");
    }
    let secret = one("secret");
    if secret.is_empty() || secret.chars().count() > 500 {
        errors.insert("secret", "Enter the secret (password) the ePortfolio gave you, up to 500 characters");
    }
    if !errors.is_empty() {
        let values = json!({ "endpoint": endpoint, "username": username });
        return export_page(state, site, req, tx, me.person, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let sealed = crate::usecases::records::portfolio_link::seal(state, site.entry.id, me.person, &secret);
    let id = portfolio::link(&tx, me.person, &endpoint, &username, &sealed).await?;
    // What is already complete here goes first.
    let mut queued = 0;
    for e in trellis_db::learning::enrolments_of(&tx, me.person).await? {
        if let Some(at) = e.completed_at {
            queued += portfolio::queue_completion(&tx, me.person, e.course, e.id.as_uuid(), at, Some(id)).await?;
        }
    }
    audit::record(
        &tx,
        Some(me.person),
        "record.portfolio_linked",
        &id.to_string(),
        None,
        json!({ "endpoint": endpoint }),
    )
    .await?;
    tx.commit().await?;
    crate::context::queue::wake(state).await;
    Ok(page::see_other_saying(
        req,
        "/account/export",
        format!(
            "Linked. {queued} completed {} on the way, and each course you complete from now on will follow.",
            if queued == 1 { "course is" } else { "courses are" }
        ),
    ))
}

/// Ends a link at once: nothing more is sent.
#[handler]
pub async fn unlink(
    Ctx { req, state: _, site: _ }: Ctx<'_>,
    member: Member<may::Anyone>,
    poem::web::Path(id): poem::web::Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: uuid::Uuid = page::path_id(&id)?;
    if !portfolio::unlink(&tx, me.person, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "record.portfolio_unlinked", &id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, "/account/export", "Unlinked: nothing more will be sent to that ePortfolio."))
}
