//! The xAPI learning record store's storage: statements (and what each mentions, for the
//! filters), attachments, activity definitions, documents (state, activity and agent profiles)
//! and the credentials a trust issues. Every query names the trust (`tenant_id = $1`) as well as
//! running under row-level security on PostgreSQL.
//!
//! Statements are ordered by `seq`, given as they are stored (a PostgreSQL sequence; on SQLite,
//! one more than the largest, under the write lock every SQLite writer holds).

use crate::{DbError, TenantTx};
use chrono::{DateTime, Utc};
use sea_orm::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// A statement ready to store.
#[derive(Debug, Clone)]
pub struct NewStatement {
    pub id: Uuid,
    pub stored: DateTime<Utc>,
    pub timestamp: DateTime<Utc>,
    pub verb_key: String,
    pub object_key: String,
    pub actor_key: String,
    pub registration: Option<Uuid>,
    /// The statement a StatementRef object (or a voiding statement) points at.
    pub ref_target: Option<Uuid>,
    pub voiding: bool,
    pub version: String,
    /// The statement as the LRS returns it.
    pub body: String,
    /// (kind, key, related only).
    pub mentions: Vec<(&'static str, String, bool)>,
}

/// A statement as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub id: Uuid,
    pub seq: i64,
    pub stored: DateTime<Utc>,
    pub voided: bool,
    pub body: String,
}

/// Adds `v` to the statement's values and returns its placeholder.
fn bind(vals: &mut Vec<Value>, v: impl Into<Value>) -> String {
    vals.push(v.into());
    format!("${}", vals.len() + 1) // $1 is the trust, bound by TenantTx
}

/// The statements already stored under these ids (id → body).
pub async fn existing(tx: &TenantTx, ids: &[Uuid]) -> Result<HashMap<Uuid, String>, DbError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut vals = Vec::<Value>::new();
    let list: Vec<String> = ids.iter().map(|id| bind(&mut vals, *id)).collect();
    let sql = format!("SELECT id, body FROM xapi_statements WHERE tenant_id = $1 AND id IN ({})", list.join(", "));
    let rows = tx.query_all(&sql, vals).await?;
    rows.into_iter().map(|r| Ok((r.try_get::<Uuid>("", "id")?, r.try_get::<String>("", "body")?))).collect()
}

/// Which of these ids are voiding statements (which cannot themselves be voided).
pub async fn voiding_among(tx: &TenantTx, ids: &[Uuid]) -> Result<Vec<Uuid>, DbError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut vals = Vec::<Value>::new();
    let list: Vec<String> = ids.iter().map(|id| bind(&mut vals, *id)).collect();
    let voided_key = bind(&mut vals, trellis_elearning_verb_key());
    let sql = format!(
        "SELECT id FROM xapi_statements WHERE tenant_id = $1 AND id IN ({}) AND verb_key = {voided_key}",
        list.join(", ")
    );
    let rows = tx.query_all(&sql, vals).await?;
    rows.into_iter().map(|r| r.try_get::<Uuid>("", "id").map_err(DbError::from)).collect()
}

