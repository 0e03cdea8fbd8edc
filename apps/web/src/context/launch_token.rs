//! Launch tokens: what a package's page on the content origin carries instead of the learner's
//! session.
//!
//! Content runs on its own origin (DESIGN.md §4), which never sees the portal's cookies. What it
//! gets is a token naming one attempt, one launch of it and the trust, signed by the server
//! (HMAC-SHA256 under a key derived from `auth.secret`) and short-lived: it lets the content's
//! runtime read its own files and report on that attempt, and nothing else. A cmi5 AU's LRS
//! credential is the same kind of token naming its cmi5 session.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use trellis_domain::TenantId;
use uuid::Uuid;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The content origin: the runtime page, the package's files and SCORM commits.
    Content = 1,
    /// A cmi5 AU's credential for the trust's LRS (`Authorization: Basic <token>`).
    Lrs = 2,
    /// A bulk email's one-click unsubscribe link: `attempt` is the person, `subject` the mailing.
    Unsubscribe = 3,
}

/// A verified token's claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub purpose: Purpose,
    pub tenant: TenantId,
    pub attempt: Uuid,
    /// The cmi5 session (for [`Purpose::Lrs`]) or the package (for [`Purpose::Content`]).
    pub subject: Uuid,
    /// Which launch of the attempt (1 for the first).
    pub launch: u32,
    /// Unix seconds after which the token is refused.
    pub expires: i64,
}

const VERSION: u8 = 1;
const BODY: usize = 1 + 1 + 16 + 16 + 16 + 4 + 8;
const TAG: usize = 16;

/// Signs and checks tokens.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

impl Signer {
    /// A signer whose key is derived from the server's secret (so it differs from the CSRF key).
    pub fn new(secret: &[u8; 32]) -> Self {
        let mut m = mac(secret);
        m.update(b"trellis launch tokens v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&m.finalize().into_bytes());
        Signer { key }
    }

    /// A value derived from the key and `parts` (HMAC): unpredictable without the key, the same
    /// every time for the same parts (a cmi5 session's id and fetch key, from its launch).
    pub fn derive(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = mac(&self.key);
        m.update(label.as_bytes());
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&m.finalize().into_bytes());
        out
    }

    /// A token carrying `claims`.
    pub fn sign(&self, c: &Claims) -> String {
        let mut body = Vec::with_capacity(BODY + TAG);
        body.push(VERSION);
        body.push(c.purpose as u8);
        body.extend_from_slice(c.tenant.as_uuid().as_bytes());
        body.extend_from_slice(c.attempt.as_bytes());
        body.extend_from_slice(c.subject.as_bytes());
        body.extend_from_slice(&c.launch.to_be_bytes());
        body.extend_from_slice(&c.expires.to_be_bytes());
        let mut m = mac(&self.key);
        m.update(&body);
        body.extend_from_slice(&m.finalize().into_bytes()[..TAG]);
        URL_SAFE_NO_PAD.encode(body)
    }

    /// The claims of a token signed here, for `purpose`, not expired at `now`; `None` otherwise.
    pub fn verify(&self, token: &str, purpose: Purpose, now: i64) -> Option<Claims> {
        if token.len() > 200 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
        if raw.len() != BODY + TAG || raw[0] != VERSION || raw[1] != purpose as u8 {
            return None;
        }
        let (body, tag) = raw.split_at(BODY);
        let mut m = mac(&self.key);
        m.update(body);
        m.verify_truncated_left(tag).ok()?;
        let uuid_at = |i: usize| Uuid::from_slice(&body[i..i + 16]).ok();
        let launch = u32::from_be_bytes(body[50..54].try_into().ok()?);
        let expires = i64::from_be_bytes(body[54..62].try_into().ok()?);
        if expires < now {
            return None;
        }
        Some(Claims {
            purpose,
            tenant: TenantId::from_uuid(uuid_at(2)?),
            attempt: uuid_at(18)?,
            subject: uuid_at(34)?,
            launch,
            expires,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            purpose: Purpose::Content,
            tenant: TenantId::from_uuid(Uuid::now_v7()),
            attempt: Uuid::now_v7(),
            subject: Uuid::now_v7(),
            launch: 3,
            expires: 2_000_000_000,
        }
    }

    #[test]
    fn a_token_round_trips_and_nothing_else_passes() {
        let s = Signer::new(&[7; 32]);
        let c = claims();
        let t = s.sign(&c);
        assert!(t.len() < 120, "{t}");
        assert_eq!(s.verify(&t, Purpose::Content, 1_000), Some(c));
        // Expired, the wrong purpose, another key, any changed byte: refused.
        assert_eq!(s.verify(&t, Purpose::Content, 2_000_000_001), None);
        assert_eq!(s.verify(&t, Purpose::Lrs, 1_000), None);
        assert_eq!(Signer::new(&[8; 32]).verify(&t, Purpose::Content, 1_000), None);
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            assert_eq!(s.verify(&URL_SAFE_NO_PAD.encode(&raw), Purpose::Content, 1_000), None, "byte {i}");
            raw[i] ^= 1;
        }
        assert_eq!(s.verify("", Purpose::Content, 1_000), None);
        assert_eq!(s.verify("not a token at all!", Purpose::Content, 1_000), None);
    }
}
