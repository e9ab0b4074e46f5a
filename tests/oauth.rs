//! Signing in with OAuth 2.0 against real servers: Dovecot with its oauth2 passdb
//! (XOAUTH2 and OAUTHBEARER), aiosmtpd with an XOAUTH2 handler, and the harness's own
//! authorization server over TLS. Each flow end to end, refresh and rotation, two
//! commands refreshing at once, revoked and refused tokens, token_command, and no
//! token or secret in any output, the history or the digest.

mod harness;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Stdio;

use harness::oauth::{CLIENT_SECRET, OAuthServer};
use harness::seed::hours_ago;
use harness::smtp::Smtp;
use harness::{ALWAYS_OPEN, Dovecot, MEMBERS, Team, code, stderr, stdout};

fn rules(dc: &Dovecot, block: &str, tail: &str) -> String {
    format!(
        "imap:\n  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n  user: support\n{block}{MEMBERS}{ALWAYS_OPEN}{tail}",
        dc.imaps_port,
        dc.ca().display()
    )
}

fn token_file(team: &Team) -> PathBuf {
    team.dir.path().join("state/mailduty/oauth2-support.json")
}

fn stored(team: &Team) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(token_file(team)).unwrap()).unwrap()
}

fn mail(mid: &str) -> Vec<u8> {
    format!(
        "Message-ID: <{mid}>\r\nFrom: customer@example.com\r\nTo: support@example.jp\r\nSubject: question {mid}\r\nDate: Fri, 20 Nov 2026 09:00:00 +0900\r\n\r\nbody\r\n"
    )
    .into_bytes()
}

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    stdout(o)
}

/// `mailduty login` with the device flow: the code is shown, the server is polled
/// past authorization_pending, and the tokens land in a 0600 file.
fn device_login(team: &Team) {
    let o = team.run(&["login"]);
    let e = stderr(&o);
    ok(&o);
    assert!(e.contains("WDJB-MJHT") && e.contains("/devicelogin"), "{e}");
    assert!(stdout(&o).contains("signed in support"), "{}", stdout(&o));
    let mode = std::fs::metadata(token_file(team))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Every secret the run could know: the tokens in the file now, the client secret.
fn secrets_of(team: &Team) -> Vec<String> {
    let mut out = vec![CLIENT_SECRET.to_string()];
    if let Ok(b) = std::fs::read(token_file(team)) {
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        for k in ["access_token", "refresh_token"] {
            if let Some(t) = v[k].as_str() {
                out.push(t.to_string());
            }
        }
    }
    out
}

fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} shows a secret: {text}");
    }
}