/// The key of the `voided` verb (kept here so the data layer need not depend on the e-learning
/// crate: the same hashing as `trellis_elearning::lrs::verb_key`).
fn trellis_elearning_verb_key() -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(b"verb:http://adlnet.gov/expapi/verbs/voided");
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores statements (one multi-row insert for them and one for what they mention) and voids the
/// targets of the voiding ones (never a voiding statement).
pub async fn insert(tx: &TenantTx, list: &[NewStatement]) -> Result<(), DbError> {
    if list.is_empty() {
        return Ok(());
    }
    if tx.is_postgres() {
        return insert_pg(tx, list).await;
    }
    // SQLite: every writer holds the database's write lock, so one more than the largest seq is
    // safe; rows in chunks of 500 (11 values each, well under SQLite's limit of parameters).
    let sql = "SELECT COALESCE(MAX(seq), 0) AS n FROM xapi_statements WHERE tenant_id = $1";
    let mut next: i64 = tx.query_one(sql, vec![]).await?.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0);
    let mut seq_of: HashMap<Uuid, i64> = HashMap::with_capacity(list.len());
    for chunk in list.chunks(500) {
        let mut vals = Vec::<Value>::new();
        let mut rows = Vec::with_capacity(chunk.len());
        for s in chunk {
            next += 1;
            seq_of.insert(s.id, next);
            let cols = [
                bind(&mut vals, s.id),
                bind(&mut vals, next),
                bind(&mut vals, s.stored),
                bind(&mut vals, s.timestamp),
                bind(&mut vals, s.verb_key.clone()),
                bind(&mut vals, s.object_key.clone()),
                bind(&mut vals, s.actor_key.clone()),
                bind(&mut vals, s.registration),
                bind(&mut vals, s.ref_target),
                bind(&mut vals, s.version.clone()),
                bind(&mut vals, s.body.clone()),
            ];
            rows.push(format!("($1, {}, false)", cols.join(", ")));
        }
        let sql = format!(
            "INSERT INTO xapi_statements (tenant_id, id, seq, stored, timestamp, verb_key, object_key, actor_key,
                                          registration, ref_target, version, body, voided)
             VALUES {}",
            rows.join(", ")
        );
        tx.execute(&sql, vals).await?;
    }
    let mut mention_rows: Vec<(i64, Uuid, &(&'static str, String, bool))> = Vec::new();
    for s in list {
        let seq = seq_of.get(&s.id).copied().unwrap_or(0);
        for m in &s.mentions {
            mention_rows.push((seq, s.id, m));
        }
    }
    for chunk in mention_rows.chunks(2000) {
        let mut vals = Vec::<Value>::new();
        let rows: Vec<String> = chunk
            .iter()
            .map(|(seq, id, (kind, key, related))| {
                format!(
                    "($1, {}, {}, {}, {}, {})",
                    bind(&mut vals, *kind),
                    bind(&mut vals, key.clone()),
                    bind(&mut vals, *seq),
                    bind(&mut vals, *id),
                    bind(&mut vals, *related)
                )
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO xapi_statement_refs (tenant_id, kind, ref_key, seq, statement_id, related_only) VALUES {}",
            rows.join(", ")
        );
        tx.execute(&sql, vals).await?;
    }
    void_targets(tx, list).await
}

/// [`insert`] on PostgreSQL: each column as one array (`UNNEST`), so a batch is two short
/// statements whatever its size, not thousands of parameters.
async fn insert_pg(tx: &TenantTx, list: &[NewStatement]) -> Result<(), DbError> {
    let opt = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let vals: Vec<Value> = vec![
        list.iter().map(|s| s.id).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.stored).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.timestamp).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.verb_key.clone()).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.object_key.clone()).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.actor_key.clone()).collect::<Vec<_>>().into(),
        list.iter().map(|s| opt(s.registration)).collect::<Vec<_>>().into(),
        list.iter().map(|s| opt(s.ref_target)).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.version.clone()).collect::<Vec<_>>().into(),
        list.iter().map(|s| s.body.clone()).collect::<Vec<_>>().into(),
    ];
    let sql = "INSERT INTO xapi_statements (tenant_id, id, seq, stored, timestamp, verb_key, object_key, actor_key,
                                            registration, ref_target, version, body, voided)
               SELECT $1, u.id, nextval('xapi_statements_seq'), u.stored, u.ts, u.verb, u.obj, u.actor,
                      NULLIF(u.reg, '')::uuid, NULLIF(u.target, '')::uuid, u.ver, u.body, false
                 FROM UNNEST($2::uuid[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
                             $8::text[], $9::text[], $10::text[], $11::text[])
                      AS u(id, stored, ts, verb, obj, actor, reg, target, ver, body)
               RETURNING id, seq";
    let mut seq_of: HashMap<Uuid, i64> = HashMap::with_capacity(list.len());
    for r in tx.query_all(sql, vals).await? {
        seq_of.insert(r.try_get::<Uuid>("", "id")?, r.try_get::<i64>("", "seq")?);
    }
    let n: usize = list.iter().map(|s| s.mentions.len()).sum();
    let (mut kinds, mut keys, mut seqs, mut ids, mut related) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for s in list {
        let seq = seq_of.get(&s.id).copied().unwrap_or(0);
        for (kind, key, rel) in &s.mentions {
            kinds.push((*kind).to_owned());
            keys.push(key.clone());
            seqs.push(seq);
            ids.push(s.id);
            related.push(*rel);
        }
    }
    if n > 0 {
        let sql = "INSERT INTO xapi_statement_refs (tenant_id, kind, ref_key, seq, statement_id, related_only)
                   SELECT $1, u.kind, u.ref_key, u.seq, u.statement_id, u.related_only
                     FROM UNNEST($2::text[], $3::text[], $4::int8[], $5::uuid[], $6::bool[])
                          AS u(kind, ref_key, seq, statement_id, related_only)";
        let vals: Vec<Value> = vec![kinds.into(), keys.into(), seqs.into(), ids.into(), related.into()];
        tx.execute(sql, vals).await?;
    }
    void_targets(tx, list).await
}

