//! Routes by owner: health (any host), the platform's pages, a trust's pages, shared assets.

pub mod account;
pub mod admin;
pub mod api;
pub mod assets;
pub mod authoring;
pub mod certificates;
pub mod elearning;
pub mod file_activity;
pub mod health;
pub mod home;
pub mod learner;
pub mod market;
pub mod platform;
pub mod platform_admin;
pub mod portfolio;
pub mod records;
pub mod reporting;
pub mod site_admin;
pub mod sso;
pub mod sso_admin;
pub mod statistics;
pub mod tenant;
pub mod training;
pub mod tutors;
pub mod uploads;
pub mod xapi;
