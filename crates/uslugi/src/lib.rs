//! The Uslugi application as a library: configuration, wiring and the server's life
//! cycle. `main.rs` is a thin command line over it; the integration tests start the very
//! same server through [`server::start`].

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
