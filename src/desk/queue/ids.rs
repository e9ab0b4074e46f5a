//! Labels: a short ID from the headers a move keeps, `ID.xxxx` for messages that
//! share one (from INTERNALDATE and size, a digest of the message breaking ties), and
//! resolving what a person typed (an ID, a unique prefix, a label, a Message-ID) to
//! exactly one message or a clear error.

use super::*;

pub(super) fn immutable_headers(header: &[u8]) -> Vec<u8> {
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

pub(super) const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 20 base32 characters of SHA-256; the list shows the shortest unique prefix (at least 8).
pub(super) fn short_hash(data: &[u8]) -> String {
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

pub(super) fn base32_4(bytes: &[u8]) -> String {
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
pub(super) fn fill_ties(mb: &mut Mailbox, items: &mut [Item], wanted: &[usize]) -> Result<()> {
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
pub(super) fn split_query(q: &str) -> (String, Option<String>) {
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

pub(super) fn norm_mid(s: &str) -> String {
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
