//! `trellis tenants apply`: bring the database in line with `tenants/*/tenant.toml`.
//!
//! One transaction for the whole set: any conflict and nothing changes. Never deletes. What a
//! trust's admins have edited (branding, key messages) is reported, not overwritten, unless the
//! operator asks for it.

use crate::entities::{
    eligibility_domain, key_message, tenant, tenant_branding, tenant_host, tenant_logo, tenant_sso, tenant_terms,
};
use crate::platform::audit;
use crate::{DbError, PlatformDb};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use trellis_domain::TenantId;
use trellis_domain::tenant_spec::TenantSpec;

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Replace what trust admins have edited with the file's values.
    pub overwrite_admin_edits: bool,
    /// Who is applying, for the audit log.
    pub actor: String,
    /// Work out and report the changes, then roll them back.
    pub dry_run: bool,
    /// Seals a single sign-on client secret given inline in a file (none: such a file is refused).
    pub keyring: Option<std::sync::Arc<crate::secrets::Keyring>>,
}

/// What applying changed, a line per change, and whether anything did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    pub lines: Vec<String>,
    pub changed: bool,
}

struct Lines<'a> {
    slug: &'a str,
    changes: Vec<String>,
    notes: Vec<String>,
}

impl Lines<'_> {
    fn change(&mut self, s: impl Into<String>) {
        self.changes.push(s.into());
    }
    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }
}

fn show(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "(none)".to_owned(), |s| format!("\"{s}\""))
}

impl PlatformDb {
    /// Applies every spec in one transaction, across trusts.
    pub async fn apply_tenant_specs_across_tenants(
        &self,
        specs: &[TenantSpec],
        opts: &ApplyOptions,
    ) -> Result<ApplyReport, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let mut report = ApplyReport::default();
        for spec in specs {
            let mut lines = Lines { slug: spec.slug.as_str(), changes: Vec::new(), notes: Vec::new() };
            let id = apply_one(&tx, spec, opts, &mut lines).await?;
            if !lines.changes.is_empty() {
                report.changed = true;
                audit(&tx, &opts.actor, "tenants.apply", Some(id), lines.changes.join("\n")).await?;
            }
            if lines.changes.is_empty() && lines.notes.is_empty() {
                report.lines.push(format!("{}: unchanged", lines.slug));
            }
            for l in lines.changes.iter().chain(&lines.notes) {
                report.lines.push(format!("{}: {l}", lines.slug));
            }
        }
        if opts.dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(report)
    }
}

