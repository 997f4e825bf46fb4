//! The `uslugi` binary itself: configuration errors, `migrate`, and `serve` with SIGTERM.

use std::process::{Command, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{fresh_database_url, scratch_dir};

const BIN: &str = env!("CARGO_BIN_EXE_uslugi");

fn uslugi(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir).env_remove("RUST_LOG");
    for key in uslugi::settings::KEYS {
        cmd.env_remove(format!("USLUGI_{}", key.to_uppercase()));
    }
    cmd
}

#[test]
fn bad_configuration_is_one_line_naming_the_key_and_exit_2() {
    let dir = scratch_dir();
    type Env = Option<(&'static str, &'static str)>;
    let cases: [(&[&str], Env, &str); 4] = [
        (&["serve", "--listen", "localhost"], None, "listen"),
        (&["serve"], Some(("USLUGI_LISTEN", "1.2.3.4")), "listen"),
        (&["migrate", "--database-url", "mysql://db"], None, "database_url"),
        (&["serve"], Some(("USLUGI_LOG_FORMAT", "xml")), "log_format"),
    ];
    for (args, env, key) in cases {
        let mut cmd = uslugi(&dir);
        cmd.args(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(&format!("configuration error: {key}:")), "{stderr}");
        assert!(stderr.contains("ошибка конфигурации"), "{stderr}");
    }
    std::fs::write(dir.join("uslugi.toml"), "listen = \"127.0.0.1:0\"\nlisten_port = 1\n").unwrap();
    let out = uslugi(&dir).arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_port"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_bad_calendar_file_is_a_configuration_error() {
    let dir = scratch_dir();
    std::fs::create_dir_all(dir.join("data/calendar")).unwrap();
    std::fs::write(dir.join("data/calendar/2028.toml"), "year = 2028\n").unwrap();
    let out = uslugi(&dir).args(["serve", "--listen", "127.0.0.1:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("calendar_dir") && stderr.contains("2028.toml"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn migrate_applies_the_schema_on_both_backends() {
    for backend in [store::Backend::Sqlite, store::Backend::Postgres] {
        let dir = scratch_dir();
        let url = fresh_database_url(backend, &dir).await;
        for _ in 0..2 {
            let out = uslugi(&dir).args(["migrate", "--database-url", &url]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let stdout = String::from_utf8(out.stdout).unwrap();
            let count = backend.migrator().iter().count();
            assert!(stdout.contains(&format!("Миграции применены: {count} ")), "{stdout}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[tokio::test]
async fn serve_starts_with_no_setup_and_stops_on_sigterm() {
    // reqwest is built without a default TLS provider: the server installs ring, and so
    // does this test for its client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = scratch_dir();
    let mut child = tokio::process::Command::new(BIN)
        .current_dir(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("USLUGI_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("the URL is printed");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_owned();
    let ready = reqwest::get(format!("{url}readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    assert!(dir.join("data/uslugi.db").is_file(), "data directory and database created");

    let pid = child.id().unwrap().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().await.unwrap();
    assert!(status.success(), "graceful exit, got {status}");
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    for line in stderr.lines() {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("JSON log line: {line}"));
        assert!(entry["level"].is_string());
    }
    assert!(stderr.contains("shutting down"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn journal_verify_names_the_first_broken_entry() {
    use journal::{ActorKind, Event, Origin, Outcome};

    for backend in [store::Backend::Sqlite, store::Backend::Postgres] {
        let dir = scratch_dir();
        let url = fresh_database_url(backend, &dir).await;
        let verify =
            || uslugi(&dir).args(["journal", "verify", "--database-url", &url]).output().unwrap();
        let out = verify();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("Журнал действий цел: 0 записей"));

        let db = store::Db::connect(&url, &store::DbOptions::default()).await.unwrap();
        let origin = Origin::default();
        for action in ["test.one", "test.two", "test.three"] {
            let mut tx = db.begin().await.unwrap();
            let event = Event {
                at: crate::support::test_now(),
                actor: ActorKind::System,
                actor_id: None,
                subject_id: None,
                action,
                outcome: Outcome::Ok,
                origin: &origin,
                details: serde_json::json!({}),
            };
            journal::record(&mut tx, &event).await.unwrap();
            tx.commit().await.unwrap();
        }
        // `verify` seals what is pending before it checks.
        let out = verify();
        assert!(String::from_utf8_lossy(&out.stdout).contains("цел: 3 записей"), "{out:?}");
        sqlx::query("UPDATE journal SET action = 'test.forged' WHERE seq = 2")
            .execute(db.pool())
            .await
            .unwrap();
        db.close().await;
        let out = verify();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("повреждён: запись № 2"), "{stdout}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn registry_demo_import_and_status_from_the_command_line() {
    let dir = scratch_dir();
    let out = uslugi(&dir)
        .args(["registry", "demo", "--persons", "300", "--orgs", "20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("граждан 300, недействительных паспортов 3, организаций 20"),
        "{stdout}"
    );

    std::fs::write(
        dir.join("bad.csv"),
        "passport,reason,since\n4510 654321,утрачен,01.01.2025\n45 10,утрачен,\n4510 654322,,2099-01-01\n",
    )
    .unwrap();
    let out = uslugi(&dir)
        .args(["registry", "import", "bad.csv", "--report", "rejected.csv"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "rejected rows: exit 1\n{stdout}");
    assert!(
        stdout.contains("недействительных паспортов 1") && stdout.contains("отклонено строк: 2"),
        "{stdout}"
    );
    assert!(stdout.contains("строка 3, поле «Серия и номер паспорта»"), "{stdout}");
    assert!(stdout.contains("строка 4, поле «Причина»: не заполнено"), "{stdout}");
    assert!(stdout.contains("строка 4, поле «Дата»: дата не может быть в будущем"), "{stdout}");
    let report = std::fs::read_to_string(dir.join("rejected.csv")).unwrap();
    assert_eq!(report.lines().count(), 4, "header and three remarks: {report}");
    assert!(report.starts_with("line,field,reason\n3,\"Серия и номер паспорта\""), "{report}");

    let out = uslugi(&dir).args(["registry", "status"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("граждан 300, недействительных паспортов 4, организаций 20"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn services_check_lists_the_catalog_or_names_each_broken_file() {
    let dir = scratch_dir();
    let out = uslugi(&dir).args(["services", "check", "--data-dir", "data"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("egrn-extract"), "{stdout}");
    assert!(stdout.contains("Каталог в порядке: услуг 11"), "{stdout}");
    std::fs::create_dir_all(dir.join("data/services/catalog")).unwrap();
    std::fs::write(dir.join("data/services/catalog/a.toml"), "id = \"a\"\n").unwrap();
    std::fs::write(
        dir.join("data/services/categories.toml"),
        "[[category]]\nid = \"Bad Id\"\ntitle = \"x\"\ndescription = \"\"\n",
    )
    .unwrap();
    let out = uslugi(&dir).args(["services", "check", "--data-dir", "data"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("categories.toml, строка 1: id категории «Bad Id»"), "{stderr}");
    assert!(
        stderr.contains("a.toml, строка 1: не разобрать TOML: missing field `title`"),
        "{stderr}"
    );
}
