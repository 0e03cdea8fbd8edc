//! A real virus scanner for tests: clamd from Debian's clamav-daemon, started by
//! `tests/peers/clamd.py` on a loopback port with the project's own clamd configuration and a
//! signature database holding the EICAR test signature (these machines cannot fetch ClamAV's).

use std::process::Stdio;
use std::time::Duration;

/// A running clamd, stopped when dropped.
pub struct ClamdPeer {
    pub port: u16,
    _child: tokio::process::Child,
}

impl ClamdPeer {
    pub async fn start() -> Self {
        let (child, port) = crate::peer::spawn(
            "python3",
            "tests/peers/clamd.py",
            &[],
            Stdio::inherit(),
            "CLAMD_PORT=",
            Duration::from_secs(30),
            "the virus scanner (clamd)",
        )
        .await;
        Self { port: port.parse().expect("clamd's port"), _child: child }
    }

    /// `127.0.0.1:<port>`, as `uploads.clamd` takes it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// The EICAR anti-virus test file: harmless, and detected by every scanner as if it were a virus.
/// Assembled from hex so that no source file of the project is itself "infected".
pub fn eicar() -> Vec<u8> {
    let hex = concat!(
        "58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354",
        "414e444152442d414e544956495255532d544553542d46494c452124482b482a"
    );
    hex::decode(hex).expect("hex")
}
