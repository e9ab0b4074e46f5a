//! Issue 25 against a real Dovecot: automated mail recognised at intake (a corpus of
//! real-shaped out-of-office replies, bounces, newsletters and people's mail that
//! looks automated but is not), 保留 and 対応不要 from the CLI and by drag, held mail
//! coming back when due (the clock as a parameter) or when the customer writes, and
//! the digest sent to the shared address never filed as work.

mod harness;

use harness::seed::hours_ago;
use harness::smtp::Smtp;
use harness::{Courier, Dovecot, MEMBERS, Server, Team, USER, code, stderr, stdout};
use serde_json::Value;

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "{}\n{}", stdout(o), stderr(o));
    stdout(o)
}

fn team_on(dc: &dyn Server, extra: &str) -> Team {
    let imap = format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: none\n",
        dc.imap_port()
    );
    Team::with_tail(
        &imap,
        MEMBERS,
        &format!("{}threads: true\n{extra}", harness::ALWAYS_OPEN),
    )
}

fn mail(mid: &str, from: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: {from}\r\nTo: support@example.jp\r\nSubject: {subject}\r\nDate: Fri, 04 Dec 2026 09:00:00 +0900\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

/// Real-shaped automated mail and people's mail that merely looks automated:
/// (Message-ID, whole message, automated reason code or None for a person's mail).
fn corpus() -> Vec<(&'static str, Vec<u8>, Option<&'static str>)> {
    let exchange_ooo = mail(
        "ooo-exchange@tenant.example",
        "Sato Ichiro <sato@customer.example>",
        "自動応答: お見積もりの件",
        "Auto-Submitted: auto-replied\r\nX-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: sato@customer.example\r\nX-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\nIn-Reply-To: <quote@example.jp>\r\n",
    );
    let gmail_ooo = mail(
        "ooo-gmail@mail.gmail.com",
        "Kato <kato@gmail.example>",
        "不在のお知らせ",
        "Auto-Submitted: auto-replied\r\nPrecedence: bulk\r\nX-Autoreply: yes\r\n",
    );
    let postfix_bounce = "Message-ID: <bounce-postfix@mx.example>\r\nFrom: MAILER-DAEMON@mx.example (Mail Delivery System)\r\nTo: support@example.jp\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: Fri, 04 Dec 2026 09:00:00 +0900\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B1\"\r\n\r\n--B1\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; nobody@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--B1--\r\n"
    .as_bytes()
    .to_vec();
    let exchange_bounce = "Message-ID: <bounce-exchange@tenant.outlook.com>\r\nFrom: postmaster@tenant.onmicrosoft.com\r\nTo: support@example.jp\r\nSubject: =?utf-8?B?6YWN5L+h44Gn44GN44G+44Gb44KT44Gn44GX44GfOiDjgYrnn6XjgonjgZs=?=\r\nDate: Fri, 04 Dec 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=\"delivery-status\"; boundary=\"B2\"\r\nX-MS-Exchange-Message-Is-Ndr:\r\n\r\n--B2\r\nContent-Type: text/plain\r\n\r\nDelivery has failed.\r\n--B2--\r\n"
    .as_bytes()
    .to_vec();
    let newsletter = mail(
        "news-1205@news.example",
        "Example News <info@news.example>",
        "週刊ニュース 12月号",
        "Precedence: bulk\r\nList-Unsubscribe: <https://news.example/u?x=1>, <mailto:u@news.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
    );
    let list_post = mail(
        "list-post@lists.example.org",
        "Yamada Taro <yamada@customer.example>",
        "[users:1234] 設定について質問です",
        "Precedence: list\r\nList-Id: Users <users.lists.example.org>\r\nList-Unsubscribe: <mailto:users-leave@lists.example.org>\r\nSender: users-bounces@lists.example.org\r\n",
    );
    let forwarded = mail(
        "fwd-m365@customer.example",
        "Suzuki Jiro <jiro@customer.example>",
        "FW: 請求書の再発行",
        "Auto-Submitted: auto-forwarded\r\nX-MS-Exchange-Inbox-Rules-Loop: jiro@customer.example\r\nX-MS-Exchange-Organization-AutoForwarded: true\r\n",
    );
    let spam_no = mail(
        "spam-no@customer.example",
        "Ito <ito@customer.example>",
        "ログインできません",
        "X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-1.0\r\nX-Auto-Response-Suppress: All\r\n",
    );
    vec![
        (
            "ooo-exchange@tenant.example",
            exchange_ooo,
            Some("auto_reply"),
        ),
        ("ooo-gmail@mail.gmail.com", gmail_ooo, Some("auto_reply")),
        ("bounce-postfix@mx.example", postfix_bounce, Some("bounce")),
        (
            "bounce-exchange@tenant.outlook.com",
            exchange_bounce,
            Some("bounce"),
        ),
        ("news-1205@news.example", newsletter, Some("bulk")),
        ("list-post@lists.example.org", list_post, None),
        ("fwd-m365@customer.example", forwarded, None),
        ("spam-no@customer.example", spam_no, None),
    ]
}

fn only_place(dc: &dyn Server, mid: &str) -> String {
    let places = dc.locate(mid);
    assert_eq!(places.len(), 1, "{mid} is in {places:?}");
    places[0].0.clone()
}

fn events_about<'a>(evs: &'a [Value], mid: &str) -> Vec<&'a Value> {
    evs.iter()
        .filter(|e| e["message_id"].as_str() == Some(mid))
        .collect()
}

