//! The queue: every message in the inbox, 未対応, each member's 対応中 folder and
//! (on request) 完了, with a short ID that survives moves, and the rules that
//! turn what a user typed into exactly one message.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::desk::rules::{RELEASED, is_move_keyword};
use crate::desk::{Paths, Place};
use crate::error::Error;
use crate::imap::{Fetched, Mailbox, QUEUE_FIELDS, Queued};
use crate::output;
use crate::rules::Rules;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Unclaimed,
    Claimed,
    Done,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unclaimed => "unclaimed",
            Status::Claimed => "claimed",
            Status::Done => "done",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Item {
    /// The short ID shown to users; a `.N` suffix tells copies with one Message-ID apart.
    pub id: String,
    #[serde(skip)]
    pub hash: String,
    pub message_id: Option<String>,
    pub status: Status,
    pub owner: Option<String>,
    pub folder: String,
    pub uid: u32,
    pub arrived: DateTime<Utc>,
    pub from: String,
    pub from_name: Option<String>,
    pub subject: String,
    pub seen: bool,
    pub size: u32,
    #[serde(skip)]
    pub in_reply_to: Vec<String>,
    #[serde(skip)]
    pub references: Vec<String>,
    /// Move keywords on the message: a move under way, or left by one that crashed.
    #[serde(skip)]
    pub claim_keywords: Vec<String>,
    /// The MODSEQ when the queue was read (CONDSTORE servers).
    #[serde(skip)]
    pub modseq: Option<u64>,
    #[serde(skip)]
    pub released: bool,
    /// `\Answered`: a reply was sent (set by the mail client that replied, or by
    /// `rotate --apply` when it finds the reply in Sent).
    #[serde(skip)]
    pub answered: bool,
}

/// Unclaimed mail waiting longer than its SLA, counted in business time.
/// A message with a reply has had its first response and is not overdue; the
/// customer's next message is a message of its own, with its own wait.
pub fn overdue(rules: &Rules, it: &Item, now: DateTime<Utc>) -> bool {
    if it.answered {
        return false;
    }
    let sla = rules.unclaimed_sla(&it.from, &it.subject);
    let waited = rules.calendar.business_time(it.arrived, now);
    waited.to_std().is_ok_and(|w| w > sla)
}

#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub active: bool,
    pub done: bool,
}

impl Scope {
    pub const ACTIVE: Scope = Scope {
        active: true,
        done: false,
    };
    pub const ALL: Scope = Scope {
        active: true,
        done: true,
    };
}

/// Reads the queue: the inbox, 未対応, 対応中 and every folder below it (mail a client
/// dropped on 対応中 itself or on a folder that is no member's is claimed with the
/// owner unknown, never left out), and 完了 when `scope.done` asks for it. Its cost
/// grows with the active folders only.
pub fn load(mb: &mut Mailbox, rules: &Rules, paths: &Paths, scope: Scope) -> Result<Vec<Item>> {
    let mut folders: Vec<(String, Status, Option<String>)> = Vec::new();
    if scope.active {
        folders = active_folders(mb, rules, paths)?;
    }
    if scope.done {
        folders.push((paths.done.clone(), Status::Done, None));
    }
    let mut items = Vec::new();
    let names: Vec<String> = folders.iter().map(|f| f.0.clone()).collect();
    mb.fetch_queues(&names, |k, q| match q {
        // Growing by doubling would briefly hold the queue twice at 100,000 messages.
        // The count comes from the server: a hint, never an allocation it chooses.
        Queued::Size(n) => items.reserve((n as usize).min(100_000)),
        Queued::Message(m) => {
            let (folder, status, owner) = &folders[k];
            items.push(item(m, folder, *status, owner.clone()))
        }
    })?;
    assign_ids(&mut items);
    Ok(items)
}

