//! `rotate --apply` on the mailbox: finish what crashed runs left, file inbox mail
//! (threads and routes to their owners), then hand unclaimed mail to the duty. Every
//! move goes through `take`, so a member claiming a message while cron files it ends
//! with exactly one copy.

use anyhow::Result;
use serde::Serialize;

use super::rules::{Actor, ROTATE};
use super::{Assignment, Desk, Dest, Recovered, Taken, event};
use crate::queue::{Item, Scope};

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
}

/// After this many failures in a row the connection is taken to be gone.
const GIVE_UP: usize = 3;

/// `hand_out`: the members on duty to hand unclaimed mail to (empty: file only).
pub fn apply(desk: &mut Desk<'_>, hand_out: &[String]) -> Result<Applied> {
    let mut out = Applied::default();
    let mut items = desk.queue(Scope::ACTIVE)?;
    out.recovered = desk.recover(&mut items)?;
    let plan = desk.plan_intake(&items);
    out.left += items
        .iter()
        .filter(|i| i.folder == desk.paths.inbox && !i.claim_keywords.is_empty())
        .count();
    let filed = run(desk, &items, &plan, &mut out)?;
    if hand_out.is_empty() {
        return Ok(out);
    }
    if filed > 0 {
        items = desk.queue(Scope::ACTIVE)?;
    }
    let unclaimed = desk.paths.unclaimed.clone();
    if !desk.mb.keeps_keywords(&unclaimed)? {
        released_by_history(desk, &mut items)?;
    }
    let plan = desk.plan_hand_out(&items, hand_out);
    run(desk, &items, &plan, &mut out)?;
    Ok(out)
}

/// Where 未対応 keeps no keywords (Exchange), the released mark is lost: a message
/// whose last event is a release into 未対応 was given back by a person all the same.
fn released_by_history(desk: &mut Desk<'_>, items: &mut [Item]) -> Result<()> {
    let (unclaimed, history) = (desk.paths.unclaimed.clone(), desk.paths.history.clone());
    for it in items.iter_mut() {
        if it.folder != unclaimed || it.released {
            continue;
        }
        let events = crate::history::about(&mut desk.mb, &history, it)?;
        let last = events.iter().rev().find(|e| e.concerns(it));
        it.released = last.is_some_and(|e| {
            e.event == "release" && e.to_folder.as_deref() == Some(unclaimed.as_str())
        });
    }
    Ok(())
}

/// Carries out a plan; returns how many messages moved.
fn run(
    desk: &mut Desk<'_>,
    items: &[Item],
    plan: &[Assignment],
    out: &mut Applied,
) -> Result<usize> {
    let mut n = 0;
    let mut in_a_row = 0;
    for a in plan {
        let it = &items[a.item];
        match one(desk, it, a, out) {
            Ok(moved) => {
                in_a_row = 0;
                n += usize::from(moved);
            }
            Err(e) => {
                out.failed.push(format!("{}: {e:#}", it.id));
                in_a_row += 1;
                if in_a_row >= GIVE_UP {
                    return Err(e.context(format!(
                        "rotate --apply stopped after {} moves; the next run goes on",
                        out.moved.len()
                    )));
                }
            }
        }
    }
    Ok(n)
}

/// One message of a plan; whether it moved.
fn one(desk: &mut Desk<'_>, it: &Item, a: &Assignment, out: &mut Applied) -> Result<bool> {
    let (dest, kind) = match &a.owner {
        Some(o) => (Dest::Member(o.clone()), "assign"),
        None => (Dest::Unclaimed, "file"),
    };
    let taken = desk.take(it, &dest, Actor::Rotate).map_err(|e| {
        e.context(format!(
            "moving {} to {} failed part-way (the next run finishes it)",
            it.id,
            desk.paths.of(&dest)
        ))
    })?;
    {
        match taken {
            Taken::Won(landed) => {
                let ev = event(kind, ROTATE, it, Some(&landed.folder), Some(&a.reason));
                desk.record(&ev, Some(&landed)).map_err(|e| {
                    e.context(format!(
                        "{} was moved to {}, but its history event was not written (the next run writes it)",
                        it.id, landed.folder
                    ))
                })?;
                out.moved.push(Move {
                    id: it.id.clone(),
                    message_id: it.message_id.clone(),
                    from_folder: it.folder.clone(),
                    to_folder: landed.folder,
                    event: kind,
                    owner: a.owner.clone(),
                    reason: a.reason.clone(),
                    subject: it.subject.clone(),
                });
                Ok(true)
            }
            Taken::Lost { .. } | Taken::Already => {
                out.left += 1;
                Ok(false)
            }
        }
    }
}
