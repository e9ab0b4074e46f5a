//! What a notification says, and each target's payload: Slack's `{"text"}` in mrkdwn,
//! a Teams message with one Adaptive Card, Chatwork's form field `body`, and the
//! generic JSON event. Pure functions over a history event: no clock, no socket.
//!
//! Text that comes from mail (a subject, a sender) is hostile: control characters go,
//! and whatever would ping a whole channel or format as markup (`<!channel>`,
//! `[toall]`) is made inert.

use serde::Serialize;
use serde_json::json;

use crate::desk::history::Stored;
use crate::rules::{Member, Rules};

/// One notification, in the words every target shares.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// The event kind (`claim`, `overdue` …, `test` for `notify --test`).
    pub event: String,
    /// The short Japanese line: "田中 太郎さんが対応中です".
    pub headline: String,
    pub id: String,
    pub message_id: Option<String>,
    pub subject: String,
    pub sender: Option<String>,
    /// Who did it: a member key, `rotate`, `client` or `report`.
    pub actor: String,
    /// The member the message belongs to after the event, when any.
    pub owner: Option<String>,
    pub note: Option<String>,
    pub time: chrono::DateTime<chrono::Utc>,
    /// The command to act on it.
    pub command: String,
    /// Whom to mention: the assignee of an `assign`, the members on duty for an
    /// `overdue`.
    #[serde(skip)]
    pub mention: Vec<Member>,
}

