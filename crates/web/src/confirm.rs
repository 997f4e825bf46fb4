//! «Подтверждение личности»: the hub that lists the four routes to a confirmed account.
//! Each route lives in its own module (`letter`, `signature`, `bank`, `centers`); this
//! page tells the person which of them they can take now.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::AppState;
use crate::error::AppError;
use crate::session::{Chrome, SignedIn};

pub fn routes() -> Router<AppState> {
    Router::new().route("/cabinet/confirm", get(hub))
}

#[derive(Template, WebTemplate)]
#[template(path = "confirm.html")]
struct HubPage {
    chrome: Chrome,
    /// simplified | standard | confirmed
    level: String,
    level_label: &'static str,
}

async fn hub(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
) -> Result<HubPage, AppError> {
    let account = state.identity.account(&session.account_id).await?;
    Ok(HubPage {
        chrome: Chrome { nav: "cabinet", signed_in: true },
        level_label: crate::account::level_label(&account.level),
        level: account.level,
    })
}
