//! The resource library: staff share learning resources (video, audio, documents, images,
//! articles, links) under a licence they choose, after accepting the content policy; everyone at
//! the trust finds them by searching, rates them and leaves feedback; anyone may report one, and
//! the trust's content editors hide, remove (telling the contributor why) or restore it. A
//! contributor may propose a resource for the national library, which the platform's
//! administrators curate ([`platform_queue`]). A content editor adds a resource to a course as a
//! session. Every file is checked by its content and scanned for viruses before it is kept.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::account::render_email;
use crate::features::platform_admin::site_by_slug;
use crate::http::auth::SignedIn;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::upload::{self, Upload};
use crate::http::{Ctx, Member, PlatformAdmin, may};
use crate::usecases::uploads::{self as scan, Uploader};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Multipart, Path, Query};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_db::catalogue::{self as cat, ObjectInput, StoredFile};
use trellis_db::held::{self, Kind};
use trellis_db::library::{self as lib, NewResource, NewVersion, Resource, Version};
use trellis_db::{TenantTx, audit, identity as id, outbox};
use trellis_domain::identity::Permission;
use trellis_domain::library::{CONTENT_POLICY_VERSION, Contributors, Licence, REPORT_REASONS, ResourceKind, is_webvtt};
use trellis_domain::{CourseId, PersonId, TenantId};
use uuid::Uuid;

const PAGE: u64 = 20;
/// The largest captions file accepted.
const MAX_CAPTIONS: u64 = 1024 * 1024;
/// Reports one person may make in an hour.
const REPORTS_PER_HOUR: u64 = 20;
/// Pieces of feedback one person may give in an hour.
const FEEDBACK_PER_HOUR: u64 = 20;
const MAX_TEXT: usize = 20_000;

fn kinds() -> Vec<Value> {
    ResourceKind::ALL.iter().map(|k| json!({ "key": k.as_str(), "label": k.label() })).collect()
}

fn licences() -> Vec<Value> {
    Licence::ALL
        .iter()
        .map(|l| json!({ "key": l.code(), "short": l.short_name(), "name": l.name(), "summary": l.summary(), "deed": l.deed() }))
        .collect()
}

fn reasons() -> Vec<Value> {
    REPORT_REASONS.iter().map(|(k, l)| json!({ "key": k, "label": l })).collect()
}

/// Whether `me` may add resources to this trust's library.
fn may_contribute(me: &SignedIn, who: Contributors) -> bool {
    who == Contributors::Everyone || me.may(Permission::EditContent)
}

/// Whether `me` may change a resource: one of this trust's, contributed by them, or they edit
/// the trust's content.
fn may_edit(me: &SignedIn, r: &Resource) -> bool {
    !r.is_national() && (r.contributor == Some(me.person) || me.may(Permission::EditContent))
}

/// A resource `me` may see: a published one, or (for those who may change it) one withdrawn.
async fn visible(tx: &TenantTx, me: &SignedIn, raw: &str) -> Result<Resource, AppError> {
    let rid: Uuid = page::path_id(raw)?;
    let r = lib::get(tx, rid).await?.ok_or(AppError::NotFound)?;
    if r.status == "published" || may_edit(me, &r) { Ok(r) } else { Err(AppError::NotFound) }
}

fn when(site: &Site, t: chrono::DateTime<chrono::Utc>) -> String {
    t.with_timezone(&site.zone()).format("%-d %B %Y").to_string()
}

fn licence_json(code: &str) -> Value {
    match Licence::parse(code) {
        Some(l) => json!({
            "code": l.code(), "short": l.short_name(), "name": l.name(), "summary": l.summary(),
            "deed": l.deed(), "attribution": l.needs_attribution(),
        }),
        None => json!({ "code": code, "short": code, "name": code, "summary": "", "deed": "", "attribution": true }),
    }
}

fn resource_json(site: &Site, r: &Resource) -> Value {
    json!({
        "id": r.id.to_string(),
        "kind": r.kind,
        "kind_label": ResourceKind::parse(&r.kind).map_or("Resource", ResourceKind::label),
        "title": r.title,
        "description": paragraphs(&r.description),
        "summary": r.description.chars().take(200).collect::<String>(),
        "keywords": r.keywords.split(',').map(str::trim).filter(|k| !k.is_empty()).collect::<Vec<_>>(),
        "audience": r.audience,
        "licence": licence_json(&r.licence),
        "attribution_name": r.attribution_name,
        "attribution_url": r.attribution_url,
        "status": r.status,
        "status_reason": r.status_reason,
        "national": r.is_national(),
        "proposal": r.national,
        "proposal_note": r.national_note,
        "version": r.current_version,
        "pending_version": r.pending_version,
        "updated": when(site, r.updated_at),
        "url": format!("/library/{}", r.id),
    })
}

fn paragraphs(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n").split("\n\n").map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// What the page shows of a version's content (files are served from the resource's address).
pub(crate) fn content_json(r: &Resource, v: &Version) -> Value {
    content_at(r, v, &format!("/library/{}", r.id))
}

/// [`content_json`], its files served from `base` (`<base>/file`, `<base>/captions`).
fn content_at(r: &Resource, v: &Version, base: &str) -> Value {
    json!({
        "kind": r.kind,
        "title": r.title,
        "file_url": v.file.as_ref().map(|_| format!("{base}/file")),
        "file_name": v.file.as_ref().map(|f| f.name.clone()),
        "file_size_kb": v.file.as_ref().map(|f| (f.size + 1023) / 1024),
        "captions_url": v.captions_key.as_ref().map(|_| format!("{base}/captions")),
        "transcript": paragraphs(&v.transcript),
        "alt_text": v.alt_text,
        "url": v.url,
        "body": paragraphs(&v.body),
        "licence": licence_json(&r.licence),
        "attribution_name": r.attribution_name,
        "attribution_url": r.attribution_url,
    })
}

#[derive(Debug, Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    licence: String,
    #[serde(default)]
    page: Option<String>,
}

