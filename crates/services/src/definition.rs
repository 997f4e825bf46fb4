//! Service definitions: one TOML file per service, plus the shared files they refer to
//! (`agencies.toml`, `categories.toml`, `workflows/*.toml`).
//!
//! The raw files are read into the `Raw*` shapes below (serde, unknown keys refused), then
//! checked as a whole — every reference resolves, every workflow is sound, every condition
//! names an earlier field with a value it can take — into the validated [`Service`],
//! [`Workflow`], [`Agency`] and [`Category`]. An error names the file, the line and the
//! reason in Russian: operators edit these files, and a server must not start on a
//! catalog it cannot serve.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Deserialize;
use toml::Spanned;

/// What is wrong with a definition, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}, строка {line}: {reason}")]
pub struct DefinitionError {
    pub file: String,
    pub line: usize,
    pub reason: String,
}

/// One source file: its name (as shown in errors) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    fn error_at(&self, offset: usize, reason: impl Into<String>) -> DefinitionError {
        let line = 1 + self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        DefinitionError { file: self.name.clone(), line, reason: reason.into() }
    }

    fn error<T>(&self, at: &Spanned<T>, reason: impl Into<String>) -> DefinitionError {
        self.error_at(at.span().start, reason)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, DefinitionError> {
        toml::from_str(&self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.error_at(offset, format!("не разобрать TOML: {}", e.message()))
        })
    }
}

// --- agencies and categories ---------------------------------------------------------------

/// The agency that provides services and signs their results.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: String,
    /// Short name, as people say it («Росреестр»).
    pub name: String,
    /// Full official name, for result documents.
    pub full_name: String,
    pub inn: String,
    pub ogrn: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub title: String,
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgencies {
    agency: Vec<Spanned<Agency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategories {
    category: Vec<Spanned<Category>>,
}

// --- workflows -----------------------------------------------------------------------------

/// Who may take a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person who applied.
    Applicant,
    /// An officer of the agency that provides the service.
    Officer,
    /// The head of the officer's department (appeals).
    Head,
    /// The platform itself: automatic checks, deadlines.
    System,
}

impl Role {
    pub fn title(self) -> &'static str {
        match self {
            Self::Applicant => "заявитель",
            Self::Officer => "сотрудник ведомства",
            Self::Head => "руководитель подразделения",
            Self::System => "система",
        }
    }
}

/// A state of an application.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub id: String,
    /// As the applicant sees it («Требуется уточнение»).
    pub title: String,
    /// No more work by the agency (approved, rejected, cancelled). A final state may
    /// still have transitions (an appeal of a rejection).
    #[serde(default)]
    pub r#final: bool,
    /// The deadline does not run while here (waiting for the applicant).
    #[serde(default)]
    pub pauses_deadline: bool,
    /// Reaching this state issues the result document.
    #[serde(default)]
    pub issues_result: bool,
}

/// A step from some states to one state, taken by one role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub id: String,
    /// The button («Одобрить»).
    pub title: String,
    pub from: Vec<String>,
    pub to: String,
    pub role: Role,
    /// The one taking it must write why (a rejection, a clarification request).
    #[serde(default)]
    pub needs_comment: bool,
    /// Only within this many working days of entering the `from` state (an appeal).
    #[serde(default)]
    pub within_working_days: Option<u32>,
    /// The state's own deadline, in working days, for whoever acts next (an appeal is
    /// decided within 3, a clarification answered within 5).
    #[serde(default)]
    pub answer_within_working_days: Option<u32>,
}

/// The state of every application before it is submitted; not part of a workflow.
pub const DRAFT: &str = "draft";

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    pub id: String,
    /// The state an application enters on submission.
    pub initial: String,
    pub states: Vec<State>,
    pub transitions: Vec<Transition>,
}

