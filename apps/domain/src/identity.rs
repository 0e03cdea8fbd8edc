//! People and their roles: the rules for names, email addresses, passwords and professional
//! registration numbers, and what each role in a trust may do.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A role a person holds in one trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Learner,
    /// The trust's administrator: runs the sub-site, approves staff, assigns roles.
    TrainingManager,
    ContentEditor,
    ReportingLead,
    ReportRunner,
    Tutor,
    Moderator,
}

impl Role {
    /// Every role, in the order they are listed to admins.
    pub const ALL: [Role; 7] = [
        Role::Learner,
        Role::TrainingManager,
        Role::ContentEditor,
        Role::ReportingLead,
        Role::ReportRunner,
        Role::Tutor,
        Role::Moderator,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Learner => "learner",
            Role::TrainingManager => "training_manager",
            Role::ContentEditor => "content_editor",
            Role::ReportingLead => "reporting_lead",
            Role::ReportRunner => "report_runner",
            Role::Tutor => "tutor",
            Role::Moderator => "moderator",
        }
    }

    /// The role in words, as people see it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Learner => "Learner",
            Role::TrainingManager => "Training manager",
            Role::ContentEditor => "Content editor",
            Role::ReportingLead => "Reporting lead",
            Role::ReportRunner => "Report runner",
            Role::Tutor => "Tutor",
            Role::Moderator => "Moderator",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person may do in a trust, decided from their roles there. Authorisation lives here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Approve or reject registrations, suspend staff, assign roles.
    ManageStaff,
    /// Read the trust's audit trail.
    ReadAudit,
    /// Edit the sub-site's branding and key messages.
    EditSite,
    /// Set up the trust's single sign-on.
    ManageSignOn,
    /// Author courses, learning paths and programmes, and publish them.
    EditContent,
    /// Assign training, decide enrolment requests, follow compliance, send reminders, import staff.
    ManageTraining,
    /// Issue and revoke the credentials of the trust's learning record store (LRS).
    ManageRecords,
    /// Sell the site's courses in the marketplace: listings, Stripe onboarding, earnings.
    Sell,
    /// Buy from the marketplace: add listings, choose how they are paid for, set the budget.
    BuyCourses,
    /// Issue and revoke the API tokens other systems call the trust's API with.
    ManageIntegrations,
}

/// Whether any of `roles` grants `permission`.
pub fn allows(roles: &[Role], permission: Permission) -> bool {
    roles.iter().any(|r| match permission {
        Permission::ManageStaff
        | Permission::ReadAudit
        | Permission::EditSite
        | Permission::ManageSignOn
        | Permission::ManageTraining
        | Permission::ManageRecords
        | Permission::Sell
        | Permission::BuyCourses
        | Permission::ManageIntegrations => *r == Role::TrainingManager,
        Permission::EditContent => matches!(r, Role::TrainingManager | Role::ContentEditor),
    })
}

/// A normalised email address: trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Checks the shape of an address (`local@domain.tld`, at most 254 characters).
    pub fn parse(raw: &str) -> Result<Email, String> {
        let e = raw.trim().to_lowercase();
        let Some((local, domain)) = e.rsplit_once('@') else {
            return Err("Enter an email address in the correct format, like name@example.nhs.uk".into());
        };
        let domain_ok = crate::host::HostName::parse(domain).is_ok_and(|d| d.as_str().contains('.'));
        if local.is_empty() || local.len() > 64 || e.len() > 254 || !domain_ok || e.chars().any(char::is_whitespace) {
            return Err("Enter an email address in the correct format, like name@example.nhs.uk".into());
        }
        Ok(Email(e))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Passwords people commonly choose; refused whatever their length.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password123",
    "passw0rd",
    "qwerty",
    "qwertyuiop",
    "letmein",
    "welcome",
    "welcome1",
    "iloveyou",
    "admin",
    "abc123",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "111111",
    "000000",
    "monkey",
    "dragon",
    "football",
    "baseball",
    "sunshine",
    "princess",
    "trustno1",
    "changeme",
    "nhsnhsnhs",
    "hospital",
    "summer2026",
    "winter2026",
];

/// The shortest password accepted (NCSC advice favours length: three random words).
pub const MIN_PASSWORD: usize = 12;
/// The longest (argon2 has no limit; this bounds the work an attacker can ask for).
pub const MAX_PASSWORD: usize = 128;