/// The library: search and browse this trust's resources and the national library's.
#[handler]
pub async fn browse(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    Query(s): Query<Search>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let page_no =
        s.page.as_deref().and_then(|p| p.parse::<u64>().ok()).filter(|p| (1..=10_000).contains(p)).unwrap_or(1);
    let kind = ResourceKind::parse(&s.kind).map(|k| k.as_str().to_owned()).unwrap_or_default();
    let licence = Licence::parse(&s.licence).map(|l| l.code().to_owned()).unwrap_or_default();
    let q = lib::Query {
        text: s.q.chars().take(200).collect(),
        kind: kind.clone(),
        licence: licence.clone(),
        offset: (page_no - 1) * PAGE,
        limit: PAGE,
    };
    let (found, total) = lib::search(&tx, &q).await?;
    let contributors = lib::contributors(&tx).await?;
    let mine = lib::contributed_by(&tx, me.person).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Resource library", &[("Home", "/")]);
    ctx.insert("results", &found.iter().map(|r| resource_json(site, r)).collect::<Vec<_>>());
    ctx.insert("total", &total);
    ctx.insert("query", &json!({ "q": q.text, "kind": kind, "licence": licence }));
    ctx.insert("kinds", &kinds());
    ctx.insert("licences", &licences());
    ctx.insert("may_contribute", &may_contribute(&me, contributors));
    ctx.insert("mine", &mine.iter().map(|r| resource_json(site, r)).collect::<Vec<_>>());
    let pages = total.div_ceil(PAGE);
    let link = |p: u64| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.append_pair("q", &q.text).append_pair("kind", &kind).append_pair("licence", &licence);
        qs.append_pair("page", &p.to_string());
        format!("/library?{}", qs.finish())
    };
    ctx.insert("prev_url", &(page_no > 1).then(|| link(page_no - 1)));
    ctx.insert("next_url", &(page_no < pages).then(|| link(page_no + 1)));
    ctx.insert("page_no", &page_no);
    ctx.insert("pages", &pages.max(1));
    page::render(state, Some(site), "pages/library.html", &ctx, StatusCode::OK)
}

/// The content policy, and the platform's standard licence.
#[handler]
pub async fn policy(Ctx { req, state, site }: Ctx<'_>) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Content policy",
        &[("Home", "/"), ("Resource library", "/library")],
    );
    ctx.insert("policy_version", CONTENT_POLICY_VERSION);
    page::render(state, Some(site), "pages/library_policy.html", &ctx, StatusCode::OK)
}

/// The form for a new resource.
#[handler]
pub async fn new_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let contributors = lib::contributors(&tx).await?;
    let accepted = lib::policy_accepted(&tx, me.person).await?;
    tx.commit().await?;
    if !may_contribute(&me, contributors) {
        return Err(not_a_contributor());
    }
    let values = json!({ "kind": "document", "licence": "cc-by-nc-sa" });
    new_page(state, site, req, &token.0, accepted, values, &FormErrors::new(), StatusCode::OK)
}

fn not_a_contributor() -> AppError {
    AppError::forbidden(
        "Only content editors can add resources here",
        "This trust lets its content editors and training managers add resources to its library. Ask one of them to add yours.",
        Some(("Go to the resource library", "/library")),
    )
}

#[allow(clippy::too_many_arguments)] // the page's parts
fn new_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    accepted: bool,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Add a resource",
        &[("Home", "/"), ("Resource library", "/library")],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("kinds", &kinds());
    ctx.insert("licences", &licences());
    ctx.insert("policy_accepted", &accepted);
    ctx.insert("values", &values);
    ctx.insert("max_upload_mb", &state.config.files.max_upload_mb);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/library_new.html", &ctx, status)
}

/// A resource's details as the form gave them, checked.
fn check_details(f: &Upload, e: &mut FormErrors) -> Option<(ResourceKind, NewResource)> {
    let kind = ResourceKind::parse(&f.get("kind"));
    if kind.is_none() {
        e.insert("kind", "Choose what kind of resource it is");
    }
    let title = f.get("title").trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        e.insert("title", "Enter a title of 1 to 200 characters");
    }
    let description = f.get("description").replace("\r\n", "\n").trim().to_owned();
    if description.is_empty() {
        e.insert("description", "Enter a description: what it covers and who it is for");
    } else if description.chars().count() > 5_000 {
        e.insert("description", "Enter a description of up to 5,000 characters");
    }
    let keywords = f.get("keywords").trim().to_owned();
    if keywords.chars().count() > 500 {
        e.insert("keywords", "Enter keywords of up to 500 characters in all");
    }
    let audience = f.get("audience").trim().to_owned();
    if audience.chars().count() > 500 {
        e.insert("audience", "Enter who it is for in up to 500 characters");
    }
    let licence = Licence::parse(&f.get("licence"));
    if licence.is_none() {
        e.insert("licence", "Choose one of the licences listed");
    }
    let attribution_name = f.get("attribution_name").trim().to_owned();
    if licence.is_some_and(Licence::needs_attribution) && attribution_name.is_empty() {
        e.insert("attribution_name", "Enter who to credit: the author or the organisation that holds the rights");
    } else if attribution_name.chars().count() > 200 {
        e.insert("attribution_name", "Enter who to credit in up to 200 characters");
    }
    let attribution_url = f.get("attribution_url").trim().to_owned();
    if !attribution_url.is_empty() && web_address(&attribution_url).is_none() {
        e.insert("attribution_url", "Enter the source's web address, starting https://, or leave it empty");
    }
    Some((
        kind?,
        NewResource {
            kind: kind?.as_str().into(),
            title,
            description,
            keywords,
            audience,
            licence: licence?.code().into(),
            attribution_name,
            attribution_url,
            contributor: None,
            propose_national: f.get("propose_national") == "yes",
            origin: None,
        },
    ))
}

fn web_address(s: &str) -> Option<String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() && s.len() <= 2000 => Some(s.into()),
        _ => None,
    }
}

