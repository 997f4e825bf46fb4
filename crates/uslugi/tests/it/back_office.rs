//! The back office: an officer of the agency sees the queue, takes an application (two
//! officers at once: exactly one wins), asks for a clarification; the applicant
//! corrects within the window and the deadline moves on by the wait; the officer
//! rejects; the applicant appeals within 5 working days; the head decides. Officers of
//! other agencies and operators see nothing.

use chrono::Duration;
use serde_json::json;

use crate::accounts::PASSWORD;
use crate::documents::{call, documents_when, maria};
use crate::staff::{
    STAFF_PASSWORD, StaffClient, cli, demo, printed_password, staff_login, staff_ready,
};
use crate::support::on_both_backends;

const PHONE: &str = "+79161234567";

/// Sessions end after a day idle: after the clock moves, everyone signs in again.
async fn citizen(app: &crate::support::TestApp) -> String {
    let (status, body) = app.sign_in(PHONE, PASSWORD).await;
    assert_eq!(status, 201, "{body}");
    body["session"].as_str().unwrap().to_owned()
}

async fn staff<'a>(app: &'a crate::support::TestApp, login: &str) -> StaffClient<'a> {
    staff_login(app, login, STAFF_PASSWORD).await.1
}

on_both_backends! {
    demo async fn officers_process_an_application_and_the_head_decides_the_appeal(app) {
        let token = app.register(PHONE).await;
        call(&app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
        documents_when(&app, &token, "verified").await;
        let (_, body) = call(&app, "POST", "/api/v1/services/pension-rights-statement/applications", &token, None).await;
        let id = body["application"]["id"].as_str().unwrap().to_owned();
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
        assert_eq!(status, 200, "{body}");
        let number = body["application"]["number"].as_str().unwrap().to_owned();
        assert_eq!(body["application"]["due_on"], json!("2026-11-23"), "1 working day");

        // Two officers of the СФР, one head; an officer of another agency.
        let officer = staff_ready(&app, "officer", &demo(&app, "officer")).await;
        let (_, out, _) = cli(&app, &["add", "--login", "petrov", "--name", "Петров Пётр Петрович", "--role", "officer", "--agency", "SFR"]);
        let petrov = staff_ready(&app, "petrov", &printed_password(&out)).await;
        let (_, out, _) = cli(&app, &["add", "--login", "head", "--name", "Главная Галина Петровна", "--role", "head", "--agency", "SFR"]);
        // The head replaces the one-time password now and signs in when needed.
        staff_ready(&app, "head", &printed_password(&out)).await;
        let (_, out, _) = cli(&app, &["add", "--login", "fns", "--name", "Налогов Николай Ильич", "--role", "officer", "--agency", "FNS"]);
        let stranger = staff_ready(&app, "fns", &printed_password(&out)).await;

        let a = officer.get("/staff/applications").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains(&number), "{}", a.body);
        assert!(!stranger.get("/staff/applications").await.body.contains(&number));
        assert_eq!(stranger.get(&format!("/staff/applications/{id}")).await.status, 404);
        let a = officer.get(&format!("/staff/applications/{id}")).await;
        assert!(a.body.contains("Демидова Мария Ивановна"), "the answers are shown");
        assert!(a.body.contains("СНИЛС принадлежит заявителю (СФР)"), "the declared checks");

        // «Спросить о статусе»: the question is on the timeline; the officer's answer too,
        // and the applicant is told.
        let (status, _) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/questions"), &token, Some(json!({"text": "Когда будет готово?"}))).await;
        assert_eq!(status, 201);
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/questions"), &token, Some(json!({"text": "  "}))).await;
        assert_eq!((status, body["error"]["message"].clone()), (422, json!("Вопрос: напишите, что вы хотите узнать.")));
        let a = officer.get(&format!("/staff/applications/{id}")).await;
        assert!(a.body.contains("Когда будет готово?"), "{}", a.body);
        let a = officer.post(&format!("/staff/applications/{id}/answer"), &[("answer", "Завтра, в срок")]).await;
        assert_eq!(a.status, 303);
        let sms = app.outbox(Some(PHONE)).await;
        assert!(sms[0]["text"].as_str().unwrap().contains("Комментарий: Завтра, в срок"), "{}", sms[0]);
        let html = app.http.get(app.url(&format!("/cabinet/applications/{id}"))).header("cookie", format!("uslugi_session={token}")).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Ответ ведомства") && html.contains("Завтра, в срок"), "{html}");

        // Both take it at once: exactly one wins.
        let path = format!("/staff/applications/{id}/act");
        let form = [("transition", "take")];
        let (x, y) = tokio::join!(officer.post(&path, &form), petrov.post(&path, &form));
        let mut statuses = [x.status, y.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [303, 409], "{} / {}", x.body, y.body);
        let (mine, other) = if x.status == 303 { (&officer, &petrov) } else { (&petrov, &officer) };
        let mine_login = if x.status == 303 { "officer" } else { "petrov" };
        let a = other.get(&format!("/staff/applications/{id}")).await;
        assert!(a.body.contains("в работе у другого сотрудника"), "{}", a.body);
        let a = other.post(&path, &[("transition", "approve")]).await;
        assert_eq!(a.status, 409);
        assert!(a.body.contains("Заявление в работе у другого сотрудника"), "{}", a.body);

        // A clarification needs the list of what is needed; the applicant is told.
        let a = mine.post(&path, &[("transition", "request_clarification"), ("comment", "")]).await;
        assert_eq!(a.status, 409);
        assert!(a.body.contains("«Запросить уточнение»: напишите комментарий."), "{}", a.body);
        app.clock.advance(Duration::days(1)); // Monday 23 November
        let (token, mine) = (citizen(&app).await, staff(&app, mine_login).await);
        let a = mine.post(&path, &[("transition", "request_clarification"), ("comment", "Уточните СНИЛС")]).await;
        assert_eq!((a.status, a.location.as_str()), (303, format!("/staff/applications/{id}?done=request_clarification").as_str()));
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["status_title"], json!("Требуется уточнение"));
        assert_eq!(body["application"]["act_by"], json!("2026-11-30"), "5 working days to answer");
        assert_eq!(body["timeline"].as_array().unwrap().last().unwrap()["comment"], json!("Уточните СНИЛС"));
        // In-app, always: the newest notice says what the officer asked.
        let (status, notices) = call(&app, "GET", "/api/v1/me/notifications", &token, None).await;
        assert_eq!(status, 200, "{notices}");
        let newest = &notices["notifications"][0];
        assert_eq!((newest["text"].as_str(), newest["comment"].as_str(), newest["number"].as_str()),
            (Some("Статус: Требуется уточнение"), Some("Уточните СНИЛС"), Some(number.as_str())), "{notices}");
        assert!(notices["notifications"].as_array().unwrap().iter().any(|n| n["text"] == json!("Статус: Принята")), "the submission too");
        let page = app.http.get(app.url("/cabinet/notifications")).header("cookie", format!("uslugi_session={token}")).send().await.unwrap();
        let html = page.text().await.unwrap();
        assert!(html.contains("Требуется уточнение") && html.contains("Уточните СНИЛС"), "{html}");
        let sms = app.outbox(Some(PHONE)).await;
        assert!(sms[0]["text"].as_str().unwrap().contains("требуется уточнение"), "{}", sms[0]);

        // The applicant corrects two working days later; the due date moves on by two.
        app.clock.advance(Duration::days(2)); // Wednesday 25 November
        let (token, mine, head) = (citizen(&app).await, staff(&app, mine_login).await, staff(&app, "head").await);
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/correct"), &token, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["application"]["status_title"], json!("В проверке"));
        assert_eq!(body["application"]["due_on"], json!("2026-11-25"));

        // Rejected with a reason; appealed within the window; the head grants it.
        let a = mine.post(&path, &[("transition", "reject"), ("comment", "СНИЛС не совпадает с данными СФР")]).await;
        assert_eq!(a.status, 303);
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["act_by"], json!("2026-12-02"), "5 working days to appeal");
        assert_eq!(body["application"]["actions"], json!([["appeal", "Обжаловать"]]));
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/appeal"), &token, Some(json!({"comment": "СНИЛС верный, см. документы"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["application"]["due_on"], json!("2026-11-30"), "decided within 3 working days");
        let a = mine.post(&path, &[("transition", "appeal_grant"), ("comment", "x")]).await;
        assert_eq!(a.status, 409, "only the head decides appeals");
        let a = head.post(&path, &[("transition", "appeal_grant"), ("comment", "Ошибка в проверке, одобрено")]).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["status_title"], json!("Одобрена"));
        let steps: Vec<&str> = body["timeline"].as_array().unwrap().iter()
            .filter(|e| !matches!(e["transition"].as_str(), Some("question" | "answer" | "checks")))
            .map(|e| e["to"].as_str().unwrap()).collect();
        assert_eq!(steps, ["submitted", "in_review", "clarification", "in_review", "rejected", "appeal", "approved"]);

        // The result document: downloaded by the applicant, confirmed by /verify by number
        // and by file; a changed byte is not confirmed.
        let r = app.http.get(app.url(&format!("/api/v1/me/applications/{id}/result.pdf"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.unwrap().to_vec();
        assert!(pdf.starts_with(b"%PDF-"));
        let doc_number = format!("{number}-R");
        let (status, body) = call(&app, "GET", &format!("/api/v1/verify/{doc_number}"), "", None).await;
        assert_eq!(status, 200);
        assert_eq!(body["authentic"], json!(true));
        assert_eq!(body["document"]["agency"], json!("Социальный фонд России"));
        let check = |bytes: Vec<u8>| {
            let app = &app;
            async move {
                let r = app.http.post(app.url("/api/v1/verify")).header("content-type", "application/pdf").body(bytes).send().await.unwrap();
                r.json::<serde_json::Value>().await.unwrap()["authentic"].clone()
            }
        };
        assert_eq!(check(pdf.clone()).await, json!(true));
        let mut tampered = pdf.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 0x20;
        assert_eq!(check(tampered.clone()).await, json!(false));
        let (_, body) = call(&app, "GET", "/api/v1/verify/2026-9999999-R", "", None).await;
        assert_eq!(body["authentic"], json!(false));
        // The public page: by the QR link, and a tampered upload.
        let html = app.get(&format!("/verify/{doc_number}")).await.text().await.unwrap();
        assert!(html.contains("Документ подлинный") && html.contains("Социальный фонд России"), "{html}");
        assert!(!html.contains("Демидова"), "nothing about the holder");
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(tampered).file_name("result.pdf"));
        let r = app.http.post(app.url("/verify")).multipart(form).send().await.unwrap();
        let html = r.text().await.unwrap();
        assert!(html.contains("Документ не подтверждён"), "{html}");
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(pdf.clone()).file_name("result.pdf"));
        let html = app.http.post(app.url("/verify")).multipart(form).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Файл не изменён после выдачи, подпись верна"), "{html}");

        // «Полученные документы» lists it; sending it by e-mail needs a confirmed address,
        // then the very PDF goes out attached.
        let (status, body) = call(&app, "GET", "/api/v1/me/results", &token, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["documents"][0]["number"], json!(doc_number));
        assert_eq!(body["documents"][0]["application_id"], json!(id));
        let send = format!("/api/v1/me/applications/{id}/result/send");
        let (status, body) = call(&app, "POST", &send, &token, None).await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().starts_with("Электронная почта: добавьте и подтвердите адрес"), "{body}");
        let r = app.http.post(app.url("/api/v1/me/contacts")).bearer_auth(&token).json(&json!({"contact": "maria@mail.ru"})).send().await.unwrap();
        let contact = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        let code = app.last_code("maria@mail.ru").await;
        let (status, _) = call(&app, "POST", &format!("/api/v1/me/contacts/{contact}/confirm"), &token, Some(json!({"code": code}))).await;
        assert_eq!(status, 204);
        let (status, body) = call(&app, "POST", &send, &token, None).await;
        assert_eq!((status, &body["to"]), (202, &json!("ma***@mail.ru")), "{body}");
        let mail = app.outbox(Some("maria@mail.ru")).await;
        assert_eq!(mail[0]["template"], json!("application.result"), "{mail:?}");
        assert!(mail[0]["text"].as_str().unwrap().contains(&format!("/verify/{doc_number}")), "{}", mail[0]);
        assert_eq!(mail[0]["attachment"][0], json!(format!("{doc_number}.pdf")));
        let message = mail[0]["id"].as_str().unwrap();
        let sent = app.get(&format!("/dev/outbox/{message}/attachment")).await;
        assert_eq!(sent.headers()["content-type"], "application/pdf");
        assert_eq!(sent.bytes().await.unwrap().to_vec(), pdf, "the issued document, byte for byte");
        let (status, _) = call(&app, "POST", "/api/v1/me/applications/0190f000-0000-7000-8000-000000000000/result/send", &token, None).await;
        assert_eq!(status, 404);

        // The dashboard counts it.
        let a = head.get("/staff/dashboard").await;
        assert_eq!(a.status, 200);
        assert!(a.body.contains("<strong id=\"total\">1</strong>"), "{}", a.body);
    }
}

