//! Staff of the platform and the service-centre route to a confirmed account.
//!
//! Staff accounts are separate from citizens: their own table, sessions and cookie, a
//! login instead of a phone, a role (`operator` of a service centre, `officer` of an
//! agency, `head` of a department, `admin`), a one-time password that must be changed at
//! the first sign-in, the same lockout as citizens. Administrators manage them from the
//! command line (`uslugi staff …`).
//!
//! An operator finds a person by SNILS, passport or contact (each search and view is
//! journaled with the operator as actor and the person as subject, so the person sees who
//! looked at their data — ФЗ-152), checks the passport in person and confirms a standard
//! account. For a person without a standard account the operator enters the documents, or
//! registers a new account on the spot and hands over an activation code. In both cases
//! the in-person check is recorded as an *intent* bound to the passport: when the
//! registries verify the documents with that same passport (within the activation period)
//! the account becomes confirmed without a second visit. A different passport, or none
//! verified in time, needs the person to come again.

use chrono::{DateTime, NaiveDate, Utc};
use domain::FieldError;
use domain::ident::{NamePart, Passport, Snils};
use journal::{ActorKind, Event, Origin, Outcome};
use notify::Template;
use serde::Serialize;
use store::identity::{self as accounts, AccountRow, ContactRow};
use store::staff::{self as rows, ActivationRow, IntentRow, StaffRow, StaffSessionRow};
use store::{from_micros, to_micros};

use crate::confirm::{ConfirmRoute, Confirmer};
use crate::documents::{CheckStatus, DocumentsForm};
use crate::{Contact, FlowState, Identity, IdentityError, NewSession, Proof, commit, random_token};

/// The flow purpose of an activation's contact code.
const ACTIVATION: &str = "activation";
/// The vault purpose of staff session tokens (apart from citizens' `session`).
const STAFF_SESSION: &str = "staff-session";

/// What a staff member does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// An operator of a service centre: confirms identities, registers people.
    Operator,
    /// An officer of an agency: processes applications.
    Officer,
    /// A head of department of an agency.
    Head,
    /// An administrator of the platform.
    Admin,
}

impl StaffRole {
    pub const ALL: [Self; 4] = [Self::Operator, Self::Officer, Self::Head, Self::Admin];

    /// The stable code stored and typed in the CLI.
    pub fn code(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Officer => "officer",
            Self::Head => "head",
            Self::Admin => "admin",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code.trim())
    }

    /// The Russian name of the role.
    pub fn label(self) -> &'static str {
        match self {
            Self::Operator => "оператор центра обслуживания",
            Self::Officer => "специалист ведомства",
            Self::Head => "руководитель отдела",
            Self::Admin => "администратор",
        }
    }

    /// How the journal names this role as an actor.
    pub fn actor(self) -> ActorKind {
        match self {
            Self::Operator => ActorKind::Operator,
            Self::Officer | Self::Head => ActorKind::Officer,
            Self::Admin => ActorKind::Admin,
        }
    }
}

/// A staff member to create.
#[derive(Debug, Clone, Default)]
pub struct NewStaff {
    pub login: String,
    /// «Фамилия Имя Отчество».
    pub full_name: String,
    /// A [`StaffRole`] code.
    pub role: String,
    /// The service centre (operators only).
    pub center_id: Option<String>,
    /// The agency code such as `SFR` (officers and heads only).
    pub agency: Option<String>,
}

/// A staff member (name decrypted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaffMember {
    pub id: String,
    pub login: String,
    pub full_name: String,
    pub role: StaffRole,
    pub center_id: Option<String>,
    pub agency: Option<String>,
    pub must_change_password: bool,
    pub blocked: bool,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

impl StaffMember {
    /// «Смирнова О. П.»: how the person's journal names an operator.
    pub fn short_name(&self) -> String {
        let mut parts = self.full_name.split_whitespace();
        let mut out = parts.next().unwrap_or_default().to_owned();
        for p in parts {
            if let Some(c) = p.chars().next() {
                out.push(' ');
                out.push(c);
                out.push('.');
            }
        }
        out
    }

    /// Refuses unless the member has one of `roles`.
    pub fn require(&self, roles: &[StaffRole]) -> Result<(), IdentityError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(IdentityError::WrongRole { needed: roles.first().map_or("", |r| r.label()) })
        }
    }
}

/// A live staff session, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// The keyed hash of the token (the row id).
    pub id: String,
    pub staff: StaffMember,
}

/// A staff session just opened: the token goes into the cookie only.
#[derive(Debug, Clone)]
pub struct NewStaffSession {
    pub token: String,
    pub staff_id: String,
    pub role: StaffRole,
    pub expires_at: DateTime<Utc>,
    pub must_change_password: bool,
}

/// A demo staff member created on the first dev run (the password is shown once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStaff {
    pub role: StaffRole,
    pub login: String,
    pub password: String,
    /// The centre or agency, as printed.
    pub place: String,
}

/// How an operator looks a person up.
#[derive(Debug, Clone)]
pub enum PersonLookup {
    Snils(String),
    /// Series and number, in any spacing: `4510 654321`.
    Passport(String),
    /// A phone or an e-mail (finds simplified accounts too).
    Contact(String),
}

impl PersonLookup {
    fn code(&self) -> &'static str {
        match self {
            Self::Snils(_) => "snils",
            Self::Passport(_) => "passport",
            Self::Contact(_) => "contact",
        }
    }
}

/// What an operator sees of a person: enough to compare with the passport in hand,
/// document numbers masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonCard {
    pub account_id: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    /// simplified | standard | confirmed
    pub level: String,
    pub blocked: bool,
    /// (kind, masked value, confirmed)
    pub contacts: Vec<(String, String, bool)>,
    pub documents: Option<CheckStatus>,
    pub birth_date: Option<NaiveDate>,
    /// `45** ***321`
    pub passport: Option<String>,
    /// `***-***-*** 64`
    pub snils: Option<String>,
    /// Fields the registries refused.
    pub refused_fields: Vec<String>,
    /// An operator's in-person check waits for the registries.
    pub confirmation_pending: bool,
    pub created_at: DateTime<Utc>,
}

/// The operator's form for registering a person on the spot.
#[derive(Debug, Clone, Default)]
pub struct OnTheSpotForm {
    pub documents: DocumentsForm,
    /// A phone or an e-mail; confirmed by the person at activation.
    pub contact: String,
    /// «Паспорт предъявлен, данные совпадают».
    pub passport_shown: bool,
    /// The person signed the consent to the terms and to personal-data processing.
    pub consent: bool,
}

/// An account registered on the spot, waiting for its owner.
#[derive(Debug, Clone)]
pub struct Activation {
    pub account_id: String,
    /// `1234 5678 9012`: printed once for the operator to hand over.
    pub code: String,
    pub expires_at: DateTime<Utc>,
    pub masked_contact: String,
}

