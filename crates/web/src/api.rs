//! The JSON API, `/api/v1`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use chrono::NaiveDate;
use domain::CalendarError;

use crate::validate::{self, Context, Kind};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/validate/{kind}", get(validate_field))
        .route("/calendar/{year}", get(calendar_year))
        .route("/deadline", get(deadline))
        .route("/openapi.json", get(openapi))
}

/// The OpenAPI 3.1 document of `/api/v1`. Written by hand (the handlers stay free of
/// annotations); a test calls every operation it lists, so a path that stops existing
/// fails the build.
async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json"))
        .into_response()
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

/// One year of the production calendar.
#[derive(Debug, Serialize)]
pub struct CalendarYear {
    pub year: i32,
    pub working_days: u32,
    pub provisional: bool,
    pub source: String,
    /// Monday–Friday dates that are days off.
    pub days_off: Vec<NaiveDate>,
    /// Saturdays and Sundays that are working days.
    pub working_weekends: Vec<NaiveDate>,
}

impl From<CalendarError> for AppError {
    fn from(e: CalendarError) -> Self {
        match e {
            CalendarError::NotCovered(_) => {
                Self::Missing { code: "not_covered", message: e.to_string() }
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

/// `GET /api/v1/calendar/{year}`.
async fn calendar_year(
    State(state): State<AppState>,
    Path(year): Path<i32>,
) -> Result<Json<CalendarYear>, AppError> {
    let y = state.calendar.year(year)?;
    Ok(Json(CalendarYear {
        year,
        working_days: y.working_days(),
        provisional: y.is_provisional(),
        source: y.source().to_owned(),
        days_off: y.weekdays_off(),
        working_weekends: y.working_weekends(),
    }))
}

#[derive(Debug, Deserialize)]
struct DeadlineQuery {
    from: Option<String>,
    working_days: Option<String>,
}

/// The answer of `GET /api/v1/deadline`.
#[derive(Debug, Serialize)]
pub struct Deadline {
    pub from: NaiveDate,
    pub working_days: u32,
    /// The `working_days`-th working day after `from`.
    pub date: NaiveDate,
}

/// Longest span a deadline may have, in working days (about four years).
const MAX_WORKING_DAYS: u32 = 1000;

/// `GET /api/v1/deadline?from=YYYY-MM-DD&working_days=N`: the date N working days after
/// `from` (by default today in Moscow).
async fn deadline(
    State(state): State<AppState>,
    Query(q): Query<DeadlineQuery>,
) -> Result<Json<Deadline>, AppError> {
    let from = match q.from.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => domain::moscow_date(state.clock.now()),
        Some(s) => s.parse::<NaiveDate>().map_err(|_| AppError::BadRequest {
            code: "from",
            message: "from: ожидается дата в формате ГГГГ-ММ-ДД".into(),
        })?,
    };
    let working_days = q
        .working_days
        .as_deref()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|n| *n <= MAX_WORKING_DAYS)
        .ok_or_else(|| AppError::BadRequest {
            code: "working_days",
            message: format!(
                "working_days: ожидается число рабочих дней от 0 до {MAX_WORKING_DAYS}"
            ),
        })?;
    let date = state.calendar.add_working_days(from, working_days)?;
    Ok(Json(Deadline { from, working_days, date }))
}
