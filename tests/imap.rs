//! The status workflow against a real Dovecot and a real Courier, through the real
//! binary.

mod harness;

use harness::seed::{self, seed};
use harness::{Courier, Dovecot, MEMBERS, Server, Team, code, stderr, stdout};
use serde_json::Value;

fn init(team: &Team) {
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
}

fn list_json(team: &Team, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["list", "--format", "json"];
    args.extend_from_slice(extra);
    let o = team.run(&args);
    assert_eq!(code(&o), 0, "list: {}", stderr(&o));
    serde_json::from_str::<Vec<Value>>(&stdout(&o)).expect("list JSON")
}

fn id_of(rows: &[Value], subject: &str) -> String {
    rows.iter()
        .find(|r| r["subject"] == subject)
        .unwrap_or_else(|| panic!("{subject} not listed"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn init_creates_japanese_folders_once() {
    init_creates_japanese_folders_once_on(&Dovecot::start());
}

#[test]
fn init_creates_japanese_folders_once_on_courier() {
    init_creates_japanese_folders_once_on(&Courier::start());
}

fn init_creates_japanese_folders_once_on(dc: &dyn Server) {
    let team = Team::tls(&dc, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let caps = if dc.name() == "courier" {
        "MOVE no, UIDPLUS yes, CONDSTORE no"
    } else {
        "MOVE yes, UIDPLUS yes, CONDSTORE yes"
    };
    assert!(
        out.contains(&format!("created {}", dc.path("未対応"))) && out.contains(caps),
        "{out}"
    );
    let folders = dc.folders();
    for f in [
        "INBOX",
        "未対応",
        "対応中",
        "対応中/tanaka",
        "対応中/suzuki",
        "完了",
        "対応履歴",
    ] {
        assert!(
            folders.iter().any(|x| x == f),
            "{f} missing from the server's list: {folders:?}"
        );
    }
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("nothing to do"), "{}", stdout(&o));
    assert_eq!(dc.folders(), folders);
}

#[test]
fn list_shows_the_seeded_mail_and_marks_nothing_read() {
    list_shows_the_seeded_mail_and_marks_nothing_read_on(&Dovecot::start());
}

#[test]
fn list_shows_the_seeded_mail_and_marks_nothing_read_on_courier() {
    list_shows_the_seeded_mail_and_marks_nothing_read_on(&Courier::start());
}

fn list_shows_the_seeded_mail_and_marks_nothing_read_on(dc: &dyn Server) {
    let team = Team::tls(&dc, MEMBERS);
    init(&team);
    let seeded = seed(&dc);
    let flags_before = dc.all_flags();
    let rows = list_json(&team, &[]);
    assert_eq!(rows.len(), seeded.len(), "{rows:#?}");
    for s in &seeded {
        let row = rows
            .iter()
            .find(|r| r["subject"] == s.subject && r["message_id"].as_str() == s.message_id);
        let row = row.unwrap_or_else(|| panic!("{} not listed correctly: {rows:#?}", s.subject));
        assert_eq!(row["status"], "unclaimed");
        assert_eq!(row["folder"], dc.path(s.folder));
    }
    let jis = rows
        .iter()
        .find(|r| r["subject"] == "見積もりのお願い")
        .unwrap();
    assert_eq!(jis["overdue"], true, "30 hours old with a 4h SLA");
    let sjis = rows
        .iter()
        .find(|r| r["subject"] == "納品日の確認")
        .unwrap();
    assert_eq!(sjis["overdue"], false);
    assert_eq!(
        rows.iter()
            .find(|r| r["from"] == "yamada@bigclient.co.jp")
            .unwrap()["from_name"],
        "山田"
    );
    let mut dup_ids: Vec<&str> = rows
        .iter()
        .filter(|r| r["message_id"] == "dup@client.example")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    dup_ids.sort();
    assert_eq!(dup_ids.len(), 2);
    let (a, b) = (
        dup_ids[0].split_once('.').unwrap(),
        dup_ids[1].split_once('.').unwrap(),
    );
    assert!(
        a.0 == b.0 && a.1.len() == 4 && b.1.len() == 4 && a.1 != b.1,
        "one ID, a suffix each: {dup_ids:?}"
    );

    let overdue = team.run(&["list", "--overdue", "--format", "ids"]);
    let ids: Vec<&str> = std::str::from_utf8(&overdue.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(ids.len(), 4, "30h, 50h, 5h, 4h old: {ids:?}");

    let table = stdout(&team.run(&["list"]));
    assert!(
        table.contains("見積もりのお願い") && table.contains("ID"),
        "{table}"
    );
    // A closed pipe is not an error.
    let piped = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --rules '{}' list | true",
            env!("CARGO_BIN_EXE_mailduty"),
            team.rules.display()
        ))
        .env("MAILDUTY_TEST_PW", harness::PASSWORD)
        .output()
        .unwrap();
    assert_eq!(stderr(&piped), "");
    assert_eq!(dc.all_flags(), flags_before, "listing changed flags");
}

#[test]
fn claim_release_done_and_conflicts() {
    claim_release_done_and_conflicts_on(&Dovecot::start());
}

#[test]
fn claim_release_done_and_conflicts_on_courier() {
    claim_release_done_and_conflicts_on(&Courier::start());
}

fn claim_release_done_and_conflicts_on(dc: &dyn Server) {
    let team = Team::tls(&dc, MEMBERS);
    init(&team);
    seed(&dc);
    let rows = list_json(&team, &[]);
    let jis = id_of(&rows, "見積もりのお願い");
    let utf = id_of(&rows, "【至急】請求書の再発行について");
    let history_before = dc.count_history();

    let o = team.run(&["--as", "tanaka", "claim", &jis[..5]]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        dc.locate("jis@client.example")
            .iter()
            .map(|l| l.0.as_str())
            .collect::<Vec<_>>(),
        ["対応中/tanaka"]
    );

    let o = team.run(&["--as", "suzuki", "claim", &jis]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("already claimed by 田中 太郎"),
        "{}",
        stderr(&o)
    );

    let o = team.run(&["--as", "suzuki", "release", &jis]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(dc.locate("jis@client.example")[0].0, "対応中/tanaka");

    let mine = list_json(&team, &["--as", "tanaka", "--mine"]);
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["owner"], "tanaka");

    // IDs from stdin; a message still in the inbox counts as unclaimed.
    let o = team.run_stdin(&["--as", "suzuki", "claim", "-"], &format!("{utf}\n"));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.locate("utf8@client.example")[0].0, "対応中/suzuki");

    let o = team.run(&["--as", "tanaka", "release", &jis]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.locate("jis@client.example")[0].0, "未対応");

    let o = team.run(&["--as", "tanaka", "done", &jis]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.locate("jis@client.example")[0].0, "完了");
    let done = list_json(&team, &["--status", "done"]);
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["id"], jis.as_str(), "the ID survives moves");

    let o = team.run(&["--as", "tanaka", "done", "zzzzzzzz"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));

    assert_eq!(
        dc.count_history(),
        history_before + 4,
        "claim, claim, release, done"
    );
    assert!(
        dc.all_flags().iter().all(|(_, f)| !f.contains("\\Seen")),
        "{:?}",
        dc.all_flags()
    );
}