impl Workflow {
    pub fn state(&self, id: &str) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    /// The transitions out of `state` that `role` may take.
    pub fn available(&self, state: &str, role: Role) -> impl Iterator<Item = &Transition> {
        self.transitions.iter().filter(move |t| t.role == role && t.from.iter().any(|f| f == state))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    id: String,
    initial: Spanned<String>,
    states: Vec<Spanned<State>>,
    transitions: Vec<Spanned<Transition>>,
}

// --- services ------------------------------------------------------------------------------

/// Who may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applicant {
    Person,
    Entrepreneur,
    Organization,
}

impl Applicant {
    pub fn title(self) -> &'static str {
        match self {
            Self::Person => "физические лица",
            Self::Entrepreneur => "индивидуальные предприниматели",
            Self::Organization => "юридические лица",
        }
    }
}

/// The least account level an applicant needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Simplified,
    Standard,
    Confirmed,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Simplified => "simplified",
            Self::Standard => "standard",
            Self::Confirmed => "confirmed",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Simplified => "упрощённая",
            Self::Standard => "стандартная",
            Self::Confirmed => "подтверждённая",
        }
    }
}

/// The identifiers a field may hold, checked by the rules of `domain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Snils,
    /// INN of a person (12 digits).
    InnPerson,
    /// INN of an organization (10 digits).
    InnOrganization,
    Ogrn,
    Ogrnip,
    Kpp,
    Bik,
    /// A Russian passport: series and number.
    Passport,
    Phone,
    Email,
    /// A cadastral number of real estate (АА:ВВ:CCCCCC[C]:КК).
    Cadastral,
}

impl IdentifierKind {
    pub fn title(self) -> &'static str {
        match self {
            Self::Snils => "СНИЛС",
            Self::InnPerson => "ИНН физического лица",
            Self::InnOrganization => "ИНН организации",
            Self::Ogrn => "ОГРН",
            Self::Ogrnip => "ОГРНИП",
            Self::Kpp => "КПП",
            Self::Bik => "БИК",
            Self::Passport => "серия и номер паспорта",
            Self::Phone => "телефон",
            Self::Email => "электронная почта",
            Self::Cadastral => "кадастровый номер",
        }
    }
}

/// Where a field's first value comes from: the applicant's verified profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefill {
    Surname,
    GivenName,
    Patronymic,
    FullName,
    Birthdate,
    Gender,
    Snils,
    Inn,
    Passport,
    Phone,
    Email,
    RegistrationAddress,
    ResidenceAddress,
}

/// A field's type.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    Text {
        multiline: bool,
        max_len: u32,
    },
    Number {
        min: Option<i64>,
        max: Option<i64>,
    },
    Date {
        /// Not after today (a date of birth, of an event that happened).
        past: bool,
        /// Not before today (a wished date of an appointment).
        future: bool,
    },
    Select {
        options: Vec<String>,
    },
    Checkbox,
    Identifier {
        kind: IdentifierKind,
    },
    Address,
    /// A repeating group of fields (children, previous names).
    Group {
        fields: Vec<Field>,
        min: u32,
        max: u32,
    },
}

/// A field as written: every key any type may have; [`check_field`] keeps those of its
/// type and refuses the rest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    id: String,
    label: String,
    r#type: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    when: Option<Condition>,
    #[serde(default)]
    prefill: Option<Prefill>,
    #[serde(default)]
    multiline: Option<bool>,
    #[serde(default)]
    max_len: Option<u32>,
    #[serde(default)]
    min: Option<i64>,
    #[serde(default)]
    max: Option<i64>,
    #[serde(default)]
    past: Option<bool>,
    #[serde(default)]
    future: Option<bool>,
    #[serde(default)]
    options: Option<Vec<String>>,
    #[serde(default)]
    kind: Option<IdentifierKind>,
    #[serde(default)]
    fields: Option<Vec<RawField>>,
}

