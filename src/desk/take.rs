//! `take`: moving one message to a status folder if and only if this process wins it.
//!
//! MOVE alone is not a lock: two sessions moving one message at the same instant can
//! both succeed and leave two copies. So:
//!
//! 1. With CONDSTORE, a conditional STORE of the move's keyword turns away almost
//!    every concurrent mover (the loser's OK carries `[MODIFIED]`). Dovecot checks
//!    UNCHANGEDSINCE against each session's own view, so two can pass when their
//!    STOREs meet; a mover whose STORE the server echoed with the MODSEQ right after
//!    the folder's highest was alone and moves at once.
//! 2. A contended mover (or any mover on a server without CONDSTORE) gives an alone
//!    one time to move, then moves, waits for concurrent moves to land and looks for
//!    copies of the same stored message in the member folders: every mover keeps the
//!    copy the one rule of `rules::keeper` picks and removes its own otherwise.
//! 3. Movers bound for one folder meet there: the copy with the lowest UID stays.
//!
//! A copy is a copy only when its size, arrival and bytes equal those of the
//! copy this process made; a message that merely shares the Message-ID is another
//! message and stays. Only this process's own copy (its UID from COPYUID) is ever
//! removed here; without a COPYUID both copies stay.
//!
//! This file moves one message; `sets` moves many of one folder together under the
//! same rules.

mod sets;

pub use sets::*;

use anyhow::Result;

use super::rules::{RELEASED, SETTLE, STALE, is_move_keyword, is_stale, keyword, precedes};
use super::{Actor, Desk, Dest, Landed, Place, Taken};
use crate::desk::queue::Item;
use crate::imap::{Cap, Flags, Key, Moved, Stored, batches};

pub fn take(desk: &mut Desk<'_>, it: &Item, dest: &Dest, actor: Actor<'_>) -> Result<Taken> {
    let to = desk.paths.of(dest);
    if it.folder == to {
        return Ok(Taken::Already);
    }
    let kw = keyword(dest, actor);
    if it.contested() {
        contested(desk, it, &to, dest, kw)
    } else {
        direct(desk, it, &to, dest, kw)
    }
}

/// From an owner's folder (release, done, a forced move): nobody else takes mail out
/// of a member's folder, so no arbitration; the keyword only marks the move for the
/// history until its event is written.
fn direct(desk: &mut Desk<'_>, it: &Item, to: &str, dest: &Dest, kw: String) -> Result<Taken> {
    let mb = &mut desk.mb;
    mb.store(&it.folder, &[it.uid], Flags::Remove(&it.claim_keywords))?;
    let mut add = vec![kw.clone()];
    if *dest == Dest::Unclaimed {
        // Given back: `rotate --apply` leaves it for a person, so it cannot bounce.
        add.push(RELEASED.to_string());
    }
    mb.store(&it.folder, &[it.uid], Flags::Add(&add))?;
    Ok(match mb.move_uid(&it.folder, it.uid, to)? {
        Moved::To(uid) => Taken::Won(Landed {
            folder: to.to_string(),
            uid,
            keywords: vec![kw],
        }),
        Moved::Gone => Taken::Lost { owner: None },
    })
}

/// The search keys that find copies of a message: its size, and its Message-ID when
/// it has one. They only narrow the search; `proven` decides.
fn copy_keys(it: &Item) -> Vec<Key> {
    let mut keys = vec![Key::Size(it.size)];
    if let Some(mid) = &it.message_id {
        keys.push(Key::MessageId(mid.clone()));
    }
    keys
}

fn contested(desk: &mut Desk<'_>, it: &Item, to: &str, dest: &Dest, kw: String) -> Result<Taken> {
    let condstore = desk.mb.can(Cap::Condstore);
    let alone = match arbitrate(desk, it, &kw)? {
        Arbiter::Lost => return lost(desk, it),
        Arbiter::Alone => true,
        Arbiter::Contended if condstore => {
            // A mover that was alone moves within one round trip of its STORE; if it
            // did, this one lost.
            (desk.pause)(SETTLE);
            if desk.mb.states(&it.folder, &[it.uid])?.is_empty() {
                return lost(desk, it);
            }
            false
        }
        Arbiter::Contended => {
            // No CONDSTORE, no arbitration: the keyword is the move's mark only.
            desk.mb
                .store(&it.folder, &[it.uid], Flags::Add(std::slice::from_ref(&kw)))?;
            false
        }
    };
    settle_move(desk, it, to, dest, kw, alone)
}

