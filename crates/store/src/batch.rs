//! Group commit: many small independent writes share one transaction and one commit.
//!
//! A durable commit costs an fsync (SQLite with `synchronous = FULL`, PostgreSQL with
//! `synchronous_commit = on`); one per request caps a hot write path at the disk's
//! fsync rate. A [`GroupCommit`] has one writer task: it takes every operation waiting in
//! its queue, applies them in one transaction, commits once and only then answers each
//! caller. So a caller still hears "done" only after its write is on disk, and under load
//! a single commit carries dozens of writes.
//!
//! Operations must be independent of each other and decide their own outcome inside the
//! transaction (a compare-and-set `UPDATE … WHERE used_at IS NULL`, say): an operation
//! whose condition fails returns a value saying so, it does not fail the batch. An error
//! (the database went away) fails every operation of that batch; nothing of it is
//! committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::{Conn, Db, StoreError};

/// How many operations one commit carries at most.
const MAX_BATCH: usize = 256;

/// Applies one operation inside the batch's transaction.
pub type Apply<Op, Out> =
    for<'c> fn(
        &'c mut Conn,
        &'c Op,
    ) -> Pin<Box<dyn Future<Output = Result<Out, StoreError>> + Send + 'c>>;

type Reply<Out> = oneshot::Sender<Result<Out, Arc<StoreError>>>;

/// The queue of one kind of operation and its writer task.
pub struct GroupCommit<Op, Out> {
    queue: mpsc::Sender<(Op, Reply<Out>)>,
}

impl<Op, Out> std::fmt::Debug for GroupCommit<Op, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<Op: Send + Sync + 'static, Out: Send + 'static> GroupCommit<Op, Out> {
    /// Starts the writer task (it ends when the last handle is dropped). Must be called
    /// inside a Tokio runtime.
    pub fn start(db: Db, apply: Apply<Op, Out>) -> Self {
        let (queue, mut rx) = mpsc::channel::<(Op, Reply<Out>)>(4 * MAX_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                match run(&db, apply, &batch).await {
                    Ok(outs) => {
                        for ((_, reply), out) in batch.drain(..).zip(outs) {
                            let _ = reply.send(Ok(out));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, size = batch.len(), "group commit failed");
                        let e = Arc::new(e);
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Self { queue }
    }

    /// Queues `op` and waits until the commit that carries it is durable.
    pub async fn submit(&self, op: Op) -> Result<Out, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Corrupt("the group-commit writer has stopped".into());
        self.queue.send((op, reply)).await.map_err(|_| gone())?;
        match answer.await.map_err(|_| gone())? {
            Ok(out) => Ok(out),
            Err(e) => Err(StoreError::Batch(e.to_string())),
        }
    }
}

async fn run<Op, Out>(
    db: &Db,
    apply: Apply<Op, Out>,
    batch: &[(Op, Reply<Out>)],
) -> Result<Vec<Out>, StoreError> {
    let mut tx = db.begin().await?;
    let mut outs = Vec::with_capacity(batch.len());
    for (op, _) in batch {
        outs.push(apply(&mut tx, op).await?);
    }
    tx.commit().await?;
    Ok(outs)
}
