//! `uslugi bank demo`: the demo bank on its own, for a portal running elsewhere (the dev
//! `serve` starts one by itself).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

use crate::clock::SystemClock;
use crate::settings::{Settings, SettingsError};

/// How the demo bank is run from the command line.
#[derive(Debug, Clone)]
pub struct DemoBank {
    pub listen: SocketAddr,
    pub client_id: String,
    /// Generated (and printed) when not given.
    pub client_secret: Option<String>,
    /// The portal's callback; by default the one of the portal these settings describe.
    pub redirect_uri: Option<String>,
}

/// Runs the demo bank until `shutdown` completes.
pub async fn demo(
    settings: &Settings,
    options: DemoBank,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(options.listen).await.map_err(|e| SettingsError {
            key: "listen".into(),
            message: format!("не удалось занять {} / cannot listen: {e}", options.listen),
        })?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let redirect_uri = options.redirect_uri.unwrap_or_else(|| {
        format!("{}{}", settings.base_url(settings.listen), web::bank::CALLBACK_PATH)
    });
    let client_secret = options.client_secret.unwrap_or_else(demobank::new_secret);
    println!("Демо-банк работает на {issuer}/ (остановка: Ctrl+C)");
    println!("Адрес возврата клиента: {redirect_uri}");
    println!("Чтобы портал доверял ему, добавьте в uslugi.toml:");
    println!(
        "[[banks]]\nid = \"demo\"\nname = \"Демо-банк\"\nissuer = \"{issuer}\"\nclient_id = \"{}\"\n\
         client_secret = \"{client_secret}\"\nscopes = [\"profile\", \"snils\", \"passport\"]",
        options.client_id
    );
    let router = demobank::router(demobank::Config {
        issuer,
        client_id: options.client_id,
        client_secret,
        redirect_uri,
        clock: Arc::new(SystemClock),
    });
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.context("demo bank")
}
