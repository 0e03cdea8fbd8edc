//! Which addresses the server may fetch from when a URL comes from outside the operator's own
//! configuration (a trust admin's single sign-on issuer, the metadata a provider publishes, and
//! later LRS forwarding and SFTP): `https://` to a public address only. Plain `http://` and
//! loopback, private, link-local and unique-local addresses are allowed only behind the explicit
//! development setting `development.allow_local_network` (tests and the demo set it).
//!
//! A URL's literal address is checked here; a host name's addresses are checked when connecting
//! (the guarded resolver in `trellis-integrations`), so a name that resolves differently the
//! second time (DNS rebinding) is caught too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is an ordinary public internet address: not loopback, private, link-local,
/// unique-local, shared (carrier NAT), unspecified, broadcast, multicast, documentation or
/// benchmarking space, and not one of those wrapped in IPv6 (mapped, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address inside.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                return is_public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
            }
            if s[0] == 0x2002 {
                return is_public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (s[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (s[0] & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0 // "this network"
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240) // reserved
}

/// Why a URL may not be fetched. The message is for the log; people see a generic sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Checks a URL before anything is fetched from it: `https://` (or `http://` with
/// `allow_local`), a host, no user name or password in it, and a literal address that is public
/// (any address with `allow_local`). Names ending `localhost` count as loopback.
pub fn check_url(raw: &str, allow_local: bool) -> Result<url::Url, Refused> {
    let url = url::Url::parse(raw).map_err(|e| Refused(format!("{raw}: not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_local => {}
        other => return Err(Refused(format!("{raw}: the {other} scheme is not allowed (https only)"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused(format!("{raw}: a user name or password in the address")));
    }
    let host = url.host().ok_or_else(|| Refused(format!("{raw}: no host")))?;
    if allow_local {
        return Ok(url);
    }
    match host {
        url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => {
            Err(Refused(format!("{raw}: {ip} is not a public address")))
        }
        url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => {
            Err(Refused(format!("{raw}: {ip} is not a public address")))
        }
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if d == "localhost" || d.ends_with(".localhost") || !d.contains('.') {
                Err(Refused(format!("{raw}: {d} is not a public host name")))
            } else {
                Ok(url)
            }
        }
        _ => Ok(url),
    }
}

/// The origin (`scheme://host[:port]`) of a URL, as browsers compare them.
pub fn origin(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_count_as_public() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(bad.parse().unwrap()), "{bad}");
        }
        for good in ["8.8.8.8", "151.101.1.1", "2a00:1450:4009:81f::200e", "::ffff:8.8.8.8"] {
            assert!(is_public(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn urls_are_https_to_public_hosts_unless_local_is_allowed() {
        assert!(check_url("https://login.example.org/tenant", false).is_ok());
        for bad in [
            "http://login.example.org",
            "http://localhost.evil.example",
            "https://localhost:8443",
            "https://a.localhost",
            "https://127.0.0.1",
            "https://[::1]:9000",
            "https://169.254.169.254/latest",
            "https://10.0.0.5",
            "https://user:pw@login.example.org",
            "ftp://login.example.org",
            "https://intranet",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        assert!(check_url("http://127.0.0.1:4000", true).is_ok());
        assert!(check_url("ftp://127.0.0.1", true).is_err());
        let u = check_url("https://Login.Example.org:443/x/y", false).unwrap();
        assert_eq!(origin(&u), "https://login.example.org");
    }
}
