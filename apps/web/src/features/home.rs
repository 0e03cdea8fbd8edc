//! A home for each role, where a signed-in person lands: their own learning (what is overdue or
//! due, in progress, recently completed, and where to find more), and for a training manager the
//! trust at a glance (compliance overall and by staff group, what waits for a decision, who is
//! overdue with the action to chase them, recent imports). Everything here is an indexed read or
//! a kept figure: nothing scans the trust.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::learner::learning_view;
use crate::http::page::{self, RequestInfo, see_other};
use crate::http::{auth, chart};
use poem::http::StatusCode;
use poem::session::Session;
use poem::{Request, Response};
use serde_json::json;
use trellis_db::compliance::{Counts, MatrixQuery};
use trellis_db::{TenantTx, audit, identity as id, learning as learn};
use trellis_domain::identity::Permission;

/// How many of each list the home shows (My learning has them all).
const SHOWN: usize = 5;
/// How many waiting decisions are counted exactly ("more than" beyond).
const COUNTED: u64 = 100;

/// The signed-in person's home, or `None` if the request has no valid session here.
pub async fn signed_in(req: &Request, state: &AppState, site: &Site) -> Result<Option<Response>, AppError> {
    let Some(session) = req.extensions().get::<Session>() else { return Ok(None) };
    let Some((me, terms, tx)) = auth::check_open(state, site, session, false).await? else { return Ok(None) };
    if !auth::agreed(state, &tx, session, &me, terms.as_deref()).await? {
        tx.commit().await?;
        return Ok(Some(see_other("/terms")));
    }
    let view = learning_view(state, &tx, site, me.person).await?;
    let messages = trellis_db::site::current_messages(&tx, site.today(), 10).await?;
    let manager = if me.may(Permission::ManageTraining) { Some(manager_panel(state, &tx, site).await?) } else { None };
    let seller = if me.may(Permission::Sell) { seller_panel(state, &tx, site).await? } else { None };
    let glance = trellis_db::coaching::glance(&tx, me.person, site.today()).await?;
    let (team, team_overdue) = glance.team;
    // Once a year: are their place of work and job role still right?
    let confirm = id::signed_in_person(&tx, me.person).await?.filter(|p| p.details_due(chrono::Utc::now())).map(|p| {
        json!({
            "job_role": p.job_role,
            "place_of_work": p.place_of_work,
            "place_name": state.directory.sites().iter().find(|s| s.entry.ods_code == p.place_of_work).map(|s| s.entry.name.clone()),
        })
    });
    tx.commit().await?;
    let todo: Vec<_> = view.mandatory.iter().filter(|m| m["status"] != "complete").take(SHOWN).cloned().collect();
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Home", &[]);
    ctx.insert("first_name", me.name.split_whitespace().next().unwrap_or(""));
    ctx.insert("todo", &todo);
    ctx.insert("todo_more", &(view.mandatory.iter().filter(|m| m["status"] != "complete").count() > SHOWN));
    ctx.insert("in_progress", &view.in_progress.iter().take(SHOWN).collect::<Vec<_>>());
    ctx.insert("requested", &view.requested.len());
    ctx.insert("completed", &view.completed.iter().take(3).collect::<Vec<_>>());
    ctx.insert("tools", &auth::tools(&me));
    ctx.insert("messages", &messages_json(&messages));
    ctx.insert("confirm_details", &confirm);
    if team > 0 {
        ctx.insert("team", &json!({ "people": team, "overdue": team_overdue }));
    }
    if let Some((people, due)) = glance.coaching {
        ctx.insert("coaching", &json!({ "people": people, "due": due }));
    }
    ctx.insert(
        "my_coaches",
        &glance.coaches.iter().map(|(name, email)| json!({ "name": name, "email": email })).collect::<Vec<_>>(),
    );
    if let Some(m) = manager {
        ctx.insert("manager", &m);
    }
    if let Some(s) = seller {
        ctx.insert("seller", &s);
    }
    page::render(state, Some(site), "pages/home.html", &ctx, StatusCode::OK).map(Some)
}

/// The trust at a glance, for training managers.
async fn manager_panel(state: &AppState, tx: &TenantTx, site: &Site) -> Result<serde_json::Value, AppError> {
    let pending = id::pending_members(tx, COUNTED + 1).await?.len();
    let requests = learn::requests(tx, COUNTED + 1).await?.len();
    let imports: Vec<_> = audit::trail_of(tx, "staff.import", 3)
        .await?
        .into_iter()
        .map(|e| {
            json!({
                "when": e.at.with_timezone(&site.zone()).format("%-d %B %Y at %H:%M").to_string(),
                "what": match e.action.as_str() {
                    "staff.imported" => "Imported",
                    "staff.import_failed" => "Failed: nothing was changed",
                    _ => "Waiting to be imported",
                },
            })
        })
        .collect();
    let counted = state.totals.totals(state, site.entry.id, &MatrixQuery::default(), site.today()).await?;
    let t = &counted.totals;
    let mut bars = vec![bar("Whole trust", &t.overall, None)];
    bars.extend(
        t.by_group
            .iter()
            .map(|(g, c)| bar(if g.is_empty() { "No staff group recorded" } else { g }, c, Some(g.as_str()))),
    );
    let trend = trend(tx, site.today()).await?;
    Ok(json!({
        "trend": trend,
        "bars": bars,
        "overdue": t.overall.overdue,
        "pending": count_words(pending),
        "pending_n": pending,
        "requests": count_words(requests),
        "requests_n": requests,
        "imports": imports,
        "counted_at": counted.at.with_timezone(&site.zone()).format("%H:%M").to_string(),
        "target": TARGET,
    }))
}