/// Voids the targets of the voiding statements among `list` (never a voiding statement).
async fn void_targets(tx: &TenantTx, list: &[NewStatement]) -> Result<(), DbError> {
    let targets: Vec<Uuid> = list.iter().filter(|s| s.voiding).filter_map(|s| s.ref_target).collect();
    if targets.is_empty() {
        return Ok(());
    }
    let mut vals = Vec::<Value>::new();
    let ids: Vec<String> = targets.iter().map(|t| bind(&mut vals, *t)).collect();
    let key = bind(&mut vals, trellis_elearning_verb_key());
    let sql = format!(
        "UPDATE xapi_statements SET voided = true WHERE tenant_id = $1 AND id IN ({}) AND verb_key <> {key}",
        ids.join(", ")
    );
    tx.execute(&sql, vals).await?;
    Ok(())
}

fn stored_from(r: &sea_orm::QueryResult) -> Result<Stored, DbError> {
    Ok(Stored {
        id: r.try_get("", "id")?,
        seq: r.try_get("", "seq")?,
        stored: r.try_get("", "stored")?,
        voided: r.try_get("", "voided")?,
        body: r.try_get("", "body")?,
    })
}

/// One statement by id (voided or not).
pub async fn statement(tx: &TenantTx, id: Uuid) -> Result<Option<Stored>, DbError> {
    let sql = "SELECT id, seq, stored, voided, body FROM xapi_statements WHERE tenant_id = $1 AND id = $2";
    let vals: Vec<Value> = vec![id.into()];
    tx.query_one(sql, vals).await?.as_ref().map(stored_from).transpose()
}

/// A query of the statements resource (keys already hashed).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub agent: Option<String>,
    pub verb: Option<String>,
    pub activity: Option<String>,
    pub registration: Option<Uuid>,
    pub related_activities: bool,
    pub related_agents: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub ascending: bool,
    /// Continue after (or, ascending, before) this seq.
    pub after_seq: Option<i64>,
    /// Only statements with a seq no greater than this (the first page's, so paging is stable).
    pub max_seq: Option<i64>,
    pub limit: u64,
}

/// The conditions a statement `alias` meets for the query's filters.
fn matches(q: &Query, alias: &str, vals: &mut Vec<Value>) -> Vec<String> {
    let mut wh = Vec::new();
    let mention = |kind: &str, key: &str, related: bool, vals: &mut Vec<Value>| {
        let k = bind(vals, kind.to_owned());
        let v = bind(vals, key.to_owned());
        let rel = if related { String::new() } else { " AND m.related_only = false".to_owned() };
        format!(
            "EXISTS (SELECT 1 FROM xapi_statement_refs m WHERE m.tenant_id = $1 AND m.kind = {k} AND m.ref_key = {v}
                     AND m.statement_id = {alias}.id{rel})"
        )
    };
    if let Some(a) = &q.agent {
        wh.push(mention("agent", a, q.related_agents, vals));
    }
    if let Some(a) = &q.activity {
        wh.push(mention("activity", a, q.related_activities, vals));
    }
    if let Some(v) = &q.verb {
        wh.push(format!("{alias}.verb_key = {}", bind(vals, v.clone())));
    }
    if let Some(r) = q.registration {
        wh.push(format!("{alias}.registration = {}", bind(vals, r)));
    }
    wh
}

