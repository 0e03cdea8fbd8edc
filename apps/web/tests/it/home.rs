//! Each role's home after signing in, the header that says who is signed in, and the Admin page
//! that lists the tools a person may use.

use trellis_domain::identity::Role;
use trellis_testkit::spawn_app;

const PW: &str = "violet tractor harbour";

#[tokio::test]
async fn signing_in_lands_on_a_home_of_ones_own_and_the_header_says_who_is_signed_in() {
    let app = spawn_app().await;
    app.member("northmoor", "nurse@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");

    // Signed out, the home offers signing in and registering.
    let public = v.get("/").await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("Create an account"));
    assert!(!public.body.contains("Signed in as"));

    let signed = v.sign_in("nurse@northmoor.example", PW).await;
    assert_eq!((signed.status, signed.location.as_deref()), (303, Some("/")));
    v.accept_terms().await;
    let home = v.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Training you need to do"), "{}", home.body);
    assert!(home.body.contains("You are up to date with your mandatory training"));
    assert!(!home.body.contains("Create an account"), "no registration offered to someone signed in");
    assert!(!home.body.contains("href=\"/sign-in\""), "no sign-in offered to someone signed in");
    assert!(home.body.contains("Signed in as"));
    assert!(home.body.contains("action=\"/sign-out\""), "a sign-out button in the header");
    assert!(!home.body.contains("Your trust at a glance"), "a learner does not see the trust's figures");
    assert!(!home.body.contains("href=\"/admin\""), "a learner has no Admin entry");

    // The learner's Admin page lists nothing they cannot use.
    let admin = v.get("/admin").await;
    assert_eq!(admin.status, 200);
    assert!(admin.body.contains("You have no administrative tools on this site"));

    // The header's sign-out form works, and the home is the public one again.
    let token = home.csrf().unwrap();
    assert_eq!(v.post("/sign-out", &[("csrf_token", &token)]).await.status, 303);
    let after = v.get("/").await;
    assert!(after.body.contains("Create an account"));
    assert!(!after.body.contains("Signed in as"));
}

#[tokio::test]
async fn a_training_managers_home_shows_the_trust_at_a_glance_and_another_trusts_site_shows_nothing_of_it() {
    let app = spawn_app().await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree("boss@northmoor.example", PW).await;
    let home = v.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Your trust at a glance"), "{}", home.body);
    assert!(home.body.contains("Registrations waiting"));
    assert!(home.body.contains("Enrolment requests"));
    assert!(home.body.contains("Mandatory training completed"));
    assert!(home.body.contains("role=\"img\""), "the chart is an image with a text alternative");
    assert!(home.body.contains("href=\"/admin\""), "an Admin entry in the header");
    let admin = v.get("/admin").await;
    for tool in ["/admin/compliance", "/admin/training", "/admin/approvals", "/admin/staff/import", "/admin/audit"] {
        assert!(admin.body.contains(&format!("href=\"{tool}\"")), "the Admin page lists {tool}");
    }

    // An action says what it did, once, on the page it leads to.
    let token = admin.csrf().unwrap();
    let sent = v.post("/admin/compliance/remind", &[("csrf_token", &token)]).await;
    assert_eq!(sent.status, 303);
    let to = sent.location.unwrap();
    let after = v.get(&to).await;
    assert!(after.body.contains("nhsuk-notification-banner--success"), "{}", after.body);
    assert!(after.body.contains("Reminders are being sent"));
    assert!(!v.get(&to).await.body.contains("Reminders are being sent"), "said once");
    // The compliance page shows the run while it sends, then what it did.
    let mut last = String::new();
    for _ in 0..100 {
        let page = v.get("/admin/compliance").await;
        assert!(page.body.contains("id=\"reminders-status\""), "{}", page.body);
        if page.body.contains("Last reminders:") {
            last = page.body;
            break;
        }
        assert!(page.body.contains("Sending the reminders"), "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last.contains("nobody was overdue who had not already been reminded"), "{last}");

    // The same cookies presented on another trust's site are nobody there.
    let mut elsewhere = v.with_cookies_on(&trellis_testkit::TestApp::host_of("riverside"));
    let there = elsewhere.get("/").await;
    assert_eq!(there.status, 200);
    assert!(!there.body.contains("Your trust at a glance"));
    assert!(!there.body.contains("Signed in as"));
    assert!(there.body.contains("Create an account"));
}

#[tokio::test]
async fn a_key_message_takes_its_dates_as_day_month_and_year_and_a_wrong_one_is_shown_again() {
    let app = spawn_app().await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree("boss@northmoor.example", PW).await;
    let page = v.get("/admin/site").await;
    assert!(page.body.contains("name=\"starts_on-day\""), "the NHS date input");
    let token = page.csrf().unwrap();
    let wrong = v
        .post(
            "/admin/site/messages",
            &[
                ("csrf_token", &token),
                ("title", "Flu jabs"),
                ("body", "Clinics all week."),
                ("starts_on-day", "31"),
                ("starts_on-month", "2"),
                ("starts_on-year", "2026"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("as a real date"), "{}", wrong.body);
    assert!(wrong.body.contains("value=\"31\""), "what was typed is shown again");
    let added = v
        .post(
            "/admin/site/messages",
            &[
                ("csrf_token", &token),
                ("title", "Flu jabs"),
                ("body", "Clinics all week."),
                ("starts_on-day", "1"),
                ("starts_on-month", "1"),
                ("starts_on-year", "2020"),
            ],
        )
        .await;
    assert_eq!(added.status, 303);
    let after = v.get(added.location.as_deref().unwrap()).await;
    assert!(after.body.contains("Key message added"));
    assert!(v.get("/").await.body.contains("Flu jabs"));
}

#[tokio::test]
async fn the_compliance_trend_is_kept_day_by_day_for_each_trust_alone() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    // The first home counts the trust's figures, which keeps today's; the trend shows it.
    let first = boss.get("/").await;
    assert!(first.body.contains("Compliance over the last 12 weeks"), "{}", first.body);
    let today = chrono::Utc::now().date_naive();
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let riverside = app.tenant_id("riverside").await;
    let mut kept = false;
    for _ in 0..50 {
        let tx = dbs.app.begin_read(northmoor).await.unwrap();
        kept = !trellis_db::compliance::history(&tx, today - chrono::Duration::days(1)).await.unwrap().is_empty();
        tx.commit().await.unwrap();
        if kept {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(kept, "today's figures are kept");
    let home = boss.get("/").await;
    assert!(home.body.contains("id=\"trend-title\""), "the trend is drawn: {}", home.body);
    assert!(home.body.contains("Week ending"), "with its table");
    // Another trust reads only its own figures: one row for today at most (Northmoor's row for
    // the same day would make two).
    let tx = dbs.app.begin_read(riverside).await.unwrap();
    let theirs = trellis_db::compliance::history(&tx, today - chrono::Duration::days(90)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(theirs.len() <= 1, "{theirs:?}");
}
