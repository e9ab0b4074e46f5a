//! Work done in mail clients, against a real Dovecot: replies that a client files in
//! Sent (by header and by subject), each `on_reply`, 二重対応 from two clients, and
//! messages dragged into a member folder and into 完了, each recorded once however
//! often `rotate --apply` runs.

mod harness;

use harness::seed::hours_ago;
use harness::{Dovecot, Team, code, stderr, stdout};
use serde_json::Value;

const MEMBERS: &str = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, sent_as: [\"田中\"] }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp, sent_as: [\"鈴木\", \"hsuzuki@example.jp\"] }\n";

/// Dovecot marking its Sent folder `\Sent`, as Thunderbird and Outlook find it.
fn dovecot_with_sent() -> Dovecot {
    let dc = Dovecot::start_with(
        "namespace inbox {\n  mailbox Sent {\n    special_use = \\Sent\n  }\n}\n",
    );
    dc.doveadm(&["mailbox", "create", "-u", harness::USER, "Sent"]);
    dc
}

fn team(dc: &Dovecot, extra: &str) -> Team {
    let t = Team::plain(dc.imap_port, MEMBERS);
    let text = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(&t.rules, format!("{text}{extra}")).unwrap();
    let o = t.run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
    t
}

fn customer(mid: &str, from: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: {from}\r\nTo: support@example.jp\r\nSubject: {subject}\r\n{extra}Date: Mon, 30 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

/// What a mail client files in Sent after replying.
fn sent(mid: &str, from: &str, to: &str, subject: &str, headers: &str, ago_h: i64) -> Vec<u8> {
    let date = (chrono::Utc::now() - chrono::Duration::hours(ago_h)).to_rfc2822();
    format!(
        "Message-ID: <{mid}>\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n{headers}Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nお世話になっております。\r\n"
    )
    .into_bytes()
}

fn rotate(t: &Team) -> Value {
    let o = t.run(&["rotate", "--apply", "--format", "json"]);
    assert_eq!(code(&o), 0, "rotate: {}\n{}", stderr(&o), stdout(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn list(t: &Team, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["list", "--format", "json"];
    args.extend_from_slice(extra);
    let o = t.run(&args);
    assert_eq!(code(&o), 0, "list: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// History events of one kind, by doveadm (the server's own view).
fn events(dc: &Dovecot, kind: &str) -> Vec<String> {
    let out = dc.doveadm(&[
        "-f",
        "tab",
        "fetch",
        "-u",
        harness::USER,
        "hdr.x-mailduty-actor hdr.x-mailduty-event",
        "mailbox",
        "対応履歴",
        "HEADER",
        "X-Mailduty-Event",
        kind,
    ]);
    out.lines()
        .skip(1)
        .filter(|l| l.split('\t').nth(1).map(str::trim) == Some(kind))
        .map(|l| l.split('\t').next().unwrap_or("").trim().to_string())
        .collect()
}

fn row<'a>(rows: &'a [Value], mid: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["message_id"] == mid)
        .unwrap_or_else(|| panic!("{mid} not listed: {rows:?}"))
}

#[test]
fn the_sent_folder_is_found_by_special_use_or_named_in_the_rules() {
    let dc = dovecot_with_sent();
    let t = Team::plain(dc.imap_port, MEMBERS);
    let o = t.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("sent mail: Sent (SPECIAL-USE \\Sent)"),
        "{}",
        stdout(&o)
    );

    // No SPECIAL-USE mark (Courier's INBOX.Sent): init says so, and the rules name it.
    let plain = Dovecot::start();
    let t = Team::plain(plain.imap_port, MEMBERS);
    let o = t.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stderr(&o).contains("no Sent folder"), "{}", stderr(&o));
    let o = t.run(&["check"]);
    assert!(stdout(&o).contains("need folders.sent"), "{}", stdout(&o));
    plain.doveadm(&["mailbox", "create", "-u", harness::USER, "送信済み"]);
    let text = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(&t.rules, format!("{text}folders:\n  sent: 送信済み\n")).unwrap();
    let o = t.run(&["init"]);
    assert!(
        stdout(&o).contains("sent mail: 送信済み (folders.sent)"),
        "{}",
        stdout(&o)
    );
    let o = t.run(&["check"]);
    assert!(stdout(&o).contains("read from 送信済み"), "{}", stdout(&o));
    // A folders.sent that is not there is named.
    std::fs::write(&t.rules, format!("{text}folders:\n  sent: Gesendet\n")).unwrap();
    let o = t.run(&["init"]);
    assert!(
        stderr(&o).contains("folders.sent: the folder Gesendet does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn replies_by_header_and_by_subject_are_recorded_once_and_stop_the_sla() {
    let dc = dovecot_with_sent();
    let t = team(&dc, "");
    dc.append(
        "未対応",
        "",
        &hours_ago(30),
        &customer(
            "q1@cust.jp",
            "山田 <yamada@cust.jp>",
            "見積もりのお願い",
            "",
        ),
    );
    dc.append(
        "未対応",
        "",
        &hours_ago(20),
        &customer("q2@other.jp", "ito@other.jp", "納期の確認", ""),
    );
    dc.append(
        "未対応",
        "",
        &hours_ago(10),
        &customer("q3@other.jp", "kato@other.jp", "返品について", ""),
    );
    let before = list(&t, &[]);
    assert_eq!(row(&before, "q1@cust.jp")["overdue"], true);
    assert_eq!(row(&before, "q1@cust.jp")["replied"], false);

    // Thunderbird: In-Reply-To and References; the From names 田中.
    dc.append(
        "Sent",
        "\\Seen",
        &hours_ago(2),
        &sent(
            "r1@support.jp",
            "=?UTF-8?B?55Sw5Lit?= <support@example.jp>",
            "yamada@cust.jp",
            "Re: 見積もりのお願い",
            "In-Reply-To: <q1@cust.jp>\r\nReferences: <q1@cust.jp>\r\n",
            2,
        ),
    );
    // A client that drops both headers: full-width "Ｒｅ：" to the sender.
    dc.append(
        "Sent",
        "",
        &hours_ago(1),
        &sent(
            "r2@support.jp",
            "support@example.jp",
            "ito@other.jp",
            "Ｒｅ：納期の確認",
            "",
            1,
        ),
    );
    // Not replies: a new message to a customer, and a "Re:" to someone else.
    dc.append(
        "Sent",
        "",
        &hours_ago(1),
        &sent(
            "n1@support.jp",
            "support@example.jp",
            "kato@other.jp",
            "返品について",
            "",
            1,
        ),
    );
    dc.append(
        "Sent",
        "",
        &hours_ago(1),
        &sent(
            "n2@support.jp",
            "support@example.jp",
            "x@else.jp",
            "Re: 返品について",
            "",
            1,
        ),
    );
    let sent_flags = |dc: &Dovecot| {
        let out = dc.doveadm(&[
            "-f",
            "tab",
            "fetch",
            "-u",
            harness::USER,
            "flags",
            "mailbox",
            "Sent",
            "ALL",
        ]);
        out.lines().skip(1).map(str::to_string).collect::<Vec<_>>()
    };
    let flags_before = sent_flags(&dc);

    let v = rotate(&t);
    let replies = v["clients"]["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2, "{v:#}");
    let by = |mid: &str| {
        replies
            .iter()
            .find(|r| r["reply_message_id"] == mid)
            .unwrap_or_else(|| panic!("{mid}: {v:#}"))
    };
    assert_eq!(by("r1@support.jp")["matched_by"], "header");
    assert_eq!(by("r1@support.jp")["replier"], "tanaka");
    assert_eq!(by("r2@support.jp")["matched_by"], "subject");
    assert_eq!(by("r2@support.jp")["replier"], "unknown");
    assert_eq!(v["clients"]["sent_folder"], "Sent");

    // Again and again: nothing new is counted, nothing new is read.
    for _ in 0..2 {
        let v = rotate(&t);
        assert_eq!(
            v["clients"]["replies"].as_array().unwrap().len(),
            0,
            "{v:#}"
        );
        assert_eq!(v["clients"]["sent_read"], 0, "{v:#}");
    }
    assert_eq!(events(&dc, "reply").len(), 2);

    let rows = list(&t, &[]);
    let q1 = row(&rows, "q1@cust.jp");
    assert_eq!(q1["replied"], true);
    assert_eq!(q1["overdue"], false, "a replied message is not overdue");
    assert_eq!(q1["replies"][0]["replier"], "tanaka");
    assert_eq!(q1["replies"][0]["message_id"], "<r1@support.jp>");
    assert_eq!(row(&rows, "q2@other.jp")["replied"], true);
    assert_eq!(row(&rows, "q3@other.jp")["replied"], false);
    let o = t.run(&["list", "--overdue", "--format", "ids"]);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "only q3 is overdue: {}",
        stdout(&o)
    );
    let o = t.run(&["list"]);
    assert!(stdout(&o).contains(" ↩"), "{}", stdout(&o));

    // Sent is read, never changed: same flags, nothing moved, \Seen untouched.
    assert_eq!(sent_flags(&dc), flags_before);
    assert_eq!(dc.count("Sent"), 4);

    // The customer writes again after the reply: a new wait of its own.
    dc.append(
        "未対応",
        "",
        &hours_ago(0),
        &customer(
            "q1b@cust.jp",
            "yamada@cust.jp",
            "Re: 見積もりのお願い",
            "In-Reply-To: <r1@support.jp>\r\nReferences: <q1@cust.jp> <r1@support.jp>\r\n",
        ),
    );
    rotate(&t);
    let rows = list(&t, &[]);
    assert_eq!(row(&rows, "q1b@cust.jp")["replied"], false);
    assert_eq!(row(&rows, "q1@cust.jp")["replied"], true);

    // The history table shows the replies but not the step's scan bookmarks; JSON has both.
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(2);
    let since = day.to_string();
    let o = t.run(&["history", "--since", &since]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.lines().any(|l| l.contains(" reply ")), "{table}");
    assert!(!table.lines().any(|l| l.contains(" scan ")), "{table}");
    let o = t.run(&["history", "--since", &since, "--format", "json"]);
    let evs: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(evs.iter().any(|e| e["event"] == "scan"), "{evs:?}");
}

#[test]
fn on_reply_claim_and_done_move_through_the_desk() {
    for (mode, folder, kind) in [
        ("claim", "対応中/suzuki", "claim"),
        ("done", "完了", "done"),
    ] {
        let dc = dovecot_with_sent();
        let t = team(&dc, &format!("on_reply: {mode}\n"));
        dc.append(
            "INBOX",
            "",
            &hours_ago(3),
            &customer("m1@cust.jp", "yamada@cust.jp", "請求書", ""),
        );
        dc.append(
            "Sent",
            "\\Seen",
            &hours_ago(1),
            &sent(
                "s1@support.jp",
                "鈴木 <hsuzuki@example.jp>",
                "yamada@cust.jp",
                "RE: 請求書",
                // A header naming the message: a subject match alone only marks.
                "References: <gone@cust.jp> <m1@cust.jp>\r\n",
                1,
            ),
        );
        let v = rotate(&t);
        assert_eq!(v["clients"]["replies"][0]["action"], mode, "{v:#}");
        let places = dc.locate("m1@cust.jp");
        assert_eq!(places.len(), 1, "{places:?}");
        assert_eq!(places[0].0, folder);
        assert!(places[0].2.contains("\\Answered"), "{places:?}");
        assert!(!places[0].2.contains("\\Seen"), "{places:?}");
        assert_eq!(events(&dc, kind), ["suzuki"], "{mode}");
        // The move is explained by its own event: no `client` event for it.
        let v = rotate(&t);
        assert_eq!(
            v["clients"]["dragged"].as_array().unwrap().len(),
            0,
            "{v:#}"
        );
        assert_eq!(events(&dc, "reply"), ["suzuki"]);
    }
}

/// `on_reply: done` moves only on a header naming one queued message: a subject match
/// or a Message-ID two queued messages share only marks. And what was marked
/// answered is filed from the inbox in the same run (intake sees the new MODSEQ).
#[test]
fn on_reply_moves_only_on_a_unique_header_and_marked_mail_is_still_filed() {
    let dc = dovecot_with_sent();
    let t = team(&dc, "on_reply: done\n");
    let shared = |body: &str| {
        let mut m = customer("same@cust.jp", "yamada@cust.jp", "見積もり", "");
        m.extend_from_slice(body.as_bytes());
        m
    };
    dc.append("INBOX", "", &hours_ago(5), &shared("one\r\n"));
    dc.append("INBOX", "", &hours_ago(4), &shared("two\r\n"));
    dc.append(
        "INBOX",
        "",
        &hours_ago(3),
        &customer("subj@other.jp", "ito@other.jp", "納期", ""),
    );
    dc.append(
        "INBOX",
        "",
        &hours_ago(3),
        &customer("only@cust.jp", "kato@cust.jp", "返品", ""),
    );
    for (mid, to, subject, headers) in [
        (
            "s1@support.jp",
            "yamada@cust.jp",
            "Re: 見積もり",
            "In-Reply-To: <same@cust.jp>\r\n",
        ),
        ("s2@support.jp", "ito@other.jp", "Re: 納期", ""),
        (
            "s3@support.jp",
            "kato@cust.jp",
            "Re: 返品",
            "In-Reply-To: <only@cust.jp>\r\n",
        ),
    ] {
        dc.append(
            "Sent",
            "\\Seen",
            &hours_ago(1),
            &sent(mid, "support@example.jp", to, subject, headers, 1),
        );
    }
    let v = rotate(&t);
    let actions: Vec<(String, String)> = v["clients"]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["reply_message_id"].as_str().unwrap().to_string(),
                r["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("s1@support.jp".to_string(), "mark".to_string()),
            ("s2@support.jp".to_string(), "mark".to_string()),
            ("s3@support.jp".to_string(), "done".to_string()),
        ],
        "{v:#}"
    );
    assert_eq!(dc.locate("only@cust.jp")[0].0, "完了");
    let same = dc.locate("same@cust.jp");
    assert_eq!(same.len(), 2, "{same:?}");
    let subj = dc.locate("subj@other.jp");
    for (folder, _, flags) in same.iter().chain(&subj) {
        assert_eq!(folder, "未対応", "{same:?} {subj:?}");
        assert!(!flags.contains("\\Seen"), "{flags}");
    }
    // Exactly the replied ones are answered, all filed in this run.
    assert!(subj[0].2.contains("\\Answered"), "{subj:?}");
    assert_eq!(v["left"], 0, "{v:#}");
    assert!(
        v["failed"].is_null() || v["failed"].as_array().is_some_and(|f| f.is_empty()),
        "{v:#}"
    );
}

/// A run cut after writing a reply event, before marking the message answered and
/// moving it: the next run finishes both. And a message marked answered in the
/// inbox is filed in the same run.
#[test]
fn a_reply_recorded_by_a_cut_run_is_still_marked_and_moved() {
    let dc = dovecot_with_sent();
    let t = team(&dc, "");
    dc.append(
        "INBOX",
        "",
        &hours_ago(3),
        &customer("cut@cust.jp", "yamada@cust.jp", "請求書", ""),
    );
    dc.append(
        "Sent",
        "\\Seen",
        &hours_ago(1),
        &sent(
            "sc@support.jp",
            "鈴木 <hsuzuki@example.jp>",
            "yamada@cust.jp",
            "Re: 請求書",
            "In-Reply-To: <cut@cust.jp>\r\n",
            1,
        ),
    );
    let v = rotate(&t);
    assert_eq!(v["clients"]["replies"][0]["action"], "mark", "{v:#}");
    // Marked answered and still filed in the same run: intake saw the new MODSEQ.
    assert_eq!(v["left"], 0, "{v:#}");
    assert_eq!(dc.locate("cut@cust.jp")[0].0, "未対応");
    // What a cut right after the reply event leaves: the event, but no \Answered and
    // no scan mark (written last).
    dc.doveadm(&[
        "flags",
        "remove",
        "-u",
        harness::USER,
        "\\Answered",
        "mailbox",
        "未対応",
        "ALL",
    ]);
    dc.doveadm(&[
        "expunge",
        "-u",
        harness::USER,
        "mailbox",
        "対応履歴",
        "HEADER",
        "X-Mailduty-Event",
        "scan",
    ]);
    assert!(!dc.locate("cut@cust.jp")[0].2.contains("\\Answered"));
    let text = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(&t.rules, format!("{text}on_reply: done\n")).unwrap();
    let v = rotate(&t);
    assert_eq!(
        v["clients"]["replies"].as_array().unwrap().len(),
        0,
        "{v:#}"
    );
    let places = dc.locate("cut@cust.jp");
    assert_eq!(places.len(), 1, "{places:?}");
    assert_eq!(places[0].0, "完了", "{places:?}");
    assert!(places[0].2.contains("\\Answered"), "{places:?}");
    assert_eq!(events(&dc, "reply"), ["suzuki"]);
    assert_eq!(events(&dc, "done"), ["suzuki"]);
}

/// Where no keyword marks a move under way (Exchange), a message that just came into
/// a member folder with no event may be a `mailduty claim` that has not written its
/// event yet: it is recorded as the client's only once it was there at an earlier
/// scan, at least STALE before.
#[test]
fn without_keywords_a_message_new_in_a_member_folder_waits_a_scan_before_a_client_claim() {
    let dc = dovecot_with_sent();
    let relay =
        harness::relay::NoKeywords::start(dc.imap_port, harness::relay::KeywordStore::Ignored);
    let t = team(&dc, "");
    let text = std::fs::read_to_string(&t.rules).unwrap();
    std::fs::write(
        &t.rules,
        text.replace(
            &format!("port: {}", dc.imap_port),
            &format!("port: {}", relay.port),
        ),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&t.rules)
            .unwrap()
            .contains(&format!("port: {}", relay.port))
    );
    // Moved by a claim that has not yet written its event.
    dc.append(
        "対応中/tanaka",
        "",
        &hours_ago(2),
        &customer("fresh@cust.jp", "a@cust.jp", "いま担当", ""),
    );
    let v = rotate(&t);
    assert_eq!(
        v["clients"]["dragged"].as_array().unwrap().len(),
        0,
        "{v:#}"
    );
    assert!(events(&dc, "claim").is_empty());
    // Still without an event a scan and STALE later: a mail client moved it.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let v = rotate(&t);
    assert_eq!(v["clients"]["dragged"][0]["event"], "claim", "{v:#}");
    assert_eq!(events(&dc, "claim"), ["client"]);
    let v = rotate(&t);
    assert_eq!(
        v["clients"]["dragged"].as_array().unwrap().len(),
        0,
        "{v:#}"
    );
    assert_eq!(events(&dc, "claim"), ["client"]);
}

#[test]
fn two_clients_replying_to_one_message_is_a_double_reply_in_list_and_digest() {
    let dc = dovecot_with_sent();
    let t = team(&dc, "");
    dc.append(
        "未対応",
        "",
        &hours_ago(5),
        &customer("d1@cust.jp", "yamada@cust.jp", "至急：納品について", ""),
    );
    dc.append(
        "未対応",
        "",
        &hours_ago(5),
        &customer("d2@cust.jp", "sato@cust.jp", "一度だけの返信", ""),
    );
    // Two people, two mail clients, one customer.
    let client = |mid: &str, who: &str, ago: i64, target: &str| {
        dc.append(
            "Sent",
            "\\Seen",
            &hours_ago(ago),
            &sent(
                mid,
                &format!("{who} <support@example.jp>"),
                "yamada@cust.jp",
                "Re: 至急：納品について",
                &format!("In-Reply-To: <{target}>\r\n"),
                ago,
            ),
        );
    };
    client("t1@support.jp", "田中", 3, "d1@cust.jp");
    client("t2@support.jp", "鈴木", 2, "d1@cust.jp");
    client("t3@support.jp", "田中", 2, "d2@cust.jp");
    let v = rotate(&t);
    assert_eq!(v["clients"]["double_replies"], 1, "{v:#}");
    rotate(&t);
    assert_eq!(events(&dc, "double_reply"), ["suzuki"]);

    let rows = list(&t, &[]);
    assert_eq!(row(&rows, "d1@cust.jp")["double_reply"], true);
    assert_eq!(
        row(&rows, "d1@cust.jp")["replies"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(row(&rows, "d2@cust.jp")["double_reply"], false);
    let double = list(&t, &["--double"]);
    assert_eq!(double.len(), 1, "{double:?}");
    assert_eq!(double[0]["message_id"], "d1@cust.jp");

    let o = t.run(&["report"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    let first_section = text
        .lines()
        .position(|l| l.starts_with("二重対応 (two people"))
        .unwrap_or(usize::MAX);
    let overdue = text
        .lines()
        .position(|l| l.starts_with("期限超過"))
        .unwrap();
    assert!(first_section < overdue, "二重対応 comes first:\n{text}");
    assert!(text.contains("至急：納品について"), "{text}");
    assert!(text.contains("tanaka") && text.contains("suzuki"), "{text}");
    let o = t.run(&["report", "--format", "json"]);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["double_replies"].as_array().unwrap().len(), 1, "{r:#}");
    assert!(
        r["time_to_first_reply"]["count"].as_u64().unwrap() >= 2,
        "{r:#}"
    );
}

#[test]
fn a_drag_into_a_member_folder_or_into_done_is_recorded_once_as_the_client() {
    let dc = dovecot_with_sent();
    let t = team(&dc, "");
    for (mid, subj) in [
        ("g1@cust.jp", "ドラッグで担当"),
        ("g2@cust.jp", "ドラッグで完了"),
        ("g3@cust.jp", "そのまま"),
    ] {
        dc.append(
            "未対応",
            "",
            &hours_ago(2),
            &customer(mid, "a@cust.jp", subj, ""),
        );
    }
    // First look: what is there now is read once.
    rotate(&t);
    // Thunderbird moves them (IMAP MOVE, as a drag does).
    dc.doveadm(&[
        "move",
        "-u",
        harness::USER,
        "対応中/tanaka",
        "mailbox",
        "未対応",
        "HEADER",
        "Message-ID",
        "<g1@cust.jp>",
    ]);
    dc.doveadm(&[
        "move",
        "-u",
        harness::USER,
        "完了",
        "mailbox",
        "未対応",
        "HEADER",
        "Message-ID",
        "<g2@cust.jp>",
    ]);
    let v = rotate(&t);
    let dragged = v["clients"]["dragged"].as_array().unwrap();
    assert_eq!(dragged.len(), 2, "{v:#}");
    for _ in 0..2 {
        let v = rotate(&t);
        assert_eq!(
            v["clients"]["dragged"].as_array().unwrap().len(),
            0,
            "{v:#}"
        );
    }
    assert_eq!(events(&dc, "claim"), ["client"]);
    assert_eq!(events(&dc, "done"), ["client"]);
    // A member's own claim is not mistaken for a drag.
    let id = list(&t, &[])
        .iter()
        .find(|r| r["message_id"] == "g3@cust.jp")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = t.run(&["--as", "suzuki", "claim", &id]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = rotate(&t);
    assert_eq!(
        v["clients"]["dragged"].as_array().unwrap().len(),
        0,
        "{v:#}"
    );
    // The history shows the client's claim, and the digest the done without a reply.
    let o = t.run(&["history", "g1@cust.jp"]);
    assert!(stdout(&o).contains("client"), "{}", stdout(&o));
    let o = t.run(&["report", "--format", "json"]);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let unreplied = r["done_without_reply"].as_array().unwrap();
    assert_eq!(unreplied.len(), 1, "{r:#}");
    assert_eq!(unreplied[0]["subject"], "ドラッグで完了");
}

/// The browser the HTML digest is checked in; required like the mail server.
fn chromium() -> std::path::PathBuf {
    for p in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("chromium is not installed: apt-get install chromium (scripts/deps does it)");
}

#[test]
fn the_html_digest_puts_double_replies_first_and_fits_a_phone_in_a_real_browser() {
    use mailduty::desk::history::Stored;
    use mailduty::desk::queue::{Item, Status};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    let text = format!(
        "imap:\n  host: 127.0.0.1\n  tls: none\n  user: x\n  password_env: X\n{MEMBERS}sla:\n  unclaimed: 1h\n{}",
        harness::ALWAYS_OPEN
    );
    let rules = mailduty::rules::parse(&path, &text, true).unwrap().rules;
    let now = chrono::Utc::now();
    let item = |n: i64, h: i64, subject: &str| Item {
        id: format!("id{n:06}"),
        message_id: Some(format!("m{n}@c.jp")),
        status: Status::Unclaimed,
        folder: "未対応".into(),
        uid: n as u32,
        arrived: now - chrono::Duration::hours(h),
        from: "very.long.customer.address.for.a.narrow.screen@example-customer.co.jp".into(),
        subject: subject.into(),
        ..Item::default()
    };
    let items = vec![
        item(
            1,
            2,
            "至急：請求書の再発行についてのお願いと、納品日の変更のご相談（長い件名）",
        ),
        item(2, 30, "<script>alert(1)</script> 見積もり"),
    ];
    let double = Stored {
        time: now,
        event: "double_reply".into(),
        actor: "suzuki".into(),
        login: None,
        id: "id000003".into(),
        message_id: Some("m3@c.jp".into()),
        subject: Some("納期について".into()),
        from_folder: None,
        to_folder: None,
        note: Some("tanaka at 2026-12-01T01:00:00Z, suzuki at 2026-12-01T01:05:00Z".into()),
        arrived: Some(now),
        size: None,
        own_id: None,
        sender: None,
        hash: None,
        notify: Vec::new(),
    };
    let duty = rules
        .roster
        .duty(&rules.calendar, rules.calendar.local_date(now));
    let report =
        mailduty::digest::build(&rules, &duty, &items, &[double], &Default::default(), now);
    let html = mailduty::digest::html(&report, &rules);
    for banned in ["<script", "<style", "<link", "src=\"http", "<img"] {
        assert!(!html.contains(banned), "{banned} in the mail:\n{html}");
    }
    let pos = |s: &str| {
        html.find(s)
            .unwrap_or_else(|| panic!("{s} missing:\n{html}"))
    };
    assert!(
        pos("二重対応 (two") < pos("期限超過の未対応") && pos("期限超過の未対応") < pos("滞留中")
    );
    assert!(html.contains("#8e0000"), "30h past a 1h SLA is dark red");
    // The check's own probe goes into a copy: the mail itself has no script.
    let probe = "<script>document.body.setAttribute('data-fits', String(document.documentElement.scrollWidth <= window.innerWidth)); document.body.setAttribute('data-text', document.body.innerText.includes('二重対応'))</script>";
    let file = dir.path().join("digest.html");
    std::fs::write(&file, html.replace("</body>", &format!("{probe}</body>"))).unwrap();
    let out = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--window-size=390,844",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-text=\"true\""),
        "not rendered: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dom.contains("data-fits=\"true\""),
        "wider than a phone at 390 px"
    );
    assert!(!dom.contains("<script>alert"), "subjects are escaped");
}