/// The move of a contested message once the arbitration let this process through:
/// MOVE, then (unless it was alone) the copies resolved after concurrent moves had
/// time to land.
fn settle_move(
    desk: &mut Desk<'_>,
    it: &Item,
    to: &str,
    dest: &Dest,
    kw: String,
    alone: bool,
) -> Result<Taken> {
    match move_phase(desk, it, to, dest, kw, alone)? {
        Phase::Done(t) => Ok(t),
        Phase::Lost => lost(desk, it),
        Phase::Check(landed, mine) => {
            (desk.pause)(SETTLE);
            check_phase(desk, it, to, landed, mine)
        }
    }
}

/// Where a contested move stands after its MOVE.
enum Phase {
    Done(Taken),
    /// Someone else took it.
    Lost,
    /// Moved (to this new UID); copies elsewhere are to be looked for once concurrent
    /// moves had `SETTLE` to land.
    Check(Landed, u32),
}

fn move_phase(
    desk: &mut Desk<'_>,
    it: &Item,
    to: &str,
    dest: &Dest,
    kw: String,
    alone: bool,
) -> Result<Phase> {
    let keys = copy_keys(it);
    let attempt = if matches!(dest, Dest::Done | Dest::Dismissed) {
        // Searching 完了 (or 対応不要) would cost as much as it is large, and a second
        // copy there sends nobody to answer twice.
        desk.mb
            .move_uid(&it.folder, it.uid, to)
            .map(|m| (m, Vec::new()))
    } else {
        desk.mb.move_then_find(&it.folder, it.uid, to, &keys)
    };
    let (moved, in_dest) = match attempt {
        Ok(v) => v,
        Err(e) => {
            // Refused (a folder missing, say): the message stays, free for the next
            // run at once. If the connection is gone, the keyword goes stale instead.
            let _ = desk.mb.store(
                &it.folder,
                &[it.uid],
                Flags::Remove(std::slice::from_ref(&kw)),
            );
            return Err(e);
        }
    };
    let Moved::To(mine) = moved else {
        return Ok(Phase::Lost);
    };
    let mut keywords = vec![kw];
    keywords.extend(it.claim_keywords.iter().cloned());
    let landed = Landed {
        folder: to.to_string(),
        uid: mine,
        keywords,
    };
    let Some(mine) = mine else {
        // Without the new UID this process cannot tell its copy from another: it
        // keeps every copy (a duplicate is listed under two labels, nothing is lost).
        return Ok(Phase::Done(Taken::Won(landed)));
    };
    // Movers into one folder: the first copy to arrive stays, whenever each looks.
    let earlier: Vec<u32> = in_dest
        .into_iter()
        .filter(|u| *u < mine && !desk.known.contains(&(to.to_string(), *u)))
        .collect();
    if !earlier.is_empty() && proven(desk, to, mine, &[(to.to_string(), earlier)])? {
        desk.mb.remove(to, &[mine])?;
        return Ok(Phase::Lost);
    }
    if alone || matches!(dest, Dest::Done | Dest::Dismissed) {
        return Ok(Phase::Done(Taken::Won(landed)));
    }
    Ok(Phase::Check(landed, mine))
}

/// After `SETTLE`: only copies that `rules::keeper` would keep over this one matter:
/// a copy in a member folder beats 未対応 (a claim beats intake), and among member
/// folders the alphabetically first stays.
fn check_phase(
    desk: &mut Desk<'_>,
    it: &Item,
    to: &str,
    landed: Landed,
    mine: u32,
) -> Result<Taken> {
    let keys = copy_keys(it);
    let Some(here) = desk.paths.place(to, desk.rules) else {
        return Ok(Taken::Won(landed));
    };
    let others: Vec<String> = member_folders(desk)?
        .into_iter()
        .filter(|f| f != to)
        .filter(|f| {
            desk.paths
                .place(f, desk.rules)
                .is_some_and(|p| precedes((&p, f), (&here, to)))
        })
        .collect();
    if others.is_empty() {
        return Ok(Taken::Won(landed));
    }
    let found = desk.mb.search_each(&others, &keys)?;
    let candidates: Vec<(String, Vec<u32>)> = others
        .into_iter()
        .zip(found)
        .map(|(f, uids)| {
            let fresh = uids
                .into_iter()
                .filter(|u| !desk.known.contains(&(f.clone(), *u)))
                .collect::<Vec<_>>();
            (f, fresh)
        })
        .filter(|(_, u)| !u.is_empty())
        .collect();
    if !candidates.is_empty() && proven(desk, to, mine, &candidates)? {
        desk.mb.remove(to, &[mine])?;
        let owner = candidates
            .iter()
            .find_map(|(f, _)| match desk.paths.place(f, desk.rules) {
                Some(Place::Member(m)) => Some(m),
                _ => None,
            });
        return Ok(Taken::Lost { owner });
    }
    Ok(Taken::Won(landed))
}

