//! A trust admin sets up single sign-on in the browser, checked against a real OpenID provider on
//! loopback, and a learner then signs in with it.

use serde_json::json;
use trellis_core::identity::Role;
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
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/profile")), "{}", done.body);
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
    let trail = trellis_db::identity::audit_trail(&tx, 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(trail.iter().filter(|e| e.action == "sso.settings_changed").count(), 2);
    assert!(trail.iter().all(|e| !e.detail.contains("fenwick-secret-123")), "no secret in the audit trail");

    // Turned off: the button goes.
    let off = boss.submit("/admin/sso", "/admin/sso", &[("action", "remove")]).await;
    assert_eq!(off.status, 303);
    assert!(!app.visitor("fenwick").get("/sign-in").await.body.contains("/sso/start"));
}
