//! Adapters to the outside world: DNS, the file store, mail, OpenID Connect, payments (Stripe)
//! and Redis.

pub mod dns;
pub mod files;
pub mod mailer;
pub mod oidc;
pub mod outbound;
pub mod payments;
pub mod redis_bus;
pub mod xapi_out;
