//! `list`: the queue, filtered, as a table or for scripts.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::Ctx;
use crate::cli::{ListArgs, StatusFilter};
use crate::output::{ListRow, print_list};
use crate::queue::{self, Scope, Status};

pub fn run(ctx: &Ctx, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let owner = match (&args.owner, args.mine) {
        (Some(o), _) => Some(ctx.rules.require_member(o)?.key.clone()),
        (None, true) => Some(ctx.me()?.key.clone()),
        _ => None,
    };
    let scope = Scope {
        active: args.status != StatusFilter::Done,
        done: matches!(args.status, StatusFilter::Done | StatusFilter::All),
    };
    let mut desk = ctx.open()?;
    let mut items = desk.queue(scope)?;
    desk.close();
    items.sort_by_key(|it| (it.status != Status::Unclaimed, it.arrived));
    let now = Utc::now();
    let rows = items
        .iter()
        .filter(|it| args.status.admits(it.status))
        .filter(|it| owner.is_none() || it.owner == owner)
        .map(|it| {
            let overdue = it.status == Status::Unclaimed && queue::overdue(&ctx.rules, it, now);
            ListRow::new(it, now, overdue)
        })
        .filter(|r| !args.overdue || r.overdue);
    print_list(rows, args.format, out)
}