/// Text from mail, on one line, without control characters.
pub fn clean(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    one.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The member whose folder a path under 対応中 names (`対応中/tanaka` → tanaka).
fn owner_of(rules: &Rules, folder: Option<&str>) -> Option<String> {
    let f = folder?;
    let last = f.rsplit(['/', '.']).next()?;
    rules.member(last).map(|m| m.key.clone())
}

fn name(rules: &Rules, key: &str) -> String {
    rules
        .member(key)
        .map_or_else(|| key.to_string(), |m| m.name.clone())
}

pub fn note(rules: &Rules, ev: &Stored) -> Note {
    let subject = clean(ev.subject.as_deref().unwrap_or("(件名なし)"));
    let owner = owner_of(rules, ev.to_folder.as_deref());
    // Moves made in a mail client and replies from nobody in `sent_as` have no
    // member to name.
    let who = |k: &str| match k {
        "client" => "メールソフトから誰か".to_string(),
        "unknown" => "誰か（送信者不明）".to_string(),
        _ => format!("{}さん", clean(&name(rules, k))),
    };
    let id = clean(&ev.id);
    let (headline, command) = match ev.event.as_str() {
        "assign" => (
            format!(
                "{}に割り当てました",
                who(owner.as_deref().unwrap_or(&ev.actor))
            ),
            format!("mailduty show {id}"),
        ),
        "claim" => (
            format!("{}が対応中です", who(owner.as_deref().unwrap_or(&ev.actor))),
            format!("mailduty show {id}"),
        ),
        "release" => (
            format!("{}が対応をやめ、未対応に戻しました", who(&ev.actor)),
            format!("mailduty claim {id}"),
        ),
        "done" => (
            format!("{}が対応を完了しました", who(&ev.actor)),
            format!("mailduty show {id}"),
        ),
        "hold" => (
            format!("{}が保留にしました", who(&ev.actor)),
            format!("mailduty show {id}"),
        ),
        "unhold" => (
            match owner.as_deref() {
                Some(o) => format!("保留から{}に戻りました", who(o)),
                None => "保留から未対応に戻りました".to_string(),
            },
            format!("mailduty show {id}"),
        ),
        "overdue" => (
            "未対応のまま期限を過ぎました".to_string(),
            format!("mailduty claim {id}"),
        ),
        "reply" => (
            format!("{}が返信しました", who(&ev.actor)),
            format!("mailduty show {id}"),
        ),
        "double_reply" => (
            "二重対応の可能性があります（複数の返信）".to_string(),
            format!("mailduty history {id}"),
        ),
        "digest" => (
            format!("ダイジェスト: {subject}"),
            "mailduty list --overdue".to_string(),
        ),
        "test" => (
            "mailduty のテスト通知です".to_string(),
            "mailduty notify --test".to_string(),
        ),
        other => (
            format!("{}: {}", clean(other), who(&ev.actor)),
            format!("mailduty show {id}"),
        ),
    };
    let mention: Vec<Member> = match ev.event.as_str() {
        "assign" | "unhold" => owner
            .as_deref()
            .and_then(|o| rules.member(o))
            .cloned()
            .into_iter()
            .collect(),
        "overdue" => {
            let day = rules.calendar.local_date(ev.time);
            rules
                .roster
                .duty(&rules.calendar, day)
                .on_duty
                .iter()
                .filter_map(|k| rules.member(k).cloned())
                .collect()
        }
        _ => Vec::new(),
    };
    // The digest's note names its recipients; the chat needs only the counts.
    let note = match ev.event.as_str() {
        "digest" => ev.note.as_deref().map(|n| {
            let count = |word: &str| {
                n.split([';', ','])
                    .find_map(|p| p.trim().strip_suffix(word)?.trim().parse::<u32>().ok())
                    .unwrap_or(0)
            };
            format!(
                "期限超過 {}件・滞留 {}件",
                count(" overdue"),
                count(" stale")
            )
        }),
        _ => ev.note.as_deref().map(clean),
    };
    Note {
        event: ev.event.clone(),
        headline,
        id,
        message_id: ev.message_id.clone(),
        subject,
        sender: ev.sender.as_deref().map(clean),
        actor: ev.actor.clone(),
        owner,
        note,
        time: ev.time,
        command,
        mention,
    }
}

/// The lines after the headline, shared by the plain-text targets.
fn details(n: &Note) -> Vec<(&'static str, String)> {
    let mut d = Vec::new();
    if n.event != "digest" && n.event != "test" {
        d.push(("件名", n.subject.clone()));
        if let Some(s) = &n.sender {
            d.push(("差出人", s.clone()));
        }
        d.push(("ID", n.id.clone()));
    }
    if let Some(x) = &n.note {
        match n.event.as_str() {
            "assign" => d.push(("理由", reason_ja(x))),
            "double_reply" | "digest" | "overdue" => d.push(("詳細", x.clone())),
            _ => {}
        }
    }
    d
}

/// Why `rotate --apply` handed it out, in the team's words.
fn reason_ja(reason: &str) -> String {
    match reason {
        "duty" => "今日の当番".into(),
        "thread" => "同じスレッドの担当者".into(),
        other => match other.strip_prefix("route ") {
            Some(r) => format!("振り分けルール {r}"),
            None => other.into(),
        },
    }
}

/// Slack mrkdwn: `&`, `<` and `>` escaped so that mail cannot write `<!channel>`.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn slack(n: &Note) -> serde_json::Value {
    let mut text = String::new();
    for id in n.mention.iter().filter_map(|m| m.slack.as_deref()) {
        text.push_str(&format!("<@{id}> "));
    }
    text.push_str(&format!("*{}*", slack_escape(&n.headline)));
    for (k, v) in details(n) {
        text.push_str(&format!("\n{k}: {}", slack_escape(&v)));
    }
    text.push_str(&format!("\n`{}`", n.command.replace('`', "'")));
    json!({ "text": text })
}

/// A Workflows webhook takes a message whose attachment is an Adaptive Card.
pub fn teams(n: &Note) -> serde_json::Value {
    let facts: Vec<serde_json::Value> = details(n)
        .into_iter()
        .map(|(k, v)| json!({ "title": k, "value": v }))
        .collect();
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": n.headline,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": true
    })];
    if !facts.is_empty() {
        body.push(json!({ "type": "FactSet", "facts": facts }));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": n.command,
        "fontType": "Monospace",
        "wrap": true
    }));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body
            }
        }]
    })
}

