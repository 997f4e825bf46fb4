//! The confirmed account by qualified electronic signature (квалифицированная электронная
//! подпись): the portal hands out a **challenge** — a short Russian text with a random
//! request code and the date — and the person signs it with their qualified certificate
//! (a token with CryptoPro, a browser plug-in, OpenSSL with the GOST engine) and sends
//! the detached signature back.
//!
//! The signature must verify over exactly the challenge's bytes, chain to a configured
//! root and be valid now ([`qes::verify_detached`]); then the certificate's subject must
//! be the person whose documents the registries verified: the same SNILS (required), the
//! same INN when both have one, the same surname and given name (and patronymic, when the
//! certificate's GN holds «Имя Отчество»), compared without case and with «ё» as «е».
//!
//! A challenge is single use (the confirmation uses it up in the transaction that raises
//! the level), expires after [`CHALLENGE_TTL`] and allows [`MAX_ATTEMPTS`] attempts; a
//! refused attempt is journaled with its code and leaves the challenge usable. Nothing
//! here logs or journals personal data: refusals name the field that differs, never its
//! value.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use domain::FieldError;
use journal::Outcome;
use qes::{QesError, TrustStore, Verified};
use serde::Serialize;
use store::signature::{self as rows, ChallengeRow};
use store::{from_micros, to_micros};

use crate::confirm::{ConfirmRoute, Confirmer};
use crate::documents::PersonalData;
use crate::{Identity, IdentityError, Origin};

/// How long a challenge may be signed and sent back.
pub const CHALLENGE_TTL: Duration = Duration::minutes(30);
/// Verification attempts one challenge allows.
pub const MAX_ATTEMPTS: i64 = 5;
/// The largest certificate or signature file accepted (real ones are 1–10 KiB).
pub const MAX_FILE: usize = 64 * 1024;

/// A challenge to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    pub id: String,
    /// The exact text; its UTF-8 bytes are what must be signed.
    pub text: String,
    pub expires_at: DateTime<Utc>,
    /// Attempts left with this challenge.
    pub attempts_left: i64,
}

impl From<ChallengeRow> for Challenge {
    fn from(r: ChallengeRow) -> Self {
        Self {
            attempts_left: (MAX_ATTEMPTS - r.attempts).max(0),
            id: r.id,
            text: r.text,
            expires_at: from_micros(r.expires_at),
        }
    }
}

/// What the person sends: the challenge's id, the detached signature (DER, PEM or
/// base64) and, if the signature does not embed it, the certificate (DER or PEM).
#[derive(Debug, Clone, Copy)]
pub struct SignedChallenge<'a> {
    pub challenge_id: &'a str,
    pub certificate: Option<&'a [u8]>,
    pub signature: &'a [u8],
}

/// What a confirmation by signature found (no personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureConfirmed {
    /// The signature algorithm's code (`gost2012_256`, …).
    pub algorithm: &'static str,
    /// The issuing CA's name.
    pub issuer: String,
    /// The certificate's serial number, upper-case hex.
    pub serial: String,
}

/// A part of the certificate's subject that does not match the account's verified data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// The certificate has no SNILS: it is not a person's qualified certificate.
    NoSnils,
    Snils,
    Inn,
    NoSurname,
    Surname,
    NoGivenName,
    GivenName,
    Patronymic,
}

impl Mismatch {
    /// The field, for the journal and the API.
    pub fn field(self) -> &'static str {
        match self {
            Self::NoSnils | Self::Snils => "snils",
            Self::Inn => "inn",
            Self::NoSurname | Self::Surname => "surname",
            Self::NoGivenName | Self::GivenName => "given_name",
            Self::Patronymic => "patronymic",
        }
    }

    /// What differs, in Russian, without the values.
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoSnils => "в сертификате не указан СНИЛС",
            Self::Snils => "СНИЛС в сертификате не совпадает с СНИЛС учётной записи",
            Self::Inn => "ИНН в сертификате не совпадает с ИНН учётной записи",
            Self::NoSurname => "в сертификате не указана фамилия",
            Self::Surname => "фамилия в сертификате не совпадает с фамилией в учётной записи",
            Self::NoGivenName => "в сертификате не указано имя",
            Self::GivenName => "имя в сертификате не совпадает с именем в учётной записи",
            Self::Patronymic => "отчество в сертификате не совпадает с отчеством в учётной записи",
        }
    }
}

