//! Identifiers of a person: СНИЛС, passport, division code, name, date of birth.

use chrono::{Datelike, NaiveDate};

use super::{digits, string_identifier, trimmed};
use crate::FieldError;

/// СНИЛС: 11 digits, shown as `XXX-XXX-XXX YY`, with a two-digit control number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Snils(String);

/// Numbers up to 001-001-998 were issued before the control number existed.
const SNILS_UNCHECKED_MAX: u32 = 1_001_998;

impl Snils {
    /// Accepts `XXX-XXX-XXX YY`, 11 plain digits, or digits with spaces and dashes.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let plain: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let d = digits(&plain)?;
        if d.len() != 11 {
            return Err(FieldError::Length { expected: "11 цифр" });
        }
        if d.iter().all(|x| *x == 0) {
            return Err(FieldError::Zeros);
        }
        let number = d[..9].iter().fold(0u32, |n, x| n * 10 + u32::from(*x));
        let control = u32::from(d[9]) * 10 + u32::from(d[10]);
        if number > SNILS_UNCHECKED_MAX && Self::control(&d[..9]) != control {
            return Err(FieldError::Checksum);
        }
        Ok(Self(format!("{}-{}-{} {}", &plain[0..3], &plain[3..6], &plain[6..9], &plain[9..11])))
    }

    fn control(body: &[u8]) -> u32 {
        let sum: u32 = body.iter().zip((1..=9).rev()).map(|(d, w)| u32::from(*d) * w).sum();
        match sum {
            0..=99 => sum,
            100 | 101 => 0,
            _ => match sum % 101 {
                100 => 0,
                r => r,
            },
        }
    }

    /// The СНИЛС whose nine-digit number is `body` (above 001-001-998 and below 10^9),
    /// with its control number — for generating test and demo data.
    pub fn from_body(body: u32) -> Self {
        let body = body.clamp(SNILS_UNCHECKED_MAX + 1, 999_999_999);
        let d = super::digits_of_number(u64::from(body), 9);
        let p: String = d.iter().map(|x| char::from(b'0' + x)).collect();
        let control = Self::control(&d);
        Self(format!("{}-{}-{} {control:02}", &p[0..3], &p[3..6], &p[6..9]))
    }

    /// The formatted number, `XXX-XXX-XXX YY`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 11 digits without separators.
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }
}
string_identifier!(Snils);

/// Series and number of a passport of a citizen of the Russian Federation:
/// 4 digits + 6 digits, shown as `NNNN NNNNNN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Passport(String);

