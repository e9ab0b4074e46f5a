//! Set moves (`rotate --apply` intake) when the server's answers are unreadable or the
//! folder changes under them: what moved is told apart from what did not, and no
//! event names a move this run did not make.

mod harness;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use harness::relay::{Edit, Rewrite};
use harness::seed::hours_ago;
use harness::{Dovecot, MEMBERS, Server, Team, USER, code, stderr, stdout};
use serde_json::Value;

fn msg(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer@example.com\r\nTo: support@example.jp\r\nSubject: {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody of {mid}\r\n"
    )
    .into_bytes()
}

fn same() -> Edit {
    Arc::new(|l: &str| l.to_string())
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

/// The Message-IDs the history's events are about.
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
    eprintln!("{v}");
    v.as_array()
        .unwrap()
        .iter()
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
