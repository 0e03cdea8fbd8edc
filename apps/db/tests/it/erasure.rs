//! Erasure on the platform's handle: payment records stay with their amounts under the
//! pseudonym; a trust's erasure touches no other trust; the last training manager and someone
//! of another trust are refused with nothing changed; the account itself goes only once no
//! membership is left (on PostgreSQL the owner's function refuses otherwise).

use crate::support::fixture;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use trellis_db::entities::{charge, person};
use trellis_db::erasure::{Refusal, Requester, Scope};
use trellis_db::identity::{NewPerson, accounts};
use trellis_domain::identity::Role;
use trellis_domain::{PersonId, TenantId};
use trellis_testkit::Backend;

fn someone(email: &str) -> NewPerson {
    NewPerson {
        email: email.into(),
        password_hash: None,
        given_name: "Petra".into(),
        family_name: "Quennell-Hughes".into(),
        job_role: "Porter".into(),
        place_of_work: "RX1".into(),
        register_kind: None,
        register_number: None,
    }
}

async fn charge_for(conn: &sea_orm::DatabaseConnection, tenant: TenantId, person: PersonId) -> uuid::Uuid {
    let id = uuid::Uuid::now_v7();
    charge::ActiveModel {
        tenant_id: Set(tenant.as_uuid()),
        id: Set(id),
        listing_id: Set(uuid::Uuid::now_v7()),
        course_id: Set(uuid::Uuid::now_v7()),
        seller_id: Set(uuid::Uuid::now_v7()),
        kind: Set("card".into()),
        funding: Set("learner".into()),
        person_id: Set(Some(person.as_uuid())),
        enrolment_id: Set(None),
        quantity: Set(1),
        unit_pence: Set(2_500),
        amount_pence: Set(2_500),
        fee_pence: Set(250),
        currency: Set("gbp".into()),
        status: Set(trellis_db::states::ChargeStatus::Paid),
        month: Set("2026-12".into()),
        checkout_id: Set(None),
        payment_intent: Set(None),
        refund_id: Set(None),
        invoice_id: Set(None),
        access_until: Set(None),
        created_at: Set(chrono::Utc::now()),
        settled_at: Set(None),
        refunded_at: Set(None),
    }
    .insert(conn)
    .await
    .unwrap();
    id
}

async fn charged(conn: &sea_orm::DatabaseConnection, id: uuid::Uuid) -> (Option<uuid::Uuid>, i64, String) {
    let c = charge::Entity::find().filter(charge::Column::Id.eq(id)).one(conn).await.unwrap().unwrap();
    (c.person_id, c.amount_pence, c.month)
}

#[tokio::test]
async fn payment_records_stay_under_the_pseudonym_and_a_trusts_erasure_touches_no_other() {
    let f = fixture().await;
    let (a, b, c) = (f.ids["northmoor"], f.ids["riverside"], f.ids["fenwick"]);
    let owner = f.db.raw_owner_connection().await;
    let (petra, _) = accounts::seed_member(&f.dbs, a, someone("petra@nhs.example"), &[Role::Learner]).await.unwrap();
    accounts::seed_member(&f.dbs, b, someone("petra@nhs.example"), &[Role::Learner]).await.unwrap();
    let (boss, _) =
        accounts::seed_member(&f.dbs, b, someone("boss@riverside.example"), &[Role::TrainingManager]).await.unwrap();
    let (at_a, at_b) = (charge_for(&owner, a, petra).await, charge_for(&owner, b, petra).await);

    // Refused, with nothing changed: a trust she does not belong to; Riverside's only manager.
    let p = &f.dbs.platform;
    assert_eq!(
        p.erase_person_across_tenants(petra, Scope::Trust(c), Requester::TheirOwn, &[]).await.unwrap(),
        Err(Refusal::NotFound)
    );
    assert_eq!(
        p.erase_person_across_tenants(boss, Scope::Account, Requester::TheirOwn, &[]).await.unwrap(),
        Err(Refusal::LastAdmin(b))
    );
    assert_eq!(charged(&owner, at_a).await.0, Some(petra.as_uuid()));

    // Northmoor erases its part: its charge keeps amount and month under a pseudonym; Riverside's
    // charge and membership, and the account, are untouched.
    let done =
        p.erase_person_across_tenants(petra, Scope::Trust(a), Requester::Admin(boss), &[]).await.unwrap().unwrap();
    assert_eq!(done.trusts, vec![a]);
    assert_ne!(done.pseudonym, petra);
    assert_eq!(charged(&owner, at_a).await, (Some(done.pseudonym.as_uuid()), 2_500, "2026-12".into()));
    assert_eq!(charged(&owner, at_b).await.0, Some(petra.as_uuid()));
    assert!(person::Entity::find_by_id(petra.as_uuid()).one(&owner).await.unwrap().is_some());
    let tx = f.dbs.app.begin(a).await.unwrap();
    assert!(trellis_db::identity::member_person(&tx, petra).await.unwrap().is_none(), "gone from Northmoor");
    tx.commit().await.unwrap();
    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(trellis_db::identity::member_person(&tx, petra).await.unwrap().is_some(), "still Riverside's");
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        // The account's own function refuses while a membership is left, even to the platform.
        let conn = f.db.raw_connection_as(trellis_db::PLATFORM_ROLE).await;
        let r = conn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT trellis_erase_account($1)",
                [petra.as_uuid().into()],
            ))
            .await;
        assert!(r.is_err(), "erased an account that still belongs to Riverside");
        // The application and identity roles may not call the erasure's functions at all.
        for role in [trellis_db::APP_ROLE, trellis_db::IDENTITY_ROLE] {
            let conn = f.db.raw_connection_as(role).await;
            for sql in [
                "SELECT trellis_erase_account($1)",
                "SELECT trellis_audit_pseudonymise($1, $1, ARRAY[]::uuid[], ARRAY[]::text[], false)",
            ] {
                let r = conn
                    .execute_raw(sea_orm::Statement::from_sql_and_values(
                        sea_orm::DbBackend::Postgres,
                        sql,
                        [petra.as_uuid().into()],
                    ))
                    .await;
                assert!(r.is_err(), "{role} could run {sql}");
            }
        }
    }

    // Then her whole account: Riverside's charge takes a pseudonym of its own; the account goes.
    let all = p.erase_person_across_tenants(petra, Scope::Account, Requester::TheirOwn, &[]).await.unwrap().unwrap();
    assert_eq!(all.trusts, vec![b]);
    assert_eq!(charged(&owner, at_b).await, (Some(all.pseudonym.as_uuid()), 2_500, "2026-12".into()));
    assert_ne!(all.pseudonym, done.pseudonym, "two erasures are not linked");
    assert!(person::Entity::find_by_id(petra.as_uuid()).one(&owner).await.unwrap().is_none());
    assert_eq!(
        p.erase_person_across_tenants(petra, Scope::Account, Requester::TheirOwn, &[]).await.unwrap(),
        Err(Refusal::NotFound)
    );
}

