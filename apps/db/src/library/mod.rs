//! The resource library: resources staff share under a licence (each with its versions), their
//! ratings, feedback and reports, the moderators' queue, who may contribute, who has accepted the
//! content policy, and proposals for the national library.
//!
//! A trust's library lists its own published resources and the national library's (rows owned by
//! [`TenantId::NATIONAL`], readable by every trust, changed only in a transaction for the
//! national library itself). Ratings, feedback and reports are kept by the trust of the person
//! who gave them, also for a national resource.

use crate::catalogue::StoredFile;
use crate::entities::{
    content_policy_acceptance, library_setting, resource, resource_feedback, resource_report, resource_version,
};
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::library::{CONTENT_POLICY_VERSION, Contributors};
use trellis_domain::{PersonId, TenantId};
use uuid::Uuid;

/// A resource, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: Uuid,
    /// Whose it is: a trust, or [`TenantId::NATIONAL`].
    pub owner: TenantId,
    pub kind: String,
    pub title: String,
    pub description: String,
    pub keywords: String,
    pub audience: String,
    pub licence: String,
    pub attribution_name: String,
    pub attribution_url: String,
    /// `published`, `hidden` or `removed`; `scanning` while its first version waits for its virus
    /// scan, and `refused` if that scan found a virus (or the file could not be used).
    pub status: String,
    /// Why it was hidden or removed (told to the contributor).
    pub status_reason: String,
    pub contributor: Option<PersonId>,
    pub current_version: i32,
    /// A newer version waiting for its virus scan (0 if none): numbered, not yet current.
    pub pending_version: i32,
    /// `none`, `proposed`, `accepted` or `declined`: its proposal for the national library.
    pub national: String,
    /// The version proposed for the national library (the one its curators see and copy).
    pub proposed_version: i32,
    pub national_note: String,
    pub origin: Option<(TenantId, Uuid)>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Resource {
    /// Whether it belongs to the national library.
    pub fn is_national(&self) -> bool {
        self.owner == TenantId::NATIONAL
    }
}

