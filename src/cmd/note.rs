//! `note`: an internal note (申し送り) on a message, stored as a history event.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::NoteArgs;
use crate::desk::event;
use crate::desk::history::Event;
use crate::error::config;

pub fn run(ctx: &Ctx, args: &NoteArgs, out: &mut dyn Write) -> Result<()> {
    let text = args.text.trim();
    if text.is_empty() {
        return Err(config(
            "the note is empty; give the text as the second argument",
        ));
    }
    let me = ctx.me()?.clone();
    let mut desk = ctx.open()?;
    let it = desk.find(&args.id)?;
    let now = chrono::Utc::now();
    // The same note on the same message by the same member on the same day has one
    // Message-ID, so a retry after a cut connection finds it instead of saving it twice.
    let own_id =
        crate::desk::history::note_id(&me.key, &it, text, ctx.rules.calendar.local_date(now));
    if desk.has_event(&own_id)? {
        desk.close();
        return ctx.say(
            out,
            format!("{} already has this note from you today", it.id),
        );
    }
    let ev = Event {
        message_id: Some(own_id),
        ..event("note", &me.key, &it, None, Some(text))
    };
    desk.record(&ev, None)?;
    desk.close();
    ctx.say(out, format!("noted {}  {}", it.id, it.subject))
}
