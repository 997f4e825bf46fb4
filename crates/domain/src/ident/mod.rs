//! Russian identifiers as types: once you hold an [`Inn`] or a [`Snils`], it is valid.
//!
//! Each type is built only by `parse` (also `FromStr`/`TryFrom<&str>`); its `Display` is the
//! normalized form, which parses back to the same value. The exact rules and the test values
//! come from `shared/design/identifiers.md`.

mod bank;
mod contact;
pub mod kind;
mod person;
mod property;
mod tax;

pub use bank::{AccountKind, BankAccount, Bik, Uin};
pub use contact::{Email, Phone};
pub use person::{
    BirthDate, DivisionCode, NamePart, Passport, Snils, free_text, parse_date, parse_past_date,
};
pub use property::CadastralNumber;
pub use tax::{Inn, InnKind, Kpp, Ogrn, Ogrnip};

use crate::FieldError;

/// Trims the input and refuses an empty value.
fn trimmed(input: &str) -> Result<&str, FieldError> {
    let s = input.trim();
    if s.is_empty() { Err(FieldError::Empty) } else { Ok(s) }
}

/// The input as ASCII digit values (0–9), or a «digits only» error.
fn digits(s: &str) -> Result<Vec<u8>, FieldError> {
    s.bytes().map(|b| if b.is_ascii_digit() { Ok(b - b'0') } else { Err(NOT_DIGITS) }).collect()
}

/// Digits of a value that must have exactly one of `lens` digits.
fn digits_of_len(s: &str, lens: &[usize], expected: &'static str) -> Result<Vec<u8>, FieldError> {
    let d = digits(s)?;
    if lens.contains(&d.len()) { Ok(d) } else { Err(FieldError::Length { expected }) }
}

/// The last `len` decimal digits of `n`, most significant first.
fn digits_of_number(mut n: u64, len: usize) -> Vec<u8> {
    let mut d = vec![0u8; len];
    for slot in d.iter_mut().rev() {
        // A remainder of 10 always fits in a byte.
        *slot = (n % 10) as u8;
        n /= 10;
    }
    d
}

/// Σ digit × weight over the shorter of the two slices.
fn weighted_sum(digits: &[u8], weights: &[u32]) -> u32 {
    digits.iter().zip(weights).map(|(d, w)| u32::from(*d) * w).sum()
}

const NOT_DIGITS: FieldError = FieldError::Characters { allowed: "цифры" };

/// Implements the string plumbing every identifier shares: `Display` (normalized form),
/// `FromStr`, `TryFrom<&str>`, `AsRef<str>`, and serde as a string that is parsed again
/// on the way in.
macro_rules! string_identifier {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::FieldError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl TryFrom<&str> for $ty {
            type Error = $crate::FieldError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                Self::parse(&s).map_err(::serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use string_identifier;
