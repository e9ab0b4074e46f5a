//! 対応履歴: every transition is appended to the history folder as a small RFC 5322
//! message whose `X-Mailduty-*` headers a program can read back.
//!
//! This file holds what is written and read (`Event`, `Stored`, `Lock`); `write`
//! renders history mails (one event, or a batch of many) and appends them; `read`
//! searches and parses them back. Part of the desk; calls only `imap` and the queue's
//! `Item`.

mod read;
mod write;

pub use read::*;
pub use write::*;

use anyhow::Result;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::desk::queue::Item;
use crate::imap::{Key, Mailbox};

pub struct Event<'a> {
    pub kind: &'a str,
    pub actor: &'a str,
    pub item: &'a Item,
    pub from_folder: &'a str,
    pub to_folder: Option<&'a str>,
    pub note: Option<&'a str>,
    pub at: DateTime<Utc>,
    /// The event's own Message-ID, when a retry must be able to find it (a note);
    /// else one is made up.
    pub message_id: Option<String>,
}

/// An event read back from the history folder.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub time: DateTime<Utc>,
    pub event: String,
    pub actor: String,
    /// The IMAP login of the session that recorded it (events written before
    /// mailduty recorded it have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    pub id: String,
    /// The Message-ID the event is about, without angle brackets.
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from_folder: Option<String>,
    pub to_folder: Option<String>,
    pub note: Option<String>,
    /// When the message arrived, as known when the event was recorded.
    pub arrived: Option<DateTime<Utc>>,
    /// The message's size (events written before it was recorded have none).
    pub size: Option<u32>,
    /// The message's sender, as its From header gave it.
    pub sender: Option<String>,
    /// The message's hash (its short ID's source), where the event names it.
    #[serde(skip)]
    pub hash: Option<String>,
    /// The chat targets that were to hear of this event when it was recorded.
    #[serde(skip)]
    pub notify: Vec<String>,
    /// The event's own Message-ID: one move recorded twice (by its run and by a
    /// later run that finished it) has one ID, and is read once.
    #[serde(skip)]
    pub own_id: Option<String>,
}

impl Stored {
    /// Whether the event is about this stored message rather than another one with
    /// the same Message-ID: the arrival and size it names, where it names them.
    pub fn concerns(&self, it: &Item) -> bool {
        self.arrived
            .is_none_or(|a| a.timestamp() == it.arrived.timestamp())
            && self.size.is_none_or(|s| s == it.size)
    }
}

const FIELDS: &str = "X-MAILDUTY-EVENT X-MAILDUTY-ACTOR X-MAILDUTY-LOGIN X-MAILDUTY-ID X-MAILDUTY-TIME X-MAILDUTY-TARGET X-MAILDUTY-FROM-FOLDER X-MAILDUTY-TO-FOLDER X-MAILDUTY-NOTE X-MAILDUTY-SUBJECT X-MAILDUTY-ARRIVED X-MAILDUTY-SIZE X-MAILDUTY-SENDER X-MAILDUTY-NOTIFY X-MAILDUTY-HASH X-MAILDUTY-ITEM MESSAGE-ID";

type Fields = Vec<(String, String)>;

/// One lock mark of a chat target's deliveries: `take` while a run sends to it,
/// `free` when that run is through.
#[derive(Debug, Clone)]
pub struct Lock {
    pub uid: u32,
    pub take: bool,
    pub target: String,
    pub nonce: String,
    pub time: DateTime<Utc>,
}

#[cfg(test)]
mod tests;
