//! E-learning and the LRS keep to their trust: packages, attempts, commits, cmi5 sessions,
//! statements (and what they mention), attachments, documents, activity definitions and
//! credentials are never another trust's to read or change — through the data layer on both
//! databases, and by raw SQL as the application role on PostgreSQL (row-level security).

use crate::support::fixture;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_db::catalogue::{self as cat, CourseInput};
use trellis_db::elearning::{self as el, NewPackage};
use trellis_db::xapi::{self as x, Api, DocScope, NewCredential, NewStatement};
use trellis_domain::PackageId;
use trellis_testkit::Backend;
use uuid::Uuid;

fn statement(id: Uuid) -> NewStatement {
    NewStatement {
        id,
        stored: chrono::Utc::now(),
        timestamp: chrono::Utc::now(),
        verb_key: "v".repeat(32),
        object_key: "o".repeat(32),
        actor_key: "a".repeat(32),
        registration: Some(Uuid::nil()),
        ref_target: None,
        voiding: false,
        version: "1.0.0".into(),
        body: format!("{{\"id\":\"{id}\"}}"),
        mentions: vec![("activity", "o".repeat(32), false), ("agent", "a".repeat(32), false)],
    }
}

#[tokio::test]
async fn packages_attempts_and_the_record_store_never_cross_trusts() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);

    // A's course with a package, an enrolled learner and an attempt with a commit; A's LRS has a
    // statement, an attachment, a document, an activity and a credential.
    let tx = f.dbs.app.begin(a).await.unwrap();
    let course = cat::create_course(
        &tx,
        &CourseInput {
            code: "A-EL".into(),
            kind: "course".into(),
            title: "E".into(),
            enrolment: "open".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .unwrap();
    let pkg = PackageId::new();
    let sessions = el::add_package(
        &tx,
        &NewPackage {
            id: pkg,
            course,
            standard: "scorm12".into(),
            edition: "1.2".into(),
            title: "P".into(),
            identifier: "p".into(),
            file_count: 1,
            total_bytes: 10,
            sha256: "0".repeat(64),
            by: None,
            sessions: vec![("SCO".into(), "{}".into())],
        },
    )
    .await
    .unwrap()
    .expect("A's own course");
    cat::publish(&tx, course).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let (person, _) = trellis_db::identity::accounts::seed_member(
        &f.dbs,
        a,
        trellis_db::identity::NewPerson {
            email: "el@northmoor.example".into(),
            password_hash: None,
            given_name: "E".into(),
            family_name: "L".into(),
            job_role: String::new(),
            place_of_work: String::new(),
            register_kind: None,
            register_number: None,
        },
        &[],
    )
    .await
    .unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let c = cat::course(&tx, course).await.unwrap().unwrap();
    trellis_db::learning::enrol(&tx, person, &c, "self", true, None, None).await.unwrap();
    let e = trellis_db::learning::enrolment(&tx, person, course).await.unwrap().unwrap();
    let att = el::new_attempt(&tx, &e, sessions[0], "scorm12", el::registration(&e, pkg), "{}".into()).await.unwrap();
    el::add_commit(&tx, att.id, 1, 1, "{}", "applied").await.unwrap();
    // A group of commits and attempts written at once (as the SCORM commit writer does).
    let second =
        el::new_attempt(&tx, &e, sessions[0], "scorm12", el::registration(&e, pkg), "{}".into()).await.unwrap();
    el::add_commits(
        &tx,
        &[
            el::NewCommit {
                attempt: att.id,
                launch: 1,
                seq: 2,
                payload: "{\"a\":2}".into(),
                outcome: "applied".into(),
            },
            el::NewCommit {
                attempt: second.id,
                launch: 1,
                seq: 1,
                payload: "{\"b\":1}".into(),
                outcome: "refused: x".into(),
            },
        ],
    )
    .await
    .unwrap();
    let mut a1 = att.clone();
    a1.completion = "completed".into();
    a1.score_scaled = Some(0.125);
    a1.total_cs = 4200;
    a1.completed_at = Some(chrono::Utc::now());
    let mut a2 = second.clone();
    a2.success = "failed".into();
    a2.score_raw = Some(12.5);
    a2.record = "{\"exit\":\"suspend\"}".into();
    el::save_attempts(&tx, &[&a1, &a2]).await.unwrap();
    let r1 = el::attempt(&tx, att.id).await.unwrap().unwrap();
    let r2 = el::attempt(&tx, second.id).await.unwrap().unwrap();
    assert_eq!((r1.completion.as_str(), r1.score_scaled, r1.total_cs), ("completed", Some(0.125), 4200));
    assert!(r1.completed_at.is_some() && r1.ended_at.is_none());
    assert_eq!((r2.success.as_str(), r2.score_raw, r2.score_scaled), ("failed", Some(12.5), None));
    assert_eq!(r2.record, "{\"exit\":\"suspend\"}");
    let kept = el::commits(&tx, att.id, 10).await.unwrap();
    assert_eq!(kept.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(el::commits(&tx, second.id, 10).await.unwrap()[0].outcome, "refused: x");
    let sid = Uuid::now_v7();
    x::insert(&tx, &[statement(sid)]).await.unwrap();
    x::put_attachments(&tx, &[("f".repeat(64), "text/plain".into(), b"hello".to_vec())]).await.unwrap();
    let scope =
        DocScope { activity_id: "https://a.example/x".into(), agent_key: "a".repeat(32), registration: String::new() };
    x::put_document(&tx, Api::State, &scope, "s", "application/json", b"{}", "\"e\"").await.unwrap();
    x::save_activity(&tx, &"o".repeat(32), "https://a.example/x", "{}").await.unwrap();
    x::create_credential(
        &tx,
        &NewCredential {
            name: "t",
            key: "k-a",
            secret_sha256: &"0".repeat(64),
            scope: "all",
            version: "2.0.0",
            by: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // B's data layer finds none of it.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(el::package(&tx, pkg).await.unwrap().is_none());
    assert!(el::packages_of(&tx, course).await.unwrap().is_empty());
    assert!(el::attempt(&tx, att.id).await.unwrap().is_none());
    assert!(el::commits(&tx, att.id, 10).await.unwrap().is_empty());
    assert!(el::attempts_of_course(&tx, course, 10).await.unwrap().is_empty());
    assert!(x::statement(&tx, sid).await.unwrap().is_none());
    assert!(x::query(&tx, &x::Query { limit: 10, ..Default::default() }).await.unwrap().is_empty());
    assert!(
        x::query(&tx, &x::Query { activity: Some("o".repeat(32)), limit: 10, ..Default::default() })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(x::existing(&tx, &[sid]).await.unwrap().is_empty());
    assert!(x::attachments(&tx, &["f".repeat(64)]).await.unwrap().is_empty());
    assert!(x::document(&tx, Api::State, &scope, "s").await.unwrap().is_none());
    assert!(x::document_ids(&tx, Api::State, &scope, None).await.unwrap().is_empty());
    assert!(x::activities(&tx, &["o".repeat(32)]).await.unwrap().is_empty());
    assert!(x::credential(&tx, "k-a").await.unwrap().is_none());
    assert!(x::credentials(&tx).await.unwrap().is_empty());
    // …and changes none of it: adding a package to A's course is refused; deleting A's documents
    // or revoking A's credential does nothing.
    assert!(
        el::add_package(
            &tx,
            &NewPackage {
                id: PackageId::new(),
                course,
                standard: "scorm12".into(),
                edition: String::new(),
                title: "Evil".into(),
                identifier: String::new(),
                file_count: 0,
                total_bytes: 0,
                sha256: String::new(),
                by: None,
                sessions: vec![],
            }
        )
        .await
        .unwrap()
        .is_none()
    );
    x::delete_documents(&tx, Api::State, &scope, None).await.unwrap();
    let a_cred = Uuid::nil();
    assert!(!x::revoke_credential(&tx, a_cred).await.unwrap());
    // The same statement id is B's own, apart from A's.
    x::insert(&tx, &[statement(sid)]).await.unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin_read(a).await.unwrap();
    assert!(x::document(&tx, Api::State, &scope, "s").await.unwrap().is_some(), "A's document survives B's delete");
    assert_eq!(x::query(&tx, &x::Query { limit: 10, ..Default::default() }).await.unwrap().len(), 1);
    tx.commit().await.unwrap();

    if f.db.backend != Backend::Postgres {
        return;
    }
    // Raw SQL as the application role, in B: row-level security hides and protects A's rows.
    let conn = f.db.raw_app_connection().await;
    let q = |sql: &str, v: Vec<sea_orm::Value>| Statement::from_sql_and_values(DbBackend::Postgres, sql, v);
    let tx = conn.begin().await.unwrap();
    tx.execute_raw(q("SELECT set_config('app.tenant_id', $1, true)", vec![b.to_string().into()])).await.unwrap();
    for (table, expect) in [
        ("packages", 0),
        ("attempts", 0),
        ("attempt_commits", 0),
        ("cmi5_sessions", 0),
        ("xapi_statements", 1),
        ("xapi_statement_refs", 2),
        ("xapi_attachments", 0),
        ("xapi_documents", 0),
        ("xapi_activities", 0),
        ("xapi_credentials", 0),
    ] {
        let n = tx
            .query_one_raw(q(&format!("SELECT count(*) FROM {table}"), vec![]))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap();
        assert_eq!(n, expect, "{table}: B sees only its own rows");
    }
    let upd = tx.execute_raw(q("UPDATE xapi_statements SET voided = true", vec![])).await.unwrap();
    assert_eq!(upd.rows_affected(), 1, "only B's own statement");
    let planted = tx
        .execute_raw(q(
            "INSERT INTO xapi_credentials (tenant_id, id, name, key, secret_sha256, scope, version, created_at)
             VALUES ($1, $2, 'evil', 'evil', '', 'all', '2.0.0', now())",
            vec![a.as_uuid().into(), Uuid::now_v7().into()],
        ))
        .await;
    assert!(planted.is_err(), "B cannot issue a credential in A's name");
    tx.rollback().await.unwrap();
}
