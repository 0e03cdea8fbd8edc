//! Coaching (issue 22): admins appoint coaches and give them caseloads by hand or by rule; a coach
//! sees who is and isn't doing which courses in their own caseload only, logs contacts with the
//! next follow-up, emails learners from templates (recorded, replies to the coach), and is
//! reminded of follow-ups due; learners see who their coach is.

use trellis_domain::identity::Role;
use trellis_testkit::{Page, Visitor, spawn_app};

async fn admin_post(boss: &mut Visitor, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    boss.submit(page, action, fields).await
}

#[tokio::test]
async fn a_coach_follows_up_their_own_caseload_only() {
    let app = spawn_app().await;
    let nurse = "Nursing and Midwifery Registered";
    let ahp = "Allied Health Professionals";
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut cora, cora_id) = app.person("northmoor", "cora@northmoor.example").signed_in().await;
    let (mut amara, amara_id) =
        app.person("northmoor", "amara@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    let ben_id = app.person("northmoor", "ben@northmoor.example").staff(nurse, "Ward 7").create().await;
    let dev_id = app.person("northmoor", "dev@northmoor.example").staff(ahp, "Physiotherapy").create().await;
    let (mut other, other_id) =
        app.person("northmoor", "other@northmoor.example").staff(nurse, "Ward 9").signed_in().await;
    app.person("riverside", "rita@riverside.example").staff(nurse, "Ward 7").create().await;
    let fire = app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know them.").published().create().await;
    assert_eq!(crate::mandatory_for_group(&mut boss, &fire.to_string(), nurse).await.status, 200);

    // Not a coach yet: the caseload refuses, and the home says nothing of coaching.
    assert_eq!(cora.get("/coaching").await.status, 403);
    assert!(!cora.get("/").await.body.contains("Your coaching caseload"));
    assert_eq!(amara.get("/admin/coaches").await.status, 403, "staff managers only");

    // Appointing: nobody, and another trust's person, are refused by field.
    let refused =
        admin_post(&mut boss, "/admin/coaches", "/admin/coaches", &[("email", "nobody@northmoor.example")]).await;
    assert!(
        refused.status == 422
            && refused.body.contains("Nobody at this trust has the email address nobody@northmoor.example")
    );
    let refused =
        admin_post(&mut boss, "/admin/coaches", "/admin/coaches", &[("email", "rita@riverside.example")]).await;
    assert!(
        refused.status == 422 && refused.body.contains("rita@riverside.example"),
        "another trust's person is nobody here"
    );
    let appointed =
        admin_post(&mut boss, "/admin/coaches", "/admin/coaches", &[("email", "cora@northmoor.example")]).await;
    assert_eq!(appointed.status, 303, "{}", appointed.body);
    let coach_page = format!("/admin/coaches/{cora_id}");
    assert_eq!(appointed.location.as_deref(), Some(coach_page.as_str()));
    assert!(boss.get(&coach_page).await.body.contains("is now a coach"));

    // A caseload by rule (Ward 7) and by hand (Dev); a department nobody has is refused.
    let rule = |kind: &'static str, department: &'static str| {
        [("kind", kind), ("department", department), ("staff_group", "")]
    };
    let rules = format!("{coach_page}/rules");
    let refused = admin_post(&mut boss, &coach_page, &rules, &rule("department", "Ward 99")).await;
    assert!(
        refused.status == 422 && refused.body.contains("Nobody on your staff records has Ward 99"),
        "{}",
        refused.body
    );
    let refused = admin_post(&mut boss, &coach_page, &rules, &rule("", "Ward 7")).await;
    assert!(refused.status == 422 && refused.body.contains("by department or by staff group"));
    assert_eq!(admin_post(&mut boss, &coach_page, &rules, &rule("department", "Ward 7")).await.status, 303);
    let learners = format!("{coach_page}/learners");
    let refused = admin_post(&mut boss, &coach_page, &learners, &[("email", "cora@northmoor.example")]).await;
    assert!(refused.status == 422 && refused.body.contains("cannot be in their own caseload"));
    assert_eq!(admin_post(&mut boss, &coach_page, &learners, &[("email", "dev@northmoor.example")]).await.status, 303);
    let listed = boss.get("/admin/coaches").await;
    assert!(
        listed.body.contains("cora@northmoor.example") && listed.body.contains("Department: Ward 7"),
        "{}",
        listed.body
    );
    assert!(listed.body.contains("3 (1 given by hand)"), "{}", listed.body);

    // The coach's home and caseload: Amara, Ben and Dev; nobody else.
    assert!(cora.get("/").await.body.contains("You coach 3 learners"));
    let caseload = cora.get("/coaching").await;
    assert_eq!(caseload.status, 200);
    for who in ["amara@northmoor.example", "ben@northmoor.example", "dev@northmoor.example"] {
        assert!(caseload.body.contains(who), "{who}");
    }
    assert!(!caseload.body.contains("other@northmoor.example") && !caseload.body.contains("rita@"));
    // Learners see their coach; others don't.
    let home = amara.get("/").await;
    assert!(home.body.contains("Your coach") && home.body.contains("cora@northmoor.example"), "{}", home.body);
    assert!(!other.get("/").await.body.contains("Your coach"));

    // Who is and isn't doing Fire safety: mandatory for nurses, Amara and Ben are on it; Dev is not.
    let on_course = cora.get(&format!("/coaching?course={fire}")).await;
    assert!(on_course.body.contains("In progress") && on_course.body.contains("Not enrolled"), "{}", on_course.body);
    let not_on = cora.get(&format!("/coaching?course={fire}&show=not_on_course")).await;
    assert!(
        !not_on.body.contains("amara@northmoor.example")
            && !not_on.body.contains("ben@northmoor.example")
            && not_on.body.contains("dev@northmoor.example"),
        "{}",
        not_on.body
    );
    let searched = cora.get("/coaching?q=BEN").await;
    assert!(searched.body.contains("ben@northmoor.example") && !searched.body.contains("amara@northmoor.example"));

    // A learner's page: their training; someone outside the caseload is not found.
    let page = cora.get(&format!("/coaching/{amara_id}")).await;
    assert!(page.status == 200 && page.body.contains("Fire safety"), "{}", page.body);
    assert_eq!(cora.get(&format!("/coaching/{other_id}")).await.status, 404);

    // Logging a contact: refused by field, then logged with the next follow-up.
    let contacts = format!("/coaching/{amara_id}/contacts");
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today + chrono::Duration::days(1);
    let day = |d: chrono::NaiveDate| d.format("%-d").to_string();
    let month = |d: chrono::NaiveDate| d.format("%-m").to_string();
    let year = |d: chrono::NaiveDate| d.format("%Y").to_string();
    let refused = cora
        .submit(
            &format!("/coaching/{amara_id}"),
            &contacts,
            &[
                ("method", ""),
                ("contacted_on-day", &day(tomorrow)),
                ("contacted_on-month", &month(tomorrow)),
                ("contacted_on-year", &year(tomorrow)),
                ("note", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    for message in ["Choose how you were in touch", "must be today or in the past", "Enter a note"] {
        assert!(refused.body.contains(message), "{message}");
    }
    let logged = cora
        .submit(
            &format!("/coaching/{amara_id}"),
            &contacts,
            &[
                ("method", "phone"),
                ("contacted_on-day", &day(today)),
                ("contacted_on-month", &month(today)),
                ("contacted_on-year", &year(today)),
                ("note", "Spoke about <b>fire safety</b>: booked time on Friday."),
                ("next_on-day", &day(tomorrow)),
                ("next_on-month", &month(tomorrow)),
                ("next_on-year", &year(tomorrow)),
            ],
        )
        .await;
    assert_eq!(logged.status, 303, "{}", logged.body);
    let page = cora.get(&format!("/coaching/{amara_id}")).await;
    assert!(page.body.contains("Contact logged. Next follow-up"), "{}", page.body);
    assert!(
        page.body.contains("Spoke about &lt;b&gt;fire safety&lt;&#x2F;b&gt;")
            || page.body.contains("Spoke about &lt;b&gt;fire safety&lt;/b&gt;"),
        "escaped: {}",
        page.body
    );
    assert!(page.body.contains("Phone call"));
    let caseload = cora.get("/coaching").await;
    assert_eq!(caseload.body.matches("None logged").count(), 2, "Amara's contact shows; Ben's and Dev's none");

    // An email from a template, with the coach's own words; replies go to the coach; once a day.
    let message = format!("/coaching/{amara_id}/message");
    let refused = cora.submit(&format!("/coaching/{amara_id}"), &message, &[("message", "spam")]).await;
    assert!(refused.status == 422 && refused.body.contains("Choose which email to send"));
    let sent = cora
        .submit(&format!("/coaching/{amara_id}"), &message, &[("message", "catch_up"), ("extra", "Ring me on 1234.")])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let mail = app.mail.wait_for("amara@northmoor.example", "Catching up on your training").await;
    assert!(
        mail.text.contains("your learning coach")
            && mail.text.contains("Ring me on 1234.")
            && mail.text.contains("Fire safety"),
        "{}",
        mail.text
    );
    assert_eq!(mail.reply_to.as_deref(), Some("cora@northmoor.example"));
    let page = cora.get(&format!("/coaching/{amara_id}")).await;
    assert!(page.body.contains("has been emailed") && page.body.contains("Email sent from this site"));
    let again = cora.submit(&format!("/coaching/{amara_id}"), &message, &[("message", "check_in")]).await;
    assert!(cora.get(again.location.as_deref().unwrap()).await.body.contains("already emailed from this site today"));

    // Nobody else may log or send for her: another member, and another trust's coach.
    let t = other.get(&format!("/courses/{fire}")).await.csrf().unwrap();
    assert_eq!(other.post(&contacts, &[("csrf_token", &t), ("method", "phone")]).await.status, 404);
    assert_eq!(other.post(&message, &[("csrf_token", &t), ("message", "check_in")]).await.status, 404);

    // The daily reminder of follow-ups due (tomorrow's made due today), once.
    let conn = app.db.raw_owner_connection().await;
    use sea_orm::ConnectionTrait;
    conn.execute_unprepared(&format!(
        "UPDATE coach_follow_ups SET due_on = '{today}'; UPDATE job_schedule SET last_run_on = '2000-01-01' WHERE name = 'coach_follow_ups'"
    ))
    .await
    .unwrap();
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    assert_eq!(trellis_web::jobs::coach_follow_ups(&state, &site).await.unwrap(), 1);
    let reminder = app.mail.wait_for("cora@northmoor.example", "1 follow-up is due").await;
    assert!(
        reminder.text.contains("Test Person, due") && reminder.text.contains(&format!("/coaching/{amara_id}")),
        "{}",
        reminder.text
    );
    conn.execute_unprepared("UPDATE job_schedule SET last_run_on = '2000-01-01' WHERE name = 'coach_follow_ups'")
        .await
        .unwrap();
    assert_eq!(
        trellis_web::jobs::coach_follow_ups(&state, &site).await.unwrap(),
        0,
        "each follow-up is reminded of once"
    );
    assert!(cora.get("/").await.body.contains("1 follow-up is due"));
    assert!(cora.get("/coaching?show=follow_up").await.body.contains("amara@northmoor.example"));

    // By hand wins over rules: Ben given to another coach leaves Cora's caseload.
    app.person("northmoor", "cole@northmoor.example").create().await;
    assert_eq!(
        admin_post(&mut boss, "/admin/coaches", "/admin/coaches", &[("email", "cole@northmoor.example")]).await.status,
        303
    );
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let cole = trellis_db::identity::member_by_email(&tx, "cole@northmoor.example").await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let cole_page = format!("/admin/coaches/{cole}");
    assert_eq!(
        admin_post(&mut boss, &cole_page, &format!("{cole_page}/learners"), &[("email", "ben@northmoor.example")])
            .await
            .status,
        303
    );
    let caseload = cora.get("/coaching").await;
    assert!(!caseload.body.contains("ben@northmoor.example") && caseload.body.contains("amara@northmoor.example"));
    assert_eq!(cora.get(&format!("/coaching/{ben_id}")).await.status, 404);

    // Trust B sees none of it.
    let (mut rboss, _) =
        app.person("riverside", "rboss@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let theirs = rboss.get("/admin/coaches").await;
    assert!(theirs.status == 200 && !theirs.body.contains("cora@northmoor.example"));
    assert_eq!(rboss.get(&coach_page).await.status, 404);
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(!trellis_db::coaching::is_coach(&tx, cora_id).await.unwrap());
    assert_eq!(trellis_db::coaching::caseload_size(&tx, cora_id).await.unwrap(), 0);
    assert!(trellis_db::coaching::contacts(&tx, amara_id, 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();

    // Removing Dev from her hand, then standing her down: the log stays, the caseload goes.
    let t = boss.get(&coach_page).await.csrf().unwrap();
    assert_eq!(boss.post(&format!("{coach_page}/learners/{dev_id}/remove"), &[("csrf_token", &t)]).await.status, 303);
    assert!(!cora.get("/coaching").await.body.contains("dev@northmoor.example"));
    assert_eq!(boss.post(&format!("{coach_page}/stand-down"), &[("csrf_token", &t)]).await.status, 303);
    assert!(boss.get("/admin/coaches").await.body.contains("is no longer a coach"));
    assert_eq!(cora.get("/coaching").await.status, 403);
    assert!(!amara.get("/").await.body.contains("Your coach"));
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    assert_eq!(trellis_db::coaching::contacts(&tx, amara_id, 10).await.unwrap().len(), 2, "the log is kept");
    tx.commit().await.unwrap();
}
