//! `report` against a real Dovecot and a real SMTP server (aiosmtpd with STARTTLS and
//! AUTH): the digest's content, its MIME shape, the once-a-day guard, the holiday skip,
//! and failures that leave no marker.

mod harness;

use harness::seed::{self, hours_ago};
use harness::smtp::Smtp;
use harness::{Dovecot, Team, code, stderr, stdout};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;

const MEMBERS: &str = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp }\n";
const SMTP_PW: &str = "smtp-s3cret";

fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d")
        .to_string()
}

fn team(dc: &Dovecot, smtp: &Smtp, holidays: &str, digest_extra: &str) -> Team {
    let imap = format!(
        "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
        dc.imaps_port,
        dc.ca().display()
    );
    let tail = format!(
        "business_hours: {{ start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }}\nroster:\n  weekdays: {{ mon: tanaka, tue: tanaka, wed: tanaka, thu: tanaka, fri: tanaka, sat: tanaka, sun: tanaka }}\n  holidays: {{ japan: false{holidays} }}\ndigest:\n  to: [duty]\n  cc: [manager@example.jp]\n  from: mailduty <noreply@example.jp>\n{digest_extra}  smtp: {{ host: 127.0.0.1, port: {}, tls: starttls, user: digest, password_env: MAILDUTY_TEST_SMTP_PW, ca_file: {} }}\n",
        smtp.port,
        dc.ca().display()
    );
    Team::with_tail(&imap, MEMBERS, &tail)
}

fn run(team: &Team, args: &[&str], smtp_pw: &str) -> std::process::Output {
    team.command(args)
        .env("MAILDUTY_TEST_SMTP_PW", smtp_pw)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert_eq!(code(o), 0, "{}", stderr(o));
    stdout(o)
}

fn cert(dc: &Dovecot) -> (std::path::PathBuf, std::path::PathBuf) {
    (
        dc.dir.path().join("server.crt"),
        dc.dir.path().join("server.key"),
    )
}

