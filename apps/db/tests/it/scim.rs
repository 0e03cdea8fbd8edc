//! Users provisioned by SCIM are their trust's alone: another trust cannot read, find, change or
//! delete them (the data layer on both databases, and raw SQL on PostgreSQL under its forced
//! row-level security), and a userName is unique within a trust only.

use crate::support::fixture;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::scim::{self as store, Filter, ScimUser};
use trellis_domain::PersonId;
use trellis_testkit::Backend;
use uuid::Uuid;

fn a_user(person: PersonId, user_name: &str) -> ScimUser {
    let now = Utc::now();
    ScimUser {
        id: Uuid::now_v7(),
        person,
        user_name: user_name.into(),
        external_id: Some("entra-1".into()),
        resource: r#"{"userName":"jo"}"#.into(),
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn a_trusts_provisioned_users_are_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let jo = a_user(PersonId::new(), "Jo@NHS.example");
    let tx = f.dbs.app.begin(a).await.unwrap();
    store::insert(&tx, &jo, None).await.unwrap();
    tx.commit().await.unwrap();

    // The same userName is free at another trust.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(store::get(&tx, jo.id).await.unwrap().is_none());
    assert_eq!(store::list(&tx, &Filter::All, 0, 100).await.unwrap().1, 0);
    assert!(!store::user_name_taken(&tx, "jo@nhs.example", None).await.unwrap());
    assert!(!store::update(&tx, jo.id, 1, "evil", None, "{}").await.unwrap());
    assert!(!store::delete(&tx, jo.id).await.unwrap());
    store::insert(&tx, &a_user(PersonId::new(), "jo@nhs.example"), None).await.unwrap();
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(a).await.unwrap();
    let (found, total) = store::list(&tx, &Filter::UserName("JO@nhs.EXAMPLE".into()), 0, 10).await.unwrap();
    assert_eq!((total, found.first().map(|u| u.id)), (1, Some(jo.id)), "found without regard to case");
    assert!(store::user_name_taken(&tx, "jo@nhs.example", None).await.unwrap());
    assert!(!store::user_name_taken(&tx, "jo@nhs.example", Some(jo.id)).await.unwrap());
    assert!(store::update(&tx, jo.id, 1, "jo", None, "{}").await.unwrap());
    assert!(!store::update(&tx, jo.id, 1, "jo", None, "{}").await.unwrap(), "a stale version is refused");
    assert_eq!(store::get(&tx, jo.id).await.unwrap().unwrap().version, 2);
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        assert_eq!(crate::support::rows_of(&tx, "scim_users", a).await, 0, "Riverside read Northmoor's users");
        let tried = [
            "UPDATE scim_users SET user_name = 'x' WHERE tenant_id = $1",
            "DELETE FROM scim_users WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO scim_users (tenant_id, id, person_id, user_name, user_name_key, resource, version, created_at, updated_at)
                 VALUES ($1, $2, $2, 'x', 'x', '{}', 1, now(), now())",
                [a.as_uuid().into(), Uuid::now_v7().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
