//! Completions back to HR: the trust's competence codes for courses, where exports go, and each
//! export (queued until delivered, retried with back-off). Every query names the trust
//! (`tenant_id = $1`) as well as running under its row-level security.

use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::Value;
use trellis_domain::CourseId;
use uuid::Uuid;

/// A course's competence code in the HR system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Competence {
    pub course: CourseId,
    pub course_code: String,
    pub course_title: String,
    pub competence: String,
}

/// The trust's competence codes, by course title.
pub async fn competences(tx: &TenantTx) -> Result<Vec<Competence>, DbError> {
    let rows = tx
        .query_all(
            "SELECT cc.course_id, cc.competence, c.code, c.title FROM course_competences cc
               JOIN courses c ON c.id = cc.course_id AND (c.tenant_id = cc.tenant_id OR c.tenant_id = $2)
              WHERE cc.tenant_id = $1 ORDER BY c.title, c.code",
            vec![trellis_domain::TenantId::NATIONAL.as_uuid().into()],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Competence {
                course: CourseId::from_uuid(r.try_get("", "course_id")?),
                course_code: r.try_get("", "code")?,
                course_title: r.try_get("", "title")?,
                competence: r.try_get("", "competence")?,
            })
        })
        .collect()
}

/// A course offered here by its code (not case-sensitive): the trust's own, or a national one it
/// offers. Returns its id and code as written.
pub async fn offered_course_by_code(tx: &TenantTx, code: &str) -> Result<Option<(CourseId, String)>, DbError> {
    if code.is_empty() {
        return Ok(None);
    }
    let rows = tx
        .query_all(
            "SELECT id FROM courses WHERE (tenant_id = $1 OR tenant_id = $2) AND lower(code) = lower($3)",
            vec![trellis_domain::TenantId::NATIONAL.as_uuid().into(), code.to_owned().into()],
        )
        .await?;
    for r in rows {
        let id = CourseId::from_uuid(r.try_get("", "id")?);
        if let Some(c) = crate::catalogue::course(tx, id).await?
            && (!c.national || crate::catalogue::in_catalogue(tx, &c).await?)
        {
            return Ok(Some((c.id, c.code)));
        }
    }
    Ok(None)
}

/// Sets a course's competence code (empty: removes it).
pub async fn set_competence(tx: &TenantTx, course: CourseId, competence: &str) -> Result<(), DbError> {
    tx.execute("DELETE FROM course_competences WHERE tenant_id = $1 AND course_id = $2", vec![course.as_uuid().into()])
        .await?;
    if !competence.is_empty() {
        tx.execute(
            "INSERT INTO course_competences (tenant_id, course_id, competence, updated_at) VALUES ($1, $2, $3, $4)",
            vec![course.as_uuid().into(), competence.to_owned().into(), Utc::now().into()],
        )
        .await?;
    }
    Ok(())
}

/// Where the trust's exports go. Secrets are sealed (the caller seals and opens them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Empty (off), `sftp` or `s3`.
    pub target: String,
    pub sftp_host: String,
    pub sftp_port: i32,
    pub sftp_user: String,
    pub sftp_dir: String,
    /// The server's host key fingerprint (`SHA256:…`), pinned.
    pub sftp_host_key: String,
    pub sftp_password_sealed: String,
    pub ssh_key_sealed: String,
    pub ssh_public_key: String,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub s3_region: String,
    pub s3_endpoint: String,
    pub s3_access_key: String,
    pub s3_secret_sealed: String,
}

const SETTINGS: &str =
    "target, sftp_host, sftp_port, sftp_user, sftp_dir, sftp_host_key, sftp_password_sealed, ssh_key_sealed,
    ssh_public_key, s3_bucket, s3_prefix, s3_region, s3_endpoint, s3_access_key, s3_secret_sealed";

/// The trust's settings (all empty when never set).
pub async fn settings(tx: &TenantTx) -> Result<Settings, DbError> {
    let Some(r) =
        tx.query_one(&format!("SELECT {SETTINGS} FROM hr_export_settings WHERE tenant_id = $1"), vec![]).await?
    else {
        return Ok(Settings { sftp_port: 22, ..Settings::default() });
    };
    Ok(Settings {
        target: r.try_get("", "target")?,
        sftp_host: r.try_get("", "sftp_host")?,
        sftp_port: r.try_get("", "sftp_port")?,
        sftp_user: r.try_get("", "sftp_user")?,
        sftp_dir: r.try_get("", "sftp_dir")?,
        sftp_host_key: r.try_get("", "sftp_host_key")?,
        sftp_password_sealed: r.try_get("", "sftp_password_sealed")?,
        ssh_key_sealed: r.try_get("", "ssh_key_sealed")?,
        ssh_public_key: r.try_get("", "ssh_public_key")?,
        s3_bucket: r.try_get("", "s3_bucket")?,
        s3_prefix: r.try_get("", "s3_prefix")?,
        s3_region: r.try_get("", "s3_region")?,
        s3_endpoint: r.try_get("", "s3_endpoint")?,
        s3_access_key: r.try_get("", "s3_access_key")?,
        s3_secret_sealed: r.try_get("", "s3_secret_sealed")?,
    })
}

