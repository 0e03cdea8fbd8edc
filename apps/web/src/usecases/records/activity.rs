//! *My activity*: a person's own learning in every trust they have learnt at, as three reports
//! (the summarised record, the detail of each session, one course's summary), filtered by course
//! and dates and sorted. Pure: it shapes the rows `trellis_db::identity::activity_of` read.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;
use trellis_db::identity::ActivityRow;
use trellis_domain::{CourseId, ProgrammeId};

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// One line per course ever taken (withdrawn, replaced and old versions included).
    Summary,
    /// One line per session opened.
    Detail,
    /// One course: its line and every session opened.
    Course(CourseId),
    /// One programme: each of its courses and paths, and every session opened in them.
    Programme(ProgrammeId),
}

/// The order of the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Latest activity first.
    #[default]
    Newest,
    Oldest,
    /// By course title (then session title).
    Title,
}

impl Sort {
    pub fn parse(s: &str) -> Self {
        match s {
            "oldest" => Self::Oldest,
            "title" => Self::Title,
            _ => Self::Newest,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::Title => "title",
        }
    }
}

/// What the reports take in.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these courses (all when empty).
    pub courses: Vec<CourseId>,
    /// Activity on or after this day (in the trust's time zone).
    pub from: Option<NaiveDate>,
    /// Activity on or before this day.
    pub to: Option<NaiveDate>,
    pub sort: Sort,
}

/// One course taken, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct CourseLine {
    pub trust: String,
    pub course: CourseId,
    pub title: String,
    pub code: String,
    /// The enrolment's state in words.
    pub status: &'static str,
    pub enrolled: DateTime<Utc>,
    pub completed: Option<DateTime<Utc>>,
    /// "Passed", "Failed", a best score ("85%"), or empty.
    pub result: String,
    pub seconds: i64,
    pub sessions_opened: usize,
    /// CPD points the course carries, and who accredits it (counted once the course is completed).
    pub cpd_points: Option<i32>,
    pub accreditation: String,
    /// The latest thing that happened: the last session opened, or the enrolment's dates.
    pub last: DateTime<Utc>,
}

/// One session opened, in one cycle of an enrolment.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionLine {
    pub trust: String,
    pub course: CourseId,
    pub course_title: String,
    pub session: String,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
    pub visits: i32,
    pub seconds: i64,
    /// "Completed" or "In progress".
    pub status: &'static str,
    pub completed: Option<DateTime<Utc>>,
    /// Whole per cent, where the content reported a score.
    pub score: Option<i64>,
    /// "Passed", "Failed" or empty.
    pub success: &'static str,
}

/// An enrolment's state in the words the reports use.
pub fn status_words(status: &str) -> &'static str {
    match status {
        "completed" => "Completed",
        "active" => "In progress",
        "requested" => "Waiting for approval",
        "payment" => "Waiting for payment",
        "withdrawn" => "Withdrawn",
        "rejected" => "Not approved",
        "expired" => "Access ended",
        _ => "Unknown",
    }
}

fn success_words(s: &str) -> &'static str {
    match s {
        "passed" => "Passed",
        "failed" => "Failed",
        _ => "",
    }
}

/// A course's result in words from its sessions' best score and success (`passed`, `failed` or
/// empty): "Passed (85%)", "Failed", "62%" or empty.
pub fn result_words(success: &str, best: Option<f64>) -> String {
    match (success_words(success), best) {
        ("", Some(s)) => format!("{}%", percent(s)),
        ("", None) => String::new(),
        (w, Some(s)) => format!("{w} ({}%)", percent(s)),
        (w, None) => w.to_owned(),
    }
}

fn percent(scaled: f64) -> i64 {
    (scaled.clamp(-1.0, 1.0) * 100.0).round() as i64
}

/// Whether a span of activity (`first`..`last`) meets the filter's days.
fn in_days(f: &Filter, zone: Tz, first: DateTime<Utc>, last: DateTime<Utc>) -> bool {
    let day = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
    f.from.is_none_or(|from| day(last) >= from) && f.to.is_none_or(|to| day(first) <= to)
}

fn wanted(f: &Filter, course: CourseId) -> bool {
    f.courses.is_empty() || f.courses.contains(&course)
}

