//! argon2id password hashing, off the async threads.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher(memory_kib: u32, iterations: u32) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(memory_kib, iterations, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password (PHC string, argon2id).
pub async fn hash(password: String, memory_kib: u32, iterations: u32) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let h = hasher(memory_kib, iterations)?;
        h.hash_password(password.as_bytes()).map(|p| p.to_string()).map_err(|e| anyhow::anyhow!("hashing: {e}"))
    })
    .await?
}

/// Checks a password against a stored hash (whose own parameters are used).
pub async fn verify(password: String, stored: String) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await?
}
