//! The marks of what the mail-client step has read: the `scan` event's UIDVALIDITY
//! and next UID for Sent and 完了 and the checked mark per member folder, the look
//! at them taken ahead in the queue's round trip where the server allows, and the
//! new UIDs above them.

use super::*;

/// The scan event `finish` would write, for a caller that writes it together with
/// the events of its last moves (`landed` includes them); None when the marks did
/// not change. The marks are taken: `finish` after it writes nothing.
pub fn scan(desk: &Desk<'_>, seen: &mut Seen, landed: &[(String, u32)]) -> Option<Scan> {
    let p = seen.pending.take()?;
    let mut all = p.marks;
    for c in p.checked {
        let mut next = c.mark.next;
        if let Some(start) = c.start {
            let mut mine: Vec<u32> = landed
                .iter()
                .filter(|(f, _)| *f == c.mark.folder)
                .map(|(_, u)| *u)
                .collect();
            mine.sort_unstable();
            mine.dedup();
            if mine.first() == Some(&start)
                && mine.windows(2).all(|w| w[1] == w[0] + 1)
                && let Some(last) = read_up_to(&mine)
            {
                next = last;
            }
        }
        all.push(Mark {
            folder: format!("{CHECKED}{}", c.mark.folder),
            next,
            ..c.mark
        });
    }
    all.sort_by(|a, b| a.folder.cmp(&b.folder));
    let mut old = p.old;
    old.sort_by(|a, b| a.folder.cmp(&b.folder));
    (!all.is_empty() && all != old).then(|| Scan::of(desk, &all, p.now))
}

/// Before a folder's name in a scan mark: how far its messages were checked (a
/// member folder), not what arrived. Runs of older versions skip such a line.
pub(super) const CHECKED: &str = "checked:";

/// UIDs of `folder` not read before, and the mark to keep after reading them.
/// `state` is its UIDVALIDITY and UIDNEXT.
pub(super) fn new_uids(
    desk: &mut Desk<'_>,
    folder: &str,
    state: Option<(u32, u32)>,
    marks: &[Mark],
    since: DateTime<Utc>,
) -> Result<(Vec<u32>, Option<Mark>)> {
    let Some((validity, next)) = state else {
        return Ok((Vec::new(), None));
    };
    let from = marks
        .iter()
        .find(|m| m.folder == folder && m.validity == validity)
        .map(|m| m.next);
    let uids: Vec<u32> = match from {
        // Nothing arrived since: not even opened (opening a large Maildir folder costs
        // the server a directory scan).
        Some(f) if next <= f => Vec::new(),
        // Nothing was ever stored in it.
        _ if next <= 1 => Vec::new(),
        Some(f) => desk
            .mb
            .search(folder, &[Key::UidFrom(f)])?
            .into_iter()
            .filter(|u| *u >= f)
            .collect(),
        None => {
            let day = (since - chrono::Duration::days(1)).date_naive();
            desk.mb.search(folder, &[Key::Since(day)])?
        }
    };
    // Every UID below UIDNEXT as STATUS gave it (before the SEARCH) was looked at:
    // read, or older than the window a first look covers. Marking only up to the
    // highest UID read would leave an old message with a higher UID (mail filed
    // late, or restored) for the next run, which would credit it to a mail client.
    // A message that arrived after the STATUS has a UID at or above it, and one read
    // twice records nothing twice.
    let top = read_up_to(&uids);
    let next = [Some(next), top, from]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(next);
    Ok((
        uids,
        Some(Mark {
            folder: folder.to_string(),
            validity,
            next,
        }),
    ))
}

/// The UID after the highest one read. A hostile server may send u32::MAX: then that
/// one is read again next time, which records nothing twice.
pub(super) fn read_up_to(uids: &[u32]) -> Option<u32> {
    uids.iter().map(|u| u.saturating_add(1)).max()
}

/// The Sent folder, and the folders whose UID state the scan marks follow: Sent,
/// 完了, 対応不要 and the member folders.
pub(in crate::desk) fn scan_folders(desk: &mut Desk<'_>) -> Result<(Option<String>, Vec<String>)> {
    // A Sent folder the rules name is checked by its STATUS, not by a LIST of its own.
    let configured_sent = desk.rules.folders.sent.as_deref().map(|f| desk.mb.path(f));
    let sent = match configured_sent {
        Some(path) => Some(path),
        None => desk.sent_folder()?,
    };
    let mut folders: Vec<String> = sent.iter().cloned().collect();
    folders.push(desk.paths.done.clone());
    folders.push(desk.paths.dismissed.clone());
    folders.extend(desk.rules.members.iter().map(|m| desk.paths.member(&m.key)));
    Ok((sent, folders))
}

/// The look `last_marks` takes, taken early in the round trip of other searches.
#[derive(Debug)]
pub struct Early {
    pub(in crate::desk) sent: Option<String>,
    pub(in crate::desk) folders: Vec<String>,
    pub(in crate::desk) ev: Option<Stored>,
    pub(in crate::desk) states: Vec<crate::imap::UidState>,
}

