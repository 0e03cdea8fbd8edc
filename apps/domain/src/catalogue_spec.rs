//! Courses declared as data: the national catalogue (`deploy/catalogue/national.toml`) and a
//! trust's starting courses (`tenants/<slug>/catalogue.toml`). Applying one creates what is
//! missing (matched by code) and never changes what editors have since changed.

use serde::Deserialize;

/// A catalogue file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CatalogueSpec {
    #[serde(default)]
    pub course: Vec<CourseSpec>,
    #[serde(default)]
    pub path: Vec<PathSpec>,
    #[serde(default)]
    pub programme: Vec<ProgrammeSpec>,
}

/// A course and its sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseSpec {
    pub code: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub audience: Vec<String>,
    #[serde(default)]
    pub duration_minutes: i32,
    #[serde(default)]
    pub accreditation: String,
    #[serde(default)]
    pub cpd_points: Option<i32>,
    /// `open` (default) or `approval`.
    #[serde(default = "open")]
    pub enrolment: String,
    #[serde(default)]
    pub session: Vec<SessionSpec>,
}

fn open() -> String {
    "open".into()
}

fn view() -> String {
    "view".into()
}

/// A page or link session (media files are uploaded by editors, not declared).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSpec {
    pub title: String,
    /// `page`, `link`, or `face_to_face` (completed by the register: `attended` or `passed`).
    pub kind: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "view")]
    pub completion: String,
    #[serde(default)]
    pub min_minutes: Option<i32>,
}

/// A learning path: courses (by code, this file's or the national catalogue's) in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathSpec {
    pub code: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default = "open")]
    pub enrolment: String,
    pub courses: Vec<String>,
}

/// A programme: courses and paths (by code) grouped under one title.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeSpec {
    pub code: String,
    pub title: String,
    #[serde(default)]
    pub summary: String,
    pub courses: Vec<String>,
    /// Offers a completion certificate once every course and path of it is completed.
    #[serde(default)]
    pub certificate: bool,
}

/// Reads a catalogue file, with the file's name in any error.
pub fn load(path: &std::path::Path) -> Result<CatalogueSpec, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec: CatalogueSpec = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for c in &spec.course {
        for s in &c.session {
            if !matches!(s.kind.as_str(), "page" | "link" | "face_to_face") {
                return Err(format!(
                    "{}: course {}: session kind must be page, link or face_to_face",
                    path.display(),
                    c.code
                ));
            }
            if (s.kind == "face_to_face") != matches!(s.completion.as_str(), "attended" | "passed") {
                return Err(format!(
                    "{}: course {}: a face_to_face session (and only one) is completed by the register: completion = \"attended\" or \"passed\"",
                    path.display(),
                    c.code
                ));
            }
        }
    }
    Ok(spec)
}
