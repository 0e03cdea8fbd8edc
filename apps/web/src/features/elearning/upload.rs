//! A content editor uploads an e-learning package (SCORM 1.2, SCORM 2004, cmi5) to a course.
//!
//! The zip is streamed to a temporary file (size-limited as it arrives), then checked whole
//! before anything is stored: file count, sizes, compression ratios, paths, links, and a manifest
//! that parses and names launch files the zip holds (`trellis_elearning::inspect`). A bad package
//! is refused with the file at fault and what is wrong, and nothing is kept. A good one is
//! unpacked into the file store under the trust's prefix, and only then are the package and one
//! session per SCO or AU written, in one transaction (the files are removed if that fails).

use super::LaunchSpec;
use crate::context::AppState;
use crate::context::directory::Site;
use crate::error::AppError;
use crate::features::learner::course_json;
use crate::http::form::FormErrors;
use crate::http::page::{self, RequestInfo};
use crate::http::{Ctx, Member, may};
use crate::usecases::uploads::{self, Arrival, Scanned, Uploader};
use poem::http::StatusCode;
use poem::web::{CsrfToken, Multipart, Path};
use poem::{Request, Response, handler};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis_db::audit;
use trellis_db::catalogue as cat;
use trellis_db::elearning::{self as db, NewPackage};
use trellis_db::held::{self, Kind};
use trellis_domain::{CourseId, PackageId};
use trellis_elearning::{Limits, Package, Standard};

fn limits(state: &AppState) -> Limits {
    let e = &state.config.elearning;
    Limits { max_files: e.max_package_files, max_total_bytes: e.max_unpacked_mb * 1024 * 1024, ..Limits::default() }
}

async fn form_page(
    state: &AppState,
    site: &Site,
    req: &Request,
    token: &CsrfToken,
    course: CourseId,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tx = state.dbs.app.begin_read(site.entry.id).await?;
    let c = cat::course(&tx, course).await?.filter(|c| !c.national).ok_or(AppError::NotFound)?;
    let packages = db::packages_of(&tx, course).await?;
    let held = held::recent(&tx, Kind::Package, Some(&course.to_string()), 20).await?;
    tx.commit().await?;
    let mut ctx = page::context(
        state,
        Some(site),
        &RequestInfo::of(req),
        "Upload an e-learning package",
        &[("Courses", "/admin/courses"), (&c.title, &format!("/admin/courses/{course}"))],
    );
    let errors: FormErrors = error.into_iter().map(|m| ("file".to_owned(), m)).collect();
    errors.insert_into(&mut ctx);
    ctx.insert("csrf_token", &token.0);
    ctx.insert("course", &course_json(&c));
    ctx.insert("max_package_mb", &state.config.elearning.max_package_mb);
    ctx.insert(
        "packages",
        &packages
            .iter()
            .map(|p| {
                json!({
                    "title": p.title,
                    "standard": p.standard,
                    "edition": p.edition,
                    "files": p.file_count,
                    "size_mb": format!("{:.1}", p.total_bytes as f64 / 1_048_576.0),
                    "uploaded": crate::features::learner::date_words(p.created_at.date_naive()),
                })
            })
            .collect::<Vec<_>>(),
    );
    ctx.insert("held", &uploads::held_rows(&held));
    ctx.insert("progress_js_url", state.themes.asset_url(&site.entry.theme, "js/progress.js"));
    page::render(state, Some(site), "pages/admin_package.html", &ctx, status)
}

/// The upload form, with the packages the course already has.
#[handler]
pub async fn form(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let _me = member.release().await?;
    let id: CourseId = page::path_id(&id)?;
    form_page(state, site, req, token, id, None, StatusCode::OK).await
}

/// An upload streamed to a temporary file: the file, its SHA-256, size and name as sent.
type Received = (tempfile::NamedTempFile, String, u64, String);

/// Streams the upload to a temporary file, at most `max` bytes.
async fn receive(multipart: &mut Multipart, max: u64) -> Result<Option<Received>, String> {
    while let Some(field) = multipart.next_field().await.map_err(|e| format!("The form could not be read: {e}"))? {
        if field.name() != Some("file") {
            let _ = field.bytes().await;
            continue;
        }
        let name: String = field.file_name().unwrap_or_default().chars().take(200).collect();
        if name.is_empty() {
            return Ok(None);
        }
        let tmp = tempfile::NamedTempFile::new().map_err(|e| format!("The upload could not be kept: {e}"))?;
        let mut out =
            tokio::fs::File::create(tmp.path()).await.map_err(|e| format!("The upload could not be kept: {e}"))?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut reader = field.into_async_read();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).await.map_err(|e| format!("The upload was cut short: {e}"))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > max {
                return Err(format!("The package is larger than {} MB, the most this service accepts.", max >> 20));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).await.map_err(|e| format!("The upload could not be kept: {e}"))?;
        }
        out.flush().await.map_err(|e| format!("The upload could not be kept: {e}"))?;
        return Ok(Some((tmp, hex::encode(hasher.finalize()), size, name)));
    }
    Ok(None)
}

