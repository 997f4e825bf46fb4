//! Rows of `applications` and `application_events`. The rules (which transition, who,
//! deadlines) live in `services::applications`; every change of an application here is
//! a compare-and-set on its `version`, so of two concurrent changes exactly one wins.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conn, Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: String,
    pub number: Option<String>,
    pub account_id: String,
    pub service_id: String,
    pub agency_id: String,
    pub status: String,
    /// Vault ciphertext of the answers (JSON).
    pub answers: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub submitted_at: Option<i64>,
    pub due_on: Option<String>,
    pub paused_on: Option<String>,
    pub act_by: Option<String>,
    pub claimed_by: Option<String>,
    pub version: i64,
}

const COLUMNS: &str = "id, number, account_id, service_id, agency_id, status, answers, \
     created_at, updated_at, submitted_at, due_on, paused_on, act_by, claimed_by, version";

fn row(r: &AnyRow) -> Result<ApplicationRow, sqlx::Error> {
    Ok(ApplicationRow {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        account_id: r.try_get("account_id")?,
        service_id: r.try_get("service_id")?,
        agency_id: r.try_get("agency_id")?,
        status: r.try_get("status")?,
        answers: r.try_get("answers")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        submitted_at: r.try_get("submitted_at")?,
        due_on: r.try_get("due_on")?,
        paused_on: r.try_get("paused_on")?,
        act_by: r.try_get("act_by")?,
        claimed_by: r.try_get("claimed_by")?,
        version: r.try_get("version")?,
    })
}

pub async fn insert(conn: &mut Conn, a: &ApplicationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO applications (id, number, account_id, service_id, agency_id, status, \
           answers, created_at, updated_at, submitted_at, due_on, paused_on, act_by, \
           claimed_by, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&a.id)
    .bind(&a.number)
    .bind(&a.account_id)
    .bind(&a.service_id)
    .bind(&a.agency_id)
    .bind(&a.status)
    .bind(&a.answers)
    .bind(a.created_at)
    .bind(a.updated_at)
    .bind(a.submitted_at)
    .bind(&a.due_on)
    .bind(&a.paused_on)
    .bind(&a.act_by)
    .bind(&a.claimed_by)
    .bind(a.version)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get(conn: &mut Conn, id: &str) -> Result<Option<ApplicationRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM applications WHERE id = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(conn).await?;
    Ok(r.as_ref().map(row).transpose()?)
}

