//! Packaged e-learning end to end over HTTP: an editor uploads SCORM and cmi5 packages (a hostile
//! or broken one is refused, naming the file), a learner launches them from the trust's site,
//! the content origin serves the runtime and the files under a launch token, commits and
//! statements build the attempt's record and the learning record, and everything is one trust's
//! alone. (The same packages are driven in Chromium by tests/browser/elearning.mjs.)

use serde_json::{Value, json};
use std::io::Write;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app, test_package};

fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = body.find(start)? + start.len();
    body[at..].split(end).next()
}

pub(crate) async fn token(v: &mut Visitor, path: &str) -> String {
    let p = v.get(path).await;
    p.csrf().unwrap_or_else(|| panic!("no form on {path}: {} {}", p.status, p.body))
}

/// Creates an open course and returns its id.
pub(crate) async fn new_course(ed: &mut Visitor, code: &str, title: &str) -> String {
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

pub(crate) async fn upload(ed: &mut Visitor, course: &str, name: &str, zip: &[u8]) -> trellis_testkit::Page {
    let form = format!("/admin/courses/{course}/package");
    let t = token(ed, &form).await;
    ed.post_multipart(&form, &[("csrf_token", &t)], ("file", name, "application/zip", zip)).await
}

pub(crate) async fn publish(ed: &mut Visitor, course: &str) {
    let t = token(ed, &format!("/admin/courses/{course}")).await;
    assert_eq!(ed.post(&format!("/admin/courses/{course}/publish"), &[("csrf_token", &t)]).await.status, 303);
}

/// The learner's launch of a session: (play page path, the frame's source).
pub(crate) async fn launch(v: &mut Visitor, course: &str, session: &str) -> (String, String) {
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

pub(crate) fn sessions_of(body: &str, course: &str) -> Vec<String> {
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

pub(crate) async fn commit_as(
    content: &mut Visitor,
    run_token: &str,
    launch: u32,
    seq: u64,
    last: bool,
    values: Value,
) -> Value {
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
    let mut ed = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await.0;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
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

    // Many commits at once, out of order (as a busy server receives them, applied in groups): all
    // acknowledged, none lost, and the newest decides.
    let mut order: Vec<u64> = (1..=40).collect();
    order.reverse();
    order.swap(3, 17);
    let sends = order.into_iter().map(|seq| {
        let mut c = app.content();
        let t = run2.clone();
        async move {
            commit(&mut c, &t, 1, seq, json!({ "cmi.core.lesson_location": format!("p{seq}"), "cmi.core.session_time": format!("0000:00:{:02}", seq), "cmi.core.exit": "suspend" })).await
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|r| r["result"] == true), "{answers:?}");
    let resumed = content.get(&format!("/run/{run2}")).await;
    let data3: Value =
        serde_json::from_str(between(&resumed.body, "type=\"application/json\">", "</script>").unwrap()).unwrap();
    assert_eq!(data3["cmi"]["core"]["lesson_location"], "p40", "{data3}");
    assert_eq!(data3["cmi"]["core"]["entry"], "resume");
    let attempt2 =
        between(&boss.get(&format!("/admin/courses/{course}/attempts")).await.body, "/admin/attempts/", "\"")
            .unwrap()
            .to_owned();
    let trace2 = boss.get(&format!("/admin/attempts/{attempt2}")).await;
    assert_eq!(trace2.body.matches("<strong>Launch 1, commit ").count(), 40, "every commit kept");
}

/// Issues an LRS credential on the trust's admin page; returns (key, secret).
async fn credential(boss: &mut Visitor, name: &str, scope: &str, version: &str) -> (String, String) {
    let t = token(boss, "/admin/lrs").await;
    let page =
        boss.post("/admin/lrs", &[("csrf_token", &t), ("name", name), ("scope", scope), ("version", version)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let key = between(&page.body, "<code id=\"issued-key\">", "<").unwrap().to_owned();
    let secret = between(&page.body, "<code id=\"issued-secret\">", "<").unwrap().to_owned();
    (key, secret)
}

fn basic(key: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")))
}

/// An xAPI request to the trust's LRS.
async fn xapi(v: &mut Visitor, method: &str, path: &str, auth: &str, body: Option<Value>) -> trellis_testkit::Page {
    let mut h = vec![("authorization", auth), ("x-experience-api-version", "1.0.3")];
    if body.is_some() {
        h.push(("content-type", "application/json"));
    }
    v.send(method, &format!("/xapi{path}"), &h, body.map(|b| b.to_string().into_bytes()).unwrap_or_default()).await
}

fn q(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

#[tokio::test]
async fn each_trusts_lrs_keeps_its_statements_and_documents_to_itself() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    // Only administrators issue credentials.
    assert_eq!(ann.get("/admin/lrs").await.status, 403);
    let (nk, ns) = credential(&mut boss, "Northmoor reporting", "all", "1.0.3").await;
    let (rk, rs) = credential(&mut rex, "Riverside reporting", "all", "1.0.3").await;
    let (ok_, os) = credential(&mut boss, "Read only", "read", "1.0.3").await;
    let (n, r, ro) = (basic(&nk, &ns), basic(&rk, &rs), basic(&ok_, &os));
    let mut nlrs = app.visitor("northmoor");
    let mut rlrs = app.visitor("riverside");

    let id = "6f8c3a9e-2b1d-4c5e-8f7a-1b2c3d4e5f60";
    let s = json!({
        "id": id,
        "actor": { "mbox": "mailto:learner@northmoor.example" },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/completed" },
        "object": { "id": "https://northmoor.example/activities/induction" },
    });
    assert_eq!(xapi(&mut nlrs, "PUT", &format!("/statements?statementId={id}"), &n, Some(s.clone())).await.status, 204);
    let doc = format!(
        "/activities/state?{}",
        q(&[
            ("activityId", "https://northmoor.example/activities/induction"),
            ("agent", "{\"mbox\":\"mailto:learner@northmoor.example\"}"),
            ("stateId", "bookmark")
        ])
    );
    assert_eq!(xapi(&mut nlrs, "PUT", &doc, &n, Some(json!({ "page": 3 }))).await.status, 204);
    // Northmoor reads them back.
    let got = xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &n, None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert!(got.headers.contains_key("x-experience-api-consistent-through"));
    assert_eq!(xapi(&mut nlrs, "GET", &doc, &n, None).await.status, 200);
    // Riverside's credential opens nothing of Northmoor's, on either host.
    assert_eq!(xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &r, None).await.status, 401);
    assert_eq!(xapi(&mut rlrs, "GET", &format!("/statements?statementId={id}"), &r, None).await.status, 404);
    let all = xapi(&mut rlrs, "GET", "/statements", &r, None).await;
    assert!(!all.body.contains(id), "{}", all.body);
    assert_eq!(xapi(&mut rlrs, "GET", &doc, &r, None).await.status, 404);
    // The same id in Riverside is Riverside's own statement; Northmoor's is unchanged.
    let mut other = s.clone();
    other["verb"]["id"] = json!("http://adlnet.gov/expapi/verbs/failed");
    assert_eq!(
        xapi(&mut rlrs, "PUT", &format!("/statements?statementId={id}"), &r, Some(other.clone())).await.status,
        204
    );
    let still = xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &n, None).await;
    assert!(still.body.contains("verbs/completed"), "{}", still.body);
    // And within a trust a stored statement cannot be changed.
    assert_eq!(xapi(&mut nlrs, "PUT", &format!("/statements?statementId={id}"), &n, Some(other)).await.status, 409);
    // A read-only credential reads, and may not write.
    assert_eq!(xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &ro, None).await.status, 200);
    assert_eq!(xapi(&mut nlrs, "POST", "/statements", &ro, Some(json!([s]))).await.status, 403);
    // A bad statement is refused with the property at fault, and nothing of the batch is kept.
    let batch = json!([
        { "actor": { "mbox": "mailto:a@northmoor.example" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/attempted" }, "object": { "id": "https://northmoor.example/a" }, "id": "0d5fa3b2-9c41-4f7e-8a2b-6c1d2e3f4a5b" },
        { "actor": { "mbox": "mailto:a@northmoor.example" }, "verb": { "id": "not an iri" }, "object": { "id": "https://northmoor.example/a" } },
    ]);
    let refused = xapi(&mut nlrs, "POST", "/statements", &n, Some(batch)).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("verb.id"), "{}", refused.body);
    assert!(refused.headers.get("content-type").unwrap().to_str().unwrap().contains("problem+json"));
    assert_eq!(
        xapi(&mut nlrs, "GET", "/statements?statementId=0d5fa3b2-9c41-4f7e-8a2b-6c1d2e3f4a5b", &n, None).await.status,
        404
    );
    // A revoked credential is refused at once on the server that revoked it.
    let page = boss.get("/admin/lrs").await;
    let revoke = between(&page.body, "action=\"/admin/lrs/", "/revoke").unwrap().to_owned();
    let t = page.csrf().unwrap();
    // The list is newest first: the first revoke form is the read-only credential's.
    assert_eq!(boss.post(&format!("/admin/lrs/{revoke}/revoke"), &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &ro, None).await.status, 401);
    assert_eq!(xapi(&mut nlrs, "GET", &format!("/statements?statementId={id}"), &n, None).await.status, 200);
    // No credential, no data; /about is open.
    assert_eq!(xapi(&mut nlrs, "GET", "/statements", "", None).await.status, 401);
    assert_eq!(nlrs.get("/xapi/about").await.status, 200);
}

/// A cmi5 statement in the launch's context.
fn cmi5_statement(
    p: &std::collections::HashMap<String, String>,
    session: &str,
    verb: &str,
    result: Option<Value>,
    moveon: bool,
) -> Value {
    let mut cats = vec![json!({ "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5" })];
    if moveon {
        cats.push(json!({ "id": "https://w3id.org/xapi/cmi5/context/categories/moveon" }));
    }
    let mut s = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "actor": serde_json::from_str::<Value>(&p["actor"]).unwrap(),
        "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
        "object": { "id": p["activityId"], "objectType": "Activity" },
        "context": {
            "registration": p["registration"],
            "contextActivities": { "category": cats, "grouping": [{ "id": p["au"] }] },
            "extensions": { "https://w3id.org/xapi/cmi5/context/extensions/sessionid": session },
        },
    });
    if let Some(r) = result {
        s["result"] = r;
    }
    s
}

/// Launches a cmi5 AU; returns its launch parameters, the session id and the AU's LRS token.
async fn cmi5_launch(
    app: &TestApp,
    ann: &mut Visitor,
    course: &str,
    session: &str,
) -> (std::collections::HashMap<String, String>, String, String) {
    let (_, src) = launch(ann, course, session).await;
    let u = url::Url::parse(&src).unwrap();
    assert!(u.path().starts_with("/content/"), "{src}");
    let mut p: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
    for k in ["endpoint", "fetch", "actor", "registration", "activityId"] {
        assert!(p.contains_key(k), "{k} missing from {src}");
    }
    assert!(!p["actor"].contains('@'), "the actor is an opaque account: {}", p["actor"]);
    let mut content = app.content();
    let fetch = path_of(&p["fetch"]);
    let got = content.send("POST", &fetch, &[], vec![]).await;
    let token = serde_json::from_str::<Value>(&got.body).unwrap()["auth-token"].as_str().expect("a token").to_owned();
    // The fetch URL works once.
    let again = content.send("POST", &fetch, &[], vec![]).await;
    assert_eq!(serde_json::from_str::<Value>(&again.body).unwrap()["error-code"], "1");
    let mut lrs = app.visitor("northmoor");
    let auth = format!("Basic {token}");
    let launch_data = format!(
        "/activities/state?{}",
        q(&[
            ("activityId", &p["activityId"]),
            ("agent", &p["actor"]),
            ("registration", &p["registration"]),
            ("stateId", "LMS.LaunchData")
        ])
    );
    let data = xapi(&mut lrs, "GET", &launch_data, &auth, None).await;
    assert_eq!(data.status, 200, "{}", data.body);
    let data: Value = serde_json::from_str(&data.body).unwrap();
    let sid = data["contextTemplate"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(data["launchMode"], "Normal");
    p.insert(
        "au".into(),
        data["contextTemplate"]["contextActivities"]["grouping"][0]["id"].as_str().expect("the AU's grouping").into(),
    );
    // The AU may not change the LMS's launch data.
    assert_eq!(xapi(&mut lrs, "PUT", &launch_data, &auth, Some(json!({}))).await.status, 403);
    (p, sid, auth)
}

#[tokio::test]
async fn cmi5_courses_launch_by_fetch_url_and_their_statements_are_held_to_the_rules() {
    let app = spawn_app().await;
    let mut ed = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await.0;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let course = new_course(&mut ed, "NM-CR", "Conflict resolution").await;
    let up = upload(&mut ed, &course, "conflict.zip", &test_package("cmi5-conflict-resolution")).await;
    assert_eq!(up.status, 303, "{}", up.body);
    publish(&mut ed, &course).await;
    let t = token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let page = ann.get(&format!("/courses/{course}")).await;
    let sessions = sessions_of(&page.body, &course);
    assert_eq!(sessions.len(), 2, "two AUs, two sessions: {}", page.body);
    let mut lrs = app.visitor("northmoor");

    // The reading AU (moveOn Completed).
    let (p, sid, auth) = cmi5_launch(&app, &mut ann, &course, &sessions[0]).await;
    let st = |verb: &str, result: Option<Value>, moveon: bool| cmi5_statement(&p, &sid, verb, result, moveon);
    // Nothing before initialized; initialized only after reading the learner's preferences.
    let early = xapi(
        &mut lrs,
        "POST",
        "/statements",
        &auth,
        Some(json!([st("completed", Some(json!({ "completion": true, "duration": "PT1S" })), true)])),
    )
    .await;
    assert_eq!(early.status, 403, "{}", early.body);
    assert_eq!(
        xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([st("initialized", None, false)]))).await.status,
        403
    );
    let prefs = format!("/agents/profile?{}", q(&[("agent", &p["actor"]), ("profileId", "cmi5LearnerPreferences")]));
    assert_eq!(xapi(&mut lrs, "GET", &prefs, &auth, None).await.status, 404);
    assert_eq!(
        xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([st("initialized", None, false)]))).await.status,
        200
    );
    assert_eq!(
        xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([st("initialized", None, false)]))).await.status,
        403
    );
    // The rules of results: completed needs its duration and the moveOn category.
    let no_duration = st("completed", Some(json!({ "completion": true })), true);
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([no_duration]))).await.status, 403);
    let no_moveon = st("completed", Some(json!({ "completion": true, "duration": "PT5S" })), false);
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([no_moveon]))).await.status, 403);
    // Another actor: refused.
    let mut stranger = st("completed", Some(json!({ "completion": true, "duration": "PT5S" })), true);
    stranger["actor"] = json!({ "account": { "homePage": "https://elsewhere.example", "name": "x" } });
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([stranger]))).await.status, 403);
    let done = st("completed", Some(json!({ "completion": true, "duration": "PT5S" })), true);
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([done]))).await.status, 200);
    // Once per registration.
    let again = st("completed", Some(json!({ "completion": true, "duration": "PT6S" })), true);
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([again]))).await.status, 403);
    assert_eq!(
        xapi(
            &mut lrs,
            "POST",
            "/statements",
            &auth,
            Some(json!([st("terminated", Some(json!({ "duration": "PT7S" })), false)]))
        )
        .await
        .status,
        200
    );
    // After terminated the session's token is spent.
    assert_eq!(
        xapi(
            &mut lrs,
            "POST",
            "/statements",
            &auth,
            Some(json!([st("terminated", Some(json!({ "duration": "PT8S" })), false)]))
        )
        .await
        .status,
        401
    );
    let reading = ann.get(&format!("/learn/{course}/{}", sessions[0])).await;
    assert!(reading.body.contains("Session completed"), "{}", reading.body);

    // The quiz AU (moveOn CompletedAndPassed, mastery 0.5): a pass must meet the mastery score.
    let (p, sid, auth) = cmi5_launch(&app, &mut ann, &course, &sessions[1]).await;
    let st = |verb: &str, result: Option<Value>, moveon: bool| cmi5_statement(&p, &sid, verb, result, moveon);
    let prefs = format!("/agents/profile?{}", q(&[("agent", &p["actor"]), ("profileId", "cmi5LearnerPreferences")]));
    xapi(&mut lrs, "GET", &prefs, &auth, None).await;
    assert_eq!(
        xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([st("initialized", None, false)]))).await.status,
        200
    );
    let mastery = |mut s: Value| {
        s["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] = json!(0.5);
        s
    };
    let low =
        mastery(st("passed", Some(json!({ "success": true, "duration": "PT9S", "score": { "scaled": 0.25 } })), true));
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([low]))).await.status, 403);
    let pass = mastery(st(
        "passed",
        Some(json!({ "success": true, "duration": "PT9S", "score": { "scaled": 1.0, "raw": 2, "min": 0, "max": 2 } })),
        true,
    ));
    let complete = st("completed", Some(json!({ "completion": true, "duration": "PT9S" })), true);
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &auth, Some(json!([pass, complete]))).await.status, 200);
    assert_eq!(
        xapi(
            &mut lrs,
            "POST",
            "/statements",
            &auth,
            Some(json!([st("terminated", Some(json!({ "duration": "PT10S" })), false)]))
        )
        .await
        .status,
        200
    );

    // Both AUs satisfied: the block and the course are, and so the course is complete here.
    let mine = ann.get("/learning").await;
    assert!(mine.body.contains("Conflict resolution"), "{}", mine.body);
    let quiz = ann.get(&format!("/learn/{course}/{}", sessions[1])).await;
    assert!(quiz.body.contains("completed, passed") && quiz.body.contains("100%"), "{}", quiz.body);
    let (k, s) = credential(&mut boss, "Reports", "read", "1.0.3").await;
    let reader = basic(&k, &s);
    let satisfied = xapi(
        &mut lrs,
        "GET",
        &format!(
            "/statements?{}",
            q(&[("registration", &p["registration"]), ("verb", "https://w3id.org/xapi/adl/verbs/satisfied")])
        ),
        &reader,
        None,
    )
    .await;
    let found: Value = serde_json::from_str(&satisfied.body).unwrap();
    let types: Vec<&str> = found["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.pointer("/object/definition/type").and_then(Value::as_str))
        .collect();
    assert!(
        types.contains(&"https://w3id.org/xapi/cmi5/activitytype/block")
            && types.contains(&"https://w3id.org/xapi/cmi5/activitytype/course"),
        "{types:?}"
    );
    let launched = xapi(
        &mut lrs,
        "GET",
        &format!(
            "/statements?{}",
            q(&[("registration", &p["registration"]), ("verb", "http://adlnet.gov/expapi/verbs/launched")])
        ),
        &reader,
        None,
    )
    .await;
    assert_eq!(serde_json::from_str::<Value>(&launched.body).unwrap()["statements"].as_array().unwrap().len(), 2);

    // A manager waives the quiz AU for another learner (who launched it, then stopped): the LMS
    // says so in the LRS, and the AU counts as satisfied.
    let mut bea = app.person("northmoor", "bea@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let t = token(&mut bea, &format!("/courses/{course}")).await;
    assert_eq!(bea.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let (bp, _, _) = cmi5_launch(&app, &mut bea, &course, &sessions[1]).await;
    let list = boss.get(&format!("/admin/courses/{course}/attempts")).await;
    let attempt = between(&list.body, "/admin/attempts/", "\"").unwrap().to_owned();
    let trace = boss.get(&format!("/admin/attempts/{attempt}")).await;
    assert!(trace.body.contains("Waive this AU"), "{}", trace.body);
    let t = trace.csrf().unwrap();
    let t2 = token(&mut rex, "/profile").await;
    assert_eq!(
        rex.post(&format!("/admin/attempts/{attempt}/waive"), &[("csrf_token", &t2), ("reason", "Tested Out")])
            .await
            .status,
        404
    );
    let bad =
        boss.post(&format!("/admin/attempts/{attempt}/waive"), &[("csrf_token", &t), ("reason", "Because")]).await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        boss.post(&format!("/admin/attempts/{attempt}/waive"), &[("csrf_token", &t), ("reason", "Tested Out")])
            .await
            .status,
        303
    );
    let waived = bea.get(&format!("/learn/{course}/{}", sessions[1])).await;
    assert!(waived.body.contains("Session completed"), "{}", waived.body);
    let w = xapi(
        &mut lrs,
        "GET",
        &format!(
            "/statements?{}",
            q(&[("registration", &bp["registration"]), ("verb", "https://w3id.org/xapi/adl/verbs/waived")])
        ),
        &reader,
        None,
    )
    .await;
    let w: Value = serde_json::from_str(&w.body).unwrap();
    assert_eq!(
        w["statements"][0]["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/reason"], "Tested Out",
        "{w}"
    );

    // Riverside: neither its credentials nor its host know any of this.
    let (rk, rs) = credential(&mut rex, "Riverside", "read", "1.0.3").await;
    let mut rlrs = app.visitor("riverside");
    let theirs = xapi(
        &mut rlrs,
        "GET",
        &format!("/statements?{}", q(&[("registration", &p["registration"])])),
        &basic(&rk, &rs),
        None,
    )
    .await;
    assert_eq!(serde_json::from_str::<Value>(&theirs.body).unwrap()["statements"], json!([]));
    assert_eq!(xapi(&mut rlrs, "GET", "/statements", &auth, None).await.status, 401);
}

/// A cmi5 AU's token reads its own learner's statements in its own registration, and nothing
/// else in the trust's LRS, whether asked by id or by query.
#[tokio::test]
async fn a_cmi5_au_reads_only_its_own_learners_statements() {
    let app = spawn_app().await;
    let mut ed = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await.0;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let mut bea = app.person("northmoor", "bea@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let course = new_course(&mut ed, "NM-CR2", "Conflict resolution").await;
    assert_eq!(upload(&mut ed, &course, "c.zip", &test_package("cmi5-conflict-resolution")).await.status, 303);
    publish(&mut ed, &course).await;
    for v in [&mut ann, &mut bea] {
        let t = token(v, &format!("/courses/{course}")).await;
        assert_eq!(v.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    }
    let sessions = sessions_of(&ann.get(&format!("/courses/{course}")).await.body, &course);
    let (ap, _, ann_au) = cmi5_launch(&app, &mut ann, &course, &sessions[0]).await;
    let (bp, _, _) = cmi5_launch(&app, &mut bea, &course, &sessions[0]).await;
    let mut lrs = app.visitor("northmoor");
    let (k, s) = credential(&mut boss, "Reports", "all", "1.0.3").await;
    let client = basic(&k, &s);
    // A statement some other tool stored, with a registration of its own.
    let other_id = uuid::Uuid::new_v4().to_string();
    let other = json!({
        "id": other_id,
        "actor": { "account": { "homePage": "https://tool.example", "name": "someone" } },
        "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced" },
        "object": { "id": "https://tool.example/a" },
        "context": { "registration": uuid::Uuid::new_v4().to_string() },
    });
    assert_eq!(xapi(&mut lrs, "POST", "/statements", &client, Some(json!([other]))).await.status, 200);
    let launched_id = |reg: &str| {
        let reg = reg.to_owned();
        let mut lrs = app.visitor("northmoor");
        let client = client.clone();
        async move {
            let found = xapi(
                &mut lrs,
                "GET",
                &format!(
                    "/statements?{}",
                    q(&[("registration", &reg), ("verb", "http://adlnet.gov/expapi/verbs/launched")])
                ),
                &client,
                None,
            )
            .await;
            serde_json::from_str::<Value>(&found.body).unwrap()["statements"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let anns = launched_id(&ap["registration"]).await;
    let beas = launched_id(&bp["registration"]).await;
    // By id: Ann's own, yes; Bea's and the other tool's, as if they did not exist.
    let get = |id: &str| format!("/statements?{}", q(&[("statementId", id)]));
    assert_eq!(xapi(&mut lrs, "GET", &get(&anns), &ann_au, None).await.status, 200);
    for id in [&beas, &other_id] {
        let r = xapi(&mut lrs, "GET", &get(id), &ann_au, None).await;
        assert_eq!(r.status, 404, "{id}: {}", r.body);
    }
    // By query: another registration, or another agent, finds nothing of theirs.
    let theirs =
        xapi(&mut lrs, "GET", &format!("/statements?{}", q(&[("registration", &bp["registration"])])), &ann_au, None)
            .await;
    let found: Value = serde_json::from_str(&theirs.body).unwrap();
    assert!(found["statements"].as_array().unwrap().iter().all(|s| s["id"] != beas.as_str()), "{found}");
    let by_agent =
        xapi(&mut lrs, "GET", &format!("/statements?{}", q(&[("agent", &bp["actor"])])), &ann_au, None).await;
    assert_eq!(serde_json::from_str::<Value>(&by_agent.body).unwrap()["statements"], json!([]), "{}", by_agent.body);
    let all = xapi(&mut lrs, "GET", "/statements", &ann_au, None).await;
    let all: Value = serde_json::from_str(&all.body).unwrap();
    assert!(
        all["statements"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["context"]["registration"] == ap["registration"].as_str()),
        "{all}"
    );
}

/// The State resource's concurrency rule follows the request's version: under 1.0.3 a PUT without
/// If-Match or If-None-Match replaces the document (cmi5 libraries bookmark so); under 2.0.0 it is
/// refused (409). One credential speaks both; a request without a version is a 400 naming the
/// credential's own version.
#[tokio::test]
async fn state_document_concurrency_follows_the_requests_version() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let (k, s) = credential(&mut boss, "Tool", "all", "2.0.0").await;
    let auth = basic(&k, &s);
    let mut lrs = app.visitor("northmoor");
    let doc = format!(
        "/xapi/activities/state?{}",
        q(&[
            ("activityId", "https://northmoor.example/activities/x"),
            ("agent", "{\"mbox\":\"mailto:a@northmoor.example\"}"),
            ("stateId", "bookmark")
        ])
    );
    let put = |version: &'static str, body: &'static str| {
        let mut h = vec![("authorization", auth.as_str()), ("content-type", "application/json")];
        if !version.is_empty() {
            h.push(("x-experience-api-version", version));
        }
        (h, body.as_bytes().to_vec())
    };
    let (h, b) = put("1.0.3", "{\"page\":1}");
    assert_eq!(lrs.send("PUT", &doc, &h, b).await.status, 204);
    let (h, b) = put("1.0.3", "{\"page\":2}");
    assert_eq!(lrs.send("PUT", &doc, &h, b).await.status, 204, "1.0.3: a plain PUT replaces");
    let (h, b) = put("2.0.0", "{\"page\":3}");
    assert_eq!(lrs.send("PUT", &doc, &h, b).await.status, 409, "2.0.0: the document exists");
    let read =
        lrs.send("GET", &doc, &[("authorization", auth.as_str()), ("x-experience-api-version", "1.0.3")], vec![]).await;
    assert_eq!(read.body, "{\"page\":2}");
    let (h, b) = put("", "{\"page\":4}");
    let none = lrs.send("PUT", &doc, &h, b).await;
    assert_eq!(none.status, 400);
    assert_eq!(none.headers.get("x-experience-api-version").unwrap().to_str().unwrap(), "2.0.0");
    // Doubled slashes, as libraries joining an endpoint that ends in "/" send them.
    let doubled = doc.replace("/xapi/activities", "/xapi//activities");
    let got = lrs
        .send("GET", &doubled, &[("authorization", auth.as_str()), ("x-experience-api-version", "1.0.3")], vec![])
        .await;
    assert_eq!((got.status, got.body.as_str()), (200, "{\"page\":2}"));
}

/// An OwnWindow AU's session page lets its launch form lead to the content origin (the POST,
/// then redirects, end there); every other page keeps `form-action 'self'`. Starting it sends the
/// learner's whole window to the AU.
#[tokio::test]
async fn an_own_window_au_launches_and_only_its_page_widens_form_action() {
    let app = spawn_app().await;
    let mut ed = app.person("northmoor", "ed@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    let course = new_course(&mut ed, "NM-OWN", "Information security").await;
    let up = upload(&mut ed, &course, "lib.zip", &test_package("cmi5-standard-library")).await;
    assert_eq!(up.status, 303, "{}", up.body);
    publish(&mut ed, &course).await;
    let t = token(&mut ann, &format!("/courses/{course}")).await;
    assert_eq!(ann.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let sessions = sessions_of(&ann.get(&format!("/courses/{course}")).await.body, &course);
    let csp = |p: &trellis_testkit::Page| {
        p.headers.get("content-security-policy").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    let framed = ann.get(&format!("/learn/{course}/{}", sessions[0])).await;
    let own = ann.get(&format!("/learn/{course}/{}", sessions[1])).await;
    let content = app.config.content_origin();
    assert!(csp(&framed).contains("form-action 'self'") && !csp(&framed).contains(&content), "{}", csp(&framed));
    assert!(csp(&own).contains(&format!("form-action 'self' {content}")), "{}", csp(&own));
    let profile = ann.get("/profile").await;
    assert!(!csp(&profile).contains(&content));
    // Start: the play address redirects the window to the AU itself, with its launch parameters.
    let t = own.csrf().unwrap();
    let go = ann.post(&format!("/learn/{course}/{}/launch", sessions[1]), &[("csrf_token", &t)]).await;
    assert_eq!(go.status, 303, "{}", go.body);
    let play = ann.get(&go.location.unwrap()).await;
    assert_eq!(play.status, 303);
    let to = play.location.unwrap();
    assert!(to.starts_with(&content) && to.contains("part=own") && to.contains("fetch="), "{to}");
}
