//! Custom-domain verification: a trust admin proves a domain is theirs by publishing a TXT record
//! `_trellis-verify.<domain>` holding `trellis-verify=<token>`. Lookups go to the system's
//! resolver, or to the name servers in configuration (a test's own server on loopback).

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use std::net::SocketAddr;
use std::time::Duration;

/// The name whose TXT records are checked for `domain`.
pub fn challenge_name(domain: &str) -> String {
    format!("_trellis-verify.{domain}")
}

/// The TXT value that proves `token`.
pub fn challenge_value(token: &str) -> String {
    format!("trellis-verify={token}")
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The record holds the token.
    Verified,
    /// Something else (or nothing) is there; the text says what, for the admin.
    NotYet(String),
}

/// Looks up TXT records.
#[derive(Clone)]
pub struct DomainChecker {
    resolver: TokioResolver,
}

impl std::fmt::Debug for DomainChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainChecker").finish_non_exhaustive()
    }
}

impl DomainChecker {
    /// `servers` empty: the system's resolver. Answers are never cached (an admin who has just
    /// added the record must see it at once).
    pub fn new(servers: &[SocketAddr]) -> anyhow::Result<Self> {
        let mut builder = if servers.is_empty() {
            TokioResolver::builder_tokio()?
        } else {
            let mut config = ResolverConfig::new();
            for s in servers {
                config.add_name_server(NameServerConfig::new(*s, Protocol::Udp));
            }
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        };
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = Duration::from_secs(3);
        opts.attempts = 2;
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        Ok(Self { resolver: builder.build() })
    }

    /// Whether `_trellis-verify.<domain>` holds the token.
    pub async fn check(&self, domain: &str, token: &str) -> Check {
        let name = format!("{}.", challenge_name(domain));
        let want = challenge_value(token);
        match self.resolver.txt_lookup(name.as_str()).await {
            Ok(found) => {
                let values: Vec<String> = found
                    .iter()
                    .map(|txt| txt.txt_data().iter().map(|d| String::from_utf8_lossy(d).into_owned()).collect())
                    .collect();
                if values.iter().any(|v| v.trim() == want) {
                    Check::Verified
                } else {
                    Check::NotYet(format!(
                        "The TXT record of {} holds {}, not the value shown here",
                        challenge_name(domain),
                        values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
                    ))
                }
            }
            Err(e) if e.is_no_records_found() => {
                Check::NotYet(format!("There is no TXT record at {} yet", challenge_name(domain)))
            }
            Err(e) => Check::NotYet(format!("The DNS lookup of {} failed: {e}", challenge_name(domain))),
        }
    }
}
