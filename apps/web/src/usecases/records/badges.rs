//! Open Badges 3.0 credentials (1EdTech): one for each completion, and one for each badge a trust
//! awards (engagement), signed as a VC-JWT with EdDSA (Ed25519) by the trust.
//!
//! Each trust's signing key is derived from the operator key (`secrets.key`) and the trust's id
//! (so every instance has it, and it never needs storing); its public half is published as a JWKS
//! at `https://<trust>/.well-known/jwks.json`, with the keys derived from any retired operator key
//! after it, so credentials signed before a rotation still verify. The issuer's profile is at
//! `https://<trust>/badges/issuer`. Anyone can check a credential with any JOSE library.

use crate::context::AppState;
use crate::error::AppError;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use trellis_domain::TenantId;

/// The contexts of an Open Badges 3.0 credential (Verifiable Credentials 2.0).
const CONTEXTS: [&str; 2] =
    ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"];

/// A trust's signing key.
pub struct IssuerKey {
    encoding: EncodingKey,
    /// The public key (32 bytes), base64url.
    x: String,
    /// Its JWK thumbprint (RFC 7638), the key's id.
    pub kid: String,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IssuerKey({})", self.kid)
    }
}

/// The trust's signing key: an Ed25519 key whose seed is derived from the operator key and the
/// trust.
pub fn issuer_key(state: &AppState, tenant: TenantId) -> Result<IssuerKey, AppError> {
    let seeds = state.keyring.derive("open badges ed25519 v2", tenant.as_uuid().as_bytes());
    key_of(seeds.first().copied().unwrap_or_default())
}

/// The trust's keys: the signing key, then those of the retired operator keys (still published).
pub fn issuer_keys(state: &AppState, tenant: TenantId) -> Result<Vec<IssuerKey>, AppError> {
    state.keyring.derive("open badges ed25519 v2", tenant.as_uuid().as_bytes()).into_iter().map(key_of).collect()
}

fn key_of(seed: [u8; 32]) -> Result<IssuerKey, AppError> {
    let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("badge key: {e}")))?;
    let der = pair.to_pkcs8v1().map_err(|e| AppError::Internal(anyhow::anyhow!("badge key: {e}")))?;
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    // RFC 7638: the members crv, kty, x in lexical order, no white space.
    let thumbprint = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
    Ok(IssuerKey { encoding: EncodingKey::from_ed_der(der.as_ref()), x, kid })
}

/// The trust's public keys as a JWKS.
pub fn jwks(keys: &[IssuerKey]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid, "alg": "EdDSA", "use": "sig" }))
        .collect();
    json!({ "keys": keys })
}

/// The issuer's profile (an Open Badges `Profile`).
pub fn issuer_profile(site_url: &str, name: &str, ods: &str) -> Value {
    let base = site_url.trim_end_matches('/');
    json!({
        "@context": CONTEXTS,
        "id": format!("{base}/badges/issuer"),
        "type": ["Profile"],
        "name": name,
        "url": format!("{base}/"),
        "otherIdentifier": [{ "type": ["IdentifierEntry"], "identifier": ods, "identifierType": "identifier" }],
    })
}

/// A completion to credential.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    /// The enrolment and its cycle: the credential's id is derived from them (the same each time).
    pub enrolment: uuid::Uuid,
    pub course: trellis_domain::CourseId,
    pub title: &'a str,
    pub completed_at: DateTime<Utc>,
    /// The learner's email address (kept only as a salted hash in the credential).
    pub email: &'a str,
    pub name: &'a str,
}

/// What a credential says was achieved.
#[derive(Debug, Clone)]
pub struct Achievement<'a> {
    /// Its page (the course's, or the badge's).
    pub id: String,
    /// Open Badges' `achievementType`: `Course`, `Badge`…
    pub kind: &'a str,
    pub name: &'a str,
    pub description: String,
    pub criteria: String,
}

/// An achievement awarded to someone.
#[derive(Debug, Clone)]
pub struct Awarded<'a> {
    /// What the credential's id is derived from (the same each time for the same award).
    pub seed: String,
    pub achievement: Achievement<'a>,
    pub valid_from: DateTime<Utc>,
    /// When it stops being current (a badge for training kept current), if ever.
    pub valid_until: Option<DateTime<Utc>>,
    /// The learner's email address (kept only as a salted hash in the credential).
    pub email: &'a str,
    pub name: &'a str,
}

