//! A real DNS server on loopback (`tests/peers/dns_server.py`, dnslib from PyPI) whose TXT
//! records a test sets as it goes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

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
        let (child, port) = crate::peer::spawn(
            "python3",
            "tests/peers/dns_server.py",
            &[("DNS_PORT", "0".as_ref()), ("DNS_RECORDS", records.as_os_str())],
            Stdio::inherit(),
            "DNS_PORT=",
            Duration::from_secs(20),
            "the DNS peer",
        )
        .await;
        let port = port.parse::<u16>().expect("the DNS peer's port");
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
