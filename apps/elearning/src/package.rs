//! Checking an uploaded package and reading what it holds.
//!
//! A zip is checked before anything is stored: the number of files, the total and per-file sizes
//! it declares, each file's compression ratio (a "zip bomb" declares little and inflates to a lot),
//! paths (none absolute, none climbing out with `..`, no backslashes or drive letters, no links),
//! and a manifest that parses. SCORM packages carry `imsmanifest.xml` at the root, cmi5 packages
//! `cmi5.xml`; each launchable item (a SCO, an AU) becomes one session of the course. Every error
//! names the file at fault and what is wrong with it.

use crate::xml::{self, Element};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::{Read, Seek};

/// How large a package may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Files in the zip.
    pub max_files: usize,
    /// Bytes once unpacked, all files together.
    pub max_total_bytes: u64,
    /// Compression ratio of any file larger than 1 MiB unpacked.
    pub max_ratio: u64,
    /// Bytes of the manifest.
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_files: 20_000, max_total_bytes: 2 << 30, max_ratio: 200, max_manifest_bytes: 4 << 20 }
    }
}

/// The e-learning standard a package follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standard {
    Scorm12,
    /// SCORM 2004, with the edition the manifest declares ("2004 3rd Edition", "2004 4th
    /// Edition", or "CAM 1.3" for the 2nd).
    Scorm2004 {
        edition: String,
    },
    Cmi5,
}

impl Standard {
    /// A short name: `scorm12`, `scorm2004` or `cmi5`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Standard::Scorm12 => "scorm12",
            Standard::Scorm2004 { .. } => "scorm2004",
            Standard::Cmi5 => "cmi5",
        }
    }
}

/// One thing a learner launches: a SCO (SCORM) or an AU (cmi5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Launchable {
    /// The item's (SCORM) or AU's (cmi5) identifier.
    pub identifier: String,
    pub title: String,
    /// The file to launch, relative to the package's root (SCORM), or the AU's URL as written
    /// (cmi5: relative to the package, or absolute for content hosted elsewhere).
    pub href: String,
    /// SCORM: the item's `parameters`, to append to the launch URL; cmi5: the AU's launch parameters.
    pub parameters: String,
    /// SCORM 1.2 `adlcp:masteryscore` (0–100) or cmi5 `masteryScore` (0–1), as a fraction 0–1;
    /// SCORM 2004: the primary objective's `minNormalizedMeasure` where it is satisfied by measure.
    pub mastery_score: Option<f64>,
    /// SCORM `adlcp:datafromlms`, or empty.
    pub launch_data: String,
    /// cmi5 `moveOn` (`Passed`, `Completed`, `CompletedAndPassed`, `CompletedOrPassed`,
    /// `NotApplicable`); empty for SCORM.
    pub move_on: String,
    /// cmi5 `launchMethod` (`AnyWindow` or `OwnWindow`); empty for SCORM.
    pub launch_method: String,
    /// cmi5: the blocks the AU sits in, outermost first.
    pub blocks: Vec<Block>,
    /// SCORM: an asset (`adlcp:scormtype="asset"`), which has no API to report through: it
    /// counts as completed when launched.
    #[serde(default)]
    pub asset: bool,
}

/// A cmi5 block: its publisher id and title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub id: String,
    pub title: String,
}

/// What a checked package holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub standard: Standard,
    pub title: String,
    pub description: String,
    /// cmi5: the course's `id` (an IRI); SCORM: the manifest's identifier.
    pub identifier: String,
    /// In the order the learner meets them.
    pub launchables: Vec<Launchable>,
    /// Every file (not folders), with its unpacked size.
    pub files: Vec<(String, u64)>,
}

/// Why a package was refused: the file at fault and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PackageError {
    pub file: String,
    pub message: String,
}

fn err(file: &str, message: impl Into<String>) -> PackageError {
    PackageError { file: file.to_owned(), message: message.into() }
}

const UPLOAD: &str = "the upload";

/// A path inside the package that stays inside it, or why not.
fn safe_path(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a file has no name".into());
    }
    if name.contains('\\') {
        return Err("a path with a backslash (paths in a zip use /)".into());
    }
    if name.contains('\0') || name.chars().any(char::is_control) {
        return Err("a path with a control character".into());
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Err("an absolute path".into());
    }
    if name.split('/').any(|part| part == "..") {
        return Err("a path that climbs out of the package (..)".into());
    }
    Ok(())
}

