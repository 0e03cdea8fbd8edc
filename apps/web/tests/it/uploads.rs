//! Virus scanning of uploads with a real clamd (Debian's clamav-daemon, on the project's own
//! configuration, with the EICAR test signature): an infected package (EICAR inside a SCORM
//! zip), logo, staff file or course document is refused with the signature named, audited, and
//! nothing is kept; the API answers a problem document. While the scanner is away and scanning
//! is required, uploads wait unserved, and once it is back the worker scans them and completes
//! each (or discards it if infected). Another trust cannot reach a trust's held files.

use crate::elearning::{new_course, token, upload};
use crate::eventually;
use std::io::Write;
use std::time::Duration;
use trellis_domain::identity::Role;
use trellis_testkit::{ClamdPeer, TestApp, Visitor, eicar, spawn_app_with, test_package};

fn logo_in(page: &str) -> Option<String> {
    let at = page.find("src=\"/logo/")? + "src=\"/logo/".len();
    Some(page[at..at + 64].to_owned())
}

fn png_with(tail: &[u8]) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    b.extend_from_slice(tail);
    b
}

/// A test package with one more file in it.
fn package_with(name: &str, extra: (&str, &[u8])) -> Vec<u8> {
    let clean = test_package(name);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(clean)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let f = archive.by_index(i).unwrap();
        w.raw_copy_file(f).unwrap();
    }
    w.start_file(extra.0, zip::write::SimpleFileOptions::default()).unwrap();
    w.write_all(extra.1).unwrap();
    w.finish().unwrap().into_inner()
}

/// A relay on `port` to a real clamd: the scanner is "back" until the task is aborted (which
/// closes the port again).
async fn relay(port: u16, target: String) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                }
            });
        }
    })
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

/// An app that requires scanning, with the scanner "down": a port nothing listens on yet (see
/// [`relay`]).
async fn scanner_away() -> (TestApp, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = spawn_app_with(None, |c| {
        c.uploads.scan = "required".into();
        c.uploads.clamd = format!("127.0.0.1:{port}");
    })
    .await;
    (app, port)
}

/// Held uploads of these kinds at a trust, newest first.
async fn held_of(app: &TestApp, slug: &str, kinds: &[trellis_db::held::Kind]) -> Vec<trellis_db::held::Held> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let mut rows = Vec::new();
    for kind in kinds {
        rows.extend(trellis_db::held::recent(&tx, *kind, None, 10).await.unwrap());
    }
    tx.commit().await.unwrap();
    rows
}

/// Asks for the dry run of a held staff file ("Check" on the import page).
async fn check_held(v: &mut Visitor, id: &str) -> trellis_testkit::Page {
    let t = token(v, "/admin/staff/import").await;
    v.post_multipart("/admin/staff/import", &[("csrf_token", &t), ("held", id)], ("file", "", "text/csv", b"")).await
}

async fn packages(app: &TestApp, slug: &str, course: &str) -> usize {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let n = trellis_db::elearning::packages_of(&tx, course.parse().unwrap()).await.unwrap().len();
    tx.commit().await.unwrap();
    n
}

async fn audited(app: &TestApp, slug: &str, action: &str) -> Vec<String> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let t = trellis_db::audit::trail_of(&tx, action, 50).await.unwrap();
    tx.commit().await.unwrap();
    t.into_iter().filter(|e| e.action == action).map(|e| e.detail).collect()
}

/// Every file kept in the local file store, as paths under its folder.
pub(crate) fn stored(app: &TestApp) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() { walk(&p, out) } else { out.push(p.display().to_string()) }
        }
    }
    let mut out = Vec::new();
    walk(std::path::Path::new(&app.config.files.dir), &mut out);
    out.sort();
    out
}

/// Imports a package through the trust API, with a token the admin issues.
async fn api_import(app: &TestApp, admin: &mut Visitor, zip: Vec<u8>) -> trellis_testkit::Page {
    let page = admin.get("/admin/api-tokens").await;
    let t = page.csrf().unwrap();
    let done = admin
        .post("/admin/api-tokens", &[("csrf_token", &t), ("name", "CI"), ("expires", "30"), ("scopes", "courses")])
        .await;
    let marker = "<code id=\"issued-token\" class=\"trellis-break\">";
    let at = done.body.find(marker).expect("a token") + marker.len();
    let auth = format!("Bearer {}", done.body[at..].split('<').next().unwrap());
    let mut api = app.visitor("northmoor");
    let headers = [("authorization", auth.as_str()), ("content-type", "application/zip")];
    api.send("POST", "/api/v1/courses", &headers, zip).await
}

