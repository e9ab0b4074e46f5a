//! The one door to the IMAP server. Opened once per command, it knows the server's
//! capabilities, personal namespace and separator, encodes folder names, and offers
//! the few operations the commands need. Commands never speak IMAP themselves.

mod acl;
mod auth;
pub mod conn;
mod echo;
mod idle;
pub mod mutf7;
mod searchres;
mod sets;

use std::collections::BTreeSet;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use imap_proto::{AttributeValue, MailboxDatum, NameAttribute, Response};

use crate::rules::{Auth, ImapAccount, TlsMode};
pub use crate::secret::{PASSWORD_COMMAND_TIMEOUT, resolve_secret, secret_command};
use crate::signin;
use auth::{SignIn, authenticate};
use conn::{Conn, Done, Status, Stream, quote};
pub use echo::After;
pub use idle::Woke;

/// What mailduty asks of a server. Callers name a capability; only this module knows
/// how the server spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Move,
    UidPlus,
    Condstore,
    Quota,
    /// RFC 4314 access control lists.
    Acl,
}

impl Cap {
    fn atom(self) -> &'static str {
        match self {
            Cap::Move => "MOVE",
            Cap::UidPlus => "UIDPLUS",
            Cap::Condstore => "CONDSTORE",
            Cap::Quota => "QUOTA",
            Cap::Acl => "ACL",
        }
    }
}

/// A SEARCH key. Several keys given together must all match.
#[derive(Debug, Clone)]
pub enum Key {
    /// The Message-ID header, angle brackets added (HEADER matches substrings).
    MessageId(String),
    /// A header holding a Message-ID (`References`, `X-Mailduty-Target` …).
    HeaderId(&'static str, String),
    /// A header containing a text.
    Header(&'static str, String),
    /// RFC822.SIZE this, as far as SEARCH can tell: Courier compares LARGER and
    /// SMALLER with the size on disk (LF line ends), up to one byte per line less
    /// than RFC822.SIZE, so the range reaches down to half. A narrowing only: the
    /// caller compares RFC822.SIZE itself.
    Size(u32),
    Keyword(String),
    /// Arrival (INTERNALDATE) on or after this day, in the server's zone.
    Since(chrono::NaiveDate),
    /// Arrival before this day, in the server's zone.
    Before(chrono::NaiveDate),
    /// Not marked \Deleted (someone means it to go; it is not moved).
    Undeleted,
    /// Any one of these.
    Any(Vec<Key>),
    /// UIDs from this one up (`UID n:*`, which also names the last message when
    /// there is none at or above n: callers filter).
    UidFrom(u32),
}

impl Key {
    fn render(&self) -> String {
        match self {
            Key::MessageId(m) => message_id_criteria("Message-ID", m),
            Key::HeaderId(f, m) => message_id_criteria(f, m),
            Key::Header(f, v) => format!("HEADER {f} {}", quote(&search_text(v))),
            Key::Size(n) => format!(
                "LARGER {} SMALLER {}",
                (n / 2).saturating_sub(1),
                n.saturating_add(1)
            ),
            Key::Keyword(k) => format!("KEYWORD {k}"),
            Key::Since(d) => format!("SINCE {}", d.format("%d-%b-%Y")),
            Key::Before(d) => format!("BEFORE {}", d.format("%d-%b-%Y")),
            Key::Undeleted => "UNDELETED".to_string(),
            Key::UidFrom(n) => format!("UID {}:*", (*n).max(1)),
            Key::Any(keys) => match keys.as_slice() {
                [] => "UID 0".to_string(),
                [one] => one.render(),
                [first, rest @ ..] => format!(
                    "OR ({}) ({})",
                    first.render(),
                    Key::Any(rest.to_vec()).render()
                ),
            },
        }
    }
}

fn criteria(keys: &[Key]) -> String {
    if keys.is_empty() {
        return "ALL".to_string();
    }
    keys.iter().map(Key::render).collect::<Vec<_>>().join(" ")
}

/// A change to the flags of some messages.
#[derive(Debug, Clone, Copy)]
pub enum Flags<'a> {
    Add(&'a [String]),
    Remove(&'a [String]),
}

/// What makes a stored message the same one after COPY or MOVE: its size, its
/// arrival time and its bytes. The header alone is not enough: web forms send
/// messages without a Message-ID whose headers are byte for byte the same, and only
/// the body tells them apart. Fetched only for the few messages that might be
/// copies, so the whole text costs little.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub size: u32,
    pub arrived: Option<i64>,
    pub digest: [u8; 32],
}

/// A folder's EXISTS and the answers to the commands sent after opening it.
type Answered = (u32, Vec<Done>);

/// A folder's UIDVALIDITY and UIDNEXT, where STATUS gave both.
pub type UidState = Option<(u32, u32)>;

/// What a CONDSTORE server's STATUS says of a folder: any message added, removed or
/// changed (flags, keywords) moves one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FolderState {
    pub validity: u32,
    pub next: u32,
    pub messages: u32,
    pub modseq: u64,
}

/// The header fields the queue needs; fetching only these keeps `list` cheap. The
/// second line is what tells automated mail (`crate::automated::FIELDS`), read in the
/// same FETCH so that intake needs no round trip for it.
pub const QUEUE_FIELDS: &str = "MESSAGE-ID FROM TO SUBJECT DATE IN-REPLY-TO REFERENCES \
AUTO-SUBMITTED PRECEDENCE X-AUTOREPLY X-AUTORESPOND X-AUTORESPONDER X-AUTO-RESPONSE-SUPPRESS X-MS-EXCHANGE-INBOX-RULES-LOOP X-MS-EXCHANGE-GENERATED-MESSAGE-SOURCE CONTENT-TYPE X-MAILDUTY-MARK";

pub struct Mailbox {
    conn: Conn,
    caps: BTreeSet<String>,
    prefix: String,
    /// The inbox's name: INBOX, or the shared mailbox's (`shared/support/INBOX`).
    inbox: String,
    sep: char,
    selected: Option<(String, bool)>,
    /// HIGHESTMODSEQ of the selected folder when it was opened.
    highest_modseq: Option<u64>,
    /// Folders listed with LOGIN, until `children` uses them.
    prelisted: Option<Vec<FolderInfo>>,
    /// The `\Sent` folder, when it was asked for with LOGIN (`connect`'s `list_sent`).
    prelisted_sent: Option<Option<String>>,
    host: String,
    login: String,
    /// Per folder, whether its PERMANENTFLAGS (from SELECT) had `\*`: a server
    /// without it (Exchange) forgets or refuses custom keywords.
    keeps: std::collections::HashMap<String, bool>,
    /// Folders that may not exist yet (`may_create`): an APPEND creates them on
    /// TRYCREATE, and a search finds nothing in them meanwhile.
    creatable: BTreeSet<String>,
}

/// What a SELECT or EXAMINE answer tells, read line by line.
#[derive(Default)]
struct OpenAnswer {
    exists: u32,
    highest: Option<u64>,
    keeps: Option<bool>,
}

impl OpenAnswer {
    fn read(&mut self, r: &[u8]) {
        self.keeps = self.keeps.or(permanent_keywords(r));
        if let Some(h) = highest_modseq_code(r) {
            self.highest = Some(h);
        } else if let Ok((_, Response::MailboxData(MailboxDatum::Exists(n)))) =
            imap_proto::parser::parse_response(r)
        {
            self.exists = n;
        }
    }
}

/// What `fetch_queues` hands over: a folder's message count first (room can be
/// made at once), then its messages.
pub enum Queued {
    Size(u32),
    Message(Fetched),
}

/// What a conditional STORE that passed did.
#[derive(Debug)]
pub struct Stored {
    /// The MODSEQ the server gave this change; None when it echoed none (the keyword
    /// was already set, or the message is gone).
    pub echo: Option<u64>,
    /// Another session's change to the message arrived during the STORE.
    pub foreign: bool,
    /// The folder's HIGHESTMODSEQ when this session opened it.
    pub highest_before: Option<u64>,
}

/// What a conditional STORE of a set did.
#[derive(Debug, Default)]
pub struct SetStored {
    /// (UID, MODSEQ) the server gave each change of this STORE.
    pub echo: Vec<(u32, u64)>,
    /// Another session's change to one of the messages arrived during the STORE.
    pub foreign: bool,
    /// The messages the server refused because they changed since the MODSEQ given.
    pub modified: Vec<u32>,
    /// The folder's HIGHESTMODSEQ right before the STORE.
    pub highest_before: Option<u64>,
}

/// A message as the FETCH of the queue returns it.
pub struct Fetched {
    pub uid: u32,
    pub flags: Vec<String>,
    /// With CONDSTORE, the message's MODSEQ.
    pub modseq: Option<u64>,
    pub internal_date: Option<String>,
    pub size: u32,
    pub header: Vec<u8>,
}

pub struct FolderInfo {
    pub name: String,
    pub selectable: bool,
    /// Marked `\Sent` (RFC 6154).
    pub sent: bool,
}

pub enum Moved {
    /// Moved; the new UID when the server reported it.
    To(Option<u32>),
    /// The message was no longer there: someone else moved or deleted it first.
    Gone,
}

/// Whether a failed SELECT or EXAMINE says the folder does not exist.
fn missing(done: &Done) -> bool {
    done.text.contains("exist") || done.code_is("NONEXISTENT")
}

/// An IMAP quoted string for a search argument.
pub fn quote_arg(s: &str) -> String {
    quote(s)
}

fn tls_connector(acct: &ImapAccount) -> Result<native_tls::TlsConnector> {
    let mut b = native_tls::TlsConnector::builder();
    if let Some(ca) = &acct.ca_file {
        let pem = std::fs::read(ca)
            .with_context(|| format!("imap.ca_file: cannot read {}", ca.display()))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            crate::error::config(format!(
                "imap.ca_file: {} is not a PEM certificate: {e}",
                ca.display()
            ))
        })?;
        b.add_root_certificate(cert);
    }
    Ok(b.build()?)
}

