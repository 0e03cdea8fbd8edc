//! A person's own learning record, as reports (issue 19).

pub mod activity;
pub mod certificate;
