//! The queue: every message in the inbox, 未対応, each member's 対応中 folder and
//! (on request) 完了, with a short ID that survives moves, and the rules that
//! turn what a user typed into exactly one message.

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
    load_noting_by(mb, rules, paths, scope, removing, |mb, names, each| {
        mb.fetch_queues(names, each)
    })
}

/// `load_noting`, with the folders fetched by `fetch`.
pub fn load_noting_by(
    mb: &mut Mailbox,
    rules: &Rules,
    paths: &Paths,
    scope: Scope,
    removing: &mut Vec<(String, u32)>,
    fetch: impl FnOnce(&mut Mailbox, &[String], &mut dyn FnMut(usize, Queued)) -> Result<()>,
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
    let key = &rules.mark_key;
    fetch(mb, &names, &mut |k, q| match q {
        // Growing by doubling would briefly hold the queue twice at 100,000 messages.
        // The count comes from the server: a hint, never an allocation it chooses.
        Queued::Size(n) => items.reserve((n as usize).min(100_000)),
        Queued::Message(m) if !deleted(&m) => {
            let (folder, status, owner) = &folders[k];
            items.push(item(m, folder, *status, owner.clone(), Some(key)))
        }
        Queued::Message(m) => {
            if m.flags.iter().any(|f| is_own_removal(f)) {
                removing.push((folders[k].0.clone(), m.uid));
            }
        }
    })?;
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
        Queued::Message(_) => {}
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
        tie: None,
        automated,
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

/// The suffix that tells apart messages sharing a Message-ID: four base32 characters
/// of SHA-256 over the arrival second (INTERNALDATE, in UTC: Dovecot rewrites the zone
/// on copy) and RFC822.SIZE. COPY and MOVE keep both, so the suffix is the same in
/// every folder and whichever other messages a command read. Where two messages tie
/// on both, `tie` (from the bytes of the whole message, read for those only) follows.
pub fn copy_code(it: &Item) -> String {
    let digest = Sha256::digest(format!("copy\n{}\n{}", it.arrived.timestamp(), it.size));
    base32_4(&digest)
}

fn base32_4(bytes: &[u8]) -> String {
    let bits = bytes
        .iter()
        .take(3)
        .fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    (0..4)
        .map(|i| ALPHABET[((bits >> (19 - 5 * i)) & 31) as usize] as char)
        .collect()
}

/// Gives each item its display ID: the shortest prefix (8 or more) of its hash that no
/// other message shares, plus `.` and its `copy_code` (and `tie`, where known and
/// needed) where several messages share one Message-ID.
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
        let codes: Vec<String> = g.iter().map(|&i| copy_code(&items[i])).collect();
        for (n, &i) in g.iter().enumerate() {
            let tied = codes.iter().filter(|c| **c == codes[n]).count() > 1;
            let tie = match (&items[i].tie, tied) {
                (Some(t), true) => t.as_str(),
                _ => "",
            };
            ids.push((i, format!("{base}.{}{tie}", codes[n])));
        }
    }
    for (i, id) in ids {
        items[i].id = id;
    }
}

/// `assign_ids`, after reading the tie-break of the messages that need one: those
/// sharing Message-ID, arrival second and size with another (rare, so the whole
/// messages read for it are few).
pub fn settle_ids(mb: &mut Mailbox, items: &mut [Item]) -> Result<()> {
    // Codes only for messages that share a hash: most share none.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| items[a].hash.cmp(&items[b].hash));
    let mut wanted: Vec<usize> = Vec::new();
    for g in order.chunk_by(|&a, &b| items[a].hash == items[b].hash) {
        if g.len() < 2 {
            continue;
        }
        let mut coded: Vec<(String, usize)> =
            g.iter().map(|&i| (copy_code(&items[i]), i)).collect();
        coded.sort();
        for same in coded.chunk_by(|a, b| a.0 == b.0) {
            if same.len() > 1 {
                wanted.extend(
                    same.iter()
                        .map(|(_, i)| *i)
                        .filter(|&i| items[i].tie.is_none()),
                );
            }
        }
    }
    fill_ties(mb, items, &wanted)?;
    assign_ids(items);
    Ok(())
}

