//! The identity path: what must cross trusts or touch secrets, and nothing else (ADR 0014).
//!
//! [`IdentityDb`] connects as its own role (`trellis_identity` on PostgreSQL: no BYPASSRLS, owns
//! nothing). Its policies let it read every person and membership (signing in by email, "is this
//! account a member elsewhere?"), read and write secrets (password hashes, TOTP secrets, recovery
//! codes) and single-use links, end a person's sessions on every site, write proofs of consent,
//! and record its own steps in the trust's audit trail and outbox under row-level security. It
//! has no grant on any other trust table, so trust work cannot run through it: that is
//! [`crate::AppDb`]'s, as the application role.
//!
//! On SQLite every handle shares the one file, and this module's functions are the only code that
//! reads secrets; on PostgreSQL the database enforces it too.

use super::{MembershipStatus, token_hash};
use crate::entities::{
    email_token, identity_proof, membership, mfa_recovery_code, person, person_secret, person_session,
};
use crate::outbox::OutgoingEmail;
use crate::tenant_tx::Writer;
use crate::{DbError, TenantTx};
use chrono::{Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set};
use trellis_domain::{PersonId, TenantId};

/// The identity role's pool.
#[derive(Clone)]
pub struct IdentityDb {
    pub(crate) conn: DatabaseConnection,
    pub(crate) writer: Writer,
}

impl IdentityDb {
    /// Begins an identity transaction on the site of `tenant` (whose links, audit trail and
    /// outbox it may write to).
    pub async fn begin(&self, tenant: TenantId) -> Result<IdentityTx, DbError> {
        Ok(IdentityTx { inner: TenantTx::begin(&self.conn, &self.writer, tenant).await? })
    }

    /// Begins one that only reads (checking a password, say).
    pub async fn begin_read(&self, tenant: TenantId) -> Result<IdentityTx, DbError> {
        Ok(IdentityTx { inner: TenantTx::begin_mode(&self.conn, &self.writer, tenant, false).await? })
    }

    /// Begins one for the platform's own site (no trust: it records nothing in a trust's trail).
    pub async fn begin_platform(&self) -> Result<IdentityTx, DbError> {
        self.begin(TenantId::from_uuid(uuid::Uuid::nil())).await
    }
}

/// A transaction of the identity path. It is not a [`TenantTx`]: only the functions of this
/// module, [`crate::audit::record`] and [`crate::outbox::enqueue_email`] take it.
pub struct IdentityTx {
    pub(super) inner: TenantTx,
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

    /// The trust whose site this is.
    pub fn tenant(&self) -> TenantId {
        self.inner.tenant()
    }

    fn conn(&self) -> &sea_orm::DatabaseTransaction {
        self.inner.across_trusts()
    }
}

/// An account as the identity path sees it: who, and in what state. Never its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: PersonId,
    pub email: String,
    pub email_verified: bool,
    pub active: bool,
    pub session_epoch: i32,
    pub mfa_enabled: bool,
    pub platform_admin: bool,
    pub given_name: String,
}

impl From<person::Model> for Account {
    fn from(p: person::Model) -> Self {
        Account {
            id: PersonId::from_uuid(p.id),
            email: p.email,
            email_verified: p.email_verified_at.is_some(),
            active: p.status == crate::states::PersonStatus::Active,
            session_epoch: p.session_epoch,
            mfa_enabled: p.mfa_enabled_at.is_some(),
            platform_admin: p.platform_admin,
            given_name: p.given_name,
        }
    }
}

/// The account with this (normalised) email, on any trust.
pub async fn account_by_email(itx: &IdentityTx, email: &str) -> Result<Option<Account>, DbError> {
    Ok(person::Entity::find().filter(person::Column::Email.eq(email)).one(itx.conn()).await?.map(Account::from))
}

/// The account with this id.
pub async fn account_by_id(itx: &IdentityTx, id: PersonId) -> Result<Option<Account>, DbError> {
    Ok(person::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await?.map(Account::from))
}

