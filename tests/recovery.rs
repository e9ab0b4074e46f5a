//! Nothing lost, hidden or stranded: every command cut at every IMAP command it sends
//! (before the server gets it, and after the server ran it but before the answer
//! arrived), then retried and followed by cron's next `rotate --apply`, must end in
//! the same state as an uncut run. And distinct messages that share a Message-ID (or
//! have none) survive every command; proven copies are healed; mail under 対応中 that
//! is no member's is listed.

mod harness;

use std::collections::BTreeMap;

use harness::relay::{Cut, Cutter};
use harness::seed::hours_ago;
use harness::smtp::Smtp;
use harness::{Dovecot, MEMBERS, Team, code, stderr, stdout};
use sha2::{Digest, Sha256};

const EVERY_DAY: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\n";

fn duty(who: &str) -> String {
    format!(
        "roster:\n  weekdays: {{ mon: {who}, tue: {who}, wed: {who}, thu: {who}, fri: {who}, sat: {who}, sun: {who} }}\n  holidays: {{ japan: false }}\n"
    )
}

fn msg(mid: Option<&str>, subject: &str, body: &str, extra: &str) -> Vec<u8> {
    let mid = mid
        .map(|m| format!("Message-ID: <{m}>\r\n"))
        .unwrap_or_default();
    format!(
        "{extra}{mid}From: kato@example.co.jp\r\nTo: support@example.jp\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// What the server holds: the SHA-256 of every message per folder (history apart),
/// the history events as (event, actor, target, to-folder), and how many move
/// keywords are left on messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    mail: BTreeMap<String, Vec<String>>,
    events: Vec<(String, String, String, String)>,
    keywords: usize,
}

fn header(text: &str, name: &str) -> String {
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let head = head.replace("\r\n ", " ").replace("\n ", " ");
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
        .map(|v| mailduty::desk::history::decode_word(&v))
        .unwrap_or_default()
}

fn state(dc: &Dovecot) -> State {
    let mut mail: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut events = Vec::new();
    let mut keywords = 0;
    for (folder, flags, text) in dc.everything() {
        if harness::is_history(&folder) {
            // A mail may carry several events (a batch); each counts.
            let head = text.split("\r\n\r\n").next().unwrap_or("");
            let parsed = mailduty::desk::history::parse_all(head.as_bytes());
            if parsed.is_empty() {
                events.push((
                    header(&text, "X-Mailduty-Event"),
                    header(&text, "X-Mailduty-Actor"),
                    header(&text, "X-Mailduty-Target"),
                    header(&text, "X-Mailduty-To-Folder"),
                ));
            }
            for e in parsed {
                events.push((
                    e.event,
                    e.actor,
                    e.message_id.map(|m| format!("<{m}>")).unwrap_or_default(),
                    e.to_folder.unwrap_or_default(),
                ));
            }
            continue;
        }
        keywords += flags
            .split_whitespace()
            .filter(|f| f.starts_with("$MailDutyClaim") || f.starts_with("$MailDutyAssign"))
            .count();
        let h: String = Sha256::digest(text.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        mail.entry(folder).or_default().push(h);
    }
    for v in mail.values_mut() {
        v.sort();
    }
    mail.retain(|_, v| !v.is_empty());
    events.sort();
    State {
        mail,
        events,
        keywords,
    }
}

/// Every message's hash, wherever it is.
fn hashes(s: &State) -> Vec<String> {
    let mut all: Vec<String> = s.mail.values().flatten().cloned().collect();
    all.sort();
    all
}

#[derive(Default, Debug)]
struct Figures {
    runs: usize,
    lost: usize,
    doubled: usize,
    healed: usize,
    differed: usize,
}

struct Scenario<'a> {
    name: &'a str,
    dc: &'a Dovecot,
    cutter: &'a Cutter,
    team: &'a Team,
    env: &'a [(&'a str, &'a str)],
    prepare: &'a dyn Fn(&Dovecot, &Team),
    command: &'a [&'a str],
    /// What a person (or cron) does next: the same command again, then cron's run.
    then: &'a [&'a [&'a str]],
    /// Counts something outside the mailbox that must come out the same (mail sent).
    outside: &'a dyn Fn() -> usize,
    /// An event kind written once per run rather than once per move: a cut run and
    /// its rerun may each write one.
    per_run: Option<&'a str>,
}

fn run(s: &Scenario<'_>, args: &[&str]) -> std::process::Output {
    let mut c = s.team.command(args);
    for (k, v) in s.env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn fresh(s: &Scenario<'_>) {
    s.dc.wipe();
    let _ = std::fs::remove_dir_all(s.team.dir.path().join("state"));
    (s.prepare)(s.dc, s.team);
}

/// The whole protocol: an uncut reference, then a cut at every command both ways.
fn cut_everywhere(s: &Scenario<'_>) -> Figures {
    fresh(s);
    s.cutter.arm(0, Cut::Before);
    let sent0 = (s.outside)();
    let o = run(s, s.command);
    assert_eq!(code(&o), 0, "{}: uncut run failed: {}", s.name, stderr(&o));
    let commands = s.cutter.seen();
    for t in s.then {
        let o = run(s, t);
        assert_eq!(
            code(&o),
            0,
            "{}: uncut follow-up {t:?}: {}",
            s.name,
            stderr(&o)
        );
    }
    let want = state(s.dc);
    let want_outside = (s.outside)() - sent0;
    assert_eq!(
        want.keywords, 0,
        "{}: keywords left by an uncut run",
        s.name
    );
    let mut f = Figures::default();
    for n in 1..=commands {
        for how in [Cut::Before, Cut::After] {
            fresh(s);
            let sent0 = (s.outside)();
            s.cutter.arm(n, how);
            let o = run(s, s.command);
            let fired = s.cutter.fired();
            s.cutter.arm(0, Cut::Before);
            let err = stderr(&o);
            assert!(!err.contains("panicked"), "{}: {n} {how:?}: {err}", s.name);
            if fired && n < commands {
                assert_eq!(
                    code(&o),
                    1,
                    "{}: cut at command {n} ({how:?}) must exit 1: {err}",
                    s.name
                );
                assert!(
                    err.lines().count() <= 2,
                    "{}: {n} {how:?}: more than two lines: {err}",
                    s.name
                );
            }
            let mid = state(s.dc);
            for t in s.then {
                let o = run(s, t);
                assert_eq!(
                    code(&o),
                    0,
                    "{}: after a cut at {n} ({how:?}), {t:?} failed: {}",
                    s.name,
                    stderr(&o)
                );
            }
            let mut got = state(s.dc);
            if let Some(kind) = s.per_run {
                let (n, m) = (
                    want.events.iter().filter(|e| e.0 == kind).count(),
                    got.events.iter().filter(|e| e.0 == kind).count(),
                );
                assert!(
                    (n..=2 * n).contains(&m),
                    "{}: a cut at {n} ({how:?}): {m} {kind} events against {n} uncut",
                    s.name
                );
                got.events.retain(|e| e.0 != kind);
                got.events
                    .extend(want.events.iter().filter(|e| e.0 == kind).cloned());
                got.events.sort();
            }
            f.runs += 1;
            let (w, g) = (hashes(&want), hashes(&got));
            f.lost += w.iter().filter(|h| !g.contains(h)).count();
            f.doubled += g.len().saturating_sub(w.len());
            if mid != want {
                f.differed += 1;
                if got == want {
                    f.healed += 1;
                }
            }
            assert_eq!(
                got, want,
                "{}: a cut at command {n} ({how:?}) ended elsewhere than an uncut run",
                s.name
            );
            assert_eq!(
                (s.outside)() - sent0,
                want_outside,
                "{}: a cut at command {n} ({how:?}) sent a different number of mails",
                s.name
            );
        }
    }
    eprintln!(
        "{}: {} commands, {} cut runs, lost {}, doubled {}, left different by the cut {}, healed {}",
        s.name, commands, f.runs, f.lost, f.doubled, f.differed, f.healed
    );
    f
}

fn setup(tail: &str) -> (Dovecot, Cutter, Team) {
    setup_on(Dovecot::start(), tail)
}

fn setup_on(dc: Dovecot, tail: &str) -> (Dovecot, Cutter, Team) {
    let cutter = Cutter::start(dc.imap_port);
    let team = Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", cutter.port),
        MEMBERS,
        tail,
    );
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    (dc, cutter, team)
}

fn none() -> usize {
    0
}

fn check(f: &Figures) {
    assert!(f.runs > 0);
    assert_eq!((f.lost, f.doubled), (0, 0), "{f:?}");
    assert_eq!(f.healed, f.differed, "{f:?}");
}

#[test]
fn claim_release_done_cut_at_every_command() {
    let (dc, cutter, team) = setup(&format!("{EVERY_DAY}{}", duty("tanaka")));
    let in_unclaimed = |dc: &Dovecot, _: &Team| {
        dc.append(
            "未対応",
            "",
            &hours_ago(2),
            &msg(Some("cut@x"), "cut", "body", ""),
        );
    };
    let held = |dc: &Dovecot, team: &Team| {
        in_unclaimed(dc, team);
        let o = team.run(&["--as", "tanaka", "claim", "<cut@x>"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    let rotate: &[&str] = &["rotate", "--apply"];
    let claim: &[&str] = &["--as", "tanaka", "claim", "<cut@x>"];
    let release: &[&str] = &["--as", "tanaka", "release", "<cut@x>"];
    let done: &[&str] = &["--as", "tanaka", "done", "<cut@x>"];
    for (name, prepare, cmd) in [
        ("claim", &in_unclaimed as &dyn Fn(&Dovecot, &Team), claim),
        ("release", &held, release),
        ("done", &held, done),
    ] {
        let f = cut_everywhere(&Scenario {
            name,
            dc: &dc,
            cutter: &cutter,
            team: &team,
            env: &[],
            prepare,
            command: cmd,
            then: &[cmd, rotate],
            outside: &none,
            per_run: None,
        });
        check(&f);
    }
}

#[test]
fn rotate_apply_cut_at_every_command() {
    let (dc, cutter, team) = setup(&format!("{EVERY_DAY}{}assign: duty\n", duty("tanaka")));
    let prepare = |dc: &Dovecot, team: &Team| {
        dc.append(
            "INBOX",
            "",
            &hours_ago(2),
            &msg(Some("in1@x"), "one", "1", ""),
        );
        dc.append("INBOX", "", &hours_ago(1), &msg(None, "two", "2", ""));
        // A claim's event waits in the journal: the run's last command moves it
        // into 対応履歴, and a cut there must neither lose nor double it.
        dc.append(
            "未対応",
            "",
            &hours_ago(3),
            &msg(Some("held@x"), "held", "3", ""),
        );
        let o = team.run(&["--as", "tanaka", "claim", "<held@x>"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        assert_eq!(dc.count(harness::JOURNAL), 1);
        // Mail that was in 完了 before mailduty ever ran, with no event: the mail
        // client step must not credit it to a client, whatever was cut.
        dc.append(
            "完了",
            "",
            &hours_ago(30),
            &msg(Some("before@x"), "before", "4", ""),
        );
        dc.append(
            "完了",
            "",
            &hours_ago(24 * 40),
            &msg(Some("long-before@x"), "long before", "5", ""),
        );
        // One stored message in 未対応 and in a member folder (a client's COPY):
        // the run removes the copy in 未対応, and a cut before its EXPUNGE must be
        // finished by the next run.
        let when = hours_ago(4);
        let copy = msg(Some("twice@x"), "二重", "same bytes", "");
        dc.append("未対応", "", &when, &copy);
        dc.append("対応中/suzuki", "", &when, &copy);
    };
    let rotate: &[&str] = &["rotate", "--apply"];
    let f = cut_everywhere(&Scenario {
        name: "rotate --apply",
        dc: &dc,
        cutter: &cutter,
        team: &team,
        env: &[],
        prepare: &prepare,
        command: rotate,
        then: &[rotate],
        outside: &none,
        per_run: None,
    });
    check(&f);
}

#[test]
fn note_cut_at_every_command() {
    let (dc, cutter, team) = setup(&format!("{EVERY_DAY}{}", duty("tanaka")));
    let prepare = |dc: &Dovecot, _: &Team| {
        dc.append(
            "未対応",
            "",
            &hours_ago(2),
            &msg(Some("n@x"), "note", "b", ""),
        );
    };
    let note: &[&str] = &["--as", "tanaka", "note", "<n@x>", "電話で回答済み"];
    let f = cut_everywhere(&Scenario {
        name: "note",
        dc: &dc,
        cutter: &cutter,
        team: &team,
        env: &[],
        prepare: &prepare,
        command: note,
        then: &[note, &["rotate", "--apply"]],
        outside: &none,
        per_run: None,
    });
    check(&f);
}

#[test]
fn report_send_cut_at_every_command_sends_one_digest() {
    let dc = Dovecot::start();
    let crt = dc.dir.path().join("server.crt");
    let key = dc.dir.path().join("server.key");
    let smtp = Smtp::start(Some((&crt, &key)), Some(("digest", "smtp-pw")));
    let cutter = Cutter::start(dc.imap_port);
    let tail = format!(
        "{EVERY_DAY}{}digest:\n  to: [duty]\n  from: mailduty <noreply@example.jp>\n  smtp: {{ host: 127.0.0.1, port: {}, tls: starttls, user: digest, password_env: SMTP_PW, ca_file: {} }}\n",
        duty("tanaka"),
        smtp.port,
        dc.ca().display()
    );
    let team = Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", cutter.port),
        MEMBERS,
        &tail,
    );
    assert_eq!(code(&team.run(&["init"])), 0);
    let prepare = |dc: &Dovecot, _: &Team| {
        dc.append(
            "未対応",
            "",
            &hours_ago(30),
            &msg(Some("late@x"), "late", "b", ""),
        );
    };
    let send: &[&str] = &["report", "--send"];
    let sent = || smtp.received().len();
    let f = cut_everywhere(&Scenario {
        name: "report --send",
        dc: &dc,
        cutter: &cutter,
        team: &team,
        env: &[("SMTP_PW", "smtp-pw")],
        prepare: &prepare,
        command: send,
        then: &[send],
        outside: &sent,
        per_run: None,
    });
    check(&f);
}

#[test]
fn look_alikes_survive_every_command() {
    let dc = Dovecot::start();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let filing = Team::with_tail(&imap, MEMBERS, &format!("{EVERY_DAY}{}", duty("suzuki")));
    let handing = Team::with_tail(
        &imap,
        MEMBERS,
        &format!("{EVERY_DAY}{}assign: duty\n", duty("suzuki")),
    );
    assert_eq!(code(&filing.run(&["init"])), 0);
    // Three deliveries of one Message-ID (two aliases and a list copy), three
    // messages without one that share From/To/Subject/Date, all arriving at once.
    let when = hours_ago(1);
    for (i, via) in ["support@", "info@", "list@"].iter().enumerate() {
        let extra = format!("Delivered-To: {via}example.jp\r\n");
        dc.append(
            "INBOX",
            "",
            &when,
            &msg(Some("same@x"), "同じID", &format!("copy {i}"), &extra),
        );
    }
    for i in 0..3 {
        dc.append(
            "INBOX",
            "",
            &when,
            &msg(None, "お問い合わせ", &format!("form {i}"), ""),
        );
    }
    dc.append("INBOX", "", &when, &msg(Some("plain@x"), "plain", "p", ""));
    let before = hashes(&state(&dc));
    assert_eq!(before.len(), 7);

    let o = filing.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("rotate: 7 filed, 0 assigned"),
        "{}",
        stdout(&o)
    );
    let s = state(&dc);
    assert_eq!(hashes(&s), before, "intake lost or doubled mail");
    assert_eq!(s.mail["未対応"].len(), 7);
    assert_eq!(s.events.iter().filter(|e| e.0 == "file").count(), 7);

    // Both look-alikes in one command: both arrive in tanaka's folder.
    let o = filing.run(&["list", "--format", "json"]);
    let items: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let ids: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["message_id"] == "same@x")
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3, "{items}");
    let o = filing.run(&["--as", "tanaka", "claim", &ids[0], &ids[1]]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let s = state(&dc);
    assert_eq!(hashes(&s), before, "claim A.1 A.2 lost or doubled mail");
    assert_eq!(s.mail["対応中/tanaka"].len(), 2);

    // The hand-out to the one member on duty takes every other message, look-alikes too.
    let o = handing.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("0 filed, 5 assigned"), "{}", stdout(&o));
    let s = state(&dc);
    assert_eq!(hashes(&s), before, "hand-out lost or doubled mail");
    assert_eq!(s.mail["対応中/suzuki"].len(), 5);
    assert_eq!(s.keywords, 0);
    // A second run finds nothing to do and removes nothing.
    let o = handing.run(&["rotate", "--apply"]);
    assert!(stdout(&o).contains("0 filed, 0 assigned"), "{}", stdout(&o));
    assert_eq!(hashes(&state(&dc)), before);
}

#[test]
fn proven_copies_are_healed_and_look_alikes_kept() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&team.run(&["init"])), 0);
    let when = hours_ago(3);
    let copy = msg(Some("twice@x"), "二重", "same bytes", "");
    // One stored message in two member folders (what a server without MOVE leaves
    // when a run is cut between COPY and EXPUNGE), and a different message with the
    // same Message-ID in 未対応.
    dc.append("対応中/tanaka", "", &when, &copy);
    dc.append("対応中/suzuki", "", &when, &copy);
    dc.append(
        "未対応",
        "",
        &when,
        &msg(Some("twice@x"), "二重", "another body", ""),
    );
    let o = team.run(&["list", "--format", "ids"]);
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));

    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1 duplicate copies removed"),
        "{}",
        stdout(&o)
    );
    let s = state(&dc);
    // The rule every mover applies: the alphabetically first member folder stays.
    assert_eq!(s.mail.get("対応中/suzuki").map(Vec::len), Some(1), "{s:?}");
    assert_eq!(s.mail.get("対応中/tanaka"), None, "{s:?}");
    assert_eq!(
        s.mail.get("未対応").map(Vec::len),
        Some(1),
        "the look-alike stays"
    );
    let o = team.run(&["rotate", "--apply"]);
    assert!(!stdout(&o).contains("duplicate"), "{}", stdout(&o));
}

