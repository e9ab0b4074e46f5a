//! 対応履歴: every transition is appended to the history folder as a small RFC 5322
//! message whose `X-Mailduty-*` headers a program can read back.

use anyhow::Result;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::imap::{Key, Mailbox};
use crate::queue::Item;

pub struct Event<'a> {
    pub kind: &'a str,
    pub actor: &'a str,
    pub item: &'a Item,
    pub from_folder: &'a str,
    pub to_folder: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// The event's own Message-ID, when a retry must be able to find it (a note);
    /// else one is made up.
    pub message_id: Option<String>,
}

/// RFC 2047 encoded words when the text is not short plain ASCII; long text is split
/// into several words on folded lines, each under the 75-character limit.
pub fn encode_word(s: &str) -> String {
    let plain = s.bytes().all(|b| (0x20..0x7f).contains(&b)) && !s.contains("=?");
    if plain && s.len() <= 900 {
        return s.to_string();
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in s.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() || words.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Reverses `encode_word`; other text comes back unchanged.
pub fn decode_word(s: &str) -> String {
    let words: Vec<&str> = s.split_whitespace().collect();
    let decoded: Option<Vec<u8>> = words
        .iter()
        .map(|w| {
            w.strip_prefix("=?UTF-8?B?")
                .and_then(|r| r.strip_suffix("?="))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        })
        .try_fold(Vec::new(), |mut acc, part| {
            acc.extend(part?);
            Some(acc)
        });
    match decoded.and_then(|v| String::from_utf8(v).ok()) {
        Some(text) if !words.is_empty() => text,
        _ => s.trim().to_string(),
    }
}

pub fn render(ev: &Event<'_>) -> Vec<u8> {
    render_noting(ev, &[])
}

/// The event, with the chat targets (`notify:` names) still to be told about it: its
/// pending deliveries, kept on the server so that any machine's next run sends them.
pub fn render_noting(ev: &Event<'_>, notify: &[String]) -> Vec<u8> {
    let it = ev.item;
    let target = it
        .message_id
        .as_deref()
        .map(|m| format!("<{}>", m.trim_matches(['<', '>'])))
        .unwrap_or_default();
    let own_id = ev.message_id.clone().unwrap_or_else(|| fresh_id(ev));
    let mut h = vec![
        "From: mailduty <mailduty@localhost>".to_string(),
        format!("Date: {}", ev.at.to_rfc2822()),
        format!("Message-ID: <{own_id}>"),
        format!(
            "Subject: {}",
            encode_word(&format!("[mailduty] {} {} by {}", ev.kind, it.id, ev.actor))
        ),
        format!("X-Mailduty-Id: {}", it.id),
        format!("X-Mailduty-Hash: {}", it.hash),
    ];
    h.extend(shared_fields(ev));
    if !target.is_empty() {
        h.push(format!("X-Mailduty-Target: {target}"));
        h.push(format!("References: {target}"));
    }
    if let Some(to) = ev.to_folder {
        h.push(format!("X-Mailduty-To-Folder: {}", encode_word(to)));
    }
    if let Some(n) = ev.note {
        h.push(format!("X-Mailduty-Note: {}", encode_word(n)));
    }
    h.push(format!("X-Mailduty-Subject: {}", encode_word(&it.subject)));
    h.push(format!(
        "X-Mailduty-Arrived: {}",
        it.arrived
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    ));
    h.push(format!("X-Mailduty-Size: {}", it.size));
    if !it.from.is_empty() {
        h.push(format!(
            "X-Mailduty-Sender: {}",
            encode_word(&sender_of(it))
        ));
    }
    if !notify.is_empty() {
        h.push(format!("X-Mailduty-Notify: {}", notify.join(" ")));
    }
    h.push("MIME-Version: 1.0".into());
    h.push("Content-Type: text/plain; charset=utf-8".into());
    h.push("Content-Transfer-Encoding: 8bit".into());
    let mut body = format!(
        "{} {} {}\nsubject: {}\nfrom: {}\nfolder: {}{}\n",
        ev.actor,
        ev.kind,
        it.id,
        it.subject,
        it.from,
        ev.from_folder,
        ev.to_folder.map(|t| format!(" -> {t}")).unwrap_or_default()
    );
    if let Some(n) = ev.note {
        body.push_str(&format!("\n{n}\n"));
    }
    format!("{}\r\n\r\n{}", h.join("\r\n"), body.replace('\n', "\r\n")).into_bytes()
}

/// A Message-ID for an event that no retry needs to find again.
pub fn fresh_id(ev: &Event<'_>) -> String {
    format!(
        "{}{}{}.{}@mailduty",
        ev.at.timestamp_nanos_opt().unwrap_or(0),
        std::process::id(),
        ev.item.hash,
        ev.kind
    )
}

/// The Message-ID of a note: the same for the same text by the same member about the
/// same message on the same day.
pub fn note_id(actor: &str, it: &Item, text: &str, day: chrono::NaiveDate) -> String {
    let digest = digest_of([
        actor,
        &it.hash,
        &it.size.to_string(),
        &it.arrived.timestamp().to_string(),
        text,
    ]);
    format!("note.{day}.{digest}@mailduty")
}

/// The Message-ID of an `access` event: one per login changed in a run.
pub fn access_id(login: &str, at: DateTime<Utc>) -> String {
    let digest = digest_of([login, &at.timestamp_nanos_opt().unwrap_or(0).to_string()]);
    format!("access.{}.{digest}@mailduty", std::process::id())
}

/// 12 bytes of SHA-256 over the parts, each ended by a NUL, in hex.
fn digest_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The Message-ID of the event of a move that landed at `uid` in `folder`: the run
/// that moved it and a later run that finishes its history write the same one.
pub fn move_id(kind: &str, folder: &str, uid: u32) -> String {
    use sha2::{Digest, Sha256};
    let f: String = Sha256::digest(folder.as_bytes())[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("move.{kind}.{f}.{uid}@mailduty")
}

/// The fields every event mail has, one event or a batch: kind, actor, time and the
/// folder moved from.
fn shared_fields(ev: &Event<'_>) -> [String; 4] {
    [
        format!("X-Mailduty-Event: {}", ev.kind),
        format!("X-Mailduty-Actor: {}", ev.actor),
        format!(
            "X-Mailduty-Time: {}",
            ev.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        format!("X-Mailduty-From-Folder: {}", encode_word(ev.from_folder)),
    ]
}

/// An event mail with the login of the session that writes it in front: who did it,
/// as the server knows them, beside the actor the rules name.
pub fn stamped(login: &str, raw: &[u8]) -> Vec<u8> {
    let mut out = format!("X-Mailduty-Login: {}\r\n", encode_word(login)).into_bytes();
    out.extend_from_slice(raw);
    out
}

/// Appends the event to the history folder, marked \Seen so it never shows as new mail.
pub fn append(mb: &mut Mailbox, folder: &str, ev: &Event<'_>) -> Result<()> {
    let raw = stamped(mb.login(), &render(ev));
    mb.append_seen(folder, &raw)
}

/// Like `append`, with the chat targets that are to hear of it.
pub fn append_noting(
    mb: &mut Mailbox,
    folder: &str,
    ev: &Event<'_>,
    notify: &[String],
) -> Result<()> {
    let raw = stamped(mb.login(), &render_noting(ev, notify));
    mb.append_seen(folder, &raw)
}

/// An event read back from the history folder.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub time: DateTime<Utc>,
    pub event: String,
    pub actor: String,
    /// The IMAP login of the session that recorded it (events written before
    /// mailduty recorded it have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    pub id: String,
    /// The Message-ID the event is about, without angle brackets.
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from_folder: Option<String>,
    pub to_folder: Option<String>,
    pub note: Option<String>,
    /// When the message arrived, as known when the event was recorded.
    pub arrived: Option<DateTime<Utc>>,
    /// The message's size (events written before it was recorded have none).
    pub size: Option<u32>,
    /// The message's sender, as its From header gave it.
    pub sender: Option<String>,
    /// The message's hash (its short ID's source), where the event names it.
    #[serde(skip)]
    pub hash: Option<String>,
    /// The chat targets that were to hear of this event when it was recorded.
    #[serde(skip)]
    pub notify: Vec<String>,
    /// The event's own Message-ID: one move recorded twice (by its run and by a
    /// later run that finished it) has one ID, and is read once.
    #[serde(skip)]
    pub own_id: Option<String>,
}

impl Stored {
    /// Whether the event is about this stored message rather than another one with
    /// the same Message-ID: the arrival and size it names, where it names them.
    pub fn concerns(&self, it: &Item) -> bool {
        self.arrived
            .is_none_or(|a| a.timestamp() == it.arrived.timestamp())
            && self.size.is_none_or(|s| s == it.size)
    }
}

const FIELDS: &str = "X-MAILDUTY-EVENT X-MAILDUTY-ACTOR X-MAILDUTY-LOGIN X-MAILDUTY-ID X-MAILDUTY-TIME X-MAILDUTY-TARGET X-MAILDUTY-FROM-FOLDER X-MAILDUTY-TO-FOLDER X-MAILDUTY-NOTE X-MAILDUTY-SUBJECT X-MAILDUTY-ARRIVED X-MAILDUTY-SIZE X-MAILDUTY-SENDER X-MAILDUTY-NOTIFY X-MAILDUTY-HASH X-MAILDUTY-ITEM MESSAGE-ID";

/// Events whose UIDs searches found, folder by folder (`search_in`), oldest first;
/// of one second, 対応履歴's before the journal's and each folder's in UID order.
/// Messages in a history folder that are not events (someone filed mail there by
/// hand) are skipped.
///
/// Also says whether every folder but the last still held all it was asked for:
/// `rotate --apply` may have moved some of the journal into the history folder
/// between the search and the fetch, after the history folder was searched (with
/// archive folders after it, a history folder that lost some asks for a second
/// read too, which costs only time).
fn fetch(mb: &mut Mailbox, folders: &[String], found: &[Vec<u32>]) -> Result<(Vec<Stored>, bool)> {
    let mut out = Vec::new();
    let mut whole = true;
    let last = folders.len().saturating_sub(1);
    // The history folder first: of two events in one second, the one already moved
    // in is the older (the sort below keeps this order among equal times).
    for (k, (folder, uids)) in folders.iter().zip(found).enumerate().rev() {
        let mut got = std::collections::HashSet::new();
        mb.fetch_fields(folder, uids, FIELDS, |f| {
            // A message expunged meanwhile may still be answered, without its
            // header (Dovecot: NIL, then EXPUNGEISSUED).
            if !f.header.is_empty() {
                got.insert(f.uid);
            }
            out.extend(parse_all(&f.header))
        })?;
        whole &= k == last || uids.iter().all(|u| got.contains(u));
    }
    out.sort_by_key(|e| e.time);
    let mut seen = std::collections::HashSet::new();
    out.retain(|e| e.own_id.as_ref().is_none_or(|id| seen.insert(id.clone())));
    Ok((out, whole))
}

/// Searches (`search`), then fetches what it found; once more when the journal lost
/// a message in between (see `fetch`), so that an event moved meanwhile is read
/// from the history folder rather than from neither.
fn read(
    mb: &mut Mailbox,
    folders: &[String],
    mut search: impl FnMut(&mut Mailbox) -> Result<Vec<Vec<u32>>>,
) -> Result<Vec<Stored>> {
    let hits = search(mb)?;
    let (evs, whole) = fetch(mb, folders, &hits)?;
    if whole {
        return Ok(evs);
    }
    let hits = search(mb)?;
    Ok(fetch(mb, folders, &hits)?.0)
}

/// The UIDs matching `keys` in each of the history folders (the journal, then the
/// history folder: `Paths::history_reads`), in one round trip. A journal not made
/// yet holds nothing.
fn search_in(mb: &mut Mailbox, folders: &[String], keys: &[Key]) -> Result<Vec<Vec<u32>>> {
    mb.search_each_present(folders, keys)
}

/// The events in the history folders' mails that match `keys`.
fn found(mb: &mut Mailbox, folders: &[String], keys: &[Key]) -> Result<Vec<Stored>> {
    read(mb, folders, |mb| search_in(mb, folders, keys))
}

type Fields = Vec<(String, String)>;

/// A header's fields, names in lower case; folded lines are joined.
fn fields_of(header: &[u8]) -> Fields {
    let text = String::from_utf8_lossy(header);
    let mut fields: Fields = Vec::new();
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    fields
}

/// The header fields of one event (for a history mail of several, the first).
pub fn parse(header: &[u8]) -> Option<Stored> {
    parse_all(header).into_iter().next()
}

/// The events of one history mail: one, or those of a batch (`render_batch`).
pub fn parse_all(header: &[u8]) -> Vec<Stored> {
    let fields = fields_of(header);
    let Some(common) = stored_from(&fields) else {
        return Vec::new();
    };
    let items: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "x-mailduty-item")
        .map(|(_, v)| v.as_str())
        .collect();
    if items.is_empty() {
        return vec![common];
    }
    items
        .into_iter()
        .filter_map(|line| item_of(&common, line))
        .collect()
}

fn stored_from(fields: &Fields) -> Option<Stored> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| decode_word(v))
            .filter(|v| !v.is_empty())
    };
    Some(Stored {
        time: DateTime::parse_from_rfc3339(&get("x-mailduty-time")?)
            .ok()?
            .with_timezone(&Utc),
        event: get("x-mailduty-event")?,
        actor: get("x-mailduty-actor").unwrap_or_default(),
        login: get("x-mailduty-login"),
        id: get("x-mailduty-id").unwrap_or_default(),
        message_id: get("x-mailduty-target").map(|t| t.trim_matches(['<', '>']).to_string()),
        subject: get("x-mailduty-subject"),
        from_folder: get("x-mailduty-from-folder"),
        to_folder: get("x-mailduty-to-folder"),
        note: get("x-mailduty-note"),
        arrived: get("x-mailduty-arrived")
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        size: get("x-mailduty-size").and_then(|s| s.parse().ok()),
        sender: get("x-mailduty-sender"),
        hash: get("x-mailduty-hash"),
        notify: get("x-mailduty-notify")
            .map(|n| n.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        own_id: get("message-id").map(|m| m.trim_matches(['<', '>']).to_string()),
    })
}

