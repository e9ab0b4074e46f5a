//! Several set moves out of one folder in the round trips of one: one SELECT and
//! the conditional STOREs of every set, then their UID MOVEs, pipelined; and flag
//! changes in several folders in one round trip.

use anyhow::{Result, anyhow, bail};

use super::conn::{self, Status};
use super::{
    Flags, Mailbox, SetStored, copyuid_pairs, highest_modseq_code, mutf7, permanent_keywords,
    quote, set_members, store_echo, uid_set,
};

/// What one set's UID MOVE did: the (source, new) UID pairs, None when it moved
/// with new UIDs unknown, or why it was refused.
pub type SetMoved = Result<Option<Vec<(u32, u32)>>>;

impl Mailbox {
    /// `select_store_if_unchanged` for several sets of one folder: one SELECT, then
    /// each set's conditional STORE, all in one round trip. Each set must fit one
    /// command line. The first answer's `highest_before` is the folder's
    /// HIGHESTMODSEQ at the SELECT; the others' is None (they ran after the first).
    pub fn select_store_each_if_unchanged(
        &mut self,
        folder: &str,
        sets: &[(&[u32], u64, Flags<'_>)],
    ) -> Result<Vec<SetStored>> {
        let mut cmds = vec![self.open_cmd(folder, true)];
        for (uids, modseq, change) in sets {
            let (sign, flags) = match change {
                Flags::Add(f) => ('+', f),
                Flags::Remove(f) => ('-', f),
            };
            if uids.is_empty() {
                bail!("select_store_each_if_unchanged: an empty set");
            }
            cmds.push(format!(
                "UID STORE {} (UNCHANGEDSINCE {modseq}) {sign}FLAGS.SILENT ({})",
                uid_set(uids),
                flags.join(" ")
            ));
        }
        let asked: Vec<std::collections::HashSet<u32>> = sets
            .iter()
            .map(|(u, _, _)| u.iter().copied().collect())
            .collect();
        let mut out: Vec<SetStored> = sets.iter().map(|_| SetStored::default()).collect();
        let (mut highest, mut keeps) = (None, None);
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if i == 0 {
                keeps = keeps.or(permanent_keywords(r));
                highest = highest.or(highest_modseq_code(r));
                return;
            }
            let Some((uid, theirs, seqs)) = store_echo(r) else {
                return;
            };
            // Dovecot may run the STOREs side by side: an echo goes to the set that
            // asked for its UID (the sets are disjoint), not by the order of answers.
            let set = uid.and_then(|u| asked.iter().position(|a| a.contains(&u)));
            match (set, uid) {
                (Some(k), Some(u)) if !theirs => {
                    out[k].echo.extend(seqs.into_iter().map(|m| (u, m)));
                }
                (Some(k), _) => out[k].foreign = true,
                // A change to another message, or one this process cannot place:
                // not alone.
                (None, _) => out[i - 1].foreign = true,
            }
        })?;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        self.opened(folder, true, &dones[0], highest, keeps)?;
        if let Some(st) = out.first_mut() {
            st.highest_before = highest;
        }
        for (k, ((uids, _, change), done)) in sets.iter().zip(&dones[1..]).enumerate() {
            if done.status != Status::Ok {
                bail!("{}", conn::describe_failure(&cmds[k + 1], done));
            }
            if done.code_is("MODIFIED") {
                let set = done.code.as_deref().unwrap_or("").split_whitespace().nth(1);
                out[k].modified = match set.and_then(|s| set_members(s, uids)) {
                    Some(m) => m,
                    None => self.not_changed(folder, uids, *change)?,
                };
            }
        }
        Ok(out)
    }