/// The active folders' messages with only what resolving an ID needs: the
/// Message-ID (and, for mail without one, the fields its hash is made of), arrival
/// and size. IDs are those `load` gives; subjects and senders are left empty.
pub fn load_ids(mb: &mut Mailbox, rules: &Rules, paths: &Paths) -> Result<Vec<Item>> {
    let folders = active_folders(mb, rules, paths)?;
    let mut items = Vec::new();
    let names: Vec<String> = folders.iter().map(|f| f.0.clone()).collect();
    mb.fetch_queues_with(&names, "MESSAGE-ID", |k, q| match q {
        Queued::Size(n) => items.reserve((n as usize).min(100_000)),
        Queued::Message(m) => {
            let (folder, status, owner) = &folders[k];
            items.push(item(m, folder, *status, owner.clone()))
        }
    })?;
    let mut bare: std::collections::BTreeMap<String, Vec<u32>> = std::collections::BTreeMap::new();
    for it in items.iter().filter(|i| i.message_id.is_none()) {
        bare.entry(it.folder.clone()).or_default().push(it.uid);
    }
    for (folder, uids) in bare {
        let mut hashes = std::collections::HashMap::new();
        mb.fetch_fields(&folder, &uids, "FROM TO SUBJECT DATE", |m| {
            hashes.insert(m.uid, short_hash(&immutable_headers(&m.header)));
        })?;
        for it in items.iter_mut().filter(|i| i.folder == folder) {
            if let Some(h) = hashes.remove(&it.uid) {
                it.hash = h;
            }
        }
    }
    assign_ids(&mut items);
    Ok(items)
}

pub fn active_folders(
    mb: &mut Mailbox,
    rules: &Rules,
    paths: &Paths,
) -> Result<Vec<(String, Status, Option<String>)>> {
    let mut folders = vec![
        (paths.inbox.clone(), Status::Unclaimed, None),
        (paths.unclaimed.clone(), Status::Unclaimed, None),
    ];
    for f in mb.below(&paths.claimed)? {
        let owner = match paths.place(&f, rules) {
            Some(Place::Member(m)) => Some(m),
            _ => None,
        };
        folders.push((f, Status::Claimed, owner));
    }
    Ok(folders)
}

/// Every message of the archive folders, as done mail (one pipelined FETCH).
pub fn load_archived(mb: &mut Mailbox, folders: &[String]) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    mb.fetch_queues(folders, |k, q| {
        if let Queued::Message(m) = q {
            items.push(item(m, &folders[k], Status::Done, None));
        }
    })?;
    assign_ids(&mut items);
    Ok(items)
}

/// Some messages of one status folder, as queue items.
pub fn load_uids(
    mb: &mut Mailbox,
    rules: &Rules,
    paths: &Paths,
    folder: &str,
    uids: &[u32],
) -> Result<Vec<Item>> {
    let (status, owner) = match paths.place(folder, rules) {
        Some(Place::Member(m)) => (Status::Claimed, Some(m)),
        Some(Place::ClaimedUnknown) => (Status::Claimed, None),
        Some(Place::Done) => (Status::Done, None),
        _ => (Status::Unclaimed, None),
    };
    let mut items = Vec::new();
    mb.fetch_fields(folder, uids, QUEUE_FIELDS, |m| {
        items.push(item(m, folder, status, owner.clone()))
    })?;
    assign_ids(&mut items);
    Ok(items)
}

