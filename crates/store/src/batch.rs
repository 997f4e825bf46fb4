//! Group commit: many small independent writes share one transaction and one commit.
//!
//! A durable commit costs an fsync (SQLite with `synchronous = FULL`, PostgreSQL with
//! `synchronous_commit = on`); one per request caps a hot write path at the disk's
//! fsync rate. A [`SharedCommit`] has one writer: it takes every piece of work waiting in
//! its queue, runs them all in one transaction, commits once and only then answers each
//! caller. So a caller still hears "done" only after its write is on disk, and under load
//! a single commit carries dozens of writes.
//!
//! Work must not depend on other work of the same batch and must decide its own outcome
//! inside the transaction (a compare-and-set `UPDATE … WHERE version = n`, say). Work
//! that returns an error must leave nothing behind, yet may already have written: the
//! writer then rolls the transaction back, sets that work aside with its error and runs
//! the rest again (so work may run more than once, and is a `Fn`: it clones what it
//! moves into its future). Failures are rare (a lost race), so the common path has no
//! savepoints, which on SQLite cost a round trip to the database thread each. A failing
//! commit (the database went away) fails every piece of work of that batch; nothing of
//! it is committed.
//!
//! Work runs on the writer's connection: it must not take another connection of the
//! write pool (on SQLite there is only one), only [`crate::Db::read`] ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::{Conn, Db, StoreError};

/// How many pieces of work one commit carries at most.
const MAX_BATCH: usize = 256;

/// A boxed future borrowing the batch's connection.
pub type Fut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Applies one operation inside the batch's transaction (for [`GroupCommit`]).
pub type Apply<Op, Out> = for<'c> fn(&'c mut Conn, &'c Op) -> Fut<'c, Result<Out, StoreError>>;

/// One piece of work in the queue, its type erased.
trait Job: Send {
    /// Runs the work on the batch's transaction; true when it failed (the transaction
    /// is to be rolled back).
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> Fut<'c, bool>;
    /// Whether the work failed and is set aside.
    fn failed(&self) -> bool;
    /// Answers the caller once the batch's commit succeeded or failed.
    fn finish(self: Box<Self>, committed: Result<(), &Arc<StoreError>>);
}

type Work<T, E> = Box<dyn for<'c> Fn(&'c mut Conn) -> Fut<'c, Result<T, E>> + Send>;

struct Pending<T, E> {
    work: Work<T, E>,
    out: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T: Send, E: From<StoreError> + Send> Job for Pending<T, E> {
    fn run<'c>(&'c mut self, conn: &'c mut Conn) -> Fut<'c, bool> {
        Box::pin(async move {
            let out = (self.work)(conn).await;
            let failed = out.is_err();
            self.out = Some(out);
            failed
        })
    }

    fn failed(&self) -> bool {
        matches!(self.out, Some(Err(_)))
    }

    fn finish(self: Box<Self>, committed: Result<(), &Arc<StoreError>>) {
        let out = match (committed, self.out) {
            (Ok(()), Some(out)) => out,
            (Ok(()), None) => Err(StoreError::Corrupt("the work did not run".into()).into()),
            (Err(e), _) => Err(StoreError::Batch(e.to_string()).into()),
        };
        let _ = self.reply.send(out);
    }
}

/// The queue of work sharing commits, and its writer task.
pub struct SharedCommit {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl std::fmt::Debug for SharedCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCommit").finish_non_exhaustive()
    }
}

impl SharedCommit {
    /// Starts the writer (it ends when the last handle is dropped).
    ///
    /// The writer runs on its own thread with its own single-threaded runtime. Every
    /// statement of a batch is a round trip to the database (for SQLite, to its worker
    /// thread) whose answer wakes the writer; in the server's runtime that wake-up would
    /// wait behind every request being served, and the one writer, which all commits
    /// queue for, would crawl under load.
    pub fn start(db: Db) -> Self {
        let (queue, rx) = mpsc::channel::<Box<dyn Job>>(4 * MAX_BATCH);
        let writer =
            move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(write(db, rx)),
                Err(e) => tracing::error!(error = %e, "the group-commit writer did not start"),
            };
        if let Err(e) = std::thread::Builder::new().name("uslugi-commit".into()).spawn(writer) {
            tracing::error!(error = %e, "the group-commit writer did not start");
        }
        Self { queue }
    }

    /// Queues `work` and waits until the commit that carries it is durable; then gives
    /// what the work gave. Write the work as
    /// `move |tx| { let x = x.clone(); Box::pin(async move { … }) }`.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'c> Fn(&'c mut Conn) -> Fut<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending { work: Box::new(work), out: None, reply };
        let gone = || StoreError::Corrupt("the group-commit writer has stopped".into());
        self.queue.send(Box::new(job)).await.map_err(|_| E::from(gone()))?;
        answer.await.map_err(|_| E::from(gone()))?
    }
}

/// The writer's loop: every waiting piece of work in one transaction and commit.
async fn write(db: Db, mut rx: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match run(&db, &mut batch).await {
            Ok(()) => batch.drain(..).for_each(|job| job.finish(Ok(()))),
            Err(e) => {
                tracing::warn!(error = %e, size = batch.len(), "group commit failed");
                let e = Arc::new(e);
                batch.drain(..).for_each(|job| job.finish(Err(&e)));
            }
        }
    }
}

async fn run(db: &Db, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    'attempt: loop {
        let started = std::time::Instant::now();
        let mut tx = db.begin().await?;
        for job in batch.iter_mut().filter(|job| !job.failed()) {
            if job.run(&mut tx).await {
                tx.rollback().await?;
                continue 'attempt;
            }
        }
        tx.commit().await?;
        // How full the commits are and how long the writer is busy with each: an
        // operator's view of how close the one writer is to saturation.
        metrics::histogram!("db_group_commit_size").record(batch.len() as f64);
        metrics::histogram!("db_group_commit_seconds").record(started.elapsed().as_secs_f64());
        return Ok(());
    }
}

/// A typed queue of one kind of operation over the database's [`SharedCommit`].
pub struct GroupCommit<Op, Out> {
    db: Db,
    apply: Apply<Op, Out>,
}

impl<Op, Out> std::fmt::Debug for GroupCommit<Op, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<Op: Send + Sync + 'static, Out: Send + 'static> GroupCommit<Op, Out> {
    pub fn start(db: Db, apply: Apply<Op, Out>) -> Self {
        Self { db, apply }
    }

    /// Queues `op` and waits until the commit that carries it is durable.
    pub async fn submit(&self, op: Op) -> Result<Out, StoreError> {
        let (apply, op) = (self.apply, Arc::new(op));
        self.db
            .shared(move |tx| {
                let op = op.clone();
                Box::pin(async move { apply(tx, &op).await })
            })
            .await
    }
}
