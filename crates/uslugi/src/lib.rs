//! The Uslugi application as a library: configuration, wiring and the server's life
//! cycle. `main.rs` is a thin command line over it; the integration tests start the very
//! same server through [`server::start`].

/// mimalloc serves every binary linking this crate (the server, its tests and benches):
/// attachments make megabyte-sized buffers on every upload, which glibc's allocator
/// returns to the kernel and faults back in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
