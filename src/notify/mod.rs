//! Chat notifications: the history's events told to Slack, Teams, Chatwork or a
//! generic webhook (`notify:` in the rules).
//!
//! Above the desk (it reads pending events and writes marks through it), below the
//! commands. Which targets want an event is decided in `rules::notify`, so the desk
//! never calls up here.
//!
//! How a delivery survives failures, with the IMAP server as the only shared state:
//! - the desk records an event with the names of the targets that want its kind
//!   (`X-Mailduty-Notify`); that is the pending delivery, on the server;
//! - after the mailbox work, the command calls `flush`: every pending event of the
//!   last `RETRY_DAYS` without a delivered mark for a target is sent to it, oldest
//!   first, and each success appends a delivered mark (`X-Mailduty-Delivered`);
//! - a failure (an HTTP error, a timeout, a TLS problem, a missing secret) is one
//!   warning line; the mailbox work stays done, and the next run of any command that
//!   flushes (from any machine) tries again. A target that failed is not tried again
//!   in the same run, so a dead endpoint costs one timeout, not one per event;
//! - two runs flushing at once (two machines' cron) do not both send: each run takes
//!   a target's lock with a mark in the history folder first (`take`), and only the
//!   holder sends.
//!
//! `overdue` events are written by `rotate --apply` once per message, only in
//! business hours (`record_overdue`).

pub mod format;
pub mod http;

use std::collections::HashSet;

use anyhow::Result;
use chrono::{DateTime, Utc};

pub use crate::rules::notify::{EVENTS, Kind, Target};
use format::Note;

use crate::desk::Desk;
use crate::desk::history::Stored;
use crate::desk::queue::{Item, Status};
use crate::rules::Rules;

/// How long a pending delivery is retried; older ones are dropped (a chat message
/// days late helps nobody).
pub const RETRY_DAYS: i64 = 3;

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    pub delivered: Vec<(String, String)>,
    /// One line per target that failed, for stderr.
    pub warnings: Vec<String>,
    /// Deliveries left for the next run.
    pub pending: usize,
    /// Deliveries left to another run that was sending to the same target.
    pub busy: usize,
}

/// Sends what is pending. Errors are the mailbox's (the history could not be read
/// or marked); a delivery's failure is a warning.
pub fn flush(desk: &mut Desk<'_>, now: DateTime<Utc>, verbose: bool) -> Result<Flushed> {
    let mut out = Flushed::default();
    let rules = desk.rules();
    if rules.notify.is_empty() {
        return Ok(out);
    }
    let since = now - chrono::Duration::days(RETRY_DAYS);
    let pending = desk.notify_pending(since)?;
    if pending.is_empty() {
        return Ok(out);
    }
    let mut done = desk.notify_delivered(since)?;
    for t in &rules.notify {
        let todo = |done: &HashSet<(String, String)>| -> Vec<(&Stored, String)> {
            pending
                .iter()
                .filter(|e| e.notify.contains(&t.name))
                .filter_map(|e| Some((e, e.own_id.clone()?)))
                .filter(|(_, id)| !done.contains(&(t.name.clone(), id.clone())))
                .collect()
        };
        if todo(&done).is_empty() {
            continue;
        }
        let nonce = nonce();
        // Before the mark is written: the hold's age errs on the old side.
        let marked = std::time::Instant::now();
        if !take(desk, &t.name, &nonce)? {
            out.busy += todo(&done).len();
            continue;
        }
        // Read again under the lock: the run that held it before may have sent some.
        done = desk.notify_delivered(since)?;
        let todo = todo(&done);
        let mut hold = Hold {
            nonces: vec![nonce],
            marked,
        };
        let res = send_all(desk, t, &todo, now, verbose, &mut hold, &mut out);
        let freed = hold
            .nonces
            .iter()
            .try_for_each(|n| desk.notify_lock(&t.name, n, false, Utc::now()));
        res?;
        freed?;
    }
    Ok(out)
}

/// How long a run's hold on a target's deliveries counts from its last mark: a run
/// that died holding it delays that target's deliveries this long, never more.
const LOCK_FOR: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// How often a run that is still sending renews its hold with a fresh mark, so that
/// a long backlog to a slow endpoint does not outlast the lock.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(2 * 60);

