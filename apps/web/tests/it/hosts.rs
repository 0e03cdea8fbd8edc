//! Hosts: each trust's host shows that trust and only that trust; the base domain is the
//! platform; unknown and reserved hosts get a 404, never some trust's site.

use trellis_testkit::{BASE, TestApp, spawn_app};

const NAMES: [(&str, &str); 4] = [
    ("northmoor", "Northmoor Teaching Hospitals NHS Foundation Trust"),
    ("riverside", "Riverside Community Health NHS Trust"),
    ("fenwick", "Fenwick and Dale Mental Health NHS Foundation Trust"),
    ("brightwater", "Brightwater Clinical Learning Ltd"),
];

#[tokio::test]
async fn each_trust_host_shows_its_own_site_and_nothing_of_the_others() {
    let app = spawn_app().await;
    let mut pages = Vec::new();
    for (slug, name) in NAMES {
        let resp = app.get(&TestApp::host_of(slug), "/").await;
        assert_eq!(resp.status(), 200, "{slug}");
        let html = resp.text().await.unwrap();
        assert!(html.contains(&format!("<title>Home – {name}</title>")), "{slug}");
        pages.push((slug, html));
    }
    // Each page's key messages are its own (read from the database per request).
    let dbs = app.dbs().await;
    let today = chrono::Utc::now().date_naive();
    for entry in dbs.platform.directory_of_all_tenants().await.unwrap() {
        let tx = dbs.app.begin(entry.id).await.unwrap();
        let own = trellis_db::site::current_messages(&tx, today, 10).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(!own.is_empty(), "{} has messages", entry.slug);
        for (slug, html) in &pages {
            for m in &own {
                let shown = html.contains(&m.title.replace('\'', "&#x27;")) || html.contains(&m.title);
                assert_eq!(shown, *slug == entry.slug, "{}'s message {:?} on {slug}'s page", entry.slug, m.title);
            }
        }
        for (slug, name) in NAMES {
            let own_page = &pages.iter().find(|(s, _)| *s == entry.slug).unwrap().1;
            if slug != entry.slug {
                assert!(!own_page.contains(name), "{}'s page mentions {name}", entry.slug);
            }
        }
    }
    // Each page links its own stylesheet, and that stylesheet carries its own colours.
    for (slug, _) in NAMES {
        let spec = std::fs::read_to_string(trellis_testkit::demo_tenants().join(slug).join("tenant.toml")).unwrap();
        let primary = spec
            .lines()
            .find_map(|l| l.trim().strip_prefix("primary = \""))
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let html = &pages.iter().find(|(s, _)| *s == slug).unwrap().1;
        let href = html.split("href=\"/trust-style/").nth(1).unwrap().split('"').next().unwrap();
        let css = app.get(&TestApp::host_of(slug), &format!("/trust-style/{href}")).await.text().await.unwrap();
        assert!(css.contains(&format!("--trellis-primary: {primary};")), "{slug}: {css}");
    }
}

#[tokio::test]
async fn hosts_are_matched_without_case_port_or_trailing_dot() {
    let app = spawn_app().await;
    for host in ["NorthMoor.Trellis.Test", "northmoor.trellis.test:8080", "northmoor.trellis.test."] {
        let html = app.get(host, "/").await.text().await.unwrap();
        assert!(html.contains("Northmoor Teaching Hospitals"), "{host}");
    }
}

#[tokio::test]
async fn a_verified_custom_domain_reaches_its_trust() {
    let app = spawn_app().await;
    let resp = app.get("learning.northmoor.example", "/").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("Northmoor Teaching Hospitals"));
}

#[tokio::test]
async fn the_base_domain_lists_every_trust() {
    let app = spawn_app().await;
    for host in [BASE.to_owned(), format!("www.{BASE}")] {
        let resp = app.get(&host, "/").await;
        assert_eq!(resp.status(), 200);
        let html = resp.text().await.unwrap();
        for (slug, name) in NAMES {
            assert!(html.contains(name), "{name}");
            assert!(html.contains(&format!("http://{slug}.{BASE}:{}/", app.addr.port())), "{slug}'s link");
        }
    }
}

#[tokio::test]
async fn unknown_and_reserved_hosts_get_a_404_and_no_trust() {
    let app = spawn_app().await;
    for host in [
        format!("nowhere.{BASE}"),
        format!("admin.{BASE}"),
        format!("content.{BASE}"),
        format!("a.northmoor.{BASE}"),
        "evil.example".to_owned(),
        // The content origin (e-learning content's own site) serves no trust's pages either.
        "127.0.0.1".to_owned(),
    ] {
        for path in ["/", "/accessibility", "/trust-style/x.css"] {
            let resp = app.get(&host, path).await;
            assert_eq!(resp.status(), 404, "{host}{path}");
            let html = resp.text().await.unwrap();
            assert!(
                html.contains("Page not found") || (host == "127.0.0.1" && html.contains("Not Found")),
                "{host}{path}"
            );
            for (_, name) in NAMES {
                assert!(!html.contains(name), "{host}{path} shows {name}");
            }
        }
    }
}

#[tokio::test]
async fn health_checks_answer_on_any_host() {
    let app = spawn_app().await;
    for host in ["127.0.0.1", "nowhere.trellis.test", "northmoor.trellis.test", "10.0.0.1:80"] {
        assert_eq!(app.get(host, "/healthz").await.status(), 200, "{host}");
        let ready = app.get(host, "/readyz").await;
        assert_eq!(ready.status(), 200, "{host}");
        let body: serde_json::Value = serde_json::from_str(&ready.text().await.unwrap()).unwrap();
        assert_eq!(body["checks"]["database"], "ok");
        let redis = if app.db.backend == trellis_testkit::Backend::Postgres { "ok" } else { "not configured" };
        assert_eq!(body["checks"]["redis"], redis);
    }
}

#[tokio::test]
async fn trust_b_cannot_fetch_trust_a_s_logo() {
    let app = spawn_app().await;
    let html = app.get(&TestApp::host_of("northmoor"), "/").await.text().await.unwrap();
    let logo = html.split("src=\"/logo/").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let own = app.get(&TestApp::host_of("northmoor"), &format!("/logo/{logo}")).await;
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["content-type"], "image/svg+xml");
    assert!(own.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
    let other = app.get(&TestApp::host_of("riverside"), &format!("/logo/{logo}")).await;
    assert_eq!(other.status(), 404);
}
