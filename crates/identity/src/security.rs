//! Account security (seed 002 «Управление настройками безопасности»): the second factor
//! (TOTP, SMS code, backup codes) at sign-in and in the settings, remembered devices, the
//! self-hosted captcha after failed sign-ins, the limit of concurrent sessions, ending one
//! session, and the one-click «это не я» of a new-device notice.

use chrono::{DateTime, Duration, Utc};
use journal::{Origin, Outcome};
use notify::{Channel, Template};
use store::identity::{self as rows, AccountRow};
use store::security as sec;
use store::{from_micros, to_micros};

use crate::{
    Contact, Identity, IdentityError, NewSession, commit, random_code, random_token, same,
};
use crate::{device_of, totp};

/// What a sign-in form sends.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignInAttempt<'a> {
    pub login: &'a str,
    pub password: &'a str,
    /// The captcha (id, answer), when one was shown.
    pub captcha: Option<(&'a str, &'a str)>,
    /// The «remembered device» cookie, if the browser has one.
    pub device_token: Option<&'a str>,
}

/// What a right password leads to.
#[derive(Debug, Clone)]
pub enum SignIn {
    Session(NewSession),
    /// The account has a second factor: prove it with [`Identity::complete_second_factor`].
    SecondFactor(SecondFactorChallenge),
}

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorChallenge {
    /// Held by the browser between the two steps.
    pub token: String,
    pub methods: Vec<Factor>,
    pub expires_at: DateTime<Utc>,
    /// The phone an SMS code goes to, masked; set when SMS is one of the methods.
    pub phone: Option<String>,
    /// True when the SMS code was already sent (SMS is the only code-based method).
    pub sms_sent: bool,
}

/// A second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// A code from an authenticator app (RFC 6238).
    Totp,
    /// A code sent by SMS to the confirmed phone.
    Sms,
    /// One of the ten one-time backup codes.
    Backup,
}

impl Factor {
    pub fn code(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Sms => "sms",
            Self::Backup => "backup",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "totp" => Some(Self::Totp),
            "sms" => Some(Self::Sms),
            "backup" => Some(Self::Backup),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Totp => "Код из приложения",
            Self::Sms => "Код из SMS",
            Self::Backup => "Резервный код",
        }
    }
}

/// The security settings as the cabinet shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityView {
    pub totp: bool,
    pub totp_since: Option<DateTime<Utc>>,
    pub sms: bool,
    /// The confirmed phone SMS codes would go to (masked), if the account has one.
    pub phone: Option<String>,
    pub backup_unused: i64,
    pub backup_total: i64,
    /// Remembered devices: (device, since, until).
    pub devices: Vec<(String, DateTime<Utc>, DateTime<Utc>)>,
}

/// A TOTP secret being set up: what the page shows.
#[derive(Debug, Clone)]
pub struct TotpSetup {
    /// The key in groups of four, for typing into the app by hand.
    pub key: String,
    pub uri: String,
    /// The `otpauth://` URI as an inline SVG QR code.
    pub qr_svg: String,
}

/// A captcha to show: an image, or — the accessible alternative — a question in words.
#[derive(Debug, Clone)]
pub struct Captcha {
    pub id: String,
    pub svg: Option<String>,
    pub question: Option<String>,
}

/// A change of the security settings.
#[derive(Debug)]
enum Change {
    EnableTotp { step: i64 },
    DisableTotp,
    Sms { on: bool },
    BackupCodes { hashes: Vec<String> },
}

const CHALLENGE_CONTEXT: &str = "signin-challenge";
const TOTP_CONTEXT: &str = "security.totp";
const BACKUP_CODES: usize = 10;

impl Identity {
    // --- sign-in ---------------------------------------------------------------------------

