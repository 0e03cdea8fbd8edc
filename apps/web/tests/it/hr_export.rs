//! Completions back to HR, end to end against real peers: a content editor gives a course its HR
//! competence code; a training manager sends completions to Debian's OpenSSH server over SFTP
//! (signing in with the key Trellis made for the trust, the server's host key pinned) and to an
//! S3 bucket (moto); each delivery is the documented CSV, recorded with its row count and
//! checksum; the next export holds only what is new; an unreachable server leaves the export
//! queued, visible and retried; another trust sees none of it.

use sha2::{Digest, Sha256};
use std::time::Duration;
use trellis_domain::identity::Role;
use trellis_domain::learning::Audience;
use trellis_domain::{CourseId, PersonId};
use trellis_testkit::{S3Peer, SftpPeer, TestApp, Visitor, spawn_app_with};

const PW: &str = "violet tractor harbour";
const COMPETENCE: &str = "NHS|CSTF|Fire Safety - 1 Year|";

async fn app() -> TestApp {
    spawn_app_with(None, |c| {
        c.jobs.hr_export_every_secs = 1;
        // A second's settling, as production's minute: an export queued while a completion's
        // transaction is still open ends before it, so the completion falls in the next export
        // (with none, the day's first run could end between its timestamp and its commit, and
        // lose it: seen once on PostgreSQL under CI's load).
        c.jobs.hr_export_settle_secs = 1;
    })
    .await
}

/// Offers the national fire-safety course at Northmoor, mandatory for everyone, renewed yearly.
async fn fire_rule(app: &TestApp) -> CourseId {
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    trellis_db::catalogue::set_offered(&tx, fire, true, None).await.unwrap();
    let course = trellis_db::catalogue::course(&tx, fire).await.unwrap().unwrap();
    let today = chrono::Utc::now().date_naive();
    trellis_db::compliance::add_requirement(&tx, &course, &Audience::Everyone, true, Some(28), Some(12), None, today)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    fire
}

async fn assignment(app: &TestApp, person: PersonId, number: &str) {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let record = trellis_db::staff::StaffRecord { assignment_number: Some(number.into()), ..Default::default() };
    trellis_db::staff::set_record(&tx, person, &record).await.unwrap();
    tx.commit().await.unwrap();
}

/// Completes the fire-safety course as the learner does (two sessions, the second confirmed).
async fn complete(app: &TestApp, email: &str, fire: CourseId) {
    let mut v = app.visitor("northmoor");
    v.sign_in_and_agree(email, PW).await;
    let go = v.get(&format!("/learn/{fire}")).await;
    let first = go.location.clone().unwrap_or_else(|| panic!("{} {}", go.status, go.body));
    v.get(&first).await;
    let second = v.get(&format!("/learn/{fire}")).await.location.unwrap();
    let page = v.get(&second).await;
    let t = page.csrf().unwrap();
    assert_eq!(v.post(&format!("{second}/done"), &[("csrf_token", &t)]).await.status, 303);
}

async fn form(v: &mut Visitor, path: &str, fields: &[(&str, &str)]) -> trellis_testkit::Page {
    let page = v.get(path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t = page.csrf().unwrap();
    let mut all = vec![("csrf_token", t.as_str())];
    all.extend_from_slice(fields);
    v.post(path, &all).await
}

async fn sftp_settings(boss: &mut Visitor, sftp: &SftpPeer, port: u16) -> trellis_testkit::Page {
    let port = port.to_string();
    let dir = sftp.upload_dir().to_string_lossy().into_owned();
    form(
        boss,
        "/admin/hr-export",
        &[
            ("target", "sftp"),
            ("sftp_host", "127.0.0.1"),
            ("sftp_port", &port),
            ("sftp_user", &sftp.user),
            ("sftp_dir", &dir),
            ("sftp_host_key", &sftp.host_key),
        ],
    )
    .await
}

async fn send_now(boss: &mut Visitor) {
    let page = boss.get("/admin/hr-export").await;
    let t = page.csrf().unwrap();
    let sent = boss.post("/admin/hr-export/send", &[("csrf_token", &t)]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
}

/// Presses *Send now* until a delivered export holds Ann's completion: the day's first run may
/// have queued an export before she completed, and *Send now* then sends that waiting one first.
/// Waits out the settling second first, so the export's end is after her completion.
async fn send_until_delivered(app: &TestApp, boss: &mut Visitor) -> trellis_db::hr_export::Export {
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        send_now(boss).await;
        let list = trellis_testkit_wait_for(app, |e| !e.is_empty() && e.iter().all(|x| x.status == "delivered")).await;
        if let Some(e) = list.iter().find(|x| x.status == "delivered" && x.rows == 1) {
            return e.clone();
        }
    }
    panic!("no export with the completion: {:?}", exports(app).await);
}

async fn exports(app: &TestApp) -> Vec<trellis_db::hr_export::Export> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let list = trellis_db::hr_export::exports(&tx, 50).await.unwrap();
    tx.rollback().await.unwrap();
    list
}

