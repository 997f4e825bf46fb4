//! The notification outbox: written with its event, delivered by the worker through the
//! dev sink, a real SMTP conversation and an HTTP SMS gateway.

use std::sync::{Arc, Mutex};

use notify::{Channel, Template};
use secrecy::SecretString;
use serde_json::{Value, json};
use uslugi::settings::{Mode, SmsGateway, Smtp};

use crate::support::{TestApp, on_both_backends, smtp_sink, test_now};

fn code(code: &str) -> Template {
    Template::RegistrationCode { code: code.into(), minutes: 5, link: None }
}

on_both_backends! {
    async fn messages_exist_exactly_when_their_event_commits(app) {
        let outbox = app.outbox_handle();
        let mut tx = app.db().begin().await.unwrap();
        outbox.enqueue(&mut tx, Channel::Sms, "+79161234567", &code("111111"), test_now()).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(app.outbox(None).await.is_empty(), "rolled back: no message");

        let mut tx = app.db().begin().await.unwrap();
        outbox.enqueue(&mut tx, Channel::Sms, "+79161234567", &code("222222"), test_now()).await.unwrap();
        outbox.enqueue(&mut tx, Channel::Email, "ivan@почта.рф", &code("333333"), test_now()).await.unwrap();
        tx.commit().await.unwrap();

        let to_phone = app.outbox(Some("8 (916) 123-45-67")).await;
        assert_eq!(to_phone.len(), 1, "filtered by recipient in any input form");
        assert_eq!(to_phone[0]["recipient"], json!("+79161234567"));
        assert!(to_phone[0]["text"].as_str().unwrap().contains("222222"));
        assert_eq!(to_phone[0]["template"], json!("registration.code"));
        assert_eq!(app.outbox(None).await.len(), 2);

        // At rest the recipient and the text are ciphertext.
        let raw: Vec<(String, String)> = sqlx::query_as("SELECT recipient, body FROM outbox")
            .fetch_all(app.db().pool())
            .await
            .unwrap();
        assert!(raw.iter().all(|(r, b)| !r.contains("7916") && !b.contains("222222")));

        // The dev sink delivers: the worker marks them sent.
        outbox.wake();
        app.outbox_when(|all| all.iter().all(|m| m["status"] == json!("sent"))).await;
    }
}

on_both_backends! {
    async fn the_dev_outbox_page_shows_messages(app) {
        let mut tx = app.db().begin().await.unwrap();
        app.outbox_handle()
            .enqueue(&mut tx, Channel::Sms, "+79161234567", &code("424242"), test_now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let html = app.get("/dev/outbox").await.text().await.unwrap();
        assert!(html.contains("Исходящие сообщения") && html.contains("424242"), "{html}");
        let r = app.get("/api/v1/dev/outbox?to=not-a-contact").await;
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], json!("to"));
    }
}

#[tokio::test]
async fn no_dev_outbox_in_production_mode() {
    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.mode = Mode::Production;
        s.public_url = Some("https://uslugi.example".into());
    })
    .await;
    assert_eq!(app.get("/dev/outbox").await.status().as_u16(), 404);
    assert_eq!(app.get("/api/v1/dev/outbox").await.status().as_u16(), 404);
    app.stop().await;
}

#[tokio::test]
async fn email_goes_out_over_smtp() {
    let (port, mut received) = smtp_sink().await;
    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.smtp = Some(Smtp {
            url: SecretString::from(format!("smtp://127.0.0.1:{port}")),
            from: "Услуги <noreply@uslugi.example>".into(),
        });
    })
    .await;
    let outbox = app.outbox_handle();
    let mut tx = app.db().begin().await.unwrap();
    outbox
        .enqueue(&mut tx, Channel::Email, "ivan@mail.ru", &code("654321"), test_now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    outbox.wake();
    let data = received.recv().await.expect("the SMTP server received a message");
    assert!(data.contains("To: ivan@mail.ru"), "{data}");
    assert!(data.contains("noreply@uslugi.example"), "{data}");
    // The worker records the delivery right after the server accepted it, and forgets
    // the text (it held a code).
    let all = app.outbox_when(|all| all[0]["status"] == json!("sent")).await;
    let all = if all[0]["text"] == json!("(текст удалён после отправки)") {
        all
    } else {
        app.outbox_when(|all| all[0]["text"] == json!("(текст удалён после отправки)")).await
    };
    assert!(!all[0]["text"].as_str().unwrap().contains("654321"));
    app.stop().await;
}

