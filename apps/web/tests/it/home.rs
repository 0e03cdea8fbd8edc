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

/// Follows an action's `303` and returns the success banner's words on the page it leads to.
async fn banner_after(v: &mut trellis_testkit::Visitor, done: trellis_testkit::Page) -> String {
    assert_eq!(done.status, 303, "the action redirects: {}", done.body);
    let next = v.get(done.location.as_deref().expect("a Location")).await;
    let Some(at) = next.body.find("nhsuk-notification-banner--success") else {
        panic!("no success banner on {:?}: {}", done.location, next.body)
    };
    let rest = &next.body[at..];
    let start = rest.find("nhsuk-notification-banner__heading\">").expect("the banner's heading") + 36;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].trim().to_owned()
}

/// Actions that used to return to a page with nothing said each leave a message in the success
/// banner of the page they lead to (issue 18, "feedback after every action"), shown once.
#[tokio::test]
async fn each_action_says_what_it_did_on_the_page_it_leads_to() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").signed_in().await;
    let open =
        app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know your exits.").published().create().await;
    let asked = app
        .course("northmoor", "SEP-1", "Sepsis")
        .approval()
        .page("Signs", "Spot it early.")
        .published()
        .create()
        .await;

    // A learner enrols, leaves, and asks for a place.
    let t = amara.get(&format!("/courses/{open}")).await.csrf().unwrap();
    let enrolled = amara.post(&format!("/courses/{open}/enrol"), &[("csrf_token", &t)]).await;
    assert_eq!(banner_after(&mut amara, enrolled).await, "You are enrolled on Fire safety");
    let again = amara.get(&format!("/courses/{open}")).await;
    assert!(!again.body.contains("nhsuk-notification-banner--success"), "shown once");
    let left = amara.post(&format!("/courses/{open}/leave"), &[("csrf_token", &t)]).await;
    assert_eq!(banner_after(&mut amara, left).await, "You have left Fire safety");
    let requested = amara.post(&format!("/courses/{asked}/enrol"), &[("csrf_token", &t)]).await;
    assert!(banner_after(&mut amara, requested).await.starts_with("Request sent"));

    // The training manager decides it.
    let queue = boss.get("/admin/enrolments").await;
    let at = queue.body.find("/admin/enrolments/").expect("a request") + "/admin/enrolments/".len();
    let request: String = queue.body[at..].chars().take(36).collect();
    let t = queue.csrf().unwrap();
    let decided =
        boss.post(&format!("/admin/enrolments/{request}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(banner_after(&mut boss, decided).await, "Request approved");

    // A course made, then unpublished.
    let made = boss
        .submit(
            "/admin/courses/new",
            "/admin/courses/new",
            &[("kind", "course"), ("title", "Manual handling"), ("code", "MH-1"), ("enrolment", "open")],
        )
        .await;
    assert!(banner_after(&mut boss, made).await.starts_with("Course created"));
    let t = boss.get(&format!("/admin/courses/{open}")).await.csrf().unwrap();
    let off = boss.post(&format!("/admin/courses/{open}/unpublish"), &[("csrf_token", &t)]).await;
    assert!(banner_after(&mut boss, off).await.starts_with("Course unpublished"));

    // A training rule added, then removed.
    let added = crate::mandatory_for_group(&mut boss, &asked.to_string(), "Nursing and Midwifery Registered").await;
    assert_eq!(added.status, 200, "{}", added.body);
    let t = added.csrf().unwrap();
    let at = added.body.find("/admin/training/").expect("the rule's remove form") + "/admin/training/".len();
    let rule: String = added.body[at..].chars().take(36).collect();
    let removed = boss.post(&format!("/admin/training/{rule}/remove"), &[("csrf_token", &t)]).await;
    assert!(banner_after(&mut boss, removed).await.starts_with("Rule removed"));

    // A staff file checked, then applied.
    let csv = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n\
               10000001,Ben,Okafor,ben@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,RXX\n";
    let t = boss.get("/admin/staff/import").await.csrf().unwrap();
    let checked = boss
        .post_multipart("/admin/staff/import", &[("csrf_token", &t)], ("file", "staff.csv", "text/csv", csv.as_bytes()))
        .await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    let at = checked.body.find("name=\"file\" value=\"").expect("the checked file") + "name=\"file\" value=\"".len();
    let file: String = checked.body[at..].chars().take(64).collect();
    let applied = boss.post("/admin/staff/import/apply", &[("csrf_token", &t), ("file", &file)]).await;
    assert!(banner_after(&mut boss, applied).await.starts_with("Import started"));

    // A custom domain added.
    let t = boss.get("/admin/site").await.csrf().unwrap();
    let domain =
        boss.post("/admin/site/domains", &[("csrf_token", &t), ("domain", "learning.northmoor-nhs.example")]).await;
    assert!(banner_after(&mut boss, domain).await.starts_with("learning.northmoor-nhs.example added"));
}
