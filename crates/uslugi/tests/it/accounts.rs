//! Citizen accounts through the JSON API and the pages: registration with codes from the
//! dev outbox, password policy, sign-in, lockout, sessions, enumeration resistance.

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::{TestApp, on_both_backends};

pub const PASSWORD: &str = "Зелёный-Кот-2026!";

impl TestApp {
    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The six-digit code of the newest message to `to`.
    pub async fn last_code(&self, to: &str) -> String {
        let messages = self.outbox(Some(to)).await;
        let text = messages[0]["text"].as_str().unwrap().to_owned();
        text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned()
    }

    pub async fn start_registration(&self, contact: &str) -> String {
        let (status, body) = self
            .post_json(
                "/api/v1/registrations",
                json!({"surname": "Петрова", "given_name": "Анна", "contact": contact,
                       "accept_terms": true, "accept_pd": true}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// Registers `contact` with [`PASSWORD`] through the API; returns the session token.
    pub async fn register(&self, contact: &str) -> String {
        let token = self.start_registration(contact).await;
        let code = self.last_code(contact).await;
        let (status, body) = self
            .post_json(&format!("/api/v1/registrations/{token}/confirm"), json!({"code": code}))
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = self
            .post_json(
                &format!("/api/v1/registrations/{token}/complete"),
                json!({"password": PASSWORD, "repeat": PASSWORD}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["session"].as_str().unwrap().to_owned()
    }

    /// Signs in through the API; when the portal asks for a captcha (after three
    /// failures), solves its accessible variant — as a screen-reader user would — and
    /// tries again.
    pub async fn sign_in(&self, login: &str, password: &str) -> (u16, Value) {
        let (status, body) =
            self.post_json("/api/v1/sessions", json!({"login": login, "password": password})).await;
        if status != 428 {
            return (status, body);
        }
        assert_eq!(body["error"]["code"], json!("captcha_required"), "{body}");
        let (id, answer) = self.solve_captcha().await;
        self.post_json(
            "/api/v1/sessions",
            json!({"login": login, "password": password, "captcha_id": id, "captcha_answer": answer}),
        )
        .await
    }

    /// A captcha and its answer, from the spoken alternative («Сколько будет семь плюс
    /// два?»).
    pub async fn solve_captcha(&self) -> (String, String) {
        let body: Value = self
            .http
            .get(self.url("/api/v1/captcha?spoken=true"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let question = body["question"].as_str().expect("a spoken captcha has a question");
        let answer = crate::support::spoken_captcha_answer(question);
        (body["id"].as_str().unwrap().to_owned(), answer)
    }

    pub async fn me(&self, session: &str) -> (u16, Value) {
        let r = self.http.get(self.url("/api/v1/me")).bearer_auth(session).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

on_both_backends! {
    async fn register_by_phone_then_sign_in(app) {
        let session = app.register("+7 916 111-22-33").await;
        let (status, me) = app.me(&session).await;
        assert_eq!(status, 200);
        assert_eq!(me["surname"], json!("Петрова"));
        assert_eq!(me["level"], json!("simplified"));
        assert_eq!(me["contacts"][0], json!({"kind": "phone", "value": "+79161112233", "confirmed": true}));
        // The phone signs in in any common form.
        let (status, body) = app.sign_in("8 (916) 111-22-33", PASSWORD).await;
        assert_eq!(status, 201, "{body}");
        // Personal data is encrypted at rest.
        let raw: Vec<(String, String)> = sqlx::query_as("SELECT surname, value FROM accounts JOIN contacts ON contacts.account_id = accounts.id")
            .fetch_all(app.db().pool()).await.unwrap();
        assert!(raw.iter().all(|(s, v)| !s.contains("Петрова") && !v.contains("79161112233")));
    }
}

on_both_backends! {
    async fn email_confirms_by_code_or_by_link(app) {
        let token = app.start_registration("anna@почта.рф").await;
        let text = app.outbox(Some("anna@почта.рф")).await[0]["text"].as_str().unwrap().to_owned();
        let link = text.split_whitespace().find(|w| w.contains("/link/")).unwrap().to_owned();
        let path = link.split_once("127.0.0.1").map(|(_, rest)| rest.split_once('/').unwrap().1).unwrap();
        let r = app.get(&format!("/{path}")).await;
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], format!("/register/{token}/password").as_str());
        let (_, body) = app.post_json(&format!("/api/v1/registrations/{token}"), json!({})).await;
        let _ = body;
        let status: Value = app.get(&format!("/api/v1/registrations/{token}")).await.json().await.unwrap();
        assert_eq!(status["confirmed"], json!(true));
    }
}

on_both_backends! {
    async fn the_form_needs_both_consents_and_valid_fields(app) {
        let (status, body) = app
            .post_json("/api/v1/registrations", json!({"surname": "Smith", "given_name": "Анна", "contact": "12345"}))
            .await;
        assert_eq!(status, 422);
        let fields: Vec<&str> = body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["surname", "contact", "accept_terms", "accept_pd"]);
        assert!(body["error"]["fields"][3]["message"].as_str().unwrap().contains("согласие на обработку персональных данных"));
        assert!(app.outbox(None).await.is_empty(), "no code for a refused form");
    }
}

on_both_backends! {
    async fn a_bound_contact_cannot_register_again(app) {
        app.register("+7 916 111-22-33").await;
        let (status, body) = app
            .post_json("/api/v1/registrations", json!({"surname": "Иванов", "given_name": "Иван", "contact": "89161112233", "accept_terms": true, "accept_pd": true}))
            .await;
        assert_eq!(status, 409);
        assert_eq!(body["error"]["code"], json!("contact_taken"));
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("уже привязан") && !message.contains("Петрова"), "{message}");
    }
}

on_both_backends! {
    async fn codes_expire_count_wrong_entries_and_resend_after_a_cooldown(app) {
        let phone = "+79161112233";
        let token = app.start_registration(phone).await;
        let confirm = |code: String| {
            let app = &app;
            let token = token.clone();
            async move { app.post_json(&format!("/api/v1/registrations/{token}/confirm"), json!({"code": code})).await }
        };
        // Resend is refused for 60 seconds.
        let (status, body) = app.post_json(&format!("/api/v1/registrations/{token}/resend"), json!({})).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("resend_too_soon")));
        assert!(body["error"]["message"].as_str().unwrap().contains("через 60 с"));
        // Three wrong entries use the code up.
        assert_eq!(confirm("000001".into()).await.1["error"]["message"], json!("Неверный код, осталось попыток: 2"));
        assert_eq!(confirm("000002".into()).await.1["error"]["message"], json!("Неверный код, осталось попыток: 1"));
        assert_eq!(confirm("000003".into()).await.1["error"]["code"], json!("code_exhausted"));
        let right = app.last_code(phone).await;
        assert_eq!(confirm(right).await.1["error"]["code"], json!("code_exhausted"));
        // After the cooldown a new code arrives; it expires after 5 minutes.
        app.clock.advance(Duration::seconds(60));
        let (status, _) = app.post_json(&format!("/api/v1/registrations/{token}/resend"), json!({})).await;
        assert_eq!(status, 200);
        assert_eq!(app.outbox(Some(phone)).await.len(), 2);
        app.clock.advance(Duration::minutes(5));
        let fresh = app.last_code(phone).await;
        assert_eq!(confirm(fresh).await.1["error"]["code"], json!("code_expired"));
    }
}

on_both_backends! {
    async fn five_wrong_codes_block_the_contact_for_30_minutes(app) {
        let phone = "+79161112233";
        let token = app.start_registration(phone).await;
        let mut last = Value::Null;
        for i in 0..5 {
            if i == 3 {
                app.clock.advance(Duration::seconds(60));
                app.post_json(&format!("/api/v1/registrations/{token}/resend"), json!({})).await;
            }
            last = app.post_json(&format!("/api/v1/registrations/{token}/confirm"), json!({"code": format!("99999{i}")})).await.1;
        }
        assert_eq!(last["error"]["code"], json!("contact_blocked"), "{last}");
        assert!(last["error"]["message"].as_str().unwrap().contains("заблокировано до"), "{last}");
        // Even the right code is refused while blocked; a new registration too.
        let right = app.last_code(phone).await;
        let (status, body) = app.post_json(&format!("/api/v1/registrations/{token}/confirm"), json!({"code": right})).await;
        assert_eq!((status, body["error"]["code"].clone()), (429, json!("contact_blocked")));
        app.clock.advance(Duration::minutes(31));
        let again = app.start_registration(phone).await;
        let code = app.last_code(phone).await;
        let (status, _) = app.post_json(&format!("/api/v1/registrations/{again}/confirm"), json!({"code": code})).await;
        assert_eq!(status, 200, "unblocked after 30 minutes");
    }
}

on_both_backends! {
    async fn unknown_logins_look_like_wrong_passwords(app) {
        app.register("+79161112233").await;
        let (s1, unknown) = app.sign_in("+79990000000", "Whatever-1!").await;
        let (s2, wrong) = app.sign_in("+79161112233", "Whatever-1!").await;
        assert_eq!((s1, s2), (401, 401));
        assert_eq!(unknown, wrong);
        assert_eq!(wrong["error"]["message"], json!("Неверный логин или пароль"));
        // The lock comes after the same number of tries for both.
        for _ in 0..3 {
            assert_eq!(app.sign_in("+79990000000", "Whatever-1!").await.0, 401);
            assert_eq!(app.sign_in("+79161112233", "Whatever-1!").await.0, 401);
        }
        let (s1, unknown) = app.sign_in("+79990000000", "Whatever-1!").await;
        let (s2, known) = app.sign_in("+79161112233", "Whatever-1!").await;
        assert_eq!((s1, s2), (423, 423));
        assert_eq!(unknown["error"]["code"], known["error"]["code"]);
        assert_eq!(app.sign_in("+79990000000", "Whatever-1!").await.0, 423, "stays locked");
    }
}

on_both_backends! {
    async fn five_wrong_passwords_lock_sign_in_for_15_minutes_and_tell_the_owner(app) {
        app.register("+79161112233").await;
        for _ in 0..4 {
            assert_eq!(app.sign_in("+79161112233", "Wrong-pass-1!").await.0, 401);
        }
        let (status, body) = app.sign_in("+79161112233", "Wrong-pass-1!").await;
        assert_eq!((status, body["error"]["code"].clone()), (423, json!("locked")));
        // Locked: even the right password is not checked.
        assert_eq!(app.sign_in("+79161112233", PASSWORD).await.0, 423);
        let notice = app.outbox(Some("+79161112233")).await;
        assert!(notice.iter().any(|m| m["template"] == json!("signin.locked")));
        app.clock.advance(Duration::minutes(15));
        assert_eq!(app.sign_in("+79161112233", PASSWORD).await.0, 201);
    }
}

on_both_backends! {
    async fn parallel_wrong_passwords_get_exactly_the_allowed_checks(app) {
        app.register("+79161112233").await;
        // Past three failures a captcha is asked; each request brings its own solved one.
        let mut captchas = Vec::new();
        for _ in 0..100 {
            captchas.push(app.solve_captcha().await);
        }
        let mut tasks = Vec::new();
        for (id, answer) in captchas {
            let http = app.http.clone();
            let url = app.url("/api/v1/sessions");
            tasks.push(tokio::spawn(async move {
                let body = json!({"login": "+79161112233", "password": "Wrong-pass-1!", "captcha_id": id, "captcha_answer": answer});
                http.post(url).json(&body).send().await.unwrap().status().as_u16()
            }));
        }
        let mut statuses = std::collections::BTreeMap::new();
        for t in tasks {
            *statuses.entry(t.await.unwrap()).or_insert(0) += 1;
        }
        // 401: the password was checked and was wrong; 423 on the fifth check (it
        // locks) and for everything refused unchecked. Nothing else.
        let checked = statuses.get(&401).copied().unwrap_or(0);
        assert_eq!(statuses.keys().copied().collect::<Vec<u16>>(), [401, 423], "{statuses:?}");
        let failed: (i64,) = sqlx::query_as("SELECT failed_logins FROM accounts").fetch_one(app.db().pool()).await.unwrap();
        assert_eq!(failed.0, 5, "exactly five checks were reserved");
        assert_eq!(checked, 4, "four plain refusals, the fifth locked");
    }
}

on_both_backends! {
    async fn sessions_end_when_idle_or_old_and_on_sign_out(app) {
        let session = app.register("+79161112233").await;
        app.clock.advance(Duration::minutes(29));
        assert_eq!(app.me(&session).await.0, 200, "used within 30 minutes");
        app.clock.advance(Duration::minutes(29));
        assert_eq!(app.me(&session).await.0, 200, "the idle timeout slides");
        app.clock.advance(Duration::minutes(31));
        assert_eq!(app.me(&session).await.0, 401, "idle for 31 minutes");

        let (_, body) = app.sign_in("+79161112233", PASSWORD).await;
        let session = body["session"].as_str().unwrap().to_owned();
        for _ in 0..25 {
            app.clock.advance(Duration::minutes(29));
            app.me(&session).await;
        }
        assert_eq!(app.me(&session).await.0, 401, "12 hours is the absolute limit");

        let (_, body) = app.sign_in("+79161112233", PASSWORD).await;
        let session = body["session"].as_str().unwrap().to_owned();
        let r = app.http.get(app.url("/api/v1/session")).bearer_auth(&session).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "the session is live");
        let r = app.http.delete(app.url("/api/v1/session")).bearer_auth(&session).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
        assert_eq!(app.me(&session).await.0, 401);
        let r = app.http.get(app.url("/api/v1/session")).bearer_auth(&session).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
}

on_both_backends! {
    async fn the_journal_records_the_account_story(app) {
        app.register("+79161112233").await;
        app.sign_in("+79161112233", "Wrong-pass-1!").await;
        journal::Journal::new(app.db().clone()).seal().await.unwrap();
        let actions: Vec<(String,)> = sqlx::query_as("SELECT action FROM journal ORDER BY seq").fetch_all(app.db().pool()).await.unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(actions, ["registration.started", "contact.confirmed", "account.registered", "signin.ok", "signin.failed"]);
        assert_eq!(journal::Journal::new(app.db().clone()).verify().await.unwrap(), journal::Verdict::Intact { entries: 5 });
    }
}

on_both_backends! {
    async fn live_password_hints_list_every_unmet_rule(app) {
        let (status, body) = app.post_json("/api/v1/password/check", json!({"password": "abc"})).await;
        assert_eq!(status, 200);
        assert_eq!(body["valid"], json!(false));
        assert_eq!(body["unmet"].as_array().unwrap().len(), 4);
        let (_, body) = app.post_json("/api/v1/password/check", json!({"password": PASSWORD})).await;
        assert_eq!(body, json!({"valid": true, "unmet": []}));
    }
}

on_both_backends! {
    async fn pages_register_sign_out_and_sign_in_without_javascript(app) {
        let form = [("surname", "Петрова"), ("given_name", "Анна"), ("contact", "+7 916 111-22-33"), ("accept_terms", "yes"), ("accept_pd", "yes")];
        let r = app.http.post(app.url("/register")).form(&form).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let confirm = r.headers()["location"].to_str().unwrap().to_owned();
        let page = app.get(&confirm).await.text().await.unwrap();
        assert!(page.contains("+7 916 ***-**-33"), "masked contact shown");
        let code = app.last_code("+79161112233").await;
        let r = app.http.post(app.url(&confirm)).form(&[("code", code.as_str())]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let password_page = r.headers()["location"].to_str().unwrap().to_owned();
        let r = app.http.post(app.url(&password_page)).form(&[("password", "abc"), ("repeat", "abc")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("не короче 8 символов"));
        let r = app.http.post(app.url(&password_page)).form(&[("password", PASSWORD), ("repeat", PASSWORD)]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers()["location"], "/cabinet");
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().to_owned();
        let cabinet = app.http.get(app.url("/cabinet")).header("cookie", &pair).send().await.unwrap().text().await.unwrap();
        assert!(cabinet.contains("Петрова Анна") && cabinet.contains("Упрощённая"), "{cabinet}");
        assert!(cabinet.contains("Регистрация учётной записи"), "journal shown");
        // Without a session the cabinet sends people to sign in.
        let r = app.get("/cabinet").await;
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/login"));
        // Sign out, then a wrong and a right password on the page.
        let r = app.http.post(app.url("/logout")).header("cookie", &pair).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(app.http.get(app.url("/cabinet")).header("cookie", &pair).send().await.unwrap().status().as_u16(), 303);
        let r = app.http.post(app.url("/login")).form(&[("login", "89161112233"), ("password", "Wrong-1!")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let page = r.text().await.unwrap();
        assert!(page.contains("Неверный логин или пароль") && page.contains("value=\"89161112233\""));
        let r = app.http.post(app.url("/login")).form(&[("login", "89161112233"), ("password", PASSWORD)]).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/cabinet"));
    }
}

on_both_backends! {
    async fn recovery_by_code_sets_a_new_password_and_ends_every_session(app) {
        let phone = "+79161112233";
        let old_session = app.register(phone).await;
        let (status, body) = app.post_json("/api/v1/recoveries", json!({"login": "8 916 111 22 33"})).await;
        assert_eq!(status, 202, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let code = app.last_code(phone).await;
        assert_eq!(app.outbox(Some(phone)).await[0]["template"], json!("recovery.code"));
        let (status, _) = app.post_json(&format!("/api/v1/recoveries/{token}/confirm"), json!({"code": code})).await;
        assert_eq!(status, 204);
        let new = "Синий-Слон-Летит-7!";
        let (status, body) = app.post_json(&format!("/api/v1/recoveries/{token}/complete"), json!({"password": "short", "repeat": "short"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("weak_password")));
        let (status, _) = app.post_json(&format!("/api/v1/recoveries/{token}/complete"), json!({"password": new, "repeat": new})).await;
        assert_eq!(status, 204);
        assert_eq!(app.me(&old_session).await.0, 401, "every session ended");
        assert_eq!(app.sign_in(phone, PASSWORD).await.0, 401);
        assert_eq!(app.sign_in(phone, new).await.0, 201);
        let notices = app.outbox(Some(phone)).await;
        assert!(notices.iter().any(|m| m["template"] == json!("password.changed")));
        // A second submit of the same recovery does nothing.
        let (status, _) = app.post_json(&format!("/api/v1/recoveries/{token}/complete"), json!({"password": new, "repeat": new})).await;
        assert_eq!(status, 409);
    }
}

on_both_backends! {
    async fn recovery_does_not_tell_which_contacts_exist(app) {
        app.register("+79161112233").await;
        let (s1, known) = app.post_json("/api/v1/recoveries", json!({"login": "+79161112233"})).await;
        let (s2, unknown) = app.post_json("/api/v1/recoveries", json!({"login": "+79990001122"})).await;
        assert_eq!((s1, s2), (202, 202));
        assert_eq!(known.as_object().unwrap().keys().collect::<Vec<_>>(), unknown.as_object().unwrap().keys().collect::<Vec<_>>());
        assert!(app.outbox(Some("+79990001122")).await.is_empty(), "nothing is sent to a stranger");
        let token = unknown["token"].as_str().unwrap();
        let (status, body) = app.post_json(&format!("/api/v1/recoveries/{token}/confirm"), json!({"code": "123456"})).await;
        assert_eq!((status, body["error"]["code"].clone()), (422, json!("code_wrong")), "the same answer as a wrong code");
    }
}

on_both_backends! {
    async fn changing_the_password_needs_the_current_one_and_ends_other_sessions(app) {
        let phone = "+79161112233";
        let first = app.register(phone).await;
        let (_, body) = app.sign_in(phone, PASSWORD).await;
        let second = body["session"].as_str().unwrap().to_owned();
        let new = "Синий-Слон-Летит-7!";
        let change = |current: &str| {
            app.http
                .post(app.url("/api/v1/me/password"))
                .bearer_auth(&second)
                .json(&json!({"current": current, "password": new, "repeat": new}))
                .send()
        };
        let r = change("Wrong-1!").await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], json!("wrong_current_password"));
        assert_eq!(change(PASSWORD).await.unwrap().status().as_u16(), 204);
        assert_eq!(app.me(&first).await.0, 401, "the other session ended");
        assert_eq!(app.me(&second).await.0, 200, "this one stays");
        assert_eq!(app.sign_in(phone, new).await.0, 201);
    }
}

on_both_backends! {
    async fn a_new_contact_is_confirmed_by_code_and_the_old_one_is_told(app) {
        let session = app.register("+79161112233").await;
        let start = |contact: &str| {
            app.http.post(app.url("/api/v1/me/contacts")).bearer_auth(&session).json(&json!({"contact": contact})).send()
        };
        // Adding an e-mail.
        let r = start("anna@mail.ru").await.unwrap();
        assert_eq!(r.status().as_u16(), 202);
        let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let code = app.last_code("anna@mail.ru").await;
        let r = app.http.post(app.url(&format!("/api/v1/me/contacts/{token}/confirm"))).bearer_auth(&session).json(&json!({"code": code})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
        // Replacing the phone: the old number is told.
        let r = start("+7 926 000-11-22").await.unwrap();
        let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let code = app.last_code("+79260001122").await;
        let r = app.http.post(app.url(&format!("/api/v1/me/contacts/{token}/confirm"))).bearer_auth(&session).json(&json!({"code": code})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let (_, me) = app.me(&session).await;
        let values: Vec<&str> = me["contacts"].as_array().unwrap().iter().map(|c| c["value"].as_str().unwrap()).collect();
        assert_eq!(values, ["+79260001122", "anna@mail.ru"]);
        let old = app.outbox(Some("+79161112233")).await;
        assert_eq!(old[0]["template"], json!("contact.replaced"));
        assert_eq!(app.sign_in("anna@mail.ru", PASSWORD).await.0, 201, "the e-mail signs in");
        // A contact of another account cannot be taken.
        app.register("+79030000000").await;
        let r = start("+79030000000").await.unwrap();
        assert_eq!(r.status().as_u16(), 409);
    }
}

on_both_backends! {
    async fn api_calls_without_a_session_are_401_in_json(app) {
        let r = app.get("/api/v1/me").await;
        assert_eq!(r.status().as_u16(), 401);
        assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], json!("unauthorized"));
        let r = app.http.get(app.url("/api/v1/me")).bearer_auth("forged-token").send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
}

#[tokio::test]
async fn a_first_dev_run_has_a_demo_citizen_whose_password_is_shown_once() {
    let dir = crate::support::scratch_dir();
    let url = crate::support::fresh_database_url(store::Backend::Sqlite, &dir).await;
    let mut settings = uslugi::settings::Settings::for_data_dir(&dir, url);
    settings.demo_data = true;
    let clock: std::sync::Arc<dyn domain::Clock> =
        std::sync::Arc::new(domain::ManualClock::new(crate::support::test_now()));
    let first = uslugi::server::start(&settings, clock.clone()).await.unwrap();
    let (login, password) = first.demo.clone().expect("demo credentials on the first run");
    let base = format!("http://{}", first.addr);
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    first.shutdown().await.unwrap();
    let second = uslugi::server::start(&settings, clock).await.unwrap();
    assert!(second.demo.is_none(), "never again once accounts exist");
    second.shutdown().await.unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_policy_comes_from_the_settings() {
    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.identity.login_attempts = 3;
        s.identity.code_ttl = Duration::seconds(120);
    })
    .await;
    app.register("+79161112233").await;
    for _ in 0..2 {
        assert_eq!(app.sign_in("+79161112233", "Wrong-pass-1!").await.0, 401);
    }
    assert_eq!(app.sign_in("+79161112233", "Wrong-pass-1!").await.0, 423, "locked after 3");
    let text =
        app.outbox(Some("+79161112233")).await.last().unwrap()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("Действует 2 мин."), "{text}");
    app.stop().await;
}

on_both_backends! {
    async fn account_forms_refuse_cross_site_posts(app) {
        for path in ["/login", "/register", "/recovery", "/logout", "/cabinet/password"] {
            let r = app
                .http
                .post(app.url(path))
                .header("origin", "https://evil.example")
                .header("sec-fetch-site", "cross-site")
                .form(&[("login", "+79161112233"), ("password", "x")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 403, "{path}");
        }
    }
}

/// Failed sign-ins seen through a proxy are counted per client, not per proxy.
#[tokio::test]
async fn behind_a_trusted_proxy_the_client_address_is_journaled_and_throttled() {
    let app = TestApp::spawn_with(store::Backend::Sqlite, |_, s| {
        s.trust_proxy = true;
        s.identity.ip_failures = 2;
    })
    .await;
    app.register("+79161112233").await;
    let attempt = |client: &'static str| {
        app.http
            .post(app.url("/api/v1/sessions"))
            .header("x-forwarded-for", format!("203.0.113.250, {client}"))
            .json(&json!({"login": "+79990000000", "password": "Wrong-pass-1!"}))
            .send()
    };
    assert_eq!(attempt("198.51.100.7").await.unwrap().status().as_u16(), 401);
    assert_eq!(attempt("198.51.100.7").await.unwrap().status().as_u16(), 401);
    assert_eq!(
        attempt("198.51.100.7").await.unwrap().status().as_u16(),
        429,
        "this client is throttled"
    );
    assert_eq!(
        attempt("198.51.100.8").await.unwrap().status().as_u16(),
        401,
        "another client is not"
    );
    journal::Journal::new(app.db().clone()).seal().await.unwrap();
    let ips: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT ip FROM journal WHERE action = 'signin.failed'")
            .fetch_all(app.db().pool())
            .await
            .unwrap();
    assert!(
        ips.iter().all(|(ip,)| ip.as_deref() != Some("203.0.113.250")),
        "the forgeable first entry is ignored"
    );
    assert!(ips.iter().any(|(ip,)| ip.as_deref() == Some("198.51.100.7")));
    app.stop().await;
}

on_both_backends! {
    async fn parallel_guesses_and_sends_stay_within_the_contact_limits(app) {
        let phone = "+79161112233";
        app.register(phone).await;
        // Twenty recoveries at once: at most ten codes go to the phone within the hour.
        let mut starts = Vec::new();
        for _ in 0..20 {
            let (http, url) = (app.http.clone(), app.url("/api/v1/recoveries"));
            starts.push(tokio::spawn(async move {
                let r = http.post(url).json(&json!({"login": "+79161112233"})).send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap())
            }));
        }
        let mut tokens = Vec::new();
        for s in starts {
            let (status, body) = s.await.unwrap();
            match status {
                202 => tokens.push(body["token"].as_str().unwrap().to_owned()),
                429 => assert_eq!(body["error"]["code"], json!("too_many_codes")),
                other => panic!("unexpected {other}: {body}"),
            }
        }
        let codes = app.outbox(Some(phone)).await.iter().filter(|m| m["template"] == json!("recovery.code")).count();
        assert!(codes <= 10 && codes == tokens.len(), "{codes} codes for {} flows", tokens.len());
        // Wrong guesses on all those flows at once: at most five are compared.
        let mut guesses = Vec::new();
        for token in &tokens {
            for _ in 0..3 {
                let (http, url) = (app.http.clone(), app.url(&format!("/api/v1/recoveries/{token}/confirm")));
                guesses.push(tokio::spawn(async move {
                    http.post(url).json(&json!({"code": "000000"})).send().await.unwrap().status().as_u16()
                }));
            }
        }
        for g in guesses {
            assert!([422, 429].contains(&g.await.unwrap()));
        }
        journal::Journal::new(app.db().clone()).seal().await.unwrap();
        let compared: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM journal WHERE action = 'code.failed'")
            .fetch_one(app.db().pool())
            .await
            .unwrap();
        assert!(compared.0 <= 5, "{} wrong codes were compared", compared.0);
    }
}

on_both_backends! {
    async fn a_refused_new_contact_stays_in_the_cabinet_with_what_was_typed(app) {
        let session = app.register("+79161112233").await;
        let r = app
            .http
            .post(app.url("/cabinet/contacts"))
            .header("cookie", format!("uslugi_session={session}"))
            .form(&[("contact", "8916")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 422);
        let page = r.text().await.unwrap();
        assert!(page.contains("Личный кабинет") && page.contains("Телефон или почта: "), "{page}");
        assert!(page.contains("value=\"8916\"") && page.contains("aria-invalid=\"true\""));
    }
}
