//! Whether a learner's certificate for a course is available, and what is left if not: every
//! session that counts towards completion done, and passed where the content scores it.

use chrono::Utc;
use serde_json::json;
use std::collections::HashMap;
use trellis_db::catalogue::Object;
use trellis_db::certificates as certs;
use trellis_db::enrolments::Enrolment;
use trellis_db::learning::Progress;
use trellis_db::states::EnrolmentStatus;
use trellis_domain::ObjectId;

/// The longest a verification link may stay open.
pub const MAX_LINK_DAYS: i64 = 365;

/// The links a learner made for a certificate, as its section lists them.
pub fn links_json(links: &[certs::Link], zone: chrono_tz::Tz) -> Vec<serde_json::Value> {
    let now = Utc::now();
    let day = |t: chrono::DateTime<Utc>| t.with_timezone(&zone).format("%-d %B %Y").to_string();
    links
        .iter()
        .map(|l| {
            json!({
                "id": l.id.to_string(), "made": day(l.created_at), "until": day(l.expires_at), "views": l.views,
                "state": if l.revoked_at.is_some() { "Revoked" } else if l.expires_at <= now { "Expired" } else { "Open" },
                "live": l.live(now),
            })
        })
        .collect()
}

/// Where a learner stands towards their certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    pub available: bool,
    /// What is left to do, in words ("Complete “Exits”", "Pass “Quiz”").
    pub left: Vec<String>,
}

/// The learner's standing on a learning path: `courses` are its courses in order, each with
/// whether the learner has completed it.
pub fn path_standing(e: &Enrolment, courses: &[(&str, bool)]) -> Standing {
    let left: Vec<String> =
        courses.iter().filter(|(_, done)| !done).map(|(t, _)| format!("Complete \u{201c}{t}\u{201d}")).collect();
    let mut left = left;
    if e.status != EnrolmentStatus::Completed && left.is_empty() {
        left.push("Complete the learning path".to_owned());
    }
    Standing { available: e.status == EnrolmentStatus::Completed && left.is_empty(), left }
}

/// The learner's standing on `objects` (the sessions of their enrolment's version).
pub fn standing(e: &Enrolment, objects: &[Object], progress: &HashMap<ObjectId, Progress>) -> Standing {
    let mut left = Vec::new();
    for o in objects.iter().filter(|o| o.counts_towards_completion()) {
        match progress.get(&o.id) {
            Some(p) if p.completed_at.is_some() && p.success != "failed" => {}
            Some(p) if p.completed_at.is_some() => left.push(format!("Pass \u{201c}{}\u{201d}", o.title)),
            _ => left.push(format!("Complete \u{201c}{}\u{201d}", o.title)),
        }
    }
    if e.status != EnrolmentStatus::Completed && left.is_empty() {
        left.push("Complete the course".to_owned());
    }
    Standing { available: e.status == EnrolmentStatus::Completed && left.is_empty(), left }
}
