//! The shape of a request: who may call a page is settled before its handler runs, denials are
//! errors made into the same redirects and pages everywhere, and a signed-in page costs one
//! database transaction (the sign-in check and the page read in it together).

use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, spawn_app};

const PW: &str = "violet tractor harbour";

fn begun(app: &TestApp) -> u64 {
    app.server.as_ref().expect("running").state.dbs.app.transactions_begun()
}

#[tokio::test]
async fn a_manager_page_and_a_learner_page_each_run_one_transaction() {
    let app = spawn_app().await;
    app.member("northmoor", "tm@northmoor.nhs.uk", PW, &[Role::TrainingManager]).await;
    app.member("northmoor", "nurse@northmoor.nhs.uk", PW, &[]).await;
    let mut manager = app.visitor("northmoor");
    manager.sign_in_and_agree("tm@northmoor.nhs.uk", PW).await;
    let mut learner = app.visitor("northmoor");
    learner.sign_in_and_agree("nurse@northmoor.nhs.uk", PW).await;
    // First visits settle what a session keeps (the terms check); then each page is measured.
    for (who, path) in [(0, "/admin/staff"), (0, "/admin/approvals"), (1, "/learning")] {
        let v = if who == 0 { &mut manager } else { &mut learner };
        assert_eq!(v.get(path).await.status, 200, "{path}");
    }
    // Background work (the compliance totals a manager's sign-in warms) settles first.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    for (who, path) in
        [(0, "/admin/staff"), (0, "/admin/approvals"), (0, "/admin/audit"), (1, "/learning"), (1, "/courses")]
    {
        let v = if who == 0 { &mut manager } else { &mut learner };
        let before = begun(&app);
        let page = v.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_eq!(begun(&app) - before, 1, "{path} ran more than one transaction");
    }
    app.stop().await;
}

#[tokio::test]
async fn denials_are_the_same_redirects_and_pages_on_every_route() {
    let app = spawn_app().await;
    app.member("northmoor", "nurse@northmoor.nhs.uk", PW, &[]).await;
    // Not signed in: every signed-in page sends the browser to sign in.
    let mut stranger = app.visitor("northmoor");
    for path in ["/learning", "/profile", "/admin/staff", "/admin/courses", "/marketplace", "/selling", "/admin/lrs"] {
        let page = stranger.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/sign-in"), "{path}");
    }
    // Signed in without the permission: a 403 page saying so, with a way home.
    let mut nurse = app.visitor("northmoor");
    nurse.sign_in_and_agree("nurse@northmoor.nhs.uk", PW).await;
    for path in ["/admin/staff", "/admin/courses", "/admin/compliance", "/marketplace", "/selling", "/admin/api-tokens"]
    {
        let page = nurse.get(path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(page.body.contains("You do not have permission to see this page"), "{path}");
        assert!(page.body.contains("href=\"/\""), "{path}");
    }
    // The platform's administration, likewise, sends a stranger to its sign-in page.
    let page = app.get(trellis_testkit::BASE, "/admin").await;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers().get("location").and_then(|v| v.to_str().ok()), Some("/sign-in"));
    app.stop().await;
}
