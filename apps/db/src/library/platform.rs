//! The national library's curators' path across trusts (as the platform role): trusts'
//! proposals (titles only) and every trust's reports on national resources.

use super::{Report, report_of};
use crate::{DbError, PlatformDb};
use chrono::{DateTime, Utc};
use trellis_domain::{PersonId, TenantId};
use uuid::Uuid;

/// A trust's resource proposed for the national library, for the platform's curators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub trust: TenantId,
    pub trust_name: String,
    pub id: Uuid,
    pub title: String,
    pub kind: String,
    pub licence: String,
    pub updated_at: DateTime<Utc>,
}

/// A report, made at any trust, on a national resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalReport {
    pub trust: TenantId,
    pub report: Report,
}

impl PlatformDb {
    /// Every trust's resources proposed for the national library and not yet decided, oldest
    /// first: the platform path's read for the national library's curators (titles only).
    pub async fn library_proposals_across_tenants(&self) -> Result<Vec<Proposal>, DbError> {
        use sea_orm::ConnectionTrait;
        let backend = self.conn.get_database_backend();
        let rows = self
            .conn
            .query_all_raw(crate::tenant_tx::statement(
                backend,
                "SELECT r.tenant_id, t.name, r.id, r.title, r.kind, r.licence, r.updated_at
                   FROM resources r JOIN tenants t ON t.id = r.tenant_id
                  WHERE r.national = 'proposed' AND r.status = 'published'
                  ORDER BY r.updated_at ASC, r.id ASC LIMIT 200",
                vec![],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Proposal {
                    trust: TenantId::from_uuid(r.try_get("", "tenant_id")?),
                    trust_name: r.try_get("", "name")?,
                    id: r.try_get("", "id")?,
                    title: r.try_get("", "title")?,
                    kind: r.try_get("", "kind")?,
                    licence: r.try_get("", "licence")?,
                    updated_at: r.try_get("", "updated_at")?,
                })
            })
            .collect()
    }

    /// Open reports, made at any trust, on the national library's resources, oldest first.
    pub async fn national_library_reports_across_tenants(&self) -> Result<Vec<NationalReport>, DbError> {
        use sea_orm::ConnectionTrait;
        let backend = self.conn.get_database_backend();
        let rows = self
            .conn
            .query_all_raw(crate::tenant_tx::statement(
                backend,
                "SELECT p.tenant_id, p.id, p.resource_id, r.title, r.status AS rstatus, p.person_id, p.reason,
                        p.details, p.created_at
                   FROM resource_reports p JOIN resources r ON r.tenant_id = p.resource_tenant_id AND r.id = p.resource_id
                  WHERE p.resource_tenant_id = $1 AND p.status = 'open'
                  ORDER BY p.created_at ASC, p.id ASC LIMIT 200",
                vec![TenantId::NATIONAL.as_uuid().into()],
            ))
            .await?;
        rows.iter()
            .map(|r| {
                Ok(NationalReport { trust: TenantId::from_uuid(r.try_get("", "tenant_id")?), report: report_of(r)? })
            })
            .collect()
    }

    /// Closes every trust's open reports on a national resource, with the curator's decision.
    pub async fn resolve_national_library_reports_across_tenants(
        &self,
        id: Uuid,
        outcome: &str,
        by: PersonId,
    ) -> Result<u64, DbError> {
        use sea_orm::ConnectionTrait;
        let backend = self.conn.get_database_backend();
        let done = self
            .conn
            .execute_raw(crate::tenant_tx::statement(
                backend,
                "UPDATE resource_reports SET status = 'resolved', outcome = $3, resolved_by = $4, resolved_at = $5
                  WHERE resource_tenant_id = $1 AND resource_id = $2 AND status = 'open'",
                vec![
                    TenantId::NATIONAL.as_uuid().into(),
                    id.into(),
                    outcome.into(),
                    by.as_uuid().into(),
                    Utc::now().into(),
                ],
            ))
            .await?;
        Ok(done.rows_affected())
    }
}
