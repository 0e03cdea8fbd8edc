//! Custom domains a trust admin claims for their site: claimed with a verification token, served
//! only once a DNS check finds the token (see `trellis_integrations::dns`). `tenant_hosts` is a
//! platform table (hosts are resolved before any trust is known), so these go through
//! [`PlatformDb`], each change in the platform audit log.

use crate::entities::tenant_host;
use crate::{DbError, PlatformDb};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use trellis_domain::TenantId;

/// A custom domain of a trust, as its admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomDomain {
    pub host: String,
    /// `declared` (by the operator, in tenant.toml) or `admin`.
    pub kind: String,
    pub verified_at: Option<DateTime<Utc>>,
    pub token: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub check_result: Option<String>,
}

/// Why a claim was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimRefused {
    /// Another trust has it (verified or claimed).
    Taken,
    /// This trust already has it.
    AlreadyYours,
}

impl PlatformDb {
    /// The custom domains of one trust (its admins' page).
    pub async fn custom_domains_of_tenant(&self, tenant: TenantId) -> Result<Vec<CustomDomain>, DbError> {
        Ok(tenant_host::Entity::find()
            .filter(tenant_host::Column::TenantId.eq(tenant.as_uuid()))
            .order_by_asc(tenant_host::Column::Host)
            .all(&self.conn)
            .await?
            .into_iter()
            .map(|h| CustomDomain {
                host: h.host,
                kind: h.kind,
                verified_at: h.verified_at,
                token: h.verify_token,
                checked_at: h.checked_at,
                check_result: h.check_result,
            })
            .collect())
    }

    /// A trust admin claims `host` (unverified until its DNS check passes).
    pub async fn claim_domain_for_tenant(
        &self,
        tenant: TenantId,
        host: &str,
        token: &str,
        actor: &str,
    ) -> Result<Result<(), ClaimRefused>, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        if let Some(h) = tenant_host::Entity::find_by_id(host.to_owned()).one(&tx).await? {
            tx.rollback().await?;
            return Ok(Err(if h.tenant_id == tenant.as_uuid() {
                ClaimRefused::AlreadyYours
            } else {
                ClaimRefused::Taken
            }));
        }
        let now = Utc::now();
        tenant_host::ActiveModel {
            host: Set(host.to_owned()),
            tenant_id: Set(tenant.as_uuid()),
            kind: Set("admin".into()),
            verified_at: Set(None),
            created_at: Set(now),
            verify_token: Set(Some(token.to_owned())),
            checked_at: Set(None),
            check_result: Set(None),
        }
        .insert(&tx)
        .await?;
        crate::platform::audit(&tx, actor, "domain.claimed", Some(tenant), host.to_owned()).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Records a DNS check of one of the trust's claimed domains; `verified` makes it served.
    pub async fn record_domain_check_for_tenant(
        &self,
        tenant: TenantId,
        host: &str,
        verified: bool,
        result: &str,
        actor: &str,
    ) -> Result<bool, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let now = Utc::now();
        let mut update = tenant_host::Entity::update_many()
            .filter(tenant_host::Column::Host.eq(host))
            .filter(tenant_host::Column::TenantId.eq(tenant.as_uuid()))
            .col_expr(tenant_host::Column::CheckedAt, Expr::value(Some(now)))
            .col_expr(
                tenant_host::Column::CheckResult,
                Expr::value(Some(result.chars().take(300).collect::<String>())),
            );
        if verified {
            update = update.col_expr(tenant_host::Column::VerifiedAt, Expr::value(Some(now)));
        }
        let found = update.exec(&tx).await?.rows_affected == 1;
        if found && verified {
            crate::platform::audit(&tx, actor, "domain.verified", Some(tenant), host.to_owned()).await?;
        }
        tx.commit().await?;
        Ok(found)
    }

    /// Removes a domain a trust admin added (domains the operator declared stay).
    pub async fn remove_domain_of_tenant(&self, tenant: TenantId, host: &str, actor: &str) -> Result<bool, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let gone = tenant_host::Entity::delete_many()
            .filter(tenant_host::Column::Host.eq(host))
            .filter(tenant_host::Column::TenantId.eq(tenant.as_uuid()))
            .filter(tenant_host::Column::Kind.eq("admin"))
            .exec(&tx)
            .await?
            .rows_affected
            == 1;
        if gone {
            crate::platform::audit(&tx, actor, "domain.removed", Some(tenant), host.to_owned()).await?;
        }
        tx.commit().await?;
        Ok(gone)
    }
}
