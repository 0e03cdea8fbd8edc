//! Courses, learning paths, their versioned sessions, programmes, and each trust's catalogue:
//! its own published courses and the national courses it offers.
//!
//! Content rows belong to a trust or to the national catalogue ([`TenantId::NATIONAL`]); a trust
//! reads both through [`TenantTx::select_shared`] and can change only its own.
//!
//! Versions: a course's sessions belong to a version. Editing a published course starts a draft
//! (a copy); publishing the draft makes it the version new enrolments get, while everyone already
//! on an older version keeps it, with their progress.

use crate::entities::{
    catalogue_offer, course, course_version, learning_object, path_course, programme, programme_course,
};
use crate::states::CourseStatus;
use crate::states::VersionStatus;
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;
use trellis_domain::{CourseId, ObjectId, PersonId, ProgrammeId, TenantId};
use uuid::Uuid;

/// A course or learning path as pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Course {
    pub id: CourseId,
    pub code: String,
    /// `course` or `path`.
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub topic: String,
    /// Staff groups it is meant for (empty: all staff).
    pub audience: Vec<String>,
    pub duration_minutes: i32,
    pub accreditation: String,
    pub cpd_points: Option<i32>,
    /// Offers a completion certificate: `None` is the default (offered when mandatory here).
    pub certificate: Option<bool>,
    /// `open` (self-enrolment) or `approval`.
    pub enrolment: String,
    pub status: crate::states::CourseStatus,
    pub current_version: Option<Uuid>,
    /// From the national catalogue rather than this trust's own.
    pub national: bool,
    pub price_pence: Option<i64>,
    /// A marketplace course's seller (its price and terms are the trust's adoption's).
    pub seller: Option<trellis_domain::SellerId>,
    pub updated_at: DateTime<Utc>,
}

impl From<course::Model> for Course {
    fn from(m: course::Model) -> Self {
        Course {
            id: CourseId::from_uuid(m.id),
            national: m.tenant_id == TenantId::NATIONAL.as_uuid(),
            code: m.code,
            kind: m.kind,
            title: m.title,
            summary: m.summary,
            description: m.description,
            topic: m.topic,
            audience: m.audience.split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            duration_minutes: m.duration_minutes,
            accreditation: m.accreditation,
            cpd_points: m.cpd_points,
            certificate: m.certificate,
            enrolment: m.enrolment,
            status: m.status,
            current_version: m.current_version_id,
            price_pence: m.price_pence,
            seller: m.seller_id.map(trellis_domain::SellerId::from_uuid),
            updated_at: m.updated_at,
        }
    }
}

/// What an editor enters for a course.
#[derive(Debug, Clone, Default)]
pub struct CourseInput {
    pub code: String,
    pub kind: String,
    pub title: String,
    pub summary: String,
    pub description: String,
    pub topic: String,
    pub audience: Vec<String>,
    pub duration_minutes: i32,
    pub accreditation: String,
    pub cpd_points: Option<i32>,
    pub certificate: Option<bool>,
    pub enrolment: String,
}

/// The course's code is already used by another of this trust's courses.
#[derive(Debug, thiserror::Error)]
#[error("another course already has the code {0}")]
pub struct CodeTaken(pub String);

/// A session (learning object) of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub id: ObjectId,
    pub course: CourseId,
    pub version: Uuid,
    pub lineage: Uuid,
    pub position: i32,
    pub title: String,
    pub kind: String,
    pub body: String,
    pub url: Option<String>,
    pub file_key: Option<String>,
    pub file_name: Option<String>,
    pub file_type: Option<String>,
    pub file_size: Option<i64>,
    pub completion: String,
    pub min_minutes: Option<i32>,
    /// E-learning sessions: the package, and how to launch this SCO or AU (JSON of a
    /// `trellis_elearning::Launchable`).
    pub package: Option<Uuid>,
    pub launch: Option<String>,
    /// A session that shows a library resource: the resource.
    pub resource: Option<Uuid>,
}

impl Object {
    /// Whether the course waits for this session before it is complete: every session does but
    /// a SCORM asset, which cannot report and so counts when opened but never holds a course up.
    pub fn counts_towards_completion(&self) -> bool {
        !self
            .launch
            .as_deref()
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v.pointer("/item/asset").and_then(serde_json::Value::as_bool))
            .unwrap_or(false)
    }
}

impl From<learning_object::Model> for Object {
    fn from(m: learning_object::Model) -> Self {
        Object {
            id: ObjectId::from_uuid(m.id),
            course: CourseId::from_uuid(m.course_id),
            version: m.version_id,
            lineage: m.lineage,
            position: m.position,
            title: m.title,
            kind: m.kind,
            body: m.body,
            url: m.url,
            file_key: m.file_key,
            file_name: m.file_name,
            file_type: m.file_type,
            file_size: m.file_size,
            completion: m.completion,
            min_minutes: m.min_minutes,
            package: m.package_id,
            launch: m.launch,
            resource: m.resource_id,
        }
    }
}

/// What an editor enters for a session. The file, when there is one, is stored first.
#[derive(Debug, Clone, Default)]
pub struct ObjectInput {
    pub title: String,
    pub kind: String,
    pub body: String,
    pub url: Option<String>,
    pub file: Option<StoredFile>,
    pub completion: String,
    pub min_minutes: Option<i32>,
    /// E-learning sessions: the package and the launchable (JSON).
    pub package: Option<Uuid>,
    pub launch: Option<String>,
    /// A library resource to show (sessions of kind `resource`).
    pub resource: Option<Uuid>,
}

/// A file in the file store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub key: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// A version of a course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub id: Uuid,
    pub number: i32,
    pub status: crate::states::VersionStatus,
    pub published_at: Option<DateTime<Utc>>,
}

fn audience_text(groups: &[String]) -> String {
    groups.join(";")
}

/// Notes that what this owner's catalogue lists has changed (in the caller's transaction), so
/// every server's kept copy of it is rebuilt at its next request (see [`generations`]).
pub(crate) async fn changed(tx: &TenantTx) -> Result<(), DbError> {
    let sql = "INSERT INTO catalogue_generations (tenant_id, generation) VALUES ($1, 1)
               ON CONFLICT (tenant_id) DO UPDATE SET generation = catalogue_generations.generation + 1";
    tx.execute(sql, Vec::new()).await?;
    Ok(())
}

