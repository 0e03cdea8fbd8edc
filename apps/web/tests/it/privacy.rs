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

    // Two enquiries to the desk: one closed today, one still open.
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let enquiry = |body: &str| trellis_db::enquiries::NewEnquiry {
        person: None,
        name: "Jo".into(),
        email: "jo@example.nhs.uk".into(),
        topic: "general".into(),
        body: body.into(),
        due_at: None,
    };
    let closed = trellis_db::enquiries::open(&tx, enquiry("Closed one"), "t1").await.unwrap();
    trellis_db::enquiries::set_closed(&tx, closed.id, true).await.unwrap();
    let open = trellis_db::enquiries::open(&tx, enquiry("Open one"), "t2").await.unwrap();
    tx.commit().await.unwrap();

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
    // Closed enquiries go three years after closing, with their threads; an open one stays.
    assert_eq!(count(&done, Class::Enquiries), 1, "{done:?}");
    let tx = dbs.app.begin(northmoor).await.unwrap();
    assert!(trellis_db::enquiries::by_id(&tx, closed.id).await.unwrap().is_none());
    assert!(trellis_db::enquiries::thread(&tx, closed.id).await.unwrap().is_empty());
    assert!(trellis_db::enquiries::by_id(&tx, open.id).await.unwrap().is_some());
    assert_eq!(trellis_db::enquiries::thread(&tx, open.id).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
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

/// Every place `needles` (lower-case) occur in the whole database, as `table.column`: every text,
/// JSON, binary and id column of every table, read as the owner.
async fn found_anywhere(app: &trellis_testkit::TestApp, needles: &[String]) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = app.db.raw_owner_connection().await;
    let backend = conn.get_database_backend();
    let columns: Vec<(String, String, String)> = if backend == DbBackend::Postgres {
        conn.query_all_raw(Statement::from_string(
            backend,
            "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS d FROM information_schema.columns
              WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'uuid')",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("", "t").unwrap(), r.try_get("", "c").unwrap(), r.try_get("", "d").unwrap()))
        .collect()
    } else {
        let mut out = Vec::new();
        let tables = conn
            .query_all_raw(Statement::from_string(backend, "SELECT name FROM sqlite_master WHERE type = 'table'"))
            .await
            .unwrap();
        for t in tables {
            let t: String = t.try_get("", "name").unwrap();
            for c in conn
                .query_all_raw(Statement::from_string(backend, format!("PRAGMA table_info(\"{t}\")")))
                .await
                .unwrap()
            {
                out.push((t.clone(), c.try_get("", "name").unwrap(), "any".to_owned()));
            }
        }
        out
    };
    let mut found = Vec::new();
    for (t, c, d) in &columns {
        for n in needles {
            let sql = match (backend, d.as_str()) {
                (DbBackend::Postgres, "bytea") => {
                    format!(
                        "SELECT COUNT(*) AS n FROM \"{t}\" WHERE position(convert_to($1, 'UTF8') IN lower(encode(\"{c}\", 'escape'))::bytea) > 0"
                    )
                }
                (DbBackend::Postgres, _) => {
                    format!("SELECT COUNT(*) AS n FROM \"{t}\" WHERE strpos(lower(\"{c}\"::text), $1) > 0")
                }
                // SQLite keeps ids as 16-byte blobs: they are looked for in hexadecimal too.
                _ => format!(
                    "SELECT COUNT(*) AS n FROM \"{t}\" WHERE instr(lower(CAST(\"{c}\" AS TEXT)), ?) > 0 OR instr(lower(hex(\"{c}\")), ?) > 0"
                ),
            };
            let simple = uuid::Uuid::parse_str(n).map(|u| u.simple().to_string()).unwrap_or_else(|_| n.clone());
            let values: Vec<sea_orm::Value> = if backend == DbBackend::Postgres {
                vec![n.clone().into()]
            } else {
                vec![n.clone().into(), simple.into()]
            };
            let row = conn.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap().unwrap();
            if row.try_get::<i64>("", "n").unwrap() > 0 {
                found.push(format!("{t}.{c} has {n}"));
            }
        }
    }
    found
}

/// Counts that must not change when someone is erased.
async fn counts(app: &trellis_testkit::TestApp) -> Vec<(String, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = app.db.raw_owner_connection().await;
    let mut out = Vec::new();
    for t in [
        "enrolments",
        "completions",
        "attempts",
        "attempt_commits",
        "object_progress",
        "xapi_statements",
        "audit_events",
    ] {
        let r = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {t}"),
            ))
            .await
            .unwrap()
            .unwrap();
        out.push((t.to_owned(), r.try_get::<i64>("", "n").unwrap()));
    }
    out
}

