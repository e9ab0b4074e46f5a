//! `archive`: 完了 mail (and history events) older than the rules say, moved into
//! per-year folders by server-side SEARCH and batched MOVE: never a round trip per
//! message, and a rerun after any interruption moves only what is still there.
//!
//! Every batch is marked with `ARCHIVING` before it moves, and the mark comes along.
//! After the moves, the marked messages in an archive folder are what this run (and
//! any cut run before it) moved there: one summary event per archive folder counts
//! them, with a Message-ID made from them, so a rerun after a cut writes the event the
//! cut run could not, and never a second one; then that folder's marks are cleared.
//!
//! On a server without MOVE a run cut between the COPY and the EXPUNGE leaves marked
//! messages in 完了 whose copies are already in the archive. The next run removes such
//! a message only when the archive holds the same stored message (size, arrival,
//! bytes), and copies it otherwise, so nothing is lost and nothing is archived twice.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::{Desk, event};
use crate::imap::{Cap, Flags, Key};
use crate::queue::Item;
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
    let history = rules
        .history_after
        .map(|h| (h, rules.history_folder.clone()));
    let done_folder = desk.paths.done.clone();
    let mut done = one(desk, &done_folder, &pattern, cutoff(today, after), dry_run)?;
    let mut history = match &history {
        Some((h, p)) => {
            let folder = desk.paths.history.clone();
            Some(one(desk, &folder, p, cutoff(today, *h), dry_run)?)
        }
        None => None,
    };
    if !dry_run {
        // What is marked in the archive is what this run and any cut run before it
        // moved: that is what the summary event counts.
        let mut landed = marked(desk, &pattern)?;
        done.moved = landed.iter().map(|(f, u)| (f.clone(), u.len())).collect();
        if let (Some(h), Some((_, p))) = (history.as_mut(), &history_rules(desk)) {
            let more = marked(desk, p)?;
            h.moved = more.iter().map(|(f, u)| (f.clone(), u.len())).collect();
            landed.extend(more);
        }
        let summary = Summary {
            dry_run,
            done,
            history,
        };
        for (to, uids) in &landed {
            let own_id = batch_id(to, uids);
            if !desk.has_event(&own_id)? {
                let from = if to.starts_with(&desk.paths.history) {
                    desk.paths.history.clone()
                } else {
                    desk.paths.done.clone()
                };
                let marker = Item {
                    id: format!("archive-{today}"),
                    subject: format!("{} archived to {to}", uids.len()),
                    folder: from,
                    arrived: chrono::Utc::now(),
                    ..Item::default()
                };
                let note = format!("{} messages", uids.len());
                let ev = crate::history::Event {
                    message_id: Some(own_id),
                    ..event(
                        "archive",
                        super::rules::ROTATE,
                        &marker,
                        Some(to),
                        Some(&note),
                    )
                };
                desk.record(&ev, None)?;
            }
            for batch in uids.chunks(1000) {
                desk.mb
                    .store(to, batch, Flags::Remove(&[ARCHIVING.to_string()]))?;
            }
        }
        return Ok(summary);
    }
    Ok(Summary {
        dry_run,
        done,
        history,
    })
}

fn history_rules(desk: &Desk<'_>) -> Option<(std::time::Duration, String)> {
    let a = &desk.rules.archive;
    a.history_after.map(|h| (h, a.history_folder.clone()))
}

/// The messages still marked in each archive folder of a pattern, one round trip.
fn marked(desk: &mut Desk<'_>, pattern: &str) -> Result<BTreeMap<String, Vec<u32>>> {
    let folders = desk.archive_folders(pattern)?;
    if folders.is_empty() {
        return Ok(BTreeMap::new());
    }
    let found = desk
        .mb
        .search_each(&folders, &[Key::Keyword(ARCHIVING.to_string())])?;
    Ok(folders
        .into_iter()
        .zip(found)
        .filter(|(_, u)| !u.is_empty())
        .collect())
}

/// A summary event's Message-ID: the same for the same messages archived to `to`.
fn batch_id(to: &str, uids: &[u32]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(to.as_bytes());
    h.update([0]);
    let mut u = uids.to_vec();
    u.sort_unstable();
    for x in u {
        h.update(x.to_be_bytes());
    }
    let d: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("archive.{d}@mailduty")
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

fn one(
    desk: &mut Desk<'_>,
    source: &str,
    pattern: &str,
    before: NaiveDate,
    dry_run: bool,
) -> Result<Archived> {
    let mut out = Archived {
        source: source.to_string(),
        before: Some(before),
        ..Archived::default()
    };
    if !desk.mb.can(Cap::Move) && !dry_run {
        finish_cut_copies(desk, source, pattern)?;
    }
    let old = desk.mb.search(source, &[Key::Before(before)])?;
    if old.is_empty() {
        return Ok(out);
    }
    // Year by year, newest first, until every old message has its year: one SEARCH
    // a year, however many messages there are.
    let mut left = old.len();
    let mut year = before.year();
    while left > 0 && year > 1900 {
        let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("January 1st exists");
        let end = NaiveDate::from_ymd_opt(year + 1, 1, 1)
            .expect("January 1st exists")
            .min(before);
        let uids = desk
            .mb
            .search(source, &[Key::Since(start), Key::Before(end)])?;
        left = left.saturating_sub(uids.len());
        if !uids.is_empty() {
            let to = year_folder(desk, pattern, year);
            let n = if dry_run {
                uids.len()
            } else {
                move_year(desk, source, &uids, &to)?
            };
            out.moved.insert(to, n);
        }
        year -= 1;
    }
    Ok(out)
}

fn move_year(desk: &mut Desk<'_>, source: &str, uids: &[u32], to: &str) -> Result<usize> {
    if !desk.mb.exists(to)? {
        desk.mb.create(to)?;
    }
    for batch in uids.chunks(1000) {
        desk.mb
            .store(source, batch, Flags::Add(&[ARCHIVING.to_string()]))?;
    }
    desk.mb.move_uids(source, uids, to)
}

/// Messages a cut run left marked in `source` (no-MOVE servers): removed where the
/// archive of their year already holds the same stored message, unmarked otherwise
/// (this run then archives them like any other).
fn finish_cut_copies(desk: &mut Desk<'_>, source: &str, pattern: &str) -> Result<()> {
    let marked = desk
        .mb
        .search(source, &[Key::Keyword(ARCHIVING.to_string())])?;
    if marked.is_empty() {
        return Ok(());
    }
    // The cut may have come after the \Deleted of the batch: those are ours too.
    let mine = desk.mb.identities_of(source, &marked, true)?;
    let mut proven = Vec::new();
    for (uid, id) in &mine {
        let Some(ts) = id.arrived else { continue };
        let Some(when) = chrono::DateTime::from_timestamp(ts, 0) else {
            continue;
        };
        // The server files by its own zone's year: look on both sides of New Year.
        for year in [when.year() - 1, when.year(), when.year() + 1] {
            let to = year_folder(desk, pattern, year);
            if !desk.mb.exists(&to)? {
                continue;
            }
            let found = desk.mb.search(&to, &[Key::Size(id.size)])?;
            if desk
                .mb
                .identities(&to, &found)?
                .iter()
                .any(|(_, x)| x == id)
            {
                proven.push(*uid);
                break;
            }
        }
    }
    desk.mb.remove(source, &proven)?;
    let rest: Vec<u32> = marked.into_iter().filter(|u| !proven.contains(u)).collect();
    desk.mb
        .store(source, &rest, Flags::Remove(&[ARCHIVING.to_string()]))?;
    Ok(())
}