/// The change counters of this trust's catalogue and of the national one: a kept copy of the
/// catalogue is current while both are unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Generations {
    pub own: i64,
    pub national: i64,
}

/// SQL for [`Generations`], as two columns `own_gen` and `national_gen` (`$1` is the trust), to be
/// read with other per-request state in one statement.
pub(crate) static GENERATIONS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "(SELECT g.generation FROM catalogue_generations g WHERE g.tenant_id = $1) AS own_gen,
         (SELECT g.generation FROM catalogue_generations g WHERE g.tenant_id = '{}') AS national_gen",
        TenantId::NATIONAL
    )
});

impl Generations {
    /// Reads the columns [`GENERATIONS_SQL`] names.
    pub(crate) fn from_row(r: &sea_orm::QueryResult) -> Result<Self, DbError> {
        Ok(Generations {
            own: r.try_get::<Option<i64>>("", "own_gen")?.unwrap_or(0),
            national: r.try_get::<Option<i64>>("", "national_gen")?.unwrap_or(0),
        })
    }
}

/// The trust's and the national catalogue's change counters.
pub async fn generations(tx: &TenantTx) -> Result<Generations, DbError> {
    let sql = format!("SELECT {}", *GENERATIONS_SQL);
    let row = tx.query_one(&sql, Vec::new()).await?;
    row.as_ref().map_or_else(|| Ok(Generations::default()), Generations::from_row)
}

/// Creates a course (or path) as a draft, with an empty first version.
pub async fn create_course(tx: &TenantTx, input: &CourseInput) -> Result<Result<CourseId, CodeTaken>, DbError> {
    if code_taken(tx, &input.code, None).await? {
        return Ok(Err(CodeTaken(input.code.clone())));
    }
    let now = Utc::now();
    let id = CourseId::new();
    let version = Uuid::now_v7();
    tx.insert(course::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id.as_uuid()),
        code: Set(input.code.clone()),
        kind: Set(input.kind.clone()),
        title: Set(input.title.clone()),
        summary: Set(input.summary.clone()),
        description: Set(input.description.clone()),
        topic: Set(input.topic.clone()),
        audience: Set(audience_text(&input.audience)),
        duration_minutes: Set(input.duration_minutes),
        accreditation: Set(input.accreditation.clone()),
        cpd_points: Set(input.cpd_points),
        certificate: Set(input.certificate),
        enrolment: Set(input.enrolment.clone()),
        status: Set(CourseStatus::Draft),
        current_version_id: Set(None),
        price_pence: Set(None),
        currency: Set(None),
        seller_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    tx.insert(course_version::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(version),
        course_id: Set(id.as_uuid()),
        number: Set(1),
        status: Set(VersionStatus::Draft),
        created_at: Set(now),
        published_at: Set(None),
    })
    .await?;
    changed(tx).await?;
    Ok(Ok(id))
}

async fn code_taken(tx: &TenantTx, code: &str, except: Option<CourseId>) -> Result<bool, DbError> {
    let mut q = tx.select::<course::Entity>().filter(course::Column::Code.eq(code));
    if let Some(id) = except {
        q = q.filter(course::Column::Id.ne(id.as_uuid()));
    }
    Ok(q.one(tx).await?.is_some())
}

/// Changes a course's description (not its sessions, which are versioned). Takes effect at once.
pub async fn update_course(
    tx: &TenantTx,
    id: CourseId,
    input: &CourseInput,
) -> Result<Result<bool, CodeTaken>, DbError> {
    if code_taken(tx, &input.code, Some(id)).await? {
        return Ok(Err(CodeTaken(input.code.clone())));
    }
    let res = tx
        .update_many::<course::Entity>()
        .filter(course::Column::Id.eq(id.as_uuid()))
        .col_expr(course::Column::Code, Expr::value(input.code.clone()))
        .col_expr(course::Column::Title, Expr::value(input.title.clone()))
        .col_expr(course::Column::Summary, Expr::value(input.summary.clone()))
        .col_expr(course::Column::Description, Expr::value(input.description.clone()))
        .col_expr(course::Column::Topic, Expr::value(input.topic.clone()))
        .col_expr(course::Column::Audience, Expr::value(audience_text(&input.audience)))
        .col_expr(course::Column::DurationMinutes, Expr::value(input.duration_minutes))
        .col_expr(course::Column::Accreditation, Expr::value(input.accreditation.clone()))
        .col_expr(course::Column::CpdPoints, Expr::value(input.cpd_points))
        .col_expr(course::Column::Certificate, Expr::value(input.certificate))
        .col_expr(course::Column::Enrolment, Expr::value(input.enrolment.clone()))
        .col_expr(course::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    changed(tx).await?;
    Ok(Ok(res.rows_affected == 1))
}

/// A course this trust can see: its own (any status) or a national one.
pub async fn course(tx: &TenantTx, id: CourseId) -> Result<Option<Course>, DbError> {
    Ok(tx
        .select_shared::<course::Entity>()
        .filter(course::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Course::from))
}

/// Whether the course is this trust's own (so its editors may change it).
pub async fn owns(tx: &TenantTx, id: CourseId) -> Result<bool, DbError> {
    Ok(tx.select::<course::Entity>().filter(course::Column::Id.eq(id.as_uuid())).one(tx).await?.is_some())
}

/// Courses by id (own or national), in one query.
pub async fn courses_by_id(tx: &TenantTx, ids: &[Uuid]) -> Result<HashMap<Uuid, Course>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(tx
        .select_shared::<course::Entity>()
        .filter(course::Column::Id.is_in(ids.to_vec()))
        .all(tx)
        .await?
        .into_iter()
        .map(|m| (m.id, Course::from(m)))
        .collect())
}

/// Every course and path this trust owns, for its editors, by title.
pub async fn own_courses(tx: &TenantTx) -> Result<Vec<Course>, DbError> {
    Ok(tx
        .select::<course::Entity>()
        .order_by_asc(course::Column::Title)
        .all(tx)
        .await?
        .into_iter()
        .map(Course::from)
        .collect())
}

