//! The answers to a service's form and their check against its definition.
//!
//! Answers are what the person typed, kept as typed (a draft may hold a wrong value: it
//! is saved anyway and the problem shown). [`check`] judges them field by field with the
//! same rules as the validation API (`domain::ident::kind`), drops the fields whose
//! condition does not hold (their data is not kept), and on submission also requires the
//! required fields and the group sizes. Every problem names the field in Russian.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use domain::FieldError;
use domain::ident::kind::{self, Kind};
use serde::{Deserialize, Serialize};

use crate::definition::{Field, FieldKind, IdentifierKind, Service};

/// One answer: a value, or the rows of a repeating group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Value(String),
    Rows(Vec<BTreeMap<String, String>>),
}

/// The answers by field id.
pub type Answers = BTreeMap<String, Answer>;

/// What a checkbox holds when ticked.
pub const CHECKED: &str = "да";

/// A problem with one field; `path` is `field` or `group.row.field` (rows from 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
    /// «Кадастровый номер: неверный формат, …»
    pub message: String,
    /// A stable code for programs (`empty`, `checksum`, `not_an_option`, …).
    pub code: String,
}

/// Whether the check is for a draft (only what was typed is judged) or a submission
/// (required fields and group sizes too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Draft,
    Submit,
}

/// The answers as they will be stored (normalized values, hidden fields dropped), and the
/// problems found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checked {
    pub answers: Answers,
    pub problems: Vec<Problem>,
}

/// Checks `answers` against the service's form; `today` is the date in Moscow.
pub fn check(service: &Service, answers: &Answers, today: NaiveDate, stage: Stage) -> Checked {
    let mut out = Checked::default();
    for field in &service.form {
        if !visible(field, answers) {
            continue;
        }
        match (&field.kind, answers.get(&field.id)) {
            (FieldKind::Group { fields, min, max }, answer) => {
                let rows = match answer {
                    Some(Answer::Rows(rows)) => rows.as_slice(),
                    _ => &[],
                };
                // Rows left wholly empty are not rows.
                let rows: Vec<&BTreeMap<String, String>> =
                    rows.iter().filter(|r| r.values().any(|v| !v.trim().is_empty())).collect();
                let mut kept = Vec::new();
                for (n, row) in rows.iter().enumerate() {
                    let mut clean = BTreeMap::new();
                    for inner in fields {
                        let path = format!("{}.{n}.{}", field.id, inner.id);
                        let typed = row.get(&inner.id).map_or("", String::as_str);
                        let label = format!(
                            "{} № {}, {}",
                            field.label,
                            n + 1,
                            crate::words::lower_first(&inner.label)
                        );
                        if let Some(v) =
                            one(inner, &label, &path, typed, today, stage, &mut out.problems)
                        {
                            clean.insert(inner.id.clone(), v);
                        }
                    }
                    kept.push(clean);
                }
                if stage == Stage::Submit {
                    let n = kept.len() as u32;
                    if n < *min {
                        out.problems.push(Problem {
                            path: field.id.clone(),
                            message: format!("{}: укажите хотя бы {min}", field.label),
                            code: "too_few".into(),
                        });
                    }
                    if n > *max {
                        out.problems.push(Problem {
                            path: field.id.clone(),
                            message: format!("{}: не больше {max}", field.label),
                            code: "too_many".into(),
                        });
                    }
                }
                if !kept.is_empty() {
                    out.answers.insert(field.id.clone(), Answer::Rows(kept));
                }
            }
            (_, answer) => {
                let typed = match answer {
                    Some(Answer::Value(v)) => v.as_str(),
                    _ => "",
                };
                if let Some(v) =
                    one(field, &field.label, &field.id, typed, today, stage, &mut out.problems)
                {
                    out.answers.insert(field.id.clone(), Answer::Value(v));
                }
            }
        }
    }
    out
}

/// The answers as (label, value) lines in the form's order, a group's rows one line each
/// («Прежние ФИО № 1»): the copy of an application, the officer's view, the document.
pub fn lines(service: &Service, answers: &Answers) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in &service.form {
        match answers.get(&f.id) {
            Some(Answer::Value(v)) => out.push((f.label.clone(), v.clone())),
            Some(Answer::Rows(rows)) => {
                for (n, row) in rows.iter().enumerate() {
                    let text: Vec<&str> =
                        row.values().map(String::as_str).filter(|v| !v.is_empty()).collect();
                    out.push((format!("{} № {}", f.label, n + 1), text.join(", ")));
                }
            }
            None => {}
        }
    }
    out
}

