//! One archive of a person's data (a zip of named files), built in memory: the ePortfolio export
//! ("Export my record") builds on it, and so will "download my data".

use crate::error::AppError;
use std::io::Write;
use zip::write::SimpleFileOptions;

/// A zip being built.
pub struct Archive {
    w: zip::ZipWriter<std::io::Cursor<Vec<u8>>>,
    names: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Archive({} files)", self.names.len())
    }
}

impl Default for Archive {
    fn default() -> Self {
        Self::new()
    }
}

impl Archive {
    pub fn new() -> Self {
        Self { w: zip::ZipWriter::new(std::io::Cursor::new(Vec::new())), names: Default::default() }
    }

    /// Adds a file; a name already used gets " (2)", " (3)" … before its extension.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), AppError> {
        let mut unique = name.to_owned();
        let mut n = 2;
        while self.names.contains(&unique) {
            unique = match name.rsplit_once('.') {
                Some((stem, ext)) => format!("{stem} ({n}).{ext}"),
                None => format!("{name} ({n})"),
            };
            n += 1;
        }
        let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        self.w.start_file(unique.as_str(), opts).map_err(|e| AppError::Internal(e.into()))?;
        self.w.write_all(bytes).map_err(|e| AppError::Internal(e.into()))?;
        self.names.insert(unique);
        Ok(())
    }

    /// The zip's bytes.
    pub fn finish(self) -> Result<Vec<u8>, AppError> {
        Ok(self.w.finish().map_err(|e| AppError::Internal(e.into()))?.into_inner())
    }
}

/// A name safe as a file name in an archive: letters, digits, `-` and `_` kept, others `-`.
pub fn file_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(60).collect()
}
