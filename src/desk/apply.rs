//! `rotate --apply` on the mailbox: finish what crashed runs left, file inbox mail
//! (threads and routes to their owners), then hand unclaimed mail to the duty. Every
//! move goes through `take`, so a member claiming a message while cron files it ends
//! with exactly one copy.

use anyhow::Result;
use serde::Serialize;

use super::rules::{Actor, ROTATE};
use super::take::SetPart;
use super::{Assignment, Desk, Dest, Landed, Recovered, Taken, event};
use crate::desk::queue::{Item, Scope};

/// One message moved.
#[derive(Debug, Serialize)]
pub struct Move {
    pub id: String,
    pub message_id: Option<String>,
    pub from_folder: String,
    pub to_folder: String,
    /// `file` (inbox → 未対応) or `assign` (to a member).
    pub event: &'static str,
    pub owner: Option<String>,
    /// Why it went there: "intake", "duty", "thread", or the route.
    pub reason: String,
    pub subject: String,
}

#[derive(Debug, Default)]
pub struct Applied {
    pub moved: Vec<Move>,
    /// Messages left for the next run: a move under way, or taken by someone else.
    pub left: usize,
    pub recovered: Recovered,
    /// Messages that could not be moved, one line each: one odd message (a folder
    /// missing for a new member, a refusal by the server) never holds up the rest.
    pub failed: Vec<String>,
    /// Replies found in Sent and moves made in mail clients (`clients.rs`).
    pub clients: super::clients::Seen,
    /// Until when a run finding the folders as this one did has nothing to do (held
    /// mail coming due); None when it cannot tell (a move under way).
    pub settled_until: Option<chrono::DateTime<chrono::Utc>>,
    /// The run found nothing new since the last one and read no message data.
    pub quiet: bool,
    /// Where this run's moves landed (folder, UID), their events written.
    landed: Vec<(String, u32)>,
}

/// After this many failures in a row the connection is taken to be gone.
const GIVE_UP: usize = 3;

