//! People, memberships, roles, single-use links, the audit trail and the outbox.
//!
//! People are platform-wide: finding one by email (to sign in, register or reset a password)
//! goes through an [`IdentityTx`], begun on `PlatformDb`'s pool for one trust. Everything that
//! belongs to a trust (memberships, roles, audit, outbox) goes through the trust's scoped
//! builders, whichever pool the transaction came from.

use crate::entities::{audit_event, email_token, membership, membership_role, outbox, person, sso_link};
use crate::{DbError, PlatformDb, TenantTx};
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};
use std::ops::Deref;
use trellis_core::identity::Role;
use trellis_core::{PersonId, TenantId};

/// A transaction for one trust that may also read and write people (platform-wide).
pub struct IdentityTx {
    inner: TenantTx,
}

impl Deref for IdentityTx {
    type Target = TenantTx;
    fn deref(&self) -> &TenantTx {
        &self.inner
    }
}

impl IdentityTx {
    /// Commits.
    pub async fn commit(self) -> Result<(), DbError> {
        self.inner.commit().await
    }

    /// Abandons everything done in it.
    pub async fn rollback(self) -> Result<(), DbError> {
        self.inner.rollback().await
    }
}

impl PlatformDb {
    /// Begins an identity transaction for `tenant` (the trust whose site the request is on).
    pub async fn begin_identity(&self, tenant: TenantId) -> Result<IdentityTx, DbError> {
        Ok(IdentityTx { inner: TenantTx::begin(&self.conn, &self.writer, tenant).await? })
    }
}

/// A person, as the application sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub email: String,
    pub email_verified: bool,
    pub password_hash: Option<String>,
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
}

impl From<person::Model> for Person {
    fn from(p: person::Model) -> Self {
        Self {
            id: PersonId::from_uuid(p.id),
            email: p.email,
            email_verified: p.email_verified_at.is_some(),
            password_hash: p.password_hash,
            given_name: p.given_name,
            family_name: p.family_name,
            job_role: p.job_role,
            place_of_work: p.place_of_work,
            register_kind: p.register_kind,
            register_number: p.register_number,
            active: p.status == "active",
            session_epoch: p.session_epoch,
            mfa_enabled: p.mfa_enabled_at.is_some(),
            platform_admin: p.platform_admin,
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

/// The person with this (normalised) email, platform-wide.
pub async fn person_by_email(itx: &IdentityTx, email: &str) -> Result<Option<Person>, DbError> {
    Ok(person::Entity::find().filter(person::Column::Email.eq(email)).one(itx.conn()).await?.map(Person::from))
}

/// The person with this id, platform-wide.
pub async fn person_by_id(itx: &IdentityTx, id: PersonId) -> Result<Option<Person>, DbError> {
    Ok(person::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await?.map(Person::from))
}

/// A member of this trust, by id (visible through the membership on PostgreSQL's policy too).
pub async fn member_person(tx: &TenantTx, id: PersonId) -> Result<Option<Person>, DbError> {
    let Some(_) = membership(tx, id).await? else { return Ok(None) };
    Ok(person::Entity::find_by_id(id.as_uuid()).one(tx.conn()).await?.map(Person::from))
}

/// Creates a person.
pub async fn create_person(itx: &IdentityTx, new: NewPerson) -> Result<Person, DbError> {
    let now = Utc::now();
    let model = person::ActiveModel {
        id: Set(PersonId::new().as_uuid()),
        email: Set(new.email),
        email_verified_at: Set(None),
        password_hash: Set(new.password_hash),
        given_name: Set(new.given_name),
        family_name: Set(new.family_name),
        job_role: Set(new.job_role),
        place_of_work: Set(new.place_of_work),
        register_kind: Set(new.register_kind),
        register_number: Set(new.register_number),
        status: Set("active".into()),
        platform_admin: Set(false),
        session_epoch: Set(0),
        mfa_secret: Set(None),
        mfa_enabled_at: Set(None),
        mfa_last_step: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(itx.conn())
    .await?;
    Ok(model.into())
}

/// Marks the person's email as verified.
pub async fn mark_email_verified(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::EmailVerifiedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Sets a new password hash and ends every session (the epoch moves on).
pub async fn set_password(itx: &IdentityTx, id: PersonId, hash: String) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::PasswordHash, Expr::value(Some(hash)))
        .col_expr(person::Column::SessionEpoch, Expr::col(person::Column::SessionEpoch).add(1))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    crate::sessions::end_everywhere(itx, id).await
}

/// Ends every session of the person, on every trust's site.
pub async fn end_all_sessions(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::SessionEpoch, Expr::col(person::Column::SessionEpoch).add(1))
        .exec(itx.conn())
        .await?;
    crate::sessions::end_everywhere(itx, id).await
}

/// The current session epoch of a person (to check a session is still good).
pub async fn session_epoch(tx: &TenantTx, id: PersonId) -> Result<Option<i32>, DbError> {
    Ok(person::Entity::find_by_id(id.as_uuid())
        .one(tx.conn())
        .await?
        .filter(|p| p.status == "active")
        .map(|p| p.session_epoch))
}

/// A membership's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipStatus {
    Pending,
    Approved,
    Rejected,
    Suspended,
}

impl MembershipStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Suspended => "suspended",
        }
    }
    fn parse(s: &str) -> Self {
        match s {
            "approved" => Self::Approved,
            "rejected" => Self::Rejected,
            "suspended" => Self::Suspended,
            _ => Self::Pending,
        }
    }
}

