//! Anonymised statistics (issue 19): figures about groups of people, never about anyone, under
//! disclosure control (`trellis_domain::disclosure`).

pub mod course;
