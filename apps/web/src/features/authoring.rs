//! A trust's content editors: create and edit courses and learning paths, add sessions (pages,
//! links, video, audio, documents uploaded to the file store), order them, publish and unpublish,
//! publish new versions (learners on older ones keep them), and choose the national courses the
//! trust offers.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::learner::{course_json, date_words};
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, chart, may};
use crate::usecases::uploads::{self, Uploader};
use poem::http::StatusCode;
use poem::session::Session;
use poem::web::{CsrfToken, Data, Form, Multipart, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use trellis_db::TenantTx;
use trellis_db::audit;
use trellis_db::catalogue::{self as cat, CourseInput, ObjectInput, PublishRefused, StoredFile};
use trellis_db::held::{self, Kind};
use trellis_db::states::VersionStatus;
use trellis_domain::learning::{Completion, ObjectKind, STAFF_GROUPS, staff_group};
use trellis_domain::library::ResourceKind;
use trellis_domain::{CourseId, ObjectId};

/// The editor's list: the trust's own courses and paths, and the national catalogue to offer.
#[handler]
pub async fn courses_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let own = cat::own_courses(&tx).await?;
    let national = cat::national_courses(&tx).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Courses", &[("Home", "/")]);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("own", &own.iter().map(course_json).collect::<Vec<_>>());
    ctx.insert(
        "national",
        &national
            .iter()
            .map(|(c, on)| {
                let mut j = course_json(c);
                j["offered"] = json!(on);
                j
            })
            .collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_courses.html", &ctx, StatusCode::OK)
}

#[derive(Debug, Default)]
pub struct CourseForm {
    kind: String,
    code: String,
    title: String,
    summary: String,
    description: String,
    topic: String,
    audience: Vec<String>,
    duration_minutes: String,
    accreditation: String,
    cpd_points: String,
    enrolment: String,
    /// `default`, `yes` or `no`.
    certificate: String,
}

impl CourseForm {
    /// From the posted pairs (the audience checkboxes repeat their name).
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        CourseForm {
            kind: get("kind"),
            code: get("code"),
            title: get("title"),
            summary: get("summary"),
            description: get("description"),
            topic: get("topic"),
            audience: pairs.iter().filter(|(n, _)| n == "audience").map(|(_, v)| v.clone()).collect(),
            duration_minutes: get("duration_minutes"),
            accreditation: get("accreditation"),
            cpd_points: get("cpd_points"),
            enrolment: get("enrolment"),
            certificate: get("certificate"),
        }
    }

    fn values(&self) -> serde_json::Value {
        json!({
            "kind": self.kind, "code": self.code, "title": self.title, "summary": self.summary,
            "description": self.description, "topic": self.topic, "audience": self.audience,
            "duration_minutes": self.duration_minutes, "accreditation": self.accreditation,
            "cpd_points": self.cpd_points, "enrolment": self.enrolment,
            "certificate": if self.certificate.is_empty() { "default" } else { self.certificate.as_str() },
        })
    }

    fn check(&self) -> Result<CourseInput, FormErrors> {
        let mut e = FormErrors::new();
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            e.insert("title", "Enter a title of 1 to 200 characters");
        }
        let code = self.code.trim().to_uppercase();
        if code.is_empty() || code.len() > 40 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            e.insert("code", "Enter a code of up to 40 letters, digits and hyphens, like IG-2026");
        }
        if self.summary.chars().count() > 500 {
            e.insert("summary", "The summary must be 500 characters or fewer");
        }
        if self.description.chars().count() > 20_000 {
            e.insert("description", "The description must be 20,000 characters or fewer");
        }
        if self.topic.trim().chars().count() > 80 {
            e.insert("topic", "The topic must be 80 characters or fewer");
        }
        let mut audience = Vec::new();
        for g in &self.audience {
            match staff_group(g) {
                Some(g) => audience.push(g.to_owned()),
                None => e.insert("audience", format!("\u{201c}{g}\u{201d} is not a staff group")),
            }
        }
        let duration = match self.duration_minutes.trim() {
            "" => 0,
            s => match s.parse::<i32>() {
                Ok(n) if (0..=10_000).contains(&n) => n,
                _ => {
                    e.insert("duration_minutes", "Enter the duration in whole minutes, like 45");
                    0
                }
            },
        };
        let cpd = match self.cpd_points.trim() {
            "" => None,
            s => match s.parse::<i32>() {
                Ok(n) if (0..=100).contains(&n) => Some(n),
                _ => {
                    e.insert("cpd_points", "Enter CPD points as a whole number from 0 to 100, or leave it empty");
                    None
                }
            },
        };
        if self.accreditation.chars().count() > 300 {
            e.insert("accreditation", "The accreditation must be 300 characters or fewer");
        }
        let enrolment = match self.enrolment.as_str() {
            "open" | "approval" => self.enrolment.clone(),
            _ => {
                e.insert("enrolment", "Choose how staff enrol");
                String::new()
            }
        };
        let certificate = match self.certificate.as_str() {
            "" | "default" => None,
            "yes" => Some(true),
            "no" => Some(false),
            _ => {
                e.insert("certificate", "Choose whether the course offers a certificate");
                None
            }
        };
        let kind = match self.kind.as_str() {
            "course" | "path" | "" => if self.kind == "path" { "path" } else { "course" }.to_owned(),
            _ => {
                e.insert("kind", "Choose a course or a learning path");
                String::new()
            }
        };
        if !e.is_empty() {
            return Err(e);
        }
        Ok(CourseInput {
            code,
            kind,
            title: title.to_owned(),
            summary: self.summary.trim().to_owned(),
            description: self.description.replace("\r\n", "\n").trim().to_owned(),
            topic: self.topic.trim().to_owned(),
            audience,
            duration_minutes: duration,
            accreditation: self.accreditation.trim().to_owned(),
            cpd_points: cpd,
            certificate,
            enrolment,
        })
    }
}

