//! A real OpenID provider for tests: `tests/peers/oidc/provider.mjs` (oidc-provider from npm) on
//! a loopback port. The user to sign in is chosen by `login_hint`; there is no login page.

use std::process::Stdio;
use std::time::Duration;

/// A running provider, stopped when dropped.
pub struct OidcPeer {
    pub issuer: String,
    pub addr: std::net::SocketAddr,
    child: tokio::process::Child,
}

impl OidcPeer {
    /// Starts the provider with these clients and users (JSON arrays, as the script documents).
    pub async fn start(clients: serde_json::Value, users: serde_json::Value) -> Self {
        let (clients, users) = (clients.to_string(), users.to_string());
        let (child, issuer) = crate::peer::spawn(
            "node",
            "tests/peers/oidc/provider.mjs",
            &[("OIDC_PORT", "0".as_ref()), ("OIDC_CLIENTS", clients.as_ref()), ("OIDC_USERS", users.as_ref())],
            Stdio::null(),
            "OIDC_ISSUER=",
            Duration::from_secs(30),
            "the OpenID provider",
        )
        .await;
        let addr = issuer.trim_start_matches("http://").parse().expect("issuer address");
        Self { issuer, addr, child }
    }

    /// Follows the provider's redirects from an authorization URL, as a browser would, until it
    /// sends the browser back to the client; returns that callback's path and query.
    pub async fn authorize(&self, url: &str) -> String {
        let mut browser = crate::Visitor::new(self.addr, &self.addr.to_string());
        let mut next = url.trim_start_matches(&self.issuer).to_owned();
        for _ in 0..10 {
            let page = browser.get(&next).await;
            let location = page
                .location
                .unwrap_or_else(|| panic!("the provider stopped at {next}: {} {}", page.status, page.body));
            if location.starts_with(&self.issuer) || location.starts_with('/') {
                next = location.trim_start_matches(&self.issuer).to_owned();
            } else {
                let path_at = location.find("/sso/").expect("a redirect back to the client");
                return location[path_at..].to_owned();
            }
        }
        panic!("too many redirects at the provider");
    }
}

impl Drop for OidcPeer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
