//! Who is making the request: sessions, passwords, CSRF, rate limits, and the signed-in person.

pub mod csrf;
pub mod mfa;
pub mod password;
pub mod platform;

use crate::context::AppState;
use crate::context::directory::Site;
pub use crate::context::security::Security;
use crate::error::AppError;
use crate::http::middleware::forwarded;
use poem::Request;
use poem::session::Session;
use trellis_db::TenantTx;
use trellis_db::identity::{self, MembershipStatus};
use trellis_db::sessions;
pub use trellis_db::sessions::Method;
use trellis_domain::PersonId;
use trellis_domain::identity::{Permission, Role, allows};

const K_TENANT: &str = "tenant";
const K_PERSON: &str = "person";
const K_EPOCH: &str = "epoch";
const K_SIGNED_IN: &str = "signed_in_at";
const K_SEEN: &str = "last_seen";
const K_SID: &str = "session_handle";
/// The terms versions this session last passed the terms check for.
const K_AGREED: &str = "agreed_terms";

/// The person signed in on this trust's site.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub person: PersonId,
    /// Their name ("given family").
    pub name: String,
    pub roles: Vec<Role>,
    /// The catalogue's change counters, read with the sign-in state (for the kept listing).
    pub catalogue: trellis_db::catalogue::Generations,
}

impl SignedIn {
    /// Whether their roles here allow `p`.
    pub fn may(&self, p: Permission) -> bool {
        allows(&self.roles, p)
    }
}

/// What the header shows of the person signed in: their name and which parts of the site they
/// may use. Kept in the session (so any page of the site can draw the header without reading the
/// database) and refreshed by every sign-in check, so a change of roles shows on the next page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Viewer {
    /// The trust whose site this is (a session presented on another trust's site shows nobody).
    pub tenant: String,
    pub name: String,
    /// Any administrative tool (the Admin page lists those they may use).
    pub admin: bool,
    /// The marketplace (buying for the trust).
    pub buy: bool,
    /// Selling the site's courses.
    pub sell: bool,
}

/// The session key of [`Viewer`].
pub const K_VIEWER: &str = "viewer";

impl Viewer {
    pub fn of(me: &SignedIn, site: &Site) -> Self {
        let admin = TOOLS.iter().any(|(p, ..)| me.may(*p));
        Self {
            tenant: site.entry.id.to_string(),
            name: me.name.clone(),
            admin,
            buy: me.may(Permission::BuyCourses),
            sell: me.may(Permission::Sell),
        }
    }
}

