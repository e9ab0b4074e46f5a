//! The daily digest's content: overdue mail, stale claims, counts, today's duty, what
//! was finished yesterday and response times. Pure functions over the queue and the
//! history; "now" is a parameter. Sending lives in `cmd/report.rs`.

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

/// `保留 3 (本日期限 1)` and `自動応答 12, 配信エラー 3` for the digest's lines.
pub fn held_line(r: &Report) -> String {
    let today = r.held.iter().filter(|h| h.due_today).count();
    format!("保留 {} (本日期限 {today})", r.held.len())
}

pub fn dismissed_line(r: &Report) -> String {
    if r.dismissed_automatically.is_empty() {
        return "なし".to_string();
    }
    // Most first, as people read a tally.
    let mut v: Vec<(&String, &usize)> = r.dismissed_automatically.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    v.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(it: &Item, waited: i64, sla: i64, command: String) -> Line {
    let from = match &it.from_name {
        Some(n) => format!("{n} <{}>", it.from),
        None => it.from.clone(),
    };
    Line {
        id: it.id.clone(),
        message_id: it.message_id.clone(),
        business_seconds: waited,
        sla_seconds: sla,
        owner: it.owner.clone(),
        from: crate::output::line(&from).into_owned(),
        subject: crate::output::line(&it.subject).into_owned(),
        command,
    }
}

/// `【未対応】期限超過 3件 (2026-11-24)`.
pub fn subject(r: &Report) -> String {
    if r.overdue.is_empty() {
        format!("【未対応】期限超過なし ({})", r.date)
    } else {
        format!("【未対応】期限超過 {}件 ({})", r.overdue.len(), r.date)
    }
}

fn who(rules: &Rules, keys: &[String]) -> String {
    if keys.is_empty() {
        return "なし (nobody)".into();
    }
    keys.iter()
        .map(|k| rules.owner_label(k))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dur(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), age)
}

/// The line at the top of the digest when the mailbox is nearly full.
fn quota_warning(r: &Report) -> Option<String> {
    let q = r.quota.filter(|q| q.warn())?;
    Some(format!(
        "⚠ 容量 (quota): {q}, at or above {}%: archive old mail (mailduty archive) or raise the limit",
        q.warn_at
    ))
}

/// The quota as one line for the counts, with where the space goes.
pub fn quota_line(r: &Report) -> String {
    let mut s = match &r.quota {
        Some(q) => format!("容量 (quota): {q}"),
        None => "容量 (quota): not reported by the server".to_string(),
    };
    if !r.folder_sizes.is_empty() {
        let mut by_size: Vec<(&String, &u64)> = r.folder_sizes.iter().collect();
        by_size.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = by_size
            .iter()
            .map(|(f, n)| format!("{} {}", crate::output::line(f), crate::desk::size(**n)))
            .collect();
        s.push_str(&format!("; folders: {}", parts.join(", ")));
    }
    s
}

