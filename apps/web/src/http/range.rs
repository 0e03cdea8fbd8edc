//! HTTP byte ranges (`Range: bytes=…`), for files served in parts.

pub fn parse_range(h: &str) -> Option<(u64, Option<u64>)> {
    let spec = h.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let start: u64 = a.trim().parse().ok()?;
    let end = if b.trim().is_empty() { None } else { Some(b.trim().parse::<u64>().ok()?.checked_add(1)?) };
    Some((start, end))
}
