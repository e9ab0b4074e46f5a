//! mailduty: status folders, a duty roster and a digest for a shared IMAP mailbox.
//! The binary in main.rs is a thin shell around `cmd::run`; the modules are a
//! library so that the tests and the benchmark drive the same code.

pub mod automated;
pub mod calendar;
pub mod cli;
pub mod cmd;
pub mod complete;
pub mod desk;
pub mod digest;
pub mod error;
pub mod https;
pub mod imap;
pub mod mail;
pub mod notify;
pub mod output;
pub mod roster;
pub mod rules;
pub mod secret;
pub mod signin;

pub fn version_line() -> &'static str {
    concat!(env!("CARGO_PKG_VERSION"), " (TLS: native-tls, OpenSSL)")
}