fn item(m: Fetched, folder: &str, status: Status, owner: Option<String>) -> Item {
    let parsed = mail_parser::MessageParser::default().parse_headers(&m.header);
    let internal = m
        .internal_date
        .as_deref()
        .and_then(|d| DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())
        .map(|d| d.with_timezone(&Utc));
    let (mut message_id, mut from, mut from_name, mut subject, mut date) =
        (None, String::new(), None, String::new(), None);
    let (mut in_reply_to, mut references) = (Vec::new(), Vec::new());
    if let Some(p) = &parsed {
        message_id = p
            .message_id()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if let Some(a) = p.from().and_then(|a| a.first()) {
            from = a.address().unwrap_or("").to_string();
            from_name = a.name().map(str::to_string).filter(|s| !s.is_empty());
        }
        subject = p.subject().unwrap_or("").to_string();
        date = p
            .date()
            .filter(|d| d.is_valid())
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
        in_reply_to = ids_of(p.in_reply_to());
        references = ids_of(p.references());
    }
    let hash = match &message_id {
        Some(mid) => short_hash(mid.as_bytes()),
        // No Message-ID: the headers a mail client never rewrites stand in for it.
        None => short_hash(&immutable_headers(&m.header)),
    };
    Item {
        id: String::new(),
        hash,
        message_id,
        status,
        owner,
        folder: folder.to_string(),
        uid: m.uid,
        arrived: internal.or(date).unwrap_or_else(Utc::now),
        from,
        from_name,
        subject,
        seen: m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")),
        size: m.size,
        in_reply_to,
        references,
        claim_keywords: m
            .flags
            .iter()
            .filter(|f| is_move_keyword(f))
            .cloned()
            .collect(),
        modseq: m.modseq,
        released: m.flags.iter().any(|f| f.eq_ignore_ascii_case(RELEASED)),
        answered: m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Answered")),
    }
}

