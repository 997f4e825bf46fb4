//! Personal-data rights and last-resort recovery through the API: recovery by passport
//! with a temporary password that must be changed, «Мои данные» (JSON and PDF) with
//! exactly one person's data, blocking, and closing with erasure after 30 days.

use chrono::Duration;
use serde_json::{Value, json};

use crate::accounts::PASSWORD;
use crate::documents::{documents_when, maria};
use crate::support::{TestApp, on_both_backends};

const PHONE: &str = "+79161234567";

impl TestApp {
    /// Registers `phone` and makes the account standard with the demo person's documents.
    pub async fn register_standard(&self, phone: &str) -> String {
        let token = self.register(phone).await;
        let (status, body) = self.call("POST", "/api/v1/me/documents", &token, maria()).await;
        assert_eq!(status, 202, "{body}");
        documents_when(self, &token, "verified").await;
        token
    }
}

fn passport_form(inn: &str) -> Value {
    json!({"passport_series": "4510", "passport_number": "654321", "birth_date": "12.04.1988", "inn": inn})
}

on_both_backends! {
    demo async fn recovery_by_passport_gives_a_temporary_password_that_must_be_changed(app) {
        let session = app.register_standard(PHONE).await;
        // Fields are checked first, each named.
        let (status, body) = app.post_json("/api/v1/recoveries/passport",
            json!({"passport_series": "45", "passport_number": "654321", "birth_date": "31.02.1988", "inn": ""})).await;
        assert_eq!(status, 422);
        let fields: Vec<&str> = body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["passport", "birth_date", "inn"], "{body}");
        // Data that does not match the verified documents: one answer for any mismatch.
        let (status, body) = app.post_json("/api/v1/recoveries/passport", passport_form("500100732259")).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("passport_mismatch")), "{body}");
        assert_eq!(app.me(&session).await.0, 200, "nothing changed");

        let (status, body) = app.post_json("/api/v1/recoveries/passport", passport_form("770123456703")).await;
        assert_eq!(status, 201, "{body}");
        let temporary = body["temporary_password"].as_str().unwrap().to_owned();
        assert_eq!(temporary.len(), 14);
        assert_eq!(app.me(&session).await.0, 401, "every session ended");
        let notices = app.outbox(Some(PHONE)).await;
        assert!(notices.iter().any(|m| m["template"] == json!("password.temporary")));

        // The temporary password signs in only to be changed.
        let (status, body) = app.sign_in(PHONE, &temporary).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["must_change_password"], json!(true));
        let limited = body["session"].as_str().unwrap().to_owned();
        let (status, body) = app.me(&limited).await;
        assert_eq!((status, body["error"]["code"].clone()), (403, json!("password_change_required")));
        let new = "Синий-Слон-Летит-7!";
        let (status, body) = app.call("POST", "/api/v1/me/password", &limited,
            json!({"current": temporary, "password": new, "repeat": new})).await;
        assert_eq!(status, 204, "{body}");
        assert_eq!(app.me(&limited).await.0, 200, "the session is whole again");
        let (status, body) = app.sign_in(PHONE, new).await;
        assert_eq!((status, body["must_change_password"].clone()), (201, json!(false)));
        assert_eq!(app.sign_in(PHONE, &temporary).await.0, 401);
    }
}

on_both_backends! {
    async fn a_simplified_account_cannot_be_recovered_by_passport(app) {
        app.register(PHONE).await;
        let (status, body) = app.post_json("/api/v1/recoveries/passport", passport_form("770123456703")).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("passport_mismatch")));
        // Five misses from one address block further tries for an hour.
        for _ in 0..4 {
            app.post_json("/api/v1/recoveries/passport", passport_form("770123456703")).await;
        }
        let (status, body) = app.post_json("/api/v1/recoveries/passport", passport_form("770123456703")).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("too_many_attempts")), "{body}");
    }
}

