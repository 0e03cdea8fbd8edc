//! Record truth: a trust's mandatory training reaches everyone, by every door into a rule's
//! audience; a national course completed at one trust counts at the person's others (only the
//! fact and date cross); the daily run reconciles what is left.

use std::time::Duration;
use trellis_db::audit;
use trellis_db::states::EnrolmentStatus;
use trellis_domain::identity::Role;
use trellis_domain::learning::{Audience, Compliance};
use trellis_domain::{CourseId, PersonId};
use trellis_testkit::{TestApp, Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

/// Offers the national fire-safety course at `slug` and makes it mandatory for `audience`, yearly.
async fn fire_rule(app: &TestApp, slug: &str, audience: Audience) -> CourseId {
    let fire = app.national_course("CSTF-FIRE").await;
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    trellis_db::catalogue::set_offered(&tx, fire, true, None).await.unwrap();
    let course = trellis_db::catalogue::course(&tx, fire).await.unwrap().unwrap();
    let today = chrono::Utc::now().date_naive();
    trellis_db::compliance::add_requirement(&tx, &course, &audience, true, Some(28), Some(12), None, today)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    fire
}

/// The person's compliance entry for `course` at `slug`, if they have one.
async fn entry(app: &TestApp, slug: &str, person: PersonId, course: CourseId) -> Option<trellis_db::compliance::Cell> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let cell =
        trellis_db::compliance::person_entry(&tx, person, course, chrono::Utc::now().date_naive()).await.unwrap();
    tx.rollback().await.unwrap();
    cell
}

async fn person_of(app: &TestApp, email: &str) -> PersonId {
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin_platform().await.unwrap();
    let a = trellis_db::identity::account_by_email(&itx, email).await.unwrap().expect("an account");
    itx.commit().await.unwrap();
    a.id
}

