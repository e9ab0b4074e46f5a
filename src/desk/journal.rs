//! The desk's side of 対応履歴: reading the events about a message or a stretch of
//! days (archived history folders too, when asked), recording an event after a move
//! and then clearing the move's keywords, and the marks chat deliveries leave. The
//! history mails themselves are `history`'s; moves are `take`'s.

use super::*;

impl<'r> Desk<'r> {
    /// The history folder, and with `all` the archived history folders as well.
    pub(super) fn history_folders(&mut self, all: bool) -> Result<Vec<String>> {
        let mut folders = self.paths.history_reads();
        if all {
            let pattern = self.rules.archive.history_folder.clone();
            folders.extend(self.archive_folders(&pattern)?);
        }
        Ok(folders)
    }

    /// The events about a message, from the archived history folders too with `all`.
    pub fn events_in(&mut self, it: &Item, all: bool) -> Result<Vec<Stored>> {
        let folders = self.history_folders(all)?;
        history::about(&mut self.mb, &folders, it)
    }

    /// Events since a time, from the archived history folders too with `all`.
    pub fn events_since_in(
        &mut self,
        since: chrono::DateTime<Utc>,
        all: bool,
    ) -> Result<Vec<Stored>> {
        let folders = self.history_folders(all)?;
        history::since(&mut self.mb, &folders, since)
    }

    /// The events about one message.
    pub fn events_of(&mut self, it: &Item) -> Result<Vec<Stored>> {
        history::about(&mut self.mb, &self.paths.history_reads(), it)
    }

    pub fn events_since(&mut self, since: chrono::DateTime<Utc>) -> Result<Vec<Stored>> {
        history::since(&mut self.mb, &self.paths.history_reads(), since)
    }

    /// The claim and assign events from before `before` that can concern `claimed`:
    /// from the day before the oldest of them arrived (a message is claimed after it
    /// arrives) to the day after `before`. One SEARCH, not one per claim.
    pub fn claims_before(
        &mut self,
        claimed: &[&Item],
        before: chrono::DateTime<Utc>,
    ) -> Result<Vec<Stored>> {
        let Some(oldest) = claimed.iter().map(|i| i.arrived).min() else {
            return Ok(Vec::new());
        };
        let day = chrono::Duration::days(1);
        let from = (oldest.min(before) - day).date_naive();
        let to = (before + day).date_naive();
        let mut evs = history::claims_between(&mut self.mb, &self.paths.history_reads(), from, to)?;
        evs.retain(|e| e.time < before);
        Ok(evs)
    }

    /// The first event of `kind` about the pseudo-ID `id` (the digest's marker).
    pub fn marker(&mut self, kind: &str, id: &str) -> Result<Option<Stored>> {
        history::marker(&mut self.mb, &self.paths.history_reads(), kind, id)
    }

    /// Appends an event; after a move, then clears the move's keywords, which until
    /// then tell the next run that this event may be missing.
    pub fn record(&mut self, ev: &Event<'_>, landed: Option<&Landed>) -> Result<()> {
        match landed.and_then(|l| Some((l, l.uid?))) {
            Some((l, uid)) if ev.message_id.is_none() => {
                let ev = Event {
                    message_id: Some(history::move_id(ev.kind, &l.folder, uid)),
                    ..*ev
                };
                self.append_event(&ev)?;
            }
            _ => self.append_event(ev)?,
        }
        if let Some(l) = landed
            && let Some(uid) = l.uid
        {
            self.mb
                .store(&l.folder, &[uid], Flags::Remove(&l.keywords))?;
        }
        Ok(())
    }

    /// Appends an event with the chat targets that want its kind: its pending
    /// deliveries (see `notify`).
    pub(super) fn append_event(&mut self, ev: &Event<'_>) -> Result<()> {
        let notify = self.rules.wanting(ev.kind);
        let folder = self.event_folder().to_string();
        history::append_noting(&mut self.mb, &folder, ev, &notify)
    }

    /// Where this command writes its events: the journal, unless
    /// `write_history_directly` said otherwise.
    pub(super) fn event_folder(&self) -> &str {
        match &self.paths.journal {
            Some(j) if !self.direct => j,
            _ => &self.paths.history,
        }
    }

    /// For `rotate --apply` (the cron): its events go to the history folder, which
    /// it opens anyway to move the journal's in (`settle_history`).
    pub fn write_history_directly(&mut self) {
        self.direct = true;
    }

    /// Moves the events other commands wrote to the journal into the history
    /// folder; returns how many moved. Readers look in both folders, the journal
    /// first, so nothing goes missing while this runs.
    pub fn settle_history(&mut self) -> Result<u32> {
        match self.paths.journal.clone() {
            Some(j) => self.mb.move_all(&j, &self.paths.history.clone()),
            None => Ok(0),
        }
    }

    /// Events since a time that still name chat targets to tell.
    pub fn notify_pending(&mut self, since: chrono::DateTime<Utc>) -> Result<Vec<Stored>> {
        history::pending(&mut self.mb, &self.paths.history_reads(), since)
    }

    /// (target, event Message-ID) of the deliveries made since a time.
    pub fn notify_delivered(
        &mut self,
        since: chrono::DateTime<Utc>,
    ) -> Result<HashSet<(String, String)>> {
        history::delivered(&mut self.mb, &self.paths.history, since)
    }

    /// Marks an event as told to a target.
    pub fn mark_notified(
        &mut self,
        target: &str,
        event_id: &str,
        at: chrono::DateTime<Utc>,
    ) -> Result<()> {
        history::append_delivered(&mut self.mb, &self.paths.history, target, event_id, at)
    }

    /// Writes a lock mark for a chat target's deliveries (see `notify::flush`).
    pub fn notify_lock(
        &mut self,
        target: &str,
        nonce: &str,
        take: bool,
        at: chrono::DateTime<Utc>,
    ) -> Result<()> {
        history::append_lock(&mut self.mb, &self.paths.history, target, nonce, take, at)
    }

    /// The lock marks written since a time.
    pub fn notify_locks(&mut self, since: chrono::DateTime<Utc>) -> Result<Vec<history::Lock>> {
        history::locks(&mut self.mb, &self.paths.history, since)
    }

    /// The events of one kind since a day (the overdue alerts already written).
    pub fn events_of_kind_since(
        &mut self,
        kind: &str,
        day: chrono::NaiveDate,
    ) -> Result<Vec<Stored>> {
        history::of_kind_since(&mut self.mb, &self.paths.history_reads(), kind, day)
    }

    /// Whether an event with this Message-ID is in the history (a retried note).
    pub fn has_event(&mut self, event_message_id: &str) -> Result<bool> {
        let found = self.mb.search_each_present(
            &self.paths.history_reads(),
            &[Key::MessageId(event_message_id.to_string())],
        )?;
        Ok(found.iter().any(|uids| !uids.is_empty()))
    }

    /// The missing event of a move that a retried command finds already done; at most
    /// once (nothing when the history already explains where the message is).
    pub fn complete_history(&mut self, it: &Item, kind: &str, actor: &str) -> Result<bool> {
        recover::complete(self, it, kind, actor)
    }
}
