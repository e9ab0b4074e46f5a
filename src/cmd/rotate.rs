//! `rotate`: who is on duty (shown), and the roster applied to the mailbox (`--apply`):
//! intake from the inbox, thread stickiness, routes, and hand-out to the duty.
//!
//! Every move takes the same arbitration as `claim` (conditional STORE where the
//! server has CONDSTORE, then a settle that looks for concurrent copies), so a member
//! claiming a message while cron files it never ends with two copies or none.

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::Result;
use chrono::{DateTime, Datelike, Utc};
use comfy_table::{Table, presets};
use serde::Serialize;

use super::Ctx;
use super::transition::{Arbiter, SETTLE, arbitrate, take};
use crate::cli::{RotateArgs, RotateFormat};
use crate::history::{self, Event};
use crate::imap::{Mailbox, Moved, claim_keyword};
use crate::queue::{self, Item, Scope, Status};
use crate::roster::{Duty, weekday_ja};
use crate::rules::{Assign, Rules};

/// The history's actor for moves made by the roster rather than by a person.
const ACTOR: &str = "rotate";

pub fn run(ctx: &Ctx, args: &RotateArgs, out: &mut dyn Write) -> Result<()> {
    let now = Utc::now();
    if args.apply {
        return apply(ctx, args.format, now, out);
    }
    let cal = &ctx.rules.calendar;
    let from = args.date.unwrap_or_else(|| cal.local_date(now));
    let days = ctx.rules.roster.days(cal, from, args.days.unwrap_or(1));
    let views: Vec<DutyView<'_>> = days.iter().map(|d| DutyView::new(&ctx.rules, d)).collect();
    match args.format {
        RotateFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &views)?;
            writeln!(out)?;
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

/// One message moved by `--apply`.
#[derive(Serialize)]
struct Move {
    id: String,
    message_id: Option<String>,
    from_folder: String,
    to_folder: String,
    /// `file` (inbox → 未対応) or `assign` (to a member).
    event: &'static str,
    owner: Option<String>,
    /// Why it went there: "intake", "duty", "thread", or the route.
    reason: String,
    subject: String,
}

#[derive(Serialize)]
struct Applied {
    date: chrono::NaiveDate,
    holiday: Option<String>,
    on_duty: Vec<String>,
    moved: Vec<Move>,
    /// Messages left for the next run: being claimed right now, or taken by someone
    /// else meanwhile.
    left: usize,
}

fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// The member who owns the thread this message answers, if any.
fn thread_owner<'a>(owners: &HashMap<&str, &'a str>, it: &Item) -> Option<&'a str> {
    it.in_reply_to
        .iter()
        .chain(it.references.iter().rev())
        .find_map(|r| owners.get(bare(r)).copied())
}

