//! Demo data: a training manager for each demo trust, so the approval queue can be tried.

use trellis_db::Databases;
use trellis_db::identity::{self, NewPerson};
use trellis_domain::PersonId;
use trellis_domain::config::Config;
use trellis_domain::identity::Role;

/// The demo managers' password (the demo runs on a local SQLite file only).
pub const PASSWORD: &str = "demo manager password";
/// The demo platform administrator.
pub const PLATFORM_ADMIN: &str = "platform.admin@trellis.localhost";

/// Creates `training.manager@<first eligible domain>` in every trust that has no such person yet;
/// returns `(trust, email)` for each.
pub async fn seed(config: &Config, dbs: &Databases) -> anyhow::Result<Vec<(String, String)>> {
    let hash =
        trellis_web::hash_password(PASSWORD.into(), config.auth.password_memory_kib, config.auth.password_iterations)
            .await?;
    identity::appoint_platform_admin(dbs, PLATFORM_ADMIN, hash, "demo").await?;
    let mut made = Vec::new();
    for entry in dbs.platform.directory_of_all_tenants().await? {
        let tx = dbs.app.begin(entry.id).await?;
        let domains = trellis_db::site::eligibility_domains(&tx).await?;
        tx.commit().await?;
        let Some(domain) = domains.first() else { continue };
        let email = format!("training.manager@{domain}");
        let manager = DemoPerson { email: &email, family_name: "Manager", job_role: "Training manager" };
        demo_member(config, dbs, entry.id, &manager, &entry.ods_code, &[Role::Learner, Role::TrainingManager]).await?;
        made.push((entry.slug, email));
    }
    Ok(made)
}

/// A demo account: "Demo <family_name>", password [`PASSWORD`].
struct DemoPerson<'a> {
    email: &'a str,
    family_name: &'a str,
    job_role: &'a str,
}

/// Finds the demo person by email or creates them (email verified), and makes them an approved
/// member of this trust with `roles` unless they are a member already. Returns the person and
/// whether they joined now.
async fn demo_member(
    config: &Config,
    dbs: &Databases,
    tenant: trellis_domain::TenantId,
    who: &DemoPerson<'_>,
    ods_code: &str,
    roles: &[Role],
) -> anyhow::Result<(PersonId, bool)> {
    let hash =
        trellis_web::hash_password(PASSWORD.into(), config.auth.password_memory_kib, config.auth.password_iterations)
            .await?;
    let new = NewPerson {
        email: who.email.to_owned(),
        password_hash: Some(hash),
        given_name: "Demo".into(),
        family_name: who.family_name.into(),
        job_role: who.job_role.into(),
        place_of_work: ods_code.to_owned(),
        register_kind: None,
        register_number: None,
    };
    Ok(identity::accounts::seed_member(dbs, tenant, new, roles).await?)
}

/// The demo learner's email in each trust (`learner@<first eligible domain>`), password [`PASSWORD`].
pub const LEARNER: &str = "learner";

/// Applies a catalogue file to a trust (`Some(slug)`) or to the national catalogue.
pub async fn apply_catalogue(
    dbs: &Databases,
    file: &std::path::Path,
    trust: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let spec = trellis_domain::catalogue_spec::load(file).map_err(|e| anyhow::anyhow!(e))?;
    let owner = match trust {
        None => trellis_domain::TenantId::NATIONAL,
        Some(slug) => dbs
            .platform
            .directory_of_all_tenants()
            .await?
            .into_iter()
            .find(|e| e.slug == slug)
            .map(|e| e.id)
            .ok_or_else(|| anyhow::anyhow!("no trust {slug}"))?,
    };
    let tx = dbs.app.begin(owner).await?;
    let lines = trellis_db::catalogue::apply_spec(&tx, &spec).await?;
    tx.commit().await?;
    Ok(lines)
}