#[test]
fn device_flow_then_every_command_and_the_digest_over_xoauth2() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let smtp = Smtp::start_oauth(
        Some((
            &dc.dir.path().join("server.crt"),
            &dc.dir.path().join("server.key"),
        )),
        "support",
        &oa.introspect_url(),
    );
    let digest = format!(
        "digest:\n  to: [ops@example.jp]\n  from: mailduty <support@example.jp>\n  send_when_empty: true\n  smtp: {{ host: 127.0.0.1, port: {}, tls: starttls, ca_file: {}, user: support, oauth2: imap }}\n",
        smtp.port,
        dc.ca().display()
    );
    let team = Team::raw(&rules(&dc, &oa.block("device"), &digest));
    // Before a sign-in: a clear word, nothing sent to the IMAP server.
    let before = team.run(&["list"]);
    assert_eq!(code(&before), 1, "{}", stderr(&before));
    assert!(
        stderr(&before).contains("run `mailduty login`"),
        "{}",
        stderr(&before)
    );

    device_login(&team);
    let (polls, approved) = oa.grants("urn:ietf:params:oauth:grant-type:device_code");
    assert_eq!(
        (polls, approved),
        (2, 1),
        "one authorization_pending, then the token"
    );

    let init = ok(&team.run(&["init"]));
    assert!(init.contains("signed in with XOAUTH2"), "{init}");
    dc.append("INBOX", "", &hours_ago(1), &mail("q1@example.com"));
    let applied = ok(&team.run(&["rotate", "--apply"]));
    assert!(applied.contains("1 filed"), "{applied}");
    let v = team.run(&["-v", "--as", "tanaka", "claim", "q1@example.com"]);
    ok(&v);
    assert!(
        stderr(&v).contains("AUTHENTICATE XOAUTH2 <token hidden>"),
        "{}",
        stderr(&v)
    );
    assert_eq!(dc.locate("q1@example.com")[0].0, "対応中/tanaka");
    let sent = ok(&team.run(&["report", "--send"]));
    assert!(sent.starts_with("sent the digest"), "{sent}");
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt, vec!["ops@example.jp".to_string()]);

    // No token or secret anywhere: -v output, the history, the digest mail.
    let secrets = secrets_of(&team);
    assert!(secrets.len() >= 3, "the file holds both tokens");
    assert_clean(
        "claim -v",
        &format!("{}{}", stdout(&v), stderr(&v)),
        &secrets,
    );
    let verbose_list = team.run(&["-v", "list"]);
    assert_clean(
        "list -v",
        &format!("{}{}", stdout(&verbose_list), stderr(&verbose_list)),
        &secrets_of(&team),
    );
    let history = ok(&team.run(&["history", "--since", "2000-01-01", "--format", "json"]));
    assert!(history.contains("claim"), "{history}");
    assert_clean("history", &history, &secrets_of(&team));
    assert_clean(
        "digest",
        &String::from_utf8_lossy(&got[0].raw),
        &secrets_of(&team),
    );
    for (folder, raw) in dc
        .everything()
        .iter()
        .map(|(f, _, r)| (f.clone(), r.clone()))
    {
        assert_clean(&format!("mail in {folder}"), &raw, &secrets_of(&team));
    }
}

