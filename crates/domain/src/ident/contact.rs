//! Contacts: a Russian mobile phone number and an e-mail address.

use super::{digits, string_identifier, trimmed};
use crate::FieldError;

/// A Russian phone number in E.164, `+7XXXXXXXXXX`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone(String);

impl Phone {
    /// Accepts the forms people type: `+7 (916) 123-45-67`, `8 916 123 45 67`,
    /// `79161234567`, `9161234567`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let (plus, rest) = match s.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let plain: String =
            rest.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}')).collect();
        if digits(&plain).is_err() {
            return Err(FieldError::Characters {
                allowed: "цифры, пробелы, скобки и дефисы"
            });
        }
        let national = match (plus, plain.len()) {
            (true, 11) if plain.starts_with('7') => &plain[1..],
            (false, 11) if plain.starts_with('7') || plain.starts_with('8') => &plain[1..],
            (false, 10) if plain.starts_with('9') => &plain[..],
            (true, _) if !plain.starts_with('7') => {
                return Err(FieldError::Format {
                    expected: "российский номер, +7 и 10 цифр"
                });
            }
            _ => {
                return Err(FieldError::Length { expected: "+7 и 10 цифр" });
            }
        };
        Ok(Self(format!("+7{national}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Phone);

/// An e-mail address: one `@`, a local part without spaces, a domain with a dot.
/// Internationalized domains (`почта.рф`) are allowed and kept in Unicode, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// At least two labels of letters, digits and inner hyphens, each 1–63 characters.
fn valid_domain(d: &str) -> bool {
    d.contains('.')
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.chars().count() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// RFC 5321 limits.
const LOCAL_MAX: usize = 64;
const EMAIL_MAX: usize = 254;

impl Email {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        if s.chars().any(char::is_whitespace) {
            return Err(FieldError::Format { expected: "адрес без пробелов" });
        }
        if s.chars().count() > EMAIL_MAX {
            return Err(FieldError::TooLong { max: EMAIL_MAX });
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(FieldError::Format {
                expected: "адрес с одним знаком @, например name@mail.ru",
            });
        };
        let local_ok = !local.is_empty()
            && local.chars().count() <= LOCAL_MAX
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| {
                !c.is_control()
                    && !matches!(
                        c,
                        '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '\\' | '"'
                    )
            });
        if !local_ok {
            return Err(FieldError::Format {
                expected: "имя ящика до знака @, например name@mail.ru",
            });
        }
        // Plain ASCII domains (most addresses) need no IDNA processing at all.
        let plain = domain.is_ascii() && !domain.to_ascii_lowercase().contains("xn--");
        let unicode = if plain {
            Some(domain.to_ascii_lowercase()).filter(|d| valid_domain(d))
        } else {
            // One UTS-46 pass (mapping, normalization, punycode decoding, validation)
            // gives the Unicode form people read; SMTP gets punycode from
            // `ascii_domain` when it needs it.
            let (unicode, checked) = idna::domain_to_unicode(domain);
            Some(unicode).filter(|d| checked.is_ok() && valid_domain(d))
        };
        let Some(unicode) = unicode else {
            return Err(FieldError::Format {
                expected: "домен с точкой после @, например mail.ru или почта.рф",
            });
        };
        Ok(Self(format!("{local}@{unicode}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain in ASCII (punycode), as SMTP needs it.
    pub fn ascii_domain(&self) -> Option<String> {
        let domain = self.0.rsplit_once('@')?.1;
        idna::domain_to_ascii(domain).ok()
    }
}
string_identifier!(Email);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalize() {
        for v in [
            "+7 (916) 123-45-67",
            "8 916 123 45 67",
            "89161234567",
            "79161234567",
            "9161234567",
            "+79161234567",
        ] {
            assert_eq!(Phone::parse(v).unwrap().as_str(), "+79161234567", "{v}");
        }
        assert_eq!(Phone::parse("+1 202 555 0100").map_err(|e| e.code()), Err("format"));
        assert_eq!(Phone::parse("8916123456").map_err(|e| e.code()), Err("length"));
        assert_eq!(Phone::parse("+7 916 123 45 67 8").map_err(|e| e.code()), Err("length"));
        assert_eq!(Phone::parse("+7 916 abc").map_err(|e| e.code()), Err("characters"));
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse(" ivan@mail.ru ").unwrap().as_str(), "ivan@mail.ru");
        assert_eq!(Email::parse("Ivan@Mail.RU").unwrap().as_str(), "Ivan@mail.ru");
        assert_eq!(Email::parse("иван@Почта.РФ").unwrap().as_str(), "иван@почта.рф");
        assert_eq!(Email::parse("ivan@xn--80a1acny.xn--p1ai").unwrap().as_str(), "ivan@почта.рф");
        assert_eq!(
            Email::parse("ivan@почта.рф").unwrap().ascii_domain().as_deref(),
            Some("xn--80a1acny.xn--p1ai")
        );
        for bad in [
            "ivan",
            "ivan@@mail.ru",
            "iv an@mail.ru",
            "ivan@mail",
            "@mail.ru",
            "ivan@.ru",
            "a@b@c.ru",
            "ivan.@mail.ru",
        ] {
            assert_eq!(Email::parse(bad).map_err(|e| e.code()), Err("format"), "{bad}");
        }
    }
}
