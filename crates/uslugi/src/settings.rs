//! Settings, loaded in layers: built-in defaults → `uslugi.toml` → `USLUGI_*` environment
//! variables → command-line flags. A bad value stops the program with one line that
//! names the key (exit code 2).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Every key, as written in `uslugi.toml`; the environment variable is `USLUGI_` + the key
/// in upper case, the flag `--` + the key with dashes.
pub const KEYS: [&str; 49] = [
    "listen",
    "data_dir",
    "database_url",
    "calendar_dir",
    "services_dir",
    "files_dir",
    "files_url",
    "upload_limit_mb",
    "log",
    "log_format",
    "mode",
    "public_url",
    "master_key",
    "master_key_file",
    "smtp_url",
    "smtp_from",
    "sms_url",
    "sms_token",
    "demo_data",
    "trust_proxy",
    "code_ttl_seconds",
    "login_attempts",
    "login_lock_minutes",
    "session_idle_minutes",
    "session_lifetime_hours",
    "max_sessions",
    "password_min_length",
    "password_max_length",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "registry_url",
    "registry_token",
    "registry_client_cert",
    "registry_ca",
    "qes_roots",
    "document_signing_key",
    "document_signing_cert",
    "letter_sender_name",
    "letter_sender_address",
    "letter_website",
    "letter_support",
    "activation_code_days",
    "banks",
    "demo_bank_listen",
    "eis_listen",
    "oidc_access_token_ttl_seconds",
    "oidc_id_token_ttl_seconds",
    "oidc_refresh_token_ttl_days",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    calendar_dir: Option<PathBuf>,
    services_dir: Option<PathBuf>,
    files_dir: Option<PathBuf>,
    files_url: Option<String>,
    upload_limit_mb: i64,
    log: String,
    log_format: String,
    mode: String,
    public_url: Option<String>,
    master_key: Option<SecretString>,
    master_key_file: Option<PathBuf>,
    smtp_url: Option<SecretString>,
    smtp_from: String,
    sms_url: Option<String>,
    sms_token: Option<SecretString>,
    demo_data: bool,
    trust_proxy: bool,
    code_ttl_seconds: i64,
    login_attempts: i64,
    login_lock_minutes: i64,
    session_idle_minutes: i64,
    session_lifetime_hours: i64,
    max_sessions: i64,
    password_min_length: usize,
    password_max_length: usize,
    argon2_memory_kib: u32,
    argon2_iterations: u32,
    argon2_parallelism: u32,
    registry_url: Option<String>,
    registry_token: Option<SecretString>,
    registry_client_cert: Option<PathBuf>,
    registry_ca: Option<PathBuf>,
    qes_roots: Option<PathBuf>,
    document_signing_key: Option<PathBuf>,
    document_signing_cert: Option<PathBuf>,
    letter_sender_name: Option<String>,
    letter_sender_address: Option<String>,
    letter_website: Option<String>,
    letter_support: Option<String>,
    activation_code_days: i64,
    banks: Option<BanksRaw>,
    demo_bank_listen: Option<String>,
    eis_listen: Option<String>,
    oidc_access_token_ttl_seconds: i64,
    oidc_id_token_ttl_seconds: i64,
    oidc_refresh_token_ttl_days: i64,
}

/// `banks`: an array of tables in the file, or the same as a JSON array in
/// `USLUGI_BANKS`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum BanksRaw {
    List(Vec<BankRaw>),
    Json(String),
}

/// One trusted bank as written in the settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankRaw {
    id: String,
    name: String,
    issuer: String,
    client_id: String,
    client_secret: SecretString,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

/// Development (the default for a local `serve`) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A dev key is generated into the data directory; with no transports configured,
    /// messages go to the dev sink, readable at `/dev/outbox`.
    Dev,
    /// A master key and `public_url` are required; `/dev/outbox` does not exist.
    Production,
}

/// Where the personal-data master key comes from.
#[derive(Debug, Clone)]
pub enum MasterKey {
    /// Configured (`master_key` or the contents of `master_key_file`).
    Configured(SecretString),
    /// Development: read from, or created in, this file.
    DevFile(PathBuf),
}