/// Shown only when an earlier field has a value.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    /// The select option chosen, or `"да"` / `"нет"` for a checkbox.
    pub equals: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Field {
    pub id: String,
    pub label: String,
    #[serde(flatten)]
    pub kind: FieldKind,
    pub required: bool,
    pub hint: Option<String>,
    pub when: Option<Condition>,
    pub prefill: Option<Prefill>,
}

/// File formats an attachment may have (checked by content when uploaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Pdf,
    Jpg,
    Png,
    Docx,
}

impl Format {
    pub fn title(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Jpg => "JPG",
            Self::Png => "PNG",
            Self::Docx => "DOCX",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRule {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub required: bool,
    pub formats: Vec<Format>,
    /// At most this many megabytes; the platform's limit when not set.
    #[serde(default)]
    pub max_size_mb: Option<u32>,
    #[serde(default)]
    pub hint: Option<String>,
}

/// A state fee (госпошлина) or a charge, paid through payments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    /// In kopecks.
    pub kopecks: u64,
    pub purpose: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Review {
    /// Checks against registries decide; no officer unless they fail.
    Automatic,
    /// An officer decides.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub working_days: u32,
    pub review: Review,
}

/// An automatic check run before the manual step; its result is shown to the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The applicant's identity document is valid in the registry (МВД).
    PassportValid,
    /// The applicant's SNILS matches the person (СФР).
    SnilsMatches,
    /// The applicant's INN matches the person (ФНС).
    InnMatches,
    /// The organization named in the form is in ЕГРЮЛ and active.
    OrganizationActive,
    /// The entrepreneur named in the form is in ЕГРИП and active.
    EntrepreneurActive,
}

impl Check {
    pub fn title(self) -> &'static str {
        match self {
            Self::PassportValid => "Паспорт действителен (МВД)",
            Self::SnilsMatches => "СНИЛС принадлежит заявителю (СФР)",
            Self::InnMatches => "ИНН принадлежит заявителю (ФНС)",
            Self::OrganizationActive => "Организация есть в ЕГРЮЛ и действует",
            Self::EntrepreneurActive => "Предприниматель есть в ЕГРИП и действует",
        }
    }
}

/// The result document: its title and the text of its body, where `{поле}` is replaced
/// by the value of the form field of that id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResultTemplate {
    pub title: String,
    pub body: String,
}

/// A validated service.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Service {
    pub id: String,
    pub title: String,
    /// One sentence for lists.
    pub summary: String,
    pub description: String,
    pub category: String,
    pub agency: String,
    pub keywords: Vec<String>,
    /// Shown among the popular services (ordered by this, lower first).
    pub popular: Option<u32>,
    pub applicants: Vec<Applicant>,
    pub min_level: Level,
    pub form: Vec<Field>,
    pub attachments: Vec<AttachmentRule>,
    pub fee: Option<Fee>,
    pub deadline: Deadline,
    pub checks: Vec<Check>,
    pub workflow: String,
    pub result: ResultTemplate,
    /// The file it came from.
    pub source: String,
}

impl Service {
    /// Every field, groups' inner fields included, with its path (`children.name`).
    pub fn all_fields(&self) -> Vec<(String, &Field)> {
        fn walk<'a>(prefix: &str, fields: &'a [Field], out: &mut Vec<(String, &'a Field)>) {
            for f in fields {
                let path =
                    if prefix.is_empty() { f.id.clone() } else { format!("{prefix}.{}", f.id) };
                if let FieldKind::Group { fields, .. } = &f.kind {
                    walk(&path, fields, out);
                }
                out.push((path, f));
            }
        }
        let mut out = Vec::new();
        walk("", &self.form, &mut out);
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    title: String,
    summary: String,
    description: String,
    category: Spanned<String>,
    agency: Spanned<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    popular: Option<u32>,
    applicants: Spanned<Vec<Applicant>>,
    min_level: Level,
    #[serde(default)]
    form: Vec<Spanned<RawField>>,
    #[serde(default)]
    attachments: Vec<Spanned<AttachmentRule>>,
    #[serde(default)]
    fee: Option<Fee>,
    deadline: Spanned<Deadline>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default = "default_workflow")]
    workflow: Spanned<String>,
    result: Spanned<ResultTemplate>,
}

