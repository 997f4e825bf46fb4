//! What can go wrong in an identity flow, with the Russian text a person sees.

use chrono::{DateTime, Utc};
use domain::FieldError;

/// A refusal or failure of an identity flow. `Display` is the Russian message.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Form fields that are wrong: (field name, what is wrong).
    #[error("проверьте поля формы")]
    Fields(Vec<(&'static str, FieldError)>),
    #[error("{}", taken(kind))]
    ContactTaken { kind: &'static str },
    #[error(
        "слишком много неверных кодов: подтверждение для этого контакта заблокировано до {} (МСК)",
        msk(until)
    )]
    ContactBlocked { until: DateTime<Utc> },
    #[error("неверный код, осталось попыток: {left}")]
    CodeWrong { left: i64 },
    #[error("код больше не действует: исчерпаны попытки ввода. Запросите новый код")]
    CodeExhausted,
    #[error("срок действия кода истёк или код уже использован. Запросите новый код")]
    CodeExpired,
    #[error("отправить код снова можно через {seconds} с")]
    ResendTooSoon { seconds: i64 },
    #[error("регистрация не найдена или устарела. Начните заново")]
    RegistrationGone,
    #[error("ссылка устарела или уже использована. Начните заново")]
    FlowGone,
    #[error("сначала подтвердите контакт кодом")]
    NotConfirmed,
    #[error("пароль не подходит: {}", .0.join("; "))]
    WeakPassword(Vec<String>),
    #[error("пароли не совпадают")]
    PasswordMismatch,
    #[error("неверный логин или пароль")]
    BadCredentials,
    #[error("неверный текущий пароль")]
    WrongCurrentPassword,
    #[error("слишком много кодов для этого контакта, повторите после {} (МСК)", msk(until))]
    TooManyCodes { until: DateTime<Utc> },
    #[error(
        "вход заблокирован до {} (МСК) после нескольких неверных паролей. Подождите или восстановите пароль",
        msk(until)
    )]
    Locked { until: DateTime<Utc> },
    #[error("слишком много попыток входа с этого адреса, повторите после {} (МСК)", msk(until))]
    TooManyAttempts { until: DateTime<Utc> },
    #[error(
        "сначала получите стандартную учётную запись: укажите паспорт и СНИЛС в разделе «Документы» и дождитесь проверки"
    )]
    NotStandard,
    #[error("учётная запись уже подтверждена")]
    AlreadyConfirmed,
    #[error("время для ввода кода истекло или попытки исчерпаны. Войдите снова")]
    SecondFactorGone,
    #[error("этот способ подтверждения входа недоступен для учётной записи")]
    FactorUnavailable,
    #[error("подтвердите, что вы не робот: введите цифры с картинки или ответ на вопрос")]
    CaptchaRequired,
    #[error(
        "проверка «не робот» не пройдена: ответ неверный или устарел. Попробуйте новую картинку"
    )]
    CaptchaWrong,
    #[error(
        "учётная запись заблокирована по вашей просьбе. Чтобы разблокировать её, восстановите доступ («Забыли пароль?»)"
    )]
    AccountBlocked,
    #[error(
        "учётная запись будет удалена {}. Чтобы отменить удаление, восстановите доступ («Забыли пароль?»)",
        on.with_timezone(&domain::clock::moscow()).format("%d.%m.%Y")
    )]
    AccountClosing { on: DateTime<Utc> },
    #[error(
        "данные не совпадают с проверенными данными учётной записи. Проверьте серию и номер паспорта, дату рождения и ИНН или обратитесь в центр обслуживания"
    )]
    PassportMismatch,
    /// A confirmation by qualified electronic signature was refused.
    #[error("{0}")]
    Signature(crate::signature::SignatureError),
    #[error("письмо с кодом уже заказано: дождитесь его или отмените заказ, чтобы заказать новое")]
    LetterActive,
    #[error("письмо с кодом не заказано. Закажите письмо")]
    LetterNone,
    #[error("письмо ещё не отправлено: код можно будет ввести, когда письмо придёт")]
    LetterNotSent,
    #[error("срок действия кода из письма истёк. Закажите новое письмо")]
    LetterExpired,
    #[error(
        "код из письма больше не действует: {} неверных попыток. Закажите новое письмо",
        crate::letter::ATTEMPTS
    )]
    LetterExhausted,
    #[error(
        "за последний год заказано слишком много писем ({}). Подтвердите личность в центре обслуживания",
        crate::letter::PER_YEAR
    )]
    TooManyLetters,
    #[error(
        "адрес регистрации нельзя напечатать на конверте: он слишком длинный или содержит \
         непечатаемые символы. Уточните адрес в разделе «Документы» или выберите другой способ"
    )]
    AddressUnprintable,
    #[error("недостаточно прав: действие доступно только роли «{needed}»")]
    WrongRole { needed: &'static str },
    #[error("учётная запись сотрудника заблокирована. Обратитесь к администратору")]
    StaffBlocked,
    #[error("сотрудник с таким логином не найден")]
    StaffNotFound,
    #[error("учётная запись гражданина не найдена")]
    PersonNotFound,
    #[error(
        "учётная запись упрощённая: сначала внесите документы гражданина и дождитесь их проверки в ведомствах"
    )]
    NotStandardYet,
    #[error("неверный код активации, осталось попыток: {left}")]
    ActivationWrong { left: i64 },
    #[error(
        "код активации не действует: он неверен, истёк, уже использован или исчерпаны попытки. Получите новый код в центре обслуживания"
    )]
    ActivationGone,
    #[error("такого банка нет в списке банков-партнёров")]
    BankUnknown,
    #[error(
        "банк «{bank}» сейчас не отвечает. Попробуйте позже или выберите другой способ подтверждения"
    )]
    BankUnavailable { bank: String },
    #[error(
        "вход в банк «{bank}» отменён, банк не передал данные. Чтобы подтвердить учётную запись, войдите в банк снова и разрешите передачу данных"
    )]
    BankDenied { bank: String },
    #[error(
        "банк «{bank}» не смог передать проверенные данные. Попробуйте позже или выберите другой способ подтверждения"
    )]
    BankFailed { bank: String },
    #[error(
        "ответ банка не относится к начатому вами подтверждению или устарел (ссылка действует 10 минут). Начните подтверждение заново"
    )]
    BankFlowGone,
    #[error("internal: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

