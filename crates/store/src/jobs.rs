//! The job queue: durable background work shared by every node.
//!
//! A worker [`JobQueue::claim`]s the oldest ready job of its queue, which holds it for a
//! lease; it then calls [`JobQueue::complete`] or [`JobQueue::retry`]. A job whose lease
//! ran out (its worker died) becomes claimable again. On PostgreSQL concurrent claimers
//! skip each other's rows (`FOR UPDATE SKIP LOCKED`); on SQLite the single writer
//! serializes them.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use uuid::Uuid;

use crate::{Conn, Db, StoreError, from_micros, to_micros};

/// A job as a worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub queue: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: DateTime<Utc>,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "queued" => Ok(Self::Queued),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(StoreError::Corrupt(format!("job state {other:?}"))),
        }
    }
}

/// Adds a job on `conn` — inside the transaction of the event that needs the work, so
/// the work is scheduled exactly when the event commits.
pub async fn enqueue_on(
    conn: &mut Conn,
    queue: &str,
    payload: &str,
    run_at: DateTime<Utc>,
    max_attempts: i64,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let id = Uuid::now_v7().to_string();
    sqlx::query(
        "INSERT INTO jobs (id, queue, payload, state, attempts, max_attempts, run_at, \
         created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6)",
    )
    .bind(&id)
    .bind(queue)
    .bind(payload)
    .bind(max_attempts)
    .bind(to_micros(run_at))
    .bind(to_micros(now))
    .execute(conn)
    .await?;
    Ok(id)
}

/// Takes up to `limit` of the oldest ready jobs of `queue` for `lease` on `conn`, oldest
/// first (see [`JobQueue::claim_many`]).
pub async fn claim_many_on(
    conn: &mut Conn,
    backend: crate::Backend,
    queue: &str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Job>, StoreError> {
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, \
         updated_at = $2 \
         WHERE id IN (SELECT id FROM jobs WHERE queue = $3 AND \
           ((state = 'queued' AND run_at <= $2) OR (state = 'running' AND locked_until <= $2)) \
           ORDER BY run_at, id LIMIT $4{}) \
         RETURNING id, queue, payload, attempts, max_attempts, run_at",
        backend.skip_locked()
    );
    // The only variable part is the backend's static locking clause.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(to_micros(now + lease))
        .bind(to_micros(now))
        .bind(queue)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    let mut jobs = rows
        .iter()
        .map(|r| {
            Ok(Job {
                id: r.try_get("id")?,
                queue: r.try_get("queue")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                max_attempts: r.try_get("max_attempts")?,
                run_at: from_micros(r.try_get("run_at")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
    Ok(jobs)
}

/// The repository of jobs.
#[derive(Debug, Clone)]
pub struct JobQueue {
    db: Db,
}

impl JobQueue {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Adds a job to run at or after `run_at`. Returns its id (UUIDv7, so ids sort by
    /// creation time).
    pub async fn enqueue(
        &self,
        queue: &str,
        payload: &str,
        run_at: DateTime<Utc>,
        max_attempts: i64,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let mut conn = self.db.pool().acquire().await?;
        enqueue_on(&mut conn, queue, payload, run_at, max_attempts, now).await
    }

    /// Takes the oldest ready job of `queue` for `lease`, or `None` when nothing is due.
    pub async fn claim(
        &self,
        queue: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        Ok(self.claim_many(queue, now, lease, 1).await?.pop())
    }

    /// Takes up to `limit` of the oldest ready jobs of `queue` for `lease` in one
    /// statement, oldest first. The claim shares a commit with the other writes of the
    /// moment ([`Db::shared`]): a busy queue costs no commits of its own.
    pub async fn claim_many(
        &self,
        queue: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let (backend, queue) = (self.db.backend(), std::sync::Arc::<str>::from(queue));
        self.db
            .shared(move |tx| {
                let queue = queue.clone();
                Box::pin(async move { claim_many_on(tx, backend, &queue, now, lease, limit).await })
            })
            .await
    }

    /// Marks a claimed job done.
    pub async fn complete(&self, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        complete_on(&mut *self.db.conn().await?, id, now).await
    }

    /// Records a failed attempt: the job runs again at `retry_at`, or is marked failed for
    /// good once it has used up its attempts. Returns the new state.
    pub async fn retry(
        &self,
        id: &str,
        error: &str,
        retry_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<JobState, StoreError> {
        retry_on(&mut *self.db.conn().await?, id, error, retry_at, now).await
    }

    /// The state of a job, if it exists.
    pub async fn state(&self, id: &str) -> Result<Option<JobState>, StoreError> {
        let row = sqlx::query("SELECT state FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.db.read().await?)
            .await?;
        row.map(|r| JobState::parse(r.try_get::<String, _>("state")?.as_str())).transpose()
    }
}

/// [`JobQueue::complete`] on `conn` (inside the transaction that records the outcome).
pub async fn complete_on(conn: &mut Conn, id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'done', locked_until = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(to_micros(now))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// [`JobQueue::retry`] on `conn`.
pub async fn retry_on(
    conn: &mut Conn,
    id: &str,
    error: &str,
    retry_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<JobState, StoreError> {
    let row = sqlx::query(
        "UPDATE jobs SET \
           state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END, \
           run_at = $1, locked_until = NULL, last_error = $2, updated_at = $3 \
         WHERE id = $4 RETURNING state",
    )
    .bind(to_micros(retry_at))
    .bind(error)
    .bind(to_micros(now))
    .bind(id)
    .fetch_one(conn)
    .await?;
    JobState::parse(row.try_get::<String, _>("state")?.as_str())
}