/// Room kept below `LOCK_FOR` for the clocks of two machines differing a little.
const LOCK_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

fn nonce() -> String {
    let t = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    format!("{t:x}.{:x}", std::process::id())
}

/// Takes the target's lock: the lowest UID among the live `take` marks wins, which
/// every run reads the same way, since a later APPEND gets a higher UID. A run that
/// loses frees its mark at once and leaves the deliveries to the holder.
fn take(desk: &mut Desk<'_>, target: &str, nonce: &str) -> Result<bool> {
    let at = Utc::now();
    desk.notify_lock(target, nonce, true, at)?;
    let locks = desk.notify_locks(at - LOCK_FOR)?;
    // Our own mark missing from the answer (a lagging replica): hold off, the next
    // run sends.
    if holds(&locks, target, &[nonce.to_string()]) {
        return Ok(true);
    }
    desk.notify_lock(target, nonce, false, Utc::now())?;
    Ok(false)
}

/// Whether the live holder of `target`'s lock is one of `mine` (a run's first mark
/// and its renewals, each with its own nonce so that no two marks share a Message-ID).
fn holds(locks: &[crate::desk::history::Lock], target: &str, mine: &[String]) -> bool {
    let freed: HashSet<&str> = locks
        .iter()
        .filter(|l| !l.take && l.target == target)
        .map(|l| l.nonce.as_str())
        .collect();
    locks
        .iter()
        .filter(|l| l.take && l.target == target && !freed.contains(l.nonce.as_str()))
        .min_by_key(|l| l.uid)
        .is_some_and(|h| mine.contains(&h.nonce))
}

/// A run's hold on a target's lock while it sends.
struct Hold {
    /// Every nonce this run marked with; all are freed at the end.
    nonces: Vec<String>,
    /// When the newest mark was written.
    marked: std::time::Instant,
}

/// What to do before the next delivery, given the age of the newest mark and the
/// longest a delivery may take.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Send,
    Renew,
    Stop,
}

fn step(age: std::time::Duration, timeout: std::time::Duration) -> Step {
    let limit = LOCK_FOR - LOCK_MARGIN;
    if age >= limit {
        // Another run may already have taken the lock and sent these.
        Step::Stop
    } else if age >= REFRESH_EVERY {
        Step::Renew
    } else if age + timeout >= limit {
        Step::Stop
    } else {
        Step::Send
    }
}

/// Writes a fresh take mark and checks that this run still holds the lock.
fn renew(desk: &mut Desk<'_>, target: &str, hold: &mut Hold) -> Result<bool> {
    let nonce = format!("{}.r{}", hold.nonces[0], hold.nonces.len());
    let at = Utc::now();
    let started = std::time::Instant::now();
    desk.notify_lock(target, &nonce, true, at)?;
    hold.nonces.push(nonce);
    let locks = desk.notify_locks(at - LOCK_FOR)?;
    if !holds(&locks, target, &hold.nonces) {
        return Ok(false);
    }
    hold.marked = started;
    Ok(true)
}

fn send_all(
    desk: &mut Desk<'_>,
    t: &Target,
    todo: &[(&Stored, String)],
    now: DateTime<Utc>,
    verbose: bool,
    hold: &mut Hold,
    out: &mut Flushed,
) -> Result<()> {
    if todo.is_empty() {
        return Ok(());
    }
    // Once per target and run: a password manager asked for every event would prompt
    // (or wait) as many times.
    let secret = match http::resolve(t) {
        Ok(s) => s,
        Err(e) => {
            out.pending += todo.len();
            out.warnings.push(format!(
                "notify {}: {e:#}; {} notification(s) kept for the next run",
                t.name,
                todo.len()
            ));
            return Ok(());
        }
    };
    for (i, (ev, id)) in todo.iter().enumerate() {
        let left = todo.len() - i;
        let mut go = step(hold.marked.elapsed(), t.timeout);
        let mut why = String::from("sending took too long to finish within the delivery lock");
        if go == Step::Renew {
            go = match renew(desk, &t.name, hold) {
                Ok(true) => step(hold.marked.elapsed(), t.timeout),
                Ok(false) => {
                    why = "another run holds the delivery lock now".into();
                    Step::Stop
                }
                Err(e) => {
                    why = format!("the delivery lock could not be renewed: {e:#}");
                    Step::Stop
                }
            };
        }
        if go != Step::Send {
            out.pending += left;
            out.warnings.push(format!(
                "notify {}: {why}; {left} notification(s) kept for the next run",
                t.name
            ));
            break;
        }
        let note = format::note(desk.rules(), ev);
        match deliver_with(t, &secret, &note, verbose) {
            Ok(()) => {
                desk.mark_notified(&t.name, id, now).map_err(|e| {
                    e.context(format!(
                        "notify {}: delivered {} {}, but its delivered mark was not written (it may be sent again)",
                        t.name, ev.event, ev.id
                    ))
                })?;
                out.delivered.push((t.name.clone(), ev.event.clone()));
            }
            Err(e) => {
                out.pending += left;
                out.warnings.push(format!(
                    "notify {}: {e:#}; {left} notification(s) kept for the next run",
                    t.name
                ));
                break;
            }
        }
    }
    Ok(())
}

