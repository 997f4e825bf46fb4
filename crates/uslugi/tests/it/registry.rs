//! The state registries: embedded checks, import with rejected rows, the generator, and
//! the HTTP adapter against a real gateway (`uslugi registry serve`'s router).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use registry::{
    EmbeddedRegistry, HttpRegistry, HttpSettings, InnVerdict, PersonQuery, PersonRecord, Registry,
    RegistryError, Verdict,
};

use crate::support::{TestApp, on_both_backends};

fn embedded(app: &TestApp) -> EmbeddedRegistry {
    EmbeddedRegistry::new(app.db().clone(), Arc::new(store::vault::Vault::new(&[7; 32], &[])))
}

fn query_for(r: &PersonRecord) -> PersonQuery {
    PersonQuery {
        surname: r.surname.to_uppercase(),
        given_name: r.given_name.clone(),
        patronymic: r.patronymic.clone(),
        birth_date: r.birth_date,
        passport: r.passport.clone(),
        passport_issued_on: r.passport_issued_on,
        passport_division: r.passport_division.clone(),
        snils: r.snils.clone(),
        inn: None,
    }
}

fn refused(reason: &str) -> Verdict {
    Verdict::Refused { reason: reason.into() }
}

async fn load_starter(app: &TestApp) -> EmbeddedRegistry {
    let registry = embedded(app);
    registry::demo::load_starter(&registry).await.unwrap();
    registry
}

on_both_backends! {
    async fn embedded_checks_confirm_and_refuse_per_document(app) {
        let registry = load_starter(&app).await;
        assert_eq!(registry.counts().await.unwrap(), (202, 3, 50));
        let maria = registry::demo::demo_citizen();
        let check = registry.check_person(&query_for(&maria)).await.unwrap();
        assert!(check.is_confirmed(), "{check:?}");
        assert_eq!(check.inn, InnVerdict::Confirmed { inn: maria.inn.clone().unwrap() });

        let mut wrong = query_for(&maria);
        wrong.birth_date = NaiveDate::from_ymd_opt(1988, 4, 13).unwrap();
        wrong.inn = maria.inn.clone();
        let check = registry.check_person(&wrong).await.unwrap();
        assert!(!check.is_confirmed());
        assert!(matches!(&check.passport, Verdict::Refused { reason } if reason.contains("другому человеку")));
        assert!(matches!(&check.snils, Verdict::Refused { reason } if reason.contains("СНИЛС принадлежит")));
        assert_eq!(check.inn, InnVerdict::Refused { reason: "ИНН принадлежит другому человеку".into() });

        let mut unknown = query_for(&maria);
        unknown.passport = domain::ident::Passport::parse("4510 000001").unwrap();
        unknown.snils = domain::ident::Snils::parse("112-233-445 95").unwrap();
        let check = registry.check_person(&unknown).await.unwrap();
        assert_eq!(check.passport, refused("Паспорт с такими серией и номером не найден в МВД"));
        assert_eq!(check.snils, refused("СНИЛС не найден в Социальном фонде России"));

        let (petrov, _) = registry::demo::demo_replaced_passport();
        let check = registry.check_person(&query_for(&petrov)).await.unwrap();
        assert_eq!(check.passport, refused("Паспорт недействителен: заменён в связи с достижением 45 лет"));
        assert!(check.snils.is_confirmed());
        assert_eq!(check.inn, InnVerdict::NotAssigned);

        // Generated persons check out too, and organizations are found by INN and ОГРН.
        let generated = registry::demo::persons(2026, 7, 1).remove(0);
        assert!(registry.check_person(&query_for(&generated)).await.unwrap().is_confirmed());
        let org = registry::demo::organizations(2026, 3, 1).remove(0);
        let by_inn = registry.organization(org.inn.as_str()).await.unwrap().unwrap();
        assert_eq!(by_inn, org);
        assert_eq!(registry.organization(&org.ogrn).await.unwrap().unwrap().inn, org.inn);
        assert_eq!(registry.organization("7707083893").await.unwrap(), None);
    }
}

