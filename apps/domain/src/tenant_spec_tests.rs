#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::fs;

fn ctx() -> SpecContext {
    SpecContext {
        themes: vec!["default".into()],
        base_domain: HostName::parse("trellis.test").unwrap(),
        allow_local_network: false,
    }
}

const GOOD: &str = r##"name = "Alpha Trust"
ods_code = "XA1"
custom_domains = ["learning.alpha.example"]

[branding]
logo = "logo.svg"

[branding.colours]
primary = "#003087"

[contact]
email = "learning@alpha.example"
website = "https://alpha.example"

[[messages]]
key = "welcome"
title = "Welcome"
body = "Hello."
starts = 2026-01-01
ends = 2026-12-31

[eligibility]
email_domains = ["alpha.example"]
"##;

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (slug, toml) in files {
        let folder = dir.path().join(slug);
        fs::create_dir_all(&folder).unwrap();
        fs::write(folder.join("tenant.toml"), toml).unwrap();
        fs::write(folder.join("logo.svg"), r#"<svg xmlns="http://www.w3.org/2000/svg"/>"#).unwrap();
    }
    dir
}

fn errors_of(toml: &str) -> Vec<SpecError> {
    let dir = dir_with(&[("alpha", toml)]);
    load_dir(dir.path(), &ctx()).expect_err("should be refused")
}

#[test]
fn a_good_file_parses_with_defaults_filled_in() {
    let dir = dir_with(&[("alpha", GOOD)]);
    let specs = load_dir(dir.path(), &ctx()).unwrap();
    let s = &specs[0];
    assert_eq!(s.slug.as_str(), "alpha");
    assert_eq!(s.theme, "default");
    assert_eq!(s.time_zone, "Europe/London");
    assert_eq!(s.colours.primary.to_string(), "#003087");
    assert_eq!(s.colours.on_primary.to_string(), "#ffffff");
    assert_eq!(s.custom_domains[0].as_str(), "learning.alpha.example");
    assert_eq!(s.messages[0].ends_on, NaiveDate::from_ymd_opt(2026, 12, 31));
    assert_eq!(s.logo.as_ref().unwrap().content_type, "image/svg+xml");
}

#[test]
fn an_error_names_the_file_the_line_and_the_field() {
    let bad = GOOD.replace("primary = \"#003087\"", "primary = \"#7fb2e5\"");
    let errors = errors_of(&bad);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert!(e.file.ends_with("alpha/tenant.toml"));
    assert_eq!(e.line, Some(9));
    assert_eq!(e.field, "branding.colours.primary");
    let shown = e.to_string();
    assert!(shown.contains("alpha/tenant.toml:9: branding.colours.primary: on_primary #ffffff on primary #7fb2e5 has a contrast ratio of 2.23:1; WCAG 2.2 AA needs at least 4.5:1 for text"), "{shown}");
}

#[test]
fn contrast_is_checked_for_links_and_non_text_parts() {
    let bad = GOOD.replace("primary = \"#003087\"", "primary = \"#003087\"\nlink = \"#8a8a8a\"\naccent = \"#e8edee\"");
    let errors = errors_of(&bad);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["branding.colours.link", "branding.colours.link", "branding.colours.accent"], "{errors:?}");
    assert!(errors[2].message.contains("needs at least 3:1 for non-text parts"));
}

#[test]
fn syntax_errors_and_unknown_or_missing_fields_are_located() {
    let e = &errors_of("name = \"A\"\nods_code = \"XA1\"\ncolour = \"red\"\n")[0];
    assert_eq!((e.line, e.field.as_str()), (Some(3), "colour"));
    let e = &errors_of("ods_code = \"XA1\"\n")[0];
    assert_eq!(e.field, "name");
    assert!(e.message.contains("missing field"));
    let e = &errors_of("name = \"A\"\nods_code = \"XA1\"\nname = \n")[0];
    assert_eq!(e.line, Some(3));
}