/// Whether a field's condition holds (a field without one is always shown).
pub fn visible(field: &Field, answers: &Answers) -> bool {
    let Some(c) = &field.when else { return true };
    let value = match answers.get(&c.field) {
        Some(Answer::Value(v)) => v.trim(),
        _ => "",
    };
    if c.equals == "нет" { value != CHECKED } else { value == c.equals }
}

/// Checks one plain field; returns the value to keep (normalized when valid, as typed
/// otherwise; `None` when empty).
fn one(
    field: &Field,
    label: &str,
    path: &str,
    typed: &str,
    today: NaiveDate,
    stage: Stage,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let mut refuse = |code: &str, reason: String| {
        problems.push(Problem {
            path: path.to_owned(),
            message: format!("{label}: {reason}"),
            code: code.into(),
        });
    };
    if typed.trim().is_empty() {
        if field.required && stage == Stage::Submit && !matches!(field.kind, FieldKind::Checkbox) {
            refuse("empty", FieldError::Empty.to_string());
        }
        return None;
    }
    let judged: Result<String, (String, String)> = match &field.kind {
        FieldKind::Text { max_len, .. } => {
            domain::ident::free_text(typed, *max_len as usize).map_err(error)
        }
        FieldKind::Address => domain::ident::free_text(typed, 500).map_err(error),
        FieldKind::Number { min, max } => number(typed, *min, *max),
        FieldKind::Date { past, future } => date(typed, *past, *future, today),
        FieldKind::Select { options } => options
            .iter()
            .find(|o| o.as_str() == typed.trim())
            .cloned()
            .ok_or_else(|| ("not_an_option".into(), "выберите один из вариантов".into())),
        FieldKind::Checkbox => Ok(CHECKED.to_owned()),
        FieldKind::Identifier { kind } => identifier(*kind, typed, today),
        FieldKind::Group { .. } => Ok(typed.to_owned()),
    };
    match judged {
        Ok(v) => Some(v),
        Err((code, reason)) => {
            refuse(&code, reason);
            Some(typed.to_owned())
        }
    }
}

fn error(e: FieldError) -> (String, String) {
    (e.code().to_owned(), e.to_string())
}

fn number(typed: &str, min: Option<i64>, max: Option<i64>) -> Result<String, (String, String)> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let n: i64 = digits
        .parse()
        .map_err(|_| ("not_a_number".to_owned(), "должно быть целое число".to_owned()))?;
    if let Some(min) = min
        && n < min
    {
        return Err(("too_small".into(), format!("не меньше {min}")));
    }
    if let Some(max) = max
        && n > max
    {
        return Err(("too_large".into(), format!("не больше {max}")));
    }
    Ok(n.to_string())
}

fn date(
    typed: &str,
    past: bool,
    future: bool,
    today: NaiveDate,
) -> Result<String, (String, String)> {
    let d = domain::ident::parse_date(typed).map_err(error)?;
    if past && d > today {
        return Err(error(FieldError::Future));
    }
    if future && d < today {
        return Err(("past".into(), "дата не может быть в прошлом".into()));
    }
    Ok(d.format("%d.%m.%Y").to_string())
}