/// Checks a package and reads its manifest. Nothing is unpacked but the manifest, which is read
/// no further than [`Limits::max_manifest_bytes`] whatever its entry declares.
pub fn inspect<R: Read + Seek>(reader: R, limits: &Limits) -> Result<Package, PackageError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| err(UPLOAD, format!("not a readable zip file ({e})")))?;
    if zip.len() > limits.max_files {
        return Err(err(UPLOAD, format!("{} files; a package may hold at most {}", zip.len(), limits.max_files)));
    }
    let mut files = Vec::new();
    let mut names = HashSet::new();
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| err(UPLOAD, format!("entry {i} cannot be read ({e})")))?;
        let name = f.name().map_err(|e| err(UPLOAD, format!("entry {i} has an unreadable name ({e})")))?.into_owned();
        safe_path(&name).map_err(|m| err(&name, m))?;
        if f.is_symlink() {
            return Err(err(&name, "a link (packages may hold only files and folders)"));
        }
        if f.encrypted() {
            return Err(err(&name, "encrypted (packages must not be password-protected)"));
        }
        if f.is_dir() {
            continue;
        }
        let size = f.size();
        if size > 1 << 20 && size / f.compressed_size().max(1) > limits.max_ratio {
            return Err(err(
                &name,
                format!(
                    "compressed {}:1 (at most {}:1 is accepted: this looks like a zip bomb)",
                    size / f.compressed_size().max(1),
                    limits.max_ratio
                ),
            ));
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(err(UPLOAD, format!("more than {} MB once unpacked", limits.max_total_bytes / 1024 / 1024)));
        }
        if !names.insert(name.to_lowercase()) {
            return Err(err(&name, "appears twice in the package"));
        }
        files.push((name, size));
    }
    let has = |n: &str| files.iter().any(|(f, _)| f == n);
    let (manifest_name, standard_hint) = if has("imsmanifest.xml") {
        ("imsmanifest.xml", "scorm")
    } else if has("cmi5.xml") {
        ("cmi5.xml", "cmi5")
    } else {
        let nested = files.iter().find(|(f, _)| f.ends_with("/imsmanifest.xml") || f.ends_with("/cmi5.xml"));
        return Err(match nested {
            Some((f, _)) => err(
                f,
                "the manifest must be at the top of the zip, not in a folder: zip the folder's contents, not the folder",
            ),
            None => err(UPLOAD, "no imsmanifest.xml (SCORM) or cmi5.xml (cmi5) at the top of the zip"),
        });
    };
    let text = {
        let entry = zip.by_name(manifest_name).map_err(|e| err(manifest_name, format!("cannot be read ({e})")))?;
        let mut bytes = Vec::new();
        entry
            .take(limits.max_manifest_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(manifest_name, format!("cannot be unpacked ({e})")))?;
        if bytes.len() as u64 > limits.max_manifest_bytes {
            return Err(err(manifest_name, format!("larger than {} MB", limits.max_manifest_bytes / 1024 / 1024)));
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").map(<[u8]>::to_vec).unwrap_or(bytes);
        String::from_utf8(bytes).map_err(|_| err(manifest_name, "not UTF-8 text"))?
    };
    let root = xml::parse(&text).map_err(|m| err(manifest_name, m))?;
    let mut package = if standard_hint == "scorm" { scorm(&root)? } else { cmi5(&root)? };
    if package.launchables.is_empty() {
        return Err(err(manifest_name, "declares nothing to launch (no SCO or AU)"));
    }
    for l in &package.launchables {
        if is_absolute_url(&l.href) {
            continue;
        }
        let path = l.href.split(['?', '#']).next().unwrap_or("");
        let path = percent_decode(path);
        safe_path(&path).map_err(|m| err(manifest_name, format!("{}: launch file {}: {m}", l.identifier, l.href)))?;
        if !has(&path) {
            return Err(err(
                manifest_name,
                format!("{} launches {}, which is not in the package", l.identifier, l.href),
            ));
        }
    }
    package.files = files;
    Ok(package)
}