/// Most events one history mail carries, and most bytes of their item lines: a
/// batch stays a small message that any server stores and searches.
pub const BATCH: usize = 50;
const BATCH_BYTES: usize = 32 * 1024;
/// An event whose item line would be longer than this is written on its own.
const ITEM_BYTES: usize = 2 * 1024;

/// The `X-Mailduty-Item` line of one event of a batch: `key:value` words, text
/// values in base64 (which has no `:` and no space), folded between words and
/// inside long values. The event's own Message-ID comes first and is never folded,
/// so that a search can find it (`recorded`).
fn item_line(ev: &Event<'_>, own_id: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let it = ev.item;
    let mut words = vec![
        format!("own:{own_id}"),
        format!("id:{}", it.id),
        format!("hash:{}", it.hash),
        format!("arrived:{}", it.arrived.timestamp()),
        format!("size:{}", it.size),
    ];
    if let Some(m) = it.message_id.as_deref() {
        words.push(format!("target:{}", b64(m.trim_matches(['<', '>']))));
    }
    words.push(format!("subject:{}", b64(&it.subject)));
    if !it.from.is_empty() {
        words.push(format!("sender:{}", b64(&sender_of(it))));
    }
    if let Some(n) = ev.note {
        words.push(format!("note:{}", b64(n)));
    }
    let mut out = String::from("X-Mailduty-Item:");
    let mut col = out.len();
    for w in words {
        let (key, value) = w.split_once(':').unwrap_or((&w, ""));
        let mut piece = format!("{key}:");
        let mut rest = value;
        loop {
            let room = 76usize.saturating_sub(col + 1 + piece.len()).max(16);
            let take = if key == "own" {
                rest.len()
            } else {
                boundary_at_most(rest, room)
            };
            let (now, more) = rest.split_at(take);
            piece.push_str(now);
            if col > 0 && col + 1 + piece.len() > 76 {
                out.push_str("\r\n");
                col = 0;
            }
            out.push(' ');
            out.push_str(&piece);
            col += 1 + piece.len();
            rest = more;
            if rest.is_empty() {
                break;
            }
            piece = String::new();
        }
    }
    out
}

