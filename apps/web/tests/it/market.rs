//! The marketplace end to end: a seller lists a course, a platform admin approves it, a trust
//! adds it billed per enrolment, a learner enrols with approval, and the trust's spending, the
//! seller's earnings and the platform's commission agree; the card and prepaid-seat flows in the
//! local test mode; Stripe's webhooks verified and applied exactly once whatever their order,
//! against a stand-in at the HTTP boundary, for 1,000 concurrent purchases. Other trusts see none
//! of it.

use crate::eventually;
use std::time::Duration;
use trellis_db::catalogue as cat;
use trellis_db::market as mk;
use trellis_db::states::ChargeStatus;
use trellis_db::states::EnrolmentStatus;
use trellis_domain::identity::Role;
use trellis_domain::{CourseId, TenantId};
use trellis_testkit::{BASE, StripeStandIn, TestApp, Visitor, spawn_app_with};

const PW: &str = trellis_testkit::PASSWORD;

async fn form_token(v: &mut Visitor, path: &str) -> String {
    let page = v.get(path).await;
    page.csrf().unwrap_or_else(|| panic!("no form on {path}: {} {}", page.status, page.body))
}

fn id_after(body: &str, prefix: &str) -> Option<String> {
    let at = body.find(prefix)? + prefix.len();
    let id: String = body[at..].chars().take(36).collect();
    (id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(id)
}

/// A published course of `slug`'s own, with one page session.
async fn own_course(app: &TestApp, slug: &str, code: &str, title: &str, enrolment: &str) -> CourseId {
    let course = app
        .course(slug, code, title)
        .described(
            &format!("{title}: recognise, respond, escalate."),
            "Scenario-based learning.",
            "Clinical skills",
            45,
        )
        .page("Recognising the signs", "Look for the red flags.")
        .published();
    if enrolment == "approval" { course.approval() } else { course }.create().await
}

/// `n` approved learners of `tenant` (`<prefix><i>@northmoor.example`), in one transaction.
async fn learners(
    dbs: &trellis_db::Databases,
    tenant: TenantId,
    prefix: &str,
    n: usize,
) -> Vec<trellis_domain::PersonId> {
    let tx = dbs.app.begin(tenant).await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let created = trellis_db::identity::accounts::create_person(
            &tx,
            trellis_db::identity::NewPerson {
                email: format!("{prefix}{i}@northmoor.example"),
                password_hash: None,
                given_name: "Learner".into(),
                family_name: format!("{i}"),
                job_role: "Nurse".into(),
                place_of_work: "Ward 1".into(),
                register_kind: None,
                register_number: None,
            },
            true,
        )
        .await
        .unwrap();
        trellis_db::identity::accounts::add_membership(
            &tx,
            trellis_db::identity::accounts::Consent::New(&created),
            trellis_db::identity::MembershipStatus::Approved,
            &[Role::Learner],
        )
        .await
        .unwrap();
        ids.push(created.id);
    }
    tx.commit().await.unwrap();
    ids
}

pub(crate) async fn platform_admin(app: &TestApp) -> Visitor {
    let hash = trellis_web::hash_password(PW.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&app.dbs().await, "root@platform.example", hash, "test")
        .await
        .unwrap();
    let mut root = Visitor::new(app.addr, BASE);
    let signed = root.sign_in("root@platform.example", PW).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    root
}

