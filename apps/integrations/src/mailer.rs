//! Sending email with lettre: to files (the demo) or over SMTP (production, and the tests' sink),
//! signed with DKIM when a key is configured.

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes.
enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// Sends mail, DKIM-signing each message when configured.
pub struct Mailer {
    transport: Transport,
    dkim: Option<DkimConfig>,
}

/// The headers a DKIM signature covers (RFC 8058 asks that it cover both List-Unsubscribe
/// headers, so a relay cannot add or change a one-click link). A header a message lacks is
/// signed as absent, so it cannot be added later either. Not `Content-Type`: lettre writes a
/// multipart body's type with the body, after signing, so a signature naming it would not verify
/// (dkimpy refused it); the body itself is covered by the body hash.
const SIGNED: &[&str] = &[
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// One message to send.
#[derive(Debug, Clone)]
pub struct Email<'a> {
    pub from_name: &'a str,
    pub from_address: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// An iCalendar file to attach (`invite.ics`, with its METHOD as the content type's).
    pub calendar: Option<&'a str>,
    /// Where replies go (`Reply-To`), when not to the sender.
    pub reply_to: Option<&'a str>,
    /// Bulk mail's one-click unsubscribe address (HTTPS): sent as RFC 8058's `List-Unsubscribe`
    /// and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`.
    pub list_unsubscribe: Option<&'a str>,
}

impl Mailer {
    /// Files under `dir` (created if missing).
    pub fn file(dir: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self { transport: Transport::File(AsyncFileTransport::new(dir)), dkim: None })
    }

    /// SMTP at `url` (`smtp://host:port` plain for a local relay, `smtps://…` for TLS).
    pub fn smtp(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            transport: Transport::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build()),
            dkim: None,
        })
    }

    /// Signs every message with DKIM (RSA-SHA256, relaxed/relaxed) for `domain` under `selector`,
    /// with `private_key_pem`, an RSA key in PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
    pub fn with_dkim(mut self, selector: &str, domain: &str, private_key_pem: &str) -> anyhow::Result<Self> {
        let key = DkimSigningKey::new(private_key_pem, DkimSigningAlgorithm::Rsa)
            .map_err(|e| anyhow::anyhow!("the DKIM key is not an RSA private key in PKCS#1 PEM: {e}"))?;
        self.dkim = Some(DkimConfig::new(
            selector.to_owned(),
            domain.to_owned(),
            key,
            SIGNED.iter().map(|&h| HeaderName::new_from_ascii_str(h)).collect(),
            DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed },
        ));
        Ok(self)
    }

    /// Sends one message as text and HTML alternatives.
    pub async fn send(&self, email: &Email<'_>) -> anyhow::Result<()> {
        let from = Mailbox::new(Some(email.from_name.to_owned()), email.from_address.parse()?);
        let body = match email.calendar {
            None => MultiPart::alternative_plain_html(email.text.to_owned(), email.html.to_owned()),
            Some(ics) => {
                // The invitation as calendars look for it: a text/calendar alternative with its
                // method (Outlook), and the same file attached (everyone else).
                let method = ics.lines().find_map(|l| l.strip_prefix("METHOD:")).unwrap_or("PUBLISH").trim();
                let kind = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}"))?;
                let alternatives = MultiPart::alternative()
                    .singlepart(SinglePart::plain(email.text.to_owned()))
                    .singlepart(SinglePart::html(email.html.to_owned()))
                    .singlepart(SinglePart::builder().header(kind.clone()).body(ics.to_owned()));
                MultiPart::mixed()
                    .multipart(alternatives)
                    .singlepart(Attachment::new("invite.ics".into()).body(ics.to_owned(), kind))
            }
        };
        let mut message = Message::builder().from(from).to(email.to.parse()?).subject(email.subject);
        if let Some(reply_to) = email.reply_to {
            message = message.reply_to(reply_to.parse()?);
        }
        if let Some(url) = email.list_unsubscribe {
            let web = url.starts_with("https://") || url.starts_with("http://");
            if !web || url.contains(['<', '>', '\r', '\n']) {
                anyhow::bail!("an unsubscribe address must be an http(s) URL");
            }
            message = message
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        let mut message = message.multipart(body)?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim);
        }
        match &self.transport {
            Transport::File(t) => {
                t.send(message).await?;
            }
            Transport::Smtp(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}
