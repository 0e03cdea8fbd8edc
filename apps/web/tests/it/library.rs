//! The resource library: a contributor accepts the content policy and shares a resource under a
//! licence (shown with its deed, `rel="license"`); bad input (an unknown licence, a file whose
//! content is not what its kind says, an infected file, an image without alt text, captions that
//! are not WebVTT) names each field and keeps nothing; everyone at the trust finds it by search,
//! rates and gives feedback; its contributor publishes versions; an editor adds it to a course,
//! where learners see it; video streams in byte ranges with captions; reports go to the trust's
//! moderators, who hide, remove (the contributor is told why) and restore; a proposal accepted by
//! the platform appears in every trust's library, where reports go to the platform; no other
//! trust can read or act on a trust's resources.

use crate::elearning::{new_course, publish, sessions_of, token};
use crate::uploads::stored;
use trellis_domain::identity::Role;
use trellis_testkit::{BASE, ClamdPeer, Visitor, eicar, spawn_app, spawn_app_with};

pub(crate) fn pdf(words: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {words}\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n").into_bytes()
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    b.extend_from_slice(&[0u8; 64]);
    b
}

fn mp4() -> Vec<u8> {
    let mut b = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    b.extend((0..4000u32).map(|i| (i % 251) as u8));
    b
}

const VTT: &[u8] = b"WEBVTT\n\n00:00.000 --> 00:02.000\nWash your hands for twenty seconds.\n";

