//! The waiters behind `mailduty watch`: one connection per watched folder (the inbox,
//! and Sent where there is one), each in IDLE and telling the command when its folder
//! changes. A connection that breaks (a server restart, a network loss, a session the
//! server ended when its token expired) is made again with growing, jittered pauses;
//! every new connection signs in afresh, so an OAuth token is refreshed on the way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use super::Desk;
use crate::imap::Woke;
use crate::rules::Rules;

/// A watched folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Inbox,
    Sent,
}

impl Watched {
    pub fn name(self) -> &'static str {
        match self {
            Watched::Inbox => "inbox",
            Watched::Sent => "sent",
        }
    }
}

/// What a waiter tells.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The folder changed.
    News(Watched),
    /// Connected (again); what happened meanwhile is to be caught up on.
    Up(Watched, String),
    /// The connection failed; the waiter tries again after `retry`.
    Down(Watched, String, Duration),
}

/// Re-IDLE well before the 30 minutes after which a server may end an idle session.
pub const REIDLE: Duration = Duration::from_secs(25 * 60);

const MAX_PAUSE: Duration = Duration::from_secs(60);

/// Starts the waiters; they end when `stop` is set.
pub fn spawn(rules: &Rules, stop: Arc<AtomicBool>, verbose: bool) -> Receiver<Signal> {
    let (tx, rx) = channel();
    for which in [Watched::Inbox, Watched::Sent] {
        let (rules, stop, tx) = (rules.clone(), stop.clone(), tx.clone());
        std::thread::spawn(move || wait(rules, which, stop, tx, verbose));
    }
    rx
}

/// A pause between 1 and 1.5 times `base`: waiters of many machines restarted by one
/// server restart do not all come back in the same second.
fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

fn pause(d: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(200);
    let mut waited = Duration::ZERO;
    while waited < d && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        waited += step;
    }
}

fn wait(rules: Rules, which: Watched, stop: Arc<AtomicBool>, tx: Sender<Signal>, verbose: bool) {
    let mut backoff = Duration::from_secs(1);
    while !stop.load(Ordering::Relaxed) {
        let mut desk = match Desk::open_reading_sent(&rules, verbose) {
            Ok(d) => d,
            Err(e) => {
                let retry = jittered(backoff);
                if tx
                    .send(Signal::Down(which, format!("{e:#}"), retry))
                    .is_err()
                {
                    return;
                }
                pause(retry, &stop);
                backoff = (backoff * 2).min(MAX_PAUSE);
                continue;
            }
        };
        let folder = match which {
            Watched::Inbox => Ok(Some(desk.paths.inbox.clone())),
            Watched::Sent => desk.sent_folder(),
        };
        let folder = match folder {
            Ok(Some(f)) => f,
            // No Sent folder: replies are still found by the timer's runs.
            Ok(None) => {
                desk.close();
                return;
            }
            Err(e) => {
                let retry = jittered(backoff);
                if tx
                    .send(Signal::Down(which, format!("{e:#}"), retry))
                    .is_err()
                {
                    return;
                }
                pause(retry, &stop);
                backoff = (backoff * 2).min(MAX_PAUSE);
                continue;
            }
        };
        if tx.send(Signal::Up(which, folder.clone())).is_err() {
            return;
        }
        loop {
            match desk.idle(&folder, REIDLE, &stop) {
                Ok(Woke::News) => {
                    // Only a wait that worked proves the connection sound.
                    backoff = Duration::from_secs(1);
                    if tx.send(Signal::News(which)).is_err() {
                        return;
                    }
                }
                Ok(Woke::Quiet) => backoff = Duration::from_secs(1),
                Ok(Woke::Stopped) => {
                    desk.close();
                    return;
                }
                Err(e) => {
                    let retry = jittered(backoff);
                    if tx
                        .send(Signal::Down(which, format!("{e:#}"), retry))
                        .is_err()
                    {
                        return;
                    }
                    pause(retry, &stop);
                    backoff = (backoff * 2).min(MAX_PAUSE);
                    break;
                }
            }
        }
    }
}

impl Desk<'_> {
    /// Waits on `folder` with IDLE (see `Mailbox::idle`).
    pub fn idle(
        &mut self,
        folder: &str,
        limit: Duration,
        stop: &AtomicBool,
    ) -> anyhow::Result<Woke> {
        self.mb.idle(folder, limit, stop)
    }
}
