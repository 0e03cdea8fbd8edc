//! Coaches, their caseloads and follow-up logs are their trust's alone: another trust cannot read,
//! set or remove them, and a rule matches only its own trust's staff records (the data layer on
//! both databases, and raw SQL on PostgreSQL under forced row-level security).

use crate::support::fixture;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use trellis_db::coaching::{self, CaseloadQuery, Method, NewContact, Refused, RuleKind};
use trellis_db::identity::accounts;
use trellis_db::staff::{self, StaffRecord};
use trellis_domain::identity::Role;
use trellis_testkit::Backend;

fn ward(department: &str) -> StaffRecord {
    StaffRecord {
        assignment_number: None,
        position: "Nurse".into(),
        department: department.into(),
        staff_group: "Nursing and Midwifery Registered".into(),
        place_of_work: "RX1".into(),
        end_date: None,
    }
}

#[tokio::test]
async fn a_trusts_coaches_and_caseloads_are_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let mut people = Vec::new();
    for email in ["coach@nhs.example", "nurse@nhs.example", "student@nhs.example"] {
        people.push(accounts::seed_member(&f.dbs, a, crate::support::nurse(email), &[Role::Learner]).await.unwrap().0);
    }
    let (coach, nurse, student) = (people[0], people[1], people[2]);
    let (rita, _) =
        accounts::seed_member(&f.dbs, b, crate::support::nurse("rita@nhs.example"), &[Role::Learner]).await.unwrap();
    let today = Utc::now().date_naive();

    let tx = f.dbs.app.begin(a).await.unwrap();
    for p in [coach, nurse] {
        staff::set_record(&tx, p, &ward("Ward 7")).await.unwrap();
    }
    assert_eq!(coaching::add_rule(&tx, coach, RuleKind::Department, "Ward 7").await.unwrap(), Err(Refused::NotCoach));
    assert_eq!(coaching::appoint(&tx, coach, coach).await.unwrap(), Ok(true));
    assert_eq!(coaching::appoint(&tx, rita, coach).await.unwrap(), Err(Refused::NotMember(rita)));
    assert_eq!(coaching::add_rule(&tx, coach, RuleKind::Department, "Ward 7").await.unwrap(), Ok(true));
    assert_eq!(coaching::add_rule(&tx, coach, RuleKind::Department, "Ward 7").await.unwrap(), Ok(false));
    assert_eq!(coaching::assign(&tx, coach, student).await.unwrap(), Ok(None));
    assert_eq!(coaching::assign(&tx, coach, coach).await.unwrap(), Err(Refused::Themselves));
    assert_eq!(coaching::assign(&tx, coach, rita).await.unwrap(), Err(Refused::NotMember(rita)));
    // The rule matches the nurse (not the coach, though in Ward 7); the student is by hand.
    let q = CaseloadQuery { limit: 10, ..Default::default() };
    let caseload: Vec<_> =
        coaching::caseload(&tx, coach, today, &q).await.unwrap().into_iter().map(|r| r.person).collect();
    assert_eq!(caseload.len(), 2);
    assert!(caseload.contains(&nurse) && caseload.contains(&student));
    let contact = NewContact {
        method: Method::Phone,
        note: "Talked it through".into(),
        contacted_on: today,
        next_on: Some(today + chrono::Duration::days(7)),
    };
    coaching::record_contact(&tx, coach, nurse, &contact).await.unwrap();
    let glance = coaching::glance(&tx, coach, today).await.unwrap();
    assert_eq!(glance.coaching, Some((2, 0)));
    assert_eq!(coaching::glance(&tx, nurse, today).await.unwrap().coaches.len(), 1, "the nurse sees her coach");
    tx.commit().await.unwrap();

    // Riverside: Ward 7 there is not Northmoor's Ward 7, and none of Northmoor's rows show or change.
    let tx = f.dbs.app.begin(b).await.unwrap();
    staff::set_record(&tx, rita, &ward("Ward 7")).await.unwrap();
    assert!(!coaching::is_coach(&tx, coach).await.unwrap());
    assert_eq!(coaching::caseload_size(&tx, coach).await.unwrap(), 0);
    assert!(coaching::caseload(&tx, coach, today, &q).await.unwrap().is_empty());
    assert!(coaching::coaches(&tx, 100).await.unwrap().is_empty());
    assert!(coaching::contacts(&tx, nurse, 10).await.unwrap().is_empty());
    assert!(coaching::follow_ups_due(&tx, coach, today + chrono::Duration::days(30)).await.unwrap().is_empty());
    assert_eq!(coaching::glance(&tx, rita, today).await.unwrap(), coaching::Glance::default());
    assert!(!coaching::stand_down(&tx, coach).await.unwrap());
    assert!(!coaching::unassign(&tx, coach, student).await.unwrap());
    assert_eq!(coaching::assign(&tx, coach, rita).await.unwrap(), Err(Refused::NotCoach));
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert_eq!(coaching::caseload_size(&tx, coach).await.unwrap(), 2, "Riverside's attempts touched nothing here");
    assert!(!coaching::in_caseload(&tx, coach, rita).await.unwrap(), "Riverside's Ward 7 is not in it");
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        let tables = ["coaches", "coach_learners", "coach_rules", "coach_contacts", "coach_follow_ups"];
        for table in tables {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE coach_contacts SET note = 'changed' WHERE tenant_id = $1",
            "UPDATE coach_learners SET coach_id = learner_id WHERE tenant_id = $1",
            "DELETE FROM coaches WHERE tenant_id = $1",
            "DELETE FROM coach_rules WHERE tenant_id = $1",
            "DELETE FROM coach_follow_ups WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        let forged = tx
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "INSERT INTO coach_learners (tenant_id, learner_id, coach_id, assigned_at) VALUES ($1, $2, $3, now())",
                [a.as_uuid().into(), rita.as_uuid().into(), coach.as_uuid().into()],
            ))
            .await;
        assert!(forged.is_err(), "a row for another trust is refused");
        tx.rollback().await.unwrap();
    }
}
