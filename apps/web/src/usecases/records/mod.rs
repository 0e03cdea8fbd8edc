//! A person's own learning record, as reports (issue 19).

pub mod activity;
pub mod archive;
pub mod badges;
pub mod certificate;
pub mod portfolio_link;
