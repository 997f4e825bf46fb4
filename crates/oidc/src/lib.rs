//! The OpenID Connect provider of Uslugi («Войти через Госуслуги», issue 5).
//!
//! Written here: a provider is the product itself (no crate implements the server side
//! with our storage, levels and consent), while relying parties and the tests use the
//! `openidconnect` client library against it.
//!
//! - [`keys`]: signing keys — ES256, and RS256 for the clients that need it (made when
//!   first needed) — stored encrypted by the vault, rotated by command; a retired key stays
//!   in the JWKS until the tokens it signed have expired.
//! - [`jws`]: compact JWS with ES256 and RS256, the one path that signs and verifies every
//!   JWT (our tokens and clients' assertions).
//! - [`clients`]: the registry of relying parties (confidential with a hashed secret or a
//!   JWKS for `private_key_jwt`, or public with PKCE), their redirect URIs, allowed scopes,
//!   minimum account level and ID token algorithm; client authentication.
//! - [`assertion`]: `private_key_jwt` client assertions (RFC 7523), single-use.
//! - [`flow`]: the authorization code flow, tokens, refresh, revocation, introspection,
//!   PAR and logout. The HTTP endpoints are in the `web` crate.

pub mod assertion;
pub mod clients;
pub mod flow;
pub mod jws;
pub mod keys;

use std::sync::Arc;

use chrono::Duration;
use store::Db;
use store::vault::Vault;

/// What can go wrong. `Display` is Russian where a person or an operator reads it.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A field of a client registration is wrong: (field, what is wrong).
    #[error("{0}: {1}")]
    Field(&'static str, String),
    #[error("клиент «{0}» уже зарегистрирован")]
    ClientTaken(String),
    #[error("клиент «{0}» не найден")]
    ClientUnknown(String),
    #[error(
        "клиент «{0}» входит по ключу (private_key_jwt) и секрета не имеет; новые ключи: uslugi clients set-jwks"
    )]
    KeyClient(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<store::vault::VaultError> for OidcError {
    fn from(e: store::vault::VaultError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// The provider's settings.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The issuer: the portal's public address (`https://uslugi.example`), no trailing `/`.
    pub issuer: String,
    /// Lifetime of access tokens (JWT); also how long a retired key stays published.
    pub access_token_ttl: Duration,
    /// Lifetime of ID tokens.
    pub id_token_ttl: Duration,
    /// Lifetime of refresh tokens (each use rotates them).
    pub refresh_token_ttl: Duration,
}

impl ProviderSettings {
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            access_token_ttl: Duration::minutes(10),
            id_token_ttl: Duration::minutes(10),
            refresh_token_ttl: Duration::days(30),
        }
    }

    /// How long a retired key must stay in the JWKS: until every token it signed expired.
    pub fn key_overlap(&self) -> Duration {
        self.access_token_ttl.max(self.id_token_ttl) + Duration::minutes(5)
    }
}

/// The provider: cheap to clone.
#[derive(Debug, Clone)]
pub struct Provider {
    db: Db,
    vault: Arc<Vault>,
    settings: Arc<ProviderSettings>,
    keys: Arc<std::sync::RwLock<keys::KeyCache>>,
    rotations: Arc<
        std::sync::OnceLock<
            store::batch::GroupCommit<store::oidc::Rotation, Option<store::oidc::Rotated>>,
        >,
    >,
    verified: Arc<flow::VerifiedTokens>,
    client_cache: Arc<clients::ClientCache>,
}

impl Provider {
    pub fn new(db: Db, vault: Arc<Vault>, settings: ProviderSettings) -> Self {
        Self {
            db,
            vault,
            settings: Arc::new(settings),
            keys: Arc::default(),
            rotations: Arc::default(),
            verified: Arc::default(),
            client_cache: Arc::default(),
        }
    }

    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }
}
