//! Confirmation by registered letter («Заказное письмо с кодом подтверждения»). A person
//! with a standard account orders a letter to the registration address of their verified
//! documents; a batch job prints the ordered letters for the post office; the code typed
//! from the letter confirms the account.
//!
//! The code is 8 characters of an alphabet without look-alikes (no 0/O, 1/I/L), printed
//! as `XXXX-XXXX`: about 40 bits, so five tries per letter leave a guesser nothing, even
//! one who orders letter after letter, and it does not look like the six-digit SMS codes
//! that people are taught to expect by phone. What is typed is forgiving: any case,
//! spaces and dashes ignored, and the Cyrillic letters that look like Latin ones
//! (А, В, Е, К, М, Н, Р, С, Т, У, Х, З) read as those.
//!
//! Until the letter is printed the code is kept sealed by the vault (the batch must put
//! it on paper) beside its keyed hash; printing erases the ciphertext and only the hash
//! remains. The code is valid for 30 days **from sending**, not from ordering: a batch
//! may run days after the order and the post takes one to two weeks, and «действует 30
//! дней» is what the letter says — the last day is printed on it. States: `requested` →
//! `sent` → `used` / `expired` / `cancelled` (by the person, or after 5 wrong codes).

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use domain::FieldError;
use journal::{ActorKind, Event, Origin, Outcome};
use notify::Template;
use serde::{Deserialize, Serialize};
use store::letters::{self as rows, LetterRow};
use store::{from_micros, to_micros};

use crate::{Identity, IdentityError};

/// Characters of a code: digits and upper-case Latin letters without 0, 1, I, L, O.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a code (shown as two groups of four).
pub const CODE_LEN: usize = 8;
/// Days a code is valid, counted from the day the letter is sent.
pub const VALID_DAYS: i64 = 30;
/// Wrong codes that cancel a letter.
pub const ATTEMPTS: i64 = 5;
/// Letters one account may order within a year (each is a paid registered letter).
pub const PER_YEAR: i64 = 5;

const RECIPIENT: &str = "letter_requests.recipient";
const CODE: &str = "letter_requests.code";
const HASH: &str = "letter";

/// Where a letter request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterState {
    /// «Заказано»: waiting for the print batch.
    Requested,
    /// «Отправлено»: printed and handed to the post; the code can be entered.
    Sent,
    /// «Использовано»: the code confirmed the account.
    Used,
    /// «Истекло»: the code was not entered in time.
    Expired,
    /// «Отменено»: by the person, or after too many wrong codes.
    Cancelled,
}

impl LetterState {
    /// The state of `row` at `now`: a sent letter past its expiry is expired even before
    /// anyone looked at it.
    fn of(row: &LetterRow, now: DateTime<Utc>) -> Self {
        match row.status.as_str() {
            "requested" => Self::Requested,
            "sent" if row.expires_at.is_some_and(|e| e <= to_micros(now)) => Self::Expired,
            "sent" => Self::Sent,
            "used" => Self::Used,
            "expired" => Self::Expired,
            _ => Self::Cancelled,
        }
    }

    /// A stable code, as in the API.
    pub fn code(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Sent => "sent",
            Self::Used => "used",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The Russian label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Requested => "Заказано",
            Self::Sent => "Отправлено",
            Self::Used => "Использовано",
            Self::Expired => "Истекло",
            Self::Cancelled => "Отменено",
        }
    }

    /// The Russian label of a stored status or state code (`requested`, …).
    pub fn label_of(code: &str) -> &'static str {
        match code {
            "requested" => Self::Requested.label(),
            "sent" => Self::Sent.label(),
            "used" => Self::Used.label(),
            "expired" => Self::Expired.label(),
            _ => Self::Cancelled.label(),
        }
    }
}

/// The recipient block of a letter: as printed on the envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// «Фамилия Имя Отчество» in the nominative, which the post accepts; an automatic
    /// dative would get unusual surnames wrong.
    pub name: String,
    /// The registration address without its postal index.
    pub address: String,
    /// Six digits; `None` when the address has none and none was given.
    pub postal_index: Option<String>,
}

/// A letter request as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LetterView {
    /// The request number, printed on the letter.
    pub reference: String,
    pub state: LetterState,
    pub requested_at: DateTime<Utc>,
    /// When the letter was printed and handed to the post.
    pub sent_at: Option<DateTime<Utc>>,
    /// The last day the code is accepted (Moscow).
    pub expires_on: Option<NaiveDate>,
    pub attempts_left: i64,
    /// Why it was closed: `confirmed`, `citizen` (cancelled), `attempts`, `expired`.
    pub close_reason: Option<String>,
    pub recipient: Recipient,
}

