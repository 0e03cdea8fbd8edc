//! Learning labs are their trust's alone, and a room is never overbooked: another trust cannot
//! read, book, cancel or mark them (the data layer on both databases, and raw SQL on PostgreSQL
//! under forced row-level security); a second person for the last PC is refused.

use crate::support::fixture;
use chrono::{Duration, DurationRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::identity::accounts;
use trellis_db::labs::{self, Booked};
use trellis_domain::identity::Role;
use trellis_domain::labs::RoomInput;
use trellis_testkit::Backend;

#[tokio::test]
async fn a_trusts_labs_are_its_own_and_never_overbooked() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let (amy, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("amy@nhs.example"), &[Role::Learner]).await.unwrap();
    let (bob, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("bob@nhs.example"), &[Role::Learner]).await.unwrap();
    let (rita, _) =
        accounts::seed_member(&f.dbs, b, crate::support::nurse("rita@nhs.example"), &[Role::Learner]).await.unwrap();
    let every_day: Vec<String> = (1..=7).map(|d| d.to_string()).collect();
    let room = RoomInput::parse("Library PCs", "", "1", &every_day, "08:00", "18:00", "60", "2").unwrap();
    // On the minute, as slots are (PostgreSQL keeps microseconds only).
    let from = (Utc::now() + Duration::days(1)).duration_trunc(Duration::minutes(1)).unwrap();
    let to = from + Duration::hours(1);

    let tx = f.dbs.app.begin(a).await.unwrap();
    let id = labs::create(&tx, &room).await.unwrap();
    let lab = labs::get(&tx, id).await.unwrap().unwrap();
    let Booked::Booked(booking) = labs::book(&tx, &lab, amy, from, to).await.unwrap() else { panic!("booked") };
    assert_eq!(labs::book(&tx, &lab, amy, from, to).await.unwrap(), Booked::Already);
    assert_eq!(labs::book(&tx, &lab, bob, from, to).await.unwrap(), Booked::Full, "one PC, one person");
    assert_eq!(labs::taken(&tx, id, from, to).await.unwrap().get(&from), Some(&1));
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(labs::get(&tx, id).await.unwrap().is_none());
    assert!(labs::list(&tx, false).await.unwrap().is_empty());
    assert!(labs::booking_by_id(&tx, booking).await.unwrap().is_none());
    assert!(labs::cancel(&tx, amy, booking).await.unwrap().is_none());
    assert!(!labs::mark(&tx, booking, "no_show", rita).await.unwrap());
    assert!(labs::register(&tx, id, from - Duration::days(1), to).await.unwrap().is_empty());
    assert!(!labs::update(&tx, id, &room, false).await.unwrap());
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert_eq!(labs::bookings_of(&tx, amy, Utc::now()).await.unwrap().len(), 1, "Riverside changed nothing");
    // Cancelled, the PC is free for the next person.
    assert!(labs::cancel(&tx, amy, booking).await.unwrap().is_some());
    assert!(matches!(labs::book(&tx, &lab, bob, from, to).await.unwrap(), Booked::Booked(_)));
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["labs", "lab_bookings"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE labs SET pcs = 200 WHERE tenant_id = $1",
            "DELETE FROM labs WHERE tenant_id = $1",
            "UPDATE lab_bookings SET attendance = 'no_show' WHERE tenant_id = $1",
            "DELETE FROM lab_bookings WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO lab_bookings (tenant_id, id, lab_id, person_id, starts_at, ends_at, seat, status, attendance, booked_at)
                 VALUES ($1, gen_random_uuid(), $2, $3, now(), now(), 2, 'booked', '', now())",
                [a.as_uuid().into(), id.into(), rita.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