#[tokio::test]
async fn only_whole_names_and_addresses_are_scrubbed_and_only_their_own_emails_deleted() {
    let f = fixture().await;
    let a = f.ids["northmoor"];
    let (ann, _) = accounts::seed_member(
        &f.dbs,
        a,
        NewPerson { given_name: "Ann".into(), family_name: "Leeds".into(), ..someone("j.smith@nhs.example") },
        &[Role::Learner],
    )
    .await
    .unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let mail = |to: &str, text: &str| trellis_db::outbox::OutgoingEmail {
        to: to.into(),
        subject: "Hello".into(),
        text: text.into(),
        html: String::new(),
        from_name: "Northmoor".into(),
        calendar: None,
        reply_to: None,
    };
    trellis_db::outbox::enqueue_email(&tx, &mail("j.smith@nhs.example", "For her")).await.unwrap();
    trellis_db::outbox::enqueue_email(&tx, &mail("aj.smith@nhs.example", "For someone else")).await.unwrap();
    trellis_db::outbox::enqueue_email(&tx, &mail("boss@nhs.example", "Ann Leeds and Joann Leedsworth have registered"))
        .await
        .unwrap();
    trellis_db::audit::record(
        &tx,
        None,
        "staff.invited",
        "aj.smith@nhs.example",
        None,
        serde_json::json!({ "by": "x" }),
    )
    .await
    .unwrap();
    trellis_db::audit::record(&tx, None, "note", "n", None, serde_json::json!({ "who": "Joann Leedsworth" }))
        .await
        .unwrap();
    trellis_db::audit::record(&tx, None, "note", "m", None, serde_json::json!({ "who": "ann leeds" })).await.unwrap();
    tx.commit().await.unwrap();

    let done = f
        .dbs
        .platform
        .erase_person_across_tenants(ann, Scope::Account, Requester::TheirOwn, &[])
        .await
        .unwrap()
        .unwrap();
    assert!(done.whole);
    let owner = f.db.raw_owner_connection().await;
    let outbox: Vec<String> = trellis_db::entities::outbox::Entity::find()
        .filter(trellis_db::entities::outbox::Column::TenantId.eq(a.as_uuid()))
        .all(&owner)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.payload)
        .collect();
    assert!(!outbox.iter().any(|p| p.contains("For her")), "her email went");
    assert!(outbox.iter().any(|p| p.contains("For someone else")), "aj.smith's stays: {outbox:?}");
    assert!(outbox.iter().any(|p| p.contains("(erased) and Joann Leedsworth have registered")), "{outbox:?}");
    let tx = f.dbs.app.begin(a).await.unwrap();
    let trail = trellis_db::audit::trail(&tx, 50).await.unwrap();
    tx.commit().await.unwrap();
    let by = |s: &str| trail.iter().find(|e| e.subject == s).unwrap_or_else(|| panic!("{s}: {trail:?}")).clone();
    assert_eq!(by("aj.smith@nhs.example").detail, r#"{"by":"x"}"#, "someone else's entry untouched");
    assert!(by("n").detail.contains("Joann Leedsworth"));
    assert_eq!(by("m").detail, "{}", "hers, in any case, cleared");
}
