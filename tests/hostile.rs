//! Hostile mail and hostile rules files: what a sender or a careless edit can put in
//! front of mailduty, against a real Dovecot and the real binary.

mod harness;

use harness::seed::hours_ago;
use harness::{Dovecot, MEMBERS, Team, code, stderr, stdout};

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "{}\n{}", stdout(o), stderr(o));
    stdout(o)
}

fn mail(mid: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: {from}\r\nTo: support@example.jp\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A Message-ID far longer than Dovecot takes as a SEARCH argument.
fn huge_mid() -> String {
    format!("{}@huge.example.jp", "x".repeat(70_000))
}

#[test]
fn a_huge_message_id_blocks_nothing() {
    let dc = Dovecot::start();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let team = Team::with_tail(
        &imap,
        MEMBERS,
        "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  weekdays: { mon: tanaka, tue: tanaka, wed: tanaka, thu: tanaka, fri: tanaka, sat: tanaka, sun: tanaka }\n  holidays: { japan: false }\nassign: duty\n",
    );
    ok(&team.run(&["init"]));
    let huge = huge_mid();
    dc.append(
        "INBOX",
        "",
        &hours_ago(3),
        &mail(&huge, "a@x.jp", "huge id", "1"),
    );
    dc.append(
        "INBOX",
        "",
        &hours_ago(2),
        &mail("behind@x.jp", "b@x.jp", "behind", "2"),
    );

    // rotate --apply files and hands out both: the odd one does not stop the rest.
    let out = ok(&team.run(&["rotate", "--apply"]));
    assert!(out.contains("rotate: 2 filed, 2 assigned"), "{out}");
    assert_eq!(dc.count("対応中/tanaka"), 2);
    assert_eq!(dc.count("INBOX"), 0);

    // The report reads the queue and the history in spite of it.
    let rep = ok(&team.run(&["report"]));
    assert!(rep.contains("対応中 2"), "{rep}");

    // A move that happened is reported as done, and its event is written.
    let ids = ok(&team.run(&["list", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&ids).unwrap();
    let id = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "huge id")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let done = ok(&team.run(&["--as", "tanaka", "done", &id]));
    assert!(done.starts_with("done "), "{done}");
    assert_eq!(dc.count("完了"), 1);
    let hist = ok(&team.run(&["history", &id, "--all"]));
    assert!(hist.contains("done"), "{hist}");
    assert!(hist.contains("assign"), "{hist}");

    // A claim from 未対応 (the arbitrated path, which looks for copies afterwards).
    let other = format!("{}@other.example.jp", "x".repeat(70_000));
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &mail(&other, "c@x.jp", "huge too", "3"),
    );
    let claimed = ok(&team.run(&["--as", "suzuki", "claim", &format!("<{other}>")]));
    assert!(claimed.starts_with("claimed "), "{claimed}");
    assert_eq!(dc.count("対応中/suzuki"), 1);
    let hist = ok(&team.run(&["history", &format!("<{other}>")]));
    assert!(hist.contains("claim"), "{hist}");
    // Its history is its own, not that of the other ID with the same start.
    assert!(!hist.contains("done"), "{hist}");
}
