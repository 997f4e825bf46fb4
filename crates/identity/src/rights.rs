//! Personal-data rights (ФЗ-152) and the last-resort ways back into an account:
//! recovery by passport data (seed 001) with a temporary password, downloading
//! everything the portal holds about the person (with the journal of who accessed it),
//! blocking the account temporarily, and closing it — erased after a grace period, with
//! only the pseudonymous shell the law requires kept.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::FieldError;
use domain::ident::{Inn, Passport, parse_past_date};
use journal::{ActorKind, Event, Origin, Outcome};
use notify::Template;
use store::identity as rows;
use store::security as sec;
use store::{from_micros, to_micros};

use crate::{Identity, IdentityError, commit};

/// How long a closing account waits before its data is erased.
pub const CLOSING_GRACE_DAYS: i64 = 30;

/// The form of recovery by passport (seed 001): series and number, birth date, INN.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct PassportRecoveryForm {
    #[serde(default)]
    pub passport_series: String,
    #[serde(default)]
    pub passport_number: String,
    #[serde(default)]
    pub birth_date: String,
    #[serde(default)]
    pub inn: String,
}

/// Who issues a temporary password.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// The person, by passport data.
    Passport,
    /// An operator of a service centre, after checking the passport in person.
    Operator { staff_id: &'a str },
}

/// One part of «Мои данные»: `key` names it in JSON, `title` in the PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSection {
    pub key: &'static str,
    pub title: &'static str,
    /// (JSON key, Russian label, value)
    pub rows: Vec<(&'static str, &'static str, String)>,
    /// A table: (JSON key, Russian label) per column, then the rows.
    pub table: Option<ExportTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTable {
    pub columns: Vec<(&'static str, &'static str)>,
    pub rows: Vec<Vec<String>>,
}

/// Everything the portal holds about a person, ready for JSON and PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataExport {
    pub generated_at: DateTime<Utc>,
    pub full_name: String,
    pub sections: Vec<ExportSection>,
}

impl DataExport {
    /// The export as JSON: one object per section; tables as arrays of objects.
    pub fn to_json(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        root.insert("generated_at".into(), serde_json::json!(self.generated_at));
        for s in &self.sections {
            let mut section = serde_json::Map::new();
            for (key, _, value) in &s.rows {
                section.insert((*key).into(), serde_json::Value::String(value.clone()));
            }
            if let Some(t) = &s.table {
                let items: Vec<serde_json::Value> = t
                    .rows
                    .iter()
                    .map(|row| {
                        serde_json::Value::Object(
                            t.columns
                                .iter()
                                .zip(row)
                                .map(|((k, _), v)| {
                                    ((*k).to_owned(), serde_json::Value::String(v.clone()))
                                })
                                .collect(),
                        )
                    })
                    .collect();
                if section.is_empty() {
                    root.insert(s.key.into(), serde_json::Value::Array(items));
                    continue;
                }
                section.insert("items".into(), serde_json::Value::Array(items));
            }
            root.insert(s.key.into(), serde_json::Value::Object(section));
        }
        serde_json::Value::Object(root)
    }
}

fn when(us: i64) -> String {
    from_micros(us).with_timezone(&domain::clock::moscow()).format("%d.%m.%Y %H:%M").to_string()
}

fn date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

fn temporary_password() -> String {
    // Unambiguous letters and digits, in three groups: «K7mQ-xP4r-9TbW».
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789";
    let group = || -> String {
        (0..4).map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())])).collect()
    };
    format!("{}-{}-{}", group(), group(), group())
}

impl Identity {
    // --- temporary passwords ---------------------------------------------------------------

    /// Replaces the password with a temporary one that must be changed at the next
    /// sign-in; ends every session, forgets remembered devices, lifts a block by the
    /// owner, journals and tells the person. Returns the password (shown once).
    pub async fn issue_temporary_password(
        &self,
        account_id: &str,
        by: Issuer<'_>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let password = temporary_password();
        let hash = self
            .hasher
            .hash(&password)
            .await
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let contacts = self.confirmed_contacts(account_id).await?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let account = rows::account_in(&mut tx, account_id)
            .await?
            .filter(|a| a.status != "closed")
            .ok_or(IdentityError::RegistrationGone)?;
        sec::set_password_flagged(&mut tx, account_id, &hash, true, now_us).await?;
        let ended =
            rows::end_sessions_of(&mut tx, account_id, None, now_us, "password.temporary").await?;
        sec::revoke_devices(&mut tx, account_id, now_us).await?;
        store::oidc::revoke_account_grants(&mut tx, account_id, None, now_us).await?;
        if account.status == "blocked" {
            sec::set_block(&mut tx, account_id, None, None, now_us).await?;
        }
        let (actor, actor_id, route) = match by {
            Issuer::Passport => (ActorKind::Anonymous, None, "passport"),
            Issuer::Operator { staff_id } => (ActorKind::Operator, Some(staff_id), "operator"),
        };
        let event = Event {
            at: now,
            actor,
            actor_id,
            subject_id: Some(account_id),
            action: "password.temporary",
            outcome: Outcome::Ok,
            origin,
            details: serde_json::json!({"route": route, "sessions_ended": ended, "unblocked": account.status == "blocked"}),
        };
        journal::record(&mut tx, &event).await?;
        self.notify(&mut tx, &contacts, &Template::TemporaryPassword { at: now }, now).await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(password)
    }

