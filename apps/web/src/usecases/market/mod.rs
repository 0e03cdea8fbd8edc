//! The marketplace: a trust adding listings and buying seats, checkouts, refunds, the platform's
//! review of listings, and Stripe's events.

pub mod adopt;
pub mod approve_listing;
pub mod buy_seats;
pub mod checkout;
pub mod refund;
pub mod stripe_events;
