//! E-learning packages and attempts: a package's row and the sessions made from it, each
//! learner's attempts at a packaged session with the record built from their runtime's commits,
//! every commit as it was sent, and cmi5 sessions.
//!
//! The record of an attempt (its CMI data, or its cmi5 state) is kept as JSON beside the columns
//! reports read (completion, success, score, time), which always agree with it: they are written
//! together, in the transaction that applied the commit.

use crate::catalogue::{self, ObjectInput};
use crate::entities::{attempt, attempt_commit, cmi5_session, package};
use crate::learning::Enrolment;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};
use trellis_domain::{AttemptId, CourseId, ObjectId, PackageId, PersonId};
use uuid::Uuid;

/// A package about to be added: what its manifest says, and a session for each SCO or AU.
#[derive(Debug, Clone)]
pub struct NewPackage {
    pub id: PackageId,
    pub course: CourseId,
    /// `scorm12`, `scorm2004` or `cmi5`.
    pub standard: String,
    pub edition: String,
    pub title: String,
    pub identifier: String,
    pub file_count: i32,
    pub total_bytes: i64,
    pub sha256: String,
    pub by: Option<PersonId>,
    /// (title, launch JSON) for each launchable, in order.
    pub sessions: Vec<(String, String)>,
}

/// A stored package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub id: PackageId,
    pub owner: trellis_domain::TenantId,
    pub course: CourseId,
    pub standard: String,
    pub edition: String,
    pub title: String,
    pub identifier: String,
    pub file_count: i32,
    pub total_bytes: i64,
    pub created_at: DateTime<Utc>,
    /// Where its files are stored: its own owner and id, or (a marketplace snapshot) the seller's.
    pub files: (trellis_domain::TenantId, PackageId),
}

impl From<package::Model> for Package {
    fn from(m: package::Model) -> Self {
        Package {
            id: PackageId::from_uuid(m.id),
            owner: trellis_domain::TenantId::from_uuid(m.tenant_id),
            course: CourseId::from_uuid(m.course_id),
            standard: m.standard,
            edition: m.edition,
            title: m.title,
            identifier: m.identifier,
            file_count: m.file_count,
            total_bytes: m.total_bytes,
            created_at: m.created_at,
            files: (
                trellis_domain::TenantId::from_uuid(m.files_owner.unwrap_or(m.tenant_id)),
                PackageId::from_uuid(m.files_package.unwrap_or(m.id)),
            ),
        }
    }
}

/// The key under which a package's file is stored (the owner's prefix, the package, the path).
pub fn file_key(owner: trellis_domain::TenantId, package: PackageId, path: &str) -> String {
    format!("{owner}/packages/{package}/{path}")
}

/// Adds the package and its sessions to the course's draft (in order, after any sessions it has).
/// `None` if the course is not this trust's own.
pub async fn add_package(tx: &TenantTx, p: &NewPackage) -> Result<Option<Vec<ObjectId>>, DbError> {
    if !catalogue::owns(tx, p.course).await? {
        return Ok(None);
    }
    tx.insert(package::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(p.id.as_uuid()),
        course_id: Set(p.course.as_uuid()),
        standard: Set(p.standard.clone()),
        edition: Set(p.edition.clone()),
        title: Set(p.title.clone()),
        identifier: Set(p.identifier.clone()),
        file_count: Set(p.file_count),
        total_bytes: Set(p.total_bytes),
        sha256: Set(p.sha256.clone()),
        created_by: Set(p.by.map(|b| b.as_uuid())),
        created_at: Set(Utc::now()),
        files_owner: Set(None),
        files_package: Set(None),
    })
    .await?;
    let mut ids = Vec::new();
    for (title, launch) in &p.sessions {
        let input = ObjectInput {
            title: title.clone(),
            kind: "package".into(),
            completion: "package".into(),
            package: Some(p.id.as_uuid()),
            launch: Some(launch.clone()),
            ..ObjectInput::default()
        };
        match catalogue::add_object(tx, p.course, &input).await? {
            Some(id) => ids.push(id),
            None => return Ok(None),
        }
    }
    Ok(Some(ids))
}