/// For checking a password: the account with this email and its password hash (if it has one).
pub async fn credentials(itx: &IdentityTx, email: &str) -> Result<Option<(Account, Option<String>)>, DbError> {
    let Some(account) = account_by_email(itx, email).await? else { return Ok(None) };
    let hash = password_hash(itx, account.id).await?;
    Ok(Some((account, hash)))
}

/// The person's password hash, if they have set a password.
pub async fn password_hash(itx: &IdentityTx, id: PersonId) -> Result<Option<String>, DbError> {
    Ok(person_secret::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await?.and_then(|s| s.password_hash))
}

/// The person's state of membership of this trust, if any (the identity path reads memberships).
pub async fn membership_here(itx: &IdentityTx, id: PersonId) -> Result<Option<MembershipStatus>, DbError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::TenantId.eq(itx.tenant().as_uuid()))
        .filter(membership::Column::PersonId.eq(id.as_uuid()))
        .one(itx.conn())
        .await?
        .map(|m| m.status))
}

/// A person's memberships in every trust, `(trust, status)`: for their own profile (a person's own
/// view spans their trusts), never for a trust's.
pub async fn memberships_of(itx: &IdentityTx, id: PersonId) -> Result<Vec<(TenantId, MembershipStatus)>, DbError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::PersonId.eq(id.as_uuid()))
        .all(itx.conn())
        .await?
        .into_iter()
        .map(|m| (TenantId::from_uuid(m.tenant_id), m.status))
        .collect())
}

/// Whether the person belongs to any trust other than this one.
pub async fn member_elsewhere(itx: &IdentityTx, id: PersonId) -> Result<bool, DbError> {
    Ok(membership::Entity::find()
        .filter(membership::Column::PersonId.eq(id.as_uuid()))
        .filter(membership::Column::TenantId.ne(itx.tenant().as_uuid()))
        .one(itx.conn())
        .await?
        .is_some())
}

/// Records that the person has just proved they agree to join this trust (their password and
/// code checked, or an emailed link opened): the application may add their membership within
/// ten minutes, once.
pub async fn grant_proof(itx: &IdentityTx, id: PersonId, purpose: &str) -> Result<(), DbError> {
    let now = Utc::now();
    identity_proof::ActiveModel {
        tenant_id: Set(itx.tenant().as_uuid()),
        id: Set(uuid::Uuid::now_v7()),
        person_id: Set(id.as_uuid()),
        purpose: Set(purpose.to_owned()),
        created_at: Set(now),
        expires_at: Set(now + Duration::minutes(10)),
        used_at: Set(None),
    }
    .insert(itx.conn())
    .await?;
    Ok(())
}

async fn update_secrets(
    itx: &IdentityTx,
    id: PersonId,
    set: impl FnOnce(sea_orm::UpdateMany<person_secret::Entity>) -> sea_orm::UpdateMany<person_secret::Entity>,
) -> Result<u64, DbError> {
    let q = person_secret::Entity::update_many()
        .filter(person_secret::Column::PersonId.eq(id.as_uuid()))
        .col_expr(person_secret::Column::UpdatedAt, Expr::value(Utc::now()));
    Ok(set(q).exec(itx.conn()).await?.rows_affected)
}

/// Makes sure the person has a secrets row (accounts made before secrets moved have one).
async fn ensure_secrets(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    if person_secret::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await?.is_none() {
        person_secret::ActiveModel {
            person_id: Set(id.as_uuid()),
            password_hash: Set(None),
            mfa_secret: Set(None),
            mfa_last_step: Set(None),
            updated_at: Set(Utc::now()),
        }
        .insert(itx.conn())
        .await?;
    }
    Ok(())
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
    ensure_secrets(itx, id).await?;
    update_secrets(itx, id, |q| q.col_expr(person_secret::Column::PasswordHash, Expr::value(Some(hash)))).await?;
    end_all_sessions(itx, id).await
}

