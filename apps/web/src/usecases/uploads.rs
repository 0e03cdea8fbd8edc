//! Safe uploads: every upload (e-learning packages, course media, logos, staff files) is scanned
//! for viruses by clamd before it is stored or served (`uploads.scan`).
//!
//! - Clean (or, where scanning is optional or off, not scanned): go on.
//! - Infected: refused with the signature clamd named; audited (`upload.infected`); nothing kept.
//! - Over the scanner's size limit while scanning is required: refused.
//! - Scanner unavailable while scanning is required: the caller keeps the upload aside with
//!   [`hold`] (never served), and the worker scans it again and completes it.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use serde_json::json;
use std::path::Path;
use trellis_db::audit;
use trellis_db::held::{self, Kind, NewHeld};
use trellis_db::transfers::{self, Direction, NewTransfer};
use trellis_domain::PersonId;
use trellis_integrations::scan::Verdict;

/// What to do with an upload after its scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// Store and use it.
    Pass,
    /// Refuse it, with this message for the person (the file is not kept).
    Refuse(String),
    /// A virus was found (audited): refuse it with this message; nothing is kept.
    Infected(String),
    /// Scanning is required and the scanner cannot be reached: keep it aside with [`hold`].
    Hold(String),
}

/// Who sent an upload: the person (none for an API token), their address, and the API token's id.
#[derive(Debug, Clone, Default)]
pub struct Uploader {
    pub person: Option<PersonId>,
    pub ip: String,
    pub api_token: Option<String>,
}

/// Whether a scan is of an upload just received (recorded in the upload and download log) or a
/// held upload scanned again by the worker (already recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    New,
    Rescan,
}

/// Scans a file on disk (`size` bytes), named `name` for messages and the log.
#[allow(clippy::too_many_arguments)] // the upload's facts, as its handler has them
pub async fn scan_file(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    arrival: Arrival,
    kind: Kind,
    name: &str,
    path: &Path,
    size: u64,
) -> Result<Scanned, AppError> {
    let verdict = state.scanner.scan_file(path, size).await;
    judge(state, site, who, arrival, kind, name, size, verdict).await
}

/// How much of a file's start is kept to tell its type by content.
pub const HEAD: usize = 8192;

/// A file received: on disk until it is stored (the temporary file goes when this is dropped).
pub struct Received {
    pub tmp: tempfile::NamedTempFile,
    /// Its name as sent, without control characters, at most 200 characters.
    pub name: String,
    pub size: u64,
    /// SHA-256 of its content, in hex.
    pub sha256: String,
    /// Its first bytes, to tell its type by ([`Received::sniffed`]).
    pub head: Vec<u8>,
}

impl Received {
    /// Its MIME type, read from its content ("" if unknown).
    pub fn sniffed(&self) -> String {
        infer::get(&self.head).map(|t| t.mime_type().to_owned()).unwrap_or_default()
    }
}

/// A file received with a form, scanned and stored ([`scan_and_keep`]).
#[derive(Debug, Clone)]
pub struct Kept {
    /// Where it is: its area, or (while it waits for its scan) the trust's held area.
    pub file: trellis_db::catalogue::StoredFile,
    pub sha256: String,
    /// The held upload's id, while it waits for its virus scan: the caller records it with
    /// [`record_held`] in the transaction that saves what the file is for, and never serves it.
    pub held: Option<uuid::Uuid>,
}

/// Scans a file just received with a form and, if it passes, puts it in the file store at
/// `<trust>/<area>/<sha256>` (the same content is stored once), with its type read from its
/// content. While scanning is required and the scanner is away, it is put in the trust's held
/// area instead, to wait for its scan ([`Kept::held`]). `Err(message)` when it is refused:
/// infected, or too large to scan. Nothing is kept of a refused file.
pub async fn scan_and_keep(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    kind: Kind,
    file: &Received,
    area: &str,
) -> Result<Result<Kept, String>, AppError> {
    let (key, held) =
        match scan_file(state, site, who, Arrival::New, kind, &file.name, file.tmp.path(), file.size).await? {
            Scanned::Pass => (format!("{}/{area}/{}", site.entry.id, file.sha256), None),
            Scanned::Refuse(m) | Scanned::Infected(m) => return Ok(Err(m)),
            Scanned::Hold(_) => {
                let id = uuid::Uuid::now_v7();
                (held::file_key(site.entry.id, id), Some(id))
            }
        };
    state.files.put_file(&key, file.tmp.path()).await.map_err(AppError::Internal)?;
    Ok(Ok(Kept {
        file: trellis_db::catalogue::StoredFile {
            key,
            name: file.name.clone(),
            content_type: file.sniffed(),
            size: i64::try_from(file.size).unwrap_or(i64::MAX),
        },
        sha256: file.sha256.clone(),
        held,
    }))
}

