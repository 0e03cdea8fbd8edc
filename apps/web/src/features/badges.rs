//! Badges (issue 22): a trust awards badges for completing a programme or keeping all mandatory
//! training current (`/admin/badges`); a person's badges show on their profile, each downloadable
//! as an Open Badges 3.0 credential signed by the trust the way completions are
//! (`usecases::records::badges`). A badge for training kept current is valid until the earliest
//! renewal date, and lapses when any mandatory training is no longer complete.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::learner::date_words;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo, see_other_saying};
use crate::http::{Ctx, Member, may};
use crate::usecases::records::badges::{self as ob, Achievement, Awarded};
use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Form, Path};
use poem::{Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use trellis_db::badges::{self, Award, Criterion};
use trellis_db::states::EnrolmentStatus;
use trellis_db::{TenantTx, audit, catalogue as cat, compliance, learning as learn};
use trellis_domain::PersonId;
use trellis_domain::learning::Compliance;
use uuid::Uuid;

/// An award to record: (badge, awarded at, valid until).
type Change = (Uuid, DateTime<Utc>, Option<DateTime<Utc>>);

/// What `person` has earned of the trust's badges now, against what is recorded: the awards to
/// record (new, renewed or lapsed). Reads only.
pub(crate) async fn changes(tx: &TenantTx, site: &Site, person: PersonId) -> Result<Vec<Change>, AppError> {
    let active = badges::list(tx, true).await?;
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let held = badges::awards_of(tx, person).await?;
    let today = site.today();
    let now = Utc::now();
    let start = |d: chrono::NaiveDate| site.at(d, chrono::NaiveTime::MIN).unwrap_or(now);
    let entries = compliance::person_entries(tx, person, today).await?;
    let enrolments = learn::enrolments_of(tx, person).await?;
    let programmes = if active.iter().any(|b| matches!(b.criterion, Criterion::Programme(_))) {
        cat::programmes(tx).await?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for b in &active {
        // When it was earned and until when it is current, if earned now.
        let earned: Option<(DateTime<Utc>, Option<DateTime<Utc>>)> = match b.criterion {
            Criterion::Mandatory => {
                let all = !entries.is_empty() && entries.iter().all(|(_, c)| c.status == Compliance::Complete);
                all.then(|| {
                    let at = entries.iter().filter_map(|(_, c)| c.completed_on).max().map_or(now, start);
                    let until = entries.iter().filter_map(|(_, c)| c.expires_on).min().map(|d| site.end_of_day(d));
                    (at, until)
                })
            }
            Criterion::Programme(p) => programmes.iter().find(|g| g.id.as_uuid() == p).and_then(|g| {
                let done: Vec<Option<DateTime<Utc>>> = g
                    .courses
                    .iter()
                    .map(|c| {
                        enrolments
                            .iter()
                            .filter(|e| e.course == *c && e.status == EnrolmentStatus::Completed)
                            .filter_map(|e| e.completed_at)
                            .max()
                    })
                    .collect();
                (!done.is_empty() && done.iter().all(Option::is_some))
                    .then(|| (done.into_iter().flatten().max().unwrap_or(now), None))
            }),
        };
        let recorded = held.iter().find(|a| a.badge == b.id);
        match (earned, recorded) {
            (Some((at, until)), Some(r)) if r.awarded_at == at && r.valid_until == until => {}
            (Some((at, until)), _) => out.push((b.id, at, until)),
            // No longer earned: a current award lapses now.
            (None, Some(r)) if r.valid_until.is_none_or(|u| u > now) => out.push((b.id, r.awarded_at, Some(now))),
            (None, _) => {}
        }
    }
    Ok(out)
}

/// Records `changes` for `person` in a transaction of their own (the page that found them reads
/// only).
pub(crate) async fn record(
    state: &AppState,
    site: &Site,
    person: PersonId,
    changes: &[Change],
) -> Result<(), AppError> {
    if changes.is_empty() {
        return Ok(());
    }
    let tx = state.dbs.app.begin(site.entry.id).await?;
    for (badge, at, until) in changes {
        badges::award(&tx, *badge, person, *at, *until).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// `person`'s badges as their profile shows them.
pub(crate) fn awards_json(site: &Site, awards: &[Award]) -> Vec<serde_json::Value> {
    let now = Utc::now();
    let day = |d: DateTime<Utc>| date_words(d.with_timezone(&site.zone()).date_naive());
    awards
        .iter()
        .map(|a| {
            json!({
                "id": a.id.to_string(), "name": a.name, "description": a.description,
                "awarded": day(a.awarded_at),
                "until": a.valid_until.map(day),
                "lapsed": a.valid_until.is_some_and(|u| u <= now),
            })
        })
        .collect()
}

/// One of the signed-in person's badges as a signed Open Badges 3.0 credential (a VC-JWT file).
#[handler]
pub async fn download(
    Ctx { state, site, .. }: Ctx<'_>,
    member: Member<may::Anyone>,
    Path(file): Path<String>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: Uuid = page::path_id(file.strip_suffix(".jwt").unwrap_or(&file))?;
    let award = badges::award_by_id(&tx, id).await?.filter(|a| a.person == me.person).ok_or(AppError::NotFound)?;
    let person = trellis_db::identity::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let base = site.url.trim_end_matches('/');
    let criteria = if award.criterion == "programme" {
        "Every course of the programme completed."
    } else {
        "All of the holder's mandatory training complete and current."
    };
    let name = format!("{} {}", person.given_name, person.family_name);
    let awarded = Awarded {
        seed: format!("{base}/badges/awards/{}/{}", award.id, award.awarded_at.timestamp()),
        achievement: Achievement {
            id: format!("{base}/badges/{}", award.badge),
            kind: "Badge",
            name: &award.name,
            description: if award.description.is_empty() {
                format!("A badge of {}.", site.entry.name)
            } else {
                award.description.clone()
            },
            criteria: criteria.into(),
        },
        valid_from: award.awarded_at,
        valid_until: award.valid_until,
        email: &person.email,
        name: name.trim(),
    };
    let (cid, vc) = ob::award_credential(&site.url, &site.entry.name, &site.entry.ods_code, &awarded);
    let key = ob::issuer_key(state, site.entry.id)?;
    let jwt = ob::sign(&key, &site.url, &cid, &vc, award.awarded_at)?;
    Ok(Response::builder()
        .header("Content-Type", "application/vc+jwt")
        .header("Content-Disposition", "attachment; filename=\"badge.jwt\"")
        .header("Cache-Control", "private, no-store")
        .body(jwt))
}

// ---- The training managers' page ----

#[allow(clippy::too_many_arguments)] // the page's parts
async fn admin_render(
    state: &AppState,
    site: &Site,
    req: &Request,
    tx: &TenantTx,
    token: &CsrfToken,
    errors: &FormErrors,
    values: serde_json::Value,
    status: StatusCode,
) -> Result<Response, AppError> {
    let list = badges::list(tx, false).await?;
    let programmes = cat::programmes(tx).await?;
    let mut ctx =
        page::context(state, Some(site), &RequestInfo::of(req), "Badges", &[("Home", "/"), ("Admin", "/admin")]);
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("values", &values);
    ctx.insert(
        "badges",
        &list
            .iter()
            .map(|b| {
                let what = match b.criterion {
                    Criterion::Mandatory => "All mandatory training complete and current".to_owned(),
                    Criterion::Programme(p) => format!(
                        "Every course of {} completed",
                        programmes.iter().find(|g| g.id.as_uuid() == p).map_or("a programme", |g| g.title.as_str())
                    ),
                };
                json!({ "id": b.id.to_string(), "name": b.name, "what": what, "awarded": b.awarded, "active": b.active })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert(
        "programmes",
        &programmes.iter().map(|g| json!({ "id": g.id.to_string(), "title": g.title })).collect::<Vec<_>>(),
    );
    page::render(state, Some(site), "pages/admin_badges.html", &ctx, status)
}

/// The trust's badges, with a form to add one.
#[handler]
pub async fn admin_page(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let values = json!({ "name": "", "description": "", "criterion": "", "programme": "" });
    let resp = admin_render(state, site, req, &tx, token, &FormErrors::new(), values, StatusCode::OK).await?;
    tx.commit().await?;
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
pub struct BadgeForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    criterion: String,
    #[serde(default)]
    programme: String,
}

/// Adds a badge, awarded from now on to everyone who meets it.
#[handler]
pub async fn add(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    token: &CsrfToken,
    Form(f): Form<BadgeForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 120 {
        errors.insert("name", "Enter the badge's name (up to 120 characters)");
    }
    if f.description.trim().chars().count() > 500 {
        errors.insert("description", "The description must be 500 characters or fewer");
    }
    let criterion = match f.criterion.as_str() {
        "mandatory" => Some(Criterion::Mandatory),
        "programme" => {
            let programmes = cat::programmes(&tx).await?;
            match programmes.iter().find(|g| g.id.to_string() == f.programme) {
                Some(g) => Some(Criterion::Programme(g.id.as_uuid())),
                None => {
                    errors.insert("programme", "Choose the programme");
                    None
                }
            }
        }
        _ => {
            errors.insert("criterion", "Choose what earns the badge");
            None
        }
    };
    let (Some(criterion), true) = (criterion, errors.is_empty()) else {
        let values =
            json!({ "name": f.name, "description": f.description, "criterion": f.criterion, "programme": f.programme });
        let resp =
            admin_render(state, site, req, &tx, token, &errors, values, StatusCode::UNPROCESSABLE_ENTITY).await?;
        tx.commit().await?;
        return Ok(resp);
    };
    let id = badges::create(&tx, name, f.description.trim(), criterion).await?;
    audit::record(&tx, Some(me.person), "badge.created", &id.to_string(), None, json!({ "name": name })).await?;
    tx.commit().await?;
    Ok(see_other_saying(req, "/admin/badges", format!("{name} added: staff who earn it see it on their profile")))
}

#[derive(Debug, Deserialize, Default)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// Starts or stops awarding a badge (badges awarded stand).
#[handler]
pub async fn set_active(
    Ctx { req, .. }: Ctx<'_>,
    member: Member<may::ManageTraining>,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let id: Uuid = page::path_id(&id)?;
    let active = f.active == "yes";
    if !badges::set_active(&tx, id, active).await? {
        return Err(AppError::NotFound);
    }
    audit::record(&tx, Some(me.person), "badge.changed", &id.to_string(), None, json!({ "active": active })).await?;
    tx.commit().await?;
    let said =
        if active { "Badge awarded again from now on" } else { "Badge no longer awarded: those who hold it keep it" };
    Ok(see_other_saying(req, "/admin/badges", said))
}