/// A letter of the print batch: the request and what goes on paper.
#[derive(Debug, Clone)]
pub struct PendingLetter {
    pub id: String,
    pub account_id: String,
    pub letter: printing::Letter,
}

/// Splits the postal index (the first run of exactly six digits) off an address.
pub fn split_index(address: &str) -> (String, Option<String>) {
    let bytes = address.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at].is_ascii_digit() {
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            if at - start == 6 {
                let rest = format!("{} {}", &address[..start], &address[at..]);
                let tidy: Vec<String> = rest
                    .split(',')
                    .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|p| !p.is_empty())
                    .collect();
                return (tidy.join(", "), Some(address[start..at].to_owned()));
            }
        } else {
            at += 1;
        }
    }
    (address.trim().to_owned(), None)
}

/// Checks a postal index typed by the person: six digits.
pub fn parse_postal_index(input: &str) -> Result<String, FieldError> {
    let v: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if v.is_empty() {
        Err(FieldError::Empty)
    } else if !v.bytes().all(|b| b.is_ascii_digit()) {
        Err(FieldError::Characters { allowed: "цифры" })
    } else if v.len() != 6 {
        Err(FieldError::Length { expected: "6 цифр" })
    } else {
        Ok(v)
    }
}

/// Reads a typed code: any case, spaces and dashes ignored, Cyrillic look-alikes as
/// Latin. Returns the 8 characters without the dash.
pub fn normalize_code(input: &str) -> Result<String, FieldError> {
    let mut code = String::with_capacity(CODE_LEN);
    for ch in input.chars() {
        if ch.is_whitespace() || matches!(ch, '-' | '‐' | '–' | '—') {
            continue;
        }
        let up = ch.to_uppercase().next().unwrap_or(ch);
        let latin = match up {
            'А' => 'A',
            'В' => 'B',
            'Е' => 'E',
            'К' => 'K',
            'М' => 'M',
            'Н' => 'H',
            'Р' => 'P',
            'С' => 'C',
            'Т' => 'T',
            'У' => 'Y',
            'Х' => 'X',
            'З' => '3',
            other => other,
        };
        if !latin.is_ascii() || !ALPHABET.contains(&(latin as u8)) {
            return Err(FieldError::Characters {
                allowed: "латинские буквы и цифры, как в письме",
            });
        }
        code.push(latin);
    }
    match code.len() {
        0 => Err(FieldError::Empty),
        CODE_LEN => Ok(code),
        _ => Err(FieldError::Length { expected: "8 символов, например 7KQM-2X9P" }),
    }
}

/// A fresh code from the OS-seeded generator.
fn new_code() -> String {
    (0..CODE_LEN).map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())])).collect()
}

/// `ABCD-EFGH`, as printed.
fn printed(code: &str) -> String {
    format!("{}-{}", &code[..CODE_LEN / 2], &code[CODE_LEN / 2..])
}

/// The first instant after `day` in Moscow: a code valid «до DD.MM.YYYY» is accepted
/// through the whole of that day.
fn after_moscow_day(day: NaiveDate) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day).and_time(NaiveTime::MIN);
    next.and_local_timezone(domain::clock::moscow())
        .single()
        .map_or_else(|| next.and_utc(), |t| t.with_timezone(&Utc))
}

/// The sender used to check, when a letter is ordered, that its recipient block prints;
/// the sender block itself is the batch's business.
fn probe_sender() -> printing::Sender {
    printing::Sender {
        name: printing::Sender::PORTAL.to_owned(),
        address: "—".to_owned(),
        website: "uslugi".to_owned(),
        support: "—".to_owned(),
    }
}

impl Identity {
    fn letter_hash(&self, id: &str, code: &str) -> String {
        self.vault.secret_hash(HASH, &format!("{id}:{code}"))
    }

    fn open_recipient(&self, row: &LetterRow) -> Result<Recipient, IdentityError> {
        let json = self.vault.decrypt(&row.recipient, RECIPIENT)?;
        serde_json::from_str(&json).map_err(|e| IdentityError::Internal(e.to_string()))
    }

    fn letter_view(
        &self,
        row: &LetterRow,
        now: DateTime<Utc>,
    ) -> Result<LetterView, IdentityError> {
        let state = LetterState::of(row, now);
        Ok(LetterView {
            reference: row.id.clone(),
            state,
            requested_at: from_micros(row.requested_at),
            sent_at: row.printed_at.map(from_micros),
            expires_on: row
                .expires_at
                .map(|e| domain::moscow_date(from_micros(e) - Duration::microseconds(1))),
            attempts_left: (ATTEMPTS - row.attempts).max(0),
            close_reason: row
                .close_reason
                .clone()
                .or_else(|| (state == LetterState::Expired).then(|| "expired".to_owned())),
            recipient: self.open_recipient(row)?,
        })
    }