fn handshake(acct: &ImapAccount, tcp: TcpStream) -> Result<Stream> {
    let connector = tls_connector(acct)?;
    match connector.connect(&acct.host, tcp) {
        Ok(s) => Ok(Stream::Tls(Box::new(s))),
        Err(native_tls::HandshakeError::Failure(e)) => Err(anyhow!(
            "TLS with {}:{} failed: {e}\n{}",
            acct.host,
            acct.port,
            tls_hint(&e.to_string(), &acct.host)
        )),
        Err(native_tls::HandshakeError::WouldBlock(_)) => {
            bail!("TLS handshake with {} timed out", acct.host)
        }
    }
}

/// What to do about a failed TLS handshake, from the verifier's reason (OpenSSL's
/// names for X509_V_ERR_*): only an unknown issuer is fixed by imap.ca_file.
fn tls_hint(error: &str, host: &str) -> String {
    let e = error.to_ascii_lowercase();
    if e.contains("certificate has expired") {
        return "The server's certificate has expired: the server needs a new one (imap.ca_file does not help).".into();
    }
    if e.contains("certificate is not yet valid") {
        return "The server's certificate is not valid yet: check the clocks of this machine and the server.".into();
    }
    if e.contains("hostname mismatch") || e.contains("ip address mismatch") {
        return format!(
            "The server's certificate is not for {host}: set imap.host to a name the certificate lists (imap.ca_file does not help)."
        );
    }
    if e.contains("unable to get local issuer")
        || e.contains("self-signed")
        || e.contains("self signed")
        || e.contains("unable to verify the first certificate")
        || e.contains("unable to get issuer")
    {
        return "The certificate's issuer is not trusted here: if the server uses a private CA, set imap.ca_file to its certificate; certificates are always verified.".into();
    }
    "Certificates are always verified; check the server's TLS set-up.".into()
}

