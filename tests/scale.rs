//! Cost that does not grow with the mail, against a real Dovecot: `rotate --apply`
//! moves sets in a constant number of round trips whatever the batch size, UID lists
//! of any length stay under the line limit, and nothing is lost or doubled on the way.
//! Round trips are counted from `-v` (a run of commands sent together is one), never
//! timed.

mod harness;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use harness::{Dovecot, MEMBERS, PASSWORD, Team, USER, code, stderr, stdout};

const DUTY_BOTH: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  holidays: { japan: false }\n  weekdays: { mon: [tanaka, suzuki], tue: [tanaka, suzuki], wed: [tanaka, suzuki], thu: [tanaka, suzuki], fri: [tanaka, suzuki], sat: [tanaka, suzuki], sun: [tanaka, suzuki] }\n";

fn msg(mid: &str, n: usize) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer{n}@client.example\r\nTo: support@example.jp\r\nSubject: question {n}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// Appends many messages over one connection, pipelined with LITERAL+ (Dovecot has
/// it), each with its INTERNALDATE: much faster than one connection per message.
fn bulk_append(dc: &Dovecot, folder: &str, msgs: &[(String, Vec<u8>)]) {
    let s = TcpStream::connect(("127.0.0.1", dc.imap_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    let mut wait = |r: &mut BufReader<TcpStream>, tag: &str| loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the server closed the connection");
        if line.starts_with(&format!("{tag} ")) {
            assert!(line.starts_with(&format!("{tag} OK")), "{line}");
            return;
        }
    };
    let mut greeting = String::new();
    r.read_line(&mut greeting).unwrap();
    w.write_all(format!("l LOGIN {USER} {PASSWORD}\r\n").as_bytes())
        .unwrap();
    wait(&mut r, "l");
    let name = mailduty::imap::mutf7::encode(folder);
    for (c, chunk) in msgs.chunks(500).enumerate() {
        let mut buf = Vec::new();
        for (k, (date, m)) in chunk.iter().enumerate() {
            buf.extend_from_slice(
                format!(
                    "a{c}x{k} APPEND \"{name}\" () \"{date}\" {{{}+}}\r\n",
                    m.len()
                )
                .as_bytes(),
            );
            buf.extend_from_slice(m);
            buf.extend_from_slice(b"\r\n");
        }
        w.write_all(&buf).unwrap();
        for k in 0..chunk.len() {
            wait(&mut r, &format!("a{c}x{k}"));
        }
    }
    w.write_all(b"z LOGOUT\r\n").unwrap();
}

fn imap_date(hours_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

/// Commands and round trips in a `-v` log: a run of `C:` lines is one round trip;
/// LOGOUT is not waited for.
fn trips(err: &str) -> (usize, usize) {
    let lines: Vec<&str> = err.lines().filter(|l| !l.ends_with(" LOGOUT")).collect();
    let sent = lines.iter().filter(|l| l.starts_with("C: ")).count();
    let mut trips = 0;
    let mut prev = "";
    for l in &lines {
        if l.starts_with("C: ") && !prev.starts_with("C: ") {
            trips += 1;
        }
        prev = l;
    }
    (sent, trips)
}

fn inbox(dc: &Dovecot, tag: &str, n: usize) {
    let msgs: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (imap_date(3), msg(&format!("{tag}{i}@x"), i)))
        .collect();
    bulk_append(dc, "INBOX", &msgs);
}

fn keywords_left(dc: &Dovecot) -> usize {
    dc.all_flags()
        .iter()
        .map(|(_, f)| f.matches("$MailDuty").count())
        .sum()
}

fn events(dc: &Dovecot, kind: &str) -> usize {
    dc.doveadm(&[
        "-f",
        "tab",
        "search",
        "-u",
        USER,
        "mailbox",
        "対応履歴",
        "HEADER",
        "X-Mailduty-Event",
        kind,
    ])
    .lines()
    .count()
    .saturating_sub(1)
}

/// One `rotate --apply -v` over `n` new inbox messages: its round trips, after
/// checking that every message went where the plan says, once, with its events.
fn rotate_trips(n: usize, tag: &str, duty: bool) -> usize {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    std::fs::write(
        &team.rules,
        std::fs::read_to_string(&team.rules)
            .unwrap()
            .replace(
                "business_hours",
                if duty {
                    "assign: duty\nbusiness_hours"
                } else {
                    "assign: none\nbusiness_hours"
                },
            )
            .replace(
                "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  holidays: { japan: false }\n",
                DUTY_BOTH,
            ),
    )
    .unwrap();
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    inbox(&dc, tag, n);
    let o = team.run(&["-v", "rotate", "--apply"]);
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(5).collect::<Vec<_>>().join("\n")
    );
    let assigned = if duty { n } else { 0 };
    assert!(
        stdout(&o).contains(&format!("rotate: {n} filed, {assigned} assigned")),
        "{}",
        stdout(&o).lines().last().unwrap_or("")
    );
    assert_eq!(dc.count("INBOX"), 0);
    let (t, s) = (dc.count("対応中/tanaka"), dc.count("対応中/suzuki"));
    if duty {
        assert_eq!(dc.count("未対応"), 0);
        assert_eq!(t + s, n, "every message once");
        assert!(t.abs_diff(s) <= 1, "balanced hand-out: {t} / {s}");
    } else {
        assert_eq!((dc.count("未対応"), t + s), (n, 0), "every message once");
    }
    assert_eq!(events(&dc, "file"), n);
    assert_eq!(events(&dc, "assign"), assigned);
    assert_eq!(keywords_left(&dc), 0, "every move keyword cleared");
    let (sent, trips) = trips(&err);
    eprintln!("rotate --apply of {n}: {sent} commands, {trips} round trips");
    trips
}

#[test]
fn intake_takes_the_same_few_round_trips_for_any_batch_size() {
    let small = rotate_trips(3, "s", false);
    let large = rotate_trips(1000, "l", false);
    assert_eq!(small, large, "round trips grew with the batch");
    // LOGIN, the queue, 完了's keywords, STORE, MOVE, the events, the keywords off.
    assert!(large <= 8, "{large} round trips");
}

#[test]
fn hand_out_takes_the_same_round_trips_for_any_batch_size() {
    let small = rotate_trips(3, "s", true);
    let large = rotate_trips(600, "l", true);
    assert_eq!(small, large, "round trips grew with the batch");
    // Intake, the queue again, then four round trips per member on duty.
    assert!(large <= 18, "{large} round trips");
}
