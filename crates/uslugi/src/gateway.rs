//! `uslugi registry serve`: the registry gateway protocol (see `registry::http`) over the
//! embedded registry. It lets one Uslugi node answer another's document checks, and it
//! is the real peer the HTTP adapter is tested against.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use registry::{EmbeddedRegistry, PersonQuery};

#[derive(Debug, Clone)]
struct Gateway {
    registry: EmbeddedRegistry,
    token: Option<String>,
}

/// The gateway's routes; with `token`, requests must carry `Authorization: Bearer token`.
pub fn router(registry: EmbeddedRegistry, token: Option<String>) -> Router {
    Router::new()
        .route("/v1/persons/check", post(check_person))
        .route("/v1/organizations/{key}", get(organization))
        .with_state(Gateway { registry, token })
}

fn authorized(gateway: &Gateway, headers: &HeaderMap) -> bool {
    let Some(token) = &gateway.token else { return true };
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| given == token)
}

fn failure(e: &registry::RegistryError) -> Response {
    tracing::warn!(error = %e, "registry gateway request failed");
    (StatusCode::SERVICE_UNAVAILABLE, "registry unavailable").into_response()
}

async fn check_person(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Json(query): Json<PersonQuery>,
) -> Response {
    if !authorized(&gateway, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match gateway.registry.check_person(&query).await {
        Ok(check) => Json(check).into_response(),
        Err(e) => failure(&e),
    }
}

async fn organization(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    Path(key): Path<String>,
) -> Response {
    if !authorized(&gateway, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match gateway.registry.organization(&key).await {
        Ok(Some(org)) => Json(org).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failure(&e),
    }
}