/// SMTP delivery of e-mail.
#[derive(Debug, Clone)]
pub struct Smtp {
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…:465` (lettre's URL form).
    pub url: SecretString,
    pub from: String,
}

/// An HTTP SMS gateway.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    pub url: String,
    pub token: SecretString,
}

/// Which state registries answer document checks.
#[derive(Debug, Clone)]
pub enum RegistrySource {
    /// The dataset in our own database (`uslugi registry import`/`demo`).
    Embedded,
    /// A gateway speaking the protocol of `registry::http` (the bridge to СМЭВ).
    Http(registry::HttpSettings),
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

/// Checked settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `uslugi.db` in the data directory.
    pub database_url: String,
    /// Extra production-calendar files (`YYYY.toml`); defaults to `calendar/` in the data
    /// directory, read if it exists.
    pub calendar_dir: PathBuf,
    /// The operator's service definitions over the shipped catalog (same layout as
    /// `services/` in the repository); defaults to `services/` in the data directory,
    /// read if it exists.
    pub services_dir: PathBuf,
    /// Where attached files are kept (sealed); defaults to `files/` in the data directory.
    pub files_dir: PathBuf,
    /// An S3-compatible bucket for the files instead of `files_dir`: `s3://bucket[/prefix]`,
    /// with the endpoint, region and credentials in the standard `AWS_*` environment
    /// variables.
    pub files_url: Option<String>,
    /// The largest attachment, in megabytes (1–50).
    pub upload_limit_mb: u32,
    /// A tracing filter such as `info` or `uslugi=debug,tower_http=debug`.
    pub log: String,
    pub log_format: LogFormat,
    pub mode: Mode,
    /// The address people reach the portal at (for links in e-mail); by default
    /// `http://` + `listen`.
    pub public_url: Option<String>,
    pub master_key: MasterKey,
    /// E-mail transport; without it e-mail goes to the dev sink (dev mode only).
    pub smtp: Option<Smtp>,
    /// SMS transport; without it SMS go to the dev sink (dev mode only).
    pub sms: Option<SmsGateway>,
    /// In dev mode, create a demo citizen on the first run (and print its password).
    pub demo_data: bool,
    /// The portal runs behind one reverse proxy that appends `X-Forwarded-For`: take
    /// the client address from there (for the journal and per-IP throttling).
    pub trust_proxy: bool,
    /// The rules of accounts (codes, lockout, sessions, passwords).
    pub identity: identity::Policy,
    /// Argon2id costs.
    pub argon2: identity::password::HashParams,
    /// Where document checks go.
    pub registry: RegistrySource,
    /// Trusted root CAs of qualified signatures (PEM or DER files); defaults to
    /// `qes-roots/` in the data directory, created empty. Empty: the route is off.
    pub qes_roots: PathBuf,
    /// The GOST R 34.10-2012 key result documents are signed with, and its qualified
    /// certificate (`document_signing_key`, `document_signing_cert`); `None`: ES256 with
    /// the key derived from the master key.
    pub document_signer: Option<qes::DocumentSigner>,
    /// The sender block of registered letters, as configured (see [`Settings::letter_sender`]).
    pub letters: LetterSender,
    /// Trusted banks (OpenID Connect providers) that confirm accounts.
    pub banks: Vec<identity::bank::BankSettings>,
    /// In the dev setup, run the demo bank here and trust it as «Демо-банк».
    pub demo_bank_listen: Option<SocketAddr>,
    /// In the dev setup, run the procurement registry app (ЕИС, a relying party) here.
    pub eis_listen: Option<SocketAddr>,
    /// Lifetimes of the tokens the OpenID Connect provider issues.
    pub oidc_tokens: OidcTokens,
}

/// Lifetimes of the OpenID Connect provider's tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OidcTokens {
    pub access: chrono::Duration,
    pub id: chrono::Duration,
    pub refresh: chrono::Duration,
}

impl Default for OidcTokens {
    /// What [`oidc::ProviderSettings::new`] has.
    fn default() -> Self {
        let p = oidc::ProviderSettings::new("");
        Self { access: p.access_token_ttl, id: p.id_token_ttl, refresh: p.refresh_token_ttl }
    }
}

/// The sender of registered letters with a confirmation code, as configured; unset
/// values get development defaults (production requires the address and support).
#[derive(Debug, Clone, Default)]
pub struct LetterSender {
    pub name: Option<String>,
    /// Lines separated by a newline (or `\n` in an environment variable).
    pub address: Option<String>,
    pub website: Option<String>,
    pub support: Option<String>,
}