/// Shares a resource through the form and returns its page's path.
pub(crate) async fn share(v: &mut Visitor, fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> String {
    let t = token(v, "/library/new").await;
    let mut all = vec![("csrf_token", t.as_str()), ("policy", "yes"), ("confirm", "yes")];
    all.extend_from_slice(fields);
    let done = v.post_files("/library", &all, files).await;
    assert_eq!(done.status, 303, "{}", done.body);
    done.location.expect("to the resource")
}

async fn everyone_may_share(boss: &mut Visitor) {
    let t = token(boss, "/admin/library").await;
    let saved = boss.post("/admin/library/settings", &[("csrf_token", &t), ("contributors", "everyone")]).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
}

#[tokio::test]
async fn a_resource_is_shared_under_a_licence_found_rated_versioned_and_used_in_a_course() {
    let clamd = ClamdPeer::start().await;
    let app = spawn_app_with(None, |c| {
        c.uploads.scan = "required".into();
        c.uploads.clamd = clamd.address();
    })
    .await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut lee, _) = app.person("northmoor", "lee@northmoor.example").signed_in().await;

    // Editors only, until the trust says otherwise.
    let refused = lee.get("/library/new").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("content editors"), "{}", refused.body);
    everyone_may_share(&mut boss).await;
    let form = lee.get("/library/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("I have read and accept the content policy"));
    assert!(
        form.body.contains("CC BY-NC-ND 4.0")
            && form.body.contains("CC0 1.0")
            && form.body.contains("Standard licence")
    );

    // Bad input: every problem named, nothing kept.
    let before = stored(&app);
    let t = form.csrf().unwrap();
    let bad = lee
        .post_files(
            "/library",
            &[("csrf_token", &t), ("kind", "document"), ("title", ""), ("licence", "gpl")],
            &[("file", "photo.pdf", "application/pdf", &png())],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    for said in [
        "Accept the content policy",
        "Enter a title",
        "Enter a description",
        "Choose one of the licences listed",
        "The file must be a PDF",
        "Confirm that it contains no patient-identifiable information",
    ] {
        assert!(bad.body.contains(said), "{said}: {}", bad.body);
    }
    assert!(bad.body.contains("href=\"#policy\""), "the summary links to the fields");
    // An infected document: refused, named, audited; nothing kept.
    let mut infected = pdf("a leaflet");
    infected.extend_from_slice(&eicar());
    let fields = [
        ("csrf_token", t.as_str()),
        ("policy", "yes"),
        ("confirm", "yes"),
        ("kind", "document"),
        ("title", "Sepsis screening leaflet"),
        ("description", "How to screen adults for sepsis on the ward."),
        ("keywords", "sepsis, screening, deterioration"),
        ("licence", "cc-by"),
        ("attribution_name", "Northmoor sepsis team"),
    ];
    let virus = lee.post_files("/library", &fields, &[("file", "leaflet.pdf", "application/pdf", &infected)]).await;
    assert_eq!(virus.status, 400, "{}", virus.body);
    assert!(virus.body.contains("leaflet.pdf contains a virus (Trellis.Test.EICAR"), "{}", virus.body);
    assert_eq!(stored(&app), before, "nothing of either is kept");
    assert!(lee.get("/library").await.body.contains("0 resources"));

    // Shared: the licence with its deed, machine-readable; said so.
    let done = lee.post_files("/library", &fields, &[("file", "leaflet.pdf", "application/pdf", &pdf("v1"))]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let path = done.location.unwrap();
    let page = lee.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Resource shared"), "a confirmation");
    assert!(
        page.body.contains("rel=\"license\" href=\"https://creativecommons.org/licenses/by/4.0/\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("By Northmoor sepsis team") && page.body.contains("CC BY 4.0"));
    // The policy is accepted once: the next form does not ask again.
    assert!(!lee.get("/library/new").await.body.contains("I have read and accept the content policy"));

    // Found by its words, not by others'; filtered by kind.
    let found = boss.get("/library?q=sepsis").await;
    assert!(found.body.contains("Sepsis screening leaflet") && found.body.contains("1 resource "), "{}", found.body);
    assert!(boss.get("/library?q=screened").await.body.contains("Sepsis screening leaflet"), "stemmed");
    assert!(boss.get("/library?q=zebra").await.body.contains("0 resources"));
    assert!(boss.get("/library?kind=video").await.body.contains("0 resources"));
    let catalogue = boss.get("/courses?q=sepsis").await;
    assert!(catalogue.body.contains("In the resource library") && catalogue.body.contains("Sepsis screening leaflet"));

    // Downloaded (logged), rated (1 to 5 only), given feedback.
    let (status, kind, bytes) = boss.get_bytes(&format!("{path}/file")).await;
    assert_eq!((status, kind.as_str()), (200, "application/pdf"));
    assert_eq!(bytes, pdf("v1"));
    let t = token(&mut boss, &path).await;
    let six = boss.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "6")]).await;
    assert_eq!(six.status, 400);
    assert!(six.body.contains("Choose a rating from 1 to 5"));
    assert_eq!(boss.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "4")]).await.status, 303);
    let t = page.csrf().unwrap();
    assert_eq!(lee.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "5")]).await.status, 303);
    assert_eq!(lee.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "3")]).await.status, 303);
    let t = token(&mut boss, &path).await;
    let said = boss.post(&format!("{path}/feedback"), &[("csrf_token", &t), ("feedback", "Clear and short.")]).await;
    assert_eq!(said.status, 303);
    let page = boss.get(&path).await;
    assert!(page.body.contains("3.5 out of 5, from 2 ratings"), "a rating replaces the last: {}", page.body);
    assert!(page.body.contains("Clear and short.") && page.body.contains("Thank you for your feedback"));
    let activity = boss.get("/admin/file-activity").await;
    assert!(activity.body.contains("Sepsis screening leaflet (leaflet.pdf)"), "{}", activity.body);

    // A new version: its contributor says what changed; the page lists both.
    let t = token(&mut lee, &path).await;
    let silent = lee
        .post_files(
            &format!("{path}/versions"),
            &[("csrf_token", &t), ("confirm", "yes")],
            &[("file", "leaflet.pdf", "application/pdf", &pdf("v2"))],
        )
        .await;
    assert_eq!(silent.status, 400);
    assert!(silent.body.contains("Say what changed in this version"));
    let v2 = lee
        .post_files(
            &format!("{path}/versions"),
            &[("csrf_token", &t), ("confirm", "yes"), ("note", "New NEWS2 thresholds")],
            &[("file", "leaflet.pdf", "application/pdf", &pdf("v2"))],
        )
        .await;
    assert_eq!(v2.status, 303, "{}", v2.body);
    let page = lee.get(&path).await;
    assert!(page.body.contains("Version 2 published") && page.body.contains("New NEWS2 thresholds"));
    assert_eq!(boss.get_bytes(&format!("{path}/file")).await.2, pdf("v2"), "the current version is served");
    // Someone else's resource is not theirs to version.
    let (mut kim, _) = app.person("northmoor", "kim@northmoor.example").signed_in().await;
    let t = token(&mut kim, &path).await;
    let not_theirs = kim
        .post_files(
            &format!("{path}/versions"),
            &[("csrf_token", &t), ("confirm", "yes"), ("note", "mine now")],
            &[("file", "x.pdf", "application/pdf", &pdf("x"))],
        )
        .await;
    assert_eq!(not_theirs.status, 404);

    // An editor adds it to a course; a learner sees it there, with its licence.
    let course = new_course(&mut boss, "LIB-1", "Sepsis").await;
    let t = token(&mut boss, &path).await;
    let added = boss.post(&format!("{path}/add-to-course"), &[("csrf_token", &t), ("course", &course)]).await;
    assert_eq!(added.status, 303, "{}", added.body);
    // Its title and completion are the editor's to change; it stays the library's resource.
    let editor = boss.get(&format!("/admin/courses/{course}")).await;
    let marker = format!("/admin/courses/{course}/sessions/");
    let at = editor.body.find(&marker).expect("the session") + marker.len();
    let object = editor.body[at..at + 36].to_owned();
    let form = boss.get(&format!("{marker}{object}")).await;
    assert!(form.body.contains("shows a resource of the library"), "{}", form.body);
    let t = form.csrf().unwrap();
    let saved = boss
        .post_files(
            &format!("{marker}{object}"),
            &[("csrf_token", &t), ("kind", "resource"), ("title", "The screening leaflet"), ("completion", "confirm")],
            &[],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let t = token(&mut boss, &format!("/admin/courses/{course}/sessions")).await;
    let forged = boss
        .post_files(
            &format!("/admin/courses/{course}/sessions"),
            &[("csrf_token", &t), ("kind", "resource"), ("title", "No resource"), ("completion", "view")],
            &[],
        )
        .await;
    assert_eq!(forged.status, 400, "a library session comes only from the library");
    publish(&mut boss, &course).await;
    let t = token(&mut lee, &format!("/courses/{course}")).await;
    assert_eq!(lee.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let page = lee.get(&format!("/courses/{course}")).await;
    let session = sessions_of(&page.body, &course).into_iter().next().expect("a session");
    let shown = lee.get(&format!("/learn/{course}/{session}")).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains(&format!("{path}/file")) && shown.body.contains("rel=\"license\""), "{}", shown.body);
    assert!(shown.body.contains("The screening leaflet") && shown.body.contains("I have finished"), "{}", shown.body);
}

