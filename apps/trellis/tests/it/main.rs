//! The `trellis` command line, run as a process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use trellis_testkit::{TestDb, minimal_tenant, repo_root, write_tenant};

fn trellis(db: &TestDb, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trellis"));
    cmd.args(args)
        .current_dir(repo_root())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRELLIS__DATABASE__URL", &db.owner_url)
        .env("TRELLIS__SERVER__LISTEN", "127.0.0.1:0")
        .env("TRELLIS__SERVER__METRICS_LISTEN", "127.0.0.1:0")
        .env("TRELLIS__LOG__FILTER", "warn");
    cmd
}

fn run(db: &TestDb, args: &[&str]) -> (Output, String, String) {
    let out = trellis(db, args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[tokio::test]
async fn migrate_then_apply_is_idempotent_and_says_what_changed() {
    let db = TestDb::empty().await;
    let (out, stdout, stderr) = run(&db, &["migrate"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("migrate: applied m20261122_000001_platform"), "{stdout}");
    let (_, stdout, _) = run(&db, &["migrate"]);
    assert!(stdout.contains("up to date"));

    let (out, stdout, stderr) = run(&db, &["tenants", "apply", "tenants"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("northmoor: created \"Northmoor Teaching Hospitals NHS Foundation Trust\""), "{stdout}");
    assert!(stdout.contains("northmoor: custom domain learning.northmoor.example added"));
    let (_, stdout, _) = run(&db, &["tenants", "apply", "tenants", "--dry-run"]);
    assert!(stdout.contains("(dry run) riverside: unchanged"), "{stdout}");
    let (_, stdout, _) = run(&db, &["tenants", "apply", "tenants"]);
    assert_eq!(stdout.lines().filter(|l| l.ends_with(": unchanged")).count(), 4, "{stdout}");
}

#[tokio::test]
async fn a_bad_file_is_named_with_its_line_and_field_and_nothing_is_applied() {
    let db = TestDb::empty().await;
    run(&db, &["migrate"]);
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), "good", &minimal_tenant("Good Trust", "XG1", "#003087"));
    write_tenant(dir.path(), "pale", &minimal_tenant("Pale Trust", "XP1", "#a0c4ff"));
    let (out, _, stderr) = run(&db, &["tenants", "apply", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("nothing was applied"), "{stderr}");
    assert!(
        stderr.contains("pale/tenant.toml:8: branding.colours.primary: on_primary #ffffff on primary #a0c4ff has a contrast ratio of 1.77:1; WCAG 2.2 AA needs at least 4.5:1 for text"),
        "{stderr}"
    );
    // The good file was not applied either.
    let config = trellis_testkit::test_config(&db);
    let dbs = trellis_db::connect(&config.database).await.unwrap();
    assert!(dbs.platform.directory_of_all_tenants().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_bad_configuration_names_the_key_and_exits_non_zero() {
    let db = TestDb::new().await;
    let out = trellis(&db, &["migrate"]).env("TRELLIS__SERVER__BASE_DOMAIN", "not a domain").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("configuration key `server.base_domain`"), "{stderr}");
}

#[cfg(unix)]
#[tokio::test]
async fn serve_prints_its_sites_and_stops_gracefully_on_sigterm() {
    let db = TestDb::empty().await;
    run(&db, &["migrate"]);
    run(&db, &["tenants", "apply", "tenants"]);
    let mut child = trellis(&db, &["serve"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(a) = line.trim().strip_prefix("Listening on ") {
            break a.to_owned();
        }
        seen.push(line);
    };
    let port = addr.rsplit(':').next().unwrap();
    assert!(seen.iter().any(|l| l.contains(&format!("http://northmoor.localhost:{port}/"))), "{seen:?}");
    let resp = reqwest::Client::new().get(format!("http://{addr}/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
}
