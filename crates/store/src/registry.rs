//! Rows of the embedded state registries (see `migrations/*/0006_registry.sql`).
//!
//! The `registry` crate encrypts and indexes person records; this module only moves
//! rows. Loading is done in multi-row upserts, many rows to a statement and many
//! statements to a transaction, so a million records load in seconds on either backend.

use sqlx::Row;

use crate::{Backend, Conn, Db, StoreError};

/// A person record as stored: blind indexes and the encrypted record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub snils_index: String,
    pub passport_index: String,
    pub inn_index: Option<String>,
    pub data: String,
}

/// A listed invalid passport (public register, stored plain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPassportRow {
    /// `NNNN NNNNNN`.
    pub passport: String,
    pub reason: String,
    /// ISO date.
    pub since: Option<String>,
}

/// An organization (public register, stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRow {
    pub inn: String,
    pub ogrn: String,
    /// `legal` or `entrepreneur`.
    pub kind: String,
    pub data: String,
}

/// Which index a person is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonKey {
    Snils,
    Passport,
    Inn,
}

impl PersonKey {
    fn column(self) -> &'static str {
        match self {
            Self::Snils => "snils_index",
            Self::Passport => "passport_index",
            Self::Inn => "inn_index",
        }
    }
}

/// Bound parameters per statement. sqlx's SQLite binding looks every `$n` up by name
/// (quadratic in the count): a few hundred keep that negligible and still save most of
/// the per-statement cost.
const MAX_PARAMS: usize = 400;

/// Inserts or replaces `rows` (each with `columns.len()` values) on `conn` — pass an
/// open transaction to make many batches one commit.
async fn upsert(
    conn: &mut Conn,
    table: &str,
    columns: &[&str],
    key: &str,
    rows: &[Vec<Option<&str>>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let per_statement = (MAX_PARAMS / columns.len()).max(1);
    let updates: Vec<String> =
        columns.iter().filter(|c| **c != key).map(|c| format!("{c} = excluded.{c}")).collect();
    for chunk in rows.chunks(per_statement) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for c in 0..columns.len() {
                n += 1;
                sql.push_str(&format!("{}${n}", if c == 0 { "" } else { ", " }));
            }
            sql.push(')');
        }
        sql.push_str(&format!(" ON CONFLICT ({key}) DO UPDATE SET {}", updates.join(", ")));
        // Table and column names are this module's constants; values are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            for value in row {
                query = query.bind(value.map(str::to_owned));
            }
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts or replaces person records (keyed by SNILS). A batch must not repeat a SNILS.
pub async fn upsert_persons(conn: &mut Conn, rows: &[PersonRow]) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|r| {
            vec![
                Some(r.snils_index.as_str()),
                Some(r.passport_index.as_str()),
                r.inn_index.as_deref(),
                Some(r.data.as_str()),
            ]
        })
        .collect();
    let columns = ["snils_index", "passport_index", "inn_index", "data"];
    upsert(conn, "registry_persons", &columns, "snils_index", &values).await
}

/// Inserts or replaces listed invalid passports.
pub async fn upsert_invalid_passports(
    conn: &mut Conn,
    rows: &[InvalidPassportRow],
) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|r| vec![Some(r.passport.as_str()), Some(r.reason.as_str()), r.since.as_deref()])
        .collect();
    let columns = ["passport", "reason", "since"];
    upsert(conn, "registry_invalid_passports", &columns, "passport", &values).await
}

/// Inserts or replaces organizations (keyed by INN).
pub async fn upsert_organizations(
    conn: &mut Conn,
    rows: &[OrganizationRow],
) -> Result<(), StoreError> {
    let values: Vec<_> = rows
        .iter()
        .map(|r| {
            vec![
                Some(r.inn.as_str()),
                Some(r.ogrn.as_str()),
                Some(r.kind.as_str()),
                Some(r.data.as_str()),
            ]
        })
        .collect();
    let columns = ["inn", "ogrn", "kind", "data"];
    upsert(conn, "registry_organizations", &columns, "inn", &values).await
}

/// Sets SQLite's page cache for this connection (no-op on PostgreSQL). Bulk loads raise
/// it so the registry's indexes stay in memory across a long transaction, then restore
/// the default of [`crate::Db`].
pub async fn set_cache_mib(db: &Db, conn: &mut Conn, mib: i64) -> Result<(), StoreError> {
    if db.backend() == Backend::Sqlite {
        let sql = format!("PRAGMA cache_size = -{}", mib.clamp(2, 4096) * 1024);
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The encrypted records whose `key` index equals `index` (normally one at most).
pub async fn persons_by(db: &Db, key: PersonKey, index: &str) -> Result<Vec<String>, StoreError> {
    let sql = format!("SELECT data FROM registry_persons WHERE {} = $1 LIMIT 4", key.column());
    let rows =
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(index).fetch_all(&mut *db.read().await?).await?;
    rows.iter().map(|r| Ok(r.try_get("data")?)).collect()
}

/// The listing of an invalid passport, if it is listed.
pub async fn invalid_passport(
    db: &Db,
    passport: &str,
) -> Result<Option<InvalidPassportRow>, StoreError> {
    let row = sqlx::query(
        "SELECT passport, reason, since FROM registry_invalid_passports WHERE passport = $1",
    )
    .bind(passport)
    .fetch_optional(&mut *db.read().await?)
    .await?;
    row.map(|r| {
        Ok(InvalidPassportRow {
            passport: r.try_get("passport")?,
            reason: r.try_get("reason")?,
            since: r.try_get("since")?,
        })
    })
    .transpose()
}

/// The organization with this INN or ОГРН/ОГРНИП.
pub async fn organization(db: &Db, inn_or_ogrn: &str) -> Result<Option<String>, StoreError> {
    let row =
        sqlx::query("SELECT data FROM registry_organizations WHERE inn = $1 OR ogrn = $1 LIMIT 1")
            .bind(inn_or_ogrn)
            .fetch_optional(&mut *db.read().await?)
            .await?;
    row.map(|r| Ok(r.try_get("data")?)).transpose()
}

/// How many persons, invalid passports and organizations the registry holds.
pub async fn counts(db: &Db) -> Result<(i64, i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM registry_persons) AS persons, \
                (SELECT COUNT(*) FROM registry_invalid_passports) AS invalid, \
                (SELECT COUNT(*) FROM registry_organizations) AS orgs",
    )
    .fetch_one(&mut *db.read().await?)
    .await?;
    Ok((row.try_get("persons")?, row.try_get("invalid")?, row.try_get("orgs")?))
}
