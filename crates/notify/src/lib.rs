//! Notifications: the transactional outbox and its delivery.
//!
//! [`Outbox::enqueue`] writes a rendered message and a `notify` job on the caller's
//! connection — the transaction of the event that causes the message — so the message
//! exists exactly when the event committed. [`Outbox::deliver_due`], run by a worker on
//! every node, takes due jobs (the job queue keeps two nodes off the same message),
//! sends each through its channel and records `sent`, or retries with exponential
//! backoff until the message is `failed`.
//!
//! Channels: e-mail over SMTP (lettre), SMS through an HTTP gateway, or — by default, in
//! development — the **dev sink**, which only marks messages sent so that people (and
//! tests) read them at `/dev/outbox`. Recipient and text are encrypted at rest: the text
//! may hold a one-time code.

pub mod templates;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Serialize;
use store::jobs::{self, JobQueue, JobState};
use store::outbox::{self, OutboxRow};
use store::vault::Vault;
use store::{Conn, Db, StoreError};
pub use templates::{Rendered, Template};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "sms" => Some(Self::Sms),
            "email" => Some(Self::Email),
            _ => None,
        }
    }

    /// The blind-index kind of the recipient; the same as the identity contacts', so a
    /// contact's messages can be found by its index.
    pub fn index_kind(self) -> &'static str {
        match self {
            Self::Sms => "phone",
            Self::Email => "email",
        }
    }
}

/// Where e-mail goes.
#[derive(Clone)]
pub enum EmailTransport {
    /// Kept in the outbox only (development).
    DevSink,
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
}

/// Where SMS goes.
#[derive(Clone)]
pub enum SmsTransport {
    /// Kept in the outbox only (development).
    DevSink,
    /// `POST url` with `{"to": "+7…", "text": "…"}` and a bearer token.
    Http { client: reqwest::Client, url: String, token: String },
}

impl std::fmt::Debug for EmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DevSink => "DevSink",
            Self::Smtp { .. } => "Smtp",
        })
    }
}

impl std::fmt::Debug for SmsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DevSink => "DevSink",
            Self::Http { .. } => "Http",
        })
    }
}

/// The channels' transports.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub email: EmailTransport,
    pub sms: SmsTransport,
}

impl Delivery {
    pub fn dev_sink() -> Self {
        Self { email: EmailTransport::DevSink, sms: SmsTransport::DevSink }
    }

    /// Checks an SMTP URL and sender without building a transport (which needs a
    /// running Tokio runtime), for validating settings at start-up.
    pub fn check_smtp(url: &str, from: &str) -> Result<(), String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?;
        from.parse::<Mailbox>().map(drop).map_err(|e| format!("smtp_from: {e}"))
    }

    /// An SMTP transport from a URL such as `smtp://user:pass@host:587?tls=required`
    /// or `smtps://…:465` (see lettre's `from_url`).
    pub fn smtp(url: &str, from: &str) -> Result<EmailTransport, String> {
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| e.to_string())?.build();
        let from = from.parse::<Mailbox>().map_err(|e| e.to_string())?;
        Ok(EmailTransport::Smtp { transport, from })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored message cannot be read: {0}")]
    Vault(#[from] store::vault::VaultError),
    #[error("stored attachment cannot be read: {0}")]
    Attachment(String),
}

