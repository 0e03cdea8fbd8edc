//! Packaged e-learning end to end over HTTP: an editor uploads SCORM and cmi5 packages (a hostile
//! or broken one is refused, naming the file), a learner launches them from the trust's site,
//! the content origin serves the runtime and the files under a launch token, commits and
//! statements build the attempt's record and the learning record, and everything is one trust's
//! alone. (The same packages are driven in Chromium by tests/browser/elearning.mjs.)

use serde_json::{Value, json};
use std::io::Write;
use trellis_core::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app, test_package};

const PW: &str = "violet tractor harbour";

async fn signed_in(app: &TestApp, slug: &str, email: &str, roles: &[Role]) -> Visitor {
    app.member(slug, email, PW, roles).await;
    let mut v = app.visitor(slug);
    v.sign_in_and_agree(email, PW).await;
    v
}

fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = body.find(start)? + start.len();
    body[at..].split(end).next()
}

async fn token(v: &mut Visitor, path: &str) -> String {
    let p = v.get(path).await;
    p.csrf().unwrap_or_else(|| panic!("no form on {path}: {} {}", p.status, p.body))
}

/// Creates an open course and returns its id.
async fn new_course(ed: &mut Visitor, code: &str, title: &str) -> String {
    let t = token(ed, "/admin/courses/new").await;
    let made = ed
        .post(
            "/admin/courses/new",
            &[("csrf_token", &t), ("kind", "course"), ("title", title), ("code", code), ("enrolment", "open")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    made.location.unwrap().trim_start_matches("/admin/courses/").to_owned()
}

async fn upload(ed: &mut Visitor, course: &str, name: &str, zip: &[u8]) -> trellis_testkit::Page {
    let form = format!("/admin/courses/{course}/package");
    let t = token(ed, &form).await;
    ed.post_multipart(&form, &[("csrf_token", &t)], ("file", name, "application/zip", zip)).await
}

async fn publish(ed: &mut Visitor, course: &str) {
    let t = token(ed, &format!("/admin/courses/{course}")).await;
    assert_eq!(ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await.status, 303);
}

/// The learner's launch of a session: (play page path, the frame's source).
async fn launch(v: &mut Visitor, course: &str, session: &str) -> (String, String) {
    let t = token(v, &format!("/learn/{course}/{session}")).await;
    let go = v.post(&format!("/learn/{course}/{session}/launch"), &[("csrf_token", &t)]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let play = go.location.unwrap();
    let page = v.get(&play).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let src =
        between(&page.body, "<iframe class=\"trellis-player\" src=\"", "\"").expect("a frame").replace("&amp;", "&");
    (play, src)
}

fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("absolute");
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

fn sessions_of(body: &str, course: &str) -> Vec<String> {
    let prefix = format!("/learn/{course}/");
    let mut out: Vec<String> = body
        .match_indices(&prefix)
        .filter_map(|(i, _)| {
            let id: String = body[i + prefix.len()..].chars().take(36).collect();
            (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(id)
        })
        .collect();
    out.dedup();
    let mut seen = std::collections::HashSet::new();
    out.retain(|x| seen.insert(x.clone()));
    out
}

fn hostile_zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

async fn commit_as(content: &mut Visitor, run_token: &str, launch: u32, seq: u64, last: bool, values: Value) -> Value {
    let body = json!({ "launch": launch, "seq": seq, "final": last, "values": values });
    let p = content
        .send(
            "POST",
            &format!("/run/{run_token}/commit"),
            &[("content-type", "text/plain;charset=UTF-8")],
            body.to_string().into_bytes(),
        )
        .await;
    serde_json::from_str(&p.body).unwrap_or_else(|_| json!({ "status": p.status, "body": p.body }))
}

async fn commit(content: &mut Visitor, run_token: &str, launch: u32, seq: u64, values: Value) -> Value {
    commit_as(content, run_token, launch, seq, false, values).await
}

#[tokio::test]
async fn scorm_packages_are_checked_hosted_launched_and_tracked_in_one_record() {
    let app = spawn_app().await;
    let mut ed = signed_in(&app, "northmoor", "ed@northmoor.example", &[Role::ContentEditor]).await;
    let mut boss = signed_in(&app, "northmoor", "boss@northmoor.example", &[Role::TrainingManager]).await;
    let mut ann = signed_in(&app, "northmoor", "ann@northmoor.example", &[Role::Learner]).await;
    let mut rex = signed_in(&app, "riverside", "rex@riverside.example", &[Role::TrainingManager]).await;
    let course = new_course(&mut ed, "NM-HH", "Hand hygiene").await;

    // Hostile and broken packages are refused, naming the file, and nothing is added.
    let slip = hostile_zip(&[("imsmanifest.xml", b"<manifest/>"), ("../../etc/passwd", b"x")]);
    let refused = upload(&mut ed, &course, "slip.zip", &slip).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("../../etc/passwd") && refused.body.contains("climbs out"), "{}", refused.body);
    let broken = hostile_zip(&[("imsmanifest.xml", b"<manifest><organizations>"), ("index.html", b"x")]);
    let refused = upload(&mut ed, &course, "broken.zip", &broken).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("imsmanifest.xml"), "{}", refused.body);
    let refused = upload(&mut ed, &course, "not-a-zip.zip", b"PK\x03\x04 not really").await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("not a readable zip"), "{}", refused.body);
    assert!(!ed.get(&format!("/admin/courses/{course}")).await.body.contains("e-learning package: completed"));

    // A good one: its SCO becomes a session of the draft.
    let ok = upload(&mut ed, &course, "hand-hygiene.zip", &test_package("scorm12-hand-hygiene")).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let editing = ed.get(&format!("/admin/courses/{course}")).await;
    assert!(editing.body.contains("Hand hygiene: the five moments"), "{}", editing.body);
    assert!(ed.get(&format!("/admin/courses/{course}/package")).await.body.contains("scorm12"));
    // Another trust cannot upload to it, nor see its attempts.
    let t = token(&mut rex, "/profile").await;
    let theirs = rex
        .post_multipart(
            &format!("/admin/courses/{course}/package"),
            &[("csrf_token", &t)],
            ("file", "x.zip", "application/zip", &test_package("scorm12-hand-hygiene")),
        )
        .await;
    assert_eq!(theirs.status, 404);
    publish(&mut ed, &course).await;

    // The learner enrols and launches: the frame is the content origin's runtime, with a token.
    let t = token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let page = ann.get(&format!("/courses/{course}")).await;
    let session = sessions_of(&ann.get(&format!("/learn/{course}")).await.location.unwrap_or_default(), &course)
        .into_iter()
        .next()
        .or_else(|| sessions_of(&page.body, &course).into_iter().next())
        .expect("a session");
    let (play, src) = launch(&mut ann, &course, &session).await;
    let origin = format!("http://127.0.0.1:{}", app.addr.port());
    assert!(src.starts_with(&format!("{origin}/run/")), "{src}");
    let run_token = src.rsplit('/').next().unwrap().to_owned();
    let played = ann.get(&play).await;
    let csp = played.headers.get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("frame-src {origin}")), "{csp}");

    // The content origin: the runtime page carries the learner's record and the SCO's address;
    // the package's files come with their types; framing only by the trust.
    let mut content = app.content();
    let runtime = content.get(&format!("/run/{run_token}")).await;
    assert_eq!(runtime.status, 200, "{}", runtime.body);
    let data: Value =
        serde_json::from_str(between(&runtime.body, "type=\"application/json\">", "</script>").unwrap()).unwrap();
    assert_eq!(data["standard"], "scorm12");
    assert_eq!(data["cmi"]["core"]["entry"], "ab-initio");
    assert_eq!(data["cmi"]["student_data"]["mastery_score"], "80");
    assert_eq!(data["cmi"]["launch_data"], "ward=7");
    let sco = data["sco_url"].as_str().unwrap();
    assert!(sco.ends_with("/index.html?from=lms"), "{sco}");
    let fa = runtime.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(fa.contains("frame-ancestors 'self' http://northmoor."), "{fa}");
    let html = content.get(&path_of(sco)).await;
    assert_eq!(html.status, 200);
    assert!(html.headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/html"));
    let js = content.get(&format!("/content/{run_token}/course.js")).await;
    assert!(js.headers.get("content-type").unwrap().to_str().unwrap().contains("javascript"));
    assert_eq!(content.get(&format!("/content/{run_token}/nothing-here.js")).await.status, 404);
    assert_eq!(content.get(&format!("/content/{run_token}/../imsmanifest.xml")).await.status, 404);
    // A token that is not the server's (or changed by one character) opens nothing.
    let mut forged = run_token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(content.get(&format!("/run/{forged}")).await.status, 404);
    assert_eq!(content.get(&format!("/content/{forged}/index.html")).await.status, 404);
    // The portal's session cookie is not the content origin's business: with it and no token,
    // nothing; the trust's pages are not served on the content origin.
    let mut with_cookie = ann.with_cookies_on(&format!("127.0.0.1:{}", app.addr.port()));
    assert_eq!(with_cookie.get("/learning").await.status, 404);
    assert_eq!(with_cookie.get("/profile").await.status, 404);

    // Commits: progress, a suspend, out of order and repeated; nothing goes backwards.
    let r = commit(
        &mut content,
        &run_token,
        1,
        1,
        json!({
            "cmi.core.lesson_status": "incomplete", "cmi.core.lesson_location": "2",
            "cmi.suspend_data": "{\"answers\":{}}", "cmi.core.session_time": "0000:01:30", "cmi.core.exit": "suspend",
        }),
    )
    .await;
    assert_eq!(r["result"], true, "{r}");
    let r = commit_as(
        &mut content,
        &run_token,
        1,
        3,
        true,
        json!({
            "cmi.core.lesson_status": "passed", "cmi.core.lesson_location": "4",
            "cmi.core.score.raw": "100", "cmi.core.score.min": "0", "cmi.core.score.max": "100",
            "cmi.interactions.0.id": "q1-moments", "cmi.interactions.0.type": "choice",
            "cmi.interactions.0.student_response": "five", "cmi.interactions.0.result": "correct",
            "cmi.core.session_time": "0000:03:00", "cmi.core.exit": "",
        }),
    )
    .await;
    assert_eq!(r["result"], true, "{r}");
    // A late commit from earlier in the launch does not undo the pass.
    let r = commit(
        &mut content,
        &run_token,
        1,
        2,
        json!({ "cmi.core.lesson_status": "incomplete", "cmi.core.session_time": "0000:02:00" }),
    )
    .await;
    assert_eq!(r["result"], true, "{r}");
    // A bad value is refused, and changes nothing.
    let r = commit(&mut content, &run_token, 1, 4, json!({ "cmi.core.score.raw": "lots" })).await;
    assert_eq!(r["result"], false, "{r}");
    // Another launch's number is refused.
    let r = commit(&mut content, &run_token, 9, 5, json!({ "cmi.core.lesson_status": "failed" })).await;
    assert_eq!(r["result"], false, "{r}");

    // The learning record: the session passed with its score and time; the course is complete.
    let session_page = ann.get(&format!("/learn/{course}/{session}")).await;
    assert!(session_page.body.contains("completed, passed"), "{}", session_page.body);
    assert!(session_page.body.contains("100%"), "{}", session_page.body);
    let mine = ann.get("/learning").await;
    assert!(
        between(&mine.body, "Completed", "</section>").is_some_and(|s| s.contains("Hand hygiene"))
            || mine.body.contains("Hand hygiene"),
        "{}",
        mine.body
    );

    // The manager's trace: every commit as sent, with what was done with it; and the statements
    // mirrored into the LRS (the learner as an opaque account, never an email address).
    let list = boss.get(&format!("/admin/courses/{course}/attempts")).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let attempt = between(&list.body, "/admin/attempts/", "\"").unwrap().to_owned();
    let trace = boss.get(&format!("/admin/attempts/{attempt}")).await;
    assert_eq!(trace.status, 200);
    assert!(trace.body.contains("0000:01:30") && trace.body.contains("refused: cmi.core.score.raw"), "{}", trace.body);
    assert!(trace.body.contains("another launch"), "{}", trace.body);
    for verb in ["initialized", "answered", "passed", "completed"] {
        assert!(trace.body.contains(&format!("<td>{verb}</td>")), "{verb} missing: {}", trace.body);
    }
    assert!(!trace.body.contains("ann@northmoor.example"));
    // Riverside's manager sees none of it.
    assert_eq!(rex.get(&format!("/admin/attempts/{attempt}")).await.status, 404);
    assert_eq!(rex.get(&format!("/admin/courses/{course}/attempts")).await.status, 404);

    // A second launch resumes (the SCO exited normally after passing, so a new attempt starts by rule;
    // the pass is kept on the record).
    let (_, src2) = launch(&mut ann, &course, &session).await;
    let run2 = src2.rsplit('/').next().unwrap().to_owned();
    let runtime2 = content.get(&format!("/run/{run2}")).await;
    let data2: Value =
        serde_json::from_str(between(&runtime2.body, "type=\"application/json\">", "</script>").unwrap()).unwrap();
    assert_eq!(data2["cmi"]["core"]["entry"], "ab-initio", "{data2}");
    // The first launch's token still reads only its own attempt, and cannot report on the new one.
    let r = commit(&mut content, &run_token, 2, 1, json!({ "cmi.core.lesson_status": "failed" })).await;
    assert_eq!(r["result"], false, "{r}");
    let again = ann.get(&format!("/learn/{course}/{session}")).await;
    assert!(again.body.contains("Session completed"), "{}", again.body);
}