/// A person's membership of this trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub status: MembershipStatus,
    pub reason: Option<String>,
    pub roles: Vec<Role>,
}

/// The person's membership of this trust, with roles.
pub async fn membership(tx: &TenantTx, person: PersonId) -> Result<Option<Membership>, DbError> {
    let Some(m) = tx
        .select::<membership::Entity>()
        .filter(membership::Column::PersonId.eq(person.as_uuid()))
        .one(tx.conn())
        .await?
    else {
        return Ok(None);
    };
    let mut roles: Vec<Role> = tx
        .select::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .all(tx.conn())
        .await?
        .into_iter()
        .filter_map(|r| Role::parse(&r.role))
        .collect();
    roles.sort();
    Ok(Some(Membership { status: MembershipStatus::parse(&m.status), reason: m.reason, roles }))
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
    /// The catalogue's change counters (for the servers' kept copies of it).
    pub catalogue: crate::catalogue::Generations,
}

/// [`SignInState`] of `person` here, or `None` if they are not active or not a member.
pub async fn sign_in_state(
    tx: &TenantTx,
    person: PersonId,
    session: uuid::Uuid,
) -> Result<Option<SignInState>, DbError> {
    use sea_orm::ConnectionTrait;
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "SELECT p.session_epoch AS epoch, m.status AS status, r.role AS role,
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
    let rows = tx
        .conn()
        .query_all_raw(tx.stmt(&SQL, vec![tx.tenant().as_uuid().into(), person.as_uuid().into(), session.into()]))
        .await?;
    let mut state: Option<SignInState> = None;
    for r in rows {
        let st = state.get_or_insert(SignInState {
            epoch: r.try_get("", "epoch")?,
            status: MembershipStatus::parse(&r.try_get::<String>("", "status")?),
            roles: vec![],
            live: r.try_get::<i32>("", "live")? != 0,
            trust_terms: r.try_get("", "terms")?,
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

/// Adds the person to this trust with the given state and roles.
pub async fn add_membership(
    tx: &TenantTx,
    person: PersonId,
    status: MembershipStatus,
    roles: &[Role],
) -> Result<(), DbError> {
    let now = Utc::now();
    tx.insert(membership::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        person_id: Set(person.as_uuid()),
        status: Set(status.as_str().into()),
        reason: Set(None),
        decided_by: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    for role in roles {
        grant_role(tx, person, *role, None).await?;
    }
    Ok(())
}

/// Grants a role (no-op if held).
pub async fn grant_role(tx: &TenantTx, person: PersonId, role: Role, by: Option<PersonId>) -> Result<(), DbError> {
    let held = tx
        .select::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .filter(membership_role::Column::Role.eq(role.as_str()))
        .one(tx.conn())
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
        .filter(membership::Column::Status.eq("pending"))
        .order_by_asc(membership::Column::CreatedAt)
        .limit(limit)
        .all(tx.conn())
        .await?;
    let ids: Vec<uuid::Uuid> = pending.iter().map(|m| m.person_id).collect();
    let mut people: std::collections::HashMap<uuid::Uuid, person::Model> = person::Entity::find()
        .filter(person::Column::Id.is_in(ids))
        .all(tx.conn())
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
        .filter(membership::Column::Status.eq("pending"))
        .col_expr(membership::Column::Status, Expr::value(status.as_str()))
        .col_expr(membership::Column::Reason, Expr::value(reason))
        .col_expr(membership::Column::DecidedBy, Expr::value(Some(by.as_uuid())))
        .col_expr(membership::Column::DecidedAt, Expr::value(Some(Utc::now())))
        .col_expr(membership::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(tx.conn())
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// What a single-use link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new email address (the token carries it).
    ChangeEmail,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify",
            Self::ResetPassword => "reset",
            Self::ChangeEmail => "email",
        }
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Unknown,
    Used,
    Expired,
}

fn token_hash(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

/// Issues a single-use link token for `person` on this trust's site; returns the raw token (only
/// its hash is stored).
pub async fn issue_token(
    itx: &IdentityTx,
    person: PersonId,
    purpose: TokenPurpose,
    ttl: Duration,
) -> Result<String, DbError> {
    issue_token_with(itx, person, purpose, ttl, None).await
}

/// As [`issue_token`], carrying a new email address (for [`TokenPurpose::ChangeEmail`]).
pub async fn issue_token_with(
    itx: &IdentityTx,
    person: PersonId,
    purpose: TokenPurpose,
    ttl: Duration,
    new_email: Option<String>,
) -> Result<String, DbError> {
    // 256 bits from the operating system-seeded CSPRNG.
    let raw = hex::encode(rand::random::<[u8; 32]>());
    let now = Utc::now();
    email_token::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        token_sha256: Set(token_hash(&raw)),
        person_id: Set(person.as_uuid()),
        tenant_id: Set(itx.tenant().as_uuid()),
        purpose: Set(purpose.as_str().into()),
        new_email: Set(new_email),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(itx.conn())
    .await?;
    Ok(raw)
}

/// Uses a link token: it must exist for this trust and purpose, be unused and unexpired. Marks it
/// used in the same transaction.
pub async fn consume_token(
    itx: &IdentityTx,
    raw: &str,
    purpose: TokenPurpose,
) -> Result<Result<PersonId, TokenError>, DbError> {
    Ok(consume_token_with(itx, raw, purpose).await?.map(|(p, _)| p))
}

/// As [`consume_token`], also returning the new email address the token carries.
pub async fn consume_token_with(
    itx: &IdentityTx,
    raw: &str,
    purpose: TokenPurpose,
) -> Result<Result<(PersonId, Option<String>), TokenError>, DbError> {
    let found = email_token::Entity::find()
        .filter(email_token::Column::TokenSha256.eq(token_hash(raw)))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::TenantId.eq(itx.tenant().as_uuid()))
        .one(itx.conn())
        .await?;
    let Some(t) = found else { return Ok(Err(TokenError::Unknown)) };
    if t.used_at.is_some() {
        return Ok(Err(TokenError::Used));
    }
    if t.expires_at < Utc::now() {
        return Ok(Err(TokenError::Expired));
    }
    // Only one of two concurrent uses wins: the update is conditional on `used_at IS NULL`.
    let res = email_token::Entity::update_many()
        .filter(email_token::Column::Id.eq(t.id))
        .filter(email_token::Column::UsedAt.is_null())
        .col_expr(email_token::Column::UsedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    if res.rows_affected == 0 {
        return Ok(Err(TokenError::Used));
    }
    Ok(Ok((PersonId::from_uuid(t.person_id), t.new_email)))
}

/// One entry of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: Option<PersonId>,
    pub action: String,
    pub subject: String,
    pub ip: Option<String>,
    pub detail: String,
}

/// Appends to this trust's audit trail.
pub async fn audit(
    tx: &TenantTx,
    actor: Option<PersonId>,
    action: &str,
    subject: &str,
    ip: Option<&str>,
    detail: serde_json::Value,
) -> Result<(), DbError> {
    tx.insert(audit_event::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        id: Set(uuid::Uuid::now_v7()),
        at: Set(Utc::now()),
        actor_person_id: Set(actor.map(|a| a.as_uuid())),
        action: Set(action.into()),
        subject: Set(subject.chars().take(300).collect()),
        ip: Set(ip.map(str::to_owned)),
        detail: Set(detail.to_string()),
    })
    .await?;
    Ok(())
}

/// This trust's audit trail, newest first.
pub async fn audit_trail(tx: &TenantTx, limit: u64) -> Result<Vec<AuditEntry>, DbError> {
    audit_trail_of(tx, "", limit).await
}

/// This trust's audit entries whose action starts with `prefix`, newest first.
pub async fn audit_trail_of(tx: &TenantTx, prefix: &str, limit: u64) -> Result<Vec<AuditEntry>, DbError> {
    let mut q = tx.select::<audit_event::Entity>();
    if !prefix.is_empty() {
        q = q.filter(audit_event::Column::Action.starts_with(prefix));
    }
    Ok(q.order_by_desc(audit_event::Column::At)
        .order_by_desc(audit_event::Column::Id)
        .limit(limit)
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|e| AuditEntry {
            at: e.at,
            actor: e.actor_person_id.map(PersonId::from_uuid),
            action: e.action,
            subject: e.subject,
            ip: e.ip,
            detail: e.detail,
        })
        .collect())
}

/// An email, rendered and ready to send.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The sender's display name (the trust's name).
    pub from_name: String,
}

/// Writes an email to the outbox, in the caller's transaction: it is sent only if that commits.
pub async fn enqueue_email(tx: &TenantTx, email: &OutgoingEmail) -> Result<(), DbError> {
    let now = Utc::now();
    tx.insert(outbox::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        id: Set(uuid::Uuid::now_v7()),
        kind: Set("email".into()),
        payload: Set(serde_json::to_string(email).map_err(|e| DbError::Setup(e.to_string()))?),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
    })
    .await?;
    Ok(())
}

/// An outbox item due for delivery.
#[derive(Debug, Clone)]
pub struct DueItem {
    pub tenant: TenantId,
    pub id: uuid::Uuid,
    pub attempts: i32,
    /// `email`, or a job's kind (`reminders`, `staff_import`).
    pub kind: String,
    pub payload: String,
}

impl DueItem {
    /// The email, if this item is one.
    pub fn email(&self) -> Option<OutgoingEmail> {
        if self.kind == "email" { serde_json::from_str(&self.payload).ok() } else { None }
    }
}

/// Writes a job to the outbox, in the caller's transaction: it runs only if that commits.
pub async fn enqueue_job(tx: &TenantTx, kind: &str, payload: &serde_json::Value) -> Result<(), DbError> {
    let now = Utc::now();
    tx.insert(outbox::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        id: Set(uuid::Uuid::now_v7()),
        kind: Set(kind.into()),
        payload: Set(payload.to_string()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
    })
    .await?;
    Ok(())
}

impl PlatformDb {
    /// Outbox items due now, across trusts, oldest first.
    pub async fn due_outbox_across_tenants(&self, limit: u64) -> Result<Vec<DueItem>, DbError> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(Utc::now()))
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|o| DueItem {
                tenant: TenantId::from_uuid(o.tenant_id),
                id: o.id,
                attempts: o.attempts,
                kind: o.kind,
                payload: o.payload,
            })
            .collect())
    }

    /// Records an outbox item as sent (only once: a second sender's update changes nothing).
    pub async fn outbox_sent_across_tenants(&self, item: &DueItem) -> Result<bool, DbError> {
        let res = outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .filter(outbox::Column::SentAt.is_null())
            .col_expr(outbox::Column::SentAt, Expr::value(Some(Utc::now())))
            .col_expr(outbox::Column::Attempts, Expr::value(item.attempts + 1))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Records a failed attempt and when to try again (exponential back-off, capped at an hour).
    pub async fn outbox_failed_across_tenants(&self, item: &DueItem, error: &str) -> Result<(), DbError> {
        let backoff = Duration::seconds(Ord::min(2_i64.pow(item.attempts.clamp(0, 11).unsigned_abs()), 3600));
        outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .col_expr(outbox::Column::Attempts, Expr::value(item.attempts + 1))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(Utc::now() + backoff))
            .col_expr(outbox::Column::LastError, Expr::value(Some(error.chars().take(1000).collect::<String>())))
            .exec(&self.conn)
            .await?;
        Ok(())
    }
}