#[tokio::test]
async fn video_streams_in_ranges_with_captions_and_images_need_alt_text() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::ContentEditor]).signed_in().await;
    let video = [
        ("kind", "video"),
        ("title", "Handwashing in six steps"),
        ("description", "The six steps, filmed on a ward."),
        ("licence", "cc0"),
        ("transcript", "Wet your hands.\n\nApply soap."),
    ];
    let t = token(&mut boss, "/library/new").await;
    let mut fields = vec![("csrf_token", t.as_str()), ("policy", "yes"), ("confirm", "yes")];
    fields.extend_from_slice(&video);
    let srt = b"1\n00:00:00,000 --> 00:00:02,000\nNot WebVTT\n";
    let bad = boss
        .post_files(
            "/library",
            &fields,
            &[("file", "hands.mp4", "video/mp4", &mp4()), ("captions", "c.srt", "text/plain", srt)],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("The captions must be a WebVTT file"), "{}", bad.body);
    let path = share(
        &mut boss,
        &video,
        &[("file", "hands.mp4", "video/mp4", &mp4()), ("captions", "hands.vtt", "text/vtt", VTT)],
    )
    .await;
    let page = boss.get(&path).await;
    assert!(page.body.contains(&format!("<track kind=\"captions\" src=\"{path}/captions\"")), "{}", page.body);
    assert!(page.body.contains("Apply soap.") && page.body.contains("publicdomain/zero/1.0/"));
    let (status, kind, vtt) = boss.get_bytes(&format!("{path}/captions")).await;
    assert_eq!((status, kind.as_str(), vtt.as_slice()), (200, "text/vtt; charset=utf-8", VTT));
    let (status, part) = boss.get_range(&format!("{path}/file"), "bytes=100-199").await;
    assert_eq!(status, 206);
    assert_eq!(part, mp4()[100..200].to_vec());
    // A new version with new captions only: the video is kept, the transcript as it was given.
    let page = boss.get(&path).await;
    assert!(page.body.contains("Now: hands.mp4") && page.body.contains("It has captions now"), "{}", page.body);
    assert!(page.body.contains(">Wet your hands."), "the form starts from the current version");
    let t = page.csrf().unwrap();
    let better = b"WEBVTT\n\n00:00.000 --> 00:02.000\nWet your hands with water.\n";
    let v2 = boss
        .post_files(
            &format!("{path}/versions"),
            &[("csrf_token", &t), ("confirm", "yes"), ("note", "Better captions"), ("transcript", "Wet your hands.")],
            &[("captions", "hands.vtt", "text/vtt", better)],
        )
        .await;
    assert_eq!(v2.status, 303, "{}", v2.body);
    assert_eq!(boss.get_bytes(&format!("{path}/file")).await.2, mp4(), "the video is kept");
    assert_eq!(boss.get_bytes(&format!("{path}/captions")).await.2, better.to_vec());

    // An image needs its alt text, which the page then gives it.
    let image = [
        ("kind", "image"),
        ("title", "The five moments"),
        ("description", "A poster of the five moments for hand hygiene."),
        ("licence", "platform"),
        ("attribution_name", "Infection prevention team"),
    ];
    let t = token(&mut boss, "/library/new").await;
    let mut fields = vec![("csrf_token", t.as_str()), ("confirm", "yes")];
    fields.extend_from_slice(&image);
    let no_alt = boss.post_files("/library", &fields, &[("file", "poster.png", "image/png", &png())]).await;
    assert_eq!(no_alt.status, 400);
    assert!(no_alt.body.contains("Describe the image for people who cannot see it"), "{}", no_alt.body);
    let mut with_alt = image.to_vec();
    with_alt.push(("alt_text", "Five hands around a patient's bed, one at each moment"));
    let path = share(&mut boss, &with_alt, &[("file", "poster.png", "image/png", &png())]).await;
    let page = boss.get(&path).await;
    assert!(page.body.contains("alt=\"Five hands around a patient&#39;s bed, one at each moment\""), "{}", page.body);
    assert!(page.body.contains("href=\"/library/policy#standard-licence\""), "the standard licence links to its terms");
    assert_eq!(boss.get("/library/policy").await.status, 200);
}