#[tokio::test]
async fn closing_an_account_erases_the_person_everywhere_and_keeps_the_counts() {
    use crate::elearning::{commit_as, launch, new_course, publish, sessions_of, token, upload};
    use serde_json::json;
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let mut ed = app
        .person("northmoor", "ed@northmoor.example")
        .roles(&[Role::ContentEditor, Role::TrainingManager])
        .signed_in()
        .await
        .0;
    let t = ed.get("/admin/courses").await.csrf().unwrap();
    ed.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;
    let email = "annwen.ot@northmoor.example";
    let (mut ann, ann_id) =
        app.person("northmoor", email).staff("Nursing and Midwifery Registered", "Ward 7").signed_in().await;
    // She is also Riverside's only training manager, and has a distinctive name.
    app.member("riverside", email, trellis_testkit::PASSWORD, &[Role::Learner, Role::TrainingManager]).await;
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let itx = dbs.identity.begin(northmoor).await.unwrap();
    let details = trellis_db::identity::Details {
        given_name: "Annwen".into(),
        family_name: "Oakley-Tregarth".into(),
        job_role: "Staff nurse".into(),
        place_of_work: "RX1".into(),
    };
    trellis_db::identity::update_details(&itx, ann_id, &details).await.unwrap();
    itx.commit().await.unwrap();

    // Her learning: the national course, and a SCORM course whose content writes her name into
    // what it commits; an xAPI statement that names her by email and by name.
    let t = ann.get(&format!("/courses/{fire}")).await.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let course = new_course(&mut ed, "NM-HH", "Hand hygiene").await;
    assert_eq!(
        upload(&mut ed, &course, "hh.zip", &trellis_testkit::test_package("scorm12-hand-hygiene")).await.status,
        303
    );
    publish(&mut ed, &course).await;
    let t = token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    // A place at a face-to-face event of it, marked by her as its trainer too.
    {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let starts = chrono::Utc::now() + chrono::Duration::days(3);
        let input = trellis_db::events::EventInput {
            starts_at: starts,
            ends_at: starts + chrono::Duration::hours(2),
            venue: "Room 1".into(),
            capacity: 5,
            trainers: vec![ann_id],
            ..Default::default()
        };
        let event = trellis_db::events::create(&tx, course.parse().unwrap(), &input, Some(ann_id)).await.unwrap();
        trellis_db::events::book(&tx, event, ann_id).await.unwrap();
        assert!(trellis_db::events::mark(&tx, event, ann_id, "attended", "", ann_id).await.unwrap());
        tx.commit().await.unwrap();
    }
    let page = ann.get(&format!("/courses/{course}")).await;
    let session = sessions_of(&page.body, &course).into_iter().next().expect("a session");
    let (_, src) = launch(&mut ann, &course, &session).await;
    let run = src.rsplit('/').next().unwrap().to_owned();
    let mut content = app.content();
    let runtime = content.get(&format!("/run/{run}")).await;
    assert!(runtime.body.contains("Oakley-Tregarth, Annwen"), "the content is told her name");
    let r = commit_as(
        &mut content,
        &run,
        1,
        1,
        true,
        json!({ "cmi.core.lesson_status": "passed", "cmi.core.score.raw": "90",
                "cmi.suspend_data": "{\"learner\":\"Oakley-Tregarth, Annwen\"}" }),
    )
    .await;
    assert_eq!(r["result"], true, "{r}");
    {
        use base64::Engine as _;
        let (key, secret) =
            trellis_web::issue_lrs_credential(&dbs, northmoor, "Content", "write", "1.0.3").await.unwrap();
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
        let body = json!({
            "actor": { "mbox": format!("mailto:{email}") },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "en-GB": "experienced" } },
            "object": { "id": "https://content.example/sepsis" },
            "context": { "extensions": { "https://content.example/learner": "Annwen Oakley-Tregarth" } },
        });
        let said = app
            .visitor("northmoor")
            .send(
                "POST",
                "/xapi/statements",
                &[
                    ("authorization", &auth),
                    ("x-experience-api-version", "1.0.3"),
                    ("content-type", "application/json"),
                ],
                body.to_string().into_bytes(),
            )
            .await;
        assert_eq!(said.status, 200, "{}", said.body);
    }
    // A download (the access log keeps her address), an enquiry to a trust she does not belong
    // to, written signed out; an enquiry to her own desk, and a copy of her data.
    assert_eq!(ann.get("/account/activity.csv").await.status, 200);
    let mut out_there = app.visitor("fenwick");
    let t = out_there.get("/contact").await.csrf().unwrap();
    let sent = out_there
        .post(
            "/contact",
            &[
                ("csrf_token", &t),
                ("name", "Annwen Oakley-Tregarth"),
                ("email", email),
                ("topic", "general"),
                ("message", "Hello"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let t = ann.get("/contact").await.csrf().unwrap();
    let asked = ann
        .post(
            "/contact",
            &[
                ("csrf_token", &t),
                ("name", "Annwen Oakley-Tregarth"),
                ("topic", "data"),
                ("message", "What do you hold?"),
            ],
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let t = ann.get("/account/my-data").await.csrf().unwrap();
    assert_eq!(ann.post("/account/my-data", &[("csrf_token", &t)]).await.status, 303);
    app.mail.wait_for(email, "A copy of your data is ready").await;

    // Her library: a resource credited to her, proposed for the national library (and copied
    // there), a rating, feedback giving her address, a report naming her, the policy accepted.
    let t = token(&mut ed, "/admin/library").await;
    ed.post("/admin/library/settings", &[("csrf_token", &t), ("contributors", "everyone")]).await;
    let t = token(&mut ann, "/library/new").await;
    let shared = ann
        .post_files(
            "/library",
            &[
                ("csrf_token", &t),
                ("policy", "yes"),
                ("confirm", "yes"),
                ("kind", "article"),
                ("title", "Pressure ulcer care"),
                ("description", "Notes by Annwen Oakley-Tregarth"),
                ("licence", "cc-by"),
                ("attribution_name", "Annwen Oakley-Tregarth"),
                ("body", "Turn patients regularly."),
                ("propose_national", "yes"),
            ],
            &[],
        )
        .await;
    assert_eq!(shared.status, 303, "{}", shared.body);
    let path = shared.location.unwrap();
    let t = token(&mut ann, &path).await;
    assert_eq!(ann.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "5")]).await.status, 303);
    let said =
        ann.post(&format!("{path}/feedback"), &[("csrf_token", &t), ("feedback", &format!("Ask {email}"))]).await;
    assert_eq!(said.status, 303);
    let reported = ann
        .post(
            &format!("{path}/report"),
            &[("csrf_token", &t), ("reason", "other"), ("details", "Annwen Oakley-Tregarth wrote it in a hurry")],
        )
        .await;
    assert_eq!(reported.status, 303);
    {
        use trellis_db::library::{NewResource, NewVersion, create};
        let ntx = dbs.app.begin(trellis_domain::TenantId::NATIONAL).await.unwrap();
        let origin = path.trim_start_matches("/library/").parse().unwrap();
        let copy = NewResource {
            kind: "article".into(),
            title: "Pressure ulcer care".into(),
            description: "Notes by Annwen Oakley-Tregarth".into(),
            licence: "cc-by".into(),
            attribution_name: "Annwen Oakley-Tregarth".into(),
            contributor: Some(ann_id),
            origin: Some((northmoor, origin)),
            ..NewResource::default()
        };
        let first =
            NewVersion { body: "Turn patients regularly.".into(), created_by: Some(ann_id), ..NewVersion::default() };
        create(&ntx, &copy, &first, false).await.unwrap();
        ntx.commit().await.unwrap();
    }

    let needles = vec![email.to_owned(), "oakley-tregarth".to_owned(), ann_id.to_string()];
    let first = found_anywhere(&app, &needles).await;
    for place in
        ["resources.contributor_id", "resource_feedback.body", "resource_reports.details", "resource_ratings.person_id"]
    {
        assert!(first.iter().any(|f| f.starts_with(place)), "{place} in {first:?}");
    }
    assert!(first.len() > 10, "she is written in many places first: {first:?}");
    let national = || async {
        let rows = dbs.platform.national_statistics_across_tenants().await.unwrap();
        rows.iter().filter(|r| r.code == "CSTF-FIRE").map(|r| r.enrolled).sum::<u64>()
    };
    let (before, national_before) = (counts(&app).await, national().await);

    // The page says what goes and what stays; the last training manager of Riverside is refused.
    let page = ann.get("/account/close").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for said in ["What is kept, and why", "Payment records", "at least six years", "Riverside"] {
        assert!(page.body.contains(said), "{said}: {}", page.body);
    }
    let t = page.csrf().unwrap();
    let unticked = ann.post("/account/close", &[("csrf_token", &t)]).await;
    assert_eq!(unticked.status, 400);
    assert!(unticked.body.contains("Tick the box to confirm"), "{}", unticked.body);
    let refused = ann.post("/account/close", &[("csrf_token", &t), ("confirm", "yes")]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("only training manager") && refused.body.contains("Nothing has been changed"));
    assert_eq!(found_anywhere(&app, &needles).await, first, "refused: nothing changed");

    // Another training manager at Riverside: now it goes through.
    app.member("riverside", "rhian@riverside.example", trellis_testkit::PASSWORD, &[Role::TrainingManager]).await;
    let closed = ann.post("/account/close", &[("csrf_token", &t), ("confirm", "yes")]).await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert!(closed.body.contains("Your account is closed"));
    let after = counts(&app).await;
    assert_eq!(ann.get("/profile").await.location.as_deref(), Some("/sign-in"), "signed out");
    let mut again = app.visitor("northmoor");
    assert_eq!(again.sign_in(email, trellis_testkit::PASSWORD).await.status, 401);

    // Her name, email address and id are nowhere; every count is as it was (plus the two
    // trusts' entries saying that someone was erased), and the national figures too.
    let left = found_anywhere(&app, &needles).await;
    assert!(left.is_empty(), "still found: {left:?}");
    for ((t, b), (_, a)) in before.iter().zip(&after) {
        let expected = if t == "audit_events" { b + 2 } else { *b };
        assert_eq!(*a, expected, "{t}");
    }
    assert_eq!(national().await, national_before);
    // The trust's pages about the course and its trail still work.
    let attempts = ed.get(&format!("/admin/courses/{course}/attempts")).await;
    assert_eq!(attempts.status, 200, "{}", attempts.body);
    let trail = ed.get("/admin/audit").await;
    assert!(trail.body.contains("person.erased") || trail.body.contains("erased"), "{}", trail.body);
}

