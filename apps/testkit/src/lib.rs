//! trellis-testkit