on_both_backends! {
    demo async fn the_export_holds_every_field_and_nothing_of_another_person(app) {
        let other = app.register("+79169998877").await;
        let token = app.register_standard(PHONE).await;
        let (_, other_me) = app.me(&other).await;
        let r = app.http.get(app.url("/api/v1/me/export")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        assert_eq!(r.headers()["cache-control"], "no-store");
        let text = r.text().await.unwrap();
        let export: Value = serde_json::from_str(&text).unwrap();
        for key in ["id", "surname", "given_name", "patronymic", "level", "status", "created_at",
                    "password_changed_at", "terms_version", "terms_accepted_at", "pd_version", "pd_accepted_at"] {
            assert!(export["account"][key].is_string(), "account.{key}: {export}");
        }
        assert_eq!(export["account"]["surname"], json!("Демидова"));
        assert_eq!(export["account"]["level"], json!("стандартная"));
        assert_eq!(export["contacts"][0]["value"], json!(PHONE));
        for (key, want) in [("passport", "4510 654321"), ("snils", "123-456-789 64"), ("inn", "770123456703"),
                            ("birth_date", "12.04.1988"), ("passport_division", "770-005"),
                            ("address", "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5")] {
            assert_eq!(export["documents"][key], json!(want), "documents.{key}");
        }
        assert!(export["security"]["totp"].is_string());
        assert!(!export["sessions"].as_array().unwrap().is_empty());
        let actions: Vec<&str> = export["journal"].as_array().unwrap().iter().map(|j| j["action"].as_str().unwrap()).collect();
        for action in ["account.registered", "documents.verified", "data.exported"] {
            assert!(actions.contains(&action), "{action} in {actions:?}");
        }
        // Nothing of the other person.
        assert!(!text.contains("+79169998877"));
        assert!(!text.contains(other_me["id"].as_str().unwrap()));
        // The PDF carries the same.
        let r = app.http.get(app.url("/api/v1/me/export.pdf")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // Each download is an access on record and announced.
        let notices = app.outbox(Some(PHONE)).await;
        assert_eq!(notices.iter().filter(|m| m["template"] == json!("data.exported")).count(), 2);
    }
}

on_both_backends! {
    async fn a_blocked_account_is_unblocked_by_recovery(app) {
        let session = app.register(PHONE).await;
        let (status, body) = app.call("POST", "/api/v1/me/block", &session, json!({"password": "Не-тот-1!"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("wrong_current_password")));
        let (status, _) = app.call("POST", "/api/v1/me/block", &session, json!({"password": PASSWORD})).await;
        assert_eq!(status, 204);
        assert_eq!(app.me(&session).await.0, 401);
        let (status, body) = app.sign_in(PHONE, PASSWORD).await;
        assert_eq!((status, body["error"]["code"].clone()), (403, json!("account_blocked")), "{body}");
        // A wrong password on a blocked account says nothing about the block.
        assert_eq!(app.sign_in(PHONE, "Не-тот-пароль-1").await.0, 401);
        let (_, body) = app.post_json("/api/v1/recoveries", json!({"login": PHONE})).await;
        let token = body["token"].as_str().unwrap().to_owned();
        let code = app.last_code(PHONE).await;
        app.post_json(&format!("/api/v1/recoveries/{token}/confirm"), json!({"code": code})).await;
        let new = "Синий-Слон-Летит-7!";
        let (status, _) = app.post_json(&format!("/api/v1/recoveries/{token}/complete"), json!({"password": new, "repeat": new})).await;
        assert_eq!(status, 204);
        assert_eq!(app.sign_in(PHONE, new).await.0, 201, "recovery lifted the block");
    }
}

on_both_backends! {
    demo async fn a_closed_account_is_erased_after_30_days(app) {
        let session = app.register_standard(PHONE).await;
        let (_, me) = app.me(&session).await;
        let id = me["id"].as_str().unwrap().to_owned();
        let (status, body) = app.call("POST", "/api/v1/me/close", &session, json!({"password": PASSWORD})).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = app.sign_in(PHONE, PASSWORD).await;
        assert_eq!((status, body["error"]["code"].clone()), (403, json!("account_closing")));
        assert!(body["error"]["message"].as_str().unwrap().contains("будет удалена"), "{body}");
        app.clock.advance(Duration::days(29));
        assert_eq!(app.sign_in(PHONE, PASSWORD).await.0, 403, "kept during the grace period");
        app.clock.advance(Duration::days(2));
        // The eraser worker passes every second; wait for its pass (bounded by a count of
        // look-ups, not by time).
        let mut erased = false;
        for _ in 0..200_000 {
            let row: (String, String) = sqlx::query_as("SELECT status, surname FROM accounts WHERE id = $1")
                .bind(&id).fetch_one(app.db().pool()).await.unwrap();
            if row.0 == "closed" {
                assert_eq!(row.1, "");
                erased = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(erased, "erased after the grace period");
        for table in ["contacts", "person_documents"] {
            let n: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table} WHERE account_id = $1")))
                .bind(&id).fetch_one(app.db().pool()).await.unwrap();
            assert_eq!(n.0, 0, "{table}");
        }
        let n: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM journal WHERE subject_id = $1 AND action = 'account.erased'")
            .bind(&id).fetch_one(app.db().pool()).await.unwrap();
        assert_eq!(n.0, 1);
        assert_eq!(app.sign_in(PHONE, PASSWORD).await.0, 401, "the phone is free again");
        // The phone can register anew.
        app.register(PHONE).await;
    }
}
