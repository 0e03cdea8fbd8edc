//! The application: the route table, the server's life cycle and the background worker. The top
//! layer: it may use every other, and nothing uses it.

pub mod dispatch;
pub mod server;
pub mod worker;
