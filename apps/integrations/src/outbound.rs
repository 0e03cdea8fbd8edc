//! HTTP clients for URLs a trust supplies: redirects off, and every host name resolved here, with
//! loopback, private, link-local and unique-local answers thrown away at connect time (so a name
//! that answers differently the second time, DNS rebinding, gains nothing). Literal addresses
//! never reach a resolver: [`trellis_domain::outbound::check_url`] refuses them first.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::time::Duration;
use trellis_domain::outbound::is_public;

/// Resolves with the system's resolver, keeping only public addresses (all of them when
/// `allow_local`, the development setting).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_local: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_local = self.allow_local;
        let host = name.as_str().to_owned();
        Box::pin(async move {
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
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver { allow_local })
        .no_proxy()
        .timeout(timeout)
        .build()?)
}