/// Saves the trust's settings.
pub async fn save_settings(tx: &TenantTx, s: &Settings) -> Result<(), DbError> {
    tx.execute("DELETE FROM hr_export_settings WHERE tenant_id = $1", vec![]).await?;
    tx.execute(
        &format!(
            "INSERT INTO hr_export_settings (tenant_id, {SETTINGS}, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        ),
        vec![
            s.target.clone().into(),
            s.sftp_host.clone().into(),
            s.sftp_port.into(),
            s.sftp_user.clone().into(),
            s.sftp_dir.clone().into(),
            s.sftp_host_key.clone().into(),
            s.sftp_password_sealed.clone().into(),
            s.ssh_key_sealed.clone().into(),
            s.ssh_public_key.clone().into(),
            s.s3_bucket.clone().into(),
            s.s3_prefix.clone().into(),
            s.s3_region.clone().into(),
            s.s3_endpoint.clone().into(),
            s.s3_access_key.clone().into(),
            s.s3_secret_sealed.clone().into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// An export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub id: Uuid,
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub target: String,
    /// `queued` or `delivered`.
    pub status: String,
    pub rows: i32,
    pub sha256: String,
    pub file_name: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const EXPORT: &str = "id, since, until, target, status, rows, sha256, file_name, attempts, next_attempt_at, last_error, created_at, delivered_at";

fn export_from(r: &sea_orm::QueryResult) -> Result<Export, DbError> {
    Ok(Export {
        id: r.try_get("", "id")?,
        since: r.try_get("", "since")?,
        until: r.try_get("", "until")?,
        target: r.try_get("", "target")?,
        status: r.try_get("", "status")?,
        rows: r.try_get("", "rows")?,
        sha256: r.try_get("", "sha256")?,
        file_name: r.try_get("", "file_name")?,
        attempts: r.try_get("", "attempts")?,
        next_attempt_at: r.try_get("", "next_attempt_at")?,
        last_error: r.try_get("", "last_error")?,
        created_at: r.try_get("", "created_at")?,
        delivered_at: r.try_get("", "delivered_at")?,
    })
}

/// The most recent exports, newest first.
pub async fn exports(tx: &TenantTx, limit: u64) -> Result<Vec<Export>, DbError> {
    let sql = format!(
        "SELECT {EXPORT} FROM hr_exports WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT {}",
        limit.min(500)
    );
    tx.query_all(&sql, vec![]).await?.iter().map(export_from).collect()
}

/// An export by id.
pub async fn export(tx: &TenantTx, id: Uuid) -> Result<Option<Export>, DbError> {
    let sql = format!("SELECT {EXPORT} FROM hr_exports WHERE tenant_id = $1 AND id = $2");
    tx.query_one(&sql, vec![id.into()]).await?.as_ref().map(export_from).transpose()
}

/// Queues an export of the completions recorded since the last delivered export up to `until`,
/// unless one is still waiting (then that one is returned, and no second is made).
pub async fn queue(tx: &TenantTx, target: &str, until: DateTime<Utc>) -> Result<(Export, bool), DbError> {
    // The trust's settings row is locked first (on PostgreSQL), so two queuers make one export.
    tx.execute("UPDATE hr_export_settings SET target = target WHERE tenant_id = $1", vec![]).await?;
    let waiting = format!(
        "SELECT {EXPORT} FROM hr_exports WHERE tenant_id = $1 AND status = 'queued' ORDER BY created_at LIMIT 1"
    );
    if let Some(r) = tx.query_one(&waiting, vec![]).await? {
        return Ok((export_from(&r)?, false));
    }
    let since: Option<DateTime<Utc>> = tx
        .query_one(
            "SELECT until FROM hr_exports WHERE tenant_id = $1 AND status = 'delivered' ORDER BY until DESC LIMIT 1",
            vec![],
        )
        .await?
        .map(|r| r.try_get("", "until"))
        .transpose()?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    tx.execute(
        "INSERT INTO hr_exports (tenant_id, id, since, until, target, status, rows, sha256, file_name, attempts, next_attempt_at, last_error, created_at)
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, '', '', 0, $6, '', $6)",
        vec![id.into(), since.into(), until.into(), target.to_owned().into(), now.into()],
    )
    .await?;
    let e = export(tx, id).await?.ok_or(DbError::NotFound)?;
    Ok((e, true))
}

/// Claims the waiting export whose next attempt is due, for `lease` (so two workers never send it
/// at once): its attempts rise by one. None when nothing is due.
pub async fn claim_due(tx: &TenantTx, now: DateTime<Utc>, lease: chrono::Duration) -> Result<Option<Export>, DbError> {
    let due = format!(
        "SELECT {EXPORT} FROM hr_exports WHERE tenant_id = $1 AND status = 'queued' AND next_attempt_at <= $2
          ORDER BY created_at LIMIT 1"
    );
    let Some(e) = tx.query_one(&due, vec![now.into()]).await?.as_ref().map(export_from).transpose()? else {
        return Ok(None);
    };
    let n = tx
        .execute(
            "UPDATE hr_exports SET attempts = attempts + 1, next_attempt_at = $3
              WHERE tenant_id = $1 AND id = $2 AND status = 'queued' AND next_attempt_at = $4",
            vec![e.id.into(), (now + lease).into(), e.next_attempt_at.into()],
        )
        .await?;
    if n != 1 {
        return Ok(None);
    }
    Ok(Some(Export { attempts: e.attempts + 1, ..e }))
}

/// Records a delivery.
pub async fn delivered(tx: &TenantTx, id: Uuid, rows: i64, sha256: &str, file_name: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE hr_exports SET status = 'delivered', rows = $3, sha256 = $4, file_name = $5, delivered_at = $6, last_error = ''
          WHERE tenant_id = $1 AND id = $2",
        vec![
            id.into(),
            i32::try_from(rows).unwrap_or(i32::MAX).into(),
            sha256.to_owned().into(),
            file_name.to_owned().into(),
            Utc::now().into(),
        ],
    )
    .await?;
    Ok(())
}

/// Records a failed attempt: the export stays queued, to be tried again at `next`.
pub async fn failed(tx: &TenantTx, id: Uuid, error: &str, next: DateTime<Utc>) -> Result<(), DbError> {
    let error: String = error.chars().take(500).collect();
    tx.execute(
        "UPDATE hr_exports SET last_error = $3, next_attempt_at = $4 WHERE tenant_id = $1 AND id = $2 AND status = 'queued'",
        vec![id.into(), error.into(), next.into()],
    )
    .await?;
    Ok(())
}

/// Tries a waiting export again now (the training manager's *Try again now*). False when none waits.
pub async fn retry_now(tx: &TenantTx) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE hr_exports SET next_attempt_at = $2 WHERE tenant_id = $1 AND status = 'queued'",
            vec![Utc::now().into()],
        )
        .await?
        > 0)
}

