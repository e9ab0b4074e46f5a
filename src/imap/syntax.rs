//! IMAP syntax both ways, as pure functions with their unit tests: the arguments
//! built (UID sets and batches, search keys, quoted text) and the response lines read
//! (STATUS, LIST, NAMESPACE, COPYUID, FETCH, response codes). No I/O.

use super::*;

/// Whether a failed SELECT or EXAMINE says the folder does not exist.
pub(super) fn missing(done: &Done) -> bool {
    done.text.contains("exist") || done.code_is("NONEXISTENT")
}

impl Key {
    pub(super) fn render(&self) -> String {
        match self {
            Key::MessageId(m) => message_id_criteria("Message-ID", m),
            Key::HeaderId(f, m) => message_id_criteria(f, m),
            Key::Header(f, v) => format!("HEADER {f} {}", quote(&search_text(v))),
            Key::Size(n) => format!(
                "LARGER {} SMALLER {}",
                (n / 2).saturating_sub(1),
                n.saturating_add(1)
            ),
            Key::Keyword(k) => format!("KEYWORD {k}"),
            Key::Since(d) => format!("SINCE {}", d.format("%d-%b-%Y")),
            Key::Before(d) => format!("BEFORE {}", d.format("%d-%b-%Y")),
            Key::Undeleted => "UNDELETED".to_string(),
            Key::UidFrom(n) => format!("UID {}:*", (*n).max(1)),
            Key::Any(keys) => match keys.as_slice() {
                [] => "UID 0".to_string(),
                [one] => one.render(),
                [first, rest @ ..] => format!(
                    "OR ({}) ({})",
                    first.render(),
                    Key::Any(rest.to_vec()).render()
                ),
            },
        }
    }
}

pub(super) fn criteria(keys: &[Key]) -> String {
    if keys.is_empty() {
        return "ALL".to_string();
    }
    keys.iter().map(Key::render).collect::<Vec<_>>().join(" ")
}

/// A UID set with runs compressed to ranges: `1:5,9,12:14`.
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// UIDs split into sets for one command each: at most 20,000 messages (each MOVE is
/// one transaction on the server) and a UID set under 8,000 characters (servers
/// limit a command line's length). Every MOVE costs the server an index update of the
/// whole folder, so fewer, larger sets are much cheaper than many small ones.
pub fn batches(uids: &[u32]) -> Vec<Vec<u32>> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut todo: Vec<&[u32]> = sorted.chunks(20_000).rev().collect();
    while let Some(part) = todo.pop() {
        if part.len() > 1 && uid_set(part).len() > 8_000 {
            let (a, b) = part.split_at(part.len() / 2);
            todo.push(b);
            todo.push(a);
        } else {
            out.push(part.to_vec());
        }
    }
    out
}

/// Keys to search for any of, grouped into `Key::Any`s of at most ~8 KB rendered each
/// (like `batches`): servers limit a command line (Dovecot to 64 KiB), and a
/// Message-ID may be 1,000 bytes long.
pub fn any_batches(keys: Vec<Key>) -> Vec<Key> {
    let mut out = Vec::new();
    let (mut group, mut len) = (Vec::new(), 0);
    for k in keys {
        // An OR and two pairs of parentheses around each but the last.
        let n = k.render().len() + 8;
        if !group.is_empty() && len + n > 8_000 {
            out.push(Key::Any(std::mem::take(&mut group)));
            len = 0;
        }
        len += n;
        group.push(k);
    }
    if !group.is_empty() {
        out.push(Key::Any(group));
    }
    out
}

/// `* STATUS "完了" (SIZE 123456)` → 123456.
pub(super) fn status_size(r: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(r);
    if !text.starts_with("* STATUS ") {
        return None;
    }
    let at = text.rfind("(SIZE ")? + "(SIZE ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `* QUOTA "User quota" (STORAGE 10 1024)` → (used, limit) in KiB.
pub(super) fn storage_of(r: &[u8]) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* QUOTA ")?;
    let inside = rest.get(rest.find('(')? + 1..rest.rfind(')')?)?;
    let words: Vec<&str> = inside.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("STORAGE"))?;
    let used = words.get(at + 1)?.parse().ok()?;
    let limit = words.get(at + 2)?.parse().ok()?;
    Some((used, limit))
}

