//! The confirmed account by qualified electronic signature: the demo citizen (made
//! standard through the documents flow) signs the challenge the server hands out, with
//! keys that `crates/qes/testdata/generate.sh` keeps in `citizen/` for this purpose.
//!
//! The material comes from `USLUGI_QES_MATERIAL` (set by `scripts/test`); without it the
//! tests that sign say so and pass.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use sqlx::Row;
use store::Backend;

use crate::browser::Browser;
use crate::documents::{call, documents_when, maria};
use crate::support::{TestApp, scratch_dir};

const PHONE: &str = "+79161234567";

/// Runs `$run(backend)` as two tests, `$name::sqlite` and `$name::postgres`.
macro_rules! on_both {
    ($name:ident, $run:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$run(::store::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$run(::store::Backend::Postgres).await;
            }
        }
    };
}

/// `citizen/` of the generated material, or `None` (with a note) when there is none.
pub(crate) fn material() -> Option<PathBuf> {
    match std::env::var_os("USLUGI_QES_MATERIAL").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let citizen = PathBuf::from(dir).join("citizen");
            assert!(
                citizen.join("sign.sh").is_file(),
                "{} has no citizen/sign.sh: regenerate it with crates/qes/testdata/generate.sh",
                citizen.display()
            );
            Some(citizen)
        }
        None => {
            eprintln!(
                "skipped: USLUGI_QES_MATERIAL is not set (scripts/test sets it; or run \
                 crates/qes/testdata/generate.sh DIR and export USLUGI_QES_MATERIAL=DIR)"
            );
            None
        }
    }
}

/// The app with the demo registry, trusting the roots of the named `citizen/` sets.
async fn app_trusting(backend: Backend, citizen: &Path, roots: &[&str]) -> TestApp {
    TestApp::spawn_with(backend, |dir, s| {
        s.demo_data = true;
        let roots_dir = dir.join("qes-roots");
        std::fs::create_dir_all(&roots_dir).unwrap();
        for set in roots {
            std::fs::copy(citizen.join(set).join("ca.pem"), roots_dir.join(format!("{set}.pem")))
                .unwrap();
        }
        assert_eq!(s.qes_roots, roots_dir);
    })
    .await
}

/// Registers the demo citizen, enters her documents and waits until the account is
/// standard; the session token.
async fn standard_account(app: &TestApp) -> String {
    let token = app.register(PHONE).await;
    let (status, body) = call(app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    assert_eq!(status, 202, "{body}");
    documents_when(app, &token, "verified").await;
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));
    token
}

