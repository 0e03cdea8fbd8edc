//! Erasure by anonymisation: a person's account closed and their identity removed, in one
//! transaction, while their learning record stays, under a random pseudonym, for the counts
//! trusts and the platform publish.
//!
//! Either a person closes their whole account (every trust they belong to), or a trust's
//! administrator erases what that trust holds about a member who also belongs elsewhere (the
//! account stays for the other trusts). What happens, table by table:
//!
//! - **Deleted**: the membership and its roles, the staff record (assignment number, post),
//!   single sign-on links, sessions, certificate and tutor links, ePortfolio connections, report
//!   schedules, copies of their data, invitations, terms acceptances, their xAPI state and
//!   profile documents, their enquiries to the trust's desk, and emails addressed to them; for a whole account also the account
//!   itself, its secrets, codes and links (`trellis_erase_account` on PostgreSQL).
//! - **Kept under the pseudonym**: enrolments, assignments, progress, attempts, completions,
//!   shared completions, charges and ledger lines (payment records: amounts, dates and trusts),
//!   upload and download entries, report grants, and every "by" column naming them.
//! - **Scrubbed**: their email address and name, wherever written as text, become `(erased)` in
//!   SCORM commits and attempt records, their xAPI statements, outgoing emails, messages of
//!   others' enquiries, Stripe events,
//!   and (through `trellis_audit_pseudonymise`, the only way to change it) the audit trails.
//!
//! Runs on the platform's handle: it crosses trusts by nature (ADR 0014 names it).

use crate::entities::audit_event;
use crate::{DbError, PlatformDb};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, Set, Value};
use trellis_domain::identity::Role;
use trellis_domain::{PersonId, TenantId};
use uuid::Uuid;

/// Which data an erasure covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The whole account, at every trust it belongs to (the person's own request, or an
    /// administrator's for a member of theirs who belongs nowhere else).
    Account,
    /// What one trust holds (an administrator's request for a member who also belongs elsewhere).
    Trust(TenantId),
    /// An administrator's request at this trust: the whole account if, when the erasure runs, the
    /// person belongs to no other trust; otherwise only this trust's part.
    AccountIfOnly(TenantId),
}

/// Who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requester {
    TheirOwn,
    /// A training manager of the trust (recorded as actor in its trail).
    Admin(PersonId),
    /// The retention schedule: the account was unused for its period.
    Retention,
}

/// Why an erasure was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such account (or not a member of the named trust).
    NotFound,
    /// They are the only training manager of this trust.
    LastAdmin(TenantId),
    /// Platform administrators are removed as such first.
    PlatformAdmin,
}

/// What was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erased {
    /// The random id their learning record now carries.
    pub pseudonym: PersonId,
    /// The trusts whose data changed.
    pub trusts: Vec<TenantId>,
    /// Whether the whole account went (else one trust's part).
    pub whole: bool,
    /// Rows deleted, re-keyed or scrubbed.
    pub rows: u64,
    /// Files to delete from the file store after commit (their copies of their data).
    pub files: Vec<String>,
}

/// What replaces their name and email address in text.
pub const ERASED: &str = "(erased)";

/// Rows deleted outright: (table, person column).
const DELETED: &[(&str, &str)] = &[
    ("membership_roles", "person_id"),
    ("staff_records", "person_id"),
    ("sso_links", "person_id"),
    ("person_sessions", "person_id"),
    ("certificate_links", "person_id"),
    ("record_grants", "person_id"),
    ("portfolio_links", "person_id"),
    ("report_schedules", "person_id"),
    ("data_exports", "person_id"),
    ("tenant_terms_acceptances", "person_id"),
    ("invitations", "person_id"),
    ("memberships", "person_id"),
    ("content_policy_acceptances", "person_id"),
    ("event_trainers", "person_id"),
    ("scim_users", "person_id"),
    ("line_managers", "person_id"),
    ("line_managers", "manager_id"),
    ("team_nudges", "person_id"),
    ("team_nudges", "manager_id"),
    ("coaches", "person_id"),
    ("coach_learners", "learner_id"),
    ("coach_learners", "coach_id"),
    ("coach_rules", "coach_id"),
    ("coach_contacts", "learner_id"),
    ("coach_follow_ups", "learner_id"),
    ("coach_follow_ups", "coach_id"),
    ("learning_time", "person_id"),
    ("calendar_feeds", "person_id"),
    ("lab_bookings", "person_id"),
    ("badge_awards", "person_id"),
];