/// The summarised record: one line per enrolment (course taken) with activity in the days asked.
pub fn courses(rows: &[ActivityRow], f: &Filter, zone: Tz) -> Vec<CourseLine> {
    let mut by: BTreeMap<uuid::Uuid, CourseLine> = BTreeMap::new();
    let mut best: BTreeMap<uuid::Uuid, (Option<f64>, &str)> = BTreeMap::new();
    for r in rows.iter().filter(|r| wanted(f, r.course)) {
        let line = by.entry(r.enrolment).or_insert_with(|| CourseLine {
            trust: r.trust.clone(),
            course: r.course,
            title: r.course_title.clone(),
            code: r.course_code.clone(),
            status: status_words(&r.status),
            enrolled: r.requested_at,
            completed: r.completed_at,
            result: String::new(),
            seconds: 0,
            sessions_opened: 0,
            cpd_points: r.cpd_points,
            accreditation: r.accreditation.clone(),
            last: r.completed_at.unwrap_or(r.requested_at).max(r.requested_at),
        });
        if let Some(s) = &r.session {
            line.seconds += i64::from(s.seconds_spent.max(0));
            line.sessions_opened += 1;
            line.last = line.last.max(s.last_access_at);
            let b = best.entry(r.enrolment).or_insert((None, ""));
            b.0 = match (b.0, s.score_scaled) {
                (Some(a), Some(c)) => Some(a.max(c)),
                (a, c) => a.or(c),
            };
            if s.success == "passed" || (s.success == "failed" && b.1 != "passed") {
                b.1 = if s.success == "passed" { "passed" } else { "failed" };
            }
        }
    }
    let mut out: Vec<CourseLine> = by
        .into_iter()
        .map(|(id, mut l)| {
            if let Some((score, success)) = best.get(&id) {
                l.result = result_words(success, *score);
            }
            l
        })
        .filter(|l| in_days(f, zone, l.enrolled.min(l.last), l.last))
        .collect();
    match f.sort {
        Sort::Newest => out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.title.cmp(&b.title))),
        Sort::Oldest => out.sort_by(|a, b| a.last.cmp(&b.last).then_with(|| a.title.cmp(&b.title))),
        Sort::Title => out.sort_by(|a, b| a.title.cmp(&b.title).then_with(|| b.last.cmp(&a.last))),
    }
    out
}

/// The detail: one line per session opened, in the days asked.
pub fn sessions(rows: &[ActivityRow], f: &Filter, zone: Tz) -> Vec<SessionLine> {
    let mut out: Vec<SessionLine> = rows
        .iter()
        .filter(|r| wanted(f, r.course))
        .filter_map(|r| {
            let s = r.session.as_ref()?;
            in_days(f, zone, s.first_access_at, s.last_access_at).then(|| SessionLine {
                trust: r.trust.clone(),
                course: r.course,
                course_title: r.course_title.clone(),
                session: s.title.clone(),
                first: s.first_access_at,
                last: s.last_access_at,
                visits: s.visits.max(1),
                seconds: i64::from(s.seconds_spent.max(0)),
                status: if s.completed_at.is_some() { "Completed" } else { "In progress" },
                completed: s.completed_at,
                score: s.score_scaled.map(percent),
                success: success_words(&s.success),
            })
        })
        .collect();
    match f.sort {
        Sort::Newest => out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.session.cmp(&b.session))),
        Sort::Oldest => out.sort_by(|a, b| a.first.cmp(&b.first).then_with(|| a.session.cmp(&b.session))),
        Sort::Title => out.sort_by(|a, b| {
            a.course_title
                .cmp(&b.course_title)
                .then_with(|| a.session.cmp(&b.session))
                .then_with(|| b.last.cmp(&a.last))
        }),
    }
    out
}

/// The courses on a record, once each, by title then trust: `(course, title, trust)`.
pub fn courses_on_record(rows: &[ActivityRow]) -> Vec<(CourseId, String, String)> {
    let mut c: Vec<_> = rows.iter().map(|r| (r.course, r.course_title.clone(), r.trust.clone())).collect();
    c.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.cmp(&b.2)));
    c.dedup_by(|a, b| a.0 == b.0);
    c
}

/// A programme as the record reads it: its courses and learning paths in order, each path with
/// its courses.
#[derive(Debug, Clone)]
pub struct ProgrammeShape {
    pub id: ProgrammeId,
    pub title: String,
    pub certificate: bool,
    /// `(course or path, title, the path's courses)`.
    pub items: Vec<(CourseId, String, Vec<CourseId>)>,
}

