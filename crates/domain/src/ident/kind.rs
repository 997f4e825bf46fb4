//! Field checks by kind: one table that the validation API, the portal's forms and the
//! service application forms share, so a field is judged the same way live (in the
//! browser) and on submit (on the server).

use chrono::NaiveDate;

use super::*;
use crate::FieldError;

/// A kind of value the portal can check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Inn,
    Snils,
    Ogrn,
    Ogrnip,
    Kpp,
    Bik,
    Account,
    Uin,
    Passport,
    DivisionCode,
    Phone,
    Email,
    Name,
    BirthDate,
    Cadastral,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Self::Inn,
        Self::Snils,
        Self::Ogrn,
        Self::Ogrnip,
        Self::Kpp,
        Self::Bik,
        Self::Account,
        Self::Uin,
        Self::Passport,
        Self::DivisionCode,
        Self::Phone,
        Self::Email,
        Self::Name,
        Self::BirthDate,
        Self::Cadastral,
    ];

    /// The name in URLs: `/api/v1/validate/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Inn => "inn",
            Self::Snils => "snils",
            Self::Ogrn => "ogrn",
            Self::Ogrnip => "ogrnip",
            Self::Kpp => "kpp",
            Self::Bik => "bik",
            Self::Account => "account",
            Self::Uin => "uin",
            Self::Passport => "passport",
            Self::DivisionCode => "division-code",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Name => "name",
            Self::BirthDate => "birth-date",
            Self::Cadastral => "cadastral",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The Russian name of the field, as forms label it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Inn => "ИНН",
            Self::Snils => "СНИЛС",
            Self::Ogrn => "ОГРН",
            Self::Ogrnip => "ОГРНИП",
            Self::Kpp => "КПП",
            Self::Bik => "БИК",
            Self::Account => "Номер счёта",
            Self::Uin => "УИН",
            Self::Passport => "Серия и номер паспорта",
            Self::DivisionCode => "Код подразделения",
            Self::Phone => "Мобильный телефон",
            Self::Email => "Электронная почта",
            Self::Name => "Фамилия, имя или отчество",
            Self::BirthDate => "Дата рождения",
            Self::Cadastral => "Кадастровый номер",
        }
    }
}

/// What a check may need besides the value itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The bank's BIK, for an account.
    pub bik: Option<&'a str>,
    /// Today's date where the person is, for a date of birth.
    pub today: NaiveDate,
}

/// Checks `value` as a `kind`; on success returns its normalized form.
pub fn check(kind: Kind, value: &str, cx: Context<'_>) -> Result<String, FieldError> {
    fn norm<T: ToString>(r: Result<T, FieldError>) -> Result<String, FieldError> {
        r.map(|v| v.to_string())
    }
    match kind {
        Kind::Inn => norm(Inn::parse(value)),
        Kind::Snils => norm(Snils::parse(value)),
        Kind::Ogrn => norm(Ogrn::parse(value)),
        Kind::Ogrnip => norm(Ogrnip::parse(value)),
        Kind::Kpp => norm(Kpp::parse(value)),
        Kind::Bik => norm(Bik::parse(value)),
        Kind::Account => {
            // The account's own mistakes come first; the control key needs the bank.
            BankAccount::check_shape(value)?;
            let bik = cx.bik.filter(|b| !b.trim().is_empty());
            let bik = bik.ok_or(FieldError::Requires { field: "БИК" })?;
            let bik = Bik::parse(bik).map_err(|_| FieldError::Dependent { field: "БИК" })?;
            norm(BankAccount::parse_guessing_kind(value, &bik))
        }
        Kind::Uin => norm(Uin::parse(value)),
        Kind::Passport => norm(Passport::parse(value)),
        Kind::DivisionCode => norm(DivisionCode::parse(value)),
        Kind::Phone => norm(Phone::parse(value)),
        Kind::Email => norm(Email::parse(value)),
        Kind::Name => norm(NamePart::parse(value)),
        Kind::BirthDate => norm(BirthDate::parse(value, cx.today)),
        Kind::Cadastral => norm(CadastralNumber::parse(value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_slug(kind.slug()), Some(kind));
        }
        assert_eq!(Kind::from_slug("nope"), None);
    }

    #[test]
    fn account_needs_a_good_bik() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let cx = |bik| Context { bik, today };
        let acc = "40602810700000000025";
        assert_eq!(check(Kind::Account, acc, cx(Some("049805746"))).as_deref(), Ok(acc));
        assert_eq!(check(Kind::Account, acc, cx(None)), Err(FieldError::Requires { field: "БИК" }));
        assert_eq!(
            check(Kind::Account, acc, cx(Some("0498"))),
            Err(FieldError::Dependent { field: "БИК" })
        );
    }
}
