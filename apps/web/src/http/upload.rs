//! Reading a form with files (`multipart/form-data`): text fields into memory (bounded, and
//! checked for characters no form should carry), each file streamed to a temporary file while it
//! is hashed and counted, never held whole in memory, and refused once it passes the service's
//! upload limit.

use crate::error::AppError;
pub use crate::usecases::uploads::Received;
use poem::web::Multipart;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest text field accepted.
const MAX_FIELD: usize = 64 * 1024;
use crate::usecases::uploads::HEAD;

/// A form's text fields and files.
#[derive(Default)]
pub struct Upload {
    pub fields: HashMap<String, String>,
    pub files: HashMap<String, Received>,
}

impl Upload {
    /// A text field ("" if absent).
    pub fn get(&self, k: &str) -> String {
        self.fields.get(k).cloned().unwrap_or_default()
    }
}

/// Reads the form; a file input left empty is skipped. A file over `max_mb` megabytes ends the
/// read with 413.
pub async fn read(mut multipart: Multipart, max_mb: u64) -> Result<Upload, AppError> {
    let max = max_mb * 1024 * 1024;
    let mut form = Upload::default();
    while let Some(field) =
        multipart.next_field().await.map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            let file_name: String =
                file_name.chars().filter(|c| crate::http::middleware::input::acceptable(*c)).take(200).collect();
            if file_name.is_empty() {
                continue;
            }
            let tmp = tempfile::NamedTempFile::new().map_err(|e| AppError::Internal(e.into()))?;
            let mut out = tokio::fs::File::create(tmp.path()).await.map_err(|e| AppError::Internal(e.into()))?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            let mut head = Vec::new();
            let mut reader = field.into_async_read();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = reader
                    .read(&mut buf)
                    .await
                    .map_err(|e| AppError::BadRequest(format!("The upload was cut short: {e}")))?;
                if n == 0 {
                    break;
                }
                let chunk = &buf[..n];
                size += chunk.len() as u64;
                if size > max {
                    return Err(AppError::PayloadTooLarge(format!(
                        "The file is larger than {max_mb} MB, the most this service accepts."
                    )));
                }
                if head.len() < HEAD {
                    head.extend_from_slice(&chunk[..chunk.len().min(HEAD - head.len())]);
                }
                hasher.update(chunk);
                out.write_all(chunk).await.map_err(|e| AppError::Internal(e.into()))?;
            }
            out.flush().await.map_err(|e| AppError::Internal(e.into()))?;
            let sha256 = hex::encode(hasher.finalize());
            form.files.insert(name, Received { tmp, name: file_name, size, sha256, head });
        } else {
            let v = field.text().await.map_err(|e| AppError::BadRequest(format!("The form could not be read: {e}")))?;
            if v.len() > MAX_FIELD {
                return Err(AppError::PayloadTooLarge(format!("The field {name} is too long.")));
            }
            if !v.chars().all(crate::http::middleware::input::acceptable) {
                return Err(AppError::BadRequest(crate::http::middleware::input::field_message(&name)));
            }
            form.fields.insert(name, v);
        }
    }
    Ok(form)
}