#[test]
fn automated_mail_is_dismissed_with_its_reason_and_people_stay_in_the_queue() {
    let dc = Dovecot::start();
    let team = team_on(&dc, "");
    ok(&team.run(&["init"]));
    let folders = dc.folders();
    assert!(
        folders.iter().any(|f| f == "保留") && folders.iter().any(|f| f == "対応不要"),
        "{folders:?}"
    );
    let old = hours_ago(30);
    for (_, raw, _) in corpus() {
        dc.append("INBOX", "", &old, &raw);
    }
    let o = ok(&team.run(&["rotate", "--apply", "--format", "json"]));
    let v: Value = serde_json::from_str(&o).unwrap();
    let moved = v["moved"].as_array().unwrap();
    let evs = team.events();
    for (mid, _, reason) in corpus() {
        let folder = only_place(&dc, mid);
        let m = moved
            .iter()
            .find(|m| m["message_id"] == format!("<{mid}>") || m["message_id"] == mid)
            .unwrap_or_else(|| panic!("{mid} not moved: {o}"));
        let about = events_about(&evs, mid);
        match reason {
            Some(code) => {
                assert_eq!(folder, "対応不要", "{mid}");
                assert_eq!(m["event"], "dismiss", "{mid}");
                let ev = about
                    .iter()
                    .find(|e| e["event"] == "dismiss")
                    .unwrap_or_else(|| panic!("{mid}: no dismiss event in {about:?}"));
                assert_eq!(ev["actor"], "rotate");
                let note = ev["note"].as_str().unwrap();
                assert!(note.starts_with(&format!("{code}: ")), "{mid}: {note}");
            }
            None => {
                assert_eq!(folder, "未対応", "{mid} is a person's mail");
                assert_eq!(m["event"], "file", "{mid}");
            }
        }
    }
    // The people's mail is overdue (30 hours against 4h), the automated mail is in
    // no queue and no count.
    let o = ok(&team.run(&["list", "--overdue", "--format", "json"]));
    let overdue: Vec<Value> = serde_json::from_str(&o).unwrap();
    assert_eq!(overdue.len(), 3, "{o}");
    let o = ok(&team.run(&["list", "--status", "dismissed", "--format", "json"]));
    let dismissed: Vec<Value> = serde_json::from_str(&o).unwrap();
    assert_eq!(dismissed.len(), 5, "{o}");
    for d in &dismissed {
        assert_eq!(d["status"], "dismissed");
        assert!(
            d["reason"].as_str().is_some_and(|r| r.contains(": ")),
            "{d}"
        );
        assert_eq!(d["overdue"], false);
    }
    let o = ok(&team.run(&["list", "--format", "json"]));
    let active: Vec<Value> = serde_json::from_str(&o).unwrap();
    assert_eq!(
        active.len(),
        3,
        "dismissed mail is not in the default list: {o}"
    );
    // Nothing deleted, nothing read.
    assert_eq!(dc.count("INBOX"), 0);
    assert!(
        dc.all_flags().iter().all(|(_, f)| !f.contains("\\Seen")),
        "{:?}",
        dc.all_flags()
    );
    // A second run moves nothing.
    let o = ok(&team.run(&["rotate", "--apply", "--format", "json"]));
    let v: Value = serde_json::from_str(&o).unwrap();
    assert!(v["moved"].as_array().unwrap().is_empty(), "{o}");
}