impl Settings {
    /// Defaults for a data directory and a database: what a local `serve` gets.
    pub fn for_data_dir(data_dir: &Path, database_url: String) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.to_path_buf(),
            database_url,
            calendar_dir: data_dir.join("calendar"),
            services_dir: data_dir.join("services"),
            files_dir: data_dir.join("files"),
            files_url: None,
            upload_limit_mb: 5,
            log: "warn".into(),
            log_format: LogFormat::Json,
            mode: Mode::Dev,
            public_url: None,
            master_key: MasterKey::DevFile(data_dir.join("master.key")),
            smtp: None,
            sms: None,
            demo_data: false,
            trust_proxy: false,
            identity: identity::Policy::default(),
            argon2: identity::password::HashParams::default(),
            registry: RegistrySource::Embedded,
            qes_roots: data_dir.join("qes-roots"),
            document_signer: None,
            letters: LetterSender::default(),
            banks: Vec::new(),
            demo_bank_listen: None,
            eis_listen: None,
            oidc_tokens: OidcTokens::default(),
        }
    }

    /// `/dev/outbox` is served only in development without a public URL.
    pub fn dev_outbox(&self) -> bool {
        self.mode == Mode::Dev && self.public_url.is_none()
    }

    /// The sender printed on registered letters: the configured values, with development
    /// defaults in dev mode. Production refuses to print without a return address and a
    /// support contact: a letter must not carry made-up ones.
    pub fn letter_sender(&self) -> Result<printing::Sender, SettingsError> {
        let set = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
        let required = |key: &str, v: &Option<String>, dev: &str| match set(v) {
            Some(v) => Ok(v),
            None if self.mode == Mode::Production => Err(err(
                key,
                "в режиме production нужен для печати писем / required to print letters in production mode",
            )),
            None => Ok(dev.to_owned()),
        };
        let website = set(&self.letters.website).unwrap_or_else(|| {
            let base = self.base_url(self.listen);
            let host = base.split_once("://").map_or(base.as_str(), |(_, rest)| rest);
            host.trim_end_matches('/').to_owned()
        });
        Ok(printing::Sender {
            name: set(&self.letters.name).unwrap_or_else(|| printing::Sender::PORTAL.to_owned()),
            address: required(
                "letter_sender_address",
                &self.letters.address,
                "ул. Образцовая, д. 1\nг. Москва, 101000",
            )?
            .replace("\\n", "\n"),
            website,
            support: required("letter_support", &self.letters.support, "support@uslugi.localhost")?,
        })
    }

    /// The OpenID Connect provider's settings, with `issuer` (the base URL): the server
    /// and the commands (a key rotation keeps the old key as long as its tokens live) use
    /// the same.
    pub fn oidc_provider(&self, issuer: &str) -> oidc::ProviderSettings {
        oidc::ProviderSettings {
            access_token_ttl: self.oidc_tokens.access,
            id_token_ttl: self.oidc_tokens.id,
            refresh_token_ttl: self.oidc_tokens.refresh,
            ..oidc::ProviderSettings::new(issuer)
        }
    }

    /// The base URL for links in messages.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}"))
    }
}

/// A setting that cannot be used, with the key it belongs to.
#[derive(Debug, thiserror::Error)]
#[error("ошибка конфигурации / configuration error: {key}: {message}")]
pub struct SettingsError {
    pub key: String,
    pub message: String,
}

fn err(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError { key: key.to_owned(), message: message.into() }
}

/// Where the values come from besides the defaults.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// An explicit settings file; without it `uslugi.toml` in the working directory is
    /// read if present.
    pub file: Option<PathBuf>,
    /// `(key, value)` pairs from the environment, usually [`env_overrides`].
    pub env: Vec<(String, String)>,
    /// `(key, value)` pairs from command-line flags.
    pub flags: Vec<(String, String)>,
}

/// The `USLUGI_*` variables that name known keys.
pub fn env_overrides() -> Vec<(String, String)> {
    KEYS.iter()
        .filter_map(|k| {
            std::env::var(format!("USLUGI_{}", k.to_uppercase())).ok().map(|v| ((*k).to_owned(), v))
        })
        .collect()
}

