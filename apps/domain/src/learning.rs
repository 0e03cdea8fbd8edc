//! The rules of learning: what kinds of session there are and when each counts as done, how a
//! course's due date and renewal work, and what a person's compliance status is on a day.

use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::Serialize;

/// What a session (learning object) is. E-learning packages come with the standards issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// Text written in the editor.
    Page,
    /// A link to a web page elsewhere.
    Link,
    Video,
    Audio,
    /// A file to read: PDF, Word, PowerPoint.
    Document,
    /// A SCO or an AU of an uploaded e-learning package (SCORM 1.2, SCORM 2004, cmi5).
    Package,
    /// A resource of the trust's library or the national library, shown as it is now.
    Resource,
    /// Attending one of the course's face-to-face events (booked by the learner, marked in the
    /// trainer's register).
    FaceToFace,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 7] = [
        ObjectKind::Page,
        ObjectKind::Link,
        ObjectKind::Video,
        ObjectKind::Audio,
        ObjectKind::Document,
        ObjectKind::Resource,
        ObjectKind::FaceToFace,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Page => "page",
            ObjectKind::Link => "link",
            ObjectKind::Video => "video",
            ObjectKind::Audio => "audio",
            ObjectKind::Document => "document",
            ObjectKind::Package => "package",
            ObjectKind::Resource => "resource",
            ObjectKind::FaceToFace => "face_to_face",
        }
    }

    /// `ALL` are the kinds an editor writes or uploads one by one; packages come from a zip.
    pub fn parse(s: &str) -> Option<ObjectKind> {
        Self::ALL.into_iter().chain([ObjectKind::Package]).find(|k| k.as_str() == s)
    }

    /// Whether the session is an uploaded file.
    pub fn has_file(self) -> bool {
        matches!(self, ObjectKind::Video | ObjectKind::Audio | ObjectKind::Document)
    }
}

/// When a session counts as completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// On opening it.
    View,
    /// On downloading its file.
    Download,
    /// After this many minutes on it (measured by the page, each interval capped).
    Time(u32),
    /// When the learner says they have finished it.
    Confirm,
    /// When the package's content reports it completed (or passed): its SCORM status, or its
    /// cmi5 moveOn criterion met.
    Package,
    /// When the trainer's register marks them as having attended a face-to-face event.
    Attended,
    /// When the trainer's register marks them as having attended and passed (an assessed event).
    Passed,
}

impl Completion {
    pub fn parse(rule: &str, minutes: Option<i32>) -> Option<Completion> {
        Some(match rule {
            "view" => Completion::View,
            "download" => Completion::Download,
            "time" => Completion::Time(u32::try_from(minutes?).ok().filter(|m| (1..=600).contains(m))?),
            "confirm" => Completion::Confirm,
            "package" => Completion::Package,
            "attended" => Completion::Attended,
            "passed" => Completion::Passed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Completion::View => "view",
            Completion::Download => "download",
            Completion::Time(_) => "time",
            Completion::Confirm => "confirm",
            Completion::Package => "package",
            Completion::Attended => "attended",
            Completion::Passed => "passed",
        }
    }

    /// Whether what was recorded meets the rule.
    pub fn met(self, event: Event, seconds_spent: i32) -> bool {
        match self {
            Completion::View => true,
            Completion::Download => event == Event::Download,
            Completion::Time(m) => i64::from(seconds_spent) >= i64::from(m) * 60,
            Completion::Confirm => event == Event::Confirm,
            // Only the content's own results complete it (see `trellis_db::learning::record_result`).
            Completion::Package => false,
            Completion::Attended => matches!(event, Event::Attended | Event::Passed),
            Completion::Passed => event == Event::Passed,
        }
    }
}

/// What the learner just did on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Open,
    Beat,
    Download,
    Confirm,
    /// The register marked them as having attended a face-to-face event.
    Attended,
    /// …attended and passed.
    Passed,
}

/// How often the session page reports that it is still being looked at, and the most one report
/// may add: time in a tab left open overnight is not learning.
pub const BEAT_SECONDS: i64 = 30;
pub const MAX_BEAT_SECONDS: i64 = 60;

/// Seconds to add for a report at `now` after the last at `last`: the gap, capped.
pub fn beat_seconds(last: DateTime<Utc>, now: DateTime<Utc>) -> i32 {
    let gap = (now - last).num_seconds().clamp(0, MAX_BEAT_SECONDS);
    i32::try_from(gap).unwrap_or(0)
}