#[test]
fn the_digest_is_computed_sent_and_sent_once_a_day() {
    let dc = Dovecot::start();
    let (crt, key) = cert(&dc);
    let smtp = Smtp::start(Some((&crt, &key)), Some(("digest", SMTP_PW)));
    let team = team(&dc, &smtp, "", "");
    ok(&run(&team, &["init"], SMTP_PW));
    seed::seed(&dc);
    // A claim held for three days with no claim event: stale by sla.claimed (2d).
    dc.append(
        "対応中/suzuki",
        "",
        &hours_ago(72),
        b"Message-ID: <old-claim@x.jp>\r\nFrom: c@x.jp\r\nSubject: old claim\r\nDate: Mon, 16 Nov 2026 09:00:00 +0900\r\n\r\nx\r\n",
    );
    let claimed = ok(&run(
        &team,
        &["--as", "tanaka", "claim", "<sjis@client.example>"],
        SMTP_PW,
    ));
    assert!(claimed.starts_with("claimed"), "{claimed}");

    let overdue_ids: Vec<String> = ok(&run(
        &team,
        &["list", "--overdue", "--format", "ids"],
        SMTP_PW,
    ))
    .lines()
    .map(str::to_string)
    .collect();
    assert!(!overdue_ids.is_empty());
    let flags_before = dc.all_flags();

    let json: Value =
        serde_json::from_str(&ok(&run(&team, &["report", "--format", "json"], SMTP_PW))).unwrap();
    let ids: Vec<String> = json["overdue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_string())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    let mut expect = overdue_ids.clone();
    expect.sort();
    assert_eq!(sorted, expect, "report and list --overdue disagree");
    assert_eq!(json["stale"][0]["message_id"], "old-claim@x.jp");
    assert_eq!(json["on_duty"][0], "tanaka");
    assert_eq!(json["per_owner"]["tanaka"], 1);
    assert_eq!(json["time_to_claim"]["count"], 1, "{json}");
    assert!(json["time_to_claim"]["median_seconds"].as_i64().unwrap() > 3600);

    let text = ok(&run(&team, &["report"], SMTP_PW));
    assert!(
        text.contains("本日の当番 (on duty): 田中 太郎 (tanaka)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("mailduty claim {}", ids[0])),
        "{text}"
    );

    let sent = ok(&run(&team, &["report", "--send"], SMTP_PW));
    assert!(
        sent.starts_with(&format!("sent the digest for {}", today())),
        "{sent}"
    );
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    let mut rcpt = got[0].rcpt.clone();
    rcpt.sort();
    assert_eq!(rcpt, ["manager@example.jp", "tanaka@example.jp"]);
    let raw = &got[0].raw;
    let head =
        String::from_utf8_lossy(&raw[..raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
            .to_string();
    assert!(head.is_ascii(), "headers must be encoded: {head}");
    let msg = MessageParser::default().parse(raw).unwrap();
    assert_eq!(
        msg.subject().unwrap(),
        format!("【未対応】期限超過 {}件 ({})", ids.len(), today())
    );
    assert!(msg.message_id().is_some() && msg.date().is_some());
    assert_eq!(msg.content_type().unwrap().subtype(), Some("alternative"));
    let plain = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    for id in &ids {
        assert!(
            plain.contains(id.as_str()),
            "{id} missing from the text part:\n{plain}"
        );
        assert!(
            html.contains(id.as_str()),
            "{id} missing from the HTML part"
        );
    }
    assert!(html.contains("<table"), "{html}");
    assert!(plain.contains("old claim"), "{plain}");
    eprintln!("--- received digest ---\n{}", String::from_utf8_lossy(raw));

    let again = ok(&run(&team, &["report", "--send"], SMTP_PW));
    assert!(again.contains("already sent"), "{again}");
    assert_eq!(
        smtp.received().len(),
        1,
        "a second send the same day must send nothing"
    );
    ok(&run(&team, &["report", "--send", "--force"], SMTP_PW));
    assert_eq!(smtp.received().len(), 2);
    let quiet = ok(&run(&team, &["report", "--send", "--quiet"], SMTP_PW));
    assert_eq!(quiet, "");
    assert_eq!(dc.all_flags(), flags_before, "the report changed flags");
}

#[test]
fn refused_login_and_untrusted_certificate_fail_without_marker() {
    let dc = Dovecot::start();
    let (crt, key) = cert(&dc);
    let smtp = Smtp::start(Some((&crt, &key)), Some(("digest", SMTP_PW)));
    let team = team(&dc, &smtp, "", "  send_when_empty: true\n");
    ok(&run(&team, &["init"], SMTP_PW));

    let bad = run(&team, &["report", "--send"], "wrong-password");
    assert_eq!(code(&bad), 1, "{}", stderr(&bad));
    let e = stderr(&bad);
    assert!(
        e.contains("cannot send the digest via SMTP 127.0.0.1"),
        "{e}"
    );
    assert!(e.contains("535"), "the server's refusal is shown: {e}");
    assert!(!e.contains("wrong-password"), "{e}");
    assert!(e.lines().count() <= 2, "{e}");

    // Without the CA the server's certificate is not trusted.
    let untrusted = Team::with_tail(
        &format!(
            "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
            dc.imaps_port,
            dc.ca().display()
        ),
        MEMBERS,
        &std::fs::read_to_string(&team.rules)
            .unwrap()
            .split_once("business_hours")
            .map(|(_, t)| format!("business_hours{t}"))
            .unwrap()
            .replace(&format!(", ca_file: {} }}", dc.ca().display()), " }"),
    );
    let cert_err = run(&untrusted, &["report", "--send"], SMTP_PW);
    assert_eq!(code(&cert_err), 1);
    assert!(
        stderr(&cert_err).to_lowercase().contains("certificate"),
        "{}",
        stderr(&cert_err)
    );
    assert!(smtp.received().is_empty());

    // No marker was written: the next good run sends.
    let sent = ok(&run(&team, &["report", "--send"], SMTP_PW));
    assert!(sent.contains("sent the digest"), "{sent}");
    let msg = MessageParser::default()
        .parse(&smtp.received()[0].raw)
        .unwrap()
        .into_owned();
    assert_eq!(
        msg.subject().unwrap(),
        format!("【未対応】期限超過なし ({})", today())
    );
}

#[test]
fn holidays_and_empty_days_send_nothing_unless_forced() {
    let dc = Dovecot::start();
    let (crt, key) = cert(&dc);
    let smtp = Smtp::start(Some((&crt, &key)), Some(("digest", SMTP_PW)));
    let holiday = team(
        &dc,
        &smtp,
        &format!(", dates: [\"{} 創立記念日\"]", today()),
        "",
    );
    ok(&run(&holiday, &["init"], SMTP_PW));
    dc.append(
        "未対応",
        "",
        &hours_ago(30),
        b"Message-ID: <late@x.jp>\r\nFrom: a@x.jp\r\nSubject: late\r\n\r\nx\r\n",
    );
    let skipped = ok(&run(&holiday, &["report", "--send"], SMTP_PW));
    assert!(
        skipped.contains("is a holiday (創立記念日): no digest sent"),
        "{skipped}"
    );
    assert!(smtp.received().is_empty());
    let forced = ok(&run(&holiday, &["report", "--send", "--force"], SMTP_PW));
    assert!(forced.contains("sent the digest"), "{forced}");
    // Nobody is on duty on the holiday: only the cc gets it.
    assert_eq!(smtp.received()[0].rcpt, ["manager@example.jp"]);

    let empty_dc = Dovecot::start();
    let plain = team(&empty_dc, &smtp, "", "");
    ok(&run(&plain, &["init"], SMTP_PW));
    let nothing = ok(&run(&plain, &["report", "--send"], SMTP_PW));
    assert!(
        nothing.contains("nothing overdue: no digest sent"),
        "{nothing}"
    );
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn sendmail_transport_hands_the_mail_to_a_local_binary() {
    let dc = Dovecot::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sent.eml");
    let args = dir.path().join("args");
    let bin = dir.path().join("sendmail");
    std::fs::write(
        &bin,
        format!(
            "#!/bin/sh\necho \"$@\" > {}\ncat > {}\n",
            args.display(),
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let imap = format!("  host: 127.0.0.1\n  port: {}\n  tls: none\n", dc.imap_port);
    let tail = format!(
        "business_hours: {{ start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }}\nroster:\n  weekdays: {{ mon: suzuki, tue: suzuki, wed: suzuki, thu: suzuki, fri: suzuki, sat: suzuki, sun: suzuki }}\n  holidays: {{ japan: false }}\ndigest:\n  from: noreply@example.jp\n  send_when_empty: true\n  sendmail: {}\n",
        bin.display()
    );
    let team = Team::with_tail(&imap, MEMBERS, &tail);
    ok(&team.command(&["init"]).output().unwrap());
    ok(&team.command(&["report", "--send"]).output().unwrap());
    let raw = std::fs::read(&out).unwrap();
    let msg = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        msg.to().unwrap().first().unwrap().address(),
        Some("suzuki@example.jp")
    );
    assert!(
        std::fs::read_to_string(&args)
            .unwrap()
            .contains("suzuki@example.jp")
    );
}
