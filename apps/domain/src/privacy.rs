//! Data-protection rights that are rules rather than storage: objection to optional processing.
//!
//! One opt-out model for the platform (UK GDPR article 21, and PECR for marketing email): a
//! person may stop each optional use of their information at any time, from their profile, and
//! every feature that makes such a use reads the same record before it does.

use serde::Serialize;

/// An optional use of a person's information, which they may stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Purpose {
    /// Email bulletins from networks they belong to.
    Bulletins,
    /// Training campaigns (marketing email) from the trusts they belong to.
    Campaigns,
    /// Their learning counted in anonymised research extracts (the published open data).
    Research,
}

impl Purpose {
    pub const ALL: [Purpose; 3] = [Purpose::Bulletins, Purpose::Campaigns, Purpose::Research];

    /// The form field and audit name.
    pub fn key(self) -> &'static str {
        match self {
            Purpose::Bulletins => "bulletins",
            Purpose::Campaigns => "campaigns",
            Purpose::Research => "research",
        }
    }

    pub fn parse(s: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.key() == s)
    }

    /// What stopping it means, in plain English.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Bulletins => "Email bulletins from networks I belong to",
            Purpose::Campaigns => "Emails about training campaigns from organisations I belong to",
            Purpose::Research => "Counting my learning in anonymised research figures published as open data",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Purpose::Bulletins => {
                "Networks' news by email. This service does not send bulletins yet: your choice will apply when it does."
            }
            Purpose::Campaigns => {
                "Emails from your organisations' training teams promoting courses. Every one has a link to stop them. Reminders of training you are required to do are not affected."
            }
            Purpose::Research => {
                "Figures of enrolments and completions by month, with nobody named. Your organisation's own reports still count you."
            }
        }
    }
}

/// Which optional uses a person has stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Objections {
    pub bulletins: bool,
    pub campaigns: bool,
    pub research: bool,
}

impl Objections {
    pub fn objects_to(&self, p: Purpose) -> bool {
        match p {
            Purpose::Bulletins => self.bulletins,
            Purpose::Campaigns => self.campaigns,
            Purpose::Research => self.research,
        }
    }

    /// From the purposes ticked on the form.
    pub fn from_ticked<'a>(ticked: impl IntoIterator<Item = &'a str>) -> Objections {
        let mut o = Objections::default();
        for p in ticked.into_iter().filter_map(Purpose::parse) {
            match p {
                Purpose::Bulletins => o.bulletins = true,
                Purpose::Campaigns => o.campaigns = true,
                Purpose::Research => o.research = true,
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticked_purposes_become_objections_and_unknown_ones_are_ignored() {
        let o = Objections::from_ticked(["research", "campaigns", "nonsense"]);
        assert!(o.research && o.campaigns && !o.bulletins);
        assert!(o.objects_to(Purpose::Research) && !o.objects_to(Purpose::Bulletins));
        assert_eq!(Objections::from_ticked([]), Objections::default());
    }
}
