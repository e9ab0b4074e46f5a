//! Servers that are hostile, broken or merely unusual: a fake server sending sizes and
//! lines no real one would, TLS certificates that are expired or for another host,
//! and the crash protection of the process itself.

mod harness;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Output, Stdio};

use harness::{MEMBERS, Team, code, stderr};

/// A fake IMAP server on loopback: sends `greeting`, then answers every command with
/// `payload` and a tagged line built by `tagged` from the command's tag.
struct Fake {
    port: u16,
}

impl Fake {
    fn start(greeting: Vec<u8>, payload: Vec<u8>, tagged: fn(&str) -> Vec<u8>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let (g, p) = (greeting.clone(), payload.clone());
                std::thread::spawn(move || serve(client, &g, &p, tagged));
            }
        });
        Fake { port }
    }
}

fn serve(mut client: TcpStream, greeting: &[u8], payload: &[u8], tagged: fn(&str) -> Vec<u8>) {
    if client.write_all(greeting).is_err() {
        return;
    }
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let tag = line.split_whitespace().next().unwrap_or("*").to_string();
        if line.to_ascii_uppercase().contains(" LOGOUT") {
            let _ = client.write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes());
            return;
        }
        // An APPEND's literal: go ahead, then its bytes arrive as lines.
        if line.trim_end().ends_with('}') {
            let _ = client.write_all(b"+ go ahead\r\n");
        }
        if client.write_all(payload).is_err() || client.write_all(&tagged(&tag)).is_err() {
            return;
        }
    }
}

fn ok_tagged(tag: &str) -> Vec<u8> {
    format!("{tag} OK done\r\n").into_bytes()
}

/// What a run against a broken server may end with: a documented exit code, never a
/// panic or a signal.
fn assert_clean_failure(o: &Output, what: &str) {
    let err = stderr(o);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: panic: {err}"
    );
    let c = o.status.code();
    assert!(
        matches!(c, Some(0..=4)),
        "{what}: exit {c:?} (signal?): {err}"
    );
}

#[test]
fn huge_literal_lengths_in_a_greeting_are_refused_clearly() {
    for digits in [
        "99999999999999",
        "18446744073709551615",
        "99999999999999999999999999999",
    ] {
        let fake = Fake::start(
            format!("* OK {{{digits}}}\r\n").into_bytes(),
            Vec::new(),
            ok_tagged,
        );
        let team = Team::plain(fake.port, MEMBERS);
        let o = team.run(&["list"]);
        assert_eq!(code(&o), 1, "{digits}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("literal") && err.contains("limit") && err.contains(&digits[..14]),
            "{digits}: {err}"
        );
        assert!(err.lines().count() <= 2, "{err}");
    }
}

