//! The daily digest's content: overdue mail, stale claims, counts, today's duty, what
//! was finished yesterday and response times. Pure functions over the queue and the
//! history; "now" is a parameter. Sending lives in `cmd/report.rs`.
//!
//! This file computes the `Report`; `render` turns it into the mail's plain text
//! and HTML. Above the desk (it reads the queue's items and the history's events),
//! below the commands and `mail`.

mod render;

pub use render::*;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::desk::history::Stored;
use crate::desk::queue::{Item, Status};
use crate::output::age;
use crate::roster::Duty;
use crate::rules::Rules;

#[derive(Debug, Serialize)]
pub struct Line {
    pub id: String,
    pub message_id: Option<String>,
    /// Business time waited (since arrival, or since the claim for stale claims).
    pub business_seconds: i64,
    /// The SLA it is over, in seconds.
    pub sla_seconds: i64,
    pub owner: Option<String>,
    pub from: String,
    pub subject: String,
    /// What to type to act on it.
    pub command: String,
}

#[derive(Debug, Serialize)]
pub struct Finished {
    pub id: String,
    pub actor: String,
    pub subject: String,
}

#[derive(Debug, Serialize)]
pub struct Double {
    pub id: String,
    pub message_id: Option<String>,
    pub subject: String,
    /// Both repliers and times, as recorded: "tanaka at …, suzuki at …".
    pub replies: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Default, PartialEq)]
pub struct Times {
    pub count: usize,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub date: NaiveDate,
    pub holiday: Option<String>,
    pub business_day: bool,
    pub on_duty: Vec<String>,
    pub overdue: Vec<Line>,
    pub stale: Vec<Line>,
    pub unclaimed: usize,
    pub claimed: usize,
    pub per_owner: BTreeMap<String, usize>,
    pub done_yesterday: Vec<Finished>,
    /// Business time from arrival to the first claim (or hand-out), last 7 days.
    pub time_to_claim: Times,
    /// Business time from arrival to done, last 7 days.
    pub time_to_done: Times,
    /// Business time from arrival to the first reply found in Sent, last 7 days.
    pub time_to_first_reply: Times,
    /// 二重対応 in the last 7 days: two or more people replied to one message.
    pub double_replies: Vec<Double>,
    /// Finished in the last 7 days with no reply recorded: how a missed reply looks.
    pub done_without_reply: Vec<Finished>,
    /// Storage use, where the server reports a limit (null otherwise).
    pub quota: Option<crate::desk::Quota>,
    /// Bytes in each status folder, where the server reports sizes (else empty).
    pub folder_sizes: BTreeMap<String, u64>,
    /// 保留: held mail, what is due today (or already past) first.
    pub held: Vec<Held>,
    /// Held mail whose --until has passed (`rotate --apply` gives it back on its
    /// next run).
    pub held_past_due: usize,
    /// Automated mail `rotate --apply` dismissed since the last digest (or the last
    /// day), by reason: 自動応答, 配信エラー, 自社通知 …
    pub dismissed_automatically: BTreeMap<String, usize>,
}

/// One held message.
#[derive(Debug, Serialize)]
pub struct Held {
    pub id: String,
    pub owner: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub due_today: bool,
    pub past_due: bool,
    pub subject: String,
}