/// `hand_out`: the members on duty to hand unclaimed mail to (empty: file only).
/// `now` decides which held mail is due.
pub fn apply(
    desk: &mut Desk<'_>,
    hand_out: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Applied> {
    desk.write_history_directly();
    // Before the first read: what the folders were when this run began.
    let look = super::quiet::look(desk, hand_out, now)?;
    if let Some(l) = look.as_ref().filter(|l| l.quiet) {
        let mut out = Applied {
            quiet: true,
            ..Applied::default()
        };
        out.clients.sent_folder = l.sent_folder.clone();
        return Ok(out);
    }
    desk.use_heads();
    let mut out = files_and_hands_out(desk, hand_out, now)?;
    desk.keep_heads();
    // The scan marks go last, over what this run moved itself.
    if let Err(e) = super::clients::finish(desk, &mut out.clients, &out.landed) {
        out.failed.push(format!("mail client work: {e:#}"));
    }
    // Last, so that the moves of mail come first. The events other commands wrote
    // since the last run join the rest; a failure leaves them where every reader
    // still finds them.
    // An empty journal is not opened: what other commands write to it during this
    // run is moved by the next (every reader reads both).
    let journal_empty = look
        .as_ref()
        .zip(desk.paths.journal.as_deref())
        .is_some_and(|(l, j)| l.was_empty(j));
    let settled = match if journal_empty {
        Ok(0)
    } else {
        desk.settle_history()
    } {
        Ok(n) => n,
        Err(e) => {
            out.failed
                .push(format!("moving the journal's events: {e:#}"));
            1
        }
    };
    if let Some(l) = look {
        // Kept only from a run that found nothing to do and changed nothing: then a
        // run at the state this one began with (even one restored from a backup) has
        // nothing to do either, until the clock brings something.
        let c = &out.clients;
        let r = out.recovered;
        let idle = out.moved.is_empty()
            && out.left == 0
            && out.failed.is_empty()
            && r.events + r.unstuck + r.healed == 0
            && c.replies.is_empty()
            && c.double_replies == 0
            && c.dragged.is_empty()
            && !c.waiting
            && !c.marked
            && settled == 0;
        l.keep(out.settled_until.filter(|_| idle), now);
    }
    Ok(out)
}

fn files_and_hands_out(
    desk: &mut Desk<'_>,
    hand_out: &[String],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Applied> {
    let mut out = Applied::default();
    // Before the queue's read, which takes the folders listed at login.
    let hand_out = &with_folders(desk, hand_out, &mut out.failed)[..];
    let mut items = desk.queue_ahead()?;
    // Held mail comes back at its time even if nothing else changes; a move under
    // way is finished by whichever run sees it stale.
    out.settled_until =
        if !desk.removing.is_empty() || items.iter().any(|i| !i.claim_keywords.is_empty()) {
            None
        } else {
            Some(
                items
                    .iter()
                    .filter(|i| i.status == crate::desk::queue::Status::Held)
                    .filter_map(|i| i.held_until)
                    .fold(now + chrono::Duration::days(1), |a, b| a.min(b)),
            )
        };
    out.recovered = desk.recover(&mut items)?;
    // Mail-client work is read before intake, so that `on_reply` can take a replied
    // message straight from the inbox; a failure there never holds up intake.
    match super::clients::run(desk, &mut items) {
        Ok(mut seen) => {
            out.failed.append(&mut seen.failed);
            out.clients = seen;
        }
        Err(e) => out.failed.push(format!("mail client work: {e:#}")),
    }
    // Held mail due back goes first, so that the customer's reply that brought it
    // back follows it to its owner at intake.
    match super::hold::give_back(desk, &items, now, &mut out.failed) {
        Ok((moved, left)) => {
            out.left += left;
            if !moved.is_empty() {
                out.moved.extend(moved);
                items = desk.queue(Scope::ACTIVE)?;
            }
        }
        Err(e) => out.failed.push(format!("held mail: {e:#}")),
    }
    let mut plan = desk.plan_intake(&items);
    out.left += items
        .iter()
        .filter(|i| i.folder == desk.paths.inbox && !i.claim_keywords.is_empty())
        .count();
    // The hand-out is planned with the intake: human mail bound for 未対応 goes
    // straight to the member on duty, and the mail already in 未対応 follows from the
    // same read of the queue (one read per conditional STORE: nothing the intake
    // moves is handed out again in this run).
    let mut later = Vec::new();
    if !hand_out.is_empty() {
        // Asked only when 未対応 holds mail (it takes a SELECT). A failed look costs
        // this run its hand-out, never its intake: new mail is filed as without one.
        let unclaimed = desk.paths.unclaimed.clone();
        let released = if items.iter().any(|i| i.folder == unclaimed) {
            desk.mb
                .keeps_keywords(&unclaimed)
                .and_then(|keeps| match keeps {
                    true => Ok(()),
                    false => released_by_history(desk, &mut items),
                })
        } else {
            Ok(())
        };
        match released {
            Ok(()) => later = desk.plan_duty(&items, &mut plan, hand_out),
            Err(e) => out
                .failed
                .push(format!("handing out mail (left for the next run): {e:#}")),
        }
    }
    run(desk, &items, &plan, &mut out, later.is_empty())?;
    if !later.is_empty() {
        run(desk, &items, &later, &mut out, true)?;
    }
    Ok(out)
}

/// The members on duty whose folder exists. One added to the rules since `init` has
/// none yet: the mail that would be theirs goes to the others or stays in 未対応 (never
/// in the inbox), and the run says why it failed.
fn with_folders(desk: &Desk<'_>, on_duty: &[String], failed: &mut Vec<String>) -> Vec<String> {
    let Some(listed) = desk.mb.listed_below(&desk.paths.claimed) else {
        return on_duty.to_vec();
    };
    on_duty
        .iter()
        .filter(|m| {
            let folder = desk.paths.of(&Dest::Member((*m).clone()));
            let there = listed.contains(&folder);
            if !there {
                failed.push(format!(
                    "nothing handed out to {m}: the folder {folder} does not exist; run `mailduty init`"
                ));
            }
            there
        })
        .cloned()
        .collect()
}

/// Where 未対応 keeps no keywords (Exchange), the released mark is lost: a message
/// whose last event is a release into 未対応 was given back by a person all the same.
fn released_by_history(desk: &mut Desk<'_>, items: &mut [Item]) -> Result<()> {
    let (unclaimed, history) = (desk.paths.unclaimed.clone(), desk.paths.history_reads());
    for it in items.iter_mut() {
        if it.folder != unclaimed || it.released {
            continue;
        }
        let events = crate::desk::history::about(&mut desk.mb, &history, it)?;
        let last = events.iter().rev().find(|e| e.concerns(it));
        it.released = last.is_some_and(|e| {
            e.event == "release" && e.to_folder.as_deref() == Some(unclaimed.as_str())
        });
    }
    Ok(())
}

/// The most messages one step (intake, hand-out) of a run moves; the rest are left
/// for the next run, and the summary says how many.
pub const CAP: usize = 5_000;

/// A source folder, an owner (None: 未対応), whether to 対応不要, and the plan's
/// entries for them.
type Group<'a> = (&'a str, Option<&'a str>, bool, Vec<(usize, &'a Assignment)>);

