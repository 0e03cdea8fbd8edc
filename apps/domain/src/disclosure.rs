//! Disclosure control for anonymised statistics, as NHS England applies it to its published
//! hospital statistics: counts of 1 to 7 are suppressed (`*`), other counts are rounded to the
//! nearest 5 (zero stays 0), totals are rounded from the unrounded sums, and a mean or median of
//! fewer than 8 people is suppressed. Applied at every level, national included.
//!
//! Rounding alone does not stop differencing: a breakdown and its total can pin a suppressed cell
//! down (0, *, 10, 10 with a total of 15 leaves only 1). [`column`] publishes a breakdown with its
//! total and withholds the total (`*` too) whenever it would let any suppressed cell be worked out.

use serde::Serialize;

/// The smallest count shown (smaller ones, but not zero, are suppressed).
pub const SMALLEST_SHOWN: u64 = 8;

/// A published figure: a number, or suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum Shown {
    Value(u64),
    /// A count of 1 to 7.
    #[serde(serialize_with = "star")]
    Suppressed,
    /// A total held back because it would reveal a suppressed count (any value).
    #[serde(serialize_with = "star")]
    Withheld,
}

fn star<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("*")
}

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shown::Value(v) => write!(f, "{v}"),
            Shown::Suppressed | Shown::Withheld => f.write_str("*"),
        }
    }
}

/// A count as published: 0 stays 0, 1–7 is `*`, others to the nearest 5 (halves up).
pub fn count(n: u64) -> Shown {
    match n {
        0 => Shown::Value(0),
        1..SMALLEST_SHOWN => Shown::Suppressed,
        _ => Shown::Value((n + 2) / 5 * 5),
    }
}

/// A total as published: the unrounded sum of its parts, then [`count`]'s rule.
pub fn total(parts: &[u64]) -> Shown {
    count(parts.iter().sum())
}

/// A measure over people (a mean or median), shown only when it is drawn from at least 8 people.
pub fn measure<T>(people: u64, value: T) -> Option<T> {
    (people >= SMALLEST_SHOWN).then_some(value)
}

/// The values a suppressed cell could have, given the other cells and the total as shown.
fn candidates(shown: &[Shown], i: usize, total: Shown) -> usize {
    let (lo, hi) = shown.iter().enumerate().filter(|(j, _)| *j != i).fold((0u64, 0u64), |(lo, hi), (_, s)| {
        let r = consistent(*s);
        (lo.saturating_add(*r.start()), hi.saturating_add(*r.end()))
    });
    let t = consistent(total);
    consistent(Shown::Suppressed)
        .filter(|x| x.saturating_add(hi) >= *t.start() && x.saturating_add(lo) <= *t.end())
        .count()
}

/// A breakdown and its total as published: each cell by [`count`], the total from the unrounded
/// sum, and the total withheld if it would let any suppressed cell be worked out.
pub fn column(cells: &[u64]) -> (Vec<Shown>, Shown) {
    let shown: Vec<Shown> = cells.iter().map(|&v| count(v)).collect();
    let t = total(cells);
    let revealing = (0..shown.len()).any(|i| shown[i] == Shown::Suppressed && candidates(&shown, i, t) < 2);
    (shown, if revealing { Shown::Withheld } else { t })
}

/// A breakdown whose cells are sums of finer cells published elsewhere (regions, whose trusts
/// are published in the trust report): [`column`], except that a cell shown as a number is
/// withheld when any of its parts would be suppressed, since the difference between it and its
/// other parts would give that part away.
pub fn nested_column(parts: &[Vec<u64>]) -> (Vec<Shown>, Shown) {
    let cells: Vec<u64> = parts.iter().map(|p| p.iter().sum()).collect();
    let (mut shown, _) = column(&cells);
    for (i, p) in parts.iter().enumerate() {
        if matches!(shown[i], Shown::Value(v) if v > 0) && p.iter().any(|&v| count(v) == Shown::Suppressed) {
            shown[i] = Shown::Withheld;
        }
    }
    let t = total(&cells);
    let revealing = (0..shown.len()).any(|i| shown[i] == Shown::Suppressed && candidates(&shown, i, t) < 2);
    // The same total is in the finer report: held back here whenever it is held back there.
    let flat: Vec<u64> = parts.iter().flatten().copied().collect();
    let withheld_there = column(&flat).1 == Shown::Withheld;
    (shown, if revealing || withheld_there { Shown::Withheld } else { t })
}

/// The median of `values` (the lower middle of an even count), if any.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

