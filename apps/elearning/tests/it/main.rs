//! Package checks and manifest reading on packages built here, good and hostile; time formats.
#![allow(clippy::unwrap_used)]

use std::io::{Cursor, Write};
use trellis_elearning::{Limits, Standard, inspect, time};
use zip::write::SimpleFileOptions;

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(body).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn check(files: &[(&str, &[u8])]) -> Result<trellis_elearning::Package, trellis_elearning::PackageError> {
    inspect(Cursor::new(zip_of(files)), &Limits::default())
}

const SCORM12: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="com.example.fire" version="1.0"
  xmlns="http://www.imsproject.org/xsd/imscp_rootv1p1p2"
  xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_rootv1p2">
  <metadata><schema>ADL SCORM</schema><schemaversion>1.2</schemaversion></metadata>
  <organizations default="org1">
    <organization identifier="org1">
      <title>Fire safety &amp; evacuation</title>
      <item identifier="intro" identifierref="r1" parameters="?part=1">
        <title>Introduction</title>
        <adlcp:masteryscore>80</adlcp:masteryscore>
        <adlcp:datafromlms>mode=normal</adlcp:datafromlms>
      </item>
      <item identifier="module">
        <title>Module</title>
        <item identifier="quiz" identifierref="r2"><title>Quiz</title></item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="r1" type="webcontent" adlcp:scormtype="sco" href="intro/index.html"><file href="intro/index.html"/></resource>
    <resource identifier="r2" type="webcontent" adlcp:scormtype="sco" xml:base="quiz/" href="quiz%20one.html"/>
  </resources>
</manifest>"#;

const SCORM2004: &str = r#"<?xml version="1.0"?>
<manifest identifier="m" xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" xmlns:adlcp="http://www.adlnet.org/xsd/adlcp_v1p3" xmlns:imsss="http://www.imsglobal.org/xsd/imsss">
  <metadata><schema>ADL SCORM</schema><schemaversion>2004 4th Edition</schemaversion></metadata>
  <organizations default="o"><organization identifier="o"><title>Sepsis</title>
    <item identifier="i1" identifierref="r1"><title>Spotting sepsis</title>
      <imsss:sequencing><imsss:objectives><imsss:primaryObjective objectiveID="p" satisfiedByMeasure="true">
        <imsss:minNormalizedMeasure>0.75</imsss:minNormalizedMeasure></imsss:primaryObjective></imsss:objectives></imsss:sequencing>
    </item></organization></organizations>
  <resources><resource identifier="r1" type="webcontent" adlcp:scormType="sco" href="index.html"/></resources>
</manifest>"#;

const CMI5: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/courses/ipc">
    <title><langstring lang="en-GB">Infection prevention</langstring></title>
    <description><langstring lang="en-GB">Hand hygiene and PPE.</langstring></description>
  </course>
  <block id="https://example.com/courses/ipc/b1">
    <title><langstring lang="en-GB">Part one</langstring></title>
    <description><langstring lang="en-GB">Hands.</langstring></description>
    <au id="https://example.com/courses/ipc/au1" moveOn="CompletedAndPassed" masteryScore="0.8" launchMethod="OwnWindow">
      <title><langstring lang="en-GB">Hand hygiene</langstring></title>
      <description><langstring lang="en-GB">When and how.</langstring></description>
      <url>au1/index.html?lang=en</url>
    </au>
  </block>
  <au id="https://example.com/courses/ipc/au2">
    <title><langstring lang="en-GB">PPE</langstring></title>
    <description><langstring lang="en-GB">Gloves and aprons.</langstring></description>
    <url>au2/index.html</url>
  </au>
</courseStructure>"#;

#[test]
fn reads_scorm_12_items_in_order_with_mastery_and_parameters() {
    let p = check(&[
        ("imsmanifest.xml", SCORM12.as_bytes()),
        ("intro/index.html", b"<html></html>"),
        ("quiz/quiz one.html", b"<html></html>"),
    ])
    .unwrap();
    assert_eq!(p.standard, Standard::Scorm12);
    assert_eq!(p.title, "Fire safety & evacuation");
    assert_eq!(p.launchables.len(), 2, "an item without a resource is a heading, not a session");
    let intro = &p.launchables[0];
    assert_eq!((intro.identifier.as_str(), intro.href.as_str()), ("intro", "intro/index.html"));
    assert_eq!(intro.parameters, "?part=1");
    assert_eq!(intro.mastery_score, Some(0.8));
    assert_eq!(intro.launch_data, "mode=normal");
    assert_eq!(p.launchables[1].href, "quiz/quiz%20one.html");
    assert_eq!(p.files.len(), 3);
}

