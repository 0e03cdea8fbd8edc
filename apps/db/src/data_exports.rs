//! "Download my data": a person's requests for a copy of everything held about them (at most one
//! a day at each trust), and the rows about them in one trust, table by table, for the worker
//! that builds the copy. Columns that hold secrets or their hashes are left out.

use crate::entities::data_export;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use trellis_domain::PersonId;
use uuid::Uuid;

/// The outbox job that builds one copy.
pub const JOB: &str = "data_export";

/// How long a request holds before another may be made.
pub const ONE_PER: Duration = Duration::hours(24);

/// A request and where it has got to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub id: Uuid,
    pub person: PersonId,
    pub requested_at: DateTime<Utc>,
    /// `building`, `ready` or `failed`.
    pub status: String,
    pub bytes: i64,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<data_export::Model> for Export {
    fn from(m: data_export::Model) -> Self {
        Export {
            id: m.id,
            person: PersonId::from_uuid(m.person_id),
            requested_at: m.requested_at,
            status: m.status,
            bytes: m.bytes,
            expires_at: m.expires_at,
        }
    }
}

/// Records a request, keeping only the hash of its link's `token` (as capability links do), unless
/// the person made one here in the last day: then `Err` with when that one was made. The caller
/// queues [`JOB`] (with the token) in the same transaction.
pub async fn request(tx: &TenantTx, person: PersonId, token: &str) -> Result<Result<Uuid, DateTime<Utc>>, DbError> {
    let now = Utc::now();
    if let Some(last) = tx
        .select::<data_export::Entity>()
        .filter(data_export::Column::PersonId.eq(person.as_uuid()))
        .filter(data_export::Column::RequestedAt.gt(now - ONE_PER))
        // A request that failed does not count against the limit.
        .filter(data_export::Column::Status.ne("failed"))
        .order_by_desc(data_export::Column::RequestedAt)
        .one(tx)
        .await?
    {
        return Ok(Err(last.requested_at));
    }
    let id = Uuid::now_v7();
    tx.insert(data_export::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        person_id: Set(person.as_uuid()),
        requested_at: Set(now),
        status: Set("building".into()),
        bytes: Set(0),
        token_hash: Set(crate::links::hash(token)),
        expires_at: Set(None),
        detail: Set(String::new()),
    })
    .await?;
    Ok(Ok(id))
}

/// One request.
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Export>, DbError> {
    Ok(tx.select::<data_export::Entity>().filter(data_export::Column::Id.eq(id)).one(tx).await?.map(Export::from))
}

/// A request of `person`'s that is ready, by its id and its link's token (matched by hash, as
/// capability links are); `None` for anyone else's, a wrong token or one not ready.
pub async fn ready_by_token(tx: &TenantTx, id: Uuid, person: PersonId, token: &str) -> Result<Option<Export>, DbError> {
    Ok(tx
        .select::<data_export::Entity>()
        .filter(data_export::Column::Id.eq(id))
        .filter(data_export::Column::PersonId.eq(person.as_uuid()))
        .filter(data_export::Column::Status.eq("ready"))
        .filter(data_export::Column::TokenHash.eq(crate::links::hash(token)))
        .one(tx)
        .await?
        .map(Export::from))
}

/// The person's requests here, newest first.
pub async fn of(tx: &TenantTx, person: PersonId, limit: u64) -> Result<Vec<Export>, DbError> {
    Ok(tx
        .select::<data_export::Entity>()
        .filter(data_export::Column::PersonId.eq(person.as_uuid()))
        .order_by_desc(data_export::Column::RequestedAt)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Export::from)
        .collect())
}

/// Records a copy built: its size and when its link stops working.
pub async fn ready(tx: &TenantTx, id: Uuid, bytes: u64, expires_at: DateTime<Utc>) -> Result<(), DbError> {
    tx.update_many::<data_export::Entity>()
        .filter(data_export::Column::Id.eq(id))
        .col_expr(data_export::Column::Status, Expr::value("ready"))
        .col_expr(data_export::Column::Bytes, Expr::value(i64::try_from(bytes).unwrap_or(i64::MAX)))
        .col_expr(data_export::Column::ExpiresAt, Expr::value(Some(expires_at)))
        .exec(tx)
        .await?;
    Ok(())
}

/// Records that a copy could not be made (the person may ask again at once).
pub async fn failed(tx: &TenantTx, id: Uuid, why: &str) -> Result<(), DbError> {
    tx.update_many::<data_export::Entity>()
        .filter(data_export::Column::Id.eq(id))
        .filter(data_export::Column::Status.eq("building"))
        .col_expr(data_export::Column::Status, Expr::value("failed"))
        .col_expr(data_export::Column::Detail, Expr::value(why.chars().take(300).collect::<String>()))
        .exec(tx)
        .await?;
    Ok(())
}

/// Where a copy is kept in the file store.
pub fn file_key(tenant: trellis_domain::TenantId, id: Uuid) -> String {
    format!("{tenant}/data-exports/{id}.zip")
}