impl ProgrammeShape {
    /// Every course the programme takes in: its courses, its paths and their courses.
    pub fn courses(&self) -> Vec<CourseId> {
        let mut out = Vec::new();
        for (c, _, inner) in &self.items {
            out.push(*c);
            out.extend(inner.iter().copied());
        }
        out.dedup();
        out
    }
}

/// Where a learner stands on one course or path of a programme.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeItem {
    pub course: CourseId,
    pub title: String,
    /// The trust of the enrolment that counts (the latest completion, else the latest enrolment).
    pub trust: String,
    /// "Completed", "In progress", "Not started", or another enrolment state in words.
    pub status: &'static str,
    pub completed: Option<DateTime<Utc>>,
    pub result: String,
    pub seconds: i64,
}

/// The learner's standing on each course and path of a programme, from their record at every
/// trust: a course counts as done once completed anywhere on the service; a path once completed,
/// or once every course of it is.
pub fn programme_items(rows: &[ActivityRow], shape: &ProgrammeShape, zone: Tz) -> Vec<ProgrammeItem> {
    let lines = courses(rows, &Filter { courses: shape.courses(), ..Filter::default() }, zone);
    let best = |c: CourseId| {
        let mine = lines.iter().filter(|l| l.course == c);
        mine.clone()
            .filter(|l| l.completed.is_some())
            .max_by_key(|l| l.completed)
            .or_else(|| mine.max_by_key(|l| l.enrolled))
    };
    shape
        .items
        .iter()
        .map(|(c, title, inner)| {
            let line = best(*c);
            let inner_done: Vec<Option<DateTime<Utc>>> =
                inner.iter().map(|i| best(*i).and_then(|l| l.completed)).collect();
            let completed = line.and_then(|l| l.completed).or_else(|| {
                (!inner.is_empty() && inner_done.iter().all(Option::is_some))
                    .then(|| inner_done.iter().flatten().max().copied())
                    .flatten()
            });
            let status = match (completed, line) {
                (Some(_), _) => "Completed",
                (None, Some(l)) => l.status,
                (None, None) if inner_done.iter().any(Option::is_some) => "In progress",
                (None, None) => "Not started",
            };
            ProgrammeItem {
                course: *c,
                title: title.clone(),
                trust: line.map(|l| l.trust.clone()).unwrap_or_default(),
                status,
                completed,
                result: line.map(|l| l.result.clone()).unwrap_or_default(),
                seconds: line.map_or(0, |l| l.seconds)
                    + inner.iter().filter_map(|i| best(*i)).map(|l| l.seconds).sum::<i64>(),
            }
        })
        .collect()
}

/// What is left before a programme's certificate: "Complete “Fire safety”" for each course or
/// path not yet completed (empty when it is all done).
pub fn programme_left(items: &[ProgrammeItem]) -> Vec<String> {
    items.iter().filter(|i| i.completed.is_none()).map(|i| format!("Complete \u{201c}{}\u{201d}", i.title)).collect()
}

/// The CPD points of the completed courses among `lines`.
pub fn cpd_total(lines: &[CourseLine]) -> i64 {
    lines.iter().filter(|l| l.completed.is_some()).filter_map(|l| l.cpd_points).map(i64::from).sum()
}

