//! `archive`: 完了 mail (and history events) older than the rules say, moved into
//! per-year folders by server-side SEARCH and batched MOVE: never a round trip per
//! message, and a rerun after any interruption moves only what is still there.
//!
//! The run's summary event (one per run, with the counts per folder) is written
//! before the moves: a run cut part-way has said what it set out to do, and the rerun
//! that moves the rest writes its own. With MOVE every batch moves whole or not at all.
//!
//! On a server without MOVE each batch is marked with `ARCHIVING` before its COPY; a
//! run cut between the COPY and the EXPUNGE leaves marked messages in 完了 whose
//! copies are already in the archive. The next run removes such a message only when
//! the archive holds the same stored message (size, arrival, bytes), and copies it
//! otherwise, so nothing is lost and nothing is archived twice.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::{Desk, event};
use crate::desk::queue::Item;
use crate::imap::{Cap, Flags, Identity, Key};
use crate::rules::ArchiveRules;

/// The keyword on messages whose COPY into the archive is under way (servers
/// without MOVE only).
pub const ARCHIVING: &str = "$MailDutyArchiving";

/// What one source folder gave up, per destination.
#[derive(Debug, Default, Serialize)]
pub struct Archived {
    pub source: String,
    /// Arrival before this day (the rules' time zone) counts as old.
    pub before: Option<NaiveDate>,
    /// Destination folder → messages moved (or, with --dry-run, to move).
    pub moved: BTreeMap<String, usize>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub dry_run: bool,
    pub done: Archived,
    /// None when `archive.history_after` is not set (history is kept).
    pub history: Option<Archived>,
}

pub fn archive(desk: &mut Desk<'_>, today: NaiveDate, dry_run: bool) -> Result<Summary> {
    let rules: &ArchiveRules = &desk.rules.archive;
    let (after, pattern) = (rules.after, rules.folder.clone());
    let history_rules = rules
        .history_after
        .map(|h| (h, rules.history_folder.clone()));
    let done_folder = desk.paths.done.clone();
    let copying = !desk.mb.can(Cap::Move);
    if copying && !desk.mb.can(Cap::UidPlus) {
        anyhow::bail!(
            "the IMAP server has neither MOVE nor UIDPLUS: mailduty cannot archive safely there"
        );
    }
    if copying && !dry_run {
        finish_cut_copies(desk, &done_folder, &pattern)?;
    }
    let (done, done_plan) = plan(desk, &done_folder, &pattern, cutoff(today, after))?;
    let (history, history_plan) = match &history_rules {
        Some((h, p)) => {
            let folder = desk.paths.history.clone();
            if copying && !dry_run {
                finish_cut_copies(desk, &folder, p)?;
            }
            let (a, plan) = plan(desk, &folder, p, cutoff(today, *h))?;
            (Some(a), plan)
        }
        None => (None, Vec::new()),
    };
    let summary = Summary {
        dry_run,
        done,
        history,
    };
    let total: usize = done_plan
        .iter()
        .chain(&history_plan)
        .map(|(_, _, u)| u.len())
        .sum();
    if dry_run || total == 0 {
        return Ok(summary);
    }
    let marker = Item {
        id: format!("archive-{today}"),
        subject: format!("{total} to archive"),
        folder: desk.paths.done.clone(),
        arrived: chrono::Utc::now(),
        ..Item::default()
    };
    let note = describe(&summary);
    let ev = event("archive", super::rules::ROTATE, &marker, None, Some(&note));
    // Written first, so that a run cut part-way has said what it set out to do. A
    // full mailbox refuses the APPEND, and archiving is what frees it: move anyway,
    // then try once more.
    let first = desk.record(&ev, None);
    for (from, to, uids) in done_plan.iter().chain(&history_plan) {
        move_year(desk, from, uids, to)?;
    }
    if let Err(e) = first
        && let Err(again) = desk.record(&ev, None)
    {
        let msg = format!(
            "archived, but the summary event was not written: {again:#} (first try: {e:#})"
        );
        eprintln!("mailduty: warning: {}", crate::output::line(&msg));
    }
    if copying {
        // The copies came with the mark; in the archive it means nothing.
        for (_, to, _) in done_plan.iter().chain(&history_plan) {
            let marked = desk.mb.search(to, &[Key::Keyword(ARCHIVING.to_string())])?;
            for batch in marked.chunks(1000) {
                desk.mb
                    .store(to, batch, Flags::Remove(&[ARCHIVING.to_string()]))?;
            }
        }
    }
    Ok(summary)
}

