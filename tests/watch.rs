//! `mailduty watch` against a real Dovecot: new mail filed and handed out on IDLE's
//! news (the timer set far off, so only IDLE can have started the run), a reply in
//! Sent recorded, a server restart survived, a watch racing `rotate --apply` and
//! another watch without a message filed twice, and SIGTERM leaving nothing lost.
//! Latencies are printed, not asserted: these machines are noisy.

mod harness;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use harness::https::Https;
use harness::seed::hours_ago;
use harness::{Dovecot, MEMBERS, Team, code, imapc, stderr};

/// A running watch, its output lines collected as they come.
struct Watch {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Watch {
    fn start(team: &Team, every: &str) -> Watch {
        Watch::start_until(team, every, "waiting on INBOX")
    }

    /// Started, and on its way once a line holds `ready`.
    fn start_until(team: &Team, every: &str, ready: &str) -> Watch {
        Watch::start_with(team, every, ready, &[])
    }

    /// `start_until` with more environment for the watch.
    fn start_with(team: &Team, every: &str, ready: &str, env: &[(&str, String)]) -> Watch {
        let mut cmd = team.command(&["watch", "--every", every]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let l = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { return };
                    l.lock().unwrap().push(line);
                }
            });
        }
        let w = Watch { child, lines };
        w.until(ready, Duration::from_secs(30));
        w
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits until a line contains `what`.
    fn until(&self, what: &str, limit: Duration) {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.text().contains(what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no line with {what:?} within {limit:?}:\n{}", self.text());
    }

    fn term(mut self) -> String {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "watch exited {status:?}:\n{}",
            self.text()
        );
        std::thread::sleep(Duration::from_millis(100));
        self.text()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mail(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer@example.com\r\nTo: support@example.jp\r\nSubject: question {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

/// Waits until `mid` is in `want`; returns how long that took.
fn arrives(dc: &Dovecot, mid: &str, want: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while started.elapsed() < limit {
        if dc.locate(mid).iter().any(|p| p.0 == want) {
            return started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{mid} not in {want} after {limit:?}: {:?}", dc.locate(mid));
}

fn duty_team(dc: &Dovecot, tail: &str) -> Team {
    Team::with_tail(
        &format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port),
        MEMBERS,
        &format!(
            "business_hours: {{ start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }}\nroster:\n  rotation: {{ members: [tanaka], every: day, start: 2026-01-01 }}\n  holidays: {{ japan: false }}\nassign: duty\n{tail}"
        ),
    )
}

#[test]
fn new_mail_is_filed_handed_out_and_announced_on_idle() {
    let dc = Dovecot::start();
    let crt = dc.dir.path().join("server.crt");
    let key = dc.dir.path().join("server.key");
    let hook = Https::start(&crt, &key);
    let tail = format!(
        "notify:\n  - webhook: {{ url_env: HOOK_URL, ca_file: {} }}\n    events: [assign]\n",
        dc.ca().display()
    );
    let team = duty_team(&dc, &tail);
    assert_eq!(code(&team.run(&["init"])), 0);
    // The webhook URL comes from the environment of the watch itself.
    let w = Watch::start_with(
        &team,
        "1h",
        "waiting on INBOX",
        &[("HOOK_URL", format!("{}/hook/secret-path", hook.url()))],
    );

    dc.append("INBOX", "", &hours_ago(0), &mail("w1@example.com"));
    let took = arrives(
        &dc,
        "w1@example.com",
        "対応中/tanaka",
        Duration::from_secs(30),
    );
    eprintln!("watch: filed and handed out {took:?} after the APPEND");
    let started = Instant::now();
    while hook.delivered().is_empty() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(hook.delivered().len(), 1, "the assignment was announced");
    let out = w.term();
    assert!(
        out.contains("assign") && out.contains("w1@example.com"),
        "{out}"
    );
    assert!(!out.contains("secret-path"), "{out}");
    assert!(out.contains("watch: stopped"), "{out}");
}

#[test]
fn a_reply_filed_in_sent_is_recorded_on_idle() {
    // Dovecot marking its Sent folder `\Sent`, as Thunderbird and Outlook find it.
    let dc = Dovecot::start_with(
        "namespace inbox {\n  mailbox Sent {\n    special_use = \\Sent\n  }\n}\n",
    );
    dc.doveadm(&["mailbox", "create", "-u", harness::USER, "Sent"]);
    let team = duty_team(&dc, "");
    assert_eq!(code(&team.run(&["init"])), 0);
    dc.append("未対応", "", &hours_ago(1), &mail("q1@example.com"));
    let w = Watch::start(&team, "1h");
    w.until("waiting on Sent", Duration::from_secs(30));
    let reply = b"Message-ID: <r1@example.jp>\r\nFrom: tanaka@example.jp\r\nTo: customer@example.com\r\nSubject: Re: question q1@example.com\r\nIn-Reply-To: <q1@example.com>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0900\r\n\r\nthanks\r\n";
    let started = Instant::now();
    dc.append("Sent", "\\Seen", &hours_ago(0), reply);
    w.until("reply", Duration::from_secs(30));
    eprintln!(
        "watch: reply recorded {:?} after the APPEND",
        started.elapsed()
    );
    drop(w);
    let replies: Vec<_> = team
        .events()
        .into_iter()
        .filter(|e| e["event"] == "reply")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
}

#[test]
fn a_server_restart_is_survived_and_what_came_meanwhile_is_filed() {
    let mut dc = Dovecot::start();
    let team = duty_team(&dc, "");
    assert_eq!(code(&team.run(&["init"])), 0);
    let w = Watch::start(&team, "1h");
    dc.stop();
    w.until("connection lost", Duration::from_secs(30));
    // Delivered while the server is down (doveadm writes the Maildir directly).
    dc.deliver_offline(&[mail("down@example.com")]);
    dc.restart();
    let took = arrives(
        &dc,
        "down@example.com",
        "対応中/tanaka",
        Duration::from_secs(90),
    );
    eprintln!("watch: caught up {took:?} after the restart");
    dc.append("INBOX", "", &hours_ago(0), &mail("after@example.com"));
    arrives(
        &dc,
        "after@example.com",
        "対応中/tanaka",
        Duration::from_secs(30),
    );
    let out = w.term();
    assert!(out.matches("waiting on INBOX").count() >= 2, "{out}");
}

/// Every message exactly once, outside the inbox, with one event each that took it
/// out of the inbox (`file`, or `assign` straight to the member on duty).
fn each_once(team: &Team, dc: &Dovecot, mids: &[String]) {
    let started = Instant::now();
    while dc.count("INBOX") > 0 && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(dc.count("INBOX"), 0);
    for m in mids {
        let at = dc.locate(m);
        assert_eq!(at.len(), 1, "{m}: {at:?}");
    }
    let evs = team.events();
    for m in mids {
        let files = evs
            .iter()
            .filter(|e| e["from_folder"] == "INBOX" && e["message_id"] == m.as_str())
            .count();
        assert_eq!(files, 1, "{m} taken from the inbox {files} times");
    }
}

#[test]
fn a_watch_a_cron_run_and_a_second_watch_never_file_twice() {
    let dc = Dovecot::start();
    let team = duty_team(&dc, "");
    assert_eq!(code(&team.run(&["init"])), 0);
    let a = Watch::start(&team, "1h");
    let b = Watch::start(&team, "1h");
    let mids: Vec<String> = (0..200).map(|i| format!("burst{i}@example.com")).collect();
    let port = dc.imap_port;
    let to_send = mids.clone();
    let sender = std::thread::spawn(move || {
        for m in &to_send {
            imapc::append(port, "INBOX", "", &hours_ago(0), &mail(m));
        }
    });
    for _ in 0..3 {
        let o = team.run(&["rotate", "--apply"]);
        assert!(matches!(code(&o), 0 | 1), "{}", stderr(&o));
    }
    sender.join().unwrap();
    each_once(&team, &dc, &mids);
    a.term();
    b.term();
}

#[test]
fn sigterm_during_a_batch_loses_nothing() {
    let dc = Dovecot::start();
    let team = duty_team(&dc, "");
    assert_eq!(code(&team.run(&["init"])), 0);
    let mids: Vec<String> = (0..1000).map(|i| format!("batch{i}@example.com")).collect();
    dc.deliver_offline(&mids.iter().map(|m| mail(m)).collect::<Vec<_>>());
    // The first run starts at once on the 1,000 waiting; TERM arrives during it, and
    // the watch ends once that run is over.
    let w = Watch::start_until(&team, "1h", "catching up");
    let out = w.term();
    eprintln!(
        "watch: after TERM, {} of 1000 still in the inbox",
        dc.count("INBOX")
    );
    assert!(out.contains("watch: stopped"), "{out}");
    // A new watch (or the next cron run) finishes whatever was left.
    let again = Watch::start(&team, "1h");
    each_once(&team, &dc, &mids);
    again.term();
}

#[test]
fn a_session_ended_with_its_token_comes_back_with_a_fresh_one() {
    let oa = harness::oauth::OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::raw(&format!(
        "imap:\n  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n  user: support\n{}{MEMBERS}{}",
        dc.imaps_port,
        dc.ca().display(),
        oa.block("device"),
        "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  rotation: { members: [tanaka], every: day, start: 2026-01-01 }\n  holidays: { japan: false }\nassign: duty\n"
    ));
    // Tokens that live a minute: every new connection refreshes first.
    oa.control(r#"{"lifetime": 60}"#);
    assert_eq!(code(&team.run(&["login"])), 0);
    assert_eq!(code(&team.run(&["init"])), 0);
    let w = Watch::start(&team, "1h");
    let before = oa.grants("refresh_token").1;
    // The provider ends the tokens and the server the sessions (Gmail closes an IMAP
    // session when its token expires).
    oa.control(r#"{"expire": true}"#);
    dc.doveadm(&["kick", "support"]);
    w.until("connection lost", Duration::from_secs(30));
    dc.append("INBOX", "", &hours_ago(0), &mail("tok@example.com"));
    let took = arrives(
        &dc,
        "tok@example.com",
        "対応中/tanaka",
        Duration::from_secs(90),
    );
    eprintln!("watch: back with a fresh token, mail filed {took:?} after the APPEND");
    let after = oa.grants("refresh_token").1;
    assert!(
        after > before,
        "reconnecting refreshed the token ({before} → {after})"
    );
    let out = w.term();
    assert!(out.contains("connection lost"), "{out}");
}
