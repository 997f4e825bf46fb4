//! Starting and stopping the portal: data directory, calendar, database, HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use domain::{Clock, WorkingCalendar};
use journal::Journal;
use store::{Db, DbOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use secrecy::ExposeSecret;

use crate::settings::{MasterKey, RegistrySource, Settings, SettingsError};

/// The built-in calendar plus every `*.toml` in `dir` (if the directory exists). A bad
/// file is a configuration error naming the file.
pub fn load_calendar(dir: &Path) -> Result<WorkingCalendar, SettingsError> {
    let bad = |message: String| SettingsError { key: "calendar_dir".into(), message };
    let mut calendar = WorkingCalendar::builtin().map_err(|e| bad(e.to_string()))?;
    if !dir.is_dir() {
        return Ok(calendar);
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| bad(format!("{}: {e}", dir.display())))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in files {
        let text =
            std::fs::read_to_string(&path).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let year = calendar
            .load_year(&path.display().to_string(), &text)
            .map_err(|e| bad(e.to_string()))?;
        tracing::info!(year, file = %path.display(), "production calendar year loaded");
    }
    Ok(calendar)
}

/// Creates the data directory, connects to the database and brings its schema up to date.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|e| SettingsError {
        key: "data_dir".into(),
        message: format!("не удалось создать {} / cannot create: {e}", settings.data_dir.display()),
    })?;
    let db = Db::connect(&settings.database_url, &DbOptions::default())
        .await
        .with_context(|| format!("connecting to {}", store::redact(&settings.database_url)))?;
    db.migrate().await.context("applying migrations")?;
    Ok(db)
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub db: Db,
    pub outbox: notify::Outbox,
    /// The demo citizen's login and one-time password, on the first dev run.
    pub demo: Option<(String, String)>,
    /// The demo operator's and officer's logins and one-time passwords, on the first dev run.
    pub demo_staff: Vec<identity::staff::DemoStaff>,
    /// The procurement registry app's URL, when the dev setup started it.
    pub eis: Option<String>,
    /// Wakes the worker that closes expired applicant windows now rather than at its
    /// next tick (tests move the clock, which wakes nothing).
    pub overdue: Arc<tokio::sync::Notify>,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    /// Background workers; none of them ends on its own while the server runs.
    workers: JoinSet<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.context("server task")?.context("server")?;
        self.workers.shutdown().await;
        self.db.close().await;
        Ok(())
    }

    /// Supervises the server and its workers until `signal` completes, then shuts down
    /// gracefully. If the server or a worker stops by itself, that is an error: the
    /// process exits and its supervisor (systemd, Kubernetes) restarts it.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            result = &mut self.task => {
                result.context("server task")?.context("server")?;
                anyhow::bail!("the HTTP server stopped unexpectedly")
            }
            Some(result) = self.workers.join_next() => {
                result.context("worker task")?.context("worker")?;
                anyhow::bail!("a background worker stopped unexpectedly")
            }
            () = signal => {
                tracing::info!("shutting down");
                self.shutdown().await
            }
        }
    }
}

/// The shipped service catalog with the operator's definitions from `dir` over it (if the
/// directory exists). Any invalid file refuses the start, each named with its line.
pub fn load_catalog(dir: &Path) -> Result<services::Catalog, SettingsError> {
    let extra = dir.is_dir().then_some(dir);
    let catalog = services::Catalog::load(extra).map_err(|errors| SettingsError {
        key: "services_dir".into(),
        message: format!(
            "описания услуг с ошибками / invalid service definitions:\n{}",
            errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
        ),
    })?;
    tracing::info!(services = catalog.services().len(), "service catalog loaded");
    Ok(catalog)
}

