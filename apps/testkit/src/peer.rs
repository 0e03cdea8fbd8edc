//! Starting a test peer (a script from `tests/peers`) and reading the one line it prints once it
//! listens, like `SMTP_PORT=40123`.

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Runs `program script` with `env` (its stderr to `stderr`), and waits up to `wait` for a stdout
/// line starting with `announce`; returns the process (killed when dropped) and the rest of that
/// line. Panics with `what` if the peer cannot start (`scripts/install-test-deps.sh` installs
/// every peer).
pub async fn spawn(
    program: &str,
    script: &str,
    env: &[(&str, &std::ffi::OsStr)],
    stderr: Stdio,
    announce: &str,
    wait: Duration,
    what: &str,
) -> (tokio::process::Child, String) {
    let mut command = tokio::process::Command::new(program);
    command.arg(crate::repo_root().join(script));
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {what} ({e}; scripts/install-test-deps.sh installs it)"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let value = tokio::time::timeout(wait, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(v) = line.strip_prefix(announce) {
                return Some(v.trim().to_owned());
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| panic!("{what} did not start"));
    (child, value)
}
