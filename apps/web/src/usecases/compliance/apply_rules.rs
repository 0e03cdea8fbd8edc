//! A trust's training rules reach everyone they take in, by whichever door they arrive:
//! registration approved at once, approval, joining with an account, a first single sign-on, an
//! accepted invitation, reinstatement, a change of their record, a staff import. Each applies the
//! rules to the person in its own transaction; the daily run reconciles what remains.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use trellis_db::TenantTx;
use trellis_db::compliance;
use trellis_domain::PersonId;

/// Applies every rule of this trust to `person`, in the caller's transaction. Returns whether
/// their compliance changed (call [`changed`] after committing).
pub async fn arrived(tx: &TenantTx, site: &Site, person: PersonId) -> Result<bool, AppError> {
    let a = compliance::apply_for(tx, person, site.today()).await?;
    Ok(a.assigned > 0 || a.enrolled > 0)
}

/// After a person's record changed: rules that now take them in apply, and open entries of rules
/// that no longer do are removed (completed ones are kept). Returns whether anything changed.
pub async fn moved(tx: &TenantTx, site: &Site, person: PersonId) -> Result<bool, AppError> {
    let r = compliance::reconcile_person(tx, person, site.today()).await?;
    Ok(r.assigned > 0 || r.enrolled > 0 || r.removed > 0)
}

/// Forgets the trust's kept compliance totals if they changed (after the transaction commits).
pub fn changed(state: &AppState, site: &Site, did: bool) {
    if did {
        state.totals.changed(site.entry.id);
    }
}
