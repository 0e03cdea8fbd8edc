//! Staff records from the HR system, and the import that keeps them current: a plan first (what
//! would change, row by row), then the same plan applied in one transaction, all or nothing.

use crate::entities::staff_record;
use crate::identity::accounts::{self, Consent};
use crate::identity::{MembershipStatus, NewPerson};
use crate::{DbError, TenantTx};
use chrono::Utc;
use sea_orm::{ColumnTrait, QueryFilter, Set};
use serde::Serialize;
use std::collections::HashMap;
use trellis_domain::PersonId;
use trellis_domain::identity::Role;
use trellis_domain::staff_import::{RowError, StaffRow};
use uuid::Uuid;

/// A member of staff's HR record in this trust.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StaffRecord {
    pub assignment_number: Option<String>,
    pub position: String,
    pub department: String,
    pub staff_group: String,
    pub place_of_work: String,
    /// When the assignment ends, as the HR file last said (a leaver once it has passed).
    #[serde(default)]
    pub end_date: Option<chrono::NaiveDate>,
}

impl From<staff_record::Model> for StaffRecord {
    fn from(m: staff_record::Model) -> Self {
        StaffRecord {
            assignment_number: m.assignment_number,
            position: m.position,
            department: m.department,
            staff_group: m.staff_group,
            place_of_work: m.place_of_work,
            end_date: m.end_date,
        }
    }
}

/// The person's record here.
pub async fn record(tx: &TenantTx, person: PersonId) -> Result<Option<StaffRecord>, DbError> {
    Ok(tx
        .select::<staff_record::Entity>()
        .filter(staff_record::Column::PersonId.eq(person.as_uuid()))
        .one(tx)
        .await?
        .map(StaffRecord::from))
}

/// Sets the person's record here (creating it).
pub async fn set_record(tx: &TenantTx, person: PersonId, r: &StaffRecord) -> Result<(), DbError> {
    tx.delete_many::<staff_record::Entity>()
        .filter(staff_record::Column::PersonId.eq(person.as_uuid()))
        .exec(tx)
        .await?;
    tx.insert(staff_record::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        person_id: Set(person.as_uuid()),
        assignment_number: Set(r.assignment_number.clone()),
        position: Set(r.position.clone()),
        department: Set(r.department.clone()),
        staff_group: Set(r.staff_group.clone()),
        place_of_work: Set(r.place_of_work.clone()),
        updated_at: Set(Utc::now()),
        end_date: Set(r.end_date),
        missing_since: Set(None),
    })
    .await?;
    Ok(())
}

/// The departments in use here, for filters.
pub async fn departments(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    in_use(tx, "department").await
}

/// The staff groups in use here, for filters.
pub async fn staff_groups(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    in_use(tx, "staff_group").await
}

async fn in_use(tx: &TenantTx, column: &'static str) -> Result<Vec<String>, DbError> {
    let sql =
        format!("SELECT DISTINCT {column} AS v FROM staff_records WHERE tenant_id = $1 AND {column} <> '' ORDER BY 1");
    let rows = tx.query_all(&sql, Vec::new()).await?;
    rows.into_iter().map(|r| Ok(r.try_get::<String>("", "v")?)).collect()
}

/// What the import does with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRow {
    pub line: usize,
    /// `add` (someone not yet on this trust's staff: a new account, or an invitation to an
    /// account they already have: the preview does not say which, so it cannot tell anyone who
    /// has an account elsewhere), `update` (their record changes) or `unchanged`.
    pub action: &'static str,
    pub name: String,
    pub email: String,
    pub assignment_number: String,
    /// What changes, in words (for `update`).
    pub changes: Vec<String>,
}

/// The whole plan, or why it cannot go ahead.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub rows: Vec<PlannedRow>,
    pub errors: Vec<RowError>,
    /// People not yet on this trust's staff (new accounts and invitations alike).
    pub add: usize,
    pub update: usize,
    pub unchanged: usize,
    /// Members moving department or staff group (their training rules are applied again).
    pub moving: usize,
    /// Leavers: members missing from a file said to list all staff, or whose end date has passed
    /// (at most 500 listed; `leaving` counts them all).
    pub leavers: Vec<Leaver>,
    pub leaving: usize,
    /// Approved members with an HR record now (the dry run only).
    pub members: usize,
    /// Rows that set a line manager (the file's optional line-manager column).
    pub managers: usize,
}

