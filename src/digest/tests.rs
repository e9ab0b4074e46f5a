//! The digest's content and its text and HTML, from queues and histories built here.

use super::*;

fn ev(kind: &str, actor: &str, at: DateTime<Utc>, to: &str, note: &str) -> Stored {
    Stored {
        time: at,
        event: kind.into(),
        actor: actor.into(),
        login: None,
        id: "abcd1234".into(),
        message_id: Some("m@x".into()),
        subject: Some("s".into()),
        from_folder: None,
        to_folder: Some(to.into()),
        note: Some(note.into()).filter(|n: &String| !n.is_empty()),
        arrived: Some(tokyo("2026-12-07 09:00")),
        size: Some(1),
        sender: None,
        hash: None,
        notify: Vec::new(),
        own_id: None,
    }
}

fn tokyo(s: &str) -> DateTime<Utc> {
    use chrono::TimeZone;
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[test]
fn a_hold_pauses_the_figures_and_the_digest_counts_held_and_dismissed_mail() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("rules.yaml");
    std::fs::write(
        &p,
        "imap: { host: 127.0.0.1, port: 1, tls: none, user: u, password_env: X }\nmembers:\n  tanaka: { name: T }\n",
    )
    .unwrap();
    let rules = crate::rules::load(&p).unwrap().rules;
    let now = tokyo("2026-12-07 18:00");
    let duty = rules
        .roster
        .duty(&rules.calendar, rules.calendar.local_date(now));
    let events = vec![
        ev("digest", "report", tokyo("2026-12-07 08:30"), "", ""),
        ev(
            "dismiss",
            "rotate",
            tokyo("2026-12-07 08:00"),
            "対応不要",
            "bounce: From: MAILER-DAEMON@x",
        ),
        ev(
            "claim",
            "tanaka",
            tokyo("2026-12-07 09:30"),
            "対応中/tanaka",
            "",
        ),
        ev(
            "hold",
            "tanaka",
            tokyo("2026-12-07 10:00"),
            "保留",
            "[owner=tanaka]",
        ),
        ev(
            "unhold",
            "rotate",
            tokyo("2026-12-07 15:00"),
            "対応中/tanaka",
            "reply: x",
        ),
        ev("done", "tanaka", tokyo("2026-12-07 17:00"), "完了", ""),
        ev(
            "dismiss",
            "rotate",
            tokyo("2026-12-07 11:00"),
            "対応不要",
            "auto_reply: X-Autoreply",
        ),
        ev(
            "dismiss",
            "rotate",
            tokyo("2026-12-07 12:00"),
            "対応不要",
            "auto_reply: X-Autoreply",
        ),
        ev(
            "dismiss",
            "rotate",
            tokyo("2026-12-07 13:00"),
            "対応不要",
            "own: X-Mailduty-Mark verified",
        ),
        ev(
            "dismiss",
            "tanaka",
            tokyo("2026-12-07 13:00"),
            "対応不要",
            "お礼のみ",
        ),
    ];
    let mut late = Item::sample(Some("h1@x"), "保留", 1);
    late.status = Status::Held;
    late.held_until = Some(tokyo("2026-12-09 09:00"));
    let mut today = Item::sample(Some("h2@x"), "保留", 2);
    today.status = Status::Held;
    today.held_until = Some(tokyo("2026-12-07 12:00"));
    let mut old = Item::sample(Some("u@x"), "未対応", 3);
    old.arrived = tokyo("2026-12-01 09:00");
    let mut ooo = old.clone();
    ooo.automated = crate::automated::classify(b"X-Autoreply: yes\r\n", "a@b", None, &[0; 32]);
    let r = build(
        &rules,
        &duty,
        &[late, today, old, ooo],
        &events,
        &HashMap::new(),
        now,
    );
    // 8 business hours from arrival to done, 5 of them held.
    assert_eq!(r.time_to_done.median_seconds, Some(3 * 3600));
    assert_eq!(r.time_to_claim.median_seconds, Some(1800));
    assert_eq!(r.held.len(), 2);
    assert!(r.held[0].due_today && r.held[0].past_due && !r.held[1].due_today);
    assert_eq!(r.held_past_due, 1);
    assert_eq!(held_line(&r), "保留 2 (本日期限 1)");
    // Since the 08:30 digest, by the cron only: the 08:00 bounce is before it.
    assert_eq!(dismissed_line(&r), "自動応答 2, 自社通知 1");
    assert_eq!(r.unclaimed, 2);
    assert_eq!(
        r.overdue.len(),
        1,
        "automated mail in 未対応 is never overdue"
    );
    let text = text(&r, &rules);
    assert!(
        text.contains(
            "自動で対応不要 (dismissed automatically since the last digest): 自動応答 2, 自社通知 1"
        ),
        "{text}"
    );
    assert!(text.contains("期限切れ"), "{text}");
}

#[test]
fn percentiles_by_nearest_rank() {
    assert_eq!(percentile(&[], 50.0), None);
    assert_eq!(percentile(&[5], 90.0), Some(5));
    let v: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&v, 50.0), Some(5));
    assert_eq!(percentile(&v, 90.0), Some(9));
    assert_eq!(times(vec![30, 10, 20]).median_seconds, Some(20));
}

#[test]
fn ages_are_coloured_by_how_far_past_the_sla() {
    assert_eq!(past_colour(5, 4), "#b26a00");
    assert_eq!(past_colour(6, 4), "#c62828");
    assert_eq!(past_colour(12, 4), "#8e0000");
    assert_eq!(past_colour(1, 0), "#b26a00");
}

#[test]
fn html_is_escaped() {
    assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
}
