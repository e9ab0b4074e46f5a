//! Folders: names as the rules give them and as the server spells them (namespace,
//! separator, modified UTF-7), LIST, CREATE, SELECT/EXAMINE and what their answers
//! tell (keywords kept, HIGHESTMODSEQ), STATUS of many folders in one round trip, the
//! Sent folder, and quota. Calls only the connection and `syntax`.

use super::*;

impl Mailbox {
    /// The server's name for a folder of the rules: namespace prefix added, `/` in the
    /// configured name turned into the server's separator. INBOX stays INBOX.
    pub fn path(&self, configured: &str) -> String {
        if configured.eq_ignore_ascii_case("INBOX") {
            return self.inbox.clone();
        }
        let local = configured.replace('/', &self.sep.to_string());
        if !self.prefix.is_empty() && local.starts_with(&self.prefix) {
            return local;
        }
        format!("{}{}", self.prefix, local)
    }

    /// A server folder name as the rules write it: prefix off, `/` between levels.
    pub fn rules_name(&self, server: &str) -> String {
        if server == self.inbox {
            return "INBOX".to_string();
        }
        let local = server.strip_prefix(self.prefix.as_str()).unwrap_or(server);
        local.replace(self.sep, "/")
    }

    pub fn child(&self, parent: &str, leaf: &str) -> String {
        format!("{parent}{}{leaf}", self.sep)
    }

    /// Folders matching a LIST pattern (UTF-8 in, UTF-8 out).
    pub fn list(&mut self, pattern: &str) -> Result<Vec<FolderInfo>> {
        let cmd = list_cmd(pattern);
        let (lines, _) = self.conn.run_ok(&cmd)?;
        Ok(lines.iter().filter_map(|l| folder_info(l)).collect())
    }

    /// `parent` and every folder below it, selectable ones only, sorted. The first
    /// call answers from the LIST sent with LOGIN, if there was one; later calls ask
    /// the server again.
    pub fn below(&mut self, parent: &str) -> Result<Vec<String>> {
        let listed = match self.prelisted.take() {
            Some(l) => l,
            None => self.list(&format!("{parent}*"))?,
        };
        let prefix = format!("{parent}{}", self.sep);
        let names: BTreeSet<String> = listed
            .into_iter()
            .filter(|f| f.selectable)
            .filter(|f| {
                f.name == parent || f.name.len() > prefix.len() && f.name.starts_with(&prefix)
            })
            .map(|f| f.name)
            .collect();
        Ok(names.into_iter().collect())
    }

    pub fn create(&mut self, folder: &str) -> Result<()> {
        // The folders listed with LOGIN no longer tell the whole story.
        self.prelisted = None;
        let q = quote(&mutf7::encode(folder));
        let done = self.conn.run_each(&format!("CREATE {q}"), |_| {})?;
        if done.status != Status::Ok && !done.code_is("ALREADYEXISTS") {
            bail!("cannot create folder {folder}: {}", done.text);
        }
        // Subscribed, so that every mail client shows it without a setting.
        self.conn.run_each(&format!("SUBSCRIBE {q}"), |_| {})?;
        Ok(())
    }

    /// SELECT (`write`) or EXAMINE of a folder, with CONDSTORE where the server has it.
    pub(super) fn open_cmd(&self, folder: &str, write: bool) -> String {
        let verb = if write { "SELECT" } else { "EXAMINE" };
        let mut cmd = format!("{verb} {}", quote(&mutf7::encode(folder)));
        if self.has("CONDSTORE") {
            cmd.push_str(" (CONDSTORE)");
        }
        cmd
    }

    /// Opens a folder; read-only unless `write`. Returns the message count.
    pub fn open(&mut self, folder: &str, write: bool) -> Result<u32> {
        let cmd = self.open_cmd(folder, write);
        let mut answer = OpenAnswer::default();
        let done = self.conn.run_each(&cmd, |r| answer.read(r))?;
        self.opened(folder, write, &done, answer.highest, answer.keeps)?;
        Ok(answer.exists)
    }

