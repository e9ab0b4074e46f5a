//! Changing the mailbox: STORE of flags and keywords (conditional with CONDSTORE),
//! MOVE (or COPY, then \Deleted and UID EXPUNGE of exactly those UIDs) with the new
//! UIDs from COPYUID, and APPEND (LITERAL+, pipelined). Nothing here decides what to
//! move: the desk does, with its race and crash rules. Calls only the connection,
//! `folders`, `search` and `syntax`.

use super::*;

impl Mailbox {
    /// Sets `flag` only if nobody changed the message since `modseq`. None when
    /// another session got there first ([MODIFIED]).
    pub fn store_if_unchanged(
        &mut self,
        folder: &str,
        uid: u32,
        modseq: u64,
        change: Flags<'_>,
    ) -> Result<Option<Stored>> {
        let (sign, flags) = match change {
            Flags::Add(f) => ('+', f),
            Flags::Remove(f) => ('-', f),
        };
        self.ensure_open(folder, true)?;
        let cmd = format!(
            "UID STORE {uid} (UNCHANGEDSINCE {modseq}) {sign}FLAGS.SILENT ({})",
            flags.join(" ")
        );
        let mut st = Stored {
            echo: None,
            foreign: false,
            highest_before: self.highest_modseq,
        };
        let done = self.conn.run_each(&cmd, |r| {
            if let Ok((_, Response::Fetch(_, attrs))) = parse_response(r)
                && attrs
                    .iter()
                    .any(|a| matches!(a, AttributeValue::Uid(u) if *u == uid))
            {
                // A silent STORE's own echo has no FLAGS (RFC 7162 §3.1.3); another
                // session's change to the message comes with them.
                if attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_))) {
                    st.foreign = true;
                } else {
                    for a in attrs {
                        if let AttributeValue::ModSeq(m) = a {
                            st.echo = Some(m);
                        }
                    }
                }
            }
        })?;
        if done.status != Status::Ok {
            bail!("{}", conn::describe_failure(&cmd, &done));
        }
        // The loser's answer is an OK too: only the response code tells them apart.
        if done.code_is("MODIFIED") {
            return Ok(None);
        }
        Ok(Some(st))
    }

    /// One STORE for many messages of a folder.
    pub fn store(&mut self, folder: &str, uids: &[u32], change: Flags<'_>) -> Result<()> {
        let (sign, flags) = match change {
            Flags::Add(f) => ('+', f),
            Flags::Remove(f) => ('-', f),
        };
        if uids.is_empty() || flags.is_empty() {
            return Ok(());
        }
        let sets = batches(uids);
        if sets.len() > 1 {
            for set in &sets {
                self.store(folder, set, change)?;
            }
            return Ok(());
        }
        // Keywords where the folder keeps none: what the server would forget (or
        // refuse) is not sent; the system flags still are.
        let system: Vec<String> = flags
            .iter()
            .filter(|f| f.starts_with('\\'))
            .cloned()
            .collect();
        let flags: &[String] = if self.keeps.get(folder) == Some(&false) {
            &system
        } else {
            flags
        };
        if flags.is_empty() {
            return Ok(());
        }
        let cmd = format!(
            "UID STORE {} {sign}FLAGS.SILENT ({})",
            uid_set(uids),
            flags.join(" ")
        );
        let stored = if matches!(&self.selected, Some((f, true)) if f == folder) {
            self.conn.run_ok(&cmd).map(|_| ())
        } else {
            // Opening the folder and storing go in one round trip: a STORE cannot
            // run before the SELECT ahead of it, and fails with it.
            self.select_then(folder, &cmd, |_| {})
        };
        match stored {
            // Refused for its keywords by a folder that keeps none, as the SELECT
            // just told: the system flags alone.
            Err(_)
                if self.keeps.get(folder) == Some(&false)
                    && system.len() < flags.len()
                    && matches!(&self.selected, Some((f, true)) if f == folder) =>
            {
                let system = system.clone();
                let change = match change {
                    Flags::Add(_) => Flags::Add(&system),
                    Flags::Remove(_) => Flags::Remove(&system),
                };
                self.store(folder, uids, change)
            }
            r => r,
        }
    }

    /// SELECT of `folder` and `cmd` in one round trip (SELECT is a barrier: the
    /// server cannot run `cmd` before it); `each` gets `cmd`'s untagged answers.
    pub(super) fn select_then(
        &mut self,
        folder: &str,
        cmd: &str,
        mut each: impl FnMut(&[u8]),
    ) -> Result<()> {
        let cmds = [self.open_cmd(folder, true), cmd.to_string()];
        let mut highest = None;
        let mut keeps = None;
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if i == 0 {
                keeps = keeps.or(permanent_keywords(r));
                highest = highest.or(highest_modseq_code(r));
            } else {
                each(r);
            }
        })?;
        let (Some(opened), Some(done)) = (dones.first(), dones.get(1)) else {
            bail!("the IMAP server answered fewer commands than were sent");
        };
        self.opened(folder, true, opened, highest, keeps)?;
        if done.status != Status::Ok {
            bail!("{}", conn::describe_failure(cmd, done));
        }
        Ok(())
    }

    /// Takes in the answer to a SELECT (`write`) or EXAMINE, alone or pipelined:
    /// what is selected now, its HIGHESTMODSEQ, and (from a SELECT) whether it keeps
    /// keywords.
    pub(super) fn opened(
        &mut self,
        folder: &str,
        write: bool,
        opened: &conn::Done,
        highest: Option<u64>,
        keeps: Option<bool>,
    ) -> Result<()> {
        self.highest_modseq = highest;
        if opened.status != Status::Ok {
            self.selected = None;
            return Err(self.open_failed(folder, opened));
        }
        self.selected = Some((folder.to_string(), write));
        if write && let Some(k) = keeps {
            self.keeps.insert(folder.to_string(), k);
        }
        Ok(())
    }

    /// Removes exactly these messages: \Deleted, then UID EXPUNGE of these UIDs
    /// (never a plain EXPUNGE, which would remove other people's deleted mail).
    pub fn remove(&mut self, folder: &str, uids: &[u32]) -> Result<()> {
        self.remove_marked(folder, uids, None)
    }

    /// `remove`, with `mark` stored in the same STORE as \Deleted where the folder
    /// keeps keywords: a run cut before the EXPUNGE leaves a message the next one can
    /// tell from one a mail client marked \Deleted.
    pub fn remove_marked(&mut self, folder: &str, uids: &[u32], mark: Option<&str>) -> Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        let mark = match mark {
            Some(m) if self.keeps_keywords(folder)? => format!(" {m}"),
            _ => String::new(),
        };
        if !self.has("UIDPLUS") {
            bail!(
                "the IMAP server {} lacks UIDPLUS; cannot remove one message safely",
                self.host
            );
        }
        self.ensure_open(folder, true)?;
        for batch in batches(uids) {
            let set = uid_set(&batch);
            self.conn
                .run_ok(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted{mark})"))?;
            self.conn.run_ok(&format!("UID EXPUNGE {set}"))?;
        }
        Ok(())
    }

    /// Moves one message. Uses MOVE where the server has it, else COPY, then
    /// \Deleted and UID EXPUNGE of that one UID (never a plain EXPUNGE, which would
    /// remove other people's deleted mail).
    pub fn move_uid(&mut self, from: &str, uid: u32, to: &str) -> Result<Moved> {
        self.ensure_open(from, true)?;
        let dest = quote(&mutf7::encode(to));
        if self.has("MOVE") {
            let mut new_uid = None;
            let cmd = format!("UID MOVE {uid} {dest}");
            let done = self.conn.run_each(&cmd, |r| {
                if let Some(u) = copyuid_untagged(r) {
                    new_uid = Some(u);
                }
            })?;
            return self.moved(&cmd, done, new_uid);
        }
        if !self.has("UIDPLUS") {
            bail!(
                "the IMAP server {} has neither MOVE nor UIDPLUS; mailduty cannot move one message safely there",
                self.host
            );
        }
        let cmd = format!("UID COPY {uid} {dest}");
        let mut new_uid = None;
        let done = self.conn.run_each(&cmd, |r| {
            if let Some(u) = copyuid_untagged(r) {
                new_uid = Some(u);
            }
        })?;
        let moved = self.moved(&cmd, done, new_uid)?;
        if let Moved::To(new) = moved {
            // A concurrent mover may have marked the source \Deleted just before this
            // COPY, and COPY keeps flags: the copy must not be the next one expunged.
            if let Some(n) = new {
                self.store(to, &[n], Flags::Remove(&["\\Deleted".to_string()]))?;
            }
            self.remove(from, &[uid])?;
        }
        Ok(moved)
    }

    /// Moves one message, then lists the UIDs in `to` matching `keys`: one round
    /// trip where the server has MOVE (the EXAMINE of `to` cannot start before the
    /// move is done, so the search sees the moved copy).
    pub fn move_then_find(
        &mut self,
        from: &str,
        uid: u32,
        to: &str,
        keys: &[Key],
    ) -> Result<(Moved, Vec<u32>)> {
        if !self.has("MOVE") {
            let moved = self.move_uid(from, uid, to)?;
            let found = self.search(to, keys)?;
            return Ok((moved, found));
        }
        self.ensure_open(from, true)?;
        let cmds = [
            format!("UID MOVE {uid} {}", quote(&mutf7::encode(to))),
            self.open_cmd(to, false),
            format!("UID SEARCH {}", criteria(keys)),
        ];
        let (mut new_uid, mut found) = (None, Vec::new());
        let mut dones = self
            .conn
            .pipeline(&cmds, |i, r| {
                if i == 0 {
                    new_uid = new_uid.or(copyuid_untagged(r));
                } else if i == 2
                    && let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                        parse_response(r)
                {
                    found.extend(ids);
                }
            })?
            .into_iter();
        let (Some(moving), Some(opened), Some(searched)) =
            (dones.next(), dones.next(), dones.next())
        else {
            bail!("the IMAP server answered fewer commands than were sent");
        };
        self.selected = None;
        let moved = self.moved(&cmds[0], moving, new_uid)?;
        if opened.status != Status::Ok {
            return Err(self.open_failed(to, &opened));
        }
        self.selected = Some((to.to_string(), false));
        if searched.status != Status::Ok {
            bail!("{}", conn::describe_failure(&cmds[2], &searched));
        }
        Ok((moved, found))
    }

    pub(super) fn moved(&mut self, cmd: &str, done: Done, untagged: Option<u32>) -> Result<Moved> {
        match done.status {
            Status::Ok => {
                let tagged = done.code.as_deref().and_then(copyuid_code);
                match tagged.or(untagged) {
                    Some(u) => Ok(Moved::To(Some(u))),
                    // With UIDPLUS, an OK without COPYUID means nothing matched the UID.
                    None if self.has("UIDPLUS") => Ok(Moved::Gone),
                    None => Ok(Moved::To(None)),
                }
            }
            Status::No
                if done.code_is("EXPUNGEISSUED")
                    || done.code_is("NONEXISTENT") && !done.text.contains("ailbox") =>
            {
                Ok(Moved::Gone)
            }
            _ => bail!("{}", conn::describe_failure(cmd, &done)),
        }
    }

    /// A conditional STORE of many messages, after opening the folder afresh for
    /// writing in the same round trip (so that HIGHESTMODSEQ is current). `uids` must
    /// fit one command line (`batches`). The messages changed since `modseq` are
    /// refused by the server and listed in `modified`.
    pub fn select_store_if_unchanged(
        &mut self,
        folder: &str,
        uids: &[u32],
        modseq: u64,
        change: Flags<'_>,
    ) -> Result<SetStored> {
        let (sign, flags) = match change {
            Flags::Add(f) => ('+', f),
            Flags::Remove(f) => ('-', f),
        };
        let mut out = SetStored::default();
        if uids.is_empty() {
            return Ok(out);
        }
        debug_assert_eq!(batches(uids).len(), 1, "one command line");
        let cmd = format!(
            "UID STORE {} (UNCHANGEDSINCE {modseq}) {sign}FLAGS.SILENT ({})",
            uid_set(uids),
            flags.join(" ")
        );
        let cmds = [self.open_cmd(folder, true), cmd.clone()];
        let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let mut highest = None;
        let mut keeps = None;
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if i == 0 {
                keeps = keeps.or(permanent_keywords(r));
                highest = highest.or(highest_modseq_code(r));
                return;
            }
            let Some((uid, theirs, seqs)) = store_echo(r) else {
                return;
            };
            if theirs {
                out.foreign = true;
            } else if let Some(u) = uid.filter(|u| asked.contains(u)) {
                out.echo.extend(seqs.into_iter().map(|m| (u, m)));
            }
        })?;
        let (Some(opened), Some(done)) = (dones.first(), dones.get(1)) else {
            bail!("the IMAP server answered fewer commands than were sent");
        };
        self.opened(folder, true, opened, highest, keeps)?;
        out.highest_before = highest;
        if done.status != Status::Ok {
            bail!("{}", conn::describe_failure(&cmd, done));
        }
        if done.code_is("MODIFIED") {
            let set = done.code.as_deref().unwrap_or("").split_whitespace().nth(1);
            out.modified = match set.and_then(|s| set_members(s, uids)) {
                Some(m) => m,
                // Unreadable: the server stored the change on the messages it did
                // not name, so what they carry now tells them apart (one gone counts
                // as refused).
                None => self.not_changed(folder, uids, change)?,
            };
        }
        Ok(out)
    }

    /// The messages of `uids` that do not show `change` (or are gone).
    pub(super) fn not_changed(
        &mut self,
        folder: &str,
        uids: &[u32],
        change: Flags<'_>,
    ) -> Result<Vec<u32>> {
        let shows: std::collections::HashSet<u32> = self
            .states(folder, uids)?
            .into_iter()
            .filter(|(_, _, have)| {
                let has = |f: &String| have.iter().any(|h| h.eq_ignore_ascii_case(f));
                match change {
                    Flags::Add(f) => f.iter().all(has),
                    Flags::Remove(f) => !f.iter().any(has),
                }
            })
            .map(|(u, _, _)| u)
            .collect();
        Ok(uids
            .iter()
            .copied()
            .filter(|u| !shows.contains(u))
            .collect())
    }

    /// Moves a set of messages of one folder with one UID MOVE (MOVE and UIDPLUS
    /// needed; `uids` must fit one command line). Returns (source UID, new UID) for
    /// each message the server names in COPYUID as moved; a message gone meanwhile is
    /// not among them. None: the server moved but named no UIDs.
    pub fn move_set(
        &mut self,
        from: &str,
        uids: &[u32],
        to: &str,
    ) -> Result<Option<Vec<(u32, u32)>>> {
        if !self.has("MOVE") || !self.has("UIDPLUS") {
            bail!(
                "moving a set of messages needs MOVE and UIDPLUS on {}",
                self.host
            );
        }
        if uids.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let sets = batches(uids);
        if sets.len() > 1 {
            // A part of a set can be a longer line than the set.
            let mut all = Some(Vec::new());
            for set in &sets {
                match (self.move_set(from, set, to)?, &mut all) {
                    (Some(p), Some(a)) => a.extend(p),
                    _ => all = None,
                }
            }
            return Ok(all);
        }
        self.ensure_open(from, true)?;
        let cmd = format!("UID MOVE {} {}", uid_set(uids), quote(&mutf7::encode(to)));
        let (done, mut codes) = self.run_with_codes(&cmd)?;
        if done.status != Status::Ok {
            if done.code_is("EXPUNGEISSUED") {
                // Some of the set were gone; what moved is in the COPYUID codes, if any.
                let pairs: Vec<(u32, u32)> = codes
                    .iter()
                    .filter_map(|c| copyuid_pairs(c, uids))
                    .flatten()
                    .collect();
                return Ok(Some(pairs));
            }
            bail!("{}", conn::describe_failure(&cmd, &done));
        }
        codes.extend(done.code.clone());
        let found: Vec<Vec<(u32, u32)>> = codes
            .iter()
            .filter_map(|c| copyuid_pairs(c, uids))
            .collect();
        if found.is_empty()
            && codes
                .iter()
                .any(|c| c.to_ascii_uppercase().starts_with("COPYUID"))
        {
            // A COPYUID this process cannot read: moved, new UIDs unknown.
            return Ok(None);
        }
        Ok(Some(found.into_iter().flatten().collect()))
    }

    /// Courier refuses APPEND to the folder selected read-only ("Current box is
    /// selected READ-ONLY"): that one is SELECTed first. Any other selection is left
    /// as it is, costing nothing where the server does not care.
    pub(super) fn writable_for_append(&mut self, folder: &str) -> Result<()> {
        if matches!(&self.selected, Some((f, false)) if f == folder) {
            self.open(folder, true)?;
        }
        Ok(())
    }

    /// Appends messages marked \Seen: one MULTIAPPEND command where the server offers
    /// it (with LITERAL+), else pipelined APPENDs (with LITERAL+), else one at a time.
    /// The count is bounded per command so that neither side's buffers fill.
    pub fn append_many_seen(&mut self, folder: &str, msgs: &[Vec<u8>]) -> Result<()> {
        if msgs.is_empty() {
            return Ok(());
        }
        self.writable_for_append(folder)?;
        let q = quote(&mutf7::encode(folder));
        if !self.has("LITERAL+") {
            for m in msgs {
                self.append_seen(folder, m)?;
            }
            return Ok(());
        }
        let multi = self.has("MULTIAPPEND");
        // At most ~4 MB or 1,000 messages in one command or one pipelined write.
        let mut chunks: Vec<&[Vec<u8>]> = Vec::new();
        let (mut start, mut bytes) = (0, 0);
        for (i, m) in msgs.iter().enumerate() {
            if i > start && (i - start >= 1000 || bytes + m.len() > 4 << 20) {
                chunks.push(&msgs[start..i]);
                (start, bytes) = (i, 0);
            }
            bytes += m.len();
        }
        if start < msgs.len() {
            chunks.push(&msgs[start..]);
        }
        // Every chunk goes in one write: the answers are one short line a command (a
        // few tens of KB for 1,000 APPENDs), which the socket buffers hold while the
        // rest is being written.
        let send = |mb: &mut Self| -> Result<Vec<Done>> {
            if multi {
                mb.conn.multiappend(&q, "\\Seen", &chunks)
            } else {
                let mut all = Vec::new();
                for chunk in &chunks {
                    all.extend(mb.conn.append_pipelined(&q, "\\Seen", chunk)?);
                }
                Ok(all)
            }
        };
        let mut dones = send(self)?;
        // Nothing was stored: one MULTIAPPEND is all or nothing, and pipelined
        // APPENDs to a folder that is not there all fail alike.
        if dones.iter().all(|d| d.status != Status::Ok) && self.created_for(folder, &dones) {
            dones = send(self)?;
        }
        for done in dones {
            if done.status != Status::Ok {
                bail!("cannot append to {folder}: {}", done.text);
            }
        }
        Ok(())
    }

    /// Moves every message of `from` to `to`; returns how many `from` held. A `from`
    /// that does not exist holds none. Only for servers with MOVE.
    ///
    /// One round trip where the server has UNSELECT: UNSELECT, SELECT, `UID MOVE
    /// 1:*`. A MOVE sent behind a SELECT that fails must find no folder selected, or
    /// a server that kept the last one open would move all of it; without UNSELECT
    /// the MOVE waits for the SELECT's answer.
    pub fn move_all(&mut self, from: &str, to: &str) -> Result<u32> {
        if !self.has("MOVE") {
            bail!("the IMAP server {} has no MOVE", self.host);
        }
        let unselect = self.has("UNSELECT");
        let mut cmds = Vec::new();
        if unselect {
            cmds.push("UNSELECT".to_string());
        }
        cmds.push(self.open_cmd(from, true));
        let mv = format!("UID MOVE 1:* {}", quote(&mutf7::encode(to)));
        if unselect {
            cmds.push(mv.clone());
        }
        let first = usize::from(unselect);
        let mut answer = OpenAnswer::default();
        let mut dones = self.conn.pipeline(&cmds, |i, r| {
            if i == first {
                answer.read(r);
            }
        })?;
        let exists = answer.exists;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        let opened = dones.swap_remove(first);
        if opened.status != Status::Ok {
            self.selected = None;
            if missing(&opened) {
                return Ok(0);
            }
            return Err(self.open_failed(from, &opened));
        }
        self.opened(from, true, &opened, answer.highest, answer.keeps)?;
        let moved = if unselect {
            dones.pop().expect("counted above")
        } else if exists == 0 {
            return Ok(0);
        } else {
            self.conn.run_each(&mv, |_| {})?
        };
        // An empty folder has no `1:*` to move, and some servers say so with NO.
        if moved.status != Status::Ok && exists > 0 {
            bail!("{}", conn::describe_failure(&mv, &moved));
        }
        Ok(exists)
    }

    /// Appends a message marked \Seen (history events never show as new mail).
    pub fn append_seen(&mut self, folder: &str, data: &[u8]) -> Result<()> {
        self.writable_for_append(folder)?;
        let q = quote(&mutf7::encode(folder));
        let plus = self.has("LITERAL+");
        let mut done = self.conn.append(&q, "\\Seen", data, plus)?;
        if done.status != Status::Ok && self.created_for(folder, std::slice::from_ref(&done)) {
            done = self.conn.append(&q, "\\Seen", data, plus)?;
        }
        if done.status != Status::Ok {
            bail!("cannot append to {folder}: {}", done.text);
        }
        Ok(())
    }

    /// Moves many messages of one folder in batches (MOVE, else COPY, \Deleted and
    /// UID EXPUNGE of exactly those UIDs), each command line kept short. Returns how
    /// many the server reported moved; a message gone meanwhile is not moved.
    ///
    /// Without MOVE each batch first gets `mark`, so that a run cut between its COPY
    /// and its EXPUNGE can be told apart later, and only the UIDs the server names
    /// in COPYUID as copied are expunged.
    pub fn move_uids(&mut self, from: &str, uids: &[u32], to: &str, mark: &str) -> Result<usize> {
        let dest = quote(&mutf7::encode(to));
        let moving = self.has("MOVE");
        if !moving && !self.has("UIDPLUS") {
            bail!(
                "the IMAP server {} has neither MOVE nor UIDPLUS; mailduty cannot move mail safely there",
                self.host
            );
        }
        let mut moved = 0;
        for batch in &batches(uids) {
            if !moving {
                self.store(from, batch, Flags::Add(&[mark.to_string()]))?;
            }
            self.ensure_open(from, true)?;
            let set = uid_set(batch);
            let verb = if moving { "MOVE" } else { "COPY" };
            let cmd = format!("UID {verb} {set} {dest}");
            let (done, mut codes) = self.run_with_codes(&cmd)?;
            if done.status != Status::Ok {
                bail!("{}", conn::describe_failure(&cmd, &done));
            }
            codes.extend(done.code.clone());
            let copied: Vec<u32> = codes
                .iter()
                .filter_map(|c| copyuid_sources(c, batch))
                .flatten()
                .collect();
            if !moving && !copied.is_empty() {
                // A part of a set can be a longer line than the set.
                for part in batches(&copied) {
                    let set = uid_set(&part);
                    self.conn
                        .run_ok(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))?;
                    self.conn.run_ok(&format!("UID EXPUNGE {set}"))?;
                }
            }
            moved += if moving && copied.is_empty() {
                // A MOVE without COPYUID still moved what it could.
                batch.len()
            } else {
                copied.len()
            };
        }
        Ok(moved)
    }
}
