//! Delivering a file to a trust's HR system: over SFTP (pure Rust: `russh` and `russh-sftp`) or
//! to an S3 bucket (`object_store`). Both go only to public addresses unless the development
//! setting allows local ones (the same rule as every other server-side fetch a trust configures).
//!
//! SFTP pins the server's host key by its SHA-256 fingerprint (as `ssh-keygen -l` prints it):
//! a server presenting any other key is refused before a password or signature is sent. A file is
//! written as `<name>.part` and renamed when complete, so the HR system never reads half of one.

use anyhow::{Context as _, anyhow, bail};
use futures_util::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt as _, WriteMultipart};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use trellis_domain::outbound::is_public;

/// How long one delivery may take in all.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(600);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// An SFTP server and how to sign in to it.
#[derive(Debug, Clone)]
pub struct SftpTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The folder to write into (relative to the login folder, or absolute).
    pub dir: String,
    /// The pinned host key fingerprint, `SHA256:…`.
    pub host_key: String,
    /// A password, or else `key`.
    pub password: Option<String>,
    /// The private key (OpenSSH format) Trellis made for the trust.
    pub key: Option<String>,
}

/// An S3 bucket and its credentials.
#[derive(Debug, Clone)]
pub struct S3Target {
    pub bucket: String,
    pub prefix: String,
    pub region: String,
    /// Empty for AWS; otherwise an S3-compatible service's address.
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

/// A new SSH key for a trust: (private key in OpenSSH format, public key line to give the HR
/// system's administrators).
pub fn new_ssh_key(comment: &str) -> anyhow::Result<(String, String)> {
    let seed: [u8; 32] = rand::random();
    let pair = russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&seed);
    let mut key = PrivateKey::from(pair);
    key.set_comment(comment);
    let private = key.to_openssh(russh::keys::ssh_key::LineEnding::LF)?.to_string();
    let public = key.public_key().to_openssh()?;
    Ok((private, public))
}

/// A host key fingerprint as entered (`SHA256:…`, with or without the prefix), normalised; None
/// if it is not one.
pub fn fingerprint(entered: &str) -> Option<String> {
    let t = entered.trim();
    let b64 = t.strip_prefix("SHA256:").unwrap_or(t);
    let ok = b64.len() == 43 && b64.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    ok.then(|| format!("SHA256:{b64}"))
}

/// The addresses of `host` this server may connect to.
async fn addresses(host: &str, port: u16, allow_local: bool) -> anyhow::Result<Vec<SocketAddr>> {
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("{host} could not be found"))?
        .filter(|a| allow_local || is_public(a.ip()))
        .collect();
    if found.is_empty() {
        bail!("{host} has no public address");
    }
    Ok(found)
}

struct PinnedHost {
    want: String,
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl russh::client::Handler for PinnedHost {
    type Error = anyhow::Error;

    async fn check_server_key(&mut self, key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else { return Ok(false) };
        let got = key.fingerprint(HashAlg::Sha256).to_string();
        let good = got == self.want;
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(got);
        }
        Ok(good)
    }
}

/// Sends `file` as `name` into the SFTP folder.
pub async fn send_sftp(t: &SftpTarget, allow_local: bool, file: &Path, name: &str) -> anyhow::Result<()> {
    tokio::time::timeout(DELIVERY_TIMEOUT, sftp(t, allow_local, file, name))
        .await
        .map_err(|_| anyhow!("the SFTP delivery took longer than {} minutes", DELIVERY_TIMEOUT.as_secs() / 60))?
}

