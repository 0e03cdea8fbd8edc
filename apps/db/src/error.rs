//! The data layer's error.

/// What went wrong in the data layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    /// The database is set up in a way that would break isolation or cannot work.
    #[error("{0}")]
    Setup(String),
    /// A change that conflicts with what is already stored.
    #[error("{0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
}

impl DbError {
    /// Whether a unique index refused the write (two requests making the same thing at once).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Db(d) if matches!(d.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))))
    }
}