#[tokio::test]
async fn a_training_manager_erases_a_members_details_at_their_trust_only() {
    let app = spawn_app().await;
    let (mut boss, boss_id) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let email = "dual.member@northmoor.example";
    let (mut dee, dee_id) = app.person("northmoor", email).signed_in().await;
    // Dee also works at Riverside.
    let (mut dee_there, _) = app.person("riverside", email).signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let fire = app.course("northmoor", "nm-fire", "Fire safety").page("Exits", "Know them").published().create().await;
    let t = dee.get(&format!("/courses/{fire}")).await.csrf().unwrap();
    assert_eq!(dee.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 303);

    // Another trust's manager cannot reach her here, nor erase her from there by id.
    let t = rex.get("/admin/staff").await.csrf().unwrap();
    assert_eq!(rex.get(&format!("/admin/staff/{boss_id}/erase")).await.status, 404);
    let theirs = rex.post(&format!("/admin/staff/{boss_id}/erase"), &[("csrf_token", &t), ("confirm", "yes")]).await;
    assert_eq!(theirs.status, 404);
    // A learner cannot erase anyone.
    let t = dee.get("/profile").await.csrf().unwrap();
    assert_ne!(
        dee.post(&format!("/admin/staff/{boss_id}/erase"), &[("csrf_token", &t), ("confirm", "yes")]).await.status,
        303
    );

    let page = boss.get(&format!("/admin/staff/{dee_id}/erase")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("also belongs to other organisations"), "{}", page.body);
    let t = page.csrf().unwrap();
    let done = boss.post(&format!("/admin/staff/{dee_id}/erase"), &[("csrf_token", &t), ("confirm", "yes")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(boss.get("/admin/staff").await.body.contains("Their details have been erased"));
    assert!(!boss.get("/admin/staff").await.body.contains(email), "gone from Northmoor's staff");
    assert_eq!(dee.get("/profile").await.location.as_deref(), Some("/sign-in"), "no longer signed in here");
    // Her account goes on at Riverside.
    assert_eq!(dee_there.get("/profile").await.status, 200);
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::identity::member_person(&tx, dee_id).await.unwrap().is_some());
    tx.commit().await.unwrap();
    // Northmoor's trail records it, by the manager, naming only the pseudonym.
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = trellis_db::audit::trail(&tx, 100).await.unwrap();
    tx.commit().await.unwrap();
    let entry = trail.iter().find(|e| e.action == "person.erased").expect("recorded");
    assert_eq!(entry.actor, Some(boss_id));
    assert_ne!(entry.subject, dee_id.to_string());
    assert!(trail.iter().all(|e| e.subject != dee_id.to_string() && e.actor != Some(dee_id)));
}

#[tokio::test]
async fn embedded_videos_load_only_after_consent_and_only_where_the_trust_allows_them() {
    let app = spawn_app().await;
    let youtube = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
    // Fenwick's tenant.toml allows YouTube and Vimeo; Northmoor's allows neither.
    let at_fenwick =
        app.course("fenwick", "fw-video", "De-escalation").link("Watch", youtube).published().create().await;
    let at_northmoor =
        app.course("northmoor", "nm-video", "De-escalation").link("Watch", youtube).published().create().await;
    let (mut fay, _) = app.person("fenwick", "fay@fenwick.example").signed_in().await;
    let (mut ned, _) = app.person("northmoor", "ned@northmoor.example").signed_in().await;
    async fn session_of(v: &mut trellis_testkit::Visitor, course: trellis_domain::CourseId) -> trellis_testkit::Page {
        let t = v.get(&format!("/courses/{course}")).await.csrf().unwrap();
        assert_eq!(v.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
        let go = v.get(&format!("/learn/{course}")).await.location.expect("to the session");
        v.get(&go).await
    }
    let frame_src = |p: &trellis_testkit::Page| {
        p.headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    };

    // Before any choice: the banner asks, on every page; the video is a link; no frame may load.
    let page = session_of(&mut fay, at_fenwick).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Cookies on Fenwick") && page.body.contains("value=\"reject\""), "the banner");
    assert!(!page.body.contains("<iframe") && page.body.contains("Watch it on YouTube instead"), "{}", page.body);
    assert!(!frame_src(&page).contains("youtube"), "{}", frame_src(&page));
    assert!(fay.cookies.keys().all(|k| k != "trellis_consent"), "nothing set before a choice");
    let session_path = format!("/learn/{at_fenwick}/");
    let here = page.body.split(&session_path).nth(1).map(|s| format!("{session_path}{}", &s[..36])).unwrap();

    // A choice from another site's page is refused.
    let forged = fay
        .send(
            "POST",
            "/cookies/consent",
            &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "cross-site")],
            b"choice=accept&back=/".to_vec(),
        )
        .await;
    assert_eq!(forged.status, 403);
    assert!(fay.cookies.keys().all(|k| k != "trellis_consent"));

    // Refused: remembered for 12 months; still a link; the banner says so once and goes.
    let no = fay
        .send(
            "POST",
            "/cookies/consent",
            &[("content-type", "application/x-www-form-urlencoded"), ("sec-fetch-site", "same-origin")],
            format!("choice=reject&back={here}").into_bytes(),
        )
        .await;
    assert_eq!(no.status, 303);
    let set = no.headers.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(
        set.starts_with("trellis_consent=no;") && set.contains("Max-Age=31536000") && set.contains("HttpOnly"),
        "{set}"
    );
    let back = no.location.clone().unwrap();
    assert_eq!(back, format!("{here}?cookies=saved"));
    let page = fay.get(&back).await;
    assert!(page.body.contains("You have turned off video cookies") && !page.body.contains("value=\"reject\""));
    assert!(!page.body.contains("<iframe"));

    // Accepted (beside the video): the privacy-enhanced player, allowed by this page's policy only.
    let yes = fay
        .send(
            "POST",
            "/cookies/consent",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", &format!("http://{}", trellis_testkit::TestApp::host_of("fenwick"))),
            ],
            format!("choice=accept&back={here}").into_bytes(),
        )
        .await;
    assert_eq!(yes.status, 303, "{}", yes.body);
    let page = fay.get(&here).await;
    assert!(page.body.contains("src=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\""), "{}", page.body);
    assert!(frame_src(&page).contains("frame-src 'self' https://www.youtube-nocookie.com"), "{}", frame_src(&page));
    assert!(!frame_src(&fay.get("/profile").await).contains("youtube"), "other pages allow no player");

    // The cookies page lists the choice's cookie and shows the choice, to change it.
    let cookies = fay.get("/cookies").await;
    assert!(cookies.body.contains("trellis_consent") && cookies.body.contains("12 months"));
    assert!(
        cookies.body.contains("id=\"choice-accept\" name=\"choice\" type=\"radio\" value=\"accept\" checked"),
        "{}",
        cookies.body
    );

    // Northmoor allows no embeds: no banner, a plain link, even with consent given there.
    let page = session_of(&mut ned, at_northmoor).await;
    assert!(!page.body.contains("Cookies on Northmoor") && !page.body.contains("<iframe"));
    assert!(page.body.contains("Open the resource (on another website)"));
    assert!(!ned.get("/cookies").await.body.contains("Videos from YouTube"));
}