impl Settings {
    pub fn load(sources: &Sources) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder()
            .set_default("listen", "127.0.0.1:8080")
            .and_then(|b| b.set_default("data_dir", "data"))
            .and_then(|b| b.set_default("log", "info"))
            .and_then(|b| b.set_default("log_format", "json"))
            .and_then(|b| b.set_default("mode", "dev"))
            .and_then(|b| b.set_default("demo_data", true))
            .and_then(|b| b.set_default("trust_proxy", false))
            .and_then(|b| b.set_default("code_ttl_seconds", 300))
            .and_then(|b| b.set_default("upload_limit_mb", 5))
            .and_then(|b| b.set_default("login_attempts", 5))
            .and_then(|b| b.set_default("login_lock_minutes", 15))
            .and_then(|b| b.set_default("session_idle_minutes", 30))
            .and_then(|b| b.set_default("session_lifetime_hours", 12))
            .and_then(|b| b.set_default("max_sessions", 10))
            .and_then(|b| b.set_default("password_min_length", 8))
            .and_then(|b| b.set_default("password_max_length", 64))
            .and_then(|b| b.set_default("argon2_memory_kib", 19 * 1024))
            .and_then(|b| b.set_default("argon2_iterations", 2))
            .and_then(|b| b.set_default("argon2_parallelism", 1))
            .and_then(|b| b.set_default("activation_code_days", 30))
            .and_then(|b| b.set_default("demo_bank_listen", "127.0.0.1:8082"))
            .and_then(|b| b.set_default("eis_listen", "127.0.0.1:8081"))
            .and_then(|b| b.set_default("oidc_access_token_ttl_seconds", 600))
            .and_then(|b| b.set_default("oidc_id_token_ttl_seconds", 600))
            .and_then(|b| b.set_default("oidc_refresh_token_ttl_days", 30))
            .and_then(|b| b.set_default("smtp_from", "Услуги <noreply@uslugi.localhost>"))
            .map_err(|e| err("defaults", e.to_string()))?;
        match &sources.file {
            Some(path) => {
                if !path.is_file() {
                    return Err(err(
                        "config",
                        format!("файл {} не найден / file not found", path.display()),
                    ));
                }
                builder = builder.add_source(
                    config::File::from(path.as_path()).format(config::FileFormat::Toml),
                );
            }
            None => {
                builder = builder.add_source(
                    config::File::new("uslugi.toml", config::FileFormat::Toml).required(false),
                );
            }
        }
        for (key, value) in sources.env.iter().chain(&sources.flags) {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| err(key, e.to_string()))?;
        }
        let raw: Raw = builder
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| err(&config_error_key(&e), e.to_string()))?;
        Self::check(raw)
    }

    fn check(raw: Raw) -> Result<Self, SettingsError> {
        let listen = raw.listen.parse::<SocketAddr>().map_err(|_| {
            err(
                "listen",
                format!(
                    "«{}» — ожидается АДРЕС:ПОРТ, например 127.0.0.1:8080 / expected ADDR:PORT",
                    raw.listen
                ),
            )
        })?;
        if raw.data_dir.as_os_str().is_empty() {
            return Err(err("data_dir", "пустой путь / empty path"));
        }
        let database_url = match raw.database_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => {
                store::Backend::from_url(&url).map_err(|_| {
                    err("database_url", "ожидается sqlite://… или postgres://… / expected sqlite:// or postgres:// URL")
                })?;
                url
            }
            None => sqlite_url(&raw.data_dir.join("uslugi.db")),
        };
        let log_format = match raw.log_format.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(err(
                    "log_format",
                    format!("«{other}» — ожидается json или pretty / expected json or pretty"),
                ));
            }
        };
        if tracing_subscriber::EnvFilter::try_new(&raw.log).is_err() {
            return Err(err(
                "log",
                format!("«{}» — неверный фильтр журнала / invalid log filter", raw.log),
            ));
        }
        let calendar_dir = raw.calendar_dir.unwrap_or_else(|| raw.data_dir.join("calendar"));
        let services_dir = raw.services_dir.unwrap_or_else(|| raw.data_dir.join("services"));
        let files_dir = raw.files_dir.clone().unwrap_or_else(|| raw.data_dir.join("files"));
        if !(1..=50).contains(&raw.upload_limit_mb) {
            return Err(err("upload_limit_mb", "ожидается число от 1 до 50 / expected 1..=50"));
        }
        let upload_limit_mb = raw.upload_limit_mb as u32;
        let files_url = raw.files_url.clone().filter(|u| !u.trim().is_empty());
        if let Some(url) = &files_url
            && !url
                .strip_prefix("s3://")
                .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        {
            return Err(err(
                "files_url",
                "ожидается s3://корзина[/префикс] / expected s3://bucket[/prefix]",
            ));
        }
        let qes_roots = raw
            .qes_roots
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| raw.data_dir.join("qes-roots"));
        let document_signer = match (&raw.document_signing_key, &raw.document_signing_cert) {
            (None, None) => None,
            (Some(key), Some(cert)) => {
                let read = |name: &str, path: &Path| {
                    std::fs::read(path).map_err(|e| err(name, format!("{}: {e}", path.display())))
                };
                let key_pem = secrecy::SecretBox::new(Box::new(read("document_signing_key", key)?));
                let cert_pem = read("document_signing_cert", cert)?;
                let signer = qes::DocumentSigner::from_pem(key_pem.expose_secret(), &cert_pem)
                    .map_err(|e| match e {
                        qes::QesError::SigningKey(_) => err("document_signing_key", e.to_string()),
                        _ => err("document_signing_cert", e.to_string()),
                    })?;
                Some(signer)
            }
            (Some(_), None) => {
                return Err(err(
                    "document_signing_cert",
                    "укажите и сертификат ключа подписи документов / the key needs its certificate",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "document_signing_key",
                    "укажите и ключ подписи документов / the certificate needs its key",
                ));
            }
        };
        let mode = match raw.mode.as_str() {
            "dev" => Mode::Dev,
            "production" => Mode::Production,
            other => {
                return Err(err(
                    "mode",
                    format!(
                        "«{other}» — ожидается dev или production / expected dev or production"
                    ),
                ));
            }
        };
        let public_url = raw.public_url.filter(|u| !u.trim().is_empty());
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(err("public_url", "ожидается адрес http(s)://… / expected an http(s) URL"));
        }
        let master_key = match (raw.master_key, raw.master_key_file) {
            (Some(key), _) => MasterKey::Configured(key),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(&file)
                    .map_err(|e| err("master_key_file", format!("{}: {e}", file.display())))?;
                MasterKey::Configured(SecretString::from(text.trim().to_owned()))
            }
            (None, None) if mode == Mode::Production => {
                return Err(err(
                    "master_key",
                    "в режиме production ключ обязателен / required in production mode",
                ));
            }
            (None, None) => MasterKey::DevFile(raw.data_dir.join("master.key")),
        };
        if let MasterKey::Configured(key) = &master_key
            && store::vault::parse_key(key.expose_secret()).is_err()
        {
            return Err(err(
                "master_key",
                "ожидается 32 байта: 64 шестнадцатеричные цифры или base64 / expected 32 bytes",
            ));
        }
        if mode == Mode::Production && public_url.is_none() {
            return Err(err(
                "public_url",
                "в режиме production обязателен / required in production mode",
            ));
        }
        let smtp = raw.smtp_url.map(|url| Smtp { url, from: raw.smtp_from.clone() });
        if let Some(smtp) = &smtp {
            notify::Delivery::check_smtp(smtp.url.expose_secret(), &smtp.from)
                .map_err(|e| err("smtp_url", e))?;
        }
        let sms = match (raw.sms_url, raw.sms_token) {
            (Some(url), Some(token)) => Some(SmsGateway { url, token }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(err("sms_token", "нужен вместе с sms_url / needed with sms_url"));
            }
            (None, Some(_)) => {
                return Err(err("sms_url", "нужен вместе с sms_token / needed with sms_token"));
            }
        };
        if mode == Mode::Production && (smtp.is_none() || sms.is_none()) {
            let key = if smtp.is_none() { "smtp_url" } else { "sms_url" };
            return Err(err(
                key,
                "в режиме production нужен транспорт сообщений / a transport is required in production mode",
            ));
        }
        let positive = |key: &str, v: i64, max: i64| {
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(err(key, format!("ожидается число от 1 до {max} / expected 1..={max}")))
            }
        };
        if !(6..=128).contains(&raw.password_min_length)
            || raw.password_max_length < raw.password_min_length.max(20)
            || raw.password_max_length > 1024
        {
            return Err(err(
                "password_min_length",
                "минимум 6–128, максимум не меньше минимума и 20, не больше 1024 / min 6..=128, max ≥ max(min, 20), ≤ 1024",
            ));
        }
        let defaults = identity::Policy::default();
        let identity = identity::Policy {
            code_ttl: chrono::Duration::seconds(positive(
                "code_ttl_seconds",
                raw.code_ttl_seconds,
                3600,
            )?),
            login_attempts: positive("login_attempts", raw.login_attempts, 100)?,
            login_lock: chrono::Duration::minutes(positive(
                "login_lock_minutes",
                raw.login_lock_minutes,
                24 * 60,
            )?),
            session_idle: chrono::Duration::minutes(positive(
                "session_idle_minutes",
                raw.session_idle_minutes,
                24 * 60,
            )?),
            session_lifetime: chrono::Duration::hours(positive(
                "session_lifetime_hours",
                raw.session_lifetime_hours,
                24 * 30,
            )?),
            max_sessions: positive("max_sessions", raw.max_sessions, 1000)?,
            password: identity::password::PasswordPolicy {
                min_len: raw.password_min_length,
                max_len: raw.password_max_length,
                ..defaults.password.clone()
            },
            activation_ttl: chrono::Duration::days(positive(
                "activation_code_days",
                raw.activation_code_days,
                365,
            )?),
            ..defaults
        };
        let argon2 = identity::password::HashParams {
            memory_kib: raw.argon2_memory_kib,
            iterations: raw.argon2_iterations,
            parallelism: raw.argon2_parallelism,
        };
        if argon2.memory_kib < 8 * 1024 || argon2.iterations == 0 || argon2.parallelism == 0 {
            return Err(err(
                "argon2_memory_kib",
                "не меньше 8192 КиБ, проходов и потоков не меньше 1 / at least 8192 KiB, t ≥ 1, p ≥ 1",
            ));
        }
        let registry = match raw.registry_url.filter(|u| !u.trim().is_empty()) {
            None => RegistrySource::Embedded,
            Some(url) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(err(
                        "registry_url",
                        "ожидается адрес http(s)://… / expected an http(s) URL",
                    ));
                }
                let read = |key: &str, path: &Path| {
                    std::fs::read(path).map_err(|e| err(key, format!("{}: {e}", path.display())))
                };
                let mut http = registry::HttpSettings::new(&url);
                http.token = raw.registry_token.map(|t| t.expose_secret().to_owned());
                http.client_identity_pem = raw
                    .registry_client_cert
                    .as_deref()
                    .map(|p| read("registry_client_cert", p))
                    .transpose()?;
                http.ca_pem =
                    raw.registry_ca.as_deref().map(|p| read("registry_ca", p)).transpose()?;
                registry::HttpRegistry::new(http.clone()).map_err(|e| {
                    let key = if e.starts_with("gateway CA") {
                        "registry_ca"
                    } else {
                        "registry_client_cert"
                    };
                    err(key, e)
                })?;
                RegistrySource::Http(http)
            }
        };
        // An access token cannot be recalled from a resource server that checks it alone:
        // at most an hour. An ID token is read once, at sign-in: at most a day.
        let oidc_tokens = OidcTokens {
            access: chrono::Duration::seconds(positive(
                "oidc_access_token_ttl_seconds",
                raw.oidc_access_token_ttl_seconds,
                3600,
            )?),
            id: chrono::Duration::seconds(positive(
                "oidc_id_token_ttl_seconds",
                raw.oidc_id_token_ttl_seconds,
                24 * 3600,
            )?),
            refresh: chrono::Duration::days(positive(
                "oidc_refresh_token_ttl_days",
                raw.oidc_refresh_token_ttl_days,
                365,
            )?),
        };
        let letters = LetterSender {
            name: raw.letter_sender_name,
            address: raw.letter_sender_address,
            website: raw.letter_website,
            support: raw.letter_support,
        };
        let banks = check_banks(raw.banks, mode)?;
        let demo_bank_listen = match raw.demo_bank_listen.filter(|l| !l.trim().is_empty()) {
            None => None,
            Some(l) => Some(l.parse::<SocketAddr>().map_err(|_| {
                err(
                    "demo_bank_listen",
                    format!("«{l}» — ожидается АДРЕС:ПОРТ или пусто / expected ADDR:PORT or empty"),
                )
            })?),
        };
        let eis_listen = match raw.eis_listen.filter(|l| !l.trim().is_empty()) {
            None => None,
            Some(l) => Some(l.parse::<SocketAddr>().map_err(|_| {
                err(
                    "eis_listen",
                    format!("«{l}» — ожидается АДРЕС:ПОРТ или пусто / expected ADDR:PORT or empty"),
                )
            })?),
        };
        Ok(Self {
            oidc_tokens,
            letters,
            banks,
            demo_bank_listen,
            eis_listen,
            registry,
            identity,
            argon2,
            listen,
            data_dir: raw.data_dir,
            database_url,
            calendar_dir,
            services_dir,
            files_dir,
            files_url,
            upload_limit_mb,
            log: raw.log,
            log_format,
            mode,
            public_url,
            master_key,
            smtp,
            sms,
            demo_data: raw.demo_data,
            trust_proxy: raw.trust_proxy,
            qes_roots,
            document_signer,
        })
    }
}