pub fn text(r: &Report, rules: &Rules) -> String {
    let mut s = String::new();
    let day = match &r.holiday {
        Some(h) => format!("{} ({h})", r.date),
        None => r.date.to_string(),
    };
    let _ = writeln!(s, "mailduty digest {day}");
    if let Some(w) = quota_warning(r) {
        let _ = writeln!(s, "{w}");
    }
    let _ = writeln!(
        s,
        "二重対応 {} · 期限超過 {} · 滞留 {} · 未対応 {} · 対応中 {}",
        r.double_replies.len(),
        r.overdue.len(),
        r.stale.len(),
        r.unclaimed,
        r.claimed
    );
    if !r.double_replies.is_empty() {
        let _ = writeln!(
            s,
            "二重対応 (two people replied to one message, last 7 days): {}",
            r.double_replies.len()
        );
        for d in &r.double_replies {
            let line = format!("  {}  {}", d.id, d.subject);
            let _ = writeln!(s, "{}", crate::output::line(&line));
            let _ = writeln!(s, "      {}", crate::output::line(&d.replies));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "本日の当番 (on duty): {}", who(rules, &r.on_duty));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "期限超過の未対応 (overdue unclaimed, business hours): {}",
        r.overdue.len()
    );
    for l in &r.overdue {
        let _ = writeln!(
            s,
            "  {}  {} (SLA {})  {}  {}\n      → {}",
            l.id,
            age(l.business_seconds),
            age(l.sla_seconds),
            l.from,
            l.subject,
            l.command
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "滞留中の対応 (stale claims): {}", r.stale.len());
    for l in &r.stale {
        let _ = writeln!(
            s,
            "  {}  {}  {} (SLA {})  {}  {}",
            l.id,
            l.owner
                .as_deref()
                .map_or_else(String::new, |o| rules.owner_label(o)),
            age(l.business_seconds),
            age(l.sla_seconds),
            l.from,
            l.subject
        );
    }
    let _ = writeln!(s);
    let owners: Vec<String> = r
        .per_owner
        .iter()
        .map(|(k, n)| format!("{} {n}", rules.owner_label(k)))
        .collect();
    let _ = writeln!(
        s,
        "件数 (counts): 未対応 {}, 対応中 {}{}",
        r.unclaimed,
        r.claimed,
        if owners.is_empty() {
            String::new()
        } else {
            format!(" ({})", owners.join(", "))
        }
    );
    let _ = writeln!(s, "{} (held, due today first)", held_line(r));
    for h in &r.held {
        let until = h.until.map_or_else(
            || "-".to_string(),
            |u| {
                u.with_timezone(&rules.timezone)
                    .format("%m-%d %H:%M")
                    .to_string()
            },
        );
        let mark = if h.past_due {
            "  期限切れ (past --until)"
        } else {
            ""
        };
        let line = format!(
            "  {}  {}  until {until}  {}{mark}",
            h.id,
            h.owner
                .as_deref()
                .map_or_else(String::new, |o| rules.owner_label(o)),
            h.subject
        );
        let _ = writeln!(s, "{}", crate::output::line(&line));
    }
    let _ = writeln!(
        s,
        "自動で対応不要 (dismissed automatically since the last digest): {}",
        dismissed_line(r)
    );
    let _ = writeln!(s, "{}", quota_line(r));
    let _ = writeln!(s, "昨日の完了 (done yesterday): {}", r.done_yesterday.len());
    for f in &r.done_yesterday {
        let line = format!("  {}  {}  {}", f.id, f.actor, f.subject);
        let _ = writeln!(s, "{}", crate::output::line(&line));
    }
    if !r.done_without_reply.is_empty() {
        let _ = writeln!(
            s,
            "返信なしで完了 (done with no reply in Sent, last 7 days): {}",
            r.done_without_reply.len()
        );
        for f in &r.done_without_reply {
            let line = format!("  {}  {}  {}", f.id, f.actor, f.subject);
            let _ = writeln!(s, "{}", crate::output::line(&line));
        }
    }
    let _ = writeln!(
        s,
        "応答時間 7日間 (response times, last 7 days, business hours): first reply median {} / p90 {} ({} replied); claim median {} / p90 {} ({} claims); done median {} / p90 {} ({} done)",
        dur(r.time_to_first_reply.median_seconds),
        dur(r.time_to_first_reply.p90_seconds),
        r.time_to_first_reply.count,
        dur(r.time_to_claim.median_seconds),
        dur(r.time_to_claim.p90_seconds),
        r.time_to_claim.count,
        dur(r.time_to_done.median_seconds),
        dur(r.time_to_done.p90_seconds),
        r.time_to_done.count
    );
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// How far past its SLA a message is, as a colour: just past in amber, past by half
/// again in red, three times the SLA or more in dark red.
pub fn past_colour(waited: i64, sla: i64) -> &'static str {
    let sla = sla.max(1);
    if waited >= 3 * sla {
        "#8e0000"
    } else if waited * 2 >= 3 * sla {
        "#c62828"
    } else {
        "#b26a00"
    }
}

/// The digest as HTML mail for Outlook, Thunderbird and phones: tables for layout
/// (Outlook's renderer has no flexbox), inline styles only, no scripts, no remote
/// images, one column that narrows with the screen. What needs a person comes
/// first: 二重対応, then overdue, then stale claims, each with its count.
pub fn html(r: &Report, rules: &Rules) -> String {
    const FONT: &str = "font-family:-apple-system,'Segoe UI','Hiragino Sans','Meiryo',sans-serif";
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title></head>\n<body style=\"margin:0;padding:0;background:#f4f5f7;{FONT}\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f5f7\"><tr><td align=\"center\" style=\"padding:12px 8px\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:640px;background:#ffffff;border-radius:6px\">\n",
        esc(&subject(r))
    );
    let day = match &r.holiday {
        Some(h) => format!("{} ({h})", r.date),
        None => r.date.to_string(),
    };
    let _ = writeln!(
        s,
        "<tr><td style=\"padding:16px 16px 4px 16px\"><div style=\"font-size:20px;font-weight:bold;color:#1a1a1a\">{}</div><div style=\"font-size:13px;color:#555555;padding-top:2px\">{} · 本日の当番 {}</div></td></tr>",
        esc(&subject(r)),
        esc(&day),
        esc(&who(rules, &r.on_duty))
    );
    // The summary: counts per status and owner in one line.
    let owners: Vec<String> = r
        .per_owner
        .iter()
        .map(|(k, n)| format!("{} {n}", rules.owner_label(k)))
        .collect();
    let mut claimed = format!("対応中 {}", r.claimed);
    if !owners.is_empty() {
        claimed.push_str(&format!(" ({})", owners.join(", ")));
    }
    let summary = [
        format!("未対応 {}", r.unclaimed),
        claimed,
        held_line(r),
        format!("自動で対応不要 {}", dismissed_line(r)),
    ];
    let _ = writeln!(
        s,
        "<tr><td style=\"padding:4px 16px 12px 16px;font-size:14px;color:#1a1a1a\"><b>二重対応 {}</b> · <b>期限超過 {}</b> · <b>滞留 {}</b> · {}</td></tr>",
        r.double_replies.len(),
        r.overdue.len(),
        r.stale.len(),
        esc(&summary.join(" · "))
    );
    if let Some(w) = quota_warning(r) {
        let _ = writeln!(
            s,
            "<tr><td style=\"padding:0 16px 12px 16px\"><div style=\"background:#fdecea;color:#8e0000;padding:8px;border-radius:4px;font-size:14px;font-weight:bold\">{}</div></td></tr>",
            esc(&w)
        );
    }
    let heading = |s: &mut String, title: &str, n: usize, colour: &str| {
        let _ = writeln!(
            s,
            "<tr><td style=\"padding:12px 16px 4px 16px;border-top:1px solid #e5e7eb\"><div style=\"font-size:16px;font-weight:bold;color:{colour}\">{} <span style=\"display:inline-block;min-width:20px;text-align:center;background:{colour};color:#ffffff;border-radius:10px;font-size:13px;padding:1px 6px\">{n}</span></div></td></tr>",
            esc(title)
        );
    };
    let entry = |s: &mut String,
                 subject: &str,
                 detail: &str,
                 badge: &str,
                 colour: &str,
                 id: &str| {
        let _ = writeln!(
            s,
            "<tr><td style=\"padding:6px 16px\"><div style=\"font-size:15px;color:#1a1a1a;font-weight:bold;word-break:break-word\">{}</div><div style=\"font-size:13px;color:#555555;word-break:break-word\"><span style=\"color:{colour};font-weight:bold\">{}</span> {} · <code style=\"font-size:12px;color:#777777\">{}</code></div></td></tr>",
            esc(if subject.is_empty() {
                "(件名なし)"
            } else {
                subject
            }),
            esc(badge),
            esc(detail),
            esc(id)
        );
    };
    if !r.double_replies.is_empty() {
        heading(
            &mut s,
            "二重対応 (two people replied)",
            r.double_replies.len(),
            "#8e0000",
        );
        for d in &r.double_replies {
            entry(&mut s, &d.subject, &d.replies, "↩↩", "#8e0000", &d.id);
        }
    }
    heading(
        &mut s,
        "期限超過の未対応 (overdue)",
        r.overdue.len(),
        "#c62828",
    );
    for l in &r.overdue {
        let badge = format!("{} / SLA {}", age(l.business_seconds), age(l.sla_seconds));
        entry(
            &mut s,
            &l.subject,
            &l.from,
            &badge,
            past_colour(l.business_seconds, l.sla_seconds),
            &l.id,
        );
    }
    heading(
        &mut s,
        "滞留中の対応 (stale claims)",
        r.stale.len(),
        "#b26a00",
    );
    for l in &r.stale {
        let owner = l
            .owner
            .as_deref()
            .map(|k| rules.owner_label(k))
            .unwrap_or_else(|| NO_MEMBER.to_string());
        let badge = format!("{} / SLA {}", age(l.business_seconds), age(l.sla_seconds));
        entry(
            &mut s,
            &l.subject,
            &format!("{owner} · {}", l.from),
            &badge,
            past_colour(l.business_seconds, l.sla_seconds),
            &l.id,
        );
    }
    if !r.done_without_reply.is_empty() {
        heading(
            &mut s,
            "返信なしで完了 (done with no reply)",
            r.done_without_reply.len(),
            "#555555",
        );
        for f in &r.done_without_reply {
            entry(&mut s, &f.subject, &f.actor, "", "#555555", &f.id);
        }
    }
    let _ = writeln!(
        s,
        "<tr><td style=\"padding:12px 16px;border-top:1px solid #e5e7eb;font-size:13px;color:#555555\">昨日の完了 {}. 応答時間 (7日, 営業時間): 初回返信 median {} / p90 {}; claim median {} / p90 {}; done median {} / p90 {}.<br>{}<br>To take one: <code>mailduty claim ID</code> · details: <code>mailduty show ID</code></td></tr>",
        r.done_yesterday.len(),
        esc(&dur(r.time_to_first_reply.median_seconds)),
        esc(&dur(r.time_to_first_reply.p90_seconds)),
        esc(&dur(r.time_to_claim.median_seconds)),
        esc(&dur(r.time_to_claim.p90_seconds)),
        esc(&dur(r.time_to_done.median_seconds)),
        esc(&dur(r.time_to_done.p90_seconds)),
        esc(&quota_line(r))
    );
    s.push_str("</table>\n</td></tr></table>\n</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, actor: &str, at: DateTime<Utc>, to: &str, note: &str) -> Stored {
        Stored {
            time: at,
            event: kind.into(),
            actor: actor.into(),
            login: None,
            id: "abcd1234".into(),
            message_id: Some("m@x".into()),
            subject: Some("s".into()),
            from_folder: None,
            to_folder: Some(to.into()),
            note: Some(note.into()).filter(|n: &String| !n.is_empty()),
            arrived: Some(tokyo("2026-12-07 09:00")),
            size: Some(1),
            sender: None,
            hash: None,
            notify: Vec::new(),
            own_id: None,
        }
    }

    fn tokyo(s: &str) -> DateTime<Utc> {
        use chrono::TimeZone;
        chrono_tz::Asia::Tokyo
            .from_local_datetime(
                &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
            )
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_hold_pauses_the_figures_and_the_digest_counts_held_and_dismissed_mail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rules.yaml");
        std::fs::write(
            &p,
            "imap: { host: 127.0.0.1, port: 1, tls: none, user: u, password_env: X }\nmembers:\n  tanaka: { name: T }\n",
        )
        .unwrap();
        let rules = crate::rules::load(&p).unwrap().rules;
        let now = tokyo("2026-12-07 18:00");
        let duty = rules
            .roster
            .duty(&rules.calendar, rules.calendar.local_date(now));
        let events = vec![
            ev("digest", "report", tokyo("2026-12-07 08:30"), "", ""),
            ev(
                "dismiss",
                "rotate",
                tokyo("2026-12-07 08:00"),
                "対応不要",
                "bounce: From: MAILER-DAEMON@x",
            ),
            ev(
                "claim",
                "tanaka",
                tokyo("2026-12-07 09:30"),
                "対応中/tanaka",
                "",
            ),
            ev(
                "hold",
                "tanaka",
                tokyo("2026-12-07 10:00"),
                "保留",
                "[owner=tanaka]",
            ),
            ev(
                "unhold",
                "rotate",
                tokyo("2026-12-07 15:00"),
                "対応中/tanaka",
                "reply: x",
            ),
            ev("done", "tanaka", tokyo("2026-12-07 17:00"), "完了", ""),
            ev(
                "dismiss",
                "rotate",
                tokyo("2026-12-07 11:00"),
                "対応不要",
                "auto_reply: X-Autoreply",
            ),
            ev(
                "dismiss",
                "rotate",
                tokyo("2026-12-07 12:00"),
                "対応不要",
                "auto_reply: X-Autoreply",
            ),
            ev(
                "dismiss",
                "rotate",
                tokyo("2026-12-07 13:00"),
                "対応不要",
                "own: X-Mailduty-Mark verified",
            ),
            ev(
                "dismiss",
                "tanaka",
                tokyo("2026-12-07 13:00"),
                "対応不要",
                "お礼のみ",
            ),
        ];
        let mut late = Item::sample(Some("h1@x"), "保留", 1);
        late.status = Status::Held;
        late.held_until = Some(tokyo("2026-12-09 09:00"));
        let mut today = Item::sample(Some("h2@x"), "保留", 2);
        today.status = Status::Held;
        today.held_until = Some(tokyo("2026-12-07 12:00"));
        let mut old = Item::sample(Some("u@x"), "未対応", 3);
        old.arrived = tokyo("2026-12-01 09:00");
        let mut ooo = old.clone();
        ooo.automated = crate::automated::classify(b"X-Autoreply: yes\r\n", "a@b", None, &[0; 32]);
        let r = build(
            &rules,
            &duty,
            &[late, today, old, ooo],
            &events,
            &HashMap::new(),
            now,
        );
        // 8 business hours from arrival to done, 5 of them held.
        assert_eq!(r.time_to_done.median_seconds, Some(3 * 3600));
        assert_eq!(r.time_to_claim.median_seconds, Some(1800));
        assert_eq!(r.held.len(), 2);
        assert!(r.held[0].due_today && r.held[0].past_due && !r.held[1].due_today);
        assert_eq!(r.held_past_due, 1);
        assert_eq!(held_line(&r), "保留 2 (本日期限 1)");
        // Since the 08:30 digest, by the cron only: the 08:00 bounce is before it.
        assert_eq!(dismissed_line(&r), "自動応答 2, 自社通知 1");
        assert_eq!(r.unclaimed, 2);
        assert_eq!(
            r.overdue.len(),
            1,
            "automated mail in 未対応 is never overdue"
        );
        let text = text(&r, &rules);
        assert!(text.contains("自動で対応不要 (dismissed automatically since the last digest): 自動応答 2, 自社通知 1"), "{text}");
        assert!(text.contains("期限切れ"), "{text}");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[5], 90.0), Some(5));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50.0), Some(5));
        assert_eq!(percentile(&v, 90.0), Some(9));
        assert_eq!(times(vec![30, 10, 20]).median_seconds, Some(20));
    }

    #[test]
    fn ages_are_coloured_by_how_far_past_the_sla() {
        assert_eq!(past_colour(5, 4), "#b26a00");
        assert_eq!(past_colour(6, 4), "#c62828");
        assert_eq!(past_colour(12, 4), "#8e0000");
        assert_eq!(past_colour(1, 0), "#b26a00");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