const STAFF_HEAD: &str = "Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n";

#[tokio::test]
async fn infected_uploads_are_refused_named_audited_and_leave_nothing_behind() {
    let clamd = ClamdPeer::start().await;
    let app = spawn_app_with(None, |c| {
        c.uploads.scan = "required".into();
        c.uploads.clamd = clamd.address();
    })
    .await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let course = new_course(&mut boss, "SCAN-1", "Scanning").await;
    let before = stored(&app);

    // EICAR inside a SCORM zip: refused, named, audited; no package, no file.
    let bad = package_with("scorm12-hand-hygiene", ("media/readme.txt", &eicar()));
    let refused = upload(&mut boss, &course, "infected.zip", &bad).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("contains a virus (Trellis.Test.EICAR"), "{}", refused.body);
    assert_eq!(packages(&app, "northmoor", &course).await, 0);
    assert_eq!(stored(&app), before, "nothing of the infected package is kept");
    let infected = audited(&app, "northmoor", "upload.infected").await;
    assert_eq!(infected.len(), 1);
    assert!(infected[0].contains("Trellis.Test.EICAR") && infected[0].contains("package"), "{infected:?}");

    // The same package without it: scanned clean and added.
    let ok = upload(&mut boss, &course, "clean.zip", &test_package("scorm12-hand-hygiene")).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(packages(&app, "northmoor", &course).await, 1);

    // A logo with EICAR in it: refused, the logo unchanged.
    let logo_before = logo_in(&boss.get("/").await.body);
    let t = token(&mut boss, "/admin/site").await;
    let logo = boss
        .post_multipart(
            "/admin/site/logo",
            &[("csrf_token", &t), ("action", "upload")],
            ("logo", "logo.png", "image/png", &png_with(&eicar())),
        )
        .await;
    assert_eq!(logo.status, 422, "{}", logo.body);
    assert!(logo.body.contains("logo.png contains a virus"), "{}", logo.body);
    assert_eq!(logo_in(&boss.get("/").await.body), logo_before);

    // A staff file with EICAR in it: refused before it is read, nothing to apply.
    let csv = format!("{STAFF_HEAD}{}\n", String::from_utf8(eicar()).unwrap());
    let t = token(&mut boss, "/admin/staff/import").await;
    let checked = boss
        .post_multipart("/admin/staff/import", &[("csrf_token", &t)], ("file", "staff.csv", "text/csv", csv.as_bytes()))
        .await;
    assert_eq!(checked.status, 422, "{}", checked.body);
    assert!(checked.body.contains("staff.csv contains a virus"), "{}", checked.body);
    assert!(!checked.body.contains("Apply this import"));

    // A course document (a PDF) with EICAR in it: refused on the session form.
    let mut pdf = b"%PDF-1.4\n% a leaflet\n".to_vec();
    pdf.extend_from_slice(&eicar());
    let t = token(&mut boss, &format!("/admin/courses/{course}/sessions")).await;
    let doc = boss
        .post_multipart(
            &format!("/admin/courses/{course}/sessions"),
            &[("csrf_token", &t), ("kind", "document"), ("title", "Leaflet")],
            ("file", "leaflet.pdf", "application/pdf", &pdf),
        )
        .await;
    assert_eq!(doc.status / 100, 4, "{}", doc.body);
    assert!(doc.body.contains("leaflet.pdf contains a virus"), "{}", doc.body);

    assert_eq!(audited(&app, "northmoor", "upload.infected").await.len(), 4);
    // Clean uploads were kept; nothing under a held or import folder.
    assert!(stored(&app).iter().all(|p| !p.contains("/held/") && !p.contains("/imports/")));

    // The API's import: a problem document naming the body.
    let sent = api_import(&app, &mut boss, bad.clone()).await;
    assert_eq!(sent.status, 422, "{}", sent.body);
    assert!(sent.body.contains("contains a virus") && sent.body.contains("\"field\":\"body\""), "{}", sent.body);
}