impl PlatformDb {
    /// A person's memberships in every trust (for their own profile): `(trust, status)`.
    pub async fn memberships_of_person_across_tenants(
        &self,
        person: PersonId,
    ) -> Result<Vec<(TenantId, String)>, DbError> {
        Ok(membership::Entity::find()
            .filter(membership::Column::PersonId.eq(person.as_uuid()))
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|m| (TenantId::from_uuid(m.tenant_id), m.status))
            .collect())
    }

    /// Takes an outbox item for this sender for two minutes; false if another sender has it.
    pub async fn claim_outbox_across_tenants(&self, item: &DueItem) -> Result<bool, DbError> {
        let now = Utc::now();
        let res = outbox::Entity::update_many()
            .filter(outbox::Column::TenantId.eq(item.tenant.as_uuid()))
            .filter(outbox::Column::Id.eq(item.id))
            .filter(outbox::Column::SentAt.is_null())
            .filter(outbox::Column::NextAttemptAt.lte(now))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(now + Duration::minutes(2)))
            .exec(&self.conn)
            .await?;
        Ok(res.rows_affected == 1)
    }
}

/// The person linked to this provider's subject in this trust.
pub async fn sso_linked_person(tx: &TenantTx, issuer: &str, subject: &str) -> Result<Option<PersonId>, DbError> {
    Ok(tx
        .select::<sso_link::Entity>()
        .filter(sso_link::Column::Issuer.eq(issuer))
        .filter(sso_link::Column::Subject.eq(subject))
        .one(tx.conn())
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
    use sea_orm::sea_query::{Func, Query};
    use sea_orm::{Condition, PaginatorTrait};
    let members = Query::select()
        .column(membership::Column::PersonId)
        .from(membership::Entity)
        .and_where(membership::Column::TenantId.eq(tx.tenant().as_uuid()))
        .and_where(membership::Column::Status.is_in(["approved", "suspended"]))
        .to_owned();
    let mut find = person::Entity::find().filter(person::Column::Id.in_subquery(members));
    let needle = search.trim().to_lowercase();
    if !needle.is_empty() {
        let like = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        find = find.filter(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(person::Column::Email))).like(like.clone()))
                .add(Expr::expr(Func::lower(Expr::col(person::Column::GivenName))).like(like.clone()))
                .add(Expr::expr(Func::lower(Expr::col(person::Column::FamilyName))).like(like)),
        );
    }
    let total = find.clone().count(tx.conn()).await?;
    let people = find
        .order_by_asc(person::Column::FamilyName)
        .order_by_asc(person::Column::GivenName)
        .offset(offset)
        .limit(limit)
        .all(tx.conn())
        .await?;
    let ids: Vec<uuid::Uuid> = people.iter().map(|p| p.id).collect();
    let statuses: std::collections::HashMap<uuid::Uuid, String> = tx
        .select::<membership::Entity>()
        .filter(membership::Column::PersonId.is_in(ids.clone()))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|m| (m.person_id, m.status))
        .collect();
    let mut roles: std::collections::HashMap<uuid::Uuid, Vec<Role>> = std::collections::HashMap::new();
    for r in tx
        .select::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.is_in(ids))
        .all(tx.conn())
        .await?
    {
        if let Some(role) = Role::parse(&r.role) {
            roles.entry(r.person_id).or_default().push(role);
        }
    }
    let staff = people
        .into_iter()
        .map(|p| StaffMember {
            status: MembershipStatus::parse(statuses.get(&p.id).map_or("", String::as_str)),
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
        .exec(tx.conn())
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Sets a member's roles in this trust to exactly `roles`.
pub async fn set_roles(tx: &TenantTx, person: PersonId, roles: &[Role], by: PersonId) -> Result<(), DbError> {
    let keep: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    tx.delete_many::<membership_role::Entity>()
        .filter(membership_role::Column::PersonId.eq(person.as_uuid()))
        .filter(membership_role::Column::Role.is_not_in(keep))
        .exec(tx.conn())
        .await?;
    for role in roles {
        grant_role(tx, person, *role, Some(by)).await?;
    }
    Ok(())
}

/// The person's TOTP secret (base32) and the last step accepted, if two-step verification is on.
pub async fn mfa_secret(itx: &IdentityTx, person: PersonId) -> Result<Option<(String, Option<i64>)>, DbError> {
    Ok(person::Entity::find_by_id(person.as_uuid())
        .one(itx.conn())
        .await?
        .and_then(|p| p.mfa_enabled_at.and(p.mfa_secret).map(|s| (s, p.mfa_last_step))))
}

/// Accepts a TOTP time step if it is later than any accepted before (a code works once).
pub async fn accept_mfa_step(itx: &IdentityTx, person: PersonId, step: i64) -> Result<bool, DbError> {
    use sea_orm::Condition;
    let res = person::Entity::update_many()
        .filter(person::Column::Id.eq(person.as_uuid()))
        .filter(Condition::any().add(person::Column::MfaLastStep.is_null()).add(person::Column::MfaLastStep.lt(step)))
        .col_expr(person::Column::MfaLastStep, Expr::value(Some(step)))
        .exec(itx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Turns two-step verification on with `secret` (already proven by a code at `step`) and these
/// recovery codes (stored as hashes), replacing any earlier ones.
pub async fn enable_mfa(
    itx: &IdentityTx,
    person: PersonId,
    secret: &str,
    step: i64,
    recovery: &[String],
) -> Result<(), DbError> {
    use crate::entities::mfa_recovery_code;
    let now = Utc::now();
    person::Entity::update_many()
        .filter(person::Column::Id.eq(person.as_uuid()))
        .col_expr(person::Column::MfaSecret, Expr::value(Some(secret.to_owned())))
        .col_expr(person::Column::MfaEnabledAt, Expr::value(Some(now)))
        .col_expr(person::Column::MfaLastStep, Expr::value(Some(step)))
        .exec(itx.conn())
        .await?;
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(person.as_uuid()))
        .exec(itx.conn())
        .await?;
    for code in recovery {
        mfa_recovery_code::ActiveModel {
            person_id: Set(person.as_uuid()),
            code_sha256: Set(token_hash(code)),
            used_at: Set(None),
            created_at: Set(now),
        }
        .insert(itx.conn())
        .await?;
    }
    Ok(())
}

/// Turns two-step verification off and forgets its recovery codes.
pub async fn disable_mfa(itx: &IdentityTx, person: PersonId) -> Result<(), DbError> {
    use crate::entities::mfa_recovery_code;
    person::Entity::update_many()
        .filter(person::Column::Id.eq(person.as_uuid()))
        .col_expr(person::Column::MfaSecret, Expr::value(Option::<String>::None))
        .col_expr(person::Column::MfaEnabledAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .col_expr(person::Column::MfaLastStep, Expr::value(Option::<i64>::None))
        .exec(itx.conn())
        .await?;
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(person.as_uuid()))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Uses a recovery code (normalised: no spaces or dashes, lowercase); each works once.
pub async fn use_recovery_code(itx: &IdentityTx, person: PersonId, code: &str) -> Result<bool, DbError> {
    use crate::entities::mfa_recovery_code;
    let normal: String = code.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let res = mfa_recovery_code::Entity::update_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(person.as_uuid()))
        .filter(mfa_recovery_code::Column::CodeSha256.eq(token_hash(&normal)))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Changes the person's email address (already confirmed by a link sent to it).
pub async fn change_email(itx: &IdentityTx, person: PersonId, new_email: &str) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(person.as_uuid()))
        .col_expr(person::Column::Email, Expr::value(new_email.to_owned()))
        .col_expr(person::Column::EmailVerifiedAt, Expr::value(Some(Utc::now())))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Closes the person's account at their request: no more sign-ins anywhere, every session ends.
/// (Erasure of personal data is a separate, later step.)
pub async fn deactivate(itx: &IdentityTx, person: PersonId) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(person.as_uuid()))
        .col_expr(person::Column::Status, Expr::value("deactivated"))
        .col_expr(person::Column::SessionEpoch, Expr::col(person::Column::SessionEpoch).add(1))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    crate::sessions::end_everywhere(itx, person).await
}

impl PlatformDb {
    /// A person by email, platform-wide (for platform administrators' sign-in).
    pub async fn person_by_email_across_tenants(&self, email: &str) -> Result<Option<Person>, DbError> {
        Ok(person::Entity::find().filter(person::Column::Email.eq(email)).one(&self.conn).await?.map(Person::from))
    }

    /// A person by id, platform-wide.
    pub async fn person_by_id_across_tenants(&self, id: PersonId) -> Result<Option<Person>, DbError> {
        Ok(person::Entity::find_by_id(id.as_uuid()).one(&self.conn).await?.map(Person::from))
    }

    /// Makes a person a platform administrator (or not); recorded in the platform audit.
    pub async fn set_platform_admin_across_tenants(
        &self,
        id: PersonId,
        admin: bool,
        actor: &str,
    ) -> Result<(), DbError> {
        person::Entity::update_many()
            .filter(person::Column::Id.eq(id.as_uuid()))
            .col_expr(person::Column::PlatformAdmin, Expr::value(admin))
            .exec(&self.conn)
            .await?;
        crate::platform::audit(
            &self.conn,
            actor,
            if admin { "platform_admin.granted" } else { "platform_admin.revoked" },
            None,
            id.to_string(),
        )
        .await
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
}

impl PlatformDb {
    /// Creates (or promotes) a platform administrator with this password hash; returns their id.
    pub async fn ensure_platform_admin_across_tenants(
        &self,
        email: &str,
        password_hash: String,
        actor: &str,
    ) -> Result<PersonId, DbError> {
        let id = match self.person_by_email_across_tenants(email).await? {
            Some(p) => p.id,
            None => {
                let now = Utc::now();
                let model = person::ActiveModel {
                    id: Set(PersonId::new().as_uuid()),
                    email: Set(email.to_owned()),
                    email_verified_at: Set(Some(now)),
                    password_hash: Set(Some(password_hash)),
                    given_name: Set("Platform".into()),
                    family_name: Set("Administrator".into()),
                    job_role: Set(String::new()),
                    place_of_work: Set(String::new()),
                    register_kind: Set(None),
                    register_number: Set(None),
                    status: Set("active".into()),
                    platform_admin: Set(false),
                    session_epoch: Set(0),
                    mfa_secret: Set(None),
                    mfa_enabled_at: Set(None),
                    mfa_last_step: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(&self.conn)
                .await?;
                PersonId::from_uuid(model.id)
            }
        };
        self.set_platform_admin_across_tenants(id, true, actor).await?;
        Ok(id)
    }
}

impl PlatformDb {
    /// A transaction on people only (the platform's own pages have no trust): calls that read or
    /// write people work; anything tenant-scoped through it finds nothing and cannot insert.
    pub async fn begin_people_across_tenants(&self) -> Result<IdentityTx, DbError> {
        Ok(IdentityTx {
            inner: TenantTx::begin(&self.conn, &self.writer, TenantId::from_uuid(uuid::Uuid::nil())).await?,
        })
    }

    /// The most recent entries of every trust's audit trail (or one trust's), newest first, for
    /// platform administrators; `action` narrows to actions starting with it.
    pub async fn audit_events_across_tenants(
        &self,
        tenant: Option<TenantId>,
        action: Option<&str>,
        limit: u64,
    ) -> Result<Vec<(TenantId, AuditEntry)>, DbError> {
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
                    AuditEntry {
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