/// Registers `slug` as a seller, lists `course`, has the platform admin approve it; returns the
/// listing's id.
async fn listed(
    app: &TestApp,
    seller: &mut Visitor,
    root: &mut Visitor,
    course: CourseId,
    price: &str,
    tiers: &str,
) -> String {
    let t = form_token(seller, "/selling").await;
    let r = seller
        .post("/selling/register", &[("csrf_token", &t), ("kind", "vendor"), ("summary", "Clinical e-learning.")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let t = form_token(seller, "/selling").await;
    let course = course.to_string();
    let fields = [
        ("csrf_token", t.as_str()),
        ("course", course.as_str()),
        ("title", "Sepsis: spot it early"),
        ("summary", "Recognise and escalate sepsis."),
        ("price", price),
        ("tiers", tiers),
        ("licence_days", "365"),
    ];
    let r = seller.post("/selling/listings", &fields).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = seller.get("/selling").await;
    assert!(page.body.contains("submitted"), "{}", page.body);
    let lid = id_after(&page.body, "/selling/listings/").unwrap();
    // The seller's home says what waits and what they earned.
    let home = seller.get("/").await;
    assert!(home.body.contains("Selling in the marketplace"), "{}", home.body);
    let waiting = &home.body[home.body.find("Waiting for review").unwrap()..];
    assert!(waiting.contains(">1<"), "one listing waits for review: {waiting}");
    let queue = root.get("/admin/marketplace").await;
    assert!(queue.body.contains("Sepsis: spot it early"), "{}", queue.body);
    let t = queue.csrf().unwrap();
    let r =
        root.post(&format!("/admin/marketplace/listings/{lid}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let _ = app;
    lid
}

#[tokio::test]
async fn a_vendor_lists_an_admin_approves_a_trust_buys_billed_and_the_books_agree() {
    let app = spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let course = own_course(&app, "fenwick", "FEN-SEPSIS", "Sepsis awareness", "approval").await;
    let (mut sally, _) =
        app.person("fenwick", "sally@fenwick.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, ann_id) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let mut root = platform_admin(&app).await;

    // A learner cannot sell or buy.
    assert_eq!(ann.get("/selling").await.status, 403);
    assert_eq!(ann.get("/marketplace").await.status, 403);

    // Bad input: each field named, nothing stored.
    let t = form_token(&mut sally, "/selling").await;
    let bad = sally.post("/selling/register", &[("csrf_token", &t), ("kind", "pirate")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Choose whether you sell as a content vendor"), "{}", bad.body);
    assert!(bad.body.contains("href=\"#summary\""));
    let lid = {
        // Registering, then a listing with a bad price and tiers.
        let t = form_token(&mut sally, "/selling").await;
        assert_eq!(
            sally
                .post(
                    "/selling/register",
                    &[("csrf_token", &t), ("kind", "vendor"), ("summary", "Clinical e-learning.")]
                )
                .await
                .status,
            303
        );
        let t = form_token(&mut sally, "/selling").await;
        let c = course.to_string();
        let bad = sally
            .post(
                "/selling/listings",
                &[
                    ("csrf_token", &t),
                    ("course", &c),
                    ("title", "Sepsis"),
                    ("price", "free"),
                    ("tiers", "5: 90"),
                    ("licence_days", "365"),
                ],
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("Enter the price per enrolment in pounds"), "{}", bad.body);
        assert!(!bad.body.contains("/selling/listings/"), "nothing listed");
        listed(&app, &mut sally, &mut root, course, "45.00", "3: 40.00").await
    };

    // Stripe Connect onboarding in test mode: the same steps, said to be a test.
    let t = form_token(&mut sally, "/selling").await;
    let go = sally.post("/selling/onboard", &[("csrf_token", &t)]).await;
    assert_eq!(go.status, 303);
    let onboard = go.location.unwrap();
    let path = onboard.split_once(BASE).map(|(_, p)| p.split_once('/').map_or("", |x| x.1)).unwrap();
    let path = format!("/{path}");
    let mut platform = Visitor::new(app.addr, BASE);
    let page = platform.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Payments test mode"));
    let t = page.csrf().unwrap();
    assert_eq!(platform.post(&path, &[("csrf_token", &t)]).await.status, 303);
    assert!(sally.get("/selling").await.body.contains("Ready"));

    // Live in the public marketplace and in a trust's.
    assert!(Visitor::new(app.addr, BASE).get("/marketplace").await.body.contains("Sepsis: spot it early"));
    let browse = boss.get("/marketplace").await;
    assert!(browse.body.contains(&format!("/marketplace/{lid}")), "{}", browse.body);
    assert!(browse.body.contains("Payments test mode"));
    let page = boss.get(&format!("/marketplace/{lid}")).await;
    assert!(page.body.contains("£45.00 per enrolment"));
    assert!(page.body.contains("£40.00 each from 3 enrolments in a month"), "{}", page.body);
    let t = page.csrf().unwrap();
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "nonsense")]).await.status,
        400
    );
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "billed")]).await.status,
        303
    );
    let snapshot = {
        let dbs = app.dbs().await;
        let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
        let a = mk::adoptions(&tx).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(a.len(), 1);
        a[0].course
    };

    // The learner asks to join; nothing is billed until a manager approves.
    let cpage = ann.get(&format!("/courses/{snapshot}")).await;
    assert_eq!(cpage.status, 200, "{}", cpage.body);
    assert!(cpage.body.contains("Your trust pays for this course"));
    let t = cpage.csrf().unwrap();
    assert_eq!(ann.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    assert!(ann.get(&format!("/courses/{snapshot}")).await.body.contains("You asked to join"));
    let requests = boss.get("/admin/enrolments").await;
    let eid = id_after(&requests.body, "/admin/enrolments/").unwrap();
    let t = requests.csrf().unwrap();
    assert_eq!(
        boss.post(&format!("/admin/enrolments/{eid}"), &[("csrf_token", &t), ("decision", "approve")]).await.status,
        303
    );
    assert!(ann.get(&format!("/courses/{snapshot}")).await.body.contains("Start"));

    // The ledger catches up through the worker; the three views agree.
    let dbs = app.dbs().await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            dbs.platform.ledger_totals_across_tenants().await.unwrap().lines == 3
        })
        .await
    );
    let totals = dbs.platform.ledger_totals_across_tenants().await.unwrap();
    assert_eq!((totals.spend, totals.earnings, totals.commission, totals.sum), (4500, 3825, 675, 0));
    let spending = boss.get("/marketplace/spending").await;
    assert!(spending.body.contains("£45.00"), "{}", spending.body);
    assert!(spending.body.contains("On the monthly bill"));
    assert!(spending.body.contains("Test Person"), "who it was for");
    let csv = boss.get("/marketplace/spending?format=csv").await;
    assert!(csv.body.contains(",4500,billed,"), "{}", csv.body);
    let pdf = boss.get("/marketplace/spending.pdf").await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let receipt_at = spending.body.find("/receipt.pdf").expect("a receipt link");
    let receipt = spending.body[..receipt_at].rsplit('"').next().unwrap().to_owned() + "/receipt.pdf";
    assert_eq!(boss.get(&receipt).await.status, 200);
    assert_eq!(bob.get(&receipt).await.status, 404, "another learner's receipt");
    assert_eq!(sally.get("/selling/earnings.pdf").await.status, 200);
    assert!(sally.get("/selling").await.body.contains("£38.25"), "the seller's earnings");
    // This month's sales: charted on the selling page (with its table) and said on the home.
    let selling = sally.get("/selling").await;
    assert!(selling.body.contains("id=\"sales-chart-title\""), "{}", selling.body);
    let this_month = chrono::Utc::now().format("%B %Y").to_string();
    let row = &selling.body[selling.body.find(&format!("{this_month}</th>")).expect("this month's row")..];
    assert!(row.starts_with(&format!("{this_month}</th>")) && row[..300].contains("£38.25 (1 sale)"), "{row}");
    assert!(sally.get("/").await.body.contains("1 sale, earning £38.25"));
    // Anonymised figures of the listed course across the trusts that bought it: never a name.
    let stats = sally.get("/selling/statistics").await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let after = &stats.body[stats.body.find("Choose a course</option>").unwrap()..];
    let listed_course = id_after(after, "<option value=\"").expect("the listed course");
    let by_trust = sally.get(&format!("/selling/statistics?course={listed_course}&by=trust")).await;
    assert!(
        by_trust.body.contains("</span>Northmoor Teaching Hospitals NHS Foundation Trust</th>")
            && by_trust.body.contains("Enrolled </span>*<"),
        "{}",
        by_trust.body
    );
    assert!(!by_trust.body.contains("ann@northmoor.example") && !by_trust.body.contains("bob@northmoor.example"));
    let by_region = sally.get(&format!("/selling/statistics?course={listed_course}&by=region")).await;
    assert!(by_region.body.contains("</span>North East and Yorkshire</th>"), "{}", by_region.body);
    assert_eq!(sally.get(&format!("/selling/statistics?course={}", uuid::Uuid::now_v7())).await.status, 400);
    assert_eq!(ann.get("/selling/statistics").await.status, 403);
    let admin = root.get("/admin/marketplace").await;
    assert!(admin.body.contains("£6.75") && admin.body.contains("Balanced"), "{}", admin.body);

    // The monthly invoice (the worker's job, run here for this month), paid through the test
    // mode: the seller is paid its share and the payout is in the ledger.
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    let month = mk::month_of(site.today());
    let inv = trellis_web::jobs::invoice_trust(&state, &site, &month).await.unwrap().unwrap();
    assert_eq!((inv.amount_pence, inv.items), (4500, 1));
    assert!(trellis_web::jobs::invoice_trust(&state, &site, &month).await.unwrap().is_none(), "invoiced once");
    let spending = boss.get("/marketplace/spending").await;
    assert!(spending.body.contains("Pay invoice"), "{}", spending.body);
    let at = spending.body.find("/payments/test/invoice/").unwrap();
    let pay_url = spending.body[at..].split('"').next().unwrap().to_owned();
    let ipage = platform.get(&pay_url).await;
    assert!(ipage.body.contains("£45.00") && ipage.body.contains("Payments test mode"), "{}", ipage.body);
    let t = ipage.csrf().unwrap();
    assert_eq!(platform.post(&pay_url, &[("csrf_token", &t)]).await.status, 303);
    assert!(
        eventually(Duration::from_secs(20), || async {
            dbs.platform.ledger_totals_across_tenants().await.unwrap().paid_out == 3825
        })
        .await
    );
    let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
    assert_eq!((t.spend, t.earnings, t.commission, t.sum, t.lines), (4500, 3825, 675, 0, 5));
    assert!(boss.get("/marketplace/spending").await.body.contains("Paid"));
    assert!(sally.get("/selling").await.body.contains("<strong>£38.25</strong> paid out"));
    // Every party's kept balances (the seller's home reads them) equal its ledger lines summed.
    let mut kept_any = 0;
    for slug in ["northmoor", "riverside", "brightwater", "fenwick"] {
        let tx = dbs.app.begin(app.tenant_id(slug).await).await.unwrap();
        let kept = mk::balances(&tx).await.unwrap();
        assert_eq!(kept, mk::balances_recounted(&tx).await.unwrap(), "{slug}");
        kept_any += kept.len();
        tx.commit().await.unwrap();
    }
    assert!(kept_any >= 3, "spend, earnings and paid_out are kept");

    // The licence (365 days) runs out: the daily run ends the enrolment (not before).
    let northmoor_id = app.tenant_id("northmoor").await;
    let tx = dbs.app.begin(northmoor_id).await.unwrap();
    let today = chrono::Utc::now().date_naive();
    assert_eq!(mk::expire_licences(&tx, today + chrono::Duration::days(300)).await.unwrap(), 0);
    tx.rollback().await.unwrap();
    let tx = dbs.app.begin(northmoor_id).await.unwrap();
    assert_eq!(mk::expire_licences(&tx, today + chrono::Duration::days(400)).await.unwrap(), 1);
    let e = trellis_db::learning::enrolment(&tx, ann_id, snapshot).await.unwrap().unwrap();
    assert_eq!(e.status, EnrolmentStatus::Expired);
    tx.rollback().await.unwrap();
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert_eq!(mk::expire_licences(&tx, today + chrono::Duration::days(400)).await.unwrap(), 0, "only its own");
    tx.rollback().await.unwrap();

    // A budget the next enrolment would exceed: refused with the reason, nothing billed.
    let t = form_token(&mut boss, "/marketplace").await;
    assert_eq!(boss.post("/marketplace/budget", &[("csrf_token", &t), ("budget", "lots")]).await.status, 400);
    assert_eq!(boss.post("/marketplace/budget", &[("csrf_token", &t), ("budget", "60")]).await.status, 303);
    let t = form_token(&mut bob, &format!("/courses/{snapshot}")).await;
    assert_eq!(bob.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let requests = boss.get("/admin/enrolments").await;
    let bob_e = id_after(&requests.body, "/admin/enrolments/").unwrap();
    let t = requests.csrf().unwrap();
    let over = boss.post(&format!("/admin/enrolments/{bob_e}"), &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(over.status, 409, "{}", over.body);
    assert!(over.body.contains("over its budget of £60.00"), "{}", over.body);
    assert!(boss.get("/admin/enrolments").await.body.contains(&bob_e), "the request still waits");
    assert_eq!(dbs.platform.ledger_totals_across_tenants().await.unwrap().spend, 4500);

    // Another trust sees none of it: not its charges, not its ledger, not its refunds.
    let theirs = rex.get("/marketplace/spending").await;
    // (The page's own content: the header names whoever is signed in.)
    let main = &theirs.body[theirs.body.find("<main").unwrap_or(0)..];
    assert!(!main.contains("£45.00") && !main.contains("Test Person"), "{}", theirs.body);
    let charge = {
        let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
        let c = mk::charges(&tx, 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].charge.person, Some(ann_id));
        c[0].charge.id
    };
    let t = form_token(&mut rex, "/marketplace").await;
    assert_eq!(rex.post(&format!("/marketplace/charges/{charge}/refund"), &[("csrf_token", &t)]).await.status, 404);
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(mk::charges(&tx, 10).await.unwrap().is_empty());
    assert!(mk::ledger(&tx, 10).await.unwrap().is_empty());
    assert!(mk::charge(&tx, charge).await.unwrap().is_none());
    tx.commit().await.unwrap();
    // Riverside's learners cannot enrol on a course Northmoor bought.
    let (mut rita, _) = app.person("riverside", "rita@riverside.example").roles(&[Role::Learner]).signed_in().await;
    assert_eq!(rita.get(&format!("/courses/{snapshot}")).await.status, 404);
    let t = form_token(&mut rita, "/profile").await;
    assert_eq!(rita.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 404);
    // The national toggle cannot offer a marketplace course for free (and the course list no
    // longer shows one beside the free national catalogue).
    assert!(!rex.get("/admin/courses").await.body.contains(&snapshot.to_string()));
    let t = form_token(&mut rex, "/profile").await;
    let r = rex.post(&format!("/admin/courses/{snapshot}/offer"), &[("csrf_token", &t), ("offer", "yes")]).await;
    assert_ne!(r.status, 303, "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn learners_pay_by_card_and_seats_are_prepaid_through_the_test_mode() {
    let app = spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let course = own_course(&app, "riverside", "RIV-SEPSIS", "Sepsis awareness", "open").await;
    let (mut seller, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let (mut bob, _) = app.person("northmoor", "bob@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let mut root = platform_admin(&app).await;
    let lid = listed(&app, &mut seller, &mut root, course, "20.00", "").await;
    // A trust cannot buy its own listing.
    let t = form_token(&mut seller, "/selling").await;
    assert_eq!(
        seller.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "billed")]).await.status,
        409
    );

    // Paid by the learner: enrolling opens a payment; the course starts once Stripe's event says so.
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "learner")]).await.status,
        303
    );
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let snapshot = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let a = mk::adoptions(&tx).await.unwrap();
        tx.commit().await.unwrap();
        a[0].course
    };
    let t = form_token(&mut ann, &format!("/courses/{snapshot}")).await;
    assert_eq!(ann.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let page = ann.get(&format!("/courses/{snapshot}")).await;
    assert!(page.body.contains("Pay £20.00 by card"), "{}", page.body);
    assert!(page.body.contains("Payments test mode"));
    assert_ne!(ann.get(&format!("/learn/{snapshot}")).await.status / 100, 2, "no learning before payment");
    let t = page.csrf().unwrap();
    let go = ann.post(&format!("/courses/{snapshot}/pay"), &[("csrf_token", &t)]).await;
    assert_eq!(go.status, 303);
    let checkout = go.location.unwrap();
    let path = format!("/{}", checkout.split_once(BASE).unwrap().1.split_once('/').unwrap().1);
    let mut pay = Visitor::new(app.addr, BASE);
    let cpage = pay.get(&path).await;
    assert_eq!(cpage.status, 200, "{}", cpage.body);
    assert!(cpage.body.contains("£20.00") && cpage.body.contains("no card is charged"));
    let t = cpage.csrf().unwrap();
    let paid = pay.post(&path, &[("csrf_token", &t), ("action", "pay")]).await;
    assert_eq!(paid.status, 303, "{}", paid.body);
    assert!(paid.location.unwrap().contains("/payments/done?charge="));
    assert!(ann.get(&format!("/courses/{snapshot}")).await.body.contains("Start"));
    // The same event again changes nothing; the admin view shows it processed.
    let events = root.get("/admin/marketplace").await;
    assert!(events.body.contains("checkout.session.completed") && events.body.contains("processed"));

    // A refund within the terms (not started): the enrolment ends, the ledger reverses.
    assert!(
        eventually(Duration::from_secs(20), || async {
            dbs.platform.ledger_totals_across_tenants().await.unwrap().spend == 2000
        })
        .await
    );
    let charge = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let c = mk::charges(&tx, 10).await.unwrap();
        tx.commit().await.unwrap();
        c[0].charge.id
    };
    let t = form_token(&mut boss, "/marketplace/spending").await;
    let r = boss.post(&format!("/marketplace/charges/{charge}/refund"), &[("csrf_token", &t)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        eventually(Duration::from_secs(20), || async {
            let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
            t.spend == 0 && t.lines == 10 && t.sum == 0 && t.paid_out == 0
        })
        .await
    );
    assert!(!ann.get(&format!("/courses/{snapshot}")).await.body.contains("Start"), "refunded: no longer enrolled");
    assert_eq!(boss.post(&format!("/marketplace/charges/{charge}/refund"), &[("csrf_token", &t)]).await.status, 409);

    // Prepaid seats: bought by card, each enrolment takes one, none left means a clear refusal.
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "prepaid")]).await.status,
        303
    );
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/seats"), &[("csrf_token", &t), ("quantity", "0")]).await.status,
        400
    );
    let go = boss.post(&format!("/marketplace/{lid}/seats"), &[("csrf_token", &t), ("quantity", "1")]).await;
    assert_eq!(go.status, 303);
    let path = format!("/{}", go.location.unwrap().split_once(BASE).unwrap().1.split_once('/').unwrap().1);
    let cpage = pay.get(&path).await;
    let t = cpage.csrf().unwrap();
    assert_eq!(pay.post(&path, &[("csrf_token", &t), ("action", "pay")]).await.status, 303);
    assert!(boss.get(&format!("/marketplace/{lid}")).await.body.contains("1 seats left"));
    let t = form_token(&mut bob, &format!("/courses/{snapshot}")).await;
    assert_eq!(bob.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    assert!(bob.get(&format!("/courses/{snapshot}")).await.body.contains("Start"));
    assert!(boss.get(&format!("/marketplace/{lid}")).await.body.contains("0 seats left"));
    // The seat bought is used: its purchase can no longer be refunded.
    let seat_charge = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let c = mk::charges(&tx, 20).await.unwrap();
        tx.commit().await.unwrap();
        c.into_iter().find(|c| c.charge.kind == "seats" && c.charge.status == ChargeStatus::Paid).unwrap().charge.id
    };
    let t = form_token(&mut boss, "/marketplace/spending").await;
    let r = boss.post(&format!("/marketplace/charges/{seat_charge}/refund"), &[("csrf_token", &t)]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    let t = form_token(&mut ann, &format!("/courses/{snapshot}")).await;
    let none = ann.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await;
    assert_eq!(none.status, 409, "{}", none.body);
    assert!(none.body.contains("no seats left"));
    // A cancelled checkout leaves nothing behind but the cancelled charge.
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    let go = boss.post(&format!("/marketplace/{lid}/seats"), &[("csrf_token", &t), ("quantity", "5")]).await;
    let path = format!("/{}", go.location.unwrap().split_once(BASE).unwrap().1.split_once('/').unwrap().1);
    let t = pay.get(&path).await.csrf().unwrap();
    assert_eq!(pay.post(&path, &[("csrf_token", &t), ("action", "cancel")]).await.status, 303);
    assert!(boss.get(&format!("/marketplace/{lid}")).await.body.contains("0 seats left"));
    let totals = dbs.platform.ledger_totals_across_tenants().await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
            t.spend == 2000 && t.sum == 0
        })
        .await,
        "{totals:?}"
    );
    app.stop().await;
}

