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
    let smtp = harness::smtp::Smtp::start(None, None);
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let team = Team::with_tail(
        &imap,
        MEMBERS,
        &format!(
            "business_hours: {{ start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }}\nroster:\n  weekdays: {{ mon: tanaka, tue: tanaka, wed: tanaka, thu: tanaka, fri: tanaka, sat: tanaka, sun: tanaka }}\n  holidays: {{ japan: false }}\nassign: duty\ndigest:\n  to: [duty]\n  from: mailduty <noreply@example.jp>\n  send_when_empty: true\n  smtp: {{ host: 127.0.0.1, port: {}, tls: none }}\n",
            smtp.port
        ),
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

    // rotate --apply hands out both: the odd one does not stop the rest.
    let out = ok(&team.run(&["rotate", "--apply"]));
    assert!(out.contains("rotate: 0 filed, 2 assigned"), "{out}");
    assert_eq!(dc.count("対応中/tanaka"), 2);
    assert_eq!(dc.count("INBOX"), 0);

    // The report reads the queue and the history in spite of it.
    let rep = ok(&team.run(&["report"]));
    assert!(rep.contains("対応中 2"), "{rep}");
    let sent = ok(&team.run(&["report", "--send"]));
    assert!(sent.starts_with("sent the digest"), "{sent}");
    assert_eq!(smtp.received().len(), 1);

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

/// A port where a connection would be seen: nothing may arrive there.
struct Watch(std::net::TcpListener);

impl Watch {
    fn new() -> Watch {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        Watch(l)
    }
    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
    fn untouched(&self) -> bool {
        matches!(self.0.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }
}

fn rules_with_password(port: u16, source: &str, tail: &str) -> Team {
    let team = Team::plain(port, MEMBERS);
    let text = std::fs::read_to_string(&team.rules).unwrap().replace(
        "  password_env: MAILDUTY_TEST_PW\n",
        &format!("  {source}\n"),
    );
    std::fs::write(&team.rules, format!("{text}{tail}")).unwrap();
    team
}

#[test]
fn a_bad_password_source_stops_before_connecting() {
    for (source, env, want) in [
        (
            "password_command: \"true\"",
            None,
            "imap.password_command gave an empty password",
        ),
        (
            "password_command: \"printf ''\"",
            None,
            "imap.password_command gave an empty password",
        ),
        (
            "password_env: EMPTY_PW",
            Some(("EMPTY_PW", "")),
            "imap.password_env gave an empty password",
        ),
        (
            "password_command: \"printf '\\\\377\\\\376pw'\"",
            None,
            "imap.password_command printed something that is not UTF-8",
        ),
        (
            "password_command: \"exit 3\"",
            None,
            "imap.password_command failed",
        ),
    ] {
        let w = Watch::new();
        let team = rules_with_password(w.port(), source, "");
        let mut c = team.command(&["list"]);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert_eq!(code(&o), 2, "{source}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{source}: {}", stderr(&o));
        assert!(w.untouched(), "{source}: connected anyway");
    }
}

#[test]
fn a_hung_password_command_times_out() {
    let w = Watch::new();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let team = rules_with_password(
        w.port(),
        &format!(
            "password_command: \"sh -c 'echo $$ > {}; exec sleep 600'\"",
            pidfile.display()
        ),
        "",
    );
    let o = team.run(&["list"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("imap.password_command did not finish within 30 s"),
        "{}",
        stderr(&o)
    );
    assert!(w.untouched());
    // What it started is ended with it.
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    // Gone, or killed and waiting for its new parent to reap it.
    let state = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .next();
    assert!(
        matches!(state, None | Some("Z" | "X")),
        "the hung command {} is still running: {stat}",
        pid.trim()
    );
}

#[test]
fn tls_and_smtp_settings_are_checked_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("ca.crt");
    std::fs::write(&not_pem, "this is not a certificate\n").unwrap();
    let w = Watch::new();
    let team = Team::with_imap(
        &format!(
            "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
            w.port(),
            not_pem.display()
        ),
        MEMBERS,
    );
    for args in [&["check"][..], &["list"]] {
        let o = team.run(args);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("imap.ca_file"), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("is not a PEM certificate"),
            "{}",
            stderr(&o)
        );
    }
    assert!(w.untouched());

    // An SMTP password source that gives nothing: found before the IMAP session.
    let smtp = Watch::new();
    let team = rules_with_password(
        w.port(),
        "password_env: MAILDUTY_TEST_PW",
        &format!(
            "digest:\n  from: mailduty <noreply@example.jp>\n  to: [boss@example.jp]\n  send_when_empty: true\n  smtp: {{ host: 127.0.0.1, port: {}, tls: none, user: u, password_env: UNSET_SMTP_PW }}\n",
            smtp.port()
        ),
    );
    let o = team
        .command(&["report", "--send"])
        .env_remove("UNSET_SMTP_PW")
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "digest.smtp.password_env: the environment variable UNSET_SMTP_PW is not set"
        ),
        "{}",
        stderr(&o)
    );
    assert!(w.untouched() && smtp.untouched());
}