#[test]
fn automated_file_keeps_it_in_the_queue_quietly_and_routes_dismiss_chosen_senders() {
    let dc = Dovecot::start();
    let team = team_on(
        &dc,
        "automated: file\nassign: duty\nroster:\n  weekdays: { mon: tanaka, tue: tanaka, wed: tanaka, thu: tanaka, fri: tanaka, sat: tanaka, sun: tanaka }\n  holidays: { japan: false }\nroutes:\n  - match: { from: \"*@alerts.example\" }\n    action: dismiss\n",
    );
    // ALWAYS_OPEN already has a roster: the one above replaces it.
    let text = std::fs::read_to_string(&team.rules).unwrap();
    let text = text.replacen("roster:\n  holidays: { japan: false }\n", "", 1);
    std::fs::write(&team.rules, text).unwrap();
    ok(&team.run(&["check"]));
    ok(&team.run(&["init"]));
    let old = hours_ago(30);
    let corpus = corpus();
    dc.append("INBOX", "", &old, &corpus[1].1);
    dc.append(
        "INBOX",
        "",
        &old,
        &mail(
            "alert-1@alerts.example",
            "monitor@alerts.example",
            "CPU high",
            "",
        ),
    );
    dc.append(
        "INBOX",
        "",
        &old,
        &mail("person@customer.example", "a@customer.example", "質問", ""),
    );
    ok(&team.run(&["rotate", "--apply"]));
    assert_eq!(only_place(&dc, "ooo-gmail@mail.gmail.com"), "未対応");
    assert_eq!(only_place(&dc, "alert-1@alerts.example"), "対応不要");
    assert_eq!(
        only_place(&dc, "person@customer.example"),
        "対応中/tanaka",
        "a person's mail is handed out"
    );
    let o = ok(&team.run(&["list", "--overdue", "--format", "ids"]));
    assert!(
        o.trim().is_empty(),
        "filed automated mail is never overdue: {o}"
    );
    let evs = team.events();
    let alert = events_about(&evs, "alert-1@alerts.example");
    assert!(
        alert.iter().any(|e| e["event"] == "dismiss"
            && e["note"].as_str().unwrap().starts_with("route: route 1")),
        "{alert:?}"
    );
}

fn list_json(team: &Team, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["list", "--format", "json"];
    a.extend_from_slice(args);
    serde_json::from_str(&ok(&team.run(&a))).unwrap()
}

