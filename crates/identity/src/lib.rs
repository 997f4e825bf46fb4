//! Citizen accounts — the ЕСИА core: registration of a simplified account with a
//! confirmed phone or e-mail, one-time codes, passwords, sign-in with lockout, sessions.
//!
//! Every flow writes its state change, its journal entry and its notification in one
//! transaction. Personal data goes through the vault (encrypted, found by blind index);
//! codes, link tokens and session ids are stored only as keyed hashes. Counters that
//! guard against guessing (wrong codes per contact, wrong passwords per account, attempts
//! per IP) are updated atomically in the database before a check is made, so parallel
//! requests on any number of nodes cannot get more checks than allowed.

pub mod bank;
pub mod captcha;
pub mod centers;
pub mod confirm;
pub mod documents;
mod error;
pub use security::{Factor, SecondFactorChallenge, SignIn, SignInAttempt};
pub mod letter;
pub mod password;
pub mod rights;
pub mod security;
pub mod signature;
pub mod staff;
pub mod totp;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use chrono::{DateTime, Duration, Utc};
use domain::FieldError;
use domain::ident::{Email, NamePart, Phone};
pub use error::IdentityError;
use journal::{ActorKind, Event, Origin, Outcome};
use notify::{Channel, Outbox, Template};
use password::{Hasher, PasswordPolicy};
use store::identity::{self as rows, AccountRow, CodeRow, ContactRow, RegistrationRow, SessionRow};
use store::security as security_rows;
use store::vault::Vault;
use store::{Db, from_micros, to_micros};

/// The numbers of the flows; defaults from the seeds and the issue.
#[derive(Debug, Clone)]
pub struct Policy {
    pub code_ttl: Duration,
    pub code_attempts: i64,
    pub resend_after: Duration,
    /// Wrong codes for one contact within `contact_window` that block it…
    pub contact_failures: i64,
    pub contact_window: Duration,
    /// …for this long.
    pub contact_block: Duration,
    /// Codes sent to one contact within `contact_window` before further sends wait.
    pub codes_per_window: i64,
    /// How long a started registration may wait for its code and password.
    pub registration_ttl: Duration,
    pub login_attempts: i64,
    pub login_lock: Duration,
    /// Failed sign-ins from one IP within `ip_window` that block the IP…
    pub ip_failures: i64,
    pub ip_window: Duration,
    /// …for this long.
    pub ip_block: Duration,
    pub session_idle: Duration,
    pub session_lifetime: Duration,
    /// Live sessions one account may have; opening one more ends the oldest.
    pub max_sessions: i64,
    /// Failed sign-ins (from an address or for a login) after which a captcha is asked.
    pub captcha_after: i64,
    /// How long a sign-in may wait for its second factor, and how many wrong codes.
    pub second_factor_ttl: Duration,
    pub second_factor_attempts: i64,
    /// How long «запомнить это устройство» skips the second factor.
    pub remember_device: Duration,
    pub password: PasswordPolicy,
    /// Versions of the texts a person consents to.
    pub terms_version: String,
    pub pd_version: String,
    /// How long an activation code (an account registered by an operator) is valid, and
    /// an operator's in-person check waits for the registries' verdict.
    pub activation_ttl: Duration,
    /// Wrong entries of one activation code before it stops working.
    pub activation_attempts: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            code_ttl: Duration::minutes(5),
            code_attempts: 3,
            resend_after: Duration::seconds(60),
            contact_failures: 5,
            contact_window: Duration::hours(1),
            contact_block: Duration::minutes(30),
            codes_per_window: 10,
            registration_ttl: Duration::hours(1),
            login_attempts: 5,
            login_lock: Duration::minutes(15),
            ip_failures: 50,
            ip_window: Duration::minutes(15),
            ip_block: Duration::minutes(15),
            session_idle: Duration::minutes(30),
            session_lifetime: Duration::hours(12),
            max_sessions: 10,
            captcha_after: 3,
            second_factor_ttl: Duration::minutes(5),
            second_factor_attempts: 5,
            remember_device: Duration::days(30),
            password: PasswordPolicy::default(),
            terms_version: "2026-11-01".into(),
            pd_version: "2026-11-01".into(),
            activation_ttl: Duration::days(30),
            activation_attempts: 5,
        }
    }
}

/// A contact: a normalized phone or e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    Phone(Phone),
    Email(Email),
}

impl Contact {
    /// Reads what a person typed: a phone in any common form, or an e-mail.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        if input.contains('@') {
            Email::parse(input).map(Self::Email)
        } else {
            Phone::parse(input).map(Self::Phone)
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Phone(_) => "phone",
            Self::Email(_) => "email",
        }
    }

    pub fn channel(&self) -> Channel {
        match self {
            Self::Phone(_) => Channel::Sms,
            Self::Email(_) => Channel::Email,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Phone(p) => p.as_str(),
            Self::Email(e) => e.as_str(),
        }
    }

    /// The contact as shown back on screens: `+7 916 ***-**-67`, `iv***@mail.ru`.
    pub fn masked(&self) -> String {
        mask(self.kind(), self.value())
    }
}

/// Masks a stored contact for display.
pub fn mask(kind: &str, value: &str) -> String {
    if kind == "phone" && value.len() == 12 {
        format!("+7 {} ***-**-{}", &value[2..5], &value[10..12])
    } else if let Some((local, domain)) = value.split_once('@') {
        let shown: String = local.chars().take(2).collect();
        format!("{shown}***@{domain}")
    } else {
        "***".into()
    }
}

/// What the registration form sends.
#[derive(Debug, Clone, Default)]
pub struct RegistrationForm {
    pub surname: String,
    pub given_name: String,
    pub patronymic: String,
    /// A phone or an e-mail.
    pub contact: String,
    pub accept_terms: bool,
    pub accept_pd: bool,
}

/// A registration in progress, as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationState {
    pub masked_contact: String,
    pub contact_kind: &'static str,
    pub confirmed: bool,
    pub completed: bool,
    /// When «Отправить снова» becomes available.
    pub resend_at: DateTime<Utc>,
    pub code_expires_at: DateTime<Utc>,
}

/// A session that was just opened: the token goes into the cookie, nowhere else.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub account_id: String,
    pub expires_at: DateTime<Utc>,
    /// Opened with a temporary password: the person must set a new one first.
    pub must_change: bool,
}

/// How a session is opened.
#[derive(Debug, Default)]
struct Opening<'a> {
    must_change: bool,
    /// The «это не я» token of a new-device notice.
    disown: Option<&'a str>,
}

/// A live session, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The keyed hash of the token (the row id), safe to log and compare.
    pub id: String,
    pub account_id: String,
    /// Opened with a temporary password: only the password change is allowed.
    pub must_change: bool,
}

/// The cabinet's view of an account (decrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountView {
    pub id: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub level: String,
    pub contacts: Vec<ContactView>,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactView {
    pub kind: String,
    pub value: String,
    pub masked: String,
    pub confirmed: bool,
}