/// None unless the server gave the arrival, the size and the text: a message whose
/// identity is unknown is never proven to be the same as another.
pub(super) fn identity_of(f: &Fetched) -> Option<Identity> {
    use sha2::Digest;
    let arrived = f
        .internal_date
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())?
        .timestamp();
    if f.header.is_empty() || f.size as usize != f.header.len() {
        return None;
    }
    Some(Identity {
        size: f.size,
        arrived: Some(arrived),
        digest: sha2::Sha256::digest(&f.header).into(),
    })
}

/// `* 3 FETCH (UID 3 MODSEQ (12) FLAGS (…))` for `uid` → its MODSEQ and flags.
pub(super) fn modseq_flags_of(r: &[u8], uid: u32) -> Option<(u64, Vec<String>)> {
    let Ok((_, Response::Fetch(_, attrs))) = parse_response(r) else {
        return None;
    };
    let (mut u, mut m, mut fl) = (None, None, Vec::new());
    for a in attrs {
        match a {
            AttributeValue::Uid(x) => u = Some(x),
            AttributeValue::ModSeq(x) => m = Some(x),
            AttributeValue::Flags(f) => fl = f.into_iter().map(|s| s.into_owned()).collect(),
            _ => {}
        }
    }
    (u == Some(uid)).then(|| (m.unwrap_or(0), fl))
}

/// A `* STATUS name (…)` answer: the name as sent (quoted strings unescaped) and
/// its UIDVALIDITY and UIDNEXT. Other attributes, in any case, are passed over.
/// The folder a `* STATUS` answer names and its items, upper-cased, with the values
/// that parse as numbers.
pub(super) fn status_fields(r: &[u8]) -> Option<(String, Vec<(String, u64)>)> {
    let text = String::from_utf8_lossy(r);
    let head = text.get(..9)?;
    if !head.eq_ignore_ascii_case("* STATUS ") {
        return None;
    }
    let rest = &text[9..];
    let (name, after) = match rest.strip_prefix('"') {
        Some(q) => {
            let mut name = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => name.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(k + 1);
                        break;
                    }
                    c => name.push(c),
                }
            }
            (name, &q[end?..])
        }
        None => {
            let (name, after) = rest.split_once(' ')?;
            (name.to_string(), after)
        }
    };
    let open = after.find('(')?;
    let words: Vec<&str> = after[open + 1..]
        .trim_end()
        .trim_end_matches(')')
        .split_whitespace()
        .collect();
    let fields = words
        .chunks(2)
        .filter_map(|w| match w {
            [k, v] => Some((k.to_ascii_uppercase(), v.parse().ok()?)),
            _ => None,
        })
        .collect();
    Some((name, fields))
}

pub(super) fn status_answer(r: &[u8]) -> Option<(String, UidPair)> {
    let (name, fields) = status_fields(r)?;
    let mut state = (None, None);
    for (k, v) in fields {
        if k == "UIDVALIDITY" {
            state.0 = u32::try_from(v).ok();
        } else if k == "UIDNEXT" {
            state.1 = u32::try_from(v).ok();
        }
    }
    Some((name, state))
}

/// UIDVALIDITY and UIDNEXT as far as an answer gave them.
pub(super) type UidPair = (Option<u32>, Option<u32>);

