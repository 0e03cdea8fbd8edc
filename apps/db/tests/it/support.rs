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

/// PostgreSQL only: a transaction as the application role with `tenant` as the trust, on a raw
/// connection (so row-level security, not the data layer, is what is tested).
pub async fn raw_as(f: &Fixture, tenant: TenantId) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let tx = f.db.raw_app_connection().await.begin().await.unwrap();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [tenant.as_uuid().to_string().into()],
    ))
    .await
    .unwrap();
    tx
}

/// How many rows of `table` the transaction sees for `tenant`.
pub async fn rows_of(tx: &sea_orm::DatabaseTransaction, table: &str, tenant: TenantId) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    tx.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
        [tenant.as_uuid().into()],
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}

/// Runs each statement (its `$1` bound to `tenant`) in a raw transaction opened as another trust
/// (see [`raw_as`]) and asserts that none changed a row: row-level security hides `tenant`'s rows.
pub async fn changes_nothing(tx: &sea_orm::DatabaseTransaction, tenant: TenantId, statements: &[&str]) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    for sql in statements {
        let done = tx
            .execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, *sql, [tenant.as_uuid().into()]))
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 0, "{sql}");
    }
}

/// A nurse's details for `email` (their given name is the address's local part), to seed a member.
pub fn nurse(email: &str) -> trellis_db::identity::NewPerson {
    trellis_db::identity::NewPerson {
        email: email.into(),
        password_hash: None,
        given_name: email.split('@').next().unwrap_or("").into(),
        family_name: "Tester".into(),
        job_role: "Nurse".into(),
        place_of_work: "RX1".into(),
        register_kind: None,
        register_number: None,
    }
}