/// Sets when someone was last active (and created), as the owner: seven years ago, say.
async fn last_active(app: &trellis_testkit::TestApp, email: &str, at: chrono::DateTime<chrono::Utc>) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let conn = app.db.raw_owner_connection().await;
    let backend = conn.get_database_backend();
    let sql = if backend == DbBackend::Postgres {
        "UPDATE people SET last_active_at = $1, created_at = $1 WHERE email = $2"
    } else {
        "UPDATE people SET last_active_at = ?, created_at = ? WHERE email = ?"
    };
    let values: Vec<sea_orm::Value> = if backend == DbBackend::Postgres {
        vec![at.into(), email.into()]
    } else {
        vec![at.into(), at.into(), email.into()]
    };
    let done = conn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
    assert_eq!(done.rows_affected(), 1, "{email}");
}

#[tokio::test]
async fn accounts_unused_for_the_retention_period_are_anonymised_and_signing_in_keeps_one() {
    let app = spawn_app().await;
    let (_, gone_id) = app.person("northmoor", "gwen.gone@northmoor.example").signed_in().await;
    let (_, _) = app.person("northmoor", "amy.active@northmoor.example").signed_in().await;
    let (_, _) =
        app.person("riverside", "sole.manager@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(7 * 365);
    last_active(&app, "gwen.gone@northmoor.example", long_ago).await;
    last_active(&app, "sole.manager@riverside.example", long_ago).await;
    last_active(&app, "amy.active@northmoor.example", long_ago).await;
    // Amy signs in again: active now.
    let mut amy = app.visitor("northmoor");
    assert_eq!(amy.sign_in("amy.active@northmoor.example", trellis_testkit::PASSWORD).await.status, 303);
    // Ian came with a staff import seven years ago and has never signed in; today's import still
    // lists him (unchanged), so his account is in use too.
    let csv = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work
               12345678,Ian,Imported,ian.imported@northmoor.example,Porter,Estates,Estates and Ancillary,General
";
    let rows = trellis_domain::staff_import::parse(csv.as_bytes()).unwrap();
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let import = || async {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let today = chrono::Utc::now().date_naive();
        let done = trellis_db::staff::apply(&tx, &rows, None, chrono::Duration::days(14), false, today).await.unwrap();
        assert!(done.plan.errors.is_empty(), "{:?}", done.plan.errors);
        tx.commit().await.unwrap();
    };
    import().await;
    last_active(&app, "ian.imported@northmoor.example", long_ago).await;
    import().await;

    // A dry run counts and changes nothing.
    let dry =
        trellis_web::retention::anonymise_inactive_accounts(app.config.clone(), app.dbs().await, true).await.unwrap();
    assert_eq!((dry.found, dry.anonymised), (2, 0), "{dry:?}");
    assert!(!found_anywhere(&app, &["gwen.gone@northmoor.example".to_owned()]).await.is_empty());

    // Applied: Gwen is anonymised; Riverside's only training manager is kept (they must hand over
    // first); Amy, who signed in, is untouched.
    let run =
        trellis_web::retention::anonymise_inactive_accounts(app.config.clone(), app.dbs().await, false).await.unwrap();
    assert_eq!((run.found, run.anonymised, run.kept), (2, 1, 1), "{run:?}");
    let left = found_anywhere(&app, &["gwen.gone@northmoor.example".to_owned(), gone_id.to_string()]).await;
    assert!(left.is_empty(), "still found: {left:?}");
    assert!(!found_anywhere(&app, &["sole.manager@riverside.example".to_owned()]).await.is_empty());
    assert!(!found_anywhere(&app, &["ian.imported@northmoor.example".to_owned()]).await.is_empty());
    let mut back = app.visitor("northmoor");
    assert_eq!(back.sign_in("amy.active@northmoor.example", trellis_testkit::PASSWORD).await.status, 303);
    let mut gwen = app.visitor("northmoor");
    assert_eq!(gwen.sign_in("gwen.gone@northmoor.example", trellis_testkit::PASSWORD).await.status, 401);
    // The trust's trail says someone was erased, by the schedule.
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let trail = trellis_db::audit::trail_of(&tx, "person.erased", 10).await.unwrap();
    tx.commit().await.unwrap();
    assert!(trail.iter().any(|e| e.detail.contains("retention schedule")), "{trail:?}");
}
