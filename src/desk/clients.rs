//! Work done in mail clients, seen by `rotate --apply`: replies filed in Sent (and
//! 二重対応, two people answering one customer), and messages a client dragged into a
//! member folder or 完了 with no event to say so.
//!
//! What it costs follows what is new, not the size of Sent or 完了: a `scan` event
//! in the history keeps, for each of the two, the UIDVALIDITY and the UID from which
//! the next run reads on (one pipelined STATUS tells whether anything arrived).
//! Without one (the first run, or none within `reply_window`), they are read back to
//! `reply_window` by arrival. In the member folders, only messages at or above the
//! folder's checked mark (kept in the same event, moved on over the run's own moves)
//! are checked against their events. Sent mail is read headers only, with
//! BODY.PEEK, and never changed; every event written here has a Message-ID made from
//! what it is about, so a run repeated or cut part-way records nothing twice, and
//! what a cut run left undone is done by the next.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::rules::{Actor, ROTATE};
use super::{Desk, Dest, Landed, Place, Taken, event};
use crate::desk::history::{self, Event, Stored};
use crate::desk::queue::{self, Item, Scope, Status};
use crate::imap::{Flags, Key};
use crate::rules::OnReply;

/// Event kinds; notifications read them by these names.
pub const REPLY: &str = "reply";
pub const DOUBLE_REPLY: &str = "double_reply";
/// The actor of an event for a move made in a mail client.
pub const CLIENT: &str = "client";
/// The replier when neither the owner nor any member's `sent_as` says who.
pub const UNKNOWN: &str = "unknown";
pub(super) const SCAN: &str = "scan";
const ANSWERED: &str = "\\Answered";

/// The header fields read from Sent mail.
const SENT_FIELDS: &str = "MESSAGE-ID FROM TO CC SUBJECT DATE IN-REPLY-TO REFERENCES";

/// What one run saw.
#[derive(Debug, Default, Serialize)]
pub struct Seen {
    /// The Sent folder read, None when the account has none.
    pub sent_folder: Option<String>,
    /// Sent messages read this run.
    pub sent_read: usize,
    pub replies: Vec<Replied>,
    pub double_replies: usize,
    /// Messages a mail client moved, recorded now.
    pub dragged: Vec<Dragged>,
    /// One line per message whose `on_reply` move failed; the rest went on.
    #[serde(skip)]
    pub failed: Vec<String>,
    /// A move into a member folder is waiting to be told from one under way (see
    /// `settled`): the next run must look again, whatever changed.
    #[serde(skip)]
    pub waiting: bool,
    /// New scan marks were written to the history.
    #[serde(skip)]
    pub marked: bool,
    /// The marks to write once the run's own moves are known (`finish`).
    #[serde(skip)]
    pending: Option<Pending>,
}

/// The scan marks a run writes at its end: those of Sent, 完了 and 対応不要 (and of
/// the member folders when a move waits to be told), and for each member folder
/// how far its messages were checked.
#[derive(Debug)]
struct Pending {
    marks: Vec<Mark>,
    /// The marks the run began with, checked ones included.
    old: Vec<Mark>,
    /// Every UID of these member folders below `next` was checked this run or
    /// before; `start` is the UID after the highest one the run read there, from
    /// which its own moves (with their events written) can take `next` on.
    checked: Vec<Checked>,
    now: DateTime<Utc>,
}

#[derive(Debug)]
struct Checked {
    mark: Mark,
    start: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Replied {
    pub id: String,
    pub replier: String,
    pub reply_message_id: Option<String>,
    pub at: DateTime<Utc>,
    /// `header` (In-Reply-To/References) or `subject` (the fallback).
    pub matched_by: &'static str,
    /// What `on_reply` did: `mark`, `claim` or `done` (a move that lost, was not
    /// possible or had only a subject or a shared Message-ID to go on stays `mark`).
    pub action: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Dragged {
    pub id: String,
    pub event: &'static str,
    pub folder: String,
    pub subject: String,
}

/// A message read from Sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub message_id: Option<String>,
    /// What tells this sent message apart in event IDs: its Message-ID, or the
    /// folder's UIDVALIDITY and its UID.
    pub key: String,
    pub from: String,
    pub from_name: Option<String>,
    /// Every recipient address (To and Cc), lowercase.
    pub to: Vec<String>,
    pub subject: String,
    pub at: DateTime<Utc>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
}

/// Where a folder was read up to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mark {
    folder: String,
    validity: u32,
    next: u32,
}

