//! The host map: which trust a host belongs to, held in memory and swapped whole on reload.

use crate::context::trust_css;
use arc_swap::ArcSwap;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use trellis_db::{DbError, DirectoryEntry, PlatformDb};
use trellis_domain::host::HostName;

/// A trust's site as the web tier serves it.
#[derive(Debug)]
pub struct Site {
    pub entry: DirectoryEntry,
    pub stylesheet: String,
    pub stylesheet_hash: String,
    /// The trust's own address (`http://<slug>.<base>:port/`).
    pub url: String,
    /// Every origin the trust's site is served from (its own address and verified custom
    /// domains), e.g. for the content origin's `frame-ancestors`.
    pub origins: Vec<String>,
    /// What templates see as `tenant`, converted once per load rather than once per page.
    pub view: tera::Value,
}

impl Site {
    /// Whether the trust allows embedded videos, and so asks each person for consent to them.
    pub fn asks_video_consent(&self) -> bool {
        !self.entry.embeds.is_empty()
    }

    /// The trust's time zone (Europe/London when its setting does not parse).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.entry.time_zone.parse().unwrap_or(chrono_tz::Europe::London)
    }

    /// Today in the trust's time zone: due dates and key messages' dates are dates there.
    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Utc::now().with_timezone(&self.zone()).date_naive()
    }

    /// `time` on `day` in the trust's time zone, as a moment (the earlier, where clocks go back;
    /// `None` in the hour clocks skip).
    pub fn at(&self, day: chrono::NaiveDate, time: chrono::NaiveTime) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone;
        self.zone().from_local_datetime(&day.and_time(time)).earliest().map(|t| t.with_timezone(&chrono::Utc))
    }

    /// The last second of `day` in the trust's time zone (a grant chosen "until" a day ends then);
    /// a year from now where the zone has no such moment.
    pub fn end_of_day(&self, day: chrono::NaiveDate) -> chrono::DateTime<chrono::Utc> {
        day.and_hms_opt(23, 59, 59)
            .and_then(|t| t.and_local_timezone(self.zone()).single())
            .map_or_else(|| chrono::Utc::now() + chrono::Duration::days(365), |t| t.with_timezone(&chrono::Utc))
    }
}

/// What a host resolves to.
#[derive(Debug, Clone)]
pub enum Resolved {
    /// The bare base domain: the platform's own pages.
    Platform,
    Tenant(Arc<Site>),
    /// No trust has this host: a 404, never some other trust's site.
    Unknown,
}

#[derive(Default)]
struct Snapshot {
    by_slug: HashMap<String, Arc<Site>>,
    by_host: HashMap<String, Arc<Site>>,
    by_id: HashMap<trellis_domain::TenantId, Arc<Site>>,
    /// By name, for the landing page.
    sites: Vec<Arc<Site>>,
}

/// The in-memory host map.
pub struct Directory {
    base: HostName,
    url_for: Box<dyn Fn(&str) -> String + Send + Sync>,
    snapshot: ArcSwap<Snapshot>,
    reloads: AtomicU64,
}

impl Directory {
    /// An empty map for `base`; `url_for(host)` builds a site's absolute address.
    pub fn new(base: HostName, url_for: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        Self {
            base,
            url_for: Box::new(url_for),
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            reloads: AtomicU64::new(0),
        }
    }

    /// The platform's base domain.
    pub fn base(&self) -> &HostName {
        &self.base
    }

    /// Reads every trust and swaps the map in one step; returns how many trusts it holds.
    pub async fn reload(&self, platform: &PlatformDb) -> Result<usize, DbError> {
        let entries = platform.directory_of_all_tenants().await?;
        let mut snap = Snapshot::default();
        for entry in entries {
            let (stylesheet, stylesheet_hash) = trust_css::stylesheet(&entry.colours);
            let url = (self.url_for)(&format!("{}.{}", entry.slug, self.base));
            let view = json!({
                "slug": entry.slug,
                "name": entry.name,
                "short_name": entry.short_name,
                "ods_code": entry.ods_code,
                "home_url": "/",
                "url": url,
                "stylesheet_url": format!("/trust-style/{stylesheet_hash}.css"),
                "logo_url": entry.logo.as_ref().map(|(sha, _)| format!("/logo/{sha}")),
                "sso_label": entry.sso.as_ref().map(|s| s.label.clone()),
                "contact": {
                    "email": entry.contact.email,
                    "phone": entry.contact.phone,
                    "address": entry.contact.address,
                    "website": entry.contact.website,
                },
            });
            let view = tera::Value::from_serializable(&view);
            let mut origins = vec![url.trim_end_matches('/').to_owned()];
            origins.extend(entry.hosts.iter().map(|h| (self.url_for)(h).trim_end_matches('/').to_owned()));
            let site = Arc::new(Site { entry, stylesheet, stylesheet_hash, url, origins, view });
            for host in &site.entry.hosts {
                snap.by_host.insert(host.clone(), site.clone());
            }
            snap.by_slug.insert(site.entry.slug.clone(), site.clone());
            snap.by_id.insert(site.entry.id, site.clone());
            snap.sites.push(site);
        }
        snap.sites.sort_by(|a, b| a.entry.name.cmp(&b.entry.name));
        let count = snap.sites.len();
        self.snapshot.store(Arc::new(snap));
        self.reloads.fetch_add(1, Ordering::Relaxed);
        Ok(count)
    }

    /// How many times the map has been loaded.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// The site for a host.
    pub fn resolve(&self, host: &HostName) -> Resolved {
        if host == &self.base || host.label_below(&self.base) == Some("www") {
            return Resolved::Platform;
        }
        let snap = self.snapshot.load();
        let site = match host.label_below(&self.base) {
            Some(label) => snap.by_slug.get(label),
            None => snap.by_host.get(host.as_str()),
        };
        site.map_or(Resolved::Unknown, |s| Resolved::Tenant(s.clone()))
    }

    /// A trust's site by its id (for the content origin, whose requests name no trust's host).
    pub fn site_by_id(&self, id: trellis_domain::TenantId) -> Option<Arc<Site>> {
        self.snapshot.load().by_id.get(&id).cloned()
    }

    /// A trust's name by its id (where a shared completion was earned, say).
    pub fn name_of(&self, id: trellis_domain::TenantId) -> Option<String> {
        self.site_by_id(id).map(|s| s.entry.name.clone())
    }

    /// Every trust, by name.
    pub fn sites(&self) -> Vec<Arc<Site>> {
        self.snapshot.load().sites.clone()
    }
}

/// The Redis topic on which tenant changes are announced.
pub const TENANTS_CHANGED: &str = "tenants-changed";

/// After a change to a trust made here: reload this instance's host map now, and tell the other
/// instances over Redis (a failed notice is logged; their timer reload heals it).
pub(crate) async fn reload_and_announce(
    state: &crate::context::AppState,
    why: &str,
) -> Result<(), trellis_db::DbError> {
    state.directory.reload(&state.dbs.platform).await?;
    state.metrics.host_reloads.inc();
    if let Some(bus) = &state.redis
        && let Err(e) = bus.publish(TENANTS_CHANGED, why).await
    {
        tracing::warn!(error = %e, why, "cannot announce a change to the trusts");
    }
    Ok(())
}
