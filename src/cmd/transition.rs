//! `claim`, `release` and `done`: moving messages between the status folders.
//!
//! Claiming is arbitrated, because MOVE alone is not a lock: two sessions moving the
//! same message at the same instant can both succeed and leave two copies.
//!
//! 1. With CONDSTORE, a conditional STORE of the destination's keyword turns away
//!    almost every concurrent claimer (the loser's OK carries `[MODIFIED]`). It is not
//!    enough alone: Dovecot checks UNCHANGEDSINCE against each session's own view, so
//!    with 20 claimers held at the STORE two got through in 1 round of 2–4. A claimer
//!    whose STORE the server echoed with the MODSEQ right after the folder's highest
//!    was alone: it moves at once.
//! 2. A contended claimer (or any claimer on a server without CONDSTORE) gives an
//!    alone one time to move, then moves, waits for concurrent moves to land and
//!    looks for copies in the other members' folders; every client keeps the copy in
//!    the alphabetically first folder and deletes its own otherwise.
//! 3. Claimers bound for one folder set one keyword, so step 1 cannot tell them
//!    apart; each looks in its destination right after moving, and the copy with the
//!    lowest UID (the first to arrive) stays.
//!
//! The tests force the overlap with a relay and check that one copy survives, every
//! round.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;

use super::{Ctx, expand_ids};
use crate::error::{Error, config, exit_code};
use crate::history::{self, Event};
use crate::imap::{Mailbox, Moved, RELEASED_KEYWORD, Stored, claim_keyword, is_claim_keyword};
use crate::queue::{self, Item, Scope, Status};
use crate::rules::{Member, Rules};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
    Release,
    Done,
}

/// How long a claim keyword may stand before it counts as left by a crashed claimer.
const STALE_CLAIM: Duration = Duration::from_secs(2);
/// How long concurrent MOVEs need to land before duplicates are looked for.
pub(super) const SETTLE: Duration = Duration::from_millis(500);

pub fn run(
    ctx: &Ctx,
    action: Action,
    args: &[String],
    force: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let ids = expand_ids(args)?;
    if ids.is_empty() {
        return Err(config("no IDs given (on stdin either)"));
    }
    let me = ctx.me()?.clone();
    let mut mb = ctx.connect()?;
    let items = queue::load(
        &mut mb,
        &ctx.rules,
        Scope {
            active: true,
            done: false,
        },
    )?;
    let mut first_err: Option<anyhow::Error> = None;
    let mut handled = HashSet::new();
    for id in &ids {
        let res = queue::resolve(&items, id).and_then(|it| {
            if !handled.insert((it.folder.clone(), it.uid)) {
                return Ok(());
            }
            one(ctx, &mut mb, &items, action, it, &me, force, out)
        });
        if let Err(e) = res {
            if ids.len() == 1 {
                mb.logout();
                return Err(e);
            }
            for line in format!("{e:#}").lines() {
                eprintln!("mailduty: {id}: {line}");
            }
            first_err.get_or_insert(e);
        }
    }
    mb.logout();
    match first_err {
        None => Ok(()),
        Some(e) => Err(Error::Silent(exit_code(&e)).into()),
    }
}

fn one(
    ctx: &Ctx,
    mb: &mut Mailbox,
    items: &[Item],
    action: Action,
    it: &Item,
    me: &Member,
    force: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let rules = &ctx.rules;
    let mine = it.owner.as_deref() == Some(me.key.as_str());
    let held_by_other = it.status == Status::Claimed && !mine;
    let (verb, dest) = match action {
        Action::Claim => {
            if mine {
                return ctx.say(out, format!("{} is already yours", it.id));
            }
            if held_by_other {
                return Err(claimed_by(ctx, it, it.owner.as_deref()));
            }
            (
                "claimed",
                mb.child(&mb.path(&rules.folders.claimed), &me.key),
            )
        }
        Action::Release => {
            if it.status != Status::Claimed {
                return Err(Error::Conflict(format!("{} is not claimed by anyone", it.id)).into());
            }
            if held_by_other && !force {
                return Err(not_yours(ctx, it, "release"));
            }
            ("released", mb.path(&rules.folders.unclaimed))
        }
        Action::Done => {
            if held_by_other && !force {
                return Err(not_yours(ctx, it, "finish"));
            }
            ("done", mb.path(&rules.folders.done))
        }
    };

    let moved = if it.status == Status::Unclaimed {
        let keyword = claim_keyword(Some(&me.key));
        let mut won = take(mb, rules, items, it, &dest, &keyword)?;
        let inbox = mb.path(&rules.folders.inbox);
        if !won && it.folder == inbox {
            // `rotate --apply` may have just filed it into 未対応: follow it there once.
            if let Some(again) = refiled(mb, rules, it)? {
                won = take(mb, rules, items, &again, &dest, &keyword)?;
            }
        }
        won
    } else {
        if action == Action::Release {
            // A claim keyword left on a released message would make the next claimer
            // wait; the released keyword keeps `rotate --apply` from handing it out again.
            if !it.claim_keywords.is_empty() {
                mb.store(
                    &it.folder,
                    it.uid,
                    &format!("-FLAGS.SILENT ({})", it.claim_keywords.join(" ")),
                )?;
            }
            // A server without custom keywords (Exchange) keeps it for the session only.
            mb.store(
                &it.folder,
                it.uid,
                &format!("+FLAGS.SILENT ({RELEASED_KEYWORD})"),
            )?;
        }
        matches!(mb.move_uid(&it.folder, it.uid, &dest)?, Moved::To(_))
    };
    if !moved {
        let owner = find_owner(mb, ctx, it)?;
        return Err(claimed_by(ctx, it, owner.as_deref()));
    }
    let kind = match action {
        Action::Claim => "claim",
        Action::Release => "release",
        Action::Done => "done",
    };
    let ev = Event {
        kind,
        actor: &me.key,
        item: it,
        from_folder: &it.folder,
        to_folder: Some(&dest),
        note: None,
        at: Utc::now(),
    };
    if let Err(e) = history::record(mb, rules, &ev) {
        // The move itself succeeded; a missing history line must not read as a failure.
        eprintln!(
            "mailduty: warning: {} {verb}, but the history entry failed: {e:#}",
            it.id
        );
    }
    ctx.say(out, format!("{verb} {} → {}  {}", it.id, dest, it.subject))
}

