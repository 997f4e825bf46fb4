//! The connection pool, the backend it talks to, and migrations.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, Executor};

use crate::StoreError;
use crate::batch::{Fut, SharedCommit};

/// Which SQL engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    /// The migrations of this backend, embedded at build time. No advisory lock is taken
    /// (distributed PostgreSQL engines lack them): in a cluster, run `uslugi migrate` once
    /// before rolling out nodes.
    pub fn migrator(self) -> Migrator {
        let mut migrator = match self {
            Self::Sqlite => sqlx::migrate!("../../migrations/sqlite"),
            Self::Postgres => sqlx::migrate!("../../migrations/postgres"),
        };
        migrator.set_locking(false);
        migrator
    }

    /// The clause that makes concurrent queue readers skip rows another node holds.
    /// SQLite has one writer at a time, so a plain read inside the write is enough.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// A database URL with any password replaced, fit for logs and error messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self { max_connections: 16, acquire_timeout: Duration::from_secs(5) }
    }
}

/// How many read-only SQLite connections serve [`Db::read`].
const READERS: usize = 4;

/// SQLite's read-only connections, kept here rather than in a sqlx pool: a sqlx pool
/// pings every connection given back to it (`return_to_pool`), which for SQLite is one
/// more round trip to the connection's worker thread for every read, and a task spawned
/// to make it; under load those doubled the thread wake-ups of the read paths. A
/// connection given back here goes straight to the idle list. (A statement whose future
/// was dropped half-way leaves nothing behind: the worker finishes or resets it before
/// the next command, and a dropped transaction's rollback runs first thing on next use.)
struct Readers {
    idle: std::sync::Mutex<Vec<AnyConnection>>,
    /// One permit per connection that may exist.
    permits: Arc<tokio::sync::Semaphore>,
    connect: AnyConnectOptions,
    acquire_timeout: Duration,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").finish_non_exhaustive()
    }
}

impl Readers {
    async fn acquire(self: &Arc<Self>) -> Result<ReadConn, StoreError> {
        let permit =
            tokio::time::timeout(self.acquire_timeout, self.permits.clone().acquire_owned())
                .await
                .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
                .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let mut conn = self.connect.connect().await?;
                conn.execute("PRAGMA query_only = ON").await?;
                conn.execute("PRAGMA cache_size = -16384").await?;
                conn
            }
        };
        Ok(ReadConn(Held::Reader { conn: Some(conn), readers: self.clone(), _permit: permit }))
    }

    async fn close(&self) {
        self.permits.close();
        let idle = self.idle.lock().map(|mut idle| std::mem::take(&mut *idle)).unwrap_or_default();
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

/// A connection for reads outside any transaction ([`Db::read`]): one of SQLite's
/// read-only connections, or one of the pool's.
#[derive(Debug)]
pub struct ReadConn(Held);

enum Held {
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
    Reader {
        conn: Option<AnyConnection>,
        readers: Arc<Readers>,
        _permit: tokio::sync::OwnedSemaphorePermit,
    },
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pooled(_) => "Pooled",
            Self::Reader { .. } => "Reader",
        })
    }
}

impl std::ops::Deref for ReadConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Held::Pooled(conn) => conn,
            Held::Reader { conn, .. } => {
                conn.as_ref().unwrap_or_else(|| unreachable!("held until dropped"))
            }
        }
    }
}

impl std::ops::DerefMut for ReadConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Held::Pooled(conn) => conn,
            Held::Reader { conn, .. } => {
                conn.as_mut().unwrap_or_else(|| unreachable!("held until dropped"))
            }
        }
    }
}

impl Drop for ReadConn {
    fn drop(&mut self) {
        if let Held::Reader { conn, readers, .. } = &mut self.0
            && let (Some(conn), Ok(mut idle)) = (conn.take(), readers.idle.lock())
        {
            idle.push(conn);
        }
    }
}

