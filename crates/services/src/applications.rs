//! Applications: a draft started from a service, pre-filled from the verified profile,
//! saved as typed, submitted when its answers pass the form's check; then moved along the
//! service's workflow by the applicant, the agency's officers and the platform.
//!
//! Every change is one compare-and-set on the application's `version`, in one
//! transaction with its timeline event, its journal entry and the notices to the
//! applicant: what the person is told happened has happened, durably, and of two
//! concurrent changes (two officers taking the same application) exactly one wins.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{CalendarError, WorkingCalendar, moscow_date};
use journal::{ActorKind, Event, Origin, Outcome};
use notify::{Channel, Outbox, Template};
mod checks;
pub use checks::{CheckResult, ChecksRun, QUEUE as CHECKS_QUEUE};

use store::applications::{self as rows, ApplicationRow, EventRow, Filter};
use store::vault::{BlobBuffer, Vault};
use store::{Db, StoreError, from_micros, to_micros};

use crate::definition::{DRAFT, Level, Prefill, Role, Service, Workflow};
use crate::documents::{self, Signer};
use crate::form::{self, Answer, Answers, Problem, Stage};
use crate::{Catalog, deadline};
use base64::Engine as _;
use store::applications::{DocumentKey, DocumentRow};

#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("заявление не найдено")]
    NotFound,
    #[error("услуги «{0}» нет в каталоге")]
    UnknownService(String),
    /// A rule refused the step; the text is for the person, in Russian.
    #[error("{0}")]
    Refused(String),
    /// Someone changed the application first.
    #[error("заявление уже изменилось — обновите страницу")]
    Conflict,
    #[error("производственный календарь: {0}")]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<notify::NotifyError> for ApplicationError {
    fn from(e: notify::NotifyError) -> Self {
        Self::Internal(e.to_string())
    }
}

/// An application as its owner and officers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: String,
    pub number: Option<String>,
    pub account_id: String,
    pub service_id: String,
    pub agency_id: String,
    /// `draft` or a workflow state.
    pub status: String,
    pub answers: Answers,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub due_on: Option<NaiveDate>,
    pub paused_on: Option<NaiveDate>,
    /// The last day the applicant may act in this state (answer, appeal).
    pub act_by: Option<NaiveDate>,
    pub claimed_by: Option<String>,
    pub version: i64,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub actor: Role,
    pub transition: String,
    pub from: String,
    pub to: String,
    pub comment: Option<String>,
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The account (applicant) or staff id (officer, head); `None` for the platform.
    pub id: Option<String>,
    /// Agencies an officer or head works for (ignored for others).
    pub agencies: Vec<String>,
}

impl Actor {
    pub fn applicant(account_id: &str) -> Self {
        Self { role: Role::Applicant, id: Some(account_id.to_owned()), agencies: Vec::new() }
    }

    /// The platform itself (automatic checks, deadlines).
    pub fn system() -> Self {
        Self { role: Role::System, id: None, agencies: Vec::new() }
    }
}

/// The applicant's verified data, for pre-filling (what the caller could read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub birthdate: Option<NaiveDate>,
    pub snils: Option<String>,
    pub inn: Option<String>,
    pub passport: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub registration_address: Option<String>,
}

impl Profile {
    fn value(&self, p: Prefill) -> Option<String> {
        let full = || {
            let parts = [&self.surname, &self.given_name, &self.patronymic];
            let words: Vec<&str> = parts.iter().filter_map(|p| p.as_deref()).collect();
            (!words.is_empty()).then(|| words.join(" "))
        };
        match p {
            Prefill::Surname => self.surname.clone(),
            Prefill::GivenName => self.given_name.clone(),
            Prefill::Patronymic => self.patronymic.clone(),
            Prefill::FullName => full(),
            Prefill::Birthdate => self.birthdate.map(|d| d.format("%d.%m.%Y").to_string()),
            Prefill::Gender => None,
            Prefill::Snils => self.snils.clone(),
            Prefill::Inn => self.inn.clone(),
            Prefill::Passport => self.passport.clone(),
            Prefill::Phone => self.phone.clone(),
            Prefill::Email => self.email.clone(),
            Prefill::RegistrationAddress | Prefill::ResidenceAddress => {
                self.registration_address.clone()
            }
        }
    }
}

/// The applicant as the caller knows them: account, level and where to send notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub account_id: String,
    /// «Демидова Мария Ивановна», for the result document.
    pub name: String,
    pub level: Level,
    /// Where copies of notices go (confirmed contacts of the channels the person chose):
    /// (channel, address).
    pub contacts: Vec<(Channel, String)>,
    /// The confirmed e-mail, where documents are sent on request.
    pub email: Option<String>,
}

/// «Мои заявки» filters; empty ones do not filter.
#[derive(Debug, Clone, Default)]
pub struct MineFilter {
    pub number: Option<String>,
    pub service_id: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub limit: i64,
    pub offset: i64,
}

const ANSWERS: &str = "application.answers";
const COMMENT: &str = "application.comment";

#[derive(Debug, Clone)]
pub struct Applications {
    db: Db,
    vault: Arc<Vault>,
    catalog: Arc<Catalog>,
    calendar: Arc<WorkingCalendar>,
    outbox: Outbox,
    signer: Signer,
    /// The portal's public address, for the verification link on documents.
    public_url: String,
    blobs: store::blobs::Blobs,
    /// The largest attachment, in megabytes.
    upload_limit_mb: u32,
    /// Wakes the worker that runs automatic checks.
    checks_wake: Arc<tokio::sync::Notify>,
}

/// Where files live and how large they may be, and the portal's address for the links
/// printed on documents.
#[derive(Debug, Clone)]
pub struct Files {
    pub public_url: String,
    pub blobs: store::blobs::Blobs,
    pub upload_limit_mb: u32,
}

/// A file attached to an application, as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub id: String,
    pub rule: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
}

/// An in-app notice: a step on one of the applicant's applications.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    pub at: DateTime<Utc>,
    pub application_id: String,
    pub number: String,
    pub service: String,
    /// What happened, in Russian.
    pub text: String,
    pub comment: Option<String>,
}