/// How far back the first look at Sent, 完了 and 対応不要 goes.
pub(in crate::desk) fn window(desk: &Desk<'_>) -> chrono::Duration {
    chrono::Duration::from_std(desk.rules.reply_window).unwrap_or(chrono::Duration::days(7))
}

/// The look at the last scan marks and the folders' UID state taken ahead, in the
/// round trip of `searches` (the recovery's, before this step runs), and kept for
/// `run`; the UIDs each search found. None, with nothing sent, where the server
/// cannot fetch in a search's round trip (no SEARCHRES).
pub fn look_ahead(
    desk: &mut Desk<'_>,
    searches: &[(&str, &[Key])],
) -> Result<Option<Vec<Vec<u32>>>> {
    let window =
        chrono::Duration::from_std(desk.rules.reply_window).unwrap_or(chrono::Duration::days(7));
    let (sent, folders) = scan_folders(desk)?;
    let history = desk.paths.history.clone();
    let Some((look, hits)) = history::latest_and_states_after(
        &mut desk.mb,
        searches,
        &history,
        SCAN,
        Utc::now() - window,
        &folders,
    )?
    else {
        return Ok(None);
    };
    if let Some((ev, states)) = look {
        desk.scan_look = Some(Early {
            sent,
            folders,
            ev,
            states,
        });
    }
    Ok(Some(hits))
}

/// The marks of the last `scan` event within the window, when it was written, and
/// the UID state of `folders` (asked in the same round trip, or taken ahead by
/// `look_ahead`).
pub(super) type Looked = (
    Vec<Mark>,
    Vec<Mark>,
    Option<DateTime<Utc>>,
    Vec<crate::imap::UidState>,
);

pub(super) fn last_marks(
    desk: &mut Desk<'_>,
    since: DateTime<Utc>,
    folders: &[String],
) -> Result<Looked> {
    // Scan marks are written only by `rotate --apply`, which writes to the history
    // folder itself (`Desk::write_history_directly`), never to the journal.
    let history = desk.paths.history.clone();
    let (ev, states) = match desk.scan_look.take().filter(|l| l.folders == folders) {
        Some(l) => (l.ev, l.states),
        None => history::latest_and_states(&mut desk.mb, &history, SCAN, since, folders)?,
    };
    Ok(match ev {
        Some(ev) => {
            let (checked, marks): (Vec<Mark>, Vec<Mark>) =
                parse_marks(ev.note.as_deref().unwrap_or(""))
                    .into_iter()
                    .partition(|m| m.folder.starts_with(CHECKED));
            let checked = checked
                .into_iter()
                .map(|m| Mark {
                    folder: m.folder[CHECKED.len()..].to_string(),
                    ..m
                })
                .collect();
            (marks, checked, Some(ev.time), states)
        }
        None => (Vec::new(), Vec::new(), None, states),
    })
}

/// Whether a message was already in its folder at the last scan, at least STALE ago.
/// Where no keyword marks a move under way, a message a `mailduty claim` has just
/// moved has no event yet; by then it has one, so what still has none was moved by a
/// mail client. UIDs tell the order of arrival in a folder (INTERNALDATE is kept by
/// MOVE and says nothing of it).
pub(super) fn settled(
    it: &Item,
    last: &[Mark],
    current: &[Mark],
    scanned: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let stale = chrono::Duration::from_std(crate::desk::rules::STALE).unwrap_or_default();
    let validity = current
        .iter()
        .find(|m| m.folder == it.folder)
        .map(|m| m.validity);
    scanned.is_some_and(|t| now - t >= stale)
        && last
            .iter()
            .any(|m| m.folder == it.folder && Some(m.validity) == validity && it.uid < m.next)
}

pub(super) fn parse_marks(note: &str) -> Vec<Mark> {
    note.lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ' ');
            let validity = p.next()?.parse().ok()?;
            let next = p.next()?.parse().ok()?;
            let folder = p.next()?.to_string();
            Some(Mark {
                folder,
                validity,
                next,
            })
        })
        .collect()
}

/// A scan event: where each folder was read (and checked) up to.
pub struct Scan {
    marker: Item,
    note: String,
    at: DateTime<Utc>,
}

impl Scan {
    fn of(desk: &Desk<'_>, marks: &[Mark], now: DateTime<Utc>) -> Scan {
        let note: Vec<String> = marks
            .iter()
            .map(|m| format!("{} {} {}", m.validity, m.next, m.folder))
            .collect();
        Scan {
            marker: Item {
                id: SCAN.to_string(),
                subject: "mail client work read up to here".to_string(),
                folder: desk.paths.history.clone(),
                arrived: now,
                ..Item::default()
            },
            note: note.join("\n"),
            at: now,
        }
    }

    pub fn event(&self) -> Event<'_> {
        Event {
            kind: SCAN,
            actor: ROTATE,
            item: &self.marker,
            from_folder: "",
            to_folder: None,
            note: Some(&self.note),
            at: self.at,
            message_id: None,
        }
    }
}