#[tokio::test]
async fn while_the_scanner_is_away_uploads_wait_unserved_then_the_worker_scans_and_completes_them() {
    let (app, port) = scanner_away().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let course = new_course(&mut boss, "SCAN-2", "Held uploads").await;

    // A clean package and an infected one: both wait, neither is added or served.
    let waiting = upload(&mut boss, &course, "hand-hygiene.zip", &test_package("scorm12-hand-hygiene")).await;
    assert_eq!(waiting.status, 303, "{}", waiting.body);
    let bad = package_with("scorm12-hand-hygiene", ("media/readme.txt", &eicar()));
    assert_eq!(upload(&mut boss, &course, "infected.zip", &bad).await.status, 303);
    let listed = boss.get(&format!("/admin/courses/{course}/package")).await;
    assert!(listed.body.contains("waiting for a virus scan"), "{}", listed.body);
    assert_eq!(listed.body.matches("Waiting for a virus scan").count(), 2, "{}", listed.body);
    assert_eq!(packages(&app, "northmoor", &course).await, 0);
    assert!(stored(&app).iter().filter(|p| p.contains("/held/")).count() == 2);

    // A logo and a staff file wait too.
    let logo_before = logo_in(&boss.get("/").await.body);
    let t = token(&mut boss, "/admin/site").await;
    let logo = boss
        .post_multipart(
            "/admin/site/logo",
            &[("csrf_token", &t), ("action", "upload")],
            ("logo", "logo.png", "image/png", &png_with(&[7; 64])),
        )
        .await;
    assert_eq!(logo.status, 303, "{}", logo.body);
    assert_eq!(logo_in(&boss.get("/").await.body), logo_before, "not shown before it is scanned");
    let csv = format!(
        "{STAFF_HEAD}12345678,Amara,Okafor,amara@northmoor.example,Staff Nurse,Ward 7,Nursing and Midwifery Registered,General\n"
    );
    let t = token(&mut boss, "/admin/staff/import").await;
    let held_csv = boss
        .post_multipart("/admin/staff/import", &[("csrf_token", &t)], ("file", "staff.csv", "text/csv", csv.as_bytes()))
        .await;
    assert_eq!(held_csv.status, 303, "{}", held_csv.body);
    let import_page = boss.get("/admin/staff/import").await;
    assert!(import_page.body.contains("staff.csv") && import_page.body.contains("Waiting for a virus scan"));
    assert!(!import_page.body.contains("name=\"held\""), "no check offered before the scan");

    // The API cannot hold: 503 with a problem document, and no course or file is kept.
    let files_before = stored(&app);
    let sent = api_import(&app, &mut boss, test_package("scorm12-hand-hygiene")).await;
    assert_eq!(sent.status, 503, "{}", sent.body);
    assert!(sent.body.contains("virus scanner is not available"), "{}", sent.body);
    assert_eq!(stored(&app), files_before);
    // Another trust's admin cannot check Northmoor's held file.
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let held_ids: Vec<String> = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let rows = trellis_db::held::recent(&tx, trellis_db::held::Kind::StaffFile, None, 5).await.unwrap();
        tx.commit().await.unwrap();
        rows.into_iter().map(|h| h.id.to_string()).collect()
    };
    assert_eq!(held_ids.len(), 1);
    let riverside = app.tenant_id("riverside").await;
    {
        let tx = dbs.app.begin(riverside).await.unwrap();
        let seen = trellis_db::held::by_id(&tx, held_ids[0].parse().unwrap()).await.unwrap();
        tx.commit().await.unwrap();
        assert!(seen.is_none(), "Riverside's handle cannot see Northmoor's held upload");
    }
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let probe = check_held(&mut rex, &held_ids[0]).await;
    assert_eq!(probe.status, 404, "{}", probe.body);

    // The scanner comes back (a relay on that port to a real clamd): the worker scans and completes.
    let clamd = ClamdPeer::start().await;
    let _relay = relay(port, clamd.address()).await;
    assert!(
        eventually(Duration::from_secs(90), || async {
            let tx = dbs.app.begin(northmoor).await.unwrap();
            let mut rows = Vec::new();
            for kind in
                [trellis_db::held::Kind::Package, trellis_db::held::Kind::Logo, trellis_db::held::Kind::StaffFile]
            {
                rows.extend(trellis_db::held::recent(&tx, kind, None, 10).await.unwrap());
            }
            tx.commit().await.unwrap();
            rows.len() == 4 && rows.iter().all(|h| h.status != "waiting")
        })
        .await,
        "the worker scanned every held upload once the scanner was back"
    );
    // The clean package is in the course; the infected one is gone, audited.
    assert_eq!(packages(&app, "northmoor", &course).await, 1);
    let listed = boss.get(&format!("/admin/courses/{course}/package")).await;
    assert!(listed.body.contains("Scanned: no virus found"), "{}", listed.body);
    assert!(listed.body.contains("Virus found: not kept"), "{}", listed.body);
    assert!(audited(&app, "northmoor", "upload.infected").await.iter().any(|d| d.contains("Trellis.Test.EICAR")));
    // The logo is shown now.
    let logo_after = logo_in(&boss.get("/").await.body);
    assert!(logo_after.is_some() && logo_after != logo_before);
    // Held files are gone, but for the staff file, kept to be checked.
    assert_eq!(stored(&app).iter().filter(|p| p.contains("/held/")).count(), 1);
    let import_page = boss.get("/admin/staff/import").await;
    assert!(import_page.body.contains("name=\"held\""), "{}", import_page.body);
    let plan = check_held(&mut boss, &held_ids[0]).await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert!(
        plan.body.contains("1 people added to your staff") || plan.body.contains("1 person added"),
        "{}",
        plan.body
    );
    assert!(plan.body.contains("Apply this import"));
}

