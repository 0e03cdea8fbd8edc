//! The tenant rule is total inside `apps/db` (issue 17): a trust's rows are reached only through
//! `TenantTx`'s scoped queries and its raw-SQL helpers, which bind the trust as `$1` themselves.
//! `TenantTx::conn` is private to its module (the compiler holds that); this test holds the two
//! doors the compiler can't: who may use the bare transaction, and who may run raw statements.

use std::path::{Path, PathBuf};

/// Files that may call `TenantTx::across_trusts`, and why.
const ACROSS_TRUSTS: &[(&str, &str)] = &[
    ("identity/path.rs", "the identity path (ADR 0014): sign-in by email across trusts, secrets"),
    ("identity/accounts.rs", "SQLite's twin of the identity functions: an account by email, a new person"),
    ("learning.rs", "SQLite's twin of trellis_share_completion: a national completion counts in every trust"),
];

/// Files that may run raw statements on a connection (`*_raw(`), and why.
const RAW: &[(&str, &str)] = &[
    ("tenant_tx.rs", "the one door: binds the trust as $1, or calls a trellis_ function"),
    ("migrate.rs", "migrations and roles, as the owner"),
    ("connect.rs", "the connection's own settings"),
    ("platform.rs", "the platform path (host map, trusts), as the platform role"),
    ("statistics.rs", "the platform path's aggregate for the published open data (counts only), as the platform role"),
    ("market/platform.rs", "the marketplace's platform path (listings, Stripe events)"),
    ("identity/mod.rs", "the identity pool's own functions (IdentityDb)"),
    ("identity/path.rs", "the identity path's named reads: a person's own activity in every trust"),
    ("identity/accounts.rs", "SQLite's twin of trellis_accounts_by_emails, through across_trusts"),
    ("library/platform.rs", "the national library's curators: trusts' proposals and reports on national resources"),
    ("erasure.rs", "the platform path's erasure of a person in every trust they belong to, as the platform role"),
    (
        "secrets.rs",
        "the platform path's re-wrapping of every trust's sealed secrets (`trellis keys rotate`), as the platform role",
    ),
];

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 20, "found the crate's sources");
    out
}

fn offenders(allowed: &[(&str, &str)], needle: &str) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|(path, text)| text.contains(needle) && !allowed.iter().any(|(p, _)| p == path))
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn only_the_named_paths_use_the_bare_transaction() {
    assert_eq!(offenders(ACROSS_TRUSTS, ".across_trusts()"), Vec::<String>::new());
}

#[test]
fn only_the_named_paths_run_raw_statements() {
    let mut found = offenders(RAW, "_raw(");
    found.extend(offenders(RAW, "from_sql_and_values("));
    assert_eq!(found, Vec::<String>::new(), "raw SQL on a trust's rows goes through TenantTx::execute/query_*");
}

#[test]
fn the_lists_name_files_that_exist() {
    let all: Vec<String> = sources().into_iter().map(|(p, _)| p).collect();
    for (p, _) in ACROSS_TRUSTS.iter().chain(RAW) {
        assert!(all.iter().any(|a| a == p), "{p} is not a file of apps/db/src");
    }
}
