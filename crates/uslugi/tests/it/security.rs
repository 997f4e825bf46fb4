//! Account security through the API: TOTP (setup, sign-in, replay), backup codes, SMS
//! codes, remembered devices, the captcha after three failures, the session limit, ending
//! one session, and «это не я» from the new-device notice.

use chrono::Duration;
use identity::totp;
use serde_json::{Value, json};

use crate::accounts::PASSWORD;
use crate::support::{TestApp, on_both_backends};

const PHONE: &str = "+79161112233";

impl TestApp {
    pub async fn call(&self, method: &str, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = match method {
            "GET" => self.http.get(self.url(path)),
            "DELETE" => self.http.delete(self.url(path)),
            _ => self.http.post(self.url(path)).json(&body),
        }
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// The current TOTP code for a Base32 key (as an authenticator app computes it).
    pub fn totp_now(&self, key: &str) -> String {
        let secret = totp::decode(key).unwrap();
        totp::code_at_step(&secret, totp::step_of(self.clock_now().timestamp()))
    }

    pub fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use domain::Clock;
        self.clock.now()
    }

    /// Registers and turns the authenticator app on; returns (session, Base32 key).
    pub async fn register_with_totp(&self, phone: &str) -> (String, String) {
        let session = self.register(phone).await;
        let (status, setup) =
            self.call("POST", "/api/v1/me/security/totp", &session, json!({})).await;
        assert_eq!(status, 200, "{setup}");
        let key = setup["key"].as_str().unwrap().to_owned();
        assert!(setup["uri"].as_str().unwrap().starts_with("otpauth://totp/Uslugi:"));
        assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
        let code = self.totp_now(&key);
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/me/security/totp/enable",
                &session,
                json!({"password": PASSWORD, "code": code}),
            )
            .await;
        assert_eq!(status, 204, "{body}");
        (session, key)
    }
}

on_both_backends! {
    async fn totp_is_asked_at_sign_in_and_a_used_code_is_refused(app) {
        let (session, key) = app.register_with_totp(PHONE).await;
        let (_, view) = app.call("GET", "/api/v1/me/security", &session, json!({})).await;
        assert_eq!(view["totp"], json!(true), "{view}");
        // The setup code itself was used: the same step cannot sign in.
        let (status, body) = app.sign_in(PHONE, PASSWORD).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["second_factor"]["methods"], json!(["totp"]));
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let used = app.totp_now(&key);
        let (status, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "totp", "code": used})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("code_wrong")), "{body}");
        // The next step's code works (one step of drift is accepted).
        app.clock.advance(Duration::seconds(30));
        let fresh = app.totp_now(&key);
        let (status, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "totp", "code": fresh})).await;
        assert_eq!(status, 201, "{body}");
        let signed = body["session"].as_str().unwrap().to_owned();
        assert_eq!(app.me(&signed).await.0, 200);
        // The challenge is spent, and the same code cannot open a second sign-in.
        let (status, _) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "totp", "code": fresh})).await;
        assert_eq!(status, 422);
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "totp", "code": fresh})).await;
        assert_eq!(body["error"]["code"], json!("code_wrong"), "replayed: {status} {body}");
        // Turning it off needs the password.
        let (status, body) = app.call("POST", "/api/v1/me/security/totp/disable", &session, json!({"password": "wrong"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("wrong_current_password")));
        let (status, _) = app.call("POST", "/api/v1/me/security/totp/disable", &session, json!({"password": PASSWORD})).await;
        assert_eq!(status, 204);
        assert_eq!(app.sign_in(PHONE, PASSWORD).await.0, 201, "no second step any more");
        let notices = app.outbox(Some(PHONE)).await;
        assert!(notices.iter().filter(|m| m["template"] == json!("security.changed")).count() >= 2);
    }
}