on_both_backends! {
    async fn import_loads_good_rows_and_reports_bad_ones_with_line_and_field(app) {
        let registry = embedded(&app);
        let csv = "\
surname,given_name,patronymic,birth_date,birth_place,passport,passport_issued_on,passport_issued_by,passport_division,snils,inn,address
Смирнова,Ольга,Петровна,03.07.1991,г. Казань,9204 123456,15.07.2011,МВД по Республике Татарстан,160-004,112-233-445 95,500100732259,\"г. Казань, ул. Баумана, д. 1\"
Smith,Ольга,,03.07.1991,г. Казань,9204 123457,15.07.2011,МВД,160-004,123-456-789 64,,г. Казань
Орлов,Иван,,31.02.1980,г. Омск,5200 111111,01.03.2000,УВД,550-001,123-456-789 65,,г. Омск
Орлов,Иван,,01.02.1980,г. Омск,9204 123456,01.03.2000,УВД,550-001,112-233-445 95,,г. Омск
Кимов,Ким,,01.02.1980,г. Омск,5200 222222,01.03.1979,УВД,550-01,
";
        let path = app.dir.join("persons.csv");
        std::fs::write(&path, csv).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let mut calls = 0;
        let summary =
            registry::import::import_file(&registry, &path, today, &mut |_| calls += 1).await.unwrap();
        assert!(calls >= 1);
        assert_eq!(summary.persons, 1);
        let said: Vec<String> = summary.rejected.iter().map(ToString::to_string).collect();
        let has = |line: u64, field: &str, reason: &str| {
            assert!(
                summary.rejected.iter().any(|r| r.line == line && r.field == field && r.reason.contains(reason)),
                "no «{field}» on line {line} with «{reason}» in {said:#?}"
            );
        };
        has(3, "Фамилия", "русские буквы");
        has(4, "Дата рождения", "такой даты не существует");
        has(4, "СНИЛС", "контрольн");
        has(5, "СНИЛС", "уже встречалось");
        has(5, "Серия и номер паспорта", "уже встречалось");
        has(6, "запись", "значений");
        assert!(said[0].starts_with("строка 3, поле «Фамилия»"), "{said:?}");

        let loaded = registry.person_by_snils(&"112-233-445 95".parse().unwrap()).await.unwrap().unwrap();
        assert_eq!((loaded.surname.as_str(), loaded.address.as_str()), ("Смирнова", "г. Казань, ул. Баумана, д. 1"));

        // JSON, organizations and invalid passports; a wrong kind of INN is named.
        let json = serde_json::json!({
            "organizations": [
                {"kind": "legal", "inn": "7707083893", "ogrn": "1027700132195", "kpp": "773601001",
                 "name": "ПАО «Пример»", "status": "Действующее", "registered_on": "1991-06-20",
                 "address": "г. Москва, ул. Вавилова, д. 19", "head_name": "Иванов Иван Иванович",
                 "head_position": "Президент", "activities": "64.19 Денежное посредничество прочее"},
                {"kind": "legal", "inn": "500100732259", "ogrn": "1027700132195", "name": "ООО «Ошибка»",
                 "status": "Действующее", "registered_on": "2001-01-01", "address": "г. Москва"}
            ],
            "invalid_passports": [{"passport": "9204 123456", "reason": "утрачен", "since": "2025-01-10"}]
        });
        let path = app.dir.join("mixed.json");
        std::fs::write(&path, json.to_string()).unwrap();
        let summary =
            registry::import::import_file(&registry, &path, today, &mut |_| {}).await.unwrap();
        assert_eq!((summary.organizations, summary.invalid_passports), (1, 1));
        assert!(summary.rejected.iter().any(|r| r.line == 2 && r.field == "ИНН" && r.reason.contains("10 цифр")), "{:?}", summary.rejected);
        assert!(summary.rejected.iter().any(|r| r.line == 2 && r.field == "КПП"), "{:?}", summary.rejected);
        let org = registry.organization("1027700132195").await.unwrap().unwrap();
        assert_eq!(org.head.unwrap().position, "Президент");
        assert_eq!(org.activities[0].code, "64.19");
        let check = registry.check_person(&query_for(&loaded)).await.unwrap();
        assert_eq!(check.passport, refused("Паспорт недействителен: утрачен"));

        // A file that says nothing about its contents is refused as a whole.
        let path = app.dir.join("odd.csv");
        std::fs::write(&path, "name,phone\nА,1\n").unwrap();
        let e = registry::import::import_file(&registry, &path, today, &mut |_| {}).await.unwrap_err();
        assert!(e.to_string().contains("по заголовку не понять"), "{e}");
    }
}

/// Serves the gateway router over `registry` on a free port.
async fn gateway(
    registry: EmbeddedRegistry,
    token: Option<&str>,
) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = uslugi::gateway::router(registry, token.map(str::to_owned));
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (url, task)
}

fn http_settings(url: &str) -> HttpSettings {
    let mut s = HttpSettings::new(url);
    s.backoff = Duration::ZERO;
    s.timeout = Duration::from_secs(5);
    s
}

on_both_backends! {
    async fn the_http_adapter_gets_the_same_answers_through_a_real_gateway(app) {
        let embedded = load_starter(&app).await;
        let (url, task) = gateway(embedded.clone(), Some("s3cret")).await;
        let mut settings = http_settings(&url);
        settings.token = Some("s3cret".into());
        let http = Registry::Http(HttpRegistry::new(settings).unwrap());
        let maria = registry::demo::demo_citizen();
        let mut q = query_for(&maria);
        assert_eq!(http.check_person(&q).await.unwrap(), embedded.check_person(&q).await.unwrap());
        q.passport_division = "770-006".parse().unwrap();
        let check = http.check_person(&q).await.unwrap();
        assert_eq!(check.passport, refused("Код подразделения не совпадает с данными МВД"));
        let org = registry::demo::organizations(2026, 0, 1).remove(0);
        assert_eq!(http.organization(org.inn.as_str()).await.unwrap(), Some(org));
        assert_eq!(http.organization("7707083893").await.unwrap(), None);

        // A wrong token is the gateway refusing us, not the gateway being down.
        let mut wrong = http_settings(&url);
        wrong.token = Some("guess".into());
        let e = HttpRegistry::new(wrong).unwrap().check_person(&q).await.unwrap_err();
        assert!(!e.is_transient(), "{e}");
        task.abort();
    }
}

#[tokio::test]
async fn an_unreachable_gateway_is_unavailable_and_opens_the_circuit() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = http_settings(&format!("http://127.0.0.1:{port}"));
    settings.attempts = 2;
    settings.breaker_threshold = 2;
    settings.breaker_cooldown = Duration::from_secs(3600);
    let http = HttpRegistry::new(settings).unwrap();
    let q = query_for(&registry::demo::demo_citizen());
    for _ in 0..2 {
        let e = http.check_person(&q).await.unwrap_err();
        assert!(matches!(e, RegistryError::Unavailable(_)) && e.is_transient(), "{e}");
        assert!(!e.to_string().contains("circuit"), "{e}");
    }
    assert!(http.circuit_open());
    let e = http.check_person(&q).await.unwrap_err();
    assert!(e.to_string().contains("circuit open"), "fails fast while open: {e}");
}
