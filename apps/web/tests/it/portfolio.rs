//! ePortfolio: *Export my record* needs the learner's approval and gives one zip of their CSV
//! reports, xAPI statements, certificate PDFs and an Open Badges 3.0 credential per completion,
//! signed (EdDSA) by the trust and checked here by an independent JOSE library (PyJWT).

use super::records::{learn, pdf_pages};
use std::io::Read;

fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let mut b = Vec::new();
        f.read_to_end(&mut b).unwrap();
        out.insert(f.name().unwrap().to_string(), b);
    }
    out
}

/// Runs tests/peers/verify_badge.py: (exit status 0, what it printed).
pub(crate) fn verify(jwks: &[u8], jwt: &[u8], issuer: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwks.json"), jwks).unwrap();
    std::fs::write(dir.path().join("badge.jwt"), jwt).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/peers/verify_badge.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(dir.path().join("jwks.json"))
        .arg(dir.path().join("badge.jwt"))
        .arg(issuer)
        .output()
        .expect("python3 with PyJWT (scripts/install-test-deps.sh)");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn a_learner_exports_their_record_with_certificates_and_badges_anyone_can_verify() {
    let app = trellis_testkit::spawn_app().await;
    let fire = app
        .course("northmoor", "nm-fire", "Fire safety")
        .page("Exits", "Know them")
        .certificate(true)
        .published()
        .create()
        .await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    learn(&mut ann, fire).await;
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    learn(&mut bob, fire).await;

    let page = ann.get("/account/export").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let t = page.csrf().unwrap();
    let refused = ann.post("/account/export", &[("csrf_token", &t)]).await;
    assert!(refused.status == 422 && refused.body.contains("href=\"#approve\""), "{}", refused.body);

    let (status, kind, bytes) = ann.post_bytes("/account/export", &[("csrf_token", &t), ("approve", "yes")]).await;
    assert_eq!((status, kind.as_str()), (200, "application/zip"));
    let files = unzip(&bytes);
    let names: Vec<&String> = files.keys().collect();
    let summary = String::from_utf8(files["activity-record.csv"].clone()).unwrap();
    assert!(summary.contains("Fire safety"), "{summary}");
    assert!(files.contains_key("activity-detail.csv") && files.contains_key("README.txt"), "{names:?}");
    let statements: serde_json::Value = serde_json::from_slice(&files["statements.json"]).unwrap();
    assert!(statements.is_array());
    let cert = names.iter().find(|n| n.starts_with("certificates/") && n.ends_with(".pdf")).expect("a certificate");
    let text = pdf_pages(&files[*cert]).join("\n");
    assert!(text.contains("Certificate of completion") && text.contains("Fire safety"), "{text}");
    let jwt_name = names.iter().find(|n| n.starts_with("badges/") && n.ends_with(".jwt")).expect("a badge");
    let jwt = files[*jwt_name].clone();
    let everything = files.values().map(|b| String::from_utf8_lossy(b).to_string()).collect::<String>();
    assert!(!everything.contains("bob@northmoor.example"), "nobody else's record");
    assert!(!everything.contains("ann@northmoor.example\""), "the badge keeps the address only as a salted hash");

    // The trust publishes its key; PyJWT checks the credential with it.
    let (status, _, jwks) = app.visitor("northmoor").get_bytes("/.well-known/jwks.json").await;
    assert_eq!(status, 200);
    let issuer: serde_json::Value =
        serde_json::from_slice(&app.visitor("northmoor").get_bytes("/badges/issuer").await.2).unwrap();
    let iss = issuer["id"].as_str().unwrap().to_owned();
    let (ok, said) = verify(&jwks, &jwt, &iss);
    assert!(ok && said.contains("Fire safety"), "{said}");
    // A changed credential, or another trust's key, is refused.
    let text = String::from_utf8(jwt.clone()).unwrap();
    let parts: Vec<&str> = text.trim().split('.').collect();
    let mut payload: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1]).unwrap(),
    )
    .unwrap();
    payload["name"] = serde_json::json!("Advanced life support");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload.to_string()),
        parts[2]
    );
    let (ok, said) = verify(&jwks, forged.as_bytes(), &iss);
    assert!(!ok, "a forged credential passed: {said}");
    let (_, _, other_jwks) = app.visitor("riverside").get_bytes("/.well-known/jwks.json").await;
    assert_ne!(other_jwks, jwks, "each trust has its own key");
    let (ok, _) = verify(&other_jwks, &jwt, &iss);
    assert!(!ok, "another trust's key does not verify it");
    // After the operator key is rotated, the trust signs with a new key and still publishes the
    // old one while it is retired: the credential issued before still verifies.
    let mut rotated = app.config.clone();
    rotated.secrets.retired_keys = vec![rotated.secrets.key.clone()];
    rotated.secrets.key = "cd34".repeat(16);
    let after = trellis_web::start(rotated, app.dbs().await).await.unwrap();
    let mut there = trellis_testkit::Visitor::new(after.addr, &trellis_testkit::TestApp::host_of("northmoor"));
    let (_, _, both) = there.get_bytes("/.well-known/jwks.json").await;
    let listed: serde_json::Value = serde_json::from_slice(&both).unwrap();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2, "{listed}");
    assert_ne!(listed["keys"][0], serde_json::from_slice::<serde_json::Value>(&jwks).unwrap()["keys"][0]);
    let (ok, said) = verify(&both, &jwt, &iss);
    assert!(ok, "a credential from before the rotation: {said}");

    // The export is audited.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let trail = trellis_db::audit::trail_of(&tx, "record.exported", 5).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trail.len(), 1);
}