/// A file sent with an e-mail (the result document).
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the recipient sees (`Выписка-2026-000001-R.pdf`).
    pub name: String,
    /// Its MIME type (`application/pdf`).
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl Attachment {
    /// Name, type and bytes in one sealed value (`name \n type \n bytes`), base64.
    fn seal(&self, vault: &Vault, id: &str) -> String {
        use base64::Engine as _;
        let mut plain = Vec::with_capacity(self.bytes.len() + 64);
        plain.extend_from_slice(self.name.replace('\n', " ").as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(self.content_type.as_bytes());
        plain.push(b'\n');
        plain.extend_from_slice(&self.bytes);
        let sealed = vault.seal_bytes(&plain, &format!("{ATTACHMENT}:{id}"));
        base64::engine::general_purpose::STANDARD.encode(sealed)
    }

    fn open(vault: &Vault, stored: &str, id: &str) -> Result<Self, String> {
        use base64::Engine as _;
        let sealed =
            base64::engine::general_purpose::STANDARD.decode(stored).map_err(|e| e.to_string())?;
        let plain =
            vault.open_bytes(sealed, &format!("{ATTACHMENT}:{id}")).map_err(|e| e.to_string())?;
        let mut parts = plain.splitn(3, |b| *b == b'\n');
        let (Some(name), Some(content_type), Some(bytes)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err("attachment is not framed".to_owned());
        };
        Ok(Self {
            name: String::from_utf8_lossy(name).into_owned(),
            content_type: String::from_utf8_lossy(content_type).into_owned(),
            bytes: bytes.to_vec(),
        })
    }
}

/// A message as the dev outbox shows it (decrypted).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub id: String,
    pub channel: Channel,
    pub template: String,
    pub recipient: String,
    pub subject: String,
    pub text: String,
    /// The attached file's name and size in bytes, while the outbox still holds it.
    pub attachment: Option<(String, usize)>,
    pub status: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

const QUEUE: &str = "notify";
const MAX_ATTEMPTS: i64 = 8;
const LEASE: Duration = Duration::seconds(60);
/// How many messages one delivery round claims.
const BATCH: i64 = 64;
const RECIPIENT: &str = "outbox.recipient";
const BODY: &str = "outbox.body";
const ATTACHMENT: &str = "outbox.attachment";
/// What a delivered message's text becomes.
const REDACTED: &str = "(текст удалён после отправки)";

#[derive(Serialize, serde::Deserialize)]
struct JobPayload {
    outbox_id: String,
}

/// The outbox over a database, a vault and the transports.
#[derive(Debug, Clone)]
pub struct Outbox {
    db: Db,
    vault: Arc<Vault>,
    delivery: Delivery,
    wake: Arc<tokio::sync::Notify>,
}

impl Outbox {
    pub fn new(db: Db, vault: Arc<Vault>, delivery: Delivery) -> Self {
        Self { db, vault, delivery, wake: Arc::new(tokio::sync::Notify::new()) }
    }

    /// Tells this node's worker that messages were committed, so it delivers now rather
    /// than at its next tick. Call after the transaction that enqueued them commits.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes when [`Outbox::wake`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// True when messages only reach the dev sink (no real transport at all).
    pub fn is_dev_sink(&self) -> bool {
        matches!(self.delivery.email, EmailTransport::DevSink)
            && matches!(self.delivery.sms, SmsTransport::DevSink)
    }

    /// Renders `template` to `recipient` and queues it on `conn` (the event's transaction).
    pub async fn enqueue(
        &self,
        conn: &mut Conn,
        channel: Channel,
        recipient: &str,
        template: &Template,
        now: DateTime<Utc>,
    ) -> Result<String, NotifyError> {
        self.enqueue_with(conn, channel, recipient, template, None, now).await
    }

    /// [`Outbox::enqueue`] with a file; only e-mail carries files (an SMS drops it).
    pub async fn enqueue_with(
        &self,
        conn: &mut Conn,
        channel: Channel,
        recipient: &str,
        template: &Template,
        attachment: Option<&Attachment>,
        now: DateTime<Utc>,
    ) -> Result<String, NotifyError> {
        let Rendered { subject, text } = template.render();
        let id = uuid::Uuid::now_v7().to_string();
        let attachment =
            attachment.filter(|_| channel == Channel::Email).map(|a| a.seal(&self.vault, &id));
        let row = OutboxRow {
            attachment,
            id,
            channel: channel.as_str().to_owned(),
            template: template.name().to_owned(),
            recipient: self.vault.encrypt(recipient, RECIPIENT),
            recipient_index: self.vault.blind_index(channel.index_kind(), recipient),
            subject,
            body: self.vault.encrypt(&text, BODY),
            status: "queued".to_owned(),
            attempts: 0,
            last_error: None,
            created_at: store::to_micros(now),
            sent_at: None,
        };
        outbox::insert(conn, &row).await?;
        let payload =
            serde_json::to_string(&JobPayload { outbox_id: row.id.clone() }).unwrap_or_default();
        jobs::enqueue_on(conn, QUEUE, &payload, now, MAX_ATTEMPTS, now).await?;
        Ok(row.id)
    }

    /// Delivers every message that is due; returns how many were sent. Messages are
    /// claimed in batches (one commit), sent, and their outcomes recorded in one
    /// transaction per batch: the cost in commits does not grow with the batch.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<usize, NotifyError> {
        let queue = JobQueue::new(self.db.clone());
        let mut sent = 0;
        loop {
            let claimed = queue.claim_many(QUEUE, now, LEASE, BATCH).await?;
            if claimed.is_empty() {
                return Ok(sent);
            }
            let mut outcomes = Vec::with_capacity(claimed.len());
            for job in claimed {
                let row = match serde_json::from_str::<JobPayload>(&job.payload) {
                    Ok(JobPayload { outbox_id }) => outbox::get(&self.db, &outbox_id).await?,
                    Err(_) => {
                        outcomes.push((job, None, Err("unreadable payload".to_owned())));
                        continue;
                    }
                };
                let result = match &row {
                    Some(row) => self.send(row).await,
                    None => Ok(()),
                };
                outcomes.push((job, row, result));
            }
            // What each outcome writes, decided before the transaction (which may run
            // more than once: it shares its commit with the other writes of the moment).
            let writes: Vec<Outcome> = outcomes
                .into_iter()
                .map(|(job, row, result)| match (row, result) {
                    (None, Ok(())) => Outcome::Done { job: job.id },
                    (Some(row), Ok(())) => Outcome::Sent {
                        job: job.id,
                        redacted: self
                            .delivered_for_real(&row.channel)
                            .then(|| self.vault.encrypt(REDACTED, BODY)),
                        message: row.id,
                    },
                    (row, Err(error)) => {
                        if let Some(row) = &row {
                            tracing::warn!(
                                message = %row.id,
                                channel = %row.channel,
                                attempt = job.attempts,
                                %error,
                                "notification delivery failed"
                            );
                        }
                        // 30 s, 1 min, 2 min, … up to an hour between attempts.
                        let backoff =
                            Duration::seconds(30 << job.attempts.clamp(1, 8).saturating_sub(1))
                                .min(Duration::hours(1));
                        Outcome::Failed {
                            job: job.id,
                            message: row.map(|row| row.id),
                            error,
                            retry_at: now + backoff,
                        }
                    }
                })
                .collect();
            sent += writes.iter().filter(|w| matches!(w, Outcome::Sent { .. })).count();
            let writes = Arc::new(writes);
            self.db
                .shared(move |tx| {
                    let writes = writes.clone();
                    Box::pin(async move { record(tx, &writes, now).await })
                })
                .await?;
        }
    }

    /// Whether a channel has a real transport (not the dev sink, whose messages people
    /// read at `/dev/outbox`).
    fn delivered_for_real(&self, channel: &str) -> bool {
        match Channel::parse(channel) {
            Some(Channel::Email) => !matches!(self.delivery.email, EmailTransport::DevSink),
            Some(Channel::Sms) => !matches!(self.delivery.sms, SmsTransport::DevSink),
            None => false,
        }
    }

    async fn send(&self, row: &OutboxRow) -> Result<(), String> {
        let to = self.vault.decrypt(&row.recipient, RECIPIENT).map_err(|e| e.to_string())?;
        let text = self.vault.decrypt(&row.body, BODY).map_err(|e| e.to_string())?;
        match (Channel::parse(&row.channel), &self.delivery.email, &self.delivery.sms) {
            (Some(Channel::Email), EmailTransport::Smtp { transport, from }, _) => {
                use lettre::message::{MultiPart, SinglePart, header::ContentType};
                let to = to.parse::<Mailbox>().map_err(|e| format!("recipient: {e}"))?;
                let builder =
                    lettre::Message::builder().from(from.clone()).to(to).subject(&row.subject);
                let email = match &row.attachment {
                    None => builder.header(ContentType::TEXT_PLAIN).body(text),
                    Some(stored) => {
                        let file = Attachment::open(&self.vault, stored, &row.id)?;
                        let kind = ContentType::parse(&file.content_type)
                            .map_err(|e| format!("attachment type: {e}"))?;
                        builder.multipart(
                            MultiPart::mixed().singlepart(SinglePart::plain(text)).singlepart(
                                lettre::message::Attachment::new(file.name).body(file.bytes, kind),
                            ),
                        )
                    }
                }
                .map_err(|e| e.to_string())?;
                transport.send(email).await.map(drop).map_err(|e| e.to_string())
            }
            (Some(Channel::Sms), _, SmsTransport::Http { client, url, token }) => {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&serde_json::json!({ "to": to, "text": text }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("SMS gateway answered {}", response.status()))
                }
            }
            (Some(_), _, _) => Ok(()), // the dev sink: the outbox row is the delivery
            (None, _, _) => Err(format!("unknown channel {:?}", row.channel)),
        }
    }

    /// The file a queued (or dev-sink) message carries, for `/dev/outbox`.
    pub async fn attachment(&self, id: &str) -> Result<Option<Attachment>, NotifyError> {
        let Some(row) = outbox::get(&self.db, id).await? else { return Ok(None) };
        match row.attachment {
            Some(stored) => Attachment::open(&self.vault, &stored, &row.id)
                .map(Some)
                .map_err(NotifyError::Attachment),
            None => Ok(None),
        }
    }

    /// The newest messages, decrypted; only to `recipient` when given.
    pub async fn latest(
        &self,
        recipient: Option<(Channel, &str)>,
        limit: i64,
    ) -> Result<Vec<Message>, NotifyError> {
        let index = recipient.map(|(c, r)| self.vault.blind_index(c.index_kind(), r));
        let rows = outbox::latest(&self.db, index.as_deref(), limit).await?;
        rows.into_iter()
            .map(|row| {
                let attachment = match &row.attachment {
                    Some(stored) => Attachment::open(&self.vault, stored, &row.id)
                        .ok()
                        .map(|a| (a.name, a.bytes.len())),
                    None => None,
                };
                Ok(Message {
                    attachment,
                    channel: Channel::parse(&row.channel).unwrap_or(Channel::Email),
                    recipient: self.vault.decrypt(&row.recipient, RECIPIENT)?,
                    text: self.vault.decrypt(&row.body, BODY)?,
                    created_at: store::from_micros(row.created_at),
                    id: row.id,
                    template: row.template,
                    subject: row.subject,
                    status: row.status,
                    attempts: row.attempts,
                })
            })
            .collect()
    }
}

