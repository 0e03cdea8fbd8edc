//! Protected learning time (issue 22): the weekly allowance a member asks for and their line
//! manager agrees, and each member's calendar feed (a capability link, see [`crate::links`]).

use crate::entities::calendar_feed;
use crate::error::DbError;
use crate::{TenantTx, links};
use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryResult, Set};
use trellis_domain::PersonId;
use trellis_domain::learning_time::Allowance;
use uuid::Uuid;

/// A member's learning time: the allowance, and where its agreement stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearningTime {
    pub person: PersonId,
    pub allowance: Allowance,
    pub asked_by: PersonId,
    pub asked_at: DateTime<Utc>,
    /// Who agreed it and when; `None` while it waits for their line manager.
    pub agreed: Option<(PersonId, DateTime<Utc>)>,
}

fn from_row(r: &QueryResult) -> Result<LearningTime, DbError> {
    let minutes: i32 = r.try_get("", "minutes")?;
    let weekday: i32 = r.try_get("", "weekday")?;
    let start: i32 = r.try_get("", "start_minute")?;
    let weekday =
        chrono::Weekday::try_from(u8::try_from((weekday - 1).clamp(0, 6)).unwrap_or(0)).unwrap_or(chrono::Weekday::Mon);
    let start = NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(start.clamp(0, 1439) * 60).unwrap_or(0), 0)
        .unwrap_or_default();
    let agreed_by: Option<Uuid> = r.try_get("", "agreed_by")?;
    let agreed_at: Option<DateTime<Utc>> = r.try_get("", "agreed_at")?;
    Ok(LearningTime {
        person: PersonId::from_uuid(r.try_get("", "person_id")?),
        allowance: Allowance { minutes: u32::try_from(minutes).unwrap_or(0), weekday, start },
        asked_by: PersonId::from_uuid(r.try_get("", "asked_by")?),
        asked_at: r.try_get("", "asked_at")?,
        agreed: agreed_by.zip(agreed_at).map(|(p, at)| (PersonId::from_uuid(p), at)),
    })
}

const COLUMNS: &str = "person_id, minutes, weekday, start_minute, asked_by, asked_at, agreed_by, agreed_at";

/// `person`'s learning time here, if they have asked for any.
pub async fn of(tx: &TenantTx, person: PersonId) -> Result<Option<LearningTime>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM learning_time WHERE tenant_id = $1 AND person_id = $2");
    tx.query_one(&sql, vec![person.as_uuid().into()]).await?.map(|r| from_row(&r)).transpose()
}

/// Asks for `allowance` for `person` (asked by `by`): it replaces any before, and waits to be
/// agreed.
pub async fn ask(tx: &TenantTx, person: PersonId, by: PersonId, allowance: &Allowance) -> Result<(), DbError> {
    let start = i32::try_from(allowance.start.signed_duration_since(NaiveTime::MIN).num_minutes()).unwrap_or(0);
    let values = vec![
        person.as_uuid().into(),
        i32::try_from(allowance.minutes).unwrap_or(0).into(),
        i32::try_from(allowance.weekday_number()).unwrap_or(1).into(),
        start.into(),
        by.as_uuid().into(),
        Utc::now().into(),
    ];
    let changed = tx
        .execute(
            "UPDATE learning_time SET minutes = $3, weekday = $4, start_minute = $5, asked_by = $6, asked_at = $7,
                    agreed_by = NULL, agreed_at = NULL
              WHERE tenant_id = $1 AND person_id = $2",
            values.clone(),
        )
        .await?;
    if changed == 0 {
        tx.execute(
            "INSERT INTO learning_time (tenant_id, person_id, minutes, weekday, start_minute, asked_by, asked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            values,
        )
        .await?;
    }
    Ok(())
}

/// Agrees `person`'s learning time as `by`; false unless it was waiting (asked by someone else).
pub async fn agree(tx: &TenantTx, person: PersonId, by: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE learning_time SET agreed_by = $3, agreed_at = $4
              WHERE tenant_id = $1 AND person_id = $2 AND agreed_at IS NULL AND asked_by <> $3",
            vec![person.as_uuid().into(), by.as_uuid().into(), Utc::now().into()],
        )
        .await?
        > 0)
}

