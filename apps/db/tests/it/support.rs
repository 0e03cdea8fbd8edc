use std::collections::HashMap;
use trellis_db::Databases;
use trellis_domain::TenantId;
use trellis_testkit::TestDb;

/// A migrated database with the demo trusts applied.
pub struct Fixture {
    pub db: TestDb,
    pub config: trellis_domain::config::Config,
    pub dbs: Databases,
    pub ids: HashMap<String, TenantId>,
}

pub async fn fixture() -> Fixture {
    let db = TestDb::new().await;
    let config = trellis_testkit::test_config(&db);
    trellis_db::migrate(&config.database).await.unwrap();
    let dbs = trellis_db::connect(&config.database).await.unwrap();
    trellis_testkit::apply_dir(&config, &dbs, &trellis_testkit::demo_tenants(), false).await.unwrap();
    let ids = ids(&dbs).await;
    Fixture { db, config, dbs, ids }
}

pub async fn ids(dbs: &Databases) -> HashMap<String, TenantId> {
    dbs.platform.directory_of_all_tenants().await.unwrap().into_iter().map(|e| (e.slug, e.id)).collect()
}
