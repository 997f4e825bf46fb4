//! Rows of the action journal. The chain logic (hashing, sealing order, verification)
//! lives in the `journal` crate; this module only moves rows.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

/// A journal row as stored. `seq`, `prev_hash` and `hash` are `None` until sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRow {
    pub id: String,
    pub seq: Option<i64>,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub subject_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: String,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

const COLUMNS: &str = "id, seq, at, actor_kind, actor_id, subject_id, action, outcome, ip, \
                       user_agent, details, prev_hash, hash";

fn from_row(r: &AnyRow) -> Result<JournalRow, sqlx::Error> {
    Ok(JournalRow {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        subject_id: r.try_get("subject_id")?,
        action: r.try_get("action")?,
        outcome: r.try_get("outcome")?,
        ip: r.try_get("ip")?,
        user_agent: r.try_get("user_agent")?,
        details: r.try_get("details")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Writes an unsealed row (its seal fields are ignored) on `conn`, usually the
/// transaction of the event it records.
pub async fn insert(conn: &mut Conn, row: &JournalRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO journal (id, at, actor_kind, actor_id, subject_id, action, outcome, ip, \
         user_agent, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&row.id)
    .bind(row.at)
    .bind(&row.actor_kind)
    .bind(&row.actor_id)
    .bind(&row.subject_id)
    .bind(&row.action)
    .bind(&row.outcome)
    .bind(&row.ip)
    .bind(&row.user_agent)
    .bind(&row.details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Locks the chain head for the rest of the transaction and returns (seq, hash) of the
/// last sealed row. The no-op UPDATE takes the write lock first on every backend, so two
/// sealers never read the same head.
pub async fn lock_head(conn: &mut Conn) -> Result<(i64, String), StoreError> {
    sqlx::query("UPDATE journal_head SET seq = seq WHERE id = 1").execute(&mut *conn).await?;
    let row =
        sqlx::query("SELECT seq, hash FROM journal_head WHERE id = 1").fetch_one(conn).await?;
    Ok((row.try_get("seq")?, row.try_get("hash")?))
}

/// Moves the head after sealing.
pub async fn set_head(conn: &mut Conn, seq: i64, hash: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE journal_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` unsealed rows, oldest id (UUIDv7: creation time) first.
pub async fn unsealed(conn: &mut Conn, limit: i64) -> Result<Vec<JournalRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM journal WHERE seq IS NULL ORDER BY id LIMIT $1");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(conn).await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Writes the seal of one row.
pub async fn seal(
    conn: &mut Conn,
    id: &str,
    seq: i64,
    prev_hash: &str,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE journal SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4")
        .bind(seq)
        .bind(prev_hash)
        .bind(hash)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Sealed rows with `seq > after`, in chain order.
pub async fn sealed_after(db: &Db, after: i64, limit: i64) -> Result<Vec<JournalRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM journal WHERE seq IS NOT NULL AND seq > $1 ORDER BY seq LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *db.read().await?)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// The head as recorded: (seq, hash) of the last sealed row.
pub async fn head(db: &Db) -> Result<(i64, String), StoreError> {
    let row =
        sqlx::query("SELECT seq, hash FROM journal_head WHERE id = 1").fetch_one(db.pool()).await?;
    Ok((row.try_get("seq")?, row.try_get("hash")?))
}

/// The newest rows about `subject`, sealed or not, newest first.
pub async fn for_subject(
    db: &Db,
    subject: &str,
    limit: i64,
) -> Result<Vec<JournalRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM journal WHERE subject_id = $1 ORDER BY at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(subject)
        .bind(limit)
        .fetch_all(&mut *db.read().await?)
        .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