fn ids_of(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn immutable_headers(header: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(header);
    let mut keep = Vec::new();
    let mut current: Option<String> = None;
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take() {
            keep.push(c);
        }
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if matches!(name.as_str(), "from" | "to" | "subject" | "date") {
            current = Some(line.trim().to_string());
        }
    }
    keep.extend(current);
    keep.sort();
    format!("no-message-id\n{}", keep.join("\n")).into_bytes()
}

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 20 base32 characters of SHA-256; the list shows the shortest unique prefix (at least 8).
fn short_hash(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut bits: u128 = 0;
    for b in &digest[..13] {
        bits = (bits << 8) | u128::from(*b);
    }
    (0..20)
        .map(|i| ALPHABET[((bits >> (99 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// Gives each item its display ID: the shortest prefix (8 or more) of its hash that no
/// other message shares, plus `.N` where several copies share one Message-ID.
pub fn assign_ids(items: &mut [Item]) {
    // Sorted indices rather than maps keyed by cloned hashes: at 100,000 messages the
    // clones would cost more memory than the queue itself.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].hash.cmp(&items[b].hash));
    let groups: Vec<&[usize]> = order
        .chunk_by(|&a, &b| items[a].hash == items[b].hash)
        .collect();
    let common = |a: usize, b: usize| {
        items[a]
            .hash
            .bytes()
            .zip(items[b].hash.bytes())
            .take_while(|(x, y)| x == y)
            .count()
    };
    let mut ids = Vec::with_capacity(items.len());
    for (k, g) in groups.iter().enumerate() {
        let h = &items[g[0]].hash;
        let mut len = 8;
        for n in [k.checked_sub(1), Some(k + 1)].into_iter().flatten() {
            if let Some(other) = groups.get(n) {
                len = len.max(common(g[0], other[0]) + 1);
            }
        }
        let base = &h[..len.min(h.len())];
        if g.len() == 1 {
            ids.push((g[0], base.to_string()));
            continue;
        }
        // A stable order for copies: arrival and size survive moves.
        let mut idx = g.to_vec();
        idx.sort_by(|&a, &b| {
            let key = |i: usize| {
                (
                    items[i].arrived,
                    items[i].size,
                    &items[i].folder,
                    items[i].uid,
                )
            };
            key(a).cmp(&key(b))
        });
        for (n, i) in idx.into_iter().enumerate() {
            ids.push((i, format!("{base}.{}", n + 1)));
        }
    }
    for (i, id) in ids {
        items[i].id = id;
    }
}

fn norm_mid(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// The one item a user's ID names: a unique prefix, `prefix.N` for one of several
/// copies, or the full Message-ID (with or without angle brackets).
pub fn resolve<'a>(items: &'a [Item], query: &str) -> Result<&'a Item> {
    let q = query.trim();
    if q.is_empty() {
        return Err(Error::NotFound("an empty ID names no message".into()).into());
    }
    let candidates: Vec<&Item> = if q.contains('@') || q.starts_with('<') {
        let want = norm_mid(q);
        items
            .iter()
            .filter(|it| it.message_id.as_deref().map(norm_mid).as_deref() == Some(want.as_str()))
            .collect()
    } else {
        let ql = q.to_ascii_lowercase();
        let (base, copy) = match ql.split_once('.') {
            Some((b, c)) => (b.to_string(), Some(c.to_string())),
            None => (ql.clone(), None),
        };
        items
            .iter()
            .filter(|it| it.hash.starts_with(&base))
            .filter(|it| match &copy {
                Some(c) => it.id.rsplit_once('.').is_some_and(|(_, n)| n == c),
                None => true,
            })
            .collect()
    };
    match candidates.as_slice() {
        [] => Err(Error::NotFound(format!(
            "no message with ID {q:?} in the queue (done mail is searched only by `list --status done`)"
        ))
        .into()),
        [one] => Ok(one),
        many => {
            let lines: Vec<String> = many
                .iter()
                .take(10)
                .map(|it| {
                    let (folder, subject) = (output::line(&it.folder), output::line(&it.subject));
                    format!("  {}  {folder}  {subject}", it.id)
                })
                .collect();
            let what = if many.iter().all(|it| it.hash == many[0].hash) {
                format!("{q:?} names {} copies of one Message-ID; give one of these IDs:", many.len())
            } else {
                format!("the ID prefix {q:?} is ambiguous; it matches:")
            };
            Err(Error::Ambiguous(format!("{what}\n{}", lines.join("\n"))).into())
        }
    }
}

#[cfg(test)]
impl Item {
    /// A plain message for unit tests: arrival and subject follow the UID.
    pub(crate) fn sample(mid: Option<&str>, folder: &str, uid: u32) -> Item {
        let hash = short_hash(mid.unwrap_or("x").as_bytes());
        Item {
            id: String::new(),
            hash,
            message_id: mid.map(str::to_string),
            status: Status::Unclaimed,
            owner: None,
            folder: folder.into(),
            uid,
            arrived: DateTime::from_timestamp(1_700_000_000 + i64::from(uid), 0).unwrap(),
            from: String::new(),
            from_name: None,
            subject: format!("s{uid}"),
            seen: false,
            size: 1,
            in_reply_to: vec![],
            references: vec![],
            claim_keywords: vec![],
            modseq: None,
            released: false,
            answered: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn it(mid: Option<&str>, folder: &str, uid: u32) -> Item {
        Item::sample(mid, folder, uid)
    }

    #[test]
    fn ids_are_stable_and_copies_numbered() {
        let mut items = vec![
            it(Some("a@x"), "未対応", 1),
            it(Some("b@x"), "未対応", 2),
            it(Some("a@x"), "対応中/tanaka", 3),
        ];
        assign_ids(&mut items);
        assert_eq!(items[1].id.len(), 8);
        assert_eq!(items[0].id, format!("{}.1", &items[0].hash[..8]));
        assert_eq!(items[2].id, format!("{}.2", &items[0].hash[..8]));
        // Moving a message changes neither its hash nor its ID.
        let mut moved = vec![it(Some("b@x"), "完了", 9)];
        assign_ids(&mut moved);
        assert_eq!(moved[0].id, items[1].id);
    }

    #[test]
    fn resolving() {
        let mut items = vec![
            it(Some("a@x"), "未対応", 1),
            it(Some("b@x"), "未対応", 2),
            it(Some("a@x"), "対応中/t", 3),
        ];
        assign_ids(&mut items);
        let b = items[1].id.clone();
        assert_eq!(resolve(&items, &b[..5]).unwrap().uid, 2);
        assert_eq!(resolve(&items, "<b@x>").unwrap().uid, 2);
        assert_eq!(resolve(&items, "b@x").unwrap().uid, 2);
        let a = &items[0].hash[..8];
        let err = resolve(&items, a).unwrap_err().to_string();
        assert!(err.contains("2 copies"), "{err}");
        assert_eq!(resolve(&items, &format!("{a}.2")).unwrap().uid, 3);
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
}
