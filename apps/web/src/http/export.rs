//! Exports: cells of a CSV file that no spreadsheet will run as a formula.

/// A spreadsheet cell that cannot run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return is prefixed with `'` (OWASP's advice on CSV injection).
pub fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}
