//! Chat notifications against a real Dovecot and a real HTTPS server (Python's
//! http.server with a certificate from the harness CA) that records every request:
//! each target's path, headers and payload, mentions, failures (HTTP 500, a timeout,
//! an untrusted certificate) that leave the mailbox work done and are delivered once
//! by the next run, overdue alerts once and only in business hours, and secrets that
//! never show.

mod harness;

use harness::https::{Https, Request};
use harness::seed::hours_ago;
use harness::{Dovecot, Team, code, stderr, stdout};

const SLACK_URL: &str = "https://hooks.slack.com/services/T0TEST/B0TEST/slackSECRET123";
const TEAMS_URL: &str = "https://prod.westus.logic.azure.com/workflows/wf1/triggers/manual/paths/invoke?sig=teamsSECRET456";
const CW_TOKEN: &str = "chatworkSECRET789";
const HOOK_PATH: &str = "/hooks/mailduty/hookSECRET000";

const SECRETS: &[&str] = &[
    "slackSECRET123",
    "teamsSECRET456",
    CW_TOKEN,
    "hookSECRET000",
];

const MEMBERS: &str = "members:\n  arimura: { name: 有村 健, email: arimura@example.jp, slack: U012AB3CD, chatwork: 1234567 }\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, slack: U0TANAKA1 }\n";

const OPEN: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\n";

fn msg(mid: &str, subject: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: 山田 <yamada@client.example>\r\nTo: support@example.jp\r\nSubject: {subject}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn servers() -> (Dovecot, Https) {
    let dc = Dovecot::start();
    let https = Https::start(
        &dc.dir.path().join("server.crt"),
        &dc.dir.path().join("server.key"),
    );
    (dc, https)
}

fn imap(dc: &Dovecot) -> String {
    format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
        dc.imaps_port,
        dc.ca().display()
    )
}

/// A team with `notify` (YAML list items) and the always-open calendar with a duty.
fn team(dc: &Dovecot, rest: &str, notify: &str) -> Team {
    let tail = format!(
        "{OPEN}roster:\n  weekdays: {{ mon: arimura, tue: arimura, wed: arimura, thu: arimura, fri: arimura, sat: arimura, sun: arimura }}\n  holidays: {{ japan: false }}\n{rest}notify:\n{notify}"
    );
    Team::with_tail(&imap(dc), MEMBERS, &tail)
}

fn rewrite_notify(team: &Team, dc: &Dovecot, rest: &str, notify: &str) {
    let fresh = self::team(dc, rest, notify);
    std::fs::copy(&fresh.rules, &team.rules).unwrap();
}

fn run(team: &Team, args: &[&str]) -> std::process::Output {
    cmd(team, args)
        .env("T_SLACK", SLACK_URL)
        .env("T_TEAMS", TEAMS_URL)
        .env("T_CW", CW_TOKEN)
        .output()
        .unwrap()
}

/// The binary for `team`, with no proxy from the environment between it and the
/// test server.
fn cmd(team: &Team, args: &[&str]) -> std::process::Command {
    let mut c = team.command(args);
    for v in [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        c.env_remove(v);
    }
    c
}

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    stdout(o)
}

fn no_secrets(o: &std::process::Output) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for s in SECRETS {
        assert!(!all.contains(s), "secret {s} shown:\n{all}");
    }
}

fn form_field(body: &str, key: &str) -> Option<String> {
    body.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            let v = v.replace('+', " ");
            let mut bytes = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    bytes.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    bytes.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8(bytes).unwrap()
        })
    })
}

fn paths(reqs: &[Request]) -> Vec<String> {
    reqs.iter().map(|r| r.path.clone()).collect()
}