/// The database: a pool plus the knowledge of which backend it is.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    /// SQLite only: read-only connections beside the one writer. In WAL mode readers see
    /// the last commit and never wait for the writer, so hot read paths (token checks,
    /// userinfo) do not queue behind a commit's fsync. PostgreSQL reads from `pool`.
    reader: Option<Arc<Readers>>,
    backend: Backend,
    /// The writer of shared commits, started on first use (inside the caller's runtime).
    shared: Arc<OnceLock<SharedCommit>>,
}

impl Db {
    /// Connects to `url`. For SQLite the file is created if missing and switched to WAL,
    /// so readers never wait for the writer; `synchronous` stays FULL so a committed
    /// write survives a crash or power loss.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let connect = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        if backend == Backend::Sqlite {
            // WAL is a property of the file; set it once, before the pool opens
            // connections that would race for the exclusive lock it needs.
            let mut conn = connect.connect().await?;
            conn.execute("PRAGMA journal_mode = WAL").await?;
            conn.close().await?;
        }
        // SQLite has one writer. With several connections, writers that find the file
        // locked sleep and retry unfairly and can starve past any busy timeout under load
        // (seen: 500s and pool time-outs at 100 parallel sign-ins on 2 busy cores). One
        // connection queues every statement fairly in the pool instead; SQLite statements
        // take microseconds. Code must not use the pool while holding a transaction.
        let (max_connections, acquire_timeout) = match backend {
            Backend::Sqlite => (1, options.acquire_timeout.max(Duration::from_secs(30))),
            Backend::Postgres => (options.max_connections, options.acquire_timeout),
        };
        // A pooled SQLite connection is a file handle, not a network peer: pinging it
        // before every use only adds a round trip to its worker thread.
        let ping = backend == Backend::Postgres;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(ping)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // 64 MiB of page cache (the default is 2 MiB): the indexes of a
                        // million-record registry stay in memory while it loads.
                        conn.execute("PRAGMA cache_size = -65536").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect.clone())
            .await?;
        // An in-memory SQLite database is private to its connection: no readers beside it.
        let reader = if backend == Backend::Sqlite && !url.contains(":memory:") {
            let readers = Arc::new(Readers {
                idle: std::sync::Mutex::default(),
                permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
                connect: connect.clone(),
                acquire_timeout,
            });
            // One now, so a database that cannot be read is an error at start.
            drop(readers.acquire().await?);
            Some(readers)
        } else {
            None
        };
        Ok(Self { pool, reader, backend, shared: Arc::default() })
    }

    /// Applies pending migrations; refuses a database that has migrations this build
    /// does not know. Each migration runs in its own transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// The versions applied to this database, in order.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction meant to write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail with
    /// `SQLITE_BUSY` when another writer committed in between, without waiting.
    pub async fn begin(&self) -> Result<crate::Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// One connection from the pool, for a statement outside any transaction.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// A connection for reads that need no transaction and may see the last committed
    /// state (they never see a transaction still open elsewhere). On SQLite it comes from
    /// the read-only pool, so it may be held while a transaction is open; on PostgreSQL
    /// it is an ordinary pooled connection.
    pub async fn read(&self) -> Result<ReadConn, StoreError> {
        match &self.reader {
            Some(readers) => readers.acquire().await,
            None => Ok(ReadConn(Held::Pooled(self.pool.acquire().await?))),
        }
    }

    /// Runs `work` in a transaction shared with other concurrent work and one durable
    /// commit (see [`crate::batch`]); gives what the work gave once it is on disk. Use it
    /// for hot write paths. Never call it while holding a write connection or transaction.
    pub async fn shared<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: for<'c> Fn(&'c mut crate::Conn) -> Fut<'c, Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let writer = self.shared.get_or_init(|| {
            // The writer's own handle has no writer of its own: when the last handle
            // outside is dropped, its queue closes and the task ends.
            SharedCommit::start(Self {
                pool: self.pool.clone(),
                reader: self.reader.clone(),
                backend: self.backend,
                shared: Arc::default(),
            })
        });
        writer.run(work).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        if let Some(readers) = &self.reader {
            readers.close().await;
        }
        self.pool.close().await;
    }
}