/// The national catalogue's published courses, with whether this trust offers each.
pub async fn national_courses(tx: &TenantTx) -> Result<Vec<(Course, bool)>, DbError> {
    let offered: std::collections::HashSet<Uuid> =
        tx.select::<catalogue_offer::Entity>().all(tx).await?.into_iter().map(|o| o.course_id).collect();
    // The free national catalogue only: a marketplace course (a priced snapshot, with a seller)
    // lives in the same space but is added from the marketplace, never "offered" here.
    Ok(tx
        .select_shared::<course::Entity>()
        .filter(course::Column::TenantId.eq(TenantId::NATIONAL.as_uuid()))
        .filter(course::Column::SellerId.is_null())
        .filter(course::Column::Status.eq(crate::states::CourseStatus::Published))
        .order_by_asc(course::Column::Title)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| {
            let on = offered.contains(&m.id);
            (Course::from(m), on)
        })
        .collect())
}

/// Offers (or stops offering) a national course in this trust's catalogue. People already
/// enrolled keep their enrolment either way.
pub async fn set_offered(tx: &TenantTx, id: CourseId, offered: bool, by: Option<PersonId>) -> Result<bool, DbError> {
    let national = tx
        .select_shared::<course::Entity>()
        .filter(course::Column::TenantId.eq(TenantId::NATIONAL.as_uuid()))
        .filter(course::Column::Id.eq(id.as_uuid()))
        .filter(course::Column::SellerId.is_null())
        .one(tx)
        .await?
        .is_some();
    if !national {
        return Ok(false);
    }
    set_offered_unchecked(tx, id, offered, by).await
}

/// [`set_offered`] without the check that the course is a free national one: a marketplace
/// course is offered by adding its listing (`market::adopt`), never by this toggle.
pub(crate) async fn set_offered_unchecked(
    tx: &TenantTx,
    id: CourseId,
    offered: bool,
    by: Option<PersonId>,
) -> Result<bool, DbError> {
    tx.delete_many::<catalogue_offer::Entity>()
        .filter(catalogue_offer::Column::CourseId.eq(id.as_uuid()))
        .exec(tx)
        .await?;
    if offered {
        tx.insert(catalogue_offer::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            course_id: Set(id.as_uuid()),
            offered_at: Set(Utc::now()),
            offered_by: Set(by.map(|p| p.as_uuid())),
        })
        .await?;
    }
    changed(tx).await?;
    Ok(true)
}

/// Whether a learner of this trust may find and enrol on the course: this trust's own published
/// course, or a published national one the trust offers.
pub async fn in_catalogue(tx: &TenantTx, c: &Course) -> Result<bool, DbError> {
    if c.status != CourseStatus::Published || !c.national {
        return Ok(listed(c, false));
    }
    let offered = tx
        .select::<catalogue_offer::Entity>()
        .filter(catalogue_offer::Column::CourseId.eq(c.id.as_uuid()))
        .one(tx)
        .await?
        .is_some();
    Ok(listed(c, offered))
}

/// The rule [`IN_CATALOGUE`] states in SQL: published, and the trust's own or a national course
/// it offers.
fn listed(c: &Course, offered: bool) -> bool {
    c.status == CourseStatus::Published && (!c.national || offered)
}

/// Of `courses`, those in this trust's catalogue ([`in_catalogue`] for many: one query).
pub async fn only_in_catalogue(
    tx: &TenantTx,
    courses: HashMap<Uuid, Course>,
) -> Result<HashMap<Uuid, Course>, DbError> {
    let national: Vec<Uuid> = courses.values().filter(|c| c.national).map(|c| c.id.as_uuid()).collect();
    let offered: std::collections::HashSet<Uuid> = if national.is_empty() {
        Default::default()
    } else {
        tx.select::<catalogue_offer::Entity>()
            .filter(catalogue_offer::Column::CourseId.is_in(national))
            .all(tx)
            .await?
            .into_iter()
            .map(|o| o.course_id)
            .collect()
    };
    Ok(courses.into_iter().filter(|(id, c)| listed(c, offered.contains(id))).collect())
}

/// Whether a version has been published (its sessions are then fixed for good).
pub async fn version_is_published(tx: &TenantTx, version: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .select_shared::<course_version::Entity>()
        .filter(course_version::Column::Id.eq(version))
        .one(tx)
        .await?
        .is_some_and(|v| v.status != VersionStatus::Draft))
}

/// A course's versions, newest first.
pub async fn versions(tx: &TenantTx, id: CourseId) -> Result<Vec<Version>, DbError> {
    Ok(tx
        .select_shared::<course_version::Entity>()
        .filter(course_version::Column::CourseId.eq(id.as_uuid()))
        .order_by_desc(course_version::Column::Number)
        .all(tx)
        .await?
        .into_iter()
        .map(|v| Version { id: v.id, number: v.number, status: v.status, published_at: v.published_at })
        .collect())
}

/// The sessions of a version, in order.
pub async fn objects(tx: &TenantTx, version: Uuid) -> Result<Vec<Object>, DbError> {
    Ok(tx
        .select_shared::<learning_object::Entity>()
        .filter(learning_object::Column::VersionId.eq(version))
        .order_by_asc(learning_object::Column::Position)
        .all(tx)
        .await?
        .into_iter()
        .map(Object::from)
        .collect())
}

/// One session (own or national).
pub async fn object(tx: &TenantTx, id: ObjectId) -> Result<Option<Object>, DbError> {
    Ok(tx
        .select_shared::<learning_object::Entity>()
        .filter(learning_object::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Object::from))
}

/// The course's draft version, starting one (a copy of the published version's sessions) if
/// there is none. Only for this trust's own courses.
pub async fn draft(tx: &TenantTx, id: CourseId) -> Result<Option<Version>, DbError> {
    if !owns(tx, id).await? {
        return Ok(None);
    }
    let all = versions(tx, id).await?;
    if let Some(d) = all.iter().find(|v| v.status == VersionStatus::Draft) {
        // Held until the transaction ends, so a draft being published waits for this change (and
        // one published meanwhile is not changed: a new draft is made from it).
        if lock_draft(tx, d.id).await? {
            return Ok(Some(d.clone()));
        }
        return Box::pin(draft(tx, id)).await;
    }
    let number = all.first().map_or(1, |v| v.number + 1);
    let new = Uuid::now_v7();
    tx.insert(course_version::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(new),
        course_id: Set(id.as_uuid()),
        number: Set(number),
        status: Set(VersionStatus::Draft),
        created_at: Set(Utc::now()),
        published_at: Set(None),
    })
    .await?;
    if let Some(current) = all.iter().find(|v| v.status == VersionStatus::Published) {
        for o in objects(tx, current.id).await? {
            insert_object(
                tx,
                id,
                new,
                o.lineage,
                o.position,
                &ObjectInput {
                    title: o.title,
                    kind: o.kind,
                    body: o.body,
                    url: o.url,
                    file: o.file_key.map(|key| StoredFile {
                        key,
                        name: o.file_name.unwrap_or_default(),
                        content_type: o.file_type.unwrap_or_default(),
                        size: o.file_size.unwrap_or(0),
                    }),
                    completion: o.completion,
                    min_minutes: o.min_minutes,
                    package: o.package,
                    launch: o.launch,
                    resource: o.resource,
                },
            )
            .await?;
        }
    }
    Ok(Some(Version { id: new, number, status: VersionStatus::Draft, published_at: None }))
}