async fn register(v: &mut Visitor, email: &str) {
    let page = v
        .submit(
            "/register",
            "/register",
            &[
                ("given_name", "New"),
                ("family_name", "Starter"),
                ("email", email),
                ("password", "a perfectly long passphrase"),
                ("job_role", "Nurse"),
                ("place_of_work", "RXX"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
}

#[tokio::test]
async fn registration_approval_joining_invitation_and_reinstatement_each_bring_the_rules() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = fire_rule(&app, "northmoor", Audience::Everyone).await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("northmoor");
    boss.sign_in_and_agree("boss@northmoor.example", PW).await;

    // Registration with an eligible address: approved at once, and the rule reaches them.
    register(&mut app.visitor("northmoor"), "eligible@northmoor.example").await;
    let eligible = person_of(&app, "eligible@northmoor.example").await;
    assert!(entry(&app, "northmoor", eligible, fire).await.is_some(), "registration");

    // Registration with another address: nothing until approved; approval brings the rule.
    register(&mut app.visitor("northmoor"), "outsider@elsewhere.example").await;
    let outsider = person_of(&app, "outsider@elsewhere.example").await;
    assert!(entry(&app, "northmoor", outsider, fire).await.is_none(), "pending: not yet");
    let t = boss.get("/admin/approvals").await.csrf().unwrap();
    let approved =
        boss.post(&format!("/admin/approvals/{outsider}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert!(entry(&app, "northmoor", outsider, fire).await.is_some(), "approval");

    // Joining with an account from another trust.
    app.member("riverside", "mover@northmoor.example", PW, &[Role::Learner]).await;
    let mover = person_of(&app, "mover@northmoor.example").await;
    let joined = app
        .visitor("northmoor")
        .submit("/join", "/join", &[("email", "mover@northmoor.example"), ("password", PW)])
        .await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert!(entry(&app, "northmoor", mover, fire).await.is_some(), "join");

    // An accepted invitation (from a staff import).
    app.member("riverside", "invited@riverside.example", PW, &[Role::Learner]).await;
    let invited = person_of(&app, "invited@riverside.example").await;
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";
    let csv = format!(
        "{head}20000021,Ivy,Invited,invited@riverside.example,Nurse,Ward 7,Nursing and Midwifery Registered,General\n"
    );
    import(&mut boss, &csv).await;
    assert!(entry(&app, "northmoor", invited, fire).await.is_none(), "invited, not yet a member");
    let mail = app.mail.wait_for("invited@riverside.example", "You are invited to join").await;
    let link = mail.link("invitation?token=").unwrap();
    let path = &link[link.find("/invitation").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_owned();
    assert_eq!(app.visitor("northmoor").submit(path, "/invitation", &[("token", &token)]).await.status, 200);
    assert!(entry(&app, "northmoor", invited, fire).await.is_some(), "invitation");

    // Reinstatement: a rule added while someone was suspended reaches them when they return.
    let ipc = app.national_course("CSTF-IPC").await;
    let t = boss.get("/admin/staff").await.csrf().unwrap();
    assert_eq!(
        boss.post(&format!("/admin/staff/{eligible}/status"), &[("csrf_token", &t), ("decision", "suspend")])
            .await
            .status,
        303
    );
    {
        let dbs = app.dbs().await;
        let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
        trellis_db::catalogue::set_offered(&tx, ipc, true, None).await.unwrap();
        let course = trellis_db::catalogue::course(&tx, ipc).await.unwrap().unwrap();
        let today = chrono::Utc::now().date_naive();
        trellis_db::compliance::add_requirement(&tx, &course, &Audience::Everyone, true, None, Some(12), None, today)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    assert!(entry(&app, "northmoor", eligible, ipc).await.is_none(), "suspended: not yet");
    assert_eq!(
        boss.post(&format!("/admin/staff/{eligible}/status"), &[("csrf_token", &t), ("decision", "reinstate")])
            .await
            .status,
        303
    );
    assert!(entry(&app, "northmoor", eligible, ipc).await.is_some(), "reinstatement");
}

/// Checks and applies a staff file, then waits for the worker.
async fn import(boss: &mut Visitor, csv: &str) {
    import_file(boss, csv, false).await;
}

/// The dry run of a staff file (`complete`: it lists all the trust's staff).
async fn check_file(boss: &mut Visitor, csv: &str, complete: bool) -> trellis_testkit::Page {
    let t = boss.get("/admin/staff/import").await.csrf().unwrap();
    let mut fields = vec![("csrf_token", t.as_str())];
    if complete {
        fields.push(("complete", "yes"));
    }
    boss.post_multipart("/admin/staff/import", &fields, ("file", "staff.csv", "text/csv", csv.as_bytes())).await
}

/// Checks and applies a staff file (`complete`: all the trust's staff), then waits for the worker.
async fn import_file(boss: &mut Visitor, csv: &str, complete: bool) {
    let plan = check_file(boss, csv, complete).await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let at = plan.body.find("name=\"file\" value=\"").unwrap() + "name=\"file\" value=\"".len();
    let file = plan.body[at..at + 64].to_owned();
    let before = boss.get("/admin/staff/import").await.body.matches("imported —").count();
    let t = plan.csrf().unwrap();
    let mut fields = vec![("csrf_token", t.as_str()), ("file", file.as_str())];
    if complete {
        fields.push(("complete", "yes"));
    }
    assert_eq!(boss.post("/admin/staff/import/apply", &fields).await.status, 303);
    for _ in 0..100 {
        if boss.get("/admin/staff/import").await.body.matches("imported —").count() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = boss.get("/admin/staff/import").await.body;
    let history = page.find("id=\"import-history\"").map_or("", |at| &page[at..]);
    panic!("the import did not run: {history}");
}

#[tokio::test]
async fn a_change_of_staff_group_moves_the_rules_and_the_daily_run_reconciles_the_rest() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = fire_rule(&app, "northmoor", Audience::StaffGroup("Nursing and Midwifery Registered".into())).await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("northmoor");
    boss.sign_in_and_agree("boss@northmoor.example", PW).await;
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";
    import(
        &mut boss,
        &format!("{head}20000031,Pat,Porter,pat@northmoor.example,Porter,Estates,Estates and Ancillary,General\n"),
    )
    .await;
    let pat = person_of(&app, "pat@northmoor.example").await;
    assert!(entry(&app, "northmoor", pat, fire).await.is_none(), "not a nurse");
    // Pat retrains as a nurse: the import moves them into the rule's audience.
    import(&mut boss, &format!("{head}20000031,Pat,Porter,pat@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,General\n")).await;
    assert!(entry(&app, "northmoor", pat, fire).await.is_some(), "change of group");

    // Someone the rule missed (a record changed behind the doors' back): the daily run adds the
    // entry, and removes the open one of someone who left the audience, and says what it fixed.
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let sam = app.member("northmoor", "sam@northmoor.example", PW, &[Role::Learner]).await;
    app.staff_record("northmoor", sam, "Nursing and Midwifery Registered", "Ward 9").await;
    app.staff_record("northmoor", pat, "Estates and Ancillary", "Estates").await;
    let tx = dbs.app.begin(north).await.unwrap();
    let fixed = trellis_db::compliance::reconcile(&tx, chrono::Utc::now().date_naive()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((fixed.assigned, fixed.removed), (1, 1), "{fixed:?}");
    assert!(entry(&app, "northmoor", sam, fire).await.is_some());
    assert!(entry(&app, "northmoor", pat, fire).await.is_none(), "an open entry of someone who left the audience goes");
}

#[tokio::test]
async fn a_national_course_completed_at_one_trust_counts_at_the_persons_others() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = fire_rule(&app, "northmoor", Audience::Everyone).await;
    fire_rule(&app, "riverside", Audience::Everyone).await;
    // Ann works for both trusts.
    let ann = app.member("northmoor", "ann@northmoor.example", PW, &[Role::Learner]).await;
    app.member("riverside", "ann@northmoor.example", PW, &[Role::Learner]).await;
    assert_eq!(entry(&app, "riverside", ann, fire).await.unwrap().status, Compliance::NotStarted);

    // She completes fire safety at Northmoor (the rule enrolled her).
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree("ann@northmoor.example", PW).await;
    let go = v.get(&format!("/learn/{fire}")).await;
    let first = go.location.clone().unwrap_or_else(|| panic!("{} {}", go.status, go.body));
    v.get(&first).await;
    let second = v.get(&format!("/learn/{fire}")).await.location.unwrap();
    let page = v.get(&second).await;
    let t = page.csrf().unwrap();
    assert_eq!(v.post(&format!("{second}/done"), &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(entry(&app, "northmoor", ann, fire).await.unwrap().status, Compliance::Complete);

    // At Riverside it counts, and says where; the details stay at Northmoor.
    let there = entry(&app, "riverside", ann, fire).await.unwrap();
    assert_eq!(there.status, Compliance::Complete);
    assert_eq!(there.completed_in, Some(app.tenant_id("northmoor").await));
    let mut r = app.visitor("riverside");
    r.sign_in_and_agree("ann@northmoor.example", PW).await;
    let mine = r.get("/learning").await.body;
    assert!(mine.contains("at Northmoor Teaching Hospitals NHS Foundation Trust"), "{mine}");
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    let e = trellis_db::learning::enrolment(&tx, ann, fire).await.unwrap().expect("Riverside's own enrolment");
    assert_ne!(
        e.status,
        EnrolmentStatus::Completed,
        "Riverside's enrolment is its own; only the fact of completion crossed"
    );
    tx.rollback().await.unwrap();
    app.member("riverside", "rex@riverside.example", PW, &[Role::TrainingManager]).await;
    let mut rex = app.visitor("riverside");
    rex.sign_in_and_agree("rex@riverside.example", PW).await;
    let matrix = rex.get("/admin/compliance").await.body;
    assert!(matrix.contains("at Northmoor Teaching Hospitals NHS Foundation Trust"), "{matrix}");

    // She joins a third trust later: its rule finds the completion at once.
    fire_rule(&app, "fenwick", Audience::Everyone).await;
    app.member("fenwick", "ann@northmoor.example", PW, &[Role::Learner]).await;
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("fenwick").await).await.unwrap();
    trellis_db::compliance::apply_for(&tx, ann, chrono::Utc::now().date_naive()).await.unwrap();
    tx.commit().await.unwrap();
    let third = entry(&app, "fenwick", ann, fire).await.unwrap();
    assert_eq!(third.status, Compliance::Complete);
    assert_eq!(third.completed_in, Some(app.tenant_id("northmoor").await));

    // A trust's own course does not cross.
    let other =
        entry(&app, "riverside", app.member("riverside", "bob@riverside.example", PW, &[Role::Learner]).await, fire)
            .await;
    assert_eq!(other.unwrap().status, Compliance::NotStarted, "nobody else's completion counts");
}

#[tokio::test]
async fn staff_correct_their_own_details_and_see_a_change_of_group_before_it_moves_their_training() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = fire_rule(&app, "northmoor", Audience::StaffGroup("Nursing and Midwifery Registered".into())).await;
    let jo = app.member("northmoor", "jo@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree("jo@northmoor.example", PW).await;
    let form = v.get("/account/details").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("value=\"Test\"") && form.body.contains("Staff group"));

    // Finding an organisation by name fills its code.
    let found = v.get("/account/details?find=riverside").await;
    assert!(found.body.contains("/account/details?place_of_work="), "{}", found.body);
    // Bad input names its field; nothing changes.
    let bad = v
        .submit(
            "/account/details",
            "/account/details",
            &[("given_name", ""), ("family_name", "Lee"), ("job_role", "Nurse"), ("place_of_work", "not a code")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Enter your first name") && bad.body.contains("ODS code"));
    // A code the service does not know needs a second look.
    let fields = |place: &'static str, group: &'static str| {
        vec![
            ("given_name", "Joanna"),
            ("family_name", "Lee-Smith"),
            ("job_role", "Staff Nurse"),
            ("place_of_work", place),
            ("staff_group", group),
            ("department", "Ward 7"),
        ]
    };
    let unknown = v.submit("/account/details", "/account/details", &fields("ZZ999", "")).await;
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("does not know an organisation with the code ZZ999"));

    // Joining the nursing staff group: shown first, then made; the rule reaches her.
    let code = app
        .dbs()
        .await
        .platform
        .directory_of_all_tenants()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.slug == "northmoor")
        .unwrap()
        .ods_code;
    let code: &'static str = Box::leak(code.into_boxed_str());
    let check =
        v.submit("/account/details", "/account/details", &fields(code, "Nursing and Midwifery Registered")).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(
        check.body.contains("Check the change to your training") && check.body.contains("Fire safety"),
        "{}",
        check.body
    );
    assert!(entry(&app, "northmoor", jo, fire).await.is_none(), "nothing happens before she confirms");
    let t = check.csrf().unwrap();
    let mut confirm: Vec<(&str, &str)> = fields(code, "Nursing and Midwifery Registered");
    confirm.push(("csrf_token", &t));
    confirm.push(("confirm", "yes"));
    let saved = v.post("/account/details", &confirm).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.body.contains("Your details have been saved"));
    assert!(entry(&app, "northmoor", jo, fire).await.is_some(), "the rule applied");
    let profile = v.get("/profile").await.body;
    assert!(profile.contains("Joanna Lee-Smith") && profile.contains("Staff Nurse"), "{profile}");
    // Audited; another trust sees none of it.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = audit::trail(&tx, 50).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(trail.iter().any(|e| e.action == "account.details_changed"));
    assert!(trail.iter().any(|e| e.action == "staff.record_changed_by_self"));
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::staff::record(&tx, jo).await.unwrap().is_none());
    tx.rollback().await.unwrap();

    // A record from the HR system is not hers to change.
    app.staff_record("northmoor", jo, "Nursing and Midwifery Registered", "Ward 7").await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let mut r = trellis_db::staff::record(&tx, jo).await.unwrap().unwrap();
    r.assignment_number = Some("20000041".into());
    trellis_db::staff::set_record(&tx, jo, &r).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        v.get("/account/details")
            .await
            .body
            .contains("come from Northmoor Teaching Hospitals NHS Foundation Trust's HR records")
    );
}

#[tokio::test]
async fn terms_privacy_and_accessibility_are_readable_without_signing_in_and_say_only_what_is_true() {
    let app = spawn_app().await;
    for host in [TestApp::host_of("northmoor"), trellis_testkit::BASE.to_owned()] {
        for (path, words) in
            [("/terms", "Terms of use"), ("/privacy", "Privacy notice"), ("/accessibility", "Accessibility")]
        {
            let resp = app.get(&host, path).await;
            assert_eq!(resp.status(), 200, "{host}{path}");
            let body = resp.text().await.unwrap();
            assert!(body.contains(words), "{host}{path}: {body}");
        }
    }
    // A trust's own terms are shown beside the platform's on its site.
    let privacy = app.get(&TestApp::host_of("northmoor"), "/privacy").await.text().await.unwrap();
    // It says what closing an account does, as the service does it (erasure, what stays and why).
    assert!(privacy.contains("erases you at every organisation you belong to"), "{privacy}");
    assert!(privacy.contains("tax law requires them to be kept"), "{privacy}");
    // Every page links to them.
    let home = app.get(&TestApp::host_of("riverside"), "/").await.text().await.unwrap();
    assert!(home.contains("href=\"/terms\"") && home.contains("href=\"/privacy\""));
}

#[tokio::test]
async fn a_marketplace_course_is_never_offered_as_free_national_content() {
    let app = spawn_app().await;
    app.seed_national().await;
    // A priced snapshot in the national space, as the marketplace makes them.
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let tx = dbs.app.begin(north).await.unwrap();
    let input = trellis_db::catalogue::CourseInput {
        code: "NM-PAID".into(),
        kind: "course".into(),
        title: "Paid sepsis course".into(),
        summary: "x".into(),
        description: "x".into(),
        topic: "Clinical skills".into(),
        duration_minutes: 30,
        enrolment: "approval".into(),
        ..Default::default()
    };
    let own = trellis_db::catalogue::create_course(&tx, &input).await.unwrap().unwrap();
    let page = trellis_db::catalogue::ObjectInput {
        title: "One".into(),
        kind: "page".into(),
        body: "x".into(),
        completion: "view".into(),
        ..Default::default()
    };
    trellis_db::catalogue::add_object(&tx, own, &page).await.unwrap().unwrap();
    trellis_db::catalogue::publish(&tx, own).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let seller = dbs.platform.register_seller(north, "trust", "Northmoor", "x", "").await.unwrap();
    let tx = dbs.app.begin(north).await.unwrap();
    let course = trellis_db::catalogue::course(&tx, own).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let form = trellis_domain::market::ListingForm {
        title: "Paid sepsis course".into(),
        summary: "x".into(),
        price: "20.00".into(),
        tiers: String::new(),
        licence_days: "365".into(),
        preview: String::new(),
        preview_url: String::new(),
    };
    let input = trellis_domain::market::check_listing(&form).unwrap();
    let listing = dbs.platform.submit_listing(&seller, &course, &input, "").await.unwrap();
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    let admin =
        trellis_db::identity::appoint_platform_admin(&dbs, "root@platform.example", hash, "test").await.unwrap();
    dbs.platform.approve_listing(listing.id, admin, 1500).await.unwrap();

    app.member("riverside", "rex@riverside.example", PW, &[Role::TrainingManager]).await;
    let mut rex = app.visitor("riverside");
    rex.sign_in_and_agree("rex@riverside.example", PW).await;
    let courses = rex.get("/admin/courses").await.body;
    assert!(courses.contains("Fire safety"), "the free national catalogue is listed");
    assert!(!courses.contains("Paid sepsis course"), "a marketplace course is not offered as free: {courses}");
}

#[tokio::test]
async fn a_trust_created_by_a_platform_administrator_gets_its_eligible_email_domains() {
    let app = spawn_app_with_admin_mfa_off().await;
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    let mut root = Visitor::new(app.addr, trellis_testkit::BASE);
    assert_eq!(root.sign_in("root@platform.example", PW).await.status, 303);
    let form = |domains: &'static str| {
        vec![
            ("name", "Eastvale Community Health NHS Trust"),
            ("slug", "eastvale"),
            ("ods_code", "XE4"),
            ("primary", "#00594f"),
            ("admin_email", "lead@eastvale.example"),
            ("email_domains", domains),
        ]
    };
    let bad = root.submit("/admin", "/admin/trusts", &form("eastvale.example, not a domain")).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("is not an email domain"), "{}", bad.body);
    let made = root.submit("/admin", "/admin/trusts", &form("eastvale.example, eastvale.nhs.example")).await;
    assert_eq!(made.status, 303, "{}", made.body);
    // Staff with those addresses are approved at once.
    register(&mut app.visitor("eastvale"), "nurse@eastvale.nhs.example").await;
    let nurse = person_of(&app, "nurse@eastvale.nhs.example").await;
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("eastvale").await).await.unwrap();
    let m = trellis_db::identity::membership(&tx, nurse).await.unwrap().unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(m.status, trellis_db::identity::MembershipStatus::Approved);
}