/// A version checked: its content, the files stored for it (to delete should it not be saved
/// after all), and those of its files waiting for their virus scan (in the trust's held area).
struct Checked {
    version: NewVersion,
    fresh: Vec<String>,
    waiting: Vec<(&'static str, scan::Kept)>,
}

/// A version's content as the form gave it: checked, its files checked by content and scanned,
/// and only then stored (while the scanner is away, kept aside to wait for their scan). `prev` is
/// the current version, for a new one: a file or captions not sent again are kept from it. `None`
/// (with every problem named in `e`) keeps nothing.
#[allow(clippy::too_many_arguments)] // the form's parts
async fn check_version(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    kind: ResourceKind,
    f: &mut Upload,
    e: &mut FormErrors,
    prev: Option<&Version>,
) -> Result<Option<Checked>, AppError> {
    let mut v = NewVersion { created_by: who.person, ..NewVersion::default() };
    let file = f.files.remove("file");
    let captions = f.files.remove("captions");
    if f.get("confirm") != "yes" {
        e.insert("confirm", "Confirm that it contains no patient-identifiable information and that you may share it");
    }
    match kind {
        ResourceKind::Link => match web_address(f.get("url").trim()) {
            Some(u) => v.url = u,
            None => e.insert("url", "Enter the web address of the page, starting https://"),
        },
        ResourceKind::Article => {
            v.body = f.get("body").replace("\r\n", "\n").trim().to_owned();
            if v.body.is_empty() || v.body.chars().count() > MAX_TEXT {
                e.insert("body", "Enter the article's text, up to 20,000 characters");
            }
        }
        _ => match &file {
            None if prev.is_some_and(|p| p.file.is_some()) => v.file = prev.and_then(|p| p.file.clone()),
            None => e.insert("file", "Choose a file to upload"),
            Some(u) if u.size == 0 => e.insert("file", "The file is empty"),
            Some(u) if !kind.accepts(&u.sniffed()) => e.insert("file", kind.file_rule()),
            Some(_) => {}
        },
    }
    if kind == ResourceKind::Image {
        v.alt_text = f.get("alt_text").trim().to_owned();
        if v.alt_text.is_empty() || v.alt_text.chars().count() > 500 {
            e.insert("alt_text", "Describe the image for people who cannot see it, in up to 500 characters");
        }
    }
    v.transcript = f.get("transcript").replace("\r\n", "\n").trim().to_owned();
    if v.transcript.chars().count() > MAX_TEXT {
        e.insert("transcript", "Enter a transcript of up to 20,000 characters");
    }
    match &captions {
        Some(_) if !matches!(kind, ResourceKind::Video | ResourceKind::Audio) => {
            e.insert("captions", "Only a video or audio resource has captions");
        }
        Some(c) if c.size > MAX_CAPTIONS || !is_webvtt(&tokio::fs::read(c.tmp.path()).await.unwrap_or_default()) => {
            e.insert("captions", "The captions must be a WebVTT file (.vtt, beginning WEBVTT) of up to 1 MB");
        }
        Some(_) => {}
        None => v.captions_key = prev.and_then(|p| p.captions_key.clone()),
    }
    v.note = f.get("note").trim().chars().take(500).collect();
    if prev.is_some() && v.note.is_empty() {
        e.insert("note", "Say what changed in this version");
    }
    if !e.is_empty() {
        return Ok(None);
    }
    // Scanned and stored only once everything else is right; a refused file leaves nothing.
    let area = format!("library/{}", Uuid::now_v7());
    let mut fresh = Vec::new();
    let mut waiting = Vec::new();
    let uploads = [("captions", captions.as_ref()), ("file", file.as_ref().filter(|_| kind.has_file()))];
    for (field, upload) in uploads {
        let Some(u) = upload else { continue };
        let kept = match scan::scan_and_keep(state, site, who, Kind::Resource, u, &area).await {
            Ok(Ok(kept)) => kept,
            Ok(Err(m)) => {
                discard(state, &fresh).await;
                e.insert(field, m);
                return Ok(None);
            }
            Err(err) => {
                discard(state, &fresh).await;
                return Err(err);
            }
        };
        fresh.push(kept.file.key.clone());
        if field == "captions" {
            v.captions_key = Some(kept.file.key.clone());
        } else {
            v.file = Some(kept.file.clone());
        }
        if kept.held.is_some() {
            waiting.push((field, kept));
        }
    }
    Ok(Some(Checked { version: v, fresh, waiting }))
}

/// What saving a version (or a resource with its first) came to: on a failure, the files stored
/// for it (`fresh`) are deleted too.
async fn or_discard<T>(state: &AppState, fresh: &[String], saved: Result<T, AppError>) -> Result<T, AppError> {
    if saved.is_err() {
        discard(state, fresh).await;
    }
    saved
}

/// Deletes files stored for a version that was not saved after all (each under a key of its own).
async fn discard(state: &AppState, keys: &[String]) {
    for k in keys {
        if let Err(e) = state.files.delete(k).await {
            tracing::warn!(error = %e, key = %k, "a library file not kept was not deleted");
        }
    }
}

/// What the contributor is told when their resource waits for its virus scan.
const WAITING: &str = "Resource received: the virus scanner is busy, so it is shared once its files have been scanned (usually within minutes)";

/// A held library file's target: the resource, the version and which of its files.
fn held_target(rid: Uuid, number: i32, field: &str) -> String {
    format!("{rid}/{number}/{field}")
}

fn version_waiting() -> AppError {
    AppError::Conflict(
        "A new version is already waiting for its virus scan: try again once it has been published.".into(),
    )
}

/// The worker's end of a library file that waited for its virus scan
/// ([`crate::features::uploads::release`]): a clean file goes to the library's area and, once its
/// version has no file still waiting, the version is published; a file with a virus (or refused
/// by the scanner) gives up its version, and its contributor is told by email.
pub(crate) async fn held_scanned(
    state: &AppState,
    site: &Site,
    h: &held::Held,
    file: &std::path::Path,
    outcome: crate::usecases::uploads::Rescanned,
) -> anyhow::Result<()> {
    use crate::usecases::uploads::{delete_held_file, resolved};
    let mut parts = h.target.splitn(3, '/');
    let target = (parts.next().and_then(|r| r.parse::<Uuid>().ok()), parts.next().and_then(|n| n.parse::<i32>().ok()));
    let (Some(rid), Some(number)) = target else {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        resolved(&tx, h, held::Status::Refused, "The resource is not known").await?;
        tx.commit().await?;
        delete_held_file(state, site, h).await;
        return Ok(());
    };
    let held_key = held::file_key(site.entry.id, h.id);
    match outcome {
        Ok(()) => {
            let key = format!("{}/library/{}/{}", site.entry.id, Uuid::now_v7(), h.sha256);
            state.files.put_file(&key, file).await?;
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let used = lib::file_scanned(&tx, rid, number, &held_key, &key).await?;
            if used {
                let held_area = format!("{}/held/", site.entry.id);
                let published = lib::publish_scanned(&tx, rid, number, &held_area).await?;
                resolved(&tx, h, held::Status::Released, if published { "Published" } else { "Scanned" }).await?;
                if published {
                    let detail = json!({ "version": number, "held": h.id.to_string() });
                    audit::record(&tx, h.uploaded_by, "library.scanned_and_published", &rid.to_string(), None, detail)
                        .await?;
                }
            } else {
                resolved(&tx, h, held::Status::Refused, "Its version was not kept").await?;
            }
            tx.commit().await?;
            if !used {
                discard(state, &[key]).await;
            }
        }
        Err((status, message)) => {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let dropped = lib::refuse_waiting(&tx, rid, number, &held_key, &message).await?;
            resolved(&tx, h, status, &message).await?;
            let mut unused = Vec::new();
            if let Some(keys) = dropped {
                // Its other files still waiting are their own jobs' to resolve and delete.
                unused = keys.into_iter().filter(|k| !held::is_held_key(k)).collect();
                let detail = json!({ "version": number, "held": h.id.to_string(), "reason": message });
                audit::record(&tx, h.uploaded_by, "library.refused_after_scan", &rid.to_string(), None, detail).await?;
                if let Some(r) = lib::get(&tx, rid).await?
                    && let Some(p) = r.contributor
                    && let Some(person) = id::member_person(&tx, p).await?
                {
                    let subject = if number > 1 {
                        format!("Version {number} of “{}” was not published", r.title)
                    } else {
                        format!("Your resource “{}” was not shared", r.title)
                    };
                    let ctx = json!({
                        "title": r.title, "version": number, "reason": message,
                        "link": format!("{}library/{}", site.url, r.id),
                    });
                    let mail = render_email(state, site, "resource_not_shared", &person.email, &subject, ctx)?;
                    outbox::enqueue_email(&tx, &mail).await?;
                }
            }
            tx.commit().await?;
            discard(state, &unused).await;
        }
    }
    delete_held_file(state, site, h).await;
    Ok(())
}

fn form_values(f: &Upload) -> Value {
    let keys = [
        "kind",
        "title",
        "description",
        "keywords",
        "audience",
        "licence",
        "attribution_name",
        "attribution_url",
        "url",
        "body",
        "alt_text",
        "transcript",
        "note",
        "propose_national",
    ];
    Value::Object(keys.iter().map(|k| ((*k).to_owned(), json!(f.get(k)))).collect())
}

/// Adds a resource (multipart: it may carry a file and captions).
#[handler]
pub async fn create(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let contributors = lib::contributors(&tx).await?;
    let accepted = lib::policy_accepted(&tx, me.person).await?;
    tx.commit().await?;
    if !may_contribute(&me, contributors) {
        return Err(not_a_contributor());
    }
    let mut f = upload::read(multipart, state.config.files.max_upload_mb).await?;
    let mut e = FormErrors::new();
    if !accepted && f.get("policy") != "yes" {
        e.insert("policy", "Accept the content policy to share resources");
    }
    let details = check_details(&f, &mut e);
    let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
    let version = match ResourceKind::parse(&f.get("kind")) {
        Some(kind) => check_version(state, site, &who, kind, &mut f, &mut e, None).await?,
        None => None,
    };
    let (Some((_, mut new)), Some(checked)) = (details, version.filter(|_| e.is_empty())) else {
        let e = e.ordered_by(&[
            "policy",
            "kind",
            "title",
            "description",
            "keywords",
            "audience",
            "file",
            "url",
            "body",
            "alt_text",
            "captions",
            "transcript",
            "licence",
            "attribution_name",
            "attribution_url",
            "confirm",
        ]);
        return new_page(state, site, req, &token.0, accepted, form_values(&f), &e, StatusCode::BAD_REQUEST);
    };
    new.contributor = Some(me.person);
    let Checked { version: first, fresh, waiting } = checked;
    let saved = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        lib::accept_policy(&tx, me.person).await?;
        let rid = lib::create(&tx, &new, &first, !waiting.is_empty()).await?;
        for (field, kept) in &waiting {
            scan::record_held(&tx, Some(me.person), Kind::Resource, &held_target(rid, 1, field), kept).await?;
        }
        audit::record(
            &tx,
            Some(me.person),
            "library.resource_added",
            &rid.to_string(),
            None,
            json!({ "kind": new.kind, "licence": new.licence, "proposed_national": new.propose_national, "policy": CONTENT_POLICY_VERSION }),
        )
        .await?;
        tx.commit().await?;
        Ok::<_, AppError>(rid)
    }
    .await;
    let rid = or_discard(state, &fresh, saved).await?;
    if !waiting.is_empty() {
        crate::context::queue::wake(state).await;
        return Ok(see_other_saying(req, &format!("/library/{rid}"), WAITING));
    }
    let said =
        if new.propose_national { "Resource shared, and proposed for the national library" } else { "Resource shared" };
    Ok(see_other_saying(req, &format!("/library/{rid}"), said))
}