impl Plan {
    /// Whether applying it needs the manager's explicit word: more than a tenth of the staff (and
    /// more than five people) would become leavers, as a partial file applied as whole would do.
    pub fn needs_confirmation(&self) -> bool {
        self.leaving > 5 && self.leaving * 10 > self.members
    }
}

/// A member of staff the import finds has left (suspended after the trust's grace period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leaver {
    pub name: String,
    pub email: String,
    pub assignment_number: String,
    pub reason: String,
}

/// What applying the import did besides the plan: the invitations to email (address, token) and
/// how many rows named a platform administrator (never imported, never said to the trust).
#[derive(Debug, Default)]
pub struct Applied {
    pub plan: Plan,
    /// New accounts made.
    pub created: usize,
    pub invitations: Vec<(String, String)>,
    pub platform_admins_skipped: usize,
}

enum Target {
    /// Known here by assignment number or email: (person, their record here if any).
    Member(PersonId, Option<StaffRecord>),
    /// Has an account, not a member here: invited, never added.
    Account(PersonId, bool),
    New,
}

/// Works out what importing `rows` would do, reading everything it needs in a few queries.
async fn targets(tx: &TenantTx, rows: &[StaffRow]) -> Result<(Vec<Target>, Vec<RowError>), DbError> {
    let mut by_number: HashMap<String, (Uuid, staff_record::Model)> = HashMap::new();
    let mut by_person_record: HashMap<Uuid, staff_record::Model> = HashMap::new();
    for chunk in rows.chunks(1000) {
        let numbers: Vec<String> = chunk.iter().map(|r| r.assignment_number.clone()).collect();
        for r in tx
            .select::<staff_record::Entity>()
            .filter(staff_record::Column::AssignmentNumber.is_in(numbers))
            .all(tx)
            .await?
        {
            if let Some(n) = r.assignment_number.clone() {
                by_number.insert(n, (r.person_id, r));
            }
        }
    }
    let emails: Vec<String> = rows.iter().map(|r| r.email.clone()).collect();
    let by_email = accounts::find(tx, &emails).await?;
    let ids: Vec<Uuid> = by_email.values().map(|a| a.id.as_uuid()).chain(by_number.values().map(|(p, _)| *p)).collect();
    for chunk in ids.chunks(1000) {
        for r in tx
            .select::<staff_record::Entity>()
            .filter(staff_record::Column::PersonId.is_in(chunk.to_vec()))
            .all(tx)
            .await?
        {
            by_person_record.insert(r.person_id, r);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for r in rows {
        let by_num = by_number.get(&r.assignment_number).map(|(p, _)| *p);
        let account = by_email.get(&r.email);
        let by_mail = account.filter(|a| a.member_here).map(|a| a.id.as_uuid());
        let t = match (by_num, by_mail) {
            (Some(a), Some(b)) if a != b => {
                errors.push(RowError {
                    line: r.line,
                    column: "email".into(),
                    message: format!(
                        "Assignment number {} belongs to another member of staff than {}; correct the file or the accounts first.",
                        r.assignment_number, r.email
                    ),
                });
                Target::New
            }
            (Some(p), _) => {
                Target::Member(PersonId::from_uuid(p), by_person_record.get(&p).cloned().map(StaffRecord::from))
            }
            (None, Some(p)) => {
                let rec = by_person_record.get(&p).cloned().map(StaffRecord::from);
                if rec.as_ref().is_some_and(|x| x.assignment_number.as_ref().is_some_and(|n| *n != r.assignment_number))
                {
                    errors.push(RowError {
                        line: r.line,
                        column: "assignment_number".into(),
                        message: format!("{} already has another assignment number here.", r.email),
                    });
                }
                Target::Member(PersonId::from_uuid(p), rec)
            }
            // An account elsewhere: said to nobody, shown as an addition like a new account.
            (None, None) => match account {
                Some(a) => Target::Account(a.id, a.platform_admin),
                None => Target::New,
            },
        };
        out.push(t);
    }
    Ok((out, errors))
}

fn wanted(r: &StaffRow) -> StaffRecord {
    StaffRecord {
        assignment_number: Some(r.assignment_number.clone()),
        position: r.position.clone(),
        department: r.department.clone(),
        staff_group: r.staff_group.clone(),
        place_of_work: r.place_of_work.clone(),
        end_date: r.end_date,
    }
}

fn changes(old: &StaffRecord, new: &StaffRecord) -> Vec<String> {
    let mut c = Vec::new();
    for (label, a, b) in [
        (
            "Assignment number",
            old.assignment_number.clone().unwrap_or_default(),
            new.assignment_number.clone().unwrap_or_default(),
        ),
        ("Position", old.position.clone(), new.position.clone()),
        ("Department", old.department.clone(), new.department.clone()),
        ("Staff group", old.staff_group.clone(), new.staff_group.clone()),
        ("Place of work", old.place_of_work.clone(), new.place_of_work.clone()),
        (
            "End date",
            old.end_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default(),
            new.end_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default(),
        ),
    ] {
        if a != b {
            c.push(format!("{label}: \u{201c}{a}\u{201d} \u{2192} \u{201c}{b}\u{201d}"));
        }
    }
    c
}

/// What importing the rows would do (nothing is written). `complete`: the file lists everyone
/// on the trust's staff, so members with an HR record who are not in it are leavers.
pub async fn plan(tx: &TenantTx, rows: &[StaffRow], complete: bool, today: chrono::NaiveDate) -> Result<Plan, DbError> {
    let (targets, mut errors) = targets(tx, rows).await?;
    let managers = crate::teams::plan_import(tx, rows, &kinds(&targets), &mut errors).await?;
    let mut plan = plan_of(rows, &targets, errors);
    plan.managers = managers.set;
    leavers(tx, rows, &targets, complete, today, &mut plan).await?;
    plan.members = hr_members(tx).await?;
    Ok(plan)
}

/// What each row is, for its line manager.
fn kinds(targets: &[Target]) -> Vec<crate::teams::RowKind> {
    targets
        .iter()
        .map(|t| match t {
            Target::Member(p, _) => (Some(*p), false),
            Target::New => (None, true),
            Target::Account(..) => (None, false),
        })
        .collect()
}

/// How many approved members have a record from HR (to judge a file's leavers against).
async fn hr_members(tx: &TenantTx) -> Result<usize, DbError> {
    let row = tx
        .query_one(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM staff_records s
               JOIN memberships m ON m.tenant_id = s.tenant_id AND m.person_id = s.person_id
              WHERE s.tenant_id = $1 AND s.assignment_number IS NOT NULL AND m.status = 'approved'",
            vec![],
        )
        .await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.map_or(0, |n| usize::try_from(n).unwrap_or(0)))
}

/// Adds the leavers to a plan: rows whose end date has passed, and (for a complete file) members
/// with an HR record the file does not list.
async fn leavers(
    tx: &TenantTx,
    rows: &[StaffRow],
    targets: &[Target],
    complete: bool,
    today: chrono::NaiveDate,
    plan: &mut Plan,
) -> Result<Vec<Uuid>, DbError> {
    for r in rows.iter().filter(|r| r.end_date.is_some_and(|d| d < today)) {
        plan.leaving += 1;
        if plan.leavers.len() < 500 {
            plan.leavers.push(Leaver {
                name: format!("{} {}", r.given_name, r.family_name),
                email: r.email.clone(),
                assignment_number: r.assignment_number.clone(),
                reason: format!(
                    "Their end date, {}, has passed",
                    r.end_date.map(|d| d.format("%-d %B %Y").to_string()).unwrap_or_default()
                ),
            });
        }
    }
    if !complete {
        return Ok(vec![]);
    }
    let listed: std::collections::HashSet<Uuid> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Member(p, _) => Some(p.as_uuid()),
            _ => None,
        })
        .collect();
    // Approved members from HR (those already suspended, pending or gone are not leavers again).
    let rows = tx
        .query_all(
            "SELECT s.person_id, s.assignment_number FROM staff_records s
               JOIN memberships m ON m.tenant_id = s.tenant_id AND m.person_id = s.person_id
              WHERE s.tenant_id = $1 AND s.assignment_number IS NOT NULL AND m.status = 'approved'",
            vec![],
        )
        .await?;
    let mut missing: Vec<(Uuid, String)> = Vec::new();
    for r in rows {
        let person: Uuid = r.try_get("", "person_id")?;
        if !listed.contains(&person) {
            missing.push((person, r.try_get::<Option<String>>("", "assignment_number")?.unwrap_or_default()));
        }
    }
    plan.leaving += missing.len();
    let shown: Vec<&(Uuid, String)> = missing.iter().take(500usize.saturating_sub(plan.leavers.len())).collect();
    let ids: Vec<PersonId> = shown.iter().map(|(p, _)| PersonId::from_uuid(*p)).collect();
    let contacts = crate::identity::member_contacts(tx, &ids).await?;
    for (p, number) in shown {
        let (email, name) = contacts.get(&PersonId::from_uuid(*p)).cloned().unwrap_or_default();
        plan.leavers.push(Leaver { name, email, assignment_number: number.clone(), reason: "Not in this file".into() });
    }
    Ok(missing.into_iter().map(|(p, _)| p).collect())
}