/// A trust's administrative tools: the permission each needs, its page, its name and what it is
/// for. The Admin page lists those a person may use; the header offers *Admin* if there is one.
const TOOLS: [(Permission, &str, &str, &str); 24] = [
    (
        Permission::ManageTraining,
        "/admin/compliance",
        "Compliance",
        "Who has completed their mandatory training, and who is overdue",
    ),
    (
        Permission::ManageTraining,
        "/admin/training",
        "Assign training",
        "Training rules: which staff groups must complete which courses",
    ),
    (
        Permission::ManageTraining,
        "/admin/enrolments",
        "Enrolment requests",
        "Approve or decline requests to join courses",
    ),
    (
        Permission::ManageTraining,
        "/admin/events",
        "Face-to-face events",
        "Every course's events: how full they are, waiting lists, who did not attend; when staff may cancel",
    ),
    (
        Permission::ManageTraining,
        "/admin/statistics",
        "Course statistics",
        "How many enrolled, opened and completed each course, by month or staff group, anonymised",
    ),
    (
        Permission::ManageTraining,
        "/admin/staff/import",
        "Import staff",
        "Add and update staff from your HR system's file",
    ),
    (
        Permission::ManageTraining,
        "/admin/badges",
        "Badges",
        "Badges staff earn for completing a programme or keeping their mandatory training current",
    ),
    (
        Permission::ManageTraining,
        "/admin/campaigns",
        "Campaigns",
        "Promote a course to chosen staff with an email, an intranet banner and a landing page; see what came of it",
    ),
    (
        Permission::ManageTraining,
        "/admin/marketing",
        "Marketing pack",
        "Posters, intranet banners and an announcement email in your trust's colours",
    ),
    (
        Permission::ManageTraining,
        "/admin/labs",
        "Learning labs",
        "Rooms with PCs staff book a slot at; each room's register and no-shows",
    ),
    (Permission::ManageStaff, "/admin/approvals", "Registrations", "Approve or reject people who asked to join"),
    (Permission::ManageStaff, "/admin/staff", "Staff", "Suspend staff and change their roles"),
    (
        Permission::ManageStaff,
        "/admin/line-managers",
        "Line managers",
        "Who manages whom: line managers see their team's training",
    ),
    (
        Permission::ManageStaff,
        "/admin/coaches",
        "Coaches",
        "Appoint coaches and give each a caseload of learners to follow up",
    ),
    (Permission::EditContent, "/admin/courses", "Courses", "Create, edit and publish courses and their sessions"),
    (
        Permission::EditContent,
        "/admin/library",
        "Resource library",
        "Reported resources to look at, and who may add resources",
    ),
    (Permission::EditSite, "/admin/site", "Your site", "Logo, colours, key messages and web addresses"),
    (Permission::ManageSignOn, "/admin/sso", "Single sign-on", "Let staff sign in with your organisation's account"),
    (
        Permission::ManageRecords,
        "/admin/lrs",
        "Learning record store",
        "Credentials for tools that send xAPI statements",
    ),
    (
        Permission::ManageIntegrations,
        "/admin/api-tokens",
        "API tokens",
        "Let other systems read and write through the API, and your identity system manage staff accounts",
    ),
    (
        Permission::ManageIntegrations,
        "/admin/hr-export",
        "Completions to HR",
        "Send completed training to your HR system every day, by SFTP or to an S3 bucket",
    ),
    (
        Permission::EditContent,
        "/admin/hr-export/competences",
        "Competence codes",
        "Which HR competence each course completes, for the export to HR",
    ),
    (Permission::ReadAudit, "/admin/audit", "Audit trail", "Who did what on this site, and when"),
    (
        Permission::ReadAudit,
        "/admin/file-activity",
        "Uploads and downloads",
        "Who uploaded or downloaded which file, when, and its size",
    ),
];

/// The tools `me` may use, in the Admin page's order.
pub fn tools(me: &SignedIn) -> Vec<serde_json::Value> {
    TOOLS
        .iter()
        .filter(|(p, ..)| me.may(*p))
        .map(|(_, href, name, hint)| serde_json::json!({ "href": href, "name": name, "hint": hint }))
        .collect()
}