async fn sftp(t: &SftpTarget, allow_local: bool, file: &Path, name: &str) -> anyhow::Result<()> {
    let want = fingerprint(&t.host_key).ok_or_else(|| anyhow!("the server's host key fingerprint is not set"))?;
    let addrs = addresses(&t.host, t.port, allow_local).await?;
    let socket = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&addrs[..]))
        .await
        .map_err(|_| anyhow!("{}:{} did not answer", t.host, t.port))?
        .with_context(|| format!("{}:{} refused the connection", t.host, t.port))?;
    // Each SFTP write waits for its answer: without this, Nagle's algorithm and delayed
    // acknowledgements hold every small packet back.
    socket.set_nodelay(true).context("the connection could not be set up")?;
    let seen = Arc::new(std::sync::Mutex::new(None));
    let handler = PinnedHost { want: want.clone(), seen: seen.clone() };
    let config =
        Arc::new(russh::client::Config { inactivity_timeout: Some(Duration::from_secs(60)), ..Default::default() });
    let mut session = match russh::client::connect_stream(config, socket, handler).await {
        Ok(s) => s,
        Err(e) => {
            let got = seen.lock().ok().and_then(|s| s.clone());
            return Err(match got {
                Some(got) if got != want => {
                    anyhow!(
                        "the server's host key is {got}, not {want} as the settings say: check with the server's administrators"
                    )
                }
                _ => e.context(format!("the SSH connection to {}:{} failed", t.host, t.port)),
            });
        }
    };
    let auth = match (&t.password, &t.key) {
        (Some(p), _) => session.authenticate_password(&t.user, p).await?,
        (None, Some(k)) => {
            let key = PrivateKey::from_openssh(k).context("the SSH key could not be read")?;
            let hash = session.best_supported_rsa_hash().await?.flatten();
            session.authenticate_publickey(&t.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash)).await?
        }
        (None, None) => bail!("no password or key to sign in with"),
    };
    if !auth.success() {
        bail!(
            "the server refused to let {} sign in (check the user name, and that Trellis's public key or the password is set up there)",
            t.user
        );
    }
    let channel = session.channel_open_session().await?;
    channel.request_subsystem(true, "sftp").await?;
    let sftp =
        russh_sftp::client::SftpSession::new(channel.into_stream()).await.context("the server offers no SFTP")?;
    let dir = t.dir.trim_end_matches('/');
    let path = |n: &str| if dir.is_empty() { n.to_owned() } else { format!("{dir}/{n}") };
    let part = path(&format!("{name}.part"));
    {
        use russh_sftp::protocol::OpenFlags;
        let mut remote = sftp
            .open_with_flags(&part, OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE)
            .await
            .with_context(|| format!("{part} could not be written on the server"))?;
        let mut local = tokio::io::BufReader::with_capacity(1 << 18, tokio::fs::File::open(file).await?);
        tokio::io::copy_buf(&mut local, &mut remote).await.context("the file could not be sent")?;
        remote.flush().await?;
        remote.shutdown().await?;
    }
    // A file of this name is an earlier attempt at this same export (the name is the export's own,
    // and its rows are fixed): replaced by this one.
    let _ = sftp.remove_file(path(name)).await;
    sftp.rename(&part, path(name)).await.with_context(|| format!("{part} could not be renamed to {name}"))?;
    let _ = sftp.close().await;
    let _ = session.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    Ok(())
}

/// Sends `file` as `<prefix><name>` to the bucket.
pub async fn send_s3(t: &S3Target, allow_local: bool, file: &Path, name: &str) -> anyhow::Result<()> {
    tokio::time::timeout(DELIVERY_TIMEOUT, s3(t, allow_local, file, name))
        .await
        .map_err(|_| anyhow!("the S3 delivery took longer than {} minutes", DELIVERY_TIMEOUT.as_secs() / 60))?
}

async fn s3(t: &S3Target, allow_local: bool, file: &Path, name: &str) -> anyhow::Result<()> {
    let mut b = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(&t.bucket)
        .with_region(if t.region.is_empty() { "eu-west-2" } else { &t.region })
        .with_access_key_id(&t.access_key)
        .with_secret_access_key(&t.secret_key);
    if !t.endpoint.is_empty() {
        let url = url::Url::parse(&t.endpoint).context("the S3 address is not a URL")?;
        let host = url.host_str().ok_or_else(|| anyhow!("the S3 address has no host"))?;
        if url.scheme() != "https" && !allow_local {
            bail!("the S3 address must be https");
        }
        // Checked here; the store's own client resolves again (a name that changes its answer in
        // between is not caught: see docs/integration.md).
        addresses(host, url.port_or_known_default().unwrap_or(443), allow_local).await?;
        b = b.with_endpoint(&t.endpoint).with_allow_http(url.scheme() == "http");
    }
    let store = b.build().context("the S3 settings are incomplete")?;
    let key = StorePath::from(format!("{}{name}", t.prefix));
    let upload =
        store.put_multipart(&key).await.with_context(|| format!("{key} could not be written to the bucket"))?;
    let mut writer = WriteMultipart::new(upload);
    let mut reader = tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::open(file).await?, 1 << 20);
    while let Some(chunk) = reader.next().await {
        writer.wait_for_capacity(4).await?;
        writer.write(&chunk?);
    }
    writer.finish().await.with_context(|| format!("{key} could not be written to the bucket"))?;
    // Read back its size, so a delivery is only recorded once the bucket has all of it.
    let meta = store.head(&key).await?;
    let size = tokio::fs::metadata(file).await?.len();
    if meta.size != size {
        bail!("the bucket holds {} bytes of {key}, not {size}", meta.size);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_and_fingerprints_read() {
        let (private, public) = new_ssh_key("trellis northmoor").unwrap();
        assert!(private.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert!(public.starts_with("ssh-ed25519 ") && public.ends_with("trellis northmoor"), "{public}");
        let key = PrivateKey::from_openssh(&private).unwrap();
        let fp = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        assert_eq!(fingerprint(&fp), Some(fp.clone()));
        assert_eq!(fingerprint(fp.trim_start_matches("SHA256:")), Some(fp));
        assert_eq!(fingerprint("MD5:aa:bb"), None);
    }
}