/// A session in the cabinet's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub device: String,
    pub live: bool,
}

/// A new password and what its change ends and records.
struct NewPassword<'a> {
    password: &'a str,
    repeat: &'a str,
    /// The session that stays signed in (a change from the cabinet); `None` ends all.
    keep_session: Option<&'a str>,
    /// The journal action, also the sessions' end reason.
    action: &'a str,
}

/// What a code is entered as.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The six digits typed by the person.
    Code(&'a str),
    /// The token of a one-click e-mail link.
    Link(&'a str),
}

const REGISTRATION: &str = "registration";
const RECOVERY: &str = "recovery";
const CONTACT: &str = "contact";

/// A recovery or contact change in progress, as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    pub masked_contact: String,
    pub contact_kind: String,
    pub confirmed: bool,
    pub completed: bool,
    pub resend_at: DateTime<Utc>,
}

/// The identity service.
#[derive(Debug, Clone)]
pub struct Identity {
    db: Db,
    vault: Arc<Vault>,
    outbox: Outbox,
    hasher: Hasher,
    policy: Arc<Policy>,
    /// Where links in messages point (`https://uslugi.example`).
    base_url: String,
    /// Signalled when a documents check is queued, so the worker starts at once.
    documents_queued: Arc<tokio::sync::Notify>,
}

async fn commit(tx: store::Tx) -> Result<(), IdentityError> {
    tx.commit().await.map_err(|e| IdentityError::Store(store::StoreError::from(e)))
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    B64URL.encode(bytes)
}

fn random_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// Compares two hex digests without an early exit.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A short description of a browser for the session list: «Chrome, Linux».
pub fn device_of(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or_default();
    let browser = ["Edg/", "YaBrowser", "OPR/", "Firefox/", "Chrome/", "Safari/"]
        .iter()
        .find(|b| ua.contains(**b))
        .map_or("Браузер", |b| match *b {
            "Edg/" => "Edge",
            "YaBrowser" => "Яндекс Браузер",
            "OPR/" => "Opera",
            "Firefox/" => "Firefox",
            "Chrome/" => "Chrome",
            _ => "Safari",
        });
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("неизвестная система", |(_, name)| name);
    format!("{browser}, {os}")
}