on_both_backends! {
    demo async fn an_appeal_after_the_window_is_refused(app) {
        let (_, id) = submitted_statement(&app).await;
        let officer = staff_ready(&app, "officer", &demo(&app, "officer")).await;
        let path = format!("/staff/applications/{id}/act");
        officer.post(&path, &[("transition", "take")]).await;
        let a = officer.post(&path, &[("transition", "reject"), ("comment", "Нет оснований")]).await;
        assert_eq!(a.status, 303);
        // Rejected on Sunday 22 November: the window ends on Friday 27 November.
        app.clock.advance(Duration::days(8)); // Monday 30 November
        let token = citizen(&app).await;
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/appeal"), &token, Some(json!({"comment": "Не согласна"}))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["message"], json!("Срок для действия «Обжаловать» истёк 27.11.2026."));
    }
}

on_both_backends! {
    demo async fn an_unanswered_clarification_is_rejected_when_its_window_closes(app) {
        let (token, id) = submitted_statement(&app).await;
        let officer = staff_ready(&app, "officer", &demo(&app, "officer")).await;
        let path = format!("/staff/applications/{id}/act");
        officer.post(&path, &[("transition", "take")]).await;
        let a = officer.post(&path, &[("transition", "request_clarification"), ("comment", "Уточните СНИЛС")]).await;
        assert_eq!(a.status, 303);
        let (_, body) = call(&app, "GET", &format!("/api/v1/me/applications/{id}"), &token, None).await;
        assert_eq!(body["application"]["act_by"], json!("2026-11-27"), "asked on Sunday 22 November");

        // The day after the last one, a correction is too late and the platform rejects
        // the application with the reason.
        app.clock.advance(Duration::days(8)); // Monday 30 November
        let token = citizen(&app).await;
        let (status, body) = call(&app, "POST", &format!("/api/v1/me/applications/{id}/actions/correct"), &token, None).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["message"], json!("Срок для действия «Отправить уточнения» истёк 27.11.2026."));
        app.sweep_overdue();
        let body = status_when(&app, &token, &id, "rejected").await;
        let last = body["timeline"].as_array().unwrap().iter().rev()
            .find(|e| e["transition"] == json!("clarification_expired")).expect("the system step").clone();
        assert_eq!(last["comment"], json!("Ответ на запрос не получен до 27.11.2026 включительно. Заявление можно подать заново."));
        let (_, notices) = call(&app, "GET", "/api/v1/me/notifications", &token, None).await;
        assert_eq!(notices["notifications"][0]["text"], json!("Статус: Отклонена"), "{notices}");
    }
}

