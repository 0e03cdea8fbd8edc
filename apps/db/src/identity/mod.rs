//! People, memberships and roles (the audit trail is [`crate::audit`], the outbox [`crate::outbox`]).
//!
//! People are platform-wide. What must cross trusts or touch secrets goes through the identity
//! path ([`path`]: its own role and transaction) or the application's narrow door to accounts
//! ([`accounts`]); everything that belongs to a trust (memberships, roles, audit, outbox) goes
//! through the trust's scoped builders as the application role.

pub mod accounts;
mod path;

pub use path::*;

use crate::entities::{audit_event, membership, membership_role, person, sso_link};
use crate::{DbError, PlatformDb, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};
use trellis_domain::identity::Role;
use trellis_domain::{PersonId, TenantId};

/// A person, as the application sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub email: String,
    pub email_verified: bool,
    pub given_name: String,
    pub family_name: String,
    pub job_role: String,
    pub place_of_work: String,
    pub register_kind: Option<String>,
    pub register_number: Option<String>,
    pub active: bool,
    pub session_epoch: i32,
    /// Two-step verification is on.
    pub mfa_enabled: bool,
    /// May administer the platform (create trusts).
    pub platform_admin: bool,
    /// When they last confirmed their place of work and job role (or registered).
    pub details_confirmed_on: chrono::DateTime<Utc>,
    /// The optional uses of their information they have stopped.
    pub objections: trellis_domain::privacy::Objections,
}

impl Person {
    /// Whether it is twelve months or more since they confirmed their place of work and job role.
    pub fn details_due(&self, now: chrono::DateTime<Utc>) -> bool {
        now - self.details_confirmed_on >= chrono::Duration::days(365)
    }
}

impl From<person::Model> for Person {
    fn from(p: person::Model) -> Self {
        Self {
            id: PersonId::from_uuid(p.id),
            email: p.email,
            email_verified: p.email_verified_at.is_some(),
            given_name: p.given_name,
            family_name: p.family_name,
            job_role: p.job_role,
            place_of_work: p.place_of_work,
            register_kind: p.register_kind,
            register_number: p.register_number,
            active: p.status == crate::states::PersonStatus::Active,
            session_epoch: p.session_epoch,
            mfa_enabled: p.mfa_enabled_at.is_some(),
            platform_admin: p.platform_admin,
            details_confirmed_on: p.details_confirmed_at.unwrap_or(p.created_at),
            objections: trellis_domain::privacy::Objections {
                bulletins: p.objected_bulletins_at.is_some(),
                campaigns: p.objected_campaigns_at.is_some(),
                research: p.objected_research_at.is_some(),
            },
        }
    }
}

/// A new person's details (already validated).
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub email: String,
    pub password_hash: Option<String>,
    pub given_name: String,
    pub family_name: String,
    pub job_role: String,
    pub place_of_work: String,
    pub register_kind: Option<String>,
    pub register_number: Option<String>,
}

/// A member of this trust, by id (visible through the membership on PostgreSQL's policy too).
pub async fn member_person(tx: &TenantTx, id: PersonId) -> Result<Option<Person>, DbError> {
    let Some(_) = membership(tx, id).await? else { return Ok(None) };
    Ok(tx
        .select_platform::<person::Entity>()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Person::from))
}

/// The account of someone whose membership here the request's sign-in check has just read (one
/// statement: no second look at the membership).
pub async fn signed_in_person(tx: &TenantTx, id: PersonId) -> Result<Option<Person>, DbError> {
    Ok(tx
        .select_platform::<person::Entity>()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Person::from))
}

/// The member of this trust with this email address, if there is one.
pub async fn member_by_email(tx: &TenantTx, email: &str) -> Result<Option<PersonId>, DbError> {
    let sql = "SELECT p.id FROM people p JOIN memberships m ON m.person_id = p.id AND m.tenant_id = $1
                WHERE p.email = $2";
    let vals: Vec<sea_orm::Value> = vec![email.trim().to_lowercase().into()];
    let row = tx.query_one(sql, vals).await?;
    Ok(row.map(|r| r.try_get::<uuid::Uuid>("", "id")).transpose()?.map(PersonId::from_uuid))
}