fn identifier(
    kind: IdentifierKind,
    typed: &str,
    today: NaiveDate,
) -> Result<String, (String, String)> {
    let cx = kind::Context { bik: None, today };
    let as_kind = |k: Kind| kind::check(k, typed, cx).map_err(error);
    match kind {
        IdentifierKind::Snils => as_kind(Kind::Snils),
        IdentifierKind::InnPerson | IdentifierKind::InnOrganization => {
            let v = as_kind(Kind::Inn)?;
            let (want, what) = match kind {
                IdentifierKind::InnPerson => (12, "12 цифр — ИНН физического лица"),
                _ => (10, "10 цифр — ИНН организации"),
            };
            if v.len() == want {
                Ok(v)
            } else {
                Err(("length".into(), format!("должно быть {what}")))
            }
        }
        IdentifierKind::Ogrn => as_kind(Kind::Ogrn),
        IdentifierKind::Ogrnip => as_kind(Kind::Ogrnip),
        IdentifierKind::Kpp => as_kind(Kind::Kpp),
        IdentifierKind::Bik => as_kind(Kind::Bik),
        IdentifierKind::Passport => as_kind(Kind::Passport),
        IdentifierKind::Phone => as_kind(Kind::Phone),
        IdentifierKind::Email => as_kind(Kind::Email),
        IdentifierKind::Cadastral => as_kind(Kind::Cadastral),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default()
    }

    fn answers(pairs: &[(&str, &str)]) -> Answers {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Answer::Value((*v).to_owned()))).collect()
    }

    fn paths(c: &Checked) -> Vec<(&str, &str)> {
        c.problems.iter().map(|p| (p.path.as_str(), p.code.as_str())).collect()
    }

    #[test]
    fn values_are_judged_and_normalized() {
        let catalog = Catalog::shipped().unwrap_or_else(|e| panic!("{e:?}"));
        let Some(s) = catalog.service("egrn-extract") else { panic!("egrn-extract") };
        let good = answers(&[
            ("full_name", "  Иванова   Анна Сергеевна "),
            ("passport", "4510 123456"),
            ("object_kind", "Квартира"),
            ("cadastral_number", "77:01:0001001:1234"),
            ("purpose", "Для суда"),
        ]);
        let c = check(s, &good, today(), Stage::Submit);
        assert_eq!(c.problems, vec![]);
        assert_eq!(c.answers["full_name"], Answer::Value("Иванова Анна Сергеевна".into()));

        let bad = answers(&[
            ("passport", "45"),
            ("object_kind", "Дворец"),
            ("cadastral_number", "77:01"),
            ("unknown", "dropped"),
        ]);
        let c = check(s, &bad, today(), Stage::Submit);
        assert_eq!(
            paths(&c),
            vec![
                ("full_name", "empty"),
                ("passport", "format"),
                ("object_kind", "not_an_option"),
                ("cadastral_number", "format"),
                ("purpose", "empty")
            ],
            "{:?}",
            c.problems
        );
        assert_eq!(c.problems[2].message, "Вид объекта: выберите один из вариантов");
        assert!(!c.answers.contains_key("unknown"), "unknown keys are not kept");
        assert_eq!(c.answers["cadastral_number"], Answer::Value("77:01".into()), "kept as typed");
        // A draft is not asked for what is missing.
        let c = check(s, &bad, today(), Stage::Draft);
        assert!(!paths(&c).iter().any(|(_, code)| *code == "empty"));
    }

    #[test]
    fn conditions_groups_numbers_and_dates() {
        let catalog = Catalog::shipped().unwrap_or_else(|e| panic!("{e:?}"));
        let Some(s) = catalog.service("criminal-record-certificate") else { panic!() };
        let mut a = answers(&[
            ("full_name", "Иванов Иван"),
            ("birthdate", "01.02.2030"),
            ("snils", "112-233-445 95"),
            ("purpose", "Для работы"),
        ]);
        a.insert(
            "previous_names".into(),
            Answer::Rows(vec![BTreeMap::from([("name".to_owned(), "Петров Иван".to_owned())])]),
        );
        let c = check(s, &a, today(), Stage::Submit);
        assert_eq!(paths(&c), vec![("birthdate", "future")]);
        assert!(!c.answers.contains_key("previous_names"), "hidden: the box is not ticked");
        a.insert("name_changed".into(), Answer::Value(CHECKED.into()));
        a.insert("birthdate".into(), Answer::Value("1990-05-17".into()));
        let c = check(s, &a, today(), Stage::Submit);
        assert_eq!(paths(&c), vec![]);
        assert_eq!(c.answers["birthdate"], Answer::Value("17.05.1990".into()));
        assert!(c.answers.contains_key("previous_names"));
        a.insert(
            "previous_names".into(),
            Answer::Rows(vec![BTreeMap::from([
                ("name".to_owned(), String::new()),
                ("until".to_owned(), "2040-01-01".to_owned()),
            ])]),
        );
        let c = check(s, &a, today(), Stage::Submit);
        assert_eq!(
            paths(&c),
            vec![("previous_names.0.name", "empty"), ("previous_names.0.until", "future")]
        );
        assert_eq!(c.problems[0].message, "Прежние ФИО № 1, прежние ФИО: не заполнено");
        a.insert("previous_names".into(), Answer::Rows(vec![]));
        let c = check(s, &a, today(), Stage::Submit);
        assert_eq!(paths(&c), vec![("previous_names", "too_few")]);

        let Some(income) = catalog.service("income-certificate") else { panic!() };
        let a = answers(&[
            ("full_name", "Иванов Иван"),
            ("inn", "7707083893"),
            ("year", "2031"),
            ("purpose", "Другое"),
        ]);
        let c = check(income, &a, today(), Stage::Submit);
        assert_eq!(
            paths(&c),
            vec![("inn", "length"), ("year", "too_large"), ("purpose_other", "empty")]
        );
        assert_eq!(c.problems[0].message, "ИНН: должно быть 12 цифр — ИНН физического лица");
    }
}
