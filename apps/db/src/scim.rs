//! Users an identity system provisioned through SCIM (`scim_users`): the link from a SCIM
//! resource to the person it stands for, with the attributes as last sent. Every query names the
//! trust (`tenant_id = $1`) as well as running under its row-level security.

use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::Value;
use trellis_domain::PersonId;
use uuid::Uuid;

/// A provisioned user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUser {
    pub id: Uuid,
    pub person: PersonId,
    pub user_name: String,
    pub external_id: Option<String>,
    /// The attributes as the identity system last sent them (a JSON object).
    pub resource: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, person_id, user_name, external_id, resource, version, created_at, updated_at";

fn from_row(r: &sea_orm::QueryResult) -> Result<ScimUser, DbError> {
    Ok(ScimUser {
        id: r.try_get("", "id")?,
        person: PersonId::from_uuid(r.try_get("", "person_id")?),
        user_name: r.try_get("", "user_name")?,
        external_id: r.try_get("", "external_id")?,
        resource: r.try_get("", "resource")?,
        version: r.try_get("", "version")?,
        created_at: r.try_get("", "created_at")?,
        updated_at: r.try_get("", "updated_at")?,
    })
}

/// The key a `userName` is looked up by (SCIM's `userName` is not case-exact).
pub fn user_name_key(user_name: &str) -> String {
    user_name.trim().to_lowercase()
}

/// A provisioned user by id.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<ScimUser>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM scim_users WHERE tenant_id = $1 AND id = $2");
    tx.query_one(&sql, vec![id.into()]).await?.as_ref().map(from_row).transpose()
}

/// The provisioned user standing for this person, if any.
pub async fn by_person(tx: &TenantTx, person: PersonId) -> Result<Option<ScimUser>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM scim_users WHERE tenant_id = $1 AND person_id = $2");
    tx.query_one(&sql, vec![person.as_uuid().into()]).await?.as_ref().map(from_row).transpose()
}

/// Which users a list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    UserName(String),
    ExternalId(String),
}

/// A page of provisioned users (in the order they were made) and how many match in all.
/// `start` counts from 0.
pub async fn list(tx: &TenantTx, filter: &Filter, start: u64, count: u64) -> Result<(Vec<ScimUser>, u64), DbError> {
    let (cond, vals): (&str, Vec<Value>) = match filter {
        Filter::All => ("", vec![]),
        Filter::UserName(u) => (" AND user_name_key = $2", vec![user_name_key(u).into()]),
        Filter::ExternalId(e) => (" AND external_id = $2", vec![e.clone().into()]),
    };
    let total = tx
        .query_one(
            &format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM scim_users WHERE tenant_id = $1{cond}"),
            vals.clone(),
        )
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    let rows = if count == 0 {
        vec![]
    } else {
        let sql = format!(
            "SELECT {COLUMNS} FROM scim_users WHERE tenant_id = $1{cond} ORDER BY created_at, id LIMIT {} OFFSET {}",
            count.min(1000),
            start
        );
        tx.query_all(&sql, vals).await?.iter().map(from_row).collect::<Result<Vec<_>, _>>()?
    };
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// Links a new provisioned user to a person.
pub async fn insert(tx: &TenantTx, u: &ScimUser, token: Option<Uuid>) -> Result<(), DbError> {
    let sql = "INSERT INTO scim_users (tenant_id, id, person_id, user_name, user_name_key, external_id, resource, version, token_id, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    tx.execute(
        sql,
        vec![
            u.id.into(),
            u.person.as_uuid().into(),
            u.user_name.clone().into(),
            user_name_key(&u.user_name).into(),
            u.external_id.clone().into(),
            u.resource.clone().into(),
            u.version.into(),
            token.into(),
            u.created_at.into(),
            u.updated_at.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Saves a user's attributes if it is still at `version` (so of two changes at once, one wins
/// and the other is told); the version rises by one. False when it moved on or is gone.
pub async fn update(
    tx: &TenantTx,
    id: Uuid,
    version: i32,
    user_name: &str,
    external_id: Option<&str>,
    resource: &str,
) -> Result<bool, DbError> {
    let sql = "UPDATE scim_users SET user_name = $3, user_name_key = $4, external_id = $5, resource = $6,
                      version = version + 1, updated_at = $7
                WHERE tenant_id = $1 AND id = $2 AND version = $8";
    let n = tx
        .execute(
            sql,
            vec![
                id.into(),
                user_name.to_owned().into(),
                user_name_key(user_name).into(),
                external_id.map(str::to_owned).into(),
                resource.to_owned().into(),
                Utc::now().into(),
                version.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Removes a provisioned user's link (the person and their record stay).
pub async fn delete(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx.execute("DELETE FROM scim_users WHERE tenant_id = $1 AND id = $2", vec![id.into()]).await? == 1)
}

/// Whether another user here has this `userName`.
pub async fn user_name_taken(tx: &TenantTx, user_name: &str, except: Option<Uuid>) -> Result<bool, DbError> {
    let row = tx
        .query_one(
            "SELECT id FROM scim_users WHERE tenant_id = $1 AND user_name_key = $2",
            vec![user_name_key(user_name).into()],
        )
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<Uuid>("", "id")?) != except,
        None => false,
    })
}

/// Whether another member here holds this assignment number.
pub async fn assignment_taken(tx: &TenantTx, number: &str, person: Option<PersonId>) -> Result<bool, DbError> {
    let row = tx
        .query_one(
            "SELECT person_id FROM staff_records WHERE tenant_id = $1 AND assignment_number = $2",
            vec![number.to_owned().into()],
        )
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get::<Uuid>("", "person_id")?) != person.map(|p| p.as_uuid()),
        None => false,
    })
}

/// Makes a member approved again (from suspended, or from pending: the identity system says they
/// are staff). False when they were approved already or are no member here.
pub async fn activate(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    let n = tx
        .execute(
            "UPDATE memberships SET status = 'approved', reason = NULL, decided_by = NULL, decided_at = $3, updated_at = $3
              WHERE tenant_id = $1 AND person_id = $2 AND status IN ('suspended', 'pending')",
            vec![person.as_uuid().into(), Utc::now().into()],
        )
        .await?;
    Ok(n > 0)
}

/// Revokes this trust's open invitations of a person (a user deactivated or deleted before they
/// accepted). Returns how many.
pub async fn revoke_invitations(tx: &TenantTx, person: PersonId) -> Result<u64, DbError> {
    tx.execute(
        "UPDATE invitations SET revoked_at = $3
          WHERE tenant_id = $1 AND person_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        vec![person.as_uuid().into(), Utc::now().into()],
    )
    .await
}
