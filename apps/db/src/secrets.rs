//! Secrets at rest: envelope encryption of the secrets admins enter (a trust's single sign-on
//! client secret, a learner's ePortfolio credentials). Each value gets its own random data key;
//! the value is sealed with it (AES-256-GCM, bound to what the value is for, so a sealed value
//! copied to another row or trust does not open), and the data key is wrapped by the operator key
//! from configuration (`secrets.key`). Rotating the operator key re-wraps the data keys and leaves
//! the values as they are (`trellis keys rotate`).
//!
//! A sealed value reads `tk1.<key id>.<wrapped data key>.<sealed value>` (the last two base64url):
//! the key id (a hash of the operator key) says which operator key wrapped it, so keys named in
//! `secrets.retired_keys` still open what they wrapped until it is rotated.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};
use trellis_domain::config::{SecretsConfig, hex_bytes};

const PREFIX: &str = "tk1";
const WRAP_AAD: &[u8] = b"trellis data key";

/// An operator key and its id.
struct Kek {
    id: String,
    key: LessSafeKey,
    raw: [u8; 32],
}

impl Kek {
    fn new(raw: &[u8; 32]) -> Kek {
        let id = hex::encode(&Sha256::digest([b"trellis operator key id ".as_slice(), raw].concat())[..8]);
        // A 32-byte key is always a valid AES-256 key.
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw).unwrap_or_else(|_| unreachable!("32 bytes")));
        Kek { id, key, raw: *raw }
    }
}

/// The operator keys: the current one (seals and re-wraps) and retired ones (open only).
pub struct Keyring {
    current: Kek,
    retired: Vec<Kek>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("current", &self.current.id).field("retired", &self.retired.len()).finish()
    }
}

/// Why a value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "the secret was sealed with an operator key that is not configured (key id {0}): add it to secrets.retired_keys"
    )]
    UnknownKey(String),
    #[error("the secret does not open: it was changed, or sealed for something else")]
    Damaged,
    #[error("the secret is not a sealed value")]
    NotSealed,
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut buf = plain.to_vec();
    // Sealing in memory with a fresh nonce does not fail.
    let _ = key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut buf);
    [nonce.as_slice(), &buf].concat()
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
    if sealed.len() <= NONCE_LEN {
        return Err(SecretError::Damaged);
    }
    let (n, rest) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| SecretError::Damaged)?;
    let mut buf = rest.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).map_err(|_| SecretError::Damaged)?;
    Ok(plain.to_vec())
}

impl Keyring {
    /// A keyring of these operator keys.
    pub fn new(current: [u8; 32], retired: &[[u8; 32]]) -> Keyring {
        Keyring { current: Kek::new(&current), retired: retired.iter().map(Kek::new).collect() }
    }

