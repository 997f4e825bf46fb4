//! `uslugi registry …`: importing, generating and serving the embedded registry.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use domain::Clock as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use registry::EmbeddedRegistry;

use crate::clock::SystemClock;
use crate::server::{open_database, open_vault};
use crate::settings::Settings;

/// Some rows of an import were rejected (exit code 1; the report was printed).
#[derive(Debug, thiserror::Error)]
#[error("some rows were rejected")]
pub struct RowsRejected;

async fn open(settings: &Settings) -> anyhow::Result<EmbeddedRegistry> {
    let vault = Arc::new(open_vault(settings)?);
    let db = open_database(settings).await?;
    Ok(EmbeddedRegistry::new(db, vault))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
    }
    bar
}

/// Imports a file and prints what was loaded and what was rejected.
pub async fn import(settings: &Settings, file: &Path, report: Option<&Path>) -> anyhow::Result<()> {
    let registry = open(settings).await?;
    let today = domain::moscow_date(SystemClock.now());
    let progress = bar(0, "{bar:40} {bytes}/{total_bytes} · загружено {msg} · {elapsed}");
    let started = Instant::now();
    let summary = registry::import::import_file(&registry, file, today, &mut |p| {
        progress.set_length(p.total_bytes);
        progress.set_position(p.bytes_read);
        progress.set_message(format!("{}, отклонено {}", p.loaded, p.rejected));
    })
    .await;
    progress.finish_and_clear();
    let summary = summary?;
    println!(
        "Загружено за {:.1} с: граждан {}, недействительных паспортов {}, организаций {}; \
         отклонено строк: {}",
        started.elapsed().as_secs_f64(),
        summary.persons,
        summary.invalid_passports,
        summary.organizations,
        summary.rejected.iter().map(|r| r.line).collect::<std::collections::BTreeSet<_>>().len()
    );
    for r in summary.rejected.iter().take(50) {
        println!("  {r}");
    }
    if summary.rejected.len() > 50 {
        println!("  … и ещё {} замечаний", summary.rejected.len() - 50);
    }
    if let Some(path) = report {
        let mut out = csv_report(path)?;
        for r in &summary.rejected {
            writeln!(out, "{},{},{}", r.line, quote(r.field), quote(&r.reason))
                .with_context(|| path.display().to_string())?;
        }
        out.flush().with_context(|| path.display().to_string())?;
        println!("Отчёт об отклонённых строках: {}", path.display());
    }
    if summary.rejected.is_empty() { Ok(()) } else { Err(RowsRejected.into()) }
}

fn csv_report(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path).with_context(|| path.display().to_string())?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "line,field,reason").with_context(|| path.display().to_string())?;
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Generates and loads a synthetic dataset.
pub async fn demo(settings: &Settings, persons: u64, orgs: u64, seed: u64) -> anyhow::Result<()> {
    let registry = open(settings).await?;
    let progress = bar(persons + orgs, "{bar:40} {pos}/{len} записей · {per_sec} · {eta} осталось");
    let started = Instant::now();
    let result = registry::demo::load(&registry, seed, persons, orgs, &mut |done, _| {
        progress.set_position(done);
    })
    .await;
    progress.finish_and_clear();
    result?;
    let (p, i, o) = registry.counts().await?;
    println!(
        "Сгенерировано за {:.1} с: граждан {persons}, организаций {orgs}. \
         В реестре теперь граждан {p}, недействительных паспортов {i}, организаций {o}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Prints how many records the embedded registry holds.
pub async fn status(settings: &Settings) -> anyhow::Result<()> {
    let registry = open(settings).await?;
    let (p, i, o) = registry.counts().await?;
    println!("Встроенный реестр: граждан {p}, недействительных паспортов {i}, организаций {o}");
    Ok(())
}

/// Serves the gateway protocol until `signal`.
pub async fn serve_gateway(
    settings: &Settings,
    token: Option<String>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let registry = open(settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    println!("Шлюз реестров работает на http://{}/v1/ (остановка: Ctrl+C)", listener.local_addr()?);
    axum::serve(listener, crate::gateway::router(registry, token))
        .with_graceful_shutdown(signal)
        .await?;
    Ok(())
}
