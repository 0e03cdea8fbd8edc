//! Learning time and calendar feeds are their trust's alone: another trust cannot read, agree,
//! remove or open them (the data layer on both databases, and raw SQL on PostgreSQL under forced
//! row-level security).

use crate::support::fixture;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::identity::accounts;
use trellis_db::learning_time as lt;
use trellis_domain::identity::Role;
use trellis_domain::learning_time::Allowance;
use trellis_testkit::Backend;

#[tokio::test]
async fn a_trusts_learning_time_and_calendar_feeds_are_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let (nurse, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("nurse@nhs.example"), &[Role::Learner]).await.unwrap();
    let (sister, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("sister@nhs.example"), &[Role::Learner]).await.unwrap();
    let (rita, _) =
        accounts::seed_member(&f.dbs, b, crate::support::nurse("rita@nhs.example"), &[Role::Learner]).await.unwrap();
    let hour = Allowance::parse("60", "3", "14:00").unwrap();

    let tx = f.dbs.app.begin(a).await.unwrap();
    trellis_db::teams::set_manager(&tx, nurse, Some(sister), trellis_db::teams::Source::Admin).await.unwrap().unwrap();
    lt::ask(&tx, nurse, nurse, &hour).await.unwrap();
    assert!(!lt::agree(&tx, nurse, nurse).await.unwrap(), "not by whoever asked");
    assert_eq!(lt::waiting_for(&tx, sister).await.unwrap().len(), 1);
    lt::new_feed(&tx, nurse, "northmoor-secret").await.unwrap();
    assert_eq!(lt::feed_owner(&tx, "northmoor-secret").await.unwrap(), Some(nurse));
    tx.commit().await.unwrap();

    // Riverside: nothing to see, agree, remove or open.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert_eq!(lt::of(&tx, nurse).await.unwrap(), None);
    assert!(lt::waiting_for(&tx, sister).await.unwrap().is_empty());
    assert!(!lt::agree(&tx, nurse, rita).await.unwrap());
    assert!(!lt::remove(&tx, nurse).await.unwrap());
    assert_eq!(lt::feed_owner(&tx, "northmoor-secret").await.unwrap(), None, "the link opens nothing at another trust");
    assert!(lt::feed(&tx, nurse).await.unwrap().is_none());
    assert!(!lt::revoke_feed(&tx, nurse).await.unwrap());
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let time = lt::of(&tx, nurse).await.unwrap().expect("still asked for");
    assert_eq!((time.allowance, time.agreed), (hour, None));
    assert!(lt::agree(&tx, nurse, sister).await.unwrap());
    assert!(lt::feed(&tx, nurse).await.unwrap().is_some_and(|f| f.fetches == 1));
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["learning_time", "calendar_feeds"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE learning_time SET minutes = 240 WHERE tenant_id = $1",
            "DELETE FROM learning_time WHERE tenant_id = $1",
            "UPDATE calendar_feeds SET revoked_at = now() WHERE tenant_id = $1",
            "DELETE FROM calendar_feeds WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO calendar_feeds (tenant_id, id, person_id, token_sha256, created_at, views)
                 VALUES ($1, gen_random_uuid(), $2, 'x', now(), 0)",
                [a.as_uuid().into(), nurse.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