#[test]
fn every_target_gets_its_payload_with_mentions_and_no_secret_shows() {
    let (dc, https) = servers();
    let url = https.url();
    let ca = dc.ca();
    // The generic webhook is given its whole URL (the test server's); the others
    // keep their real URLs' paths with the endpoint in front.
    let notify = format!(
        "  - slack: {{ webhook_env: T_SLACK, endpoint: \"{url}\", ca_file: {ca} }}\n  - teams: {{ webhook_env: T_TEAMS, endpoint: \"{url}\", ca_file: {ca} }}\n    events: [assign, done]\n  - chatwork: {{ room: 4242, token_env: T_CW, endpoint: \"{url}\", ca_file: {ca} }}\n  - webhook: {{ url_env: T_HOOK2, ca_file: {ca} }}\n    name: n8n\n",
        ca = ca.display()
    );
    let team = team(&dc, "assign: duty\n", &notify);
    let hook = format!("{url}{HOOK_PATH}");
    let run = |args: &[&str]| {
        cmd(&team, args)
            .env("T_SLACK", SLACK_URL)
            .env("T_TEAMS", TEAMS_URL)
            .env("T_CW", CW_TOKEN)
            .env("T_HOOK2", &hook)
            .output()
            .unwrap()
    };
    ok(&run(&["init"]));
    dc.append(
        "INBOX",
        "",
        &hours_ago(1),
        &msg("quote@client.example", "見積もりのお願い <!channel>"),
    );

    let o = run(&["-v", "rotate", "--apply"]);
    ok(&o);
    no_secrets(&o);
    assert!(
        stderr(&o).contains("notify slack: HTTP 200"),
        "{}",
        stderr(&o)
    );
    assert_eq!(dc.locate("quote@client.example")[0].0, "対応中/arimura");

    let got = https.delivered();
    assert_eq!(got.len(), 4, "one assign each: {:?}", paths(&got));
    let by_path = |p: &str| {
        got.iter()
            .find(|r| r.path.starts_with(p))
            .unwrap_or_else(|| panic!("no request to {p}: {:?}", paths(&got)))
            .clone()
    };

    let slack = by_path("/services/");
    assert_eq!(slack.method, "POST");
    assert_eq!(slack.path, "/services/T0TEST/B0TEST/slackSECRET123");
    assert!(
        slack
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let text = slack.json()["text"].as_str().unwrap().to_string();
    assert!(
        text.starts_with("<@U012AB3CD> *有村 健さんに割り当てました*"),
        "{text}"
    );
    assert!(
        text.contains("件名: 見積もりのお願い &lt;!channel&gt;"),
        "{text}"
    );
    assert!(
        text.contains("差出人: 山田 &lt;yamada@client.example&gt;"),
        "{text}"
    );
    assert!(text.contains("`mailduty show "), "{text}");
    assert!(text.contains("理由: 今日の当番"), "{text}");

    let teams = by_path("/workflows/");
    assert_eq!(
        teams.path,
        "/workflows/wf1/triggers/manual/paths/invoke?sig=teamsSECRET456"
    );
    let card = teams.json();
    assert_eq!(card["type"], "message");
    let att = &card["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(att["content"]["type"], "AdaptiveCard");
    assert_eq!(
        att["content"]["body"][0]["text"],
        "有村 健さんに割り当てました"
    );
    assert_eq!(att["content"]["body"][1]["facts"][0]["title"], "件名");

    let cw = by_path("/v2/rooms/");
    assert_eq!(cw.path, "/v2/rooms/4242/messages");
    assert_eq!(cw.header("x-chatworktoken"), Some(CW_TOKEN));
    assert_eq!(
        cw.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let body = form_field(&cw.body, "body").expect("form field body");
    assert!(
        body.starts_with(
            "[To:1234567]有村 健さん\n[info][title]有村 健さんに割り当てました[/title]"
        ),
        "{body}"
    );

    let generic = by_path("/hooks/");
    assert_eq!(generic.path, HOOK_PATH);
    assert_eq!(generic.header("x-mailduty-event"), Some("assign"));
    let j = generic.json();
    assert_eq!(j["schema"], "mailduty.notify/1");
    assert_eq!(j["event"], "assign");
    assert_eq!(j["message_id"], "quote@client.example");
    assert_eq!(j["owner"], "arimura");
    assert_eq!(j["mentions"][0]["chatwork"], "1234567");
    let id = j["id"].as_str().unwrap().to_string();
    assert!(j["command"].as_str().unwrap().ends_with(&id));
    for r in &got {
        eprintln!(
            "RECEIVED {} {}\n{}\n",
            r.path,
            r.header("content-type").unwrap_or(""),
            r.body
        );
    }

    // Done: every target, teams too (it wants assign and done).
    let o = run(&["-v", "--as", "arimura", "done", &id]);
    ok(&o);
    no_secrets(&o);
    let got = https.delivered();
    assert_eq!(got.len(), 8, "{:?}", paths(&got));
    let last: Vec<&Request> = got[4..].iter().collect();
    assert!(
        last.iter()
            .all(|r| !r.body.contains("<@U012AB3CD>") && !r.body.contains("[To:")),
        "done mentions nobody"
    );
    let slack_done = last
        .iter()
        .find(|r| r.path.starts_with("/services/"))
        .unwrap();
    assert!(
        slack_done.json()["text"]
            .as_str()
            .unwrap()
            .starts_with("*有村 健さんが対応を完了しました*"),
        "{}",
        slack_done.body
    );

    // Nothing is sent twice: another run finds nothing pending.
    ok(&run(&["rotate", "--apply"]));
    assert_eq!(https.requests().len(), 8);

    // The delivered marks are not events: history shows the moves only.
    let h = ok(&run(&["history", &id]));
    assert!(!h.contains("notified"), "{h}");

    // notify --test reaches every target and says so.
    let o = run(&["-v", "notify", "--test"]);
    let out = ok(&o);
    no_secrets(&o);
    for name in ["slack: ok", "teams: ok", "chatwork: ok", "n8n: ok"] {
        assert!(out.contains(name), "{out}");
    }
    assert_eq!(https.requests().len(), 12);
}

#[test]
fn failed_deliveries_leave_the_mailbox_change_and_are_sent_once_later() {
    let (dc, https) = servers();
    let url = https.url();
    let ca = dc.ca().display().to_string();
    let good = format!(
        "  - slack: {{ webhook_env: T_SLACK, endpoint: \"{url}\", ca_file: {ca}, timeout: 1s }}\n"
    );
    let team = team(&dc, "", &good);
    ok(&run(&team, &["init"]));
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &msg("a@client.example", "請求書について"),
    );

    // HTTP 500: the claim stands, one warning, exit 0.
    https.answer(500, 0.0);
    let o = run(
        &team,
        &["-v", "--as", "arimura", "claim", "<a@client.example>"],
    );
    ok(&o);
    no_secrets(&o);
    let err = stderr(&o);
    let warn: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("mailduty: warning:"))
        .collect();
    assert_eq!(warn.len(), 1, "{}", stderr(&o));
    assert!(
        warn[0].contains("HTTP 500") && warn[0].contains("kept for the next run"),
        "{}",
        warn[0]
    );
    assert_eq!(dc.locate("a@client.example")[0].0, "対応中/arimura");
    assert_eq!(https.requests().len(), 1);

    // The next run (cron's, with nothing of its own to do) delivers it, once.
    https.answer(200, 0.0);
    ok(&run(&team, &["rotate", "--apply"]));
    let got = https.delivered();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("有村 健さんが対応中です")
    );
    ok(&run(&team, &["rotate", "--apply"]));
    assert_eq!(https.requests().len(), 2);

    // A timeout: the server answers after 3 s, the target waits 1 s.
    https.answer(200, 3.0);
    let o = run(&team, &["--as", "arimura", "release", "<a@client.example>"]);
    ok(&o);
    no_secrets(&o);
    assert!(stderr(&o).contains("no answer within 1s"), "{}", stderr(&o));
    assert_eq!(dc.locate("a@client.example")[0].0, "未対応");
    https.answer(200, 0.0);
    let o = run(&team, &["notify"]);
    assert!(
        ok(&o).contains("notify: 1 sent, 0 pending"),
        "{}",
        stdout(&o)
    );
    let releases = https
        .delivered()
        .into_iter()
        .filter(|r| r.body.contains("未対応に戻しました") && r.path.contains("slackSECRET123"))
        .count();
    // The slow answer was a 200 too, but late: the client gave up on it, so the
    // second try is the one that counts; nothing is sent a third time.
    assert_eq!(releases, 2);
    ok(&run(&team, &["notify"]));
    assert_eq!(https.requests().len(), 4);

    // An untrusted certificate (no ca_file: the harness CA is no system root).
    let untrusted = format!("  - slack: {{ webhook_env: T_SLACK, endpoint: \"{url}\" }}\n");
    rewrite_notify(&team, &dc, "", &untrusted);
    let o = run(
        &team,
        &["-v", "--as", "arimura", "done", "<a@client.example>"],
    );
    ok(&o);
    no_secrets(&o);
    assert!(stderr(&o).contains("TLS failed"), "{}", stderr(&o));
    assert_eq!(dc.locate("a@client.example")[0].0, "完了");
    assert_eq!(https.requests().len(), 4, "no request got through TLS");
    rewrite_notify(&team, &dc, "", &good);
    ok(&run(&team, &["rotate", "--apply"]));
    ok(&run(&team, &["rotate", "--apply"]));
    let dones: Vec<Request> = https
        .delivered()
        .into_iter()
        .filter(|r| r.body.contains("対応を完了しました"))
        .collect();
    assert_eq!(dones.len(), 1);
    assert_eq!(https.requests().len(), 5);
}