/// Why a confirmation by signature was refused. `Display` is the Russian message.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The server has no trusted root certificates.
    #[error(
        "подтверждение электронной подписью на этом сервере не настроено: не задано ни одного \
         доверенного удостоверяющего центра. Выберите другой способ подтверждения"
    )]
    NotConfigured,
    /// No such challenge for this account, or it was used or has expired.
    #[error("запрос на подпись устарел или уже использован. Скачайте новый запрос и подпишите его")]
    ChallengeGone,
    /// The challenge's attempts are used up.
    #[error("слишком много попыток с этим запросом. Скачайте новый запрос и подпишите его заново")]
    ChallengeExhausted,
    /// The signature or the certificate did not verify.
    #[error("{0}")]
    Invalid(QesError),
    /// The certificate is valid but names someone else.
    #[error(
        "сертификат выдан не владельцу учётной записи: {}",
        .0.iter().map(|m| m.reason()).collect::<Vec<_>>().join("; ")
    )]
    Mismatch(Vec<Mismatch>),
}

impl SignatureError {
    /// A stable code for the API and the journal.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "signature_not_configured",
            Self::ChallengeGone => "challenge_expired",
            Self::ChallengeExhausted => "challenge_exhausted",
            Self::Invalid(e) => e.code(),
            Self::Mismatch(_) => "subject_mismatch",
        }
    }
}

impl From<SignatureError> for IdentityError {
    fn from(e: SignatureError) -> Self {
        Self::Signature(e)
    }
}

/// Names as compared: lower case, «ё» as «е», single spaces.
fn fold(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase().replace('ё', "е")
}

/// What in `subject` differs from the verified data `person`.
fn mismatches(subject: &qes::Subject, person: &PersonalData) -> Vec<Mismatch> {
    let mut out = Vec::new();
    match subject.snils.as_deref() {
        None => out.push(Mismatch::NoSnils),
        Some(snils) if snils != person.snils.digits() => out.push(Mismatch::Snils),
        Some(_) => {}
    }
    if let (Some(cert), Some(own)) = (subject.inn.as_deref(), person.inn.as_ref())
        && cert != own.as_str()
    {
        out.push(Mismatch::Inn);
    }
    match subject.surname.as_deref() {
        None => out.push(Mismatch::NoSurname),
        Some(s) if fold(s) != fold(&person.surname) => out.push(Mismatch::Surname),
        Some(_) => {}
    }
    // GOST certificates put «Имя Отчество» into GN; others the given name alone.
    match subject.given_name.as_deref().map(fold) {
        None => out.push(Mismatch::NoGivenName),
        Some(gn) => {
            let given = fold(&person.given_name);
            let full = person.patronymic.as_deref().map(|p| format!("{given} {}", fold(p)));
            if gn != given && Some(&gn) != full.as_ref() {
                let patronymic_differs = gn
                    .strip_prefix(&given)
                    .is_some_and(|rest| rest.starts_with(' ') && person.patronymic.is_some());
                out.push(if patronymic_differs {
                    Mismatch::Patronymic
                } else {
                    Mismatch::GivenName
                });
            }
        }
    }
    out
}

/// A new random request code: three groups of four digits.
fn request_code() -> String {
    let group = || format!("{:04}", rand::random_range(0..10_000u32));
    format!("{}-{}-{}", group(), group(), group())
}

/// The text to sign.
fn challenge_text(code: &str, now: DateTime<Utc>) -> String {
    let at = now.with_timezone(&domain::clock::moscow()).format("%d.%m.%Y %H:%M");
    format!(
        "Подтверждаю личность в учётной записи портала Uslugi. Код запроса: {code}. \
         Дата: {at} (МСК)."
    )
}

/// Checks the sizes of the uploaded files; each refusal names its field.
fn check_files(signed: &SignedChallenge<'_>) -> Result<(), IdentityError> {
    let mut fields = Vec::new();
    if signed.signature.iter().all(u8::is_ascii_whitespace) {
        fields.push((
            "signature",
            FieldError::Invalid {
                reason: "выберите файл подписи (.sig или .p7s)"
            },
        ));
    } else if signed.signature.len() > MAX_FILE {
        fields.push((
            "signature",
            FieldError::Invalid {
                reason: "файл подписи больше 64 КБ — это не файл подписи"
            },
        ));
    }
    if signed.certificate.is_some_and(|c| c.len() > MAX_FILE) {
        fields.push((
            "certificate",
            FieldError::Invalid {
                reason: "файл сертификата больше 64 КБ — это не сертификат"
            },
        ));
    }
    if fields.is_empty() { Ok(()) } else { Err(IdentityError::Fields(fields)) }
}

