//! No trust can read, insert, update or delete another trust's rows: through the data layer (both
//! databases), and on PostgreSQL through raw SQL as the application role, where row-level
//! security must refuse what the code path's filter would otherwise hide.

use crate::support::fixture;
use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_db::audit;
use trellis_db::site::{self, MessageInput};
use trellis_domain::colour::{ColourScheme, Rgb};
use trellis_testkit::Backend;

fn input(title: &str) -> MessageInput {
    MessageInput {
        title: title.into(),
        body: "body".into(),
        starts_on: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        ends_on: None,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

#[tokio::test]
async fn the_data_layer_never_crosses_trusts() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);

    let tx = f.dbs.app.begin(a).await.unwrap();
    let secret = site::add_message(&tx, input("Northmoor only")).await.unwrap();
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    // Read
    assert_eq!(site::message(&tx, secret.id).await.unwrap(), None);
    let listed = site::current_messages(&tx, today(), 100).await.unwrap();
    assert!(!listed.is_empty(), "riverside sees its own messages");
    assert!(listed.iter().all(|m| m.id != secret.id && !m.title.contains("Northmoor")));
    // Update
    let err = site::admin_edit_message(&tx, secret.id, input("hijacked")).await.unwrap_err();
    assert!(matches!(err, trellis_db::DbError::NotFound));
    // Delete
    assert_eq!(site::delete_message(&tx, secret.id).await.unwrap(), 0);
    // Insert: the handle stamps its own trust; what B writes is B's.
    let mine = site::add_message(&tx, input("Riverside note")).await.unwrap();
    // Branding: B's colour change touches only B.
    let scheme = ColourScheme { primary: Rgb::parse("#330072").unwrap(), ..ColourScheme::DEFAULT };
    site::admin_set_colours(&tx, scheme).await.unwrap().unwrap();
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(a).await.unwrap();
    let still = site::message(&tx, secret.id).await.unwrap().expect("A's message survives");
    assert_eq!(still.title, "Northmoor only");
    assert_eq!(site::message(&tx, mine.id).await.unwrap(), None, "A cannot see what B wrote");
    assert_eq!(site::primary_colour(&tx).await.unwrap().as_deref(), Some("#003087"));
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn logos_are_only_served_to_their_own_trust() {
    let f = fixture().await;
    let dir = f.dbs.platform.directory_of_all_tenants().await.unwrap();
    let north = dir.iter().find(|e| e.slug == "northmoor").unwrap();
    let (sha, _) = north.logo.clone().expect("northmoor has a logo");
    let tx = f.dbs.app.begin(north.id).await.unwrap();
    assert!(site::logo(&tx, &sha).await.unwrap().is_some());
    tx.rollback().await.unwrap();
    let tx = f.dbs.app.begin(f.ids["fenwick"]).await.unwrap();
    assert!(site::logo(&tx, &sha).await.unwrap().is_none());
    tx.rollback().await.unwrap();
}

async fn scalar(conn: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    let row =
        conn.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// A raw transaction with `app.tenant_id` set, as `TenantTx` does, but with no query filter.
async fn begin_as(conn: &sea_orm::DatabaseConnection, tenant: uuid::Uuid) -> sea_orm::DatabaseTransaction {
    let tx = conn.begin().await.unwrap();
    tx.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config('app.tenant_id', $1, true)",
        [tenant.to_string().into()],
    ))
    .await
    .unwrap();
    tx
}

