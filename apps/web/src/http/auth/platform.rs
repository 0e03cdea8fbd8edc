//! A platform administrator's session on the platform's own site (the base domain).

use crate::context::AppState;
use crate::error::AppError;
use poem::session::Session;
use trellis_domain::PersonId;

pub const K_PERSON: &str = "platform_person";
pub const K_EPOCH: &str = "platform_epoch";
pub const K_SIGNED_IN: &str = "platform_signed_in_at";

/// The signed-in platform administrator, if the session is one and still good.
pub async fn current(state: &AppState, session: &Session) -> Result<Option<PersonId>, AppError> {
    let Some(person) = session.get::<String>(K_PERSON).and_then(|p| p.parse::<PersonId>().ok()) else {
        return Ok(None);
    };
    let signed_in: i64 = session.get(K_SIGNED_IN).unwrap_or(0);
    let absolute = i64::try_from(state.config.auth.session_absolute_hours * 3600).unwrap_or(i64::MAX);
    if chrono::Utc::now().timestamp() - signed_in > absolute {
        session.purge();
        return Ok(None);
    }
    let p = state.dbs.platform.person_by_id_across_tenants(person).await?;
    match p {
        Some(p) if p.platform_admin && p.active && Some(p.session_epoch) == session.get::<i32>(K_EPOCH) => {
            Ok(Some(person))
        }
        _ => {
            session.purge();
            Ok(None)
        }
    }
}
