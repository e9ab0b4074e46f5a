//! The queue: every message in the inbox, 未対応, each member's 対応中 folder and
//! (on request) 完了, with a short ID that survives moves, and the rules that
//! turn what a user typed into exactly one message.
//!
//! This file loads the queue (one pipelined FETCH of the header fields per folder)
//! into `Item`s; `ids` makes the labels and resolves what a person typed. Part of
//! the desk; calls only `imap`, `rules` and the desk's folder names.

mod heads;
mod ids;

pub use heads::{Head, Heads};
pub use ids::*;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::desk::rules::{RELEASED, is_move_keyword, is_own_removal};
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
    /// 保留: waiting on the customer or on someone.
    Held,
    /// 対応不要: needs no reply.
    Dismissed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unclaimed => "unclaimed",
            Status::Claimed => "claimed",
            Status::Done => "done",
            Status::Held => "held",
            Status::Dismissed => "dismissed",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Item {
    /// The short ID shown to users. Where several messages share a Message-ID, a
    /// suffix after a dot tells them apart (`copy_code`): derived from the message
    /// itself, so it names the same stored message whatever else a command read.
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
    /// Four characters of the digest of the whole message, read only for messages
    /// whose Message-ID, arrival second and size are all the same as another's.
    #[serde(skip)]
    pub tie: Option<String>,
    /// What its headers say if it is automated mail (`crate::automated`).
    #[serde(skip)]
    pub automated: Option<crate::automated::Verdict>,
    /// Held mail: when it comes back (from the history's hold event); None: until
    /// someone gives it back or the customer writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_until: Option<DateTime<Utc>>,
    /// Held mail: when the event that put it in 保留 was recorded.
    #[serde(skip)]
    pub held_at: Option<DateTime<Utc>>,
    /// Dismissed mail: why (the dismiss event's note).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Unclaimed mail waiting longer than its SLA, counted in business time.
/// A message with a reply has had its first response and is not overdue; the
/// customer's next message is a message of its own, with its own wait.
pub fn overdue(rules: &Rules, it: &Item, now: DateTime<Utc>) -> bool {
    if it.answered || it.status != Status::Unclaimed || quiet(rules, it) {
        return false;
    }
    let sla = rules.unclaimed_sla(&it.from, &it.subject);
    let waited = rules.calendar.business_time(it.arrived, now);
    waited.to_std().is_ok_and(|w| w > sla)
}

/// Automated mail in 未対応 (`automated: file`, or filed before mailduty told it
/// apart): kept, but never overdue, handed out or alerted on.
pub fn quiet(_rules: &Rules, it: &Item) -> bool {
    it.automated.is_some()
}

#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub active: bool,
    pub done: bool,
    /// 対応不要, which grows like 完了 and is read only when asked for.
    pub dismissed: bool,
}

impl Scope {
    pub const ACTIVE: Scope = Scope {
        active: true,
        done: false,
        dismissed: false,
    };
    pub const ALL: Scope = Scope {
        active: true,
        done: true,
        dismissed: true,
    };
}

/// Reads the queue: the inbox, 未対応, 対応中 and every folder below it (mail a client
/// dropped on 対応中 itself or on a folder that is no member's is claimed with the
/// owner unknown, never left out), and 完了 when `scope.done` asks for it. Its cost
/// grows with the active folders only.
pub fn load(mb: &mut Mailbox, rules: &Rules, paths: &Paths, scope: Scope) -> Result<Vec<Item>> {
    load_noting(mb, rules, paths, scope, &mut Vec::new())
}

/// `load`, noting in `removing` the (folder, UID) of the messages left out because
/// mailduty's own removal of them was cut before its EXPUNGE: `\Deleted` together
/// with a mark only mailduty sets (`desk::rules::is_own_removal`).
pub fn load_noting(
    mb: &mut Mailbox,
    rules: &Rules,
    paths: &Paths,
    scope: Scope,
    removing: &mut Vec<(String, u32)>,
) -> Result<Vec<Item>> {
    load_noting_by(
        mb,
        rules,
        paths,
        scope,
        removing,
        None,
        |mb, names, _, each| mb.fetch_queues(names, each),
    )
}