pub fn run(desk: &mut Desk<'_>, items: &mut Vec<Item>) -> Result<Seen> {
    let now = Utc::now();
    let window =
        chrono::Duration::from_std(desk.rules.reply_window).unwrap_or(chrono::Duration::days(7));
    // Found once a run (without a folder the rules name, by a LIST).
    let (sent_folder, folders) = match &desk.scan_look {
        Some(l) => (l.sent.clone(), l.folders.clone()),
        None => scan_folders(desk)?,
    };
    let mut seen = Seen {
        sent_folder,
        ..Seen::default()
    };
    let mut new_marks: Vec<Mark> = Vec::new();
    let done = desk.paths.done.clone();
    let members: Vec<String> = desk
        .rules
        .members
        .iter()
        .map(|m| desk.paths.member(&m.key))
        .collect();
    let dismissed = desk.paths.dismissed.clone();
    // The last scan's marks and every folder's UID state, in one round trip: on a
    // quiet run that is all there is to read of them.
    let (marks, old_checked, scanned, states) = last_marks(desk, now - window, &folders)?;
    let mut states = states.into_iter();
    let sent_state = if seen.sent_folder.is_some() {
        states.next().flatten()
    } else {
        None
    };
    if sent_state.is_none() && desk.rules.folders.sent.is_some() {
        // Says which folder is missing; one that exists but gave no state is read
        // from the start next time.
        desk.sent_folder()?;
    }
    let done_state = states.next().flatten();
    let dismissed_state = states.next().flatten();
    // Member folders are only marked, never searched, and only when a message there
    // waits for the next scan (see `settled`): the mark says what was there now.
    let mut member_marks: Vec<Mark> = Vec::new();
    for (folder, state) in members.iter().zip(states) {
        if let Some((validity, next)) = state {
            member_marks.push(Mark {
                folder: folder.clone(),
                validity,
                next,
            });
        }
    }
    // The folders in which this run read something.
    let mut read: Vec<String> = Vec::new();

    if let Some(sent) = seen.sent_folder.clone() {
        let (uids, mark) = new_uids(desk, &sent, sent_state, &marks, now - window)?;
        new_marks.extend(mark);
        if !uids.is_empty() {
            read.push(sent.clone());
        }
        let validity = sent_state.map_or(0, |(v, _)| v);
        let mut sents = Vec::new();
        desk.mb.fetch_fields(&sent, &uids, SENT_FIELDS, |f| {
            sents.push(parse_sent(
                &f.header,
                f.uid,
                validity,
                f.internal_date.as_deref(),
            ));
        })?;
        seen.sent_read = sents.len();
        sents.sort_by_key(|s| s.at);
        let found: Vec<(Sent, usize, &'static str)> = sents
            .into_iter()
            .filter_map(|s| target(items, &s, window).map(|(i, by)| (s, i, by)))
            .collect();
        let (replies, stored) = replies(
            desk,
            items,
            &found,
            &mut seen.double_replies,
            &mut seen.failed,
        )?;
        let moved = replies.iter().any(|r| r.action != "mark");
        seen.replies = replies;
        // Read again after any change: intake's conditional STORE would refuse
        // messages whose MODSEQ the \Answered flag moved on.
        if moved || stored {
            *items = desk.queue(Scope::ACTIVE)?;
        }
    }

    // Drag and drop. In member folders, the messages not checked before (a UID at or
    // above the folder's checked mark, under the same UIDVALIDITY); 完了 may be
    // large: only its new UIDs.
    let validity_now = |f: &str| {
        member_marks
            .iter()
            .find(|m| m.folder == f)
            .map(|m| m.validity)
    };
    let checked_before = |i: &Item| {
        old_checked.iter().any(|m| {
            m.folder == i.folder && Some(m.validity) == validity_now(&i.folder) && i.uid < m.next
        })
    };
    let claimed: Vec<&Item> = items
        .iter()
        .filter(|i| {
            i.claim_keywords.is_empty()
                && match desk.paths.place(&i.folder, desk.rules) {
                    Some(Place::Member(_)) => !checked_before(i),
                    Some(Place::Held) => true,
                    _ => false,
                }
        })
        .collect();
    // Left to check again: what a move under way keeps busy, and what waits.
    let mut again: Vec<(String, u32)> = items
        .iter()
        .filter(|i| !i.claim_keywords.is_empty())
        .map(|i| (i.folder.clone(), i.uid))
        .collect();
    let history_folder = desk.paths.history_reads();
    let evs = history::about_each(&mut desk.mb, &history_folder, &claimed)?;
    let claimed: Vec<Item> = claimed.into_iter().cloned().collect();
    let mut keeps: Option<bool> = None;
    let mut waiting = false;
    let mut drags: Vec<Drag> = Vec::new();
    for (it, evs) in claimed.iter().zip(evs) {
        if it.status == Status::Held {
            if let Some(d) = dragged(desk, it, super::hold::HOLD, &evs, &mut drags) {
                seen.dragged.push(d);
            }
            continue;
        }
        if unexplained(it, "claim", &evs) && !settled(it, &marks, &member_marks, scanned, now) {
            // Where keywords are kept, a claim under way carries one and is not here.
            let unclaimed = desk.paths.unclaimed.clone();
            let kept = match keeps {
                Some(k) => k,
                None => *keeps.insert(desk.mb.keeps_keywords(&unclaimed)?),
            };
            if !kept {
                waiting = true;
                again.push((it.folder.clone(), it.uid));
                continue;
            }
        }
        if let Some(d) = dragged(desk, it, "claim", &evs, &mut drags) {
            seen.dragged.push(d);
        }
    }
    let checked: Vec<Checked> = member_marks
        .iter()
        .map(|m| {
            let read: Vec<u32> = items
                .iter()
                .filter(|i| i.folder == m.folder)
                .map(|i| i.uid)
                .collect();
            let start = read_up_to(&read);
            let old = old_checked
                .iter()
                .find(|o| o.folder == m.folder && o.validity == m.validity)
                .map(|o| o.next);
            let floor = again
                .iter()
                .filter(|(f, _)| *f == m.folder)
                .map(|(_, u)| *u)
                .min();
            // Every UID below the old mark was checked before, every one below
            // `start` now (nothing read there: nothing is known beyond the old mark).
            let base = start.max(old);
            let next = match (base, floor) {
                (Some(b), Some(f)) => Some(b.min(f)),
                (b, _) => b,
            };
            Checked {
                mark: Mark {
                    folder: m.folder.clone(),
                    validity: m.validity,
                    next: next.unwrap_or(0),
                },
                start: base.filter(|b| floor.is_none_or(|f| f >= *b)),
            }
        })
        .filter(|c| c.mark.next > 0)
        .collect();
    if waiting {
        seen.waiting = true;
        new_marks.append(&mut member_marks);
    }
    let (uids, mark) = new_uids(desk, &done, done_state, &marks, now - window)?;
    new_marks.extend(mark);
    if !uids.is_empty() {
        read.push(done.clone());
    }
    let found = queue::load_uids(&mut desk.mb, desk.rules, &desk.paths, &done, &uids)?;
    let found: Vec<&Item> = found
        .iter()
        .filter(|i| i.claim_keywords.is_empty())
        .collect();
    let evs = history::about_each(&mut desk.mb, &history_folder, &found)?;
    for (it, evs) in found.into_iter().zip(evs) {
        if let Some(d) = dragged(desk, it, "done", &evs, &mut drags) {
            seen.dragged.push(d);
        }
    }
    // 対応不要 grows like 完了: only its new UIDs.
    let (uids, mark) = new_uids(desk, &dismissed, dismissed_state, &marks, now - window)?;
    new_marks.extend(mark);
    if !uids.is_empty() {
        read.push(dismissed.clone());
    }
    let found = queue::load_uids(&mut desk.mb, desk.rules, &desk.paths, &dismissed, &uids)?;
    let found: Vec<&Item> = found
        .iter()
        .filter(|i| i.claim_keywords.is_empty())
        .collect();
    let evs = history::about_each(&mut desk.mb, &history_folder, &found)?;
    for (it, evs) in found.into_iter().zip(evs) {
        if let Some(d) = dragged(desk, it, super::hold::DISMISS, &evs, &mut drags) {
            seen.dragged.push(d);
        }
    }

    record_drags(desk, &drags)?;

    // An empty folder gets no mark (a new mailbox gets no events); the next run looks
    // back as far again, which costs nothing there.
    new_marks.retain(|m| {
        m.next > 1 || read.contains(&m.folder) || marks.iter().any(|o| o.folder == m.folder)
    });
    let mut old = marks.clone();
    old.extend(old_checked.iter().map(|m| Mark {
        folder: format!("{CHECKED}{}", m.folder),
        ..m.clone()
    }));
    seen.pending = Some(Pending {
        marks: new_marks,
        old,
        checked,
        now,
    });
    Ok(seen)
}

/// Writes the run's scan marks, at its end: a member folder's checked mark moves
/// on over the messages the run itself moved there (`landed`, their events written)
/// when they follow what it read there without a gap, so that the next run does not
/// look them up again. Anything else that arrived is checked by the next run.
pub fn finish(desk: &mut Desk<'_>, seen: &mut Seen, landed: &[(String, u32)]) -> Result<()> {
    if let Some(scan) = scan(desk, seen, landed) {
        desk.record(&scan.event(), None)?;
        seen.marked = true;
    }
    Ok(())
}

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
const CHECKED: &str = "checked:";

/// UIDs of `folder` not read before, and the mark to keep after reading them.
/// `state` is its UIDVALIDITY and UIDNEXT.
fn new_uids(
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
fn read_up_to(uids: &[u32]) -> Option<u32> {
    uids.iter().map(|u| u.saturating_add(1)).max()
}

/// The Sent folder, and the folders whose UID state the scan marks follow: Sent,
/// 完了, 対応不要 and the member folders.
pub(super) fn scan_folders(desk: &mut Desk<'_>) -> Result<(Option<String>, Vec<String>)> {
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
    pub(super) sent: Option<String>,
    pub(super) folders: Vec<String>,
    pub(super) ev: Option<Stored>,
    pub(super) states: Vec<crate::imap::UidState>,
}

/// How far back the first look at Sent, 完了 and 対応不要 goes.
pub(super) fn window(desk: &Desk<'_>) -> chrono::Duration {
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
    let Some((ev, states, hits)) = history::latest_and_states_after(
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
    desk.scan_look = Some(Early {
        sent,
        folders,
        ev,
        states,
    });
    Ok(Some(hits))
}

/// The marks of the last `scan` event within the window, when it was written, and
/// the UID state of `folders` (asked in the same round trip, or taken ahead by
/// `look_ahead`).
type Looked = (
    Vec<Mark>,
    Vec<Mark>,
    Option<DateTime<Utc>>,
    Vec<crate::imap::UidState>,
);

fn last_marks(desk: &mut Desk<'_>, since: DateTime<Utc>, folders: &[String]) -> Result<Looked> {
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
fn settled(
    it: &Item,
    last: &[Mark],
    current: &[Mark],
    scanned: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    let stale = chrono::Duration::from_std(super::rules::STALE).unwrap_or_default();
    let validity = current
        .iter()
        .find(|m| m.folder == it.folder)
        .map(|m| m.validity);
    scanned.is_some_and(|t| now - t >= stale)
        && last
            .iter()
            .any(|m| m.folder == it.folder && Some(m.validity) == validity && it.uid < m.next)
}

fn parse_marks(note: &str) -> Vec<Mark> {
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

fn bare(s: &str) -> &str {
    s.trim().trim_start_matches('<').trim_end_matches('>')
}

pub fn parse_sent(header: &[u8], uid: u32, validity: u32, internal: Option<&str>) -> Sent {
    let parsed = mail_parser::MessageParser::default().parse_headers(header);
    let internal = internal
        .and_then(|d| DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())
        .map(|d| d.with_timezone(&Utc));
    let mut s = Sent {
        message_id: None,
        key: format!("uid.{validity}.{uid}"),
        from: String::new(),
        from_name: None,
        to: Vec::new(),
        subject: String::new(),
        at: internal.unwrap_or_else(Utc::now),
        in_reply_to: Vec::new(),
        references: Vec::new(),
    };
    let Some(p) = parsed else { return s };
    s.message_id = p
        .message_id()
        .map(|m| bare(m).to_string())
        .filter(|m| !m.is_empty());
    if let Some(m) = &s.message_id {
        s.key = m.clone();
    }
    if let Some(a) = p.from().and_then(|a| a.first()) {
        s.from = a.address().unwrap_or("").to_lowercase();
        s.from_name = a.name().map(str::to_string).filter(|n| !n.is_empty());
    }
    for list in [p.to(), p.cc()].into_iter().flatten() {
        s.to.extend(
            list.iter()
                .filter_map(|a| a.address())
                .map(str::to_lowercase),
        );
    }
    s.subject = p.subject().unwrap_or("").to_string();
    // The Date a client wrote, when sane; else when the server filed it.
    if let Some(d) = p
        .date()
        .filter(|d| d.is_valid())
        .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
    {
        s.at = d;
    }
    s.in_reply_to = ids(p.in_reply_to());
    s.references = ids(p.references());
    s
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![bare(t).to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| bare(t).to_string()).collect(),
        _ => Vec::new(),
    }
}

/// The subject without the reply prefixes clients add ("Re:", "RE:", "Re[2]:",
/// "返信:", full-width "Ｒｅ：", "AW:", "Fwd:" is not one), repeated ones too,
/// and with runs of white space made one.
pub fn base_subject(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| match c {
            // Full-width ASCII (Ｒｅ：) as ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    // Matched on the text itself, never on a lowercased copy: lowercasing changes byte
    // lengths (İ grows, the Kelvin sign shrinks), so offsets into a copy would not fit.
    loop {
        let trimmed = t.trim_start();
        let cut = ["re", "aw", "sv", "返信", "回答"].iter().find_map(|p| {
            let head = trimmed.as_bytes().get(..p.len())?;
            let same = if p.is_ascii() {
                head.eq_ignore_ascii_case(p.as_bytes())
            } else {
                head == p.as_bytes()
            };
            if !same {
                return None;
            }
            // A prefix ends on a char boundary: it matched whole chars of `trimmed`.
            let rest = trimmed.get(p.len()..)?;
            // "Re[2]:" / "Re(2):" / "Re:"
            let rest_t = rest.trim_start_matches(|c: char| {
                c == '[' || c == ']' || c == '(' || c == ')' || c.is_ascii_digit()
            });
            let after = rest_t.strip_prefix(':')?;
            Some(trimmed.len() - after.len())
        });
        match cut {
            // At least the prefix and its colon come off, so this ends.
            Some(n) => t = trimmed[n..].to_string(),
            None => break,
        }
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The queued message a sent one answers, and how it was matched: In-Reply-To, else
/// the last References entry that is queued; else a reply-prefixed subject sent to
/// the message's sender within the window after it arrived (the latest such).
fn target(items: &[Item], s: &Sent, window: chrono::Duration) -> Option<(usize, &'static str)> {
    let by_id = |mid: &str| {
        items
            .iter()
            .position(|i| i.message_id.as_deref().map(bare) == Some(mid))
    };
    for mid in s.in_reply_to.iter().chain(s.references.iter().rev()) {
        if let Some(i) = by_id(bare(mid)) {
            return Some((i, "header"));
        }
    }
    let base = base_subject(&s.subject);
    if base.is_empty() || base == s.subject.split_whitespace().collect::<Vec<_>>().join(" ") {
        // Not a reply-prefixed subject: a new message to a customer, not an answer.
        return None;
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.status != Status::Done)
        .filter(|(_, i)| !i.from.is_empty() && s.to.contains(&i.from.to_lowercase()))
        .filter(|(_, i)| s.at >= i.arrived && s.at - i.arrived <= window)
        .filter(|(_, i)| base_subject(&i.subject) == base)
        .max_by_key(|(_, i)| i.arrived)
        .map(|(n, _)| (n, "subject"))
}

/// Who sent a reply: the member whose `sent_as` matches its From, else the owner of
/// the message, else unknown. A match wins over the owner: on a shared account
/// another member's name in the From is the only sign of a second replier.
fn replier(desk: &Desk<'_>, it: &Item, s: &Sent) -> String {
    if let Some(m) = desk
        .rules
        .members
        .iter()
        .find(|m| m.sent_it(&s.from, s.from_name.as_deref()))
    {
        return m.key.clone();
    }
    it.owner.clone().unwrap_or_else(|| UNKNOWN.to_string())
}

fn short(data: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data.as_bytes())[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn reply_id(s: &Sent, it: &Item) -> String {
    format!("reply.{}.{}@mailduty", short(&s.key), it.hash)
}

/// Records each reply once, a double reply where there is one, marks the messages
/// answered and applies `on_reply`. The lookups are batched: which replies are
/// already recorded and the earlier replies of every message take a few round trips
/// together; then one APPEND per event and one STORE per folder.
fn replies(
    desk: &mut Desk<'_>,
    items: &[Item],
    found: &[(Sent, usize, &'static str)],
    doubles: &mut usize,
    failed: &mut Vec<String>,
) -> Result<(Vec<Replied>, bool)> {
    if found.is_empty() {
        return Ok((Vec::new(), false));
    }
    let history_folder = desk.paths.history_reads();
    let ids: Vec<String> = found
        .iter()
        .map(|(s, i, _)| reply_id(s, &items[*i]))
        .collect();
    let recorded = history::recorded(&mut desk.mb, &history_folder, &ids)?;
    let mut targets: Vec<usize> = found
        .iter()
        .zip(&ids)
        .filter(|(_, id)| !recorded.contains(*id))
        .map(|((_, i, _), _)| *i)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let of: Vec<&Item> = targets.iter().map(|&i| &items[i]).collect();
    let mut earlier: HashMap<usize, Vec<Stored>> = targets
        .iter()
        .copied()
        .zip(history::about_each(&mut desk.mb, &history_folder, &of)?)
        .map(|(i, evs)| {
            let it = &items[i];
            let evs = evs
                .into_iter()
                .filter(|e| e.event == REPLY && e.concerns(it))
                .collect();
            (i, evs)
        })
        .collect();
    let mut out = Vec::new();
    let mut answered: HashMap<String, Vec<u32>> = HashMap::new();
    // Every message a reply was matched to, recorded now or by an earlier run that
    // stopped before marking it answered or applying on_reply: those are done from
    // these, so a cut anywhere is finished by the next run (which reads the same Sent
    // messages again, its scan mark not having been written).
    let mut matched: Vec<(usize, String, bool)> = Vec::new();
    for ((s, t, matched_by), own) in found.iter().zip(ids) {
        let it = &items[*t];
        let who = replier(desk, it, s);
        // Only a header naming exactly one queued message is evidence enough to move
        // it: a subject may be shared, and a Message-ID is not an identity.
        let strong = *matched_by == "header"
            && it.message_id.as_deref().is_some_and(|m| {
                items
                    .iter()
                    .filter(|o| o.message_id.as_deref().map(bare) == Some(bare(m)))
                    .count()
                    == 1
            });
        // The first reply says who moves it; the first strong one, when the first is
        // not.
        match matched.iter_mut().find(|(k, _, _)| k == t) {
            None => matched.push((*t, who.clone(), strong)),
            Some(m) if strong && !m.2 => *m = (*t, who.clone(), true),
            Some(_) => {}
        }
        if recorded.contains(&own) || out.iter().any(|r: &(Replied, usize)| r.0.id == own) {
            continue;
        }
        // A client's clock may be wrong: a reply is never before the message nor in
        // the future, so that it sorts and is found by date where it belongs.
        let at = s.at.max(it.arrived).min(Utc::now().max(it.arrived));
        let before = earlier.entry(*t).or_default();
        if let Some(prev) = before
            .iter()
            .filter(|e| e.time <= at)
            .max_by_key(|e| e.time)
        {
            let different = prev.actor != who || who == UNKNOWN;
            if different && !customer_between(items, it, prev.time, at) {
                let note = format!(
                    "{} at {}, {} at {}",
                    prev.actor,
                    prev.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    who,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                let double = Event {
                    message_id: Some(format!("double.{}.{}@mailduty", short(&s.key), it.hash)),
                    at,
                    ..event(DOUBLE_REPLY, &who, it, None, Some(&note))
                };
                // Written before the reply: the reply's own ID is what says both were
                // counted, so a cut in between writes the double again at worst, and
                // its fixed ID lets readers count it once.
                desk.record(&double, None)?;
                *doubles += 1;
            }
        }
        let mid_note = s
            .message_id
            .as_ref()
            .map(|m| format!("<{m}>"))
            .unwrap_or_else(|| "(no Message-ID)".to_string());
        let ev = Event {
            message_id: Some(own.clone()),
            at,
            ..event(REPLY, &who, it, None, Some(&mid_note))
        };
        desk.record(&ev, None)?;
        before.push(Stored {
            login: None,
            time: at,
            event: REPLY.to_string(),
            actor: who.clone(),
            id: it.id.clone(),
            message_id: it.message_id.clone(),
            subject: None,
            from_folder: None,
            to_folder: None,
            note: None,
            arrived: Some(it.arrived),
            size: Some(it.size),
            own_id: Some(own.clone()),
            sender: None,
            hash: Some(it.hash.clone()),
            notify: Vec::new(),
        });
        out.push((
            Replied {
                id: own,
                replier: who,
                reply_message_id: s.message_id.clone(),
                at,
                matched_by,
                action: "mark",
            },
            *t,
        ));
    }
    for (t, _, _) in &matched {
        let it = &items[*t];
        if !it.answered {
            answered.entry(it.folder.clone()).or_default().push(it.uid);
        }
    }
    for (folder, uids) in &answered {
        desk.mb
            .store(folder, uids, Flags::Add(&[ANSWERED.to_string()]))?;
    }
    // One move per message, for its first reply, on strong evidence only. A move that
    // fails is that message's warning; the rest go on.
    for (t, who, strong) in &matched {
        if !*strong {
            continue;
        }
        let mut it = items[*t].clone();
        it.answered = true;
        let action = match on_reply(desk, &it, who) {
            Ok(a) => a,
            Err(e) => {
                failed.push(format!("{}: on_reply: {e:#}", it.id));
                "mark"
            }
        };
        if let Some((r, _)) = out.iter_mut().find(|(_, k)| k == t) {
            r.action = action;
        }
    }
    for (r, t) in &mut out {
        r.id = items[*t].id.clone();
    }
    Ok((
        out.into_iter().map(|(r, _)| r).collect(),
        !answered.is_empty(),
    ))
}

/// Whether the customer wrote again (a message in the thread of `it`) between two
/// replies: then the second answers that, and is no double reply.
fn customer_between(items: &[Item], it: &Item, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    let Some(mid) = it.message_id.as_deref().map(bare) else {
        return false;
    };
    // An out-of-office reply is not the customer writing again.
    items.iter().any(|o| {
        o.message_id.as_deref().map(bare) != Some(mid)
            && o.automated.is_none()
            && o.in_reply_to
                .iter()
                .chain(&o.references)
                .any(|r| bare(r) == mid)
            && o.arrived > from
            && o.arrived < to
    })
}

/// `on_reply: claim | done`, through `take` like the commands.
fn on_reply(desk: &mut Desk<'_>, it: &Item, who: &str) -> Result<&'static str> {
    let member = desk.rules.member(who).map(|m| m.key.clone());
    let (dest, kind) = match (desk.rules.on_reply, &member) {
        (OnReply::Claim, Some(m)) if it.contested() => (Dest::Member(m.clone()), "claim"),
        (OnReply::Done, _) if it.status != Status::Done => (Dest::Done, "done"),
        _ => return Ok("mark"),
    };
    let actor = match &member {
        Some(m) => Actor::Member(m),
        None => Actor::Rotate,
    };
    let name = actor.key().to_string();
    match desk.take(it, &dest, actor)? {
        Taken::Won(landed) => {
            let ev = event(
                kind,
                &name,
                it,
                Some(&landed.folder),
                Some("on_reply: a reply was found in Sent"),
            );
            desk.record(&ev, Some(&landed))?;
            Ok(kind)
        }
        Taken::Lost { .. } | Taken::Already => Ok("mark"),
    }
}

/// Whether no event puts a message where it is.
fn unexplained(it: &Item, kind: &str, evs: &[Stored]) -> bool {
    let own = history::move_id(kind, &it.folder, it.uid);
    if evs
        .iter()
        .any(|e| e.own_id.as_deref() == Some(own.as_str()))
    {
        return false;
    }
    let last = evs
        .iter()
        .filter(|e| e.concerns(it))
        .rfind(|e| e.to_folder.is_some());
    last.and_then(|e| e.to_folder.as_deref()) != Some(it.folder.as_str())
}

/// A move made in a mail client, to be recorded with the others of the run.
struct Drag {
    item: Item,
    kind: &'static str,
    from: String,
    own: String,
}

/// A message found in a member folder or 完了: if no event puts it there, a
/// mail client moved it; noted in `drags`, recorded by `record_drags`.
fn dragged(
    desk: &Desk<'_>,
    it: &Item,
    kind: &'static str,
    evs: &[Stored],
    drags: &mut Vec<Drag>,
) -> Option<Dragged> {
    let own = history::move_id(kind, &it.folder, it.uid);
    if evs
        .iter()
        .any(|e| e.own_id.as_deref() == Some(own.as_str()))
    {
        return None;
    }
    let last = evs
        .iter()
        .filter(|e| e.concerns(it))
        .rfind(|e| e.to_folder.is_some());
    if last.and_then(|e| e.to_folder.as_deref()) == Some(it.folder.as_str()) {
        return None;
    }
    let from = last
        .and_then(|e| e.to_folder.clone())
        .unwrap_or_else(|| desk.paths.unclaimed.clone());
    drags.push(Drag {
        item: it.clone(),
        kind,
        from,
        own,
    });
    Some(Dragged {
        id: it.id.clone(),
        event: kind,
        folder: it.folder.clone(),
        subject: it.subject.clone(),
    })
}

/// The events of the moves made in mail clients, together (a few APPENDs for
/// thousands). Each is known by its own ID: a run cut part-way records nothing twice.
fn record_drags(desk: &mut Desk<'_>, drags: &[Drag]) -> Result<()> {
    if drags.is_empty() {
        return Ok(());
    }
    let nowhere: Vec<Landed> = drags
        .iter()
        .map(|d| Landed {
            folder: d.item.folder.clone(),
            uid: None,
            keywords: Vec::new(),
        })
        .collect();
    let mut evs: Vec<(Event<'_>, &Landed)> = drags
        .iter()
        .zip(&nowhere)
        .map(|(d, l)| {
            let ev = Event {
                from_folder: &d.from,
                message_id: Some(d.own.clone()),
                ..event(
                    d.kind,
                    CLIENT,
                    &d.item,
                    Some(&d.item.folder),
                    Some("moved in a mail client"),
                )
            };
            (ev, l)
        })
        .collect();
    // Batches are made of one kind.
    evs.sort_by_key(|(e, _)| e.kind);
    desk.record_all(&evs)
}

/// Reply events about the given messages: `replies` per Message-ID, and which of
/// them had a double reply. Read only when some message is marked answered, from the
/// arrival of the oldest such message on.
pub fn replies_of(desk: &mut Desk<'_>, items: &[Item]) -> Result<HashMap<String, Vec<Stored>>> {
    let Some(oldest) = items.iter().filter(|i| i.answered).map(|i| i.arrived).min() else {
        return Ok(HashMap::new());
    };
    let history = desk.paths.history_reads();
    let evs = history::kind_since(&mut desk.mb, &history, REPLY, oldest)?;
    let mut out: HashMap<String, Vec<Stored>> = HashMap::new();
    for e in evs {
        if (e.event == REPLY || e.event == DOUBLE_REPLY)
            && let Some(m) = &e.message_id
        {
            out.entry(bare(m).to_string()).or_default().push(e);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_prefixes_come_off() {
        for s in [
            "Re: 見積もりのお願い",
            "RE: 見積もりのお願い",
            "Re[2]: 見積もりのお願い",
            "返信: 見積もりのお願い",
            "Ｒｅ：見積もりのお願い",
            "Re: Re:  見積もりのお願い",
            "re:見積もりのお願い",
        ] {
            assert_eq!(base_subject(s), "見積もりのお願い", "{s}");
        }
        assert_eq!(base_subject("Report: done"), "Report: done");
        assert_eq!(base_subject("Fwd: x"), "Fwd: x");
    }

    #[test]
    fn subjects_whose_case_changes_length_are_safe() {
        // İ lowercases to two chars (2 → 3 bytes), the Kelvin sign to a one-byte k.
        assert_eq!(base_subject("Re:İİİ"), "İİİ");
        assert_eq!(base_subject("Re:İİİİ"), "İİİİ");
        assert_eq!(base_subject("Re:\u{212A}"), "\u{212A}");
        assert_eq!(base_subject("\u{212A}e: x"), "\u{212A}e: x");
        assert_eq!(base_subject("İRe: x"), "İRe: x");
        assert_eq!(base_subject("RE:Re[3]:返信:回答: İ"), "İ");
    }

    #[test]
    fn base_subject_ends_on_odd_subjects() {
        let parts = [
            "Re",
            "re:",
            "RE[",
            "]",
            "(",
            "2",
            ":",
            "İ",
            "\u{212A}",
            "ß",
            "ﬃ",
            "返信",
            "回答",
            "：",
            "Ｒｅ",
            " ",
            "\u{3000}",
            "\u{0130}\u{0307}",
            "Σ",
            "ẞ",
            "\u{10FFFF}",
            "\u{0}",
            "aw",
            "SV",
        ];
        // Every string of up to four parts, and long runs of each.
        let mut n = 0;
        let mut check = |s: &str| {
            let b = base_subject(s);
            assert!(b.len() <= s.len() * 3, "{s:?} → {b:?}");
            n += 1;
        };
        for a in parts {
            check(&a.repeat(50));
            for b in parts {
                for c in parts {
                    for d in parts {
                        check(&format!("{a}{b}{c}{d}"));
                    }
                }
            }
        }
        assert!(n > 300_000);
    }

    #[test]
    fn sent_headers_parse_with_many_references() {
        let refs: Vec<String> = (0..2000).map(|i| format!("<r{i}@x>")).collect();
        let h = format!(
            "Message-ID: <s1@us>\r\nFrom: =?UTF-8?B?55Sw5Lit?= <support@example.jp>\r\nTo: a@b.jp\r\nCc: C@D.jp\r\nSubject: Re: x\r\nIn-Reply-To: broken <\r\nReferences: {}\r\n\r\n",
            refs.join("\r\n ")
        );
        let s = parse_sent(h.as_bytes(), 7, 1, None);
        assert_eq!(s.message_id.as_deref(), Some("s1@us"));
        assert_eq!(s.from_name.as_deref(), Some("田中"));
        assert_eq!(s.to, vec!["a@b.jp".to_string(), "c@d.jp".to_string()]);
        assert_eq!(s.references.len(), 2000);
        let none = parse_sent(b"Subject: hi\r\n\r\n", 9, 3, None);
        assert_eq!(none.key, "uid.3.9");
    }

    #[test]
    fn rules_for_replies_are_checked_with_lines() {
        let base = "imap:\n  host: 127.0.0.1\n  tls: none\n  user: u\n  password_env: P\nmembers:\n  tanaka: { name: 田中 太郎, sent_as: [\"田中\", \"t*@example.jp\"] }\n";
        let path = std::path::Path::new("rules.yaml");
        let ok = crate::rules::parse(path, base, true).unwrap().rules;
        assert_eq!(ok.on_reply, OnReply::Mark);
        assert_eq!(ok.reply_window, std::time::Duration::from_secs(7 * 86400));
        let m = &ok.members[0];
        assert!(m.sent_it("support@example.jp", Some("サポート 田中")));
        assert!(m.sent_it("taro@example.jp", None));
        assert!(!m.sent_it("support@example.jp", Some("鈴木")));
        assert!(!m.sent_it("support@example.jp", None));
        let bad = format!("{base}on_reply: maybe\nreply_window: 0d\nfolders:\n  sent: 完了\n");
        let err = crate::rules::parse(path, &bad, true)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("rules.yaml:8:1: on_reply: \"maybe\" is not mark, claim or done"),
            "{err}"
        );
        assert!(
            err.contains("reply_window: \"0d\" is not a duration above zero"),
            "{err}"
        );
        assert!(
            err.contains("folders.sent: is the same folder as folders.done"),
            "{err}"
        );
        let claim = format!("{base}on_reply: claim\nreply_window: 3d\n");
        let r = crate::rules::parse(path, &claim, true).unwrap().rules;
        assert_eq!(r.on_reply, OnReply::Claim);
        assert_eq!(r.reply_window, std::time::Duration::from_secs(3 * 86400));
    }

    #[test]
    fn a_sent_message_answers_one_queued_message() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let it = |mid: &str, from: &str, subject: &str, h: i64| Item {
            message_id: Some(mid.into()),
            from: from.into(),
            subject: subject.into(),
            arrived: t0 + chrono::Duration::hours(h),
            ..Item::default()
        };
        let items = vec![
            it("a@c", "yamada@c.jp", "見積もり", 0),
            it("b@c", "yamada@c.jp", "Re: 見積もり", 5),
            it("c@c", "ito@d.jp", "納期", 0),
        ];
        let sent = |irt: &[&str], refs: &[&str], to: &str, subject: &str, h: i64| Sent {
            message_id: Some("s@us".into()),
            key: "s@us".into(),
            from: "support@us.jp".into(),
            from_name: None,
            to: vec![to.into()],
            subject: subject.into(),
            at: t0 + chrono::Duration::hours(h),
            in_reply_to: irt.iter().map(|s| s.to_string()).collect(),
            references: refs.iter().map(|s| s.to_string()).collect(),
        };
        let w = chrono::Duration::days(7);
        assert_eq!(
            target(&items, &sent(&["a@c"], &[], "x@y", "z", 1), w),
            Some((0, "header"))
        );
        // The last References entry that is queued: the latest message of the thread.
        assert_eq!(
            target(
                &items,
                &sent(&["gone@x"], &["a@c", "b@c", "gone@x"], "x@y", "z", 6),
                w
            ),
            Some((1, "header"))
        );
        // By subject: to the sender, after arrival, within the window, the latest one.
        assert_eq!(
            target(&items, &sent(&[], &[], "ito@d.jp", "RE: 納期", 2), w),
            Some((2, "subject"))
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "yamada@c.jp", "Re: 見積もり", 6), w),
            Some((1, "subject"))
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "yamada@c.jp", "Re: 見積もり", 2), w),
            Some((0, "subject"))
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "other@d.jp", "RE: 納期", 2), w),
            None
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "ito@d.jp", "納期", 2), w),
            None,
            "not a reply"
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "ito@d.jp", "Re: 納期", 24 * 8), w),
            None,
            "too late"
        );
        assert_eq!(
            target(&items, &sent(&[], &[], "ito@d.jp", "Re: 納期", -1), w),
            None,
            "before it came"
        );
    }

    #[test]
    fn the_highest_uid_does_not_overflow() {
        assert_eq!(read_up_to(&[3, u32::MAX, 7]), Some(u32::MAX));
        assert_eq!(read_up_to(&[3, 9]), Some(10));
        assert_eq!(read_up_to(&[]), None);
    }

    #[test]
    fn marks_round_trip() {
        let m = parse_marks("12 40 Sent\n3 9 対応中/tanaka\nbad line");
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].folder, "対応中/tanaka");
        assert_eq!(m[0].next, 40);
    }
}
