//! Real-estate identifiers.

use super::{string_identifier, trimmed};
use crate::FieldError;

/// A cadastral number (кадастровый номер): `АА:ВВ:CCCCCC(C):К…` — district (2 digits), area
/// (2), quarter (6 or 7) and the object's number within it (1–7 digits). No check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CadastralNumber(String);

impl CadastralNumber {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        const SHAPE: FieldError = FieldError::Format {
            expected: "АА:ВВ:CCCCCCC:КК, например 77:01:0001001:1234",
        };
        let s: String = trimmed(input)?.chars().filter(|c| !c.is_whitespace()).collect();
        if !s.chars().all(|c| c.is_ascii_digit() || c == ':') {
            return Err(FieldError::Characters { allowed: "цифры и двоеточия" });
        }
        let parts: Vec<&str> = s.split(':').collect();
        let lengths_ok = parts.len() == 4
            && parts[0].len() == 2
            && parts[1].len() == 2
            && (6..=7).contains(&parts[2].len())
            && (1..=7).contains(&parts[3].len());
        if !lengths_ok {
            return Err(SHAPE);
        }
        if parts[3].bytes().all(|b| b == b'0') {
            return Err(FieldError::Zeros);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_identifier!(CadastralNumber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadastral_numbers() {
        assert_eq!(
            CadastralNumber::parse(" 77:01:0001001:1234 ").unwrap().as_str(),
            "77:01:0001001:1234"
        );
        assert!(CadastralNumber::parse("50:21:120302:7").is_ok());
        assert_eq!(CadastralNumber::parse("77:01:0001001").map_err(|e| e.code()), Err("format"));
        assert_eq!(
            CadastralNumber::parse("77-01-0001001-1").map_err(|e| e.code()),
            Err("characters")
        );
        assert_eq!(CadastralNumber::parse("77:01:0001001:000").map_err(|e| e.code()), Err("zeros"));
        assert_eq!(CadastralNumber::parse(""), Err(FieldError::Empty));
    }
}
