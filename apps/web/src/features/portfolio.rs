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
use trellis_db::{audit, identity as id, xapi};

/// Statements put in an export at most (the newest are kept).
const MAX_STATEMENTS: u64 = 100_000;

fn export_page(
    state: &AppState,
    site: &crate::context::directory::Site,
    req: &poem::Request,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Export my record",
        &[("Home", "/"), ("My activity", "/account/activity")],
    );
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/export.html", &ctx, status)
}

/// What the export holds, and the approval to make it.
#[handler]
pub async fn export_form(Ctx { req, state, site }: Ctx<'_>, member: Member<may::Anyone>) -> Result<Response, AppError> {
    member.tx.commit().await?;
    export_page(state, site, req, &FormErrors::new(), StatusCode::OK)
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
        tx.commit().await?;
        return export_page(
            state,
            site,
            req,
            &FormErrors::one("approve", "Tick the box to agree to the export of your record"),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let zone = site.zone();
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    let name = format!("{} {}", person.given_name, person.family_name).trim().to_owned();
    // This trust's statements about the learner (as its LRS knows them: an opaque account).
    let actor = crate::features::elearning::learner_actor(site, me.person);
    let statements = xapi::query(
        &tx,
        &xapi::Query {
            agent: trellis_elearning::lrs::agent_hash(&actor),
            ascending: false,
            limit: MAX_STATEMENTS,
            ..Default::default()
        },
    )
    .await?;
    let statements: Vec<serde_json::Value> =
        statements.iter().rev().filter_map(|s| serde_json::from_str(&s.body).ok()).collect();
    audit::record(
        &tx,
        Some(me.person),
        "record.exported",
        &me.person.to_string(),
        None,
        json!({ "statements": statements.len() }),
    )
    .await?;
    // Every trust's record (the identity path's audited read, as My activity).
    let rows = {
        let itx = state.dbs.identity.begin_read(site.entry.id).await?;
        let rows = id::activity_of(&itx, me.person).await?;
        itx.commit().await?;
        rows
    };
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
         statements.json       the xAPI statements about you in {trust}'s learning record store\n\
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
        let Some(by) = state.directory.sites().into_iter().find(|s| s.entry.id == r.tenant) else { continue };
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
    let key = badges::issuer_key(state, site.entry.id)?;
    Ok(Response::builder()
        .content_type("application/jwk-set+json")
        .header("cache-control", "public, max-age=3600")
        .header("access-control-allow-origin", "*")
        .body(badges::jwks(&key).to_string()))
}

/// The trust as the issuer of its Open Badges credentials.
#[handler]
pub async fn issuer(Ctx { req: _, state: _, site }: Ctx<'_>) -> Result<Response, AppError> {
    Ok(Response::builder()
        .content_type("application/json")
        .header("access-control-allow-origin", "*")
        .body(badges::issuer_profile(&site.url, &site.entry.name, &site.entry.ods_code).to_string()))
}