/// Ends every session of the person, on every trust's site.
pub async fn end_all_sessions(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::SessionEpoch, Expr::col(person::Column::SessionEpoch).add(1))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    person_session::Entity::update_many()
        .filter(person_session::Column::PersonId.eq(id.as_uuid()))
        .filter(person_session::Column::EndedAt.is_null())
        .col_expr(person_session::Column::EndedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// The person's TOTP secret (base32) and the last step accepted, if two-step verification is on.
pub async fn mfa_secret(itx: &IdentityTx, id: PersonId) -> Result<Option<(String, Option<i64>)>, DbError> {
    let Some(p) = person::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await? else { return Ok(None) };
    if p.mfa_enabled_at.is_none() {
        return Ok(None);
    }
    Ok(person_secret::Entity::find_by_id(id.as_uuid())
        .one(itx.conn())
        .await?
        .and_then(|s| s.mfa_secret.map(|m| (m, s.mfa_last_step))))
}

/// Accepts a TOTP time step if it is later than any accepted before (a code works once).
pub async fn accept_mfa_step(itx: &IdentityTx, id: PersonId, step: i64) -> Result<bool, DbError> {
    let res = person_secret::Entity::update_many()
        .filter(person_secret::Column::PersonId.eq(id.as_uuid()))
        .filter(
            Condition::any()
                .add(person_secret::Column::MfaLastStep.is_null())
                .add(person_secret::Column::MfaLastStep.lt(step)),
        )
        .col_expr(person_secret::Column::MfaLastStep, Expr::value(Some(step)))
        .exec(itx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// Turns two-step verification on with `secret` (already proven by a code at `step`) and these
/// recovery codes (stored as hashes), replacing any earlier ones.
pub async fn enable_mfa(
    itx: &IdentityTx,
    id: PersonId,
    secret: &str,
    step: i64,
    recovery: &[String],
) -> Result<(), DbError> {
    let now = Utc::now();
    ensure_secrets(itx, id).await?;
    let secret = secret.to_owned();
    update_secrets(itx, id, |q| {
        q.col_expr(person_secret::Column::MfaSecret, Expr::value(Some(secret)))
            .col_expr(person_secret::Column::MfaLastStep, Expr::value(Some(step)))
    })
    .await?;
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::MfaEnabledAt, Expr::value(Some(now)))
        .exec(itx.conn())
        .await?;
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(id.as_uuid()))
        .exec(itx.conn())
        .await?;
    for code in recovery {
        mfa_recovery_code::ActiveModel {
            person_id: Set(id.as_uuid()),
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
pub async fn disable_mfa(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    update_secrets(itx, id, |q| {
        q.col_expr(person_secret::Column::MfaSecret, Expr::value(Option::<String>::None))
            .col_expr(person_secret::Column::MfaLastStep, Expr::value(Option::<i64>::None))
    })
    .await?;
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::MfaEnabledAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
        .exec(itx.conn())
        .await?;
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(id.as_uuid()))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Uses a recovery code (normalised: no spaces or dashes, lowercase); each works once.
pub async fn use_recovery_code(itx: &IdentityTx, id: PersonId, code: &str) -> Result<bool, DbError> {
    let normal: String = code.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let res = mfa_recovery_code::Entity::update_many()
        .filter(mfa_recovery_code::Column::PersonId.eq(id.as_uuid()))
        .filter(mfa_recovery_code::Column::CodeSha256.eq(token_hash(&normal)))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    Ok(res.rows_affected == 1)
}

/// A person's own details, as they correct them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Details {
    pub given_name: String,
    pub family_name: String,
    pub job_role: String,
    pub place_of_work: String,
}

/// Changes the person's own details (names, job role, place of work: their account's, the same
/// at every trust).
pub async fn update_details(itx: &IdentityTx, id: PersonId, d: &Details) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::GivenName, Expr::value(d.given_name.clone()))
        .col_expr(person::Column::FamilyName, Expr::value(d.family_name.clone()))
        .col_expr(person::Column::JobRole, Expr::value(d.job_role.clone()))
        .col_expr(person::Column::PlaceOfWork, Expr::value(d.place_of_work.clone()))
        .col_expr(person::Column::DetailsConfirmedAt, Expr::value(Some(Utc::now())))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Records which optional uses of their information the person has stopped (each objection keeps
/// the time it was first made while it stands). Returns the objections as they were before.
pub async fn set_objections(
    itx: &IdentityTx,
    id: PersonId,
    o: &trellis_domain::privacy::Objections,
) -> Result<Option<trellis_domain::privacy::Objections>, DbError> {
    let Some(p) = person::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await? else { return Ok(None) };
    let before = crate::identity::Person::from(p.clone()).objections;
    let now = Utc::now();
    let keep =
        |wanted: bool, since: Option<chrono::DateTime<Utc>>| if wanted { Some(since.unwrap_or(now)) } else { None };
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::ObjectedBulletinsAt, Expr::value(keep(o.bulletins, p.objected_bulletins_at)))
        .col_expr(person::Column::ObjectedCampaignsAt, Expr::value(keep(o.campaigns, p.objected_campaigns_at)))
        .col_expr(person::Column::ObjectedResearchAt, Expr::value(keep(o.research, p.objected_research_at)))
        .col_expr(person::Column::UpdatedAt, Expr::value(now))
        .exec(itx.conn())
        .await?;
    Ok(Some(before))
}

/// Stops one optional use of the person's information (an unsubscribe link's one click): true if
/// this stopped it, false if it was already stopped, `None` if there is no such person.
pub async fn stop_purpose(
    itx: &IdentityTx,
    id: PersonId,
    purpose: trellis_domain::privacy::Purpose,
) -> Result<Option<bool>, DbError> {
    let Some(p) = person::Entity::find_by_id(id.as_uuid()).one(itx.conn()).await? else { return Ok(None) };
    let before = crate::identity::Person::from(p).objections;
    if before.objects_to(purpose) {
        return Ok(Some(false));
    }
    let column = crate::identity::objected_column(purpose);
    let now = Utc::now();
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(column, Expr::value(Some(now)))
        .col_expr(person::Column::UpdatedAt, Expr::value(now))
        .exec(itx.conn())
        .await?;
    Ok(Some(true))
}

/// Notes that the person confirmed their place of work and job role as they are.
pub async fn confirm_details(itx: &IdentityTx, id: PersonId) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::DetailsConfirmedAt, Expr::value(Some(Utc::now())))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Changes the person's email address (already confirmed by a link sent to it).
pub async fn change_email(itx: &IdentityTx, id: PersonId, new_email: &str) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::Email, Expr::value(new_email.to_owned()))
        .col_expr(person::Column::EmailVerifiedAt, Expr::value(Some(Utc::now())))
        .col_expr(person::Column::UpdatedAt, Expr::value(Utc::now()))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// What a single-use link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new email address (the token carries it).
    ChangeEmail,
    /// Links a single sign-on identity to an existing account (the token carries the identity).
    LinkSso,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify",
            Self::ResetPassword => "reset",
            Self::ChangeEmail => "email",
            Self::LinkSso => "link",
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

