//! The security hardening's defects, each tried as an attacker or a hospital would (issue:
//! security hardening): accounts pulled into a trust by an import, sign-in limits that count
//! successes, answers that tell a right password from a wrong one, unequal work for unknown
//! addresses, floods of emailed links, and trust work on the role that bypasses row-level security.

use std::time::Duration;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app};

const PW: &str = trellis_testkit::PASSWORD;

/// Checks a staff file and applies it; returns the import page once the worker has run it.
async fn import(boss: &mut Visitor, csv: &str) -> (String, String) {
    let page = boss.get("/admin/staff/import").await;
    let t = page.csrf().unwrap();
    let plan = boss
        .post_multipart("/admin/staff/import", &[("csrf_token", &t)], ("file", "staff.csv", "text/csv", csv.as_bytes()))
        .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let at = plan.body.find("name=\"file\" value=\"").unwrap() + "name=\"file\" value=\"".len();
    let file = plan.body[at..at + 64].to_owned();
    let t = plan.csrf().unwrap();
    assert_eq!(boss.post("/admin/staff/import/apply", &[("csrf_token", &t), ("file", &file)]).await.status, 303);
    let mut done = String::new();
    for _ in 0..100 {
        done = boss.get("/admin/staff/import").await.body;
        if done.contains("imported —") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (plan.body, done)
}

#[tokio::test]
async fn a_staff_import_invites_existing_accounts_and_never_pulls_them_in() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    app.member("riverside", "learner@riverside.example", PW, &[Role::Learner]).await;
    app.member("riverside", "training.manager@riverside.example", PW, &[Role::TrainingManager]).await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";
    let csv = format!(
        "{head}20000001,Nina,New,nina.new@northmoor.example,Porter,Estates,Estates and Ancillary,General\n\
         20000002,Lena,Learner,learner@riverside.example,Nurse,Ward 7,Nursing and Midwifery Registered,General\n\
         20000003,Tom,Manager,training.manager@riverside.example,Manager,Education,Administrative and Clerical,General\n\
         20000004,Root,Admin,root@platform.example,Admin,IT,Administrative and Clerical,General\n"
    );
    let (plan, done) = import(&mut boss, &csv).await;
    // The preview says the same of a new address and an existing account.
    assert!(plan.contains("4 people added to your staff"), "{plan}");
    assert_eq!(plan.matches("Added to your staff").count(), 4, "{plan}");
    assert!(!plan.contains("Joins") && !plan.contains("existing account") && !plan.contains("New account"));
    assert!(done.contains("4 added"), "{done}");

    // Only the new address is on the staff list; the others are not members and are not shown.
    let staff = boss.get("/admin/staff").await.body;
    assert!(staff.contains("nina.new@northmoor.example"), "{staff}");
    for other in ["learner@riverside.example", "training.manager@riverside.example", "root@platform.example"] {
        assert!(!staff.contains(other), "{other} was pulled in");
    }
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let itx = dbs.identity.begin(north).await.unwrap();
    let lena = trellis_db::identity::account_by_email(&itx, "learner@riverside.example").await.unwrap().unwrap();
    let root = trellis_db::identity::account_by_email(&itx, "root@platform.example").await.unwrap().unwrap();
    assert!(trellis_db::identity::membership_here(&itx, lena.id).await.unwrap().is_none());
    assert!(trellis_db::identity::membership_here(&itx, root.id).await.unwrap().is_none());
    itx.commit().await.unwrap();

    // The two trust accounts are invited by email; the platform administrator is not, and the
    // trust is not told why.
    let mail = app.mail.wait_for("learner@riverside.example", "You are invited to join").await;
    app.mail.wait_for("training.manager@riverside.example", "You are invited to join").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!app.mail.all().iter().any(|m| m.to.iter().any(|t| t == "root@platform.example")));
    assert!(
        dbs.platform
            .recent_audit_across_tenants(50)
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == "import.platform_admin_skipped")
    );

    // Accepting joins Lena, with the record the import carried; she signs in with her own password.
    let link = mail.link("invitation?token=").unwrap();
    let path = &link[link.find("/invitation").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let mut lena_browser = app.visitor("northmoor");
    let shown = lena_browser.get(path).await;
    assert!(shown.body.contains("Accept the invitation"), "{}", shown.body);
    let accepted = lena_browser.submit(path, "/invitation", &[("token", &token)]).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert!(accepted.body.contains("You have joined"));
    let t = shown.csrf().unwrap();
    let again = lena_browser.post("/invitation", &[("csrf_token", &t), ("token", &token)]).await;
    assert_eq!(again.status, 400, "accepted once");
    assert_eq!(lena_browser.get(path).await.status, 400);
    let staff = boss.get("/admin/staff").await.body;
    assert!(staff.contains("learner@riverside.example"), "{staff}");
    let mut lena_in = app.visitor("northmoor");
    lena_in.sign_in_and_agree("learner@riverside.example", PW).await;
    // Another trust's manager cannot use Northmoor's invitation link on their own site.
    let mut rex = app.visitor("riverside");
    assert_eq!(rex.get(path).await.status, 400);
}

