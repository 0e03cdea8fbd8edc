//! A person corrects their own details: name, job role and place of work (their account's, the
//! same at every trust), and — where this trust holds no HR record for them — their staff group
//! and department here. A change that would move them into or out of a training rule is shown
//! first ("this adds Fire safety, removes …") and made only when they confirm; the rules are then
//! applied again in the same transaction.

use super::*;
use crate::http::{Ctx, Member, may};
use trellis_db::audit;
use trellis_db::staff::{self, StaffRecord};
use trellis_domain::learning::{Audience, RecordFields, STAFF_GROUPS, staff_group};

#[derive(Debug, Deserialize, Default)]
pub struct DetailsForm {
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    job_role: String,
    #[serde(default)]
    place_of_work: String,
    #[serde(default)]
    staff_group: String,
    #[serde(default)]
    department: String,
    /// `yes` once the effect on training has been shown and accepted.
    #[serde(default)]
    confirm: String,
    /// `yes`: the person has checked an organisation code this service does not know.
    #[serde(default)]
    unknown_ok: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct DetailsQuery {
    /// Searches the organisations this service knows by name or code.
    #[serde(default)]
    find: String,
    /// Fills the place of work (a search result chosen).
    #[serde(default)]
    place_of_work: String,
}

/// The organisations whose name or code contains `q`.
fn find(state: &AppState, q: &str) -> Vec<serde_json::Value> {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return vec![];
    }
    organisations(state)
        .into_iter()
        .filter(|(ods, name)| name.to_lowercase().contains(&q) || ods.to_lowercase().starts_with(&q))
        .take(20)
        .map(|(ods, name)| json!({ "code": ods, "name": name }))
        .collect()
}

/// Whether this trust's record of the person is theirs to change (none yet, or one they made:
/// not one from the HR system, which has an assignment number).
fn record_editable(record: Option<&StaffRecord>) -> bool {
    record.is_none_or(|r| r.assignment_number.is_none())
}

#[allow(clippy::too_many_arguments)] // the page's parts
async fn page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    me: trellis_domain::PersonId,
    values: serde_json::Value,
    errors: &FormErrors,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let record = staff::record(&tx, me).await?;
    tx.commit().await?;
    let mut values = values;
    for (k, default) in [
        ("find", json!("")),
        ("matches", json!([])),
        ("searched", json!(false)),
        ("unknown_place", json!(false)),
        ("staff_group", json!("")),
        ("department", json!("")),
    ] {
        if values.get(k).is_none() {
            values[k] = default;
        }
    }
    values["record_editable"] = json!(record_editable(record.as_ref()));
    values["hr_record"] = json!(record.as_ref().filter(|r| r.assignment_number.is_some()).map(|r| json!({
        "staff_group": r.staff_group, "department": r.department, "position": r.position,
    })));
    values["staff_groups"] = json!(STAFF_GROUPS);
    let values = with_organisations(state, values);
    form_page(state, site, req, token, "pages/details.html", "Change your details", errors, values, status)
}

/// The person confirms that their place of work and job role are still right (asked once a year on
/// their home).
#[handler]
pub async fn details_confirm(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    tx.commit().await?;
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    id::confirm_details(&itx, me.person).await?;
    audit::record(&itx, Some(me.person), "details.confirmed", &me.person.to_string(), None, json!({})).await?;
    itx.commit().await?;
    Ok(page::see_other_saying(
        req,
        "/",
        "Thank you: your place of work and job role are confirmed for the next 12 months",
    ))
}

/// The form, with the person's details as they are (or a place of work chosen from a search).
#[handler]
pub async fn details_form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Query(q): Query<DetailsQuery>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let person = id::member_person(&tx, me.person).await?.ok_or(AppError::NotFound)?;
    let record = staff::record(&tx, me.person).await?;
    tx.commit().await?;
    let chosen = q.place_of_work.trim().to_uppercase();
    let values = json!({
        "given_name": person.given_name,
        "family_name": person.family_name,
        "job_role": person.job_role,
        "place_of_work": if is_ods_code(&chosen) { chosen } else { person.place_of_work },
        "staff_group": record.as_ref().map(|r| r.staff_group.clone()).unwrap_or_default(),
        "department": record.as_ref().map(|r| r.department.clone()).unwrap_or_default(),
        "find": q.find,
        "matches": find(state, &q.find),
        "searched": !q.find.trim().is_empty(),
    });
    page(state, site, req, token, me.person, values, &FormErrors::new(), StatusCode::OK).await
}

