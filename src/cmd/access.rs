//! `access`: who may do what in the shared mailbox, and what `init` would change.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::AccessArgs;
use crate::desk::Change;
use crate::output;
use crate::rules::personal::Session;

/// One change as a line: what `init` did, or (`would`) would do.
pub fn describe(c: &Change, would: bool) -> String {
    let verb = match (&c.want, would) {
        (Some(_), true) => "would grant",
        (Some(_), false) => "granted",
        (None, true) => "would revoke",
        (None, false) => "revoked",
    };
    match &c.want {
        Some(r) => format!("{verb} {} {r} on {} (now {:?})", c.login, c.folder, c.now),
        None => format!("{verb} {}'s {:?} on {}", c.login, c.now, c.folder),
    }
}

pub fn run(ctx: &Ctx, a: &AccessArgs, out: &mut dyn Write) -> Result<()> {
    let mut desk = ctx.open()?;
    if let Session::Person { login, .. } = &ctx.session {
        let mine = desk.my_rights()?;
        desk.close();
        if a.json {
            return output::json(out, &mine);
        }
        for (folder, rights) in mine {
            let shown = if rights.is_empty() {
                "(none)"
            } else {
                rights.as_str()
            };
            ctx.say(out, format!("{login}  {folder}  {shown}"))?;
        }
        return Ok(());
    }
    let plan = desk.access_plan()?;
    desk.close();
    if a.json {
        return output::json(out, &plan);
    }
    for l in &plan.logins {
        let per: Vec<String> = plan
            .folders
            .iter()
            .zip(&l.rights)
            .map(|(f, r)| format!("{f}={}", if r.is_empty() { "-" } else { r }))
            .collect();
        ctx.say(out, format!("{} ({}): {}", l.login, l.role, per.join(" ")))?;
    }
    for c in &plan.changes {
        ctx.say(out, describe(c, true))?;
    }
    if plan.changes.is_empty() {
        ctx.say(
            out,
            "nothing to change: the server grants what the rules say",
        )?;
    }
    Ok(())
}