#[test]
fn an_expired_token_is_refreshed_and_the_rotated_refresh_token_is_kept() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::raw(&rules(&dc, &oa.block("device"), ""));
    // Tokens that live 60 s are within the 5-minute margin: every command refreshes,
    // and each refresh kills the refresh token it used.
    oa.control(r#"{"lifetime": 60, "rotate": true}"#);
    device_login(&team);
    ok(&team.run(&["init"]));
    let first_rt = stored(&team)["refresh_token"].as_str().unwrap().to_string();
    let before = oa.grants("refresh_token");
    for _ in 0..3 {
        ok(&team.run(&["list"]));
    }
    let (asked, given) = oa.grants("refresh_token");
    assert_eq!(
        (asked - before.0, given - before.1),
        (3, 3),
        "each command refreshed once, with the rotated token"
    );
    assert_ne!(stored(&team)["refresh_token"].as_str().unwrap(), first_rt);

    // A token the server stops honouring before its time: refused once, refreshed,
    // signed in on the second try.
    oa.control(r#"{"lifetime": 3600}"#);
    ok(&team.run(&["list"]));
    let (asked, _) = oa.grants("refresh_token");
    oa.control(r#"{"expire": true}"#);
    let again = team.run(&["list"]);
    ok(&again);
    assert_eq!(
        oa.grants("refresh_token").0,
        asked + 1,
        "one refresh after the refusal"
    );
}

#[test]
fn two_commands_refreshing_at_once_share_one_refresh() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::raw(&rules(&dc, &oa.block("device"), ""));
    device_login(&team);
    ok(&team.run(&["init"]));
    oa.control(r#"{"lifetime": 600, "rotate": true, "expire": true}"#);
    // The stored token looks valid to the clients: force a refresh for all of them by
    // making it look old.
    let mut v = stored(&team);
    v["expires_at"] = serde_json::json!(0);
    std::fs::write(token_file(&team), v.to_string()).unwrap();
    let kids: Vec<_> = (0..4).map(|_| team.spawn(&["list"])).collect();
    for k in kids {
        let o = k.wait_with_output().unwrap();
        ok(&o);
    }
    let (asked, given) = oa.grants("refresh_token");
    assert_eq!(
        given, asked,
        "no refresh was refused: none used a dead refresh token"
    );
    assert_eq!(asked, 1, "the first refreshed; the others used its token");
}

#[test]
fn a_revoked_sign_in_says_login_again_and_changes_nothing() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::raw(&rules(&dc, &oa.block("device"), ""));
    device_login(&team);
    ok(&team.run(&["init"]));
    dc.append("未対応", "", &hours_ago(1), &mail("r1@example.com"));
    oa.control(r#"{"revoke": true, "expire": true, "lifetime": 60}"#);
    let mut v = stored(&team);
    v["expires_at"] = serde_json::json!(0);
    std::fs::write(token_file(&team), v.to_string()).unwrap();
    let o = team.run(&["--as", "tanaka", "claim", "r1@example.com"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("run `mailduty login` again"), "{e}");
    assert!(e.contains("AADSTS700082"), "{e}");
    assert_eq!(dc.locate("r1@example.com")[0].0, "未対応");
}

#[test]
fn a_refused_token_on_imap_and_smtp_shows_the_servers_answer() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let smtp = Smtp::start_oauth(None, "support", &oa.introspect_url());
    let bogus = "bogus-token-4711";
    let digest = format!(
        "digest:\n  to: [ops@example.jp]\n  from: mailduty <support@example.jp>\n  send_when_empty: true\n  smtp:\n    host: 127.0.0.1\n    port: {}\n    tls: none\n    user: support\n    oauth2: {{ token_command: \"echo {bogus}\" }}\n",
        smtp.port
    );
    let block = format!("  oauth2:\n    token_command: \"echo {bogus}\"\n");
    let team = Team::raw(&rules(&dc, &block, &digest));
    let o = team.run(&["-v", "list"]);
    assert_eq!(code(&o), 1);
    let e = stderr(&o);
    assert!(
        e.contains("IMAP sign-in as support on 127.0.0.1 with XOAUTH2 failed"),
        "{e}"
    );
    assert!(e.contains("token_command"), "{e}");
    assert!(!e.contains(bogus), "{e}");
    // Dovecot's answer to a refused token, after the failure challenge was answered.
    assert!(e.contains("AUTHENTICATE XOAUTH2 <token hidden>"), "{e}");

    // The digest: a good IMAP token, a bad SMTP one.
    let good = oa.app_token();
    let block = format!("  oauth2:\n    token_command: \"echo {good}\"\n");
    let team = Team::raw(&rules(&dc, &block, &digest));
    ok(&team.run(&["init"]));
    let o = team.run(&["report", "--send"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("535"), "the server's refusal is shown: {e}");
    assert!(e.contains("\"status\": \"401\""), "and its challenge: {e}");
    assert!(!e.contains(bogus) && !e.contains(&good), "{e}");
    assert!(smtp.received().is_empty());
    let log = std::fs::read_to_string(smtp.dir.path().join("auth.log")).unwrap();
    assert_eq!(
        log.lines().count(),
        2,
        "refused, then tried once more: {log}"
    );
}

#[test]
fn token_command_success_failure_and_timeout() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let good = oa.app_token();
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), format!("#!/bin/sh\necho {good}\n")).unwrap();
    let with = |cmd: &str| {
        Team::raw(&rules(
            &dc,
            &format!("  oauth2:\n    mechanism: oauthbearer\n    token_command: \"{cmd}\"\n"),
            "",
        ))
    };
    let t = with(&format!("sh {}", script.path().display()));
    let o = ok(&t.run(&["init"]));
    assert!(
        o.contains("signed in with OAUTHBEARER with a token from token_command"),
        "{o}"
    );
    ok(&t.run(&["list"]));

    let failing = with("exit 3");
    let o = failing.run(&["list"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("imap.oauth2.token_command failed"),
        "{}",
        stderr(&o)
    );

    let slow = with("sleep 60");
    let started = std::time::Instant::now();
    let o = slow.run(&["list"]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not finish within 30 s"),
        "{}",
        stderr(&o)
    );
    assert!(
        started.elapsed().as_secs() < 55,
        "the helper was not waited for to the end"
    );
}

#[test]
fn client_credentials_needs_no_person() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), format!("{CLIENT_SECRET}\n")).unwrap();
    let block = format!(
        "{}    client_secret_file: {}\n",
        oa.block("client_credentials"),
        secret.path().display()
    );
    let team = Team::raw(&rules(&dc, &block, ""));
    // No login at all: the first command gets an app token by itself.
    ok(&team.run(&["init"]));
    dc.append("INBOX", "", &hours_ago(1), &mail("cc1@example.com"));
    let o = team.run(&["-v", "rotate", "--apply"]);
    ok(&o);
    assert_clean("rotate -v", &stderr(&o), &secrets_of(&team));
    assert_eq!(dc.locate("cc1@example.com")[0].0, "未対応");
    assert!(stored(&team).get("refresh_token").is_none());

    oa.control(r#"{"refuse_app": true, "expire": true}"#);
    let mut v = stored(&team);
    v["expires_at"] = serde_json::json!(0);
    std::fs::write(token_file(&team), v.to_string()).unwrap();
    let o = team.run(&["list"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("invalid_client"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(CLIENT_SECRET));
}

/// The browser flow: `mailduty login` prints the address; the "browser" follows it to
/// the authorization server, which sends it back to mailduty's loopback listener (or
/// the person pastes where it was sent).
fn browser_login(oa: &OAuthServer, team: &Team, paste: bool) {
    let mut child = team
        .command(&["login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut url = None;
    let mut seen = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(u) = line.trim().strip_prefix("https://") {
            url = Some(format!("https://{u}"));
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no address printed: {seen}"));
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let agent = oa.browser();
    let r = agent.get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let back = r.headers()["location"].to_str().unwrap().to_string();
    assert!(back.starts_with("http://127.0.0.1:"), "{back}");
    if paste {
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "not an address").unwrap();
        writeln!(stdin, "{back}").unwrap();
    } else {
        let mut r = agent.get(&back).call().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let page = r.body_mut().read_to_string().unwrap();
        assert!(page.contains("signed in"), "{page}");
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("signed in support"), "{}", stdout(&o));
}

#[test]
fn browser_flow_with_pkce_by_redirect_and_by_paste() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::raw(&rules(&dc, &oa.block("browser"), ""));
    browser_login(&oa, &team, false);
    assert_eq!(oa.grants("authorization_code"), (1, 1));
    ok(&team.run(&["init"]));
    let other = Team::raw(&rules(&dc, &oa.block("browser"), ""));
    browser_login(&oa, &other, true);
    assert_eq!(oa.grants("authorization_code"), (2, 2));
    ok(&other.run(&["list"]));
    // logout removes the file; the next command asks for a sign-in again.
    assert!(ok(&other.run(&["logout"])).contains("removed"));
    assert!(!token_file(&other).exists());
    let o = other.run(&["list"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("run `mailduty login`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn password_login_is_unchanged_beside_oauth() {
    let oa = OAuthServer::start();
    let dc = oa.dovecot();
    let team = Team::tls(&dc, MEMBERS);
    let o = ok(&team.run(&["init"]));
    assert!(o.contains("signed in with LOGIN (password)"), "{o}");
    let v = team.run(&["-v", "list"]);
    ok(&v);
    assert!(
        stderr(&v).contains("LOGIN \"support\" <password hidden>"),
        "{}",
        stderr(&v)
    );
    // `login` is for oauth2 accounts only, and says so without connecting.
    let o = team.run(&["login"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("imap signs in with a password"),
        "{}",
        stderr(&o)
    );
}
