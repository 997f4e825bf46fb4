//! The automatic checks a service declares (registry look-ups), run after submission by a
//! background worker: their results are stored for the officer, a line goes on the
//! timeline, and a workflow with the system steps `checks_passed` / `checks_failed`
//! moves on by itself (an extract is issued at once, or goes to an officer).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use registry::{InnVerdict, PersonCheck, PersonQuery, Registry, Verdict};
use store::applications::{self as rows, CheckRow, EventRow};
use store::{from_micros, to_micros};

use super::{Actor, Applicant, ApplicationError, Applications, role_name};
use crate::definition::{Check, DRAFT, FieldKind, IdentifierKind, Role};
use crate::form::Answer;

/// The job queue of application checks; the payload is the application id.
pub const QUEUE: &str = "application.checks";

/// The system steps a workflow may have for the checks' outcome.
pub(crate) const PASSED: &str = "checks_passed";
pub(crate) const FAILED: &str = "checks_failed";

/// One check's result as the officer sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckResult {
    pub check: Check,
    pub title: &'static str,
    pub passed: bool,
    /// What the registry answered.
    pub detail: String,
    pub checked_at: DateTime<Utc>,
}

/// What one run of the checks did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksRun {
    /// Results recorded (or nothing to check).
    Done,
    /// A registry was unreachable: run again later; nothing was recorded.
    Retry,
}

fn verdict(v: &Verdict, confirmed: &str) -> (bool, String) {
    match v {
        Verdict::Confirmed => (true, confirmed.to_owned()),
        Verdict::Refused { reason } => (false, reason.clone()),
    }
}

