//! Bad input gets a clear 4xx and changes nothing.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis_testkit::{TestApp, Visitor, spawn_app};

async fn raw(app: &TestApp, request: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_missing_or_malformed_host_is_a_400() {
    let app = spawn_app().await;
    let resp = raw(&app, "GET / HTTP/1.0\r\n\r\n").await;
    assert!(resp.starts_with("HTTP/1.0 400") || resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("no Host header"), "{resp}");
    for host in ["bad host", "a..b", "under_score.trellis.test", "x:port", ""] {
        let resp = raw(&app, &format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{host:?}: {resp}");
    }
}

#[tokio::test]
async fn oversized_headers_and_bodies_are_refused() {
    let app = spawn_app().await;
    let host = TestApp::host_of("northmoor");
    let big = "x".repeat(20_000);
    let resp = app.client.get(app.url("/")).header("host", &host).header("x-big", &big).send().await.unwrap();
    assert_eq!(resp.status(), 431);
    let resp = app.client.post(app.url("/")).header("host", &host).body(vec![b'a'; 2_000_000]).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    assert!(resp.text().await.unwrap().contains("accepts at most 1048576"));
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_themed_pages_or_problem_documents() {
    let app = spawn_app().await;
    let host = TestApp::host_of("riverside");
    let resp = app.get(&host, "/no/such/page").await;
    assert_eq!(resp.status(), 404);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Page not found") && html.contains("Riverside Community Health NHS Trust"));

    let resp = app
        .client
        .get(app.url("/no/such/page"))
        .header("host", &host)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["instance"], "/no/such/page");

    let resp = app.client.delete(app.url("/")).header("host", &host).send().await.unwrap();
    assert_eq!(resp.status(), 405);
    let resp = app.get(&host, "/logo/not-a-hash").await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn forwarded_headers_are_believed_only_from_configured_proxies() {
    let untrusted = spawn_app().await;
    let resp = untrusted
        .client
        .get(untrusted.url("/"))
        .header("host", "nowhere.trellis.test")
        .header("x-forwarded-host", "northmoor.trellis.test")
        .header("forwarded", "host=northmoor.trellis.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "an untrusted peer cannot choose the trust");

    let trusted =
        trellis_testkit::spawn_app_with(None, |c| c.server.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    let resp = trusted
        .client
        .get(trusted.url("/"))
        .header("host", "internal-lb")
        .header("x-forwarded-host", "northmoor.trellis.test")
        .header("x-request-id", "lb-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "lb-123");
    assert!(resp.text().await.unwrap().contains("Northmoor"));
    let resp = trusted
        .client
        .get(trusted.url("/"))
        .header("host", "internal-lb")
        .header("forwarded", "for=192.0.2.1;host=riverside.trellis.test;proto=https")
        .send()
        .await
        .unwrap();
    assert!(resp.text().await.unwrap().contains("Riverside"));
}

#[tokio::test]
async fn two_host_headers_or_a_request_line_naming_another_host_are_refused() {
    let app = spawn_app().await;
    let north = TestApp::host_of("northmoor");
    let river = TestApp::host_of("riverside");
    let resp =
        raw(&app, &format!("GET / HTTP/1.1\r\nHost: {north}\r\nHost: {river}\r\nConnection: close\r\n\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("more than one Host header"), "{resp}");
    let resp = raw(&app, &format!("GET http://{river}/ HTTP/1.1\r\nHost: {north}\r\nConnection: close\r\n\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(!resp.contains("Riverside") && !resp.contains("Northmoor"), "{resp}");
    // The same authority in both: served as usual.
    let resp = raw(&app, &format!("GET http://{north}/ HTTP/1.1\r\nHost: {north}\r\nConnection: close\r\n\r\n")).await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("Northmoor"));
}

/// Every form posts through the same check, so a sample of each kind (signed out, signed in,
/// training manager, platform) shows it: a NUL gets a 400 naming the field, and nothing changes.
#[tokio::test]
async fn a_nul_in_any_form_field_or_query_is_a_400_that_names_the_field() {
    use trellis_domain::identity::Role;
    let app = spawn_app().await;
    let mut anon = app.visitor("northmoor");
    type Form<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let forms: [Form; 5] = [
        ("/sign-in", vec![("email", "a\0b@northmoor.example"), ("password", "x")], "email"),
        ("/password-reset", vec![("email", "someone\0@northmoor.example")], "email"),
        (
            "/register",
            vec![
                ("given_name", "Ann\0"),
                ("family_name", "Lee"),
                ("email", "ann.lee@northmoor.example"),
                ("password", "a long enough password"),
            ],
            "given_name",
        ),
        ("/join", vec![("email", "x@y.example"), ("password", "p\0w")], "password"),
        ("/verify-email/resend", vec![("email", "\0")], "email"),
    ];
    for (path, fields, field) in forms {
        let page = anon.submit(path, path, &fields).await;
        assert_eq!(page.status, 400, "{path}: {}", page.body);
        assert!(page.body.contains(&format!("\u{201c}{field}\u{201d}")), "{path}: {}", page.body);
        assert!(page.body.contains("Northmoor"), "a themed page: {}", page.body);
    }
    // Nobody was registered.
    let registered = anon
        .submit(
            "/sign-in",
            "/sign-in",
            &[("email", "ann.lee@northmoor.example"), ("password", "a long enough password")],
        )
        .await;
    assert_eq!(registered.status, 401);

    app.member("northmoor", "boss@northmoor.example", "boss password 1", &[Role::TrainingManager, Role::ContentEditor])
        .await;
    let mut boss = app.visitor("northmoor");
    boss.sign_in_and_agree("boss@northmoor.example", "boss password 1").await;
    let search = boss.get("/courses?q=sep%00sis").await;
    assert_eq!(search.status, 400);
    assert!(search.body.contains("\u{201c}q\u{201d}"), "{}", search.body);
    let message = boss.submit("/admin/site", "/admin/site/messages", &[("title", "Hello\0"), ("body", "x")]).await;
    assert_eq!(message.status, 400, "{}", message.body);
    assert!(message.body.contains("\u{201c}title\u{201d}"), "{}", message.body);
    let course =
        boss.submit("/admin/courses/new", "/admin/courses/new", &[("title", "Fire\0safety"), ("summary", "x")]).await;
    assert_eq!(course.status, 400, "{}", course.body);
    assert!(!boss.get("/admin/courses").await.body.contains("Fire"));

    // An API client gets a problem document naming the field.
    let problem = boss
        .send(
            "POST",
            "/admin/training",
            &[("accept", "application/json"), ("content-type", "application/x-www-form-urlencoded")],
            b"course=%00".to_vec(),
        )
        .await;
    assert_eq!(problem.status, 400);
    assert_eq!(problem.headers["content-type"], "application/problem+json");
    assert!(problem.body.contains("course"), "{}", problem.body);

    // The platform's own forms too.
    let mut platform = Visitor::new(app.addr, trellis_testkit::BASE);
    let page = platform.submit("/sign-in", "/sign-in", &[("email", "x\0@y"), ("password", "p")]).await;
    assert_eq!(page.status, 400);
}