on_both_backends! {
    demo async fn the_back_office_works_through_the_api(app) {
        let (token, id) = submitted_statement(&app).await;

        // Signing in: a one-time password only lets the member change it.
        let one_time = demo(&app, "officer");
        let (status, body) = call(&app, "POST", "/api/v1/staff/sessions", "", Some(json!({"login": "officer", "password": one_time}))).await;
        assert_eq!((status, &body["must_change_password"]), (201, &json!(true)), "{body}");
        let first = body["token"].as_str().unwrap().to_owned();
        let (status, body) = call(&app, "GET", "/api/v1/staff/applications", &first, None).await;
        assert_eq!((status, &body["error"]["code"]), (403, &json!("password_change_required")));
        staff_ready(&app, "officer", &one_time).await;
        let (status, body) = call(&app, "POST", "/api/v1/staff/sessions", "", Some(json!({"login": "officer", "password": "wrong"}))).await;
        assert!(status == 401 || status == 422, "{status} {body}");
        let (status, body) = call(&app, "POST", "/api/v1/staff/sessions", "", Some(json!({"login": "officer", "password": STAFF_PASSWORD}))).await;
        assert_eq!(status, 201, "{body}");
        let officer = body["token"].as_str().unwrap().to_owned();
        assert_eq!(body["role"], json!("officer"));
        assert_eq!(call(&app, "GET", "/api/v1/staff/applications", "", None).await.0, 401);
        assert_eq!(call(&app, "GET", "/api/v1/staff/applications", &token, None).await.0, 401, "a citizen's token is not a staff one");

        // The queue, an application, its steps.
        let (status, body) = call(&app, "GET", "/api/v1/staff/applications", &officer, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["applications"][0]["application"]["id"], json!(id));
        assert_eq!(body["applications"][0]["overdue"], json!(false));
        let (_, body) = call(&app, "GET", "/api/v1/staff/applications?status=approved", &officer, None).await;
        assert_eq!(body["applications"], json!([]));
        let detail = format!("/api/v1/staff/applications/{id}");
        let (status, body) = call(&app, "GET", &detail, &officer, None).await;
        assert_eq!(status, 200, "{body}");
        let steps: Vec<&str> = body["actions"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(steps, ["take"]);
        let act = |step: &str| format!("/api/v1/staff/applications/{id}/actions/{step}");
        let (status, body) = call(&app, "POST", &act("approve"), &officer, None).await;
        assert_eq!((status, &body["error"]["message"]), (409, &json!("Сейчас это действие недоступно: заявление в статусе «Принята».")));
        let (status, body) = call(&app, "POST", &act("take"), &officer, None).await;
        assert_eq!(status, 200, "{body}");
        assert!(body["claimed_by"].is_string(), "{body}");
        let (status, body) = call(&app, "POST", &act("request_clarification"), &officer, Some(json!({}))).await;
        assert_eq!((status, &body["error"]["message"]), (409, &json!("«Запросить уточнение»: напишите комментарий.")));
        let (status, body) = call(&app, "POST", &act("request_clarification"), &officer, Some(json!({"comment": "Уточните СНИЛС"}))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["application"]["status"], json!("clarification"));
        assert_eq!(body["timeline"].as_array().unwrap().last().unwrap()["comment"], json!("Уточните СНИЛС"));
        let (status, body) = call(&app, "POST", &format!("/api/v1/staff/applications/{id}/answers"), &officer, Some(json!({"text": " "}))).await;
        assert_eq!(status, 422, "{body}");
        // The applicant is told, as from the page.
        let sms = app.outbox(Some(PHONE)).await;
        assert!(sms[0]["text"].as_str().unwrap().contains("требуется уточнение"), "{}", sms[0]);

        // Another agency sees nothing of it; the dashboard counts it; sign-out ends it.
        let (_, out, _) = cli(&app, &["add", "--login", "fns", "--name", "Налогов Николай Ильич", "--role", "officer", "--agency", "FNS"]);
        staff_ready(&app, "fns", &printed_password(&out)).await;
        let (_, body) = call(&app, "POST", "/api/v1/staff/sessions", "", Some(json!({"login": "fns", "password": STAFF_PASSWORD}))).await;
        let stranger = body["token"].as_str().unwrap().to_owned();
        assert_eq!(call(&app, "GET", &detail, &stranger, None).await.0, 404);
        let (status, body) = call(&app, "GET", "/api/v1/staff/dashboard", &officer, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((&body["by_status"]["clarification"], &body["total"], &body["open"]), (&json!(1), &json!(1), &json!(0)));
        assert_eq!(call(&app, "DELETE", "/api/v1/staff/session", &officer, None).await.0, 204);
        assert_eq!(call(&app, "GET", "/api/v1/staff/applications", &officer, None).await.0, 401);
    }
}

on_both_backends! {
    demo async fn a_person_chooses_where_copies_of_notices_go(app) {
        let (token, id) = submitted_statement(&app).await;
        let channels = "/api/v1/me/notification-channels";
        let (status, body) = call(&app, "GET", channels, &token, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!((&body["email"], &body["sms"], &body["chosen"]), (&json!(false), &json!(true), &json!(false)), "SMS by default without an e-mail");
        let put = |body: serde_json::Value| {
            let (app, token) = (&app, token.clone());
            async move {
                let r = app.http.put(app.url(channels)).bearer_auth(&token).json(&body).send().await.unwrap();
                (r.status().as_u16(), r.json::<serde_json::Value>().await.unwrap())
            }
        };
        let (status, body) = put(json!({"email": true, "sms": true})).await;
        assert_eq!((status, &body["error"]["fields"][0]["field"]), (422, &json!("email")), "{body}");
        let (status, body) = put(json!({"email": false, "sms": false})).await;
        assert_eq!((status, &body["chosen"], &body["sms"]), (200, &json!(true), &json!(false)), "{body}");

        // In the cabinet only: a step is a notice, and no SMS goes out.
        let texts = |sms: &[serde_json::Value]| sms.iter().filter(|m| m["template"] == json!("application.status")).count();
        let before = texts(&app.outbox(Some(PHONE)).await);
        let officer = staff_ready(&app, "officer", &demo(&app, "officer")).await;
        let path = format!("/staff/applications/{id}/act");
        assert_eq!(officer.post(&path, &[("transition", "take")]).await.status, 303);
        let (_, notices) = call(&app, "GET", "/api/v1/me/notifications", &token, None).await;
        assert_eq!(notices["notifications"][0]["text"], json!("Статус: В проверке"), "{notices}");
        assert_eq!(texts(&app.outbox(Some(PHONE)).await), before, "no copy by SMS");

        // Back to SMS in the browser's form: the next step is copied.
        let cookie = format!("uslugi_session={token}");
        let r = app.http.post(app.url("/cabinet/notifications")).header("cookie", &cookie).form(&[("sms", "1")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let html = app.http.get(app.url("/cabinet/notifications?done=channels")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        assert!(html.contains("Настройки уведомлений сохранены") && html.contains("id=\"channel-sms\" checked"), "{html}");
        let r = app.http.post(app.url("/cabinet/notifications")).header("cookie", &cookie).form(&[("email", "1")]).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 422);
        assert!(r.text().await.unwrap().contains("сначала добавьте и подтвердите адрес"));
        let asked = officer.post(&path, &[("transition", "request_clarification"), ("comment", "Уточните СНИЛС")]).await;
        assert_eq!(asked.status, 303);
        assert_eq!(texts(&app.outbox(Some(PHONE)).await), before + 1);
    }
}

/// A standard citizen (documents verified) with a submitted «Сведения о состоянии ИЛС»
/// (СФР, the demo officer's agency): (session, application id).
async fn submitted_statement(app: &crate::support::TestApp) -> (String, String) {
    let token = app.register(PHONE).await;
    call(app, "POST", "/api/v1/me/documents", &token, Some(maria())).await;
    documents_when(app, &token, "verified").await;
    let (_, body) =
        call(app, "POST", "/api/v1/services/pension-rights-statement/applications", &token, None)
            .await;
    let id = body["application"]["id"].as_str().unwrap().to_owned();
    let (status, body) =
        call(app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
    assert_eq!(status, 200, "{body}");
    (token, id)
}

/// Polls the applicant's view of an application until its status is `want`.
async fn status_when(
    app: &crate::support::TestApp,
    token: &str,
    id: &str,
    want: &str,
) -> serde_json::Value {
    for _ in 0..20_000 {
        let (status, body) =
            call(app, "GET", &format!("/api/v1/me/applications/{id}"), token, None).await;
        assert_eq!(status, 200, "{body}");
        if body["application"]["status"] == json!(want) {
            return body;
        }
        tokio::task::yield_now().await;
    }
    panic!("the application never reached {want}");
}

on_both_backends! {
    demo async fn automatic_checks_decide_an_extract_or_send_it_to_an_officer(app) {
        let token = app.register(PHONE).await;
        // An entrepreneur of the starter registry that works; a valid ОГРНИП it does not know.
        let orgs = registry::demo::organizations(2026, 0, 50);
        let active = orgs
            .iter()
            .find(|o| o.kind == registry::OrgKind::Entrepreneur && o.status == "Действующий" && !o.liquidating)
            .expect("an active entrepreneur");
        let unknown = "304500116000157";
        assert!(orgs.iter().all(|o| o.ogrn != unknown));

        let apply = |ogrnip: String| {
            let (app, token) = (&app, token.clone());
            async move {
                let (_, body) = call(app, "POST", "/api/v1/services/egrip-extract/applications", &token, None).await;
                let id = body["application"]["id"].as_str().unwrap().to_owned();
                let (status, body) = crate::applications::put(app, &format!("/api/v1/me/applications/{id}/answers"), &token, json!({"answers": {"ogrnip": ogrnip}})).await;
                assert_eq!(status, 200, "{body}");
                let (status, body) = call(app, "POST", &format!("/api/v1/me/applications/{id}/submit"), &token, None).await;
                assert_eq!(status, 200, "{body}");
                id
            }
        };
        // The registry confirms the entrepreneur: the extract is issued by the platform.
        let id = apply(active.ogrn.clone()).await;
        let body = status_when(&app, &token, &id, "approved").await;
        let r = app.http.get(app.url(&format!("/api/v1/me/applications/{id}/result.pdf"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200, "the extract is issued");
        assert!(r.bytes().await.unwrap().starts_with(b"%PDF"));
        let text = body["timeline"].to_string();
        assert!(text.contains("пройдено 1 из 1"), "{text}");
        assert!(text.contains("checks_passed"), "{text}");

        // ЕГРИП does not know it: the application goes to an officer, who sees why.
        let id = apply(unknown.to_owned()).await;
        status_when(&app, &token, &id, "in_review").await;
        let (_, out, _) = cli(&app, &["add", "--login", "fns", "--name", "Налогов Николай Ильич", "--role", "officer", "--agency", "FNS"]);
        let officer = staff_ready(&app, "fns", &printed_password(&out)).await;
        let page = officer.get(&format!("/staff/applications/{id}")).await;
        assert!(page.body.contains("не пройдена"), "{}", page.body);
        assert!(page.body.contains(&format!("{unknown}: нет в ЕГРИП")), "the registry's answer: {}", page.body);
        assert!(page.body.contains("Предприниматель есть в ЕГРИП и действует"));
    }
}

/// With a GOST key configured, the issued extract is signed with it: `/verify` confirms
/// the PDF and names the algorithm, the detached `.sig` downloads and OpenSSL's GOST
/// engine accepts the pair; a changed PDF is refused by both.
#[tokio::test]
async fn result_documents_are_signed_with_gost_when_configured() {
    let Some(dir) = crate::signature::material() else { return };
    let key = std::fs::read(dir.join("gost256/key.pem")).unwrap();
    let chain = [
        std::fs::read(dir.join("gost256/user.pem")).unwrap(),
        std::fs::read(dir.join("gost256/ca.pem")).unwrap(),
    ]
    .concat();
    let signer = qes::DocumentSigner::from_pem(&key, &chain).unwrap();
    let app = crate::support::TestApp::spawn_with(store::Backend::Sqlite, move |_, s| {
        s.demo_data = true;
        s.document_signer = Some(signer.clone());
    })
    .await;
    let token = app.register(PHONE).await;
    let orgs = registry::demo::organizations(2026, 0, 50);
    let active = orgs
        .iter()
        .find(|o| {
            o.kind == registry::OrgKind::Entrepreneur && o.status == "Действующий" && !o.liquidating
        })
        .expect("an active entrepreneur");
    let (_, body) =
        call(&app, "POST", "/api/v1/services/egrip-extract/applications", &token, None).await;
    let id = body["application"]["id"].as_str().unwrap().to_owned();
    let answers = json!({"answers": {"ogrnip": active.ogrn}});
    let path = format!("/api/v1/me/applications/{id}/answers");
    let (status, body) = crate::applications::put(&app, &path, &token, answers).await;
    assert_eq!(status, 200, "{body}");
    let submit = format!("/api/v1/me/applications/{id}/submit");
    assert_eq!(call(&app, "POST", &submit, &token, None).await.0, 200);
    status_when(&app, &token, &id, "approved").await;

    let get = |path: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let r = app.http.get(app.url(&path)).bearer_auth(&token).send().await.unwrap();
            (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
        }
    };
    let (status, pdf) = get(format!("/api/v1/me/applications/{id}/result.pdf")).await;
    assert_eq!(status, 200);
    let (status, sig) = get(format!("/api/v1/me/applications/{id}/result.sig")).await;
    assert_eq!(status, 200);
    let check = |bytes: Vec<u8>| {
        let app = &app;
        async move {
            let r = app
                .http
                .post(app.url("/api/v1/verify"))
                .header("content-type", "application/pdf")
                .body(bytes)
                .send()
                .await
                .unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let verdict = check(pdf.clone()).await;
    assert_eq!(verdict["authentic"], json!(true), "{verdict}");
    assert_eq!(verdict["document"]["algorithm"], json!("ГОСТ Р 34.10-2012"));
    let mut changed = pdf.clone();
    let at = changed.len() / 2;
    changed[at] ^= 0x20;
    assert_eq!(check(changed.clone()).await["authentic"], json!(false));
    let html = app
        .http
        .get(app.url(&format!("/cabinet/applications/{id}")))
        .header("cookie", format!("uslugi_session={token}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Скачать подпись (.sig)"), "{html}");

    // OpenSSL with the GOST engine checks the pair on its own.
    let scratch = std::env::temp_dir().join(format!("uslugi-gost-doc-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::write(scratch.join("doc.pdf"), &pdf).unwrap();
    std::fs::write(scratch.join("changed.pdf"), &changed).unwrap();
    std::fs::write(scratch.join("doc.sig"), &sig).unwrap();
    let openssl = |content: &str| {
        std::process::Command::new("openssl")
            .env("OPENSSL_CONF", dir.join("openssl.cnf"))
            .args(["cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in"])
            .arg(scratch.join("doc.sig"))
            .arg("-content")
            .arg(scratch.join(content))
            .arg("-CAfile")
            .arg(dir.join("gost256/ca.pem"))
            .args(["-out", "/dev/null"])
            .output()
            .unwrap()
    };
    let good = openssl("doc.pdf");
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    assert!(!openssl("changed.pdf").status.success());
    let _ = std::fs::remove_dir_all(&scratch);
    app.stop().await;
}
