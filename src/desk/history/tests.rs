//! History mails written and read back, batches and hostile header text.

use super::*;

#[test]
fn event_headers_parse_back() {
    let item = Item {
        id: "abcd1234".into(),
        hash: "abcd1234zz".into(),
        message_id: Some("x@y".into()),
        status: crate::desk::queue::Status::Unclaimed,
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
        claim_keywords: vec![],
        modseq: None,
        released: false,
        answered: false,
        tie: None,
        ..Item::default()
    };
    let ev = Event {
        kind: "claim",
        actor: "tanaka",
        item: &item,
        from_folder: "未対応",
        to_folder: Some("対応中/tanaka"),
        note: None,
        at: Utc::now(),
        message_id: None,
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
    let header_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let back = parse(&raw[..header_end]).unwrap();
    assert_eq!(back.event, "claim");
    assert_eq!(back.to_folder.as_deref(), Some("対応中/tanaka"));
    assert_eq!(back.subject.as_deref(), Some("件名"));
    assert_eq!(back.message_id.as_deref(), Some("x@y"));
}

fn item(n: usize, subject: &str, mid: Option<String>) -> Item {
    Item {
        id: format!("id{n:04}"),
        hash: format!("hash{n:04}"),
        message_id: mid,
        from: format!("c{n}@x.jp"),
        from_name: Some("お客: 様".into()),
        subject: subject.into(),
        size: 1000 + n as u32,
        ..Item::sample(None, "INBOX", n as u32)
    }
}

#[test]
fn many_events_go_several_to_a_mail_and_come_back_whole() {
    let odd = "Re: 見積もり: \r\nX-Fake: yes\t\u{1b}[31m ".repeat(3);
    let items: Vec<Item> = (0..120)
        .map(|n| {
            let mid = match n {
                7 => None,
                // Too long for a batch: written on its own.
                9 => Some(format!("{}@x", "l".repeat(3000))),
                _ => Some(format!("m{n}@x")),
            };
            item(n, if n % 2 == 0 { &odd } else { "件名" }, mid)
        })
        .collect();
    let at = Utc::now();
    let evs: Vec<Event<'_>> = items
        .iter()
        .map(|it| Event {
            kind: "file",
            actor: "rotate",
            item: it,
            from_folder: "INBOX",
            to_folder: Some("未対応"),
            note: Some("route: 請求"),
            at,
            message_id: None,
        })
        .collect();
    let named: Vec<(&Event<'_>, String)> = evs
        .iter()
        .map(|e| (e, move_id("file", "未対応", e.item.uid)))
        .collect();
    let mails = render_many(&named, &["slack".to_string()]);
    // 119 in batches of at most BATCH, and the long one alone.
    assert_eq!(mails.len(), 4, "{}", mails.len());
    let mut back = Vec::new();
    for raw in &mails {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&raw[..end]).unwrap();
        assert!(
            // Only a Message-ID that is itself too long makes a long line.
            head.split("\r\n").all(|l| l.len() <= 998
                || l.starts_with("X-Mailduty-Target")
                || l.starts_with("References")),
            "a header line too long"
        );
        assert!(
            !head.contains("\nX-Fake"),
            "a subject broke out of its field"
        );
        let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
        assert!(parsed.header("X-Mailduty-Event").is_some());
        back.extend(parse_all(&raw[..end]));
    }
    back.sort_by_key(|e| e.size);
    assert_eq!(back.len(), items.len());
    for (e, it) in back.iter().zip(&items) {
        assert_eq!(e.event, "file");
        assert_eq!(e.actor, "rotate");
        assert_eq!(e.id, it.id);
        assert_eq!(e.hash.as_deref(), Some(it.hash.as_str()));
        assert_eq!(e.message_id, it.message_id);
        assert_eq!(e.subject.as_deref(), Some(it.subject.as_str()));
        assert_eq!(e.sender.as_deref(), Some(sender_of(it).as_str()));
        assert_eq!(e.note.as_deref(), Some("route: 請求"));
        assert_eq!(e.arrived, Some(it.arrived));
        assert_eq!(e.size, Some(it.size));
        assert_eq!(e.to_folder.as_deref(), Some("未対応"));
        assert_eq!(e.from_folder.as_deref(), Some("INBOX"));
        assert_eq!(e.notify, ["slack"]);
        assert_eq!(
            e.own_id.as_deref(),
            Some(move_id("file", "未対応", it.uid).as_str())
        );
        assert!(e.concerns(it));
    }
}

#[test]
fn item_lines_fold_without_breaking_a_word() {
    for len in [0, 1, 15, 16, 17, 60, 61, 75, 76, 77, 200, 1000] {
        let it = item(3, &"あ".repeat(len), Some(format!("{}@x", "m".repeat(len))));
        let ev = Event {
            kind: "assign",
            actor: "rotate",
            item: &it,
            from_folder: "未対応",
            to_folder: Some("対応中/tanaka"),
            note: None,
            at: Utc::now(),
            message_id: None,
        };
        let line = item_line(&ev, "move.assign.abc.3@mailduty");
        assert!(line.starts_with("X-Mailduty-Item: own:move.assign.abc.3@mailduty "));
        assert!(line.split("\r\n").all(|l| l.len() <= 78), "{line}");
        assert!(line.split("\r\n").skip(1).all(|l| l.starts_with(' ')));
        let common =
            parse(b"X-Mailduty-Event: assign\r\nX-Mailduty-Time: 2026-12-01T00:00:00Z").unwrap();
        let unfolded = line.replace("\r\n", "");
        let v = unfolded.split_once(':').unwrap().1;
        let e = item_of(&common, v).unwrap();
        assert_eq!(e.subject.as_deref(), Some(it.subject.as_str()), "{len}");
        assert_eq!(e.message_id, it.message_id, "{len}");
    }
}

#[test]
fn long_notes_fold_into_short_words_and_come_back() {
    let note = "お客様へ電話済み。明日の午前中に再見積もりを送付する予定です。".repeat(5);
    let enc = encode_word(&note);
    assert!(enc.lines().all(|l| l.trim_end().len() <= 76), "{enc}");
    assert_eq!(decode_word(&enc.replace("\r\n", "")), note);
    assert_eq!(decode_word("plain text"), "plain text");
    assert_eq!(
        encode_word("x =?UTF-8?B?...?="),
        "=?UTF-8?B?eCA9P1VURi04P0I/Li4uPz0=?="
    );
}