on_both_backends! {
    async fn a_wrong_setup_code_or_password_does_not_enable_totp(app) {
        let session = app.register(PHONE).await;
        let (_, setup) = app.call("POST", "/api/v1/me/security/totp", &session, json!({})).await;
        let key = setup["key"].as_str().unwrap();
        let (status, body) = app.call("POST", "/api/v1/me/security/totp/enable", &session,
            json!({"password": PASSWORD, "code": "000000"})).await;
        assert_eq!(status, 422);
        assert_eq!(body["error"]["fields"][0]["field"], json!("code"), "{body}");
        let (status, _) = app.call("POST", "/api/v1/me/security/totp/enable", &session,
            json!({"password": "Не-тот-пароль-1", "code": app.totp_now(key)})).await;
        assert_eq!(status, 422);
        let (_, view) = app.call("GET", "/api/v1/me/security", &session, json!({})).await;
        assert_eq!(view["totp"], json!(false));
        assert_eq!(app.sign_in(PHONE, PASSWORD).await.0, 201);
    }
}

on_both_backends! {
    async fn backup_codes_sign_in_once_each(app) {
        let (session, _) = app.register_with_totp(PHONE).await;
        let (status, body) = app.call("POST", "/api/v1/me/security/backup-codes", &session, json!({"password": PASSWORD})).await;
        assert_eq!(status, 201, "{body}");
        let codes: Vec<String> = body["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        assert_eq!(codes.len(), 10);
        assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10);
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        assert_eq!(body["second_factor"]["methods"], json!(["totp", "backup"]));
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, _) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "backup", "code": codes[0]})).await;
        assert_eq!(status, 201);
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "backup", "code": codes[0]})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("code_wrong")), "used once");
        // Digits without the dash work too.
        let (status, _) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "backup", "code": codes[1].replace('-', "")})).await;
        assert_eq!(status, 201);
        let (_, view) = app.call("GET", "/api/v1/me/security", &session, json!({})).await;
        assert_eq!(view["backup_codes"], json!({"unused": 8, "total": 10}));
        // Regenerating replaces every old code.
        app.call("POST", "/api/v1/me/security/backup-codes", &session, json!({"password": PASSWORD})).await;
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, _) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "backup", "code": codes[2]})).await;
        assert_eq!(status, 422);
    }
}

on_both_backends! {
    async fn five_wrong_second_factor_codes_end_the_attempt(app) {
        app.register_with_totp(PHONE).await;
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let mut last = Value::Null;
        for _ in 0..5 {
            last = app.post_json("/api/v1/sessions/second-factor",
                json!({"token": token, "method": "totp", "code": "000000"})).await.1;
        }
        assert_eq!(last["error"]["code"], json!("second_factor_gone"), "{last}");
        // An expired attempt is refused as well.
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        app.clock.advance(Duration::minutes(6));
        let (_, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "totp", "code": "000000"})).await;
        assert_eq!(body["error"]["code"], json!("second_factor_gone"));
    }
}

on_both_backends! {
    async fn sms_codes_and_a_remembered_device(app) {
        let session = app.register(PHONE).await;
        let (status, body) = app.call("POST", "/api/v1/me/security/sms", &session,
            json!({"password": PASSWORD, "enabled": true})).await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = app.sign_in(PHONE, PASSWORD).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["second_factor"]["methods"], json!(["sms"]));
        assert_eq!(body["second_factor"]["sms_sent"], json!(true), "SMS alone: the code goes at once");
        let messages = app.outbox(Some(PHONE)).await;
        assert_eq!(messages[0]["template"], json!("signin.code"));
        let code = app.last_code(PHONE).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, body) = app.post_json("/api/v1/sessions/second-factor",
            json!({"token": token, "method": "sms", "code": code, "remember_device": true})).await;
        assert_eq!(status, 201, "{body}");
        let device = body["device_token"].as_str().unwrap().to_owned();
        // The remembered device goes straight in…
        let (status, _) = app.post_json("/api/v1/sessions",
            json!({"login": PHONE, "password": PASSWORD, "device_token": device})).await;
        assert_eq!(status, 201);
        // …for 30 days.
        app.clock.advance(Duration::days(31));
        let (status, _) = app.post_json("/api/v1/sessions",
            json!({"login": PHONE, "password": PASSWORD, "device_token": device})).await;
        assert_eq!(status, 202);
        // Resending waits a minute.
        let (_, body) = app.sign_in(PHONE, PASSWORD).await;
        let token = body["second_factor"]["token"].as_str().unwrap().to_owned();
        let (status, body) = app.post_json("/api/v1/sessions/second-factor/sms", json!({"token": token})).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("resend_too_soon")));
    }
}