/// Writes every mutable column of `a` if the stored version is still `a.version - 1`
/// (the caller bumps it); `false`, with nothing written, when someone changed it first.
pub async fn update(conn: &mut Conn, a: &ApplicationRow) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE applications SET number = $1, status = $2, answers = $3, updated_at = $4, \
           submitted_at = $5, due_on = $6, paused_on = $7, act_by = $8, claimed_by = $9, \
           version = $10 \
         WHERE id = $11 AND version = $12",
    )
    .bind(&a.number)
    .bind(&a.status)
    .bind(&a.answers)
    .bind(a.updated_at)
    .bind(a.submitted_at)
    .bind(&a.due_on)
    .bind(&a.paused_on)
    .bind(&a.act_by)
    .bind(&a.claimed_by)
    .bind(a.version)
    .bind(&a.id)
    .bind(a.version - 1)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a draft (only a draft, only the owner's).
pub async fn delete_draft(conn: &mut Conn, id: &str, account_id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "DELETE FROM applications WHERE id = $1 AND account_id = $2 AND status = 'draft'",
    )
    .bind(id)
    .bind(account_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A filter of «Мои заявки» or of an officer's queue; empty fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub account_id: Option<String>,
    pub agency_ids: Vec<String>,
    pub service_id: Option<String>,
    pub statuses: Vec<String>,
    pub number: Option<String>,
    /// Updated (for the applicant) or submitted (for the queue) within `[from, to)`.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only those whose applicant's window closed before this day (`act_by < day`,
    /// `YYYY-MM-DD`): the sweep of expired clarifications.
    pub act_by_before: Option<String>,
    /// The queue: only submitted applications, oldest due first.
    pub queue: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Applications by `filter`: newest first for an applicant, by due date for a queue.
pub async fn list(conn: &mut Conn, f: &Filter) -> Result<Vec<ApplicationRow>, StoreError> {
    let mut sql = format!("SELECT {COLUMNS} FROM applications WHERE 1 = 1");
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    let mut binds: Vec<Bind> = Vec::new();
    if let Some(a) = &f.account_id {
        sql += &format!(" AND account_id = {}", next());
        binds.push(Bind::Text(a.clone()));
    }
    if !f.agency_ids.is_empty() {
        let marks: Vec<String> = f.agency_ids.iter().map(|_| next()).collect();
        sql += &format!(" AND agency_id IN ({})", marks.join(", "));
        binds.extend(f.agency_ids.iter().cloned().map(Bind::Text));
    }
    if let Some(s) = &f.service_id {
        sql += &format!(" AND service_id = {}", next());
        binds.push(Bind::Text(s.clone()));
    }
    if !f.statuses.is_empty() {
        let marks: Vec<String> = f.statuses.iter().map(|_| next()).collect();
        sql += &format!(" AND status IN ({})", marks.join(", "));
        binds.extend(f.statuses.iter().cloned().map(Bind::Text));
    }
    if let Some(number) = &f.number {
        sql += &format!(" AND number = {}", next());
        binds.push(Bind::Text(number.clone()));
    }
    if let Some(day) = &f.act_by_before {
        sql += &format!(" AND act_by IS NOT NULL AND act_by < {}", next());
        binds.push(Bind::Text(day.clone()));
    }
    let time = if f.queue { "submitted_at" } else { "updated_at" };
    if let Some(from) = f.from {
        sql += &format!(" AND {time} >= {}", next());
        binds.push(Bind::Int(from));
    }
    if let Some(to) = f.to {
        sql += &format!(" AND {time} < {}", next());
        binds.push(Bind::Int(to));
    }
    if f.queue {
        sql += " AND status <> 'draft' ORDER BY due_on, submitted_at, id";
    } else {
        sql += " ORDER BY updated_at DESC, id DESC";
    }
    sql += &format!(" LIMIT {} OFFSET {}", next(), next());
    binds.push(Bind::Int(f.limit));
    binds.push(Bind::Int(f.offset));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        };
    }
    let rows = q.fetch_all(conn).await?;
    Ok(rows.iter().map(row).collect::<Result<_, _>>()?)
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Counts by status for the agencies (the dashboard), submitted applications only.
pub async fn counts(
    conn: &mut Conn,
    agency_ids: &[String],
) -> Result<Vec<(String, i64)>, StoreError> {
    if agency_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=agency_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "SELECT status, COUNT(*) AS n FROM applications WHERE status <> 'draft' \
         AND agency_id IN ({}) GROUP BY status ORDER BY status",
        marks.join(", ")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in agency_ids {
        q = q.bind(a);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: String,
    pub application_id: String,
    pub at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub transition: String,
    pub from_status: String,
    pub to_status: String,
    /// Vault ciphertext of the comment.
    pub comment: Option<String>,
}

pub async fn insert_event(conn: &mut Conn, e: &EventRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO application_events (id, application_id, at, actor_kind, actor_id, \
           transition, from_status, to_status, comment) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&e.id)
    .bind(&e.application_id)
    .bind(e.at)
    .bind(&e.actor_kind)
    .bind(&e.actor_id)
    .bind(&e.transition)
    .bind(&e.from_status)
    .bind(&e.to_status)
    .bind(&e.comment)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn events(conn: &mut Conn, application_id: &str) -> Result<Vec<EventRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, application_id, at, actor_kind, actor_id, transition, from_status, \
           to_status, comment FROM application_events WHERE application_id = $1 \
         ORDER BY at, id",
    )
    .bind(application_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(event_row).collect::<Result<_, sqlx::Error>>().map_err(Into::into)
}

fn event_row(r: &AnyRow) -> Result<EventRow, sqlx::Error> {
    Ok(EventRow {
        id: r.try_get("id")?,
        application_id: r.try_get("application_id")?,
        at: r.try_get("at")?,
        actor_kind: r.try_get("actor_kind")?,
        actor_id: r.try_get("actor_id")?,
        transition: r.try_get("transition")?,
        from_status: r.try_get("from_status")?,
        to_status: r.try_get("to_status")?,
        comment: r.try_get("comment")?,
    })
}

/// The next value of a named counter (1 for a new one), inside the caller's transaction.
pub async fn next_counter(conn: &mut Conn, name: &str) -> Result<i64, StoreError> {
    let r = sqlx::query(
        "INSERT INTO counters (name, value) VALUES ($1, 1) \
         ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
    )
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(r.try_get("value")?)
}

/// An issued result document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRow {
    pub id: String,
    pub number: String,
    pub application_id: String,
    pub account_id: String,
    pub service_id: String,
    pub agency_id: String,
    pub title: String,
    pub issued_at: i64,
    pub sha256: String,
    /// `ES256` or `GOST` (see `services::documents`).
    pub algorithm: String,
    pub signature: String,
    pub public_key: String,
    /// Vault ciphertext of the PDF (base64).
    pub pdf: String,
}

