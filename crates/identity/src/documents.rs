//! The standard account: the person enters passport, SNILS, INN (optional), birth data
//! and registration address; the data is checked against the state registries in the
//! background («на проверке» → «проверено» or a reason per field), the person is told,
//! and success raises the account to the standard level. Changed documents are checked
//! again while the verified ones stay in force.

use chrono::{DateTime, Months, NaiveDate, Utc};
use domain::FieldError;
use domain::ident::{
    BirthDate, DivisionCode, Inn, NamePart, Passport, Snils, free_text, parse_past_date,
};
use journal::Outcome;
use notify::Template;
use registry::{InnVerdict, PersonCheck, PersonQuery, Registry, Verdict};
use serde::{Deserialize, Serialize};
use store::documents as rows;
use store::{from_micros, to_micros};

use crate::{Identity, IdentityError, Origin};

/// The job queue documents checks go through.
pub const CHECK_QUEUE: &str = "documents.check";
const CONTEXT: &str = "person_documents.data";
/// Free-text limits (place of birth, issuing authority, address).
const TEXT_MAX: usize = 300;

/// The form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DocumentsForm {
    pub surname: String,
    pub given_name: String,
    pub patronymic: String,
    pub birth_date: String,
    pub birth_place: String,
    pub passport_series: String,
    pub passport_number: String,
    pub passport_issued_on: String,
    pub passport_issued_by: String,
    pub passport_division: String,
    pub snils: String,
    pub inn: String,
    pub address: String,
}

/// A person's documents, checked for form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: NaiveDate,
    pub birth_place: String,
    pub passport: Passport,
    pub passport_issued_on: NaiveDate,
    pub passport_issued_by: String,
    pub passport_division: DivisionCode,
    pub snils: Snils,
    pub inn: Option<Inn>,
    pub address: String,
}

impl PersonalData {
    /// As a form, to edit.
    pub fn to_form(&self) -> DocumentsForm {
        DocumentsForm {
            surname: self.surname.clone(),
            given_name: self.given_name.clone(),
            patronymic: self.patronymic.clone().unwrap_or_default(),
            birth_date: self.birth_date.format("%d.%m.%Y").to_string(),
            birth_place: self.birth_place.clone(),
            passport_series: self.passport.series().to_owned(),
            passport_number: self.passport.number().to_owned(),
            passport_issued_on: self.passport_issued_on.format("%d.%m.%Y").to_string(),
            passport_issued_by: self.passport_issued_by.clone(),
            passport_division: self.passport_division.to_string(),
            snils: self.snils.to_string(),
            inn: self.inn.as_ref().map(ToString::to_string).unwrap_or_default(),
            address: self.address.clone(),
        }
    }

    /// What the registries are asked about this person.
    pub fn query(&self) -> PersonQuery {
        PersonQuery {
            surname: self.surname.clone(),
            given_name: self.given_name.clone(),
            patronymic: self.patronymic.clone(),
            birth_date: self.birth_date,
            passport: self.passport.clone(),
            passport_issued_on: self.passport_issued_on,
            passport_division: self.passport_division.clone(),
            snils: self.snils.clone(),
            inn: self.inn.clone(),
        }
    }
}

fn text(v: &str) -> Result<String, FieldError> {
    free_text(v, TEXT_MAX)
}

fn digits(v: &str, len: usize, expected: &'static str) -> Result<String, FieldError> {
    let v = v.trim();
    if v.is_empty() {
        Err(FieldError::Empty)
    } else if !v.bytes().all(|b| b.is_ascii_digit()) {
        Err(FieldError::Characters { allowed: "цифры" })
    } else if v.len() != len {
        Err(FieldError::Length { expected })
    } else {
        Ok(v.to_owned())
    }
}

