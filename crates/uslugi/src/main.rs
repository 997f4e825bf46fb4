//! The `uslugi` command: `serve` runs the portal, `migrate` brings a database up to date.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use uslugi::clock::SystemClock;
use uslugi::settings::{LogFormat, Settings, SettingsError, Sources, env_overrides};
use uslugi::{bank_cli, clients_cli, eis_cli, letters_cli, registry_cli, server, staff_cli};

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
    /// The embedded state registries (persons, invalid passports, organizations)
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Registered letters with a confirmation code
    #[command(subcommand)]
    Letters(LettersCommand),
    /// Staff accounts: operators of service centres, officers of agencies, administrators
    #[command(subcommand)]
    Staff(staff_cli::StaffCommand),
    /// Relying parties of the OpenID Connect provider («Войти через Госуслуги»)
    #[command(subcommand)]
    Clients(clients_cli::ClientsCommand),
    /// The OpenID Connect provider's signing keys
    #[command(subcommand)]
    Oidc(clients_cli::OidcCommand),
    /// Trusted banks that confirm accounts (OpenID Connect)
    #[command(subcommand)]
    Bank(BankCommand),
    /// The procurement registry app (ЕИС), a relying party of the portal
    #[command(subcommand)]
    Eis(EisCommand),
    /// The service catalog: the shipped definitions and the operator's in services_dir
    #[command(subcommand)]
    Services(ServicesCommand),
}

#[derive(Subcommand)]
enum ServicesCommand {
    /// Check every definition (shipped and in services_dir) and list the catalog
    Check(Common),
}

