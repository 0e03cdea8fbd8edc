//! The catalogue's tenancy: a trust's courses, enrolments and staff records are its own; the
//! national catalogue is readable by every trust and writable by none (row-level security on
//! PostgreSQL, refused by raw SQL as the application role); compliance totals agree with cells.

use crate::support::fixture;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_db::catalogue::{self as cat, CourseInput, ObjectInput};
use trellis_db::{compliance, learning, staff};
use trellis_domain::TenantId;
use trellis_domain::learning::Audience;
use trellis_testkit::Backend;

fn course(code: &str) -> CourseInput {
    CourseInput {
        code: code.into(),
        kind: "course".into(),
        title: format!("Course {code}"),
        enrolment: "open".into(),
        duration_minutes: 10,
        ..CourseInput::default()
    }
}

fn page() -> ObjectInput {
    ObjectInput {
        title: "Page".into(),
        kind: "page".into(),
        body: "Text".into(),
        completion: "view".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn courses_enrolments_and_staff_never_cross_trusts_and_the_national_catalogue_is_read_only() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let today = chrono::Utc::now().date_naive();

    // A national course and one of A's own.
    let tx = f.dbs.app.begin(TenantId::NATIONAL).await.unwrap();
    let national = cat::create_course(&tx, &course("NAT-1")).await.unwrap().unwrap();
    cat::add_object(&tx, national, &page()).await.unwrap();
    cat::publish(&tx, national).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let own = cat::create_course(&tx, &course("A-1")).await.unwrap().unwrap();
    cat::add_object(&tx, own, &page()).await.unwrap();
    cat::publish(&tx, own).await.unwrap().unwrap();
    assert!(cat::set_offered(&tx, national, true, None).await.unwrap());
    tx.commit().await.unwrap();

    // B sees the national course but not A's, cannot change either, and has not offered it.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(cat::course(&tx, national).await.unwrap().is_some());
    assert!(cat::course(&tx, own).await.unwrap().is_none());
    assert!(!cat::owns(&tx, national).await.unwrap());
    assert!(cat::draft(&tx, national).await.unwrap().is_none(), "no draft of someone else's course");
    assert!(cat::publish(&tx, own).await.unwrap().is_err());
    assert!(!cat::unpublish(&tx, national).await.unwrap());
    let (found, _) = cat::search(&tx, &cat::Query { limit: 50, ..Default::default() }).await.unwrap();
    assert!(found.is_empty(), "nothing offered or owned by B: {found:?}");
    // A's code is free in B (codes are per owner).
    assert!(cat::create_course(&tx, &course("A-1")).await.unwrap().is_ok());
    tx.rollback().await.unwrap();

    // A learner of A enrols and completes; B sees no enrolment, progress or compliance of it.
    let person = trellis_domain::PersonId::new();
    let (pid, _) = trellis_db::identity::accounts::seed_member(
        &f.dbs,
        a,
        trellis_db::identity::NewPerson {
            email: "learner@northmoor.example".into(),
            password_hash: None,
            given_name: "L".into(),
            family_name: "One".into(),
            job_role: String::new(),
            place_of_work: String::new(),
            register_kind: None,
            register_number: None,
        },
        &[],
    )
    .await
    .unwrap();
    let _ = person;
    let itx = f.dbs.app.begin(a).await.unwrap();
    staff::set_record(
        &itx,
        pid,
        &staff::StaffRecord {
            assignment_number: Some("12345678".into()),
            position: "Nurse".into(),
            department: "Ward 7".into(),
            staff_group: "Nursing and Midwifery Registered".into(),
            place_of_work: "General".into(),
            end_date: None,
        },
    )
    .await
    .unwrap();
    let c = cat::course(&itx, national).await.unwrap().unwrap();
    compliance::add_requirement(
        &itx,
        &c,
        &Audience::StaffGroup("Nursing and Midwifery Registered".into()),
        true,
        Some(10),
        Some(12),
        None,
        today,
    )
    .await
    .unwrap();
    let e = learning::enrolment(&itx, pid, national).await.unwrap().expect("enrolled by the rule");
    let o = cat::objects(&itx, e.version.unwrap()).await.unwrap().remove(0);
    let r = learning::record(&itx, &e, &o, trellis_domain::learning::Event::Open).await.unwrap();
    assert!(r.sessions_complete);
    // What the web crate's use case does when the last session is complete.
    learning::mark_completed(&itx, &e).await.unwrap();
    compliance::completed(&itx, pid, national, today).await.unwrap();
    let m = compliance::matrix(&itx, &compliance::MatrixQuery { limit: 50, ..Default::default() }, today, None)
        .await
        .unwrap()
        .0;
    assert_eq!(m.people, 1);
    assert_eq!(m.overall.complete, 1);
    // The totals (SQL) agree with the cells (Rust) for every status.
    let cells: Vec<_> = m.rows.iter().flat_map(|r| r.cells.iter().flatten().map(|c| c.status)).collect();
    assert_eq!(cells.len() as i64, m.overall.total());
    itx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(learning::enrolment(&tx, pid, national).await.unwrap().is_none());
    assert!(learning::enrolments_of(&tx, pid).await.unwrap().is_empty());
    assert!(staff::record(&tx, pid).await.unwrap().is_none());
    assert!(compliance::requirements(&tx).await.unwrap().is_empty());
    assert_eq!(
        compliance::matrix(&tx, &compliance::MatrixQuery { limit: 50, ..Default::default() }, today, None)
            .await
            .unwrap()
            .0
            .people,
        0
    );
    assert!(compliance::person_entries(&tx, pid, today).await.unwrap().is_empty());
    tx.rollback().await.unwrap();

    if f.db.backend != Backend::Postgres {
        return;
    }
    // Raw SQL as the application role: row-level security decides, not the code's filters.
    let conn = f.db.raw_app_connection().await;
    let q = |sql: &str, v: Vec<sea_orm::Value>| Statement::from_sql_and_values(DbBackend::Postgres, sql, v);
    let tx = conn.begin().await.unwrap();
    tx.execute_raw(q("SELECT set_config('app.tenant_id', $1, true)", vec![b.to_string().into()])).await.unwrap();
    let count = |sql: &'static str| {
        let tx = &tx;
        async move { tx.query_one_raw(q(sql, vec![])).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap() }
    };
    assert_eq!(count("SELECT count(*) FROM courses WHERE code = 'A-1'").await, 0, "A's course hidden");
    assert_eq!(count("SELECT count(*) FROM courses WHERE code = 'NAT-1'").await, 1, "the national course visible");
    assert_eq!(count("SELECT count(*) FROM learning_objects").await, 1, "only the national course's session");
    assert_eq!(count("SELECT count(*) FROM enrolments").await, 0);
    assert_eq!(count("SELECT count(*) FROM staff_records").await, 0);
    assert_eq!(count("SELECT count(*) FROM assignments").await, 0);
    assert_eq!(count("SELECT count(*) FROM completions").await, 0);
    // Changing the national course, or planting rows in its name, is refused.
    let upd = tx.execute_raw(q("UPDATE courses SET title = 'hijacked' WHERE code = 'NAT-1'", vec![])).await.unwrap();
    assert_eq!(upd.rows_affected(), 0);
    let del = tx.execute_raw(q("DELETE FROM learning_objects", vec![])).await.unwrap();
    assert_eq!(del.rows_affected(), 0);
    let planted = tx
        .execute_raw(q(
            "INSERT INTO courses (tenant_id, id, code, kind, title, summary, description, topic, audience, duration_minutes, accreditation, enrolment, status, created_at, updated_at)
             VALUES ($1, $2, 'EVIL', 'course', 'Evil', '', '', '', '', 0, '', 'open', 'published', now(), now())",
            vec![TenantId::NATIONAL.as_uuid().into(), uuid::Uuid::now_v7().into()],
        ))
        .await;
    assert!(planted.is_err(), "a trust cannot write into the national catalogue");
    tx.rollback().await.unwrap();
}
