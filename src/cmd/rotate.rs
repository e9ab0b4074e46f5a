//! `rotate`: who is on duty (shown), and the roster applied to the mailbox (`--apply`):
//! intake from the inbox, thread stickiness, routes, and hand-out to the duty.
//!
//! The moves themselves are the desk's (`desk::apply`); this file shows the roster
//! and prints what was done.

use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Datelike, Utc};
use comfy_table::{Table, presets};
use serde::Serialize;

use super::Ctx;
use crate::cli::{RotateArgs, RotateFormat};
use crate::desk::{self, Move};
use crate::roster::{Duty, weekday_ja};
use crate::rules::{Assign, Rules};

pub fn run(ctx: &Ctx, args: &RotateArgs, out: &mut dyn Write) -> Result<()> {
    let now = ctx.now()?;
    if args.apply {
        return apply(ctx, args.format, now, out, true);
    }
    let cal = &ctx.rules.calendar;
    let from = args.date.unwrap_or_else(|| cal.local_date(now));
    let days = ctx.rules.roster.days(cal, from, args.days.unwrap_or(1));
    let views: Vec<DutyView<'_>> = days.iter().map(|d| DutyView::new(&ctx.rules, d)).collect();
    match args.format {
        RotateFormat::Json => {
            crate::output::json(&mut *out, &views)?;
        }
        RotateFormat::Table if args.days.is_none() => {
            let v = &views[0];
            writeln!(out, "{}", v.sentence())?;
        }
        RotateFormat::Table => {
            let mut t = Table::new();
            t.load_preset(presets::NOTHING);
            t.set_header(vec!["DATE", "DAY", "HOLIDAY", "ON DUTY"]);
            for v in &views {
                t.add_row(vec![
                    v.duty.date.to_string(),
                    format!("{} {}", v.duty.weekday, weekday_ja(v.duty.date.weekday())),
                    v.duty.holiday.clone().unwrap_or_default(),
                    v.who(),
                ]);
            }
            for line in t.to_string().lines() {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct DutyView<'a> {
    #[serde(flatten)]
    duty: &'a Duty,
    /// Display names of the members on duty, in the order of `on_duty`.
    names: Vec<String>,
}

impl<'a> DutyView<'a> {
    fn new(rules: &Rules, duty: &'a Duty) -> Self {
        let names = duty
            .on_duty
            .iter()
            .map(|k| {
                rules
                    .member(k)
                    .map_or_else(|| k.clone(), |m| m.name.clone())
            })
            .collect();
        DutyView { duty, names }
    }

    fn who(&self) -> String {
        if self.duty.on_duty.is_empty() {
            return "-".into();
        }
        let mut s = self
            .duty
            .on_duty
            .iter()
            .zip(&self.names)
            .map(|(k, n)| {
                if k == n {
                    k.clone()
                } else {
                    format!("{n} ({k})")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        if self.duty.overridden {
            s.push_str("  [override]");
        }
        s
    }

    fn sentence(&self) -> String {
        let d = self.duty;
        let day = format!(
            "{} ({} {})",
            d.date,
            d.weekday,
            weekday_ja(d.date.weekday())
        );
        let why = match (&d.holiday, d.business_day) {
            (Some(h), _) => format!(", {h}"),
            (None, false) => ", not a business day".into(),
            _ => String::new(),
        };
        if d.on_duty.is_empty() {
            format!("{day}{why}: nobody on duty")
        } else {
            format!("{day}{why}: {}", self.who())
        }
    }
}

#[derive(Serialize)]
struct AppliedView<'a> {
    date: chrono::NaiveDate,
    holiday: Option<String>,
    on_duty: Vec<String>,
    moved: &'a [Move],
    /// Messages left for the next run: being moved right now, or taken by someone
    /// else meanwhile.
    left: usize,
    /// What this run finished for runs that stopped part-way.
    recovered: crate::desk::Recovered,
    /// Replies found in Sent, 二重対応 and moves made in mail clients.
    clients: &'a crate::desk::clients::Seen,
}

/// Records the overdue alerts that chat targets want; a failure is a warning, since
/// the next run writes them.
fn overdue_alerts(ctx: &Ctx, desk: &mut desk::Desk<'_>, now: DateTime<Utc>) {
    if !ctx.rules.notify.iter().any(|t| t.wants("overdue")) {
        return;
    }
    let res = desk
        .queue(crate::desk::queue::Scope::ACTIVE)
        .and_then(|items| crate::notify::record_overdue(desk, &items, now));
    if let Err(e) = res {
        eprintln!(
            "mailduty: warning: overdue alerts not recorded ({}); the next run records them",
            crate::output::line(&format!("{e:#}"))
        );
    }
}

/// One `rotate --apply` run. With `always_sum` false (watch), a run that did nothing
/// prints nothing.
pub(super) fn apply(
    ctx: &Ctx,
    format: RotateFormat,
    now: DateTime<Utc>,
    out: &mut dyn Write,
    always_sum: bool,
) -> Result<()> {
    let rules = &ctx.rules;
    let today = rules
        .roster
        .duty(&rules.calendar, rules.calendar.local_date(now));
    let hand_out: &[String] = match rules.assign {
        Assign::Duty => &today.on_duty,
        Assign::None => &[],
    };
    let mut desk = ctx.open_reading_sent()?;
    let done = desk::apply(&mut desk, hand_out, now)?;
    if done.quiet && ctx.global.verbose {
        eprintln!("mailduty: no folder changed since the last run; nothing read");
    }
    overdue_alerts(ctx, &mut desk, now);
    super::notify_after(ctx, &mut desk);
    desk.close();
    match format {
        RotateFormat::Json => {
            let view = AppliedView {
                date: today.date,
                holiday: today.holiday.clone(),
                on_duty: today.on_duty.clone(),
                moved: &done.moved,
                left: done.left,
                recovered: done.recovered,
                clients: &done.clients,
            };
            crate::output::json(&mut *out, &view)?;
        }
        RotateFormat::Table => {
            for m in &done.moved {
                ctx.say(
                    out,
                    format!(
                        "{:<6} {}  {} → {}  ({})  {}",
                        match m.event {
                            "file" => "filed",
                            "dismiss" => "dismiss",
                            "unhold" => "back",
                            _ => "assign",
                        },
                        m.id,
                        m.from_folder,
                        m.to_folder,
                        m.reason,
                        m.subject
                    ),
                )?;
            }
            let count = |e: &str| done.moved.iter().filter(|m| m.event == e).count();
            let mut summary = format!(
                "rotate: {} filed, {} assigned",
                count("file"),
                count("assign")
            );
            if count("dismiss") > 0 {
                summary.push_str(&format!(", {} dismissed (対応不要)", count("dismiss")));
            }
            if count("unhold") > 0 {
                summary.push_str(&format!(", {} back from 保留", count("unhold")));
            }
            if done.left > 0 {
                summary.push_str(&format!(", {} left for the next run", done.left));
            }
            let c = &done.clients;
            for r in &c.replies {
                ctx.say(
                    out,
                    format!(
                        "reply  {}  by {} ({}, {})",
                        r.id, r.replier, r.matched_by, r.action
                    ),
                )?;
            }
            for d in &c.dragged {
                ctx.say(
                    out,
                    format!(
                        "client {}  {} in {}  {}",
                        d.id, d.event, d.folder, d.subject
                    ),
                )?;
            }
            if !c.replies.is_empty() || !c.dragged.is_empty() {
                summary.push_str(&format!(
                    "; {} replies, {} double replies, {} moves made in mail clients",
                    c.replies.len(),
                    c.double_replies,
                    c.dragged.len()
                ));
            }
            let r = done.recovered;
            if r.events + r.unstuck + r.healed > 0 {
                summary.push_str(&format!(
                    "; finished for stopped runs: {} history events, {} messages freed, {} duplicate copies removed",
                    r.events, r.unstuck, r.healed
                ));
            }
            let holiday_note = match (&today.holiday, rules.assign, today.on_duty.is_empty()) {
                (Some(h), Assign::Duty, true) => {
                    Some(format!("{h}: filed only, nothing handed out"))
                }
                (None, Assign::Duty, true) => {
                    Some("nobody on duty today: nothing handed out".to_string())
                }
                _ => None,
            };
            if let Some(n) = holiday_note {
                summary.push_str(&format!("; {n}"));
            }
            let idle = done.moved.is_empty()
                && c.replies.is_empty()
                && c.dragged.is_empty()
                && done.left == 0
                && r.events + r.unstuck + r.healed == 0;
            if always_sum || !idle {
                ctx.say(out, summary)?;
            }
        }
    }
    if let Some(first) = done.failed.first() {
        return Err(anyhow::anyhow!(
            "{} message(s) could not be moved; the first: {first}",
            done.failed.len()
        ));
    }
    Ok(())
}
