//! Cost that does not grow with the mail, against a real Dovecot: `rotate --apply`
//! moves sets in a constant number of round trips whatever the batch size, UID lists
//! of any length stay under the line limit, and nothing is lost or doubled on the way.
//! Round trips are counted from `-v` (a run of commands sent together is one), never
//! timed.

mod harness;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use harness::relay::{Rewrite, hold_at};
use harness::{Dovecot, MEMBERS, PASSWORD, Team, USER, code, imap_date, stderr, stdout, trips};

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

/// History events of one kind, and the history mails that carry them.
fn events(dc: &Dovecot, kind: &str) -> (usize, usize) {
    let mails: Vec<(String, String, String)> = dc
        .everything()
        .into_iter()
        .filter(|(folder, _, _)| harness::is_history(folder))
        .collect();
    let mut n = 0;
    let mut carrying = 0;
    for (_, _, text) in &mails {
        let head = text.split("\r\n\r\n").next().unwrap_or("");
        let of_kind = mailduty::desk::history::parse_all(head.as_bytes())
            .into_iter()
            .filter(|e| e.event == kind)
            .count();
        n += of_kind;
        carrying += usize::from(of_kind > 0);
    }
    (n, carrying)
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
    // With a duty, new mail goes from the inbox to the member in one move.
    let (assigned, filed_n) = if duty { (n, 0) } else { (0, n) };
    assert!(
        stdout(&o).contains(&format!("rotate: {filed_n} filed, {assigned} assigned")),
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
    let (filed, mails) = events(&dc, "file");
    assert_eq!(filed, filed_n);
    // A thousand moves are written as tens of history mails, not a thousand.
    assert_eq!(
        mails,
        filed_n.div_ceil(mailduty::desk::history::BATCH),
        "file events' mails"
    );
    let (given, mails) = events(&dc, "assign");
    assert_eq!(given, assigned);
    assert!(
        mails <= assigned.div_ceil(mailduty::desk::history::BATCH) + 2,
        "{mails} assign mails"
    );
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
    // LOGIN; NAMESPACE, LIST and the LIST (SPECIAL-USE) for Sent; the STATUS of
    // every folder the run reads (what lets a later run with nothing new stop there);
    // the queue (one pipelined batch), and in the same round trip 完了's and
    // 対応不要's keywords and the mail-client step's look for the last scan event
    // (fetched in the search's round trip with SEARCHRES) with the STATUS of Sent,
    // 完了 and the member folders; then intake: SELECT and STORE, MOVE, the events,
    // the keywords off (SELECT and STORE); last, the journal's events into 対応履歴
    // (SELECT and UID MOVE), only when the STATUS found some.
    assert!(large <= 8, "{large} round trips");
}

#[test]
fn hand_out_takes_the_same_round_trips_for_any_batch_size() {
    let small = rotate_trips(3, "s", true);
    let large = rotate_trips(600, "l", true);
    assert_eq!(small, large, "round trips grew with the batch");
    // As the intake above, the new mail going straight to the members on duty: one
    // SELECT of the inbox and every member's conditional STORE, their UID MOVEs, one
    // MULTIAPPEND of the events and the keywords cleared in every member folder, a
    // round trip each whatever the number of members on duty.
    assert!(large <= 8, "{large} round trips");
}

/// The cron case of issue 28: new mail beside mail handed out by earlier runs
/// (`assign: duty`). New mail goes straight from the inbox to the duty, and what
/// the earlier runs handed out is not looked up in the history again (their
/// scan marks say it was checked): the round trips are those of a first run with
/// an empty mailbox, whatever was handed out before.
#[test]
fn new_mail_beside_claimed_mail_takes_the_round_trips_of_new_mail_alone() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    std::fs::write(
        &team.rules,
        std::fs::read_to_string(&team.rules)
            .unwrap()
            .replace("business_hours", "assign: duty\nbusiness_hours")
            .replace(
                "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  holidays: { japan: false }\n",
                DUTY_BOTH,
            ),
    )
    .unwrap();
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut counts = Vec::new();
    for (run, n) in [(0, 30), (1, 30), (2, 30), (3, 10)] {
        inbox(&dc, &format!("c{run}-"), n);
        let o = team.run(&["-v", "rotate", "--apply"]);
        let err = stderr(&o);
        assert_eq!(
            code(&o),
            0,
            "{}",
            err.lines().rev().take(5).collect::<Vec<_>>().join("\n")
        );
        assert!(
            stdout(&o).contains(&format!("rotate: 0 filed, {n} assigned")),
            "{}",
            stdout(&o)
        );
        let lookups = err
            .lines()
            .filter(|l| l.starts_with("C: ") && l.contains("X-Mailduty-Target"))
            .count();
        counts.push((trips(&err).1, lookups));
    }
    eprintln!("round trips and history lookups per run: {counts:?}");
    assert_eq!(dc.count("INBOX") + dc.count("未対応"), 0);
    assert_eq!(dc.count("対応中/tanaka") + dc.count("対応中/suzuki"), 100);
    assert_eq!(keywords_left(&dc), 0, "every move keyword cleared");
    // The second run looks up what the first handed out (the first wrote no marks:
    // the member folders were empty); from then on, nothing.
    assert_eq!(counts[2].1, 0, "{counts:?}");
    assert_eq!(counts[3].1, 0, "{counts:?}");
    // 8 as for a first run (tests above; issue 28's target for 1,000 new beside
    // 3,000 claimed is 12). The scan marks' event goes up in the last MULTIAPPEND;
    // the newest scan event is read in the queue's round trip.
    assert!(counts[3].0 <= 8, "{counts:?}");
    assert_eq!(counts[2].0, counts[3].0, "{counts:?}");
}