/// A package this trust can see (its own, or the national catalogue's).
pub async fn package(tx: &TenantTx, id: PackageId) -> Result<Option<Package>, DbError> {
    Ok(tx
        .select_shared::<package::Entity>()
        .filter(package::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Package::from))
}

/// The packages of a course (own or national), newest first.
pub async fn packages_of(tx: &TenantTx, course: CourseId) -> Result<Vec<Package>, DbError> {
    Ok(tx
        .select_shared::<package::Entity>()
        .filter(package::Column::CourseId.eq(course.as_uuid()))
        .order_by_desc(package::Column::CreatedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Package::from)
        .collect())
}

/// Whether the course has a package of these bytes added since `since` (a held upload's import
/// that already happened, so a retried job does not add it twice).
pub async fn has_package_since(
    tx: &TenantTx,
    course: CourseId,
    sha256: &str,
    since: DateTime<Utc>,
) -> Result<bool, DbError> {
    Ok(tx
        .select::<package::Entity>()
        .filter(package::Column::CourseId.eq(course.as_uuid()))
        .filter(package::Column::Sha256.eq(sha256))
        .filter(package::Column::CreatedAt.gte(since))
        .one(tx)
        .await?
        .is_some())
}

/// The registration (cmi5, and the xAPI record of SCORM) of a learner's enrolment cycle on a
/// package: the same for every AU of it and every attempt in the cycle, new for the next cycle.
pub fn registration(e: &Enrolment, package: PackageId) -> Uuid {
    let mut h = Sha256::new();
    h.update(b"trellis registration v1");
    h.update(e.id.as_uuid().as_bytes());
    h.update(e.cycle.to_be_bytes());
    h.update(package.as_uuid().as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// An attempt at a packaged session.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: AttemptId,
    pub enrolment: trellis_domain::EnrolmentId,
    pub cycle: i32,
    pub object: ObjectId,
    pub person: PersonId,
    pub number: i32,
    pub standard: String,
    pub registration: Uuid,
    /// `unknown`, `not attempted`, `incomplete` or `completed`.
    pub completion: String,
    /// `unknown`, `failed` or `passed`.
    pub success: String,
    pub score_scaled: Option<f64>,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    /// Hundredths of a second.
    pub total_cs: i64,
    pub launches: i32,
    /// The record as JSON.
    pub record: String,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The xAPI actor (JSON) of an external learner's attempt (a conformance-scoped API launch);
    /// `None` for the trust's own people, who are known by an opaque account.
    pub external_actor: Option<String>,
}

impl From<attempt::Model> for Attempt {
    fn from(m: attempt::Model) -> Self {
        Attempt {
            id: AttemptId::from_uuid(m.id),
            enrolment: trellis_domain::EnrolmentId::from_uuid(m.enrolment_id),
            cycle: m.cycle,
            object: ObjectId::from_uuid(m.object_id),
            person: PersonId::from_uuid(m.person_id),
            number: m.number,
            standard: m.standard,
            registration: m.registration,
            completion: m.completion,
            success: m.success,
            score_scaled: m.score_scaled,
            score_raw: m.score_raw,
            score_min: m.score_min,
            score_max: m.score_max,
            total_cs: m.total_cs,
            launches: m.launches,
            record: m.record,
            started_at: m.started_at,
            updated_at: m.updated_at,
            completed_at: m.completed_at,
            ended_at: m.ended_at,
            external_actor: m.external_actor,
        }
    }
}

/// The attempts at a session in the enrolment's current cycle, newest first.
pub async fn attempts(tx: &TenantTx, e: &Enrolment, object: ObjectId) -> Result<Vec<Attempt>, DbError> {
    Ok(tx
        .select::<attempt::Entity>()
        .filter(attempt::Column::EnrolmentId.eq(e.id.as_uuid()))
        .filter(attempt::Column::Cycle.eq(e.cycle))
        .filter(attempt::Column::ObjectId.eq(object.as_uuid()))
        .order_by_desc(attempt::Column::Number)
        .all(tx)
        .await?
        .into_iter()
        .map(Attempt::from)
        .collect())
}

/// The attempts in a registration (each AU of a cmi5 course has its own), oldest first.
pub async fn attempts_by_registration(tx: &TenantTx, registration: Uuid) -> Result<Vec<Attempt>, DbError> {
    Ok(tx
        .select::<attempt::Entity>()
        .filter(attempt::Column::Registration.eq(registration))
        .order_by_asc(attempt::Column::StartedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Attempt::from)
        .collect())
}

/// The attempts of the enrolment's current cycle, at any of its sessions.
pub async fn attempts_of_enrolment(tx: &TenantTx, e: &Enrolment) -> Result<Vec<Attempt>, DbError> {
    Ok(tx
        .select::<attempt::Entity>()
        .filter(attempt::Column::EnrolmentId.eq(e.id.as_uuid()))
        .filter(attempt::Column::Cycle.eq(e.cycle))
        .all(tx)
        .await?
        .into_iter()
        .map(Attempt::from)
        .collect())
}

/// One attempt by id (of anyone here: callers check whose it is).
pub async fn attempt(tx: &TenantTx, id: AttemptId) -> Result<Option<Attempt>, DbError> {
    Ok(tx.select::<attempt::Entity>().filter(attempt::Column::Id.eq(id.as_uuid())).one(tx).await?.map(Attempt::from))
}

/// The attempt, locked until the transaction ends (PostgreSQL `FOR UPDATE`; a SQLite write
/// transaction holds the database's write lock already), so concurrent commits apply one by one.
pub async fn attempt_for_update(tx: &TenantTx, id: AttemptId) -> Result<Option<Attempt>, DbError> {
    let mut q = tx.select::<attempt::Entity>().filter(attempt::Column::Id.eq(id.as_uuid()));
    if tx.is_postgres() {
        q = q.lock_exclusive();
    }
    Ok(q.one(tx).await?.map(Attempt::from))
}

/// Starts the next attempt at the session, with an empty record.
pub async fn new_attempt(
    tx: &TenantTx,
    e: &Enrolment,
    object: ObjectId,
    standard: &str,
    registration: Uuid,
    record: String,
) -> Result<Attempt, DbError> {
    new_attempt_as(tx, e, object, standard, registration, record, None).await
}

/// [`new_attempt`], for an external learner's actor (JSON) when `external_actor` is given.
pub async fn new_attempt_as(
    tx: &TenantTx,
    e: &Enrolment,
    object: ObjectId,
    standard: &str,
    registration: Uuid,
    record: String,
    external_actor: Option<String>,
) -> Result<Attempt, DbError> {
    let number = attempts(tx, e, object).await?.first().map_or(1, |a| a.number + 1);
    let now = Utc::now();
    let m = tx
        .insert(attempt::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            id: Set(Uuid::now_v7()),
            enrolment_id: Set(e.id.as_uuid()),
            cycle: Set(e.cycle),
            object_id: Set(object.as_uuid()),
            person_id: Set(e.person.as_uuid()),
            number: Set(number),
            standard: Set(standard.to_owned()),
            registration: Set(registration),
            completion: Set("unknown".into()),
            success: Set("unknown".into()),
            score_scaled: Set(None),
            score_raw: Set(None),
            score_min: Set(None),
            score_max: Set(None),
            total_cs: Set(0),
            launches: Set(0),
            record: Set(record),
            started_at: Set(now),
            updated_at: Set(now),
            completed_at: Set(None),
            ended_at: Set(None),
            external_actor: Set(external_actor),
        })
        .await?;
    Ok(m.into())
}