fn id_of(team: &Team, mid: &str) -> String {
    let all = list_json(team, &["--status", "all"]);
    all.iter()
        .find(|r| r["message_id"].as_str().map(|m| m.trim_matches(['<', '>'])) == Some(mid))
        .unwrap_or_else(|| panic!("{mid} not listed"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn hold_and_dismiss_from_the_cli_come_back_when_due_and_when_the_customer_writes() {
    let dc = Dovecot::start();
    let team = team_on(&dc, "");
    ok(&team.run(&["init"]));
    let old = hours_ago(30);
    dc.append(
        "対応中/tanaka",
        "",
        &old,
        &mail("q1@cust.example", "c1@cust.example", "見積もり", ""),
    );
    dc.append(
        "未対応",
        "",
        &old,
        &mail("q2@cust.example", "c2@cust.example", "資料請求", ""),
    );
    dc.append(
        "未対応",
        "",
        &old,
        &mail(
            "q3@cust.example",
            "c3@cust.example",
            "ありがとうございました",
            "",
        ),
    );
    let (q1, q2, q3) = (
        id_of(&team, "q1@cust.example"),
        id_of(&team, "q2@cust.example"),
        id_of(&team, "q3@cust.example"),
    );
    let bad = team.run(&["--as", "suzuki", "hold", &q1, "--until", "someday"]);
    assert_eq!(code(&bad), 2, "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--until"), "{}", stderr(&bad));
    assert_eq!(
        only_place(&dc, "q1@cust.example"),
        "対応中/tanaka",
        "nothing moved"
    );

    // suzuki holds tanaka's claim for two business hours: tanaka stays the owner.
    let o = ok(&team.run(&[
        "--as",
        "suzuki",
        "hold",
        &q1,
        "--until",
        "2h",
        "--note",
        "返事待ち",
    ]));
    assert!(o.contains("held") && o.contains("保留"), "{o}");
    // suzuki holds unclaimed mail with no end: suzuki owns it while it waits.
    ok(&team.run(&["--as", "suzuki", "hold", &q2]));
    ok(&team.run(&["--as", "tanaka", "dismiss", &q3, "--note", "お礼のみ"]));
    assert_eq!(only_place(&dc, "q1@cust.example"), "保留");
    assert_eq!(only_place(&dc, "q2@cust.example"), "保留");
    assert_eq!(only_place(&dc, "q3@cust.example"), "対応不要");

    let held = list_json(&team, &["--status", "held"]);
    assert_eq!(held.len(), 2, "{held:?}");
    let h1 = held.iter().find(|r| r["id"] == q1.as_str()).unwrap();
    assert_eq!(h1["status"], "held");
    assert_eq!(h1["owner"], "tanaka");
    let until = chrono::DateTime::parse_from_rfc3339(h1["held_until"].as_str().unwrap()).unwrap();
    let diff = until.with_timezone(&chrono::Utc) - chrono::Utc::now();
    assert!(
        diff > chrono::Duration::minutes(100) && diff <= chrono::Duration::hours(2),
        "{diff}"
    );
    let h2 = held.iter().find(|r| r["id"] == q2.as_str()).unwrap();
    assert_eq!(h2["owner"], "suzuki");
    assert!(h2.get("held_until").is_none_or(Value::is_null), "{h2}");
    // Held and dismissed mail is never overdue, though 30 hours old.
    assert!(list_json(&team, &["--overdue"]).is_empty());
    let d = list_json(&team, &["--status", "dismissed"]);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["reason"], "お礼のみ");

    // An out-of-office reply in q2's thread does not bring it back; it is dismissed.
    dc.append(
        "INBOX",
        "",
        &hours_ago(1),
        &mail("ooo-q2@cust.example", "c2@cust.example", "自動応答: 資料請求", "Auto-Submitted: auto-replied\r\nIn-Reply-To: <q2@cust.example>\r\nReferences: <q2@cust.example>\r\n"),
    );
    ok(&team.run(&["rotate", "--apply"]));
    assert_eq!(only_place(&dc, "q2@cust.example"), "保留");
    assert_eq!(only_place(&dc, "q1@cust.example"), "保留", "not due yet");
    assert_eq!(only_place(&dc, "ooo-q2@cust.example"), "対応不要");

    // The customer writes in q2's thread: q2 goes back to suzuki, and the reply follows.
    dc.append(
        "INBOX",
        "",
        &hours_ago(0),
        &mail(
            "re-q2@cust.example",
            "c2@cust.example",
            "Re: 資料請求",
            "In-Reply-To: <q2@cust.example>\r\nReferences: <q2@cust.example>\r\n",
        ),
    );
    let o = ok(&team.run(&["rotate", "--apply", "--format", "json"]));
    assert_eq!(only_place(&dc, "q2@cust.example"), "対応中/suzuki", "{o}");
    assert_eq!(
        only_place(&dc, "re-q2@cust.example"),
        "対応中/suzuki",
        "{o}"
    );
    assert_eq!(only_place(&dc, "q1@cust.example"), "保留");

    // Time passes (the clock as a parameter): q1 is due and goes back to tanaka.
    let later = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let o = team
        .command(&["rotate", "--apply", "--format", "json"])
        .env("MAILDUTY_NOW", &later)
        .output()
        .unwrap();
    let o = ok(&o);
    assert_eq!(only_place(&dc, "q1@cust.example"), "対応中/tanaka", "{o}");
    let v: Value = serde_json::from_str(&o).unwrap();
    let back = v["moved"].as_array().unwrap();
    assert!(
        back.iter().any(|m| m["event"] == "unhold"
            && m["owner"] == "tanaka"
            && m["reason"].as_str().unwrap().starts_with("due")),
        "{o}"
    );

    let evs = team.events();
    let q1e = events_about(&evs, "q1@cust.example");
    let kinds: Vec<&str> = q1e.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["hold", "unhold"], "{q1e:?}");
    assert_eq!(q1e[0]["actor"], "suzuki");
    assert!(
        q1e[0]["note"].as_str().unwrap().contains("owner=tanaka"),
        "{:?}",
        q1e[0]
    );
    let q2e = events_about(&evs, "q2@cust.example");
    let back = q2e.iter().find(|e| e["event"] == "unhold").unwrap();
    assert!(
        back["note"].as_str().unwrap().starts_with("reply"),
        "{back}"
    );
    // Exactly one copy of everything, nothing read.
    for mid in ["q1@cust.example", "q2@cust.example", "q3@cust.example"] {
        assert_eq!(dc.locate(mid).len(), 1, "{mid}");
    }
    assert!(dc.all_flags().iter().all(|(_, f)| !f.contains("\\Seen")));

    // release and claim work from 保留; done from 対応不要.
    ok(&team.run(&["--as", "tanaka", "hold", &q1]));
    let o = team.run(&["--as", "suzuki", "claim", &q1]);
    assert_eq!(code(&o), 4, "someone else's held mail: {}", stderr(&o));
    ok(&team.run(&["--as", "tanaka", "claim", &q1]));
    assert_eq!(only_place(&dc, "q1@cust.example"), "対応中/tanaka");
    ok(&team.run(&["--as", "tanaka", "hold", &q1]));
    ok(&team.run(&["--as", "tanaka", "release", &q1]));
    assert_eq!(only_place(&dc, "q1@cust.example"), "未対応");
    ok(&team.run(&["--as", "tanaka", "done", &q3]));
    assert_eq!(only_place(&dc, "q3@cust.example"), "完了");
}

