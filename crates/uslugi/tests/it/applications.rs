//! Applications through the API: a draft pre-filled from the verified profile, saved as
//! typed, refused on submission field by field, submitted with a number and a due date
//! in working days, listed with filters, cancelled by the applicant, private to them.

use serde_json::{Value, json};

use crate::documents::{call, documents_when, maria};
use crate::support::on_both_backends;

const PHONE: &str = "+79161234567";

pub(crate) async fn put(
    app: &crate::support::TestApp,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let r = app.http.put(app.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn fields(body: &Value) -> Vec<&str> {
    body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect()
}

on_both_backends! {
    demo async fn a_citizen_applies_and_follows_the_application(app) {
        let token = app.register(PHONE).await;
        // A simplified account is told what level the service needs.
        let (status, body) = call(&app, "POST", "/api/v1/services/egrn-extract/applications", &token, None).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().contains("нужна стандартная учётная запись"), "{body}");
        let (status, body) = call(&app, "POST", "/api/v1/services/nothing/applications", &token, None).await;
        assert_eq!((status, body["error"]["code"].clone()), (404, json!("unknown_service")));

        call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
        documents_when(&app, &token, "verified").await;
        let (status, body) = call(&app, "POST", "/api/v1/services/egrn-extract/applications", &token, None).await;
        assert_eq!(status, 201, "{body}");
        let id = body["application"]["id"].as_str().unwrap().to_owned();
        assert_eq!(body["application"]["status_title"], json!("Черновик"));
        // Pre-filled from the verified documents.
        assert_eq!(body["application"]["answers"]["full_name"], json!("Демидова Мария Ивановна"));
        assert_eq!(body["application"]["answers"]["passport"], json!("4510 654321"));

        // A draft keeps what was typed, wrong values too, and says what is wrong.
        let mut answers = body["application"]["answers"].clone();
        answers["cadastral_number"] = json!("77:01");
        let (status, body) = put(&app, &format!("/api/v1/me/applications/{id}/answers"), &token, json!({"answers": answers})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["problems"][0]["path"], json!("cadastral_number"));
        assert!(body["problems"][0]["message"].as_str().unwrap().starts_with("Кадастровый номер: неверный формат"));
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["answers"]["cadastral_number"], json!("77:01"), "saved as typed");

        // Submission names every field that is wrong or missing; nothing changes.
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], json!("invalid_answers"));
        assert_eq!(fields(&body), ["object_kind", "cadastral_number", "purpose"]);
        assert_eq!(body["error"]["fields"][2]["message"], json!("Цель получения: не заполнено"));

        answers["cadastral_number"] = json!("77:01:0001001:1234");
        answers["object_kind"] = json!("Квартира");
        answers["purpose"] = json!("Для суда");
        put(&app, &format!("/api/v1/me/applications/{id}/answers"), &token, json!({"answers": answers})).await;
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
        assert_eq!(status, 200, "{body}");
        let a = &body["application"];
        assert_eq!(a["number"], json!("2026-0000001"));
        assert_eq!(a["status_title"], json!("Принята"));
        // Sunday 22 November 2026 + 3 working days.
        assert_eq!(a["due_on"], json!("2026-11-25"));
        assert_eq!(a["actions"], json!([["cancel", "Отменить заявление"]]));
        let (status, _) = put(&app, &format!("/api/v1/me/applications/{id}/answers"), &token, json!({"answers": answers})).await;
        assert_eq!(status, 422, "a submitted application is not edited");
        let sms = app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("application.status"))).await;
        let told = sms.iter().find(|x| x["template"] == json!("application.status")).unwrap();
        assert!(told["text"].as_str().unwrap().contains("№ 2026-0000001 «Выписка из ЕГРН»: принята"), "{told}");

        // «Мои заявки» with filters.
        let (_, body) = call(&app, "POST", "/api/v1/services/income-certificate/applications", &token, None).await;
        let draft = body["application"]["id"].as_str().unwrap().to_owned();
        let list = |q: &'static str| {
            let (app, token) = (&app, token.clone());
            async move { call(app, "GET", &format!("/api/v1/me/applications{q}"), &token, None).await.1 }
        };
        assert_eq!(list("").await["applications"].as_array().unwrap().len(), 2);
        assert_eq!(list("?status=submitted").await["applications"][0]["id"], json!(id));
        assert_eq!(list("?number=2026-0000001").await["applications"].as_array().unwrap().len(), 1);
        assert_eq!(list("?service=income-certificate").await["applications"][0]["id"], json!(draft));
        assert_eq!(list("?from=22.11.2026&to=22.11.2026").await["applications"].as_array().unwrap().len(), 2);
        assert_eq!(list("?from=23.11.2026").await["applications"].as_array().unwrap().len(), 0);
        let (status, body) = call(&app, "GET", "/api/v1/me/applications?from=31.02.2026", &token, None).await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["message"], json!("Дата с: такой даты не существует"));

        // Someone else sees none of it.
        let other = app.register("+79161234568").await;
        let (status, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &other, None).await;
        assert_eq!((status, body["error"]["code"].clone()), (404, json!("unknown_application")));
        let (status, _) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/cancel"), &other, None).await;
        assert_eq!(status, 404);

        // The applicant cancels; the timeline shows both steps; cancelling again is refused.
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/cancel"), &token, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["application"]["status_title"], json!("Отменена"));
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/cancel"), &token, None).await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["message"], json!("Сейчас это действие недоступно: заявление в статусе «Отменена»."));
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        // The status changes (the automatic checks add a line of their own, when they ran).
        let steps: Vec<(&str, &str)> = body["timeline"].as_array().unwrap().iter()
            .filter(|e| e["transition"] != json!("checks"))
            .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap())).collect();
        assert_eq!(steps, [("draft", "submitted"), ("submitted", "cancelled")]);
        // The detailed report as PDF.
        let r = app.http.get(app.url(&format!("/api/v1/me/applications/{id}/report.pdf"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"application-2026-0000001.pdf\"");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF-"));
        let (status, _) = call(&app, "GET", &format!("/api/v1/me/applications/{id}/report.pdf"), &other, None).await;
        assert_eq!(status, 404, "only the applicant's");
        // A draft can be deleted; a submitted application cannot.
        let r = app.http.delete(app.url(&format!("/api/v1/me/applications/{draft}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 204);
        let r = app.http.delete(app.url(&format!("/api/v1/me/applications/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 404);
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM journal WHERE action = 'application.status'")
            .fetch_one(app.db().pool()).await.unwrap();
        assert_eq!(n.0, 2);
    }
}

/// The main path in Chromium: a standard citizen finds a service, applies, sees the form
/// pre-filled and saved automatically, is told what is wrong, submits, follows the
/// application in «Мои заявки» and cancels it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_applies_in_the_browser() {
    use fantoccini::Locator;

    use crate::browser::{Browser, click_to_next_page, fill, submit};

    let app = crate::support::TestApp::spawn_demo(store::Backend::Sqlite).await;
    let (login, password) = app.demo().unwrap();
    let (_, body) = app.sign_in(&login, &password).await;
    let token = body["session"].as_str().unwrap().to_owned();
    call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    documents_when(&app, &token, "verified").await;

    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "field-login", &login).await;
    fill(c, "field-password", &password).await;
    submit(c, "#login-form").await;
    c.goto(&app.url("/services/egrn-extract")).await.unwrap();
    click_to_next_page(c, Locator::Id("apply")).await;
    let name = c.find(Locator::Id("field-full_name")).await.unwrap();
    assert_eq!(name.prop("value").await.unwrap().as_deref(), Some("Демидова Мария Ивановна"));
    // A wrong cadastral number is named while typing; the draft saves itself.
    let cadastral = c.find(Locator::Id("field-cadastral_number")).await.unwrap();
    cadastral.send_keys("77:01").await.unwrap();
    c.wait()
        .for_element(Locator::XPath(
            "//p[@id='field-cadastral_number-error'][contains(., 'неверный формат')]",
        ))
        .await
        .unwrap();
    c.find(Locator::Id("field-address")).await.unwrap().click().await.unwrap();
    c.wait()
        .for_element(Locator::XPath("//p[@id='autosave-status'][contains(., 'Черновик сохранён')]"))
        .await
        .unwrap();
    // Submitting lists what is wrong, with links to the fields.
    click_to_next_page(c, Locator::Id("submit-application")).await;
    let summary = c.find(Locator::Id("error-summary")).await.unwrap().text().await.unwrap();
    assert!(summary.contains("Вид объекта: не заполнено"), "{summary}");
    assert!(summary.contains("Кадастровый номер: неверный формат"), "{summary}");
    let kept = c.find(Locator::Id("field-cadastral_number")).await.unwrap();
    assert_eq!(kept.prop("value").await.unwrap().as_deref(), Some("77:01"), "what was typed stays");
    fill(c, "field-cadastral_number", "77:01:0001001:1234").await;
    c.find(Locator::Css("#field-object_kind option[value='Квартира']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css("#field-purpose option[value='Для суда']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Id("submit-application")).await.unwrap().click().await.unwrap();
    let number = c.wait().for_element(Locator::Id("application-number")).await.unwrap();
    assert_eq!(number.text().await.unwrap(), "2026-0000001");
    let status = c.find(Locator::Id("application-status")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "Принята");
    let due = c.find(Locator::Id("application-due")).await.unwrap().text().await.unwrap();
    assert_eq!(due, "до 25.11.2026");
    let copy = c.find(Locator::Id("application-copy")).await.unwrap().text().await.unwrap();
    assert!(copy.contains("77:01:0001001:1234"), "{copy}");

    // «Мои заявки» lists it; the applicant cancels it after confirming.
    c.goto(&app.url("/cabinet/applications")).await.unwrap();
    let row = c.find(Locator::Css("#applications tbody tr")).await.unwrap().text().await.unwrap();
    assert!(
        row.contains("2026-0000001") && row.contains("Выписка из ЕГРН") && row.contains("Принята"),
        "{row}"
    );
    click_to_next_page(c, Locator::Css("#applications tbody tr a")).await;
    c.find(Locator::Css("details.confirm summary")).await.unwrap().click().await.unwrap();
    click_to_next_page(c, Locator::Id("confirm-cancel")).await;
    let status = c.find(Locator::Id("application-status")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "Отменена");
    let timeline = c.find(Locator::Id("timeline")).await.unwrap().text().await.unwrap();
    assert!(timeline.contains("Принята") && timeline.contains("Отменена"), "{timeline}");
    browser.close().await;
    app.stop().await;
}

const SCAN_SERVICE: &str = r#"id = "scan-request"
title = "Заявление с копией документа"
summary = "Проверка вложений."
description = "Услуга для проверки вложений."
category = "certificates"
agency = "fns"
applicants = ["person"]
min_level = "standard"

[deadline]
working_days = 2
review = "manual"

[[form]]
id = "full_name"
label = "ФИО"
type = "text"
required = true
prefill = "full_name"

[[attachments]]
id = "scan"
label = "Скан паспорта"
required = true
formats = ["pdf", "png"]

[result]
title = "Ответ"
body = "Выдано {заявитель}."
"#;

fn png() -> Vec<u8> {
    let mut out = Vec::new();
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 120, 200]));
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_checked_by_content_size_and_soundness_sqlite() {
    attachments(store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_checked_by_content_size_and_soundness_postgres() {
    attachments(store::Backend::Postgres).await;
}

/// The app with the scan service, a standard citizen and a draft of theirs:
/// (app, session, draft id).
async fn scan_draft(backend: store::Backend) -> (crate::support::TestApp, String, String) {
    let app = crate::support::TestApp::spawn_with(backend, |dir, s| {
        s.demo_data = true;
        std::fs::create_dir_all(dir.join("services/catalog")).unwrap();
        std::fs::write(dir.join("services/catalog/scan-request.toml"), SCAN_SERVICE).unwrap();
    })
    .await;
    let token = app.register(PHONE).await;
    call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    documents_when(&app, &token, "verified").await;
    let (_, body) =
        call(&app, "POST", "/api/v1/services/scan-request/applications", &token, None).await;
    let id = body["application"]["id"].as_str().unwrap().to_owned();
    (app, token, id)
}

/// How a raw upload announces its body.
enum Announced {
    /// `Content-Length` of this many megabytes, and no byte of the body sent: the server
    /// must answer from the header alone.
    Length(usize),
    /// This many megabytes in 1 MB chunks without a length (HTTP/1.1 chunked encoding).
    Chunked(usize),
}

/// An upload over a bare socket (no client library streams request bodies, nor stops
/// writing at an early answer): (status, response text). The response is read while the
/// body is still being written, so an answer sent before the server closes the
/// connection is never lost to the reset that follows.
async fn raw_upload(
    app: &crate::support::TestApp,
    token: &str,
    id: &str,
    body: Announced,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let reader = tokio::spawn(async move {
        let mut response = Vec::new();
        let _ = read.read_to_end(&mut response).await;
        response
    });
    let framing = match body {
        Announced::Length(mb) => format!("Content-Length: {}", mb * 1024 * 1024),
        Announced::Chunked(_) => "Transfer-Encoding: chunked".to_owned(),
    };
    let head = format!(
        "POST /api/v1/me/applications/{id}/files?rule=scan&name=huge.pdf HTTP/1.1\r\n\
         Host: {addr}\r\nAuthorization: Bearer {token}\r\n{framing}\r\n\
         Connection: close\r\n\r\n"
    );
    write.write_all(head.as_bytes()).await.unwrap();
    if let Announced::Chunked(megabytes) = body {
        let mut chunk = format!("{:x}\r\n", 1024 * 1024).into_bytes();
        chunk.extend(std::iter::repeat_n(b' ', 1024 * 1024));
        chunk.extend_from_slice(b"\r\n");
        for _ in 0..megabytes {
            // The server may answer and close before everything is sent.
            if write.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let _ = write.write_all(b"0\r\n\r\n").await;
    }
    let text = String::from_utf8_lossy(&reader.await.unwrap()).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn attachments(backend: store::Backend) {
    let (app, token, id) = scan_draft(backend).await;
    // The required file is named on submission.
    let (status, body) =
        call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), ["file-scan"]);
    assert_eq!(body["error"]["fields"][0]["message"], json!("Скан паспорта: приложите файл"));

    let upload = |name: &str, bytes: Vec<u8>| {
        let (app, token, id) = (&app, token.clone(), id.clone());
        let url = app.url(&format!("/api/v1/me/applications/{id}/files?rule=scan&name={name}"));
        async move {
            let r = app.http.post(url).bearer_auth(&token).body(bytes).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(6 * 1024 * 1024, b' ');
    let (status, body) = upload("big.pdf", big).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["message"], json!("Файл «big.pdf»: 6 МБ — больше допустимых 5 МБ"));
    // Far past the limit: refused by length before a byte is read, or, sent in chunks
    // without a length, as soon as the body runs past twice the limit.
    let (status, body) = raw_upload(&app, &token, &id, Announced::Length(11)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("Файл больше 5 МБ"), "{body}");
    let (status, body) = raw_upload(&app, &token, &id, Announced::Chunked(11)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("Файл больше 5 МБ"), "{body}");
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.resize(4096, 0);
    let (status, body) = upload("scan.pdf", exe).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["message"],
        json!("Файл «scan.pdf»: по содержимому это программа, а принимаются только PDF, PNG")
    );
    let mut broken = png();
    broken.truncate(broken.len() - 16);
    let (status, body) = upload("scan.png", broken).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["message"],
        json!("Файл «scan.png»: файл повреждён и не открывается — сохраните его заново")
    );

    // The form's upload (multipart): a refusal is shown on the form itself, with 422.
    let page_upload = |name: &'static str, bytes: Vec<u8>| {
        let (app, token, id) = (&app, token.clone(), id.clone());
        async move {
            let form = reqwest::multipart::Form::new()
                .text("rule", "scan")
                .part("file", reqwest::multipart::Part::bytes(bytes).file_name(name));
            let r = app
                .http
                .post(app.url(&format!("/cabinet/applications/{id}/files")))
                .header("cookie", format!("uslugi_session={token}"))
                .multipart(form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.resize(4096, 0);
    let (status, html) = page_upload("scan.pdf", exe).await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Файл «scan.pdf»: по содержимому это программа")
            && html.contains("id=\"file-error\""),
        "{html}"
    );
    // No text comes from the address: a crafted link shows nothing of its own.
    let r = app.http.get(app.url(&format!("/cabinet/applications/{id}?file_error=%D0%BF%D0%BE%D0%B7%D0%B2%D0%BE%D0%BD%D0%B8%D1%82%D0%B5")))
        .header("cookie", format!("uslugi_session={token}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains("позвоните"));
    let (status, _) = page_upload("scan.png", png()).await;
    assert_eq!(status, 303);
    let (_, list) =
        call(&app, "GET", &format!("/api/v1/me/applications/{id}/files"), &token, None).await;
    let first = list["files"][0]["id"].as_str().unwrap().to_owned();
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/me/applications/{id}/files/{first}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    // A good one: listed, downloaded as sent, deleted, sent again; then the submission goes.
    let (status, body) = upload("scan.png", png()).await;
    assert_eq!(status, 201, "{body}");
    let file = body["file"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["file"]["content_type"], json!("image/png"));
    let (_, list) =
        call(&app, "GET", &format!("/api/v1/me/applications/{id}/files"), &token, None).await;
    assert_eq!(list["files"].as_array().unwrap().len(), 1);
    let r = app
        .http
        .get(app.url(&format!("/api/v1/me/applications/{id}/files/{file}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().to_vec(), png());
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/me/applications/{id}/files/{file}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (_, list) =
        call(&app, "GET", &format!("/api/v1/me/applications/{id}/files"), &token, None).await;
    assert_eq!(list["files"], json!([]));
    let (status, _) = upload("scan.png", png()).await;
    assert_eq!(status, 201);
    let (status, body) =
        call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
    assert_eq!(status, 200, "{body}");
    // Submitted: files stay as they are.
    let (status, _) = upload("more.png", png()).await;
    assert_eq!(status, 422);
    // Files are sealed at rest: the stored bytes are not the PNG.
    let stored: Vec<_> = walk(&app.settings.files_dir);
    assert_eq!(stored.len(), 1);
    let raw = std::fs::read(&stored[0]).unwrap();
    assert!(!raw.windows(4).any(|w| w == b"IHDR"), "not stored in the clear");
    app.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

on_both_backends! {
    demo async fn a_deadline_beyond_the_calendar_is_explained_and_the_draft_kept(app) {
        let token = app.register(PHONE).await;
        call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
        documents_when(&app, &token, "verified").await;
        let (_, body) = call(&app, "POST", "/api/v1/services/pension-rights-statement/applications", &token, None).await;
        let id = body["application"]["id"].as_str().unwrap().to_owned();
        // Friday 31 December 2027: the next working day is in 2028, which has no calendar.
        app.clock.advance(chrono::Duration::days(404));
        let (status, body) = app.sign_in(PHONE, crate::accounts::PASSWORD).await;
        assert_eq!(status, 201, "{body}");
        let token = body["session"].as_str().unwrap().to_owned();
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"]["code"], json!("calendar"));
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["status"], json!("draft"), "nothing changed");
    }
}

/// The clarification in Chromium: the officer asks for a PDF, the citizen opens the form
/// from the status page, reads what was asked, uploads the file and sends the corrections;
/// the application goes back to the officer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_corrects_in_the_browser() {
    use fantoccini::Locator;

    use crate::browser::{Browser, click_to_next_page, fill, submit};
    use crate::staff::{cli, printed_password, staff_ready};

    let (app, token, id) = scan_draft(store::Backend::Sqlite).await;
    let r = app
        .http
        .post(app.url(&format!("/api/v1/me/applications/{id}/files?rule=scan&name=scan.png")))
        .bearer_auth(&token)
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (status, _) =
        call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
    assert_eq!(status, 200);
    let (_, out, _) = cli(
        &app,
        &[
            "add",
            "--login",
            "fns",
            "--name",
            "Налогов Николай Ильич",
            "--role",
            "officer",
            "--agency",
            "FNS",
        ],
    );
    let officer = staff_ready(&app, "fns", &printed_password(&out)).await;
    let path = format!("/staff/applications/{id}/act");
    officer.post(&path, &[("transition", "take")]).await;
    let asked = officer
        .post(
            &path,
            &[("transition", "request_clarification"), ("comment", "Приложите скан в PDF")],
        )
        .await;
    assert_eq!(asked.status, 303);

    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "field-login", PHONE).await;
    fill(c, "field-password", crate::accounts::PASSWORD).await;
    submit(c, "#login-form").await;
    c.goto(&app.url(&format!("/cabinet/applications/{id}"))).await.unwrap();
    click_to_next_page(c, Locator::Id("edit-application")).await;
    let request = c.find(Locator::Id("correction-request")).await.unwrap().text().await.unwrap();
    assert!(request.contains("Приложите скан в PDF"), "{request}");
    let pdf = std::env::temp_dir().join(format!("uslugi-scan-{}.pdf", uuid::Uuid::now_v7()));
    std::fs::write(&pdf, b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n").unwrap();
    c.find(Locator::Id("upload-scan"))
        .await
        .unwrap()
        .send_keys(&pdf.display().to_string())
        .await
        .unwrap();
    click_to_next_page(c, Locator::Id("upload-button-scan")).await;
    let files = c.find(Locator::Id("files-scan")).await.unwrap().text().await.unwrap();
    assert!(files.contains("scan.png") && files.contains(".pdf"), "{files}");
    let button = c.find(Locator::Id("submit-application")).await.unwrap().text().await.unwrap();
    assert_eq!(button, "Отправить уточнения");
    click_to_next_page(c, Locator::Id("submit-application")).await;
    let status = c.find(Locator::Id("application-status")).await.unwrap().text().await.unwrap();
    assert_eq!(status, "В проверке");
    let timeline = c.find(Locator::Id("timeline")).await.unwrap().text().await.unwrap();
    assert!(
        timeline.contains("Требуется уточнение") && timeline.contains("Приложите скан в PDF"),
        "{timeline}"
    );
    let _ = std::fs::remove_file(&pdf);

    // Approved: the document can be sent by e-mail — here refused with the reason, as
    // this person has no confirmed address — and is listed in «Полученные документы».
    let approved = officer.post(&path, &[("transition", "approve")]).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    c.goto(&app.url(&format!("/cabinet/applications/{id}"))).await.unwrap();
    click_to_next_page(c, Locator::Css("#result-send button")).await;
    let error = c.find(Locator::Id("application-error")).await.unwrap().text().await.unwrap();
    assert!(error.starts_with("Электронная почта: добавьте и подтвердите адрес"), "{error}");
    c.goto(&app.url("/cabinet")).await.unwrap();
    click_to_next_page(c, Locator::Id("results-link")).await;
    let listed = c.find(Locator::Id("results")).await.unwrap().text().await.unwrap();
    assert!(listed.contains("Скачать PDF") && listed.contains("-R"), "{listed}");
    browser.close().await;
    app.stop().await;
}