/// What `/verify` says of an authentic document (nothing more: it is public).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub number: String,
    pub title: String,
    pub issued_at: DateTime<Utc>,
    pub agency: String,
    pub service: String,
    pub sha256: String,
    /// How it is signed, for people: «ГОСТ Р 34.10-2012» or «ES256».
    pub algorithm: String,
}

/// An application whose applicant's window ran out, and the step that closes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub id: String,
    pub account_id: String,
    pub transition: String,
    /// The last day the applicant had.
    pub act_by: Option<NaiveDate>,
}

/// The system step that closes a wait for the applicant in `state`: the workflow's
/// system transition out of a state that pauses the deadline (not the checks' steps).
fn expiry_step<'w>(
    workflow: &'w Workflow,
    state: &str,
) -> Option<&'w crate::definition::Transition> {
    if !workflow.state(state).is_some_and(|s| s.pauses_deadline) {
        return None;
    }
    workflow.transitions.iter().find(|t| {
        t.role == Role::System
            && t.from.iter().any(|f| f == state)
            && !matches!(t.id.as_str(), checks::PASSED | checks::FAILED)
    })
}

/// A document issued to the person, as «Полученные документы» lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issued {
    /// How it is signed («ГОСТ Р 34.10-2012» or «ES256»).
    pub algorithm: String,
    pub number: String,
    pub title: String,
    pub issued_at: DateTime<Utc>,
    pub agency: String,
    pub service: String,
    pub application_id: String,
}

impl Applications {
    pub fn new(
        db: Db,
        vault: Arc<Vault>,
        catalog: Arc<Catalog>,
        calendar: Arc<WorkingCalendar>,
        outbox: Outbox,
        files: Files,
    ) -> Self {
        let signer = Signer::from_vault(&vault);
        let public_url = files.public_url.trim_end_matches('/').to_owned();
        let Files { blobs, upload_limit_mb, .. } = files;
        let checks_wake = Arc::default();
        Self {
            db,
            vault,
            catalog,
            calendar,
            outbox,
            signer,
            public_url,
            blobs,
            upload_limit_mb,
            checks_wake,
        }
    }

    /// Completes when a submission queued automatic checks.
    pub async fn checks_woken(&self) {
        self.checks_wake.notified().await;
    }

    pub fn upload_limit_mb(&self) -> u32 {
        self.upload_limit_mb
    }

    /// Attaches a file to the applicant's draft (or to an application waiting for their
    /// corrections). Refused, with the reason in Russian, when its content is not a format
    /// the rule allows, it is too large or damaged.
    pub async fn attach(
        &self,
        account_id: &str,
        id: &str,
        rule_id: &str,
        name: &str,
        file: BlobBuffer,
        now: DateTime<Utc>,
    ) -> Result<FileInfo, ApplicationError> {
        let a = self.get(&Actor::applicant(account_id), id).await?;
        let (service, workflow) = self.service(&a.service_id)?;
        let editable =
            a.status == DRAFT || workflow.state(&a.status).is_some_and(|s| s.pauses_deadline);
        if !editable {
            return Err(ApplicationError::Refused(
                "Заявление уже подано: файлы к нему не добавить.".into(),
            ));
        }
        let Some(rule) = service.attachments.iter().find(|r| r.id == rule_id) else {
            return Err(ApplicationError::Refused(format!("У услуги нет документа «{rule_id}».")));
        };
        let name: String =
            name.chars().filter(|c| !c.is_control() && *c != '/' && *c != '\\').take(120).collect();
        let name = if name.trim().is_empty() { "файл".to_owned() } else { name };
        let existing = rows::files(&mut *self.db.read().await?, &a.id).await?;
        if existing.iter().filter(|f| f.rule == rule.id).count() >= 10 {
            return Err(ApplicationError::Refused(format!(
                "«{}»: не больше 10 файлов.",
                rule.label
            )));
        }
        // Checking the content (images are decoded) and sealing take CPU in proportion to
        // the size: off the async workers. The file is sealed where it was read to: no copy.
        // (The AEAD tag proves the stored bytes unchanged; no separate digest.)
        let (rule, vault, limit) = (rule.clone(), self.vault.clone(), self.upload_limit_mb);
        let application_id = a.id.clone();
        let (file, sealed) = tokio::task::spawn_blocking(move || {
            let data = file.plaintext();
            let accepted = crate::files::check(&rule, &name, data, limit)
                .map_err(ApplicationError::Refused)?;
            let row = rows::FileRow {
                id: uuid::Uuid::now_v7().to_string(),
                application_id,
                rule: rule.id.clone(),
                file_name: name,
                content_type: accepted.content_type.to_owned(),
                size: data.len() as i64,
                created_at: to_micros(now),
            };
            let sealed = vault.seal_blob(file, &format!("application.file:{}", row.id));
            Ok::<_, ApplicationError>((row, sealed))
        })
        .await
        .map_err(|e| ApplicationError::Internal(format!("file check: {e}")))??;
        // The bytes first: a row never names a file that is not there.
        self.blobs.put(&blob_key(&file.id), sealed).await?;
        let file = Arc::new(file);
        let row = file.clone();
        self.db
            .shared(move |tx| {
                let row = row.clone();
                Box::pin(async move {
                    rows::insert_file(tx, &row).await?;
                    Ok::<_, ApplicationError>(())
                })
            })
            .await?;
        Ok(info(Arc::unwrap_or_clone(file)))
    }

    /// The files of an application `actor` may see.
    pub async fn files(&self, actor: &Actor, id: &str) -> Result<Vec<FileInfo>, ApplicationError> {
        let a = self.get(actor, id).await?;
        Ok(rows::files(&mut *self.db.read().await?, &a.id).await?.into_iter().map(info).collect())
    }

