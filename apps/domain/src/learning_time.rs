//! Protected learning time (issue 22): a weekly allowance a learner and their line manager agree
//! (how long, which day, from what time), and a plan of what fits in the coming sessions, by due
//! date and length.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};

/// The allowances a learner may ask for, in minutes a week.
pub const ALLOWANCES: &[u32] = &[30, 60, 90, 120, 180, 240];

/// How many sessions ahead My learning plans.
pub const PLANNED: usize = 4;

/// How long a course with no length given is counted as.
pub const UNKNOWN_LENGTH: u32 = 30;

/// A weekly allowance: `minutes` from `start` on `weekday`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub minutes: u32,
    pub weekday: Weekday,
    pub start: NaiveTime,
}

impl Allowance {
    /// Checks an allowance as asked for: one of [`ALLOWANCES`], a weekday (Monday to Friday,
    /// `1`–`5`), and a start time `HH:MM` between 07:00 and 19:00 that ends by 20:00. Each error is
    /// `(field, message)`.
    pub fn parse(minutes: &str, weekday: &str, start: &str) -> Result<Allowance, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let minutes = match minutes.trim().parse::<u32>() {
            Ok(m) if ALLOWANCES.contains(&m) => Some(m),
            _ => {
                errors.push(("minutes", "Choose how much time a week".to_owned()));
                None
            }
        };
        let weekday = match weekday.trim().parse::<u32>().ok().and_then(|d| (1..=5).contains(&d).then_some(d)) {
            Some(d) => Some(Weekday::try_from(u8::try_from(d - 1).unwrap_or(0)).unwrap_or(Weekday::Mon)),
            None => {
                errors.push(("weekday", "Choose a day from Monday to Friday".to_owned()));
                None
            }
        };
        let start = match NaiveTime::parse_from_str(start.trim(), "%H:%M") {
            Ok(t) if t >= NaiveTime::from_hms_opt(7, 0, 0).unwrap_or_default() => Some(t),
            Ok(_) => {
                errors.push(("start", "Start at 07:00 or later".to_owned()));
                None
            }
            Err(_) => {
                errors.push(("start", "Enter the start time as hours and minutes, for example 14:30".to_owned()));
                None
            }
        };
        match (minutes, weekday, start) {
            (Some(minutes), Some(weekday), Some(start)) => {
                let ends = start.signed_duration_since(NaiveTime::MIN) + Duration::minutes(i64::from(minutes));
                if ends > Duration::hours(20) {
                    return Err(vec![("start", "The time must end by 20:00: start earlier".to_owned())]);
                }
                Ok(Allowance { minutes, weekday, start })
            }
            _ => Err(errors),
        }
    }

    /// The weekday as stored (`1` Monday … `5` Friday).
    pub fn weekday_number(&self) -> u32 {
        self.weekday.number_from_monday()
    }

    /// The next `n` days of this allowance from `today` (today included when it is the day).
    pub fn next_days(&self, today: NaiveDate, n: usize) -> Vec<NaiveDate> {
        let ahead = (7 + i64::from(self.weekday.num_days_from_monday())
            - i64::from(today.weekday().num_days_from_monday()))
            % 7;
        let first = today + Duration::days(ahead);
        (0..n).map(|i| first + Duration::weeks(i as i64)).collect()
    }

    /// In words: "1 hour a week, on Wednesdays from 14:00".
    pub fn words(&self) -> String {
        format!(
            "{} a week, on {}s from {}",
            minutes_words(self.minutes),
            day_name(self.weekday),
            self.start.format("%H:%M")
        )
    }
}

/// "30 minutes", "1 hour", "1 hour 30 minutes", "2 hours".
pub fn minutes_words(minutes: u32) -> String {
    let (h, m) = (minutes / 60, minutes % 60);
    let hours = match h {
        0 => String::new(),
        1 => "1 hour".to_owned(),
        h => format!("{h} hours"),
    };
    match (h, m) {
        (_, 0) => hours,
        (0, m) => format!("{m} minutes"),
        (_, m) => format!("{hours} {m} minutes"),
    }
}

/// The English name of a weekday.
pub fn day_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// Something to learn: a course with its due date (if any) and the minutes it still needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: String,
    pub title: String,
    pub due: Option<NaiveDate>,
    /// Minutes still needed (0: not known, counted as [`UNKNOWN_LENGTH`]).
    pub minutes: u32,
}

