//! `rotate`: the roster shown, and `--apply` against a real Dovecot and Courier: intake, thread
//! stickiness, routes, hand-out to the duty, idempotence, holidays, and a claim racing
//! the intake.

mod harness;

use std::process::Stdio;

use harness::relay::Relay;
use harness::seed::hours_ago;
use harness::{Courier, Dovecot, Server, Team, code, stderr, stdout};
use serde_json::Value;

const MEMBERS3: &str = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp }\n  sato: { name: 佐藤 一郎, email: sato@example.jp }\n";

const EVERY_DAY: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\n";

fn tail(roster: &str, rest: &str) -> String {
    format!("{EVERY_DAY}roster:\n{roster}{rest}")
}

fn today_tokyo() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d")
        .to_string()
}

fn msg(mid: &str, from: &str, subject: &str, extra: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: {from}\r\nTo: support@example.jp\r\nSubject: {subject}\r\n{extra}Date: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn init(team: &Team) {
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "init: {}", stderr(&o));
}

fn only_place(dc: &dyn Server, mid: &str) -> (String, String) {
    let places = dc.locate(mid);
    assert_eq!(places.len(), 1, "{mid} is in {places:?}");
    (places[0].0.clone(), places[0].2.clone())
}

#[test]
fn the_roster_is_shown_with_holidays_and_overrides() {
    // No server is contacted to show the roster.
    let team = Team::with_tail(
        "  host: 127.0.0.1\n  port: 9\n  tls: none\n",
        MEMBERS3,
        "roster:\n  weekdays:\n    mon: [tanaka]\n    tue: suzuki\n    wed: [tanaka, sato]\n    thu: suzuki\n    fri: sato\n  overrides:\n    2026-12-24: [suzuki]\n  holidays:\n    yearly: [\"12-29..01-03 年末年始\"]\n",
    );
    let o = team.run(&["rotate", "--date", "2026-11-23"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "2026-11-23 (mon 月), 勤労感謝の日: nobody on duty"
    );
    let o = team.run(&["rotate", "--date", "2026-11-25"]);
    assert!(
        stdout(&o).contains("田中 太郎 (tanaka), 佐藤 一郎 (sato)"),
        "{}",
        stdout(&o)
    );

    let o = team.run(&[
        "rotate",
        "--date",
        "2026-12-21",
        "--days",
        "14",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let days: Vec<Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(days.len(), 14);
    let on = |date: &str| -> Vec<String> {
        let d = days.iter().find(|d| d["date"] == date).unwrap();
        d["on_duty"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(on("2026-12-22"), ["suzuki"]);
    assert_eq!(on("2026-12-24"), ["suzuki"], "the override beats thu");
    assert!(on("2026-12-30").is_empty() && on("2027-01-01").is_empty());
    let d30 = days.iter().find(|d| d["date"] == "2026-12-30").unwrap();
    assert_eq!(d30["holiday"], "年末年始");
    assert_eq!(d30["weekday"], "wed");

    let table = stdout(&team.run(&["rotate", "--date", "2026-12-28", "--days", "3"]));
    assert!(
        table.contains("DATE") && table.contains("年末年始"),
        "{table}"
    );

    let bad = team.run(&["rotate", "--date", "2026-02-30"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("not a date like 2026-12-24"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn check_names_roster_mistakes() {
    let team = Team::with_tail(
        "  host: 127.0.0.1\n  port: 9\n  tls: none\n",
        MEMBERS3,
        "roster:\n  weekdays:\n    monday: [tanaka]\n    tue: [suzki]\n  overrides:\n    2026-13-01: [sato]\nassign: duty\n",
    );
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 2);
    let e = stderr(&o);
    assert!(
        e.contains("roster.weekdays.monday: \"monday\" is not a weekday"),
        "{e}"
    );
    assert!(e.contains("did you mean \"mon\"?"), "{e}");
    assert!(
        e.contains("\"suzki\" is not a member; did you mean \"suzuki\"?"),
        "{e}"
    );
    assert!(e.contains("roster.overrides.2026-13-01"), "{e}");
    assert!(
        e.lines().all(
            |l| l.starts_with(&format!("mailduty: {}:", team.rules.display()))
                || l.starts_with(&team.rules.display().to_string())
        ),
        "every line names the file: {e}"
    );
}

#[test]
fn apply_files_routes_follows_threads_and_hands_out() {
    apply_files_routes_follows_threads_and_hands_out_on(&Dovecot::start());
}

#[test]
fn apply_files_routes_follows_threads_and_hands_out_on_courier() {
    apply_files_routes_follows_threads_and_hands_out_on(&Courier::start());
}

fn apply_files_routes_follows_threads_and_hands_out_on(dc: &dyn Server) {
    let imap = format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: none\n",
        dc.imap_port()
    );
    let team = Team::with_tail(
        &imap,
        MEMBERS3,
        &tail(
            "  weekdays: { mon: sato, tue: sato, wed: sato, thu: sato, fri: sato, sat: sato, sun: sato }\n  holidays: { japan: false }\n",
            "assign: duty\nthreads: true\nroutes:\n  - match: { from: \"*@bigclient.co.jp\" }\n    owner: suzuki\n",
        ),
    );
    init(&team);
    let old = hours_ago(3);
    dc.append(
        "対応中/tanaka",
        "",
        &old,
        &msg("orig@cust.jp", "kato@cust.jp", "見積もり", ""),
    );
    dc.append(
        "INBOX",
        "",
        &old,
        &msg(
            "reply@cust.jp",
            "kato@cust.jp",
            "Re: 見積もり",
            "In-Reply-To: <orig@cust.jp>\r\nReferences: <orig@cust.jp>\r\n",
        ),
    );
    dc.append(
        "INBOX",
        "",
        &old,
        &msg("big@bigclient.co.jp", "yamada@bigclient.co.jp", "発注", ""),
    );
    dc.append(
        "INBOX",
        "",
        &old,
        &msg("plain1@x.jp", "a@x.jp", "問い合わせ1", ""),
    );
    dc.append(
        "INBOX",
        "",
        &hours_ago(2),
        &msg("plain2@x.jp", "b@x.jp", "問い合わせ2", ""),
    );
    dc.append(
        "未対応",
        "$MailDutyReleased",
        &old,
        &msg("released@x.jp", "c@x.jp", "返却済み", ""),
    );

    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    // The two plain messages go from the inbox to the duty in one move each.
    assert!(out.contains("rotate: 0 filed, 4 assigned"), "{out}");
    let straight = out
        .lines()
        .filter(|l| l.contains("INBOX → ") && l.contains("sato  (duty)  問い合わせ"))
        .count();
    assert_eq!(straight, 2, "{out}");
    assert!(
        out.contains("(thread)") && out.contains("(route 1: from *@bigclient.co.jp)"),
        "{out}"
    );

    assert_eq!(
        only_place(&dc, "reply@cust.jp").0,
        "対応中/tanaka",
        "thread"
    );
    assert_eq!(
        only_place(&dc, "big@bigclient.co.jp").0,
        "対応中/suzuki",
        "route"
    );
    assert_eq!(only_place(&dc, "plain1@x.jp").0, "対応中/sato", "duty");
    assert_eq!(only_place(&dc, "plain2@x.jp").0, "対応中/sato", "duty");
    assert_eq!(
        only_place(&dc, "released@x.jp").0,
        "未対応",
        "released mail is not handed out again"
    );
    assert_eq!(dc.count("INBOX"), 0);
    for mid in ["reply@cust.jp", "plain1@x.jp", "big@bigclient.co.jp"] {
        let (_, flags) = only_place(&dc, mid);
        assert!(!flags.contains("\\Seen"), "{mid} was marked read: {flags}");
    }
    // Every move is in the history: 4 assigned, and the claim of the message that
    // appeared in 対応中/tanaka with no event (a mail client's move).
    assert_eq!(team.events().len(), 5);

    let again = team.run(&["rotate", "--apply", "--format", "json"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    let v: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(v["moved"].as_array().unwrap().len(), 0, "second run: {v}");
    assert_eq!(v["on_duty"][0], "sato");
    assert_eq!(team.events().len(), 5);
}

#[test]
fn on_a_holiday_apply_files_but_does_not_assign() {
    on_a_holiday_apply_files_but_does_not_assign_on(&Dovecot::start());
}

#[test]
fn on_a_holiday_apply_files_but_does_not_assign_on_courier() {
    on_a_holiday_apply_files_but_does_not_assign_on(&Courier::start());
}

fn on_a_holiday_apply_files_but_does_not_assign_on(dc: &dyn Server) {
    let imap = format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: none\n",
        dc.imap_port()
    );
    let today = today_tokyo();
    let team = Team::with_tail(
        &imap,
        MEMBERS3,
        &tail(
            &format!(
                "  rotation: {{ members: [tanaka, suzuki], every: day, start: 2026-01-05 }}\n  holidays:\n    dates: [\"{today} 創立記念日\"]\n"
            ),
            "assign: duty\n",
        ),
    );
    init(&team);
    dc.append(
        "INBOX",
        "",
        &hours_ago(1),
        &msg("h1@x.jp", "a@x.jp", "休日の問い合わせ", ""),
    );
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("1 filed, 0 assigned; 創立記念日: filed only"),
        "{out}"
    );
    let (folder, flags) = only_place(&dc, "h1@x.jp");
    assert_eq!(folder, "未対応");
    assert!(
        !flags.contains("$MailDutyClaim") && !flags.contains("\\Seen"),
        "filed mail must not look claimed or read: {flags}"
    );
    let shown = stdout(&team.run(&["rotate"]));
    assert!(shown.contains("創立記念日: nobody on duty"), "{shown}");
}

/// A member claims a message in the inbox while cron files it; the relay makes both
/// reach the arbitrating command together. The message must exist exactly once.
fn claim_against_intake(dc: &dyn Server, team: &Team, relay: &Relay, rounds: usize) {
    claim_against_intake_to(dc, team, relay, rounds, "未対応");
}

/// `claim_against_intake`, the intake taking the message to `intake_to`.
fn claim_against_intake_to(
    dc: &dyn Server,
    team: &Team,
    relay: &Relay,
    rounds: usize,
    intake_to: &str,
) {
    for round in 0..rounds {
        let mid = format!("intake-{round}@race.jp");
        dc.append("INBOX", "", &hours_ago(1), &msg(&mid, "a@x.jp", "race", ""));
        let before = relay.full_releases();
        let rotate = team
            .command(&["rotate", "--apply"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let claim = team
            .command(&["--as", "tanaka", "claim", &format!("<{mid}>")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let r = rotate.wait_with_output().unwrap();
        let c = claim.wait_with_output().unwrap();
        assert_eq!(
            relay.full_releases(),
            before + 1,
            "round {round}: no overlap was forced"
        );
        assert_eq!(code(&r), 0, "rotate: {}", stderr(&r));
        assert!(matches!(code(&c), 0 | 4), "claim: {}", stderr(&c));
        let (folder, _) = only_place(dc, &mid);
        if code(&c) == 0 {
            assert_eq!(folder, "対応中/tanaka", "round {round}");
        } else {
            assert_eq!(folder, intake_to, "round {round}: {}", stderr(&c));
        }
        eprintln!(
            "round {round}: claim exit {}, message in {folder}",
            code(&c)
        );
    }
}

#[test]
fn a_claim_racing_the_intake_never_duplicates_or_loses() {
    let dc = Dovecot::start();
    let relay = Relay::start(dc.imap_port, "UNCHANGEDSINCE", 2);
    relay.once.store(true, std::sync::atomic::Ordering::SeqCst);
    let team = Team::plain(relay.port, MEMBERS3);
    init(&team);
    claim_against_intake(&dc, &team, &relay, 4);
}

/// With `assign: duty` the intake moves new mail straight to the member on duty:
/// tanaka's claim races suzuki's hand-out from the inbox, and one of them wins.
#[test]
fn a_claim_racing_the_hand_out_from_the_inbox_never_duplicates_or_loses() {
    let dc = Dovecot::start();
    let relay = Relay::start(dc.imap_port, "UNCHANGEDSINCE", 2);
    relay.once.store(true, std::sync::atomic::Ordering::SeqCst);
    let team = Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", relay.port),
        MEMBERS3,
        &tail(
            "  weekdays: { mon: suzuki, tue: suzuki, wed: suzuki, thu: suzuki, fri: suzuki, sat: suzuki, sun: suzuki }\n  holidays: { japan: false }\n",
            "assign: duty\n",
        ),
    );
    init(&team);
    claim_against_intake_to(&dc, &team, &relay, 4, "対応中/suzuki");
}

/// A member on duty added to the rules without `init` has no folder: the new mail
/// goes to the others on duty, none stays in the inbox, and the run says to run init.
#[test]
fn a_member_on_duty_without_a_folder_holds_up_nothing() {
    let dc = Dovecot::start();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let two = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp }\n";
    init(&Team::with_tail(&imap, two, ""));
    let roster = "  weekdays: { mon: [sato, suzuki], tue: [sato, suzuki], wed: [sato, suzuki], thu: [sato, suzuki], fri: [sato, suzuki], sat: [sato, suzuki], sun: [sato, suzuki] }\n  holidays: { japan: false }\n";
    let team = Team::with_tail(&imap, MEMBERS3, &tail(roster, "assign: duty\n"));
    let deliver = |from: usize| {
        for i in from..from + 4 {
            let m = msg(&format!("d{i}@x.jp"), "a@x.jp", "q", "");
            dc.append("INBOX", "", &hours_ago(1), &m);
        }
    };
    deliver(0);
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("rotate: 0 filed, 4 assigned"),
        "{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("nothing handed out to sato") && stderr(&o).contains("mailduty init"),
        "{}",
        stderr(&o)
    );
    assert_eq!((dc.count("INBOX"), dc.count("対応中/suzuki")), (0, 4));
    // Once the folder exists, sato gets his share.
    init(&team);
    deliver(4);
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(dc.count("対応中/sato"), 4, "the fewest claims first");
}

#[test]
fn a_claim_racing_the_intake_without_condstore() {
    let dc = Dovecot::start_with(
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR NAMESPACE UIDPLUS MOVE ID ENABLE IDLE\n}\n",
    );
    let relay = Relay::start(dc.imap_port, "UID MOVE", 2);
    relay.once.store(true, std::sync::atomic::Ordering::SeqCst);
    let team = Team::plain(relay.port, MEMBERS3);
    init(&team);
    claim_against_intake(&dc, &team, &relay, 4);
}

#[test]
fn a_claim_racing_the_intake_on_courier() {
    let c = Courier::start();
    let relay = Relay::start(c.imap_port, "UID COPY", 2);
    relay.once.store(true, std::sync::atomic::Ordering::SeqCst);
    let team = Team::plain(relay.port, MEMBERS3);
    init(&team);
    claim_against_intake(&c, &team, &relay, 4);
}

#[test]
fn two_intakes_at_once_file_a_message_once() {
    // Two cron runs (two machines, or a slow run overlapping the next) set the same
    // intake keyword, so both can pass the STORE; the later copy must go.
    let dc = Dovecot::start();
    two_intakes_at_once(&dc, "UNCHANGEDSINCE", 10);
}

#[test]
fn two_intakes_at_once_on_courier() {
    // No CONDSTORE and no MOVE: both runs COPY, and the later copy must go.
    let c = Courier::start();
    two_intakes_at_once(&c, "UID COPY", 4);
}

fn two_intakes_at_once(dc: &dyn Server, hold: &'static str, default_rounds: usize) {
    let relay = Relay::start(dc.imap_port(), hold, 2);
    relay.once.store(true, std::sync::atomic::Ordering::SeqCst);
    let team = Team::plain(relay.port, MEMBERS3);
    init(&team);
    let rounds = std::env::var("MAILDUTY_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_rounds);
    for round in 0..rounds {
        let mid = format!("twice-{round}@race.jp");
        dc.append("INBOX", "", &hours_ago(1), &msg(&mid, "a@x.jp", "race", ""));
        let before = relay.full_releases();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                team.command(&["rotate", "--apply"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for r in runs {
            let o = r.wait_with_output().unwrap();
            assert_eq!(code(&o), 0, "rotate: {}", stderr(&o));
        }
        assert_eq!(
            relay.full_releases(),
            before + 1,
            "round {round}: no overlap"
        );
        let (folder, _) = only_place(dc, &mid);
        assert_eq!(folder, "未対応", "round {round}");
    }
}
