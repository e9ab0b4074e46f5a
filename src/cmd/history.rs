//! `history`: events from the history folder, for one message or since a date.

use std::io::Write;

use anyhow::Result;
use chrono::{TimeZone, Utc};

use super::Ctx;
use crate::cli::{HistoryArgs, RotateFormat};
use crate::desk::history::Stored;
use crate::error::config;
use crate::rules::Rules;

pub fn run(ctx: &Ctx, args: &HistoryArgs, out: &mut dyn Write) -> Result<()> {
    let rules = &ctx.rules;
    if let Some(a) = &args.actor
        && a != "rotate"
    {
        rules.require_member(a)?;
    }
    let since = match args.since {
        Some(d) => Some(
            rules
                .timezone
                .from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
                .earliest()
                .ok_or_else(|| config(format!("{d} has no midnight in {}", rules.timezone)))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let mut desk = ctx.open()?;
    let mut events = match &args.id {
        Some(id) => {
            let it = desk.find_in(id, args.all)?;
            let evs = desk.events_in(&it, args.all)?;
            evs.into_iter().filter(|e| e.concerns(&it)).collect()
        }
        None => desk.events_since_in(since.expect("clap requires ID or --since"), args.all)?,
    };
    desk.close();
    if let Some(s) = since {
        events.retain(|e| e.time >= s);
    }
    if let Some(a) = &args.actor {
        events.retain(|e| &e.actor == a);
    }
    match args.format {
        RotateFormat::Json => {
            crate::output::json(&mut *out, &events)?;
        }
        RotateFormat::Table => {
            // A scan mark is the mail-client step's bookmark, not something a person did.
            events.retain(|e| e.event != "scan");
            if events.is_empty() {
                writeln!(out, "no events")?;
            }
            for e in &events {
                writeln!(out, "{}", line(e, rules))?;
            }
        }
    }
    Ok(())
}

/// One event as a line: local time, event, actor, ID, the move or the note.
pub fn line(e: &Stored, rules: &Rules) -> String {
    let when = e
        .time
        .with_timezone(&rules.timezone)
        .format("%Y-%m-%d %H:%M");
    let what = match (&e.from_folder, &e.to_folder) {
        (Some(f), Some(t)) => format!("{f} → {t}"),
        (Some(f), None) => f.clone(),
        _ => String::new(),
    };
    let mut s = format!("{when}  {:<7} {:<8} {:<10} {what}", e.event, e.actor, e.id);
    if let Some(n) = &e.note {
        s.push_str(&format!("  「{}」", n.replace(['\r', '\n'], " ")));
    }
    if e.event != "note"
        && let Some(subj) = &e.subject
    {
        s.push_str(&format!("  {subj}"));
    }
    crate::output::line(s.trim_end()).into_owned()
}