async fn insert_object(
    tx: &TenantTx,
    course: CourseId,
    version: Uuid,
    lineage: Uuid,
    position: i32,
    input: &ObjectInput,
) -> Result<ObjectId, DbError> {
    let id = ObjectId::new();
    let f = input.file.as_ref();
    tx.insert(learning_object::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(id.as_uuid()),
        course_id: Set(course.as_uuid()),
        version_id: Set(version),
        lineage: Set(lineage),
        position: Set(position),
        title: Set(input.title.clone()),
        kind: Set(input.kind.clone()),
        body: Set(input.body.clone()),
        url: Set(input.url.clone()),
        file_key: Set(f.map(|f| f.key.clone())),
        file_name: Set(f.map(|f| f.name.clone())),
        file_type: Set(f.map(|f| f.content_type.clone())),
        file_size: Set(f.map(|f| f.size)),
        completion: Set(input.completion.clone()),
        min_minutes: Set(input.min_minutes),
        package_id: Set(input.package),
        launch: Set(input.launch.clone()),
        resource_id: Set(input.resource),
    })
    .await?;
    Ok(id)
}

/// Adds a session at the end of the course's draft.
pub async fn add_object(tx: &TenantTx, id: CourseId, input: &ObjectInput) -> Result<Option<ObjectId>, DbError> {
    let Some(d) = draft(tx, id).await? else { return Ok(None) };
    let position = objects(tx, d.id).await?.last().map_or(1, |o| o.position + 1);
    Ok(Some(insert_object(tx, id, d.id, Uuid::now_v7(), position, input).await?))
}

/// The session, if it is in this trust's draft of the course (the only sessions an editor changes).
async fn draft_object(tx: &TenantTx, course: CourseId, object: ObjectId) -> Result<Option<(Version, Object)>, DbError> {
    let Some(d) = draft(tx, course).await? else { return Ok(None) };
    // A session of the published version is edited through its copy in the draft.
    let o = tx
        .select::<learning_object::Entity>()
        .filter(learning_object::Column::CourseId.eq(course.as_uuid()))
        .filter(learning_object::Column::Id.eq(object.as_uuid()))
        .one(tx)
        .await?;
    let Some(o) = o else { return Ok(None) };
    if o.version_id == d.id {
        return Ok(Some((d, o.into())));
    }
    let copy = tx
        .select::<learning_object::Entity>()
        .filter(learning_object::Column::VersionId.eq(d.id))
        .filter(learning_object::Column::Lineage.eq(o.lineage))
        .one(tx)
        .await?;
    Ok(copy.map(|c| (d, c.into())))
}

/// Changes a session in the draft. A new file replaces the old; without one the old stays.
pub async fn update_object(
    tx: &TenantTx,
    course: CourseId,
    object: ObjectId,
    input: &ObjectInput,
) -> Result<bool, DbError> {
    let Some((_, o)) = draft_object(tx, course, object).await? else { return Ok(false) };
    // A packaged session is what its package says (upload a new package to change it); a session
    // shows a library resource only if it was added from the library (it keeps its resource).
    if o.package.is_some() || (input.kind == "resource" && o.resource.is_none()) {
        return Ok(false);
    }
    let mut q = tx
        .update_many::<learning_object::Entity>()
        .filter(learning_object::Column::Id.eq(o.id.as_uuid()))
        .col_expr(learning_object::Column::Title, Expr::value(input.title.clone()))
        .col_expr(learning_object::Column::Kind, Expr::value(input.kind.clone()))
        .col_expr(learning_object::Column::Body, Expr::value(input.body.clone()))
        .col_expr(learning_object::Column::Url, Expr::value(input.url.clone()))
        .col_expr(learning_object::Column::Completion, Expr::value(input.completion.clone()))
        .col_expr(learning_object::Column::MinMinutes, Expr::value(input.min_minutes))
        .col_expr(learning_object::Column::ResourceId, Expr::value(o.resource.filter(|_| input.kind == "resource")));
    if let Some(f) = &input.file {
        q = q
            .col_expr(learning_object::Column::FileKey, Expr::value(Some(f.key.clone())))
            .col_expr(learning_object::Column::FileName, Expr::value(Some(f.name.clone())))
            .col_expr(learning_object::Column::FileType, Expr::value(Some(f.content_type.clone())))
            .col_expr(learning_object::Column::FileSize, Expr::value(Some(f.size)));
    }
    q.exec(tx).await?;
    Ok(true)
}

/// Moves a session one place up (`-1`) or down (`1`) in the draft.
pub async fn move_object(tx: &TenantTx, course: CourseId, object: ObjectId, by: i32) -> Result<bool, DbError> {
    let Some((d, o)) = draft_object(tx, course, object).await? else { return Ok(false) };
    let list = objects(tx, d.id).await?;
    let Some(i) = list.iter().position(|x| x.id == o.id) else { return Ok(false) };
    let j = if by < 0 { i.checked_sub(1) } else { Some(i + 1).filter(|j| *j < list.len()) };
    let Some(j) = j else { return Ok(true) };
    for (a, b) in [(&list[i], list[j].position), (&list[j], list[i].position)] {
        tx.update_many::<learning_object::Entity>()
            .filter(learning_object::Column::Id.eq(a.id.as_uuid()))
            .col_expr(learning_object::Column::Position, Expr::value(b))
            .exec(tx)
            .await?;
    }
    Ok(true)
}

