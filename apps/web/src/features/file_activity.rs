//! *Uploads and downloads*: the log of every upload and download of content, for a trust's
//! administrators (their trust's, at `/admin/file-activity`) and the platform's (every trust's, at
//! `/admin/file-activity` on the platform's site), filtered by direction and period, newest first,
//! 100 to a page.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::platform_admin;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, PlatformAdmin, may};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Query};
use poem::{Request, Response, handler};
use serde_json::{Value, json};
use std::collections::HashMap;
use trellis_db::identity as id;
use trellis_db::transfers::{self, Direction, Transfer};
use trellis_domain::PersonId;

/// Entries to a page.
const PAGE: u64 = 100;

/// The filters as asked for, their errors, and the query to read with.
struct Filters {
    values: Value,
    errors: FormErrors,
    query: transfers::Query,
}

fn filters(q: &HashMap<String, String>) -> Filters {
    let one = |k: &str| q.get(k).map(|v| v.trim().chars().take(40).collect::<String>()).unwrap_or_default();
    let mut errors = FormErrors::new();
    let direction = Direction::parse(&one("direction"));
    let mut day = |name: &str, label: &str| -> Option<NaiveDate> {
        match page::date_entered(
            &one(name),
            [&one(&format!("{name}-day")), &one(&format!("{name}-month")), &one(&format!("{name}-year"))],
        ) {
            Some(Ok(d)) => Some(d),
            Some(Err(())) => {
                errors.insert(name, format!("Enter the {label} day as a real date, like 1 12 2026"));
                None
            }
            None => None,
        }
    };
    let from = day("from", "first");
    let to = day("to", "last");
    let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        errors.insert("to", "The last day must be the same as or after the first day");
    }
    let before = one("before").split_once('_').and_then(|(micros, id)| {
        let at = DateTime::<Utc>::from_timestamp_micros(micros.parse().ok()?)?;
        Some((at, id.parse().ok()?))
    });
    let values = json!({
        "direction": direction.map(Direction::as_str).unwrap_or(""),
        "from": page::date_as_typed(&one("from"), [&one("from-day"), &one("from-month"), &one("from-year")]),
        "to": page::date_as_typed(&one("to"), [&one("to-day"), &one("to-month"), &one("to-year")]),
    });
    let query = transfers::Query {
        direction,
        from: from.map(midnight),
        to: to.map(|d| midnight(d + chrono::Duration::days(1))),
        before,
        limit: PAGE,
    };
    Filters { values, errors, query }
}

/// How a size is read: "840 bytes", "12.5 KB", "3.2 MB".
pub fn size_words(bytes: i64) -> String {
    let b = bytes.max(0) as f64;
    if b < 1024.0 {
        format!("{bytes} bytes")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MB", b / 1_048_576.0)
    } else {
        format!("{:.2} GB", b / 1_073_741_824.0)
    }
}

/// What each kind of file is called on the page.
fn what_words(what: &str) -> &str {
    match what {
        "package" => "E-learning package",
        "media" => "Course video, audio or document",
        "resource" => "Library resource",
        "logo" => "Logo",
        "staff_file" => "Staff file",
        "certificate" => "Certificate",
        "activity" => "Learning record (My activity)",
        "export" => "Learning record export",
        "report" => "Organisation report",
        "admin_export" => "Administrator's export",
        "marketplace" => "Marketplace statement",
        _ => "File",
    }
}

fn rows(list: &[Transfer], names: &HashMap<PersonId, String>, trusts: &HashMap<String, String>) -> Vec<Value> {
    list.iter()
        .map(|t| {
            let outcome = t.detail["outcome"].as_str().unwrap_or_default();
            let partial = t.detail["complete"].as_bool() == Some(false);
            json!({
                "at": t.at.format("%-d %B %Y %H:%M:%S UTC").to_string(),
                "who": t.person.map(|p| names.get(&p).cloned().unwrap_or_else(|| "A former member".into()))
                    .unwrap_or_else(|| if t.detail["api_token"].is_string() { "The trust API".into() } else { "Someone not signed in".into() }),
                "trust": trusts.get(&t.tenant.to_string()).cloned().unwrap_or_default(),
                "direction": if t.direction == Direction::Upload { "Upload" } else { "Download" },
                "what": what_words(&t.what),
                "subject": t.subject,
                "size": size_words(t.bytes),
                "note": if partial { "Stopped before the end".to_owned() } else { outcome.to_owned() },
                "ip": t.ip,
            })
        })
        .collect()
}

fn older(list: &[Transfer], q: &HashMap<String, String>) -> Option<String> {
    let last = list.last().filter(|_| list.len() as u64 == PAGE)?;
    let mut pairs: Vec<(String, String)> =
        q.iter().filter(|(k, _)| k.as_str() != "before").map(|(k, v)| (k.clone(), v.clone())).collect();
    pairs.sort();
    pairs.push(("before".into(), format!("{}_{}", last.at.timestamp_micros(), last.id)));
    Some(format!("?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()))
}

/// A trust's uploads and downloads (its administrators').
#[handler]
pub async fn trust(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::ReadAudit>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let Member { tx, .. } = member;
    let f = filters(&q);
    let list = if f.errors.is_empty() { transfers::transfers(&tx, &f.query).await? } else { Vec::new() };
    let ids: Vec<PersonId> = list.iter().filter_map(|t| t.person).collect();
    let names = id::member_names(&tx, &ids).await?;
    tx.commit().await?;
    let mut ctx = page::context(state, Some(site), &RequestInfo::of(req), "Uploads and downloads", &[("Home", "/")]);
    if let Value::Object(map) = data(&f, rows(&list, &names, &HashMap::new()), older(&list, &q), false) {
        for (k, v) in map {
            ctx.insert(k, &v);
        }
    }
    let status = if f.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    page::render(state, Some(site), "pages/file_activity.html", &ctx, status)
}

/// Every trust's uploads and downloads (platform administrators').
#[handler]
pub async fn platform(
    req: &Request,
    Data(state): Data<&AppState>,
    PlatformAdmin(_admin): PlatformAdmin,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let f = filters(&q);
    let list =
        if f.errors.is_empty() { state.dbs.platform.transfers_across_tenants(&f.query).await? } else { Vec::new() };
    let ids: Vec<PersonId> = list.iter().filter_map(|t| t.person).collect();
    let names = state.dbs.platform.person_names_across_tenants(&ids).await?;
    let trusts: HashMap<String, String> = state
        .directory
        .sites()
        .iter()
        .map(|s: &std::sync::Arc<Site>| (s.entry.id.to_string(), s.entry.name.clone()))
        .collect();
    let status = if f.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let data = data(&f, rows(&list, &names, &trusts), older(&list, &q), true);
    platform_admin::render(state, req, "pages/file_activity.html", "Uploads and downloads", data, status)
}

/// The page's data: the filters as asked for, their errors, the entries and the next page.
fn data(f: &Filters, rows: Vec<Value>, older: Option<String>, every_trust: bool) -> Value {
    let (summary, by_field) = f.errors.to_json();
    json!({
        "errors": summary, "error": by_field, "values": f.values,
        "entries": rows, "older": older, "platform": every_trust,
    })
}
