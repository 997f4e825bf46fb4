//! The JSON API, `/api/v1`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::validate::{self, Context, Kind};

pub fn routes() -> Router<AppState> {
    Router::new().route("/validate/{kind}", get(validate_field))
}

#[derive(Debug, Deserialize)]
struct ValidateQuery {
    #[serde(default)]
    value: String,
    bik: Option<String>,
}

/// The answer of `GET /api/v1/validate/{kind}`.
#[derive(Debug, Serialize)]
pub struct Validation {
    pub valid: bool,
    pub normalized: Option<String>,
    pub error: Option<Problem>,
}

#[derive(Debug, Serialize)]
pub struct Problem {
    pub code: &'static str,
    pub message: String,
}

/// Checks one value; always 200 for a known kind, the verdict is in the body.
async fn validate_field(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(q): Query<ValidateQuery>,
) -> Response {
    let Some(kind) = Kind::from_slug(&kind) else {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.slug()).collect();
        let body = Validation {
            valid: false,
            normalized: None,
            error: Some(Problem {
                code: "unknown_kind",
                message: format!("неизвестный вид проверки; доступны: {}", known.join(", ")),
            }),
        };
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let today = domain::moscow_date(state.clock.now());
    let cx = Context { bik: q.bik.as_deref(), today };
    let body = match validate::check(kind, &q.value, cx) {
        Ok(normalized) => Validation { valid: true, normalized: Some(normalized), error: None },
        Err(e) => Validation {
            valid: false,
            normalized: None,
            error: Some(Problem { code: e.code(), message: e.to_string() }),
        },
    };
    Json(body).into_response()
}