/// `GET /api/v1/me/signature/challenge`.
async fn challenge(app: &TestApp, token: &str) -> Value {
    let (status, body) = call(app, "GET", "/api/v1/me/signature/challenge", token, None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A detached DER signature over `content` with the key of `citizen/<set>`, made by the
/// material's `sign.sh` (OpenSSL with the GOST engine).
fn sign(citizen: &Path, set: &str, content: &[u8]) -> Vec<u8> {
    let dir = scratch_dir();
    let (input, output) = (dir.join("challenge.txt"), dir.join("sig.p7s"));
    std::fs::write(&input, content).unwrap();
    let done = std::process::Command::new(citizen.join("sign.sh"))
        .arg(&input)
        .arg(&output)
        .arg(set)
        .output()
        .unwrap();
    assert!(done.status.success(), "sign.sh: {}", String::from_utf8_lossy(&done.stderr));
    let signature = std::fs::read(&output).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    signature
}

/// `POST /api/v1/me/signature`.
async fn submit(
    app: &TestApp,
    token: &str,
    challenge_id: &Value,
    signature: &[u8],
    certificate: Option<&[u8]>,
) -> (u16, Value) {
    let mut body = json!({ "challenge_id": challenge_id, "signature": B64.encode(signature) });
    if let Some(c) = certificate {
        body["certificate"] = json!(B64.encode(c));
    }
    call(app, "POST", "/api/v1/me/signature", token, Some(body)).await
}

/// The details of the journal entries with `action`, oldest first.
async fn journal_details(app: &TestApp, action: &str) -> Vec<Value> {
    sqlx::query("SELECT details FROM journal WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(app.db().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.get::<String, _>("details")).unwrap())
        .collect()
}

/// A multipart/form-data body as a browser sends it: (content type, body).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----uslugi-test-7f3a9c21";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match filename {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the page's form (multipart) → (status, HTML).
async fn submit_page(
    app: &TestApp,
    token: &str,
    parts: &[(&str, Option<&str>, &[u8])],
) -> (u16, String) {
    let (content_type, body) = multipart(parts);
    let r = app
        .http
        .post(app.url("/cabinet/confirm/signature"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn gost_confirms(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256", "p256"]).await;
    let token = standard_account(&app).await;
    let c = challenge(&app, &token).await;
    let text = c["text"].as_str().unwrap();
    assert!(
        text.starts_with("Подтверждаю личность в учётной записи портала Uslugi. Код запроса: ")
    );
    assert!(text.ends_with("Дата: 22.11.2026 12:00 (МСК)."), "{text}");
    assert_eq!(c["attempts_left"], json!(5));
    // The file to download holds exactly the same bytes, and the challenge is the same.
    let file = app
        .http
        .get(app.url("/cabinet/confirm/signature/challenge.txt"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status().as_u16(), 200);
    assert!(
        file.headers()["content-disposition"].to_str().unwrap().contains("challenge.txt"),
        "a download"
    );
    assert_eq!(file.bytes().await.unwrap().as_ref(), text.as_bytes());
    assert_eq!(challenge(&app, &token).await["id"], c["id"], "the live challenge is reused");

    let signature = sign(&citizen, "gost256", text.as_bytes());
    let (status, body) = submit(&app, &token, &c["id"], &signature, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["level"], json!("confirmed"));
    assert_eq!(body["algorithm"], json!("gost2012_256"));
    assert_eq!(body["issuer"], json!("Тестовый УЦ граждан gost256"));
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("confirmed"));

    let entries = journal_details(&app, "account.confirmed").await;
    assert_eq!(entries.len(), 1);
    let details = &entries[0];
    assert_eq!(details["route"], json!("signature"));
    assert_eq!(details["algorithm"], json!("gost2012_256"));
    assert_eq!(details["issuer"], json!("Тестовый УЦ граждан gost256"));
    assert_eq!(details["serial"], body["serial"]);
    let written = details.to_string();
    for personal in ["12345678964", "770123456703", "Демидова", "Мария"] {
        assert!(!written.contains(personal), "no personal data in the journal: {written}");
    }
    let messages =
        app.outbox_when(|m| m.iter().any(|x| x["template"] == json!("account.confirmed"))).await;
    let told = messages.iter().find(|x| x["template"] == json!("account.confirmed")).unwrap();
    assert!(told["text"].as_str().unwrap().contains("квалифицированной электронной подписью"));

    // Used up: the same signature again changes nothing.
    let (status, body) = submit(&app, &token, &c["id"], &signature, None).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("already_confirmed")), "{body}");
    let page = app
        .http
        .get(app.url("/cabinet/confirm/signature"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"signature-done\""), "{page}");
    app.stop().await;
}
on_both!(a_gost_signature_of_the_challenge_confirms_the_account, gost_confirms);

async fn p256_confirms(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256", "p256"]).await;
    let token = standard_account(&app).await;
    let c = challenge(&app, &token).await;
    let signature = sign(&citizen, "p256", c["text"].as_str().unwrap().as_bytes());
    // The certificate may come as a file of its own (PEM here) besides the signature.
    let certificate = std::fs::read(citizen.join("p256/user.pem")).unwrap();
    let (status, body) = submit(&app, &token, &c["id"], &signature, Some(&certificate)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["algorithm"], json!("ecdsa_p256_sha256"));
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("confirmed"));
    assert_eq!(journal_details(&app, "account.confirmed").await[0]["route"], json!("signature"));
    app.stop().await;
}
on_both!(a_p256_signature_with_its_certificate_confirms_the_account, p256_confirms);

async fn refusals(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256", "p256"]).await;
    let token = standard_account(&app).await;
    let c = challenge(&app, &token).await;
    let text = c["text"].as_str().unwrap().as_bytes();

    // Someone else's certificate (another SNILS) from a trusted CA.
    let (status, body) =
        submit(&app, &token, &c["id"], &sign(&citizen, "othersnils", text), None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], json!("subject_mismatch"));
    assert_eq!(
        body["error"]["message"],
        json!(
            "Сертификат выдан не владельцу учётной записи: СНИЛС в сертификате не совпадает с \
             СНИЛС учётной записи"
        )
    );

    // A CA the server does not trust.
    let (status, body) =
        submit(&app, &token, &c["id"], &sign(&citizen, "untrusted", text), None).await;
    assert_eq!(status, 422, "{body}");
    let code = body["error"]["code"].as_str().unwrap();
    assert!(matches!(code, "issuer_not_found" | "untrusted_issuer"), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Посторонний УЦ граждан"));

    // A good certificate, but over other content.
    let other = sign(&citizen, "gost256", "Подтверждаю что-то другое".as_bytes());
    let (status, body) = submit(&app, &token, &c["id"], &other, None).await;
    assert_eq!((status, &body["error"]["code"]), (422, &json!("content_mismatch")), "{body}");

    // Oversize or broken files are named by field and cost no attempt.
    let big = vec![b'A'; 64 * 1024 + 1];
    let (status, body) = submit(&app, &token, &c["id"], &big, Some(&big)).await;
    assert_eq!(status, 422, "{body}");
    let fields: Vec<&str> = body["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["signature", "certificate"], "{body}");
    assert!(body["error"]["fields"][0]["message"].as_str().unwrap().contains("файл подписи"));
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/me/signature",
        &token,
        Some(json!({"challenge_id": c["id"], "signature": "не base64"})),
    )
    .await;
    assert_eq!((status, &body["error"]["fields"][0]["field"]), (422, &json!("signature")));
    // The page's form says the same, naming the field.
    let id = c["id"].as_str().unwrap().as_bytes();
    let (status, html) = submit_page(
        &app,
        &token,
        &[
            ("challenge_id", None, id),
            ("certificate", Some(""), b""),
            ("signature", Some("big.sig"), &big),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("Файл подписи: файл подписи больше 64 КБ"), "{html}");
    assert!(html.contains("id=\"field-signature\" name=\"signature\" type=\"file\""));

    // Every refusal is journaled with its code and no personal data; the level stays.
    let refused = journal_details(&app, "signature.refused").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(refused[0], json!({"code": "subject_mismatch", "fields": ["snils"]}));
    assert_eq!(refused[2], json!({"code": "content_mismatch"}));
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));
    let journal = call(&app, "GET", "/api/v1/me/journal", &token, None).await.1;
    assert!(journal.to_string().contains("signature.refused"));

    // The challenge is still the live one, with two attempts left; the right signature
    // confirms (through the page's form this time).
    let again = challenge(&app, &token).await;
    assert_eq!((&again["id"], &again["attempts_left"]), (&c["id"], &json!(2)));
    let good = sign(&citizen, "gost256", text);
    let (status, _) = submit_page(
        &app,
        &token,
        &[
            ("challenge_id", None, id),
            ("certificate", Some(""), b""),
            ("signature", Some("sig.p7s"), &good),
        ],
    )
    .await;
    assert_eq!(status, 303, "redirect to the page after success");
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("confirmed"));
    app.stop().await;
}
on_both!(refused_signatures_are_named_journaled_and_leave_the_challenge_usable, refusals);

async fn expiry_and_attempts(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256"]).await;
    let token = standard_account(&app).await;

    // Five refused attempts use a challenge up, even for a right signature after them.
    let first = challenge(&app, &token).await;
    let other = sign(&citizen, "gost256", b"not the challenge");
    for _ in 0..5 {
        let (status, _) = submit(&app, &token, &first["id"], &other, None).await;
        assert_eq!(status, 422);
    }
    let good = sign(&citizen, "gost256", first["text"].as_str().unwrap().as_bytes());
    let (status, body) = submit(&app, &token, &first["id"], &good, None).await;
    assert_eq!((status, &body["error"]["code"]), (429, &json!("challenge_exhausted")), "{body}");

    // A fresh challenge, signed, but sent back after 31 minutes.
    let second = challenge(&app, &token).await;
    assert_ne!(second["id"], first["id"]);
    let signature = sign(&citizen, "gost256", second["text"].as_str().unwrap().as_bytes());
    app.clock.advance(chrono::Duration::minutes(31));
    // The idle session ended too: sign in again.
    let (status, session) = app
        .post_json(
            "/api/v1/sessions",
            json!({"login": PHONE, "password": crate::accounts::PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{session}");
    let token = session["session"].as_str().unwrap().to_owned();
    let (status, body) = submit(&app, &token, &second["id"], &signature, None).await;
    assert_eq!((status, &body["error"]["code"]), (410, &json!("challenge_expired")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("Скачайте новый запрос"));
    let (_, me) = app.me(&token).await;
    assert_eq!(me["level"], json!("standard"));

    // The next one, in time, confirms.
    let third = challenge(&app, &token).await;
    assert_ne!(third["id"], second["id"]);
    let signature = sign(&citizen, "gost256", third["text"].as_str().unwrap().as_bytes());
    let (status, body) = submit(&app, &token, &third["id"], &signature, None).await;
    assert_eq!(status, 200, "{body}");
    app.stop().await;
}
on_both!(an_expired_or_exhausted_challenge_is_refused, expiry_and_attempts);

async fn simplified(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256"]).await;
    let token = app.register(PHONE).await;
    let (status, body) = call(&app, "GET", "/api/v1/me/signature/challenge", &token, None).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("not_standard")), "{body}");
    let signature = sign(&citizen, "gost256", b"anything");
    let (status, body) = submit(&app, &token, &json!("no-such-challenge"), &signature, None).await;
    assert_eq!((status, &body["error"]["code"]), (409, &json!("not_standard")), "{body}");
    let page = app
        .http
        .get(app.url("/cabinet/confirm/signature"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"signature-need-standard\""), "{page}");
    assert!(journal_details(&app, "account.confirmed").await.is_empty());
    app.stop().await;
}
on_both!(a_simplified_account_cannot_confirm_by_signature, simplified);

async fn not_configured(backend: Backend) {
    // No material needed: the server has no roots at all.
    let app = TestApp::spawn_with(backend, |_, s| s.demo_data = true).await;
    assert!(app.dir.join("qes-roots").is_dir(), "created empty on start");
    let token = app.register(PHONE).await;
    let page = app
        .http
        .get(app.url("/cabinet/confirm/signature"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"signature-not-configured\""), "{html}");
    assert!(html.contains("на этом сервере не настроено"));
    let (status, body) = call(&app, "GET", "/api/v1/me/signature/challenge", &token, None).await;
    assert_eq!((status, &body["error"]["code"]), (503, &json!("signature_not_configured")));
    let (status, _) = submit(&app, &token, &json!("x"), b"x", None).await;
    assert_eq!(status, 503);
    app.stop().await;
}
on_both!(without_trusted_roots_the_route_says_it_is_not_configured, not_configured);

async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks what `locator` finds and waits for the next page.
async fn click_to_next_page(c: &Client, locator: Locator<'_>) {
    c.execute("document.body.dataset.old = '1'", vec![]).await.unwrap();
    c.find(locator).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Css("body:not([data-old])")).await.unwrap();
}

async fn in_the_browser(backend: Backend) {
    let Some(citizen) = material() else { return };
    let app = app_trusting(backend, &citizen, &["gost256"]).await;
    let token = standard_account(&app).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/login")).await.unwrap();
    fill(c, "field-login", PHONE).await;
    fill(c, "field-password", crate::accounts::PASSWORD).await;
    click_to_next_page(c, Locator::Css("#login-form button[type=submit]")).await;
    c.goto(&app.url("/cabinet/confirm")).await.unwrap();
    click_to_next_page(c, Locator::Id("route-signature-link")).await;
    let level = c.find(Locator::Id("account-level")).await.unwrap().text().await.unwrap();
    assert_eq!(level, "Стандартная");
    let shown = c.find(Locator::Id("challenge-text")).await.unwrap().text().await.unwrap();
    assert!(shown.contains("Код запроса:"), "{shown}");

    // The person downloads challenge.txt (the page's live challenge) and signs it.
    let text = app
        .http
        .get(app.url("/cabinet/confirm/signature/challenge.txt"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&text), shown);
    let files = scratch_dir();
    let signature_file = files.join("challenge.txt.sig");
    std::fs::write(&signature_file, sign(&citizen, "gost256", &text)).unwrap();
    let certificate_file = citizen.join("gost256/user.pem");

    // Choosing files: chromedriver takes a path typed into a file input.
    let input = c.find(Locator::Id("field-signature")).await.unwrap();
    input.send_keys(&signature_file.display().to_string()).await.unwrap();
    let input = c.find(Locator::Id("field-certificate")).await.unwrap();
    input.send_keys(&certificate_file.display().to_string()).await.unwrap();
    click_to_next_page(c, Locator::Css("#signature-form button[type=submit]")).await;
    let level = c.find(Locator::Id("account-level")).await.unwrap().text().await.unwrap();
    assert_eq!(level, "Подтверждённая");
    c.find(Locator::Id("signature-done")).await.unwrap();
    browser.close().await;
    std::fs::remove_dir_all(files).unwrap();
    app.stop().await;
}
on_both!(a_citizen_uploads_certificate_and_signature_in_the_browser, in_the_browser);

#[test]
fn qes_roots_are_read_at_start_and_a_bad_file_names_the_key() {
    let dir = scratch_dir().join("qes-roots");
    // Missing: created, and the route is off.
    assert!(uslugi::server::open_qes_roots(&dir).unwrap().is_none());
    assert!(dir.is_dir());
    std::fs::write(dir.join("readme.txt"), "not a certificate, and not read").unwrap();
    assert!(uslugi::server::open_qes_roots(&dir).unwrap().is_none());
    if let Some(citizen) = material() {
        std::fs::copy(citizen.join("gost256/ca.pem"), dir.join("a.pem")).unwrap();
        std::fs::copy(citizen.join("p256/ca.pem"), dir.join("b.crt")).unwrap();
        let trust = uslugi::server::open_qes_roots(&dir).unwrap().unwrap();
        assert_eq!(trust.certificates().len(), 2);
    }
    std::fs::write(dir.join("broken.cer"), "-----BEGIN CERTIFICATE-----\nMAA=\n").unwrap();
    let e = uslugi::server::open_qes_roots(&dir).unwrap_err();
    assert_eq!(e.key, "qes_roots", "{e}");
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}
