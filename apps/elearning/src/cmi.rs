//! A SCORM attempt's record, built from the runtime's commits.
//!
//! The runtime page commits the CMI data it holds (flattened to `element → value`, as
//! `cmi.core.lesson_status → completed`) with the number of the launch it belongs to (`session`,
//! one per time the learner opens the SCO) and a counter (`seq`) that grows with every commit of
//! that launch. Commits may arrive twice or out of order (retries, a commit racing the one sent
//! as the page unloads): [`Attempt::apply`] never loses data and never goes backwards —
//! completion and success only move forward, the latest commit (by launch, then counter) decides
//! location, suspend data, score and exit, each launch's session time counts once (its largest),
//! and interactions and objectives are merged by their identifiers.

use crate::time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which data model the commit speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Scorm12,
    Scorm2004,
}

/// How far the learner got, in the order it can only move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum Completion {
    #[default]
    Unknown,
    NotAttempted,
    Incomplete,
    Completed,
}

impl Completion {
    pub fn as_str(self) -> &'static str {
        match self {
            Completion::Unknown => "unknown",
            Completion::NotAttempted => "not attempted",
            Completion::Incomplete => "incomplete",
            Completion::Completed => "completed",
        }
    }
}

/// Whether the learner passed, in the order it can only move (a failed test may be retaken).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub enum Success {
    #[default]
    Unknown,
    Failed,
    Passed,
}

impl Success {
    pub fn as_str(self) -> &'static str {
        match self {
            Success::Unknown => "unknown",
            Success::Failed => "failed",
            Success::Passed => "passed",
        }
    }
}

/// One interaction (a question answered) or objective, merged by its id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// Interactions: `type` (true-false, choice, fill-in, …), `learner_response`, `result`,
    /// `correct_responses…`, `weighting`, `latency`, `timestamp`, `description`, as sent (SCORM
    /// 1.2's names mapped to 2004's). Objectives: `score…`, `success_status`, `completion_status`.
    pub fields: BTreeMap<String, String>,
}

/// A commit from the runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The launch it belongs to (1 for the first time the learner opens this SCO, then 2, …).
    pub session: u32,
    /// Grows with each commit within a launch.
    pub seq: u64,
    pub values: BTreeMap<String, String>,
    /// The launch's last commit, sent as the SCO finishes (`LMSFinish` / `Terminate`).
    pub finishing: bool,
}

/// The record of one attempt (kept as JSON between commits).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Attempt {
    pub completion: Completion,
    pub success: Success,
    pub score_raw: Option<f64>,
    pub score_min: Option<f64>,
    pub score_max: Option<f64>,
    /// −1 to 1 (SCORM 2004; for 1.2, raw over the range when min and max are given).
    pub score_scaled: Option<f64>,
    pub progress: Option<f64>,
    pub location: String,
    pub suspend_data: String,
    /// SCORM 1.2 `cmi.core.exit` / 2004 `cmi.exit`: `suspend`, `logout`, `normal`, `time-out`, ….
    pub exit: String,
    /// Hundredths of a second, per launch (the largest session time each reported).
    pub session_times: BTreeMap<u32, u64>,
    pub interactions: Vec<Entry>,
    pub objectives: Vec<Entry>,
    /// The latest (launch, counter) applied to the fields the latest commit decides.
    pub last: (u32, u64),
    /// The first launch that reopened the attempt after it was completed: that launch and later
    /// ones run in review mode (`lesson_mode`/`cmi.mode` `review`, no credit), and what they
    /// send is kept for the trace but changes nothing. 0: none has.
    #[serde(default)]
    pub review_from: u32,
}

impl Attempt {
    /// Whether this launch of the attempt is a review.
    pub fn reviewing(&self, launch: u32) -> bool {
        self.review_from > 0 && launch >= self.review_from
    }
}

/// A commit that cannot be stored, naming the element at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{element}: {message}")]
pub struct CmiError {
    pub element: String,
    pub message: String,
}

/// Reads a time element into hundredths of a second.
type TimeReader = fn(&str) -> Result<u64, String>;

fn bad(element: &str, message: impl Into<String>) -> CmiError {
    CmiError { element: element.to_owned(), message: message.into() }
}

/// The most we keep of suspend data (SCORM 2004 allows 64,000 characters; 1.2's 4,096 is
/// exceeded by many packages in the wild, so both get 2004's).
pub const MAX_SUSPEND: usize = 64_000;
const MAX_LOCATION: usize = 1_000;
const MAX_INTERACTIONS: usize = 1_000;
const MAX_FIELD: usize = 4_000;