    /// One file's bytes: (name, content type, bytes).
    pub async fn file(
        &self,
        actor: &Actor,
        id: &str,
        file_id: &str,
    ) -> Result<(String, String, Vec<u8>), ApplicationError> {
        let a = self.get(actor, id).await?;
        let list = rows::files(&mut *self.db.read().await?, &a.id).await?;
        let f = list.into_iter().find(|f| f.id == file_id).ok_or(ApplicationError::NotFound)?;
        let sealed = match self.blobs.get(&blob_key(&f.id)).await? {
            Some(sealed) => sealed,
            None => self.blobs.get(&legacy_blob_key(&a.id, &f.id)).await?.ok_or_else(|| {
                ApplicationError::Internal(format!("file {}: missing from storage", f.id))
            })?,
        };
        let broken = |e: String| ApplicationError::Internal(format!("file {}: {e}", f.id));
        let bytes = self
            .vault
            .open_bytes(sealed, &format!("application.file:{}", f.id))
            .map_err(|e| broken(e.to_string()))?;
        Ok((f.file_name, f.content_type, bytes))
    }

    /// Removes a file from the applicant's draft.
    pub async fn detach(
        &self,
        account_id: &str,
        id: &str,
        file_id: &str,
    ) -> Result<(), ApplicationError> {
        let a = self.get(&Actor::applicant(account_id), id).await?;
        let (_, workflow) = self.service(&a.service_id)?;
        let editable =
            a.status == DRAFT || workflow.state(&a.status).is_some_and(|s| s.pauses_deadline);
        if !editable {
            return Err(ApplicationError::Refused(
                "Заявление уже подано: файлы не удалить.".into(),
            ));
        }
        if !rows::delete_file(&mut *self.db.conn().await?, &a.id, file_id).await? {
            return Err(ApplicationError::NotFound);
        }
        self.blobs.delete(&blob_key(file_id)).await?;
        self.blobs.delete(&legacy_blob_key(&a.id, file_id)).await?;
        Ok(())
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn service(&self, id: &str) -> Result<(&Service, &Workflow), ApplicationError> {
        let s =
            self.catalog.service(id).ok_or_else(|| ApplicationError::UnknownService(id.into()))?;
        let w = self
            .catalog
            .workflow(&s.workflow)
            .ok_or_else(|| ApplicationError::Internal(format!("workflow {}", s.workflow)))?;
        Ok((s, w))
    }

    fn seal(&self, id: &str, answers: &Answers) -> String {
        let json = serde_json::to_string(answers).unwrap_or_else(|_| "{}".into());
        self.vault.encrypt(&json, &format!("{ANSWERS}:{id}"))
    }

    fn open(&self, r: ApplicationRow) -> Result<Application, ApplicationError> {
        let json = self
            .vault
            .decrypt(&r.answers, &format!("{ANSWERS}:{}", r.id))
            .map_err(|e| ApplicationError::Internal(format!("answers of {}: {e}", r.id)))?;
        let answers: Answers = serde_json::from_str(&json).unwrap_or_default();
        let date = |d: &Option<String>| d.as_deref().and_then(|d| d.parse().ok());
        Ok(Application {
            answers,
            created_at: from_micros(r.created_at),
            updated_at: from_micros(r.updated_at),
            submitted_at: r.submitted_at.map(from_micros),
            due_on: date(&r.due_on),
            paused_on: date(&r.paused_on),
            act_by: date(&r.act_by),
            id: r.id,
            number: r.number,
            account_id: r.account_id,
            service_id: r.service_id,
            agency_id: r.agency_id,
            status: r.status,
            claimed_by: r.claimed_by,
            version: r.version,
        })
    }

    fn row(&self, a: &Application) -> ApplicationRow {
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string());
        ApplicationRow {
            id: a.id.clone(),
            number: a.number.clone(),
            account_id: a.account_id.clone(),
            service_id: a.service_id.clone(),
            agency_id: a.agency_id.clone(),
            status: a.status.clone(),
            answers: self.seal(&a.id, &a.answers),
            created_at: to_micros(a.created_at),
            updated_at: to_micros(a.updated_at),
            submitted_at: a.submitted_at.map(to_micros),
            due_on: date(a.due_on),
            paused_on: date(a.paused_on),
            act_by: date(a.act_by),
            claimed_by: a.claimed_by.clone(),
            version: a.version,
        }
    }

