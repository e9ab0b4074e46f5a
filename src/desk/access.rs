//! Who may do what in the shared mailbox (RFC 4314): the rights `init` gives each
//! member's login and each viewer on every status folder, the history and its
//! journal, and takes back from a login that mailduty granted and the rules no longer
//! name (a leaver). Grants made by hand for other identities are never touched. Each
//! change is an `access` event in the history, with the login that made it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Desk;
use crate::desk::history::{self, Event};
use crate::desk::queue::Item;
use crate::imap::Cap;

/// Look up, read, keep \Seen, write flags and keywords, insert, delete, expunge:
/// what claim, release, done, note and the history need.
pub const MEMBER_RIGHTS: &str = "lrswite";
/// Look up and read: `list`, `show`, `history`, `report`.
pub const VIEWER_RIGHTS: &str = "lr";
/// A member's rights on 対応履歴 and its journal: read, and write new events (with
/// \Seen); no flags, no deleting.
pub const HISTORY_RIGHTS: &str = "lrsi";

/// One change of one login's rights on one folder.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub folder: String,
    pub login: String,
    /// What the server grants now ("" for nothing).
    pub now: String,
    /// What it is to grant; None: the grant is taken back.
    pub want: Option<String>,
}

/// What the server grants now, and what `init` would change.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub folders: Vec<String>,
    /// Per login the rules name: its role and its rights per folder now.
    pub logins: Vec<LoginRights>,
    pub changes: Vec<Change>,
    /// Logins the rules name with no grant recorded yet (`init` records one).
    pub unrecorded: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoginRights {
    pub login: String,
    /// `member`, `viewer`, or `leaver` (granted by mailduty, no longer in the rules).
    pub role: &'static str,
    pub rights: Vec<String>,
}

fn same(a: &str, b: &str) -> bool {
    let set = |s: &str| -> BTreeSet<char> { s.chars().collect() };
    // Dovecot reports the obsolete `d` beside `e` and `t`; it adds nothing here.
    let norm = |s: &str| -> BTreeSet<char> {
        let mut v = set(s);
        v.remove(&'d');
        v.remove(&'c');
        v
    };
    norm(a) == norm(b)
}

