//! `archive`: old 完了 mail and history into per-year folders; a summary line or JSON.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::{ArchiveArgs, RotateFormat};
use crate::desk::archive::{self, Summary};

pub fn run(ctx: &Ctx, args: &ArchiveArgs, out: &mut dyn Write) -> Result<()> {
    let today = ctx.rules.calendar.local_date(chrono::Utc::now());
    let mut desk = ctx.open()?;
    let summary = archive::archive(&mut desk, today, args.dry_run)?;
    desk.close();
    match args.format {
        RotateFormat::Json => {
            crate::output::json(&mut *out, &summary)?;
            Ok(())
        }
        RotateFormat::Table => ctx.say(out, line(&summary)),
    }
}

fn line(s: &Summary) -> String {
    let what = archive::describe(s);
    let before = s
        .done
        .before
        .map(|d| format!(" (arrived before {d})"))
        .unwrap_or_default();
    if s.dry_run {
        format!("archive --dry-run: would move {what}{before}; nothing moved")
    } else {
        format!("archive: moved {what}{before}")
    }
}