impl Applications {
    /// Runs the checks of a submitted application against the registries, as the
    /// platform. `person` is the applicant's verified documents (for the passport, SNILS
    /// and INN checks); `applicant` is where notices of a status change go.
    pub async fn run_checks(
        &self,
        registry: &Registry,
        id: &str,
        person: Option<&PersonQuery>,
        applicant: &Applicant,
        now: DateTime<Utc>,
    ) -> Result<ChecksRun, ApplicationError> {
        let Some(row) = rows::get(&mut *self.db.read().await?, id).await? else {
            return Ok(ChecksRun::Done);
        };
        let a = self.open(row)?;
        let (service, workflow) = self.service(&a.service_id)?;
        if service.checks.is_empty() || a.status == DRAFT {
            return Ok(ChecksRun::Done);
        }
        let mut person_check: Option<PersonCheck> = None;
        let mut results = Vec::with_capacity(service.checks.len());
        for &check in &service.checks {
            let (passed, detail) = match check {
                Check::PassportValid | Check::SnilsMatches | Check::InnMatches => {
                    let Some(q) = person else {
                        results.push((
                            check,
                            false,
                            "Нет подтверждённых документов заявителя: \
                            проверить по реестру нечего."
                                .to_owned(),
                        ));
                        continue;
                    };
                    let pc = match &person_check {
                        Some(pc) => pc,
                        None => match registry.check_person(q).await {
                            Ok(pc) => person_check.insert(pc),
                            Err(e) if e.is_transient() => return Ok(ChecksRun::Retry),
                            Err(e) => return Err(ApplicationError::Internal(e.to_string())),
                        },
                    };
                    match check {
                        Check::PassportValid => {
                            verdict(&pc.passport, "Паспорт действителен (МВД).")
                        }
                        Check::SnilsMatches => {
                            verdict(&pc.snils, "СНИЛС принадлежит заявителю (СФР).")
                        }
                        _ => match &pc.inn {
                            InnVerdict::Confirmed { inn } => {
                                (true, format!("ИНН {inn} принадлежит заявителю (ФНС)."))
                            }
                            InnVerdict::NotAssigned => {
                                (false, "ФНС: ИНН заявителю не присвоен.".to_owned())
                            }
                            InnVerdict::Refused { reason } => (false, reason.clone()),
                        },
                    }
                }
                Check::OrganizationActive | Check::EntrepreneurActive => {
                    let entrepreneur = check == Check::EntrepreneurActive;
                    let wanted: &[IdentifierKind] = if entrepreneur {
                        &[IdentifierKind::Ogrnip, IdentifierKind::InnPerson]
                    } else {
                        &[IdentifierKind::Ogrn, IdentifierKind::InnOrganization]
                    };
                    let named =
                        service.form.iter().find_map(|f| match (&f.kind, a.answers.get(&f.id)) {
                            (FieldKind::Identifier { kind }, Some(Answer::Value(v)))
                                if wanted.contains(kind) && !v.trim().is_empty() =>
                            {
                                Some(v.trim().to_owned())
                            }
                            _ => None,
                        });
                    let register = if entrepreneur { "ЕГРИП" } else { "ЕГРЮЛ" };
                    match named {
                        None => {
                            (false, format!("В заявлении нет номера для проверки по {register}."))
                        }
                        Some(number) => match registry.organization(&number).await {
                            Ok(Some(org)) if org.liquidating => (
                                false,
                                format!(
                                    "{}: находится в стадии ликвидации ({register}).",
                                    org.name
                                ),
                            ),
                            Ok(Some(org))
                                if org.status == "Действующее" || org.status == "Действующий" =>
                            {
                                (true, format!("{}: действует ({register}).", org.name))
                            }
                            Ok(Some(org)) => (
                                false,
                                format!(
                                    "{}: {} ({register}).",
                                    org.name,
                                    org.status.to_lowercase()
                                ),
                            ),
                            Ok(None) => (false, format!("{number}: нет в {register}.")),
                            Err(e) if e.is_transient() => return Ok(ChecksRun::Retry),
                            Err(e) => return Err(ApplicationError::Internal(e.to_string())),
                        },
                    }
                }
            };
            results.push((check, passed, detail));
        }
        let passed = results.iter().filter(|r| r.1).count();
        let summary = format!(
            "Автоматические проверки: пройдено {passed} из {}.{}",
            results.len(),
            results
                .iter()
                .filter(|r| !r.1)
                .map(|r| format!(" {} — {}", r.0.title(), r.2))
                .collect::<String>()
        );
        let checked_at = to_micros(now);
        let rows: Vec<CheckRow> = results
            .iter()
            .map(|(check, passed, detail)| CheckRow {
                application_id: a.id.clone(),
                check_id: check_id(*check).to_owned(),
                passed: *passed,
                detail: detail.clone(),
                checked_at,
            })
            .collect();
        let event_id = uuid::Uuid::now_v7().to_string();
        let event = EventRow {
            comment: Some(self.vault.encrypt(&summary, &format!("{}:{event_id}", super::COMMENT))),
            id: event_id,
            application_id: a.id.clone(),
            at: checked_at,
            actor_kind: role_name(Role::System).to_owned(),
            actor_id: None,
            transition: "checks".to_owned(),
            from_status: a.status.clone(),
            to_status: a.status.clone(),
        };
        let written = Arc::new((rows, event));
        self.db
            .shared(move |tx| {
                let written = written.clone();
                Box::pin(async move {
                    let (rows, event) = &*written;
                    for row in rows {
                        rows::upsert_check(tx, row).await?;
                    }
                    rows::insert_event(tx, event).await?;
                    Ok::<_, ApplicationError>(())
                })
            })
            .await?;
        // The workflow decides what the outcome means, when it has steps for it.
        let step = if passed == results.len() { PASSED } else { FAILED };
        if workflow.available(&a.status, Role::System).any(|t| t.id == step) {
            let origin = journal::Origin::default();
            match self.act(&Actor::system(), &a.id, step, None, applicant, &origin, now).await {
                Ok(_) | Err(ApplicationError::Conflict) => {}
                // Someone acted first (an officer took it): their step stands.
                Err(ApplicationError::Refused(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ChecksRun::Done)
    }

    /// The check results of an application `actor` may see.
    pub async fn checks(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<CheckResult>, ApplicationError> {
        let a = self.get(actor, id).await?;
        let found = rows::checks(&mut *self.db.read().await?, &a.id).await?;
        Ok(found
            .into_iter()
            .filter_map(|r| {
                let check = check_of(&r.check_id)?;
                Some(CheckResult {
                    check,
                    title: check.title(),
                    passed: r.passed,
                    detail: r.detail,
                    checked_at: from_micros(r.checked_at),
                })
            })
            .collect())
    }
}

fn check_id(c: Check) -> &'static str {
    match c {
        Check::PassportValid => "passport_valid",
        Check::SnilsMatches => "snils_matches",
        Check::InnMatches => "inn_matches",
        Check::OrganizationActive => "organization_active",
        Check::EntrepreneurActive => "entrepreneur_active",
    }
}

fn check_of(id: &str) -> Option<Check> {
    [
        Check::PassportValid,
        Check::SnilsMatches,
        Check::InnMatches,
        Check::OrganizationActive,
        Check::EntrepreneurActive,
    ]
    .into_iter()
    .find(|c| check_id(*c) == id)
}