impl Desk<'_> {
    /// Every folder a member needs rights on: the inbox, the status folders (every
    /// folder below 対応中 too, 保留 and 対応不要), the history and its journal.
    fn shared_folders(&mut self) -> Result<Vec<String>> {
        let p = self.paths.clone();
        let mut out = vec![p.inbox.clone(), p.unclaimed.clone()];
        for f in self.mb.below(&p.claimed)? {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        if !out.contains(&p.claimed) {
            out.push(p.claimed.clone());
        }
        out.push(p.held.clone());
        out.push(p.done.clone());
        out.push(p.dismissed.clone());
        out.push(p.history.clone());
        out.extend(p.journal.clone());
        Ok(out)
    }

    /// Whether the server has access control lists at all.
    pub fn has_acl(&self) -> bool {
        self.mb.can(Cap::Acl)
    }

    /// What the server grants on the shared folders now, and what the rules ask for.
    pub fn access_plan(&mut self) -> Result<Plan> {
        if !self.mb.can(Cap::Acl) {
            bail!(
                "{} has no access control lists (RFC 4314 ACL): members cannot sign in as themselves here; keep sign_in: shared",
                self.mb.host()
            );
        }
        let folders = self.shared_folders()?;
        let acls = self.mb.acls(&folders)?;
        let owner = self.mb.login().to_string();
        let journal = self.paths.history_reads();
        // Members write events and read them, nothing more: an event once written
        // cannot be taken back, so neither can the record of a grant.
        let rights_for = |folder: &str, role: &str| -> &'static str {
            match role {
                "member" if journal.iter().any(|j| j == folder) => HISTORY_RIGHTS,
                "member" => MEMBER_RIGHTS,
                _ => VIEWER_RIGHTS,
            }
        };
        let mut want: BTreeMap<String, &'static str> = BTreeMap::new();
        for m in &self.rules.members {
            want.insert(m.login.clone(), "member");
        }
        for v in &self.rules.viewers {
            want.entry(v.clone()).or_insert("viewer");
        }
        want.remove(&owner);
        let recorded = self.granted_before(&owner)?;
        let leavers: Vec<String> = recorded
            .iter()
            .filter(|(l, granted)| **granted && !want.contains_key(*l) && **l != owner)
            .map(|(l, _)| l.clone())
            .collect();
        let unrecorded: Vec<String> = want
            .keys()
            .filter(|l| recorded.get(*l) != Some(&true))
            .cloned()
            .collect();
        let mut changes = Vec::new();
        let mut logins: Vec<LoginRights> = Vec::new();
        let now_of = |k: usize, login: &str| -> String {
            acls[k]
                .iter()
                .find(|(id, _)| id == login)
                .map(|(_, r)| r.0.clone())
                .unwrap_or_default()
        };
        for (login, role) in &want {
            let mut per = Vec::new();
            for (k, f) in folders.iter().enumerate() {
                let now = now_of(k, login);
                let rights = rights_for(f, role);
                if !same(&now, rights) {
                    changes.push(Change {
                        folder: f.clone(),
                        login: login.clone(),
                        now: now.clone(),
                        want: Some(rights.to_string()),
                    });
                }
                per.push(now);
            }
            logins.push(LoginRights {
                login: login.clone(),
                role,
                rights: per,
            });
        }
        for login in &leavers {
            let mut per = Vec::new();
            for (k, f) in folders.iter().enumerate() {
                let now = now_of(k, login);
                // Only rights exactly as mailduty grants them are taken back: what
                // someone granted by hand differently stays.
                let ours = ["member", "viewer"]
                    .iter()
                    .any(|role| same(&now, rights_for(f, role)));
                if !now.is_empty() && ours {
                    changes.push(Change {
                        folder: f.clone(),
                        login: login.clone(),
                        now: now.clone(),
                        want: None,
                    });
                }
                per.push(now);
            }
            logins.push(LoginRights {
                login: login.clone(),
                role: "leaver",
                rights: per,
            });
        }
        // Shown as the rules name them; `apply_access` maps them back.
        for c in &mut changes {
            c.folder = self.mb.rules_name(&c.folder);
        }
        Ok(Plan {
            folders: folders.iter().map(|f| self.mb.rules_name(f)).collect(),
            logins,
            changes,
            unrecorded,
        })
    }

    /// Per login, whether its last `access` event written by `owner` (the service
    /// login that runs `init`) was a grant. Events other logins wrote are not taken
    /// as a record of what mailduty granted.
    fn granted_before(&mut self, owner: &str) -> Result<BTreeMap<String, bool>> {
        let mut folders = self.paths.history_reads();
        // Old grants may have been archived with the rest of the history.
        let pattern = self.rules.archive.history_folder.clone();
        for f in self.archive_folders(&pattern)? {
            if !folders.contains(&f) {
                folders.push(f);
            }
        }
        let since = DateTime::<Utc>::UNIX_EPOCH;
        let mut evs = history::kind_since(&mut self.mb, &folders, "access", since)?;
        evs.retain(|e| e.login.as_deref() == Some(owner));
        evs.sort_by_key(|e| e.time);
        let mut last: BTreeMap<String, bool> = BTreeMap::new();
        for e in evs {
            let grant = e.note.as_deref().is_some_and(|n| n.starts_with("grant"));
            last.insert(e.id.clone(), grant);
        }
        Ok(last)
    }

    /// Records one `access` event per login changed (and a grant for each login the
    /// rules name that has none recorded yet), then makes the changes: a grant is
    /// recorded before it exists, so a run cut between the two leaves nothing granted
    /// that the next `init` could not take back.
    pub fn apply_access(&mut self, plan: &Plan, at: DateTime<Utc>) -> Result<()> {
        let mut by_login: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        for l in &plan.unrecorded {
            let role = plan.logins.iter().find(|r| r.login == *l).map(|r| r.role);
            by_login.insert(
                l,
                Some(if role == Some("viewer") {
                    VIEWER_RIGHTS
                } else {
                    MEMBER_RIGHTS
                }),
            );
        }
        for c in &plan.changes {
            by_login.insert(&c.login, c.want.as_deref());
        }
        for (login, want) in by_login {
            let note = match want {
                Some(r) => format!("grant {r}"),
                None => "revoke".to_string(),
            };
            let item = Item {
                id: login.to_string(),
                subject: format!("rights of {login}"),
                ..Item::default()
            };
            let ev = Event {
                kind: "access",
                actor: "init",
                item: &item,
                from_folder: "",
                to_folder: None,
                note: Some(&note),
                at,
                message_id: Some(history::access_id(login, at)),
            };
            self.append_event(&ev)?;
        }
        if plan.changes.is_empty() {
            return Ok(());
        }
        let sets: Vec<(String, String, Option<String>)> = plan
            .changes
            .iter()
            .map(|c| (self.mb.path(&c.folder), c.login.clone(), c.want.clone()))
            .collect();
        self.mb.set_rights(&sets)
    }

    /// This login's own rights on the shared folders (MYRIGHTS), for `access` run by
    /// a member.
    pub fn my_rights(&mut self) -> Result<Vec<(String, String)>> {
        let folders = self.shared_folders()?;
        let rights = self.mb.my_rights(&folders)?;
        Ok(folders
            .iter()
            .map(|f| self.mb.rules_name(f))
            .zip(rights.into_iter().map(|r| r.0))
            .collect())
    }

    pub fn login(&self) -> &str {
        self.mb.login()
    }
}
