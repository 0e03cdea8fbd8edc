//! E-learning packages and their data, kept apart from the server so they can be tested (and
//! fuzzed) alone: [`cmi`] builds a SCORM attempt's record from its commits; [`package`] checks an uploaded zip and reads what it holds (SCORM 1.2, SCORM
//! 2004 3rd and 4th editions, cmi5); [`time`] reads and writes both SCORM time formats;
//! [`xapi`] checks statements as an LRS must before storing them.

pub mod cmi;
pub mod commit;
pub mod lrs;
pub mod package;
pub mod time;
pub mod xapi;
mod xml;

pub use package::{
    Block, Launchable, Limits, Package, PackageError, Standard, extract, inspect, inspect_course_structure,
};