/// Opens everything and starts serving on `settings.listen` (port 0 picks a free port).
pub async fn start(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    crate::without_huge_pages();
    let calendar = Arc::new(load_calendar(&settings.calendar_dir)?);
    let catalog = Arc::new(load_catalog(&settings.services_dir)?);
    for year in calendar.years().filter(|y| y.is_provisional()) {
        tracing::warn!(
            year = year.year(),
            "production calendar year is provisional: add the decree's file"
        );
    }
    // One process-wide TLS provider (ring) for the HTTP clients; a second call is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let vault = Arc::new(open_vault(settings)?);
    let db = open_database(settings).await?;
    let centers = identity::centers::builtin().context("service centres")?;
    identity::centers::sync(&db, &centers, clock.now()).await.context("service centres")?;
    let outbox = notify::Outbox::new(db.clone(), vault.clone(), delivery(settings)?);
    let listener = TcpListener::bind(settings.listen).await.map_err(|e| SettingsError {
        key: "listen".into(),
        message: format!("не удалось занять {} / cannot listen: {e}", settings.listen),
    })?;
    let addr = listener.local_addr()?;
    let hasher =
        identity::password::Hasher::new(settings.argon2).map_err(|e| anyhow::anyhow!(e))?;
    let identity = identity::Identity::new(
        db.clone(),
        vault.clone(),
        outbox.clone(),
        hasher,
        settings.identity.clone(),
        settings.base_url(addr),
    );
    let registry = open_registry(settings, &db, &vault)?;
    let qes_trust = open_qes_roots(&settings.qes_roots)?.map(Arc::new);
    let demo = if settings.dev_outbox() && settings.demo_data {
        if let registry::Registry::Embedded(embedded) = &registry
            && embedded.counts().await?.0 == 0
        {
            registry::demo::load_starter(embedded).await.context("demo registry")?;
        }
        identity.seed_demo_citizen(clock.now()).await.context("demo data")?
    } else {
        None
    };
    let demo_staff = if settings.dev_outbox() && settings.demo_data {
        identity.seed_demo_staff(clock.now()).await.context("demo staff")?
    } else {
        Vec::new()
    };
    let (banks, demo_bank) = trusted_banks(settings, addr, clock.clone()).await?;
    let secure_cookies = settings.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
    let mut applications = services::applications::Applications::new(
        db.clone(),
        vault.clone(),
        catalog.clone(),
        calendar.clone(),
        outbox.clone(),
        services::applications::Files {
            public_url: settings.base_url(addr),
            blobs: match &settings.files_url {
                Some(url) => store::blobs::Blobs::s3(url, &store::blobs::S3::default())?,
                None => store::blobs::Blobs::local(&settings.files_dir)?,
            },
            upload_limit_mb: settings.upload_limit_mb,
        },
    );
    applications = applications.with_roots(qes_trust.clone());
    if let Some(signer) = &settings.document_signer {
        applications = applications
            .with_gost(signer.clone(), qes_trust.as_deref(), clock.now())
            .map_err(|message| SettingsError { key: "document_signing_cert".into(), message })?;
        tracing::info!(certificate = %signer.certificate().serial(), "result documents are signed with GOST R 34.10-2012");
    }
    let state = web::AppState {
        db: db.clone(),
        clock: clock.clone(),
        calendar: calendar.clone(),
        vault: vault.clone(),
        outbox: outbox.clone(),
        dev_outbox: settings.dev_outbox(),
        identity: identity.clone(),
        secure_cookies,
        trust_proxy: settings.trust_proxy,
        qes_trust,
        banks,
        oidc: oidc::Provider::new(
            db.clone(),
            vault.clone(),
            settings.oidc_provider(&settings.base_url(addr)),
        ),
        oidc_allow_http: settings.mode == crate::settings::Mode::Dev,
        applications,
        catalog,
    };
    let eis_app = crate::eis_cli::dev_app(settings, &state.oidc, clock.clone()).await;
    let checks_state = state.clone();
    let app = web::router(state);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await
    });
    let mut workers = JoinSet::new();
    workers.spawn(seal_journal(Journal::new(db.clone())));
    if let Some((listener, router)) = demo_bank {
        workers.spawn(async move {
            axum::serve(listener, router).await.context("demo bank")?;
            Ok(())
        });
    }
    let eis = eis_app.map(|(listener, router, url)| {
        workers.spawn(async move {
            axum::serve(listener, router).await.context("ЕИС")?;
            Ok(())
        });
        url
    });
    workers.spawn(deliver_notifications(outbox.clone(), clock.clone()));
    workers.spawn(erase_closed_accounts(identity.clone(), clock.clone()));
    let overdue = Arc::new(tokio::sync::Notify::new());
    workers.spawn(expire_overdue(checks_state.clone(), clock.clone(), overdue.clone()));
    workers.spawn(check_applications(
        checks_state,
        registry.clone(),
        store::jobs::JobQueue::new(db.clone()),
        clock.clone(),
    ));
    workers.spawn(check_documents(
        identity,
        registry,
        store::jobs::JobQueue::new(db.clone()),
        clock,
    ));
    tracing::info!(%addr, backend = db.backend().name(), "listening");
    Ok(Running { addr, db, outbox, demo, demo_staff, eis, overdue, stop, task, workers })
}

