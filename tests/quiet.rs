//! A `rotate --apply` with nothing new, against a real Dovecot (CONDSTORE): a few
//! round trips and a few kilobytes whatever the folders hold, and the same result
//! with the machine's cache kept, deleted or corrupted. Round trips and bytes are
//! counted from `-v`, never timed.

mod harness;

use harness::{ALWAYS_OPEN, Dovecot, MEMBERS, Team, USER, code, imap_date, stderr, stdout, trips};

const DUTY_BOTH: &str = "roster:\n  holidays: { japan: false }\n  weekdays: { mon: [tanaka, suzuki], tue: [tanaka, suzuki], wed: [tanaka, suzuki], thu: [tanaka, suzuki], fri: [tanaka, suzuki], sat: [tanaka, suzuki], sun: [tanaka, suzuki] }\n";

fn msg(mid: &str, n: usize) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer{n}@client.example\r\nTo: support@example.jp\r\nSubject: question {n}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody {n}\r\n"
    )
    .into_bytes()
}

/// Writes messages straight into a folder's Maildir and has Dovecot index them.
fn maildir_fill(dc: &Dovecot, folder: &str, tag: &str, n: usize) {
    let path = dc
        .doveadm(&["mailbox", "path", "-u", USER, folder])
        .trim()
        .to_string();
    let cur = std::path::Path::new(&path).join("cur");
    std::fs::create_dir_all(&cur).unwrap();
    let at = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    for i in 0..n {
        let m = msg(&format!("{tag}{i}@x"), i);
        let name = cur.join(format!(
            "1700000000.M{i}P{}.{tag},S={}:2,S",
            std::process::id(),
            m.len()
        ));
        std::fs::write(&name, &m).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&name)
            .unwrap()
            .set_modified(at)
            .unwrap();
    }
    let owner = std::process::Command::new("chown")
        .args(["-R", "nobody:nogroup", &path])
        .status()
        .unwrap();
    assert!(owner.success());
    dc.doveadm(&["force-resync", "-u", USER, folder]);
}

