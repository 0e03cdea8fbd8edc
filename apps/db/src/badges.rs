//! Badges (issue 22): the badges a trust awards for completing a programme or keeping all
//! mandatory training current, and the awards people have earned (one per person and badge,
//! brought up to date when they earn it again).

use crate::TenantTx;
use crate::error::DbError;
use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use trellis_domain::PersonId;
use uuid::Uuid;

/// What earns a badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Criterion {
    /// Every course of a programme completed.
    Programme(Uuid),
    /// All of one's mandatory training complete and current.
    Mandatory,
}

/// A trust's badge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub criterion: Criterion,
    pub active: bool,
    /// How many people hold it.
    pub awarded: i64,
}

fn badge(r: &QueryResult) -> Result<Badge, DbError> {
    let criterion: String = r.try_get("", "criterion")?;
    let programme: Option<Uuid> = r.try_get("", "programme_id")?;
    Ok(Badge {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        description: r.try_get("", "description")?,
        criterion: match (criterion.as_str(), programme) {
            ("programme", Some(p)) => Criterion::Programme(p),
            _ => Criterion::Mandatory,
        },
        active: r.try_get("", "active")?,
        awarded: r.try_get("", "awarded")?,
    })
}

const BADGE_COLUMNS: &str = "b.id, b.name, b.description, b.criterion, b.programme_id, b.active,
    (SELECT COUNT(*) FROM badge_awards a WHERE a.tenant_id = $1 AND a.badge_id = b.id) AS awarded";

/// Adds a badge (awarded from now on). Returns its id.
pub async fn create(tx: &TenantTx, name: &str, description: &str, criterion: Criterion) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let (word, programme) = match criterion {
        Criterion::Programme(p) => ("programme", Some(p)),
        Criterion::Mandatory => ("mandatory", None),
    };
    tx.execute(
        "INSERT INTO badges (tenant_id, id, name, description, criterion, programme_id, active, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7)",
        vec![id.into(), name.into(), description.into(), word.into(), programme.into(), Utc::now().into()],
    )
    .await?;
    Ok(id)
}

/// The trust's badges by name (only those awarded now, with `active_only`).
pub async fn list(tx: &TenantTx, active_only: bool) -> Result<Vec<Badge>, DbError> {
    let cond = if active_only { " AND b.active = TRUE" } else { "" };
    let sql =
        format!("SELECT {BADGE_COLUMNS} FROM badges b WHERE b.tenant_id = $1{cond} ORDER BY b.name, b.id LIMIT 200");
    tx.query_all(&sql, vec![]).await?.iter().map(badge).collect()
}

/// Starts or stops awarding a badge (awards made stand); false if there is no such badge.
pub async fn set_active(tx: &TenantTx, id: Uuid, active: bool) -> Result<bool, DbError> {
    Ok(tx
        .execute("UPDATE badges SET active = $3 WHERE tenant_id = $1 AND id = $2", vec![id.into(), active.into()])
        .await?
        > 0)
}

/// Records that `person` earned `badge` at `awarded_at` (current until `valid_until`, if it
/// lapses), in place of what was recorded before.
pub async fn award(
    tx: &TenantTx,
    badge: Uuid,
    person: PersonId,
    awarded_at: DateTime<Utc>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let changed = tx
        .execute(
            "UPDATE badge_awards SET awarded_at = $4, valid_until = $5 WHERE tenant_id = $1 AND badge_id = $2 AND person_id = $3",
            vec![badge.into(), person.as_uuid().into(), awarded_at.into(), valid_until.into()],
        )
        .await?;
    if changed == 0 {
        tx.execute(
            "INSERT INTO badge_awards (tenant_id, id, badge_id, person_id, awarded_at, valid_until)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            vec![Uuid::now_v7().into(), badge.into(), person.as_uuid().into(), awarded_at.into(), valid_until.into()],
        )
        .await?;
    }
    Ok(())
}

/// A badge someone earned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub id: Uuid,
    pub person: PersonId,
    pub badge: Uuid,
    pub name: String,
    pub description: String,
    pub criterion: String,
    pub awarded_at: DateTime<Utc>,
    pub valid_until: Option<DateTime<Utc>>,
}

fn award_row(r: &QueryResult) -> Result<Award, DbError> {
    Ok(Award {
        id: r.try_get("", "id")?,
        person: PersonId::from_uuid(r.try_get("", "person_id")?),
        badge: r.try_get("", "badge_id")?,
        name: r.try_get("", "name")?,
        description: r.try_get("", "description")?,
        criterion: r.try_get("", "criterion")?,
        awarded_at: r.try_get("", "awarded_at")?,
        valid_until: r.try_get("", "valid_until")?,
    })
}

const AWARD_COLUMNS: &str =
    "a.id, a.person_id, a.badge_id, b.name, b.description, b.criterion, a.awarded_at, a.valid_until";

/// The badges `person` has earned here, newest first.
pub async fn awards_of(tx: &TenantTx, person: PersonId) -> Result<Vec<Award>, DbError> {
    let sql = format!(
        "SELECT {AWARD_COLUMNS} FROM badge_awards a JOIN badges b ON b.tenant_id = a.tenant_id AND b.id = a.badge_id
          WHERE a.tenant_id = $1 AND a.person_id = $2 ORDER BY a.awarded_at DESC, a.id LIMIT 200"
    );
    tx.query_all(&sql, vec![person.as_uuid().into()]).await?.iter().map(award_row).collect()
}

/// One award of this trust.
pub async fn award_by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Award>, DbError> {
    let sql = format!(
        "SELECT {AWARD_COLUMNS} FROM badge_awards a JOIN badges b ON b.tenant_id = a.tenant_id AND b.id = a.badge_id
          WHERE a.tenant_id = $1 AND a.id = $2"
    );
    tx.query_one(&sql, vec![id.into()]).await?.map(|r| award_row(&r)).transpose()
}
