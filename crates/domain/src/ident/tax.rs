//! Tax and state-register numbers: ИНН, ОГРН, ОГРНИП, КПП.

use super::{digits_of_len, digits_of_number, string_identifier, trimmed, weighted_sum};
use crate::FieldError;

/// Whose INN it is: 10 digits for an organization, 12 for a person or ИП.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InnKind {
    Organization,
    Person,
}

/// ИНН: 10 digits (organization) or 12 digits (person, ИП) with control digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Inn(String);

const INN10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const INN12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

fn inn_check(d: &[u8], weights: &[u32]) -> u8 {
    // The sum is below 11 * 9 * 10 * 11, so the narrowing is exact.
    (weighted_sum(d, weights) % 11 % 10) as u8
}

impl Inn {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let d = digits_of_len(s, &[10, 12], "10 или 12 цифр")?;
        let ok = if d.len() == 10 {
            inn_check(&d[..9], &INN10) == d[9]
        } else {
            inn_check(&d[..10], &INN11) == d[10] && inn_check(&d[..11], &INN12) == d[11]
        };
        if ok { Ok(Self(s.to_owned())) } else { Err(FieldError::Checksum) }
    }

    /// The person's INN whose first ten digits are `body` (below 10^10), with both
    /// control digits computed — for generating test and demo data.
    pub fn person_from_body(body: u64) -> Self {
        let mut d = digits_of_number(body % 10_000_000_000, 10);
        d.push(inn_check(&d, &INN11));
        d.push(inn_check(&d, &INN12));
        Self(d.iter().map(|x| char::from(b'0' + x)).collect())
    }

    /// The organization's INN whose first nine digits are `body` (below 10^9).
    pub fn organization_from_body(body: u64) -> Self {
        let mut d = digits_of_number(body % 1_000_000_000, 9);
        d.push(inn_check(&d, &INN10));
        Self(d.iter().map(|x| char::from(b'0' + x)).collect())
    }

    /// A person's (or entrepreneur's) INN: 12 digits; an organization's is refused.
    pub fn parse_person(input: &str) -> Result<Self, FieldError> {
        let inn = Self::parse(input)?;
        if inn.kind() == InnKind::Person {
            Ok(inn)
        } else {
            Err(FieldError::Length {
                expected: "12 цифр (ИНН физического лица)"
            })
        }
    }

    pub fn kind(&self) -> InnKind {
        if self.0.len() == 10 { InnKind::Organization } else { InnKind::Person }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Inn);

/// ОГРН: 13 digits; the first 12 as a number, mod 11, mod 10, equal the last.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ogrn(String);

/// ОГРНИП: 15 digits; the first 14 as a number, mod 13, mod 10, equal the last.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ogrnip(String);

/// Parses `len` digits whose leading `len - 1` digits, as a number, `mod modulus mod 10`
/// give the last digit — the rule shared by ОГРН and ОГРНИП.
fn register_number(
    input: &str,
    len: usize,
    modulus: u64,
    expected: &'static str,
) -> Result<String, FieldError> {
    let s = trimmed(input)?;
    let d = digits_of_len(s, &[len], expected)?;
    let body = d[..len - 1].iter().fold(0u64, |n, x| n * 10 + u64::from(*x));
    if body % modulus % 10 == u64::from(d[len - 1]) {
        Ok(s.to_owned())
    } else {
        Err(FieldError::Checksum)
    }
}

/// `body` as `len` digits followed by `body mod modulus mod 10`.
fn with_register_check(body: u64, len: u32, modulus: u64) -> String {
    let body = body % 10u64.pow(len);
    format!("{body:0width$}{}", body % modulus % 10, width = len as usize)
}

impl Ogrn {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        register_number(input, 13, 11, "13 цифр").map(Self)
    }

    /// The ОГРН whose first twelve digits are `body` (below 10^12), with its control digit.
    pub fn from_body(body: u64) -> Self {
        Self(with_register_check(body, 12, 11))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Ogrn);

impl Ogrnip {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        register_number(input, 15, 13, "15 цифр").map(Self)
    }

    /// The ОГРНИП whose first fourteen digits are `body` (below 10^14).
    pub fn from_body(body: u64) -> Self {
        Self(with_register_check(body, 14, 13))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Ogrnip);

/// КПП: 9 characters, `NNNN` + two digits or capital Latin letters + `NNN`; no check digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kpp(String);

impl Kpp {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let b = s.as_bytes();
        if !s.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) {
            return Err(FieldError::Characters {
                allowed: "цифры и заглавные латинские буквы"
            });
        }
        if b.len() != 9 {
            return Err(FieldError::Length { expected: "9 символов" });
        }
        let shape = b[..4].iter().all(u8::is_ascii_digit) && b[6..].iter().all(u8::is_ascii_digit);
        if shape {
            Ok(Self(s.to_owned()))
        } else {
            Err(FieldError::Format {
                expected: "4 цифры, 2 цифры или заглавные латинские буквы, 3 цифры",
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Kpp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_inn_refuses_an_organizations() {
        assert!(Inn::parse_person("500100732259").is_ok());
        assert_eq!(
            Inn::parse_person("7707083893"),
            Err(FieldError::Length {
                expected: "12 цифр (ИНН физического лица)"
            })
        );
    }

    #[test]
    fn inn_examples() {
        for v in ["7707083893", "1234567894", "500100732259", "123456789047"] {
            assert!(Inn::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(Inn::parse("7707083894"), Err(FieldError::Checksum));
        assert_eq!(Inn::parse("123456789037"), Err(FieldError::Checksum));
        assert_eq!(Inn::parse("12345"), Err(FieldError::Length { expected: "10 или 12 цифр" }));
        assert_eq!(Inn::parse("77070838a3").map_err(|e| e.code()), Err("characters"));
        assert_eq!(Inn::parse("  "), Err(FieldError::Empty));
        assert_eq!(Inn::parse("7707083893").map(|i| i.kind()), Ok(InnKind::Organization));
        assert_eq!(Inn::parse("500100732259").map(|i| i.kind()), Ok(InnKind::Person));
    }

    #[test]
    fn ogrn_examples() {
        for v in ["1027700132195", "1037739010891"] {
            assert!(Ogrn::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(Ogrn::parse("1027700132196"), Err(FieldError::Checksum));
        assert_eq!(Ogrn::parse("102770013219"), Err(FieldError::Length { expected: "13 цифр" }));
        for v in ["385768585948949", "304500116000157", "304500116000180"] {
            assert!(Ogrnip::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(Ogrnip::parse("304500116000158"), Err(FieldError::Checksum));
    }

    #[test]
    fn kpp_examples() {
        assert!(Kpp::parse("773601001").is_ok());
        assert!(Kpp::parse("0108A4934").is_ok());
        assert_eq!(Kpp::parse("77360100"), Err(FieldError::Length { expected: "9 символов" }));
        assert_eq!(Kpp::parse("7736a1001").map_err(|e| e.code()), Err("characters"));
        assert_eq!(Kpp::parse("A73601001").map_err(|e| e.code()), Err("format"));
    }
}
