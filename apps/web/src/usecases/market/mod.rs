//! The marketplace: adopting, buying, refunding and reviewing listings, and Stripe's events.

pub mod stripe_events;