/// Counts a launch of the attempt; returns its number (1 for the first).
pub async fn launch(tx: &TenantTx, a: &Attempt) -> Result<i32, DbError> {
    let n = a.launches + 1;
    tx.update_many::<attempt::Entity>()
        .filter(attempt::Column::Id.eq(a.id.as_uuid()))
        .col_expr(attempt::Column::Launches, Expr::col(attempt::Column::Launches).add(1))
        .exec(tx)
        .await?;
    Ok(n)
}

/// Writes the attempt's record and the columns drawn from it.
pub async fn save_attempt(tx: &TenantTx, a: &Attempt) -> Result<(), DbError> {
    tx.update_many::<attempt::Entity>()
        .filter(attempt::Column::Id.eq(a.id.as_uuid()))
        .col_expr(attempt::Column::Completion, Expr::value(a.completion.clone()))
        .col_expr(attempt::Column::Success, Expr::value(a.success.clone()))
        .col_expr(attempt::Column::ScoreScaled, Expr::value(a.score_scaled))
        .col_expr(attempt::Column::ScoreRaw, Expr::value(a.score_raw))
        .col_expr(attempt::Column::ScoreMin, Expr::value(a.score_min))
        .col_expr(attempt::Column::ScoreMax, Expr::value(a.score_max))
        .col_expr(attempt::Column::TotalCs, Expr::value(a.total_cs))
        .col_expr(attempt::Column::Record, Expr::value(a.record.clone()))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(attempt::Column::CompletedAt, Expr::value(a.completed_at))
        .col_expr(attempt::Column::EndedAt, Expr::value(a.ended_at))
        .exec(tx)
        .await?;
    Ok(())
}

