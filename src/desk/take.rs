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
        }) if e == h + 1 => Arbiter::Alone,
        Some(_) => Arbiter::Contended,
    })
}

/// Whether `take_set` moves sets on this server: it needs CONDSTORE to arbitrate a
/// set in one STORE, and MOVE with UIDPLUS to move it in one command and learn
/// which messages moved.
pub fn sets(desk: &Desk<'_>) -> bool {
    [Cap::Condstore, Cap::Move, Cap::UidPlus]
        .iter()
        .all(|c| desk.mb.can(*c))
}

/// What became of one message of a set whose move failed part-way.
#[derive(Debug)]
pub enum SetPart {
    /// Settled: moved by this process (its event still to be recorded), taken by
    /// someone else, or already there.
    Taken(Taken),
    /// Moved, but the look for copies failed: its keyword stays, so that the next
    /// run resolves copies and writes its event once the keyword is stale.
    Unsettled,
    /// Not moved: it stays where it was, free for the next run.
    Stayed,
}

/// A set move that failed part-way: what it did before, and why it stopped.
#[derive(Debug)]
pub struct SetFailed {
    /// In the order given.
    pub parts: Vec<SetPart>,
    pub error: anyhow::Error,
}

/// Moves contested messages of one folder (the inbox, 未対応) to one destination,
/// with the guarantees of `take` and a constant number of round trips per UID set:
///
/// 1. one conditional STORE of the move's keyword for the whole set, UNCHANGEDSINCE
///    the highest MODSEQ the queue read: a message someone changed since (a claimer's
///    keyword) is refused by the server and left to that mover;
/// 2. the set was alone when the server gave its changes the MODSEQs right after the
///    folder's highest and no other change came in: then one UID MOVE moves it, and
///    COPYUID says which messages moved (one gone meanwhile is left);
/// 3. otherwise every message of the set takes the contended path of `take`, one by
///    one, after one common wait.
///
/// Returns what became of each message, in the order given. `its` must all sit in
/// one folder, carry no move keyword and have a MODSEQ (`sets` is true). When it
/// fails part-way, what was done so far comes with the error, and the messages not
/// moved lose this run's keyword (as far as the connection allows).
pub fn take_set(
    desk: &mut Desk<'_>,
    its: &[&Item],
    dest: &Dest,
    actor: Actor<'_>,
) -> std::result::Result<Vec<Taken>, SetFailed> {
    let Some(first) = its.first() else {
        return Ok(Vec::new());
    };
    let from = first.folder.clone();
    let to = desk.paths.of(dest);
    if its.iter().any(|i| {
        i.folder != from || !i.contested() || i.modseq.is_none() || !i.claim_keywords.is_empty()
    }) || from == to
    {
        return Err(SetFailed {
            parts: its.iter().map(|_| SetPart::Stayed).collect(),
            error: anyhow::anyhow!("take_set: the messages are not one contested set"),
        });
    }
    let kw = keyword(dest, actor);
    let set = Set {
        its,
        from: &from,
        to: &to,
        dest,
        kw: &kw,
        by_uid: its.iter().enumerate().map(|(k, i)| (i.uid, k)).collect(),
    };
    let mut out: Vec<Option<Taken>> = its.iter().map(|_| None).collect();
    let mut checks = Vec::new();
    let error = set_moves(desk, &set, &mut out, &mut checks).err();
    settle(desk, &set, out, checks, error)
}

