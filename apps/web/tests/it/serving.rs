//! What every response carries, how assets are cached, and metrics on the internal listener.

use trellis_testkit::{TestApp, spawn_app};

#[tokio::test]
async fn every_page_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    for (host, path) in [("northmoor.trellis.test", "/"), ("trellis.test", "/"), ("nowhere.trellis.test", "/")] {
        let resp = app.get(host, path).await;
        let h = resp.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("script-src 'self'") && csp.contains("style-src 'self'")
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
        assert_eq!(h["x-request-id"].len(), 36);
        let html = resp.text().await.unwrap();
        assert!(
            !html.contains("style=\"") && !html.contains("<style") && !html.contains("<script"),
            "no inline style or script"
        );
    }
}

#[tokio::test]
async fn assets_have_hashed_names_and_long_cache_lives() {
    let app = spawn_app().await;
    let host = TestApp::host_of("fenwick");
    let html = app.get(&host, "/").await.text().await.unwrap();
    let css = html.split("href=\"/assets/default/css/").nth(1).unwrap().split('"').next().unwrap();
    assert!(
        css.starts_with("main.") && css.ends_with(".css") && css.len() == "main.".len() + 12 + ".css".len(),
        "{css}"
    );
    let resp = app.get(&host, &format!("/assets/default/css/{css}")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(app.get(&host, "/assets/default/css/main.css").await.status(), 404, "unhashed names are not served");

    let sheet = html.split("href=\"/trust-style/").nth(1).unwrap().split('"').next().unwrap();
    let resp = app.get(&host, &format!("/trust-style/{sheet}")).await;
    assert_eq!(resp.headers()["cache-control"], "public, max-age=31536000, immutable");
    let stale = app.get(&host, "/trust-style/000000000000.css").await;
    assert_eq!(stale.headers()["cache-control"], "no-cache");
}

#[tokio::test]
async fn metrics_are_served_on_the_internal_listener_only() {
    let app = spawn_app().await;
    app.get(&TestApp::host_of("northmoor"), "/").await;
    app.get(&TestApp::host_of("northmoor"), "/nope").await;
    app.get("nowhere.trellis.test", "/").await;
    let text =
        app.client.get(format!("http://{}/metrics", app.metrics_addr)).send().await.unwrap().text().await.unwrap();
    assert!(
        text.contains(r#"trellis_http_requests_total{method="GET",route="/",status="200",tenant="northmoor"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"status="404",tenant="northmoor""#));
    assert!(text.contains(r#"route="unknown-host",status="404",tenant="unknown""#));
    assert!(text.contains("trellis_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\""));
    assert!(text.contains("trellis_http_request_seconds_total{tenant=\"northmoor\"}"));
    for host in ["northmoor.trellis.test", "trellis.test", "127.0.0.1"] {
        assert_eq!(app.get(host, "/metrics").await.status(), 404, "{host}");
    }
}

#[tokio::test]
async fn the_server_stops_gracefully() {
    let app = spawn_app().await;
    let addr = app.addr;
    app.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
}