/// Ends `person`'s learning time (declined, or stopped); false if they had none.
pub async fn remove(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .execute("DELETE FROM learning_time WHERE tenant_id = $1 AND person_id = $2", vec![person.as_uuid().into()])
        .await?
        > 0)
}

/// The learning time `manager`'s team have asked for and is waiting for them (oldest first), with
/// each person's name.
pub async fn waiting_for(tx: &TenantTx, manager: PersonId) -> Result<Vec<(LearningTime, String)>, DbError> {
    let sql =
        "SELECT t.person_id, t.minutes, t.weekday, t.start_minute, t.asked_by, t.asked_at, t.agreed_by, t.agreed_at,
                      p.given_name, p.family_name
                 FROM line_managers l
                 JOIN learning_time t ON t.tenant_id = l.tenant_id AND t.person_id = l.person_id AND t.agreed_at IS NULL
                 JOIN people p ON p.id = l.person_id
                WHERE l.tenant_id = $1 AND l.manager_id = $2 AND t.asked_by <> $2
                ORDER BY t.asked_at LIMIT 200";
    let rows = tx.query_all(sql, vec![manager.as_uuid().into()]).await?;
    rows.iter()
        .map(|r| {
            let name =
                format!("{} {}", r.try_get::<String>("", "given_name")?, r.try_get::<String>("", "family_name")?);
            Ok((from_row(r)?, name.trim().to_owned()))
        })
        .collect()
}

// ---- Calendar feeds ----

/// A member's live calendar feed: when it was made, and how often and when calendars fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub created_at: DateTime<Utc>,
    pub fetches: i32,
    pub last_fetched: Option<DateTime<Utc>>,
}

/// `person`'s live feed, if they have one.
pub async fn feed(tx: &TenantTx, person: PersonId) -> Result<Option<Feed>, DbError> {
    Ok(tx
        .select::<calendar_feed::Entity>()
        .filter(calendar_feed::Column::PersonId.eq(person.as_uuid()))
        .filter(calendar_feed::Column::RevokedAt.is_null())
        .one(tx)
        .await?
        .map(|m| Feed { created_at: m.created_at, fetches: m.views, last_fetched: m.last_viewed_at }))
}

/// Revokes `person`'s live feed; false if they had none.
pub async fn revoke_feed(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    let res = tx
        .update_many::<calendar_feed::Entity>()
        .filter(calendar_feed::Column::PersonId.eq(person.as_uuid()))
        .filter(calendar_feed::Column::RevokedAt.is_null())
        .col_expr(calendar_feed::Column::RevokedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Gives `person` a new feed with `token` (kept as its hash), revoking any before.
pub async fn new_feed(tx: &TenantTx, person: PersonId, token: &str) -> Result<(), DbError> {
    revoke_feed(tx, person).await?;
    tx.insert(calendar_feed::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        person_id: Set(person.as_uuid()),
        token_sha256: Set(links::hash(token)),
        created_at: Set(Utc::now()),
        revoked_at: Set(None),
        views: Set(0),
        last_viewed_at: Set(None),
    })
    .await?;
    Ok(())
}

/// Whose live feed `token` opens here (counting the fetch), if anyone's who is still an approved
/// member.
pub async fn feed_owner(tx: &TenantTx, token: &str) -> Result<Option<PersonId>, DbError> {
    let Some(link) = links::by_token::<calendar_feed::Entity>(tx, token).await? else { return Ok(None) };
    if link.revoked_at.is_some() {
        return Ok(None);
    }
    let person = PersonId::from_uuid(link.person_id);
    if crate::identity::membership(tx, person)
        .await?
        .is_none_or(|m| m.status != crate::states::MembershipStatus::Approved)
    {
        return Ok(None);
    }
    links::viewed::<calendar_feed::Entity>(tx, link.id).await?;
    Ok(Some(person))
}
