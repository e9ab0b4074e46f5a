//! Reading messages: SEARCH in one folder or many (pipelined, by chunks kept under a
//! command line's limit), FETCH of the queue's header fields, of whole messages for
//! their identity, and of flags with MODSEQ. Read-only: BODY.PEEK, never a flag
//! changed. Calls only the connection, `folders` (to open) and `syntax`.

use super::*;

impl Mailbox {
    /// `cmd` in each folder, all in one round trip: EXAMINE then `cmd`, folder after
    /// folder (the EXAMINE between keeps each answer with its folder). `each` gets
    /// the folder's index, its message count and every untagged response to `cmd`.
    /// Returns each folder's count and `cmd`'s tagged answer; a folder that cannot be
    /// opened is an error.
    pub(super) fn per_folder(
        &mut self,
        folders: &[String],
        cmd: &str,
        each: impl FnMut(usize, u32, &[u8]),
    ) -> Result<Vec<(u32, Done)>> {
        Ok(self
            .per_folder_present(folders, cmd, false, each)?
            .into_iter()
            .map(|a| a.expect("a missing folder is an error here"))
            .collect())
    }

    /// `per_folder`; with `missing_ok`, a folder that does not exist and that
    /// `may_create` named is None rather than an error (any other is still one).
    pub(super) fn per_folder_present(
        &mut self,
        folders: &[String],
        cmd: &str,
        missing_ok: bool,
        each: impl FnMut(usize, u32, &[u8]),
    ) -> Result<Vec<Option<(u32, Done)>>> {
        Ok(self
            .per_folder_many(
                folders,
                std::slice::from_ref(&cmd.to_string()),
                missing_ok,
                each,
            )?
            .into_iter()
            .map(|a| a.map(|(n, mut d)| (n, d.swap_remove(0))))
            .collect())
    }