/// What a library resource and its versions say in words (credits, descriptions, notes, text,
/// transcripts): where a contributor's name may be written.
const LIBRARY_TEXT: &[(&str, &str)] = &[
    ("resources", "title"),
    ("resources", "description"),
    ("resources", "keywords"),
    ("resources", "audience"),
    ("resources", "attribution_name"),
    ("resources", "status_reason"),
    ("resources", "national_note"),
    ("resource_versions", "file_name"),
    ("resource_versions", "body"),
    ("resource_versions", "alt_text"),
    ("resource_versions", "transcript"),
    ("resource_versions", "note"),
];

/// Columns that name the person and take the pseudonym: (table, column).
const REKEYED: &[(&str, &str)] = &[
    ("assignments", "person_id"),
    ("attempts", "person_id"),
    ("completions", "person_id"),
    ("enrolments", "person_id"),
    ("enrolments", "decided_by"),
    ("object_progress", "person_id"),
    ("charges", "person_id"),
    ("ledger_entries", "person_id"),
    ("access_events", "person_id"),
    ("held_uploads", "uploaded_by"),
    ("report_grants", "person_id"),
    ("report_grants", "granted_by"),
    ("report_grants", "revoked_by"),
    ("report_authorisers", "person_id"),
    ("memberships", "decided_by"),
    ("membership_roles", "granted_by"),
    ("invitations", "invited_by"),
    ("api_tokens", "created_by"),
    ("xapi_credentials", "created_by"),
    ("catalogue_offers", "offered_by"),
    ("packages", "created_by"),
    ("requirements", "created_by"),
    ("market_adoptions", "added_by"),
    ("market_budgets", "updated_by"),
    ("enquiry_messages", "author_person_id"),
    ("resources", "contributor_id"),
    ("resource_versions", "created_by"),
    ("resource_ratings", "person_id"),
    ("resource_feedback", "person_id"),
    ("resource_reports", "person_id"),
    ("resource_reports", "resolved_by"),
    ("events", "created_by"),
    ("event_bookings", "person_id"),
    ("event_bookings", "marked_by"),
    ("coach_contacts", "coach_id"),
    ("coaches", "appointed_by"),
    ("learning_time", "asked_by"),
    ("learning_time", "agreed_by"),
    ("lab_bookings", "marked_by"),
    ("campaigns", "created_by"),
    ("campaign_people", "person_id"),
];

impl PlatformDb {
    /// Erases `person` within `scope`, in one transaction: refused (nothing changed) when they are
    /// the last training manager of a trust in scope, a platform administrator, or not found.
    /// `agent_keys` are the keys (`trellis_elearning::lrs::agent_hash`) their learning record
    /// store agents have in each trust: the opaque account, and their email as `mbox` and
    /// `mbox_sha1sum`, should content have used it.
    pub async fn erase_person_across_tenants(
        &self,
        person: PersonId,
        scope: Scope,
        requester: Requester,
        agent_keys: &[(TenantId, String)],
    ) -> Result<Result<Erased, Refusal>, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let backend = tx.get_database_backend();
        let q = |sql: &str, values: Vec<Value>| crate::tenant_tx::statement(backend, sql, values);
        let p = person.as_uuid();