/// `load_noting`, with the folders fetched by `fetch`, which is given for each
/// folder the UID below which `heads` holds its messages' header fields (those are
/// answered as `Queued::Flags`). What was read goes into `heads`.
pub fn load_noting_by(
    mb: &mut Mailbox,
    rules: &Rules,
    paths: &Paths,
    scope: Scope,
    removing: &mut Vec<(String, u32)>,
    mut heads: Option<&mut Heads>,
    fetch: impl FnOnce(
        &mut Mailbox,
        &[String],
        &[Option<u32>],
        &mut dyn FnMut(usize, Queued),
    ) -> Result<()>,
) -> Result<Vec<Item>> {
    let mut folders: Vec<(String, Status, Option<String>)> = Vec::new();
    if scope.active {
        folders = active_folders(mb, rules, paths)?;
    }
    if scope.done {
        folders.push((paths.done.clone(), Status::Done, None));
    }
    if scope.dismissed {
        folders.push((paths.dismissed.clone(), Status::Dismissed, None));
    }
    let mut items = Vec::new();
    let names: Vec<String> = folders.iter().map(|f| f.0.clone()).collect();
    let known: Vec<Option<u32>> = names
        .iter()
        .map(|f| heads.as_ref().and_then(|h| h.known(f)))
        .collect();
    let key = &rules.mark_key;
    let mut validity = vec![None; names.len()];
    // Known UIDs whose heads were not kept after all: read whole below.
    let mut missed: Vec<std::collections::BTreeSet<u32>> = vec![Default::default(); names.len()];
    // The first answer for each message counts: `N:*` also answers the highest
    // message below N, and a change made meanwhile may be reported unasked.
    let mut taken: std::collections::HashSet<(usize, u32)> = std::collections::HashSet::new();
    fetch(mb, &names, &known, &mut |k, q| {
        let (folder, status, owner) = &folders[k];
        let (m, whole) = match q {
            // Growing by doubling would briefly hold the queue twice at 100,000
            // messages. The count comes from the server: a hint, never an allocation
            // it chooses.
            Queued::Size(n) => return items.reserve((n as usize).min(100_000)),
            Queued::Validity(v) => {
                validity[k] = Some(v);
                if let Some(h) = heads.as_deref_mut() {
                    h.opened(folder, Some(v));
                }
                return;
            }
            Queued::Message(m) => (m, true),
            Queued::Flags(m) => (m, false),
        };
        if taken.contains(&(k, m.uid)) {
            return;
        }
        if deleted(&m) {
            taken.insert((k, m.uid));
            missed[k].remove(&m.uid);
            if m.flags.iter().any(|f| is_own_removal(f)) {
                removing.push((folder.clone(), m.uid));
            }
            if let Some(h) = heads.as_deref_mut() {
                h.seen(folder, validity[k], m.uid, None);
            }
            return;
        }
        let head = match whole {
            true => Some(head_of(&m, Some(key))),
            false => heads
                .as_deref()
                .and_then(|h| h.get(folder, validity[k], m.uid))
                .filter(|h| h.size == m.size)
                .cloned(),
        };
        let Some(head) = head else {
            missed[k].insert(m.uid);
            return;
        };
        missed[k].remove(&m.uid);
        taken.insert((k, m.uid));
        if let Some(h) = heads.as_deref_mut() {
            h.seen(folder, validity[k], m.uid, Some(head.clone()));
        }
        items.push(item_of(head, &m, folder, *status, owner.clone()));
    })?;
    if missed.iter().any(|m| !m.is_empty()) {
        for (k, uids) in missed.iter().enumerate().filter(|(_, u)| !u.is_empty()) {
            let (folder, status, owner) = &folders[k];
            let uids: Vec<u32> = uids.iter().copied().collect();
            let mut again = std::collections::HashSet::new();
            mb.fetch_fields(folder, &uids, QUEUE_FIELDS, |m| {
                // Only whole answers, once each (a change may be reported unasked).
                if !m.section || !again.insert(m.uid) {
                    return;
                }
                if deleted(&m) && m.flags.iter().any(|f| is_own_removal(f)) {
                    removing.push((folder.clone(), m.uid));
                }
                let head = (!deleted(&m)).then(|| head_of(&m, Some(key)));
                if let Some(h) = heads.as_deref_mut() {
                    h.seen(folder, validity[k], m.uid, head.clone());
                }
                if let Some(head) = head {
                    items.push(item_of(head, &m, folder, *status, owner.clone()));
                }
            })?;
        }
        // In the order a whole read gives: folder by folder, by UID.
        let rank: std::collections::HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(k, f)| (f.as_str(), k))
            .collect();
        items.sort_by_key(|i| (rank.get(i.folder.as_str()).copied(), i.uid));
    }
    settle_ids(mb, &mut items)?;
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
        Queued::Message(m) if !deleted(&m) => {
            let (folder, status, owner) = &folders[k];
            items.push(item(m, folder, *status, owner.clone(), None))
        }
        _ => {}
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
    settle_ids(mb, &mut items)?;
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
        (paths.held.clone(), Status::Held, None),
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
        if let Queued::Message(m) = q
            && !deleted(&m)
        {
            items.push(item(m, &folders[k], Status::Done, None, None));
        }
    })?;
    settle_ids(mb, &mut items)?;
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
        Some(Place::Held) => (Status::Held, None),
        Some(Place::Dismissed) => (Status::Dismissed, None),
        _ => (Status::Unclaimed, None),
    };
    let mut items = Vec::new();
    mb.fetch_fields(folder, uids, QUEUE_FIELDS, |m| {
        if !deleted(&m) {
            items.push(item(
                m,
                folder,
                status,
                owner.clone(),
                Some(&rules.mark_key),
            ))
        }
    })?;
    settle_ids(mb, &mut items)?;
    Ok(items)
}

