//! Secrets at rest: a single sign-on client secret, inline in a tenant file or entered by a trust
//! admin, is stored sealed; `trellis keys rotate` re-wraps sealed ones (and the HR export's) under
//! a new operator key and seals any stored in clear by an earlier version.

use crate::support::fixture;
use trellis_db::secrets::{Keyring, sso_purpose};
use trellis_db::site;
use trellis_testkit::{minimal_tenant, write_tenant};

fn sso(secret: &str) -> String {
    format!(
        "\n[sso]\nissuer = \"https://login.example.org\"\nclient_id = \"trellis\"\nclient_secret = \"{secret}\"\nlabel = \"Sign in with the trust\"\n"
    )
}

async fn stored(f: &crate::support::Fixture, slug: &str) -> String {
    let all = f.dbs.platform.directory_of_all_tenants().await.unwrap();
    all.into_iter().find(|e| e.slug == slug).unwrap().sso.unwrap().client_secret
}

#[tokio::test]
async fn sso_secrets_are_stored_sealed_and_rotation_rewraps_them_and_seals_old_clear_ones() {
    let mut f = fixture().await;
    let old = Keyring::from_config(&f.config.secrets, &f.config.paths.data).unwrap();
    // Inline in a tenant file: sealed, and applying the same file again changes nothing.
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), "alpha", &(minimal_tenant("Alpha Trust", "XA1", "#003087") + &sso("inline-s3cret")));
    trellis_testkit::apply_dir(&f.config, &f.dbs, dir.path(), false).await.unwrap();
    let alpha = crate::support::ids(&f.dbs).await["alpha"];
    let sealed = stored(&f, "alpha").await;
    assert!(Keyring::is_sealed(&sealed) && !sealed.contains("inline-s3cret"), "{sealed}");
    assert_eq!(old.open(&sso_purpose(alpha), &sealed).unwrap(), "inline-s3cret");
    let again = trellis_testkit::apply_dir(&f.config, &f.dbs, dir.path(), false).await.unwrap();
    assert!(!again.changed, "{:?}", again.lines);
    // Northmoor's secret was stored in clear by an earlier version (as an admin's form did).
    let north = f.ids["northmoor"];
    let tx = f.dbs.app.begin(north).await.unwrap();
    let input = site::SsoSettingsInput {
        issuer: "https://login.example.org".into(),
        client_id: "trellis".into(),
        client_secret: Some("clear-s3cret".into()),
        label: "Sign in".into(),
        ..Default::default()
    };
    assert!(site::admin_set_sso(&tx, input).await.unwrap());
    tx.commit().await.unwrap();
    // Riverside's export to HR keeps its SSH key sealed.
    let river = f.ids["riverside"];
    let tx = f.dbs.app.begin(river).await.unwrap();
    let hr = trellis_db::hr_export::Settings {
        target: "sftp".into(),
        ssh_key_sealed: old.seal("hr export ssh key", "-----BEGIN OPENSSH PRIVATE KEY-----"),
        ..Default::default()
    };
    trellis_db::hr_export::save_settings(&tx, &hr).await.unwrap();
    tx.commit().await.unwrap();

    // A new operator key, the old one retired: rotation re-wraps one and seals the other.
    let new_key = "cd34".repeat(16);
    f.config.secrets.retired_keys = vec![f.config.secrets.key.clone()];
    f.config.secrets.key = new_key.clone();
    let rotating = Keyring::from_config(&f.config.secrets, &f.config.paths.data).unwrap();
    let done = f.dbs.platform.rotate_secrets(&rotating, "test").await.unwrap();
    assert_eq!((done.rewrapped, done.sealed, done.unreadable), (2, 1, 0), "{done:?}");
    let only_new = Keyring::new(hex::decode(&new_key).unwrap().try_into().unwrap(), &[]);
    let (a, n) = (stored(&f, "alpha").await, stored(&f, "northmoor").await);
    assert!(only_new.is_current(&a) && only_new.is_current(&n));
    assert_eq!(only_new.open(&sso_purpose(alpha), &a).unwrap(), "inline-s3cret");
    assert_eq!(only_new.open(&sso_purpose(north), &n).unwrap(), "clear-s3cret");
    assert!(only_new.open(&sso_purpose(alpha), &n).is_err(), "sealed for one trust only");
    assert!(old.open(&sso_purpose(alpha), &a).is_err(), "the retired key alone opens nothing now");
    let tx = f.dbs.app.begin(river).await.unwrap();
    let key = trellis_db::hr_export::settings(&tx).await.unwrap().ssh_key_sealed;
    tx.commit().await.unwrap();
    assert!(only_new.is_current(&key));
    assert_eq!(only_new.open("hr export ssh key", &key).unwrap(), "-----BEGIN OPENSSH PRIVATE KEY-----");
    // Again: nothing left to do; the platform's trail has both runs.
    let twice = f.dbs.platform.rotate_secrets(&rotating, "test").await.unwrap();
    assert_eq!((twice.current, twice.rewrapped, twice.sealed), (3, 0, 0));
    let trail = f.dbs.platform.recent_audit_across_tenants(20).await.unwrap();
    assert_eq!(trail.iter().filter(|a| a.action == "secrets.rotated").count(), 2);
}