/// What a used link carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedToken {
    pub person: PersonId,
    pub new_email: Option<String>,
    pub payload: Option<String>,
}

/// Issues a single-use link token for `person` on this trust's site; returns the raw token (only
/// its hash is stored).
pub async fn issue_token(
    itx: &IdentityTx,
    person: PersonId,
    purpose: TokenPurpose,
    ttl: Duration,
) -> Result<String, DbError> {
    issue_token_with(itx, person, purpose, ttl, None, None).await
}

/// As [`issue_token`], carrying a new email address or another payload.
pub async fn issue_token_with(
    itx: &IdentityTx,
    person: PersonId,
    purpose: TokenPurpose,
    ttl: Duration,
    new_email: Option<String>,
    payload: Option<String>,
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
        payload: Set(payload),
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
    Ok(consume_token_with(itx, raw, purpose).await?.map(|t| t.person))
}

/// As [`consume_token`], also returning what the token carries.
pub async fn consume_token_with(
    itx: &IdentityTx,
    raw: &str,
    purpose: TokenPurpose,
) -> Result<Result<UsedToken, TokenError>, DbError> {
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
    Ok(Ok(UsedToken { person: PersonId::from_uuid(t.person_id), new_email: t.new_email, payload: t.payload }))
}

/// How many links of `purpose` were issued to this person on any site since `since`, for the
/// per-recipient limit on emailed links.
pub async fn links_issued_since(
    itx: &IdentityTx,
    id: PersonId,
    purpose: TokenPurpose,
    since: chrono::DateTime<Utc>,
) -> Result<u64, DbError> {
    use sea_orm::PaginatorTrait;
    Ok(email_token::Entity::find()
        .filter(email_token::Column::PersonId.eq(id.as_uuid()))
        .filter(email_token::Column::Purpose.eq(purpose.as_str()))
        .filter(email_token::Column::CreatedAt.gte(since))
        .count(itx.conn())
        .await?)
}

