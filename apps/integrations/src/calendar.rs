//! Calendar files (iCalendar, RFC 5545, with iTIP methods, RFC 5546) for events: the invitation a
//! booking confirmation carries, the update a change sends (the same UID, a higher SEQUENCE) and
//! the cancellation (METHOD:CANCEL). Built with the `icalendar` crate.

use chrono::{DateTime, Utc};
use icalendar::{Calendar, Component, EventLike, EventStatus, Property};

/// What a calendar file asks of the calendar that opens it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Add (or update) the event: a booking, a reminder or a change.
    Request,
    /// Remove the event: it was cancelled, or the booking was.
    Cancel,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// An event, as a calendar shows it.
#[derive(Debug, Clone)]
pub struct CalendarEvent<'a> {
    /// Stable for the event's life (every update and the cancellation use it).
    pub uid: &'a str,
    /// Raised on each change: calendars keep the highest.
    pub sequence: u32,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    /// The page to see it (or an online meeting's link).
    pub url: Option<&'a str>,
    /// Who sends it: name and address.
    pub organiser: (&'a str, &'a str),
    /// Whom it is for.
    pub attendee: &'a str,
}

/// The calendar file for one event and one attendee.
pub fn ics(method: Method, e: &CalendarEvent<'_>) -> String {
    let mut event = icalendar::Event::new();
    event
        .uid(e.uid)
        .sequence(e.sequence)
        .timestamp(Utc::now())
        .starts(e.starts)
        .ends(e.ends)
        .summary(e.summary)
        .location(e.location)
        .description(e.description)
        .append_property(
            Property::new("ORGANIZER", format!("mailto:{}", e.organiser.1)).add_parameter("CN", e.organiser.0).done(),
        )
        .append_property(
            Property::new("ATTENDEE", format!("mailto:{}", e.attendee))
                .add_parameter("ROLE", "REQ-PARTICIPANT")
                .add_parameter("PARTSTAT", if method == Method::Cancel { "DECLINED" } else { "ACCEPTED" })
                .add_parameter("RSVP", "FALSE")
                .done(),
        );
    if let Some(u) = e.url {
        event.url(u);
    }
    event.status(if method == Method::Cancel { EventStatus::Cancelled } else { EventStatus::Confirmed });
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Trellis//Events//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", method.as_str()))
        .push(event.done());
    cal.to_string()
}

/// When a feed's entry happens: a time span, or a whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Between(DateTime<Utc>, DateTime<Utc>),
    Day(chrono::NaiveDate),
}

/// An entry of a calendar feed.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    /// Stable for the entry (a calendar that fetches the feed again updates it in place).
    pub uid: String,
    pub when: When,
    pub summary: String,
    pub description: String,
    pub location: String,
    pub url: Option<String>,
}

/// A calendar feed (METHOD:PUBLISH) named `name`, which calendars subscribed to it fetch again
/// every few hours, holding `entries`.
pub fn feed(name: &str, entries: &[FeedEntry]) -> String {
    let mut cal = Calendar::empty();
    cal.append_property(Property::new("VERSION", "2.0"))
        .append_property(Property::new("PRODID", "-//Trellis//Learning calendar//EN"))
        .append_property(Property::new("CALSCALE", "GREGORIAN"))
        .append_property(Property::new("METHOD", "PUBLISH"))
        .append_property(Property::new("X-WR-CALNAME", name))
        .append_property(Property::new("NAME", name))
        .append_property(Property::new("REFRESH-INTERVAL", "PT6H").add_parameter("VALUE", "DURATION").done())
        .append_property(Property::new("X-PUBLISHED-TTL", "PT6H"));
    let stamp = Utc::now();
    for e in entries {
        let mut event = icalendar::Event::new();
        event.uid(&e.uid).timestamp(stamp).summary(&e.summary).description(&e.description);
        match e.when {
            When::Between(from, to) => {
                event.starts(from).ends(to);
            }
            When::Day(day) => {
                event.all_day(day);
            }
        }
        if !e.location.is_empty() {
            event.location(&e.location);
        }
        if let Some(u) = &e.url {
            event.url(u);
        }
        cal.push(event.done());
    }
    cal.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(sequence: u32) -> CalendarEvent<'static> {
        CalendarEvent {
            uid: "0193-event@northmoor.example",
            sequence,
            starts: "2027-01-12T09:30:00Z".parse().unwrap(),
            ends: "2027-01-12T12:00:00Z".parse().unwrap(),
            summary: "Basic life support; (adults), part 1",
            location: "Education Centre, Room 2",
            description: "Bring your badge.\nWear comfortable clothes.",
            url: Some("https://northmoor.example/learn/x"),
            organiser: ("Northmoor NHS Trust", "training@northmoor.example"),
            attendee: "amara@northmoor.example",
        }
    }

    #[test]
    fn an_invitation_and_its_cancellation_share_the_uid_and_the_cancellation_is_newer() {
        let invite = ics(Method::Request, &sample(0));
        let cancel = ics(Method::Cancel, &sample(2));
        for (text, method, seq, status) in
            [(&invite, "REQUEST", "0", "CONFIRMED"), (&cancel, "CANCEL", "2", "CANCELLED")]
        {
            assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
            assert!(text.contains(&format!("METHOD:{method}\r\n")), "{text}");
            assert!(text.contains("UID:0193-event@northmoor.example\r\n"), "{text}");
            assert!(text.contains(&format!("SEQUENCE:{seq}\r\n")), "{text}");
            assert!(text.contains(&format!("STATUS:{status}\r\n")), "{text}");
            assert!(text.contains("DTSTART:20270112T093000Z\r\n") && text.contains("DTEND:20270112T120000Z\r\n"));
            assert!(text.contains("ORGANIZER;CN=Northmoor NHS Trust:mailto:training@northmoor.example"), "{text}");
        }
        // Text is escaped as RFC 5545 says (commas, semicolons, new lines).
        assert!(invite.contains("SUMMARY:Basic life support\\; (adults)\\, part 1"), "{invite}");
        assert!(invite.contains("Bring your badge.\\nWear comfortable clothes."), "{invite}");
    }
}