/// What an untagged FETCH during a STORE tells: the message's UID, whether FLAGS
/// came with it (a silent STORE's own echo has none, RFC 7162 §3.1.3, so FLAGS mean
/// another session's change) and the MODSEQs given. None for any other line.
pub(super) fn store_echo(r: &[u8]) -> Option<(Option<u32>, bool, Vec<u64>)> {
    let Ok((_, Response::Fetch(_, attrs))) = parse_response(r) else {
        return None;
    };
    let uid = attrs.iter().find_map(|a| match a {
        AttributeValue::Uid(u) => Some(*u),
        _ => None,
    });
    let flags = attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_)));
    let seqs = attrs
        .iter()
        .filter_map(|a| match a {
            AttributeValue::ModSeq(m) => Some(*m),
            _ => None,
        })
        .collect();
    Some((uid, flags, seqs))
}

/// Each folder's UIDVALIDITY and UIDNEXT from its STATUS answer, where its STATUS
/// command (`dones`, in the same order) succeeded and the answer gave both.
pub(super) fn states_of(found: Vec<UidPair>, dones: &[Done]) -> Vec<UidState> {
    found
        .into_iter()
        .zip(dones)
        .map(|((v, n), d)| {
            if d.status == Status::Ok {
                v.zip(n)
            } else {
                None
            }
        })
        .collect()
}

/// Whether a name a server answered with is the folder asked for: INBOX in any case.
pub(super) fn same_mailbox(asked: &str, answered: &str) -> bool {
    asked == answered
        || asked.eq_ignore_ascii_case("INBOX") && answered.eq_ignore_ascii_case("INBOX")
}

pub(super) fn merge_state(old: UidPair, new: UidPair) -> UidPair {
    (new.0.or(old.0), new.1.or(old.1))
}

pub(super) const SPECIAL_USE_LIST: &str = "LIST (SPECIAL-USE) \"\" \"*\"";

/// The folder a LIST answer names, when it is marked `\Sent` and can be opened.
pub(super) fn sent_of(r: &[u8]) -> Option<String> {
    folder_info(r)
        .filter(|f| f.sent && f.selectable)
        .map(|f| f.name)
}

/// Gmail-style accounts may mark more than one folder `\Sent`; the shortest name is
/// the account's own (not a shared or nested copy).
pub(super) fn pick_sent(mut found: Vec<String>) -> Option<String> {
    found.sort_by_key(|n| (n.chars().count(), n.clone()));
    found.into_iter().next()
}

/// `LIST "" pattern`, the pattern in UTF-8.
pub(super) fn list_cmd(pattern: &str) -> String {
    format!("LIST \"\" {}", quote(&mutf7::encode(pattern)))
}

/// One `* LIST` line as a folder (name decoded to UTF-8).
pub(super) fn folder_info(r: &[u8]) -> Option<FolderInfo> {
    let Ok((
        _,
        Response::MailboxData(MailboxDatum::List {
            name_attributes,
            name,
            ..
        }),
    )) = parse_response(r)
    else {
        return None;
    };
    let has = |want: fn(&NameAttribute) -> bool| name_attributes.iter().any(want);
    Some(FolderInfo {
        name: mutf7::decode_lossy(&name),
        selectable: !has(|a| matches!(a, NameAttribute::NoSelect)),
        sent: has(|a| matches!(a, NameAttribute::Sent)),
    })
}

/// The SEARCH key for a Message-ID in `field`, angle brackets included. An ID too long
/// for a command line is searched by its start: HEADER matches substrings, so that
/// finds a few more messages, never fewer, and every caller proves what it found.
pub(super) fn message_id_criteria(field: &str, message_id: &str) -> String {
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    format!(
        "HEADER {field} {}",
        quote(&search_text(&format!("<{bare}>")))
    )
}

/// Longest text sent as one SEARCH argument. Dovecot refuses a command line over
/// 64 KiB ("Too long argument"), and a sender chooses how long a Message-ID is.
pub const MAX_SEARCH_TEXT: usize = 1000;