#[test]
fn mail_under_the_claimed_folder_that_is_no_members_is_listed() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&team.run(&["init"])), 0);
    dc.doveadm(&["mailbox", "create", "-u", harness::USER, "対応中/yamamoto"]);
    dc.append(
        "対応中",
        "",
        &hours_ago(2),
        &msg(Some("root@x"), "dropped on 対応中", "b", ""),
    );
    dc.append(
        "対応中/yamamoto",
        "",
        &hours_ago(2),
        &msg(Some("gone@x"), "a former member's", "b", ""),
    );
    let o = team.run(&["list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let items: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    for i in items {
        assert_eq!(i["status"], "claimed");
        assert_eq!(i["owner"], serde_json::Value::Null);
    }
    let folders: Vec<&str> = items
        .iter()
        .map(|i| i["folder"].as_str().unwrap())
        .collect();
    assert!(
        folders.contains(&"対応中") && folders.contains(&"対応中/yamamoto"),
        "{folders:?}"
    );
    let o = team.run(&["report", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(r["claimed"], 2, "{r}");
    assert_eq!(r["per_owner"]["(no member)"], 2, "{r}");
}

#[test]
fn a_closed_stdout_is_success_and_nothing_else_is() {
    let dc = Dovecot::start();
    let team = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&team.run(&["init"])), 0);
    for i in 0..50 {
        dc.append(
            "未対応",
            "",
            &hours_ago(1),
            &msg(Some(&format!("p{i}@x")), "pipe", "b", ""),
        );
    }
    let mut c = team.command(&["list"]);
    let bin = format!("{:?}", c.get_program());
    let args: Vec<String> = c.get_args().map(|a| format!("{a:?}")).collect();
    let script = format!("{bin} {} | true; echo ${{PIPESTATUS[0]}}", args.join(" "));
    let o = c.output().unwrap();
    assert_eq!(code(&o), 0);
    let piped = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .envs(
            team.command(&[])
                .get_envs()
                .filter_map(|(k, v)| Some((k, v?))),
        )
        .output()
        .unwrap();
    assert_eq!(stdout(&piped).trim(), "0", "{}", stderr(&piped));
    // A server that goes away is a failure, even where the write hit a broken pipe.
    let cutter = Cutter::start(dc.imap_port);
    let cut = Team::plain(cutter.port, MEMBERS);
    cutter.arm(2, Cut::Before);
    let o = cut.run(&["list"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).starts_with("mailduty: "), "{}", stderr(&o));
}