        let Some(row) = tx
            .query_one_raw(q(
                "SELECT email, given_name, family_name, platform_admin FROM people WHERE id = $1",
                vec![p.into()],
            ))
            .await?
        else {
            return Ok(Err(Refusal::NotFound));
        };
        let email: String = row.try_get("", "email")?;
        let given: String = row.try_get("", "given_name")?;
        let family: String = row.try_get("", "family_name")?;
        if row.try_get::<bool>("", "platform_admin")? {
            return Ok(Err(Refusal::PlatformAdmin));
        }
        let mut member_of = Vec::new();
        for r in tx.query_all_raw(q("SELECT tenant_id FROM memberships WHERE person_id = $1", vec![p.into()])).await? {
            member_of.push(TenantId::from_uuid(r.try_get("", "tenant_id")?));
        }
        member_of.sort_by_key(|t| t.as_uuid());
        // Decided here, in the transaction, so a membership added meanwhile is seen.
        let scope = match scope {
            Scope::AccountIfOnly(t) if member_of == [t] => Scope::Account,
            Scope::AccountIfOnly(t) => Scope::Trust(t),
            other => other,
        };
        let trusts = match scope {
            Scope::Trust(t) if member_of.contains(&t) => vec![t],
            Scope::Trust(_) | Scope::AccountIfOnly(_) => return Ok(Err(Refusal::NotFound)),
            Scope::Account => member_of.clone(),
        };
        let whole = scope == Scope::Account;
        let admin = Role::TrainingManager.as_str();
        for t in &trusts {
            let roles = tx
                .query_one_raw(q(
                    "SELECT
                       (SELECT COUNT(*) FROM membership_roles WHERE tenant_id = $1 AND person_id = $2 AND role = $3) AS mine,
                       (SELECT COUNT(*) FROM membership_roles r JOIN memberships m
                          ON m.tenant_id = r.tenant_id AND m.person_id = r.person_id
                         WHERE r.tenant_id = $1 AND r.role = $3 AND r.person_id <> $2 AND m.status = 'approved') AS others",
                    vec![t.as_uuid().into(), p.into(), admin.into()],
                ))
                .await?;
            let (mine, others) = match roles {
                Some(r) => (r.try_get::<i64>("", "mine")?, r.try_get::<i64>("", "others")?),
                None => (0, 0),
            };
            if mine > 0 && others == 0 {
                return Ok(Err(Refusal::LastAdmin(*t)));
            }
        }