/// Sends one notification to one target.
pub fn deliver(t: &Target, note: &Note, verbose: bool) -> Result<()> {
    deliver_with(t, &http::resolve(t)?, note, verbose)
}

fn deliver_with(t: &Target, secret: &str, note: &Note, verbose: bool) -> Result<()> {
    let p = post(t, secret, note)?;
    http::send(t, &p, verbose).map(|_| ())
}

fn post(t: &Target, secret: &str, note: &Note) -> Result<http::Post> {
    let secret = secret.to_string();
    let json = |v: serde_json::Value| serde_json::to_vec(&v).expect("JSON values serialise");
    let hook = |body: Vec<u8>, headers: Vec<(&'static str, String)>| -> Result<http::Post> {
        let (url, shown) = http::hook_url(&secret, t.endpoint.as_deref(), &t.secret_key)?;
        Ok(http::Post {
            url,
            headers,
            content_type: "application/json; charset=utf-8",
            body,
            shown,
            secrets: vec![secret.clone()],
        })
    };
    match &t.kind {
        Kind::Slack => hook(json(format::slack(note)), vec![]),
        Kind::Teams => hook(json(format::teams(note)), vec![]),
        Kind::Webhook => hook(
            json(format::webhook(note)),
            vec![("X-Mailduty-Event", note.event.clone())],
        ),
        Kind::Chatwork { room } => {
            let base = http::api_base(t.endpoint.as_deref());
            let body = form(&[("body", &format::chatwork(note))]);
            Ok(http::Post {
                url: format!("{base}/v2/rooms/{room}/messages"),
                headers: vec![("X-ChatWorkToken", secret.clone())],
                content_type: "application/x-www-form-urlencoded",
                body: body.into_bytes(),
                shown: base,
                secrets: vec![secret],
            })
        }
    }
}

/// application/x-www-form-urlencoded.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Writes an `overdue` event for each unclaimed message past its SLA that has none
/// yet; only in business hours, so that nobody is alerted at 3 a.m. or on a holiday.
/// Returns how many it wrote.
pub fn record_overdue(desk: &mut Desk<'_>, items: &[Item], now: DateTime<Utc>) -> Result<usize> {
    let rules = desk.rules();
    if !rules.notify.iter().any(|t| t.wants("overdue")) {
        return Ok(0);
    }
    let open = rules
        .calendar
        .business_time(now - chrono::Duration::seconds(1), now);
    if open.is_zero() {
        return Ok(0);
    }
    let over: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Unclaimed && crate::desk::queue::overdue(rules, i, now))
        .collect();
    let Some(oldest) = over.iter().map(|i| i.arrived).min() else {
        return Ok(0);
    };
    // An overdue event cannot be older than its message: the search starts there.
    let day = (oldest - chrono::Duration::days(1)).date_naive();
    let known = desk.events_of_kind_since("overdue", day)?;
    let trim = |m: &str| m.trim_matches(['<', '>']).to_string();
    let mut n = 0;
    for it in over {
        let seen = known.iter().any(|e| {
            let same = match (&e.message_id, &it.message_id) {
                (Some(a), Some(b)) => trim(a) == trim(b),
                (None, None) => e.id == it.id,
                _ => false,
            };
            same && e.concerns(it)
        });
        if seen {
            continue;
        }
        let note = format!("SLA {}", span(rules.unclaimed_sla(&it.from, &it.subject)));
        let ev = crate::desk::event("overdue", crate::desk::rules::ROTATE, it, None, Some(&note));
        desk.record(&ev, None)?;
        n += 1;
    }
    Ok(n)
}