fn default_workflow() -> Spanned<String> {
    Spanned::new(0..0, "standard".to_owned())
}

// --- checking ------------------------------------------------------------------------------

/// Ids are lowercase Latin letters, digits, `-` and `_`: they appear in URLs and forms.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn nonblank(src: &Source, at: usize, what: &str, value: &str) -> Result<(), DefinitionError> {
    if value.trim().is_empty() {
        return Err(src.error_at(at, format!("{what}: пусто")));
    }
    Ok(())
}

pub(crate) fn agencies(src: &Source) -> Result<Vec<Agency>, DefinitionError> {
    let raw: RawAgencies = src.parse()?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for a in raw.agency {
        let at = a.span().start;
        if !valid_id(&a.get_ref().id) {
            return Err(src.error_at(
                at,
                format!("id ведомства «{}»: допустимы a–z, 0–9, - и _", a.get_ref().id),
            ));
        }
        if !seen.insert(a.get_ref().id.clone()) {
            return Err(src.error_at(at, format!("ведомство «{}» описано дважды", a.get_ref().id)));
        }
        nonblank(src, at, "name", &a.get_ref().name)?;
        nonblank(src, at, "full_name", &a.get_ref().full_name)?;
        if domain::ident::Inn::parse(&a.get_ref().inn).is_err() || a.get_ref().inn.len() != 10 {
            return Err(src
                .error_at(at, format!("ведомство «{}»: ИНН организации неверен", a.get_ref().id)));
        }
        if domain::ident::Ogrn::parse(&a.get_ref().ogrn).is_err() {
            return Err(src.error_at(at, format!("ведомство «{}»: ОГРН неверен", a.get_ref().id)));
        }
        out.push(a.into_inner());
    }
    Ok(out)
}

pub(crate) fn categories(src: &Source) -> Result<Vec<Category>, DefinitionError> {
    let raw: RawCategories = src.parse()?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for c in raw.category {
        let at = c.span().start;
        if !valid_id(&c.get_ref().id) {
            return Err(src.error_at(
                at,
                format!("id категории «{}»: допустимы a–z, 0–9, - и _", c.get_ref().id),
            ));
        }
        if !seen.insert(c.get_ref().id.clone()) {
            return Err(src.error_at(at, format!("категория «{}» описана дважды", c.get_ref().id)));
        }
        nonblank(src, at, "title", &c.get_ref().title)?;
        out.push(c.into_inner());
    }
    Ok(out)
}

