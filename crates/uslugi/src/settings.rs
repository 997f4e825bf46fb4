//! Settings, loaded in layers: built-in defaults → `uslugi.toml` → `USLUGI_*` environment
//! variables → command-line flags. A bad value stops the program with one line that
//! names the key (exit code 2).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Every key, as written in `uslugi.toml`; the environment variable is `USLUGI_` + the key
/// in upper case, the flag `--` + the key with dashes.
pub const KEYS: [&str; 6] =
    ["listen", "data_dir", "database_url", "calendar_dir", "log", "log_format"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    calendar_dir: Option<PathBuf>,
    log: String,
    log_format: String,
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
    /// A tracing filter such as `info` or `uslugi=debug,tower_http=debug`.
    pub log: String,
    pub log_format: LogFormat,
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
        Ok(Self {
            listen,
            data_dir: raw.data_dir,
            database_url,
            calendar_dir,
            log: raw.log,
            log_format,
        })
    }
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
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(load(&[("listen", "nowhere")]).unwrap_err().key, "listen");
        assert_eq!(load(&[("database_url", "mysql://x")]).unwrap_err().key, "database_url");
        assert_eq!(load(&[("log_format", "xml")]).unwrap_err().key, "log_format");
        let e = load(&[("listen", "nowhere")]).unwrap_err().to_string();
        assert!(e.starts_with("ошибка конфигурации / configuration error: listen:"), "{e}");
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
