//! The database of Uslugi.
//!
//! One SQL text serves SQLite (the embedded default) and PostgreSQL (and the
//! PostgreSQL-compatible distributed engines) through sqlx's `any` driver. The schema
//! follows portable rules: UUIDv7 ids as TEXT, times as BIGINT microseconds UTC,
//! booleans as SMALLINT, JSON as TEXT, money as BIGINT kopecks. The few places where the
//! dialects must differ are functions of [`Backend`], never `if` chains in repositories.
//! Only this crate knows SQL.

pub mod applications;
pub mod banks;
pub mod batch;
pub mod blobs;
pub mod buffers;
mod db;
pub mod documents;
mod error;
pub mod identity;
pub mod jobs;
pub mod journal;
pub mod letters;
pub mod oidc;
pub mod outbox;
pub mod registry;
pub mod security;
pub mod signature;
pub mod staff;
pub mod vault;

pub use db::{Backend, Db, DbOptions, redact};
pub use error::StoreError;

/// A connection or an open transaction (`&mut *tx`): what repository functions that must
/// join the caller's transaction take.
pub type Conn = sqlx::AnyConnection;
/// An open transaction; commit it or it rolls back when dropped.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

use chrono::{DateTime, Utc};

/// A timestamp as stored: microseconds since the Unix epoch, UTC.
pub fn to_micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// The inverse of [`to_micros`]; out-of-range values (impossible for rows we wrote)
/// clamp to the epoch rather than fail a read.
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
