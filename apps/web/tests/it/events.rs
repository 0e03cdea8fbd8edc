//! Face-to-face training end to end: an editor adds a course's face-to-face session and its
//! events (bad input named), staff book or join the waiting list, changes and cancellations reach
//! their calendars (the same UID, a higher SEQUENCE, METHOD:CANCEL), a freed place goes to the
//! longest waiting, the cut-off holds, reminders go once, and the trainer's register completes
//! the course. Another trust can neither see nor book the events.

use crate::elearning::{new_course, publish, sessions_of, token};
use crate::eventually;
use chrono::{Duration, Utc};
use std::time::Duration as Wait;
use trellis_domain::identity::Role;
use trellis_testkit::{TestApp, Visitor, spawn_app_with};

/// A calendar file's UID (its folded line joined).
fn uid_of(ics: &str) -> String {
    ics.replace("\r\n ", "").lines().find_map(|l| l.strip_prefix("UID:")).expect("a UID").trim().to_owned()
}

fn event_id(body: &str) -> String {
    body.split("href=\"/admin/events/").nth(1).and_then(|r| r.split('"').next()).expect("an event link").to_owned()
}

async fn enrol(v: &mut Visitor, course: &str) {
    let t = token(v, &format!("/courses/{course}")).await;
    assert_eq!(v.post(&format!("/courses/{course}/enrol"), &[("csrf_token", &t)]).await.status, 303);
}

async fn act(v: &mut Visitor, path: &str, page: &str) -> trellis_testkit::Page {
    let t = token(v, page).await;
    v.post(path, &[("csrf_token", &t)]).await
}