fn today_plus_year() -> (String, String) {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Europe::London).date_naive();
    let next = today.checked_add_months(chrono::Months::new(12)).unwrap();
    (today.format("%d/%m/%Y").to_string(), next.format("%d/%m/%Y").to_string())
}

#[tokio::test]
async fn completions_reach_hr_over_sftp_once_each_and_an_unreachable_server_leaves_the_export_waiting() {
    let app = app().await;
    let sftp = SftpPeer::start().await;
    let fire = fire_rule(&app).await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let ann = app.member("northmoor", "ann@northmoor.example", PW, &[Role::Learner]).await;
    let bob = app.member("northmoor", "bob@northmoor.example", PW, &[Role::Learner]).await;
    assignment(&app, ann, "10000001").await;
    let _ = bob; // no assignment number: never sent

    // The course's competence code, by the course's code; a course not offered here is refused.
    let bad = form(&mut boss, "/admin/hr-export/competences", &[("course", "NOPE-1"), ("competence", "X")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("Enter the code of a course offered here"), "{}", bad.body);
    let set =
        form(&mut boss, "/admin/hr-export/competences", &[("course", "cstf-fire"), ("competence", COMPETENCE)]).await;
    assert_eq!(set.status, 303, "{}", set.body);
    let listed = boss.get("/admin/hr-export/competences").await;
    assert!(listed.body.contains(COMPETENCE) && listed.body.contains("is sent to HR as"), "{}", listed.body);

    // SFTP settings: a fingerprint that is not one is refused beside the field.
    let wrong = form(
        &mut boss,
        "/admin/hr-export",
        &[("target", "sftp"), ("sftp_host", "127.0.0.1"), ("sftp_user", "x"), ("sftp_host_key", "aa:bb")],
    )
    .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("host key fingerprint as ssh-keygen -l shows it"), "{}", wrong.body);
    let saved = sftp_settings(&mut boss, &sftp, sftp.port).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = boss.get("/admin/hr-export").await;
    assert!(
        page.body.contains("Give your SFTP server&#x27;s administrators the public key")
            || page.body.contains("public key below"),
        "{}",
        page.body
    );
    let public = page
        .body
        .split("<code id=\"public-key\" class=\"trellis-break\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(public.starts_with("ssh-ed25519 "), "{public}");
    sftp.authorize(&public);

    // Ann completes the course; Bob too (no assignment number: not sent).
    complete(&app, "ann@northmoor.example", fire).await;
    complete(&app, "bob@northmoor.example", fire).await;
    // (The day's first run may also have sent an export before Ann completed: it holds no rows.)
    let e = send_until_delivered(&app, &mut boss).await;
    let files = sftp.files();
    let (name, bytes) = files.iter().find(|(n, _)| *n == e.file_name).unwrap_or_else(|| panic!("{files:?}")).clone();
    assert!(name.starts_with("completions-northmoor-") && name.ends_with(".csv"), "{name}");
    assert!(files.iter().all(|(n, _)| !n.ends_with(".part")), "no half-written file is left");
    let (today, next_year) = today_plus_year();
    let header = "Assignment Number,Competence,Achieved Date,Expiry Date\r\n";
    let want = format!("{header}10000001,{COMPETENCE},{today},{next_year}\r\n");
    assert_eq!(String::from_utf8_lossy(&bytes), want);
    assert_eq!(e.sha256, hex::encode(Sha256::digest(&bytes)));
    for (n, b) in &files {
        if *n != name {
            assert_eq!(String::from_utf8_lossy(b), header, "any other file is the empty one before Ann completed");
        }
    }
    let page = boss.get("/admin/hr-export").await;
    assert!(page.body.contains("Delivered") && page.body.contains(&e.sha256), "{}", page.body);

    // The next export starts where the last one ended: nothing again.
    let before = exports(&app).await.iter().filter(|x| x.status == "delivered").count();
    send_now(&mut boss).await;
    let list = trellis_testkit_wait_for(&app, |e| e.iter().filter(|x| x.status == "delivered").count() > before).await;
    let newest = list.iter().find(|x| x.status == "delivered").unwrap();
    assert_eq!(newest.rows, 0, "{list:?}");
    let again = sftp.files().into_iter().find(|(n, _)| *n == newest.file_name).unwrap().1;
    assert_eq!(String::from_utf8_lossy(&again), header);

    // The server goes away: the export waits, shown with why, and is tried again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    assert_eq!(sftp_settings(&mut boss, &sftp, closed).await.status, 303);
    send_now(&mut boss).await;
    let waiting = trellis_testkit_wait_for(&app, |e| {
        e.first().is_some_and(|x| x.status == "queued" && x.attempts >= 1 && !x.last_error.is_empty())
    })
    .await;
    assert!(
        waiting[0].last_error.contains("refused") || waiting[0].last_error.contains("did not answer"),
        "{:?}",
        waiting[0]
    );
    let page = boss.get("/admin/hr-export").await;
    assert!(page.body.contains("Waiting") && page.body.contains("Next try"), "{}", page.body);
    // Back: Send now tries the waiting one again, and it is delivered.
    let waiting_id = waiting[0].id;
    assert_eq!(sftp_settings(&mut boss, &sftp, sftp.port).await.status, 303);
    send_now(&mut boss).await;
    let list = trellis_testkit_wait_for(&app, |e| e.iter().all(|x| x.status == "delivered")).await;
    let done = list.iter().find(|x| x.id == waiting_id).unwrap();
    assert_eq!(done.status, "delivered", "{list:?}");
    assert!(sftp.files().iter().any(|(n, _)| *n == done.file_name), "the waiting export delivered");

    // Another trust sees none of it, and cannot set Northmoor's codes.
    let theirs = rex.get("/admin/hr-export").await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains("completions-northmoor") && !theirs.body.contains("ssh-ed25519"), "{}", theirs.body);
    let codes = rex.get("/admin/hr-export/competences").await;
    assert!(!codes.body.contains(COMPETENCE));
    let mut ann_v = app.visitor("northmoor");
    ann_v.sign_in_and_agree("ann@northmoor.example", PW).await;
    assert_eq!(ann_v.get("/admin/hr-export").await.status, 403, "a learner may not");
}

