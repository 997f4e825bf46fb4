//! Rows of the notification outbox (the `notify` crate renders and delivers them).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

/// An outbox row; `recipient` and `body` are vault ciphertexts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub channel: String,
    pub template: String,
    pub recipient: String,
    pub recipient_index: String,
    pub subject: String,
    pub body: String,
    /// A vault ciphertext of the attached file (name, type and bytes), if any.
    pub attachment: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

const COLUMNS: &str = "id, channel, template, recipient, recipient_index, subject, body, attachment, \
                       status, attempts, last_error, created_at, sent_at";

fn from_row(r: &AnyRow) -> Result<OutboxRow, sqlx::Error> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        channel: r.try_get("channel")?,
        template: r.try_get("template")?,
        recipient: r.try_get("recipient")?,
        recipient_index: r.try_get("recipient_index")?,
        subject: r.try_get("subject")?,
        body: r.try_get("body")?,
        attachment: r.try_get("attachment")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
    })
}

/// Writes a queued message on `conn` (the event's transaction).
pub async fn insert(conn: &mut Conn, row: &OutboxRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO outbox (id, channel, template, recipient, recipient_index, subject, body, \
         attachment, status, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', 0, $9)",
    )
    .bind(&row.id)
    .bind(&row.channel)
    .bind(&row.template)
    .bind(&row.recipient)
    .bind(&row.recipient_index)
    .bind(&row.subject)
    .bind(&row.body)
    .bind(&row.attachment)
    .bind(row.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(db: &Db, id: &str) -> Result<Option<OutboxRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *db.read().await?)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Records a delivery attempt: `sent`, or still `queued` / finally `failed` with the error.
pub async fn set_status(
    conn: &mut Conn,
    id: &str,
    status: &str,
    error: Option<&str>,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE outbox SET status = $1, attempts = attempts + 1, last_error = $2, \
         sent_at = CASE WHEN $1 = 'sent' THEN $3 ELSE sent_at END WHERE id = $4",
    )
    .bind(status)
    .bind(error)
    .bind(at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest messages, optionally only those to one recipient (by blind index).
pub async fn latest(
    db: &Db,
    recipient_index: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    let rows = match recipient_index {
        Some(index) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM outbox WHERE recipient_index = $1 \
                 ORDER BY created_at DESC, id DESC LIMIT $2"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(index)
                .bind(limit)
                .fetch_all(&mut *db.read().await?)
                .await?
        }
        None => {
            let sql =
                format!("SELECT {COLUMNS} FROM outbox ORDER BY created_at DESC, id DESC LIMIT $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(limit)
                .fetch_all(&mut *db.read().await?)
                .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Replaces a delivered message's text (it may hold a code or a link) and drops its
/// file: the outbox keeps that a message went out, not what it said.
pub async fn set_body(conn: &mut Conn, id: &str, body: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET body = $1, attachment = NULL WHERE id = $2")
        .bind(body)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
