//! A trust admin's logo upload (checked by content, size-limited, CSRF-guarded) and custom
//! domains verified against a real DNS server on loopback.

use trellis_domain::identity::Role;
use trellis_testkit::{BASE, DnsPeer, TestApp, Visitor, spawn_app, spawn_app_with};

const PW: &str = "violet tractor harbour";

fn png(extra: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
    b.extend(std::iter::repeat_n(7u8, extra));
    b
}

fn logo_in(page: &str) -> Option<String> {
    let at = page.find("src=\"/logo/")? + "src=\"/logo/".len();
    Some(page[at..at + 64].to_owned())
}

async fn manager(app: &TestApp, slug: &str, email: &str) -> Visitor {
    app.member(slug, email, PW, &[Role::TrainingManager]).await;
    let mut v = app.visitor(slug);
    v.sign_in_and_agree(email, PW).await;
    v
}

#[tokio::test]
async fn a_trust_admin_uploads_a_logo_that_is_checked_and_served_only_on_their_site() {
    let app = spawn_app().await;
    let mut boss = manager(&app, "northmoor", "boss@northmoor.example").await;
    let before = logo_in(&boss.get("/").await.body);
    let token = boss.get("/admin/site").await.csrf().unwrap();

    // Without the form's token: refused, nothing stored.
    let forged = boss
        .post_multipart("/admin/site/logo", &[("action", "upload")], ("logo", "x.png", "image/png", &png(10)))
        .await;
    assert_eq!(forged.status, 403);

    // Bad files: refused with the reason, the logo unchanged.
    let fields = [("csrf_token", token.as_str()), ("action", "upload")];
    let fake =
        boss.post_multipart("/admin/site/logo", &fields, ("logo", "logo.png", "image/png", b"<html>hi</html>")).await;
    assert_eq!(fake.status, 422);
    assert!(fake.body.contains("logo.png is not a PNG or SVG image"), "{}", fake.body);
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let scripted = boss.post_multipart("/admin/site/logo", &fields, ("logo", "evil.svg", "image/svg+xml", svg)).await;
    assert_eq!(scripted.status, 422);
    assert!(scripted.body.contains("may not contain scripts"));
    let handler = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"></svg>";
    assert_eq!(
        boss.post_multipart("/admin/site/logo", &fields, ("logo", "h.svg", "image/svg+xml", handler)).await.status,
        422
    );
    let big =
        boss.post_multipart("/admin/site/logo", &fields, ("logo", "huge.png", "image/png", &png(300 * 1024))).await;
    assert_eq!(big.status, 422);
    assert!(big.body.contains("larger than 256 KB"));
    let empty = boss.post_multipart("/admin/site/logo", &fields, ("logo", "", "application/octet-stream", b"")).await;
    assert_eq!(empty.status, 422);
    assert_eq!(logo_in(&boss.get("/").await.body), before);

    // A good one: served at once, by its hash, with its content type.
    let bytes = png(100);
    let ok = boss.post_multipart("/admin/site/logo", &fields, ("logo", "new.png", "image/png", &bytes)).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let sha = logo_in(&boss.get("/").await.body).expect("a logo");
    assert_ne!(Some(sha.clone()), before);
    let served = app.get(&TestApp::host_of("northmoor"), &format!("/logo/{sha}")).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().to_vec(), bytes);
    // Another trust's site does not serve it.
    assert_eq!(app.get(&TestApp::host_of("riverside"), &format!("/logo/{sha}")).await.status(), 404);

    // A learner cannot change it.
    app.member("northmoor", "learner@northmoor.example", PW, &[Role::Learner]).await;
    let mut learner = app.visitor("northmoor");
    learner.sign_in_and_agree("learner@northmoor.example", PW).await;
    let t = learner.get("/profile").await.csrf().unwrap();
    let denied = learner
        .post_multipart(
            "/admin/site/logo",
            &[("csrf_token", &t), ("action", "upload")],
            ("logo", "l.png", "image/png", &png(5)),
        )
        .await;
    assert_eq!(denied.status, 403);

    // Removing it: the header shows the name.
    let token = boss.get("/admin/site").await.csrf().unwrap();
    let removed = boss
        .post_multipart(
            "/admin/site/logo",
            &[("csrf_token", &token), ("action", "remove")],
            ("logo", "", "application/octet-stream", b""),
        )
        .await;
    assert_eq!(removed.status, 303);
    assert_eq!(logo_in(&boss.get("/").await.body), None);
}

#[tokio::test]
async fn a_custom_domain_is_served_only_after_its_dns_record_is_verified() {
    let dns = DnsPeer::start().await;
    let addr = dns.addr;
    let app = spawn_app_with(None, move |c| c.server.dns_servers = vec![addr]).await;
    let mut boss = manager(&app, "northmoor", "boss@northmoor.example").await;
    let domain = "learning.northmoor-trust.example";

    // Bad domains are refused with the reason.
    for (bad, says) in [
        ("", "Enter the domain"),
        ("not a domain!", "is not a domain name"),
        ("intranet", "at least one dot"),
        (&*format!("mine.{BASE}"), "own domain; choose a domain your trust owns"),
    ] {
        let page = boss.submit("/admin/site", "/admin/site/domains", &[("domain", bad)]).await;
        assert_eq!(page.status, 422, "{bad}");
        assert!(page.body.contains(says), "{bad}: {says}");
    }

    let added =
        boss.submit("/admin/site", "/admin/site/domains", &[("domain", "Learning.Northmoor-Trust.example")]).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = boss.get("/admin/site").await;
    assert!(page.body.contains("_trellis-verify.learning.northmoor-trust.example"));
    let at = page.body.find("trellis-verify=").unwrap();
    let value = page.body[at..].split('<').next().unwrap().to_owned();
    assert_eq!(app.get(domain, "/").await.status(), 404, "not served before verification");

    // Another trust cannot claim it, nor act on it.
    let mut other = manager(&app, "riverside", "boss@riverside.example").await;
    let taken = other.submit("/admin/site", "/admin/site/domains", &[("domain", domain)]).await;
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("already claimed"));
    let cross =
        other.submit("/admin/site", "/admin/site/domains/action", &[("domain", domain), ("action", "remove")]).await;
    assert_eq!(cross.status, 404);

    // Checking with no record, then a wrong one: still waiting, and the page says what was found.
    let check = [("domain", domain), ("action", "check")];
    assert_eq!(boss.submit("/admin/site", "/admin/site/domains/action", &check).await.status, 303);
    assert!(boss.get("/admin/site").await.body.contains("There is no TXT record at _trellis-verify"));
    dns.set_txt(&format!("_trellis-verify.{domain}"), &["trellis-verify=someone-elses-token"]);
    boss.submit("/admin/site", "/admin/site/domains/action", &check).await;
    assert!(boss.get("/admin/site").await.body.contains("not the value shown here"));
    assert_eq!(app.get(domain, "/").await.status(), 404);

    // The right record: verified and served at once.
    dns.set_txt(&format!("_trellis-verify.{domain}"), &["v=spf1 -all", &value]);
    assert_eq!(boss.submit("/admin/site", "/admin/site/domains/action", &check).await.status, 303);
    let home = app.get(domain, "/").await;
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Northmoor Teaching Hospitals"));
    let audit = app.dbs().await.platform.recent_audit_across_tenants(50).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "domain.verified" && a.detail == domain));

    // Removing it stops it being served.
    let remove = [("domain", domain), ("action", "remove")];
    assert_eq!(boss.submit("/admin/site", "/admin/site/domains/action", &remove).await.status, 303);
    assert_eq!(app.get(domain, "/").await.status(), 404);
}