/// The plan for rows whose targets have been looked up.
fn plan_of(rows: &[StaffRow], targets: &[Target], errors: Vec<RowError>) -> Plan {
    let mut plan = Plan { errors, ..Plan::default() };
    for (r, t) in rows.iter().zip(targets) {
        let want = wanted(r);
        let (action, ch) = match t {
            Target::New | Target::Account(..) => ("add", vec![]),
            Target::Member(_, None) => ("update", changes(&StaffRecord::default(), &want)),
            Target::Member(_, Some(old)) => {
                let ch = changes(old, &want);
                if old.department != want.department || old.staff_group != want.staff_group {
                    plan.moving += 1;
                }
                (if ch.is_empty() { "unchanged" } else { "update" }, ch)
            }
        };
        match action {
            "add" => plan.add += 1,
            "update" => plan.update += 1,
            _ => plan.unchanged += 1,
        }
        plan.rows.push(PlannedRow {
            line: r.line,
            action,
            name: format!("{} {}", r.given_name, r.family_name),
            email: r.email.clone(),
            assignment_number: r.assignment_number.clone(),
            changes: ch,
        });
    }
    plan
}

/// Applies the import in the caller's transaction: new accounts (no password: they sign in by
/// setting one through "forgotten password", or by single sign-on) with memberships (approved, as
/// learners) and records; for addresses that already have an account elsewhere, invitations
/// (the account joins only if its owner accepts; the record waits on the invitation); never a
/// platform administrator. Members listed in the file count as active (see [`accounts::touch`]).
/// Returns what it did; with errors, writes nothing.
pub async fn apply(
    tx: &TenantTx,
    rows: &[StaffRow],
    by: Option<PersonId>,
    invitation_ttl: chrono::Duration,
    complete: bool,
    today: chrono::NaiveDate,
) -> Result<Applied, DbError> {
    let (targets, mut errors) = targets(tx, rows).await?;
    let managers = crate::teams::plan_import(tx, rows, &kinds(&targets), &mut errors).await?;
    let mut plan = plan_of(rows, &targets, errors);
    plan.managers = managers.set;
    if !plan.errors.is_empty() {
        return Ok(Applied { plan, ..Applied::default() });
    }
    // Those missing from a whole file are marked from today (unless already missing); those it
    // lists are cleared below.
    let missing = leavers(tx, rows, &targets, complete, today, &mut plan).await?;
    plan.members = hr_members(tx).await?;
    for chunk in missing.chunks(1000) {
        tx.update_many::<staff_record::Entity>()
            .filter(staff_record::Column::PersonId.is_in(chunk.to_vec()))
            .filter(staff_record::Column::MissingSince.is_null())
            .col_expr(staff_record::Column::MissingSince, sea_orm::sea_query::Expr::value(Some(today)))
            .exec(tx)
            .await?;
    }
    let mut listed = Vec::new();
    let mut ids: Vec<Option<PersonId>> = Vec::with_capacity(rows.len());
    let mut out = Applied { plan, ..Applied::default() };
    for (r, t) in rows.iter().zip(targets) {
        let want = wanted(r);
        match t {
            Target::New => {
                let created = accounts::create_person(
                    tx,
                    NewPerson {
                        email: r.email.clone(),
                        password_hash: None,
                        given_name: r.given_name.clone(),
                        family_name: r.family_name.clone(),
                        job_role: r.position.chars().take(100).collect(),
                        // The person's own field holds an ODS code; the HR site is on the record.
                        place_of_work: String::new(),
                        register_kind: None,
                        register_number: None,
                    },
                    false,
                )
                .await?;
                accounts::add_membership(tx, Consent::New(&created), MembershipStatus::Approved, &[Role::Learner])
                    .await?;
                set_record(tx, created.id, &want).await?;
                out.created += 1;
                ids.push(Some(created.id));
            }
            Target::Account(_, true) => {
                out.platform_admins_skipped += 1;
                ids.push(None);
            }
            Target::Account(p, false) => {
                let record = serde_json::json!({ "record": want, "roles": [Role::Learner.as_str()] });
                let raw = accounts::invite(tx, p, &r.email, &record, by, invitation_ttl).await?;
                out.invitations.push((r.email.clone(), raw));
                ids.push(None);
            }
            Target::Member(p, old) => {
                ids.push(Some(p));
                if old.as_ref() != Some(&want) {
                    set_record(tx, p, &want).await?;
                }
                listed.push(p.as_uuid());
                // Still on the trust's staff file: not an unused account to anonymise, though
                // they may never have signed in (the retention schedule's inactive accounts).
                accounts::touch(tx, p).await?;
            }
        }
    }
    crate::teams::apply_import(tx, &managers, &ids).await?;
    for chunk in listed.chunks(1000) {
        tx.update_many::<staff_record::Entity>()
            .filter(staff_record::Column::PersonId.is_in(chunk.to_vec()))
            .filter(staff_record::Column::MissingSince.is_not_null())
            .col_expr(
                staff_record::Column::MissingSince,
                sea_orm::sea_query::Expr::value(Option::<chrono::NaiveDate>::None),
            )
            .exec(tx)
            .await?;
    }
    Ok(out)
}

