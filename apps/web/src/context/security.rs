//! Server-side sessions: in-process on embedded defaults, in Redis otherwise. The cookie holds only
//! a random id; it is host-only, HttpOnly and SameSite=Lax (Secure when `server.secure`).

use poem::session::SessionStorage;
use redis::AsyncCommands;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Session entries and when they expire, by session id.
type MemoryMap = HashMap<String, (BTreeMap<String, Value>, Option<Instant>)>;

/// Where sessions live.
pub enum Store {
    Memory(Mutex<MemoryMap>),
    Redis { conn: redis::aio::ConnectionManager, prefix: String },
}

impl SessionStorage for Store {
    async fn load_session<'a>(&'a self, session_id: &'a str) -> poem::Result<Option<BTreeMap<String, Value>>> {
        match self {
            Store::Memory(map) => {
                let mut map = map.lock().map_err(|_| {
                    poem::Error::from_string("session store", poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                })?;
                match map.get(session_id) {
                    Some((_, Some(exp))) if *exp < Instant::now() => {
                        map.remove(session_id);
                        Ok(None)
                    }
                    Some((entries, _)) => Ok(Some(entries.clone())),
                    None => Ok(None),
                }
            }
            Store::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let raw: Option<String> = conn.get(format!("{prefix}:session:{session_id}")).await.map_err(|e| {
                    poem::Error::from_string(e.to_string(), poem::http::StatusCode::SERVICE_UNAVAILABLE)
                })?;
                Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
            }
        }
    }

    async fn update_session<'a>(
        &'a self,
        session_id: &'a str,
        entries: &'a BTreeMap<String, Value>,
        expires: Option<Duration>,
    ) -> poem::Result<()> {
        match self {
            Store::Memory(map) => {
                let mut map = map.lock().map_err(|_| {
                    poem::Error::from_string("session store", poem::http::StatusCode::INTERNAL_SERVER_ERROR)
                })?;
                if map.len() > 200_000 {
                    let now = Instant::now();
                    map.retain(|_, (_, exp)| exp.is_none_or(|e| e > now));
                }
                map.insert(session_id.to_owned(), (entries.clone(), expires.map(|d| Instant::now() + d)));
                Ok(())
            }
            Store::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let key = format!("{prefix}:session:{session_id}");
                let body = serde_json::to_string(entries).unwrap_or_default();
                let ttl = expires.map_or(86_400, |d| d.as_secs().max(1));
                let _: () = conn.set_ex(key, body, ttl).await.map_err(|e| {
                    poem::Error::from_string(e.to_string(), poem::http::StatusCode::SERVICE_UNAVAILABLE)
                })?;
                Ok(())
            }
        }
    }

    async fn remove_session<'a>(&'a self, session_id: &'a str) -> poem::Result<()> {
        match self {
            Store::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    map.remove(session_id);
                }
                Ok(())
            }
            Store::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let _: redis::RedisResult<i64> = conn.del(format!("{prefix}:session:{session_id}")).await;
                Ok(())
            }
        }
    }
}

/// A store shared by every route's session middleware.
#[derive(Clone)]
pub struct Shared(pub std::sync::Arc<Store>);

impl SessionStorage for Shared {
    async fn load_session<'a>(&'a self, session_id: &'a str) -> poem::Result<Option<BTreeMap<String, Value>>> {
        self.0.load_session(session_id).await
    }
    async fn update_session<'a>(
        &'a self,
        session_id: &'a str,
        entries: &'a BTreeMap<String, Value>,
        expires: Option<Duration>,
    ) -> poem::Result<()> {
        self.0.update_session(session_id, entries, expires).await
    }
    async fn remove_session<'a>(&'a self, session_id: &'a str) -> poem::Result<()> {
        self.0.remove_session(session_id).await
    }
}

/// What the form routes need: the session store and cookie settings, and the CSRF key.
#[derive(Clone)]
pub struct Security {
    pub store: Shared,
    pub csrf_key: [u8; 32],
    pub secure: bool,
    pub absolute: std::time::Duration,
}