        let pseudonym = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let texts = texts_of(&email, &given, &family);
        let mut rows = 0u64;
        let mut files = Vec::new();
        for t in &trusts {
            let tv = || Value::from(t.as_uuid());
            for r in tx
                .query_all_raw(q(
                    "SELECT id FROM data_exports WHERE tenant_id = $1 AND person_id = $2",
                    vec![tv(), p.into()],
                ))
                .await?
            {
                files.push(crate::data_exports::file_key(*t, r.try_get("", "id")?));
            }
            rows += forget_enquiries_and_mail(&tx, Some(*t), person, &email).await?;
            for (table, column) in DELETED {
                rows += exec(
                    &tx,
                    &format!("DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2"),
                    vec![tv(), p.into()],
                )
                .await?;
            }
            rows += exec(
                &tx,
                "DELETE FROM record_grants WHERE tenant_id = $1 AND lower(tutor_email) = $2",
                vec![tv(), email.to_lowercase().into()],
            )
            .await?;
            rows += exec(
                &tx,
                "DELETE FROM invitations WHERE tenant_id = $1 AND lower(email) = $2",
                vec![tv(), email.to_lowercase().into()],
            )
            .await?;
            for (table, column) in REKEYED {
                rows += exec(
                    &tx,
                    &format!("UPDATE {table} SET {column} = $3 WHERE tenant_id = $1 AND {column} = $2"),
                    vec![tv(), p.into(), pseudonym.into()],
                )
                .await?;
            }
            // What the kept rows still said about them.
            let pv = || Value::from(pseudonym);
            exec(&tx, "UPDATE access_events SET ip = '' WHERE tenant_id = $1 AND person_id = $2", vec![tv(), pv()])
                .await?;
            exec(&tx, "UPDATE enrolments SET reason = '' WHERE tenant_id = $1 AND person_id = $2", vec![tv(), pv()])
                .await?;
            exec(
                &tx,
                "UPDATE report_grants SET person_name = $3, person_email = '', ip = '', statement = ''
                  WHERE tenant_id = $1 AND person_id = $2",
                vec![tv(), pv(), ERASED.into()],
            )
            .await?;
            exec(
                &tx,
                "UPDATE report_authorisers SET name = $3, email = '', confirmed_ip = ''
                  WHERE tenant_id = $1 AND (person_id = $2 OR lower(email) = $4)",
                vec![tv(), pv(), ERASED.into(), email.to_lowercase().into()],
            )
            .await?;
            exec(
                &tx,
                "UPDATE report_authorisers SET recorded_by = $2 WHERE tenant_id = $1 AND lower(recorded_by) = $3",
                vec![tv(), ERASED.into(), email.to_lowercase().into()],
            )
            .await?;
            // Their learning record store documents (resume state a course kept) go; their
            // statements stay, with any name or address the content wrote in them scrubbed.
            let keys: Vec<&String> = agent_keys.iter().filter(|(k, _)| k == t).map(|(_, key)| key).collect();
            for key in &keys {
                rows += exec(
                    &tx,
                    "DELETE FROM xapi_documents WHERE tenant_id = $1 AND agent_key = $2",
                    vec![tv(), (*key).clone().into()],
                )
                .await?;
                rows += scrub(
                    &tx,
                    Scrub { table: "xapi_statements", column: "body", filter: "tenant_id = $1 AND actor_key = $2" },
                    vec![tv(), (*key).clone().into()],
                    &texts,
                )
                .await?;
            }
            rows += scrub(
                &tx,
                Scrub { table: "attempts", column: "record", filter: "tenant_id = $1 AND person_id = $2" },
                vec![tv(), pv()],
                &texts,
            )
            .await?;
            rows += scrub(
                &tx,
                Scrub {
                    table: "attempt_commits",
                    column: "payload",
                    filter: "tenant_id = $1 AND attempt_id IN (SELECT id FROM attempts WHERE tenant_id = $1 AND person_id = $2)",
                },
                vec![tv(), pv()],
                &texts,
            )
            .await?;
            // Others' emails, and others' enquiries, that named them are scrubbed.
            for (table, column) in [
                ("outbox", "payload"),
                ("enquiry_messages", "body"),
                ("enquiries", "subject"),
                ("enquiries", "name"),
                ("resource_feedback", "body"),
                ("resource_reports", "details"),
            ]
            .iter()
            .chain(LIBRARY_TEXT)
            {
                rows += scrub(&tx, Scrub { table, column, filter: "tenant_id = $1" }, vec![tv()], &texts).await?;
            }
        }
        match scope {
            Scope::Account => {
                // Enquiries and emails at trusts they never belonged to (Contact us is open to all).
                rows += forget_enquiries_and_mail(&tx, None, person, &email).await?;
                rows +=
                    scrub(&tx, Scrub { table: "stripe_events", column: "payload", filter: "1 = 1" }, vec![], &texts)
                        .await?;
                rows += exec(
                    &tx,
                    "UPDATE shared_completions SET person_id = $2 WHERE person_id = $1",
                    vec![p.into(), pseudonym.into()],
                )
                .await?;
                // What they gave the national library.
                let national = Value::from(TenantId::NATIONAL.as_uuid());
                for (table, column) in [("resources", "contributor_id"), ("resource_versions", "created_by")] {
                    rows += exec(
                        &tx,
                        &format!("UPDATE {table} SET {column} = $3 WHERE tenant_id = $1 AND {column} = $2"),
                        vec![national.clone(), p.into(), pseudonym.into()],
                    )
                    .await?;
                }
                for (table, column) in LIBRARY_TEXT {
                    rows +=
                        scrub(&tx, Scrub { table, column, filter: "tenant_id = $1" }, vec![national.clone()], &texts)
                            .await?;
                }
                for table in ["person_sessions", "sso_links", "tenant_terms_acceptances"] {
                    rows += exec(&tx, &format!("DELETE FROM {table} WHERE person_id = $1"), vec![p.into()]).await?;
                }
            }
            Scope::Trust(t) | Scope::AccountIfOnly(t) => {
                rows += exec(
                    &tx,
                    "UPDATE shared_completions SET person_id = $3 WHERE person_id = $1 AND earned_in = $2",
                    vec![p.into(), t.as_uuid().into(), pseudonym.into()],
                )
                .await?;
            }
        }
        rows += pseudonymise_audit(&tx, person, PersonId::from_uuid(pseudonym), &trusts, &texts, whole).await?;
        if whole {
            erase_account(&tx, person).await?;
        }
        // Each trust's trail says it happened, naming only the pseudonym.
        let actor = match requester {
            Requester::TheirOwn => Some(pseudonym),
            Requester::Admin(a) => Some(a.as_uuid()),
            Requester::Retention => None,
        };
        let detail = serde_json::json!({
            "requested_by": match requester {
                Requester::TheirOwn => "themselves",
                Requester::Admin(_) => "an administrator",
                Requester::Retention => "the retention schedule (unused account)",
            },
            "scope": if whole { "account" } else { "this organisation" },
        })
        .to_string();
        for t in &trusts {
            audit_event::ActiveModel {
                tenant_id: Set(t.as_uuid()),
                id: Set(Uuid::now_v7()),
                at: Set(chrono::Utc::now()),
                actor_person_id: Set(actor),
                action: Set("person.erased".into()),
                subject: Set(pseudonym.to_string()),
                ip: Set(None),
                detail: Set(detail.clone()),
            }
            .insert(&tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(Erased { pseudonym: PersonId::from_uuid(pseudonym), trusts, whole, rows, files }))
    }