const DOCUMENT_COLUMNS: &str = "id, number, application_id, account_id, service_id, agency_id, \
     title, issued_at, sha256, algorithm, signature, public_key, pdf";

fn document(r: &AnyRow) -> Result<DocumentRow, sqlx::Error> {
    Ok(DocumentRow {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        application_id: r.try_get("application_id")?,
        account_id: r.try_get("account_id")?,
        service_id: r.try_get("service_id")?,
        agency_id: r.try_get("agency_id")?,
        title: r.try_get("title")?,
        issued_at: r.try_get("issued_at")?,
        sha256: r.try_get("sha256")?,
        algorithm: r.try_get("algorithm")?,
        signature: r.try_get("signature")?,
        public_key: r.try_get("public_key")?,
        pdf: r.try_get("pdf")?,
    })
}

pub async fn insert_document(conn: &mut Conn, d: &DocumentRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO result_documents (id, number, application_id, account_id, service_id, \
           agency_id, title, issued_at, sha256, algorithm, signature, public_key, pdf) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&d.id)
    .bind(&d.number)
    .bind(&d.application_id)
    .bind(&d.account_id)
    .bind(&d.service_id)
    .bind(&d.agency_id)
    .bind(&d.title)
    .bind(d.issued_at)
    .bind(&d.sha256)
    .bind(&d.algorithm)
    .bind(&d.signature)
    .bind(&d.public_key)
    .bind(&d.pdf)
    .execute(conn)
    .await?;
    Ok(())
}

/// The document found by `column` (`number`, `application_id` or `sha256`) = `value`.
pub async fn document_by(
    conn: &mut Conn,
    column: DocumentKey,
    value: &str,
) -> Result<Option<DocumentRow>, StoreError> {
    let column = match column {
        DocumentKey::Number => "number",
        DocumentKey::Application => "application_id",
        DocumentKey::Sha256 => "sha256",
    };
    let sql = format!("SELECT {DOCUMENT_COLUMNS} FROM result_documents WHERE {column} = $1");
    let r = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(value).fetch_optional(conn).await?;
    Ok(r.as_ref().map(document).transpose()?)
}

