//! A trust admin sets up single sign-on in the browser, checked against a real OpenID provider on
//! loopback, and a learner then signs in with it.

use serde_json::json;
use trellis_db::audit;
use trellis_domain::identity::Role;
use trellis_testkit::{OidcPeer, spawn_app};

const PW: &str = "violet tractor harbour";

fn send(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn a_trust_admin_sets_up_single_sign_on_which_then_works_and_stays_their_trusts_own() {
    let app = spawn_app().await;
    let callback = format!("http://fenwick.trellis.test:{}/sso/callback", app.addr.port());
    let peer = OidcPeer::start(
        json!([{ "client_id": "trellis-fenwick", "client_secret": "fenwick-secret-123", "redirect_uris": [callback] }]),
        json!([{ "sub": "u-fay", "email": "fay@fenwickdale.example", "email_verified": true, "given_name": "Fay", "family_name": "Fenn" }]),
    )
    .await;
    app.member("fenwick", "boss@fenwickdale.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("fenwick");
    boss.sign_in_and_agree("boss@fenwickdale.example", PW).await;
    let page = boss.get("/admin/sso").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&callback), "the redirect address to register is shown");

    let form = |issuer: &str, secret: &str, label: &str| {
        vec![
            ("issuer".to_owned(), issuer.to_owned()),
            ("client_id".to_owned(), "trellis-fenwick".to_owned()),
            ("client_secret".to_owned(), secret.to_owned()),
            ("label".to_owned(), label.to_owned()),
            ("claim_email".to_owned(), "email".to_owned()),
            ("claim_email_verified".to_owned(), "email_verified".to_owned()),
            ("claim_given_name".to_owned(), "given_name".to_owned()),
            ("claim_family_name".to_owned(), "family_name".to_owned()),
            ("action".to_owned(), "save".to_owned()),
        ]
    };

    // Refused: an issuer that is not a provider, a missing secret, a plain-http remote issuer.
    let nowhere = form("http://127.0.0.1:9/no-provider", "fenwick-secret-123", "Sign in with FenAthens");
    let page = boss.submit("/admin/sso", "/admin/sso", &send(&nowhere)).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("We could not use the provider"), "{}", page.body);
    let no_secret = form(&peer.issuer, "", "Sign in with FenAthens");
    assert!(boss.submit("/admin/sso", "/admin/sso", &send(&no_secret)).await.body.contains("Enter the client secret"));
    let plain = form("http://idp.example.org", "x", "Sign in");
    assert_eq!(boss.submit("/admin/sso", "/admin/sso", &send(&plain)).await.status, 422);
    assert!(!app.visitor("fenwick").get("/sign-in").await.body.contains("/sso/start"), "nothing saved");

    // Saved after the provider's discovery document was read.
    let good = form(&peer.issuer, "fenwick-secret-123", "Sign in with FenAthens");
    let saved = boss.submit("/admin/sso", "/admin/sso", &send(&good)).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = boss.get("/admin/sso").await;
    assert!(!page.body.contains("fenwick-secret-123"), "the secret is never shown back");
    assert!(page.body.contains("A secret is stored"));
    // Stored sealed under the operator key (secrets at rest), never in clear.
    let entries = app.dbs().await.platform.directory_of_all_tenants().await.unwrap();
    let stored = entries.into_iter().find(|e| e.slug == "fenwick").unwrap().sso.unwrap().client_secret;
    assert!(stored.starts_with("tk1.") && !stored.contains("fenwick-secret-123"), "{stored}");

    // A new label, the secret left empty: kept.
    let relabel = form(&peer.issuer, "", "Sign in with your Fenwick account");
    assert_eq!(boss.submit("/admin/sso", "/admin/sso", &send(&relabel)).await.status, 303);

    // A learner signs in with it end to end.
    let mut fay = app.visitor("fenwick");
    assert!(fay.get("/sign-in").await.body.contains("Sign in with your Fenwick account"));
    let start = fay.get("/sso/start?login_hint=u-fay").await;
    assert_eq!(start.status, 303);
    let back = peer.authorize(&start.location.unwrap()).await;
    let done = fay.get(&back).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/")), "{}", done.body);
    fay.accept_terms().await;
    assert!(fay.get("/profile").await.body.contains("Fay Fenn"));

    // Only Fenwick has it; a learner cannot change it; the change is in the audit trail.
    assert!(!app.visitor("riverside").get("/sign-in").await.body.contains("/sso/start"));
    app.member("riverside", "boss@riverside.example", PW, &[Role::TrainingManager]).await;
    let mut other = app.visitor("riverside");
    other.sign_in_and_agree("boss@riverside.example", PW).await;
    assert!(!other.get("/admin/sso").await.body.contains(&peer.issuer), "another trust's admin sees none of it");
    let t = fay.get("/profile").await.csrf().unwrap();
    let denied = fay.post("/admin/sso", &[("csrf_token", t.as_str()), ("action", "remove")]).await;
    assert_eq!(denied.status, 403);
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("fenwick").await).await.unwrap();
    let trail = audit::trail(&tx, 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.action == "sso.settings_changed").count(), 2);
    assert!(trail.iter().all(|e| !e.detail.contains("fenwick-secret-123")), "no secret in the audit trail");

    // Turned off: the button goes.
    let off = boss.submit("/admin/sso", "/admin/sso", &[("action", "remove")]).await;
    assert_eq!(off.status, 303);
    assert!(!app.visitor("fenwick").get("/sign-in").await.body.contains("/sso/start"));
}

