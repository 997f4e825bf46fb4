//! Bank and payment identifiers: БИК, bank account with the control key, УИН.

use super::{digits, digits_of_len, string_identifier, trimmed};
use crate::FieldError;

/// БИК: 9 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bik(String);

impl Bik {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        digits_of_len(s, &[9], "9 цифр")?;
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Bik);

/// Which control-key prefix an account takes from the BIK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A client's settlement account: prefix is BIK digits 7–9.
    Client,
    /// The bank's correspondent account at the Bank of Russia: prefix is "0" + BIK digits 5–6.
    Correspondent,
}

impl AccountKind {
    /// Correspondent accounts of credit institutions are on balance account 30101.
    pub fn guess(account: &str) -> Self {
        if account.trim().starts_with("30101") { Self::Correspondent } else { Self::Client }
    }
}

/// A 20-digit bank account whose control key agrees with its bank's BIK
/// (Bank of Russia procedure of 08.09.1997 N 515).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BankAccount {
    number: String,
    kind: AccountKind,
}

const ACCOUNT_WEIGHTS: [u32; 3] = [7, 1, 3];

impl BankAccount {
    /// Checks what can be checked without the bank: 20 digits.
    pub fn check_shape(input: &str) -> Result<(), FieldError> {
        digits_of_len(trimmed(input)?, &[20], "20 цифр").map(drop)
    }

    /// Checks `input` as an account of `kind` held at the bank `bik`.
    pub fn parse(input: &str, bik: &Bik, kind: AccountKind) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let account = digits_of_len(s, &[20], "20 цифр")?;
        let b = digits(bik.as_str())?;
        let prefix: [u8; 3] = match kind {
            AccountKind::Client => [b[6], b[7], b[8]],
            AccountKind::Correspondent => [0, b[4], b[5]],
        };
        let sum: u32 = prefix
            .iter()
            .chain(&account)
            .zip(ACCOUNT_WEIGHTS.iter().cycle())
            .map(|(d, w)| u32::from(*d) * w % 10)
            .sum();
        if sum.is_multiple_of(10) {
            Ok(Self { number: s.to_owned(), kind })
        } else {
            Err(FieldError::Checksum)
        }
    }

    /// Like [`BankAccount::parse`], guessing the kind from the balance account.
    pub fn parse_guessing_kind(input: &str, bik: &Bik) -> Result<Self, FieldError> {
        Self::parse(input, bik, AccountKind::guess(input))
    }

    pub fn kind(&self) -> AccountKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.number
    }
}

impl std::fmt::Display for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.number)
    }
}

/// УИН — the accrual identifier of ГИС ГМП: 20 or 25 digits with a control digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uin(String);

/// Σ digit × weight with weights running 1..=10 and starting at `first`, mod 11.
fn uin_remainder(body: &[u8], first: u32) -> u32 {
    let weights = (first - 1..).map(|i| i % 10 + 1);
    body.iter().zip(weights).map(|(d, w)| u32::from(*d) * w).sum::<u32>() % 11
}

impl Uin {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let s = trimmed(input)?;
        let d = digits_of_len(s, &[20, 25], "20 или 25 цифр")?;
        if d.iter().all(|x| *x == 0) {
            return Err(FieldError::Zeros);
        }
        let (body, check) = d.split_at(d.len() - 1);
        let mut r = uin_remainder(body, 1);
        if r == 10 {
            r = uin_remainder(body, 3);
            if r == 10 {
                r = 0;
            }
        }
        if r == u32::from(check[0]) { Ok(Self(s.to_owned())) } else { Err(FieldError::Checksum) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_identifier!(Uin);

#[cfg(test)]
mod tests {
    use super::*;

    fn bik(s: &str) -> Bik {
        Bik::parse(s).unwrap()
    }

    #[test]
    fn account_examples() {
        let sber = bik("044525225");
        let corr = BankAccount::parse("30101810400000000225", &sber, AccountKind::Correspondent);
        assert_eq!(corr.map(|a| a.kind()), Ok(AccountKind::Correspondent));
        assert_eq!(
            BankAccount::parse_guessing_kind("30101810400000000226", &sber),
            Err(FieldError::Checksum)
        );
        let other = bik("049805746");
        assert!(BankAccount::parse("40602810700000000025", &other, AccountKind::Client).is_ok());
        assert!(BankAccount::parse_guessing_kind("40602810700000000025", &other).is_ok());
        assert_eq!(
            BankAccount::parse("40602810600000000025", &other, AccountKind::Client),
            Err(FieldError::Checksum)
        );
        assert_eq!(
            BankAccount::parse("4060281070000000002", &other, AccountKind::Client),
            Err(FieldError::Length { expected: "20 цифр" })
        );
    }

    #[test]
    fn bik_examples() {
        assert!(Bik::parse("044525225").is_ok());
        assert_eq!(Bik::parse("04452522"), Err(FieldError::Length { expected: "9 цифр" }));
    }

    #[test]
    fn uin_examples() {
        for v in ["18810000000000000015", "10000000000000000014", "0321000000000000000000019"] {
            assert!(Uin::parse(v).is_ok(), "{v} must be valid");
        }
        assert_eq!(Uin::parse("18810000000000000016"), Err(FieldError::Checksum));
        assert_eq!(
            Uin::parse("1881000000000000001"),
            Err(FieldError::Length { expected: "20 или 25 цифр" })
        );
        assert_eq!(Uin::parse("00000000000000000000"), Err(FieldError::Zeros));
    }
}