/// One part of a session: some or all of a course.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Part {
    pub key: String,
    pub title: String,
    pub minutes: u32,
    /// The course is finished in this session.
    pub finishes: bool,
    /// The session is after the course's due date.
    pub late: bool,
}

/// A session of learning time and what fits in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Session {
    pub on: NaiveDate,
    pub parts: Vec<Part>,
}

/// What fits in the next `sessions` sessions of `allowance` from `today`: the items soonest due
/// first (those with no due date last, then by title), each taking its length, a long one
/// carried on into the next session. Sessions with nothing in them are left out.
pub fn plan(allowance: &Allowance, today: NaiveDate, items: &[Item], sessions: usize) -> Vec<Session> {
    let mut queue: Vec<Item> = items.to_vec();
    queue.sort_by(|a, b| (a.due.is_none(), a.due, &a.title).cmp(&(b.due.is_none(), b.due, &b.title)));
    let mut left: Vec<u32> = queue.iter().map(|i| if i.minutes == 0 { UNKNOWN_LENGTH } else { i.minutes }).collect();
    let mut at = 0;
    let mut out = Vec::new();
    for on in allowance.next_days(today, sessions) {
        let mut room = allowance.minutes;
        let mut parts = Vec::new();
        while room > 0 && at < queue.len() {
            let take = left[at].min(room);
            left[at] -= take;
            room -= take;
            parts.push(Part {
                key: queue[at].key.clone(),
                title: queue[at].title.clone(),
                minutes: take,
                finishes: left[at] == 0,
                late: queue[at].due.is_some_and(|d| on > d),
            });
            if left[at] == 0 {
                at += 1;
            }
        }
        if parts.is_empty() {
            break;
        }
        out.push(Session { on, parts });
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn item(key: &str, due: Option<&str>, minutes: u32) -> Item {
        Item { key: key.into(), title: key.to_uppercase(), due: due.map(d), minutes }
    }

    #[test]
    fn an_allowance_is_checked_field_by_field() {
        let ok = Allowance::parse("60", "3", "14:00").unwrap();
        assert_eq!(ok.weekday, Weekday::Wed);
        assert_eq!(ok.words(), "1 hour a week, on Wednesdays from 14:00");
        let errors = Allowance::parse("45", "6", "2pm").unwrap_err();
        assert_eq!(errors.iter().map(|(f, _)| *f).collect::<Vec<_>>(), ["minutes", "weekday", "start"]);
        assert_eq!(Allowance::parse("240", "1", "17:00").unwrap_err()[0].0, "start", "ends after 20:00");
        assert_eq!(Allowance::parse("30", "1", "06:30").unwrap_err()[0].1, "Start at 07:00 or later");
        assert_eq!(minutes_words(90), "1 hour 30 minutes");
        assert_eq!(minutes_words(30), "30 minutes");
        assert_eq!(minutes_words(120), "2 hours");
    }

    #[test]
    fn sessions_fall_on_the_day_from_today() {
        let wed = Allowance::parse("60", "3", "14:00").unwrap();
        // 2026-12-07 is a Monday.
        assert_eq!(wed.next_days(d("2026-12-07"), 2), [d("2026-12-09"), d("2026-12-16")]);
        assert_eq!(wed.next_days(d("2026-12-09"), 1), [d("2026-12-09")], "today, when it is the day");
        assert_eq!(wed.next_days(d("2026-12-10"), 1), [d("2026-12-16")]);
    }

    #[test]
    fn the_plan_takes_the_soonest_due_first_and_carries_long_courses_on() {
        let wed = Allowance::parse("60", "3", "14:00").unwrap();
        let items = [
            item("later", Some("2027-03-01"), 90),
            item("overdue", Some("2026-11-01"), 20),
            item("whenever", None, 0),
            item("soon", Some("2026-12-20"), 30),
        ];
        let plan = plan(&wed, d("2026-12-07"), &items, 8);
        let shape: Vec<Vec<(&str, u32, bool)>> =
            plan.iter().map(|s| s.parts.iter().map(|p| (p.key.as_str(), p.minutes, p.finishes)).collect()).collect();
        assert_eq!(
            shape,
            [
                vec![("overdue", 20, true), ("soon", 30, true), ("later", 10, false)],
                vec![("later", 60, false)],
                vec![("later", 20, true), ("whenever", 30, true)],
            ]
        );
        assert!(plan[0].parts[0].late, "the overdue course is late");
        assert!(!plan[0].parts[1].late);
        assert_eq!(plan.len(), 3, "no empty sessions");
    }
}