#[test]
fn reads_scorm_2004_with_its_edition_and_objective_measure() {
    let p = check(&[("imsmanifest.xml", SCORM2004.as_bytes()), ("index.html", b"x")]).unwrap();
    assert_eq!(p.standard, Standard::Scorm2004 { edition: "2004 4th Edition".into() });
    assert_eq!(p.launchables[0].mastery_score, Some(0.75));
}

#[test]
fn reads_cmi5_blocks_and_aus() {
    let p = check(&[("cmi5.xml", CMI5.as_bytes()), ("au1/index.html", b"x"), ("au2/index.html", b"x")]).unwrap();
    assert_eq!(p.standard, Standard::Cmi5);
    assert_eq!(p.identifier, "https://example.com/courses/ipc");
    assert_eq!(p.title, "Infection prevention");
    assert_eq!(p.launchables.len(), 2);
    let au1 = &p.launchables[0];
    assert_eq!(au1.blocks.iter().map(|b| b.title.as_str()).collect::<Vec<_>>(), vec!["Part one"]);
    assert_eq!((au1.move_on.as_str(), au1.launch_method.as_str()), ("CompletedAndPassed", "OwnWindow"));
    assert_eq!(au1.mastery_score, Some(0.8));
    assert_eq!(au1.href, "au1/index.html?lang=en");
    assert_eq!(p.launchables[1].move_on, "NotApplicable");
}

fn refused(files: &[(&str, &[u8])]) -> String {
    check(files).unwrap_err().to_string()
}