    /// Accounts unused since `before` (last signed in then, or created then and never signed in),
    /// at most `limit`, oldest first: the retention schedule's to anonymise. Platform
    /// administrators are left out (their rights are removed by hand first).
    pub async fn inactive_people_across_tenants(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: u64,
    ) -> Result<Vec<PersonId>, DbError> {
        let backend = self.conn.get_database_backend();
        let rows = self
            .conn
            .query_all_raw(crate::tenant_tx::statement(
                backend,
                "SELECT id FROM people
                  WHERE platform_admin = false AND COALESCE(last_active_at, created_at) < $1
                  ORDER BY COALESCE(last_active_at, created_at), id LIMIT $2",
                vec![before.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
            ))
            .await?;
        rows.iter().map(|r| Ok(PersonId::from_uuid(r.try_get("", "id")?))).collect()
    }

    /// The audit trails' side of an erasure, on its own (see [`pseudonymise_audit`]).
    pub async fn pseudonymise_audit_across_tenants(
        &self,
        person: PersonId,
        pseudonym: PersonId,
        trusts: &[TenantId],
        texts: &[String],
    ) -> Result<u64, DbError> {
        let (tx, _turn) = crate::tenant_tx::begin_tx(&self.conn, &self.writer, true).await?;
        let n = pseudonymise_audit(&tx, person, pseudonym, trusts, texts, false).await?;
        tx.commit().await?;
        Ok(n)
    }
}

/// The ways a person's name and address are written: their email, "Given Family", "Family,
/// Given" (as SCORM's `student_name` has it) and "Family Given", each also as an HTML page or
/// email escapes it ("O&#x27;Brien"); names of fewer than six characters in all are left alone
/// (they would match too much).
pub fn texts_of(email: &str, given: &str, family: &str) -> Vec<String> {
    let mut out = vec![email.trim().to_owned()];
    let (g, f) = (given.trim(), family.trim());
    if !g.is_empty() && !f.is_empty() {
        for t in [format!("{g} {f}"), format!("{f}, {g}"), format!("{f},{g}"), format!("{f} {g}")] {
            if t.chars().count() >= 6 {
                out.push(t);
            }
        }
    }
    for t in out.clone() {
        let escaped = html_escaped(&t);
        if escaped != t {
            out.push(escaped);
        }
    }
    out.retain(|t| !t.is_empty());
    out
}

/// `t` as the templates' HTML escaping writes it.
fn html_escaped(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            c => out.push(c),
        }
    }
    out
}