const PASSPORT_SHOWN: FieldError = FieldError::Invalid {
    reason: "отметьте, что паспорт предъявлен и данные совпадают",
};

fn mask_passport(p: &Passport) -> String {
    format!("{}** ***{}", &p.series()[..2], &p.number()[3..])
}

fn mask_snils(s: &Snils) -> String {
    let digits = s.digits();
    format!("***-***-*** {}", &digits[9..])
}

/// `login`: 3–32 of `a-z 0-9 . _ -`, starting with a letter; stored lower-case.
fn parse_login(input: &str) -> Result<String, FieldError> {
    let login = input.trim().to_lowercase();
    if login.is_empty() {
        return Err(FieldError::Empty);
    }
    if !login.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        || !login.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(FieldError::Characters {
            allowed: "латинские буквы, цифры, точка, дефис и подчёркивание, первой — буква",
        });
    }
    if !(3..=32).contains(&login.len()) {
        return Err(FieldError::Length { expected: "от 3 до 32 символов" });
    }
    Ok(login)
}

/// «Фамилия Имя [Отчество]», each part a valid name.
fn parse_full_name(input: &str) -> Result<String, FieldError> {
    let parts: Vec<&str> = input.split_whitespace().collect();
    if parts.is_empty() {
        return Err(FieldError::Empty);
    }
    if !(2..=3).contains(&parts.len()) {
        return Err(FieldError::Format { expected: "«Фамилия Имя Отчество»" });
    }
    let parsed = parts
        .iter()
        .map(|p| NamePart::parse(p).map(|n| n.as_str().to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parsed.join(" "))
}

/// An agency code: 2–16 of `A-Z 0-9 _ -` (`SFR`, `MVD`, `FNS`, …).
fn parse_agency(input: &str) -> Result<String, FieldError> {
    let code = input.trim().to_uppercase();
    if code.is_empty() {
        return Err(FieldError::Empty);
    }
    if !code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_-".contains(&b)) {
        return Err(FieldError::Characters {
            allowed: "латинские буквы, цифры, дефис"
        });
    }
    if !(2..=16).contains(&code.len()) {
        return Err(FieldError::Length { expected: "от 2 до 16 символов" });
    }
    Ok(code)
}

/// A one-time password: 12 characters from an alphabet without look-alikes, in groups of
/// four (about 70 bits).
fn one_time_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let chars: Vec<char> =
        (0..12).map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())])).collect();
    chars.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join("-")
}

/// An activation code: 12 random digits.
fn activation_code() -> String {
    (0..12).map(|_| char::from(b'0' + rand::random_range(0..10u8))).collect()
}

