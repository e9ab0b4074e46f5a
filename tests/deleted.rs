//! Mail a mail client marked \Deleted (a COPY + \Deleted move not yet expunged, or
//! a deletion) is gone to the team: in no list, count, SLA or ID, never filed or
//! handed out by `rotate --apply`, and never expunged by mailduty.

mod harness;

use harness::imapc::Client;
use harness::seed::hours_ago;
use harness::{Courier, Dovecot, MEMBERS, Server, Team, code, stderr, stdout};
use serde_json::Value;

/// Tanaka on duty every day, around the clock, and unclaimed mail handed out.
const RULES: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  weekdays: { mon: [tanaka], tue: [tanaka], wed: [tanaka], thu: [tanaka], fri: [tanaka], sat: [tanaka], sun: [tanaka] }\n  holidays: { japan: false }\nassign: duty\n";

fn team(dc: &dyn Server) -> Team {
    let imap = format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
        dc.imaps_port(),
        dc.ca().display()
    );
    let team = Team::with_tail(&imap, MEMBERS, RULES);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
    team
}

fn msg(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: kyaku@example.jp\r\nTo: support@example.jp\r\nSubject: about {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

/// What a mail client without MOVE does: COPY, then \Deleted on the original (with
/// `to` None, only the \Deleted). No EXPUNGE.
fn client_move(dc: &dyn Server, mid: &str, from: &str, to: Option<&str>) {
    let mut c = Client::login(dc.imap_port());
    let f = c.server_name(from);
    c.ok(&format!("SELECT \"{f}\""));
    let uids: Vec<String> = c
        .ok(&format!("UID SEARCH HEADER Message-ID \"<{mid}>\""))
        .iter()
        .filter_map(|l| l.strip_prefix("* SEARCH"))
        .flat_map(|r| r.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect();
    assert_eq!(uids.len(), 1, "{mid} in {from}: {uids:?}");
    if let Some(to) = to {
        let t = c.server_name(to);
        c.ok(&format!("UID COPY {} \"{t}\"", uids[0]));
    }
    c.ok(&format!("UID STORE {} +FLAGS (\\Deleted)", uids[0]));
    c.cmd("LOGOUT");
}

fn client_expunge(dc: &dyn Server, folder: &str) {
    let mut c = Client::login(dc.imap_port());
    let f = c.server_name(folder);
    c.ok(&format!("SELECT \"{f}\""));
    c.ok("EXPUNGE");
    c.cmd("LOGOUT");
}

fn json(team: &Team, args: &[&str]) -> Value {
    let o = team.run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

/// (Message-ID, folder as the rules name it) of every row `list` shows.
fn listed(team: &Team, dc: &dyn Server, extra: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["list", "--format", "json"];
    args.extend_from_slice(extra);
    let mut out: Vec<(String, String)> = json(team, &args)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let folder = r["folder"].as_str().unwrap();
            let rules = ["INBOX", "未対応", "完了", "対応中/tanaka", "対応中/suzuki"]
                .into_iter()
                .find(|f| dc.path(f) == folder)
                .unwrap_or(folder);
            (
                r["message_id"].as_str().unwrap().to_string(),
                rules.to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn places(dc: &dyn Server, mid: &str) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = dc
        .locate(mid)
        .into_iter()
        .map(|(f, _, flags)| (f, flags.contains("\\Deleted")))
        .collect();
    v.sort();
    v
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = v
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn what_a_client_marked_deleted_is_gone_to_the_team() {
    what_a_client_marked_deleted_is_gone_to_the_team_on(&Dovecot::start());
}

#[test]
fn what_a_client_marked_deleted_is_gone_to_the_team_on_courier() {
    what_a_client_marked_deleted_is_gone_to_the_team_on(&Courier::start());
}

fn what_a_client_marked_deleted_is_gone_to_the_team_on(dc: &dyn Server) {
    let team = team(&dc);
    // All 30 hours old: overdue by the 4h SLA while they are live and unclaimed.
    let old = hours_ago(30);
    for (mid, folder) in [
        ("a@x.jp", "未対応"),
        ("b@x.jp", "対応中/suzuki"),
        ("c@x.jp", "INBOX"),
        ("d@x.jp", "INBOX"),
        ("e@x.jp", "未対応"),
        ("live@x.jp", "未対応"),
    ] {
        dc.append(folder, "", &old, &msg(mid));
    }
    let before_moves = listed(&team, dc, &[]);
    assert_eq!(before_moves.len(), 6, "all six are live: {before_moves:?}");

    client_move(dc, "a@x.jp", "未対応", Some("完了"));
    client_move(dc, "b@x.jp", "対応中/suzuki", Some("完了"));
    client_move(dc, "c@x.jp", "INBOX", Some("未対応"));
    client_move(dc, "d@x.jp", "INBOX", Some("対応中/suzuki"));
    client_move(dc, "e@x.jp", "未対応", None);
    let originals = |dc: &dyn Server| {
        [
            ("a@x.jp", "未対応"),
            ("b@x.jp", "対応中/suzuki"),
            ("c@x.jp", "INBOX"),
            ("d@x.jp", "INBOX"),
            ("e@x.jp", "未対応"),
        ]
        .iter()
        .flat_map(|(mid, f)| {
            dc.locate(mid)
                .into_iter()
                .filter(move |l| l.0 == *f)
                .map(move |l| (mid.to_string(), l.0, l.1, l.2))
        })
        .collect::<Vec<_>>()
    };
    let deleted_before = originals(dc);
    assert_eq!(deleted_before.len(), 5, "{deleted_before:?}");
    assert!(deleted_before.iter().all(|o| o.3.contains("\\Deleted")));

    let expected_live = pairs(&[
        ("c@x.jp", "未対応"),
        ("d@x.jp", "対応中/suzuki"),
        ("live@x.jp", "未対応"),
    ]);
    let check_views = |when: &str| {
        assert_eq!(listed(&team, dc, &[]), expected_live, "list {when}");
        let overdue = listed(&team, dc, &["--overdue"]);
        assert_eq!(
            overdue,
            pairs(&[("c@x.jp", "未対応"), ("live@x.jp", "未対応")]),
            "overdue {when}"
        );
        let r = json(&team, &["report", "--format", "json"]);
        assert_eq!(r["unclaimed"], 2, "{when}: {r}");
        assert_eq!(r["claimed"], 1, "{when}: {r}");
        assert_eq!(r["per_owner"]["suzuki"], 1, "{when}: {r}");
        let late: Vec<&str> = r["overdue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["message_id"].as_str().unwrap())
            .collect();
        assert_eq!(late.len(), 2, "{when}: {late:?}");
        assert!(!late.contains(&"a@x.jp") && !late.contains(&"e@x.jp"));
        // Neither the Message-ID nor the ID of a deleted original names it.
        for gone in ["<a@x.jp>", "<e@x.jp>", "<b@x.jp>"] {
            let o = team.run(&["--as", "suzuki", "claim", gone]);
            assert_eq!(code(&o), 3, "claim {gone} {when}: {}", stderr(&o));
        }
        let all = json(&team, &["list", "--status", "all", "--format", "json"]);
        let a_id = all
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["message_id"] == "a@x.jp")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let o = team.run(&["--as", "suzuki", "claim", &a_id]);
        assert_eq!(code(&o), 3, "claim {a_id} {when}: {}", stderr(&o));
    };
    check_views("before rotate");
    assert_eq!(originals(dc), deleted_before, "claims touched nothing");

    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "rotate: {}", stderr(&o));
    // The deleted originals are where the client left them, untouched.
    assert_eq!(originals(dc), deleted_before);
    assert_eq!(
        places(dc, "a@x.jp"),
        [("完了".into(), false), ("未対応".into(), true)]
    );
    assert_eq!(
        places(dc, "b@x.jp"),
        [("完了".into(), false), ("対応中/suzuki".into(), true)]
    );
    // The live copy in 未対応 is handed out to the duty; the original stays.
    assert_eq!(
        places(dc, "c@x.jp"),
        [("INBOX".into(), true), ("対応中/tanaka".into(), false)]
    );
    assert_eq!(
        places(dc, "d@x.jp"),
        [("INBOX".into(), true), ("対応中/suzuki".into(), false)]
    );
    assert_eq!(places(dc, "e@x.jp"), [("未対応".into(), true)]);
    // The client's moves are recorded; nothing about a deleted original.
    let evs = team.events();
    let of = |mid: &str| -> Vec<(String, String)> {
        evs.iter()
            .filter(|e| e["message_id"] == mid)
            .map(|e| {
                (
                    e["event"].as_str().unwrap_or("").to_string(),
                    e["actor"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert_eq!(of("a@x.jp"), [("done".into(), "client".into())], "{evs:?}");
    assert_eq!(of("b@x.jp"), [("done".into(), "client".into())], "{evs:?}");
    assert_eq!(
        of("c@x.jp"),
        [("assign".into(), "rotate".into())],
        "{evs:?}"
    );
    assert_eq!(of("d@x.jp"), [("claim".into(), "client".into())], "{evs:?}");
    assert!(of("e@x.jp").is_empty(), "{evs:?}");
    let n = evs.len();

    // The client purges: nothing changes for the team, and nothing is recorded.
    for f in ["未対応", "対応中/suzuki", "INBOX"] {
        client_expunge(dc, f);
    }
    assert_eq!(places(dc, "a@x.jp"), [("完了".into(), false)]);
    assert!(places(dc, "e@x.jp").is_empty());
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "rotate: {}", stderr(&o));
    assert_eq!(team.events().len(), n);
    let live = listed(&team, dc, &[]);
    assert_eq!(
        live,
        pairs(&[
            ("c@x.jp", "対応中/tanaka"),
            ("d@x.jp", "対応中/suzuki"),
            ("live@x.jp", "対応中/tanaka"),
        ])
    );
}

/// A message claimed from INBOX by its Message-ID while a deleted original is still
/// there: only the live copy is taken.
#[test]
fn a_claim_takes_the_live_copy_never_the_deleted_original() {
    let dc = Dovecot::start();
    let team = team(&dc);
    dc.append("INBOX", "", &hours_ago(3), &msg("c@x.jp"));
    client_move(&dc, "c@x.jp", "INBOX", Some("未対応"));
    let rows = json(&team, &["list", "--format", "json"]);
    let id = rows[0]["id"].as_str().unwrap().to_string();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(!id.contains('.'), "one live message, no suffix: {id}");
    for q in [id.as_str(), "<c@x.jp>"] {
        let o = team.run(&["--as", "suzuki", "claim", q]);
        assert_eq!(code(&o), 0, "claim {q}: {}", stderr(&o));
        assert_eq!(
            places(&dc, "c@x.jp"),
            [("INBOX".into(), true), ("対応中/suzuki".into(), false)]
        );
        let o = team.run(&["--as", "suzuki", "release", q]);
        assert_eq!(code(&o), 0, "release {q}: {}", stderr(&o));
    }
}