/// Removes a session from the draft (published versions keep theirs).
pub async fn remove_object(tx: &TenantTx, course: CourseId, object: ObjectId) -> Result<bool, DbError> {
    let Some((_, o)) = draft_object(tx, course, object).await? else { return Ok(false) };
    tx.delete_many::<learning_object::Entity>().filter(learning_object::Column::Id.eq(o.id.as_uuid())).exec(tx).await?;
    Ok(true)
}

/// Why a draft cannot be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishRefused {
    NotFound,
    /// A course needs at least one session; a path at least one course.
    Empty,
    /// A session's file is still waiting for its virus scan.
    WaitingForScan,
    /// A video, audio or document session has no file (its upload was refused by the virus scan):
    /// its title.
    NoFile(String),
}

/// Locks a draft version's row until the transaction ends (on PostgreSQL; SQLite writes one at a
/// time). False if it is no longer a draft.
async fn lock_draft(tx: &TenantTx, version: Uuid) -> Result<bool, DbError> {
    let done = tx
        .update_many::<course_version::Entity>()
        .filter(course_version::Column::Id.eq(version))
        .filter(course_version::Column::Status.eq(VersionStatus::Draft))
        .col_expr(course_version::Column::Status, Expr::col(course_version::Column::Status))
        .exec(tx)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Puts a session file that waited for its virus scan (at `held_key`) where it now is, in every
/// session that has it. Returns how many.
pub async fn media_scanned(tx: &TenantTx, held_key: &str, key: &str) -> Result<u64, DbError> {
    Ok(tx
        .update_many::<learning_object::Entity>()
        .filter(learning_object::Column::FileKey.eq(held_key))
        .col_expr(learning_object::Column::FileKey, Expr::value(key))
        .exec(tx)
        .await?
        .rows_affected)
}

/// Takes a session file that its virus scan refused (at `held_key`) out of every session that
/// has it: they have no file until one is uploaded again. Returns how many.
pub async fn media_refused(tx: &TenantTx, held_key: &str) -> Result<u64, DbError> {
    Ok(tx
        .update_many::<learning_object::Entity>()
        .filter(learning_object::Column::FileKey.eq(held_key))
        .col_expr(learning_object::Column::FileKey, Expr::value(Option::<String>::None))
        .col_expr(learning_object::Column::FileName, Expr::value(Option::<String>::None))
        .col_expr(learning_object::Column::FileType, Expr::value(Option::<String>::None))
        .col_expr(learning_object::Column::FileSize, Expr::value(Option::<i64>::None))
        .exec(tx)
        .await?
        .rows_affected)
}

/// Publishes the draft: it becomes the version new enrolments get, the previous one is retired
/// (those on it keep it), and the course is listed.
pub async fn publish(tx: &TenantTx, id: CourseId) -> Result<Result<i32, PublishRefused>, DbError> {
    // Only the owner publishes (the national catalogue's courses are the national owner's).
    let Some(c) = tx.select::<course::Entity>().filter(course::Column::Id.eq(id.as_uuid())).one(tx).await? else {
        return Ok(Err(PublishRefused::NotFound));
    };
    let c = Course::from(c);
    let all = versions(tx, id).await?;
    let now = Utc::now();
    let number = if let Some(d) = all.iter().find(|v| v.status == VersionStatus::Draft) {
        // Locked first, so a session being saved to the draft is either in it now or waits.
        if !lock_draft(tx, d.id).await? {
            return Ok(Err(PublishRefused::NotFound));
        }
        let sessions = if c.kind == "path" { vec![] } else { objects(tx, d.id).await? };
        let empty = if c.kind == "path" { path_courses(tx, id).await?.is_empty() } else { sessions.is_empty() };
        if empty {
            return Ok(Err(PublishRefused::Empty));
        }
        if sessions.iter().any(|o| o.file_key.as_deref().is_some_and(crate::held::is_held_key)) {
            return Ok(Err(PublishRefused::WaitingForScan));
        }
        let has_file = |o: &Object| matches!(o.kind.as_str(), "video" | "audio" | "document");
        if let Some(o) = sessions.iter().find(|o| has_file(o) && o.file_key.is_none()) {
            return Ok(Err(PublishRefused::NoFile(o.title.clone())));
        }
        tx.update_many::<course_version::Entity>()
            .filter(course_version::Column::CourseId.eq(id.as_uuid()))
            .filter(course_version::Column::Status.eq(crate::states::VersionStatus::Published))
            .col_expr(course_version::Column::Status, Expr::value(crate::states::VersionStatus::Retired))
            .exec(tx)
            .await?;
        tx.update_many::<course_version::Entity>()
            .filter(course_version::Column::Id.eq(d.id))
            .col_expr(course_version::Column::Status, Expr::value(crate::states::VersionStatus::Published))
            .col_expr(course_version::Column::PublishedAt, Expr::value(Some(now)))
            .exec(tx)
            .await?;
        tx.update_many::<course::Entity>()
            .filter(course::Column::Id.eq(id.as_uuid()))
            .col_expr(course::Column::CurrentVersionId, Expr::value(Some(d.id)))
            .exec(tx)
            .await?;
        d.number
    } else if let Some(p) = all.iter().find(|v| v.status == VersionStatus::Published) {
        p.number // republishing an unpublished course
    } else {
        return Ok(Err(PublishRefused::Empty));
    };
    tx.update_many::<course::Entity>()
        .filter(course::Column::Id.eq(id.as_uuid()))
        .col_expr(course::Column::Status, Expr::value(crate::states::CourseStatus::Published))
        .col_expr(course::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    changed(tx).await?;
    Ok(Ok(number))
}

/// Takes the course out of the catalogue. People enrolled keep it on "My learning".
pub async fn unpublish(tx: &TenantTx, id: CourseId) -> Result<bool, DbError> {
    let res = tx
        .update_many::<course::Entity>()
        .filter(course::Column::Id.eq(id.as_uuid()))
        .filter(course::Column::Status.eq(crate::states::CourseStatus::Published))
        .col_expr(course::Column::Status, Expr::value(crate::states::CourseStatus::Unpublished))
        .col_expr(course::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    changed(tx).await?;
    Ok(res.rows_affected == 1)
}

/// A learning path's courses, in order.
pub async fn path_courses(tx: &TenantTx, path: CourseId) -> Result<Vec<CourseId>, DbError> {
    Ok(tx
        .select_shared::<path_course::Entity>()
        .filter(path_course::Column::PathId.eq(path.as_uuid()))
        .order_by_asc(path_course::Column::Position)
        .all(tx)
        .await?
        .into_iter()
        .map(|p| CourseId::from_uuid(p.course_id))
        .collect())
}

/// The paths (visible here) that contain the course.
pub async fn paths_containing(tx: &TenantTx, course: CourseId) -> Result<Vec<CourseId>, DbError> {
    Ok(tx
        .select_shared::<path_course::Entity>()
        .filter(path_course::Column::CourseId.eq(course.as_uuid()))
        .all(tx)
        .await?
        .into_iter()
        .map(|p| CourseId::from_uuid(p.path_id))
        .collect())
}

/// Sets a path's courses (this trust's own path; courses its own or national, not paths).
pub async fn set_path_courses(tx: &TenantTx, path: CourseId, list: &[CourseId]) -> Result<bool, DbError> {
    if !owns(tx, path).await? {
        return Ok(false);
    }
    tx.delete_many::<path_course::Entity>().filter(path_course::Column::PathId.eq(path.as_uuid())).exec(tx).await?;
    let found = courses_by_id(tx, &list.iter().map(CourseId::as_uuid).collect::<Vec<_>>()).await?;
    let mut position = 0;
    for id in list {
        if found.get(&id.as_uuid()).is_some_and(|c| c.kind == "course") && *id != path {
            position += 1;
            tx.insert(path_course::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                path_id: Set(path.as_uuid()),
                course_id: Set(id.as_uuid()),
                position: Set(position),
            })
            .await?;
        }
    }
    changed(tx).await?;
    Ok(true)
}

/// A programme and its courses and paths.
#[derive(Debug, Clone)]
pub struct Programme {
    pub id: ProgrammeId,
    pub code: String,
    pub title: String,
    pub summary: String,
    pub national: bool,
    /// Offers a completion certificate.
    pub certificate: bool,
    pub courses: Vec<CourseId>,
}

/// Creates (or, by code, replaces the contents of) a programme owned by this trust.
pub async fn save_programme(
    tx: &TenantTx,
    code: &str,
    title: &str,
    summary: &str,
    certificate: bool,
    list: &[CourseId],
) -> Result<ProgrammeId, DbError> {
    let existing = tx.select::<programme::Entity>().filter(programme::Column::Code.eq(code)).one(tx).await?;
    let id = match existing {
        Some(p) => {
            tx.update_many::<programme::Entity>()
                .filter(programme::Column::Id.eq(p.id))
                .col_expr(programme::Column::Title, Expr::value(title))
                .col_expr(programme::Column::Summary, Expr::value(summary))
                .col_expr(programme::Column::Certificate, Expr::value(certificate))
                .exec(tx)
                .await?;
            ProgrammeId::from_uuid(p.id)
        }
        None => {
            let id = ProgrammeId::new();
            tx.insert(programme::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                id: Set(id.as_uuid()),
                code: Set(code.to_owned()),
                title: Set(title.to_owned()),
                summary: Set(summary.to_owned()),
                status: Set(crate::states::ProgrammeStatus::Published),
                certificate: Set(certificate),
                created_at: Set(Utc::now()),
            })
            .await?;
            id
        }
    };
    tx.delete_many::<programme_course::Entity>()
        .filter(programme_course::Column::ProgrammeId.eq(id.as_uuid()))
        .exec(tx)
        .await?;
    for (i, c) in list.iter().enumerate() {
        tx.insert(programme_course::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            programme_id: Set(id.as_uuid()),
            course_id: Set(c.as_uuid()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
        })
        .await?;
    }
    changed(tx).await?;
    Ok(id)
}

/// The programmes visible here (own and national), with their courses in order.
pub async fn programmes(tx: &TenantTx) -> Result<Vec<Programme>, DbError> {
    let list = tx.select_shared::<programme::Entity>().order_by_asc(programme::Column::Title).all(tx).await?;
    let ids: Vec<Uuid> = list.iter().map(|p| p.id).collect();
    let mut items: HashMap<Uuid, Vec<(i32, CourseId)>> = HashMap::new();
    for pc in tx
        .select_shared::<programme_course::Entity>()
        .filter(programme_course::Column::ProgrammeId.is_in(ids))
        .all(tx)
        .await?
    {
        items.entry(pc.programme_id).or_default().push((pc.position, CourseId::from_uuid(pc.course_id)));
    }
    Ok(list
        .into_iter()
        .map(|p| {
            let mut cs = items.remove(&p.id).unwrap_or_default();
            cs.sort();
            Programme {
                id: ProgrammeId::from_uuid(p.id),
                national: p.tenant_id == TenantId::NATIONAL.as_uuid(),
                code: p.code,
                title: p.title,
                summary: p.summary,
                certificate: p.certificate,
                courses: cs.into_iter().map(|(_, c)| c).collect(),
            }
        })
        .collect())
}

/// SQL: course `c` is in this trust's catalogue — its own (`$1`), or a national one (`$2`) the
/// trust offers. (Published-ness is the caller's filter.) [`in_catalogue`] is the same rule for one
/// course already loaded.
const IN_CATALOGUE: &str = "(c.tenant_id = $1 OR (c.tenant_id = $2 AND EXISTS (SELECT 1 FROM catalogue_offers o WHERE o.tenant_id = $1 AND o.course_id = c.id)))";

/// A search of this trust's catalogue.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub text: String,
    pub topic: String,
    pub staff_group: String,
    /// `short`, `medium` or `long` (see `trellis_domain::learning::duration_range`).
    pub duration: String,
    pub mandatory: bool,
    pub cpd: bool,
    pub offset: u64,
    pub limit: u64,
}