    /// The keyring configuration names: `secrets.key`, or (when empty) the key kept in
    /// `secrets.key_file` (`secrets.key` in the data directory when that is empty too), made on
    /// first use; and `secrets.retired_keys`.
    pub fn from_config(c: &SecretsConfig, data_dir: &str) -> anyhow::Result<Keyring> {
        let parse = |name: &str, v: &str| -> anyhow::Result<[u8; 32]> {
            hex_bytes(v.trim())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| anyhow::anyhow!("{name} must be 64 hex characters (32 bytes)"))
        };
        let current = if c.key.is_empty() {
            let path = if c.key_file.is_empty() {
                std::path::Path::new(data_dir).join("secrets.key")
            } else {
                std::path::PathBuf::from(&c.key_file)
            };
            let path = path.as_path();
            match std::fs::read_to_string(path) {
                Ok(text) => parse(&format!("the key in {}", path.display()), &text)?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let key: [u8; 32] = rand::random();
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)?;
                    }
                    write_private(path, &hex::encode(key))?;
                    tracing::info!(file = %path.display(), "made an operator key for secrets at rest");
                    key
                }
                Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
            }
        } else {
            parse("secrets.key", &c.key)?
        };
        let retired = c
            .retired_keys
            .iter()
            .enumerate()
            .map(|(i, k)| parse(&format!("secrets.retired_keys[{i}]"), k))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Keyring::new(current, &retired))
    }

    /// Keys derived from the operator keys for `label` and `context` (HKDF-SHA256), the current
    /// key's first and then each retired one's: for keys that must be the same on every instance
    /// and never stored, whose public halves stay published while the key they came from is
    /// retired (the trusts' Open Badges signing keys).
    pub fn derive(&self, label: &str, context: &[u8]) -> Vec<[u8; 32]> {
        use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
        std::iter::once(&self.current)
            .chain(self.retired.iter())
            .map(|k| {
                let mut out = [0u8; 32];
                let info = [context];
                // Expanding 32 bytes from SHA-256's HKDF cannot fail.
                if let Ok(okm) = Salt::new(HKDF_SHA256, label.as_bytes()).extract(&k.raw).expand(&info, HKDF_SHA256) {
                    let _ = okm.fill(&mut out);
                }
                out
            })
            .collect()
    }

    /// The current operator key's id.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plain` for `purpose` (what it is and whose: "sso client secret <trust id>").
    pub fn seal(&self, purpose: &str, plain: &str) -> String {
        let data_key: [u8; 32] = rand::random();
        let dk =
            LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &data_key).unwrap_or_else(|_| unreachable!("32 bytes")));
        let value = seal_with(&dk, purpose.as_bytes(), plain.as_bytes());
        let wrapped = seal_with(&self.current.key, WRAP_AAD, &data_key);
        format!("{PREFIX}.{}.{}.{}", self.current.id, B64.encode(wrapped), B64.encode(value))
    }

    /// Whether `v` is a sealed value (of any operator key).
    pub fn is_sealed(v: &str) -> bool {
        v.starts_with("tk1.") && v.split('.').count() == 4
    }

    /// Whether `v` is sealed under the current operator key.
    pub fn is_current(&self, v: &str) -> bool {
        Self::is_sealed(v) && v.split('.').nth(1) == Some(self.current.id.as_str())
    }

    fn parts<'a>(&self, v: &'a str) -> Result<(&Kek, Vec<u8>, &'a str), SecretError> {
        let mut it = v.split('.');
        let (Some(PREFIX), Some(id), Some(wrapped), Some(value), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(SecretError::NotSealed);
        };
        let kek = std::iter::once(&self.current)
            .chain(self.retired.iter())
            .find(|k| k.id == id)
            .ok_or_else(|| SecretError::UnknownKey(id.to_owned()))?;
        let wrapped = B64.decode(wrapped).map_err(|_| SecretError::Damaged)?;
        Ok((kek, open_with(&kek.key, WRAP_AAD, &wrapped)?, value))
    }

    /// Opens a value sealed for `purpose`.
    pub fn open(&self, purpose: &str, sealed: &str) -> Result<String, SecretError> {
        let (_, data_key, value) = self.parts(sealed)?;
        let dk = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &data_key).map_err(|_| SecretError::Damaged)?);
        let value = B64.decode(value).map_err(|_| SecretError::Damaged)?;
        String::from_utf8(open_with(&dk, purpose.as_bytes(), &value)?).map_err(|_| SecretError::Damaged)
    }

    /// The same value with its data key wrapped by the current operator key (the value itself is
    /// not opened, so no purpose is needed).
    pub fn rewrap(&self, sealed: &str) -> Result<String, SecretError> {
        let (_, data_key, value) = self.parts(sealed)?;
        let wrapped = seal_with(&self.current.key, WRAP_AAD, &data_key);
        Ok(format!("{PREFIX}.{}.{}.{value}", self.current.id, B64.encode(wrapped)))
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// What a single sign-on client secret is sealed for: the trust's own.
pub fn sso_purpose(tenant: trellis_domain::TenantId) -> String {
    format!("sso client secret {tenant}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_for_its_purpose_only_and_survives_rotation() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let old = Keyring::new(a, &[]);
        let sealed = old.seal("sso client secret T1", "s3cret!");
        assert!(Keyring::is_sealed(&sealed) && !sealed.contains("s3cret"));
        assert_ne!(sealed, old.seal("sso client secret T1", "s3cret!"), "a fresh data key and nonce each time");
        assert_eq!(old.open("sso client secret T1", &sealed).unwrap(), "s3cret!");
        assert!(matches!(old.open("sso client secret T2", &sealed), Err(SecretError::Damaged)), "another trust's row");
        // A new operator key: without the old one named, nothing opens, and says why.
        let new_only = Keyring::new(b, &[]);
        assert!(matches!(new_only.open("sso client secret T1", &sealed), Err(SecretError::UnknownKey(_))));
        // With the old one retired, it opens, and re-wrapping makes it the new key's alone.
        let rotating = Keyring::new(b, &[a]);
        assert!(!rotating.is_current(&sealed));
        let rewrapped = rotating.rewrap(&sealed).unwrap();
        assert!(rotating.is_current(&rewrapped));
        assert_eq!(new_only.open("sso client secret T1", &rewrapped).unwrap(), "s3cret!");
        // A changed byte anywhere is refused.
        let mut damaged = rewrapped.clone().into_bytes();
        let last = damaged.len() - 2;
        damaged[last] = if damaged[last] == b'A' { b'B' } else { b'A' };
        assert!(new_only.open("sso client secret T1", &String::from_utf8(damaged).unwrap()).is_err());
        assert!(matches!(new_only.open("x", "plain text"), Err(SecretError::NotSealed)));
        // Derived keys: the same from the same key, different per context, the retired one's after.
        let d = rotating.derive("badges", b"T1");
        assert_eq!(d, vec![new_only.derive("badges", b"T1")[0], old.derive("badges", b"T1")[0]]);
        assert_ne!(d[0], rotating.derive("badges", b"T2")[0]);
        assert_ne!(d[0], [0u8; 32]);
    }

    #[test]
    fn an_empty_key_is_kept_in_the_key_file_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys").join("secrets.key");
        let c = SecretsConfig { key: String::new(), retired_keys: vec![], key_file: file.display().to_string() };
        let first = Keyring::from_config(&c, "unused").unwrap();
        let sealed = first.seal("p", "v");
        let again = Keyring::from_config(&c, "unused").unwrap();
        let by_dir = Keyring::from_config(
            &SecretsConfig { key_file: String::new(), ..c.clone() },
            &dir.path().display().to_string(),
        )
        .unwrap();
        assert!(
            dir.path().join("secrets.key").is_file() && by_dir.key_id() != first.key_id(),
            "the data directory's own key"
        );
        assert_eq!(again.open("p", &sealed).unwrap(), "v", "the same key the next time");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let bad = SecretsConfig { key: "nothex".into(), ..c };
        assert!(Keyring::from_config(&bad, "unused").unwrap_err().to_string().contains("secrets.key"));
    }
}