fn course_form_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Create a course",
        &[("Home", "/"), ("Courses", "/admin/courses")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("values", &values);
    ctx.insert("groups", &STAFF_GROUPS);
    ctx.insert("csrf_token", &token.0);
    page::render(state, Some(site), "pages/admin_course_new.html", &ctx, status)
}

/// The form for a new course or path.
#[handler]
pub async fn new_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    let blank = CourseForm { kind: "course".into(), enrolment: "open".into(), ..CourseForm::default() };
    course_form_page(state, site, req, token, &FormErrors::new(), blank.values(), StatusCode::OK)
}

/// Creates a course or path (a draft), then opens its page.
#[handler]
pub async fn create(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let form = CourseForm::from_pairs(&pairs);
    let input = match form.check() {
        Ok(i) => i,
        Err(e) => return course_form_page(state, site, req, token, &e, form.values(), StatusCode::BAD_REQUEST),
    };
    let id = match cat::create_course(&tx, &input).await? {
        Ok(id) => id,
        Err(taken) => {
            tx.rollback().await?;
            let e = FormErrors::one("code", format!("Another course already has the code {}", taken.0));
            return course_form_page(state, site, req, token, &e, form.values(), StatusCode::CONFLICT);
        }
    };
    audit::record(&tx, Some(me.person), "course.created", &id.to_string(), None, json!({ "code": input.code })).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(
        req,
        &format!("/admin/courses/{id}"),
        "Course created: add its sessions, then publish it",
    ))
}