/// Statements matching the query, not voided, newest first (or oldest with `ascending`), at most
/// `limit + 1` (so the caller knows whether there are more). A statement that refers to a matching
/// statement (a StatementRef, a voiding statement) matches too.
pub async fn query(tx: &TenantTx, q: &Query) -> Result<Vec<Stored>, DbError> {
    let mut vals = Vec::<Value>::new();
    let direct = matches(q, "s", &mut vals);
    let through = matches(q, "t", &mut vals);
    let mut wh = vec!["s.tenant_id = $1".to_owned(), "s.voided = false".to_owned()];
    if !direct.is_empty() {
        wh.push(format!(
            "(({}) OR EXISTS (SELECT 1 FROM xapi_statements t WHERE t.tenant_id = $1 AND t.id = s.ref_target AND {}))",
            direct.join(" AND "),
            through.join(" AND ")
        ));
    }
    if let Some(since) = q.since {
        wh.push(format!("s.stored > {}", bind(&mut vals, since)));
    }
    if let Some(until) = q.until {
        wh.push(format!("s.stored <= {}", bind(&mut vals, until)));
    }
    if let Some(max) = q.max_seq {
        wh.push(format!("s.seq <= {}", bind(&mut vals, max)));
    }
    if let Some(after) = q.after_seq {
        let op = if q.ascending { ">" } else { "<" };
        wh.push(format!("s.seq {op} {}", bind(&mut vals, after)));
    }
    let order = if q.ascending { "ASC" } else { "DESC" };
    let limit = bind(&mut vals, i64::try_from(q.limit + 1).unwrap_or(i64::MAX));
    let sql = format!(
        "SELECT s.id, s.seq, s.stored, s.voided, s.body FROM xapi_statements s WHERE {} ORDER BY s.seq {order} LIMIT {limit}",
        wh.join(" AND ")
    );
    let rows = tx.query_all(&sql, vals).await?;
    rows.iter().map(stored_from).collect()
}

/// The newest seq stored here (0 if none).
pub async fn latest_seq(tx: &TenantTx) -> Result<i64, DbError> {
    let sql = "SELECT COALESCE(MAX(seq), 0) AS n FROM xapi_statements WHERE tenant_id = $1";
    Ok(tx.query_one(sql, Vec::<Value>::new()).await?.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// Keeps attachments' bytes by their hash (one copy each).
pub async fn put_attachments(tx: &TenantTx, list: &[(String, String, Vec<u8>)]) -> Result<(), DbError> {
    for (sha2, content_type, bytes) in list {
        let sql =
            "INSERT INTO xapi_attachments (tenant_id, sha2, content_type, length, body) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (tenant_id, sha2) DO NOTHING";
        let vals: Vec<Value> = vec![
            sha2.clone().into(),
            content_type.clone().into(),
            i64::try_from(bytes.len()).unwrap_or(i64::MAX).into(),
            bytes.clone().into(),
        ];
        tx.execute(sql, vals).await?;
    }
    Ok(())
}

/// Attachments by hash: (sha2, content type, bytes).
pub async fn attachments(tx: &TenantTx, shas: &[String]) -> Result<Vec<(String, String, Vec<u8>)>, DbError> {
    if shas.is_empty() {
        return Ok(vec![]);
    }
    let mut vals = Vec::<Value>::new();
    let list: Vec<String> = shas.iter().map(|s| bind(&mut vals, s.clone())).collect();
    let sql = format!(
        "SELECT sha2, content_type, body FROM xapi_attachments WHERE tenant_id = $1 AND sha2 IN ({})",
        list.join(", ")
    );
    let rows = tx.query_all(&sql, vals).await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("", "sha2")?, r.try_get("", "content_type")?, r.try_get("", "body")?)))
        .collect()
}

/// Activity definitions kept, by activity key: (id, definition JSON).
pub async fn activities(tx: &TenantTx, keys: &[String]) -> Result<HashMap<String, (String, String)>, DbError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut vals = Vec::<Value>::new();
    let list: Vec<String> = keys.iter().map(|k| bind(&mut vals, k.clone())).collect();
    let sql = format!(
        "SELECT activity_key, activity_id, definition FROM xapi_activities WHERE tenant_id = $1 AND activity_key IN ({})",
        list.join(", ")
    );
    let rows = tx.query_all(&sql, vals).await?;
    rows.into_iter()
        .map(|r| Ok((r.try_get("", "activity_key")?, (r.try_get("", "activity_id")?, r.try_get("", "definition")?))))
        .collect()
}

/// Keeps an activity's (merged) definition.
pub async fn save_activity(tx: &TenantTx, key: &str, id: &str, definition: &str) -> Result<(), DbError> {
    let sql = "INSERT INTO xapi_activities (tenant_id, activity_key, activity_id, definition, updated) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (tenant_id, activity_key) DO UPDATE SET definition = excluded.definition, updated = excluded.updated";
    let vals: Vec<Value> =
        vec![key.to_owned().into(), id.to_owned().into(), definition.to_owned().into(), Utc::now().into()];
    tx.execute(sql, vals).await?;
    Ok(())
}

