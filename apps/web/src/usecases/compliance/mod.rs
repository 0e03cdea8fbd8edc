//! Compliance: training rules reaching people, and the matrix's totals.

pub mod apply_rules;
pub mod totals;