#[test]
fn an_endless_line_from_the_server_is_cut_off() {
    // 65 MiB without a line end, then the connection stays open: mailduty must stop
    // reading at its cap rather than wait or grow without bound.
    let mut greeting = b"* OK ".to_vec();
    greeting.resize(65 << 20, b'x');
    let fake = Fake::start(greeting, Vec::new(), ok_tagged);
    let team = Team::plain(fake.port, MEMBERS);
    let o = team.run(&["list"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("line longer than 64 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_connection_closed_inside_a_literal_is_an_error() {
    // Unlike `Fake`, this server closes the socket right after its greeting.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut c, _)) = listener.accept() {
            let _ = c.write_all(b"* OK {50}\r\nshort");
        }
    });
    let team = Team::plain(port, MEMBERS);
    let o = team.run(&["list"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("in the middle of a literal"),
        "{}",
        stderr(&o)
    );
}

/// Untagged answers no honest server sends, given to every command after a normal
/// greeting: numbers past every integer type, broken parentheses and brackets,
/// malformed modified UTF-7, invalid UTF-8, NUL and control bytes.
fn hostile_payloads() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = [
        "* CAPABILITY IMAP4rev1 MOVE UIDPLUS CONDSTORE QUOTA LITERAL+ STATUS=SIZE\r\n",
        "* NAMESPACE ((\"INBOX.\" \"\")) NIL NIL\r\n",
        "* NAMESPACE ((\"\r\n",
        "* NAMESPACE ((\"\" \"\\\\\")) NIL NIL\r\n",
        "* LIST (\\HasNoChildren) \".\" \"&ZZZ-\"\r\n",
        "* LIST (\\HasNoChildren) \"/\" \"&W,5f3E4t-/&-&\"\r\n",
        "* LIST () NIL {3}\r\nabc\r\n",
        "* LIST (\\HasNoChildren \"/\" \"\r\n",
        "* 4294967296 EXISTS\r\n",
        // Fits a u32: a count taken as an allocation size would abort the process.
        "* 4294967295 EXISTS\r\n",
        "* 1 FETCH (UID 4294967296 FLAGS (\\Seen) RFC822.SIZE 99999999999999999999)\r\n",
        "* 1 FETCH (UID 1 FLAGS (\\Seen) INTERNALDATE \"99-Xyz-99999 99:99:99 +9999\" RFC822.SIZE 5 BODY[HEADER.FIELDS (MESSAGE-ID)] {5}\r\nhello)\r\n",
        "* 1 FETCH (UID 1 RFC822.SIZE 4294967295 BODY[] {3}\r\nabc)\r\n",
        "* 1 FETCH (UID 1 BODY[] {18446744073709551615}\r\n",
        "* 1 FETCH (UID 0 MODSEQ (18446744073709551616) FLAGS ())\r\n",
        "* 1 FETCH (UID 7 FLAGS (\r\n",
        "* SEARCH 1 2 99999999999 -1 x\r\n",
        "* ESEARCH (TAG \"m1\") UID ALL 1:4294967295\r\n",
        "* OK [COPYUID 1 1:4294967295 1]\r\n",
        "* OK [COPYUID 1 5 99999999999]\r\n",
        "* OK [HIGHESTMODSEQ 99999999999999999999999]\r\n",
        "* OK [PERMANENTFLAGS (\\*\r\n",
        "* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE 18446744073709551615 0)\r\n",
        "* QUOTA \"\" (STORAGE 5 18446744073709551615)\r\n",
        "* STATUS \"INBOX\" (SIZE 18446744073709551615 MESSAGES -3)\r\n",
        "* 1 EXPUNGE\r\n* 0 EXPUNGE\r\n",
        "+ unexpected\r\n",
        "* OK \u{1b}[2J\u{1b}]8;;http://x/\u{7}\r\n",
        "\r\n",
        "*\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    v.push(b"* OK \xff\xfe\x00\x80 bytes\r\n".to_vec());
    v.push(b"* 1 FETCH (UID 1 BODY[] {4}\r\n\xff\xfe\x00\x01)\r\n".to_vec());
    v
}

fn odd_tagged(tag: &str) -> Vec<u8> {
    format!("{tag} OK [COPYUID 9 1 2] [ unclosed\r\n").into_bytes()
}

#[test]
fn no_answer_from_a_server_makes_mailduty_panic() {
    let commands: [&[&str]; 4] = [
        &["list"],
        &["init"],
        &["rotate", "--apply"],
        &["--as", "tanaka", "claim", "abc"],
    ];
    let mut runs = 0;
    for payload in hostile_payloads() {
        for tagged in [ok_tagged as fn(&str) -> Vec<u8>, odd_tagged] {
            let fake = Fake::start(b"* OK ready\r\n".to_vec(), payload.clone(), tagged);
            let team = Team::plain(fake.port, MEMBERS);
            // The commands at once: each run waits on its own fake connection.
            let children: Vec<_> = commands
                .iter()
                .map(|args| {
                    team.command(args)
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for (child, args) in children.into_iter().zip(commands) {
                let o = child.wait_with_output().unwrap();
                assert_clean_failure(
                    &o,
                    &format!("{args:?} {:?}", String::from_utf8_lossy(&payload)),
                );
                runs += 1;
            }
        }
    }
    assert!(runs > 200, "{runs}");
}

/// `argv` run as an unprivileged user when the tests run as root (the owner of
/// /proc/PID tells dumpable from not only for a process that is not root's).
fn unprivileged(argv: &[&str]) -> std::process::Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut c;
    if root {
        c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.args(argv);
    } else {
        c = std::process::Command::new(argv[0]);
        c.args(&argv[1..]);
    }
    c
}

#[test]
fn the_process_cannot_dump_core() {
    // A non-dumpable process's /proc/PID/status belongs to root, whoever runs it. The
    // password command runs as mailduty's child while mailduty waits for it, after
    // startup, so it sees the running process.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let owner = d.join("owner");
    let probe = format!(
        "stat -c %u /proc/$PPID/status > {}; echo pw",
        owner.display()
    );
    let rules = d.join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "imap:\n  host: 127.0.0.1\n  port: 9\n  tls: none\n  user: u\n  password_command: \"{probe}\"\n{MEMBERS}sla:\n  unclaimed: 4h\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rules, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let bin = env!("CARGO_BIN_EXE_mailduty");
    let rules_s = rules.display().to_string();
    let o = unprivileged(&[bin, "--rules", &rules_s, "list"])
        .env("XDG_STATE_HOME", d.join("state"))
        .env("HOME", d)
        .output()
        .unwrap();
    assert_eq!(code(&o), 1, "port 9 refuses: {}", stderr(&o));
    let seen = std::fs::read_to_string(&owner).unwrap();
    assert_eq!(
        seen.trim(),
        "0",
        "/proc/PID of mailduty belongs to uid {seen}"
    );

    // The same probe under an ordinary (dumpable) process sees its runner.
    let outer = format!("sh -c '{}'", probe.replace("; echo pw", ""));
    let o = unprivileged(&["sh", "-c", &outer]).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let control = std::fs::read_to_string(&owner).unwrap();
    assert_ne!(control.trim(), "0", "the probe cannot tell: {control}");
}

#[test]
fn tls_failures_name_their_cause() {
    use harness::{BadCert, Dovecot, bad_cert};
    for (kind, expect) in [
        (BadCert::Expired, "has expired"),
        (BadCert::WrongHost, "is not for 127.0.0.1"),
    ] {
        let (_certs, ca, crt, key) = bad_cert(kind);
        let dc = Dovecot::start_with(&format!(
            "ssl_cert = <{}\nssl_key = <{}\n",
            crt.display(),
            key.display()
        ));
        let team = Team::with_imap(
            &format!(
                "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
                dc.imaps_port,
                ca.display()
            ),
            MEMBERS,
        );
        let o = team.run(&["list"]);
        assert_eq!(code(&o), 1, "{kind:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains("TLS") && err.contains(expect),
            "{kind:?}: {err}"
        );
        assert!(
            !err.contains("set imap.ca_file"),
            "{kind:?}: a CA file does not fix this: {err}"
        );
    }
    // An unknown issuer keeps the CA hint.
    let dc = Dovecot::start();
    let team = Team::with_imap(
        &format!(
            "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n",
            dc.imaps_port
        ),
        MEMBERS,
    );
    let o = team.run(&["list"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("set imap.ca_file"), "{}", stderr(&o));
}

/// Rules for a team behind `port`: suzuki on duty every day, mail handed out.
fn duty_team(port: u16) -> Team {
    Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {port}\n  tls: none\n"),
        MEMBERS,
        "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  weekdays: { mon: suzuki, tue: suzuki, wed: suzuki, thu: suzuki, fri: suzuki, sat: suzuki, sun: suzuki }\n  holidays: { japan: false }\nassign: duty\n",
    )
}

fn plain_msg(mid: &str, subject: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: a@x.jp\r\nTo: support@example.jp\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn every_feature_without_keywords(mode: harness::relay::KeywordStore) {
    use harness::relay::NoKeywords;
    use harness::seed::hours_ago;
    use harness::{Dovecot, stdout};
    // Exchange has no CONDSTORE either.
    let dc = Dovecot::start_with(
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR NAMESPACE UIDPLUS MOVE ID ENABLE IDLE QUOTA\n}\n",
    );
    let relay = NoKeywords::start(dc.imap_port, mode);
    let team = duty_team(relay.port);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{mode:?} init: {}", stderr(&o));
    let place = |mid: &str| {
        let p = dc.locate(mid);
        assert_eq!(p.len(), 1, "{mode:?} {mid}: {p:?}");
        p[0].0.clone()
    };
    dc.append("INBOX", "", &hours_ago(2), &plain_msg("in1@x.jp", "一"));
    dc.append("INBOX", "", &hours_ago(2), &plain_msg("in2@x.jp", "二"));
    dc.append("未対応", "", &hours_ago(2), &plain_msg("un3@x.jp", "三"));

    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{mode:?} rotate: {}", stderr(&o));
    assert_eq!(place("in1@x.jp"), "対応中/suzuki");
    assert_eq!(place("in2@x.jp"), "対応中/suzuki");
    assert_eq!(place("un3@x.jp"), "対応中/suzuki", "{}", stdout(&o));

    let o = team.run(&["--as", "suzuki", "release", "<un3@x.jp>"]);
    assert_eq!(code(&o), 0, "{mode:?} release: {}", stderr(&o));
    assert_eq!(place("un3@x.jp"), "未対応");
    // Given back by a person: the next rotation leaves it for a person.
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{mode:?} rotate: {}", stderr(&o));
    assert_eq!(
        place("un3@x.jp"),
        "未対応",
        "{mode:?} released mail bounced back"
    );

    let o = team.run(&["--as", "tanaka", "claim", "<un3@x.jp>"]);
    assert_eq!(code(&o), 0, "{mode:?} claim: {}", stderr(&o));
    assert_eq!(place("un3@x.jp"), "対応中/tanaka");
    let o = team.run(&["--as", "suzuki", "claim", "<un3@x.jp>"]);
    assert_eq!(code(&o), 4, "{mode:?} second claim: {}", stderr(&o));
    let o = team.run(&["--as", "suzuki", "done", "<in1@x.jp>"]);
    assert_eq!(code(&o), 0, "{mode:?} done: {}", stderr(&o));
    assert_eq!(place("in1@x.jp"), "完了");

    let o = team.run(&["report"]);
    assert_eq!(code(&o), 0, "{mode:?} report: {}", stderr(&o));
    let o = team.run(&["history", "<un3@x.jp>"]);
    assert_eq!(code(&o), 0, "{mode:?} history: {}", stderr(&o));
    let h = stdout(&o);
    assert!(
        h.contains("assign") && h.contains("release") && h.contains("claim"),
        "{mode:?}: {h}"
    );
    // 3 assigned (two of them straight from the inbox), release, claim, done.
    assert_eq!(team.events().len(), 6, "{mode:?}");
    // The relay let no keyword reach the server: nothing above relied on one.
    let flags = dc.all_flags();
    assert!(
        flags.iter().all(|(_, f)| !f.contains('$')),
        "{mode:?}: {flags:?}"
    );
}

#[test]
fn a_server_that_ignores_keywords_loses_no_feature() {
    every_feature_without_keywords(harness::relay::KeywordStore::Ignored);
}

#[test]
fn a_server_that_refuses_keywords_loses_no_feature() {
    every_feature_without_keywords(harness::relay::KeywordStore::Refused);
}