    /// `per_folder_present` with several commands after each folder's opening, all
    /// in one round trip; each folder's answers in the order of `cmds`.
    pub(super) fn per_folder_many(
        &mut self,
        folders: &[String],
        cmds_each: &[String],
        missing_ok: bool,
        mut each: impl FnMut(usize, u32, &[u8]),
    ) -> Result<Vec<Option<Answered>>> {
        let stride = 1 + cmds_each.len();
        let mut cmds = Vec::with_capacity(folders.len() * stride);
        for f in folders {
            cmds.push(self.open_cmd(f, false));
            cmds.extend(cmds_each.iter().cloned());
        }
        let mut exists = vec![0u32; folders.len()];
        let mut highest = vec![None; folders.len()];
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if i % stride != 0 {
                each(i / stride, exists[i / stride], r);
            } else if let Some(h) = highest_modseq_code(r) {
                highest[i / stride] = Some(h);
            } else if let Ok((_, Response::MailboxData(MailboxDatum::Exists(n)))) =
                parse_response(r)
            {
                exists[i / stride] = n;
            }
        })?;
        self.selected = None;
        self.highest_modseq = highest.last().copied().flatten();
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        let mut out = Vec::with_capacity(folders.len());
        let mut dones = dones.into_iter();
        for (folder, n) in folders.iter().zip(exists) {
            let opened = dones.next().expect("counted above");
            let answers: Vec<Done> = dones.by_ref().take(cmds_each.len()).collect();
            if opened.status != Status::Ok {
                if missing_ok && self.creatable.contains(folder) && missing(&opened) {
                    out.push(None);
                    continue;
                }
                return Err(self.open_failed(folder, &opened));
            }
            out.push(Some((n, answers)));
        }
        if let (Some(last), Some(Some(_))) = (folders.last(), out.last()) {
            self.selected = Some((last.clone(), false));
        }
        Ok(out)
    }

    /// Every message of each folder with the queue's header fields, never setting
    /// \Seen; each folder's size and then each message go to `each` (with the
    /// folder's index) as they arrive. All folders go in one pipelined batch: one
    /// round trip however many there are.
    pub fn fetch_queues(
        &mut self,
        folders: &[String],
        each: impl FnMut(usize, Queued),
    ) -> Result<()> {
        self.fetch_queues_with(folders, QUEUE_FIELDS, each)
    }

    /// Like `fetch_queues`, with only the header `fields` given.
    pub fn fetch_queues_with(
        &mut self,
        folders: &[String],
        fields: &str,
        each: impl FnMut(usize, Queued),
    ) -> Result<()> {
        self.fetch_queues_known(folders, fields, &[], each)
    }

    /// `fetch_queues_with`, where below `known[k]` (a UID) folder `k`'s messages are
    /// answered as `Queued::Flags`: UID, flags and MODSEQ, not the header fields the
    /// caller already holds. Each folder's UIDVALIDITY comes first, so that the
    /// caller can tell whether what it holds is for this folder.
    pub fn fetch_queues_known(
        &mut self,
        folders: &[String],
        fields: &str,
        known: &[Option<u32>],
        mut each: impl FnMut(usize, Queued),
    ) -> Result<()> {
        let mut q = QueueRead::new(self, folders, fields, known);
        let cmds = std::mem::take(&mut q.cmds);
        let dones = self
            .conn
            .pipeline(&cmds, |i, r| q.answer(i, r, &mut each))?;
        self.selected = None;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        let last_open = q.check(self, &cmds, &dones)?;
        self.highest_modseq = q
            .highest
            .filter(|(k, _)| k + 1 == folders.len())
            .map(|(_, h)| h);
        if let Some(k) = last_open.filter(|&k| k + 1 == folders.len()) {
            self.selected = Some((folders[k].clone(), false));
        }
        Ok(())
    }

    /// Some messages of a folder with the given header fields, never setting \Seen.
    pub fn fetch_fields(
        &mut self,
        folder: &str,
        uids: &[u32],
        fields: &str,
        mut each: impl FnMut(Fetched),
    ) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let modseq = if self.has("CONDSTORE") { " MODSEQ" } else { "" };
        let items = format!(
            "(UID FLAGS INTERNALDATE RFC822.SIZE{modseq} BODY.PEEK[HEADER.FIELDS ({fields})])"
        );
        self.fetch_sets(folder, uids, &items, |r| {
            if let Some(f) = parse_fetch(r) {
                each(f);
            }
        })
    }

    /// `UID FETCH set items` of `folder` for any number of UIDs: the sets compressed
    /// to ranges and split under the line limit (`batches`), pipelined a few at a
    /// time (at most ~64 KB of commands in flight, so that neither side's socket
    /// buffers fill while the other is still writing). A folder not yet open is
    /// opened in the first round trip.
    pub(super) fn fetch_sets(
        &mut self,
        folder: &str,
        uids: &[u32],
        items: &str,
        mut each: impl FnMut(&[u8]),
    ) -> Result<()> {
        let mut cmds: Vec<String> = batches(uids)
            .iter()
            .map(|set| format!("UID FETCH {} {items}", uid_set(set)))
            .collect();
        let mut opening = !self.is_open(folder, false);
        if opening {
            cmds.insert(0, self.open_cmd(folder, false));
        }
        let mut highest = None;
        for group in cmds.chunks(8) {
            let dones = self.conn.pipeline(group, |i, r| {
                if opening && i == 0 {
                    highest = highest.or(highest_modseq_code(r));
                } else {
                    each(r)
                }
            })?;
            let mut dones = dones.into_iter();
            let mut group = group.iter();
            if std::mem::take(&mut opening) {
                let (Some(opened), Some(_)) = (dones.next(), group.next()) else {
                    bail!("the IMAP server answered fewer commands than were sent");
                };
                self.opened(folder, false, &opened, highest, None)?;
            }
            for (cmd, done) in group.zip(dones) {
                // EXPUNGEISSUED (RFC 5530): some were expunged meanwhile and the rest
                // were answered; a message gone is simply not among the answers.
                if done.status != Status::Ok && !done.code_is("EXPUNGEISSUED") {
                    bail!("{}", conn::describe_failure(cmd, &done));
                }
            }
        }
        Ok(())
    }

    /// One whole message, never setting \Seen (BODY.PEEK[]). None when it is gone.
    pub fn fetch_message(&mut self, folder: &str, uid: u32) -> Result<Option<Vec<u8>>> {
        self.ensure_open(folder, false)?;
        let cmd = format!("UID FETCH {uid} (UID BODY.PEEK[])");
        let mut out = None;
        let done = self.conn.run_each(&cmd, |r| {
            if let Some(f) = parse_fetch(r)
                && f.uid == uid
            {
                out = Some(f.header);
            }
        })?;
        if done.status != Status::Ok {
            bail!("{}", conn::describe_failure(&cmd, &done));
        }
        Ok(out)
    }

    /// UIDs in each folder matching all `keys`, in one round trip.
    pub fn search_each(&mut self, folders: &[String], keys: &[Key]) -> Result<Vec<Vec<u32>>> {
        let cmd = format!("UID SEARCH {}", criteria(keys));
        let mut out = vec![Vec::new(); folders.len()];
        let answers = self.per_folder(folders, &cmd, |k, _, r| {
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) = parse_response(r) {
                out[k].extend(ids);
            }
        })?;
        for (_, done) in &answers {
            if done.status != Status::Ok {
                bail!("{}", conn::describe_failure(&cmd, done));
            }
        }
        Ok(out)
    }

    /// `search_each`, where a folder `may_create` named that does not exist yet has
    /// no matches.
    pub fn search_each_present(
        &mut self,
        folders: &[String],
        keys: &[Key],
    ) -> Result<Vec<Vec<u32>>> {
        let cmd = format!("UID SEARCH {}", criteria(keys));
        let mut out = vec![Vec::new(); folders.len()];
        let answers = self.per_folder_present(folders, &cmd, true, |k, _, r| {
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) = parse_response(r) {
                out[k].extend(ids);
            }
        })?;
        for (k, a) in answers.iter().enumerate() {
            match a {
                Some((_, done)) if done.status != Status::Ok => {
                    bail!("{}", conn::describe_failure(&cmd, done));
                }
                Some(_) => {}
                None => out[k].clear(),
            }
        }
        Ok(out)
    }

    /// `search_each_present` of several searches, all in one round trip: each
    /// folder opened once, then one SEARCH per entry of `searches`; the UIDs any of
    /// them matched, per folder. (Answers are not told apart by search: an untagged
    /// SEARCH names none, and a server may answer pipelined ones out of order.)
    pub fn search_many_present(
        &mut self,
        folders: &[String],
        searches: &[Vec<Key>],
    ) -> Result<Vec<Vec<u32>>> {
        let cmds: Vec<String> = searches
            .iter()
            .map(|keys| format!("UID SEARCH {}", criteria(keys)))
            .collect();
        let mut out = vec![Vec::new(); folders.len()];
        if cmds.is_empty() {
            return Ok(out);
        }
        let answers = self.per_folder_many(folders, &cmds, true, |k, _, r| {
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) = parse_response(r) {
                out[k].extend(ids);
            }
        })?;
        for (k, a) in answers.iter().enumerate() {
            match a {
                Some((_, dones)) => {
                    for (cmd, done) in cmds.iter().zip(dones) {
                        if done.status != Status::Ok {
                            bail!("{}", conn::describe_failure(cmd, done));
                        }
                    }
                }
                None => out[k].clear(),
            }
        }
        Ok(out)
    }

    /// UIDs in `folder` matching all `keys`; a folder not yet open is opened in the
    /// same round trip.
    pub fn search(&mut self, folder: &str, keys: &[Key]) -> Result<Vec<u32>> {
        if !self.is_open(folder, false) {
            let mut found = self.search_each(&[folder.to_string()], keys)?;
            return Ok(found.pop().unwrap_or_default());
        }
        let cmd = format!("UID SEARCH {}", criteria(keys));
        let (lines, _) = self.conn.run_ok(&cmd)?;
        let mut out = Vec::new();
        for l in &lines {
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) = parse_response(l) {
                out.extend(ids);
            }
        }
        Ok(out)
    }

    /// The identity (size, arrival, digest of the whole message) of some messages
    /// of a folder, never setting \Seen. Messages no longer there, marked \Deleted
    /// (about to go), or whose identity the server did not give in full are missing.
    pub fn identities(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<(u32, Identity)>> {
        self.identities_of(folder, uids, false)
    }

    /// Like `identities`, marked \Deleted or not: for this process's own copies that
    /// a cut left marked.
    pub fn identities_of(
        &mut self,
        folder: &str,
        uids: &[u32],
        deleted_too: bool,
    ) -> Result<Vec<(u32, Identity)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let mut out = Vec::new();
        self.fetch_sets(
            folder,
            uids,
            "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
            |r| {
                if let Some(f) = parse_fetch(r)
                    && asked.contains(&f.uid)
                    && (deleted_too || !f.flags.iter().any(|x| x.eq_ignore_ascii_case("\\Deleted")))
                    && let Some(id) = identity_of(&f)
                {
                    out.push((f.uid, id));
                }
            },
        )?;
        Ok(out)
    }

    /// MODSEQ and flags of some messages of a folder (CONDSTORE servers give the
    /// MODSEQ; others 0). Messages no longer there are missing.
    pub fn states(&mut self, folder: &str, uids: &[u32]) -> Result<Vec<(u32, u64, Vec<String>)>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let modseq = if self.has("CONDSTORE") { " MODSEQ" } else { "" };
        let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let mut out = Vec::new();
        self.fetch_sets(folder, uids, &format!("(UID FLAGS{modseq})"), |r| {
            if let Some(f) = parse_fetch(r)
                && asked.contains(&f.uid)
            {
                out.push((f.uid, f.modseq.unwrap_or(0), f.flags));
            }
        })?;
        Ok(out)
    }

    /// MODSEQ and flags of one message, or None when it is not there (any more).
    pub fn modseq_flags(&mut self, folder: &str, uid: u32) -> Result<Option<(u64, Vec<String>)>> {
        self.ensure_open(folder, true)?;
        let cmd = format!("UID FETCH {uid} (UID MODSEQ FLAGS)");
        let mut out = None;
        let done = self.conn.run_each(&cmd, |r| {
            if let Some(v) = modseq_flags_of(r, uid) {
                out = Some(v);
            }
        })?;
        if done.status != Status::Ok {
            bail!("{}", conn::describe_failure(&cmd, &done));
        }
        Ok(out)
    }

    /// Like `modseq_flags`, after opening the folder afresh for writing in the same
    /// round trip, so that its HIGHESTMODSEQ is current.
    pub fn select_modseq_flags(
        &mut self,
        folder: &str,
        uid: u32,
    ) -> Result<Option<(u64, Vec<String>)>> {
        let mut out = None;
        self.select_then(
            folder,
            &format!("UID FETCH {uid} (UID MODSEQ FLAGS)"),
            |r| {
                if let Some(v) = modseq_flags_of(r, uid) {
                    out = Some(v);
                }
            },
        )?;
        Ok(out)
    }

    /// `search` in a folder and `uid_states` of others, in one round trip.
    pub fn search_and_states(
        &mut self,
        folder: &str,
        keys: &[Key],
        others: &[String],
    ) -> Result<(Vec<u32>, Vec<UidState>)> {
        self.search_with_states(Some((folder, keys)), others)
    }

    pub(super) fn search_with_states(
        &mut self,
        search: Option<(&str, &[Key])>,
        folders: &[String],
    ) -> Result<(Vec<u32>, Vec<UidState>)> {
        let mut cmds: Vec<String> = Vec::new();
        let mut opening = None;
        if let Some((folder, keys)) = search {
            if !self.is_open(folder, false) {
                opening = Some(folder.to_string());
                cmds.push(self.open_cmd(folder, false));
            }
            cmds.push(format!("UID SEARCH {}", criteria(keys)));
        }
        let first_status = cmds.len();
        cmds.extend(
            folders
                .iter()
                .map(|f| format!("STATUS {} (UIDVALIDITY UIDNEXT)", quote(&mutf7::encode(f)))),
        );
        if cmds.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut uids = Vec::new();
        let mut highest = None;
        let mut found = vec![(None, None); folders.len()];
        // Answers are told apart by what they are, not by the command still awaited:
        // the server may answer these in any order. Each STATUS names its folder; one
        // whose name cannot be matched goes to the command that was awaited.
        let names: Vec<String> = folders.iter().map(|f| mutf7::encode(f)).collect();
        let mut unnamed = Vec::new();
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if let Some((name, state)) = status_answer(r) {
                match names.iter().position(|n| same_mailbox(n, &name)) {
                    Some(k) => found[k] = merge_state(found[k], state),
                    None if i >= first_status => unnamed.push((i - first_status, state)),
                    None => {}
                }
            } else if opening.is_some() && i == 0 {
                highest = highest.or(highest_modseq_code(r));
            } else if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                parse_response(r)
                && search.is_some()
            {
                uids.extend(ids);
            }
        })?;
        for (k, state) in unnamed {
            if found[k] == (None, None) {
                found[k] = state;
            }
        }
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        if let Some(folder) = opening {
            self.opened(&folder, false, &dones[0], highest, None)?;
        }
        if first_status > 0 {
            let done = &dones[first_status - 1];
            if done.status != Status::Ok {
                bail!("{}", conn::describe_failure(&cmds[first_status - 1], done));
            }
        }
        Ok((uids, states_of(found, &dones[first_status..])))
    }
}

