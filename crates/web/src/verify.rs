//! `/verify` (public): anyone checks a result document by its number (the QR code links
//! here) or by uploading the PDF; the answer says whether it was issued and is unchanged,
//! and nothing about its holder. The applicant downloads their document from the
//! application's page.

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use services::applications::{Actor, Verified};

use crate::AppState;
use crate::account::msk;
use crate::error::AppError;
use crate::session::{Chrome, SignedIn, Viewer};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/verify", get(form).post(upload))
        .route("/verify/{number}", get(by_number))
        .route("/cabinet/applications/{id}/result.pdf", get(download))
        .route("/cabinet/applications/{id}/result.sig", get(download_signature))
        .route("/cabinet/applications/{id}/report.pdf", get(report))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/verify/{number}", get(api_number))
        .route("/verify", axum::routing::post(api_file))
        .route("/me/applications/{id}/result.pdf", get(download))
        .route("/me/applications/{id}/result.sig", get(download_signature))
        .route("/me/applications/{id}/report.pdf", get(report))
}

/// What the page shows of a verdict.
#[derive(Debug)]
struct Verdict {
    authentic: bool,
    /// What was checked: «№ …» or «файл …».
    what: String,
    document: Option<Verified>,
    issued: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "verify.html")]
struct VerifyPage {
    chrome: Chrome,
    number: String,
    verdict: Option<Verdict>,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct NumberQuery {
    #[serde(default)]
    number: String,
}

async fn form(
    viewer: Viewer,
    State(state): State<AppState>,
    Query(q): Query<NumberQuery>,
) -> Result<VerifyPage, AppError> {
    let chrome = viewer.chrome("verify");
    let number = q.number.trim().to_owned();
    if number.is_empty() {
        return Ok(VerifyPage { chrome, number, verdict: None, error: None });
    }
    let found = state.applications.verify_number(&number).await?;
    Ok(VerifyPage {
        chrome,
        verdict: Some(verdict(format!("№ {number}"), found)),
        number,
        error: None,
    })
}

fn verdict(what: String, document: Option<Verified>) -> Verdict {
    Verdict {
        authentic: document.is_some(),
        issued: document.as_ref().map(|d| msk(d.issued_at)).unwrap_or_default(),
        what,
        document,
    }
}

async fn by_number(
    viewer: Viewer,
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<VerifyPage, AppError> {
    let found = state.applications.verify_number(&number).await?;
    Ok(VerifyPage {
        chrome: viewer.chrome("verify"),
        verdict: Some(verdict(format!("№ {number}"), found)),
        number,
        error: None,
    })
}

async fn upload(
    viewer: Viewer,
    State(state): State<AppState>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let chrome = viewer.chrome("verify");
    let refuse = |chrome: Chrome, message: &str| {
        let page = VerifyPage {
            chrome,
            number: String::new(),
            verdict: None,
            error: Some(message.to_owned()),
        };
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    };
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or("файл").to_owned();
                match field.bytes().await {
                    Ok(bytes) => file = Some((name, bytes)),
                    Err(_) => {
                        return Ok(refuse(
                            chrome,
                            "Файл: не удалось прочитать, он больше 1 МБ или загрузка прервалась",
                        ));
                    }
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                return Ok(refuse(
                    chrome,
                    "Файл: не удалось прочитать, он больше 1 МБ или загрузка прервалась",
                ));
            }
        }
    }
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Ok(refuse(chrome, "Файл: выберите PDF-документ для проверки"));
    };
    let found = state.applications.verify_file(&bytes).await?;
    Ok(VerifyPage {
        chrome,
        number: String::new(),
        verdict: Some(verdict(format!("файл «{name}»"), found)),
        error: None,
    }
    .into_response())
}

fn json(found: Option<Verified>) -> Json<serde_json::Value> {
    Json(match found {
        Some(d) => serde_json::json!({
            "authentic": true,
            "document": {
                "number": d.number, "title": d.title, "issued_at": d.issued_at.to_rfc3339(),
                "agency": d.agency, "service": d.service, "sha256": d.sha256,
                "algorithm": d.algorithm,
            },
        }),
        None => serde_json::json!({ "authentic": false }),
    })
}

async fn api_number(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(json(state.applications.verify_number(&number).await?))
}

