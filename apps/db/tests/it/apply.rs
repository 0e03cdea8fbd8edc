//! `tenants apply`: idempotent, says what it changed, never deletes, keeps admins' edits, and
//! applies all or nothing.

use crate::support::{fixture, ids};
use trellis_db::site;
use trellis_domain::colour::{ColourScheme, Rgb};
use trellis_testkit::{apply_dir, minimal_tenant, write_tenant};

#[tokio::test]
async fn applying_twice_changes_nothing_the_second_time() {
    let f = fixture().await;
    let report = apply_dir(&f.config, &f.dbs, &trellis_testkit::demo_tenants(), false).await.unwrap();
    assert!(!report.changed, "{:?}", report.lines);
    assert_eq!(
        report.lines,
        ["brightwater: unchanged", "fenwick: unchanged", "northmoor: unchanged", "riverside: unchanged"]
    );
    assert_eq!(f.ids.len(), 4);
}

#[tokio::test]
async fn changes_are_reported_and_audited_and_nothing_is_deleted() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), "alpha", &minimal_tenant("Alpha Trust", "XA1", "#003087"));
    let first = apply_dir(&f.config, &f.dbs, dir.path(), false).await.unwrap();
    assert!(first.lines.contains(&"alpha: created \"Alpha Trust\"".to_owned()), "{:?}", first.lines);

    // Rename, recolour, and drop the message from the file.
    let toml = minimal_tenant("Alpha Hospitals Trust", "XA1", "#330072");
    let toml = toml[..toml.find("[[messages]]").unwrap()].to_owned();
    write_tenant(dir.path(), "alpha", &toml);
    let second = apply_dir(&f.config, &f.dbs, dir.path(), false).await.unwrap();
    assert!(second.changed);
    let lines = second.lines.join("\n");
    assert!(lines.contains("alpha: name: \"Alpha Trust\" → \"Alpha Hospitals Trust\""), "{lines}");
    assert!(lines.contains("alpha: branding.colours.primary: \"#003087\" → \"#330072\""), "{lines}");
    assert!(lines.contains("alpha: key message \"hello\" is not in the file; kept"), "{lines}");

    let alpha = ids(&f.dbs).await["alpha"];
    let tx = f.dbs.app.begin(alpha).await.unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    assert_eq!(site::current_messages(&tx, today, 10).await.unwrap().len(), 1, "never deleted");
    tx.rollback().await.unwrap();

    let audit = f.dbs.platform.recent_audit_across_tenants(10).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "tenants.apply" && a.detail.contains("Alpha Hospitals Trust")));
}

#[tokio::test]
async fn an_admins_edit_is_kept_unless_the_operator_overwrites_it() {
    let f = fixture().await;
    let north = f.ids["northmoor"];
    let tx = f.dbs.app.begin(north).await.unwrap();
    let edited = ColourScheme { primary: Rgb::parse("#4c1d95").unwrap(), ..ColourScheme::DEFAULT };
    site::admin_set_colours(&tx, edited).await.unwrap().unwrap();
    tx.commit().await.unwrap();

    let report = apply_dir(&f.config, &f.dbs, &trellis_testkit::demo_tenants(), false).await.unwrap();
    let lines = report.lines.join("\n");
    assert!(lines.contains("northmoor: branding was edited by the trust's admins; kept"), "{lines}");
    let tx = f.dbs.app.begin(north).await.unwrap();
    assert_eq!(site::primary_colour(&tx).await.unwrap().as_deref(), Some("#4c1d95"));
    tx.rollback().await.unwrap();

    let report = apply_dir(&f.config, &f.dbs, &trellis_testkit::demo_tenants(), true).await.unwrap();
    assert!(report.lines.join("\n").contains("northmoor: branding.colours.primary: \"#4c1d95\" → \"#003087\""));
    let tx = f.dbs.app.begin(north).await.unwrap();
    assert_eq!(site::primary_colour(&tx).await.unwrap().as_deref(), Some("#003087"));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_colour_change_that_fails_contrast_is_refused_naming_the_pair() {
    let f = fixture().await;
    let tx = f.dbs.app.begin(f.ids["fenwick"]).await.unwrap();
    let bad = ColourScheme { primary: Rgb::parse("#f0f0f0").unwrap(), ..ColourScheme::DEFAULT };
    let failures = site::admin_set_colours(&tx, bad).await.unwrap().unwrap_err();
    assert!(failures[0].message.starts_with("on_primary #ffffff on primary #f0f0f0 has a contrast ratio of 1.1"));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_domain_that_belongs_to_another_trust_stops_the_whole_apply() {
    let f = fixture().await;
    let dir = tempfile::tempdir().unwrap();
    // A new trust claims northmoor's custom domain; northmoor is not in this folder, so only the
    // database knows of the clash.
    write_tenant(
        dir.path(),
        "aardvark",
        &format!(
            "custom_domains = [\"learning.northmoor.example\"]\n{}",
            minimal_tenant("Aardvark Trust", "XA2", "#003087")
        ),
    );
    write_tenant(dir.path(), "zebra", &minimal_tenant("Zebra Trust", "XZ9", "#003087"));
    let err = apply_dir(&f.config, &f.dbs, dir.path(), false).await.unwrap_err().to_string();
    assert!(err.contains("learning.northmoor.example already belongs to trust \"northmoor\""), "{err}");
    let now = ids(&f.dbs).await;
    assert!(!now.contains_key("aardvark") && !now.contains_key("zebra"), "nothing half-applied: {now:?}");
}
