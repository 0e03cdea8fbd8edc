//! SCORM's two time formats, read into hundredths of a second.
//!
//! SCORM 1.2 `CMITimespan` is `HHHH:MM:SS.SS`: two to four digits of hours, exactly two of minutes
//! and seconds, and at most two decimal places (RTE 3-26). Anything else is refused, as the runtime
//! refuses it (error 405) before it is ever sent. SCORM 2004 `timeinterval` is an ISO 8601 duration,
//! `P[nY][nM][nD][T[nH][nM][n[.n]S]]`, with years and months taken as 365 and 30 days (the
//! standard leaves them unsized; packages use hours, minutes and seconds).

/// Hundredths of a second in a SCORM 1.2 timespan such as `0001:30:05.5`.
pub fn scorm12(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a SCORM 1.2 time (HHHH:MM:SS.SS)");
    let mut parts = s.trim().split(':');
    let (Some(h), Some(m), Some(sec), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if !(2..=4).contains(&h.len()) || !h.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    if whole.len() != 2 || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || (sec.contains('.') && frac.is_empty()) {
        return Err(bad());
    }
    let (h, m, whole): (u64, u64, u64) =
        (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, whole.parse().map_err(|_| bad())?);
    if m > 59 || whole > 59 {
        return Err(bad());
    }
    let cs = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().map_err(|_| bad())? * 10,
        _ => frac.parse::<u64>().map_err(|_| bad())?,
    };
    Ok(((h * 60 + m) * 60 + whole) * 100 + cs)
}

/// Hundredths of a second in a SCORM 2004 (ISO 8601) duration such as `PT1H30M5.5S`.
pub fn iso8601(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a SCORM 2004 time interval (like PT1H30M5S)");
    let rest = s.trim().strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() || rest == "T" || rest.ends_with('T') {
        return Err(bad());
    }
    // Weeks stand alone in ISO 8601 (`P4W`, never `P4W1D`).
    if let Some(w) = rest.strip_suffix('W') {
        let weeks: u64 = w.parse().map_err(|_| bad())?;
        return weeks.checked_mul(7 * 24 * 3600 * 100).ok_or_else(bad);
    }
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total: u64 = 0;
    let mut read = |part: &str, units: &[(char, u64)], allow_fraction: char| -> Result<(), String> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c).ok_or_else(bad)? + next_unit;
            if number.is_empty() || (number.contains('.') && c != allow_fraction) {
                return Err(bad());
            }
            let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
            if whole.is_empty() && frac.is_empty() {
                return Err(bad());
            }
            let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
            let cs_per_unit = units[at].1;
            total = total.checked_add(whole.checked_mul(cs_per_unit).ok_or_else(bad)?).ok_or_else(bad)?;
            if !frac.is_empty() {
                if !frac.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let two: String = frac.chars().chain("00".chars()).take(2).collect();
                total = total.checked_add(two.parse::<u64>().map_err(|_| bad())?).ok_or_else(bad)?;
            }
            number.clear();
            next_unit = at + 1;
        }
        if number.is_empty() { Ok(()) } else { Err(bad()) }
    };
    const DAY: u64 = 24 * 3600 * 100;
    read(date, &[('Y', 365 * DAY), ('M', 30 * DAY), ('D', DAY)], '\0')?;
    read(time, &[('H', 3600 * 100), ('M', 60 * 100), ('S', 100)], 'S')?;
    Ok(total)
}

/// Reads either format (SCORM 1.2 `HH:MM:SS` or 2004 `PT…`).
pub fn either(s: &str) -> Result<u64, String> {
    if s.trim_start().starts_with('P') { iso8601(s) } else { scorm12(s) }
}

/// Hundredths of a second as a SCORM 2004 duration (`PT1H30M5.5S`; `PT0S` for none).
pub fn to_iso8601(cs: u64) -> String {
    let (h, rest) = (cs / 360_000, cs % 360_000);
    let (m, rest) = (rest / 6000, rest % 6000);
    let (s, frac) = (rest / 100, rest % 100);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if s > 0 || frac > 0 || out == "PT" {
        if frac > 0 {
            out.push_str(&format!("{s}.{frac:02}S"));
        } else {
            out.push_str(&format!("{s}S"));
        }
    }
    out
}

/// Hundredths of a second as a SCORM 1.2 timespan (`0001:30:05.50`; at most `9999:59:59.99`, the
/// largest four digits of hours can say).
pub fn to_scorm12(cs: u64) -> String {
    let cs = cs.min(((9999 * 60 + 59) * 60 + 59) * 100 + 99);
    let (h, rest) = (cs / 360_000, cs % 360_000);
    let (m, rest) = (rest / 6000, rest % 6000);
    format!("{h:04}:{m:02}:{:02}.{:02}", rest / 100, rest % 100)
}