/// A person's standing on one mandatory course on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compliance {
    /// Completed and in date.
    Complete,
    /// Started, not yet completed, not yet past its due date.
    Due,
    /// Past its due date and not completed (or its completion has expired).
    Overdue,
    /// Not begun, not yet due.
    NotStarted,
}

impl Compliance {
    pub const ALL: [Compliance; 4] =
        [Compliance::Complete, Compliance::Due, Compliance::Overdue, Compliance::NotStarted];

    pub fn as_str(self) -> &'static str {
        match self {
            Compliance::Complete => "complete",
            Compliance::Due => "due",
            Compliance::Overdue => "overdue",
            Compliance::NotStarted => "not_started",
        }
    }

    pub fn parse(s: &str) -> Option<Compliance> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The status on `today`. A completion counts until it expires (`expires_on`, when the course
    /// has a renewal period); the due date then is the expiry date.
    pub fn on(
        today: NaiveDate,
        due_on: NaiveDate,
        completed: bool,
        expires_on: Option<NaiveDate>,
        started: bool,
    ) -> Self {
        if completed && expires_on.is_none_or(|e| e > today) {
            Compliance::Complete
        } else if due_on < today {
            Compliance::Overdue
        } else if started {
            Compliance::Due
        } else {
            Compliance::NotStarted
        }
    }
}

/// When a completion on `completed_on` expires, for a renewal period of `months`.
pub fn expires_on(completed_on: NaiveDate, months: Option<i32>) -> Option<NaiveDate> {
    let m = u32::try_from(months?).ok().filter(|m| *m > 0)?;
    completed_on.checked_add_months(Months::new(m))
}

/// How long before a completion expires the course opens again for renewal.
pub const RENEWAL_OPENS_DAYS: i64 = 30;

/// The due date of a new assignment: `due_days` after `assigned_on` (28 days by default).
pub fn due_date(assigned_on: NaiveDate, due_days: Option<i32>) -> NaiveDate {
    let days = due_days.filter(|d| *d >= 0).unwrap_or(28);
    assigned_on + chrono::Duration::days(i64::from(days))
}

/// The workforce's staff groups, as the HR system names them.
pub const STAFF_GROUPS: [&str; 9] = [
    "Add Prof Scientific and Technic",
    "Additional Clinical Services",
    "Administrative and Clerical",
    "Allied Health Professionals",
    "Estates and Ancillary",
    "Healthcare Scientists",
    "Medical and Dental",
    "Nursing and Midwifery Registered",
    "Students",
];

/// The staff group as listed in [`STAFF_GROUPS`], matched without regard to case or spacing.
pub fn staff_group(raw: &str) -> Option<&'static str> {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let want = norm(raw);
    STAFF_GROUPS.into_iter().find(|g| norm(g) == want)
}

/// Who an assignment rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Everyone,
    Person(crate::PersonId),
    StaffGroup(String),
    Department(String),
    Position(String),
    PlaceOfWork(String),
}

impl Audience {
    /// From the stored kind and value.
    pub fn parse(kind: &str, value: &str) -> Option<Audience> {
        let v = value.trim().to_owned();
        Some(match kind {
            "everyone" => Audience::Everyone,
            "person" => Audience::Person(v.parse().ok()?),
            "staff_group" => Audience::StaffGroup(staff_group(&v)?.to_owned()),
            "department" if !v.is_empty() => Audience::Department(v),
            "position" if !v.is_empty() => Audience::Position(v),
            "place_of_work" if !v.is_empty() => Audience::PlaceOfWork(v),
            _ => return None,
        })
    }

    /// Whether the audience takes in `person`, whose staff record here (if any) says `record`
    /// (the same rule the database applies: values compared without regard to case).
    pub fn takes_in(&self, person: crate::PersonId, record: Option<&RecordFields<'_>>) -> bool {
        let same = |want: &str, have: Option<&str>| have.is_some_and(|h| h.to_lowercase() == want.to_lowercase());
        match self {
            Audience::Everyone => true,
            Audience::Person(p) => *p == person,
            Audience::StaffGroup(v) => same(v, record.map(|r| r.staff_group)),
            Audience::Department(v) => same(v, record.map(|r| r.department)),
            Audience::Position(v) => same(v, record.map(|r| r.position)),
            Audience::PlaceOfWork(v) => same(v, record.map(|r| r.place_of_work)),
        }
    }

    /// The stored kind and value.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            Audience::Everyone => ("everyone", String::new()),
            Audience::Person(p) => ("person", p.to_string()),
            Audience::StaffGroup(v) => ("staff_group", v.clone()),
            Audience::Department(v) => ("department", v.clone()),
            Audience::Position(v) => ("position", v.clone()),
            Audience::PlaceOfWork(v) => ("place_of_work", v.clone()),
        }
    }
}