#[tokio::test]
async fn row_level_security_refuses_raw_sql_as_the_application_role() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        // SQLite has no row-level security: the scoped handle carries isolation alone there,
        // and the test above covers it. Nothing to check here.
        return;
    }
    let (a, b) = (f.ids["northmoor"].as_uuid(), f.ids["riverside"].as_uuid());
    let conn = f.db.raw_app_connection().await;

    // Without a tenant set, nothing is visible and nothing can be written.
    assert_eq!(scalar(&conn, "SELECT count(*) FROM key_messages", vec![]).await, 0);
    assert_eq!(scalar(&conn, "SELECT count(*) FROM tenant_branding", vec![]).await, 0);

    let tx = begin_as(&conn, b).await;
    // Read: asking for A's rows by id, or for everything, shows only B's.
    assert_eq!(scalar(&tx, "SELECT count(*) FROM key_messages WHERE tenant_id = $1", vec![a.into()]).await, 0);
    assert_eq!(scalar(&tx, "SELECT count(*) FROM key_messages WHERE tenant_id <> $1", vec![b.into()]).await, 0);
    assert!(scalar(&tx, "SELECT count(*) FROM key_messages", vec![]).await > 0);
    assert_eq!(scalar(&tx, "SELECT count(*) FROM tenant_logos WHERE tenant_id = $1", vec![a.into()]).await, 0);
    // Update and delete of A's rows touch nothing.
    let upd = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE key_messages SET title = 'hijacked' WHERE tenant_id = $1",
            [a.into()],
        ))
        .await
        .unwrap();
    assert_eq!(upd.rows_affected(), 0);
    let del = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "DELETE FROM tenant_branding WHERE tenant_id = $1",
            [a.into()],
        ))
        .await
        .unwrap();
    assert_eq!(del.rows_affected(), 0);
    // Moving one of B's rows to A is refused by the policy's WITH CHECK.
    let moved = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE key_messages SET tenant_id = $1",
            [a.into()],
        ))
        .await;
    assert!(moved.is_err(), "moving a row to another trust must fail");
    tx.rollback().await.unwrap();

    // Insert into A while set to B: refused.
    let tx = begin_as(&conn, b).await;
    let ins = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO key_messages (tenant_id, id, title, body, starts_on, created_at, updated_at)
             VALUES ($1, $2, 'x', 'y', DATE '2026-01-01', now(), now())",
            [a.into(), uuid::Uuid::now_v7().into()],
        ))
        .await;
    let err = ins.unwrap_err().to_string();
    assert!(err.contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // The application role cannot turn security off, read platform tables, or become someone else.
    for sql in [
        "ALTER TABLE key_messages DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE key_messages NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON key_messages",
        "SELECT count(*) FROM tenants",
        "SELECT count(*) FROM tenant_hosts",
        "SET ROLE trellis_platform",
        "SET ROLE postgres",
    ] {
        assert!(conn.execute_unprepared(sql).await.is_err(), "the application role could run: {sql}");
    }

    // Nothing A owned changed.
    let owner = f.db.raw_owner_connection().await;
    assert_eq!(
        scalar(&owner, "SELECT count(*) FROM key_messages WHERE tenant_id = $1 AND title = 'hijacked'", vec![a.into()])
            .await,
        0
    );
    assert_eq!(scalar(&owner, "SELECT count(*) FROM tenant_branding WHERE tenant_id = $1", vec![a.into()]).await, 1);
}

#[tokio::test]
async fn every_table_with_a_tenant_id_has_forced_row_level_security_and_a_policy() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return; // a PostgreSQL schema property
    }
    let owner = f.db.raw_owner_connection().await;
    let rows = owner
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
                    (SELECT count(*) FROM pg_policies p
                      WHERE p.schemaname = 'public' AND p.tablename = c.relname
                        AND p.qual LIKE '%NULLIF(current_setting(''app.tenant_id''%'
                        AND p.with_check LIKE '%NULLIF(current_setting(''app.tenant_id''%') AS policies
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
               AND EXISTS (SELECT 1 FROM information_schema.columns col
                           WHERE col.table_schema = 'public' AND col.table_name = c.relname
                             AND col.column_name = 'tenant_id')
             ORDER BY 1",
        ))
        .await
        .unwrap();
    let mut checked = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name").unwrap();
        let rls: bool = row.try_get("", "rls").unwrap();
        let forced: bool = row.try_get("", "forced").unwrap();
        let policies: i64 = row.try_get("", "policies").unwrap();
        if name == "tenant_hosts" || name == "platform_audit" {
            // Platform tables: resolved before a tenant is known; the application role has no grant.
            continue;
        }
        assert!(rls && forced && policies >= 1, "{name}: rls={rls} forced={forced} tenant policies={policies}");
        checked.push(name);
    }
    assert!(checked.len() >= 4, "expected the tenant-owned tables, found {checked:?}");
}

