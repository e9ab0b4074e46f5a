//! Writing the history: one event's mail, batches of many events in one mail, marks
//! of chat deliveries and locks, and their APPEND. Header text is RFC 2047-encoded
//! and every line kept short, so any server stores and searches it.

use super::*;

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
pub(super) fn digest_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
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
pub(super) fn shared_fields(ev: &Event<'_>) -> [String; 4] {
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

/// Most events one history mail carries, and most bytes of their item lines: a
/// batch stays a small message that any server stores and searches.
pub const BATCH: usize = 50;
pub(super) const BATCH_BYTES: usize = 32 * 1024;
/// An event whose item line would be longer than this is written on its own.
pub(super) const ITEM_BYTES: usize = 2 * 1024;

/// The `X-Mailduty-Item` line of one event of a batch: `key:value` words, text
/// values in base64 (which has no `:` and no space), folded between words and
/// inside long values. The event's own Message-ID comes first and is never folded,
/// so that a search can find it (`recorded`).
pub(super) fn item_line(ev: &Event<'_>, own_id: &str) -> String {
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
pub(super) fn boundary_at_most(s: &str, n: usize) -> usize {
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

pub(super) fn sender_of(it: &Item) -> String {
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
pub(super) fn render_batch(run: &[(&Event<'_>, &str, String)], notify: &[String]) -> Vec<u8> {
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
