//! `X-Forwarded-Host`, `Forwarded` and `X-Forwarded-For`, believed only from configured proxies.

use ipnet::IpNet;
use poem::Request;
use std::net::IpAddr;

/// The peer's address.
pub fn peer_ip(req: &Request) -> Option<IpAddr> {
    req.remote_addr().as_socket_addr().map(|a| a.ip())
}

fn from_proxy(req: &Request, proxies: &[IpNet]) -> bool {
    peer_ip(req).is_some_and(|ip| proxies.iter().any(|net| net.contains(&ip)))
}

fn forwarded_param<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    // `Forwarded: for=1.2.3.4;host=example.org;proto=https, for=…` — the first element is the client's.
    value.split(',').next()?.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"'))
    })
}

/// The host the client asked for: from a trusted proxy's headers, else `Host` (or the URI's
/// authority, for HTTP/2).
pub fn client_host(req: &Request, proxies: &[IpNet]) -> Option<String> {
    if from_proxy(req, proxies) {
        if let Some(h) = req.header("x-forwarded-host") {
            return h.split(',').next().map(|s| s.trim().to_owned());
        }
        if let Some(h) = req.header("forwarded").and_then(|v| forwarded_param(v, "host")) {
            return Some(h.to_owned());
        }
    }
    req.header("host").map(str::to_owned).or_else(|| req.uri().authority().map(|a| a.to_string()))
}

/// The client's address in an `X-Forwarded-For` chain: the nearest address that is not one of
/// our proxies (walking from the right, as each proxy appends the peer it saw). The leftmost
/// entries are whatever the client chose to send, so they are never believed on their own.
fn forwarded_for(value: &str, proxies: &[IpNet]) -> Option<IpAddr> {
    let chain: Vec<IpAddr> = value.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    chain.iter().rev().find(|ip| !proxies.iter().any(|net| net.contains(*ip))).or(chain.first()).copied()
}

/// The client's address: from a trusted proxy's headers, else the peer.
pub fn client_ip(req: &Request, proxies: &[IpNet]) -> Option<IpAddr> {
    if from_proxy(req, proxies) {
        if let Some(ip) = req.header("x-forwarded-for").and_then(|v| forwarded_for(v, proxies)) {
            return Some(ip);
        }
        if let Some(ip) = req
            .header("forwarded")
            .and_then(|v| forwarded_param(v, "for"))
            .and_then(|s| s.trim_start_matches('[').trim_end_matches(']').parse().ok())
        {
            return Some(ip);
        }
    }
    peer_ip(req)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{forwarded_for, forwarded_param};

    #[test]
    fn the_client_is_the_nearest_address_that_is_not_our_proxy() {
        let proxies: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client sent a made-up first entry; our proxy appended the address it saw.
        assert_eq!(forwarded_for("1.2.3.4, 203.0.113.9", &proxies), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_for("203.0.113.9, 10.0.0.2", &proxies), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(forwarded_for("10.0.0.3", &proxies), Some("10.0.0.3".parse().unwrap()));
        assert_eq!(forwarded_for("junk, 198.51.100.4", &proxies), Some("198.51.100.4".parse().unwrap()));
    }

    #[test]
    fn reads_the_first_forwarded_element() {
        let v = "for=192.0.2.60;proto=http;host=\"a.example\", for=198.51.100.17";
        assert_eq!(forwarded_param(v, "host"), Some("a.example"));
        assert_eq!(forwarded_param(v, "for"), Some("192.0.2.60"));
        assert_eq!(forwarded_param(v, "by"), None);
    }
}
