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
fn verify(jwks: &[u8], jwt: &[u8], issuer: &str) -> (bool, String) {
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

    // The export is audited.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin_read(app.tenant_id("northmoor").await).await.unwrap();
    let trail = trellis_db::audit::trail_of(&tx, "record.exported", 5).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(trail.len(), 1);
}
