//! Catalogue, enrolment and learning end to end: a learner finds, enrols on, learns and completes
//! a course; editors author, publish and version; managers decide requests, assign mandatory
//! training, import staff, follow compliance and send reminders. Each with the other trusts
//! kept out.

use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app};

const PW: &str = trellis_testkit::PASSWORD;

/// The first `prefix<uuid>` in the text.
fn id_after(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(prefix)? + prefix.len();
    let id: String = body[at..].chars().take(36).collect();
    (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(id)
}

async fn form_token(v: &mut Visitor, path: &str) -> String {
    let page = v.get(path).await;
    page.csrf().unwrap_or_else(|| panic!("no form on {path}: {} {}", page.status, page.body))
}

#[tokio::test]
async fn a_learner_finds_enrols_learns_completes_and_sees_it_on_my_learning() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let (mut rita, _) = app.person("riverside", "rita@riverside.example").roles(&[Role::Learner]).signed_in().await;

    // Not offered yet: the national course is not in Northmoor's catalogue.
    assert!(!ann.get("/courses?q=fire").await.body.contains("Fire safety"));
    assert_eq!(ann.get(&format!("/courses/{fire}")).await.status, 404);
    // A learner may not offer courses.
    let t = form_token(&mut ann, "/profile").await;
    assert_eq!(
        ann.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await.status,
        403
    );
    let t = form_token(&mut boss, "/admin/courses").await;
    assert_eq!(
        boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await.status,
        303
    );

    // Found by full-text search (a word from the description, stemmed) and by filters.
    let found = ann.get("/courses?q=evacuating").await;
    assert_eq!(found.status, 200);
    assert!(found.body.contains(&format!("/courses/{fire}")), "{}", found.body);
    assert!(ann.get("/courses?topic=Statutory+and+mandatory&duration=short").await.body.contains("Fire safety"));
    assert!(!ann.get("/courses?duration=long").await.body.contains("Fire safety"));
    assert!(!ann.get("/courses?q=zebra").await.body.contains("Fire safety"));
    // Riverside has not offered it: not in its catalogue, and its learners cannot enrol.
    assert!(!rita.get("/courses?q=fire").await.body.contains("Fire safety"));
    let t = form_token(&mut rita, "/profile").await;
    assert_eq!(rita.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 404);

    // The course page, then enrol (open course: at once).
    let page = ann.get(&format!("/courses/{fire}")).await;
    assert!(page.body.contains("Aligned to the UK Core Skills Training Framework"));
    assert!(page.body.contains("30 minutes"));
    let t = page.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{fire}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let mine = ann.get("/learning").await;
    assert!(mine.body.contains("0 of 2 sessions done"), "{}", mine.body);

    // "Continue" opens the first session; opening it completes it (its rule is "on view").
    let go = ann.get(&format!("/learn/{fire}")).await;
    assert_eq!(go.status, 303);
    let first = go.location.clone().unwrap();
    let s1 = ann.get(&first).await;
    assert_eq!(s1.status, 200, "{}", s1.body);
    assert!(s1.body.contains("Why fires start"));
    assert!(s1.body.contains("data-beat-url"));
    // A report from the page adds time (JSON, no page).
    let t = form_token(&mut ann, "/profile").await;
    let beat = ann.post(&format!("{first}/beat"), &[("csrf_token", &t)]).await;
    assert_eq!(beat.status, 200, "{}", beat.body);
    assert!(beat.body.contains("seconds_spent"));
    // Continue now goes to the second, which needs the learner's confirmation.
    let resumed = ann.get(&format!("/learn/{fire}")).await;
    let second = resumed.location.clone().unwrap_or_else(|| panic!("{} {}", resumed.status, resumed.body));
    assert_ne!(second, first);
    let s2 = ann.get(&second).await;
    assert!(s2.body.contains("I have finished this session"));
    assert!(ann.get("/learning").await.body.contains("1 of 2 sessions done"));
    // Another trust's learner cannot open it, even with the address.
    assert_eq!(rita.get(&second).await.status, 404);
    let t = s2.csrf().unwrap();
    assert_eq!(ann.post(&format!("{second}/done"), &[("csrf_token", &t)]).await.status, 303);

    let mine = ann.get("/learning").await;
    assert!(mine.body.contains("completed"), "{}", mine.body);
    assert!(mine.body.contains(&format!("/courses/{fire}\">Fire safety</a>, completed")), "{}", mine.body);
    assert!(ann.get(&format!("/courses/{fire}")).await.body.contains("Completed"));
}