/// The longest start of `s` of at most `n` bytes that ends on a character
/// boundary, and never empty while `s` is not.
fn boundary_at_most(s: &str, n: usize) -> usize {
    if s.len() <= n {
        return s.len();
    }
    let mut k = n;
    while k > 0 && !s.is_char_boundary(k) {
        k -= 1;
    }
    if k == 0 {
        s.chars().next().map_or(0, char::len_utf8)
    } else {
        k
    }
}

/// One event of a batch: the mail's shared fields with the item line's own.
fn item_of(common: &Stored, line: &str) -> Option<Stored> {
    let b64 = |v: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(v)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    let mut words: Vec<(String, String)> = Vec::new();
    for w in line.split_whitespace() {
        match w.split_once(':') {
            Some((k, v)) => words.push((k.to_string(), v.to_string())),
            None => words.last_mut()?.1.push_str(w),
        }
    }
    let get = |k: &str| words.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut ev = common.clone();
    ev.own_id = Some(get("own").filter(|o| !o.is_empty())?.to_string());
    ev.id = get("id")?.to_string();
    ev.hash = get("hash").map(str::to_string);
    ev.arrived = get("arrived")
        .and_then(|t| t.parse().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0));
    ev.size = get("size").and_then(|s| s.parse().ok());
    ev.message_id = get("target").and_then(b64);
    ev.subject = get("subject").and_then(b64);
    ev.sender = get("sender").and_then(b64);
    ev.note = get("note").and_then(b64);
    Some(ev)
}

