//! The one error type of field validation: what is wrong with a value, as a stable
//! machine code and a Russian message for the person who typed it.

use std::fmt;

/// Why a value was refused. Every identifier parser returns this type, so forms and the
/// validation API render all of them the same way.
///
/// `Display` gives the Russian message; [`FieldError::code`] the stable machine code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// Nothing was entered.
    Empty,
    /// Characters outside the allowed set; `allowed` completes «допустимы только …».
    Characters { allowed: &'static str },
    /// Wrong length; `expected` completes «должно быть …».
    Length { expected: &'static str },
    /// Shape is wrong; `expected` completes «неверный формат, ожидается …».
    Format { expected: &'static str },
    /// The control digit(s) do not match.
    Checksum,
    /// A number made only of zeros.
    Zeros,
    /// Longer than the limit (in characters).
    TooLong { max: usize },
    /// A date that does not exist in the calendar (31.02, 00.13…).
    NoSuchDate,
    /// A date after today where only past dates make sense.
    Future,
    /// An age outside the allowed range.
    Age { min: u32, max: u32 },
    /// A value that needs another field to be checked (the account needs the BIK).
    Requires { field: &'static str },
    /// The other field it depends on is itself wrong.
    Dependent { field: &'static str },
    /// A rule of its own, worded in full (completes «Поле: …»).
    Invalid { reason: &'static str },
}

impl FieldError {
    /// A stable code for programs; never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::Characters { .. } => "characters",
            Self::Length { .. } => "length",
            Self::Format { .. } => "format",
            Self::Checksum => "checksum",
            Self::Zeros => "zeros",
            Self::TooLong { .. } => "too_long",
            Self::NoSuchDate => "no_such_date",
            Self::Future => "future",
            Self::Age { .. } => "age",
            Self::Requires { .. } => "requires",
            Self::Dependent { .. } => "dependent",
            Self::Invalid { .. } => "invalid",
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("не заполнено"),
            Self::Characters { allowed } => write!(f, "допустимы только {allowed}"),
            Self::Length { expected } => write!(f, "должно быть {expected}"),
            Self::Format { expected } => write!(f, "неверный формат, ожидается {expected}"),
            Self::Checksum => f.write_str("неверное контрольное число"),
            Self::Zeros => f.write_str("не может состоять из одних нулей"),
            Self::TooLong { max } => write!(f, "не длиннее {max} символов"),
            Self::NoSuchDate => f.write_str("такой даты не существует"),
            Self::Future => f.write_str("дата не может быть в будущем"),
            Self::Age { min, max } => write!(f, "возраст должен быть от {min} до {max} лет"),
            Self::Requires { field } => write!(f, "для проверки укажите {field}"),
            Self::Dependent { field } => write!(f, "сначала исправьте {field}"),
            Self::Invalid { reason } => f.write_str(reason),
        }
    }
}

impl std::error::Error for FieldError {}
