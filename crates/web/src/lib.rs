//! HTTP for Uslugi: the portal's pages, the JSON API, static assets and the operational
//! endpoints. Only this crate knows HTTP; it turns requests into calls on the feature
//! crates and their results into askama pages or JSON.

mod account;
mod account_api;
mod activate;
mod api;
pub(crate) mod application_pages;
mod applications;
mod assets;
mod attachments;
mod back_office;
mod back_office_api;
pub mod bank;
mod catalog;
mod centers;
mod clients_admin;
mod confirm;
mod dev;
mod error;
mod layers;
mod letter;
mod linked;
mod oidc_routes;
mod ops;
mod pages;
mod rights;
mod security;
pub mod session;
mod signature;
pub mod staff;
pub mod validate;
mod verify;

use std::sync::Arc;

use axum::Router;
use domain::{Clock, WorkingCalendar};
use store::Db;

pub use applications::applicant;
pub use error::{AppError, ErrorInfo};
pub use ops::metrics_handle;

/// What every handler may need. Cheap to clone: everything inside is shared.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub calendar: Arc<WorkingCalendar>,
    pub vault: Arc<store::vault::Vault>,
    pub outbox: notify::Outbox,
    /// Serve `/dev/outbox` (development only).
    pub dev_outbox: bool,
    pub identity: identity::Identity,
    /// Mark cookies `Secure` with the `__Host-` prefix (the portal is served over TLS).
    pub secure_cookies: bool,
    /// Take the client address from the last `X-Forwarded-For` entry (behind one proxy).
    pub trust_proxy: bool,
    /// Trusted root CAs of qualified signatures; `None` turns the signature route off.
    pub qes_trust: Option<Arc<qes::TrustStore>>,
    /// The trusted banks of the bank confirmation route.
    pub banks: identity::bank::Banks,
    /// The OpenID Connect provider («Войти через Госуслуги»).
    pub oidc: oidc::Provider,
    /// Clients registered on the admin page may use `http://` redirect URIs (development,
    /// as `uslugi clients add` allows there).
    pub oidc_allow_http: bool,
    /// The service catalog, read at start.
    pub catalog: Arc<services::Catalog>,
    /// Applications for services.
    pub applications: services::applications::Applications,
}

/// The whole HTTP application: routes and the layers around them.
pub fn router(state: AppState) -> Router {
    // Install the metrics recorder before the first request is counted.
    metrics_handle();
    let routes = Router::new()
        .merge(pages::routes())
        .merge(account::routes())
        .merge(confirm::routes())
        .merge(security::routes())
        .merge(rights::routes())
        .merge(signature::routes())
        .merge(letter::routes())
        .merge(centers::routes())
        .merge(staff::routes())
        .merge(clients_admin::routes())
        .merge(activate::routes())
        .nest("/api/v1", centers::api_routes())
        .nest("/api/v1", activate::api_routes())
        .nest("/api/v1", account_api::routes())
        .nest("/api/v1", api::routes())
        .nest("/api/v1", security::api_routes())
        .nest("/api/v1", rights::api_routes())
        .merge(bank::routes())
        .nest("/api/v1", bank::api_routes())
        .merge(oidc_routes::routes())
        .merge(linked::routes())
        .merge(catalog::routes())
        .merge(application_pages::routes())
        .merge(back_office::routes())
        .merge(verify::routes())
        .merge(attachments::routes())
        .nest("/api/v1", verify::api_routes())
        .nest("/api/v1", catalog::api_routes())
        .nest("/api/v1", applications::api_routes())
        .nest("/api/v1", back_office_api::api_routes())
        .nest("/api/v1", linked::api_routes())
        .merge(ops::routes())
        .merge(assets::routes())
        .merge(dev::routes())
        .layer(axum::extract::DefaultBodyLimit::max(layers::BODY_LIMIT))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(layers::BODY_LIMIT));
    let uploads = attachments::upload_routes(state.applications.upload_limit_mb());
    let routes = routes.merge(uploads).fallback(error::not_found).with_state(state);
    layers::wrap(routes)
}