/// Checks the package, stores its files, then adds it and its sessions to the course's draft.
#[handler]
pub async fn upload(
    Ctx { req, state, site }: Ctx<'_>,
    member: Member<may::EditContent>,
    token: &CsrfToken,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let me = member.release().await?;
    let course: CourseId = page::path_id(&id)?;
    {
        let tx = state.dbs.app.begin_read(site.entry.id).await?;
        let owned = cat::owns(&tx, course).await?;
        tx.commit().await?;
        if !owned {
            return Err(AppError::NotFound);
        }
    }
    let refuse = |m: String| form_page(state, site, req, token, course, Some(m), StatusCode::BAD_REQUEST);
    let max = state.config.elearning.max_package_mb * 1024 * 1024;
    let (tmp, sha, size, name) = match receive(&mut multipart, max).await {
        Ok(Some(x)) => x,
        Ok(None) => return refuse("Choose a package (a .zip file) to upload".into()).await,
        Err(m) => return refuse(m).await,
    };
    match import(
        state,
        site,
        course,
        Source::Zip {
            path: tmp.path().to_path_buf(),
            sha: sha.clone(),
            size,
            name: name.clone(),
            uploader: Some(crate::http::transfer::uploader(state, req, Some(me.person), None)),
        },
        Some(me.person),
        json!({}),
    )
    .await
    {
        Ok(_) => Ok(page::see_other_saying(
            req,
            &format!("/admin/courses/{course}"),
            "Package uploaded and checked: its sessions are added to the course",
        )),
        Err(ImportError::Refused(m)) => refuse(format!("The package was refused: {m}")).await,
        Err(ImportError::ScannerUnavailable) => {
            let file = uploads::HeldFile::Path(tmp.path(), size);
            uploads::hold(state, site, Some(me.person), Kind::Package, &course.to_string(), &name, file, &sha).await?;
            Ok(page::see_other_saying(
                req,
                &format!("/admin/courses/{course}/package"),
                "Package received: it is waiting for a virus scan, and its sessions are added to the course once it is scanned",
            ))
        }
        Err(ImportError::NotFound) => Err(AppError::NotFound),
        Err(ImportError::Failed(e)) => Err(e),
    }
}

/// What is imported: an uploaded zip (kept in a temporary file), or a bare cmi5 course
/// structure (every AU hosted elsewhere).
pub enum Source {
    /// `name`: the file's name as sent. `uploader`: who sent it, to scan it and log it; `None`
    /// for a held upload the worker has already scanned.
    Zip {
        path: std::path::PathBuf,
        sha: String,
        size: u64,
        name: String,
        uploader: Option<Uploader>,
    },
    CourseStructure(Vec<u8>),
}

/// A package imported into a course's draft.
#[derive(Debug, Clone)]
pub struct Imported {
    pub standard: &'static str,
    pub title: String,
}

/// Why an import did not happen.
#[derive(Debug)]
pub enum ImportError {
    /// The package breaks a rule: the file at fault and what is wrong.
    Refused(String),
    /// The course is not this trust's own.
    NotFound,
    /// Scanning is required and the virus scanner cannot be reached: nothing was kept (the
    /// caller may hold the upload for the worker to scan, or ask for it again later).
    ScannerUnavailable,
    Failed(AppError),
}

