//! The digest as a mail: plain text and HTML with the same content, every value from
//! mail escaped (HTML) or made one safe line (text).

use super::*;

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

pub(super) fn line(it: &Item, waited: i64, sla: i64, command: String) -> Line {
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

pub(super) fn who(rules: &Rules, keys: &[String]) -> String {
    if keys.is_empty() {
        return "なし (nobody)".into();
    }
    keys.iter()
        .map(|k| rules.owner_label(k))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn dur(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), age)
}

/// The line at the top of the digest when the mailbox is nearly full.
pub(super) fn quota_warning(r: &Report) -> Option<String> {
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

pub(super) fn esc(s: &str) -> String {
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
