//! Charts drawn on the server as SVG (no script), each beside a table that gives its figures:
//! the numbers here place the marks; the templates (`partials/charts.html`) draw them.

use chrono::{Datelike, NaiveDate};
use serde_json::{Value, json};

/// The `n` months up to and including `today`'s, oldest first, as `YYYY-MM`.
pub fn months_to(today: NaiveDate, n: u32) -> Vec<String> {
    let mut out = Vec::with_capacity(n as usize);
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..n {
        out.push(format!("{y:04}-{m:02}"));
        if m == 1 {
            y -= 1;
            m = 12;
        } else {
            m -= 1;
        }
    }
    out.reverse();
    out
}

/// The first day of the oldest of [`months_to`]'s months.
pub fn first_day(months: &[String]) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{}-01", months.first()?), "%Y-%m-%d").ok()
}

/// `2026-12` as "December 2026" (and "Dec" for the chart's axis).
pub fn month_words(ym: &str) -> (String, String) {
    match NaiveDate::parse_from_str(&format!("{ym}-01"), "%Y-%m-%d") {
        Ok(d) => (d.format("%B %Y").to_string(), d.format("%b").to_string()),
        Err(_) => (ym.to_owned(), ym.to_owned()),
    }
}

/// A column chart of one figure per month: each column's label, value, the value in words
/// (`shown`, e.g. "£120.00") and its height (0–100, the tallest is 100).
pub fn month_columns(rows: &[(String, i64, String)]) -> Value {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let cols: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (ym, v, shown))| {
            let (long, short) = month_words(ym);
            let h = (v.max(&0) * 100) / max;
            json!({ "month": long, "axis": short, "value": v, "shown": shown, "x": i * 10 + 1, "h": h, "y": 100 - h })
        })
        .collect();
    json!({ "columns": cols, "width": rows.len() * 10, "max": max })
}

/// A line of percentages over time (oldest first) with a target: the points for an SVG
/// `polyline` in a 100 × 100 box (y grows downwards), and the target's height.
pub fn percent_line(points: &[i64], target: i64) -> Value {
    let n = points.len();
    let x = |i: usize| if n <= 1 { 50.0 } else { i as f64 * 100.0 / (n - 1) as f64 };
    let coords: Vec<String> =
        points.iter().enumerate().map(|(i, p)| format!("{:.1},{}", x(i), 100 - (*p).clamp(0, 100))).collect();
    // One day kept draws no line: a dot marks it.
    let dot = (n == 1).then(|| json!({ "x": x(0), "y": 100 - points[0].clamp(0, 100) }));
    json!({ "points": coords.join(" "), "target_y": 100 - target.clamp(0, 100), "dot": dot })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn months_run_back_across_a_year() {
        let d = NaiveDate::from_ymd_opt(2026, 2, 14).unwrap();
        assert_eq!(months_to(d, 3), vec!["2025-12", "2026-01", "2026-02"]);
        assert_eq!(first_day(&months_to(d, 3)), NaiveDate::from_ymd_opt(2025, 12, 1));
        assert_eq!(month_words("2026-12").0, "December 2026");
    }

    #[test]
    fn the_tallest_column_is_full_height_and_a_line_is_placed_by_percent() {
        let c = month_columns(&[("2026-11".into(), 2, "2".into()), ("2026-12".into(), 4, "4".into())]);
        assert_eq!(c["columns"][1]["h"], 100);
        assert_eq!(c["columns"][0]["h"], 50);
        assert_eq!(percent_line(&[50, 100], 90)["points"], "0.0,50 100.0,0");
        assert_eq!(percent_line(&[50, 100], 90)["target_y"], 10);
    }
}
