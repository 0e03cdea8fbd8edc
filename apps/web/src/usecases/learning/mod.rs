//! Learning: recording what a learner did, and what follows when a course is completed.

pub mod complete;
pub mod decide;
pub mod record;
