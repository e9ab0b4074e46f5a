//! A `rotate --apply` with nothing new reads no message data: on a CONDSTORE server,
//! one pipelined STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ) of every folder
//! the run reads, compared with the same STATUS taken at the start of the last run
//! that finished everything it found. Any message added, removed or changed in any of
//! them (by anyone, mailduty included) moves one of those numbers, and the run does
//! its whole work.
//!
//! What the last run saw is kept on this machine, in
//! `$XDG_CACHE_HOME/mailduty/quiet-<mailbox>.json`. It is an optimisation only:
//! missing, unreadable, from another mailbox, other rules, another day's duty or
//! past its time, and the run reads everything as it would without it. It is written
//! only after a whole run that moved, wrote and left nothing (no failure, no move
//! under way), with the state from before that run's first read: so a run at that
//! state has nothing to do, whoever runs it and whenever the server was restored to
//! it. A run cut anywhere writes nothing, and whatever it changed differs from what
//! was kept.
//! What the clock alone brings (held mail coming due) is kept as a time after which
//! the next run reads everything; so is an hour, whatever else.

use std::path::PathBuf;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Desk;
use crate::imap::FolderState;

/// Format of the file; another one is not read.
const VERSION: u32 = 1;

/// The longest a kept view is trusted, even with nothing changed.
const AT_MOST: chrono::Duration = chrono::Duration::hours(1);

/// What must be the same for a run to find nothing to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct View {
    version: u32,
    /// Host, port, user and shared mailbox.
    account: String,
    /// A digest of the rules that decide where mail goes.
    rules: String,
    /// The members the run hands unclaimed mail to.
    hand_out: Vec<String>,
    folders: Vec<(String, Option<FolderState>)>,
}

#[derive(Serialize, Deserialize)]
struct Kept {
    view: View,
    /// Until when a run at this view has nothing to do.
    until: DateTime<Utc>,
}

/// The look a run takes before anything else.
pub struct Look {
    path: PathBuf,
    view: View,
    /// Nothing changed since a run that finished everything, and its time holds.
    pub quiet: bool,
    /// The Sent folder the run reads (shown by a quiet run as a whole one would).
    pub sent_folder: Option<String>,
}

/// One round trip on a CONDSTORE server with the folders listed at login; None where
/// a quiet run cannot be told (no CONDSTORE, chat notifications to send or overdue
/// alerts to raise, no cache directory).
pub fn look(desk: &mut Desk<'_>, hand_out: &[String], now: DateTime<Utc>) -> Result<Option<Look>> {
    let rules = desk.rules;
    if !desk.mb.can(crate::imap::Cap::Condstore) || !rules.notify.is_empty() {
        return Ok(None);
    }
    let Some(dir) = crate::rules::xdg_dir("XDG_CACHE_HOME", ".cache") else {
        return Ok(None);
    };
    let sent_folder = match &rules.folders.sent {
        Some(f) => Some(desk.mb.path(f)),
        None => match desk.mb.listed_sent() {
            Some(s) => s,
            None => return Ok(None),
        },
    };
    let Some(claimed) = desk.mb.listed_below(&desk.paths.claimed) else {
        return Ok(None);
    };
    let p = &desk.paths;
    let mut folders = vec![p.inbox.clone(), p.unclaimed.clone(), p.held.clone()];
    folders.extend(claimed);
    folders.extend([p.done.clone(), p.dismissed.clone(), p.history.clone()]);
    folders.extend(p.journal.clone());
    folders.extend(sent_folder.clone());
    let mut seen = std::collections::HashSet::new();
    folders.retain(|f| seen.insert(f.clone()));
    let states = desk.mb.folder_states(&folders)?;
    // Only the folders made on first use may be missing; a folder the server gave no
    // state for otherwise (a refused STATUS) would look unchanged forever.
    let optional = [&p.held, &p.dismissed]
        .into_iter()
        .chain(p.journal.as_ref())
        .cloned()
        .collect::<Vec<String>>();
    if folders
        .iter()
        .zip(&states)
        .any(|(f, st)| st.is_none() && !optional.contains(f))
    {
        return Ok(None);
    }
    let (account, name) = account(rules);
    let view = View {
        version: VERSION,
        account,
        rules: rules_digest(rules),
        hand_out: hand_out.to_vec(),
        folders: folders.into_iter().zip(states).collect(),
    };
    let path = dir.join("mailduty").join(format!("quiet-{name}.json"));
    let quiet = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Kept>(&b).ok())
        .is_some_and(|k| k.view == view && now < k.until && k.until <= now + AT_MOST);
    Ok(Some(Look {
        path,
        view,
        quiet,
        sent_folder,
    }))
}

impl Look {
    /// Whether `folder` held no message when the run began.
    pub fn was_empty(&self, folder: &str) -> bool {
        self.view
            .folders
            .iter()
            .any(|(f, st)| f == folder && st.is_some_and(|s| s.messages == 0))
    }

    /// Keeps the view for the next run, which may skip its work until `until`
    /// (capped at an hour from `now`) if nothing changed; None forgets it.
    pub fn keep(&self, until: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let Some(until) = until.map(|u| u.min(now + AT_MOST)).filter(|u| *u > now) else {
            let _ = std::fs::remove_file(&self.path);
            return;
        };
        let kept = Kept {
            view: self.view.clone(),
            until,
        };
        // A failure costs the next run its shortcut, nothing else.
        let _ = write(&self.path, &kept);
    }
}

fn write(path: &std::path::Path, kept: &Kept) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".quiet.{}.tmp", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_vec(kept).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

/// The mailbox a cache file is for (host, port, user and shared mailbox), and the
/// name its files carry.
pub(super) fn account(rules: &crate::rules::Rules) -> (String, String) {
    let acct = &rules.imap;
    let account = format!(
        "{}:{} {} {}",
        acct.host,
        acct.port,
        acct.user,
        rules.shared_mailbox.as_deref().unwrap_or("")
    );
    let name: String = hex(&Sha256::digest(account.as_bytes()))[..24].to_string();
    (account, name)
}

/// The rules that decide where a run puts mail, without the credentials, and
/// wherever the file is (a cron job and `watch` may name it differently).
fn rules_digest(r: &crate::rules::Rules) -> String {
    let text = format!(
        "{:?}",
        (
            (&r.timezone, &r.folders, &r.members, &r.roster),
            (&r.calendar, &r.assign, &r.threads, &r.routes, &r.on_reply),
            (&r.reply_window, &r.automated, &r.sign_in, &r.shared_mailbox),
            (&r.sla_unclaimed, &r.sla_claimed),
        )
    );
    hex(&Sha256::digest(text.as_bytes()))
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
