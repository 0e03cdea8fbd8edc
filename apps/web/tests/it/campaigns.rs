//! Campaigns (issue 22): a training manager promotes a course to chosen staff with an email shot,
//! an intranet banner and a landing page. The email is bulk mail: it leaves out those who
//! objected, carries RFC 8058 one-click unsubscribe headers under a DKIM signature that dkimpy
//! verifies, and its unsubscribe POST works with no cookies. Clicks are counted per link, never per
//! person, and the banner's image is neither counted nor cookied. Another trust sees none of it.

use trellis_domain::identity::Role;
use trellis_testkit::{Page, Visitor, spawn_app, spawn_app_with};

const NURSE: &str = "Nursing and Midwifery Registered";
const AHP: &str = "Allied Health Professionals";

fn dkim_keys() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("python3")
        .args(["tests/peers/dkim_check.py", "keygen"])
        .arg(dir.path())
        .current_dir(trellis_testkit::repo_root())
        .status()
        .expect("python3 with cryptography (scripts/install-test-deps.sh)");
    assert!(ok.success());
    dir
}

/// dkimpy's verdict on `raw`, given the selector's DNS record, requiring `headers` to be signed.
fn dkim_verify(raw: &[u8], keys: &std::path::Path, headers: &[&str]) -> (bool, String) {
    let eml = keys.join("message.eml");
    std::fs::write(&eml, raw).unwrap();
    let out = std::process::Command::new("python3")
        .args(["tests/peers/dkim_check.py", "verify"])
        .arg(&eml)
        .arg(keys.join("dns.txt"))
        .args(headers)
        .current_dir(trellis_testkit::repo_root())
        .output()
        .expect("python3 with dkimpy (scripts/install-test-deps.sh)");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn campaign_fields<'a>(course: &'a str, who: &'a str, group: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", "Flu season: infection prevention"),
        ("course", course),
        ("staff_groups", group),
        ("who", who),
        ("template", "announcement"),
        ("subject", "Beat flu this winter"),
        ("message", "Infection prevention keeps patients safe.\n\nIt takes twenty minutes."),
        ("banner_text", "Beat flu this winter: 20 minutes online"),
        ("landing_text", "Why it matters.\n\nWhat to do."),
        ("window_days", "30"),
    ]
}

async fn create(boss: &mut Visitor, fields: &[(&str, &str)]) -> Page {
    boss.submit("/admin/campaigns/new", "/admin/campaigns/new", fields).await
}