    /// Whether custom keywords stored in `folder` stay there (PERMANENTFLAGS has
    /// `\*`); SELECTs it when no SELECT has told yet. A server that says nothing
    /// about PERMANENTFLAGS is taken to keep them.
    pub fn keeps_keywords(&mut self, folder: &str) -> Result<bool> {
        if !self.keeps.contains_key(folder) {
            self.open(folder, true)?;
        }
        Ok(self.keeps.get(folder).copied().unwrap_or(true))
    }

    pub(super) fn open_failed(&self, folder: &str, done: &Done) -> anyhow::Error {
        if missing(done) {
            return crate::error::config(format!(
                "the folder {folder} does not exist on {}; run `mailduty init` first",
                self.host
            ));
        }
        anyhow!("cannot open folder {folder}: {}", done.text)
    }

    pub(super) fn is_open(&self, folder: &str, write: bool) -> bool {
        matches!(&self.selected, Some((f, w)) if f == folder && (*w || !write))
    }

    pub(super) fn ensure_open(&mut self, folder: &str, write: bool) -> Result<()> {
        if self.is_open(folder, write) {
            return Ok(());
        }
        self.open(folder, write).map(|_| ())
    }

    /// Lets APPENDs create `folder` when the server says it is not there
    /// (TRYCREATE), and searches take it for empty until then: a folder a newer
    /// version writes to that `init` has not made yet.
    pub fn may_create(&mut self, folder: &str) {
        self.creatable.insert(folder.to_string());
    }

    /// After APPENDs to `folder` failed: creates it and says so, when the server
    /// asked for that and `may_create` allows it.
    pub(super) fn created_for(&mut self, folder: &str, dones: &[Done]) -> bool {
        if !self.creatable.contains(folder) || !dones.iter().any(|d| d.code_is("TRYCREATE")) {
            return false;
        }
        // Another command may have made it this instant, on a server that does not
        // say ALREADYEXISTS: the APPEND is tried again either way, and fails as
        // before if the folder is still not there.
        let _ = self.create(folder);
        true
    }

    /// The storage quota of the account's INBOX root as (used, limit) in KiB; None
    /// when the server has no QUOTA or sets no storage limit.
    pub fn quota(&mut self) -> Result<Option<(u64, u64)>> {
        if !self.has("QUOTA") {
            return Ok(None);
        }
        // Of several roots with a limit, the fullest is the one that stops mail.
        let mut found: Option<(u64, u64)> = None;
        let done = self.conn.run_each("GETQUOTAROOT INBOX", |r| {
            if let Some((used, limit)) = storage_of(r).filter(|(_, l)| *l > 0) {
                let fuller = found.is_none_or(|(u, l)| {
                    u128::from(used) * u128::from(l) > u128::from(u) * u128::from(limit)
                });
                if fuller {
                    found = Some((used, limit));
                }
            }
        })?;
        if done.status != Status::Ok {
            return Ok(None);
        }
        Ok(found)
    }

    /// The size in bytes of each folder (STATUS … (SIZE), RFC 8438), in one round
    /// trip; empty when the server does not offer STATUS=SIZE. A folder the server
    /// cannot report is left out.
    pub fn sizes(&mut self, folders: &[String]) -> Result<Vec<(String, u64)>> {
        if !self.has("STATUS=SIZE") || folders.is_empty() {
            return Ok(Vec::new());
        }
        let cmds: Vec<String> = folders
            .iter()
            .map(|f| format!("STATUS {} (SIZE)", quote(&mutf7::encode(f))))
            .collect();
        let mut found = vec![None; folders.len()];
        let dones = self.conn.pipeline(&cmds, |i, r| {
            if let Some(n) = status_size(r) {
                found[i] = Some(n);
            }
        })?;
        Ok(folders
            .iter()
            .zip(found)
            .zip(dones)
            .filter(|(_, d)| d.status == Status::Ok)
            .filter_map(|((f, n), _)| Some((f.clone(), n?)))
            .collect())
    }