fn sender_of(it: &Item) -> String {
    match it.from_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} <{}>", it.from),
        None => it.from.clone(),
    }
}

/// History mails for events, each with the Message-ID it is to be known by: runs
/// of events of one kind, actor and pair of folders go several to a mail
/// (`render_batch`), the rest one to a mail (`render_noting`). A run that moved a
/// thousand messages writes tens of mails, not a thousand.
pub fn render_many(evs: &[(&Event<'_>, String)], notify: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut run: Vec<(&Event<'_>, &str, String)> = Vec::new();
    let mut bytes = 0;
    let flush = |run: &mut Vec<(&Event<'_>, &str, String)>, out: &mut Vec<Vec<u8>>| {
        match run.len() {
            0 => {}
            1 => {
                let (ev, own, _) = &run[0];
                let single = Event {
                    message_id: Some(own.to_string()),
                    ..**ev
                };
                out.push(render_noting(&single, notify));
            }
            _ => out.push(render_batch(run, notify)),
        }
        run.clear();
    };
    for &(ev, ref own) in evs {
        let line = item_line(ev, own);
        // The events of one call are of one moment; the mail keeps the first's time.
        let joins = run.first().is_some_and(|(first, _, _)| {
            first.kind == ev.kind
                && first.actor == ev.actor
                && first.from_folder == ev.from_folder
                && first.to_folder == ev.to_folder
        });
        if !joins || run.len() >= BATCH || bytes + line.len() > BATCH_BYTES {
            flush(&mut run, &mut out);
            bytes = 0;
        }
        // An event with a Message-ID of its own (a note) is found by it: alone.
        // A Message-ID too long for one header line would make a strict server refuse
        // the whole batch: such an event goes alone, as it always did.
        let long_target = ev.item.message_id.as_ref().is_some_and(|m| m.len() > 900);
        if line.len() > ITEM_BYTES || long_target || ev.message_id.is_some() {
            out.push(render_noting(
                &Event {
                    message_id: Some(own.clone()),
                    ..*ev
                },
                notify,
            ));
            continue;
        }
        bytes += line.len();
        run.push((ev, own, line));
    }
    flush(&mut run, &mut out);
    out
}

/// Several events that share kind, actor and folders, in one history mail:
/// the shared fields once, then per event its `X-Mailduty-Target` and
/// `X-Mailduty-Hash` (which the server searches, as in a mail of one event) and its
/// `X-Mailduty-Item` line (what `parse_all` reads back).
fn render_batch(run: &[(&Event<'_>, &str, String)], notify: &[String]) -> Vec<u8> {
    let ev = run[0].0;
    let own_id = digest_of(run.iter().map(|(_, own, _)| *own));
    let mut h = vec![
        "From: mailduty <mailduty@localhost>".to_string(),
        format!("Date: {}", ev.at.to_rfc2822()),
        format!("Message-ID: <batch.{}.{own_id}@mailduty>", ev.kind),
        format!(
            "Subject: {}",
            encode_word(&format!(
                "[mailduty] {} {} messages by {}",
                ev.kind,
                run.len(),
                ev.actor
            ))
        ),
    ];
    h.extend(shared_fields(ev));
    if let Some(to) = ev.to_folder {
        h.push(format!("X-Mailduty-To-Folder: {}", encode_word(to)));
    }
    if !notify.is_empty() {
        h.push(format!("X-Mailduty-Notify: {}", notify.join(" ")));
    }
    let mut body = String::new();
    for (e, _, line) in run {
        if let Some(m) = e.item.message_id.as_deref() {
            h.push(format!(
                "X-Mailduty-Target: <{}>",
                m.trim_matches(['<', '>'])
            ));
        }
        h.push(format!("X-Mailduty-Hash: {}", e.item.hash));
        h.push(line.clone());
        body.push_str(&format!(
            "{} {} {}: {}\n",
            e.actor, e.kind, e.item.id, e.item.subject
        ));
    }
    h.push("MIME-Version: 1.0".into());
    h.push("Content-Type: text/plain; charset=utf-8".into());
    h.push("Content-Transfer-Encoding: 8bit".into());
    body.push_str(&format!(
        "folder: {}{}\n",
        ev.from_folder,
        ev.to_folder.map(|t| format!(" -> {t}")).unwrap_or_default()
    ));
    format!("{}\r\n\r\n{}", h.join("\r\n"), body.replace('\n', "\r\n")).into_bytes()
}

/// Which of these event Message-IDs are in the history: one SEARCH per ~8 KB of keys
/// and one FETCH.
pub fn recorded(
    mb: &mut Mailbox,
    folders: &[String],
    ids: &[String],
) -> Result<std::collections::HashSet<String>> {
    // An event in a batch is named first on its item line (`item_line`).
    let keys: Vec<Key> = ids
        .iter()
        .flat_map(|m| {
            [
                Key::MessageId(m.clone()),
                Key::Header("X-Mailduty-Item", format!("own:{m}")),
            ]
        })
        .collect();
    let wanted: std::collections::HashSet<&String> = ids.iter().collect();
    Ok(read(mb, folders, |mb| search_any(mb, folders, &keys))?
        .into_iter()
        .filter_map(|e| e.own_id)
        .filter(|id| wanted.contains(id))
        .collect())
}

/// The events about each of several messages: one SEARCH for all of those with a
/// Message-ID (~8 KB of keys at a time) and one FETCH, the events then sorted to their
/// messages here. Pipelined SEARCHes would not do: a server may answer them out of
/// order. Messages without a Message-ID are looked up one by one.
pub fn about_each(
    mb: &mut Mailbox,
    folders: &[String],
    items: &[&Item],
) -> Result<Vec<Vec<Stored>>> {
    let mut out = vec![Vec::new(); items.len()];
    let with_id: Vec<(usize, &str)> = items
        .iter()
        .enumerate()
        .filter_map(|(k, it)| Some((k, it.message_id.as_deref()?)))
        .collect();
    let mut by_target: std::collections::HashMap<String, Vec<usize>> =
        std::collections::HashMap::new();
    for (k, mid) in &with_id {
        by_target
            .entry(mid.trim_matches(['<', '>']).to_string())
            .or_default()
            .push(*k);
    }
    let keys: Vec<Key> = with_id
        .iter()
        .map(|(_, mid)| Key::HeaderId("X-Mailduty-Target", mid.to_string()))
        .collect();
    for ev in read(mb, folders, |mb| search_any(mb, folders, &keys))? {
        if let Some(ks) = ev.message_id.as_ref().and_then(|m| by_target.get(m)) {
            for &k in ks {
                out[k].push(ev.clone());
            }
        }
    }
    for (k, it) in items.iter().enumerate() {
        if it.message_id.is_none() {
            out[k] = about(mb, folders, it)?;
        }
    }
    Ok(out)
}

/// The UIDs matching any of `keys` in each folder, ~8 KB of keys a search, up to
/// `PIPELINED` searches in one round trip (each folder opened once for them); each
/// UID once.
fn search_any(mb: &mut Mailbox, folders: &[String], keys: &[Key]) -> Result<Vec<Vec<u32>>> {
    let mut hits = vec![Vec::new(); folders.len()];
    if keys.is_empty() {
        return Ok(hits);
    }
    let batches: Vec<Vec<Key>> = crate::imap::any_batches(keys.to_vec())
        .into_iter()
        .map(|any| vec![any])
        .collect();
    for round in batches.chunks(PIPELINED) {
        for (h, m) in hits.iter_mut().zip(mb.search_many_present(folders, round)?) {
            h.extend(m);
        }
    }
    for h in &mut hits {
        h.sort_unstable();
        h.dedup();
    }
    Ok(hits)
}

/// Searches of ~8 KB sent together: 128 KB of commands a round trip, whose answers
/// (UID lists) stay well within what the connection buffers while they are written.
const PIPELINED: usize = 16;

fn about_key(it: &Item) -> Key {
    match it.message_id.as_deref() {
        Some(mid) => Key::HeaderId("X-Mailduty-Target", mid.to_string()),
        // The display ID can change (it gains a suffix when a look-alike arrives); the
        // hash does not. Events from before the hash was recorded have the ID only.
        None => Key::Any(vec![
            Key::Header("X-Mailduty-Hash", it.hash.clone()),
            Key::Header("X-Mailduty-Id", it.id.clone()),
        ]),
    }
}

/// The events about one message (by its Message-ID, searched on the server).
pub fn about(mb: &mut Mailbox, folders: &[String], it: &Item) -> Result<Vec<Stored>> {
    let mut evs = found(mb, folders, &[about_key(it)])?;
    // A mail found may carry other messages' events too (a batch), and a long
    // Message-ID is searched by its start, which other IDs may share.
    match it.message_id.as_deref() {
        Some(mid) => {
            let mid = mid.trim_matches(['<', '>']);
            evs.retain(|e| e.message_id.as_deref() == Some(mid));
        }
        None => evs.retain(|e| match &e.hash {
            Some(h) => *h == it.hash,
            None => e.id == it.id,
        }),
    }
    Ok(evs)
}

/// Whether an event of `kind` about `id` is in the history (the digest's once-a-day
/// marker), and if so the first one.
pub fn marker(
    mb: &mut Mailbox,
    folders: &[String],
    kind: &str,
    id: &str,
) -> Result<Option<Stored>> {
    let evs = found(
        mb,
        folders,
        &[
            Key::Header("X-Mailduty-Event", kind.to_string()),
            Key::Header("X-Mailduty-Id", id.to_string()),
        ],
    )?;
    Ok(evs.into_iter().find(|e| e.event == kind && e.id == id))
}

/// The events recorded on or after `since` (the server searches by arrival date, so
/// the cost follows the days asked for, not the size of the history).
pub fn since(mb: &mut Mailbox, folders: &[String], since: DateTime<Utc>) -> Result<Vec<Stored>> {
    let mut evs = found(mb, folders, &since_keys(since, None))?;
    evs.retain(|e| e.time >= since);
    Ok(evs)
}

/// The history mails (matching `key`, if given) that arrived on or after the day
/// before `since`: SINCE compares dates in the server's zone, so callers trim by their
/// own time.
fn search_since(
    mb: &mut Mailbox,
    folder: &str,
    since: DateTime<Utc>,
    key: Option<Key>,
) -> Result<Vec<u32>> {
    mb.search(folder, &since_keys(since, key))
}

fn since_keys(since: DateTime<Utc>, key: Option<Key>) -> Vec<Key> {
    let mut keys = vec![Key::Since((since - chrono::Duration::days(1)).date_naive())];
    keys.extend(key);
    keys
}

/// Events since `since` that named chat targets to tell (see `render_noting`).
pub fn pending(mb: &mut Mailbox, folders: &[String], since: DateTime<Utc>) -> Result<Vec<Stored>> {
    let keys = since_keys(since, Some(Key::Header("X-Mailduty-Notify", String::new())));
    let mut evs = found(mb, folders, &keys)?;
    evs.retain(|e| e.time >= since && !e.notify.is_empty());
    Ok(evs)
}

/// The events of one kind recorded on or after a day.
pub fn of_kind_since(
    mb: &mut Mailbox,
    folders: &[String],
    kind: &str,
    day: chrono::NaiveDate,
) -> Result<Vec<Stored>> {
    let mut evs = found(
        mb,
        folders,
        &[
            Key::Since(day),
            Key::Header("X-Mailduty-Event", kind.to_string()),
        ],
    )?;
    evs.retain(|e| e.event == kind);
    Ok(evs)
}

/// The mark that `target` was told of the event whose own Message-ID is `event_id`.
/// It has no `X-Mailduty-Event`, so `history`, `show` and the digest never list it.
pub fn render_delivered(target: &str, event_id: &str, at: DateTime<Utc>) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let digest: String = Sha256::digest(format!("{target}\0{event_id}").as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let h = [
        "From: mailduty <mailduty@localhost>".to_string(),
        format!("Date: {}", at.to_rfc2822()),
        format!("Message-ID: <delivered.{digest}@mailduty>"),
        format!("Subject: [mailduty] notified {target}"),
        format!("X-Mailduty-Delivered: {target} <{event_id}>"),
        format!(
            "X-Mailduty-Time: {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        "MIME-Version: 1.0".into(),
        "Content-Type: text/plain; charset=utf-8".into(),
    ];
    format!(
        "{}\r\n\r\n{target} was told of <{event_id}>\r\n",
        h.join("\r\n")
    )
    .into_bytes()
}

pub fn append_delivered(
    mb: &mut Mailbox,
    folder: &str,
    target: &str,
    event_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    mb.append_seen(folder, &render_delivered(target, event_id, at))
}

/// (target, event Message-ID) of every delivery marked since `since`.
pub fn delivered(
    mb: &mut Mailbox,
    folder: &str,
    since: DateTime<Utc>,
) -> Result<std::collections::HashSet<(String, String)>> {
    let uids = search_since(
        mb,
        folder,
        since,
        Some(Key::Header("X-Mailduty-Delivered", String::new())),
    )?;
    let mut out = std::collections::HashSet::new();
    mb.fetch_fields(folder, &uids, "X-MAILDUTY-DELIVERED", |f| {
        let text = String::from_utf8_lossy(&f.header);
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("x-mailduty-delivered")
                && let Some((t, id)) = v.trim().split_once(' ')
            {
                out.insert((t.to_string(), id.trim_matches(['<', '>']).to_string()));
            }
        }
    })?;
    Ok(out)
}

/// One lock mark of a chat target's deliveries: `take` while a run sends to it,
/// `free` when that run is through.
#[derive(Debug, Clone)]
pub struct Lock {
    pub uid: u32,
    pub take: bool,
    pub target: String,
    pub nonce: String,
    pub time: DateTime<Utc>,
}

pub fn append_lock(
    mb: &mut Mailbox,
    folder: &str,
    target: &str,
    nonce: &str,
    take: bool,
    at: DateTime<Utc>,
) -> Result<()> {
    let what = if take { "take" } else { "free" };
    let h = [
        "From: mailduty <mailduty@localhost>".to_string(),
        format!("Date: {}", at.to_rfc2822()),
        format!("Message-ID: <lock.{what}.{nonce}@mailduty>"),
        format!("Subject: [mailduty] {what} {target}"),
        format!("X-Mailduty-Lock: {what} {target} {nonce}"),
        format!(
            "X-Mailduty-Time: {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        "MIME-Version: 1.0".into(),
        "Content-Type: text/plain; charset=utf-8".into(),
    ];
    let raw = format!("{}\r\n\r\n{what} {target}\r\n", h.join("\r\n"));
    mb.append_seen(folder, raw.as_bytes())
}

/// The lock marks written since `since`.
pub fn locks(mb: &mut Mailbox, folder: &str, since: DateTime<Utc>) -> Result<Vec<Lock>> {
    let uids = search_since(
        mb,
        folder,
        since,
        Some(Key::Header("X-Mailduty-Lock", String::new())),
    )?;
    let mut out = Vec::new();
    mb.fetch_fields(folder, &uids, "X-MAILDUTY-LOCK X-MAILDUTY-TIME", |f| {
        let text = String::from_utf8_lossy(&f.header);
        let mut lock = None;
        let mut time = None;
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            if k == "x-mailduty-lock" {
                let p: Vec<&str> = v.split_whitespace().collect();
                if let [what, target, nonce] = p.as_slice() {
                    lock = Some((*what == "take", target.to_string(), nonce.to_string()));
                }
            } else if k == "x-mailduty-time" {
                time = DateTime::parse_from_rfc3339(v.trim()).ok();
            }
        }
        if let (Some((take, target, nonce)), Some(t)) = (lock, time) {
            out.push(Lock {
                uid: f.uid,
                take,
                target,
                nonce,
                time: t.with_timezone(&Utc),
            });
        }
    })?;
    out.retain(|l| l.time >= since);
    Ok(out)
}

/// Events whose kind contains `kind` (HEADER matches substrings: `reply` finds
/// `double_reply` too), recorded on or after `since`; the caller keeps the kinds it
/// wants. Its cost follows the days asked for.
pub fn kind_since(
    mb: &mut Mailbox,
    folders: &[String],
    kind: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Stored>> {
    let keys = since_keys(
        since,
        Some(Key::Header("X-Mailduty-Event", kind.to_string())),
    );
    let mut evs = found(mb, folders, &keys)?;
    evs.retain(|e| e.time >= since);
    Ok(evs)
}

/// The latest event of exactly `kind` among the last few recorded since `since`.
pub fn latest(
    mb: &mut Mailbox,
    folder: &str,
    kind: &str,
    since: DateTime<Utc>,
) -> Result<Option<Stored>> {
    Ok(latest_and_states(mb, folder, kind, since, &[])?.0)
}

/// `latest`, with the UID state of `others` (`Mailbox::uid_states`) asked in the
/// same round trip as its search. Where the server has SEARCHRES, the event with
/// the highest UID is the one read (fetched in that same round trip): for events
/// written straight to `folder`, in order, such as `rotate --apply`'s scan marks.
pub fn latest_and_states(
    mb: &mut Mailbox,
    folder: &str,
    kind: &str,
    since: DateTime<Utc>,
    others: &[String],
) -> Result<(Option<Stored>, Vec<crate::imap::UidState>)> {
    let keys = since_keys(
        since,
        Some(Key::Header("X-Mailduty-Event", kind.to_string())),
    );
    if let Some((latest, states, _)) =
        latest_and_states_after(mb, &[], folder, kind, since, others)?
    {
        return Ok((latest, states));
    }
    let (mut uids, states) = mb.search_and_states(folder, &keys, others)?;
    uids.sort_unstable();
    let last = uids[uids.len().saturating_sub(8)..].to_vec();
    let (evs, _) = fetch(mb, &[folder.to_string()], &[last])?;
    let latest = evs
        .into_iter()
        .filter(|e| e.event == kind)
        .max_by_key(|e| e.time);
    Ok((latest, states))
}

/// What `latest_and_states` and the UID searches `searches` find, in one round trip,
/// where the server has SEARCHRES (else None, with nothing sent): the event with the
/// highest UID is the one read, fetched in that round trip. For events written
/// straight to `folder`, in order, such as `rotate --apply`'s scan marks.
pub fn latest_and_states_after(
    mb: &mut Mailbox,
    searches: &[(&str, &[Key])],
    folder: &str,
    kind: &str,
    since: DateTime<Utc>,
    others: &[String],
) -> Result<Option<Latest>> {
    let keys = since_keys(
        since,
        Some(Key::Header("X-Mailduty-Event", kind.to_string())),
    );
    let mut newest = Vec::new();
    let got = mb.searched_newest_and_states(searches, folder, &keys, FIELDS, others, |f| {
        newest.extend(parse_all(&f.header))
    })?;
    Ok(got.map(|(hits, states)| {
        let latest = newest
            .into_iter()
            .filter(|e| e.event == kind)
            .max_by_key(|e| e.time);
        (latest, states, hits)
    }))
}

/// `latest_and_states_after`, behind a `fetch_queues` of `queues` in the same round
/// trip (`Mailbox::queue_then_look`); None, with nothing sent, where the server
/// lacks SEARCHRES.
#[allow(clippy::too_many_arguments)]
pub fn queue_then_latest(
    mb: &mut Mailbox,
    queues: &[String],
    each: &mut dyn FnMut(usize, crate::imap::Queued),
    searches: &[(&str, &[Key])],
    folder: &str,
    kind: &str,
    since: DateTime<Utc>,
    others: &[String],
) -> Result<Option<Latest>> {
    let keys = since_keys(
        since,
        Some(Key::Header("X-Mailduty-Event", kind.to_string())),
    );
    let mut newest = Vec::new();
    let got = mb.queue_then_look(queues, each, searches, folder, &keys, FIELDS, others, |f| {
        newest.extend(parse_all(&f.header))
    })?;
    Ok(got.map(|(hits, states)| {
        let latest = newest
            .into_iter()
            .filter(|e| e.event == kind)
            .max_by_key(|e| e.time);
        (latest, states, hits)
    }))
}

/// The latest event of a kind, the UID state of other folders and the UIDs other
/// searches found.
pub type Latest = (Option<Stored>, Vec<crate::imap::UidState>, Vec<Vec<u32>>);

/// The claim and assign events recorded between two days (by arrival in the history
/// folder, in the server's zone): one SEARCH over that stretch however many claims
/// are asked about, and a FETCH of what it found.
pub fn claims_between(
    mb: &mut Mailbox,
    folders: &[String],
    from: chrono::NaiveDate,
    before: chrono::NaiveDate,
) -> Result<Vec<Stored>> {
    let mut evs = found(
        mb,
        folders,
        &[
            Key::Since(from),
            Key::Before(before),
            Key::Any(vec![
                Key::Header("X-Mailduty-Event", "claim".to_string()),
                Key::Header("X-Mailduty-Event", "assign".to_string()),
            ]),
        ],
    )?;
    evs.retain(|e| e.event == "claim" || e.event == "assign");
    Ok(evs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_headers_parse_back() {
        let item = Item {
            id: "abcd1234".into(),
            hash: "abcd1234zz".into(),
            message_id: Some("x@y".into()),
            status: crate::queue::Status::Unclaimed,
            owner: None,
            folder: "未対応".into(),
            uid: 1,
            arrived: Utc::now(),
            from: "a@b".into(),
            from_name: None,
            subject: "件名".into(),
            seen: false,
            size: 1,
            in_reply_to: vec![],
            references: vec![],
            claim_keywords: vec![],
            modseq: None,
            released: false,
            answered: false,
            tie: None,
            ..Item::default()
        };
        let ev = Event {
            kind: "claim",
            actor: "tanaka",
            item: &item,
            from_folder: "未対応",
            to_folder: Some("対応中/tanaka"),
            note: None,
            at: Utc::now(),
            message_id: None,
        };
        let raw = render(&ev);
        let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            msg.header("X-Mailduty-Event").and_then(|h| h.as_text()),
            Some("claim")
        );
        let to = msg
            .header("X-Mailduty-To-Folder")
            .and_then(|h| h.as_text())
            .unwrap();
        assert_eq!(decode_word(to), "対応中/tanaka");
        assert_eq!(msg.subject(), Some("[mailduty] claim abcd1234 by tanaka"));
        let header_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let back = parse(&raw[..header_end]).unwrap();
        assert_eq!(back.event, "claim");
        assert_eq!(back.to_folder.as_deref(), Some("対応中/tanaka"));
        assert_eq!(back.subject.as_deref(), Some("件名"));
        assert_eq!(back.message_id.as_deref(), Some("x@y"));
    }

    fn item(n: usize, subject: &str, mid: Option<String>) -> Item {
        Item {
            id: format!("id{n:04}"),
            hash: format!("hash{n:04}"),
            message_id: mid,
            from: format!("c{n}@x.jp"),
            from_name: Some("お客: 様".into()),
            subject: subject.into(),
            size: 1000 + n as u32,
            ..Item::sample(None, "INBOX", n as u32)
        }
    }

    #[test]
    fn many_events_go_several_to_a_mail_and_come_back_whole() {
        let odd = "Re: 見積もり: \r\nX-Fake: yes\t\u{1b}[31m ".repeat(3);
        let items: Vec<Item> = (0..120)
            .map(|n| {
                let mid = match n {
                    7 => None,
                    // Too long for a batch: written on its own.
                    9 => Some(format!("{}@x", "l".repeat(3000))),
                    _ => Some(format!("m{n}@x")),
                };
                item(n, if n % 2 == 0 { &odd } else { "件名" }, mid)
            })
            .collect();
        let at = Utc::now();
        let evs: Vec<Event<'_>> = items
            .iter()
            .map(|it| Event {
                kind: "file",
                actor: "rotate",
                item: it,
                from_folder: "INBOX",
                to_folder: Some("未対応"),
                note: Some("route: 請求"),
                at,
                message_id: None,
            })
            .collect();
        let named: Vec<(&Event<'_>, String)> = evs
            .iter()
            .map(|e| (e, move_id("file", "未対応", e.item.uid)))
            .collect();
        let mails = render_many(&named, &["slack".to_string()]);
        // 119 in batches of at most BATCH, and the long one alone.
        assert_eq!(mails.len(), 4, "{}", mails.len());
        let mut back = Vec::new();
        for raw in &mails {
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = std::str::from_utf8(&raw[..end]).unwrap();
            assert!(
                // Only a Message-ID that is itself too long makes a long line.
                head.split("\r\n").all(|l| l.len() <= 998
                    || l.starts_with("X-Mailduty-Target")
                    || l.starts_with("References")),
                "a header line too long"
            );
            assert!(
                !head.contains("\nX-Fake"),
                "a subject broke out of its field"
            );
            let parsed = mail_parser::MessageParser::default().parse(raw).unwrap();
            assert!(parsed.header("X-Mailduty-Event").is_some());
            back.extend(parse_all(&raw[..end]));
        }
        back.sort_by_key(|e| e.size);
        assert_eq!(back.len(), items.len());
        for (e, it) in back.iter().zip(&items) {
            assert_eq!(e.event, "file");
            assert_eq!(e.actor, "rotate");
            assert_eq!(e.id, it.id);
            assert_eq!(e.hash.as_deref(), Some(it.hash.as_str()));
            assert_eq!(e.message_id, it.message_id);
            assert_eq!(e.subject.as_deref(), Some(it.subject.as_str()));
            assert_eq!(e.sender.as_deref(), Some(sender_of(it).as_str()));
            assert_eq!(e.note.as_deref(), Some("route: 請求"));
            assert_eq!(e.arrived, Some(it.arrived));
            assert_eq!(e.size, Some(it.size));
            assert_eq!(e.to_folder.as_deref(), Some("未対応"));
            assert_eq!(e.from_folder.as_deref(), Some("INBOX"));
            assert_eq!(e.notify, ["slack"]);
            assert_eq!(
                e.own_id.as_deref(),
                Some(move_id("file", "未対応", it.uid).as_str())
            );
            assert!(e.concerns(it));
        }
    }

    #[test]
    fn item_lines_fold_without_breaking_a_word() {
        for len in [0, 1, 15, 16, 17, 60, 61, 75, 76, 77, 200, 1000] {
            let it = item(3, &"あ".repeat(len), Some(format!("{}@x", "m".repeat(len))));
            let ev = Event {
                kind: "assign",
                actor: "rotate",
                item: &it,
                from_folder: "未対応",
                to_folder: Some("対応中/tanaka"),
                note: None,
                at: Utc::now(),
                message_id: None,
            };
            let line = item_line(&ev, "move.assign.abc.3@mailduty");
            assert!(line.starts_with("X-Mailduty-Item: own:move.assign.abc.3@mailduty "));
            assert!(line.split("\r\n").all(|l| l.len() <= 78), "{line}");
            assert!(line.split("\r\n").skip(1).all(|l| l.starts_with(' ')));
            let common =
                parse(b"X-Mailduty-Event: assign\r\nX-Mailduty-Time: 2026-12-01T00:00:00Z")
                    .unwrap();
            let unfolded = line.replace("\r\n", "");
            let v = unfolded.split_once(':').unwrap().1;
            let e = item_of(&common, v).unwrap();
            assert_eq!(e.subject.as_deref(), Some(it.subject.as_str()), "{len}");
            assert_eq!(e.message_id, it.message_id, "{len}");
        }
    }

    #[test]
    fn long_notes_fold_into_short_words_and_come_back() {
        let note = "お客様へ電話済み。明日の午前中に再見積もりを送付する予定です。".repeat(5);
        let enc = encode_word(&note);
        assert!(enc.lines().all(|l| l.trim_end().len() <= 76), "{enc}");
        assert_eq!(decode_word(&enc.replace("\r\n", "")), note);
        assert_eq!(decode_word("plain text"), "plain text");
        assert_eq!(
            encode_word("x =?UTF-8?B?...?="),
            "=?UTF-8?B?eCA9P1VURi04P0I/Li4uPz0=?="
        );
    }
}
