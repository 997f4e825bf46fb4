//! «Центры обслуживания»: the public directory of service centres (filter by city and a
//! text search), as a page at `/centers` and as JSON at `/api/v1/centers`.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use identity::centers::{self, Center, CenterFilter, WEEKDAYS};
use serde::Serialize;

use crate::session::{Chrome, Viewer};
use crate::{AppError, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/centers", get(page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new().route("/centers", get(api))
}

/// Free text longer than this is cut (the filter is a substring search).
const Q_MAX: usize = 100;

fn clean(mut filter: CenterFilter) -> CenterFilter {
    filter.q = filter.q.chars().take(Q_MAX).collect();
    filter.city = filter.city.chars().take(Q_MAX).collect();
    filter
}

struct CenterCard {
    c: Center,
    kind: &'static str,
    /// The phone for a `tel:` link: `+74955550110`.
    tel: String,
    /// (weekday, hours or «выходной»)
    hours: Vec<(&'static str, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "centers.html")]
struct CentersPage {
    chrome: Chrome,
    cities: Vec<String>,
    city: String,
    q: String,
    found: Vec<CenterCard>,
}

fn week(c: &Center) -> Vec<(&'static str, String)> {
    WEEKDAYS
        .iter()
        .zip(&c.hours)
        .map(|(day, h)| {
            (*day, if h.is_empty() { "выходной".to_owned() } else { h.replace('-', "–") })
        })
        .collect()
}

async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(filter): Query<CenterFilter>,
) -> Result<CentersPage, AppError> {
    let filter = clean(filter);
    let found = centers::find(&state.db, &filter)
        .await?
        .into_iter()
        .map(|c| CenterCard {
            kind: c.kind.label(),
            tel: c.phone.chars().filter(|ch| *ch == '+' || ch.is_ascii_digit()).collect(),
            hours: week(&c),
            c,
        })
        .collect();
    Ok(CentersPage {
        chrome: viewer.chrome("centers"),
        cities: centers::cities(&state.db).await?,
        city: filter.city,
        q: filter.q,
        found,
    })
}

#[derive(Debug, Serialize)]
struct CenterJson {
    #[serde(flatten)]
    center: Center,
    kind_label: &'static str,
}

/// `GET /api/v1/centers?city=…&q=…`
async fn api(
    State(state): State<AppState>,
    Query(filter): Query<CenterFilter>,
) -> Result<Json<Vec<CenterJson>>, AppError> {
    let found = centers::find(&state.db, &clean(filter)).await?;
    Ok(Json(
        found.into_iter().map(|c| CenterJson { kind_label: c.kind.label(), center: c }).collect(),
    ))
}