#[test]
fn rules_files_that_are_not_rules_are_refused_quickly() {
    let team = Team::plain(1, MEMBERS);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailduty"))
        .args(["--rules", "/dev/zero", "check"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("larger than 1024 KiB"),
        "{}",
        stderr(&o)
    );

    let text = std::fs::read_to_string(&team.rules).unwrap();
    std::fs::write(&team.rules, format!("{text}x: {}\n", "[".repeat(100_000))).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("nested more than 64 deep"),
        "{}",
        stderr(&o)
    );

    // Windows editors' byte order mark, and the wrong kind of roster value.
    std::fs::write(&team.rules, format!("\u{feff}{text}")).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    std::fs::write(&team.rules, format!("{text}  weekdays: {{ mon: 5 }}\n")).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("expected a member key or a list of member keys"),
        "{}",
        stderr(&o)
    );
}

/// What a sender can hide in a Subject, a name or a body: colour and screen
/// clearing, an OSC 8 link, a bell, CSI as a C1 control, a bare CR that overwrites
/// the line, and CR LF followed by a fake header.
const EVIL: &str = "Hi\r\nX-Fake-Header: yes\x1b[31mred\x07\u{9b}2J\rover\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\\u{202e}txt";

fn b64(s: &str) -> String {
    use base64::Engine;
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(s)
    )
}