/// Writes messages straight into a folder's Maildir and has Dovecot index them:
/// seconds for tens of thousands, where APPEND takes minutes. Each file's mtime is
/// its INTERNALDATE. Dovecot numbers them in its own order, not the files' names.
fn maildir_fill(dc: &Dovecot, folder: &str, msgs: &[(std::time::SystemTime, Vec<u8>)]) {
    let path = dc
        .doveadm(&["mailbox", "path", "-u", USER, folder])
        .trim()
        .to_string();
    let cur = std::path::Path::new(&path).join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    for (i, (at, m)) in msgs.iter().enumerate() {
        let name = cur.join(format!(
            "1700000000.M{i}P{}.scale,S={}:2,S",
            std::process::id(),
            m.len()
        ));
        std::fs::write(&name, m).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&name)
            .unwrap()
            .set_modified(*at)
            .unwrap();
    }
    let owner = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup", &path])
        .status()
        .unwrap();
    assert!(owner.success());
    dc.doveadm(&["force-resync", "-u", USER, folder]);
}

/// An event as mailduty writes it, `hours` ago, about message `n`.
fn event_mail(n: usize, hours: i64) -> (std::time::SystemTime, Vec<u8>) {
    event_of("file", n, hours)
}

fn event_of(kind: &str, n: usize, hours: i64) -> (std::time::SystemTime, Vec<u8>) {
    let at = chrono::Utc::now() - chrono::Duration::hours(hours);
    event_at(kind, n, at, &format!("ev{n}@scale"))
}

/// An event of `kind` about message `n` recorded at `at`, with its own Message-ID.
fn event_at(
    kind: &str,
    n: usize,
    at: chrono::DateTime<chrono::Utc>,
    own: &str,
) -> (std::time::SystemTime, Vec<u8>) {
    let item = mailduty::desk::queue::Item {
        id: format!("id{n:05}"),
        hash: format!("hash{n}"),
        message_id: Some(format!("m{n}@x")),
        folder: "未対応".into(),
        uid: n as u32 + 1,
        arrived: at,
        subject: format!("question {n}"),
        size: 100,
        ..Default::default()
    };
    let ev = mailduty::desk::history::Event {
        kind,
        actor: "rotate",
        item: &item,
        from_folder: "INBOX",
        to_folder: Some("未対応"),
        note: None,
        at,
        message_id: Some(own.to_string()),
    };
    let when = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(at.timestamp() as u64);
    (when, mailduty::desk::history::render(&ev))
}

