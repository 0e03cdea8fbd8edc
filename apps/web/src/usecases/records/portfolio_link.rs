//! ePortfolio live links: the learner's ePortfolio LRS credentials kept sealed (secrets at rest:
//! a data key of their own under the operator key), and each completion sent there as an xAPI statement
//! through the guarded client (no redirects, no local addresses outside development).

use crate::context::AppState;
use crate::context::directory::Site;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use trellis_db::portfolio;
use trellis_domain::{CourseId, PersonId};

/// What an ePortfolio secret is sealed for: this person's link at this trust.
fn purpose(tenant: trellis_domain::TenantId, person: PersonId) -> String {
    format!("eportfolio secret {tenant} {person}")
}

/// Seals a learner's ePortfolio secret (secrets at rest: `trellis_db::secrets`).
pub fn seal(state: &AppState, tenant: trellis_domain::TenantId, person: PersonId, plain: &str) -> String {
    state.keyring.seal(&purpose(tenant, person), plain)
}

/// Opens a sealed ePortfolio secret; one sealed in the earlier format (under a key derived from
/// `auth.secret`) still opens while that secret is the same.
pub fn open(
    state: &AppState,
    tenant: trellis_domain::TenantId,
    person: PersonId,
    sealed: &str,
) -> anyhow::Result<String> {
    if trellis_db::secrets::Keyring::is_sealed(sealed) {
        return Ok(state.keyring.open(&purpose(tenant, person), sealed)?);
    }
    let raw = state.launch.derive("portfolio link secrets v1", &[]);
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw).map_err(|_| anyhow::anyhow!("sealing key"))?);
    let bytes = hex::decode(sealed)?;
    anyhow::ensure!(bytes.len() > NONCE_LEN, "a sealed secret too short");
    let (n, rest) = bytes.split_at(NONCE_LEN);
    let mut buf = rest.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| anyhow::anyhow!("nonce"))?;
    let plain =
        key.open_in_place(nonce, Aad::from(b"portfolio"), &mut buf).map_err(|_| anyhow::anyhow!("unsealing"))?;
    Ok(String::from_utf8(plain.to_vec())?)
}

/// The statement of a completion, as the ePortfolio receives it, and its id (the same for the same
/// link and completion, so a retry cannot make a second).
pub fn statement(
    site: &Site,
    link: uuid::Uuid,
    name: &str,
    email: &str,
    course: CourseId,
    title: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> (uuid::Uuid, serde_json::Value) {
    let digest = Sha256::digest(format!("{link} {course} {}", at.timestamp_millis()).as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    let id = uuid::Builder::from_sha1_bytes(b).into_uuid();
    let base = site.url.trim_end_matches('/');
    (
        id,
        json!({
            "id": id.to_string(),
            "actor": { "objectType": "Agent", "name": name, "mbox": format!("mailto:{email}") },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/completed", "display": { "en-GB": "completed" } },
            "object": {
                "objectType": "Activity",
                "id": format!("{base}/courses/{course}"),
                "definition": { "name": { "en-GB": title }, "type": "http://adlnet.gov/expapi/activities/course" },
            },
            "result": { "completion": true },
            "context": { "platform": site.entry.name },
            "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }),
    )
}

/// The outbox job: sends one completion to one link. `Ok` when sent, or when there is nothing to
/// send any more (the link was ended, the person left); an error is retried later.
pub async fn forward(state: &AppState, site: &Site, payload: &serde_json::Value) -> anyhow::Result<()> {
    let parse = |k: &str| payload[k].as_str().unwrap_or_default().to_owned();
    let link: uuid::Uuid = parse("link").parse()?;
    let person: PersonId = parse("person").parse().map_err(|_| anyhow::anyhow!("person"))?;
    let course: CourseId = parse("course").parse().map_err(|_| anyhow::anyhow!("course"))?;
    let at = chrono::DateTime::parse_from_rfc3339(&parse("at"))?.with_timezone(&chrono::Utc);
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let l = portfolio::by_id(&tx, link).await?;
    let who = trellis_db::identity::member_person(&tx, person).await?;
    let title = trellis_db::catalogue::course(&tx, course).await?.map(|c| c.title).unwrap_or_default();
    tx.commit().await?;
    let (Some(l), Some(who)) = (l, who) else { return Ok(()) };
    if l.unlinked_at.is_some() || l.person != person {
        return Ok(());
    }
    let secret = open(state, site.entry.id, person, &l.secret_sealed)?;
    let name = format!("{} {}", who.given_name, who.family_name).trim().to_owned();
    let (id, st) = statement(site, l.id, &name, &who.email, course, &title, at);
    let client = trellis_integrations::outbound::client_with_hosts(
        state.config.development.allow_local_network,
        state.config.development.hosts.clone(),
        std::time::Duration::from_secs(20),
    )?;
    let to = trellis_integrations::xapi_out::Endpoint { url: &l.endpoint, key: &l.username, secret: &secret };
    let result = trellis_integrations::xapi_out::put_statement(&client, &to, id, &st).await;
    let tx = state.dbs.app.begin(site.entry.id).await?;
    portfolio::sent(&tx, l.id, result.as_ref().err().map(|e| e.to_string()).as_deref()).await?;
    tx.commit().await?;
    result
}