    /// The folder the server marks `\Sent` (RFC 6154), if any. Servers without
    /// SPECIAL-USE (Courier) have none; the rules' `folders.sent` names it there.
    pub fn sent_folder(&mut self) -> Result<Option<String>> {
        if let Some(listed) = self.prelisted_sent.take() {
            return Ok(listed);
        }
        if !self.has("SPECIAL-USE") && !self.has("LIST-EXTENDED") {
            return Ok(None);
        }
        let cmd = if self.has("LIST-EXTENDED") {
            SPECIAL_USE_LIST.to_string()
        } else {
            list_cmd("*")
        };
        let mut found = Vec::new();
        let done = self.conn.run_each(&cmd, |r| found.extend(sent_of(r)))?;
        Ok((done.status == Status::Ok)
            .then(|| pick_sent(found))
            .flatten())
    }

    /// A folder's UIDVALIDITY and UIDNEXT (STATUS), None when the server gives
    /// neither or the folder does not exist.
    pub fn uid_state(&mut self, folder: &str) -> Result<Option<(u32, u32)>> {
        Ok(self
            .uid_states(&[folder.to_string()])?
            .into_iter()
            .next()
            .flatten())
    }

    /// `uid_state` of several folders in one round trip (pipelined STATUS; each
    /// answer is matched to its folder by the name it gives).
    pub fn uid_states(&mut self, folders: &[String]) -> Result<Vec<UidState>> {
        Ok(self.search_with_states(None, folders)?.1)
    }

    /// `FolderState` of each folder, in one round trip (pipelined STATUS), on servers
    /// with CONDSTORE. None for a folder the server gave no whole answer for (missing,
    /// or an answer that names no folder asked for).
    pub fn folder_states(&mut self, folders: &[String]) -> Result<Vec<Option<FolderState>>> {
        if !self.has("CONDSTORE") {
            bail!("the server has no CONDSTORE");
        }
        if folders.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = folders.iter().map(|f| mutf7::encode(f)).collect();
        let cmds: Vec<String> = names
            .iter()
            .map(|n| {
                format!(
                    "STATUS {} (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)",
                    quote(n)
                )
            })
            .collect();
        let mut found: Vec<Vec<(String, u64)>> = vec![Vec::new(); folders.len()];
        let dones = self.conn.pipeline(&cmds, |_, r| {
            if let Some((name, fields)) = status_fields(r)
                && let Some(k) = names.iter().position(|n| same_mailbox(n, &name))
            {
                found[k].extend(fields);
            }
        })?;
        if dones.len() != cmds.len() {
            bail!("the IMAP server answered fewer commands than were sent");
        }
        Ok(found
            .into_iter()
            .zip(&dones)
            .map(|(fields, done)| {
                if done.status != Status::Ok {
                    return None;
                }
                let get = |key: &str| fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v);
                Some(FolderState {
                    validity: u32::try_from(get("UIDVALIDITY")?).ok()?,
                    next: u32::try_from(get("UIDNEXT")?).ok()?,
                    messages: u32::try_from(get("MESSAGES")?).ok()?,
                    modseq: get("HIGHESTMODSEQ")?,
                })
            })
            .collect())
    }

    /// `below` from the LIST sent with LOGIN, leaving it for `below`; None when there
    /// was none.
    pub fn listed_below(&self, parent: &str) -> Option<Vec<String>> {
        let prefix = format!("{parent}{}", self.sep);
        let names: BTreeSet<String> = self
            .prelisted
            .as_ref()?
            .iter()
            .filter(|f| f.selectable)
            .filter(|f| {
                f.name == parent || f.name.len() > prefix.len() && f.name.starts_with(&prefix)
            })
            .map(|f| f.name.clone())
            .collect();
        Some(names.into_iter().collect())
    }

    /// The `\Sent` folder listed with LOGIN, leaving it for `sent_folder`; None when
    /// it was not asked for then.
    pub fn listed_sent(&self) -> Option<Option<String>> {
        self.prelisted_sent.clone()
    }

    /// Whether a folder exists (LIST).
    pub fn exists(&mut self, folder: &str) -> Result<bool> {
        Ok(self.list(folder)?.iter().any(|f| f.name == folder))
    }
}
