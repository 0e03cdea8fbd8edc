//! Learning labs (issue 22): a room's details as a training manager enters them, checked field by
//! field, and the slots it offers on a day.

use chrono::{Datelike, NaiveDate, NaiveTime};

/// A room as entered: times are minutes after midnight in the trust's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoomInput {
    pub name: String,
    pub location: String,
    pub pcs: i32,
    /// The ISO weekday digits it opens on (`1` Monday … `7` Sunday), in order.
    pub days: String,
    pub opens: i32,
    pub closes: i32,
    pub slot_minutes: i32,
    pub max_bookings: i32,
}

fn time(raw: &str) -> Option<i32> {
    let t = NaiveTime::parse_from_str(raw.trim(), "%H:%M").ok()?;
    Some(i32::try_from(t.signed_duration_since(NaiveTime::MIN).num_minutes()).unwrap_or(0))
}

/// `HH:MM` of minutes after midnight.
pub fn clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl RoomInput {
    /// Checks a room as entered (`days`: the weekday digits ticked). Each error is `(field,
    /// message)`.
    #[allow(clippy::too_many_arguments)] // the form's fields
    pub fn parse(
        name: &str,
        location: &str,
        pcs: &str,
        days: &[String],
        opens: &str,
        closes: &str,
        slot: &str,
        max: &str,
    ) -> Result<RoomInput, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(("name", "Enter the room's name (up to 200 characters)".to_owned()));
        }
        let location = location.trim();
        if location.chars().count() > 300 {
            errors.push(("location", "Where it is must be 300 characters or fewer".to_owned()));
        }
        let pcs = match pcs.trim().parse::<i32>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => {
                errors.push(("pcs", "Enter the number of PCs, from 1 to 200".to_owned()));
                0
            }
        };
        let mut ticked: Vec<char> =
            days.iter().filter_map(|d| d.trim().chars().next()).filter(|c| ('1'..='7').contains(c)).collect();
        ticked.sort_unstable();
        ticked.dedup();
        if ticked.is_empty() {
            errors.push(("days", "Choose the days it is open".to_owned()));
        }
        let (opens, closes) = match (time(opens), time(closes)) {
            (Some(o), Some(c)) if o < c => (o, c),
            (Some(_), Some(_)) => {
                errors.push(("closes", "It must close after it opens".to_owned()));
                (0, 0)
            }
            (o, c) => {
                if o.is_none() {
                    errors.push(("opens", "Enter the opening time, for example 08:00".to_owned()));
                }
                if c.is_none() {
                    errors.push(("closes", "Enter the closing time, for example 18:00".to_owned()));
                }
                (0, 0)
            }
        };
        let slot_minutes = match slot.trim().parse::<i32>() {
            Ok(n) if [30, 45, 60, 90, 120].contains(&n) => n,
            _ => {
                errors.push(("slot_minutes", "Choose how long a slot is".to_owned()));
                0
            }
        };
        if slot_minutes > 0 && closes > opens && closes - opens < slot_minutes {
            errors.push(("closes", "It must be open for at least one slot".to_owned()));
        }
        let max_bookings = match max.trim().parse::<i32>() {
            Ok(n) if (1..=20).contains(&n) => n,
            _ => {
                errors
                    .push(("max_bookings", "Enter how many slots one person may book ahead, from 1 to 20".to_owned()));
                0
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RoomInput {
            name: name.to_owned(),
            location: location.to_owned(),
            pcs,
            days: ticked.into_iter().collect(),
            opens,
            closes,
            slot_minutes,
            max_bookings,
        })
    }

    /// Whether it opens on `day`.
    pub fn open_on(&self, day: NaiveDate) -> bool {
        let digit = char::from_digit(day.weekday().number_from_monday(), 10).unwrap_or('0');
        self.days.contains(digit)
    }

    /// The slots it offers on `day` (start and end, local times): none on a closed day; the last
    /// ends by closing time.
    pub fn slots(&self, day: NaiveDate) -> Vec<(NaiveTime, NaiveTime)> {
        if !self.open_on(day) || self.slot_minutes <= 0 {
            return Vec::new();
        }
        let at = |m: i32| NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(m * 60).unwrap_or(0), 0);
        let mut out = Vec::new();
        let mut start = self.opens;
        while start + self.slot_minutes <= self.closes {
            if let (Some(s), Some(e)) = (at(start), at(start + self.slot_minutes)) {
                out.push((s, e));
            }
            start += self.slot_minutes;
        }
        out
    }

    /// The open days in words: "Monday to Friday", "Monday, Wednesday and Friday".
    pub fn days_words(&self) -> String {
        let names: Vec<&str> = self
            .days
            .chars()
            .filter_map(|c| c.to_digit(10))
            .filter_map(|d| chrono::Weekday::try_from(u8::try_from(d.saturating_sub(1)).ok()?).ok())
            .map(crate::learning_time::day_name)
            .collect();
        let consecutive = self.days.len() > 2 && self.days.as_bytes().windows(2).all(|w| w[1] == w[0] + 1);
        match names.as_slice() {
            [] => String::new(),
            [one] => (*one).to_owned(),
            [first, .., last] if consecutive => format!("{first} to {last}"),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn days(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_room_is_checked_field_by_field() {
        let ok = RoomInput::parse(
            "Library PCs",
            "Level 2",
            "8",
            &days(&["1", "2", "3", "4", "5"]),
            "08:00",
            "18:00",
            "60",
            "2",
        )
        .unwrap();
        assert_eq!((ok.days.as_str(), ok.opens, ok.closes), ("12345", 480, 1080));
        assert_eq!(ok.days_words(), "Monday to Friday");
        let errors = RoomInput::parse("", "", "0", &[], "8am", "", "50", "0").unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["name", "pcs", "days", "opens", "closes", "slot_minutes", "max_bookings"]);
        let shut = RoomInput::parse("R", "", "1", &days(&["1"]), "10:00", "09:00", "60", "1").unwrap_err();
        assert_eq!(shut[0].1, "It must close after it opens");
        let short = RoomInput::parse("R", "", "1", &days(&["1"]), "10:00", "10:30", "60", "1").unwrap_err();
        assert_eq!(short[0].1, "It must be open for at least one slot");
    }

    #[test]
    fn slots_fill_the_open_hours_of_open_days() {
        let r = RoomInput::parse("R", "", "2", &days(&["1", "3", "5"]), "09:00", "11:30", "60", "1").unwrap();
        assert_eq!(r.days_words(), "Monday, Wednesday and Friday");
        let monday: NaiveDate = "2026-12-07".parse().unwrap();
        let slots: Vec<String> = r.slots(monday).iter().map(|(s, e)| format!("{s}-{e}")).collect();
        assert_eq!(slots, ["09:00:00-10:00:00", "10:00:00-11:00:00"], "the last ends by closing");
        assert!(r.slots(monday.succ_opt().unwrap()).is_empty(), "closed on Tuesdays");
        assert_eq!(clock(545), "09:05");
    }
}