fn not_yours(ctx: &Ctx, it: &Item, verb: &str) -> anyhow::Error {
    let owner = ctx.rules.owner_label(it.owner.as_deref().unwrap_or("?"));
    Error::Conflict(format!(
        "{} is claimed by {owner}, not you; add --force to {verb} it anyway",
        it.id
    ))
    .into()
}

fn claimed_by(ctx: &Ctx, it: &Item, owner: Option<&str>) -> anyhow::Error {
    match owner {
        Some(o) => Error::Conflict(format!(
            "{} is already claimed by {}",
            it.id,
            ctx.rules.owner_label(o)
        ))
        .into(),
        None => Error::Conflict(format!(
            "{} was moved by someone else a moment ago; run `mailduty list` again",
            it.id
        ))
        .into(),
    }
}

/// The copy of an inbox message that intake just moved to 未対応, if there is one.
fn refiled(mb: &mut Mailbox, rules: &Rules, it: &Item) -> Result<Option<Item>> {
    let Some(mid) = it.message_id.as_deref() else {
        return Ok(None);
    };
    let unclaimed = mb.path(&rules.folders.unclaimed);
    let uids = mb.search_message_id(&unclaimed, mid)?;
    Ok(match uids.as_slice() {
        [uid] => Some(Item {
            folder: unclaimed,
            uid: *uid,
            ..it.clone()
        }),
        _ => None,
    })
}

/// Moves an unclaimed message to `dest` if and only if this session wins it.
pub(super) fn take(
    mb: &mut Mailbox,
    rules: &Rules,
    items: &[Item],
    it: &Item,
    dest: &str,
    keyword: &str,
) -> Result<bool> {
    let alone = match arbitrate(mb, it, keyword)? {
        Arbiter::Lost => return Ok(false),
        Arbiter::Alone => true,
        Arbiter::Contended => {
            if mb.has("CONDSTORE") {
                // A session that was alone moves the message within one round trip of
                // its STORE; if it did, this one lost.
                std::thread::sleep(SETTLE);
                if mb.modseq_flags(&it.folder, it.uid)?.is_none() {
                    return Ok(false);
                }
            }
            false
        }
    };
    let Some(mid) = it.message_id.as_deref() else {
        // Without a Message-ID no copy can be found: the move is the claim.
        return Ok(matches!(
            mb.move_uid(&it.folder, it.uid, dest)?,
            Moved::To(_)
        ));
    };
    let claimed = mb.path(&rules.folders.claimed);
    let into_member = dest
        .strip_prefix(&claimed)
        .is_some_and(|rest| rest.starts_with(mb.separator()));
    let (moved, in_dest) = if into_member {
        mb.move_then_find(&it.folder, it.uid, dest, mid)?
    } else {
        // `done` straight into 完了: searching 完了 would cost as much as 完了 is large,
        // and a second copy there sends nobody to answer twice.
        (mb.move_uid(&it.folder, it.uid, dest)?, Vec::new())
    };
    let Moved::To(new_uid) = moved else {
        return Ok(false);
    };
    // Copies that were claimed before this command started are other messages.
    let before: HashSet<(&str, u32)> = items
        .iter()
        .filter(|o| o.hash == it.hash && o.status == Status::Claimed)
        .map(|o| (o.folder.as_str(), o.uid))
        .collect();
    // Claimers with one destination set one keyword (the member's), so neither saw
    // the other; their copies meet in that folder, where UIDs give the order of
    // arrival: the first copy stays, whenever each claimer looks.
    if let Some(mine) = new_uid
        && in_dest
            .iter()
            .any(|u| *u < mine && !before.contains(&(dest, *u)))
    {
        drop_copies(mb, dest, &[mine])?;
        return Ok(false);
    }
    if alone {
        return Ok(true);
    }
    settle(mb, rules, mid, &before, dest, new_uid)
}