/// How many days after leaving the staff list (or their end date) a member is suspended, unless
/// the trust says otherwise.
pub const DEFAULT_LEAVER_GRACE_DAYS: i32 = 30;

/// The trust's grace period for leavers, in days.
pub async fn leaver_grace_days(tx: &TenantTx) -> Result<i32, DbError> {
    Ok(tx
        .select::<crate::entities::staff_setting::Entity>()
        .one(tx)
        .await?
        .map_or(DEFAULT_LEAVER_GRACE_DAYS, |s| s.leaver_grace_days))
}

/// Sets the trust's grace period for leavers.
pub async fn set_leaver_grace_days(tx: &TenantTx, days: i32) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO staff_settings (tenant_id, leaver_grace_days) VALUES ($1, $2)
         ON CONFLICT (tenant_id) DO UPDATE SET leaver_grace_days = excluded.leaver_grace_days",
        vec![days.into()],
    )
    .await?;
    Ok(())
}

/// Members still approved whose grace period as leavers ran out by `today`: missing from a
/// complete file since, or with an end date, at least `grace` days before (at most `limit`), with
/// why.
pub async fn due_leavers(
    tx: &TenantTx,
    today: chrono::NaiveDate,
    grace: i32,
    limit: u64,
) -> Result<Vec<(PersonId, String)>, DbError> {
    let cutoff = today - chrono::Duration::days(i64::from(grace));
    let rows = tx
        .query_all(
            &format!(
                "SELECT s.person_id, s.missing_since, s.end_date FROM staff_records s
                   JOIN memberships m ON m.tenant_id = s.tenant_id AND m.person_id = s.person_id
                  WHERE s.tenant_id = $1 AND m.status = 'approved'
                    AND (s.missing_since <= $2 OR s.end_date < $2)
                  ORDER BY s.person_id LIMIT {}",
                limit.min(10_000)
            ),
            vec![cutoff.into()],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let person: Uuid = r.try_get("", "person_id")?;
        let missing: Option<chrono::NaiveDate> = r.try_get("", "missing_since")?;
        let end: Option<chrono::NaiveDate> = r.try_get("", "end_date")?;
        let why = match (missing, end) {
            (_, Some(end)) if end < cutoff => format!("their assignment ended on {}", end.format("%-d %B %Y")),
            (Some(since), _) => format!("not in the staff file since {}", since.format("%-d %B %Y")),
            _ => String::new(),
        };
        out.push((PersonId::from_uuid(person), why));
    }
    Ok(out)
}

