//! Fixed-window rate limits: in-process, or in Redis (`INCR` + `EXPIRE … NX`) across instances.

use redis::AsyncCommands;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts attempts per key.
pub enum RateLimiter {
    Memory(Mutex<HashMap<String, (u64, Instant)>>),
    Redis { conn: redis::aio::ConnectionManager, prefix: String },
}

impl RateLimiter {
    /// Records one attempt for `key`; `Err(seconds)` if over `limit` in this `window`, with the
    /// time until the window ends.
    pub async fn hit(&self, key: &str, limit: u64, window: Duration) -> Result<(), u64> {
        match self {
            RateLimiter::Memory(map) => {
                let Ok(mut map) = map.lock() else { return Ok(()) };
                let now = Instant::now();
                if map.len() > 100_000 {
                    map.retain(|_, (_, start)| now.duration_since(*start) < window);
                }
                let entry = map.entry(key.to_owned()).or_insert((0, now));
                if now.duration_since(entry.1) >= window {
                    *entry = (0, now);
                }
                entry.0 += 1;
                if entry.0 > limit {
                    let left = window.saturating_sub(now.duration_since(entry.1));
                    return Err(left.as_secs().max(1));
                }
                Ok(())
            }
            RateLimiter::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let k = format!("{prefix}:rl:{key}");
                let res: redis::RedisResult<(u64, i64)> = redis::pipe()
                    .atomic()
                    .incr(&k, 1)
                    .cmd("EXPIRE")
                    .arg(&k)
                    .arg(window.as_secs())
                    .arg("NX")
                    .ignore()
                    .ttl(&k)
                    .query_async(&mut conn)
                    .await;
                match res {
                    Ok((count, ttl)) if count > limit => Err(u64::try_from(ttl).unwrap_or(1).max(1)),
                    Ok(_) => Ok(()),
                    Err(e) => {
                        // Fail open on a Redis fault, but say so: availability over a lock-out.
                        tracing::warn!(error = %e, "rate limiter unavailable");
                        Ok(())
                    }
                }
            }
        }
    }

    /// If `key` has already reached `limit` in this window, the seconds until the window ends;
    /// nothing is counted (see [`Self::fail`]).
    pub async fn over(&self, key: &str, limit: u64, window: Duration) -> Option<u64> {
        match self {
            RateLimiter::Memory(map) => {
                let map = map.lock().ok()?;
                let (count, start) = map.get(key)?;
                let elapsed = Instant::now().duration_since(*start);
                (elapsed < window && *count >= limit).then(|| window.saturating_sub(elapsed).as_secs().max(1))
            }
            RateLimiter::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let k = format!("{prefix}:rl:{key}");
                let res: redis::RedisResult<(Option<u64>, i64)> =
                    redis::pipe().get(&k).ttl(&k).query_async(&mut conn).await;
                match res {
                    Ok((Some(count), ttl)) if count >= limit => Some(u64::try_from(ttl).unwrap_or(1).max(1)),
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(error = %e, "rate limiter unavailable");
                        None
                    }
                }
            }
        }
    }

    /// Counts one failure for `key` in its window (which starts with the first).
    pub async fn fail(&self, key: &str, window: Duration) {
        // `hit` with no ceiling counts without refusing.
        let _ = self.hit(key, u64::MAX, window).await;
    }

    /// Forgets the attempts for `key` (after a successful sign-in).
    pub async fn reset(&self, key: &str) {
        match self {
            RateLimiter::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    map.remove(key);
                }
            }
            RateLimiter::Redis { conn, prefix } => {
                let mut conn = conn.clone();
                let _: redis::RedisResult<i64> = conn.del(format!("{prefix}:rl:{key}")).await;
            }
        }
    }
}