fn number(element: &str, v: &str) -> Result<Option<f64>, CmiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    let n: f64 = v.parse().map_err(|_| bad(element, format!("{v:?} is not a number")))?;
    if !n.is_finite() {
        return Err(bad(element, "not a finite number"));
    }
    Ok(Some(n))
}

impl Attempt {
    /// Total time in hundredths of a second: every launch's session time, each counted once.
    pub fn total_time(&self) -> u64 {
        self.session_times.values().sum()
    }

    /// Whether the attempt meets a mastery score (0–1), for SCORM 1.2 packages that leave the
    /// status to the LMS when they report a score.
    fn apply_mastery(&mut self, mastery: Option<f64>) {
        if let (Some(m), Some(s)) = (mastery, self.score_scaled.or(self.score_raw.map(|r| r / 100.0))) {
            let judged = if s >= m { Success::Passed } else { Success::Failed };
            self.success = self.success.max(judged);
        }
    }

    /// Applies a commit. Validates everything first: a bad commit changes nothing.
    pub fn apply(&mut self, model: Model, commit: &Commit, mastery: Option<f64>) -> Result<(), CmiError> {
        let mut next = self.clone();
        let newest = (commit.session, commit.seq) >= next.last;
        let key = |k12: &str, k2004: &str| -> Option<&String> {
            commit.values.get(if model == Model::Scorm12 { k12 } else { k2004 })
        };
        // Status.
        match model {
            Model::Scorm12 => {
                if let Some(s) = commit.values.get("cmi.core.lesson_status") {
                    let (c, x) = match s.as_str() {
                        "passed" => (Completion::Completed, Success::Passed),
                        "failed" => (Completion::Completed, Success::Failed),
                        "completed" => (Completion::Completed, Success::Unknown),
                        "incomplete" | "browsed" => (Completion::Incomplete, Success::Unknown),
                        "not attempted" => (Completion::NotAttempted, Success::Unknown),
                        "" => (Completion::Unknown, Success::Unknown),
                        other => {
                            return Err(bad("cmi.core.lesson_status", format!("{other:?} is not a SCORM 1.2 status")));
                        }
                    };
                    next.completion = next.completion.max(c);
                    next.success = next.success.max(x);
                }
            }
            Model::Scorm2004 => {
                if let Some(s) = commit.values.get("cmi.completion_status") {
                    let c = match s.as_str() {
                        "completed" => Completion::Completed,
                        "incomplete" => Completion::Incomplete,
                        "not attempted" => Completion::NotAttempted,
                        "unknown" | "" => Completion::Unknown,
                        other => {
                            return Err(bad("cmi.completion_status", format!("{other:?} is not a completion status")));
                        }
                    };
                    next.completion = next.completion.max(c);
                }
                if let Some(s) = commit.values.get("cmi.success_status") {
                    let x = match s.as_str() {
                        "passed" => Success::Passed,
                        "failed" => Success::Failed,
                        "unknown" | "" => Success::Unknown,
                        other => return Err(bad("cmi.success_status", format!("{other:?} is not a success status"))),
                    };
                    next.success = next.success.max(x);
                }
            }
        }
        // Scores, location, suspend data, exit, progress: the newest commit decides.
        let (raw_k, min_k, max_k) = match model {
            Model::Scorm12 => ("cmi.core.score.raw", "cmi.core.score.min", "cmi.core.score.max"),
            Model::Scorm2004 => ("cmi.score.raw", "cmi.score.min", "cmi.score.max"),
        };
        let raw = commit.values.get(raw_k).map(|v| number(raw_k, v)).transpose()?.flatten();
        let min = commit.values.get(min_k).map(|v| number(min_k, v)).transpose()?.flatten();
        let max = commit.values.get(max_k).map(|v| number(max_k, v)).transpose()?.flatten();
        let scaled = match model {
            Model::Scorm2004 => {
                let s =
                    commit.values.get("cmi.score.scaled").map(|v| number("cmi.score.scaled", v)).transpose()?.flatten();
                if let Some(s) = s
                    && !(-1.0..=1.0).contains(&s)
                {
                    return Err(bad("cmi.score.scaled", "must be between -1 and 1"));
                }
                s
            }
            Model::Scorm12 => match (raw, min, max) {
                (Some(r), Some(lo), Some(hi)) if hi > lo => Some(((r - lo) / (hi - lo)).clamp(-1.0, 1.0)),
                (Some(r), None, None) if (0.0..=100.0).contains(&r) => Some(r / 100.0),
                _ => None,
            },
        };
        let progress =
            commit.values.get("cmi.progress_measure").map(|v| number("cmi.progress_measure", v)).transpose()?.flatten();
        if let Some(p) = progress
            && !(0.0..=1.0).contains(&p)
        {
            return Err(bad("cmi.progress_measure", "must be between 0 and 1"));
        }
        let location = key("cmi.core.lesson_location", "cmi.location");
        if let Some(l) = location
            && l.chars().count() > MAX_LOCATION
        {
            return Err(bad(
                if model == Model::Scorm12 { "cmi.core.lesson_location" } else { "cmi.location" },
                format!("longer than {MAX_LOCATION} characters"),
            ));
        }
        let suspend = commit.values.get("cmi.suspend_data");
        if let Some(s) = suspend
            && s.chars().count() > MAX_SUSPEND
        {
            return Err(bad("cmi.suspend_data", format!("longer than {MAX_SUSPEND} characters")));
        }
        // Session time: SCORM 1.2 HHHH:MM:SS.SS, 2004 ISO 8601.
        let (time_k, parse): (&str, TimeReader) = match model {
            Model::Scorm12 => ("cmi.core.session_time", time::scorm12),
            Model::Scorm2004 => ("cmi.session_time", time::iso8601),
        };
        if let Some(t) = commit.values.get(time_k).filter(|t| !t.is_empty()) {
            let cs = parse(t).map_err(|m| bad(time_k, m))?;
            let e = next.session_times.entry(commit.session).or_insert(0);
            *e = (*e).max(cs);
        }
        if newest {
            if raw.is_some() || scaled.is_some() {
                next.score_raw = raw;
                next.score_min = min;
                next.score_max = max;
                next.score_scaled = scaled;
            }
            if let Some(p) = progress {
                next.progress = Some(p);
            }
            if let Some(l) = location {
                next.location = l.clone();
            }
            if let Some(s) = suspend {
                next.suspend_data = s.clone();
            }
            if let Some(x) = key("cmi.core.exit", "cmi.exit") {
                next.exit = x.clone();
            }
            next.last = (commit.session, commit.seq);
        }
        merge_indexed(&mut next, model, commit, newest)?;
        if model == Model::Scorm12 {
            // SCORM 1.2 RTE 3-25: a SCO that finishes (LMSFinish) without ever setting its
            // status is judged by the LMS: passed or failed by the mastery score when it reported
            // a score, otherwise completed. A status the SCO set is never overwritten.
            let unset = next.completion <= Completion::NotAttempted && next.success == Success::Unknown;
            if commit.finishing && unset {
                next.apply_mastery(mastery);
                if next.success == Success::Unknown {
                    next.completion = Completion::Completed;
                }
            }
            if next.success != Success::Unknown {
                next.completion = next.completion.max(Completion::Completed);
            }
        } else if let (Some(m), Some(s)) = (mastery, next.score_scaled)
            && next.success == Success::Unknown
        {
            next.success = if s >= m { Success::Passed } else { Success::Failed };
        }
        *self = next;
        Ok(())
    }
}