fn count(body: &str, label: &str) -> String {
    let at = body.find(label).unwrap_or_else(|| panic!("{label} in {body}")) + label.len();
    let rest = &body[at..];
    let from = rest.find("nhsuk-summary-list__value\">").unwrap() + "nhsuk-summary-list__value\">".len();
    rest[from..].split('<').next().unwrap().split_whitespace().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_campaign_emails_its_audience_counts_clicks_and_attributes_enrolments() {
    let keys = dkim_keys();
    let key_file = keys.path().join("private.pem").to_string_lossy().into_owned();
    let app = spawn_app_with(None, |c| {
        c.mail.dkim_selector = "s2026".into();
        c.mail.dkim_domain = "mail.trellis.test".into();
        c.mail.dkim_key_file = key_file;
    })
    .await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").staff(NURSE, "Ward 7").signed_in().await;
    let (mut ben, _) = app.person("northmoor", "ben@northmoor.example").staff(NURSE, "Ward 9").signed_in().await;
    app.person("northmoor", "dev@northmoor.example").staff(AHP, "Physiotherapy").create().await;
    app.person("riverside", "rita@riverside.example").staff(NURSE, "Ward 7").create().await;
    let (mut rory, _) =
        app.person("riverside", "rory@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let fire = app
        .course("northmoor", "FIRE-1", "Fire safety")
        .described("Twenty minutes on fire and infection", "", "Safety", 20)
        .page("Exits", "Know them.")
        .published()
        .create()
        .await;
    let theirs = app.course("riverside", "RIV-1", "Riverside only").page("P", "B.").published().create().await;
    let fire = fire.to_string();

    // Ben has asked not to get campaign emails (the one opt-out, on his profile).
    let t = ben.get("/profile").await.csrf().unwrap();
    assert_eq!(ben.post("/account/objections", &[("csrf_token", &t), ("stop", "campaigns")]).await.status, 303);

    // Staff may not run campaigns.
    assert_eq!(amara.get("/admin/campaigns").await.status, 403);
    assert_eq!(amara.get("/admin/campaigns/new").await.status, 403);

    // Refused by field: blank fields, a header smuggled into the subject, another trust's course.
    let refused = create(&mut boss, &[("name", ""), ("course", ""), ("who", "everyone"), ("window_days", "0")]).await;
    assert_eq!(refused.status, 422);
    for said in [
        "s name (up to 120 characters)",
        "Choose the course the campaign promotes",
        "Enter a number of days from 1 to 365",
    ] {
        assert!(refused.body.contains(said), "{said}: {}", refused.body);
    }
    let mut smuggled = campaign_fields(&fire, "everyone", NURSE);
    smuggled[5] = ("subject", "Hello\r\nBcc: everyone@example.org");
    let refused = create(&mut boss, &smuggled).await;
    assert!(refused.status == 422 && refused.body.contains("one line, up to 150 characters"), "{}", refused.body);
    let theirs = theirs.to_string();
    let refused = create(&mut boss, &campaign_fields(&theirs, "everyone", NURSE)).await;
    assert!(refused.status == 422 && refused.body.contains("Choose a course from your catalogue"), "{}", refused.body);

    // Created as a draft, for registered nurses (Amara and Ben; Ben objects).
    let created = create(&mut boss, &campaign_fields(&fire, "everyone", NURSE)).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page_path = created.location.clone().unwrap();
    let page = boss.get(&page_path).await;
    assert!(page.body.contains("Campaign Flu season: infection prevention created as a draft"), "{}", page.body);
    assert!(page.body.contains("2 people now, of whom 1 asked not to get campaign emails"), "{}", page.body);
    let slug = "flu-season-infection-prevention";
    assert!(page.body.contains(&format!("/campaigns/{slug}")));
    // The embed code, as docs/engagement.md shows it: a link to the counted banner address
    // around the image, with its size and words.
    assert!(page.body.contains(&format!("promo/{slug}/banner-728x90.svg&quot; width=&quot;728&quot; height=&quot;90&quot; alt=&quot;Northmoor Teaching Hospitals NHS Foundation Trust: Beat flu this winter: 20 minutes online&quot;&gt;&lt;/a&gt;")), "{}", page.body);
    assert!(
        page.body.contains("&lt;a href=&quot;http://")
            && page.body.contains(&format!("/promo/{slug}/banner&quot;&gt;&lt;img src=&quot;http://")),
        "{}",
        page.body
    );

    // The draft's landing page: a preview for managers, nobody else's.
    let mut stranger = app.visitor("northmoor");
    assert_eq!(stranger.get(&format!("/campaigns/{slug}")).await.status, 404);
    assert_eq!(amara.get(&format!("/campaigns/{slug}")).await.status, 404);
    assert!(boss.get(&format!("/campaigns/{slug}")).await.body.contains("Preview"));

    // The banner's image: for other sites' pages, no cookie, not counted.
    let banner = stranger.get(&format!("/promo/{slug}/banner-728x90.svg")).await;
    assert_eq!(banner.status, 200);
    assert_eq!(banner.headers["content-type"], "image/svg+xml");
    assert_eq!(banner.headers["cross-origin-resource-policy"], "cross-origin");
    assert!(banner.headers.get("set-cookie").is_none(), "{:?}", banner.headers);
    assert!(banner.body.contains("Beat flu this winter: 20 minutes online") && !banner.body.contains("<script"));
    assert_eq!(stranger.get(&format!("/promo/{slug}/banner-1x1.svg")).await.status, 404);
    assert_eq!(stranger.get("/promo/no-such-campaign/banner-728x90.svg").await.status, 404);

    // Sending needs a live campaign; launching opens the landing page to everyone.
    let t = page.csrf().unwrap();
    let early = boss.post(&format!("{page_path}/send"), &[("csrf_token", &t)]).await;
    assert!(boss.get(early.location.as_deref().unwrap()).await.body.contains("Launch the campaign before sending"));
    assert_eq!(boss.post(&format!("{page_path}/launch"), &[("csrf_token", &t)]).await.status, 303);
    let landing = stranger.get(&format!("/campaigns/{slug}")).await;
    assert!(landing.status == 200 && landing.body.contains("Why it matters.") && landing.body.contains("Fire safety"));
    assert!(landing.body.contains("Sign in</a> to enrol"), "{}", landing.body);

    // The email: to Amara only (Ben objected; Dev is not a nurse; Rita is another trust's).
    let sent = boss.post(&format!("{page_path}/send"), &[("csrf_token", &t)]).await;
    assert_eq!(sent.status, 303);
    let mail = app.mail.wait_for("amara@northmoor.example", "Beat flu this winter").await;
    assert!(
        mail.text.contains("Infection prevention keeps patients safe.")
            && mail.text.contains(&format!("/promo/{slug}/email"))
    );
    assert!(mail.html.contains("Northmoor") && !mail.html.contains("[[unsubscribe-link]]"), "{}", mail.html);
    let unsubscribe = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(unsubscribe.starts_with('<') && unsubscribe.contains("/unsubscribe/"), "{unsubscribe}");
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    let link = unsubscribe.trim_matches(['<', '>']).to_owned();
    assert!(mail.text.contains(&link), "the footer's link is the header's");
    let (ok, said) =
        dkim_verify(&mail.raw, keys.path(), &["from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post"]);
    assert!(ok, "{said}");
    assert!(said.contains("d=mail.trellis.test") && said.contains("s=s2026"), "{said}");
    // A changed byte breaks it: the signature is real.
    let tampered = String::from_utf8_lossy(&mail.raw).replace("Beat flu this winter", "Beat flu this summer");
    assert!(!dkim_verify(tampered.as_bytes(), keys.path(), &[]).0);
    let page = boss.get(&page_path).await;
    assert!(page.body.contains("Sent to 1 person"), "{}", page.body);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let to: Vec<String> = app.mail.all().iter().flat_map(|m| m.to.clone()).collect();
    for nobody in ["ben@northmoor.example", "dev@northmoor.example", "rita@riverside.example"] {
        assert!(!to.iter().any(|t| t == nobody), "{nobody} got it: {to:?}");
    }
    // Once only.
    let again = boss.post(&format!("{page_path}/send"), &[("csrf_token", &t)]).await;
    assert!(boss.get(again.location.as_deref().unwrap()).await.body.contains("already been sent"));

    // Clicks: counted per link, no cookie; the image is never counted.
    for what in ["email", "email", "banner"] {
        let click = stranger.get(&format!("/promo/{slug}/{what}")).await;
        assert_eq!((click.status, click.location.as_deref()), (303, Some(format!("/campaigns/{slug}").as_str())));
        assert!(click.headers.get("set-cookie").is_none());
    }
    stranger.get(&format!("/promo/{slug}/banner-300x250.svg")).await;
    let page = boss.get(&page_path).await.body;
    assert_eq!(count(&page, "Clicks on the email's button"), "2");
    assert_eq!(count(&page, "Clicks on the banner"), "1");

    // Amara enrols from the landing page: the campaign's result.
    let landing = amara.get(&format!("/campaigns/{slug}")).await;
    assert!(landing.body.contains("Enrol on Fire safety"), "{}", landing.body);
    let enrolled = amara.submit(&format!("/campaigns/{slug}"), &format!("/campaigns/{slug}/enrol"), &[]).await;
    assert_eq!(enrolled.location.as_deref(), Some(format!("/courses/{fire}").as_str()));
    let page = boss.get(&page_path).await.body;
    assert_eq!(count(&page, "People reached"), "1");
    assert_eq!(count(&page, "Enrolled on the course"), "1,");
    assert!(page.contains("1 from the landing page"), "{page}");

    // One click: the mail client's POST, with no cookies and no CSRF token, stops campaign emails.
    let path = link[link.find("/unsubscribe/").unwrap()..].to_owned();
    let confirm = stranger.get(&path).await;
    assert!(confirm.status == 200 && confirm.body.contains("Stop these emails"), "a GET changes nothing");
    let stopped = "value=\"campaigns\" aria-describedby=\"stop-campaigns-hint\" checked";
    assert!(!amara.get("/profile").await.body.contains(stopped));
    let one_click = stranger
        .send(
            "POST",
            &path,
            &[("content-type", "application/x-www-form-urlencoded")],
            b"List-Unsubscribe=One-Click".to_vec(),
        )
        .await;
    assert_eq!(one_click.status, 200, "{}", one_click.body);
    assert!(one_click.body.contains("You will not get emails about training campaigns"));
    assert!(amara.get("/profile").await.body.contains(stopped));
    let page = boss.get(&page_path).await;
    assert!(page.body.contains("2 people now, of whom 2 asked not to get campaign emails"), "{}", page.body);
    // A token altered, or used at another trust's site, works nowhere.
    let mut bent = path.clone();
    bent.push('A');
    assert_eq!(stranger.send("POST", &bent, &[], b"List-Unsubscribe=One-Click".to_vec()).await.status, 404);
    let mut riverside = app.visitor("riverside");
    assert_eq!(riverside.send("POST", &path, &[], b"List-Unsubscribe=One-Click".to_vec()).await.status, 404);

    // Riverside sees none of Northmoor's campaign.
    let id = page_path.rsplit('/').next().unwrap();
    assert_eq!(rory.get(&format!("/admin/campaigns/{id}")).await.status, 404);
    assert!(!rory.get("/admin/campaigns").await.body.contains("Flu season"));
    assert_eq!(riverside.get(&format!("/campaigns/{slug}")).await.status, 404);
    assert_eq!(riverside.get(&format!("/promo/{slug}/email")).await.status, 404);
    assert_eq!(riverside.get(&format!("/promo/{slug}/banner-728x90.svg")).await.status, 404);
    let t = rory.get("/admin/campaigns").await.csrf();
    let t = t.unwrap_or_default();
    assert_eq!(rory.post(&format!("/admin/campaigns/{id}/send"), &[("csrf_token", &t)]).await.status, 404);
    assert_eq!(rory.post(&format!("/admin/campaigns/{id}/end"), &[("csrf_token", &t)]).await.status, 404);
}

#[tokio::test]
async fn an_audience_can_be_those_overdue_or_those_not_enrolled() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").staff(NURSE, "Ward 7").signed_in().await;
    app.person("northmoor", "ben@northmoor.example").staff(NURSE, "Ward 9").create().await;
    app.person("northmoor", "dev@northmoor.example").staff(AHP, "Ward 7").create().await;
    let fire = app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know them.").published().create().await;
    let fire = fire.to_string();
    assert_eq!(crate::mandatory_for_group(&mut boss, &fire, NURSE).await.status, 200);

    // Nobody is overdue yet; everyone in Ward 7 is two people (a nurse and an AHP).
    let mut ward = campaign_fields(&fire, "overdue", "");
    ward.retain(|(k, _)| *k != "staff_groups");
    ward.push(("departments", "Ward 7"));
    let created = create(&mut boss, &ward).await;
    let overdue_page = created.location.clone().unwrap();
    assert!(boss.get(&overdue_page).await.body.contains("only those overdue on the course: 0 people now"));
    let tx = app.dbs().await.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    trellis_db::compliance::set_due_for_tests(&tx, chrono::Utc::now().date_naive() - chrono::Duration::days(3))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let shown = boss.get(&overdue_page).await.body;
    assert!(shown.contains("Staff in department Ward 7, only those overdue on the course: 1 person now"), "{shown}");

    // Not enrolled on a course nobody must do: every nurse until Amara enrols. (Assigned
    // training enrols its audience, so nobody is "not enrolled" on Fire safety.)
    let hands = app.course("northmoor", "HAND-1", "Hand hygiene").page("Wash", "Well.").published().create().await;
    let hands = hands.to_string();
    let created = create(&mut boss, &campaign_fields(&hands, "not_enrolled", NURSE)).await;
    let not_enrolled = created.location.clone().unwrap();
    assert!(boss.get(&not_enrolled).await.body.contains("2 people now"));
    let enrol = amara.submit(&format!("/courses/{hands}"), &format!("/courses/{hands}/enrol"), &[]).await;
    assert_eq!(enrol.status, 303);
    assert!(boss.get(&not_enrolled).await.body.contains("1 person now"));

    // A second campaign of the same name gets its own address; a sent campaign cannot change.
    assert!(boss.get(&not_enrolled).await.body.contains("/campaigns/flu-season-infection-prevention-2"));
}