/// Demo learning: the national catalogue, each trust's own courses (tenants/<slug>/catalogue.toml),
/// every national course offered, fire safety mandatory for everyone (yearly), and a demo learner.
pub async fn seed_learning(config: &Config, dbs: &Databases) -> anyhow::Result<()> {
    use trellis_domain::learning::Audience;
    let national = std::path::Path::new("deploy/catalogue/national.toml");
    if national.exists() {
        apply_catalogue(dbs, national, None).await?;
    }
    let today = chrono::Utc::now().date_naive();
    for entry in dbs.platform.directory_of_all_tenants().await? {
        let own = std::path::Path::new(&config.paths.tenants).join(&entry.slug).join("catalogue.toml");
        if own.exists() {
            apply_catalogue(dbs, &own, Some(&entry.slug)).await?;
        }
        let tx = dbs.app.begin(entry.id).await?;
        let domains = trellis_db::site::eligibility_domains(&tx).await?;
        for (c, offered) in trellis_db::catalogue::national_courses(&tx).await? {
            if !offered {
                trellis_db::catalogue::set_offered(&tx, c.id, true, None).await?;
            }
        }
        tx.commit().await?;
        let Some(domain) = domains.first() else { continue };
        // The demo learner.
        let email = format!("{LEARNER}@{domain}");
        let learner = DemoPerson { email: &email, family_name: "Learner", job_role: "Staff Nurse" };
        let (person, joined) = demo_member(config, dbs, entry.id, &learner, &entry.ods_code, &[Role::Learner]).await?;
        let itx = dbs.app.begin(entry.id).await?;
        if joined {
            trellis_db::staff::set_record(
                &itx,
                person,
                &trellis_db::staff::StaffRecord {
                    assignment_number: None,
                    position: "Staff Nurse".into(),
                    department: "Ward 7".into(),
                    staff_group: "Nursing and Midwifery Registered".into(),
                    place_of_work: entry.name.clone(),
                    end_date: None,
                },
            )
            .await?;
        }
        // Fire safety, mandatory for everyone, yearly.
        let rules = trellis_db::compliance::requirements(&itx).await?;
        let fire = trellis_db::catalogue::search(
            &itx,
            &trellis_db::catalogue::Query { text: "Fire safety".into(), limit: 5, ..Default::default() },
        )
        .await?
        .0
        .into_iter()
        .map(|c| c.course)
        .find(|c| c.code == "CSTF-FIRE");
        if let (Some(fire), true) = (fire, rules.is_empty()) {
            trellis_db::compliance::add_requirement(
                &itx,
                &fire,
                &Audience::Everyone,
                true,
                Some(28),
                Some(12),
                None,
                today,
            )
            .await?;
        }
        // Dates for a face-to-face course (Northmoor's basic life support), run by its training manager.
        let practical = trellis_db::catalogue::own_courses(&itx).await?.into_iter().find(|c| c.code == "NM-BLS");
        if let Some(course) = practical
            && trellis_db::events::of_course(&itx, course.id, chrono::Utc::now()).await?.is_empty()
        {
            let trainer = trellis_db::identity::member_by_email(&itx, &format!("training.manager@{domain}")).await?;
            for (days, hour, room) in [(7, 9, "Clinical skills room 1"), (14, 13, "Clinical skills room 2")] {
                let day = today + chrono::Duration::days(days);
                let starts = day.and_hms_opt(hour, 30, 0).unwrap_or_default().and_utc();
                let input = trellis_db::events::EventInput {
                    starts_at: starts,
                    ends_at: starts + chrono::Duration::hours(3),
                    venue: format!("{room}, Education Centre"),
                    capacity: 8,
                    joining: "Report to the Education Centre reception 10 minutes before the start.".into(),
                    meeting_url: String::new(),
                    trainers: trainer.into_iter().collect(),
                };
                trellis_db::events::create(&itx, course.id, &input, None).await?;
            }
        }
        itx.commit().await?;
    }
    Ok(())
}

