//! What `rotate --apply` read of each message's header fields, kept on this machine
//! so that the next run reads only UID, flags and MODSEQ of the messages it already
//! knows. Under one UIDVALIDITY a UID names one stored message forever, and a
//! message's header fields, INTERNALDATE and size never change (a move lands it
//! under a new UID, which the move's COPYUID gives): so what is kept by (folder,
//! UIDVALIDITY, UID) stays true. Flags and MODSEQ are always read from the server.
//!
//! Kept in `$XDG_CACHE_HOME/mailduty/heads-<mailbox>.json` (0600: it holds subjects
//! and senders). An optimisation only: a file that is missing, unreadable, altered
//! (its last line is the SHA-256 of the rest), from another mailbox, another build of
//! mailduty or other automated-mail marks is not used; a folder whose UIDVALIDITY
//! changed is read whole; a known UID with nothing kept for it, or whose size differs
//! from what was kept, is read by a FETCH of its own. The result is the same as a
//! whole read in every case.
//!
//! Part of the queue; calls nothing but `rules` for the directory.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Format of the file; another one is not read.
const VERSION: u32 = 1;

/// The header fields of one message, as `queue::item` makes them. Short names in
/// the file: it holds every active message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    #[serde(rename = "h")]
    pub hash: String,
    #[serde(rename = "i")]
    pub message_id: Option<String>,
    #[serde(rename = "f")]
    pub from: String,
    #[serde(rename = "n")]
    pub from_name: Option<String>,
    #[serde(rename = "s")]
    pub subject: String,
    /// INTERNALDATE, else the Date header; None: neither (the read's time stands in).
    #[serde(rename = "a")]
    pub arrived: Option<DateTime<Utc>>,
    #[serde(rename = "z")]
    pub size: u32,
    #[serde(rename = "p")]
    pub in_reply_to: Vec<String>,
    #[serde(rename = "r")]
    pub references: Vec<String>,
    #[serde(rename = "v")]
    pub automated: Option<crate::automated::Verdict>,
}

#[derive(Debug, Clone, Default)]
struct Folder {
    validity: u32,
    /// Every message below this UID that is not \Deleted has its head here, unless
    /// it came by a way this file did not see (then it is read on its own).
    next: u32,
    heads: HashMap<u32, Head>,
}

/// A folder as the file holds it.
#[derive(Serialize, Deserialize)]
struct Kept {
    validity: u32,
    next: u32,
    heads: Vec<(u32, Head)>,
}

#[derive(Default, Serialize, Deserialize)]
struct File {
    version: u32,
    /// Host, port, user and shared mailbox.
    account: String,
    /// The mailduty that wrote it (its automated-mail checks made the verdicts).
    program: String,
    /// A digest of the key that marks mailduty's own mail (a verdict depends on it).
    marks: String,
    folders: BTreeMap<String, Kept>,
}

/// The kept heads, and what this run read and moved.
pub struct Heads {
    path: PathBuf,
    /// The file as read, without its folders.
    file: File,
    kept: HashMap<String, Folder>,
    /// Folders read this run: their UIDVALIDITY and what was seen in them.
    read: HashMap<String, Folder>,
    /// The size of the file read: room for the one written.
    size: usize,
}

impl Heads {
    /// The kept heads for this mailbox (none when the file is missing or not to be
    /// trusted); None when there is no cache directory.
    pub fn load(rules: &crate::rules::Rules) -> Option<Heads> {
        let dir = crate::rules::xdg_dir("XDG_CACHE_HOME", ".cache")?;
        let (account, name) = crate::desk::quiet::account(rules);
        let path = dir.join("mailduty").join(format!("heads-{name}.json"));
        let fresh = File {
            version: VERSION,
            account,
            program: program(),
            marks: crate::desk::quiet::hex(&Sha256::digest(rules.mark_key)),
            folders: BTreeMap::new(),
        };
        let raw = std::fs::read(&path).unwrap_or_default();
        let mut file = parse(&raw)
            .filter(|f| {
                (f.version, &f.account, &f.program, &f.marks)
                    == (fresh.version, &fresh.account, &fresh.program, &fresh.marks)
            })
            .unwrap_or(fresh);
        let kept = std::mem::take(&mut file.folders)
            .into_iter()
            .map(|(name, k)| {
                let f = Folder {
                    validity: k.validity,
                    next: k.next,
                    heads: k.heads.into_iter().collect(),
                };
                (name, f)
            })
            .collect();
        Some(Heads {
            path,
            file,
            kept,
            read: HashMap::new(),
            size: raw.len(),
        })
    }

    /// The UID below which `folder`'s heads are kept, for the read to ask only flags.
    pub fn known(&self, folder: &str) -> Option<u32> {
        self.kept.get(folder).map(|f| f.next)
    }

    /// The kept head of a message, where the folder's UIDVALIDITY is the kept one.
    pub fn get(&self, folder: &str, validity: Option<u32>, uid: u32) -> Option<&Head> {
        let f = self.kept.get(folder)?;
        (Some(f.validity) == validity).then(|| f.heads.get(&uid))?
    }

    /// Notes a message seen in this run's read of `folder` (`head`: what is known of
    /// it; None for one seen without, a \Deleted one).
    pub fn seen(&mut self, folder: &str, validity: Option<u32>, uid: u32, head: Option<Head>) {
        let Some(f) = self.read_of(folder, validity) else {
            return;
        };
        f.next = f.next.max(uid.saturating_add(1));
        if let Some(h) = head {
            f.heads.insert(uid, h);
        }
    }

    /// Notes a read of `folder` under `validity` (from its opening, before its
    /// messages).
    pub fn opened(&mut self, folder: &str, validity: Option<u32>) {
        self.read_of(folder, validity);
    }