/// A course's editing page: details, the draft's sessions, versions, publishing, a path's courses.
#[handler]
pub async fn edit(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    edit_page(tx, state, site, req, token, page::path_id::<CourseId>(&id)?, &FormErrors::new(), None, StatusCode::OK)
        .await
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn edit_page(
    tx: TenantTx,
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    id: CourseId,
    errors: &FormErrors,
    values: Option<serde_json::Value>,
    status: StatusCode,
) -> Result<Response, AppError> {
    if !cat::owns(&tx, id).await? {
        return Err(AppError::NotFound);
    }
    let c = cat::course(&tx, id).await?.ok_or(AppError::NotFound)?;
    let versions = cat::versions(&tx, id).await?;
    let shown = versions.iter().find(|v| v.status == VersionStatus::Draft).or(versions.first()).cloned();
    let objects = match &shown {
        Some(v) => cat::objects(&tx, v.id).await?,
        None => vec![],
    };
    let (path, choices) = if c.kind == "path" {
        let inner = cat::path_courses(&tx, id).await?;
        let mut all: Vec<_> = cat::own_courses(&tx).await?.into_iter().filter(|x| x.kind == "course").collect();
        all.extend(cat::national_courses(&tx).await?.into_iter().map(|(c, _)| c));
        let choices: Vec<_> = all
            .iter()
            .map(|x| json!({ "id": x.id.to_string(), "title": x.title, "national": x.national, "chosen": inner.contains(&x.id) }))
            .collect();
        (inner.iter().map(ToString::to_string).collect::<Vec<_>>(), choices)
    } else {
        (vec![], vec![])
    };
    let enrolled = trellis_db::learning::count_by_version(&tx, id).await?;
    let held_files = held::recent(&tx, Kind::Media, Some(&id.to_string()), 20).await?;
    let months = chart::months_to(site.today(), 12);
    let since = chart::first_day(&months).unwrap_or_else(|| site.today()).and_time(chrono::NaiveTime::MIN).and_utc();
    let by_month: std::collections::HashMap<String, i64> =
        trellis_db::enrolments::uptake_by_month(&tx, id, since).await?.into_iter().collect();
    tx.commit().await?;
    let uptake: Vec<(String, i64, String)> = months
        .iter()
        .map(|m| {
            let n = by_month.get(m).copied().unwrap_or(0);
            (m.clone(), n, n.to_string())
        })
        .collect();
    let values = values.unwrap_or_else(|| {
        json!({
            "kind": c.kind, "code": c.code, "title": c.title, "summary": c.summary, "description": c.description,
            "topic": c.topic, "audience": c.audience, "duration_minutes": c.duration_minutes.to_string(),
            "accreditation": c.accreditation, "cpd_points": c.cpd_points.map(|p| p.to_string()).unwrap_or_default(),
            "enrolment": c.enrolment,
            "certificate": match c.certificate { None => "default", Some(true) => "yes", Some(false) => "no" },
        })
    });
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        &c.title,
        &[("Home", "/"), ("Courses", "/admin/courses")],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("values", &values);
    ctx.insert("groups", &STAFF_GROUPS);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("course", &course_json(&c));
    ctx.insert("shown", &shown.as_ref().map(|v| json!({ "number": v.number, "status": v.status })));
    ctx.insert(
        "versions",
        &versions
            .iter()
            .map(|v| {
                json!({
                    "number": v.number,
                    "status": v.status,
                    "published_on": v.published_at.map(|d| date_words(d.date_naive())),
                    "learners": enrolled.get(&v.id).copied().unwrap_or(0),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "sessions",
        &objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({
                    "id": o.id.to_string(), "title": o.title, "kind": o.kind, "completion": o.completion,
                    "file_name": o.file_name, "first": i == 0, "last": i + 1 == objects.len(),
                    "waiting": o.file_key.as_deref().is_some_and(held::is_held_key),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("path", &path);
    ctx.insert("choices", &choices);
    ctx.insert("held", &uploads::held_rows(&held_files));
    ctx.insert(
        "uptake",
        &json!({
            "chart": chart::month_columns(&uptake),
            "total": uptake.iter().map(|u| u.1).sum::<i64>(),
            "since": chart::month_words(&months[0]).0,
        }),
    );
    page::render(state, Some(site), "pages/admin_course.html", &ctx, status)
}

/// Saves a course's details (these are not versioned: they change at once).
#[handler]
pub async fn save(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut form = CourseForm::from_pairs(&pairs);
    let id = page::path_id::<CourseId>(&id)?;
    let Some(existing) = cat::course(&tx, id).await?.filter(|c| !c.national) else { return Err(AppError::NotFound) };
    form.kind = existing.kind.clone();
    let input = match form.check() {
        Ok(i) => i,
        Err(e) => {
            tx.rollback().await?;
            let tx = state.dbs.app.begin_read(site.entry.id).await?;
            return edit_page(tx, state, site, req, token, id, &e, Some(form.values()), StatusCode::BAD_REQUEST).await;
        }
    };
    match cat::update_course(&tx, id, &input).await? {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(taken) => {
            tx.rollback().await?;
            let e = FormErrors::one("code", format!("Another course already has the code {}", taken.0));
            let tx = state.dbs.app.begin_read(site.entry.id).await?;
            return edit_page(tx, state, site, req, token, id, &e, Some(form.values()), StatusCode::CONFLICT).await;
        }
    }
    audit::record(&tx, Some(me.person), "course.edited", &id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    Ok(page::see_other_saying(req, &format!("/admin/courses/{id}"), "Course details saved"))
}

/// Publishes the draft (a new version) or re-lists an unpublished course.
#[handler]
pub async fn publish(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id = page::path_id::<CourseId>(&id)?;
    match cat::publish(&tx, id).await? {
        Ok(number) => {
            audit::record(
                &tx,
                Some(me.person),
                "course.published",
                &id.to_string(),
                None,
                json!({ "version": number }),
            )
            .await?;
            tx.commit().await?;
            let said = format!("Version {number} published: staff can find it and enrol");
            Ok(page::see_other_saying(req, &format!("/admin/courses/{id}"), said))
        }
        Err(PublishRefused::NotFound) => Err(AppError::NotFound),
        Err(refused) => {
            tx.rollback().await?;
            let why = match refused {
                PublishRefused::WaitingForScan => "A session's file is waiting for its virus scan: publish once it has been scanned, usually within minutes".to_owned(),
                PublishRefused::NoFile(title) => format!("The session “{title}” has no file (its upload was refused by the virus scan): upload one before publishing"),
                _ => "Add at least one session (or, for a learning path, one course) before publishing".to_owned(),
            };
            let e = FormErrors::one("publish", why);
            let tx = state.dbs.app.begin_read(site.entry.id).await?;
            edit_page(tx, state, site, req, token, id, &e, None, StatusCode::BAD_REQUEST).await
        }
    }
}

/// Takes a course out of the catalogue.
#[handler]
pub async fn unpublish(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::EditContent>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id = page::path_id::<CourseId>(&id)?;
    if cat::unpublish(&tx, id).await? {
        audit::record(&tx, Some(me.person), "course.unpublished", &id.to_string(), None, json!({})).await?;
    }
    tx.commit().await?;
    Ok(page::see_other_saying(
        req,
        &format!("/admin/courses/{id}"),
        "Course unpublished: it is no longer in the catalogue, and people already on it keep their place",
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct OfferForm {
    #[serde(default)]
    offer: String,
}

/// Offers (or stops offering) a national course in this trust's catalogue.
#[handler]
pub async fn offer(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::EditContent>,
    Path(id): Path<String>,
    Form(form): Form<OfferForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id = page::path_id::<CourseId>(&id)?;
    let on = form.offer == "yes";
    if !cat::set_offered(&tx, id, on, Some(me.person)).await? {
        return Err(AppError::NotFound);
    }
    let action = if on { "catalogue.offered" } else { "catalogue.withdrawn" };
    audit::record(&tx, Some(me.person), action, &id.to_string(), None, json!({})).await?;
    tx.commit().await?;
    let said =
        if on { "Course offered: it is in your catalogue now" } else { "Course no longer offered in your catalogue" };
    Ok(page::see_other_saying(req, "/admin/courses", said))
}

/// Sets a learning path's courses (in the order listed).
#[handler]
pub async fn set_path(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::EditContent>,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id = page::path_id::<CourseId>(&id)?;
    let list: Vec<CourseId> =
        pairs.iter().filter(|(k, _)| k == "courses").filter_map(|(_, c)| c.parse().ok()).collect();
    if !cat::set_path_courses(&tx, id, &list).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "path.courses_set", &id.to_string(), None, json!({ "courses": list.len() }))
        .await?;
    tx.commit().await?;
    let said = match list.len() {
        1 => "The path's course saved".to_owned(),
        n => format!("The path's {n} courses saved"),
    };
    Ok(page::see_other_saying(req, &format!("/admin/courses/{id}"), said))
}

/// A session's form, as read from a multipart body: its fields, and the file stored (if any).
struct SessionForm {
    fields: HashMap<String, String>,
    file: Option<StoredFile>,
    file_error: Option<String>,
    /// The file, while it waits for its virus scan (in the trust's held area).
    waiting: Option<uploads::Kept>,
}

impl SessionForm {
    fn get(&self, k: &str) -> String {
        self.fields.get(k).cloned().unwrap_or_default()
    }

    fn values(&self) -> serde_json::Value {
        json!({
            "title": self.get("title"), "kind": self.get("kind"), "body": self.get("body"), "url": self.get("url"),
            "completion": self.get("completion"), "min_minutes": self.get("min_minutes"),
        })
    }
}

/// The library's rule for a session's file: what a file of each kind may be, by its content
/// (never by its name or the browser's word).
fn file_kind(kind: ObjectKind) -> Option<ResourceKind> {
    match kind {
        ObjectKind::Video => Some(ResourceKind::Video),
        ObjectKind::Audio => Some(ResourceKind::Audio),
        ObjectKind::Document => Some(ResourceKind::Document),
        _ => None,
    }
}

/// Reads the session form ([`crate::http::upload::read`]), checks its file by content, scans it,
/// then puts it in the file store under the trust's prefix and its hash.
async fn read_session_form(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    multipart: Multipart,
) -> Result<SessionForm, AppError> {
    let mut sent = crate::http::upload::read(multipart, state.config.files.max_upload_mb).await?;
    let upload = sent.files.remove("file");
    let mut form = SessionForm { fields: sent.fields, file: None, file_error: None, waiting: None };
    if let Some(upload) = upload {
        let kind = ObjectKind::parse(&form.get("kind"));
        let sniffed = upload.sniffed();
        match kind.and_then(file_kind) {
            Some(f) if f.accepts(&sniffed) && upload.size > 0 => {
                match uploads::scan_and_keep(state, site, who, Kind::Media, &upload, "media").await? {
                    Ok(kept) => {
                        form.file = Some(kept.file.clone());
                        form.waiting = kept.held.map(|_| kept);
                    }
                    Err(m) => form.file_error = Some(m),
                }
            }
            Some(f) => form.file_error = Some(f.file_rule().into()),
            None => form.file_error = Some("Only video, audio and document sessions have a file".into()),
        }
    }
    Ok(form)
}

/// The worker's end of a session's file that waited for its virus scan
/// ([`crate::features::uploads::release`]): a clean file goes to the trust's media area, in every
/// session that has it; a file with a virus (or refused by the scanner) is taken out of them, and
/// the course's page lists it as refused.
pub(crate) async fn held_scanned(
    state: &AppState,
    site: &Site,
    h: &held::Held,
    file: &std::path::Path,
    outcome: crate::usecases::uploads::Rescanned,
) -> anyhow::Result<()> {
    use crate::usecases::uploads::{delete_held_file, resolved};
    let held_key = held::file_key(site.entry.id, h.id);
    match outcome {
        Ok(()) => {
            // Stored as a clean upload is, by its content's hash (the same content is stored once).
            let key = format!("{}/media/{}", site.entry.id, h.sha256);
            state.files.put_file(&key, file).await?;
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let n = cat::media_scanned(&tx, &held_key, &key).await?;
            let (status, said) = if n > 0 {
                (held::Status::Released, "Ready: the course can be published")
            } else {
                (held::Status::Refused, "Its session was changed or removed before the scan")
            };
            resolved(&tx, h, status, said).await?;
            tx.commit().await?;
        }
        Err((status, message)) => {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            let n = cat::media_refused(&tx, &held_key).await?;
            resolved(&tx, h, status, &format!("{message}: its session has no file until one is uploaded")).await?;
            if n > 0 {
                let detail = json!({ "held": h.id.to_string(), "reason": message });
                audit::record(&tx, h.uploaded_by, "course.session_file_refused", &h.target, None, detail).await?;
            }
            tx.commit().await?;
        }
    }
    delete_held_file(state, site, h).await;
    Ok(())
}

/// Whether saving `input` (a new session, or session `editing`) would give the course a second
/// face-to-face session: a course has one, whose events are its dates.
async fn second_face_to_face(
    state: &AppState,
    site: &Site,
    course: CourseId,
    input: &ObjectInput,
    editing: Option<ObjectId>,
) -> Result<bool, AppError> {
    if input.kind != ObjectKind::FaceToFace.as_str() {
        return Ok(false);
    }
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let c = cat::course(&tx, course).await?.ok_or(AppError::NotFound)?;
    let was = match editing {
        Some(oid) => cat::object(&tx, oid).await?.is_some_and(|o| o.kind == ObjectKind::FaceToFace.as_str()),
        None => false,
    };
    let has = crate::features::events::has_face_to_face(&tx, &c).await?;
    tx.commit().await?;
    Ok(has && !was)
}

/// Deletes a session's file that was waiting for its scan when its form is not saved.
async fn not_kept(state: &AppState, form: &SessionForm) {
    if let Some(kept) = &form.waiting
        && let Err(e) = state.files.delete(&kept.file.key).await
    {
        tracing::warn!(error = %e, key = %kept.file.key, "a held session file not kept was not deleted");
    }
}

/// Where a saved session form goes: back to the course, saying so (and, for a file waiting for
/// its virus scan, that it waits, with the worker woken); on a failure its waiting file goes.
async fn saved_session(
    state: &AppState,
    req: &Request,
    course: CourseId,
    form: &SessionForm,
    saved: Result<(), AppError>,
    said: &str,
) -> Result<Response, AppError> {
    if let Err(e) = saved {
        not_kept(state, form).await;
        return Err(e);
    }
    let back = format!("/admin/courses/{course}");
    if form.waiting.is_some() {
        crate::context::queue::wake(state).await;
        let said =
            format!("{said}: its file is waiting for a virus scan, and can be published once it has been scanned");
        return Ok(page::see_other_saying(req, &back, said));
    }
    Ok(page::see_other_saying(req, &back, said))
}

fn check_session(form: &SessionForm, needs_file: bool) -> Result<ObjectInput, FormErrors> {
    let mut e = FormErrors::new();
    let title = form.get("title").trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        e.insert("title", "Enter a title of 1 to 200 characters");
    }
    // Packaged sessions come from an uploaded package, and library sessions from the library's
    // "Use it in a course" (this form edits their title and completion only).
    let kind = ObjectKind::parse(&form.get("kind"))
        .filter(|k| *k != ObjectKind::Package && (*k != ObjectKind::Resource || !needs_file));
    if kind.is_none() {
        e.insert("kind", "Choose what the session is");
    }
    let body = form.get("body").replace("\r\n", "\n").trim().to_owned();
    if kind == Some(ObjectKind::Page) && body.is_empty() {
        e.insert("body", "Enter the page's text");
    }
    let url = form.get("url").trim().to_owned();
    let url = if kind == Some(ObjectKind::Link) {
        match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "https" | "http") && u.host_str().is_some() && url.len() <= 2000 => Some(url),
            _ => {
                e.insert("url", "Enter a web address starting https://");
                None
            }
        }
    } else {
        None
    };
    if let Some(msg) = &form.file_error {
        e.insert("file", msg.clone());
    } else if kind.is_some_and(ObjectKind::has_file) && form.file.is_none() && needs_file {
        e.insert("file", "Choose a file to upload");
    }
    let minutes = form.get("min_minutes").trim().parse::<i32>().ok();
    let completion = match Completion::parse(&form.get("completion"), minutes) {
        Some(Completion::Download) if kind != Some(ObjectKind::Document) => {
            e.insert("completion", "Only a document can be completed by downloading it");
            None
        }
        Some(Completion::Attended | Completion::Passed) if kind != Some(ObjectKind::FaceToFace) => {
            e.insert("completion", "Only a face-to-face session is completed by the trainer's register");
            None
        }
        Some(Completion::Package) => {
            e.insert("completion", "Choose when the session counts as completed");
            None
        }
        Some(c) if kind == Some(ObjectKind::FaceToFace) && !matches!(c, Completion::Attended | Completion::Passed) => {
            e.insert(
                "completion",
                "A face-to-face session is completed by the trainer's register: choose attended, or attended and passed",
            );
            None
        }
        Some(c) => Some(c),
        None if form.get("completion") == "time" => {
            e.insert("min_minutes", "Enter the minutes to spend, from 1 to 600");
            None
        }
        None => {
            e.insert("completion", "Choose when the session counts as completed");
            None
        }
    };
    if !e.is_empty() {
        return Err(e);
    }
    let completion = completion.unwrap_or(Completion::View);
    Ok(ObjectInput {
        title,
        kind: kind.map_or("page", ObjectKind::as_str).to_owned(),
        body,
        url,
        file: form.file.clone(),
        completion: completion.as_str().to_owned(),
        min_minutes: if let Completion::Time(m) = completion { i32::try_from(m).ok() } else { None },
        ..ObjectInput::default()
    })
}

#[allow(clippy::too_many_arguments)] // each is a distinct part of the page
async fn session_form_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    course: CourseId,
    object: Option<ObjectId>,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let c = cat::course(&tx, course).await?.filter(|c| !c.national).ok_or(AppError::NotFound)?;
    let current_file = match object {
        Some(o) => cat::object(&tx, o).await?.and_then(|o| o.file_name),
        None => None,
    };
    tx.commit().await?;
    let title = if object.is_some() { "Edit a session" } else { "Add a session" };
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        title,
        &[("Courses", "/admin/courses"), (&c.title, &format!("/admin/courses/{course}"))],
    );
    errors.insert_into(&mut ctx);
    ctx.insert("values", &values);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("course", &course_json(&c));
    ctx.insert("heading", title);
    ctx.insert("current_file", &current_file);
    ctx.insert("max_upload_mb", &state.config.files.max_upload_mb);
    let action = match object {
        Some(o) => format!("/admin/courses/{course}/sessions/{o}"),
        None => format!("/admin/courses/{course}/sessions"),
    };
    ctx.insert("action", &action);
    page::render(state, Some(site), "pages/admin_session.html", &ctx, status)
}

/// The form for a new session.
#[handler]
pub async fn new_session_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    let values = json!({ "title": "", "kind": "page", "body": "", "url": "", "completion": "view", "min_minutes": "" });
    session_form_page(
        state,
        site,
        req,
        token,
        page::path_id::<CourseId>(&id)?,
        None,
        &FormErrors::new(),
        values,
        StatusCode::OK,
    )
    .await
}

/// Adds a session to the course's draft (multipart: it may carry a file).
#[handler]
pub async fn add_session(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let course = page::path_id::<CourseId>(&id)?;
    let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
    let form = read_session_form(state, site, &who, multipart).await?;
    let input = match check_session(&form, true) {
        Ok(i) => i,
        Err(e) => {
            not_kept(state, &form).await;
            return session_form_page(
                state,
                site,
                req,
                token,
                course,
                None,
                &e,
                form.values(),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    if second_face_to_face(state, site, course, &input, None).await? {
        let e = FormErrors::one("kind", "The course already has a face-to-face session: its events are its dates");
        return session_form_page(state, site, req, token, course, None, &e, form.values(), StatusCode::BAD_REQUEST)
            .await;
    }
    let saved = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        if cat::add_object(&tx, course, &input).await?.is_none() {
            return Err(AppError::NotFound);
        }
        if let Some(kept) = &form.waiting {
            uploads::record_held(&tx, Some(me.person), Kind::Media, &course.to_string(), kept).await?;
        }
        audit::record(&tx, Some(me.person), "course.session_added", &course.to_string(), None, json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    saved_session(state, req, course, &form, saved, "Session added").await
}

/// The form for one session of the draft.
#[handler]
pub async fn edit_session_form(
    Ctx { req, state, site }: Ctx<'_>,
    _session: &Session,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path((id, object)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let Member { me: _me, tx, .. } = member;
    let course = page::path_id::<CourseId>(&id)?;
    let oid: ObjectId = page::path_id(&object)?;
    let o = cat::object(&tx, oid).await?.filter(|o| o.course == course).ok_or(AppError::NotFound)?;
    let owns = cat::owns(&tx, course).await?;
    tx.commit().await?;
    // A packaged session is what its package says: upload a new package to change it.
    if !owns || o.package.is_some() {
        return Err(AppError::NotFound);
    }
    let values = json!({
        "title": o.title, "kind": o.kind, "body": o.body, "url": o.url.clone().unwrap_or_default(),
        "completion": o.completion, "min_minutes": o.min_minutes.map(|m| m.to_string()).unwrap_or_default(),
    });
    session_form_page(state, site, req, token, course, Some(oid), &FormErrors::new(), values, StatusCode::OK).await
}

/// Saves a session (in the draft: a published version's session is changed through its copy).
#[handler]
pub async fn save_session(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path((id, object)): Path<(String, String)>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let course = page::path_id::<CourseId>(&id)?;
    let oid: ObjectId = page::path_id(&object)?;
    let who = crate::http::transfer::uploader(state, req, Some(me.person), None);
    let form = read_session_form(state, site, &who, multipart).await?;
    let input = match check_session(&form, false) {
        Ok(i) => i,
        Err(e) => {
            not_kept(state, &form).await;
            return session_form_page(
                state,
                site,
                req,
                token,
                course,
                Some(oid),
                &e,
                form.values(),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
    };
    if second_face_to_face(state, site, course, &input, Some(oid)).await? {
        not_kept(state, &form).await;
        let e = FormErrors::one("kind", "The course already has a face-to-face session: its events are its dates");
        return session_form_page(
            state,
            site,
            req,
            token,
            course,
            Some(oid),
            &e,
            form.values(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let saved = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        if !cat::update_object(&tx, course, oid, &input).await? {
            return Err(AppError::NotFound);
        }
        if let Some(kept) = &form.waiting {
            uploads::record_held(&tx, Some(me.person), Kind::Media, &course.to_string(), kept).await?;
        }
        audit::record(&tx, Some(me.person), "course.session_edited", &course.to_string(), None, json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    saved_session(state, req, course, &form, saved, "Session saved").await
}

#[derive(Debug, Deserialize, Default)]
pub struct SessionAction {
    #[serde(default)]
    action: String,
}

/// Moves a session up or down, or removes it, in the draft.
#[handler]
pub async fn session_action(
    req: &Request,
    Data(_state): Data<&AppState>,
    Data(_site): Data<&Arc<Site>>,
    member: Member<may::EditContent>,
    Path((id, object)): Path<(String, String)>,
    Form(form): Form<SessionAction>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let course = page::path_id::<CourseId>(&id)?;
    let oid: ObjectId = page::path_id(&object)?;
    let ok = match form.action.as_str() {
        "up" => cat::move_object(&tx, course, oid, -1).await?,
        "down" => cat::move_object(&tx, course, oid, 1).await?,
        "remove" => cat::remove_object(&tx, course, oid).await?,
        _ => return Err(AppError::BadRequest("Choose move up, move down or remove.".into())),
    };
    if !ok {
        return Err(AppError::NotFound);
    }
    audit::record(
        &tx,
        Some(me.person),
        &format!("course.session_{}", form.action),
        &course.to_string(),
        None,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    let said = match form.action.as_str() {
        "remove" => "Session removed",
        "up" => "Session moved up",
        _ => "Session moved down",
    };
    Ok(page::see_other_saying(req, &format!("/admin/courses/{course}"), said))
}
