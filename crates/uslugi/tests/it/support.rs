//! `TestApp`: the real application on a free port against a fresh database.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::ManualClock;
use sqlx::Connection;
use store::Backend;
use uslugi::server::{self, Running};
use uslugi::settings::{Settings, sqlite_url};

/// Runs the body once per backend, as two tests: `name::sqlite` and `name::postgres`.
/// `on_both_backends! { demo async fn … }` starts the app with the demo data (the demo
/// citizen and the starter registry, so documents can be verified).
macro_rules! on_both_backends {
    (demo $(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
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
                run($crate::support::TestApp::spawn_demo(::store::Backend::Sqlite).await).await;
            }

            $(#[$meta])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::support::TestApp::spawn_demo(::store::Backend::Postgres).await).await;
            }
        }
    };
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
    Settings::for_data_dir(dir, database_url)
}

pub struct TestApp {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    /// The settings the server was started with (CLI functions take them too).
    pub settings: Settings,
    /// The database the app runs on (for the CLI tests that share it).
    pub database_url: String,
    running: Running,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_, _| {}).await
    }

    /// With the demo data: the demo citizen and the starter registry.
    pub async fn spawn_demo(backend: Backend) -> Self {
        Self::spawn_with(backend, |_, s| s.demo_data = true).await
    }

    /// Like [`TestApp::spawn`], letting `prepare` put files into the data directory and
    /// change the settings first.
    pub async fn spawn_with(
        backend: Backend,
        prepare: impl FnOnce(&std::path::Path, &mut Settings),
    ) -> Self {
        let dir = scratch_dir();
        let url = fresh_database_url(backend, &dir).await;
        let mut settings = settings_for(&dir, url);
        prepare(&dir, &mut settings);
        let clock = Arc::new(ManualClock::new(test_now()));
        let running = server::start(&settings, clock.clone()).await.unwrap();
        let http =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let database_url = settings.database_url.clone();
        Self {
            base: format!("http://{}", running.addr),
            clock,
            http,
            dir,
            settings,
            database_url,
            running,
        }
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

    /// Messages in the dev outbox (newest first), optionally only to `to`.
    pub async fn outbox(&self, to: Option<&str>) -> Vec<serde_json::Value> {
        let mut request = self.http.get(self.url("/api/v1/dev/outbox"));
        if let Some(to) = to {
            request = request.query(&[("to", to)]);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json().await.unwrap()
    }

    /// The dev outbox once `ready` holds for it: waits for the delivery worker (an event,
    /// not a duration), giving up after a bounded number of looks.
    pub async fn outbox_when(
        &self,
        ready: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        for _ in 0..2000 {
            let messages = self.outbox(None).await;
            if ready(&messages) {
                return messages;
            }
            tokio::task::yield_now().await;
        }
        panic!("the outbox never reached the expected state: {:?}", self.outbox(None).await);
    }

    /// Asks the worker that closes expired applicant windows to look now.
    pub fn sweep_overdue(&self) {
        self.running.overdue.notify_one();
    }

    pub fn outbox_handle(&self) -> &notify::Outbox {
        &self.running.outbox
    }

    /// The demo citizen's login and password, when the app was started with demo data.
    pub fn demo(&self) -> Option<(String, String)> {
        self.running.demo.clone()
    }

    /// The demo operator and officer (logins and one-time passwords), with demo data.
    pub fn demo_staff(&self) -> Vec<identity::staff::DemoStaff> {
        self.running.demo_staff.clone()
    }

    pub fn db(&self) -> &store::Db {
        &self.running.db
    }

    pub async fn stop(self) {
        self.running.shutdown().await.unwrap();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A minimal SMTP server on a free loopback port: accepts every message and hands its
/// raw DATA to the returned channel.
pub async fn smtp_sink() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(data.take().unwrap_or_default());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb =
                        line.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

/// The answer to the captcha's spoken alternative («Сколько будет семь плюс два? …»), as
/// a screen-reader user would give it.
pub fn spoken_captcha_answer(question: &str) -> String {
    let number = |w: &str| (0..=20u32).find(|n| identity::captcha::words(*n) == w).unwrap();
    let rest = question.strip_prefix("Сколько будет ").unwrap();
    let (a, rest) = rest.split_once(" плюс ").unwrap();
    let b = rest.split_once('?').unwrap().0;
    (number(a) + number(b)).to_string()
}
