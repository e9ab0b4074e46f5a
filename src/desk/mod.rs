//! The desk: the one layer that owns the status folders. Commands open it once, ask
//! it for the queue, find a message, move one (`take`) and record what happened;
//! `imap/` below it speaks the protocol, and nothing above it knows a folder path's
//! syntax or an IMAP keyword.
//!
//! What it guarantees, whatever crashes or races:
//! - a message leaves a folder only by a MOVE to another status folder;
//! - a copy is removed only when it is proven to be the same stored message (same
//!   size, arrival and bytes) as one that stays; a shared Message-ID proves
//!   nothing (`take.rs`);
//! - a move whose process died is finished by the next run: its keyword says what was
//!   under way, and the missing history event is written once (`recover.rs`);
//! - mail in any folder under 対応中 is in the queue, with the owner unknown when the
//!   folder is no member's.

mod access;
mod act;
mod apply;
pub mod archive;
pub mod clients;
pub mod history;
pub mod hold;
mod journal;
mod plan;
pub mod queue;
mod quiet;
mod recover;
pub mod rules;
mod take;
pub mod watch;

use std::collections::HashSet;

use anyhow::Result;
use chrono::Utc;

use crate::error::Error;
use crate::imap::{Cap, Flags, Key, Mailbox};
use crate::rules::Rules;
use history::{Event, Stored};
use queue::{Item, Scope, Status};

pub use access::{Change, LoginRights, Plan as AccessPlan};
pub use act::{Action, Outcome, act};
pub use apply::{Applied, Move, apply};
pub use plan::Assignment;
pub use recover::Recovered;
pub use rules::{Actor, Place};

/// Where a move goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Unclaimed,
    Member(String),
    Done,
    /// 保留: waiting, the owner kept in the history.
    Held,
    /// 対応不要: needs no reply.
    Dismissed,
}

/// What became of a move.
#[derive(Debug)]
pub enum Taken {
    /// This process moved it; the event is still to be recorded.
    Won(Landed),
    /// Someone else took it first: the owner when known.
    Lost { owner: Option<String> },
    /// It was already where it was to go.
    Already,
}

/// Where a moved message landed.
#[derive(Debug, Clone)]
pub struct Landed {
    pub folder: String,
    pub uid: Option<u32>,
    /// The keywords the move left on it, cleared once its event is recorded.
    keywords: Vec<String>,
}

/// The server's names of the rules' folders, with its prefix and separator applied.
#[derive(Debug, Clone)]
pub struct Paths {
    pub inbox: String,
    pub unclaimed: String,
    pub claimed: String,
    pub done: String,
    pub history: String,
    pub held: String,
    pub dismissed: String,
    /// Where commands write their events, on servers with MOVE: a folder that stays
    /// small, so that writing an event costs the same however long the history is
    /// (a server opens the folder an APPEND goes to). `rotate --apply` moves its
    /// events into the history folder (`Desk::settle_history`).
    pub journal: Option<String>,
    sep: char,
}

/// The journal's name below the history folder.
pub const JOURNAL: &str = "新着";

impl Paths {
    /// The folders events are read from: the journal first, so that an event the
    /// cron moves meanwhile is found in the history folder after it.
    pub fn history_reads(&self) -> Vec<String> {
        self.journal
            .iter()
            .chain(std::iter::once(&self.history))
            .cloned()
            .collect()
    }

    pub fn member(&self, key: &str) -> String {
        format!("{}{}{key}", self.claimed, self.sep)
    }

    pub fn of(&self, dest: &Dest) -> String {
        match dest {
            Dest::Unclaimed => self.unclaimed.clone(),
            Dest::Member(m) => self.member(m),
            Dest::Done => self.done.clone(),
            Dest::Held => self.held.clone(),
            Dest::Dismissed => self.dismissed.clone(),
        }
    }

    /// What a folder is to the desk; None for folders outside the status folders.
    pub fn place(&self, folder: &str, rules: &Rules) -> Option<Place> {
        if folder == self.inbox {
            return Some(Place::Inbox);
        }
        if folder == self.unclaimed {
            return Some(Place::Unclaimed);
        }
        if folder == self.done {
            return Some(Place::Done);
        }
        if folder == self.held {
            return Some(Place::Held);
        }
        if folder == self.dismissed {
            return Some(Place::Dismissed);
        }
        if folder == self.claimed {
            return Some(Place::ClaimedUnknown);
        }
        let below = folder
            .strip_prefix(self.claimed.as_str())?
            .strip_prefix(self.sep)?;
        Some(match rules.member(below) {
            Some(m) if !below.contains(self.sep) => Place::Member(m.key.clone()),
            _ => Place::ClaimedUnknown,
        })
    }
}