/// The trusted banks of the settings; in the dev setup (dev outbox on) with
/// `demo_bank_listen`, also the demo bank, bound here and trusted as «Демо-банк». A busy
/// port only costs the demo bank, never the portal.
async fn trusted_banks(
    settings: &Settings,
    addr: SocketAddr,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(identity::bank::Banks, Option<(TcpListener, axum::Router)>)> {
    let redirect_uri = format!("{}{}", settings.base_url(addr), web::bank::CALLBACK_PATH);
    let mut list = settings.banks.clone();
    let mut demo = None;
    // A configured bank with the id `demo` (say, `uslugi bank demo` run separately) wins.
    let configured = settings.banks.iter().any(|b| b.id == "demo");
    if let Some(listen) = settings.demo_bank_listen.filter(|_| settings.dev_outbox() && !configured)
    {
        match TcpListener::bind(listen).await {
            Ok(listener) => {
                let config = demobank::Config {
                    issuer: format!("http://{}", listener.local_addr()?),
                    client_id: "uslugi".into(),
                    client_secret: demobank::new_secret(),
                    redirect_uri: redirect_uri.clone(),
                    clock,
                };
                tracing::info!(issuer = %config.issuer, "demo bank started");
                list.push(identity::bank::BankSettings {
                    id: "demo".into(),
                    name: "Демо-банк".into(),
                    issuer: config.issuer.clone(),
                    client_id: config.client_id.clone(),
                    client_secret: config.client_secret.clone(),
                    scopes: vec!["profile".into(), "snils".into(), "passport".into()],
                });
                demo = Some((listener, demobank::router(config)));
            }
            Err(e) => tracing::warn!(%listen, error = %e, "demo bank not started"),
        }
    }
    let banks = identity::bank::Banks::new(list, redirect_uri)
        .map_err(|message| SettingsError { key: "banks".into(), message })?;
    Ok((banks, demo))
}

/// The state registries the settings name, over `db` when embedded.
pub fn open_registry(
    settings: &Settings,
    db: &Db,
    vault: &Arc<store::vault::Vault>,
) -> Result<registry::Registry, SettingsError> {
    Ok(match &settings.registry {
        RegistrySource::Embedded => {
            registry::Registry::Embedded(registry::EmbeddedRegistry::new(db.clone(), vault.clone()))
        }
        RegistrySource::Http(http) => registry::Registry::Http(
            registry::HttpRegistry::new(http.clone())
                .map_err(|message| SettingsError { key: "registry_url".into(), message })?,
        ),
    })
}

/// The trusted roots of qualified signatures from `dir` (created if missing). `None` while
/// it holds no certificate: the signature route then says it is not configured.
pub fn open_qes_roots(dir: &Path) -> Result<Option<qes::TrustStore>, SettingsError> {
    let bad = |message: String| SettingsError { key: "qes_roots".into(), message };
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    match qes::TrustStore::from_dir(dir) {
        Ok(trust) => {
            let roots = trust.certificates().len();
            tracing::info!(roots, dir = %dir.display(), "qualified-signature roots loaded");
            Ok(Some(trust))
        }
        Err(qes::QesError::TrustStoreEmpty) => {
            tracing::info!(roots = 0, dir = %dir.display(), "no qualified-signature roots: the signature route is off");
            Ok(None)
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// The personal-data vault: the configured master key, or the dev key file.
pub fn open_vault(settings: &Settings) -> Result<store::vault::Vault, SettingsError> {
    let key = match &settings.master_key {
        MasterKey::Configured(text) => store::vault::parse_key(text.expose_secret())
            .map_err(|e| SettingsError { key: "master_key".into(), message: e.to_string() })?,
        MasterKey::DevFile(path) => {
            std::fs::create_dir_all(&settings.data_dir).map_err(|e| SettingsError {
                key: "data_dir".into(),
                message: format!("{}: {e}", settings.data_dir.display()),
            })?;
            store::vault::load_or_create_dev_key(path).map_err(|e| SettingsError {
                key: "master_key_file".into(),
                message: format!("{}: {e}", path.display()),
            })?
        }
    };
    Ok(store::vault::Vault::new(&key, &[]))
}

/// The transports from the settings; the dev sink where none is configured.
fn delivery(settings: &Settings) -> Result<notify::Delivery, SettingsError> {
    let mut delivery = notify::Delivery::dev_sink();
    if let Some(smtp) = &settings.smtp {
        delivery.email = notify::Delivery::smtp(smtp.url.expose_secret(), &smtp.from)
            .map_err(|message| SettingsError { key: "smtp_url".into(), message })?;
    }
    if let Some(sms) = &settings.sms {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| SettingsError { key: "sms_url".into(), message: e.to_string() })?;
        delivery.sms = notify::SmsTransport::Http {
            client,
            url: sms.url.clone(),
            token: sms.token.expose_secret().to_owned(),
        };
    }
    Ok(delivery)
}

/// How often the notification worker looks for due messages without being woken.
const DELIVER_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Worker: delivers queued notifications, at once when woken and on every tick.
async fn deliver_notifications(
    outbox: notify::Outbox,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(DELIVER_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = outbox.woken() => {}
        }
        if let Err(e) = outbox.deliver_due(clock.now()).await {
            tracing::warn!(error = %e, "notification delivery pass failed; will retry");
        }
    }
}

/// How often the documents worker looks for due checks without being woken.
const CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// When a check that found the registries unreachable runs again: 30 s, doubling, at
/// most an hour apart.
fn check_backoff(attempts: i64) -> chrono::Duration {
    let exp = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    chrono::Duration::seconds((30 * 2i64.pow(exp)).min(3600))
}

/// What one run of a queued registry check came to.
enum Checked {
    Done,
    /// The registries were unreachable: again later.
    Retry,
}

/// A boxed future borrowing the worker's state.
type Fut<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Worker over one job queue of registry checks: woken by `woken` or every
/// [`CHECK_EVERY`], it claims each due job and gives its payload to `run`. A job whose
/// registries are unreachable (or that failed) goes back to the queue with back-off.
async fn check_queue<S: Sync>(
    what: &'static str,
    queue: &'static str,
    state: S,
    jobs: store::jobs::JobQueue,
    clock: Arc<dyn Clock>,
    woken: impl for<'a> Fn(&'a S) -> Fut<'a, ()>,
    run: impl for<'a> Fn(
        &'a S,
        &'a str,
        chrono::DateTime<chrono::Utc>,
    ) -> Fut<'a, Result<Checked, String>>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = woken(&state) => {}
        }
        loop {
            let now = clock.now();
            let job = match jobs.claim(queue, now, chrono::Duration::minutes(2)).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, what, "claiming a check failed; will retry");
                    break;
                }
            };
            let later = now + check_backoff(job.attempts);
            let done = match run(&state, &job.payload, now).await {
                Ok(Checked::Done) => jobs.complete(&job.id, now).await,
                Ok(Checked::Retry) => {
                    jobs.retry(&job.id, "registry unavailable", later, now).await.map(|_| ())
                }
                Err(e) => {
                    tracing::warn!(error = %e, what, "check failed; will retry");
                    jobs.retry(&job.id, &e, later, now).await.map(|_| ())
                }
            };
            if let Err(e) = done {
                tracing::warn!(error = %e, what, "recording a check failed");
                break;
            }
        }
    }
}

