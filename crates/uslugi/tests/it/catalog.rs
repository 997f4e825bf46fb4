//! The service catalog: pages, search, the JSON API, operators' definitions, and the
//! live search in Chromium. The catalog does not touch the database, so these run on
//! SQLite only.

use fantoccini::Locator;
use serde_json::json;
use store::Backend;

use crate::browser::Browser;
use crate::support::TestApp;

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let r = app.get(path).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn api(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    let r = app.get(path).await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_lists_searches_and_describes_services() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, html) = page(&app, "/services").await;
    assert_eq!(status, 200);
    assert!(html.contains("Популярные услуги"));
    assert!(html.contains("href=\"/services/egrn-extract\">Выписка из ЕГРН</a>"), "{html}");
    assert!(html.contains("href=\"/services?category=family\">Семья и ЗАГС</a>"));
    assert!(html.contains("aria-current=\"page\">Услуги</a>"), "the header marks the section");

    // Word forms: «выписки из егрн» finds «Выписка из ЕГРН» first.
    let (_, html) = page(&app, "/services?q=%D0%B2%D1%8B%D0%BF%D0%B8%D1%81%D0%BA%D0%B8+%D0%B8%D0%B7+%D0%B5%D0%B3%D1%80%D0%BD").await;
    let first = html.find("data-service=\"").map(|i| &html[i + 14..i + 40]).unwrap();
    assert!(first.starts_with("egrn-extract"), "{first}");
    assert!(html.contains("Найдено по запросу «выписки из егрн»"));
    // Nothing found, said so; what was typed is escaped.
    let (status, html) = page(&app, "/services?q=%3Cscript%3Ezzzz").await;
    assert_eq!(status, 200);
    assert!(html.contains("Ничего не нашлось"));
    assert!(
        html.contains("&#60;script&#62;zzzz") || html.contains("&lt;script&gt;zzzz"),
        "escaped"
    );
    assert!(!html.contains("<script>zzzz"));
    // A category.
    let (status, html) = page(&app, "/services?category=family").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Семья и ЗАГС</h1>"));
    assert!(html.contains("data-service=\"marriage-registration\""));
    assert!(!html.contains("data-service=\"egrn-extract\""));
    let (status, html) = page(&app, "/services?category=nothing").await;
    assert_eq!(status, 404);
    assert!(html.contains("Категории «nothing» нет в каталоге"), "{html}");

    // A service page: who, what is needed, how long, how much.
    let (status, html) = page(&app, "/services/egrn-extract").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1 id=\"service-title\">Выписка из ЕГРН</h1>"));
    assert!(html.contains("Физические лица, индивидуальные предприниматели, юридические лица"));
    assert!(html.contains("стандартная или выше"));
    assert!(html.contains("<dd id=\"fact-term\">3 рабочих дня</dd>"));
    assert!(html.contains("id=\"apply-login\""), "anonymous visitors are asked to sign in");
    let (_, html) = page(&app, "/services/egrn-extract?refused=level").await;
    assert!(html.contains("Для этой услуги нужна стандартная учётная запись"), "{html}");
    let (_, html) = page(&app, "/services/egrn-extract?refused=%3Cb%3Ecall%20us").await;
    assert!(!html.contains("call us"), "only known refusals are shown");
    assert!(html.contains("350 ₽"));
    assert!(
        html.contains("Кадастровый номер <span class=\"hint\">— кадастровый номер</span>"),
        "{html}"
    );
    assert!(html.contains("Паспорт заявителя <span class=\"hint\">— серия и номер паспорта, заполнится из профиля</span>"));
    let (_, html) = page(&app, "/services/passport-replacement").await;
    assert!(
        html.contains("Фотография 35×45 мм <span class=\"hint\">— JPG, PNG, до 2 МБ</span>"),
        "{html}"
    );
    assert!(html.contains("Оплатите 1\u{202f}500 ₽"));
    let (status, html) = page(&app, "/services/no-such-service").await;
    assert_eq!(status, 404);
    assert!(html.contains("Страница не найдена"));

    // The API says the same.
    let (status, body) = api(&app, "/api/v1/services?q=%D1%81%D0%BF%D1%80%D0%B0%D0%B2%D0%BA%D0%B0%20%D0%BE%20%D1%81%D1%83%D0%B4%D0%B8%D0%BC%D0%BE%D1%81%D1%82%D0%B8").await;
    assert_eq!(status, 200);
    assert_eq!(body["services"][0]["id"], json!("criminal-record-certificate"));
    assert_eq!(body["partial"], json!(false));
    let (status, body) = api(&app, "/api/v1/services/egrn-extract").await;
    assert_eq!(status, 200);
    assert_eq!(body["service"]["fee"]["kopecks"], json!(35000));
    assert_eq!(body["service"]["min_level"], json!("standard"));
    assert_eq!(body["agency"]["name"], json!("Росреестр"));
    assert_eq!(body["term"], json!("3 рабочих дня"));
    let cadastral = body["service"]["form"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cadastral_number")
        .unwrap();
    assert_eq!(
        (cadastral["type"].clone(), cadastral["kind"].clone()),
        (json!("identifier"), json!("cadastral"))
    );
    assert!(body["states"].as_array().unwrap().iter().any(|s| s["title"] == "Требуется уточнение"));
    let (status, body) = api(&app, "/api/v1/services/no-such-service").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("unknown_service"));
    let (_, list) = api(&app, "/api/v1/services?limit=50").await;
    let (_, categories) = api(&app, "/api/v1/service-categories").await;
    let counted: u64 =
        categories.as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(counted as usize, list["services"].as_array().unwrap().len());
    let (status, body) = api(&app, "/api/v1/services?category=nothing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("unknown_category"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_add_services_and_a_broken_definition_stops_the_start() {
    let own = r#"id = "fishing-permit"
title = "Разрешение на любительское рыболовство"
summary = "Путёвка на вылов водных биоресурсов."
description = "Для водоёмов с ограниченным выловом."
category = "certificates"
agency = "mvd"
applicants = ["person"]
min_level = "simplified"

[deadline]
working_days = 2
review = "manual"

[[form]]
id = "lake"
label = "Водоём"
type = "text"
required = true

[result]
title = "Разрешение"
body = "Выдано {заявитель} на {lake}."
"#;
    let app = TestApp::spawn_with(Backend::Sqlite, |dir, _| {
        std::fs::create_dir_all(dir.join("services/catalog")).unwrap();
        std::fs::write(dir.join("services/catalog/fishing-permit.toml"), own).unwrap();
    })
    .await;
    // «рыболовства» finds it by word form.
    let (_, body) = api(
        &app,
        "/api/v1/services?q=%D1%80%D1%8B%D0%B1%D0%BE%D0%BB%D0%BE%D0%B2%D1%81%D1%82%D0%B2%D0%B0",
    )
    .await;
    assert_eq!(body["services"][0]["id"], json!("fishing-permit"));
    let (_, body) = api(&app, "/api/v1/services/fishing-permit").await;
    assert_eq!(body["service"]["title"], json!("Разрешение на любительское рыболовство"));
    let mut settings = app.settings.clone();
    app.stop().await;

    // A directory with a mistake: the server does not start, and says where.
    let dir = crate::support::scratch_dir();
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    let broken = own.replace("agency = \"mvd\"", "agency = \"rybnadzor\"");
    std::fs::write(dir.join("catalog/fishing-permit.toml"), broken).unwrap();
    settings.services_dir = dir;
    settings.listen = "127.0.0.1:0".parse().unwrap();
    let clock = std::sync::Arc::new(domain::ManualClock::new(crate::support::test_now()));
    let Err(err) = uslugi::server::start(&settings, clock).await else {
        panic!("the start is refused");
    };
    let text = format!("{err:#}");
    assert!(
        text.contains(
            "fishing-permit.toml, строка 6: ведомство «rybnadzor» не описано в agencies.toml"
        ),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_finds_a_service_as_they_type_and_opens_it() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let browser = Browser::start().await;
    let c = &browser.client;
    c.goto(&app.url("/")).await.unwrap();
    let q = c.find(Locator::Id("home-q")).await.unwrap();
    q.send_keys("справка о доходах\u{e007}").await.unwrap();
    c.wait()
        .for_element(Locator::Css("#catalog-list li[data-service='income-certificate']"))
        .await
        .unwrap();
    // Live search: typing changes the list without submitting (a typo included).
    let q = c.find(Locator::Id("catalog-q")).await.unwrap();
    q.clear().await.unwrap();
    q.send_keys("судимст").await.unwrap();
    c.wait()
        .for_element(Locator::Css(
            "#catalog-list li:first-child[data-service='criminal-record-certificate']",
        ))
        .await
        .unwrap();
    assert!(c.current_url().await.unwrap().as_str().contains("q="), "the address keeps the query");
    c.find(Locator::Css("#catalog-list li:first-child h3 a")).await.unwrap().click().await.unwrap();
    let title = c.wait().for_element(Locator::Id("service-title")).await.unwrap();
    assert_eq!(title.text().await.unwrap(), "Справка о наличии (отсутствии) судимости");
    let term = c.find(Locator::Id("fact-term")).await.unwrap().text().await.unwrap();
    assert_eq!(term, "22 рабочих дня");
    browser.close().await;
    app.stop().await;
}