#[test]
fn hostile_and_broken_packages_are_refused_naming_the_file() {
    // Zip slip.
    let e = refused(&[("imsmanifest.xml", SCORM12.as_bytes()), ("../../etc/cron.d/x", b"x")]);
    assert!(e.starts_with("../../etc/cron.d/x:") && e.contains("climbs out"), "{e}");
    let e = refused(&[("imsmanifest.xml", SCORM12.as_bytes()), ("/etc/passwd", b"x")]);
    assert!(e.contains("absolute"), "{e}");
    let e = refused(&[("imsmanifest.xml", SCORM12.as_bytes()), ("a\\..\\b", b"x")]);
    assert!(e.contains("backslash"), "{e}");
    // A bomb: 64 MiB of zeros compresses a thousandfold.
    let zeros = vec![0u8; 64 << 20];
    let e = refused(&[("imsmanifest.xml", SCORM12.as_bytes()), ("big.bin", &zeros)]);
    assert!(e.starts_with("big.bin:") && e.contains("zip bomb"), "{e}");
    // Not a zip.
    let e = inspect(Cursor::new(b"%PDF-1.7 not a zip".to_vec()), &Limits::default()).unwrap_err().to_string();
    assert!(e.starts_with("the upload:") && e.contains("not a readable zip"), "{e}");
    // No manifest; a manifest in a folder.
    assert!(refused(&[("index.html", b"x")]).contains("no imsmanifest.xml"));
    let e = refused(&[("course/imsmanifest.xml", SCORM12.as_bytes())]);
    assert!(e.starts_with("course/imsmanifest.xml:") && e.contains("top of the zip"), "{e}");
    // A manifest that does not parse: the line is given.
    let e = refused(&[("imsmanifest.xml", b"<manifest>\n<organizations>\n</manifest>")]);
    assert!(e.starts_with("imsmanifest.xml: line 3"), "{e}");
    // Entities are not expanded.
    let e = refused(&[("imsmanifest.xml", b"<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY a \"aaaa\">]><manifest/>")]);
    assert!(e.contains("document type declarations"), "{e}");
    // A launch file that is missing; a resource that is not declared.
    let e = refused(&[("imsmanifest.xml", SCORM12.as_bytes()), ("intro/index.html", b"x")]);
    assert!(e.contains("quiz launches quiz/quiz%20one.html, which is not in the package"), "{e}");
    let e = refused(&[("imsmanifest.xml", SCORM12.replace("identifierref=\"r2\"", "identifierref=\"r9\"").as_bytes())]);
    assert!(e.contains("item quiz refers to resource r9, which is not declared"), "{e}");
    // Not SCORM; nothing to launch; a bad cmi5 value.
    let e = refused(&[("imsmanifest.xml", SCORM12.replace(">1.2<", ">1.1<").as_bytes())]);
    assert!(e.contains("is not SCORM 1.2 or 2004"), "{e}");
    let e = refused(&[("cmi5.xml", CMI5.replace("CompletedAndPassed", "Whenever").as_bytes())]);
    assert!(e.starts_with("cmi5.xml:") && e.contains("moveOn \"Whenever\""), "{e}");
    // Too many files.
    let many: Vec<(String, Vec<u8>)> = (0..30).map(|i| (format!("f{i}.txt"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = many.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    let small = Limits { max_files: 10, ..Limits::default() };
    let e = inspect(Cursor::new(zip_of(&refs)), &small).unwrap_err().to_string();
    assert!(e.contains("30 files; a package may hold at most 10"), "{e}");
}

#[test]
fn scorm_times_in_both_formats() {
    assert_eq!(time::scorm12("0001:30:05.5").unwrap(), (3600 + 1800 + 5) * 100 + 50);
    assert_eq!(time::scorm12("00:00:07").unwrap(), 700);
    assert_eq!(time::scorm12("9999:59:59.99").unwrap(), (9999 * 3600 + 59 * 60 + 59) * 100 + 99);
    // RTE 3-26: two to four digits of hours, no more and no fewer.
    for bad in
        ["", "01:60:00", "01:00:60", "1:2:3", "1:02:03", "12345:00:00", "01:00:00.", "01:00:00.123", "PT1H", "aa:bb:cc"]
    {
        assert!(time::scorm12(bad).is_err(), "{bad:?}");
    }
    assert_eq!(time::iso8601("PT1H30M5.5S").unwrap(), (3600 + 1800 + 5) * 100 + 50);
    assert_eq!(time::iso8601("P1DT2H").unwrap(), (24 + 2) * 3600 * 100);
    assert_eq!(time::iso8601("PT0S").unwrap(), 0);
    assert_eq!(time::iso8601("PT90M").unwrap(), 90 * 60 * 100);
    assert_eq!(time::iso8601("PT0.25S").unwrap(), 25);
    for bad in ["", "P", "PT", "1H", "PT1H30", "PTM", "PT1S1M", "PT1.5M", "P1H", "PT-1S"] {
        assert!(time::iso8601(bad).is_err(), "{bad:?}");
    }
    assert_eq!(time::either("00:01:00").unwrap(), 6000);
    assert_eq!(time::either("PT1M").unwrap(), 6000);
    assert_eq!(time::to_iso8601(550_550), "PT1H31M45.50S");
    assert_eq!(time::to_iso8601(0), "PT0S");
    assert_eq!(time::to_scorm12(550_550), "0001:31:45.50");
    assert_eq!(time::to_scorm12(u64::MAX), "9999:59:59.99", "the largest timespan SCORM 1.2 can say");
    for cs in [0, 1, 99, 100, 6000, 360_000, 987_654_321] {
        assert_eq!(time::iso8601(&time::to_iso8601(cs)).unwrap(), cs);
        assert_eq!(time::scorm12(&time::to_scorm12(cs)).unwrap(), cs);
    }
}

/// A cheap fuzz: damaged packages and random time strings are refused or read, never a panic.
#[test]
fn damaged_input_never_panics() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let good = zip_of(&[
        ("imsmanifest.xml", SCORM12.as_bytes()),
        ("intro/index.html", b"<html></html>"),
        ("quiz/quiz one.html", b"<html></html>"),
    ]);
    for _ in 0..2_000 {
        let mut bytes = good.clone();
        for _ in 0..(next() % 8 + 1) {
            let at = usize::try_from(next() % bytes.len() as u64).unwrap();
            bytes[at] = u8::try_from(next() % 256).unwrap();
        }
        let _ = inspect(Cursor::new(bytes), &Limits::default());
    }
    let manifest = SCORM12.as_bytes();
    for _ in 0..2_000 {
        let mut m = manifest.to_vec();
        let at = usize::try_from(next() % m.len() as u64).unwrap();
        m.truncate(at);
        let _ = check(&[("imsmanifest.xml", &m)]);
    }
    let alphabet = b"PTYMDHS0123456789.:-";
    for _ in 0..20_000 {
        let len = usize::try_from(next() % 14).unwrap();
        let s: String =
            (0..len).map(|_| alphabet[usize::try_from(next() % alphabet.len() as u64).unwrap()] as char).collect();
        let _ = time::either(&s);
    }
}

mod cmi {
    use std::collections::BTreeMap;
    use trellis_elearning::cmi::{Attempt, Commit, Completion, Model, Success};

    fn commit(session: u32, seq: u64, pairs: &[(&str, &str)]) -> Commit {
        Commit {
            session,
            seq,
            values: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<BTreeMap<_, _>>(),
            finishing: false,
        }
    }

    #[test]
    fn scorm_12_suspend_resume_complete_with_mastery_and_time_across_launches() {
        let mut a = Attempt::default();
        a.apply(
            Model::Scorm12,
            &commit(
                1,
                1,
                &[
                    ("cmi.core.lesson_status", "incomplete"),
                    ("cmi.core.lesson_location", "page-3"),
                    ("cmi.suspend_data", "{\"answers\":[1,2]}"),
                    ("cmi.core.exit", "suspend"),
                    ("cmi.core.session_time", "0000:10:00"),
                ],
            ),
            Some(0.8),
        )
        .unwrap();
        assert_eq!((a.completion, a.location.as_str(), a.exit.as_str()), (Completion::Incomplete, "page-3", "suspend"));
        // The second launch resumes and finishes: a quiz with an interaction, a score over mastery.
        a.apply(
            Model::Scorm12,
            &commit(
                2,
                1,
                &[
                    ("cmi.core.lesson_status", "completed"),
                    ("cmi.core.score.raw", "85"),
                    ("cmi.core.session_time", "0001:05:30.5"),
                    ("cmi.interactions.0.id", "q1"),
                    ("cmi.interactions.0.type", "choice"),
                    ("cmi.interactions.0.student_response", "b"),
                    ("cmi.interactions.0.result", "correct"),
                ],
            ),
            Some(0.8),
        )
        .unwrap();
        // The SCO set its status: the LMS keeps it (the mastery score judges only a SCO that
        // left its status unset; SCORM 1.2 RTE 3-25).
        assert_eq!((a.completion, a.success), (Completion::Completed, Success::Unknown), "the SCO's status stands");
        assert_eq!(a.score_scaled, Some(0.85));
        assert_eq!(a.total_time(), 60_000 + (3600 + 330) * 100 + 50, "10 min + 1 h 5 min 30.5 s");
        assert_eq!(a.interactions[0].fields.get("learner_response").map(String::as_str), Some("b"));
    }

    fn finish(session: u32, seq: u64, pairs: &[(&str, &str)]) -> Commit {
        Commit { finishing: true, ..commit(session, seq, pairs) }
    }

    /// SCORM 1.2 RTE 3-25: what the LMS decides when the SCO leaves its status unset.
    #[test]
    fn scorm_12_status_defaults_apply_at_finish_only_when_the_sco_set_none() {
        let m = Model::Scorm12;
        // LMSInitialize and LMSFinish alone: completed at the finish, not before.
        let mut a = Attempt::default();
        a.apply(m, &commit(1, 1, &[("cmi.core.session_time", "00:00:05")]), None).unwrap();
        assert_eq!(a.completion, Completion::Unknown, "not before LMSFinish");
        a.apply(m, &finish(1, 2, &[]), None).unwrap();
        assert_eq!((a.completion, a.success), (Completion::Completed, Success::Unknown));
        // A raw score and a mastery score, no status: passed or failed by the rule.
        for (raw, want) in [("85", Success::Passed), ("80", Success::Passed), ("79", Success::Failed)] {
            let mut a = Attempt::default();
            a.apply(m, &finish(1, 1, &[("cmi.core.score.raw", raw)]), Some(0.8)).unwrap();
            assert_eq!((a.completion, a.success), (Completion::Completed, want), "raw {raw}");
        }
        // "not attempted" as the runtime loads it counts as unset.
        let mut a = Attempt::default();
        a.apply(m, &finish(1, 1, &[("cmi.core.lesson_status", "not attempted")]), None).unwrap();
        assert_eq!(a.completion, Completion::Completed);
        // A status the SCO set is never overwritten: incomplete stays incomplete, failed stays failed.
        let mut a = Attempt::default();
        a.apply(m, &finish(1, 1, &[("cmi.core.lesson_status", "incomplete")]), None).unwrap();
        assert_eq!(a.completion, Completion::Incomplete);
        let mut a = Attempt::default();
        a.apply(m, &finish(1, 1, &[("cmi.core.lesson_status", "failed"), ("cmi.core.score.raw", "95")]), Some(0.8))
            .unwrap();
        assert_eq!(a.success, Success::Failed);
        // One launch set it; a later launch that says nothing keeps it.
        let mut a = Attempt::default();
        a.apply(m, &finish(1, 1, &[("cmi.core.lesson_status", "incomplete"), ("cmi.core.exit", "suspend")]), None)
            .unwrap();
        a.apply(m, &finish(2, 1, &[]), None).unwrap();
        assert_eq!(a.completion, Completion::Incomplete);
        // SCORM 2004 has no such default.
        let mut a = Attempt::default();
        a.apply(Model::Scorm2004, &finish(1, 1, &[]), None).unwrap();
        assert_eq!(a.completion, Completion::Unknown);
    }

    #[test]
    fn repeated_and_late_commits_lose_nothing_and_never_go_backwards() {
        let m = Model::Scorm2004;
        let mut a = Attempt::default();
        let done = commit(
            1,
            5,
            &[
                ("cmi.completion_status", "completed"),
                ("cmi.success_status", "passed"),
                ("cmi.score.scaled", "0.9"),
                ("cmi.location", "end"),
                ("cmi.session_time", "PT20M"),
                ("cmi.interactions.0.id", "q2"),
                ("cmi.interactions.0.result", "correct"),
            ],
        );
        a.apply(m, &done, None).unwrap();
        let before = a.clone();
        a.apply(m, &done, None).unwrap();
        assert_eq!(a, before, "a repeated commit changes nothing");
        // A commit from earlier in the same launch arrives late.
        let late = commit(
            1,
            2,
            &[
                ("cmi.completion_status", "incomplete"),
                ("cmi.success_status", "failed"),
                ("cmi.score.scaled", "0.2"),
                ("cmi.location", "start"),
                ("cmi.session_time", "PT5M"),
                ("cmi.interactions.0.id", "q1"),
                ("cmi.interactions.0.result", "incorrect"),
                ("cmi.interactions.1.id", "q2"),
                ("cmi.interactions.1.result", "incorrect"),
            ],
        );
        a.apply(m, &late, None).unwrap();
        assert_eq!((a.completion, a.success), (Completion::Completed, Success::Passed), "never backwards");
        assert_eq!((a.score_scaled, a.location.as_str()), (Some(0.9), "end"), "the newest commit decides");
        assert_eq!(a.total_time(), 20 * 60 * 100, "one launch's time counted once, its largest");
        let ids: Vec<&str> = a.interactions.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, ["q2", "q1"], "the late commit's unknown interaction is kept");
        assert_eq!(a.interactions[0].fields["result"], "correct", "a known one is not overwritten by a late commit");
        // A failed attempt can still be passed later; a pass cannot be failed.
        let mut b = Attempt::default();
        b.apply(m, &commit(1, 1, &[("cmi.success_status", "failed")]), None).unwrap();
        b.apply(m, &commit(1, 2, &[("cmi.success_status", "passed")]), None).unwrap();
        b.apply(m, &commit(1, 3, &[("cmi.success_status", "failed")]), None).unwrap();
        assert_eq!(b.success, Success::Passed);
    }

    #[test]
    fn bad_commits_are_refused_naming_the_element_and_change_nothing() {
        let mut a = Attempt::default();
        a.apply(Model::Scorm12, &commit(1, 1, &[("cmi.core.lesson_location", "p1")]), None).unwrap();
        let before = a.clone();
        type Case<'a> = (Model, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (Model::Scorm12, &[("cmi.core.lesson_status", "done")], "cmi.core.lesson_status"),
            (Model::Scorm12, &[("cmi.core.score.raw", "lots")], "cmi.core.score.raw"),
            (Model::Scorm12, &[("cmi.core.session_time", "PT1H")], "cmi.core.session_time"),
            (Model::Scorm2004, &[("cmi.session_time", "01:00:00")], "cmi.session_time"),
            (Model::Scorm2004, &[("cmi.score.scaled", "1.5")], "cmi.score.scaled"),
            (Model::Scorm2004, &[("cmi.interactions.0.result", "correct")], "cmi.interactions.0.id"),
        ];
        for (model, pairs, element) in cases {
            let mut with_location = pairs.to_vec();
            with_location.push(("cmi.core.lesson_location", "p9"));
            let e = a.apply(*model, &commit(1, 2, &with_location), None).unwrap_err();
            assert_eq!(e.element, *element, "{e}");
            assert_eq!(a, before, "nothing half-applied");
        }
        let long = "x".repeat(trellis_elearning::cmi::MAX_SUSPEND + 1);
        let e = a.apply(Model::Scorm2004, &commit(1, 2, &[("cmi.suspend_data", &long)]), None).unwrap_err();
        assert_eq!(e.element, "cmi.suspend_data");
    }
}

