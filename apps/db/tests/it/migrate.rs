//! Several instances may migrate at once: one does the work, the others wait and find none.

use trellis_testkit::TestDb;

#[tokio::test]
async fn concurrent_migrations_apply_each_migration_exactly_once() {
    let db = TestDb::empty().await;
    let config = trellis_testkit::test_config(&db);
    let runs = (0..4).map(|_| {
        let cfg = config.database.clone();
        tokio::spawn(async move { trellis_db::migrate(&cfg).await })
    });
    let mut applied = Vec::new();
    for run in runs {
        applied.push(run.await.unwrap().unwrap());
    }
    let total: usize = applied.iter().map(Vec::len).sum();
    let busy = applied.iter().filter(|a| !a.is_empty()).count();
    assert_eq!(busy, 1, "exactly one instance migrates: {applied:?}");
    assert!(total >= 2, "{applied:?}");
    assert!(trellis_db::migrate(&config.database).await.unwrap().is_empty());
}
