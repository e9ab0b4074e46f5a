//! `list`: the queue, filtered, as a table or for scripts.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Ctx;
use crate::cli::{ListArgs, StatusFilter};
use crate::desk::clients::{DOUBLE_REPLY, REPLY};
use crate::desk::queue::{self, Item, Scope, Status};
use crate::output::{ListRow, ReplyView, print_list};

pub fn run(ctx: &Ctx, args: &ListArgs, out: &mut dyn Write) -> Result<()> {
    let owner = match (&args.owner, args.mine) {
        (Some(o), _) => Some(ctx.rules.require_member(o)?.key.clone()),
        (None, true) => Some(ctx.me()?.key.clone()),
        _ => None,
    };
    let scope = Scope {
        active: !matches!(args.status, StatusFilter::Done | StatusFilter::Dismissed),
        done: matches!(args.status, StatusFilter::Done | StatusFilter::All),
        dismissed: matches!(args.status, StatusFilter::Dismissed | StatusFilter::All),
    };
    let mut desk = ctx.open()?;
    let mut items = desk.queue(scope)?;
    // Only answered messages have replies to show: nothing more is read without one.
    let replies = desk.replies_of(&items)?;
    desk.close();
    items.sort_by_key(|it| (it.status != Status::Unclaimed, it.arrived));
    let now = Utc::now();
    let rows = items
        .iter()
        .filter(|it| args.status.admits(it.status))
        .filter(|it| owner.is_none() || it.owner == owner)
        .map(|it| {
            let overdue = it.status == Status::Unclaimed && queue::overdue(&ctx.rules, it, now);
            let mut row = row(it, now, overdue);
            if let Some(evs) = it
                .message_id
                .as_deref()
                .and_then(|m| replies.get(m.trim_matches(['<', '>'])))
            {
                let evs: Vec<_> = evs.iter().filter(|e| e.concerns(it)).collect();
                row.double_reply = evs.iter().any(|e| e.event == DOUBLE_REPLY);
                row.replies = evs
                    .iter()
                    .filter(|e| e.event == REPLY)
                    .map(|e| ReplyView {
                        at: e.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        replier: e.actor.clone(),
                        message_id: e.note.clone().filter(|n| n.starts_with('<')),
                    })
                    .collect();
                row.replied |= !row.replies.is_empty();
            }
            row
        })
        .filter(|r| !args.overdue || r.overdue)
        .filter(|r| !args.double || r.double_reply);
    print_list(rows, args.format, out)
}

/// The view of one queue item; replies are filled in by the caller.
fn row(it: &Item, now: DateTime<Utc>, overdue: bool) -> ListRow<'_> {
    ListRow {
        id: &it.id,
        message_id: it.message_id.as_deref(),
        status: it.status.as_str(),
        owner: it.owner.as_deref(),
        folder: &it.folder,
        arrived: it
            .arrived
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        age_seconds: (now - it.arrived).num_seconds().max(0),
        overdue,
        from: &it.from,
        from_name: it.from_name.as_deref(),
        subject: &it.subject,
        seen: it.seen,
        replied: it.answered,
        replies: Vec::new(),
        double_reply: false,
        held_until: it
            .held_until
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        reason: it.reason.as_deref(),
    }
}