pub struct Desk<'r> {
    mb: Mailbox,
    rules: &'r Rules,
    pub paths: Paths,
    /// Every (folder, UID) the queue held when this command read it: a copy found
    /// later that is not among these arrived during this command.
    known: HashSet<(String, u32)>,
    /// How long the desk waits; the tests of the rules shorten nothing on the server.
    pub(crate) pause: fn(std::time::Duration),
    /// Set by `write_history_directly`.
    direct: bool,
    /// Messages the queue left out that mailduty had marked for removal when a run
    /// was cut before their EXPUNGE: for `recover` to finish.
    removing: Vec<(String, u32)>,
    /// The mail-client step's first look, taken ahead in the recovery's round trip.
    scan_look: Option<clients::Early>,
    /// The recovery's keyword search in 完了 and 対応不要, made in the queue's round
    /// trip (`queue_ahead`).
    done_hits: Option<Vec<Vec<u32>>>,
    /// The header fields kept from the last `rotate --apply` (`queue::Heads`): set by
    /// `apply`, so that its reads of the active queue fetch flags only for them.
    heads: Option<queue::Heads>,
}

impl<'r> Desk<'r> {
    pub fn open(rules: &'r Rules, verbose: bool) -> Result<Desk<'r>> {
        Self::connect(rules, false, verbose)
    }

    /// `open` for a command that reads the Sent folder: where the rules do not name
    /// it, the server's `\Sent` folder is listed in the login's round trip.
    pub fn open_reading_sent(rules: &'r Rules, verbose: bool) -> Result<Desk<'r>> {
        Self::connect(rules, rules.folders.sent.is_none(), verbose)
    }

    fn connect(rules: &'r Rules, list_sent: bool, verbose: bool) -> Result<Desk<'r>> {
        let mut mb = Mailbox::connect(&rules.imap, &rules.folders.claimed, list_sent, verbose)?;
        let f = &rules.folders;
        let history = mb.path(&f.history);
        // Without MOVE the journal could only be emptied by COPY and EXPUNGE, and a
        // run cut between them would leave every event in it twice.
        let journal = mb.can(Cap::Move).then(|| mb.child(&history, JOURNAL));
        if let Some(j) = &journal {
            mb.may_create(j);
        }
        // Status folders newer than the mailbox's `init`: read as empty until made.
        let (held, dismissed) = (mb.path(&f.held), mb.path(&f.dismissed));
        mb.may_create(&held);
        mb.may_create(&dismissed);
        let paths = Paths {
            inbox: mb.path(&f.inbox),
            unclaimed: mb.path(&f.unclaimed),
            claimed: mb.path(&f.claimed),
            done: mb.path(&f.done),
            history,
            held,
            dismissed,
            journal,
            sep: mb.separator(),
        };
        Ok(Desk {
            mb,
            rules,
            paths,
            known: HashSet::new(),
            pause: std::thread::sleep,
            direct: false,
            removing: Vec::new(),
            scan_look: None,
            done_hits: None,
            heads: None,
        })
    }

    pub fn rules(&self) -> &'r Rules {
        self.rules
    }

    pub fn close(self) {
        self.mb.logout();
    }

    /// The messages of the active folders (and of 完了 with `scope.done`).
    pub fn queue(&mut self, scope: Scope) -> Result<Vec<Item>> {
        self.removing.clear();
        // Kept heads are for the active folders; 完了 and 対応不要 are read whole.
        let active_only = !scope.done && !scope.dismissed;
        let mut heads = if active_only { self.heads.take() } else { None };
        let items = queue::load_noting_by(
            &mut self.mb,
            self.rules,
            &self.paths,
            scope,
            &mut self.removing,
            heads.as_mut(),
            |mb, names, known, each| {
                mb.fetch_queues_known(names, crate::imap::QUEUE_FIELDS, known, each)
            },
        );
        if active_only {
            self.heads = heads;
        }
        let mut items = items?;
        hold::annotate(self, &mut items)?;
        self.known
            .extend(items.iter().map(|i| (i.folder.clone(), i.uid)));
        Ok(items)
    }

    /// The active queue for `rotate --apply`: the recovery's keyword search in 完了
    /// and 対応不要 and the mail-client step's first look go in the queue's round
    /// trip, where the server allows (SEARCHRES); else as `queue`.
    pub fn queue_ahead(&mut self) -> Result<Vec<Item>> {
        let keys = recover::done_keys(self);
        let searched = [self.paths.done.clone(), self.paths.dismissed.clone()];
        // Which folders the mail-client step reads is its business: if that cannot
        // be told here, the queue is read alone and the step tries itself.
        let Ok((sent, looked)) = clients::scan_folders(self) else {
            return self.queue(Scope::ACTIVE);
        };
        let since = Utc::now() - clients::window(self);
        let history = self.paths.history.clone();
        let mut got = None;
        self.removing.clear();
        let mut heads = self.heads.take();
        let items = queue::load_noting_by(
            &mut self.mb,
            self.rules,
            &self.paths,
            Scope::ACTIVE,
            &mut self.removing,
            heads.as_mut(),
            |mb, names, known, each| {
                let searches: Vec<(&str, &[crate::imap::Key])> =
                    searched.iter().map(|f| (f.as_str(), &keys[..])).collect();
                got = history::queue_then_latest(
                    mb,
                    names,
                    known,
                    each,
                    &searches,
                    &history,
                    clients::SCAN,
                    since,
                    &looked,
                )?;
                if got.is_none() {
                    mb.fetch_queues_known(names, crate::imap::QUEUE_FIELDS, known, each)?;
                }
                Ok(())
            },
        );
        self.heads = heads;
        let mut items = items?;
        if let Some((look, hits)) = got {
            // A refused look is made again by the mail-client step, whose failure
            // never holds up intake.
            if let Some((ev, states)) = look {
                self.scan_look = Some(clients::Early {
                    sent,
                    folders: looked,
                    ev,
                    states,
                });
            }
            self.done_hits = Some(hits);
        }
        hold::annotate(self, &mut items)?;
        self.known
            .extend(items.iter().map(|i| (i.folder.clone(), i.uid)));
        Ok(items)
    }

    /// The message a query names: the active folders first, then 完了 (which may be
    /// large, so it is read only when the message is not among the active ones).
    ///
    /// Only what resolving needs is read: for a Message-ID, the server searches the
    /// active folders and only the messages it finds are fetched; for a short ID, the
    /// Message-ID field of the active mail (the ID is a hash of it), then the one
    /// message it names.
    pub fn find(&mut self, query: &str) -> Result<Item> {
        let it = self.find_scoped(query, true)?;
        self.annotated(it)
    }

    /// Like `find`, among the active folders only (claim, release: 完了 is never read).
    pub fn find_active(&mut self, query: &str) -> Result<Item> {
        let it = self.find_scoped(query, false)?;
        self.annotated(it)
    }

    /// Held or dismissed mail with what the history says of it (`hold::annotate`).
    fn annotated(&mut self, it: Item) -> Result<Item> {
        let mut one = [it];
        hold::annotate(self, &mut one)?;
        let [it] = one;
        Ok(it)
    }

    fn find_scoped(&mut self, query: &str, done_too: bool) -> Result<Item> {
        let q = query.trim();
        if q.contains('@') || q.starts_with('<') {
            let mut found = self.by_message_id(q)?;
            match self.resolve(&mut found, q) {
                Ok(it) => return Ok(it.clone()),
                Err(e) if !matches!(e.downcast_ref::<Error>(), Some(Error::NotFound(_))) => {
                    return Err(e);
                }
                Err(_) => {}
            }
        } else if !q.is_empty() {
            let mut light = queue::load_ids(&mut self.mb, self.rules, &self.paths)?;
            self.known
                .extend(light.iter().map(|i| (i.folder.clone(), i.uid)));
            match self.resolve(&mut light, q) {
                Ok(it) => {
                    let (folder, uid) = (it.folder.clone(), it.uid);
                    let full =
                        queue::load_uids(&mut self.mb, self.rules, &self.paths, &folder, &[uid])?;
                    if let Some(mut full) = full.into_iter().find(|i| i.uid == uid) {
                        full.id = it.id;
                        full.tie = it.tie;
                        return Ok(full);
                    }
                }
                Err(e) if matches!(e.downcast_ref::<Error>(), Some(Error::NotFound(_))) => {
                    if !done_too {
                        return Err(e);
                    }
                    let mut all = self.queue(Scope::ALL)?;
                    return self.resolve(&mut all, query);
                }
                // Ambiguous: the answer lists subjects, which the full queue has.
                Err(_) => {}
            }
        }
        let mut active = self.queue(Scope::ACTIVE)?;
        match self.resolve(&mut active, query) {
            Ok(it) => return Ok(it),
            Err(e)
                if !done_too || !matches!(e.downcast_ref::<Error>(), Some(Error::NotFound(_))) =>
            {
                return Err(e);
            }
            Err(_) => {}
        }
        let mut all = self.queue(Scope::ALL)?;
        self.resolve(&mut all, query)
    }

    /// The one message among `items` that a query names (`queue::resolve`), after
    /// reading the tie-break a label with one needs.
    pub fn resolve(&mut self, items: &mut [Item], query: &str) -> Result<Item> {
        queue::ties_for(&mut self.mb, items, query)?;
        let mut it = queue::resolve(items, query)?.clone();
        queue::label_as_named(&mut it, query);
        Ok(it)
    }

    /// The active mail with this Message-ID, found by the server: one SEARCH per
    /// active folder in one round trip, then a FETCH of what it found. Every copy
    /// found is known to the desk, so `take` does not read one as a newcomer.
    fn by_message_id(&mut self, mid: &str) -> Result<Vec<Item>> {
        let folders: Vec<String> = queue::active_folders(&mut self.mb, self.rules, &self.paths)?
            .into_iter()
            .map(|f| f.0)
            .collect();
        let hits = self
            .mb
            .search_each(&folders, &[Key::MessageId(mid.to_string())])?;
        let mut items = Vec::new();
        for (f, uids) in folders.iter().zip(hits) {
            if !uids.is_empty() {
                items.extend(queue::load_uids(
                    &mut self.mb,
                    self.rules,
                    &self.paths,
                    f,
                    &uids,
                )?);
            }
        }
        queue::settle_ids(&mut self.mb, &mut items)?;
        self.known
            .extend(items.iter().map(|i| (i.folder.clone(), i.uid)));
        Ok(items)
    }

    /// Like `find`, then in the archive folders too when `all` is set; without it, a
    /// miss says that archived mail is looked for only with --all.
    pub fn find_in(&mut self, query: &str, all: bool) -> Result<Item> {
        let err = match self.find(query) {
            Ok(it) => return Ok(it),
            Err(e) if !matches!(e.downcast_ref::<Error>(), Some(Error::NotFound(_))) => {
                return Err(e);
            }
            Err(e) => e,
        };
        if !all {
            return Err(
                Error::NotFound(format!("{err}; archived mail is looked for with --all")).into(),
            );
        }
        let folders = self.archive_folders(&self.rules.archive.folder.clone())?;
        let mut items = queue::load_archived(&mut self.mb, &folders)?;
        self.resolve(&mut items, query)
    }

    /// The folders an archive pattern has made so far (`完了/2024`, `完了/2025` …).
    pub fn archive_folders(&mut self, pattern: &str) -> Result<Vec<String>> {
        let (head, tail) = pattern.split_once("{year}").unwrap_or((pattern, ""));
        // The server's names around the year: prefix and separator as `path` gives them.
        let h = self.mb.path(head);
        let t = tail.replace('/', &self.mb.separator().to_string());
        let wild = format!("{h}*{t}");
        let mut out: Vec<String> = self
            .mb
            .list(&wild)?
            .into_iter()
            .filter(|f| f.selectable)
            .map(|f| f.name)
            .filter(|n| {
                n.strip_prefix(h.as_str())
                    .and_then(|r| r.strip_suffix(t.as_str()))
                    .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The account's storage quota, where the server reports one with a limit.
    pub fn quota(&mut self) -> Result<Option<Quota>> {
        let warn = self.rules.quota_warn;
        Ok(self.mb.quota()?.map(|(used, limit)| Quota {
            used_bytes: used.saturating_mul(1024),
            limit_bytes: limit.saturating_mul(1024),
            percent: (u128::from(used) * 100 / u128::from(limit.max(1))).min(999) as u32,
            warn_at: warn,
        }))
    }

    /// The size of each status folder, where the server reports sizes (STATUS=SIZE):
    /// inbox, 未対応, every folder under 対応中, 完了 and 対応履歴.
    pub fn folder_sizes(&mut self) -> Result<Vec<(String, u64)>> {
        let p = self.paths.clone();
        let mut folders = vec![p.inbox.clone(), p.unclaimed.clone()];
        folders.extend(self.mb.below(&p.claimed)?);
        folders.push(p.done.clone());
        folders.push(p.history.clone());
        folders.extend(p.journal.clone());
        self.mb.sizes(&folders)
    }

    /// One whole message (BODY.PEEK: nothing marked read).
    pub fn body(&mut self, it: &Item) -> Result<Option<Vec<u8>>> {
        self.mb.fetch_message(&it.folder, it.uid)
    }

    /// Appends the events of several moves together, then clears the moves'
    /// keywords: like `record` for each, in a constant number of round trips.
    pub fn record_all(&mut self, evs: &[(Event<'_>, &Landed)]) -> Result<()> {
        // Each event is known by the ID a later run that finishes the move would give
        // it (`move_id`), where the server told where the message landed.
        let named: Vec<(&Event<'_>, String)> = evs
            .iter()
            .map(|(ev, l)| {
                let own = match (&ev.message_id, l.uid) {
                    (Some(id), _) => id.clone(),
                    (None, Some(uid)) => history::move_id(ev.kind, &l.folder, uid),
                    (None, None) => history::fresh_id(ev),
                };
                (ev, own)
            })
            .collect();
        // The chat targets to tell depend on the kind.
        let rendered: Vec<Vec<u8>> = named
            .chunk_by(|a, b| a.0.kind == b.0.kind)
            .flat_map(|run| history::render_many(run, &self.rules.wanting(run[0].0.kind)))
            .collect();
        let folder = self.event_folder().to_string();
        let login = self.mb.login().to_string();
        let rendered: Vec<Vec<u8>> = rendered
            .iter()
            .map(|r| history::stamped(&login, r))
            .collect();
        self.mb.append_many_seen(&folder, &rendered)?;
        let mut clear: std::collections::BTreeMap<(&str, &[String]), Vec<u32>> =
            std::collections::BTreeMap::new();
        for (_, l) in evs {
            if let Some(uid) = l.uid {
                clear
                    .entry((l.folder.as_str(), l.keywords.as_slice()))
                    .or_default()
                    .push(uid);
            }
        }
        // Every folder's in one round trip.
        let changes: Vec<(&str, &[u32], Flags<'_>)> = clear
            .iter()
            .map(|((folder, kws), uids)| (*folder, uids.as_slice(), Flags::Remove(kws)))
            .collect();
        self.mb.store_each(&changes)
    }

    /// Uses, and afterwards keeps, the header fields of the active folders' messages
    /// (`queue::Heads`); `keep_heads` writes them.
    pub fn use_heads(&mut self) {
        self.heads = queue::Heads::load(self.rules);
    }

    pub fn keep_heads(&mut self) {
        if let Some(h) = self.heads.take() {
            h.save();
        }
    }

    /// A message this run moved and recorded: what is kept of it goes with it.
    pub fn moved(&mut self, it: &Item, to: &str, uid: u32) {
        if let Some(h) = self.heads.as_mut() {
            h.moved(&it.folder, it.uid, to, uid);
        }
    }

    /// Whether sets of contested messages move together here (`take_set`).
    pub fn takes_sets(&self) -> bool {
        take::sets(self)
    }

    /// Moves contested messages of one folder to `dest` as sets; see `take.rs`.
    pub fn take_set(
        &mut self,
        its: &[&Item],
        dest: &Dest,
        actor: Actor<'_>,
    ) -> std::result::Result<Vec<Taken>, take::SetFailed> {
        take::take_set(self, its, dest, actor)
    }

    /// Several sets of one folder, each to its own place; see `take.rs`.
    pub fn take_sets(
        &mut self,
        sets: &[(&[&Item], Dest)],
        actor: Actor<'_>,
    ) -> Vec<std::result::Result<Vec<Taken>, take::SetFailed>> {
        take::take_sets(self, sets, actor)
    }

    /// Moves a message to `dest` if and only if this process wins it; see `take.rs`.
    pub fn take(&mut self, it: &Item, dest: &Dest, actor: Actor<'_>) -> Result<Taken> {
        take::take(self, it, dest, actor)
    }

    /// Finishes what crashed runs left: see `recover.rs`.
    pub fn recover(&mut self, items: &mut Vec<Item>) -> Result<Recovered> {
        recover::recover(self, items)
    }

    pub fn plan_intake(&self, items: &[Item]) -> Vec<Assignment> {
        plan::intake(items, self.rules, &self.paths.inbox, busy)
    }

    /// Gives the human mail of an intake plan bound for 未対応 to the members on duty
    /// instead; returns the hand-out of the mail already in 未対応 (`plan::duty_with_intake`).
    pub fn plan_duty(
        &self,
        items: &[Item],
        intake: &mut [Assignment],
        on_duty: &[String],
    ) -> Vec<Assignment> {
        plan::duty_with_intake(items, intake, &self.paths.unclaimed, on_duty, busy)
    }

    /// The Sent folder: `folders.sent`, else the one the server marks `\Sent`.
    pub fn sent_folder(&mut self) -> Result<Option<String>> {
        let Some(configured) = self.rules.folders.sent.clone() else {
            return self.mb.sent_folder();
        };
        let path = self.mb.path(&configured);
        if self.mb.exists(&path)? {
            return Ok(Some(path));
        }
        Err(crate::error::config(format!(
            "folders.sent: the folder {path} does not exist on {}; give the folder your mail clients file sent mail in",
            self.mb.host()
        )))
    }

    /// Reply events about answered messages, by Message-ID (see `clients`).
    pub fn replies_of(
        &mut self,
        items: &[Item],
    ) -> Result<std::collections::HashMap<String, Vec<Stored>>> {
        clients::replies_of(self, items)
    }

    /// What the server offers, for `init`.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            host: self.mb.host().to_string(),
            separator: self.mb.separator(),
            r#move: self.mb.can(Cap::Move),
            uidplus: self.mb.can(Cap::UidPlus),
            condstore: self.mb.can(Cap::Condstore),
        }
    }

    /// Creates a status folder that a mailbox set up by an older `init` lacks.
    pub fn ensure_folder(&mut self, folder: &str) -> Result<()> {
        if !self.mb.exists(folder)? {
            self.mb.create(folder)?;
        }
        Ok(())
    }

    /// Creates the status folders that are missing; returns those it created.
    pub fn create_folders(&mut self) -> Result<Vec<String>> {
        let existing: HashSet<String> = self.mb.list("*")?.into_iter().map(|fi| fi.name).collect();
        let p = &self.paths;
        let mut wanted = vec![p.unclaimed.clone(), p.claimed.clone()];
        wanted.extend(self.rules.members.iter().map(|m| p.member(&m.key)));
        wanted.push(p.done.clone());
        wanted.push(p.held.clone());
        wanted.push(p.dismissed.clone());
        wanted.push(p.history.clone());
        wanted.extend(p.journal.clone());
        let mut created = Vec::new();
        for name in wanted {
            if !existing.contains(&name) {
                self.mb.create(&name)?;
                created.push(name);
            }
        }
        Ok(created)
    }

    pub fn commands_sent(&self) -> u32 {
        self.mb.commands_sent()
    }
}

/// Storage use against the server's limit (GETQUOTAROOT INBOX).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Quota {
    pub used_bytes: u64,
    pub limit_bytes: u64,
    pub percent: u32,
    /// `quota.warn` from the rules: at or above it, the digest warns.
    pub warn_at: u8,
}

impl Quota {
    pub fn warn(&self) -> bool {
        self.percent >= u32::from(self.warn_at)
    }
}

impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {}, {}%",
            size(self.used_bytes),
            size(self.limit_bytes),
            self.percent
        )
    }
}

/// Bytes as people read them, in the binary units servers count quota in: 812 KiB,
/// 6.2 GiB.
pub fn size(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 100.0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

pub struct Capabilities {
    pub host: String,
    pub separator: char,
    pub r#move: bool,
    pub uidplus: bool,
    pub condstore: bool,
}

/// A message whose keyword says a move is under way: left for that mover (or, when
/// it is stale, for `recover`).
fn busy(it: &Item) -> bool {
    !it.claim_keywords.is_empty()
}

/// Makes an event of the common shape.
pub fn event<'a>(
    kind: &'a str,
    actor: &'a str,
    it: &'a Item,
    to: Option<&'a str>,
    note: Option<&'a str>,
) -> Event<'a> {
    Event {
        kind,
        actor,
        item: it,
        from_folder: &it.folder,
        to_folder: to,
        note,
        at: Utc::now(),
        message_id: None,
    }
}

impl Item {
    /// Whether the desk may treat it as unowned: in the inbox, 未対応, or a folder
    /// under 対応中 that is no member's.
    pub fn contested(&self) -> bool {
        match self.status {
            Status::Done | Status::Dismissed => false,
            // `rotate --apply` gives held mail back while its owner may act on it.
            Status::Held => true,
            Status::Unclaimed | Status::Claimed => self.owner.is_none(),
        }
    }
}
