//! The syntax helpers against answers as servers write them.

use super::*;

#[test]
fn queue_answers_are_told_apart_by_what_they_hold_and_a_nil_date_is_no_panic() {
    let whole = parse_fetch(
        b"* 3 FETCH (UID 9 FLAGS (\\Seen) INTERNALDATE \"20-Nov-2026 09:00:00 +0900\" RFC822.SIZE 40 BODY[HEADER.FIELDS (MESSAGE-ID)] {4}\r\nab\r\n)\r\n",
    )
    .unwrap();
    assert!(whole.section && whole.header == b"ab\r\n" && whole.size == 40);
    assert!(matches!(queued(whole), crate::imap::Queued::Message(_)));
    let short = parse_fetch(b"* 3 FETCH (UID 9 FLAGS () RFC822.SIZE 40 MODSEQ (7))\r\n").unwrap();
    assert!(!short.section && short.modseq == Some(7));
    assert!(matches!(queued(short), crate::imap::Queued::Flags(_)));
    // imap-proto unwraps this; a hostile server must not stop the run with a panic.
    let nil = b"* 3 FETCH (UID 9 INTERNALDATE NIL RFC822.SIZE 40)\r\n";
    assert!(parse_response(nil).is_err());
    assert!(parse_fetch(nil).is_none());
    assert_eq!(
        queue_fetches(true, "MESSAGE-ID", Some(5)),
        [
            "UID FETCH 1:4 (UID FLAGS RFC822.SIZE MODSEQ)",
            "UID FETCH 5:* (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
        ]
    );
    assert_eq!(queue_fetches(false, "X", Some(1)).len(), 1);
    assert_eq!(
        queue_fetches(false, "X", None)[0],
        queue_fetches(false, "X", Some(1))[0]
    );
}

#[test]
fn status_answers_name_their_folder_however_written() {
    let (name, st) = status_answer(b"* STATUS &W4xOhg- (UIDNEXT 7 UIDVALIDITY 9)\r\n").unwrap();
    assert_eq!((name.as_str(), st), ("&W4xOhg-", (Some(9), Some(7))));
    // Quoted with escapes; attributes not asked for, in any case, passed over.
    let (name, st) =
        status_answer(b"* status \"a \\\"b\\\\\" (SIZE 3 X-FOO 4 uidnext 5 UIDVALIDITY 6)\r\n")
            .unwrap();
    assert_eq!((name.as_str(), st), ("a \"b\\", (Some(6), Some(5))));
    assert!(same_mailbox("INBOX", "inbox"));
    assert!(!same_mailbox("Sent", "sent"));
    assert!(status_answer(b"* STATUS \"unterminated (UIDNEXT 5)\r\n").is_none());
    assert!(status_answer(b"* SEARCH 1 2\r\n").is_none());
    assert!(status_answer(b"* STATUS").is_none());
}

#[test]
fn status_fields_give_every_number_the_answer_has() {
    let (name, f) = status_fields(
        b"* STATUS \"&Zypb,l,c-\" (UIDVALIDITY 9 uidnext 7 MESSAGES 5 HIGHESTMODSEQ 18446744073709551615)\r\n",
    )
    .unwrap();
    assert_eq!(name, "&Zypb,l,c-");
    assert_eq!(
        f,
        vec![
            ("UIDVALIDITY".to_string(), 9),
            ("UIDNEXT".to_string(), 7),
            ("MESSAGES".to_string(), 5),
            ("HIGHESTMODSEQ".to_string(), u64::MAX),
        ]
    );
    // A value that is not a number is passed over, the rest kept.
    let (_, f) = status_fields(b"* STATUS INBOX (X-FOO bar UIDNEXT 3)\r\n").unwrap();
    assert_eq!(f, vec![("UIDNEXT".to_string(), 3)]);
}

#[test]
fn namespace_lines() {
    assert_eq!(
        parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"),
        Some((String::new(), Some('/')))
    );
    assert_eq!(
        parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL"),
        Some(("INBOX.".to_string(), Some('.')))
    );
    assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
}

#[test]
fn copyuid() {
    assert_eq!(
        copyuid_untagged(b"* OK [COPYUID 1700000000 4 12] Moved UIDs.\r\n"),
        Some(12)
    );
    assert_eq!(copyuid_code("COPYUID 1 4:5 12:13"), Some(12));
    assert_eq!(copyuid_untagged(b"* OK [UIDNEXT 4] x\r\n"), None);
    assert_eq!(
        copyuid_sources("COPYUID 1 4:6,9 20:23", &[3, 4, 5, 9, 10]),
        Some(vec![4, 5, 9])
    );
    assert_eq!(
        copyuid_sources("COPYUID 1 0:4294967295 1:2", &[7]),
        Some(vec![7])
    );
}