impl DocumentsForm {
    /// Checks every field; all errors at once, each naming its field.
    pub fn parse(&self, today: NaiveDate) -> Result<PersonalData, IdentityError> {
        let mut errors: Vec<(&'static str, FieldError)> = Vec::new();
        fn take<T>(
            errors: &mut Vec<(&'static str, FieldError)>,
            field: &'static str,
            r: Result<T, FieldError>,
        ) -> Option<T> {
            r.map_err(|e| errors.push((field, e))).ok()
        }
        let name = |v: &str| NamePart::parse(v).map(|n| n.as_str().to_owned());
        let surname = take(&mut errors, "surname", name(&self.surname));
        let given_name = take(&mut errors, "given_name", name(&self.given_name));
        let patronymic = if self.patronymic.trim().is_empty() {
            Some(None)
        } else {
            take(&mut errors, "patronymic", name(&self.patronymic)).map(Some)
        };
        let birth = take(&mut errors, "birth_date", BirthDate::parse(&self.birth_date, today));
        let birth_place = take(&mut errors, "birth_place", text(&self.birth_place));
        let series =
            take(&mut errors, "passport_series", digits(&self.passport_series, 4, "4 цифры"));
        let number =
            take(&mut errors, "passport_number", digits(&self.passport_number, 6, "6 цифр"));
        let issued_on = take(
            &mut errors,
            "passport_issued_on",
            parse_past_date(&self.passport_issued_on, today),
        );
        let issued_by = take(&mut errors, "passport_issued_by", text(&self.passport_issued_by));
        let division =
            take(&mut errors, "passport_division", DivisionCode::parse(&self.passport_division));
        let snils = take(&mut errors, "snils", Snils::parse(&self.snils));
        let inn = if self.inn.trim().is_empty() {
            Some(None)
        } else {
            take(&mut errors, "inn", Inn::parse_person(&self.inn)).map(Some)
        };
        let address = take(&mut errors, "address", text(&self.address));
        if let (Some(b), Some(i)) = (birth, issued_on)
            && b.date().checked_add_months(Months::new(14 * 12)).is_some_and(|at14| i < at14)
        {
            errors.push((
                "passport_issued_on",
                FieldError::Invalid {
                    reason: "паспорт выдаётся не раньше 14 лет"
                },
            ));
        }
        let passport = match (&series, &number) {
            (Some(s), Some(n)) => Passport::from_parts(s, n).ok(),
            _ => None,
        };
        if !errors.is_empty() {
            return Err(IdentityError::Fields(errors));
        }
        let (
            Some(surname),
            Some(given_name),
            Some(patronymic),
            Some(birth),
            Some(birth_place),
            Some(passport),
            Some(passport_issued_on),
            Some(passport_issued_by),
            Some(passport_division),
            Some(snils),
            Some(inn),
            Some(address),
        ) = (
            surname,
            given_name,
            patronymic,
            birth,
            birth_place,
            passport,
            issued_on,
            issued_by,
            division,
            snils,
            inn,
            address,
        )
        else {
            return Err(IdentityError::Internal("a field passed without a value".into()));
        };
        Ok(PersonalData {
            surname,
            given_name,
            patronymic,
            birth_date: birth.date(),
            birth_place,
            passport,
            passport_issued_on,
            passport_issued_by,
            passport_division,
            snils,
            inn,
            address,
        })
    }
}

/// Where the check of an account's documents stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// «На проверке».
    Checking,
    /// The registries do not answer; retried automatically.
    Waiting,
    /// «Проверено».
    Verified,
    /// «Не подтверждено» with a reason per field.
    Refused,
}

impl CheckStatus {
    fn parse(s: &str) -> Self {
        match s {
            "waiting" => Self::Waiting,
            "verified" => Self::Verified,
            "refused" => Self::Refused,
            _ => Self::Checking,
        }
    }

    /// The Russian status line.
    pub fn label(self) -> &'static str {
        match self {
            Self::Checking => "На проверке",
            Self::Waiting => "Ожидает ответа ведомств",
            Self::Verified => "Проверено",
            Self::Refused => "Не подтверждено",
        }
    }
}

/// What the person sees about their documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentsView {
    /// `None` before the first submission.
    pub status: Option<CheckStatus>,
    /// The data in force.
    pub verified: Option<PersonalData>,
    pub verified_at: Option<DateTime<Utc>>,
    /// Data awaiting the check, or refused by it.
    pub pending: Option<PersonalData>,
    /// Field → reason, after a refusal.
    pub reasons: Vec<(String, String)>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub checked_at: Option<DateTime<Utc>>,
}

/// What one run of a check did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckRun {
    /// Decided (verified or refused), or nothing left to check.
    Done,
    /// The registries were unreachable: run again later.
    Retry,
}

impl Identity {
    pub(crate) fn open_data(&self, stored: &str) -> Result<PersonalData, IdentityError> {
        let json = self.vault.decrypt(stored, CONTEXT)?;
        serde_json::from_str(&json).map_err(|e| IdentityError::Internal(e.to_string()))
    }

    pub(crate) fn seal_data(&self, data: &PersonalData) -> String {
        // Plain strings and dates always serialize.
        self.vault.encrypt(&serde_json::to_string(data).unwrap_or_default(), CONTEXT)
    }

    pub(crate) fn snils_index(&self, snils: &Snils) -> String {
        self.vault.blind_index("documents/snils", &snils.digits())
    }

    /// The blind index of a passport (for recovery and the operator's search).
    pub fn passport_index(&self, passport: &Passport) -> String {
        self.vault.blind_index("documents/passport", passport.as_str())
    }