async fn apply_one(
    tx: &DatabaseTransaction,
    spec: &TenantSpec,
    opts: &ApplyOptions,
    out: &mut Lines<'_>,
) -> Result<TenantId, DbError> {
    let now = Utc::now();
    let existing = tenant::Entity::find().filter(tenant::Column::Slug.eq(spec.slug.as_str())).one(tx).await?;
    let id = match existing {
        None => {
            let id = TenantId::new();
            tenant::ActiveModel {
                id: Set(id.as_uuid()),
                slug: Set(spec.slug.to_string()),
                name: Set(spec.name.clone()),
                short_name: Set(spec.short_name.clone()),
                ods_code: Set(spec.ods_code.clone()),
                region: Set(spec.region.clone()),
                theme: Set(spec.theme.clone()),
                time_zone: Set(spec.time_zone.clone()),
                status: Set(crate::states::TenantStatus::Active),
                require_admin_mfa: Set(spec.require_admin_mfa),
                embeds: Set(spec.embeds.join(",")),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(tx)
            .await?;
            out.change(format!("created \"{}\"", spec.name));
            id
        }
        Some(t) => {
            let id = TenantId::from_uuid(t.id);
            let mut am: tenant::ActiveModel = t.clone().into();
            let mut dirty = false;
            let mut field = |name: &str, old: &str, new: &str| {
                if old != new {
                    out.change(format!("{name}: \"{old}\" → \"{new}\""));
                    dirty = true;
                }
            };
            field("name", &t.name, &spec.name);
            field("ods_code", &t.ods_code, &spec.ods_code);
            field("region", &t.region, &spec.region);
            field("theme", &t.theme, &spec.theme);
            field("time_zone", &t.time_zone, &spec.time_zone);
            field("embeds", &t.embeds, &spec.embeds.join(","));
            if t.require_admin_mfa != spec.require_admin_mfa {
                out.change(format!("require_admin_mfa: {} → {}", t.require_admin_mfa, spec.require_admin_mfa));
                dirty = true;
            }
            if t.short_name != spec.short_name {
                out.change(format!("short_name: {} → {}", show(&t.short_name), show(&spec.short_name)));
                dirty = true;
            }
            if dirty {
                am.name = Set(spec.name.clone());
                am.short_name = Set(spec.short_name.clone());
                am.ods_code = Set(spec.ods_code.clone());
                am.region = Set(spec.region.clone());
                am.theme = Set(spec.theme.clone());
                am.time_zone = Set(spec.time_zone.clone());
                am.require_admin_mfa = Set(spec.require_admin_mfa);
                am.embeds = Set(spec.embeds.join(","));
                am.updated_at = Set(now);
                am.update(tx).await?;
            }
            id
        }
    };
    apply_hosts(tx, id, spec, out).await?;
    apply_branding(tx, id, spec, opts, out).await?;
    apply_messages(tx, id, spec, opts, out).await?;
    apply_eligibility(tx, id, spec, out).await?;
    apply_terms(tx, id, spec, out).await?;
    apply_sso(tx, id, spec, opts, out).await?;
    Ok(id)
}

async fn apply_hosts(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let now = Utc::now();
    for domain in &spec.custom_domains {
        match tenant_host::Entity::find_by_id(domain.as_str().to_owned()).one(tx).await? {
            Some(h) if h.tenant_id != id.as_uuid() => {
                let owner = tenant::Entity::find_by_id(h.tenant_id).one(tx).await?.map_or_else(String::new, |t| t.slug);
                return Err(DbError::Conflict(format!(
                    "{}: custom domain {domain} already belongs to trust \"{owner}\"; nothing was applied",
                    spec.file.display()
                )));
            }
            Some(h) if h.verified_at.is_none() => {
                let mut am: tenant_host::ActiveModel = h.into();
                am.verified_at = Set(Some(now));
                am.kind = Set("declared".into());
                am.update(tx).await?;
                out.change(format!("custom domain {domain} verified (declared by the operator)"));
            }
            Some(_) => {}
            None => {
                tenant_host::ActiveModel {
                    host: Set(domain.as_str().to_owned()),
                    tenant_id: Set(id.as_uuid()),
                    kind: Set("declared".into()),
                    verified_at: Set(Some(now)),
                    created_at: Set(now),
                    verify_token: Set(None),
                    checked_at: Set(None),
                    check_result: Set(None),
                }
                .insert(tx)
                .await?;
                out.change(format!("custom domain {domain} added"));
            }
        }
    }
    for h in tenant_host::Entity::find().filter(tenant_host::Column::TenantId.eq(id.as_uuid())).all(tx).await? {
        if !spec.custom_domains.iter().any(|d| d.as_str() == h.host) {
            out.note(format!("custom domain {} is not in the file; kept", h.host));
        }
    }
    Ok(())
}

async fn apply_branding(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    opts: &ApplyOptions,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let now = Utc::now();
    let logo_sha = match &spec.logo {
        Some(logo) => {
            let sha = hex::encode(Sha256::digest(&logo.bytes));
            let have = tenant_logo::Entity::find_by_id((id.as_uuid(), sha.clone())).one(tx).await?;
            if have.is_none() {
                tenant_logo::ActiveModel {
                    tenant_id: Set(id.as_uuid()),
                    sha256: Set(sha.clone()),
                    content_type: Set(logo.content_type.to_owned()),
                    bytes: Set(logo.bytes.clone()),
                    created_at: Set(now),
                }
                .insert(tx)
                .await?;
            }
            Some(sha)
        }
        None => None,
    };
    let c = &spec.colours;
    let want = [
        ("colours.primary", Some(c.primary.to_string())),
        ("colours.on_primary", Some(c.on_primary.to_string())),
        ("colours.link", Some(c.link.to_string())),
        ("colours.accent", Some(c.accent.to_string())),
        ("logo", logo_sha.clone()),
        ("contact.email", spec.contact.email.clone()),
        ("contact.phone", spec.contact.phone.clone()),
        ("contact.address", spec.contact.address.clone()),
        ("contact.website", spec.contact.website.clone()),
    ];
    let current = tenant_branding::Entity::find_by_id(id.as_uuid()).one(tx).await?;
    let have: Option<[Option<String>; 9]> = current.as_ref().map(|b| {
        [
            Some(b.primary_colour.clone()),
            Some(b.on_primary_colour.clone()),
            Some(b.link_colour.clone()),
            Some(b.accent_colour.clone()),
            b.logo_sha256.clone(),
            b.contact_email.clone(),
            b.contact_phone.clone(),
            b.contact_address.clone(),
            b.contact_website.clone(),
        ]
    });
    let differing: Vec<(&str, Option<String>, Option<String>)> = match &have {
        None => Vec::new(),
        Some(have) => want
            .iter()
            .zip(have.iter())
            .filter(|((_, w), h)| w != *h)
            .map(|((name, w), h)| (*name, h.clone(), w.clone()))
            .collect(),
    };
    let model = tenant_branding::ActiveModel {
        tenant_id: Set(id.as_uuid()),
        primary_colour: Set(c.primary.to_string()),
        on_primary_colour: Set(c.on_primary.to_string()),
        link_colour: Set(c.link.to_string()),
        accent_colour: Set(c.accent.to_string()),
        logo_sha256: Set(logo_sha),
        contact_email: Set(spec.contact.email.clone()),
        contact_phone: Set(spec.contact.phone.clone()),
        contact_address: Set(spec.contact.address.clone()),
        contact_website: Set(spec.contact.website.clone()),
        admin_edited_at: Set(None),
        updated_at: Set(now),
    };
    match current {
        None => {
            model.insert(tx).await?;
            out.change("branding set");
        }
        Some(_) if differing.is_empty() => {}
        Some(b) if b.admin_edited_at.is_some() && !opts.overwrite_admin_edits => {
            let fields: Vec<&str> = differing.iter().map(|d| d.0).collect();
            out.note(format!(
                "branding was edited by the trust's admins; kept (the file differs in {}; --overwrite-admin-edits replaces it)",
                fields.join(", ")
            ));
        }
        Some(_) => {
            model.update(tx).await?;
            for (name, old, new) in differing {
                let logo = |v: Option<String>| v.map(|s| if name == "logo" { s.chars().take(12).collect() } else { s });
                out.change(format!("branding.{name}: {} → {}", show(&logo(old)), show(&logo(new))));
            }
        }
    }
    Ok(())
}

async fn apply_messages(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    opts: &ApplyOptions,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let now = Utc::now();
    let existing = key_message::Entity::find()
        .filter(key_message::Column::TenantId.eq(id.as_uuid()))
        .filter(key_message::Column::SeedKey.is_not_null())
        .all(tx)
        .await?;
    for m in &spec.messages {
        let found = existing.iter().find(|e| e.seed_key.as_deref() == Some(m.key.as_str()));
        match found {
            None => {
                key_message::ActiveModel {
                    tenant_id: Set(id.as_uuid()),
                    id: Set(uuid::Uuid::now_v7()),
                    seed_key: Set(Some(m.key.clone())),
                    title: Set(m.title.clone()),
                    body: Set(m.body.clone()),
                    starts_on: Set(m.starts_on),
                    ends_on: Set(m.ends_on),
                    admin_edited_at: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(tx)
                .await?;
                out.change(format!("key message \"{}\" added", m.key));
            }
            Some(e) => {
                let same =
                    e.title == m.title && e.body == m.body && e.starts_on == m.starts_on && e.ends_on == m.ends_on;
                if same {
                    continue;
                }
                if e.admin_edited_at.is_some() && !opts.overwrite_admin_edits {
                    out.note(format!("key message \"{}\" was edited by the trust's admins; kept", m.key));
                    continue;
                }
                let mut am: key_message::ActiveModel = e.clone().into();
                am.title = Set(m.title.clone());
                am.body = Set(m.body.clone());
                am.starts_on = Set(m.starts_on);
                am.ends_on = Set(m.ends_on);
                am.admin_edited_at = Set(None);
                am.updated_at = Set(now);
                am.update(tx).await?;
                out.change(format!("key message \"{}\" updated", m.key));
            }
        }
    }
    for e in &existing {
        if let Some(key) = &e.seed_key
            && !spec.messages.iter().any(|m| &m.key == key)
        {
            out.note(format!("key message \"{key}\" is not in the file; kept"));
        }
    }
    Ok(())
}

async fn apply_eligibility(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let existing = eligibility_domain::Entity::find()
        .filter(eligibility_domain::Column::TenantId.eq(id.as_uuid()))
        .all(tx)
        .await?;
    for d in &spec.email_domains {
        if !existing.iter().any(|e| &e.email_domain == d) {
            eligibility_domain::ActiveModel {
                tenant_id: Set(id.as_uuid()),
                id: Set(uuid::Uuid::now_v7()),
                email_domain: Set(d.clone()),
                created_at: Set(Utc::now()),
            }
            .insert(tx)
            .await?;
            out.change(format!("eligible email domain {d} added"));
        }
    }
    for e in existing {
        if !spec.email_domains.contains(&e.email_domain) {
            out.note(format!("eligible email domain {} is not in the file; kept", e.email_domain));
        }
    }
    Ok(())
}

async fn apply_terms(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let current = tenant_terms::Entity::find_by_id(id.as_uuid()).one(tx).await?;
    match (&spec.terms, current) {
        (None, None) => {}
        (None, Some(_)) => out.note("terms are not in the file; kept"),
        (Some(t), Some(c)) if c.version == t.version && c.title == t.title && c.body == t.body => {}
        (Some(t), existing) => {
            let model = tenant_terms::ActiveModel {
                tenant_id: Set(id.as_uuid()),
                version: Set(t.version.clone()),
                title: Set(t.title.clone()),
                body: Set(t.body.clone()),
                updated_at: Set(Utc::now()),
            };
            match existing {
                None => {
                    model.insert(tx).await?;
                    out.change(format!("terms version \"{}\" set", t.version));
                }
                Some(c) => {
                    model.update(tx).await?;
                    if c.version == t.version {
                        out.change(format!(
                            "terms version \"{}\" reworded without a new version: members are not asked again",
                            t.version
                        ));
                    } else {
                        out.change(format!(
                            "terms version \"{}\" → \"{}\": members accept again",
                            c.version, t.version
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

async fn apply_sso(
    tx: &DatabaseTransaction,
    id: TenantId,
    spec: &TenantSpec,
    opts: &ApplyOptions,
    out: &mut Lines<'_>,
) -> Result<(), DbError> {
    let current = tenant_sso::Entity::find_by_id(id.as_uuid()).one(tx).await?;
    let Some(s) = &spec.sso else {
        if current.is_some() {
            out.note("single sign-on is not in the file; kept");
        }
        return Ok(());
    };
    let purpose = crate::secrets::sso_purpose(id);
    // The stored secret is sealed: the same as the file's when it opens to it.
    let same_secret = |stored: &Option<String>| match (stored, &s.client_secret) {
        (Some(stored), Some(given)) => match &opts.keyring {
            Some(k) => k.open(&purpose, stored).is_ok_and(|v| &v == given),
            None => false,
        },
        (None, None) => true,
        _ => false,
    };
    let same = current.as_ref().is_some_and(|c| {
        c.issuer == s.issuer
            && c.client_id == s.client_id
            && same_secret(&c.client_secret)
            && c.client_secret_env == s.client_secret_env
            && c.label == s.label
            && c.claim_email == s.claim_email
            && c.claim_email_verified == s.claim_email_verified
            && c.claim_given_name == s.claim_given_name
            && c.claim_family_name == s.claim_family_name
    });
    if same {
        return Ok(());
    }
    if current.as_ref().is_some_and(|c| c.admin_edited_at.is_some()) && !opts.overwrite_admin_edits {
        out.note("single sign-on was edited by the trust's admins; kept (--overwrite-admin-edits replaces it)");
        return Ok(());
    }
    let model = tenant_sso::ActiveModel {
        tenant_id: Set(id.as_uuid()),
        issuer: Set(s.issuer.clone()),
        client_id: Set(s.client_id.clone()),
        client_secret: Set(match (&s.client_secret, &opts.keyring) {
            (Some(v), Some(k)) => Some(k.seal(&purpose, v)),
            (Some(_), None) => {
                return Err(DbError::Setup("an inline sso.client_secret needs the operator key to seal it".into()));
            }
            (None, _) => None,
        }),
        client_secret_env: Set(s.client_secret_env.clone()),
        label: Set(s.label.clone()),
        claim_email: Set(s.claim_email.clone()),
        claim_email_verified: Set(s.claim_email_verified.clone()),
        claim_given_name: Set(s.claim_given_name.clone()),
        claim_family_name: Set(s.claim_family_name.clone()),
        updated_at: Set(Utc::now()),
        admin_edited_at: Set(None),
    };
    if current.is_some() {
        model.update(tx).await?;
        out.change(format!("single sign-on updated (issuer {})", s.issuer));
    } else {
        model.insert(tx).await?;
        out.change(format!("single sign-on set (issuer {})", s.issuer));
    }
    Ok(())
}
