//! Line managers (issue 22): set by admins or by the staff import's line-manager column, they see
//! their own team's training and nobody else's, remind each of them (once a day, recorded),
//! decide the places their team ask for, and get a monthly digest of who in their team is overdue.

use trellis_domain::identity::Role;
use trellis_testkit::{Page, Visitor, spawn_app};

fn between<'a>(body: &'a str, from: &str) -> &'a str {
    body.find(from).map_or("", |i| &body[i..])
}

async fn set_manager(boss: &mut Visitor, person: &str, manager: &str) -> Page {
    boss.submit("/admin/line-managers", "/admin/line-managers", &[("person", person), ("manager", manager)]).await
}

#[tokio::test]
async fn a_line_manager_sees_reminds_and_decides_for_their_own_team_only() {
    let app = spawn_app().await;
    let nurse = "Nursing and Midwifery Registered";
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut sister, sister_id) = app.person("northmoor", "sister@northmoor.example").signed_in().await;
    let (mut amara, amara_id) =
        app.person("northmoor", "amara@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    app.person("northmoor", "ben@northmoor.example").staff(nurse, "Ward 7").create().await;
    let (mut other, other_id) =
        app.person("northmoor", "other@northmoor.example").staff(nurse, "Ward 9").signed_in().await;
    app.person("riverside", "rita@riverside.example").create().await;
    let fire = app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know them.").published().create().await;
    let sepsis = app
        .course("northmoor", "SEP-1", "Sepsis")
        .approval()
        .page("Signs", "Spot it early.")
        .published()
        .create()
        .await;

    // Fire safety is mandatory for nurses, and everyone's due date has passed.
    let rule = crate::mandatory_for_group(&mut boss, &fire.to_string(), nurse).await;
    assert_eq!(rule.status, 200, "{}", rule.body);
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    trellis_db::compliance::set_due_for_tests(&tx, chrono::Utc::now().date_naive() - chrono::Duration::days(3))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Not yet anyone's manager: the team page refuses, and the home says nothing of a team.
    assert_eq!(sister.get("/team").await.status, 403);
    assert!(!sister.get("/").await.body.contains("Your team"));

    // An admin sets Sister as Amara's and Ben's line manager; wrong entries are refused by field.
    let refused = set_manager(&mut boss, "nobody@northmoor.example", "sister@northmoor.example").await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Nobody at this trust has the email address nobody@northmoor.example"));
    let refused = set_manager(&mut boss, "amara@northmoor.example", "rita@riverside.example").await;
    assert!(
        refused.status == 422 && refused.body.contains("rita@riverside.example"),
        "another trust's person is nobody here"
    );
    let refused = set_manager(&mut boss, "amara@northmoor.example", "amara@northmoor.example").await;
    assert!(refused.status == 422 && refused.body.contains("cannot be their own line manager"));
    for who in ["amara@northmoor.example", "ben@northmoor.example"] {
        let set = set_manager(&mut boss, who, "sister@northmoor.example").await;
        assert_eq!(set.status, 303, "{}", set.body);
    }
    let looped = set_manager(&mut boss, "sister@northmoor.example", "amara@northmoor.example").await;
    assert!(looped.status == 422 && looped.body.contains("loop"), "{}", looped.body);
    let listed = boss.get("/admin/line-managers").await;
    assert!(listed.body.contains("amara@northmoor.example") && listed.body.contains("Set here"));
    assert_eq!(amara.get("/admin/line-managers").await.status, 403, "staff managers only");

    // Sister's home and team page: her team, with its overdue training; nobody else.
    let home = sister.get("/").await;
    assert!(
        home.body.contains("You line manage 2 people") && home.body.contains("2 of them have overdue training"),
        "{}",
        home.body
    );
    let team = sister.get("/team").await;
    assert_eq!(team.status, 200);
    assert!(team.body.contains("amara@northmoor.example") && team.body.contains("ben@northmoor.example"));
    assert!(!team.body.contains("other@northmoor.example"), "only her own team");
    assert!(team.body.contains("1 overdue") && team.body.contains("0 of 1"), "{}", between(&team.body, "<table"));

    // A reminder: emailed from the template, recorded, once a day.
    let t = team.csrf().unwrap();
    let sent = sister.post(&format!("/team/{amara_id}/remind"), &[("csrf_token", &t)]).await;
    assert_eq!(sent.status, 303);
    assert!(sister.get("/team").await.body.contains("has been emailed a reminder"));
    let mail = app.mail.wait_for("amara@northmoor.example", "about your training").await;
    assert!(
        mail.text.contains("your line manager") && mail.text.contains("Fire safety") && mail.text.contains("overdue"),
        "{}",
        mail.text
    );
    let again = sister.post(&format!("/team/{amara_id}/remind"), &[("csrf_token", &t)]).await;
    assert!(sister.get(again.location.as_deref().unwrap()).await.body.contains("already reminded today"));
    assert!(sister.get("/team").await.body.contains("Last reminded"));
    assert_eq!(
        sister.post(&format!("/team/{other_id}/remind"), &[("csrf_token", &t)]).await.status,
        404,
        "not her team"
    );
    let t_other = other.get(&format!("/courses/{sepsis}")).await.csrf().unwrap();
    assert_eq!(other.post(&format!("/team/{amara_id}/remind"), &[("csrf_token", &t_other)]).await.status, 404);

    // A place Amara asks for: her line manager decides it; someone else's request is not hers.
    let t2 = amara.get(&format!("/courses/{sepsis}")).await.csrf().unwrap();
    assert_eq!(amara.post(&format!("/courses/{sepsis}/enrol"), &[("csrf_token", &t2)]).await.status, 303);
    let t3 = other.get(&format!("/courses/{sepsis}")).await.csrf().unwrap();
    assert_eq!(other.post(&format!("/courses/{sepsis}/enrol"), &[("csrf_token", &t3)]).await.status, 303);
    let team = sister.get("/team").await;
    let at = team.body.find("/team/requests/").expect("Amara's request") + "/team/requests/".len();
    let request: String = team.body[at..].chars().take(36).collect();
    assert_eq!(team.body.matches("/team/requests/").count(), 1, "only her team's requests");
    let queue = boss.get("/admin/enrolments").await;
    let others: Vec<String> = queue
        .body
        .match_indices("/admin/enrolments/")
        .map(|(i, _)| queue.body[i + 18..i + 54].to_owned())
        .filter(|id| *id != request)
        .collect();
    assert_eq!(others.len(), 1, "the other request");
    let t = team.csrf().unwrap();
    let not_hers =
        sister.post(&format!("/team/requests/{}", others[0]), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(not_hers.status, 404);
    let decided =
        sister.post(&format!("/team/requests/{request}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(decided.status, 303);
    assert!(sister.get("/team").await.body.contains("place on Sepsis approved"));
    assert!(amara.get(&format!("/courses/{sepsis}")).await.body.contains("Start"), "Amara is on the course");

    // Trust B sees none of it.
    let (mut rboss, _) =
        app.person("riverside", "rboss@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    assert!(!rboss.get("/admin/line-managers").await.body.contains("amara@northmoor.example"));
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::teams::team(&tx, sister_id, chrono::Utc::now().date_naive()).await.unwrap().is_empty());
    assert_eq!(trellis_db::teams::manager_of(&tx, amara_id).await.unwrap(), None);
    tx.commit().await.unwrap();

    // The monthly digest (the worker's, run here after forgetting this month's run).
    let conn = app.db.raw_owner_connection().await;
    use sea_orm::ConnectionTrait;
    conn.execute_unprepared("UPDATE job_schedule SET last_run_on = '2000-01-01' WHERE name = 'team_digest'")
        .await
        .unwrap();
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    let sent = trellis_web::jobs::team_digest(&state, &site).await.unwrap();
    assert_eq!(sent, 1, "one line manager with someone overdue");
    let digest = app.mail.wait_for("sister@northmoor.example", "of your team have overdue training").await;
    assert_eq!(digest.text.matches(": 1 course overdue").count(), 2, "Amara and Ben: {}", digest.text);
    assert!(digest.subject.starts_with("2 of your team"), "{}", digest.subject);
    assert_eq!(trellis_web::jobs::team_digest(&state, &site).await.unwrap(), 0, "once a month");

    // Removing a line manager: Amara leaves Sister's team.
    let list = boss.get("/admin/line-managers?q=amara").await;
    let t = list.csrf().unwrap();
    let removed = boss.post(&format!("/admin/line-managers/{amara_id}/remove"), &[("csrf_token", &t)]).await;
    assert_eq!(removed.status, 303);
    let team = sister.get("/team").await;
    assert!(!team.body.contains("amara@northmoor.example") && team.body.contains("ben@northmoor.example"));
}

#[tokio::test]
async fn line_managers_come_from_the_staff_import_and_a_row_naming_nobody_or_making_a_loop_is_refused() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    app.person("northmoor", "director@northmoor.example").create().await;
    let head =
        "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work,Line Manager\n";
    let row = |n: &str, name: &str, manager: &str| {
        format!(
            "{n},{name},Test,{}@northmoor.example,Nurse,Ward 7,Nursing and Midwifery Registered,RXX,{manager}\n",
            name.to_lowercase()
        )
    };
    let check = async |boss: &mut Visitor, csv: String| -> Page {
        let t = boss.get("/admin/staff/import").await.csrf().unwrap();
        boss.post_multipart(
            "/admin/staff/import",
            &[("csrf_token", &t)],
            ("file", "staff.csv", "text/csv", csv.as_bytes()),
        )
        .await
    };

    // Nobody by that number, and a loop between two rows: each refused naming its line.
    let bad = format!(
        "{head}{}{}{}{}",
        row("10000001", "Ann", "director@northmoor.example"),
        row("10000002", "Bob", "99999999"),
        row("10000003", "Cat", "10000004"),
        row("10000004", "Dan", "cat@northmoor.example"),
    );
    let refused = check(&mut boss, bad).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused
            .body
            .contains("Line 3 (line manager): Nobody in this file or on your staff has the assignment number 99999999"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("Line 4 (line manager): This makes a loop")
            && refused.body.contains("Line 5 (line manager): This makes a loop")
    );

    // A good file: Ann reports to the director (already on the staff), Bob and Cat to Ann.
    let good = format!(
        "{head}{}{}{}",
        row("10000001", "Ann", "director@northmoor.example"),
        row("10000002", "Bob", "10000001"),
        row("10000003", "Cat", "ann@northmoor.example"),
    );
    let checked = check(&mut boss, good).await;
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(checked.body.contains("3 people are given a line manager"), "{}", checked.body);
    let at = checked.body.find("name=\"file\" value=\"").unwrap() + "name=\"file\" value=\"".len();
    let file: String = checked.body[at..].chars().take(64).collect();
    let t = checked.csrf().unwrap();
    assert_eq!(boss.post("/admin/staff/import/apply", &[("csrf_token", &t), ("file", &file)]).await.status, 303);
    let imported = crate::eventually(std::time::Duration::from_secs(10), || async {
        let dbs = app.dbs().await;
        let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
        let n = trellis_db::teams::pairs(&tx, "", 100).await.unwrap().len();
        tx.commit().await.unwrap();
        n == 3
    })
    .await;
    assert!(imported, "the import sets three line managers");
    let pairs = boss.get("/admin/line-managers").await;
    assert!(pairs.body.contains("Staff import"));
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let pairs = trellis_db::teams::pairs(&tx, "", 100).await.unwrap();
    tx.commit().await.unwrap();
    let of = |email: &str| pairs.iter().find(|p| p.person_email == email).map(|p| p.manager_email.clone());
    assert_eq!(of("ann@northmoor.example").as_deref(), Some("director@northmoor.example"));
    assert_eq!(of("bob@northmoor.example").as_deref(), Some("ann@northmoor.example"));
    assert_eq!(of("cat@northmoor.example").as_deref(), Some("ann@northmoor.example"));
}
