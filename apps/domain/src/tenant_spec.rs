//! `tenants/<slug>/tenant.toml`: a trust declared as data, and the rules that file must meet.
//!
//! Every error names the file, the line and the field at fault, and one bad file stops the whole
//! set from being applied: the caller gets every error at once, and nothing is half-applied.

use crate::colour::{ColourScheme, Rgb};
use crate::host::HostName;
use crate::slug::Slug;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The largest logo a trust may declare.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;

/// A validated trust declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSpec {
    pub slug: Slug,
    pub file: PathBuf,
    pub name: String,
    pub short_name: Option<String>,
    pub ods_code: String,
    /// The NHS England region (one of [`REGIONS`]), or empty where not given: a grouping of the
    /// anonymised statistics.
    pub region: String,
    pub theme: String,
    pub time_zone: String,
    /// Custom domains the operator declares; declared here, they count as verified.
    pub custom_domains: Vec<HostName>,
    pub colours: ColourScheme,
    pub logo: Option<Logo>,
    pub contact: Contact,
    pub messages: Vec<MessageSpec>,
    pub email_domains: Vec<String>,
    /// The trust's own terms, which its members accept besides the platform's.
    pub terms: Option<TermsSpec>,
    /// Single sign-on with the trust's OpenID provider.
    pub sso: Option<SsoSpec>,
    /// The trust's administrators must use two-step verification.
    pub require_admin_mfa: bool,
    /// Video services whose players may be embedded in the trust's pages (one of
    /// [`EMBED_SERVICES`] each): each person is asked for consent first.
    pub embeds: Vec<String>,
}

/// The video services a trust may allow to be embedded, each in its privacy-enhanced mode.
pub const EMBED_SERVICES: &[&str] = &["youtube", "vimeo"];

/// NHS England's seven regions: the only geography the anonymised statistics are grouped by.
pub const REGIONS: [&str; 7] =
    ["North East and Yorkshire", "North West", "Midlands", "East of England", "London", "South East", "South West"];

/// The region as listed in [`REGIONS`], matched without regard to case or spacing.
pub fn region_named(raw: &str) -> Option<&'static str> {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let want = norm(raw);
    REGIONS.into_iter().find(|r| norm(r) == want)
}

/// A trust's OpenID Connect settings.
#[derive(Clone, PartialEq, Eq)]
pub struct SsoSpec {
    pub issuer: String,
    pub client_id: String,
    /// The secret itself (discouraged outside development) ...
    pub client_secret: Option<String>,
    /// ... or the name of the environment variable that holds it.
    pub client_secret_env: Option<String>,
    /// The button's words, e.g. "Sign in with OpenAthens".
    pub label: String,
    pub claim_email: String,
    pub claim_email_verified: String,
    pub claim_given_name: String,
    pub claim_family_name: String,
}

impl fmt::Debug for SsoSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoSpec")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A trust's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsSpec {
    pub version: String,
    pub title: String,
    pub body: String,
}

/// A trust's logo file.
#[derive(Clone, PartialEq)]
pub struct Logo {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Logo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Logo({}, {} bytes)", self.content_type, self.bytes.len())
    }
}

/// How staff reach the trust's learning team.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
}