impl Identity {
    pub fn new(
        db: Db,
        vault: Arc<Vault>,
        outbox: Outbox,
        hasher: Hasher,
        policy: Policy,
        base_url: String,
    ) -> Self {
        Self {
            db,
            vault,
            outbox,
            hasher,
            policy: Arc::new(policy),
            base_url,
            documents_queued: Arc::default(),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn contact_key(index: &str) -> String {
        format!("contact:{index}")
    }

    #[allow(clippy::too_many_arguments)] // private; one call per flow step
    async fn journal(
        &self,
        conn: &mut store::Conn,
        action: &str,
        outcome: Outcome,
        subject: Option<&str>,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let actor = if subject.is_some() { ActorKind::Citizen } else { ActorKind::Anonymous };
        let event = Event {
            at: now,
            actor,
            actor_id: subject,
            subject_id: subject,
            action,
            outcome,
            origin,
            details,
        };
        journal::record(conn, &event).await?;
        Ok(())
    }

    /// Writes a journal entry in its own transaction (for refusals, which change
    /// nothing else).
    async fn journal_alone(
        &self,
        action: &str,
        outcome: Outcome,
        subject: Option<&str>,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        self.journal(&mut tx, action, outcome, subject, origin, details, now).await?;
        commit(tx).await?;
        Ok(())
    }

    // --- registration --------------------------------------------------------------------

    /// Step 1: checks the form, refuses a contact already bound to an account, and sends
    /// a code. Returns the registration token the browser keeps.
    pub async fn start_registration(
        &self,
        form: &RegistrationForm,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let mut fields = Vec::new();
        let surname = NamePart::parse(&form.surname).map_err(|e| fields.push(("surname", e))).ok();
        let given =
            NamePart::parse(&form.given_name).map_err(|e| fields.push(("given_name", e))).ok();
        let patronymic = if form.patronymic.trim().is_empty() {
            None
        } else {
            NamePart::parse(&form.patronymic).map_err(|e| fields.push(("patronymic", e))).ok()
        };
        let contact = Contact::parse(&form.contact).map_err(|e| fields.push(("contact", e))).ok();
        if !form.accept_terms {
            fields.push((
                "accept_terms",
                FieldError::Requires {
                    field: "согласие с условиями использования"
                },
            ));
        }
        if !form.accept_pd {
            fields.push((
                "accept_pd",
                FieldError::Requires {
                    field: "согласие на обработку персональных данных"
                },
            ));
        }
        let (Some(surname), Some(given), Some(contact), true) =
            (surname, given, contact, fields.is_empty())
        else {
            return Err(IdentityError::Fields(fields));
        };
        let index = self.vault.blind_index(contact.kind(), contact.value());
        if rows::contact_by_index(&self.db, contact.kind(), &index).await?.is_some() {
            self.journal_alone(
                "registration.refused",
                Outcome::Denied,
                None,
                origin,
                serde_json::json!({"reason": "contact_taken", "kind": contact.kind()}),
                now,
            )
            .await?;
            return Err(IdentityError::ContactTaken { kind: contact.kind() });
        }
        if let Some(until) =
            rows::throttle_blocked(&self.db, &Self::contact_key(&index), to_micros(now)).await?
        {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        self.count_send(&index, now).await?;
        let token = random_token();
        let id = self.vault.secret_hash(REGISTRATION, &token);
        let now_us = to_micros(now);
        let row = RegistrationRow {
            id: id.clone(),
            surname: self.vault.encrypt(surname.as_str(), "account.surname"),
            given_name: self.vault.encrypt(given.as_str(), "account.given_name"),
            patronymic: patronymic.map(|p| self.vault.encrypt(p.as_str(), "account.patronymic")),
            contact_kind: contact.kind().to_owned(),
            contact_value: self.vault.encrypt(contact.value(), "contact.value"),
            contact_index: index.clone(),
            terms_version: self.policy.terms_version.clone(),
            terms_accepted_at: now_us,
            pd_version: self.policy.pd_version.clone(),
            pd_accepted_at: now_us,
            confirmed_at: None,
            completed_at: None,
            account_id: None,
            created_at: now_us,
            expires_at: to_micros(now + self.policy.registration_ttl),
        };
        let mut tx = self.db.begin().await?;
        rows::insert_registration(&mut tx, &row).await?;
        self.send_code(&mut tx, REGISTRATION, &id, &contact, &index, Some(&token), now).await?;
        self.journal(&mut tx, "registration.started", Outcome::Ok, None, origin, serde_json::json!({"kind": contact.kind(), "terms": self.policy.terms_version, "pd": self.policy.pd_version}), now).await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(token)
    }

    /// Creates a code for a flow and queues its message, on `conn`.
    #[allow(clippy::too_many_arguments)]
    async fn send_code(
        &self,
        conn: &mut store::Conn,
        purpose: &str,
        flow_id: &str,
        contact: &Contact,
        index: &str,
        link_for: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let code = random_code();
        let link = match (contact, link_for) {
            (Contact::Email(_), Some(token)) => Some(random_token()).map(|l| (l, token)),
            _ => None,
        };
        rows::insert_code(
            conn,
            &CodeRow {
                id: uuid::Uuid::now_v7().to_string(),
                purpose: purpose.to_owned(),
                flow_id: flow_id.to_owned(),
                contact_index: index.to_owned(),
                code_hash: self.vault.secret_hash(purpose, &code),
                link_hash: link.as_ref().map(|(l, _)| self.vault.secret_hash(purpose, l)),
                attempts: 0,
                created_at: to_micros(now),
                expires_at: to_micros(now + self.policy.code_ttl),
                used_at: None,
            },
        )
        .await?;
        let minutes = u32::try_from(self.policy.code_ttl.num_minutes()).unwrap_or(5);
        let template = match purpose {
            REGISTRATION => Template::RegistrationCode {
                code,
                minutes,
                link: link.map(|(l, token)| format!("{}/register/{token}/link/{l}", self.base_url)),
            },
            "recovery" => Template::RecoveryCode { code, minutes },
            _ => Template::ContactCode { code, minutes },
        };
        self.outbox.enqueue(conn, contact.channel(), contact.value(), &template, now).await?;
        Ok(())
    }

    async fn registration_row(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RegistrationRow, IdentityError> {
        let id = self.vault.secret_hash(REGISTRATION, token);
        match rows::get_registration(&self.db, &id).await? {
            Some(r) if r.expires_at > to_micros(now) || r.completed_at.is_some() => Ok(r),
            _ => Err(IdentityError::RegistrationGone),
        }
    }

    fn registration_contact(&self, r: &RegistrationRow) -> Result<Contact, IdentityError> {
        let value = self.vault.decrypt(&r.contact_value, "contact.value")?;
        Contact::parse(&value)
            .map_err(|_| IdentityError::Internal("stored contact does not parse".into()))
    }

    /// Where a registration stands.
    pub async fn registration(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<RegistrationState, IdentityError> {
        let r = self.registration_row(token, now).await?;
        let contact = self.registration_contact(&r)?;
        let code = rows::latest_code(&self.db, REGISTRATION, &r.id).await?;
        let sent = code.as_ref().map_or(now, |c| from_micros(c.created_at));
        Ok(RegistrationState {
            masked_contact: contact.masked(),
            contact_kind: contact.kind(),
            confirmed: r.confirmed_at.is_some(),
            completed: r.completed_at.is_some(),
            resend_at: sent + self.policy.resend_after,
            code_expires_at: code.map_or(now, |c| from_micros(c.expires_at)),
        })
    }

    /// «Отправить снова»: a new code once the cooldown has passed.
    pub async fn resend_registration_code(
        &self,
        token: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let r = self.registration_row(token, now).await?;
        if r.confirmed_at.is_some() {
            return Ok(());
        }
        let contact = self.registration_contact(&r)?;
        if let Some(until) =
            rows::throttle_blocked(&self.db, &Self::contact_key(&r.contact_index), to_micros(now))
                .await?
        {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        if let Some(last) = rows::latest_code(&self.db, REGISTRATION, &r.id).await? {
            let ready = from_micros(last.created_at) + self.policy.resend_after;
            if now < ready {
                return Err(IdentityError::ResendTooSoon {
                    seconds: (ready - now).num_seconds().max(1),
                });
            }
        }
        self.count_send(&r.contact_index, now).await?;
        let mut tx = self.db.begin().await?;
        self.send_code(&mut tx, REGISTRATION, &r.id, &contact, &r.contact_index, Some(token), now)
            .await?;
        self.journal(
            &mut tx,
            "code.resent",
            Outcome::Ok,
            None,
            origin,
            serde_json::json!({"purpose": REGISTRATION}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Step 2: the code (or the e-mail link) confirms the contact.
    pub async fn confirm_registration(
        &self,
        token: &str,
        proof: Proof<'_>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let r = self.registration_row(token, now).await?;
        if r.confirmed_at.is_some() {
            return Ok(());
        }
        let mut tx = self
            .check_code(REGISTRATION, &r.id, &r.contact_index, proof, None, origin, now)
            .await?;
        rows::confirm_registration(&mut tx, &r.id, to_micros(now)).await?;
        self.journal(
            &mut tx,
            "contact.confirmed",
            Outcome::Ok,
            None,
            origin,
            serde_json::json!({"purpose": REGISTRATION, "kind": r.contact_kind}),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(())
    }

    /// Checks a code for a flow. On success the code is used up inside the returned
    /// transaction (commit it with the flow's own change). A wrong code counts against
    /// the code and against the contact; too many block the contact.
    #[allow(clippy::too_many_arguments)]
    async fn check_code(
        &self,
        purpose: &str,
        flow_id: &str,
        contact_index: &str,
        proof: Proof<'_>,
        subject: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<store::Tx, IdentityError> {
        let now_us = to_micros(now);
        let key = Self::contact_key(contact_index);
        if let Some(until) = rows::throttle_blocked(&self.db, &key, now_us).await? {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        let Some(code) = rows::latest_code(&self.db, purpose, flow_id).await? else {
            return Err(IdentityError::CodeExpired);
        };
        if code.used_at.is_some() || code.expires_at <= now_us {
            return Err(IdentityError::CodeExpired);
        }
        if code.attempts >= self.policy.code_attempts {
            return Err(IdentityError::CodeExhausted);
        }
        // Reserve this attempt against the contact before comparing, atomically, so that
        // parallel guesses (over any number of flows for the contact) get no more than
        // the allowed number of comparisons; a right code gives its reservation back.
        let limit = self.policy.contact_failures;
        let (reserved, blocked) = rows::throttle_failure(
            &self.db,
            &key,
            now_us,
            self.policy.contact_window.num_microseconds().unwrap_or(i64::MAX),
            limit,
            self.policy.contact_block.num_microseconds().unwrap_or(i64::MAX),
        )
        .await?;
        if reserved > limit {
            let until = blocked.map_or(now + self.policy.contact_block, from_micros);
            return Err(IdentityError::ContactBlocked { until });
        }
        let matches = match proof {
            Proof::Code(entered) => {
                let entered: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
                same(&self.vault.secret_hash(purpose, &entered), &code.code_hash)
            }
            Proof::Link(link) => code
                .link_hash
                .as_deref()
                .is_some_and(|h| same(&self.vault.secret_hash(purpose, link), h)),
        };
        if matches {
            rows::throttle_refund(&self.db, &key, limit).await?;
            let mut tx = self.db.begin().await?;
            if rows::use_code(&mut tx, &code.id, now_us, self.policy.code_attempts).await? {
                return Ok(tx);
            }
            return Err(IdentityError::CodeExpired);
        }
        let attempts =
            rows::count_wrong_code(&self.db, &code.id, now_us, self.policy.code_attempts).await?;
        self.journal_alone(
            "code.failed",
            Outcome::Denied,
            subject,
            origin,
            serde_json::json!({"purpose": purpose}),
            now,
        )
        .await?;
        if let Some(until) = blocked.filter(|u| *u > now_us) {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        match attempts {
            Some(n) if n < self.policy.code_attempts => {
                Err(IdentityError::CodeWrong { left: self.policy.code_attempts - n })
            }
            _ => Err(IdentityError::CodeExhausted),
        }
    }

    /// Step 3: the password. Creates the account with its confirmed contact and opens a
    /// session.
    pub async fn complete_registration(
        &self,
        token: &str,
        password: &str,
        repeat: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewSession, IdentityError> {
        let r = self.registration_row(token, now).await?;
        if r.confirmed_at.is_none() {
            return Err(IdentityError::NotConfirmed);
        }
        if r.completed_at.is_some() {
            return Err(IdentityError::RegistrationGone);
        }
        let contact = self.registration_contact(&r)?;
        let surname = self.vault.decrypt(&r.surname, "account.surname")?;
        let given = self.vault.decrypt(&r.given_name, "account.given_name")?;
        self.check_new_password(password, repeat, &[&surname, &given, contact.value()])?;
        let hash =
            self.hasher.hash(password).await.map_err(|e| IdentityError::Internal(e.to_string()))?;
        let account_id = uuid::Uuid::now_v7().to_string();
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        if !rows::complete_registration(&mut tx, &r.id, &account_id, now_us).await? {
            return Err(IdentityError::RegistrationGone);
        }
        rows::insert_account(
            &mut tx,
            &AccountRow {
                id: account_id.clone(),
                surname: r.surname.clone(),
                given_name: r.given_name.clone(),
                patronymic: r.patronymic.clone(),
                level: "simplified".into(),
                status: "active".into(),
                password_hash: hash,
                password_changed_at: now_us,
                failed_logins: 0,
                locked_until: None,
                terms_version: r.terms_version.clone(),
                terms_accepted_at: r.terms_accepted_at,
                pd_version: r.pd_version.clone(),
                pd_accepted_at: r.pd_accepted_at,
                created_at: now_us,
                must_change_password: false,
                block_reason: None,
                blocked_at: None,
                close_after: None,
            },
        )
        .await?;
        let bound = rows::insert_contact(
            &mut tx,
            &ContactRow {
                id: uuid::Uuid::now_v7().to_string(),
                account_id: account_id.clone(),
                kind: r.contact_kind.clone(),
                value: r.contact_value.clone(),
                value_index: r.contact_index.clone(),
                confirmed_at: r.confirmed_at,
                created_at: now_us,
            },
        )
        .await?;
        if !bound {
            // Someone finished registering the same contact first.
            return Err(IdentityError::ContactTaken { kind: contact.kind() });
        }
        self.outbox
            .enqueue(&mut tx, contact.channel(), contact.value(), &Template::Welcome, now)
            .await?;
        self.journal(&mut tx, "account.registered", Outcome::Ok, Some(&account_id), origin, serde_json::json!({"level": "simplified", "terms": r.terms_version, "pd": r.pd_version}), now).await?;
        let session = self.open_session(&mut tx, &account_id, origin, now).await?;
        self.journal(
            &mut tx,
            "signin.ok",
            Outcome::Ok,
            Some(&account_id),
            origin,
            serde_json::json!({"via": "registration"}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(session)
    }

    /// The password rules, plus the repeat matching.
    pub fn check_new_password(
        &self,
        password: &str,
        repeat: &str,
        personal: &[&str],
    ) -> Result<(), IdentityError> {
        let unmet = self.policy.password.check(password, personal);
        if !unmet.is_empty() {
            return Err(IdentityError::WeakPassword(unmet));
        }
        if password != repeat {
            return Err(IdentityError::PasswordMismatch);
        }
        Ok(())
    }

    // --- demo data ----------------------------------------------------------------------

    /// For a first local run: a demo citizen with a confirmed phone and a fresh random
    /// password, created only while there are no accounts at all. Returns (login,
    /// password) to print once; the password is stored only as its hash.
    pub async fn seed_demo_citizen(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<(String, String)>, IdentityError> {
        if rows::count_accounts(&self.db).await? > 0 {
            return Ok(None);
        }
        let phone = "+79000000001";
        let password = format!("Demo-{}!", &random_token()[..12]);
        let hash = self
            .hasher
            .hash_demo(&password)
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let id = uuid::Uuid::now_v7().to_string();
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        rows::insert_account(
            &mut tx,
            &AccountRow {
                id: id.clone(),
                surname: self.vault.encrypt("Демидова", "account.surname"),
                given_name: self.vault.encrypt("Мария", "account.given_name"),
                patronymic: Some(self.vault.encrypt("Ивановна", "account.patronymic")),
                level: "simplified".into(),
                status: "active".into(),
                password_hash: hash,
                password_changed_at: now_us,
                failed_logins: 0,
                locked_until: None,
                terms_version: self.policy.terms_version.clone(),
                terms_accepted_at: now_us,
                pd_version: self.policy.pd_version.clone(),
                pd_accepted_at: now_us,
                created_at: now_us,
                must_change_password: false,
                block_reason: None,
                blocked_at: None,
                close_after: None,
            },
        )
        .await?;
        rows::insert_contact(
            &mut tx,
            &ContactRow {
                id: uuid::Uuid::now_v7().to_string(),
                account_id: id.clone(),
                kind: "phone".into(),
                value: self.vault.encrypt(phone, "contact.value"),
                value_index: self.vault.blind_index("phone", phone),
                confirmed_at: Some(now_us),
                created_at: now_us,
            },
        )
        .await?;
        self.journal(
            &mut tx,
            "account.registered",
            Outcome::Ok,
            Some(&id),
            &Origin::default(),
            serde_json::json!({"level": "simplified", "demo": true}),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(Some((phone.to_owned(), password)))
    }

    // --- sending limits ------------------------------------------------------------------

    /// Counts a code about to be sent to a contact; refuses when too many went out in
    /// the window (so nobody can flood a stranger's phone through these forms). Call it
    /// before opening the transaction that sends.
    async fn count_send(&self, index: &str, now: DateTime<Utc>) -> Result<(), IdentityError> {
        let window = self.policy.contact_window.num_microseconds().unwrap_or(i64::MAX);
        // Counted before sending, atomically: parallel requests cannot all slip under.
        let (sent, until) = rows::throttle_failure(
            &self.db,
            &format!("send:{index}"),
            to_micros(now),
            window,
            self.policy.codes_per_window + 1,
            window,
        )
        .await?;
        if sent > self.policy.codes_per_window {
            let until = until.map_or(now + self.policy.contact_window, from_micros);
            return Err(IdentityError::TooManyCodes { until });
        }
        Ok(())
    }

    // --- recovery and contact change -----------------------------------------------------

    async fn flow_row(
        &self,
        purpose: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<rows::ContactFlowRow, IdentityError> {
        let id = self.vault.secret_hash(purpose, token);
        match rows::get_flow(&self.db, &id).await? {
            Some(f)
                if f.purpose == purpose
                    && (f.expires_at > to_micros(now) || f.completed_at.is_some()) =>
            {
                Ok(f)
            }
            _ => Err(IdentityError::FlowGone),
        }
    }

    fn flow_contact(&self, f: &rows::ContactFlowRow) -> Result<Contact, IdentityError> {
        let value = self.vault.decrypt(&f.contact_value, "contact.value")?;
        Contact::parse(&value)
            .map_err(|_| IdentityError::Internal("stored contact does not parse".into()))
    }

    /// Where a recovery or contact change stands.
    pub async fn flow(
        &self,
        purpose_is_recovery: bool,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<FlowState, IdentityError> {
        let purpose = if purpose_is_recovery { RECOVERY } else { CONTACT };
        let f = self.flow_row(purpose, token, now).await?;
        let contact = self.flow_contact(&f)?;
        let sent = rows::latest_code(&self.db, purpose, &f.id)
            .await?
            .map_or(now, |c| from_micros(c.created_at));
        Ok(FlowState {
            masked_contact: contact.masked(),
            contact_kind: contact.kind().to_owned(),
            confirmed: f.confirmed_at.is_some(),
            completed: f.completed_at.is_some(),
            resend_at: sent + self.policy.resend_after,
        })
    }

    /// Opens a flow for `contact` and sends its code (or, for an unknown contact in a
    /// recovery, stores one that is never sent). Returns the flow token.
    async fn open_flow(
        &self,
        purpose: &str,
        account_id: Option<&str>,
        contact: &Contact,
        send: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let index = self.vault.blind_index(contact.kind(), contact.value());
        if let Some(until) =
            rows::throttle_blocked(&self.db, &Self::contact_key(&index), to_micros(now)).await?
        {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        self.count_send(&index, now).await?;
        let token = random_token();
        let id = self.vault.secret_hash(purpose, &token);
        let mut tx = self.db.begin().await?;
        rows::insert_flow(
            &mut tx,
            &rows::ContactFlowRow {
                id: id.clone(),
                purpose: purpose.to_owned(),
                account_id: account_id.map(str::to_owned),
                contact_kind: contact.kind().to_owned(),
                contact_value: self.vault.encrypt(contact.value(), "contact.value"),
                contact_index: index.clone(),
                confirmed_at: None,
                completed_at: None,
                created_at: to_micros(now),
                expires_at: to_micros(now + self.policy.registration_ttl),
            },
        )
        .await?;
        self.flow_code(&mut tx, purpose, &id, contact, &index, send, now).await?;
        self.journal(
            &mut tx,
            &format!("{purpose}.started"),
            Outcome::Ok,
            account_id,
            origin,
            serde_json::json!({"kind": contact.kind()}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(token)
    }

    /// A new code for a flow: sent when the contact belongs to an account, otherwise
    /// stored and never sent — so an unknown contact's flow behaves like a real one
    /// (resend timing, expiry, wrong-code answers) and tells nobody what exists.
    #[allow(clippy::too_many_arguments)]
    async fn flow_code(
        &self,
        conn: &mut store::Conn,
        purpose: &str,
        flow_id: &str,
        contact: &Contact,
        index: &str,
        send: bool,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        if send {
            return self.send_code(conn, purpose, flow_id, contact, index, None, now).await;
        }
        rows::insert_code(
            conn,
            &CodeRow {
                id: uuid::Uuid::now_v7().to_string(),
                purpose: purpose.to_owned(),
                flow_id: flow_id.to_owned(),
                contact_index: index.to_owned(),
                code_hash: self.vault.secret_hash(purpose, &random_token()),
                link_hash: None,
                attempts: 0,
                created_at: to_micros(now),
                expires_at: to_micros(now + self.policy.code_ttl),
                used_at: None,
            },
        )
        .await?;
        Ok(())
    }

    /// «Забыли пароль?»: a code to the phone or e-mail typed, if it is a confirmed
    /// contact of an account. The answer is the same either way.
    pub async fn start_recovery(
        &self,
        login: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let contact =
            Contact::parse(login).map_err(|e| IdentityError::Fields(vec![("login", e)]))?;
        let index = self.vault.blind_index(contact.kind(), contact.value());
        let account = rows::contact_by_index(&self.db, contact.kind(), &index)
            .await?
            .filter(|c| c.confirmed_at.is_some())
            .map(|c| c.account_id);
        self.open_flow(RECOVERY, account.as_deref(), &contact, account.is_some(), origin, now).await
    }

    /// The code of a recovery or contact change.
    pub async fn confirm_flow(
        &self,
        recovery: bool,
        token: &str,
        code: &str,
        session: Option<&SessionInfo>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let purpose = if recovery { RECOVERY } else { CONTACT };
        let f = self.flow_row(purpose, token, now).await?;
        if !recovery && session.map(|s| s.account_id.as_str()) != f.account_id.as_deref() {
            return Err(IdentityError::RegistrationGone);
        }
        if f.confirmed_at.is_some() {
            // Confirmed before: a contact change whose binding was refused (the contact
            // was taken meanwhile) must say so again, not report success.
            return if recovery || f.completed_at.is_some() {
                Ok(())
            } else {
                self.apply_contact_change(&f, origin, now).await
            };
        }
        let mut tx = self
            .check_code(
                purpose,
                &f.id,
                &f.contact_index,
                Proof::Code(code),
                f.account_id.as_deref(),
                origin,
                now,
            )
            .await?;
        rows::confirm_flow(&mut tx, &f.id, to_micros(now)).await?;
        commit(tx).await?;
        if !recovery {
            return self.apply_contact_change(&f, origin, now).await;
        }
        Ok(())
    }

    /// «Отправить снова» for a recovery or contact change.
    pub async fn resend_flow_code(
        &self,
        recovery: bool,
        token: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let purpose = if recovery { RECOVERY } else { CONTACT };
        let f = self.flow_row(purpose, token, now).await?;
        let contact = self.flow_contact(&f)?;
        if let Some(last) = rows::latest_code(&self.db, purpose, &f.id).await? {
            let ready = from_micros(last.created_at) + self.policy.resend_after;
            if now < ready {
                return Err(IdentityError::ResendTooSoon {
                    seconds: (ready - now).num_seconds().max(1),
                });
            }
        }
        self.count_send(&f.contact_index, now).await?;
        let mut tx = self.db.begin().await?;
        let send = f.account_id.is_some();
        self.flow_code(&mut tx, purpose, &f.id, &contact, &f.contact_index, send, now).await?;
        self.journal(
            &mut tx,
            "code.resent",
            Outcome::Ok,
            f.account_id.as_deref(),
            origin,
            serde_json::json!({"purpose": purpose}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// The new password of a recovery: every session ends, every contact is told.
    pub async fn complete_recovery(
        &self,
        token: &str,
        password: &str,
        repeat: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let f = self.flow_row(RECOVERY, token, now).await?;
        let (Some(account_id), Some(_), None) =
            (f.account_id.as_deref(), f.confirmed_at, f.completed_at)
        else {
            return Err(IdentityError::NotConfirmed);
        };
        let change =
            NewPassword { password, repeat, keep_session: None, action: "password.recovered" };
        self.replace_password(account_id, &change, Some(&f.id), origin, now).await
    }

    /// Checks and stores a new password inside one transaction: the flow (if any) is
    /// completed, sessions other than `keep_session` end, every contact is told.
    async fn replace_password(
        &self,
        account_id: &str,
        change: &NewPassword<'_>,
        flow: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let account = self.account(account_id).await?;
        self.check_new_password(
            change.password,
            change.repeat,
            &[&account.surname, &account.given_name],
        )?;
        let hash = self
            .hasher
            .hash(change.password)
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let contacts = self.confirmed_contacts(account_id).await?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        if let Some(flow) = flow
            && !rows::complete_flow(&mut tx, flow, now_us).await?
        {
            return Err(IdentityError::RegistrationGone);
        }
        rows::set_password(&mut tx, account_id, &hash, now_us).await?;
        security_rows::clear_must_change(&mut tx, account_id).await?;
        security_rows::revoke_devices(&mut tx, account_id, now_us).await?;
        store::oidc::revoke_account_grants(&mut tx, account_id, None, now_us).await?;
        let account_row = rows::account_in(&mut tx, account_id).await?;
        let unblock = change.action == "password.recovered"
            && account_row.is_some_and(|a| a.status == "blocked");
        if unblock {
            security_rows::set_block(&mut tx, account_id, None, None, now_us).await?;
            self.journal(
                &mut tx,
                "account.unblocked",
                Outcome::Ok,
                Some(account_id),
                origin,
                serde_json::json!({}),
                now,
            )
            .await?;
        }
        let ended =
            rows::end_sessions_of(&mut tx, account_id, change.keep_session, now_us, change.action)
                .await?;
        self.notify(&mut tx, &contacts, &Template::PasswordChanged { at: now }, now).await?;
        self.journal(
            &mut tx,
            change.action,
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({"sessions_ended": ended}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Changes the password of a signed-in person: the current one is checked (under the
    /// same lockout as sign-in), other sessions end, every contact is told.
    pub async fn change_password(
        &self,
        session: &SessionInfo,
        current: &str,
        password: &str,
        repeat: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let account_id = session.account_id.as_str();
        self.reauthenticate(account_id, current, "password.change_failed", origin, now).await?;
        let change = NewPassword {
            password,
            repeat,
            keep_session: Some(&session.id),
            action: "password.changed",
        };
        self.replace_password(account_id, &change, None, origin, now).await
    }

    /// Checks the password of a signed-in person again before a sensitive change, under
    /// the same lockout as sign-in; a wrong one is journaled as `failed_action`.
    pub async fn reauthenticate(
        &self,
        account_id: &str,
        current: &str,
        failed_action: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let row = rows::get_account(&self.db, account_id)
            .await?
            .ok_or(IdentityError::RegistrationGone)?;
        let now_us = to_micros(now);
        let lock_until = to_micros(now + self.policy.login_lock);
        let reserved = rows::reserve_password_check(
            &self.db,
            account_id,
            now_us,
            self.policy.login_attempts,
            lock_until,
        )
        .await?;
        let Some(count) = reserved else {
            return Err(IdentityError::Locked {
                until: from_micros(row.locked_until.unwrap_or(lock_until)),
            });
        };
        if !self.hasher.verify(current, Some(&row.password_hash)).await {
            self.journal_alone(
                failed_action,
                Outcome::Denied,
                Some(account_id),
                origin,
                serde_json::json!({}),
                now,
            )
            .await?;
            if count >= self.policy.login_attempts {
                return Err(self.locked_now(account_id, lock_until, origin, now).await?);
            }
            return Err(IdentityError::WrongCurrentPassword);
        }
        rows::clear_password_failures(&mut *self.db.conn().await?, account_id, now_us).await?;
        Ok(())
    }

    /// Ends every other session of the signed-in person.
    pub async fn end_other_sessions(
        &self,
        session: &SessionInfo,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<u64, IdentityError> {
        let mut tx = self.db.begin().await?;
        let ended = rows::end_sessions_of(
            &mut tx,
            &session.account_id,
            Some(&session.id),
            to_micros(now),
            "ended_by_owner",
        )
        .await?;
        self.journal(
            &mut tx,
            "session.ended",
            Outcome::Ok,
            Some(&session.account_id),
            origin,
            serde_json::json!({"reason": "others_ended", "count": ended}),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(ended)
    }

    /// Adds a phone or e-mail, or replaces the one of that kind: a code goes to the new
    /// contact first.
    pub async fn start_contact_change(
        &self,
        session: &SessionInfo,
        contact: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let contact =
            Contact::parse(contact).map_err(|e| IdentityError::Fields(vec![("contact", e)]))?;
        let index = self.vault.blind_index(contact.kind(), contact.value());
        if rows::contact_by_index(&self.db, contact.kind(), &index).await?.is_some() {
            return Err(IdentityError::ContactTaken { kind: contact.kind() });
        }
        self.open_flow(CONTACT, Some(&session.account_id), &contact, true, origin, now).await
    }

    /// Binds a confirmed new contact; the contact it replaces is told.
    async fn apply_contact_change(
        &self,
        f: &rows::ContactFlowRow,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let Some(account_id) = f.account_id.as_deref() else {
            return Err(IdentityError::RegistrationGone);
        };
        let existing = rows::contacts_of(&self.db, account_id)
            .await?
            .into_iter()
            .find(|c| c.kind == f.contact_kind);
        let old = match &existing {
            Some(c) => Contact::parse(&self.vault.decrypt(&c.value, "contact.value")?).ok(),
            None => None,
        };
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        if !rows::complete_flow(&mut tx, &f.id, now_us).await? {
            return Ok(());
        }
        let bound = match &existing {
            Some(c) => {
                rows::replace_contact(&mut tx, &c.id, &f.contact_value, &f.contact_index, now_us)
                    .await?
            }
            None => {
                rows::insert_contact(
                    &mut tx,
                    &ContactRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        account_id: account_id.to_owned(),
                        kind: f.contact_kind.clone(),
                        value: f.contact_value.clone(),
                        value_index: f.contact_index.clone(),
                        confirmed_at: Some(now_us),
                        created_at: now_us,
                    },
                )
                .await?
            }
        };
        if !bound {
            return Err(IdentityError::ContactTaken {
                kind: if f.contact_kind == "phone" { "phone" } else { "email" },
            });
        }
        if let Some(old) = &old {
            self.notify(
                &mut tx,
                std::slice::from_ref(old),
                &Template::ContactReplaced { at: now },
                now,
            )
            .await?;
        }
        let action = if old.is_some() { "contact.changed" } else { "contact.added" };
        self.journal(
            &mut tx,
            action,
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({"kind": f.contact_kind}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    // --- sign-in and sessions ------------------------------------------------------------

    async fn open_session(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewSession, IdentityError> {
        self.open_session_with(conn, account_id, origin, &Opening::default(), now).await
    }

    /// Opens a session; past the limit of concurrent sessions the oldest ones end.
    async fn open_session_with(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
        origin: &Origin,
        opening: &Opening<'_>,
        now: DateTime<Utc>,
    ) -> Result<NewSession, IdentityError> {
        let token = random_token();
        let expires_at = now + self.policy.session_lifetime;
        rows::insert_session(
            conn,
            &SessionRow {
                id: self.vault.secret_hash("session", &token),
                account_id: account_id.to_owned(),
                created_at: to_micros(now),
                last_seen_at: to_micros(now),
                expires_at: to_micros(expires_at),
                ip: origin.ip.clone(),
                user_agent: origin.user_agent.clone(),
                ended_at: None,
                end_reason: None,
                must_change: opening.must_change,
                disown_hash: opening.disown.map(|t| self.vault.secret_hash("disown", t)),
            },
        )
        .await?;
        self.enforce_session_limit(conn, account_id, now).await?;
        Ok(NewSession {
            token,
            account_id: account_id.to_owned(),
            expires_at,
            must_change: opening.must_change,
        })
    }

    /// Signs in by phone or e-mail and password. Unknown logins cost the same hash work
    /// and get the same answer as wrong passwords. After three failures from the address
    /// or for the login, a captcha must be solved first. A right password on an account
    /// with a second factor (and not on a remembered device) answers with a challenge
    /// instead of a session; see [`Identity::complete_second_factor`].
    pub async fn sign_in(
        &self,
        attempt: &SignInAttempt<'_>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<SignIn, IdentityError> {
        let (login, password) = (attempt.login, attempt.password);
        let now_us = to_micros(now);
        let ip_key = origin.ip.as_deref().map(|ip| format!("ip:{ip}"));
        if let Some(key) = &ip_key
            && let Some(until) = rows::throttle_blocked(&self.db, key, now_us).await?
        {
            return Err(IdentityError::TooManyAttempts { until: from_micros(until) });
        }
        let account = match Contact::parse(login) {
            Ok(contact) => {
                let index = self.vault.blind_index(contact.kind(), contact.value());
                match rows::contact_by_index(&self.db, contact.kind(), &index).await? {
                    Some(c) => rows::get_account(&self.db, &c.account_id).await?,
                    None => None,
                }
            }
            Err(_) => None,
        };
        if self.captcha_needed(login, account.as_ref(), origin, now).await? {
            self.check_captcha(attempt.captcha, now).await?;
        }
        // A blocked or closing account is told so only after the right password.
        let Some(account) = account.filter(|a| a.status != "closed") else {
            return self.unknown_sign_in(login, password, ip_key.as_deref(), origin, now).await;
        };
        let lock_until = to_micros(now + self.policy.login_lock);
        let Some(count) = rows::reserve_password_check(
            &self.db,
            &account.id,
            now_us,
            self.policy.login_attempts,
            lock_until,
        )
        .await?
        else {
            let until = rows::get_account(&self.db, &account.id)
                .await?
                .and_then(|a| a.locked_until)
                .unwrap_or(lock_until);
            self.journal_alone(
                "signin.refused",
                Outcome::Denied,
                Some(&account.id),
                origin,
                serde_json::json!({"reason": "locked"}),
                now,
            )
            .await?;
            return Err(IdentityError::Locked { until: from_micros(until) });
        };
        if self.hasher.verify(password, Some(&account.password_hash)).await {
            rows::clear_password_failures(&mut *self.db.conn().await?, &account.id, now_us).await?;
            if account.status == "blocked" {
                return Err(self.blocked_sign_in(&account, origin, now).await?);
            }
            return self.after_password(&account, attempt.device_token, origin, now).await;
        }
        self.failed_sign_in(ip_key.as_deref(), Some(&account.id), origin, now).await?;
        if count >= self.policy.login_attempts {
            return Err(self.locked_now(&account.id, lock_until, origin, now).await?);
        }
        Err(IdentityError::BadCredentials)
    }

    /// Opens the session of a sign-in whose every factor was proven: journals it, and on a
    /// device not seen before tells the person, with a one-click «это не я» link.
    async fn finish_sign_in(
        &self,
        account: &AccountRow,
        factor: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewSession, IdentityError> {
        // Reads first: a transaction holds the only connection on SQLite.
        let known_device = rows::sessions_of(&self.db, &account.id, 50)
            .await?
            .iter()
            .any(|s| device_of(s.user_agent.as_deref()) == device_of(origin.user_agent.as_deref()));
        // Only a new device is announced, so only then are the contacts needed.
        let contacts =
            if known_device { Vec::new() } else { self.confirmed_contacts(&account.id).await? };
        let disown = (!known_device).then(random_token);
        let mut tx = self.db.begin().await?;
        let opening =
            Opening { must_change: account.must_change_password, disown: disown.as_deref() };
        let session = self.open_session_with(&mut tx, &account.id, origin, &opening, now).await?;
        self.journal(
            &mut tx,
            "signin.ok",
            Outcome::Ok,
            Some(&account.id),
            origin,
            serde_json::json!({"new_device": !known_device, "second_factor": factor}),
            now,
        )
        .await?;
        if let Some(token) = &disown {
            let link = format!("{}/not-me/{token}", self.base_url);
            let device = device_of(origin.user_agent.as_deref());
            self.notify(&mut tx, &contacts, &Template::NewDevice { at: now, device, link }, now)
                .await?;
        }
        commit(tx).await?;
        self.outbox.wake();
        Ok(session)
    }

    /// The wrong password that used up the allowed tries: journal the lock, tell the
    /// owner, and answer with the lock.
    async fn locked_now(
        &self,
        account_id: &str,
        lock_until: i64,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<IdentityError, IdentityError> {
        let until = from_micros(lock_until);
        let contacts = self.confirmed_contacts(account_id).await?;
        let mut tx = self.db.begin().await?;
        let minutes = self.policy.login_lock.num_minutes();
        let details = serde_json::json!({ "minutes": minutes });
        self.journal(
            &mut tx,
            "account.locked",
            Outcome::Denied,
            Some(account_id),
            origin,
            details,
            now,
        )
        .await?;
        self.notify(&mut tx, &contacts, &Template::AccountLocked { until }, now).await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(IdentityError::Locked { until })
    }

    /// A sign-in for a login no account has: the same hash work and the same answers as a
    /// known account — including the lock after the allowed number of tries, counted per
    /// login — so that trying passwords tells nobody whether the account exists.
    async fn unknown_sign_in(
        &self,
        login: &str,
        password: &str,
        ip_key: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<SignIn, IdentityError> {
        let now_us = to_micros(now);
        let key = Contact::parse(login)
            .ok()
            .map(|c| format!("login:{}", self.vault.blind_index(c.kind(), c.value())));
        if let Some(key) = &key
            && let Some(until) = rows::throttle_blocked(&self.db, key, now_us).await?
        {
            return Err(IdentityError::Locked { until: from_micros(until) });
        }
        self.hasher.verify(password, None).await;
        self.failed_sign_in(ip_key, None, origin, now).await?;
        if let Some(key) = &key {
            let block = self.policy.login_lock.num_microseconds().unwrap_or(i64::MAX);
            let window = Duration::days(1).num_microseconds().unwrap_or(i64::MAX);
            let (count, until) = rows::throttle_failure(
                &self.db,
                key,
                now_us,
                window,
                self.policy.login_attempts,
                block,
            )
            .await?;
            if count >= self.policy.login_attempts {
                let until = until.map_or(now + self.policy.login_lock, from_micros);
                return Err(IdentityError::Locked { until });
            }
        }
        Err(IdentityError::BadCredentials)
    }

    async fn failed_sign_in(
        &self,
        ip_key: Option<&str>,
        account: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        if let Some(key) = ip_key {
            rows::throttle_failure(
                &self.db,
                key,
                to_micros(now),
                self.policy.ip_window.num_microseconds().unwrap_or(i64::MAX),
                self.policy.ip_failures,
                self.policy.ip_block.num_microseconds().unwrap_or(i64::MAX),
            )
            .await?;
        }
        self.journal_alone(
            "signin.failed",
            Outcome::Denied,
            account,
            origin,
            serde_json::json!({}),
            now,
        )
        .await
    }

    /// The confirmed contacts of an account, decrypted.
    async fn confirmed_contacts(&self, account_id: &str) -> Result<Vec<Contact>, IdentityError> {
        self.confirmed_contacts_in(&mut *self.db.conn().await?, account_id).await
    }

    /// [`Self::confirmed_contacts`] on a given connection (inside a transaction).
    async fn confirmed_contacts_in(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
    ) -> Result<Vec<Contact>, IdentityError> {
        let mut contacts = Vec::new();
        for c in rows::contacts_in(conn, account_id).await? {
            if c.confirmed_at.is_some() {
                let value = self.vault.decrypt(&c.value, "contact.value")?;
                contacts.extend(Contact::parse(&value).ok());
            }
        }
        Ok(contacts)
    }

    /// Queues `template` to each of `contacts`, on `conn`.
    async fn notify(
        &self,
        conn: &mut store::Conn,
        contacts: &[Contact],
        template: &Template,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        for contact in contacts {
            self.outbox.enqueue(conn, contact.channel(), contact.value(), template, now).await?;
        }
        Ok(())
    }

    /// The live session behind a cookie token, sliding its idle timeout.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionInfo>, IdentityError> {
        let id = self.vault.secret_hash("session", token);
        let idle = self.policy.session_idle.num_microseconds().unwrap_or(i64::MAX);
        let precision = Duration::seconds(30).num_microseconds().unwrap_or(0);
        Ok(rows::touch_session(&self.db, &id, to_micros(now), idle, precision).await?.map(|s| {
            SessionInfo { id: s.id, account_id: s.account_id, must_change: s.must_change }
        }))
    }

    /// Ends a session (sign-out).
    pub async fn sign_out(
        &self,
        session: &SessionInfo,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        rows::end_session(&self.db, &session.id, to_micros(now), "signed_out").await?;
        // Signing out of the portal also ends what connected services were given.
        store::oidc::revoke_account_grants(
            &mut *self.db.conn().await?,
            &session.account_id,
            None,
            to_micros(now),
        )
        .await?;
        self.journal_alone(
            "session.ended",
            Outcome::Ok,
            Some(&session.account_id),
            origin,
            serde_json::json!({"reason": "signed_out"}),
            now,
        )
        .await
    }

    // --- the cabinet ---------------------------------------------------------------------

    /// Where copies of application notices go besides the cabinet: the person's choice
    /// (by e-mail, by SMS), or `None` when they never chose (e-mail when an address is
    /// confirmed, else SMS).
    pub async fn notification_channels(
        &self,
        account_id: &str,
    ) -> Result<Option<(bool, bool)>, IdentityError> {
        Ok(rows::notification_channels(&self.db, account_id).await?)
    }

    /// Records the person's choice of channels, journaled.
    pub async fn set_notification_channels(
        &self,
        account_id: &str,
        by_email: bool,
        by_sms: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        rows::set_notification_channels(&mut tx, account_id, by_email, by_sms, to_micros(now))
            .await?;
        let details = serde_json::json!({ "email": by_email, "sms": by_sms });
        self.journal(
            &mut tx,
            "notifications.channels",
            Outcome::Ok,
            Some(account_id),
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(())
    }

    pub async fn account(&self, account_id: &str) -> Result<AccountView, IdentityError> {
        let a = rows::get_account(&self.db, account_id)
            .await?
            .ok_or(IdentityError::RegistrationGone)?;
        let contacts = rows::contacts_of(&self.db, account_id)
            .await?
            .into_iter()
            .map(|c| {
                let value = self.vault.decrypt(&c.value, "contact.value")?;
                Ok(ContactView {
                    masked: mask(&c.kind, &value),
                    kind: c.kind,
                    value,
                    confirmed: c.confirmed_at.is_some(),
                })
            })
            .collect::<Result<_, IdentityError>>()?;
        Ok(AccountView {
            surname: self.vault.decrypt(&a.surname, "account.surname")?,
            given_name: self.vault.decrypt(&a.given_name, "account.given_name")?,
            patronymic: a
                .patronymic
                .as_deref()
                .map(|p| self.vault.decrypt(p, "account.patronymic"))
                .transpose()?,
            level: a.level,
            contacts,
            created_at: from_micros(a.created_at),
            password_changed_at: from_micros(a.password_changed_at),
            id: a.id,
        })
    }

    pub async fn sessions(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionView>, IdentityError> {
        let now_us = to_micros(now);
        let idle = self.policy.session_idle.num_microseconds().unwrap_or(i64::MAX);
        Ok(rows::sessions_of(&self.db, account_id, 20)
            .await?
            .into_iter()
            .map(|s| SessionView {
                live: s.ended_at.is_none()
                    && s.expires_at > now_us
                    && s.last_seen_at > now_us - idle,
                created_at: from_micros(s.created_at),
                last_seen_at: from_micros(s.last_seen_at),
                device: device_of(s.user_agent.as_deref()),
                ip: s.ip,
                id: s.id,
            })
            .collect())
    }
}
