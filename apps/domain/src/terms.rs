//! Terms and policies: versioned documents a person must accept before going on.

use serde::Deserialize;

/// One versioned document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Stable name (`terms`, `privacy`).
    pub key: String,
    pub title: String,
    /// Changing it asks everyone to accept again.
    pub version: String,
    pub body: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformFile {
    document: Vec<Document>,
}

/// Reads the platform's documents (`deploy/terms/platform.toml`).
pub fn load_platform(path: &std::path::Path) -> Result<Vec<Document>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: PlatformFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for d in &file.document {
        let ok_key = !d.key.is_empty() && d.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
        if !ok_key || d.version.trim().is_empty() || d.version.len() > 32 || d.title.trim().is_empty() {
            return Err(format!(
                "{}: document \"{}\" needs a lowercase key, a title and a version of at most 32 characters",
                path.display(),
                d.key
            ));
        }
    }
    Ok(file.document)
}