mod xapi {
    use serde_json::{Value, json};
    use trellis_elearning::xapi::check_statement;

    fn full() -> Value {
        json!({
            "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
            "actor": { "objectType": "Agent", "name": "A learner",
                       "account": { "homePage": "https://northmoor.trellis.example", "name": "01a2b3c4" } },
            "verb": { "id": "http://adlnet.gov/expapi/verbs/answered", "display": { "en-GB": "answered" } },
            "object": { "objectType": "Activity", "id": "https://example.com/ipc/q1",
                        "definition": { "name": { "en-GB": "Question 1" },
                                        "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                                        "interactionType": "choice", "correctResponsesPattern": ["b"],
                                        "choices": [{ "id": "a", "description": { "en-GB": "Soap" } }, { "id": "b" }] } },
            "result": { "score": { "scaled": 0.8, "raw": 8, "min": 0, "max": 10 }, "success": true,
                        "completion": true, "response": "b", "duration": "PT1M30S",
                        "extensions": { "https://example.com/ext/attempt": 2 } },
            "context": { "registration": "ec531277-b57b-4c15-8d91-d292c5b2b8f7",
                         "contextActivities": { "parent": [{ "id": "https://example.com/ipc" }],
                                                "category": { "id": "https://w3id.org/xapi/cmi5/context/categories/cmi5" } },
                         "platform": "Trellis", "language": "en-GB",
                         "instructor": { "mbox": "mailto:tutor@northmoor.example" } },
            "timestamp": "2026-11-22T09:30:00.123Z",
            "version": "1.0.3"
        })
    }

