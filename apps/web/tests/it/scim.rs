//! SCIM 2.0 provisioning (`/scim/v2`) over HTTP: an identity system with a `scim`-scoped API
//! token creates staff (new accounts approved at once, an address with an account elsewhere
//! invited instead, answered alike), finds them by userName with paging, patches them as Entra ID
//! does (a deactivation suspends without losing the learning record), moves their department
//! (the training rules follow) and deletes them. Malformed bodies get SCIM errors with a
//! `scimType`; another trust's token opens nothing. Then SCIM tooling from PyPI (scim2-client and
//! scim2-tester's protocol checks) is run against the server.

use serde_json::{Value, json};
use trellis_domain::identity::Role;
use trellis_domain::learning::Audience;
use trellis_domain::{CourseId, PersonId};
use trellis_testkit::{TestApp, Visitor, spawn_app};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const STAFF: &str = "urn:trellis:params:scim:schemas:extension:staff:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn between<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let at = body.find(start)? + start.len();
    body[at..].split(end).next()
}

/// Issues a token on the tokens page; returns it.
async fn issue(admin: &mut Visitor, scopes: &[&str]) -> String {
    let page = admin.get("/admin/api-tokens").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Provision staff accounts from an identity system"), "the scim scope is offered");
    assert!(page.body.contains("/scim/v2</code>"), "with the tenant URL to give the identity system");
    let t = page.csrf().unwrap();
    let mut form = vec![("csrf_token", t.as_str()), ("name", "Entra ID"), ("expires", "30")];
    for s in scopes {
        form.push(("scopes", s));
    }
    let done = admin.post("/admin/api-tokens", &form).await;
    assert_eq!(done.status, 200, "{}", done.body);
    between(&done.body, "<code id=\"issued-token\" class=\"trellis-break\">", "<").unwrap().to_owned()
}