pub(crate) fn workflow(src: &Source) -> Result<Workflow, DefinitionError> {
    let raw: RawWorkflow = src.parse()?;
    if !valid_id(&raw.id) {
        return Err(src.error_at(0, format!("id процесса «{}»: допустимы a–z, 0–9, - и _", raw.id)));
    }
    let mut states = BTreeMap::new();
    for s in &raw.states {
        if s.get_ref().id == DRAFT {
            return Err(src.error(
                s,
                "состояние draft (черновик) есть у каждого заявления до подачи, его не описывают",
            ));
        }
        if !valid_id(&s.get_ref().id) {
            return Err(src.error(
                s,
                format!("id состояния «{}»: допустимы a–z, 0–9, - и _", s.get_ref().id),
            ));
        }
        if states.insert(s.get_ref().id.as_str(), s.get_ref()).is_some() {
            return Err(src.error(s, format!("состояние «{}» описано дважды", s.get_ref().id)));
        }
        nonblank(src, s.span().start, "title", &s.get_ref().title)?;
    }
    if !states.contains_key(raw.initial.get_ref().as_str()) {
        return Err(src.error(
            &raw.initial,
            format!("начальное состояние «{}» не описано", raw.initial.get_ref()),
        ));
    }
    if !states.values().any(|s| s.r#final) {
        return Err(src.error_at(0, "нет ни одного конечного состояния (final = true)"));
    }
    let mut ids = HashSet::new();
    for t in &raw.transitions {
        let tr = t.get_ref();
        if !ids.insert(tr.id.as_str()) {
            return Err(src.error(t, format!("переход «{}» описан дважды", tr.id)));
        }
        if tr.from.is_empty() {
            return Err(src.error(t, format!("переход «{}»: from пуст", tr.id)));
        }
        for name in tr.from.iter().chain(std::iter::once(&tr.to)) {
            if !states.contains_key(name.as_str()) {
                return Err(
                    src.error(t, format!("переход «{}»: состояние «{name}» не описано", tr.id))
                );
            }
        }
        if tr.within_working_days == Some(0) || tr.answer_within_working_days == Some(0) {
            return Err(src.error(t, format!("переход «{}»: срок в 0 рабочих дней", tr.id)));
        }
    }
    // Every state can be reached from the initial one, and every state that is not final
    // has a way on: an application never gets stuck.
    let mut reached = HashSet::from([raw.initial.get_ref().as_str()]);
    let mut changed = true;
    while changed {
        changed = false;
        for t in &raw.transitions {
            let tr = t.get_ref();
            if tr.from.iter().any(|f| reached.contains(f.as_str())) && reached.insert(&tr.to) {
                changed = true;
            }
        }
    }
    for s in &raw.states {
        let st = s.get_ref();
        if !reached.contains(st.id.as_str()) {
            return Err(
                src.error(s, format!("в состояние «{}» нельзя попасть из начального", st.id))
            );
        }
        if !st.r#final && !raw.transitions.iter().any(|t| t.get_ref().from.contains(&st.id)) {
            return Err(
                src.error(s, format!("из состояния «{}» нет переходов, а оно не конечное", st.id))
            );
        }
    }
    Ok(Workflow {
        id: raw.id,
        initial: raw.initial.into_inner(),
        states: raw.states.into_iter().map(Spanned::into_inner).collect(),
        transitions: raw.transitions.into_iter().map(Spanned::into_inner).collect(),
    })
}

/// What a service's references resolve against.
pub(crate) struct Known<'a> {
    pub agencies: &'a HashMap<String, Agency>,
    pub categories: &'a HashMap<String, Category>,
    pub workflows: &'a HashMap<String, Workflow>,
}