/// Moves an event (through the data layer) to start at `starts`, for three hours.
async fn move_event(app: &TestApp, event: &str, starts: chrono::DateTime<Utc>, trainer: trellis_domain::PersonId) {
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let id: uuid::Uuid = event.parse().unwrap();
    let e = trellis_db::events::get(&tx, id).await.unwrap().unwrap();
    let input = trellis_db::events::EventInput {
        starts_at: starts,
        ends_at: starts + Duration::hours(3),
        venue: e.venue,
        capacity: e.capacity,
        joining: e.joining,
        meeting_url: e.meeting_url,
        trainers: vec![trainer],
    };
    assert!(trellis_db::events::update(&tx, id, &input).await.unwrap().is_some());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn staff_book_face_to_face_training_wait_their_turn_and_the_register_completes_it() {
    let app = spawn_app_with(None, |c| c.jobs.event_reminders_every_secs = 1).await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut tina, tina_id) = app.person("northmoor", "tina.trainer@northmoor.example").signed_in().await;
    let (mut amy, amy_id) = app.person("northmoor", "amy@northmoor.example").signed_in().await;
    let (mut ben, ben_id) = app.person("northmoor", "ben@northmoor.example").signed_in().await;
    let (mut cat, cat_id) = app.person("northmoor", "cat@northmoor.example").signed_in().await;
    let (mut dan, _) = app.person("northmoor", "dan@northmoor.example").signed_in().await;
    let (mut rex, _) =
        app.person("riverside", "rex@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;

    // The course's face-to-face session: completed by the register, one a course.
    let course = new_course(&mut boss, "BLS-1", "Basic life support").await;
    let form = format!("/admin/courses/{course}/sessions");
    let t = token(&mut boss, &form).await;
    let mut fields = vec![("csrf_token", t.as_str()), ("title", "Practical session"), ("kind", "face_to_face")];
    let wrong = boss
        .post_multipart(
            &form,
            &[fields.clone(), vec![("completion", "view")]].concat(),
            ("file", "", "application/octet-stream", b""),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(wrong.body.contains("completed by the trainer"), "{}", wrong.body);
    fields.push(("completion", "attended"));
    let added = boss.post_multipart(&form, &fields, ("file", "", "application/octet-stream", b"")).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let again = boss.post_multipart(&form, &fields, ("file", "", "application/octet-stream", b"")).await;
    assert!(again.status == 400 && again.body.contains("already has a face-to-face session"), "{}", again.body);
    publish(&mut boss, &course).await;

    // An event: every problem named, nothing kept; then one with two places.
    let events = format!("/admin/courses/{course}/events");
    let t = token(&mut boss, &events).await;
    let bad = boss
        .post(
            &events,
            &[
                ("csrf_token", t.as_str()),
                ("date-day", "31"),
                ("date-month", "2"),
                ("date-year", "2027"),
                ("start", "9am"),
                ("end", ""),
                ("venue", ""),
                ("capacity", "0"),
                ("trainers", "nobody@northmoor.example"),
                ("meeting_url", "http://meet.example/x"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    for said in [
        "Enter the date as a real date",
        "Enter the start time",
        "Enter the end time",
        "Enter where it is held",
        "Enter the number of places",
        "nobody@northmoor.example",
        "starting https://",
    ] {
        assert!(bad.body.contains(said), "{said}: {}", bad.body);
    }
    assert!(boss.get(&events).await.body.contains("No events yet"));
    let day = (Utc::now() + Duration::days(5)).date_naive();
    let (d, m, y) = (day.format("%-d").to_string(), day.format("%-m").to_string(), day.format("%Y").to_string());
    let made = boss
        .post(
            &events,
            &[
                ("csrf_token", t.as_str()),
                ("date-day", &d),
                ("date-month", &m),
                ("date-year", &y),
                ("start", "09:30"),
                ("end", "12:30"),
                ("venue", "Education Centre, Room 2"),
                ("capacity", "2"),
                ("trainers", "tina.trainer@northmoor.example"),
                ("joining", "Bring your badge."),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let listed = boss.get(&events).await;
    assert!(listed.body.contains("Event added") && listed.body.contains("0 of 2 (0%)"), "{}", listed.body);
    let event = event_id(&listed.body);

    // Booking needs an enrolment; then two places and a waiting list, each confirmed by email.
    let refused = act(&mut dan, &format!("/events/{event}/book"), "/profile").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    for v in [&mut amy, &mut ben, &mut cat] {
        enrol(v, &course).await;
    }
    let session = sessions_of(&amy.get(&format!("/courses/{course}")).await.body, &course).remove(0);
    let at_session = format!("/learn/{course}/{session}");
    assert!(amy.get(&at_session).await.body.contains("Book a place"));
    let booked = act(&mut amy, &format!("/events/{event}/book"), &at_session).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let page = amy.get(&at_session).await;
    assert!(page.body.contains("Booked: you have a place") && page.body.contains("You have a place"), "{}", page.body);
    assert!(page.body.contains("Bring your badge.") && page.body.contains("Add it to your calendar"));
    let mail = app.mail.wait_for("amy@northmoor.example", "Booked: Basic life support").await;
    let ics = mail.calendar.expect("a calendar entry");
    assert!(ics.contains("METHOD:REQUEST") && ics.contains("SEQUENCE:0"), "{ics}");
    let amy_uid = uid_of(&ics);
    assert!(ics.contains("LOCATION:Education Centre\\, Room 2"), "{ics}");
    let file = amy.get(&format!("/events/{event}/calendar.ics")).await;
    assert!(file.status == 200 && uid_of(&file.body) == amy_uid, "{}", file.body);
    assert_eq!(act(&mut ben, &format!("/events/{event}/book"), &at_session).await.status, 303);
    assert_eq!(act(&mut cat, &format!("/events/{event}/book"), &at_session).await.status, 303);
    assert!(cat.get(&at_session).await.body.contains("On the waiting list"));
    let waiting = app.mail.wait_for("cat@northmoor.example", "On the waiting list").await;
    assert!(waiting.calendar.is_none(), "no calendar entry without a place");

    // Another trust sees none of it.
    assert_eq!(rex.get(&format!("/admin/events/{event}")).await.status, 404);
    assert_eq!(act(&mut rex, &format!("/events/{event}/book"), "/profile").await.status, 404);
    assert_eq!(rex.get(&format!("/events/{event}/register")).await.status, 404);

    // A change reaches the calendars of those with places: same UID, next SEQUENCE.
    let t = token(&mut boss, &format!("/admin/events/{event}")).await;
    let changed = boss
        .post(
            &format!("/admin/events/{event}"),
            &[
                ("csrf_token", t.as_str()),
                ("date-day", &d),
                ("date-month", &m),
                ("date-year", &y),
                ("start", "09:30"),
                ("end", "12:30"),
                ("venue", "Education Centre, Room 3"),
                ("capacity", "2"),
                ("trainers", "tina.trainer@northmoor.example"),
                ("joining", "Bring your badge."),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);
    assert!(boss.get(&format!("/admin/events/{event}")).await.body.contains("2 people with places told"));
    let ben_booked = app.mail.wait_for("ben@northmoor.example", "Booked: Basic life support").await;
    let ben_uid = uid_of(&ben_booked.calendar.unwrap());
    assert_ne!(ben_uid, amy_uid, "each place is its own calendar entry");
    let ics = app.mail.wait_for("ben@northmoor.example", "Changed: Basic life support").await.calendar.unwrap();
    assert!(uid_of(&ics) == ben_uid && ics.contains("SEQUENCE:1") && ics.contains("Room 3"), "{ics}");

    // Amy gives up her place: her calendar is told, and Cat, first in line, gets it.
    assert_eq!(act(&mut amy, &format!("/events/{event}/cancel"), &at_session).await.status, 303);
    let ics = app.mail.wait_for("amy@northmoor.example", "Cancelled: your place").await.calendar.unwrap();
    assert!(ics.contains("METHOD:CANCEL") && uid_of(&ics) == amy_uid && ics.contains("SEQUENCE:2"), "{ics}");
    let offered = app.mail.wait_for("cat@northmoor.example", "You have a place").await;
    assert!(offered.calendar.unwrap().contains("METHOD:REQUEST"));
    assert!(cat.get(&at_session).await.body.contains("You have a place"));

    // The trust's cut-off: too late to cancel online.
    let t = token(&mut boss, "/admin/events").await;
    let set = boss.post("/admin/events/settings", &[("csrf_token", &t), ("cancel_hours", "720")]).await;
    assert_eq!(set.status, 303, "{}", set.body);
    let late = act(&mut ben, &format!("/events/{event}/cancel"), &at_session).await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(late.body.contains("720 hours"), "{}", late.body);

    // Within a day of it, each person with a place is reminded once.
    move_event(&app, &event, Utc::now() + Duration::hours(2), tina_id).await;
    let reminded = app.mail.wait_for("ben@northmoor.example", "Reminder: Basic life support").await;
    assert!(reminded.calendar.unwrap().contains("METHOD:REQUEST"));
    app.mail.wait_for("cat@northmoor.example", "Reminder: Basic life support").await;
    tokio::time::sleep(Wait::from_secs(2)).await;
    let count = app.mail.all().iter().filter(|m| m.subject.starts_with("Reminder:")).count();
    assert_eq!(count, 2, "one reminder each");

    // The register: only once it has started, only by its trainer (or a training manager).
    let register = format!("/events/{event}/register");
    let early = act(&mut tina, &register, &register).await;
    assert_eq!(early.status, 400, "{}", early.body);
    assert_eq!(dan.get(&register).await.status, 404, "not a trainer");
    move_event(&app, &event, Utc::now() - Duration::hours(1), tina_id).await;
    assert!(tina.get("/events/teaching").await.body.contains("Basic life support"));
    // Someone who came without a place is added by email, if enrolled on the course.
    let t = token(&mut tina, &register).await;
    let add = format!("{register}/add");
    let stranger = tina.post(&add, &[("csrf_token", t.as_str()), ("email", "dan@northmoor.example")]).await;
    assert_eq!(stranger.status, 400, "{}", stranger.body);
    assert!(stranger.body.contains("not enrolled on this course"), "{}", stranger.body);
    let walked = tina.post(&add, &[("csrf_token", t.as_str()), ("email", "amy@northmoor.example")]).await;
    assert_eq!(walked.status, 303, "{}", walked.body);
    assert!(tina.get(&register).await.body.contains("Added to the register"));
    let t = token(&mut tina, &register).await;
    let (ben_key, cat_key) = (format!("attendance-{ben_id}"), format!("attendance-{cat_id}"));
    let amy_key = format!("attendance-{amy_id}");
    let marks = [("csrf_token", t.as_str()), (&ben_key, "attended"), (&cat_key, "absent"), (&amy_key, "partial")];
    let saved = tina.post(&register, &marks).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(tina.get(&register).await.body.contains("Register saved: 3 marked, 1 completed the session"));
    // Attending completed Ben's course; Cat's is not.
    assert!(
        eventually(Wait::from_secs(5), || async {
            let dbs = app.dbs().await;
            let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
            let e = trellis_db::learning::enrolment(&tx, ben_id, course.parse().unwrap()).await.unwrap().unwrap();
            tx.commit().await.unwrap();
            e.status == trellis_db::states::EnrolmentStatus::Completed
        })
        .await
    );
    let dbs = app.dbs().await;
    let tx = dbs.app.begin(app.tenant_id("northmoor").await).await.unwrap();
    let c = trellis_db::learning::enrolment(&tx, cat_id, course.parse().unwrap()).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(c.status, trellis_db::states::EnrolmentStatus::Active);
    // The training manager's view: fill rate and no-shows.
    let all = boss.get("/admin/events").await;
    assert!(all.body.contains("Basic life support") && all.body.contains("3 of 2 (150%)"), "{}", all.body);
    assert!(all.body.contains("Did not attend </span>1"), "{}", all.body);
}