/// Checks a package, stores its files, then adds it and its sessions to the course's draft in
/// one transaction (its files are removed again if that fails). `via` is added to the audit
/// entry (an API token's id, say).
pub async fn import(
    state: &AppState,
    site: &Site,
    course: CourseId,
    source: Source,
    by: Option<trellis_domain::PersonId>,
    via: serde_json::Value,
) -> Result<Imported, ImportError> {
    let lim = limits(state);
    let (pkg, zip, sha, size) = match source {
        Source::Zip { path, sha, size, name, uploader } => {
            let verdict = match &uploader {
                None => Scanned::Pass,
                Some(who) => uploads::scan_file(state, site, who, Arrival::New, Kind::Package, &name, &path, size)
                    .await
                    .map_err(ImportError::Failed)?,
            };
            match verdict {
                Scanned::Pass => {}
                Scanned::Refuse(m) | Scanned::Infected(m) => return Err(ImportError::Refused(m)),
                Scanned::Hold(_) => return Err(ImportError::ScannerUnavailable),
            }
            let p = path.clone();
            let checked = tokio::task::spawn_blocking(move || {
                let f = std::fs::File::open(&p).map_err(|e| trellis_elearning::PackageError {
                    file: "the upload".into(),
                    message: e.to_string(),
                })?;
                trellis_elearning::inspect(std::io::BufReader::new(f), &lim)
            })
            .await
            .map_err(|e| ImportError::Failed(AppError::Internal(e.into())))?;
            (checked.map_err(|e| ImportError::Refused(e.to_string()))?, Some(path), sha, size)
        }
        Source::CourseStructure(bytes) => {
            let pkg = trellis_elearning::inspect_course_structure(&bytes, &lim)
                .map_err(|e| ImportError::Refused(e.to_string()))?;
            let sha = hex::encode(Sha256::digest(&bytes));
            (pkg, None, sha, bytes.len() as u64)
        }
    };
    let id = PackageId::new();
    if let Some(path) = &zip
        && let Err(e) = store_files(state, site, id, path, lim).await
    {
        let _ = remove_files(state, site, id, &pkg).await;
        return Err(ImportError::Refused(e.to_string()));
    }
    let (standard, edition) = match &pkg.standard {
        Standard::Scorm12 => ("scorm12", "1.2".to_owned()),
        Standard::Scorm2004 { edition } => ("scorm2004", edition.clone()),
        Standard::Cmi5 => ("cmi5", String::new()),
    };
    let sessions = pkg
        .launchables
        .iter()
        .map(|l| {
            let spec = LaunchSpec { standard: standard.to_owned(), course: pkg.identifier.clone(), item: l.clone() };
            (l.title.chars().take(200).collect::<String>(), serde_json::to_string(&spec).unwrap_or_default())
        })
        .collect();
    let new = NewPackage {
        id,
        course,
        standard: standard.to_owned(),
        edition,
        title: pkg.title.chars().take(300).collect(),
        identifier: pkg.identifier.chars().take(500).collect(),
        file_count: i32::try_from(pkg.files.len()).unwrap_or(i32::MAX),
        total_bytes: i64::try_from(pkg.files.iter().map(|(_, s)| s).sum::<u64>()).unwrap_or(i64::MAX),
        sha256: sha,
        by,
        sessions,
    };
    let count = new.sessions.len();
    let saved = async {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        let added = db::add_package(&tx, &new).await?;
        if added.is_some() {
            let mut detail =
                json!({ "package": id.to_string(), "standard": standard, "sessions": count, "bytes": size });
            if let (Some(d), serde_json::Value::Object(extra)) = (detail.as_object_mut(), via) {
                d.extend(extra);
            }
            audit::record(&tx, by, "package.uploaded", &course.to_string(), None, detail).await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok::<_, trellis_db::DbError>(added)
    }
    .await;
    match saved {
        Ok(Some(_)) => Ok(Imported { standard, title: new.title.clone() }),
        Ok(None) => {
            remove_files(state, site, id, &pkg).await.map_err(|e| ImportError::Failed(AppError::Internal(e)))?;
            Err(ImportError::NotFound)
        }
        Err(e) => {
            let _ = remove_files(state, site, id, &pkg).await;
            Err(ImportError::Failed(e.into()))
        }
    }
}

/// Unpacks the checked zip into the file store: a blocking reader thread hands each file to the
/// async side through a small channel (memory bounded by the largest file and the channel).
async fn store_files(
    state: &AppState,
    site: &Site,
    id: PackageId,
    zip: &std::path::Path,
    lim: Limits,
) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Vec<u8>)>(4);
    let path = zip.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || {
        let f = std::fs::File::open(&path).map_err(|e| anyhow::anyhow!(e))?;
        trellis_elearning::extract(std::io::BufReader::new(f), &lim, |name, bytes| {
            tx.blocking_send((name.to_owned(), bytes)).map_err(|_| "the store stopped".to_owned())
        })
        .map_err(|e| anyhow::anyhow!(e.to_string()))
    });
    while let Some((name, bytes)) = rx.recv().await {
        state.files.put(&db::file_key(site.entry.id, id, &name), bytes.into()).await?;
    }
    reader.await??;
    Ok(())
}

/// Removes what was stored of a package that is not kept.
async fn remove_files(state: &AppState, site: &Site, id: PackageId, pkg: &Package) -> anyhow::Result<()> {
    for (name, _) in &pkg.files {
        state.files.delete(&db::file_key(site.entry.id, id, name)).await?;
    }
    Ok(())
}
