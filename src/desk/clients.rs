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
//!
//! This file runs the step (`run`) and holds what it finds; `scan` keeps the marks
//! of what was read, `replies` tells replies and 二重対応 from Sent, `drags` finds
//! what a client moved with no event to say so.

mod drags;
mod replies;
mod scan;

use drags::*;
pub use replies::*;
pub use scan::*;

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

#[cfg(test)]
mod tests;