/// The `people` column holding when the person stopped `purpose` (empty while it is allowed).
pub(crate) fn objected_column(purpose: trellis_domain::privacy::Purpose) -> person::Column {
    use trellis_domain::privacy::Purpose;
    match purpose {
        Purpose::Bulletins => person::Column::ObjectedBulletinsAt,
        Purpose::Campaigns => person::Column::ObjectedCampaignsAt,
        Purpose::Research => person::Column::ObjectedResearchAt,
    }
}

/// Those among `ids`, members of this trust, who have stopped `purpose` (a campaign's or a
/// bulletin's recipients are filtered by this before anything is sent).
pub async fn objecting_members(
    tx: &TenantTx,
    purpose: trellis_domain::privacy::Purpose,
    ids: &[PersonId],
) -> Result<std::collections::HashSet<PersonId>, DbError> {
    use sea_orm::sea_query::Query;
    let members = Query::select()
        .column(membership::Column::PersonId)
        .from(membership::Entity)
        .and_where(membership::Column::TenantId.eq(tx.tenant().as_uuid()))
        .to_owned();
    let column = objected_column(purpose);
    let wanted: Vec<uuid::Uuid> = ids.iter().map(|p| p.as_uuid()).collect();
    let mut out = std::collections::HashSet::new();
    for chunk in wanted.chunks(500) {
        for p in tx
            .select_platform::<person::Entity>()
            .filter(person::Column::Id.is_in(chunk.to_vec()))
            .filter(person::Column::Id.in_subquery(members.clone()))
            .filter(column.is_not_null())
            .all(tx)
            .await?
        {
            out.insert(PersonId::from_uuid(p.id));
        }
    }
    Ok(out)
}

/// How members of this trust among `ids` are shown on its pages ("Ann Lee (ann@…)"): the audit
/// trail records people by id, and a trust sees only its own members' names.
pub async fn member_names(
    tx: &TenantTx,
    ids: &[PersonId],
) -> Result<std::collections::HashMap<PersonId, String>, DbError> {
    Ok(members_among(tx, ids).await?.into_iter().map(|p| (PersonId::from_uuid(p.id), shown_name(&p))).collect())
}

/// The email address and name of members of this trust among `ids` (for emails to them).
pub async fn member_contacts(
    tx: &TenantTx,
    ids: &[PersonId],
) -> Result<std::collections::HashMap<PersonId, (String, String)>, DbError> {
    Ok(members_among(tx, ids)
        .await?
        .into_iter()
        .map(|p| {
            let name = format!("{} {}", p.given_name, p.family_name).trim().to_owned();
            (PersonId::from_uuid(p.id), (p.email, name))
        })
        .collect())
}

/// The people among `ids` who are members of this trust (500 a read).
async fn members_among(tx: &TenantTx, ids: &[PersonId]) -> Result<Vec<person::Model>, DbError> {
    use sea_orm::sea_query::Query;
    let members = Query::select()
        .column(membership::Column::PersonId)
        .from(membership::Entity)
        .and_where(membership::Column::TenantId.eq(tx.tenant().as_uuid()))
        .to_owned();
    let wanted: Vec<uuid::Uuid> = ids.iter().map(|p| p.as_uuid()).collect();
    let mut out = Vec::new();
    for chunk in wanted.chunks(500) {
        out.extend(
            tx.select_platform::<person::Entity>()
                .filter(person::Column::Id.is_in(chunk.to_vec()))
                .filter(person::Column::Id.in_subquery(members.clone()))
                .all(tx)
                .await?,
        );
    }
    Ok(out)
}