/// The trust's compliance over the last twelve weeks, from the figures kept each day: the line
/// drawn from every kept day, the table one row a week (the latest day of each week). `None`
/// until a day has been kept.
async fn trend(tx: &TenantTx, today: chrono::NaiveDate) -> Result<Option<serde_json::Value>, AppError> {
    let days = trellis_db::compliance::history(tx, today - chrono::Duration::days(83)).await?;
    if days.is_empty() {
        return Ok(None);
    }
    let line = chart::percent_line(&days.iter().map(|(_, c)| c.percent_complete()).collect::<Vec<_>>(), TARGET);
    let mut weeks: Vec<serde_json::Value> = Vec::new();
    let mut last_week = None;
    for (day, c) in days.iter().rev() {
        let week = (today - *day).num_days() / 7;
        if last_week == Some(week) {
            continue;
        }
        last_week = Some(week);
        weeks.push(json!({
            "day": day.format("%-d %B %Y").to_string(),
            "percent": c.percent_complete(),
            "overdue": c.overdue,
            "below": c.percent_complete() < TARGET,
        }));
    }
    weeks.reverse();
    Ok(Some(json!({ "line": line, "weeks": weeks, "since": days[0].0.format("%-d %B %Y").to_string() })))
}

/// For a site that sells in the marketplace: its listings (live, waiting for review) and its
/// earnings (earned, paid out, owed), from its own ledger lines. `None` if it has not registered
/// to sell.
async fn seller_panel(state: &AppState, tx: &TenantTx, site: &Site) -> Result<Option<serde_json::Value>, AppError> {
    use trellis_db::states::ListingStatus;
    let Some(s) = state.dbs.platform.seller_of_site(site.entry.id).await? else { return Ok(None) };
    let listings = state.dbs.platform.listings_of_seller(s.id).await?;
    let balances = trellis_db::market::balances(tx).await?;
    let month = chart::months_to(site.today(), 1);
    let since = chart::first_day(&month).unwrap_or_else(|| site.today()).and_time(chrono::NaiveTime::MIN).and_utc();
    let (sold, earned_month) = trellis_db::market::sales_by_month(tx, since)
        .await?
        .into_iter()
        .fold((0, 0), |(n, e), (_, sn, se)| (n + sn, e + se));
    let pence = |k: &str| -balances.get(k).copied().unwrap_or(0);
    let fmt = trellis_domain::market::format_pence;
    Ok(Some(json!({
        "live": listings.iter().filter(|l| l.status == ListingStatus::Live).count(),
        "sold_this_month": sold,
        "earned_this_month": fmt(earned_month),
        "waiting": listings.iter().filter(|l| l.status == ListingStatus::Submitted).count(),
        "earned": fmt(pence("earnings") + pence("paid_out")),
        "paid_out": fmt(pence("paid_out")),
        "owed": fmt(pence("earnings")),
    })))
}

/// The compliance a trust aims for: bars below it are marked.
const TARGET: i64 = 90;

/// One bar of the compliance chart: a label, the percentage complete and the counts behind it.
fn bar(label: &str, c: &Counts, group: Option<&str>) -> serde_json::Value {
    let pct = c.percent_complete();
    json!({
        "label": label,
        "percent": pct,
        "complete": c.complete,
        "due": c.due,
        "overdue": c.overdue,
        "not_started": c.not_started,
        "total": c.total(),
        "below": pct < TARGET,
        "link": group.map(|g| format!("/admin/compliance?group={}", urlencoding(g))),
    })
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn count_words(n: usize) -> String {
    if n as u64 > COUNTED { format!("More than {COUNTED}") } else { n.to_string() }
}

/// The Admin page: the tools this person may use here, as a task list.
#[poem::handler]
pub async fn admin_index(
    crate::http::Ctx { req, state, site }: crate::http::Ctx<'_>,
    member: crate::http::Member<crate::http::may::Anyone>,
) -> Result<Response, AppError> {
    let crate::http::Member { me, tx, .. } = member;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Admin", &[("Home", "/")]);
    ctx.insert("tools", &auth::tools(&me));
    page::render(state, Some(site), "pages/admin_index.html", &ctx, StatusCode::OK)
}

/// Key messages as the home pages show them.
pub fn messages_json(messages: &[trellis_db::site::Message]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|m| {
            json!({
                "title": m.title,
                "body": m.body,
                "starts_on": m.starts_on.format("%-d %B %Y").to_string(),
                "ends_on": m.ends_on.map(|d| d.format("%-d %B %Y").to_string()),
            })
        })
        .collect()
}
