//! Platform administrators create trusts and appoint their first training manager.

use trellis_core::identity::Role;
use trellis_testkit::{BASE, TestApp, Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

#[tokio::test]
async fn a_platform_admin_creates_a_trust_whose_first_manager_sets_a_password_and_runs_it() {
    let app = spawn_app().await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    app.dbs().await.platform.ensure_platform_admin_across_tenants("root@platform.example", hash, "test").await.unwrap();
    app.member("northmoor", "manager@northmoor.example", PW, &[Role::TrainingManager]).await;

    // A trust's manager is not a platform administrator.
    let mut intruder = Visitor::new(app.addr, BASE);
    assert_eq!(intruder.sign_in("manager@northmoor.example", PW).await.status, 401);
    assert_eq!(intruder.get("/admin").await.location.as_deref(), Some("/sign-in"));

    let mut root = Visitor::new(app.addr, BASE);
    let signed = root.sign_in("root@platform.example", PW).await;
    assert_eq!(signed.location.as_deref(), Some("/admin"));
    let admin = root.get("/admin").await;
    assert!(admin.body.contains("Northmoor Teaching Hospitals NHS Foundation Trust"));
    // The platform session is nothing on a trust's host.
    let mut elsewhere = root.with_cookies_on(&TestApp::host_of("northmoor"));
    assert_eq!(elsewhere.get("/admin/staff").await.location.as_deref(), Some("/sign-in"));

    let form = |slug: &'static str, primary: &'static str| {
        vec![
            ("name", "Eastvale Community Health NHS Trust"),
            ("slug", slug),
            ("ods_code", "XE4"),
            ("primary", primary),
            ("admin_email", "lead@eastvale.example"),
        ]
    };
    let reserved = root.submit("/admin", "/admin/trusts", &form("admin", "#005eb8")).await;
    assert_eq!(reserved.status, 422);
    assert!(reserved.body.contains("reserved"));
    let taken = root.submit("/admin", "/admin/trusts", &form("northmoor", "#005eb8")).await;
    assert_eq!(taken.status, 422);
    let pale = root.submit("/admin", "/admin/trusts", &form("eastvale", "#a0c4ff")).await;
    assert_eq!(pale.status, 422);
    assert!(pale.body.contains("contrast ratio of 1.77:1"));
    assert_eq!(app.get(&TestApp::host_of("eastvale"), "/").await.status(), 404, "nothing was created");

    let created = root.submit("/admin", "/admin/trusts", &form("eastvale", "#00594f")).await;
    assert_eq!(created.location.as_deref(), Some("/admin"), "{}", created.body);
    let home = app.get(&TestApp::host_of("eastvale"), "/").await;
    assert_eq!(home.status(), 200, "served at once");
    assert!(home.text().await.unwrap().contains("Eastvale Community Health NHS Trust"));

    // The first manager sets a password by the emailed link, on the new trust's site, and manages it.
    let mail = app.mail.wait_for("lead@eastvale.example", "You are a training manager of Eastvale").await;
    let token = mail.link("password-reset/new?token=").unwrap().split("token=").nth(1).unwrap().to_owned();
    let mut lead = app.visitor("eastvale");
    let set = lead
        .submit(
            "/password-reset/new",
            "/password-reset/new",
            &[("token", &token), ("password", "my new trust's first password")],
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    lead.sign_in_and_agree("lead@eastvale.example", "my new trust's first password").await;
    assert_eq!(lead.get("/admin/staff").await.status, 200);

    let page = root.get("/admin/audit").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("trust.appointed_admin") && page.body.contains("Eastvale Community Health NHS Trust"));
    assert_eq!(intruder.get("/admin/audit").await.location.as_deref(), Some("/sign-in"));
    let audit = app.dbs().await.platform.recent_audit_across_tenants(50).await.unwrap();
    for action in ["platform.sign_in", "platform.sign_in.failed", "tenants.apply", "trust.appointed_admin"] {
        assert!(audit.iter().any(|a| a.action == action), "{action}");
    }
}