fn shown_name(p: &person::Model) -> String {
    let name = format!("{} {}", p.given_name, p.family_name).trim().to_owned();
    if name.is_empty() { p.email.clone() } else { format!("{name} ({})", p.email) }
}

/// The current session epoch of a person (to check a session is still good).
pub async fn session_epoch(tx: &TenantTx, id: PersonId) -> Result<Option<i32>, DbError> {
    Ok(tx
        .select_platform::<person::Entity>()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .filter(|p| p.status == crate::states::PersonStatus::Active)
        .map(|p| p.session_epoch))
}

pub use crate::states::MembershipStatus;

/// A person's membership of this trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub status: MembershipStatus,
    pub reason: Option<String>,
    pub roles: Vec<Role>,
}

/// The person's membership of this trust, with roles.
pub async fn membership(tx: &TenantTx, person: PersonId) -> Result<Option<Membership>, DbError> {
    let Some(m) =
        tx.select::<membership::Entity>().filter(membership::Column::PersonId.eq(person.as_uuid())).one(tx).await?
    else {
        return Ok(None);
    };
    let mut roles: Vec<Role> = tx
        .select::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .all(tx)
        .await?
        .into_iter()
        .filter_map(|r| Role::parse(&r.role))
        .collect();
    roles.sort();
    Ok(Some(Membership { status: m.status, reason: m.reason, roles }))
}

/// What every signed-in request checks, read in one statement: the person (if active) with their
/// session epoch, their membership here and its roles, whether the session `session` is live, and
/// the version of this trust's terms.
#[derive(Debug, Clone)]
pub struct SignInState {
    pub epoch: i32,
    pub status: MembershipStatus,
    pub roles: Vec<Role>,
    pub live: bool,
    pub trust_terms: Option<String>,
    /// Their name, for the header ("given family").
    pub name: String,
    /// The catalogue's change counters (for the servers' kept copies of it).
    pub catalogue: crate::catalogue::Generations,
}

/// [`SignInState`] of `person` here, or `None` if they are not active or not a member.
pub async fn sign_in_state(
    tx: &TenantTx,
    person: PersonId,
    session: uuid::Uuid,
) -> Result<Option<SignInState>, DbError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT p.session_epoch AS epoch, m.status AS status, r.role AS role,
                    p.given_name AS given_name, p.family_name AS family_name,
                    CASE WHEN EXISTS (SELECT 1 FROM person_sessions s WHERE s.tenant_id = $1 AND s.id = $3
                                        AND s.person_id = $2 AND s.ended_at IS NULL) THEN 1 ELSE 0 END AS live,
                    (SELECT t.version FROM tenant_terms t WHERE t.tenant_id = $1) AS terms,
                    {}
               FROM people p
               JOIN memberships m ON m.tenant_id = $1 AND m.person_id = p.id
               LEFT JOIN membership_roles r ON r.tenant_id = $1 AND r.person_id = p.id
              WHERE p.id = $2 AND p.status = 'active'",
            *crate::catalogue::GENERATIONS_SQL
        )
    });
    let rows = tx.query_all(&SQL, vec![person.as_uuid().into(), session.into()]).await?;
    let mut state: Option<SignInState> = None;
    for r in rows {
        let st = state.get_or_insert(SignInState {
            epoch: r.try_get("", "epoch")?,
            status: {
                let word = r.try_get::<String>("", "status")?;
                MembershipStatus::from_word(&word)
                    .ok_or_else(|| DbError::Db(sea_orm::DbErr::Custom(format!("unknown membership state {word}"))))?
            },
            roles: vec![],
            live: r.try_get::<i32>("", "live")? != 0,
            trust_terms: r.try_get("", "terms")?,
            name: format!("{} {}", r.try_get::<String>("", "given_name")?, r.try_get::<String>("", "family_name")?)
                .trim()
                .to_owned(),
            catalogue: crate::catalogue::Generations::from_row(&r)?,
        });
        if let Some(role) = r.try_get::<Option<String>>("", "role")?.as_deref().and_then(Role::parse) {
            st.roles.push(role);
        }
    }
    if let Some(st) = state.as_mut() {
        st.roles.sort();
        st.roles.dedup();
    }
    Ok(state)
}