/// A completion to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: Uuid,
    pub completed_at: DateTime<Utc>,
    pub assignment_number: String,
    pub competence: String,
    /// The renewal period of the rule that makes the course mandatory for the person, if any.
    pub renewal_months: Option<i32>,
}

/// A page of completions recorded in (`since`, `until`], in the order recorded, after `after`
/// (keyset paging on the index of when they were recorded): those of members with an assignment
/// number and of courses with a competence code, the key to continue from, and how many were
/// read (fewer than `limit`: the last page).
pub struct Page {
    pub rows: Vec<Row>,
    pub last: Option<(DateTime<Utc>, Uuid)>,
    pub read: usize,
}

/// See [`Page`].
pub async fn rows(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Page, DbError> {
    let mut vals: Vec<Value> = vec![until.into()];
    let mut cond = String::new();
    if let Some(s) = since {
        vals.push(s.into());
        cond.push_str(&format!(" AND c.completed_at > ${}", vals.len() + 1));
    }
    if let Some((at, id)) = after {
        vals.push(at.into());
        vals.push(id.into());
        let (a, b) = (vals.len(), vals.len() + 1);
        // A row value, so the index on (tenant, recorded, id) finds where the page starts.
        cond.push_str(&format!(" AND (c.completed_at, c.id) > (${a}, ${b})"));
    }
    // The page of completions first (by the index), then what each needs: the person's record by
    // its key for each row (a join would read the whole trust's records for every page).
    let sql = format!(
        "SELECT p.id, p.completed_at, cc.competence,
                (SELECT s.assignment_number FROM staff_records s
                  WHERE s.tenant_id = p.tenant_id AND s.person_id = p.person_id) AS assignment_number,
                (SELECT r.renewal_months FROM assignments a
                   JOIN requirements r ON r.tenant_id = a.tenant_id AND r.id = a.requirement_id
                  WHERE a.tenant_id = p.tenant_id AND a.person_id = p.person_id AND a.course_id = p.course_id) AS renewal_months
           FROM (SELECT c.tenant_id, c.id, c.person_id, c.course_id, c.completed_at FROM completions c
                  WHERE c.tenant_id = $1 AND c.completed_at <= $2{cond}
                  ORDER BY c.completed_at, c.id LIMIT {}) p
           LEFT JOIN course_competences cc ON cc.tenant_id = p.tenant_id AND cc.course_id = p.course_id
          ORDER BY p.completed_at, p.id",
        limit.min(50_000)
    );
    let found = tx.query_all(&sql, vals).await?;
    let mut page = Page { rows: Vec::with_capacity(found.len()), last: None, read: found.len() };
    for r in &found {
        let id: Uuid = r.try_get("", "id")?;
        let completed_at: DateTime<Utc> = r.try_get("", "completed_at")?;
        page.last = Some((completed_at, id));
        let number: Option<String> = r.try_get("", "assignment_number")?;
        let competence: Option<String> = r.try_get("", "competence")?;
        if let (Some(assignment_number), Some(competence)) = (number, competence) {
            page.rows.push(Row {
                id,
                completed_at,
                assignment_number,
                competence,
                renewal_months: r.try_get("", "renewal_months")?,
            });
        }
    }
    Ok(page)
}