impl From<resource::Model> for Resource {
    fn from(m: resource::Model) -> Self {
        Resource {
            id: m.id,
            owner: TenantId::from_uuid(m.tenant_id),
            kind: m.kind,
            title: m.title,
            description: m.description,
            keywords: m.keywords,
            audience: m.audience,
            licence: m.licence,
            attribution_name: m.attribution_name,
            attribution_url: m.attribution_url,
            status: m.status,
            status_reason: m.status_reason,
            contributor: m.contributor_id.map(PersonId::from_uuid),
            current_version: m.current_version,
            pending_version: m.pending_version,
            national: m.national,
            proposed_version: m.proposed_version,
            national_note: m.national_note,
            origin: m.origin_tenant_id.zip(m.origin_id).map(|(t, id)| (TenantId::from_uuid(t), id)),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One version of a resource's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub number: i32,
    pub file: Option<StoredFile>,
    pub url: String,
    pub body: String,
    pub alt_text: String,
    pub captions_key: Option<String>,
    pub transcript: String,
    pub note: String,
    pub created_by: Option<PersonId>,
    pub created_at: DateTime<Utc>,
}

impl From<resource_version::Model> for Version {
    fn from(m: resource_version::Model) -> Self {
        Version {
            number: m.number,
            file: m.file_key.map(|key| StoredFile {
                key,
                name: m.file_name,
                content_type: m.file_type,
                size: m.file_size,
            }),
            url: m.url,
            body: m.body,
            alt_text: m.alt_text,
            captions_key: m.captions_key,
            transcript: m.transcript,
            note: m.note,
            created_by: m.created_by.map(PersonId::from_uuid),
            created_at: m.created_at,
        }
    }
}

/// A new resource's details.
#[derive(Debug, Clone, Default)]
pub struct NewResource {
    pub kind: String,
    pub title: String,
    pub description: String,
    pub keywords: String,
    pub audience: String,
    pub licence: String,
    pub attribution_name: String,
    pub attribution_url: String,
    pub contributor: Option<PersonId>,
    /// Proposed for the national library as well.
    pub propose_national: bool,
    pub origin: Option<(TenantId, Uuid)>,
}

/// A version's content.
#[derive(Debug, Clone, Default)]
pub struct NewVersion {
    pub file: Option<StoredFile>,
    pub url: String,
    pub body: String,
    pub alt_text: String,
    pub captions_key: Option<String>,
    pub transcript: String,
    pub note: String,
    pub created_by: Option<PersonId>,
}

/// Adds a resource with its first version: published at once, or (`waiting`) with the status
/// `scanning` until its files have been scanned. Returns its id.
pub async fn create(tx: &TenantTx, new: &NewResource, first: &NewVersion, waiting: bool) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let now = Utc::now();
    tx.insert(resource::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id),
        kind: Set(new.kind.clone()),
        title: Set(new.title.clone()),
        description: Set(new.description.clone()),
        keywords: Set(new.keywords.clone()),
        audience: Set(new.audience.clone()),
        licence: Set(new.licence.clone()),
        attribution_name: Set(new.attribution_name.clone()),
        attribution_url: Set(new.attribution_url.clone()),
        status: Set(if waiting { "scanning" } else { "published" }.into()),
        status_reason: Set(String::new()),
        contributor_id: Set(new.contributor.map(|p| p.as_uuid())),
        current_version: Set(1),
        pending_version: Set(0),
        national: Set(if new.propose_national { "proposed" } else { "none" }.into()),
        proposed_version: Set(i32::from(new.propose_national)),
        national_note: Set(String::new()),
        origin_tenant_id: Set(new.origin.map(|(t, _)| t.as_uuid())),
        origin_id: Set(new.origin.map(|(_, id)| id)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    insert_version(tx, id, 1, first).await?;
    Ok(id)
}

async fn insert_version(tx: &TenantTx, id: Uuid, number: i32, v: &NewVersion) -> Result<(), DbError> {
    let f = v.file.as_ref();
    tx.insert(resource_version::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        resource_id: Set(id),
        number: Set(number),
        file_key: Set(f.map(|f| f.key.clone())),
        file_name: Set(f.map(|f| f.name.clone()).unwrap_or_default()),
        file_type: Set(f.map(|f| f.content_type.clone()).unwrap_or_default()),
        file_size: Set(f.map_or(0, |f| f.size)),
        url: Set(v.url.clone()),
        body: Set(v.body.clone()),
        alt_text: Set(v.alt_text.clone()),
        captions_key: Set(v.captions_key.clone()),
        transcript: Set(v.transcript.clone()),
        note: Set(v.note.clone()),
        created_by: Set(v.created_by.map(|p| p.as_uuid())),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

/// Adds a version to one of this owner's resources and makes it the current one or, `waiting`
/// for its files' virus scan, its pending one (current once [`publish_scanned`] finds its files
/// scanned). Returns its number, or None if the resource is not this owner's or a version is
/// already waiting.
pub async fn add_version(tx: &TenantTx, id: Uuid, v: &NewVersion, waiting: bool) -> Result<Option<i32>, DbError> {
    // The count goes up first: on PostgreSQL that locks the row until the transaction ends (and
    // SQLite writes one at a time), so two versions sent at once get numbers in turn.
    let column = if waiting { resource::Column::PendingVersion } else { resource::Column::CurrentVersion };
    let bumped = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .filter(resource::Column::PendingVersion.eq(0))
        .col_expr(column, Expr::col(resource::Column::CurrentVersion).add(1))
        .col_expr(resource::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    if bumped.rows_affected == 0 {
        return Ok(None);
    }
    let Some(r) = tx.select::<resource::Entity>().filter(resource::Column::Id.eq(id)).one(tx).await? else {
        return Ok(None);
    };
    let number = if waiting { r.pending_version } else { r.current_version };
    insert_version(tx, id, number, v).await?;
    Ok(Some(number))
}

/// Records that one of a waiting version's files, kept at `held_key` while it waited, was scanned
/// clean and is now at `key`. False if the version no longer has that file (it was not kept).
pub async fn file_scanned(tx: &TenantTx, id: Uuid, number: i32, held_key: &str, key: &str) -> Result<bool, DbError> {
    lock(tx, id).await?;
    for column in [resource_version::Column::FileKey, resource_version::Column::CaptionsKey] {
        let done = tx
            .update_many::<resource_version::Entity>()
            .filter(resource_version::Column::ResourceId.eq(id))
            .filter(resource_version::Column::Number.eq(number))
            .filter(column.eq(held_key))
            .col_expr(column, Expr::value(key))
            .exec(tx)
            .await?;
        if done.rows_affected > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Publishes a waiting version once none of its files is still in the held area (`held_prefix`):
/// a `scanning` resource's first version makes it `published`; a pending version becomes the
/// current one. True if it was published now.
pub async fn publish_scanned(tx: &TenantTx, id: Uuid, number: i32, held_prefix: &str) -> Result<bool, DbError> {
    let Some(v) = version_row(tx, id, number).await? else { return Ok(false) };
    if [&v.file_key, &v.captions_key].into_iter().flatten().any(|k| k.starts_with(held_prefix)) {
        return Ok(false);
    }
    let now = Utc::now();
    let first = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .filter(resource::Column::Status.eq("scanning"))
        .filter(resource::Column::CurrentVersion.eq(number))
        .col_expr(resource::Column::Status, Expr::value("published"))
        .col_expr(resource::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    let later = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .filter(resource::Column::PendingVersion.eq(number))
        .col_expr(resource::Column::CurrentVersion, Expr::value(number))
        .col_expr(resource::Column::PendingVersion, Expr::value(0))
        .col_expr(resource::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    Ok(first.rows_affected + later.rows_affected > 0)
}

/// Gives up a waiting version whose scan found a virus (or whose file could not be used): a
/// `scanning` resource becomes `refused`, with the reason, its version keeping no file; a pending
/// version is deleted. Returns the keys of its files that nothing else uses (to delete), or None
/// if the version was not waiting.
pub async fn refuse_waiting(
    tx: &TenantTx,
    id: Uuid,
    number: i32,
    held_key: &str,
    reason: &str,
) -> Result<Option<Vec<String>>, DbError> {
    // The resource's row is locked first (as [`file_scanned`] does), so a file scanned clean at
    // the same time is either seen here or waits until this is done.
    lock(tx, id).await?;
    let Some(r) = tx.select::<resource::Entity>().filter(resource::Column::Id.eq(id)).one(tx).await? else {
        return Ok(None);
    };
    let first = r.status == "scanning" && r.current_version == number;
    if !first && r.pending_version != number {
        return Ok(None);
    }
    // Only for a file of this very version: a number given up is given again to the next version.
    let Some(v) = version_row(tx, id, number)
        .await?
        .filter(|v| v.file_key.as_deref() == Some(held_key) || v.captions_key.as_deref() == Some(held_key))
    else {
        return Ok(None);
    };
    let mut keys: Vec<String> = [v.file_key.clone(), v.captions_key.clone()].into_iter().flatten().collect();
    let now = Utc::now();
    if first {
        tx.update_many::<resource::Entity>()
            .filter(resource::Column::Id.eq(id))
            .col_expr(resource::Column::Status, Expr::value("refused"))
            .col_expr(resource::Column::StatusReason, Expr::value(reason))
            .col_expr(resource::Column::National, Expr::value("none"))
            .col_expr(resource::Column::ProposedVersion, Expr::value(0))
            .col_expr(resource::Column::UpdatedAt, Expr::value(now))
            .exec(tx)
            .await?;
        tx.update_many::<resource_version::Entity>()
            .filter(resource_version::Column::ResourceId.eq(id))
            .filter(resource_version::Column::Number.eq(number))
            .col_expr(resource_version::Column::FileKey, Expr::value(Option::<String>::None))
            .col_expr(resource_version::Column::CaptionsKey, Expr::value(Option::<String>::None))
            .exec(tx)
            .await?;
    } else {
        // A file or captions kept from an earlier version stay with it.
        let others = tx
            .select::<resource_version::Entity>()
            .filter(resource_version::Column::ResourceId.eq(id))
            .filter(resource_version::Column::Number.ne(number))
            .all(tx)
            .await?;
        keys.retain(|k| !others.iter().any(|o| o.file_key.as_ref() == Some(k) || o.captions_key.as_ref() == Some(k)));
        tx.delete_many::<resource_version::Entity>()
            .filter(resource_version::Column::ResourceId.eq(id))
            .filter(resource_version::Column::Number.eq(number))
            .exec(tx)
            .await?;
        tx.update_many::<resource::Entity>()
            .filter(resource::Column::Id.eq(id))
            .col_expr(resource::Column::PendingVersion, Expr::value(0))
            .col_expr(resource::Column::UpdatedAt, Expr::value(now))
            .exec(tx)
            .await?;
    }
    Ok(Some(keys))
}

/// Locks a resource's row until the transaction ends (on PostgreSQL; SQLite writes one at a time).
async fn lock(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    tx.update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .col_expr(resource::Column::PendingVersion, Expr::col(resource::Column::PendingVersion))
        .exec(tx)
        .await?;
    Ok(())
}

async fn version_row(tx: &TenantTx, id: Uuid, number: i32) -> Result<Option<resource_version::Model>, DbError> {
    Ok(tx
        .select::<resource_version::Entity>()
        .filter(resource_version::Column::ResourceId.eq(id))
        .filter(resource_version::Column::Number.eq(number))
        .one(tx)
        .await?)
}

/// A resource this trust may see: its own (any status) or a national one.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<Resource>, DbError> {
    Ok(tx.select_shared::<resource::Entity>().filter(resource::Column::Id.eq(id)).one(tx).await?.map(Resource::from))
}

/// A resource's versions, newest first.
pub async fn versions(tx: &TenantTx, r: &Resource) -> Result<Vec<Version>, DbError> {
    Ok(tx
        .select_shared::<resource_version::Entity>()
        .filter(resource_version::Column::TenantId.eq(r.owner.as_uuid()))
        .filter(resource_version::Column::ResourceId.eq(r.id))
        .order_by_desc(resource_version::Column::Number)
        .limit(200)
        .all(tx)
        .await?
        .into_iter()
        .map(Version::from)
        .collect())
}

/// A resource's current version.
pub async fn current(tx: &TenantTx, r: &Resource) -> Result<Option<Version>, DbError> {
    version(tx, r, r.current_version).await
}

/// One version of a resource.
pub async fn version(tx: &TenantTx, r: &Resource, number: i32) -> Result<Option<Version>, DbError> {
    Ok(tx
        .select_shared::<resource_version::Entity>()
        .filter(resource_version::Column::TenantId.eq(r.owner.as_uuid()))
        .filter(resource_version::Column::ResourceId.eq(r.id))
        .filter(resource_version::Column::Number.eq(number))
        .one(tx)
        .await?
        .map(Version::from))
}

/// A search of the library.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    pub kind: String,
    pub licence: String,
    pub offset: u64,
    pub limit: u64,
}

/// The published resources (this trust's and the national library's) that match, best first when
/// there are words (PostgreSQL full-text search, or SQLite FTS5), otherwise newest first; and how
/// many match in all.
pub async fn search(tx: &TenantTx, q: &Query) -> Result<(Vec<Resource>, u64), DbError> {
    let national = TenantId::NATIONAL.as_uuid();
    let words = q.text.trim();
    let terms = if tx.is_postgres() { words.to_owned() } else { crate::catalogue::fts5_terms(words) };
    if !words.is_empty() && terms.is_empty() {
        return Ok((vec![], 0));
    }
    let mut values: Vec<sea_orm::Value> = vec![national.into()];
    let mut filter = String::from("r.tenant_id IN ($1, $2) AND r.status = 'published'");
    if !q.kind.is_empty() {
        values.push(q.kind.clone().into());
        filter.push_str(&format!(" AND r.kind = ${}", values.len() + 1));
    }
    if !q.licence.is_empty() {
        values.push(q.licence.clone().into());
        filter.push_str(&format!(" AND r.licence = ${}", values.len() + 1));
    }
    let (from, order) = if words.is_empty() {
        ("resources r".to_owned(), "r.updated_at DESC, r.id DESC".to_owned())
    } else {
        values.push(terms.into());
        let n = values.len() + 1;
        if tx.is_postgres() {
            filter.push_str(" AND r.search @@ w");
            (
                format!("resources r, websearch_to_tsquery('english', ${n}) w"),
                "ts_rank(r.search, w) DESC, r.title ASC, r.id ASC".to_owned(),
            )
        } else {
            (
                format!(
                    "resources r JOIN (SELECT resource_id AS sid, bm25(resource_search) AS score FROM resource_search WHERE resource_search MATCH ${n}) s ON s.sid = r.id"
                ),
                "s.score ASC, r.title ASC, r.id ASC".to_owned(),
            )
        }
    };
    let count_sql = format!("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM {from} WHERE {filter}");
    let total = match tx.query_one(&count_sql, values.clone()).await? {
        Some(r) => u64::try_from(r.try_get::<i64>("", "n")?).unwrap_or(0),
        None => 0,
    };
    let sql = format!(
        "SELECT r.tenant_id, r.id, r.kind, r.title, r.description, r.keywords, r.audience, r.licence,
                r.attribution_name, r.attribution_url, r.status, r.status_reason, r.contributor_id,
                r.current_version, r.pending_version, r.national, r.proposed_version, r.national_note, r.origin_tenant_id, r.origin_id,
                r.created_at, r.updated_at
           FROM {from} WHERE {filter} ORDER BY {order} LIMIT {} OFFSET {}",
        Ord::min(q.limit, 100),
        Ord::min(q.offset, 1_000_000)
    );
    let rows = tx.query_all(&sql, values).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        use sea_orm::FromQueryResult;
        out.push(Resource::from(resource::Model::from_query_result(&r, "")?));
    }
    Ok((out, total))
}

/// This trust's resources that someone contributed, newest first (their own list).
pub async fn contributed_by(tx: &TenantTx, person: PersonId) -> Result<Vec<Resource>, DbError> {
    Ok(tx
        .select::<resource::Entity>()
        .filter(resource::Column::ContributorId.eq(person.as_uuid()))
        .order_by_desc(resource::Column::UpdatedAt)
        .limit(200)
        .all(tx)
        .await?
        .into_iter()
        .map(Resource::from)
        .collect())
}

/// Hides, removes or restores one of this owner's resources (`published`, `hidden`, `removed`),
/// with the reason the contributor is told. False if it is not this owner's.
pub async fn set_status(tx: &TenantTx, id: Uuid, status: &str, reason: &str) -> Result<bool, DbError> {
    let done = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .col_expr(resource::Column::Status, Expr::value(status))
        .col_expr(resource::Column::StatusReason, Expr::value(reason))
        .col_expr(resource::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Proposes one of this trust's resources for the national library: its current version.
pub async fn propose(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .col_expr(resource::Column::National, Expr::value("proposed"))
        .col_expr(resource::Column::ProposedVersion, Expr::col(resource::Column::CurrentVersion))
        .col_expr(resource::Column::NationalNote, Expr::value(""))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Records the national library's answer to a proposal.
pub async fn set_national(tx: &TenantTx, id: Uuid, national: &str, note: &str) -> Result<bool, DbError> {
    let done = tx
        .update_many::<resource::Entity>()
        .filter(resource::Column::Id.eq(id))
        .col_expr(resource::Column::National, Expr::value(national))
        .col_expr(resource::Column::NationalNote, Expr::value(note))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// The national library's copy of a trust's resource, if it has accepted one.
pub async fn national_copy_of(tx: &TenantTx, origin: TenantId, id: Uuid) -> Result<Option<Uuid>, DbError> {
    Ok(tx
        .select::<resource::Entity>()
        .filter(resource::Column::OriginTenantId.eq(origin.as_uuid()))
        .filter(resource::Column::OriginId.eq(id))
        .one(tx)
        .await?
        .map(|m| m.id))
}

/// Records a person's rating (1 to 5) of a resource, replacing theirs.
pub async fn rate(tx: &TenantTx, r: &Resource, person: PersonId, stars: i32) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO resource_ratings (tenant_id, resource_tenant_id, resource_id, person_id, stars, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, resource_id, person_id) DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
        vec![r.owner.as_uuid().into(), r.id.into(), person.as_uuid().into(), stars.into(), Utc::now().into()],
    )
    .await?;
    Ok(())
}

/// A resource's ratings at this trust: the average, how many, and `person`'s own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratings {
    pub average: f64,
    pub count: u64,
    pub mine: Option<i32>,
}

pub async fn ratings(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<Ratings, DbError> {
    let row = tx
        .query_one(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(stars), 0) AS BIGINT) AS total,
                    CAST(COALESCE(MAX(CASE WHEN person_id = $3 THEN stars END), 0) AS BIGINT) AS mine
               FROM resource_ratings WHERE tenant_id = $1 AND resource_id = $2",
            vec![id.into(), person.as_uuid().into()],
        )
        .await?;
    let Some(row) = row else { return Ok(Ratings { average: 0.0, count: 0, mine: None }) };
    let n: i64 = row.try_get("", "n")?;
    let total: i64 = row.try_get("", "total")?;
    let mine: i64 = row.try_get("", "mine")?;
    #[allow(clippy::cast_precision_loss)] // counts of people, far below 2^52
    let average = if n > 0 { total as f64 / n as f64 } else { 0.0 };
    Ok(Ratings { average, count: u64::try_from(n).unwrap_or(0), mine: i32::try_from(mine).ok().filter(|m| *m > 0) })
}

/// One piece of feedback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub id: Uuid,
    pub person: Option<PersonId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn add_feedback(tx: &TenantTx, r: &Resource, person: PersonId, body: &str) -> Result<(), DbError> {
    tx.insert_only(resource_feedback::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        resource_tenant_id: Set(r.owner.as_uuid()),
        resource_id: Set(r.id),
        person_id: Set(Some(person.as_uuid())),
        body: Set(body.to_owned()),
        created_at: Set(Utc::now()),
    })
    .await
}

/// The feedback given at this trust on a resource, newest first (at most 100).
pub async fn feedback(tx: &TenantTx, id: Uuid) -> Result<Vec<Feedback>, DbError> {
    Ok(tx
        .select::<resource_feedback::Entity>()
        .filter(resource_feedback::Column::ResourceId.eq(id))
        .order_by_desc(resource_feedback::Column::CreatedAt)
        .limit(100)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| Feedback {
            id: m.id,
            person: m.person_id.map(PersonId::from_uuid),
            body: m.body,
            created_at: m.created_at,
        })
        .collect())
}

/// Deletes a piece of feedback given at this trust on a resource (a moderator's decision).
pub async fn delete_feedback(tx: &TenantTx, resource: Uuid, id: Uuid) -> Result<bool, DbError> {
    let done = tx
        .delete_many::<resource_feedback::Entity>()
        .filter(resource_feedback::Column::ResourceId.eq(resource))
        .filter(resource_feedback::Column::Id.eq(id))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// How many pieces of feedback this person gave at this trust in the last hour (a limit).
pub async fn feedback_in_last_hour(tx: &TenantTx, person: PersonId) -> Result<u64, DbError> {
    Ok(tx
        .select::<resource_feedback::Entity>()
        .filter(resource_feedback::Column::PersonId.eq(person.as_uuid()))
        .filter(resource_feedback::Column::CreatedAt.gt(Utc::now() - chrono::Duration::hours(1)))
        .count(tx)
        .await?)
}

/// Records a report that a resource should not be shown.
pub async fn report(tx: &TenantTx, r: &Resource, person: PersonId, reason: &str, details: &str) -> Result<(), DbError> {
    tx.insert_only(resource_report::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        resource_tenant_id: Set(r.owner.as_uuid()),
        resource_id: Set(r.id),
        person_id: Set(Some(person.as_uuid())),
        reason: Set(reason.to_owned()),
        details: Set(details.to_owned()),
        status: Set("open".into()),
        outcome: Set(String::new()),
        resolved_by: Set(None),
        resolved_at: Set(None),
        created_at: Set(Utc::now()),
    })
    .await
}

/// How many reports this person made at this trust in the last hour (a limit on reporting).
pub async fn reports_in_last_hour(tx: &TenantTx, person: PersonId) -> Result<u64, DbError> {
    Ok(tx
        .select::<resource_report::Entity>()
        .filter(resource_report::Column::PersonId.eq(person.as_uuid()))
        .filter(resource_report::Column::CreatedAt.gt(Utc::now() - chrono::Duration::hours(1)))
        .count(tx)
        .await?)
}

/// A report waiting for a moderator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub id: Uuid,
    pub resource: Uuid,
    pub resource_title: String,
    pub resource_status: String,
    pub person: Option<PersonId>,
    pub reason: String,
    pub details: String,
    pub created_at: DateTime<Utc>,
}

pub(super) fn report_of(r: &sea_orm::QueryResult) -> Result<Report, DbError> {
    Ok(Report {
        id: r.try_get("", "id")?,
        resource: r.try_get("", "resource_id")?,
        resource_title: r.try_get("", "title")?,
        resource_status: r.try_get("", "rstatus")?,
        person: r.try_get::<Option<Uuid>>("", "person_id")?.map(PersonId::from_uuid),
        reason: r.try_get("", "reason")?,
        details: r.try_get("", "details")?,
        created_at: r.try_get("", "created_at")?,
    })
}

/// The open reports on this trust's own resources, oldest first (at most 200).
pub async fn open_reports(tx: &TenantTx) -> Result<Vec<Report>, DbError> {
    let rows = tx
        .query_all(
            "SELECT p.id, p.resource_id, r.title, r.status AS rstatus, p.person_id, p.reason, p.details, p.created_at
               FROM resource_reports p JOIN resources r ON r.tenant_id = p.tenant_id AND r.id = p.resource_id
              WHERE p.tenant_id = $1 AND p.resource_tenant_id = $1 AND p.status = 'open'
              ORDER BY p.created_at ASC, p.id ASC LIMIT 200",
            vec![],
        )
        .await?;
    rows.iter().map(report_of).collect()
}

/// Closes this trust's open reports on a resource, with the moderator's decision.
pub async fn resolve_reports(tx: &TenantTx, id: Uuid, outcome: &str, by: PersonId) -> Result<u64, DbError> {
    let done = tx
        .update_many::<resource_report::Entity>()
        .filter(resource_report::Column::ResourceId.eq(id))
        .filter(resource_report::Column::Status.eq("open"))
        .col_expr(resource_report::Column::Status, Expr::value("resolved"))
        .col_expr(resource_report::Column::Outcome, Expr::value(outcome))
        .col_expr(resource_report::Column::ResolvedBy, Expr::value(Some(by.as_uuid())))
        .col_expr(resource_report::Column::ResolvedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(done.rows_affected)
}

/// This trust's own resources that moderators hid or removed, newest first (at most 200).
pub async fn withdrawn(tx: &TenantTx) -> Result<Vec<Resource>, DbError> {
    Ok(tx
        .select::<resource::Entity>()
        .filter(resource::Column::Status.is_in(["hidden", "removed"]))
        .order_by_desc(resource::Column::UpdatedAt)
        .limit(200)
        .all(tx)
        .await?
        .into_iter()
        .map(Resource::from)
        .collect())
}

/// Who may add resources to this trust's library (editors only unless the trust says otherwise).
pub async fn contributors(tx: &TenantTx) -> Result<Contributors, DbError> {
    Ok(tx
        .select::<library_setting::Entity>()
        .one(tx)
        .await?
        .and_then(|m| Contributors::parse(&m.contributors))
        .unwrap_or(Contributors::Editors))
}

pub async fn set_contributors(tx: &TenantTx, c: Contributors) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO library_settings (tenant_id, contributors, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET contributors = excluded.contributors, updated_at = excluded.updated_at",
        vec![c.as_str().into(), Utc::now().into()],
    )
    .await?;
    Ok(())
}

/// Whether the person has accepted the current content policy at this trust.
pub async fn policy_accepted(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    Ok(tx
        .select::<content_policy_acceptance::Entity>()
        .filter(content_policy_acceptance::Column::PersonId.eq(person.as_uuid()))
        .filter(content_policy_acceptance::Column::Version.eq(CONTENT_POLICY_VERSION))
        .count(tx)
        .await?
        > 0)
}

/// Records that the person accepted the current content policy (once).
pub async fn accept_policy(tx: &TenantTx, person: PersonId) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO content_policy_acceptances (tenant_id, person_id, version, accepted_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, person_id, version) DO NOTHING",
        vec![person.as_uuid().into(), CONTENT_POLICY_VERSION.into(), Utc::now().into()],
    )
    .await?;
    Ok(())
}

mod platform;
pub use platform::{NationalReport, Proposal};
