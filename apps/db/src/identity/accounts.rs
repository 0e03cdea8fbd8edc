//! The application's narrow door to accounts across trusts (ADR 0014): find accounts by email
//! (only what a trust's flows need to know), create a person for this trust, and add a person to
//! this trust — only with their consent.
//!
//! On PostgreSQL each is an owner's `SECURITY DEFINER` function (the application role cannot read
//! people outside its trust, insert memberships or touch secrets itself); `trellis_add_membership`
//! checks the consent again in the database. On SQLite the same rules are this Rust code, and the
//! types carry the consent: a [`Consent`] can only be made by creating the person in this
//! transaction, accepting their invitation in it, or by the identity path's proof.

use super::{MembershipStatus, NewPerson, grant_role};
use crate::entities::{identity_proof, invitation, membership, person, person_secret};
use crate::{DbError, TenantTx};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, QueryFilter, QueryOrder, Set};
use std::collections::HashMap;
use trellis_domain::PersonId;
use trellis_domain::identity::Role;

/// What a trust's flows may know of an account found by email: no name, no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    pub id: PersonId,
    pub active: bool,
    pub email_verified: bool,
    pub platform_admin: bool,
    /// A member (in any state) of the transaction's trust.
    pub member_here: bool,
    /// A member of any other trust.
    pub member_elsewhere: bool,
}

/// The accounts with these (normalised) email addresses, by address.
pub async fn find(tx: &TenantTx, emails: &[String]) -> Result<HashMap<String, AccountRef>, DbError> {
    let mut out = HashMap::with_capacity(emails.len());
    for chunk in emails.chunks(1000) {
        let rows = if tx.is_postgres() {
            tx.call(
                "SELECT email, id, active, email_verified, platform_admin, member_here, member_elsewhere
                       FROM trellis_accounts_by_emails($1::text[])",
                vec![chunk.to_vec().into()],
            )
            .await?
        } else {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT p.email AS email, p.id AS id, p.status = 'active' AS active,
                        p.email_verified_at IS NOT NULL AS email_verified, p.platform_admin AS platform_admin,
                        EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.tenant_id = ?) AS member_here,
                        EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = p.id AND m.tenant_id <> ?) AS member_elsewhere
                   FROM people p WHERE p.email IN ({marks})"
            );
            let mut values: Vec<sea_orm::Value> = vec![tx.tenant().as_uuid().into(), tx.tenant().as_uuid().into()];
            values.extend(chunk.iter().map(|e| e.clone().into()));
            tx.across_trusts()
                .query_all_raw(sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, sql, values))
                .await?
        };
        for r in rows {
            out.insert(
                r.try_get::<String>("", "email")?,
                AccountRef {
                    id: PersonId::from_uuid(r.try_get("", "id")?),
                    active: r.try_get("", "active")?,
                    email_verified: r.try_get("", "email_verified")?,
                    platform_admin: r.try_get("", "platform_admin")?,
                    member_here: r.try_get("", "member_here")?,
                    member_elsewhere: r.try_get("", "member_elsewhere")?,
                },
            );
        }
    }
    Ok(out)
}

/// The account with this (normalised) email address, if there is one.
pub async fn find_one(tx: &TenantTx, email: &str) -> Result<Option<AccountRef>, DbError> {
    Ok(find(tx, &[email.to_owned()]).await?.remove(email))
}

/// A person created in this transaction (the consent to add them is their creation).
#[derive(Debug)]
pub struct Created {
    pub id: PersonId,
}

/// An invitation to this trust accepted in this transaction.
#[derive(Debug)]
pub struct Accepted {
    pub person: PersonId,
    pub invitation: uuid::Uuid,
    /// What the invitation carries (the staff record), as JSON.
    pub record: String,
}

/// Why a person may be added to this trust.
#[derive(Debug)]
pub enum Consent<'a> {
    /// They were created in this transaction, for this trust.
    New(&'a Created),
    /// They accepted this trust's invitation in this transaction.
    Invited(&'a Accepted),
    /// The identity path holds a fresh proof (their password and code, or an emailed link).
    Proven(PersonId),
}

impl Consent<'_> {
    fn person(&self) -> PersonId {
        match self {
            Consent::New(c) => c.id,
            Consent::Invited(a) => a.person,
            Consent::Proven(p) => *p,
        }
    }
}

