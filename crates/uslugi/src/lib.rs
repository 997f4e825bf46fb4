//! The Uslugi application as a library: configuration, wiring and the server's life
//! cycle. `main.rs` is a thin command line over it; the integration tests start the very
//! same server through [`server::start`].

/// mimalloc serves every binary linking this crate (the server, its tests and benches):
/// attachments make megabyte-sized buffers on every upload, which glibc's allocator
/// returns to the kernel and faults back in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process (Linux; [`server::start`] does it).
/// mimalloc asks for huge pages on its arena, and as uploads churn its memory the kernel
/// zeroed a whole 2 MiB page at each first touch of a region: 11–13% of the CPU of a
/// submission with a 1 MB file went to `clear_page_erms`, 0.3% with them off.
pub fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!(error = %e, "transparent huge pages stay on");
    }
}

pub mod bank_cli;
pub mod clients_cli;
pub mod clock;
pub mod eis_cli;
pub mod gateway;
pub mod letters_cli;
pub mod registry_cli;
pub mod server;
pub mod settings;
pub mod staff_cli;