/// A key message shown on the trust's home page between two dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSpec {
    /// Stable identifier within the trust, so re-applying the file updates rather than duplicates.
    pub key: String,
    pub title: String,
    pub body: String,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub file: PathBuf,
    /// 1-based line, when the problem has a place in the file.
    pub line: Option<usize>,
    /// The dotted field path, e.g. `branding.colours.primary`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}: {}", self.file.display(), line, self.field, self.message),
            None => write!(f, "{}: {}: {}", self.file.display(), self.field, self.message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Spanned<String>,
    short_name: Option<Spanned<String>>,
    ods_code: Spanned<String>,
    region: Option<Spanned<String>>,
    theme: Option<Spanned<String>>,
    time_zone: Option<Spanned<String>>,
    #[serde(default)]
    custom_domains: Vec<Spanned<String>>,
    #[serde(default)]
    require_admin_mfa: bool,
    #[serde(default)]
    embeds: Vec<Spanned<String>>,
    #[serde(default)]
    branding: RawBranding,
    #[serde(default)]
    contact: RawContact,
    #[serde(default)]
    messages: Vec<RawMessage>,
    #[serde(default)]
    eligibility: RawEligibility,
    terms: Option<RawTerms>,
    sso: Option<RawSso>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSso {
    issuer: Spanned<String>,
    client_id: Spanned<String>,
    client_secret: Option<Spanned<String>>,
    client_secret_env: Option<Spanned<String>>,
    label: Option<Spanned<String>>,
    #[serde(default)]
    claims: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerms {
    version: Spanned<String>,
    title: Spanned<String>,
    body: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBranding {
    logo: Option<Spanned<String>>,
    #[serde(default)]
    colours: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawContact {
    email: Option<Spanned<String>>,
    phone: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    website: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMessage {
    key: Spanned<String>,
    title: Spanned<String>,
    body: Spanned<String>,
    starts: Spanned<toml::value::Datetime>,
    ends: Option<Spanned<toml::value::Datetime>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEligibility {
    #[serde(default)]
    email_domains: Vec<Spanned<String>>,
}

/// What the rules need to know of the world outside the file.
#[derive(Debug, Clone)]
pub struct SpecContext {
    /// Themes that exist (folders under `themes/`).
    pub themes: Vec<String>,
    /// The platform's base domain: custom domains may not sit at or under it.
    pub base_domain: HostName,
    /// `development.allow_local_network`: single sign-on issuers may be `http://` or local.
    pub allow_local_network: bool,
}

struct Checker<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Vec<SpecError>,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.source.get(..offset).map_or(1, |s| s.matches('\n').count() + 1)
    }

    fn fail<T>(&mut self, at: &Spanned<T>, field: impl Into<String>, message: impl Into<String>) {
        let line = self.line_of(at.span().start);
        self.errors.push(SpecError {
            file: self.file.to_owned(),
            line: Some(line),
            field: field.into(),
            message: message.into(),
        });
    }

    fn text(&mut self, v: &Spanned<String>, field: &str, max: usize) -> String {
        let s = v.get_ref().trim();
        if s.is_empty() {
            self.fail(v, field, "must not be empty");
        } else if s.chars().count() > max {
            self.fail(v, field, format!("must be at most {max} characters"));
        } else if s.chars().any(|c| c.is_control() && c != '\n') {
            self.fail(v, field, "must not contain control characters");
        }
        s.to_owned()
    }

    fn opt_text(&mut self, v: &Option<Spanned<String>>, field: &str, max: usize) -> Option<String> {
        v.as_ref().map(|v| self.text(v, field, max))
    }

    fn date(&mut self, v: &Spanned<toml::value::Datetime>, field: &str) -> Option<NaiveDate> {
        let dt = v.get_ref();
        match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                let date = NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day));
                if date.is_none() {
                    self.fail(v, field, "is not a real date");
                }
                date
            }
            _ => {
                self.fail(v, field, "must be a date such as 2026-12-31, without a time");
                None
            }
        }
    }
}

