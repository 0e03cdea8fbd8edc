//! Face-to-face events (and the staff import's leaver setting, another trust setting of issue 21):
//! places never exceed the capacity however many book at once, a freed
//! place goes to the longest waiting, and no trust can see, book or mark another's events (the
//! data layer on both databases, and raw SQL on PostgreSQL).

use crate::support::fixture;
use chrono::{Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use trellis_db::catalogue::{self as cat, CourseInput};
use trellis_db::events::{self as ev, Booked, EventInput};
use trellis_domain::{CourseId, PersonId};
use trellis_testkit::Backend;

fn input(capacity: i32) -> EventInput {
    let starts_at = Utc::now() + Duration::days(3);
    EventInput {
        starts_at,
        ends_at: starts_at + Duration::hours(3),
        venue: "Education Centre, Room 2".into(),
        capacity,
        joining: "Bring your badge.".into(),
        meeting_url: String::new(),
        trainers: vec![],
    }
}

async fn a_course(f: &crate::support::Fixture, slug: &str) -> CourseId {
    let tx = f.dbs.app.begin(f.ids[slug]).await.unwrap();
    let c = CourseInput {
        code: "BLS-1".into(),
        kind: "course".into(),
        title: "Basic life support".into(),
        enrolment: "open".into(),
        duration_minutes: 180,
        ..CourseInput::default()
    };
    let id = cat::create_course(&tx, &c).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn two_hundred_people_booking_twenty_places_at_once_get_twenty_places_and_a_waiting_list_of_180() {
    let f = fixture().await;
    let a = f.ids["northmoor"];
    let course = a_course(&f, "northmoor").await;
    let tx = f.dbs.app.begin(a).await.unwrap();
    let event = ev::create(&tx, course, &input(20), None).await.unwrap();
    tx.commit().await.unwrap();

    let people: Vec<PersonId> = (0..200).map(|_| PersonId::new()).collect();
    let mut tasks = Vec::new();
    for p in people.clone() {
        let dbs = f.dbs.clone();
        tasks.push(tokio::spawn(async move {
            // Each booking is a request of its own: retried only if the database says to.
            for _ in 0..50 {
                let tx = dbs.app.begin(a).await.unwrap();
                match ev::book(&tx, event, p).await {
                    Ok(outcome) => match tx.commit().await {
                        Ok(()) => return outcome,
                        Err(_) => continue,
                    },
                    Err(_) => {
                        let _ = tx.rollback().await;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
            }
            panic!("a booking never went through");
        }));
    }
    let mut places = 0;
    let mut waiting = 0;
    for t in tasks {
        match t.await.unwrap() {
            Booked::Place => places += 1,
            Booked::Waiting => waiting += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((places, waiting), (20, 180));
    let tx = f.dbs.app.begin(a).await.unwrap();
    let e = ev::get(&tx, event).await.unwrap().unwrap();
    let all = ev::bookings(&tx, event).await.unwrap();
    assert_eq!(e.booked, 20);
    assert_eq!(all.iter().filter(|b| b.status == "booked").count(), 20);
    assert_eq!(all.iter().filter(|b| b.status == "waiting").count(), 180);
    assert_eq!(ev::figures(&tx, &[event]).await.unwrap()[&event].waiting, 180);

    // A place given up goes to whoever has waited longest, and only one place changes hands.
    let first_waiting = all.iter().find(|b| b.status == "waiting").unwrap().person;
    let holder = all.iter().find(|b| b.status == "booked").unwrap().person;
    assert_eq!(ev::cancel_booking(&tx, event, holder).await.unwrap(), Some(vec![first_waiting]));
    assert_eq!(ev::get(&tx, event).await.unwrap().unwrap().booked, 20);
    assert_eq!(ev::booking(&tx, event, first_waiting).await.unwrap().unwrap().status, "booked");
    // Asking again changes nothing; leaving the waiting list frees no place.
    assert_eq!(ev::book(&tx, event, first_waiting).await.unwrap(), Booked::Already);
    let last = all.iter().rev().find(|b| b.status == "waiting").unwrap().person;
    assert_eq!(ev::cancel_booking(&tx, event, last).await.unwrap(), Some(vec![]));
    assert_eq!(ev::get(&tx, event).await.unwrap().unwrap().booked, 20);
    // A larger capacity gives the new places to the next in line.
    let mut bigger = input(22);
    bigger.starts_at = e.starts_at;
    bigger.ends_at = e.ends_at;
    assert!(ev::update(&tx, event, &bigger).await.unwrap().is_some());
    assert_eq!(ev::promote(&tx, event).await.unwrap().len(), 2);
    assert_eq!(ev::get(&tx, event).await.unwrap().unwrap().booked, 22);
    // The capacity cannot go below the places taken; a cancelled event takes no bookings.
    assert!(ev::update(&tx, event, &input(5)).await.unwrap().is_none());
    assert!(ev::cancel(&tx, event).await.unwrap());
    assert_eq!(ev::book(&tx, event, PersonId::new()).await.unwrap(), Booked::Closed);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_trusts_events_bookings_and_register_stay_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let course = a_course(&f, "northmoor").await;
    let (amy, trainer) = (PersonId::new(), PersonId::new());
    let tx = f.dbs.app.begin(a).await.unwrap();
    let event = ev::create(&tx, course, &EventInput { trainers: vec![trainer], ..input(5) }, None).await.unwrap();
    assert_eq!(ev::book(&tx, event, amy).await.unwrap(), Booked::Place);
    ev::set_cancel_hours(&tx, 48).await.unwrap();
    trellis_db::staff::set_leaver_grace_days(&tx, 10).await.unwrap();
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(ev::get(&tx, event).await.unwrap().is_none());
    assert!(ev::of_course(&tx, course, Utc::now() - Duration::days(1)).await.unwrap().is_empty());
    assert!(
        ev::between(&tx, Utc::now() - Duration::days(1), Utc::now() + Duration::days(9), false, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ev::bookings(&tx, event).await.unwrap().is_empty());
    assert!(!ev::is_trainer(&tx, event, trainer).await.unwrap());
    assert!(ev::teaching(&tx, trainer, Utc::now() - Duration::days(1)).await.unwrap().is_empty());
    assert_eq!(ev::book(&tx, event, PersonId::new()).await.unwrap(), Booked::Closed);
    assert!(ev::cancel_booking(&tx, event, amy).await.unwrap().is_none());
    assert!(!ev::mark(&tx, event, amy, "attended", "", trainer).await.unwrap());
    assert!(ev::update(&tx, event, &input(50)).await.unwrap().is_none());
    assert!(!ev::cancel(&tx, event).await.unwrap());
    assert!(ev::figures(&tx, &[event]).await.unwrap().is_empty());
    assert_eq!(ev::cancel_hours(&tx).await.unwrap(), ev::DEFAULT_CANCEL_HOURS, "Northmoor's setting is its own");
    let grace = trellis_db::staff::leaver_grace_days(&tx).await.unwrap();
    assert_eq!(grace, trellis_db::staff::DEFAULT_LEAVER_GRACE_DAYS, "and its leavers' grace");
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let e = ev::get(&tx, event).await.unwrap().unwrap();
    assert_eq!((e.booked, e.capacity, e.status.as_str()), (1, 5, "scheduled"));
    assert_eq!(ev::cancel_hours(&tx).await.unwrap(), 48);
    assert!(ev::mark(&tx, event, amy, "attended", "", trainer).await.unwrap());
    // Cancelling and booking again (twice over) leaves one place taken, not a phantom one.
    assert_eq!(ev::cancel_booking(&tx, event, amy).await.unwrap(), Some(vec![]));
    assert_eq!(ev::book(&tx, event, amy).await.unwrap(), Booked::Place);
    assert_eq!(ev::book(&tx, event, amy).await.unwrap(), Booked::Already);
    assert!(!ev::add_walk_in(&tx, event, amy).await.unwrap(), "already has a place");
    assert_eq!(ev::get(&tx, event).await.unwrap().unwrap().booked, 1);
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let conn = f.db.raw_app_connection().await;
        let tx = conn.begin().await.unwrap();
        tx.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT set_config('app.tenant_id', $1, true)",
            [b.as_uuid().to_string().into()],
        ))
        .await
        .unwrap();
        for table in ["events", "event_trainers", "event_bookings", "event_settings", "staff_settings"] {
            let row = tx
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
                    [a.as_uuid().into()],
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE events SET capacity = 999 WHERE tenant_id = $1",
            "UPDATE event_bookings SET attendance = 'absent' WHERE tenant_id = $1",
            "DELETE FROM event_trainers WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO event_settings (tenant_id, cancel_hours) VALUES ($1, 0)",
                [a.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "Riverside cannot write Northmoor's setting");
        tx.rollback().await.unwrap();
    }
}