/// The test mode's webhook secret is this installation's own: an event signed with the secret
/// the source once held (or any guess) is refused and changes nothing, and so is one signed with
/// the right secret but stamped in the future.
#[tokio::test]
async fn a_forged_test_mode_payment_changes_nothing() {
    let app = spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let course = own_course(&app, "riverside", "RIV-FORGE", "Sepsis awareness", "open").await;
    let (mut seller, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut ann, _) = app.person("northmoor", "ann@northmoor.example").roles(&[Role::Learner]).signed_in().await;
    let mut root = platform_admin(&app).await;
    let lid = listed(&app, &mut seller, &mut root, course, "20.00", "").await;
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "learner")]).await.status,
        303
    );
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let snapshot = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let a = mk::adoptions(&tx).await.unwrap();
        tx.commit().await.unwrap();
        a[0].course
    };
    let t = form_token(&mut ann, &format!("/courses/{snapshot}")).await;
    assert_eq!(ann.post(&format!("/courses/{snapshot}/enrol"), &[("csrf_token", &t)]).await.status, 303);
    let t = form_token(&mut ann, &format!("/courses/{snapshot}")).await;
    let go = ann.post(&format!("/courses/{snapshot}/pay"), &[("csrf_token", &t)]).await;
    assert_eq!(go.status, 303);
    let checkout = go.location.unwrap();
    let cs = checkout.rsplit('/').next().unwrap().to_owned();
    let (charge, tenant) = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let c = mk::charges(&tx, 10).await.unwrap();
        tx.commit().await.unwrap();
        (c[0].charge.id, northmoor)
    };
    let forged = |secret: &str, at: i64| {
        let body = serde_json::json!({
            "id": format!("evt_forged_{at}"), "object": "event", "type": "checkout.session.completed",
            "created": at, "livemode": false,
            "data": { "object": {
                "id": cs, "object": "checkout.session", "status": "complete", "payment_status": "paid",
                "payment_intent": "pi_forged", "client_reference_id": charge.to_string(),
                "metadata": { "charge": charge.to_string(), "tenant": tenant.to_string() } } }
        })
        .to_string();
        let header = trellis_domain::market::sign(body.as_bytes(), secret, at);
        (body, header)
    };
    let now = chrono::Utc::now().timestamp();
    let real = app.server.as_ref().unwrap().state.payments.test_mode_secret().unwrap().to_owned();
    assert_ne!(real, "whsec_trellis_local_test_mode");
    let mut stripe = Visitor::new(app.addr, BASE);
    for (secret, at) in [("whsec_trellis_local_test_mode", now), ("whsec_guess", now), (real.as_str(), now + 3600)] {
        let (body, header) = forged(secret, at);
        let r = stripe
            .send(
                "POST",
                "/stripe/webhook",
                &[("stripe-signature", &header), ("content-type", "application/json")],
                body.into_bytes(),
            )
            .await;
        assert_eq!(r.status, 400, "{secret} at {at}: {}", r.body);
    }
    // Nothing moved: the charge waits for payment, the course has not started, the ledger is empty.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let c = mk::charges(&tx, 10).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(c[0].charge.status, ChargeStatus::Pending, "{:?}", c[0].charge);
    assert!(!ann.get(&format!("/courses/{snapshot}")).await.body.contains("Start"));
    assert_eq!(dbs.platform.ledger_totals_across_tenants().await.unwrap().lines, 0);
    assert!(!root.get("/admin/marketplace").await.body.contains("evt_forged"));
}

