//! The newest message a search finds, fetched in the search's own round trip: an
//! ESEARCH `RETURN (MAX SAVE)` keeps only the highest UID as the saved result `$`
//! (RFC 5182 §2.4), and a `UID FETCH $` pipelined behind it reads it. For servers
//! with SEARCHRES and ESEARCH; callers fall back to a SEARCH, then a FETCH.

use anyhow::{Result, bail};
use imap_proto::{MailboxDatum, Response};

use super::conn::{self, Status};
use super::{
    Fetched, Key, Mailbox, QUEUE_FIELDS, Queued, UidState, criteria, highest_modseq_code,
    merge_state, mutf7, parse_fetch, parse_response, quote, same_mailbox, states_of, status_answer,
};

/// The UIDs each search found, and each other folder's UIDVALIDITY and UIDNEXT;
/// None for the latter when the look itself (the folder's opening, the SEARCH or the
/// FETCH of `$`) was refused: what `each` was given then is to be ignored, and the
/// searches before it still count.
pub type Searched = (Vec<Vec<u32>>, Option<Vec<UidState>>);

impl Mailbox {
    /// The message with the highest UID in `folder` matching `keys` (header `fields`
    /// given to `each`, read with BODY.PEEK) and the UIDVALIDITY and UIDNEXT of
    /// `others`, after a UID SEARCH in each of `searches`' folders, all in one round
    /// trip; the UIDs each search found (none where its folder is missing). None,
    /// with nothing sent, where the server lacks SEARCHRES or ESEARCH.
    pub fn searched_newest_and_states(
        &mut self,
        searches: &[(&str, &[Key])],
        folder: &str,
        keys: &[Key],
        fields: &str,
        others: &[String],
        each: impl FnMut(Fetched),
    ) -> Result<Option<Searched>> {
        self.queue_then_look(
            &[],
            &[],
            |_, _| {},
            searches,
            folder,
            keys,
            fields,
            others,
            each,
        )
    }

    /// `fetch_queues_known` of `queues`, then `searched_newest_and_states`, all in
    /// one round trip. None, with nothing sent, where the server lacks SEARCHRES or
    /// ESEARCH.
    #[allow(clippy::too_many_arguments)]
    pub fn queue_then_look(
        &mut self,
        queues: &[String],
        known: &[Option<u32>],
        mut each_queued: impl FnMut(usize, Queued),
        searches: &[(&str, &[Key])],
        folder: &str,
        keys: &[Key],
        fields: &str,
        others: &[String],
        mut each: impl FnMut(Fetched),
    ) -> Result<Option<Searched>> {
        if !self.has("SEARCHRES") || !self.has("ESEARCH") {
            return Ok(None);
        }
        let mut queue = super::search::QueueRead::new(self, queues, QUEUE_FIELDS, known);
        let mut cmds: Vec<String> = std::mem::take(&mut queue.cmds);
        let q = cmds.len();
        for (f, k) in searches {
            cmds.push(self.open_cmd(f, false));
            cmds.push(format!("UID SEARCH {}", criteria(k)));
        }
        let before = cmds.len();
        let opening = before > 0 || !self.is_open(folder, false);
        if opening {
            cmds.push(self.open_cmd(folder, false));
        }
        let search_at = cmds.len();
        cmds.push(format!("UID SEARCH RETURN (MAX SAVE) {}", criteria(keys)));
        let modseq = if self.has("CONDSTORE") { " MODSEQ" } else { "" };
        cmds.push(format!(
            "UID FETCH $ (UID FLAGS INTERNALDATE RFC822.SIZE{modseq} BODY.PEEK[HEADER.FIELDS ({fields})])"
        ));
        let first_status = cmds.len();
        cmds.extend(
            others
                .iter()
                .map(|f| format!("STATUS {} (UIDVALIDITY UIDNEXT)", quote(&mutf7::encode(f)))),
        );
        let names: Vec<String> = others.iter().map(|f| mutf7::encode(f)).collect();
        let mut found = vec![(None, None); others.len()];
        let mut unnamed = Vec::new();
        let mut highest = None;
        let mut hits: Vec<Vec<u32>> = vec![Vec::new(); searches.len()];
        let dones = self.conn.pipeline(&cmds, |i, r| {
            // Answers are told apart by what they are: a server may answer a STATUS
            // before the FETCHes ahead of it.
            if let Some((name, state)) = status_answer(r) {
                match names.iter().position(|n| same_mailbox(n, &name)) {
                    Some(k) => found[k] = merge_state(found[k], state),
                    None if i >= first_status => unnamed.push((i - first_status, state)),
                    None => {}
                }
                return;
            }
            if i < q {
                return queue.answer(i, r, &mut each_queued);
            }
            if i < before {
                let i = i - q;
                // Each folder is opened before its SEARCH (an opening is a barrier),
                // so an untagged SEARCH belongs to the command awaited.
                if i % 2 == 1
                    && let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                        parse_response(r)
                {
                    hits[i / 2].extend(ids);
                }
                return;
            }
            if opening && i == before {
                highest = highest.or(highest_modseq_code(r));
            } else if let Some(f) = parse_fetch(r) {
                each(f);
            }
        })?;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        for (k, state) in unnamed {
            if found[k] == (None, None) {
                found[k] = state;
            }
        }
        self.selected = None;
        queue.check(self, &cmds, &dones)?;
        for (k, hit) in hits.iter_mut().enumerate() {
            let (open, search) = (&dones[q + 2 * k], &dones[q + 2 * k + 1]);
            if open.status != Status::Ok {
                // Missing (a mailbox older than the folder, as `search_each_present`
                // allows): nothing in it. Any other failure is one.
                let f = searches[k].0;
                if self.creatable.contains(f) && super::missing(open) {
                    hit.clear();
                    continue;
                }
                return Err(self.open_failed(f, open));
            }
            if search.status != Status::Ok {
                bail!("{}", conn::describe_failure(&cmds[q + 2 * k + 1], search));
            }
        }
        // The look is an optimisation: refused, it leaves the caller to look again
        // its own way, and what came before it stands.
        let look_ok = (!opening || dones[before].status == Status::Ok)
            && [search_at, search_at + 1]
                .iter()
                .all(|&k| dones[k].status == Status::Ok);
        if !look_ok {
            return Ok(Some((hits, None)));
        }
        if opening {
            self.opened(folder, false, &dones[before], highest, None)?;
        }
        let states = states_of(found, &dones[first_status..]);
        Ok(Some((hits, Some(states))))
    }
}