/// A loopback HTTP listener answering every request with `response`, counting connections: the
/// place an attacker would aim the server at. `None`: never answers (counts only).
async fn listener(response: Option<String>) -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = s.read(&mut buf).await;
                if let Some(r) = response {
                    let _ = s.write_all(r.as_bytes()).await;
                }
            });
        }
    });
    (addr, hits)
}

fn http_json(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn sso_form(issuer: &str) -> Vec<(String, String)> {
    [
        ("issuer", issuer),
        ("client_id", "trellis"),
        ("client_secret", "a-secret"),
        ("label", "Sign in"),
        ("claim_email", "email"),
        ("claim_email_verified", "email_verified"),
        ("claim_given_name", "given_name"),
        ("claim_family_name", "family_name"),
        ("action", "save"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The message a refused issuer gets, whatever the reason.
fn issuer_error(body: &str) -> String {
    let at = body.find("id=\"issuer-error\"").map_or(0, |i| i);
    body[at..].split("<input").next().unwrap_or_default().to_owned()
}

/// Without the development setting, a trust admin cannot make the server connect to loopback,
/// private or link-local addresses, or over plain http: the listener receives nothing.
#[tokio::test]
async fn single_sign_on_settings_cannot_reach_local_addresses_in_production() {
    let app = trellis_testkit::spawn_app_with(None, |c| c.development.allow_local_network = false).await;
    let (addr, hits) = listener(Some(http_json("200 OK", "{}"))).await;
    app.member("fenwick", "boss@fenwickdale.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("fenwick");
    boss.sign_in_and_agree("boss@fenwickdale.example", PW).await;
    let port = addr.port();
    for issuer in [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
        format!("https://a.localhost:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("http://localhost.evil.example:{port}"),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.0.0.1".to_owned(),
        "https://[fd00::1]".to_owned(),
    ] {
        let page = boss.submit("/admin/sso", "/admin/sso", &send(&sso_form(&issuer))).await;
        assert_eq!(page.status, 422, "{issuer}: {}", page.body);
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the server connected to the listener");
}

/// With the development setting (providers on this machine), the metadata still may not send the
/// server to another origin, and every failure reads the same to the admin.
#[tokio::test]
async fn provider_metadata_stays_on_the_issuers_origin_and_failures_all_read_alike() {
    let app = trellis_testkit::spawn_app().await;
    let (elsewhere, elsewhere_hits) = listener(Some(http_json("200 OK", r#"{"keys":[]}"#))).await;
    // A provider whose metadata points its keys at another origin.
    let (provider, _) = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        (addr, ())
    };
    let issuer = format!("http://{provider}");
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("http://{elsewhere}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string();
    let l = tokio::net::TcpListener::bind(provider).await.unwrap();
    let served = http_json("200 OK", &doc);
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = vec![0u8; 8192];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(served.as_bytes()).await;
        }
    });
    let (not_found, _) = listener(Some(http_json("404 Not Found", "{}"))).await;
    let (not_json, _) = listener(Some(http_json("200 OK", "<html>hello</html>"))).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };

    app.member("fenwick", "boss@fenwickdale.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("fenwick");
    boss.sign_in_and_agree("boss@fenwickdale.example", PW).await;
    let mut messages = Vec::new();
    for issuer in
        [issuer.clone(), format!("http://{not_found}"), format!("http://{not_json}"), format!("http://{closed}")]
    {
        let page = boss.submit("/admin/sso", "/admin/sso", &send(&sso_form(&issuer))).await;
        assert_eq!(page.status, 422, "{issuer}: {}", page.body);
        messages.push(issuer_error(&page.body).replace(&issuer, "ISSUER"));
    }
    assert_eq!(elsewhere_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "keys fetched from another origin");
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "the messages differ: {messages:#?}");
    for word in ["refused", "404", "JSON", "json", "connect", "origin"] {
        assert!(!messages[0].contains(word), "{word} in {}", messages[0]);
    }
}