pub(crate) fn service(src: &Source, known: &Known<'_>) -> Result<Service, DefinitionError> {
    let raw: RawService = src.parse()?;
    let id = raw.id.get_ref();
    if !valid_id(id) {
        return Err(src.error(&raw.id, format!("id услуги «{id}»: допустимы a–z, 0–9, - и _")));
    }
    for (what, value) in
        [("title", &raw.title), ("summary", &raw.summary), ("description", &raw.description)]
    {
        nonblank(src, raw.id.span().start, what, value)?;
    }
    if !known.categories.contains_key(raw.category.get_ref()) {
        return Err(src.error(
            &raw.category,
            format!("категория «{}» не описана в categories.toml", raw.category.get_ref()),
        ));
    }
    if !known.agencies.contains_key(raw.agency.get_ref()) {
        return Err(src.error(
            &raw.agency,
            format!("ведомство «{}» не описано в agencies.toml", raw.agency.get_ref()),
        ));
    }
    let workflow_at = if raw.workflow.span().is_empty() {
        raw.id.span().start
    } else {
        raw.workflow.span().start
    };
    let Some(workflow) = known.workflows.get(raw.workflow.get_ref()) else {
        return Err(src.error_at(
            workflow_at,
            format!("процесс «{}» не описан в workflows/", raw.workflow.get_ref()),
        ));
    };
    if !workflow.states.iter().any(|s| s.issues_result) {
        return Err(src.error_at(
            workflow_at,
            format!("в процессе «{}» нет состояния, выдающего результат", workflow.id),
        ));
    }
    if raw.applicants.get_ref().is_empty() {
        return Err(src.error(&raw.applicants, "applicants: укажите, кто может подать заявление"));
    }
    if raw.deadline.get_ref().working_days == 0 || raw.deadline.get_ref().working_days > 365 {
        return Err(src.error(&raw.deadline, "deadline.working_days: от 1 до 365 рабочих дней"));
    }
    // Fields: ids unique at their level, conditions refer to an earlier field and a value
    // it can take, groups hold plain fields.
    let mut form: Vec<Field> = Vec::new();
    for f in raw.form {
        let at = f.span().start;
        let field = check_field(src, at, f.into_inner(), &form, true)?;
        if form.iter().any(|e| e.id == field.id) {
            return Err(src.error_at(at, format!("поле «{}» описано дважды", field.id)));
        }
        form.push(field);
    }
    let mut attachment_ids = HashSet::new();
    for a in &raw.attachments {
        let rule = a.get_ref();
        if !valid_id(&rule.id) {
            return Err(
                src.error(a, format!("id вложения «{}»: допустимы a–z, 0–9, - и _", rule.id))
            );
        }
        if !attachment_ids.insert(rule.id.as_str()) || form.iter().any(|f| f.id == rule.id) {
            return Err(src.error(a, format!("вложение «{}»: такой id уже есть", rule.id)));
        }
        if rule.formats.is_empty() {
            return Err(src.error(a, format!("вложение «{}»: formats пуст", rule.id)));
        }
        if rule.max_size_mb == Some(0) || rule.max_size_mb.is_some_and(|m| m > 100) {
            return Err(src.error(a, format!("вложение «{}»: max_size_mb от 1 до 100", rule.id)));
        }
    }
    // The result template names only fields that exist.
    let template = raw.result.get_ref();
    nonblank(src, raw.result.span().start, "result.title", &template.title)?;
    for name in placeholders(&template.body) {
        if !form.iter().any(|f| f.id == name) && !BUILTIN_PLACEHOLDERS.contains(&name) {
            return Err(src.error(
                &raw.result,
                format!("в шаблоне результата поле «{{{name}}}» не описано в форме"),
            ));
        }
    }
    Ok(Service {
        id: raw.id.into_inner(),
        title: raw.title,
        summary: raw.summary,
        description: raw.description,
        category: raw.category.into_inner(),
        agency: raw.agency.into_inner(),
        keywords: raw.keywords,
        popular: raw.popular,
        applicants: raw.applicants.into_inner(),
        min_level: raw.min_level,
        form,
        attachments: raw.attachments.into_iter().map(Spanned::into_inner).collect(),
        fee: raw.fee,
        deadline: raw.deadline.into_inner(),
        checks: raw.checks,
        workflow: raw.workflow.into_inner(),
        result: raw.result.into_inner(),
        source: src.name.clone(),
    })
}

/// Placeholders every result template may use besides the form's fields.
pub const BUILTIN_PLACEHOLDERS: [&str; 4] = ["заявитель", "номер", "дата", "ведомство"];

/// The `{name}` placeholders of a template, in order.
pub fn placeholders(body: &str) -> impl Iterator<Item = &str> {
    body.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name.trim()))
}

