//! Two-step verification: set up with a real TOTP computation, required at sign-in, codes single
//! use, recovery codes, and a trust requiring it of its administrators.

use trellis_db::audit;
use trellis_domain::identity::Role;
use trellis_testkit::{Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

fn code_at(secret: &str, at: u64) -> String {
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new().with_secret(secret).build().unwrap();
    totp.generate(at).to_string()
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// Turns on two-step verification; returns (secret, recovery codes).
async fn enable(v: &mut Visitor) -> (String, Vec<String>) {
    let page = v.get("/account/mfa").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let at = page.body.find("<strong class=\"trellis-code\">").unwrap() + "<strong class=\"trellis-code\">".len();
    let secret = page.body[at..].split('<').next().unwrap().to_owned();
    assert!(page.body.contains("<svg role=\"img\""), "the key as a QR code, drawn on the page");
    let wrong = v.submit("/account/mfa", "/account/mfa/enable", &[("code", "000000")]).await;
    assert_eq!(wrong.status, 422);
    let done = v.submit("/account/mfa", "/account/mfa/enable", &[("code", &code_at(&secret, now()))]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let codes: Vec<String> = done
        .body
        .split("<li><strong class=\"trellis-code\">")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

#[tokio::test]
async fn a_second_step_guards_sign_in_codes_work_once_and_recovery_codes_too() {
    let app = spawn_app().await;
    app.member("riverside", "careful@riverside.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("riverside");
    v.sign_in_and_agree("careful@riverside.example", PW).await;
    let (secret, codes) = enable(&mut v).await;
    assert!(v.get("/profile").await.body.contains("Two-step verification is on"));

    // The password alone no longer signs in.
    let mut w = app.visitor("riverside");
    let first = w.sign_in("careful@riverside.example", PW).await;
    assert_eq!(first.location.as_deref(), Some("/sign-in/code"));
    assert_eq!(w.get("/profile").await.location.as_deref(), Some("/sign-in"), "not signed in yet");
    let wrong = w.submit("/sign-in/code", "/sign-in/code", &[("code", "123456")]).await;
    assert_eq!(wrong.status, 401);
    // A code from the next time step (the enabling code used the current one).
    let code = code_at(&secret, now() + 30);
    let ok = w.submit("/sign-in/code", "/sign-in/code", &[("code", &code)]).await;
    assert_eq!((ok.status, ok.location.as_deref()), (303, Some("/")));
    assert_eq!(w.get("/profile").await.status, 200);

    // The same code again, in another browser: refused (RFC 6238: a code works once).
    let mut x = app.visitor("riverside");
    x.sign_in("careful@riverside.example", PW).await;
    assert_eq!(x.submit("/sign-in/code", "/sign-in/code", &[("code", &code)]).await.status, 401);
    // A recovery code works, once.
    let r = x.submit("/sign-in/code", "/sign-in/code", &[("code", &codes[0].to_uppercase())]).await;
    assert_eq!(r.status, 303);
    let mut y = app.visitor("riverside");
    y.sign_in("careful@riverside.example", PW).await;
    assert_eq!(y.submit("/sign-in/code", "/sign-in/code", &[("code", &codes[0])]).await.status, 401);
    // Skipping the code page leads nowhere.
    let mut z = app.visitor("riverside");
    assert_eq!(z.get("/sign-in/code").await.location.as_deref(), Some("/sign-in"));

    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    let actions: Vec<String> = audit::trail(&tx, 200).await.unwrap().into_iter().map(|e| e.action).collect();
    tx.rollback().await.unwrap();
    for a in ["mfa.enabled", "mfa.failed"] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }

    // Turning it off needs a code.
    let off = v.submit("/account/mfa", "/account/mfa/disable", &[("code", "000000")]).await;
    assert_eq!(off.status, 422);
    let off = v.submit("/account/mfa", "/account/mfa/disable", &[("code", &codes[1])]).await;
    assert_eq!(off.status, 303);
    let mut plain = app.visitor("riverside");
    assert_eq!(plain.sign_in("careful@riverside.example", PW).await.location.as_deref(), Some("/"));
}

#[tokio::test]
async fn a_trust_can_require_two_step_verification_of_its_administrators() {
    let app = spawn_app().await;
    app.member("fenwick", "lead@fenwickdale.example", PW, &[Role::Learner, Role::TrainingManager]).await;
    let dir = tempfile::tempdir().unwrap();
    let src = trellis_testkit::demo_tenants().join("fenwick");
    std::fs::create_dir_all(dir.path().join("fenwick")).unwrap();
    for f in ["tenant.toml", "logo.svg"] {
        std::fs::copy(src.join(f), dir.path().join("fenwick").join(f)).unwrap();
    }
    let toml = std::fs::read_to_string(dir.path().join("fenwick/tenant.toml")).unwrap();
    std::fs::write(dir.path().join("fenwick/tenant.toml"), format!("require_admin_mfa = true\n{toml}")).unwrap();
    let report = trellis_testkit::apply_dir(&app.config, &app.dbs().await, dir.path(), false).await.unwrap();
    assert!(report.lines.iter().any(|l| l.contains("require_admin_mfa: false → true")), "{:?}", report.lines);
    app.reload().await;

    let mut v = app.visitor("fenwick");
    v.sign_in_and_agree("lead@fenwickdale.example", PW).await;
    let blocked = v.get("/admin/approvals").await;
    assert_eq!(blocked.status, 403);
    assert!(blocked.body.contains("Set up two-step verification first"));
    assert_eq!(v.get("/profile").await.status, 200, "other pages still work");
    enable(&mut v).await;
    assert_eq!(v.get("/admin/approvals").await.status, 200);
}
