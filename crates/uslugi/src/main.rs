//! The `uslugi` command: `serve` runs the portal, `migrate` brings a database up to date.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use uslugi::clock::SystemClock;
use uslugi::server;
use uslugi::settings::{LogFormat, Settings, SettingsError, Sources, env_overrides};

#[derive(Parser)]
#[command(name = "uslugi", version, about = "Услуги — портал государственных услуг")]
struct Cli {
    /// Settings file (TOML); by default `uslugi.toml` in the working directory, if present.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Default)]
struct Common {
    /// Where to listen, ADDR:PORT [default: 127.0.0.1:8080; env USLUGI_LISTEN]
    #[arg(long, value_name = "ADDR:PORT")]
    listen: Option<String>,
    /// Data directory, created if missing [default: ./data; env USLUGI_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// sqlite://FILE or postgres://… [default: SQLite in the data directory; env USLUGI_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the portal (the default)
    Serve(Common),
    /// Apply database migrations and exit
    Migrate(Common),
    /// The action journal
    #[command(subcommand)]
    Journal(JournalCommand),
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check the hash chain; names the first broken entry (exit code 1)
    Verify(Common),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (command, common) = match cli.command {
        None => ("serve", Common::default()),
        Some(Command::Serve(c)) => ("serve", c),
        Some(Command::Migrate(c)) => ("migrate", c),
        Some(Command::Journal(JournalCommand::Verify(c))) => ("journal-verify", c),
    };
    let flags = [
        ("listen", common.listen),
        ("data_dir", common.data_dir),
        ("database_url", common.database_url),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
    .collect();
    let sources = Sources { file: cli.config, env: env_overrides(), flags };
    let settings = match Settings::load(&sources) {
        Ok(s) => s,
        Err(e) => return config_error(&e),
    };
    init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("uslugi: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            "migrate" => migrate(&settings).await,
            "journal-verify" => verify_journal(&settings).await,
            _ => serve(&settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<SettingsError>() {
            Some(config) => config_error(config),
            None => {
                tracing::error!(error = format!("{e:#}"), "stopped");
                eprintln!("uslugi: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn config_error(e: &SettingsError) -> ExitCode {
    eprintln!("uslugi: {e}");
    ExitCode::from(2)
}

fn init_logging(settings: &Settings) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let running = server::start(settings, Arc::new(SystemClock)).await?;
    println!("Услуги: портал работает на http://{}/ (остановка: Ctrl+C)", running.addr);
    if let Some((login, password)) = &running.demo {
        println!(
            "Демо-гражданин (показывается один раз): логин {login}, пароль {password}. \
             Коды из СМС и писем: http://{}/dev/outbox",
            running.addr
        );
    }
    running.run_until(shutdown_signal()).await
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = server::open_database(settings).await?;
    let applied = db.applied_migrations().await?;
    println!(
        "Миграции применены: {} (база {}, версии {:?})",
        applied.len(),
        db.backend().name(),
        applied
    );
    db.close().await;
    Ok(())
}

/// Signals a broken journal chain: exit code 1, after the message is printed.
#[derive(Debug, thiserror::Error)]
#[error("the action journal is broken")]
struct JournalBroken;

async fn verify_journal(settings: &Settings) -> anyhow::Result<()> {
    let db = server::open_database(settings).await?;
    journal::Journal::new(db.clone()).seal().await?;
    let verdict = journal::Journal::new(db.clone()).verify().await?;
    db.close().await;
    match verdict {
        journal::Verdict::Intact { entries } => {
            println!("Журнал действий цел: {entries} записей проверено");
            Ok(())
        }
        journal::Verdict::Broken { seq, id, reason } => {
            println!("Журнал действий повреждён: запись № {seq} {id}: {reason}");
            Err(JournalBroken.into())
        }
    }
}

/// Completes on SIGTERM or Ctrl+C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
