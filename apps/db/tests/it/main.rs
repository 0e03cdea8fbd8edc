//! The data layer's integration tests, run on SQLite and (with TRELLIS_TEST_BACKEND=postgres)
//! on PostgreSQL as the application role.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod apply;
mod badges;
mod campaigns;
mod catalogue;
mod coaching;
mod elearning;
mod erasure;
mod events;
mod hr_export;
mod identity_path;
mod isolation;
mod keys;
mod labs;
mod learning_time;
mod migrate;
mod scim;
mod secrets;
mod support;
mod teams;
mod tenant_door;
mod writers;
