//! The enquiry desk: enquiries to a trust from its *Contact us* form, each with a reference and a
//! thread of messages (the enquirer's, through their private link, and the trust's replies), and a
//! status: open (waiting for the trust), answered (waiting for the enquirer) or closed.

use crate::entities::{enquiry, enquiry_message};
use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use trellis_domain::PersonId;
use uuid::Uuid;

/// What an enquiry is about: (stored key, what the form says).
pub const TOPICS: &[(&str, &str)] = &[
    ("general", "A general question"),
    ("course", "A course or my training record"),
    ("technical", "Something is not working"),
    ("data", "My personal data (a copy, a correction or an objection)"),
    ("account", "Closing my account and erasing my details"),
];

/// The topic of a request to close an account (dealt with within five working days).
pub const ACCOUNT: &str = "account";

/// An enquiry as the desk sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enquiry {
    pub id: Uuid,
    pub reference: String,
    pub person: Option<PersonId>,
    pub name: String,
    pub email: String,
    pub topic: String,
    pub subject: String,
    pub status: String,
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<enquiry::Model> for Enquiry {
    fn from(m: enquiry::Model) -> Self {
        Enquiry {
            id: m.id,
            reference: m.reference,
            person: m.person_id.map(PersonId::from_uuid),
            name: m.name,
            email: m.email,
            topic: m.topic,
            subject: m.subject,
            status: m.status,
            due_at: m.due_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            closed_at: m.closed_at,
        }
    }
}

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub from_staff: bool,
    pub author: Option<PersonId>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A new enquiry, as the form gave it.
#[derive(Debug, Clone)]
pub struct NewEnquiry {
    pub person: Option<PersonId>,
    pub name: String,
    pub email: String,
    pub topic: String,
    pub body: String,
    pub due_at: Option<DateTime<Utc>>,
}

/// A reference people can read out on the phone: `ENQ-` and eight letters and digits that
/// cannot be mistaken for one another.
pub fn new_reference() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let code: String = (0..8).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect();
    format!("ENQ-{code}")
}

/// What the desk's lists show as an enquiry's subject: its first line, shortened.
fn subject_of(body: &str) -> String {
    let first = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let mut s: String = first.chars().take(80).collect();
    if first.chars().count() > 80 {
        s.push('…');
    }
    s
}

/// Records an enquiry and its first message; keeps only the hash of the enquirer's link `token`.
pub async fn open(tx: &TenantTx, new: NewEnquiry, token: &str) -> Result<Enquiry, DbError> {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let m = tx
        .insert(enquiry::ActiveModel {
            tenant_id: Set(Uuid::nil()),
            id: Set(id),
            reference: Set(new_reference()),
            person_id: Set(new.person.map(|p| p.as_uuid())),
            name: Set(new.name),
            email: Set(new.email),
            topic: Set(new.topic),
            subject: Set(subject_of(&new.body)),
            status: Set("open".into()),
            due_at: Set(new.due_at),
            token_hash: Set(crate::links::hash(token)),
            created_at: Set(now),
            updated_at: Set(now),
            closed_at: Set(None),
        })
        .await?;
    add(tx, id, false, new.person, &new.body).await?;
    Ok(m.into())
}

async fn add(
    tx: &TenantTx,
    enquiry: Uuid,
    from_staff: bool,
    author: Option<PersonId>,
    body: &str,
) -> Result<(), DbError> {
    tx.insert(enquiry_message::ActiveModel {
        tenant_id: Set(Uuid::nil()),
        id: Set(Uuid::now_v7()),
        enquiry_id: Set(enquiry),
        from_staff: Set(from_staff),
        author_person_id: Set(author.map(|p| p.as_uuid())),
        body: Set(body.to_owned()),
        created_at: Set(Utc::now()),
    })
    .await?;
    Ok(())
}

/// One enquiry of this trust.
pub async fn by_id(tx: &TenantTx, id: Uuid) -> Result<Option<Enquiry>, DbError> {
    Ok(tx.select::<enquiry::Entity>().filter(enquiry::Column::Id.eq(id)).one(tx).await?.map(Enquiry::from))
}

