//! The domain of Trellis: identifiers, names, colours and the rules for declaring a trust.
//!
//! This crate knows nothing of HTTP or SQL. It holds the types every other crate shares and the
//! validation rules that decide what a valid trust, host or colour scheme is.

pub mod campaigns;
pub mod catalogue_spec;
pub mod colour;
pub mod config;
pub mod disclosure;
pub mod host;
pub mod identity;
pub mod ids;
pub mod labs;
pub mod learning;
pub mod learning_time;
pub mod library;
pub mod market;
pub mod outbound;
pub mod privacy;
pub mod slug;
pub mod staff_import;
pub mod svg;
pub mod tenant_spec;
pub mod terms;

pub use ids::{
    AttemptId, ChargeId, CourseId, EnrolmentId, ListingId, MessageId, ObjectId, PackageId, PersonId, ProgrammeId,
    RequirementId, SellerId, TenantId,
};
pub use slug::Slug;