#[test]
fn drags_into_held_and_dismissed_are_recorded() {
    let dc = Dovecot::start();
    let team = team_on(&dc, "");
    ok(&team.run(&["init"]));
    let old = hours_ago(5);
    dc.append(
        "対応中/suzuki",
        "",
        &old,
        &mail("d1@cust.example", "c@cust.example", "ドラッグ保留", ""),
    );
    dc.append(
        "未対応",
        "",
        &old,
        &mail("d2@cust.example", "c@cust.example", "ドラッグ不要", ""),
    );
    // Recorded as suzuki's claim first, so the drag has a place it came from.
    ok(&team.run(&["rotate", "--apply"]));
    for (mid, to) in [("d1@cust.example", "保留"), ("d2@cust.example", "対応不要")] {
        let from = only_place(&dc, mid);
        dc.doveadm(&[
            "move",
            "-u",
            USER,
            to,
            "mailbox",
            &from,
            "HEADER",
            "Message-ID",
            &format!("<{mid}>"),
        ]);
        assert_eq!(only_place(&dc, mid), to);
    }
    let o = ok(&team.run(&["rotate", "--apply"]));
    assert!(o.contains("2 moves made in mail clients"), "{o}");
    let evs = team.events();
    let d1 = events_about(&evs, "d1@cust.example");
    assert!(
        d1.iter()
            .any(|e| e["event"] == "hold" && e["actor"] == "client"),
        "{d1:?}"
    );
    let d2 = events_about(&evs, "d2@cust.example");
    assert!(
        d2.iter()
            .any(|e| e["event"] == "dismiss" && e["actor"] == "client"),
        "{d2:?}"
    );
    let held = list_json(&team, &["--status", "held"]);
    assert_eq!(
        held[0]["owner"], "suzuki",
        "the folder it was dragged from says whose"
    );
    // Recorded once.
    ok(&team.run(&["rotate", "--apply"]));
    let again = team.events();
    assert_eq!(again.len(), evs.len(), "{again:?}");
}

