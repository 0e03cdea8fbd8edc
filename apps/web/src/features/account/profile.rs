//! The signed-in person's profile.

use super::*;
use crate::http::page::see_other;
use crate::http::{Ctx, Member, may};
use trellis_db::audit;
use trellis_domain::privacy::{Objections, Purpose};

/// The signed-in person's profile: details, roles here, and their other trusts.
#[handler]
pub async fn profile(
    Ctx { req, state, site }: Ctx<'_>,
    session: &Session,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    let idle =
        chrono::Duration::minutes(i64::try_from(state.config.auth.session_idle_minutes).unwrap_or(i64::MAX / 120));
    let live = sessions::live_sessions(&tx, me.person, chrono::Utc::now() - idle).await?;
    // Badges earned (or lapsed) since last seen are recorded in a transaction of their own.
    let changes = crate::features::badges::changes(&tx, site, me.person).await?;
    let held = trellis_db::badges::awards_of(&tx, me.person).await?;
    tx.commit().await?;
    let awards = if changes.is_empty() {
        held
    } else {
        crate::features::badges::record(state, site, me.person, &changes).await?;
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let now = trellis_db::badges::awards_of(&tx, me.person).await?;
        tx.commit().await?;
        now
    };
    let this = auth::handle(session);
    let tz = site.zone();
    let when = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%-d %B %Y at %H:%M").to_string();
    let live: Vec<_> = live
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(),
                "current": Some(s.id) == this,
                "started": when(s.created_at),
                "last_seen": when(s.last_seen_at),
                "ip": s.ip.clone().unwrap_or_else(|| "unknown".into()),
                "browser": describe_agent(s.user_agent.as_deref()),
                "method": match s.method.as_str() { "sso" => "single sign-on", "mfa" => "password and security code", _ => "password" },
            })
        })
        .collect();
    // The person's own view spans their trusts: the identity path reads their memberships.
    let itx = state.dbs.identity.begin_read(site.entry.id).await?;
    let others = id::memberships_of(&itx, me.person).await?;
    itx.commit().await?;
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
    ctx.insert("role_names", &me.roles.iter().map(|r| r.label()).collect::<Vec<_>>());
    ctx.insert("trusts", &trusts);
    ctx.insert("sessions", &live);
    ctx.insert("badges", &crate::features::badges::awards_json(site, &awards));
    ctx.insert(
        "purposes",
        &Purpose::ALL
            .iter()
            .map(|p| json!({ "key": p.key(), "label": p.label(), "hint": p.hint(), "stopped": person.objections.objects_to(*p) }))
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/profile.html", &ctx, StatusCode::OK)
}

/// A short description of a browser from its user-agent string ("Firefox on Windows").
fn describe_agent(agent: Option<&str>) -> String {
    let Some(a) = agent else { return "Unknown browser".into() };
    let browser = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")]
        .iter()
        .find(|(k, _)| a.contains(k))
        .map_or("Unknown browser", |(_, n)| n);
    let os = [
        ("Windows", "Windows"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Android", "Android"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(k, _)| a.contains(k))
    .map(|(_, n)| *n);
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_owned(),
    }
}

#[derive(Debug, Deserialize)]
pub struct EndSessionPath {
    id: String,
}

/// Ends one of the signed-in person's sessions on this site (their own, or another device's).
#[handler]
pub async fn end_session(
    req: &Request,
    Data(state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    session: &Session,
    member: Member<may::Anyone>,
    poem::web::Path(p): poem::web::Path<EndSessionPath>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let target: uuid::Uuid = crate::http::page::path_id(&p.id)?;
    // Only the person's own sessions match: another person's id is simply not found.
    if !sessions::end(&tx, me.person, target).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &tx,
        Some(me.person),
        "session.ended",
        &target.to_string(),
        client_ip(state, req).as_deref(),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    if auth::handle(session) == Some(target) {
        session.purge();
        return Ok(see_other("/"));
    }
    Ok(crate::http::page::see_other_saying(req, "/profile#sessions", "Signed out on that device"))
}

/// The optional uses of their information the person stops (the boxes ticked) or allows.
#[handler]
pub async fn objections(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    body: poem::web::Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let ticked = Objections::from_ticked(body.0.iter().filter(|(k, _)| k == "stop").map(|(_, v)| v.as_str()));
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    let before = id::set_objections(&itx, me.person, &ticked).await?.ok_or(AppError::NotFound)?;
    if before != ticked {
        let changed: Vec<_> = Purpose::ALL
            .iter()
            .filter(|p| before.objects_to(**p) != ticked.objects_to(**p))
            .map(|p| json!({ "purpose": p.key(), "stopped": ticked.objects_to(*p) }))
            .collect();
        let ip = client_ip(state, req);
        audit::record(
            &itx,
            Some(me.person),
            "privacy.objections",
            &me.person.to_string(),
            ip.as_deref(),
            json!({ "changed": changed }),
        )
        .await?;
    }
    itx.commit().await?;
    let said = if before == ticked {
        "No change: your choices were already as you set them"
    } else {
        "Your choices about optional uses of your information are saved"
    };
    Ok(page::see_other_saying(req, "/profile#choices", said))
}
