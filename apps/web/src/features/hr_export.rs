//! Completions back to HR, for a trust's administrators: where the daily export goes (an SFTP
//! server, with the key Trellis makes for the trust or a password, and the server's host key
//! pinned; or an S3 bucket), *Send now*, and every export with its rows, checksum and state
//! (`/admin/hr-export`); and, for content editors, each course's competence code in the HR system
//! (`/admin/hr-export/competences`). How the exports are made and sent is
//! [`crate::usecases::hr_export`]'s.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use crate::usecases::hr_export::{self as uc, purpose};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::hr_export::{self as store, Settings};
use trellis_integrations::hr_delivery;

fn when(site: &Site, at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&site.zone()).format("%-d %B %Y at %H:%M").to_string()
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    errors: &FormErrors,
    values: Option<Value>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let s = store::settings(tx).await?;
    let exports = store::exports(tx, 50).await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Completions to HR",
        &[("Home", "/"), ("Admin", "/admin")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    let shown = values.unwrap_or_else(|| {
        json!({
            "target": s.target, "sftp_host": s.sftp_host, "sftp_port": s.sftp_port.to_string(), "sftp_user": s.sftp_user,
            "sftp_dir": s.sftp_dir, "sftp_host_key": s.sftp_host_key, "s3_bucket": s.s3_bucket, "s3_prefix": s.s3_prefix,
            "s3_region": s.s3_region, "s3_endpoint": s.s3_endpoint, "s3_access_key": s.s3_access_key,
        })
    });
    ctx.insert("values", &shown);
    ctx.insert("has_password", &!s.sftp_password_sealed.is_empty());
    ctx.insert("has_s3_secret", &!s.s3_secret_sealed.is_empty());
    ctx.insert("public_key", &s.ssh_public_key);
    ctx.insert("header", uc::HEADER);
    ctx.insert(
        "exports",
        &exports
            .iter()
            .map(|e| {
                json!({
                    "created": when(site, e.created_at),
                    "covers": match e.since {
                        Some(since) => format!("{} to {}", when(site, since), when(site, e.until)),
                        None => format!("Everything up to {}", when(site, e.until)),
                    },
                    "delivered": e.delivered_at.map(|d| when(site, d)),
                    "rows": e.rows,
                    "sha256": e.sha256,
                    "file": e.file_name,
                    "attempts": e.attempts,
                    "error": e.last_error,
                    "next": when(site, e.next_attempt_at),
                    "target": if e.target == "s3" { "S3 bucket" } else { "SFTP server" },
                })
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_hr_export.html", &ctx, status)
}

/// The settings and the exports.
#[handler]
pub async fn settings_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageIntegrations>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let resp = render(state, site, req, &tx, token, &FormErrors::new(), None, StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct SettingsForm {
    target: String,
    sftp_host: String,
    sftp_port: String,
    sftp_user: String,
    sftp_dir: String,
    sftp_host_key: String,
    sftp_password: String,
    remove_password: String,
    s3_bucket: String,
    s3_prefix: String,
    s3_region: String,
    s3_endpoint: String,
    s3_access_key: String,
    s3_secret: String,
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Checks the form against what is stored: the settings to keep (secrets still to seal: the new
/// password or secret key, if entered), or the errors.
fn check(f: &SettingsForm, old: &Settings) -> Result<Settings, FormErrors> {
    let mut e = FormErrors::new();
    let mut s = Settings { target: f.target.trim().to_owned(), sftp_port: 22, ..old.clone() };
    match s.target.as_str() {
        "" => {}
        "sftp" => {
            let host = f.sftp_host.trim();
            if !text_ok(host, 253) || host.contains(char::is_whitespace) || host.contains('/') {
                e.insert("sftp_host", "Enter the SFTP server's host name, like sftp.hr.example.nhs.uk");
            }
            let port = f.sftp_port.trim();
            match if port.is_empty() { Ok(22) } else { port.parse::<u16>() } {
                Ok(p) if p > 0 => s.sftp_port = i32::from(p),
                _ => e.insert("sftp_port", "Enter a port from 1 to 65535 (SFTP is usually 22)"),
            }
            if !text_ok(f.sftp_user.trim(), 100) {
                e.insert("sftp_user", "Enter the user name Trellis signs in to the server as");
            }
            if f.sftp_dir.trim().chars().count() > 300 || f.sftp_dir.chars().any(char::is_control) {
                e.insert("sftp_dir", "Enter a folder of at most 300 characters, or leave it empty");
            }
            match hr_delivery::fingerprint(&f.sftp_host_key) {
                Some(fp) => s.sftp_host_key = fp,
                None => e.insert(
                    "sftp_host_key",
                    "Enter the server's host key fingerprint as ssh-keygen -l shows it, like SHA256:…",
                ),
            }
            if f.sftp_password.chars().count() > 200 {
                e.insert("sftp_password", "Enter a password of at most 200 characters");
            }
            s.sftp_host = host.to_owned();
            s.sftp_user = f.sftp_user.trim().to_owned();
            s.sftp_dir = f.sftp_dir.trim().to_owned();
        }
        "s3" => {
            let bucket = f.s3_bucket.trim();
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
            if !bucket_ok {
                e.insert("s3_bucket", "Enter the bucket's name: 3 to 63 lower-case letters, digits, dots and hyphens");
            }
            if f.s3_prefix.trim().chars().count() > 300 || f.s3_prefix.chars().any(char::is_control) {
                e.insert("s3_prefix", "Enter a prefix of at most 300 characters, or leave it empty");
            }
            let region = f.s3_region.trim();
            if region.len() > 40 || !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                e.insert("s3_region", "Enter the bucket's region, like eu-west-2, or leave it empty");
            }
            let endpoint = f.s3_endpoint.trim();
            if !endpoint.is_empty() && !url::Url::parse(endpoint).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))
            {
                e.insert(
                    "s3_endpoint",
                    "Enter the S3 service's address, like https://s3.example.com, or leave it empty for AWS",
                );
            }
            if !text_ok(f.s3_access_key.trim(), 128) {
                e.insert("s3_access_key", "Enter the access key id");
            }
            if f.s3_secret.is_empty() && old.s3_secret_sealed.is_empty() {
                e.insert("s3_secret", "Enter the secret access key");
            }
            s.s3_bucket = bucket.to_owned();
            s.s3_prefix = f.s3_prefix.trim().to_owned();
            s.s3_region = region.to_owned();
            s.s3_endpoint = endpoint.to_owned();
            s.s3_access_key = f.s3_access_key.trim().to_owned();
        }
        _ => e.insert("target", "Choose where completions go, or not to send them"),
    }
    if e.is_empty() { Ok(s) } else { Err(e) }
}

/// Saves the settings. Choosing SFTP for the first time makes the trust's SSH key.
#[handler]
pub async fn save_settings(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageIntegrations>,
    token: &CsrfToken,
    Form(f): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let old = store::settings(&tx).await?;
    let mut s = match check(&f, &old) {
        Ok(s) => s,
        Err(errors) => {
            let values = json!({
                "target": f.target, "sftp_host": f.sftp_host, "sftp_port": f.sftp_port, "sftp_user": f.sftp_user,
                "sftp_dir": f.sftp_dir, "sftp_host_key": f.sftp_host_key, "s3_bucket": f.s3_bucket,
                "s3_prefix": f.s3_prefix, "s3_region": f.s3_region, "s3_endpoint": f.s3_endpoint,
                "s3_access_key": f.s3_access_key,
            });
            let resp =
                render(state, site, req, &tx, token, &errors, Some(values), StatusCode::UNPROCESSABLE_ENTITY).await?;
            tx.commit().await?;
            return Ok(resp);
        }
    };
    if !f.sftp_password.is_empty() {
        s.sftp_password_sealed = state.keyring.seal(&purpose(site, "sftp password"), &f.sftp_password);
    } else if f.remove_password == "yes" {
        s.sftp_password_sealed.clear();
    }
    if !f.s3_secret.is_empty() {
        s.s3_secret_sealed = state.keyring.seal(&purpose(site, "s3 secret"), &f.s3_secret);
    }
    let made_key = s.target == "sftp" && s.ssh_key_sealed.is_empty();
    if made_key {
        let (private, public) = hr_delivery::new_ssh_key(&format!("trellis-{}", site.entry.slug))?;
        s.ssh_key_sealed = state.keyring.seal(&purpose(site, "ssh key"), &private);
        s.ssh_public_key = public;
    }
    store::save_settings(&tx, &s).await?;
    let detail = json!({ "target": s.target, "host": s.sftp_host, "bucket": s.s3_bucket, "key_made": made_key });
    audit::record(&tx, Some(me.person), "hr_export.settings_saved", "", None, detail).await?;
    tx.commit().await?;
    let said = match s.target.as_str() {
        "" => "Completions are no longer sent to HR".to_owned(),
        "sftp" if made_key => {
            "Settings saved. Give your SFTP server's administrators the public key below, then send a test".to_owned()
        }
        _ => "Settings saved: completions are sent to HR every day".to_owned(),
    };
    Ok(see_other_saying(req, "/admin/hr-export", said))
}

/// Queues an export of everything not yet delivered, to send at once.
#[handler]
pub async fn send_now(
    Ctx { req, state, .. }: Ctx<'_>,
    member: Member<may::ManageIntegrations>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let Some((_, new)) = uc::send_now(state, &tx, me.person).await? else {
        tx.commit().await?;
        return Ok(see_other_saying(req, "/admin/hr-export", "Choose where completions go first"));
    };
    tx.commit().await?;
    let said = if new {
        "Export queued: it is sent within a minute, and shown below"
    } else {
        "The waiting export will be tried again within a minute"
    };
    Ok(see_other_saying(req, "/admin/hr-export", said))
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn competences_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    errors: &FormErrors,
    values: Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let list = store::competences(tx).await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Competence codes",
        &[("Home", "/"), ("Admin", "/admin")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert(
        "competences",
        &list
            .iter()
            .map(|c| json!({ "code": c.course_code, "title": c.course_title, "competence": c.competence }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_hr_competences.html", &ctx, status)
}

/// The courses' competence codes.
#[handler]
pub async fn competences_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let resp = competences_render(state, site, req, &tx, token, &FormErrors::new(), json!({}), StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CompetenceForm {
    course: String,
    competence: String,
}

/// Sets (or, empty, removes) a course's competence code. The course is any offered here, by its
/// code: the trust's own, or one of the national catalogue's it offers.
#[handler]
pub async fn save_competence(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Form(f): Form<CompetenceForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let competence = f.competence.trim().to_owned();
    if competence.chars().count() > 200 || competence.contains([',', '"']) || competence.chars().any(char::is_control) {
        errors.insert(
            "competence",
            "Enter the competence as the HR system names it: at most 200 characters, without commas or quotes",
        );
    }
    let course = store::offered_course_by_code(&tx, f.course.trim()).await?;
    if course.is_none() {
        errors.insert("course", "Enter the code of a course offered here, like NM-BLS");
    }
    let (Some(course), true) = (course, errors.is_empty()) else {
        let values = json!({ "course": f.course, "competence": f.competence });
        let resp =
            competences_render(state, site, req, &tx, token, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await?;
        tx.commit().await?;
        return Ok(resp);
    };
    store::set_competence(&tx, course.0, &competence).await?;
    let detail = json!({ "course": course.1, "competence": competence });
    audit::record(&tx, Some(me.person), "hr_export.competence_set", &course.0.to_string(), None, detail).await?;
    tx.commit().await?;
    let said = if competence.is_empty() {
        format!("{} is no longer sent to HR", course.1)
    } else {
        format!("{} is sent to HR as \u{201c}{competence}\u{201d}", course.1)
    };
    Ok(see_other_saying(req, "/admin/hr-export/competences", said))
}
