//! Badges and awards are their trust's alone: another trust cannot read, award or change them (the
//! data layer on both databases, and raw SQL on PostgreSQL under forced row-level security).

use crate::support::fixture;
use chrono::Utc;
use trellis_db::badges::{self, Criterion};
use trellis_db::identity::accounts;
use trellis_domain::identity::Role;
use trellis_testkit::Backend;

#[tokio::test]
async fn a_trusts_badges_are_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let (amy, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("amy@nhs.example"), &[Role::Learner]).await.unwrap();

    let tx = f.dbs.app.begin(a).await.unwrap();
    let badge = badges::create(&tx, "Champion", "", Criterion::Mandatory).await.unwrap();
    badges::award(&tx, badge, amy, Utc::now(), None).await.unwrap();
    badges::award(&tx, badge, amy, Utc::now(), None).await.unwrap();
    let held = badges::awards_of(&tx, amy).await.unwrap();
    assert_eq!(held.len(), 1, "one award a badge and person");
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(badges::list(&tx, false).await.unwrap().is_empty());
    assert!(badges::awards_of(&tx, amy).await.unwrap().is_empty());
    assert!(badges::award_by_id(&tx, held[0].id).await.unwrap().is_none());
    assert!(!badges::set_active(&tx, badge, false).await.unwrap());
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["badges", "badge_awards"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE badges SET active = FALSE WHERE tenant_id = $1",
            "DELETE FROM badge_awards WHERE tenant_id = $1",
            "UPDATE badge_awards SET valid_until = now() WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        tx.rollback().await.unwrap();
    }
}