/// Creates a person for this trust: an account with this address (which must be free), and
/// their password hash if they chose one.
pub async fn create_person(tx: &TenantTx, new: NewPerson, verified: bool) -> Result<Created, DbError> {
    let id = PersonId::new();
    if tx.is_postgres() {
        tx.call(
            "SELECT trellis_create_person($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            vec![
                id.as_uuid().into(),
                new.email.into(),
                new.password_hash.into(),
                new.given_name.into(),
                new.family_name.into(),
                new.job_role.into(),
                new.place_of_work.into(),
                new.register_kind.into(),
                new.register_number.into(),
                verified.into(),
            ],
        )
        .await?;
    } else {
        let now = Utc::now();
        person::ActiveModel {
            id: Set(id.as_uuid()),
            email: Set(new.email),
            email_verified_at: Set(verified.then_some(now)),
            given_name: Set(new.given_name),
            family_name: Set(new.family_name),
            job_role: Set(new.job_role),
            place_of_work: Set(new.place_of_work),
            register_kind: Set(new.register_kind),
            register_number: Set(new.register_number),
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
        .insert(tx.across_trusts())
        .await?;
        person_secret::ActiveModel {
            person_id: Set(id.as_uuid()),
            password_hash: Set(new.password_hash),
            mfa_secret: Set(None),
            mfa_last_step: Set(None),
            updated_at: Set(now),
        }
        .insert(tx.across_trusts())
        .await?;
    }
    Ok(Created { id })
}

