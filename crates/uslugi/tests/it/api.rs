//! The validation API and the operational endpoints.

use serde_json::{Value, json};

use crate::support::on_both_backends;

/// A query parameter besides `value` (the BIK for an account).
type Extra = Option<(&'static str, &'static str)>;

/// Every example of `shared/design/identifiers.md`: (kind, value, extra query, valid).
const IDENTIFIERS_MD: &[(&str, &str, Extra, bool)] = &[
    ("inn", "7707083893", None, true),
    ("inn", "1234567894", None, true),
    ("inn", "500100732259", None, true),
    ("inn", "123456789047", None, true),
    ("inn", "7707083894", None, false),
    ("inn", "123456789037", None, false),
    ("inn", "12345", None, false),
    ("snils", "112-233-445 95", None, true),
    ("snils", "11223344595", None, true),
    ("snils", "001-002-000 15", None, true),
    ("snils", "001-326-679 00", None, true),
    ("snils", "001-508-816 00", None, true),
    ("snils", "001-168-299 07", None, true),
    ("snils", "017-996-174 00", None, true),
    ("snils", "112-233-445 96", None, false),
    ("snils", "001-001-999 00", None, false),
    ("ogrn", "1027700132195", None, true),
    ("ogrn", "1037739010891", None, true),
    ("ogrn", "1027700132196", None, false),
    ("ogrnip", "385768585948949", None, true),
    ("ogrnip", "304500116000157", None, true),
    ("ogrnip", "304500116000180", None, true),
    ("ogrnip", "304500116000158", None, false),
    ("kpp", "773601001", None, true),
    ("kpp", "0108A4934", None, true),
    ("kpp", "77360100", None, false),
    ("kpp", "7736a1001", None, false),
    ("kpp", "A73601001", None, false),
    ("bik", "044525225", None, true),
    ("bik", "049805746", None, true),
    ("account", "30101810400000000225", Some(("bik", "044525225")), true),
    ("account", "40602810700000000025", Some(("bik", "049805746")), true),
    ("account", "40602810600000000025", Some(("bik", "049805746")), false),
    ("account", "30101810400000000226", Some(("bik", "044525225")), false),
    ("uin", "18810000000000000015", None, true),
    ("uin", "10000000000000000014", None, true),
    ("uin", "0321000000000000000000019", None, true),
    ("uin", "18810000000000000016", None, false),
    ("uin", "1881000000000000001", None, false),
    ("passport", "4510 123456", None, true),
    ("passport", "45 10", None, false),
    ("passport", "4510 12345", None, false),
    ("division-code", "770-001", None, true),
    ("division-code", "770001", None, false),
    ("phone", "+7 (916) 123-45-67", None, true),
    ("phone", "89161234567", None, true),
    ("email", "ivan@mail.ru", None, true),
    ("email", "иван@почта.рф", None, true),
    ("email", "ivan mail.ru", None, false),
    ("email", "ivan@mail", None, false),
    ("name", "Салтыков-Щедрин", None, true),
    ("name", "Ivanov", None, false),
    ("birth-date", "17.05.1990", None, true),
    ("birth-date", "01.01.2030", None, false),
    ("cadastral", "77:01:0001001:1234", None, true),
    ("cadastral", "77:01:1234", None, false),
];

on_both_backends! {
    async fn validation_agrees_with_identifiers_md(app) {
        for (kind, value, extra, valid) in IDENTIFIERS_MD {
            let mut query = vec![("value", *value)];
            query.extend(extra.iter().copied());
            let (status, body) = app.validate(kind, &query).await;
            assert_eq!(status, 200, "{kind} {value}");
            assert_eq!(body["valid"], json!(valid), "{kind} {value}: {body}");
            if *valid {
                assert!(body["normalized"].is_string(), "{kind} {value}: {body}");
                assert_eq!(body["error"], Value::Null);
            } else {
                assert_eq!(body["normalized"], Value::Null);
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.chars().any(|c| matches!(c, 'а'..='я')), "Russian: {message}");
                assert!(body["error"]["code"].is_string());
            }
        }
    }
}

