//! The trust API (`/api/v1`) and its tokens, over HTTP: a trust administrator issues a token
//! (shown once, scoped, revocable); the API imports a cmi5 package and a bare course structure,
//! refuses broken ones naming the rule, launches an AU for a conformance suite's actor in each
//! launch mode, waives an AU and abandons a session as cmi5 says the LMS does, and deletes only
//! the courses it imported. Another trust's token opens nothing here. The cmi5 rules the LRS
//! holds AUs to are tested here by requirement id too (CI cannot run the CATAPULT suite itself).

use serde_json::{Value, json};
use std::collections::HashMap;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app, test_package};

fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = body.find(start)? + start.len();
    body[at..].split(end).next()
}

/// Issues a token on the tokens page; returns it.
async fn issue(admin: &mut Visitor, name: &str, scopes: &[&str]) -> String {
    let page = admin.get("/admin/api-tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t = page.csrf().unwrap();
    let mut form = vec![("csrf_token", t.as_str()), ("name", name), ("expires", "30")];
    for s in scopes {
        form.push(("scopes", s));
    }
    let done = admin.post("/admin/api-tokens", &form).await;
    assert_eq!(done.status, 200, "{}", done.body);
    between(&done.body, "<code id=\"issued-token\" class=\"trellis-break\">", "<").unwrap().to_owned()
}

async fn call(v: &mut Visitor, method: &str, path: &str, token: &str, ctype: &str, body: Vec<u8>) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let mut h = vec![("authorization", auth.as_str())];
    if !ctype.is_empty() {
        h.push(("content-type", ctype));
    }
    let p = v.send(method, &format!("/api/v1{path}"), &h, body).await;
    let ct = p.headers.get("content-type").map(|c| c.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    if p.status >= 400 {
        assert!(ct.starts_with("application/problem+json"), "{method} {path}: {} {ct} {}", p.status, p.body);
    }
    (p.status, serde_json::from_str(&p.body).unwrap_or(Value::Null))
}

async fn json_call(v: &mut Visitor, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
    call(v, method, path, token, "application/json", body.to_string().into_bytes()).await
}

fn basic(key: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")))
}

async fn credential(boss: &mut Visitor) -> String {
    let page = boss.get("/admin/lrs").await;
    let t = page.csrf().unwrap();
    let page = boss
        .post("/admin/lrs", &[("csrf_token", &t), ("name", "Reports"), ("scope", "read"), ("version", "1.0.3")])
        .await;
    let key = between(&page.body, "<code id=\"issued-key\">", "<").unwrap().to_owned();
    let secret = between(&page.body, "<code id=\"issued-secret\">", "<").unwrap().to_owned();
    basic(&key, &secret)
}

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

fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

/// An AU's session, opened as the AU would: the fetch URL spent, the launch data read, the
/// learner preferences read.
struct Au {
    p: HashMap<String, String>,
    auth: String,
    session: String,
    grouping: String,
    mode: String,
}

async fn open_au(app: &TestApp, url: &str) -> Au {
    let u = url::Url::parse(url).unwrap();
    let p: HashMap<String, String> = u.query_pairs().into_owned().collect();
    let mut content = app.content();
    let got = content.send("POST", &path_of(&p["fetch"]), &[], vec![]).await;
    let token = serde_json::from_str::<Value>(&got.body).unwrap()["auth-token"].as_str().unwrap().to_owned();
    let auth = format!("Basic {token}");
    let mut lrs = app.visitor("northmoor");
    let data = xapi(
        &mut lrs,
        "GET",
        &format!(
            "/activities/state?{}",
            q(&[
                ("activityId", &p["activityId"]),
                ("agent", &p["actor"]),
                ("registration", &p["registration"]),
                ("stateId", "LMS.LaunchData")
            ])
        ),
        &auth,
        None,
    )
    .await;
    assert_eq!(data.status, 200, "{}", data.body);
    let data: Value = serde_json::from_str(&data.body).unwrap();
    let prefs = format!("/agents/profile?{}", q(&[("agent", &p["actor"]), ("profileId", "cmi5LearnerPreferences")]));
    xapi(&mut lrs, "GET", &prefs, &auth, None).await;
    Au {
        session: data["contextTemplate"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"]
            .as_str()
            .unwrap()
            .to_owned(),
        grouping: data["contextTemplate"]["contextActivities"]["grouping"][0]["id"].as_str().unwrap().to_owned(),
        mode: data["launchMode"].as_str().unwrap().to_owned(),
        p,
        auth,
    }
}

impl Au {
    fn statement(&self, verb: &str, result: Option<Value>, moveon: bool) -> Value {
        let mut cats = vec![json!({ "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5" })];
        if moveon {
            cats.push(json!({ "id": "https://w3id.org/xapi/cmi5/context/categories/moveon" }));
        }
        let mut s = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "actor": serde_json::from_str::<Value>(&self.p["actor"]).unwrap(),
            "verb": { "id": format!("http://adlnet.gov/expapi/verbs/{verb}") },
            "object": { "id": self.p["activityId"] },
            "context": {
                "registration": self.p["registration"],
                "contextActivities": { "category": cats, "grouping": [{ "id": self.grouping }] },
                "extensions": { "https://w3id.org/xapi/cmi5/context/extensions/sessionid": self.session },
            },
        });
        if let Some(r) = result {
            s["result"] = r;
        }
        s
    }

    /// PUTs one statement (as cmi5.js does); returns the status and the body.
    async fn put(&self, app: &TestApp, s: Value) -> (u16, String) {
        let mut lrs = app.visitor("northmoor");
        let id = s["id"].as_str().unwrap().to_owned();
        let r = xapi(&mut lrs, "PUT", &format!("/statements?statementId={id}"), &self.auth, Some(s)).await;
        (r.status, r.body)
    }
}