/// The fields of a staff record an audience can look at.
#[derive(Debug, Clone, Copy)]
pub struct RecordFields<'a> {
    pub staff_group: &'a str,
    pub department: &'a str,
    pub position: &'a str,
    pub place_of_work: &'a str,
}

/// Time spent, in words people read: "45 seconds", "12 minutes", "1 hour 5 minutes",
/// "1,234 hours 16 minutes" (never "74096 minutes").
pub fn time_words(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 60 {
        return format!("{s} second{}", if s == 1 { "" } else { "s" });
    }
    let (h, m) = (s / 3600, (s / 60) % 60);
    let minutes = format!("{m} minute{}", if m == 1 { "" } else { "s" });
    if h == 0 {
        return minutes;
    }
    let digits = h.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let hours = format!("{grouped} hour{}", if h == 1 { "" } else { "s" });
    if m == 0 { hours } else { format!("{hours} {minutes}") }
}

/// The catalogue's duration filter.
pub fn duration_band(minutes: i32) -> &'static str {
    match minutes {
        ..=30 => "short",
        31..=120 => "medium",
        _ => "long",
    }
}

/// The range of minutes of a duration band, for the query.
pub fn duration_range(band: &str) -> Option<(i32, i32)> {
    Some(match band {
        "short" => (0, 30),
        "medium" => (31, 120),
        "long" => (121, i32::MAX),
        _ => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn time_reads_in_hours_minutes_or_seconds() {
        assert_eq!(time_words(0), "0 seconds");
        assert_eq!(time_words(1), "1 second");
        assert_eq!(time_words(45), "45 seconds");
        assert_eq!(time_words(60), "1 minute");
        assert_eq!(time_words(12 * 60 + 30), "12 minutes");
        assert_eq!(time_words(3600), "1 hour");
        assert_eq!(time_words(3900), "1 hour 5 minutes");
        assert_eq!(time_words(74096 * 60), "1,234 hours 56 minutes");
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn compliance_follows_completion_expiry_and_due_date() {
        let today = d("2026-11-22");
        assert_eq!(Compliance::on(today, d("2026-01-01"), true, Some(d("2027-01-01")), true), Compliance::Complete);
        assert_eq!(Compliance::on(today, d("2026-11-21"), true, Some(d("2026-11-21")), true), Compliance::Overdue);
        assert_eq!(Compliance::on(today, d("2026-11-22"), false, None, true), Compliance::Due);
        assert_eq!(Compliance::on(today, d("2026-11-23"), false, None, false), Compliance::NotStarted);
        assert_eq!(Compliance::on(today, d("2026-11-21"), false, None, false), Compliance::Overdue);
        assert_eq!(Compliance::on(today, d("2020-01-01"), true, None, true), Compliance::Complete);
    }

    #[test]
    fn renewal_adds_calendar_months() {
        assert_eq!(expires_on(d("2026-01-31"), Some(1)), Some(d("2026-02-28")));
        assert_eq!(expires_on(d("2026-11-22"), Some(12)), Some(d("2027-11-22")));
        assert_eq!(expires_on(d("2026-11-22"), None), None);
        assert_eq!(expires_on(d("2026-11-22"), Some(0)), None);
        assert_eq!(due_date(d("2026-11-22"), None), d("2026-12-20"));
    }

    #[test]
    fn time_is_capped_per_report_and_rules_are_met_only_by_their_event() {
        let t = Utc::now();
        assert_eq!(beat_seconds(t, t + chrono::Duration::seconds(30)), 30);
        assert_eq!(beat_seconds(t, t + chrono::Duration::hours(9)), 60);
        assert_eq!(beat_seconds(t, t - chrono::Duration::seconds(5)), 0);
        assert!(Completion::Time(2).met(Event::Beat, 120));
        assert!(!Completion::Time(2).met(Event::Beat, 119));
        assert!(!Completion::Download.met(Event::Open, 0));
        assert!(Completion::Confirm.met(Event::Confirm, 0));
        assert_eq!(Completion::parse("time", Some(0)), None);
    }

    #[test]
    fn staff_groups_match_loosely_and_audiences_round_trip() {
        assert_eq!(staff_group("nursing and  midwifery registered"), Some("Nursing and Midwifery Registered"));
        assert_eq!(staff_group("Nurses"), None);
        let a = Audience::parse("staff_group", "medical and dental").unwrap();
        assert_eq!(a.parts(), ("staff_group", "Medical and Dental".to_owned()));
        assert_eq!(Audience::parse("department", " "), None);
    }
}