fn group_code(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Identity {
    fn staff_member(&self, row: StaffRow) -> Result<StaffMember, IdentityError> {
        Ok(StaffMember {
            full_name: self.vault.decrypt(&row.full_name, "staff.full_name")?,
            role: StaffRole::parse(&row.role)
                .ok_or_else(|| IdentityError::Internal("unknown staff role".into()))?,
            blocked: row.status != "active",
            created_at: from_micros(row.created_at),
            last_sign_in_at: row.last_sign_in_at.map(from_micros),
            id: row.id,
            login: row.login,
            center_id: row.center_id,
            agency: row.agency,
            must_change_password: row.must_change_password,
        })
    }

    /// Journals a staff event: `actor` (a staff member, or `None` for the command line)
    /// about `subject` (a staff id or an account id).
    #[allow(clippy::too_many_arguments)]
    async fn staff_journal(
        &self,
        conn: &mut store::Conn,
        actor: Option<(&StaffMember, ActorKind)>,
        subject: Option<&str>,
        action: &str,
        outcome: Outcome,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let (kind, id) = match actor {
            Some((member, kind)) => (kind, Some(member.id.as_str())),
            None => (ActorKind::System, None),
        };
        let event = Event {
            at: now,
            actor: kind,
            actor_id: id,
            subject_id: subject,
            action,
            outcome,
            origin,
            details,
        };
        journal::record(conn, &event).await?;
        Ok(())
    }

    // --- administration (the command line) ----------------------------------------------

    /// Creates a staff member with a one-time password, which is returned to be handed
    /// over (it must be changed at the first sign-in).
    pub async fn create_staff(
        &self,
        new: &NewStaff,
        now: DateTime<Utc>,
    ) -> Result<(StaffMember, String), IdentityError> {
        let password = one_time_password();
        let hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let member = self.insert_staff(new, hash, now).await?;
        Ok((member, password))
    }

    async fn insert_staff(
        &self,
        new: &NewStaff,
        hash: String,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, IdentityError> {
        let mut fields = Vec::new();
        let login = parse_login(&new.login).map_err(|e| fields.push(("login", e))).ok();
        let name = parse_full_name(&new.full_name).map_err(|e| fields.push(("full_name", e))).ok();
        let role = StaffRole::parse(&new.role);
        if role.is_none() {
            fields.push((
                "role",
                FieldError::Invalid {
                    reason: "ожидается operator, officer, head или admin"
                },
            ));
        }
        let center = new.center_id.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let agency = new.agency.as_deref().filter(|a| !a.trim().is_empty());
        let mut agency_code = None;
        match role {
            Some(StaffRole::Operator) => {
                if center.is_none() {
                    fields.push((
                        "center",
                        FieldError::Invalid {
                            reason: "оператору нужен центр обслуживания (--center)",
                        },
                    ));
                }
                if agency.is_some() {
                    fields.push((
                        "agency",
                        FieldError::Invalid {
                            reason: "ведомство указывается только для специалистов и руководителей",
                        },
                    ));
                }
            }
            Some(StaffRole::Officer | StaffRole::Head) => {
                match agency.map(parse_agency) {
                    Some(Ok(code)) => agency_code = Some(code),
                    Some(Err(e)) => fields.push(("agency", e)),
                    None => fields.push((
                        "agency",
                        FieldError::Invalid {
                            reason: "специалисту и руководителю нужно ведомство (--agency)",
                        },
                    )),
                }
                if center.is_some() {
                    fields.push((
                        "center",
                        FieldError::Invalid {
                            reason: "центр обслуживания указывается только для операторов",
                        },
                    ));
                }
            }
            Some(StaffRole::Admin) | None => {
                if center.is_some() || agency.is_some() {
                    fields.push((
                        "role",
                        FieldError::Invalid {
                            reason: "администратору не указывают ни центр, ни ведомство",
                        },
                    ));
                }
            }
        }
        let (Some(login), Some(name), Some(role), true) = (login, name, role, fields.is_empty())
        else {
            return Err(IdentityError::Fields(fields));
        };
        let now_us = to_micros(now);
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.db.begin().await?;
        if let Some(center) = center
            && rows::center_by_id(&mut tx, center).await?.is_none()
        {
            return Err(IdentityError::Fields(vec![(
                "center",
                FieldError::Invalid {
                    reason: "такого центра нет в справочнике (см. /centers)"
                },
            )]));
        }
        let row = StaffRow {
            id: id.clone(),
            login,
            full_name: self.vault.encrypt(&name, "staff.full_name"),
            role: role.code().to_owned(),
            center_id: center.map(str::to_owned),
            agency: agency_code,
            password_hash: hash,
            must_change_password: true,
            status: "active".into(),
            failed_logins: 0,
            locked_until: None,
            password_changed_at: now_us,
            last_sign_in_at: None,
            created_at: now_us,
        };
        if !rows::insert_staff(&mut tx, &row).await? {
            return Err(IdentityError::Fields(vec![(
                "login",
                FieldError::Invalid { reason: "такой логин уже занят" },
            )]));
        }
        let details = serde_json::json!({
            "role": role.code(), "center": row.center_id, "agency": row.agency, "via": "cli"
        });
        self.staff_journal(
            &mut tx,
            None,
            Some(&id),
            "staff.created",
            Outcome::Ok,
            &Origin::default(),
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        self.staff_member(row)
    }

    /// Every staff member, by login.
    pub async fn staff_list(&self) -> Result<Vec<StaffMember>, IdentityError> {
        rows::list_staff(&self.db).await?.into_iter().map(|r| self.staff_member(r)).collect()
    }

    async fn staff_by_login(&self, login: &str) -> Result<StaffRow, IdentityError> {
        rows::staff_by_login(&self.db, &login.trim().to_lowercase())
            .await?
            .ok_or(IdentityError::StaffNotFound)
    }

    /// A new one-time password (returned): the lock is lifted, every session ends.
    pub async fn reset_staff_password(
        &self,
        login: &str,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let row = self.staff_by_login(login).await?;
        let password = one_time_password();
        let hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        rows::set_staff_password(&mut tx, &row.id, &hash, true, now_us).await?;
        let ended =
            rows::end_staff_sessions(&mut tx, &row.id, None, now_us, "password_reset").await?;
        let details = serde_json::json!({"sessions_ended": ended, "via": "cli"});
        let origin = Origin::default();
        self.staff_journal(
            &mut tx,
            None,
            Some(&row.id),
            "staff.password_reset",
            Outcome::Ok,
            &origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(password)
    }

    /// Blocks (`true`) or unblocks a staff member; blocking ends every session.
    pub async fn set_staff_blocked(
        &self,
        login: &str,
        blocked: bool,
        now: DateTime<Utc>,
    ) -> Result<StaffMember, IdentityError> {
        let row = self.staff_by_login(login).await?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let status = if blocked { "blocked" } else { "active" };
        rows::set_staff_status(&mut tx, &row.id, status, now_us).await?;
        let ended = if blocked {
            rows::end_staff_sessions(&mut tx, &row.id, None, now_us, "blocked").await?
        } else {
            0
        };
        let action = if blocked { "staff.blocked" } else { "staff.unblocked" };
        let details = serde_json::json!({"sessions_ended": ended, "via": "cli"});
        self.staff_journal(
            &mut tx,
            None,
            Some(&row.id),
            action,
            Outcome::Ok,
            &Origin::default(),
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        let row = rows::staff_by_id(&mut *self.db.conn().await?, &row.id)
            .await?
            .ok_or(IdentityError::StaffNotFound)?;
        self.staff_member(row)
    }

    /// For a first local run: a demo operator (at the first centre of the directory) and
    /// a demo officer (of the Social Fund), created only while there is no staff at all.
    /// Their one-time passwords are returned to print once.
    pub async fn seed_demo_staff(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<DemoStaff>, IdentityError> {
        if rows::count_staff(&self.db).await? > 0 {
            return Ok(Vec::new());
        }
        let center = crate::centers::builtin()
            .map_err(|e| IdentityError::Internal(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| IdentityError::Internal("the centres list is empty".into()))?;
        let people = [
            (
                NewStaff {
                    login: "operator".into(),
                    full_name: "Смирнова Ольга Петровна".into(),
                    role: "operator".into(),
                    center_id: Some(center.id.clone()),
                    agency: None,
                },
                center.name.clone(),
            ),
            (
                NewStaff {
                    login: "officer".into(),
                    full_name: "Кузнецов Андрей Викторович".into(),
                    role: "officer".into(),
                    center_id: None,
                    agency: Some("SFR".into()),
                },
                "Социальный фонд (SFR)".to_owned(),
            ),
        ];
        let mut made = Vec::new();
        for (new, place) in people {
            let password = one_time_password();
            let hash = self
                .hasher
                .hash_demo(&password)
                .await
                .map_err(|e| IdentityError::Internal(e.to_string()))?;
            let member = self.insert_staff(&new, hash, now).await?;
            made.push(DemoStaff { role: member.role, login: member.login, password, place });
        }
        Ok(made)
    }

    // --- sign-in and sessions ----------------------------------------------------------

    /// Signs a staff member in by login and password, with the citizens' lockout rules.
    /// Unknown logins cost the same hash work and get the same answer as wrong passwords;
    /// a blocked member is told so only after the right password.
    pub async fn staff_sign_in(
        &self,
        login: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewStaffSession, IdentityError> {
        let now_us = to_micros(now);
        let ip_key = origin.ip.as_deref().map(|ip| format!("ip:{ip}"));
        if let Some(key) = &ip_key
            && let Some(until) = accounts::throttle_blocked(&self.db, key, now_us).await?
        {
            return Err(IdentityError::TooManyAttempts { until: from_micros(until) });
        }
        let login = login.trim().to_lowercase();
        let Some(row) = rows::staff_by_login(&self.db, &login).await? else {
            return self
                .unknown_staff_sign_in(&login, password, ip_key.as_deref(), origin, now)
                .await;
        };
        let lock_until = to_micros(now + self.policy.login_lock);
        let Some(count) = rows::reserve_staff_password_check(
            &self.db,
            &row.id,
            now_us,
            self.policy.login_attempts,
            lock_until,
        )
        .await?
        else {
            let until = rows::staff_by_id(&mut *self.db.conn().await?, &row.id)
                .await?
                .and_then(|r| r.locked_until)
                .unwrap_or(lock_until);
            self.staff_signin_journal(
                &row.id,
                "staff.signin_refused",
                serde_json::json!({"reason": "locked"}),
                origin,
                now,
            )
            .await?;
            return Err(IdentityError::Locked { until: from_micros(until) });
        };
        if !self.hasher.verify(password, Some(&row.password_hash)).await {
            self.failed_sign_in_ip(ip_key.as_deref(), now).await?;
            self.staff_signin_journal(
                &row.id,
                "staff.signin_failed",
                serde_json::json!({}),
                origin,
                now,
            )
            .await?;
            if count >= self.policy.login_attempts {
                let minutes = self.policy.login_lock.num_minutes();
                self.staff_signin_journal(
                    &row.id,
                    "staff.locked",
                    serde_json::json!({"minutes": minutes}),
                    origin,
                    now,
                )
                .await?;
                return Err(IdentityError::Locked { until: from_micros(lock_until) });
            }
            return Err(IdentityError::BadCredentials);
        }
        let member = self.staff_member(row)?;
        if member.blocked {
            rows::clear_staff_failures(&mut *self.db.conn().await?, &member.id, now_us, false)
                .await?;
            self.staff_signin_journal(
                &member.id,
                "staff.signin_refused",
                serde_json::json!({"reason": "blocked"}),
                origin,
                now,
            )
            .await?;
            return Err(IdentityError::StaffBlocked);
        }
        let token = random_token();
        let expires_at = now + self.policy.session_lifetime;
        let mut tx = self.db.begin().await?;
        rows::clear_staff_failures(&mut tx, &member.id, now_us, true).await?;
        rows::insert_staff_session(
            &mut tx,
            &StaffSessionRow {
                id: self.vault.secret_hash(STAFF_SESSION, &token),
                staff_id: member.id.clone(),
                created_at: now_us,
                last_seen_at: now_us,
                expires_at: to_micros(expires_at),
                ip: origin.ip.clone(),
                user_agent: origin.user_agent.clone(),
            },
        )
        .await?;
        let details = serde_json::json!({"must_change_password": member.must_change_password});
        self.staff_journal(
            &mut tx,
            Some((&member, member.role.actor())),
            Some(&member.id),
            "staff.signin",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(NewStaffSession {
            token,
            staff_id: member.id,
            role: member.role,
            expires_at,
            must_change_password: member.must_change_password,
        })
    }

    async fn staff_signin_journal(
        &self,
        staff_id: &str,
        action: &str,
        details: serde_json::Value,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        let event = Event {
            at: now,
            actor: ActorKind::Anonymous,
            actor_id: None,
            subject_id: Some(staff_id),
            action,
            outcome: Outcome::Denied,
            origin,
            details,
        };
        journal::record(&mut tx, &event).await?;
        commit(tx).await
    }

    async fn failed_sign_in_ip(
        &self,
        ip_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        if let Some(key) = ip_key {
            accounts::throttle_failure(
                &self.db,
                key,
                to_micros(now),
                self.policy.ip_window.num_microseconds().unwrap_or(i64::MAX),
                self.policy.ip_failures,
                self.policy.ip_block.num_microseconds().unwrap_or(i64::MAX),
            )
            .await?;
        }
        Ok(())
    }

    /// A login no staff member has: the same work and answers, locked after the same
    /// number of tries (counted per login), so guessing tells nothing.
    async fn unknown_staff_sign_in(
        &self,
        login: &str,
        password: &str,
        ip_key: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewStaffSession, IdentityError> {
        let now_us = to_micros(now);
        let key = format!("staff-login:{}", self.vault.blind_index("staff-login", login));
        if let Some(until) = accounts::throttle_blocked(&self.db, &key, now_us).await? {
            return Err(IdentityError::Locked { until: from_micros(until) });
        }
        self.hasher.verify(password, None).await;
        self.failed_sign_in_ip(ip_key, now).await?;
        let mut tx = self.db.begin().await?;
        let event = Event {
            at: now,
            actor: ActorKind::Anonymous,
            actor_id: None,
            subject_id: None,
            action: "staff.signin_failed",
            outcome: Outcome::Denied,
            origin,
            details: serde_json::json!({}),
        };
        journal::record(&mut tx, &event).await?;
        commit(tx).await?;
        let (count, until) = accounts::throttle_failure(
            &self.db,
            &key,
            now_us,
            chrono::Duration::days(1).num_microseconds().unwrap_or(i64::MAX),
            self.policy.login_attempts,
            self.policy.login_lock.num_microseconds().unwrap_or(i64::MAX),
        )
        .await?;
        if count >= self.policy.login_attempts {
            let until = until.map_or(now + self.policy.login_lock, from_micros);
            return Err(IdentityError::Locked { until });
        }
        Err(IdentityError::BadCredentials)
    }

    /// The live staff session behind a cookie token (sliding idle timeout, as citizens').
    /// A blocked member has none.
    pub async fn staff_session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StaffSession>, IdentityError> {
        let id = self.vault.secret_hash(STAFF_SESSION, token);
        let idle = self.policy.session_idle.num_microseconds().unwrap_or(i64::MAX);
        let precision = chrono::Duration::seconds(30).num_microseconds().unwrap_or(0);
        let Some(s) =
            rows::touch_staff_session(&self.db, &id, to_micros(now), idle, precision).await?
        else {
            return Ok(None);
        };
        let Some(row) = rows::staff_by_id(&mut *self.db.conn().await?, &s.staff_id).await? else {
            return Ok(None);
        };
        let staff = self.staff_member(row)?;
        if staff.blocked {
            return Ok(None);
        }
        Ok(Some(StaffSession { id: s.id, staff }))
    }

    /// Signs a staff member out.
    pub async fn staff_sign_out(
        &self,
        session: &StaffSession,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let staff = &session.staff;
        let mut tx = self.db.begin().await?;
        rows::end_staff_session(&mut tx, &session.id, to_micros(now), "signed_out").await?;
        self.staff_journal(
            &mut tx,
            Some((staff, staff.role.actor())),
            Some(&staff.id),
            "staff.signout",
            Outcome::Ok,
            origin,
            serde_json::json!({}),
            now,
        )
        .await?;
        commit(tx).await
    }

    /// Changes a staff member's password (the one-time one at first sign-in, or any
    /// time): the current one is checked under the sign-in lockout, the new one must meet
    /// the password rules and differ from it; other sessions end.
    pub async fn change_staff_password(
        &self,
        session: &StaffSession,
        current: &str,
        password: &str,
        repeat: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let staff = &session.staff;
        let mut personal: Vec<&str> = staff.full_name.split_whitespace().collect();
        personal.push(&staff.login);
        self.check_new_password(password, repeat, &personal)?;
        if password == current {
            return Err(IdentityError::WeakPassword(vec![
                "новый пароль должен отличаться от текущего".into(),
            ]));
        }
        let now_us = to_micros(now);
        let row = rows::staff_by_id(&mut *self.db.conn().await?, &staff.id)
            .await?
            .ok_or(IdentityError::StaffNotFound)?;
        let lock_until = to_micros(now + self.policy.login_lock);
        let Some(count) = rows::reserve_staff_password_check(
            &self.db,
            &staff.id,
            now_us,
            self.policy.login_attempts,
            lock_until,
        )
        .await?
        else {
            return Err(IdentityError::Locked {
                until: from_micros(row.locked_until.unwrap_or(lock_until)),
            });
        };
        if !self.hasher.verify(current, Some(&row.password_hash)).await {
            self.staff_signin_journal(
                &staff.id,
                "staff.password_change_failed",
                serde_json::json!({}),
                origin,
                now,
            )
            .await?;
            if count >= self.policy.login_attempts {
                return Err(IdentityError::Locked { until: from_micros(lock_until) });
            }
            return Err(IdentityError::WrongCurrentPassword);
        }
        let hash =
            self.hasher.hash(password).await.map_err(|e| IdentityError::Internal(e.to_string()))?;
        let mut tx = self.db.begin().await?;
        rows::set_staff_password(&mut tx, &staff.id, &hash, false, now_us).await?;
        let ended = rows::end_staff_sessions(
            &mut tx,
            &staff.id,
            Some(&session.id),
            now_us,
            "password_changed",
        )
        .await?;
        let details =
            serde_json::json!({"sessions_ended": ended, "first": staff.must_change_password});
        self.staff_journal(
            &mut tx,
            Some((staff, staff.role.actor())),
            Some(&staff.id),
            "staff.password_changed",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await
    }

    // --- the operator's workstation ----------------------------------------------------

    fn as_operator(staff: &StaffMember) -> Result<(), IdentityError> {
        staff.require(&[StaffRole::Operator])
    }

    /// Recovery by an operator (seed 001): after checking the passport in person, the
    /// operator hands the person a temporary password that must be changed at the next
    /// sign-in. Journaled with the operator as actor; the person is told.
    pub async fn operator_temporary_password(
        &self,
        staff: &StaffMember,
        account_id: &str,
        passport_shown: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        Self::as_operator(staff)?;
        if !passport_shown {
            return Err(IdentityError::Fields(vec![("passport_shown", PASSPORT_SHOWN)]));
        }
        if accounts::get_account(&self.db, account_id).await?.is_none() {
            return Err(IdentityError::PersonNotFound);
        }
        let by = crate::rights::Issuer::Operator { staff_id: &staff.id };
        self.issue_temporary_password(account_id, by, origin, now).await
    }

    /// Finds accounts by a verified SNILS, a verified passport or a contact. Each found
    /// person gets a journal entry naming the operator; a search that finds nobody is
    /// journaled without a subject. No personal data goes into the details.
    pub async fn operator_find(
        &self,
        staff: &StaffMember,
        lookup: &PersonLookup,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, IdentityError> {
        Self::as_operator(staff)?;
        let found = match lookup {
            PersonLookup::Snils(v) => {
                let snils =
                    Snils::parse(v).map_err(|e| IdentityError::Fields(vec![("snils", e)]))?;
                store::documents::account_by_snils(&self.db, &self.snils_index(&snils))
                    .await?
                    .into_iter()
                    .collect::<Vec<_>>()
            }
            PersonLookup::Passport(v) => {
                let passport =
                    Passport::parse(v).map_err(|e| IdentityError::Fields(vec![("passport", e)]))?;
                store::documents::accounts_by_passport(&self.db, &self.passport_index(&passport))
                    .await?
            }
            PersonLookup::Contact(v) => {
                let contact =
                    Contact::parse(v).map_err(|e| IdentityError::Fields(vec![("contact", e)]))?;
                let index = self.vault.blind_index(contact.kind(), contact.value());
                accounts::contact_by_index(&self.db, contact.kind(), &index)
                    .await?
                    .map(|c| c.account_id)
                    .into_iter()
                    .collect()
            }
        };
        let by = lookup.code();
        let actor = Some((staff, ActorKind::Operator));
        let mut tx = self.db.begin().await?;
        if found.is_empty() {
            let details = serde_json::json!({"by": by, "found": 0, "center": staff.center_id});
            self.staff_journal(
                &mut tx,
                actor,
                None,
                "staff.search",
                Outcome::Ok,
                origin,
                details,
                now,
            )
            .await?;
        }
        for account in &found {
            let details = serde_json::json!({"by": by, "center": staff.center_id});
            self.staff_journal(
                &mut tx,
                actor,
                Some(account),
                "staff.person_found",
                Outcome::Ok,
                origin,
                details,
                now,
            )
            .await?;
        }
        commit(tx).await?;
        Ok(found)
    }

    /// The operator's view of a person (journaled as a view of their data).
    pub async fn operator_view(
        &self,
        staff: &StaffMember,
        account_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<PersonCard, IdentityError> {
        Self::as_operator(staff)?;
        let Some(row) = accounts::get_account(&self.db, account_id).await? else {
            return Err(IdentityError::PersonNotFound);
        };
        let account = self.account(account_id).await?;
        let docs = self.documents(account_id).await?;
        let shown = docs.verified.as_ref().or(docs.pending.as_ref());
        let pending = rows::intent_of(&self.db, account_id, to_micros(now)).await?;
        let mut tx = self.db.begin().await?;
        let details = serde_json::json!({"center": staff.center_id});
        self.staff_journal(
            &mut tx,
            Some((staff, ActorKind::Operator)),
            Some(account_id),
            "staff.person_viewed",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(PersonCard {
            account_id: account.id,
            surname: account.surname,
            given_name: account.given_name,
            patronymic: account.patronymic,
            level: account.level,
            blocked: row.status != "active",
            contacts: account
                .contacts
                .into_iter()
                .map(|c| (c.kind, c.masked, c.confirmed))
                .collect(),
            documents: docs.status,
            birth_date: shown.map(|d| d.birth_date),
            passport: shown.map(|d| mask_passport(&d.passport)),
            snils: shown.map(|d| mask_snils(&d.snils)),
            refused_fields: docs.reasons.into_iter().map(|(f, _)| f).collect(),
            confirmation_pending: pending,
            created_at: account.created_at,
        })
    }

    /// Confirms a standard account after the operator checked the passport in person.
    pub async fn operator_confirm(
        &self,
        staff: &StaffMember,
        account_id: &str,
        passport_shown: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        Self::as_operator(staff)?;
        if !passport_shown {
            return Err(IdentityError::Fields(vec![("passport_shown", PASSPORT_SHOWN)]));
        }
        if accounts::get_account(&self.db, account_id).await?.is_none() {
            return Err(IdentityError::PersonNotFound);
        }
        let mut tx = self.db.begin().await?;
        let details = serde_json::json!({"center": staff.center_id});
        let by = Confirmer::Operator { staff_id: &staff.id };
        match self
            .confirm_account(
                &mut tx,
                account_id,
                ConfirmRoute::ServiceCenter,
                by,
                origin,
                details,
                now,
            )
            .await
        {
            Ok(()) => {}
            Err(IdentityError::NotStandard) => {
                drop(tx);
                self.operator_refused(staff, account_id, "not_standard", origin, now).await?;
                return Err(IdentityError::NotStandardYet);
            }
            Err(e) => return Err(e),
        }
        rows::take_intent(&mut tx, account_id).await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    async fn operator_refused(
        &self,
        staff: &StaffMember,
        account_id: &str,
        reason: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        let details = serde_json::json!({"reason": reason, "center": staff.center_id});
        self.staff_journal(
            &mut tx,
            Some((staff, ActorKind::Operator)),
            Some(account_id),
            "staff.confirm_refused",
            Outcome::Denied,
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await
    }

    /// Records an operator's in-person passport check, applied when the registries
    /// verify that passport (see the module docs).
    async fn record_intent(
        &self,
        conn: &mut store::Conn,
        staff: &StaffMember,
        account_id: &str,
        passport: &Passport,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        rows::upsert_intent(
            conn,
            &IntentRow {
                account_id: account_id.to_owned(),
                passport_index: self.passport_index(passport),
                staff_id: staff.id.clone(),
                center_id: staff.center_id.clone(),
                created_at: to_micros(now),
                expires_at: to_micros(now + self.policy.activation_ttl),
            },
        )
        .await?;
        Ok(())
    }

    /// Called by the documents check in its transaction when the registries verified an
    /// account's documents (and it is not confirmed yet): an operator's recorded
    /// in-person check of the same passport, still valid, confirms the account. The
    /// intent is used up either way. Returns whether the account was confirmed.
    pub(crate) async fn apply_operator_intent(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
        passport: &Passport,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let Some(intent) = rows::take_intent(conn, account_id).await? else {
            return Ok(false);
        };
        if intent.expires_at <= to_micros(now)
            || intent.passport_index != self.passport_index(passport)
        {
            return Ok(false);
        }
        let details = serde_json::json!({"center": intent.center_id, "deferred": true});
        let by = Confirmer::Operator { staff_id: &intent.staff_id };
        self.confirm_account(
            conn,
            account_id,
            ConfirmRoute::ServiceCenter,
            by,
            &Origin::default(),
            details,
            now,
        )
        .await?;
        Ok(true)
    }

    /// The operator enters a person's documents for them (the person shows the passport):
    /// the registry check runs as for the person's own submission, and its success
    /// confirms the account.
    #[allow(clippy::too_many_arguments)]
    pub async fn operator_submit_documents(
        &self,
        staff: &StaffMember,
        account_id: &str,
        form: &DocumentsForm,
        passport_shown: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        Self::as_operator(staff)?;
        let parsed = form.parse(domain::moscow_date(now));
        let data = match (parsed, passport_shown) {
            (Ok(data), true) => data,
            (Ok(_), false) => {
                return Err(IdentityError::Fields(vec![("passport_shown", PASSPORT_SHOWN)]));
            }
            (Err(IdentityError::Fields(mut list)), shown) => {
                if !shown {
                    list.push(("passport_shown", PASSPORT_SHOWN));
                }
                return Err(IdentityError::Fields(list));
            }
            (Err(e), _) => return Err(e),
        };
        let Some(account) = accounts::get_account(&self.db, account_id).await? else {
            return Err(IdentityError::PersonNotFound);
        };
        self.refuse_taken_snils(&data.snils, Some(account_id)).await?;
        let contacts = self.confirmed_contacts(account_id).await?;
        let mut tx = self.db.begin().await?;
        store::documents::submit(&mut tx, account_id, &self.seal_data(&data), to_micros(now))
            .await?;
        store::jobs::enqueue_on(&mut tx, crate::documents::CHECK_QUEUE, account_id, now, 500, now)
            .await?;
        let details = serde_json::json!({"center": staff.center_id});
        self.staff_journal(
            &mut tx,
            Some((staff, ActorKind::Operator)),
            Some(account_id),
            "documents.submitted",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        if account.level != "confirmed" {
            self.record_intent(&mut tx, staff, account_id, &data.passport, now).await?;
        }
        self.notify(&mut tx, &contacts, &Template::DocumentsEnteredAtCenter, now).await?;
        commit(tx).await?;
        self.documents_queued.notify_one();
        self.outbox.wake();
        Ok(())
    }

    async fn refuse_taken_snils(
        &self,
        snils: &Snils,
        own: Option<&str>,
    ) -> Result<(), IdentityError> {
        if let Some(owner) =
            store::documents::account_by_snils(&self.db, &self.snils_index(snils)).await?
            && Some(owner.as_str()) != own
        {
            return Err(IdentityError::Fields(vec![(
                "snils",
                FieldError::Invalid {
                    reason: "этот СНИЛС уже указан в другой учётной записи: найдите её по СНИЛС",
                },
            )]));
        }
        Ok(())
    }

    /// Registers a person on the spot: the account (simplified, its contact not yet
    /// confirmed), the documents sent for the registry check, the operator's in-person
    /// check recorded, and an activation code for the person (stored as a keyed hash,
    /// valid for the activation period).
    pub async fn operator_register(
        &self,
        staff: &StaffMember,
        form: &OnTheSpotForm,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Activation, IdentityError> {
        Self::as_operator(staff)?;
        let mut fields = Vec::new();
        let data = match form.documents.parse(domain::moscow_date(now)) {
            Ok(d) => Some(d),
            Err(IdentityError::Fields(list)) => {
                fields.extend(list);
                None
            }
            Err(e) => return Err(e),
        };
        let contact = Contact::parse(&form.contact).map_err(|e| fields.push(("contact", e))).ok();
        if !form.passport_shown {
            fields.push(("passport_shown", PASSPORT_SHOWN));
        }
        if !form.consent {
            fields.push((
                "consent",
                FieldError::Invalid {
                    reason: "отметьте, что гражданин подписал согласие на обработку персональных данных и с условиями использования",
                },
            ));
        }
        let (Some(data), Some(contact), true) = (data, contact, fields.is_empty()) else {
            return Err(IdentityError::Fields(fields));
        };
        let index = self.vault.blind_index(contact.kind(), contact.value());
        if accounts::contact_by_index(&self.db, contact.kind(), &index).await?.is_some() {
            return Err(IdentityError::ContactTaken { kind: contact.kind() });
        }
        self.refuse_taken_snils(&data.snils, None).await?;
        // The account gets a random password nobody knows until the person sets theirs.
        let placeholder = self
            .hasher
            .hash(&random_token())
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let code = activation_code();
        let account_id = uuid::Uuid::now_v7().to_string();
        let now_us = to_micros(now);
        let expires_at = now + self.policy.activation_ttl;
        let mut tx = self.db.begin().await?;
        accounts::insert_account(
            &mut tx,
            &AccountRow {
                id: account_id.clone(),
                surname: self.vault.encrypt(&data.surname, "account.surname"),
                given_name: self.vault.encrypt(&data.given_name, "account.given_name"),
                patronymic: data
                    .patronymic
                    .as_deref()
                    .map(|p| self.vault.encrypt(p, "account.patronymic")),
                level: "simplified".into(),
                status: "active".into(),
                password_hash: placeholder,
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
        let bound = accounts::insert_contact(
            &mut tx,
            &ContactRow {
                id: uuid::Uuid::now_v7().to_string(),
                account_id: account_id.clone(),
                kind: contact.kind().to_owned(),
                value: self.vault.encrypt(contact.value(), "contact.value"),
                value_index: index.clone(),
                confirmed_at: None,
                created_at: now_us,
            },
        )
        .await?;
        if !bound {
            return Err(IdentityError::ContactTaken { kind: contact.kind() });
        }
        store::documents::submit(&mut tx, &account_id, &self.seal_data(&data), now_us).await?;
        store::jobs::enqueue_on(&mut tx, crate::documents::CHECK_QUEUE, &account_id, now, 500, now)
            .await?;
        self.record_intent(&mut tx, staff, &account_id, &data.passport, now).await?;
        rows::insert_activation(
            &mut tx,
            &ActivationRow {
                id: uuid::Uuid::now_v7().to_string(),
                account_id: account_id.clone(),
                contact_kind: contact.kind().to_owned(),
                contact_value: self.vault.encrypt(contact.value(), "contact.value"),
                contact_index: index,
                code_hash: self.vault.secret_hash(ACTIVATION, &code),
                attempts: 0,
                staff_id: staff.id.clone(),
                created_at: now_us,
                expires_at: to_micros(expires_at),
                flow_id: None,
                flow_expires_at: None,
                confirmed_at: None,
                completed_at: None,
            },
        )
        .await?;
        let actor = Some((staff, ActorKind::Operator));
        let details = serde_json::json!({
            "level": "simplified", "via": "service_center", "center": staff.center_id,
            "terms": self.policy.terms_version, "pd": self.policy.pd_version
        });
        self.staff_journal(
            &mut tx,
            actor,
            Some(&account_id),
            "account.registered",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        let details = serde_json::json!({"center": staff.center_id});
        self.staff_journal(
            &mut tx,
            actor,
            Some(&account_id),
            "documents.submitted",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        self.documents_queued.notify_one();
        Ok(Activation {
            account_id,
            code: group_code(&code),
            expires_at,
            masked_contact: contact.masked(),
        })
    }

    // --- activation by the person -------------------------------------------------------

    /// Step 1 of `/activate`: the contact the operator registered and the activation
    /// code. A right code sends a one-time code to the contact (which proves it is the
    /// person's) and returns the activation token the browser keeps.
    pub async fn start_activation(
        &self,
        contact: &str,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let mut fields = Vec::new();
        let contact = Contact::parse(contact).map_err(|e| fields.push(("contact", e))).ok();
        let digits: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.is_empty() {
            fields.push(("code", FieldError::Empty));
        } else if !digits.bytes().all(|b| b.is_ascii_digit()) {
            fields.push(("code", FieldError::Characters { allowed: "цифры" }));
        } else if digits.len() != 12 {
            fields.push(("code", FieldError::Length { expected: "12 цифр" }));
        }
        let (Some(contact), true) = (contact, fields.is_empty()) else {
            return Err(IdentityError::Fields(fields));
        };
        let index = self.vault.blind_index(contact.kind(), contact.value());
        let now_us = to_micros(now);
        let Some(activation) = rows::latest_activation(&self.db, &index)
            .await?
            .filter(|a| a.completed_at.is_none() && a.expires_at > now_us)
        else {
            self.activation_journal(None, "activation.failed", origin, now).await?;
            return Err(IdentityError::ActivationGone);
        };
        let account = activation.account_id.as_str();
        let max = self.policy.activation_attempts;
        let Some(tried) =
            rows::reserve_activation_attempt(&self.db, &activation.id, now_us, max).await?
        else {
            self.activation_journal(Some(account), "activation.failed", origin, now).await?;
            return Err(IdentityError::ActivationGone);
        };
        if !crate::same(&self.vault.secret_hash(ACTIVATION, &digits), &activation.code_hash) {
            self.activation_journal(Some(account), "activation.failed", origin, now).await?;
            return Err(if tried >= max {
                IdentityError::ActivationGone
            } else {
                IdentityError::ActivationWrong { left: max - tried }
            });
        }
        rows::refund_activation_attempt(&self.db, &activation.id).await?;
        if let Some(until) =
            accounts::throttle_blocked(&self.db, &Self::contact_key(&index), now_us).await?
        {
            return Err(IdentityError::ContactBlocked { until: from_micros(until) });
        }
        self.count_send(&index, now).await?;
        let token = random_token();
        let flow_id = self.vault.secret_hash(ACTIVATION, &token);
        let flow_expires = to_micros(now + self.policy.registration_ttl);
        let mut tx = self.db.begin().await?;
        if !rows::open_activation_flow(&mut tx, &activation.id, &flow_id, flow_expires).await? {
            return Err(IdentityError::ActivationGone);
        }
        self.send_code(&mut tx, ACTIVATION, &flow_id, &contact, &index, None, now).await?;
        let details = serde_json::json!({"kind": contact.kind()});
        self.journal(
            &mut tx,
            "activation.started",
            Outcome::Ok,
            Some(account),
            origin,
            details,
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(token)
    }

    async fn activation_journal(
        &self,
        account: Option<&str>,
        action: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.journal_alone(action, Outcome::Denied, account, origin, serde_json::json!({}), now)
            .await
    }

    /// The activation behind a browser token (an expired flow is gone; a completed one
    /// still answers, so a second submit can say so).
    async fn activation_row(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<ActivationRow, IdentityError> {
        let flow_id = self.vault.secret_hash(ACTIVATION, token);
        match rows::activation_by_flow(&self.db, &flow_id).await? {
            Some(a)
                if a.completed_at.is_some()
                    || a.flow_expires_at.is_some_and(|t| t > to_micros(now)) =>
            {
                Ok(a)
            }
            _ => Err(IdentityError::FlowGone),
        }
    }

    fn activation_contact(&self, a: &ActivationRow) -> Result<Contact, IdentityError> {
        let value = self.vault.decrypt(&a.contact_value, "contact.value")?;
        Contact::parse(&value)
            .map_err(|_| IdentityError::Internal("stored contact does not parse".into()))
    }

    /// Where an activation stands.
    pub async fn activation(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<FlowState, IdentityError> {
        let a = self.activation_row(token, now).await?;
        let contact = self.activation_contact(&a)?;
        let sent = match &a.flow_id {
            Some(flow) => accounts::latest_code(&self.db, ACTIVATION, flow)
                .await?
                .map_or(now, |c| from_micros(c.created_at)),
            None => now,
        };
        Ok(FlowState {
            masked_contact: contact.masked(),
            contact_kind: contact.kind().to_owned(),
            confirmed: a.confirmed_at.is_some(),
            completed: a.completed_at.is_some(),
            resend_at: sent + self.policy.resend_after,
        })
    }

    /// Step 2: the one-time code sent to the contact.
    pub async fn confirm_activation(
        &self,
        token: &str,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let a = self.activation_row(token, now).await?;
        if a.confirmed_at.is_some() {
            return Ok(());
        }
        let flow_id = self.vault.secret_hash(ACTIVATION, token);
        let account = Some(a.account_id.as_str());
        let mut tx = self
            .check_code(
                ACTIVATION,
                &flow_id,
                &a.contact_index,
                Proof::Code(code),
                account,
                origin,
                now,
            )
            .await?;
        rows::confirm_activation_flow(&mut tx, &a.id, to_micros(now)).await?;
        self.journal(
            &mut tx,
            "contact.confirmed",
            Outcome::Ok,
            account,
            origin,
            serde_json::json!({"purpose": ACTIVATION, "kind": a.contact_kind}),
            now,
        )
        .await?;
        commit(tx).await
    }

    /// «Отправить снова» for the activation's one-time code.
    pub async fn resend_activation_code(
        &self,
        token: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let a = self.activation_row(token, now).await?;
        if a.confirmed_at.is_some() || a.completed_at.is_some() {
            return Ok(());
        }
        let contact = self.activation_contact(&a)?;
        let flow_id = self.vault.secret_hash(ACTIVATION, token);
        if let Some(last) = accounts::latest_code(&self.db, ACTIVATION, &flow_id).await? {
            let ready = from_micros(last.created_at) + self.policy.resend_after;
            if now < ready {
                return Err(IdentityError::ResendTooSoon {
                    seconds: (ready - now).num_seconds().max(1),
                });
            }
        }
        self.count_send(&a.contact_index, now).await?;
        let mut tx = self.db.begin().await?;
        self.send_code(&mut tx, ACTIVATION, &flow_id, &contact, &a.contact_index, None, now)
            .await?;
        self.journal(
            &mut tx,
            "code.resent",
            Outcome::Ok,
            Some(&a.account_id),
            origin,
            serde_json::json!({"purpose": ACTIVATION}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Step 3: the person's password. The contact becomes confirmed, the activation code
    /// is used up, and the person is signed in.
    pub async fn complete_activation(
        &self,
        token: &str,
        password: &str,
        repeat: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<NewSession, IdentityError> {
        let a = self.activation_row(token, now).await?;
        if a.completed_at.is_some() {
            return Err(IdentityError::FlowGone);
        }
        if a.confirmed_at.is_none() {
            return Err(IdentityError::NotConfirmed);
        }
        let now_us = to_micros(now);
        if a.expires_at <= now_us {
            return Err(IdentityError::ActivationGone);
        }
        let contact = self.activation_contact(&a)?;
        let account = self.account(&a.account_id).await?;
        self.check_new_password(
            password,
            repeat,
            &[&account.surname, &account.given_name, contact.value()],
        )?;
        let hash =
            self.hasher.hash(password).await.map_err(|e| IdentityError::Internal(e.to_string()))?;
        let account_id = a.account_id.as_str();
        let mut tx = self.db.begin().await?;
        if !rows::complete_activation(&mut tx, &a.id, now_us).await? {
            return Err(IdentityError::FlowGone);
        }
        accounts::set_password(&mut tx, account_id, &hash, now_us).await?;
        rows::confirm_contact(&mut tx, account_id, &a.contact_index, now_us).await?;
        self.outbox
            .enqueue(&mut tx, contact.channel(), contact.value(), &Template::Welcome, now)
            .await?;
        self.journal(
            &mut tx,
            "account.activated",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({"kind": contact.kind()}),
            now,
        )
        .await?;
        let session = self.open_session(&mut tx, account_id, origin, now).await?;
        self.journal(
            &mut tx,
            "signin.ok",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({"via": ACTIVATION}),
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(session)
    }

    /// The staff members among `ids` (for naming actors in a person's journal).
    pub async fn staff_by_ids(&self, ids: &[&str]) -> Result<Vec<StaffMember>, IdentityError> {
        let mut out = Vec::new();
        let mut conn = self.db.conn().await?;
        for id in ids {
            if let Some(row) = rows::staff_by_id(&mut conn, id).await? {
                out.push(self.staff_member(row)?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_names_and_agencies_are_checked() {
        assert_eq!(parse_login(" Ivanova.A ").unwrap(), "ivanova.a");
        assert!(matches!(parse_login("1abc"), Err(FieldError::Characters { .. })));
        assert!(matches!(parse_login("ab"), Err(FieldError::Length { .. })));
        assert!(matches!(parse_login("иванова"), Err(FieldError::Characters { .. })));
        assert_eq!(parse_full_name("Смирнова  Ольга Петровна").unwrap(), "Смирнова Ольга Петровна");
        assert!(parse_full_name("Смирнова").is_err());
        assert!(parse_full_name("Smith John").is_err());
        assert_eq!(parse_agency("sfr").unwrap(), "SFR");
        assert!(parse_agency("С Ф Р").is_err());
    }

    #[test]
    fn secrets_have_their_shape() {
        let p = one_time_password();
        assert_eq!(p.len(), 14);
        assert_eq!(p.matches('-').count(), 2);
        let c = activation_code();
        assert_eq!(c.len(), 12);
        assert!(c.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(group_code("123456789012"), "1234 5678 9012");
    }

    #[test]
    fn roles_round_trip_and_short_names() {
        for r in StaffRole::ALL {
            assert_eq!(StaffRole::parse(r.code()), Some(r));
        }
        let m = StaffMember {
            id: "x".into(),
            login: "operator".into(),
            full_name: "Смирнова Ольга Петровна".into(),
            role: StaffRole::Operator,
            center_id: None,
            agency: None,
            must_change_password: false,
            blocked: false,
            created_at: DateTime::default(),
            last_sign_in_at: None,
        };
        assert_eq!(m.short_name(), "Смирнова О. П.");
        assert!(m.require(&[StaffRole::Operator]).is_ok());
        assert!(matches!(m.require(&[StaffRole::Officer]), Err(IdentityError::WrongRole { .. })));
    }

    #[test]
    fn masks_keep_only_what_the_operator_compares() {
        let p = Passport::parse("4510 654321").unwrap();
        assert_eq!(mask_passport(&p), "45** ***321");
        let s = Snils::parse("123-456-789 64").unwrap();
        assert_eq!(mask_snils(&s), "***-***-*** 64");
    }
}