/// Time spent in words: "1 h 5 min", "12 min", "under a minute", "none".
pub fn time_words(seconds: i64) -> String {
    match seconds {
        s if s <= 0 => "none".to_owned(),
        s if s < 60 => "under a minute".to_owned(),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use trellis_db::identity::SessionActivity;
    use trellis_domain::{ObjectId, TenantId};

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(h, 0, 0).unwrap().and_utc()
    }

    fn row(
        enrolment: u128,
        course: CourseId,
        title: &str,
        status: &str,
        s: Option<(u32, u32, i32, Option<f64>, &str)>,
    ) -> ActivityRow {
        ActivityRow {
            tenant: TenantId::from_uuid(uuid::Uuid::from_u128(1)),
            trust: "Northmoor".into(),
            enrolment: uuid::Uuid::from_u128(enrolment),
            course,
            course_title: title.into(),
            course_code: "C".into(),
            status: status.into(),
            requested_at: at(1, 9),
            completed_at: (status == "completed").then(|| at(20, 9)),
            cpd_points: Some(2),
            accreditation: String::new(),
            session: s.map(|(first, last, secs, score, success)| SessionActivity {
                object: ObjectId::from_uuid(uuid::Uuid::from_u128(u128::from(first) * 100 + u128::from(last))),
                title: format!("Session {first}"),
                cycle: 1,
                first_access_at: at(first, 10),
                last_access_at: at(last, 10),
                visits: 2,
                seconds_spent: secs,
                completed_at: None,
                score_scaled: score,
                success: success.into(),
            }),
        }
    }

    #[test]
    fn a_course_line_adds_up_its_sessions_and_keeps_a_pass_over_a_later_fail() {
        let fire = CourseId::from_uuid(uuid::Uuid::from_u128(7));
        let rows = vec![
            row(1, fire, "Fire safety", "completed", Some((2, 3, 600, Some(0.8), "passed"))),
            row(1, fire, "Fire safety", "completed", Some((4, 5, 3000, Some(0.4), "failed"))),
            row(2, CourseId::from_uuid(uuid::Uuid::from_u128(8)), "Basic life support", "withdrawn", None),
        ];
        let tz = chrono_tz::Europe::London;
        let lines = courses(&rows, &Filter::default(), tz);
        assert_eq!(lines.len(), 2, "a withdrawn course stays on the record");
        let f = lines.iter().find(|l| l.title == "Fire safety").unwrap();
        assert_eq!((f.seconds, f.sessions_opened, f.result.as_str(), f.status), (3600, 2, "Passed (80%)", "Completed"));
        assert_eq!(time_words(f.seconds), "1 h 0 min");
        assert_eq!(cpd_total(&lines), 2, "CPD counts for the completed course only");
        let w = lines.iter().find(|l| l.title == "Basic life support").unwrap();
        assert_eq!((w.status, w.result.as_str()), ("Withdrawn", ""));
        // Days and courses filter; the title sort orders by course.
        let only = Filter { from: Some(NaiveDate::from_ymd_opt(2026, 11, 4).unwrap()), to: None, ..Filter::default() };
        assert_eq!(sessions(&rows, &only, tz).len(), 1);
        let fire_only = Filter { courses: vec![fire], sort: Sort::Title, ..Filter::default() };
        assert_eq!(courses(&rows, &fire_only, tz).len(), 1);
        assert_eq!(sessions(&rows, &Filter { sort: Sort::Oldest, ..Filter::default() }, tz)[0].session, "Session 2");
    }

    #[test]
    fn a_programme_counts_a_path_done_when_its_courses_are_and_says_what_is_left() {
        let id = |n: u128| CourseId::from_uuid(uuid::Uuid::from_u128(n));
        let (fire, path, exits, alarms, hands) = (id(1), id(2), id(3), id(4), id(5));
        let shape = ProgrammeShape {
            id: ProgrammeId::from_uuid(uuid::Uuid::from_u128(9)),
            title: "Core".into(),
            certificate: true,
            items: vec![
                (fire, "Fire safety".into(), vec![]),
                (path, "Fire pathway".into(), vec![exits, alarms]),
                (hands, "Hand hygiene".into(), vec![]),
            ],
        };
        let tz = chrono_tz::Europe::London;
        let mut rows = vec![
            row(1, fire, "Fire safety", "withdrawn", None),
            row(2, fire, "Fire safety", "completed", Some((2, 3, 60, None, ""))),
            row(3, exits, "Exits", "completed", Some((2, 3, 120, None, ""))),
            row(4, alarms, "Alarms", "active", Some((4, 5, 30, None, ""))),
        ];
        let items = programme_items(&rows, &shape, tz);
        let st: Vec<_> = items.iter().map(|i| i.status).collect();
        assert_eq!(st, ["Completed", "In progress", "Not started"], "a later completion beats a withdrawal");
        assert_eq!(items[1].seconds, 150, "a path's time is its courses' time");
        assert_eq!(
            programme_left(&items),
            ["Complete \u{201c}Fire pathway\u{201d}", "Complete \u{201c}Hand hygiene\u{201d}"]
        );
        rows.push(row(5, alarms, "Alarms", "completed", None));
        rows.push(row(6, hands, "Hand hygiene", "completed", None));
        let items = programme_items(&rows, &shape, tz);
        assert!(programme_left(&items).is_empty(), "{items:?}");
        assert_eq!(items[1].completed, Some(at(20, 9)), "the path is done when its last course is");
    }
}