#[tokio::test]
async fn completions_reach_hr_in_an_s3_bucket() {
    let app = app().await;
    let s3 = S3Peer::start().await;
    let fire = fire_rule(&app).await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let ann = app.member("northmoor", "ann@northmoor.example", PW, &[Role::Learner]).await;
    assignment(&app, ann, "10000001").await;
    assert_eq!(
        form(&mut boss, "/admin/hr-export/competences", &[("course", "CSTF-FIRE"), ("competence", COMPETENCE)])
            .await
            .status,
        303
    );
    let endpoint = s3.endpoint();
    let missing = form(&mut boss, "/admin/hr-export", &[("target", "s3"), ("s3_bucket", "Bad_Bucket")]).await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains("Enter the secret access key"), "{}", missing.body);
    let saved = form(
        &mut boss,
        "/admin/hr-export",
        &[
            ("target", "s3"),
            ("s3_bucket", "trellis-test"),
            ("s3_prefix", "hr/"),
            ("s3_region", "eu-west-2"),
            ("s3_endpoint", &endpoint),
            ("s3_access_key", "testing"),
            ("s3_secret", "testing-secret"),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    complete(&app, "ann@northmoor.example", fire).await;
    let e = send_until_delivered(&app, &mut boss).await;
    let keys = s3.keys().await;
    assert!(keys.contains(&format!("hr/{}", e.file_name)), "{keys:?}");
    // The secret is kept sealed, never shown again.
    let page = boss.get("/admin/hr-export").await;
    assert!(!page.body.contains("testing-secret") && page.body.contains("A secret is kept"), "{}", page.body);
}

async fn trellis_testkit_wait_for(
    app: &TestApp,
    check: impl Fn(&[trellis_db::hr_export::Export]) -> bool,
) -> Vec<trellis_db::hr_export::Export> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = exports(app).await;
        if check(&list) || std::time::Instant::now() > deadline {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