fn apply(ctx: &Ctx, format: RotateFormat, now: DateTime<Utc>, out: &mut dyn Write) -> Result<()> {
    let rules = &ctx.rules;
    let today = rules
        .roster
        .duty(&rules.calendar, rules.calendar.local_date(now));
    let mut mb = ctx.connect()?;
    let active = Scope {
        active: true,
        done: false,
    };
    let mut items = queue::load(&mut mb, rules, active)?;
    let inbox = mb.path(&rules.folders.inbox);
    let unclaimed = mb.path(&rules.folders.unclaimed);
    let claimed_root = mb.path(&rules.folders.claimed);
    let mut moved = Vec::new();
    let mut left = 0;

    let owners: HashMap<&str, &str> = items
        .iter()
        .filter(|i| i.status == Status::Claimed)
        .filter_map(|i| Some((bare(i.message_id.as_deref()?), i.owner.as_deref()?)))
        .collect();
    let mut incoming: Vec<&Item> = items.iter().filter(|i| i.folder == inbox).collect();
    incoming.sort_by_key(|i| i.arrived);

    let mut filed: Vec<(Item, Option<u32>)> = Vec::new();
    for it in incoming {
        if !it.claim_keywords.is_empty() {
            // Someone's claim is under way; the next run sees where it went.
            left += 1;
            continue;
        }
        let sticky = rules
            .threads
            .then(|| thread_owner(&owners, it))
            .flatten()
            .filter(|o| rules.member(o).is_some())
            .map(|o| (o.to_string(), "thread".to_string()));
        let routed = || {
            rules
                .route_for(&it.from, &it.subject)
                .and_then(|r| Some((r.owner.clone()?, r.describe())))
        };
        if let Some((owner, reason)) = sticky.or_else(routed) {
            let dest = mb.child(&claimed_root, &owner);
            if take(
                &mut mb,
                rules,
                &items,
                it,
                &dest,
                &claim_keyword(Some(&owner)),
            )? {
                moved.push(record(
                    &mut mb,
                    rules,
                    it,
                    &dest,
                    "assign",
                    Some(owner),
                    reason,
                ));
            } else {
                left += 1;
            }
            continue;
        }
        // Intake settles every filed message after the loop, alone or not.
        if matches!(arbitrate(&mut mb, it, &claim_keyword(None))?, Arbiter::Lost) {
            left += 1;
            continue;
        }
        match mb.move_uid(&inbox, it.uid, &unclaimed)? {
            Moved::To(u) => filed.push((it.clone(), u)),
            Moved::Gone => left += 1,
        }
    }

    if !filed.is_empty() {
        let after = settle_intake(&mut mb, rules, &items, &filed, &unclaimed, &mut left)?;
        for (it, _) in filed.iter().filter(|(it, _)| after.kept.contains(&it.hash)) {
            moved.push(record(
                &mut mb,
                rules,
                it,
                &unclaimed,
                "file",
                None,
                "intake".into(),
            ));
        }
        items = after.items;
    }

    let holiday_note = match (&today.holiday, rules.assign, today.on_duty.is_empty()) {
        (Some(h), Assign::Duty, true) => Some(format!("{h}: filed only, nothing handed out")),
        (None, Assign::Duty, true) => Some("nobody on duty today: nothing handed out".into()),
        _ => None,
    };
    if rules.assign == Assign::Duty && !today.on_duty.is_empty() {
        let mut load: Vec<(String, usize)> = today
            .on_duty
            .iter()
            .map(|m| {
                let n = items
                    .iter()
                    .filter(|i| i.owner.as_deref() == Some(m.as_str()))
                    .count();
                (m.clone(), n)
            })
            .collect();
        let mut waiting: Vec<&Item> = items
            .iter()
            .filter(|i| i.folder == unclaimed && !i.released && i.claim_keywords.is_empty())
            .collect();
        waiting.sort_by_key(|i| i.arrived);
        for it in waiting {
            let (idx, _) = load
                .iter()
                .enumerate()
                .min_by_key(|(i, (_, n))| (*n, *i))
                .expect("someone is on duty");
            let owner = load[idx].0.clone();
            let dest = mb.child(&claimed_root, &owner);
            if take(
                &mut mb,
                rules,
                &items,
                it,
                &dest,
                &claim_keyword(Some(&owner)),
            )? {
                load[idx].1 += 1;
                moved.push(record(
                    &mut mb,
                    rules,
                    it,
                    &dest,
                    "assign",
                    Some(owner),
                    "duty".into(),
                ));
            } else {
                left += 1;
            }
        }
    }
    mb.logout();

    match format {
        RotateFormat::Json => {
            let view = Applied {
                date: today.date,
                holiday: today.holiday.clone(),
                on_duty: today.on_duty.clone(),
                moved,
                left,
            };
            serde_json::to_writer_pretty(&mut *out, &view)?;
            writeln!(out)?;
        }
        RotateFormat::Table => {
            for m in &moved {
                ctx.say(
                    out,
                    format!(
                        "{:<6} {}  {} → {}  ({})  {}",
                        if m.event == "file" { "filed" } else { "assign" },
                        m.id,
                        m.from_folder,
                        m.to_folder,
                        m.reason,
                        m.subject
                    ),
                )?;
            }
            let files = moved.iter().filter(|m| m.event == "file").count();
            let mut summary = format!("rotate: {} filed, {} assigned", files, moved.len() - files);
            if left > 0 {
                summary.push_str(&format!(", {left} left for the next run"));
            }
            if let Some(n) = holiday_note {
                summary.push_str(&format!("; {n}"));
            }
            ctx.say(out, summary)?;
        }
    }
    Ok(())
}