    /// The documents of an account and where their check stands.
    pub async fn documents(&self, account_id: &str) -> Result<DocumentsView, IdentityError> {
        let Some(row) = rows::get(&mut *self.db.read().await?, account_id).await? else {
            return Ok(DocumentsView {
                status: None,
                verified: None,
                verified_at: None,
                pending: None,
                reasons: Vec::new(),
                submitted_at: None,
                checked_at: None,
            });
        };
        let reasons: Vec<(String, String)> =
            row.reasons.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
        Ok(DocumentsView {
            status: Some(CheckStatus::parse(&row.status)),
            verified: row.verified.as_deref().map(|v| self.open_data(v)).transpose()?,
            verified_at: row.verified_at.map(from_micros),
            pending: row.pending.as_deref().map(|v| self.open_data(v)).transpose()?,
            reasons,
            submitted_at: Some(from_micros(row.submitted_at)),
            checked_at: row.checked_at.map(from_micros),
        })
    }

    /// Takes the form, and queues the registry check. The verified data (if any) stays
    /// in force until the new data is verified.
    pub async fn submit_documents(
        &self,
        account_id: &str,
        form: &DocumentsForm,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<DocumentsView, IdentityError> {
        let data = form.parse(domain::moscow_date(now))?;
        if let Some(owner) =
            rows::account_by_snils(&self.db, &self.snils_index(&data.snils)).await?
            && owner != account_id
        {
            return Err(IdentityError::Fields(vec![(
                "snils",
                FieldError::Invalid {
                    reason: "этот СНИЛС уже указан в другой учётной записи. Если это ваш СНИЛС, \
                             обратитесь в центр обслуживания",
                },
            )]));
        }
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        rows::submit(&mut tx, account_id, &self.seal_data(&data), now_us).await?;
        store::jobs::enqueue_on(&mut tx, CHECK_QUEUE, account_id, now, 500, now).await?;
        self.journal(
            &mut tx,
            "documents.submitted",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({}),
            now,
        )
        .await?;
        tx.commit().await.map_err(store::StoreError::from)?;
        self.documents_queued.notify_one();
        self.documents(account_id).await
    }

    /// Wakes when a check was queued (for the worker).
    pub async fn documents_woken(&self) {
        self.documents_queued.notified().await;
    }

    /// Runs the registry check of an account's pending documents and records the
    /// outcome: verified (level raised to standard), refused (reasons per field) or —
    /// registries unreachable — waiting, to be retried.
    pub async fn run_documents_check(
        &self,
        registry: &Registry,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<CheckRun, IdentityError> {
        let row = rows::get(&mut *self.db.conn().await?, account_id).await?;
        let Some(row) = row.filter(|r| r.status == "checking" || r.status == "waiting") else {
            return Ok(CheckRun::Done);
        };
        let Some(pending) = row.pending.as_deref() else { return Ok(CheckRun::Done) };
        let data = self.open_data(pending)?;
        let check = match registry.check_person(&data.query()).await {
            Ok(check) => check,
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, "registry check postponed");
                let first = row.status == "checking";
                let contacts =
                    if first { self.confirmed_contacts(account_id).await? } else { Vec::new() };
                let mut tx = self.db.begin().await?;
                rows::set_waiting(&mut tx, account_id, to_micros(now)).await?;
                if first {
                    journal_system(
                        &mut tx,
                        "documents.waiting",
                        Outcome::Ok,
                        account_id,
                        serde_json::json!({}),
                        now,
                    )
                    .await?;
                    self.notify(&mut tx, &contacts, &Template::DocumentsDelayed, now).await?;
                }
                tx.commit().await.map_err(store::StoreError::from)?;
                return Ok(CheckRun::Retry);
            }
            Err(e) => return Err(IdentityError::Internal(e.to_string())),
        };
        let contacts = self.confirmed_contacts(account_id).await?;
        let account = store::identity::get_account(&self.db, account_id)
            .await?
            .ok_or(IdentityError::RegistrationGone)?;
        let snils_index = self.snils_index(&data.snils);
        let taken = rows::account_by_snils(&self.db, &snils_index)
            .await?
            .is_some_and(|owner| owner != account_id);
        let mut reasons = refusal_reasons(&check);
        if taken {
            reasons.push(("snils".into(), "СНИЛС уже используется другой учётной записью".into()));
        }
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        if reasons.is_empty() {
            let mut verified = data.clone();
            if let InnVerdict::Confirmed { inn } = &check.inn {
                verified.inn = Some(inn.clone());
            }
            let inn_index =
                verified.inn.as_ref().map(|i| self.vault.blind_index("documents/inn", i.as_str()));
            rows::set_verified(
                &mut tx,
                account_id,
                &self.seal_data(&verified),
                (&snils_index, &self.passport_index(&verified.passport), inn_index.as_deref()),
                now_us,
            )
            .await?;
            rows::set_names(
                &mut tx,
                account_id,
                &self.vault.encrypt(&verified.surname, "account.surname"),
                &self.vault.encrypt(&verified.given_name, "account.given_name"),
                verified
                    .patronymic
                    .as_deref()
                    .map(|p| self.vault.encrypt(p, "account.patronymic"))
                    .as_deref(),
                now_us,
            )
            .await?;
            let raised = account.level == "simplified";
            if raised {
                rows::set_level(&mut tx, account_id, "standard", now_us).await?;
            }
            journal_system(
                &mut tx,
                "documents.verified",
                Outcome::Ok,
                account_id,
                serde_json::json!({ "level_raised": raised }),
                now,
            )
            .await?;
            self.notify(&mut tx, &contacts, &Template::DocumentsVerified { raised }, now).await?;
            // An operator who saw this passport in person may have asked for confirmation.
            if account.level != "confirmed" {
                self.apply_operator_intent(&mut tx, account_id, &verified.passport, now).await?;
            }
        } else {
            let json = serde_json::to_string(&reasons).unwrap_or_default();
            rows::set_refused(&mut tx, account_id, &json, now_us).await?;
            let fields: Vec<&str> = reasons.iter().map(|(f, _)| f.as_str()).collect();
            journal_system(
                &mut tx,
                "documents.refused",
                Outcome::Denied,
                account_id,
                serde_json::json!({ "fields": fields }),
                now,
            )
            .await?;
            let texts = reasons.iter().map(|(_, r)| r.clone()).collect();
            self.notify(&mut tx, &contacts, &Template::DocumentsRefused { reasons: texts }, now)
                .await?;
        }
        tx.commit().await.map_err(store::StoreError::from)?;
        Ok(CheckRun::Done)
    }
}