    /// `move_set` for several sets of the selected folder, each to its own folder,
    /// pipelined in one round trip. Each set must fit one command line. Per set: the
    /// (source, new) UID pairs, None when moved with new UIDs unknown, or the error
    /// that refused it (the others may have moved).
    pub fn move_sets(&mut self, from: &str, sets: &[(&[u32], &str)]) -> Result<Vec<SetMoved>> {
        if !self.has("MOVE") || !self.has("UIDPLUS") {
            bail!(
                "moving a set of messages needs MOVE and UIDPLUS on {}",
                self.host
            );
        }
        self.ensure_open(from, true)?;
        let cmds: Vec<String> = sets
            .iter()
            .map(|(uids, to)| format!("UID MOVE {} {}", uid_set(uids), quote(&mutf7::encode(to))))
            .collect();
        let mut codes: Vec<Vec<String>> = sets.iter().map(|_| Vec::new()).collect();
        let dones = self.conn.pipeline(&cmds, |i, r| {
            let text = String::from_utf8_lossy(r);
            if let Some(rest) = text.strip_prefix("* OK ")
                && let (Some(code), _) = conn::split_code(rest.trim_end())
            {
                codes[i].push(code);
            }
        })?;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        // Untagged codes are placed by the first command still awaited, so each
        // set's pairs are looked for in every code: a COPYUID naming a UID a set did
        // not ask for is not that set's.
        let all: Vec<String> = codes
            .into_iter()
            .flatten()
            .chain(dones.iter().filter_map(|d| d.code.clone()))
            .collect();
        Ok(sets
            .iter()
            .zip(&dones)
            .zip(&cmds)
            .map(|(((uids, _), done), cmd)| {
                let found: Vec<Vec<(u32, u32)>> =
                    all.iter().filter_map(|c| copyuid_pairs(c, uids)).collect();
                if done.status != Status::Ok {
                    if done.code_is("EXPUNGEISSUED") {
                        return Ok(Some(found.into_iter().flatten().collect()));
                    }
                    return Err(anyhow!("{}", conn::describe_failure(cmd, done)));
                }
                if found.is_empty()
                    && done
                        .code
                        .as_deref()
                        .is_some_and(|c| c.to_ascii_uppercase().starts_with("COPYUID"))
                {
                    return Ok(None);
                }
                Ok(Some(found.into_iter().flatten().collect()))
            })
            .collect())
    }

    /// `store` in several folders, in one round trip: SELECT and STORE, folder after
    /// folder (each STORE runs in the folder opened before it). Falls back to `store`
    /// one folder at a time where a folder keeps no keywords or a set needs more
    /// than one command line.
    pub fn store_each(&mut self, changes: &[(&str, &[u32], Flags<'_>)]) -> Result<()> {
        let simple = changes.iter().all(|(f, uids, _)| {
            self.keeps.get(*f) != Some(&false) && super::batches(uids).len() <= 1
        });
        let changes: Vec<&(&str, &[u32], Flags<'_>)> = changes
            .iter()
            .filter(|(_, uids, change)| {
                !uids.is_empty()
                    && match change {
                        Flags::Add(f) | Flags::Remove(f) => !f.is_empty(),
                    }
            })
            .collect();
        if !simple || changes.len() < 2 {
            for (f, uids, change) in changes {
                self.store(f, uids, *change)?;
            }
            return Ok(());
        }
        let mut cmds = Vec::new();
        for (folder, uids, change) in &changes {
            let (sign, flags) = match change {
                Flags::Add(f) => ('+', f),
                Flags::Remove(f) => ('-', f),
            };
            cmds.push(self.open_cmd(folder, true));
            cmds.push(format!(
                "UID STORE {} {sign}FLAGS.SILENT ({})",
                uid_set(uids),
                flags.join(" ")
            ));
        }
        let mut keeps: Vec<Option<bool>> = changes.iter().map(|_| None).collect();
        let mut highest: Vec<Option<u64>> = changes.iter().map(|_| None).collect();
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if i % 2 == 0 {
                keeps[i / 2] = keeps[i / 2].or(permanent_keywords(r));
                highest[i / 2] = highest[i / 2].or(highest_modseq_code(r));
            }
        })?;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        let mut again = Vec::new();
        for (k, (folder, uids, change)) in changes.iter().enumerate() {
            self.opened(folder, true, &dones[2 * k], highest[k], keeps[k])?;
            if dones[2 * k + 1].status != Status::Ok {
                // Refused (for keywords a folder keeps none of, say): once more the
                // way `store` does it, which knows what to leave out.
                again.push((*folder, *uids, *change));
            }
        }
        for (folder, uids, change) in again {
            self.store(folder, uids, change)?;
        }
        Ok(())
    }
}
