//! A person's transitions, `claim`, `release` and `done`: who may do what, the move
//! through `take`, its event, and the answer for a retry whose effect is already
//! there (a run cut after the move said nothing; the retry says "already" and writes
//! the event the cut run could not).

use anyhow::Result;

use super::rules::Actor;
use super::{Desk, Dest, Taken, event};
use crate::desk::queue::{self, Item, Status};
use crate::error::Error;
use crate::imap::Key;
use crate::rules::Member;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
    Release,
    Done,
}

impl Action {
    pub fn kind(self) -> &'static str {
        match self {
            Action::Claim => "claim",
            Action::Release => "release",
            Action::Done => "done",
        }
    }
}

/// What a transition did.
#[derive(Debug)]
pub enum Outcome {
    Moved {
        to: String,
    },
    /// Nothing to do: it already is where the action puts it.
    Already(&'static str),
}

pub fn act(
    desk: &mut Desk<'_>,
    it: &Item,
    action: Action,
    me: &Member,
    force: bool,
) -> Result<Outcome> {
    let mine = it.owner.as_deref() == Some(me.key.as_str());
    // Held mail keeps its owner: claiming or releasing it is the owner's, like a claim.
    let owned = matches!(it.status, Status::Claimed | Status::Held);
    let held_by_other = owned && !mine && it.owner.is_some();
    let dest = match action {
        Action::Claim => {
            if mine && it.status == Status::Claimed {
                already(desk, it, "claim", &me.key)?;
                return Ok(Outcome::Already("is already yours"));
            }
            if held_by_other {
                return Err(claimed_by(desk, it, it.owner.as_deref()));
            }
            Dest::Member(me.key.clone())
        }
        Action::Release => {
            if it.status == Status::Unclaimed && it.released {
                already(desk, it, "release", &me.key)?;
                return Ok(Outcome::Already("is already released"));
            }
            if !owned {
                return Err(Error::Conflict(format!("{} is not claimed by anyone", it.id)).into());
            }
            if held_by_other && !force {
                return Err(not_yours(desk, it, "release"));
            }
            Dest::Unclaimed
        }
        Action::Done => {
            if it.status == Status::Done {
                already(desk, it, "done", &me.key)?;
                return Ok(Outcome::Already("is already done"));
            }
            if held_by_other && !force {
                return Err(not_yours(desk, it, "finish"));
            }
            Dest::Done
        }
    };
    let actor = Actor::Member(&me.key);
    let to = desk.paths.of(&dest);
    let part_way = |e: anyhow::Error| {
        e.context(format!(
            "moving {} to {to} failed part-way; `mailduty list` shows where it is",
            it.id
        ))
    };
    let mut taken = desk.take(it, &dest, actor).map_err(part_way)?;
    let mut from = it.clone();
    if matches!(taken, Taken::Lost { owner: None }) && it.folder == desk.paths.inbox {
        // `rotate --apply` may have just filed it into 未対応: follow it there once.
        if let Some(again) = refiled(desk, it)? {
            taken = desk.take(&again, &dest, actor).map_err(part_way)?;
            from = again;
        }
    }
    match taken {
        Taken::Won(landed) => {
            let to = landed.folder.clone();
            let ev = event(action.kind(), &me.key, &from, Some(&to), None);
            desk.record(&ev, Some(&landed)).map_err(|e| {
                e.context(format!(
                    "{} was moved to {to}, but its history event was not written (the next `mailduty rotate --apply` writes it)",
                    it.id
                ))
            })?;
            Ok(Outcome::Moved { to })
        }
        Taken::Already => Ok(Outcome::Already("is already there")),
        Taken::Lost { owner } => Err(claimed_by(desk, it, owner.as_deref())),
    }
}

/// A retry whose move is already done: the event the cut run could not write, and
/// the keyword it left.
fn already(desk: &mut Desk<'_>, it: &Item, kind: &str, me: &str) -> Result<()> {
    desk.complete_history(it, kind, me)?;
    desk.mb.store(
        &it.folder,
        &[it.uid],
        crate::imap::Flags::Remove(&it.claim_keywords),
    )
}

/// The copy of an inbox message that intake just moved to 未対応: same size and
/// arrival, not there when this command read the queue.
fn refiled(desk: &mut Desk<'_>, it: &Item) -> Result<Option<Item>> {
    let unclaimed = desk.paths.unclaimed.clone();
    let mut keys = vec![Key::Size(it.size)];
    if let Some(mid) = &it.message_id {
        keys.push(Key::MessageId(mid.clone()));
    }
    let fresh: Vec<u32> = desk
        .mb
        .search(&unclaimed, &keys)?
        .into_iter()
        .filter(|u| !desk.known.contains(&(unclaimed.clone(), *u)))
        .collect();
    // Following, not removing: the queue's own fields (size, arrival, flags) suffice.
    let same: Vec<Item> =
        queue::load_uids(&mut desk.mb, desk.rules, &desk.paths, &unclaimed, &fresh)?
            .into_iter()
            .filter(|c| c.size == it.size && c.arrived == it.arrived)
            .collect();
    Ok(match same.as_slice() {
        [c] => Some(Item {
            folder: c.folder.clone(),
            uid: c.uid,
            claim_keywords: c.claim_keywords.clone(),
            modseq: c.modseq,
            ..it.clone()
        }),
        _ => None,
    })
}

fn not_yours(desk: &Desk<'_>, it: &Item, verb: &str) -> anyhow::Error {
    let owner = desk.rules.owner_label(it.owner.as_deref().unwrap_or("?"));
    Error::Conflict(format!(
        "{} is claimed by {owner}, not you; add --force to {verb} it anyway",
        it.id
    ))
    .into()
}

fn claimed_by(desk: &Desk<'_>, it: &Item, owner: Option<&str>) -> anyhow::Error {
    match owner {
        Some(o) => Error::Conflict(format!(
            "{} is already claimed by {}",
            it.id,
            desk.rules.owner_label(o)
        ))
        .into(),
        None => Error::Conflict(format!(
            "{} was moved by someone else a moment ago; run `mailduty list` again",
            it.id
        ))
        .into(),
    }
}
