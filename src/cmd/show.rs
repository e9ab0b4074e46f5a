//! `show`: one message with its status, owner and history, never marked read.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;
use mail_parser::{Address, MessageParser};
use serde::Serialize;

use super::Ctx;
use crate::cli::{RotateFormat, ShowArgs};
use crate::desk::history::Stored;
use crate::output::{age, line, text};

#[derive(Serialize)]
struct ShowView {
    id: String,
    message_id: Option<String>,
    status: String,
    owner: Option<String>,
    folder: String,
    arrived: chrono::DateTime<Utc>,
    seen: bool,
    from: String,
    to: String,
    cc: String,
    date: Option<String>,
    subject: String,
    /// The text part, or the HTML part rendered to text.
    body: String,
    history: Vec<Stored>,
}

fn addresses(a: Option<&Address<'_>>) -> String {
    a.map(|a| {
        a.iter()
            .map(|x| match (x.name.as_deref(), x.address.as_deref()) {
                (Some(n), Some(e)) => format!("{n} <{e}>"),
                (None, Some(e)) => e.to_string(),
                (Some(n), None) => n.to_string(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}

pub fn run(ctx: &Ctx, args: &ShowArgs, out: &mut dyn Write) -> Result<()> {
    let mut desk = ctx.open()?;
    let it = desk.find_in(&args.id, args.all)?;
    let raw = desk.body(&it)?.ok_or_else(|| {
        crate::error::Error::Conflict(format!(
            "{} was moved a moment ago; run `mailduty show {}` again",
            it.id, it.id
        ))
    })?;
    let events: Vec<Stored> = desk
        .events_in(&it, args.all)?
        .into_iter()
        .filter(|e| e.concerns(&it))
        .collect();
    desk.close();
    let msg = MessageParser::default().parse(&raw);
    let (from, to, cc, date, body) = match &msg {
        Some(m) => (
            addresses(m.from()),
            addresses(m.to()),
            addresses(m.cc()),
            m.date().filter(|d| d.is_valid()).map(|d| d.to_rfc3339()),
            m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
        ),
        None => (
            it.from.clone(),
            String::new(),
            String::new(),
            None,
            String::new(),
        ),
    };
    let view = ShowView {
        id: it.id.clone(),
        message_id: it.message_id.clone(),
        status: it.status.as_str().to_string(),
        owner: it.owner.clone(),
        folder: it.folder.clone(),
        arrived: it.arrived,
        seen: it.seen,
        from,
        to,
        cc,
        date,
        subject: it.subject.clone(),
        body,
        history: events,
    };
    if args.format == RotateFormat::Json {
        crate::output::json(&mut *out, &view)?;
        return Ok(());
    }
    let tz = ctx.rules.timezone;
    let local =
        |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let status = match &view.owner {
        Some(o) => format!("{} by {}", view.status, ctx.rules.owner_label(o)),
        None => view.status.clone(),
    };
    let mut head = vec![
        ("ID", view.id.clone()),
        ("Status", format!("{status}  (folder {})", view.folder)),
        (
            "Arrived",
            format!(
                "{}  ({} ago)",
                local(view.arrived),
                age((Utc::now() - view.arrived).num_seconds())
            ),
        ),
        ("From", view.from.clone()),
        ("To", view.to.clone()),
    ];
    if !view.cc.is_empty() {
        head.push(("Cc", view.cc.clone()));
    }
    if let Some(d) = &view.date {
        head.push(("Date", d.clone()));
    }
    head.push(("Subject", view.subject.clone()));
    if let Some(m) = &view.message_id {
        head.push(("Message-ID", format!("<{m}>")));
    }
    // Header values on one line each, whatever line breaks an encoded word hid; the
    // body keeps its lines and tabs. Anything else a terminal would act on is shown
    // as an escape (output::line, output::text).
    for (k, v) in head {
        writeln!(out, "{:<11} {}", format!("{k}:"), line(&v))?;
    }
    writeln!(out)?;
    for l in text(view.body.trim_end()).lines() {
        writeln!(out, "{}", l.trim_end())?;
    }
    writeln!(out)?;
    if view.history.is_empty() {
        writeln!(out, "History: none")?;
    } else {
        writeln!(out, "History:")?;
        for e in &view.history {
            writeln!(out, "  {}", super::history::line(e, &ctx.rules))?;
        }
    }
    Ok(())
}
