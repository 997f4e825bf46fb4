//! The HTTP adapter: a client of a registry gateway (the deployment's bridge to СМЭВ).
//!
//! The gateway protocol is small JSON over HTTPS:
//!
//! * `POST {base}/v1/persons/check` with a [`PersonQuery`] → `200` [`PersonCheck`];
//! * `GET {base}/v1/organizations/{inn-or-ogrn}` → `200` [`Organization`] or `404`.
//!
//! Requests carry `Authorization: Bearer {token}` when a token is configured and a client
//! certificate when one is. Each call has a time-out; transient failures (connection
//! errors, time-outs, 5xx, 429) are retried with exponential back-off; after
//! `breaker_threshold` failed calls in a row the circuit opens and calls fail at once
//! with [`RegistryError::Unavailable`] until `breaker_cooldown` has passed, when one
//! call is let through to probe the gateway. `uslugi registry serve` speaks the same
//! protocol over the embedded registry.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::RegistryError;
use crate::model::{Organization, PersonCheck, PersonQuery};

/// How to reach the gateway. `Debug` leaves the token and the key out.
#[derive(Clone)]
pub struct HttpSettings {
    /// Base URL, e.g. `https://smev-gw.example/registry`.
    pub url: String,
    pub token: Option<String>,
    /// PEM with the client certificate and its private key.
    pub client_identity_pem: Option<Vec<u8>>,
    /// PEM of a CA to trust for the gateway in addition to the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    pub timeout: Duration,
    /// Attempts per call (1 = no retries).
    pub attempts: u32,
    /// Delay before the first retry; doubled for each next one.
    pub backoff: Duration,
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("client_identity_pem", &self.client_identity_pem.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl HttpSettings {
    /// Defaults for `url`: 5 s time-out, 3 attempts from 200 ms, breaker after 5
    /// failures for 30 s.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            token: None,
            client_identity_pem: None,
            ca_pem: None,
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(200),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// Consecutive failures and, while open, when the circuit may let a probe through.
#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// A client of a registry gateway.
#[derive(Debug, Clone)]
pub struct HttpRegistry {
    client: reqwest::Client,
    settings: Arc<HttpSettings>,
    breaker: Arc<Mutex<Breaker>>,
}

/// One failed attempt: whether another attempt may help.
enum Failure {
    Transient(String),
    Permanent(RegistryError),
}

impl HttpRegistry {
    pub fn new(settings: HttpSettings) -> Result<Self, String> {
        // The process-wide TLS provider (ring); a second installation is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder().timeout(settings.timeout);
        if let Some(pem) = &settings.client_identity_pem {
            let identity =
                reqwest::Identity::from_pem(pem).map_err(|e| format!("client certificate: {e}"))?;
            builder = builder.identity(identity);
        }
        if let Some(pem) = &settings.ca_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| format!("gateway CA: {e}"))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { client, settings: Arc::new(settings), breaker: Arc::default() })
    }

    /// True while the circuit is open (calls fail fast).
    pub fn circuit_open(&self) -> bool {
        self.open_until().is_some_and(|until| Instant::now() < until)
    }

    fn open_until(&self) -> Option<Instant> {
        self.breaker.lock().map(|b| b.open_until).unwrap_or(None)
    }

    fn record(&self, ok: bool) {
        let Ok(mut b) = self.breaker.lock() else { return };
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if b.failures >= self.settings.breaker_threshold {
                b.open_until = Some(Instant::now() + self.settings.breaker_cooldown);
            }
        }
    }

    /// Sends the request built by `make` with retries, through the breaker.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        make: impl Fn() -> reqwest::RequestBuilder,
        not_found_is_none: bool,
    ) -> Result<Option<T>, RegistryError> {
        if self.circuit_open() {
            return Err(RegistryError::Unavailable("circuit open after repeated failures".into()));
        }
        let mut delay = self.settings.backoff;
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts.max(1) {
            match self.attempt::<T>(&make, not_found_is_none).await {
                Ok(value) => {
                    self.record(true);
                    return Ok(value);
                }
                Err(Failure::Permanent(e)) => {
                    self.record(true);
                    return Err(e);
                }
                Err(Failure::Transient(e)) => {
                    tracing::warn!(attempt, error = %e, "registry gateway call failed");
                    last = e;
                }
            }
            if attempt < self.settings.attempts {
                // Back-off between retries of a live request; tests set it to zero.
                #[allow(clippy::disallowed_methods)]
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        self.record(false);
        Err(RegistryError::Unavailable(last))
    }

    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        make: &impl Fn() -> reqwest::RequestBuilder,
        not_found_is_none: bool,
    ) -> Result<Option<T>, Failure> {
        let mut request = make();
        if let Some(token) = &self.settings.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| Failure::Transient(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND && not_found_is_none {
            return Ok(None);
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Transient(format!("gateway answered {status}")));
        }
        if !status.is_success() {
            return Err(Failure::Permanent(RegistryError::Corrupt(format!(
                "gateway refused the request: {status}"
            ))));
        }
        let body = response.bytes().await.map_err(|e| Failure::Transient(e.to_string()))?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| Failure::Permanent(RegistryError::Corrupt(format!("gateway answer: {e}"))))
    }

    pub async fn check_person(&self, q: &PersonQuery) -> Result<PersonCheck, RegistryError> {
        let url = format!("{}/v1/persons/check", self.settings.url);
        self.call(|| self.client.post(&url).json(q), false)
            .await?
            .ok_or_else(|| RegistryError::Corrupt("gateway answered 404 to a check".into()))
    }

    pub async fn organization(
        &self,
        inn_or_ogrn: &str,
    ) -> Result<Option<Organization>, RegistryError> {
        let key: String = inn_or_ogrn.trim().chars().filter(char::is_ascii_digit).collect();
        let url = format!("{}/v1/organizations/{key}", self.settings.url);
        self.call(|| self.client.get(&url), true).await
    }
}