/// Worker: runs queued registry checks of documents (standard accounts). A check whose
/// registries are unreachable goes back to the queue with back-off; the person's data
/// stays saved and their status says «ожидает ответа ведомств».
async fn check_documents(
    identity: identity::Identity,
    registry: registry::Registry,
    jobs: store::jobs::JobQueue,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let queue = identity::documents::CHECK_QUEUE;
    check_queue(
        "documents",
        queue,
        (identity, registry),
        jobs,
        clock,
        |(identity, _)| Box::pin(identity.documents_woken()),
        |(identity, registry), account_id, now| {
            Box::pin(async move {
                match identity.run_documents_check(registry, account_id, now).await {
                    Ok(identity::documents::CheckRun::Done) => Ok(Checked::Done),
                    Ok(identity::documents::CheckRun::Retry) => Ok(Checked::Retry),
                    Err(e) => Err(e.to_string()),
                }
            })
        },
    )
    .await
}

/// Worker: runs the automatic checks services declare on submitted applications
/// (registry look-ups), as the platform.
async fn check_applications(
    state: web::AppState,
    registry: registry::Registry,
    jobs: store::jobs::JobQueue,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    use services::applications::{Actor, ChecksRun};
    check_queue(
        "applications",
        services::applications::CHECKS_QUEUE,
        (state, registry),
        jobs,
        clock,
        |(state, _)| Box::pin(state.applications.checks_woken()),
        |(state, registry), id, now| {
            Box::pin(async move {
                let a = match state.applications.get(&Actor::system(), id).await {
                    Ok(a) => a,
                    Err(services::applications::ApplicationError::NotFound) => {
                        return Ok(Checked::Done);
                    }
                    Err(e) => return Err(e.to_string()),
                };
                let (applicant, _) =
                    web::applicant(state, &a.account_id).await.map_err(|e| format!("{e:?}"))?;
                let documents =
                    state.identity.documents(&a.account_id).await.map_err(|e| e.to_string())?;
                let person = documents.verified.map(|d| d.query());
                match state
                    .applications
                    .run_checks(registry, id, person.as_ref(), &applicant, now)
                    .await
                {
                    Ok(ChecksRun::Done) => Ok(Checked::Done),
                    Ok(ChecksRun::Retry) => Ok(Checked::Retry),
                    Err(e) => Err(e.to_string()),
                }
            })
        },
    )
    .await
}

