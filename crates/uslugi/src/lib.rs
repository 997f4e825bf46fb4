//! The Uslugi application as a library: configuration, wiring and the server's life
//! cycle. `main.rs` is a thin command line over it; the integration tests start the very
//! same server through [`server::start`].

pub mod clock;
pub mod gateway;
pub mod registry_cli;
pub mod server;
pub mod settings;