impl Identity {
    /// The account's challenge to sign: the live one, or a new one. The account must be
    /// standard (see [`Identity::may_confirm`]).
    pub async fn signature_challenge(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Challenge, IdentityError> {
        self.may_confirm(account_id).await?;
        let now_us = to_micros(now);
        let mut conn = self.db.conn().await?;
        if let Some(live) = rows::live(&mut conn, account_id, now_us, MAX_ATTEMPTS).await? {
            return Ok(live.into());
        }
        let row = ChallengeRow {
            id: uuid::Uuid::now_v7().to_string(),
            account_id: account_id.to_owned(),
            text: challenge_text(&request_code(), now),
            attempts: 0,
            created_at: now_us,
            expires_at: to_micros(now + CHALLENGE_TTL),
            used_at: None,
        };
        rows::insert(&mut conn, &row).await?;
        Ok(row.into())
    }

    /// Confirms the account with a signed challenge (see the module docs). `trust` is the
    /// configured roots; `None` when the server has none.
    pub async fn confirm_by_signature(
        &self,
        trust: Option<&Arc<TrustStore>>,
        account_id: &str,
        signed: SignedChallenge<'_>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<SignatureConfirmed, IdentityError> {
        let trust = trust.ok_or(SignatureError::NotConfigured)?;
        check_files(&signed)?;
        self.may_confirm(account_id).await?;
        let person =
            self.documents(account_id).await?.verified.ok_or(IdentityError::NotStandard)?;
        let now_us = to_micros(now);
        let challenge = {
            let mut conn = self.db.conn().await?;
            let challenge = rows::get(&mut conn, signed.challenge_id, account_id)
                .await?
                .filter(|c| c.used_at.is_none() && c.expires_at > now_us)
                .ok_or(SignatureError::ChallengeGone)?;
            // Count the attempt before the check, atomically: parallel uploads get no more
            // checks than allowed.
            if !rows::reserve_attempt(&mut conn, &challenge.id, account_id, now_us, MAX_ATTEMPTS)
                .await?
            {
                return Err(match rows::get(&mut conn, &challenge.id, account_id).await? {
                    Some(c) if c.used_at.is_none() && c.expires_at > now_us => {
                        SignatureError::ChallengeExhausted
                    }
                    _ => SignatureError::ChallengeGone,
                }
                .into());
            }
            challenge
        };
        let verified = match verify(trust, &challenge, &signed, now).await? {
            Ok(v) => v,
            Err(e) => {
                return Err(self
                    .refused(account_id, SignatureError::Invalid(e), origin, now)
                    .await);
            }
        };
        let differs = mismatches(&verified.subject, &person);
        if !differs.is_empty() {
            return Err(self
                .refused(account_id, SignatureError::Mismatch(differs), origin, now)
                .await);
        }
        let confirmed = SignatureConfirmed {
            algorithm: verified.algorithm.code(),
            issuer: verified.issuer.clone(),
            serial: verified.serial.clone(),
        };
        let mut tx = self.db.begin().await?;
        if !rows::use_up(&mut tx, &challenge.id, now_us).await? {
            return Err(SignatureError::ChallengeGone.into());
        }
        self.confirm_account(
            &mut tx,
            account_id,
            ConfirmRoute::Signature,
            Confirmer::Citizen,
            origin,
            serde_json::json!({
                "algorithm": confirmed.algorithm,
                "issuer": confirmed.issuer,
                "serial": confirmed.serial,
            }),
            now,
        )
        .await?;
        crate::commit(tx).await?;
        self.outbox.wake();
        Ok(confirmed)
    }

    /// Journals a refused attempt (its code, and the fields that differ) and gives back
    /// the error to return. The challenge stays usable.
    async fn refused(
        &self,
        account_id: &str,
        error: SignatureError,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> IdentityError {
        let mut details = serde_json::json!({ "code": error.code() });
        if let SignatureError::Mismatch(list) = &error {
            details["fields"] = list.iter().map(|m| m.field()).collect::<Vec<_>>().into();
        }
        let journaled = self
            .journal_alone(
                "signature.refused",
                Outcome::Denied,
                Some(account_id),
                origin,
                details,
                now,
            )
            .await;
        match journaled {
            Ok(()) => error.into(),
            Err(e) => e,
        }
    }
}

/// Runs the verification off the async workers (GOST arithmetic takes milliseconds).
async fn verify(
    trust: &Arc<TrustStore>,
    challenge: &ChallengeRow,
    signed: &SignedChallenge<'_>,
    now: DateTime<Utc>,
) -> Result<Result<Verified, QesError>, IdentityError> {
    let trust = Arc::clone(trust);
    let content = challenge.text.clone().into_bytes();
    let signature = signed.signature.to_vec();
    let certificate = signed.certificate.filter(|c| !c.is_empty()).map(<[u8]>::to_vec);
    tokio::task::spawn_blocking(move || {
        let extra: Vec<&[u8]> = certificate.as_deref().into_iter().collect();
        qes::verify_detached(&signature, &content, &extra, &trust, now)
    })
    .await
    .map_err(|e| IdentityError::Internal(format!("signature check: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use domain::ident::{DivisionCode, Inn, Passport, Snils};

    fn person() -> PersonalData {
        PersonalData {
            surname: "Демидова".into(),
            given_name: "Мария".into(),
            patronymic: Some("Ивановна".into()),
            birth_date: NaiveDate::from_ymd_opt(1988, 4, 12).unwrap(),
            birth_place: "г. Москва".into(),
            passport: Passport::parse("4510 654321").unwrap(),
            passport_issued_on: NaiveDate::from_ymd_opt(2008, 4, 25).unwrap(),
            passport_issued_by: "ОВД".into(),
            passport_division: DivisionCode::parse("770-005").unwrap(),
            snils: Snils::parse("123-456-789 64").unwrap(),
            inn: Some(Inn::parse_person("770123456703").unwrap()),
            address: "г. Москва".into(),
        }
    }

    fn subject(snils: &str, inn: Option<&str>, sn: &str, gn: &str) -> qes::Subject {
        qes::Subject {
            snils: Some(snils.into()),
            inn: inn.map(Into::into),
            surname: Some(sn.into()),
            given_name: Some(gn.into()),
            ..qes::Subject::default()
        }
    }

    #[test]
    fn the_subject_must_be_the_verified_person() {
        let p = person();
        let ok = |s: &qes::Subject| mismatches(s, &p);
        assert_eq!(ok(&subject("12345678964", None, "Демидова", "Мария Ивановна")), []);
        assert_eq!(ok(&subject("12345678964", Some("770123456703"), "ДЕМИДОВА", "мария")), []);
        // ё = е, extra spaces do not matter.
        let mut yo = person();
        yo.surname = "Дёмина".into();
        assert_eq!(
            mismatches(&subject("12345678964", None, " Демина ", "Мария  Ивановна"), &yo),
            []
        );
        assert_eq!(
            ok(&subject("11223344595", Some("500100732259"), "Иванова", "Мария Петровна")),
            [Mismatch::Snils, Mismatch::Inn, Mismatch::Surname, Mismatch::Patronymic]
        );
        assert_eq!(ok(&subject("12345678964", None, "Демидова", "Мариам")), [Mismatch::GivenName]);
        let none = qes::Subject::default();
        assert_eq!(ok(&none), [Mismatch::NoSnils, Mismatch::NoSurname, Mismatch::NoGivenName]);
        let e = SignatureError::Mismatch(vec![Mismatch::Snils]);
        assert_eq!(
            e.to_string(),
            "сертификат выдан не владельцу учётной записи: СНИЛС в сертификате не совпадает с \
             СНИЛС учётной записи"
        );
        assert_eq!(e.code(), "subject_mismatch");
    }

    #[test]
    fn a_challenge_names_its_code_and_moscow_date() {
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 22, 9, 0, 0).unwrap();
        let code = request_code();
        assert_eq!(code.len(), 14);
        assert_eq!(
            challenge_text("0001-0002-0003", now),
            "Подтверждаю личность в учётной записи портала Uslugi. Код запроса: 0001-0002-0003. \
             Дата: 22.11.2026 12:00 (МСК)."
        );
    }

    #[test]
    fn files_are_limited_per_field() {
        let big = vec![b'0'; MAX_FILE + 1];
        let signed =
            SignedChallenge { challenge_id: "x", certificate: Some(&big), signature: b" \n" };
        let Err(IdentityError::Fields(fields)) = check_files(&signed) else { panic!("refused") };
        let names: Vec<_> = fields.iter().map(|(f, _)| *f).collect();
        assert_eq!(names, ["signature", "certificate"]);
        assert!(fields[1].1.to_string().contains("файл сертификата"));
    }
}