#[tokio::test]
async fn the_application_role_is_least_privileged_and_checked_at_start() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return;
    }
    let conn = f.db.raw_app_connection().await;
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT r.rolsuper, r.rolbypassrls,
                    (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owned
             FROM pg_roles r WHERE r.rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.try_get::<bool>("", "rolsuper").unwrap());
    assert!(!row.try_get::<bool>("", "rolbypassrls").unwrap());
    assert_eq!(row.try_get::<i64>("", "owned").unwrap(), 0);

    // A server configured to connect as a superuser refuses to start.
    let mut cfg = f.config.database.clone();
    cfg.app_url = f.db.owner_url.clone();
    let err = trellis_db::connect(&cfg).await.err().expect("must refuse a superuser");
    assert!(err.to_string().contains("is a superuser"), "{err}");
}

#[tokio::test]
async fn people_are_visible_only_through_a_membership_and_the_audit_trail_is_append_only() {
    use trellis_db::identity::{self, MembershipStatus, NewPerson};
    use trellis_domain::identity::Role;
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let tx = f.dbs.app.begin(a).await.unwrap();
    let person = identity::accounts::create_person(
        &tx,
        NewPerson {
            email: "only-north@northmoor.example".into(),
            password_hash: None,
            given_name: "Only".into(),
            family_name: "North".into(),
            job_role: "Porter".into(),
            place_of_work: "XN1".into(),
            register_kind: None,
            register_number: None,
        },
        false,
    )
    .await
    .unwrap();
    identity::accounts::add_membership(
        &tx,
        identity::accounts::Consent::New(&person),
        MembershipStatus::Approved,
        &[Role::Learner],
    )
    .await
    .unwrap();
    audit::record(&tx, Some(person.id), "test.event", "north", None, serde_json::json!({})).await.unwrap();
    tx.commit().await.unwrap();

    // Through the data layer: B knows nothing of A's member.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(identity::member_person(&tx, person.id).await.unwrap().is_none());
    assert!(identity::membership(&tx, person.id).await.unwrap().is_none());
    assert!(audit::trail(&tx, 100).await.unwrap().iter().all(|e| e.action != "test.event"));
    assert!(matches!(
        identity::decide_membership(&tx, person.id, false, Some("x".into()), person.id).await,
        Err(trellis_db::DbError::NotFound)
    ));
    tx.rollback().await.unwrap();

    if f.db.backend != Backend::Postgres {
        return;
    }
    let conn = f.db.raw_app_connection().await;
    let pid = person.id.as_uuid();
    let tx = begin_as(&conn, b.as_uuid()).await;
    assert_eq!(
        scalar(&tx, "SELECT count(*) FROM people WHERE id = $1", vec![pid.into()]).await,
        0,
        "not a member of B"
    );
    assert_eq!(scalar(&tx, "SELECT count(*) FROM memberships WHERE person_id = $1", vec![pid.into()]).await, 0);
    tx.rollback().await.unwrap();
    let tx = begin_as(&conn, a.as_uuid()).await;
    assert_eq!(scalar(&tx, "SELECT count(*) FROM people WHERE id = $1", vec![pid.into()]).await, 1, "a member of A");
    for sql in [
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "UPDATE people SET email = 'x@y.example'",
        "SELECT count(*) FROM email_tokens",
    ] {
        let sp = tx.begin().await.unwrap();
        assert!(sp.execute_unprepared(sql).await.is_err(), "the application role could run: {sql}");
        sp.rollback().await.ok();
    }
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn marketplace_charges_and_ledger_lines_stay_their_owners_in_raw_sql() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return; // row-level security is PostgreSQL's; the data layer's tests cover both (web tests)
    }
    let (a, b) = (f.ids["northmoor"].as_uuid(), f.ids["riverside"].as_uuid());
    let platform = trellis_domain::TenantId::PLATFORM.as_uuid();
    let owner = f.db.raw_owner_connection().await;
    let charge = uuid::Uuid::now_v7();
    let txn = uuid::Uuid::now_v7();
    owner
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO charges (tenant_id, id, listing_id, course_id, seller_id, kind, funding, quantity,
                                  unit_pence, amount_pence, fee_pence, currency, status, month, created_at)
             VALUES ($1, $2, $3, $3, $3, 'enrolment', 'billed', 1, 4500, 4500, 675, 'gbp', 'billed', '2026-12', now())",
            [a.into(), charge.into(), uuid::Uuid::now_v7().into()],
        ))
        .await
        .unwrap();
    for (line, (who, account, pence)) in
        [(a, "spend", 4500_i64), (b, "earnings", -3825), (platform, "commission", -675)].into_iter().enumerate()
    {
        owner
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO ledger_entries (tenant_id, id, txn, line, kind, account, amount_pence, currency, charge_id, at)
                 VALUES ($1, $2, $3, $4, 'sale', $5, $6, 'gbp', $7, now())",
                [
                    who.into(),
                    uuid::Uuid::now_v7().into(),
                    txn.into(),
                    i32::try_from(line).unwrap().into(),
                    account.into(),
                    pence.into(),
                    charge.into(),
                ],
            ))
            .await
            .unwrap();
    }
    let conn = f.db.raw_app_connection().await;
    // The seller's site (B) sees its own earnings line only; not A's charge, not A's spend.
    let tx = begin_as(&conn, b).await;
    assert_eq!(scalar(&tx, "SELECT count(*) FROM charges", vec![]).await, 0);
    assert_eq!(scalar(&tx, "SELECT count(*) FROM ledger_entries", vec![]).await, 1);
    assert_eq!(scalar(&tx, "SELECT count(*) FROM ledger_entries WHERE account = 'earnings'", vec![]).await, 1);
    let upd = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "UPDATE charges SET status = 'refunded' WHERE id = $1",
            [charge.into()],
        ))
        .await
        .unwrap();
    assert_eq!(upd.rows_affected(), 0);
    let forged = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ledger_entries (tenant_id, id, txn, line, kind, account, amount_pence, currency, at)
             VALUES ($1, $2, $3, 9, 'sale', 'earnings', -100000, 'gbp', now())",
            [platform.into(), uuid::Uuid::now_v7().into(), txn.into()],
        ))
        .await;
    assert!(forged.is_err(), "a trust cannot write another party's ledger line");
    tx.rollback().await.unwrap();
    // The buyer (A) sees its charge and its spend, not the seller's or the platform's lines, and
    // cannot write even its own: the ledger is the platform's to write, and append-only.
    let tx = begin_as(&conn, a).await;
    assert_eq!(scalar(&tx, "SELECT count(*) FROM charges", vec![]).await, 1);
    assert_eq!(scalar(&tx, "SELECT count(*) FROM ledger_entries", vec![]).await, 1);
    let own = tx
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO ledger_entries (tenant_id, id, txn, line, kind, account, amount_pence, currency, at)
             VALUES ($1, $2, $3, 9, 'sale', 'spend', -4500, 'gbp', now())",
            [a.into(), uuid::Uuid::now_v7().into(), txn.into()],
        ))
        .await;
    assert!(own.is_err(), "the application role cannot write the ledger");
    tx.rollback().await.unwrap();
    let tx = begin_as(&conn, a).await;
    assert!(tx.execute_unprepared("DELETE FROM ledger_entries").await.is_err());
    tx.rollback().await.unwrap();
    // Platform-wide marketplace tables are the platform role's alone.
    for sql in ["SELECT count(*) FROM sellers", "SELECT count(*) FROM listings", "SELECT count(*) FROM stripe_events"] {
        assert!(conn.execute_unprepared(sql).await.is_err(), "the application role could run: {sql}");
    }
}

