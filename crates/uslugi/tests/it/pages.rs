//! Pages as a browser without JavaScript sees them.

use crate::support::on_both_backends;

on_both_backends! {
    async fn home_page_explains_the_portal(app) {
        let r = app.get("/").await;
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let html = r.text().await.unwrap();
        assert!(html.contains("<html lang=\"ru\">"));
        assert!(html.contains("Перейти к содержанию"), "skip link");
        assert!(html.contains("<main id=\"main\""), "main landmark");
        assert!(html.contains("Государственные услуги онлайн"));
        assert!(!html.contains("<script>"), "no inline script");
        for asset in ["/static/style.css", "/static/app.js", "/static/vendor/htmx-2.0.11.min.js"] {
            assert!(html.contains(asset), "{asset} linked");
            let r = app.get(asset).await;
            assert_eq!(r.status().as_u16(), 200, "{asset} served");
            let etag = r.headers()["etag"].clone();
            let again = app.http.get(app.url(asset)).header("if-none-match", etag).send().await.unwrap();
            assert_eq!(again.status().as_u16(), 304, "{asset} revalidates");
        }
    }
}

on_both_backends! {
    async fn unknown_pages_get_a_russian_404(app) {
        let r = app.get("/no/such/page").await;
        assert_eq!(r.status().as_u16(), 404);
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let html = r.text().await.unwrap();
        assert!(html.contains("Страница не найдена"));
        assert!(html.contains("На главную"));
        let r = app.get("/static/nothing.css").await;
        assert_eq!(r.status().as_u16(), 404);
    }
}

on_both_backends! {
    async fn form_without_javascript_lists_errors_and_keeps_input(app) {
        let (status, html) = app
            .submit_check(&[("snils", "112-233-445 96"), ("inn", "7707083893"), ("bik", "044525225"), ("account", "123")])
            .await;
        assert_eq!(status, 422);
        assert!(html.contains("Исправьте ошибки"), "error summary");
        assert!(html.contains("href=\"#field-snils\">СНИЛС: неверное контрольное число"), "{html}");
        assert!(html.contains("Номер счёта: должно быть 20 цифр"));
        assert!(html.contains("value=\"112-233-445 96\""), "what was typed stays");
        assert!(html.contains("value=\"7707083893\""));
        assert!(html.contains("aria-invalid=\"true\""));
        assert!(!html.contains("Все реквизиты указаны верно"));
    }
}

on_both_backends! {
    async fn form_without_javascript_confirms_good_values(app) {
        let (status, html) = app
            .submit_check(&[
                ("snils", "11223344595"),
                ("surname", "Салтыков-Щедрин"),
                ("bik", "049805746"),
                ("account", "40602810700000000025"),
                ("phone", "8 916 123 45 67"),
            ])
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Все реквизиты указаны верно"));
        assert!(html.contains("<dd>112-233-445 95</dd>"), "normalized SNILS shown");
        assert!(html.contains("<dd>+79161234567</dd>"));
        assert!(!html.contains("Исправьте ошибки"));
    }
}

on_both_backends! {
    async fn an_empty_form_asks_for_something(app) {
        let (status, html) = app.submit_check(&[("snils", "  ")]).await;
        assert_eq!(status, 422);
        assert!(html.contains("Заполните хотя бы одно поле"));
    }
}

on_both_backends! {
    async fn user_input_is_escaped(app) {
        let (_, html) = app.submit_check(&[("surname", "<script>alert(1)</script>")]).await;
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"), "escaped");
    }
}

on_both_backends! {
    async fn cross_site_posts_are_refused(app) {
        let r = app
            .http
            .post(app.url("/check"))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .form(&[("snils", "11223344595")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        assert!(r.text().await.unwrap().contains("Доступ запрещён"));
    }
}

on_both_backends! {
    async fn malformed_form_bodies_get_a_russian_page(app) {
        let r = app
            .http
            .post(app.url("/check"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 415);
        let html = r.text().await.unwrap();
        assert!(html.contains("Неподдерживаемый формат запроса"), "{html}");
    }
}
