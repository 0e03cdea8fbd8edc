//! Objection, the one opt-out model: a person stops optional uses of their information from
//! their profile (bulletins, campaigns, research extracts), it holds at every trust they belong
//! to, it is audited, and what reads it obeys it: the published open data stops counting them,
//! and a trust's recipient filter leaves them out (and sees no one of another trust's).

use trellis_domain::identity::Role;
use trellis_domain::privacy::Purpose;
use trellis_testkit::spawn_app;

#[tokio::test]
async fn a_person_stops_optional_uses_of_their_information_and_every_reader_obeys() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let t = boss.get("/admin/courses").await.csrf().unwrap();
    boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;
    let mut learners = Vec::new();
    for i in 0..10 {
        let (mut v, id) = app.person("northmoor", &format!("learner{i}@northmoor.example")).signed_in().await;
        let t = v.get(&format!("/courses/{fire}")).await.csrf().unwrap();
        assert_eq!(v.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 303);
        learners.push((v, id));
    }
    let dbs = app.dbs().await;
    let enrolled = || async {
        let rows = dbs.platform.national_statistics_across_tenants().await.unwrap();
        rows.iter().filter(|r| r.code == "CSTF-FIRE").map(|r| r.enrolled).sum::<u64>()
    };
    assert_eq!(enrolled().await, 10);

    // Three stop research extracts, one of them campaigns too; the profile says so.
    for (v, _) in learners.iter_mut().take(3) {
        let page = v.get("/profile").await;
        assert!(page.body.contains("Optional uses of your information"), "{}", page.body);
        let t = page.csrf().unwrap();
        let saved = v.post("/account/objections", &[("csrf_token", &t), ("stop", "research")]).await;
        assert_eq!(saved.status, 303);
        let shown = v.get("/profile").await.body;
        assert!(shown.contains("Your choices about optional uses of your information are saved"), "{shown}");
        assert!(shown.contains("value=\"research\" aria-describedby=\"stop-research-hint\" checked"), "{shown}");
        assert!(!shown.contains("value=\"campaigns\" aria-describedby=\"stop-campaigns-hint\" checked"));
    }
    let (v, first) = &mut learners[0];
    let t = v.get("/profile").await.csrf().unwrap();
    let both = v.post("/account/objections", &[("csrf_token", &t), ("stop", "research"), ("stop", "campaigns")]).await;
    assert_eq!(both.status, 303);
    let first = *first;

    // The open data no longer counts them (10 → 7, published as suppressed).
    assert_eq!(enrolled().await, 7);
    let csv = app.get(trellis_testkit::BASE, "/statistics/open-data.csv").await.text().await.unwrap();
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert!(csv.contains(&format!("CSTF-FIRE,Fire safety,{month},*,0\n")), "{csv}");

    // A trust's recipients for a campaign leave the objector out; another trust sees no one.
    let ids: Vec<_> = learners.iter().map(|(_, id)| *id).collect();
    let northmoor = app.tenant_id("northmoor").await;
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let campaigns = trellis_db::identity::objecting_members(&tx, Purpose::Campaigns, &ids).await.unwrap();
    let research = trellis_db::identity::objecting_members(&tx, Purpose::Research, &ids).await.unwrap();
    let bulletins = trellis_db::identity::objecting_members(&tx, Purpose::Bulletins, &ids).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(campaigns.into_iter().collect::<Vec<_>>(), vec![first]);
    assert_eq!(research.len(), 3);
    assert!(bulletins.is_empty());
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::identity::objecting_members(&tx, Purpose::Research, &ids).await.unwrap().is_empty());
    tx.commit().await.unwrap();

    // Audited, with what changed; withdrawing an objection counts them again.
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let trail = trellis_db::audit::trail_of(&tx, "privacy.objections", 20).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trail.len(), 4, "{trail:?}");
    assert!(trail.iter().any(|e| e.detail.contains("campaigns")));
    let (v, _) = &mut learners[1];
    let t = v.get("/profile").await.csrf().unwrap();
    assert_eq!(v.post("/account/objections", &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(enrolled().await, 8);
}

#[tokio::test]
async fn only_the_listed_cookies_are_set_and_usage_is_counted_without_any() {
    let app = trellis_testkit::spawn_app_with(None, |c| c.server.usage_flush_seconds = 1).await;
    // The cookies page, on a trust's site and the platform's, lists the code's one list.
    let platform = trellis_testkit::Visitor::new(app.addr, trellis_testkit::BASE).get("/cookies").await;
    let trust = app.visitor("northmoor").get("/cookies").await;
    let names_on = |body: &str| -> Vec<String> {
        body.split("<code>").skip(1).filter_map(|s| s.split("</code>").next()).map(str::to_owned).collect()
    };
    let listed = names_on(&trust.body);
    for page in [&trust, &platform] {
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(names_on(&page.body), listed);
        assert!(page.body.contains("does not ask for your consent"));
    }
    for name in [trellis_web::SESSION_COOKIE, trellis_web::CSRF_COOKIE] {
        assert!(listed.iter().any(|l| l == name), "{name} missing from {listed:?}");
    }
    // A first visit to a public page sets no cookie at all.
    let mut stranger = app.visitor("northmoor");
    let home = stranger.get("/").await;
    assert_eq!(home.status, 200);
    assert!(home.headers.get_all("set-cookie").iter().next().is_none(), "{:?}", home.headers);
    // Signing in, learning and administering set only cookies on the list.
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let t = boss.get("/admin/courses").await.csrf().unwrap();
    boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    for _ in 0..3 {
        assert_eq!(ann.get(&format!("/courses/{fire}")).await.status, 200);
    }
    ann.get("/profile").await;
    for v in [&boss, &ann] {
        for name in v.cookies.keys() {
            assert!(listed.contains(name), "{name} is set but not on the cookies page {listed:?}");
        }
    }
    // Page views, counted on the server, reach the statistics page (administration pages aside).
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    assert!(
        crate::eventually(std::time::Duration::from_secs(10), || async {
            let tx = dbs.app.begin(northmoor).await.unwrap();
            let v = trellis_db::usage::since(&tx, chrono::Utc::now().date_naive()).await.unwrap();
            tx.commit().await.unwrap();
            v.courses.iter().any(|(c, n)| *c == fire && *n >= 3) && v.site >= 5
        })
        .await
    );
    let stats = boss.get("/admin/statistics").await;
    assert!(
        stats.body.contains("Page views in the last 30 days") && stats.body.contains("Fire safety"),
        "{}",
        stats.body
    );
    // Another trust's figures hold none of Northmoor's views.
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    let theirs = trellis_db::usage::since(&tx, chrono::Utc::now().date_naive()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(theirs.courses.is_empty(), "{theirs:?}");
}

#[tokio::test]
async fn the_retention_schedule_deletes_each_class_after_its_period_and_keeps_the_learning_record() {
    use trellis_db::retention::{self, Class};
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    // Audit entries, a session, a download in the access log, a course with an enrolment.
    let t = boss.get("/admin/courses/new").await.csrf().unwrap();
    let made = boss
        .post(
            "/admin/courses/new",
            &[("csrf_token", &t), ("kind", "course"), ("title", "Kept"), ("code", "KEPT-1"), ("enrolment", "open")],
        )
        .await;
    assert_eq!(made.status, 303);
    assert_eq!(ann.get("/account/activity.csv").await.status, 200);
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let schedule = app.config.retention.clone();
    let count = |a: &retention::Applied, c: Class| a.counts.iter().find(|(k, _)| *k == c).map_or(0, |(_, n)| *n);
    assert!(
        crate::eventually(std::time::Duration::from_secs(10), || async {
            let a =
                retention::apply(&dbs, northmoor, &schedule, chrono::Utc::now() + chrono::Duration::days(4000), true)
                    .await
                    .unwrap();
            count(&a, Class::AccessLog) >= 1
        })
        .await
    );
    let courses_before = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let n = trellis_db::catalogue::own_courses(&tx).await.unwrap().len();
        tx.commit().await.unwrap();
        n
    };

    // Today nothing has expired.
    let now = retention::apply(&dbs, northmoor, &schedule, chrono::Utc::now(), true).await.unwrap();
    assert!(now.counts.iter().all(|(_, n)| *n == 0), "{now:?}");
    // Thirteen months on: sessions have, the audit trail and access log have not (a dry run first).
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    let dry = retention::apply(&dbs, northmoor, &schedule, later, true).await.unwrap();
    assert!(count(&dry, Class::Sessions) >= 2, "{dry:?}");
    assert_eq!(count(&dry, Class::Audit), 0);
    assert_eq!(count(&dry, Class::AccessLog), 0);
    let again = retention::apply(&dbs, northmoor, &schedule, later, true).await.unwrap();
    assert_eq!(count(&again, Class::Sessions), count(&dry, Class::Sessions), "a dry run deletes nothing");
    let done = retention::apply(&dbs, northmoor, &schedule, later, false).await.unwrap();
    assert_eq!(count(&done, Class::Sessions), count(&dry, Class::Sessions));
    assert_eq!(count(&retention::apply(&dbs, northmoor, &schedule, later, true).await.unwrap(), Class::Sessions), 0);
    // Six years and more on: the audit trail and the access log go; the courses stay.
    let much_later = chrono::Utc::now() + chrono::Duration::days(i64::from(schedule.audit_days) + 2);
    let done = retention::apply(&dbs, northmoor, &schedule, much_later, false).await.unwrap();
    assert!(count(&done, Class::Audit) >= 2 && count(&done, Class::AccessLog) >= 1, "{done:?}");
    let tx = dbs.app.begin(northmoor).await.unwrap();
    assert!(trellis_db::audit::trail(&tx, 50).await.unwrap().is_empty());
    assert_eq!(trellis_db::catalogue::own_courses(&tx).await.unwrap().len(), courses_before);
    tx.commit().await.unwrap();
    // Another trust's rows were never touched.
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(!trellis_db::audit::trail(&tx, 50).await.unwrap().is_empty(), "Riverside's trail is its own");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_person_downloads_everything_held_about_them_from_every_trust_once_a_day_and_no_one_else_can() {
    let app = spawn_app().await;
    let (mut ann, ann_id) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    // Ann also belongs to Riverside.
    app.member("riverside", "ann@northmoor.example", "another password entirely", &[Role::Learner]).await;
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;

    let page = ann.get("/account/my-data").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t = page.csrf().unwrap();
    let asked = ann.post("/account/my-data", &[("csrf_token", &t)]).await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(ann.get("/account/my-data").await.body.contains("We are preparing a copy of your data"));
    // Once a day: asking again is refused, saying why and when.
    let again = ann.post("/account/my-data", &[("csrf_token", &t)]).await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert!(again.headers.get("retry-after").is_some() && again.body.contains("You can ask once a day"));

    let mail = app.mail.wait_for("ann@northmoor.example", "A copy of your data is ready").await;
    let link = mail.link("/account/my-data/").expect("a link");
    let path = format!("/{}", link.split_once("://").unwrap().1.split_once('/').unwrap().1);
    // Only Ann, signed in, with the emailed token.
    assert_eq!(bob.get(&path).await.status, 404, "another person cannot use the link");
    let wrong = path.split("token=").next().unwrap().to_owned() + "token=guessed";
    assert_eq!(ann.get(&wrong).await.status, 404);
    let mut stranger = app.visitor("northmoor");
    assert_ne!(stranger.get(&path).await.status, 200);
    let got = ann.get_bytes(&path).await;
    assert_eq!(got.0, 200);
    assert_eq!(got.1, "application/zip");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(got.2)).unwrap();
    let names: Vec<String> = (0..zip.len()).map(|i| zip.by_index(i).unwrap().name().unwrap().to_string()).collect();
    for wanted in [
        "README.txt",
        "account/people.json",
        "account/platform_terms_acceptances.csv",
        "northmoor/memberships.json",
        "northmoor/person_sessions.csv",
        "northmoor/data_exports.json",
        "northmoor/audit_events.json",
        "northmoor/xapi_statements.json",
        "riverside/memberships.csv",
    ] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} missing from {names:?}");
    }
    let mut everything = String::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        std::io::Read::read_to_string(&mut f, &mut everything).unwrap();
    }
    assert!(everything.contains("ann@northmoor.example") && everything.contains(&ann_id.to_string()));
    assert!(everything.contains("privacy.data_requested"), "the audit trail's entries about her");
    for secret in ["password_hash", "token_hash", "secret_sealed", "totp_secret", "\"secret\"", "$argon2"] {
        let at = everything.find(secret).map(|i| &everything[i.saturating_sub(200)..(i + 100).min(everything.len())]);
        assert!(at.is_none(), "{secret} leaked into the copy: {at:?}");
    }
    assert!(!everything.contains("bob@northmoor.example"), "nothing of anyone else");
    // Another trust's handle sees no request of Ann's.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::data_exports::of(&tx, ann_id, 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
}