/// The queue's part of a pipeline: each folder's EXAMINE, then its FETCHes
/// (`queue_fetches`), the answers handed over as `Queued` as they come (`fetch_queues_known`,
/// `queue_then_look`).
pub(super) struct QueueRead<'f> {
    folders: &'f [String],
    /// The commands, to be sent first in the pipeline.
    pub cmds: Vec<String>,
    /// Each command's folder, and whether it is the folder's opening.
    roles: Vec<(usize, bool)>,
    exists: Vec<u32>,
    sized: Vec<bool>,
    /// The last HIGHESTMODSEQ an opening gave, with its folder.
    pub highest: Option<(usize, u64)>,
}

impl<'f> QueueRead<'f> {
    pub fn new(mb: &Mailbox, folders: &'f [String], fields: &str, known: &[Option<u32>]) -> Self {
        let condstore = mb.has("CONDSTORE");
        let (mut cmds, mut roles) = (Vec::new(), Vec::new());
        for (k, f) in folders.iter().enumerate() {
            cmds.push(mb.open_cmd(f, false));
            roles.push((k, true));
            for c in queue_fetches(condstore, fields, known.get(k).copied().flatten()) {
                cmds.push(c);
                roles.push((k, false));
            }
        }
        QueueRead {
            folders,
            cmds,
            roles,
            exists: vec![0; folders.len()],
            sized: vec![false; folders.len()],
            highest: None,
        }
    }

