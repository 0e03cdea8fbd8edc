//! The signed-in person's profile.

use super::*;

/// The signed-in person's profile: details, roles here, and their other trusts.
#[handler]
pub async fn profile(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(site): Data<&Arc<Site>>,
    session: &Session,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let me = match auth::signed_in_and_agreed(state, site, session).await? {
        Ok(me) => me,
        Err(redirect) => return Ok(redirect),
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let others = state.dbs.platform.memberships_of_person_across_tenants(me.person).await?;
    let names: BTreeMap<String, String> =
        state.directory.sites().iter().map(|s| (s.entry.id.to_string(), s.entry.name.clone())).collect();
    let trusts: Vec<_> = others
        .iter()
        .map(|(tenant, status)| json!({ "name": names.get(&tenant.to_string()).cloned().unwrap_or_default(), "status": status }))
        .collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Your profile", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("mfa_enabled", &person.mfa_enabled);
    ctx.insert("person", &json!({
        "name": format!("{} {}", person.given_name, person.family_name),
        "email": person.email,
        "job_role": person.job_role,
        "place_of_work": person.place_of_work,
        "register": person.register_kind.map(|k| format!("{} {}", k.to_uppercase(), person.register_number.unwrap_or_default())),
    }));
    ctx.insert("roles", &me.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
    ctx.insert("trusts", &trusts);
    page::render(state, Some(site), "pages/profile.html", &ctx, StatusCode::OK)
}
