//! Sending email with lettre: to files (the demo) or over SMTP (production, and the tests' sink).

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes.
pub enum Mailer {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

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
}

impl Mailer {
    /// Files under `dir` (created if missing).
    pub fn file(dir: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self::File(AsyncFileTransport::new(dir)))
    }

    /// SMTP at `url` (`smtp://host:port` plain for a local relay, `smtps://…` for TLS).
    pub fn smtp(url: &str) -> anyhow::Result<Self> {
        Ok(Self::Smtp(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.build()))
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
        let message = message.multipart(body)?;
        match self {
            Mailer::File(t) => {
                t.send(message).await?;
            }
            Mailer::Smtp(t) => {
                t.send(message).await?;
            }
        }
        Ok(())
    }
}
