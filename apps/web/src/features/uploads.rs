//! The worker's side of held uploads: an upload kept aside while the virus scanner could not be
//! reached is scanned again (retried with back-off while the scanner is still away), then
//! completed as its upload would have been (the package added to its course, the logo set, the
//! staff file made ready to check) or, if infected, deleted and audited.

use crate::context::AppState;
use crate::context::directory::Site;
use crate::features::elearning::upload::{self, ImportError, Source};
use crate::usecases::uploads::{self, Arrival, Scanned, Uploader, delete_held_file, resolved};
use serde_json::json;
use trellis_db::held::{self, Held, Kind, Status};
use trellis_domain::CourseId;
use trellis_domain::tenant_spec::{check_logo, sniff_logo};

/// Scans a held upload again and completes it. `Err` while the scanner is still unavailable (the
/// job is retried); `Ok` once it is resolved either way (or was already).
pub async fn release(state: &AppState, site: &Site, id: uuid::Uuid) -> anyhow::Result<()> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let h = held::by_id(&tx, id).await?;
    tx.commit().await?;
    let Some(h) = h.filter(|h| h.status == Status::Waiting.as_str()) else { return Ok(()) };
    let Some(kind) = h.kind else {
        return finish(state, site, &h, Status::Refused, "This kind of upload is not known", true).await;
    };
    let key = held::file_key(site.entry.id, h.id);
    // A retried job whose package was already added (the worker stopped before recording it).
    if kind == Kind::Package
        && let Ok(course) = h.target.parse::<CourseId>()
    {
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let done = trellis_db::elearning::has_package_since(&tx, course, &h.sha256, h.received_at).await?;
        tx.commit().await?;
        if done {
            return finish(state, site, &h, Status::Released, "Added to the course", true).await;
        }
    }
    let tmp = tempfile::NamedTempFile::new()?;
    let size = state.files.get_to_file(&key, tmp.path()).await?;
    let who = Uploader { person: h.uploaded_by, ..Uploader::default() };
    let outcome =
        match uploads::scan_file(state, site, &who, Arrival::Rescan, kind, &h.file_name, tmp.path(), size).await? {
            Scanned::Pass => Ok(()),
            Scanned::Infected(m) => Err((Status::Infected, m)),
            Scanned::Refuse(m) => Err((Status::Refused, m)),
            Scanned::Hold(why) => anyhow::bail!("the virus scanner is still not available: {why}"),
        };
    match kind {
        Kind::Resource => return crate::features::library::held_scanned(state, site, &h, tmp.path(), outcome).await,
        Kind::Media => return crate::features::authoring::held_scanned(state, site, &h, tmp.path(), outcome).await,
        _ => {}
    }
    if let Err((status, m)) = outcome {
        return finish(state, site, &h, status, &m, true).await;
    }
    match kind {
        Kind::Package => {
            let Ok(course) = h.target.parse::<CourseId>() else {
                return finish(state, site, &h, Status::Refused, "The course is not known", true).await;
            };
            let source = Source::Zip {
                path: tmp.path().to_path_buf(),
                sha: h.sha256.clone(),
                size,
                name: h.file_name.clone(),
                uploader: None,
            };
            match upload::import(state, site, course, source, h.uploaded_by, json!({ "held": h.id.to_string() })).await
            {
                Ok(i) => {
                    let said = format!("Added to the course: {} ({})", i.title, i.standard);
                    finish(state, site, &h, Status::Released, &said, true).await
                }
                Err(ImportError::Refused(m)) => {
                    finish(state, site, &h, Status::Refused, &format!("The package was refused: {m}"), true).await
                }
                Err(ImportError::NotFound) => {
                    finish(state, site, &h, Status::Refused, "The course no longer exists", true).await
                }
                Err(ImportError::ScannerUnavailable) => anyhow::bail!("the virus scanner is still not available"),
                Err(ImportError::Failed(e)) => Err(anyhow::anyhow!("{e}")),
            }
        }
        Kind::Logo => {
            let bytes = tokio::fs::read(tmp.path()).await?;
            let checked = sniff_logo(&bytes).ok_or_else(|| "it is not a PNG or SVG image".to_owned()).and_then(|ct| {
                check_logo(&bytes, ct).map(|kept| (ct, kept)).map_err(|e| format!("it cannot be used: {e}"))
            });
            match checked {
                Ok(logo) => {
                    crate::features::site_admin::set_logo(state, site, h.uploaded_by, Some(logo)).await?;
                    finish(state, site, &h, Status::Released, "The logo is now shown", true).await
                }
                Err(e) => finish(state, site, &h, Status::Refused, &format!("The logo was refused: {e}"), true).await,
            }
        }
        // Kept where it waited: the import page offers to check it.
        Kind::StaffFile => finish(state, site, &h, Status::Released, "Ready to check", false).await,
        // Completed above, by the course editor's and the library's own steps.
        Kind::Media | Kind::Resource => Ok(()),
    }
}

/// Records how a held upload ended (audited), then deletes its file unless it is still needed (a
/// file left by a failed delete is only unused bytes; a row left waiting would be imported again).
async fn finish(
    state: &AppState,
    site: &Site,
    h: &Held,
    status: Status,
    detail: &str,
    delete_file: bool,
) -> anyhow::Result<()> {
    let tx = state.dbs.app.begin(site.entry.id).await?;
    resolved(&tx, h, status, detail).await?;
    tx.commit().await?;
    if delete_file {
        delete_held_file(state, site, h).await;
    }
    Ok(())
}
