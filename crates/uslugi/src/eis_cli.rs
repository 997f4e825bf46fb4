//! The procurement registry app (ЕИС), the provider's first relying party: started next to
//! the portal in the dev setup (`eis_listen`), or alone with `uslugi eis serve`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use domain::Clock;
use tokio::net::TcpListener;

use crate::clock::SystemClock;
use crate::settings::{Settings, SettingsError};

/// The app's client id at the provider.
pub const CLIENT_ID: &str = "eis";

/// How `uslugi eis serve` runs the app.
#[derive(Debug, Clone)]
pub struct EisServe {
    pub listen: SocketAddr,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The app's public URL [default: `http://` + the listening address].
    pub public_url: Option<String>,
}

/// In the dev setup with `eis_listen`: binds the app's port, registers (or, when it
/// exists, gives a fresh secret to) the client `eis` and returns the app to serve. Any
/// trouble costs only the app, never the portal.
pub async fn dev_app(
    settings: &Settings,
    provider: &oidc::Provider,
    clock: Arc<dyn Clock>,
) -> Option<(TcpListener, axum::Router, String)> {
    let listen = settings.eis_listen.filter(|_| settings.dev_outbox())?;
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(%listen, error = %e, "ЕИС not started");
            return None;
        }
    };
    let public_url = format!("http://{}", listener.local_addr().ok()?);
    let redirect_uri = format!("{public_url}{}", eis::CALLBACK_PATH);
    let now = clock.now();
    let secret = match register(provider, &redirect_uri, now).await {
        Ok(secret) => secret,
        Err(e) => {
            tracing::warn!(error = %e, "ЕИС not started: its client could not be registered");
            return None;
        }
    };
    let config = eis::Config::new(&public_url, &provider.settings().issuer, secret, clock);
    tracing::info!(url = %public_url, "ЕИС started");
    Some((listener, eis::router(config), public_url))
}

/// The secret of the client `eis`: a new registration, or a fresh secret for an existing
/// one (the provider keeps only a hash of the old).
async fn register(
    provider: &oidc::Provider,
    redirect_uri: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    if let Some(existing) = provider.client(CLIENT_ID).await? {
        if !existing.redirect_uris.iter().any(|u| u == redirect_uri) {
            anyhow::bail!(
                "the client `eis` is registered without the redirect URI {redirect_uri}; \
                 remove it (`uslugi clients remove eis`) to have it registered again"
            );
        }
        return Ok(provider.rotate_client_secret(CLIENT_ID, now).await?);
    }
    let new = oidc::clients::NewClient {
        id: CLIENT_ID.into(),
        name: "ЕИС — Единая информационная система в сфере закупок".into(),
        kind: oidc::clients::ClientKind::Confidential,
        redirect_uris: vec![redirect_uri.to_owned()],
        post_logout_redirect_uris: Vec::new(),
        scopes: eis::SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        min_level: "simplified".into(),
        allow_http: true,
        jwks: None,
        id_token_alg: oidc::jws::Alg::Es256,
    };
    let (_, secret) = provider.add_client(&new, now).await?;
    secret.context("a confidential client has a secret")
}

/// `uslugi eis serve`: runs the app alone until `shutdown` completes.
pub async fn serve(
    options: EisServe,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(options.listen).await.map_err(|e| SettingsError {
        key: "listen".into(),
        message: format!("не удалось занять {} / cannot listen: {e}", options.listen),
    })?;
    let public_url = options.public_url.unwrap_or_else(|| format!("http://{}", options.listen));
    let mut config = eis::Config::new(
        &public_url,
        &options.issuer,
        options.client_secret,
        Arc::new(SystemClock),
    );
    config.client_id = options.client_id;
    println!(
        "ЕИС работает на {}/ (остановка: Ctrl+C); адрес возврата клиента: {}",
        config.public_url,
        config.redirect_uri()
    );
    eis::serve(config, listener, shutdown).await.context("ЕИС")
}