    /// Starts a draft of `service_id`, pre-filled from `profile`. Refused when the
    /// account's level is below the service's.
    pub async fn start(
        &self,
        who: &Applicant,
        service_id: &str,
        profile: &Profile,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Application, ApplicationError> {
        let (service, _) = self.service(service_id)?;
        if who.level < service.min_level {
            return Err(ApplicationError::Refused(format!(
                "Для этой услуги нужна {} учётная запись, у вас — {}. Подтвердите личность в \
                 личном кабинете и вернитесь к заявлению.",
                service.min_level.title(),
                who.level.title()
            )));
        }
        let mut answers = Answers::new();
        for f in &service.form {
            if let Some(v) = f.prefill.and_then(|p| profile.value(p)) {
                answers.insert(f.id.clone(), Answer::Value(v));
            }
        }
        let a = Application {
            id: uuid::Uuid::now_v7().to_string(),
            number: None,
            account_id: who.account_id.clone(),
            service_id: service.id.clone(),
            agency_id: service.agency.clone(),
            status: DRAFT.to_owned(),
            answers,
            created_at: now,
            updated_at: now,
            submitted_at: None,
            due_on: None,
            paused_on: None,
            act_by: None,
            claimed_by: None,
            version: 0,
        };
        let details = serde_json::json!({ "application": a.id, "service": service.id });
        let ctx = Arc::new((
            self.clone(),
            Actor::applicant(&who.account_id),
            origin.clone(),
            a.clone(),
            details,
        ));
        self.db
            .shared(move |tx| {
                let ctx = ctx.clone();
                Box::pin(async move {
                    let (this, actor, origin, draft, details) = &*ctx;
                    rows::insert(tx, &this.row(draft)).await?;
                    let (started, details) = ("application.started", details.clone());
                    this.journal(tx, actor, draft, started, origin, details, now).await
                })
            })
            .await?;
        Ok(a)
    }

    /// The application if `actor` may see it: its applicant, or an officer of its agency.
    pub async fn get(&self, actor: &Actor, id: &str) -> Result<Application, ApplicationError> {
        let row = rows::get(&mut *self.db.read().await?, id).await?;
        let a = self.open(row.ok_or(ApplicationError::NotFound)?)?;
        if !may_see(actor, &a) {
            return Err(ApplicationError::NotFound);
        }
        Ok(a)
    }

    /// Saves a draft's answers as typed (wrong ones too) and says what is wrong with them.
    /// In a clarification the applicant edits the submitted answers the same way.
    pub async fn save(
        &self,
        account_id: &str,
        id: &str,
        answers: Answers,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<(Application, Vec<Problem>), ApplicationError> {
        let actor = Actor::applicant(account_id);
        let mut a = self.get(&actor, id).await?;
        let (service, workflow) = self.service(&a.service_id)?;
        let editable =
            a.status == DRAFT || workflow.state(&a.status).is_some_and(|s| s.pauses_deadline);
        if !editable {
            return Err(ApplicationError::Refused(
                "Заявление уже подано: его нельзя изменить.".into(),
            ));
        }
        let problems = form::check(service, &answers, today, Stage::Draft).problems;
        // Only the form's own fields are kept.
        let mut answers = answers;
        answers.retain(|k, _| service.form.iter().any(|f| f.id == *k));
        a.answers = answers;
        a.updated_at = now;
        a.version += 1;
        self.update(self.row(&a)).await?;
        Ok((a, problems))
    }

    /// Submits a draft: the answers must pass the form's check (else the problems come
    /// back and nothing changes). Gives the number, the due date, the timeline's first
    /// entry, the journal entry and the notices, in one commit.
    pub async fn submit(
        &self,
        who: &Applicant,
        id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Result<Application, Vec<Problem>>, ApplicationError> {
        let actor = Actor::applicant(&who.account_id);
        let mut a = self.get(&actor, id).await?;
        if a.status != DRAFT {
            return Err(ApplicationError::Refused("Заявление уже подано.".into()));
        }
        let (service, workflow) = self.service(&a.service_id)?;
        if who.level < service.min_level {
            return Err(ApplicationError::Refused(format!(
                "Для этой услуги нужна {} учётная запись.",
                service.min_level.title()
            )));
        }
        let today = moscow_date(now);
        let mut checked = form::check(service, &a.answers, today, Stage::Submit);
        let files = rows::files(&mut *self.db.read().await?, &a.id).await?;
        for rule in service.attachments.iter().filter(|r| r.required) {
            if !files.iter().any(|f| f.rule == rule.id) {
                checked.problems.push(Problem {
                    path: format!("file-{}", rule.id),
                    message: format!("{}: приложите файл", rule.label),
                    code: "no_file".into(),
                });
            }
        }
        if !checked.problems.is_empty() {
            return Ok(Err(checked.problems));
        }
        let due = deadline::due(&self.calendar, today, service.deadline.working_days)?;
        a.answers = checked.answers;
        a.status = workflow.initial.clone();
        a.submitted_at = Some(now);
        a.updated_at = now;
        a.due_on = Some(due);
        a.version += 1;
        let has_checks = !service.checks.is_empty();
        let ctx = Arc::new((self.clone(), who.clone(), origin.clone(), actor, a));
        let a = self
            .db
            .shared(move |tx| {
                let ctx = ctx.clone();
                Box::pin(async move {
                    let (this, who, origin, actor, a) = &*ctx;
                    let mut a = a.clone();
                    // The number is taken inside the shared commit: a submission that
                    // fails gives its number back with the rolled-back transaction.
                    let year = today.format("%Y");
                    let seq = rows::next_counter(tx, &format!("applications-{year}")).await?;
                    a.number = Some(format!("{year}-{seq:07}"));
                    if !rows::update(tx, &this.row(&a)).await? {
                        return Err(ApplicationError::Conflict);
                    }
                    this.record(tx, actor, &a, "submit", DRAFT, None, who, origin, now).await?;
                    if has_checks {
                        store::jobs::enqueue_on(tx, checks::QUEUE, &a.id, now, 50, now).await?;
                    }
                    Ok(a)
                })
            })
            .await?;
        self.outbox.wake();
        if has_checks {
            self.checks_wake.notify_one();
        }
        Ok(Ok(a))
    }

    /// Takes `transition` on the application as `actor`, with a comment when the step
    /// needs one. `applicant` is where the notices go.
    #[allow(clippy::too_many_arguments)]
    pub async fn act(
        &self,
        actor: &Actor,
        id: &str,
        transition: &str,
        comment: Option<&str>,
        applicant: &Applicant,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Application, ApplicationError> {
        let mut a = self.get(actor, id).await?;
        let (service, workflow) = self.service(&a.service_id)?;
        let Some(step) =
            workflow.available(&a.status, actor.role).find(|t| t.id == transition).cloned()
        else {
            let state = workflow.state(&a.status).map_or(a.status.as_str(), |s| s.title.as_str());
            return Err(ApplicationError::Refused(format!(
                "Сейчас это действие недоступно: заявление в статусе «{state}»."
            )));
        };
        // Once an officer has taken an application, the other officers leave it to them;
        // a head of department may act on any.
        if actor.role == Role::Officer
            && step.id != "take"
            && a.claimed_by.as_ref().is_some_and(|by| Some(by) != actor.id.as_ref())
        {
            return Err(ApplicationError::Refused(
                "Заявление в работе у другого сотрудника.".into(),
            ));
        }
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        if step.needs_comment && comment.is_none() {
            return Err(ApplicationError::Refused(format!(
                "«{}»: напишите комментарий.",
                step.title
            )));
        }
        if comment.is_some_and(|c| c.chars().count() > 2000) {
            return Err(ApplicationError::Refused("Комментарий: не длиннее 2000 символов.".into()));
        }
        let today = moscow_date(now);
        // The applicant's window: an appeal within its days, an answer to a clarification
        // by the date the agency set (withdrawing stays possible to the end).
        let windowed = step.within_working_days.is_some()
            || (step.role == Role::Applicant
                && workflow.state(&a.status).is_some_and(|s| s.pauses_deadline)
                && !workflow.state(&step.to).is_some_and(|s| s.r#final));
        if windowed && a.act_by.is_some_and(|last| today > last) {
            return Err(ApplicationError::Refused(format!(
                "Срок для действия «{}» истёк {}.",
                step.title,
                a.act_by.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default()
            )));
        }
        if step.role == Role::Applicant
            && step.from.iter().any(|f| workflow.state(f).is_some_and(|s| s.pauses_deadline))
        {
            // Corrections must pass the form's check before they go back to the agency.
            let checked = form::check(service, &a.answers, today, Stage::Submit);
            if let Some(p) = checked.problems.first() {
                return Err(ApplicationError::Refused(format!(
                    "Исправьте заявление: {}",
                    p.message
                )));
            }
            a.answers = checked.answers;
        }
        let from = a.status.clone();
        let leaving = workflow.state(&from).cloned();
        let entering = workflow.state(&step.to).cloned();
        // The deadline: a pause ends (the due date moves on by the wait) or begins.
        if let (Some(paused), Some(due)) = (a.paused_on, a.due_on)
            && leaving.as_ref().is_some_and(|s| s.pauses_deadline)
        {
            a.due_on = Some(deadline::resumed(&self.calendar, due, paused, today)?);
            a.paused_on = None;
        }
        a.act_by = None;
        if entering.as_ref().is_some_and(|s| s.pauses_deadline) {
            a.paused_on = Some(today);
        }
        if let Some(days) = step.answer_within_working_days {
            let by = deadline::window_end(&self.calendar, today, days)?;
            if step.role == Role::Applicant {
                // An appeal: the agency decides by then.
                a.due_on = Some(by);
            } else {
                a.act_by = Some(by);
            }
        }
        // A window the applicant has in the new state (an appeal of a rejection).
        if let Some(days) = workflow
            .transitions
            .iter()
            .filter(|t| t.from.contains(&step.to) && t.role == Role::Applicant)
            .find_map(|t| t.within_working_days)
        {
            a.act_by = Some(deadline::window_end(&self.calendar, today, days)?);
        }
        if matches!(actor.role, Role::Officer | Role::Head) {
            a.claimed_by = actor.id.clone();
        }
        a.status = step.to.clone();
        a.updated_at = now;
        a.version += 1;
        // The result document is made before the transaction (rendering takes a while
        // and the SQLite writer is one connection) and stored in it.
        let document = match entering.as_ref().is_some_and(|s| s.issues_result) {
            true => Some(self.issue(&a, service, applicant, now)?),
            false => None,
        };
        let ctx = Arc::new((
            self.clone(),
            actor.clone(),
            origin.clone(),
            comment.map(str::to_owned),
            applicant.clone(),
            document,
            step,
            from,
            a,
        ));
        let done = ctx.clone();
        self.db
            .shared(move |tx| {
                let ctx = ctx.clone();
                Box::pin(async move {
                    let (this, actor, origin, comment, applicant, document, step, from, a) = &*ctx;
                    if !rows::update(tx, &this.row(a)).await? {
                        return Err(ApplicationError::Conflict);
                    }
                    if let Some(d) = document {
                        rows::insert_document(tx, d).await?;
                    }
                    let comment = comment.as_deref();
                    this.record(tx, actor, a, &step.id, from, comment, applicant, origin, now).await
                })
            })
            .await?;
        self.outbox.wake();
        Ok(done.8.clone())
    }

    /// Writes a changed application (compare-and-set on its version) in a shared commit.
    async fn update(&self, row: ApplicationRow) -> Result<(), ApplicationError> {
        let row = Arc::new(row);
        self.db
            .shared(move |tx| {
                let row = row.clone();
                Box::pin(async move {
                    match rows::update(tx, &row).await? {
                        true => Ok(()),
                        false => Err(ApplicationError::Conflict),
                    }
                })
            })
            .await
    }

    /// Renders, signs and seals the result document of an approved application.
    fn issue(
        &self,
        a: &Application,
        service: &Service,
        applicant: &Applicant,
        now: DateTime<Utc>,
    ) -> Result<DocumentRow, ApplicationError> {
        let app_number = a.number.clone().unwrap_or_default();
        let number = format!("{app_number}-R");
        let agency = self.catalog.agency(&service.agency);
        let at = now.with_timezone(&domain::clock::moscow());
        let date = at.format("%d.%m.%Y").to_string();
        let agency_name = agency.map_or(service.agency.clone(), |x| x.full_name.clone());
        let value = |name: &str| -> String {
            match name {
                "заявитель" => applicant.name.clone(),
                "номер" => app_number.clone(),
                "дата" => date.clone(),
                "ведомство" => agency_name.clone(),
                field => match a.answers.get(field) {
                    Some(Answer::Value(v)) => v.clone(),
                    _ => "—".into(),
                },
            }
        };
        let mut body = String::new();
        let mut rest = service.result.body.as_str();
        while let Some(open) = rest.find('{') {
            body.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else { break };
            body.push_str(&value(rest[open + 1..open + close].trim()));
            rest = &rest[open + close + 1..];
        }
        body.push_str(rest);
        let link = format!("{}/verify/{number}", self.public_url);
        let answers = form::lines(service, &a.answers);
        let letterhead = agency
            .map(|x| format!("{} · ИНН {} · ОГРН {} · {}", x.full_name, x.inn, x.ogrn, x.address));
        let signer_line = format!(
            "{} через портал «Услуги»; {}",
            agency.map_or("Ведомство", |x| x.name.as_str()),
            self.signer.describe()
        );
        let report = printing::Report {
            title: service.result.title.clone(),
            generated_at: format!("{} (МСК)", at.format("%d.%m.%Y %H:%M")),
            subject_line: format!("№ {number} от {date}"),
            sections: vec![
                printing::Section {
                    title: "Сведения".into(),
                    rows: vec![("Содержание".into(), body)],
                    table: None,
                },
                printing::Section {
                    title: "Заявление".into(),
                    rows: [
                        ("Номер заявления".to_owned(), app_number.clone()),
                        ("Услуга".to_owned(), service.title.clone()),
                        ("Заявитель".to_owned(), applicant.name.clone()),
                    ]
                    .into_iter()
                    .chain(answers)
                    .collect(),
                    table: None,
                },
                printing::Section {
                    title: "Электронная подпись".into(),
                    rows: vec![
                        ("Подписано".into(), signer_line),
                        ("Проверить подлинность".into(), link.clone()),
                    ],
                    table: None,
                },
            ],
            letterhead,
            qr: Some(link),
        };
        let pdf = printing::personal_data_report(&report)
            .map_err(|e| ApplicationError::Internal(format!("result document: {e}")))?;
        let signed = self
            .signer
            .sign_document(&pdf, now)
            .map_err(|e| ApplicationError::Internal(format!("signing a result document: {e}")))?;
        let id = uuid::Uuid::now_v7().to_string();
        let sealed = self.vault.encrypt(
            &base64::engine::general_purpose::STANDARD.encode(&pdf),
            &format!("result.pdf:{id}"),
        );
        Ok(DocumentRow {
            number,
            application_id: a.id.clone(),
            account_id: a.account_id.clone(),
            service_id: a.service_id.clone(),
            agency_id: a.agency_id.clone(),
            title: service.result.title.clone(),
            issued_at: to_micros(now),
            sha256: documents::digest(&pdf),
            algorithm: signed.algorithm.to_owned(),
            signature: signed.signature,
            public_key: signed.public_key,
            pdf: sealed,
            id,
        })
    }

    /// An application `actor` may see, with its stored result document if there is one.
    async fn document_of(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Application, Option<DocumentRow>), ApplicationError> {
        let a = self.get(actor, id).await?;
        let d =
            rows::document_by(&mut *self.db.read().await?, DocumentKey::Application, &a.id).await?;
        Ok((a, d))
    }

    /// The PDF of a stored document, unsealed.
    fn pdf_of(&self, d: &DocumentRow) -> Result<Vec<u8>, ApplicationError> {
        let failed =
            |e: String| ApplicationError::Internal(format!("result document {}: {e}", d.id));
        let b64 = self
            .vault
            .decrypt(&d.pdf, &format!("result.pdf:{}", d.id))
            .map_err(|e| failed(e.to_string()))?;
        base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| failed(e.to_string()))
    }

    /// The result document of an application `actor` may see: (number, PDF).
    pub async fn result(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, ApplicationError> {
        let (_, Some(d)) = self.document_of(actor, id).await? else { return Ok(None) };
        Ok(Some((d.number.clone(), self.pdf_of(&d)?)))
    }

    /// Trusts the roots of qualified certificates (`qes_roots`) when verifying GOST
    /// documents, so they stay verifiable after the GOST key is no longer configured.
    pub fn with_roots(mut self, roots: Option<Arc<qes::TrustStore>>) -> Self {
        self.signer = self.signer.with_roots(roots);
        self
    }

    /// Signs result documents with a GOST R 34.10-2012 key from now on (see
    /// [`Signer::with_gost`]); `Err` says, in Russian, why the key cannot be used.
    pub fn with_gost(
        mut self,
        signer: qes::DocumentSigner,
        roots: Option<&qes::TrustStore>,
        now: DateTime<Utc>,
    ) -> Result<Self, String> {
        self.signer = self.signer.with_gost(signer, roots, now)?;
        Ok(self)
    }

    /// The documents issued to `account_id`, newest first («Полученные документы»).
    pub async fn issued(&self, account_id: &str) -> Result<Vec<Issued>, ApplicationError> {
        let rows = rows::documents_of(&self.db, account_id, 500).await?;
        Ok(rows
            .into_iter()
            .map(|d| {
                let application_id = d.application_id.clone();
                let v = self.verified(d);
                Issued {
                    algorithm: v.algorithm,
                    number: v.number,
                    title: v.title,
                    issued_at: v.issued_at,
                    agency: v.agency,
                    service: v.service,
                    application_id,
                }
            })
            .collect())
    }

    /// «Отправить на почту»: queues the result document, attached, to the applicant's
    /// confirmed e-mail, and journals it. Returns the address (for the person's own page).
    pub async fn send_result(
        &self,
        actor: &Actor,
        id: &str,
        applicant: &Applicant,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, ApplicationError> {
        if actor.role != Role::Applicant {
            return Err(ApplicationError::NotFound);
        }
        let (a, Some(d)) = self.document_of(actor, id).await? else {
            return Err(ApplicationError::Refused(
                "Документ: результат по заявлению ещё не готов.".into(),
            ));
        };
        let Some(email) = applicant.email.clone() else {
            return Err(ApplicationError::Refused(
                "Электронная почта: добавьте и подтвердите адрес в профиле — документ \
                 отправляется только на подтверждённую почту."
                    .into(),
            ));
        };
        let (number, pdf) = (d.number.clone(), self.pdf_of(&d)?);
        let (service, _) = self.service(&a.service_id)?;
        let template = Template::ResultDocument {
            link: format!("{}/verify/{number}", self.public_url),
            title: service.result.title.clone(),
            number: number.clone(),
        };
        let attachment = notify::Attachment {
            name: format!("{number}.pdf"),
            content_type: "application/pdf".into(),
            bytes: pdf,
        };
        let ctx = Arc::new((self.clone(), actor.clone(), origin.clone(), a, email.clone(), number));
        self.db
            .shared(move |tx| {
                let ctx = ctx.clone();
                let (template, attachment) = (template.clone(), attachment.clone());
                Box::pin(async move {
                    let (this, actor, origin, a, email, number) = &*ctx;
                    this.outbox
                        .enqueue_with(tx, Channel::Email, email, &template, Some(&attachment), now)
                        .await?;
                    let details = serde_json::json!({
                        "application": a.id, "number": a.number, "document": number,
                    });
                    this.journal(tx, actor, a, "application.result_sent", origin, details, now)
                        .await
                })
            })
            .await?;
        self.outbox.wake();
        Ok(email)
    }

    /// The detached GOST signature (CMS, DER) of an application's result document, for
    /// verifiers such as CryptoPro: (number, signature). `None` when there is no document
    /// or it is signed with ES256 (its signature lives only in the portal's records).
    pub async fn result_signature(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Option<(String, Vec<u8>)>, ApplicationError> {
        let (_, row) = self.document_of(actor, id).await?;
        Ok(row.filter(|d| d.algorithm == documents::GOST).and_then(|d| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&d.signature)
                .ok()
                .map(|cms| (d.number, cms))
        }))
    }

    /// `/verify` by number (what the QR code links to).
    pub async fn verify_number(&self, number: &str) -> Result<Option<Verified>, ApplicationError> {
        let row =
            rows::document_by(&mut *self.db.read().await?, DocumentKey::Number, number.trim())
                .await?;
        Ok(row.map(|d| self.verified(d)))
    }

    /// `/verify` of a file: authentic when it is, byte for byte, an issued document whose
    /// signature verifies.
    pub async fn verify_file(&self, bytes: &[u8]) -> Result<Option<Verified>, ApplicationError> {
        let sha = documents::digest(bytes);
        let row = rows::document_by(&mut *self.db.read().await?, DocumentKey::Sha256, &sha).await?;
        Ok(row
            .filter(|d| {
                let at = from_micros(d.issued_at);
                self.signer.verify_document(&d.algorithm, &d.public_key, &d.signature, bytes, at)
            })
            .map(|d| self.verified(d)))
    }

    fn verified(&self, d: DocumentRow) -> Verified {
        let service = self.catalog.service(&d.service_id);
        let agency = self.catalog.agency(&d.agency_id);
        // Nothing about the holder: /verify is public.
        Verified {
            number: d.number,
            title: d.title,
            issued_at: from_micros(d.issued_at),
            agency: agency.map_or(d.agency_id.clone(), |a| a.name.clone()),
            service: service.map_or(d.service_id.clone(), |s| s.title.clone()),
            sha256: d.sha256,
            algorithm: match d.algorithm.as_str() {
                documents::GOST => "ГОСТ Р 34.10-2012".to_owned(),
                other => other.to_owned(),
            },
        }
    }

    /// «Спросить о статусе» (the applicant) and its answer (an officer or head): a note
    /// on the timeline that does not change the status; the other side is told.
    pub async fn note(
        &self,
        actor: &Actor,
        id: &str,
        text: &str,
        applicant: &Applicant,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Application, ApplicationError> {
        let mut a = self.get(actor, id).await?;
        if a.status == DRAFT {
            return Err(ApplicationError::Refused("Заявление ещё не подано.".into()));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(ApplicationError::Refused(
                "Вопрос: напишите, что вы хотите узнать.".into(),
            ));
        }
        if text.chars().count() > 2000 {
            return Err(ApplicationError::Refused("Вопрос: не длиннее 2000 символов.".into()));
        }
        let kind = if actor.role == Role::Applicant { "question" } else { "answer" };
        a.updated_at = now;
        a.version += 1;
        let status = a.status.clone();
        // Only the applicant is notified by the outbox; officers see questions in the queue.
        let told = match kind {
            "answer" => applicant.clone(),
            _ => Applicant { contacts: Vec::new(), ..applicant.clone() },
        };
        let ctx = Arc::new((
            self.clone(),
            actor.clone(),
            origin.clone(),
            text.to_owned(),
            told,
            status,
            a.clone(),
        ));
        self.db
            .shared(move |tx| {
                let ctx = ctx.clone();
                Box::pin(async move {
                    let (this, actor, origin, text, told, status, a) = &*ctx;
                    if !rows::update(tx, &this.row(a)).await? {
                        return Err(ApplicationError::Conflict);
                    }
                    let text = Some(text.as_str());
                    this.record(tx, actor, a, kind, status, text, told, origin, now).await
                })
            })
            .await?;
        self.outbox.wake();
        Ok(a)
    }

    /// Deletes a draft of the applicant's.
    pub async fn delete_draft(&self, account_id: &str, id: &str) -> Result<(), ApplicationError> {
        if rows::delete_draft(&mut *self.db.conn().await?, id, account_id).await? {
            Ok(())
        } else {
            Err(ApplicationError::NotFound)
        }
    }

    /// «Мои заявки»: the applicant's applications, newest change first.
    pub async fn mine(
        &self,
        account_id: &str,
        f: &MineFilter,
    ) -> Result<Vec<Application>, ApplicationError> {
        let day = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0).map(|t| to_micros(t.and_utc() - chrono::Duration::hours(3)))
        };
        let filter = Filter {
            account_id: Some(account_id.to_owned()),
            service_id: f.service_id.clone(),
            statuses: f.status.clone().into_iter().collect(),
            number: f.number.clone(),
            from: f.from.and_then(day),
            to: f.to.and_then(|d| d.succ_opt()).and_then(day),
            limit: if f.limit > 0 { f.limit.min(500) } else { 50 },
            offset: f.offset.max(0),
            ..Filter::default()
        };
        let found = rows::list(&mut *self.db.read().await?, &filter).await?;
        found.into_iter().map(|r| self.open(r)).collect()
    }

    /// An officer's queue: the submitted applications of their agencies by `filter`
    /// (statuses, service, number), the nearest due date first.
    pub async fn queue(
        &self,
        actor: &Actor,
        service_id: Option<&str>,
        statuses: &[String],
        number: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Application>, ApplicationError> {
        if actor.agencies.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter {
            agency_ids: actor.agencies.clone(),
            service_id: service_id.map(str::to_owned),
            statuses: statuses.to_vec(),
            number: number.map(str::to_owned),
            queue: true,
            limit: limit.clamp(1, 1000),
            ..Filter::default()
        };
        let found = rows::list(&mut *self.db.read().await?, &filter).await?;
        found.into_iter().map(|r| self.open(r)).collect()
    }

    /// Applications whose applicant let a window run out — a clarification not answered
    /// by its date — with the system step that closes each (see [`expiry_step`]).
    pub async fn overdue(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Overdue>, ApplicationError> {
        let workflows: std::collections::BTreeSet<&str> =
            self.catalog.services().iter().map(|s| s.workflow.as_str()).collect();
        let mut statuses: Vec<String> = Vec::new();
        for workflow in workflows.into_iter().filter_map(|w| self.catalog.workflow(w)) {
            for state in &workflow.states {
                if expiry_step(workflow, &state.id).is_some() && !statuses.contains(&state.id) {
                    statuses.push(state.id.clone());
                }
            }
        }
        if statuses.is_empty() {
            return Ok(Vec::new());
        }
        let filter = Filter {
            statuses,
            act_by_before: Some(moscow_date(now).format("%Y-%m-%d").to_string()),
            limit: limit.clamp(1, 1000),
            ..Filter::default()
        };
        let found = rows::list(&mut *self.db.read().await?, &filter).await?;
        Ok(found
            .into_iter()
            .filter_map(|r| {
                // A state id may mean different things in different workflows: take the
                // application's own workflow's step.
                let (_, workflow) = self.service(&r.service_id).ok()?;
                let step = expiry_step(workflow, &r.status)?;
                Some(Overdue {
                    transition: step.id.clone(),
                    act_by: r.act_by.as_deref().and_then(|d| d.parse().ok()),
                    id: r.id,
                    account_id: r.account_id,
                })
            })
            .collect())
    }

    /// Counts by status of the agencies' submitted applications (the dashboard).
    pub async fn counts(
        &self,
        agencies: &[String],
    ) -> Result<Vec<(String, i64)>, ApplicationError> {
        Ok(rows::counts(&mut *self.db.read().await?, agencies).await?)
    }

    /// The applicant's in-app notices: the newest steps on their applications.
    pub async fn notices(
        &self,
        account_id: &str,
        limit: i64,
    ) -> Result<Vec<Notice>, ApplicationError> {
        let found =
            rows::notices(&mut *self.db.read().await?, account_id, limit.clamp(1, 500)).await?;
        Ok(found
            .into_iter()
            .map(|n| {
                let e = n.event;
                let service = self.catalog.service(&n.service_id);
                let workflow = service.and_then(|s| self.catalog.workflow(&s.workflow));
                let status = workflow
                    .and_then(|w| w.state(&e.to_status))
                    .map_or(e.to_status.clone(), |s| s.title.clone());
                let text = match e.transition.as_str() {
                    "answer" => "Ведомство ответило на ваш вопрос".to_owned(),
                    "checks" => "Выполнены автоматические проверки".to_owned(),
                    _ => format!("Статус: {status}"),
                };
                Notice {
                    at: from_micros(e.at),
                    application_id: e.application_id,
                    number: n.number.unwrap_or_default(),
                    service: service.map_or(n.service_id.clone(), |s| s.title.clone()),
                    text,
                    comment: e
                        .comment
                        .and_then(|c| self.vault.decrypt(&c, &format!("{COMMENT}:{}", e.id)).ok()),
                }
            })
            .collect())
    }

    /// The timeline of an application `actor` may see.
    pub async fn timeline(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<TimelineEntry>, ApplicationError> {
        let a = self.get(actor, id).await?;
        let found = rows::events(&mut *self.db.read().await?, &a.id).await?;
        Ok(found
            .into_iter()
            .map(|e| TimelineEntry {
                at: from_micros(e.at),
                actor: role_of(&e.actor_kind),
                comment: e
                    .comment
                    .and_then(|c| self.vault.decrypt(&c, &format!("{COMMENT}:{}", e.id)).ok()),
                transition: e.transition,
                from: e.from_status,
                to: e.to_status,
            })
            .collect())
    }

    /// The timeline event, the journal entry and the notices of one change.
    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        a: &Application,
        transition: &str,
        from: &str,
        comment: Option<&str>,
        applicant: &Applicant,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), ApplicationError> {
        let event_id = uuid::Uuid::now_v7().to_string();
        let event = EventRow {
            comment: comment.map(|c| self.vault.encrypt(c, &format!("{COMMENT}:{event_id}"))),
            id: event_id,
            application_id: a.id.clone(),
            at: to_micros(now),
            actor_kind: role_name(actor.role).to_owned(),
            actor_id: actor.id.clone(),
            transition: transition.to_owned(),
            from_status: from.to_owned(),
            to_status: a.status.clone(),
        };
        rows::insert_event(conn, &event).await?;
        let details = serde_json::json!({
            "application": a.id, "number": a.number, "service": a.service_id,
            "transition": transition, "from": from, "to": a.status,
        });
        self.journal(conn, actor, a, "application.status", origin, details, now).await?;
        let (service, workflow) = self.service(&a.service_id)?;
        let status = workflow.state(&a.status).map_or(a.status.clone(), |s| s.title.clone());
        let template = Template::ApplicationStatus {
            number: a.number.clone().unwrap_or_default(),
            service: service.title.clone(),
            status,
            comment: comment.map(str::to_owned),
        };
        for (channel, address) in &applicant.contacts {
            self.outbox.enqueue(conn, *channel, address, &template, now).await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn journal(
        &self,
        conn: &mut store::Conn,
        actor: &Actor,
        a: &Application,
        action: &str,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), ApplicationError> {
        let kind = match actor.role {
            Role::Applicant => ActorKind::Citizen,
            Role::Officer | Role::Head => ActorKind::Officer,
            Role::System => ActorKind::System,
        };
        let event = Event {
            at: now,
            actor: kind,
            actor_id: actor.id.as_deref(),
            subject_id: Some(&a.account_id),
            action,
            outcome: Outcome::Ok,
            origin,
            details,
        };
        journal::record(conn, &event).await?;
        Ok(())
    }
}

/// Where a file's bytes live: 256 directories by the last two hex digits of the file id
/// (its random part), so storing a file never has to create a directory once they exist.
fn blob_key(file_id: &str) -> String {
    let shard = file_id.get(file_id.len().saturating_sub(2)..).unwrap_or("00");
    format!("applications/{shard}/{file_id}")
}

/// Where files attached before the sharded layout live.
fn legacy_blob_key(application_id: &str, file_id: &str) -> String {
    format!("applications/{application_id}/{file_id}")
}

fn info(f: rows::FileRow) -> FileInfo {
    FileInfo {
        id: f.id,
        rule: f.rule,
        name: f.file_name,
        content_type: f.content_type,
        size: f.size,
    }
}

fn may_see(actor: &Actor, a: &Application) -> bool {
    match actor.role {
        Role::Applicant => actor.id.as_deref() == Some(a.account_id.as_str()),
        Role::Officer | Role::Head => a.status != DRAFT && actor.agencies.contains(&a.agency_id),
        Role::System => true,
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Applicant => "applicant",
        Role::Officer => "officer",
        Role::Head => "head",
        Role::System => "system",
    }
}

fn role_of(name: &str) -> Role {
    match name {
        "applicant" => Role::Applicant,
        "officer" => Role::Officer,
        "head" => Role::Head,
        _ => Role::System,
    }
}
