//! Values for dynamic shell completion (`source <(COMPLETE=bash mailduty)`): member
//! keys from the rules file, and the IDs of the active queue from the server. A
//! completer never prints an error; with no rules or no server it offers nothing.
//!
//! Part of the command layer, below `cli`: it opens the desk to read the queue.

use clap_complete::CompletionCandidate;
use std::ffi::OsStr;

use crate::desk::Desk;
use crate::desk::queue::Scope;
use crate::rules::{self, Rules};

/// The rules named by `--rules` on the line being completed, else the usual lookup.
fn rules() -> Option<Rules> {
    let args: Vec<String> = std::env::args().collect();
    let given = args
        .iter()
        .enumerate()
        .find_map(|(i, a)| match a.strip_prefix("--rules") {
            Some("") => args.get(i + 1).map(std::path::PathBuf::from),
            Some(v) => v.strip_prefix('=').map(std::path::PathBuf::from),
            None => None,
        });
    rules::load(&rules::locate_file(given.as_deref()))
        .ok()
        .map(|l| l.rules)
}

fn starting_with(current: &OsStr) -> impl Fn(&str) -> bool {
    let prefix = current.to_string_lossy().into_owned();
    move |s| s.starts_with(&prefix)
}

/// Member keys, with their names as help.
pub fn members(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(rules) = rules() else {
        return Vec::new();
    };
    let keep = starting_with(current);
    rules
        .members
        .iter()
        .filter(|m| keep(&m.key))
        .map(|m| CompletionCandidate::new(&m.key).help(Some(m.name.clone().into())))
        .collect()
}

/// IDs of the inbox, 未対応 and 対応中 (never 完了, which may be large), with status
/// and subject as help. Reads headers only, so nothing is marked read.
pub fn ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(rules) = rules() else {
        return Vec::new();
    };
    let Ok(mut desk) = Desk::open(&rules, false) else {
        return Vec::new();
    };
    let items = desk.queue(Scope::ACTIVE).unwrap_or_default();
    desk.close();
    let keep = starting_with(current);
    items
        .iter()
        .filter(|it| keep(&it.id))
        .map(|it| {
            let who = it.owner.as_deref().unwrap_or(it.status.as_str());
            // The shell prints the help beside the candidate: one safe line.
            let help = format!("[{who}] {}", it.subject);
            CompletionCandidate::new(&it.id)
                .help(Some(crate::output::line(&help).into_owned().into()))
        })
        .collect()
}
