//! Adapters to the outside world. For now: Redis, which carries change notices between instances.

pub mod dns;
pub mod files;
pub mod mailer;
pub mod oidc;
pub mod redis_bus;
