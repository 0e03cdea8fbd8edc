//! A real S3 API for tests: `tests/peers/s3_server.py` (moto's server) on a loopback port, with
//! the bucket `trellis-test` made.

use std::process::Stdio;
use std::time::Duration;

/// The bucket the peer makes.
pub const BUCKET: &str = "trellis-test";

/// A running S3-compatible server, stopped when dropped.
pub struct S3Peer {
    pub port: u16,
    _child: tokio::process::Child,
}

impl S3Peer {
    pub async fn start() -> Self {
        let (child, port) = crate::peer::spawn(
            "python3",
            "tests/peers/s3_server.py",
            &[("S3_BUCKET", BUCKET.as_ref())],
            Stdio::null(),
            "S3_PORT=",
            Duration::from_secs(30),
            "the S3 server (moto)",
        )
        .await;
        Self { port: port.parse().expect("the S3 server's port"), _child: child }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The keys in the bucket (an unsigned ListObjectsV2; the peer accepts it).
    pub async fn keys(&self) -> Vec<String> {
        let xml = reqwest::get(format!("{}/{BUCKET}?list-type=2", self.endpoint()))
            .await
            .expect("list the bucket")
            .text()
            .await
            .expect("the listing");
        xml.split("<Key>").skip(1).filter_map(|s| s.split("</Key>").next()).map(str::to_owned).collect()
    }
}