/// Deletes this session's own copies, one UID each (never a plain EXPUNGE).
fn drop_copies(mb: &mut Mailbox, folder: &str, uids: &[u32]) -> Result<()> {
    for u in uids {
        mb.store(folder, *u, "+FLAGS.SILENT (\\Deleted)")?;
        mb.expunge_uid(folder, *u)?;
    }
    Ok(())
}

/// What the arbitrating STORE said about a claim.
pub(super) enum Arbiter {
    /// Someone else is taking the message.
    Lost,
    /// The claim keyword went in and nobody changed the message after it: no other
    /// session can be taking it, so the move needs no check for copies.
    Alone,
    /// Another session may be taking it at the same instant (or the server has no
    /// CONDSTORE): move, then resolve copies.
    Contended,
}

/// With CONDSTORE, the conditional STORE of the destination's claim keyword. Without
/// CONDSTORE everyone is contended and passes to the move.
///
/// Dovecot checks UNCHANGEDSINCE against the session's own view of the folder, so
/// two sessions can both pass when their STOREs meet; their changes are still
/// written one after the other. Alone means: the server echoed this STORE as a
/// change (a STORE of a keyword already set is a no-op without echo), with the
/// MODSEQ right after the folder's highest when this session opened it (nobody
/// wrote anything in the folder in between), and no other change came in.
pub(super) fn arbitrate(mb: &mut Mailbox, it: &Item, keyword: &str) -> Result<Arbiter> {
    if !mb.has("CONDSTORE") {
        return Ok(Arbiter::Contended);
    }
    let Some((mut modseq, flags)) = mb.select_modseq_flags(&it.folder, it.uid)? else {
        return Ok(Arbiter::Lost);
    };
    if flags.iter().any(|f| is_claim_keyword(f)) {
        // Another claim is under way (it finishes in milliseconds) or crashed
        // before moving; only an untouched message after the wait is stale.
        std::thread::sleep(STALE_CLAIM);
        match mb.modseq_flags(&it.folder, it.uid)? {
            Some((again, _)) if again == modseq => modseq = again,
            _ => return Ok(Arbiter::Lost),
        }
    }
    let r = mb.store_if_unchanged(&it.folder, it.uid, modseq, keyword)?;
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

/// After a move that may have raced another: wait for concurrent moves to land, find
/// the copies, and keep only the one in the alphabetically first member folder;
/// every claimer applies the same rule, so exactly one copy stays.
fn settle(
    mb: &mut Mailbox,
    rules: &Rules,
    mid: &str,
    before: &HashSet<(&str, u32)>,
    dest: &str,
    new_uid: Option<u32>,
) -> Result<bool> {
    std::thread::sleep(SETTLE);
    let folders: Vec<String> = member_folders(mb, rules)?
        .into_iter()
        .filter(|f| f != dest)
        .collect();
    let found = mb.search_message_id_each(&folders, mid)?;
    let earlier = folders.iter().zip(&found).any(|(folder, uids)| {
        folder.as_str() < dest
            && uids
                .iter()
                .any(|u| !before.contains(&(folder.as_str(), *u)))
    });
    if !earlier {
        return Ok(true);
    }
    let uids: Vec<u32> = match new_uid {
        Some(u) => vec![u],
        None => mb
            .search_message_id(dest, mid)?
            .into_iter()
            .filter(|u| !before.contains(&(dest, *u)))
            .collect(),
    };
    drop_copies(mb, dest, &uids)?;
    Ok(false)
}

pub(super) fn member_folders(mb: &mut Mailbox, rules: &Rules) -> Result<Vec<String>> {
    let claimed = mb.path(&rules.folders.claimed);
    mb.children(&claimed)
}

/// Who holds a message another session just took. The winner may still be moving
/// it, so look a few times.
fn find_owner(mb: &mut Mailbox, ctx: &Ctx, it: &Item) -> Result<Option<String>> {
    let Some(mid) = it.message_id.as_deref() else {
        return Ok(None);
    };
    let claimed = mb.path(&ctx.rules.folders.claimed);
    let prefix = format!("{claimed}{}", mb.separator());
    for _ in 0..5 {
        let folders = member_folders(mb, &ctx.rules)?;
        let found = mb.search_message_id_each(&folders, mid)?;
        if let Some((folder, _)) = folders.iter().zip(&found).find(|(_, u)| !u.is_empty()) {
            return Ok(folder.strip_prefix(&prefix).map(str::to_string));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(None)
}
