//! Campaigns (issue 22): a trust's promotion of one course by an email shot, an intranet banner
//! and a landing page, its audience resolved from the staff records in one statement, and its
//! results. Clicks are counted per campaign and link (email or banner), never per person; the
//! people a campaign reached are those it emailed and those who enrolled from its landing page.

use crate::TenantTx;
use crate::error::DbError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{QueryResult, Value};
use trellis_domain::PersonId;
use trellis_domain::campaigns::{Audience, CampaignInput, Template, Who};
use uuid::Uuid;

/// Where a campaign is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Being prepared: its landing page is seen only by those who manage campaigns.
    Draft,
    /// Its landing page is open and its email may be sent.
    Live,
    /// Over: the landing page says so and points to the course.
    Ended,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Live => "live",
            Status::Ended => "ended",
        }
    }

    fn from_word(s: &str) -> Status {
        match s {
            "live" => Status::Live,
            "ended" => Status::Ended,
            _ => Status::Draft,
        }
    }
}

/// A campaign as stored.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub course: Uuid,
    pub audience: Audience,
    pub template: Template,
    pub subject: String,
    pub message: String,
    pub banner_text: String,
    pub landing_text: String,
    pub window_days: i32,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub launched_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub send_requested_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
    pub email_count: i32,
    pub email_clicks: i32,
    pub banner_clicks: i32,
}

impl Campaign {
    /// The end of its results window: launch plus the window's days.
    pub fn window_ends(&self) -> Option<DateTime<Utc>> {
        self.launched_at.map(|l| l + Duration::days(i64::from(self.window_days)))
    }
}

const COLUMNS: &str = "id, slug, name, course_id, audience, template, subject, message, banner_text, landing_text,
     window_days, status, created_at, launched_at, ended_at, send_requested_at, emailed_at, email_count, email_clicks,
     banner_clicks";

fn campaign(r: &QueryResult) -> Result<Campaign, DbError> {
    let audience: String = r.try_get("", "audience")?;
    let template: String = r.try_get("", "template")?;
    Ok(Campaign {
        id: r.try_get("", "id")?,
        slug: r.try_get("", "slug")?,
        name: r.try_get("", "name")?,
        course: r.try_get("", "course_id")?,
        // Written by this module from a checked Audience: unreadable only if edited by hand.
        audience: serde_json::from_str(&audience).unwrap_or_default(),
        template: Template::parse(&template).unwrap_or_default(),
        subject: r.try_get("", "subject")?,
        message: r.try_get("", "message")?,
        banner_text: r.try_get("", "banner_text")?,
        landing_text: r.try_get("", "landing_text")?,
        window_days: r.try_get("", "window_days")?,
        status: Status::from_word(&r.try_get::<String>("", "status")?),
        created_at: r.try_get("", "created_at")?,
        launched_at: r.try_get("", "launched_at")?,
        ended_at: r.try_get("", "ended_at")?,
        send_requested_at: r.try_get("", "send_requested_at")?,
        emailed_at: r.try_get("", "emailed_at")?,
        email_count: r.try_get("", "email_count")?,
        email_clicks: r.try_get("", "email_clicks")?,
        banner_clicks: r.try_get("", "banner_clicks")?,
    })
}

fn audience_json(a: &Audience) -> String {
    serde_json::to_string(a).unwrap_or_else(|_| "{}".to_owned())
}

fn content_values(c: &CampaignInput, course: Uuid) -> Vec<Value> {
    vec![
        c.name.clone().into(),
        course.into(),
        audience_json(&c.audience).into(),
        c.template.key().into(),
        c.subject.clone().into(),
        c.message.clone().into(),
        c.banner_text.clone().into(),
        c.landing_text.clone().into(),
        c.window_days.into(),
    ]
}

/// Creates a draft campaign promoting `course`, with an address made from its name (a number is
/// added when another campaign has it). Returns its id and address.
pub async fn create(tx: &TenantTx, c: &CampaignInput, course: Uuid, by: PersonId) -> Result<(Uuid, String), DbError> {
    let base = trellis_domain::campaigns::slug_of(&c.name);
    let taken: Vec<String> = tx
        .query_all(
            "SELECT slug FROM campaigns WHERE tenant_id = $1 AND (slug = $2 OR slug LIKE $3)",
            vec![base.clone().into(), format!("{base}-%").into()],
        )
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "slug"))
        .collect::<Result<_, _>>()?;
    let slug = (1..)
        .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
        .find(|s| !taken.contains(s))
        .unwrap_or(base);
    let id = Uuid::now_v7();
    let mut values = vec![id.into(), slug.clone().into()];
    values.extend(content_values(c, course));
    values.push(by.as_uuid().into());
    values.push(Utc::now().into());
    tx.execute(
        "INSERT INTO campaigns (tenant_id, id, slug, name, course_id, audience, template, subject, message, banner_text,
                                landing_text, window_days, created_by, created_at, status, email_count, email_clicks,
                                banner_clicks)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'draft', 0, 0, 0)",
        values,
    )
    .await?;
    Ok((id, slug))
}