on_both_backends! {
    async fn a_captcha_is_asked_after_three_failures(app) {
        app.register(PHONE).await;
        for _ in 0..3 {
            let (status, _) = app.post_json("/api/v1/sessions", json!({"login": PHONE, "password": "Wrong-pass-1!"})).await;
            assert_eq!(status, 401);
        }
        // Even the right password now needs the captcha first.
        let (status, body) = app.post_json("/api/v1/sessions", json!({"login": PHONE, "password": PASSWORD})).await;
        assert_eq!((status, body["error"]["code"].clone()), (428, json!("captcha_required")), "{body}");
        let image: Value = app.get("/api/v1/captcha").await.json().await.unwrap();
        assert!(image["svg"].as_str().unwrap().starts_with("<svg"));
        let (status, body) = app.post_json("/api/v1/sessions", json!({"login": PHONE, "password": PASSWORD,
            "captcha_id": image["id"], "captcha_answer": "99999999"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("captcha_wrong")));
        let (id, answer) = app.solve_captcha().await;
        let body = json!({"login": PHONE, "password": PASSWORD, "captcha_id": id, "captcha_answer": answer});
        assert_eq!(app.post_json("/api/v1/sessions", body.clone()).await.0, 201);
        // A captcha is good for one try.
        assert_eq!(app.post_json("/api/v1/sessions", body).await.0, 422);
    }
}

on_both_backends! {
    async fn a_new_device_is_announced_and_this_is_not_me_ends_its_session(app) {
        app.register(PHONE).await;
        let r = app.http.post(app.url("/api/v1/sessions"))
            .header("user-agent", "Mozilla/5.0 (Windows NT 10.0) Firefox/133.0")
            .json(&json!({"login": PHONE, "password": PASSWORD})).send().await.unwrap();
        assert_eq!(r.status(), 201);
        let stranger = r.json::<Value>().await.unwrap()["session"].as_str().unwrap().to_owned();
        let notice = app.outbox(Some(PHONE)).await.into_iter()
            .find(|m| m["template"] == json!("signin.new_device")).expect("new-device notice");
        let text = notice["text"].as_str().unwrap();
        assert!(text.contains("Firefox, Windows"), "{text}");
        let link = text.split_whitespace().find(|w| w.contains("/not-me/")).unwrap();
        let path = &link[link.find("/not-me/").unwrap()..];
        // Opening the link changes nothing (mail scanners open links)…
        let page = app.get(path).await.text().await.unwrap();
        assert!(page.contains("Это не я"));
        assert_eq!(app.me(&stranger).await.0, 200);
        // …the button does.
        let r = app.http.post(app.url(path)).header("origin", &app.base).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("Смените пароль"));
        assert_eq!(app.me(&stranger).await.0, 401);
    }
}

on_both_backends! {
    async fn past_the_session_limit_the_oldest_session_ends(app) {
        let first = app.register(PHONE).await;
        let mut sessions = vec![first];
        for _ in 0..10 {
            app.clock.advance(Duration::seconds(1));
            let (status, body) = app.sign_in(PHONE, PASSWORD).await;
            assert_eq!(status, 201);
            sessions.push(body["session"].as_str().unwrap().to_owned());
        }
        assert_eq!(app.me(&sessions[0]).await.0, 401, "the eleventh session ended the first");
        assert_eq!(app.me(&sessions[1]).await.0, 200);
        // Ending one session from the list.
        let (_, list) = app.call("GET", "/api/v1/me/sessions", &sessions[10], json!({})).await;
        let live: Vec<&Value> = list.as_array().unwrap().iter().filter(|s| s["live"] == json!(true)).collect();
        assert_eq!(live.len(), 10, "{list}");
        let oldest = live.iter().min_by_key(|s| s["created_at"].as_str().unwrap().to_owned()).unwrap();
        let id = oldest["id"].as_str().unwrap();
        let (status, _) = app.call("DELETE", &format!("/api/v1/me/sessions/{id}"), &sessions[10], json!({})).await;
        assert_eq!(status, 204);
        assert_eq!(app.me(&sessions[1]).await.0, 401);
        let (status, _) = app.call("DELETE", &format!("/api/v1/me/sessions/{id}"), &sessions[10], json!({})).await;
        assert_eq!(status, 404, "already ended");
    }
}
