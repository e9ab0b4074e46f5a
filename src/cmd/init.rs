//! `init`: the status folders, created where missing; safe to run again.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;

use super::Ctx;

pub fn run(ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let mut mb = ctx.connect()?;
    let f = &ctx.rules.folders;
    let existing: BTreeSet<String> = mb.list("*")?.into_iter().map(|fi| fi.name).collect();
    let claimed = mb.path(&f.claimed);
    let mut wanted = vec![mb.path(&f.unclaimed), claimed.clone()];
    wanted.extend(ctx.rules.members.iter().map(|m| mb.child(&claimed, &m.key)));
    wanted.push(mb.path(&f.done));
    wanted.push(mb.path(&f.history));
    let mut created = 0;
    for name in &wanted {
        if existing.contains(name) {
            continue;
        }
        mb.create(name)?;
        created += 1;
        ctx.say(out, format!("created {name}"))?;
    }
    if created == 0 {
        ctx.say(
            out,
            format!("all {} folders exist; nothing to do", wanted.len()),
        )?;
    }
    let yes = |b: bool| if b { "yes" } else { "no" };
    ctx.say(
        out,
        format!(
            "server {}: separator {:?}; MOVE {}, UIDPLUS {}, CONDSTORE {}",
            mb.host(),
            mb.separator(),
            yes(mb.has("MOVE")),
            yes(mb.has("UIDPLUS")),
            yes(mb.has("CONDSTORE"))
        ),
    )?;
    if !mb.has("CONDSTORE") {
        ctx.say(
            out,
            "without CONDSTORE, claims are checked for duplicates after moving",
        )?;
    }
    if !mb.has("MOVE") && !mb.has("UIDPLUS") {
        eprintln!(
            "mailduty: warning: the server has neither MOVE nor UIDPLUS; claim, release and done will refuse to run"
        );
    }
    mb.logout();
    Ok(())
}
