//! Terms acceptance: the platform's documents (per person) and each trust's own (per membership).

use crate::entities::{platform_terms_acceptance, tenant_terms, tenant_terms_acceptance};
use crate::{DbError, TenantTx};
use chrono::Utc;
use sea_orm::{ColumnTrait, QueryFilter, Set};
use trellis_domain::PersonId;
use trellis_domain::terms::Document;

/// This trust's own terms, if it has any.
pub async fn tenant_terms(tx: &TenantTx) -> Result<Option<Document>, DbError> {
    Ok(tx.select::<tenant_terms::Entity>().one(tx).await?.map(|t| Document {
        key: "trust-terms".into(),
        title: t.title,
        version: t.version,
        body: t.body,
    }))
}

/// The documents among `platform` and this trust's terms that `person` has not accepted at their
/// current version.
pub async fn outstanding(itx: &TenantTx, person: PersonId, platform: &[Document]) -> Result<Vec<Document>, DbError> {
    let accepted: Vec<(String, String)> = itx
        .select_platform::<platform_terms_acceptance::Entity>()
        .filter(platform_terms_acceptance::Column::PersonId.eq(person.as_uuid()))
        .all(itx)
        .await?
        .into_iter()
        .map(|a| (a.document_key, a.version))
        .collect();
    let mut out: Vec<Document> =
        platform.iter().filter(|d| !accepted.iter().any(|(k, v)| *k == d.key && *v == d.version)).cloned().collect();
    if let Some(trust) = tenant_terms(itx).await? {
        let done = itx
            .select::<tenant_terms_acceptance::Entity>()
            .filter(tenant_terms_acceptance::Column::PersonId.eq(person.as_uuid()))
            .filter(tenant_terms_acceptance::Column::Version.eq(trust.version.clone()))
            .one(itx)
            .await?
            .is_some();
        if !done {
            out.push(trust);
        }
    }
    Ok(out)
}

/// Records that `person` accepted these documents (at these versions), here and now.
pub async fn accept(itx: &TenantTx, person: PersonId, documents: &[Document], ip: Option<&str>) -> Result<(), DbError> {
    let now = Utc::now();
    for d in documents {
        if d.key == "trust-terms" {
            itx.insert(tenant_terms_acceptance::ActiveModel {
                tenant_id: Set(itx.tenant().as_uuid()),
                person_id: Set(person.as_uuid()),
                version: Set(d.version.clone()),
                accepted_at: Set(now),
                ip: Set(ip.map(str::to_owned)),
            })
            .await?;
        } else {
            itx.insert_platform(platform_terms_acceptance::ActiveModel {
                person_id: Set(person.as_uuid()),
                document_key: Set(d.key.clone()),
                version: Set(d.version.clone()),
                accepted_at: Set(now),
                ip: Set(ip.map(str::to_owned)),
            })
            .await?;
        }
    }
    Ok(())
}
