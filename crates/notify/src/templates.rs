//! The texts of messages, in Russian. SMS texts stay within one Cyrillic segment where
//! they can (70 characters); e-mails say the same at more length.

use chrono::{DateTime, Utc};

/// What a message says. Each variant is one template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Template {
    /// A one-time code confirming a contact at registration.
    RegistrationCode { code: String, minutes: u32, link: Option<String> },
    /// A one-time code for password recovery.
    RecoveryCode { code: String, minutes: u32 },
    /// A one-time code confirming a new contact in the cabinet.
    ContactCode { code: String, minutes: u32 },
    /// Registration finished.
    Welcome,
    /// The password was changed (or reset).
    PasswordChanged { at: DateTime<Utc> },
    /// Sign-in was locked after wrong passwords.
    AccountLocked { until: DateTime<Utc> },
    /// Sign-in from a device not seen before.
    /// A sign-in from a device not seen before, with the one-click «это не я» link.
    NewDevice { at: DateTime<Utc>, device: String, link: String },
    /// A contact was replaced; goes to the old contact.
    ContactReplaced { at: DateTime<Utc> },
    /// The registries confirmed the documents; `raised` when the level became standard.
    DocumentsVerified { raised: bool },
    /// The registries did not confirm the documents, for these reasons.
    DocumentsRefused { reasons: Vec<String> },
    /// The registries do not answer; the check will be repeated.
    DocumentsDelayed,
    /// A second factor was turned on or off, or backup codes were renewed.
    SecurityChanged { at: DateTime<Utc>, what: String },
    /// The sign-in code of the SMS second factor.
    SignInCode { code: String, minutes: u32 },
    /// A temporary password was issued (recovery by passport or by an operator).
    TemporaryPassword { at: DateTime<Utc> },
    /// The account was blocked by its owner, or its closing was requested.
    AccountBlocked { at: DateTime<Utc>, closing_on: Option<String> },
    /// The account data was exported.
    DataExported { at: DateTime<Utc> },
    /// The account became confirmed by the named route («в центре обслуживания»).
    AccountConfirmed { route: String },
    /// A registered letter with a confirmation code was ordered.
    LetterRequested,
    /// The letter was handed to the post; its code is accepted through `expires_on`.
    LetterSent { expires_on: chrono::NaiveDate },
    /// An operator of a service centre entered the person's documents for the check.
    DocumentsEnteredAtCenter,
    /// An application changed its status (submitted, approved, a clarification asked…).
    ApplicationStatus { number: String, service: String, status: String, comment: Option<String> },
    /// The result document of an application, sent on the person's request (attached).
    ResultDocument { number: String, title: String, link: String },
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
}

fn moscow(at: &DateTime<Utc>) -> String {
    at.with_timezone(&domain::clock::moscow()).format("%d.%m.%Y %H:%M").to_string()
}

const NEVER_SHARE: &str = "Никому не сообщайте код, даже сотрудникам портала.";
const NOT_YOU: &str = "Если это были не вы, срочно смените пароль и обратитесь в поддержку.";

