//! A course's anonymised statistics for its trust: by month of enrolment or by staff group, how
//! many enrolled, opened it and completed it, the median and total time, and how scores fell,
//! every cell under disclosure control (the total row from the unrounded sums).

use serde::Serialize;
use std::collections::BTreeMap;
use trellis_db::statistics::Line;
use trellis_domain::disclosure::{Shown, column, measure, median, nested_column};

/// The only groupings offered (free filters would let small groups be found by differencing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Month,
    StaffGroup,
    /// Across trusts (national and sellers' figures): the trust.
    Trust,
    /// Across trusts: the trust's NHS England region.
    Region,
}

impl By {
    pub fn parse(s: &str) -> Self {
        match s {
            "group" => By::StaffGroup,
            "trust" => By::Trust,
            "region" => By::Region,
            _ => By::Month,
        }
    }
    pub fn key(self) -> &'static str {
        match self {
            By::Month => "month",
            By::StaffGroup => "group",
            By::Trust => "trust",
            By::Region => "region",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The month (`YYYY-MM`) or the staff group.
    pub label: String,
    pub enrolled: Shown,
    pub accessed: Shown,
    pub completed: Shown,
    /// Median minutes spent by those who opened it (8 or more of them), else `None` (shown `*`).
    #[serde(serialize_with = "or_star")]
    pub median_minutes: Option<i64>,
    /// Total hours spent by those who opened it (8 or more of them), else `None` (shown `*`).
    #[serde(serialize_with = "or_star")]
    pub total_hours: Option<i64>,
    /// Best scores below 50%, 50–79% and 80% or more.
    pub scores: [Shown; 3],
}

fn or_star<S: serde::Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_i64(*n),
        None => s.serialize_str("*"),
    }
}

#[derive(Default)]
struct Tally {
    enrolled: u64,
    accessed: u64,
    completed: u64,
    seconds: Vec<i64>,
    bands: [u64; 3],
}

impl Tally {
    fn add(&mut self, l: &Line) {
        self.enrolled += 1;
        if l.accessed {
            self.accessed += 1;
            self.seconds.push(l.seconds);
        }
        if l.completed {
            self.completed += 1;
        }
        if let Some(s) = l.best_score {
            let band = if s < 0.5 {
                0
            } else if s < 0.8 {
                1
            } else {
                2
            };
            self.bands[band] += 1;
        }
    }

    /// The median and total time, each shown only for 8 people or more.
    fn times(&mut self) -> (Option<i64>, Option<i64>) {
        let people = self.accessed;
        let total_seconds: i64 = self.seconds.iter().sum();
        (
            measure(people, ()).and_then(|()| median(&mut self.seconds)).map(|s| s / 60),
            measure(people, total_seconds / 3600),
        )
    }
}

/// The table and its total row. Each column is published as one breakdown with its total
/// (`disclosure::column`): small counts suppressed, the rest rounded, the total rounded from the
/// unrounded sum and withheld where it would let a suppressed count be worked out.
pub fn table(lines: &[Line], by: By) -> (Vec<Row>, Row) {
    let keyed: Vec<(String, &Line)> =
        lines.iter().map(|l| (if by == By::StaffGroup { l.staff_group.clone() } else { l.month.clone() }, l)).collect();
    keyed_table(&keyed, if by == By::StaffGroup { By::StaffGroup } else { By::Month })
}

/// [`table`] of lines already keyed by their group (a trust's name, across trusts).
pub fn keyed_table(lines: &[(String, &Line)], by: By) -> (Vec<Row>, Row) {
    let nested: Vec<(String, String, &Line)> = lines.iter().map(|(k, l)| (k.clone(), String::new(), *l)).collect();
    nested_table(&nested, by, false)
}

