//! Adapters to the outside world: DNS, the file store, mail, OpenID Connect, payments (Stripe),
//! Redis and the virus scanner (clamd).

pub mod calendar;
pub mod dns;
pub mod files;
pub mod hr_delivery;
pub mod mailer;
pub mod oidc;
pub mod outbound;
pub mod payments;
pub mod redis_bus;
pub mod scan;
pub mod xapi_out;
