//! A flag change that reports what it left: each message's flags and MODSEQ right
//! after it, for a caller that goes on to a conditional STORE of the same messages
//! without reading them again.

use anyhow::{Result, bail};
use imap_proto::{AttributeValue, Response};

use super::conn::{self, Status};
use super::{Flags, Mailbox, batches, uid_set};

/// A message as a STORE left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub uid: u32,
    pub modseq: u64,
    pub flags: Vec<String>,
}

impl Mailbox {
    /// `store`, not silent: the server answers each message's flags after the
    /// change, with its MODSEQ once CONDSTORE is enabled. None where that cannot be
    /// had for every message asked: no CONDSTORE, a folder that keeps no keywords
    /// (then the change is made as `store` makes it), a message gone, or a message
    /// reported twice (another session changed it during the STORE: which report is
    /// the last is not to be guessed).
    pub fn store_reporting(
        &mut self,
        folder: &str,
        uids: &[u32],
        change: Flags<'_>,
    ) -> Result<Option<Vec<After>>> {
        let (sign, flags) = match change {
            Flags::Add(f) => ('+', f),
            Flags::Remove(f) => ('-', f),
        };
        if !self.has("CONDSTORE") || self.keeps.get(folder) == Some(&false) || flags.is_empty() {
            self.store(folder, uids, change)?;
            return Ok(None);
        }
        let asked: std::collections::HashSet<u32> = uids.iter().copied().collect();
        let mut seen: Vec<After> = Vec::new();
        let mut unclear = false;
        for set in batches(uids) {
            let cmd = format!(
                "UID STORE {} {sign}FLAGS ({})",
                uid_set(&set),
                flags.join(" ")
            );
            let mut each = |r: &[u8]| {
                let Ok((_, Response::Fetch(_, attrs))) = imap_proto::parser::parse_response(r)
                else {
                    return;
                };
                let (mut uid, mut modseq, mut fl) = (None, None, None);
                for a in attrs {
                    match a {
                        AttributeValue::Uid(u) => uid = Some(u),
                        AttributeValue::ModSeq(m) => modseq = Some(m),
                        AttributeValue::Flags(f) => {
                            fl = Some(f.into_iter().map(|s| s.into_owned()).collect())
                        }
                        _ => {}
                    }
                }
                match (uid, modseq, fl) {
                    (Some(uid), Some(modseq), Some(flags)) => {
                        seen.push(After { uid, modseq, flags })
                    }
                    // A change to a message whose UID the server left out may be to
                    // one of ours.
                    (None, _, _) => unclear = true,
                    (Some(u), _, _) if asked.contains(&u) => unclear = true,
                    _ => {}
                }
            };
            if matches!(&self.selected, Some((f, true)) if f == folder) {
                let done = self.conn.run_each(&cmd, &mut each)?;
                if done.status != Status::Ok {
                    bail!("{}", conn::describe_failure(&cmd, &done));
                }
            } else {
                self.select_then(folder, &cmd, &mut each)?;
            }
        }
        seen.retain(|a| asked.contains(&a.uid));
        seen.sort_by_key(|a| a.uid);
        let once = seen.windows(2).all(|w| w[0].uid != w[1].uid);
        if unclear || !once || seen.len() != asked.len() {
            return Ok(None);
        }
        Ok(Some(seen))
    }
}
