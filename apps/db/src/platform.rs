//! [`PlatformDb`]: the one handle allowed to work across trusts. Its methods say so in their
//! names, and the ones that change anything write to the platform audit log.

use crate::DbError;
use crate::entities::{platform_audit, tenant, tenant_branding, tenant_host};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    Statement,
};
use std::collections::HashMap;
use trellis_domain::TenantId;
use trellis_domain::colour::{ColourScheme, Rgb};
use trellis_domain::tenant_spec::Contact;

/// Cross-tenant access, through its own role (BYPASSRLS on PostgreSQL).
#[derive(Clone)]
pub struct PlatformDb {
    pub(crate) conn: DatabaseConnection,
    /// SQLite: the writers' queue, shared with the application's handle.
    pub(crate) writer: crate::tenant_tx::Writer,
}

/// What the web tier needs to serve a trust's site without asking the database: its hosts,
/// theme and branding. Loaded for every trust at once.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEntry {
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub short_name: Option<String>,
    pub ods_code: String,
    /// NHS England region ("" where not given).
    pub region: String,
    pub theme: String,
    pub time_zone: String,
    /// Verified custom domains.
    pub hosts: Vec<String>,
    pub colours: ColourScheme,
    /// `(sha256, content type)` of the current logo.
    pub logo: Option<(String, String)>,
    pub contact: Contact,
    /// Single sign-on, if the trust has it (the secret already resolved).
    pub sso: Option<SsoEntry>,
    /// Administrators must use two-step verification.
    pub require_admin_mfa: bool,
    /// Video services whose players may be embedded in pages, after each person's consent.
    pub embeds: Vec<String>,
}

/// A trust's single sign-on settings, ready to use.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoEntry {
    pub issuer: String,
    pub client_id: String,
    /// Empty when the named environment variable is not set: sign-on then fails with a clear log.
    pub client_secret: String,
    pub label: String,
    pub claim_email: String,
    pub claim_email_verified: String,
    pub claim_given_name: String,
    pub claim_family_name: String,
}

impl std::fmt::Debug for SsoEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoEntry")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A trust as the platform's landing page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandingEntry {
    pub slug: String,
    pub name: String,
    pub ods_code: String,
}

impl PlatformDb {
    pub(crate) fn new(conn: DatabaseConnection, writer: crate::tenant_tx::Writer) -> Self {
        Self { conn, writer }
    }