/// Interactions and objectives: `cmi.interactions.N.field`, merged by each one's `id` (the index
/// is only the runtime's slot). A field already known is replaced only by a newer commit.
fn merge_indexed(next: &mut Attempt, model: Model, commit: &Commit, newest: bool) -> Result<(), CmiError> {
    for (prefix, is_interaction) in [("cmi.interactions.", true), ("cmi.objectives.", false)] {
        let mut slots: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in commit.values.range(prefix.to_owned()..) {
            let Some(rest) = k.strip_prefix(prefix) else { break };
            let Some((n, field)) = rest.split_once('.') else { continue };
            let Ok(n) = n.parse::<u32>() else { continue };
            if n as usize >= MAX_INTERACTIONS {
                return Err(bad(k, format!("more than {MAX_INTERACTIONS} entries")));
            }
            if v.chars().count() > MAX_FIELD {
                return Err(bad(k, format!("longer than {MAX_FIELD} characters")));
            }
            let field = match (model, field) {
                (Model::Scorm12, "type") => "type".to_owned(),
                (Model::Scorm12, "student_response") => "learner_response".to_owned(),
                (Model::Scorm12, "time") => "timestamp".to_owned(),
                (_, f) => f.to_owned(),
            };
            slots.entry(n).or_default().insert(field, v.clone());
        }
        let entries = if is_interaction { &mut next.interactions } else { &mut next.objectives };
        for (n, mut fields) in slots {
            let Some(id) = fields.remove("id").filter(|id| !id.trim().is_empty()) else {
                return Err(bad(&format!("{prefix}{n}.id"), "every entry needs an id"));
            };
            let at = match entries.iter().position(|e| e.id == id) {
                Some(at) => at,
                None => {
                    entries.push(Entry { id, fields: BTreeMap::new() });
                    entries.len() - 1
                }
            };
            for (f, v) in fields {
                if newest || !entries[at].fields.contains_key(&f) {
                    entries[at].fields.insert(f, v);
                }
            }
        }
    }
    Ok(())
}