    /// What this run read of `folder`, begun afresh under another UIDVALIDITY; None
    /// when the server gave none (then nothing of it is kept).
    fn read_of(&mut self, folder: &str, validity: Option<u32>) -> Option<&mut Folder> {
        let validity = validity?;
        let f = self.read.entry(folder.to_string()).or_default();
        if f.validity != validity {
            *f = Folder {
                validity,
                next: 1,
                heads: HashMap::new(),
            };
        }
        Some(f)
    }

    /// A message this run moved from (`folder`, `uid`) to (`to`, `to_uid`), its
    /// event written: its head goes with it, where `to` was read this run.
    pub fn moved(&mut self, folder: &str, uid: u32, to: &str, to_uid: u32) {
        let Some(head) = self
            .read
            .get(folder)
            .and_then(|f| f.heads.get(&uid))
            .cloned()
        else {
            return;
        };
        if let Some(f) = self.read.get_mut(to) {
            f.next = f.next.max(to_uid.saturating_add(1));
            f.heads.insert(to_uid, head);
        }
    }

    /// Writes what this run read for the next run (a folder no longer read, one
    /// removed, is forgotten). A failure costs the next run its shortcut, nothing else.
    pub fn save(mut self) {
        self.file.folders = std::mem::take(&mut self.read)
            .into_iter()
            .map(|(name, f)| {
                let mut heads: Vec<(u32, Head)> = f.heads.into_iter().collect();
                heads.sort_unstable_by_key(|(u, _)| *u);
                let k = Kept {
                    validity: f.validity,
                    next: f.next,
                    heads,
                };
                (name, k)
            })
            .collect();
        let _ = write(&self.path, &self.file, self.size);
    }
}

/// The body, then a line with its SHA-256: a file cut short or changed is not used.
/// This mailduty: its version and its binary's size and time, so that a file written
/// by another build (whose checks may tell mail apart differently) is not used.
fn program() -> String {
    let exe = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| {
            let t = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            format!("{} {:?}", m.len(), t)
        })
        .unwrap_or_default();
    format!("{} {exe}", env!("CARGO_PKG_VERSION"))
}

fn parse(b: &[u8]) -> Option<File> {
    let b = b.strip_suffix(b"\n")?;
    let nl = b.iter().rposition(|&c| c == b'\n')?;
    let (body, sum) = (&b[..nl], &b[nl + 1..]);
    if sum != crate::desk::quiet::hex(&Sha256::digest(body)).as_bytes() {
        return None;
    }
    serde_json::from_slice(body).ok()
}

fn write(path: &std::path::Path, file: &File, size: usize) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut body = Vec::with_capacity(size + size / 4 + 4096);
    serde_json::to_writer(&mut body, file).map_err(std::io::Error::other)?;
    let sum = crate::desk::quiet::hex(&Sha256::digest(&body));
    body.push(b'\n');
    body.extend_from_slice(sum.as_bytes());
    body.push(b'\n');
    let tmp = dir.join(format!(".heads.{}.tmp", std::process::id()));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    out.write_all(&body)?;
    drop(out);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(s: &str) -> Head {
        Head {
            hash: "h".into(),
            message_id: Some(format!("{s}@x")),
            from: "a@x".into(),
            from_name: None,
            subject: s.into(),
            arrived: DateTime::from_timestamp(1_700_000_000, 0),
            size: 10,
            in_reply_to: vec![],
            references: vec![],
            automated: None,
        }
    }

    fn heads(dir: &std::path::Path, file: File) -> Heads {
        let kept = file
            .folders
            .iter()
            .map(|(n, k)| {
                let f = Folder {
                    validity: k.validity,
                    next: k.next,
                    heads: k.heads.iter().cloned().collect(),
                };
                (n.clone(), f)
            })
            .collect();
        Heads {
            path: dir.join("heads.json"),
            file: File {
                version: VERSION,
                ..File::default()
            },
            kept,
            read: HashMap::new(),
            size: 0,
        }
    }

    #[test]
    fn kept_heads_come_back_only_for_their_uidvalidity_and_unaltered() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = heads(dir.path(), File::default());
        h.seen("対応中/a", Some(7), 3, Some(head("three")));
        h.seen("対応中/a", Some(7), 5, None);
        h.opened("未対応", Some(9));
        h.seen("INBOX", Some(1), 40, Some(head("moved")));
        h.moved("INBOX", 40, "対応中/a", 12);
        h.moved("INBOX", 40, "完了", 2);
        h.save();
        let raw = std::fs::read(dir.path().join("heads.json")).unwrap();
        let again = parse(&raw).expect("a file it wrote is read back");
        let k = heads(dir.path(), again);
        assert_eq!(k.known("対応中/a"), Some(13));
        assert_eq!(k.known("未対応"), Some(1));
        assert_eq!(k.known("完了"), None, "a folder not read keeps nothing");
        assert_eq!(k.get("対応中/a", Some(7), 3), Some(&head("three")));
        assert_eq!(k.get("対応中/a", Some(7), 12).unwrap().subject, "moved");
        assert_eq!(k.get("対応中/a", Some(8), 3), None, "another UIDVALIDITY");
        assert_eq!(k.get("対応中/a", None, 3), None);
        assert_eq!(k.get("対応中/a", Some(7), 5), None, "seen without a head");
        // Any change to the body, or a garbled sum, and nothing is used.
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(parse(text.replace("three", "thref").as_bytes()).is_none());
        assert!(parse(&raw[1..]).is_none());
        assert!(parse(&raw[..raw.len() - 2]).is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"\n{}").is_none());
    }
}
