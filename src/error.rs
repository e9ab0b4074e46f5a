//! The errors callers must tell apart, and the exit codes they map to.
//!
//! Everything else travels as `anyhow::Error` and exits with FAILURE.

pub const SUCCESS: u8 = 0;
pub const FAILURE: u8 = 1;
pub const USAGE: u8 = 2;
pub const NOT_FOUND: u8 = 3;
pub const CONFLICT: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad rules file, bad flags, unknown member: nothing was sent to the server.
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Ambiguous(String),
    /// Someone else holds the message, or another claimer won.
    #[error("{0}")]
    Conflict(String),
    /// An expected non-zero exit whose message was already printed.
    #[error("")]
    Silent(u8),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => USAGE,
            Error::NotFound(_) | Error::Ambiguous(_) => NOT_FOUND,
            Error::Conflict(_) => CONFLICT,
            Error::Silent(code) => *code,
        }
    }
}

pub fn config(msg: impl Into<String>) -> anyhow::Error {
    Error::Config(msg.into()).into()
}

pub fn exit_code(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Error>())
        .map_or(FAILURE, Error::exit_code)
}
