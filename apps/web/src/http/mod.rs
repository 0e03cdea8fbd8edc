//! The HTTP layer: what every request is made of before a feature sees it (the request context
//! as extractors).

pub mod auth;
pub mod chart;
pub mod cookies;
pub mod export;
pub mod extract;
pub mod form;
pub mod middleware;
pub mod page;
pub mod pdf;
pub mod poster;
pub mod range;
pub mod transfer;
pub mod upload;

pub use extract::{Ctx, CurrentSite, LearnerLaunch, Member, PlatformAdmin, may, tx};