/// Parses and validates one `tenant.toml`. `slug` is its folder name.
pub fn parse(file: &Path, slug: &str, source: &str, ctx: &SpecContext) -> Result<TenantSpec, Vec<SpecError>> {
    let mut c = Checker { file, source, errors: Vec::new() };
    let slug = match Slug::parse(slug) {
        Ok(s) => Some(s),
        Err(e) => {
            c.errors.push(SpecError {
                file: file.to_owned(),
                line: None,
                field: "slug (the folder name)".into(),
                message: e.to_string(),
            });
            None
        }
    };
    let raw: RawSpec = match toml::from_str(source) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.span().map(|s| c.line_of(s.start));
            let message = e.message().to_owned();
            let field = field_from_message(&message);
            c.errors.push(SpecError { file: file.to_owned(), line, field, message });
            return Err(c.errors);
        }
    };

    let name = c.text(&raw.name, "name", 200);
    let short_name = c.opt_text(&raw.short_name, "short_name", 60);
    let ods_code = raw.ods_code.get_ref().trim().to_owned();
    let ods_ok =
        (3..=6).contains(&ods_code.len()) && ods_code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !ods_ok {
        c.fail(
            &raw.ods_code,
            "ods_code",
            "must be an ODS code: 3 to 6 uppercase letters and digits, such as RXX or RXX01",
        );
    }

    let region = match &raw.region {
        Some(r) => match region_named(r.get_ref()) {
            Some(known) => known.to_owned(),
            None => {
                c.fail(r, "region", format!("must be an NHS England region: {}", REGIONS.join(", ")));
                String::new()
            }
        },
        None => String::new(),
    };

    let mut embeds = Vec::new();
    for e in &raw.embeds {
        let name = e.get_ref().trim().to_lowercase();
        if EMBED_SERVICES.contains(&name.as_str()) {
            if !embeds.contains(&name) {
                embeds.push(name);
            }
        } else {
            c.fail(e, "embeds", format!("must list only {}", EMBED_SERVICES.join(" and ")));
        }
    }

    let theme = match &raw.theme {
        Some(t) => {
            if !ctx.themes.iter().any(|known| known == t.get_ref()) {
                let known = ctx.themes.join(", ");
                c.fail(t, "theme", format!("no theme named \"{}\" (themes: {known})", t.get_ref()));
            }
            t.get_ref().clone()
        }
        None => "default".to_owned(),
    };

    let time_zone = match &raw.time_zone {
        Some(tz) => {
            if tz.get_ref().parse::<chrono_tz::Tz>().is_err() {
                c.fail(tz, "time_zone", format!("\"{}\" is not an IANA time zone such as Europe/London", tz.get_ref()));
            }
            tz.get_ref().clone()
        }
        None => "Europe/London".to_owned(),
    };

    let mut custom_domains = Vec::new();
    for (i, d) in raw.custom_domains.iter().enumerate() {
        let field = format!("custom_domains[{i}]");
        match HostName::parse(d.get_ref()) {
            Ok(h) if h.as_str().split('.').count() < 2 => {
                c.fail(d, field, "must be a full domain name such as learning.example.org");
            }
            Ok(h) if h == ctx.base_domain || h.as_str().ends_with(&format!(".{}", ctx.base_domain)) => {
                c.fail(d, field, format!("must not be under the platform's own domain {}", ctx.base_domain));
            }
            Ok(h) if custom_domains.contains(&h) => c.fail(d, field, format!("{h} is listed twice")),
            Ok(h) => custom_domains.push(h),
            Err(e) => c.fail(d, field, format!("is not a valid domain name: {e}")),
        }
    }

    let colours = colours(&mut c, &raw.branding.colours);
    let logo = raw.branding.logo.as_ref().and_then(|l| logo(&mut c, l));
    let contact = contact(&mut c, &raw.contact);

    let mut messages = Vec::new();
    for (i, m) in raw.messages.iter().enumerate() {
        let at = |f: &str| format!("messages[{i}].{f}");
        let key = m.key.get_ref().clone();
        if Slug::parse(&key).is_err() && !matches!(Slug::parse(&key), Err(crate::slug::SlugError::Reserved(_))) {
            c.fail(&m.key, at("key"), "must be lowercase letters, digits and hyphens, such as \"welcome\"");
        }
        if messages.iter().any(|x: &MessageSpec| x.key == key) {
            c.fail(&m.key, at("key"), format!("\"{key}\" is used by an earlier message"));
        }
        let title = c.text(&m.title, &at("title"), 120);
        let body = c.text(&m.body, &at("body"), 2000);
        let starts = c.date(&m.starts, &at("starts"));
        let ends = m.ends.as_ref().and_then(|e| c.date(e, &at("ends")));
        if let (Some(s), Some(e), Some(raw_end)) = (starts, ends, &m.ends)
            && e < s
        {
            c.fail(raw_end, at("ends"), "must not be before starts");
        }
        if let Some(starts_on) = starts {
            messages.push(MessageSpec { key, title, body, starts_on, ends_on: ends });
        }
    }

    let mut email_domains = Vec::new();
    for (i, d) in raw.eligibility.email_domains.iter().enumerate() {
        match HostName::parse(d.get_ref()) {
            Ok(h) if h.as_str().contains('.') => email_domains.push(h.as_str().to_owned()),
            _ => c.fail(
                d,
                format!("eligibility.email_domains[{i}]"),
                format!("\"{}\" is not an email domain such as trust.nhs.uk", d.get_ref()),
            ),
        }
    }

    let terms = raw.terms.as_ref().map(|t| {
        let version = c.text(&t.version, "terms.version", 32);
        TermsSpec { version, title: c.text(&t.title, "terms.title", 200), body: c.text(&t.body, "terms.body", 20_000) }
    });

    let sso = raw.sso.as_ref().map(|r| sso(&mut c, r, ctx.allow_local_network));

    match slug {
        Some(slug) if c.errors.is_empty() => Ok(TenantSpec {
            require_admin_mfa: raw.require_admin_mfa,
            embeds,
            sso,
            terms,
            slug,
            file: file.to_owned(),
            name,
            short_name,
            ods_code,
            region,
            theme,
            time_zone,
            custom_domains,
            colours,
            logo,
            contact,
            messages,
            email_domains,
        }),
        _ => Err(c.errors),
    }
}

