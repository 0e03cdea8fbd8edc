//! HTTP clients for URLs a trust supplies: redirects off, and every host name resolved here, with
//! loopback, private, link-local and unique-local answers thrown away at connect time (so a name
//! that answers differently the second time, DNS rebinding, gains nothing). Literal addresses
//! never reach a resolver: [`trellis_domain::outbound::check_url`] refuses them first.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::time::Duration;
use trellis_domain::outbound::is_public;

/// Resolves with the system's resolver, keeping only public addresses (all of them when
/// `allow_local`, the development setting, which also honours `hosts`).
#[derive(Debug, Clone, Default)]
pub struct GuardedResolver {
    pub allow_local: bool,
    /// Names resolved to these addresses without asking (development only).
    pub hosts: std::sync::Arc<std::collections::BTreeMap<String, std::net::IpAddr>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_local = self.allow_local;
        let host = name.as_str().to_owned();
        let fixed = if allow_local { self.hosts.get(&host).copied() } else { None };
        Box::pin(async move {
            if let Some(ip) = fixed {
                let addrs: Addrs = Box::new(std::iter::once(SocketAddr::new(ip, 0)));
                return Ok(addrs);
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allow_local || is_public(a.ip())).collect();
            if kept.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// A client for trust-supplied URLs: no redirects, the guarded resolver, a time-out.
pub fn client(allow_local: bool, timeout: Duration) -> anyhow::Result<reqwest::Client> {
    client_with_hosts(allow_local, Default::default(), timeout)
}

/// [`client`], with development `hosts` (names resolved to fixed addresses; only when
/// `allow_local`).
pub fn client_with_hosts(
    allow_local: bool,
    hosts: std::collections::BTreeMap<String, std::net::IpAddr>,
    timeout: Duration,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver { allow_local, hosts: std::sync::Arc::new(hosts) })
        .no_proxy()
        .timeout(timeout)
        .build()?)
}