/// The Open Badges 3.0 credential of a completion (unsigned), and its id.
pub fn credential(site_url: &str, trust: &str, ods: &str, c: &Completion<'_>) -> (String, Value) {
    let base = site_url.trim_end_matches('/');
    let awarded = Awarded {
        seed: format!("{base}/badges/{}/{}", c.enrolment, c.completed_at.timestamp()),
        achievement: Achievement {
            id: format!("{base}/courses/{}", c.course),
            kind: "Course",
            name: c.title,
            description: format!("The course {} at {trust}.", c.title),
            criteria: "Every required session of the course completed (or passed, where it is scored).".into(),
        },
        valid_from: c.completed_at,
        valid_until: None,
        email: c.email,
        name: c.name,
    };
    award_credential(site_url, trust, ods, &awarded)
}

/// The Open Badges 3.0 credential of an award (unsigned), and its id.
pub fn award_credential(site_url: &str, trust: &str, ods: &str, a: &Awarded<'_>) -> (String, Value) {
    let base = site_url.trim_end_matches('/');
    // The same id each time for the same award (a name-based UUID).
    let digest = Sha256::digest(a.seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    let id = format!("urn:uuid:{}", uuid::Builder::from_sha1_bytes(bytes).into_uuid());
    // The recipient by a salted hash of their email address (Open Badges' IdentityObject).
    let salt = hex::encode(&Sha256::digest(format!("{id} salt").as_bytes())[..8]);
    let hash = hex::encode(Sha256::digest(format!("{}{salt}", a.email.to_lowercase()).as_bytes()));
    let mut vc = json!({
        "@context": CONTEXTS,
        "id": id,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": issuer_profile(site_url, trust, ods).as_object().map(|m| {
            let mut m = m.clone();
            m.remove("@context");
            Value::Object(m)
        }),
        "validFrom": a.valid_from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "name": a.achievement.name,
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": a.name,
            "identifier": [{
                "type": "IdentityObject", "identityHash": format!("sha256${hash}"),
                "identityType": "emailAddress", "hashed": true, "salt": salt,
            }],
            "achievement": {
                "id": a.achievement.id,
                "type": ["Achievement"],
                "achievementType": a.achievement.kind,
                "name": a.achievement.name,
                "description": a.achievement.description,
                "criteria": { "narrative": a.achievement.criteria },
                "creator": { "id": format!("{base}/badges/issuer"), "type": ["Profile"], "name": trust },
            },
        },
    });
    if let (Some(until), Some(map)) = (a.valid_until, vc.as_object_mut()) {
        map.insert("validUntil".into(), json!(until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
    }
    (id, vc)
}

/// The credential signed as a VC-JWT (Open Badges 3.0 §8.2): the JOSE header names the key by
/// its URL; `iss`, `jti`, `nbf` and `sub`-free claims repeat the credential's.
pub fn sign(
    key: &IssuerKey,
    site_url: &str,
    id: &str,
    vc: &Value,
    valid_from: DateTime<Utc>,
) -> Result<String, AppError> {
    let base = site_url.trim_end_matches('/');
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("JWT".into());
    header.kid = Some(format!("{base}/.well-known/jwks.json#{}", key.kid));
    let mut claims = vc.as_object().cloned().unwrap_or_default();
    claims.insert("iss".into(), json!(format!("{base}/badges/issuer")));
    claims.insert("jti".into(), json!(id));
    claims.insert("nbf".into(), json!(valid_from.timestamp()));
    claims.insert("iat".into(), json!(Utc::now().timestamp()));
    // A credential that stops being current says so to JOSE libraries too.
    if let Some(until) = vc.get("validUntil").and_then(Value::as_str).and_then(|u| DateTime::parse_from_rfc3339(u).ok())
    {
        claims.insert("exp".into(), json!(until.timestamp()));
    }
    jsonwebtoken::encode(&header, &Value::Object(claims), &key.encoding)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a badge: {e}")))
}