async fn spawn_app_with_admin_mfa_off() -> TestApp {
    trellis_testkit::spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await
}

/// Enrols on an open course and opens its first session (which completes a one-page course).
pub(crate) async fn learn(v: &mut trellis_testkit::Visitor, course: trellis_domain::CourseId) {
    let page = v.get(&format!("/courses/{course}")).await;
    let t = page.csrf().unwrap();
    assert_eq!(v.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let go = v.get(&format!("/learn/{course}")).await;
    let first = go.location.clone().unwrap();
    assert_eq!(v.get(&first).await.status, 200);
    assert_eq!(v.get(&first).await.status, 200, "a second visit");
}

#[tokio::test]
async fn my_activity_shows_ones_own_learning_at_every_trust_and_nobody_elses() {
    let app = spawn_app().await;
    let fire = app
        .course("northmoor", "nm-fire", "Fire safety")
        .page("Exits", "Know them")
        .cpd(2, "Skills for Health")
        .published()
        .create()
        .await;
    let hands = app
        .course("riverside", "rv-hands", "Hand hygiene")
        .page("Five moments", "Before touching")
        .published()
        .create()
        .await;
    let (mut ann, ann_id) = app.person("northmoor", "ann@nhs.example").signed_in().await;
    let (mut ann_there, _) = app.person("riverside", "ann@nhs.example").signed_in().await;
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    learn(&mut ann, fire).await;
    learn(&mut ann_there, hands).await;
    learn(&mut bob, fire).await;

    // The summarised record at Northmoor shows both trusts' courses, Ann's alone.
    let summary = ann.get("/account/activity").await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert!(summary.body.contains("Activity record (summarised)"));
    assert!(summary.body.contains("Fire safety") && summary.body.contains("Hand hygiene"), "{}", summary.body);
    assert!(summary.body.contains("Northmoor") && summary.body.contains("Riverside"));
    assert!(summary.body.contains("2 lines"), "one line a course: {}", summary.body);
    assert!(summary.body.contains("Skills for Health"), "the accrediting body: {}", summary.body);
    assert!(
        summary.body.contains("CPD points from the completed courses here: <strong>2</strong>"),
        "{}",
        summary.body
    );
    // The detail: each session with its visits.
    let detail = ann.get("/account/activity?report=detail&sort=title").await;
    assert!(detail.body.contains("Five moments") && detail.body.contains("Exits"), "{}", detail.body);
    assert!(detail.body.contains("aria-hidden=\"true\">Visits </span>2<"), "two visits counted: {}", detail.body);
    // A course summary, and a filter by course.
    let course = ann.get(&format!("/account/activity?report=course&course={hands}")).await;
    assert!(
        course.body.contains("Course summary") && course.body.contains("Hand hygiene (Riverside"),
        "{}",
        course.body
    );
    assert!(!course.body.contains(">Exits<"));
    // Dates: a wrong one is named; a range with no activity shows nothing.
    let wrong = ann.get("/account/activity?from-day=31&from-month=2&from-year=2026").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Enter the first day as a real date"), "{}", wrong.body);
    let reversed = ann.get("/account/activity?from=2026-11-30&to=2026-11-01").await;
    assert_eq!(reversed.status, 400);
    assert!(
        reversed.body.contains("href=\"#to\"") && reversed.body.contains("on or after the first day"),
        "{}",
        reversed.body
    );
    // A course not on her record (Bob's, or made up) is refused by name, on screen and as CSV.
    let unknown = ann.get("/account/activity?course=0190a0b0-0000-7000-8000-000000000000").await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.body.contains("href=\"#course\""), "{}", unknown.body);
    assert_eq!(ann.get("/account/activity.csv?course=not-an-id").await.status, 400);
    let none = ann.get("/account/activity?to-day=1&to-month=1&to-year=2020").await;
    assert!(none.body.contains("Nothing on your record"), "{}", none.body);

    // CSV: ISO dates and time in seconds, defused cells; PDF: a document.
    let csv = ann.get("/account/activity.csv?report=detail").await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(
        csv.body.starts_with("Trust,Course,Session,First opened,Last opened,Visits,Seconds,Status,Score"),
        "{}",
        csv.body
    );
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(csv.body.contains(&format!(",{today}T")), "ISO 8601 dates: {}", csv.body);
    let pdf = ann.get("/account/activity.pdf").await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");

    // Each read is in the audit trail of the trust where it was asked for.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let reads = trellis_db::audit::trail_of(&tx, "record.activity_read", 50).await.unwrap();
    tx.commit().await.unwrap();
    assert!(reads.len() >= 7 && reads.iter().all(|e| e.actor == Some(ann_id)), "{reads:?}");

    // Bob sees his own record only, at Northmoor; signed out, nobody sees any.
    let his = bob.get("/account/activity").await;
    assert!(his.body.contains("Fire safety") && !his.body.contains("Hand hygiene"), "{}", his.body);
    assert!(his.body.contains("1 line"));
    let mut nobody = app.visitor("northmoor");
    assert_eq!(nobody.get("/account/activity").await.status, 303);
    assert_eq!(nobody.get("/account/activity.csv").await.status, 303);
}

