//! Line managers and their reminders are their trust's alone: another trust cannot read, set or
//! remove them (the data layer on both databases, and raw SQL on PostgreSQL under forced
//! row-level security); a loop of managers is refused, however long.

use crate::support::fixture;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::identity::accounts;
use trellis_db::teams::{self, Refused, Source};
use trellis_domain::identity::Role;
use trellis_testkit::Backend;

#[tokio::test]
async fn a_trusts_line_managers_are_its_own_and_never_loop() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let mut people = Vec::new();
    for email in ["lead@nhs.example", "sister@nhs.example", "nurse@nhs.example", "student@nhs.example"] {
        people.push(accounts::seed_member(&f.dbs, a, crate::support::nurse(email), &[Role::Learner]).await.unwrap().0);
    }
    let (lead, sister, nurse, student) = (people[0], people[1], people[2], people[3]);
    let (rita, _) =
        accounts::seed_member(&f.dbs, b, crate::support::nurse("rita@nhs.example"), &[Role::Learner]).await.unwrap();
    let today = Utc::now().date_naive();

    let tx = f.dbs.app.begin(a).await.unwrap();
    for (p, m) in [(sister, lead), (nurse, sister), (student, nurse)] {
        teams::set_manager(&tx, p, Some(m), Source::Admin).await.unwrap().unwrap();
    }
    // A chain lead <- sister <- nurse <- student: the lead under the student would close it.
    assert_eq!(teams::set_manager(&tx, lead, Some(student), Source::Admin).await.unwrap(), Err(Refused::Loop));
    assert_eq!(teams::set_manager(&tx, lead, Some(lead), Source::Admin).await.unwrap(), Err(Refused::Themselves));
    assert_eq!(
        teams::set_manager(&tx, lead, Some(rita), Source::Admin).await.unwrap(),
        Err(Refused::NotMember(rita)),
        "another trust's member is nobody here"
    );
    assert_eq!(teams::team(&tx, sister, today).await.unwrap().iter().map(|m| m.person).collect::<Vec<_>>(), [nurse]);
    assert_eq!(trellis_db::coaching::glance(&tx, sister, today).await.unwrap().team, (1, 0));
    assert!(teams::record_reminder(&tx, sister, nurse, None, Utc::now() - chrono::Duration::hours(1)).await.unwrap());
    assert!(
        !teams::record_reminder(&tx, sister, nurse, None, Utc::now() - chrono::Duration::hours(1)).await.unwrap(),
        "once a day"
    );
    assert_eq!(teams::pairs(&tx, "", 100).await.unwrap().len(), 3);
    tx.commit().await.unwrap();

    // Riverside sees none of it, and cannot set or remove Northmoor's.
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(teams::team(&tx, sister, today).await.unwrap().is_empty());
    assert_eq!(trellis_db::coaching::glance(&tx, sister, today).await.unwrap().team, (0, 0));
    assert_eq!(teams::manager_of(&tx, nurse).await.unwrap(), None);
    assert!(teams::pairs(&tx, "", 100).await.unwrap().is_empty());
    assert!(teams::team_requests(&tx, sister).await.unwrap().is_empty());
    assert_eq!(
        teams::set_manager(&tx, nurse, Some(rita), Source::Admin).await.unwrap(),
        Err(Refused::NotMember(nurse)),
        "Northmoor's nurse is nobody at Riverside"
    );
    teams::set_manager(&tx, nurse, None, Source::Admin).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert_eq!(teams::manager_of(&tx, nurse).await.unwrap(), Some(sister), "Riverside's removal touched nothing here");
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["line_managers", "team_nudges"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE line_managers SET manager_id = person_id WHERE tenant_id = $1",
            "DELETE FROM line_managers WHERE tenant_id = $1",
            "DELETE FROM team_nudges WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO line_managers (tenant_id, person_id, manager_id, source, set_at) VALUES ($1, $2, $3, 'admin', now())",
                [a.as_uuid().into(), lead.as_uuid().into(), rita.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
