//! 対応履歴: every transition is appended to the history folder as a small RFC 5322
//! message whose `X-Mailduty-*` headers a program can read back.

use anyhow::Result;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::imap::Mailbox;
use crate::queue::Item;
use crate::rules::Rules;

pub struct Event<'a> {
    pub kind: &'a str,
    pub actor: &'a str,
    pub item: &'a Item,
    pub from_folder: &'a str,
    pub to_folder: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
}

/// RFC 2047 encoded word when the text is not plain ASCII.
pub fn encode_word(s: &str) -> String {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_string();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

/// Reverses `encode_word`; other text comes back unchanged.
pub fn decode_word(s: &str) -> String {
    s.trim()
        .strip_prefix("=?UTF-8?B?")
        .and_then(|r| r.strip_suffix("?="))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_else(|| s.trim().to_string())
}

pub fn render(ev: &Event<'_>) -> Vec<u8> {
    let it = ev.item;
    let target = it
        .message_id
        .as_deref()
        .map(|m| format!("<{}>", m.trim_matches(['<', '>'])))
        .unwrap_or_default();
    let token: String = format!(
        "{}{}{}",
        ev.at.timestamp_nanos_opt().unwrap_or(0),
        std::process::id(),
        it.hash
    );
    let mut h = vec![
        "From: mailduty <mailduty@localhost>".to_string(),
        format!("Date: {}", ev.at.to_rfc2822()),
        format!("Message-ID: <{token}.{}@mailduty>", ev.kind),
        format!(
            "Subject: {}",
            encode_word(&format!("[mailduty] {} {} by {}", ev.kind, it.id, ev.actor))
        ),
        format!("X-Mailduty-Event: {}", ev.kind),
        format!("X-Mailduty-Actor: {}", ev.actor),
        format!("X-Mailduty-Id: {}", it.id),
        format!(
            "X-Mailduty-Time: {}",
            ev.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        format!("X-Mailduty-From-Folder: {}", encode_word(ev.from_folder)),
    ];
    if !target.is_empty() {
        h.push(format!("X-Mailduty-Target: {target}"));
        h.push(format!("References: {target}"));
    }
    if let Some(to) = ev.to_folder {
        h.push(format!("X-Mailduty-To-Folder: {}", encode_word(to)));
    }
    h.push("MIME-Version: 1.0".into());
    h.push("Content-Type: text/plain; charset=utf-8".into());
    h.push("Content-Transfer-Encoding: 8bit".into());
    let mut body = format!(
        "{} {} {}\nsubject: {}\nfrom: {}\nfolder: {}{}\n",
        ev.actor,
        ev.kind,
        it.id,
        it.subject,
        it.from,
        ev.from_folder,
        ev.to_folder.map(|t| format!(" -> {t}")).unwrap_or_default()
    );
    if let Some(n) = ev.note {
        body.push_str(&format!("\n{n}\n"));
    }
    format!("{}\r\n\r\n{}", h.join("\r\n"), body.replace('\n', "\r\n")).into_bytes()
}

/// Appends the event, marked \Seen so it never shows as new mail.
pub fn record(mb: &mut Mailbox, rules: &Rules, ev: &Event<'_>) -> Result<()> {
    let folder = mb.path(&rules.folders.history);
    mb.append(&folder, "\\Seen", &render(ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_headers_parse_back() {
        let item = Item {
            id: "abcd1234".into(),
            hash: "abcd1234zz".into(),
            message_id: Some("x@y".into()),
            status: crate::queue::Status::Unclaimed,
            owner: None,
            folder: "未対応".into(),
            uid: 1,
            arrived: Utc::now(),
            from: "a@b".into(),
            from_name: None,
            subject: "件名".into(),
            seen: false,
            size: 1,
            in_reply_to: vec![],
            references: vec![],
            claiming: false,
            released: false,
        };
        let ev = Event {
            kind: "claim",
            actor: "tanaka",
            item: &item,
            from_folder: "未対応",
            to_folder: Some("対応中/tanaka"),
            note: None,
            at: Utc::now(),
        };
        let raw = render(&ev);
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            msg.header("X-Mailduty-Event").and_then(|h| h.as_text()),
            Some("claim")
        );
        let to = msg
            .header("X-Mailduty-To-Folder")
            .and_then(|h| h.as_text())
            .unwrap();
        assert_eq!(decode_word(to), "対応中/tanaka");
        assert_eq!(msg.subject(), Some("[mailduty] claim abcd1234 by tanaka"));
    }
}
