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

/// `trellis serve` starts from a folder laid out exactly as deploy/Containerfile lays out the
/// image (its final stage's COPY lines, the folders it makes, its environment), with nothing else:
/// the image's own configuration, embedded SQLite, no repository beside it. Only the image's root
/// (/srv/trellis) is moved to a temporary folder, and the ports to free ones.
#[cfg(unix)]
#[tokio::test]
async fn serve_starts_from_the_container_images_file_layout() {
    let repo = repo_root();
    let containerfile = std::fs::read_to_string(repo.join("deploy/Containerfile")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let image = "/srv/trellis";
    let relocate = |s: &str| s.replace(image, root.path().to_str().unwrap());
    let final_stage = containerfile.split("\nFROM ").last().unwrap();
    let mut env: Vec<(String, String)> = Vec::new();
    for line in final_stage.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["COPY", src, dst] if !src.starts_with("--from") => {
                let (from, to) = (repo.join(src), root.path().join(dst));
                copy_tree(&from, &to);
                if to.is_file() {
                    // The image's own paths, moved with its root.
                    let text = std::fs::read_to_string(&to).unwrap_or_default();
                    std::fs::write(&to, relocate(&text)).unwrap();
                }
            }
            ["ENV", kv] => {
                let (k, v) = kv.split_once('=').unwrap();
                env.push((k.to_owned(), relocate(v)));
            }
            ["RUN", "mkdir", "-p", dir, ..] => std::fs::create_dir_all(relocate(dir)).unwrap(),
            _ => {}
        }
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trellis"));
    cmd.arg("serve")
        .current_dir(root.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRELLIS__SERVER__LISTEN", "127.0.0.1:0")
        .env("TRELLIS__SERVER__METRICS_LISTEN", "127.0.0.1:0")
        .env("TRELLIS__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(a) = line.trim().strip_prefix("Listening on ") {
                    break a.to_owned();
                }
            }
            _ => {
                let out = child.wait_with_output().unwrap();
                panic!("serve did not start from the image's layout: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
    };
    let resp = reqwest::Client::new().get(format!("http://{addr}/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(root.path().join("data/trellis.db").exists(), "the database is in the data folder");
    child.kill().unwrap();
    let _ = child.wait();
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::copy(from, to).unwrap();
    }
}

/// Every `tenant.toml` example in the docs is one `trellis tenants apply --dry-run` accepts (the
/// docs say only what the product does).
#[tokio::test]
async fn every_tenant_file_example_in_the_docs_is_accepted_by_a_dry_run() {
    let db = TestDb::empty().await;
    run(&db, &["migrate"]);
    let repo = repo_root();
    let dir = tempfile::tempdir().unwrap();
    let mut examples = 0;
    let mut secrets = Vec::new();
    for doc in std::fs::read_dir(repo.join("docs")).unwrap() {
        let path = doc.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, block) in text.split("```toml").skip(1).enumerate() {
            let toml = block.split("```").next().unwrap();
            if !toml.contains("ods_code") {
                continue;
            }
            examples += 1;
            let slug = format!("doc{examples}x{i}");
            let folder = dir.path().join(&slug);
            std::fs::create_dir_all(&folder).unwrap();
            // Each example names its own ODS code and domains: make them unique per example.
            let toml = toml.replace("learning.northmoor.example", &format!("learning.{slug}.example"));
            std::fs::write(folder.join("tenant.toml"), &toml).unwrap();
            for line in toml.lines() {
                if let Some(file) = line.trim().strip_prefix("logo = \"").and_then(|r| r.split('"').next()) {
                    std::fs::copy(repo.join("tenants/northmoor/logo.svg"), folder.join(file)).unwrap();
                }
                if let Some(var) = line.trim().strip_prefix("client_secret_env = \"").and_then(|r| r.split('"').next())
                {
                    secrets.push(var.to_owned());
                }
            }
        }
    }
    assert!(examples >= 1, "no tenant.toml example found in docs/");
    let mut cmd = trellis(&db, &["tenants", "apply", dir.path().to_str().unwrap(), "--dry-run"]);
    for s in &secrets {
        cmd.env(s, "an example secret");
    }
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "a docs example was refused:\n{stderr}\n{stdout}");
    assert!(stdout.contains("(dry run)"), "{stdout}");
}

/// The demo sells what docs/marketplace.md describes: every course it lists asks a training
/// manager to approve each place.
#[test]
fn the_demos_marketplace_courses_ask_for_approval_as_the_docs_say() {
    let repo = repo_root();
    for (file, code) in
        [("tenants/brightwater/catalogue.toml", "BW-DEMENTIA"), ("tenants/northmoor/catalogue.toml", "NM-SEPSIS")]
    {
        let spec = trellis_domain::catalogue_spec::load(&repo.join(file)).unwrap();
        let course = spec.course.iter().find(|c| c.code == code).unwrap();
        assert_eq!(course.enrolment, "approval", "{code} in {file}");
    }
    let docs = std::fs::read_to_string(repo.join("docs/marketplace.md")).unwrap();
    assert!(docs.contains("both ask a training manager to approve each place"));
}

/// docs/api.md's command: a token for a trust, with scopes and a lifetime, printed once; a scope
/// that does not exist is refused.
#[tokio::test]
async fn api_token_issues_a_scoped_token_as_the_docs_say() {
    let db = TestDb::empty().await;
    assert!(run(&db, &["migrate"]).0.status.success());
    assert!(run(&db, &["tenants", "apply", "tenants"]).0.status.success());
    let (out, stdout, stderr) =
        run(&db, &["api-token", "northmoor", "HR feed", "--scope", "enrolments", "--days", "90"]);
    assert!(out.status.success(), "{stderr}");
    let token = stdout.strip_prefix("token: ").unwrap().trim();
    assert!(token.starts_with("trellis_") && token.len() > 60, "{token}");
    let (out, _, stderr) = run(&db, &["api-token", "northmoor", "HR feed", "--scope", "everything"]);
    assert!(!out.status.success());
    assert!(stderr.contains("Choose at least one thing the token may do"), "{stderr}");
    let (out, _, stderr) = run(&db, &["api-token", "nowhere", "HR feed", "--scope", "courses"]);
    assert!(!out.status.success() && stderr.contains("no trust nowhere"), "{stderr}");
}

#[tokio::test]
async fn retention_dry_run_says_what_would_go_and_deletes_nothing() {
    let db = TestDb::empty().await;
    assert!(run(&db, &["migrate"]).0.status.success());
    let (out, _, stderr) = run(&db, &["tenants", "apply", "tenants"]);
    assert!(out.status.success(), "{stderr}");
    // Applying the trusts wrote their audit entries today: nothing has expired yet.
    let (out, stdout, stderr) = run(&db, &["retention", "--dry-run"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("northmoor: nothing has expired"), "{stdout}");
    // The real run finds the same, and says so.
    let (out, stdout, stderr) = run(&db, &["retention"]);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("riverside: nothing has expired"), "{stdout}");
}
