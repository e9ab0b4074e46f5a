//! `claim`, `release` and `done`: each ID through the desk's `act`, one line each.

use std::collections::HashSet;
use std::io::Write;

use anyhow::Result;

use super::{Ctx, expand_ids};
use crate::desk::queue::Scope;
use crate::desk::{Action, Outcome, act};
use crate::error::{config, exit_code};

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
    let mut desk = ctx.open()?;
    // One ID: the desk reads only what resolving it needs. Several: the queue once.
    let mut items = if ids.len() == 1 {
        Vec::new()
    } else {
        desk.queue(Scope::ACTIVE)?
    };
    let mut first_err: Option<anyhow::Error> = None;
    let mut handled = HashSet::new();
    for id in &ids {
        if ids.len() == 1 {
            let found = match action {
                Action::Done => desk.find(id),
                _ => desk.find_active(id),
            };
            let res = found.and_then(|it| one(ctx, &mut desk, &it, action, &me, force, out));
            if res.is_ok() {
                super::notify_after(ctx, &mut desk);
            }
            desk.close();
            return res;
        }
        let mut found = desk.resolve(&mut items, id);
        if action == Action::Done
            && found
                .as_ref()
                .is_err_and(|e| exit_code(e) == crate::error::NOT_FOUND)
        {
            // A retried `done` finds its message in 完了 (read only on this path).
            items = desk.queue(Scope::ALL)?;
            found = desk.resolve(&mut items, id);
        }
        let res = found.and_then(|it| {
            if !handled.insert((it.folder.clone(), it.uid)) {
                return Ok(());
            }
            one(ctx, &mut desk, &it, action, &me, force, out)
        });
        if let Err(e) = res {
            if ids.len() == 1 || crate::error::is_stdout_closed(&e) {
                desk.close();
                return Err(e);
            }
            super::keep_worst(&mut first_err, id, e);
        }
    }
    super::notify_after(ctx, &mut desk);
    desk.close();
    super::worst_of(first_err)
}

/// One message's transition, and its line.
fn one(
    ctx: &Ctx,
    desk: &mut crate::desk::Desk<'_>,
    it: &crate::desk::queue::Item,
    action: Action,
    me: &crate::rules::Member,
    force: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let line = match act(desk, it, action, me, force)? {
        Outcome::Moved { to } => format!("{} {} → {}  {}", past(action), it.id, to, it.subject),
        Outcome::Already(what) => format!("{} {what}", it.id),
    };
    ctx.say(out, line)
}

fn past(action: Action) -> &'static str {
    match action {
        Action::Claim => "claimed",
        Action::Release => "released",
        Action::Done => "done",
    }
}