/// Unpacks every file of a package that [`inspect`] accepted, handing each (path, bytes) to
/// `store` in the zip's order. Each file is read no further than the size its entry declares (a
/// zip whose entries lie about their sizes is refused, not trusted), so memory is bounded by the
/// largest file. `store` may refuse a file; the error names it.
pub fn extract<R: Read + Seek>(
    reader: R,
    limits: &Limits,
    mut store: impl FnMut(&str, Vec<u8>) -> Result<(), String>,
) -> Result<(), PackageError> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| err(UPLOAD, format!("not a readable zip file ({e})")))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let f = zip.by_index(i).map_err(|e| err(UPLOAD, format!("entry {i} cannot be read ({e})")))?;
        if f.is_dir() {
            continue;
        }
        let name = f.name().map_err(|e| err(UPLOAD, format!("entry {i} has an unreadable name ({e})")))?.into_owned();
        safe_path(&name).map_err(|m| err(&name, m))?;
        let declared = f.size();
        total = total.saturating_add(declared);
        if total > limits.max_total_bytes {
            return Err(err(UPLOAD, format!("more than {} MB once unpacked", limits.max_total_bytes / 1024 / 1024)));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(declared.min(1 << 24)).unwrap_or(0));
        f.take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| err(&name, format!("cannot be unpacked ({e})")))?;
        if bytes.len() as u64 != declared {
            return Err(err(&name, "unpacks to a size other than the one its entry declares"));
        }
        store(&name, bytes).map_err(|m| err(&name, m))?;
    }
    Ok(())
}

fn is_absolute_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// `%20` and friends in a launch path, as the file is named in the zip.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Joins a resource's `xml:base` and `href` into a path from the package's root.
fn join_base(bases: &[&str], href: &str) -> String {
    if is_absolute_url(href) {
        return href.to_owned();
    }
    let mut s = String::new();
    for b in bases {
        if b.is_empty() {
            continue;
        }
        if is_absolute_url(b) {
            s = (*b).to_owned();
        } else {
            s.push_str(b);
        }
        if !s.ends_with('/') {
            s.push('/');
        }
    }
    s.push_str(href);
    s
}