/// Whether one of `candidates` is the same stored message as this process's copy
/// `mine` in `folder`: same size, same arrival, same bytes.
fn proven(
    desk: &mut Desk<'_>,
    folder: &str,
    mine: u32,
    candidates: &[(String, Vec<u32>)],
) -> Result<bool> {
    let Some((_, me)) = desk.mb.identities(folder, &[mine])?.into_iter().next() else {
        return Ok(false);
    };
    for (f, uids) in candidates {
        let uids: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !(f == folder && *u == mine))
            .collect();
        if desk
            .mb
            .identities(f, &uids)?
            .iter()
            .any(|(_, id)| *id == me)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The member folders (and any other folder under 対応中), for the copy searches.
pub(super) fn member_folders(desk: &mut Desk<'_>) -> Result<Vec<String>> {
    let claimed = desk.paths.claimed.clone();
    desk.mb.below(&claimed)
}

/// Lost to another mover: who holds it now, looked for a few times because the
/// winner may still be moving it. A search hit is only a look-alike (the size key is
/// wide) until its identity matches this message's: its full identity while the
/// message is still here, else its size and arrival, which a move keeps.
fn lost(desk: &mut Desk<'_>, it: &Item) -> Result<Taken> {
    let keys = copy_keys(it);
    let here = desk
        .mb
        .identities(&it.folder, &[it.uid])?
        .into_iter()
        .next();
    let same = |id: &crate::imap::Identity| match &here {
        Some((_, me)) => id == me,
        None => id.size == it.size && id.arrived == Some(it.arrived.timestamp()),
    };
    for _ in 0..5 {
        let folders = member_folders(desk)?;
        let found = desk.mb.search_each(&folders, &keys)?;
        let mut holder = None;
        for (f, uids) in folders.iter().zip(found) {
            let fresh: Vec<u32> = uids
                .into_iter()
                .filter(|u| !desk.known.contains(&(f.clone(), *u)))
                .collect();
            if fresh.is_empty() {
                continue;
            }
            if desk
                .mb
                .identities(f, &fresh)?
                .iter()
                .any(|(_, id)| same(id))
            {
                holder = Some(desk.paths.place(f, desk.rules));
                break;
            }
        }
        match holder {
            Some(Some(Place::Member(m))) => return Ok(Taken::Lost { owner: Some(m) }),
            Some(_) => return Ok(Taken::Lost { owner: None }),
            None => (desk.pause)(std::time::Duration::from_millis(200)),
        }
    }
    Ok(Taken::Lost { owner: None })
}

/// What the arbitrating STORE said.
enum Arbiter {
    /// Someone else is taking the message.
    Lost,
    /// The keyword went in and nobody changed the message around it.
    Alone,
    /// Another session may be taking it at the same instant (or the server has no
    /// CONDSTORE): move, then resolve copies.
    Contended,
}

/// With CONDSTORE, the conditional STORE of the move's keyword. Alone means: the
/// server echoed this STORE as a change (a STORE of a keyword already set is a no-op
/// without echo), with the MODSEQ right after the folder's highest when this session
/// opened it, and no other change came in.
fn arbitrate(desk: &mut Desk<'_>, it: &Item, kw: &str) -> Result<Arbiter> {
    if !desk.mb.can(Cap::Condstore) {
        return Ok(Arbiter::Contended);
    }
    let Some((mut modseq, flags)) = desk.mb.select_modseq_flags(&it.folder, it.uid)? else {
        return Ok(Arbiter::Lost);
    };
    if flags.iter().any(|f| is_move_keyword(f)) {
        // Another move is under way (it finishes in milliseconds) or died before
        // moving; only a message unchanged across the wait is stale. One that is still
        // here with no move keyword (the other mover only cleared its own) is free.
        (desk.pause)(STALE);
        match desk.mb.modseq_flags(&it.folder, it.uid)? {
            Some((again, f2)) if is_stale((modseq, &flags), (again, &f2)) => {}
            Some((again, f2)) if !f2.iter().any(|f| is_move_keyword(f)) => modseq = again,
            _ => return Ok(Arbiter::Lost),
        }
    }
    let r =
        desk.mb
            .store_if_unchanged(&it.folder, it.uid, modseq, Flags::Add(&[kw.to_string()]))?;
    Ok(match r {
        None => Arbiter::Lost,
        Some(Stored {
            echo: Some(e),
            foreign: false,
            highest_before: Some(h),
        }) if h.checked_add(1) == Some(e) => Arbiter::Alone,
        Some(_) => Arbiter::Contended,
    })
}