/// Checks the trusted banks: ids unique and URL-safe, every field given, issuers
/// http(s) (https in production).
fn check_banks(
    raw: Option<BanksRaw>,
    mode: Mode,
) -> Result<Vec<identity::bank::BankSettings>, SettingsError> {
    let list = match raw {
        None => Vec::new(),
        Some(BanksRaw::List(list)) => list,
        Some(BanksRaw::Json(text)) if text.trim().is_empty() => Vec::new(),
        Some(BanksRaw::Json(text)) => serde_json::from_str::<Vec<BankRaw>>(&text).map_err(|e| {
            err("banks", format!("ожидается JSON-массив банков / expected a JSON array: {e}"))
        })?,
    };
    let mut banks: Vec<identity::bank::BankSettings> = Vec::new();
    for b in list {
        let bad = |message: &str| err("banks", format!("{}: {message}", b.id));
        if b.id.is_empty()
            || !b.id.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return Err(err(
                "banks",
                format!(
                    "«{}» — id: строчные латинские буквы, цифры и дефис / id: a-z, 0-9, -",
                    b.id
                ),
            ));
        }
        if banks.iter().any(|x| x.id == b.id) {
            return Err(bad("повторяется / repeated id"));
        }
        if b.name.trim().is_empty() || b.client_id.trim().is_empty() {
            return Err(bad("нужны name и client_id / name and client_id are required"));
        }
        if b.client_secret.expose_secret().is_empty() {
            return Err(bad("нужен client_secret / client_secret is required"));
        }
        let allowed: &[&str] =
            if mode == Mode::Production { &["https://"] } else { &["https://", "http://"] };
        if !allowed.iter().any(|scheme| b.issuer.starts_with(scheme)) {
            return Err(bad(
                "issuer — ожидается адрес https://… (http:// только в dev) / issuer: expected an https URL",
            ));
        }
        banks.push(identity::bank::BankSettings {
            id: b.id.clone(),
            name: b.name.trim().to_owned(),
            issuer: b.issuer.trim_end_matches('/').to_owned(),
            client_id: b.client_id.clone(),
            client_secret: b.client_secret.expose_secret().to_owned(),
            scopes: b.scopes.clone().unwrap_or_else(|| vec!["profile".into()]),
        });
    }
    Ok(banks)
}