impl Passport {
    /// Accepts `NNNN NNNNNN` or 10 digits together.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let (series, number) = match s.split_once(' ') {
            Some((series, number)) => (series, number.trim_start()),
            None if s.len() == 10 && s.is_ascii() => s.split_at(4),
            None => (s, ""),
        };
        Self::from_parts(series, number)
    }

    /// Builds a passport from the series and the number as typed in separate fields.
    pub fn from_parts(series: &str, number: &str) -> Result<Self, FieldError> {
        const SHAPE: FieldError =
            FieldError::Format { expected: "серия 4 цифры и номер 6 цифр" };
        let series = trimmed(series)?;
        let number = number.trim();
        if !series.chars().chain(number.chars()).all(|c| c.is_ascii_digit() || c == ' ') {
            return Err(FieldError::Characters { allowed: "цифры" });
        }
        let shape = series.len() == 4 && number.len() == 6 && !series.contains(' ');
        if !shape || number.contains(' ') {
            return Err(SHAPE);
        }
        Ok(Self(format!("{series} {number}")))
    }

    pub fn series(&self) -> &str {
        &self.0[..4]
    }

    pub fn number(&self) -> &str {
        &self.0[5..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Passport);

/// Code of the division that issued a passport: `NNN-NNN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DivisionCode(String);

impl DivisionCode {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let b = s.as_bytes();
        let shape =
            b.len() == 7 && b[3] == b'-' && b[..3].iter().chain(&b[4..]).all(u8::is_ascii_digit);
        if shape {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::Format { expected: "NNN-NNN, например 770-001" })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(DivisionCode);

/// One part of a full name (surname, given name or patronymic): Cyrillic letters,
/// hyphen, apostrophe and space, 1–60 characters, beginning and ending with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NamePart(String);

const NAME_MAX: usize = 60;

fn is_cyrillic_letter(c: char) -> bool {
    matches!(c, 'А'..='я' | 'Ё' | 'ё')
}

impl NamePart {
    /// Trims the value and collapses inner runs of spaces.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?.split_whitespace().collect::<Vec<_>>().join(" ");
        if !s.chars().all(|c| is_cyrillic_letter(c) || matches!(c, '-' | '\'' | ' ')) {
            return Err(FieldError::Characters {
                allowed: "русские буквы, дефис, апостроф и пробел",
            });
        }
        if s.chars().count() > NAME_MAX {
            return Err(FieldError::TooLong { max: NAME_MAX });
        }
        let edges_are_letters = s.chars().next().is_some_and(is_cyrillic_letter)
            && s.chars().next_back().is_some_and(is_cyrillic_letter);
        let no_doubled_marks = !s
            .chars()
            .zip(s.chars().skip(1))
            .any(|(a, b)| !is_cyrillic_letter(a) && !is_cyrillic_letter(b));
        if edges_are_letters && no_doubled_marks {
            Ok(Self(s))
        } else {
            Err(FieldError::Format {
                expected: "буквы; дефис, апостроф и пробел — только между ними",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(NamePart);

/// Parses a calendar date written `ДД.ММ.ГГГГ` (or ISO `ГГГГ-ММ-ДД`, as date pickers
/// send it).
pub fn parse_date(input: &str) -> Result<NaiveDate, FieldError> {
    const SHAPE: FieldError = FieldError::Format { expected: "ДД.ММ.ГГГГ" };
    let s = trimmed(input)?;
    let b = s.as_bytes();
    let (day, month, year) = if b.len() == 10 && b[2] == b'.' && b[5] == b'.' {
        (&s[0..2], &s[3..5], &s[6..10])
    } else if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        (&s[8..10], &s[5..7], &s[0..4])
    } else {
        return Err(SHAPE);
    };
    let num = |p: &str| if p.bytes().all(|c| c.is_ascii_digit()) { p.parse().ok() } else { None };
    let (Some(day), Some(month), Some(year)) = (num(day), num(month), num(year)) else {
        return Err(SHAPE);
    };
    i32::try_from(year)
        .ok()
        .and_then(|y| NaiveDate::from_ymd_opt(y, month, day))
        .ok_or(FieldError::NoSuchDate)
}

/// A calendar date (as [`parse_date`]) that is not after `today`: dates of issue,
/// registration and the like.
pub fn parse_past_date(input: &str, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    let d = parse_date(input)?;
    if d > today { Err(FieldError::Future) } else { Ok(d) }
}

/// Free text as typed into a form or a file (a place of birth, an issuing authority, an
/// address): inner whitespace collapsed, not empty, at most `max` characters.
pub fn free_text(input: &str, max: usize) -> Result<String, FieldError> {
    let v = input.split_whitespace().collect::<Vec<_>>().join(" ");
    if v.is_empty() {
        Err(FieldError::Empty)
    } else if v.chars().count() > max {
        Err(FieldError::TooLong { max })
    } else {
        Ok(v)
    }
}

/// A date of birth: a real date, not in the future, giving an age of 14 to 130 years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BirthDate(NaiveDate);

const MIN_AGE: u32 = 14;
const MAX_AGE: u32 = 130;

impl BirthDate {
    /// Parses `ДД.ММ.ГГГГ` (or ISO `ГГГГ-ММ-ДД`, as date pickers send it) and checks it
    /// against `today`, the current date where the person is.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Self, FieldError> {
        Self::new(parse_date(input)?, today)
    }

    /// Checks an already parsed date against `today`.
    pub fn new(date: NaiveDate, today: NaiveDate) -> Result<Self, FieldError> {
        if date > today {
            return Err(FieldError::Future);
        }
        let age = today.years_since(date).unwrap_or(0);
        if (MIN_AGE..=MAX_AGE).contains(&age) {
            Ok(Self(date))
        } else {
            Err(FieldError::Age { min: MIN_AGE, max: MAX_AGE })
        }
    }

    pub fn date(&self) -> NaiveDate {
        self.0
    }

    /// Full years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        today.years_since(self.0).unwrap_or(0)
    }
}

impl std::fmt::Display for BirthDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02}.{:02}.{:04}", self.0.day(), self.0.month(), self.0.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_and_past_dates() {
        assert_eq!(free_text("  г.  Москва\n ул. Арбат ", 30), Ok("г. Москва ул. Арбат".into()));
        assert_eq!(free_text(" \t", 30), Err(FieldError::Empty));
        assert_eq!(free_text("абвг", 3), Err(FieldError::TooLong { max: 3 }));
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        assert_eq!(parse_past_date("22.11.2026", today), Ok(today));
        assert_eq!(parse_past_date("23.11.2026", today), Err(FieldError::Future));
        assert_eq!(parse_past_date("30.02.2020", today), Err(FieldError::NoSuchDate));
    }

    #[test]
    fn snils_examples() {
        let valid = [
            "112-233-445 95",
            "11223344595",
            "001-002-000 15",
            "001-326-679 00",
            "001-508-816 00",
            "001-168-299 07",
            "017-996-174 00",
        ];
        for v in valid {
            assert!(Snils::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(Snils::parse("11223344595").unwrap().as_str(), "112-233-445 95");
        assert_eq!(Snils::parse("112-233-445 96"), Err(FieldError::Checksum));
        assert_eq!(Snils::parse("001-001-999 00"), Err(FieldError::Checksum));
        assert_eq!(Snils::parse("112-233-445"), Err(FieldError::Length { expected: "11 цифр" }));
        assert_eq!(Snils::parse("000-000-000 00"), Err(FieldError::Zeros));
        // Below the checked range any control number is accepted.
        assert!(Snils::parse("001-001-998 42").is_ok());
    }

    #[test]
    fn passport_examples() {
        let p = Passport::parse("4510 123456").unwrap();
        assert_eq!((p.series(), p.number()), ("4510", "123456"));
        assert_eq!(Passport::parse("4510123456").unwrap().as_str(), "4510 123456");
        assert_eq!(Passport::parse("45 10 123456").map_err(|e| e.code()), Err("format"));
        assert_eq!(Passport::parse("4510 12345").map_err(|e| e.code()), Err("format"));
        assert_eq!(Passport::from_parts("45 10", "123456").map_err(|e| e.code()), Err("format"));
        assert_eq!(Passport::parse("45AB 123456").map_err(|e| e.code()), Err("characters"));
        assert!(DivisionCode::parse("770-001").is_ok());
        assert_eq!(DivisionCode::parse("770001").map_err(|e| e.code()), Err("format"));
    }

    #[test]
    fn name_parts() {
        for v in ["Иванов", "Салтыков-Щедрин", "Д'Артаньян", "Анна Мария", "Ёж", "Я"]
        {
            assert!(NamePart::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(NamePart::parse("  Анна   Мария ").unwrap().as_str(), "Анна Мария");
        assert_eq!(NamePart::parse("Ivanov").map_err(|e| e.code()), Err("characters"));
        assert_eq!(NamePart::parse("Иванов1").map_err(|e| e.code()), Err("characters"));
        assert_eq!(NamePart::parse("-Иван").map_err(|e| e.code()), Err("format"));
        assert_eq!(NamePart::parse("Иван--Петр").map_err(|e| e.code()), Err("format"));
        assert_eq!(NamePart::parse(&"я".repeat(61)), Err(FieldError::TooLong { max: 60 }));
        assert!(NamePart::parse(&"я".repeat(60)).is_ok());
        assert_eq!(NamePart::parse(""), Err(FieldError::Empty));
    }

    #[test]
    fn birth_dates() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let ok = BirthDate::parse("22.11.2012", today).unwrap();
        assert_eq!(ok.to_string(), "22.11.2012");
        assert_eq!(ok.age_on(today), 14);
        assert_eq!(BirthDate::parse("1990-05-17", today).unwrap().to_string(), "17.05.1990");
        assert_eq!(
            BirthDate::parse("23.11.2012", today),
            Err(FieldError::Age { min: 14, max: 130 })
        );
        assert_eq!(BirthDate::parse("01.01.2027", today), Err(FieldError::Future));
        assert_eq!(BirthDate::parse("31.02.2000", today), Err(FieldError::NoSuchDate));
        assert_eq!(BirthDate::parse("1.2.2000", today).map_err(|e| e.code()), Err("format"));
        assert_eq!(BirthDate::parse("22.11.1896", today).map(|d| d.age_on(today)), Ok(130));
        assert_eq!(
            BirthDate::parse("21.11.1895", today),
            Err(FieldError::Age { min: 14, max: 130 })
        );
    }
}
