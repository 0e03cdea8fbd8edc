//! Platform administrators create trusts and appoint their first training manager.

use trellis_domain::identity::Role;
use trellis_testkit::{BASE, TestApp, Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

fn code_at(secret: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    totp_rs::Builder::new().with_secret(secret).build().unwrap().generate(at).to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A platform admin's first sign-in: the password, then setting up two-step verification (which
/// platform admins must have) before any platform page. Returns the TOTP secret.
pub(crate) async fn set_up_two_step(root: &mut Visitor, email: &str) -> String {
    let signed = root.sign_in(email, PW).await;
    assert_eq!(signed.location.as_deref(), Some("/sign-in/mfa-setup"));
    assert_eq!(root.get("/admin").await.location.as_deref(), Some("/sign-in"), "nothing until the second step");
    let page = root.get("/sign-in/mfa-setup").await;
    assert_eq!(page.status, 200);
    let at = page.body.find("<strong class=\"trellis-code\">").unwrap() + "<strong class=\"trellis-code\">".len();
    let secret = page.body[at..].split('<').next().unwrap().to_owned();
    let wrong = root.submit("/sign-in/mfa-setup", "/sign-in/mfa-setup", &[("code", "000000")]).await;
    assert_eq!(wrong.status, 422);
    let done = root.submit("/sign-in/mfa-setup", "/sign-in/mfa-setup", &[("code", &code_at(&secret, now()))]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("recovery codes"));
    secret
}

#[tokio::test]
async fn a_platform_admin_creates_a_trust_whose_first_manager_sets_a_password_and_runs_it() {
    let app = spawn_app().await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    app.member("northmoor", "manager@northmoor.example", PW, &[Role::TrainingManager]).await;

    // A trust's manager is not a platform administrator.
    let mut intruder = Visitor::new(app.addr, BASE);
    assert_eq!(intruder.sign_in("manager@northmoor.example", PW).await.status, 401);
    assert_eq!(intruder.get("/admin").await.location.as_deref(), Some("/sign-in"));

    let mut root = Visitor::new(app.addr, BASE);
    set_up_two_step(&mut root, "root@platform.example").await;
    let admin = root.get("/admin").await;
    assert!(admin.body.contains("Northmoor Teaching Hospitals NHS Foundation Trust"));
    assert!(admin.body.contains("href=\"/admin/marketplace\""), "the admin page links to the marketplace review");
    assert!(admin.body.contains("No listings wait for review"));
    assert!(admin.body.contains("Signed in as"), "the header says a platform administrator is signed in");
    // Its recent changes are said in words, people by name and address.
    assert!(admin.body.contains("Two-step verification turned on by"), "{}", admin.body);
    assert!(admin.body.contains("root@platform.example") && !admin.body.contains("platform.mfa.enabled"));
    assert!(!admin.body.contains("person:"), "no internal ids on screen");
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
    assert!(pale.body.contains("(contrast 1.77:1; it needs at least 4.5:1)"), "{}", pale.body);
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

#[tokio::test]
async fn a_platform_admin_with_two_step_on_needs_a_code_and_sees_every_trusts_audit_trail() {
    let app = spawn_app().await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "ops@platform.example", hash, "test").await.unwrap();
    let mut first = Visitor::new(app.addr, BASE);
    let secret = set_up_two_step(&mut first, "ops@platform.example").await;

    // Events on two trusts' sites.
    app.member("northmoor", "learner@northmoor.example", PW, &[Role::Learner]).await;
    app.visitor("northmoor").sign_in_and_agree("learner@northmoor.example", PW).await;
    assert_eq!(app.visitor("riverside").sign_in("ghost@riverside.example", PW).await.status, 401);

    let mut v = Visitor::new(app.addr, BASE);
    let signed = v.sign_in("ops@platform.example", PW).await;
    assert_eq!(signed.location.as_deref(), Some("/sign-in/code"));
    assert_eq!(v.get("/admin").await.location.as_deref(), Some("/sign-in"));
    let wrong = v.submit("/sign-in/code", "/sign-in/code", &[("code", "123456")]).await;
    assert_eq!(wrong.status, 401);
    // The step the setup used is spent; the next step is within the one step of skew allowed.
    let at = now() + 30;
    let ok = v.submit("/sign-in/code", "/sign-in/code", &[("code", &code_at(&secret, at))]).await;
    assert_eq!(ok.location.as_deref(), Some("/admin"), "{}", ok.body);

    let all = v.get("/admin/audit").await;
    assert_eq!(all.status, 200);
    assert!(all.body.contains("Northmoor Teaching Hospitals") && all.body.contains("Riverside"));
    // An address with no account is not written down: the attempt is, as "unknown account".
    assert!(all.body.contains("sign_in.failed") && all.body.contains("unknown account"));
    assert!(!all.body.contains("ghost@riverside.example"));
    let one = v.get("/admin/audit?trust=northmoor&action=sign_in").await;
    assert!(one.body.contains("learner@northmoor.example"));
    assert!(!one.body.contains("ghost@riverside.example"), "filtered to one trust");
    let audit = app.dbs().await.platform.recent_audit_across_tenants(50).await.unwrap();
    for action in ["platform.mfa.enabled", "platform.mfa.failed", "platform.sign_in"] {
        assert!(audit.iter().any(|a| a.action == action), "{action}");
    }
}