/// Reads the `tie` of these items (a message gone meanwhile keeps none).
fn fill_ties(mb: &mut Mailbox, items: &mut [Item], wanted: &[usize]) -> Result<()> {
    let mut by_folder: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for &i in wanted {
        by_folder
            .entry(items[i].folder.clone())
            .or_default()
            .push(items[i].uid);
    }
    for (folder, uids) in by_folder {
        let found: std::collections::HashMap<u32, [u8; 32]> = mb
            .identities(&folder, &uids)?
            .into_iter()
            .map(|(u, id)| (u, id.digest))
            .collect();
        for &i in wanted {
            if items[i].folder == folder
                && let Some(d) = found.get(&items[i].uid)
            {
                items[i].tie = Some(base32_4(d));
            }
        }
    }
    Ok(())
}

/// A query split into the hash prefix and the copy suffix (lowercase).
fn split_query(q: &str) -> (String, Option<String>) {
    let ql = q.to_ascii_lowercase();
    match ql.split_once('.') {
        Some((b, c)) => (b.to_string(), Some(c.to_string())),
        None => (ql, None),
    }
}

/// Before `resolve` of a query whose suffix carries a tie-break: reads the tie-break
/// of the items it may name that lack one (in this set they had no twin to tell
/// apart from, but the label may have been read where they had).
pub fn ties_for(mb: &mut Mailbox, items: &mut [Item], query: &str) -> Result<()> {
    let (base, Some(suffix)) = split_query(query.trim()) else {
        return Ok(());
    };
    if suffix.len() != 8 {
        return Ok(());
    }
    let wanted: Vec<usize> = (0..items.len())
        .filter(|&i| {
            items[i].tie.is_none()
                && items[i].hash.starts_with(&base)
                && copy_code(&items[i]) == suffix[..4]
        })
        .collect();
    fill_ties(mb, items, &wanted)
}

/// The label a resolved message is shown with: where the query named it by its
/// copy suffix and the set it was found in held no namesake (an archive folder, 完了),
/// the suffix stays, so that the user sees the label they gave.
pub fn label_as_named(it: &mut Item, query: &str) {
    let q = query.trim();
    if q.contains('@') || q.starts_with('<') {
        return;
    }
    let (_, Some(suffix)) = split_query(q) else {
        return;
    };
    if !it.id.contains('.') {
        it.id = format!("{}.{suffix}", it.id);
    }
}

fn norm_mid(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// The one item a user's ID names: a unique prefix, `prefix.code` for one of several
/// messages sharing a Message-ID (`code` is the `copy_code`, and the `tie` after it
/// where two tie), or the full Message-ID (with or without angle brackets). A suffix
/// must match exactly: a label from before (`ID.1`) names nothing rather than a guess.
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
        let (base, copy) = split_query(q);
        if let Some(c) = &copy
            && !(c.len() == 4 || c.len() == 8)
        {
            return Err(Error::NotFound(format!(
                "no message with ID {q:?}: the part after the dot is 4 or 8 characters (`list` shows each message's ID; numbers like .1 are no longer used)"
            ))
            .into());
        }
        items
            .iter()
            .filter(|it| it.hash.starts_with(&base))
            .filter(|it| match &copy {
                Some(c) => {
                    copy_code(it) == c[..4] && (c.len() == 4 || it.tie.as_deref() == Some(&c[4..]))
                }
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
            let what = if many.iter().all(|it| it.id == many[0].id) {
                // Nothing read tells them apart, and mailduty does not pick one by a
                // guess: a proven copy goes at the next `rotate --apply`, look-alikes
                // are for a person to tell apart.
                let bytes = if many.iter().all(|it| it.tie.is_some()) { ", bytes" } else { "" };
                format!(
                    "{q:?} names {} messages with the same Message-ID, arrival second{bytes} and size, which no ID tells apart; move one in a mail client first (a proven copy is removed by `rotate --apply`):",
                    many.len()
                )
            } else if many.iter().all(|it| it.hash == many[0].hash) {
                format!("{q:?} names {} messages with one Message-ID; give one of these IDs:", many.len())
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
            tie: None,
            automated: None,
            held_until: None,
            held_at: None,
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
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
}
