//! An invitation to join this trust with an account the person already has (from a staff import,
//! or a platform administrator appointing a training manager): nothing changes until the
//! account's owner accepts it through the emailed link.

use super::*;
use crate::http::Ctx;
use trellis_db::audit;

/// Shows the invitation and a button to accept it (a GET never accepts, so mail scanners cannot).
#[handler]
pub async fn invitation_page(
    Ctx { req, state, site }: Ctx<'_>,
    token: &CsrfToken,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let found = accounts::invitation(&tx, &q.token).await?;
    tx.commit().await?;
    match found {
        Some(i) if !i.accepted && !i.revoked && i.expires_at > chrono::Utc::now() => form_page(
            state,
            site,
            req,
            token,
            "pages/invitation.html",
            &format!("Join {}", site.entry.name),
            &FormErrors::new(),
            json!({ "token": q.token, "email": i.email }),
            StatusCode::OK,
        ),
        _ => unusable(state, site, req),
    }
}

fn unusable(state: &AppState, site: &Site, req: &Request) -> Result<Response, AppError> {
    message_page(
        state,
        site,
        req,
        StatusCode::BAD_REQUEST,
        "This invitation cannot be used",
        &format!(
            "It has been accepted already, has expired or was replaced by a newer one. Ask {} to invite you again if you need it.",
            site.entry.name
        ),
        Some(("Go to the home page", "/")),
    )
}

/// What an invitation brings with it.
#[derive(Debug, Deserialize, Default)]
struct Carried {
    #[serde(default)]
    record: Option<trellis_db::staff::StaffRecord>,
    #[serde(default)]
    roles: Vec<String>,
}

/// Accepts: the account joins this trust (approved, with the roles and staff record the invitation
/// carries), and the trust's assignment rules apply to it at once.
#[handler]
pub async fn accept_invitation(
    Ctx { req, state, site }: Ctx<'_>,
    Form(f): Form<TokenForm>,
) -> Result<Response, AppError> {
    let ip = client_ip(state, req);
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let Some(accepted) = accounts::accept_invitation(&tx, &f.token).await? else {
        tx.commit().await?;
        return unusable(state, site, req);
    };
    let carried: Carried = serde_json::from_str(&accepted.record).unwrap_or_default();
    let mut roles: Vec<Role> = carried.roles.iter().filter_map(|r| Role::parse(r)).collect();
    if !roles.contains(&Role::Learner) {
        roles.push(Role::Learner);
    }
    let person = accepted.person;
    if id::membership(&tx, person).await?.is_none() {
        accounts::add_membership(&tx, accounts::Consent::Invited(&accepted), MembershipStatus::Approved, &roles)
            .await?;
    } else {
        for r in &roles {
            id::grant_role(&tx, person, *r, None).await?;
        }
    }
    if let Some(record) = &carried.record {
        trellis_db::staff::set_record(&tx, person, record).await?;
    }
    let rules_changed = crate::usecases::compliance::apply_rules::moved(&tx, site, person).await?;
    audit::record(
        &tx,
        Some(person),
        "membership.invitation_accepted",
        &person.to_string(),
        ip.as_deref(),
        json!({ "invitation": accepted.invitation.to_string() }),
    )
    .await?;
    tx.commit().await?;
    crate::usecases::compliance::apply_rules::changed(state, site, rules_changed);
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        &format!("You have joined {}", site.entry.name),
        "Sign in here with your usual email address and password (or your organisation's sign-in). Your learning record comes with you.",
        Some(("Sign in", "/sign-in")),
    )
}