/// The documents issued to `account_id`, newest first, without their PDFs (`pdf` is
/// empty): the list of «Полученные документы».
pub async fn documents_of(
    db: &Db,
    account_id: &str,
    limit: i64,
) -> Result<Vec<DocumentRow>, StoreError> {
    let columns = DOCUMENT_COLUMNS.replace(", pdf", ", '' AS pdf");
    let sql = format!(
        "SELECT {columns} FROM result_documents WHERE account_id = $1 \
         ORDER BY issued_at DESC, id DESC LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .bind(limit)
        .fetch_all(&mut *db.read().await?)
        .await?;
    Ok(rows.iter().map(document).collect::<Result<_, _>>()?)
}

/// How a document is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKey {
    Number,
    Application,
    Sha256,
}

/// A file attached to an application (its bytes are in blob storage under its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: String,
    pub application_id: String,
    pub rule: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: i64,
}

pub async fn insert_file(conn: &mut Conn, f: &FileRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO application_files (id, application_id, rule, file_name, content_type, \
           size, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&f.id)
    .bind(&f.application_id)
    .bind(&f.rule)
    .bind(&f.file_name)
    .bind(&f.content_type)
    .bind(f.size)
    .bind(f.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn files(conn: &mut Conn, application_id: &str) -> Result<Vec<FileRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, application_id, rule, file_name, content_type, size, created_at \
         FROM application_files WHERE application_id = $1 ORDER BY created_at, id",
    )
    .bind(application_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FileRow {
                id: r.try_get("id")?,
                application_id: r.try_get("application_id")?,
                rule: r.try_get("rule")?,
                file_name: r.try_get("file_name")?,
                content_type: r.try_get("content_type")?,
                size: r.try_get("size")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

pub async fn delete_file(
    conn: &mut Conn,
    application_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM application_files WHERE application_id = $1 AND id = $2")
        .bind(application_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The result of one automatic check of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub application_id: String,
    pub check_id: String,
    pub passed: bool,
    pub detail: String,
    pub checked_at: i64,
}

/// Records a check's result, replacing an earlier one of the same check.
pub async fn upsert_check(conn: &mut Conn, c: &CheckRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO application_checks (application_id, check_id, passed, detail, checked_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (application_id, check_id) DO UPDATE SET \
         passed = excluded.passed, detail = excluded.detail, checked_at = excluded.checked_at",
    )
    .bind(&c.application_id)
    .bind(&c.check_id)
    .bind(i16::from(c.passed))
    .bind(&c.detail)
    .bind(c.checked_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The check results of an application.
pub async fn checks(conn: &mut Conn, application_id: &str) -> Result<Vec<CheckRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT application_id, check_id, CAST(passed AS BIGINT) AS passed, detail, checked_at \
         FROM application_checks \
         WHERE application_id = $1 ORDER BY check_id",
    )
    .bind(application_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CheckRow {
                application_id: r.try_get("application_id")?,
                check_id: r.try_get("check_id")?,
                passed: r.try_get::<i64, _>("passed")? != 0,
                detail: r.try_get("detail")?,
                checked_at: r.try_get("checked_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}

/// An event of one of an account's applications, with what a notice names: the
/// application's number and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeRow {
    pub event: EventRow,
    pub number: Option<String>,
    pub service_id: String,
}

/// The newest events of an account's applications that are news to its holder (the
/// in-app notices): every step of others, and the submission itself.
pub async fn notices(
    conn: &mut Conn,
    account_id: &str,
    limit: i64,
) -> Result<Vec<NoticeRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.id, e.application_id, e.at, e.actor_kind, e.actor_id, e.transition, \
           e.from_status, e.to_status, e.comment, a.number, a.service_id \
         FROM application_events e JOIN applications a ON a.id = e.application_id \
         WHERE a.account_id = $1 AND (e.actor_kind <> 'applicant' OR e.transition = 'submit') \
         ORDER BY e.at DESC, e.id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(NoticeRow {
                event: event_row(r)?,
                number: r.try_get("number")?,
                service_id: r.try_get("service_id")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
}
