//! Single sign-on against a real OpenID provider on loopback, and the attacks on it.

use serde_json::json;
use trellis_db::audit;
use trellis_testkit::{OidcPeer, TestApp, Visitor, spawn_app};

/// Starts a provider whose client is northmoor's callback on this app, and gives northmoor
/// single sign-on with it (issuer as given, or the provider's own).
async fn with_sso(app: &TestApp, as_localhost: bool) -> OidcPeer {
    let callback = format!("http://northmoor.trellis.test:{}/sso/callback", app.addr.port());
    let peer = OidcPeer::start(
        json!([{ "client_id": "trellis-northmoor", "client_secret": "test-secret", "redirect_uris": [callback] }]),
        json!([
            { "sub": "u-alice", "email": "alice@northmoor.example", "email_verified": true, "given_name": "Alice", "family_name": "Anders" },
            { "sub": "u-mallory", "email": "taken@northmoor.example", "email_verified": false, "given_name": "Mal", "family_name": "Lory" },
            { "sub": "u-owner", "email": "owner@northmoor.example", "email_verified": true, "given_name": "Owen", "family_name": "Owner" },
            { "sub": "u-bob", "email": "bob@elsewhere.example", "email_verified": true, "given_name": "Bob", "family_name": "Brown" }
        ]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let src = trellis_testkit::demo_tenants().join("northmoor");
    std::fs::create_dir_all(dir.path().join("northmoor")).unwrap();
    for f in ["tenant.toml", "logo.svg"] {
        std::fs::copy(src.join(f), dir.path().join("northmoor").join(f)).unwrap();
    }
    let mut toml = std::fs::read_to_string(dir.path().join("northmoor/tenant.toml")).unwrap();
    let issuer = if as_localhost { peer.issuer.replace("127.0.0.1", "localhost") } else { peer.issuer.clone() };
    toml.push_str(&format!(
        "\n[sso]\nissuer = \"{issuer}\"\nclient_id = \"trellis-northmoor\"\nclient_secret = \"test-secret\"\nlabel = \"Sign in with TestAthens\"\n"
    ));
    std::fs::write(dir.path().join("northmoor/tenant.toml"), toml).unwrap();
    let report = trellis_testkit::apply_dir(&app.config, &app.dbs().await, dir.path(), false).await.unwrap();
    assert!(report.lines.iter().any(|l| l.contains("single sign-on set")), "{:?}", report.lines);
    app.reload().await;
    peer
}

/// Begins a sign-in as `hint`; returns the provider URL the site sent the browser to.
async fn begin(v: &mut Visitor, hint: &str) -> String {
    let page = v.get(&format!("/sso/start?login_hint={hint}")).await;
    assert_eq!(page.status, 303, "{}", page.body);
    page.location.unwrap()
}

async fn refusals(app: &TestApp) -> Vec<String> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = audit::trail(&tx, 500).await.unwrap();
    tx.rollback().await.unwrap();
    trail.into_iter().filter(|e| e.action == "sso.refused").map(|e| e.subject).collect()
}

#[tokio::test]
async fn a_first_sign_in_creates_the_account_and_membership_and_the_next_reuses_the_link() {
    let app = spawn_app().await;
    let peer = with_sso(&app, false).await;
    let mut v = app.visitor("northmoor");
    assert!(v.get("/sign-in").await.body.contains("Sign in with TestAthens"));
    let url = begin(&mut v, "u-alice").await;
    assert!(
        url.starts_with(&peer.issuer) && url.contains("code_challenge_method=S256") && url.contains("nonce="),
        "{url}"
    );
    let back = peer.authorize(&url).await;
    let done = v.get(&back).await;
    assert_eq!((done.status, done.location.as_deref()), (303, Some("/")), "{}", done.body);
    v.accept_terms().await;
    let profile = v.get("/profile").await.body;
    assert!(profile.contains("Alice Anders") && profile.contains("alice@northmoor.example"));

    // Again, in a new browser: the link is found by subject, no second account.
    let mut again = app.visitor("northmoor");
    let url = begin(&mut again, "u-alice").await;
    let back = peer.authorize(&url).await;
    assert_eq!(again.get(&back).await.status, 303);
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin(app.tenant_id("northmoor").await).await.unwrap();
    let alice = trellis_db::identity::account_by_email(&itx, "alice@northmoor.example").await.unwrap().unwrap();
    assert!(alice.email_verified && trellis_db::identity::password_hash(&itx, alice.id).await.unwrap().is_none());
    itx.commit().await.unwrap();
}

#[tokio::test]
async fn an_ineligible_address_waits_for_approval_after_single_sign_on() {
    let app = spawn_app().await;
    let peer = with_sso(&app, false).await;
    let mut v = app.visitor("northmoor");
    let url = begin(&mut v, "u-bob").await;
    let done = v.get(&peer.authorize(&url).await).await;
    assert_eq!(done.status, 403);
    assert!(done.body.contains("waiting for approval"));
    assert_eq!(v.get("/profile").await.location.as_deref(), Some("/sign-in"));
}

#[tokio::test]
async fn an_existing_account_is_linked_only_by_a_verified_email() {
    let app = spawn_app().await;
    app.member(
        "northmoor",
        "taken@northmoor.example",
        "violet tractor harbour",
        &[trellis_domain::identity::Role::Learner],
    )
    .await;
    app.member(
        "northmoor",
        "owner@northmoor.example",
        "violet tractor harbour",
        &[trellis_domain::identity::Role::Learner],
    )
    .await;
    let peer = with_sso(&app, false).await;
    // The provider does not vouch for this address: no link, no sign-in.
    let mut v = app.visitor("northmoor");
    let url = begin(&mut v, "u-mallory").await;
    let refused = v.get(&peer.authorize(&url).await).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("We could not link your account"));
    assert_eq!(v.get("/profile").await.location.as_deref(), Some("/sign-in"));
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = audit::trail(&tx, 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(trail.iter().any(|e| e.action == "sso.refused" && e.detail.contains("unverified_email_link")));
    // A verified address links the existing account.
    let mut o = app.visitor("northmoor");
    let url = begin(&mut o, "u-owner").await;
    assert_eq!(o.get(&peer.authorize(&url).await).await.status, 303);
}

#[tokio::test]
async fn a_forged_state_or_an_injected_code_is_refused_and_recorded() {
    let app = spawn_app().await;
    let peer = with_sso(&app, false).await;
    // Forged state.
    let mut v = app.visitor("northmoor");
    let url = begin(&mut v, "u-alice").await;
    let back = peer.authorize(&url).await;
    let state = back.split("state=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let forged = back.replace(&format!("state={state}"), "state=forged-by-an-attacker");
    let r = v.get(&forged).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("We could not sign you in"));
    // The sign-in in progress is spent: replaying the genuine callback now fails too.
    assert_eq!(v.get(&back).await.status, 400);

    // A code obtained by one browser, delivered into another browser's sign-in (with that
    // browser's own state): the PKCE verifier and nonce do not match, so it is refused.
    let mut attacker = app.visitor("northmoor");
    let mut victim = app.visitor("northmoor");
    let attacker_back = peer.authorize(&begin(&mut attacker, "u-alice").await).await;
    let victim_url = begin(&mut victim, "u-alice").await;
    let victim_state = victim_url.split("state=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let code = attacker_back.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let injected = victim.get(&format!("/sso/callback?code={code}&state={victim_state}")).await;
    assert_eq!(injected.status, 400);
    assert_eq!(victim.get("/profile").await.location.as_deref(), Some("/sign-in"));
    // A callback with no sign-in under way, and a provider error.
    let mut stranger = app.visitor("northmoor");
    assert_eq!(stranger.get("/sso/callback?code=x&state=y").await.status, 400);
    assert_eq!(stranger.get("/sso/callback?error=access_denied").await.status, 400);
    let refused = refusals(&app).await;
    for why in ["state_mismatch", "token_refused", "no_sign_in_under_way", "provider_error"] {
        assert!(refused.iter().any(|r| r == why), "{why} in {refused:?}");
    }
}

#[tokio::test]
async fn a_provider_whose_issuer_is_not_the_configured_one_is_refused() {
    let app = spawn_app().await;
    // Configured as http://localhost:PORT; the provider's metadata names http://127.0.0.1:PORT.
    let _peer = with_sso(&app, true).await;
    let mut v = app.visitor("northmoor");
    let page = v.get("/sso/start?login_hint=u-alice").await;
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("We could not sign you in"));
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = audit::trail(&tx, 100).await.unwrap();
    tx.rollback().await.unwrap();
    let refusal =
        trail.iter().find(|e| e.action == "sso.refused" && e.subject == "provider_unusable").expect("recorded");
    // The reason is in the server's log, not in the trust's trail (which a trust admin could read).
    assert!(refusal.detail.contains("could not be read"), "{}", refusal.detail);
}

#[tokio::test]
async fn single_sign_on_is_not_offered_where_it_is_not_configured() {
    let app = spawn_app().await;
    let mut v = app.visitor("riverside");
    assert_eq!(v.get("/sso/start").await.status, 404);
    assert!(!v.get("/sign-in").await.body.contains("/sso/start"));
}

/// A trust's own provider cannot sign in as an account another trust answers for (a hostile
/// trust admin could configure any provider): the account's owner is asked by email first, and
/// only their link links it.
#[tokio::test]
async fn a_trusts_provider_cannot_take_over_an_account_of_another_trust() {
    let app = spawn_app().await;
    // Alice's account is Riverside's; Northmoor's provider claims her address, verified.
    app.member(
        "riverside",
        "alice@northmoor.example",
        "violet tractor harbour",
        &[trellis_domain::identity::Role::Learner],
    )
    .await;
    let peer = with_sso(&app, false).await;
    let mut v = app.visitor("northmoor");
    let url = begin(&mut v, "u-alice").await;
    let page = v.get(&peer.authorize(&url).await).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Check your email"), "{}", page.body);
    assert_eq!(v.get("/profile").await.location.as_deref(), Some("/sign-in"), "not signed in");
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let itx = dbs.identity.begin(north).await.unwrap();
    let alice = trellis_db::identity::account_by_email(&itx, "alice@northmoor.example").await.unwrap().unwrap();
    assert!(
        trellis_db::identity::membership_here(&itx, alice.id).await.unwrap().is_none(),
        "not pulled into Northmoor"
    );
    itx.commit().await.unwrap();
    // Only the owner's link links it.
    let mail = app.mail.wait_for("alice@northmoor.example", "Confirm: use Sign in with TestAthens").await;
    let link = mail.link("sso/link?token=").expect("a link");
    let path = &link[link.find("/sso/link").unwrap()..];
    let token = path.split("token=").nth(1).unwrap().to_owned();
    let mut owner = app.visitor("northmoor");
    let done = owner.submit(path, "/sso/link", &[("token", &token)]).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Your account is linked"));
    assert_eq!(owner.submit(path, "/sso/link", &[("token", &token)]).await.status, 400, "once");
    // Now the provider signs her in (northmoor.example is eligible at Northmoor: approved).
    let mut again = app.visitor("northmoor");
    let url = begin(&mut again, "u-alice").await;
    let back = again.get(&peer.authorize(&url).await).await;
    assert_eq!((back.status, back.location.as_deref()), (303, Some("/")), "{}", back.body);
}

/// A first sign-in by single sign-on is a door into the trust's staff: its rules reach them.
#[tokio::test]
async fn a_first_single_sign_on_brings_the_trusts_mandatory_training() {
    let app = spawn_app().await;
    app.seed_national().await;
    let fire = app.national_course("CSTF-FIRE").await;
    let dbs = app.dbs().await;
    let north = app.tenant_id("northmoor").await;
    let tx = dbs.app.begin(north).await.unwrap();
    trellis_db::catalogue::set_offered(&tx, fire, true, None).await.unwrap();
    let course = trellis_db::catalogue::course(&tx, fire).await.unwrap().unwrap();
    let today = chrono::Utc::now().date_naive();
    trellis_db::compliance::add_requirement(
        &tx,
        &course,
        &trellis_domain::learning::Audience::Everyone,
        true,
        Some(28),
        Some(12),
        None,
        today,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let peer = with_sso(&app, false).await;
    let mut v = app.visitor("northmoor");
    let url = begin(&mut v, "u-alice").await;
    assert_eq!(v.get(&peer.authorize(&url).await).await.status, 303);
    let itx = dbs.identity.begin(north).await.unwrap();
    let alice = trellis_db::identity::account_by_email(&itx, "alice@northmoor.example").await.unwrap().unwrap();
    itx.commit().await.unwrap();
    let tx = dbs.app.begin(north).await.unwrap();
    assert!(trellis_db::compliance::person_entry(&tx, alice.id, fire, today).await.unwrap().is_some());
    tx.rollback().await.unwrap();
}
