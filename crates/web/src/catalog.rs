//! The service catalog (seed 001 «каталог услуг», seed 002 «Получение государственных
//! услуг»): categories, popular services, search, and each service's page saying who may
//! apply, what is needed, how long it takes and what it costs. Pages and the JSON API.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use services::{Catalog, FieldKind, Service, words};

use crate::AppState;
use crate::error::AppError;
use crate::session::{Chrome, Viewer};

/// At most this many services in one answer of search.
const MAX_RESULTS: usize = 50;
/// A query longer than this is cut (nobody types more; the index need not see it).
const MAX_QUERY: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new().route("/services", get(catalog_page)).route("/services/{id}", get(service_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/services", get(api_search))
        .route("/services/{id}", get(api_service))
        .route("/service-categories", get(api_categories))
}

#[derive(Debug, Default, Deserialize)]
struct CatalogQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    limit: Option<usize>,
}

impl CatalogQuery {
    fn query(&self) -> &str {
        let q = self.q.trim();
        match q.char_indices().nth(MAX_QUERY) {
            Some((cut, _)) => &q[..cut],
            None => q,
        }
    }
}

/// A service as a line of a list.
#[derive(Debug, Serialize)]
struct Card {
    id: String,
    title: String,
    summary: String,
    agency: String,
    category: String,
    /// «3 рабочих дня».
    term: String,
    /// «Бесплатно» or «350 ₽».
    cost: String,
}

fn card(catalog: &Catalog, s: &Service) -> Card {
    Card {
        id: s.id.clone(),
        title: s.title.clone(),
        summary: s.summary.clone(),
        agency: catalog.agency(&s.agency).map(|a| a.name.clone()).unwrap_or_default(),
        category: s.category.clone(),
        term: words::working_days(s.deadline.working_days),
        cost: cost(s),
    }
}

fn cost(s: &Service) -> String {
    s.fee.as_ref().map_or_else(|| "Бесплатно".to_owned(), |f| words::rubles(f.kopecks))
}

/// What a catalog request finds: a search, a category, or the front of the catalog.
struct Listing {
    cards: Vec<Card>,
    partial: bool,
}

fn listing(catalog: &Catalog, q: &CatalogQuery) -> Result<Listing, AppError> {
    let limit = q.limit.unwrap_or(MAX_RESULTS).clamp(1, MAX_RESULTS);
    let category = q.category.trim();
    if !category.is_empty() && catalog.category(category).is_none() {
        return Err(AppError::Missing {
            code: "unknown_category",
            message: format!("Категории «{category}» нет в каталоге"),
        });
    }
    let in_category = |s: &&Service| category.is_empty() || s.category == category;
    if q.query().is_empty() {
        let cards = if category.is_empty() {
            catalog.services().iter().take(limit).map(|s| card(catalog, s)).collect()
        } else {
            catalog.in_category(category).take(limit).map(|s| card(catalog, s)).collect()
        };
        return Ok(Listing { cards, partial: false });
    }
    let (found, partial) = catalog.search(q.query(), MAX_RESULTS);
    let cards =
        found.into_iter().filter(in_category).take(limit).map(|s| card(catalog, s)).collect();
    Ok(Listing { cards, partial })
}

struct CategoryLine {
    id: String,
    title: String,
    description: String,
    count: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    query: String,
    category: Option<(String, String)>,
    categories: Vec<CategoryLine>,
    popular: Vec<Card>,
    /// A search or a category was asked for: these are its services.
    results: Option<Vec<Card>>,
    partial: bool,
}

fn category_lines(catalog: &Catalog) -> Vec<CategoryLine> {
    catalog
        .categories()
        .iter()
        .map(|c| CategoryLine {
            id: c.id.clone(),
            title: c.title.clone(),
            description: c.description.clone(),
            count: catalog.in_category(&c.id).count(),
        })
        .collect()
}

async fn catalog_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<CatalogQuery>,
) -> Result<CatalogPage, AppError> {
    let catalog = &state.catalog;
    let found = listing(catalog, &q)?;
    let asked = !q.query().is_empty() || !q.category.trim().is_empty();
    Ok(CatalogPage {
        chrome: viewer.chrome("services"),
        query: q.query().to_owned(),
        category: catalog.category(q.category.trim()).map(|c| (c.id.clone(), c.title.clone())),
        categories: category_lines(catalog),
        popular: catalog.popular().into_iter().map(|s| card(catalog, s)).collect(),
        results: asked.then_some(found.cards),
        partial: found.partial,
    })
}

/// One line of «Что понадобится».
struct Need {
    label: String,
    note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "service.html")]