/// Writes an email to this trust's outbox in the identity transaction (a link it just issued).
pub async fn send(itx: &IdentityTx, email: &OutgoingEmail) -> Result<(), DbError> {
    crate::outbox::enqueue_email(itx, email).await
}

/// Creates (or promotes) a platform administrator with this password hash; returns their id.
pub async fn ensure_platform_admin(itx: &IdentityTx, email: &str, password_hash: String) -> Result<PersonId, DbError> {
    let id = match account_by_email(itx, email).await? {
        Some(a) => a.id,
        None => {
            let now = Utc::now();
            let model = person::ActiveModel {
                id: Set(PersonId::new().as_uuid()),
                email: Set(email.to_owned()),
                email_verified_at: Set(Some(now)),
                given_name: Set("Platform".into()),
                family_name: Set("Administrator".into()),
                job_role: Set(String::new()),
                place_of_work: Set(String::new()),
                register_kind: Set(None),
                register_number: Set(None),
                status: Set(crate::states::PersonStatus::Active),
                platform_admin: Set(false),
                session_epoch: Set(0),
                mfa_enabled_at: Set(None),
                created_at: Set(now),
                details_confirmed_at: Set(None),
                updated_at: Set(now),
                objected_bulletins_at: Set(None),
                objected_campaigns_at: Set(None),
                objected_research_at: Set(None),
                last_active_at: Set(None),
            }
            .insert(itx.conn())
            .await?;
            let id = PersonId::from_uuid(model.id);
            set_password(itx, id, password_hash).await?;
            id
        }
    };
    set_platform_admin(itx, id, true).await?;
    Ok(id)
}

/// Makes a person a platform administrator (or not).
pub async fn set_platform_admin(itx: &IdentityTx, id: PersonId, admin: bool) -> Result<(), DbError> {
    person::Entity::update_many()
        .filter(person::Column::Id.eq(id.as_uuid()))
        .col_expr(person::Column::PlatformAdmin, Expr::value(admin))
        .exec(itx.conn())
        .await?;
    Ok(())
}

/// Creates (or promotes) a platform administrator through the identity path and records it in
/// the platform audit (the `trellis platform-admin` command, the demo, tests).
pub async fn appoint_platform_admin(
    dbs: &crate::Databases,
    email: &str,
    password_hash: String,
    actor: &str,
) -> Result<PersonId, DbError> {
    let itx = dbs.identity.begin_platform().await?;
    let id = ensure_platform_admin(&itx, email, password_hash).await?;
    itx.commit().await?;
    dbs.platform.record_platform_audit(actor, "platform_admin.granted", None, id.to_string()).await?;
    Ok(id)
}

impl crate::tenant_tx::sealed::Trail for IdentityTx {
    fn trail(&self) -> &TenantTx {
        &self.inner
    }
}
impl crate::tenant_tx::Trail for IdentityTx {}

/// One line of a person's own learning record: an enrolment of theirs in some trust, with one
/// session they opened in one cycle of it (`session` is `None` for an enrolment with no session
/// opened yet).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRow {
    pub tenant: TenantId,
    pub trust: String,
    pub enrolment: uuid::Uuid,
    pub course: trellis_domain::CourseId,
    pub course_title: String,
    pub course_code: String,
    /// The enrolment's state (`active`, `completed`, `withdrawn`, …).
    pub status: String,
    pub requested_at: chrono::DateTime<Utc>,
    pub completed_at: Option<chrono::DateTime<Utc>>,
    /// The course's CPD points and accrediting body, where it sets them.
    pub cpd_points: Option<i32>,
    pub accreditation: String,
    pub session: Option<SessionActivity>,
}