/// A resource's page: its content, licence, versions, ratings and feedback; for those who may
/// change it, the form for a new version; for content editors, adding it to a course.
#[handler]
pub async fn resource_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    resource_view(state, site, req, &token.0, me, tx, r, json!({}), &FormErrors::new(), StatusCode::OK).await
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn resource_view(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    me: SignedIn,
    tx: TenantTx,
    r: Resource,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let versions = lib::versions(&tx, &r).await?;
    let ratings = lib::ratings(&tx, r.id, me.person).await?;
    let feedback = lib::feedback(&tx, r.id).await?;
    let editable = may_edit(&me, &r);
    let accepted = lib::policy_accepted(&tx, me.person).await?;
    let courses = if me.may(Permission::EditContent) && r.status == "published" {
        cat::own_courses(&tx).await?.into_iter().filter(|c| c.kind != "path").collect()
    } else {
        vec![]
    };
    tx.commit().await?;
    let current = versions.iter().find(|v| v.number == r.current_version);
    // The form for a new version starts from the current one (its file and captions are kept
    // unless new ones are chosen).
    let values = match (values, current) {
        (Value::Object(m), Some(v)) if m.is_empty() => json!({
            "url": v.url, "body": v.body, "alt_text": v.alt_text, "transcript": v.transcript,
        }),
        (values, _) => values,
    };
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &r.title,
        &[("Home", "/"), ("Resource library", "/library")],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("resource", &resource_json(site, &r));
    // A resource waiting for its scan (or refused by it) shows no content: its files are not served.
    let shown = current.filter(|_| !matches!(r.status.as_str(), "scanning" | "refused"));
    ctx.insert("content", &shown.map(|v| content_json(&r, v)));
    ctx.insert(
        "versions",
        &versions
            .iter()
            .map(|v| {
                json!({
                    "number": v.number, "date": when(site, v.created_at), "note": v.note,
                    "waiting": v.number == r.pending_version,
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "ratings",
        &json!({
            "average": format!("{:.1}", ratings.average),
            "count": ratings.count,
            "mine": ratings.mine,
            "stars": (1..=5).collect::<Vec<i32>>(),
        }),
    );
    ctx.insert(
        "feedback",
        &feedback
            .iter()
            .map(|f| json!({ "id": f.id.to_string(), "body": paragraphs(&f.body), "date": when(site, f.created_at) }))
            .collect::<Vec<_>>(),
    );
    ctx.insert("editable", &editable);
    ctx.insert("policy_accepted", &accepted);
    ctx.insert("moderator", &me.may(Permission::EditContent));
    ctx.insert("current_file", &current.and_then(|v| v.file.as_ref().map(|f| f.name.clone())));
    ctx.insert("has_captions", &current.is_some_and(|v| v.captions_key.is_some()));
    ctx.insert(
        "may_propose",
        &(editable && matches!(r.national.as_str(), "none" | "declined") && r.status == "published"),
    );
    ctx.insert(
        "courses",
        &courses.iter().map(|c| json!({ "id": c.id.to_string(), "title": c.title })).collect::<Vec<_>>(),
    );
    ctx.insert("values", &values);
    ctx.insert("max_upload_mb", &state.config.files.max_upload_mb);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/library_resource.html", &ctx, status)
}

/// A resource's file (the current version): streamed, with byte ranges for players that seek;
/// recorded in the upload and download log.
#[handler]
pub async fn download(
    Ctx { req, state, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let v = lib::current(&tx, &r).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let f = v.file.filter(|f| !held::is_held_key(&f.key)).ok_or(AppError::NotFound)?;
    let range = req.header("range").and_then(crate::http::range::parse_range);
    let served = crate::http::range::Served {
        key: &f.key,
        content_type: &f.content_type,
        name: &f.name,
        attachment: r.kind == "document",
    };
    let resp = crate::http::range::serve(state, &served, range).await?;
    Ok(crate::http::transfer::note(resp, Some(me.person), "resource", &format!("{} ({})", r.title, f.name)))
}

/// A video's or audio's captions (WebVTT) of the current version.
#[handler]
pub async fn captions_file(
    Ctx { state, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let v = lib::current(&tx, &r).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let key = v.captions_key.filter(|k| !held::is_held_key(k)).ok_or(AppError::NotFound)?;
    let bytes = state.files.get_bytes(&key).await.map_err(AppError::Internal)?;
    Ok(Response::builder()
        .content_type("text/vtt; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "private, max-age=3600")
        .body(bytes))
}

/// A new version of a resource (its contributor, while the trust lets them share, or a content
/// editor), after the current content policy.
#[handler]
pub async fn add_version(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let contributors = lib::contributors(&tx).await?;
    let accepted = lib::policy_accepted(&tx, me.person).await?;
    let prev = lib::current(&tx, &r).await?;
    tx.commit().await?;
    if !may_edit(&me, &r) {
        return Err(AppError::NotFound);
    }
    if !may_contribute(&me, contributors) {
        return Err(not_a_contributor());
    }
    if r.pending_version != 0 || r.status == "scanning" {
        return Err(version_waiting());
    }
    if r.status == "refused" {
        return Err(AppError::Conflict("This resource was not shared: share it again as a new resource.".into()));
    }
    let kind = ResourceKind::parse(&r.kind).ok_or(AppError::NotFound)?;
    let prev = prev.ok_or(AppError::NotFound)?;
    let mut f = upload::read(multipart, state.config.files.max_upload_mb).await?;
    let mut e = FormErrors::new();
    if !accepted && f.get("policy") != "yes" {
        e.insert("policy", "Accept the content policy to share resources");
    }
    let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
    let checked = check_version(state, site, &who, kind, &mut f, &mut e, Some(&prev)).await?;
    let Some(Checked { version: v, fresh, waiting }) = checked.filter(|_| e.is_empty()) else {
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let e =
            e.ordered_by(&["policy", "file", "url", "body", "alt_text", "captions", "transcript", "note", "confirm"]);
        return resource_view(state, site, req, &token.0, me, tx, r, form_values(&f), &e, StatusCode::BAD_REQUEST)
            .await;
    };
    let saved = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        lib::accept_policy(&tx, me.person).await?;
        let n = lib::add_version(&tx, r.id, &v, !waiting.is_empty()).await?.ok_or_else(version_waiting)?;
        for (field, kept) in &waiting {
            scan::record_held(&tx, Some(me.person), Kind::Resource, &held_target(r.id, n, field), kept).await?;
        }
        let detail = json!({ "version": n, "waiting_for_scan": !waiting.is_empty() });
        audit::record(&tx, Some(me.person), "library.version_added", &r.id.to_string(), None, detail).await?;
        tx.commit().await?;
        Ok::<_, AppError>(n)
    }
    .await;
    let n = or_discard(state, &fresh, saved).await?;
    if !waiting.is_empty() {
        crate::context::queue::wake(state).await;
        let said = format!("Version {n} received: it is published once its files have been scanned for viruses");
        return Ok(see_other_saying(req, &format!("/library/{}", r.id), said));
    }
    Ok(see_other_saying(req, &format!("/library/{}", r.id), format!("Version {n} published")))
}

#[derive(Debug, Deserialize, Default)]
pub struct RatingForm {
    #[serde(default)]
    stars: String,
}

/// Rates a resource, 1 to 5 (again replaces the rating).
#[handler]
pub async fn rate(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<RatingForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let Some(stars) = f.stars.trim().parse::<i32>().ok().filter(|s| (1..=5).contains(s)) else {
        let e = FormErrors::one("stars", "Choose a rating from 1 to 5 stars");
        return resource_view(state, site, req, &token.0, me, tx, r, json!({}), &e, StatusCode::BAD_REQUEST).await;
    };
    lib::rate(&tx, &r, me.person, stars).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/library/{}", r.id), format!("Thank you: you rated it {stars} out of 5")))
}

#[derive(Debug, Deserialize, Default)]
pub struct FeedbackForm {
    #[serde(default)]
    feedback: String,
}

/// Leaves feedback on a resource.
#[handler]
pub async fn give_feedback(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<FeedbackForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let body = f.feedback.replace("\r\n", "\n").trim().to_owned();
    if body.is_empty() || body.chars().count() > 2_000 {
        let e = FormErrors::one("feedback", "Enter your feedback, up to 2,000 characters");
        let values = json!({ "feedback": f.feedback });
        return resource_view(state, site, req, &token.0, me, tx, r, values, &e, StatusCode::BAD_REQUEST).await;
    }
    if lib::feedback_in_last_hour(&tx, me.person).await? >= FEEDBACK_PER_HOUR {
        let e = FormErrors::one("feedback", "You have given a lot of feedback in the last hour: try again later");
        let values = json!({ "feedback": f.feedback });
        return resource_view(state, site, req, &token.0, me, tx, r, values, &e, StatusCode::TOO_MANY_REQUESTS).await;
    }
    lib::add_feedback(&tx, &r, me.person, &body).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/library/{}#resource-feedback", r.id), "Thank you for your feedback"))
}

/// Deletes a piece of feedback given at this trust (a moderator's decision: it identified a
/// patient, say, or was abusive), audited.
#[handler]
pub async fn delete_feedback(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::EditContent>,
    Path((raw, feedback)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let fid: Uuid = page::path_id(&feedback)?;
    if !lib::delete_feedback(&tx, r.id, fid).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "library.feedback_deleted", &r.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/library/{}#resource-feedback", r.id), "Feedback deleted"))
}

#[derive(Debug, Deserialize, Default, serde::Serialize)]
pub struct ReportForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    details: String,
}

/// The form to report a resource.
#[handler]
pub async fn report_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    tx.commit().await?;
    report_page(state, site, req, &token.0, &r, json!({}), &FormErrors::new(), StatusCode::OK)
}

#[allow(clippy::too_many_arguments)] // the page's parts
fn report_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    csrf: &str,
    r: &Resource,
    values: Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let url = format!("/library/{}", r.id);
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Report a resource",
        &[("Resource library", "/library"), (&r.title, &url)],
    );
    ctx.insert("csrf_token", csrf);
    ctx.insert("resource", &resource_json(site, r));
    ctx.insert("reasons", &reasons());
    ctx.insert("values", &values);
    errors.insert_into(&mut ctx);
    page::render(state, Some(site), "pages/library_report.html", &ctx, status)
}

/// Reports a resource to the moderators (the trust's, or the national library's).
#[handler]
pub async fn report(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Path(raw): Path<String>,
    Form(f): Form<ReportForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let mut e = FormErrors::new();
    if !REPORT_REASONS.iter().any(|(k, _)| *k == f.reason) {
        e.insert("reason", "Choose why you are reporting it");
    }
    let details = f.details.replace("\r\n", "\n").trim().to_owned();
    if details.chars().count() > 2_000 {
        e.insert("details", "Enter details of up to 2,000 characters");
    } else if details.is_empty() && f.reason == "other" {
        e.insert("details", "Say what is wrong with it");
    }
    if e.is_empty() && lib::reports_in_last_hour(&tx, me.person).await? >= REPORTS_PER_HOUR {
        e.insert("reason", "You have made many reports in the last hour: try again later");
    }
    if !e.is_empty() {
        tx.commit().await?;
        let values = serde_json::to_value(&f).unwrap_or_default();
        return report_page(state, site, req, &token.0, &r, values, &e, StatusCode::BAD_REQUEST);
    }
    lib::report(&tx, &r, me.person, &f.reason, &details).await?;
    audit::record(
        &tx,
        Some(me.person),
        "library.reported",
        &r.id.to_string(),
        None,
        json!({ "reason": f.reason, "national": r.is_national() }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        &format!("/library/{}", r.id),
        "Thank you: the resource has been reported and a moderator will look at it",
    ))
}

/// Proposes one of this trust's resources for the national library.
#[handler]
pub async fn propose(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    if !may_edit(&me, &r) || r.status != "published" || !matches!(r.national.as_str(), "none" | "declined") {
        return Err(AppError::NotFound);
    }
    lib::propose(&tx, r.id).await?;
    audit::record(&tx, Some(me.person), "library.proposed_national", &r.id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, &format!("/library/{}", r.id), "Proposed for the national library"))
}

#[derive(Debug, Deserialize, Default)]
pub struct CourseChoice {
    #[serde(default)]
    course: String,
}

/// Adds the resource to one of the trust's courses as a session (at the end of its draft).
#[handler]
pub async fn add_to_course(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::EditContent>,
    Path(raw): Path<String>,
    Form(f): Form<CourseChoice>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let r = visible(&tx, &me, &raw).await?;
    let course: CourseId = f.course.parse().map_err(|_| AppError::BadRequest("Choose a course.".into()))?;
    if r.status != "published" {
        return Err(AppError::NotFound);
    }
    let input = ObjectInput {
        title: r.title.clone(),
        kind: "resource".into(),
        completion: "view".into(),
        resource: Some(r.id),
        ..ObjectInput::default()
    };
    if cat::add_object(&tx, course, &input).await?.is_none() {
        return Err(AppError::NotFound);
    }
    audit::record(
        &tx,
        Some(me.person),
        "course.session_added",
        &course.to_string(),
        None,
        json!({ "resource": r.id.to_string() }),
    )
    .await?;
    tx.commit().await?;
    Ok(see_other_saying(
        req,
        &format!("/admin/courses/{course}"),
        format!("Added “{}” to the course’s draft: publish the course to show it to learners", r.title),
    ))
}

/// The moderators' page: open reports on the trust's resources, resources withdrawn, and who
/// may contribute.
#[handler]
pub async fn moderation(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let reports = lib::open_reports(&tx).await?;
    let withdrawn = lib::withdrawn(&tx).await?;
    let contributors = lib::contributors(&tx).await?;
    let people: Vec<PersonId> = reports.iter().filter_map(|r| r.person).collect();
    let names = id::member_names(&tx, &people).await?;
    tx.commit().await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Resource library: moderation", &[("Admin", "/admin")]);
    ctx.insert("csrf_token", &token.0);
    let by = |r: &lib::Report| r.person.and_then(|p| names.get(&p).cloned());
    ctx.insert("reports", &reports_json(&reports, by, |t| when(site, t)));
    ctx.insert("withdrawn", &withdrawn.iter().map(|r| resource_json(site, r)).collect::<Vec<_>>());
    ctx.insert("contributors", contributors.as_str());
    page::render(state, Some(site), "pages/admin_library.html", &ctx, StatusCode::OK)
}

/// Reports as the moderators' pages show them: one card a resource, with each of its reports
/// (its reason in words, details, who sent it as `by` gives it, and when).
fn reports_json<'a>(
    reports: impl IntoIterator<Item = &'a lib::Report>,
    by: impl Fn(&lib::Report) -> Option<String>,
    date: impl Fn(chrono::DateTime<chrono::Utc>) -> String,
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for r in reports {
        let reason = REPORT_REASONS.iter().find(|(k, _)| *k == r.reason).map_or("Something else", |(_, l)| l);
        let one = json!({ "reason": reason, "details": r.details, "by": by(r), "date": date(r.created_at) });
        match out.iter_mut().find(|v| v["id"] == json!(r.resource.to_string())) {
            Some(v) => {
                if let Some(list) = v["reports"].as_array_mut() {
                    list.push(one);
                }
            }
            None => out.push(json!({
                "id": r.resource.to_string(), "title": r.resource_title, "status": r.resource_status, "reports": [one],
            })),
        }
    }
    out
}

#[derive(Debug, Deserialize, Default)]
pub struct SettingsForm {
    #[serde(default)]
    contributors: String,
}

/// Who may add resources to the trust's library.
#[handler]
pub async fn settings(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::EditContent>,
    Form(f): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let c = Contributors::parse(&f.contributors)
        .ok_or_else(|| AppError::BadRequest("Choose who may add resources.".into()))?;
    lib::set_contributors(&tx, c).await?;
    audit::record(&tx, Some(me.person), "library.contributors_set", c.as_str(), None, json!({})).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/admin/library", "Saved: who may add resources"))
}

#[derive(Debug, Deserialize, Default)]
pub struct ModerateForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// A moderator's decision, checked: the new status (none to keep it as it is), the outcome
/// recorded on the reports, and the reason (required to remove).
fn decision(f: &ModerateForm, now: &str) -> Result<(Option<&'static str>, &'static str, String), AppError> {
    let reason = f.reason.trim().chars().take(1000).collect::<String>();
    match f.action.as_str() {
        "keep" => Ok((None, "kept", String::new())),
        _ if now == "scanning" => Err(AppError::Conflict(
            "It is waiting for its virus scan and nobody else can see it yet: decide once it has been scanned.".into(),
        )),
        _ if now == "refused" => Err(AppError::Conflict("It was not shared, as a virus was found in it.".into())),
        "hide" if now == "removed" => Err(AppError::BadRequest("It is already removed: restore it first.".into())),
        "hide" => Ok((Some("hidden"), "hidden", reason)),
        "remove" if reason.is_empty() => {
            Err(AppError::BadRequest("Give the reason for removing it: the contributor is told.".into()))
        }
        "remove" => Ok((Some("removed"), "removed", reason)),
        "restore" => Ok((Some("published"), "restored", String::new())),
        _ => Err(AppError::BadRequest("Choose hide, remove, restore or keep.".into())),
    }
}

fn decision_words(outcome: &str) -> &'static str {
    match outcome {
        "hidden" => "Hidden: only its contributor and content editors can see it",
        "removed" => "Removed, and its contributor told why",
        "restored" => "Restored: everyone can see it again",
        _ => "Kept as it is, and its reports closed",
    }
}

