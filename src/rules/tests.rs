//! The rules file's loading and validation, by the messages a person would see.

use super::*;

const GOOD: &str = "imap:\n  host: 127.0.0.1\n  tls: none\n  user: support\n  password_env: PW\nmembers:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, login: tanaka }\n  suzuki: { name: 鈴木 花子, login: hsuzuki }\n";

fn problems(text: &str) -> String {
    match parse(Path::new("r.yaml"), text, true) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn held_dismissed_automated_and_route_actions_are_checked() {
    for (yaml, want) in [
        (
            "folders: { held: 完了 }",
            "folders.held: is the same folder as folders.done",
        ),
        (
            "folders: { dismissed: 対応中/x }",
            "folders.dismissed: is inside folders.claimed",
        ),
        (
            "automated: delete",
            "automated: \"delete\" is not dismiss or file",
        ),
        (
            "routes:\n  - match: { from: x.jp }\n    action: delete",
            "route 1: action \"delete\" is not one of dismiss, file",
        ),
        (
            "routes:\n  - match: { from: x.jp }\n    action: dismiss\n    owner: tanaka",
            "route 1: action: dismiss and an owner contradict each other",
        ),
    ] {
        let p = problems(&format!("{GOOD}{yaml}\n"));
        assert!(p.contains(want), "{yaml}: {p}");
    }
    let text = format!(
        "{GOOD}automated: file\nroutes:\n  - match: {{ subject: ニュース }}\n    action: dismiss\n"
    );
    let r = parse(Path::new("r.yaml"), &text, true).unwrap().rules;
    assert_eq!(r.automated, Automated::File);
    assert!(r.routes[0].dismiss);
    assert_eq!(
        (r.folders.held.as_str(), r.folders.dismissed.as_str()),
        ("保留", "対応不要")
    );
}

#[test]
fn good_file_loads_with_defaults() {
    let l = parse(Path::new("r.yaml"), GOOD, true).unwrap();
    assert_eq!(l.rules.folders.unclaimed, "未対応");
    assert_eq!(l.rules.imap.port, 143);
    assert_eq!(l.rules.member("suzuki").unwrap().login, "hsuzuki");
    assert_eq!(l.rules.timezone, chrono_tz::Asia::Tokyo);
}

#[test]
fn yaml_errors_name_file_line_column() {
    let e = problems("imap:\n  host: x\n  hots: y\n");
    assert!(e.starts_with("r.yaml:3:"), "{e}");
    assert!(e.contains("hots"), "{e}");
}

#[test]
fn semantic_errors_are_all_listed_with_lines() {
    let bad = GOOD
        .replace("tanaka@example.jp", "not-an-address")
        .replace("host: 127.0.0.1", "host: mail.example.jp");
    let e = problems(&bad);
    assert!(e.contains("r.yaml:3:3: imap.tls:"), "{e}");
    assert!(
        e.contains("r.yaml:7:") && e.contains("members.tanaka.email"),
        "{e}"
    );
}

#[test]
fn plaintext_password_needs_a_private_file() {
    let text = GOOD.replace("password_env: PW", "password: hunter2");
    let e = parse(Path::new("r.yaml"), &text, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chmod 600"), "{e}");
    assert!(!e.contains("hunter2"));
    assert!(parse(Path::new("r.yaml"), &text, true).is_ok());
}

#[test]
fn roster_mistakes_are_named_with_lines_and_suggestions() {
    let text = format!(
        "{GOOD}roster:\n  weekdays:\n    mon: [tanaka]\n    tues: [suzuki]\n    wed: [tanka]\n    thu: suzuki\n  overrides:\n    2026-02-30: [suzuki]\n"
    );
    let e = problems(&text);
    assert!(
        e.contains("r.yaml:12:5: roster.weekdays.tues: \"tues\" is not a weekday"),
        "{e}"
    );
    assert!(e.contains("did you mean \"tue\"?"), "{e}");
    assert!(
        e.contains(
            "r.yaml:13:5: roster.weekdays.wed: \"tanka\" is not a member; did you mean \"tanaka\"?"
        ),
        "{e}"
    );
    assert!(
        e.contains("r.yaml:16:5: roster.overrides.2026-02-30: \"2026-02-30\" is not a valid date"),
        "{e}"
    );
    let e = problems(&format!(
        "{GOOD}roster:\n  rotation:\n    members: []\n    start: 2026-11-02\n"
    ));
    assert!(
        e.contains("r.yaml:10:3: roster.rotation: a rotation with no members"),
        "{e}"
    );
}

#[test]
fn a_business_day_without_duty_is_a_warning() {
    let text = format!(
        "{GOOD}roster:\n  weekdays:\n    mon: [tanaka]\n    tue: [suzuki]\n    wed: tanaka\n    thu: suzuki\n    sat: tanaka\n"
    );
    let l = parse(Path::new("r.yaml"), &text, true).unwrap();
    let w = l.warnings.join("\n");
    assert!(
        w.contains("roster.weekdays: fri is a business day with nobody on duty"),
        "{w}"
    );
    assert!(
        w.contains("r.yaml:15:5: roster.weekdays.sat: sat is not in business_hours.days"),
        "{w}"
    );
    let d = l.rules.roster.duty(
        &l.rules.calendar,
        NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
    );
    assert_eq!(d.on_duty, ["tanaka"]);
}

#[test]
fn routes_and_globs() {
    let text = format!(
        "{GOOD}routes:\n  - match: {{ from: \"*@bigclient.co.jp\" }}\n    owner: tanaka\n    sla: 1h\n  - match: {{ subject: 請求書 }}\n    owner: suzuki\n"
    );
    let r = parse(Path::new("r.yaml"), &text, true).unwrap().rules;
    assert!(r.routes[0].matches("Yamada@BigClient.co.jp", "x"));
    assert!(!r.routes[0].matches("a@bigclient.co.jp.evil", "x"));
    assert!(r.routes[1].matches("a@b.jp", "【至急】請求書の件"));
    assert_eq!(r.routes[0].sla, Some(Duration::from_secs(3600)));
    assert!(glob("a*b?c", "aXXbYc") && !glob("a*b?c", "aXXbc"));
    let bad = text.replace("owner: suzuki", "owner: suzuk");
    assert!(problems(&bad).contains("did you mean \"suzuki\"?"));
}

#[test]
fn archive_patterns_stay_out_of_the_queue() {
    for (yaml, want) in [
        ("archive: { folder: \"対応中/{year}\" }", "inside 対応中"),
        (
            "archive: { folder: \"未対応/old/{year}\" }",
            "inside 未対応",
        ),
        ("archive: { folder: \"完了\" }", "needs {year} once"),
        (
            "archive: { folder: \"a/{year}/{year}\" }",
            "needs {year} once",
        ),
        (
            "archive: { folder: \"x/{year}\", history_folder: \"x/{year}\" }",
            "the same as archive.folder",
        ),
        ("archive: { after: 0d }", "above zero"),
        (
            "archive: { folder: \"a\\r\\n{year}\" }",
            "needs {year} once",
        ),
        ("quota: { warn: 0 }", "not a percentage"),
    ] {
        let e = problems(&format!("{GOOD}{yaml}\n"));
        assert!(e.contains(want), "{yaml}: {e}");
    }
}

#[test]
fn status_folders_are_apart_and_plain() {
    for (yaml, want) in [
        (
            "folders: { unclaimed: 対応中/alice }",
            "folders.unclaimed: is inside folders.claimed (対応中)",
        ),
        (
            "folders: { done: 対応中/bob }",
            "folders.done: is inside folders.claimed (対応中)",
        ),
        (
            "folders: { history: Inbox }",
            "folders.history: is the same folder as folders.inbox (INBOX)",
        ),
        (
            "folders: { unclaimed: inbox }",
            "is the same folder as folders.inbox",
        ),
        (
            "folders: { claimed: 未対応/x }",
            "folders.claimed: is inside folders.unclaimed",
        ),
        (
            "folders: { unclaimed: 完了/新着 }",
            "is inside folders.done",
        ),
        (
            "folders: { done: \"*\" }",
            "folders.done: \"*\" is not a plain folder name",
        ),
        ("folders: { done: \"完了%\" }", "not a plain folder name"),
        ("folders: { done: \"a//b\" }", "not a plain folder name"),
        ("folders: { done: \"a/../b\" }", "not a plain folder name"),
        ("folders: { done: \"/完了\" }", "not a plain folder name"),
        ("folders: { done: \"完了/\" }", "not a plain folder name"),
        ("folders: { done: \"a\\r\\nb\" }", "not a plain folder name"),
    ] {
        let e = problems(&format!("{GOOD}{yaml}\n"));
        assert!(e.contains(want), "{yaml}: {e}");
        assert!(e.contains("r.yaml:9:"), "{yaml}: {e}");
    }
    assert_eq!(
        problems(&format!("{GOOD}folders: {{ done: 完了/2026 }}\n")),
        ""
    );
}

#[test]
fn empty_keys_are_named_not_spun_on() {
    let e = problems(&GOOD.replace("members:\n", "members:\n  \"\": {}\n"));
    assert!(e.contains("r.yaml:7:3: members.: a member key"), "{e}");
    let e = problems(&format!("{GOOD}roster:\n  overrides: {{\"\": [tanaka]}}\n"));
    assert!(e.contains("\"\" is not a valid date"), "{e}");
    let e = problems(&format!("{GOOD}roster:\n  weekdays: {{\"\": tanaka}}\n"));
    assert!(e.contains("\"\" is not a weekday"), "{e}");
}

#[test]
fn duplicate_keys_are_reported_at_their_line() {
    let e = problems(&format!("{GOOD}  tanaka: {{ name: 別人 }}\n"));
    assert!(
        e.starts_with("r.yaml:9:3: duplicate key members.tanaka (first at line 7)"),
        "{e}"
    );
    let e = problems(&format!("{GOOD}imap:\n  host: x\n"));
    assert!(
        e.starts_with("r.yaml:9:1: duplicate key imap (first at line 1)"),
        "{e}"
    );
    let e = problems(&GOOD.replace("login: tanaka }", "login: tanaka, login: t2 }"));
    assert!(e.starts_with("r.yaml:7:"), "{e}");
    assert!(e.contains("duplicate key members.tanaka.login"), "{e}");
    // The same key in different mappings, and in a list of mappings, is no duplicate.
    let ok = format!(
        "{GOOD}routes:\n  - match: {{ subject: a }}\n    owner: tanaka\n  - match: {{ subject: b }}\n    owner: tanaka\n"
    );
    assert_eq!(problems(&ok), "");
}

#[test]
fn addresses_are_checked_as_addresses() {
    let e = problems(&GOOD.replace("tanaka@example.jp", "bob@@x"));
    assert!(
        e.contains("members.tanaka.email: \"bob@@x\" is not an email address"),
        "{e}"
    );
    let e = problems(&format!(
        "{GOOD}digest:\n  to: [duty, \"carol@example@co.jp\"]\n"
    ));
    assert!(
        e.contains("digest.to: \"carol@example@co.jp\" is not an email address"),
        "{e}"
    );
    let e = problems(&format!("{GOOD}digest:\n  cc: [\"a b@x.jp\"]\n"));
    assert!(
        e.contains("digest.cc: \"a b@x.jp\" is not an email address"),
        "{e}"
    );
    assert_eq!(
        problems(&format!(
            "{GOOD}digest:\n  to: [duty, 上司 <boss@example.jp>]\n"
        )),
        ""
    );
}

#[test]
fn no_line_breaks_reach_the_wire() {
    for (from, to) in [
        ("user: support", "user: \"support\\r\\nA LOGOUT\""),
        ("host: 127.0.0.1", "host: \"127.0.0.1\\n\""),
        ("name: 田中 太郎", "name: \"田中\\u001b[31m\""),
    ] {
        let e = problems(&GOOD.replace(from, to));
        assert!(e.contains("control character"), "{to}: {e}");
    }
    let e = problems(&format!(
        "{GOOD}digest:\n  smtp: {{ host: \"mx\\r\", user: \"u\\n\", password_env: X }}\n"
    ));
    assert!(
        e.contains("digest.smtp.host") && e.contains("digest.smtp.user"),
        "{e}"
    );
}

#[test]
fn a_byte_order_mark_is_skipped() {
    let l = parse(Path::new("r.yaml"), &format!("\u{feff}{GOOD}"), true).unwrap();
    assert_eq!(l.rules.imap.user, "support");
}

#[test]
fn huge_durations_are_refused_not_wrapped() {
    let e = problems(&format!("{GOOD}sla: {{ unclaimed: 5124095576030432h }}\n"));
    assert!(
        e.contains("sla.unclaimed: \"5124095576030432h\" is not a duration"),
        "{e}"
    );
    assert!(e.contains("at most 36500d"), "{e}");
    assert_eq!(parse_duration("99999999999999999999d"), None);
    assert_eq!(
        parse_duration("36500d"),
        Some(Duration::from_secs(36500 * 86400))
    );
    assert_eq!(parse_duration("36501d"), None);
}

#[test]
fn a_roster_value_of_the_wrong_kind_says_what_is_wanted() {
    let e = problems(&format!("{GOOD}roster:\n  weekdays: {{ mon: 5 }}\n"));
    assert!(!e.contains("untagged"), "{e}");
    assert!(
        e.contains("expected a member key or a list of member keys"),
        "{e}"
    );
    assert!(e.starts_with("r.yaml:10:"), "{e}");
}

#[test]
fn empty_route_patterns_are_refused() {
    for m in [
        "{ subject: \"\" }",
        "{ from: \"  \" }",
        "{ from: \"\", subject: x }",
    ] {
        let e = problems(&format!(
            "{GOOD}routes:\n  - match: {m}\n    owner: tanaka\n"
        ));
        assert!(
            e.contains("is empty, which would match all mail"),
            "{m}: {e}"
        );
    }
}

#[test]
fn deep_nesting_is_refused_at_once() {
    let deep = format!("{GOOD}x: {}\n", "[".repeat(100_000));
    let e = problems(&deep);
    assert!(e.contains("nested more than 64 deep"), "{e}");
    let e = problems(&format!(
        "{GOOD}x: {}{}\n",
        "{a: ".repeat(70),
        "}".repeat(70)
    ));
    assert!(e.contains("nested more than 64 deep"), "{e}");
    // Brackets inside quotes and comments are text.
    let text = format!("{GOOD}timezone: Asia/Tokyo # {}\n", "[".repeat(100));
    assert_eq!(problems(&text), "");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("4h"), Some(Duration::from_secs(4 * 3600)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
    assert_eq!(parse_duration("4"), None);
    assert_eq!(parse_duration("4x"), None);
}

#[test]
fn suggestions() {
    assert_eq!(did_you_mean("tanka", ["tanaka", "suzuki"]), Some("tanaka"));
    assert_eq!(did_you_mean("zzz", ["tanaka", "suzuki"]), None);
}

#[test]
fn loopback_hosts() {
    assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("::1"));
    assert!(!is_loopback("mail.example.jp") && !is_loopback("10.0.0.1"));
}