#[test]
fn the_digest_sent_to_the_shared_address_is_dismissed_not_filed() {
    let dc = Dovecot::start();
    let smtp = Smtp::start(None, None);
    let team = team_on(
        &dc,
        &format!(
            "digest:\n  to: [support@example.jp]\n  from: mailduty <support@example.jp>\n  send_when_empty: true\n  smtp: {{ host: 127.0.0.1, port: {}, tls: none }}\n",
            smtp.port
        ),
    );
    ok(&team.run(&["init"]));
    ok(&team.run(&["report", "--send"]));
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let raw = &got[0].raw;
    let text = String::from_utf8_lossy(raw);
    assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    assert!(text.contains("X-Auto-Response-Suppress: All"), "{text}");
    assert!(text.contains("X-Mailduty-Mark: "), "{text}");
    let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
    let mid = parsed.message_id().unwrap().to_string();
    // The shared mailbox receives it.
    dc.append("INBOX", "", &hours_ago(0), raw);
    let o = ok(&team.run(&["rotate", "--apply", "--format", "json"]));
    assert_eq!(only_place(&dc, &mid), "対応不要", "{o}");
    let evs = team.events();
    let about = events_about(&evs, &mid);
    let ev = about.iter().find(|e| e["event"] == "dismiss").unwrap();
    assert!(ev["note"].as_str().unwrap().starts_with("own: "), "{ev}");
    assert!(list_json(&team, &[]).is_empty());
}

#[test]
fn hold_and_dismiss_move_on_courier() {
    let dc = Courier::start();
    let team = team_on(&dc, "");
    ok(&team.run(&["init"]));
    dc.append(
        "未対応",
        "",
        &hours_ago(3),
        &mail("c1@cust.example", "c@cust.example", "Courier 保留", ""),
    );
    dc.append(
        "未対応",
        "",
        &hours_ago(3),
        &mail("c2@cust.example", "c@cust.example", "Courier 不要", ""),
    );
    let (c1, c2) = (
        id_of(&team, "c1@cust.example"),
        id_of(&team, "c2@cust.example"),
    );
    ok(&team.run(&["--as", "tanaka", "hold", &c1, "--until", "1h"]));
    ok(&team.run(&["--as", "tanaka", "dismiss", &c2]));
    assert_eq!(only_place(&dc, "c1@cust.example"), "保留");
    assert_eq!(only_place(&dc, "c2@cust.example"), "対応不要");
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let o = team
        .command(&["rotate", "--apply"])
        .env("MAILDUTY_NOW", &later)
        .output()
        .unwrap();
    ok(&o);
    assert_eq!(only_place(&dc, "c1@cust.example"), "対応中/tanaka");
    assert_eq!(dc.locate("c2@cust.example").len(), 1);
}
