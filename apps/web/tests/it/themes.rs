//! A theme overrides any template of `default` and falls back to it for the rest.

use trellis_testkit::{TestApp, minimal_tenant, repo_root, spawn_app_with, write_tenant};

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() { copy_dir(&path, &target) } else { std::fs::copy(&path, &target).map(|_| ()).unwrap() }
    }
}

#[tokio::test]
async fn a_theme_overrides_a_template_and_falls_back_for_the_rest() {
    let themes = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("themes/default"), &themes.path().join("default"));
    let custom = themes.path().join("custom/templates/pages");
    std::fs::create_dir_all(&custom).unwrap();
    std::fs::write(
        custom.join("tenant_home.html"),
        "{% extends \"layouts/base.html\" %}{% block content %}<h1>Custom home of {{ tenant.name }}</h1>{% endblock content %}",
    )
    .unwrap();
    let tenants = tempfile::tempdir().unwrap();
    write_tenant(tenants.path(), "plain", &minimal_tenant("Plain Trust", "XP1", "#003087"));
    write_tenant(
        tenants.path(),
        "fancy",
        &format!("theme = \"custom\"\n{}", minimal_tenant("Fancy Trust", "XF1", "#003087")),
    );
    let dir = themes.path().to_path_buf();
    let app = spawn_app_with(Some(tenants.path()), move |c| c.paths.themes = dir.display().to_string()).await;

    let fancy = app.get(&TestApp::host_of("fancy"), "/").await.text().await.unwrap();
    assert!(fancy.contains("<h1>Custom home of Fancy Trust</h1>"), "{fancy}");
    assert!(fancy.contains("nhsuk-header"), "the layout comes from default");
    let fancy_a11y = app.get(&TestApp::host_of("fancy"), "/accessibility").await;
    assert_eq!(fancy_a11y.status(), 200, "pages the theme lacks fall back to default");
    let plain = app.get(&TestApp::host_of("plain"), "/").await.text().await.unwrap();
    assert!(!plain.contains("Custom home"));
}