const STRUCTURE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://trellis.example/test/hosted"><title><langstring>Hosted elsewhere</langstring></title><description><langstring>One AU on another site.</langstring></description></course>
  <au id="https://trellis.example/test/hosted/au" moveOn="Passed" masteryScore="0.8">
    <title><langstring>Quiz</langstring></title><description><langstring>A quiz.</langstring></description>
    <url>https://content.example.com/quiz/index.html?x=1</url>
  </au>
</courseStructure>"#;

#[tokio::test]
async fn api_tokens_are_shown_once_scoped_revocable_and_one_trusts_alone() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut ann = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await.0;
    assert_eq!(ann.get("/admin/api-tokens").await.status, 403, "only administrators issue tokens");
    // A form without a name or scope is refused, naming both.
    let page = boss.get("/admin/api-tokens").await;
    let t = page.csrf().unwrap();
    let bad = boss.post("/admin/api-tokens", &[("csrf_token", t.as_str()), ("name", ""), ("expires", "30")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("href=\"#name\"") && bad.body.contains("href=\"#scopes\""), "{}", bad.body);
    let courses = issue(&mut boss, "Course loader", &["courses"]).await;
    let launch = issue(&mut boss, "Launcher", &["launch"]).await;
    let theirs = issue(&mut rex, "Riverside loader", &["courses"]).await;
    assert!(courses.starts_with("trellis_"), "{courses}");
    // Shown once: the list names it but never shows it again.
    let list = boss.get("/admin/api-tokens").await;
    assert!(list.body.contains("Course loader") && !list.body.contains(&courses));
    let mut api = app.visitor("northmoor");
    let zip = test_package("cmi5-conflict-resolution");
    // No token, a malformed one, another trust's: 401 problem documents.
    for token in ["", "trellis_nonsense", theirs.as_str()] {
        let (s, p) = call(&mut api, "POST", "/courses", token, "application/zip", zip.clone()).await;
        assert_eq!(s, 401, "{token}: {p}");
        assert_eq!(p["field"], "authorization", "{p}");
    }
    // A token without the scope: 403.
    let (s, p) = call(&mut api, "POST", "/courses", &launch, "application/zip", zip.clone()).await;
    assert_eq!(s, 403, "{p}");
    // Imported, published, its sessions listed in course order.
    let (s, course) = call(&mut api, "POST", "/courses?code=API-CR", &courses, "application/zip", zip.clone()).await;
    assert_eq!(s, 201, "{course}");
    assert_eq!(course["title"], "Conflict resolution");
    assert_eq!(course["status"], "published");
    let sessions = course["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["kind"], "cmi5");
    assert_eq!(sessions[1]["identifier"], "https://trellis.example/test/conflict-resolution/quiz");
    let id = course["id"].as_str().unwrap().to_owned();
    assert!(ann.get("/courses").await.body.contains("Conflict resolution"), "in the catalogue");
    // Riverside's host does not know the course, with its own token either.
    let mut rapi = app.visitor("riverside");
    assert_eq!(call(&mut rapi, "GET", &format!("/courses/{id}"), &theirs, "", vec![]).await.0, 404);
    assert_eq!(call(&mut rapi, "DELETE", &format!("/courses/{id}"), &theirs, "", vec![]).await.0, 404);
    // A bare course structure with absolute AU URLs; one with a relative URL is refused naming
    // the rule; a body that is not a package is refused by its type.
    let (s, hosted) = call(&mut api, "POST", "/courses", &courses, "text/xml", STRUCTURE.as_bytes().to_vec()).await;
    assert_eq!(s, 201, "{hosted}");
    assert_eq!(hosted["sessions"][0]["identifier"], "https://trellis.example/test/hosted/au");
    let relative = STRUCTURE.replace("https://content.example.com/quiz/index.html?x=1", "index.html");
    let (s, p) = call(&mut api, "POST", "/courses", &courses, "text/xml", relative.into_bytes()).await;
    assert_eq!(s, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("14.2.0.0-1") && p["field"] == "body", "{p}");
    let (s, p) = call(&mut api, "POST", "/courses", &courses, "text/markdown", b"# not a package".to_vec()).await;
    assert_eq!(s, 415, "{p}");
    let (s, _) = call(&mut api, "POST", "/courses", &courses, "application/zip", b"PK\x03\x04 broken".to_vec()).await;
    assert_eq!(s, 422);
    // A refused package leaves no course behind.
    let editor = boss.get("/admin/courses").await;
    assert_eq!(editor.body.matches("Imported course").count(), 0, "{}", editor.body);
    // Staff enrolled: the course cannot be deleted through the API (409); without them it can.
    let enrol = issue(&mut boss, "HR feed", &["enrolments"]).await;
    let (s, e) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/enrolments"),
        &enrol,
        json!({ "email": "ann@northmoor.example" }),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    let (s, _) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/enrolments"),
        &enrol,
        json!({ "email": "ann@northmoor.example" }),
    )
    .await;
    assert_eq!(s, 200, "enrolled already");
    // docs/api.md's launch for a member: their opaque account, never their email address.
    let (s, l) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &launch,
        json!({ "au_index": 0, "person": e["person"], "launch_mode": "Normal" }),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    let launched = url::Url::parse(l["url"].as_str().unwrap()).unwrap();
    let actor: String = launched.query_pairs().find(|(k, _)| k == "actor").unwrap().1.into_owned();
    assert!(!actor.contains('@') && actor.contains("account"), "{actor}");
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &launch,
        json!({ "au_index": 0, "person": e["person"], "registration": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (400, Some("registration")), "{p}");
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/enrolments"),
        &enrol,
        json!({ "email": "rex@riverside.example" }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (404, Some("email")), "not a member here: {p}");
    assert!(ann.get("/learning").await.body.contains("Conflict resolution"));
    let (s, p) = call(&mut api, "DELETE", &format!("/courses/{id}"), &courses, "", vec![]).await;
    assert_eq!(s, 409, "{p}");
    let hosted_id = hosted["id"].as_str().unwrap();
    assert_eq!(call(&mut api, "DELETE", &format!("/courses/{hosted_id}"), &courses, "", vec![]).await.0, 204);
    assert_eq!(call(&mut api, "DELETE", &format!("/courses/{hosted_id}"), &courses, "", vec![]).await.0, 404);
    // A course made in the editor is never the API's to delete.
    let (s, _) = call(&mut api, "GET", &format!("/courses/{hosted_id}"), &courses, "", vec![]).await;
    assert_eq!(s, 404);
    // Revoked: refused at once.
    let list = boss.get("/admin/api-tokens").await;
    let t = list.csrf().unwrap();
    let ids: Vec<&str> =
        list.body.split("action=\"/admin/api-tokens/").skip(1).filter_map(|rest| rest.split('/').next()).collect();
    for tid in ids {
        assert_eq!(
            boss.post(&format!("/admin/api-tokens/{tid}/revoke"), &[("csrf_token", t.as_str())]).await.status,
            303
        );
    }
    assert_eq!(call(&mut api, "GET", &format!("/courses/{id}"), &courses, "", vec![]).await.0, 401);
    let after = boss.get("/admin/api-tokens?revoked=1").await;
    assert!(after.body.contains("The token is revoked"), "{}", after.body);
    // The audit trail says who did what.
    let audit = boss.get("/admin/audit").await;
    assert!(audit.body.contains("api.token_issued") && audit.body.contains("course.imported"), "{}", audit.body);
    // The description is served, generated from the code.
    let spec = app.visitor("northmoor").get("/api/v1/openapi.json").await;
    assert_eq!(spec.status, 200);
    let spec: Value = serde_json::from_str(&spec.body).unwrap();
    for path in
        ["/courses", "/courses/{id}/launches", "/registrations/{registration}/waive", "/sessions/{session}/abandon"]
    {
        assert!(spec["paths"].get(path).is_some(), "{path} in {}", spec["paths"]);
    }
}

/// A conformance suite's launches (CATAPULT's `getLaunchUrl`, `waiveAU`, `abandonSession`).
#[tokio::test]
async fn conformance_launches_waive_and_abandon_as_cmi5_says_the_lms_does() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let token = issue(&mut boss, "CATAPULT", &["courses", "launch", "conformance"]).await;
    let plain = issue(&mut boss, "Launcher", &["launch"]).await;
    let mut api = app.visitor("northmoor");
    let (s, course) =
        call(&mut api, "POST", "/courses", &token, "application/zip", test_package("cmi5-conflict-resolution")).await;
    assert_eq!(s, 201, "{course}");
    let id = course["id"].as_str().unwrap().to_owned();
    let actor =
        json!({ "account": { "homePage": "https://w3id.org/xapi/cmi5/catapult/lts", "name": "001-essentials.zip" } });
    // Only a conformance token names an actor; an actor is an account, nothing else.
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &plain,
        json!({ "au_index": 0, "actor": actor }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (403, Some("actor")), "{p}");
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &token,
        json!({ "au_index": 0, "actor": { "mbox": "mailto:someone@example.com" } }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (400, Some("actor")), "{p}");
    // Launched for the suite's actor, in the registration it names.
    let registration = uuid::Uuid::new_v4().to_string();
    let (s, l) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &token,
        json!({ "au_index": 1, "actor": actor, "registration": registration }),
    )
    .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["registration"], registration.as_str());
    let url = l["url"].as_str().unwrap();
    let au = open_au(&app, url).await;
    assert_eq!(serde_json::from_str::<Value>(&au.p["actor"]).unwrap(), actor, "the actor as given");
    assert!(au.p["endpoint"].ends_with("/xapi"), "no trailing slash: {}", au.p["endpoint"]);
    // cmi5 rules, by requirement: a pass with no score needs no masteryScore extension (001 and
    // 005-2 of CATAPULT); a scored one does (9.6.3.2-2); below mastery is refused (9.3.4.0-2).
    assert_eq!(au.put(&app, au.statement("initialized", None, false)).await.0, 204);
    let scored =
        au.statement("passed", Some(json!({ "success": true, "duration": "PT1S", "score": { "scaled": 0.9 } })), true);
    let (s, body) = au.put(&app, scored).await;
    assert!(s == 403 && body.contains("9.6.3.2-2"), "{s} {body}");
    let mut low =
        au.statement("passed", Some(json!({ "success": true, "duration": "PT1S", "score": { "scaled": 0.2 } })), true);
    low["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] = json!(0.5);
    let (s, body) = au.put(&app, low).await;
    assert!(s == 403 && body.contains("9.3.4.0-2"), "{s} {body}");
    let mut high =
        au.statement("failed", Some(json!({ "success": false, "duration": "PT1S", "score": { "scaled": 0.7 } })), true);
    high["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/masteryscore"] = json!(0.5);
    let (s, body) = au.put(&app, high).await;
    assert!(s == 403 && body.contains("9.3.5.0-2"), "{s} {body}");
    let mut no_template = au.statement("experienced", None, false);
    no_template["context"]["contextActivities"]["grouping"] = json!([]);
    let (s, body) = au.put(&app, no_template).await;
    assert!(s == 403 && body.contains("10.2.1.0-6"), "{s} {body}");
    let (s, body) =
        au.put(&app, au.statement("passed", Some(json!({ "success": true, "duration": "PT1S" })), true)).await;
    assert_eq!(s, 204, "{body}");
    let (s, body) =
        au.put(&app, au.statement("failed", Some(json!({ "success": false, "duration": "PT1S" })), true)).await;
    assert!(s == 403 && body.contains("9.3.0.0-3"), "{s} {body}");
    assert_eq!(au.put(&app, au.statement("terminated", Some(json!({ "duration": "PT2S" })), false)).await.0, 204);
    // After terminated the token is spent (8.1.2.0-2).
    assert_eq!(au.put(&app, au.statement("experienced", None, false)).await.0, 401);

    // The same registration again (a second session): a failed after a pass is refused (9.3.0.0-8).
    let (s, l2) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &token,
        json!({ "au_index": 1, "actor": actor, "registration": registration }),
    )
    .await;
    assert_eq!(s, 201, "{l2}");
    let au2 = open_au(&app, l2["url"].as_str().unwrap()).await;
    assert_eq!(au2.put(&app, au2.statement("initialized", None, false)).await.0, 204);
    let (s, body) =
        au2.put(&app, au2.statement("failed", Some(json!({ "success": false, "duration": "PT1S" })), true)).await;
    assert!(s == 403 && body.contains("9.3.0.0-8"), "{s} {body}");
    // Another registration for the same learner and course is refused: theirs is in use.
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/courses/{id}/launches"),
        &token,
        json!({ "au_index": 0, "actor": actor, "registration": uuid::Uuid::new_v4().to_string() }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (409, Some("registration")), "{p}");

    // Abandoned by the LMS: recorded, and the AU's token refused for everything (8.1.2.0-2).
    let sid = l2["session"].as_str().unwrap();
    assert_eq!(call(&mut api, "POST", &format!("/sessions/{sid}/abandon"), &token, "", vec![]).await.0, 204);
    assert_eq!(call(&mut api, "POST", &format!("/sessions/{sid}/abandon"), &token, "", vec![]).await.0, 409);
    let (s, _) = au2.put(&app, au2.statement("experienced", None, false)).await;
    assert_eq!(s, 401);
    let mut lrs = app.visitor("northmoor");
    let state = format!(
        "/activities/state?{}",
        q(&[
            ("activityId", &au2.p["activityId"]),
            ("agent", &au2.p["actor"]),
            ("registration", &au2.p["registration"]),
            ("stateId", "x")
        ])
    );
    assert_eq!(xapi(&mut lrs, "GET", &state, &au2.auth, None).await.status, 401);

    // Browse and Review: no completed, passed or failed (10.2.2.0-2, 10.2.2.0-3).
    for (mode, req) in [("Browse", "10.2.2.0-2"), ("Review", "10.2.2.0-3")] {
        let (s, l) = json_call(
            &mut api,
            "POST",
            &format!("/courses/{id}/launches"),
            &token,
            json!({ "au_index": 0, "actor": actor, "launch_mode": mode }),
        )
        .await;
        assert_eq!(s, 201, "{l}");
        let au = open_au(&app, l["url"].as_str().unwrap()).await;
        assert_eq!(au.mode, mode);
        assert_eq!(au.put(&app, au.statement("initialized", None, false)).await.0, 204);
        let (s, body) = au
            .put(&app, au.statement("completed", Some(json!({ "completion": true, "duration": "PT1S" })), true))
            .await;
        assert!(s == 403 && body.contains(req), "{mode}: {s} {body}");
        assert_eq!(au.put(&app, au.statement("terminated", Some(json!({ "duration": "PT1S" })), false)).await.0, 204);
    }

    // Waived by the LMS (the reading AU, index 0): waived then satisfied, in a session of their own.
    let (s, p) = json_call(
        &mut api,
        "POST",
        &format!("/registrations/{registration}/waive"),
        &token,
        json!({ "au_index": 0, "reason": "Because" }),
    )
    .await;
    assert_eq!((s, p["field"].as_str()), (400, None), "an unknown reason: {p}");
    assert_eq!(
        json_call(
            &mut api,
            "POST",
            &format!("/registrations/{registration}/waive"),
            &token,
            json!({ "au_index": 0, "reason": "Administrative" })
        )
        .await
        .0,
        204
    );
    assert_eq!(
        json_call(
            &mut api,
            "POST",
            &format!("/registrations/{registration}/waive"),
            &token,
            json!({ "au_index": 0, "reason": "Administrative" })
        )
        .await
        .0,
        409,
        "never two waived in a registration (9.3.7.0-4)"
    );
    // The quiz AU too: then every AU of the block is satisfied, and so the block and the course.
    assert_eq!(
        json_call(
            &mut api,
            "POST",
            &format!("/registrations/{registration}/waive"),
            &token,
            json!({ "au_index": 1, "reason": "Tested Out" })
        )
        .await
        .0,
        204
    );
    let reader = credential(&mut boss).await;
    let all = xapi(
        &mut lrs,
        "GET",
        &format!("/statements?{}", q(&[("registration", &registration), ("ascending", "true")])),
        &reader,
        None,
    )
    .await;
    let all: Value = serde_json::from_str(&all.body).unwrap();
    let verbs: Vec<&str> = all["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verb"]["id"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(verbs.first(), Some(&"launched"), "{verbs:?}");
    assert!(verbs.contains(&"abandoned") && verbs.contains(&"waived") && verbs.contains(&"satisfied"), "{verbs:?}");
    let waived = all["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["verb"]["id"].as_str().unwrap().ends_with("waived"))
        .unwrap();
    assert_eq!(waived["actor"]["account"], actor["account"]);
    assert_eq!(waived["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/reason"], "Administrative");
    // The external learner is not one of the trust's people: the staff list does not show them.
    assert!(!boss.get("/admin/staff").await.body.contains("001-essentials"));
    // Cleaning up: the course and the external learner's records on it go.
    assert_eq!(call(&mut api, "DELETE", &format!("/courses/{id}"), &token, "", vec![]).await.0, 204);
}
