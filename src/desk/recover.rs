//! Finishing what a crashed or cut run left, run by every `rotate --apply`:
//!
//! - a move keyword unchanged for `STALE` was left by a process that died. Where the
//!   message still sits where that move started, the keyword is cleared so the
//!   message is filed and handed out again; where it got to its destination, the
//!   move's event is written if the history does not already explain it;
//! - proven copies of one stored message in two status folders (a server without
//!   MOVE cut between COPY and EXPUNGE, or a mail client) are resolved by the same
//!   rule every mover applies (`rules::keeper`). Look-alikes stay.
//!
//! Its cost follows the messages that carry a keyword or share a Message-ID, not the
//! size of the folders: 完了 is only searched for keywords on the server.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;

use super::rules::{self, REMOVE, STALE, explain, is_stale, keeper};
use super::{Desk, Place, event};
use crate::desk::history::{self, Event};
use crate::desk::queue::{self, Item};
use crate::imap::{Flags, Identity, Key};

/// What `recover` did.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Recovered {
    /// History events written for moves whose process stopped before writing them.
    pub events: usize,
    /// Messages freed of a keyword left by a move that never happened.
    pub unstuck: usize,
    /// Copies removed because another copy of the same stored message stays.
    pub healed: usize,
}

pub fn recover(desk: &mut Desk<'_>, items: &mut Vec<Item>) -> Result<Recovered> {
    let mut done = Recovered::default();
    let mut flagged: Vec<Item> = items
        .iter()
        .filter(|i| !i.claim_keywords.is_empty())
        .cloned()
        .collect();
    flagged.extend(flagged_in_done(desk)?);
    if !flagged.is_empty() {
        (desk.pause)(STALE);
        let mut by_folder: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for it in &flagged {
            by_folder.entry(it.folder.clone()).or_default().push(it.uid);
        }
        let mut now: HashMap<(String, u32), (u64, Vec<String>)> = HashMap::new();
        for (folder, uids) in by_folder {
            for (uid, modseq, flags) in desk.mb.states(&folder, &uids)? {
                now.insert((folder.clone(), uid), (modseq, flags));
            }
        }
        for it in &flagged {
            let Some((modseq, flags)) = now.get(&(it.folder.clone(), it.uid)) else {
                continue;
            };
            let first_flags: Vec<String> = it.claim_keywords.clone();
            if !is_stale((it.modseq.unwrap_or(0), &first_flags), (*modseq, flags)) {
                continue;
            }
            let place = desk.paths.place(&it.folder, desk.rules);
            let explained = place
                .as_ref()
                .and_then(|p| it.claim_keywords.iter().find_map(|k| explain(p, k)));
            if let Some((kind, actor)) = &explained
                && complete(desk, it, kind, actor)?
            {
                done.events += 1;
            }
            // Conditional, so that a mover who set its keyword since is not undone.
            let cleared = if desk.mb.can(crate::imap::Cap::Condstore) {
                desk.mb
                    .store_if_unchanged(
                        &it.folder,
                        it.uid,
                        *modseq,
                        Flags::Remove(&it.claim_keywords),
                    )?
                    .is_some()
            } else {
                desk.mb
                    .store(&it.folder, &[it.uid], Flags::Remove(&it.claim_keywords))?;
                true
            };
            if cleared {
                if explained.is_none() {
                    done.unstuck += 1;
                }
                if let Some(i) = items
                    .iter_mut()
                    .find(|i| i.folder == it.folder && i.uid == it.uid)
                {
                    i.claim_keywords.clear();
                    i.modseq = None;
                }
            }
        }
    }
    done.healed = finish_removals(desk, items)? + heal(desk, items)?;
    Ok(done)
}

