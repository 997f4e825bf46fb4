//! What the registries hold and what they answer.

use chrono::NaiveDate;
use domain::ident::{DivisionCode, Inn, Kpp, Passport, Snils};
use serde::{Deserialize, Serialize};

/// A person as the registries know them: the МВД passport record, the СФР SNILS record
/// and the ФНС INN, joined (in a real deployment these are three services).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub surname: String,
    pub given_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub birth_place: String,
    pub passport: Passport,
    pub passport_issued_on: NaiveDate,
    pub passport_issued_by: String,
    pub passport_division: DivisionCode,
    pub snils: Snils,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inn: Option<Inn>,
    /// Registration address («адрес регистрации»).
    pub address: String,
}

/// A passport the МВД lists as invalid (lost, replaced, expired…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidPassport {
    pub passport: Passport,
    /// Why, in Russian: «утрачен», «заменён», «истёк срок действия»…
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<NaiveDate>,
}

/// Legal entity (ЕГРЮЛ) or individual entrepreneur (ЕГРИП).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Legal,
    Entrepreneur,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Legal => "legal",
            Self::Entrepreneur => "entrepreneur",
        }
    }
}

/// The head of an organization («руководитель»).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub name: String,
    pub position: String,
}

/// An ОКВЭД activity code with its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub code: String,
    pub name: String,
}

/// An organization or entrepreneur as ЕГРЮЛ/ЕГРИП show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub kind: OrgKind,
    pub inn: Inn,
    /// ОГРН (13 digits) or ОГРНИП (15 digits).
    pub ogrn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpp: Option<Kpp>,
    /// Full name; for an entrepreneur «Индивидуальный предприниматель Фамилия Имя Отчество».
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_name: Option<String>,
    /// Status as the register words it: «Действующее», «Ликвидировано»…
    pub status: String,
    /// In the process of liquidation («находится в стадии ликвидации»).
    #[serde(default)]
    pub liquidating: bool,
    pub registered_on: NaiveDate,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<Head>,
    /// The main activity first.
    #[serde(default)]
    pub activities: Vec<Activity>,
}

/// What is asked about a person: the data they entered for a standard account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonQuery {
    pub surname: String,
    pub given_name: String,
    #[serde(default)]
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub passport: Passport,
    pub passport_issued_on: NaiveDate,
    pub passport_division: DivisionCode,
    pub snils: Snils,
    #[serde(default)]
    pub inn: Option<Inn>,
}

/// One registry's answer about one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    /// The registry confirms the document belongs to this person.
    Confirmed,
    /// It does not; `reason` is a Russian sentence for the person.
    Refused { reason: String },
}

impl Verdict {
    pub fn is_confirmed(&self) -> bool {
        matches!(self, Self::Confirmed)
    }

    fn refused(reason: &str) -> Self {
        Self::Refused { reason: reason.to_owned() }
    }
}

/// The ФНС answer: an INN given by the person is confirmed or refused; when none was
/// given, the INN found for the person (if they have one) is returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum InnVerdict {
    Confirmed { inn: Inn },
    NotAssigned,
    Refused { reason: String },
}

/// The answers of МВД (passport), СФР (SNILS) and ФНС (INN) about a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonCheck {
    pub passport: Verdict,
    pub snils: Verdict,
    pub inn: InnVerdict,
}

impl PersonCheck {
    /// Every document checked out.
    pub fn is_confirmed(&self) -> bool {
        self.passport.is_confirmed()
            && self.snils.is_confirmed()
            && !matches!(self.inn, InnVerdict::Refused { .. })
    }
}

/// A name part as registries compare it: case, «ё» and spacing do not matter.
pub fn name_key(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().replace('ё', "е")
}

fn same_person(q: &PersonQuery, r: &PersonRecord) -> bool {
    name_key(&q.surname) == name_key(&r.surname)
        && name_key(&q.given_name) == name_key(&r.given_name)
        && q.patronymic.as_deref().map(name_key).unwrap_or_default()
            == r.patronymic.as_deref().map(name_key).unwrap_or_default()
        && q.birth_date == r.birth_date
}

pub(crate) const PASSPORT_NOT_FOUND: &str = "Паспорт с такими серией и номером не найден в МВД";
pub(crate) const PASSPORT_OTHER_PERSON: &str =
    "Паспорт выдан другому человеку: фамилия, имя, отчество или дата рождения не совпадают";
pub(crate) const PASSPORT_ISSUED_ON: &str = "Дата выдачи паспорта не совпадает с данными МВД";
pub(crate) const PASSPORT_DIVISION: &str = "Код подразделения не совпадает с данными МВД";
pub(crate) const SNILS_NOT_FOUND: &str = "СНИЛС не найден в Социальном фонде России";
pub(crate) const SNILS_OTHER_PERSON: &str =
    "СНИЛС принадлежит другому человеку: фамилия, имя, отчество или дата рождения не совпадают";
pub(crate) const INN_NOT_FOUND: &str = "ИНН не найден в ФНС";
pub(crate) const INN_OTHER_PERSON: &str = "ИНН принадлежит другому человеку";

/// The МВД verdict on a passport, given the record found by its series and number and
/// the register of invalid passports.
pub(crate) fn passport_verdict(
    q: &PersonQuery,
    found: Option<&PersonRecord>,
    invalid: Option<&InvalidPassport>,
) -> Verdict {
    if let Some(inv) = invalid {
        return Verdict::Refused {
            reason: format!("Паспорт недействителен: {}", inv.reason)
        };
    }
    match found {
        None => Verdict::refused(PASSPORT_NOT_FOUND),
        Some(r) if !same_person(q, r) => Verdict::refused(PASSPORT_OTHER_PERSON),
        Some(r) if r.passport_issued_on != q.passport_issued_on => {
            Verdict::refused(PASSPORT_ISSUED_ON)
        }
        Some(r) if r.passport_division != q.passport_division => {
            Verdict::refused(PASSPORT_DIVISION)
        }
        Some(_) => Verdict::Confirmed,
    }
}