/// With no Stripe key and no explicit test mode, paid features are off: nothing can be bought,
/// sold or paid, and the webhook accepts nothing.
#[tokio::test]
async fn with_no_payment_provider_paid_features_are_off() {
    let app = spawn_app_with(None, |c| {
        c.auth.platform_admin_mfa_required = false;
        c.payments.mode = String::new();
    })
    .await;
    assert!(!app.server.as_ref().unwrap().state.payments.enabled());
    let (mut seller, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    let t = form_token(&mut seller, "/selling").await;
    let r = seller
        .post("/selling/register", &[("csrf_token", &t), ("kind", "vendor"), ("summary", "Clinical e-learning.")])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("no way of taking payments is set up"), "{}", r.body);
    let body = r#"{"id":"evt_x","type":"checkout.session.completed","data":{"object":{}}}"#;
    let header =
        trellis_domain::market::sign(body.as_bytes(), "whsec_trellis_local_test_mode", chrono::Utc::now().timestamp());
    let mut stripe = Visitor::new(app.addr, BASE);
    let r = stripe.send("POST", "/stripe/webhook", &[("stripe-signature", &header)], body.as_bytes().to_vec()).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn webhooks_are_verified_as_stripe_specifies_and_applied_once_in_any_order() {
    let stripe = StripeStandIn::start().await;
    let base = stripe.base();
    let app = spawn_app_with(None, |c| {
        c.payments.mode = "stripe".into();
        c.payments.stripe_secret_key = trellis_testkit::STRIPE_SECRET_KEY.into();
        c.payments.webhook_secret = trellis_testkit::STRIPE_WEBHOOK_SECRET.into();
        c.payments.stripe_api_base = base.clone();
        c.auth.platform_admin_mfa_required = false;
    })
    .await;
    let course = own_course(&app, "fenwick", "FEN-SEPSIS", "Sepsis awareness", "open").await;
    let (mut seller, _) =
        app.person("fenwick", "sally@fenwick.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let mut root = platform_admin(&app).await;
    let lid = listed(&app, &mut seller, &mut root, course, "45.00", "").await;
    // Onboarding goes to Stripe (the stand-in) for an account and a link.
    let t = form_token(&mut seller, "/selling").await;
    let go = seller.post("/selling/onboard", &[("csrf_token", &t)]).await;
    assert!(go.location.unwrap().starts_with("https://connect.stripe.test/setup/e/acct_standin_1"));
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "learner")]).await.status,
        303
    );
    assert!(!boss.get("/marketplace").await.body.contains("Payments test mode"), "real Stripe: no test-mode notice");

    let state = app.server.as_ref().unwrap().state.clone();
    let northmoor = app.tenant_id("northmoor").await;
    let dbs = app.dbs().await;
    let (snapshot, adoption) = {
        let tx = dbs.app.begin(northmoor).await.unwrap();
        let a = mk::adoptions(&tx).await.unwrap();
        tx.commit().await.unwrap();
        (a[0].course, a[0].clone())
    };
    assert_eq!(adoption.seller_account.as_deref(), Some("acct_standin_1"));

    // 1,000 learners.
    const N: usize = 1000;
    let people = learners(&dbs, northmoor, "learner", N).await;

    // 1,000 concurrent purchases: each enrols (awaiting payment) and opens a Stripe checkout.
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut set = tokio::task::JoinSet::new();
    for person in people.clone() {
        let state = state.clone();
        let sem = sem.clone();
        let adoption = adoption.clone();
        set.spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let tx = state.dbs.app.begin(northmoor).await.unwrap();
            let c = cat::course(&tx, snapshot).await.unwrap().unwrap();
            let out = trellis_db::learning::enrol(&tx, person, &c, "self", true, None, None).await.unwrap();
            assert_eq!(out, trellis_db::learning::Enrolled::AwaitingPayment);
            let e = trellis_db::learning::enrolment(&tx, person, snapshot).await.unwrap().unwrap();
            let charge = mk::pending_for_enrolment(&tx, e.id).await.unwrap().unwrap();
            tx.commit().await.unwrap();
            let r = trellis_integrations::payments::CheckoutRequest {
                charge: charge.id.to_string(),
                tenant: northmoor.to_string(),
                name: c.title.clone(),
                unit_pence: charge.unit_pence,
                quantity: 1,
                currency: "gbp".into(),
                email: None,
                success_url: "http://northmoor.localhost/payments/done".into(),
                cancel_url: "http://northmoor.localhost/".into(),
                destination: adoption.seller_account.clone(),
                application_fee: charge.fee_pence,
            };
            // Asked twice (a retry after a timeout, say): one session, by the idempotency key.
            let first = state.payments.create_checkout(&r).await.unwrap();
            let again = state.payments.create_checkout(&r).await.unwrap();
            assert_eq!(first, again);
            let tx = state.dbs.app.begin(northmoor).await.unwrap();
            mk::set_checkout(&tx, charge.id, &first.id).await.unwrap();
            tx.commit().await.unwrap();
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let sessions = stripe.sessions();
    assert_eq!(sessions.len(), N);
    assert_eq!(stripe.checkout_requests(), 2 * N);
    assert!(sessions.iter().all(|s| s.fee == Some(675) && s.destination.as_deref() == Some("acct_standin_1")));

    // Stripe's events: each completion sent two or three times, 50 purchases also refunded (some
    // refunds arriving before their payment), all shuffled and delivered concurrently.
    let mut deliveries: Vec<String> = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        let done = StripeStandIn::completed_event(s);
        for _ in 0..(2 + i % 2) {
            deliveries.push(done.clone());
        }
        if i % 20 == 0 {
            let refund = StripeStandIn::refunded_event(s);
            deliveries.push(refund.clone());
            deliveries.push(refund);
        }
    }
    // A deterministic shuffle (Fisher–Yates with a fixed LCG): the order is scrambled, the test repeatable.
    let mut seed: u64 = 0x5eed;
    for i in (1..deliveries.len()).rev() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let j = usize::try_from(seed >> 33).unwrap() % (i + 1);
        deliveries.swap(i, j);
    }
    let client = reqwest::Client::new();
    let url = app.url("/stripe/webhook");
    let mut set = tokio::task::JoinSet::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    for body in deliveries {
        let client = client.clone();
        let url = url.clone();
        let sem = sem.clone();
        set.spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let sig = StripeStandIn::sign(&body);
            let r =
                client.post(&url).header("host", BASE).header("stripe-signature", sig).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }

    // Forged, tampered and stale deliveries are refused and change nothing.
    let s = &sessions[1];
    let body = StripeStandIn::completed_event(s);
    let forged = trellis_domain::market::sign(body.as_bytes(), "whsec_wrong", chrono::Utc::now().timestamp());
    let stale = trellis_domain::market::sign(
        body.as_bytes(),
        trellis_testkit::STRIPE_WEBHOOK_SECRET,
        chrono::Utc::now().timestamp() - 301,
    );
    let good = StripeStandIn::sign(&body);
    for (sig, payload) in
        [(forged, body.clone()), (stale, body.clone()), (good, body.replace("\"paid\"", "\"unpaid\""))]
    {
        let r =
            client.post(&url).header("host", BASE).header("stripe-signature", sig).body(payload).send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = client.post(&url).header("host", BASE).body(body).send().await.unwrap();
    assert_eq!(r.status(), 400, "no signature");

    // The refunds that came first are retried by the worker until their payment is in.
    let refunded = N / 20;
    assert!(
        eventually(Duration::from_secs(90), || async {
            let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
            t.lines == i64::try_from(5 * N + 5 * refunded).unwrap()
        })
        .await,
        "{:?}",
        dbs.platform.ledger_totals_across_tenants().await
    );
    let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
    let sold = i64::try_from(N - refunded).unwrap();
    assert_eq!(t.sum, 0, "the books balance to the penny");
    assert_eq!(t.spend, sold * 4500);
    assert_eq!(t.earnings, sold * (4500 - 675));
    assert_eq!(t.commission, sold * 675);
    assert_eq!(t.paid_out, sold * (4500 - 675), "card sales are paid to the seller at once");
    assert!(dbs.platform.stripe_events(5000).await.unwrap().iter().all(|e| e.status.as_str() == "processed"));
    assert_eq!(dbs.platform.stripe_events(5000).await.unwrap().len(), N + refunded, "each event kept once");

    // Every purchase has exactly one enrolment: active if paid, withdrawn if refunded.
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let charges = mk::charges(&tx, 5000).await.unwrap();
    assert_eq!(charges.len(), N);
    assert_eq!(charges.iter().filter(|c| c.charge.status == ChargeStatus::Paid).count(), N - refunded);
    assert_eq!(charges.iter().filter(|c| c.charge.status == ChargeStatus::Refunded).count(), refunded);
    let mut enrolments = std::collections::HashSet::new();
    for p in &people {
        let e = trellis_db::learning::enrolment(&tx, *p, snapshot).await.unwrap().unwrap();
        assert!(enrolments.insert(e.id));
        let c = charges.iter().find(|c| c.charge.enrolment == Some(e.id)).unwrap();
        let expected =
            if c.charge.status == ChargeStatus::Paid { EnrolmentStatus::Active } else { EnrolmentStatus::Withdrawn };
        assert_eq!(e.status, expected);
    }
    tx.commit().await.unwrap();
    // Billed per enrolment instead: three enrolments, one monthly invoice sent through Stripe,
    // paid (the event twice), one transfer to the seller of its share.
    let t = form_token(&mut boss, &format!("/marketplace/{lid}")).await;
    assert_eq!(
        boss.post(&format!("/marketplace/{lid}/add"), &[("csrf_token", &t), ("funding", "billed")]).await.status,
        303
    );
    let billed_people = learners(&dbs, northmoor, "billed", 3).await;
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let c = cat::course(&tx, snapshot).await.unwrap().unwrap();
    for p in &billed_people {
        let out = trellis_db::learning::enrol(&tx, *p, &c, "self", true, None, None).await.unwrap();
        assert_eq!(out, trellis_db::learning::Enrolled::Active);
    }
    tx.commit().await.unwrap();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    let inv = trellis_web::jobs::invoice_trust(&state, &site, &mk::month_of(site.today())).await.unwrap().unwrap();
    // No volume tiers on this listing: 3 × £45.
    assert_eq!((inv.amount_pence, inv.items), (3 * 4500, 3));
    let sent = stripe.invoices();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].finalised && sent[0].items.iter().map(|(_, p)| p).sum::<i64>() == 3 * 4500, "{sent:?}");
    let paid = StripeStandIn::invoice_paid_event(&sent[0]);
    for _ in 0..2 {
        let r = client
            .post(&url)
            .header("host", BASE)
            .header("stripe-signature", StripeStandIn::sign(&paid))
            .body(paid.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert!(
        eventually(Duration::from_secs(30), || async { !stripe.transfers().is_empty() }).await,
        "the seller is paid"
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            dbs.platform.ledger_totals_across_tenants().await.unwrap().paid_out == (sold + 3) * 3825
        })
        .await
    );
    let transfers = stripe.transfers();
    assert_eq!(transfers.len(), 1);
    assert_eq!((transfers[0].amount, transfers[0].destination.as_str()), (3 * 3825, "acct_standin_1"));
    let t = dbs.platform.ledger_totals_across_tenants().await.unwrap();
    assert_eq!((t.spend, t.commission, t.sum), ((sold + 3) * 4500, (sold + 3) * 675, 0));

    // A refund asks Stripe to reverse the transfer and the fee (its charge.refunded follows).
    let refund = state.payments.refund(&sessions[1].charge, "pi_test_1").await.unwrap();
    assert!(refund.is_some_and(|r| r.starts_with("re_standin_")));
    assert_eq!(stripe.refunds(), vec![("re_standin_1".to_owned(), sessions[1].charge.clone())]);

    // Other trusts: nothing.
    let tx = dbs.app.begin(app.tenant_id("riverside").await).await.unwrap();
    assert!(mk::charges(&tx, 10).await.unwrap().is_empty());
    assert!(mk::invoices(&tx, 10).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    app.stop().await;
}
