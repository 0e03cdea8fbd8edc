//! Training campaigns (issue 22): what a training manager enters for one, checked, and the words
//! that describe its audience. A campaign promotes one course to an audience of the trust's
//! staff by an email shot, an intranet banner and a landing page.

use serde::{Deserialize, Serialize};

/// Who, within the chosen staff groups and departments, a campaign is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Everyone in them.
    #[default]
    Everyone,
    /// Those whose required training on the campaign's course is overdue.
    Overdue,
    /// Those not enrolled on the campaign's course (nor asking to be).
    NotEnrolled,
}

impl Who {
    pub const ALL: [Who; 3] = [Who::Everyone, Who::Overdue, Who::NotEnrolled];

    pub fn key(self) -> &'static str {
        match self {
            Who::Everyone => "everyone",
            Who::Overdue => "overdue",
            Who::NotEnrolled => "not_enrolled",
        }
    }

    pub fn parse(s: &str) -> Option<Who> {
        Who::ALL.into_iter().find(|w| w.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Who::Everyone => "Everyone",
            Who::Overdue => "Only people overdue on the course",
            Who::NotEnrolled => "Only people not enrolled on the course",
        }
    }
}

/// A campaign's audience: approved members of the trust in any of `staff_groups` or
/// `departments` (everyone when both are empty), narrowed by `who`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Audience {
    #[serde(default)]
    pub staff_groups: Vec<String>,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub who: Who,
}

impl Audience {
    /// "Nurses and midwives, or the Emergency department: only people overdue on the course".
    pub fn words(&self) -> String {
        let mut parts = Vec::new();
        if !self.staff_groups.is_empty() {
            parts.push(format!("staff group {}", or_list(&self.staff_groups)));
        }
        if !self.departments.is_empty() {
            parts.push(format!("department {}", or_list(&self.departments)));
        }
        let base = if parts.is_empty() {
            "All staff".to_owned()
        } else {
            let mut s = format!("Staff in {}", parts.join(", or in "));
            s.truncate(s.trim_end().len());
            s
        };
        match self.who {
            Who::Everyone => base,
            Who::Overdue => format!("{base}, only those overdue on the course"),
            Who::NotEnrolled => format!("{base}, only those not enrolled on the course"),
        }
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// The email's template: its look is the trust's either way; each sets the opening line and the
/// button's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// A new course or campaign.
    #[default]
    Announcement,
    /// A nudge about training that is due.
    Reminder,
    /// The campaign is closing soon.
    LastChance,
}

impl Template {
    pub const ALL: [Template; 3] = [Template::Announcement, Template::Reminder, Template::LastChance];

    pub fn key(self) -> &'static str {
        match self {
            Template::Announcement => "announcement",
            Template::Reminder => "reminder",
            Template::LastChance => "last_chance",
        }
    }

    pub fn parse(s: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.key() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Template::Announcement => "Announcement: something new to tell staff",
            Template::Reminder => "Reminder: training people should do now",
            Template::LastChance => "Last chance: the campaign is closing soon",
        }
    }

    /// The email's opening line.
    pub fn opening(self) -> &'static str {
        match self {
            Template::Announcement => "There is something new for you to learn.",
            Template::Reminder => "This is a reminder about training you should do now.",
            Template::LastChance => "This campaign is closing soon: there is still time to take part.",
        }
    }

    /// The button's words.
    pub fn action(self) -> &'static str {
        match self {
            Template::Announcement => "Find out more",
            Template::Reminder => "Start now",
            Template::LastChance => "Take part now",
        }
    }
}

/// A campaign as entered, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignInput {
    pub name: String,
    pub course: String,
    pub audience: Audience,
    pub template: Template,
    pub subject: String,
    pub message: String,
    pub banner_text: String,
    pub landing_text: String,
    pub window_days: i32,
}

/// The fields of the campaign form, as typed.
#[derive(Debug, Clone, Default)]
pub struct Typed<'a> {
    pub name: &'a str,
    pub course: &'a str,
    pub staff_groups: &'a [String],
    pub departments: &'a [String],
    pub who: &'a str,
    pub template: &'a str,
    pub subject: &'a str,
    pub message: &'a str,
    pub banner_text: &'a str,
    pub landing_text: &'a str,
    pub window_days: &'a str,
}

/// The form's fields, in its order (for the error summary).
pub const FIELDS: &[&str] =
    &["name", "course", "who", "template", "subject", "message", "banner_text", "landing_text", "window_days"];

fn clean(s: &str) -> String {
    s.trim().to_owned()
}

/// Whether `s` holds a control character other than a line break or tab (pasted junk, or an
/// attempt to smuggle a header into an email).
fn has_controls(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
}