#[test]
fn overdue_alerts_come_once_and_only_in_business_hours() {
    let (dc, https) = servers();
    let url = https.url();
    let ca = dc.ca().display().to_string();
    let notify =
        format!("  - webhook: {{ url_env: T_HOOK2, ca_file: {ca} }}\n    events: [overdue]\n");
    let hook = format!("{url}{HOOK_PATH}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d")
        .to_string();
    let closed = Team::with_tail(
        &imap(&dc),
        MEMBERS,
        &format!(
            "{OPEN}roster:\n  holidays: {{ japan: false, dates: [{today}] }}\nnotify:\n{notify}"
        ),
    );
    let run = |t: &Team, args: &[&str]| cmd(t, args).env("T_HOOK2", &hook).output().unwrap();
    ok(&run(&closed, &["init"]));
    dc.append(
        "未対応",
        "",
        &hours_ago(30),
        &msg("late@client.example", "至急: 納期"),
    );
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &msg("fresh@client.example", "まだ間に合う"),
    );

    // Today is a holiday: no business time, no alert.
    ok(&run(&closed, &["rotate", "--apply"]));
    assert_eq!(https.requests().len(), 0);

    let open = team(&dc, "", &notify);
    ok(&run(&open, &["rotate", "--apply"]));
    let got = https.delivered();
    assert_eq!(got.len(), 1, "{:?}", paths(&got));
    let j = got[0].json();
    assert_eq!(j["event"], "overdue");
    assert_eq!(j["message_id"], "late@client.example");
    assert_eq!(j["text"], "未対応のまま期限を過ぎました");
    assert_eq!(j["note"], "SLA 4h");
    // The member on duty is mentioned.
    assert_eq!(j["mentions"][0]["member"], "arimura");
    assert_eq!(j["mentions"][0]["slack"], "U012AB3CD");
    assert!(
        j["command"]
            .as_str()
            .unwrap()
            .starts_with("mailduty claim ")
    );

    ok(&run(&open, &["rotate", "--apply"]));
    ok(&run(&open, &["rotate", "--apply"]));
    assert_eq!(https.requests().len(), 1, "overdue comes once per message");
    let h = ok(&run(&open, &["history", "<late@client.example>"]));
    assert_eq!(h.matches("overdue").count(), 1, "{h}");
}