/// How often applications whose applicant's window ran out are looked for (an index
/// range scan on `act_by`).
const OVERDUE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Worker: closes the windows applicants let run out — a clarification not answered by
/// its date is rejected by the workflow's system step, with the reason, and the
/// applicant is told — as the platform.
async fn expire_overdue(
    state: web::AppState,
    clock: Arc<dyn Clock>,
    wake: Arc<tokio::sync::Notify>,
) -> anyhow::Result<()> {
    use services::applications::Actor;
    let mut tick = tokio::time::interval(OVERDUE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.notified() => {}
        }
        let now = clock.now();
        let due = match state.applications.overdue(now, 200).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "looking for expired windows failed; will retry");
                continue;
            }
        };
        for due in due {
            let applicant = match web::applicant(&state, &due.account_id).await {
                Ok((applicant, _)) => applicant,
                Err(e) => {
                    tracing::warn!(application = %due.id, error = ?e, "applicant unavailable; will retry");
                    continue;
                }
            };
            let act_by = due.act_by.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default();
            let comment = format!(
                "Ответ на запрос не получен до {act_by} включительно. Заявление можно подать заново."
            );
            let origin = journal::Origin::default();
            let (id, transition) = (&due.id, &due.transition);
            let result = state
                .applications
                .act(&Actor::system(), id, transition, Some(&comment), &applicant, &origin, now)
                .await;
            match result {
                Ok(_) => tracing::info!(application = %id, %transition, "applicant window closed"),
                // Answered or withdrawn meanwhile: nothing to close.
                Err(services::applications::ApplicationError::Conflict)
                | Err(services::applications::ApplicationError::Refused(_)) => {}
                Err(e) => tracing::warn!(application = %id, error = %e, "closing a window failed"),
            }
        }
    }
}

/// How often accounts whose closing grace period ended are looked for (an index range
/// scan on `close_after`).
const ERASE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Worker: erases the personal data of accounts whose closing grace period has ended.
async fn erase_closed_accounts(
    identity: identity::Identity,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(ERASE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match identity.erase_closed(clock.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(erased = n, "closed accounts erased"),
            Err(e) => tracing::warn!(error = %e, "erasing closed accounts failed; will retry"),
        }
    }
}

/// How often pending journal entries are linked into the chain.
const SEAL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Worker: seals journal entries. A failed pass is logged and retried on the next tick;
/// entries stay safely unsealed meanwhile.
async fn seal_journal(journal: Journal) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(SEAL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match journal.seal().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sealed = n, "journal sealed"),
            Err(e) => tracing::warn!(error = %e, "journal sealing failed; will retry"),
        }
    }
}