/// One enquiry, to its enquirer: by id and their link's token (matched by hash).
pub async fn by_token(tx: &TenantTx, id: Uuid, token: &str) -> Result<Option<Enquiry>, DbError> {
    Ok(tx
        .select::<enquiry::Entity>()
        .filter(enquiry::Column::Id.eq(id))
        .filter(enquiry::Column::TokenHash.eq(crate::links::hash(token)))
        .one(tx)
        .await?
        .map(Enquiry::from))
}

/// An enquiry's messages, oldest first.
pub async fn thread(tx: &TenantTx, id: Uuid) -> Result<Vec<Message>, DbError> {
    Ok(tx
        .select::<enquiry_message::Entity>()
        .filter(enquiry_message::Column::EnquiryId.eq(id))
        .order_by_asc(enquiry_message::Column::CreatedAt)
        .order_by_asc(enquiry_message::Column::Id)
        .limit(1000)
        .all(tx)
        .await?
        .into_iter()
        .map(|m| Message {
            from_staff: m.from_staff,
            author: m.author_person_id.map(PersonId::from_uuid),
            body: m.body,
            created_at: m.created_at,
        })
        .collect())
}

/// Adds a message to the thread: the trust's (`staff`: who wrote it) makes the enquiry answered;
/// the enquirer's (`staff` None) opens it again.
pub async fn reply(tx: &TenantTx, id: Uuid, staff: Option<PersonId>, body: &str) -> Result<(), DbError> {
    add(tx, id, staff.is_some(), staff, body).await?;
    let status = if staff.is_some() { "answered" } else { "open" };
    set(tx, id, status).await
}

/// Closes an enquiry, or opens it again.
pub async fn set_closed(tx: &TenantTx, id: Uuid, closed: bool) -> Result<(), DbError> {
    set(tx, id, if closed { "closed" } else { "open" }).await
}

async fn set(tx: &TenantTx, id: Uuid, status: &str) -> Result<(), DbError> {
    let now = Utc::now();
    tx.update_many::<enquiry::Entity>()
        .filter(enquiry::Column::Id.eq(id))
        .col_expr(enquiry::Column::Status, Expr::value(status))
        .col_expr(enquiry::Column::UpdatedAt, Expr::value(now))
        .col_expr(enquiry::Column::ClosedAt, Expr::value((status == "closed").then_some(now)))
        .exec(tx)
        .await?;
    Ok(())
}

/// A page of the trust's enquiries in `status` (any, if None), oldest open first, with the total.
pub async fn list(
    tx: &TenantTx,
    status: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<(Vec<Enquiry>, u64), DbError> {
    let q = || {
        let q = tx.select::<enquiry::Entity>();
        match status {
            Some(s) => q.filter(enquiry::Column::Status.eq(s)),
            None => q,
        }
    };
    let total = q().count(tx).await?;
    let rows = q()
        .order_by_desc(enquiry::Column::CreatedAt)
        .order_by_desc(enquiry::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(tx)
        .await?;
    Ok((rows.into_iter().map(Enquiry::from).collect(), total))
}

/// How many enquiries wait for the trust (open).
pub async fn waiting(tx: &TenantTx) -> Result<u64, DbError> {
    Ok(tx.select::<enquiry::Entity>().filter(enquiry::Column::Status.eq("open")).count(tx).await?)
}

/// Where the desk's notices go: the trust's training managers (active, approved), at most 50.
pub async fn desk_addresses(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    let rows = tx
        .query_all(
            "SELECT p.email AS email FROM membership_roles r
               JOIN memberships m ON m.tenant_id = r.tenant_id AND m.person_id = r.person_id
               JOIN people p ON p.id = r.person_id
              WHERE r.tenant_id = $1 AND m.tenant_id = $1 AND r.role = $2 AND m.status = 'approved' AND p.status = 'active'
              ORDER BY p.email LIMIT 50",
            vec![trellis_domain::identity::Role::TrainingManager.as_str().into()],
        )
        .await?;
    rows.iter().map(|r| Ok(r.try_get::<String>("", "email")?)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_are_readable_and_subjects_short() {
        let r = super::new_reference();
        assert!(r.starts_with("ENQ-") && r.len() == 12, "{r}");
        assert!(!r[4..].contains(['0', 'O', '1', 'I']), "{r}");
        assert_eq!(super::subject_of("\n  Hello there\nmore"), "Hello there");
        assert_eq!(super::subject_of(&"x".repeat(100)).chars().count(), 81);
    }
}