/// The attempts by id, each locked until the transaction ends (PostgreSQL `FOR UPDATE`), for a
/// group of commits applied together.
pub async fn attempts_for_update(tx: &TenantTx, ids: &[AttemptId]) -> Result<Vec<Attempt>, DbError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = tx
        .select::<attempt::Entity>()
        .filter(attempt::Column::Id.is_in(ids.iter().map(AttemptId::as_uuid).collect::<Vec<_>>()));
    if tx.is_postgres() {
        q = q.order_by_asc(attempt::Column::Id).lock_exclusive();
    }
    Ok(q.all(tx).await?.into_iter().map(Attempt::from).collect())
}

/// A commit to keep, as it was sent.
#[derive(Debug, Clone)]
pub struct NewCommit {
    pub attempt: AttemptId,
    pub launch: i32,
    pub seq: i64,
    pub payload: String,
    /// `applied`, or why it was refused.
    pub outcome: String,
}

/// Keeps commits as they were sent (one insert for them all).
pub async fn add_commits(tx: &TenantTx, list: &[NewCommit]) -> Result<(), DbError> {
    if list.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    if tx.is_postgres() {
        // One short statement with each column as an array, whatever the group's size.
        let vals: Vec<sea_orm::Value> = vec![
            list.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>().into(),
            list.iter().map(|c| c.attempt.as_uuid()).collect::<Vec<_>>().into(),
            list.iter().map(|c| c.launch).collect::<Vec<_>>().into(),
            list.iter().map(|c| c.seq).collect::<Vec<_>>().into(),
            now.into(),
            list.iter().map(|c| c.payload.clone()).collect::<Vec<_>>().into(),
            list.iter().map(|c| c.outcome.chars().take(300).collect::<String>()).collect::<Vec<_>>().into(),
        ];
        let sql = "INSERT INTO attempt_commits (tenant_id, id, attempt_id, launch, seq, received_at, payload, outcome)
                   SELECT $1, u.id, u.attempt, u.launch, u.seq, $6, u.payload, u.outcome
                     FROM UNNEST($2::uuid[], $3::uuid[], $4::int4[], $5::int8[], $7::text[], $8::text[])
                          AS u(id, attempt, launch, seq, payload, outcome)";
        tx.execute(sql, vals).await?;
        return Ok(());
    }
    for chunk in list.chunks(1000) {
        let mut vals: Vec<sea_orm::Value> = Vec::new();
        let mut rows = Vec::with_capacity(chunk.len());
        for c in chunk {
            let base = vals.len() + 1;
            vals.extend([
                Uuid::now_v7().into(),
                c.attempt.as_uuid().into(),
                c.launch.into(),
                c.seq.into(),
                now.into(),
                c.payload.clone().into(),
                c.outcome.chars().take(300).collect::<String>().into(),
            ]);
            rows.push(format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5,
                base + 6,
                base + 7
            ));
        }
        let sql = format!(
            "INSERT INTO attempt_commits (tenant_id, id, attempt_id, launch, seq, received_at, payload, outcome) VALUES {}",
            rows.join(", ")
        );
        tx.execute(&sql, vals).await?;
    }
    Ok(())
}