/// The true values a published count allows: what an attacker who sees it can infer.
pub fn consistent(shown: Shown) -> std::ops::RangeInclusive<u64> {
    match shown {
        Shown::Value(0) => 0..=0,
        Shown::Suppressed => 1..=SMALLEST_SHOWN - 1,
        Shown::Withheld => 0..=u64::MAX,
        // Rounded to the nearest 5, and never below the smallest shown count.
        Shown::Value(v) => v.saturating_sub(2).max(SMALLEST_SHOWN)..=v + 2,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_suppressed_rounded_and_zero_stays_zero() {
        assert_eq!(count(0), Shown::Value(0));
        for n in 1..=7 {
            assert_eq!(count(n), Shown::Suppressed, "{n}");
        }
        assert_eq!(count(8), Shown::Value(10));
        assert_eq!(count(12), Shown::Value(10));
        assert_eq!(count(13), Shown::Value(15));
        assert_eq!(count(15), Shown::Value(15));
        assert_eq!(count(1_002), Shown::Value(1_000));
        // A total is rounded from the unrounded sum, not summed from rounded parts.
        assert_eq!(total(&[3, 3, 3]), Shown::Value(10));
        assert_eq!(total(&[12, 12]), Shown::Value(25));
        assert_eq!(measure(7, 30), None);
        assert_eq!(measure(8, 30), Some(30));
        assert_eq!(median(&mut [5, 1, 3, 2]), Some(2));
        assert_eq!(Shown::Suppressed.to_string(), "*");
        // 0, *, 10, 10 with a total of 15 would leave only 1: the total is withheld.
        assert_eq!(column(&[0, 1, 8, 8]).1, Shown::Withheld);
        assert_eq!(column(&[2, 40]).1, Shown::Value(40));
    }

    /// Differencing: for every table of small groups (up to four cells of 0–30), with its total
    /// published beside it (two reports: the breakdown and the total), no suppressed cell's value
    /// can be pinned down. Some value other than the true one is consistent with everything shown.
    #[test]
    fn no_suppressed_cell_can_be_recovered_from_a_breakdown_and_its_total() {
        fn cells(n: usize, max: u64) -> Vec<Vec<u64>> {
            if n == 0 {
                return vec![vec![]];
            }
            let mut out = Vec::new();
            for rest in cells(n - 1, max) {
                for v in (0..=max).step_by(if max > 12 { 3 } else { 1 }) {
                    let mut c = rest.clone();
                    c.push(v);
                    out.push(c);
                }
            }
            out
        }
        for size in 1..=4 {
            for table in cells(size, if size > 3 { 12 } else { 30 }) {
                let (shown, t) = column(&table);
                for (i, &v) in table.iter().enumerate() {
                    if shown[i] != Shown::Suppressed {
                        continue;
                    }
                    assert!((1..=7).contains(&v), "only 1 to 7 is suppressed");
                    assert!(
                        candidates(&shown, i, t) >= 2,
                        "cell {i} of {table:?} could be recovered ({shown:?}, {t:?})"
                    );
                }
                // Withholding is kept for when it is needed: a table with no small cell keeps its total.
                if shown.iter().all(|s| *s != Shown::Suppressed) {
                    assert_eq!(t, total(&table));
                }
            }
        }
    }

    /// Differencing across two reports of the same figures: by trust and by region (trusts A and
    /// B in one region, C in another), each with its total. For every set of true counts (0–20
    /// each), the attacker takes everything published and works out which true counts agree with
    /// all of it (each figure allows the values `consistent` says); every suppressed trust or
    /// region cell must be left with at least two possible values.
    #[test]
    fn no_suppressed_cell_can_be_recovered_from_the_trust_and_region_reports_together() {
        let within = |v: u64, s: Shown| consistent(s).contains(&v);
        for a in 0..=20u64 {
            for b in 0..=20u64 {
                for c in 0..=20u64 {
                    let (trusts, t1) = column(&[a, b, c]);
                    let (regions, t2) = nested_column(&[vec![a, b], vec![c]]);
                    // Every (a, b, c) the published figures allow.
                    let range = |s: Shown| {
                        let r = consistent(s);
                        *r.start()..=(*r.end()).min(60)
                    };
                    let mut allowed = Vec::new();
                    for x in range(trusts[0]) {
                        for y in range(trusts[1]) {
                            for z in range(trusts[2]) {
                                let sum = x + y + z;
                                if within(sum, t1)
                                    && within(sum, t2)
                                    && within(x + y, regions[0])
                                    && within(z, regions[1])
                                {
                                    allowed.push([x, y, z, x + y, z]);
                                }
                            }
                        }
                    }
                    assert!(allowed.contains(&[a, b, c, a + b, c]), "the truth is always allowed");
                    let shown: Vec<Shown> = trusts.iter().chain(regions.iter()).copied().collect();
                    for (i, s) in shown.iter().enumerate() {
                        if *s != Shown::Suppressed {
                            continue;
                        }
                        let values: std::collections::BTreeSet<u64> = allowed.iter().map(|v| v[i]).collect();
                        assert!(
                            values.len() >= 2,
                            "cell {i} of {:?} pinned to {values:?} by {trusts:?} {t1:?} and {regions:?} {t2:?}",
                            [a, b, c]
                        );
                    }
                }
            }
        }
    }
}
