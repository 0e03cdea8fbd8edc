//! Keys ready for distribution by tenant (ADR 0002): every tenant-owned table's primary key and
//! unique constraints include `tenant_id`, and every foreign key between tenant-owned tables
//! includes it. A new table that breaks the rule fails here, on both databases.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::{BTreeMap, BTreeSet};
use trellis_testkit::Backend;
use trellis_testkit::TestDb;

/// Tables with a `tenant_id` column that are the platform's, not a trust's: they name a trust
/// but are read and written across trusts by the platform (and stay on the coordinator when the
/// database is distributed).
const PLATFORM_TABLES: &[&str] = &[
    "tenant_hosts",   // the host map: unique by host across every trust
    "platform_audit", // the platform's own audit trail
];

/// Each table with a `tenant_id` column: its key and unique column sets, and its foreign keys
/// (columns, referenced table).
struct Shape {
    keys: Vec<(String, Vec<String>)>,
    foreign: Vec<(Vec<String>, String)>,
}

async fn rows(conn: &sea_orm::DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    conn.query_all_raw(Statement::from_string(conn.get_database_backend(), sql.to_owned())).await.unwrap()
}

async fn shapes(db: &TestDb) -> BTreeMap<String, Shape> {
    let conn = db.raw_owner_connection().await;
    let mut out = BTreeMap::new();
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let tables = rows(
                &conn,
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
                 WHERE n.nspname = 'public' AND c.relkind = 'r'",
            )
            .await;
            for t in tables {
                let name: String = t.try_get("", "relname").unwrap();
                let cols = |arr: &str| {
                    format!(
                        "ARRAY(SELECT a.attname::text FROM unnest({arr}) k JOIN pg_attribute a ON a.attrelid = '{name}'::regclass AND a.attnum = k)"
                    )
                };
                let keys = rows(
                    &conn,
                    &format!(
                        "SELECT i.indexrelid::regclass::text AS name, {} AS cols FROM pg_index i
                         WHERE i.indrelid = '{name}'::regclass AND (i.indisunique OR i.indisprimary)",
                        cols("i.indkey")
                    ),
                )
                .await
                .into_iter()
                .map(|r| (r.try_get::<String>("", "name").unwrap(), r.try_get::<Vec<String>>("", "cols").unwrap()))
                .collect();
                let foreign = rows(
                    &conn,
                    &format!(
                        "SELECT {} AS cols, con.confrelid::regclass::text AS target FROM pg_constraint con
                         WHERE con.conrelid = '{name}'::regclass AND con.contype = 'f'",
                        cols("con.conkey")
                    ),
                )
                .await
                .into_iter()
                .map(|r| (r.try_get::<Vec<String>>("", "cols").unwrap(), r.try_get::<String>("", "target").unwrap()))
                .collect();
                out.insert(name, Shape { keys, foreign });
            }
        }
        _ => {
            let tables = rows(
                &conn,
                "SELECT m.name FROM sqlite_master m WHERE m.type = 'table'
                 AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'tenant_id')",
            )
            .await;
            for t in tables {
                let name: String = t.try_get("", "name").unwrap();
                let mut keys = Vec::new();
                let pk: Vec<String> =
                    rows(&conn, &format!("SELECT name FROM pragma_table_info('{name}') WHERE pk > 0"))
                        .await
                        .into_iter()
                        .map(|r| r.try_get("", "name").unwrap())
                        .collect();
                keys.push(("primary key".to_owned(), pk));
                for ix in
                    rows(&conn, &format!("SELECT name FROM pragma_index_list('{name}') WHERE \"unique\" = 1")).await
                {
                    let ix: String = ix.try_get("", "name").unwrap();
                    let cols = rows(&conn, &format!("SELECT name FROM pragma_index_info('{ix}')"))
                        .await
                        .into_iter()
                        .map(|r| r.try_get("", "name").unwrap())
                        .collect();
                    keys.push((ix, cols));
                }
                let mut fks: BTreeMap<i64, (Vec<String>, String)> = BTreeMap::new();
                for r in rows(
                    &conn,
                    &format!("SELECT id, \"table\" AS target, \"from\" AS col FROM pragma_foreign_key_list('{name}')"),
                )
                .await
                {
                    let e = fks
                        .entry(r.try_get("", "id").unwrap())
                        .or_insert_with(|| (Vec::new(), r.try_get("", "target").unwrap()));
                    e.0.push(r.try_get("", "col").unwrap());
                }
                out.insert(name, Shape { keys, foreign: fks.into_values().collect() });
            }
        }
    }
    out
}

#[tokio::test]
async fn every_tenant_owned_key_unique_constraint_and_foreign_key_includes_tenant_id() {
    let db = TestDb::new().await;
    trellis_db::migrate(&trellis_testkit::test_config(&db).database).await.unwrap();
    let shapes = shapes(&db).await;
    assert!(shapes.len() > 30, "found only {} tables with tenant_id", shapes.len());
    let tenant_owned: BTreeSet<&str> =
        shapes.keys().map(String::as_str).filter(|t| !PLATFORM_TABLES.contains(t)).collect();
    let mut wrong = Vec::new();
    for table in &tenant_owned {
        let shape = &shapes[*table];
        for (name, cols) in &shape.keys {
            if !cols.iter().any(|c| c == "tenant_id") {
                wrong.push(format!("{table}: {name} ({}) lacks tenant_id", cols.join(", ")));
            }
        }
        for (cols, target) in &shape.foreign {
            if tenant_owned.contains(target.as_str()) && !cols.iter().any(|c| c == "tenant_id") {
                wrong.push(format!("{table}: foreign key ({}) → {target} lacks tenant_id", cols.join(", ")));
            }
        }
    }
    assert!(wrong.is_empty(), "keys not ready for distribution by tenant:\n{}", wrong.join("\n"));
    // The rule is checked, not assumed: the platform's tables are the only ones let off.
    if db.backend == Backend::Postgres {
        assert!(shapes.contains_key("tenant_hosts"));
    }
}