/// Checks one field as written and keeps the keys of its type; `earlier` are the fields
/// above it (at its level), which a condition may name.
fn check_field(
    src: &Source,
    at: usize,
    f: RawField,
    earlier: &[Field],
    top: bool,
) -> Result<Field, DefinitionError> {
    let name = f.id.clone();
    let fail = |reason: String| Err(src.error_at(at, format!("поле «{name}»: {reason}")));
    if !valid_id(&name) {
        return fail("id: допустимы a–z, 0–9, - и _".into());
    }
    if f.label.trim().is_empty() {
        return fail("label пуст".into());
    }
    // The keys each type may have; any other is a mistake worth saying.
    let allowed: &[&str] = match f.r#type.as_str() {
        "text" => &["multiline", "max_len"],
        "number" => &["min", "max"],
        "date" => &["past", "future"],
        "select" => &["options"],
        "identifier" => &["kind"],
        "group" => &["fields", "min", "max"],
        "checkbox" | "address" => &[],
        other => {
            return fail(format!(
                "тип «{other}» неизвестен (text, number, date, select, checkbox, identifier, address, group)"
            ));
        }
    };
    let given = [
        ("multiline", f.multiline.is_some()),
        ("max_len", f.max_len.is_some()),
        ("min", f.min.is_some()),
        ("max", f.max.is_some()),
        ("past", f.past.is_some()),
        ("future", f.future.is_some()),
        ("options", f.options.is_some()),
        ("kind", f.kind.is_some()),
        ("fields", f.fields.is_some()),
    ];
    if let Some((key, _)) = given.iter().find(|(key, set)| *set && !allowed.contains(key)) {
        return fail(format!("ключ {key} не относится к типу {}", f.r#type));
    }
    let kind = match f.r#type.as_str() {
        "text" => {
            let max_len = f.max_len.unwrap_or(500);
            if max_len == 0 || max_len > 10_000 {
                return fail("max_len от 1 до 10000".into());
            }
            FieldKind::Text { multiline: f.multiline.unwrap_or(false), max_len }
        }
        "number" => {
            if let (Some(min), Some(max)) = (f.min, f.max)
                && min > max
            {
                return fail("min больше max".into());
            }
            FieldKind::Number { min: f.min, max: f.max }
        }
        "date" => {
            let (past, future) = (f.past.unwrap_or(false), f.future.unwrap_or(false));
            if past && future {
                return fail("дата не может быть и past, и future".into());
            }
            FieldKind::Date { past, future }
        }
        "select" => {
            let options = f.options.unwrap_or_default();
            if options.len() < 2 {
                return fail("у списка меньше двух вариантов (options)".into());
            }
            if options.iter().collect::<HashSet<_>>().len() != options.len() {
                return fail("варианты повторяются".into());
            }
            FieldKind::Select { options }
        }
        "identifier" => match f.kind {
            Some(kind) => FieldKind::Identifier { kind },
            None => return fail("для identifier нужен kind (snils, inn_person, …)".into()),
        },
        "checkbox" => FieldKind::Checkbox,
        "address" => FieldKind::Address,
        _ => {
            if !top {
                return fail("группа внутри группы не поддерживается".into());
            }
            let (min, max) = (f.min.unwrap_or(0), f.max.unwrap_or(10));
            if min < 0 || max < 1 || min > max || max > 100 {
                return fail("у группы нужно 0 ≤ min ≤ max, 1 ≤ max ≤ 100".into());
            }
            let mut fields: Vec<Field> = Vec::new();
            for g in f.fields.unwrap_or_default() {
                let inner = check_field(src, at, g, &fields, false)?;
                if fields.iter().any(|e| e.id == inner.id) {
                    return fail(format!("в группе поле «{}» описано дважды", inner.id));
                }
                fields.push(inner);
            }
            if fields.is_empty() {
                return fail("в группе нет полей".into());
            }
            FieldKind::Group { fields, min: min as u32, max: max as u32 }
        }
    };
    if let Some(c) = &f.when {
        let Some(target) = earlier.iter().find(|e| e.id == c.field) else {
            return fail(format!("условие ссылается на «{}», которого нет выше", c.field));
        };
        let can_be = match &target.kind {
            FieldKind::Select { options } => options.contains(&c.equals),
            FieldKind::Checkbox => c.equals == "да" || c.equals == "нет",
            _ => false,
        };
        if !can_be {
            return fail(format!("«{}» не может иметь значение «{}»", c.field, c.equals));
        }
    }
    Ok(Field {
        id: f.id,
        label: f.label,
        kind,
        required: f.required,
        hint: f.hint,
        when: f.when,
        prefill: f.prefill,
    })
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}