#[test]
fn one_message_that_cannot_move_does_not_hold_up_the_rest() {
    let dc = Dovecot::start();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let before_sato = Team::plain(dc.imap_port, MEMBERS);
    assert_eq!(code(&before_sato.run(&["init"])), 0);
    // sato joined the rules, but nobody ran `init` again: no 対応中/sato yet.
    let members = format!("{MEMBERS}  sato: {{ name: 佐藤 一郎, email: sato@example.jp }}\n");
    let team = Team::with_tail(
        &imap,
        &members,
        &format!(
            "{EVERY_DAY}{}routes:\n  - match: {{ from: \"*@big.example\" }}\n    owner: sato\n",
            duty("tanaka")
        ),
    );
    let big = "Message-ID: <big@x>\r\nFrom: boss@big.example\r\nTo: support@example.jp\r\nSubject: big\r\n\r\nb\r\n";
    dc.append("INBOX", "", &hours_ago(3), big.as_bytes());
    dc.append(
        "INBOX",
        "",
        &hours_ago(1),
        &msg(Some("small@x"), "small", "s", ""),
    );
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("rotate: 1 filed, 0 assigned"),
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("could not be moved") && err.contains("対応中/sato"),
        "{err}"
    );
    let s = state(&dc);
    assert_eq!(
        s.mail["INBOX"].len(),
        1,
        "the odd message stays where it was: {s:?}"
    );
    assert_eq!(s.mail["未対応"].len(), 1, "{s:?}");
    assert_eq!(s.keywords, 0, "a refused move leaves no keyword: {s:?}");
    // Once the folder exists, the next run routes it.
    assert_eq!(code(&team.run(&["init"])), 0);
    let o = team.run(&["rotate", "--apply"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("0 filed, 1 assigned"), "{}", stdout(&o));
}

