//! `report`: the digest printed, or mailed once a day with `--send`.
//!
//! The once-a-day marker is a `digest` event in the history folder, written only after
//! the mail was accepted, so a failed send is retried by the next run and a second
//! machine running the same cron line sends nothing.

use std::io::Write;

use anyhow::Result;
use chrono::Utc;

use super::Ctx;
use crate::cli::{ReportArgs, RotateFormat};
use crate::desk::history::Event;
use crate::desk::queue::{Item, Scope, Status};
use crate::digest;
use crate::mail::{SentHere, compose, plan, send};

/// The history's actor when the sender is not a member (cron under a service account).
const ACTOR: &str = "report";

pub fn run(ctx: &Ctx, args: &ReportArgs, out: &mut dyn Write) -> Result<()> {
    let rules = &ctx.rules;
    let now = Utc::now();
    let today = rules.calendar.local_date(now);
    let duty = rules.roster.duty(&rules.calendar, today);
    // Settle what the mail needs before touching the server.
    let plan = if args.send {
        Some(plan(rules, &duty.on_duty)?)
    } else {
        None
    };

    let mut desk = ctx.open()?;
    let items = desk.queue(Scope::ACTIVE)?;
    let mut events = desk.events_since(now - chrono::Duration::days(8))?;
    let mut claimed_at = digest::claim_times(&events);
    // Claims older than the window: one search over the stretch they can lie in.
    let window = now - chrono::Duration::days(8);
    let older: Vec<&Item> = items
        .iter()
        .filter(|i| i.status == Status::Claimed)
        .filter(|i| {
            i.message_id
                .as_deref()
                .is_some_and(|m| !claimed_at.contains_key(m.trim_matches(['<', '>'])))
        })
        .collect();
    if !older.is_empty() {
        let evs = desk.claims_before(&older, window)?;
        for (mid, t) in digest::claim_times(&evs) {
            claimed_at.entry(mid).or_insert(t);
        }
        events.extend(evs);
    }
    let mut report = digest::build(rules, &duty, &items, &events, &claimed_at, now);
    report.quota = desk.quota()?;
    report.folder_sizes = desk.folder_sizes()?.into_iter().collect();

    let Some(plan) = plan else {
        desk.close();
        match args.format {
            RotateFormat::Json => {
                crate::output::json(&mut *out, &report)?;
            }
            RotateFormat::Table => write!(
                out,
                "{}",
                crate::output::text(&digest::text(&report, rules))
            )?,
        }
        return Ok(());
    };

    let marker_id = format!("digest-{today}");
    if !args.force {
        if let Some(h) = &duty.holiday
            && duty.on_duty.is_empty()
        {
            desk.close();
            return ctx.say(
                out,
                format!("{today} is a holiday ({h}): no digest sent (--force sends one)"),
            );
        }
        if !duty.business_day && duty.on_duty.is_empty() {
            desk.close();
            return ctx.say(
                out,
                format!("{today} is not a business day: no digest sent (--force sends one)"),
            );
        }
        if let Some(m) = desk.marker("digest", &marker_id)? {
            desk.close();
            let at = m.time.with_timezone(&rules.timezone).format("%H:%M");
            return ctx.say(
                out,
                format!(
                    "the digest for {today} was already sent at {at} by {}: nothing sent (--force sends another)",
                    m.actor
                ),
            );
        }
        if report.overdue.is_empty()
            && report.stale.is_empty()
            && report.double_replies.is_empty()
            && !rules.digest.send_when_empty
        {
            desk.close();
            return ctx.say(
                out,
                "nothing overdue: no digest sent (set digest.send_when_empty: true to send one anyway)",
            );
        }
    }

    let sent_here = SentHere::new(rules, &marker_id);
    let message = compose(rules, &report, &plan)?;
    match sent_here.as_ref().and_then(SentHere::read) {
        // This machine sent it, then lost the connection before the marker went in.
        Some(at) if !args.force => ctx.say(
            out,
            format!("the digest for {today} was already sent at {at} from this machine; writing its marker, nothing sent"),
        )?,
        _ => {
            send(rules, &plan, &message)?;
            if let Some(s) = &sent_here {
                s.write(now);
            }
        }
    }

    let actor = ctx
        .me()
        .map(|m| m.key.clone())
        .unwrap_or_else(|_| ACTOR.into());
    let marker = Item {
        id: marker_id,
        subject: digest::subject(&report),
        folder: desk.paths.inbox.clone(),
        arrived: now,
        ..Item::default()
    };
    let note = format!(
        "to {}; {} overdue, {} stale",
        plan.all().join(", "),
        report.overdue.len(),
        report.stale.len()
    );
    let ev = Event {
        kind: "digest",
        actor: &actor,
        item: &marker,
        from_folder: "",
        to_folder: None,
        note: Some(&note),
        at: now,
        message_id: None,
    };
    desk.record(&ev, None).map_err(|e| {
        e.context("the digest was sent, but its once-a-day marker was not written (the next `report --send` from this machine writes it and sends nothing)")
    })?;
    if let Some(s) = &sent_here {
        s.clear();
    }
    super::notify_after(ctx, &mut desk);
    desk.close();
    ctx.say(
        out,
        format!(
            "sent the digest for {today} to {} ({} overdue, {} stale)",
            plan.all().join(", "),
            report.overdue.len(),
            report.stale.len()
        ),
    )
}