/// What delivering one message leaves to record.
enum Outcome {
    /// The job's message is gone: the job is simply done.
    Done { job: String },
    /// Sent; `redacted` replaces the body when a real transport carried it.
    Sent { job: String, message: String, redacted: Option<String> },
    /// Not sent: the job is retried later, or fails for good after its last attempt.
    Failed { job: String, message: Option<String>, error: String, retry_at: DateTime<Utc> },
}

/// Records the outcomes of one delivery batch in one transaction.
async fn record(conn: &mut Conn, writes: &[Outcome], now: DateTime<Utc>) -> Result<(), StoreError> {
    let at = store::to_micros(now);
    for write in writes {
        match write {
            Outcome::Done { job } => jobs::complete_on(conn, job, now).await?,
            Outcome::Sent { job, message, redacted } => {
                outbox::set_status(conn, message, "sent", None, at).await?;
                if let Some(body) = redacted {
                    outbox::set_body(conn, message, body).await?;
                }
                jobs::complete_on(conn, job, now).await?;
            }
            Outcome::Failed { job, message, error, retry_at } => {
                let state = jobs::retry_on(conn, job, error, *retry_at, now).await?;
                if let Some(message) = message {
                    let status = if state == JobState::Failed { "failed" } else { "queued" };
                    outbox::set_status(conn, message, status, Some(error), at).await?;
                }
            }
        }
    }
    Ok(())
}
