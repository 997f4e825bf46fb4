//! The portal's pages: home and the «Проверка реквизитов» form.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::session::{Chrome, Viewer};
use crate::validate::{self, Context, Kind};

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(home)).route("/check", get(check_form).post(check_submit))
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
}

async fn home(viewer: Viewer) -> HomePage {
    HomePage { chrome: viewer.chrome("home") }
}

/// One field of the form as the template shows it: what it is, and what was typed.
#[derive(Debug)]
struct FieldView {
    spec: &'static FieldSpec,
    value: String,
    error: Option<String>,
    normalized: Option<String>,
}

#[derive(Debug)]
struct FieldSpec {
    name: &'static str,
    kind: Kind,
    label: &'static str,
    hint: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
}

const fn spec(
    name: &'static str,
    kind: Kind,
    label: &'static str,
    hint: &'static str,
    autocomplete: &'static str,
    inputmode: &'static str,
) -> FieldSpec {
    FieldSpec { name, kind, label, hint, autocomplete, inputmode }
}

/// The form's groups and fields, in order.
const GROUPS: [(&str, &[FieldSpec]); 4] = [
    (
        "Гражданин",
        &[
            spec(
                "surname",
                Kind::Name,
                "Фамилия",
                "Русскими буквами, например Салтыков-Щедрин",
                "family-name",
                "text",
            ),
            spec("given_name", Kind::Name, "Имя", "Русскими буквами", "given-name", "text"),
            spec("patronymic", Kind::Name, "Отчество", "Если есть", "additional-name", "text"),
            spec(
                "birth_date",
                Kind::BirthDate,
                "Дата рождения",
                "ДД.ММ.ГГГГ, например 17.05.1990",
                "bday",
                "numeric",
            ),
            spec(
                "snils",
                Kind::Snils,
                "СНИЛС",
                "11 цифр, например 112-233-445 95",
                "off",
                "numeric",
            ),
            spec(
                "inn",
                Kind::Inn,
                "ИНН",
                "12 цифр для гражданина, 10 — для организации",
                "off",
                "numeric",
            ),
            spec(
                "passport",
                Kind::Passport,
                "Серия и номер паспорта",
                "Например 4510 123456",
                "off",
                "numeric",
            ),
            spec(
                "division_code",
                Kind::DivisionCode,
                "Код подразделения",
                "Например 770-001",
                "off",
                "numeric",
            ),
        ],
    ),
    (
        "Контакты",
        &[
            spec(
                "phone",
                Kind::Phone,
                "Мобильный телефон",
                "Например +7 916 123-45-67",
                "tel",
                "tel",
            ),
            spec(
                "email",
                Kind::Email,
                "Электронная почта",
                "Например name@mail.ru или имя@почта.рф",
                "email",
                "email",
            ),
        ],
    ),
    (
        "Организация и банк",
        &[
            spec("ogrn", Kind::Ogrn, "ОГРН", "13 цифр", "off", "numeric"),
            spec("ogrnip", Kind::Ogrnip, "ОГРНИП", "15 цифр", "off", "numeric"),
            spec("kpp", Kind::Kpp, "КПП", "9 символов, например 773601001", "off", "text"),
            spec("bik", Kind::Bik, "БИК банка", "9 цифр, например 044525225", "off", "numeric"),
            spec(
                "account",
                Kind::Account,
                "Номер счёта",
                "20 цифр; проверяется вместе с БИК",
                "off",
                "numeric",
            ),
        ],
    ),
    ("Платёж", &[spec("uin", Kind::Uin, "УИН начисления", "20 или 25 цифр", "off", "numeric")]),
];

struct GroupView {
    legend: &'static str,
    fields: Vec<FieldView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "check.html")]
struct CheckPage {
    chrome: Chrome,
    groups: Vec<GroupView>,
    nothing_entered: bool,
    checked: bool,
}

impl CheckPage {
    fn new(chrome: Chrome, values: &Values, cx: Option<Context<'_>>) -> Self {
        let mut filled = 0;
        let groups = GROUPS
            .iter()
            .map(|(legend, specs)| GroupView {
                legend,
                fields: specs
                    .iter()
                    .map(|s| {
                        let mut view = FieldView {
                            spec: s,
                            value: value(values, s.name).to_owned(),
                            error: None,
                            normalized: None,
                        };
                        if let Some(cx) = cx.filter(|_| !view.value.trim().is_empty()) {
                            filled += 1;
                            match validate::check(s.kind, &view.value, cx) {
                                Ok(n) => view.normalized = Some(n),
                                Err(e) => view.error = Some(e.to_string()),
                            }
                        }
                        view
                    })
                    .collect(),
            })
            .collect();
        Self { chrome, groups, nothing_entered: cx.is_some() && filled == 0, checked: cx.is_some() }
    }

    /// The fields with errors, in form order, for the summary at the top.
    fn errors(&self) -> Vec<&FieldView> {
        self.groups.iter().flat_map(|g| &g.fields).filter(|f| f.error.is_some()).collect()
    }

    fn all_valid(&self) -> bool {
        self.checked && !self.has_errors()
    }

    fn has_errors(&self) -> bool {
        self.nothing_entered || !self.errors().is_empty()
    }
}

/// The submitted form: every field optional, unknown names ignored.
type Values = HashMap<String, String>;

fn value<'a>(values: &'a Values, name: &str) -> &'a str {
    values.get(name).map_or("", String::as_str)
}

async fn check_form(viewer: Viewer) -> CheckPage {
    CheckPage::new(viewer.chrome("check"), &Values::default(), None)
}

/// Server-side validation for browsers without JavaScript (and for everyone on submit):
/// the page comes back with what was typed, an error summary and a message per field.
async fn check_submit(
    viewer: Viewer,
    State(state): State<AppState>,
    Form(values): Form<Values>,
) -> Response {
    let today = domain::moscow_date(state.clock.now());
    let cx = Context { bik: Some(value(&values, "bik")), today };
    let page = CheckPage::new(viewer.chrome("check"), &values, Some(cx));
    let status = if page.has_errors() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, page).into_response()
}
