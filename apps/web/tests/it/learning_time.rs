//! Protected learning time (issue 22): a learner asks their line manager for a weekly allowance,
//! only that line manager agrees or declines it, My learning plans what fits in it, and the
//! learner's calendar feed (a secret, revocable link) holds their learning time, due dates and
//! booked sessions, read back with an iCalendar parser; a revoked link, or one tried at another
//! trust, is not found.

use icalendar::{Calendar, CalendarComponent, Component, DatePerhapsTime, EventLike};
use trellis_domain::identity::Role;
use trellis_testkit::{Visitor, spawn_app};

async fn ask(visitor: &mut Visitor, minutes: &str, weekday: &str, start: &str) -> trellis_testkit::Page {
    visitor
        .submit("/learning/time", "/learning/time", &[("minutes", minutes), ("weekday", weekday), ("start", start)])
        .await
}

fn events(ics: &str) -> Vec<icalendar::Event> {
    let cal: Calendar = ics.parse().unwrap_or_else(|e| panic!("not iCalendar: {e}\n{ics}"));
    cal.components
        .into_iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn learning_time_is_agreed_with_the_line_manager_planned_and_in_a_revocable_calendar_feed() {
    let app = spawn_app().await;
    let nurse = "Nursing and Midwifery Registered";
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut sister, _) = app.person("northmoor", "sister@northmoor.example").signed_in().await;
    let (mut amara, amara_id) =
        app.person("northmoor", "amara@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    let (mut ben, _) = app.person("northmoor", "ben@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    let fire = app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know them.").published().create().await;
    assert_eq!(crate::mandatory_for_group(&mut boss, &fire.to_string(), nurse).await.status, 200);
    for who in ["amara@northmoor.example", "ben@northmoor.example"] {
        let set = boss
            .submit(
                "/admin/line-managers",
                "/admin/line-managers",
                &[("person", who), ("manager", "sister@northmoor.example")],
            )
            .await;
        assert_eq!(set.status, 303);
    }

    // Asking: each wrong field named; nothing asked.
    let page = amara.get("/learning/time").await;
    assert!(page.status == 200 && page.body.contains("Send to my line manager"));
    let refused = ask(&mut amara, "45", "7", "2pm").await;
    assert_eq!(refused.status, 422);
    for said in ["Choose how much time a week", "Choose a day from Monday to Friday", "for example 14:30"] {
        assert!(refused.body.contains(said), "{said}");
    }
    let late = ask(&mut amara, "240", "1", "17:00").await;
    assert!(late.status == 422 && late.body.contains("must end by 20:00"));
    // Someone with no line manager is told so.
    let (mut loner, _) = app.person("northmoor", "loner@northmoor.example").signed_in().await;
    let refused = ask(&mut loner, "60", "3", "14:00").await;
    assert!(refused.status == 422 && refused.body.contains("You have no line manager here"), "{}", refused.body);

    // Amara asks for an hour on Wednesdays at 14:00; Sister is emailed and sees it on her team page.
    let asked = ask(&mut amara, "60", "3", "14:00").await;
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(amara.get("/learning/time").await.body.contains("waiting for"));
    let mail = app.mail.wait_for("sister@northmoor.example", "asks you to agree protected learning time").await;
    assert!(mail.text.contains("1 hour a week, on Wednesdays from 14:00"), "{}", mail.text);
    let team = sister.get("/team").await;
    assert!(
        team.body.contains("Learning time to agree") && team.body.contains(&format!("/team/{amara_id}/learning-time"))
    );

    // Only her line manager decides: not Ben, not Amara herself; a decline needs a reason.
    let decide = format!("/team/{amara_id}/learning-time");
    let t = ben.get("/learning/time").await.csrf().unwrap();
    assert_eq!(ben.post(&decide, &[("csrf_token", &t), ("decision", "approve")]).await.status, 404);
    let t = amara.get("/learning/time").await.csrf().unwrap();
    assert_eq!(amara.post(&decide, &[("csrf_token", &t), ("decision", "approve")]).await.status, 404);
    let t = team.csrf().unwrap();
    let no_reason = sister.post(&decide, &[("csrf_token", &t), ("decision", "decline")]).await;
    assert!(sister.get(no_reason.location.as_deref().unwrap()).await.body.contains("Give a reason"));
    let agreed = sister.post(&decide, &[("csrf_token", &t), ("decision", "approve")]).await;
    assert_eq!(agreed.status, 303);
    assert!(sister.get("/team").await.body.contains("learning time agreed"));
    app.mail.wait_for("amara@northmoor.example", "Your learning time is agreed").await;

    // My learning plans what fits: Fire safety, her mandatory training.
    let learning = amara.get("/learning").await;
    assert!(learning.body.contains("Agreed with your line manager: 1 hour a week, on Wednesdays from 14:00"));
    let plan = &learning.body[learning.body.find("time-heading").unwrap()..];
    assert!(plan.contains("Fire safety"), "{plan}");

    // A booked face-to-face session, for the feed.
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let starts = chrono::Utc::now() + chrono::Duration::days(3);
    let input = trellis_db::events::EventInput {
        starts_at: starts,
        ends_at: starts + chrono::Duration::hours(2),
        venue: "Education Centre, Room 2".into(),
        capacity: 5,
        ..Default::default()
    };
    let event = trellis_db::events::create(&tx, fire, &input, None).await.unwrap();
    trellis_db::events::book(&tx, event, amara_id).await.unwrap();
    tx.commit().await.unwrap();

    // The calendar link: shown once; its feed parses, with 12 sessions, the due date and the place.
    let t = amara.get("/learning/time").await.csrf().unwrap();
    let made = amara.post("/learning/calendar", &[("csrf_token", &t)]).await;
    assert_eq!(made.status, 200);
    let at = made.body.find("/calendar/").expect("the link");
    let path: String = made.body[at..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    assert!(path.ends_with(".ics"), "{path}");
    let mut calendar_client = app.visitor("northmoor");
    let feed = calendar_client.get(&path).await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(feed.headers.get("content-type").is_some_and(|v| v.to_str().unwrap().starts_with("text/calendar")));
    let entries = events(&feed.body);
    let sessions: Vec<_> = entries.iter().filter(|e| e.get_summary() == Some("Protected learning time")).collect();
    assert_eq!(sessions.len(), 12, "{}", feed.body);
    assert!(sessions[0].get_description().is_some_and(|d| d.contains("Fire safety")), "the first session's plan");
    let due = entries.iter().find(|e| e.get_summary() == Some("Due: Fire safety")).expect("the due date");
    assert!(matches!(due.get_start(), Some(DatePerhapsTime::Date(_))), "a whole day");
    let place =
        entries.iter().find(|e| e.get_location() == Some("Education Centre, Room 2")).expect("the booked place");
    assert_eq!(place.get_summary(), Some("Fire safety"));
    assert!(amara.get("/learning/time").await.body.contains("fetched it 1 time"));

    // Another trust's site with the same link: not found. A new link revokes the old; off is off.
    let mut elsewhere = app.visitor("riverside");
    assert_eq!(elsewhere.get(&path).await.status, 404);
    let t = amara.get("/learning/time").await.csrf().unwrap();
    let again = amara.post("/learning/calendar", &[("csrf_token", &t)]).await;
    let at = again.body.find("/calendar/").unwrap();
    let second: String = again.body[at..].chars().take_while(|c| *c != '"' && *c != '<').collect();
    assert_ne!(second, path);
    assert_eq!(calendar_client.get(&path).await.status, 404, "the old link is revoked");
    assert_eq!(calendar_client.get(&second).await.status, 200);
    let off = amara.post("/learning/calendar/off", &[("csrf_token", &t)]).await;
    assert_eq!(off.status, 303);
    assert_eq!(calendar_client.get(&second).await.status, 404, "turned off");
    assert_eq!(calendar_client.get("/calendar/nothing.ics").await.status, 404);

    // Stopping her learning time takes it out of My learning.
    let stopped = amara.post("/learning/time/stop", &[("csrf_token", &t)]).await;
    assert_eq!(stopped.status, 303);
    assert!(amara.get("/learning").await.body.contains("ask for protected learning time"));
}