/// Business time a message spent in 保留 between two instants, from its hold events
/// and whatever event took it out again: the response-time figures leave it out.
fn held_within(
    rules: &Rules,
    events: &[Stored],
    mid: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> i64 {
    let mut total = 0;
    let mut since: Option<DateTime<Utc>> = None;
    for e in events
        .iter()
        .filter(|e| e.message_id.as_deref().map(bare) == Some(mid))
    {
        let into_held = e.event == crate::desk::hold::HOLD;
        match (since, into_held) {
            (None, true) => since = Some(e.time),
            (Some(s), false) if e.to_folder.is_some() => {
                total += rules
                    .calendar
                    .business_time(s.max(from), e.time.min(to))
                    .num_seconds();
                since = None;
            }
            _ => {}
        }
    }
    if let Some(s) = since {
        total += rules.calendar.business_time(s.max(from), to).num_seconds();
    }
    total
}

/// The owner shown for claimed mail in a folder that is no member's.
pub const NO_MEMBER: &str = "(no member)";

fn bare(s: &str) -> &str {
    s.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn times(mut v: Vec<i64>) -> Times {
    v.sort_unstable();
    Times {
        count: v.len(),
        median_seconds: percentile(&v, 50.0),
        p90_seconds: percentile(&v, 90.0),
    }
}

/// When each claimed message was claimed: its latest claim or hand-out event, by
/// Message-ID. Messages without one count from their arrival.
pub fn claim_times(events: &[Stored]) -> HashMap<String, DateTime<Utc>> {
    let mut out = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.event == "claim" || e.event == "assign" || e.event == "unhold")
    {
        if let Some(mid) = &e.message_id {
            let t = out.entry(bare(mid).to_string()).or_insert(e.time);
            if e.time > *t {
                *t = e.time;
            }
        }
    }
    out
}

pub fn build(
    rules: &Rules,
    duty: &Duty,
    items: &[Item],
    events: &[Stored],
    claimed_at: &HashMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Report {
    let cal = &rules.calendar;
    let secs = |d: std::time::Duration| d.as_secs() as i64;
    let mut overdue = Vec::new();
    let mut stale = Vec::new();
    let mut per_owner = BTreeMap::new();
    let mut held: Vec<Held> = Vec::new();
    for it in items {
        match it.status {
            Status::Unclaimed => {
                let sla = secs(rules.unclaimed_sla(&it.from, &it.subject));
                let waited = cal.business_time(it.arrived, now).num_seconds();
                // The same test as `list --overdue`, to the sub-second, so both agree.
                if crate::desk::queue::overdue(rules, it, now) {
                    overdue.push(line(it, waited, sla, format!("mailduty claim {}", it.id)));
                }
            }
            Status::Claimed => {
                // Mail in a folder under 対応中 that is no member's is counted too.
                let o = it.owner.clone().unwrap_or_else(|| NO_MEMBER.to_string());
                *per_owner.entry(o).or_insert(0) += 1;
                let since = it
                    .message_id
                    .as_deref()
                    .and_then(|m| claimed_at.get(bare(m)))
                    .copied()
                    .unwrap_or(it.arrived);
                let sla = secs(rules.sla_claimed);
                let held = cal.business_time(since, now).num_seconds();
                if held > sla {
                    stale.push(line(it, held, sla, format!("mailduty show {}", it.id)));
                }
            }
            Status::Held => {
                let due_today = it
                    .held_until
                    .is_some_and(|u| cal.local_date(u) <= cal.local_date(now));
                held.push(Held {
                    id: it.id.clone(),
                    owner: it.owner.clone(),
                    until: it.held_until,
                    due_today,
                    past_due: it.held_until.is_some_and(|u| u <= now),
                    subject: crate::output::line(&it.subject).into_owned(),
                });
            }
            Status::Done | Status::Dismissed => {}
        }
    }
    overdue.sort_by_key(|l| -l.business_seconds);
    stale.sort_by_key(|l| -l.business_seconds);

    let today = duty.date;
    let yesterday = today.pred_opt().unwrap_or(today);
    let done_yesterday = events
        .iter()
        .filter(|e| e.event == "done" && cal.local_date(e.time) == yesterday)
        .map(|e| Finished {
            id: e.id.clone(),
            actor: e.actor.clone(),
            subject: e.subject.clone().unwrap_or_default(),
        })
        .collect();
    let week = now - Duration::days(7);
    // The team's clock stops while mail waits in 保留.
    let waited = |kinds: &[&str]| {
        events
            .iter()
            .filter(|e| e.time >= week && kinds.contains(&e.event.as_str()))
            .filter_map(|e| {
                let arrived = e.arrived?;
                let paused = e
                    .message_id
                    .as_deref()
                    .map_or(0, |m| held_within(rules, events, bare(m), arrived, e.time));
                Some((cal.business_time(arrived, e.time).num_seconds() - paused).max(0))
            })
            .collect::<Vec<_>>()
    };
    held.sort_by_key(|h| (!h.due_today, h.until.is_none(), h.until));
    let held_past_due = held.iter().filter(|h| h.past_due).count();
    // Since the last digest sent, else the last day.
    let last_digest = events
        .iter()
        .filter(|e| e.event == "digest")
        .map(|e| e.time)
        .max()
        .unwrap_or(now - Duration::days(1));
    let mut dismissed_automatically = BTreeMap::new();
    for e in events.iter().filter(|e| {
        e.event == "dismiss" && e.actor == crate::desk::rules::ROTATE && e.time > last_digest
    }) {
        let label = e
            .note
            .as_deref()
            .and_then(crate::automated::reason_of_note)
            .map_or("その他", |r| r.label());
        *dismissed_automatically
            .entry(label.to_string())
            .or_insert(0) += 1;
    }
    let mut first_reply: HashMap<&str, &Stored> = HashMap::new();
    for e in events.iter().filter(|e| e.event == "reply") {
        if let Some(m) = &e.message_id {
            let f = first_reply.entry(bare(m)).or_insert(e);
            if e.time < f.time {
                *f = e;
            }
        }
    }
    let time_to_first_reply = times(
        first_reply
            .values()
            .filter(|e| e.time >= week)
            .filter_map(|e| Some(cal.business_time(e.arrived?, e.time).num_seconds().max(0)))
            .collect(),
    );
    let mut double_replies: Vec<Double> = events
        .iter()
        .filter(|e| e.event == "double_reply" && e.time >= week)
        .map(|e| Double {
            id: e.id.clone(),
            message_id: e.message_id.clone(),
            subject: crate::output::line(e.subject.as_deref().unwrap_or("")).into_owned(),
            replies: crate::output::line(e.note.as_deref().unwrap_or("")).into_owned(),
            at: e.time,
        })
        .collect();
    double_replies.sort_by_key(|d| std::cmp::Reverse(d.at));
    let done_without_reply = events
        .iter()
        .filter(|e| e.event == "done" && e.time >= week)
        .filter(|e| {
            e.message_id
                .as_deref()
                .is_none_or(|m| !first_reply.contains_key(bare(m)))
        })
        .map(|e| Finished {
            id: e.id.clone(),
            actor: e.actor.clone(),
            subject: crate::output::line(e.subject.as_deref().unwrap_or("")).into_owned(),
        })
        .collect();
    Report {
        time_to_first_reply,
        double_replies,
        done_without_reply,
        date: today,
        holiday: duty.holiday.clone(),
        business_day: duty.business_day,
        on_duty: duty.on_duty.clone(),
        unclaimed: items
            .iter()
            .filter(|i| i.status == Status::Unclaimed)
            .count(),
        claimed: items.iter().filter(|i| i.status == Status::Claimed).count(),
        overdue,
        stale,
        per_owner,
        done_yesterday,
        time_to_claim: times(waited(&["claim", "assign"])),
        time_to_done: times(waited(&["done"])),
        quota: None,
        folder_sizes: BTreeMap::new(),
        held,
        held_past_due,
        dismissed_automatically,
    }
}

#[cfg(test)]
mod tests;
