//! Virus scanning with ClamAV's daemon, clamd, over its INSTREAM protocol (`clamav-client`):
//! the file is streamed to clamd in chunks, so memory stays constant whatever its size.
//!
//! clamd answers `stream: OK`, `stream: <signature> FOUND` or `<reason> ERROR`. A file over one of
//! clamd's size limits comes back as found (`Heuristics.Limits.Exceeded…`) only when clamd runs
//! with `AlertExceedsMax yes`, as the configuration in `deploy/clamav/clamd.conf` does; without
//! it clamd would call such a file clean unscanned. Trellis also refuses, before scanning, any file
//! larger than `uploads.scan_max_mb`, which must not exceed clamd's `StreamMaxLength`.

use std::path::Path;
use std::time::Duration;
use trellis_domain::config::{ScanMode, UploadsConfig};

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// clamd scanned it and found nothing.
    Clean,
    /// clamd found this signature (EICAR's test signature, say).
    Infected(String),
    /// Not scanned: scanning is off, or optional and the scanner could not be reached.
    Unscanned(String),
    /// Scanning is required and the scanner could not be reached or failed: keep the file aside
    /// (not served) and scan it again later.
    Unavailable(String),
    /// Larger than the scanner takes (`uploads.scan_max_mb`) while scanning is required.
    TooLarge { limit_mb: u64 },
}

/// The scanner: where clamd listens and what to do when it cannot answer.
#[derive(Debug, Clone)]
pub struct Scanner {
    mode: ScanMode,
    address: String,
    max_bytes: u64,
    timeout: Duration,
}

enum Answer {
    Clean,
    Found(String),
}

impl Scanner {
    pub fn new(config: &UploadsConfig) -> Scanner {
        Scanner {
            mode: config.scan_mode(),
            address: config.clamd.clone(),
            max_bytes: config.scan_max_mb.saturating_mul(1024 * 1024),
            timeout: Duration::from_secs(config.scan_timeout_secs.max(1)),
        }
    }

    pub fn mode(&self) -> ScanMode {
        self.mode
    }

    /// Scans a file (streamed from disk in 256 KiB chunks). `size` is its length in bytes.
    pub async fn scan_file(&self, path: &Path, size: u64) -> Verdict {
        self.decide(size, async {
            let chunk = Some(256 * 1024);
            if self.address.starts_with('/') {
                let sock = clamav_client::tokio::Socket { socket_path: self.address.as_str() };
                clamav_client::tokio::scan_file(path, sock, chunk).await
            } else {
                let tcp = clamav_client::tokio::Tcp { host_address: self.address.as_str() };
                clamav_client::tokio::scan_file(path, tcp, chunk).await
            }
        })
        .await
    }

    /// Scans bytes held in memory (logos, staff files: small by their own limits).
    pub async fn scan_bytes(&self, bytes: &[u8]) -> Verdict {
        self.decide(bytes.len() as u64, async {
            if self.address.starts_with('/') {
                let sock = clamav_client::tokio::Socket { socket_path: self.address.as_str() };
                clamav_client::tokio::scan_buffer(bytes, sock, None).await
            } else {
                let tcp = clamav_client::tokio::Tcp { host_address: self.address.as_str() };
                clamav_client::tokio::scan_buffer(bytes, tcp, None).await
            }
        })
        .await
    }

    /// Asks clamd whether it is there (`PING`); `Err` says why not.
    pub async fn ping(&self) -> Result<(), String> {
        let answer = tokio::time::timeout(self.timeout, async {
            if self.address.starts_with('/') {
                clamav_client::tokio::ping(clamav_client::tokio::Socket { socket_path: self.address.as_str() }).await
            } else {
                clamav_client::tokio::ping(clamav_client::tokio::Tcp { host_address: self.address.as_str() }).await
            }
        })
        .await
        .map_err(|_| "clamd did not answer in time".to_owned())?
        .map_err(|e| format!("clamd cannot be reached at {}: {e}", self.address))?;
        if answer.starts_with(b"PONG") { Ok(()) } else { Err("clamd gave an unexpected answer".into()) }
    }

    async fn decide(&self, size: u64, scan: impl std::future::Future<Output = std::io::Result<Vec<u8>>>) -> Verdict {
        match self.mode {
            ScanMode::Off => return Verdict::Unscanned("scanning is off".into()),
            ScanMode::Required if size > self.max_bytes => {
                return Verdict::TooLarge { limit_mb: self.max_bytes / (1024 * 1024) };
            }
            ScanMode::Optional if size > self.max_bytes => {
                return Verdict::Unscanned("larger than the scanner takes".into());
            }
            _ => {}
        }
        let answer = match tokio::time::timeout(self.timeout, scan).await {
            // clamd's own limit (StreamMaxLength below `uploads.scan_max_mb`): the file, not the
            // scanner, is the problem, so it is refused rather than held for ever.
            Ok(Ok(bytes)) if String::from_utf8_lossy(&bytes).contains("size limit exceeded") => {
                return match self.mode {
                    ScanMode::Required => Verdict::TooLarge { limit_mb: self.max_bytes / (1024 * 1024) },
                    _ => Verdict::Unscanned("larger than clamd takes".into()),
                };
            }
            Err(_) => Err("clamd did not answer in time".to_owned()),
            Ok(Err(e)) => Err(format!("clamd cannot be reached at {}: {e}", self.address)),
            Ok(Ok(bytes)) => parse(&bytes),
        };
        match answer {
            Ok(Answer::Clean) => Verdict::Clean,
            Ok(Answer::Found(signature)) => Verdict::Infected(signature),
            Err(why) => {
                tracing::warn!(reason = %why, mode = ?self.mode, "virus scan: not scanned");
                match self.mode {
                    ScanMode::Required => Verdict::Unavailable(why),
                    _ => Verdict::Unscanned(why),
                }
            }
        }
    }
}

/// Reads clamd's answer to INSTREAM.
fn parse(bytes: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let rest = text.strip_prefix("stream:").map(str::trim).unwrap_or(text);
    if rest == "OK" {
        Ok(Answer::Clean)
    } else if let Some(signature) = rest.strip_suffix(" FOUND") {
        Ok(Answer::Found(signature.trim().to_owned()))
    } else {
        // "INSTREAM size limit exceeded. ERROR", or anything else: not a verdict.
        Err(format!("clamd could not scan the file: {}", rest.chars().take(200).collect::<String>()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamd_answers_are_read() {
        assert!(matches!(parse(b"stream: OK\0"), Ok(Answer::Clean)));
        assert!(
            matches!(parse(b"stream: Win.Test.EICAR_HDB-1 FOUND\0"), Ok(Answer::Found(s)) if s == "Win.Test.EICAR_HDB-1")
        );
        assert!(matches!(
            parse(b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\0"),
            Ok(Answer::Found(s)) if s.starts_with("Heuristics.Limits.Exceeded")
        ));
        assert!(parse(b"INSTREAM size limit exceeded. ERROR\0").is_err());
        assert!(parse(b"").is_err());
    }
}