/// An SLA as the rules write it: 4h, 30m, 1h30m.
fn span(d: std::time::Duration) -> String {
    let m = d.as_secs() / 60;
    match (m / 60, m % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// `notify --test`: one test message to every target; the result of each.
pub fn test(rules: &Rules, verbose: bool) -> Vec<(String, Result<()>)> {
    let ev = crate::desk::history::Stored {
        login: None,
        time: Utc::now(),
        event: "test".into(),
        actor: "mailduty".into(),
        id: "test".into(),
        message_id: None,
        subject: Some(format!("rules: {}", rules.path.display())),
        from_folder: None,
        to_folder: None,
        note: None,
        arrived: None,
        size: None,
        sender: None,
        hash: None,
        notify: vec![],
        own_id: None,
    };
    let note = format::note(rules, &ev);
    rules
        .notify
        .iter()
        .map(|t| (t.name.clone(), deliver(t, &note, verbose)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_long_send_renews_its_lock_and_stops_before_it_lapses() {
        let t = Duration::from_secs(5);
        assert_eq!(step(Duration::ZERO, t), Step::Send);
        assert_eq!(step(REFRESH_EVERY - Duration::from_secs(1), t), Step::Send);
        assert_eq!(step(REFRESH_EVERY, t), Step::Renew);
        // Renewal failed and time went on: no delivery may end past the lock's limit.
        let limit = LOCK_FOR - LOCK_MARGIN;
        assert_eq!(step(limit, t), Step::Stop);
        assert_eq!(step(limit + Duration::from_secs(300), t), Step::Stop);
        // 200 deliveries of 3 s each, renewing when told to: the newest mark is never
        // older than the limit when a delivery starts, and a delivery never ends past it.
        let (mut clock, mut marked, mut renewals) = (Duration::ZERO, Duration::ZERO, 0);
        for _ in 0..200 {
            let mut s = step(clock - marked, Duration::from_secs(3));
            if s == Step::Renew {
                marked = clock;
                renewals += 1;
                s = step(clock - marked, Duration::from_secs(3));
            }
            assert_eq!(s, Step::Send);
            clock += Duration::from_secs(3);
            assert!(clock - marked < limit);
        }
        assert!(renewals >= 4, "{renewals}");
    }

    fn lock(uid: u32, take: bool, nonce: &str) -> crate::desk::history::Lock {
        crate::desk::history::Lock {
            uid,
            take,
            target: "slack".into(),
            nonce: nonce.into(),
            time: Utc::now(),
        }
    }

    #[test]
    fn renewed_marks_keep_the_lock_and_a_later_run_does_not_take_it() {
        let mine = vec!["a".to_string(), "a.r1".to_string()];
        // Our first mark lapsed (not in the live list); the renewal still precedes
        // the other run's mark.
        let live = [lock(12, true, "a.r1"), lock(15, true, "b")];
        assert!(holds(&live, "slack", &mine));
        assert!(!holds(&live, "slack", &["b".to_string()]));
        // Once every one of our nonces is freed, the other run holds it.
        let freed = [
            lock(12, true, "a.r1"),
            lock(15, true, "b"),
            lock(16, false, "a"),
            lock(17, false, "a.r1"),
        ];
        assert!(holds(&freed, "slack", &["b".to_string()]));
        // A run that stalled past the lock: another took it; renewing does not win.
        let stalled = [lock(20, true, "c"), lock(21, true, "a.r2")];
        assert!(!holds(
            &stalled,
            "slack",
            &["a".into(), "a.r1".into(), "a.r2".into()]
        ));
        // Marks of another target do not count.
        let mut z = lock(1, true, "z");
        z.target = "teams".into();
        let other = [z, lock(2, true, "a")];
        assert!(holds(&other, "slack", &mine));
        let other = [other[0].clone()];
        assert!(!holds(&other, "slack", &mine));
    }

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            super::form(&[("body", "[To:1]有 a&b=c"), ("x", "1")]),
            "body=%5BTo%3A1%5D%E6%9C%89+a%26b%3Dc&x=1"
        );
    }
}