/// Writes attempts' records and the columns drawn from them (one statement for them all).
pub async fn save_attempts(tx: &TenantTx, list: &[&Attempt]) -> Result<(), DbError> {
    match list {
        [] => return Ok(()),
        [one] => return save_attempt(tx, one).await,
        _ => {}
    }
    let now = Utc::now();
    if tx.is_postgres() {
        // One statement for the group, each column as an array.
        let vals: Vec<sea_orm::Value> = vec![
            now.into(),
            list.iter().map(|a| a.id.as_uuid()).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.completion.clone()).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.success.clone()).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.score_scaled.map_or_else(String::new, |v| v.to_string())).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.score_raw.map_or_else(String::new, |v| v.to_string())).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.score_min.map_or_else(String::new, |v| v.to_string())).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.score_max.map_or_else(String::new, |v| v.to_string())).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.total_cs).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.record.clone()).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.completed_at.map(|t| t.to_rfc3339()).unwrap_or_default()).collect::<Vec<_>>().into(),
            list.iter().map(|a| a.ended_at.map(|t| t.to_rfc3339()).unwrap_or_default()).collect::<Vec<_>>().into(),
        ];
        let sql = "UPDATE attempts AS a SET completion = u.completion, success = u.success,
                          score_scaled = NULLIF(u.scaled, '')::float8, score_raw = NULLIF(u.raw, '')::float8,
                          score_min = NULLIF(u.min, '')::float8, score_max = NULLIF(u.max, '')::float8,
                          total_cs = u.total_cs, record = u.record,
                          completed_at = NULLIF(u.completed, '')::timestamptz, ended_at = NULLIF(u.ended, '')::timestamptz,
                          updated_at = $2
                     FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                                 $10::int8[], $11::text[], $12::text[], $13::text[])
                          AS u(id, completion, success, scaled, raw, min, max, total_cs, record, completed, ended)
                    WHERE a.tenant_id = $1 AND a.id = u.id";
        tx.execute(sql, vals).await?;
        return Ok(());
    }
    let mut vals: Vec<sea_orm::Value> = vec![now.into()];
    let mut ids = Vec::with_capacity(list.len());
    let mut cases: Vec<(&str, Vec<String>)> = [
        "completion",
        "success",
        "score_scaled",
        "score_raw",
        "score_min",
        "score_max",
        "total_cs",
        "record",
        "completed_at",
        "ended_at",
    ]
    .into_iter()
    .map(|c| (c, Vec::new()))
    .collect();
    for a in list {
        vals.push(a.id.as_uuid().into());
        let id = format!("${}", vals.len() + 1);
        ids.push(id.clone());
        let fields: [sea_orm::Value; 10] = [
            a.completion.clone().into(),
            a.success.clone().into(),
            a.score_scaled.into(),
            a.score_raw.into(),
            a.score_min.into(),
            a.score_max.into(),
            a.total_cs.into(),
            a.record.clone().into(),
            a.completed_at.into(),
            a.ended_at.into(),
        ];
        for (i, v) in fields.into_iter().enumerate() {
            vals.push(v);
            cases[i].1.push(format!("WHEN {id} THEN ${}", vals.len() + 1));
        }
    }
    let sets: Vec<String> =
        cases.iter().map(|(col, whens)| format!("{col} = CASE id {} END", whens.join(" "))).collect();
    let sql = format!(
        "UPDATE attempts SET {}, updated_at = $2 WHERE tenant_id = $1 AND id IN ({})",
        sets.join(", "),
        ids.join(", ")
    );
    tx.execute(&sql, vals).await?;
    Ok(())
}