/// The tables of a trust that hold rows about a person, and the column that names them.
pub const TABLES: &[(&str, &str)] = &[
    ("memberships", "person_id"),
    ("membership_roles", "person_id"),
    ("staff_records", "person_id"),
    ("scim_users", "person_id"),
    ("sso_links", "person_id"),
    ("person_sessions", "person_id"),
    ("tenant_terms_acceptances", "person_id"),
    ("enrolments", "person_id"),
    ("assignments", "person_id"),
    ("object_progress", "person_id"),
    ("completions", "person_id"),
    ("attempts", "person_id"),
    ("certificate_links", "person_id"),
    ("record_grants", "person_id"),
    ("charges", "person_id"),
    ("report_authorisers", "person_id"),
    ("report_grants", "person_id"),
    ("report_schedules", "person_id"),
    ("portfolio_links", "person_id"),
    ("access_events", "person_id"),
    ("held_uploads", "uploaded_by"),
    ("data_exports", "person_id"),
    ("enquiries", "person_id"),
    ("resource_versions", "created_by"),
    ("resource_ratings", "person_id"),
    ("resource_feedback", "person_id"),
    ("resource_reports", "person_id"),
    ("content_policy_acceptances", "person_id"),
    ("event_bookings", "person_id"),
    ("event_trainers", "person_id"),
    ("line_managers", "person_id"),
    ("team_nudges", "person_id"),
    ("coaches", "person_id"),
    ("coach_learners", "learner_id"),
    ("coach_contacts", "learner_id"),
    ("coach_follow_ups", "learner_id"),
    ("learning_time", "person_id"),
    ("calendar_feeds", "person_id"),
    ("lab_bookings", "person_id"),
    ("badge_awards", "person_id"),
    ("campaign_people", "person_id"),
];

/// Whether a column holds a secret or its hash (left out of the copy).
fn secret(column: &str) -> bool {
    ["secret", "sealed", "hash", "password", "token"].iter().any(|s| column.contains(s))
}

fn cleaned(mut row: Value) -> Value {
    if let Value::Object(map) = &mut row {
        map.retain(|k, _| !secret(k) && k != "tenant_id");
    }
    row
}

/// Every row about `person` in this trust, by table (the audit trail's entries they made or that
/// are about them included), secrets left out.
pub async fn rows_about(tx: &TenantTx, person: PersonId) -> Result<Vec<(&'static str, Vec<Value>)>, DbError> {
    let mut out = Vec::new();
    for (table, column) in TABLES {
        let sql = format!("SELECT * FROM {table} WHERE tenant_id = $1 AND {column} = $2");
        let rows = tx.query_all(&sql, vec![person.as_uuid().into()]).await?;
        let rows = rows.iter().map(|r| Value::from_query_result(r, "").map(cleaned)).collect::<Result<Vec<_>, _>>()?;
        out.push((*table, rows));
    }
    // The resources they shared here, and the national library's copies of them (every column
    // but the search index).
    let sql = "SELECT tenant_id AS owner, id, kind, title, description, keywords, audience, licence, attribution_name,
                      attribution_url, status, status_reason, current_version, national, national_note, origin_id,
                      created_at, updated_at
                 FROM resources WHERE tenant_id IN ($1, $3) AND contributor_id = $2 ORDER BY created_at, id";
    let national = trellis_domain::TenantId::NATIONAL.as_uuid();
    let rows = tx.query_all(sql, vec![person.as_uuid().into(), national.into()]).await?;
    out.push((
        "resources",
        rows.iter().map(|r| Value::from_query_result(r, "").map(cleaned)).collect::<Result<Vec<_>, _>>()?,
    ));
    // Each SCORM commit of their attempts, as the content sent it (tracking detail).
    let sql = "SELECT c.* FROM attempt_commits c JOIN attempts a ON a.tenant_id = c.tenant_id AND a.id = c.attempt_id
                WHERE c.tenant_id = $1 AND a.tenant_id = $1 AND a.person_id = $2 ORDER BY c.id";
    let rows = tx.query_all(sql, vec![person.as_uuid().into()]).await?;
    out.push((
        "attempt_commits",
        rows.iter().map(|r| Value::from_query_result(r, "").map(cleaned)).collect::<Result<Vec<_>, _>>()?,
    ));
    // The threads of their enquiries.
    let sql = "SELECT m.* FROM enquiry_messages m JOIN enquiries e ON e.tenant_id = m.tenant_id AND e.id = m.enquiry_id
                WHERE m.tenant_id = $1 AND e.tenant_id = $1 AND e.person_id = $2 ORDER BY m.created_at";
    let rows = tx.query_all(sql, vec![person.as_uuid().into()]).await?;
    out.push((
        "enquiry_messages",
        rows.iter().map(|r| Value::from_query_result(r, "").map(cleaned)).collect::<Result<Vec<_>, _>>()?,
    ));
    let sql = "SELECT * FROM audit_events WHERE tenant_id = $1 AND (actor_person_id = $2 OR subject = $3) ORDER BY at";
    let rows = tx.query_all(sql, vec![person.as_uuid().into(), person.to_string().into()]).await?;
    out.push((
        "audit_events",
        rows.iter().map(|r| Value::from_query_result(r, "").map(cleaned)).collect::<Result<Vec<_>, _>>()?,
    ));
    Ok(out)
}

/// The platform's documents the person accepted (read as a member of this trust).
pub async fn platform_terms_of(tx: &TenantTx, person: PersonId) -> Result<Vec<Value>, DbError> {
    use crate::entities::platform_terms_acceptance as pta;
    Ok(tx
        .select_platform::<pta::Entity>()
        .filter(pta::Column::PersonId.eq(person.as_uuid()))
        .all(tx)
        .await?
        .into_iter()
        .map(|a| {
            serde_json::json!({
                "person_id": a.person_id, "document_key": a.document_key, "version": a.version,
                "accepted_at": a.accepted_at, "ip": a.ip,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_and_their_hashes_are_left_out() {
        let row =
            serde_json::json!({ "id": 1, "token_hash": "x", "secret_sealed": "y", "tenant_id": "t", "email": "a@b" });
        let kept = super::cleaned(row);
        assert_eq!(kept, serde_json::json!({ "id": 1, "email": "a@b" }));
    }
}
