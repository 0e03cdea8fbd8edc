//! Campaigns, the people they reached and bulk mailings are their trust's alone: another trust
//! cannot read, launch, send, count clicks on or change them, and its audiences never hold
//! another trust's staff (the data layer on both databases, and raw SQL on PostgreSQL under forced
//! row-level security).

use crate::support::fixture;
use chrono::Utc;
use trellis_db::campaigns::{self, Link};
use trellis_db::identity::accounts;
use trellis_db::mailings;
use trellis_domain::campaigns::{Audience, CampaignInput, Template, Who};
use trellis_domain::identity::Role;
use trellis_testkit::Backend;
use uuid::Uuid;

fn input() -> CampaignInput {
    CampaignInput {
        name: "Flu season".into(),
        course: String::new(),
        audience: Audience { staff_groups: vec![], departments: vec![], who: Who::Everyone },
        template: Template::Announcement,
        subject: "Beat flu".into(),
        message: "Do it.".into(),
        banner_text: "Beat flu".into(),
        landing_text: "Why.".into(),
        window_days: 30,
    }
}

#[tokio::test]
async fn a_trusts_campaigns_and_mailings_are_its_own() {
    let f = fixture().await;
    let (a, b) = (f.ids["northmoor"], f.ids["riverside"]);
    let (amy, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("amy@nhs.example"), &[Role::Learner]).await.unwrap();
    let (rob, _) =
        accounts::seed_member(&f.dbs, b, crate::support::nurse("rob@nhs.example"), &[Role::Learner]).await.unwrap();
    let course = Uuid::now_v7();
    let today = Utc::now().date_naive();

    let tx = f.dbs.app.begin(a).await.unwrap();
    let (id, slug) = campaigns::create(&tx, &input(), course, amy).await.unwrap();
    assert_eq!(slug, "flu-season");
    let (_, second) = campaigns::create(&tx, &input(), course, amy).await.unwrap();
    assert_eq!(second, "flu-season-2", "an address is never shared");
    assert!(campaigns::launch(&tx, id).await.unwrap());
    let people = campaigns::recipients(&tx, &Audience::default(), course, today).await.unwrap();
    assert_eq!(people.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![amy], "Northmoor's staff only");
    let mailing = mailings::create(&tx, "campaigns", "Beat flu", "text", "<p>html</p>", "Northmoor").await.unwrap();
    campaigns::record_emailed(&tx, id, mailing, &[amy], Utc::now()).await.unwrap();
    assert!(campaigns::count_click(&tx, &slug, Link::Banner).await.unwrap());
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(b).await.unwrap();
    assert!(campaigns::list(&tx, 10).await.unwrap().is_empty());
    assert!(campaigns::get(&tx, id).await.unwrap().is_none());
    assert!(campaigns::by_slug(&tx, &slug).await.unwrap().is_none());
    assert!(!campaigns::launch(&tx, id).await.unwrap());
    assert!(!campaigns::end(&tx, id).await.unwrap());
    assert!(!campaigns::request_send(&tx, id).await.unwrap());
    assert!(!campaigns::update(&tx, id, &input(), course).await.unwrap());
    assert!(!campaigns::count_click(&tx, &slug, Link::Email).await.unwrap());
    assert!(mailings::get(&tx, mailing).await.unwrap().is_none());
    let theirs = campaigns::recipients(&tx, &Audience::default(), course, today).await.unwrap();
    assert_eq!(theirs.iter().map(|(p, _)| *p).collect::<Vec<_>>(), vec![rob]);
    // Riverside's own campaign of the same name has the same address: addresses are per trust.
    let (_, own) = campaigns::create(&tx, &input(), course, rob).await.unwrap();
    assert_eq!(own, "flu-season");
    tx.commit().await.unwrap();

    let tx = f.dbs.app.begin(a).await.unwrap();
    let c = campaigns::get(&tx, id).await.unwrap().unwrap();
    assert_eq!((c.banner_clicks, c.email_clicks, c.email_count), (1, 0, 1), "Riverside's click changed nothing");
    assert_eq!(campaigns::results(&tx, &c).await.unwrap().reached, 1);
    tx.commit().await.unwrap();

    if f.db.backend == Backend::Postgres {
        let tx = crate::support::raw_as(&f, b).await;
        for table in ["campaigns", "campaign_people", "mailings"] {
            assert_eq!(crate::support::rows_of(&tx, table, a).await, 0, "{table}: Riverside read Northmoor's rows");
        }
        let tried = [
            "UPDATE campaigns SET status = 'ended' WHERE tenant_id = $1",
            "UPDATE campaigns SET email_clicks = email_clicks + 100 WHERE tenant_id = $1",
            "DELETE FROM campaign_people WHERE tenant_id = $1",
            "UPDATE mailings SET html_body = '<script>' WHERE tenant_id = $1",
        ];
        crate::support::changes_nothing(&tx, a, &tried).await;
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn bulk_mail_never_keeps_other_mail_waiting() {
    let f = fixture().await;
    let a = f.ids["northmoor"];
    let (amy, _) =
        accounts::seed_member(&f.dbs, a, crate::support::nurse("amy@nhs.example"), &[Role::Learner]).await.unwrap();
    let tx = f.dbs.app.begin(a).await.unwrap();
    let mailing = mailings::create(&tx, "campaigns", "Beat flu", "text", "<p>html</p>", "Northmoor").await.unwrap();
    let copies: Vec<mailings::Recipient> = (0..60)
        .map(|i| mailings::Recipient {
            person: amy,
            to: format!("staff{i}@nhs.example"),
            unsubscribe: "https://northmoor.example/unsubscribe/x".into(),
        })
        .collect();
    mailings::enqueue(&tx, mailing, &copies).await.unwrap();
    tx.commit().await.unwrap();
    // A password reset queued after the whole campaign still goes first.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let tx = f.dbs.app.begin(a).await.unwrap();
    trellis_db::outbox::enqueue_email(
        &tx,
        &trellis_db::outbox::OutgoingEmail {
            to: "amy@nhs.example".into(),
            subject: "Reset your password".into(),
            text: "t".into(),
            html: "h".into(),
            from_name: "Northmoor".into(),
            calendar: None,
            reply_to: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let due = f.dbs.platform.due_outbox_across_tenants(50).await.unwrap();
    assert_eq!(due.len(), 50);
    assert_eq!(due[0].kind, "email", "the reset first");
    assert!(due[1..].iter().all(|d| d.kind == mailings::KIND));
    let copy: mailings::Copy = serde_json::from_str(&due[1].payload).unwrap();
    assert_eq!((copy.mailing, copy.person), (mailing, amy.as_uuid()));
}