#[test]
fn values_are_checked() {
    let cases = [
        ("ods_code = \"XA1\"", "ods_code = \"xa\"", "ods_code"),
        ("starts = 2026-01-01", "starts = 2026-01-01T10:00:00", "messages[0].starts"),
        ("ends = 2026-12-31", "ends = 2025-12-31", "messages[0].ends"),
        ("key = \"welcome\"", "key = \"Welcome!\"", "messages[0].key"),
        (
            "custom_domains = [\"learning.alpha.example\"]",
            "custom_domains = [\"alpha.trellis.test\"]",
            "custom_domains[0]",
        ),
        ("custom_domains = [\"learning.alpha.example\"]", "custom_domains = [\"bad domain\"]", "custom_domains[0]"),
        ("email = \"learning@alpha.example\"", "email = \"not-an-email\"", "contact.email"),
        ("website = \"https://alpha.example\"", "website = \"ftp://alpha.example\"", "contact.website"),
        ("logo = \"logo.svg\"", "logo = \"../other/logo.svg\"", "branding.logo"),
        ("logo = \"logo.svg\"", "logo = \"missing.svg\"", "branding.logo"),
        ("email_domains = [\"alpha.example\"]", "email_domains = [\"alpha\"]", "eligibility.email_domains[0]"),
    ];
    for (from, to, field) in cases {
        let errors = errors_of(&GOOD.replace(from, to));
        assert!(errors.iter().any(|e| e.field == field && e.line.is_some()), "{to}: {errors:?}");
    }
    let errors = errors_of(&format!("theme = \"nope\"\n{GOOD}"));
    assert!(errors[0].message.contains("no theme named \"nope\""));
    let errors = errors_of(&format!("time_zone = \"Mars/Olympus\"\n{GOOD}"));
    assert_eq!(errors[0].field, "time_zone");
    let errors = errors_of(&format!("embeds = [\"youtube\", \"tiktok\"]\n{GOOD}"));
    assert!(errors[0].field == "embeds" && errors[0].message.contains("youtube and vimeo"), "{errors:?}");
    let dir = dir_with(&[("alpha", &format!("embeds = [\"Vimeo\", \"youtube\", \"vimeo\"]\n{GOOD}"))]);
    assert_eq!(load_dir(dir.path(), &ctx()).unwrap()[0].embeds, ["vimeo", "youtube"]);
}

#[test]
fn folder_names_must_be_valid_unreserved_slugs() {
    for slug in ["Bad_Slug", "admin", "www", "-x"] {
        let dir = dir_with(&[(slug, GOOD)]);
        let errors = load_dir(dir.path(), &ctx()).expect_err(slug);
        assert!(errors[0].field.starts_with("slug"), "{slug}: {errors:?}");
    }
}

#[test]
fn a_domain_declared_by_two_trusts_is_refused_naming_both() {
    let dir = dir_with(&[("alpha", GOOD), ("beta", &GOOD.replace("Alpha", "Beta"))]);
    let errors = load_dir(dir.path(), &ctx()).expect_err("duplicate");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].file.ends_with("beta/tenant.toml"));
    assert!(errors[0].message.contains("learning.alpha.example is also declared by alpha"), "{errors:?}");
}

#[test]
fn logos_with_scripts_are_refused() {
    let dir = dir_with(&[("alpha", GOOD)]);
    fs::write(dir.path().join("alpha/logo.svg"), r#"<svg><script>alert(1)</script></svg>"#).unwrap();
    let errors = load_dir(dir.path(), &ctx()).expect_err("script");
    assert_eq!(errors[0].field, "branding.logo");
}

#[test]
fn every_error_in_every_file_is_reported_at_once() {
    let dir = dir_with(&[("alpha", "name = 1\nods_code = \"XA1\"\n"), ("beta", "ods_code = \"b\"\nname = \"B\"\n")]);
    let errors = load_dir(dir.path(), &ctx()).expect_err("two files");
    assert!(errors.iter().any(|e| e.file.ends_with("alpha/tenant.toml")));
    assert!(errors.iter().any(|e| e.file.ends_with("beta/tenant.toml") && e.field == "ods_code"));
}

#[test]
fn single_sign_on_issuers_are_parsed_not_prefix_matched() {
    use crate::tenant_spec::issuer_acceptable;
    assert!(issuer_acceptable("https://login.openathens.net/oidc", false));
    for bad in [
        "http://localhost.evil.example",
        "http://127.0.0.1:9000",
        "https://localhost",
        "https://127.0.0.1",
        "https://169.254.169.254",
        "https://[fe80::1]",
        "https://login.example.org/?x=1",
        "https://login.example.org/#frag",
        "https://user@login.example.org",
    ] {
        assert!(!issuer_acceptable(bad, false), "{bad}");
    }
    // Development (tests, the demo): a provider on this machine.
    assert!(issuer_acceptable("http://127.0.0.1:9000", true));
}