/// What the person did on one session in one cycle of an enrolment.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionActivity {
    pub object: trellis_domain::ObjectId,
    pub title: String,
    pub cycle: i32,
    pub first_access_at: chrono::DateTime<Utc>,
    pub last_access_at: chrono::DateTime<Utc>,
    pub visits: i32,
    pub seconds_spent: i32,
    pub completed_at: Option<chrono::DateTime<Utc>>,
    pub score_scaled: Option<f64>,
    /// `passed`, `failed` or empty.
    pub success: String,
}

/// The enrolment's columns of a row of [`activity_of`] or [`activity_summary_of`], with its session.
fn enrolment_row(r: &sea_orm::QueryResult, session: Option<SessionActivity>) -> Result<ActivityRow, DbError> {
    Ok(ActivityRow {
        tenant: TenantId::from_uuid(r.try_get("", "tenant_id")?),
        trust: r.try_get("", "trust")?,
        enrolment: r.try_get("", "enrolment_id")?,
        course: trellis_domain::CourseId::from_uuid(r.try_get("", "course_id")?),
        course_title: r.try_get("", "course_title")?,
        course_code: r.try_get("", "course_code")?,
        status: r.try_get("", "status")?,
        requested_at: r.try_get("", "requested_at")?,
        completed_at: r.try_get("", "completed_at")?,
        cpd_points: r.try_get("", "cpd_points")?,
        accreditation: r.try_get::<Option<String>>("", "accreditation")?.unwrap_or_default(),
        session,
    })
}

/// The SQL of [`activity_summary_of`] on SQLite (PostgreSQL: `trellis_activity_summary_of`).
const SUMMARY_SQL: &str = "
  SELECT e.tenant_id AS tenant_id, t.name AS trust, e.id AS enrolment_id, e.course_id AS course_id,
         c.title AS course_title, c.code AS course_code, e.status AS status, e.requested_at AS requested_at,
         e.completed_at AS completed_at, COUNT(p.enrolment_id) AS sessions, MIN(p.first_access_at) AS first_access_at,
         MAX(p.last_access_at) AS last_access_at, COALESCE(SUM(p.visits), 0) AS visits,
         COALESCE(SUM(p.seconds_spent), 0) AS seconds_spent, MAX(p.score_scaled) AS score_scaled,
         MAX(CASE WHEN p.success = 'passed' THEN 2 WHEN p.success = 'failed' THEN 1 ELSE 0 END) AS success_rank,
         c.cpd_points AS cpd_points, c.accreditation AS accreditation
    FROM enrolments e
    JOIN tenants t ON t.id = e.tenant_id
    JOIN courses c ON c.id = e.course_id AND c.tenant_id IN (e.tenant_id, ?)
    LEFT JOIN object_progress p ON p.tenant_id = e.tenant_id AND p.enrolment_id = e.id
   WHERE e.person_id = ?
   GROUP BY e.tenant_id, t.name, e.id, e.course_id, c.title, c.code, e.status, e.requested_at, e.completed_at,
            c.cpd_points, c.accreditation";

