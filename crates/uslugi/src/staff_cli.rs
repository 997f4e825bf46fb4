//! `uslugi staff …`: the administrator's commands for staff accounts. One-time passwords
//! are printed once and must be changed at the first sign-in at `/staff/login`.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use domain::Clock as _;
use identity::IdentityError;
use identity::staff::NewStaff;

use crate::clock::SystemClock;
use crate::server::{open_database, open_vault};
use crate::settings::Settings;

/// Where the database is (the same flags as the other commands).
#[derive(Args, Debug, Default, Clone)]
pub struct Database {
    /// Data directory [default: ./data; env USLUGI_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// sqlite://FILE or postgres://… [default: SQLite in the data directory; env USLUGI_DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Create a staff member; prints a one-time password
    Add {
        #[command(flatten)]
        db: Database,
        /// Login: latin letters, digits, . _ - (3–32)
        #[arg(long)]
        login: String,
        /// Full name: «Фамилия Имя Отчество»
        #[arg(long)]
        name: String,
        /// operator, officer, head or admin
        #[arg(long)]
        role: String,
        /// The service centre of an operator (an id from the directory, see /centers)
        #[arg(long, value_name = "ID")]
        center: Option<String>,
        /// The agency of an officer or head (SFR, MVD, FNS, …)
        #[arg(long, value_name = "CODE")]
        agency: Option<String>,
    },
    /// List staff members
    List(Database),
    /// Issue a new one-time password (lifts a lock, ends the sessions)
    ResetPassword {
        #[command(flatten)]
        db: Database,
        login: String,
    },
    /// Block a staff member (ends the sessions)
    Block {
        #[command(flatten)]
        db: Database,
        login: String,
    },
    /// Unblock a staff member
    Unblock {
        #[command(flatten)]
        db: Database,
        login: String,
    },
}

/// What to do, once settings are loaded.
#[derive(Debug)]
pub enum StaffAction {
    Add(NewStaff),
    List,
    ResetPassword(String),
    Block(String),
    Unblock(String),
}

impl StaffCommand {
    /// The action and the database flags (which go into the settings).
    pub fn split(self) -> (StaffAction, Database) {
        match self {
            Self::Add { db, login, name, role, center, agency } => (
                StaffAction::Add(NewStaff {
                    login,
                    full_name: name,
                    role,
                    center_id: center,
                    agency,
                }),
                db,
            ),
            Self::List(db) => (StaffAction::List, db),
            Self::ResetPassword { db, login } => (StaffAction::ResetPassword(login), db),
            Self::Block { db, login } => (StaffAction::Block(login), db),
            Self::Unblock { db, login } => (StaffAction::Unblock(login), db),
        }
    }
}

/// The identity service over the configured database (messages would go to the dev
/// sink: staff commands send none).
async fn open(settings: &Settings) -> anyhow::Result<identity::Identity> {
    let vault = Arc::new(open_vault(settings)?);
    let db = open_database(settings).await?;
    let centers = identity::centers::builtin().context("service centres")?;
    identity::centers::sync(&db, &centers, SystemClock.now()).await?;
    let outbox = notify::Outbox::new(db.clone(), vault.clone(), notify::Delivery::dev_sink());
    let hasher =
        identity::password::Hasher::new(settings.argon2).map_err(|e| anyhow::anyhow!(e))?;
    Ok(identity::Identity::new(
        db,
        vault,
        outbox,
        hasher,
        settings.identity.clone(),
        settings.base_url(settings.listen),
    ))
}

/// A refusal as one Russian line naming the option.
fn refusal(e: IdentityError) -> anyhow::Error {
    match e {
        IdentityError::Fields(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|(field, err)| {
                    let option = match *field {
                        "full_name" => "--name",
                        "login" => "--login",
                        "role" => "--role",
                        "center" => "--center",
                        "agency" => "--agency",
                        other => other,
                    };
                    format!("{option}: {err}")
                })
                .collect();
            anyhow::anyhow!(parts.join("; "))
        }
        other => anyhow::anyhow!(crate_sentence(&other.to_string())),
    }
}

fn crate_sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |f| f.to_uppercase().chain(chars).collect())
}

pub async fn run(settings: &Settings, action: StaffAction) -> anyhow::Result<()> {
    let identity = open(settings).await?;
    let now = SystemClock.now();
    match action {
        StaffAction::Add(new) => {
            let (member, password) = identity.create_staff(&new, now).await.map_err(refusal)?;
            println!(
                "Сотрудник создан: {} ({}), логин {}.",
                member.full_name,
                member.role.label(),
                member.login
            );
            println!("Одноразовый пароль (показывается один раз): {password}");
            println!("При первом входе на /staff/login его нужно сменить.");
        }
        StaffAction::List => {
            let list = identity.staff_list().await.map_err(refusal)?;
            if list.is_empty() {
                println!("Сотрудников нет. Добавьте: uslugi staff add --login … --name … --role …");
            }
            for m in list {
                let place = m.center_id.or(m.agency).unwrap_or_else(|| "—".into());
                let status = if m.blocked { "заблокирован" } else { "активен" };
                let first =
                    if m.must_change_password { ", ждёт смены пароля" } else { "" };
                let seen = m
                    .last_sign_in_at
                    .map(|t| {
                        t.with_timezone(&domain::clock::moscow())
                            .format("%d.%m.%Y %H:%M")
                            .to_string()
                    })
                    .unwrap_or_else(|| "не входил".into());
                println!(
                    "{}\t{}\t{}\t{}\t{status}{first}\tвход: {seen}",
                    m.login,
                    m.role.code(),
                    place,
                    m.full_name
                );
            }
        }
        StaffAction::ResetPassword(login) => {
            let password = identity.reset_staff_password(&login, now).await.map_err(refusal)?;
            println!("Новый одноразовый пароль для {login} (показывается один раз): {password}");
            println!("Все сеансы сотрудника завершены; при входе пароль нужно сменить.");
        }
        StaffAction::Block(login) => {
            identity.set_staff_blocked(&login, true, now).await.map_err(refusal)?;
            println!("Сотрудник {login} заблокирован, его сеансы завершены.");
        }
        StaffAction::Unblock(login) => {
            identity.set_staff_blocked(&login, false, now).await.map_err(refusal)?;
            println!("Сотрудник {login} разблокирован.");
        }
    }
    Ok(())
}
