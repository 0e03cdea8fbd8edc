//! A real DNS server on loopback (`tests/peers/dns_server.py`, dnslib from PyPI) whose TXT
//! records a test sets as it goes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The running server and its records.
pub struct DnsPeer {
    pub addr: SocketAddr,
    records: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl DnsPeer {
    /// Starts the server and waits until it listens.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = dir.path().join("records.json");
        std::fs::write(&records, "{}").expect("records");
        let mut child = tokio::process::Command::new("python3")
            .arg(crate::repo_root().join("tests/peers/dns_server.py"))
            .env("DNS_PORT", "0")
            .env("DNS_RECORDS", &records)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the DNS peer (scripts/install-test-deps.sh installs dnslib)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(p) = line.strip_prefix("DNS_PORT=") {
                    return p.trim().parse::<u16>().ok();
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("the DNS peer did not start");
        Self { addr: SocketAddr::from(([127, 0, 0, 1], port)), records, _dir: dir, _child: child }
    }

    /// Publishes TXT `values` at `name` (replacing what was there).
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        let raw = std::fs::read_to_string(&self.records).unwrap_or_default();
        let mut all: BTreeMap<String, Vec<String>> = serde_json::from_str(&raw).unwrap_or_default();
        let key = format!("{}.", name.trim_end_matches('.').to_lowercase());
        all.insert(key, values.iter().map(|v| (*v).to_owned()).collect());
        std::fs::write(&self.records, serde_json::to_string(&all).expect("json")).expect("write records");
    }
}