/// A commit as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    pub launch: i32,
    pub seq: i64,
    pub received_at: DateTime<Utc>,
    pub payload: String,
    /// `applied`, or why it was refused.
    pub outcome: String,
}

/// Keeps a commit as it was sent, with what came of it.
pub async fn add_commit(
    tx: &TenantTx,
    a: AttemptId,
    launch: i32,
    seq: i64,
    payload: &str,
    outcome: &str,
) -> Result<(), DbError> {
    tx.insert(attempt_commit::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        attempt_id: Set(a.as_uuid()),
        launch: Set(launch),
        seq: Set(seq),
        received_at: Set(Utc::now()),
        payload: Set(payload.to_owned()),
        outcome: Set(outcome.chars().take(300).collect()),
    })
    .await?;
    Ok(())
}

/// An attempt's commits in the order they arrived (at most `limit`, from the first).
pub async fn commits(tx: &TenantTx, a: AttemptId, limit: u64) -> Result<Vec<CommitRecord>, DbError> {
    Ok(tx
        .select::<attempt_commit::Entity>()
        .filter(attempt_commit::Column::AttemptId.eq(a.as_uuid()))
        .order_by_asc(attempt_commit::Column::Id)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| CommitRecord {
            launch: m.launch,
            seq: m.seq,
            received_at: m.received_at,
            payload: m.payload,
            outcome: m.outcome,
        })
        .collect())
}

/// A cmi5 session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmi5Session {
    pub id: Uuid,
    pub attempt: AttemptId,
    pub registration: Uuid,
    /// `Normal`, `Browse` or `Review`.
    pub launch_mode: String,
    /// The hash of the one-time fetch URL's key.
    pub fetch_key: String,
    pub fetched: bool,
    pub prefs_read: bool,
    /// cmi5-defined verbs seen in the session (short names).
    pub verbs: Vec<String>,
    pub launched_at: DateTime<Utc>,
    pub initialized_at: Option<DateTime<Utc>>,
    pub last_statement_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<cmi5_session::Model> for Cmi5Session {
    fn from(m: cmi5_session::Model) -> Self {
        Cmi5Session {
            id: m.id,
            attempt: AttemptId::from_uuid(m.attempt_id),
            registration: m.registration,
            launch_mode: m.launch_mode,
            fetch_key: m.fetch_key,
            fetched: m.fetched,
            prefs_read: m.prefs_read,
            verbs: m.verbs.split_whitespace().map(str::to_owned).collect(),
            launched_at: m.launched_at,
            initialized_at: m.initialized_at,
            last_statement_at: m.last_statement_at,
            ended_at: m.ended_at,
        }
    }
}

/// Starts a cmi5 session of the attempt.
pub async fn start_cmi5_session(
    tx: &TenantTx,
    a: &Attempt,
    id: Uuid,
    launch_mode: &str,
    fetch_key: &str,
    at: DateTime<Utc>,
) -> Result<Cmi5Session, DbError> {
    let m = tx
        .insert(cmi5_session::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            id: Set(id),
            attempt_id: Set(a.id.as_uuid()),
            registration: Set(a.registration),
            launch_mode: Set(launch_mode.to_owned()),
            fetch_key: Set(fetch_key.to_owned()),
            fetched: Set(false),
            prefs_read: Set(false),
            verbs: Set(String::new()),
            launched_at: Set(at),
            initialized_at: Set(None),
            last_statement_at: Set(None),
            ended_at: Set(None),
        })
        .await?;
    Ok(m.into())
}

/// A cmi5 session by id, locked for the transaction on PostgreSQL.
pub async fn cmi5_session(tx: &TenantTx, id: Uuid, lock: bool) -> Result<Option<Cmi5Session>, DbError> {
    let mut q = tx.select::<cmi5_session::Entity>().filter(cmi5_session::Column::Id.eq(id));
    if lock && tx.is_postgres() {
        q = q.lock_exclusive();
    }
    Ok(q.one(tx).await?.map(Cmi5Session::from))
}

