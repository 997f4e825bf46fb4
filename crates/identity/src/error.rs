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