/// Removals of proven copies that a cut left between their `\Deleted` and their
/// EXPUNGE, told by mailduty's own mark (`rules::is_own_removal`; a `\Deleted`
/// alone may be a mail client's, which is never mailduty's to expunge). Each is
/// finished only where a live copy of the same stored message (same size, arrival
/// and bytes) is still there to vouch for it; otherwise it stays as it is.
fn finish_removals(desk: &mut Desk<'_>, items: &[Item]) -> Result<usize> {
    let pending = std::mem::take(&mut desk.removing);
    if pending.is_empty() || !desk.mb.can(crate::imap::Cap::UidPlus) {
        return Ok(0);
    }
    let mut by_folder: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (f, u) in pending {
        by_folder.entry(f).or_default().push(u);
    }
    let mut marked: Vec<(String, u32, Identity)> = Vec::new();
    for (f, uids) in by_folder {
        for (u, id) in desk.mb.identities_of(&f, &uids, true)? {
            marked.push((f.clone(), u, id));
        }
    }
    // The queue's live messages of the same size and arrival may be the copies that
    // stay; a move into 完了 without MOVE leaves its copy there instead.
    let mut wanted: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for it in items {
        if marked
            .iter()
            .any(|(_, _, id)| id.size == it.size && id.arrived == Some(it.arrived.timestamp()))
        {
            wanted.entry(it.folder.clone()).or_default().push(it.uid);
        }
    }
    let mut live: Vec<Identity> = Vec::new();
    for (f, uids) in wanted {
        live.extend(desk.mb.identities(&f, &uids)?.into_iter().map(|(_, id)| id));
    }
    let sizes: Vec<Key> = marked
        .iter()
        .filter(|(_, _, id)| !live.contains(id))
        .map(|(_, _, id)| Key::Size(id.size))
        .collect();
    if !sizes.is_empty() {
        let done = desk.paths.done.clone();
        let uids = desk.mb.search(&done, &[Key::Any(sizes)])?;
        live.extend(
            desk.mb
                .identities(&done, &uids)?
                .into_iter()
                .map(|(_, id)| id),
        );
    }
    let mut proven: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (f, u, id) in &marked {
        if live.contains(id) {
            proven.entry(f.clone()).or_default().push(*u);
        }
    }
    let mut n = 0;
    for (f, uids) in proven {
        desk.mb.remove(&f, &uids)?;
        n += uids.len();
    }
    Ok(n)
}

/// Messages in 完了 that still carry a `done` keyword (a `done` cut before its event).
fn flagged_in_done(desk: &mut Desk<'_>) -> Result<Vec<Item>> {
    let folders = [desk.paths.done.clone(), desk.paths.dismissed.clone()];
    let keys = done_keys(desk);
    // Searched in the queue's round trip, or with the mail-client step's first look,
    // where the server allows.
    let searches: Vec<(&str, &[Key])> = folders.iter().map(|f| (f.as_str(), &keys[..])).collect();
    let found = match desk.done_hits.take() {
        Some(found) => found,
        None => match super::clients::look_ahead(desk, &searches)? {
            Some(found) => found,
            None => desk.mb.search_each_present(&folders, &keys)?,
        },
    };
    let mut out = Vec::new();
    for (folder, uids) in folders.iter().zip(found) {
        out.extend(queue::load_uids(
            &mut desk.mb,
            desk.rules,
            &desk.paths,
            folder,
            &uids,
        )?);
    }
    Ok(out)
}

/// The search for the keywords a `done` or `dismiss` cut before its event leaves.
pub(super) fn done_keys(desk: &Desk<'_>) -> [Key; 1] {
    let mut kws: Vec<Key> = desk
        .rules
        .members
        .iter()
        .map(|m| {
            Key::Keyword(rules::keyword(
                &super::Dest::Done,
                rules::Actor::Member(&m.key),
            ))
        })
        .collect();
    kws.push(Key::Keyword(rules::keyword(
        &super::Dest::Done,
        rules::Actor::Rotate,
    )));
    // 対応不要 likewise (a dismiss cut before its event), searched in the same round trip.
    kws.extend(super::hold::dismiss_keywords(desk));
    [Key::Any(kws)]
}

/// Writes the event of a move that is done but maybe not recorded: nothing when the
/// latest event about this stored message already puts it where it is.
pub fn complete(desk: &mut Desk<'_>, it: &Item, kind: &str, actor: &str) -> Result<bool> {
    let evs = desk.events_of(it)?;
    let own = history::move_id(kind, &it.folder, it.uid);
    if evs
        .iter()
        .any(|e| e.own_id.as_deref() == Some(own.as_str()))
    {
        return Ok(false);
    }
    let last = evs
        .iter()
        .filter(|e| e.concerns(it))
        .rfind(|e| e.to_folder.is_some());
    if last.and_then(|e| e.to_folder.as_deref()) == Some(it.folder.as_str()) {
        return Ok(false);
    }
    let from = last
        .and_then(|e| e.to_folder.clone())
        .unwrap_or_else(|| desk.paths.inbox.clone());
    let ev = Event {
        from_folder: &from,
        message_id: Some(own),
        ..event(
            kind,
            actor,
            it,
            Some(&it.folder),
            Some("recorded by a later run: the move's own run stopped before writing it"),
        )
    };
    desk.append_event(&ev)?;
    Ok(true)
}

