//! A SCORM commit as the runtime sends it (its envelope around scorm-again's flattened CMI data),
//! applied to an attempt's record: what the learner's content is told, what the attempt's record
//! becomes, and what follows from it. Pure: the web tier stores the result and writes the
//! statements and the learning record it calls for.

use crate::cmi::{self, Model};
use serde_json::Value;
use std::collections::BTreeMap;

/// The envelope the runtime posts.
#[derive(Debug, serde::Deserialize)]
struct Envelope {
    launch: u32,
    seq: u64,
    /// The commit sent as the SCO finished (LMSFinish / Terminate).
    #[serde(default, rename = "final")]
    last: bool,
    #[serde(default)]
    values: BTreeMap<String, Value>,
}

/// What applying one commit produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not applied: the runtime is told `false` with this SCORM error code; the reason is kept
    /// with the commit for the trace.
    Refused { reason: String, error: u32, seq: i64 },
    /// A review launch (SCORM lesson mode review): the commit is kept for the trace, nothing changes.
    Kept { seq: i64 },
    /// Applied: the record before and after, and the commit as read.
    Applied { seq: i64, before: Box<cmi::Attempt>, after: Box<cmi::Attempt>, commit: cmi::Commit },
}

impl Outcome {
    /// SCORM's `result` and `errorCode` for the runtime.
    pub fn answer(&self) -> (bool, u32) {
        match self {
            Self::Refused { error, .. } => (false, *error),
            Self::Kept { .. } | Self::Applied { .. } => (true, 0),
        }
    }

    /// The commit's sequence number as sent (0 when it could not be read).
    pub fn seq(&self) -> i64 {
        match self {
            Self::Refused { seq, .. } | Self::Kept { seq } | Self::Applied { seq, .. } => *seq,
        }
    }

    /// What the trace says of it.
    pub fn trace(&self) -> String {
        match self {
            Self::Refused { reason, .. } => format!("refused: {reason}"),
            Self::Kept { .. } => "kept: a review launch changes nothing".into(),
            Self::Applied { .. } => "applied".into(),
        }
    }
}

/// Applies the commit `raw` of launch `launch` to the attempt's `record` (its JSON; empty or
/// unreadable is a fresh attempt), under `model`, with the package's mastery score.
pub fn apply(raw: &[u8], launch: u32, model: Model, record: &str, mastery: Option<f64>) -> Outcome {
    let general = if model == Model::Scorm12 { 101 } else { 391 };
    let env = match serde_json::from_slice::<Envelope>(raw) {
        Ok(e) if e.launch == launch => e,
        Ok(_) => return Outcome::Refused { reason: "another launch's commit".into(), error: general, seq: 0 },
        Err(e) => return Outcome::Refused { reason: format!("not a commit ({e})"), error: general, seq: 0 },
    };
    let values: BTreeMap<String, String> = env
        .values
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            Value::Number(n) => Some((k, n.to_string())),
            Value::Bool(b) => Some((k, b.to_string())),
            _ => None,
        })
        .collect();
    let commit = cmi::Commit { session: env.launch, seq: env.seq, values, finishing: env.last };
    let seq = i64::try_from(env.seq).unwrap_or(i64::MAX);
    let before: cmi::Attempt = serde_json::from_str(record).unwrap_or_default();
    if before.reviewing(env.launch) {
        return Outcome::Kept { seq };
    }
    let mut after = before.clone();
    if let Err(e) = after.apply(model, &commit, mastery) {
        let error = if model == Model::Scorm12 { 405 } else { 406 };
        return Outcome::Refused { reason: e.to_string(), error, seq };
    }
    Outcome::Applied { seq, before: Box::new(before), after: Box::new(after), commit }
}

/// Whether the results the learning record follows changed between two records.
pub fn results_changed(before: &cmi::Attempt, after: &cmi::Attempt) -> bool {
    after.completion != before.completion
        || after.success != before.success
        || after.score_scaled != before.score_scaled
        || after.score_raw != before.score_raw
}

/// Whether the record says the SCO is done (completed, or passed).
pub fn done(after: &cmi::Attempt) -> bool {
    after.completion == cmi::Completion::Completed || after.success == cmi::Success::Passed
}

/// Whether the attempt ends with this commit: the SCO exits other than by suspending (the next
/// launch is a new attempt); SCORM 1.2's empty exit counts only on the finishing commit.
pub fn ends(after: &cmi::Attempt, finishing: bool) -> bool {
    matches!(after.exit.as_str(), "logout" | "normal" | "time-out") || (finishing && after.exit != "suspend")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn raw(launch: u32, seq: u64, last: bool, values: &[(&str, &str)]) -> Vec<u8> {
        let values: BTreeMap<_, _> = values.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        serde_json::to_vec(&serde_json::json!({ "launch": launch, "seq": seq, "final": last, "values": values }))
            .unwrap()
    }

    #[test]
    fn another_launchs_commit_and_garbage_are_refused_with_the_models_general_error() {
        let o = apply(&raw(2, 1, false, &[]), 1, Model::Scorm12, "", None);
        assert_eq!(o.answer(), (false, 101));
        assert_eq!(o.trace(), "refused: another launch's commit");
        let o = apply(b"not json", 1, Model::Scorm2004, "", None);
        assert_eq!(o.answer(), (false, 391));
        assert!(o.trace().starts_with("refused: not a commit"));
    }

    #[test]
    fn a_completion_is_applied_and_counts_as_done_and_a_normal_exit_ends_the_attempt() {
        let o = apply(
            &raw(1, 3, true, &[("cmi.completion_status", "completed"), ("cmi.exit", "normal")]),
            1,
            Model::Scorm2004,
            "",
            None,
        );
        let Outcome::Applied { seq, before, after, .. } = &o else { panic!("{o:?}") };
        assert_eq!(*seq, 3);
        assert!(results_changed(before, after));
        assert!(done(after));
        assert!(ends(after, true));
        assert_eq!(o.answer(), (true, 0));
    }

    #[test]
    fn a_suspended_sco_does_not_end_its_attempt() {
        let o = apply(&raw(1, 1, true, &[("cmi.exit", "suspend")]), 1, Model::Scorm2004, "", None);
        let Outcome::Applied { after, .. } = &o else { panic!("{o:?}") };
        assert!(!ends(after, true));
        assert!(!done(after));
    }
}
