//! API tokens (one model for every integration that calls a trust: the LMS API and SCIM provisioning)
//! and the external learners a conformance-scoped token launches for. Every query names the
//! trust (`tenant_id = $1`) as well as running under its row-level security.

use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::Value;
use uuid::Uuid;

/// A token a trust's administrator issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: Uuid,
    pub name: String,
    pub secret_sha256: String,
    /// Space-separated scopes.
    pub scopes: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// Whether the token carries this scope.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.split_whitespace().any(|s| s == scope)
    }

    /// Whether the token may be used now.
    pub fn live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

const COLUMNS: &str = "id, name, secret_sha256, scopes, created_by, created_at, expires_at, last_used_at, revoked_at";

fn token_from(r: &sea_orm::QueryResult) -> Result<ApiToken, DbError> {
    Ok(ApiToken {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        secret_sha256: r.try_get("", "secret_sha256")?,
        scopes: r.try_get("", "scopes")?,
        created_by: r.try_get("", "created_by")?,
        created_at: r.try_get("", "created_at")?,
        expires_at: r.try_get("", "expires_at")?,
        last_used_at: r.try_get("", "last_used_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

/// What a new token is (its id is part of the token the caller shows once).
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub secret_sha256: &'a str,
    pub scopes: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub by: Option<trellis_domain::PersonId>,
}

/// Issues a token.
pub async fn create_token(tx: &TenantTx, t: &NewToken<'_>) -> Result<(), DbError> {
    let sql = "INSERT INTO api_tokens (tenant_id, id, name, secret_sha256, scopes, created_by, created_at, expires_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let mut vals = Vec::<Value>::new();
    vals.extend([
        t.id.into(),
        t.name.to_owned().into(),
        t.secret_sha256.to_owned().into(),
        t.scopes.to_owned().into(),
        t.by.map(|p| p.as_uuid()).into(),
        Utc::now().into(),
        t.expires_at.into(),
    ]);
    tx.execute(sql, vals).await?;
    Ok(())
}

/// A token by id (revoked and expired ones too: the caller refuses them).
pub async fn token(tx: &TenantTx, id: Uuid) -> Result<Option<ApiToken>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 AND id = $2");
    let vals: Vec<Value> = vec![id.into()];
    tx.query_one(&sql, vals).await?.as_ref().map(token_from).transpose()
}

/// Every token here, newest first.
pub async fn tokens(tx: &TenantTx) -> Result<Vec<ApiToken>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM api_tokens WHERE tenant_id = $1 ORDER BY created_at DESC");
    let rows = tx.query_all(&sql, Vec::<Value>::new()).await?;
    rows.iter().map(token_from).collect()
}

/// Revokes a token; false if there is no live one by that id here.
pub async fn revoke_token(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let sql = "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
    let vals: Vec<Value> = vec![id.into(), Utc::now().into()];
    Ok(tx.execute(sql, vals).await? == 1)
}

/// Notes that a token was used.
pub async fn touch_token(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    let sql = "UPDATE api_tokens SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2";
    let vals: Vec<Value> = vec![id.into(), Utc::now().into()];
    tx.execute(sql, vals).await?;
    Ok(())
}

/// An actor a conformance-scoped token named: not one of the trust's people, and never shown
/// as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalLearner {
    pub id: Uuid,
    /// The actor as the caller gave it (JSON).
    pub actor: String,
    pub token_id: Uuid,
}

/// The external learner with this actor key, made if there is none.
pub async fn external_learner(
    tx: &TenantTx,
    actor_key: &str,
    actor: &str,
    token_id: Uuid,
) -> Result<ExternalLearner, DbError> {
    let find = "SELECT id, actor, token_id FROM external_learners WHERE tenant_id = $1 AND actor_key = $2";
    let mut vals: Vec<Value> = vec![actor_key.to_owned().into()];
    if let Some(r) = tx.query_one(find, vals.clone()).await? {
        return Ok(ExternalLearner {
            id: r.try_get("", "id")?,
            actor: r.try_get("", "actor")?,
            token_id: r.try_get("", "token_id")?,
        });
    }
    let id = Uuid::now_v7();
    let sql = "INSERT INTO external_learners (tenant_id, id, actor_key, actor, token_id, created_at)
               VALUES ($1, $3, $2, $4, $5, $6)";
    vals.extend([id.into(), actor.to_owned().into(), token_id.into(), Utc::now().into()]);
    tx.execute(sql, vals).await?;
    Ok(ExternalLearner { id, actor: actor.to_owned(), token_id })
}