/// One line of what moved, for the history note and the summary line.
pub fn describe(s: &Summary) -> String {
    let mut parts = Vec::new();
    for a in std::iter::once(&s.done).chain(s.history.as_ref()) {
        for (to, n) in &a.moved {
            parts.push(format!("{n} from {} to {to}", a.source));
        }
    }
    if parts.is_empty() {
        "nothing old enough".to_string()
    } else {
        parts.join(", ")
    }
}

fn cutoff(today: NaiveDate, after: std::time::Duration) -> NaiveDate {
    let days = i64::try_from(after.as_secs() / 86_400).unwrap_or(i64::MAX / 2);
    today
        .checked_sub_signed(chrono::Duration::days(days))
        .unwrap_or(NaiveDate::MIN)
}

/// The folder for a year: the pattern with `{year}`, on the server's terms.
fn year_folder(desk: &Desk<'_>, pattern: &str, year: i32) -> String {
    desk.mb.path(&ArchiveRules::folder_for(pattern, year))
}

/// What is old in `source`, year by year newest first, until every old message has
/// its year: one SEARCH a year, however many messages there are.
type Plan = Vec<(String, String, Vec<u32>)>;

fn plan(
    desk: &mut Desk<'_>,
    source: &str,
    pattern: &str,
    before: NaiveDate,
) -> Result<(Archived, Plan)> {
    let mut out = Archived {
        source: source.to_string(),
        before: Some(before),
        ..Archived::default()
    };
    let mut plan = Vec::new();
    let old = desk
        .mb
        .search(source, &[Key::Before(before), Key::Undeleted])?;
    let mut left = old.len();
    let mut year = before.year();
    while left > 0 && year > 1900 {
        let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("January 1st exists");
        let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .expect("January 1st exists")
            .min(before);
        let uids = desk.mb.search(
            source,
            &[Key::Since(start), Key::Before(end), Key::Undeleted],
        )?;
        left = left.saturating_sub(uids.len());
        if !uids.is_empty() {
            let to = year_folder(desk, pattern, year);
            out.moved.insert(to.clone(), uids.len());
            plan.push((source.to_string(), to, uids));
        }
        year -= 1;
    }
    Ok((out, plan))
}

fn move_year(desk: &mut Desk<'_>, source: &str, uids: &[u32], to: &str) -> Result<usize> {
    if !desk.mb.exists(to)? {
        desk.mb.create(to)?;
    }
    desk.mb.move_uids(source, uids, to, ARCHIVING)
}

/// Messages a cut run left marked in `source` (no-MOVE servers): removed where an
/// archive folder holds as many marked copies of the same stored message, unmarked
/// otherwise (this run then archives them like any other). A few commands per
/// folder, whatever the number of messages.
fn finish_cut_copies(desk: &mut Desk<'_>, source: &str, pattern: &str) -> Result<()> {
    let mark = [Key::Keyword(ARCHIVING.to_string())];
    let marked = desk.mb.search(source, &mark)?;
    // The cut may have come after the \Deleted of the batch: those are ours too.
    let mine = desk.mb.identities_of(source, &marked, true)?;
    let mut copies: Vec<(String, u32, Identity)> = Vec::new();
    for f in desk.archive_folders(pattern)? {
        let uids = desk.mb.search(&f, &mark)?;
        for (u, id) in desk.mb.identities_of(&f, &uids, true)? {
            copies.push((f.clone(), u, id));
        }
    }
    let mut proven = Vec::new();
    let mut unused: Vec<bool> = vec![true; copies.len()];
    for (uid, id) in &mine {
        // One copy vouches for one source: identical twins need a copy each.
        if let Some(k) = (0..copies.len()).find(|&k| unused[k] && copies[k].2 == *id) {
            unused[k] = false;
            proven.push(*uid);
        }
    }
    desk.mb.remove(source, &proven)?;
    let rest: Vec<u32> = marked.into_iter().filter(|u| !proven.contains(u)).collect();
    let unmark = [ARCHIVING.to_string()];
    desk.mb.store(source, &rest, Flags::Remove(&unmark))?;
    // Every marked copy in the archive is now accounted for: its source is gone.
    let mut by_folder: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (f, u, _) in copies {
        by_folder.entry(f).or_default().push(u);
    }
    for (f, uids) in by_folder {
        desk.mb.store(&f, &uids, Flags::Remove(&unmark))?;
    }
    Ok(())
}