#[test]
fn copies_with_one_message_id_are_never_guessed() {
    copies_with_one_message_id_are_never_guessed_on(&Dovecot::start());
}

#[test]
fn copies_with_one_message_id_are_never_guessed_on_courier() {
    copies_with_one_message_id_are_never_guessed_on(&Courier::start());
}

fn copies_with_one_message_id_are_never_guessed_on(dc: &dyn Server) {
    let team = Team::tls(&dc, MEMBERS);
    init(&team);
    seed(&dc);
    let o = team.run(&["--as", "tanaka", "claim", "<dup@client.example>"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("2 messages with one Message-ID"),
        "{}",
        stderr(&o)
    );
    assert!(
        dc.locate("dup@client.example")
            .iter()
            .all(|l| l.0 == "未対応")
    );
    let rows = list_json(&team, &[]);
    let second = rows
        .iter()
        .filter(|r| r["message_id"] == "dup@client.example")
        .max_by_key(|r| r["arrived"].as_str().unwrap().to_string())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let o = team.run(&["--as", "tanaka", "claim", &second]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut places: Vec<String> = dc
        .locate("dup@client.example")
        .into_iter()
        .map(|l| l.0)
        .collect();
    places.sort();
    assert_eq!(places, ["対応中/tanaka", "未対応"]);
    // The label named the later arrival, and still does in its new folder.
    let after = list_json(&team, &[]);
    let claimed = after
        .iter()
        .find(|r| r["message_id"] == "dup@client.example" && r["status"] == "claimed")
        .unwrap();
    assert_eq!(claimed["id"], second.as_str());
    let mid_rows = |rows: &[Value]| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = rows
            .iter()
            .filter(|r| r["message_id"] == "dup@client.example")
            .map(|r| {
                (
                    r["id"].as_str().unwrap().into(),
                    r["arrived"].as_str().unwrap().into(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(mid_rows(&after), mid_rows(&rows));
    // The message without a Message-ID has an ID all the same.
    let nomid = id_of(&rows, "Message-IDのないメール");
    let o = team.run(&["--as", "suzuki", "claim", &nomid]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.count("対応中/suzuki"), 1);
}

#[test]
fn starttls_and_tls_failures() {
    let dc = Dovecot::start();
    let starttls = Team::with_imap(
        &format!(
            "  host: 127.0.0.1\n  port: {}\n  tls: starttls\n  ca_file: {}\n",
            dc.imap_port,
            dc.ca().display()
        ),
        MEMBERS,
    );
    let o = starttls.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let o = starttls
        .command(&["-v", "list"])
        .env("MAILDUTY_TEST_PW", "wrong-password")
        .output()
        .unwrap();
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(
        err.contains("login as support") && err.contains("failed"),
        "{err}"
    );
    assert!(!err.contains("wrong-password"), "password leaked: {err}");
    assert!(err.contains("<password hidden>"), "{err}");

    // The system CAs do not know the test CA: verification must fail, not be skipped.
    let wrong_ca = Team::with_imap(
        &format!(
            "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n",
            dc.imaps_port
        ),
        MEMBERS,
    );
    let o = wrong_ca.run(&["list"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("TLS") && stderr(&o).contains("ca_file"),
        "{}",
        stderr(&o)
    );

    let remote = Team::with_imap("  host: mail.example.jp\n  tls: none\n", MEMBERS);
    let o = remote.run(&["list"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("loopback"), "{}", stderr(&o));
}

#[test]
fn broken_rules_touch_nothing() {
    let dc = Dovecot::start();
    let team = Team::tls(&dc, MEMBERS);
    let good = std::fs::read_to_string(&team.rules).unwrap();
    let cases = [
        (good.replace("  user:", "  usr:"), "unknown field `usr`"),
        (good.replace("members:", "members: [oops"), "rules.yaml:"),
        (
            good.replace("tanaka@example.jp", "tanaka-at-example"),
            "members.tanaka.email",
        ),
        (
            good.replace("unclaimed: 4h", "unclaimed: soon"),
            "sla.unclaimed",
        ),
    ];
    for (text, expect) in cases {
        std::fs::write(&team.rules, &text).unwrap();
        for cmd in [
            &["check"][..],
            &["init"],
            &["--as", "tanaka", "claim", "abc"],
        ] {
            let o = team.run(cmd);
            assert_eq!(code(&o), 2, "{cmd:?} {expect}: {}", stderr(&o));
            let err = stderr(&o);
            assert!(
                err.contains(expect) && err.contains("rules.yaml:"),
                "{cmd:?}: {err}"
            );
            assert!(err.lines().count() <= 3, "{err}");
        }
    }
    assert_eq!(
        dc.folders(),
        ["INBOX"],
        "a broken rules file must not reach the server"
    );
    std::fs::write(&team.rules, &good).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = team.run(&["--as", "nobody", "list", "--mine"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("members: suzuki, tanaka"),
        "{}",
        stderr(&o)
    );
    let _ = seed::hours_ago(0);
}

/// Where each message with this Message-ID is, by subject, as the server's own tool
/// sees it (history folders left out).
fn by_subject(dc: &Dovecot, mid: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let out = dc.doveadm(&[
        "-f",
        "tab",
        "fetch",
        "-u",
        harness::USER,
        "mailbox hdr.subject",
        "HEADER",
        "Message-ID",
        &format!("<{mid}>"),
    ]);
    let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for l in out.lines().skip(1) {
        let (folder, subject) = l.split_once('\t').unwrap();
        if !harness::is_history(folder) {
            m.entry(subject.trim().to_string())
                .or_default()
                .push(folder.to_string());
        }
    }
    m
}

/// Issue 28: six distinct messages share one Message-ID. The label `list` shows for
/// each names that stored message in every later command, from every folder, after
/// moves, a newcomer with the same Message-ID and an archive run.
#[test]
fn a_label_names_one_message_through_moves_arrivals_and_archive() {
    let dc = Dovecot::start();
    let team = Team::tls(&dc, MEMBERS);
    init(&team);
    let mid = "six@client.example";
    let mail = |n: usize| {
        format!(
            "Message-ID: <{mid}>\r\nFrom: kyaku@example.jp\r\nTo: support@example.jp\r\nSubject: six {n}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nmessage {n}{}\r\n",
            "x".repeat(n * 7)
        )
    };
    // Arrival order is not the order of appending; six 3 is old enough to archive.
    let ages = [0, 30, 50, 400 * 24, 20, 40, 10];
    for (n, age) in ages.iter().enumerate().take(7).skip(1) {
        dc.append("未対応", "", &seed::hours_ago(*age), mail(n).as_bytes());
    }
    let subject_of = |r: &Value| r["subject"].as_str().unwrap().to_string();
    let labels = |rows: &[Value]| -> std::collections::BTreeMap<String, String> {
        rows.iter()
            .filter(|r| r["message_id"] == mid)
            .map(|r| (subject_of(r), r["id"].as_str().unwrap().to_string()))
            .collect()
    };
    let first = labels(&list_json(&team, &[]));
    assert_eq!(first.len(), 6, "{first:?}");
    let distinct: std::collections::BTreeSet<&String> = first.values().collect();
    assert_eq!(distinct.len(), 6, "{first:?}");
    let l = |n: usize| first[&format!("six {n}")].clone();
    let mut want: std::collections::BTreeMap<String, Vec<String>> = (1..=6)
        .map(|n| (format!("six {n}"), vec!["未対応".to_string()]))
        .collect();
    type Places = std::collections::BTreeMap<String, Vec<String>>;
    let step = |want: &mut Places, args: &[&str], n: usize, to: &str| {
        let o = team.run(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        want.insert(format!("six {n}"), vec![to.to_string()]);
        assert_eq!(by_subject(&dc, mid), *want, "after {args:?}");
    };
    step(
        &mut want,
        &["--as", "tanaka", "claim", &l(1)],
        1,
        "対応中/tanaka",
    );
    step(
        &mut want,
        &["--as", "tanaka", "claim", &l(2)],
        2,
        "対応中/tanaka",
    );
    step(&mut want, &["--as", "tanaka", "done", &l(3)], 3, "完了");
    let after = labels(&list_json(&team, &["--status", "all"]));
    assert_eq!(after, first, "labels after the moves");
    // A newcomer with the same Message-ID, arrived before all of them.
    dc.append("未対応", "", &seed::hours_ago(ages[6]), mail(7).as_bytes());
    want.insert("six 7".into(), vec!["未対応".into()]);
    step(
        &mut want,
        &["--as", "tanaka", "claim", &l(4)],
        4,
        "対応中/tanaka",
    );
    // `done` reads 完了 too when it looks (several IDs: the queue, then all folders).
    want.insert("six 1".into(), vec!["完了".into()]);
    step(
        &mut want,
        &["--as", "tanaka", "done", &l(6), &l(1)],
        6,
        "完了",
    );
    // The label of a message in 完了 names it there, not a namesake in the queue.
    let o = team.run(&["--as", "suzuki", "claim", &l(3)]);
    assert_eq!(code(&o), 3, "not in the queue: {}", stderr(&o));
    assert_eq!(by_subject(&dc, mid), want);
    // An old-style ordinal names nothing now, rather than a guess.
    let base = l(5).split_once('.').unwrap().0.to_string();
    for old in ["1", "2", "5"] {
        let o = team.run(&["--as", "suzuki", "claim", &format!("{base}.{old}")]);
        assert_eq!(code(&o), 3, "{base}.{old}: {}", stderr(&o));
        assert!(stderr(&o).contains("no message"), "{}", stderr(&o));
    }
    let o = team.run(&["--as", "suzuki", "claim", &base]);
    assert_eq!(code(&o), 3, "ambiguous: {}", stderr(&o));
    assert!(stderr(&o).contains(&l(5)), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("messages with one Message-ID"),
        "{}",
        stderr(&o)
    );
    assert_eq!(by_subject(&dc, mid), want);
    step(
        &mut want,
        &["--as", "suzuki", "claim", &l(5)],
        5,
        "対応中/suzuki",
    );

    let o = team.run(&["archive"]);
    assert_eq!(code(&o), 0, "archive: {}", stderr(&o));
    let moved = by_subject(&dc, mid);
    assert!(
        moved["six 3"][0].starts_with("完了/"),
        "six 3 archived: {moved:?}"
    );
    let o = team.run(&["show", "--all", "--format", "json", &l(3)]);
    assert_eq!(code(&o), 0, "show --all: {}", stderr(&o));
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(shown["subject"], "six 3");
    assert_eq!(shown["id"], l(3).as_str());
    let last = labels(&list_json(&team, &["--status", "all"]));
    for (s, id) in &first {
        if s != "six 3" {
            assert_eq!(last.get(s), Some(id), "{s} after archive: {last:?}");
        }
    }
    let seventh = &last["six 7"];
    assert!(!first.values().any(|v| v == seventh), "{seventh}");
}

/// Two distinct messages with one Message-ID, arrival second and size: the bytes of
/// each tell them apart, and each label names its own message, in 未対応 and after
/// its twin moved away.
#[test]
fn twins_of_one_second_and_size_are_told_apart_by_their_bytes() {
    let dc = Dovecot::start();
    let team = Team::tls(&dc, MEMBERS);
    init(&team);
    let mid = "twin@client.example";
    let date = seed::hours_ago(3);
    for who in ["A", "B"] {
        let m = format!(
            "Message-ID: <{mid}>\r\nFrom: kyaku@example.jp\r\nTo: support@example.jp\r\nSubject: twin {who}\r\n\r\nfrom {who}\r\n"
        );
        dc.append("未対応", "", &date, m.as_bytes());
    }
    let rows = list_json(&team, &[]);
    let (a, b) = (id_of(&rows, "twin A"), id_of(&rows, "twin B"));
    assert_ne!(a, b);
    assert_eq!(a.split_once('.').unwrap().1.len(), 8, "{a}");
    // The shorter label names both: refused, nothing moved.
    let o = team.run(&["--as", "tanaka", "claim", &b[..b.len() - 4]]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&a) && stderr(&o).contains(&b),
        "{}",
        stderr(&o)
    );
    let o = team.run(&["--as", "tanaka", "claim", &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let at = by_subject(&dc, mid);
    assert_eq!(at["twin B"], ["対応中/tanaka"], "{at:?}");
    assert_eq!(at["twin A"], ["未対応"], "{at:?}");
    // In 完了 alone, B's label still names B, and A's never does.
    let o = team.run(&["--as", "tanaka", "done", &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = team.run(&["--as", "tanaka", "done", &a.to_uppercase()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let at = by_subject(&dc, mid);
    assert_eq!(at["twin A"], ["完了"], "{at:?}");
    let done = list_json(&team, &["--status", "done"]);
    assert_eq!(id_of(&done, "twin A"), a);
    assert_eq!(id_of(&done, "twin B"), b);
}