/// Hides, removes (telling the contributor why) or restores one of the trust's resources, and
/// closes its open reports.
#[handler]
pub async fn moderate(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    Path(raw): Path<String>,
    Form(f): Form<ModerateForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let rid: Uuid = page::path_id(&raw)?;
    // Only this trust's own resources: a national one is the platform's to moderate.
    let r = lib::get(&tx, rid).await?.filter(|r| !r.is_national()).ok_or(AppError::NotFound)?;
    let (status, outcome, reason) = decision(&f, &r.status)?;
    if let Some(status) = status {
        lib::set_status(&tx, r.id, status, &reason).await?;
    }
    let closed = lib::resolve_reports(&tx, r.id, outcome, me.person).await?;
    if outcome == "removed"
        && let Some(p) = r.contributor
        && let Some(person) = id::member_person(&tx, p).await?
    {
        tell_removed(state, site, &tx, &person.email, &r, &reason).await?;
    }
    audit::record(
        &tx,
        Some(me.person),
        &format!("library.{outcome}"),
        &r.id.to_string(),
        None,
        json!({ "reason": reason, "reports_closed": closed, "contributor": r.contributor.map(|p| p.to_string()) }),
    )
    .await?;
    tx.commit().await?;
    // Withdrawn here, withdrawn from the national library too until its curators look again.
    if matches!(outcome, "hidden" | "removed") && r.national == "accepted" {
        let why = if reason.is_empty() { "hidden" } else { reason.as_str() };
        let words = format!("Withdrawn by {}'s moderators: {why}", site.entry.name);
        let tx = state.dbs.app.begin(TenantId::NATIONAL).await?;
        if let Some(copy) = lib::national_copy_of(&tx, r.owner, r.id).await?
            && lib::get(&tx, copy).await?.is_some_and(|c| c.status == "published")
        {
            lib::set_status(&tx, copy, "hidden", &words).await?;
        }
        tx.commit().await?;
    }
    let back = if f.back == "resource" { format!("/library/{}", r.id) } else { "/admin/library".to_owned() };
    Ok(see_other_saying(req, &back, decision_words(outcome)))
}