/// Changes a campaign's content (its address stays). Refused (false) once its email has been
/// asked for: what was sent is what its results describe.
pub async fn update(tx: &TenantTx, id: Uuid, c: &CampaignInput, course: Uuid) -> Result<bool, DbError> {
    let mut values = vec![id.into()];
    values.extend(content_values(c, course));
    Ok(tx
        .execute(
            "UPDATE campaigns SET name = $3, course_id = $4, audience = $5, template = $6, subject = $7, message = $8,
                    banner_text = $9, landing_text = $10, window_days = $11
              WHERE tenant_id = $1 AND id = $2 AND send_requested_at IS NULL",
            values,
        )
        .await?
        == 1)
}

/// This trust's campaigns, newest first.
pub async fn list(tx: &TenantTx, limit: u64) -> Result<Vec<Campaign>, DbError> {
    tx.query_all(
        &format!("SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"),
        vec![(limit as i64).into()],
    )
    .await?
    .iter()
    .map(campaign)
    .collect()
}

/// One campaign by id.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<Campaign>, DbError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND id = $2"), vec![id.into()])
        .await?
        .as_ref()
        .map(campaign)
        .transpose()
}

/// One campaign by its address.
pub async fn by_slug(tx: &TenantTx, slug: &str) -> Result<Option<Campaign>, DbError> {
    tx.query_one(&format!("SELECT {COLUMNS} FROM campaigns WHERE tenant_id = $1 AND slug = $2"), vec![slug.into()])
        .await?
        .as_ref()
        .map(campaign)
        .transpose()
}

/// Opens a draft campaign (its landing page, banner link and email); false if it was not a draft.
pub async fn launch(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE campaigns SET status = 'live', launched_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'draft'",
            vec![id.into(), Utc::now().into()],
        )
        .await?
        == 1)
}

/// Ends a live campaign; false if it was not live.
pub async fn end(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE campaigns SET status = 'ended', ended_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'live'",
            vec![id.into(), Utc::now().into()],
        )
        .await?
        == 1)
}

/// Marks a live campaign's email as asked for (once): true if this call did it, so the caller
/// queues the sending job in the same transaction.
pub async fn request_send(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .execute(
            "UPDATE campaigns SET send_requested_at = $3
              WHERE tenant_id = $1 AND id = $2 AND status = 'live' AND send_requested_at IS NULL",
            vec![id.into(), Utc::now().into()],
        )
        .await?
        == 1)
}

/// Which link a click came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Email,
    Banner,
}

/// Counts one click on a live campaign's link; false if there is no such live campaign.
pub async fn count_click(tx: &TenantTx, slug: &str, link: Link) -> Result<bool, DbError> {
    let column = match link {
        Link::Email => "email_clicks",
        Link::Banner => "banner_clicks",
    };
    Ok(tx
        .execute(
            &format!(
                "UPDATE campaigns SET {column} = {column} + 1 WHERE tenant_id = $1 AND slug = $2 AND status = 'live'"
            ),
            vec![slug.into()],
        )
        .await?
        == 1)
}

/// The audience's conditions after `FROM memberships m JOIN people p …`: `$2` is the course and
/// `$3` today; the staff groups and departments are bound from `$4` on (their values appended to
/// `values`).
fn audience_sql(a: &Audience, values: &mut Vec<Value>) -> String {
    let mut sql = String::new();
    let list = |items: &[String], values: &mut Vec<Value>| {
        let mut marks = Vec::new();
        for i in items {
            values.push(i.clone().into());
            marks.push(format!("${}", values.len() + 1));
        }
        marks.join(", ")
    };
    let mut either = Vec::new();
    if !a.staff_groups.is_empty() {
        either.push(format!("s.staff_group IN ({})", list(&a.staff_groups, values)));
    }
    if !a.departments.is_empty() {
        either.push(format!("s.department IN ({})", list(&a.departments, values)));
    }
    if !either.is_empty() {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM staff_records s WHERE s.tenant_id = $1 AND s.person_id = m.person_id AND ({}))",
            either.join(" OR ")
        ));
    }
    match a.who {
        Who::Everyone => {}
        Who::Overdue => sql.push_str(
            " AND EXISTS (SELECT 1 FROM assignments x WHERE x.tenant_id = $1 AND x.person_id = m.person_id
                            AND x.course_id = $2 AND x.due_on < $3
                            AND NOT (x.completed_at IS NOT NULL AND (x.expires_on IS NULL OR x.expires_on > $3)))",
        ),
        Who::NotEnrolled => sql.push_str(
            " AND NOT EXISTS (SELECT 1 FROM enrolments e WHERE e.tenant_id = $1 AND e.person_id = m.person_id
                                AND e.course_id = $2 AND e.status IN ('requested', 'payment', 'active', 'completed'))",
        ),
    }
    sql
}

