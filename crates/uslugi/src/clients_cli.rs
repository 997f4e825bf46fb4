//! `uslugi clients …` and `uslugi oidc rotate-keys`: relying parties of the OpenID Connect
//! provider and its signing keys. Client secrets are printed once; a client that
//! authenticates with `private_key_jwt` registers its public keys instead (a JWKS file).

use std::path::PathBuf;
use std::sync::Arc;

use clap::Subcommand;
use domain::Clock as _;
use oidc::clients::{ClientKind, NewClient};

use crate::clock::SystemClock;
use crate::server::{open_database, open_vault};
use crate::settings::{Mode, Settings};
use crate::staff_cli::Database;

#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Register a relying party; prints the client secret of a confidential client once
    Add {
        #[command(flatten)]
        db: Database,
        /// client_id: lower-case latin letters, digits, - _ . (3–64)
        #[arg(long)]
        id: String,
        /// The service's name, as the consent screen shows it
        #[arg(long)]
        name: String,
        /// confidential (a server keeping a secret) or public (an app; PKCE only)
        #[arg(long, default_value = "confidential")]
        kind: String,
        /// An allowed redirect URI (exact match); repeat for more
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return; repeat for more
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// Allowed scopes, comma-separated (openid is required)
        #[arg(long, default_value = "openid,fullname")]
        scopes: String,
        /// The minimum account level: simplified, standard or confirmed
        #[arg(long, default_value = "simplified")]
        min_level: String,
        /// How a confidential client authenticates: client_secret_basic (a secret, also
        /// accepted as client_secret_post) or private_key_jwt (a JWT signed with its key)
        #[arg(long, default_value = "client_secret_basic")]
        auth: String,
        /// With --auth private_key_jwt: a file with the client's public keys (a JWKS,
        /// EC P-256 or RSA ≥ 2048 bits)
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// How its ID and access tokens are signed: ES256 or RS256
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// List the relying parties
    List(Database),
    /// Remove a relying party
    Remove {
        #[command(flatten)]
        db: Database,
        id: String,
    },
    /// Issue a new client secret (the old one stops working); printed once
    RotateSecret {
        #[command(flatten)]
        db: Database,
        id: String,
    },
    /// Replace the public keys of a private_key_jwt client (to rotate its keys, register
    /// the old and the new key, then only the new one)
    SetJwks {
        #[command(flatten)]
        db: Database,
        id: String,
        /// The JWKS file
        #[arg(long)]
        jwks: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum OidcCommand {
    /// Make a new signing key; the old one stays published until its tokens expire
    RotateKeys(Database),
}

/// A registration as typed: checked when run.
#[derive(Debug)]
pub struct AddClient {
    pub new: NewClient,
    pub kind: String,
    pub auth: String,
    pub jwks: Option<PathBuf>,
    pub alg: String,
}

/// What to do, once settings are loaded.
#[derive(Debug)]
pub enum ClientsAction {
    Add(Box<AddClient>),
    List,
    Remove(String),
    RotateSecret(String),
    SetJwks(String, PathBuf),
    RotateKeys,
}

impl ClientsCommand {
    pub fn split(self) -> (ClientsAction, Database) {
        match self {
            Self::Add {
                db,
                id,
                name,
                kind,
                redirect_uris,
                post_logout_uris,
                scopes,
                min_level,
                auth,
                jwks,
                alg,
            } => {
                let new = NewClient {
                    id,
                    name,
                    kind: ClientKind::Confidential,
                    redirect_uris,
                    post_logout_redirect_uris: post_logout_uris,
                    scopes: scopes
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect(),
                    min_level,
                    allow_http: false,
                    jwks: None,
                    id_token_alg: oidc::jws::Alg::Es256,
                };
                (ClientsAction::Add(Box::new(AddClient { new, kind, auth, jwks, alg })), db)
            }
            Self::List(db) => (ClientsAction::List, db),
            Self::Remove { db, id } => (ClientsAction::Remove(id), db),
            Self::RotateSecret { db, id } => (ClientsAction::RotateSecret(id), db),
            Self::SetJwks { db, id, jwks } => (ClientsAction::SetJwks(id, jwks), db),
        }
    }
}

impl OidcCommand {
    pub fn split(self) -> (ClientsAction, Database) {
        match self {
            Self::RotateKeys(db) => (ClientsAction::RotateKeys, db),
        }
    }
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |f| f.to_uppercase().chain(chars).collect())
}

fn read_jwks(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("--jwks: не удалось прочитать {}: {e}", path.display()))
}