#[tokio::test]
async fn two_hundred_staff_behind_one_address_all_sign_in_and_failures_count_per_account_everywhere() {
    let app = spawn_app().await;
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    for i in 0..200 {
        let new = trellis_db::identity::NewPerson {
            email: format!("nurse{i}@northmoor.example"),
            password_hash: Some(hash.clone()),
            given_name: "Nurse".into(),
            family_name: format!("{i}"),
            job_role: "Nurse".into(),
            place_of_work: "XN1".into(),
            register_kind: None,
            register_number: None,
        };
        trellis_db::identity::accounts::seed_member(&dbs, north, new, &[Role::Learner]).await.unwrap();
    }
    // Every request comes from 127.0.0.1: one hospital's address.
    for i in 0..200 {
        let mut v = app.visitor("northmoor");
        let page = v.sign_in(&format!("nurse{i}@northmoor.example"), PW).await;
        assert_eq!(page.status, 303, "sign-in {i}: {}", page.body);
    }
    // A few typos from the same address change nothing for anyone else.
    for i in 0..3 {
        assert_eq!(app.visitor("northmoor").sign_in(&format!("nurse{i}@northmoor.example"), "typo").await.status, 401);
    }
    assert_eq!(app.visitor("northmoor").sign_in("nurse199@northmoor.example", PW).await.status, 303);

    // Guesses at one account are counted across trusts: five anywhere, then 429 everywhere.
    app.member("riverside", "nurse7@northmoor.example", PW, &[Role::Learner]).await;
    for slug in ["northmoor", "riverside", "northmoor", "riverside", "fenwick"] {
        assert_eq!(app.visitor(slug).sign_in("nurse7@northmoor.example", "guess").await.status, 401);
    }
    for slug in ["northmoor", "riverside", "fenwick"] {
        let refused = app.visitor(slug).sign_in("nurse7@northmoor.example", PW).await;
        assert_eq!(refused.status, 429, "{slug}");
        assert!(refused.headers.contains_key("retry-after"));
    }
    let mut join = app.visitor("fenwick");
    let tried = join.submit("/join", "/join", &[("email", "nurse7@northmoor.example"), ("password", PW)]).await;
    assert_eq!(tried.status, 429, "joining is not a way round it");
}

/// Strips what differs between two renderings of the same page (the form's CSRF token).
fn without_tokens(body: &str) -> String {
    body.split("name=\"csrf_token\" value=\"").map(|part| part.split_once('"').map_or(part, |(_, rest)| rest)).collect()
}

#[tokio::test]
async fn the_right_password_at_a_trust_one_has_not_joined_reads_like_a_wrong_one() {
    let app = spawn_app().await;
    app.member("riverside", "rita@riverside.example", PW, &[Role::Learner]).await;
    let right = app.visitor("northmoor").sign_in("rita@riverside.example", PW).await;
    let wrong = app.visitor("northmoor").sign_in("rita@riverside.example", "not her password").await;
    let nobody = app.visitor("northmoor").sign_in("nobody@riverside.example", "not her password").await;
    assert_eq!((right.status, wrong.status, nobody.status), (401, 401, 401));
    assert_eq!(without_tokens(&right.body), without_tokens(&wrong.body));
    assert_eq!(
        without_tokens(&wrong.body).replace("nobody@", "rita@"),
        without_tokens(&nobody.body).replace("nobody@", "rita@")
    );
    assert!(right.body.contains("href=\"/join\""), "the way to join is offered to all");
}

