//! A trust's slug: the DNS label that names its sub-site (`<slug>.<base-domain>`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Names no trust may take: they are kept for the platform's own hosts.
pub const RESERVED: &[&str] =
    &["www", "content", "api", "admin", "static", "status", "mail", "metrics", "assets", "localhost"];

/// A validated slug: a lowercase DNS label of 1–63 characters (`a-z`, `0-9`, `-`), not starting or
/// ending with a hyphen, not an internationalised (`xn--`) label and not a reserved name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

/// Why a slug was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("must be 1 to 63 characters long")]
    Length,
    #[error("may contain only lowercase letters a-z, digits and hyphens (found {0:?})")]
    Character(char),
    #[error("must not start or end with a hyphen")]
    Hyphen,
    #[error("must not start with \"xn--\" (internationalised labels are not supported)")]
    Punycode,
    #[error("\"{0}\" is reserved for the platform")]
    Reserved(String),
}

impl Slug {
    /// Validates `s` as a slug.
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        if s.is_empty() || s.len() > 63 {
            return Err(SlugError::Length);
        }
        if let Some(c) = s.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
            return Err(SlugError::Character(c));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(SlugError::Hyphen);
        }
        if s.starts_with("xn--") {
            return Err(SlugError::Punycode);
        }
        if RESERVED.contains(&s) {
            return Err(SlugError::Reserved(s.to_owned()));
        }
        Ok(Self(s.to_owned()))
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "northmoor", "st-helens-2", &"a".repeat(63)] {
            assert!(Slug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_label_or_is_reserved() {
        assert_eq!(Slug::parse(""), Err(SlugError::Length));
        assert_eq!(Slug::parse(&"a".repeat(64)), Err(SlugError::Length));
        assert_eq!(Slug::parse("North"), Err(SlugError::Character('N')));
        assert_eq!(Slug::parse("a.b"), Err(SlugError::Character('.')));
        assert_eq!(Slug::parse("a_b"), Err(SlugError::Character('_')));
        assert_eq!(Slug::parse("-ab"), Err(SlugError::Hyphen));
        assert_eq!(Slug::parse("ab-"), Err(SlugError::Hyphen));
        assert_eq!(Slug::parse("xn--bcher-kva"), Err(SlugError::Punycode));
        for r in ["www", "content", "api", "admin", "static", "status", "mail"] {
            assert_eq!(Slug::parse(r), Err(SlugError::Reserved(r.into())));
        }
    }
}