/// Records, in the caller's transaction, that a file kept by [`scan_and_keep`] waits for its
/// virus scan (`target` says what it is for), queues the scan and audits it (`upload.held`).
/// Nothing for a file already scanned. Wake the worker ([`crate::context::queue::wake`]) after
/// the commit.
pub async fn record_held(
    tx: &trellis_db::TenantTx,
    by: Option<PersonId>,
    kind: Kind,
    target: &str,
    kept: &Kept,
) -> Result<(), AppError> {
    let Some(id) = kept.held else { return Ok(()) };
    let size = u64::try_from(kept.file.size).unwrap_or(0);
    let new =
        NewHeld { id, kind, target, file_name: &kept.file.name, bytes: size, sha256: &kept.sha256, uploaded_by: by };
    held::hold(tx, &new).await?;
    audit::record(tx, by, "upload.held", &id.to_string(), None, json!({ "kind": kind.as_str(), "bytes": size }))
        .await?;
    Ok(())
}

/// Scans bytes held in memory (logos and staff files, small by their own limits).
pub async fn scan_bytes(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    kind: Kind,
    name: &str,
    bytes: &[u8],
) -> Result<Scanned, AppError> {
    let verdict = state.scanner.scan_bytes(bytes).await;
    judge(state, site, who, Arrival::New, kind, name, bytes.len() as u64, verdict).await
}

#[allow(clippy::too_many_arguments)] // as scan_file
async fn judge(
    state: &AppState,
    site: &Site,
    who: &Uploader,
    arrival: Arrival,
    kind: Kind,
    name: &str,
    size: u64,
    verdict: Verdict,
) -> Result<Scanned, AppError> {
    let (outcome, scanned) = match verdict {
        Verdict::Clean => ("scanned clean", Scanned::Pass),
        Verdict::Unscanned(why) => {
            tracing::info!(tenant = %site.entry.slug, kind = kind.as_str(), reason = %why, "upload accepted unscanned");
            ("not scanned", Scanned::Pass)
        }
        Verdict::Infected(signature) => {
            let tx = state.dbs.app.begin(site.entry.id).await?;
            audit::record(
                &tx,
                who.person,
                "upload.infected",
                &shown(name),
                None,
                json!({ "kind": kind.as_str(), "signature": signature, "bytes": size }),
            )
            .await?;
            if arrival == Arrival::New {
                log_upload(&tx, who, kind, name, size, "virus found").await?;
            }
            tx.commit().await?;
            return Ok(Scanned::Infected(infected_message(name, &signature)));
        }
        Verdict::TooLarge { limit_mb } => (
            "too large to scan",
            Scanned::Refuse(format!(
                "{} is larger than {limit_mb} MB, the most the virus scanner checks, so it cannot be accepted",
                shown(name)
            )),
        ),
        Verdict::Unavailable(why) => ("waiting for a virus scan", Scanned::Hold(why)),
    };
    if arrival == Arrival::New {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        log_upload(&tx, who, kind, name, size, outcome).await?;
        tx.commit().await?;
    }
    Ok(scanned)
}

/// Records an upload in the upload and download log.
async fn log_upload(
    tx: &trellis_db::TenantTx,
    who: &Uploader,
    kind: Kind,
    name: &str,
    size: u64,
    outcome: &str,
) -> Result<(), AppError> {
    let mut detail = json!({ "outcome": outcome });
    if let Some(t) = &who.api_token {
        detail["api_token"] = json!(t);
    }
    let entry = NewTransfer {
        direction: Direction::Upload,
        what: kind.as_str(),
        person: who.person,
        subject: &shown(name),
        bytes: size,
        ip: &who.ip,
        detail,
    };
    transfers::record(tx, &entry).await?;
    Ok(())
}

