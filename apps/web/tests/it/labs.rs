//! Learning labs (issue 22): a training manager defines a room (checked by field); staff book a
//! PC slot (never more than the room's PCs, at most the room's limit each, only slots it offers),
//! get a calendar entry by email on booking, cancelling and the day before, and cancel; the
//! register records no-shows. Another trust sees and books none of it.

use trellis_domain::identity::Role;
use trellis_testkit::{Page, Visitor, spawn_app};

fn starts(page: &Page) -> Vec<String> {
    page.body
        .match_indices("name=\"start\" value=\"")
        .map(|(i, m)| page.body[i + m.len()..].chars().take_while(|c| *c != '"').collect())
        .collect()
}

async fn book(v: &mut Visitor, lab: &str, start: &str) -> Page {
    let page = v.get(&format!("/labs?lab={lab}")).await;
    let t = page.csrf().unwrap();
    let done = v.post(&format!("/labs/{lab}/book"), &[("csrf_token", &t), ("start", start)]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    v.get(done.location.as_deref().unwrap()).await
}

#[tokio::test]
async fn staff_book_lab_pcs_without_overbooking_and_no_shows_are_recorded() {
    let app = spawn_app().await;
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").signed_in().await;
    let (mut ben, _) = app.person("northmoor", "ben@northmoor.example").signed_in().await;
    assert_eq!(amara.get("/admin/labs").await.status, 403, "training managers only");

    // A room: every wrong field named; then one PC, open every day, one upcoming slot each.
    let refused = boss
        .submit(
            "/admin/labs",
            "/admin/labs",
            &[
                ("name", ""),
                ("pcs", "0"),
                ("opens", "18:00"),
                ("closes", "08:00"),
                ("slot_minutes", "60"),
                ("max_bookings", "99"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    for said in [
        "Enter the room",
        "from 1 to 200",
        "Choose the days it is open",
        "It must close after it opens",
        "from 1 to 20",
    ] {
        assert!(refused.body.contains(said), "{said}: {}", refused.body);
    }
    let mut fields = vec![
        ("name", "Library PCs"),
        ("location", "Education Centre"),
        ("pcs", "1"),
        ("opens", "08:00"),
        ("closes", "18:00"),
        ("slot_minutes", "60"),
        ("max_bookings", "1"),
    ];
    for d in ["1", "2", "3", "4", "5", "6", "7"] {
        fields.push(("days", d));
    }
    let added = boss.submit("/admin/labs", "/admin/labs", &fields).await;
    assert_eq!(added.status, 303, "{}", added.body);
    let list = boss.get("/admin/labs").await;
    assert!(list.body.contains("Library PCs added") && list.body.contains("Monday to Sunday"), "{}", list.body);
    let at = list.body.find("/admin/labs/").unwrap() + "/admin/labs/".len();
    let lab: String = list.body[at..].chars().take(36).collect();

    // Amara books the first slot: an email with its calendar entry.
    let page = amara.get("/labs").await;
    assert!(page.body.contains("Library PCs") && page.body.contains("1 PC free"), "{}", page.body);
    assert!(page.body.matches("slots free)").count() >= 13, "the next two weeks' days");
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let slots = starts(&amara.get(&format!("/labs?lab={lab}&day={tomorrow}")).await);
    assert_eq!(slots.len(), 10, "08:00 to 18:00 in hours");
    let booked = book(&mut amara, &lab, &slots[0]).await;
    assert!(booked.body.contains("PC booked at Library PCs"), "{}", booked.body);
    assert!(booked.body.contains("Booked by you"));
    let mail = app.mail.wait_for("amara@northmoor.example", "PC booked: Library PCs").await;
    let ics = mail.calendar.expect("a calendar entry");
    assert!(ics.contains("METHOD:REQUEST") && ics.contains("LOCATION:Education Centre"), "{ics}");

    // The one PC is taken; her limit is one; a time the room does not offer is refused.
    let full = book(&mut ben, &lab, &slots[0]).await;
    assert!(full.body.contains("Every PC in that slot has just been taken"), "{}", full.body);
    let limit = book(&mut amara, &lab, &slots[1]).await;
    assert!(limit.body.contains("the most you can book ahead"), "{}", limit.body);
    let odd = slots[1].replace(":00:00", ":17:00");
    let refused = book(&mut ben, &lab, &odd).await;
    assert!(refused.body.contains("That slot cannot be booked"), "{}", refused.body);

    // She cancels (a cancellation for her calendar); Ben then books it.
    let page = amara.get(&format!("/labs?lab={lab}")).await;
    let at = page.body.find("/labs/bookings/").unwrap() + "/labs/bookings/".len();
    let booking: String = page.body[at..].chars().take(36).collect();
    let t = page.csrf().unwrap();
    let cancelled = amara.post(&format!("/labs/bookings/{booking}/cancel"), &[("csrf_token", &t)]).await;
    assert_eq!(cancelled.status, 303);
    let ics = app.mail.wait_for("amara@northmoor.example", "Cancelled: your PC").await.calendar.unwrap();
    assert!(ics.contains("METHOD:CANCEL"), "{ics}");
    let t_ben = ben.get("/labs").await.csrf().unwrap();
    assert_eq!(
        ben.post(&format!("/labs/bookings/{booking}/cancel"), &[("csrf_token", &t_ben)]).await.status,
        404,
        "not his to cancel"
    );
    let theirs = book(&mut ben, &lab, &slots[0]).await;
    assert!(theirs.body.contains("PC booked at Library PCs"), "{}", theirs.body);

    // The reminder the day before (his slot moved within a day), once, with the calendar entry.
    let conn = app.db.raw_owner_connection().await;
    use sea_orm::ConnectionTrait;
    let soon = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    conn.execute_unprepared(&format!("UPDATE lab_bookings SET starts_at = '{soon}' WHERE status = 'booked'"))
        .await
        .unwrap();
    let state = app.server.as_ref().unwrap().state.clone();
    let site = state.directory.sites().into_iter().find(|s| s.entry.slug == "northmoor").unwrap();
    // (The test server's own worker may send it first: either way, one reminder.)
    trellis_web::jobs::lab_reminders(&state, &site).await.unwrap();
    let reminder = app.mail.wait_for("ben@northmoor.example", "Reminder: your PC").await;
    assert!(reminder.calendar.is_some_and(|c| c.contains("METHOD:REQUEST")));
    assert_eq!(trellis_web::jobs::lab_reminders(&state, &site).await.unwrap(), 0, "once");

    // The register, once the slot has started: Ben did not come.
    let past = (chrono::Utc::now() - chrono::Duration::minutes(10)).to_rfc3339();
    conn.execute_unprepared(&format!("UPDATE lab_bookings SET starts_at = '{past}' WHERE status = 'booked'"))
        .await
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let register = boss.get(&format!("/admin/labs/{lab}?date={today}")).await;
    assert!(register.body.contains("ben@northmoor.example"), "{}", register.body);
    let at = register.body.find("/admin/labs/bookings/").unwrap() + "/admin/labs/bookings/".len();
    let bens: String = register.body[at..].chars().take(36).collect();
    let t = register.csrf().unwrap();
    let t_amara = amara.get("/labs").await.csrf().unwrap();
    assert_eq!(
        amara
            .post(&format!("/admin/labs/bookings/{bens}/mark"), &[("csrf_token", &t_amara), ("attendance", "no_show")])
            .await
            .status,
        403
    );
    let marked =
        boss.post(&format!("/admin/labs/bookings/{bens}/mark"), &[("csrf_token", &t), ("attendance", "no_show")]).await;
    assert_eq!(marked.status, 303);
    let register = boss.get(marked.location.as_deref().unwrap()).await;
    assert!(register.body.contains("Marked as a no-show") && register.body.contains("No-show"), "{}", register.body);

    // Riverside: no room, no booking, no register.
    let (mut rita, _) =
        app.person("riverside", "rita@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    assert!(!rita.get("/labs").await.body.contains("Library PCs"));
    assert_eq!(rita.get(&format!("/admin/labs/{lab}")).await.status, 404);
    let t = rita.get("/labs").await.csrf().unwrap_or_default();
    let t = if t.is_empty() { rita.get("/admin/labs").await.csrf().unwrap() } else { t };
    assert_eq!(rita.post(&format!("/labs/{lab}/book"), &[("csrf_token", &t), ("start", &slots[2])]).await.status, 404);
    assert_eq!(
        rita.post(&format!("/admin/labs/bookings/{bens}/mark"), &[("csrf_token", &t), ("attendance", "attended")])
            .await
            .status,
        404
    );
}
