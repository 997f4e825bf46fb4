//! Operational endpoints: liveness, readiness, Prometheus metrics.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

static METRICS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process-wide Prometheus recorder (the `metrics` facade has one global recorder),
/// installed on first use. `None` if another recorder was installed first.
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    METRICS
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}

/// The process can serve: the database answers.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, AppError> {
    state.db.ping().await.map_err(|e| AppError::Unavailable(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], r#"{"status":"ready"}"#))
}

async fn metrics() -> impl IntoResponse {
    match metrics_handle() {
        Some(handle) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render())
                .into_response()
        }
        None => AppError::Unavailable("no metrics recorder".into()).into_response(),
    }
}