/// The [`Viewer`] of this request's session, if it is signed in to this site and not idle past
/// the configured limit (the header only; every page that shows anyone's data checks the session
/// against the database).
pub fn viewer_of(req: &Request) -> Option<Viewer> {
    let session = req.extensions().get::<Session>()?;
    let state = req.data::<AppState>()?;
    let Some(site) = req.data::<std::sync::Arc<Site>>() else {
        // The platform's own site: a platform administrator's session (checked by its pages).
        let signed_in: i64 = session.get(platform::K_SIGNED_IN)?;
        let absolute = i64::try_from(state.config.auth.session_absolute_hours * 3600).unwrap_or(i64::MAX);
        return (now_secs() - signed_in <= absolute).then(|| Viewer {
            tenant: String::new(),
            name: "Platform administrator".into(),
            admin: true,
            buy: false,
            sell: false,
        });
    };
    let viewer = session.get::<Viewer>(K_VIEWER).filter(|v| v.tenant == site.entry.id.to_string())?;
    let idle = i64::try_from(state.config.auth.session_idle_minutes * 60).unwrap_or(i64::MAX);
    let seen = session.get::<i64>(K_SEEN).unwrap_or(0);
    (now_secs() - seen <= idle).then_some(viewer)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Starts a session for `person` on this site: a new session id (so a planted one is useless),
/// recorded in `tx` (the caller's, committed with its audit entry) so the person can see it and
/// end it from their profile.
#[allow(clippy::too_many_arguments)] // each is a distinct fact about the sign-in
pub async fn sign_in(
    tx: &TenantTx,
    state: &AppState,
    req: &Request,
    session: &Session,
    site: &Site,
    person: PersonId,
    epoch: i32,
    method: Method,
) -> Result<(), AppError> {
    let ip = forwarded::client_ip(req, &state.proxies).map(|i| i.to_string());
    let agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok());
    let handle = sessions::start(tx, person, method, ip.as_deref(), agent).await?;
    // Active now: the retention schedule anonymises accounts unused for its period.
    identity::accounts::touch(tx, person).await?;
    session.clear();
    session.renew();
    session.set(K_TENANT, site.entry.id.to_string());
    session.set(K_PERSON, person.to_string());
    session.set(K_EPOCH, epoch);
    session.set(K_SID, handle.to_string());
    session.set(K_SIGNED_IN, now_secs());
    session.set(K_SEEN, now_secs());
    // A training manager is likely to open the compliance matrix next: count its totals now.
    if identity::membership(tx, person).await?.is_some_and(|m| m.roles.contains(&Role::TrainingManager)) {
        crate::usecases::compliance::totals::warm(state, site);
    }
    Ok(())
}

/// This session's handle in `person_sessions`, if signed in.
pub fn handle(session: &Session) -> Option<uuid::Uuid> {
    session.get::<String>(K_SID).and_then(|s| s.parse().ok())
}

/// Ends this session (and marks its record ended).
pub async fn sign_out(
    state: &AppState,
    site: &Site,
    session: &Session,
    person: Option<PersonId>,
) -> Result<(), AppError> {
    if let (Some(person), Some(h)) = (person, handle(session)) {
        let tx = state.dbs.app.begin(site.entry.id).await?;
        sessions::end(&tx, person, h).await?;
        tx.commit().await?;
    }
    session.purge();
    Ok(())
}

/// The signed-in person, if the session is for this trust, not timed out, not ended everywhere,
/// and the person is still an approved member here.
pub async fn current(state: &AppState, site: &Site, session: &Session) -> Result<Option<SignedIn>, AppError> {
    Ok(check(state, site, session).await?.map(|(me, _)| me))
}

/// [`current`], with the version of the trust's terms read in the same statement.
async fn check(
    state: &AppState,
    site: &Site,
    session: &Session,
) -> Result<Option<(SignedIn, Option<String>)>, AppError> {
    match check_open(state, site, session, false).await? {
        Some((me, terms, tx)) => {
            tx.commit().await?;
            Ok(Some((me, terms)))
        }
        None => Ok(None),
    }
}

/// The person this session is signed in as on `site`, as the session says (not checked against
/// the database: for the download log, after the handler has allowed the download).
pub fn session_person(session: &Session, site: &Site) -> Option<PersonId> {
    if session.get::<String>(K_TENANT).as_deref() != Some(site.entry.id.to_string().as_str()) {
        return None;
    }
    session.get::<String>(K_PERSON).and_then(|p| p.parse::<PersonId>().ok())
}