/// Which document resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    State,
    ActivityProfile,
    AgentProfile,
}

impl Api {
    fn as_str(self) -> &'static str {
        match self {
            Api::State => "state",
            Api::ActivityProfile => "activity_profile",
            Api::AgentProfile => "agent_profile",
        }
    }
}

/// Where a document (or a set of them) lives: empty strings for what the resource does not use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocScope {
    pub activity_id: String,
    pub agent_key: String,
    pub registration: String,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: Uuid,
    pub doc_id: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub etag: String,
    pub updated: DateTime<Utc>,
}

fn scope_sql(api: Api, scope: &DocScope, vals: &mut Vec<Value>) -> String {
    format!(
        "tenant_id = $1 AND api = {} AND activity_id = {} AND agent_key = {} AND registration = {}",
        bind(vals, api.as_str()),
        bind(vals, scope.activity_id.clone()),
        bind(vals, scope.agent_key.clone()),
        bind(vals, scope.registration.clone())
    )
}

fn doc_from(r: &sea_orm::QueryResult) -> Result<Document, DbError> {
    Ok(Document {
        id: r.try_get("", "id")?,
        doc_id: r.try_get("", "doc_id")?,
        content_type: r.try_get("", "content_type")?,
        body: r.try_get("", "body")?,
        etag: r.try_get("", "etag")?,
        updated: r.try_get("", "updated")?,
    })
}

/// One document.
pub async fn document(tx: &TenantTx, api: Api, scope: &DocScope, doc_id: &str) -> Result<Option<Document>, DbError> {
    let mut vals = Vec::<Value>::new();
    let wh = scope_sql(api, scope, &mut vals);
    let d = bind(&mut vals, doc_id.to_owned());
    let lock = if tx.is_postgres() { " FOR UPDATE" } else { "" };
    let sql = format!(
        "SELECT id, doc_id, content_type, body, etag, updated FROM xapi_documents WHERE {wh} AND doc_id = {d}{lock}"
    );
    tx.query_one(&sql, vals).await?.as_ref().map(doc_from).transpose()
}

/// The ids of the documents in scope, optionally only those updated after `since`.
pub async fn document_ids(
    tx: &TenantTx,
    api: Api,
    scope: &DocScope,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<String>, DbError> {
    let mut vals = Vec::<Value>::new();
    let mut wh = scope_sql(api, scope, &mut vals);
    if let Some(s) = since {
        wh.push_str(&format!(" AND updated > {}", bind(&mut vals, s)));
    }
    let sql = format!("SELECT doc_id FROM xapi_documents WHERE {wh} ORDER BY doc_id");
    let rows = tx.query_all(&sql, vals).await?;
    rows.into_iter().map(|r| r.try_get::<String>("", "doc_id").map_err(DbError::from)).collect()
}

/// Creates or replaces a document.
pub async fn put_document(
    tx: &TenantTx,
    api: Api,
    scope: &DocScope,
    doc_id: &str,
    content_type: &str,
    body: &[u8],
    etag: &str,
) -> Result<(), DbError> {
    let now = Utc::now();
    let mut vals = Vec::<Value>::new();
    let wh = scope_sql(api, scope, &mut vals);
    let d = bind(&mut vals, doc_id.to_owned());
    let ct = bind(&mut vals, content_type.to_owned());
    let b = bind(&mut vals, body.to_vec());
    let e = bind(&mut vals, etag.to_owned());
    let u = bind(&mut vals, now);
    let sql = format!(
        "UPDATE xapi_documents SET content_type = {ct}, body = {b}, etag = {e}, updated = {u} WHERE {wh} AND doc_id = {d}"
    );
    let res = tx.execute(&sql, vals).await?;
    if res == 0 {
        let sql = "INSERT INTO xapi_documents (tenant_id, id, api, activity_id, agent_key, registration, doc_id,
                                               content_type, body, etag, updated)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
        let mut vals = Vec::<Value>::new();
        vals.extend([
            Uuid::now_v7().into(),
            api.as_str().into(),
            scope.activity_id.clone().into(),
            scope.agent_key.clone().into(),
            scope.registration.clone().into(),
            doc_id.to_owned().into(),
            content_type.to_owned().into(),
            body.to_vec().into(),
            etag.to_owned().into(),
            now.into(),
        ]);
        tx.execute(sql, vals).await?;
    }
    Ok(())
}