/// Whether this person id is an external learner's.
pub async fn is_external(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let sql = "SELECT 1 AS one FROM external_learners WHERE tenant_id = $1 AND id = $2";
    let vals: Vec<Value> = vec![id.into()];
    Ok(tx.query_one(sql, vals).await?.is_some())
}

/// Notes that a token imported this course (so the API may delete it).
pub async fn record_import(tx: &TenantTx, course: trellis_domain::CourseId, token_id: Uuid) -> Result<(), DbError> {
    let sql = "INSERT INTO api_courses (tenant_id, course_id, token_id, created_at) VALUES ($1, $2, $3, $4)";
    let mut vals = Vec::<Value>::new();
    vals.extend([course.as_uuid().into(), token_id.into(), Utc::now().into()]);
    tx.execute(sql, vals).await?;
    Ok(())
}

/// Why a course could not be deleted through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDeleted {
    /// No such course here, or not one the API imported.
    NotFound,
    /// The trust's own staff have records on it, or its training rules name it: say what.
    InUse(String),
}

/// Deletes a course the API imported, with its versions, sessions, packages' rows, and the
/// external learners' enrolments and attempts on it; refused while any of the trust's own staff
/// has an enrolment on it or a training rule or learning path names it. Returns the packages
/// whose files the caller removes once this commits. The learning record store keeps its
/// statements (they are the record of what happened).
pub async fn delete_imported_course(
    tx: &TenantTx,
    course: trellis_domain::CourseId,
) -> Result<Result<Vec<Uuid>, NotDeleted>, DbError> {
    let _t = tx.tenant().as_uuid();
    let c = course.as_uuid();
    let one = |sql: &'static str| async move {
        let vals: Vec<Value> = vec![c.into()];
        Ok::<_, DbError>(tx.query_one(sql, vals).await?.is_some())
    };
    if !one("SELECT 1 AS one FROM api_courses WHERE tenant_id = $1 AND course_id = $2").await? {
        return Ok(Err(NotDeleted::NotFound));
    }
    if one("SELECT 1 AS one FROM enrolments e WHERE e.tenant_id = $1 AND e.course_id = $2
            AND NOT EXISTS (SELECT 1 FROM external_learners x WHERE x.tenant_id = $1 AND x.id = e.person_id)")
    .await?
    {
        return Ok(Err(NotDeleted::InUse("staff of the trust are enrolled on it: unpublish it instead".into())));
    }
    if one("SELECT 1 AS one FROM requirements WHERE tenant_id = $1 AND course_id = $2").await? {
        return Ok(Err(NotDeleted::InUse("a training rule assigns it".into())));
    }
    if one("SELECT 1 AS one FROM path_courses WHERE tenant_id = $1 AND course_id = $2").await? {
        return Ok(Err(NotDeleted::InUse("a learning path includes it".into())));
    }
    let packages: Vec<Uuid> = tx
        .query_all("SELECT id FROM packages WHERE tenant_id = $1 AND course_id = $2", vec![c.into()])
        .await?
        .iter()
        .map(|r| r.try_get::<Uuid>("", "id"))
        .collect::<Result<_, _>>()?;
    let objects = "SELECT o.id FROM learning_objects o WHERE o.tenant_id = $1 AND o.course_id = $2";
    let attempts = format!("SELECT a.id FROM attempts a WHERE a.tenant_id = $1 AND a.object_id IN ({objects})");
    let enrolments = "SELECT e.id FROM enrolments e WHERE e.tenant_id = $1 AND e.course_id = $2";
    for sql in [
        format!("DELETE FROM cmi5_sessions WHERE tenant_id = $1 AND attempt_id IN ({attempts})"),
        format!("DELETE FROM attempt_commits WHERE tenant_id = $1 AND attempt_id IN ({attempts})"),
        format!("DELETE FROM attempts WHERE tenant_id = $1 AND object_id IN ({objects})"),
        format!("DELETE FROM object_progress WHERE tenant_id = $1 AND enrolment_id IN ({enrolments})"),
        "DELETE FROM completions WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM enrolments WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM learning_objects WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM course_versions WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM packages WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM catalogue_offers WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM programme_courses WHERE tenant_id = $1 AND course_id = $2".to_owned(),
        "DELETE FROM courses WHERE tenant_id = $1 AND id = $2".to_owned(),
        "DELETE FROM api_courses WHERE tenant_id = $1 AND course_id = $2".to_owned(),
    ] {
        tx.execute(&sql, vec![c.into()]).await?;
    }
    crate::catalogue::changed(tx).await?;
    Ok(Ok(packages))
}