/// One course in the catalogue's results.
#[derive(Debug, Clone)]
pub struct Card {
    pub course: Course,
    /// Mandatory for someone here (a mandatory assignment rule names it).
    pub mandatory: bool,
}

/// A programme as the catalogue lists it: only the courses the catalogue holds, in order.
#[derive(Debug, Clone)]
pub struct ListedProgramme {
    pub id: ProgrammeId,
    pub title: String,
    pub summary: String,
    /// Offers a completion certificate.
    pub certificate: bool,
    pub courses: Vec<(CourseId, String)>,
    /// Each learning path among `courses`, with its courses in order.
    pub paths: HashMap<CourseId, Vec<CourseId>>,
}

/// Everything this trust's catalogue lists (its own published courses and the national ones it
/// offers, by title), with its topics and programmes: small enough to keep in memory per trust
/// (a few thousand courses), and read in three queries. Browsing and filtering are done on it;
/// a search with words asks the database for the ranked matches ([`ranked`]) and filters those.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub cards: Vec<Card>,
    index: HashMap<Uuid, usize>,
    pub topics: Vec<String>,
    pub programmes: Vec<ListedProgramme>,
}

impl Listing {
    /// The course, if the catalogue lists it.
    pub fn get(&self, id: CourseId) -> Option<&Card> {
        self.index.get(&id.as_uuid()).map(|&i| &self.cards[i])
    }