/// Suspends a leaver's membership here (approved to suspended; their learning record stays),
/// unless they are the trust's only approved training manager (kept: someone must be able to
/// act). False when kept or no longer approved.
pub async fn suspend_leaver(tx: &TenantTx, person: PersonId) -> Result<bool, DbError> {
    use crate::entities::membership;
    use sea_orm::sea_query::Expr;
    // The trust's training managers' memberships are locked first (on PostgreSQL), so two runs at
    // once cannot each suspend a different last manager.
    tx.execute(
        "UPDATE memberships SET status = status WHERE tenant_id = $1 AND person_id IN
           (SELECT person_id FROM membership_roles WHERE tenant_id = $1 AND role = 'training_manager')",
        vec![],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT
               (SELECT CAST(COUNT(*) AS BIGINT) FROM membership_roles r
                 WHERE r.tenant_id = $1 AND r.person_id = $2 AND r.role = 'training_manager') AS mine,
               (SELECT CAST(COUNT(*) AS BIGINT) FROM membership_roles r
                  JOIN memberships m ON m.tenant_id = r.tenant_id AND m.person_id = r.person_id
                 WHERE r.tenant_id = $1 AND r.role = 'training_manager' AND m.status = 'approved') AS managers",
            vec![person.as_uuid().into()],
        )
        .await?;
    if let Some(r) = row {
        let (mine, managers): (i64, i64) = (r.try_get("", "mine")?, r.try_get("", "managers")?);
        if mine > 0 && managers <= 1 {
            return Ok(false);
        }
    }
    let now = Utc::now();
    let done = tx
        .update_many::<membership::Entity>()
        .filter(membership::Column::PersonId.eq(person.as_uuid()))
        .filter(membership::Column::Status.eq("approved"))
        .col_expr(membership::Column::Status, Expr::value("suspended"))
        .col_expr(membership::Column::DecidedBy, Expr::value(Option::<Uuid>::None))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(membership::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    Ok(done.rows_affected > 0)
}

/// A member reinstated by hand is no longer a leaver: their missing mark and end date go (a later
/// file says again if they leave).
pub async fn clear_leaving(tx: &TenantTx, person: PersonId) -> Result<(), DbError> {
    use sea_orm::sea_query::Expr;
    tx.update_many::<staff_record::Entity>()
        .filter(staff_record::Column::PersonId.eq(person.as_uuid()))
        .col_expr(staff_record::Column::MissingSince, Expr::value(Option::<chrono::NaiveDate>::None))
        .col_expr(staff_record::Column::EndDate, Expr::value(Option::<chrono::NaiveDate>::None))
        .exec(tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Plan;

    #[test]
    fn many_leavers_need_the_managers_word() {
        let plan = |leaving, members| Plan { leaving, members, ..Plan::default() };
        assert!(!plan(5, 10).needs_confirmation(), "five or fewer never do");
        assert!(!plan(10, 100).needs_confirmation(), "a tenth does not");
        assert!(plan(11, 100).needs_confirmation());
        assert!(plan(900, 1000).needs_confirmation(), "a department's file applied as the whole list");
    }
}