fn taken(kind: &str) -> &'static str {
    if kind == "phone" {
        "этот номер телефона уже привязан к учётной записи. Войдите или восстановите доступ"
    } else {
        "этот адрес электронной почты уже привязан к учётной записи. Войдите или восстановите доступ"
    }
}

fn msk(at: &DateTime<Utc>) -> String {
    at.with_timezone(&domain::clock::moscow()).format("%H:%M %d.%m.%Y").to_string()
}

impl IdentityError {
    /// A stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Fields(_) => "fields",
            Self::ContactTaken { .. } => "contact_taken",
            Self::ContactBlocked { .. } => "contact_blocked",
            Self::CodeWrong { .. } => "code_wrong",
            Self::CodeExhausted => "code_exhausted",
            Self::CodeExpired => "code_expired",
            Self::ResendTooSoon { .. } => "resend_too_soon",
            Self::RegistrationGone => "registration_gone",
            Self::FlowGone => "flow_gone",
            Self::NotConfirmed => "not_confirmed",
            Self::WeakPassword(_) => "weak_password",
            Self::PasswordMismatch => "password_mismatch",
            Self::BadCredentials => "bad_credentials",
            Self::WrongCurrentPassword => "wrong_current_password",
            Self::TooManyCodes { .. } => "too_many_codes",
            Self::Locked { .. } => "locked",
            Self::TooManyAttempts { .. } => "too_many_attempts",
            Self::SecondFactorGone => "second_factor_gone",
            Self::FactorUnavailable => "factor_unavailable",
            Self::CaptchaRequired => "captcha_required",
            Self::CaptchaWrong => "captcha_wrong",
            Self::AccountBlocked => "account_blocked",
            Self::AccountClosing { .. } => "account_closing",
            Self::PassportMismatch => "passport_mismatch",
            Self::NotStandard => "not_standard",
            Self::AlreadyConfirmed => "already_confirmed",
            Self::Signature(e) => e.code(),
            Self::LetterActive => "letter_active",
            Self::LetterNone => "letter_none",
            Self::LetterNotSent => "letter_not_sent",
            Self::LetterExpired => "letter_expired",
            Self::LetterExhausted => "letter_exhausted",
            Self::TooManyLetters => "too_many_letters",
            Self::AddressUnprintable => "address_unprintable",
            Self::WrongRole { .. } => "wrong_role",
            Self::StaffBlocked => "staff_blocked",
            Self::StaffNotFound => "staff_not_found",
            Self::PersonNotFound => "person_not_found",
            Self::NotStandardYet => "not_standard",
            Self::ActivationWrong { .. } => "activation_wrong",
            Self::ActivationGone => "activation_gone",
            Self::BankUnknown => "bank_unknown",
            Self::BankUnavailable { .. } => "bank_unavailable",
            Self::BankDenied { .. } => "bank_denied",
            Self::BankFailed { .. } => "bank_failed",
            Self::BankFlowGone => "bank_flow_gone",
            Self::Internal(_) | Self::Store(_) => "internal",
        }
    }

    /// True for failures that are not the person's doing (the page shows a 500/503).
    pub fn is_internal(&self) -> bool {
        matches!(self, Self::Internal(_) | Self::Store(_))
    }
}

impl From<store::vault::VaultError> for IdentityError {
    fn from(e: store::vault::VaultError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<notify::NotifyError> for IdentityError {
    fn from(e: notify::NotifyError) -> Self {
        Self::Internal(e.to_string())
    }
}