/// A person's own learning record in every trust, one row per enrolment with its sessions summed
/// into one (the summarised record's read: as [`activity_of`], of one person's rows only, the
/// caller recording the read). A row's session, where it opened any, has no object: its counts and
/// times are the enrolment's totals, its score the best and its success passed if any passed.
pub async fn activity_summary_of(itx: &IdentityTx, person: PersonId) -> Result<Vec<ActivityRow>, DbError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = itx.conn();
    let rows = if conn.get_database_backend() == DbBackend::Postgres {
        conn.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT * FROM trellis_activity_summary_of($1)",
            [person.as_uuid().into()],
        ))
        .await?
    } else {
        conn.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            SUMMARY_SQL,
            [TenantId::NATIONAL.as_uuid().into(), person.as_uuid().into()],
        ))
        .await?
    };
    rows.iter()
        .map(|r| {
            let n = |c: &str| -> Result<i64, DbError> {
                Ok(r.try_get::<Option<i64>>("", c)
                    .or_else(|_| r.try_get::<Option<i32>>("", c).map(|v| v.map(i64::from)))?
                    .unwrap_or(0))
            };
            let sessions = n("sessions")?;
            let first: Option<chrono::DateTime<Utc>> = r.try_get("", "first_access_at")?;
            let last: Option<chrono::DateTime<Utc>> = r.try_get("", "last_access_at")?;
            let session = match (sessions, first, last) {
                (s, Some(first_access_at), Some(last_access_at)) if s > 0 => Some(SessionActivity {
                    object: trellis_domain::ObjectId::from_uuid(uuid::Uuid::nil()),
                    title: String::new(),
                    cycle: 1,
                    first_access_at,
                    last_access_at,
                    visits: i32::try_from(n("visits")?).unwrap_or(i32::MAX),
                    seconds_spent: i32::try_from(n("seconds_spent")?).unwrap_or(i32::MAX),
                    completed_at: None,
                    score_scaled: r.try_get("", "score_scaled")?,
                    success: match n("success_rank")? {
                        2 => "passed".to_owned(),
                        1 => "failed".to_owned(),
                        _ => String::new(),
                    },
                }),
                _ => None,
            };
            enrolment_row(r, session)
        })
        .collect()
}

/// The SQL of [`activity_of`] on SQLite (PostgreSQL runs the same query as the owner's function
/// `trellis_activity_of`, which the identity role alone may call).
const ACTIVITY_SQL: &str = "
  SELECT e.tenant_id AS tenant_id, t.name AS trust, e.id AS enrolment_id, e.course_id AS course_id,
         c.title AS course_title, c.code AS course_code, e.status AS status, e.requested_at AS requested_at,
         e.completed_at AS completed_at, p.cycle AS cycle, o.id AS object_id, o.title AS object_title,
         p.first_access_at AS first_access_at, p.last_access_at AS last_access_at, p.visits AS visits,
         p.seconds_spent AS seconds_spent, p.completed_at AS object_completed_at, p.score_scaled AS score_scaled,
         p.success AS success, c.cpd_points AS cpd_points, c.accreditation AS accreditation
    FROM enrolments e
    JOIN tenants t ON t.id = e.tenant_id
    JOIN courses c ON c.id = e.course_id AND c.tenant_id IN (e.tenant_id, ?)
    LEFT JOIN object_progress p ON p.tenant_id = e.tenant_id AND p.enrolment_id = e.id
    LEFT JOIN learning_objects o ON o.id = p.object_id AND o.tenant_id IN (e.tenant_id, ?)
   WHERE e.person_id = ?";

/// A person's own learning record in every trust they have learnt at, for their own reports:
/// the identity path's one read of learning rows across trusts (ADR 0014), of one person's rows
/// only. The caller records the read in the trust's audit trail.
pub async fn activity_of(itx: &IdentityTx, person: PersonId) -> Result<Vec<ActivityRow>, DbError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = itx.conn();
    let rows = if conn.get_database_backend() == DbBackend::Postgres {
        conn.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT * FROM trellis_activity_of($1)",
            [person.as_uuid().into()],
        ))
        .await?
    } else {
        let national = TenantId::NATIONAL.as_uuid();
        conn.query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            ACTIVITY_SQL,
            [national.into(), national.into(), person.as_uuid().into()],
        ))
        .await?
    };
    rows.iter()
        .map(|r| {
            let object: Option<uuid::Uuid> = r.try_get("", "object_id")?;
            let session = match object {
                None => None,
                Some(id) => Some(SessionActivity {
                    object: trellis_domain::ObjectId::from_uuid(id),
                    title: r.try_get::<Option<String>>("", "object_title")?.unwrap_or_default(),
                    cycle: r.try_get("", "cycle")?,
                    first_access_at: r.try_get("", "first_access_at")?,
                    last_access_at: r.try_get("", "last_access_at")?,
                    visits: r.try_get("", "visits")?,
                    seconds_spent: r.try_get("", "seconds_spent")?,
                    completed_at: r.try_get("", "object_completed_at")?,
                    score_scaled: r.try_get("", "score_scaled")?,
                    success: r.try_get::<Option<String>>("", "success")?.unwrap_or_default(),
                }),
            };
            enrolment_row(r, session)
        })
        .collect()
}

