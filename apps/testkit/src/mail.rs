//! A real SMTP server for tests: `tests/peers/smtp_sink.py` (aiosmtpd) on a loopback port, and
//! the messages it received, parsed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A running SMTP sink, stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: tokio::process::Child,
}

/// A message the sink received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// An attached calendar file (`text/calendar`), if any.
    pub calendar: Option<String>,
    /// The `Reply-To` address, if any.
    pub reply_to: Option<String>,
    /// The message exactly as received.
    pub raw: Vec<u8>,
}

impl Mail {
    /// The first link in the text part that contains `fragment`.
    pub fn link(&self, fragment: &str) -> Option<String> {
        self.text.split_whitespace().find(|w| w.starts_with("http") && w.contains(fragment)).map(str::to_owned)
    }

    /// A top-level header's value as text (unfolded), if the message has it.
    pub fn header(&self, name: &str) -> Option<String> {
        let msg = mail_parser::MessageParser::default().parse(&self.raw)?;
        msg.headers_raw()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.replace("\r\n", "").replace('\n', "").trim().to_owned())
    }
}

impl SmtpSink {
    /// Starts the sink and waits until it listens.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (child, port) = crate::peer::spawn(
            "python3",
            "tests/peers/smtp_sink.py",
            &[("SMTP_PORT", "0".as_ref()), ("SMTP_OUTDIR", dir.path().as_os_str())],
            Stdio::inherit(),
            "SMTP_PORT=",
            Duration::from_secs(20),
            "the SMTP sink",
        )
        .await;
        let port = port.parse::<u16>().expect("the SMTP sink's port");
        Self { port, dir, child }
    }

    fn read_all(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0));
        files
            .iter()
            .filter_map(|f| {
                let raw = std::fs::read(f).ok()?;
                let env: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(f.with_extension("json")).ok()?).ok()?;
                let msg = mail_parser::MessageParser::default().parse(&raw)?;
                use mail_parser::MimeHeaders;
                Some(Mail {
                    to: env["rcpt_tos"].as_array()?.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                    from: msg.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned(),
                    subject: msg.subject().unwrap_or_default().to_owned(),
                    text: msg.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                    html: msg.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                    calendar: msg
                        .attachments()
                        .find(|a| {
                            a.content_type().is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
                        })
                        .map(|a| String::from_utf8_lossy(a.contents()).into_owned()),
                    reply_to: msg.reply_to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_owned),
                    raw: raw.clone(),
                })
            })
            .collect()
    }

    /// Every message received so far.
    pub fn all(&self) -> Vec<Mail> {
        self.read_all()
    }

    /// Waits (up to 10 s) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        let start = Instant::now();
        loop {
            if let Some(m) =
                self.read_all().into_iter().rev().find(|m| m.to.iter().any(|t| t == to) && m.subject.contains(subject))
            {
                return m;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no email to {to} about {subject:?}; got {:?}",
                self.read_all()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
