//! The bulk-mail path: one message rendered once (a campaign's email shot; a network's bulletin),
//! sent to many. The message is stored once in `mailings`; the outbox holds one small item per
//! recipient (their address and their own unsubscribe link), written in the transaction that
//! decided who gets it, so a crash sends to everyone or no one. The worker puts each copy
//! together when it sends it, with RFC 8058 one-click unsubscribe headers.

use crate::entities::outbox;
use crate::{DbError, TenantTx};
use chrono::Utc;
use sea_orm::Set;
use trellis_domain::PersonId;
use uuid::Uuid;

/// The outbox kind of one recipient's copy.
pub const KIND: &str = "mailing";

/// Where the recipient's unsubscribe link goes in a mailing's text and HTML.
pub const UNSUBSCRIBE_MARK: &str = "[[unsubscribe-link]]";

/// A bulk message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailing {
    pub id: Uuid,
    /// The optional use it is (`campaigns`, `bulletins`): the opt-out it honours.
    pub purpose: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub from_name: String,
}

/// One recipient of a mailing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub person: PersonId,
    pub to: String,
    /// Their one-click unsubscribe address (HTTPS on the trust's site, with a signed token).
    pub unsubscribe: String,
}

/// One recipient's copy, as the outbox holds it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Copy {
    pub mailing: Uuid,
    /// Who it is for: their objection is checked again just before it is sent.
    pub person: Uuid,
    pub to: String,
    pub unsubscribe: String,
}

/// Stores a mailing. Returns its id.
pub async fn create(
    tx: &TenantTx,
    purpose: &str,
    subject: &str,
    text: &str,
    html: &str,
    from_name: &str,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO mailings (tenant_id, id, purpose, subject, text_body, html_body, from_name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        vec![id.into(), purpose.into(), subject.into(), text.into(), html.into(), from_name.into(), Utc::now().into()],
    )
    .await?;
    Ok(id)
}

/// A mailing by id.
pub async fn get(tx: &TenantTx, id: Uuid) -> Result<Option<Mailing>, DbError> {
    let Some(r) = tx
        .query_one(
            "SELECT id, purpose, subject, text_body, html_body, from_name FROM mailings WHERE tenant_id = $1 AND id = $2",
            vec![id.into()],
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Mailing {
        id: r.try_get("", "id")?,
        purpose: r.try_get("", "purpose")?,
        subject: r.try_get("", "subject")?,
        text: r.try_get("", "text_body")?,
        html: r.try_get("", "html_body")?,
        from_name: r.try_get("", "from_name")?,
    }))
}

/// Queues one copy of `mailing` for each recipient, in the caller's transaction, a few hundred
/// rows to a statement.
pub async fn enqueue(tx: &TenantTx, mailing: Uuid, recipients: &[Recipient]) -> Result<(), DbError> {
    let now = Utc::now();
    for chunk in recipients.chunks(500) {
        let mut rows = Vec::with_capacity(chunk.len());
        for r in chunk {
            let copy =
                Copy { mailing, person: r.person.as_uuid(), to: r.to.clone(), unsubscribe: r.unsubscribe.clone() };
            rows.push(outbox::ActiveModel {
                tenant_id: Set(Uuid::nil()),
                id: Set(Uuid::now_v7()),
                kind: Set(KIND.into()),
                payload: Set(serde_json::to_string(&copy).map_err(|e| DbError::Setup(e.to_string()))?),
                created_at: Set(now),
                attempts: Set(0),
                next_attempt_at: Set(now),
                sent_at: Set(None),
                last_error: Set(None),
            });
        }
        tx.insert_many(rows).await?;
    }
    Ok(())
}

impl Mailing {
    /// The copy for one recipient: (text, HTML) with their unsubscribe link in place.
    pub fn for_recipient(&self, unsubscribe: &str) -> (String, String) {
        with_link(&self.text, &self.html, unsubscribe)
    }
}

/// `text` and `html` rendered for a mailing, with `link` where [`UNSUBSCRIBE_MARK`] stands (escaped
/// for the HTML).
pub fn with_link(text: &str, html: &str, link: &str) -> (String, String) {
    let escaped = link.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    (text.replace(UNSUBSCRIBE_MARK, link), html.replace(UNSUBSCRIBE_MARK, &escaped))
}