/// Carries out a plan. With `last` (no step moves mail after this one), the run's
/// scan marks go up with the events of its last set. Messages from one folder to one
/// place move as one set where the server allows (`take_set`: a few round trips
/// whatever their number), else one by one.
fn run(
    desk: &mut Desk<'_>,
    items: &[Item],
    plan: &[Assignment],
    out: &mut Applied,
    last: bool,
) -> Result<()> {
    let (now, later) = plan.split_at(plan.len().min(CAP));
    out.left += later.len();
    let mut groups: Vec<Group<'_>> = Vec::new();
    for (k, a) in now.iter().enumerate() {
        let folder = items[a.item].folder.as_str();
        let owner = a.owner.as_deref();
        match groups
            .iter_mut()
            .find(|g| g.0 == folder && g.1 == owner && g.2 == a.dismiss)
        {
            Some(g) => g.3.push((k, a)),
            None => groups.push((folder, owner, a.dismiss, vec![(k, a)])),
        }
    }
    let mut moved: Vec<(usize, Move)> = Vec::new();
    let mut in_a_row = 0;
    let sets = desk.takes_sets();
    if now.iter().any(|a| a.dismiss) {
        // A mailbox older than the 対応不要 folder gets it here.
        desk.ensure_folder(&desk.paths.dismissed.clone())?;
    }
    // The sets out of one folder (to each member on duty, say) move together.
    type Sets<'p> = Vec<(&'p str, Vec<Vec<(usize, &'p Assignment)>>)>;
    let mut by_source: Sets<'_> = Vec::new();
    let mut alone_ones = Vec::new();
    for (folder, _, _, group) in groups {
        let (together, alone): (Vec<_>, Vec<_>) = group.into_iter().partition(|(_, a)| {
            let it = &items[a.item];
            sets && it.contested() && it.modseq.is_some() && it.claim_keywords.is_empty()
        });
        if !together.is_empty() {
            match by_source.iter_mut().find(|(f, _)| *f == folder) {
                Some((_, gs)) => gs.push(together),
                None => by_source.push((folder, vec![together])),
            }
        }
        alone_ones.extend(alone);
    }
    let n_sources = by_source.len();
    for (k, (_, groups)) in by_source.into_iter().enumerate() {
        let attach = last && k + 1 == n_sources;
        let (m, failed) = set(desk, items, &groups, out, attach);
        moved.extend(m);
        match failed {
            None => in_a_row = 0,
            Some(e) => {
                in_a_row += 1;
                if in_a_row >= GIVE_UP {
                    return Err(stopped(e, moved.len()));
                }
            }
        }
    }
    {
        for (k, a) in alone_ones {
            let it = &items[a.item];
            match one(desk, it, a, out) {
                Ok(m) => {
                    in_a_row = 0;
                    moved.extend(m.map(|m| (k, m)));
                }
                Err(e) => {
                    out.failed.push(format!("{}: {e:#}", it.id));
                    in_a_row += 1;
                    if in_a_row >= GIVE_UP {
                        return Err(stopped(e, moved.len()));
                    }
                }
            }
        }
    }
    moved.sort_by_key(|(k, _)| *k);
    out.moved.extend(moved.into_iter().map(|(_, m)| m));
    Ok(())
}

fn stopped(e: anyhow::Error, moved: usize) -> anyhow::Error {
    e.context(format!(
        "rotate --apply stopped after {moved} moves; the next run goes on"
    ))
}

fn dest_of(a: &Assignment) -> (Dest, &'static str) {
    if a.dismiss {
        return (Dest::Dismissed, "dismiss");
    }
    match &a.owner {
        Some(o) => (Dest::Member(o.clone()), "assign"),
        None => (Dest::Unclaimed, "file"),
    }
}

fn move_of(it: &Item, a: &Assignment, kind: &'static str, to: String) -> Move {
    Move {
        id: it.id.clone(),
        message_id: it.message_id.clone(),
        from_folder: it.folder.clone(),
        to_folder: to,
        event: kind,
        owner: a.owner.clone(),
        reason: a.reason.clone(),
        subject: it.subject.clone(),
    }
}

/// Messages of one folder bound for a few places (one set each), moved together and
/// recorded together. Returns the moves made (recorded even when a set failed
/// part-way) and the first failure, whose messages that did not move are listed in
/// `out.failed`.
fn set(
    desk: &mut Desk<'_>,
    items: &[Item],
    groups: &[Vec<(usize, &Assignment)>],
    out: &mut Applied,
    attach: bool,
) -> (Vec<(usize, Move)>, Option<anyhow::Error>) {
    let its: Vec<Vec<&Item>> = groups
        .iter()
        .map(|g| g.iter().map(|(_, a)| &items[a.item]).collect())
        .collect();
    let dests: Vec<(Dest, &'static str)> = groups.iter().map(|g| dest_of(g[0].1)).collect();
    let asks: Vec<(&[&Item], Dest)> = its
        .iter()
        .zip(&dests)
        .map(|(i, (d, _))| (i.as_slice(), d.clone()))
        .collect();
    let results = desk.take_sets(&asks, Actor::Rotate);
    let mut failed: Option<anyhow::Error> = None;
    let mut won = Vec::new();
    for (((group, its), (dest, kind)), result) in groups.iter().zip(&its).zip(&dests).zip(results) {
        let to = desk.paths.of(dest);
        let (parts, f) = match result {
            Ok(taken) => (taken.into_iter().map(SetPart::Taken).collect(), None),
            Err(f) => (
                f.parts,
                Some(f.error.context(format!(
                    "moving {} messages to {to} failed part-way (the next run finishes it)",
                    its.len()
                ))),
            ),
        };
        let why = f.as_ref().map(|e| format!("{e:#}")).unwrap_or_default();
        for (&(k, a), part) in group.iter().zip(parts) {
            match part {
                SetPart::Taken(Taken::Won(landed)) => won.push((k, a, landed, *kind)),
                SetPart::Taken(Taken::Lost { .. } | Taken::Already) => out.left += 1,
                // Moved; the next run finishes it once its keyword is stale.
                SetPart::Unsettled => out.left += 1,
                SetPart::Stayed => out.failed.push(format!("{}: {why}", items[a.item].id)),
            }
        }
        if let Some(f) = f {
            failed.get_or_insert(f);
        }
    }
    let to = dests
        .iter()
        .map(|(d, _)| desk.paths.of(d))
        .collect::<Vec<_>>()
        .join(", ");
    let mut evs: Vec<_> = won
        .iter()
        .map(|(_, a, l, kind)| {
            let ev = event(
                kind,
                ROTATE,
                &items[a.item],
                Some(&l.folder),
                Some(&a.reason),
            );
            (ev, l)
        })
        .collect();
    // The scan marks in the same MULTIAPPEND as these events: over these moves too,
    // written with them or not at all.
    let scan = attach
        .then(|| {
            let mut landed = out.landed.clone();
            landed.extend(
                won.iter()
                    .filter_map(|(_, _, l, _)| Some((l.folder.clone(), l.uid?))),
            );
            super::clients::scan(desk, &mut out.clients, &landed)
        })
        .flatten();
    let nowhere = Landed {
        folder: desk.paths.history.clone(),
        uid: None,
        keywords: Vec::new(),
    };
    if let Some(s) = &scan {
        evs.push((s.event(), &nowhere));
    }
    match desk.record_all(&evs) {
        Ok(()) => {
            out.clients.marked |= scan.is_some();
            for (_, a, l, _) in &won {
                if let Some(uid) = l.uid {
                    desk.moved(&items[a.item], &l.folder, uid);
                }
            }
            out.landed.extend(
                won.iter()
                    .filter_map(|(_, _, l, _)| Some((l.folder.clone(), l.uid?))),
            );
        }
        Err(e) => {
            let e = e.context(format!(
                "{} messages were moved to {to}, but their history events were not written (the next run writes them)",
                won.len()
            ));
            out.failed.push(format!("{e:#}"));
            failed.get_or_insert(e);
        }
    }
    let moved = won
        .into_iter()
        .map(|(k, a, l, kind)| (k, move_of(&items[a.item], a, kind, l.folder)))
        .collect();
    (moved, failed)
}

/// One message of a plan; the move, if it moved.
fn one(desk: &mut Desk<'_>, it: &Item, a: &Assignment, out: &mut Applied) -> Result<Option<Move>> {
    let (dest, kind) = dest_of(a);
    let taken = desk.take(it, &dest, Actor::Rotate).map_err(|e| {
        e.context(format!(
            "moving {} to {} failed part-way (the next run finishes it)",
            it.id,
            desk.paths.of(&dest)
        ))
    })?;
    match taken {
        Taken::Won(landed) => {
            let ev = event(kind, ROTATE, it, Some(&landed.folder), Some(&a.reason));
            desk.record(&ev, Some(&landed)).map_err(|e| {
                e.context(format!(
                    "{} was moved to {}, but its history event was not written (the next run writes it)",
                    it.id, landed.folder
                ))
            })?;
            if let Some(uid) = landed.uid {
                out.landed.push((landed.folder.clone(), uid));
            }
            Ok(Some(move_of(it, a, kind, landed.folder)))
        }
        Taken::Lost { .. } | Taken::Already => {
            out.left += 1;
            Ok(None)
        }
    }
}