    /// Recovery by passport data (seed 001): the passport series and number, the birth
    /// date and the INN must match the verified data of a standard or confirmed account.
    /// Answers with a temporary password. Failures are throttled per address and per
    /// passport, and never tell which part did not match.
    pub async fn recover_by_passport(
        &self,
        form: &PassportRecoveryForm,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<String, IdentityError> {
        let mut errors = Vec::new();
        let passport = Passport::parse(&format!(
            "{} {}",
            form.passport_series.trim(),
            form.passport_number.trim()
        ))
        .map_err(|e| errors.push(("passport", e)))
        .ok();
        let birth = parse_past_date(&form.birth_date, now.date_naive())
            .map_err(|e| errors.push(("birth_date", e)))
            .ok();
        let inn = if form.inn.trim().is_empty() {
            errors.push(("inn", FieldError::Empty));
            None
        } else {
            Inn::parse_person(&form.inn).map_err(|e| errors.push(("inn", e))).ok()
        };
        let (Some(passport), Some(birth), Some(inn)) = (passport, birth, inn) else {
            return Err(IdentityError::Fields(errors));
        };
        let now_us = to_micros(now);
        let passport_index = self.passport_index(&passport);
        let keys: Vec<String> = origin
            .ip
            .iter()
            .map(|ip| format!("passport-recovery:ip:{ip}"))
            .chain(std::iter::once(format!("passport-recovery:{passport_index}")))
            .collect();
        for key in &keys {
            if let Some(until) = rows::throttle_blocked(&self.db, key, now_us).await? {
                return Err(IdentityError::TooManyAttempts { until: from_micros(until) });
            }
        }
        let mut found = None;
        for account_id in store::documents::accounts_by_passport(&self.db, &passport_index).await? {
            let Some(row) = store::documents::get(&mut *self.db.conn().await?, &account_id).await?
            else {
                continue;
            };
            let Some(verified) = row.verified.as_deref() else { continue };
            let data = self.open_data(verified)?;
            let account = rows::get_account(&self.db, &account_id).await?;
            let eligible = account.is_some_and(|a| {
                a.status != "closed" && (a.level == "standard" || a.level == "confirmed")
            });
            if eligible
                && data.passport == passport
                && data.birth_date == birth
                && data.inn.as_ref() == Some(&inn)
            {
                found = Some(account_id);
                break;
            }
        }
        let Some(account_id) = found else {
            let window = Duration::hours(1).num_microseconds().unwrap_or(i64::MAX);
            let block = Duration::hours(1).num_microseconds().unwrap_or(i64::MAX);
            for key in &keys {
                rows::throttle_failure(&self.db, key, now_us, window, 5, block).await?;
            }
            self.journal_alone(
                "recovery.passport_failed",
                Outcome::Denied,
                None,
                origin,
                serde_json::json!({}),
                now,
            )
            .await?;
            return Err(IdentityError::PassportMismatch);
        };
        self.issue_temporary_password(&account_id, Issuer::Passport, origin, now).await
    }

    // --- block and close -----------------------------------------------------------------

    /// Blocks the account at its owner's request: every session ends; signing in says it
    /// is blocked; recovery (by contact code, passport or operator) lifts the block.
    pub async fn block_account(
        &self,
        account_id: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.set_blocked(account_id, password, None, origin, now).await
    }

    /// Closes the account at its owner's request: blocked at once, personal data erased
    /// after [`CLOSING_GRACE_DAYS`] days unless recovery cancels it first. Returns the day
    /// of erasure.
    pub async fn close_account(
        &self,
        account_id: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, IdentityError> {
        let on = now + Duration::days(CLOSING_GRACE_DAYS);
        self.set_blocked(account_id, password, Some(on), origin, now).await?;
        Ok(on)
    }

    async fn set_blocked(
        &self,
        account_id: &str,
        password: &str,
        closing_on: Option<DateTime<Utc>>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.reauthenticate(account_id, password, "account.block_failed", origin, now).await?;
        let contacts = self.confirmed_contacts(account_id).await?;
        let now_us = to_micros(now);
        let (reason, action) = if closing_on.is_some() {
            ("closing", "account.closing")
        } else {
            ("self", "account.blocked")
        };
        let mut tx = self.db.begin().await?;
        sec::set_block(&mut tx, account_id, Some(reason), closing_on.map(to_micros), now_us)
            .await?;
        rows::end_sessions_of(&mut tx, account_id, None, now_us, action).await?;
        sec::revoke_devices(&mut tx, account_id, now_us).await?;
        store::oidc::revoke_account_grants(&mut tx, account_id, None, now_us).await?;
        self.journal(
            &mut tx,
            action,
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({}),
            now,
        )
        .await?;
        let closing_on = closing_on
            .map(|d| d.with_timezone(&domain::clock::moscow()).format("%d.%m.%Y").to_string());
        self.notify(&mut tx, &contacts, &Template::AccountBlocked { at: now, closing_on }, now)
            .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Erases the accounts whose closing grace period has ended; returns how many. Run
    /// periodically by the server.
    pub async fn erase_closed(&self, now: DateTime<Utc>) -> Result<usize, IdentityError> {
        let now_us = to_micros(now);
        let due = sec::closing_due(&mut *self.db.conn().await?, now_us, 100).await?;
        for account_id in &due {
            let mut tx = self.db.begin().await?;
            sec::erase_account(&mut tx, account_id, now_us).await?;
            let event = Event {
                at: now,
                actor: ActorKind::System,
                actor_id: None,
                subject_id: Some(account_id),
                action: "account.erased",
                outcome: Outcome::Ok,
                origin: &Origin::default(),
                details: serde_json::json!({}),
            };
            journal::record(&mut tx, &event).await?;
            commit(tx).await?;
        }
        Ok(due.len())
    }

    // --- «Мои данные» --------------------------------------------------------------------

    /// Everything the portal holds about the person, with the journal of every event and
    /// access concerning them. The download itself is journaled and announced.
    pub async fn export_data(
        &self,
        account_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<DataExport, IdentityError> {
        let account = self.account(account_id).await?;
        let row = rows::get_account(&self.db, account_id)
            .await?
            .ok_or(IdentityError::RegistrationGone)?;
        let documents = self.documents(account_id).await?;
        let security = self.security(account_id, now).await?;
        let sessions = rows::sessions_of(&self.db, account_id, 1000).await?;
        let contacts = self.confirmed_contacts(account_id).await?;
        // The export is itself an access: record it first so it appears in the journal.
        let mut tx = self.db.begin().await?;
        self.journal(
            &mut tx,
            "data.exported",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({}),
            now,
        )
        .await?;
        self.notify(&mut tx, &contacts, &Template::DataExported { at: now }, now).await?;
        commit(tx).await?;
        self.outbox.wake();
        let journal = store::journal::for_subject(&self.db, account_id, 10_000).await?;

        let full_name = [
            Some(account.surname.clone()),
            Some(account.given_name.clone()),
            account.patronymic.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let level = match account.level.as_str() {
            "standard" => "стандартная",
            "confirmed" => "подтверждённая",
            _ => "упрощённая",
        };
        let mut sections = vec![ExportSection {
            key: "account",
            title: "Учётная запись",
            rows: vec![
                ("id", "Идентификатор", account.id.clone()),
                ("surname", "Фамилия", account.surname.clone()),
                ("given_name", "Имя", account.given_name.clone()),
                ("patronymic", "Отчество", account.patronymic.clone().unwrap_or_default()),
                ("level", "Уровень", level.into()),
                ("status", "Состояние", row.status.clone()),
                ("created_at", "Зарегистрирована", when(row.created_at)),
                ("password_changed_at", "Пароль изменён", when(row.password_changed_at)),
                ("terms_version", "Условия использования, редакция", row.terms_version.clone()),
                ("terms_accepted_at", "Условия приняты", when(row.terms_accepted_at)),
                ("pd_version", "Согласие на обработку данных, редакция", row.pd_version.clone()),
                ("pd_accepted_at", "Согласие дано", when(row.pd_accepted_at)),
            ],
            table: None,
        }];
        sections.push(ExportSection {
            key: "contacts",
            title: "Контакты",
            rows: Vec::new(),
            table: Some(ExportTable {
                columns: vec![("kind", "Вид"), ("value", "Значение"), ("confirmed", "Подтверждён")],
                rows: account
                    .contacts
                    .iter()
                    .map(|c| {
                        vec![
                            if c.kind == "phone" {
                                "телефон"
                            } else {
                                "электронная почта"
                            }
                            .into(),
                            c.value.clone(),
                            if c.confirmed { "да" } else { "нет" }.into(),
                        ]
                    })
                    .collect(),
            }),
        });
        let document_rows =
            |d: &crate::documents::PersonalData| -> Vec<(&'static str, &'static str, String)> {
                vec![
                    ("surname", "Фамилия", d.surname.clone()),
                    ("given_name", "Имя", d.given_name.clone()),
                    ("patronymic", "Отчество", d.patronymic.clone().unwrap_or_default()),
                    ("birth_date", "Дата рождения", date(d.birth_date)),
                    ("birth_place", "Место рождения", d.birth_place.clone()),
                    ("passport", "Паспорт", d.passport.as_str().to_owned()),
                    ("passport_issued_on", "Дата выдачи паспорта", date(d.passport_issued_on)),
                    ("passport_issued_by", "Кем выдан", d.passport_issued_by.clone()),
                    (
                        "passport_division",
                        "Код подразделения",
                        d.passport_division.as_str().to_owned(),
                    ),
                    ("snils", "СНИЛС", d.snils.as_str().to_owned()),
                    (
                        "inn",
                        "ИНН",
                        d.inn.as_ref().map(|i| i.as_str().to_owned()).unwrap_or_default(),
                    ),
                    ("address", "Адрес регистрации", d.address.clone()),
                ]
            };
        if let Some(v) = &documents.verified {
            let mut rows = document_rows(v);
            rows.push((
                "verified_at",
                "Проверены",
                documents.verified_at.map(|t| when(to_micros(t))).unwrap_or_default(),
            ));
            sections.push(ExportSection {
                key: "documents",
                title: "Документы (проверены ведомствами)",
                rows,
                table: None,
            });
        }
        if let Some(p) = &documents.pending {
            let mut rows = document_rows(p);
            rows.push((
                "status",
                "Состояние проверки",
                documents.status.map(|s| s.label().to_owned()).unwrap_or_default(),
            ));
            sections.push(ExportSection {
                key: "documents_pending",
                title: "Документы (на проверке или не подтверждены)",
                rows,
                table: None,
            });
        }
        sections.push(ExportSection {
            key: "security",
            title: "Безопасность",
            rows: vec![
                (
                    "totp",
                    "Приложение для кодов",
                    if security.totp { "включено" } else { "отключено" }.into(),
                ),
                ("sms", "Коды по SMS", if security.sms { "включены" } else { "отключены" }.into()),
                (
                    "backup_codes_unused",
                    "Резервные коды, не использованы",
                    security.backup_unused.to_string(),
                ),
                (
                    "remembered_devices",
                    "Запомненные устройства",
                    security.devices.len().to_string(),
                ),
            ],
            table: None,
        });
        sections.push(ExportSection {
            key: "sessions",
            title: "Сеансы",
            rows: Vec::new(),
            table: Some(ExportTable {
                columns: vec![
                    ("started", "Начало"),
                    ("last_seen", "Последнее действие"),
                    ("device", "Устройство"),
                    ("ip", "IP"),
                    ("ended", "Завершён"),
                ],
                rows: sessions
                    .iter()
                    .map(|s| {
                        vec![
                            when(s.created_at),
                            when(s.last_seen_at),
                            crate::device_of(s.user_agent.as_deref()),
                            s.ip.clone().unwrap_or_default(),
                            s.ended_at.map(when).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            }),
        });
        sections.push(ExportSection {
            key: "journal",
            title: "Журнал событий и обращений к данным",
            rows: Vec::new(),
            table: Some(ExportTable {
                columns: vec![
                    ("at", "Время (МСК)"),
                    ("actor", "Кто"),
                    ("action", "Действие"),
                    ("outcome", "Результат"),
                    ("ip", "IP"),
                ],
                rows: journal
                    .iter()
                    .map(|j| {
                        let actor = match j.actor_kind.as_str() {
                            "citizen" if j.actor_id.as_deref() == Some(account_id) => {
                                "вы".to_owned()
                            }
                            "operator" => {
                                format!("оператор {}", j.actor_id.clone().unwrap_or_default())
                            }
                            "officer" => format!(
                                "сотрудник ведомства {}",
                                j.actor_id.clone().unwrap_or_default()
                            ),
                            "system" => "система".to_owned(),
                            _ => "без входа".to_owned(),
                        };
                        vec![
                            when(j.at),
                            actor,
                            j.action.clone(),
                            j.outcome.clone(),
                            j.ip.clone().unwrap_or_default(),
                        ]
                    })
                    .collect(),
            }),
        });
        Ok(DataExport { generated_at: now, full_name, sections })
    }
}
