//! The one door to the IMAP server. Opened once per command, it knows the server's
//! capabilities, personal namespace and separator, encodes folder names, and offers
//! the few operations the desk needs. Nothing else speaks IMAP. Below the desk; calls
//! only `rules` (the account), `signin` (tokens), `secret` and `output`.
//!
//! This file holds the types callers see (`Mailbox`, `Key`, `Flags` and the answers);
//! the operations are by concern: `session` (connect, sign in, log out), `folders`
//! (names, LIST, SELECT, STATUS), `search` (SEARCH and FETCH, read-only), `change`
//! (STORE, MOVE, APPEND), `sets` (several set moves and flag changes in the round
//! trips of one), `searchres`
//! (the newest message a search finds, fetched in its round trip), `syntax`
//! (arguments built, responses parsed), beside `conn` (the wire and pipelining),
//! `auth` (SASL), `acl` and `idle`.

mod acl;
mod auth;
mod change;
pub mod conn;
mod folders;
mod idle;
pub mod mutf7;
mod search;
mod searchres;
mod session;
mod sets;
mod syntax;

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
pub use idle::Woke;
use syntax::*;
pub use syntax::{MAX_SEARCH_TEXT, any_batches, batches};

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
        } else if let Ok((_, Response::MailboxData(MailboxDatum::Exists(n)))) = parse_response(r) {
            self.exists = n;
        }
    }
}

/// What `fetch_queues` hands over: a folder's message count first (room can be
/// made at once), its UIDVALIDITY, then its messages.
pub enum Queued {
    Size(u32),
    /// The folder's UIDVALIDITY, from its opening in the same round trip.
    Validity(u32),
    Message(Fetched),
    /// A message below the folder's `known` UID: its UID, flags and MODSEQ only (the
    /// caller holds its header fields, which never change under one UIDVALIDITY).
    Flags(Fetched),
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
    /// The answer carried the header section asked for (a flags-only answer has none).
    pub section: bool,
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

/// An IMAP quoted string for a search argument.
pub fn quote_arg(s: &str) -> String {
    quote(s)
}

impl Mailbox {
    fn has(&self, cap: &str) -> bool {
        self.caps.contains(cap)
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
}
