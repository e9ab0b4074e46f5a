//! `note`: an internal note (申し送り) on a message, stored as a history event.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::{Ctx, find_item};
use crate::cli::NoteArgs;
use crate::error::config;
use crate::history::{self, Event};

pub fn run(ctx: &Ctx, args: &NoteArgs, out: &mut dyn Write) -> Result<()> {
    let text = args.text.trim();
    if text.is_empty() {
        return Err(config(
            "the note is empty; give the text as the second argument",
        ));
    }
    let me = ctx.me()?.clone();
    let mut mb = ctx.connect()?;
    let it = find_item(&mut mb, &ctx.rules, &args.id)?;
    let ev = Event {
        kind: "note",
        actor: &me.key,
        item: &it,
        from_folder: &it.folder,
        to_folder: None,
        note: Some(text),
        at: Utc::now(),
    };
    history::record(&mut mb, &ctx.rules, &ev)?;
    mb.logout();
    ctx.say(out, format!("noted {}  {}", it.id, it.subject))
}