/// A header text as a SEARCH argument: its start, up to the first control character
/// (a line break cannot go in a quoted string) and at most MAX_SEARCH_TEXT bytes. A
/// start matches at least the messages the whole would.
pub(super) fn search_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SEARCH_TEXT));
    for c in s.chars().take_while(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_SEARCH_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

/// `* OK [HIGHESTMODSEQ 11] …` → 11.
pub(super) fn highest_modseq_code(r: &[u8]) -> Option<u64> {
    let rest = r.strip_prefix(b"* OK [HIGHESTMODSEQ ")?;
    let end = rest.iter().position(|&b| b == b']')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// imap-proto's `parse_response`, where an answer that makes it panic (it unwraps
/// `INTERNALDATE NIL`, which a hostile server may send) is one it cannot read, as
/// any other: no panic, no message on the terminal.
pub(super) fn parse_response(r: &[u8]) -> Result<(&[u8], Response<'_>), ()> {
    use std::cell::Cell;
    use std::sync::Once;
    thread_local! {
        static PARSING: Cell<bool> = const { Cell::new(false) };
    }
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !PARSING.with(Cell::get) {
                before(info)
            }
        }));
    });
    PARSING.with(|p| p.set(true));
    let parsed = std::panic::catch_unwind(|| imap_proto::parser::parse_response(r));
    PARSING.with(|p| p.set(false));
    match parsed {
        Ok(Ok(p)) => Ok(p),
        _ => Err(()),
    }
}

/// `* OK [UIDVALIDITY 7] …` → 7.
pub(super) fn uidvalidity_code(r: &[u8]) -> Option<u32> {
    let rest = r.strip_prefix(b"* OK [UIDVALIDITY ")?;
    let end = rest.iter().position(|&b| b == b']')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The FETCHes of a queue folder: every message's header fields, or, with `known`
/// (a UID above 1), only UID, flags and MODSEQ below it and the header fields from it
/// on. Dovecot runs the two side by side, so their answers are told apart by what
/// they hold (`queued`), not by which command is awaited.
pub(super) fn queue_fetches(condstore: bool, fields: &str, known: Option<u32>) -> Vec<String> {
    let modseq = if condstore { " MODSEQ" } else { "" };
    let full = |from: u32| {
        format!(
            "UID FETCH {from}:* (UID FLAGS INTERNALDATE RFC822.SIZE{modseq} BODY.PEEK[HEADER.FIELDS ({fields})])"
        )
    };
    match known {
        // The size too: a kept head is used only for a message of its size, so that a
        // server that reused a UID under the same UIDVALIDITY (a folder restored from
        // a backup) is caught in all but the unlikeliest case.
        Some(n) if n > 1 => vec![
            format!("UID FETCH 1:{} (UID FLAGS RFC822.SIZE{modseq})", n - 1),
            full(n),
        ],
        _ => vec![full(1)],
    }
}

/// A queue FETCH's answer: with its header section a whole one, else flags only (the
/// flags-only FETCH, or a change another session made that the server reports
/// unasked). `N:*` also answers the highest message below N: the caller keeps the
/// first answer for each UID.
pub(super) fn queued(f: Fetched) -> super::Queued {
    if f.section {
        super::Queued::Message(f)
    } else {
        super::Queued::Flags(f)
    }
}

/// `* OK [PERMANENTFLAGS (\Seen \*)]` → whether custom keywords are kept.
pub(super) fn permanent_keywords(r: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* OK [")?;
    let (code, _) = rest.split_once(']')?;
    let list = code.strip_prefix("PERMANENTFLAGS")?;
    Some(list.split([' ', '(', ')']).any(|f| f == "\\*"))
}

pub(super) fn collect_caps(r: &[u8], caps: &mut BTreeSet<String>) {
    let text = String::from_utf8_lossy(r);
    if let Some(rest) = text.strip_prefix("* CAPABILITY ") {
        caps.extend(rest.split_whitespace().map(|s| s.to_ascii_uppercase()));
    }
}

/// `* NAMESPACE (("INBOX." ".")) NIL NIL` → the personal prefix and separator.
pub(super) fn parse_namespace(line: &str) -> Option<(String, Option<char>)> {
    let rest = line.strip_prefix("* NAMESPACE ")?.trim_start();
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = parse_quoted(rest)?;
    let rest = rest.trim_start();
    let sep = if rest.starts_with("NIL") {
        None
    } else {
        parse_quoted(rest)?.0.chars().next()
    };
    Some((prefix, sep))
}

pub(super) fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

pub(super) fn copyuid_code(code: &str) -> Option<u32> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    let _src = parts.next()?;
    parts.next()?.split([':', ',']).next()?.parse().ok()
}

/// The source UIDs a COPYUID code names (`COPYUID v 4:6,9 20:23`), only those of
/// `asked`: a server cannot make this process expunge what it did not ask to move.
pub(super) fn copyuid_sources(code: &str, asked: &[u32]) -> Option<Vec<u32>> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    set_members(parts.next()?, asked)
}