/// How many approved members `audience` holds on `today`, and how many of them have asked not to
/// get campaign emails (the one opt-out model: `people.objected_campaigns_at`).
pub async fn audience_size(
    tx: &TenantTx,
    audience: &Audience,
    course: Uuid,
    today: NaiveDate,
) -> Result<(i64, i64), DbError> {
    let mut values: Vec<Value> = vec![course.into(), today.into()];
    let conditions = audience_sql(audience, &mut values);
    let row = tx
        .query_one(
            &format!(
                "SELECT COUNT(*) AS n,
                        COALESCE(SUM(CASE WHEN p.objected_campaigns_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS objecting
                   FROM memberships m JOIN people p ON p.id = m.person_id
                  WHERE m.tenant_id = $1 AND m.status = 'approved' AND ($2 = $2) AND ($3 = $3){conditions}"
            ),
            values,
        )
        .await?;
    Ok(match row {
        Some(r) => (r.try_get("", "n")?, r.try_get("", "objecting")?),
        None => (0, 0),
    })
}

/// Those of `audience` on `today` who may be sent a campaign email (approved members who have not
/// objected): person and address, in one statement.
pub async fn recipients(
    tx: &TenantTx,
    audience: &Audience,
    course: Uuid,
    today: NaiveDate,
) -> Result<Vec<(PersonId, String)>, DbError> {
    let mut values: Vec<Value> = vec![course.into(), today.into()];
    let conditions = audience_sql(audience, &mut values);
    tx.query_all(
        &format!(
            "SELECT m.person_id, p.email
               FROM memberships m JOIN people p ON p.id = m.person_id
              WHERE m.tenant_id = $1 AND m.status = 'approved' AND p.objected_campaigns_at IS NULL
                AND ($2 = $2) AND ($3 = $3){conditions}
              ORDER BY m.person_id"
        ),
        values,
    )
    .await?
    .iter()
    .map(|r| Ok((PersonId::from_uuid(r.try_get("", "person_id")?), r.try_get("", "email")?)))
    .collect()
}

/// Records that the campaign emailed `people` at `at`, and its count and mailing (the caller
/// queues the messages in the same transaction).
pub async fn record_emailed(
    tx: &TenantTx,
    id: Uuid,
    mailing: Uuid,
    people: &[PersonId],
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    for chunk in people.chunks(400) {
        let mut values: Vec<Value> = vec![id.into(), at.into()];
        let mut rows = Vec::with_capacity(chunk.len());
        for p in chunk {
            values.push(p.as_uuid().into());
            rows.push(format!("($1, $2, ${}, $3)", values.len() + 1));
        }
        tx.execute(
            &format!(
                "INSERT INTO campaign_people (tenant_id, campaign_id, person_id, emailed_at) VALUES {}
                 ON CONFLICT (tenant_id, campaign_id, person_id) DO UPDATE SET emailed_at = excluded.emailed_at",
                rows.join(", ")
            ),
            values,
        )
        .await?;
    }
    tx.execute(
        "UPDATE campaigns SET emailed_at = $3, email_count = $4, mailing_id = $5 WHERE tenant_id = $1 AND id = $2",
        vec![id.into(), at.into(), (people.len() as i32).into(), mailing.into()],
    )
    .await?;
    Ok(())
}

/// Records that `person` enrolled (or asked to) from the campaign's landing page.
pub async fn record_response(tx: &TenantTx, id: Uuid, person: PersonId) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO campaign_people (tenant_id, campaign_id, person_id, responded_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, campaign_id, person_id) DO UPDATE SET responded_at = excluded.responded_at",
        vec![id.into(), person.as_uuid().into(), Utc::now().into()],
    )
    .await?;
    Ok(())
}

/// A campaign's results over its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Results {
    /// People it reached: emailed, or enrolled from its landing page.
    pub reached: i64,
    /// Of those, who enrolled on its course within the window (after it launched).
    pub enrolled: i64,
    /// Of those, who completed its course within the window.
    pub completed: i64,
    /// Enrolments made from its landing page.
    pub from_page: i64,
}

/// The results of campaign `c`, attributed to it when they fall between its launch and the end of
/// its window: one statement over the people it reached and their enrolment on its course.
pub async fn results(tx: &TenantTx, c: &Campaign) -> Result<Results, DbError> {
    let (Some(from), Some(to)) = (c.launched_at, c.window_ends()) else { return Ok(Results::default()) };
    let row = tx
        .query_one(
            "SELECT COUNT(*) AS reached,
                    COALESCE(SUM(CASE WHEN e.enrolled_at >= $4 AND e.enrolled_at < $5 THEN 1 ELSE 0 END), 0) AS enrolled,
                    COALESCE(SUM(CASE WHEN e.completed_at >= $4 AND e.completed_at < $5 THEN 1 ELSE 0 END), 0) AS completed,
                    COALESCE(SUM(CASE WHEN cp.responded_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS from_page
               FROM campaign_people cp
               LEFT JOIN enrolments e ON e.tenant_id = $1 AND e.person_id = cp.person_id AND e.course_id = $3
              WHERE cp.tenant_id = $1 AND cp.campaign_id = $2",
            vec![c.id.into(), c.course.into(), from.into(), to.into()],
        )
        .await?;
    Ok(match row {
        Some(r) => Results {
            reached: r.try_get("", "reached")?,
            enrolled: r.try_get("", "enrolled")?,
            completed: r.try_get("", "completed")?,
            from_page: r.try_get("", "from_page")?,
        },
        None => Results::default(),
    })
}