#[tokio::test]
async fn reports_go_to_the_trusts_moderators_who_hide_remove_and_restore_and_no_other_trust_can() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut lee, _) = app.person("northmoor", "lee@northmoor.example").signed_in().await;
    let (mut kim, _) = app.person("northmoor", "kim@northmoor.example").signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    everyone_may_share(&mut boss).await;
    let path = share(
        &mut lee,
        &[
            ("kind", "article"),
            ("title", "Ward round checklist"),
            ("description", "What to check on a ward round."),
            ("licence", "cc-by-sa"),
            ("attribution_name", "Lee"),
            ("body", "Check the drug chart.\n\nCheck the observations."),
        ],
        &[],
    )
    .await;
    let id = path.trim_start_matches("/library/").to_owned();

    // Another trust: nothing to read, rate, report or moderate.
    assert_eq!(rex.get(&path).await.status, 404);
    assert_eq!(rex.get(&format!("{path}/report")).await.status, 404);
    assert!(rex.get("/library?q=ward").await.body.contains("0 resources"));
    let t = token(&mut rex, "/admin/library").await;
    assert_eq!(rex.post(&format!("{path}/rating"), &[("csrf_token", &t), ("stars", "1")]).await.status, 404);
    assert_eq!(rex.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "hide")]).await.status, 404);
    // Nor does its data handle see the row (row-level security on PostgreSQL).
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(trellis_db::library::get(&tx, id.parse().unwrap()).await.unwrap().is_none());
    tx.commit().await.unwrap();

    // A report: a reason is needed; then the moderators see it, with who sent it.
    let t = token(&mut kim, &format!("{path}/report")).await;
    let none = kim.post(&format!("{path}/report"), &[("csrf_token", &t)]).await;
    assert_eq!(none.status, 400);
    assert!(none.body.contains("Choose why you are reporting it"));
    let sent = kim
        .post(&format!("{path}/report"), &[("csrf_token", &t), ("reason", "wrong"), ("details", "Out of date")])
        .await;
    assert_eq!(sent.status, 303);
    let queue = boss.get("/admin/library").await;
    assert!(queue.body.contains("Ward round checklist") && queue.body.contains("Out of date"), "{}", queue.body);
    assert!(queue.body.contains("kim@northmoor.example"));
    // A learner is not a moderator.
    assert_eq!(kim.get("/admin/library").await.status, 403);

    // Hidden: gone for everyone but its contributor and the editors.
    let t = queue.csrf().unwrap();
    let hidden = boss.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "hide")]).await;
    assert_eq!(hidden.status, 303);
    assert_eq!(kim.get(&path).await.status, 404);
    assert!(kim.get("/library?q=ward").await.body.contains("0 resources"));
    assert!(lee.get(&path).await.body.contains("Hidden by a moderator"));
    assert!(!boss.get("/admin/library").await.body.contains("Out of date"), "the report is closed");
    // Reported again while hidden, and kept: it stays hidden.
    let t2 = token(&mut lee, &format!("{path}/report")).await;
    lee.post(&format!("{path}/report"), &[("csrf_token", &t2), ("reason", "other"), ("details", "Mine: please look")])
        .await;
    let kept = boss.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "keep")]).await;
    assert_eq!(kept.status, 303);
    assert_eq!(kim.get(&path).await.status, 404, "keeping closes the reports and changes nothing else");

    // Removed: a reason is needed, and the contributor is told it.
    let refused = boss.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "remove")]).await;
    assert_eq!(refused.status, 400);
    let removed = boss
        .post(
            &format!("/admin/library/{id}"),
            &[("csrf_token", &t), ("action", "remove"), ("reason", "Replaced by the trust's policy")],
        )
        .await;
    assert_eq!(removed.status, 303);
    let told = app.mail.wait_for("lee@northmoor.example", "has been removed").await;
    assert!(told.text.contains("Replaced by the trust's policy") && told.text.contains("Ward round checklist"));

    // Restored: everyone sees it again.
    let back = boss.post(&format!("/admin/library/{id}"), &[("csrf_token", &t), ("action", "restore")]).await;
    assert_eq!(back.status, 303);
    assert_eq!(kim.get(&path).await.status, 200);

    // Feedback: moderators delete it; twenty an hour each at most.
    let t = token(&mut kim, &path).await;
    let said =
        kim.post(&format!("{path}/feedback"), &[("csrf_token", &t), ("feedback", "Patient Jane Doe on ward 3")]).await;
    assert_eq!(said.status, 303);
    let page = boss.get(&path).await;
    let at = page.body.find("/feedback/").expect("a delete button") + "/feedback/".len();
    let fid = page.body[at..at + 36].to_owned();
    let t = page.csrf().unwrap();
    let kt = token(&mut kim, &path).await;
    assert_eq!(kim.post(&format!("{path}/feedback/{fid}/delete"), &[("csrf_token", &kt)]).await.status, 403);
    assert_eq!(boss.post(&format!("{path}/feedback/{fid}/delete"), &[("csrf_token", &t)]).await.status, 303);
    assert!(!kim.get(&path).await.body.contains("Jane Doe"));
    let t = token(&mut kim, &path).await;
    for i in 0..20 {
        kim.post(&format!("{path}/feedback"), &[("csrf_token", &t), ("feedback", &format!("Note {i}"))]).await;
    }
    let limited = kim.post(&format!("{path}/feedback"), &[("csrf_token", &t), ("feedback", "One more")]).await;
    assert_eq!(limited.status, 429, "{}", limited.body);

    // Editors only again: the contributor can no longer publish versions.
    let t = token(&mut boss, "/admin/library").await;
    boss.post("/admin/library/settings", &[("csrf_token", &t), ("contributors", "editors")]).await;
    let t = token(&mut lee, &path).await;
    let blocked = lee
        .post_files(
            &format!("{path}/versions"),
            &[("csrf_token", &t), ("confirm", "yes"), ("note", "x"), ("body", "y")],
            &[],
        )
        .await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
}