/// Resolves proven copies among the queue's messages; returns how many it removed.
fn heal(desk: &mut Desk<'_>, items: &mut Vec<Item>) -> Result<usize> {
    // Copies keep size and arrival: only messages sharing those (and the ID hash)
    // are worth fetching a header for.
    let mut groups: HashMap<(&str, u32, i64), Vec<usize>> = HashMap::new();
    for (i, it) in items.iter().enumerate() {
        if it.claim_keywords.is_empty() {
            groups
                .entry((it.hash.as_str(), it.size, it.arrived.timestamp()))
                .or_default()
                .push(i);
        }
    }
    let groups: Vec<Vec<usize>> = groups.into_values().filter(|g| g.len() > 1).collect();
    // Without UIDPLUS one copy cannot be removed alone: both stay, each with its own label.
    if groups.is_empty() || !desk.mb.can(crate::imap::Cap::UidPlus) {
        return Ok(0);
    }
    let mut wanted: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for &i in groups.iter().flatten() {
        wanted
            .entry(items[i].folder.clone())
            .or_default()
            .push(items[i].uid);
    }
    let mut ids: HashMap<(String, u32), Identity> = HashMap::new();
    for (folder, uids) in wanted {
        for (uid, id) in desk.mb.identities(&folder, &uids)? {
            ids.insert((folder.clone(), uid), id);
        }
    }
    let mut gone: Vec<(String, u32)> = Vec::new();
    let mut keep_at: Vec<(String, u32, Identity)> = Vec::new();
    for g in groups {
        let mut by_id: Vec<(Identity, Vec<usize>)> = Vec::new();
        for i in g {
            let Some(id) = ids.get(&(items[i].folder.clone(), items[i].uid)) else {
                continue;
            };
            match by_id.iter_mut().find(|(x, _)| x == id) {
                Some((_, v)) => v.push(i),
                None => by_id.push((id.clone(), vec![i])),
            }
        }
        for (_, copies) in by_id.into_iter().filter(|(_, v)| v.len() > 1) {
            let places: Vec<Place> = copies
                .iter()
                .map(|&i| {
                    desk.paths
                        .place(&items[i].folder, desk.rules)
                        .unwrap_or(Place::ClaimedUnknown)
                })
                .collect();
            let view: Vec<(&Place, &str, u32)> = copies
                .iter()
                .zip(&places)
                .map(|(&i, p)| (p, items[i].folder.as_str(), items[i].uid))
                .collect();
            let Some(keep) = keeper(&view) else { continue };
            let k_item = &items[copies[keep]];
            keep_at.push((
                k_item.folder.clone(),
                k_item.uid,
                ids[&(k_item.folder.clone(), k_item.uid)].clone(),
            ));
            for (k, &i) in copies.iter().enumerate() {
                // The keeper's own place named twice (a read that gave a message
                // twice) is the keeper, not a copy of it.
                let same = (items[i].folder.as_str(), items[i].uid)
                    == (k_item.folder.as_str(), k_item.uid);
                if k != keep && !same {
                    gone.push((items[i].folder.clone(), items[i].uid));
                }
            }
        }
    }
    // The queue was read a while ago: a keeper another run or a person has moved or
    // removed since cannot vouch for its copies, which then all stay.
    let mut keepers: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (f, u, _) in &keep_at {
        keepers.entry(f.clone()).or_default().push(*u);
    }
    let mut alive: Vec<(String, u32, Identity)> = Vec::new();
    for (f, uids) in keepers {
        for (u, id) in desk.mb.identities(&f, &uids)? {
            alive.push((f.clone(), u, id));
        }
    }
    let vouched: Vec<&Identity> = keep_at
        .iter()
        .filter(|k| alive.contains(k))
        .map(|(_, _, id)| id)
        .collect();
    gone.retain(|g| ids.get(g).is_some_and(|id| vouched.contains(&id)));
    let mut by_folder: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (f, u) in &gone {
        by_folder.entry(f.clone()).or_default().push(*u);
    }
    for (f, uids) in by_folder {
        desk.mb.remove_marked(&f, &uids, Some(REMOVE))?;
    }
    items.retain(|i| !gone.contains(&(i.folder.clone(), i.uid)));
    queue::assign_ids(items);
    Ok(gone.len())
}