/// An IMAP date-time `days` before now.
fn days_ago(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

fn year_of(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days))
        .format("%Y")
        .to_string()
}

fn seed_old(dc: &Dovecot) {
    dc.append(
        "完了",
        "",
        &days_ago(400),
        &msg(Some("old1@x"), "old one", "1", ""),
    );
    dc.append(
        "完了",
        "",
        &days_ago(410),
        &msg(Some("old2@x"), "old two", "2", ""),
    );
    dc.append("完了", "", &days_ago(800), &msg(None, "older", "3", ""));
    dc.append(
        "完了",
        "",
        &days_ago(10),
        &msg(Some("new@x"), "recent", "4", ""),
    );
}

#[test]
fn archive_moves_old_done_mail_by_year_once() {
    let dc = Dovecot::start();
    let team = Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port),
        MEMBERS,
        &format!("{EVERY_DAY}archive:\n  history_after: 30d\n"),
    );
    let o = team.run(&["init"]);
    assert!(
        stdout(&o).contains("quota: not reported by the server"),
        "{}",
        stdout(&o)
    );
    seed_old(&dc);
    // Someone deleted this one in a mail client: it is not archived.
    dc.append(
        "完了",
        "\\Deleted",
        &days_ago(500),
        &msg(Some("gone@x"), "deleted", "d", ""),
    );
    // An event of last year about old1, as an earlier mailduty wrote it.
    let ev = "From: mailduty <mailduty@localhost>\r\nMessage-ID: <e1@mailduty>\r\nSubject: [mailduty] done\r\nX-Mailduty-Event: done\r\nX-Mailduty-Actor: tanaka\r\nX-Mailduty-Id: x\r\nX-Mailduty-Time: 2025-01-01T00:00:00Z\r\nX-Mailduty-Target: <old1@x>\r\nX-Mailduty-To-Folder: 完了\r\n\r\nb\r\n";
    dc.append("対応履歴", "\\Seen", &days_ago(400), ev.as_bytes());
    let before = state(&dc);
    let (y1, y2) = (year_of(405), year_of(800));

    let o = team.run(&["archive", "--dry-run", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["dry_run"], true);
    let moved = v["done"]["moved"].as_object().unwrap();
    assert_eq!(
        moved.values().map(|n| n.as_u64().unwrap()).sum::<u64>(),
        3,
        "{v}"
    );
    assert!(
        moved
            .keys()
            .all(|k| k.len() == "完了/2025".len() && k.starts_with("完了/")),
        "{v}"
    );
    assert!(moved.contains_key(&format!("完了/{y2}")), "{v}");
    assert!(moved.contains_key(&format!("完了/{y1}")), "{v}");
    assert_eq!(
        v["history"]["moved"][format!("対応履歴/{}", year_of(400))],
        1,
        "{v}"
    );
    assert_eq!(state(&dc), before, "--dry-run moved something");

    let o = team.run(&["archive"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).starts_with("archive: moved "), "{}", stdout(&o));
    let s = state(&dc);
    // Mail and events all still there: four messages, the old event now archived.
    assert_eq!(hashes(&s).len(), 6, "{s:?}");
    assert_eq!(
        s.mail["完了"].len(),
        2,
        "the recent and the deleted one stay: {s:?}"
    );
    let archived: usize = s
        .mail
        .iter()
        .filter(|(f, _)| f.starts_with("完了/"))
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(archived, 3, "{s:?}");
    assert!(
        s.mail.contains_key(&format!("対応履歴/{}", year_of(400))),
        "{s:?}"
    );
    assert_eq!(
        s.events.iter().filter(|e| e.0 == "archive").count(),
        1,
        "one summary event per run: {s:?}"
    );
    let mail: Vec<String> = s
        .mail
        .iter()
        .filter(|(f, _)| !f.starts_with("対応履歴"))
        .flat_map(|(_, v)| v.clone())
        .collect();
    assert_eq!(mail.len(), 5, "no mail lost or doubled: {s:?}");

    // Again: nothing is old enough any more, and no second summary event.
    let o = team.run(&["archive"]);
    assert!(stdout(&o).contains("nothing old enough"), "{}", stdout(&o));
    assert_eq!(
        state(&dc)
            .events
            .iter()
            .filter(|e| e.0 == "archive")
            .count(),
        1
    );

    // Archived mail keeps its ID and is found with --all, and the miss says so.
    let o = team.run(&["show", "<old1@x>"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("--all"), "{}", stderr(&o));
    let o = team.run(&["show", "<old1@x>", "--all", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(
        shown["folder"].as_str().unwrap().starts_with("完了/"),
        "{shown}"
    );
    assert_eq!(
        shown["history"].as_array().unwrap().len(),
        1,
        "the archived event: {shown}"
    );
    let o = team.run(&["history", "<old1@x>", "--all", "--format", "json"]);
    let evs: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(evs.as_array().unwrap().len(), 1, "{evs}");
}

#[test]
fn archive_cut_at_every_command_with_and_without_move() {
    let tail = format!("{EVERY_DAY}archive:\n  history_after: 30d\n");
    let no_move = Dovecot::start_with(
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR NAMESPACE UIDPLUS ID ENABLE IDLE CONDSTORE\n}\n",
    );
    for (name, dc) in [
        ("archive", Dovecot::start()),
        ("archive without MOVE", no_move),
    ] {
        let (dc, cutter, team) = setup_on(dc, &tail);
        // Every run starts as the first did: no archive folders yet.
        let prepare = |dc: &Dovecot, _: &Team| {
            for f in dc.folders() {
                if f.starts_with("完了/") || f.starts_with("対応履歴/") {
                    dc.doveadm(&["mailbox", "delete", "-s", "-u", harness::USER, &f]);
                }
            }
            seed_old(dc);
        };
        let archive: &[&str] = &["archive"];
        let f = cut_everywhere(&Scenario {
            name,
            dc: &dc,
            cutter: &cutter,
            team: &team,
            env: &[],
            prepare: &prepare,
            command: archive,
            then: &[archive],
            outside: &none,
            per_run: Some("archive"),
        });
        check(&f);
    }
}

#[test]
fn quota_is_shown_and_warned_about() {
    let dc = Dovecot::start_with(
        "mail_plugins = $mail_plugins quota\nprotocol imap {\n  mail_plugins = $mail_plugins imap_quota\n}\nplugin {\n  quota = maildir:User quota\n  quota_rule = *:storage=100K\n}\n",
    );
    let team = Team::plain(dc.imap_port, MEMBERS);
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("quota: 0 B of 100 KiB, 0%"),
        "{}",
        stdout(&o)
    );
    let big = "x".repeat(88 * 1024);
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &msg(Some("big@x"), "big", &big, ""),
    );
    let o = team.run(&["init"]);
    assert!(
        stdout(&o).contains("above quota.warn (80%)"),
        "{}",
        stdout(&o)
    );
    let o = team.run(&["report", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(r["quota"]["percent"].as_u64().unwrap() >= 80, "{r}");
    assert_eq!(r["quota"]["limit_bytes"], 102400, "{r}");
    // Where the space goes: the big message is in 未対応.
    let sizes = r["folder_sizes"].as_object().unwrap();
    assert!(sizes["未対応"].as_u64().unwrap() > 88 * 1024, "{r}");
    assert!(
        sizes.contains_key("完了") && sizes.contains_key("対応中/tanaka"),
        "{r}"
    );
    let o = team.run(&["report"]);
    let text = stdout(&o);
    assert!(
        text.lines()
            .nth(1)
            .unwrap_or("")
            .starts_with("⚠ 容量 (quota)"),
        "{text}"
    );
    assert!(text.contains("; folders: 未対応 "), "{text}");
}

#[test]
fn hold_and_dismiss_cut_at_every_command() {
    let (dc, cutter, team) = setup(&format!("{EVERY_DAY}{}", duty("tanaka")));
    let in_unclaimed = |dc: &Dovecot, _: &Team| {
        dc.append(
            "未対応",
            "",
            &hours_ago(2),
            &msg(Some("cut@x"), "cut", "body", ""),
        );
    };
    let claimed = |dc: &Dovecot, team: &Team| {
        in_unclaimed(dc, team);
        let o = team.run(&["--as", "tanaka", "claim", "<cut@x>"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    let held = |dc: &Dovecot, team: &Team| {
        claimed(dc, team);
        let o = team.run(&["--as", "tanaka", "hold", "<cut@x>"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    let rotate: &[&str] = &["rotate", "--apply"];
    // An absolute --until: a retry asks for the same hold, which is recorded once.
    let hold: &[&str] = &[
        "--as",
        "suzuki",
        "hold",
        "<cut@x>",
        "--until",
        "2099-12-10 14:00",
        "--note",
        "返事待ち",
    ];
    let dismiss: &[&str] = &["--as", "tanaka", "dismiss", "<cut@x>", "--note", "お礼のみ"];
    let claim: &[&str] = &["--as", "tanaka", "claim", "<cut@x>"];
    for (name, prepare, cmd) in [
        (
            "hold unclaimed",
            &in_unclaimed as &dyn Fn(&Dovecot, &Team),
            hold,
        ),
        ("hold claimed", &claimed, hold),
        ("dismiss unclaimed", &in_unclaimed, dismiss),
        ("dismiss claimed", &claimed, dismiss),
        ("claim from 保留", &held, claim),
    ] {
        let f = cut_everywhere(&Scenario {
            name,
            dc: &dc,
            cutter: &cutter,
            team: &team,
            env: &[],
            prepare,
            command: cmd,
            then: &[cmd, rotate],
            outside: &none,
            per_run: None,
        });
        check(&f);
    }
}

#[test]
fn held_mail_given_back_by_rotate_cut_at_every_command() {
    let (dc, cutter, team) = setup(&format!("{EVERY_DAY}{}", duty("tanaka")));
    let prepare = |dc: &Dovecot, team: &Team| {
        dc.append(
            "未対応",
            "",
            &hours_ago(3),
            &msg(Some("due@x"), "due", "1", ""),
        );
        dc.append(
            "INBOX",
            "",
            &hours_ago(1),
            &msg(
                Some("ooo@x"),
                "自動応答",
                "2",
                "Auto-Submitted: auto-replied\r\n",
            ),
        );
        let o = team.run(&["--as", "suzuki", "hold", "<due@x>", "--until", "2026-01-01"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    let rotate: &[&str] = &["rotate", "--apply"];
    let f = cut_everywhere(&Scenario {
        name: "rotate --apply giving held mail back",
        dc: &dc,
        cutter: &cutter,
        team: &team,
        env: &[],
        prepare: &prepare,
        command: rotate,
        then: &[rotate],
        outside: &none,
        // The mail-client step's bookmark: a cut run and its rerun may each write one.
        per_run: Some("scan"),
    });
    check(&f);
}

/// Without MOVE a claim is COPY, \Deleted and UID EXPUNGE. Cut right before the
/// EXPUNGE, the original stays in 未対応 marked \Deleted with the claimer's keyword:
/// it is in no list, a retried claim finds only the copy, and the next
/// `rotate --apply` expunges it (the copy vouches for it) and writes the claim's
/// event once. A message a mail client marked \Deleted beside it stays.
#[test]
fn a_removal_cut_before_its_expunge_is_finished_by_the_next_run() {
    let dc = Dovecot::start_with(
        "protocol imap {\n  imap_capability = IMAP4rev1 LITERAL+ SASL-IR NAMESPACE UIDPLUS ID ENABLE IDLE CONDSTORE\n}\n",
    );
    let (dc, cutter, team) = setup_on(dc, EVERY_DAY);
    let prepare = |dc: &Dovecot| {
        dc.wipe();
        let when = hours_ago(2);
        dc.append("未対応", "", &when, &msg(Some("cut@x"), "cut", "body", ""));
        // The same bytes and arrival, already a proven copy in 完了, but marked
        // \Deleted by a mail client: never mailduty's to expunge.
        dc.append("完了", "", &when, &msg(Some("client@x"), "c", "b", ""));
        dc.append(
            "未対応",
            "\\Deleted",
            &when,
            &msg(Some("client@x"), "c", "b", ""),
        );
    };
    prepare(&dc);
    cutter.arm(0, Cut::Before);
    let claim: &[&str] = &["-v", "--as", "tanaka", "claim", "<cut@x>"];
    let o = team.run(claim);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The tag of the claim's UID EXPUNGE is its place among the commands.
    let at: usize = stderr(&o)
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("C: m")?;
            let (n, cmd) = rest.split_once(' ')?;
            cmd.starts_with("UID EXPUNGE").then(|| n.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no UID EXPUNGE: {}", stderr(&o)));
    // What a person and cron do next: the claim again, then the run.
    let next = |team: &Team| {
        let o = team.run(&["--as", "tanaka", "claim", "<cut@x>"]);
        assert_eq!(code(&o), 0, "the retry finds the copy: {}", stderr(&o));
        let o = team.run(&["rotate", "--apply"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    };
    next(&team);
    let flags = |mid: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = dc
            .locate(mid)
            .into_iter()
            .map(|(f, _, fl)| {
                let kept: Vec<&str> = fl
                    .split_whitespace()
                    .filter(|x| *x == "\\Deleted" || x.starts_with("$MailDuty"))
                    .collect();
                (f, kept.join(" "))
            })
            .collect();
        v.sort();
        v
    };
    let want = state(&dc);

    prepare(&dc);
    cutter.arm(at, Cut::Before);
    let o = team.run(claim);
    assert!(cutter.fired());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    cutter.arm(0, Cut::Before);
    assert_eq!(
        flags("cut@x"),
        [
            ("対応中/tanaka".into(), "$MailDutyClaim_tanaka".into()),
            ("未対応".into(), "\\Deleted $MailDutyClaim_tanaka".into()),
        ],
        "a cut before the EXPUNGE"
    );
    let o = team.run(&["list", "--format", "ids"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    next(&team);
    assert_eq!(flags("cut@x"), [("対応中/tanaka".into(), String::new())]);
    assert_eq!(
        flags("client@x"),
        [
            ("完了".into(), String::new()),
            ("未対応".into(), "\\Deleted".into()),
        ],
        "a client's \\Deleted is left alone"
    );
    let got = state(&dc);
    assert_eq!(got.events, want.events);
    assert_eq!(got.mail, want.mail);
}