    /// After a right password: a session, or a challenge for the second factor. A
    /// remembered device skips the second factor.
    pub(crate) async fn after_password(
        &self,
        account: &AccountRow,
        device_token: Option<&str>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<SignIn, IdentityError> {
        let now_us = to_micros(now);
        let (factors, backup, phone) = {
            let mut conn = self.db.conn().await?;
            let factors = sec::factors(&mut conn, &account.id).await?;
            let (unused, _) = sec::backup_codes_count(&mut conn, &account.id).await?;
            let phone = self.confirmed_phone_in(&mut conn, &account.id).await?;
            (factors, unused, phone)
        };
        let totp_on = factors.totp_enabled_at.is_some();
        let sms_on = factors.sms_enabled_at.is_some() && phone.is_some();
        if !totp_on && !sms_on {
            return Ok(SignIn::Session(self.finish_sign_in(account, None, origin, now).await?));
        }
        if let Some(token) = device_token {
            let id = self.vault.secret_hash("device", token);
            if sec::device_trusted(&mut *self.db.conn().await?, &id, &account.id, now_us).await? {
                let session = self.finish_sign_in(account, Some("device"), origin, now).await?;
                return Ok(SignIn::Session(session));
            }
        }
        let mut methods = Vec::new();
        if totp_on {
            methods.push(Factor::Totp);
        }
        if sms_on {
            methods.push(Factor::Sms);
        }
        if backup > 0 {
            methods.push(Factor::Backup);
        }
        let token = random_token();
        let expires_at = now + self.policy.second_factor_ttl;
        let row = sec::ChallengeRow {
            id: self.vault.secret_hash(CHALLENGE_CONTEXT, &token),
            account_id: account.id.clone(),
            sms_code_hash: None,
            sms_sent_at: None,
            attempts: 0,
            created_at: now_us,
            expires_at: to_micros(expires_at),
            used_at: None,
        };
        let mut tx = self.db.begin().await?;
        sec::insert_challenge(&mut tx, &row).await?;
        self.journal(
            &mut tx,
            "signin.second_factor",
            Outcome::Ok,
            Some(&account.id),
            origin,
            serde_json::json!({"methods": methods.iter().map(|m| m.code()).collect::<Vec<_>>()}),
            now,
        )
        .await?;
        commit(tx).await?;
        // With SMS as the only code-based factor the code goes out at once.
        let sms_sent = if sms_on && !totp_on {
            self.send_signin_sms(&token, now).await?;
            true
        } else {
            false
        };
        Ok(SignIn::SecondFactor(SecondFactorChallenge {
            token,
            methods,
            expires_at,
            phone: phone.map(|p| p.masked()),
            sms_sent,
        }))
    }

    async fn live_challenge(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<sec::ChallengeRow, IdentityError> {
        let id = self.vault.secret_hash(CHALLENGE_CONTEXT, token);
        sec::challenge(&mut *self.db.conn().await?, &id)
            .await?
            .filter(|c| c.used_at.is_none() && c.expires_at > to_micros(now))
            .ok_or(IdentityError::SecondFactorGone)
    }

    /// The challenge of a sign-in waiting for its second factor (for re-rendering).
    pub async fn second_factor_challenge(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<SecondFactorChallenge, IdentityError> {
        let c = self.live_challenge(token, now).await?;
        let mut conn = self.db.conn().await?;
        let factors = sec::factors(&mut conn, &c.account_id).await?;
        let (unused, _) = sec::backup_codes_count(&mut conn, &c.account_id).await?;
        let phone = self.confirmed_phone_in(&mut conn, &c.account_id).await?;
        let mut methods = Vec::new();
        if factors.totp_enabled_at.is_some() {
            methods.push(Factor::Totp);
        }
        if factors.sms_enabled_at.is_some() && phone.is_some() {
            methods.push(Factor::Sms);
        }
        if unused > 0 {
            methods.push(Factor::Backup);
        }
        Ok(SecondFactorChallenge {
            token: token.to_owned(),
            methods,
            expires_at: from_micros(c.expires_at),
            phone: phone.map(|p| p.masked()),
            sms_sent: c.sms_sent_at.is_some(),
        })
    }

    /// Sends (again) the SMS code of a sign-in waiting for its second factor.
    pub async fn send_signin_sms(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let c = self.live_challenge(token, now).await?;
        if let Some(sent) = c.sms_sent_at {
            let next = from_micros(sent) + self.policy.resend_after;
            if next > now {
                return Err(IdentityError::ResendTooSoon {
                    seconds: (next - now).num_seconds() + 1,
                });
            }
        }
        let mut conn = self.db.conn().await?;
        let factors = sec::factors(&mut conn, &c.account_id).await?;
        let phone = self.confirmed_phone_in(&mut conn, &c.account_id).await?;
        drop(conn);
        let (Some(_), Some(phone)) = (factors.sms_enabled_at, phone) else {
            return Err(IdentityError::FactorUnavailable);
        };
        let code = random_code();
        let minutes = u32::try_from(self.policy.code_ttl.num_minutes()).unwrap_or(5);
        let mut tx = self.db.begin().await?;
        sec::set_challenge_sms(&mut tx, &c.id, &self.sms_hash(&c.id, &code), to_micros(now))
            .await?;
        self.outbox
            .enqueue(
                &mut tx,
                Channel::Sms,
                phone.value(),
                &Template::SignInCode { code, minutes },
                now,
            )
            .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    fn sms_hash(&self, challenge_id: &str, code: &str) -> String {
        self.vault.secret_hash("signin-sms", &format!("{challenge_id}:{code}"))
    }

    /// The second step of a sign-in: checks the code of the chosen factor and opens the
    /// session. With `remember`, also returns a token the browser keeps for 30 days so
    /// this device is not asked again.
    pub async fn complete_second_factor(
        &self,
        token: &str,
        factor: Factor,
        code: &str,
        remember: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(NewSession, Option<String>), IdentityError> {
        let c = self.live_challenge(token, now).await?;
        let now_us = to_micros(now);
        let account = rows::get_account(&self.db, &c.account_id)
            .await?
            .filter(|a| a.status == "active")
            .ok_or(IdentityError::SecondFactorGone)?;
        let code = code.trim();
        if code.is_empty() {
            return Err(IdentityError::Fields(vec![("code", domain::FieldError::Empty)]));
        }
        let mut conn = self.db.conn().await?;
        let factors = sec::factors(&mut conn, &account.id).await?;
        let right = match factor {
            Factor::Totp => match factors.totp_secret.as_deref() {
                Some(secret) => {
                    let secret = totp::decode(&self.vault.decrypt(secret, TOTP_CONTEXT)?)
                        .unwrap_or_default();
                    let step = totp::step_of(now.timestamp());
                    match totp::verify(&secret, code, step, factors.totp_last_step) {
                        Some(step) => sec::use_totp_step(&mut conn, &account.id, step).await?,
                        None => false,
                    }
                }
                None => return Err(IdentityError::FactorUnavailable),
            },
            Factor::Sms => {
                let fresh =
                    c.sms_sent_at.is_some_and(|at| from_micros(at) + self.policy.code_ttl > now);
                match (&c.sms_code_hash, fresh) {
                    (Some(hash), true) => same(hash, &self.sms_hash(&c.id, code)),
                    (Some(_), false) => {
                        drop(conn);
                        return Err(IdentityError::CodeExpired);
                    }
                    (None, _) => {
                        drop(conn);
                        return Err(IdentityError::FactorUnavailable);
                    }
                }
            }
            Factor::Backup => {
                let hash = self.backup_hash(&account.id, code);
                sec::use_backup_code(&mut conn, &account.id, &hash, now_us).await?
            }
        };
        if !right {
            let attempts = sec::challenge_failed(&mut conn, &c.id).await?;
            drop(conn);
            let left = self.policy.second_factor_attempts - attempts;
            self.journal_alone(
                "signin.second_factor_failed",
                Outcome::Denied,
                Some(&account.id),
                origin,
                serde_json::json!({"factor": factor.code()}),
                now,
            )
            .await?;
            if left <= 0 {
                sec::use_challenge(&mut *self.db.conn().await?, &c.id, now_us).await?;
                return Err(IdentityError::SecondFactorGone);
            }
            return Err(IdentityError::CodeWrong { left });
        }
        if !sec::use_challenge(&mut conn, &c.id, now_us).await? {
            return Err(IdentityError::SecondFactorGone);
        }
        let device = if remember {
            let device_token = random_token();
            sec::insert_trusted_device(
                &mut conn,
                &self.vault.secret_hash("device", &device_token),
                &account.id,
                &device_of(origin.user_agent.as_deref()),
                now_us,
                to_micros(now + self.policy.remember_device),
            )
            .await?;
            Some(device_token)
        } else {
            None
        };
        drop(conn);
        let session = self.finish_sign_in(&account, Some(factor.code()), origin, now).await?;
        Ok((session, device))
    }

    /// A right password on a blocked account: say why and how to lift the block.
    pub(crate) async fn blocked_sign_in(
        &self,
        account: &AccountRow,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<IdentityError, IdentityError> {
        self.journal_alone(
            "signin.refused",
            Outcome::Denied,
            Some(&account.id),
            origin,
            serde_json::json!({"reason": "blocked"}),
            now,
        )
        .await?;
        Ok(match (account.block_reason.as_deref(), account.close_after) {
            (Some("closing"), Some(after)) => {
                IdentityError::AccountClosing { on: from_micros(after) }
            }
            _ => IdentityError::AccountBlocked,
        })
    }

    // --- captcha -------------------------------------------------------------------------

    /// Whether a sign-in for `login` from `origin` must solve a captcha first: after
    /// `captcha_after` failures from the address (within the IP window) or for the login.
    pub async fn captcha_needed(
        &self,
        login: &str,
        account: Option<&AccountRow>,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let limit = self.policy.captcha_after;
        if account.is_some_and(|a| a.failed_logins >= limit) {
            return Ok(true);
        }
        let now_us = to_micros(now);
        let mut conn = self.db.conn().await?;
        if let Some(ip) = &origin.ip {
            let window = self.policy.ip_window.num_microseconds().unwrap_or(i64::MAX);
            if sec::throttle_count(&mut conn, &format!("ip:{ip}"), now_us, window).await? >= limit {
                return Ok(true);
            }
        }
        if account.is_none()
            && let Ok(c) = Contact::parse(login)
        {
            let key = format!("login:{}", self.vault.blind_index(c.kind(), c.value()));
            let window = Duration::days(1).num_microseconds().unwrap_or(i64::MAX);
            if sec::throttle_count(&mut conn, &key, now_us, window).await? >= limit {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the sign-in page should show a captcha before anything is typed (the
    /// address already failed too often).
    pub async fn captcha_needed_for(
        &self,
        login: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
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
        self.captcha_needed(login, account.as_ref(), origin, now).await
    }

    /// A new captcha: five distorted digits as SVG, or with `spoken` the accessible
    /// alternative — a sum in Russian words, answered in digits.
    pub async fn new_captcha(
        &self,
        spoken: bool,
        now: DateTime<Utc>,
    ) -> Result<Captcha, IdentityError> {
        let id = random_token();
        let (answer, svg, question) = if spoken {
            let a = rand::random_range(1..=20u32);
            let b = rand::random_range(1..=9u32);
            let q = format!(
                "Сколько будет {} плюс {}? Ответьте цифрами.",
                crate::captcha::words(a),
                crate::captcha::words(b)
            );
            ((a + b).to_string(), None, Some(q))
        } else {
            let digits: String =
                (0..5).map(|_| char::from(b'0' + rand::random_range(0..10u8))).collect();
            let svg = crate::captcha::svg(&digits);
            (digits, Some(svg), None)
        };
        let hash = self.vault.secret_hash("captcha", &format!("{id}:{answer}"));
        let mut conn = self.db.conn().await?;
        sec::purge_captchas(&mut conn, to_micros(now)).await?;
        sec::insert_captcha(
            &mut conn,
            &id,
            &hash,
            to_micros(now),
            to_micros(now + Duration::minutes(10)),
        )
        .await?;
        Ok(Captcha { id, svg, question })
    }

    /// Checks a captcha answer; each captcha gets one guess.
    pub(crate) async fn check_captcha(
        &self,
        captcha: Option<(&str, &str)>,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let Some((id, answer)) = captcha.filter(|(id, _)| !id.is_empty()) else {
            return Err(IdentityError::CaptchaRequired);
        };
        let answer: String = answer.chars().filter(|c| !c.is_whitespace()).collect();
        if answer.is_empty() {
            return Err(IdentityError::CaptchaWrong);
        }
        let stored = sec::take_captcha(&mut *self.db.conn().await?, id, to_micros(now)).await?;
        let want = self.vault.secret_hash("captcha", &format!("{id}:{answer}"));
        match stored {
            Some(hash) if same(&hash, &want) => Ok(()),
            _ => Err(IdentityError::CaptchaWrong),
        }
    }

    // --- settings ------------------------------------------------------------------------

    pub async fn security(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<SecurityView, IdentityError> {
        let mut conn = self.db.conn().await?;
        let f = sec::factors(&mut conn, account_id).await?;
        let (backup_unused, backup_total) = sec::backup_codes_count(&mut conn, account_id).await?;
        let phone = self.confirmed_phone_in(&mut conn, account_id).await?;
        let devices = sec::trusted_devices(&mut conn, account_id, to_micros(now))
            .await?
            .into_iter()
            .map(|(d, since, until)| (d, from_micros(since), from_micros(until)))
            .collect();
        Ok(SecurityView {
            totp: f.totp_enabled_at.is_some(),
            totp_since: f.totp_enabled_at.map(from_micros),
            sms: f.sms_enabled_at.is_some() && phone.is_some(),
            phone: phone.map(|p| p.masked()),
            backup_unused,
            backup_total,
            devices,
        })
    }

    /// Starts setting up an authenticator app: a fresh secret, kept pending until a code
    /// from the app proves it. Calling again replaces the pending secret.
    pub async fn start_totp(
        &self,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<TotpSetup, IdentityError> {
        let secret = totp::new_secret();
        let encoded = totp::encode(&secret);
        let mut conn = self.db.conn().await?;
        sec::set_totp_pending(
            &mut conn,
            account_id,
            &self.vault.encrypt(&encoded, TOTP_CONTEXT),
            to_micros(now),
        )
        .await?;
        drop(conn);
        self.totp_setup_of(account_id, &secret).await
    }

    /// The pending setup again (a re-rendered page), if one is pending.
    pub async fn pending_totp(&self, account_id: &str) -> Result<Option<TotpSetup>, IdentityError> {
        let f = sec::factors(&mut *self.db.conn().await?, account_id).await?;
        let Some(pending) = f.totp_pending else { return Ok(None) };
        let secret = totp::decode(&self.vault.decrypt(&pending, TOTP_CONTEXT)?).unwrap_or_default();
        Ok(Some(self.totp_setup_of(account_id, &secret).await?))
    }

    async fn totp_setup_of(
        &self,
        account_id: &str,
        secret: &[u8],
    ) -> Result<TotpSetup, IdentityError> {
        let account = self.account(account_id).await?;
        let label = account
            .contacts
            .iter()
            .find(|c| c.confirmed)
            .map_or_else(|| account.given_name.clone(), |c| c.masked.clone());
        let uri = totp::otpauth_uri("Uslugi", &label, secret);
        Ok(TotpSetup { key: totp::grouped(secret), qr_svg: totp::qr_svg(&uri), uri })
    }

    /// Turns the authenticator app on: the password again, and a code from the app.
    pub async fn enable_totp(
        &self,
        account_id: &str,
        password: &str,
        code: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let f = sec::factors(&mut *self.db.conn().await?, account_id).await?;
        let Some(pending) = f.totp_pending else { return Err(IdentityError::FlowGone) };
        let secret = totp::decode(&self.vault.decrypt(&pending, TOTP_CONTEXT)?).unwrap_or_default();
        if code.trim().is_empty() {
            return Err(IdentityError::Fields(vec![("code", domain::FieldError::Empty)]));
        }
        self.reauthenticate(account_id, password, "security.password_failed", origin, now).await?;
        let Some(step) = totp::verify(&secret, code, totp::step_of(now.timestamp()), None) else {
            return Err(IdentityError::Fields(vec![(
                "code",
                domain::FieldError::Invalid {
                    reason: "код не подходит: проверьте время на телефоне и введите новый код из приложения",
                },
            )]));
        };
        let what = "подключено приложение для кодов входа";
        self.change_security(account_id, Change::EnableTotp { step }, what, origin, now).await
    }

    pub async fn disable_totp(
        &self,
        account_id: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        self.reauthenticate(account_id, password, "security.password_failed", origin, now).await?;
        let what = "отключено приложение для кодов входа";
        self.change_security(account_id, Change::DisableTotp, what, origin, now).await
    }

    /// Turns SMS codes at sign-in on or off; on needs a confirmed phone.
    pub async fn set_sms_factor(
        &self,
        account_id: &str,
        password: &str,
        on: bool,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        if on && self.confirmed_phone_in(&mut *self.db.conn().await?, account_id).await?.is_none() {
            return Err(IdentityError::FactorUnavailable);
        }
        self.reauthenticate(account_id, password, "security.password_failed", origin, now).await?;
        let what = if on {
            "включены коды входа по SMS"
        } else {
            "отключены коды входа по SMS"
        };
        self.change_security(account_id, Change::Sms { on }, what, origin, now).await
    }

    /// Ten new one-time backup codes (the old ones stop working). They are shown once;
    /// only their keyed hashes are kept.
    pub async fn new_backup_codes(
        &self,
        account_id: &str,
        password: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, IdentityError> {
        self.reauthenticate(account_id, password, "security.password_failed", origin, now).await?;
        let codes: Vec<String> = (0..BACKUP_CODES)
            .map(|_| {
                let n = rand::random_range(0..100_000_000u32);
                format!("{:04}-{:04}", n / 10_000, n % 10_000)
            })
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| self.backup_hash(account_id, c)).collect();
        let what = "созданы новые резервные коды";
        self.change_security(account_id, Change::BackupCodes { hashes }, what, origin, now).await?;
        Ok(codes)
    }

    fn backup_hash(&self, account_id: &str, code: &str) -> String {
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        self.vault.secret_hash("backup-code", &format!("{account_id}:{digits}"))
    }

    /// One security change in one transaction: the change, the journal entry, a notice
    /// to every confirmed contact.
    async fn change_security(
        &self,
        account_id: &str,
        change: Change,
        what: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let contacts = self.confirmed_contacts(account_id).await?;
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let action = match change {
            Change::EnableTotp { step } => {
                if !sec::enable_totp(&mut tx, account_id, step, now_us).await? {
                    return Err(IdentityError::FlowGone);
                }
                "totp.enabled"
            }
            Change::DisableTotp => {
                sec::disable_totp(&mut tx, account_id, now_us).await?;
                "totp.disabled"
            }
            Change::Sms { on } => {
                sec::set_sms(&mut tx, account_id, on.then_some(now_us), now_us).await?;
                if on { "sms_factor.enabled" } else { "sms_factor.disabled" }
            }
            Change::BackupCodes { hashes } => {
                sec::replace_backup_codes(&mut tx, account_id, &hashes, now_us).await?;
                "backup_codes.created"
            }
        };
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
        self.notify(
            &mut tx,
            &contacts,
            &Template::SecurityChanged { at: now, what: what.into() },
            now,
        )
        .await?;
        commit(tx).await?;
        self.outbox.wake();
        Ok(())
    }

    /// Forgets every remembered device (the second factor is asked again everywhere).
    pub async fn forget_devices(
        &self,
        account_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<u64, IdentityError> {
        let mut tx = self.db.begin().await?;
        let n = sec::revoke_devices(&mut tx, account_id, to_micros(now)).await?;
        self.journal(
            &mut tx,
            "devices.forgotten",
            Outcome::Ok,
            Some(account_id),
            origin,
            serde_json::json!({"devices": n}),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(n)
    }

    async fn confirmed_phone_in(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
    ) -> Result<Option<Contact>, IdentityError> {
        Ok(self
            .confirmed_contacts_in(conn, account_id)
            .await?
            .into_iter()
            .find(|c| matches!(c, Contact::Phone(_))))
    }

    // --- sessions ------------------------------------------------------------------------

    /// Ends the oldest live sessions beyond the configured limit.
    pub(crate) async fn enforce_session_limit(
        &self,
        conn: &mut store::Conn,
        account_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), IdentityError> {
        let now_us = to_micros(now);
        let live = sec::live_sessions(conn, account_id, now_us).await?;
        let limit = usize::try_from(self.policy.max_sessions.max(1)).unwrap_or(usize::MAX);
        if live.len() > limit {
            for (id, _) in &live[..live.len() - limit] {
                sec::end_session_of(conn, account_id, id, now_us, "limit").await?;
            }
        }
        Ok(())
    }

    /// Ends one of the person's own sessions (from the session list).
    pub async fn end_session(
        &self,
        account_id: &str,
        session_id: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let mut tx = self.db.begin().await?;
        let ended =
            sec::end_session_of(&mut tx, account_id, session_id, to_micros(now), "ended_by_owner")
                .await?;
        if ended {
            self.journal(
                &mut tx,
                "session.ended_by_owner",
                Outcome::Ok,
                Some(account_id),
                origin,
                serde_json::json!({}),
                now,
            )
            .await?;
        }
        commit(tx).await?;
        Ok(ended)
    }

    /// «Это не я» from a new-device notice: ends that session and forgets remembered
    /// devices. Returns false when the link is unknown. The person is then asked to change
    /// the password (the page offers it).
    pub async fn disown_session(
        &self,
        token: &str,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<bool, IdentityError> {
        let hash = self.vault.secret_hash("disown", token);
        let Some((id, account_id, _)) =
            sec::session_by_disown(&mut *self.db.conn().await?, &hash).await?
        else {
            return Ok(false);
        };
        let now_us = to_micros(now);
        let mut tx = self.db.begin().await?;
        let ended = sec::end_session_of(&mut tx, &account_id, &id, now_us, "not_me").await?;
        sec::revoke_devices(&mut tx, &account_id, now_us).await?;
        self.journal(
            &mut tx,
            "session.disowned",
            Outcome::Ok,
            Some(&account_id),
            origin,
            serde_json::json!({"ended": ended}),
            now,
        )
        .await?;
        commit(tx).await?;
        Ok(true)
    }

    /// Whether a «это не я» link is known (the confirmation page shows before the click).
    pub async fn disown_known(&self, token: &str) -> Result<bool, IdentityError> {
        let hash = self.vault.secret_hash("disown", token);
        Ok(sec::session_by_disown(&mut *self.db.conn().await?, &hash).await?.is_some())
    }
}