/// A tiny PDF (enough for content sniffing).
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

#[tokio::test]
async fn editors_author_publish_and_version_without_losing_anyones_progress() {
    let app = spawn_app().await;
    let (mut ed, _) = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;

    // Bad input: a clear error on the field, nothing created.
    let t = form_token(&mut ed, "/admin/courses/new").await;
    let bad = ed
        .post(
            "/admin/courses/new",
            &[
                ("csrf_token", &t),
                ("kind", "course"),
                ("title", ""),
                ("code", "a b"),
                ("enrolment", "open"),
                ("duration_minutes", "lots"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Enter a title")
            && bad.body.contains("whole minutes")
            && bad.body.contains("letters, digits and hyphens")
    );
    let made = ed
        .post(
            "/admin/courses/new",
            &[
                ("csrf_token", &t),
                ("kind", "course"),
                ("title", "Medicines management"),
                ("code", "nm-meds"),
                ("summary", "Safe storage and administration"),
                ("description", "Controlled drugs registers and double checks."),
                ("topic", "Clinical skills"),
                ("audience", "Nursing and Midwifery Registered"),
                ("duration_minutes", "20"),
                ("enrolment", "approval"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let course = id_after(made.location.as_deref().unwrap(), "/admin/courses/").unwrap();
    // The code is unique in the trust.
    let dup = ed
        .post(
            "/admin/courses/new",
            &[("csrf_token", &t), ("kind", "course"), ("title", "Again"), ("code", "NM-MEDS"), ("enrolment", "open")],
        )
        .await;
    assert_eq!(dup.status, 409);
    // Publishing an empty course is refused.
    let t = form_token(&mut ed, &format!("/admin/courses/{course}")).await;
    let empty = ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await;
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Add at least one session"));

    // Sessions: a page, and a document checked by its content.
    let form = format!("/admin/courses/{course}/sessions");
    let t = form_token(&mut ed, &form).await;
    let page_fields = [
        ("csrf_token", t.as_str()),
        ("title", "Storage"),
        ("kind", "page"),
        ("body", "Keep them locked."),
        ("completion", "view"),
    ];
    assert_eq!(ed.post_multipart(&form, &page_fields, ("file", "", "application/octet-stream", b"")).await.status, 303);
    let doc_fields = [
        ("csrf_token", t.as_str()),
        ("title", "The policy"),
        ("kind", "document"),
        ("body", ""),
        ("completion", "download"),
    ];
    let fake = ed
        .post_multipart(&form, &doc_fields, ("file", "policy.pdf", "application/pdf", b"<html>not a pdf</html>"))
        .await;
    assert_eq!(fake.status, 400);
    assert!(fake.body.contains("must be a PDF"), "{}", fake.body);
    // Without the token first, an upload is refused before it is read.
    let forged = ed.post_multipart(&form, &doc_fields[1..], ("file", "policy.pdf", "application/pdf", PDF)).await;
    assert_eq!(forged.status, 403);
    assert_eq!(ed.post_multipart(&form, &doc_fields, ("file", "policy.pdf", "application/pdf", PDF)).await.status, 303);
    // Another trust's manager can neither see nor change it.
    assert_eq!(rex.get(&format!("/admin/courses/{course}")).await.status, 404);
    let t2 = form_token(&mut rex, "/profile").await;
    assert_eq!(rex.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t2)]).await.status, 404);
    assert_eq!(
        rex.post_multipart(
            &form,
            &[("csrf_token", t2.as_str()), ("title", "x"), ("kind", "page"), ("body", "x"), ("completion", "view")],
            ("file", "", "application/octet-stream", b"")
        )
        .await
        .status,
        404
    );

    let t = form_token(&mut ed, &format!("/admin/courses/{course}")).await;
    assert_eq!(ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await.status, 303);
    let editing = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(editing.body.contains("published"));

    // Approval course: the learner asks, a manager approves.
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let t = form_token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    assert!(ann.get("/learning").await.body.contains("Waiting for approval"));
    assert_eq!(
        ann.get(&format!("/learn/{course}")).await.location.as_deref(),
        Some(format!("/courses/{course}").as_str())
    );
    let queue = boss.get("/admin/enrolments").await;
    let request = id_after(&queue.body, "/admin/enrolments/").expect("a request");
    // Riverside's manager cannot decide it.
    let t2 = form_token(&mut rex, "/profile").await;
    assert_eq!(
        rex.post(&format!("/admin/enrolments/{request}"), &[("csrf_token", &t2), ("decision", "approve")]).await.status,
        404
    );
    let t = queue.csrf().unwrap();
    assert_eq!(
        boss.post(&format!("/admin/enrolments/{request}"), &[("csrf_token", &t), ("decision", "approve")]).await.status,
        303
    );

    // The learner completes the first session of version 1.
    let first = ann.get(&format!("/learn/{course}")).await.location.unwrap();
    assert!(ann.get(&first).await.body.contains("Keep them locked."));
    // The document: downloading it completes it (and the course), served with its sniffed type.
    let doc = ann.get(&format!("/learn/{course}")).await.location.unwrap();
    let file = ann.get(&format!("{doc}/file")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.headers.get("content-type").unwrap(), "application/pdf");
    assert!(file.headers.get("content-disposition").unwrap().to_str().unwrap().starts_with("attachment"));
    assert_eq!(ann.get_range(&format!("{doc}/file"), "bytes=0-3").await, (206, b"%PDF".to_vec()));
    assert!(ann.get("/learning").await.body.contains("Medicines management</a>, completed"));

    // The editor changes the first session: a draft version 2; publishing it leaves Ann on 1.
    let edit = format!("/admin/courses/{course}/sessions/{}", id_after(&first, &format!("/learn/{course}/")).unwrap());
    let t = form_token(&mut ed, &edit).await;
    let changed = [
        ("csrf_token", t.as_str()),
        ("title", "Storage (2027)"),
        ("kind", "page"),
        ("body", "Keep them locked, and log every check."),
        ("completion", "view"),
    ];
    assert_eq!(ed.post_multipart(&edit, &changed, ("file", "", "application/octet-stream", b"")).await.status, 303);
    let draft = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(draft.body.contains("Publish version 2"), "{}", draft.body);
    let t = draft.csrf().unwrap();
    assert_eq!(ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await.status, 303);
    let versions = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(versions.body.contains("retired"));
    // Ann's record and her view stay on version 1.
    assert!(ann.get(&first).await.body.contains("Keep them locked."));
    assert!(ann.get("/learning").await.body.contains("Medicines management</a>, completed"));
    // Someone new gets version 2.
    let (mut bo, _) = app.person("northmoor", "bo@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let t = form_token(&mut bo, &format!("/courses/{course}")).await;
    bo.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await;
    let t = form_token(&mut boss, "/admin/enrolments").await;
    let request = id_after(&boss.get("/admin/enrolments").await.body, "/admin/enrolments/").unwrap();
    boss.post(&format!("/admin/enrolments/{request}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    let bo_first = bo.get(&format!("/learn/{course}")).await.location.unwrap();
    assert!(bo.get(&bo_first).await.body.contains("log every check"));
    // Unpublished: out of the catalogue, still on the learners' pages.
    let t = form_token(&mut ed, &format!("/admin/courses/{course}")).await;
    assert_eq!(ed.post(&format!("/admin/courses/{course}/unpublish"), &[("csrf_token", &t)]).await.status, 303);
    assert!(!ann.get("/courses?q=medicines").await.body.contains("Medicines management"));
    assert_eq!(ann.get(&format!("/courses/{course}")).await.status, 200);
}

#[tokio::test]
async fn managers_import_staff_assign_mandatory_training_follow_compliance_and_remind_once() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let t = form_token(&mut boss, "/admin/courses").await;
    boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;

    // A dry run of a bad file: every bad row named, nothing changed.
    let head = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";
    let bad = format!(
        "{head}12345678,Amara,Okafor,amara@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,General\n123,Ben,Hughes,not-an-email,Porter,Estates,Porters,General\n"
    );
    let t = form_token(&mut boss, "/admin/staff/import").await;
    let checked = boss
        .post_multipart("/admin/staff/import", &[("csrf_token", &t)], ("file", "staff.csv", "text/csv", bad.as_bytes()))
        .await;
    assert_eq!(checked.status, 422);
    assert!(checked.body.contains("Line 3"), "{}", checked.body);
    assert!(checked.body.contains("not an assignment number") && checked.body.contains("not a staff group"));
    assert!(!checked.body.contains("Apply this import"));

    // A good file: the plan, then applied by the worker, all at once.
    let good = format!(
        "{head}12345678,Amara,Okafor,amara@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,General\n\
         12345679,Ben,Hughes,ben@northmoor.example,Porter,Estates,Estates and Ancillary,General\n\
         12345680,Cara,Lind,boss@northmoor.example,Training Manager,Education,Administrative and Clerical,General\n"
    );
    let plan = boss
        .post_multipart(
            "/admin/staff/import",
            &[("csrf_token", &t)],
            ("file", "staff.csv", "text/csv", good.as_bytes()),
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert!(plan.body.contains("2 people added to your staff"), "{}", plan.body);
    assert!(plan.body.contains("1 record changes"));
    let file = id_after_hex(&plan.body).expect("the checked file");
    let t = plan.csrf().unwrap();
    assert_eq!(boss.post("/admin/staff/import/apply", &[("csrf_token", &t), ("file", &file)]).await.status, 303);
    let mut imported = String::new();
    for _ in 0..100 {
        imported = boss.get("/admin/staff/import").await.body;
        if imported.contains("imported —") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(imported.contains("2 added, 1 updated"), "{imported}");
    let history = &imported[imported.find("id=\"import-history\"").unwrap()..];
    assert!(
        !history.contains(": waiting to be imported"),
        "one import is one entry (its result, not also its queueing): {history}"
    );
    assert!(!history.contains("data-refresh"), "nothing running, so nothing polls");
    // Riverside sees none of them.
    assert!(!rex.get("/admin/compliance").await.body.contains("Okafor"));

    // Fire safety, mandatory for registered nurses, due in 10 days, yearly.
    let t = form_token(&mut boss, "/admin/training").await;
    let missing = boss
        .post(
            "/admin/training",
            &[
                ("csrf_token", &t),
                ("course", ""),
                ("audience_kind", "staff_group"),
                ("staff_group", ""),
                ("mandatory", "1"),
                ("due_days", "x"),
                ("renewal_months", "12"),
            ],
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.body.contains("Choose a course")
            && missing.body.contains("Choose a staff group")
            && missing.body.contains("days allowed")
    );
    let assigned = crate::mandatory_for_group(&mut boss, &fire.to_string(), "Nursing and Midwifery Registered").await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    assert!(assigned.body.contains("1 person enrolled; 1 added to the compliance record"), "{}", assigned.body);
    // Another trust cannot assign Northmoor's training (the course is not in its catalogue).
    let t2 = form_token(&mut rex, "/admin/training").await;
    assert_eq!(
        rex.post(
            "/admin/training",
            &[("csrf_token", &t2), ("course", &fire.to_string()), ("audience_kind", "everyone"), ("mandatory", "1")]
        )
        .await
        .status,
        400
    );

    let matrix = boss.get("/admin/compliance").await;
    assert_eq!(matrix.status, 200);
    assert!(matrix.body.contains("Amara Okafor") && matrix.body.contains("Not started"), "{}", matrix.body);
    assert!(!matrix.body.contains("Ben Hughes"), "a porter is not a registered nurse");
    // Time passes: the due date goes by (as the worker would see it).
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    trellis_db::compliance::set_due_for_tests(&tx, yesterday).await.unwrap();
    tx.commit().await.unwrap();
    let overdue = boss.get("/admin/compliance?status=overdue").await;
    assert!(overdue.body.contains("Amara Okafor") && overdue.body.contains("Overdue"));
    assert!(boss.get("/admin/compliance?status=complete").await.body.contains("0 people"));

    // The record as a spreadsheet, with the matrix's filters; another trust's manager gets none of it.
    let csv = boss.get("/admin/compliance/export.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"compliance-northmoor-")
    );
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(
        lines[0],
        "Family name,Given name,Email,Assignment number,Staff group,Department,Course,Status,Due,Completed,Expires,Completed at"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "Okafor,Amara,amara@northmoor.example,12345678,Nursing and Midwifery Registered,Ward 7,Fire safety,Overdue,"
        )),
        "{}",
        csv.body
    );
    assert!(!csv.body.contains("Hughes"), "a porter has no fire safety entry here");
    assert_eq!(boss.get("/admin/compliance/export.csv?status=complete").await.body.lines().count(), 1);
    let theirs = rex.get("/admin/compliance/export.csv").await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains("Okafor"));

    // Reminders: one digest, and never a second for the same due date.
    let t = form_token(&mut boss, "/admin/compliance").await;
    assert_eq!(boss.post("/admin/compliance/remind", &[("csrf_token", &t)]).await.status, 303);
    let mail = app.mail.wait_for("amara@northmoor.example", "You have overdue training").await;
    assert!(mail.text.contains("Fire safety"), "{}", mail.text);
    boss.post("/admin/compliance/remind", &[("csrf_token", &t)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let sent = app
        .mail
        .all()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == "amara@northmoor.example") && m.subject.contains("overdue"))
        .count();
    assert_eq!(sent, 1);
}

/// The 64-hex-digit file handle in the apply form.
fn id_after_hex(body: &str) -> Option<String> {
    let at = body.find("name=\"file\" value=\"")? + "name=\"file\" value=\"".len();
    let v: String = body[at..].chars().take(64).collect();
    (v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit())).then_some(v)
}

/// The file store on an S3-compatible service (moto's server, speaking S3's API over HTTP, as
/// production speaks it to a bucket): an upload is stored there, not on local disk, and served
/// whole and by byte range.
#[tokio::test]
async fn uploads_are_kept_in_s3_compatible_storage() {
    let s3 = trellis_testkit::S3Peer::start().await;
    let endpoint = s3.endpoint();
    let app = trellis_testkit::spawn_app_with(None, move |c| {
        c.files.store = "s3".into();
        c.files.s3_endpoint = endpoint;
        c.files.s3_bucket = "trellis-test".into();
        c.files.s3_region = "eu-west-2".into();
        c.files.s3_access_key_id = "test".into();
        c.files.s3_secret_access_key = "test".into();
    })
    .await;
    let (mut ed, _) = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let t = form_token(&mut ed, "/admin/courses/new").await;
    let made = ed
        .post(
            "/admin/courses/new",
            &[("csrf_token", &t), ("kind", "course"), ("title", "Policies"), ("code", "nm-pol"), ("enrolment", "open")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let course = id_after(made.location.as_deref().unwrap(), "/admin/courses/").unwrap();
    let form = format!("/admin/courses/{course}/sessions");
    let t = form_token(&mut ed, &form).await;
    let fields = [
        ("csrf_token", t.as_str()),
        ("title", "The policy"),
        ("kind", "document"),
        ("body", ""),
        ("completion", "download"),
    ];
    assert_eq!(ed.post_multipart(&form, &fields, ("file", "policy.pdf", "application/pdf", PDF)).await.status, 303);
    let keys = s3.keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with(&app.tenant_id("northmoor").await.to_string()), "{keys:?}");
    assert!(
        !std::path::Path::new(&app.config.files.dir).exists()
            || std::fs::read_dir(&app.config.files.dir).unwrap().next().is_none(),
        "nothing on local disk"
    );
    let t = form_token(&mut ed, &format!("/admin/courses/{course}")).await;
    assert_eq!(ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await.status, 303);

    let t = form_token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let doc = ann.get(&format!("/learn/{course}")).await.location.unwrap();
    let file = ann.get(&format!("{doc}/file")).await;
    assert_eq!((file.status, file.body.as_bytes()), (200, PDF));
    assert_eq!(ann.get_range(&format!("{doc}/file"), "bytes=5-7").await, (206, PDF[5..8].to_vec()));
}

#[tokio::test]
async fn every_server_shows_a_catalogue_change_made_through_another_at_once() {
    // Each server keeps each trust's catalogue in memory; a change through one server must show
    // on the others at their next request (no waiting for a timer).
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let other = app.another_server().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    app.member("northmoor", "ann@northmoor.example", PW, &[Role::Learner]).await;
    let mut ann = Visitor::new(other.addr, &TestApp::host_of("northmoor"));
    ann.sign_in_and_agree("ann@northmoor.example", PW).await;
    let (mut rita, _) = app.person("riverside", "rita@riverside.example").roles(&[Role::Learner]).signed_in().await;

    // The other server has kept Northmoor's catalogue (browsing and a search) without the course.
    assert!(!ann.get("/courses").await.body.contains(&format!("/courses/{fire}")));
    assert!(!ann.get("/courses?q=fire").await.body.contains(&format!("/courses/{fire}")));
    assert_eq!(ann.get(&format!("/courses/{fire}")).await.status, 404);

    // Offered through the first server: at once in the other's browsing, search and course page.
    let t = form_token(&mut boss, "/admin/courses").await;
    boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;
    assert!(ann.get("/courses").await.body.contains(&format!("/courses/{fire}")));
    assert!(ann.get("/courses?q=fire").await.body.contains(&format!("/courses/{fire}")));
    assert_eq!(ann.get(&format!("/courses/{fire}")).await.status, 200);
    assert!(!ann.get("/courses?mandatory=1").await.body.contains(&format!("/courses/{fire}")));

    // Made mandatory through the first server: the other's "mandatory here" filter finds it.
    let t = form_token(&mut boss, "/admin/training").await;
    let made = boss
        .post(
            "/admin/training",
            &[
                ("csrf_token", &t),
                ("course", &fire.to_string()),
                ("audience_kind", "everyone"),
                ("mandatory", "1"),
                ("due_days", "30"),
                ("renewal_months", "12"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(ann.get("/courses?mandatory=1").await.body.contains(&format!("/courses/{fire}")));

    // Riverside's catalogue, kept on the same servers, is untouched by Northmoor's changes.
    assert!(!rita.get("/courses").await.body.contains(&format!("/courses/{fire}")));
    assert!(!rita.get("/courses?q=fire").await.body.contains(&format!("/courses/{fire}")));
    assert_eq!(rita.get(&format!("/courses/{fire}")).await.status, 404);

    // Withdrawn through the first server: gone from the other's at once.
    let t = form_token(&mut boss, "/admin/courses").await;
    boss.post(&format!("/admin/courses/{fire}/offer"), &[("csrf_token", &t), ("offer", "no")]).await;
    assert!(!ann.get("/courses").await.body.contains(&format!("/courses/{fire}")));
    assert!(!ann.get("/courses?q=fire").await.body.contains(&format!("/courses/{fire}")));
    other.stop().await;
}

#[tokio::test]
async fn a_courses_page_shows_its_uptake_month_by_month() {
    let app = spawn_app().await;
    let course = app
        .course("northmoor", "nm-hands", "Hand hygiene")
        .page("Five moments", "Before touching")
        .published()
        .create()
        .await;
    let (mut ed, _) = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await;
    let before = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(before.body.contains("0 enrolments since"), "{}", before.body);
    for who in ["ann@northmoor.example", "bob@northmoor.example"] {
        let (mut v, _) = app.person("northmoor", who).signed_in().await;
        let t = form_token(&mut v, &format!("/courses/{course}")).await;
        assert_eq!(v.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    }
    let after = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(after.body.contains("2 enrolments since"), "{}", after.body);
    assert!(after.body.contains("id=\"uptake-chart-title\""), "the chart is drawn");
    let this_month = chrono::Utc::now().format("%B %Y").to_string();
    assert!(
        after.body.contains(&format!("</span>{this_month}</th><td class=\"nhsuk-table__cell\"><span class=\"nhsuk-table-responsive__heading\" aria-hidden=\"true\">Enrolments </span>2</td>")),
        "this month's row says 2: {}",
        after.body
    );
    // Another trust's editor sees nothing of it.
    let (mut rex, _) = app.person("riverside", "rex@riverside.example").roles(&[Role::ContentEditor]).signed_in().await;
    assert_eq!(rex.get(&format!("/admin/courses/{course}")).await.status, 404);
}
