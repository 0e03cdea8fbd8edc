//! The access log: one short line per request (all, sampled, errors only, or none).

/// Which requests the access log records, and how it writes them.
pub struct AccessLog {
    mode: Mode,
    every: u64,
    json: bool,
    seen: std::sync::atomic::AtomicU64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Errors,
    Off,
}

/// A request over this long is always logged (unless the log is off).
const SLOW_SECONDS: f64 = 1.0;

impl AccessLog {
    pub fn new(cfg: &trellis_domain::config::LogConfig) -> Self {
        let mode = match cfg.access.as_str() {
            "off" => Mode::Off,
            "errors" => Mode::Errors,
            _ => Mode::All,
        };
        Self {
            mode,
            every: u64::from(cfg.access_sample.max(1)),
            json: cfg.format == "json",
            seen: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether this request is logged: errors and slow requests always (unless off), the rest
    /// with `all`, one in `access_sample`. The log filter still applies (target `access`).
    pub(crate) fn wants(&self, status: u16, seconds: f64) -> bool {
        let notable = status >= 400 || seconds >= SLOW_SECONDS;
        let chosen = match self.mode {
            Mode::Off => false,
            Mode::Errors => notable,
            Mode::All => {
                notable || self.seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed).is_multiple_of(self.every)
            }
        };
        chosen && tracing::enabled!(target: "access", tracing::Level::INFO)
    }

    /// Writes one line to standard error, in one write.
    pub(crate) fn write(&self, line: &AccessLine<'_>) {
        use std::io::Write as _;
        let mut text = if self.json { line.json() } else { line.text() };
        text.push('\n');
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// One request, as the access log records it.
#[derive(serde::Serialize)]
pub(crate) struct AccessLine<'a> {
    pub(crate) id: &'a str,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) status: u16,
    pub(crate) ms: f64,
    pub(crate) client: &'a str,
}

impl AccessLine<'_> {
    /// The path, cut to its first 100 characters (the line stays short whatever is asked for).
    fn short_path(&self) -> String {
        match self.path.char_indices().nth(100) {
            Some((at, _)) => format!("{}…", &self.path[..at]),
            None => self.path.to_owned(),
        }
    }

    fn now() -> String {
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }

    /// `{"ts":…,"id":…,"m":"GET","p":"/x","t":"trust","s":200,"ms":1.2,"ip":…}` (the route
    /// pattern is in the metrics, so it is not repeated here).
    fn json(&self) -> String {
        serde_json::json!({
            "ts": Self::now(),
            "id": self.id,
            "m": self.method,
            "p": self.short_path(),
            "t": self.tenant,
            "s": self.status,
            "ms": (self.ms * 100.0).round() / 100.0,
            "ip": self.client,
        })
        .to_string()
    }

    /// `2026-12-06T08:40:00.123Z access GET /x 200 1.20ms trust ip=… id=…`.
    fn text(&self) -> String {
        format!(
            "{} access {} {} {} {:.2}ms {} ip={} id={}",
            Self::now(),
            self.method,
            self.short_path(),
            self.status,
            self.ms,
            self.tenant,
            self.client,
            self.id
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::AccessLine;

    #[test]
    fn an_access_line_is_one_short_line() {
        // A learner's page: an id of our own, IPv4, a path with two ids.
        let path = format!("/learn/{}/{}", uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let typical = AccessLine {
            id: &uuid::Uuid::now_v7().to_string(),
            method: "GET",
            path: &path,
            tenant: "northmoor",
            status: 200,
            ms: 1.234_567,
            client: "10.20.30.40",
        };
        // The longest anything can be: a proxy's 64-character request id, the longest slug
        // (63 characters), an IPv6 client and a long path.
        let long_path = format!("/learn/{}/{}", "a".repeat(36), "b".repeat(200));
        let worst = AccessLine {
            id: &"r".repeat(64),
            method: "OPTIONS",
            path: &long_path,
            tenant: &"n".repeat(63),
            status: 303,
            ms: 12.345_678,
            client: "2001:db8:85a3:1234:5678:8a2e:370:7334",
        };
        for text in [typical.json(), typical.text()] {
            assert!(!text.contains('\n'));
            assert!(text.len() < 250, "{} bytes: {text}", text.len());
        }
        for text in [worst.json(), worst.text()] {
            assert!(!text.contains('\n'));
            assert!(text.len() < 400, "{} bytes: {text}", text.len());
        }
        let v: serde_json::Value = serde_json::from_str(&worst.json()).unwrap();
        assert_eq!(v["s"], 303);
        assert_eq!(v["ms"], 12.35);
        assert!(v["p"].as_str().unwrap().ends_with('…'));
    }
}
