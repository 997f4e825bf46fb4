//! The integration suite: the real server on port 0, on SQLite and on PostgreSQL, talked
//! to over HTTP and through headless Chromium. One test binary, so it links once.
//!
//! PostgreSQL comes from `USLUGI_TEST_DATABASE_URL` (an admin URL; each test creates its
//! own database), which `scripts/test` sets after starting a throwaway server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod accounts;
mod api;
mod applications;
mod back_office;
mod bank;
mod browser;
mod catalog;
mod cli;
mod clients_admin;
mod documents;
mod eis;
mod letter;
mod notify;
mod oidc;
mod oidc_keys;
mod pages;
mod registry;
mod rights;
mod security;
mod signature;
mod staff;
mod store;