/// Whether an OpenID provider's issuer address may be used: an `https://` URL with a public host
/// name or address, no query or fragment (the URL is parsed, not matched by prefix); `http://` and
/// local hosts only with the development setting `allow_local`. Where the name resolves to is
/// checked again when connecting.
pub fn issuer_acceptable(issuer: &str, allow_local: bool) -> bool {
    crate::outbound::check_url(issuer, allow_local)
        .is_ok_and(|u| u.query().is_none() && u.fragment().is_none() && u.host_str().is_some_and(|h| !h.is_empty()))
}

fn sso(c: &mut Checker<'_>, r: &RawSso, allow_local: bool) -> SsoSpec {
    let issuer = r.issuer.get_ref().trim().trim_end_matches('/').to_owned();
    if !issuer_acceptable(&issuer, allow_local) {
        c.fail(
            &r.issuer,
            "sso.issuer",
            "must be an https:// address of a public host (http:// and local hosts only with development.allow_local_network)",
        );
    }
    let client_id = c.text(&r.client_id, "sso.client_id", 200);
    match (&r.client_secret, &r.client_secret_env) {
        (Some(_), Some(e)) => c.fail(e, "sso.client_secret_env", "give client_secret or client_secret_env, not both"),
        (None, None) => c.fail(
            &r.client_id,
            "sso.client_secret_env",
            "give client_secret_env (the environment variable holding the secret)",
        ),
        _ => {}
    }
    let bad_env = |e: &Spanned<String>| {
        e.get_ref().is_empty()
            || !e.get_ref().bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    if let Some(e) = r.client_secret_env.as_ref().filter(|e| bad_env(e)) {
        c.fail(e, "sso.client_secret_env", "must be an environment variable name such as NORTHMOOR_OIDC_SECRET");
    }

    let mut claim = |key: &str, default: &str| match r.claims.get(key) {
        Some(v) => c.text(v, &format!("sso.claims.{key}"), 100),
        None => default.to_owned(),
    };
    let claim_email = claim("email", "email");
    let claim_email_verified = claim("email_verified", "email_verified");
    let claim_given_name = claim("given_name", "given_name");
    let claim_family_name = claim("family_name", "family_name");
    for (key, at) in &r.claims {
        if !["email", "email_verified", "given_name", "family_name"].contains(&key.as_str()) {
            c.fail(
                at,
                format!("sso.claims.{key}"),
                "unknown claim (expected email, email_verified, given_name or family_name)",
            );
        }
    }
    SsoSpec {
        issuer,
        client_id,
        client_secret: r.client_secret.as_ref().map(|s| s.get_ref().clone()),
        client_secret_env: r.client_secret_env.as_ref().map(|s| s.get_ref().clone()),
        label: r
            .label
            .as_ref()
            .map_or_else(|| "Sign in with your organisation's account".to_owned(), |l| c.text(l, "sso.label", 100)),
        claim_email,
        claim_email_verified,
        claim_given_name,
        claim_family_name,
    }
}

fn field_from_message(message: &str) -> String {
    // serde's messages quote the field: "missing field `name`", "unknown field `x`, expected …".
    message.split('`').nth(1).map_or_else(|| "(file)".to_owned(), str::to_owned)
}

fn colours(c: &mut Checker<'_>, raw: &BTreeMap<String, Spanned<String>>) -> ColourScheme {
    let mut scheme = ColourScheme::DEFAULT;
    let mut parsed = true;
    for (key, value) in raw {
        let field = format!("branding.colours.{key}");
        let Some(rgb) = Rgb::parse(value.get_ref()) else {
            c.fail(value, field, format!("\"{}\" is not a colour such as #005eb8", value.get_ref()));
            parsed = false;
            continue;
        };
        match key.as_str() {
            "primary" => scheme.primary = rgb,
            "on_primary" => scheme.on_primary = rgb,
            "link" => scheme.link = rgb,
            "accent" => scheme.accent = rgb,
            _ => {
                c.fail(value, field, "unknown colour (expected primary, on_primary, link or accent)");
                parsed = false;
            }
        }
    }
    if parsed {
        for failure in scheme.check() {
            // Point at the colour the file declares: the foreground if it does, else the background.
            let declared =
                std::iter::once(failure.field).chain(failure.against).find_map(|f| raw.get(f).map(|at| (f, at)));
            match declared {
                Some((f, at)) => c.fail(at, format!("branding.colours.{f}"), failure.message),
                None => c.errors.push(SpecError {
                    file: c.file.to_owned(),
                    line: None,
                    field: format!("branding.colours.{}", failure.field),
                    message: failure.message,
                }),
            }
        }
    }
    scheme
}

fn logo(c: &mut Checker<'_>, raw: &Spanned<String>) -> Option<Logo> {
    let name = raw.get_ref();
    if name.contains("..") || name.starts_with('/') || name.contains('\\') {
        c.fail(raw, "branding.logo", "must be a file name inside the trust's folder");
        return None;
    }
    let content_type = match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => {
            c.fail(raw, "branding.logo", "must be an .svg or .png file");
            return None;
        }
    };
    let path = c.file.parent().map(|dir| dir.join(name)).unwrap_or_else(|| PathBuf::from(name));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            c.fail(raw, "branding.logo", format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    match check_logo(&bytes, content_type) {
        Ok(bytes) => Some(Logo { content_type, bytes }),
        Err(e) => {
            c.fail(raw, "branding.logo", format!("{}: {e}", path.display()));
            None
        }
    }
}

/// What a logo's bytes are, by their content (never by a name or a declared type): PNG or a plain
/// SVG image.
pub fn sniff_logo(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    (std::str::from_utf8(bytes).is_ok() && (head.trim_start().starts_with("<svg") || head.contains("<svg")))
        .then_some("image/svg+xml")
}

/// Checks a logo: within the size limit and really of `content_type`. Returns the bytes to keep:
/// a PNG as it is; an SVG rebuilt from only drawing elements and attributes ([`crate::svg`]), so
/// nothing in it can run a script or fetch anything.
pub fn check_logo(bytes: &[u8], content_type: &str) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!("the file is {} bytes; the limit is {MAX_LOGO_BYTES}", bytes.len()));
    }
    if sniff_logo(bytes) != Some(content_type) {
        return Err(format!("the file is not a {content_type} image"));
    }
    if content_type == "image/svg+xml" { crate::svg::sanitise(bytes) } else { Ok(bytes.to_vec()) }
}