pub async fn run(settings: &Settings, action: ClientsAction) -> anyhow::Result<()> {
    let vault = Arc::new(open_vault(settings)?);
    let db = open_database(settings).await?;
    let provider =
        oidc::Provider::new(db, vault, settings.oidc_provider(&settings.base_url(settings.listen)));
    let now = SystemClock.now();
    let refusal = |e: oidc::OidcError| anyhow::anyhow!(sentence(&e.to_string()));
    match action {
        ClientsAction::Add(add) => {
            let AddClient { mut new, kind, auth, jwks, alg } = *add;
            new.kind = match kind.as_str() {
                "confidential" => ClientKind::Confidential,
                "public" => ClientKind::Public,
                _ => anyhow::bail!("--kind: одно из: confidential, public"),
            };
            new.id_token_alg = oidc::jws::Alg::parse(&alg.to_uppercase())
                .ok_or_else(|| anyhow::anyhow!("--alg: одно из: ES256, RS256"))?;
            new.jwks = match (auth.as_str(), jwks) {
                ("private_key_jwt", Some(path)) => Some(read_jwks(&path)?),
                ("private_key_jwt", None) => {
                    anyhow::bail!("--jwks: для private_key_jwt укажите файл с открытыми ключами")
                }
                ("client_secret_basic" | "client_secret_post", None) => None,
                ("client_secret_basic" | "client_secret_post", Some(_)) => {
                    anyhow::bail!("--jwks: ключи нужны только при --auth private_key_jwt")
                }
                _ => anyhow::bail!(
                    "--auth: одно из: client_secret_basic, client_secret_post, private_key_jwt"
                ),
            };
            // Development allows http:// redirect URIs (local relying parties).
            new.allow_http = settings.mode == Mode::Dev;
            let (client, secret) = provider.add_client(&new, now).await.map_err(refusal)?;
            println!(
                "Клиент зарегистрирован: {} («{}»), {}, {}, {}.",
                client.id, client.name, client.kind, client.auth_method, client.id_token_alg
            );
            if let Some(secret) = secret {
                println!("client_secret (показывается один раз): {secret}");
            }
        }
        ClientsAction::List => {
            let list = provider.clients().await.map_err(refusal)?;
            if list.is_empty() {
                println!(
                    "Клиентов нет. Добавьте: uslugi clients add --id … --name … --redirect-uri …"
                );
            }
            for c in list {
                println!(
                    "{}\t{}\t{}\tуровень от {}\t{}\t{}\t{}\t{}",
                    c.id,
                    c.name,
                    c.kind,
                    c.min_level,
                    c.scopes.join(","),
                    c.redirect_uris.join(" "),
                    c.auth_method,
                    c.id_token_alg
                );
            }
        }
        ClientsAction::Remove(id) => {
            provider.remove_client(&id, now).await.map_err(refusal)?;
            println!("Клиент {id} удалён.");
        }
        ClientsAction::RotateSecret(id) => {
            let secret = provider.rotate_client_secret(&id, now).await.map_err(refusal)?;
            println!("Новый client_secret для {id} (показывается один раз): {secret}");
        }
        ClientsAction::SetJwks(id, path) => {
            let jwks = read_jwks(&path)?;
            provider.set_client_jwks(&id, &jwks, now).await.map_err(refusal)?;
            println!("Ключи клиента {id} заменены.");
        }
        ClientsAction::RotateKeys => {
            let kids = provider.rotate_keys(now).await.map_err(refusal)?;
            println!(
                "Новые ключи подписи: {}. Прежние остаются в JWKS, пока действуют их токены.",
                kids.join(", ")
            );
        }
    }
    Ok(())
}