/// [`table`] of lines keyed by their group and the finer group it is made of (a region and the
/// trust, when the trusts are published too): with `nested`, a group's cell is withheld where one
/// of its parts would be suppressed (`disclosure::nested_column`), so the two reports together
/// give no small count away.
pub fn nested_table(lines: &[(String, String, &Line)], by: By, nested: bool) -> (Vec<Row>, Row) {
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    let mut parts: BTreeMap<String, BTreeMap<String, Tally>> = BTreeMap::new();
    let mut all = Tally::default();
    for (key, part, l) in lines {
        groups.entry(key.clone()).or_default().add(l);
        parts.entry(key.clone()).or_default().entry(part.clone()).or_default().add(l);
        all.add(l);
    }
    let mut tallies: Vec<(String, Tally)> = groups.into_iter().collect();
    let publish = |f: &dyn Fn(&Tally) -> u64, tallies: &[(String, Tally)]| {
        if nested {
            nested_column(
                &tallies
                    .iter()
                    .map(|(k, _)| parts.get(k).map(|p| p.values().map(f).collect()).unwrap_or_default())
                    .collect::<Vec<Vec<u64>>>(),
            )
        } else {
            column(&tallies.iter().map(|(_, t)| f(t)).collect::<Vec<_>>())
        }
    };
    let (enrolled, enrolled_all) = publish(&|t| t.enrolled, &tallies);
    let (accessed, accessed_all) = publish(&|t| t.accessed, &tallies);
    let (completed, completed_all) = publish(&|t| t.completed, &tallies);
    let bands: Vec<(Vec<Shown>, Shown)> = (0..3).map(|b| publish(&|t| t.bands[b], &tallies)).collect();
    let rows = tallies
        .iter_mut()
        .enumerate()
        .map(|(i, (k, t))| {
            let label = match by {
                By::StaffGroup if k.is_empty() => "No staff group recorded".to_owned(),
                By::Region if k.is_empty() => "No region given".to_owned(),
                _ => k.clone(),
            };
            let (median_minutes, total_hours) = t.times();
            Row {
                label,
                enrolled: enrolled[i],
                accessed: accessed[i],
                completed: completed[i],
                median_minutes,
                total_hours,
                scores: [bands[0].0[i], bands[1].0[i], bands[2].0[i]],
            }
        })
        .collect();
    let (median_minutes, total_hours) = all.times();
    let totals = Row {
        label: "All".to_owned(),
        enrolled: enrolled_all,
        accessed: accessed_all,
        completed: completed_all,
        median_minutes,
        total_hours,
        scores: [bands[0].1, bands[1].1, bands[2].1],
    };
    (rows, totals)
}

/// The total row as published whatever the grouping: the same totals are in every grouping's
/// table, so each is withheld wherever any grouping's table withholds it.
pub fn totals_for_every_grouping(all: &mut Row, others: &[Row]) {
    let w = |mine: &mut Shown, theirs: Shown| {
        if theirs == Shown::Withheld {
            *mine = Shown::Withheld;
        }
    };
    for o in others {
        w(&mut all.enrolled, o.enrolled);
        w(&mut all.accessed, o.accessed);
        w(&mut all.completed, o.completed);
        for b in 0..3 {
            w(&mut all.scores[b], o.scores[b]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line(month: &str, group: &str, completed: bool, minutes: i64, score: Option<f64>) -> Line {
        Line {
            month: month.into(),
            staff_group: group.into(),
            accessed: minutes > 0,
            completed,
            seconds: minutes * 60,
            best_score: score,
        }
    }

    #[test]
    fn small_groups_are_stars_others_are_rounded_and_measures_need_eight_people() {
        let mut lines = Vec::new();
        for i in 0..12 {
            lines.push(line("2026-11", "Nursing and Midwifery Registered", i % 2 == 0, 10 + i, Some(0.9)));
        }
        for _ in 0..3 {
            lines.push(line("2026-11", "Medical and Dental", true, 20, Some(0.4)));
        }
        let (rows, all) = table(&lines, By::StaffGroup);
        let medical = rows.iter().find(|r| r.label == "Medical and Dental").unwrap();
        assert_eq!((medical.enrolled, medical.completed), (Shown::Suppressed, Shown::Suppressed));
        assert_eq!(medical.median_minutes, None, "three people: no median");
        let nursing = rows.iter().find(|r| r.label.starts_with("Nursing")).unwrap();
        assert_eq!((nursing.enrolled, nursing.completed), (Shown::Value(10), Shown::Suppressed));
        assert_eq!(nursing.median_minutes, Some(15));
        assert_eq!(nursing.scores, [Shown::Value(0), Shown::Value(0), Shown::Value(10)]);
        // The total is rounded from 15, not summed from the shown 10 and *.
        assert_eq!(all.enrolled, Shown::Value(15));
        assert_eq!(all.completed, Shown::Value(10), "6 + 3 = 9 → 10");
        let (by_month, _) = table(&lines, By::Month);
        assert_eq!(by_month.len(), 1);
        assert_eq!(by_month[0].label, "2026-11");
    }
}