/// Grants a role (no-op if held).
pub async fn grant_role(tx: &TenantTx, person: PersonId, role: Role, by: Option<PersonId>) -> Result<(), DbError> {
    let held = tx
        .select::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .filter(membership_role::Column::Role.eq(role.as_str()))
        .one(tx)
        .await?
        .is_some();
    if !held {
        tx.insert(membership_role::ActiveModel {
            tenant_id: Set(uuid::Uuid::nil()),
            person_id: Set(person.as_uuid()),
            role: Set(role.as_str().into()),
            granted_by: Set(by.map(|p| p.as_uuid())),
            granted_at: Set(Utc::now()),
        })
        .await?;
    }
    Ok(())
}

/// A registration awaiting a decision, for the admins' queue.
#[derive(Debug, Clone)]
pub struct PendingMember {
    pub person: Person,
    pub requested_at: DateTime<Utc>,
}

/// This trust's pending registrations, oldest first (two queries, whatever the count).
pub async fn pending_members(tx: &TenantTx, limit: u64) -> Result<Vec<PendingMember>, DbError> {
    let pending = tx
        .select::<membership::Entity>()
        .filter(membership::Column::Status.eq(MembershipStatus::Pending))
        .order_by_asc(membership::Column::CreatedAt)
        .limit(limit)
        .all(tx)
        .await?;
    let ids: Vec<uuid::Uuid> = pending.iter().map(|m| m.person_id).collect();
    let mut people: std::collections::HashMap<uuid::Uuid, person::Model> = tx
        .select_platform::<person::Entity>()
        .filter(person::Column::Id.is_in(ids))
        .all(tx)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    Ok(pending
        .into_iter()
        .filter_map(|m| {
            people.remove(&m.person_id).map(|p| PendingMember { person: p.into(), requested_at: m.created_at })
        })
        .collect())
}

