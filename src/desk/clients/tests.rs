//! Replies and drags told from Sent and the member folders, with the scan marks, from mail built here.

use super::*;

#[test]
fn reply_prefixes_come_off() {
    for s in [
        "Re: 見積もりのお願い",
        "RE: 見積もりのお願い",
        "Re[2]: 見積もりのお願い",
        "返信: 見積もりのお願い",
        "Ｒｅ：見積もりのお願い",
        "Re: Re:  見積もりのお願い",
        "re:見積もりのお願い",
    ] {
        assert_eq!(base_subject(s), "見積もりのお願い", "{s}");
    }
    assert_eq!(base_subject("Report: done"), "Report: done");
    assert_eq!(base_subject("Fwd: x"), "Fwd: x");
}

#[test]
fn subjects_whose_case_changes_length_are_safe() {
    // İ lowercases to two chars (2 → 3 bytes), the Kelvin sign to a one-byte k.
    assert_eq!(base_subject("Re:İİİ"), "İİİ");
    assert_eq!(base_subject("Re:İİİİ"), "İİİİ");
    assert_eq!(base_subject("Re:\u{212A}"), "\u{212A}");
    assert_eq!(base_subject("\u{212A}e: x"), "\u{212A}e: x");
    assert_eq!(base_subject("İRe: x"), "İRe: x");
    assert_eq!(base_subject("RE:Re[3]:返信:回答: İ"), "İ");
}

#[test]
fn base_subject_ends_on_odd_subjects() {
    let parts = [
        "Re",
        "re:",
        "RE[",
        "]",
        "(",
        "2",
        ":",
        "İ",
        "\u{212A}",
        "ß",
        "ﬃ",
        "返信",
        "回答",
        "：",
        "Ｒｅ",
        " ",
        "\u{3000}",
        "\u{0130}\u{0307}",
        "Σ",
        "ẞ",
        "\u{10FFFF}",
        "\u{0}",
        "aw",
        "SV",
    ];
    // Every string of up to four parts, and long runs of each.
    let mut n = 0;
    let mut check = |s: &str| {
        let b = base_subject(s);
        assert!(b.len() <= s.len() * 3, "{s:?} → {b:?}");
        n += 1;
    };
    for a in parts {
        check(&a.repeat(50));
        for b in parts {
            for c in parts {
                for d in parts {
                    check(&format!("{a}{b}{c}{d}"));
                }
            }
        }
    }
    assert!(n > 300_000);
}

#[test]
fn sent_headers_parse_with_many_references() {
    let refs: Vec<String> = (0..2000).map(|i| format!("<r{i}@x>")).collect();
    let h = format!(
        "Message-ID: <s1@us>\r\nFrom: =?UTF-8?B?55Sw5Lit?= <support@example.jp>\r\nTo: a@b.jp\r\nCc: C@D.jp\r\nSubject: Re: x\r\nIn-Reply-To: broken <\r\nReferences: {}\r\n\r\n",
        refs.join("\r\n ")
    );
    let s = parse_sent(h.as_bytes(), 7, 1, None);
    assert_eq!(s.message_id.as_deref(), Some("s1@us"));
    assert_eq!(s.from_name.as_deref(), Some("田中"));
    assert_eq!(s.to, vec!["a@b.jp".to_string(), "c@d.jp".to_string()]);
    assert_eq!(s.references.len(), 2000);
    let none = parse_sent(b"Subject: hi\r\n\r\n", 9, 3, None);
    assert_eq!(none.key, "uid.3.9");
}

