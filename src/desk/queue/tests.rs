//! The queue's items, labels and ID resolution, from header text built here.

use super::*;

fn it(mid: Option<&str>, folder: &str, uid: u32) -> Item {
    Item::sample(mid, folder, uid)
}

fn at(mid: &str, folder: &str, uid: u32, secs: i64, size: u32) -> Item {
    let mut i = it(Some(mid), folder, uid);
    i.arrived = DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap();
    i.size = size;
    i
}

#[test]
fn copies_are_labelled_by_what_a_move_keeps() {
    let mut items = vec![
        at("a@x", "未対応", 1, 10, 100),
        it(Some("b@x"), "未対応", 2),
        at("a@x", "対応中/tanaka", 3, 20, 100),
    ];
    assign_ids(&mut items);
    assert_eq!(items[1].id.len(), 8);
    let base = &items[0].hash[..8];
    assert_eq!(items[0].id, format!("{base}.{}", copy_code(&items[0])));
    assert_eq!(items[2].id, format!("{base}.{}", copy_code(&items[2])));
    assert_ne!(items[0].id, items[2].id);
    assert_eq!(items[0].id.len(), 13);
    // Moving a message changes neither its hash nor its ID.
    let mut moved = vec![it(Some("b@x"), "完了", 9)];
    assign_ids(&mut moved);
    assert_eq!(moved[0].id, items[1].id);
    // Whatever else was read: another folder, other copies, a newcomer that
    // arrived earlier than all of them, the same message under another UID.
    let mut other = vec![
        at("a@x", "INBOX", 7, 5, 300),
        at("a@x", "完了", 42, 20, 100),
        at("a@x", "完了/2025", 8, 10, 101),
    ];
    assign_ids(&mut other);
    assert_eq!(other[1].id, items[2].id);
    assert!(!other.iter().any(|o| o.id == items[0].id));
}

#[test]
fn a_tie_is_labelled_by_its_bytes_once_read() {
    let mut items = vec![
        at("a@x", "未対応", 1, 10, 100),
        at("a@x", "未対応", 2, 10, 100),
        at("a@x", "未対応", 3, 11, 100),
    ];
    assign_ids(&mut items);
    // Unread: the twins share a label, which names neither.
    assert_eq!(items[0].id, items[1].id);
    let err = resolve(&items, &items[0].id).unwrap_err();
    assert!(
        matches!(err.downcast_ref::<Error>(), Some(Error::Ambiguous(_))),
        "{err}"
    );
    assert!(resolve(&items, &items[2].id).is_ok());
    items[0].tie = Some("aaaa".into());
    items[1].tie = Some("bbbb".into());
    assign_ids(&mut items);
    assert_eq!(items[0].id.len(), 17);
    assert_eq!(resolve(&items, &items[1].id).unwrap().uid, 2);
    assert_eq!(resolve(&items, &items[0].id.to_uppercase()).unwrap().uid, 1);
    // The short label still names both, never one of them.
    let short = &items[0].id[..13];
    assert!(resolve(&items, short).is_err());
    // The third has no twin: no tie in its label.
    assert_eq!(items[2].id.len(), 13);
}

#[test]
fn resolving() {
    let mut items = vec![
        at("a@x", "未対応", 1, 10, 100),
        it(Some("b@x"), "未対応", 2),
        at("a@x", "対応中/t", 3, 20, 100),
    ];
    assign_ids(&mut items);
    let b = items[1].id.clone();
    assert_eq!(resolve(&items, &b[..5]).unwrap().uid, 2);
    assert_eq!(resolve(&items, "<b@x>").unwrap().uid, 2);
    assert_eq!(resolve(&items, "b@x").unwrap().uid, 2);
    let a = &items[0].hash[..8];
    let err = resolve(&items, a).unwrap_err().to_string();
    assert!(err.contains("2 messages"), "{err}");
    assert!(
        err.contains(&items[0].id) && err.contains(&items[2].id),
        "{err}"
    );
    let code = copy_code(&items[2]);
    assert_eq!(resolve(&items, &format!("{a}.{code}")).unwrap().uid, 3);
    assert_eq!(
        resolve(&items, &format!("{a}.{}", code.to_uppercase()))
            .unwrap()
            .uid,
        3
    );
    // A label names its message in a set where it has no twin too.
    let alone = vec![items[2].clone()];
    assert_eq!(resolve(&alone, &format!("{a}.{code}")).unwrap().uid, 3);
    assert!(resolve(&alone, &format!("{a}.{}", copy_code(&items[0]))).is_err());
    // Old ordinal labels name nothing.
    for old in [format!("{a}.1"), format!("{a}.2")] {
        let err = resolve(&items, &old).unwrap_err();
        assert!(
            matches!(err.downcast_ref::<Error>(), Some(Error::NotFound(_))),
            "{err}"
        );
    }
    assert!(resolve(&items, "zzzzzzzz").is_err());
}

#[test]
fn no_message_id_uses_other_headers() {
    let h1 = immutable_headers(
        b"From: a@x\r\nSubject: hi\r\nDate: Mon, 2 Nov 2026 10:00:00 +0900\r\n\r\n",
    );
    let h2 = immutable_headers(
        b"Subject: hi\r\nFrom: a@x\r\nDate: Mon, 2 Nov 2026 10:00:00 +0900\r\n\r\n",
    );
    let h3 = immutable_headers(b"Subject: hello\r\nFrom: a@x\r\n\r\n");
    assert_eq!(h1, h2);
    assert_ne!(h1, h3);
}