#[test]
fn copyuid_pairs_name_only_what_was_asked() {
    assert_eq!(
        copyuid_pairs("COPYUID 9 4:6,9 20:23", &[3, 4, 5, 6, 9]),
        Some(vec![(4, 20), (5, 21), (6, 22), (9, 23)])
    );
    // A source this process did not ask to move, a length mismatch, a range
    // far larger than the set asked: nothing is proven.
    assert_eq!(copyuid_pairs("COPYUID 9 4,7 20:21", &[4, 5]), None);
    assert_eq!(copyuid_pairs("COPYUID 9 4:5 20", &[4, 5]), None);
    assert_eq!(
        copyuid_pairs("COPYUID 9 1:4294967295 1:4294967295", &[1]),
        None
    );
    assert_eq!(copyuid_pairs("APPENDUID 9 4", &[4]), None);
    assert_eq!(set_members("2:4,9", &[1, 3, 9, 10]), Some(vec![3, 9]));
    assert_eq!(set_members("x", &[1]), None);
}

#[test]
fn permanentflags_tell_whether_keywords_stay() {
    assert_eq!(
        permanent_keywords(b"* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Ok\r\n"),
        Some(true)
    );
    assert_eq!(
        permanent_keywords(b"* OK [PERMANENTFLAGS (\\Answered \\Seen)] Limited\r\n"),
        Some(false)
    );
    assert_eq!(
        permanent_keywords(b"* OK [PERMANENTFLAGS ()] x\r\n"),
        Some(false)
    );
    assert_eq!(permanent_keywords(b"* OK [UIDVALIDITY 3] x\r\n"), None);
    assert_eq!(permanent_keywords(b"* OK [PERMANENTFLAGS (\r\n"), None);
}

#[test]
fn uid_sets_and_quota() {
    assert_eq!(uid_set(&[5, 1, 2, 3, 9, 12, 13, 14, 3]), "1:3,5,9,12:14");
    assert_eq!(uid_set(&[7]), "7");
    let contiguous: Vec<u32> = (1..=45_000).collect();
    assert_eq!(batches(&contiguous).len(), 3);
    let sparse: Vec<u32> = (1..=20_000).map(|u| u * 2).collect();
    let b = batches(&sparse);
    assert!(b.iter().all(|s| uid_set(s).len() <= 8_000), "{}", b.len());
    assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 20_000);
    assert_eq!(
        storage_of(b"* QUOTA \"User quota\" (STORAGE 10 1024)\r\n"),
        Some((10, 1024))
    );
    assert_eq!(storage_of(b"* QUOTA \"\" ()\r\n"), None);
    assert_eq!(storage_of(b"* QUOTA x )(\r\n"), None);
    assert_eq!(
        status_size(b"* STATUS \"&W4xOhg-\" (SIZE 4096)\r\n"),
        Some(4096)
    );
    assert_eq!(
        status_size(b"* STATUS x (SIZE 99999999999999999999999)\r\n"),
        None
    );
}

#[test]
fn any_batches_stay_under_a_line_limit() {
    let keys: Vec<Key> = (0..300)
        .map(|i| Key::HeaderId("X-Mailduty-Target", format!("{i}{}@x", "a".repeat(990))))
        .collect();
    let groups = any_batches(keys.clone());
    assert!(groups.len() > 30, "{}", groups.len());
    let mut n = 0;
    for g in &groups {
        let Key::Any(ks) = g else {
            panic!("not an Any")
        };
        n += ks.len();
        assert!(criteria(std::slice::from_ref(g)).len() <= 8_000 + 1_100);
    }
    assert_eq!(n, 300);
    let short: Vec<Key> = (0..100).map(|i| Key::MessageId(format!("{i}@x"))).collect();
    assert_eq!(any_batches(short).len(), 1);
    assert!(any_batches(Vec::new()).is_empty());
}

#[test]
fn store_echoes_tell_ours_from_another_sessions() {
    assert_eq!(
        store_echo(b"* 5 FETCH (UID 7 MODSEQ (12))\r\n"),
        Some((Some(7), false, vec![12]))
    );
    assert_eq!(
        store_echo(b"* 5 FETCH (FLAGS (\\Seen) UID 7 MODSEQ (13))\r\n"),
        Some((Some(7), true, vec![13]))
    );
    assert_eq!(store_echo(b"* 3 EXISTS\r\n"), None);
}
