//! Capability links — a certificate's verification link, a tutor's access to a record: a random
//! token shown or emailed once and kept as its SHA-256, looked up in one trust only, revoked at
//! once by the person who made it, and every opening counted. One implementation for each table
//! that holds such links.

use crate::{DbError, TenantScoped, TenantTx};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};
use trellis_domain::PersonId;
use uuid::Uuid;

/// A table of capability links: which of its columns play each part.
pub(crate) trait Capability: TenantScoped {
    fn id() -> Self::Column;
    fn person() -> Self::Column;
    fn token() -> Self::Column;
    fn revoked_at() -> Self::Column;
    fn views() -> Self::Column;
    fn last_viewed_at() -> Self::Column;
}

/// What is kept of a token.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Revokes one of the person's links at once. Whether there was such a live link.
pub(crate) async fn revoke<E: Capability>(tx: &TenantTx, person: PersonId, id: Uuid) -> Result<bool, DbError> {
    let res = tx
        .update_many::<E>()
        .filter(E::id().eq(id))
        .filter(E::person().eq(person.as_uuid()))
        .filter(E::revoked_at().is_null())
        .col_expr(E::revoked_at(), Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The link with this token in this trust, live or not (the caller tells them apart).
pub(crate) async fn by_token<E: Capability>(
    tx: &TenantTx,
    token: &str,
) -> Result<Option<<E as EntityTrait>::Model>, DbError> {
    Ok(tx.select::<E>().filter(E::token().eq(hash(token))).one(tx).await?)
}

/// Counts an opening.
pub(crate) async fn viewed<E: Capability>(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    tx.update_many::<E>()
        .filter(E::id().eq(id))
        .col_expr(E::views(), Expr::col(E::views()).add(1))
        .col_expr(E::last_viewed_at(), Expr::value(Some(Utc::now())))
        .exec(tx)
        .await?;
    Ok(())
}

/// Declares a table's capability-link columns (all named alike in each such table).
macro_rules! capability {
    ($entity:path, $column:path) => {
        impl $crate::links::Capability for $entity {
            fn id() -> $column {
                <$column>::Id
            }
            fn person() -> $column {
                <$column>::PersonId
            }
            fn token() -> $column {
                <$column>::TokenSha256
            }
            fn revoked_at() -> $column {
                <$column>::RevokedAt
            }
            fn views() -> $column {
                <$column>::Views
            }
            fn last_viewed_at() -> $column {
                <$column>::LastViewedAt
            }
        }
    };
}

capability!(crate::entities::certificate_link::Entity, crate::entities::certificate_link::Column);
capability!(crate::entities::record_grant::Entity, crate::entities::record_grant::Column);
capability!(crate::entities::calendar_feed::Entity, crate::entities::calendar_feed::Column);
