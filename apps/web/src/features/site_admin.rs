//! A trust admin edits the sub-site: the logo (PNG or plain SVG, checked by content), colours
//! (refused if any pair fails WCAG 2.2 AA contrast), key messages and custom domains. Edits mark the branding and messages as the admins' own, so `tenants apply`
//! leaves them alone, and every instance reloads the trust's site at once.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::uploads::{self, Scanned};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Data, Form, Multipart, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;
use std::sync::Arc;
use trellis_db::audit;
use trellis_db::domains::ClaimRefused;
use trellis_db::held::Kind;
use trellis_db::site::{self as db_site, MessageInput};
use trellis_domain::MessageId;
use trellis_domain::colour::{ColourScheme, Rgb};
use trellis_domain::tenant_spec::{MAX_LOGO_BYTES, check_logo, sniff_logo};
use trellis_integrations::dns;

/// Reloads this instance's sites and tells the others, after an admin's edit; a failure is
/// logged (the others catch up at their next periodic reload).
pub(crate) async fn announce(state: &AppState, reason: &str) {
    if let Err(e) = crate::context::directory::reload_and_announce(state, reason).await {
        tracing::warn!(error = %e, reason, "reload after an admin's edit failed");
    }
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
fn page_with(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    errors: &FormErrors,
    values: serde_json::Value,
    messages: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Edit your site",
        &[("Home", "/"), ("Your profile", "/profile")],
    );
    ctx.insert("csrf_token", &token.0);
    errors.insert_into(&mut ctx);
    // Every field is defined: the site's colours and empty message fields unless given.
    let mut all = colour_values(&site.entry.colours);
    if let Some(map) = all.as_object_mut() {
        for f in ["title", "body", "starts_on", "ends_on"] {
            map.insert(f.to_owned(), json!(""));
        }
        if let serde_json::Value::Object(given) = values {
            map.extend(given);
        }
    }
    for f in ["domain"] {
        if let Some(map) = all.as_object_mut() {
            map.entry(f).or_insert(json!(""));
        }
    }
    ctx.insert("values", &all);
    ctx.insert("messages", &messages["list"]);
    ctx.insert("held", &messages["held"]);
    ctx.insert("domains", &messages["domains"]);
    page::render(state, Some(site), "pages/admin_site.html", &ctx, status)
}

/// What the editor lists: the key messages (`list`) and the custom domains (`domains`).
async fn messages_json(state: &AppState, site: &Site) -> Result<serde_json::Value, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let all = db_site::all_messages(&tx).await?;
    let held = trellis_db::held::recent(&tx, Kind::Logo, None, 5).await?;
    tx.commit().await?;
    let domains = state.dbs.platform.custom_domains_of_tenant(site.entry.id).await?;
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%-d %B %Y at %H:%M UTC").to_string();
    Ok(json!({
        "held": uploads::held_rows(&held),
        "list": all
            .iter()
            .map(|m| json!({
                "id": m.id.to_string(), "title": m.title, "body": m.body,
                "starts_on": m.starts_on.to_string(), "ends_on": m.ends_on.map(|d| d.to_string()).unwrap_or_default(),
            }))
            .collect::<Vec<_>>(),
        "domains": domains
            .iter()
            .map(|d| json!({
                "host": d.host,
                "declared": d.kind == "declared",
                "verified": d.verified_at.is_some(),
                "record_name": dns::challenge_name(&d.host),
                "record_value": d.token.as_deref().map(dns::challenge_value).unwrap_or_default(),
                "checked": d.checked_at.map(when).unwrap_or_default(),
                "result": d.check_result.clone().unwrap_or_default(),
            }))
            .collect::<Vec<_>>(),
    }))
}

fn colour_values(c: &ColourScheme) -> serde_json::Value {
    json!({ "primary": c.primary.to_string(), "on_primary": c.on_primary.to_string(), "link": c.link.to_string(), "accent": c.accent.to_string() })
}