impl Template {
    /// A stable name for logs and the outbox (`registration.code`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::RegistrationCode { .. } => "registration.code",
            Self::RecoveryCode { .. } => "recovery.code",
            Self::ContactCode { .. } => "contact.code",
            Self::Welcome => "registration.done",
            Self::PasswordChanged { .. } => "password.changed",
            Self::AccountLocked { .. } => "signin.locked",
            Self::NewDevice { .. } => "signin.new_device",
            Self::ContactReplaced { .. } => "contact.replaced",
            Self::DocumentsVerified { .. } => "documents.verified",
            Self::DocumentsRefused { .. } => "documents.refused",
            Self::DocumentsDelayed => "documents.delayed",
            Self::AccountConfirmed { .. } => "account.confirmed",
            Self::SecurityChanged { .. } => "security.changed",
            Self::SignInCode { .. } => "signin.code",
            Self::TemporaryPassword { .. } => "password.temporary",
            Self::AccountBlocked { .. } => "account.blocked",
            Self::DataExported { .. } => "data.exported",
            Self::LetterRequested => "letter.requested",
            Self::LetterSent { .. } => "letter.sent",
            Self::DocumentsEnteredAtCenter => "documents.entered_at_center",
            Self::ApplicationStatus { .. } => "application.status",
            Self::ResultDocument { .. } => "application.result",
        }
    }

    pub fn render(&self) -> Rendered {
        let (subject, text) = match self {
            Self::RegistrationCode { code, minutes, link } => (
                "Код подтверждения регистрации".to_owned(),
                match link {
                    Some(link) => format!(
                        "Код подтверждения: {code}. Действует {minutes} мин.\n\n\
                         Или перейдите по ссылке, чтобы подтвердить адрес: {link}\n\n{NEVER_SHARE}"
                    ),
                    None => {
                        format!("Код подтверждения: {code}. Действует {minutes} мин. {NEVER_SHARE}")
                    }
                },
            ),
            Self::RecoveryCode { code, minutes } => (
                "Код для восстановления доступа".to_owned(),
                format!(
                    "Код восстановления доступа: {code}. Действует {minutes} мин. {NEVER_SHARE}"
                ),
            ),
            Self::ContactCode { code, minutes } => (
                "Код подтверждения контакта".to_owned(),
                format!(
                    "Код подтверждения контакта: {code}. Действует {minutes} мин. {NEVER_SHARE}"
                ),
            ),
            Self::Welcome => (
                "Регистрация завершена".to_owned(),
                "Учётная запись на портале «Услуги» создана. Уровень: упрощённая.".to_owned(),
            ),
            Self::PasswordChanged { at } => (
                "Пароль изменён".to_owned(),
                format!("Пароль от портала «Услуги» изменён {} (МСК). {NOT_YOU}", moscow(at)),
            ),
            Self::AccountLocked { until } => (
                "Вход временно заблокирован".to_owned(),
                format!(
                    "Вход в учётную запись заблокирован до {} (МСК) после нескольких неверных \
                     паролей. {NOT_YOU}",
                    moscow(until)
                ),
            ),
            Self::NewDevice { at, device, link } => (
                "Вход с нового устройства".to_owned(),
                format!(
                    "Вход в учётную запись {} (МСК) с устройства: {device}. Если это были не вы, \
                     нажмите «Это не я» — сеанс завершится: {link}",
                    moscow(at)
                ),
            ),
            Self::ContactReplaced { at } => (
                "Контакт изменён".to_owned(),
                format!(
                    "К учётной записи {} (МСК) привязан новый контакт вместо этого. {NOT_YOU}",
                    moscow(at)
                ),
            ),
            Self::DocumentsVerified { raised } => (
                "Данные проверены".to_owned(),
                if *raised {
                    "Ваши документы проверены в ведомствах. Учётная запись стала стандартной."
                        .to_owned()
                } else {
                    "Ваши документы проверены в ведомствах, новые данные вступили в силу."
                        .to_owned()
                },
            ),
            Self::DocumentsRefused { reasons } => (
                "Данные не подтверждены".to_owned(),
                format!(
                    "Ведомства не подтвердили данные: {}. Исправьте их в личном кабинете, \
                     раздел «Документы».",
                    reasons.join("; ")
                ),
            ),
            Self::DocumentsDelayed => (
                "Проверка данных задерживается".to_owned(),
                "Ведомства пока не отвечают. Мы повторим проверку автоматически и сообщим \
                 результат."
                    .to_owned(),
            ),
            Self::SecurityChanged { at, what } => (
                "Изменены настройки безопасности".to_owned(),
                format!("{} (МСК): {what}. {NOT_YOU}", moscow(at)),
            ),
            Self::SignInCode { code, minutes } => (
                "Код для входа".to_owned(),
                format!("Код для входа: {code}. Действует {minutes} мин. Никому не сообщайте его."),
            ),
            Self::TemporaryPassword { at } => (
                "Выдан временный пароль".to_owned(),
                format!(
                    "{} (МСК) для вашей учётной записи выдан временный пароль. При входе его \
                     нужно сменить. {NOT_YOU}",
                    moscow(at)
                ),
            ),
            Self::AccountBlocked { at, closing_on } => (
                "Учётная запись заблокирована".to_owned(),
                match closing_on {
                    Some(day) => format!(
                        "{} (МСК) вы запросили удаление учётной записи. Данные будут удалены \
                         {day}. До этого удаление можно отменить, восстановив доступ.",
                        moscow(at)
                    ),
                    None => format!(
                        "{} (МСК) учётная запись заблокирована по вашей просьбе. Чтобы \
                         разблокировать её, восстановите доступ.",
                        moscow(at)
                    ),
                },
            ),
            Self::DataExported { at } => (
                "Выгружены данные учётной записи".to_owned(),
                format!(
                    "{} (МСК) выгружены все данные вашей учётной записи. {NOT_YOU}",
                    moscow(at)
                ),
            ),
            Self::AccountConfirmed { route } => (
                "Учётная запись подтверждена".to_owned(),
                format!(
                    "Ваша учётная запись подтверждена {route}. Теперь доступны все услуги. \
                     {NOT_YOU}"
                ),
            ),
            Self::ApplicationStatus { number, service, status, comment } => (
                format!("Заявление № {number}: {}", status.to_lowercase()),
                format!(
                    "Заявление № {number} «{service}»: {}.{}\n\nПодробности — в личном \
                     кабинете, раздел «Мои заявки».",
                    status.to_lowercase(),
                    comment.as_ref().map_or_else(String::new, |c| format!("\nКомментарий: {c}"))
                ),
            ),
            Self::ResultDocument { number, title, link } => (
                format!("{title} № {number}"),
                format!(
                    "Во вложении — документ «{title}» № {number} в формате PDF, подписанный \
                     электронной подписью.\n\nПроверить его подлинность можно по ссылке {link} \
                     или загрузив файл на странице проверки документов.\n\nВы получили это \
                     письмо, потому что отправили документ себе из личного кабинета. {NOT_YOU}"
                ),
            ),
            Self::LetterRequested => (
                "Письмо с кодом заказано".to_owned(),
                format!(
                    "Заказное письмо с кодом подтверждения учётной записи заказано. Мы сообщим, \
                     когда передадим его на почту. {NOT_YOU}"
                ),
            ),
            Self::LetterSent { expires_on } => (
                "Письмо с кодом отправлено".to_owned(),
                format!(
                    "Заказное письмо с кодом подтверждения отправлено на адрес регистрации. Код \
                     действует до {} включительно. {NEVER_SHARE}",
                    expires_on.format("%d.%m.%Y")
                ),
            ),
            Self::DocumentsEnteredAtCenter => (
                "Документы внесены в центре обслуживания".to_owned(),
                format!(
                    "Оператор центра обслуживания внёс ваши паспорт и СНИЛС для проверки в \
                     ведомствах. О результате сообщим. {NOT_YOU}"
                ),
            ),
        };
        Rendered { subject, text }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn codes_and_times_appear_in_moscow_time() {
        let r =
            Template::RegistrationCode { code: "123456".into(), minutes: 5, link: None }.render();
        assert!(r.text.starts_with("Код подтверждения: 123456. Действует 5 мин."));
        let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let r = Template::AccountLocked { until: at }.render();
        assert!(r.text.contains("до 22.11.2026 12:00 (МСК)"), "{}", r.text);
    }
}
