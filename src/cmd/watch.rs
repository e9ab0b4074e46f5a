//! `watch`: `rotate --apply` within seconds of new mail or a reply, as a long-running
//! service. The waiters (`desk::watch`) say when the inbox or Sent changes; each time,
//! and on a timer for what depends on the clock, this runs the very same
//! `rotate --apply` (same code, same race and crash rules), so a watch beside a cron
//! run or another watch never files or hands out a message twice.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;

use super::Ctx;
use crate::cli::{RotateFormat, WatchArgs};
use crate::desk::watch::{self, Signal};
use crate::error::config;
use crate::rules;
use crate::rules::personal::{self, Session};

/// News that comes in a burst is taken together: a run starts once the folder has
/// been quiet this long.
const SETTLE: Duration = Duration::from_millis(200);
const MAX_SETTLE: Duration = Duration::from_secs(2);

pub fn run(ctx: &Ctx, a: &WatchArgs, out: &mut dyn Write) -> Result<()> {
    let every = rules::parse_duration(&a.every)
        .filter(|d| *d >= Duration::from_secs(10))
        .ok_or_else(|| {
            config(format!(
                "--every {:?}: give a duration of 10s or more, like 5m or 1h",
                a.every
            ))
        })?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())?;

    let mut current = Ctx {
        rules: ctx.rules.clone(),
        global: ctx.global.clone(),
        session: ctx.session.clone(),
    };
    let mut stamp = modified(&current.rules.path);
    let rx = watch::spawn(&current.rules, stop.clone(), ctx.global.verbose);
    log(ctx, out, "watch: started; catching up")?;
    once(&current, out);
    let mut next_tick = Instant::now() + every;
    while !stop.load(Ordering::Relaxed) {
        let wait = next_tick
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(500));
        let mut due = false;
        match rx.recv_timeout(wait) {
            Ok(Signal::News(w)) => {
                // Let the rest of a burst arrive, but not for ever: a steady stream
                // must not hold off the runs, the timer or a stop.
                let settling = Instant::now();
                while settling.elapsed() < MAX_SETTLE && !stop.load(Ordering::Relaxed) {
                    match rx.recv_timeout(SETTLE) {
                        Ok(more) => report(ctx, out, &more)?,
                        Err(_) => break,
                    }
                }
                if ctx.global.verbose {
                    log(ctx, out, format!("watch: news in {}", w.name()))?;
                }
                due = true;
            }
            Ok(s @ Signal::Up(..)) => {
                report(ctx, out, &s)?;
                due = true;
            }
            Ok(s @ Signal::Down(..)) => report(ctx, out, &s)?,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                log(ctx, out, "watch: every waiter ended; stopping")?;
                break;
            }
        }
        let changed = modified(&current.rules.path);
        if reload.swap(false, Ordering::Relaxed) || changed != stamp {
            stamp = changed;
            match reloaded(&current) {
                Ok(r) => {
                    current.rules = r;
                    log(ctx, out, "watch: rules reloaded")?;
                }
                Err(e) => eprintln!(
                    "mailduty: warning: the rules file has a problem; keeping the rules loaded before: {}",
                    crate::output::line(&format!("{e:#}"))
                ),
            }
        }
        if Instant::now() >= next_tick {
            due = true;
            next_tick = Instant::now() + every;
        }
        if due && !stop.load(Ordering::Relaxed) {
            once(&current, out);
        }
    }
    log(ctx, out, "watch: stopped")?;
    Ok(())
}

/// One run; a failure is logged and the watch goes on.
fn once(ctx: &Ctx, out: &mut dyn Write) {
    let now = match ctx.now() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("mailduty: {}", crate::output::line(&format!("{e:#}")));
            return;
        }
    };
    if let Err(e) = super::rotate::apply(ctx, RotateFormat::Table, now, out, false) {
        for line in format!("{e:#}").lines() {
            eprintln!("mailduty: {}", crate::output::line(line));
        }
    }
    let _ = out.flush();
}

fn report(ctx: &Ctx, out: &mut dyn Write, s: &Signal) -> Result<()> {
    match s {
        Signal::News(_) => Ok(()),
        Signal::Up(w, folder) => log(
            ctx,
            out,
            format!("watch: waiting on {folder} ({})", w.name()),
        ),
        Signal::Down(w, why, retry) => {
            // Connection trouble is an error line even with -q.
            eprintln!(
                "mailduty: watch: {} connection lost: {}; again in {} s",
                w.name(),
                crate::output::line(why.lines().next().unwrap_or("")),
                retry.as_secs()
            );
            Ok(())
        }
    }
}

fn log(ctx: &Ctx, out: &mut dyn Write, line: impl AsRef<str>) -> Result<()> {
    ctx.say(out, line)?;
    out.flush()?;
    Ok(())
}

/// The rules read again, as this watch's session sees them (a person's own sign-in
/// applied again). The waiters keep the connection settings they started with.
fn reloaded(current: &Ctx) -> Result<rules::Rules> {
    let mut r = rules::load(&current.rules.path)?.rules;
    if let Session::Person { .. } = &current.session
        && let Some(p) = personal::load(&personal::default_path())?
    {
        personal::sign_in_as(&mut r, p)?;
    }
    Ok(r)
}

fn modified(p: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}