#[tokio::test]
async fn enquiries_and_their_threads_stay_their_trusts() {
    use trellis_db::enquiries::{self, NewEnquiry};
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let tx = f.dbs.app.begin(a).await.unwrap();
    let new = NewEnquiry {
        person: None,
        name: "Jo".into(),
        email: "jo@example.nhs.uk".into(),
        topic: "general".into(),
        body: "Hello".into(),
        due_at: None,
    };
    let e = enquiries::open(&tx, new, "the-link-token").await.unwrap();
    tx.commit().await.unwrap();

    // Riverside's handle finds nothing of it: by id, by its link, in its list, in its thread.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(enquiries::by_id(&tx, e.id).await.unwrap().is_none());
    assert!(enquiries::by_token(&tx, e.id, "the-link-token").await.unwrap().is_none());
    assert_eq!(enquiries::list(&tx, None, 0, 50).await.unwrap().1, 0);
    assert!(enquiries::thread(&tx, e.id).await.unwrap().is_empty());
    enquiries::set_closed(&tx, e.id, true).await.unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let mine = enquiries::by_token(&tx, e.id, "the-link-token").await.unwrap().expect("Northmoor's");
    assert_eq!(mine.status, "open", "Riverside's close changed nothing");
    assert!(enquiries::by_token(&tx, e.id, "a-guess").await.unwrap().is_none());
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let conn = f.db.raw_app_connection().await;
        let tx = begin_as(&conn, b.as_uuid()).await;
        for table in ["enquiries", "enquiry_messages"] {
            let n =
                scalar(&tx, &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"), vec![a.as_uuid().into()])
                    .await;
            assert_eq!(n, 0, "{table}: Riverside read Northmoor's rows in raw SQL");
        }
        let upd = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE enquiry_messages SET body = 'hijacked' WHERE tenant_id = $1",
                [a.as_uuid().into()],
            ))
            .await
            .unwrap();
        assert_eq!(upd.rows_affected(), 0);
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn library_versions_wait_for_their_scan_then_are_published_or_given_up() {
    use trellis_db::catalogue::StoredFile;
    use trellis_db::library::{self as lib, NewResource, NewVersion};
    let f = fixture().await;
    let a = f.ids["northmoor"];
    let held = format!("{a}/held/");
    let file = |key: &str| StoredFile {
        key: key.into(),
        name: "a.pdf".into(),
        content_type: "application/pdf".into(),
        size: 9,
    };
    let new = NewResource {
        kind: "document".into(),
        title: "Leaflet".into(),
        description: "About".into(),
        licence: "cc0".into(),
        propose_national: true,
        ..NewResource::default()
    };
    let first = NewVersion {
        file: Some(file(&format!("{held}1"))),
        captions_key: Some(format!("{held}2")),
        ..NewVersion::default()
    };
    let tx = f.dbs.app.begin(a).await.unwrap();
    // A first version waiting: `scanning`, not found by search, published once both files are scanned.
    let id = lib::create(&tx, &new, &first, true).await.unwrap();
    assert_eq!(lib::get(&tx, id).await.unwrap().unwrap().status, "scanning");
    let q = lib::Query { text: String::new(), limit: 50, ..lib::Query::default() };
    assert_eq!(lib::search(&tx, &q).await.unwrap().1, 0);
    assert!(lib::file_scanned(&tx, id, 1, &format!("{held}1"), &format!("{a}/library/u/1")).await.unwrap());
    assert!(!lib::publish_scanned(&tx, id, 1, &held).await.unwrap(), "its captions still wait");
    assert!(!lib::file_scanned(&tx, id, 1, &format!("{held}9"), "elsewhere").await.unwrap(), "not its file");
    assert!(lib::file_scanned(&tx, id, 1, &format!("{held}2"), &format!("{a}/library/u/2")).await.unwrap());
    assert!(lib::publish_scanned(&tx, id, 1, &held).await.unwrap());
    let r = lib::get(&tx, id).await.unwrap().unwrap();
    assert_eq!((r.status.as_str(), r.current_version, r.pending_version), ("published", 1, 0));

    // A second version waits, numbered but not current; only one waits at a time; given up, it is
    // deleted, and only its own file is to be deleted (the captions kept from version 1 stay).
    let second = NewVersion {
        file: Some(file(&format!("{held}3"))),
        captions_key: Some(format!("{a}/library/u/2")),
        note: "New".into(),
        ..NewVersion::default()
    };
    assert_eq!(lib::add_version(&tx, id, &second, true).await.unwrap(), Some(2));
    assert!(lib::add_version(&tx, id, &second, true).await.unwrap().is_none());
    assert!(lib::add_version(&tx, id, &second, false).await.unwrap().is_none());
    let r = lib::get(&tx, id).await.unwrap().unwrap();
    assert_eq!((r.current_version, r.pending_version), (1, 2));
    assert_eq!(lib::current(&tx, &r).await.unwrap().unwrap().number, 1);
    assert!(lib::refuse_waiting(&tx, id, 2, &format!("{held}9"), "stale").await.unwrap().is_none(), "not its file");
    let gone = lib::refuse_waiting(&tx, id, 2, &format!("{held}3"), "a virus").await.unwrap().unwrap();
    assert_eq!(gone, vec![format!("{held}3")]);
    let r = lib::get(&tx, id).await.unwrap().unwrap();
    assert_eq!((r.status.as_str(), r.current_version, r.pending_version), ("published", 1, 0));
    assert!(lib::version(&tx, &r, 2).await.unwrap().is_none());
    assert!(
        lib::refuse_waiting(&tx, id, 1, &format!("{held}1"), "late").await.unwrap().is_none(),
        "a published version is not given up"
    );
    // The next waiting version takes the number 2 again and becomes current once scanned.
    assert_eq!(lib::add_version(&tx, id, &second, true).await.unwrap(), Some(2));
    assert!(lib::file_scanned(&tx, id, 2, &format!("{held}3"), &format!("{a}/library/v/3")).await.unwrap());
    assert!(lib::publish_scanned(&tx, id, 2, &held).await.unwrap());
    let r = lib::get(&tx, id).await.unwrap().unwrap();
    assert_eq!((r.current_version, r.pending_version), (2, 0));

    // A first version given up: `refused`, with the reason, its proposal withdrawn and no file.
    let other = lib::create(&tx, &new, &first, true).await.unwrap();
    let gone =
        lib::refuse_waiting(&tx, other, 1, &format!("{held}1"), "bad.pdf contains a virus").await.unwrap().unwrap();
    assert_eq!(gone.len(), 2);
    let r = lib::get(&tx, other).await.unwrap().unwrap();
    assert_eq!(
        (r.status.as_str(), r.status_reason.as_str(), r.national.as_str()),
        ("refused", "bad.pdf contains a virus", "none")
    );
    let v = lib::current(&tx, &r).await.unwrap().unwrap();
    assert!(v.file.is_none() && v.captions_key.is_none());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_trusts_library_stays_its_own_and_the_national_library_is_read_only_to_trusts() {
    use trellis_db::library::{self as lib, NewResource, NewVersion};
    use trellis_domain::library::Contributors;
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let person = trellis_domain::PersonId::new();
    let new = NewResource {
        kind: "article".into(),
        title: "Ward round checklist".into(),
        description: "What to check".into(),
        licence: "cc-by".into(),
        attribution_name: "Ward team".into(),
        contributor: Some(person),
        ..NewResource::default()
    };
    let body = NewVersion { body: "Check the chart.".into(), ..NewVersion::default() };
    let tx = f.dbs.app.begin(a).await.unwrap();
    let id = lib::create(&tx, &new, &body, false).await.unwrap();
    let r = lib::get(&tx, id).await.unwrap().unwrap();
    lib::rate(&tx, &r, person, 4).await.unwrap();
    lib::add_feedback(&tx, &r, person, "Useful").await.unwrap();
    lib::report(&tx, &r, person, "wrong", "Old").await.unwrap();
    lib::set_contributors(&tx, Contributors::Everyone).await.unwrap();
    lib::accept_policy(&tx, person).await.unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(trellis_domain::TenantId::NATIONAL).await.unwrap();
    let national =
        lib::create(&tx, &NewResource { title: "National one".into(), ..new.clone() }, &body, false).await.unwrap();
    tx.commit().await.unwrap();

    // Riverside's handle: none of Northmoor's rows, the national one readable but not changeable.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(lib::get(&tx, id).await.unwrap().is_none());
    let q = lib::Query { text: String::new(), limit: 50, ..lib::Query::default() };
    let (found, total) = lib::search(&tx, &q).await.unwrap();
    assert_eq!((found.iter().map(|r| r.id).collect::<Vec<_>>(), total), (vec![national], 1));
    assert!(lib::feedback(&tx, id).await.unwrap().is_empty());
    assert_eq!(lib::ratings(&tx, id, person).await.unwrap().count, 0);
    assert!(lib::open_reports(&tx).await.unwrap().is_empty());
    assert_eq!(lib::contributors(&tx).await.unwrap(), Contributors::Editors);
    assert!(!lib::policy_accepted(&tx, person).await.unwrap());
    assert!(!lib::set_status(&tx, id, "removed", "x").await.unwrap());
    assert!(!lib::set_status(&tx, national, "removed", "x").await.unwrap(), "the national library is the platform's");
    assert!(lib::add_version(&tx, national, &body, false).await.unwrap().is_none());
    // Nor publish or refuse Northmoor's waiting files.
    assert!(!lib::file_scanned(&tx, id, 1, "x/held/y", "x/library/z").await.unwrap());
    assert!(!lib::publish_scanned(&tx, id, 1, "x/held/").await.unwrap());
    assert!(lib::refuse_waiting(&tx, id, 1, "x/held/y", "virus").await.unwrap().is_none());
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert_eq!(lib::get(&tx, id).await.unwrap().unwrap().status, "published");
    assert_eq!(lib::open_reports(&tx).await.unwrap().len(), 1);
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let conn = f.db.raw_app_connection().await;
        let tx = begin_as(&conn, b.as_uuid()).await;
        for table in [
            "resources",
            "resource_versions",
            "resource_ratings",
            "resource_feedback",
            "resource_reports",
            "library_settings",
            "content_policy_acceptances",
        ] {
            let n =
                scalar(&tx, &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"), vec![a.as_uuid().into()])
                    .await;
            assert_eq!(n, 0, "{table}: Riverside read Northmoor's rows in raw SQL");
        }
        for sql in [
            "UPDATE resources SET title = 'hijacked' WHERE tenant_id = $1",
            "UPDATE resources SET title = 'hijacked' WHERE tenant_id = '00000000-0000-0000-0000-00000000c0de' AND $1::uuid IS NOT NULL",
            "DELETE FROM resource_reports WHERE tenant_id = $1",
        ] {
            let done = tx
                .execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [a.as_uuid().into()]))
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 0, "{sql}");
        }
        tx.rollback().await.unwrap();
    }
}