/// The site editor: colours and key messages.
#[handler]
pub async fn edit(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditSite>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    let messages = messages_json(state, site).await?;
    page_with(state, site, req, token, &FormErrors::new(), colour_values(&site.entry.colours), messages, StatusCode::OK)
}

#[derive(Debug, Deserialize, Default)]
pub struct ColoursForm {
    #[serde(default)]
    primary: String,
    #[serde(default)]
    on_primary: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    accent: String,
}

/// Sets the colours, or shows each failing pair with its ratio.
#[handler]
pub async fn colours(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditSite>,
    token: &CsrfToken,
    Form(f): Form<ColoursForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let mut parse = |field: &str, v: &str| {
        Rgb::parse(v.trim()).or_else(|| {
            errors
                .insert(field, format!("Enter the colour as 6 hexadecimal digits after #, like #005eb8 (got \"{v}\")"));
            None
        })
    };
    let scheme = match (
        parse("primary", &f.primary),
        parse("on_primary", &f.on_primary),
        parse("link", &f.link),
        parse("accent", &f.accent),
    ) {
        (Some(primary), Some(on_primary), Some(link), Some(accent)) => {
            Some(ColourScheme { primary, on_primary, link, accent })
        }
        _ => None,
    };
    let values = json!({ "primary": f.primary, "on_primary": f.on_primary, "link": f.link, "accent": f.accent });
    let Some(scheme) = scheme else {
        let messages = messages_json(state, site).await?;
        return page_with(state, site, req, token, &errors, values, messages, StatusCode::UNPROCESSABLE_ENTITY);
    };
    match db_site::admin_set_colours(&tx, scheme).await? {
        Ok(()) => {
            audit::record(
                &tx,
                Some(me.person),
                "branding.colours",
                &scheme.primary.to_string(),
                None,
                colour_values(&scheme),
            )
            .await?;
            tx.commit().await?;
            announce(state, "site-edit").await;
            Ok(page::see_other_saying(req, "/admin/site", "Colours updated"))
        }
        Err(failures) => {
            tx.rollback().await?;
            let errors: FormErrors = failures.into_iter().map(|f| (f.field.to_owned(), contrast_words(&f))).collect();
            let messages = messages_json(state, site).await?;
            page_with(state, site, req, token, &errors, values, messages, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// A contrast failure in the words of the form: its fields by their labels, and what to do.
pub(crate) fn contrast_words(f: &trellis_domain::colour::ContrastFailure) -> String {
    let label = |field: &str| match field {
        "primary" => "the header and button background",
        "on_primary" => "the text on the header and buttons",
        "link" => "the link colour",
        "accent" => "the decorative border colour",
        _ => "this colour",
    };
    let against = match f.against {
        Some(bg) => label(bg).to_owned(),
        None => "the page".to_owned(),
    };
    format!(
        "Choose a different colour: {} is too hard to see against {} (contrast {:.2}:1; it needs at least {}:1)",
        label(f.field),
        against,
        f.ratio,
        f.min
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct MessageForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    /// The date as one `yyyy-mm-dd` field (the API's and older forms' way) …
    #[serde(default)]
    starts_on: String,
    /// … or as the NHS date input's day, month and year.
    #[serde(default, rename = "starts_on-day")]
    starts_on_day: String,
    #[serde(default, rename = "starts_on-month")]
    starts_on_month: String,
    #[serde(default, rename = "starts_on-year")]
    starts_on_year: String,
    #[serde(default)]
    ends_on: String,
    #[serde(default, rename = "ends_on-day")]
    ends_on_day: String,
    #[serde(default, rename = "ends_on-month")]
    ends_on_month: String,
    #[serde(default, rename = "ends_on-year")]
    ends_on_year: String,
    /// `save` or `delete` (editing an existing message).
    #[serde(default)]
    action: String,
}

fn parse_message(f: &MessageForm) -> Result<MessageInput, FormErrors> {
    let mut errors = FormErrors::new();
    let title = f.title.trim();
    if title.is_empty() || title.chars().count() > 120 {
        errors.insert("title", "Enter a title of up to 120 characters");
    }
    let body = f.body.trim();
    if body.is_empty() || body.chars().count() > 2000 {
        errors.insert("body", "Enter the message, up to 2,000 characters");
    }
    let starts = page::date_entered(&f.starts_on, [&f.starts_on_day, &f.starts_on_month, &f.starts_on_year]);
    let starts = match starts {
        Some(Ok(d)) => Some(d),
        _ => {
            errors.insert("starts_on", "Enter the first day to show it as a real date, for example 1 12 2026");
            None
        }
    };
    let ends = match page::date_entered(&f.ends_on, [&f.ends_on_day, &f.ends_on_month, &f.ends_on_year]) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(())) => {
            errors.insert(
                "ends_on",
                "Enter the last day to show it as a real date, for example 31 3 2027, or leave it empty",
            );
            None
        }
    };
    if let (Some(s), Some(e)) = (starts, ends)
        && e < s
    {
        errors.insert("ends_on", "The last day must not be before the first");
    }

    match starts {
        Some(starts_on) if errors.is_empty() => {
            Ok(MessageInput { title: title.to_owned(), body: body.to_owned(), starts_on, ends_on: ends })
        }
        _ => Err(errors),
    }
}

/// Adds a key message.
#[handler]
pub async fn add_message(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditSite>,
    token: &CsrfToken,
    Form(f): Form<MessageForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let input = match parse_message(&f) {
        Ok(i) => i,
        Err(errors) => {
            let messages = messages_json(state, site).await?;
            let values = json!({
                "title": f.title,
                "body": f.body,
                "starts_on": page::date_as_typed(&f.starts_on, [&f.starts_on_day, &f.starts_on_month, &f.starts_on_year]),
                "ends_on": page::date_as_typed(&f.ends_on, [&f.ends_on_day, &f.ends_on_month, &f.ends_on_year]),
            });
            return page_with(state, site, req, token, &errors, values, messages, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let m = db_site::add_message(&tx, input).await?;
    audit::record(&tx, Some(me.person), "site.message_added", &m.title, None, json!({ "id": m.id.to_string() }))
        .await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, "/admin/site", "Key message added"))
}

/// Saves or deletes one of this trust's key messages.
#[handler]
pub async fn edit_message(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::EditSite>,
    Path(id_text): Path<String>,
    Form(f): Form<MessageForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let message: MessageId = page::path_id(&id_text)?;
    if f.action == "delete" {
        if db_site::delete_message(&tx, message).await? == 0 {
            return Err(AppError::NotFound);
        }
        audit::record(&tx, Some(me.person), "site.message_deleted", &id_text, None, json!({})).await?;
    } else {
        let input = parse_message(&f)
            .map_err(|e| AppError::BadRequest(e.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(". ")))?;
        db_site::admin_edit_message(&tx, message, input).await?;
        audit::record(&tx, Some(me.person), "site.message_edited", &id_text, None, json!({})).await?;
    }
    tx.commit().await?;
    let said = if f.action == "delete" { "Key message deleted" } else { "Key message updated" };
    Ok(page::see_other_saying(req, "/admin/site", said))
}

/// Uploads a new logo (PNG or plain SVG, checked by content, size-limited), or removes the logo.
/// A bad file is refused with the reason and nothing changes.
#[handler]
pub async fn logo(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditSite>,
    token: &CsrfToken,
    mut form: Multipart,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let mut file: Option<(Option<String>, Vec<u8>)> = None;
    let mut remove = false;
    let mut too_big = false;
    while let Some(field) =
        form.next_field().await.map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}.")))?
    {
        match field.name() {
            Some("logo") => {
                let name = field.file_name().map(str::to_owned);
                let mut bytes = Vec::new();
                let mut reader = field.into_async_read();
                use tokio::io::AsyncReadExt;
                let mut chunk = [0u8; 16 * 1024];
                loop {
                    let n = reader
                        .read(&mut chunk)
                        .await
                        .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}.")))?;
                    if n == 0 {
                        break;
                    }
                    if bytes.len() + n > MAX_LOGO_BYTES {
                        too_big = true;
                        break;
                    }
                    bytes.extend_from_slice(&chunk[..n]);
                }
                file = Some((name, bytes));
            }
            Some("action") => remove = field.text().await.unwrap_or_default() == "remove",
            _ => {}
        }
    }
    let refuse = |message: String| async move {
        let messages = messages_json(state, site).await?;
        page_with(
            state,
            site,
            req,
            token,
            &FormErrors::one("logo", message),
            colour_values(&site.entry.colours),
            messages,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let upload = if remove {
        None
    } else {
        let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty() || too_big) else {
            return refuse("Choose a PNG or SVG file for the logo".into()).await;
        };
        let shown = name.unwrap_or_else(|| "The file".into());
        if too_big {
            return refuse(format!("{shown} is larger than {} KB: choose a smaller logo", MAX_LOGO_BYTES / 1024)).await;
        }
        let Some(content_type) = sniff_logo(&bytes) else {
            return refuse(format!("{shown} is not a PNG or SVG image")).await;
        };
        let kept = match check_logo(&bytes, content_type) {
            Ok(kept) => kept,
            Err(e) => return refuse(format!("{shown} cannot be used: {e}")).await,
        };
        let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
        match uploads::scan_bytes(state, site, &who, Kind::Logo, &shown, &bytes).await? {
            Scanned::Pass => {}
            Scanned::Refuse(m) | Scanned::Infected(m) => return refuse(m).await,
            Scanned::Hold(_) => {
                let sha = hex::encode(sha2::Sha256::digest(&bytes));
                let file = uploads::HeldFile::Bytes(&bytes);
                uploads::hold(state, site, Some(me.person), Kind::Logo, "", &shown, file, &sha).await?;
                return Ok(page::see_other_saying(
                    req,
                    "/admin/site",
                    "Logo received: it is waiting for a virus scan, and is shown once it has been scanned",
                ));
            }
        }
        Some((content_type, kept))
    };
    let said = if upload.is_some() { "Logo updated" } else { "Logo removed: the site shows its name instead" };
    set_logo(state, site, Some(me.person), upload).await?;
    Ok(page::see_other_saying(req, "/admin/site", said))
}

/// Sets (or, with `None`, removes) the trust's logo, already checked and scanned; audited.
pub(crate) async fn set_logo(
    state: &AppState,
    site: &Site,
    by: Option<trellis_domain::PersonId>,
    upload: Option<(&'static str, Vec<u8>)>,
) -> Result<(), AppError> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    let size = upload.as_ref().map_or(0, |(_, b)| b.len());
    let sha = db_site::admin_set_logo(&tx, upload).await?;
    audit::record(
        &tx,
        by,
        if sha.is_some() { "branding.logo" } else { "branding.logo_removed" },
        sha.as_deref().unwrap_or("none"),
        None,
        json!({ "bytes": size }),
    )
    .await?;
    tx.commit().await?;
    announce(state, "site-edit").await;
    Ok(())
}

#[derive(Debug, Deserialize, Default)]
pub struct DomainForm {
    #[serde(default)]
    domain: String,
    /// `check` or `remove` (on a listed domain).
    #[serde(default)]
    action: String,
}

/// Adds a custom domain: claimed with a token the trust publishes in DNS, served once checked.
#[handler]
pub async fn add_domain(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditSite>,
    token: &CsrfToken,
    Form(f): Form<DomainForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let raw = f.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let base = state.config.server.base_domain.to_ascii_lowercase();
    let problem = match trellis_domain::host::HostName::parse(&raw) {
        _ if raw.is_empty() => Some("Enter the domain, like learning.your-trust.nhs.uk".to_owned()),
        Err(e) => Some(format!("\"{raw}\" is not a domain name: {e}")),
        Ok(_) if raw.parse::<std::net::IpAddr>().is_ok() || !raw.contains('.') => {
            Some("Enter a domain name with at least one dot, not an address".to_owned())
        }
        Ok(_) if raw == base || raw.ends_with(&format!(".{base}")) => {
            Some(format!("{raw} is part of the platform's own domain; choose a domain your trust owns"))
        }
        Ok(_) => None,
    };
    let refuse = |message: String| async move {
        let messages = messages_json(state, site).await?;
        page_with(
            state,
            site,
            req,
            token,
            &FormErrors::one("domain", message),
            json!({ "domain": f.domain }),
            messages,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    if let Some(p) = problem {
        return refuse(p).await;
    }
    let verify_token = hex::encode(rand::random::<[u8; 16]>());
    let actor = format!("person:{}", me.person);
    match state.dbs.platform.claim_domain_for_tenant(site.entry.id, &raw, &verify_token, &actor).await? {
        Ok(()) => {}
        Err(ClaimRefused::AlreadyYours) => return refuse(format!("{raw} is already listed for your site")).await,
        Err(ClaimRefused::Taken) => {
            return refuse(format!(
                "{raw} is already claimed on this platform. If it belongs to your trust, contact the platform's operators"
            ))
            .await;
        }
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    audit::record(&tx, Some(me.person), "branding.domain_claimed", &raw, None, json!({})).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(
        req,
        "/admin/site#domains",
        format!("{raw} added: put the TXT record shown in its DNS, then check it"),
    ))
}

/// Checks a claimed domain's DNS now (and serves it if the token is there), or removes it.
#[handler]
pub async fn domain_action(
    req: &Request,
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::EditSite>,
    Form(f): Form<DomainForm>,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let host = f.domain.trim().to_ascii_lowercase();
    let domains = state.dbs.platform.custom_domains_of_tenant(site.entry.id).await?;
    // Only this trust's own domains: another trust's (or an unknown one) is simply not found.
    let Some(domain) = domains.into_iter().find(|d| d.host == host) else {
        return Err(AppError::NotFound);
    };
    let actor = format!("person:{}", me.person);
    let action = match f.action.as_str() {
        "remove" => {
            if !state.dbs.platform.remove_domain_of_tenant(site.entry.id, &host, &actor).await? {
                return Err(AppError::BadRequest(format!(
                    "{host} was set up by the platform's operators; ask them to remove it."
                )));
            }
            "branding.domain_removed"
        }
        _ => {
            let Some(token) = domain.token.filter(|_| domain.verified_at.is_none()) else {
                return Ok(page::see_other_saying(req, "/admin/site#domains", format!("{host} is already verified")));
            };
            let (verified, result) = match state.dns.check(&host, &token).await {
                dns::Check::Verified => (true, "Verified: the TXT record holds the value shown".to_owned()),
                dns::Check::NotYet(why) => (false, why),
            };
            state.dbs.platform.record_domain_check_for_tenant(site.entry.id, &host, verified, &result, &actor).await?;
            if !verified {
                let tx = state.dbs.app.begin(site.entry.id).await?;
                audit::record(
                    &tx,
                    Some(me.person),
                    "branding.domain_check_failed",
                    &host,
                    None,
                    json!({ "result": result }),
                )
                .await?;
                tx.commit().await?;
                return Ok(page::see_other_saying(
                    req,
                    "/admin/site#domains",
                    format!("DNS checked for {host}, not verified yet: {result}"),
                ));
            }
            "branding.domain_verified"
        }
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    audit::record(&tx, Some(me.person), action, &host, None, json!({})).await?;
    tx.commit().await?;
    announce(state, "site-edit").await;
    let said = if action == "branding.domain_removed" {
        format!("{host} removed")
    } else {
        format!("{host} verified: the site answers there")
    };
    Ok(page::see_other_saying(req, "/admin/site#domains", said))
}
