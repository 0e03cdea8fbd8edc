//! Badges (issue 22): a trust's badge for keeping all mandatory training current is awarded when
//! the learner has done it, shows on their profile, downloads as an Open Badges 3.0 credential
//! that an independent JOSE library verifies with the trust's published key, and lapses when new
//! mandatory training is due; nobody else downloads it, and another trust sees none of it.

use super::portfolio::verify;
use super::records::learn;
use trellis_domain::identity::Role;
use trellis_testkit::spawn_app;

#[tokio::test]
async fn a_badge_is_earned_shown_verified_and_lapses() {
    let app = spawn_app().await;
    let nurse = "Nursing and Midwifery Registered";
    let (mut boss, _) =
        app.person("northmoor", "boss@northmoor.example").roles(&[Role::TrainingManager]).signed_in().await;
    let (mut amara, _) = app.person("northmoor", "amara@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    let (mut ben, _) = app.person("northmoor", "ben@northmoor.example").staff(nurse, "Ward 7").signed_in().await;
    let fire = app.course("northmoor", "FIRE-1", "Fire safety").page("Exits", "Know them.").published().create().await;
    let sepsis = app.course("northmoor", "SEP-1", "Sepsis").page("Signs", "Spot it.").published().create().await;
    assert_eq!(crate::mandatory_for_group(&mut boss, &fire.to_string(), nurse).await.status, 200);
    assert_eq!(amara.get("/admin/badges").await.status, 403, "training managers only");

    // A badge: wrong entries named; then one for mandatory training kept current.
    let refused = boss.submit("/admin/badges", "/admin/badges", &[("name", ""), ("criterion", "")]).await;
    assert!(
        refused.status == 422 && refused.body.contains("Enter the badge") && refused.body.contains("Choose what earns")
    );
    let refused = boss.submit("/admin/badges", "/admin/badges", &[("name", "Path"), ("criterion", "programme")]).await;
    assert!(refused.status == 422 && refused.body.contains("Choose the programme"));
    let added = boss
        .submit(
            "/admin/badges",
            "/admin/badges",
            &[
                ("name", "Mandatory champion"),
                ("description", "All mandatory training done."),
                ("criterion", "mandatory"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);

    // Not yet earned; then Amara does her mandatory training and her profile shows the badge.
    assert!(amara.get("/profile").await.body.contains("You have no badges here yet"));
    learn(&mut amara, fire).await;
    let profile = amara.get("/profile").await;
    assert!(profile.body.contains("Mandatory champion") && profile.body.contains("Awarded"), "{}", profile.body);
    assert!(boss.get("/admin/badges").await.body.contains("Held by 1 person"));
    let at = profile.body.find("/badges/awards/").expect("a download");
    let link: String = profile.body[at..].chars().take_while(|c| *c != '"').collect();

    // The credential verifies with the trust's key; Ben cannot download hers; he has none.
    let (status, kind, jwt) = amara.get_bytes(&link).await;
    assert_eq!((status, kind.as_str()), (200, "application/vc+jwt"));
    let (_, _, jwks) = app.visitor("northmoor").get_bytes("/.well-known/jwks.json").await;
    let issuer: serde_json::Value =
        serde_json::from_slice(&app.visitor("northmoor").get_bytes("/badges/issuer").await.2).unwrap();
    let (ok, said) = verify(&jwks, &jwt, issuer["id"].as_str().unwrap());
    assert!(ok && said.contains("Mandatory champion"), "{said}");
    assert_eq!(ben.get(&link).await.status, 404, "not his");
    assert!(ben.get("/profile").await.body.contains("You have no badges here yet"));

    // New mandatory training falls due: the badge lapses, and its credential says until when.
    assert_eq!(crate::mandatory_for_group(&mut boss, &sepsis.to_string(), nurse).await.status, 200);
    let profile = amara.get("/profile").await;
    assert!(profile.body.contains("Lapsed") && profile.body.contains("lapsed"), "{}", profile.body);
    let (_, _, lapsed) = amara.get_bytes(&link).await;
    let (ok, said) = verify(&jwks, &lapsed, issuer["id"].as_str().unwrap());
    assert!(!ok && said.contains("expired"), "a lapsed badge's credential has expired: {said}");

    // Another trust: none of it.
    let (mut rita, _) =
        app.person("riverside", "rita@riverside.example").roles(&[Role::TrainingManager]).signed_in().await;
    assert!(!rita.get("/admin/badges").await.body.contains("Mandatory champion"));
    assert_eq!(rita.get(&link).await.status, 404);
}
