//! A trust's sub-site data, read and written through its [`TenantTx`].

use crate::entities::{eligibility_domain, key_message, tenant_branding, tenant_logo, tenant_sso};
use crate::{DbError, TenantTx};
use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::MessageId;
use trellis_domain::colour::{ColourScheme, ContrastFailure};

/// A key message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub title: String,
    pub body: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

impl From<key_message::Model> for Message {
    fn from(m: key_message::Model) -> Self {
        Self {
            id: MessageId::from_uuid(m.id),
            title: m.title,
            body: m.body,
            starts_on: m.starts_on,
            ends_on: m.ends_on,
        }
    }
}

/// A message to write.
#[derive(Debug, Clone)]
pub struct MessageInput {
    pub title: String,
    pub body: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

/// The messages current on `today` (in the trust's zone), newest first, at most `limit`.
pub async fn current_messages(tx: &TenantTx, today: NaiveDate, limit: u64) -> Result<Vec<Message>, DbError> {
    Ok(tx
        .select::<key_message::Entity>()
        .filter(key_message::Column::StartsOn.lte(today))
        .filter(Condition::any().add(key_message::Column::EndsOn.is_null()).add(key_message::Column::EndsOn.gte(today)))
        .order_by_desc(key_message::Column::StartsOn)
        .limit(limit)
        .all(tx)
        .await?
        .into_iter()
        .map(Message::from)
        .collect())
}

/// One message of this trust's.
pub async fn message(tx: &TenantTx, id: MessageId) -> Result<Option<Message>, DbError> {
    Ok(tx
        .select::<key_message::Entity>()
        .filter(key_message::Column::Id.eq(id.as_uuid()))
        .one(tx)
        .await?
        .map(Message::from))
}

/// Adds a message written by a trust admin.
pub async fn add_message(tx: &TenantTx, input: MessageInput) -> Result<Message, DbError> {
    let now = Utc::now();
    let model = tx
        .insert(key_message::ActiveModel {
            tenant_id: Set(uuid::Uuid::nil()), // replaced by the handle
            id: Set(MessageId::new().as_uuid()),
            seed_key: Set(None),
            title: Set(input.title),
            body: Set(input.body),
            starts_on: Set(input.starts_on),
            ends_on: Set(input.ends_on),
            admin_edited_at: Set(Some(now)),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .await?;
    Ok(model.into())
}

/// A trust admin's edit of a message; `tenants apply` will then leave it alone.
pub async fn admin_edit_message(tx: &TenantTx, id: MessageId, input: MessageInput) -> Result<(), DbError> {
    let now = Utc::now();
    let res = tx
        .update_many::<key_message::Entity>()
        .filter(key_message::Column::Id.eq(id.as_uuid()))
        .col_expr(key_message::Column::Title, Expr::value(input.title))
        .col_expr(key_message::Column::Body, Expr::value(input.body))
        .col_expr(key_message::Column::StartsOn, Expr::value(input.starts_on))
        .col_expr(key_message::Column::EndsOn, Expr::value(input.ends_on))
        .col_expr(key_message::Column::AdminEditedAt, Expr::value(Some(now)))
        .col_expr(key_message::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(()) }
}

/// Deletes one of this trust's messages; returns how many rows went (0 or 1).
pub async fn delete_message(tx: &TenantTx, id: MessageId) -> Result<u64, DbError> {
    Ok(tx
        .delete_many::<key_message::Entity>()
        .filter(key_message::Column::Id.eq(id.as_uuid()))
        .exec(tx)
        .await?
        .rows_affected)
}

/// A stored logo.
#[derive(Debug, Clone)]
pub struct LogoFile {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// This trust's logo with the given content hash.
pub async fn logo(tx: &TenantTx, sha256: &str) -> Result<Option<LogoFile>, DbError> {
    Ok(tx
        .select::<tenant_logo::Entity>()
        .filter(tenant_logo::Column::Sha256.eq(sha256))
        .one(tx)
        .await?
        .map(|l| LogoFile { content_type: l.content_type, bytes: l.bytes }))
}

/// A trust admin sets the colours. Refused, with every failing pair named, if any pair fails
/// WCAG 2.2 AA contrast.
pub async fn admin_set_colours(
    tx: &TenantTx,
    colours: ColourScheme,
) -> Result<Result<(), Vec<ContrastFailure>>, DbError> {
    let failures = colours.check();
    if !failures.is_empty() {
        return Ok(Err(failures));
    }
    let now = Utc::now();
    let res = tx
        .update_many::<tenant_branding::Entity>()
        .col_expr(tenant_branding::Column::PrimaryColour, Expr::value(colours.primary.to_string()))
        .col_expr(tenant_branding::Column::OnPrimaryColour, Expr::value(colours.on_primary.to_string()))
        .col_expr(tenant_branding::Column::LinkColour, Expr::value(colours.link.to_string()))
        .col_expr(tenant_branding::Column::AccentColour, Expr::value(colours.accent.to_string()))
        .col_expr(tenant_branding::Column::AdminEditedAt, Expr::value(Some(now)))
        .col_expr(tenant_branding::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(Ok(())) }
}

/// This trust's primary colour as stored, e.g. `#005eb8`.
pub async fn primary_colour(tx: &TenantTx) -> Result<Option<String>, DbError> {
    Ok(tx.select::<tenant_branding::Entity>().one(tx).await?.map(|b| b.primary_colour))
}

/// The email domains this trust approves at once.
pub async fn eligibility_domains(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    Ok(tx
        .select::<eligibility_domain::Entity>()
        .order_by_asc(eligibility_domain::Column::EmailDomain)
        .all(tx)
        .await?
        .into_iter()
        .map(|d| d.email_domain)
        .collect())
}

/// Every key message of this trust (past, current and future), newest first, at most 200.
pub async fn all_messages(tx: &TenantTx) -> Result<Vec<Message>, DbError> {
    Ok(tx
        .select::<key_message::Entity>()
        .order_by_desc(key_message::Column::StartsOn)
        .limit(200)
        .all(tx)
        .await?
        .into_iter()
        .map(Message::from)
        .collect())
}

/// A trust admin's logo (already checked): stored by content hash and made current. Returns the
/// hash. `None` removes the logo (the trust's name shows instead).
pub async fn admin_set_logo(tx: &TenantTx, logo: Option<(&str, Vec<u8>)>) -> Result<Option<String>, DbError> {
    let now = Utc::now();
    let sha = match logo {
        Some((content_type, bytes)) => {
            use sha2::Digest;
            let sha = hex::encode(sha2::Sha256::digest(&bytes));
            let have = tx
                .select::<tenant_logo::Entity>()
                .filter(tenant_logo::Column::Sha256.eq(sha.clone()))
                .one(tx)
                .await?
                .is_some();
            if !have {
                tx.insert(tenant_logo::ActiveModel {
                    tenant_id: Set(uuid::Uuid::nil()),
                    sha256: Set(sha.clone()),
                    content_type: Set(content_type.to_owned()),
                    bytes: Set(bytes),
                    created_at: Set(now),
                })
                .await?;
            }
            Some(sha)
        }
        None => None,
    };
    let res = tx
        .update_many::<tenant_branding::Entity>()
        .col_expr(tenant_branding::Column::LogoSha256, Expr::value(sha.clone()))
        .col_expr(tenant_branding::Column::AdminEditedAt, Expr::value(Some(now)))
        .col_expr(tenant_branding::Column::UpdatedAt, Expr::value(now))
        .exec(tx)
        .await?;
    if res.rows_affected == 0 { Err(DbError::NotFound) } else { Ok(sha) }
}

/// A trust's single sign-on settings as its admins edit them (the secret is never read back).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SsoSettingsInput {
    pub issuer: String,
    pub client_id: String,
    /// `None`: keep the stored secret (or the environment variable the operator named).
    pub client_secret: Option<String>,
    pub label: String,
    pub claim_email: String,
    pub claim_email_verified: String,
    pub claim_given_name: String,
    pub claim_family_name: String,
}

impl std::fmt::Debug for SsoSettingsInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSettingsInput").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// What the admin's form shows: the settings, and whether a secret is stored.
pub async fn sso_settings(tx: &TenantTx) -> Result<Option<(SsoSettingsInput, bool)>, DbError> {
    Ok(tx.select::<tenant_sso::Entity>().one(tx).await?.map(|s| {
        let has_secret = s.client_secret.is_some() || s.client_secret_env.is_some();
        (
            SsoSettingsInput {
                issuer: s.issuer,
                client_id: s.client_id,
                client_secret: None,
                label: s.label,
                claim_email: s.claim_email,
                claim_email_verified: s.claim_email_verified,
                claim_given_name: s.claim_given_name,
                claim_family_name: s.claim_family_name,
            },
            has_secret,
        )
    }))
}

/// A trust admin saves the single sign-on settings (`tenants apply` then leaves them alone).
/// Returns false when there is no secret at all (none given and none stored).
pub async fn admin_set_sso(tx: &TenantTx, input: SsoSettingsInput) -> Result<bool, DbError> {
    let now = Utc::now();
    let current = tx.select::<tenant_sso::Entity>().one(tx).await?;
    let (secret, secret_env) = match (&input.client_secret, &current) {
        (Some(s), _) => (Some(s.clone()), None),
        (None, Some(c)) if c.client_secret.is_some() || c.client_secret_env.is_some() => {
            (c.client_secret.clone(), c.client_secret_env.clone())
        }
        (None, _) => return Ok(false),
    };
    let model = tenant_sso::ActiveModel {
        tenant_id: Set(tx.tenant().as_uuid()),
        issuer: Set(input.issuer),
        client_id: Set(input.client_id),
        client_secret: Set(secret),
        client_secret_env: Set(secret_env),
        label: Set(input.label),
        claim_email: Set(input.claim_email),
        claim_email_verified: Set(input.claim_email_verified),
        claim_given_name: Set(input.claim_given_name),
        claim_family_name: Set(input.claim_family_name),
        updated_at: Set(now),
        admin_edited_at: Set(Some(now)),
    };
    if current.is_some() {
        tx.update(model).await?;
    } else {
        tx.insert(model).await?;
    }
    Ok(true)
}

/// A trust admin turns single sign-on off (removes the settings; people keep their accounts and
/// sign in with a password, set by a reset link).
pub async fn admin_remove_sso(tx: &TenantTx) -> Result<bool, DbError> {
    Ok(tx.delete_many::<tenant_sso::Entity>().exec(tx).await?.rows_affected == 1)
}
