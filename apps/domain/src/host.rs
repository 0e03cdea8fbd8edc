//! Host names as they arrive in requests and as trusts declare them.

use std::fmt;

/// A normalised host name: lowercase, no port, no trailing dot, each label a valid DNS label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

/// Why a host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("the host is empty")]
    Empty,
    #[error("the host is longer than 253 characters")]
    TooLong,
    #[error("the port is not a number")]
    BadPort,
    #[error("\"{0}\" is not a valid DNS label")]
    BadLabel(String),
}

impl HostName {
    /// Parses a `Host` header value or a declared domain: strips an optional `:port` and a trailing
    /// dot, lowercases, and checks every label.
    pub fn parse(raw: &str) -> Result<Self, HostError> {
        let raw = raw.trim();
        let host = match raw.rsplit_once(':') {
            Some((h, port)) => {
                if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
                    return Err(HostError::BadPort);
                }
                h
            }
            None => raw,
        };
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        if host.is_empty() {
            return Err(HostError::Empty);
        }
        if host.len() > 253 {
            return Err(HostError::TooLong);
        }
        for label in host.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(HostError::BadLabel(label.to_owned()));
            }
        }
        Ok(Self(host))
    }

    /// The host as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// If this host is exactly one label below `base` (`x.base`), that label.
    pub fn label_below<'a>(&'a self, base: &HostName) -> Option<&'a str> {
        let rest = self.0.strip_suffix(base.as_str())?;
        let label = rest.strip_suffix('.')?;
        (!label.is_empty() && !label.contains('.')).then_some(label)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises() -> Result<(), HostError> {
        assert_eq!(HostName::parse("North.Localhost:8080")?.as_str(), "north.localhost");
        assert_eq!(HostName::parse("learning.example.")?.as_str(), "learning.example");
        Ok(())
    }

    #[test]
    fn refuses_malformed_hosts() {
        assert_eq!(HostName::parse(""), Err(HostError::Empty));
        assert_eq!(HostName::parse(":80"), Err(HostError::Empty));
        assert_eq!(HostName::parse("a:b"), Err(HostError::BadPort));
        assert_eq!(HostName::parse("a..b"), Err(HostError::BadLabel(String::new())));
        assert!(matches!(HostName::parse("a b"), Err(HostError::BadLabel(_))));
        assert!(matches!(HostName::parse("evil/x"), Err(HostError::BadLabel(_))));
        assert!(matches!(HostName::parse("[::1]:80"), Err(HostError::BadLabel(_))));
    }

    #[test]
    fn finds_the_label_below_the_base() -> Result<(), HostError> {
        let base = HostName::parse("localhost")?;
        assert_eq!(HostName::parse("a.localhost")?.label_below(&base), Some("a"));
        assert_eq!(HostName::parse("a.b.localhost")?.label_below(&base), None);
        assert_eq!(HostName::parse("localhost")?.label_below(&base), None);
        assert_eq!(HostName::parse("xlocalhost")?.label_below(&base), None);
        Ok(())
    }
}