    /// How many courses it lists.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// Whether it lists nothing.
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    /// The page of courses the query asks for and how many match in all. `ranked`: the matches
    /// of the query's words, best first (from [`ranked`]); without words, every course by title.
    pub fn page(&self, q: &Query, ranked: Option<&[Uuid]>) -> (Vec<&Card>, u64) {
        let band = trellis_domain::learning::duration_range(&q.duration);
        let keep = |c: &&Card| {
            let x = &c.course;
            (q.topic.is_empty() || x.topic == q.topic)
                && (q.staff_group.is_empty() || x.audience.is_empty() || x.audience.contains(&q.staff_group))
                && band.is_none_or(|(lo, hi)| (lo..=hi).contains(&x.duration_minutes))
                && (!q.mandatory || c.mandatory)
                && (!q.cpd || x.cpd_points.is_some())
        };
        let matches: Vec<&Card> = match ranked {
            Some(ids) => ids.iter().filter_map(|id| self.index.get(id).map(|&i| &self.cards[i])).filter(keep).collect(),
            None => self.cards.iter().filter(keep).collect(),
        };
        Self::slice(matches, q)
    }

    /// The positions in [`Listing::cards`] of the ranked matches it lists, best first (what a kept
    /// search ranking is stored as, so paging it needs no lookups).
    pub fn positions(&self, ranked: &[Uuid]) -> Vec<u32> {
        ranked.iter().filter_map(|id| self.index.get(id).and_then(|&i| u32::try_from(i).ok())).collect()
    }

    /// [`Listing::page`] for a ranking already turned into [`Listing::positions`].
    pub fn page_at(&self, q: &Query, positions: &[u32]) -> (Vec<&Card>, u64) {
        let band = trellis_domain::learning::duration_range(&q.duration);
        let unfiltered = q.topic.is_empty() && q.staff_group.is_empty() && band.is_none() && !q.mandatory && !q.cpd;
        let cards = positions.iter().filter_map(|&i| self.cards.get(i as usize));
        if unfiltered {
            let total = positions.len() as u64;
            let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
            let take = usize::try_from(q.limit).unwrap_or(usize::MAX);
            return (cards.skip(skip).take(take).collect(), total);
        }
        let ids: Vec<Uuid> = cards.map(|c| c.course.id.as_uuid()).collect();
        self.page(q, Some(&ids))
    }

    fn slice<'a>(matches: Vec<&'a Card>, q: &Query) -> (Vec<&'a Card>, u64) {
        let total = matches.len() as u64;
        let skip = usize::try_from(q.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(q.limit).unwrap_or(usize::MAX);
        (matches.into_iter().skip(skip).take(take).collect(), total)
    }
}

/// Reads this trust's [`Listing`].
pub async fn listing(tx: &TenantTx) -> Result<Listing, DbError> {
    use sea_orm::FromQueryResult;
    let _t = tx.tenant().as_uuid();
    let national = TenantId::NATIONAL.as_uuid();
    let sql = format!(
        "SELECT c.tenant_id, c.id, c.code, c.kind, c.title, c.summary, c.description, c.topic, c.audience,
                c.duration_minutes, c.accreditation, c.cpd_points, c.enrolment, c.status, c.current_version_id,
                c.price_pence, c.currency, c.seller_id, c.created_at, c.updated_at, c.certificate, EXISTS (SELECT 1 FROM requirements r WHERE r.tenant_id = $1 AND r.course_id = c.id AND r.mandatory) AS mandatory
           FROM courses c WHERE c.status = 'published' AND {IN_CATALOGUE} ORDER BY c.title ASC, c.id ASC"
    );
    let rows = tx.query_all(&sql, vec![national.into()]).await?;
    let mut cards = Vec::with_capacity(rows.len());
    for r in rows {
        let m = course::Model::from_query_result(&r, "")?;
        cards.push(Card { course: Course::from(m), mandatory: r.try_get("", "mandatory")? });
    }
    let index: HashMap<Uuid, usize> = cards.iter().enumerate().map(|(i, c)| (c.course.id.as_uuid(), i)).collect();
    let mut topics: Vec<String> = cards.iter().map(|c| c.course.topic.clone()).filter(|t| !t.is_empty()).collect();
    topics.sort();
    topics.dedup();
    let all = programmes(tx).await?;
    // The courses of the learning paths the programmes hold (one read).
    let path_ids: Vec<Uuid> = all
        .iter()
        .flat_map(|p| p.courses.iter())
        .filter(|c| index.get(&c.as_uuid()).is_some_and(|&i| cards[i].course.kind == "path"))
        .map(CourseId::as_uuid)
        .collect();
    let mut inner: HashMap<CourseId, Vec<(i32, CourseId)>> = HashMap::new();
    if !path_ids.is_empty() {
        for pc in tx
            .select_shared::<path_course::Entity>()
            .filter(path_course::Column::PathId.is_in(path_ids))
            .all(tx)
            .await?
        {
            inner
                .entry(CourseId::from_uuid(pc.path_id))
                .or_default()
                .push((pc.position, CourseId::from_uuid(pc.course_id)));
        }
    }
    let programmes = all
        .into_iter()
        .map(|p| {
            let courses: Vec<(CourseId, String)> = p
                .courses
                .iter()
                .filter_map(|c| index.get(&c.as_uuid()).map(|&i| (*c, cards[i].course.title.clone())))
                .collect();
            let paths = courses
                .iter()
                .filter_map(|(c, _)| {
                    let mut list = inner.get(c)?.clone();
                    list.sort();
                    Some((*c, list.into_iter().map(|(_, c)| c).collect()))
                })
                .collect();
            ListedProgramme { id: p.id, title: p.title, summary: p.summary, certificate: p.certificate, courses, paths }
        })
        .filter(|p| !p.courses.is_empty())
        .collect();
    Ok(Listing { cards, index, topics, programmes })
}

