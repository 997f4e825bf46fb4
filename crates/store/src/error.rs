//! Errors of the storage layer. Their text goes to logs and operators, never to clients.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} is not supported (use sqlite://… or postgres://…)")]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error(
        "the database has migration {0}, which this build does not know: it was written by a \
         newer Uslugi; refusing to run on it"
    )]
    NewerSchema(i64),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("a grouped commit failed: {0}")]
    Batch(String),
    #[error("file storage: {0}")]
    Blob(String),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::VersionMissing(v) => Self::NewerSchema(v),
            other => Self::Migrate(other),
        }
    }
}

impl StoreError {
    /// True when the database could not be reached (as opposed to a query going wrong):
    /// the request may succeed if retried later.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }
}