#[test]
fn secrets_in_the_rules_need_a_private_file_and_failures_name_no_secret() {
    let (dc, https) = servers();
    let plain = format!(
        "  - slack: {{ webhook: \"{SLACK_URL}\", endpoint: \"{}\" }}\n",
        https.url()
    );
    let team = team(&dc, "", &plain);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&team.rules, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("notify.slack.webhook") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("slackSECRET123"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("rules.yaml:") && l.contains("notify")),
        "{err}"
    );
    std::fs::set_permissions(&team.rules, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = team.run(&["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    // --test says which target failed and why, without the URL or the token.
    let ca = dc.ca().display().to_string();
    let two = format!(
        "  - slack: {{ webhook_env: T_SLACK, endpoint: \"{}\", ca_file: {ca} }}\n  - chatwork: {{ room: 1, token_env: T_UNSET, endpoint: \"{}\", ca_file: {ca} }}\n  - teams: {{ webhook_env: T_TEAMS, endpoint: \"https://127.0.0.1:{}\", ca_file: {ca} }}\n",
        https.url(),
        https.url(),
        harness::free_port()
    );
    rewrite_notify(&team, &dc, "", &two);
    let o = run(&team, &["-v", "notify", "--test"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    no_secrets(&o);
    let out = stdout(&o);
    assert!(out.contains("slack: ok"), "{out}");
    assert!(out.contains("chatwork: failed: notify.chatwork.token_env: the environment variable T_UNSET is not set"), "{out}");
    assert!(out.contains("teams: failed: connection refused"), "{out}");
    let got = https.delivered();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("テスト通知")
    );
}

#[test]
fn the_digest_headline_goes_to_chat_once_a_day_and_redirects_are_not_followed() {
    let (dc, https) = servers();
    let smtp = harness::smtp::Smtp::start(
        Some((
            &dc.dir.path().join("server.crt"),
            &dc.dir.path().join("server.key"),
        )),
        Some(("digest", "smtp-pw")),
    );
    let url = https.url();
    let ca = dc.ca().display().to_string();
    let digest = format!(
        "digest:\n  to: [duty]\n  from: mailduty <noreply@example.jp>\n  smtp: {{ host: 127.0.0.1, port: {}, tls: starttls, user: digest, password_env: T_SMTP_PW, ca_file: {ca} }}\n",
        smtp.port
    );
    let notify = format!(
        "  - slack: {{ webhook_env: T_SLACK, endpoint: \"{url}\", ca_file: {ca} }}\n    events: [digest]\n"
    );
    let team = team(&dc, &digest, &notify);
    let run = |args: &[&str]| {
        cmd(&team, args)
            .env("T_SLACK", SLACK_URL)
            .env("T_SMTP_PW", "smtp-pw")
            .output()
            .unwrap()
    };
    ok(&run(&["init"]));
    dc.append(
        "未対応",
        "",
        &hours_ago(30),
        &msg("old@client.example", "催促です"),
    );
    let o = run(&["report", "--send"]);
    assert!(ok(&o).contains("sent the digest"), "{}", stdout(&o));
    assert_eq!(smtp.received().len(), 1);
    let got = https.delivered();
    assert_eq!(got.len(), 1, "{:?}", paths(&got));
    let text = got[0].json()["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("*ダイジェスト: "), "{text}");
    assert!(text.contains("詳細: 期限超過 1件・滞留 0件"), "{text}");
    assert!(
        !text.contains("@example.jp"),
        "no recipients in chat: {text}"
    );
    assert!(text.contains("`mailduty list --overdue`"), "{text}");
    let o = run(&["report", "--send"]);
    assert!(ok(&o).contains("already sent"), "{}", stdout(&o));
    assert_eq!(https.requests().len(), 1);

    // A redirect is a failure: the secret is not carried to another address.
    https.answer(302, 0.0);
    let o = run(&["notify", "--test"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stdout(&o).contains("redirect"), "{}", stdout(&o));
    no_secrets(&o);
    assert_eq!(https.requests().len(), 2);
}

#[test]
fn two_runs_flushing_at_once_send_once() {
    let (dc, https) = servers();
    let url = https.url();
    let ca = dc.ca().display().to_string();
    let notify =
        format!("  - slack: {{ webhook_env: T_SLACK, endpoint: \"{url}\", ca_file: {ca} }}\n");
    let team = team(&dc, "", &notify);
    ok(&run(&team, &["init"]));
    dc.append(
        "未対応",
        "",
        &hours_ago(1),
        &msg("race@client.example", "同時送信"),
    );

    // The first run's delivery is held by a slow server; a second run starts while
    // it waits, before its delivered mark can exist.
    https.answer(200, 2.0);
    let first = cmd(
        &team,
        &["--as", "arimura", "claim", "<race@client.example>"],
    )
    .env("T_SLACK", SLACK_URL)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let t0 = std::time::Instant::now();
    while https.requests().is_empty() {
        assert!(t0.elapsed().as_secs() < 60, "the first run never sent");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = run(&team, &["notify"]);
    let said = ok(&second);
    assert!(
        said.contains("0 sent") && said.contains("1 left to another run"),
        "{said}"
    );
    let first = first.wait_with_output().unwrap();
    ok(&first);
    assert_eq!(https.requests().len(), 1);

    // Once the holder is through, nothing is left and nothing is sent again.
    https.answer(200, 0.0);
    let said = ok(&run(&team, &["notify"]));
    assert!(said.contains("notify: 0 sent, 0 pending"), "{said}");
    assert_eq!(https.requests().len(), 1);
}

#[test]
fn a_secret_command_runs_once_per_run_and_one_that_hangs_is_ended() {
    let (dc, https) = servers();
    let url = https.url();
    let ca = dc.ca().display().to_string();
    let counter = dc.dir.path().join("secret-runs");
    let script = dc.dir.path().join("secret.sh");
    std::fs::write(
        &script,
        format!(
            "echo run >> {}\nprintf '%s\\n' \"$T_SLACK\"\n",
            counter.display()
        ),
    )
    .unwrap();
    let target = |command: &str| {
        format!(
            "  - slack: {{ webhook_command: \"{command}\", endpoint: \"{url}\", ca_file: {ca} }}\n"
        )
    };
    let team = team(&dc, "", &target(&format!("sh {}", script.display())));
    ok(&run(&team, &["init"]));
    for id in ["a", "b", "c"] {
        dc.append(
            "未対応",
            "",
            &hours_ago(1),
            &msg(&format!("{id}@client.example"), "見積について"),
        );
    }
    let o = run(
        &team,
        &[
            "--as",
            "arimura",
            "claim",
            "<a@client.example>",
            "<b@client.example>",
            "<c@client.example>",
        ],
    );
    ok(&o);
    no_secrets(&o);
    assert_eq!(https.delivered().len(), 3, "{}", stderr(&o));
    let runs = std::fs::read_to_string(&counter).unwrap();
    assert_eq!(runs.lines().count(), 1, "the command ran {runs:?}");

    // A command that waits for someone (a pass or gpg prompt) is ended: the release
    // stands, one warning names the command, and nothing is sent.
    rewrite_notify(&team, &dc, "", &target("sleep 120"));
    let o = run(&team, &["--as", "arimura", "release", "<a@client.example>"]);
    ok(&o);
    no_secrets(&o);
    let err = stderr(&o);
    assert!(
        err.contains("notify.slack.webhook_command did not finish within 30 s")
            && err.contains("1 notification(s) kept for the next run"),
        "{err}"
    );
    assert_eq!(dc.locate("a@client.example")[0].0, "未対応");
    assert_eq!(https.requests().len(), 3);

    // `check` warns of a variable that is not set, before anything is sent.
    rewrite_notify(
        &team,
        &dc,
        "",
        &format!(
            "  - slack: {{ webhook_env: T_NOT_SET_HERE, endpoint: \"{url}\", ca_file: {ca} }}\n"
        ),
    );
    let o = run(&team, &["check"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stderr(&o).contains(
            "warning: notify.slack.webhook_env: the environment variable T_NOT_SET_HERE is not set"
        ),
        "{}",
        stderr(&o)
    );
}