fn scorm(root: &Element) -> Result<Package, PackageError> {
    const M: &str = "imsmanifest.xml";
    if root.name != "manifest" {
        return Err(err(M, format!("the root element is <{}>, not <manifest>", root.name)));
    }
    let version = root.child("metadata").and_then(|m| m.child_text("schemaversion")).unwrap_or_default();
    let standard = match version.as_str() {
        "1.2" => Standard::Scorm12,
        v if v.starts_with("2004") || v == "CAM 1.3" => Standard::Scorm2004 { edition: v.to_owned() },
        "" => {
            // Old 1.2 packages often omit the version; the adlcp 1.2 namespace tells.
            let ns: Vec<&str> = root.attrs.iter().map(|(_, v)| v.as_str()).collect();
            if ns.iter().any(|v| v.contains("adlcp_rootv1p2")) {
                Standard::Scorm12
            } else if ns.iter().any(|v| v.contains("adlcp_v1p3")) {
                Standard::Scorm2004 { edition: "2004".into() }
            } else {
                return Err(err(M, "no <schemaversion> (1.2, CAM 1.3, 2004 3rd Edition or 2004 4th Edition)"));
            }
        }
        other => {
            return Err(err(M, format!("schema version {other:?} is not SCORM 1.2 or 2004")));
        }
    };
    let orgs = root.child("organizations").ok_or_else(|| err(M, "no <organizations>"))?;
    let default = orgs.attr("default").unwrap_or("");
    let org = orgs
        .children("organization")
        .find(|o| o.attr("identifier") == Some(default))
        .or_else(|| orgs.child("organization"))
        .ok_or_else(|| err(M, "no <organization>"))?;
    let resources = root.child("resources").ok_or_else(|| err(M, "no <resources>"))?;
    let base_root = root.attr("base").unwrap_or("");
    let base_resources = resources.attr("base").unwrap_or("");
    let mut launchables = Vec::new();
    let mut seen = HashSet::new();
    collect_items(org, &mut |item: &Element| -> Result<(), PackageError> {
        let id = item.attr("identifier").unwrap_or("").to_owned();
        if id.is_empty() {
            return Err(err(M, "an <item> has no identifier"));
        }
        if !seen.insert(id.clone()) {
            return Err(err(M, format!("item identifier {id} is used twice")));
        }
        let Some(rref) = item.attr("identifierref") else { return Ok(()) };
        // Items hidden from the learner's table of contents are not made sessions: they are
        // reached (if at all) only by the content's own navigation, and never block a course.
        if item.attr("isvisible").is_some_and(|v| v.trim().eq_ignore_ascii_case("false")) {
            return Ok(());
        }
        let res = resources
            .children("resource")
            .find(|r| r.attr("identifier") == Some(rref))
            .ok_or_else(|| err(M, format!("item {id} refers to resource {rref}, which is not declared")))?;
        let kind = res.attr("scormtype").or_else(|| res.attr("scormType")).unwrap_or("sco").to_lowercase();
        let href = res.attr("href").unwrap_or("");
        if href.is_empty() {
            return Err(err(M, format!("resource {rref} (item {id}) has no href to launch")));
        }
        if kind != "sco" && kind != "asset" {
            return Err(err(M, format!("resource {rref} has scormType {kind:?} (sco or asset)")));
        }
        let mastery = match &standard {
            Standard::Scorm12 => item
                .child_text("masteryscore")
                .map(|t| t.parse::<f64>().map_err(|_| err(M, format!("item {id}: masteryscore {t:?} is not a number"))))
                .transpose()?
                .map(|v| v / 100.0),
            _ => item
                .child("sequencing")
                .and_then(|s| s.child("objectives"))
                .and_then(|o| o.child("primaryObjective"))
                .filter(|p| p.attr("satisfiedByMeasure") == Some("true"))
                .and_then(|p| p.child_text("minNormalizedMeasure"))
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| err(M, format!("item {id}: minNormalizedMeasure {t:?} is not a number")))
                })
                .transpose()?,
        };
        if let Some(m) = mastery
            && !(0.0..=1.0).contains(&m)
        {
            return Err(err(M, format!("item {id}: mastery score out of range")));
        }
        launchables.push(Launchable {
            identifier: id,
            title: item.child_text("title").unwrap_or_else(|| rref.to_owned()),
            href: join_base(&[base_root, base_resources, res.attr("base").unwrap_or("")], href),
            parameters: item.attr("parameters").unwrap_or("").to_owned(),
            mastery_score: mastery,
            launch_data: item.child_text("datafromlms").unwrap_or_default(),
            move_on: String::new(),
            launch_method: String::new(),
            blocks: vec![],
            asset: kind == "asset",
        });
        Ok(())
    })?;
    Ok(Package {
        standard,
        title: org.child_text("title").unwrap_or_else(|| "Untitled package".into()),
        description: String::new(),
        identifier: root.attr("identifier").unwrap_or("").to_owned(),
        launchables,
        files: vec![],
    })
}

/// Visits a SCORM organisation's items in document order (depth first).
fn collect_items<F>(parent: &Element, f: &mut F) -> Result<(), PackageError>
where
    F: FnMut(&Element) -> Result<(), PackageError>,
{
    for item in parent.children("item") {
        f(item)?;
        collect_items(item, f)?;
    }
    Ok(())
}

/// The first `<langstring>` under a cmi5 title or description (the first language given).
fn langstring(el: Option<&Element>) -> String {
    el.and_then(|e| e.child("langstring")).map(|l| l.text.trim().to_owned()).unwrap_or_default()
}

/// Whether an id is an IRI, as cmi5 requires of every course, block, AU and objective id
/// (3.0.0.0-1): absolute, with a scheme (a bare "w3id.org/…" is not).
fn is_iri(id: &str) -> bool {
    !id.chars().any(char::is_whitespace) && url::Url::parse(id).is_ok()
}

/// The launch parameters cmi5 adds to an AU's URL; an AU URL may not carry them itself (8.1.0.0-6).
const RESERVED_PARAMS: [&str; 5] = ["endpoint", "fetch", "actor", "registration", "activityId"];

