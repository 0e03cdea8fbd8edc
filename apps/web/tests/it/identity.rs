//! Registration, confirmation, sign-in, sessions, approvals, resets and the audit trail, over HTTP
//! with real mail through an SMTP sink; and the attacks the issue lists, each refused.

use trellis_db::audit;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

fn registration(email: &str) -> Vec<(&str, &str)> {
    vec![
        ("given_name", "Jo"),
        ("family_name", "Bloggs"),
        ("email", email),
        ("password", PW),
        ("job_role", "Staff nurse"),
        ("place_of_work", "XN1"),
        ("register_kind", "nmc"),
        ("register_number", "12A3456E"),
    ]
}

async fn register(v: &mut Visitor, email: &str) -> trellis_testkit::Page {
    v.submit("/register", "/register", &registration(email)).await
}

/// Opens the emailed confirmation link and presses the button.
async fn confirm(app: &TestApp, v: &mut Visitor, email: &str) -> trellis_testkit::Page {
    let mail = app.mail.wait_for(email, "Confirm your email address").await;
    let link = mail.link("verify-email?token=").expect("a confirmation link");
    let path = &link[link.find("/verify-email").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_owned();
    v.submit(path, "/verify-email", &[("token", &token)]).await
}

async fn audit_actions(app: &TestApp, slug: &str) -> Vec<String> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let trail = audit::trail(&tx, 500).await.unwrap();
    tx.rollback().await.unwrap();
    trail.into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn an_eligible_newcomer_registers_confirms_signs_in_and_sees_their_profile() {
    let app = spawn_app().await;
    let mut v = app.visitor("northmoor");
    let page = register(&mut v, "jo.bloggs@northmoor.example").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Check your email"));

    // Not before confirming.
    let early = v.sign_in("jo.bloggs@northmoor.example", PW).await;
    assert_eq!(early.status, 403);
    assert!(early.body.contains("Confirm your email address first"));

    let mail = app.mail.wait_for("jo.bloggs@northmoor.example", "Confirm your email address").await;
    assert_eq!(mail.from, "no-reply@trellis.localhost");
    assert!(mail.text.contains("Northmoor Teaching Hospitals NHS Foundation Trust"));
    assert!(mail.html.contains("<a href=\"http://northmoor.trellis.test"), "{}", mail.html);
    let done = confirm(&app, &mut v, "jo.bloggs@northmoor.example").await;
    assert_eq!(done.status, 200);
    assert!(done.body.contains("You can now sign in"));

    let signed = v.sign_in("jo.bloggs@northmoor.example", PW).await;
    assert_eq!((signed.status, signed.location.as_deref()), (303, Some("/")));
    // The terms come first.
    let gated = v.get("/profile").await;
    assert_eq!((gated.status, gated.location.as_deref()), (303, Some("/terms")));
    let terms = v.get("/terms").await;
    assert!(terms.body.contains("Terms of use") && terms.body.contains("Privacy notice"));
    assert_eq!(v.accept_terms().await.status, 303);
    let profile = v.get("/profile").await;
    assert_eq!(profile.status, 200);
    for shown in [
        "Jo Bloggs",
        "Staff nurse",
        "XN1",
        "NMC 12A3456E",
        "Learner",
        "Northmoor Teaching Hospitals NHS Foundation Trust (approved)",
    ] {
        assert!(profile.body.contains(shown), "{shown}");
    }
    let actions = audit_actions(&app, "northmoor").await;
    for a in ["register", "sign_in.failed", "email.verified", "sign_in", "terms.accepted"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

#[tokio::test]
async fn an_ineligible_address_waits_for_an_admin_who_approves_or_rejects_with_a_reason() {
    let app = spawn_app().await;
    app.member("northmoor", "manager@northmoor.example", PW, &[Role::Learner, Role::TrainingManager]).await;
    let mut newcomer = app.visitor("northmoor");
    register(&mut newcomer, "agency.nurse@elsewhere.example").await;
    let done = confirm(&app, &mut newcomer, "agency.nurse@elsewhere.example").await;
    assert!(done.body.contains("will check your registration"));
    let waiting = newcomer.sign_in("agency.nurse@elsewhere.example", PW).await;
    assert_eq!(waiting.status, 403);
    assert!(waiting.body.contains("waiting for approval"));

    let mut admin = app.visitor("northmoor");
    admin.sign_in_and_agree("manager@northmoor.example", PW).await;
    let queue = admin.get("/admin/approvals").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("agency.nurse@elsewhere.example"));
    let id = queue.body.split("/admin/approvals/").nth(1).unwrap().split('"').next().unwrap().to_owned();

    // Rejecting needs a reason.
    let token = queue.csrf().unwrap();
    let no_reason =
        admin.post(&format!("/admin/approvals/{id}"), &[("csrf_token", &token), ("decision", "reject")]).await;
    assert_eq!(no_reason.status, 400);
    let ok = admin.post(&format!("/admin/approvals/{id}"), &[("csrf_token", &token), ("decision", "approve")]).await;
    assert_eq!(ok.status, 303);
    app.mail.wait_for("agency.nurse@elsewhere.example", "approved").await;
    assert_eq!(newcomer.sign_in("agency.nurse@elsewhere.example", PW).await.status, 303);
    // Deciding twice finds nothing to decide.
    let again = admin.post(&format!("/admin/approvals/{id}"), &[("csrf_token", &token), ("decision", "approve")]).await;
    assert_eq!(again.status, 404);

    // A rejection is emailed with its reason.
    let mut other = app.visitor("northmoor");
    register(&mut other, "someone@elsewhere.example").await;
    let queue = admin.get("/admin/approvals").await;
    let id = queue.body.split("/admin/approvals/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let token = queue.csrf().unwrap();
    let r = admin
        .post(
            &format!("/admin/approvals/{id}"),
            &[("csrf_token", &token), ("decision", "reject"), ("reason", "Not employed by this trust")],
        )
        .await;
    assert_eq!(r.status, 303);
    let mail = app.mail.wait_for("someone@elsewhere.example", "not approved").await;
    assert!(mail.text.contains("Not employed by this trust"));
    let actions = audit_actions(&app, "northmoor").await;
    assert!(actions.iter().any(|a| a == "membership.approved") && actions.iter().any(|a| a == "membership.rejected"));
}

#[tokio::test]
async fn bad_registrations_name_each_field_and_store_nothing() {
    let app = spawn_app().await;
    let mut v = app.visitor("riverside");
    let mut fields = registration("not-an-email");
    fields[3] = ("password", "short");
    fields[5] = ("place_of_work", "x");
    fields[7] = ("register_number", "1234");
    let page = v.submit("/register", "/register", &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("There is a problem"));
    let at =
        |field: &str| page.body.find(&format!("href=\"#{field}\"")).unwrap_or_else(|| panic!("{field} in the summary"));
    assert!(
        at("email") < at("password")
            && at("password") < at("place_of_work")
            && at("place_of_work") < at("register_number")
    );
    assert!(page.body.contains("value=\"Jo\""), "what was typed is kept");
    assert!(!page.body.contains("value=\"short\""), "but never the password");
    assert!(app.mail.all().is_empty());
    assert!(!audit_actions(&app, "riverside").await.iter().any(|a| a == "register"));
}

#[tokio::test]
async fn registering_an_existing_email_reveals_nothing_and_tells_its_owner() {
    let app = spawn_app().await;
    app.member("northmoor", "taken@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    let page = register(&mut v, "taken@northmoor.example").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Check your email"));
    app.mail.wait_for("taken@northmoor.example", "You already have an account").await;
}

#[tokio::test]
async fn wrong_credentials_get_one_message_and_brute_force_gets_429() {
    let app = spawn_app().await;
    app.member("fenwick", "real@fenwickdale.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("fenwick");
    let unknown = v.sign_in("nobody@fenwickdale.example", PW).await;
    let wrong = v.sign_in("real@fenwickdale.example", "not the password at all").await;
    assert_eq!((unknown.status, wrong.status), (401, 401));
    let msg = "Enter a correct email address and password";
    assert!(unknown.body.contains(msg) && wrong.body.contains(msg));
    // Five per account per window: the sixth and later are refused even with the right password.
    for _ in 0..4 {
        v.sign_in("real@fenwickdale.example", "still wrong password").await;
    }
    let blocked = v.sign_in("real@fenwickdale.example", PW).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    let retry: u64 = blocked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    assert!(audit_actions(&app, "fenwick").await.iter().any(|a| a == "sign_in.rate_limited"));
}

#[tokio::test]
async fn forms_without_a_valid_csrf_token_are_refused() {
    let app = spawn_app().await;
    app.member("northmoor", "csrf@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    let none = v.post("/sign-in", &[("email", "csrf@northmoor.example"), ("password", PW)]).await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("The form has expired or did not come from this site"));
    v.get("/sign-in").await; // has the cookie now, but sends a made-up token
    let forged =
        v.post("/sign-in", &[("csrf_token", "Zm9yZ2Vk"), ("email", "csrf@northmoor.example"), ("password", PW)]).await;
    assert_eq!(forged.status, 403);
    // A token from one visitor does not work for another.
    let mut other = app.visitor("northmoor");
    let token = other.get("/sign-in").await.csrf().unwrap();
    let mut third = app.visitor("northmoor");
    third.get("/sign-in").await;
    let stolen =
        third.post("/sign-in", &[("csrf_token", &token), ("email", "csrf@northmoor.example"), ("password", PW)]).await;
    assert_eq!(stolen.status, 403);
    assert_eq!(v.sign_in("csrf@northmoor.example", PW).await.status, 303, "with the form's own token it works");
    assert!(audit_actions(&app, "northmoor").await.iter().filter(|a| *a == "csrf.refused").count() >= 3);
}

#[tokio::test]
async fn a_session_is_renewed_at_sign_in_and_is_worth_nothing_on_another_trusts_host() {
    let app = spawn_app().await;
    app.member("northmoor", "two@northmoor.example", PW, &[Role::Learner]).await;
    app.member("riverside", "two@northmoor.example", PW, &[Role::Learner]).await;
    // Fixation: a session id planted before sign-in is replaced.
    let mut v = app.visitor("northmoor");
    v.cookies.insert("trellis_session".into(), "planted-by-an-attacker".into());
    v.sign_in_and_agree("two@northmoor.example", PW).await;
    let issued = v.cookies["trellis_session"].clone();
    assert_ne!(issued, "planted-by-an-attacker");
    assert_eq!(v.get("/profile").await.status, 200);
    // Signing in again issues yet another id and the old one stops working.
    let before = v.cookies.clone();
    v.sign_in("two@northmoor.example", PW).await;
    assert_ne!(v.cookies["trellis_session"], issued);
    let mut old = app.visitor("northmoor");
    old.cookies = before;
    assert_eq!(old.get("/profile").await.status, 303);
    // The same cookie on another trust's host (where the person is a member too) is nothing.
    let mut replay = v.with_cookies_on(&TestApp::host_of("riverside"));
    let there = replay.get("/profile").await;
    assert_eq!((there.status, there.location.as_deref()), (303, Some("/sign-in")));
    // The same credentials open the other trust with a session of its own.
    let mut r = app.visitor("riverside");
    r.sign_in_and_agree("two@northmoor.example", PW).await;
    assert!(r.get("/profile").await.body.contains("Riverside Community Health NHS Trust (approved)"));
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let app = spawn_app().await;
    app.member("northmoor", "many@northmoor.example", PW, &[Role::Learner]).await;
    let mut a = app.visitor("northmoor");
    let mut b = app.visitor("northmoor");
    a.sign_in_and_agree("many@northmoor.example", PW).await;
    b.sign_in_and_agree("many@northmoor.example", PW).await;
    let token = a.get("/profile").await.csrf().unwrap();
    assert_eq!(a.post("/sign-out-everywhere", &[("csrf_token", &token)]).await.status, 303);
    assert_eq!(b.get("/profile").await.status, 303);
    assert_eq!(a.get("/profile").await.status, 303);
}

#[tokio::test]
async fn a_learner_calling_an_admin_route_is_refused_and_recorded() {
    let app = spawn_app().await;
    app.member("riverside", "learner@riverside.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("riverside");
    assert_eq!(v.get("/admin/approvals").await.status, 303, "not signed in: to the sign-in page");
    v.sign_in_and_agree("learner@riverside.example", PW).await;
    let page = v.get("/admin/approvals").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("You do not have permission"));
    assert_eq!(v.get("/admin/audit").await.status, 403);
    let token = v.get("/profile").await.csrf().unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let post = v.post(&format!("/admin/approvals/{id}"), &[("csrf_token", &token), ("decision", "approve")]).await;
    assert_eq!(post.status, 403);
    assert!(audit_actions(&app, "riverside").await.iter().filter(|a| *a == "access.denied").count() >= 3);
}

#[tokio::test]
async fn an_admin_of_one_trust_cannot_see_or_decide_another_trusts_registrations() {
    let app = spawn_app().await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut newcomer = app.visitor("riverside");
    register(&mut newcomer, "pending@elsewhere.example").await;
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin(app.tenant_id("riverside").await).await.unwrap();
    let pending = trellis_db::identity::account_by_email(&itx, "pending@elsewhere.example").await.unwrap().unwrap();
    itx.commit().await.unwrap();

    let mut admin = app.visitor("northmoor");
    admin.sign_in_and_agree("boss@northmoor.example", PW).await;
    let queue = admin.get("/admin/approvals").await;
    assert!(!queue.body.contains("pending@elsewhere.example"));
    let token = admin.get("/profile").await.csrf().unwrap();
    let r = admin
        .post(&format!("/admin/approvals/{}", pending.id), &[("csrf_token", &token), ("decision", "approve")])
        .await;
    assert_eq!(r.status, 404);
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    let m = trellis_db::identity::membership(&tx, pending.id).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(m.status, trellis_db::identity::MembershipStatus::Pending, "riverside's registration is untouched");
    let trail = admin.get("/admin/audit").await.body;
    assert!(!trail.contains("pending@elsewhere.example"), "riverside's audit is not northmoor's");
}

#[tokio::test]
async fn links_are_single_use_expire_and_work_only_on_their_own_trust() {
    let app = spawn_app().await;
    let mut v = app.visitor("northmoor");
    register(&mut v, "links@northmoor.example").await;
    let mail = app.mail.wait_for("links@northmoor.example", "Confirm").await;
    let link = mail.link("verify-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    // Another trust's site does not accept it.
    let mut elsewhere = app.visitor("riverside");
    let wrong_site = elsewhere.submit("/verify-email", "/verify-email", &[("token", &token)]).await;
    assert_eq!(wrong_site.status, 400);
    assert!(wrong_site.body.contains("not valid here"));
    assert_eq!(v.submit("/verify-email", "/verify-email", &[("token", &token)]).await.status, 200);
    let replay = v.submit("/verify-email", "/verify-email", &[("token", &token)]).await;
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("already been used"));

    // An expired reset link.
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin(app.tenant_id("northmoor").await).await.unwrap();
    let p = trellis_db::identity::account_by_email(&itx, "links@northmoor.example").await.unwrap().unwrap();
    let old = trellis_db::identity::issue_token(
        &itx,
        p.id,
        trellis_db::identity::TokenPurpose::ResetPassword,
        chrono::Duration::seconds(-1),
    )
    .await
    .unwrap();
    itx.commit().await.unwrap();
    let expired = v
        .submit(
            "/password-reset/new",
            "/password-reset/new",
            &[("token", &old), ("password", "another fine long phrase")],
        )
        .await;
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("expired"));
    let actions = audit_actions(&app, "northmoor").await;
    assert!(actions.iter().filter(|a| *a == "link.refused").count() >= 2, "{actions:?}");
}

#[tokio::test]
async fn a_password_reset_changes_the_password_and_signs_out_everywhere() {
    let app = spawn_app().await;
    app.member("fenwick", "forgetful@fenwickdale.example", PW, &[Role::Learner]).await;
    let mut session = app.visitor("fenwick");
    session.sign_in_and_agree("forgetful@fenwickdale.example", PW).await;
    let mut v = app.visitor("fenwick");
    let same_a = v.submit("/password-reset", "/password-reset", &[("email", "forgetful@fenwickdale.example")]).await;
    let same_b = v.submit("/password-reset", "/password-reset", &[("email", "stranger@fenwickdale.example")]).await;
    assert_eq!((same_a.status, same_b.status), (200, 200));
    let mail = app.mail.wait_for("forgetful@fenwickdale.example", "Reset your password").await;
    assert!(app.mail.all().iter().all(|m| !m.to.contains(&"stranger@fenwickdale.example".to_owned())));
    let link = mail.link("password-reset/new?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let weak =
        v.submit("/password-reset/new", "/password-reset/new", &[("token", &token), ("password", "password123")]).await;
    assert_eq!(weak.status, 422);
    let done = v
        .submit(
            "/password-reset/new",
            "/password-reset/new",
            &[("token", &token), ("password", "a brand new long phrase")],
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(session.get("/profile").await.status, 303, "the old session ended");
    assert_eq!(v.sign_in("forgetful@fenwickdale.example", PW).await.status, 401);
    assert_eq!(v.sign_in("forgetful@fenwickdale.example", "a brand new long phrase").await.status, 303);
}

#[tokio::test]
async fn terms_are_accepted_once_recorded_and_asked_again_when_a_version_changes() {
    let app = spawn_app().await;
    app.member("northmoor", "reader@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    v.sign_in("reader@northmoor.example", PW).await;
    let page = v.get("/terms").await;
    // Northmoor has terms of its own beside the platform's.
    assert!(page.body.contains("Northmoor") && page.body.contains("Terms of use"), "{}", page.body);
    // A stale form (versions changed since it was shown) accepts nothing.
    let token = page.csrf().unwrap();
    let stale = v.post("/terms", &[("csrf_token", &token), ("accepting", "terms:1999-01-01")]).await;
    assert_eq!(stale.location.as_deref(), Some("/terms"));
    assert_eq!(v.get("/profile").await.location.as_deref(), Some("/terms"));
    v.accept_terms().await;
    assert_eq!(v.get("/profile").await.status, 200);

    // The trust publishes a new version of its terms: members accept again, only that one.
    let dir = tempfile::tempdir().unwrap();
    let src = trellis_testkit::demo_tenants().join("northmoor");
    std::fs::create_dir_all(dir.path().join("northmoor")).unwrap();
    for f in ["tenant.toml", "logo.svg"] {
        std::fs::copy(src.join(f), dir.path().join("northmoor").join(f)).unwrap();
    }
    let toml = std::fs::read_to_string(dir.path().join("northmoor/tenant.toml")).unwrap();
    let start = toml.find("[terms]").expect("northmoor declares terms");
    let line_start = toml[start..].find("version = ").unwrap() + start;
    let line_end = toml[line_start..].find('\n').unwrap() + line_start;
    let bumped = format!("{}version = \"2027-01-01\"{}", &toml[..line_start], &toml[line_end..]);
    std::fs::write(dir.path().join("northmoor/tenant.toml"), bumped).unwrap();
    let report = trellis_testkit::apply_dir(&app.config, &app.dbs().await, dir.path(), false).await.unwrap();
    assert!(report.lines.iter().any(|l| l.contains("members accept again")), "{:?}", report.lines);
    assert_eq!(v.get("/profile").await.location.as_deref(), Some("/terms"));
    let again = v.get("/terms").await;
    assert!(
        again.body.contains("2027-01-01") && !again.body.contains("id=\"doc-privacy\""),
        "only the changed document"
    );
    v.accept_terms().await;
    assert_eq!(v.get("/profile").await.status, 200);
    assert_eq!(audit_actions(&app, "northmoor").await.iter().filter(|a| *a == "terms.accepted").count(), 2);
}

#[tokio::test]
async fn a_training_manager_lists_searches_suspends_reinstates_and_assigns_roles() {
    let app = spawn_app().await;
    let boss = app.member("northmoor", "boss@northmoor.example", PW, &[Role::Learner, Role::TrainingManager]).await;
    let nurse = app.member("northmoor", "nurse.one@northmoor.example", PW, &[Role::Learner]).await;
    app.member("northmoor", "porter@northmoor.example", PW, &[Role::Learner]).await;
    let other = app.member("riverside", "river@riverside.example", PW, &[Role::Learner]).await;
    let mut admin = app.visitor("northmoor");
    admin.sign_in_and_agree("boss@northmoor.example", PW).await;
    let list = admin.get("/admin/staff").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("nurse.one@northmoor.example") && list.body.contains("porter@northmoor.example"));
    assert!(!list.body.contains("river@riverside.example"), "only this trust's staff");
    let found = admin.get("/admin/staff?q=NURSE").await.body;
    assert!(found.contains("nurse.one@northmoor.example") && !found.contains("porter@northmoor.example"));
    assert!(admin.get("/admin/staff?q=%25").await.body.contains("0 people"), "LIKE wildcards are literal");

    let token = list.csrf().unwrap();
    // Roles: exactly those ticked.
    let r = admin
        .post(
            &format!("/admin/staff/{nurse}/roles"),
            &[("csrf_token", &token), ("roles", "learner"), ("roles", "content_editor")],
        )
        .await;
    assert_eq!(r.status, 303);
    let tx = app.dbs().await.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    assert_eq!(
        trellis_db::identity::membership(&tx, nurse).await.unwrap().unwrap().roles,
        [Role::Learner, Role::ContentEditor]
    );
    tx.rollback().await.unwrap();
    let bad = admin.post(&format!("/admin/staff/{nurse}/roles"), &[("csrf_token", &token), ("roles", "root")]).await;
    assert_eq!(bad.status, 400);
    let own = admin.post(&format!("/admin/staff/{boss}/roles"), &[("csrf_token", &token), ("roles", "learner")]).await;
    assert_eq!(own.status, 400, "no one locks themselves out");

    // Suspension ends the nurse's session and stops sign-in; reinstating restores it.
    let mut nurse_browser = app.visitor("northmoor");
    nurse_browser.sign_in_and_agree("nurse.one@northmoor.example", PW).await;
    assert_eq!(nurse_browser.get("/profile").await.status, 200);
    let s =
        admin.post(&format!("/admin/staff/{nurse}/status"), &[("csrf_token", &token), ("decision", "suspend")]).await;
    assert_eq!(s.status, 303);
    assert_eq!(nurse_browser.get("/profile").await.location.as_deref(), Some("/sign-in"));
    let refused = nurse_browser.sign_in("nurse.one@northmoor.example", PW).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("withdrawn"));
    assert!(admin.get("/admin/staff").await.body.contains("(suspended)"));
    admin.post(&format!("/admin/staff/{nurse}/status"), &[("csrf_token", &token), ("decision", "reinstate")]).await;
    assert_eq!(nurse_browser.sign_in("nurse.one@northmoor.example", PW).await.status, 303);
    assert_eq!(
        admin
            .post(&format!("/admin/staff/{boss}/status"), &[("csrf_token", &token), ("decision", "suspend")])
            .await
            .status,
        400
    );

    // Another trust's member cannot be touched from here.
    let cross =
        admin.post(&format!("/admin/staff/{other}/status"), &[("csrf_token", &token), ("decision", "suspend")]).await;
    assert_eq!(cross.status, 404);
    let cross = admin
        .post(&format!("/admin/staff/{other}/roles"), &[("csrf_token", &token), ("roles", "training_manager")])
        .await;
    assert_eq!(cross.status, 404);
    let actions = audit_actions(&app, "northmoor").await;
    for a in ["roles.changed", "membership.suspended", "membership.reinstated"] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
}

#[tokio::test]
async fn an_email_change_takes_effect_only_through_a_link_to_the_new_address() {
    let app = spawn_app().await;
    app.member("northmoor", "old@northmoor.example", PW, &[Role::Learner]).await;
    app.member("northmoor", "someone.else@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree("old@northmoor.example", PW).await;
    let wrong = v
        .submit(
            "/account/email",
            "/account/email",
            &[("email", "new@northmoor.example"), ("password", "not my password")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("Enter your current password"));
    let ok =
        v.submit("/account/email", "/account/email", &[("email", "New@Northmoor.example"), ("password", PW)]).await;
    assert_eq!(ok.status, 200);
    // Nothing changed yet.
    let mut fresh = app.visitor("northmoor");
    assert_eq!(fresh.sign_in("old@northmoor.example", PW).await.status, 303);
    let mail = app.mail.wait_for("new@northmoor.example", "Confirm your new email address").await;
    let token = mail.link("account/email/confirm?token=").unwrap().split("token=").nth(1).unwrap().to_owned();
    let done = v.submit("/account/email/confirm", "/account/email/confirm", &[("token", &token)]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    app.mail.wait_for("old@northmoor.example", "Your email address has changed").await;
    let mut after = app.visitor("northmoor");
    assert_eq!(after.sign_in("new@northmoor.example", PW).await.status, 303);
    assert_eq!(after.sign_in("old@northmoor.example", PW).await.status, 401);
    // The link is spent.
    assert_eq!(v.submit("/account/email/confirm", "/account/email/confirm", &[("token", &token)]).await.status, 400);

    // An address another account took meanwhile is refused at confirmation.
    let mut w = app.visitor("northmoor");
    w.sign_in_and_agree("new@northmoor.example", PW).await;
    w.submit("/account/email", "/account/email", &[("email", "someone.else@northmoor.example"), ("password", PW)])
        .await;
    let mail = app.mail.wait_for("someone.else@northmoor.example", "Confirm your new email address").await;
    let token = mail.link("account/email/confirm?token=").unwrap().split("token=").nth(1).unwrap().to_owned();
    assert_eq!(w.submit("/account/email/confirm", "/account/email/confirm", &[("token", &token)]).await.status, 409);
}

#[tokio::test]
async fn closing_an_account_ends_every_session_and_sign_in() {
    let app = spawn_app().await;
    app.member("northmoor", "leaving@northmoor.example", PW, &[Role::Learner]).await;
    app.member("riverside", "leaving@northmoor.example", PW, &[Role::Learner]).await;
    let mut here = app.visitor("northmoor");
    let mut there = app.visitor("riverside");
    here.sign_in_and_agree("leaving@northmoor.example", PW).await;
    there.sign_in_and_agree("leaving@northmoor.example", PW).await;
    let token = here.get("/profile").await.csrf().unwrap();
    assert_eq!(here.post("/account/close", &[("csrf_token", &token)]).await.status, 400, "needs the box ticked");
    let closed = here.post("/account/close", &[("csrf_token", &token), ("confirm", "yes")]).await;
    assert_eq!(closed.status, 200);
    assert_eq!(there.get("/profile").await.location.as_deref(), Some("/sign-in"), "signed out on every trust's site");
    let mut again = app.visitor("riverside");
    assert_eq!(again.sign_in("leaving@northmoor.example", PW).await.status, 401);
}

#[tokio::test]
async fn a_trust_admin_edits_colours_and_key_messages_and_apply_keeps_the_edit() {
    let app = spawn_app().await;
    app.member("riverside", "editor@riverside.example", PW, &[Role::Learner, Role::TrainingManager]).await;
    app.member("riverside", "reader@riverside.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("riverside");
    v.sign_in_and_agree("editor@riverside.example", PW).await;
    let page = v.get("/admin/site").await;
    assert_eq!(page.status, 200, "{}", page.body);
    // A failing pair is named with its ratio; nothing changes.
    let bad = v
        .submit(
            "/admin/site",
            "/admin/site/colours",
            &[("primary", "#a0c4ff"), ("on_primary", "#ffffff"), ("link", "#005eb8"), ("accent", "#007f3b")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("the text on the header and buttons is too hard to see against the header and button background (contrast 1.77:1; it needs at least 4.5:1)"),
        "{}",
        bad.body
    );
    let typo = v
        .submit(
            "/admin/site",
            "/admin/site/colours",
            &[("primary", "blue"), ("on_primary", "#ffffff"), ("link", "#005eb8"), ("accent", "#007f3b")],
        )
        .await;
    assert_eq!(typo.status, 422);
    // A good scheme shows at once on the trust's pages.
    let ok = v
        .submit(
            "/admin/site",
            "/admin/site/colours",
            &[("primary", "#330072"), ("on_primary", "#ffffff"), ("link", "#005eb8"), ("accent", "#007f3b")],
        )
        .await;
    assert_eq!(ok.status, 303);
    let home = app.get(&TestApp::host_of("riverside"), "/").await.text().await.unwrap();
    let sheet = home.split("href=\"/trust-style/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let css = app.get(&TestApp::host_of("riverside"), &format!("/trust-style/{sheet}")).await.text().await.unwrap();
    assert!(css.contains("--trellis-primary: #330072;"), "{css}");
    // Re-applying the tenant files keeps the admin's edit.
    let report = trellis_testkit::apply_dir(&app.config, &app.dbs().await, &trellis_testkit::demo_tenants(), false)
        .await
        .unwrap();
    assert!(
        report.lines.iter().any(|l| l.starts_with("riverside: branding was edited by the trust's admins; kept")),
        "{:?}",
        report.lines
    );

    // Key messages: add (with a bad date first), then it shows on the home page; delete it.
    let bad = v
        .submit(
            "/admin/site",
            "/admin/site/messages",
            &[("title", "Flu jabs"), ("body", "Clinics all week."), ("starts_on", "next week")],
        )
        .await;
    assert_eq!(bad.status, 422);
    let added = v
        .submit(
            "/admin/site",
            "/admin/site/messages",
            &[("title", "Flu jabs"), ("body", "Clinics all week."), ("starts_on", "2020-01-01")],
        )
        .await;
    assert_eq!(added.status, 303);
    assert!(app.get(&TestApp::host_of("riverside"), "/").await.text().await.unwrap().contains("Flu jabs"));
    let editor = v.get("/admin/site").await.body;
    let at = editor.find("Flu jabs").unwrap();
    let id = editor[..at].rsplit("/admin/site/messages/").next().unwrap().split('"').next().unwrap().to_owned();
    let deleted = v.submit("/admin/site", &format!("/admin/site/messages/{id}"), &[("action", "delete")]).await;
    assert_eq!(deleted.status, 303);
    assert!(!app.get(&TestApp::host_of("riverside"), "/").await.text().await.unwrap().contains("Flu jabs"));
    // Another trust's admin page cannot reach this message; a learner cannot edit at all.
    let mut reader = app.visitor("riverside");
    reader.sign_in_and_agree("reader@riverside.example", PW).await;
    assert_eq!(reader.get("/admin/site").await.status, 403);
}

#[tokio::test]
async fn a_new_confirmation_link_goes_only_to_an_unconfirmed_member_and_the_page_says_the_same() {
    let app = spawn_app().await;
    app.member("northmoor", "confirmed@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    register(&mut v, "slow@northmoor.example").await;
    app.mail.wait_for("slow@northmoor.example", "Confirm your email address").await;
    let pages = [
        v.submit("/verify-email/resend", "/verify-email/resend", &[("email", "slow@northmoor.example")]).await,
        v.submit("/verify-email/resend", "/verify-email/resend", &[("email", "confirmed@northmoor.example")]).await,
        v.submit("/verify-email/resend", "/verify-email/resend", &[("email", "nobody@northmoor.example")]).await,
    ];
    for p in &pages {
        assert_eq!(p.status, 200);
        assert!(p.body.contains("we have sent it a new link"));
    }
    let start = std::time::Instant::now();
    while app.mail.all().iter().filter(|m| m.to.contains(&"slow@northmoor.example".to_owned())).count() < 2 {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "no second link");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(app.mail.all().iter().all(|m| !m.to.contains(&"confirmed@northmoor.example".to_owned())));
    // The new link works.
    let done = confirm(&app, &mut v, "slow@northmoor.example").await;
    assert_eq!(done.status, 200);
}

#[tokio::test]
async fn registration_suggests_the_organisations_the_service_knows_and_names_the_one_entered() {
    let app = spawn_app().await;
    let mut v = app.visitor("riverside");
    let form = v.get("/register").await;
    assert_eq!(form.status, 200);
    // The place of work field suggests every trust on the platform, by name, with its code.
    assert!(form.body.contains("list=\"organisations\""), "{}", form.body);
    assert!(form.body.contains("<option value=\"XN1\">Northmoor"), "{}", form.body);
    assert!(form.body.contains("<option value=\"XR2\">Riverside"), "{}", form.body);
    // A refused form names the organisation whose code was entered.
    let mut fields = registration("not-an-email");
    fields[5] = ("place_of_work", "xn1");
    let page = v.submit("/register", "/register", &fields).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("This is Northmoor"), "{}", page.body);
}