impl Mailbox {
    /// Connects and logs in. `claimed` is the configured 対応中 folder: its subfolders
    /// are listed in the same round trip as LOGIN, for the first `children` call.
    /// With `list_sent`, the `\Sent` folder is listed in that round trip as well, for
    /// `sent_folder`.
    pub fn connect(
        acct: &ImapAccount,
        claimed: &str,
        list_sent: bool,
        verbose: bool,
    ) -> Result<Mailbox> {
        // Secrets first: a missing password or sign-in is a config error found
        // before connecting.
        let mut sign_in = match &acct.auth {
            Auth::Password(secret) => SignIn::Password(resolve_secret(secret, "imap")?),
            Auth::OAuth2(o) => SignIn::Token(o, signin::access_token(o, &acct.user, false)?),
        };
        let addrs: Vec<_> = (acct.host.as_str(), acct.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve IMAP host {}", acct.host))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(15)) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            anyhow!(
                "cannot connect to IMAP server {}:{}: {}",
                acct.host,
                acct.port,
                last.map(|e| e.to_string())
                    .unwrap_or_else(|| "no address".into())
            )
        })?;
        tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(120)))?;
        tcp.set_nodelay(true)?;

        let greeting;
        let mut conn = match acct.tls {
            TlsMode::Implicit => {
                let mut c = Conn::new(handshake(acct, tcp)?, verbose);
                greeting = c.read_greeting()?;
                c
            }
            TlsMode::Starttls => {
                let mut c = Conn::new(Stream::Plain(tcp), verbose);
                c.read_greeting()?;
                // What the server offered before TLS is not what it offers after
                // (RFC 3501 §6.2.1; Dovecot hides AUTH=XOAUTH2 until TLS): the sign-in
                // then goes without knowing the mechanisms.
                greeting = Vec::new();
                let done = c.run_each("STARTTLS", |_| {})?;
                if done.status != Status::Ok {
                    bail!(
                        "the IMAP server {} refused STARTTLS: {}",
                        acct.host,
                        done.text
                    );
                }
                let Stream::Plain(tcp) = c.into_stream() else {
                    unreachable!()
                };
                Conn::new(handshake(acct, tcp)?, verbose)
            }
            TlsMode::None => {
                let mut c = Conn::new(Stream::Plain(tcp), verbose);
                greeting = c.read_greeting()?;
                c
            }
        };

        let mut caps = BTreeSet::new();
        let done = match &mut sign_in {
            SignIn::Password(password) => {
                let cmd = format!("LOGIN {} {}", quote(&acct.user), quote(password));
                let shown = format!("LOGIN {} <password hidden>", quote(&acct.user));
                // LOGIN goes alone: Courier hands the connection to a new process after
                // LOGIN and drops whatever came in the same write, so pipelining starts
                // only after LOGIN's OK.
                let mut dones = conn.pipeline_shown(&[(cmd.as_bytes(), &shown)], |_, r| {
                    collect_caps(r, &mut caps)
                })?;
                let done = dones.remove(0);
                if done.status != Status::Ok {
                    bail!(
                        "IMAP login as {} on {} failed: {}\nCheck the password that imap.password_* gives.",
                        acct.user,
                        acct.host,
                        done.text
                    );
                }
                done
            }
            SignIn::Token(o, token) => {
                authenticate(&mut conn, acct, o, token, &greeting, &mut caps)?
            }
        };
        if let Some(code) = &done.code
            && let Some(list) = code.strip_prefix("CAPABILITY ")
        {
            caps = list
                .split_whitespace()
                .map(|s| s.to_ascii_uppercase())
                .collect();
        }
        // NAMESPACE and the LIST of the member folders go together (with CAPABILITY
        // when the list before login was short, as on Dovecot and Exchange) to save
        // round trips. A server without NAMESPACE says BAD, and the separator then
        // comes from LIST; the pattern does not depend on the prefix or separator it
        // will report.
        let listing = list_cmd(&format!("*{}*", claimed.replace('/', "*")));
        let ask_caps = !caps.contains("IMAP4REV1");
        if ask_caps {
            caps.clear();
        }
        let mut cmds: Vec<(&[u8], &str)> =
            vec![(b"NAMESPACE", "NAMESPACE"), (listing.as_bytes(), &listing)];
        // The Sent folder is asked for here too when the caller will read it and the
        // server already said it can mark it; else `sent_folder` asks later.
        let ask_sent = list_sent && caps.contains("LIST-EXTENDED");
        if ask_sent {
            cmds.push((SPECIAL_USE_LIST.as_bytes(), SPECIAL_USE_LIST));
        }
        if ask_caps {
            cmds.push((b"CAPABILITY", "CAPABILITY"));
        }
        let (mut ns_lines, mut listed, mut sent) = (Vec::new(), Vec::new(), Vec::new());
        // Lines are sorted by what they are, not by the command still awaited: the
        // server may run these side by side. The `\Sent` listing adds nothing wrong to
        // `listed`, which is only read below the member folders' parent.
        let mut dones = conn
            .pipeline_shown(&cmds, |_, r| {
                if r.starts_with(b"* NAMESPACE") {
                    ns_lines.push(r.to_vec());
                } else if let Some(f) = folder_info(r) {
                    if ask_sent && f.sent && f.selectable {
                        sent.push(f.name.clone());
                    }
                    listed.push(f);
                } else {
                    collect_caps(r, &mut caps);
                }
            })?
            .into_iter();
        let (Some(ns_done), Some(list_done)) = (dones.next(), dones.next()) else {
            bail!("the IMAP server answered fewer commands than were sent");
        };
        let prelisted_sent = if ask_sent {
            let Some(done) = dones.next() else {
                bail!("the IMAP server answered fewer commands than were sent");
            };
            (done.status == Status::Ok).then(|| pick_sent(sent))
        } else {
            None
        };
        if let Some(cap_done) = dones.next()
            && cap_done.status != Status::Ok
        {
            bail!("{}", conn::describe_failure("CAPABILITY", &cap_done));
        }
        let namespace = (ns_done.status == Status::Ok).then_some(ns_lines);
        let mut mb = Mailbox {
            conn,
            caps,
            prefix: String::new(),
            inbox: "INBOX".to_string(),
            sep: '/',
            selected: None,
            highest_modseq: None,
            prelisted: (list_done.status == Status::Ok).then_some(listed),
            prelisted_sent,
            host: acct.host.clone(),
            login: acct.user.clone(),
            keeps: Default::default(),
            creatable: BTreeSet::new(),
        };
        mb.read_namespace(namespace.clone())?;
        if let Some(owner) = &acct.shared_mailbox {
            mb.enter_shared(owner, &acct.user, namespace.as_deref().unwrap_or_default())?;
        }
        Ok(mb)
    }

    fn has(&self, cap: &str) -> bool {
        self.caps.contains(cap)
    }

    /// Runs one command; also returns the response codes of its untagged OKs (where
    /// Dovecot puts a MOVE's COPYUID).
    fn run_with_codes(&mut self, cmd: &str) -> Result<(conn::Done, Vec<String>)> {
        let mut codes = Vec::new();
        let done = self.conn.run_each(cmd, |r| {
            let text = String::from_utf8_lossy(r);
            if let Some(rest) = text.strip_prefix("* OK ")
                && let (Some(code), _) = conn::split_code(rest.trim_end())
            {
                codes.push(code);
            }
        })?;
        Ok((done, codes))
    }

    pub fn can(&self, cap: Cap) -> bool {
        self.has(cap.atom())
    }

    pub fn separator(&self) -> char {
        self.sep
    }

    pub fn commands_sent(&self) -> u32 {
        self.conn.sent
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// The login this session signed in as.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The personal namespace's prefix and separator, from the NAMESPACE answer that
    /// came with LOGIN, else from `LIST "" ""`.
    fn read_namespace(&mut self, namespace: Option<Vec<Vec<u8>>>) -> Result<()> {
        if let Some(lines) = namespace {
            let mut found = None;
            for l in &lines {
                if let Some(ns) = parse_namespace(&String::from_utf8_lossy(l)) {
                    found = Some(ns);
                }
            }
            if let Some((prefix, sep)) = found {
                self.prefix = prefix;
                if let Some(sep) = sep {
                    self.sep = sep;
                    return Ok(());
                }
            }
        }
        let (lines, _) = self.conn.run_ok("LIST \"\" \"\"")?;
        for l in &lines {
            if let Ok((_, Response::MailboxData(MailboxDatum::List { delimiter, .. }))) =
                imap_proto::parser::parse_response(l)
                && let Some(d) = delimiter.and_then(|d| d.chars().next())
            {
                self.sep = d;
            }
        }
        Ok(())
    }

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
    fn open_cmd(&self, folder: &str, write: bool) -> String {
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

    fn open_failed(&self, folder: &str, done: &Done) -> anyhow::Error {
        if missing(done) {
            return crate::error::config(format!(
                "the folder {folder} does not exist on {}; run `mailduty init` first",
                self.host
            ));
        }
        anyhow!("cannot open folder {folder}: {}", done.text)
    }

    fn is_open(&self, folder: &str, write: bool) -> bool {
        matches!(&self.selected, Some((f, w)) if f == folder && (*w || !write))
    }

    fn ensure_open(&mut self, folder: &str, write: bool) -> Result<()> {
        if self.is_open(folder, write) {
            return Ok(());
        }
        self.open(folder, write).map(|_| ())
    }

    /// `cmd` in each folder, all in one round trip: EXAMINE then `cmd`, folder after
    /// folder (the EXAMINE between keeps each answer with its folder). `each` gets
    /// the folder's index, its message count and every untagged response to `cmd`.
    /// Returns each folder's count and `cmd`'s tagged answer; a folder that cannot be
    /// opened is an error.
    fn per_folder(
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
    fn per_folder_present(
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
    fn per_folder_many(
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
                imap_proto::parser::parse_response(r)
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
        mut each: impl FnMut(usize, Queued),
    ) -> Result<()> {
        let modseq = if self.has("CONDSTORE") { " MODSEQ" } else { "" };
        let fetch = format!(
            "UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE{modseq} BODY.PEEK[HEADER.FIELDS ({fields})])"
        );
        let mut sized = vec![false; folders.len()];
        // A status folder newer than the mailbox's `init` (`may_create`) holds nothing yet.
        let answers = self.per_folder_present(folders, &fetch, true, |k, n, r| {
            if !sized[k] {
                sized[k] = true;
                each(k, Queued::Size(n));
            }
            if let Some(f) = parse_fetch(r) {
                each(k, Queued::Message(f));
            }
        })?;
        for (n, fetched) in answers.iter().flatten() {
            // `1:*` of an empty folder is an error on some servers; nothing was missed.
            if fetched.status != Status::Ok && *n > 0 {
                bail!("{}", conn::describe_failure(&fetch, fetched));
            }
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
    fn fetch_sets(
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
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                imap_proto::parser::parse_response(r)
            {
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
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                imap_proto::parser::parse_response(r)
            {
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
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                imap_proto::parser::parse_response(r)
            {
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
            if let Ok((_, Response::MailboxData(MailboxDatum::Search(ids)))) =
                imap_proto::parser::parse_response(l)
            {
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
            if let Ok((_, Response::Fetch(_, attrs))) = imap_proto::parser::parse_response(r)
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
    fn select_then(&mut self, folder: &str, cmd: &str, mut each: impl FnMut(&[u8])) -> Result<()> {
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
    fn opened(
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
                        imap_proto::parser::parse_response(r)
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

    fn moved(&mut self, cmd: &str, done: Done, untagged: Option<u32>) -> Result<Moved> {
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
            let Ok((_, Response::Fetch(_, attrs))) = imap_proto::parser::parse_response(r) else {
                return;
            };
            let uid = attrs.iter().find_map(|a| match a {
                AttributeValue::Uid(u) => Some(*u),
                _ => None,
            });
            // A silent STORE's own echo has no FLAGS (RFC 7162 §3.1.3); another
            // session's change comes with them.
            if attrs.iter().any(|a| matches!(a, AttributeValue::Flags(_))) {
                out.foreign = true;
            } else if let Some(u) = uid.filter(|u| asked.contains(u)) {
                for a in &attrs {
                    if let AttributeValue::ModSeq(m) = a {
                        out.echo.push((u, *m));
                    }
                }
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
    fn not_changed(&mut self, folder: &str, uids: &[u32], change: Flags<'_>) -> Result<Vec<u32>> {
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
    fn writable_for_append(&mut self, folder: &str) -> Result<()> {
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

    /// Lets APPENDs create `folder` when the server says it is not there
    /// (TRYCREATE), and searches take it for empty until then: a folder a newer
    /// version writes to that `init` has not made yet.
    pub fn may_create(&mut self, folder: &str) {
        self.creatable.insert(folder.to_string());
    }

    /// After APPENDs to `folder` failed: creates it and says so, when the server
    /// asked for that and `may_create` allows it.
    fn created_for(&mut self, folder: &str, dones: &[Done]) -> bool {
        if !self.creatable.contains(folder) || !dones.iter().any(|d| d.code_is("TRYCREATE")) {
            return false;
        }
        // Another command may have made it this instant, on a server that does not
        // say ALREADYEXISTS: the APPEND is tried again either way, and fails as
        // before if the folder is still not there.
        let _ = self.create(folder);
        true
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

    /// `search` in a folder and `uid_states` of others, in one round trip.
    pub fn search_and_states(
        &mut self,
        folder: &str,
        keys: &[Key],
        others: &[String],
    ) -> Result<(Vec<u32>, Vec<UidState>)> {
        self.search_with_states(Some((folder, keys)), others)
    }

    fn search_with_states(
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
                imap_proto::parser::parse_response(r)
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
        let states = found
            .into_iter()
            .zip(&dones[first_status..])
            .map(|((v, n), d)| {
                if d.status == Status::Ok {
                    v.zip(n)
                } else {
                    None
                }
            })
            .collect();
        Ok((uids, states))
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

    pub fn logout(mut self) {
        let _ = self.conn.send_only("LOGOUT");
        if self.conn.verbose() {
            eprintln!(
                "mailduty: {} bytes read from the IMAP server",
                conn::BYTES_READ.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }
}

/// A UID set with runs compressed to ranges: `1:5,9,12:14`.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// UIDs split into sets for one command each: at most 20,000 messages (each MOVE is
/// one transaction on the server) and a UID set under 8,000 characters (servers
/// limit a command line's length). Every MOVE costs the server an index update of the
/// whole folder, so fewer, larger sets are much cheaper than many small ones.
pub fn batches(uids: &[u32]) -> Vec<Vec<u32>> {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = Vec::new();
    let mut todo: Vec<&[u32]> = sorted.chunks(20_000).rev().collect();
    while let Some(part) = todo.pop() {
        if part.len() > 1 && uid_set(part).len() > 8_000 {
            let (a, b) = part.split_at(part.len() / 2);
            todo.push(b);
            todo.push(a);
        } else {
            out.push(part.to_vec());
        }
    }
    out
}

/// Keys to search for any of, grouped into `Key::Any`s of at most ~8 KB rendered each
/// (like `batches`): servers limit a command line (Dovecot to 64 KiB), and a
/// Message-ID may be 1,000 bytes long.
pub fn any_batches(keys: Vec<Key>) -> Vec<Key> {
    let mut out = Vec::new();
    let (mut group, mut len) = (Vec::new(), 0);
    for k in keys {
        // An OR and two pairs of parentheses around each but the last.
        let n = k.render().len() + 8;
        if !group.is_empty() && len + n > 8_000 {
            out.push(Key::Any(std::mem::take(&mut group)));
            len = 0;
        }
        len += n;
        group.push(k);
    }
    if !group.is_empty() {
        out.push(Key::Any(group));
    }
    out
}

/// `* STATUS "完了" (SIZE 123456)` → 123456.
fn status_size(r: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(r);
    if !text.starts_with("* STATUS ") {
        return None;
    }
    let at = text.rfind("(SIZE ")? + "(SIZE ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `* QUOTA "User quota" (STORAGE 10 1024)` → (used, limit) in KiB.
fn storage_of(r: &[u8]) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* QUOTA ")?;
    let inside = rest.get(rest.find('(')? + 1..rest.rfind(')')?)?;
    let words: Vec<&str> = inside.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case("STORAGE"))?;
    let used = words.get(at + 1)?.parse().ok()?;
    let limit = words.get(at + 2)?.parse().ok()?;
    Some((used, limit))
}

/// None unless the server gave the arrival, the size and the text: a message whose
/// identity is unknown is never proven to be the same as another.
fn identity_of(f: &Fetched) -> Option<Identity> {
    use sha2::Digest;
    let arrived = f
        .internal_date
        .as_deref()
        .and_then(|d| chrono::DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())?
        .timestamp();
    if f.header.is_empty() || f.size as usize != f.header.len() {
        return None;
    }
    Some(Identity {
        size: f.size,
        arrived: Some(arrived),
        digest: sha2::Sha256::digest(&f.header).into(),
    })
}

/// `* 3 FETCH (UID 3 MODSEQ (12) FLAGS (…))` for `uid` → its MODSEQ and flags.
fn modseq_flags_of(r: &[u8], uid: u32) -> Option<(u64, Vec<String>)> {
    let Ok((_, Response::Fetch(_, attrs))) = imap_proto::parser::parse_response(r) else {
        return None;
    };
    let (mut u, mut m, mut fl) = (None, None, Vec::new());
    for a in attrs {
        match a {
            AttributeValue::Uid(x) => u = Some(x),
            AttributeValue::ModSeq(x) => m = Some(x),
            AttributeValue::Flags(f) => fl = f.into_iter().map(|s| s.into_owned()).collect(),
            _ => {}
        }
    }
    (u == Some(uid)).then(|| (m.unwrap_or(0), fl))
}

/// A `* STATUS name (…)` answer: the name as sent (quoted strings unescaped) and
/// its UIDVALIDITY and UIDNEXT. Other attributes, in any case, are passed over.
/// The folder a `* STATUS` answer names and its items, upper-cased, with the values
/// that parse as numbers.
fn status_fields(r: &[u8]) -> Option<(String, Vec<(String, u64)>)> {
    let text = String::from_utf8_lossy(r);
    let head = text.get(..9)?;
    if !head.eq_ignore_ascii_case("* STATUS ") {
        return None;
    }
    let rest = &text[9..];
    let (name, after) = match rest.strip_prefix('"') {
        Some(q) => {
            let mut name = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((k, c)) = chars.next() {
                match c {
                    '\\' => name.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = Some(k + 1);
                        break;
                    }
                    c => name.push(c),
                }
            }
            (name, &q[end?..])
        }
        None => {
            let (name, after) = rest.split_once(' ')?;
            (name.to_string(), after)
        }
    };
    let open = after.find('(')?;
    let words: Vec<&str> = after[open + 1..]
        .trim_end()
        .trim_end_matches(')')
        .split_whitespace()
        .collect();
    let fields = words
        .chunks(2)
        .filter_map(|w| match w {
            [k, v] => Some((k.to_ascii_uppercase(), v.parse().ok()?)),
            _ => None,
        })
        .collect();
    Some((name, fields))
}

fn status_answer(r: &[u8]) -> Option<(String, UidPair)> {
    let (name, fields) = status_fields(r)?;
    let mut state = (None, None);
    for (k, v) in fields {
        if k == "UIDVALIDITY" {
            state.0 = u32::try_from(v).ok();
        } else if k == "UIDNEXT" {
            state.1 = u32::try_from(v).ok();
        }
    }
    Some((name, state))
}

/// UIDVALIDITY and UIDNEXT as far as an answer gave them.
type UidPair = (Option<u32>, Option<u32>);

/// Whether a name a server answered with is the folder asked for: INBOX in any case.
fn same_mailbox(asked: &str, answered: &str) -> bool {
    asked == answered
        || asked.eq_ignore_ascii_case("INBOX") && answered.eq_ignore_ascii_case("INBOX")
}

fn merge_state(old: UidPair, new: UidPair) -> UidPair {
    (new.0.or(old.0), new.1.or(old.1))
}

const SPECIAL_USE_LIST: &str = "LIST (SPECIAL-USE) \"\" \"*\"";

/// The folder a LIST answer names, when it is marked `\Sent` and can be opened.
fn sent_of(r: &[u8]) -> Option<String> {
    folder_info(r)
        .filter(|f| f.sent && f.selectable)
        .map(|f| f.name)
}

/// Gmail-style accounts may mark more than one folder `\Sent`; the shortest name is
/// the account's own (not a shared or nested copy).
fn pick_sent(mut found: Vec<String>) -> Option<String> {
    found.sort_by_key(|n| (n.chars().count(), n.clone()));
    found.into_iter().next()
}

/// `LIST "" pattern`, the pattern in UTF-8.
fn list_cmd(pattern: &str) -> String {
    format!("LIST \"\" {}", quote(&mutf7::encode(pattern)))
}

/// One `* LIST` line as a folder (name decoded to UTF-8).
fn folder_info(r: &[u8]) -> Option<FolderInfo> {
    let Ok((
        _,
        Response::MailboxData(MailboxDatum::List {
            name_attributes,
            name,
            ..
        }),
    )) = imap_proto::parser::parse_response(r)
    else {
        return None;
    };
    let has = |want: fn(&NameAttribute) -> bool| name_attributes.iter().any(want);
    Some(FolderInfo {
        name: mutf7::decode_lossy(&name),
        selectable: !has(|a| matches!(a, NameAttribute::NoSelect)),
        sent: has(|a| matches!(a, NameAttribute::Sent)),
    })
}

/// The SEARCH key for a Message-ID in `field`, angle brackets included. An ID too long
/// for a command line is searched by its start: HEADER matches substrings, so that
/// finds a few more messages, never fewer, and every caller proves what it found.
fn message_id_criteria(field: &str, message_id: &str) -> String {
    let bare = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    format!(
        "HEADER {field} {}",
        quote(&search_text(&format!("<{bare}>")))
    )
}

/// Longest text sent as one SEARCH argument. Dovecot refuses a command line over
/// 64 KiB ("Too long argument"), and a sender chooses how long a Message-ID is.
pub const MAX_SEARCH_TEXT: usize = 1000;

/// A header text as a SEARCH argument: its start, up to the first control character
/// (a line break cannot go in a quoted string) and at most MAX_SEARCH_TEXT bytes. A
/// start matches at least the messages the whole would.
fn search_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_SEARCH_TEXT));
    for c in s.chars().take_while(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > MAX_SEARCH_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

/// `* OK [HIGHESTMODSEQ 11] …` → 11.
fn highest_modseq_code(r: &[u8]) -> Option<u64> {
    let rest = r.strip_prefix(b"* OK [HIGHESTMODSEQ ")?;
    let end = rest.iter().position(|&b| b == b']')?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// `* OK [PERMANENTFLAGS (\Seen \*)]` → whether custom keywords are kept.
fn permanent_keywords(r: &[u8]) -> Option<bool> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* OK [")?;
    let (code, _) = rest.split_once(']')?;
    let list = code.strip_prefix("PERMANENTFLAGS")?;
    Some(list.split([' ', '(', ')']).any(|f| f == "\\*"))
}

fn collect_caps(r: &[u8], caps: &mut BTreeSet<String>) {
    let text = String::from_utf8_lossy(r);
    if let Some(rest) = text.strip_prefix("* CAPABILITY ") {
        caps.extend(rest.split_whitespace().map(|s| s.to_ascii_uppercase()));
    }
}

/// `* NAMESPACE (("INBOX." ".")) NIL NIL` → the personal prefix and separator.
fn parse_namespace(line: &str) -> Option<(String, Option<char>)> {
    let rest = line.strip_prefix("* NAMESPACE ")?.trim_start();
    let rest = rest.strip_prefix("((")?;
    let (prefix, rest) = parse_quoted(rest)?;
    let rest = rest.trim_start();
    let sep = if rest.starts_with("NIL") {
        None
    } else {
        parse_quoted(rest)?.0.chars().next()
    };
    Some((prefix, sep))
}

fn parse_quoted(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &s[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

fn copyuid_code(code: &str) -> Option<u32> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    let _src = parts.next()?;
    parts.next()?.split([':', ',']).next()?.parse().ok()
}

/// The source UIDs a COPYUID code names (`COPYUID v 4:6,9 20:23`), only those of
/// `asked`: a server cannot make this process expunge what it did not ask to move.
fn copyuid_sources(code: &str, asked: &[u32]) -> Option<Vec<u32>> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    let src = parts.next()?;
    let mut ranges = Vec::new();
    for piece in src.split(',') {
        let (a, b): (u32, u32) = match piece.split_once(':') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => {
                let a = piece.parse().ok()?;
                (a, a)
            }
        };
        ranges.push((a.min(b), a.max(b)));
    }
    Some(
        asked
            .iter()
            .copied()
            .filter(|u| ranges.iter().any(|(a, b)| (a..=b).contains(&u)))
            .collect(),
    )
}

/// The members of a UID set (`4:6,9`) that are among `asked`: a server cannot make
/// this process act on a UID it did not name. None when the set does not parse.
fn set_members(set: &str, asked: &[u32]) -> Option<Vec<u32>> {
    let ranges = parse_ranges(set)?;
    Some(
        asked
            .iter()
            .copied()
            .filter(|u| ranges.iter().any(|(a, b)| (a..=b).contains(&u)))
            .collect(),
    )
}

fn parse_ranges(set: &str) -> Option<Vec<(u32, u32)>> {
    let mut ranges = Vec::new();
    for piece in set.split(',') {
        let (a, b): (u32, u32) = match piece.split_once(':') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => {
                let a = piece.parse().ok()?;
                (a, a)
            }
        };
        ranges.push((a.min(b), a.max(b)));
    }
    Some(ranges)
}

/// The (source, new) UID pairs of a COPYUID code (`COPYUID v 4:6,9 20:23`), in the
/// order RFC 4315 gives them. None when it is no COPYUID, does not parse, names more
/// UIDs than were asked, or a source that was not asked: such an answer proves
/// nothing about which copy is which.
fn copyuid_pairs(code: &str, asked: &[u32]) -> Option<Vec<(u32, u32)>> {
    let mut parts = code.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("COPYUID") {
        return None;
    }
    let _validity = parts.next()?;
    let expand = |set: &str| -> Option<Vec<u32>> {
        let mut out = Vec::new();
        for piece in set.split(',') {
            let (a, b): (u32, u32) = match piece.split_once(':') {
                Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
                None => {
                    let a = piece.parse().ok()?;
                    (a, a)
                }
            };
            let (lo, hi) = (a.min(b), a.max(b));
            if out.len() + (hi - lo) as usize >= asked.len() {
                return None;
            }
            // Ranges in a COPYUID run upwards; a:b with a > b lists the same UIDs.
            out.extend(lo..=hi);
        }
        Some(out)
    };
    let src = expand(parts.next()?)?;
    let dst = expand(parts.next()?)?;
    let asked: std::collections::HashSet<u32> = asked.iter().copied().collect();
    if src.len() != dst.len() || src.iter().any(|u| !asked.contains(u)) {
        return None;
    }
    Some(src.into_iter().zip(dst).collect())
}

fn copyuid_untagged(r: &[u8]) -> Option<u32> {
    let text = String::from_utf8_lossy(r);
    let rest = text.strip_prefix("* OK ")?;
    let (code, _) = conn::split_code(rest.trim_end());
    copyuid_code(&code?)
}

fn parse_fetch(r: &[u8]) -> Option<Fetched> {
    let Ok((_, Response::Fetch(_, attrs))) = imap_proto::parser::parse_response(r) else {
        return None;
    };
    let mut f = Fetched {
        uid: 0,
        flags: Vec::new(),
        modseq: None,
        internal_date: None,
        size: 0,
        header: Vec::new(),
    };
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => f.uid = u,
            AttributeValue::Flags(fl) => f.flags = fl.into_iter().map(|s| s.into_owned()).collect(),
            AttributeValue::InternalDate(d) => f.internal_date = Some(d.into_owned()),
            AttributeValue::Rfc822Size(s) => f.size = s,
            AttributeValue::ModSeq(m) => f.modseq = Some(m),
            AttributeValue::BodySection { data: Some(d), .. } => f.header = d.into_owned(),
            _ => {}
        }
    }
    (f.uid != 0).then_some(f)
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
    fn status_answers_name_their_folder_however_written() {
        let (name, st) = status_answer(b"* STATUS &W4xOhg- (UIDNEXT 7 UIDVALIDITY 9)\r\n").unwrap();
        assert_eq!((name.as_str(), st), ("&W4xOhg-", (Some(9), Some(7))));
        // Quoted with escapes; attributes not asked for, in any case, passed over.
        let (name, st) =
            status_answer(b"* status \"a \\\"b\\\\\" (SIZE 3 X-FOO 4 uidnext 5 UIDVALIDITY 6)\r\n")
                .unwrap();
        assert_eq!((name.as_str(), st), ("a \"b\\", (Some(6), Some(5))));
        assert!(same_mailbox("INBOX", "inbox"));
        assert!(!same_mailbox("Sent", "sent"));
        assert!(status_answer(b"* STATUS \"unterminated (UIDNEXT 5)\r\n").is_none());
        assert!(status_answer(b"* SEARCH 1 2\r\n").is_none());
        assert!(status_answer(b"* STATUS").is_none());
    }

    #[test]
    fn status_fields_give_every_number_the_answer_has() {
        let (name, f) = status_fields(
            b"* STATUS \"&Zypb,l,c-\" (UIDVALIDITY 9 uidnext 7 MESSAGES 5 HIGHESTMODSEQ 18446744073709551615)\r\n",
        )
        .unwrap();
        assert_eq!(name, "&Zypb,l,c-");
        assert_eq!(
            f,
            vec![
                ("UIDVALIDITY".to_string(), 9),
                ("UIDNEXT".to_string(), 7),
                ("MESSAGES".to_string(), 5),
                ("HIGHESTMODSEQ".to_string(), u64::MAX),
            ]
        );
        // A value that is not a number is passed over, the rest kept.
        let (_, f) = status_fields(b"* STATUS INBOX (X-FOO bar UIDNEXT 3)\r\n").unwrap();
        assert_eq!(f, vec![("UIDNEXT".to_string(), 3)]);
    }

    #[test]
    fn namespace_lines() {
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"),
            Some((String::new(), Some('/')))
        );
        assert_eq!(
            parse_namespace("* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL"),
            Some(("INBOX.".to_string(), Some('.')))
        );
        assert_eq!(parse_namespace("* NAMESPACE NIL NIL NIL"), None);
    }

    #[test]
    fn copyuid() {
        assert_eq!(
            copyuid_untagged(b"* OK [COPYUID 1700000000 4 12] Moved UIDs.\r\n"),
            Some(12)
        );
        assert_eq!(copyuid_code("COPYUID 1 4:5 12:13"), Some(12));
        assert_eq!(copyuid_untagged(b"* OK [UIDNEXT 4] x\r\n"), None);
        assert_eq!(
            copyuid_sources("COPYUID 1 4:6,9 20:23", &[3, 4, 5, 9, 10]),
            Some(vec![4, 5, 9])
        );
        assert_eq!(
            copyuid_sources("COPYUID 1 0:4294967295 1:2", &[7]),
            Some(vec![7])
        );
    }

    #[test]
    fn copyuid_pairs_name_only_what_was_asked() {
        assert_eq!(
            copyuid_pairs("COPYUID 9 4:6,9 20:23", &[3, 4, 5, 6, 9]),
            Some(vec![(4, 20), (5, 21), (6, 22), (9, 23)])
        );
        // A source this process did not ask to move, a length mismatch, a range
        // far larger than the set asked: nothing is proven.
        assert_eq!(copyuid_pairs("COPYUID 9 4,7 20:21", &[4, 5]), None);
        assert_eq!(copyuid_pairs("COPYUID 9 4:5 20", &[4, 5]), None);
        assert_eq!(
            copyuid_pairs("COPYUID 9 1:4294967295 1:4294967295", &[1]),
            None
        );
        assert_eq!(copyuid_pairs("APPENDUID 9 4", &[4]), None);
        assert_eq!(set_members("2:4,9", &[1, 3, 9, 10]), Some(vec![3, 9]));
        assert_eq!(set_members("x", &[1]), None);
    }

    #[test]
    fn permanentflags_tell_whether_keywords_stay() {
        assert_eq!(
            permanent_keywords(b"* OK [PERMANENTFLAGS (\\Answered \\Seen \\*)] Ok\r\n"),
            Some(true)
        );
        assert_eq!(
            permanent_keywords(b"* OK [PERMANENTFLAGS (\\Answered \\Seen)] Limited\r\n"),
            Some(false)
        );
        assert_eq!(
            permanent_keywords(b"* OK [PERMANENTFLAGS ()] x\r\n"),
            Some(false)
        );
        assert_eq!(permanent_keywords(b"* OK [UIDVALIDITY 3] x\r\n"), None);
        assert_eq!(permanent_keywords(b"* OK [PERMANENTFLAGS (\r\n"), None);
    }

    #[test]
    fn tls_hints_name_the_cause() {
        let h = tls_hint("certificate verify failed: (certificate has expired)", "h");
        assert!(
            h.contains("expired") && !h.contains("set imap.ca_file"),
            "{h}"
        );
        let h = tls_hint("certificate verify failed: (Hostname mismatch)", "mail.x");
        assert!(
            h.contains("not for mail.x") && !h.contains("set imap.ca_file"),
            "{h}"
        );
        let h = tls_hint("(IP address mismatch)", "127.0.0.1");
        assert!(h.contains("not for 127.0.0.1"), "{h}");
        let h = tls_hint("(unable to get local issuer certificate)", "h");
        assert!(h.contains("set imap.ca_file"), "{h}");
        let h = tls_hint("(self-signed certificate in certificate chain)", "h");
        assert!(h.contains("set imap.ca_file"), "{h}");
        assert!(!tls_hint("handshake failure", "h").contains("ca_file"));
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

    #[test]
    fn uid_sets_and_quota() {
        assert_eq!(uid_set(&[5, 1, 2, 3, 9, 12, 13, 14, 3]), "1:3,5,9,12:14");
        assert_eq!(uid_set(&[7]), "7");
        let contiguous: Vec<u32> = (1..=45_000).collect();
        assert_eq!(batches(&contiguous).len(), 3);
        let sparse: Vec<u32> = (1..=20_000).map(|u| u * 2).collect();
        let b = batches(&sparse);
        assert!(b.iter().all(|s| uid_set(s).len() <= 8_000), "{}", b.len());
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 20_000);
        assert_eq!(
            storage_of(b"* QUOTA \"User quota\" (STORAGE 10 1024)\r\n"),
            Some((10, 1024))
        );
        assert_eq!(storage_of(b"* QUOTA \"\" ()\r\n"), None);
        assert_eq!(storage_of(b"* QUOTA x )(\r\n"), None);
        assert_eq!(
            status_size(b"* STATUS \"&W4xOhg-\" (SIZE 4096)\r\n"),
            Some(4096)
        );
        assert_eq!(
            status_size(b"* STATUS x (SIZE 99999999999999999999999)\r\n"),
            None
        );
    }

    #[test]
    fn any_batches_stay_under_a_line_limit() {
        let keys: Vec<Key> = (0..300)
            .map(|i| Key::HeaderId("X-Mailduty-Target", format!("{i}{}@x", "a".repeat(990))))
            .collect();
        let groups = any_batches(keys.clone());
        assert!(groups.len() > 30, "{}", groups.len());
        let mut n = 0;
        for g in &groups {
            let Key::Any(ks) = g else {
                panic!("not an Any")
            };
            n += ks.len();
            assert!(criteria(std::slice::from_ref(g)).len() <= 8_000 + 1_100);
        }
        assert_eq!(n, 300);
        let short: Vec<Key> = (0..100).map(|i| Key::MessageId(format!("{i}@x"))).collect();
        assert_eq!(any_batches(short).len(), 1);
        assert!(any_batches(Vec::new()).is_empty());
    }
}
