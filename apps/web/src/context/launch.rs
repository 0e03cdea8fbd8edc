//! What a packaged session keeps about how it is launched (kept in memory by the server).

use serde::{Deserialize, Serialize};
use trellis_db::catalogue::Object;
use trellis_domain::PackageId;
use trellis_elearning::Launchable;

/// What a packaged session keeps about how to launch it (`learning_objects.launch`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// `scorm12`, `scorm2004` or `cmi5`.
    pub standard: String,
    /// The package's identifier (cmi5: the course's publisher id).
    pub course: String,
    pub item: Launchable,
}

/// A packaged session ready to launch.
#[derive(Debug, Clone)]
pub struct Launch {
    pub object: Object,
    pub package: PackageId,
    pub standard: String,
    pub course: String,
    pub item: Launchable,
    pub mastery_score: Option<f64>,
}