/// Records an event of the platform itself (the check worker) about `account_id`.
async fn journal_system(
    conn: &mut store::Conn,
    action: &str,
    outcome: Outcome,
    account_id: &str,
    details: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), IdentityError> {
    let origin = Origin::default();
    let event = journal::Event {
        at: now,
        actor: journal::ActorKind::System,
        actor_id: None,
        subject_id: Some(account_id),
        action,
        outcome,
        origin: &origin,
        details,
    };
    journal::record(conn, &event).await?;
    Ok(())
}

/// Field → reason for every document the registries did not confirm.
fn refusal_reasons(check: &PersonCheck) -> Vec<(String, String)> {
    let mut reasons = Vec::new();
    if let Verdict::Refused { reason } = &check.passport {
        reasons.push(("passport".to_owned(), reason.clone()));
    }
    if let Verdict::Refused { reason } = &check.snils {
        reasons.push(("snils".to_owned(), reason.clone()));
    }
    if let InnVerdict::Refused { reason } = &check.inn {
        reasons.push(("inn".to_owned(), reason.clone()));
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> DocumentsForm {
        DocumentsForm {
            surname: "Демидова".into(),
            given_name: "Мария".into(),
            patronymic: "Ивановна".into(),
            birth_date: "12.04.1988".into(),
            birth_place: "г. Москва".into(),
            passport_series: "4510".into(),
            passport_number: "654321".into(),
            passport_issued_on: "25.04.2008".into(),
            passport_issued_by: "ОВД района Хамовники г. Москвы".into(),
            passport_division: "770-005".into(),
            snils: "12345678964".into(),
            inn: String::new(),
            address: "г. Москва, ул. Льва Толстого, д. 16, кв. 5".into(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn a_good_form_parses_and_round_trips() {
        let data = form().parse(today()).unwrap();
        assert_eq!(data.snils.as_str(), "123-456-789 64");
        assert_eq!(data.inn, None);
        assert_eq!(data.to_form().parse(today()).unwrap(), data);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut f = form();
        f.passport_series = "45A0".into();
        f.passport_number = "65432".into();
        f.snils = "123-456-789 65".into();
        f.inn = "7707083893".into();
        f.address = " ".into();
        f.passport_issued_on = "25.04.1999".into();
        let Err(IdentityError::Fields(errors)) = f.parse(today()) else { panic!("refused") };
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            ["passport_series", "passport_number", "snils", "inn", "address", "passport_issued_on"]
        );
        assert_eq!(errors[5].1.to_string(), "паспорт выдаётся не раньше 14 лет");
    }
}