/// The text of a PDF, page by page (poppler-utils' `pdftotext`, installed by
/// scripts/install-test-deps.sh).
pub(crate) fn pdf_pages(bytes: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils; run scripts/install-test-deps.sh)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split('\u{c}').map(str::to_owned).collect()
}

#[tokio::test]
async fn a_learner_downloads_their_certificate_and_lets_an_employer_check_it_until_they_revoke_it() {
    let app = spawn_app().await;
    let course = app
        .course("northmoor", "nm-sepsis", "Sepsis awareness")
        .page("Spot it", "Red flags")
        .page("Act on it", "Escalate")
        .certificate(true)
        .cpd(3, "Royal College of Nursing")
        .published()
        .create()
        .await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    let page = ann.get(&format!("/courses/{course}")).await;
    let t = page.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let before = ann.get(&format!("/courses/{course}")).await;
    assert!(before.body.contains("Your certificate is not available yet"), "{}", before.body);
    assert!(
        before.body.contains("Complete \u{201c}Spot it\u{201d}")
            && before.body.contains("Complete \u{201c}Act on it\u{201d}")
    );
    assert_eq!(ann.get(&format!("/courses/{course}/certificate.pdf")).await.status, 404, "not yet");
    // Opening each page completes it (and the course).
    for _ in 0..2 {
        let go = ann.get(&format!("/learn/{course}")).await;
        let at = go.location.clone().unwrap();
        assert_eq!(ann.get(&at).await.status, 200);
    }
    let after = ann.get(&format!("/courses/{course}")).await;
    assert!(after.body.contains("Download your certificate (PDF)"), "{}", after.body);
    let (status, kind, pdf) = ann.get_bytes(&format!("/courses/{course}/certificate.pdf")).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let pages = pdf_pages(&pdf);
    assert!(pages[0].contains("Certificate of completion") && pages[0].contains("Test Person"), "{}", pages[0]);
    assert!(pages[0].contains("Sepsis awareness") && pages[0].contains("Northmoor"), "{}", pages[0]);
    assert!(pages[0].contains("CPD: 3 points") && pages[0].contains("Accredited by Royal College of Nursing"));
    assert!(pages[0].contains("Certificate number TR-"), "{}", pages[0]);
    assert!(!pages[0].contains("Spot it"), "the summary is overleaf");
    assert!(
        pages[1].contains("Spot it") && pages[1].contains("Act on it") && pages[1].contains("Completed"),
        "{}",
        pages[1]
    );

    // Nobody else gets it: another learner here, or a manager of another trust.
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    assert_eq!(bob.get(&format!("/courses/{course}/certificate.pdf")).await.status, 404);
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    assert_eq!(rex.get(&format!("/courses/{course}/certificate.pdf")).await.status, 404);

    // A verification link: shown once, opened by anyone, counted; wrong days are refused.
    let t = after.csrf().unwrap();
    let bad = ann.post(&format!("/courses/{course}/certificate/links"), &[("csrf_token", &t), ("days", "9999")]).await;
    assert_eq!(bad.status, 400);
    let made = ann.post(&format!("/courses/{course}/certificate/links"), &[("csrf_token", &t), ("days", "30")]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("/certificate-check/").expect("the link");
    let path: String = made.body[at..].chars().take_while(|c| !matches!(c, '<' | '"' | ' ')).collect();
    let mut stranger = app.visitor("northmoor");
    let check = stranger.get(&path).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(
        check.body.contains("Test Person")
            && check.body.contains("Sepsis awareness")
            && check.body.contains("Completed")
    );
    assert!(check.body.contains("TR-"));
    assert_eq!(app.visitor("riverside").get(&path).await.status, 404, "only on its own trust's site");
    assert_eq!(stranger.get("/certificate-check/made-up").await.status, 404);
    let listed = ann.get(&format!("/courses/{course}")).await;
    assert!(listed.body.contains("1 time"), "the view is counted: {}", listed.body);
    // Revoked: gone at the next request.
    let form = format!("action=\"/courses/{course}/certificate/links/");
    let at = listed.body.find(&form).expect("a revoke button") + "action=\"".len();
    let revoke: String = listed.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = listed.csrf().unwrap();
    assert_eq!(ann.post(&revoke, &[("csrf_token", &t)]).await.status, 303, "{revoke}");
    assert_eq!(stranger.get(&path).await.status, 410);
    let dbs = app.dbs().await;
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let viewed = trellis_db::audit::trail_of(&tx, "certificate.", 20).await.unwrap();
    tx.commit().await.unwrap();
    let actions: Vec<_> = viewed.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"certificate.viewed")
            && actions.contains(&"certificate.link_made")
            && actions.contains(&"certificate.link_revoked"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_learning_paths_certificate_comes_when_every_course_of_it_is_done_and_lists_them_overleaf() {
    let app = spawn_app().await;
    let exits = app.course("northmoor", "nm-exits", "Fire exits").page("Exits", "Know them").published().create().await;
    let alarms =
        app.course("northmoor", "nm-alarms", "Fire alarms").page("Alarms", "Hear them").published().create().await;
    let path = app
        .course("northmoor", "nm-fire-path", "Fire safety pathway")
        .path(&[exits, alarms])
        .certificate(true)
        .published()
        .create()
        .await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    let page = ann.get(&format!("/courses/{path}")).await;
    let t = page.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{path}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let open_first = |course| format!("/learn/{course}");
    let go = ann.get(&open_first(exits)).await;
    assert_eq!(ann.get(&go.location.clone().unwrap()).await.status, 200);
    // One course of two: the certificate says what is left, by course.
    let before = ann.get(&format!("/courses/{path}")).await;
    assert!(before.body.contains("Your certificate is not available yet"), "{}", before.body);
    assert!(
        before.body.contains("Complete \u{201c}Fire alarms\u{201d}")
            && !before.body.contains("Complete \u{201c}Fire exits\u{201d}"),
        "{}",
        before.body
    );
    assert_eq!(ann.get(&format!("/courses/{path}/certificate.pdf")).await.status, 404, "not yet");
    let go = ann.get(&open_first(alarms)).await;
    assert_eq!(ann.get(&go.location.clone().unwrap()).await.status, 200);
    let after = ann.get(&format!("/courses/{path}")).await;
    assert!(after.body.contains("Download your certificate (PDF)"), "{}", after.body);
    let (status, _, pdf) = ann.get_bytes(&format!("/courses/{path}/certificate.pdf")).await;
    assert_eq!(status, 200);
    let pages = pdf_pages(&pdf);
    assert!(
        pages[0].contains("Fire safety pathway") && pages[0].contains("courses of the learning path"),
        "{}",
        pages[0]
    );
    assert!(
        pages[1].contains("Fire exits") && pages[1].contains("Fire alarms") && pages[1].contains("Completed"),
        "{}",
        pages[1]
    );
    // Nobody else's, and not from another trust's site.
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    assert_eq!(bob.get(&format!("/courses/{path}/certificate.pdf")).await.status, 404);
    let (mut ann_there, _) = app.person("riverside", "ann@northmoor.example").signed_in().await;
    assert_eq!(ann_there.get(&format!("/courses/{path}/certificate.pdf")).await.status, 404);
}

/// Makes a programme of `slug` from these courses and paths, offering a certificate.
async fn programme(
    app: &TestApp,
    slug: &str,
    code: &str,
    title: &str,
    list: &[trellis_domain::CourseId],
) -> trellis_domain::ProgrammeId {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let id = trellis_db::catalogue::save_programme(&tx, code, title, "", true, list).await.unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn a_programme_has_its_summary_in_my_activity_and_a_certificate_once_every_course_and_path_is_done() {
    let app = spawn_app().await;
    let ipc =
        app.course("northmoor", "nm-ipc", "Infection prevention").page("Hands", "Wash").published().create().await;
    let exits = app.course("northmoor", "nm-exits", "Fire exits").page("Exits", "Know them").published().create().await;
    let alarms =
        app.course("northmoor", "nm-alarms", "Fire alarms").page("Alarms", "Hear them").published().create().await;
    let path = app
        .course("northmoor", "nm-fire-path", "Fire safety pathway")
        .path(&[exits, alarms])
        .published()
        .create()
        .await;
    let other = app.course("northmoor", "nm-other", "Hand hygiene").page("Moments", "Five").published().create().await;
    let core = programme(&app, "northmoor", "NM-CORE", "Northmoor core skills", &[ipc, path]).await;
    let elsewhere = app.course("riverside", "rv-x", "Riverside course").page("P", "Q").published().create().await;
    let theirs = programme(&app, "riverside", "RV-CORE", "Riverside core", &[elsewhere]).await;

    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    learn(&mut ann, ipc).await;
    learn(&mut ann, other).await;
    let page = ann.get(&format!("/courses/{path}")).await;
    let t = page.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{path}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let go = ann.get(&format!("/learn/{exits}")).await;
    assert_eq!(ann.get(&go.location.clone().unwrap()).await.status, 200);

    // The programme's summary: each course and path, what is left, and every session of it.
    let summary = ann.get(&format!("/account/activity?report=course&programme={core}")).await;
    assert_eq!(summary.status, 200, "{}", summary.body);
    assert!(
        summary.body.contains("Programme summary") && summary.body.contains("1 of 2 completed"),
        "{}",
        summary.body
    );
    assert!(summary.body.contains("Your certificate is not available yet"));
    assert!(summary.body.contains("Complete \u{201c}Fire safety pathway\u{201d}"), "{}", summary.body);
    let cert = format!("/account/activity/programmes/{core}/certificate.pdf");
    assert_eq!(ann.get(&cert).await.status, 404, "not yet");
    // As a filter, a programme takes in its courses, its paths and theirs, and nothing else.
    let (status, _, csv) = ann.get_bytes(&format!("/account/activity.csv?report=detail&programme={core}")).await;
    assert_eq!(status, 200);
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains("Infection prevention") && csv.contains("Fire exits"), "{csv}");
    assert!(!csv.contains("Hand hygiene"), "{csv}");
    // Bad or foreign choices are named.
    let bad = ann.get("/account/activity?report=detail&programme=nonsense").await;
    assert!(bad.status == 400 && bad.body.contains("Choose programmes from the list"), "{}", bad.body);
    let foreign = ann.get(&format!("/account/activity?report=course&programme={theirs}")).await;
    assert_eq!(foreign.status, 400, "another trust's programme is not offered here");
    assert_eq!(ann.get(&format!("/account/activity.csv?programme={theirs}")).await.status, 400);
    assert_eq!(ann.get(&format!("/account/activity/programmes/{theirs}/certificate.pdf")).await.status, 404);

    // The last course of the path done: the certificate, with the programme overleaf.
    let go = ann.get(&format!("/learn/{alarms}")).await;
    assert_eq!(ann.get(&go.location.clone().unwrap()).await.status, 200);
    let done = ann.get(&format!("/account/activity?report=course&programme={core}")).await;
    assert!(
        done.body.contains("2 of 2 completed") && done.body.contains("Download your certificate (PDF)"),
        "{}",
        done.body
    );
    let (status, kind, pdf) = ann.get_bytes(&cert).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let pages = pdf_pages(&pdf);
    assert!(
        pages[0].contains("completed the programme")
            && pages[0].contains("Northmoor core skills")
            && pages[0].contains("Certificate number TR-"),
        "{}",
        pages[0]
    );
    assert!(
        pages[1].contains("Infection prevention")
            && pages[1].contains("Fire safety pathway")
            && pages[1].contains("Completed"),
        "{}",
        pages[1]
    );
    let (_, _, pdf) = ann.get_bytes(&format!("/account/activity.pdf?report=course&programme={core}")).await;
    assert!(pdf_pages(&pdf)[0].contains("Programme: Northmoor core skills"));
    // A verification link for it: anyone holding it sees the programme's standing, drawn afresh.
    let t = done.csrf().unwrap();
    let links = format!("/account/activity/programmes/{core}/certificate/links");
    assert_eq!(ann.post(&links, &[("csrf_token", &t), ("days", "0")]).await.status, 400);
    let made = ann.post(&links, &[("csrf_token", &t), ("days", "30")]).await;
    assert_eq!(made.status, 200, "{}", made.body);
    let at = made.body.find("/certificate-check/").expect("the link");
    let check_path: String = made.body[at..].chars().take_while(|c| !matches!(c, '<' | '"' | ' ')).collect();
    let mut stranger = app.visitor("northmoor");
    let check = stranger.get(&check_path).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert!(
        check.body.contains("Programme")
            && check.body.contains("Northmoor core skills")
            && check.body.contains("Completed")
            && check.body.contains("Test Person")
            && check.body.contains("TR-"),
        "{}",
        check.body
    );
    assert_eq!(app.visitor("riverside").get(&check_path).await.status, 404, "only on its own trust's site");
    let listed = ann.get(&format!("/account/activity?report=course&programme={core}")).await;
    assert!(listed.body.contains("1 time"), "the view is counted: {}", listed.body);
    let form = format!("action=\"/account/activity/programmes/{core}/certificate/links/");
    let at = listed.body.find(&form).expect("a revoke button") + "action=\"".len();
    let revoke: String = listed.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = listed.csrf().unwrap();
    let (mut bob_first, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    let bt = bob_first.get("/account/activity").await.csrf().unwrap();
    assert_eq!(bob_first.post(&revoke, &[("csrf_token", &bt)]).await.status, 404, "not Bob's to revoke");
    assert_eq!(ann.post(&revoke, &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(stranger.get(&check_path).await.status, 410);
    // Somebody else has not done it; and it is nobody else's to download.
    assert_eq!(bob_first.get(&cert).await.status, 404);
    let (mut rex, _) = app.person("riverside", "rex@riverside.example").signed_in().await;
    assert_eq!(rex.get(&cert).await.status, 404, "not offered at another trust's site");
}

#[tokio::test]
async fn once_a_year_a_person_confirms_their_place_of_work_and_job_role() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_app().await;
    let (mut ann, ann_id) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    let home = ann.get("/").await;
    assert!(!home.body.contains("Are your details still right?"), "not asked in their first year");
    // A year on from registering.
    let owner = app.db.raw_owner_connection().await;
    let back = chrono::Utc::now() - chrono::Duration::days(366);
    let backend = owner.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE people SET created_at = $1 WHERE id = $2"
    } else {
        "UPDATE people SET created_at = ? WHERE id = ?"
    };
    let stmt = Statement::from_sql_and_values(backend, sql, [back.into(), ann_id.as_uuid().into()]);
    let res = owner.execute_raw(stmt).await.unwrap();
    assert_eq!(res.rows_affected(), 1, "moved their registration back a year");
    let asked = ann.get("/").await;
    assert!(asked.body.contains("Are your details still right?"), "{}", asked.body);
    assert!(asked.body.contains("Tester") && asked.body.contains("XT1"), "their job role and place of work");
    let t = asked.csrf().unwrap();
    let done = ann.post("/account/details/confirm", &[("csrf_token", &t)]).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/")));
    let after = ann.get("/").await;
    assert!(after.body.contains("confirmed for the next 12 months"), "{}", after.body);
    assert!(!after.body.contains("Are your details still right?"));
    // Without a session nothing is confirmed.
    let mut nobody = app.visitor("northmoor");
    assert_eq!(nobody.post("/account/details/confirm", &[("csrf_token", "x")]).await.status, 403);
}

#[tokio::test]
async fn a_learner_shares_chosen_courses_with_a_tutor_sees_each_view_and_stops_it_at_once() {
    let app = spawn_app().await;
    let fire = app.course("northmoor", "nm-fire", "Fire safety").page("Exits", "Know them").published().create().await;
    let sepsis = app
        .course("northmoor", "nm-sepsis", "Sepsis awareness")
        .page("Spot it", "Red flags")
        .published()
        .create()
        .await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    learn(&mut ann, fire).await;
    learn(&mut ann, sepsis).await;
    let page = ann.get("/account/tutors").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t = page.csrf().unwrap();
    let today = chrono::Utc::now().date_naive();
    let day_parts = |n: i64| {
        let x = today + chrono::Duration::days(n);
        (x.format("%-d").to_string(), x.format("%-m").to_string(), x.format("%Y").to_string())
    };
    let (d, m, y) = day_parts(30);
    let fire_id = fire.to_string();
    let base = |until: (String, String, String), email: &str, scope: &str, courses: Vec<String>| {
        let mut f = vec![
            ("csrf_token".to_owned(), t.clone()),
            ("name".to_owned(), "Tess Tutor".to_owned()),
            ("email".to_owned(), email.to_owned()),
            ("scope".to_owned(), scope.to_owned()),
            ("until-day".to_owned(), until.0),
            ("until-month".to_owned(), until.1),
            ("until-year".to_owned(), until.2),
        ];
        f.extend(courses.into_iter().map(|c| ("courses".to_owned(), c)));
        f
    };
    fn post(f: &[(String, String)]) -> Vec<(&str, &str)> {
        f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
    // Bad input is named and nothing is shared.
    let far = day_parts(400);
    let bad = ann.post("/account/tutors", &post(&base(far, "tess@uni.example", "all", vec![]))).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("no more than 12 months ahead"), "{}", bad.body);
    let bad = ann
        .post("/account/tutors", &post(&base((d.clone(), m.clone(), y.clone()), "not an address", "all", vec![])))
        .await;
    assert!(bad.status == 422 && bad.body.contains("href=\"#email\""), "{}", bad.body);
    let bad = ann
        .post(
            "/account/tutors",
            &post(&base(
                (d.clone(), m.clone(), y.clone()),
                "tess@uni.example",
                "chosen",
                vec![uuid::Uuid::now_v7().to_string()],
            )),
        )
        .await;
    assert!(bad.status == 422 && bad.body.contains("Choose courses from your record"), "{}", bad.body);
    // Fire safety only, for 30 days.
    let ok = ann
        .post(
            "/account/tutors",
            &post(&base((d.clone(), m.clone(), y.clone()), "tess@uni.example", "chosen", vec![fire_id.clone()])),
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let mail = app.mail.wait_for("tess@uni.example", "has shared their learning record with you").await;
    let link = mail.link("/tutor/").expect("the tutor's link");
    let path = link[link.find("/tutor/").unwrap()..].to_owned();
    let mut tess = app.visitor("northmoor");
    let view = tess.get(&path).await;
    assert_eq!(view.status, 200, "{}", view.body);
    assert!(
        view.body.contains("The learning record of Test Person") && view.body.contains("Fire safety"),
        "{}",
        view.body
    );
    assert!(!view.body.contains("Sepsis awareness"), "only what was shared");
    let (status, kind, pdf) = tess.get_bytes(&format!("{path}/courses/{fire}.pdf")).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    let text = pdf_pages(&pdf).join("\n");
    assert!(text.contains("Course summary") && text.contains("Exits") && text.contains("Test Person"), "{text}");
    assert_eq!(tess.get(&format!("{path}/courses/{sepsis}.pdf")).await.status, 404);
    assert_eq!(app.visitor("riverside").get(&path).await.status, 404, "only on its own trust's site");
    // Ann sees who looked and how often.
    let mine = ann.get("/account/tutors").await;
    // The page, the PDF and the refused PDF each opened the link.
    assert!(mine.body.contains("Tess Tutor (tess@uni.example)") && mine.body.contains("3 times"), "{}", mine.body);
    // Stopped: gone at the next request.
    let form = "action=\"/account/tutors/";
    let at = mine.body.find(form).unwrap() + "action=\"".len();
    let revoke: String = mine.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = mine.csrf().unwrap();
    assert_eq!(ann.post(&revoke, &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(tess.get(&path).await.status, 410);
    let dbs = app.dbs().await;
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let trail = trellis_db::audit::trail_of(&tx, "record.tutor", 20).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.action == "record.tutor_viewed").count(), 3);
    assert!(
        trail.iter().any(|e| e.action == "record.tutor_revoked")
            && trail.iter().any(|e| e.action == "record.tutor_granted")
    );
}

#[tokio::test]
async fn course_statistics_are_anonymised_small_groups_are_stars_and_other_trusts_courses_are_refused() {
    let app = spawn_app().await;
    let course = app
        .course("northmoor", "nm-hands", "Hand hygiene")
        .page("Five moments", "Before touching")
        .published()
        .create()
        .await;
    let theirs =
        app.course("riverside", "rv-hands", "Hand hygiene").page("Five moments", "Before").published().create().await;
    for i in 0..9 {
        let p = app.person("northmoor", &format!("learner{i}@northmoor.example"));
        let p = if i < 2 {
            p.staff("Medical and Dental", "Surgery")
        } else {
            p.staff("Nursing and Midwifery Registered", "Wards")
        };
        let (mut v, _) = p.signed_in().await;
        learn(&mut v, course).await;
    }
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let page = boss.get(&format!("/admin/statistics?course={course}&by=group")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let row = |label: &str| {
        let at = page
            .body
            .find(&format!("</span>{label}</th>"))
            .unwrap_or_else(|| panic!("a row for {label}: {}", page.body));
        page.body[at..page.body[at..].find("</tr>").unwrap() + at].to_owned()
    };
    let medical = row("Medical and Dental");
    assert!(
        medical.contains("Enrolled </span>*<") && medical.contains("Completed </span>*<"),
        "2 people are a star: {medical}"
    );
    assert!(medical.contains("Median minutes </span>*<"), "no median of 2: {medical}");
    let nursing = row("Nursing and Midwifery Registered");
    assert!(nursing.contains("Enrolled </span>*<"), "7 people are a star too: {nursing}");
    let all = row("All");
    assert!(all.contains("Enrolled </span>10<") && all.contains("Completed </span>10<"), "9 rounds to 10: {all}");
    assert!(!page.body.contains("learner0@"), "never a name or address");
    // Only a trust's own courses; only training managers.
    assert_eq!(boss.get(&format!("/admin/statistics?course={theirs}")).await.status, 400);
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    assert_eq!(ann.get("/admin/statistics").await.status, 403);
}

#[tokio::test]
async fn the_platform_publishes_open_data_of_the_national_catalogue_under_disclosure_control() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    // Riverside offers it too; 9 learn at Northmoor, 3 at Riverside.
    for (slug, n) in [("northmoor", 9), ("riverside", 3)] {
        let (mut boss, _) =
            app.person(slug, &format!("boss@{slug}.example")).roles(&[Role::TrainingManager]).signed_in().await;
        let t = boss.get("/admin/courses").await.csrf().unwrap();
        assert_eq!(
            boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await.status,
            303
        );
        for i in 0..n {
            let (mut v, _) = app.person(slug, &format!("learner{i}@{slug}.example")).signed_in().await;
            let page = v.get(&format!("/courses/{fire}")).await;
            let t = page.csrf().unwrap();
            assert_eq!(v.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 303);
        }
    }
    // Anyone, signed in or not, on the platform's own address.
    let csv = app.get(trellis_testkit::BASE, "/statistics/open-data.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let body = csv.text().await.unwrap();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert!(body.starts_with("course_code,course_title,month,enrolled,completed\n"), "{body}");
    // 12 enrolled round to 10; none completed stays 0; the total follows the month.
    assert!(body.contains(&format!("CSTF-FIRE,Fire safety,{month},10,0\n")), "{body}");
    assert!(body.contains("CSTF-FIRE,Fire safety,all,10,0\n"), "{body}");
    assert!(!body.contains("northmoor") && !body.contains("Northmoor") && !body.contains("@"), "no trust and no one");
}

#[tokio::test]
async fn platform_administrators_see_national_figures_by_trust_and_region_with_small_counts_starred() {
    let app = spawn_app_with_admin_mfa_off().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    // 9 learn at Northmoor (North East and Yorkshire), 3 at Riverside (Midlands).
    for (slug, n) in [("northmoor", 9), ("riverside", 3)] {
        let (mut boss, _) =
            app.person(slug, &format!("boss@{slug}.example")).roles(&[Role::TrainingManager]).signed_in().await;
        let t = boss.get("/admin/courses").await.csrf().unwrap();
        assert_eq!(
            boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await.status,
            303
        );
        for i in 0..n {
            let (mut v, _) = app.person(slug, &format!("learner{i}@{slug}.example")).signed_in().await;
            learn(&mut v, fire).await;
        }
    }
    // Only platform administrators.
    let mut nobody = Visitor::new(app.addr, trellis_testkit::BASE);
    assert_ne!(nobody.get("/admin/statistics").await.status, 200);
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    let mut root = Visitor::new(app.addr, trellis_testkit::BASE);
    assert_eq!(root.sign_in("root@platform.example", PW).await.status, 303);
    let list = root.get("/admin/statistics").await;
    assert!(list.status == 200 && list.body.contains("Fire safety"), "{}", list.body);
    let row = |body: &str, label: &str| {
        let at = body.find(&format!("</span>{label}</th>")).unwrap_or_else(|| panic!("a row for {label}: {body}"));
        body[at..body[at..].find("</tr>").unwrap() + at].to_owned()
    };
    let by_trust = root.get(&format!("/admin/statistics?course={fire}&by=trust")).await.body;
    assert!(row(&by_trust, "Northmoor Teaching Hospitals NHS Foundation Trust").contains("Enrolled </span>10<"));
    assert!(row(&by_trust, "Riverside Community Health NHS Trust").contains("Enrolled </span>*<"), "{by_trust}");
    let by_region = root.get(&format!("/admin/statistics?course={fire}&by=region")).await.body;
    assert!(row(&by_region, "North East and Yorkshire").contains("Enrolled </span>10<"), "{by_region}");
    assert!(row(&by_region, "Midlands").contains("Enrolled </span>*<"), "{by_region}");
    assert!(row(&by_region, "All").contains("Enrolled </span>10<"), "12 rounds to 10: {by_region}");
    assert!(!by_region.contains("@") && !by_trust.contains("learner0"), "never anyone");
    let bad = root.get(&format!("/admin/statistics?course={}", uuid::Uuid::now_v7())).await;
    assert!(bad.status == 400 && bad.body.contains("Choose one of the national courses"), "{}", bad.body);
}

/// A member's standing at a trust (by work email).
async fn standing(app: &TestApp, slug: &str, email: &str) -> String {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let p = trellis_db::identity::member_by_email(&tx, email).await.unwrap().expect("a member");
    let m = trellis_db::identity::membership(&tx, p).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    format!("{:?}", m.status).to_lowercase()
}

#[tokio::test]
async fn leavers_from_a_whole_staff_file_or_a_past_end_date_are_shown_then_suspended_after_the_grace_period() {
    let app = spawn_app().await;
    app.member("northmoor", "boss@northmoor.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("northmoor");
    boss.sign_in_and_agree("boss@northmoor.example", PW).await;
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work,End Date\n";
    let amara =
        "12345678,Amara,Okafor,amara@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,General";
    let ben = "12345679,Ben,Hughes,ben@northmoor.example,Porter,Estates,Estates and Ancillary,General,";
    let cy = "12345680,Cy,Ho,cy@northmoor.example,Healthcare Assistant,Ward 7,Additional Clinical Services,General";
    let cara =
        "12345681,Cara,Lind,boss@northmoor.example,Training Manager,Education,Administrative and Clerical,General,";
    import(&mut boss, &format!("{head}{amara},\n{ben}\n{cy},31/12/2099\n{cara}\n")).await;

    // The grace period: refused when not a number of days; then none at all.
    let t = boss.get("/admin/staff/import").await.csrf().unwrap();
    let bad = boss.post("/admin/staff/import/leavers", &[("csrf_token", &t), ("grace_days", "soon")]).await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body.contains("Enter a number of days from 0 to 365") && bad.body.contains("value=\"soon\""),
        "{}",
        bad.body
    );
    let set = boss.post("/admin/staff/import/leavers", &[("csrf_token", &t), ("grace_days", "0")]).await;
    assert_eq!(set.status, 303, "{}", set.body);
    assert!(boss.get("/admin/staff/import").await.body.contains("Leavers are now suspended 0 days after"));

    // The whole staff list: Ben is not in it, Cy's end date has passed, Amara moves ward.
    let second = format!("{head}{}\n{cy},01/01/2025\n{cara}\n", amara.replace("Ward 7", "Ward 9") + ",");
    let partial = check_file(&mut boss, &second, false).await;
    assert!(partial.body.contains("1 leaver") && !partial.body.contains("Not in this file"), "{}", partial.body);
    let whole = check_file(&mut boss, &second, true).await;
    assert_eq!(whole.status, 200, "{}", whole.body);
    for said in [
        "2 leavers",
        "Not in this file",
        "ben@northmoor.example",
        "Their end date, 1 January 2025, has passed",
        "1 person moves department or staff group",
        "End date: \u{201c}31 December 2099\u{201d} \u{2192} \u{201c}1 January 2025\u{201d}",
    ] {
        assert!(whole.body.contains(said), "{said}: {}", whole.body);
    }
    assert_eq!(standing(&app, "northmoor", "ben@northmoor.example").await, "approved", "a dry run changes nothing");
    import_file(&mut boss, &second, true).await;
    // With no grace, both are suspended at once (their records stay); Amara is not.
    assert_eq!(standing(&app, "northmoor", "ben@northmoor.example").await, "suspended");
    assert_eq!(standing(&app, "northmoor", "cy@northmoor.example").await, "suspended");
    assert_eq!(standing(&app, "northmoor", "amara@northmoor.example").await, "approved");
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = audit::trail_of(&tx, "membership.suspended", 10).await.unwrap();
    tx.commit().await.unwrap();
    assert!(trail.iter().filter(|e| e.detail.contains("Leaver")).count() == 2, "{trail:?}");
    assert!(boss.get("/admin/staff/import").await.body.contains("2 leaving"));
    // The trust's only training manager, missing from a whole file, is kept.
    let third = format!("{head}{}\n", amara.replace("Ward 7", "Ward 9") + ",");
    import_file(&mut boss, &third, true).await;
    assert_eq!(standing(&app, "northmoor", "boss@northmoor.example").await, "approved");
    // Reinstated by hand, Ben is no longer a leaver: the next run (after a partial file here)
    // leaves him be.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let ben_id = trellis_db::identity::member_by_email(&tx, "ben@northmoor.example").await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let t = boss.get("/admin/staff").await.csrf().unwrap();
    let back =
        boss.post(&format!("/admin/staff/{ben_id}/status"), &[("csrf_token", &t), ("decision", "reinstate")]).await;
    assert_eq!(back.status, 303, "{}", back.body);
    import(&mut boss, &format!("{third}\n")).await;
    assert_eq!(standing(&app, "northmoor", "ben@northmoor.example").await, "approved");
    // Another trust's setting is its own.
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert_eq!(trellis_db::staff::leaver_grace_days(&tx).await.unwrap(), trellis_db::staff::DEFAULT_LEAVER_GRACE_DAYS);
    tx.commit().await.unwrap();
}