/// The end of a set move: the copies of contended moves resolved, and what became
/// of each message; on a failure, this run's keyword cleared from those not moved.
fn settle(
    desk: &mut Desk<'_>,
    set: &Set<'_, '_>,
    mut out: Vec<Option<Taken>>,
    checks: Vec<(u32, Landed, u32)>,
    mut error: Option<anyhow::Error>,
) -> std::result::Result<Vec<Taken>, SetFailed> {
    let (its, from, to, kw) = (
        set.its,
        set.from.to_string(),
        set.to.to_string(),
        set.kw.to_string(),
    );
    // Every move made is checked for copies, even after a failure: a message left
    // unchecked looks busy to claimers until its keyword goes stale.
    if !checks.is_empty() {
        (desk.pause)(SETTLE);
    }
    let mut unsettled = std::collections::HashSet::new();
    for (u, landed, mine) in checks {
        let k = set.by_uid[&u];
        match check_phase(desk, its[k], &to, landed, mine) {
            Ok(t) => out[k] = Some(t),
            Err(e) => {
                unsettled.insert(k);
                error.get_or_insert(e);
            }
        }
    }
    let Some(error) = error else {
        return Ok(out
            .into_iter()
            .map(|t| t.unwrap_or(Taken::Lost { owner: None }))
            .collect());
    };
    let stayed: Vec<u32> = out
        .iter()
        .enumerate()
        .filter(|(k, t)| t.is_none() && !unsettled.contains(k))
        .map(|(k, _)| its[k].uid)
        .collect();
    // Best effort: if the connection is gone, the keyword goes stale instead.
    let _ = desk
        .mb
        .store(&from, &stayed, Flags::Remove(std::slice::from_ref(&kw)));
    let parts = out
        .into_iter()
        .enumerate()
        .map(|(k, t)| match t {
            Some(t) => SetPart::Taken(t),
            None if unsettled.contains(&k) => SetPart::Unsettled,
            None => SetPart::Stayed,
        })
        .collect();
    Err(SetFailed { parts, error })
}

/// `take_set` for several sets of one folder, each to its own destination (the
/// hand-out to each member on duty), in the round trips of one: one SELECT and every
/// set's conditional STORE, then their UID MOVEs, pipelined. They were alone when
/// the STOREs' changes, taken together, follow the folder's highest MODSEQ without
/// a gap; otherwise each set's messages take the contended path as in `take_set`.
/// Sets that do not fit this (several folders, a set longer than one command line)
/// move one after the other. One result per set, in the order given.
pub fn take_sets(
    desk: &mut Desk<'_>,
    sets: &[(&[&Item], Dest)],
    actor: Actor<'_>,
) -> Vec<std::result::Result<Vec<Taken>, SetFailed>> {
    let from = sets
        .first()
        .and_then(|(its, _)| its.first())
        .map(|i| i.folder.clone());
    let fits = |its: &[&Item], dest: &Dest| {
        let uids: Vec<u32> = its.iter().map(|i| i.uid).collect();
        !its.is_empty()
            && Some(&desk.paths.of(dest)) != from.as_ref()
            && batches(&uids).len() == 1
            && its.iter().all(|i| {
                Some(&i.folder) == from.as_ref()
                    && i.contested()
                    && i.modseq.is_some()
                    && i.claim_keywords.is_empty()
            })
    };
    let (Some(from), true) = (
        from.clone(),
        sets.len() > 1 && sets.iter().all(|(its, d)| fits(its, d)),
    ) else {
        return sets
            .iter()
            .map(|(its, dest)| take_set(desk, its, dest, actor))
            .collect();
    };
    let tos: Vec<String> = sets.iter().map(|(_, d)| desk.paths.of(d)).collect();
    let kws: Vec<String> = sets.iter().map(|(_, d)| keyword(d, actor)).collect();
    let all: Vec<Set<'_, '_>> = sets
        .iter()
        .zip(&tos)
        .zip(&kws)
        .map(|(((its, dest), to), kw)| Set {
            its,
            from: &from,
            to,
            dest,
            kw,
            by_uid: its.iter().enumerate().map(|(k, i)| (i.uid, k)).collect(),
        })
        .collect();
    let mut outs: Vec<Vec<Option<Taken>>> = sets
        .iter()
        .map(|(its, _)| its.iter().map(|_| None).collect())
        .collect();
    let mut checks: Vec<Vec<(u32, Landed, u32)>> = sets.iter().map(|_| Vec::new()).collect();
    let mut errors: Vec<Option<anyhow::Error>> = sets.iter().map(|_| None).collect();
    let uids: Vec<Vec<u32>> = sets
        .iter()
        .map(|(its, _)| its.iter().map(|i| i.uid).collect())
        .collect();
    let kw_lists: Vec<Vec<String>> = kws.iter().map(|k| vec![k.clone()]).collect();
    let asks: Vec<(&[u32], u64, Flags<'_>)> = all
        .iter()
        .zip(&uids)
        .zip(&kw_lists)
        .map(|((set, u), kw)| (u.as_slice(), since(set), Flags::Add(kw)))
        .collect();
    match desk.mb.select_store_each_if_unchanged(&from, &asks) {
        Err(e) => {
            for err in errors.iter_mut() {
                *err = Some(anyhow::anyhow!("{e:#}"));
            }
        }
        Ok(sts) => {
            let passed: Vec<Vec<u32>> = all
                .iter()
                .zip(&sts)
                .zip(&uids)
                .zip(outs.iter_mut())
                .map(|(((set, st), u), out)| passed(set, st, u, out))
                .collect();
            let together = crate::imap::SetStored {
                echo: sts.iter().flat_map(|s| s.echo.iter().copied()).collect(),
                foreign: sts.iter().any(|s| s.foreign),
                modified: Vec::new(),
                highest_before: sts.first().and_then(|s| s.highest_before),
            };
            let every: Vec<u32> = passed.iter().flatten().copied().collect();
            let mut contended: Vec<Vec<u32>> = sets.iter().map(|_| Vec::new()).collect();
            if !every.is_empty() && alone_set(&together, &every) {
                let moving: Vec<usize> =
                    (0..sets.len()).filter(|&k| !passed[k].is_empty()).collect();
                let asks: Vec<(&[u32], &str)> = moving
                    .iter()
                    .map(|&k| (passed[k].as_slice(), tos[k].as_str()))
                    .collect();
                match desk.mb.move_sets(&from, &asks) {
                    Err(e) => {
                        for &k in &moving {
                            errors[k] = Some(anyhow::anyhow!("{e:#}"));
                        }
                    }
                    Ok(results) => {
                        for (&k, r) in moving.iter().zip(results) {
                            let r = r.and_then(|m| {
                                landed(
                                    desk,
                                    &all[k],
                                    &passed[k],
                                    m,
                                    &mut outs[k],
                                    &mut contended[k],
                                )
                            });
                            if let Err(e) = r {
                                errors[k] = Some(e);
                            }
                        }
                    }
                }
            } else {
                contended = passed;
            }
            for (k, c) in contended.into_iter().enumerate() {
                if errors[k].is_some() {
                    continue;
                }
                if let Err(e) = contend(desk, &all[k], c, &mut outs[k], &mut checks[k]) {
                    errors[k] = Some(e);
                }
            }
        }
    }
    all.iter()
        .zip(outs)
        .zip(checks)
        .zip(errors)
        .map(|(((set, out), checks), error)| settle(desk, set, out, checks, error))
        .collect()
}

/// One set move: the messages, where from and to, and the move's keyword.
struct Set<'s, 'i> {
    its: &'s [&'i Item],
    from: &'s str,
    to: &'s str,
    dest: &'s Dest,
    kw: &'s str,
    by_uid: std::collections::HashMap<u32, usize>,
}

