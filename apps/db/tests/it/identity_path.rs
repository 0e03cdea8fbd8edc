//! The identity path (ADR 0014): the application role cannot pull an account into its trust or
//! read anyone's secrets; the identity role crosses trusts only for people, never for trust data;
//! the audit trail changes only through its two functions; no role connects to another database.
//! Data-layer checks run on both databases; raw SQL as each role on PostgreSQL.

use crate::support::fixture;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_db::audit;
use trellis_db::identity::{self as id, MembershipStatus, NewPerson, accounts};
use trellis_domain::identity::Role;
use trellis_testkit::Backend;

fn person(email: &str) -> NewPerson {
    NewPerson {
        email: email.into(),
        password_hash: Some("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into()),
        given_name: "Sam".into(),
        family_name: "Secret".into(),
        job_role: "Nurse".into(),
        place_of_work: "XN1".into(),
        register_kind: None,
        register_number: None,
    }
}

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

async fn refused(tx: &sea_orm::DatabaseTransaction, sql: &str, values: Vec<sea_orm::Value>) -> bool {
    let sp = tx.begin().await.unwrap();
    let r = sp.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await;
    sp.rollback().await.ok();
    r.is_err()
}

#[tokio::test]
async fn an_account_joins_a_trust_only_with_its_consent() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    // Sam is Northmoor's.
    let tx = f.dbs.app.begin(a).await.unwrap();
    let sam = accounts::create_person(&tx, person("sam@northmoor.example"), true).await.unwrap();
    accounts::add_membership(&tx, accounts::Consent::New(&sam), MembershipStatus::Approved, &[Role::Learner])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Riverside finds the account (no name, no secret) but cannot add it without a proof.
    let tx = f.dbs.app.begin(b).await.unwrap();
    let found = accounts::find_one(&tx, "sam@northmoor.example").await.unwrap().unwrap();
    assert_eq!(found.id, sam.id);
    assert!(!found.member_here && found.member_elsewhere && !found.platform_admin);
    let refused =
        accounts::add_membership(&tx, accounts::Consent::Proven(sam.id), MembershipStatus::Approved, &[]).await;
    assert!(refused.is_err(), "no proof, no membership");
    tx.rollback().await.unwrap();
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(id::membership(&tx, sam.id).await.unwrap().is_none());
    assert!(id::member_person(&tx, sam.id).await.unwrap().is_none(), "Sam's details stay out of Riverside's sight");
    tx.rollback().await.unwrap();

    // A proof for Northmoor does not open Riverside; one for Riverside works once.
    let itx = f.dbs.identity.begin(a).await.unwrap();
    id::grant_proof(&itx, sam.id, "join").await.unwrap();
    itx.commit().await.unwrap();
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(
        accounts::add_membership(&tx, accounts::Consent::Proven(sam.id), MembershipStatus::Approved, &[])
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    let itx = f.dbs.identity.begin(b).await.unwrap();
    id::grant_proof(&itx, sam.id, "join").await.unwrap();
    itx.commit().await.unwrap();
    let tx = f.dbs.app.begin(b).await.unwrap();
    accounts::add_membership(&tx, accounts::Consent::Proven(sam.id), MembershipStatus::Pending, &[Role::Learner])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert_eq!(id::membership(&tx, sam.id).await.unwrap().unwrap().status, MembershipStatus::Pending);
    tx.rollback().await.unwrap();

    // An invitation accepted in the transaction is consent too; an open one is not.
    let tx = f.dbs.app.begin(f.ids["fenwick"]).await.unwrap();
    let raw =
        accounts::invite(&tx, sam.id, "sam@northmoor.example", &serde_json::json!({}), None, chrono::Duration::days(1))
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(f.ids["fenwick"]).await.unwrap();
    assert!(accounts::accept_invitation(&tx, "not-the-token").await.unwrap().is_none());
    let accepted = accounts::accept_invitation(&tx, &raw).await.unwrap().unwrap();
    accounts::add_membership(&tx, accounts::Consent::Invited(&accepted), MembershipStatus::Approved, &[Role::Learner])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(f.ids["fenwick"]).await.unwrap();
    assert!(accounts::accept_invitation(&tx, &raw).await.unwrap().is_none(), "an invitation is accepted once");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_application_role_reads_no_secret_and_adds_no_member_in_raw_sql() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return;
    }
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let tx = f.dbs.app.begin(a).await.unwrap();
    let sam = accounts::create_person(&tx, person("sam@northmoor.example"), true).await.unwrap();
    accounts::add_membership(&tx, accounts::Consent::New(&sam), MembershipStatus::Approved, &[Role::Learner])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let itx = f.dbs.identity.begin(a).await.unwrap();
    id::enable_mfa(&itx, sam.id, "JBSWY3DPEHPK3PXP", 1, &["abcdef1234".into()]).await.unwrap();
    itx.commit().await.unwrap();

    let app = f.db.raw_connection_as(trellis_db::APP_ROLE).await;
    let pid = sam.id.as_uuid();
    // Even for a member of its own trust, no secret is readable, and the people row has none.
    let tx = begin_as(&app, a.as_uuid()).await;
    for sql in [
        "SELECT count(*) FROM person_secrets",
        "SELECT count(*) FROM mfa_recovery_codes",
        "SELECT count(*) FROM email_tokens",
        "SELECT count(*) FROM identity_proofs",
        "SELECT password_hash FROM people",
        "SELECT mfa_secret FROM people",
        "UPDATE people SET email = 'x@y.example'",
        "INSERT INTO identity_proofs (tenant_id, id, person_id, purpose, created_at, expires_at) VALUES (NULLIF(current_setting('app.tenant_id', true), '')::uuid, gen_random_uuid(), gen_random_uuid(), 'join', now(), now())",
    ] {
        assert!(refused(&tx, sql, vec![]).await, "the application role could run: {sql}");
    }
    tx.rollback().await.unwrap();

    // From Riverside: inserting a membership for Sam (then reading Sam) is refused, directly and
    // through the function (no consent).
    let tx = begin_as(&app, b.as_uuid()).await;
    assert!(
        refused(
            &tx,
            "INSERT INTO memberships (tenant_id, person_id, status, created_at, updated_at) VALUES ($1, $2, 'approved', now(), now())",
            vec![b.as_uuid().into(), pid.into()],
        )
        .await
    );
    assert!(refused(&tx, "SELECT trellis_add_membership($1, 'approved')", vec![pid.into()]).await);
    let seen = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FROM people WHERE id = $1",
            [pid.into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(seen, 0);
    // The narrow functions answer only what the flows need: no name, no secret.
    let cols = tx
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT string_agg(attname, ',') FROM pg_attribute WHERE attrelid = 'people'::regclass AND attnum > 0 AND NOT attisdropped",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<String>(0)
        .unwrap();
    assert!(!cols.contains("password") && !cols.contains("mfa_secret"), "{cols}");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_identity_role_crosses_trusts_for_people_only_and_bypasses_nothing() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return;
    }
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let identity = f.db.raw_connection_as(trellis_db::IDENTITY_ROLE).await;
    let attrs = identity
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper::int + rolbypassrls::int AS n FROM pg_roles WHERE rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i32>("", "n")
        .unwrap();
    assert_eq!(attrs, 0, "neither superuser nor BYPASSRLS");
    let tx = begin_as(&identity, b.as_uuid()).await;
    // People of any trust: yes (signing in by email).
    let tx2 = f.dbs.app.begin(a).await.unwrap();
    let sam = accounts::create_person(&tx2, person("sam@northmoor.example"), true).await.unwrap();
    accounts::add_membership(&tx2, accounts::Consent::New(&sam), MembershipStatus::Approved, &[]).await.unwrap();
    audit::record(&tx2, Some(sam.id), "test.north", "x", None, serde_json::json!({})).await.unwrap();
    tx2.commit().await.unwrap();
    let n = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) FROM people WHERE id = $1",
            [sam.id.as_uuid().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(n, 1);
    // Trust data: no.
    for sql in [
        "SELECT count(*) FROM courses",
        "SELECT count(*) FROM enrolments",
        "SELECT count(*) FROM staff_records",
        "SELECT count(*) FROM audit_events",
        "SELECT count(*) FROM outbox",
        "INSERT INTO memberships (tenant_id, person_id, status, created_at, updated_at) VALUES (NULLIF(current_setting('app.tenant_id', true), '')::uuid, gen_random_uuid(), 'approved', now(), now())",
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
    ] {
        assert!(refused(&tx, sql, vec![]).await, "the identity role could run: {sql}");
    }
    // Its own audit entries go to the trust of its transaction only.
    assert!(
        refused(
            &tx,
            "INSERT INTO audit_events (tenant_id, id, at, action, subject, detail) VALUES ($1, gen_random_uuid(), now(), 'x', 'x', '{}')",
            vec![a.as_uuid().into()],
        )
        .await,
        "Riverside's identity transaction wrote to Northmoor's trail"
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn the_audit_trail_changes_only_through_its_functions() {
    let f = fixture().await;
    let a = f.ids["northmoor"];
    let tx = f.dbs.app.begin(a).await.unwrap();
    let sam = accounts::create_person(&tx, person("sam@northmoor.example"), true).await.unwrap();
    accounts::add_membership(&tx, accounts::Consent::New(&sam), MembershipStatus::Approved, &[]).await.unwrap();
    audit::record(&tx, Some(sam.id), "sign_in", &sam.id.to_string(), Some("192.0.2.7"), serde_json::json!({ "x": 1 }))
        .await
        .unwrap();
    audit::record(&tx, None, "other", "someone else", Some("192.0.2.8"), serde_json::json!({ "y": 2 })).await.unwrap();
    audit::record(
        &tx,
        None,
        "invited",
        "Sam@Northmoor.example",
        None,
        serde_json::json!({ "to": "sam@northmoor.example" }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        for role in [trellis_db::APP_ROLE, trellis_db::PLATFORM_ROLE, trellis_db::IDENTITY_ROLE] {
            let conn = f.db.raw_connection_as(role).await;
            let tx = begin_as(&conn, a.as_uuid()).await;
            for sql in ["UPDATE audit_events SET ip = NULL", "DELETE FROM audit_events"] {
                assert!(refused(&tx, sql, vec![]).await, "{role} could run: {sql}");
            }
            tx.rollback().await.unwrap();
        }
    }
    // Erasure: the person's entries take a pseudonym and lose their address; an entry that names
    // them loses what it said; others' entries stay as they were.
    let pseudonym = trellis_domain::PersonId::from_uuid(uuid::Uuid::now_v7());
    let n = f
        .dbs
        .platform
        .pseudonymise_audit_across_tenants(sam.id, pseudonym, &[a], &["sam@northmoor.example".to_owned()])
        .await
        .unwrap();
    assert_eq!(n, 2);
    let tx = f.dbs.app.begin(a).await.unwrap();
    let trail = audit::trail(&tx, 50).await.unwrap();
    tx.rollback().await.unwrap();
    let signed = trail.iter().find(|e| e.action == "sign_in").unwrap();
    assert_eq!(
        (signed.ip.as_deref(), signed.actor, signed.subject.clone()),
        (None, Some(pseudonym), pseudonym.to_string())
    );
    let invited = trail.iter().find(|e| e.action == "invited").unwrap();
    assert_eq!((invited.subject.as_str(), invited.detail.as_str()), ("(erased)", "{}"));
    let other = trail.iter().find(|e| e.action == "other").unwrap();
    assert_eq!(
        (other.ip.as_deref(), other.detail.as_str()),
        (Some("192.0.2.8"), r#"{"y":2}"#),
        "others' entries untouched"
    );
    // Retention: a trust's entries before a date go.
    let gone =
        f.dbs.platform.purge_audit_across_tenants(a, chrono::Utc::now() + chrono::Duration::seconds(1)).await.unwrap();
    assert!(gone >= 3);
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert!(audit::trail(&tx, 50).await.unwrap().is_empty());
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn no_role_connects_to_another_database() {
    let f = fixture().await;
    if f.db.backend != Backend::Postgres {
        return;
    }
    for role in [trellis_db::APP_ROLE, trellis_db::PLATFORM_ROLE, trellis_db::IDENTITY_ROLE] {
        for db in ["postgres", "test"] {
            let mut url = url::Url::parse(&f.db.owner_url).unwrap();
            url.set_path(&format!("/{db}"));
            let url = trellis_db::role_url(url.as_str(), role).unwrap();
            let attempt = sea_orm::Database::connect(url.as_str()).await;
            assert!(attempt.is_err(), "{role} connected to {db}");
        }
    }
    // Its own database: yes.
    f.db.raw_connection_as(trellis_db::APP_ROLE).await;
}