#[derive(Subcommand)]
enum EisCommand {
    /// Run the app alone, signing in through the portal at --issuer
    Serve {
        /// Where the app listens
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// The portal's issuer URL, e.g. http://127.0.0.1:8080
        #[arg(long, value_name = "URL")]
        issuer: String,
        /// The app's client id at the portal
        #[arg(long, default_value = "eis")]
        client_id: String,
        /// The client secret (`uslugi clients add` or `rotate-secret` prints it)
        #[arg(long, env = "USLUGI_EIS_SECRET", hide_env_values = true)]
        client_secret: String,
        /// The app's public URL [default: http:// + the listening address]
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum BankCommand {
    /// Run the demo bank, an OpenID Connect provider with demo customers, for local tries
    Demo {
        /// Where the bank listens
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8082")]
        listen: std::net::SocketAddr,
        /// The portal's client id at the bank
        #[arg(long, default_value = "uslugi")]
        client_id: String,
        /// The client secret [default: generated and printed; env USLUGI_DEMO_BANK_SECRET]
        #[arg(long, env = "USLUGI_DEMO_BANK_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// The portal's callback [default: from the portal's settings]
        #[arg(long, value_name = "URL")]
        redirect_uri: Option<String>,
    },
}

#[derive(Subcommand)]
enum LettersCommand {
    /// Print every ordered letter into one PDF for the post office, then mark them sent
    Print {
        #[command(flatten)]
        common: Common,
        /// The PDF to write (nothing is written when no letter waits)
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// How many letters are in each state
    Status(Common),
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Load persons, invalid passports or organizations from a CSV or JSON file; rejected
    /// rows are listed with line, field and reason (exit code 1 if there are any)
    Import {
        #[command(flatten)]
        common: Common,
        /// The file (.csv or .json); the CSV header tells what it holds
        file: PathBuf,
        /// Also write the rejected rows to this CSV file
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Generate and load a synthetic dataset with valid check digits
    Demo {
        #[command(flatten)]
        common: Common,
        /// How many persons
        #[arg(long, default_value_t = 10_000)]
        persons: u64,
        /// How many organizations and entrepreneurs
        #[arg(long, default_value_t = 1_000)]
        orgs: u64,
        /// The same seed gives the same dataset
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Serve the registry gateway protocol over the embedded registry
    Serve {
        #[command(flatten)]
        common: Common,
        /// Require `Authorization: Bearer TOKEN` [env USLUGI_REGISTRY_GATEWAY_TOKEN]
        #[arg(long, env = "USLUGI_REGISTRY_GATEWAY_TOKEN", hide_env_values = true)]
        token: Option<String>,
    },
    /// How many records the embedded registry holds
    Status(Common),
}

/// What to do, once settings are loaded.
enum Action {
    Serve,
    Migrate,
    ServicesCheck,
    VerifyJournal,
    Import { file: PathBuf, report: Option<PathBuf> },
    Demo { persons: u64, orgs: u64, seed: u64 },
    Gateway { token: Option<String> },
    RegistryStatus,
    LettersPrint { out: PathBuf },
    LettersStatus,
    Staff(staff_cli::StaffAction),
    Clients(clients_cli::ClientsAction),
    BankDemo(bank_cli::DemoBank),
    EisServe(eis_cli::EisServe),
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check the hash chain; names the first broken entry (exit code 1)
    Verify(Common),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (action, common) = match cli.command {
        None => (Action::Serve, Common::default()),
        Some(Command::Serve(c)) => (Action::Serve, c),
        Some(Command::Migrate(c)) => (Action::Migrate, c),
        Some(Command::Journal(JournalCommand::Verify(c))) => (Action::VerifyJournal, c),
        Some(Command::Registry(RegistryCommand::Import { common, file, report })) => {
            (Action::Import { file, report }, common)
        }
        Some(Command::Registry(RegistryCommand::Demo { common, persons, orgs, seed })) => {
            (Action::Demo { persons, orgs, seed }, common)
        }
        Some(Command::Registry(RegistryCommand::Serve { common, token })) => {
            (Action::Gateway { token }, common)
        }
        Some(Command::Registry(RegistryCommand::Status(c))) => (Action::RegistryStatus, c),
        Some(Command::Letters(LettersCommand::Print { common, out })) => {
            (Action::LettersPrint { out }, common)
        }
        Some(Command::Letters(LettersCommand::Status(c))) => (Action::LettersStatus, c),
        Some(Command::Services(ServicesCommand::Check(c))) => (Action::ServicesCheck, c),
        Some(Command::Staff(command)) => {
            let (action, c) = command.split();
            (
                Action::Staff(action),
                Common { listen: None, data_dir: c.data_dir, database_url: c.database_url },
            )
        }
        Some(Command::Clients(command)) => {
            let (action, c) = command.split();
            (
                Action::Clients(action),
                Common { listen: None, data_dir: c.data_dir, database_url: c.database_url },
            )
        }
        Some(Command::Oidc(command)) => {
            let (action, c) = command.split();
            (
                Action::Clients(action),
                Common { listen: None, data_dir: c.data_dir, database_url: c.database_url },
            )
        }
        Some(Command::Bank(BankCommand::Demo {
            listen,
            client_id,
            client_secret,
            redirect_uri,
        })) => (
            Action::BankDemo(bank_cli::DemoBank { listen, client_id, client_secret, redirect_uri }),
            Common::default(),
        ),
        Some(Command::Eis(EisCommand::Serve {
            listen,
            issuer,
            client_id,
            client_secret,
            public_url,
        })) => (
            Action::EisServe(eis_cli::EisServe {
                listen,
                issuer,
                client_id,
                client_secret,
                public_url,
            }),
            Common::default(),
        ),
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
        match action {
            Action::Serve => serve(&settings).await,
            Action::Migrate => migrate(&settings).await,
            Action::VerifyJournal => verify_journal(&settings).await,
            Action::Import { file, report } => {
                registry_cli::import(&settings, &file, report.as_deref()).await
            }
            Action::Demo { persons, orgs, seed } => {
                registry_cli::demo(&settings, persons, orgs, seed).await
            }
            Action::Gateway { token } => {
                registry_cli::serve_gateway(&settings, token, shutdown_signal()).await
            }
            Action::RegistryStatus => registry_cli::status(&settings).await,
            Action::LettersPrint { out } => letters_cli::run_print(&settings, &out).await,
            Action::LettersStatus => letters_cli::status(&settings).await,
            Action::ServicesCheck => services_check(&settings),
            Action::Staff(action) => staff_cli::run(&settings, action).await,
            Action::Clients(action) => clients_cli::run(&settings, action).await,
            Action::BankDemo(options) => {
                bank_cli::demo(&settings, options, shutdown_signal()).await
            }
            Action::EisServe(options) => eis_cli::serve(options, shutdown_signal()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<SettingsError>() {
            Some(config) => config_error(config),
            None if e.is::<registry_cli::RowsRejected>() => ExitCode::FAILURE,
            None if e.is::<letters_cli::LettersSkipped>() => ExitCode::FAILURE,
            None => {
                tracing::error!(error = format!("{e:#}"), "stopped");
                eprintln!("uslugi: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Prints the catalog the server would load, or every mistake in it (exit code 2).
fn services_check(settings: &Settings) -> anyhow::Result<()> {
    let catalog = server::load_catalog(&settings.services_dir)?;
    for c in catalog.categories() {
        println!("{}", c.title);
        for s in catalog.in_category(&c.id) {
            println!("  {:<34} {} ({})", s.id, s.title, s.source);
        }
    }
    println!(
        "Каталог в порядке: услуг {}, категорий {}. / The catalog is valid.",
        catalog.services().len(),
        catalog.categories().len()
    );
    Ok(())
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
    if let Some(url) = &running.eis {
        println!("ЕИС (сайт закупок, вход через Госуслуги): {url}/");
    }
    for s in &running.demo_staff {
        println!(
            "Демо-сотрудник ({}, {}): логин {}, одноразовый пароль {} (показывается один раз). \
             Вход: http://{}/staff/login",
            s.role.label(),
            s.place,
            s.login,
            s.password,
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