/// The attempt's sessions still open (not terminated or abandoned), oldest first.
pub async fn open_cmi5_sessions(tx: &TenantTx, a: AttemptId) -> Result<Vec<Cmi5Session>, DbError> {
    Ok(tx
        .select::<cmi5_session::Entity>()
        .filter(cmi5_session::Column::AttemptId.eq(a.as_uuid()))
        .filter(cmi5_session::Column::EndedAt.is_null())
        .order_by_asc(cmi5_session::Column::LaunchedAt)
        .all(tx)
        .await?
        .into_iter()
        .map(Cmi5Session::from)
        .collect())
}

/// Spends the session's one-time fetch URL: true the first time (with the key matching).
pub async fn spend_fetch(tx: &TenantTx, id: Uuid, key_hash: &str) -> Result<bool, DbError> {
    let res = tx
        .update_many::<cmi5_session::Entity>()
        .filter(cmi5_session::Column::Id.eq(id))
        .filter(cmi5_session::Column::FetchKey.eq(key_hash))
        .filter(cmi5_session::Column::Fetched.eq(false))
        .filter(cmi5_session::Column::EndedAt.is_null())
        .col_expr(cmi5_session::Column::Fetched, Expr::value(true))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Writes what the session has seen (verbs, preferences read, times, ended).
pub async fn save_cmi5_session(tx: &TenantTx, s: &Cmi5Session) -> Result<(), DbError> {
    tx.update_many::<cmi5_session::Entity>()
        .filter(cmi5_session::Column::Id.eq(s.id))
        .col_expr(cmi5_session::Column::PrefsRead, Expr::value(s.prefs_read))
        .col_expr(cmi5_session::Column::Verbs, Expr::value(s.verbs.join(" ")))
        .col_expr(cmi5_session::Column::InitializedAt, Expr::value(s.initialized_at))
        .col_expr(cmi5_session::Column::LastStatementAt, Expr::value(s.last_statement_at))
        .col_expr(cmi5_session::Column::EndedAt, Expr::value(s.ended_at))
        .exec(tx)
        .await?;
    Ok(())
}

/// An attempt with who made it and on which session, for a manager's list.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub attempt: Attempt,
    pub learner: String,
    pub session_title: String,
}

/// The newest attempts at the course's packaged sessions (any version), at most `limit`.
pub async fn attempts_of_course(tx: &TenantTx, course: CourseId, limit: u64) -> Result<Vec<AttemptRow>, DbError> {
    use sea_orm::FromQueryResult;
    let sql = "SELECT a.*, o.title AS session_title, p.given_name AS given, p.family_name AS family
                 FROM attempts a
                 JOIN learning_objects o ON o.id = a.object_id AND o.tenant_id IN ($1, $3)
                 LEFT JOIN people p ON p.id = a.person_id
                WHERE a.tenant_id = $1 AND o.course_id = $2
                ORDER BY a.updated_at DESC LIMIT $4";
    let vals: Vec<sea_orm::Value> = vec![
        course.as_uuid().into(),
        trellis_domain::TenantId::NATIONAL.as_uuid().into(),
        i64::try_from(limit).unwrap_or(200).into(),
    ];
    let rows = tx.query_all(sql, vals).await?;
    rows.iter()
        .map(|r| {
            let m = attempt::Model::from_query_result(r, "")?;
            let given: Option<String> = r.try_get("", "given")?;
            let family: Option<String> = r.try_get("", "family")?;
            let external = m.external_actor.is_some();
            let name = format!("{} {}", given.unwrap_or_default(), family.unwrap_or_default()).trim().to_owned();
            Ok(AttemptRow {
                attempt: m.into(),
                learner: if name.is_empty() && external { "An external learner (API)".to_owned() } else { name },
                session_title: r.try_get("", "session_title")?,
            })
        })
        .collect()
}
