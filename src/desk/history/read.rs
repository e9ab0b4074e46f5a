//! Reading the history back: the searches by message, by kind and by date (many
//! pipelined in one round trip), the FETCH of the header fields, and the parse of
//! a mail (or a batch's items) into `Stored` events. Text from the folder is
//! untrusted: anyone with access can append to it.

use super::*;

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
pub(super) fn fetch(
    mb: &mut Mailbox,
    folders: &[String],
    found: &[Vec<u32>],
) -> Result<(Vec<Stored>, bool)> {
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
pub(super) fn read(
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
pub(super) fn search_in(
    mb: &mut Mailbox,
    folders: &[String],
    keys: &[Key],
) -> Result<Vec<Vec<u32>>> {
    mb.search_each_present(folders, keys)
}

/// The events in the history folders' mails that match `keys`.
pub(super) fn found(mb: &mut Mailbox, folders: &[String], keys: &[Key]) -> Result<Vec<Stored>> {
    read(mb, folders, |mb| search_in(mb, folders, keys))
}

/// A header's fields, names in lower case; folded lines are joined.
pub(super) fn fields_of(header: &[u8]) -> Fields {
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

pub(super) fn stored_from(fields: &Fields) -> Option<Stored> {
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

/// One event of a batch: the mail's shared fields with the item line's own.
pub(super) fn item_of(common: &Stored, line: &str) -> Option<Stored> {
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
pub(super) fn search_any(
    mb: &mut Mailbox,
    folders: &[String],
    keys: &[Key],
) -> Result<Vec<Vec<u32>>> {
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
pub(super) const PIPELINED: usize = 16;

pub(super) fn about_key(it: &Item) -> Key {
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
pub(super) fn search_since(
    mb: &mut Mailbox,
    folder: &str,
    since: DateTime<Utc>,
    key: Option<Key>,
) -> Result<Vec<u32>> {
    mb.search(folder, &since_keys(since, key))
}

/// The keys of events of one kind recorded on or after `since`.
fn kind_keys(since: DateTime<Utc>, kind: &str) -> Vec<Key> {
    since_keys(
        since,
        Some(Key::Header("X-Mailduty-Event", kind.to_string())),
    )
}

pub(super) fn since_keys(since: DateTime<Utc>, key: Option<Key>) -> Vec<Key> {
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
    let keys = kind_keys(since, kind);
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
    if let Some((Some((latest, states)), _)) =
        latest_and_states_after(mb, &[], folder, kind, since, others)?
    {
        return Ok((latest, states));
    }
    let keys = kind_keys(since, kind);
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
    queue_then_latest(
        mb,
        &[],
        &[],
        &mut |_, _| {},
        searches,
        folder,
        kind,
        since,
        others,
    )
}

/// `latest_and_states_after`, behind a `fetch_queues` of `queues` in the same round
/// trip (`Mailbox::queue_then_look`); None, with nothing sent, where the server
/// lacks SEARCHRES.
#[allow(clippy::too_many_arguments)]
pub fn queue_then_latest(
    mb: &mut Mailbox,
    queues: &[String],
    known: &[Option<u32>],
    each: &mut dyn FnMut(usize, crate::imap::Queued),
    searches: &[(&str, &[Key])],
    folder: &str,
    kind: &str,
    since: DateTime<Utc>,
    others: &[String],
) -> Result<Option<Latest>> {
    let keys = kind_keys(since, kind);
    let mut newest = Vec::new();
    let got = mb.queue_then_look(
        queues,
        known,
        each,
        searches,
        folder,
        &keys,
        FIELDS,
        others,
        |f| newest.extend(parse_all(&f.header)),
    )?;
    Ok(got.map(|(hits, states)| {
        let latest = newest
            .into_iter()
            .filter(|e| e.event == kind)
            .max_by_key(|e| e.time);
        (states.map(|s| (latest, s)), hits)
    }))
}

/// The latest event of a kind and the UID state of other folders (None when that
/// look was refused), and the UIDs other searches found.
pub type Latest = (
    Option<(Option<Stored>, Vec<crate::imap::UidState>)>,
    Vec<Vec<u32>>,
);

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