/// The longest command line in a `-v` log.
fn longest_command(err: &str) -> usize {
    err.lines()
        .filter(|l| l.starts_with("C: "))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn twenty_thousand_events_in_the_window_are_read_in_short_commands() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Events in the window between events outside it: the window's UIDs are scattered,
    // a list of them far longer than a command line may be.
    let msgs: Vec<_> = (0..40_000)
        .map(|n| event_mail(n, if n % 2 == 0 { 2 } else { 24 * 40 }))
        .collect();
    maildir_fill(&dc, "対応履歴", &msgs);
    let since = (chrono::Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let o = team.run(&["-v", "history", "--since", &since, "--format", "json"]);
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
    let evs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(evs.as_array().unwrap().len(), 20_000);
    assert!(longest_command(&err) < 8_200, "{}", longest_command(&err));
    let fetches = err
        .lines()
        .filter(|l| l.starts_with("C: ") && l.contains(" UID FETCH ") && !l.contains(" 1:* "))
        .count();
    assert!(
        fetches > 1,
        "the window's UIDs did not need splitting: {fetches} FETCH"
    );
    let o = team.run(&["-v", "report", "--format", "json"]);
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
    assert!(longest_command(&err) < 8_200, "{}", longest_command(&err));
    let (_, trips) = trips(&err);
    // LOGIN alone (a server may drop what came with it), NAMESPACE and LIST, the
    // queue, the window's SEARCH, its FETCHes pipelined, quota and folder sizes.
    assert!(trips <= 9, "report: {trips} round trips");
}

fn ago(hours: i64) -> std::time::SystemTime {
    std::time::SystemTime::now() - Duration::from_secs(hours as u64 * 3600)
}

/// `report -v` over `n` claims made 10 to 29 days ago (outside the report's window)
/// of messages that arrived 40 days ago: its round trips, after checking that every
/// claim's age comes from its claim event.
fn report_trips(n: usize) -> usize {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let held: Vec<_> = (0..n)
        .map(|i| (ago(40 * 24), msg(&format!("m{i}@x"), i)))
        .collect();
    maildir_fill(&dc, "対応中/tanaka", &held);
    // Each claim's event, among many other events of the same days.
    let mut evs = Vec::new();
    for i in 0..n {
        let hours = 24 * (10 + (i % 20) as i64);
        evs.push(event_of("claim", i, hours));
        for k in 0..5 {
            evs.push(event_of("file", 100_000 + i * 5 + k, hours));
        }
    }
    maildir_fill(&dc, "対応履歴", &evs);
    let o = team.run(&["-v", "report", "--format", "json"]);
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let stale = json["stale"].as_array().unwrap();
    assert_eq!(stale.len(), n, "every old claim is stale");
    let day = 86_400;
    for l in stale {
        let s = l["business_seconds"].as_i64().unwrap();
        let i: usize = l["message_id"].as_str().unwrap()[1..]
            .split('@')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let want = day * (10 + (i % 20) as i64);
        assert!(
            (want - 60..want + 3600).contains(&s),
            "{l}: held {s} s, claimed {want} s ago"
        );
    }
    trips(&err).1
}

#[test]
fn report_reads_old_claims_in_one_search_whatever_their_number() {
    let few = report_trips(3);
    let many = report_trips(300);
    assert_eq!(few, many, "round trips grew with the claims");
}

/// `claim -v` of one of `n` unclaimed messages by `query` (`{mid}` is replaced with
/// the Message-ID): the log, after checking the claim went through.
fn claim_log(dc: &Dovecot, team: &Team, query: &str) -> String {
    let o = team.run(&["--as", "tanaka", "-v", "claim", query]);
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(3).collect::<Vec<_>>().join("\n")
    );
    assert!(stdout(&o).starts_with("claimed"), "{}", stdout(&o));
    let _ = dc;
    err
}

fn fetched_messages(err: &str) -> usize {
    err.lines()
        .filter(|l| l.starts_with("S: * ") && l.contains(" FETCH ("))
        .count()
}