/// The key a `config` error is about, when it says.
fn config_error_key(e: &config::ConfigError) -> String {
    let text = e.to_string();
    // Messages look like "invalid type: … for key `listen`" or "unknown field `foo`, expected …".
    text.split('`').nth(1).map_or_else(|| "config".to_owned(), str::to_owned)
}

/// A SQLite URL for a file path.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(flags: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let flags = flags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::load(&Sources { file: None, env: vec![], flags })
    }

    #[test]
    fn defaults_need_no_setup() {
        let s = load(&[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://data/uslugi.db");
        assert_eq!(s.calendar_dir, PathBuf::from("data/calendar"));
        assert_eq!(s.qes_roots, PathBuf::from("data/qes-roots"));
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(load(&[("listen", "nowhere")]).unwrap_err().key, "listen");
        assert_eq!(load(&[("database_url", "mysql://x")]).unwrap_err().key, "database_url");
        assert_eq!(load(&[("log_format", "xml")]).unwrap_err().key, "log_format");
        assert_eq!(load(&[("files_url", "/srv/files")]).unwrap_err().key, "files_url");
        assert_eq!(load(&[("files_url", "s3://")]).unwrap_err().key, "files_url");
        let s3 = load(&[("files_url", "s3://uslugi-files/node-1")]).unwrap();
        assert_eq!(s3.files_url.as_deref(), Some("s3://uslugi-files/node-1"));
        let e = load(&[("listen", "nowhere")]).unwrap_err().to_string();
        assert!(e.starts_with("ошибка конфигурации / configuration error: listen:"), "{e}");
    }

    #[test]
    fn production_needs_a_key_a_public_url_and_transports() {
        assert_eq!(load(&[("mode", "production")]).unwrap_err().key, "master_key");
        let key = "ab".repeat(32);
        let with_key = [("mode", "production"), ("master_key", key.as_str())];
        assert_eq!(load(&with_key).unwrap_err().key, "public_url");
        let mut more = with_key.to_vec();
        more.push(("public_url", "https://uslugi.example"));
        assert_eq!(load(&more).unwrap_err().key, "smtp_url");
        more.push(("smtp_url", "smtps://u:p@smtp.example:465"));
        assert_eq!(load(&more).unwrap_err().key, "sms_url");
        more.push(("sms_url", "https://sms.example/send"));
        assert_eq!(load(&more).unwrap_err().key, "sms_token");
        more.push(("sms_token", "t"));
        let s = load(&more).unwrap();
        assert!(!s.dev_outbox());
        assert_eq!(load(&[("master_key", "short")]).unwrap_err().key, "master_key");
        assert_eq!(load(&[("mode", "staging")]).unwrap_err().key, "mode");
        assert_eq!(load(&[("login_attempts", "0")]).unwrap_err().key, "login_attempts");
        assert_eq!(load(&[("password_min_length", "4")]).unwrap_err().key, "password_min_length");
        assert_eq!(load(&[("argon2_memory_kib", "64")]).unwrap_err().key, "argon2_memory_kib");
        let tuned = load(&[("code_ttl_seconds", "120"), ("login_attempts", "3")]).unwrap();
        assert_eq!(
            (tuned.identity.code_ttl.num_seconds(), tuned.identity.login_attempts),
            (120, 3)
        );
        assert_eq!(
            load(&[("document_signing_key", "/nonexistent")]).unwrap_err().key,
            "document_signing_cert",
            "a key needs its certificate"
        );
        let missing = load(&[
            ("document_signing_key", "/nonexistent/key.pem"),
            ("document_signing_cert", "/nonexistent/cert.pem"),
        ]);
        assert_eq!(missing.unwrap_err().key, "document_signing_key");
        assert!(load(&[]).unwrap().document_signer.is_none(), "ES256 by default");
        assert!(load(&[]).unwrap().dev_outbox(), "dev by default");
        assert!(!load(&[("public_url", "https://x.example")]).unwrap().dev_outbox());
        assert!(matches!(load(&[]).unwrap().registry, RegistrySource::Embedded));
        assert_eq!(load(&[("registry_url", "smev")]).unwrap_err().key, "registry_url");
        assert_eq!(
            load(&[("registry_url", "https://gw"), ("registry_ca", "/nonexistent")])
                .unwrap_err()
                .key,
            "registry_ca"
        );
        let RegistrySource::Http(http) =
            load(&[("registry_url", "https://gw.example/r/"), ("registry_token", "t")])
                .unwrap()
                .registry
        else {
            panic!("an HTTP registry")
        };
        assert_eq!((http.url.as_str(), http.token.as_deref()), ("https://gw.example/r", Some("t")));
    }

    #[test]
    fn token_lifetimes_are_checked_and_reach_the_provider() {
        let s = load(&[]).unwrap();
        assert_eq!(s.oidc_tokens, OidcTokens::default());
        let p = s.oidc_provider("https://uslugi.example/");
        assert_eq!(
            (
                p.issuer.as_str(),
                p.access_token_ttl.num_seconds(),
                p.id_token_ttl.num_seconds(),
                p.refresh_token_ttl.num_days()
            ),
            ("https://uslugi.example", 600, 600, 30)
        );
        let tuned = load(&[
            ("oidc_access_token_ttl_seconds", "120"),
            ("oidc_id_token_ttl_seconds", "300"),
            ("oidc_refresh_token_ttl_days", "7"),
        ])
        .unwrap()
        .oidc_provider("https://uslugi.example");
        assert_eq!(
            (
                tuned.access_token_ttl.num_seconds(),
                tuned.id_token_ttl.num_seconds(),
                tuned.refresh_token_ttl.num_days()
            ),
            (120, 300, 7)
        );
        for (key, bad) in [
            ("oidc_access_token_ttl_seconds", "0"),
            ("oidc_access_token_ttl_seconds", "3601"),
            ("oidc_id_token_ttl_seconds", "-5"),
            ("oidc_id_token_ttl_seconds", "86401"),
            ("oidc_refresh_token_ttl_days", "366"),
            ("oidc_refresh_token_ttl_days", "month"),
        ] {
            let e = load(&[(key, bad)]).unwrap_err();
            assert_eq!(e.key, key, "{key}={bad}: {e}");
        }
        let e = load(&[("oidc_access_token_ttl_seconds", "0")]).unwrap_err().to_string();
        assert!(e.ends_with("ожидается число от 1 до 3600 / expected 1..=3600"), "{e}");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let key = "ab".repeat(32);
        let s = load(&[
            ("master_key", key.as_str()),
            ("sms_url", "https://g"),
            ("sms_token", "tok-123"),
        ])
        .unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains(&key) && !debug.contains("tok-123"), "{debug}");
    }

    #[test]
    fn later_layers_win() {
        let sources = Sources {
            file: None,
            env: vec![("listen".into(), "127.0.0.1:9000".into())],
            flags: vec![("listen".into(), "127.0.0.1:9001".into())],
        };
        assert_eq!(Settings::load(&sources).unwrap().listen.port(), 9001);
    }

    #[test]
    fn banks_come_from_the_file_or_json_in_the_environment() {
        let dir = std::env::temp_dir().join(format!("uslugi-banks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("uslugi.toml");
        std::fs::write(
            &file,
            "[[banks]]\nid = \"sber\"\nname = \"Банк\"\nissuer = \"https://id.bank.example/\"\n\
             client_id = \"uslugi\"\nclient_secret = \"s3cret\"\nscopes = [\"profile\", \"snils\"]\n",
        )
        .unwrap();
        let s =
            Settings::load(&Sources { file: Some(file.clone()), ..Sources::default() }).unwrap();
        assert_eq!(s.banks.len(), 1);
        assert_eq!(
            (s.banks[0].id.as_str(), s.banks[0].issuer.as_str()),
            ("sber", "https://id.bank.example")
        );
        assert_eq!(s.banks[0].scopes, ["profile", "snils"]);
        assert!(!format!("{s:?}").contains("s3cret"), "the secret stays out of Debug");
        assert_eq!(s.demo_bank_listen.map(|a| a.port()), Some(8082));
        std::fs::remove_dir_all(dir).unwrap();

        let json = r#"[{"id":"demo","name":"Демо","issuer":"http://127.0.0.1:9","client_id":"c","client_secret":"x"}]"#;
        let s = load(&[("banks", json), ("demo_bank_listen", "")]).unwrap();
        assert_eq!(
            (s.banks[0].scopes.clone(), s.demo_bank_listen),
            (vec!["profile".to_owned()], None)
        );
        assert_eq!(load(&[("banks", "[{}]")]).unwrap_err().key, "banks");
        let bad_id = json.replace("\"demo\"", "\"Demo Bank\"");
        assert_eq!(load(&[("banks", bad_id.as_str())]).unwrap_err().key, "banks");
        assert_eq!(load(&[("demo_bank_listen", "x")]).unwrap_err().key, "demo_bank_listen");
        assert_eq!(load(&[("eis_listen", "x")]).unwrap_err().key, "eis_listen");
        assert_eq!(load(&[("eis_listen", "")]).unwrap().eis_listen, None);
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("uslugi-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("uslugi.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_port = 5\n").unwrap();
        let e = Settings::load(&Sources { file: Some(file.clone()), ..Sources::default() })
            .unwrap_err();
        assert_eq!(e.key, "listen_port", "{e}");
        std::fs::write(&file, "listen = \"127.0.0.1:7\"\n").unwrap();
        let s = Settings::load(&Sources { file: Some(file), ..Sources::default() }).unwrap();
        assert_eq!(s.listen.port(), 7);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