/// The STOREs and MOVEs of `take_set`: fills `out` as messages settle and `checks`
/// with the contended moves whose copies are still to be looked for.
fn set_moves(
    desk: &mut Desk<'_>,
    set: &Set<'_, '_>,
    out: &mut [Option<Taken>],
    checks: &mut Vec<(u32, Landed, u32)>,
) -> Result<()> {
    let (from, to) = (set.from, set.to);
    let kw = set.kw.to_string();
    let uids: Vec<u32> = set.its.iter().map(|i| i.uid).collect();
    let since = since(set);
    let mut contended = Vec::new();
    for batch in batches(&uids) {
        let st = desk.mb.select_store_if_unchanged(
            from,
            &batch,
            since,
            Flags::Add(std::slice::from_ref(&kw)),
        )?;
        let passed = passed(set, &st, &batch, out);
        if passed.is_empty() {
            continue;
        }
        if !alone_set(&st, &passed) {
            contended.extend(passed);
            continue;
        }
        // Refused (a folder missing): the messages stay, and `take_set` clears their
        // keyword so that they are free for the next run at once.
        let moved = desk.mb.move_set(from, &passed, to)?;
        landed(desk, set, &passed, moved, out, &mut contended)?;
    }
    contend(desk, set, contended, out, checks)
}

/// The MODSEQ a set's conditional STORE gives: the highest the queue read.
fn since(set: &Set<'_, '_>) -> u64 {
    set.its.iter().filter_map(|i| i.modseq).max().unwrap_or(0)
}

/// The messages of `batch` the conditional STORE let through; those it refused are
/// someone else's.
fn passed(
    set: &Set<'_, '_>,
    st: &crate::imap::SetStored,
    batch: &[u32],
    out: &mut [Option<Taken>],
) -> Vec<u32> {
    for u in &st.modified {
        if let Some(&k) = set.by_uid.get(u) {
            out[k] = Some(Taken::Lost { owner: None });
        }
    }
    batch
        .iter()
        .copied()
        .filter(|u| !st.modified.contains(u))
        .collect()
}

