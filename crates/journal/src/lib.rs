//! The action journal: an append-only, tamper-evident record of every security and
//! account event (who, what, when, from where, with what outcome).
//!
//! Recording and chaining are two steps. [`record`] writes an unsealed entry inside the
//! transaction of the event itself, so the event and its record commit or roll back
//! together. [`Journal::seal`] then links unsealed entries into a chain: entry *n* stores
//! the SHA-256 of entry *n − 1*, and its own hash covers that and all its fields. Editing,
//! deleting or reordering a sealed entry breaks the chain at that entry, which
//! [`Journal::verify`] reports. Sealing holds the one `journal_head` row locked, so any
//! number of nodes may seal at once.
//!
//! Entries carry no personal data in `details` (callers pass ids and codes, never phone
//! numbers or document numbers).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use store::journal::{self as rows, JournalRow};
use store::{Conn, Db, StoreError};

/// Who acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// Someone not signed in (registration, a failed sign-in).
    Anonymous,
    Citizen,
    Officer,
    Operator,
    /// A staff administrator.
    Admin,
    /// The platform itself (a worker, a timer).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Citizen => "citizen",
            Self::Officer => "officer",
            Self::Operator => "operator",
            Self::Admin => "admin",
            Self::System => "system",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// Refused: a wrong password, a blocked contact, a forbidden action.
    Denied,
    /// Failed for a reason that is not the actor's.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Denied => "denied",
            Self::Error => "error",
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub at: DateTime<Utc>,
    pub actor: ActorKind,
    pub actor_id: Option<&'a str>,
    /// Whose account the event concerns; the cabinet shows a person the entries whose
    /// subject they are.
    pub subject_id: Option<&'a str>,
    /// A dotted name: `account.registered`, `signin.failed`, `session.ended`, …
    pub action: &'a str,
    pub outcome: Outcome,
    pub origin: &'a Origin,
    /// Extra facts as JSON; never personal data.
    pub details: serde_json::Value,
}

/// Writes `event` unsealed on `conn` (normally the event's own transaction).
pub async fn record(conn: &mut Conn, event: &Event<'_>) -> Result<String, StoreError> {
    let row = JournalRow {
        id: uuid::Uuid::now_v7().to_string(),
        seq: None,
        at: store::to_micros(event.at),
        actor_kind: event.actor.as_str().to_owned(),
        actor_id: event.actor_id.map(str::to_owned),
        subject_id: event.subject_id.map(str::to_owned),
        action: event.action.to_owned(),
        outcome: event.outcome.as_str().to_owned(),
        ip: event.origin.ip.clone(),
        user_agent: event.origin.user_agent.clone(),
        details: event.details.to_string(),
        prev_hash: None,
        hash: None,
    };
    rows::insert(conn, &row).await?;
    Ok(row.id)
}

/// What the hash covers, in a fixed order.
#[derive(Serialize)]
struct Sealed<'a> {
    prev: &'a str,
    seq: i64,
    id: &'a str,
    at: i64,
    actor_kind: &'a str,
    actor_id: Option<&'a str>,
    subject_id: Option<&'a str>,
    action: &'a str,
    outcome: &'a str,
    ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    details: &'a str,
}

/// The hash of `row` as entry `seq` after an entry whose hash is `prev`.
pub fn chain_hash(prev: &str, seq: i64, row: &JournalRow) -> String {
    let sealed = Sealed {
        prev,
        seq,
        id: &row.id,
        at: row.at,
        actor_kind: &row.actor_kind,
        actor_id: row.actor_id.as_deref(),
        subject_id: row.subject_id.as_deref(),
        action: &row.action,
        outcome: &row.outcome,
        ip: row.ip.as_deref(),
        user_agent: row.user_agent.as_deref(),
        details: &row.details,
    };
    // Serializing a struct of strings and integers cannot fail; an empty input would
    // only make verification fail loudly, never pass wrongly.
    let bytes = serde_json::to_vec(&sealed).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every sealed entry links to the one before; `entries` were checked.
    Intact { entries: i64 },
    /// The first entry whose link or content does not match.
    Broken { seq: i64, id: String, reason: &'static str },
}

/// How many rows one sealing pass or one verification page handles.
const BATCH: i64 = 500;

/// The journal over a database.
#[derive(Debug, Clone)]
pub struct Journal {
    db: Db,
}

impl Journal {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Links every unsealed entry into the chain; returns how many were sealed.
    pub async fn seal(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = self.db.begin().await?;
            let (mut seq, mut prev) = rows::lock_head(&mut tx).await?;
            let batch = rows::unsealed(&mut tx, BATCH).await?;
            if batch.is_empty() {
                tx.rollback().await?;
                return Ok(total);
            }
            for row in &batch {
                seq += 1;
                let hash = chain_hash(&prev, seq, row);
                rows::seal(&mut tx, &row.id, seq, &prev, &hash).await?;
                prev = hash;
            }
            rows::set_head(&mut tx, seq, &prev).await?;
            tx.commit().await?;
            total += batch.len() as u64;
        }
    }

    /// Recomputes the chain from the first entry and names the first broken one.
    pub async fn verify(&self) -> Result<Verdict, StoreError> {
        let mut prev = GENESIS.to_owned();
        let mut expected_seq = 0;
        loop {
            let page = rows::sealed_after(&self.db, expected_seq, BATCH).await?;
            if page.is_empty() {
                break;
            }
            for row in page {
                expected_seq += 1;
                let seq = row.seq.unwrap_or_default();
                let broken = |reason| Verdict::Broken { seq, id: row.id.clone(), reason };
                if seq != expected_seq {
                    return Ok(broken(
                        "пропущена или переставлена запись / entry missing or reordered",
                    ));
                }
                if row.prev_hash.as_deref() != Some(prev.as_str()) {
                    return Ok(broken(
                        "ссылка на предыдущую запись не совпадает / link to the previous entry does not match",
                    ));
                }
                let hash = chain_hash(&prev, seq, &row);
                if row.hash.as_deref() != Some(hash.as_str()) {
                    return Ok(broken("содержимое записи изменено / entry content was changed"));
                }
                prev = hash;
            }
        }
        let (head_seq, head_hash) = rows::head(&self.db).await?;
        if head_seq != expected_seq || head_hash != prev {
            return Ok(Verdict::Broken {
                seq: head_seq,
                id: String::new(),
                reason: "последние записи удалены / entries after the last one were deleted",
            });
        }
        Ok(Verdict::Intact { entries: expected_seq })
    }

    /// The newest entries about `subject`, for the person's own cabinet.
    pub async fn for_subject(
        &self,
        subject: &str,
        limit: i64,
    ) -> Result<Vec<JournalRow>, StoreError> {
        rows::for_subject(&self.db, subject, limit).await
    }
}

/// The "previous hash" of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