/// Words of a search made safe for FTS5: each a quoted prefix term.
pub(crate) fn fts5_terms(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(12)
        .map(|w| format!("\"{w}\"*"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The published courses (this trust's and national ones) that match the words, best first:
/// PostgreSQL full-text search (`websearch_to_tsquery`, ranked) or SQLite FTS5 (bm25). Whether
/// the trust offers a national match is the [`Listing`]'s to say.
pub async fn ranked(tx: &TenantTx, words: &str) -> Result<Vec<Uuid>, DbError> {
    let words = words.trim();
    let _t = tx.tenant().as_uuid();
    let national = TenantId::NATIONAL.as_uuid();
    let sql = if tx.is_postgres() {
        "SELECT c.id AS id FROM courses c, websearch_to_tsquery('english', $3) q
          WHERE c.tenant_id IN ($1, $2) AND c.status = 'published' AND c.search @@ q
          ORDER BY ts_rank(c.search, q) DESC, c.title ASC, c.id ASC"
            .to_owned()
    } else {
        // bm25() only works in the query that does the MATCH: join its scores.
        "SELECT c.id AS id FROM courses c
           JOIN (SELECT course_id AS sid, bm25(course_search) AS score FROM course_search WHERE course_search MATCH $3) s
             ON s.sid = c.id
          WHERE c.tenant_id IN ($1, $2) AND c.status = 'published'
          ORDER BY s.score ASC, c.title ASC, c.id ASC"
            .to_owned()
    };
    let arg = if tx.is_postgres() { words.to_owned() } else { fts5_terms(words) };
    if words.is_empty() || arg.is_empty() {
        return Ok(vec![]);
    }
    let rows = tx.query_all(&sql, vec![national.into(), arg.into()]).await?;
    rows.into_iter().map(|r| r.try_get::<Uuid>("", "id").map_err(DbError::from)).collect()
}

/// Searches the catalogue without keeping anything: [`listing`], [`ranked`] when there are
/// words, then [`Listing::page`]. (The web tier keeps the listing and the rankings instead.)
pub async fn search(tx: &TenantTx, q: &Query) -> Result<(Vec<Card>, u64), DbError> {
    let all = listing(tx).await?;
    let ranks = if q.text.trim().is_empty() { None } else { Some(ranked(tx, &q.text).await?) };
    let (page, total) = all.page(q, ranks.as_deref());
    Ok((page.into_iter().cloned().collect(), total))
}

/// Creates what a catalogue file declares and this owner (a trust, or the national catalogue)
/// lacks, matched by code; existing courses are left as editors made them. Returns a line per
/// course, path or programme.
pub async fn apply_spec(
    tx: &TenantTx,
    spec: &trellis_domain::catalogue_spec::CatalogueSpec,
) -> Result<Vec<String>, DbError> {
    let mut lines = Vec::new();
    let by_code = |code: &str| {
        let code = code.to_owned();
        async move {
            Ok::<_, DbError>(
                tx.select_shared::<course::Entity>()
                    .filter(course::Column::Code.eq(code))
                    .order_by_desc(course::Column::TenantId.eq(tx.tenant().as_uuid()))
                    .one(tx)
                    .await?
                    .map(Course::from),
            )
        }
    };
    for c in &spec.course {
        if code_taken(tx, &c.code, None).await? {
            lines.push(format!("course {}: kept", c.code));
            continue;
        }
        let input = CourseInput {
            code: c.code.clone(),
            kind: "course".into(),
            title: c.title.clone(),
            summary: c.summary.clone(),
            description: c.description.clone(),
            topic: c.topic.clone(),
            audience: c.audience.clone(),
            duration_minutes: c.duration_minutes,
            accreditation: c.accreditation.clone(),
            cpd_points: c.cpd_points,
            certificate: None,
            enrolment: c.enrolment.clone(),
        };
        let Ok(id) = create_course(tx, &input).await? else { continue };
        for s in &c.session {
            add_object(
                tx,
                id,
                &ObjectInput {
                    title: s.title.clone(),
                    kind: s.kind.clone(),
                    body: s.body.clone(),
                    url: s.url.clone(),
                    file: None,
                    completion: s.completion.clone(),
                    min_minutes: s.min_minutes,
                    ..ObjectInput::default()
                },
            )
            .await?;
        }
        let _ = publish(tx, id).await?;
        lines.push(format!("course {}: created and published", c.code));
    }
    for p in &spec.path {
        if code_taken(tx, &p.code, None).await? {
            lines.push(format!("path {}: kept", p.code));
            continue;
        }
        let input = CourseInput {
            code: p.code.clone(),
            kind: "path".into(),
            title: p.title.clone(),
            summary: p.summary.clone(),
            description: p.description.clone(),
            topic: p.topic.clone(),
            enrolment: p.enrolment.clone(),
            ..CourseInput::default()
        };
        let Ok(id) = create_course(tx, &input).await? else { continue };
        let mut list = Vec::new();
        let mut minutes = 0;
        for code in &p.courses {
            if let Some(c) = by_code(code).await? {
                minutes += c.duration_minutes;
                list.push(c.id);
            }
        }
        set_path_courses(tx, id, &list).await?;
        tx.update_many::<course::Entity>()
            .filter(course::Column::Id.eq(id.as_uuid()))
            .col_expr(course::Column::DurationMinutes, Expr::value(minutes))
            .exec(tx)
            .await?;
        let _ = publish(tx, id).await?;
        lines.push(format!("path {}: created with {} courses", p.code, list.len()));
    }
    for p in &spec.programme {
        let mut list = Vec::new();
        for code in &p.courses {
            if let Some(c) = by_code(code).await? {
                list.push(c.id);
            }
        }
        save_programme(tx, &p.code, &p.title, &p.summary, p.certificate, &list).await?;
        lines.push(format!("programme {}: {} courses", p.code, list.len()));
    }
    Ok(lines)
}