/// Chatwork's tags are in square brackets: mail's brackets become full-width ones so
/// that a subject cannot write `[toall]`.
fn chatwork_escape(s: &str) -> String {
    s.replace('[', "［").replace(']', "］")
}

pub fn chatwork(n: &Note) -> String {
    let mut text = String::new();
    for m in &n.mention {
        if let Some(id) = &m.chatwork {
            text.push_str(&format!("[To:{id}]{}さん\n", chatwork_escape(&m.name)));
        }
    }
    text.push_str(&format!(
        "[info][title]{}[/title]",
        chatwork_escape(&n.headline)
    ));
    for (k, v) in details(n) {
        text.push_str(&format!("{k}: {}\n", chatwork_escape(&v)));
    }
    text.push_str(&format!("{}[/info]", chatwork_escape(&n.command)));
    text
}

/// The generic webhook's JSON (schema `mailduty.notify/1`, documented in docs/reference.md).
pub fn webhook(n: &Note) -> serde_json::Value {
    let mentions: Vec<serde_json::Value> = n
        .mention
        .iter()
        .map(|m| json!({ "member": m.key, "name": m.name, "slack": m.slack, "chatwork": m.chatwork }))
        .collect();
    json!({
        "schema": "mailduty.notify/1",
        "event": n.event,
        "time": n.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "id": n.id,
        "message_id": n.message_id,
        "subject": n.subject,
        "from": n.sender,
        "actor": n.actor,
        "owner": n.owner,
        "note": n.note,
        "text": n.headline,
        "command": n.command,
        "mentions": mentions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        let yaml = "imap: { host: 127.0.0.1, tls: none, user: u, password_env: P }\nmembers:\n  arimura: { name: 有村 健, slack: U012AB3CD, chatwork: 1234567 }\n";
        crate::rules::parse(std::path::Path::new("r.yaml"), yaml, true)
            .unwrap()
            .rules
    }

    fn event(kind: &str, subject: &str) -> Stored {
        Stored {
            time: chrono::Utc::now(),
            event: kind.into(),
            actor: "rotate".into(),
            login: None,
            id: "ab12cd34".into(),
            message_id: Some("m@x".into()),
            subject: Some(subject.into()),
            from_folder: Some("未対応".into()),
            to_folder: Some("対応中/arimura".into()),
            note: Some("duty".into()),
            arrived: None,
            size: None,
            sender: Some("客 <c@x.jp>".into()),
            hash: None,
            notify: vec![],
            own_id: None,
        }
    }

    #[test]
    fn an_assignment_mentions_the_member_everywhere_it_can() {
        let n = note(&rules(), &event("assign", "見積もり"));
        assert_eq!(n.headline, "有村 健さんに割り当てました");
        let s = slack(&n)["text"].as_str().unwrap().to_string();
        assert!(
            s.starts_with("<@U012AB3CD> *有村 健さんに割り当てました*"),
            "{s}"
        );
        assert!(s.contains("差出人: 客 &lt;c@x.jp&gt;"), "{s}");
        let c = chatwork(&n);
        assert!(
            c.starts_with("[To:1234567]有村 健さん\n[info][title]"),
            "{c}"
        );
        let t = teams(&n);
        assert_eq!(
            t["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(webhook(&n)["mentions"][0]["slack"], "U012AB3CD");
    }

    #[test]
    fn mail_cannot_ping_everyone_or_break_lines() {
        let n = note(
            &rules(),
            &event("claim", "<!channel> [toall]\r\nfake: line"),
        );
        assert!(n.mention.is_empty());
        assert!(n.headline.contains("有村 健さんが対応中です"));
        let s = slack(&n)["text"].as_str().unwrap().to_string();
        assert!(
            !s.contains("<!channel>") && s.contains("&lt;!channel&gt;"),
            "{s}"
        );
        assert!(!s.contains("\r") && !s.contains("\nfake"), "{s}");
        let c = chatwork(&n);
        assert!(!c.contains("[toall]") && c.contains("［toall］"), "{c}");
    }
}