#[tokio::test]
async fn every_upload_and_download_is_logged_with_its_size_for_the_trust_and_the_platform_alone() {
    let app = spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;

    // An upload (a package) and two downloads (a learner's record, an administrator's export).
    let course = new_course(&mut boss, "LOG-1", "Logged course").await;
    let zip = test_package("scorm12-hand-hygiene");
    assert_eq!(upload(&mut boss, &course, "hand-hygiene.zip", &zip).await.status, 303);
    let record = ann.get("/account/activity.csv?report=detail").await;
    assert_eq!(record.status, 200);
    let export = boss.get("/admin/compliance/export.csv").await;
    assert_eq!(export.status, 200);

    // Downloads are logged once sent, with the bytes that went.
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let logged = || async {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let q = trellis_db::transfers::Query { limit: 50, ..Default::default() };
        let t = trellis_db::transfers::transfers(&tx, &q).await.unwrap();
        tx.commit().await.unwrap();
        t
    };
    assert!(eventually(Duration::from_secs(10), || async { logged().await.len() == 3 }).await);
    let all = logged().await;
    let find = |what: &str| all.iter().find(|t| t.what == what).unwrap_or_else(|| panic!("{what}: {all:?}"));
    let up = find("package");
    assert_eq!(up.direction, trellis_db::transfers::Direction::Upload);
    assert_eq!(up.bytes, zip.len() as i64);
    assert_eq!(up.subject, "hand-hygiene.zip");
    assert!(up.person.is_some());
    let mine = find("activity");
    assert_eq!(mine.bytes, record.body.len() as i64);
    assert!(mine.subject.starts_with("my-activity-detail-") && mine.detail["complete"] == true, "{mine:?}");
    assert_eq!(find("admin_export").bytes, export.body.len() as i64);

    // The trust's administrators read them, filtered; a learner cannot.
    let page = boss.get("/admin/file-activity").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("hand-hygiene.zip") && page.body.contains("E-learning package"), "{}", page.body);
    assert!(
        page.body.contains("Learning record (My activity)") && page.body.contains("ann@northmoor.example"),
        "{}",
        page.body
    );
    let downloads = boss.get("/admin/file-activity?direction=download").await;
    assert!(!downloads.body.contains("hand-hygiene.zip") && downloads.body.contains("my-activity-detail-"));
    let bad = boss.get("/admin/file-activity?from-day=31&from-month=2&from-year=2026").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Enter the first day as a real date"), "{}", bad.body);
    assert_ne!(ann.get("/admin/file-activity").await.status, 200);

    // Another trust's administrators see none of it.
    let theirs = rex.get("/admin/file-activity").await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains("hand-hygiene.zip") && !theirs.body.contains("my-activity"), "{}", theirs.body);
    {
        let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
        let q = trellis_db::transfers::Query { limit: 50, ..Default::default() };
        assert!(trellis_db::transfers::transfers(&tx, &q).await.unwrap().is_empty());
        tx.commit().await.unwrap();
    }

    // Platform administrators see every trust's, with the trust named.
    let mut root = crate::market::platform_admin(&app).await;
    let everyone = root.get("/admin/file-activity").await;
    assert_eq!(everyone.status, 200, "{}", everyone.body);
    assert!(everyone.body.contains("hand-hygiene.zip") && everyone.body.contains("Northmoor"), "{}", everyone.body);
}

