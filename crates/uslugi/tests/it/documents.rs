//! The standard account: documents entered, checked against the registries in the
//! background, the person told; refusals per field; an unreachable registry waits.

use std::time::Duration;

use serde_json::{Value, json};
use store::Backend;

use crate::support::TestApp;

const PHONE: &str = "+79161234567";

pub(crate) fn maria() -> Value {
    json!({
        "surname": "Демидова", "given_name": "Мария", "patronymic": "Ивановна",
        "birth_date": "12.04.1988", "birth_place": "г. Москва",
        "passport_series": "4510", "passport_number": "654321",
        "passport_issued_on": "25.04.2008", "passport_issued_by": "ОВД района Хамовники г. Москвы",
        "passport_division": "770-005", "snils": "12345678964", "inn": "",
        "address": "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5"
    })
}

pub(crate) async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = match method {
        "POST" => app.http.post(app.url(path)),
        "DELETE" => app.http.delete(app.url(path)),
        _ => app.http.get(app.url(path)),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The documents view once its status is `want` (the worker is event-driven; bounded).
pub(crate) async fn documents_when(app: &TestApp, token: &str, want: &str) -> Value {
    for _ in 0..20_000 {
        let (status, view) = call(app, "GET", "/api/v1/me/documents", token, None).await;
        assert_eq!(status, 200, "{view}");
        if view["status"] == json!(want) {
            return view;
        }
        tokio::task::yield_now().await;
    }
    panic!("documents never reached {want}");
}

async fn run_verified_then_refused(app: TestApp) {
    let token = app.register(PHONE).await;
    let (_, view) = call(&app, "GET", "/api/v1/me/documents", &token, None).await;
    assert_eq!(view["status"], Value::Null);

    // Bad input: every wrong field named, in Russian; nothing saved.
    let mut bad = maria();
    bad["snils"] = json!("123-456-789 65");
    bad["passport_series"] = json!("45 1");
    bad["birth_date"] = json!("31.02.1988");
    let (status, body) = call(&app, "POST", "/api/v1/me/documents", &token, Some(bad)).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["birth_date", "passport_series", "snils"], "{body}");
    assert_eq!(body["error"]["fields"][2]["message"], json!("неверное контрольное число"));

    let (status, view) = call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    assert_eq!(status, 202, "{view}");
    assert!(matches!(view["status"].as_str(), Some("checking" | "verified")), "{view}");
    let view = documents_when(&app, &token, "verified").await;
    assert_eq!(view["verified"]["inn"], json!("770123456703"), "ФНС found the INN: {view}");
    assert_eq!(view["verified"]["snils"], json!("123-456-789 64"));
    let (_, me) = app.me(&token).await;
    assert_eq!(
        (me["level"].as_str(), me["surname"].as_str()),
        (Some("standard"), Some("Демидова"))
    );
    let messages =
        app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("documents.verified"))).await;
    let told = messages.iter().find(|x| x["template"] == json!("documents.verified")).unwrap();
    assert!(told["text"].as_str().unwrap().contains("стала стандартной"), "{told}");

    // A change the МВД does not confirm is refused per field; the verified data stays.
    let mut changed = maria();
    changed["passport_division"] = json!("770-006");
    let (status, _) = call(&app, "POST", "/api/v1/me/documents", &token, Some(changed)).await;
    assert_eq!(status, 202);
    let view = documents_when(&app, &token, "refused").await;
    assert_eq!(
        view["reasons"],
        json!([["passport", "Код подразделения не совпадает с данными МВД"]])
    );
    assert_eq!(view["verified"]["passport_division"], json!("770-005"), "old data in force");
    assert_eq!(view["pending"]["passport_division"], json!("770-006"));
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));
    app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("documents.refused"))).await;

    // Someone else cannot claim a verified SNILS.
    let other = app.register("+79161234568").await;
    let (status, body) = call(&app, "POST", "/api/v1/me/documents", &other, Some(maria())).await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["fields"][0]["message"].as_str().unwrap().contains("другой учётной записи"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_verified_raising_the_level_then_a_change_is_refused_sqlite() {
    run_verified_then_refused(
        TestApp::spawn_with(Backend::Sqlite, |_, s| s.demo_data = true).await,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_verified_raising_the_level_then_a_change_is_refused_postgres() {
    run_verified_then_refused(
        TestApp::spawn_with(Backend::Postgres, |_, s| s.demo_data = true).await,
    )
    .await;
}

async fn run_waiting(backend: Backend) {
    // The gateway's port is known before it listens: checks find it unreachable first.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn_with(backend, |_, s| {
        let mut http = registry::HttpSettings::new(&format!("http://127.0.0.1:{port}"));
        http.attempts = 1;
        http.backoff = Duration::ZERO;
        s.registry = uslugi::settings::RegistrySource::Http(http);
    })
    .await;
    let token = app.register(PHONE).await;
    let (status, _) = call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    assert_eq!(status, 202);
    documents_when(&app, &token, "waiting").await;
    app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("documents.delayed"))).await;

    // The registry comes up; after the back-off the check runs again and succeeds.
    let gateway_dir = crate::support::scratch_dir();
    let db = store::Db::connect(
        &uslugi::settings::sqlite_url(&gateway_dir.join("r.db")),
        &store::DbOptions::default(),
    )
    .await
    .unwrap();
    db.migrate().await.unwrap();
    let embedded = registry::EmbeddedRegistry::new(
        db,
        std::sync::Arc::new(store::vault::Vault::new(&[9; 32], &[])),
    );
    registry::demo::load_starter(&embedded).await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, uslugi::gateway::router(embedded, None)).await.unwrap();
    });
    app.clock.advance(chrono::Duration::seconds(31));
    let view = documents_when(&app, &token, "verified").await;
    assert_eq!(view["verified"]["inn"], json!("770123456703"));
    server.abort();
    app.stop().await;
    let _ = std::fs::remove_dir_all(gateway_dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_keeps_the_check_waiting_until_it_answers_sqlite() {
    run_waiting(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_registry_keeps_the_check_waiting_until_it_answers_postgres() {
    run_waiting(Backend::Postgres).await;
}
