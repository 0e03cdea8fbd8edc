//! Organisation reporting behind its authorisation chain: platform administrator → authoriser
//! (confirmed by an emailed link) → reporting lead (a statement recorded word for word) → report
//! user (a purpose and an end date) → report runs on screen, CSV and PDF, each recorded; refusals
//! recorded; revocation at the next request; monthly emails carry a link, never the report; and
//! nothing of one trust's reporting reaches another's.

use super::records::{learn, pdf_pages};
use trellis_db::reporting as rep;
use trellis_db::states::ReportGrantKind;
use trellis_testkit::{PASSWORD, Visitor};

/// Today plus `n` days as the day, month and year a date input takes.
fn day_parts(n: i64) -> (String, String, String) {
    let x = chrono::Utc::now().date_naive() + chrono::Duration::days(n);
    (x.format("%-d").to_string(), x.format("%-m").to_string(), x.format("%Y").to_string())
}

/// The value of the first hidden input named `name` on a page.
fn hidden(body: &str, name: &str) -> String {
    let at = body.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name}: {body}"));
    let rest = &body[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()]
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_authorisation_chain_grants_reports_records_every_run_and_revokes_at_once() {
    let app = trellis_testkit::spawn_app_with(None, |c| c.auth.platform_admin_mfa_required = false).await;
    let dbs = app.dbs().await;
    let northmoor = app.tenant_id("northmoor").await;
    let riverside = app.tenant_id("riverside").await;

    // Staff and their learning at both trusts.
    let fire = app.course("northmoor", "nm-fire", "Fire safety").page("Exits", "Know them").published().create().await;
    let (mut nurse, _) = app
        .person("northmoor", "nina@northmoor.example")
        .staff("Nursing and Midwifery Registered", "Ward 7")
        .signed_in()
        .await;
    learn(&mut nurse, fire).await;
    let (mut porter, _) =
        app.person("northmoor", "pete@northmoor.example").staff("Estates and Ancillary", "Portering").signed_in().await;
    learn(&mut porter, fire).await;
    let rv = app.course("riverside", "rv-fire", "Riverside fire").page("Doors", "Shut them").published().create().await;
    let (mut other, _) = app.person("riverside", "olga@riverside.example").signed_in().await;
    learn(&mut other, rv).await;

    let (mut carol, _) = app.person("northmoor", "carol@northmoor.example").signed_in().await;
    let (mut lena, _) = app.person("northmoor", "lena@northmoor.example").signed_in().await;
    let (mut rob, _) = app.person("northmoor", "rob@northmoor.example").signed_in().await;

    // Before any grant: the reports are refused, and the refusal is recorded.
    assert_eq!(rob.get("/reporting").await.status, 200);
    let refused = rob.get("/reporting/reports/staff-activity").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("Sign out"), "a refusal still shows who is signed in: {}", refused.body);
    assert_eq!(rob.get("/reporting/leads").await.status, 403);
    assert_eq!(rob.get("/reporting/users").await.status, 403);
    assert_eq!(rob.get("/reporting/audit").await.status, 403);

    // The platform administrator records Northmoor's Caldicott Guardian.
    let hash = trellis_web::hash_password(PASSWORD.into(), 64, 1).await.unwrap();
    trellis_db::identity::appoint_platform_admin(&dbs, "root@platform.example", hash, "test").await.unwrap();
    let mut root = Visitor::new(app.addr, trellis_testkit::BASE);
    assert_eq!(root.sign_in("root@platform.example", PASSWORD).await.status, 303);
    let form = "/admin/trusts/northmoor/authoriser";
    assert_eq!(root.get(form).await.status, 200);
    let bad = root.submit(form, form, &[("name", "Carol Guardian"), ("email", "carol@northmoor.example")]).await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("href=\"#role\"") && bad.body.contains("Choose the authoriser"), "{}", bad.body);
    let ok = root
        .submit(
            form,
            form,
            &[("name", "Carol Guardian"), ("role", "caldicott_guardian"), ("email", "carol@northmoor.example")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(root.get(form).await.body.contains("Waiting for them to confirm"));
    assert_eq!(root.get("/admin/trusts/nowhere/authoriser").await.status, 404);
    let mail = app.mail.wait_for("carol@northmoor.example", "Confirm that you are the Caldicott Guardian").await;
    let link = mail.link("/reporting/authoriser/").expect("the confirmation link");
    let path = link[link.find("/reporting/authoriser/").unwrap()..].to_owned();

    // Only Carol, signed in with that address, can confirm; on another trust's site it is unknown.
    assert_eq!(rob.get(&path).await.status, 403);
    assert_eq!(other.get(&path).await.status, 404);
    let page = carol.get(&path).await;
    assert!(page.status == 200 && page.body.contains("Caldicott Guardian of"), "{}", page.body);
    let t = page.csrf().unwrap();
    let done = carol.post(&path, &[("csrf_token", &t)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(carol.get(&path).await.status, 410, "a link works once");
    assert!(root.get(form).await.body.contains("Confirmed on"));

    // Carol authorises Lena as reporting lead: she sees the statement, then makes it.
    let (d, m, y) = day_parts(200);
    let leads = carol.get("/reporting/leads").await;
    assert_eq!(leads.status, 200, "{}", leads.body);
    let t = leads.csrf().unwrap();
    let lead_form = |email: &'static str| {
        vec![
            ("csrf_token", t.clone()),
            ("step", "check".to_owned()),
            ("email", email.to_owned()),
            ("until-day", d.clone()),
            ("until-month", m.clone()),
            ("until-year", y.clone()),
        ]
    };
    let send = async |v: &mut Visitor, to: &str, f: Vec<(&'static str, String)>| {
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        v.post(to, &refs).await
    };
    let selfish = send(&mut carol, "/reporting/leads", lead_form("carol@northmoor.example")).await;
    assert!(selfish.status == 422 && selfish.body.contains("someone other than yourself"), "{}", selfish.body);
    let stranger = send(&mut carol, "/reporting/leads", lead_form("olga@riverside.example")).await;
    assert!(stranger.status == 422 && stranger.body.contains("need an account here first"), "{}", stranger.body);
    let check = send(&mut carol, "/reporting/leads", lead_form("lena@northmoor.example")).await;
    assert_eq!(check.status, 200, "{}", check.body);
    let statement = hidden(&check.body, "statement");
    assert!(
        statement.starts_with("As the Caldicott Guardian of Northmoor")
            && statement.contains("I, Carol Guardian, authorise")
            && statement.contains("(lena@northmoor.example) as reporting lead"),
        "{statement}"
    );
    let confirm = vec![
        ("csrf_token", t.clone()),
        ("step", "confirm".to_owned()),
        ("email", hidden(&check.body, "email")),
        ("until", hidden(&check.body, "until")),
        ("statement", statement.clone()),
    ];
    let made = send(&mut carol, "/reporting/leads", confirm).await;
    assert_eq!(made.status, 303, "{}", made.body);
    app.mail.wait_for("lena@northmoor.example", "You are a reporting lead").await;

    // Lena nominates Rob with a purpose; bad input is named.
    let users = lena.get("/reporting/users").await;
    assert_eq!(users.status, 200, "{}", users.body);
    let t = users.csrf().unwrap();
    let user_form = |purpose: &'static str, until: (String, String, String)| {
        vec![
            ("csrf_token", t.clone()),
            ("email", "rob@northmoor.example".to_owned()),
            ("purpose", purpose.to_owned()),
            ("until-day", until.0),
            ("until-month", until.1),
            ("until-year", until.2),
        ]
    };
    let bad = send(&mut lena, "/reporting/users", user_form("", day_parts(30))).await;
    assert!(bad.status == 422 && bad.body.contains("href=\"#purpose\""), "{}", bad.body);
    let bad = send(&mut lena, "/reporting/users", user_form("Chasing fire safety on the wards", day_parts(400))).await;
    assert!(bad.status == 422 && bad.body.contains("no more than 12 months ahead"), "{}", bad.body);
    let ok = send(&mut lena, "/reporting/users", user_form("Chasing fire safety on the wards", day_parts(90))).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(rob.get("/reporting/users").await.status, 403, "a report user cannot nominate");

    // Rob runs the staff activity report: Northmoor's members only.
    let shown = rob.get("/reporting/reports/staff-activity").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown.body.contains("nina@northmoor.example")
            && shown.body.contains("pete@northmoor.example")
            && shown.body.contains("Fire safety"),
        "{}",
        shown.body
    );
    assert!(!shown.body.contains("olga@riverside.example") && !shown.body.contains("Riverside fire"));
    let by_group =
        rob.get(&format!("/reporting/reports/staff-activity?group=Estates+and+Ancillary&course={fire}")).await;
    assert!(
        by_group.body.contains("pete@northmoor.example") && !by_group.body.contains("nina@northmoor.example"),
        "{}",
        by_group.body
    );
    // Bad filters: named, on screen and for downloads.
    let unknown = rob.get(&format!("/reporting/reports/staff-activity?course={rv}")).await;
    assert!(unknown.status == 400 && unknown.body.contains("href=\"#course\""), "{}", unknown.body);
    let reversed = rob
        .get(
            "/reporting/reports/staff-activity?from-day=2&from-month=3&from-year=2026&to-day=1&to-month=3&to-year=2026",
        )
        .await;
    assert!(reversed.status == 400 && reversed.body.contains("on or after the first day"), "{}", reversed.body);
    assert_eq!(rob.get(&format!("/reporting/reports/staff-activity.csv?course={rv}")).await.status, 400);
    assert_eq!(rob.get("/reporting/reports/nothing").await.status, 404);

    // CSV (streamed) and PDF.
    let (status, kind, csv) = rob.get_bytes("/reporting/reports/staff-activity.csv").await;
    assert_eq!((status, kind.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("Family name,Given name,Email"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "a header and a line each for Nina and Pete: {csv}");
    let (status, _, pdf) = rob.get_bytes("/reporting/reports/staff-activity.pdf").await;
    assert_eq!(status, 200);
    let text = pdf_pages(&pdf).join("\n");
    assert!(text.contains("Staff activity") && text.contains("Fire safety") && text.contains("Northmoor"), "{text}");
    for report in ["completions", "uptake"] {
        let page = rob.get(&format!("/reporting/reports/{report}")).await;
        assert!(page.status == 200 && page.body.contains("Fire safety"), "{report}: {}", page.body);
        assert!(!page.body.contains("Riverside fire"));
        assert_eq!(rob.get_bytes(&format!("/reporting/reports/{report}.csv")).await.0, 200);
    }
    let uptake = rob.get("/reporting/reports/uptake").await.body;
    assert!(uptake.contains(">2</td>"), "two enrolled on Fire safety: {uptake}");

    // The record: Carol (and Lena) see the statement word for word, every run and the refusals.
    let record = carol.get("/reporting/audit").await;
    assert_eq!(record.status, 200, "{}", record.body);
    let escaped = statement.replace('\'', "&#39;");
    assert!(record.body.contains(&escaped), "the statement word for word: {}", record.body);
    assert!(record.body.contains("Report downloaded (CSV)") && record.body.contains("Refused: no grant"));
    assert!(record.body.contains("Chasing fire safety on the wards"));
    assert_eq!(lena.get("/reporting/audit").await.status, 200);
    let tx = dbs.app.begin_read(northmoor).await.unwrap();
    let log = rep::access_log(&tx, "report.", 100).await.unwrap();
    tx.commit().await.unwrap();
    let download =
        log.iter().find(|e| e.kind == "report.download" && e.format == "csv" && e.subject == "staff-activity");
    assert_eq!(download.map(|e| e.rows), Some(2), "who, when, which report, filters and rows: {log:?}");
    assert!(log.iter().filter(|e| e.kind == "report.refused").count() >= 4);

    // A monthly email: a link that needs signing in, never the report.
    let shown = rob.get("/reporting/reports/uptake").await;
    let t = shown.csrf().unwrap();
    let query = hidden(&shown.body, "query");
    let made = rob.post("/reporting/schedules", &[("csrf_token", &t), ("report", "uptake"), ("query", &query)]).await;
    assert_eq!(made.status, 303, "{}", made.body);
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    let tx = state.dbs.app.begin(site.entry.id).await.unwrap();
    trellis_web::jobs::reporting_daily(&state, &site, &tx, chrono::Utc::now() + chrono::Duration::days(32))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mail = app.mail.wait_for("rob@northmoor.example", "Your monthly report is ready").await;
    assert!(mail.link("/reporting/reports/uptake").is_some(), "{mail:?}");
    assert!(!format!("{mail:?}").contains("nina@northmoor.example"), "no personal data in the email");
    assert_eq!(app.visitor("northmoor").get("/reporting/reports/uptake").await.status, 303);

    // When their time runs out, the lead's and the user's grants are noted as ended, once each.
    let tx = dbs.app.begin(northmoor).await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::days(400);
    assert_eq!(rep::note_expired(&tx, later).await.unwrap().len(), 2);
    assert!(rep::note_expired(&tx, later).await.unwrap().is_empty());
    tx.rollback().await.unwrap();

    // Nothing of Northmoor's reporting is seen at Riverside.
    let tx = dbs.app.begin_read(riverside).await.unwrap();
    assert!(rep::grants(&tx, ReportGrantKind::Lead).await.unwrap().is_empty());
    assert!(rep::grants(&tx, ReportGrantKind::User).await.unwrap().is_empty());
    assert!(rep::access_log(&tx, "", 10).await.unwrap().is_empty());
    assert!(rep::current_authoriser(&tx).await.unwrap().is_none());
    tx.commit().await.unwrap();
    assert_eq!(other.get("/reporting/reports/staff-activity").await.status, 403);

    // Lena revokes Rob: refused at his next request. Carol revokes Lena: she is refused too.
    let users = lena.get("/reporting/users").await;
    let at = users.body.find("action=\"/reporting/users/").unwrap() + "action=\"".len();
    let revoke: String = users.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = users.csrf().unwrap();
    assert_eq!(lena.post(&revoke, &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(rob.get("/reporting/reports/staff-activity").await.status, 403);
    let leads = carol.get("/reporting/leads").await;
    let at = leads.body.find("action=\"/reporting/leads/").unwrap() + "action=\"".len();
    let revoke: String = leads.body[at..].chars().take_while(|c| *c != '"').collect();
    let t = leads.csrf().unwrap();
    assert_eq!(carol.post(&revoke, &[("csrf_token", &t)]).await.status, 303);
    assert_eq!(lena.get("/reporting/reports/uptake").await.status, 403);
    assert_eq!(lena.get("/reporting/users").await.status, 403);
}