#[tokio::test]
async fn a_file_goes_out_attached_over_smtp_and_is_then_dropped() {
    use base64::Engine as _;
    let (port, mut received) = smtp_sink().await;
    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.smtp = Some(Smtp {
            url: SecretString::from(format!("smtp://127.0.0.1:{port}")),
            from: "Услуги <noreply@uslugi.example>".into(),
        });
    })
    .await;
    let outbox = app.outbox_handle();
    let pdf: Vec<u8> =
        b"%PDF-1.7\n".iter().copied().chain((0..20_000u32).map(|i| (i * 7 % 251) as u8)).collect();
    let file = notify::Attachment {
        name: "2026-000001-R.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: pdf.clone(),
    };
    let template = Template::ResultDocument {
        number: "2026-000001-R".into(),
        title: "Справка".into(),
        link: "https://uslugi.example/verify/2026-000001-R".into(),
    };
    let mut tx = app.db().begin().await.unwrap();
    let id = outbox
        .enqueue_with(&mut tx, Channel::Email, "ivan@mail.ru", &template, Some(&file), test_now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Queued, the file is kept sealed with its message.
    assert_eq!(outbox.attachment(&id).await.unwrap().as_ref(), Some(&file));
    outbox.wake();
    let data = received.recv().await.expect("the SMTP server received a message");
    assert!(data.contains("Content-Type: multipart/mixed"), "{data}");
    let (_, part) = data
        .split_once("Content-Disposition: attachment; filename=\"2026-000001-R.pdf\"")
        .expect("the file is attached");
    let encoded: String = part
        .lines()
        .skip(1)
        .skip_while(|l| !l.is_empty())
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(),
        pdf,
        "the file, byte for byte"
    );
    assert!(data.contains("Content-Type: application/pdf"), "{data}");
    // Delivered for real: the outbox keeps that it went, not the file.
    app.outbox_when(|all| all[0]["status"] == json!("sent") && all[0]["attachment"].is_null())
        .await;
    assert_eq!(outbox.attachment(&id).await.unwrap(), None);
    app.stop().await;
}

#[tokio::test]
async fn sms_gateway_failures_back_off_and_retry() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;

    // A gateway that fails the first call and accepts the second.
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let calls = seen.clone();
    let gateway = axum::Router::new().route(
        "/send",
        post(move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
            let calls = calls.clone();
            async move {
                let auth = headers["authorization"].to_str().unwrap().to_owned();
                let mut calls = calls.lock().unwrap();
                calls.push((auth, body));
                if calls.len() == 1 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, gateway).await.unwrap() });

    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.sms = Some(SmsGateway {
            url: format!("http://{addr}/send"),
            token: SecretString::from("gateway-token".to_owned()),
        });
    })
    .await;
    let outbox = app.outbox_handle();
    let mut tx = app.db().begin().await.unwrap();
    outbox
        .enqueue(&mut tx, Channel::Sms, "+79161234567", &code("777777"), test_now())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // The first attempt fails — made here or by the app's own worker, whichever claims
    // the job first; wait until it is recorded.
    outbox.deliver_due(test_now()).await.unwrap();
    let all = app.outbox_when(|all| all[0]["attempts"] == json!(1)).await;
    assert_eq!(all[0]["status"], json!("queued"));
    // Not again before the backoff (30 s) has passed…
    assert_eq!(outbox.deliver_due(test_now() + chrono::Duration::seconds(29)).await.unwrap(), 0);
    // …and delivered after it.
    assert_eq!(outbox.deliver_due(test_now() + chrono::Duration::seconds(30)).await.unwrap(), 1);
    assert_eq!(app.outbox(None).await[0]["status"], json!("sent"));

    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].0, "Bearer gateway-token");
    assert_eq!(calls[1].1["to"], json!("+79161234567"));
    assert!(calls[1].1["text"].as_str().unwrap().contains("777777"));
    app.stop().await;
}