on_both_backends! {
    async fn messages_say_what_is_wrong(app) {
        let cases = [
            ("snils", "112-233-445 96", "checksum", "неверное контрольное число"),
            ("snils", "112-233-445", "length", "должно быть 11 цифр"),
            ("inn", "12345", "length", "должно быть 10 или 12 цифр"),
            ("inn", "", "empty", "не заполнено"),
            ("uin", "00000000000000000000", "zeros", "не может состоять из одних нулей"),
            ("account", "40602810700000000025", "requires", "для проверки укажите БИК"),
            ("birth-date", "31.02.2000", "no_such_date", "такой даты не существует"),
            ("birth-date", "23.11.2012", "age", "возраст должен быть от 14 до 130 лет"),
        ];
        for (kind, value, code, message) in cases {
            let (_, body) = app.validate(kind, &[("value", value)]).await;
            assert_eq!(body["error"]["code"], json!(code), "{kind} {value}");
            assert_eq!(body["error"]["message"], json!(message), "{kind} {value}");
        }
        // No value at all is an empty value, not a malformed request.
        let (status, body) = app.validate("inn", &[]).await;
        assert_eq!((status, body["error"]["code"].clone()), (200, json!("empty")));
    }
}

on_both_backends! {
    async fn values_come_back_normalized(app) {
        let cases = [
            ("snils", "11223344595", "112-233-445 95"),
            ("phone", "8 (916) 123-45-67", "+79161234567"),
            ("email", "Иван@Почта.РФ", "Иван@почта.рф"),
            ("passport", "4510123456", "4510 123456"),
            ("name", "  Анна   Мария ", "Анна Мария"),
            ("birth-date", "1990-05-17", "17.05.1990"),
        ];
        for (kind, value, normalized) in cases {
            let (_, body) = app.validate(kind, &[("value", value)]).await;
            assert_eq!(body["normalized"], json!(normalized), "{kind} {value}");
        }
    }
}

on_both_backends! {
    async fn birth_dates_are_judged_by_the_injected_clock(app) {
        // On 22.11.2026 someone born 22.11.2012 has just turned 14.
        let (_, body) = app.validate("birth-date", &[("value", "22.11.2012")]).await;
        assert_eq!(body["valid"], json!(true));
        let (_, body) = app.validate("birth-date", &[("value", "23.11.2012")]).await;
        assert_eq!(body["valid"], json!(false));
        app.clock.advance(chrono::Duration::days(1));
        let (_, body) = app.validate("birth-date", &[("value", "23.11.2012")]).await;
        assert_eq!(body["valid"], json!(true));
    }
}

on_both_backends! {
    async fn unknown_kind_is_a_json_404(app) {
        let (status, body) = app.validate("passport-of-mars", &[("value", "1")]).await;
        assert_eq!(status, 404);
        assert_eq!(body["valid"], json!(false));
        assert_eq!(body["error"]["code"], json!("unknown_kind"));
        assert!(body["error"]["message"].as_str().unwrap().contains("snils"));
    }
}

on_both_backends! {
    async fn api_errors_are_json_in_russian(app) {
        let r = app.get("/api/v1/nothing-here").await;
        assert_eq!(r.status().as_u16(), 404);
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, json!({"error": {"code": "not_found", "message": "Страница не найдена"}}));

        let r = app.http.post(app.url("/api/v1/validate/inn")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("method_not_allowed"));
    }
}

on_both_backends! {
    async fn operational_endpoints(app) {
        let r = app.get("/healthz").await;
        assert_eq!(r.status().as_u16(), 200);
        let r = app.get("/readyz").await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.json::<Value>().await.unwrap(), json!({"status": "ready"}));
        app.validate("inn", &[("value", "7707083893")]).await;
        // A group commit, whose size and duration are measured.
        app.db()
            .shared(|tx| {
                Box::pin(async move {
                    sqlx::query("SELECT 1").execute(tx).await.map(drop).map_err(store::StoreError::from)
                })
            })
            .await
            .unwrap();
        let metrics = app.get("/metrics").await.text().await.unwrap();
        assert!(metrics.contains("http_requests_total"), "{metrics}");
        assert!(metrics.contains("db_group_commit_size"), "{metrics}");
        assert!(metrics.contains("db_group_commit_seconds"), "{metrics}");
        assert!(metrics.contains("route=\"/api/v1/validate/{kind}\""), "route templates, not raw paths");
        assert!(!metrics.contains("7707083893"), "no values in metrics");
    }
}

on_both_backends! {
    async fn readiness_fails_when_the_database_is_gone(app) {
        app.db().close().await;
        let r = app.get("/readyz").await;
        assert_eq!(r.status().as_u16(), 503);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("unavailable"));
    }
}