/// Characters that continue a name or an address: a match must not have one just before or
/// after it, so "Ann Lee" is not found in "Joann Leeson" nor "j.smith@nhs.net" in
/// "aj.smith@nhs.net". The PostgreSQL function uses the same class.
fn continues(c: char) -> bool {
    c.is_alphanumeric() || "._%+'@-".contains(c)
}

/// Deletes the person's enquiries (with their threads) and the emails addressed to them: at one
/// trust, or (None) at every trust, since anyone may write to any trust's desk.
async fn forget_enquiries_and_mail(
    tx: &DatabaseTransaction,
    trust: Option<TenantId>,
    person: PersonId,
    email: &str,
) -> Result<u64, DbError> {
    let (filter, mut values): (&str, Vec<Value>) = match trust {
        Some(t) => ("tenant_id = $3 AND ", vec![t.as_uuid().into()]),
        None => ("", vec![]),
    };
    let mut base = vec![Value::from(person.as_uuid()), email.to_lowercase().into()];
    base.append(&mut values);
    let mut n = exec(
        tx,
        &format!(
            "DELETE FROM enquiry_messages WHERE {filter}(tenant_id, enquiry_id) IN
               (SELECT tenant_id, id FROM enquiries WHERE person_id = $1 OR lower(email) = $2)"
        ),
        base.clone(),
    )
    .await?;
    n += exec(tx, &format!("DELETE FROM enquiries WHERE {filter}(person_id = $1 OR lower(email) = $2)"), base.clone())
        .await?;
    // An email's payload begins with its address: `{"to":"…",`.
    let prefix = format!("{{\"to\":{},", serde_json::Value::from(email.to_lowercase()));
    let mut values =
        vec![Value::from(prefix.clone()), i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX).into()];
    if let Some(t) = trust {
        values.push(t.as_uuid().into());
    }
    n += exec(tx, &format!("DELETE FROM outbox WHERE {filter}kind = 'email' AND substr(payload, 1, $2) = $1"), values)
        .await?;
    Ok(n)
}

async fn exec(tx: &DatabaseTransaction, sql: &str, values: Vec<Value>) -> Result<u64, DbError> {
    let backend = tx.get_database_backend();
    Ok(tx.execute_raw(crate::tenant_tx::statement(backend, sql, values)).await?.rows_affected())
}

/// `column` contains parameter `$n` (already lower-case), ignoring case.
fn contains(backend: DbBackend, column: &str, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("strpos(lower({column}), ${n}) > 0"),
        _ => format!("instr(lower({column}), ${n}) > 0"),
    }
}

struct Scrub {
    table: &'static str,
    column: &'static str,
    /// Which rows to look at, with its own parameters first.
    filter: &'static str,
}

/// Replaces each of `texts` (ignoring ASCII case) with [`ERASED`] in the rows `s` picks that
/// contain one; returns how many rows changed. Rows are found by the database and rewritten by
/// key, so a JSON document keeps its shape.
async fn scrub(tx: &DatabaseTransaction, s: Scrub, values: Vec<Value>, texts: &[String]) -> Result<u64, DbError> {
    let backend = tx.get_database_backend();
    if texts.is_empty() {
        return Ok(0);
    }
    let base = values.len();
    let mut any = Vec::new();
    let mut all = values.clone();
    for (i, t) in texts.iter().enumerate() {
        any.push(contains(backend, s.column, base + i + 1));
        all.push(lower(backend, t).into());
    }
    let sql = format!(
        "SELECT id AS k, {col} AS v FROM {table} WHERE {filter} AND ({any})",
        col = s.column,
        table = s.table,
        filter = s.filter,
        any = any.join(" OR ")
    );
    let rows = tx.query_all_raw(crate::tenant_tx::statement(backend, &sql, all)).await?;
    let mut n = 0;
    for r in rows {
        let v: String = r.try_get("", "v")?;
        let new = replace_all(&v, texts);
        if new == v {
            continue;
        }
        // Stripe's events are keyed by Stripe's own id; every other table by a UUID.
        let id: Value = if s.table == "stripe_events" {
            r.try_get::<String>("", "k")?.into()
        } else {
            r.try_get::<Uuid>("", "k")?.into()
        };
        let mut vals = values.clone();
        let at = vals.len();
        vals.push(new.into());
        vals.push(id);
        let sql = format!("UPDATE {} SET {} = ${} WHERE {} AND id = ${}", s.table, s.column, at + 1, s.filter, at + 2);
        n += exec(tx, &sql, vals).await?;
    }
    Ok(n)
}