async fn tell_removed(
    state: &AppState,
    site: &Site,
    tx: &TenantTx,
    to: &str,
    r: &Resource,
    reason: &str,
) -> Result<(), AppError> {
    let mail = render_email(
        state,
        site,
        "resource_removed",
        to,
        &format!("Your resource “{}” has been removed", r.title),
        json!({ "title": r.title, "reason": reason, "library": format!("{}library", site.url) }),
    )?;
    outbox::enqueue_email(tx, &mail).await?;
    Ok(())
}

// ── The national library, for the platform's administrators ──────────────────────────────────

/// Proposals for the national library, reports on its resources, and its resources withdrawn.
#[handler]
pub async fn platform_queue(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let proposals = state.dbs.platform.library_proposals_across_tenants().await?;
    let reports = state.dbs.platform.national_library_reports_across_tenants().await?;
    let tx = state.dbs.app.begin_read(TenantId::NATIONAL).await?;
    let withdrawn = lib::withdrawn(&tx).await?;
    tx.commit().await?;
    let slug_of = |t: TenantId| state.directory.site_by_id(t).map(|s| s.entry.slug.clone()).unwrap_or_default();
    let plain = |t: chrono::DateTime<chrono::Utc>| t.format("%-d %B %Y").to_string();
    let proposals: Vec<Value> = proposals
        .iter()
        .map(|p| {
            json!({
                "trust": p.trust_name, "slug": slug_of(p.trust), "id": p.id.to_string(), "title": p.title,
                "kind": ResourceKind::parse(&p.kind).map_or("Resource", ResourceKind::label),
                "licence": licence_json(&p.licence), "date": plain(p.updated_at),
            })
        })
        .collect();
    // Reports on national resources name the trust they came from, never the person.
    let trusts: std::collections::HashMap<uuid::Uuid, TenantId> =
        reports.iter().map(|n| (n.report.id, n.trust)).collect();
    let trust_of = |r: &lib::Report| {
        Some(
            trusts
                .get(&r.id)
                .and_then(|t| state.directory.site_by_id(*t))
                .map(|s| s.entry.name.clone())
                .unwrap_or_default(),
        )
    };
    let grouped = reports_json(reports.iter().map(|n| &n.report), trust_of, plain);
    let withdrawn: Vec<Value> = withdrawn
        .iter()
        .map(|r| json!({ "id": r.id.to_string(), "title": r.title, "status": r.status, "status_reason": r.status_reason }))
        .collect();
    crate::features::platform_admin::render(
        state,
        req,
        "pages/platform_library.html",
        "National resource library",
        json!({ "csrf_token": token.0, "proposals": proposals, "reports": grouped, "withdrawn": withdrawn }),
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ProposalDecision {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// Accepts a trust's proposal (the national library gets its own copy, files and all, crediting
/// the trust's contributor) or declines it with a note; the contributor is told either way.
#[handler]
pub async fn decide_proposal(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path((slug, raw)): Path<(String, String)>,
    Form(f): Form<ProposalDecision>,
) -> Result<Response, AppError> {
    let site = site_by_slug(state, &slug)?;
    let rid: Uuid = page::path_id(&raw)?;
    let note = f.note.trim().chars().take(1000).collect::<String>();
    let accept = match f.decision.as_str() {
        "accept" => true,
        "decline" if !note.is_empty() => false,
        "decline" => {
            return Err(AppError::BadRequest("Give the reason for declining it: the contributor is told.".into()));
        }
        _ => return Err(AppError::BadRequest("Choose accept or decline.".into())),
    };
    let (r, v) = proposal(state, &site, rid).await?;
    let said = if accept {
        copy_to_national(state, &r, &v).await?;
        "Accepted: it is now in the national library"
    } else {
        "Declined, and the contributor told why"
    };
    let tx = state.dbs.app.begin(site.entry.id).await?;
    lib::set_national(&tx, r.id, if accept { "accepted" } else { "declined" }, &note).await?;
    if let Some(p) = r.contributor
        && let Some(person) = id::member_person(&tx, p).await?
    {
        let mail = render_email(
            state,
            &site,
            "resource_national",
            &person.email,
            &format!("The national library and your resource “{}”", r.title),
            json!({ "title": r.title, "accepted": accept, "note": note, "link": format!("{}library/{}", site.url, r.id) }),
        )?;
        outbox::enqueue_email(&tx, &mail).await?;
    }
    tx.commit().await?;
    state
        .dbs
        .platform
        .record_platform_audit(
            &format!("person:{admin}"),
            if accept { "library.national_accepted" } else { "library.national_declined" },
            Some(site.entry.id),
            json!({ "resource": r.id.to_string(), "note": note }).to_string(),
        )
        .await?;
    Ok(see_other_saying(req, "/admin/library", said))
}

/// A trust's resource proposed for the national library, and the version proposed, read in the
/// trust's own transaction (the platform acts on one trust's rows at a time).
async fn proposal(state: &AppState, site: &Site, rid: Uuid) -> Result<(Resource, Version), AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let r = lib::get(&tx, rid)
        .await?
        .filter(|r| !r.is_national() && r.national == "proposed" && r.status == "published")
        .ok_or(AppError::NotFound)?;
    let number = if r.proposed_version > 0 { r.proposed_version } else { r.current_version };
    let v = lib::version(&tx, &r, number).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok((r, v))
}

/// A proposal as its curators see it before they decide: its details, the version proposed
/// (shown as staff would see it), its licence and who it credits.
#[handler]
pub async fn proposal_page(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    token: &CsrfToken,
    Path((slug, raw)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let site = site_by_slug(state, &slug)?;
    let (r, v) = proposal(state, &site, page::path_id(&raw)?).await?;
    let base = format!("/admin/library/proposals/{slug}/{}", r.id);
    crate::features::platform_admin::render(
        state,
        req,
        "pages/platform_library_proposal.html",
        &r.title,
        json!({
            "csrf_token": token.0, "resource": resource_json(&site, &r), "content": content_at(&r, &v, &base),
            "trust": site.entry.name, "slug": slug, "version": v.number, "action": base,
        }),
        StatusCode::OK,
    )
}

/// A proposal's file or captions, for its curators (the version proposed).
#[handler]
pub async fn proposal_file(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path((slug, raw, which)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let site = site_by_slug(state, &slug)?;
    let (r, v) = proposal(state, &site, page::path_id(&raw)?).await?;
    let range = req.header("range").and_then(crate::http::range::parse_range);
    let resp = match (which.as_str(), &v.file, &v.captions_key) {
        ("file", Some(f), _) => {
            let served = crate::http::range::Served {
                key: &f.key,
                content_type: &f.content_type,
                name: &f.name,
                attachment: r.kind == "document",
            };
            crate::http::range::serve(state, &served, range).await?
        }
        ("captions", _, Some(k)) => Response::builder()
            .content_type("text/vtt; charset=utf-8")
            .header("x-content-type-options", "nosniff")
            .body(state.files.get_bytes(k).await.map_err(AppError::Internal)?),
        _ => return Err(AppError::NotFound),
    };
    Ok(crate::http::transfer::note(resp, Some(admin), "resource", &r.title))
}

/// The national library's copy of a trust's resource: its files copied under the national
/// library's own prefix, so the trust's files can go without breaking it. Made once: a second
/// Accept (or one racing it) finds the first copy.
async fn copy_to_national(state: &AppState, r: &Resource, v: &Version) -> Result<Uuid, AppError> {
    let national = TenantId::NATIONAL;
    let tx = state.dbs.app.begin_read(national).await?;
    let existing = lib::national_copy_of(&tx, r.owner, r.id).await?;
    tx.commit().await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let area = format!("{national}/library/{}", Uuid::now_v7());
    let area = area.as_str();
    let copy = move |key: String| async move {
        let tmp = tempfile::NamedTempFile::new().map_err(|e| AppError::Internal(e.into()))?;
        state.files.get_to_file(&key, tmp.path()).await.map_err(AppError::Internal)?;
        let name = key.rsplit('/').next().unwrap_or("file").to_owned();
        let to = format!("{area}/{name}");
        state.files.put_file(&to, tmp.path()).await.map_err(AppError::Internal)?;
        Ok::<_, AppError>(to)
    };
    let file = match &v.file {
        Some(f) => Some(StoredFile { key: copy(f.key.clone()).await?, ..f.clone() }),
        None => None,
    };
    let captions_key = match &v.captions_key {
        Some(k) => Some(copy(k.clone()).await?),
        None => None,
    };
    let new = NewResource {
        kind: r.kind.clone(),
        title: r.title.clone(),
        description: r.description.clone(),
        keywords: r.keywords.clone(),
        audience: r.audience.clone(),
        licence: r.licence.clone(),
        attribution_name: r.attribution_name.clone(),
        attribution_url: r.attribution_url.clone(),
        contributor: r.contributor,
        propose_national: false,
        origin: Some((r.owner, r.id)),
    };
    let first = NewVersion {
        file,
        captions_key,
        note: "Accepted into the national library".into(),
        created_by: v.created_by,
        ..v_content(v)
    };
    let copies: Vec<String> =
        first.file.iter().map(|f| f.key.clone()).chain(first.captions_key.iter().cloned()).collect();
    let made = async {
        let tx = state.dbs.app.begin(national).await?;
        if let Some(id) = lib::national_copy_of(&tx, r.owner, r.id).await? {
            return Ok::<_, AppError>((id, false));
        }
        let id = lib::create(&tx, &new, &first, false).await?;
        tx.commit().await?;
        Ok((id, true))
    }
    .await;
    match made {
        Ok((id, true)) => Ok(id),
        Ok((id, false)) => {
            discard(state, &copies).await;
            Ok(id)
        }
        Err(err) => {
            discard(state, &copies).await;
            // The unique index on the copy's origin: another Accept made it first.
            let tx = state.dbs.app.begin_read(national).await?;
            let existing = lib::national_copy_of(&tx, r.owner, r.id).await?;
            tx.commit().await?;
            existing.ok_or(err)
        }
    }
}

fn v_content(v: &Version) -> NewVersion {
    NewVersion {
        url: v.url.clone(),
        body: v.body.clone(),
        alt_text: v.alt_text.clone(),
        transcript: v.transcript.clone(),
        ..NewVersion::default()
    }
}

/// Hides, removes or restores a national resource, closing every trust's reports on it.
#[handler]
pub async fn moderate_national(
    req: &Request,
    poem::web::Data(state): poem::web::Data<&AppState>,
    PlatformAdmin(admin): PlatformAdmin,
    Path(raw): Path<String>,
    Form(f): Form<ModerateForm>,
) -> Result<Response, AppError> {
    let rid: Uuid = page::path_id(&raw)?;
    let tx = state.dbs.app.begin(TenantId::NATIONAL).await?;
    let r = lib::get(&tx, rid).await?.ok_or(AppError::NotFound)?;
    let (status, outcome, reason) = decision(&f, &r.status)?;
    if let Some(status) = status {
        lib::set_status(&tx, r.id, status, &reason).await?;
    }
    tx.commit().await?;
    state.dbs.platform.resolve_national_library_reports_across_tenants(r.id, outcome, admin).await?;
    // The contributor is told at the trust it came from.
    if outcome == "removed"
        && let (Some(p), Some((trust, _))) = (r.contributor, r.origin)
        && let Some(site) = state.directory.site_by_id(trust)
    {
        let tx = state.dbs.app.begin(trust).await?;
        if let Some(person) = id::member_person(&tx, p).await? {
            tell_removed(state, &site, &tx, &person.email, &r, &reason).await?;
        }
        tx.commit().await?;
    }
    state
        .dbs
        .platform
        .record_platform_audit(
            &format!("person:{admin}"),
            &format!("library.national_{outcome}"),
            None,
            json!({ "resource": r.id.to_string(), "reason": reason }).to_string(),
        )
        .await?;
    Ok(see_other_saying(req, "/admin/library", decision_words(outcome)))
}