/// Zips the repository's example packages (tests/packages, but for the hostile one the isolation
/// test uses, and the one built on cmi5.js, whose library is not kept in the repository) into
/// `<data>/demo-packages/`, ready for an editor to upload in the demo.
pub fn package_examples(config: &Config) -> anyhow::Result<Vec<std::path::PathBuf>> {
    use std::io::Write;
    let source = std::path::Path::new("tests/packages");
    if !source.is_dir() {
        return Ok(vec![]);
    }
    let out_dir = std::path::Path::new(&config.paths.data).join("demo-packages");
    std::fs::create_dir_all(&out_dir)?;
    let mut made = Vec::new();
    let mut dirs: Vec<_> =
        std::fs::read_dir(source)?.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.contains("hostile") || name == "cmi5-standard-library" {
            continue;
        }
        let mut files = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d)? {
                let p = e?.path();
                if p.is_dir() { stack.push(p) } else { files.push(p) }
            }
        }
        files.sort();
        let target = out_dir.join(format!("{name}.zip"));
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&target)?);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for f in files {
            let rel = f
                .strip_prefix(&dir)?
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            zip.start_file(rel, opts)?;
            zip.write_all(&std::fs::read(&f)?)?;
        }
        zip.finish()?;
        made.push(target);
    }
    Ok(made)
}

/// Demo marketplace: Brightwater (a content vendor's site) sells its dementia course and
/// Northmoor (a trust) its sepsis course, both live (approved by the demo platform
/// administrator), so a training manager elsewhere can add them at once. Payments run in the
/// local test mode unless Stripe keys are configured. Returns the titles listed now.
pub async fn seed_marketplace(config: &Config, dbs: &Databases) -> anyhow::Result<Vec<String>> {
    let offers = [
        (
            "brightwater",
            "vendor",
            "Clinical e-learning for the NHS, written with practising clinicians.",
            "BW-DEMENTIA",
            "Dementia awareness (Tier 1)",
            "Recognising dementia and supporting people living with it, for all staff.",
            "12.00",
            "20: 10.00, 100: 8.00",
            "Five short scenarios; a knowledge check at the end.",
        ),
        (
            "northmoor",
            "trust",
            "An acute trust sharing the courses its clinical educators wrote.",
            "NM-SEPSIS",
            "Recognising sepsis on the ward",
            "Spotting the deteriorating patient early with NEWS2. Written by Northmoor's clinical educators.",
            "35.00",
            "10: 30.00, 50: 25.00",
            "Three scenarios on an adult ward: a patient's NEWS2 rises; what you check, who you call, and when.",
        ),
    ];
    let admin = {
        let itx = dbs.identity.begin_platform().await?;
        let a = identity::account_by_email(&itx, PLATFORM_ADMIN).await?;
        itx.commit().await?;
        a.ok_or_else(|| anyhow::anyhow!("no demo platform administrator"))?
    };
    let directory = dbs.platform.directory_of_all_tenants().await?;
    let mut listed = Vec::new();
    for (slug, kind, about, code, title, summary, price, tiers, preview) in offers {
        let Some(entry) = directory.iter().find(|e| e.slug == slug) else { continue };
        let seller = dbs.platform.register_seller(entry.id, kind, &entry.name, about, "").await?;
        if !dbs.platform.listings_of_seller(seller.id).await?.is_empty() {
            continue;
        }
        let tx = dbs.app.begin(entry.id).await?;
        let course = trellis_db::catalogue::own_courses(&tx).await?.into_iter().find(|c| c.code == code);
        tx.commit().await?;
        let Some(course) = course else { continue };
        let input = trellis_domain::market::check_listing(&trellis_domain::market::ListingForm {
            title: title.into(),
            summary: summary.into(),
            price: price.into(),
            tiers: tiers.into(),
            licence_days: "365".into(),
            preview: preview.into(),
            preview_url: String::new(),
        })
        .map_err(|e| anyhow::anyhow!("demo listing: {e:?}"))?;
        let listing = dbs.platform.submit_listing(&seller, &course, &input, "web page").await?;
        dbs.platform.approve_listing(listing.id, admin.id, config.payments.commission_bps).await?;
        listed.push(listing.title);
    }
    // Riverside buys in the demo (docs/marketplace.md): a monthly budget of £500, set by its manager.
    if let Some(riverside) = directory.iter().find(|e| e.slug == "riverside") {
        let tx = dbs.app.begin(riverside.id).await?;
        let manager = identity::accounts::find_one(&tx, "training.manager@riverside.example").await?;
        if let (Some(m), None) = (manager, trellis_db::market::budget(&tx).await?) {
            trellis_db::market::set_budget(&tx, Some(50_000), m.id).await?;
        }
        tx.commit().await?;
    }
    Ok(listed)
}