#[tokio::test]
async fn while_the_scanner_is_away_library_and_session_files_wait_unseen_then_are_published_or_refused() {
    use crate::library::{pdf, share};
    use trellis_db::held::Kind;
    let (app, port) = scanner_away().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut lee, _) = app.person("northmoor", "lee@northmoor.example").signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let details = |title: &'static str| {
        vec![
            ("kind", "document"),
            ("title", title),
            ("description", "How to screen adults for sepsis on the ward."),
            ("licence", "cc-by"),
            ("attribution_name", "Northmoor sepsis team"),
        ]
    };

    // A clean leaflet and an infected one wait: their contributor is told, nobody else sees them,
    // and their files are not served.
    let clean =
        share(&mut boss, &details("Sepsis leaflet"), &[("file", "leaflet.pdf", "application/pdf", &pdf("v1"))]).await;
    let page = boss.get(&clean).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Resource received") && page.body.contains("Waiting for a virus scan"), "{}", page.body);
    assert!(!page.body.contains(&format!("{clean}/file")), "no link to a file not yet scanned");
    assert_eq!(boss.get(&format!("{clean}/file")).await.status, 404);
    assert_eq!(lee.get(&clean).await.status, 404);
    assert!(lee.get("/library?q=sepsis").await.body.contains("0 resources"));
    let mut infected = pdf("a leaflet");
    infected.extend_from_slice(&eicar());
    let bad = share(&mut boss, &details("Bad leaflet"), &[("file", "bad.pdf", "application/pdf", &infected)]).await;
    // Moderators cannot publish a resource that waits.
    let id = bad.rsplit('/').next().unwrap().to_owned();
    let t = token(&mut boss, "/admin/library").await;
    let restored = boss.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "restore")]).await;
    assert_eq!(restored.status, 409, "{}", restored.body);
    // Another trust sees neither the resource nor the held rows.
    assert_eq!(rex.get(&clean).await.status, 404);
    assert!(held_of(&app, "riverside", &[Kind::Resource, Kind::Media]).await.is_empty());

    // A course session's document waits too, and the course cannot be published until it has been scanned.
    let course = new_course(&mut boss, "SCAN-3", "Held session files").await;
    let form = format!("/admin/courses/{course}/sessions");
    let t = token(&mut boss, &form).await;
    let fields = [("csrf_token", t.as_str()), ("title", "The policy"), ("kind", "document"), ("completion", "view")];
    let added = boss.post_multipart(&form, &fields, ("file", "policy.pdf", "application/pdf", &pdf("policy"))).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let mut bad_doc = pdf("a policy");
    bad_doc.extend_from_slice(&eicar());
    let fields = [("csrf_token", t.as_str()), ("title", "Bad policy"), ("kind", "document"), ("completion", "view")];
    let added = boss.post_multipart(&form, &fields, ("file", "bad-policy.pdf", "application/pdf", &bad_doc)).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let editor = boss.get(&format!("/admin/courses/{course}")).await;
    assert!(editor.body.contains("its file is waiting for a virus scan"), "{}", editor.body);
    assert!(editor.body.contains("policy.pdf") && editor.body.contains("Waiting for a virus scan"), "{}", editor.body);
    let t = token(&mut boss, &format!("/admin/courses/{course}")).await;
    let early = boss.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await;
    assert_eq!(early.status, 400, "{}", early.body);
    assert!(early.body.contains("waiting for its virus scan"), "{}", early.body);
    assert_eq!(stored(&app).iter().filter(|p| p.contains("/held/")).count(), 4);

    // The scanner comes back: the clean files are published, the infected one is refused and its
    // contributor told.
    let clamd = ClamdPeer::start().await;
    let back = relay(port, clamd.address()).await;
    assert!(
        eventually(Duration::from_secs(90), || async {
            let rows = held_of(&app, "northmoor", &[Kind::Resource, Kind::Media]).await;
            rows.len() == 4 && rows.iter().all(|h| h.status != "waiting")
        })
        .await,
        "the worker scanned every held file once the scanner was back"
    );
    let shown = lee.get(&clean).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(lee.get(&format!("{clean}/file")).await.body, text(pdf("v1")));
    assert!(lee.get("/library?q=sepsis").await.body.contains("Sepsis leaflet"));
    let refused = boss.get(&bad).await;
    assert!(refused.body.contains("Not shared") && refused.body.contains("Trellis.Test.EICAR"), "{}", refused.body);
    assert_eq!(lee.get(&bad).await.status, 404);
    assert_eq!(boss.get(&format!("{bad}/file")).await.status, 404);
    app.mail.wait_for("boss@northmoor.example", "was not shared").await;
    assert!(audited(&app, "northmoor", "library.refused_after_scan").await.len() == 1);
    // The infected session file was taken out of its session, which needs one before publishing.
    let t = token(&mut boss, &format!("/admin/courses/{course}")).await;
    let no_file = boss.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await;
    assert_eq!(no_file.status, 400, "{}", no_file.body);
    assert!(no_file.body.contains("“Bad policy” has no file"), "{}", no_file.body);
    let editor = boss.get(&format!("/admin/courses/{course}")).await;
    assert!(editor.body.contains("Virus found: not kept"), "{}", editor.body);
    let bad_session = editor
        .body
        .split(&format!("href=\"/admin/courses/{course}/sessions/"))
        .nth(2)
        .and_then(|rest| rest.split('"').next())
        .expect("the second session")
        .to_owned();
    let t = token(&mut boss, &format!("/admin/courses/{course}")).await;
    let removed = boss
        .post(
            &format!("/admin/courses/{course}/sessions/{bad_session}/action"),
            &[("csrf_token", &t), ("action", "remove")],
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let t = token(&mut boss, &format!("/admin/courses/{course}")).await;
    let published = boss.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await;
    assert_eq!(published.status, 303, "{}", published.body);
    assert!(stored(&app).iter().all(|p| !p.contains("/held/")), "no held file is left");

    // A new version sent while the scanner is away again waits; the current one is still served.
    back.abort();
    assert!(
        eventually(Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err()
        })
        .await
    );
    let t = token(&mut boss, &clean).await;
    let version = [("csrf_token", t.as_str()), ("confirm", "yes"), ("note", "Updated screening tool")];
    let sent = boss
        .post_files(&format!("{clean}/versions"), &version, &[("file", "leaflet.pdf", "application/pdf", &pdf("v2"))])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = boss.get(&clean).await;
    assert!(page.body.contains("Version 2 received") && page.body.contains("Version 2 is waiting for a virus scan"));
    assert_eq!(lee.get(&format!("{clean}/file")).await.body, text(pdf("v1")));
    let again = boss
        .post_files(&format!("{clean}/versions"), &version, &[("file", "leaflet.pdf", "application/pdf", &pdf("v3"))])
        .await;
    assert_eq!(again.status, 409, "one version waits at a time: {}", again.body);
    let _back = relay(port, clamd.address()).await;
    assert!(
        eventually(Duration::from_secs(90), || async {
            held_of(&app, "northmoor", &[Kind::Resource]).await.iter().all(|h| h.status != "waiting")
        })
        .await,
        "the version was scanned once the scanner was back"
    );
    let page = lee.get(&clean).await;
    assert!(page.body.contains("Updated screening tool"), "{}", page.body);
    assert_eq!(lee.get(&format!("{clean}/file")).await.body, text(pdf("v2")));
}