/// What the person is told about an infected file.
pub fn infected_message(name: &str, signature: &str) -> String {
    format!("{} contains a virus ({signature}) and was not kept", shown(name))
}

fn shown(name: &str) -> String {
    let n: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
    if n.trim().is_empty() { "The file".into() } else { n }
}

/// Keeps an upload aside until it is scanned: the file goes to the trust's held area (never
/// served), the held row and its scan job are written in one transaction, and it is audited
/// (`upload.held`). Returns the held upload's id.
#[allow(clippy::too_many_arguments)] // the upload's facts, as its handler has them
pub async fn hold(
    state: &AppState,
    site: &Site,
    by: Option<PersonId>,
    kind: Kind,
    target: &str,
    name: &str,
    file: HeldFile<'_>,
    sha256: &str,
) -> Result<uuid::Uuid, AppError> {
    let id = uuid::Uuid::now_v7();
    let key = held::file_key(site.entry.id, id);
    let size = match file {
        HeldFile::Path(p, size) => {
            state.files.put_file(&key, p).await.map_err(AppError::Internal)?;
            size
        }
        HeldFile::Bytes(b) => {
            state.files.put(&key, bytes::Bytes::copy_from_slice(b)).await.map_err(AppError::Internal)?;
            b.len() as u64
        }
    };
    let written = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        held::hold(&tx, &NewHeld { id, kind, target, file_name: &shown(name), bytes: size, sha256, uploaded_by: by })
            .await?;
        audit::record(&tx, by, "upload.held", &id.to_string(), None, json!({ "kind": kind.as_str(), "bytes": size }))
            .await?;
        tx.commit().await?;
        Ok::<_, AppError>(())
    }
    .await;
    if let Err(e) = written {
        let _ = state.files.delete(&key).await;
        return Err(e);
    }
    crate::context::queue::wake(state).await;
    Ok(id)
}

/// The file a held upload keeps: a temporary file of `size` bytes, or bytes in memory.
pub enum HeldFile<'a> {
    Path(&'a Path, u64),
    Bytes(&'a [u8]),
}

/// The upload pages' list of held uploads: waiting, or resolved in the last week.
pub fn held_rows(rows: &[held::Held]) -> Vec<serde_json::Value> {
    let week = chrono::Utc::now() - chrono::Duration::days(7);
    rows.iter()
        .filter(|h| h.status == "waiting" || h.resolved_at.is_some_and(|r| r > week))
        .map(|h| {
            let status = match h.status.as_str() {
                "waiting" => "Waiting for a virus scan",
                "released" => "Scanned: no virus found",
                "infected" => "Virus found: not kept",
                _ => "Refused",
            };
            json!({
                "id": h.id.to_string(),
                "name": h.file_name,
                "received": h.received_at.format("%-d %B %Y, %H:%M UTC").to_string(),
                "waiting": h.status == "waiting",
                "released": h.status == "released",
                "status": status,
                "detail": h.detail,
            })
        })
        .collect()
}

/// What a held upload's second scan found: clean, or how it ended and why.
pub type Rescanned = Result<(), (held::Status, String)>;

/// Records, in the caller's transaction, how a held upload ended (audited once).
pub async fn resolved(
    tx: &trellis_db::TenantTx,
    h: &held::Held,
    status: held::Status,
    detail: &str,
) -> anyhow::Result<()> {
    if held::resolve(tx, h.id, status, detail).await? {
        trellis_db::audit::record(
            tx,
            None,
            "upload.scanned",
            &h.id.to_string(),
            None,
            json!({ "kind": h.kind.map(Kind::as_str), "status": status.as_str() }),
        )
        .await?;
    }
    Ok(())
}

/// Deletes a resolved held upload's file (a file left by a failed delete is only unused bytes).
pub async fn delete_held_file(state: &AppState, site: &Site, h: &held::Held) {
    if let Err(e) = state.files.delete(&held::file_key(site.entry.id, h.id)).await {
        tracing::warn!(error = %e, tenant = %site.entry.slug, held = %h.id, "held upload's file not deleted");
    }
}