#[tokio::test]
async fn a_proposal_the_platform_accepts_is_in_every_trusts_library_and_its_reports_go_to_the_platform() {
    let app = spawn_app().await;
    let pw = "violet tractor harbour";
    let hash = trellis_web::hash_password(pw.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut rita, _) = app.person("riverside", "rita@riverside.example").signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let path = share(
        &mut boss,
        &[
            ("kind", "link"),
            ("title", "National early warning score"),
            ("description", "The Royal College of Physicians' NEWS2 chart and guidance."),
            ("licence", "cc-by-nc"),
            ("attribution_name", "Northmoor deteriorating patient team"),
            ("url", "https://www.rcp.ac.uk/news2"),
            ("propose_national", "yes"),
        ],
        &[],
    )
    .await;
    assert!(boss.get(&path).await.body.contains("waiting for the curators"));
    assert!(rita.get("/library?q=warning").await.body.contains("0 resources"), "not national yet");

    // The platform's curators: declining needs a reason; accepting copies it to the national library.
    let mut root = Visitor::new(app.addr, BASE);
    crate::platform::set_up_two_step(&mut root, "root@platform.example").await;
    let queue = root.get("/admin/library").await;
    assert_eq!(queue.status, 200, "{}", queue.body);
    assert!(queue.body.contains("National early warning score") && queue.body.contains("Northmoor"));
    let id = path.trim_start_matches("/library/");
    let decide = format!("/admin/library/proposals/northmoor/{id}");
    let preview = root.get(&decide).await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(
        preview.body.contains("https://www.rcp.ac.uk/news2") && preview.body.contains("version 1"),
        "{}",
        preview.body
    );
    let t = queue.csrf().unwrap();
    assert_eq!(root.post(&decide, &[("csrf_token", &t), ("decision", "decline")]).await.status, 400);
    let accepted = root.post(&decide, &[("csrf_token", &t), ("decision", "accept")]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    app.mail.wait_for("boss@northmoor.example", "The national library and your resource").await;
    assert!(boss.get(&path).await.body.contains("The national library has accepted it"));
    assert!(!root.get("/admin/library").await.body.contains("National early warning score"), "decided");

    // Every trust finds it; a trust's member reports it, to the platform and not to any trust.
    let found = rita.get("/library?q=warning").await;
    assert!(found.body.contains("National library") && found.body.contains("1 resource "), "{}", found.body);
    let national = found.body.split("href=\"/library/").nth(1).map(|s| s[..36].to_owned()).expect("a link");
    let national_path = format!("/library/{national}");
    let page = rita.get(&national_path).await;
    assert!(page.body.contains("rel=\"license\" href=\"https://creativecommons.org/licenses/by-nc/4.0/\""));
    let t = token(&mut rita, &format!("{national_path}/report")).await;
    let sent = rita
        .post(
            &format!("{national_path}/report"),
            &[("csrf_token", &t), ("reason", "copyright"), ("details", "RCP's chart")],
        )
        .await;
    assert_eq!(sent.status, 303);
    assert!(!rex.get("/admin/library").await.body.contains("RCP's chart"), "not the trust's to moderate");
    let t = token(&mut rex, "/admin/library").await;
    let not_theirs = rex.post(&format!("/admin/library/{national}"), &[("csrf_token", &t), ("action", "hide")]).await;
    assert_eq!(not_theirs.status, 404);
    let queue = root.get("/admin/library").await;
    assert!(queue.body.contains("RCP&#39;s chart") && queue.body.contains("Riverside"), "{}", queue.body);
    let t = queue.csrf().unwrap();
    let removed = root
        .post(
            &format!("/admin/library/national/{national}"),
            &[("csrf_token", &t), ("action", "remove"), ("reason", "Copyright is the RCP's")],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(rita.get(&national_path).await.status, 404);
    let told = app.mail.wait_for("boss@northmoor.example", "has been removed").await;
    assert!(told.text.contains("Copyright is the RCP's"));
    // The trust's own copy stays the trust's.
    assert_eq!(boss.get(&path).await.status, 200);

    // The curators restore the national copy; then the trust removes its own: the national copy
    // is withdrawn too, for the curators to look at again. A second Accept makes no second copy.
    let t = token(&mut root, "/admin/library").await;
    assert_eq!(root.post(&decide, &[("csrf_token", &t), ("decision", "accept")]).await.status, 404, "decided already");
    let t = token(&mut root, "/admin/library").await;
    let restored =
        root.post(&format!("/admin/library/national/{national}"), &[("csrf_token", &t), ("action", "restore")]).await;
    assert_eq!(restored.status, 303);
    assert_eq!(rita.get(&national_path).await.status, 200, "one national copy, restored");
    let t = token(&mut boss, "/admin/library").await;
    let removed = boss
        .post(
            &format!("/admin/library/{id}"),
            &[("csrf_token", &t), ("action", "remove"), ("reason", "A patient's name")],
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(rita.get(&national_path).await.status, 404, "withdrawn from the national library too");
    assert!(root.get("/admin/library").await.body.contains("Withdrawn by Northmoor"), "the curators see why");
}

#[tokio::test]
async fn a_course_showing_the_trusts_own_resources_cannot_be_sold_to_other_trusts() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let path = share(
        &mut boss,
        &[
            ("kind", "article"),
            ("title", "Sepsis six"),
            ("description", "The six steps."),
            ("licence", "cc-by"),
            ("attribution_name", "Sepsis team"),
            ("body", "Give oxygen."),
        ],
        &[],
    )
    .await;
    let course = new_course(&mut boss, "LIB-SELL", "Sepsis for sale").await;
    let t = token(&mut boss, &path).await;
    assert_eq!(
        boss.post(&format!("{path}/add-to-course"), &[("csrf_token", &t), ("course", &course)]).await.status,
        303
    );
    publish(&mut boss, &course).await;
    let t = token(&mut boss, "/selling").await;
    let r =
        boss.post("/selling/register", &[("csrf_token", &t), ("kind", "vendor"), ("summary", "Our courses.")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let t = token(&mut boss, "/selling").await;
    let listing = boss
        .post(
            "/selling/listings",
            &[
                ("csrf_token", &t),
                ("course", &course),
                ("title", "Sepsis for sale"),
                ("summary", "Sepsis."),
                ("price", "10.00"),
                ("licence_days", "365"),
            ],
        )
        .await;
    assert_eq!(listing.status, 400, "{}", listing.body);
    assert!(listing.body.contains("shows resources of your trust"), "{}", listing.body);
    assert!(!listing.body.contains("/selling/listings/"), "nothing listed");
}