/// What `trellis keys rotate` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rotated {
    /// Data keys re-wrapped under the current operator key.
    pub rewrapped: u64,
    /// Secrets found in clear (stored before secrets were sealed) and sealed now.
    pub sealed: u64,
    /// Already under the current key.
    pub current: u64,
    /// Could not be read (sealed by an operator key not configured, or in an earlier format):
    /// left as they are, for their owners to enter again.
    pub unreadable: u64,
}

impl crate::PlatformDb {
    /// Re-wraps every stored secret's data key under the keyring's current operator key (single
    /// sign-on client secrets, ePortfolio secrets, the HR export's password, SSH key and S3
    /// secret), and seals any single sign-on secret still in clear: one transaction across trusts (the named
    /// platform path), audited on the platform's trail.
    pub async fn rotate_secrets(&self, keyring: &Keyring, actor: &str) -> Result<Rotated, crate::DbError> {
        use crate::entities::{portfolio_link, tenant_sso};
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let mut done = Rotated::default();
        let mut next = |v: &str, purpose: &str| -> Option<String> {
            if keyring.is_current(v) {
                done.current += 1;
                None
            } else if Keyring::is_sealed(v) {
                match keyring.rewrap(v) {
                    Ok(n) => {
                        done.rewrapped += 1;
                        Some(n)
                    }
                    Err(_) => {
                        done.unreadable += 1;
                        None
                    }
                }
            } else if purpose.is_empty() {
                done.unreadable += 1;
                None
            } else {
                done.sealed += 1;
                Some(keyring.seal(purpose, v))
            }
        };
        for s in tenant_sso::Entity::find().all(&tx).await? {
            let Some(v) = s.client_secret.clone() else { continue };
            let purpose = sso_purpose(trellis_domain::TenantId::from_uuid(s.tenant_id));
            if let Some(n) = next(&v, &purpose) {
                let mut m: tenant_sso::ActiveModel = s.into();
                m.client_secret = Set(Some(n));
                m.update(&tx).await?;
            }
        }
        for l in portfolio_link::Entity::find().all(&tx).await? {
            // An ePortfolio secret was always sealed: one in an earlier format cannot be re-wrapped.
            if let Some(n) = next(&l.secret_sealed, "") {
                let mut m: portfolio_link::ActiveModel = l.into();
                m.secret_sealed = Set(n);
                m.update(&tx).await?;
            }
        }
        // The secrets of each trust's export of completions to HR (all sealed when stored).
        {
            use sea_orm::{ConnectionTrait, Statement};
            let backend = tx.get_database_backend();
            let rows = tx
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT tenant_id, sftp_password_sealed, ssh_key_sealed, s3_secret_sealed FROM hr_export_settings",
                ))
                .await?;
            for r in rows {
                let tenant: uuid::Uuid = r.try_get("", "tenant_id")?;
                for col in ["sftp_password_sealed", "ssh_key_sealed", "s3_secret_sealed"] {
                    let v: String = r.try_get("", col)?;
                    if v.is_empty() {
                        continue;
                    }
                    if let Some(n) = next(&v, "") {
                        tx.execute_raw(Statement::from_sql_and_values(
                            backend,
                            format!("UPDATE hr_export_settings SET {col} = $1 WHERE tenant_id = $2"),
                            [n.into(), tenant.into()],
                        ))
                        .await?;
                    }
                }
            }
        }
        crate::platform::audit(
            &tx,
            actor,
            "secrets.rotated",
            None,
            format!(
                "operator key {}: {} re-wrapped, {} sealed, {} already current, {} unreadable",
                keyring.key_id(),
                done.rewrapped,
                done.sealed,
                done.current,
                done.unreadable
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(done)
    }
}