/// Ann's account as a trust's learning record store knows her: its site and an opaque name.
fn actor_at(
    app: &trellis_testkit::TestApp,
    slug: &str,
    tenant: trellis_domain::TenantId,
    person: trellis_domain::PersonId,
) -> serde_json::Value {
    let home = format!("http://{}:{}", trellis_testkit::TestApp::host_of(slug), app.addr.port());
    serde_json::json!({ "objectType": "Agent", "account": {
        "homePage": home, "name": trellis_web::learner_name(tenant, person) } })
}

/// Puts a statement about `actor` into `slug`'s LRS (with a credential issued there).
async fn say(app: &trellis_testkit::TestApp, slug: &str, actor: serde_json::Value, activity: &str) {
    use base64::Engine as _;
    let dbs = app.dbs().await;
    let (key, secret) =
        trellis_web::issue_lrs_credential(&dbs, app.tenant_id(slug).await, "Content", "write", "1.0.3").await.unwrap();
    let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")));
    let body = serde_json::json!({
        "actor": actor,
        "verb": { "id": "http://adlnet.gov/expapi/verbs/experienced", "display": { "en-GB": "experienced" } },
        "object": { "id": format!("https://content.example/{activity}") },
    });
    let mut v = app.visitor(slug);
    let r = v
        .send(
            "POST",
            "/xapi/statements",
            &[("authorization", &auth), ("x-experience-api-version", "1.0.3"), ("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_export_holds_the_statements_about_the_learner_at_every_trust_and_nobody_elses() {
    let app = trellis_testkit::spawn_app().await;
    let fire = app.course("northmoor", "nm-fire", "Fire safety").page("Exits", "Know them").published().create().await;
    let hands = app.course("riverside", "rv-hands", "Hand hygiene").page("Moments", "Five").published().create().await;
    let (mut ann, ann_id) = app.person("northmoor", "ann@nhs.example").signed_in().await;
    let (mut ann_there, _) = app.person("riverside", "ann@nhs.example").signed_in().await;
    let (mut bob, bob_id) = app.person("northmoor", "bob@northmoor.example").signed_in().await;
    learn(&mut ann, fire).await;
    learn(&mut ann_there, hands).await;
    learn(&mut bob, fire).await;
    let (north, river, fen) =
        (app.tenant_id("northmoor").await, app.tenant_id("riverside").await, app.tenant_id("fenwick").await);
    say(&app, "northmoor", actor_at(&app, "northmoor", north, ann_id), "ann-at-northmoor").await;
    say(&app, "riverside", actor_at(&app, "riverside", river, ann_id), "ann-at-riverside").await;
    say(&app, "northmoor", actor_at(&app, "northmoor", north, bob_id), "bob-at-northmoor").await;
    // A trust where Ann has never learnt: its LRS is not read, even with her account there.
    say(&app, "fenwick", actor_at(&app, "fenwick", fen, ann_id), "ann-at-fenwick").await;

    let t = ann.get("/account/export").await.csrf().unwrap();
    let (status, _, bytes) = ann.post_bytes("/account/export", &[("csrf_token", &t), ("approve", "yes")]).await;
    assert_eq!(status, 200);
    let files = unzip(&bytes);
    let statements: serde_json::Value = serde_json::from_slice(&files["statements.json"]).unwrap();
    let said: Vec<(String, String)> = statements
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["trust"].as_str().unwrap().to_owned(), s["statement"]["object"]["id"].as_str().unwrap().to_owned()))
        .collect();
    let about = |a: &str| said.iter().filter(|(_, id)| id.ends_with(a)).map(|(t, _)| t.as_str()).collect::<Vec<_>>();
    assert_eq!(about("ann-at-northmoor"), ["Northmoor Teaching Hospitals NHS Foundation Trust"], "{said:?}");
    assert_eq!(about("ann-at-riverside").len(), 1, "{said:?}");
    assert!(about("bob-at-northmoor").is_empty() && about("ann-at-fenwick").is_empty(), "{said:?}");
    let readme = String::from_utf8(files["README.txt"].clone()).unwrap();
    assert!(readme.contains("organisation you learnt at"), "{readme}");
}

#[tokio::test]
async fn completions_go_to_a_linked_eportfolio_lrs_until_the_learner_unlinks() {
    use trellis_testkit::BASE;
    // The ePortfolio is another trust's learning record store on this server: its name resolves
    // to this machine (a development setting), as a browser resolves *.localhost.
    let app = trellis_testkit::spawn_app_with(None, |c| {
        c.development.hosts.insert(format!("riverside.{BASE}"), std::net::Ipv4Addr::LOCALHOST.into());
    })
    .await;
    let dbs = app.dbs().await;
    let riverside = app.tenant_id("riverside").await;
    let (key, secret) =
        trellis_web::issue_lrs_credential(&dbs, riverside, "ePortfolio", "write", "1.0.3").await.unwrap();
    let course = |code: &'static str, title: &'static str| {
        app.course("northmoor", code, title).page("Start", "Read this").published().create()
    };
    let fire = course("nm-fire", "Fire safety").await;
    let sepsis = course("nm-sepsis", "Sepsis awareness").await;
    let manual = course("nm-manual", "Moving and handling").await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").signed_in().await;
    learn(&mut ann, fire).await;

    let page = ann.get("/account/export").await;
    let t = page.csrf().unwrap();
    // Bad input is named; a local address is refused outside development (tested for single
    // sign-on in the same guard), and a URL with a query is not an endpoint.
    let bad = ann
        .post(
            "/account/export/links",
            &[("csrf_token", &t), ("endpoint", "ftp://lrs.example/xapi"), ("username", ""), ("secret", "s")],
        )
        .await;
    assert!(
        bad.status == 422 && bad.body.contains("href=\"#endpoint\"") && bad.body.contains("href=\"#username\""),
        "{}",
        bad.body
    );
    let endpoint = format!("http://riverside.{BASE}:{}/xapi/", app.addr.port());
    let ok = ann
        .post(
            "/account/export/links",
            &[("csrf_token", &t), ("endpoint", &endpoint), ("username", &key), ("secret", &secret)],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    // The secret is kept sealed.
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let ann_id = trellis_db::identity::member_by_email(&tx, "ann@northmoor.example").await.unwrap().unwrap();
    let links = trellis_db::portfolio::links_of(&tx, ann_id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!links[0].secret_sealed.contains(&secret) && !links[0].secret_sealed.is_empty());
    // Another trust can neither read the link nor end it.
    let rtx = dbs.app.begin(riverside).await.unwrap();
    assert!(trellis_db::portfolio::links_of(&rtx, ann_id).await.unwrap().is_empty());
    assert!(trellis_db::portfolio::by_id(&rtx, links[0].id).await.unwrap().is_none());
    assert!(!trellis_db::portfolio::unlink(&rtx, ann_id, links[0].id).await.unwrap());
    rtx.rollback().await.unwrap();

    let stored = || async {
        let tx = dbs.app.begin_read(riverside).await.unwrap();
        let all =
            trellis_db::xapi::query(&tx, &trellis_db::xapi::Query { limit: 100, ..Default::default() }).await.unwrap();
        tx.commit().await.unwrap();
        all.iter().map(|s| s.body.clone()).collect::<Vec<_>>()
    };
    // The completion made before linking arrives, then a new one.
    assert!(super::eventually(std::time::Duration::from_secs(20), || async { stored().await.len() == 1 }).await);
    learn(&mut ann, sepsis).await;
    assert!(super::eventually(std::time::Duration::from_secs(20), || async { stored().await.len() == 2 }).await);
    let bodies = stored().await.join("\n");
    assert!(
        bodies.contains("mailto:ann@northmoor.example")
            && bodies.contains("http://adlnet.gov/expapi/verbs/completed")
            && bodies.contains("Sepsis awareness")
            && bodies.contains("Fire safety"),
        "{bodies}"
    );
    let shown = ann.get("/account/export").await;
    assert!(shown.body.contains(&endpoint) && shown.body.contains("Linked"), "{}", shown.body);

    // Unlinked: the next completion is not sent (its job finds no live link and ends).
    let at = shown.body.find("action=\"/account/export/links/").unwrap() + "action=\"".len();
    let unlink: String = shown.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = shown.csrf().unwrap();
    assert_eq!(ann.post(&unlink, &[("csrf_token", &t)]).await.status, 303);
    learn(&mut ann, manual).await;
    // Wait for the worker to have run every queued job (the last completion's among them).
    assert!(
        super::eventually(std::time::Duration::from_secs(20), || async {
            dbs.platform
                .due_outbox_across_tenants(100)
                .await
                .unwrap()
                .iter()
                .all(|i| i.kind != trellis_db::portfolio::JOB)
        })
        .await
    );
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let links = trellis_db::portfolio::links_of(&tx, ann_id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(links[0].sent, 2);
    assert!(links[0].unlinked_at.is_some());
    assert_eq!(stored().await.len(), 2);
}