    #[allow(clippy::too_many_arguments)] // private; one call per step
    async fn journal_letter(
        &self,
        conn: &mut store::Conn,
        actor: ActorKind,
        account_id: &str,
        action: &str,
        outcome: Outcome,
        origin: &Origin,
        details: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let event = Event {
            at: now,
            actor,
            actor_id: (actor == ActorKind::Citizen).then_some(account_id),
            subject_id: Some(account_id),
            action,
            outcome,
            origin,
            details,
        };
        journal::record(conn, &event).await?;
        Ok(())
    }

    /// Where a letter would go: the name and registration address of the verified
    /// documents, the postal index split off. Refuses an account that may not be
    /// confirmed (not standard, or already confirmed).
    pub async fn letter_address(&self, account_id: &str) -> Result<Recipient, IdentityError> {
        self.may_confirm(account_id).await?;
        let verified =
            self.documents(account_id).await?.verified.ok_or(IdentityError::NotStandard)?;
        let name =
            [Some(&verified.surname), Some(&verified.given_name), verified.patronymic.as_ref()]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ");
        let (address, postal_index) = split_index(&verified.address);
        Ok(Recipient { name, address, postal_index })
    }

    /// The newest letter request of an account, if any.
    pub async fn letter(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<LetterView>, IdentityError> {
        rows::latest(&self.db, account_id).await?.map(|r| self.letter_view(&r, now)).transpose()
    }

    /// Orders a letter to the verified registration address. `postal_index` is used when
    /// the address has none (then it is required: six digits).
    pub async fn request_letter(
        &self,
        account_id: &str,
        postal_index: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<LetterView, IdentityError> {
        let mut recipient = self.letter_address(account_id).await?;
        if recipient.postal_index.is_none() {
            let typed = parse_postal_index(postal_index.unwrap_or_default())
                .map_err(|e| IdentityError::Fields(vec![("postal_index", e)]))?;
            recipient.postal_index = Some(typed);
        }
        let code = new_code();
        let today = domain::moscow_date(now);
        let probe = printing::Letter {
            recipient_name: recipient.name.clone(),
            postal_address: recipient.address.clone(),
            postal_index: recipient.postal_index.clone(),
            code: printed(&code),
            expires_on: today,
            issued_on: today,
            reference: uuid::Uuid::nil().to_string(),
        };
        match printing::registered_letters(&probe_sender(), &[probe]) {
            Ok(_) => {}
            Err(printing::PrintError::Letter { .. }) => {
                return Err(IdentityError::AddressUnprintable);
            }
            Err(e) => return Err(IdentityError::Internal(e.to_string())),
        }
        let id = uuid::Uuid::now_v7().to_string();
        let row = LetterRow {
            id: id.clone(),
            account_id: account_id.to_owned(),
            status: "requested".into(),
            recipient: self
                .vault
                .encrypt(&serde_json::to_string(&recipient).unwrap_or_default(), RECIPIENT),
            code_sealed: Some(self.vault.encrypt(&code, CODE)),
            code_hash: self.letter_hash(&id, &code),
            attempts: 0,
            requested_at: to_micros(now),
            printed_at: None,
            expires_at: None,
            closed_at: None,
            close_reason: None,
        };
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        if let Some(old) = rows::expire_due(&mut tx, account_id, now_us).await? {
            let details = serde_json::json!({ "letter": old });
            self.journal_letter(
                &mut tx,
                ActorKind::System,
                account_id,
                "letter.expired",
                Outcome::Ok,
                &Origin::default(),
                details,
                now,
            )
            .await?;
        }
        let year_ago = to_micros(now - Duration::days(365));
        if rows::count_since(&mut tx, account_id, year_ago).await? >= PER_YEAR {
            return Err(IdentityError::TooManyLetters);
        }
        if !rows::insert(&mut tx, &row).await? {
            return Err(IdentityError::LetterActive);
        }
        let details = serde_json::json!({ "letter": id });
        self.journal_letter(
            &mut tx,
            ActorKind::Citizen,
            account_id,
            "letter.requested",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        let contacts = self.confirmed_contacts_in(&mut tx, account_id).await?;
        self.notify(&mut tx, &contacts, &Template::LetterRequested, now).await?;
        crate::commit(tx).await?;
        self.outbox.wake();
        self.letter_view(&row, now)
    }

    /// Cancels the active letter (ordered or sent): its code stops working.
    pub async fn cancel_letter(
        &self,
        account_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let mut tx = self.db.begin().await?;
        let row = rows::latest_in(&mut tx, account_id).await?;
        let Some(row) = row.filter(|r| matches!(r.status.as_str(), "requested" | "sent")) else {
            return Err(IdentityError::LetterNone);
        };
        if !rows::close(&mut tx, &row.id, "cancelled", "citizen", to_micros(now)).await? {
            return Err(IdentityError::LetterNone);
        }
        let details = serde_json::json!({ "letter": row.id, "reason": "citizen" });
        self.journal_letter(
            &mut tx,
            ActorKind::Citizen,
            account_id,
            "letter.cancelled",
            Outcome::Ok,
            origin,
            details,
            now,
        )
        .await?;
        crate::commit(tx).await
    }

    /// Checks a code typed from the letter. The right one marks the letter used and
    /// confirms the account in the same transaction; a wrong one is counted, and the
    /// last allowed wrong one cancels the letter.
    pub async fn confirm_letter(
        &self,
        account_id: &str,
        typed: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let code = normalize_code(typed).map_err(|e| IdentityError::Fields(vec![("code", e)]))?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let Some(row) = rows::latest_in(&mut tx, account_id).await? else {
            return Err(IdentityError::LetterNone);
        };
        match (row.status.as_str(), row.close_reason.as_deref()) {
            ("requested", _) => return Err(IdentityError::LetterNotSent),
            ("sent", _) => {}
            ("expired", _) => return Err(IdentityError::LetterExpired),
            ("cancelled", Some("attempts")) => return Err(IdentityError::LetterExhausted),
            ("used", _) => return Err(IdentityError::AlreadyConfirmed),
            _ => return Err(IdentityError::LetterNone),
        }
        let letter = serde_json::json!(row.id);
        if row.expires_at.is_some_and(|e| e <= now_us) {
            rows::expire_due(&mut tx, account_id, now_us).await?;
            let details = serde_json::json!({ "letter": letter });
            self.journal_letter(
                &mut tx,
                ActorKind::System,
                account_id,
                "letter.expired",
                Outcome::Ok,
                &Origin::default(),
                details,
                now,
            )
            .await?;
            crate::commit(tx).await?;
            return Err(IdentityError::LetterExpired);
        }
        let Some(attempt) = rows::reserve_attempt(&mut tx, &row.id, now_us, ATTEMPTS).await? else {
            return Err(IdentityError::LetterExhausted);
        };
        if crate::same(&self.letter_hash(&row.id, &code), &row.code_hash) {
            rows::close(&mut tx, &row.id, "used", "confirmed", now_us).await?;
            let details = serde_json::json!({ "letter": letter });
            self.journal_letter(
                &mut tx,
                ActorKind::Citizen,
                account_id,
                "letter.used",
                Outcome::Ok,
                origin,
                details.clone(),
                now,
            )
            .await?;
            self.confirm_account(
                &mut tx,
                account_id,
                crate::confirm::ConfirmRoute::Letter,
                crate::confirm::Confirmer::Citizen,
                origin,
                details,
                now,
            )
            .await?;
            crate::commit(tx).await?;
            self.outbox.wake();
            return Ok(());
        }
        let details = serde_json::json!({ "letter": letter, "attempts": attempt });
        self.journal_letter(
            &mut tx,
            ActorKind::Citizen,
            account_id,
            "letter.code_failed",
            Outcome::Denied,
            origin,
            details,
            now,
        )
        .await?;
        if attempt >= ATTEMPTS {
            rows::close(&mut tx, &row.id, "cancelled", "attempts", now_us).await?;
            let details = serde_json::json!({ "letter": letter, "reason": "attempts" });
            self.journal_letter(
                &mut tx,
                ActorKind::System,
                account_id,
                "letter.cancelled",
                Outcome::Denied,
                &Origin::default(),
                details,
                now,
            )
            .await?;
            crate::commit(tx).await?;
            return Err(IdentityError::LetterExhausted);
        }
        crate::commit(tx).await?;
        Err(IdentityError::CodeWrong { left: ATTEMPTS - attempt })
    }

    /// The letters waiting to be printed, with their codes, as they go on paper when
    /// printed at `now` (dated today, valid for [`VALID_DAYS`] days). For the print batch
    /// only: the codes leave the vault here.
    pub async fn letters_to_print(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<PendingLetter>, IdentityError> {
        let issued_on = domain::moscow_date(now);
        let expires_on = issued_on + Duration::days(VALID_DAYS);
        rows::to_print(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                let recipient = self.open_recipient(&row)?;
                let sealed = row.code_sealed.as_deref().unwrap_or_default();
                let code = self.vault.decrypt(sealed, CODE)?;
                Ok(PendingLetter {
                    letter: printing::Letter {
                        recipient_name: recipient.name,
                        postal_address: recipient.address,
                        postal_index: recipient.postal_index,
                        code: printed(&code),
                        expires_on,
                        issued_on,
                        reference: row.id.clone(),
                    },
                    id: row.id,
                    account_id: row.account_id,
                })
            })
            .collect()
    }

    /// Records that `letters` were printed at `now` (the same `now` they were prepared
    /// with), in one transaction: each becomes sent with its expiry, its code's
    /// ciphertext is erased, the person is told. Returns the ids marked; a letter
    /// cancelled after it was prepared is left out (its printed code does not work).
    pub async fn mark_letters_printed(
        &self,
        letters: &[PendingLetter],
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, IdentityError> {
        let now_us = to_micros(now);
        let mut marked = Vec::new();
        let mut tx = self.db.begin().await?;
        for pending in letters {
            let expires_on = pending.letter.expires_on;
            let expires_at = to_micros(after_moscow_day(expires_on));
            if !rows::mark_printed(&mut tx, &pending.id, now_us, expires_at).await? {
                continue;
            }
            let details = serde_json::json!({ "letter": pending.id, "expires_on": expires_on });
            self.journal_letter(
                &mut tx,
                ActorKind::System,
                &pending.account_id,
                "letter.printed",
                Outcome::Ok,
                &Origin::default(),
                details,
                now,
            )
            .await?;
            let contacts = self.confirmed_contacts_in(&mut tx, &pending.account_id).await?;
            self.notify(&mut tx, &contacts, &Template::LetterSent { expires_on }, now).await?;
            marked.push(pending.id.clone());
        }
        crate::commit(tx).await?;
        Ok(marked)
    }

    /// How many letter requests are in each state at `now` (state code, count).
    pub async fn letter_counts(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, IdentityError> {
        Ok(rows::counts(&self.db, to_micros(now)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_split_off_wherever_it_stands() {
        let cases = [
            (
                "119021, г. Москва, ул. Льва Толстого, д. 16, кв. 5",
                "г. Москва, ул. Льва Толстого, д. 16, кв. 5",
                Some("119021"),
            ),
            (
                "г. Москва, ул. Тверская, д. 7, 125009",
                "г. Москва, ул. Тверская, д. 7",
                Some("125009"),
            ),
            ("г. Пермь, 614000 ул. Ленина, д. 1", "г. Пермь, ул. Ленина, д. 1", Some("614000")),
            ("г. Москва, ул. Тверская, д. 1234567", "г. Москва, ул. Тверская, д. 1234567", None),
            ("г. Москва, ул. Тверская, д. 7", "г. Москва, ул. Тверская, д. 7", None),
        ];
        for (address, rest, index) in cases {
            let (a, i) = split_index(address);
            assert_eq!((a.as_str(), i.as_deref()), (rest, index), "{address}");
        }
    }

    #[test]
    fn codes_read_forgivingly_but_only_from_the_alphabet() {
        assert_eq!(normalize_code("7kqm-2x9p").as_deref(), Ok("7KQM2X9P"));
        assert_eq!(normalize_code(" 7KQM 2X9P ").as_deref(), Ok("7KQM2X9P"));
        // Cyrillic К, М, Х typed on a Russian layout.
        assert_eq!(normalize_code("7КQМ-2Х9P").as_deref(), Ok("7KQM2X9P"));
        assert_eq!(normalize_code(""), Err(FieldError::Empty));
        assert!(matches!(normalize_code("7KQM-2X9"), Err(FieldError::Length { .. })));
        assert!(matches!(normalize_code("0KQM-2X9P"), Err(FieldError::Characters { .. })));
        for _ in 0..100 {
            let code = new_code();
            assert_eq!(normalize_code(&printed(&code)), Ok(code));
        }
    }

    #[test]
    fn a_code_is_accepted_through_its_last_day_in_moscow() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 22).unwrap();
        assert_eq!(after_moscow_day(day).to_rfc3339(), "2026-12-22T21:00:00+00:00");
    }

    #[test]
    fn postal_indexes_are_six_digits() {
        assert_eq!(parse_postal_index(" 119 021").as_deref(), Ok("119021"));
        assert_eq!(parse_postal_index(""), Err(FieldError::Empty));
        assert!(matches!(parse_postal_index("11902"), Err(FieldError::Length { .. })));
        assert!(matches!(parse_postal_index("11902a"), Err(FieldError::Characters { .. })));
    }
}