struct ServicePage {
    chrome: Chrome,
    s: Service,
    agency_name: String,
    agency_full_name: String,
    category_title: String,
    applicants: String,
    level: &'static str,
    term: String,
    cost: String,
    fee_purpose: Option<String>,
    data: Vec<Need>,
    documents: Vec<Need>,
    steps: Vec<String>,
    /// Why «Получить услугу» was refused (the account's level is too low).
    refused: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ServiceQuery {
    #[serde(default)]
    refused: Option<String>,
}

fn need_of_field(f: &services::Field) -> Need {
    let mut notes = Vec::new();
    if let FieldKind::Identifier { kind } = &f.kind {
        notes.push(kind.title().to_owned());
    }
    if let FieldKind::Group { .. } = &f.kind {
        notes.push("можно указать несколько".to_owned());
    }
    if f.prefill.is_some() {
        notes.push("заполнится из профиля".to_owned());
    }
    if f.when.is_some() {
        notes.push("если применимо".to_owned());
    } else if !f.required {
        notes.push("по желанию".to_owned());
    }
    Need { label: f.label.clone(), note: notes.join(", ") }
}

async fn service_page(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ServiceQuery>,
) -> Result<ServicePage, AppError> {
    let catalog = &state.catalog;
    let s = catalog.service(&id).ok_or(AppError::NotFound)?.clone();
    let agency = catalog.agency(&s.agency);
    let documents = s
        .attachments
        .iter()
        .map(|a| {
            let formats: Vec<&str> = a.formats.iter().map(|f| f.title()).collect();
            let size = a.max_size_mb.map_or_else(String::new, |mb| format!(", до {mb} МБ"));
            let optional = if a.required { "" } else { ", по желанию" };
            Need { label: a.label.clone(), note: format!("{}{size}{optional}", formats.join(", ")) }
        })
        .collect();
    let mut steps = vec!["Заполните заявление: данные из профиля подставятся сами".to_owned()];
    if !s.attachments.is_empty() {
        steps.push("Приложите документы".to_owned());
    }
    if let Some(fee) = &s.fee {
        steps.push(format!(
            "Оплатите {} — {}",
            words::rubles(fee.kopecks),
            words::lower_first(&fee.purpose)
        ));
    }
    steps.push(format!(
        "Дождитесь решения: {} — срок {}",
        agency.map_or("ведомство", |a| a.name.as_str()),
        words::working_days(s.deadline.working_days)
    ));
    steps.push(format!(
        "Получите результат в личном кабинете: {}",
        words::lower_first(&s.result.title)
    ));
    Ok(ServicePage {
        chrome: viewer.chrome("services"),
        agency_name: agency.map(|a| a.name.clone()).unwrap_or_default(),
        agency_full_name: agency.map(|a| a.full_name.clone()).unwrap_or_default(),
        category_title: catalog.category(&s.category).map(|c| c.title.clone()).unwrap_or_default(),
        applicants: words::upper_first(
            &s.applicants.iter().map(|a| a.title()).collect::<Vec<_>>().join(", "),
        ),
        level: s.min_level.title(),
        term: words::working_days(s.deadline.working_days),
        cost: cost(&s),
        fee_purpose: s.fee.as_ref().map(|f| f.purpose.clone()),
        data: s.form.iter().map(need_of_field).collect(),
        documents,
        steps,
        refused: q.refused.filter(|r| r == "level").map(|_| {
            format!(
                "Для этой услуги нужна {} учётная запись. Добавьте паспорт и СНИЛС в разделе \
                 «Документы» и подтвердите личность — затем вернитесь к услуге.",
                s.min_level.title()
            )
        }),
        s,
    })
}

async fn api_search(
    State(state): State<AppState>,
    Query(q): Query<CatalogQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let found = listing(&state.catalog, &q)?;
    Ok(Json(serde_json::json!({ "services": found.cards, "partial": found.partial })))
}

async fn api_service(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let catalog = &state.catalog;
    let s = catalog.service(&id).ok_or_else(|| AppError::Missing {
        code: "unknown_service",
        message: format!("Услуги «{id}» нет в каталоге"),
    })?;
    let workflow = catalog.workflow(&s.workflow);
    Ok(Json(serde_json::json!({
        "service": s,
        "agency": catalog.agency(&s.agency),
        "category": catalog.category(&s.category),
        "term": words::working_days(s.deadline.working_days),
        "cost": cost(s),
        "states": workflow.map(|w| &w.states),
    })))
}

async fn api_categories(State(state): State<AppState>) -> Json<serde_json::Value> {
    let lines = category_lines(&state.catalog);
    Json(serde_json::json!(
        lines
            .iter()
            .map(|c| serde_json::json!({
                "id": c.id, "title": c.title, "description": c.description, "count": c.count,
            }))
            .collect::<Vec<_>>()
    ))
}
