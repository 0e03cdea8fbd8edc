//! The states a row moves through, as types: each is stored as the same lower-case word as
//! before (no migration), read back into its enum by sea-orm, and shown to templates as that
//! word. A state the code does not know fails to read rather than passing as a string.

use sea_orm::entity::prelude::*;

macro_rules! states {
    ($(
        $(#[doc = $doc:expr])*
        pub enum $name:ident {
            $( $(#[doc = $vdoc:expr])* $variant:ident = $word:literal, )*
        }
    )*) => {$(
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, serde::Serialize, serde::Deserialize)]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
        pub enum $name {
            $( $(#[doc = $vdoc])* #[sea_orm(string_value = $word)] #[serde(rename = $word)] $variant, )*
        }

        impl $name {
            /// The state stored as `word`, if it is one.
            pub fn from_word(word: &str) -> Option<Self> {
                match word {
                    $( $word => Some(Self::$variant), )*
                    _ => None,
                }
            }

            /// The stored word.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $word, )*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

states! {
    /// Where a person's enrolment on a course stands.
    pub enum EnrolmentStatus {
        /// Asked for; a training manager decides.
        Requested = "requested",
        /// Approved on a course the learner pays for: waits for the payment.
        Payment = "payment",
        Active = "active",
        Completed = "completed",
        /// Left by the learner or taken off by the trust.
        Withdrawn = "withdrawn",
        /// A request turned down.
        Rejected = "rejected",
        /// A paid course's access period ended.
        Expired = "expired",
    }

    /// A course in a trust's catalogue.
    pub enum CourseStatus {
        Draft = "draft",
        Published = "published",
        Unpublished = "unpublished",
    }

    /// One version of a course: edited as a draft, published, then retired by a newer one.
    pub enum VersionStatus {
        Draft = "draft",
        Published = "published",
        Retired = "retired",
    }

    /// A marketplace listing.
    pub enum ListingStatus {
        /// Waiting for the platform's review.
        Submitted = "submitted",
        Live = "live",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
    }

    /// A marketplace charge.
    pub enum ChargeStatus {
        /// A card payment not yet made.
        Pending = "pending",
        Paid = "paid",
        /// Billed to the trust monthly (or drawn from prepaid seats).
        Billed = "billed",
        /// Drawn from prepaid seats.
        Covered = "covered",
        Refunded = "refunded",
        Cancelled = "cancelled",
    }

    /// An account (a person, on every trust they belong to).
    pub enum PersonStatus {
        Active = "active",
        /// Closed by its owner or erased: it cannot sign in.
        Deactivated = "deactivated",
    }

    /// A person's place in a trust.
    pub enum MembershipStatus {
        /// Registered; waits for a training manager's approval.
        Pending = "pending",
        Approved = "approved",
        Rejected = "rejected",
        /// Kept, but may not sign in here for now.
        Suspended = "suspended",
    }

    /// A trust on the platform.
    pub enum TenantStatus {
        Active = "active",
    }

    /// A trust's monthly marketplace invoice.
    pub enum InvoiceStatus {
        Open = "open",
        Paid = "paid",
    }

    /// A Stripe event as kept by the platform: applied exactly once, retried when it failed.
    pub enum StripeEventStatus {
        Received = "received",
        Processed = "processed",
        Failed = "failed",
    }

    /// A programme (a set of courses taken together).
    pub enum ProgrammeStatus {
        Published = "published",
    }

    /// A grant of organisation reporting.
    pub enum ReportGrantKind {
        /// Authorised by the trust's authoriser: nominates report users, and runs reports.
        Lead = "lead",
        /// Nominated by a reporting lead, with a stated purpose.
        User = "user",
    }

    /// Who a trust's authoriser of organisation reporting is.
    pub enum AuthoriserRole {
        HrDirector = "hr_director",
        MedicalDirector = "medical_director",
        Siro = "siro",
        CaldicottGuardian = "caldicott_guardian",
    }
}