/// No character a terminal acts on (but line breaks), and no line that the hostile
/// text started.
fn assert_clean(what: &str, s: &str) {
    for c in s.chars() {
        let bad = (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        assert!(!bad, "{what}: raw {:?} in {s:?}", c);
    }
    assert!(
        !s.lines()
            .any(|l| l.trim_start().starts_with("X-Fake-Header")),
        "{what}: a fake header line in {s}"
    );
}

#[test]
fn hostile_text_is_shown_not_obeyed() {
    let dc = Dovecot::start();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let team = Team::with_tail(
        &imap,
        MEMBERS,
        "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  weekdays: { mon: tanaka, tue: tanaka, wed: tanaka, thu: tanaka, fri: tanaka, sat: tanaka, sun: tanaka }\n  holidays: { japan: false }\nassign: duty\n",
    );
    ok(&team.run(&["init"]));
    let msg = format!(
        "Message-ID: <evil@x.jp>\r\nFrom: {} <evil@x.jp>\r\nTo: support@example.jp\r\nSubject: {}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst line\r\n\tindented\r\nbare\rCR \x1b[2J\u{9b}31m {}\r\n",
        b64(EVIL),
        b64(EVIL),
        "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\",
    );
    dc.append("INBOX", "", &hours_ago(3), msg.as_bytes());
    // Two copies of one Message-ID in 未対応, for the ambiguous-ID error.
    for body in ["twice 1", "twice 2"] {
        dc.append(
            "未対応",
            "",
            &hours_ago(2),
            &mail("twice@x.jp", "t@x.jp", &b64(EVIL), body),
        );
    }
    // A forged event from yesterday, for the report's "done yesterday".
    let yesterday = chrono::Utc::now() - chrono::Duration::days(1);
    let ev = format!(
        "From: x <x@x.jp>\r\nMessage-ID: <forged@x.jp>\r\nSubject: forged\r\nX-Mailduty-Event: done\r\nX-Mailduty-Actor: {}\r\nX-Mailduty-Id: id\x1b[5m\r\nX-Mailduty-Time: {}\r\nX-Mailduty-Subject: {}\r\n\r\nforged\r\n",
        b64("act\x1b[31mor\r\nX-Fake-Header: 1"),
        yesterday.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        b64(EVIL),
    );
    dc.append(
        "対応履歴",
        "",
        &yesterday.format("%d-%b-%Y %H:%M:%S +0000").to_string(),
        ev.as_bytes(),
    );

    let mut seen = Vec::new();
    let mut run = |what: &str, args: &[&str]| -> std::process::Output {
        let o = team.run(args);
        assert_clean(what, &stdout(&o));
        assert_clean(what, &stderr(&o));
        seen.push((what.to_string(), o.clone()));
        o
    };
    let out = stdout(&run("rotate --apply", &["rotate", "--apply"]));
    assert!(out.contains("rotate: 0 filed, 3 assigned"), "{out}");
    // The escapes are visible, not dropped: the reader sees that something was there.
    assert!(
        out.contains("Hi\\r\\nX-Fake-Header: yes\\x1b[31mred\\x07\\u{9b}2J\\rover"),
        "{out}"
    );

    let shown = stdout(&run("show", &["show", "<evil@x.jp>"]));
    assert!(
        shown.contains("Subject:    Hi\\r\\nX-Fake-Header"),
        "{shown}"
    );
    assert!(
        shown.contains("From:       Hi\\r\\nX-Fake-Header"),
        "{shown}"
    );
    // The body keeps its lines and tabs.
    assert!(
        shown.contains("first line\n\tindented\nbare\\rCR \\x1b[2J\\u{9b}31m"),
        "{shown}"
    );

    let json = stdout(&run(
        "show json",
        &["show", "<evil@x.jp>", "--format", "json"],
    ));
    assert!(
        json.contains("\\u009b2J") && json.contains("\\u202etxt"),
        "{json}"
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["subject"], EVIL, "JSON keeps the text itself");

    let o = run("list", &["list"]);
    assert_eq!(code(&o), 0);
    let o = run("list tsv", &["list", "--format", "tsv"]);
    assert_eq!(stdout(&o).lines().count(), 4, "{}", stdout(&o));
    let o = run("list json", &["list", "--format", "json"]);
    assert_eq!(code(&o), 0);

    let o = run("ambiguous", &["--as", "suzuki", "claim", "<twice@x.jp>"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("messages with one Message-ID"),
        "{}",
        stderr(&o)
    );

    let o = run("release", &["--as", "tanaka", "release", "<evil@x.jp>"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run("claim", &["--as", "suzuki", "claim", "<evil@x.jp>"]);
    assert!(stdout(&o).starts_with("claimed "), "{}", stdout(&o));
    let o = run(
        "note",
        &[
            "--as",
            "suzuki",
            "note",
            "<evil@x.jp>",
            "call\x1b[8m back\r\nX-Fake-Header: n",
        ],
    );
    assert!(stdout(&o).starts_with("noted "), "{}", stdout(&o));
    let hist = stdout(&run("history", &["history", "<evil@x.jp>"]));
    assert!(hist.contains("call\\x1b[8m back"), "{hist}");
    let since = (chrono::Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let o = run("history since", &["history", "--since", &since]);
    assert!(stdout(&o).contains("id\\x1b[5m"), "{}", stdout(&o));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run("done", &["--as", "suzuki", "done", "<evil@x.jp>"]);
    assert!(stdout(&o).starts_with("done "), "{}", stdout(&o));

    // Shell completion shows subjects beside the IDs.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailduty"))
        .env("COMPLETE", "fish")
        .env("MAILDUTY_TEST_PW", harness::PASSWORD)
        .env_remove("MAILDUTY_RULES")
        .args([
            "--",
            "mailduty",
            "--rules",
            team.rules.to_str().unwrap(),
            "show",
            "",
        ])
        .output()
        .unwrap();
    let words = stdout(&o).replace('\t', " ");
    assert!(words.contains("X-Fake-Header"), "{words}");
    assert_clean("completion", &words);

    let rep = stdout(&run("report", &["report"]));
    assert!(rep.contains("昨日の完了 (done yesterday): 1"), "{rep}");
    assert!(rep.contains("id\\x1b[5m"), "{rep}");
    let o = run("report json", &["report", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(seen.len() > 10);
}
