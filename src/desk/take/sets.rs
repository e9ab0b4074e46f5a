//! Sets: many contested messages of one folder moved in the round trips of one
//! (one conditional STORE arbitrates the set, one UID MOVE moves it), and several
//! sets out of one folder to several places together. The same race and copy rules
//! as one message's `take`, above.

use super::*;

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
pub(super) fn settle(
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
pub(super) struct Set<'s, 'i> {
    its: &'s [&'i Item],
    from: &'s str,
    to: &'s str,
    dest: &'s Dest,
    kw: &'s str,
    by_uid: std::collections::HashMap<u32, usize>,
}

/// The STOREs and MOVEs of `take_set`: fills `out` as messages settle and `checks`
/// with the contended moves whose copies are still to be looked for.
pub(super) fn set_moves(
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
pub(super) fn since(set: &Set<'_, '_>) -> u64 {
    set.its.iter().filter_map(|i| i.modseq).max().unwrap_or(0)
}

/// The messages of `batch` the conditional STORE let through; those it refused are
/// someone else's.
pub(super) fn passed(
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
pub(super) fn landed(
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
pub(super) fn contend(
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
pub(super) fn alone_set(st: &crate::imap::SetStored, passed: &[u32]) -> bool {
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
    // A MODSEQ near the top of the range (a hostile server) counts as contended.
    seqs.iter()
        .enumerate()
        .all(|(k, m)| h.checked_add(1 + k as u64) == Some(*m))
}