    #[test]
    fn well_formed_statements_pass() {
        check_statement(&full()).unwrap();
        let minimal = json!({ "actor": { "mbox": "mailto:a@b.example" }, "verb": { "id": "http://adlnet.gov/expapi/verbs/launched" },
                              "object": { "id": "https://example.com/a" } });
        check_statement(&minimal).unwrap();
        let group = json!({ "actor": { "objectType": "Group", "member": [{ "mbox_sha1sum": "0123456789abcdef0123456789abcdef01234567" }] },
                            "verb": { "id": "urn:x:verb" },
                            "object": { "objectType": "SubStatement", "actor": { "openid": "https://id.example/a" },
                                        "verb": { "id": "urn:x:v" }, "object": { "objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee" } } });
        check_statement(&group).unwrap();
    }

    /// Applies `change` to a copy of the full statement and returns the error's path.
    fn refused(change: impl FnOnce(&mut Value)) -> String {
        let mut s = full();
        change(&mut s);
        check_statement(&s).unwrap_err().path
    }

    #[test]
    fn malformed_statements_are_refused_at_the_property_at_fault() {
        assert_eq!(refused(|s| s["id"] = json!("not-a-uuid")), "id");
        assert_eq!(refused(|s| s["colour"] = json!("blue")), "colour");
        assert_eq!(refused(|s| s["actor"]["mbox"] = json!("mailto:two@ids.example")), "actor", "two identifiers");
        assert_eq!(
            refused(|s| {
                s["actor"].as_object_mut().unwrap().remove("account");
            }),
            "actor",
            "no identifier"
        );
        assert_eq!(refused(|s| s["actor"]["account"]["homePage"] = json!("not an iri")), "actor.account.homePage");
        assert_eq!(refused(|s| s["actor"] = json!({ "mbox": "a@b.example" })), "actor.mbox", "mailto: is required");
        assert_eq!(refused(|s| s["verb"]["id"] = json!("answered")), "verb.id");
        assert_eq!(refused(|s| s["verb"]["display"] = json!({ "english!": "x" })), "verb.display.english!");
        assert_eq!(
            refused(|s| s["object"]["definition"]["interactionType"] = json!("essay")),
            "object.definition.interactionType"
        );
        assert_eq!(refused(|s| s["result"]["score"]["scaled"] = json!(1.5)), "result.score.scaled");
        assert_eq!(refused(|s| s["result"]["score"]["raw"] = json!(11)), "result.score.raw");
        assert_eq!(refused(|s| s["result"]["success"] = json!("yes")), "result.success");
        assert_eq!(refused(|s| s["result"]["duration"] = json!("90 seconds")), "result.duration");
        assert_eq!(refused(|s| s["context"]["registration"] = json!("r1")), "context.registration");
        assert_eq!(refused(|s| s["timestamp"] = json!("yesterday")), "timestamp");
        assert_eq!(refused(|s| s["version"] = json!("0.95")), "version");
        assert_eq!(
            refused(|s| s["object"] = json!({ "objectType": "Agent", "mbox": "mailto:x@y.example" })),
            "context.platform",
            "platform only for activities"
        );
        assert_eq!(
            refused(|s| s["object"] = json!({ "objectType": "SubStatement", "actor": { "mbox": "mailto:a@b.example" },
                "verb": { "id": "urn:v" }, "object": { "objectType": "SubStatement" } })),
            "object.object"
        );
        assert_eq!(refused(|s| s["result"]["extensions"] = json!({ "attempt": 2 })), "result.extensions.attempt");
        let not_object = check_statement(&json!([1, 2])).unwrap_err();
        assert_eq!(not_object.path, "statement");
    }
}