    /// How many commands the queue's part is.
    pub fn len(&self) -> usize {
        self.roles.len()
    }

    /// An untagged answer while command `i` (one of the queue's) was awaited: each
    /// folder's size and UIDVALIDITY from its EXAMINE, then its messages.
    pub fn answer(&mut self, i: usize, r: &[u8], each: &mut impl FnMut(usize, Queued)) {
        let (k, opening) = self.roles[i];
        if opening {
            if let Some(h) = highest_modseq_code(r) {
                self.highest = Some((k, h));
            } else if let Some(v) = uidvalidity_code(r) {
                each(k, Queued::Validity(v));
            } else if let Ok((_, Response::MailboxData(MailboxDatum::Exists(n)))) =
                parse_response(r)
            {
                self.exists[k] = n;
            }
            return;
        }
        if !self.sized[k] {
            self.sized[k] = true;
            each(k, Queued::Size(self.exists[k]));
        }
        if let Some(f) = parse_fetch(r) {
            each(k, queued(f));
        }
    }

    /// The queue's tagged answers (the first `len()` of `dones`): an error for a
    /// folder that could not be opened or read; the last folder opened.
    pub fn check(&self, mb: &Mailbox, cmds: &[String], dones: &[Done]) -> Result<Option<usize>> {
        let (mut last_open, mut skip) = (None, None);
        for (i, done) in dones[..self.len()].iter().enumerate() {
            let (k, opening) = self.roles[i];
            let folder = &self.folders[k];
            match opening {
                true if done.status != Status::Ok => {
                    // A status folder newer than the mailbox's `init` holds nothing yet.
                    if mb.creatable.contains(folder) && missing(done) {
                        skip = Some(k);
                        last_open = None;
                        continue;
                    }
                    return Err(mb.open_failed(folder, done));
                }
                true => last_open = Some(k),
                false if skip == Some(k) => {}
                // `1:*` of an empty folder is an error on some servers; nothing was missed.
                false if done.status != Status::Ok && self.exists[k] > 0 => {
                    bail!("{}", conn::describe_failure(&cmds[i], done));
                }
                false => {}
            }
        }
        Ok(last_open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_arguments_stay_one_short_line() {
        let huge = format!("{}@x.jp", "x".repeat(70_000));
        let k = Key::MessageId(huge.clone()).render();
        assert!(k.len() < MAX_SEARCH_TEXT + 40, "{}", k.len());
        assert!(k.starts_with("HEADER Message-ID \"<xxx"), "{k}");
        assert_eq!(
            Key::HeaderId("References", "a@b\r\nX LOGOUT".into()).render(),
            "HEADER References \"<a@b\""
        );
        assert_eq!(
            Key::MessageId("<日本@x>".into()).render(),
            "HEADER Message-ID \"<日本@x>\""
        );
    }

    #[test]
    fn a_size_search_also_finds_the_size_on_disk() {
        // 38 bytes with CRLF are 34 on a Courier Maildir with LF: both must match.
        let r = Key::Size(38).render();
        assert_eq!(r, "LARGER 18 SMALLER 39");
        assert_eq!(Key::Size(0).render(), "LARGER 0 SMALLER 1");
        assert_eq!(
            Key::Size(u32::MAX).render(),
            format!("LARGER {} SMALLER {}", u32::MAX / 2 - 1, u32::MAX)
        );
    }
}