/// Bytes read from the server, from the `-v` summary.
fn bytes(err: &str) -> usize {
    err.lines()
        .find_map(|l| {
            l.strip_prefix("mailduty: ")?
                .strip_suffix(" bytes read from the IMAP server")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no byte count in the log"))
}

fn team(dc: &Dovecot, assign: &str) -> Team {
    let team = Team::plain(dc.imap_port, MEMBERS);
    let rules = std::fs::read_to_string(&team.rules)
        .unwrap()
        .replace(ALWAYS_OPEN, "")
        + &format!(
            "assign: {assign}\nbusiness_hours: {{ start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }}\n{DUTY_BOTH}"
        );
    std::fs::write(&team.rules, rules).unwrap();
    let o = team.run(&["init"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    team
}

fn rotate(team: &Team, env: &[(&str, String)]) -> (String, String) {
    let mut c = team.command(&["-v", "rotate", "--apply"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let err = stderr(&o);
    assert_eq!(
        code(&o),
        0,
        "{}",
        err.lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
    (stdout(&o), err)
}

/// Message-ID → folders, for every message outside the history.
fn placement(dc: &Dovecot) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = dc
        .everything()
        .into_iter()
        .filter(|(folder, _, _)| !harness::is_history(folder))
        .map(|(folder, _, text)| {
            let mid = text
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap_or("")
                .to_string();
            (mid, folder)
        })
        .collect();
    out.sort();
    out
}

/// The history without its times: event, actor, message and folders.
fn history(team: &Team) -> Vec<String> {
    let mut out: Vec<String> = team
        .events()
        .into_iter()
        .map(|e| {
            let f = |k: &str| e[k].as_str().unwrap_or("-").to_string();
            format!(
                "{} {} {} {} {}",
                f("event"),
                f("actor"),
                f("message_id"),
                f("from_folder"),
                f("to_folder")
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_run_with_nothing_new_reads_no_message_data() {
    let dc = Dovecot::start();
    let team = team(&dc, "none");
    maildir_fill(&dc, "対応中/tanaka", "t", 300);
    maildir_fill(&dc, "対応中/suzuki", "s", 300);
    maildir_fill(&dc, "未対応", "u", 2000);
    // The first run credits the claims to mail clients; the second finds its own
    // writes; from the third on nothing changed.
    rotate(&team, &[]);
    let (full, err) = rotate(&team, &[]);
    let full_bytes = bytes(&err);
    let (quiet, err) = rotate(&team, &[]);
    let (sent, t) = trips(&err);
    let b = bytes(&err);
    eprintln!("nothing new: {sent} commands, {t} round trips, {b} bytes (full run: {full_bytes})");
    assert!(err.contains("no folder changed"), "{err}");
    assert!(t <= 6, "{t} round trips");
    assert!(b <= 20_000, "{b} bytes read");
    assert!(!err.contains("FETCH"), "no message read");
    assert_eq!(quiet, full, "the same report");
    let before = placement(&dc);

    // Without the cache (another machine), the run reads everything and finds the same.
    std::fs::remove_dir_all(team.dir.path().join("cache")).unwrap();
    let (again, err) = rotate(&team, &[]);
    assert!(!err.contains("no folder changed"), "no cache to go on");
    assert!(bytes(&err) > 20_000);
    assert_eq!(again, quiet);
    assert_eq!(placement(&dc), before);
    let (_, err) = rotate(&team, &[]);
    assert!(err.contains("no folder changed"), "the cache is back");

    // The size of what is claimed and unclaimed does not change the count.
    maildir_fill(&dc, "未対応", "v", 3000);
    maildir_fill(&dc, "対応中/tanaka", "w", 500);
    rotate(&team, &[]);
    rotate(&team, &[]);
    let (_, err) = rotate(&team, &[]);
    assert!(err.contains("no folder changed"), "{err}");
    assert!(trips(&err).1 <= t, "round trips grew with the folders");
    assert!(bytes(&err) <= b + 200, "bytes grew with the folders");

    // Anything new in any folder is read: a message in the inbox is filed.
    dc.append(
        "INBOX",
        "",
        "20-Nov-2026 09:00:00 +0900",
        &msg("new1@x", 9001),
    );
    let (out, err) = rotate(&team, &[]);
    assert!(!err.contains("no folder changed"));
    assert!(out.contains("rotate: 1 filed"), "{out}");
    assert_eq!(dc.count("INBOX"), 0);
}

/// One scenario of cron runs with mail arriving, held mail coming due, a move made in
/// a mail client and quiet runs between, with `each` done to the cache before every
/// run: what every run printed, where every message ended, and the history.
fn scenario(each: &dyn Fn(&std::path::Path)) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let dc = Dovecot::start();
    let team = team(&dc, "duty");
    let cache = team.dir.path().join("cache");
    let mut printed = Vec::new();
    let mut run = |env: &[(&str, String)]| {
        each(&cache);
        let (out, _) = rotate(&team, env);
        // The hold's end is a time of its own run.
        let out = match out.split_once("(due: until ") {
            Some((a, b)) => format!("{a}(due: until T{}", &b[b.find(')').unwrap()..]),
            None => out,
        };
        printed.push(out);
    };
    for i in 0..6 {
        dc.append("INBOX", "", &imap_date(3), &msg(&format!("a{i}@x"), i));
    }
    run(&[]);
    run(&[]);
    run(&[]);
    // tanaka holds one of his for an hour; suzuki's goes to 完了 in a mail client.
    let mine = team.run(&["list", "--owner", "tanaka", "--format", "ids"]);
    let id = stdout(&mine).lines().next().unwrap().to_string();
    let o = team.run(&["--as", "tanaka", "hold", &id, "--until", "1h"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let theirs = stdout(&team.run(&["list", "--owner", "suzuki", "--format", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&theirs).unwrap();
    let mid = rows[0]["message_id"].as_str().unwrap().to_string();
    dc.doveadm(&[
        "move",
        "-u",
        USER,
        "完了",
        "mailbox",
        "対応中/suzuki",
        "HEADER",
        "Message-ID",
        &mid,
    ]);
    run(&[]);
    run(&[]);
    run(&[]);
    // Two hours on, nothing changed on the server: the held message is due all the same.
    let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    run(&[("MAILDUTY_NOW", later.clone())]);
    run(&[("MAILDUTY_NOW", later.clone())]);
    dc.append(
        "INBOX",
        "",
        "20-Nov-2026 09:00:00 +0900",
        &msg("late@x", 77),
    );
    run(&[("MAILDUTY_NOW", later.clone())]);
    run(&[("MAILDUTY_NOW", later)]);
    (printed, placement(&dc), history(&team))
}

#[test]
fn the_cache_kept_deleted_or_corrupted_gives_the_same_result() {
    let kept = scenario(&|_| {});
    // It did come back: the scenario tests what it means to.
    assert!(
        kept.0.iter().any(|o| o.contains("1 back from 保留")),
        "{:#?}",
        kept.0
    );
    assert!(
        kept.2.iter().any(|e| e.starts_with("done client")),
        "{:#?}",
        kept.2
    );
    let deleted = scenario(&|c| {
        let _ = std::fs::remove_dir_all(c);
    });
    assert_eq!(kept.0, deleted.0, "what every run printed");
    assert_eq!(kept.1, deleted.1, "where every message is");
    assert_eq!(kept.2, deleted.2, "the history");
    // A kept heads file changed after it was written (a subject, say): not used.
    let altered = scenario(&|c| {
        for f in std::fs::read_dir(c.join("mailduty"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().starts_with("heads-"))
        {
            let text = std::fs::read_to_string(f.path()).unwrap();
            std::fs::write(f.path(), text.replace("question", "forged")).unwrap();
        }
    });
    assert_eq!(kept.0, altered.0, "what every run printed");
    assert_eq!(kept.1, altered.1, "where every message is");
    assert_eq!(kept.2, altered.2, "the history");
    let corrupted = scenario(&|c| {
        for f in std::fs::read_dir(c.join("mailduty"))
            .into_iter()
            .flatten()
            .flatten()
        {
            std::fs::write(f.path(), b"{\"view\": garbage").unwrap();
        }
    });
    assert_eq!(kept.0, corrupted.0, "what every run printed");
    assert_eq!(kept.1, corrupted.1, "where every message is");
    assert_eq!(kept.2, corrupted.2, "the history");
}

/// The header fields of every message in `folder` the server answered in a run's
/// `-v` log (a flags-only answer has none).
fn headers_read(err: &str) -> usize {
    err.lines()
        .filter(|l| l.starts_with("S: * ") && l.contains("BODY[HEADER.FIELDS (MESSAGE-ID"))
        .count()
}

fn listed(team: &Team) -> Vec<String> {
    let o = team.run(&["list", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let mut rows: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} {} {} {}", r["id"], r["folder"], r["subject"], r["from"]))
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_run_reads_the_header_fields_of_new_mail_only() {
    let dc = Dovecot::start();
    let team = team(&dc, "duty");
    for i in 0..40 {
        dc.append("INBOX", "", &imap_date(3), &msg(&format!("h{i}@x"), i));
    }
    let (_, first) = rotate(&team, &[]);
    assert!(
        headers_read(&first) >= 40,
        "the first run reads every message"
    );
    rotate(&team, &[]);
    dc.append("INBOX", "", &imap_date(1), &msg("one@x", 500));
    let (out, err) = rotate(&team, &[]);
    assert!(out.contains("rotate: 0 filed, 1 assigned"), "{out}");
    // The 40 in the member folders are known: their flags are read, not their
    // headers. A FETCH `N:*` also answers the highest message below N, once per
    // folder at most.
    let n = headers_read(&err);
    assert!(n <= 1 + 6, "{n} messages' header fields read:\n{err}");
    assert!(
        err.lines()
            .filter(|l| l.starts_with("C: ") && l.ends_with("(UID FLAGS RFC822.SIZE MODSEQ)"))
            .count()
            >= 2,
        "{err}"
    );
    assert!(
        bytes(&err) < bytes(&first),
        "{} vs {}",
        bytes(&err),
        bytes(&first)
    );
    // What a person sees is what a whole read gives.
    let with = listed(&team);
    assert_eq!(with.len(), 41);
    assert!(with.iter().any(|r| r.contains("question 500")), "{with:?}");
    std::fs::remove_dir_all(team.dir.path().join("cache")).unwrap();
    dc.append("INBOX", "", &imap_date(1), &msg("two@x", 501));
    let (_, err) = rotate(&team, &[]);
    assert!(
        headers_read(&err) >= 42,
        "without the cache every message is read"
    );
    let whole = listed(&team);
    assert_eq!(whole.len(), 42);
    assert!(
        with.iter().all(|r| whole.contains(r)),
        "{with:?}\n{whole:?}"
    );
}

/// A folder deleted and made again restarts its UIDs under a new UIDVALIDITY: what
/// was kept of the old one never names a message of the new one. A message that was
/// \Deleted when the run read it and is no longer has its fields read then.
#[test]
fn kept_fields_never_name_another_message() {
    let dc = Dovecot::start();
    let team = team(&dc, "duty");
    for i in 0..6 {
        dc.append("INBOX", "", &imap_date(3), &msg(&format!("old{i}@x"), i));
    }
    rotate(&team, &[]);
    rotate(&team, &[]);
    // A message in a member folder marked \Deleted by a client, seen so by a run.
    let theirs = stdout(&team.run(&["list", "--owner", "suzuki", "--format", "json"]));
    let rows: serde_json::Value = serde_json::from_str(&theirs).unwrap();
    let gone = rows[0]["message_id"].as_str().unwrap().to_string();
    // As `listed` shows it, quoted: "question 1" is not "question 100".
    let subject = format!("\"{}\"", rows[0]["subject"].as_str().unwrap());
    dc.doveadm(&[
        "flags",
        "add",
        "-u",
        USER,
        "\\Deleted",
        "mailbox",
        "対応中/suzuki",
        "HEADER",
        "Message-ID",
        &gone,
    ]);
    dc.append("INBOX", "", &imap_date(1), &msg("n1@x", 100));
    rotate(&team, &[]);
    assert!(!listed(&team).iter().any(|r| r.contains(&subject)));
    dc.doveadm(&[
        "flags",
        "remove",
        "-u",
        USER,
        "\\Deleted",
        "mailbox",
        "対応中/suzuki",
        "HEADER",
        "Message-ID",
        &gone,
    ]);
    // tanaka's folder made again, with other mail under the same UIDs.
    let validity = |dc: &Dovecot| {
        dc.doveadm(&[
            "-f",
            "flow",
            "mailbox",
            "status",
            "-u",
            USER,
            "uidvalidity",
            "対応中/tanaka",
        ])
    };
    let before = validity(&dc);
    dc.doveadm(&["mailbox", "delete", "-u", USER, "対応中/tanaka"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    dc.doveadm(&["mailbox", "create", "-u", USER, "対応中/tanaka"]);
    assert_ne!(validity(&dc), before);
    for i in 0..3 {
        dc.append(
            "対応中/tanaka",
            "",
            &imap_date(2),
            &format!(
                "Message-ID: <fresh{i}@x>\r\nFrom: other@client.example\r\nSubject: made again {i}\r\n\r\nbody\r\n"
            )
            .into_bytes(),
        );
    }
    dc.append("INBOX", "", &imap_date(1), &msg("n2@x", 101));
    let (_, err) = rotate(&team, &[]);
    // Both were asked whole on their own: the undeleted one in suzuki's folder, and
    // tanaka's known UIDs under the new UIDVALIDITY.
    let asked = err
        .lines()
        .filter(|l| {
            l.starts_with("C: ") && l.contains("HEADER.FIELDS (MESSAGE-ID") && !l.contains(":* ")
        })
        .count();
    assert!(asked >= 2, "{err}");
    let with = listed(&team);
    assert!(
        with.iter()
            .any(|r| r.contains(&subject) && r.contains("対応中/suzuki")),
        "the undeleted one is back: {with:?}"
    );
    for i in 0..3 {
        assert!(
            with.iter()
                .any(|r| r.contains(&format!("made again {i}")) && r.contains("対応中/tanaka")),
            "{with:?}\n{err}"
        );
    }
    assert!(
        !with.iter().any(|r| r.contains("対応中/tanaka")
            && r.contains("question")
            && !r.contains("question 101")),
        "nothing of the old folder: {with:?}"
    );
    std::fs::remove_dir_all(team.dir.path().join("cache")).unwrap();
    assert_eq!(listed(&team), with);
}
