//! `TestApp`: the real application on a free port against a fresh database.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::ManualClock;
use sqlx::Connection;
use store::Backend;
use uslugi::server::{self, Running};
use uslugi::settings::{LogFormat, Settings, sqlite_url};

/// Runs the body once per backend, as two tests: `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::support::TestApp) {
                $body
                $app.stop().await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::support::TestApp::spawn(::store::Backend::Sqlite).await).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::support::TestApp::spawn(::store::Backend::Postgres).await).await;
            }
        }
    };
}
pub(crate) use on_both_backends;

/// The instant every test starts at: 22 November 2026, noon in Moscow.
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap()
}

/// A fresh, empty scratch directory under the system temp dir.
pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uslugi-test-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A URL of a fresh, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => sqlite_url(&dir.join("uslugi.db")),
        Backend::Postgres => {
            let admin = std::env::var("USLUGI_TEST_DATABASE_URL").expect(
                "USLUGI_TEST_DATABASE_URL is not set: run the suite through scripts/test, \
                 which starts a throwaway PostgreSQL",
            );
            let name = format!("t_{}", uuid::Uuid::now_v7().simple());
            let mut conn =
                sqlx::PgConnection::connect(&admin).await.expect("connect to test PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.unwrap();
            let (base, _) = admin.rsplit_once('/').expect("admin URL ends in /DBNAME");
            format!("{base}/{name}")
        }
    }
}

pub fn settings_for(dir: &std::path::Path, database_url: String) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        database_url,
        calendar_dir: dir.join("calendar"),
        log: "warn".into(),
        log_format: LogFormat::Json,
    }
}

pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    running: Running,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_prepared(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], letting `prepare` put files into the data directory first.
    pub async fn spawn_prepared(backend: Backend, prepare: impl FnOnce(&std::path::Path)) -> Self {
        let dir = scratch_dir();
        prepare(&dir);
        let url = fresh_database_url(backend, &dir).await;
        let clock = Arc::new(ManualClock::new(test_now()));
        let running = server::start(&settings_for(&dir, url), clock.clone()).await.unwrap();
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: format!("http://{}", running.addr), clock, http, dir, running }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }

    /// `GET /api/v1/validate/{kind}` → (status, body).
    pub async fn validate(&self, kind: &str, query: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(&format!("/api/v1/validate/{kind}")))
            .query(query)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Submits the «Проверка реквизитов» form as a browser without JavaScript would.
    pub async fn submit_check(&self, fields: &[(&str, &str)]) -> (u16, String) {
        let r = self.http.post(self.url("/check")).form(fields).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub fn db(&self) -> &store::Db {
        &self.running.db
    }

    pub async fn stop(self) {
        self.running.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
