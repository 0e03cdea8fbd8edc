//! Staff records from the HR system, and the import that keeps them current: a plan first (what
//! would change, row by row), then the same plan applied in one transaction, all or nothing.

use crate::entities::{membership, person, staff_record};
use crate::identity::{self as id, IdentityTx, MembershipStatus, NewPerson};
use crate::{DbError, TenantTx};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::Serialize;
use std::collections::HashMap;
use trellis_core::PersonId;
use trellis_core::identity::Role;
use trellis_core::staff_import::{RowError, StaffRow};
use uuid::Uuid;

/// A member of staff's HR record in this trust.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StaffRecord {
    pub assignment_number: Option<String>,
    pub position: String,
    pub department: String,
    pub staff_group: String,
    pub place_of_work: String,
}

impl From<staff_record::Model> for StaffRecord {
    fn from(m: staff_record::Model) -> Self {
        StaffRecord {
            assignment_number: m.assignment_number,
            position: m.position,
            department: m.department,
            staff_group: m.staff_group,
            place_of_work: m.place_of_work,
        }
    }
}

/// The person's record here.
pub async fn record(tx: &TenantTx, person: PersonId) -> Result<Option<StaffRecord>, DbError> {
    Ok(tx
        .select::<staff_record::Entity>()
        .filter(staff_record::Column::PersonId.eq(person.as_uuid()))
        .one(tx.conn())
        .await?
        .map(StaffRecord::from))
}

/// Sets the person's record here (creating it).
pub async fn set_record(tx: &TenantTx, person: PersonId, r: &StaffRecord) -> Result<(), DbError> {
    tx.delete_many::<staff_record::Entity>()
        .filter(staff_record::Column::PersonId.eq(person.as_uuid()))
        .exec(tx.conn())
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
    })
    .await?;
    Ok(())
}

/// The departments and places of work in use here, for filters.
pub async fn departments(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    use sea_orm::ConnectionTrait;
    let rows = tx
        .conn()
        .query_all_raw(tx.stmt(
            "SELECT DISTINCT department FROM staff_records WHERE tenant_id = $1 AND department <> '' ORDER BY 1",
            vec![tx.tenant().as_uuid().into()],
        ))
        .await?;
    rows.into_iter().map(|r| Ok(r.try_get::<String>("", "department")?)).collect()
}

/// What the import does with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedRow {
    pub line: usize,
    /// `create` (a new account), `join` (an existing account joins this trust), `update`
    /// (their record changes) or `unchanged`.
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
    pub create: usize,
    pub join: usize,
    pub update: usize,
    pub unchanged: usize,
}

enum Target {
    /// Known here by assignment number or email: (person, their record here if any).
    Member(PersonId, Option<StaffRecord>),
    /// Has an account, not a member here.
    Account(PersonId),
    New,
}

/// Works out what importing `rows` would do, reading everything it needs in a few queries.
async fn targets(itx: &IdentityTx, rows: &[StaffRow]) -> Result<(Vec<Target>, Vec<RowError>), DbError> {
    let mut by_number: HashMap<String, (Uuid, staff_record::Model)> = HashMap::new();
    let mut by_person_record: HashMap<Uuid, staff_record::Model> = HashMap::new();
    let mut by_email: HashMap<String, Uuid> = HashMap::new();
    let mut members: std::collections::HashSet<Uuid> = std::collections::HashSet::new();
    for chunk in rows.chunks(1000) {
        let numbers: Vec<String> = chunk.iter().map(|r| r.assignment_number.clone()).collect();
        for r in itx
            .select::<staff_record::Entity>()
            .filter(staff_record::Column::AssignmentNumber.is_in(numbers))
            .all(itx.conn())
            .await?
        {
            if let Some(n) = r.assignment_number.clone() {
                by_number.insert(n, (r.person_id, r));
            }
        }
        let emails: Vec<String> = chunk.iter().map(|r| r.email.clone()).collect();
        for p in person::Entity::find().filter(person::Column::Email.is_in(emails)).all(itx.conn()).await? {
            by_email.insert(p.email, p.id);
        }
    }
    let ids: Vec<Uuid> = by_email.values().copied().chain(by_number.values().map(|(p, _)| *p)).collect();
    for chunk in ids.chunks(1000) {
        for m in itx
            .select::<membership::Entity>()
            .filter(membership::Column::PersonId.is_in(chunk.to_vec()))
            .all(itx.conn())
            .await?
        {
            members.insert(m.person_id);
        }
        for r in itx
            .select::<staff_record::Entity>()
            .filter(staff_record::Column::PersonId.is_in(chunk.to_vec()))
            .all(itx.conn())
            .await?
        {
            by_person_record.insert(r.person_id, r);
        }
    }
    let mut out = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for r in rows {
        let by_num = by_number.get(&r.assignment_number).map(|(p, _)| *p);
        let by_mail = by_email.get(&r.email).copied();
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
            (None, Some(p)) if members.contains(&p) => {
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
            (None, Some(p)) => Target::Account(PersonId::from_uuid(p)),
            (None, None) => Target::New,
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
    ] {
        if a != b {
            c.push(format!("{label}: \u{201c}{a}\u{201d} \u{2192} \u{201c}{b}\u{201d}"));
        }
    }
    c
}

/// What importing the rows would do (nothing is written).
pub async fn plan(itx: &IdentityTx, rows: &[StaffRow]) -> Result<Plan, DbError> {
    let (targets, errors) = targets(itx, rows).await?;
    Ok(plan_of(rows, &targets, errors))
}

/// The plan for rows whose targets have been looked up.
fn plan_of(rows: &[StaffRow], targets: &[Target], errors: Vec<RowError>) -> Plan {
    let mut plan = Plan { errors, ..Plan::default() };
    for (r, t) in rows.iter().zip(targets) {
        let want = wanted(r);
        let (action, ch) = match t {
            Target::New => ("create", vec![]),
            Target::Account(_) => ("join", vec![]),
            Target::Member(_, None) => ("update", changes(&StaffRecord::default(), &want)),
            Target::Member(_, Some(old)) => {
                let ch = changes(old, &want);
                (if ch.is_empty() { "unchanged" } else { "update" }, ch)
            }
        };
        match action {
            "create" => plan.create += 1,
            "join" => plan.join += 1,
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
/// setting one through "forgotten password", or by single sign-on), memberships (approved, as
/// learners), and records. Returns the plan it carried out; with errors, writes nothing.
pub async fn apply(itx: &IdentityTx, rows: &[StaffRow]) -> Result<Plan, DbError> {
    let (targets, errors) = targets(itx, rows).await?;
    let plan = plan_of(rows, &targets, errors);
    if !plan.errors.is_empty() {
        return Ok(plan);
    }
    for (r, t) in rows.iter().zip(targets) {
        let want = wanted(r);
        match t {
            Target::New => {
                let p = id::create_person(
                    itx,
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
                )
                .await?;
                id::add_membership(itx, p.id, MembershipStatus::Approved, &[Role::Learner]).await?;
                set_record(itx, p.id, &want).await?;
            }
            Target::Account(p) => {
                id::add_membership(itx, p, MembershipStatus::Approved, &[Role::Learner]).await?;
                set_record(itx, p, &want).await?;
            }
            Target::Member(p, old) => {
                if old.as_ref() != Some(&want) {
                    set_record(itx, p, &want).await?;
                }
            }
        }
    }
    Ok(plan)
}