/// [`check`], leaving its transaction open for the page to read on in (one transaction, not two,
/// for a signed-in page). `writes`: the page will write in it (on SQLite, it takes the write lock
/// at once).
pub(crate) async fn check_open(
    state: &AppState,
    site: &Site,
    session: &Session,
    writes: bool,
) -> Result<Option<(SignedIn, Option<String>, TenantTx)>, AppError> {
    let Some(person) = session.get::<String>(K_PERSON).and_then(|p| p.parse::<PersonId>().ok()) else {
        return Ok(None);
    };
    // A session from another trust's site is nothing here (cookies are host-only anyway).
    if session.get::<String>(K_TENANT).as_deref() != Some(site.entry.id.to_string().as_str()) {
        return Ok(None);
    }
    let auth = &state.config.auth;
    let now = now_secs();
    let signed_in = session.get::<i64>(K_SIGNED_IN).unwrap_or(0);
    let seen = session.get::<i64>(K_SEEN).unwrap_or(0);
    let idle = i64::try_from(auth.session_idle_minutes * 60).unwrap_or(i64::MAX);
    let absolute = i64::try_from(auth.session_absolute_hours * 3600).unwrap_or(i64::MAX);
    if now - seen > idle || now - signed_in > absolute {
        session.purge();
        return Ok(None);
    }
    let Some(sid) = handle(session) else {
        session.purge();
        return Ok(None);
    };
    // At most once a minute the session's last use is written; otherwise the check only reads
    // (on SQLite a read transaction does not take the write lock).
    let touch = now - seen > 60;
    let tx = if touch || writes {
        state.dbs.app.begin(site.entry.id).await?
    } else {
        state.dbs.app.begin_read(site.entry.id).await?
    };
    let st = identity::sign_in_state(&tx, person, sid).await?;
    let live = st.as_ref().is_some_and(|s| s.live);
    if live && touch {
        sessions::touch(&tx, sid).await?;
    }
    let current_epoch = session.get::<i32>(K_EPOCH);
    match st {
        Some(s) if s.live && Some(s.epoch) == current_epoch && s.status == MembershipStatus::Approved => {
            if touch {
                session.set(K_SEEN, now);
            }
            let me = SignedIn { person, name: s.name, roles: s.roles, catalogue: s.catalogue };
            let viewer = Viewer::of(&me, site);
            if session.get::<Viewer>(K_VIEWER).as_ref() != Some(&viewer) {
                session.set(K_VIEWER, viewer);
            }
            Ok(Some((me, s.trust_terms, tx)))
        }
        _ => {
            tx.commit().await?;
            session.purge();
            Ok(None)
        }
    }
}

/// Wraps a route that reads a session or takes a form: server-side session (host-only cookie),
/// CSRF token issued, and verified on every unsafe method.
pub fn guard<E: poem::Endpoint + 'static>(ep: E, sec: &Security) -> impl poem::Endpoint + use<E> {
    use poem::EndpointExt;
    use poem::web::cookie::SameSite;
    let cookie = poem::session::CookieConfig::default()
        .name(crate::http::cookies::SESSION)
        .secure(sec.secure)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(sec.absolute);
    let csrf = poem::middleware::Csrf::new()
        .cookie_name(crate::http::cookies::CSRF)
        .key(sec.csrf_key)
        .secure(sec.secure)
        .http_only(true)
        .same_site(SameSite::Lax);
    ep.around(csrf::verify).with(csrf).with(poem::session::ServerSession::new(cookie, sec.store.clone()))
}

/// Whether this session has passed the terms check for the versions now current (the platform's
/// documents and the trust's terms), checking the acceptance records only when a version changed.
pub(crate) async fn agreed(
    state: &AppState,
    tx: &TenantTx,
    session: &Session,
    me: &SignedIn,
    trust_terms: Option<&str>,
) -> Result<bool, AppError> {
    // The versions this session last passed the check for: the platform's documents (fixed for the
    // life of the process) and the trust's terms (read with the sign-in state, so a new version
    // asks again at once). Unchanged, the acceptance records need not be read again.
    let agreed = format!(
        "{}|{}|trust:{}",
        me.person,
        state.terms.iter().map(|d| format!("{}:{}", d.key, d.version)).collect::<Vec<_>>().join(","),
        trust_terms.unwrap_or("-")
    );
    if session.get::<String>(K_AGREED).as_deref() == Some(agreed.as_str()) {
        return Ok(true);
    }
    let outstanding = trellis_db::terms::outstanding(tx, me.person, &state.terms).await?;
    if outstanding.is_empty() {
        session.set(K_AGREED, agreed);
        Ok(true)
    } else {
        Ok(false)
    }
}