    /// `SELECT 1`, for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        Ok(self.conn.ping().await?)
    }

    /// Every active trust with its hosts, branding and sign-on settings: a fixed number of queries,
    /// whatever the number of trusts.
    pub async fn directory_of_all_tenants(&self) -> Result<Vec<DirectoryEntry>, DbError> {
        let tenants = tenant::Entity::find()
            .filter(tenant::Column::Status.eq(crate::states::TenantStatus::Active))
            .order_by_asc(tenant::Column::Slug)
            .all(&self.conn)
            .await?;
        let mut hosts: HashMap<uuid::Uuid, Vec<String>> = HashMap::new();
        for h in tenant_host::Entity::find()
            .filter(tenant_host::Column::VerifiedAt.is_not_null())
            .order_by_asc(tenant_host::Column::Host)
            .all(&self.conn)
            .await?
        {
            hosts.entry(h.tenant_id).or_default().push(h.host);
        }
        let mut branding: HashMap<uuid::Uuid, tenant_branding::Model> =
            tenant_branding::Entity::find().all(&self.conn).await?.into_iter().map(|b| (b.tenant_id, b)).collect();
        let mut logo_types: HashMap<uuid::Uuid, String> = HashMap::new();
        for row in self
            .conn
            .query_all_raw(Statement::from_string(
                self.conn.get_database_backend(),
                "SELECT l.tenant_id AS tenant_id, l.content_type AS content_type
                 FROM tenant_branding b JOIN tenant_logos l
                   ON l.tenant_id = b.tenant_id AND l.sha256 = b.logo_sha256",
            ))
            .await?
        {
            logo_types.insert(row.try_get("", "tenant_id")?, row.try_get("", "content_type")?);
        }
        let mut sso: HashMap<uuid::Uuid, SsoEntry> = HashMap::new();
        for s in crate::entities::tenant_sso::Entity::find().all(&self.conn).await? {
            let secret = match (&s.client_secret, &s.client_secret_env) {
                (Some(v), _) => v.clone(),
                (None, Some(var)) => std::env::var(var).unwrap_or_else(|_| {
                    tracing::warn!(variable = %var, "single sign-on secret is not set in the environment");
                    String::new()
                }),
                (None, None) => String::new(),
            };
            sso.insert(
                s.tenant_id,
                SsoEntry {
                    issuer: s.issuer,
                    client_id: s.client_id,
                    client_secret: secret,
                    label: s.label,
                    claim_email: s.claim_email,
                    claim_email_verified: s.claim_email_verified,
                    claim_given_name: s.claim_given_name,
                    claim_family_name: s.claim_family_name,
                },
            );
        }
        Ok(tenants
            .into_iter()
            .map(|t| {
                let b = branding.remove(&t.id);
                let colour = |s: Option<&String>, d: Rgb| s.and_then(|s| Rgb::parse(s)).unwrap_or(d);
                let def = ColourScheme::DEFAULT;
                let colours = ColourScheme {
                    primary: colour(b.as_ref().map(|b| &b.primary_colour), def.primary),
                    on_primary: colour(b.as_ref().map(|b| &b.on_primary_colour), def.on_primary),
                    link: colour(b.as_ref().map(|b| &b.link_colour), def.link),
                    accent: colour(b.as_ref().map(|b| &b.accent_colour), def.accent),
                };
                let logo = b
                    .as_ref()
                    .and_then(|b| b.logo_sha256.clone())
                    .and_then(|sha| logo_types.get(&t.id).map(|ct| (sha, ct.clone())));
                let contact = b
                    .map(|b| Contact {
                        email: b.contact_email,
                        phone: b.contact_phone,
                        address: b.contact_address,
                        website: b.contact_website,
                    })
                    .unwrap_or_default();
                DirectoryEntry {
                    require_admin_mfa: t.require_admin_mfa,
                    embeds: t.embeds.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    sso: sso.remove(&t.id),
                    id: TenantId::from_uuid(t.id),
                    hosts: hosts.remove(&t.id).unwrap_or_default(),
                    slug: t.slug,
                    name: t.name,
                    short_name: t.short_name,
                    ods_code: t.ods_code,
                    region: t.region,
                    theme: t.theme,
                    time_zone: t.time_zone,
                    colours,
                    logo,
                    contact,
                }
            })
            .collect())
    }

    /// Every active trust, by name, for the platform's landing page.
    pub async fn list_all_tenants_for_landing(&self) -> Result<Vec<LandingEntry>, DbError> {
        Ok(tenant::Entity::find()
            .filter(tenant::Column::Status.eq(crate::states::TenantStatus::Active))
            .order_by_asc(tenant::Column::Name)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|t| LandingEntry { slug: t.slug, name: t.name, ods_code: t.ods_code })
            .collect())
    }

    /// The most recent platform audit entries (newest first), across all trusts.
    pub async fn recent_audit_across_tenants(&self, limit: u64) -> Result<Vec<platform_audit::Model>, DbError> {
        use sea_orm::QuerySelect;
        Ok(platform_audit::Entity::find()
            .order_by_desc(platform_audit::Column::At)
            .limit(limit)
            .all(&self.conn)
            .await?)
    }
}

pub(crate) async fn audit<C: ConnectionTrait>(
    conn: &C,
    actor: &str,
    action: &str,
    tenant: Option<TenantId>,
    detail: String,
) -> Result<(), DbError> {
    platform_audit::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        at: Set(chrono::Utc::now()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        tenant_id: Set(tenant.map(|t| t.as_uuid())),
        detail: Set(detail),
    }
    .insert(conn)
    .await?;
    Ok(())
}