/// The course structure rules an LMS enforces on import (cmi5 §3, §8.1, §13, §14), each test
/// named by the requirement it checks (the CATAPULT package tests 201–210 break the same ones).
mod cmi5_packages {
    use super::{CMI5, check};
    use trellis_elearning::{Limits, inspect_course_structure};

    fn xml(s: &str) -> Result<trellis_elearning::Package, String> {
        inspect_course_structure(s.as_bytes(), &Limits::default()).map_err(|e| e.to_string())
    }

    const BARE: &str = r#"<courseStructure xmlns="https://w3id.org/xapi/profiles/cmi5/v1/CourseStructure.xsd">
  <course id="https://example.com/c"><title><langstring>C</langstring></title><description><langstring>D</langstring></description></course>
  <objectives><objective id="https://example.com/o1"><title><langstring>O</langstring></title><description><langstring>O</langstring></description></objective></objectives>
  <block id="https://example.com/b"><title><langstring>B</langstring></title><description><langstring>B</langstring></description>
    <au id="https://example.com/au" moveOn="Passed" masteryScore="0.5"><title><langstring>A</langstring></title><description><langstring>A</langstring></description>
      <url>https://content.example.com/au/index.html?x=1</url></au>
  </block>
</courseStructure>"#;

    #[test]
    fn bare_course_structure_with_absolute_urls_is_accepted() {
        let p = xml(BARE).unwrap();
        assert_eq!(p.launchables.len(), 1);
        assert_eq!(p.launchables[0].href, "https://content.example.com/au/index.html?x=1");
        assert!(p.files.is_empty());
    }