fn contact(c: &mut Checker<'_>, raw: &RawContact) -> Contact {
    let email = c.opt_text(&raw.email, "contact.email", 254);
    if let (Some(e), Some(at)) = (&email, &raw.email) {
        let valid = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !e.contains(char::is_whitespace)
                && HostName::parse(domain).is_ok_and(|d| d.as_str().contains('.'))
        });
        if !valid {
            c.fail(at, "contact.email", format!("\"{e}\" is not an email address"));
        }
    }
    let website = c.opt_text(&raw.website, "contact.website", 500);
    if let (Some(w), Some(at)) = (&website, &raw.website) {
        let host = w.strip_prefix("https://").or_else(|| w.strip_prefix("http://"));
        if host.is_none_or(|h| HostName::parse(h.split('/').next().unwrap_or_default()).is_err()) {
            c.fail(at, "contact.website", format!("\"{w}\" is not a web address starting with https://"));
        }
    }
    Contact {
        email,
        phone: c.opt_text(&raw.phone, "contact.phone", 40),
        address: c.opt_text(&raw.address, "contact.address", 300),
        website,
    }
}

/// Reads every `<dir>/<slug>/tenant.toml`, validates each, and checks the set: no host or domain
/// declared twice. Returns every error from every file.
pub fn load_dir(dir: &Path, ctx: &SpecContext) -> Result<Vec<TenantSpec>, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut specs = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            return Err(vec![SpecError {
                file: dir.to_owned(),
                line: None,
                field: "(folder)".into(),
                message: e.to_string(),
            }]);
        }
    };
    let mut folders: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("tenant.toml").is_file()).collect();
    folders.sort();
    for folder in folders {
        let file = folder.join("tenant.toml");
        let slug = folder.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
        match std::fs::read_to_string(&file) {
            Ok(source) => match parse(&file, &slug, &source, ctx) {
                Ok(spec) => specs.push(spec),
                Err(mut e) => errors.append(&mut e),
            },
            Err(e) => errors.push(SpecError { file, line: None, field: "(file)".into(), message: e.to_string() }),
        }
    }
    errors.extend(duplicate_domains(&specs));
    if errors.is_empty() { Ok(specs) } else { Err(errors) }
}

/// Every custom domain declared by two trusts, as an error on the second file.
pub fn duplicate_domains(specs: &[TenantSpec]) -> Vec<SpecError> {
    let mut seen: BTreeMap<&HostName, &TenantSpec> = BTreeMap::new();
    let mut errors = Vec::new();
    for spec in specs {
        for domain in &spec.custom_domains {
            if let Some(first) = seen.insert(domain, spec) {
                errors.push(SpecError {
                    file: spec.file.clone(),
                    line: None,
                    field: "custom_domains".into(),
                    message: format!("{domain} is also declared by {} ({})", first.slug, first.file.display()),
                });
            }
        }
    }
    errors
}

#[cfg(test)]
#[path = "tenant_spec_tests.rs"]
mod tests;
