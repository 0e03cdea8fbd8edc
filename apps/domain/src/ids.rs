//! Newtype identifiers. A bare `Uuid` never crosses a crate boundary.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read from storage.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The underlying UUID, for the data layer.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a trust (a tenant). Every tenant-owned row carries one.
    TenantId
);
id_type!(
    /// Identifies a key message on a trust's home page.
    MessageId
);
id_type!(
    /// Identifies a person: one identity, whatever trusts they belong to.
    PersonId
);
id_type!(
    /// Identifies a course or a learning path.
    CourseId
);
id_type!(
    /// Identifies one session (learning object) of one version of a course.
    ObjectId
);
id_type!(
    /// Identifies a person's enrolment on a course in one trust.
    EnrolmentId
);
id_type!(
    /// Identifies an assignment rule (a course for a person or a group).
    RequirementId
);
id_type!(
    /// Identifies a programme (a group of courses and paths).
    ProgrammeId
);

id_type!(
    /// Identifies an uploaded e-learning package.
    PackageId
);
id_type!(
    /// Identifies a learner's attempt at a packaged session (a SCO or an AU).
    AttemptId
);

id_type!(
    /// Identifies a seller in the marketplace (a vendor's site or a trust that sells).
    SellerId
);
id_type!(
    /// Identifies a marketplace listing.
    ListingId
);
id_type!(
    /// Identifies one sale or bill in the marketplace.
    ChargeId
);

impl TenantId {
    /// The owner of the platform's own ledger lines (its commission): not a trust.
    pub const PLATFORM: TenantId = TenantId(Uuid::from_u128(0x91a7_f0e5));

    /// The owner of the national catalogue's courses: not a trust, but every trust may read
    /// what it owns (see `trellis_migrations::NATIONAL_CATALOGUE`).
    pub const NATIONAL: TenantId = TenantId(Uuid::from_u128(0xc0de));

    /// Whether this is the national catalogue rather than a trust.
    pub fn is_national(&self) -> bool {
        *self == Self::NATIONAL
    }
}
