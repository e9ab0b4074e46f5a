//! Waiting for news on one folder with IDLE (RFC 2177): the server tells of new mail,
//! expunges and flag changes as they happen. The wait ends on news, at a limit (a
//! client re-IDLEs before the 30 minutes after which a server may drop it), or when
//! the caller asks to stop; every way out ends the IDLE with DONE and its tagged OK,
//! so the connection stays usable.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::Mailbox;
use super::conn::{Conn, Status};

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woke {
    /// The folder changed.
    News,
    /// The limit passed with nothing to tell.
    Quiet,
    /// The caller asked to stop.
    Stopped,
}

/// How often the stop flag is looked at while waiting.
const TICK: Duration = Duration::from_millis(250);

impl Mailbox {
    /// Waits on `folder` (opened read-only) for at most `limit`.
    pub fn idle(&mut self, folder: &str, limit: Duration, stop: &AtomicBool) -> Result<Woke> {
        let started = Instant::now();
        if !self.has("IDLE") {
            // Without IDLE the folder is looked at twice a minute.
            let until = limit.min(Duration::from_secs(30));
            while started.elapsed() < until {
                if stop.load(Ordering::Relaxed) {
                    return Ok(Woke::Stopped);
                }
                std::thread::sleep(TICK);
            }
            return Ok(Woke::News);
        }
        self.open(folder, false)?;
        let tag = self.conn.start("IDLE")?;
        // News told between two IDLEs (after DONE, before the next `+`) counts too.
        let mut told = false;
        loop {
            let r = self.conn.next_response()?;
            if r.starts_with(b"+") {
                break;
            }
            told |= news(&r);
            if let Some(done) = Conn::ends(&tag, &r) {
                bail!(
                    "the IMAP server refused IDLE on {folder}: {}",
                    crate::output::line(&done.text)
                );
            }
        }
        let mut woke = loop {
            if told {
                break Woke::News;
            }
            if stop.load(Ordering::Relaxed) {
                break Woke::Stopped;
            }
            if started.elapsed() >= limit {
                break Woke::Quiet;
            }
            if self.conn.has_data_within(TICK)? {
                let r = self.conn.next_response()?;
                if news(&r) {
                    break Woke::News;
                }
                // A server may end IDLE itself: a DONE then would be read as a command.
                if let Some(done) = Conn::ends(&tag, &r) {
                    if done.status != Status::Ok {
                        bail!(
                            "IDLE on {folder} ended with {}",
                            crate::output::line(&done.text)
                        );
                    }
                    return Ok(Woke::News);
                }
                if r.starts_with(b"* BYE") {
                    bail!(
                        "the IMAP server ended the session: {}",
                        crate::output::line(String::from_utf8_lossy(&r).trim_end())
                    );
                }
            }
        };
        self.conn.write_line("DONE")?;
        loop {
            let r = self.conn.next_response()?;
            if news(&r) && woke != Woke::Stopped {
                woke = Woke::News;
            }
            if let Some(done) = Conn::ends(&tag, &r) {
                if done.status != Status::Ok {
                    bail!(
                        "IDLE on {folder} ended with {}",
                        crate::output::line(&done.text)
                    );
                }
                return Ok(woke);
            }
        }
    }
}

/// An untagged response that says the folder changed: a new count, an expunge, or a
/// message's flags.
fn news(r: &[u8]) -> bool {
    let text = String::from_utf8_lossy(r);
    let mut w = text.split_whitespace();
    w.next() == Some("*")
        && w.next()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        && w.next().is_some_and(|k| {
            matches!(
                k.to_ascii_uppercase().as_str(),
                "EXISTS" | "EXPUNGE" | "FETCH"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_news() {
        assert!(news(b"* 4 EXISTS\r\n"));
        assert!(news(b"* 2 EXPUNGE\r\n"));
        assert!(news(b"* 3 FETCH (FLAGS (\\Seen))\r\n"));
        assert!(!news(b"* OK Still here\r\n"));
        assert!(!news(b"* 0 RECENT\r\n"));
        assert!(!news(b"*"));
    }
}
