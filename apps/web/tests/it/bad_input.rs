//! Bad input gets a clear 4xx and changes nothing.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trellis_testkit::{TestApp, spawn_app};

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
