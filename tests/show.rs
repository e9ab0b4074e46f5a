//! `show`, `history` and `note` against a real Dovecot: nothing marked read, notes
//! visible in both, events readable as JSON.

mod harness;

use harness::seed::{self, hours_ago};
use harness::{Dovecot, MEMBERS, Team, code, stderr, stdout};
use serde_json::Value;

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "{}", stderr(o));
    stdout(o)
}

/// A Dovecot over TLS with the folders created and the sample mail in.
fn seeded() -> (Dovecot, Team) {
    let dc = Dovecot::start();
    let team = Team::tls(&dc, MEMBERS);
    ok(&team.run(&["init"]));
    seed::seed(&dc);
    (dc, team)
}

#[test]
fn show_history_and_notes() {
    let (dc, team) = seeded();
    let html = "Message-ID: <html-only@shop.jp>\r\nFrom: =?UTF-8?B?5bqX6IiX?= <info@shop.jp>\r\nTo: support@example.jp\r\nSubject: =?UTF-8?B?SFRNTOOBruOBv+OBruODoeODvOODqw==?=\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>ご注文<b>ありがとう</b>ございます。</p><p>2行目</p></body></html>\r\n";
    dc.append("未対応", "", &hours_ago(2), html.as_bytes());
    let flags_before = dc.all_flags();

    // HTML-only mail is shown as text, with headers and status, and stays unread.
    let shown = ok(&team.run(&["show", "<html-only@shop.jp>"]));
    assert!(shown.contains("Subject:    HTMLのみのメール"), "{shown}");
    assert!(shown.contains("From:       店舗 <info@shop.jp>"), "{shown}");
    assert!(shown.contains("ご注文ありがとうございます。"), "{shown}");
    assert!(!shown.contains("<b>"), "{shown}");
    assert!(shown.contains("Status:     unclaimed"), "{shown}");
    assert!(shown.contains("History: none"), "{shown}");
    assert_eq!(dc.all_flags(), flags_before, "show changed flags");

    ok(&team.run(&["--as", "tanaka", "claim", "<html-only@shop.jp>"]));
    let note = "お客様へ電話済み。明日、再見積もりを送付します。";
    let noted = ok(&team.run(&["--as", "tanaka", "note", "<html-only@shop.jp>", note]));
    assert!(noted.starts_with("noted "), "{noted}");
    ok(&team.run(&["--as", "suzuki", "note", "<html-only@shop.jp>", "了解です"]));

    let shown = ok(&team.run(&["show", "<html-only@shop.jp>", "--format", "json"]));
    let v: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["status"], "claimed");
    assert_eq!(v["owner"], "tanaka");
    assert_eq!(v["seen"], false);
    let events: Vec<&str> = v["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["claim", "note", "note"]);
    assert_eq!(v["history"][1]["note"], note);
    assert_eq!(v["history"][1]["actor"], "tanaka");

    let text = ok(&team.run(&["history", "<html-only@shop.jp>"]));
    assert!(text.contains(note) && text.contains("了解です"), "{text}");
    assert!(text.contains("未対応 → 対応中/tanaka"), "{text}");

    // Finished mail is still found (in 完了), with its whole history.
    ok(&team.run(&["--as", "tanaka", "done", "<html-only@shop.jp>"]));
    let v: Value = serde_json::from_str(&ok(&team.run(&[
        "history",
        "<html-only@shop.jp>",
        "--format",
        "json",
    ])))
    .unwrap();
    let evs = v.as_array().unwrap();
    assert_eq!(evs.len(), 4);
    assert_eq!(evs[3]["event"], "done");
    assert_eq!(evs[3]["to_folder"], "完了");

    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d")
        .to_string();
    let by_suzuki: Value = serde_json::from_str(&ok(&team.run(&[
        "history", "--since", &today, "--actor", "suzuki", "--format", "json",
    ])))
    .unwrap();
    assert_eq!(by_suzuki.as_array().unwrap().len(), 1, "{by_suzuki}");
    assert_eq!(by_suzuki[0]["note"], "了解です");
    let future = ok(&team.run(&["history", "--since", "2099-01-01"]));
    assert_eq!(future.trim(), "no events");

    let bad = team.run(&["history", "--since", &today, "--actor", "suzki"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("did you mean \"suzuki\"?"),
        "{}",
        stderr(&bad)
    );
    let empty = team.run(&["--as", "tanaka", "note", "<html-only@shop.jp>", "  "]);
    assert_eq!(code(&empty), 2);
    let missing = team.run(&["show", "zzzzzzzz"]);
    assert_eq!(code(&missing), 3, "{}", stderr(&missing));

    // No command above marked anything read.
    let seen: Vec<_> = dc
        .all_flags()
        .into_iter()
        .filter(|(_, f)| f.contains("\\Seen"))
        .collect();
    let seen_before = flags_before
        .iter()
        .filter(|(_, f)| f.contains("\\Seen"))
        .count();
    assert_eq!(seen.len(), seen_before, "{seen:?}");
}

/// Colour appears on a terminal and never with NO_COLOR or through a pipe. The
/// terminal is a pty from util-linux `script`.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let (_dc, team) = seeded(); // the server stops when _dc drops
    let bin = env!("CARGO_BIN_EXE_mailduty");
    let line = format!("{bin} --rules {} list", team.rules.display());
    let on_tty = |no_color: Option<&str>| {
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env("MAILDUTY_TEST_PW", harness::PASSWORD)
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c.output().expect("util-linux script");
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    };
    let coloured = on_tty(None);
    assert!(
        coloured.contains("\x1b["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_tty(Some("1"));
    assert!(
        plain.contains(" !") && !plain.contains("\x1b["),
        "{plain:?}"
    );
    let piped = team
        .command(&["list"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(!stdout(&piped).contains("\x1b["));
}

#[test]
fn dynamic_completion_offers_members_and_ids_and_verbose_hides_the_password() {
    let (dc, team) = seeded();
    let ids: Vec<String> = ok(&team.run(&["list", "--format", "ids"]))
        .lines()
        .map(str::to_string)
        .collect();
    assert!(ids.len() >= 5, "{ids:?}");
    let flags_before = dc.all_flags();

    // -v on a successful run: the conversation, and never the password.
    let o = team.run(&["-v", "list"]);
    let log = stderr(&o);
    assert_eq!(code(&o), 0, "{log}");
    assert!(
        log.contains("C: m1 LOGIN") && log.contains("UID FETCH"),
        "{log}"
    );
    assert!(log.contains("<password hidden>"), "{log}");
    assert!(!log.contains(harness::PASSWORD), "password leaked: {log}");

    let rules = team.rules.to_str().unwrap();
    let complete = |words: &[&str]| -> Vec<String> {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailduty"))
            .env("COMPLETE", "fish")
            .env("MAILDUTY_TEST_PW", harness::PASSWORD)
            .env_remove("MAILDUTY_RULES")
            .args(["--", "mailduty", "--rules", rules])
            .args(words)
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(complete(&["--as", ""]), ["suzuki", "tanaka"]);
    assert_eq!(complete(&["list", "--owner", "t"]), ["tanaka"]);
    let mut offered: Vec<String> = complete(&["claim", ""])
        .into_iter()
        .filter(|w| !w.starts_with('-'))
        .collect();
    offered.sort();
    let mut expect = ids.clone();
    expect.sort();
    assert_eq!(offered, expect);
    let first = &ids[0];
    assert!(complete(&["show", &first[..4]]).contains(first));
    assert_eq!(dc.all_flags(), flags_before, "completion changed flags");
}