/// How the database's `lower()` writes `t`: PostgreSQL's knows every letter, SQLite's only ASCII.
fn lower(backend: DbBackend, t: &str) -> String {
    if backend == DbBackend::Postgres { t.to_lowercase() } else { t.to_ascii_lowercase() }
}

/// `text` with every occurrence of each of `texts` (ignoring ASCII case) replaced by [`ERASED`].
fn replace_all(text: &str, texts: &[String]) -> String {
    let mut out = text.to_owned();
    for t in texts {
        if t.is_empty() {
            continue;
        }
        let mut next = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(i) = find_ignoring_case(rest, t) {
            let before = rest[..i].chars().last().or_else(|| next.chars().last());
            let after = rest[i + t.len()..].chars().next();
            next.push_str(&rest[..i]);
            if before.is_some_and(continues) || after.is_some_and(continues) {
                // Part of a longer name or address: someone else's.
                next.push_str(&rest[i..i + t.len()]);
            } else {
                next.push_str(ERASED);
            }
            rest = &rest[i + t.len()..];
        }
        next.push_str(rest);
        out = next;
    }
    out
}

fn find_ignoring_case(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.len() > h.len() {
        return None;
    }
    (0..=h.len() - n.len())
        .filter(|i| hay.is_char_boundary(*i) && hay.is_char_boundary(i + n.len()))
        .find(|i| h[*i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The audit trails' side: the person's entries in `trusts` take the pseudonym and lose their
/// address; any entry there whose subject or detail contains one of `texts` (as a whole name or
/// address, ignoring case: see [`continues`]) loses its detail, and its subject if that is where;
/// with `platform`, the platform's own trail likewise. On PostgreSQL the owner's function
/// `trellis_audit_pseudonymise`, since no role may change the trail itself.
async fn pseudonymise_audit(
    tx: &DatabaseTransaction,
    person: PersonId,
    pseudonym: PersonId,
    trusts: &[TenantId],
    texts: &[String],
    platform: bool,
) -> Result<u64, DbError> {
    let backend = tx.get_database_backend();
    if backend == DbBackend::Postgres {
        let tenants: Vec<Uuid> = trusts.iter().map(|t| t.as_uuid()).collect();
        let row = tx
            .query_one_raw(crate::tenant_tx::statement(
                backend,
                "SELECT trellis_audit_pseudonymise($1, $2, $3, $4, $5) AS n",
                vec![
                    person.as_uuid().into(),
                    pseudonym.as_uuid().into(),
                    tenants.into(),
                    texts.to_vec().into(),
                    platform.into(),
                ],
            ))
            .await?;
        return Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.map_or(0, |n| u64::try_from(n).unwrap_or(0)));
    }
    let (p, q) = (person.as_uuid(), pseudonym.as_uuid());
    let names = |v: &str| texts.iter().any(|t| replace_all(v, std::slice::from_ref(t)) != v);
    let mut n = 0;
    for t in trusts {
        n += exec(
            tx,
            "UPDATE audit_events SET ip = NULL,
                    actor_person_id = CASE WHEN actor_person_id = $2 THEN $3 ELSE actor_person_id END,
                    subject = CASE WHEN subject = $4 THEN $5 ELSE subject END
              WHERE tenant_id = $1 AND (actor_person_id = $2 OR subject = $4)",
            vec![t.as_uuid().into(), p.into(), q.into(), p.to_string().into(), q.to_string().into()],
        )
        .await?;
        // Candidates by substring in the database; a whole name or address decided here.
        let mut any = Vec::new();
        let mut values: Vec<Value> = vec![t.as_uuid().into()];
        for text in texts {
            values.push(text.to_ascii_lowercase().into());
            let k = values.len();
            any.push(format!("instr(lower(detail), ${k}) > 0 OR instr(lower(subject), ${k}) > 0"));
        }
        if any.is_empty() {
            continue;
        }
        let sql =
            format!("SELECT id, subject, detail FROM audit_events WHERE tenant_id = $1 AND ({})", any.join(" OR "));
        for r in tx.query_all_raw(crate::tenant_tx::statement(backend, &sql, values)).await? {
            let (id, subject, detail): (Uuid, String, String) =
                (r.try_get("", "id")?, r.try_get("", "subject")?, r.try_get("", "detail")?);
            let (in_subject, in_detail) = (names(&subject), names(&detail));
            if !in_subject && !in_detail {
                continue;
            }
            n += exec(
                tx,
                "UPDATE audit_events SET detail = '{}', subject = CASE WHEN $3 THEN '(erased)' ELSE subject END
                  WHERE tenant_id = $1 AND id = $2",
                vec![t.as_uuid().into(), id.into(), in_subject.into()],
            )
            .await?;
        }
    }
    if platform {
        for r in tx
            .query_all_raw(crate::tenant_tx::statement(backend, "SELECT id, actor, detail FROM platform_audit", vec![]))
            .await?
        {
            let (id, actor, detail): (Uuid, String, String) =
                (r.try_get("", "id")?, r.try_get("", "actor")?, r.try_get("", "detail")?);
            let (in_actor, in_detail) = (names(&actor), names(&detail));
            if in_actor || in_detail {
                exec(
                    tx,
                    "UPDATE platform_audit SET detail = '{}', actor = CASE WHEN $2 THEN '(erased)' ELSE actor END WHERE id = $1",
                    vec![id.into(), in_actor.into()],
                )
                .await?;
            }
        }
    }
    Ok(n)
}

/// Deletes the account itself once it belongs to no trust. On PostgreSQL the owner's function
/// `trellis_erase_account` (the platform's role has no grant on secrets).
async fn erase_account(tx: &DatabaseTransaction, person: PersonId) -> Result<(), DbError> {
    let p = person.as_uuid();
    if tx.get_database_backend() == DbBackend::Postgres {
        exec(tx, "SELECT trellis_erase_account($1)", vec![p.into()]).await?;
        return Ok(());
    }
    for (table, column) in [
        ("person_secrets", "person_id"),
        ("mfa_recovery_codes", "person_id"),
        ("email_tokens", "person_id"),
        ("identity_proofs", "person_id"),
        ("platform_terms_acceptances", "person_id"),
        ("people", "id"),
    ] {
        exec(tx, &format!("DELETE FROM {table} WHERE {column} = $1"), vec![p.into()]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_a_name_is_written_is_replaced_ignoring_case() {
        let texts = texts_of("Ann.Example@northmoor.example", "Ann", "Oakley");
        let s = r#"{"cmi.core.student_name":"Oakley, Ann","note":"ann.example@NORTHMOOR.example wrote to Ann Oakley"}"#;
        assert_eq!(
            replace_all(s, &texts),
            r#"{"cmi.core.student_name":"(erased)","note":"(erased) wrote to (erased)"}"#
        );
        assert_eq!(replace_all("Zoë Oakley-Smith", &texts), "Zoë Oakley-Smith", "other text untouched");
        assert_eq!(texts_of("a@b.c", "Al", "B"), vec!["a@b.c".to_owned()], "too short to match safely");
    }
}