/// Checks a new password: long enough, not common, not made of the person's own details.
pub fn check_password(password: &str, personal: &[&str]) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!("Password must be {MIN_PASSWORD} characters or more: try three random words"));
    }
    if n > MAX_PASSWORD {
        return Err(format!("Password must be {MAX_PASSWORD} characters or fewer"));
    }
    let lower = password.to_lowercase();
    let squeezed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    if COMMON.iter().any(|c| squeezed == *c || squeezed.starts_with(c) && squeezed.len() < c.len() + 4) {
        return Err("Password is too common: choose one that is harder to guess".into());
    }
    let distinct: std::collections::BTreeSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return Err("Password repeats too few characters: choose one that is harder to guess".into());
    }
    for p in personal.iter().map(|p| p.to_lowercase()).filter(|p| p.len() >= 4) {
        if lower.contains(&p) {
            return Err("Password must not contain your name or email address".into());
        }
    }
    Ok(())
}

/// A professional register and a number in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Register {
    /// General Medical Council: 7 digits.
    Gmc,
    /// Nursing and Midwifery Council: PIN like 12A3456E.
    Nmc,
    /// Health and Care Professions Council: 2 letters and 5 or 6 digits, like PA12345.
    Hcpc,
}

impl Register {
    /// From the form's value.
    pub fn parse(s: &str) -> Option<Register> {
        match s {
            "gmc" => Some(Register::Gmc),
            "nmc" => Some(Register::Nmc),
            "hcpc" => Some(Register::Hcpc),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Register::Gmc => "gmc",
            Register::Nmc => "nmc",
            Register::Hcpc => "hcpc",
        }
    }

    /// Normalises and checks a number for this register.
    pub fn check(self, raw: &str) -> Result<String, String> {
        let n: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
        let b = n.as_bytes();
        let ok = match self {
            Register::Gmc => b.len() == 7 && b.iter().all(u8::is_ascii_digit),
            Register::Nmc => {
                b.len() == 8
                    && b[..2].iter().all(u8::is_ascii_digit)
                    && b[2].is_ascii_uppercase()
                    && b[3..7].iter().all(u8::is_ascii_digit)
                    && b[7].is_ascii_uppercase()
            }
            Register::Hcpc => {
                (7..=8).contains(&b.len())
                    && b[..2].iter().all(u8::is_ascii_uppercase)
                    && b[2..].iter().all(u8::is_ascii_digit)
            }
        };
        if ok {
            Ok(n)
        } else {
            Err(match self {
                Register::Gmc => "Enter a GMC number of 7 digits, like 1234567".into(),
                Register::Nmc => "Enter an NMC PIN like 12A3456E".into(),
                Register::Hcpc => "Enter an HCPC number of 2 letters and 5 or 6 digits, like PA12345".into(),
            })
        }
    }
}

/// Whether `s` is an ODS code (3 to 6 uppercase letters and digits).
pub fn is_ods_code(s: &str) -> bool {
    (3..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Jo.Bloggs@Northmoor.Example ").map(|e| e.to_string()),
            Ok("jo.bloggs@northmoor.example".into())
        );
        assert_eq!(Email::parse("jo@northmoor.example").map(|e| e.domain().to_owned()), Ok("northmoor.example".into()));
        for bad in ["", "jo", "jo@", "@x.example", "jo@localhost", "jo bloggs@x.example", "jo@x_y.example"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_and_no_personal_details() {
        assert!(check_password("correct horse battery", &["Jo", "jo@x.example"]).is_ok());
        assert!(check_password("short", &[]).unwrap_err().contains("12 characters"));
        assert!(check_password("Password1234", &[]).unwrap_err().contains("too common"));
        assert!(check_password("aaaaaaaaaaaaaaaa", &[]).unwrap_err().contains("too few"));
        assert!(check_password("bloggsbloggs99!", &["Bloggs"]).unwrap_err().contains("your name"));
        assert!(check_password(&"x1y2z3".repeat(30), &[]).unwrap_err().contains("or fewer"));
    }

    #[test]
    fn professional_numbers_follow_their_register() {
        assert_eq!(Register::Gmc.check("1234567"), Ok("1234567".into()));
        assert!(Register::Gmc.check("123456").is_err());
        assert_eq!(Register::Nmc.check("12a3456e"), Ok("12A3456E".into()));
        assert!(Register::Nmc.check("1234567E").is_err());
        assert_eq!(Register::Hcpc.check("PA 12345"), Ok("PA12345".into()));
        assert_eq!(Register::Hcpc.check("SW123456"), Ok("SW123456".into()));
        assert!(Register::Hcpc.check("P123456").is_err());
    }

    #[test]
    fn only_training_managers_manage_staff() {
        assert!(allows(&[Role::Learner, Role::TrainingManager], Permission::ManageStaff));
        assert!(!allows(&[Role::Learner, Role::Tutor], Permission::ManageStaff));
        assert!(!allows(&[], Permission::ReadAudit));
        assert_eq!(Role::parse("report_runner"), Some(Role::ReportRunner));
        assert_eq!(Role::parse("root"), None);
    }
}