    #[test]
    fn cmi5_3_0_0_0_1_course_block_au_and_objective_ids_are_iris() {
        for (from, to) in [
            ("https://example.com/c\"", "example.com/c\""),
            ("https://example.com/b\"", "w3id.org/b\""),
            ("https://example.com/au\"", "au-1\""),
            ("https://example.com/o1\"", "w3id.org/o1\""),
        ] {
            let e = xml(&BARE.replace(from, to)).unwrap_err();
            assert!(e.contains("is not an IRI (cmi5 3.0.0.0-1)"), "{to}: {e}");
        }
    }

    #[test]
    fn cmi5_14_2_0_0_1_a_bare_course_structure_has_absolute_au_urls() {
        for url in ["index.html", "path/1/index.html", "index.html?abc=def", "/index.html"] {
            let e = xml(&BARE.replace("https://content.example.com/au/index.html?x=1", url)).unwrap_err();
            assert!(e.contains("14.2.0.0-1"), "{url}: {e}");
        }
    }

    #[test]
    fn cmi5_14_1_0_0_4_a_relative_url_names_a_file_in_the_zip() {
        let e = check(&[("cmi5.xml", CMI5.as_bytes()), ("au2/index.html", b"x")]).unwrap_err().to_string();
        assert!(e.contains("which is not in the package"), "{e}");
    }