async fn checks(app: &TestApp, against: &str) -> u64 {
    let text = reqwest::get(format!("http://{}/metrics", app.metrics_addr)).await.unwrap().text().await.unwrap();
    text.lines()
        .find(|l| l.starts_with("trellis_password_checks_total") && l.contains(&format!("against=\"{against}\"")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn an_unknown_address_costs_the_same_one_password_check_as_a_known_one() {
    let app = spawn_app().await;
    app.member("northmoor", "kim@northmoor.example", PW, &[Role::Learner]).await;
    let (a0, s0) = (checks(&app, "account").await, checks(&app, "stand-in").await);
    app.visitor("northmoor").sign_in("kim@northmoor.example", "wrong").await;
    assert_eq!((checks(&app, "account").await, checks(&app, "stand-in").await), (a0 + 1, s0));
    app.visitor("northmoor").sign_in("nobody@northmoor.example", "wrong").await;
    assert_eq!((checks(&app, "account").await, checks(&app, "stand-in").await), (a0 + 1, s0 + 1));
    // Nothing is hashed afresh for the unknown address: the stand-in was made at start-up.
}

#[tokio::test]
async fn emailed_links_are_limited_per_recipient_whoever_asks() {
    let app = spawn_app().await;
    let mut v = app.visitor("northmoor");
    let reg = v
        .submit(
            "/register",
            "/register",
            &[
                ("given_name", "Slow"),
                ("family_name", "Reader"),
                ("email", "slow.reader@northmoor.example"),
                ("password", "a perfectly long passphrase"),
                ("job_role", "Nurse"),
                ("place_of_work", "RXX"),
            ],
        )
        .await;
    assert_eq!(reg.status, 200, "{}", reg.body);
    app.mail.wait_for("slow.reader@northmoor.example", "Confirm your email address").await;
    for _ in 0..21 {
        let page = app
            .visitor("northmoor")
            .submit("/verify-email/resend", "/verify-email/resend", &[("email", "slow.reader@northmoor.example")])
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("If slow.reader@northmoor.example has an account here"));
    }
    for _ in 0..10 {
        app.visitor("riverside")
            .submit("/password-reset", "/password-reset", &[("email", "slow.reader@northmoor.example")])
            .await;
        app.visitor("northmoor")
            .submit("/password-reset", "/password-reset", &[("email", "slow.reader@northmoor.example")])
            .await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let to_her = |subject: &str| {
        app.mail
            .all()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == "slow.reader@northmoor.example") && m.subject.contains(subject))
            .count()
    };
    // The first confirmation, plus at most three more this hour; at most three resets.
    assert_eq!(to_her("Confirm your email address"), 3, "the registration's link counts towards the three");
    assert!(to_her("Reset your password") <= 3);
}

/// The role that bypasses row-level security is never used for a trust's requests or jobs: with
/// its rights on people and trust data taken away, every journey still works.
#[tokio::test]
async fn trust_requests_and_jobs_never_use_the_role_that_bypasses_row_level_security() {
    let app = spawn_app().await;
    if app.db.backend != trellis_testkit::Backend::Postgres {
        return; // SQLite has one file and no roles: nothing to take away.
    }
    use sea_orm::ConnectionTrait;
    let owner = app.db.raw_owner_connection().await;
    owner
        .execute_unprepared(&format!(
            "REVOKE ALL ON people, memberships, membership_roles, staff_records, enrolments, assignments, requirements,
                   audit_events, person_sessions, sso_links, invitations, identity_proofs, platform_terms_acceptances,
                   tenant_terms_acceptances, person_secrets, mfa_recovery_codes, email_tokens FROM {}",
            trellis_db::PLATFORM_ROLE
        ))
        .await
        .unwrap();
    // Register, confirm, accept the terms, sign in, sign out everywhere.
    let mut v = app.visitor("northmoor");
    let reg = v
        .submit(
            "/register",
            "/register",
            &[
                ("given_name", "Ada"),
                ("family_name", "Lovel"),
                ("email", "ada@northmoor.example"),
                ("password", "a perfectly long passphrase"),
                ("job_role", "Nurse"),
                ("place_of_work", "RXX"),
            ],
        )
        .await;
    assert_eq!(reg.status, 200, "{}", reg.body);
    let mail = app.mail.wait_for("ada@northmoor.example", "Confirm your email address").await;
    let link = mail.link("verify-email?token=").unwrap();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(v.submit("/verify-email?token=x", "/verify-email", &[("token", &token)]).await.status, 200);
    v.sign_in_and_agree("ada@northmoor.example", "a perfectly long passphrase").await;
    // Join another trust with the same account.
    let mut r = app.visitor("riverside");
    let joined = r
        .submit("/join", "/join", &[("email", "ada@northmoor.example"), ("password", "a perfectly long passphrase")])
        .await;
    assert!(joined.status == 303 || joined.status == 200, "{}", joined.body);
    // A password reset.
    assert_eq!(
        app.visitor("northmoor")
            .submit("/password-reset", "/password-reset", &[("email", "ada@northmoor.example")])
            .await
            .status,
        200
    );
    let mail = app.mail.wait_for("ada@northmoor.example", "Reset your password").await;
    let token = mail.link("token=").unwrap().split("token=").nth(1).unwrap().to_owned();
    let reset = app
        .visitor("northmoor")
        .submit(
            "/password-reset/new?token=x",
            "/password-reset/new",
            &[("token", &token), ("password", "another fine long phrase")],
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    // A staff import (the worker's job) and a manager's pages.
    let mut boss = app
        .person("northmoor", "boss@northmoor.example")
        .roles(&[Role::TrainingManager, Role::ContentEditor])
        .signed_in()
        .await
        .0;
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";
    let (_, done) = import(
        &mut boss,
        &format!("{head}20000011,Ian,Port,ian@northmoor.example,Porter,Estates,Estates and Ancillary,General\n"),
    )
    .await;
    assert!(done.contains("1 added"), "{done}");
    for page in [
        "/admin/staff",
        "/admin/approvals",
        "/admin/audit",
        "/admin/compliance",
        "/admin/training",
        "/admin/enrolments",
        "/admin/courses",
        "/admin/lrs",
        "/admin/site",
        "/admin/sso",
        "/marketplace",
        "/selling",
        "/courses",
        "/learning",
        "/profile",
        "/account/mfa",
        "/account/email",
    ] {
        assert_eq!(boss.get(page).await.status, 200, "{page}");
    }
}
