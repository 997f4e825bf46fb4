//! `uslugi letters …`: the print batch of registered letters with a confirmation code,
//! and counts by state.
//!
//! `print` takes every ordered, unprinted letter, renders them into one PDF (one A4 page
//! each, for the post office), writes the file durably (a temporary file, fsync, rename,
//! fsync of the directory), and only then, in one transaction, marks them sent and erases
//! their codes' ciphertexts. A crash before the commit leaves the letters ordered and the
//! next run prints them again with the same codes; nothing is marked sent that is not on
//! paper. Run it on one node (a daily cron job), not on several at once.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use domain::Clock as _;
use identity::Identity;
use identity::letter::PendingLetter;

use crate::clock::SystemClock;
use crate::server::{open_database, open_vault};
use crate::settings::Settings;

/// Some letters could not be printed (exit code 1; they were listed and stay ordered).
#[derive(Debug, thiserror::Error)]
#[error("some letters could not be printed")]
pub struct LettersSkipped;

/// What a print run did.
#[derive(Debug, Default)]
pub struct Batch {
    /// Letters in the PDF and marked sent.
    pub printed: usize,
    /// The PDF written, if any letter was printed.
    pub file: Option<PathBuf>,
    /// Letters left out of the PDF (request id, why — field names, never values); they
    /// stay ordered.
    pub skipped: Vec<(String, String)>,
    /// Letters in the PDF that were cancelled while the batch ran: their codes do not
    /// work; their pages should be destroyed.
    pub withdrawn: Vec<String>,
}

/// The identity service over the configured database, for the batch. Its notices are
/// queued in the outbox and delivered by the running portal.
async fn open_identity(settings: &Settings) -> anyhow::Result<Identity> {
    let vault = Arc::new(open_vault(settings)?);
    let db = open_database(settings).await?;
    let outbox = notify::Outbox::new(db.clone(), vault.clone(), notify::Delivery::dev_sink());
    let hasher =
        identity::password::Hasher::new(settings.argon2).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Identity::new(
        db,
        vault,
        outbox,
        hasher,
        settings.identity.clone(),
        settings.base_url(settings.listen),
    ))
}

/// Prints every ordered letter into `out` as of `now`; `None` when nothing was waiting
/// (no file is written).
pub async fn print(
    settings: &Settings,
    out: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Batch>> {
    let sender = settings.letter_sender()?;
    let identity = open_identity(settings).await?;
    let mut pending: Vec<PendingLetter> = identity.letters_to_print(now).await?;
    if pending.is_empty() {
        return Ok(None);
    }
    let mut batch = Batch::default();
    // A letter that cannot be printed must not hold up the others: leave it out and
    // render the rest (it was checked when ordered, so this is rare).
    let pdf = loop {
        if pending.is_empty() {
            return Ok(Some(batch));
        }
        let letters: Vec<printing::Letter> = pending.iter().map(|p| p.letter.clone()).collect();
        match printing::registered_letters(&sender, &letters) {
            Ok(pdf) => break pdf,
            Err(printing::PrintError::Letter { index, field, problem })
                if index < pending.len() =>
            {
                let left_out = pending.remove(index);
                tracing::warn!(letter = %left_out.id, field, %problem, "letter left out of the batch");
                batch.skipped.push((left_out.id, format!("{field} {problem}")));
            }
            Err(e) => return Err(e).context("rendering the letters"),
        }
    };
    write_durably(out, &pdf).with_context(|| out.display().to_string())?;
    let marked = identity.mark_letters_printed(&pending, now).await?;
    batch.printed = marked.len();
    batch.withdrawn =
        pending.iter().map(|p| p.id.clone()).filter(|id| !marked.contains(id)).collect();
    batch.file = Some(out.to_path_buf());
    Ok(Some(batch))
}

/// Writes `bytes` to `path` so that a crash leaves either the whole file or none.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.partial"));
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)?;
    #[cfg(unix)]
    {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// `uslugi letters print --out FILE`: the batch as of now, reported on the terminal.
pub async fn run_print(settings: &Settings, out: &Path) -> anyhow::Result<()> {
    let Some(batch) = print(settings, out, SystemClock.now()).await? else {
        println!("Нет заказанных писем: печатать нечего, файл не создан");
        return Ok(());
    };
    match &batch.file {
        Some(file) => println!("Напечатано писем: {} → {}", batch.printed, file.display()),
        None => println!("Напечатано писем: 0, файл не создан"),
    }
    if !batch.withdrawn.is_empty() {
        println!(
            "Отменены во время печати (коды не действуют, страницы уничтожить): {}",
            batch.withdrawn.join(", ")
        );
    }
    for (id, reason) in &batch.skipped {
        println!("Не напечатано, остаётся в очереди: запрос {id}: {reason}");
    }
    if batch.skipped.is_empty() { Ok(()) } else { Err(LettersSkipped.into()) }
}

/// `uslugi letters status`: how many letters are in each state.
pub async fn status(settings: &Settings) -> anyhow::Result<()> {
    let identity = open_identity(settings).await?;
    let counts = identity.letter_counts(SystemClock.now()).await?;
    let count = |state: &str| counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
    let line: Vec<String> = ["requested", "sent", "used", "expired", "cancelled"]
        .iter()
        .map(|s| {
            format!("{} {}", identity::letter::LetterState::label_of(s).to_lowercase(), count(s))
        })
        .collect();
    println!("Заказные письма: {}", line.join(", "));
    Ok(())
}
