//! The errors callers must tell apart, and the exit codes they map to.
//!
//! Everything else travels as `anyhow::Error` and exits with FAILURE. At the bottom:
//! imports no other module of mailduty.

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

/// Standard output, with its broken pipe marked as such: `mailduty list | head` closing
/// the pipe is success, while a broken pipe to the IMAP or SMTP server is a failure
/// like any other.
pub struct Stdout<W>(pub W);

#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

fn mark(e: std::io::Error) -> std::io::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::io::Error::new(std::io::ErrorKind::BrokenPipe, StdoutClosed)
    } else {
        e
    }
}

impl<W: std::io::Write> std::io::Write for Stdout<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf).map_err(mark)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush().map_err(mark)
    }
}

/// Whether the error is standard output's broken pipe, and nothing else.
pub fn is_stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<StdoutClosed>()
            || c.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<StdoutClosed>())
    })
}
