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