#[test]
fn rules_for_replies_are_checked_with_lines() {
    let base = "imap:\n  host: 127.0.0.1\n  tls: none\n  user: u\n  password_env: P\nmembers:\n  tanaka: { name: 田中 太郎, sent_as: [\"田中\", \"t*@example.jp\"] }\n";
    let path = std::path::Path::new("rules.yaml");
    let ok = crate::rules::parse(path, base, true).unwrap().rules;
    assert_eq!(ok.on_reply, OnReply::Mark);
    assert_eq!(ok.reply_window, std::time::Duration::from_secs(7 * 86400));
    let m = &ok.members[0];
    assert!(m.sent_it("support@example.jp", Some("サポート 田中")));
    assert!(m.sent_it("taro@example.jp", None));
    assert!(!m.sent_it("support@example.jp", Some("鈴木")));
    assert!(!m.sent_it("support@example.jp", None));
    let bad = format!("{base}on_reply: maybe\nreply_window: 0d\nfolders:\n  sent: 完了\n");
    let err = crate::rules::parse(path, &bad, true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rules.yaml:8:1: on_reply: \"maybe\" is not mark, claim or done"),
        "{err}"
    );
    assert!(
        err.contains("reply_window: \"0d\" is not a duration above zero"),
        "{err}"
    );
    assert!(
        err.contains("folders.sent: is the same folder as folders.done"),
        "{err}"
    );
    let claim = format!("{base}on_reply: claim\nreply_window: 3d\n");
    let r = crate::rules::parse(path, &claim, true).unwrap().rules;
    assert_eq!(r.on_reply, OnReply::Claim);
    assert_eq!(r.reply_window, std::time::Duration::from_secs(3 * 86400));
}

#[test]
fn a_sent_message_answers_one_queued_message() {
    let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let it = |mid: &str, from: &str, subject: &str, h: i64| Item {
        message_id: Some(mid.into()),
        from: from.into(),
        subject: subject.into(),
        arrived: t0 + chrono::Duration::hours(h),
        ..Item::default()
    };
    let items = vec![
        it("a@c", "yamada@c.jp", "見積もり", 0),
        it("b@c", "yamada@c.jp", "Re: 見積もり", 5),
        it("c@c", "ito@d.jp", "納期", 0),
    ];
    let sent = |irt: &[&str], refs: &[&str], to: &str, subject: &str, h: i64| Sent {
        message_id: Some("s@us".into()),
        key: "s@us".into(),
        from: "support@us.jp".into(),
        from_name: None,
        to: vec![to.into()],
        subject: subject.into(),
        at: t0 + chrono::Duration::hours(h),
        in_reply_to: irt.iter().map(|s| s.to_string()).collect(),
        references: refs.iter().map(|s| s.to_string()).collect(),
    };
    let w = chrono::Duration::days(7);
    assert_eq!(
        target(&items, &sent(&["a@c"], &[], "x@y", "z", 1), w),
        Some((0, "header"))
    );
    // The last References entry that is queued: the latest message of the thread.
    assert_eq!(
        target(
            &items,
            &sent(&["gone@x"], &["a@c", "b@c", "gone@x"], "x@y", "z", 6),
            w
        ),
        Some((1, "header"))
    );
    // By subject: to the sender, after arrival, within the window, the latest one.
    assert_eq!(
        target(&items, &sent(&[], &[], "ito@d.jp", "RE: 納期", 2), w),
        Some((2, "subject"))
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "yamada@c.jp", "Re: 見積もり", 6), w),
        Some((1, "subject"))
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "yamada@c.jp", "Re: 見積もり", 2), w),
        Some((0, "subject"))
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "other@d.jp", "RE: 納期", 2), w),
        None
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "ito@d.jp", "納期", 2), w),
        None,
        "not a reply"
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "ito@d.jp", "Re: 納期", 24 * 8), w),
        None,
        "too late"
    );
    assert_eq!(
        target(&items, &sent(&[], &[], "ito@d.jp", "Re: 納期", -1), w),
        None,
        "before it came"
    );
}

#[test]
fn the_highest_uid_does_not_overflow() {
    assert_eq!(read_up_to(&[3, u32::MAX, 7]), Some(u32::MAX));
    assert_eq!(read_up_to(&[3, 9]), Some(10));
    assert_eq!(read_up_to(&[]), None);
}

#[test]
fn marks_round_trip() {
    let m = parse_marks("12 40 Sent\n3 9 対応中/tanaka\nbad line");
    assert_eq!(m.len(), 2);
    assert_eq!(m[1].folder, "対応中/tanaka");
    assert_eq!(m[0].next, 40);
}
