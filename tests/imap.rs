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
    assert!(
        dup_ids[0].ends_with(".1") && dup_ids[1].ends_with(".2"),
        "{dup_ids:?}"
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
    assert!(stderr(&o).contains("2 copies"), "{}", stderr(&o));
    assert!(
        dc.locate("dup@client.example")
            .iter()
            .all(|l| l.0 == "未対応")
    );
    let rows = list_json(&team, &[]);
    let second = rows
        .iter()
        .find(|r| r["id"].as_str().unwrap().ends_with(".2"))
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