/// The СФР verdict on a SNILS, given the record found by it.
pub(crate) fn snils_verdict(q: &PersonQuery, found: Option<&PersonRecord>) -> Verdict {
    match found {
        None => Verdict::refused(SNILS_NOT_FOUND),
        Some(r) if !same_person(q, r) => Verdict::refused(SNILS_OTHER_PERSON),
        Some(_) => Verdict::Confirmed,
    }
}

/// The ФНС verdict: `by_inn` is the record found by the INN the person gave (if any),
/// `by_passport` the record found by the passport (to find an INN not given).
pub(crate) fn inn_verdict(
    q: &PersonQuery,
    by_inn: Option<&PersonRecord>,
    by_passport: Option<&PersonRecord>,
) -> InnVerdict {
    match &q.inn {
        Some(inn) => match by_inn {
            None => InnVerdict::Refused { reason: INN_NOT_FOUND.to_owned() },
            Some(r) if !same_person(q, r) => {
                InnVerdict::Refused { reason: INN_OTHER_PERSON.to_owned() }
            }
            Some(_) => InnVerdict::Confirmed { inn: inn.clone() },
        },
        None => match by_passport {
            Some(r) if same_person(q, r) => {
                r.inn.clone().map_or(InnVerdict::NotAssigned, |inn| InnVerdict::Confirmed { inn })
            }
            _ => InnVerdict::NotAssigned,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> PersonRecord {
        PersonRecord {
            surname: "Семёнова".into(),
            given_name: "Анна".into(),
            patronymic: Some("Петровна".into()),
            birth_date: NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
            birth_place: "г. Москва".into(),
            passport: Passport::parse("4510 123456").unwrap(),
            passport_issued_on: NaiveDate::from_ymd_opt(2010, 6, 1).unwrap(),
            passport_issued_by: "ОВД района Арбат г. Москвы".into(),
            passport_division: DivisionCode::parse("770-001").unwrap(),
            snils: Snils::parse("112-233-445 95").unwrap(),
            inn: Some(Inn::parse("500100732259").unwrap()),
            address: "г. Москва, ул. Арбат, д. 1, кв. 1".into(),
        }
    }

    fn query(r: &PersonRecord) -> PersonQuery {
        PersonQuery {
            surname: "СЕМЕНОВА ".into(),
            given_name: r.given_name.clone(),
            patronymic: r.patronymic.clone(),
            birth_date: r.birth_date,
            passport: r.passport.clone(),
            passport_issued_on: r.passport_issued_on,
            passport_division: r.passport_division.clone(),
            snils: r.snils.clone(),
            inn: None,
        }
    }

    #[test]
    fn matching_ignores_case_yo_and_spaces_but_not_dates() {
        let r = record();
        let mut q = query(&r);
        assert_eq!(passport_verdict(&q, Some(&r), None), Verdict::Confirmed);
        assert_eq!(snils_verdict(&q, Some(&r)), Verdict::Confirmed);
        assert_eq!(
            inn_verdict(&q, None, Some(&r)),
            InnVerdict::Confirmed { inn: r.inn.clone().unwrap() }
        );
        q.birth_date = NaiveDate::from_ymd_opt(1990, 5, 18).unwrap();
        assert_eq!(passport_verdict(&q, Some(&r), None), Verdict::refused(PASSPORT_OTHER_PERSON));
        assert_eq!(snils_verdict(&q, Some(&r)), Verdict::refused(SNILS_OTHER_PERSON));
        assert_eq!(inn_verdict(&q, None, Some(&r)), InnVerdict::NotAssigned);
    }

    #[test]
    fn each_passport_field_has_its_own_reason() {
        let r = record();
        let mut q = query(&r);
        q.passport_division = DivisionCode::parse("770-002").unwrap();
        assert_eq!(passport_verdict(&q, Some(&r), None), Verdict::refused(PASSPORT_DIVISION));
        q.passport_issued_on = NaiveDate::from_ymd_opt(2011, 6, 1).unwrap();
        assert_eq!(passport_verdict(&q, Some(&r), None), Verdict::refused(PASSPORT_ISSUED_ON));
        assert_eq!(passport_verdict(&q, None, None), Verdict::refused(PASSPORT_NOT_FOUND));
        let lost =
            InvalidPassport {
                passport: r.passport.clone(), reason: "утрачен".into(), since: None
            };
        assert_eq!(
            passport_verdict(&query(&r), Some(&r), Some(&lost)),
            Verdict::Refused {
                reason: "Паспорт недействителен: утрачен".into()
            }
        );
    }

    #[test]
    fn a_given_inn_must_be_the_persons() {
        let r = record();
        let mut q = query(&r);
        q.inn = r.inn.clone();
        assert!(matches!(inn_verdict(&q, Some(&r), Some(&r)), InnVerdict::Confirmed { .. }));
        assert_eq!(
            inn_verdict(&q, None, Some(&r)),
            InnVerdict::Refused { reason: INN_NOT_FOUND.into() }
        );
        let mut other = record();
        other.surname = "Иванова".into();
        assert_eq!(
            inn_verdict(&q, Some(&other), Some(&r)),
            InnVerdict::Refused { reason: INN_OTHER_PERSON.into() }
        );
    }
}