/// Checks an AU's URL (13.1.4.0-2, 8.1.0.0-6): a URL (absolute, or relative to the package) with
/// no spaces, whose query does not set cmi5's own launch parameters.
fn check_au_url(id: &str, url: &str) -> Result<(), PackageError> {
    const M: &str = "cmi5.xml";
    let parsed = if is_absolute_url(url) {
        url::Url::parse(url)
    } else {
        url::Url::parse("https://package.invalid/").and_then(|b| b.join(url))
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) || parsed.is_err() {
        return Err(err(M, format!("AU {id}: {url:?} is not a valid URL (cmi5 13.1.4.0-2)")));
    }
    if let Ok(u) = parsed {
        for (k, _) in u.query_pairs() {
            if RESERVED_PARAMS.contains(&k.as_ref()) {
                return Err(err(
                    M,
                    format!("AU {id}: its URL sets {k}, a parameter cmi5 reserves for the launch (cmi5 8.1.0.0-6)"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks that an element's children named in `order` come in that order (the course
/// structure schema's sequences; cmi5 13.2.0.0-1), and that the `required` ones are there.
/// Children of other names (extensions in other namespaces) are left alone.
fn check_order(el: &Element, what: &str, order: &[&str], required: &[&str]) -> Result<(), PackageError> {
    const M: &str = "cmi5.xml";
    let mut at = 0;
    for c in &el.children {
        let Some(i) = order.iter().position(|n| *n == c.name) else { continue };
        if i < at {
            return Err(err(
                M,
                format!(
                    "{what}: <{}> comes after <{}>, but the course structure schema puts it before (cmi5 13.2.0.0-1)",
                    c.name, order[at]
                ),
            ));
        }
        at = i;
    }
    for r in required {
        if el.child(r).is_none() {
            return Err(err(M, format!("{what} has no <{r}> (cmi5 13.2.0.0-1)")));
        }
    }
    Ok(())
}

fn cmi5(root: &Element) -> Result<Package, PackageError> {
    const M: &str = "cmi5.xml";
    if root.name != "courseStructure" {
        return Err(err(M, format!("the root element is <{}>, not <courseStructure>", root.name)));
    }
    check_order(root, "the course structure", &["course", "objectives", "au"], &["course"])?;
    let course = root.child("course").ok_or_else(|| err(M, "no <course>"))?;
    let course_id = course.attr("id").unwrap_or("").trim().to_owned();
    if course_id.is_empty() {
        return Err(err(M, "the <course> has no id"));
    }
    if !is_iri(&course_id) {
        return Err(err(M, format!("the course id {course_id:?} is not an IRI (cmi5 3.0.0.0-1)")));
    }
    check_order(course, "the <course>", &["title", "description"], &["title", "description"])?;
    // Objectives are declared once, at the top (13.1.3.0-1: their ids are unique).
    let mut objectives = HashSet::new();
    for o in root.children("objectives").flat_map(|os| os.children("objective")) {
        let id = o.attr("id").unwrap_or("").trim().to_owned();
        if !is_iri(&id) {
            return Err(err(M, format!("the objective id {id:?} is not an IRI (cmi5 3.0.0.0-1)")));
        }
        if !objectives.insert(id.clone()) {
            return Err(err(M, format!("objective id {id} is declared twice (cmi5 13.1.3.0-1)")));
        }
    }
    let mut launchables = Vec::new();
    let mut ids = HashSet::new();
    walk_cmi5(root, &mut vec![], &mut launchables, &mut ids)?;
    Ok(Package {
        standard: Standard::Cmi5,
        title: Some(langstring(course.child("title")))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "Untitled course".into()),
        description: langstring(course.child("description")),
        identifier: course_id,
        launchables,
        files: vec![],
    })
}

fn walk_cmi5(
    parent: &Element,
    blocks: &mut Vec<Block>,
    out: &mut Vec<Launchable>,
    ids: &mut HashSet<String>,
) -> Result<(), PackageError> {
    const M: &str = "cmi5.xml";
    for el in &parent.children {
        match el.name.as_str() {
            "au" => {
                let id = el.attr("id").unwrap_or("").trim().to_owned();
                if id.is_empty() {
                    return Err(err(M, "an <au> has no id"));
                }
                if !is_iri(&id) {
                    return Err(err(M, format!("the AU id {id:?} is not an IRI (cmi5 3.0.0.0-1)")));
                }
                if !ids.insert(id.clone()) {
                    return Err(err(M, format!("id {id} is used twice (cmi5 13.1.4.0-1)")));
                }
                check_order(
                    el,
                    &format!("AU {id}"),
                    &["title", "description", "objectives", "url", "launchParameters", "entitlementKey"],
                    &["title", "description", "url"],
                )?;
                let url = el.child_text("url").ok_or_else(|| err(M, format!("AU {id} has no <url>")))?;
                check_au_url(&id, &url)?;
                let move_on = el.attr("moveOn").unwrap_or("NotApplicable").to_owned();
                if !["Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable"]
                    .contains(&move_on.as_str())
                {
                    return Err(err(M, format!("AU {id}: moveOn {move_on:?} is not a cmi5 value")));
                }
                let mastery = el
                    .attr("masteryScore")
                    .map(|t| {
                        t.trim()
                            .parse::<f64>()
                            .map_err(|_| err(M, format!("AU {id}: masteryScore {t:?} is not a number")))
                    })
                    .transpose()?;
                if let Some(m) = mastery
                    && !(0.0..=1.0).contains(&m)
                {
                    return Err(err(M, format!("AU {id}: masteryScore must be between 0 and 1")));
                }
                let launch_method = el.attr("launchMethod").unwrap_or("AnyWindow").to_owned();
                if launch_method != "AnyWindow" && launch_method != "OwnWindow" {
                    return Err(err(
                        M,
                        format!("AU {id}: launchMethod {launch_method:?} is not AnyWindow or OwnWindow"),
                    ));
                }
                out.push(Launchable {
                    identifier: id.clone(),
                    title: Some(langstring(el.child("title"))).filter(|t| !t.is_empty()).unwrap_or(id),
                    href: url,
                    parameters: el.child_text("launchParameters").unwrap_or_default(),
                    mastery_score: mastery,
                    launch_data: el.child_text("entitlementKey").unwrap_or_default(),
                    move_on,
                    launch_method,
                    blocks: blocks.clone(),
                    asset: false,
                });
            }
            "block" => {
                let id = el.attr("id").unwrap_or("").trim().to_owned();
                if id.is_empty() {
                    return Err(err(M, "a <block> has no id"));
                }
                if !is_iri(&id) {
                    return Err(err(M, format!("the block id {id:?} is not an IRI (cmi5 3.0.0.0-1)")));
                }
                if !ids.insert(id.clone()) {
                    return Err(err(M, format!("id {id} is used twice (cmi5 13.1.2.0-1)")));
                }
                check_order(
                    el,
                    &format!("block {id}"),
                    &["title", "description", "objectives", "au"],
                    &["title", "description"],
                )?;
                if !el.children.iter().any(|c| c.name == "au" || c.name == "block") {
                    return Err(err(M, format!("block {id} holds no AU or block (cmi5 13.2.0.0-1)")));
                }
                let title = Some(langstring(el.child("title"))).filter(|t| !t.is_empty()).unwrap_or_else(|| id.clone());
                blocks.push(Block { id, title });
                walk_cmi5(el, blocks, out, ids)?;
                blocks.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a bare cmi5 course structure (no zip: every AU is hosted elsewhere, so every AU URL
/// must be absolute; cmi5 14.2.0.0-1).
pub fn inspect_course_structure(bytes: &[u8], limits: &Limits) -> Result<Package, PackageError> {
    const M: &str = "cmi5.xml";
    if bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(err(M, format!("larger than {} MB", limits.max_manifest_bytes / 1024 / 1024)));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| err(M, "not UTF-8 text"))?;
    let root = xml::parse(text).map_err(|m| err(M, m))?;
    let package = cmi5(&root)?;
    if package.launchables.is_empty() {
        return Err(err(M, "declares nothing to launch (no AU)"));
    }
    for l in &package.launchables {
        if !is_absolute_url(&l.href) {
            return Err(err(
                M,
                format!(
                    "AU {} launches {}, a relative URL, but a course structure without a zip has no files: AU URLs must be absolute (cmi5 14.2.0.0-1)",
                    l.identifier, l.href
                ),
            ));
        }
    }
    Ok(package)
}
