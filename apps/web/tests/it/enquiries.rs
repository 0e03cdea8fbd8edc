//! The enquiry desk: anyone sends an enquiry from a trust's *Contact us* form and gets a
//! reference and an acknowledgement with a private link; the trust's training managers are told,
//! answer it (emailed, threaded by reference) and close it; the enquirer follows up through the
//! link; a request to close an account says by when it will be dealt with; bad input is refused
//! with the fields named and nothing kept; another trust sees none of it.

use trellis_domain::identity::Role;
use trellis_testkit::spawn_app;

fn path_of(link: &str) -> String {
    format!("/{}", link.split_once("://").unwrap().1.split_once('/').unwrap().1)
}

#[tokio::test]
async fn an_enquiry_is_acknowledged_answered_followed_up_and_closed_at_its_own_trust_only() {
    let app = spawn_app().await;
    let (mut boss, boss_id) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut learner, _) = app.person("northmoor", "lee@northmoor.example").signed_in().await;

    // Not signed in: the form, then bad input (every field named, nothing kept).
    let mut visitor = app.visitor("northmoor");
    let form = visitor.get("/contact").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("within 5 working days"));
    let t = form.csrf().unwrap();
    let bad = visitor.post("/contact", &[("csrf_token", &t), ("email", "not an address"), ("message", "  ")]).await;
    assert_eq!(bad.status, 400);
    for said in ["Enter your name", "correct format", "Choose what your enquiry is about", "Enter your message"] {
        assert!(bad.body.contains(said), "{said}: {}", bad.body);
    }
    assert!(bad.body.contains("href=\"#name\"") && bad.body.contains("aria-describedby=\"message-error\""));
    assert!(boss.get("/admin/enquiries").await.body.contains("0 enquiries"), "nothing kept");

    // A request to close an account: a reference, the day it will be dealt with, two emails.
    let sent = visitor
        .post(
            "/contact",
            &[
                ("csrf_token", &t),
                ("name", "Jo Visitor"),
                ("email", "Jo.Visitor@Example.NHS.uk"),
                ("topic", "account"),
                ("message", "Please close my account.\nI have left the trust."),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let reference = sent.body.split("ENQ-").nth(1).map(|s| format!("ENQ-{}", &s[..8])).expect("a reference");
    assert!(sent.body.contains("within 5 working days, by"), "{}", sent.body);
    let ack = app.mail.wait_for("jo.visitor@example.nhs.uk", &format!("[{reference}] We have your enquiry")).await;
    assert!(ack.text.contains("within 5 working days"), "{}", ack.text);
    assert!(!ack.text.contains("Please close my account."), "the message is not echoed to whatever address was typed");
    let link = path_of(&ack.link("/contact/").expect("a private link"));
    let told = app.mail.wait_for("boss@northmoor.example", &format!("[{reference}] New enquiry")).await;
    let desk_path = path_of(&told.link("/admin/enquiries/").expect("a link to it"));

    // The desk: listed as waiting, with its due day; the thread; a reply is emailed, threaded.
    let list = boss.get("/admin/enquiries").await;
    assert!(list.body.contains(&reference) && list.body.contains("Waiting for a reply"), "{}", list.body);
    let page = boss.get(&desk_path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("I have left the trust.") && page.body.contains("To be dealt with by"));
    assert!(page.body.contains("sent by someone not signed in"), "{}", page.body);
    let t = page.csrf().unwrap();
    let empty = boss.post(&format!("{desk_path}/reply"), &[("csrf_token", &t), ("message", "")]).await;
    assert_eq!(empty.status, 400);
    assert!(empty.body.contains("Enter your reply"));
    let replied = boss
        .post(&format!("{desk_path}/reply"), &[("csrf_token", &t), ("message", "Which email address did you use?")])
        .await;
    assert_eq!(replied.status, 303);
    assert!(boss.get(&desk_path).await.body.contains("Your reply has been sent"));
    let re = app.mail.wait_for("jo.visitor@example.nhs.uk", &format!("Re: [{reference}]")).await;
    assert!(re.text.contains("Which email address did you use?"));

    // The enquirer reads it through the link and answers; a wrong token is nobody's.
    let mut jo = app.visitor("northmoor");
    let thread = jo.get(&link).await;
    assert_eq!(thread.status, 200, "{}", thread.body);
    assert!(thread.body.contains("Which email address did you use?") && thread.body.contains("Answered"));
    assert!(!thread.body.contains("boss@northmoor.example"), "staff addresses stay inside");
    let guessed = format!("{}token=guessed", link.split("token=").next().unwrap());
    assert_eq!(jo.get(&guessed).await.status, 404);
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let id = desk_path.rsplit('/').next().unwrap().to_owned();
    let t = thread.csrf().unwrap();
    let more = jo
        .post(
            &format!("/contact/{id}"),
            &[("csrf_token", &t), ("token", &token), ("message", "jo.visitor@example.nhs.uk")],
        )
        .await;
    assert_eq!(more.status, 303, "{}", more.body);
    app.mail.wait_for("boss@northmoor.example", &format!("[{reference}] A reply to an enquiry")).await;
    assert!(boss.get("/admin/enquiries").await.body.contains(&reference), "waiting for the desk again");

    // Another trust's manager, and a learner here, cannot see or touch it.
    assert!(!rex.get("/admin/enquiries?status=all").await.body.contains(&reference));
    assert_eq!(rex.get(&desk_path).await.status, 404);
    let rt = rex.get("/admin/enquiries").await.csrf().unwrap_or_default();
    assert_eq!(rex.post(&format!("{desk_path}/reply"), &[("csrf_token", &rt), ("message", "x")]).await.status, 404);
    assert_eq!(
        rex.post(&format!("{desk_path}/status"), &[("csrf_token", &rt), ("decision", "close")]).await.status,
        404
    );
    let mut elsewhere = app.visitor("riverside");
    assert_eq!(elsewhere.get(&link).await.status, 404, "the link works only at its own trust");
    assert_ne!(learner.get("/admin/enquiries").await.status, 200);

    // Closed: listed under Closed, and the enquirer can no longer add to it.
    let t = boss.get(&desk_path).await.csrf().unwrap();
    assert_eq!(
        boss.post(&format!("{desk_path}/status"), &[("csrf_token", &t), ("decision", "close")]).await.status,
        303
    );
    assert!(boss.get("/admin/enquiries?status=closed").await.body.contains(&reference));
    assert!(jo.get(&link).await.body.contains("This enquiry is closed"));

    // All of it is in the trust's audit trail.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let trail = trellis_db::audit::trail(&tx, 200).await.unwrap();
    tx.commit().await.unwrap();
    for action in ["enquiry.received", "enquiry.answered", "enquiry.followed_up", "enquiry.closed"] {
        assert!(trail.iter().any(|e| e.action == action && e.subject == reference), "{action}");
    }
    assert!(trail.iter().any(|e| e.action == "enquiry.answered" && e.actor == Some(boss_id)));
}

#[tokio::test]
async fn a_members_enquiry_goes_to_their_own_address_and_one_address_is_limited() {
    let app = spawn_app().await;
    app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).create().await;
    let (mut boss, _) =
        app.person("northmoor", "boss2@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut sam, sam_id) = app.person("northmoor", "sam@northmoor.example").signed_in().await;
    let form = sam.get("/contact").await;
    assert!(form.body.contains("value=\"sam@northmoor.example\""), "filled in");
    let t = form.csrf().unwrap();
    // Signed in, the enquiry is theirs whatever address is typed.
    let sent = sam
        .post(
            "/contact",
            &[
                ("csrf_token", &t),
                ("name", "Sam"),
                ("email", "someone.else@example.com"),
                ("topic", "account"),
                ("message", "Close it"),
            ],
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    app.mail.wait_for("sam@northmoor.example", "We have your enquiry").await;
    let told = app.mail.wait_for("boss2@northmoor.example", "New enquiry").await;
    let desk_path = path_of(&told.link("/admin/enquiries/").unwrap());
    assert!(boss.get(&desk_path).await.body.contains(&format!("/admin/staff/{sam_id}/erase")), "the way to do it");
    // Five an hour from one address; the sixth is refused and not kept.
    for i in 1..5 {
        let r = sam
            .post(
                "/contact",
                &[("csrf_token", &t), ("name", "Sam"), ("topic", "general"), ("message", &format!("Question {i}"))],
            )
            .await;
        assert_eq!(r.status, 200);
    }
    let over =
        sam.post("/contact", &[("csrf_token", &t), ("name", "Sam"), ("topic", "general"), ("message", "Six")]).await;
    assert_eq!(over.status, 429, "{}", over.body);
    assert!(over.headers.get("retry-after").is_some() && over.body.contains("your message was not kept"));
    assert!(boss.get("/admin/enquiries?status=all").await.body.contains("5 enquiries"));
}

#[tokio::test]
async fn the_platform_has_its_own_desk_answered_by_its_administrators_and_no_trust_sees_it() {
    use trellis_testkit::{BASE, Visitor};
    let app = trellis_testkit::spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let mut root = crate::market::platform_admin(&app).await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;

    // The platform's form: no request to close an account (that is the trust's), every field named.
    let mut visitor = Visitor::new(app.addr, BASE);
    let form = visitor.get("/contact").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("the team that runs Trellis") && !form.body.contains("topic-account"), "{}", form.body);
    let t = form.csrf().unwrap();
    let fields = |topic: &'static str| {
        vec![
            ("name", "Pat Visitor"),
            ("email", "pat@example.nhs.uk"),
            ("topic", topic),
            ("message", "Is my trust on Trellis?"),
        ]
    };
    let mut bad = vec![("csrf_token", t.as_str())];
    bad.extend(fields("account"));
    let refused = visitor.post("/contact", &bad).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("Choose what your enquiry is about"));
    let mut good = vec![("csrf_token", t.as_str())];
    good.extend(fields("general"));
    let sent = visitor.post("/contact", &good).await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    let reference = sent.body.split("ENQ-").nth(1).map(|s| format!("ENQ-{}", &s[..8])).expect("a reference");
    let ack = app.mail.wait_for("pat@example.nhs.uk", &format!("[{reference}] We have your enquiry")).await;
    assert!(ack.text.contains("Trellis"), "{}", ack.text);
    let link = path_of(&ack.link("/contact/").expect("a private link"));
    app.mail.wait_for("root@platform.example", &format!("[{reference}] New enquiry")).await;

    // The platform's administrators answer it; no trust's desk sees it, nor its link on a trust.
    let desk = root.get("/admin/enquiries").await;
    assert!(desk.body.contains(&reference), "{}", desk.body);
    assert!(!boss.get("/admin/enquiries").await.body.contains(&reference));
    assert_eq!(app.visitor("northmoor").get(&link).await.status, 404);
    let at = desk.body.find("/admin/enquiries/0").or_else(|| desk.body.find("href=\"/admin/enquiries/")).unwrap();
    let id: String = desk.body[at..].split('"').next().unwrap().rsplit('/').next().unwrap().to_owned();
    let page = root.get(&format!("/admin/enquiries/{id}")).await;
    assert!(page.body.contains("Is my trust on Trellis?"), "{}", page.body);
    let t = page.csrf().unwrap();
    let replied = root
        .post(&format!("/admin/enquiries/{id}/reply"), &[("csrf_token", &t), ("message", "Yes: Northmoor is.")])
        .await;
    assert_eq!(replied.status, 303, "{}", replied.body);
    app.mail.wait_for("pat@example.nhs.uk", &format!("Re: [{reference}]")).await;
    let thread = visitor.get(&link).await;
    assert!(thread.body.contains("Yes: Northmoor is.") && thread.body.contains("(Trellis)"), "{}", thread.body);
    let closed =
        root.post(&format!("/admin/enquiries/{id}/status"), &[("csrf_token", &t), ("decision", "close")]).await;
    assert_eq!(closed.status, 303);
    assert!(root.get(&format!("/admin/enquiries/{id}")).await.body.contains("is closed"));
    // Not a platform administrator: nothing.
    let mut stranger = Visitor::new(app.addr, BASE);
    assert_eq!(stranger.get("/admin/enquiries").await.location.as_deref(), Some("/sign-in"));
}