/// Deletes one document (`Some(id)`) or every document in scope (`None`).
pub async fn delete_documents(tx: &TenantTx, api: Api, scope: &DocScope, doc_id: Option<&str>) -> Result<(), DbError> {
    let mut vals = Vec::<Value>::new();
    let mut wh = scope_sql(api, scope, &mut vals);
    if let Some(d) = doc_id {
        wh.push_str(&format!(" AND doc_id = {}", bind(&mut vals, d.to_owned())));
    }
    tx.execute(&format!("DELETE FROM xapi_documents WHERE {wh}"), vals).await?;
    Ok(())
}

/// A credential a trust issued to a client of its LRS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub id: Uuid,
    pub name: String,
    pub key: String,
    pub secret_sha256: String,
    /// `all` (read and write) or `read` (reporting tools) or `write` (activity providers).
    pub scope: String,
    /// `2.0.0` or `1.0.3`: what the client speaks when a request does not say.
    pub version: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

fn credential_from(r: &sea_orm::QueryResult) -> Result<Credential, DbError> {
    Ok(Credential {
        id: r.try_get("", "id")?,
        name: r.try_get("", "name")?,
        key: r.try_get("", "key")?,
        secret_sha256: r.try_get("", "secret_sha256")?,
        scope: r.try_get("", "scope")?,
        version: r.try_get("", "version")?,
        created_at: r.try_get("", "created_at")?,
        last_used_at: r.try_get("", "last_used_at")?,
        revoked_at: r.try_get("", "revoked_at")?,
    })
}

const CREDENTIAL_COLUMNS: &str = "id, name, key, secret_sha256, scope, version, created_at, last_used_at, revoked_at";

/// What a new credential is.
#[derive(Debug, Clone)]
pub struct NewCredential<'a> {
    pub name: &'a str,
    pub key: &'a str,
    pub secret_sha256: &'a str,
    pub scope: &'a str,
    pub version: &'a str,
    pub by: Option<trellis_domain::PersonId>,
}

/// Issues a credential.
pub async fn create_credential(tx: &TenantTx, c: &NewCredential<'_>) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    let sql =
        "INSERT INTO xapi_credentials (tenant_id, id, name, key, secret_sha256, scope, version, created_by, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
    let mut vals = Vec::<Value>::new();
    vals.extend([
        id.into(),
        c.name.to_owned().into(),
        c.key.to_owned().into(),
        c.secret_sha256.to_owned().into(),
        c.scope.to_owned().into(),
        c.version.to_owned().into(),
        c.by.map(|p| p.as_uuid()).into(),
        Utc::now().into(),
    ]);
    tx.execute(sql, vals).await?;
    Ok(id)
}

/// A credential by its key (revoked ones too: the caller refuses them).
pub async fn credential(tx: &TenantTx, key: &str) -> Result<Option<Credential>, DbError> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM xapi_credentials WHERE tenant_id = $1 AND key = $2");
    let vals: Vec<Value> = vec![key.to_owned().into()];
    tx.query_one(&sql, vals).await?.as_ref().map(credential_from).transpose()
}

/// Every credential here, newest first.
pub async fn credentials(tx: &TenantTx) -> Result<Vec<Credential>, DbError> {
    let sql =
        format!("SELECT {CREDENTIAL_COLUMNS} FROM xapi_credentials WHERE tenant_id = $1 ORDER BY created_at DESC");
    let rows = tx.query_all(&sql, Vec::<Value>::new()).await?;
    rows.iter().map(credential_from).collect()
}

/// Revokes a credential; false if there is none by that id here.
pub async fn revoke_credential(tx: &TenantTx, id: Uuid) -> Result<bool, DbError> {
    let sql = "UPDATE xapi_credentials SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL";
    let vals: Vec<Value> = vec![id.into(), Utc::now().into()];
    Ok(tx.execute(sql, vals).await? == 1)
}

/// Notes that a credential was used (at most the caller's choice of how often).
pub async fn touch_credential(tx: &TenantTx, id: Uuid) -> Result<(), DbError> {
    let sql = "UPDATE xapi_credentials SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2";
    let vals: Vec<Value> = vec![id.into(), Utc::now().into()];
    tx.execute(sql, vals).await?;
    Ok(())
}