    #[test]
    fn cmi5_8_1_0_0_6_au_urls_may_not_set_the_launch_parameters() {
        for p in ["endpoint", "fetch", "actor", "registration", "activityId"] {
            let e = xml(&BARE.replace("?x=1", &format!("?{p}=http://example.org/lrs"))).unwrap_err();
            assert!(e.contains("8.1.0.0-6") && e.contains(p), "{p}: {e}");
        }
    }

    #[test]
    fn cmi5_13_1_ids_are_unique() {
        let dup_block = BARE.replace("</block>", "</block><block id=\"https://example.com/b\"><title><langstring>B</langstring></title><description><langstring>B</langstring></description><au id=\"https://example.com/au2\"><title><langstring>A</langstring></title><description><langstring>A</langstring></description><url>https://x.example.com/</url></au></block>");
        assert!(xml(&dup_block).unwrap_err().contains("13.1.2.0-1"));
        let dup_objective = BARE.replace("</objectives>", "<objective id=\"https://example.com/o1\"><title><langstring>O</langstring></title><description><langstring>O</langstring></description></objective></objectives>");
        assert!(xml(&dup_objective).unwrap_err().contains("13.1.3.0-1"));
        let dup_au = BARE.replace("</block>", "<au id=\"https://example.com/au\"><title><langstring>A</langstring></title><description><langstring>A</langstring></description><url>https://x.example.com/</url></au></block>");
        assert!(xml(&dup_au).unwrap_err().contains("13.1.4.0-1"));
    }

    #[test]
    fn cmi5_13_1_4_0_2_au_urls_are_valid_urls() {
        let e = xml(&BARE.replace("https://content.example.com/au/index.html?x=1", "http://example.com index.html"))
            .unwrap_err();
        assert!(e.contains("13.1.4.0-2"), "{e}");
    }

    #[test]
    fn cmi5_13_2_0_0_1_the_course_structure_follows_its_schema() {
        // <url> before <title>: the schema's order broken.
        let moved = BARE.replace(
            "<title><langstring>A</langstring></title><description><langstring>A</langstring></description>\n      <url>https://content.example.com/au/index.html?x=1</url>",
            "<url>https://content.example.com/au/index.html?x=1</url><title><langstring>A</langstring></title><description><langstring>A</langstring></description>",
        );
        assert!(xml(&moved).unwrap_err().contains("13.2.0.0-1"));
        // No description.
        let bare = BARE.replace("<description><langstring>A</langstring></description>", "");
        assert!(xml(&bare).unwrap_err().contains("has no <description>"));
        // A block with nothing in it.
        let empty = BARE.replace("</block>", "</block><block id=\"https://example.com/b2\"><title><langstring>B</langstring></title><description><langstring>B</langstring></description></block>");
        assert!(xml(&empty).unwrap_err().contains("holds no AU or block"));
    }

    #[test]
    fn cmi5_14_1_0_0_2_a_zip_without_a_course_structure_is_refused() {
        let e = check(&[("index.html", b"x")]).unwrap_err().to_string();
        assert!(e.contains("no imsmanifest.xml (SCORM) or cmi5.xml (cmi5)"), "{e}");
    }
}

/// SCORM items hidden from the learner, and assets (which cannot report).
#[test]
fn scorm_hidden_items_are_not_sessions_and_assets_are_marked() {
    let m = SCORM12
        .replace(
            "<item identifier=\"quiz\" identifierref=\"r2\">",
            "<item identifier=\"quiz\" identifierref=\"r2\" isvisible=\"false\">",
        )
        .replace(
            "adlcp:scormtype=\"sco\" href=\"intro/index.html\"",
            "adlcp:scormtype=\"asset\" href=\"intro/index.html\"",
        );
    let p =
        check(&[("imsmanifest.xml", m.as_bytes()), ("intro/index.html", b"x"), ("quiz/quiz one.html", b"x")]).unwrap();
    assert_eq!(p.launchables.len(), 1, "the hidden item is not a session");
    assert!(p.launchables[0].asset, "scormtype asset");
    let p = check(&[("imsmanifest.xml", SCORM12.as_bytes()), ("intro/index.html", b"x"), ("quiz/quiz one.html", b"x")])
        .unwrap();
    assert!(p.launchables.iter().all(|l| !l.asset));
}