struct AfterIntake {
    /// The queue as it is after the moves.
    items: Vec<Item>,
    /// Hashes of the filed messages whose 未対応 copy stays.
    kept: HashSet<String>,
}

/// After filing: clear the claim keyword that came along, wait for concurrent moves
/// to land, and where a member claimed the same message meanwhile, drop the 未対応
/// copy (a claim beats intake).
fn settle_intake(
    mb: &mut Mailbox,
    rules: &Rules,
    before: &[Item],
    filed: &[(Item, Option<u32>)],
    unclaimed: &str,
    left: &mut usize,
) -> Result<AfterIntake> {
    if mb.has("CONDSTORE") {
        let mut uids: Vec<u32> = filed.iter().filter_map(|(_, u)| *u).collect();
        for (it, u) in filed {
            if u.is_none()
                && let Some(mid) = it.message_id.as_deref()
            {
                uids.extend(mb.search_message_id(unclaimed, mid)?);
            }
        }
        mb.store_uids(
            unclaimed,
            &uids,
            &format!("-FLAGS.SILENT ({})", claim_keyword(None)),
        )?;
    }
    std::thread::sleep(SETTLE);
    let seen: HashSet<(&str, u32)> = before
        .iter()
        .filter(|o| o.status == Status::Claimed)
        .map(|o| (o.folder.as_str(), o.uid))
        .collect();
    let mut items = queue::load(
        mb,
        rules,
        Scope {
            active: true,
            done: false,
        },
    )?;
    let filed_before: HashSet<(&str, u32)> = before
        .iter()
        .filter(|o| o.folder == unclaimed)
        .map(|o| (o.folder.as_str(), o.uid))
        .collect();
    let mut kept = HashSet::new();
    let mut dropped = Vec::new();
    for (it, new_uid) in filed {
        let claimed_meanwhile = items.iter().any(|o| {
            o.status == Status::Claimed
                && o.hash == it.hash
                && !seen.contains(&(o.folder.as_str(), o.uid))
        });
        // Another run filed it too: the copy that arrived first (lowest UID) stays.
        let filed_twice = new_uid.is_some_and(|mine| {
            items.iter().any(|o| {
                o.folder == unclaimed
                    && o.hash == it.hash
                    && o.uid < mine
                    && !filed_before.contains(&(o.folder.as_str(), o.uid))
            })
        });
        if !claimed_meanwhile && !filed_twice {
            kept.insert(it.hash.clone());
            continue;
        }
        *left += 1;
        let uids = match new_uid {
            Some(u) => vec![*u],
            None => match it.message_id.as_deref() {
                Some(mid) => mb.search_message_id(unclaimed, mid)?,
                None => Vec::new(),
            },
        };
        for u in uids {
            mb.store(unclaimed, u, "+FLAGS.SILENT (\\Deleted)")?;
            mb.expunge_uid(unclaimed, u)?;
            dropped.push(u);
        }
    }
    items.retain(|i| !(i.folder == unclaimed && dropped.contains(&i.uid)));
    Ok(AfterIntake { items, kept })
}

fn record(
    mb: &mut Mailbox,
    rules: &Rules,
    it: &Item,
    dest: &str,
    event: &'static str,
    owner: Option<String>,
    reason: String,
) -> Move {
    let ev = Event {
        kind: event,
        actor: ACTOR,
        item: it,
        from_folder: &it.folder,
        to_folder: Some(dest),
        note: Some(&reason),
        at: Utc::now(),
    };
    if let Err(e) = history::record(mb, rules, &ev) {
        eprintln!(
            "mailduty: warning: {} moved to {dest}, but the history entry failed: {e:#}",
            it.id
        );
    }
    Move {
        id: it.id.clone(),
        message_id: it.message_id.clone(),
        from_folder: it.folder.clone(),
        to_folder: dest.to_string(),
        event,
        owner,
        reason,
        subject: it.subject.clone(),
    }
}