/// Marked `\Deleted`: a mail client moved it by COPY and left the original to be
/// expunged (now, later or when the user purges). It is on its way out, so it is in
/// no queue, count, SLA or ID, and mailduty neither moves nor expunges it (that is
/// the client's decision). mailduty's own removals are found by their keywords.
fn deleted(m: &Fetched) -> bool {
    m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Deleted"))
}

fn item(
    m: Fetched,
    folder: &str,
    status: Status,
    owner: Option<String>,
    key: Option<&[u8; 32]>,
) -> Item {
    item_of(head_of(&m, key), &m, folder, status, owner)
}

/// What a message's header fields, INTERNALDATE and size say: all that never
/// changes about it.
fn head_of(m: &Fetched, key: Option<&[u8; 32]>) -> Head {
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
    let automated =
        key.and_then(|k| crate::automated::classify(&m.header, &from, message_id.as_deref(), k));
    Head {
        hash,
        message_id,
        from,
        from_name,
        subject,
        arrived: internal.or(date),
        size: m.size,
        in_reply_to,
        references,
        automated,
    }
}

/// A queue item of a message: its head, and its UID, flags and MODSEQ as just read.
fn item_of(h: Head, m: &Fetched, folder: &str, status: Status, owner: Option<String>) -> Item {
    Item {
        id: String::new(),
        hash: h.hash,
        message_id: h.message_id,
        status,
        owner,
        folder: folder.to_string(),
        uid: m.uid,
        arrived: h.arrived.unwrap_or_else(Utc::now),
        from: h.from,
        from_name: h.from_name,
        subject: h.subject,
        seen: m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen")),
        size: h.size,
        in_reply_to: h.in_reply_to,
        references: h.references,
        claim_keywords: m
            .flags
            .iter()
            .filter(|f| is_move_keyword(f))
            .cloned()
            .collect(),
        modseq: m.modseq,
        released: m.flags.iter().any(|f| f.eq_ignore_ascii_case(RELEASED)),
        answered: m.flags.iter().any(|f| f.eq_ignore_ascii_case("\\Answered")),
        tie: None,
        automated: h.automated,
        held_until: None,
        held_at: None,
        reason: None,
    }
}

fn ids_of(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
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
            tie: None,
            automated: None,
            held_until: None,
            held_at: None,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests;