#[test]
fn claim_reads_what_resolving_the_id_needs_not_the_whole_queue() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let queue: Vec<_> = (0..2000)
        .map(|i| (ago(3), msg(&format!("q{i}@x"), i)))
        .collect();
    maildir_fill(&dc, "未対応", &queue);
    // By Message-ID: the server finds it; only that message is fetched.
    let err = claim_log(&dc, &team, "<q7@x>");
    // The message itself, its state before the STORE, the STORE's echo: not 2,000.
    assert!(
        fetched_messages(&err) <= 5,
        "{} messages fetched",
        fetched_messages(&err)
    );
    assert_eq!(dc.locate("q7@x")[0].0, "対応中/tanaka");
    assert_eq!(events(&dc, "claim").0, 1);
    // By short ID: the queue's Message-IDs only, then the one message.
    let o = team.run(&["list", "--status", "unclaimed", "--format", "ids"]);
    let ids: Vec<String> = stdout(&o).split_whitespace().map(str::to_string).collect();
    assert_eq!(ids.len(), 1999);
    let err = claim_log(&dc, &team, &ids[100]);
    let whole_queue: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("C: ") && l.contains("UID FETCH 1:*"))
        .collect();
    assert!(!whole_queue.is_empty());
    assert!(
        whole_queue
            .iter()
            .all(|l| l.contains("HEADER.FIELDS (MESSAGE-ID)")),
        "{whole_queue:?}"
    );
    assert_eq!(dc.count("対応中/tanaka"), 2);
    // The ID the claim names is the one `list` showed.
    let o = team.run(&["list", "--status", "claimed", "--format", "ids"]);
    assert!(
        stdout(&o).split_whitespace().any(|i| i == ids[100]),
        "{}",
        stdout(&o)
    );
}