/// The members of a UID set (`4:6,9`) that are among `asked`: a server cannot make
/// this process act on a UID it did not name. None when the set does not parse.
pub(super) fn set_members(set: &str, asked: &[u32]) -> Option<Vec<u32>> {
    let ranges = parse_ranges(set)?;
    Some(
        asked
            .iter()
            .copied()
            .filter(|u| ranges.iter().any(|(a, b)| (a..=b).contains(&u)))
            .collect(),
    )
}

pub(super) fn parse_ranges(set: &str) -> Option<Vec<(u32, u32)>> {
    let mut ranges = Vec::new();
    for piece in set.split(',') {
        let (a, b): (u32, u32) = match piece.split_once(':') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => {
                let a = piece.parse().ok()?;
                (a, a)
            }
        };
        ranges.push((a.min(b), a.max(b)));
    }
    Some(ranges)
}

/// The (source, new) UID pairs of a COPYUID code (`COPYUID v 4:6,9 20:23`), in the
/// order RFC 4315 gives them. None when it is no COPYUID, does not parse, names more
/// UIDs than were asked, or a source that was not asked: such an answer proves
/// nothing about which copy is which.
pub(super) fn copyuid_pairs(code: &str, asked: &[u32]) -> Option<Vec<(u32, u32)>> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    let expand = |set: &str| -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for piece in set.split(',') {
            let (a, b): (u32, u32) = match piece.split_once(':') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let a = piece.parse().ok()?;
                    (a, a)
                }
            };
            let (lo, hi) = (a.min(b), a.max(b));
            if out.len() + (hi - lo) as usize >= asked.len() {
                return None;
            }
            // Ranges in a COPYUID run upwards; a:b with a > b lists the same UIDs.
            out.extend(lo..=hi);
        }
        Some(out)
    };
    let src = expand(parts.next()?)?;
    let dst = expand(parts.next()?)?;
    let asked: std::collections::HashSet<u32> = asked.iter().copied().collect();
    if src.len() != dst.len() || src.iter().any(|u| !asked.contains(u)) {
        return None;
    }
    Some(src.into_iter().zip(dst).collect())
}

pub(super) fn copyuid_untagged(r: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* OK ")?;
    let (code, _) = conn::split_code(rest.trim_end());
    copyuid_code(&code?)
}

pub(super) fn parse_fetch(r: &[u8]) -> Option<Fetched> {
    let Ok((_, Response::Fetch(_, attrs))) = parse_response(r) else {
        return None;
    };
    let mut f = Fetched {
        uid: 0,
        flags: Vec::new(),
        modseq: None,
        internal_date: None,
        size: 0,
        header: Vec::new(),
        section: false,
    };
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => f.uid = u,
            AttributeValue::Flags(fl) => f.flags = fl.into_iter().map(|s| s.into_owned()).collect(),
            AttributeValue::InternalDate(d) => f.internal_date = Some(d.into_owned()),
            AttributeValue::Rfc822Size(s) => f.size = s,
            AttributeValue::ModSeq(m) => f.modseq = Some(m),
            AttributeValue::BodySection { data, .. } => {
                f.section = true;
                f.header = data.map(|d| d.into_owned()).unwrap_or_default();
            }
            _ => {}
        }
    }
    (f.uid != 0).then_some(f)
}

#[cfg(test)]
mod tests;