/// After the UID MOVE of `passed`: what COPYUID says moved (new UIDs unknown: every
/// one takes the contended path); one it does not name was gone meanwhile.
fn landed(
    desk: &mut Desk<'_>,
    set: &Set<'_, '_>,
    passed: &[u32],
    moved: Option<Vec<(u32, u32)>>,
    out: &mut [Option<Taken>],
    contended: &mut Vec<u32>,
) -> Result<()> {
    let (from, to, by_uid) = (set.from, set.to, &set.by_uid);
    let kw = set.kw.to_string();
    {
        let landed = |uid| {
            Taken::Won(Landed {
                folder: to.to_string(),
                uid,
                keywords: vec![kw.clone()],
            })
        };
        let Some(pairs) = moved else {
            // Moved, new UIDs unknown, and a message gone before the MOVE is not
            // told from one it moved: every message of the batch takes the
            // contended path, where one still here is moved on its own and one
            // gone counts as taken by someone else. A move this run made then keeps
            // its keyword in the destination, and the next run writes its event.
            contended.extend(passed);
            return Ok(());
        };
        for (src, new) in pairs {
            out[by_uid[&src]] = Some(landed(Some(new)));
        }
        // Not named by COPYUID: gone meanwhile (moved or deleted by someone),
        // or kept back by a server that refused the whole MOVE for one gone
        // message. Such a message must not keep this run's keyword.
        let mut left = Vec::new();
        for u in passed {
            let slot = &mut out[by_uid[u]];
            if slot.is_none() {
                *slot = Some(Taken::Lost { owner: None });
                left.push(*u);
            }
        }
        desk.mb
            .store(from, &left, Flags::Remove(std::slice::from_ref(&kw)))?;
    }
    Ok(())
}

/// The messages whose STORE met another mover: one by one, after one common wait.
fn contend(
    desk: &mut Desk<'_>,
    set: &Set<'_, '_>,
    contended: Vec<u32>,
    out: &mut [Option<Taken>],
    checks: &mut Vec<(u32, Landed, u32)>,
) -> Result<()> {
    let (from, to, by_uid) = (set.from, set.to, &set.by_uid);
    let kw = set.kw.to_string();
    if contended.is_empty() {
        return Ok(());
    }
    // A mover that was alone moves within one round trip of its STORE; whatever
    // is gone after the wait was taken by it.
    (desk.pause)(SETTLE);
    let here: std::collections::HashSet<u32> = desk
        .mb
        .states(from, &contended)?
        .into_iter()
        .map(|(u, _, _)| u)
        .collect();
    // One by one, but with one wait for all: every message's copies are looked
    // for at least `SETTLE` after its own move.
    for u in contended {
        let k = by_uid[&u];
        if !here.contains(&u) {
            out[k] = Some(Taken::Lost { owner: None });
            continue;
        }
        out[k] = match move_phase(desk, set.its[k], to, set.dest, kw.clone(), false)? {
            Phase::Done(t) => Some(t),
            Phase::Lost => Some(Taken::Lost { owner: None }),
            Phase::Check(landed, mine) => {
                checks.push((u, landed, mine));
                None
            }
        };
    }
    Ok(())
}

/// Whether a set's conditional STORE ran alone: every message that passed was
/// changed by it, with MODSEQs that follow the folder's highest without a gap (a
/// server gives one transaction one MODSEQ or one per message), and no other
/// session's change came in.
fn alone_set(st: &crate::imap::SetStored, passed: &[u32]) -> bool {
    let Some(h) = st.highest_before else {
        return false;
    };
    if st.foreign {
        return false;
    }
    let echoed: std::collections::HashSet<u32> = st.echo.iter().map(|(u, _)| *u).collect();
    if echoed.len() != passed.len() || passed.iter().any(|u| !echoed.contains(u)) {
        return false;
    }
    let mut seqs: Vec<u64> = st.echo.iter().map(|(_, m)| *m).collect();
    seqs.sort_unstable();
    seqs.dedup();
    seqs.iter().enumerate().all(|(k, m)| *m == h + 1 + k as u64)
}
