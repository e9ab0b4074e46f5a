//! `hold` and `dismiss`: each ID through the desk's `hold` module, one line each.

use std::io::Write;

use anyhow::Result;

use super::{Ctx, expand_ids};
use crate::desk::hold::{self, Done};
use crate::error::config;

/// Which of the two.
pub enum Kind {
    Hold { until: Option<String> },
    Dismiss,
}

pub fn run(
    ctx: &Ctx,
    kind: &Kind,
    args: &[String],
    note: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let ids = expand_ids(args)?;
    if ids.is_empty() {
        return Err(config("no IDs given (on stdin either)"));
    }
    // A bad --until is a usage error, found before the server is contacted.
    let until = match kind {
        Kind::Hold { until: Some(w) } => Some(
            hold::parse_until(w, &ctx.rules.calendar, ctx.now()?)
                .map_err(|e| config(format!("--until: {e}")))?,
        ),
        _ => None,
    };
    let me = ctx.me()?.clone();
    let mut desk = ctx.open()?;
    let mut worst: Option<anyhow::Error> = None;
    for id in &ids {
        let res = desk.find(id).and_then(|it| {
            let done = match kind {
                Kind::Hold { .. } => hold::hold(&mut desk, &it, &me, until, note)?,
                Kind::Dismiss => hold::dismiss(&mut desk, &it, &me, note)?,
            };
            let line = match (done, kind) {
                (Done::Moved { to }, Kind::Hold { .. }) => {
                    let when = until
                        .map(|u| {
                            format!(
                                " until {}",
                                u.with_timezone(&ctx.rules.timezone)
                                    .format("%Y-%m-%d %H:%M")
                            )
                        })
                        .unwrap_or_default();
                    format!("held {} → {to}{when}  {}", it.id, it.subject)
                }
                (Done::Moved { to }, Kind::Dismiss) => {
                    format!("dismissed {} → {to}  {}", it.id, it.subject)
                }
                (Done::Updated, _) => {
                    format!("{} is held; the new --until/--note is recorded", it.id)
                }
                (Done::Already, Kind::Hold { .. }) => format!("{} is already held", it.id),
                (Done::Already, Kind::Dismiss) => format!("{} is already dismissed", it.id),
            };
            ctx.say(out, line)
        });
        if let Err(e) = res {
            if ids.len() == 1 || crate::error::is_stdout_closed(&e) {
                super::notify_after(ctx, &mut desk);
                desk.close();
                return Err(e);
            }
            super::keep_worst(&mut worst, id, e);
        }
    }
    super::notify_after(ctx, &mut desk);
    desk.close();
    super::worst_of(worst)
}