/// Saves the details, after showing what a change of staff group or department does to the
/// person's training.
#[handler]
pub async fn details_save(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::Anyone>,
    token: &CsrfToken,
    Form(f): Form<DetailsForm>,
) -> Result<Response, AppError> {
    let Member { me, tx, .. } = member;
    let mut errors = FormErrors::new();
    let text = |v: &str, field: &'static str, label: &str, errors: &mut FormErrors| {
        let v = v.trim();
        if v.is_empty() {
            errors.insert(field, format!("Enter your {label}"));
        } else if v.chars().count() > 100 {
            errors.insert(field, format!("Your {label} must be 100 characters or fewer"));
        }
        v.to_owned()
    };
    let given = text(&f.given_name, "given_name", "first name", &mut errors);
    let family = text(&f.family_name, "family_name", "last name", &mut errors);
    let job_role = text(&f.job_role, "job_role", "job role", &mut errors);
    let place = f.place_of_work.trim().to_uppercase();
    let known = organisations(state).into_iter().any(|(c, _)| c == place);
    if !is_ods_code(&place) {
        errors.insert("place_of_work", "Enter the ODS code of your place of work, like RXX or RXX01");
    } else if !known && f.unknown_ok != "yes" {
        errors.insert(
            "place_of_work",
            format!("This service does not know an organisation with the code {place}. Check the code (or find your organisation by name), then tick the box to use it"),
        );
    }
    let record = staff::record(&tx, me.person).await?;
    let rules = trellis_db::compliance::requirements(&tx).await?;
    let courses =
        trellis_db::catalogue::courses_by_id(&tx, &rules.iter().map(|r| r.course.as_uuid()).collect::<Vec<_>>())
            .await?;
    tx.commit().await?;
    let editable = record_editable(record.as_ref());
    let (group, department) = if editable {
        let group = match f.staff_group.trim() {
            "" => String::new(),
            g => match staff_group(g) {
                Some(g) => g.to_owned(),
                None => {
                    errors.insert("staff_group", "Choose your staff group from the list");
                    String::new()
                }
            },
        };
        let department = f.department.trim().to_owned();
        if department.chars().count() > 100 {
            errors.insert("department", "The department must be 100 characters or fewer");
        }
        (group, department)
    } else {
        (String::new(), String::new())
    };
    let values = json!({
        "given_name": f.given_name, "family_name": f.family_name, "job_role": f.job_role,
        "place_of_work": f.place_of_work, "staff_group": f.staff_group, "department": f.department,
        "unknown_place": !known && is_ods_code(&place),
    });
    if !errors.is_empty() {
        return page(state, site, req, token, me.person, values, &errors, StatusCode::UNPROCESSABLE_ENTITY).await;
    }

    // What a change of this trust's record does to the person's mandatory training.
    let old = record.clone().unwrap_or_default();
    let new = StaffRecord {
        assignment_number: None,
        position: job_role.clone(),
        department: department.clone(),
        staff_group: group.clone(),
        place_of_work: old.place_of_work.clone(),
        end_date: old.end_date,
    };
    let record_changes = editable
        && match &record {
            Some(_) => {
                old.staff_group != new.staff_group || old.department != new.department || old.position != new.position
            }
            None => !new.staff_group.is_empty() || !new.department.is_empty(),
        };
    let fields =
        |r: &StaffRecord| (r.staff_group.clone(), r.department.clone(), r.position.clone(), r.place_of_work.clone());
    let takes = |a: &Audience, r: Option<&StaffRecord>| {
        let f = r.map(fields);
        let rf = f.as_ref().map(|(g, d, p, w)| RecordFields {
            staff_group: g,
            department: d,
            position: p,
            place_of_work: w,
        });
        a.takes_in(me.person, rf.as_ref())
    };
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    if record_changes {
        for r in rules.iter().filter(|r| r.mandatory) {
            let before = takes(&r.audience, record.as_ref());
            let after = takes(&r.audience, Some(&new));
            let title = courses.get(&r.course.as_uuid()).map(|c| c.title.clone()).unwrap_or_default();
            if after && !before {
                adds.push(title);
            } else if before && !after {
                removes.push(title);
            }
        }
    }
    if (!adds.is_empty() || !removes.is_empty()) && f.confirm != "yes" {
        let mut v = values;
        v["adds"] = json!(adds);
        v["removes"] = json!(removes);
        v["unknown_ok"] = json!(f.unknown_ok);
        return form_page(
            state,
            site,
            req,
            token,
            "pages/details_confirm.html",
            "Check the change to your training",
            &FormErrors::new(),
            v,
            StatusCode::OK,
        );
    }

    let ip = client_ip(state, req);
    let details = id::Details { given_name: given, family_name: family, job_role, place_of_work: place };
    let itx = state.dbs.identity.begin(site.entry.id).await?;
    id::update_details(&itx, me.person, &details).await?;
    audit::record(&itx, Some(me.person), "account.details_changed", &me.person.to_string(), ip.as_deref(), json!({}))
        .await?;
    itx.commit().await?;
    if record_changes {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        staff::set_record(&tx, me.person, &new).await?;
        let changed = crate::usecases::compliance::apply_rules::moved(&tx, site, me.person).await?;
        audit::record(
            &tx,
            Some(me.person),
            "staff.record_changed_by_self",
            &me.person.to_string(),
            ip.as_deref(),
            json!({ "staff_group": new.staff_group, "department": new.department, "adds": adds, "removes": removes }),
        )
        .await?;
        tx.commit().await?;
        crate::usecases::compliance::apply_rules::changed(state, site, changed);
    }
    message_page(
        state,
        site,
        req,
        StatusCode::OK,
        "Your details have been saved",
        if adds.is_empty() && removes.is_empty() {
            "Your details are up to date."
        } else {
            "Your details are up to date, and your mandatory training has changed to match: see My learning."
        },
        Some(("Go to your profile", "/profile")),
    )
}