impl CampaignInput {
    /// Checks what was typed: `Err` lists each field's problem in plain English.
    pub fn parse(t: &Typed<'_>) -> Result<CampaignInput, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let name = clean(t.name);
        if name.is_empty() || name.chars().count() > 120 || has_controls(&name) {
            errors.push(("name", "Enter the campaign's name (up to 120 characters)".to_owned()));
        }
        if t.course.trim().is_empty() {
            errors.push(("course", "Choose the course the campaign promotes".to_owned()));
        }
        let who = Who::parse(t.who);
        if who.is_none() {
            errors.push(("who", "Choose who the campaign is for".to_owned()));
        }
        let template = Template::parse(t.template);
        if template.is_none() {
            errors.push(("template", "Choose the email's template".to_owned()));
        }
        let subject = clean(t.subject);
        if subject.is_empty()
            || subject.chars().count() > 150
            || subject.contains(['\r', '\n'])
            || has_controls(&subject)
        {
            errors.push(("subject", "Enter the email's subject line (one line, up to 150 characters)".to_owned()));
        }
        let message = clean(t.message);
        if message.is_empty() || message.chars().count() > 4000 || has_controls(&message) {
            errors.push(("message", "Enter the email's message (up to 4,000 characters)".to_owned()));
        }
        let banner_text = clean(t.banner_text);
        if banner_text.is_empty()
            || banner_text.chars().count() > 60
            || banner_text.contains(['\r', '\n'])
            || has_controls(&banner_text)
        {
            errors.push(("banner_text", "Enter the banner's words (one line, up to 60 characters)".to_owned()));
        }
        let landing_text = clean(t.landing_text);
        if landing_text.is_empty() || landing_text.chars().count() > 4000 || has_controls(&landing_text) {
            errors.push(("landing_text", "Enter what the landing page says (up to 4,000 characters)".to_owned()));
        }
        let window_days = match t.window_days.trim().parse::<i32>() {
            Ok(d) if (1..=365).contains(&d) => d,
            _ => {
                errors.push(("window_days", "Enter a number of days from 1 to 365".to_owned()));
                0
            }
        };
        let tidy = |v: &[String]| {
            let mut v: Vec<String> = v.iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            v.sort();
            v.dedup();
            v
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CampaignInput {
            name,
            course: t.course.trim().to_owned(),
            audience: Audience {
                staff_groups: tidy(t.staff_groups),
                departments: tidy(t.departments),
                who: who.unwrap_or_default(),
            },
            template: template.unwrap_or_default(),
            subject,
            message,
            banner_text,
            landing_text,
            window_days,
        })
    }
}

/// The address part a campaign's name gives its landing page: lower-case words joined by
/// hyphens ("Flu season: infection prevention" → `flu-season-infection-prevention`), at most 60
/// characters; `campaign` if nothing is left.
pub fn slug_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= 60 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "campaign".to_owned() } else { out }
}

/// Whether `s` could be a campaign's address part (what [`slug_of`] makes, perhaps with a
/// number after it): checked before any lookup.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 70
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn typed<'a>(groups: &'a [String]) -> Typed<'a> {
        Typed {
            name: " Flu season: infection prevention ",
            course: "c1",
            staff_groups: groups,
            departments: &[],
            who: "overdue",
            template: "reminder",
            subject: "Your infection prevention training",
            message: "Please do it.",
            banner_text: "Beat flu this winter",
            landing_text: "Why it matters.",
            window_days: "30",
        }
    }

    #[test]
    fn a_campaign_is_checked_field_by_field() {
        let groups = vec!["Nursing and Midwifery".to_owned(), " ".to_owned(), "Nursing and Midwifery".to_owned()];
        let c = CampaignInput::parse(&typed(&groups)).unwrap();
        assert_eq!(c.name, "Flu season: infection prevention");
        assert_eq!(c.audience.staff_groups, vec!["Nursing and Midwifery".to_owned()]);
        assert_eq!(c.audience.who, Who::Overdue);
        assert_eq!(c.template, Template::Reminder);
        let mut bad = typed(&[]);
        bad.subject = "Hello\r\nBcc: everyone@example.org";
        bad.window_days = "0";
        bad.who = "nobody";
        bad.banner_text = "";
        let fields: Vec<_> = CampaignInput::parse(&bad).unwrap_err().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["who", "subject", "banner_text", "window_days"]);
    }

    #[test]
    fn audiences_are_described_in_words() {
        let a = Audience {
            staff_groups: vec!["Allied Health Professionals".into(), "Nursing and Midwifery".into()],
            departments: vec!["Emergency".into()],
            who: Who::NotEnrolled,
        };
        assert_eq!(
            a.words(),
            "Staff in staff group Allied Health Professionals or Nursing and Midwifery, or in department Emergency, only those not enrolled on the course"
        );
        assert_eq!(Audience::default().words(), "All staff");
    }

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slug_of("Flu season: infection prevention"), "flu-season-infection-prevention");
        assert_eq!(slug_of("!!!"), "campaign");
        assert!(slug_of(&"a".repeat(200)).len() <= 60);
        assert!(is_slug("flu-season-2") && !is_slug("Flu") && !is_slug("../x") && !is_slug(""));
    }
}
