//! A change to the trusts reaches every running instance: at once over Redis when configured,
//! and on the periodic reload in any case.

use crate::eventually;
use std::time::Duration;
use trellis_testkit::{Backend, apply_dir, minimal_tenant, spawn_app_with, write_tenant};

#[tokio::test]
async fn the_periodic_reload_picks_up_a_new_trust() {
    let app = spawn_app_with(None, |c| c.server.host_reload_seconds = 1).await;
    let host = "newtrust.trellis.test";
    assert_eq!(app.get(host, "/").await.status(), 404);
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), "newtrust", &minimal_tenant("New Trust", "XN9", "#003087"));
    apply_dir(&app.config, &app.dbs().await, dir.path(), false).await.unwrap();
    let seen = eventually(Duration::from_secs(10), || async { app.get(host, "/").await.status() == 200 }).await;
    assert!(seen, "the new trust was not served after a reload");
}

#[tokio::test]
async fn a_notice_over_redis_reaches_another_instance() {
    let app = spawn_app_with(None, |_| {}).await; // reload timer: an hour
    if app.db.backend != Backend::Postgres {
        return; // Redis runs beside PostgreSQL in the test matrix
    }
    let other = trellis_web::start(app.config.clone(), app.dbs().await).await.unwrap();
    let client = reqwest::Client::new();
    let get = |addr: std::net::SocketAddr, host: &'static str| {
        let client = client.clone();
        async move { client.get(format!("http://{addr}/")).header("host", host).send().await.unwrap().status() }
    };
    assert_eq!(get(other.addr, "newtrust.trellis.test").await, 404);
    let dir = tempfile::tempdir().unwrap();
    write_tenant(dir.path(), "newtrust", &minimal_tenant("New Trust", "XN9", "#003087"));
    apply_dir(&app.config, &app.dbs().await, dir.path(), false).await.unwrap();
    assert!(trellis_web::announce_tenants_changed(&app.config).await.unwrap());
    let ok =
        eventually(Duration::from_secs(5), || async { get(other.addr, "newtrust.trellis.test").await == 200 }).await;
    assert!(ok, "the other instance did not reload on the notice");
    assert!(eventually(Duration::from_secs(5), || async { get(app.addr, "newtrust.trellis.test").await == 200 }).await);
    other.stop().await;
}