/// One xAPI statement about a person, as one trust's learning record store holds it.
#[derive(Debug, Clone)]
pub struct StatementAbout {
    pub tenant: TenantId,
    /// The statement as stored (JSON).
    pub body: String,
}

/// The SQL of [`statements_of`] on SQLite, one trust at a time (PostgreSQL: `trellis_statements_of`).
const STATEMENTS_SQL: &str = "
  SELECT s.tenant_id AS tenant_id, s.seq AS seq, s.body AS body
    FROM xapi_statement_refs m
    JOIN xapi_statements s ON s.tenant_id = m.tenant_id AND s.id = m.statement_id AND s.voided = false
   WHERE m.tenant_id = ? AND m.kind = 'agent' AND m.ref_key = ? AND m.related_only = false
     AND EXISTS (SELECT 1 FROM enrolments e WHERE e.tenant_id = m.tenant_id AND e.person_id = ?)
   ORDER BY s.seq
   LIMIT ?";

/// The xAPI statements about a person in the learning record store of each trust where they have
/// an enrolment, for their own export: `agents` pairs each trust with the agent key (the LRS's
/// hash of the opaque account) it knows the person by. A trust where the person has no enrolment
/// gives nothing, whatever key is passed. At most `limit` statements in all, by trust and then in
/// the order stored. The identity path's named read (ADR 0014), of one person's rows only; the
/// caller records the read in the trust's audit trail.
pub async fn statements_of(
    itx: &IdentityTx,
    person: PersonId,
    agents: &[(TenantId, String)],
    limit: u32,
) -> Result<Vec<StatementAbout>, DbError> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = itx.conn();
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let row = |r: &sea_orm::QueryResult| -> Result<StatementAbout, DbError> {
        Ok(StatementAbout { tenant: TenantId::from_uuid(r.try_get("", "tenant_id")?), body: r.try_get("", "body")? })
    };
    if conn.get_database_backend() == DbBackend::Postgres {
        let tenants: Vec<uuid::Uuid> = agents.iter().map(|(t, _)| t.as_uuid()).collect();
        let keys: Vec<String> = agents.iter().map(|(_, k)| k.clone()).collect();
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT * FROM trellis_statements_of($1, $2, $3, $4)",
                [person.as_uuid().into(), tenants.into(), keys.into(), limit.into()],
            ))
            .await?;
        return rows.iter().map(row).collect();
    }
    let mut sorted: Vec<&(TenantId, String)> = agents.iter().collect();
    sorted.sort_by_key(|(t, _)| t.as_uuid());
    let mut out = Vec::new();
    for (tenant, key) in sorted {
        let left = limit - i32::try_from(out.len()).unwrap_or(i32::MAX);
        if left <= 0 {
            break;
        }
        let rows = conn
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                STATEMENTS_SQL,
                [tenant.as_uuid().into(), key.clone().into(), person.as_uuid().into(), left.into()],
            ))
            .await?;
        for r in &rows {
            out.push(row(r)?);
        }
    }
    Ok(out)
}

/// The person's own account row, for their copy of everything held about them (secrets and their
/// hashes left out).
pub async fn account_rows(
    itx: &IdentityTx,
    id: PersonId,
) -> Result<Vec<(&'static str, Vec<serde_json::Value>)>, DbError> {
    use sea_orm::{ConnectionTrait, FromQueryResult};
    let backend = itx.conn().get_database_backend();
    let mut out = Vec::new();
    for (table, column) in [("people", "id")] {
        let sql = format!("SELECT * FROM {table} WHERE {column} = $1");
        let rows =
            itx.conn().query_all_raw(crate::tenant_tx::statement(backend, &sql, vec![id.as_uuid().into()])).await?;
        let mut values = Vec::new();
        for r in &rows {
            let mut v = serde_json::Value::from_query_result(r, "")?;
            if let serde_json::Value::Object(map) = &mut v {
                map.retain(|k, _| !["secret", "hash", "password", "token"].iter().any(|s| k.contains(s)));
            }
            values.push(v);
        }
        out.push((table, values));
    }
    Ok(out)
}
