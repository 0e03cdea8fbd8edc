//! Demo data: a training manager for each demo trust, so the approval queue can be tried.

use trellis_core::config::Config;
use trellis_core::identity::Role;
use trellis_db::Databases;
use trellis_db::identity::{self, MembershipStatus, NewPerson};

/// The demo managers' password (the demo runs on a local SQLite file only).
pub const PASSWORD: &str = "demo manager password";
/// The demo platform administrator.
pub const PLATFORM_ADMIN: &str = "platform.admin@trellis.localhost";

/// Creates `training.manager@<first eligible domain>` in every trust that has no such person yet;
/// returns `(trust, email)` for each.
pub async fn seed(config: &Config, dbs: &Databases) -> anyhow::Result<Vec<(String, String)>> {
    let hash =
        trellis_web::hash_password(PASSWORD.into(), config.auth.password_memory_kib, config.auth.password_iterations)
            .await?;
    dbs.platform.ensure_platform_admin_across_tenants(PLATFORM_ADMIN, hash, "demo").await?;
    let mut made = Vec::new();
    for entry in dbs.platform.directory_of_all_tenants().await? {
        let tx = dbs.app.begin(entry.id).await?;
        let domains = trellis_db::site::eligibility_domains(&tx).await?;
        tx.commit().await?;
        let Some(domain) = domains.first() else { continue };
        let email = format!("training.manager@{domain}");
        let itx = dbs.platform.begin_identity(entry.id).await?;
        let person = match identity::person_by_email(&itx, &email).await? {
            Some(p) => p,
            None => {
                let hash = trellis_web::hash_password(
                    PASSWORD.into(),
                    config.auth.password_memory_kib,
                    config.auth.password_iterations,
                )
                .await?;
                let p = identity::create_person(
                    &itx,
                    NewPerson {
                        email: email.clone(),
                        password_hash: Some(hash),
                        given_name: "Demo".into(),
                        family_name: "Manager".into(),
                        job_role: "Training manager".into(),
                        place_of_work: entry.ods_code.clone(),
                        register_kind: None,
                        register_number: None,
                    },
                )
                .await?;
                identity::mark_email_verified(&itx, p.id).await?;
                p
            }
        };
        if identity::membership(&itx, person.id).await?.is_none() {
            identity::add_membership(
                &itx,
                person.id,
                MembershipStatus::Approved,
                &[Role::Learner, Role::TrainingManager],
            )
            .await?;
        }
        itx.commit().await?;
        made.push((entry.slug, email));
    }
    Ok(made)
}