/// Adds the person to this trust with the given state and roles, with their consent. Without it
/// (no fresh proof, say) the database refuses and nothing is written.
pub async fn add_membership(
    tx: &TenantTx,
    consent: Consent<'_>,
    status: MembershipStatus,
    roles: &[Role],
) -> Result<(), DbError> {
    let person = consent.person();
    if !matches!(status, MembershipStatus::Approved | MembershipStatus::Pending) {
        return Err(DbError::Conflict("a new membership is pending or approved".into()));
    }
    let status_text = status.as_str();
    if tx.is_postgres() {
        tx.call("SELECT trellis_add_membership($1, $2)", vec![person.as_uuid().into(), status_text.into()]).await?;
    } else {
        if let Consent::Proven(p) = consent {
            let proof = tx
                .select::<identity_proof::Entity>()
                .filter(identity_proof::Column::PersonId.eq(p.as_uuid()))
                .filter(identity_proof::Column::UsedAt.is_null())
                .filter(identity_proof::Column::ExpiresAt.gt(Utc::now()))
                .order_by_asc(identity_proof::Column::CreatedAt)
                .one(tx)
                .await?
                .ok_or_else(|| DbError::Conflict("this person has not agreed to join this trust".into()))?;
            tx.update_many::<identity_proof::Entity>()
                .filter(identity_proof::Column::Id.eq(proof.id))
                .col_expr(identity_proof::Column::UsedAt, Expr::value(Some(Utc::now())))
                .exec(tx)
                .await?;
        }
        let now = Utc::now();
        tx.insert(membership::ActiveModel {
            tenant_id: Set(uuid::Uuid::nil()),
            person_id: Set(person.as_uuid()),
            status: Set(status),
            reason: Set(None),
            decided_by: Set(None),
            decided_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    }
    for role in roles {
        grant_role(tx, person, *role, None).await?;
    }
    Ok(())
}

/// An invitation to this trust, as the invitee sees it before accepting.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: uuid::Uuid,
    pub person: PersonId,
    pub email: String,
    pub expires_at: chrono::DateTime<Utc>,
    pub accepted: bool,
    pub revoked: bool,
}

/// Invites an existing account to this trust; returns the raw token for the emailed link (only
/// its hash is kept). An earlier open invitation of the same person is replaced.
pub async fn invite(
    tx: &TenantTx,
    person: PersonId,
    email: &str,
    record: &serde_json::Value,
    by: Option<PersonId>,
    ttl: chrono::Duration,
) -> Result<String, DbError> {
    let now = Utc::now();
    tx.update_many::<invitation::Entity>()
        .filter(invitation::Column::PersonId.eq(person.as_uuid()))
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .col_expr(invitation::Column::RevokedAt, Expr::value(Some(now)))
        .exec(tx)
        .await?;
    let raw = hex::encode(rand::random::<[u8; 32]>());
    tx.insert(invitation::ActiveModel {
        tenant_id: Set(uuid::Uuid::nil()),
        id: Set(uuid::Uuid::now_v7()),
        email: Set(email.to_owned()),
        person_id: Set(person.as_uuid()),
        token_sha256: Set(super::token_hash(&raw)),
        record: Set(record.to_string()),
        invited_by: Set(by.map(|b| b.as_uuid())),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        accepted_at: Set(None),
        revoked_at: Set(None),
    })
    .await?;
    Ok(raw)
}

/// The invitation a link names, if it is this trust's.
pub async fn invitation(tx: &TenantTx, raw: &str) -> Result<Option<Invitation>, DbError> {
    Ok(tx
        .select::<invitation::Entity>()
        .filter(invitation::Column::TokenSha256.eq(super::token_hash(raw)))
        .one(tx)
        .await?
        .map(|i| Invitation {
            id: i.id,
            person: PersonId::from_uuid(i.person_id),
            email: i.email,
            expires_at: i.expires_at,
            accepted: i.accepted_at.is_some(),
            revoked: i.revoked_at.is_some(),
        }))
}

/// Accepts an open, unexpired invitation (conditionally: of two at once, one wins).
pub async fn accept_invitation(tx: &TenantTx, raw: &str) -> Result<Option<Accepted>, DbError> {
    let Some(i) = tx
        .select::<invitation::Entity>()
        .filter(invitation::Column::TokenSha256.eq(super::token_hash(raw)))
        .one(tx)
        .await?
    else {
        return Ok(None);
    };
    if i.accepted_at.is_some() || i.revoked_at.is_some() || i.expires_at < Utc::now() {
        return Ok(None);
    }
    let res = tx
        .update_many::<invitation::Entity>()
        .filter(invitation::Column::Id.eq(i.id))
        .filter(invitation::Column::AcceptedAt.is_null())
        .col_expr(invitation::Column::AcceptedAt, Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Some(Accepted { person: PersonId::from_uuid(i.person_id), invitation: i.id, record: i.record }))
}

/// This trust's invitations still waiting for an answer, newest first.
pub async fn open_invitations(tx: &TenantTx, limit: u64) -> Result<Vec<Invitation>, DbError> {
    use sea_orm::QuerySelect;
    Ok(tx
        .select::<invitation::Entity>()
        .filter(invitation::Column::AcceptedAt.is_null())
        .filter(invitation::Column::RevokedAt.is_null())
        .filter(invitation::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(invitation::Column::CreatedAt)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(|i| Invitation {
            id: i.id,
            person: PersonId::from_uuid(i.person_id),
            email: i.email,
            expires_at: i.expires_at,
            accepted: false,
            revoked: false,
        })
        .collect())
}

/// For the demo and tests (operator-run seeding, never a request): the person with this address,
/// made for the trust if new (email verified), and an approved member of it with `roles` — as if
/// they had registered, or had joined with their password (the identity path's proof is written
/// for them) — and the trust's training rules applied to them, as every door does. Returns the
/// person and whether they joined now.
pub async fn seed_member(
    dbs: &crate::Databases,
    tenant: trellis_domain::TenantId,
    new: NewPerson,
    roles: &[Role],
) -> Result<(PersonId, bool), DbError> {
    let tx = dbs.app.begin(tenant).await?;
    match find_one(&tx, &new.email).await? {
        Some(a) if a.member_here => {
            tx.commit().await?;
            Ok((a.id, false))
        }
        Some(a) => {
            tx.commit().await?;
            let itx = dbs.identity.begin(tenant).await?;
            super::grant_proof(&itx, a.id, "join").await?;
            itx.commit().await?;
            let tx = dbs.app.begin(tenant).await?;
            add_membership(&tx, Consent::Proven(a.id), MembershipStatus::Approved, roles).await?;
            crate::compliance::apply_for(&tx, a.id, Utc::now().date_naive()).await?;
            tx.commit().await?;
            Ok((a.id, true))
        }
        None => {
            let created = create_person(&tx, new, true).await?;
            add_membership(&tx, Consent::New(&created), MembershipStatus::Approved, roles).await?;
            crate::compliance::apply_for(&tx, created.id, Utc::now().date_naive()).await?;
            tx.commit().await?;
            Ok((created.id, true))
        }
    }
}

/// Records that a member of this trust is active (signed in, or listed in the trust's staff file
/// by an import), at most once an hour: the retention schedule anonymises accounts unused for its
/// period. On PostgreSQL through
/// `trellis_touch_person` (the application role may not change people).
pub async fn touch(tx: &TenantTx, person: PersonId) -> Result<(), DbError> {
    if tx.is_postgres() {
        tx.call("SELECT trellis_touch_person($1)", vec![person.as_uuid().into()]).await?;
        return Ok(());
    }
    let now = chrono::Utc::now();
    tx.across_trusts()
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            "UPDATE people SET last_active_at = ?
              WHERE id = ? AND (last_active_at IS NULL OR last_active_at < ?)
                AND EXISTS (SELECT 1 FROM memberships m WHERE m.person_id = people.id AND m.tenant_id = ?)",
            vec![
                now.into(),
                person.as_uuid().into(),
                (now - chrono::Duration::hours(1)).into(),
                tx.tenant().as_uuid().into(),
            ],
        ))
        .await?;
    Ok(())
}