/// A SCIM call: (status, body, Location header). Every error is a SCIM error document.
async fn scim(v: &mut Visitor, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value, String) {
    let auth = format!("Bearer {token}");
    let mut h = vec![("authorization", auth.as_str())];
    if body.is_some() {
        h.push(("content-type", "application/scim+json"));
    }
    let p =
        v.send(method, &format!("/scim/v2{path}"), &h, body.map(|b| b.as_bytes().to_vec()).unwrap_or_default()).await;
    let header = |n: &str| p.headers.get(n).map(|c| c.to_str().unwrap_or("").to_owned()).unwrap_or_default();
    let doc: Value = serde_json::from_str(&p.body).unwrap_or(Value::Null);
    if p.status != 204 {
        assert!(
            header("content-type").starts_with("application/scim+json"),
            "{method} {path}: {} {}",
            p.status,
            p.body
        );
    }
    if p.status >= 400 {
        assert_eq!(doc["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]), "{}", p.body);
        assert_eq!(doc["status"], json!(p.status.to_string()), "{}", p.body);
    }
    (p.status, doc, header("location"))
}

fn user(user_name: &str, email: &str, number: &str, department: &str) -> String {
    json!({
        "schemas": [USER, ENTERPRISE, STAFF],
        "userName": user_name,
        "externalId": format!("entra-{number}"),
        "name": { "givenName": "Jo", "familyName": "Bloggs" },
        "title": "Staff Nurse",
        "emails": [{ "value": email, "type": "work", "primary": true }],
        "active": true,
        ENTERPRISE: { "employeeNumber": number, "department": department },
        STAFF: { "staffGroup": "nursing and midwifery registered" },
    })
    .to_string()
}

async fn person_of(app: &TestApp, email: &str) -> Option<PersonId> {
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin_platform().await.unwrap();
    let a = trellis_db::identity::account_by_email(&itx, email).await.unwrap();
    itx.commit().await.unwrap();
    a.map(|a| a.id)
}

/// The person's membership state here, their staff record's department and assignment number,
/// and the courses they are enrolled on.
async fn state_of(app: &TestApp, slug: &str, person: PersonId) -> (Option<String>, String, Option<String>, usize) {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let m = trellis_db::identity::membership(&tx, person).await.unwrap().map(|m| m.status.as_str().to_owned());
    let r = trellis_db::staff::record(&tx, person).await.unwrap().unwrap_or_default();
    let enrolled = trellis_db::compliance::person_entries(&tx, person, chrono::Utc::now().date_naive()).await.unwrap();
    tx.rollback().await.unwrap();
    (m, r.department, r.assignment_number, enrolled.len())
}

/// Offers the national fire-safety course at Northmoor, mandatory for the department.
async fn department_rule(app: &TestApp, department: &str) -> CourseId {
    let fire = app.national_course("CSTF-FIRE").await;
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    trellis_db::catalogue::set_offered(&tx, fire, true, None).await.unwrap();
    let course = trellis_db::catalogue::course(&tx, fire).await.unwrap().unwrap();
    let today = chrono::Utc::now().date_naive();
    let audience = Audience::Department(department.into());
    trellis_db::compliance::add_requirement(&tx, &course, &audience, true, Some(28), Some(12), None, today)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    fire
}

#[tokio::test]
async fn an_identity_system_provisions_moves_deactivates_and_deletes_staff_within_its_own_trust() {
    let app = spawn_app().await;
    app.seed_national().await;
    department_rule(&app, "Ward 7").await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let mut rex = app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let token = issue(&mut boss, &["scim"]).await;
    let courses_only = issue(&mut boss, &["courses"]).await;
    let riverside_token = issue(&mut rex, &["scim"]).await;
    let mut idp = app.visitor("northmoor");

    // Discovery: what is supported, and bulk declared unsupported.
    let (s, spc, _) = scim(&mut idp, "GET", "/ServiceProviderConfig", &token, None).await;
    assert_eq!((s, &spc["bulk"]["supported"], &spc["patch"]["supported"]), (200, &json!(false), &json!(true)));
    let (s, schemas, _) = scim(&mut idp, "GET", "/Schemas", &token, None).await;
    assert_eq!((s, schemas["totalResults"].as_u64()), (200, Some(3)));
    let (s, types, _) = scim(&mut idp, "GET", "/ResourceTypes/User", &token, None).await;
    assert_eq!((s, types["endpoint"].as_str()), (200, Some("/Users")));
    let (s, e, _) = scim(&mut idp, "POST", "/Bulk", &token, Some("{}")).await;
    assert_eq!(s, 501, "{e}");

    // A new member of staff: an account, approved at once, with the staff record and the rules
    // of their department.
    let (s, jo, location) = scim(
        &mut idp,
        "POST",
        "/Users",
        &token,
        Some(&user("Jo.Bloggs@nhs.example", "jo.bloggs@nhs.example", "10000001", "Ward 7")),
    )
    .await;
    assert_eq!(s, 201, "{jo}");
    let jo_id = jo["id"].as_str().unwrap().to_owned();
    assert!(location.ends_with(&format!("/scim/v2/Users/{jo_id}")), "{location}");
    assert_eq!(jo[STAFF]["staffGroup"], json!("Nursing and Midwifery Registered"), "the HR system's spelling");
    assert_eq!(jo["meta"]["resourceType"], json!("User"));
    let jo_person = person_of(&app, "jo.bloggs@nhs.example").await.expect("an account");
    let (m, dept, number, enrolled) = state_of(&app, "northmoor", jo_person).await;
    assert_eq!((m.as_deref(), dept.as_str(), number.as_deref()), (Some("approved"), "Ward 7", Some("10000001")));
    assert_eq!(enrolled, 1, "Ward 7's mandatory course");

    // The same userName again (in any case) is a conflict; so is another's assignment number.
    let (s, e, _) = scim(
        &mut idp,
        "POST",
        "/Users",
        &token,
        Some(&user("JO.BLOGGS@nhs.example", "other@nhs.example", "10000009", "A")),
    )
    .await;
    assert_eq!((s, e["scimType"].as_str()), (409, Some("uniqueness")), "{e}");
    let (s, e, _) =
        scim(&mut idp, "POST", "/Users", &token, Some(&user("amy", "amy@nhs.example", "10000001", "A"))).await;
    assert_eq!((s, e["scimType"].as_str()), (409, Some("uniqueness")), "{e}");
    assert!(e["detail"].as_str().unwrap().contains("employeeNumber"), "{e}");
    assert!(person_of(&app, "amy@nhs.example").await.is_none(), "nothing half-made");

    // An address with an account at another trust: an invitation, answered exactly like a new
    // account (nothing says the account exists).
    let (s, r, _) =
        scim(&mut idp, "POST", "/Users", &token, Some(&user("rex", "rex@riverside.example", "10000002", "Ward 7")))
            .await;
    assert_eq!(s, 201, "{r}");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&r), keys(&jo));
    assert_eq!(r["active"], json!(true));
    app.mail.wait_for("rex@riverside.example", "You are invited to join").await;
    let rex_person = person_of(&app, "rex@riverside.example").await.unwrap();
    assert_eq!(state_of(&app, "northmoor", rex_person).await.0, None, "not a member until they accept");

    // Found by userName (not case-sensitive), and paged.
    let filter = url::form_urlencoded::byte_serialize(b"userName eq \"JO.BLOGGS@NHS.EXAMPLE\"").collect::<String>();
    let (s, found, _) = scim(&mut idp, "GET", &format!("/Users?filter={filter}"), &token, None).await;
    assert_eq!(
        (s, found["totalResults"].as_u64(), found["Resources"][0]["id"].as_str()),
        (200, Some(1), Some(jo_id.as_str()))
    );
    let (_, page, _) = scim(&mut idp, "GET", "/Users?startIndex=2&count=1&attributes=userName", &token, None).await;
    assert_eq!(
        (page["totalResults"].as_u64(), page["itemsPerPage"].as_u64(), page["startIndex"].as_u64()),
        (Some(2), Some(1), Some(2))
    );
    assert_eq!(page["Resources"][0]["userName"], json!("rex"));
    assert!(page["Resources"][0].get("emails").is_none(), "only the attributes asked for");
    let bad_filter = url::form_urlencoded::byte_serialize(b"userName co \"jo\"").collect::<String>();
    let (s, e, _) = scim(&mut idp, "GET", &format!("/Users?filter={bad_filter}"), &token, None).await;
    assert_eq!((s, e["scimType"].as_str()), (400, Some("invalidFilter")));

    // Entra ID's PATCH: moved to Ward 9 (Ward 7's open entry goes), then deactivated: suspended,
    // and their learning record is kept.
    let moved = json!({ "schemas": [PATCH], "Operations": [
        { "op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Ward 9" },
    ]});
    let (s, p, _) = scim(&mut idp, "PATCH", &format!("/Users/{jo_id}"), &token, Some(&moved.to_string())).await;
    assert_eq!((s, &p[ENTERPRISE]["department"]), (200, &json!("Ward 9")), "{p}");
    let (m, dept, _, _) = state_of(&app, "northmoor", jo_person).await;
    assert_eq!((m.as_deref(), dept.as_str()), (Some("approved"), "Ward 9"));
    let off = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "False" }] });
    let (s, p, _) = scim(&mut idp, "PATCH", &format!("/Users/{jo_id}"), &token, Some(&off.to_string())).await;
    assert_eq!((s, &p["active"]), (200, &json!(false)), "{p}");
    let (m, _, number, _) = state_of(&app, "northmoor", jo_person).await;
    assert_eq!((m.as_deref(), number.as_deref()), (Some("suspended"), Some("10000001")));
    // Back on: reinstated.
    let on = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "value": { "active": true } }] });
    let (s, _, _) = scim(&mut idp, "PATCH", &format!("/Users/{jo_id}"), &token, Some(&on.to_string())).await;
    assert_eq!(s, 200);
    assert_eq!(state_of(&app, "northmoor", jo_person).await.0.as_deref(), Some("approved"));

    // Bad input: a SCIM error naming the fault, and nothing changed.
    for (method, path, body, status, kind) in [
        ("POST", "/Users".to_owned(), "not json", 400, "invalidSyntax"),
        ("POST", "/Users".to_owned(), r#"{"userName": "x"}"#, 400, "invalidSyntax"),
        ("POST", "/Users".to_owned(), &*format!(r#"{{"schemas": ["{USER}"], "userName": "x"}}"#), 400, "invalidValue"),
        (
            "POST",
            "/Users".to_owned(),
            &*format!(
                r#"{{"schemas": ["{USER}"], "userName": "x", "emails": [{{"value": "x@y.z"}}], "active": "maybe"}}"#
            ),
            400,
            "invalidValue",
        ),
        (
            "PATCH",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "nickName", "value": "J" }] })
                .to_string(),
            400,
            "invalidPath",
        ),
        (
            "PATCH",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [PATCH], "Operations": [{ "op": "remove" }] }).to_string(),
            400,
            "noTarget",
        ),
        (
            "PATCH",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "path": "id", "value": "x" }] })
                .to_string(),
            400,
            "mutability",
        ),
        (
            "PUT",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [USER], "userName": "" }).to_string(),
            400,
            "invalidValue",
        ),
        (
            "PUT",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [USER], "userName": "jo", STAFF: { "staffGroup": "Nurses" } }).to_string(),
            400,
            "invalidValue",
        ),
        (
            "PUT",
            format!("/Users/{jo_id}"),
            &*json!({ "schemas": [USER], "userName": "jo", ENTERPRISE: { "employeeNumber": "E123" } }).to_string(),
            400,
            "invalidValue",
        ),
    ] {
        let (s, e, _) = scim(&mut idp, method, &path, &token, Some(body)).await;
        assert_eq!((s, e["scimType"].as_str()), (status, Some(kind)), "{method} {path} {body}: {e}");
    }
    let (_, still, _) = scim(&mut idp, "GET", &format!("/Users/{jo_id}"), &token, None).await;
    assert_eq!(
        (still["userName"].as_str(), &still[ENTERPRISE]["department"]),
        (Some("Jo.Bloggs@nhs.example"), &json!("Ward 9"))
    );

    // Another trust's token is unknown here; this trust's is unknown there; a token without the
    // scim scope is refused.
    let (s, _, _) = scim(&mut idp, "GET", &format!("/Users/{jo_id}"), &riverside_token, None).await;
    assert_eq!(s, 401);
    let mut riverside = app.visitor("riverside");
    let (s, _, _) = scim(&mut riverside, "GET", &format!("/Users/{jo_id}"), &token, None).await;
    assert_eq!(s, 401);
    let (s, _, _) = scim(&mut riverside, "GET", &format!("/Users/{jo_id}"), &riverside_token, None).await;
    assert_eq!(s, 404, "Northmoor's user is no user of Riverside's");
    let (s, listed, _) = scim(&mut riverside, "GET", "/Users", &riverside_token, None).await;
    assert_eq!((s, listed["totalResults"].as_u64()), (200, Some(0)));
    let (s, _, _) = scim(&mut riverside, "DELETE", &format!("/Users/{jo_id}"), &riverside_token, None).await;
    assert_eq!(s, 404);
    let (s, e, _) = scim(&mut idp, "GET", "/Users", &courses_only, None).await;
    assert_eq!(s, 403, "{e}");
    let (s, _, _) = scim(&mut idp, "GET", "/Users", "trellis_nonsense", None).await;
    assert_eq!(s, 401);

    // Deleting deactivates and forgets the link; the person and their record stay.
    let (s, _, _) = scim(&mut idp, "DELETE", &format!("/Users/{jo_id}"), &token, None).await;
    assert_eq!(s, 204);
    let (s, _, _) = scim(&mut idp, "GET", &format!("/Users/{jo_id}"), &token, None).await;
    assert_eq!(s, 404);
    let (m, dept, number, _) = state_of(&app, "northmoor", jo_person).await;
    assert_eq!((m.as_deref(), dept.as_str(), number.as_deref()), (Some("suspended"), "Ward 9", Some("10000001")));
    // Provisioned again: the same person, reinstated.
    let (s, again, _) = scim(
        &mut idp,
        "POST",
        "/Users",
        &token,
        Some(&user("jo.bloggs@nhs.example", "jo.bloggs@nhs.example", "10000001", "Ward 9")),
    )
    .await;
    assert_eq!(s, 201, "{again}");
    assert_ne!(again["id"].as_str(), Some(jo_id.as_str()), "a new user");
    assert_eq!(state_of(&app, "northmoor", jo_person).await.0.as_deref(), Some("approved"));
    // Riverside's staff are untouched by all of it.
    assert_eq!(state_of(&app, "riverside", rex_person).await.0.as_deref(), Some("approved"));
}

#[tokio::test]
async fn scim_tooling_from_pypi_finds_the_protocol_kept() {
    let app = spawn_app().await;
    let mut boss =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await.0;
    let token = issue(&mut boss, &["scim"]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/scim_check.py");
    let addr = app.url("").trim_start_matches("http://").to_owned();
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&addr)
        .arg(TestApp::host_of("northmoor"))
        .arg(&token)
        .output()
        .await
        .expect("python3 with scim2-tester (scripts/install-test-deps.sh)");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{printed}");
    let report: Value = serde_json::from_str(printed.lines().last().unwrap_or("")).unwrap();
    assert!(report["tester"]["SUCCESS"].as_u64().unwrap_or(0) >= 60, "{report}");
    assert_eq!(report["failures"], json!([]), "{report}");
}
