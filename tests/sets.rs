//! Set moves (`rotate --apply` intake) when the server's answers are unreadable or the
//! folder changes under them: what moved is told apart from what did not, and no
//! event names a move this run did not make.

mod harness;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use harness::relay::{Edit, Rewrite, hold_at};
use harness::seed::hours_ago;
use harness::{Dovecot, MEMBERS, Server, Team, USER, code, stderr, stdout};
use serde_json::Value;

fn msg(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer@example.com\r\nTo: support@example.jp\r\nSubject: {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody of {mid}\r\n"
    )
    .into_bytes()
}

fn init(dc: &Dovecot) {
    let o = Team::plain(dc.imap_port(), MEMBERS).run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
}

fn apply(team: &Team) -> Value {
    let o = team.run(&["rotate", "--apply", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

/// The Message-IDs of the moves `rotate` wrote events for (a move in a mail client
/// has its own event).
fn events_about(dc: &Dovecot) -> Vec<String> {
    let o = Team::plain(dc.imap_port(), MEMBERS).run(&[
        "history",
        "--since",
        "2000-01-01",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "rotate")
        .filter_map(|e| e["message_id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn an_unreadable_modified_code_refuses_only_the_changed_message() {
    let dc = Dovecot::start();
    init(&dc);
    for mid in ["a@x", "b@x", "c@x"] {
        dc.append("INBOX", "", &hours_ago(1), &msg(mid));
    }
    // Dovecot gives MODSEQs once a client asks for them (all the same at first);
    // then the change below gives the flagged message the highest.
    let o = Team::plain(dc.imap_port(), MEMBERS).run(&["list"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    dc.doveadm(&[
        "flags",
        "add",
        "-u",
        USER,
        "\\Flagged",
        "mailbox",
        "INBOX",
        "HEADER",
        "Message-ID",
        "<c@x>",
    ]);
    // The conditional STORE asks one MODSEQ too low, so the server refuses the
    // changed message with [MODIFIED], which then comes back unreadable.
    let up: Edit = Arc::new(|l: &str| {
        let Some(at) = l.find("(UNCHANGEDSINCE ") else {
            return l.to_string();
        };
        let rest = &l[at + 16..];
        let end = rest.find(')').unwrap();
        let n: u64 = rest[..end].parse().unwrap();
        format!("{}(UNCHANGEDSINCE {}{}", &l[..at], n - 1, &rest[end..])
    });
    let down: Edit = Arc::new(|l: &str| l.replace("[MODIFIED ", "[MODIFIED ?"));
    let relay = Rewrite::start(dc.imap_port(), up, down);
    let team = Team::plain(relay.port, MEMBERS);
    let v = apply(&team);
    assert_eq!(v["moved"].as_array().unwrap().len(), 2, "{v}");
    for mid in ["a@x", "b@x"] {
        let places = dc.locate(mid);
        assert_eq!(places.len(), 1, "{places:?}");
        assert_eq!(places[0].0, "未対応", "{mid}: {places:?}");
        assert!(!places[0].2.contains("$MailDuty"), "{mid}: {places:?}");
    }
    let c = dc.locate("c@x");
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0].0, "INBOX", "{c:?}");
    assert!(!c[0].2.contains("$MailDuty"), "{c:?}");
}

#[test]
fn a_move_with_unreadable_copyuid_writes_no_event_for_a_message_gone_before() {
    let dc = Dovecot::start();
    init(&dc);
    for mid in ["a@x", "b@x", "c@x"] {
        dc.append("INBOX", "", &hours_ago(1), &msg(mid));
    }
    // At the set's UID MOVE the test moves c@x (UID 3) away, a member's mail client
    // say, and the server moves the rest without a word about it, as a server that
    // skips UIDs no longer there does (Dovecot refuses the whole MOVE, so the relay
    // drops the UID); the COPYUID comes back unreadable.
    let (at_move, moving) = mpsc::channel::<()>();
    let (moved, go_on) = mpsc::channel::<()>();
    let (at_move, go_on) = (Mutex::new(at_move), Mutex::new(go_on));
    let once = std::sync::atomic::AtomicBool::new(false);
    let up: Edit = Arc::new(move |l: &str| {
        if l.contains(" UID MOVE ") && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            at_move.lock().unwrap().send(()).unwrap();
            go_on
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60))
                .unwrap();
            return l.replace(" UID MOVE 1:3 ", " UID MOVE 1:2 ");
        }
        l.to_string()
    });
    let down: Edit = Arc::new(|l: &str| l.replace("[COPYUID ", "[COPYUID 1 ?"));
    let relay = Rewrite::start(dc.imap_port(), up, down);
    let team = Team::plain(relay.port, MEMBERS);
    let child = team
        .command(&["rotate", "--apply", "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    moving.recv_timeout(Duration::from_secs(120)).unwrap();
    dc.doveadm(&[
        "move",
        "-u",
        USER,
        "対応中/suzuki",
        "mailbox",
        "INBOX",
        "HEADER",
        "Message-ID",
        "<c@x>",
    ]);
    moved.send(()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    // Which messages this run moved is unknown: none counts as moved by it.
    assert_eq!(v["moved"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["left"], 3, "{v}");
    assert!(events_about(&dc).is_empty());

    // The next run finds its keywords stale: the moves it made get their events,
    // the message someone else moved gets none, and no keyword stays.
    apply(&Team::plain(dc.imap_port(), MEMBERS));
    let mut about = events_about(&dc);
    about.sort();
    assert_eq!(about, ["a@x", "b@x"]);
    for (mid, folder) in [
        ("a@x", "未対応"),
        ("b@x", "未対応"),
        ("c@x", "対応中/suzuki"),
    ] {
        let places = dc.locate(mid);
        assert_eq!(places.len(), 1, "{mid}: {places:?}");
        assert_eq!(places[0].0, folder, "{mid}: {places:?}");
        assert!(!places[0].2.contains("$MailDuty"), "{mid}: {places:?}");
    }
}

#[test]
fn a_set_failing_part_way_records_what_moved_and_frees_the_rest() {
    let dc = Dovecot::start();
    init(&dc);
    for mid in ["a@x", "b@x", "c@x"] {
        dc.append("INBOX", "", &hours_ago(1), &msg(mid));
    }
    // Without the echo of its STORE the set is contended, so its messages move one
    // by one; the second MOVE is sent to a folder that does not exist and refused.
    let moves = std::sync::atomic::AtomicUsize::new(0);
    let up: Edit = Arc::new(move |l: &str| {
        let Some(at) = l.find(" UID MOVE ") else {
            return l.to_string();
        };
        if moves.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 1 {
            return l.to_string();
        }
        let uid_end = at + 10 + l[at + 10..].find(' ').unwrap();
        format!("{} \"nowhere\"\r\n", &l[..uid_end])
    });
    let down: Edit = Arc::new(|l: &str| {
        let echo = l.starts_with("* ")
            && l.contains(" FETCH (UID ")
            && l.contains(" MODSEQ (")
            && !l.contains("FLAGS")
            && !l.contains('{');
        if echo { String::new() } else { l.to_string() }
    });
    let relay = Rewrite::start(dc.imap_port(), up, down);
    let team = Team::plain(relay.port, MEMBERS);
    let o = team.run(&["rotate", "--apply", "--format", "json"]);
    assert_ne!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stderr(&o).contains("2 message(s) could not be moved"),
        "{}",
        stderr(&o)
    );
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let moved = v["moved"].as_array().unwrap();
    assert_eq!(moved.len(), 1, "{v}");
    assert_eq!(moved[0]["message_id"], "a@x", "{v}");
    // The move made has its event and no keyword left; the others are free at once.
    assert_eq!(events_about(&dc), ["a@x"]);
    for (mid, folder) in [("a@x", "未対応"), ("b@x", "INBOX"), ("c@x", "INBOX")] {
        let places = dc.locate(mid);
        assert_eq!(places.len(), 1, "{mid}: {places:?}");
        assert_eq!(places[0].0, folder, "{mid}: {places:?}");
        assert!(!places[0].2.contains("$MailDuty"), "{mid}: {places:?}");
    }
}

const MEMBERS3: &str = "members:\n  tanaka: { name: 田中 太郎, login: tanaka }\n  suzuki: { name: 鈴木 花子, login: hsuzuki }\n  sato: { name: 佐藤 一郎, login: sato }\n";

#[test]
fn a_lost_claim_names_only_the_member_holding_that_very_message() {
    let dc = Dovecot::start();
    let o = Team::plain(dc.imap_port(), MEMBERS3).run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
    let date = hours_ago(1);
    // No Message-ID: only its size narrows the search for it.
    let real = b"From: web-form@example.com\r\nTo: support@example.jp\r\nSubject: inquiry\r\n\r\nplease call me back about order 1234\r\n";
    let alike = b"From: web-form@example.com\r\nTo: support@example.jp\r\nSubject: inquiry\r\n\r\nplease call me about order 99\r\n";
    dc.append("未対応", "", &date, real);
    let o = Team::plain(dc.imap_port(), MEMBERS3).run(&["list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let id = v.as_array().unwrap()[0]["id"].as_str().unwrap().to_string();

    // When sato's claim looks at the message, tanaka has just taken it, and other
    // web-form mails of about its size have just come into the other members' folders.
    let (up, held) = hold_at(|l: &str| l.contains("(UID MODSEQ FLAGS)"));
    let relay = Rewrite::start(dc.imap_port(), up, Arc::new(|l: &str| l.to_string()));
    let team = Team::plain(relay.port, MEMBERS3);
    let child = team.spawn(&["--as", "sato", "claim", &id]);
    held.reached();
    dc.doveadm(&[
        "move",
        "-u",
        USER,
        "対応中/tanaka",
        "mailbox",
        "未対応",
        "ALL",
    ]);
    dc.append("対応中/sato", "", &date, alike);
    dc.append("対応中/suzuki", "", &date, alike);
    held.release();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("already claimed by") && err.contains("田中"),
        "{err}"
    );
    assert!(!err.contains("鈴木") && !err.contains("佐藤"), "{err}");
}