/// Approves or rejects a pending registration of this trust. `NotFound` if there is none.
pub async fn decide_membership(
    tx: &TenantTx,
    person: PersonId,
    approve: bool,
    reason: Option<String>,
    by: PersonId,
) -> Result<(), DbError> {
    let status = if approve { MembershipStatus::Approved } else { MembershipStatus::Rejected };
    let res = tx
        .update_many::<membership::Entity>()
        .filter(membership::Column::PersonId.eq(person.as_uuid()))
        .filter(membership::Column::Status.eq(MembershipStatus::Pending))
        .col_expr(membership::Column::Status, Expr::value(status.as_str()))
        .col_expr(membership::Column::Reason, Expr::value(reason))
        .col_expr(membership::Column::DecidedBy, Expr::value(Some(by.as_uuid())))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(Utc::now())))
        .col_expr(membership::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

pub(crate) fn token_hash(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// The person linked to this provider's subject in this trust.
pub async fn sso_linked_person(tx: &TenantTx, issuer: &str, subject: &str) -> Result<Option<PersonId>, DbError> {
    Ok(tx
        .select::<sso_link::Entity>()
        .filter(sso_link::Column::Issuer.eq(issuer))
        .filter(sso_link::Column::Subject.eq(subject))
        .one(tx)
        .await?
        .map(|l| PersonId::from_uuid(l.person_id)))
}

/// Links a provider's subject to a person in this trust.
pub async fn link_sso(tx: &TenantTx, issuer: &str, subject: &str, person: PersonId) -> Result<(), DbError> {
    tx.insert(sso_link::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        issuer: Set(issuer.to_owned()),
        subject: Set(subject.to_owned()),
        person_id: Set(person.as_uuid()),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

/// A member of this trust, for the staff list.
#[derive(Debug, Clone)]
pub struct StaffMember {
    pub person: Person,
    pub status: MembershipStatus,
    pub roles: Vec<Role>,
}

/// A page of this trust's approved and suspended members, optionally searched by name or email,
/// ordered by family name. Three queries, whatever the page size.
pub async fn staff_page(
    tx: &TenantTx,
    search: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<StaffMember>, u64), DbError> {
    use sea_orm::Condition;
    use sea_orm::sea_query::{Func, Query};
    let members = Query::select()
        .column(membership::Column::PersonId)
        .from(membership::Entity)
        .and_where(membership::Column::TenantId.eq(tx.tenant().as_uuid()))
        .and_where(membership::Column::Status.is_in([MembershipStatus::Approved, MembershipStatus::Suspended]))
        .to_owned();
    let mut find = tx.select_platform::<person::Entity>().filter(person::Column::Id.in_subquery(members));
    if let Some(like) = crate::contains_pattern(search) {
        find = find.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(person::Column::Email))).like(like.clone()))
                .add(Expr::expr(Func::lower(Expr::col(person::Column::GivenName))).like(like.clone()))
                .add(Expr::expr(Func::lower(Expr::col(person::Column::FamilyName))).like(like)),
        );
    }
    let total = find.clone().count(tx).await?;
    let people = find
        .order_by_asc(person::Column::FamilyName)
        .order_by_asc(person::Column::GivenName)
        .offset(offset)
        .limit(limit)
        .all(tx)
        .await?;
    let ids: Vec<uuid::Uuid> = people.iter().map(|p| p.id).collect();
    let statuses: std::collections::HashMap<uuid::Uuid, MembershipStatus> = tx
        .select::<membership::Entity>()
        .filter(membership::Column::PersonId.is_in(ids.clone()))
        .all(tx)
        .await?
        .into_iter()
        .map(|m| (m.person_id, m.status))
        .collect();
    let mut roles: std::collections::HashMap<uuid::Uuid, Vec<Role>> = std::collections::HashMap::new();
    for r in tx.select::<membership_role::Entity>().filter(membership_role::Column::PersonId.is_in(ids)).all(tx).await?
    {
        if let Some(role) = Role::parse(&r.role) {
            roles.entry(r.person_id).or_default().push(role);
        }
    }
    let staff = people
        .into_iter()
        .map(|p| StaffMember {
            status: statuses.get(&p.id).copied().unwrap_or(MembershipStatus::Pending),
            roles: {
                let mut r = roles.remove(&p.id).unwrap_or_default();
                r.sort();
                r
            },
            person: p.into(),
        })
        .collect();
    Ok((staff, total))
}