#[test]
fn claims_racing_a_set_intake_lose_and_double_nothing() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let n = 120;
    inbox(&dc, "r", n);
    // Claims of messages spread over the set, started with the intake: some land
    // before its STORE (the server refuses those to the intake), some between its
    // STORE and MOVE, some after (they follow the message into 未対応).
    let claim = |k: usize| {
        team.command(&["--as", "tanaka", "claim", &format!("<r{}@x>", k * 10)])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut claims: Vec<_> = (0..6).map(claim).collect();
    let rotate = team
        .command(&["rotate", "--apply"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    claims.extend((6..12).map(claim));
    let o = rotate.wait_with_output().unwrap();
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    eprintln!("racing intake: {}", stdout(&o).lines().last().unwrap_or(""));
    let mut claimed = 0;
    for c in claims {
        let o = c.wait_with_output().unwrap();
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        claimed += usize::from(code(&o) == 0);
    }
    // The next run finishes whatever the race left.
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    for i in 0..n {
        let places = dc.locate(&format!("r{i}@x"));
        assert_eq!(places.len(), 1, "r{i}@x is in {places:?}");
    }
    assert_eq!(dc.count("INBOX"), 0);
    assert_eq!(
        dc.count("対応中/tanaka"),
        claimed,
        "every successful claim holds its message"
    );
    assert_eq!(dc.count("未対応") + claimed, n);
    assert_eq!(keywords_left(&dc), 0);
    assert_eq!(events(&dc, "claim").0, claimed);
}

fn json(o: &std::process::Output) -> serde_json::Value {
    assert_eq!(code(o), 0, "{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// A Dovecot and a team whose `rotate --apply` files and hands nothing out, set up.
fn filing_only() -> (Dovecot, Team) {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    let rules = std::fs::read_to_string(&team.rules).unwrap();
    std::fs::write(
        &team.rules,
        rules.replace("business_hours", "assign: none\nbusiness_hours"),
    )
    .unwrap();
    assert_eq!(code(&team.run(&["init"])), 0);
    (dc, team)
}

/// A set intake writes its events several to a history mail; each message still
/// finds exactly its own, by Message-ID or (without one) by its hash, and a later
/// claim adds to it.
#[test]
fn each_message_of_a_batch_finds_its_own_event() {
    let (dc, team) = filing_only();
    let mut msgs: Vec<(String, Vec<u8>)> = (0..120)
        .map(|i| (imap_date(3), msg(&format!("b{i}@x"), i)))
        .collect();
    for k in 0..2 {
        let raw = format!(
            "From: noid{k}@client.example\r\nTo: support@example.jp\r\nSubject: no id {k}\r\nDate: Fri, 20 Nov 2026 09:0{k}:00 +0900\r\n\r\nbody\r\n"
        );
        msgs.push((imap_date(3), raw.into_bytes()));
    }
    // Without a Message-ID, and of b0's size and arrival: b0's events must not
    // include its.
    let look_alike = String::from_utf8(msg("b0@x", 0))
        .unwrap()
        .replace("Message-ID: <b0@x>", "X-Nothing-: <b0@x>");
    let date = msgs[0].0.clone();
    msgs.insert(1, (date, look_alike.into_bytes()));
    bulk_append(&dc, "INBOX", &msgs);
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let (filed, mails) = events(&dc, "file");
    assert_eq!(filed, 123);
    assert!(mails < 10, "{mails} history mails for 123 events");

    let rows = json(&team.run(&["list", "--format", "json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 123);
    let picks: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| {
            let mid = r["message_id"].as_str().unwrap_or("");
            mid.is_empty() || ["b0@x", "b49@x", "b50@x", "b77@x", "b119@x"].contains(&mid)
        })
        .collect();
    assert_eq!(picks.len(), 8);
    for r in &picks {
        let id = r["id"].as_str().unwrap();
        let evs = json(&team.run(&["history", id, "--format", "json"]));
        let evs = evs.as_array().unwrap();
        assert_eq!(evs.len(), 1, "{id}: {evs:?}");
        assert_eq!(evs[0]["event"], "file");
        assert_eq!(evs[0]["id"], id);
        assert_eq!(evs[0]["subject"], r["subject"]);
        assert_eq!(evs[0]["to_folder"], "未対応");
        if let Some(mid) = r["message_id"].as_str().filter(|m| !m.is_empty()) {
            assert_eq!(evs[0]["message_id"], mid);
        }
    }
    let o = team.run(&["--as", "tanaka", "claim", "<b77@x>"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = picks
        .iter()
        .find(|r| r["message_id"] == "b77@x")
        .map(|r| r["id"].as_str().unwrap())
        .unwrap();
    let evs = json(&team.run(&["history", id, "--format", "json"]));
    let kinds: Vec<&str> = evs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["file", "claim"]);
    let since = chrono::Utc::now()
        .date_naive()
        .pred_opt()
        .unwrap()
        .to_string();
    let all = json(&team.run(&["history", "--since", &since, "--format", "json"]));
    let all = all.as_array().unwrap();
    assert_eq!(all.iter().filter(|e| e["event"] == "file").count(), 123);
    assert_eq!(all.iter().filter(|e| e["event"] == "claim").count(), 1);
    // Every event is about a different message: none was read twice.
    let mut ids: Vec<&str> = all
        .iter()
        .filter(|e| e["event"] == "file")
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 123);
}

/// The events of `history QUERY --format json`, by kind.
fn kinds(team: &Team, query: &str) -> Vec<String> {
    kinds_in(&team.run(&["history", query, "--format", "json"]), "")
}

/// The events of a `history --format json` output, by kind: those about
/// `message_id`, or all of them when it is empty.
fn kinds_in(o: &std::process::Output, message_id: &str) -> Vec<String> {
    json(o)
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| message_id.is_empty() || e["message_id"] == message_id)
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

/// A claim's cost must not follow the history's length: its event goes to the small
/// journal, and nothing it sends names 対応履歴 itself. Readers find the event there;
/// `rotate --apply` moves it in and it is still read once; a journal someone deleted
/// is made again by the next write.
#[test]
fn a_claim_writes_its_event_to_the_journal_never_to_the_long_history() {
    let (dc, team) = filing_only();
    assert!(
        dc.folders().iter().any(|f| f == harness::JOURNAL),
        "{:?}",
        dc.folders()
    );
    let old: Vec<_> = (0..3000).map(|i| event_mail(i, 48)).collect();
    maildir_fill(&dc, "対応履歴", &old);
    let queue: Vec<_> = (0..3)
        .map(|i| (ago(3), msg(&format!("j{i}@x"), i)))
        .collect();
    maildir_fill(&dc, "未対応", &queue);

    let err = claim_log(&dc, &team, "<j0@x>");
    let history = format!("\"{}\"", mailduty::imap::mutf7::encode("対応履歴"));
    let sent: Vec<&str> = err.lines().filter(|l| l.starts_with("C: ")).collect();
    assert!(
        !sent.iter().any(|l| l.contains(&history)),
        "the claim opened 対応履歴: {sent:#?}"
    );
    assert!(
        sent.iter()
            .any(|l| l.contains(" APPEND ") && l.contains(&history[..history.len() - 1])),
        "{sent:#?}"
    );
    assert_eq!(dc.count(harness::JOURNAL), 1);
    assert_eq!(dc.count("対応履歴"), 3000);
    assert_eq!(kinds(&team, "<j0@x>"), ["claim"]);
    let o = team.run(&["show", "<j0@x>", "--format", "json"]);
    assert_eq!(json(&o)["history"][0]["event"], "claim");

    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.count(harness::JOURNAL), 0, "rotate left the journal");
    let in_history = dc
        .everything()
        .into_iter()
        .filter(|(f, _, t)| f == "対応履歴" && t.contains("<j0@x>"))
        .count();
    assert_eq!(in_history, 1);
    assert_eq!(kinds(&team, "<j0@x>"), ["claim"]);

    // A journal that is not there reads as empty and is made by the next write.
    dc.doveadm(&["mailbox", "delete", "-u", USER, harness::JOURNAL]);
    assert!(!dc.folders().iter().any(|f| f == harness::JOURNAL));
    assert_eq!(kinds(&team, "<j0@x>"), ["claim"]);
    let since = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let o = team.run(&["history", "--since", &since]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    claim_log(&dc, &team, "<j1@x>");
    assert_eq!(dc.count(harness::JOURNAL), 1);
    assert_eq!(kinds(&team, "<j1@x>"), ["claim"]);
    let o = team.run(&["--as", "tanaka", "done", "<j1@x>"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(kinds(&team, "<j1@x>"), ["claim", "done"]);

    // Only the journal may be missing: a history folder that is not there is still
    // an error that says what to do, never an empty history.
    let rules = std::fs::read_to_string(&team.rules).unwrap();
    assert!(!rules.contains("folders:"), "{rules}");
    std::fs::write(
        &team.rules,
        format!("{rules}folders:\n  history: 履歴なし\n"),
    )
    .unwrap();
    let o = team.run(&["history", "--since", &since]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(stderr(&o).contains("mailduty init"), "{}", stderr(&o));
}

/// The cron moves the journal into 対応履歴 while `history` reads: after both folders
/// were searched and before the journal's FETCH. The event is then in neither
/// answer; the reader must notice the journal came back short and read again.
#[test]
fn an_event_the_cron_moves_during_a_read_is_still_read_once() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&team.run(&["init"])), 0);
    maildir_fill(&dc, "未対応", &[(ago(3), msg("r@x", 0))]);
    claim_log(&dc, &team, "<r@x>");
    assert_eq!(dc.count(harness::JOURNAL), 1);

    let journal = mailduty::imap::mutf7::encode("新着");
    let armed = std::sync::atomic::AtomicBool::new(false);
    let (up, held) = hold_at(move |l: &str| {
        use std::sync::atomic::Ordering::SeqCst;
        if l.contains(" EXAMINE ") && l.contains(&journal) {
            armed.store(true, SeqCst);
        }
        l.contains(" UID FETCH ") && armed.load(SeqCst)
    });
    let relay = Rewrite::start(dc.imap_port, up, Arc::new(|l: &str| l.to_string()));
    let reader = Team::plain(relay.port, MEMBERS);
    let child = reader.spawn(&["-v", "history", "<r@x>", "--format", "json"]);
    held.reached();
    dc.doveadm(&[
        "move",
        "-u",
        USER,
        "対応履歴",
        "mailbox",
        harness::JOURNAL,
        "ALL",
    ]);
    assert_eq!(dc.count(harness::JOURNAL), 0);
    held.release();
    let o = child.wait_with_output().unwrap();
    assert_eq!(kinds_in(&o, ""), ["claim"], "{}", stderr(&o));
    // Read again, not answered from a cache: both folders searched twice.
    let searches = stderr(&o)
        .lines()
        .filter(|l| l.starts_with("C: ") && l.contains("UID SEARCH HEADER X-Mailduty-Target"))
        .count();
    assert_eq!(searches, 4, "{}", stderr(&o));
}

/// Events of one second in both folders: the one already in 対応履歴 was written
/// before the journal's (the cron moved it in), and reads first, as the UID order
/// of one folder used to say.
#[test]
fn of_two_events_in_one_second_the_one_moved_in_reads_first() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&team.run(&["init"])), 0);
    let now = chrono::Utc::now() - chrono::Duration::hours(1);
    let at = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap();
    maildir_fill(&dc, "対応履歴", &[event_at("file", 5, at, "f5@scale")]);
    maildir_fill(
        &dc,
        harness::JOURNAL,
        &[event_at("claim", 5, at, "c5@scale")],
    );
    let since = (at - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let o = team.run(&["history", "--since", &since, "--format", "json"]);
    assert_eq!(kinds_in(&o, "m5@x"), ["file", "claim"]);
}