on_both_backends! {
    async fn every_response_carries_security_headers_and_a_request_id(app) {
        for path in ["/", "/check", "/api/v1/validate/inn?value=1", "/nope", "/static/style.css"] {
            let r = app.get(path).await;
            let h = r.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}");
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
            assert_eq!(h["x-request-id"].len(), 36, "{path}");
        }
    }
}

on_both_backends! {
    async fn calendar_years_as_the_decrees_give_them(app) {
        let body: Value = app.get("/api/v1/calendar/2025").await.json().await.unwrap();
        assert_eq!(body["working_days"], json!(247));
        assert_eq!(body["provisional"], json!(false));
        assert_eq!(body["working_weekends"], json!(["2025-11-01"]));
        let days_off = body["days_off"].as_array().unwrap();
        assert!(days_off.contains(&json!("2025-05-02")) && days_off.contains(&json!("2025-12-31")));
        let body: Value = app.get("/api/v1/calendar/2024").await.json().await.unwrap();
        assert_eq!(body["working_days"], json!(248));

        let r = app.get("/api/v1/calendar/2031").await;
        assert_eq!(r.status().as_u16(), 404);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("not_covered"));
        assert_eq!(body["error"]["message"], json!("нет производственного календаря на 2031 год"));
        let r = app.get("/api/v1/calendar/twenty").await;
        assert_eq!(r.status().as_u16(), 400);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["message"], json!("Неверный запрос"));
    }
}

on_both_backends! {
    async fn deadlines_count_working_days(app) {
        let body: Value =
            app.get("/api/v1/deadline?from=2025-10-31&working_days=2").await.json().await.unwrap();
        assert_eq!(body["date"], json!("2025-11-05"), "1 November is worked, 3–4 are off");
        // Without `from` the count starts today (the injected clock: Sunday 22.11.2026).
        let body: Value = app.get("/api/v1/deadline?working_days=1").await.json().await.unwrap();
        assert_eq!((body["from"].clone(), body["date"].clone()), (json!("2026-11-22"), json!("2026-11-23")));

        let r = app.get("/api/v1/deadline?from=31.10.2025&working_days=2").await;
        assert_eq!(r.status().as_u16(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("from"));
        let r = app.get("/api/v1/deadline?from=2025-10-31&working_days=-1").await;
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], json!("working_days"));
        let r = app.get("/api/v1/deadline?from=2027-12-20&working_days=30").await;
        assert_eq!(r.status().as_u16(), 404);
    }
}

mod operators_add_calendar_years {
    use super::*;

    #[tokio::test]
    async fn from_the_calendar_directory() {
        let app = crate::support::TestApp::spawn_with(store::Backend::Sqlite, |dir, _| {
            std::fs::create_dir_all(dir.join("calendar")).unwrap();
            std::fs::write(
                dir.join("calendar/2028.toml"),
                "year = 2028\nsource = \"test decree\"\ndays_off = [\"2028-01-03\"]\nworking_weekends = [\"2028-01-08\"]\n",
            )
            .unwrap();
        })
        .await;
        let body: Value = app.get("/api/v1/calendar/2028").await.json().await.unwrap();
        assert_eq!(body["source"], json!("test decree"));
        assert_eq!(body["working_weekends"], json!(["2028-01-08"]));
        app.stop().await;
    }
}

on_both_backends! {
    async fn every_documented_operation_exists(app) {
        let doc: Value = app.get("/api/v1/openapi.json").await.json().await.unwrap();
        assert_eq!(doc["openapi"], json!("3.1.0"));
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() >= 20);
        for (path, ops) in paths {
            let concrete = path
                .replace("{kind}", "inn")
                .replace("{year}", "2025")
                .replace("{token}", "no-such-token")
                .replace("{id}", "egrn-extract")
                .replace("{client}", "eis")
                .replace("{transition}", "cancel")
                .replace("{number}", "2026-0000001-R")
                .replace("{file}", "no-such-file");
            for method in ops.as_object().unwrap().keys() {
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let r = app.http.request(m, app.url(&concrete)).json(&json!({})).send().await.unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                assert_ne!(status, 405, "{method} {path} is routed");
                assert!(
                    !(status == 404 && body["error"]["code"] == json!("not_found")),
                    "{method} {path} is routed: {body}"
                );
            }
        }
    }
}
