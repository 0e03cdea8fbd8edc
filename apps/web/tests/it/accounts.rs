//! The person's own view of their sessions (and ending one), and joining a second trust with the
//! account they already have.

use trellis_db::audit;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app};

const PW: &str = "violet tractor harbour";

/// The session ids listed on the profile, each with whether it is the one viewing.
async fn listed_sessions(v: &mut Visitor) -> Vec<(String, bool)> {
    let page = v.get("/profile").await;
    assert_eq!(page.status, 200);
    page.body
        .split("<tr>")
        .filter_map(|row| {
            let at = row.find("/account/sessions/")? + "/account/sessions/".len();
            let id = row[at..].split('/').next()?.to_owned();
            Some((id, row.contains("This session")))
        })
        .collect()
}

async fn audit_actions(app: &TestApp, slug: &str) -> Vec<String> {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
    let trail = audit::trail(&tx, 500).await.unwrap();
    tx.rollback().await.unwrap();
    trail.into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn a_person_sees_their_sessions_and_ends_one_without_ending_the_others() {
    let app = spawn_app().await;
    app.member("northmoor", "two.devices@northmoor.example", PW, &[Role::Learner]).await;
    app.member("northmoor", "someone.else@northmoor.example", PW, &[Role::Learner]).await;
    let mut laptop = app.visitor("northmoor");
    let mut phone = app.visitor("northmoor");
    laptop.sign_in_and_agree("two.devices@northmoor.example", PW).await;
    phone.sign_in_and_agree("two.devices@northmoor.example", PW).await;

    let sessions = listed_sessions(&mut laptop).await;
    assert_eq!(sessions.len(), 2, "both sessions are listed: {sessions:?}");
    assert_eq!(sessions.iter().filter(|(_, current)| *current).count(), 1, "one is marked as this session");
    let (phone_id, _) = sessions.iter().find(|(_, current)| !current).unwrap().clone();

    // Another person cannot end it: their own sessions are all they can see or end.
    let mut other = app.visitor("northmoor");
    other.sign_in_and_agree("someone.else@northmoor.example", PW).await;
    let token = other.get("/profile").await.csrf().unwrap();
    let refused = other.post(&format!("/account/sessions/{phone_id}/end"), &[("csrf_token", &token)]).await;
    assert_eq!(refused.status, 404);
    assert_eq!(phone.get("/profile").await.status, 200, "the phone is still signed in");

    // The same trust's session id on another trust's site is not found either.
    app.member("riverside", "two.devices@northmoor.example", PW, &[Role::Learner]).await;
    let mut elsewhere = app.visitor("riverside");
    elsewhere.sign_in_and_agree("two.devices@northmoor.example", PW).await;
    let token = elsewhere.get("/profile").await.csrf().unwrap();
    let cross = elsewhere.post(&format!("/account/sessions/{phone_id}/end"), &[("csrf_token", &token)]).await;
    assert_eq!(cross.status, 404, "trust B's site cannot end a session on trust A's");
    assert_eq!(phone.get("/profile").await.status, 200);

    // Without the form's token, nothing happens.
    let forged = laptop.post(&format!("/account/sessions/{phone_id}/end"), &[]).await;
    assert_eq!(forged.status, 403);
    assert_eq!(phone.get("/profile").await.status, 200);

    let token = laptop.get("/profile").await.csrf().unwrap();
    let ended = laptop.post(&format!("/account/sessions/{phone_id}/end"), &[("csrf_token", &token)]).await;
    assert_eq!(ended.status, 303);
    assert_eq!(phone.get("/profile").await.status, 303, "the phone is signed out");
    assert_eq!(laptop.get("/profile").await.status, 200, "the laptop is not");
    assert_eq!(listed_sessions(&mut laptop).await.len(), 1);
    assert!(audit_actions(&app, "northmoor").await.contains(&"session.ended".to_owned()));

    // Ending this session signs this browser out.
    let (mine, _) = listed_sessions(&mut laptop).await[0].clone();
    let token = laptop.get("/profile").await.csrf().unwrap();
    assert_eq!(laptop.post(&format!("/account/sessions/{mine}/end"), &[("csrf_token", &token)]).await.status, 303);
    assert_eq!(laptop.get("/profile").await.status, 303);
    // Signing out everywhere leaves no session listed on any trust's site.
    let token = elsewhere.get("/profile").await.csrf().unwrap();
    assert_eq!(elsewhere.post("/sign-out-everywhere", &[("csrf_token", &token)]).await.status, 303);
    laptop.sign_in_and_agree("two.devices@northmoor.example", PW).await;
    assert_eq!(listed_sessions(&mut laptop).await.len(), 1, "only the new one");
}

#[tokio::test]
async fn a_member_of_one_trust_joins_another_with_the_same_account() {
    let app = spawn_app().await;
    // A Riverside member whose address Northmoor recognises.
    app.member("riverside", "moving@northmoor.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("northmoor");
    // The right password where the account is not a member reads like a wrong one (it must not
    // confirm a guess), with the way to join offered to everyone.
    let page = v.sign_in("moving@northmoor.example", PW).await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("Enter a correct email address and password") && page.body.contains("href=\"/join\""),
        "{}",
        page.body
    );

    let wrong =
        v.submit("/join", "/join", &[("email", "moving@northmoor.example"), ("password", "not it at all")]).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Enter a correct email address and password"));
    let stranger = v.submit("/join", "/join", &[("email", "nobody@northmoor.example"), ("password", PW)]).await;
    assert_eq!(stranger.status, 401, "the same answer for an address with no account");

    let joined = v.submit("/join", "/join", &[("email", "moving@northmoor.example"), ("password", PW)]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    let page = v.accept_terms().await;
    assert_eq!(page.status, 303);
    let profile = v.get("/profile").await;
    assert_eq!(profile.status, 200);
    assert!(profile.body.contains("Riverside") && profile.body.contains("Northmoor"), "both trusts are listed");
    assert!(audit_actions(&app, "northmoor").await.contains(&"membership.joined".to_owned()));
    // One person: the same id in both trusts.
    let dbs = app.dbs().await;
    let itx = dbs.identity.begin_platform().await.unwrap();
    let people = trellis_db::identity::account_by_email(&itx, "moving@northmoor.example").await.unwrap().unwrap();
    itx.commit().await.unwrap();
    let itx = dbs.identity.begin_platform().await.unwrap();
    let memberships = trellis_db::identity::memberships_of(&itx, people.id).await.unwrap();
    itx.commit().await.unwrap();
    assert_eq!(memberships.len(), 2);

    // Joining again says so and changes nothing.
    let mut again = app.visitor("northmoor");
    let page = again.submit("/join", "/join", &[("email", "moving@northmoor.example"), ("password", PW)]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("already a member"));
}

#[tokio::test]
async fn joining_with_an_unrecognised_address_waits_for_approval_and_registering_again_points_to_join() {
    let app = spawn_app().await;
    app.member("riverside", "agency@locums.example", PW, &[Role::Learner]).await;
    let mut v = app.visitor("fenwick");
    let page = v.submit("/join", "/join", &[("email", "agency@locums.example"), ("password", PW)]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("waiting for approval"));
    assert_eq!(v.get("/profile").await.status, 303, "not signed in while pending");
    let pending = v.sign_in("agency@locums.example", PW).await;
    assert_eq!(pending.status, 403);
    assert!(pending.body.contains("waiting for approval"));
    // Fenwick's admins see them in the queue; Riverside's membership is untouched.
    app.member("fenwick", "boss@fenwickdale.example", PW, &[Role::TrainingManager]).await;
    let mut boss = app.visitor("fenwick");
    boss.sign_in_and_agree("boss@fenwickdale.example", PW).await;
    assert!(boss.get("/admin/approvals").await.body.contains("agency@locums.example"));
    let mut home = app.visitor("riverside");
    home.sign_in_and_agree("agency@locums.example", PW).await;
    assert_eq!(home.get("/profile").await.status, 200);

    // Someone registering at Northmoor with that address: the owner is told to join instead.
    let mut r = app.visitor("northmoor");
    let fields = [
        ("given_name", "Agency"),
        ("family_name", "Nurse"),
        ("email", "agency@locums.example"),
        ("password", "another violet tractor"),
        ("job_role", "Nurse"),
        ("place_of_work", "XN1"),
        ("register_kind", "none"),
        ("register_number", ""),
    ];
    assert_eq!(r.submit("/register", "/register", &fields).await.status, 200);
    let mail = app.mail.wait_for("agency@locums.example", "You already have an account").await;
    assert!(mail.link("/join").is_some(), "the email offers to join with the existing account");
}