/// Suspends (`true`) or reinstates (`false`) an approved or suspended member of this trust.
pub async fn set_suspended(tx: &TenantTx, person: PersonId, suspended: bool, by: PersonId) -> Result<(), DbError> {
    let (from, to) = if suspended { ("approved", "suspended") } else { ("suspended", "approved") };
    let res = tx
        .update_many::<membership::Entity>()
        .filter(membership::Column::PersonId.eq(person.as_uuid()))
        .filter(membership::Column::Status.eq(from))
        .col_expr(membership::Column::Status, Expr::value(to))
        .col_expr(membership::Column::DecidedBy, Expr::value(Some(by.as_uuid())))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(Utc::now())))
        .col_expr(membership::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Sets a member's roles in this trust to exactly `roles`.
pub async fn set_roles(tx: &TenantTx, person: PersonId, roles: &[Role], by: PersonId) -> Result<(), DbError> {
    let keep: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    tx.delete_many::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .filter(membership_role::Column::Role.is_not_in(keep))
        .exec(tx)
        .await?;
    for role in roles {
        grant_role(tx, person, *role, Some(by)).await?;
    }
    Ok(())
}

impl PlatformDb {
    /// A person by id, platform-wide (names for the platform's own pages; never secrets).
    pub async fn person_by_id_across_tenants(&self, id: PersonId) -> Result<Option<Person>, DbError> {
        Ok(person::Entity::find_by_id(id.as_uuid()).one(&self.conn).await?.map(Person::from))
    }

    /// The platform administrators' email addresses (active accounts), for the platform's desk.
    pub async fn platform_admin_emails(&self) -> Result<Vec<String>, DbError> {
        Ok(person::Entity::find()
            .filter(person::Column::PlatformAdmin.eq(true))
            .filter(person::Column::Status.eq(crate::states::PersonStatus::Active))
            .order_by_asc(person::Column::Email)
            .limit(50)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|p| p.email)
            .collect())
    }

    /// How people among `ids` are shown on the platform's audit pages.
    pub async fn person_names_across_tenants(
        &self,
        ids: &[PersonId],
    ) -> Result<std::collections::HashMap<PersonId, String>, DbError> {
        let wanted: Vec<uuid::Uuid> = ids.iter().map(|p| p.as_uuid()).collect();
        let mut out = std::collections::HashMap::new();
        for chunk in wanted.chunks(500) {
            for p in person::Entity::find().filter(person::Column::Id.is_in(chunk.to_vec())).all(&self.conn).await? {
                out.insert(PersonId::from_uuid(p.id), shown_name(&p));
            }
        }
        Ok(out)
    }

    /// Records platform administration in the platform audit.
    pub async fn record_platform_audit(
        &self,
        actor: &str,
        action: &str,
        tenant: Option<TenantId>,
        detail: String,
    ) -> Result<(), DbError> {
        crate::platform::audit(&self.conn, actor, action, tenant, detail).await
    }

    /// Deletes a trust's audit entries older than `before` (the retention schedule); returns how
    /// many. On PostgreSQL an owner's function, like `trellis_audit_pseudonymise` (see [`crate::erasure`]).
    pub async fn purge_audit_across_tenants(&self, tenant: TenantId, before: DateTime<Utc>) -> Result<u64, DbError> {
        use sea_orm::ConnectionTrait;
        if self.conn.get_database_backend() == sea_orm::DbBackend::Postgres {
            let row = self
                .conn
                .query_one_raw(crate::tenant_tx::statement(
                    sea_orm::DbBackend::Postgres,
                    "SELECT trellis_audit_purge($1, $2) AS n",
                    vec![tenant.as_uuid().into(), before.into()],
                ))
                .await?;
            return Ok(row
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()?
                .map_or(0, |n: i64| u64::try_from(n).unwrap_or(0)));
        }
        let res = audit_event::Entity::delete_many()
            .filter(audit_event::Column::TenantId.eq(tenant.as_uuid()))
            .filter(audit_event::Column::At.lt(before))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected)
    }

    /// The most recent entries of every trust's audit trail (or one trust's), newest first, for
    /// platform administrators; `action` narrows to actions starting with it.
    pub async fn audit_events_across_tenants(
        &self,
        tenant: Option<TenantId>,
        action: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(TenantId, crate::audit::Entry)>, DbError> {
        let mut q = audit_event::Entity::find();
        if let Some(t) = tenant {
            q = q.filter(audit_event::Column::TenantId.eq(t.as_uuid()));
        }
        if let Some(a) = action.filter(|a| !a.is_empty()) {
            q = q.filter(audit_event::Column::Action.starts_with(a));
        }
        Ok(q.order_by_desc(audit_event::Column::At)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|e| {
                (
                    TenantId::from_uuid(e.tenant_id),
                    crate::audit::Entry {
                        at: e.at,
                        actor: e.actor_person_id.map(PersonId::from_uuid),
                        action: e.action,
                        subject: e.subject,
                        ip: e.ip,
                        detail: e.detail,
                    },
                )
            })
            .collect())
    }
}