/// The PDF itself as the request body.
async fn api_file(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    if body.is_empty() {
        return Err(AppError::BadRequest {
            code: "empty",
            message: "Пришлите PDF-документ в теле запроса".into(),
        });
    }
    Ok(json(state.applications.verify_file(&body).await?))
}

async fn download(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let Some((number, pdf)) = state.applications.result(&actor, &id).await? else {
        return Err(AppError::Missing {
            code: "no_result",
            message: "Результат по заявлению ещё не готов".into(),
        });
    };
    Ok(crate::rights::attachment("application/pdf", &format!("{number}.pdf"), pdf))
}

/// The detached signature of a GOST-signed result document (`.sig`, CMS in DER), which
/// CryptoPro and OpenSSL check together with the PDF.
async fn download_signature(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let Some((number, cms)) = state.applications.result_signature(&actor, &id).await? else {
        return Err(AppError::Missing {
            code: "no_signature_file",
            message: "Отдельного файла подписи нет: документ подписан ключом портала, его \
                      подлинность проверяется на странице /verify"
                .into(),
        });
    };
    Ok(crate::rights::attachment("application/pkcs7-signature", &format!("{number}.pdf.sig"), cms))
}

/// The application's detailed report as PDF (seed 000 «экспортировать отчет в PDF»): its
/// facts, the answers, the files and the whole timeline.
async fn report(
    SignedIn(session): SignedIn,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let actor = Actor::applicant(&session.account_id);
    let a = state.applications.get(&actor, &id).await?;
    let service = state.catalog.service(&a.service_id).ok_or(AppError::NotFound)?;
    let workflow = state.catalog.workflow(&service.workflow).ok_or(AppError::NotFound)?;
    let steps = crate::application_pages::steps(&state, &actor, &a, workflow).await?;
    let files = state.applications.files(&actor, &a.id).await?;
    let status = if a.status == services::definition::DRAFT {
        "Черновик".to_owned()
    } else {
        workflow.state(&a.status).map_or(a.status.clone(), |s| s.title.clone())
    };
    let date = |d: Option<chrono::NaiveDate>| {
        d.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_else(|| "—".into())
    };
    let number = a.number.clone().unwrap_or_else(|| "черновик".into());
    let report = printing::Report {
        title: format!("Заявление № {number}"),
        generated_at: format!("{} (МСК)", msk(state.clock.now())),
        subject_line: service.title.clone(),
        sections: vec![
            printing::Section {
                title: "Заявление".into(),
                rows: vec![
                    ("Услуга".into(), service.title.clone()),
                    (
                        "Ведомство".into(),
                        state
                            .catalog
                            .agency(&service.agency)
                            .map_or(service.agency.clone(), |x| x.full_name.clone()),
                    ),
                    ("Статус".into(), status),
                    (
                        "Подано".into(),
                        a.submitted_at.map_or_else(|| "—".into(), |t| format!("{} (МСК)", msk(t))),
                    ),
                    ("Срок решения".into(), date(a.due_on)),
                ],
                table: None,
            },
            printing::Section {
                title: "Сведения заявления".into(),
                rows: services::form::lines(service, &a.answers),
                table: None,
            },
            printing::Section {
                title: "Приложенные документы".into(),
                rows: if files.is_empty() {
                    vec![("Файлы".into(), "нет".into())]
                } else {
                    files.iter().map(|f| (f.name.clone(), f.content_type.clone())).collect()
                },
                table: None,
            },
            printing::Section {
                title: "История".into(),
                rows: Vec::new(),
                table: Some(printing::Table {
                    columns: vec![
                        "Дата и время (МСК)".into(),
                        "Статус".into(),
                        "Кто".into(),
                        "Комментарий".into(),
                    ],
                    rows: steps
                        .into_iter()
                        .map(|s| {
                            vec![s.at, s.status, s.actor.to_owned(), s.comment.unwrap_or_default()]
                        })
                        .collect(),
                }),
            },
        ],
        letterhead: None,
        qr: None,
    };
    let pdf = tokio::task::spawn_blocking(move || printing::personal_data_report(&report))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let file = a.number.clone().unwrap_or_else(|| a.id.clone());
    Ok(crate::rights::attachment("application/pdf", &format!("application-{file}.pdf"), pdf))
}
