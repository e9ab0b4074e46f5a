//! rules.yaml: the validated `Rules` with no loose options, the lookups callers make
//! on them, and loading the file (size, depth and privacy checked before parsing).
//! Every problem names the file, line and key; `check` shows them all.
//!
//! By concern: `raw` is the serde mirror of the file; `validate` turns it into
//! `Rules` (with `mailbox` for the server, folders, members and archive, `schedule`
//! for the roster and calendar, `report` for the digest and routes, `notify`,
//! `oauth` for their blocks); `personal` is a member's own login.yaml; `text` holds
//! durations, did-you-mean and key locations; `yamlscan` finds duplicate keys.
//! Secrets' sources are in `crate::secret`, shared with SMTP and chat. Below
//! everything but the pure modules (`calendar`, `roster`, `automated`, `secret`,
//! `https`, `error`), which are all it calls.

mod mailbox;
pub mod notify;
mod oauth;
pub mod personal;
mod raw;
mod report;
mod schedule;
mod text;
mod validate;
mod yamlscan;

pub use oauth::{Endpoints, Flow, Mechanism, OAuth2, Provider, TokenSource, default_token_file};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;

use crate::calendar::{Calendar, YearlyRange};
use crate::error::{Error, config};
use crate::roster::{self, Every, Plan, Roster};
use crate::secret::password_sources;
pub use crate::secret::{Hidden, Secret};
use chrono::{NaiveDate, NaiveTime, Weekday};
use raw::*;
pub use text::{MAX_DURATION_SECS, did_you_mean, is_loopback, locate, parse_duration, xdg_dir};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    Implicit,
    Starttls,
    None,
}

#[derive(Debug, Clone)]
pub struct ImapAccount {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub user: String,
    pub auth: Auth,
    /// The mailbox the team shares, as the server names it below its other users'
    /// namespace (`shared/support/…`). Set on a member's own session; None when
    /// `user` is the mailbox itself (the service login, or Microsoft 365 where a
    /// member's token opens the shared address directly).
    pub shared_mailbox: Option<String>,
}

/// How an account signs in.
#[derive(Debug, Clone)]
pub enum Auth {
    /// LOGIN (IMAP) or AUTH PLAIN/LOGIN (SMTP) with a password.
    Password(Secret),
    /// SASL XOAUTH2 or OAUTHBEARER with an access token.
    OAuth2(OAuth2),
}

#[derive(Debug, Clone)]
pub struct Folders {
    pub inbox: String,
    pub unclaimed: String,
    pub claimed: String,
    pub done: String,
    pub history: String,
    /// 保留: waiting on the customer or on someone.
    pub held: String,
    /// 対応不要: needs no reply (automated mail, spam, thanks-only).
    pub dismissed: String,
    /// Where the account's mail clients file what they send; None: the folder the
    /// server marks SPECIAL-USE \Sent.
    pub sent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    pub name: String,
    pub email: Option<String>,
    pub login: String,
    /// Slack member ID (`U012AB3CD`), mentioned as `<@U012AB3CD>`.
    pub slack: Option<String>,
    /// Chatwork account ID, mentioned as `[To:1234567]`.
    pub chatwork: Option<String>,
    /// Display names or addresses (`*` and `?` patterns) in the From of what this
    /// member sends from the shared account.
    pub sent_as: Vec<String>,
}

impl Member {
    /// Whether a sent message's From (address and display name) is this member's.
    pub fn sent_it(&self, addr: &str, name: Option<&str>) -> bool {
        let (addr, name) = (addr.to_lowercase(), name.unwrap_or("").to_lowercase());
        self.sent_as.iter().any(|p| {
            let p = p.to_lowercase();
            if p.contains('@') {
                glob(&p, &addr)
            } else if p.contains(['*', '?']) {
                glob(&p, &name)
            } else {
                !name.is_empty() && name.contains(&p)
            }
        })
    }
}

/// What `rotate --apply` does with unclaimed mail it finds a reply to in Sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnReply {
    /// Record the reply; the message shows as replied and is no longer overdue.
    Mark,
    /// Also move it to the replier's folder (when the replier is known).
    Claim,
    /// Also move it to 完了.
    Done,
}

#[derive(Debug, Clone)]
pub struct Rules {
    pub path: PathBuf,
    pub timezone: chrono_tz::Tz,
    pub imap: ImapAccount,
    pub folders: Folders,
    pub members: Vec<Member>,
    pub sla_unclaimed: Duration,
    pub sla_claimed: Duration,
    pub calendar: Calendar,
    pub roster: Roster,
    pub assign: Assign,
    pub threads: bool,
    pub routes: Vec<Route>,
    pub digest: DigestRules,
    pub archive: ArchiveRules,
    /// Percent of the quota above which init, report and the digest warn.
    pub quota_warn: u8,
    /// Chat targets that hear of events (`notify:`).
    pub notify: Vec<notify::Target>,
    pub on_reply: OnReply,
    /// How long after a message a "Re:" with no In-Reply-To/References to its sender
    /// still counts as a reply to it; also how far back Sent is read when there is no
    /// earlier look to go on.
    pub reply_window: Duration,
    pub sign_in: SignInMode,
    /// Logins granted read-only rights (`lr`) by `init`.
    pub viewers: Vec<String>,
    /// `imap.shared_mailbox`: the mailbox's name below the server's other users'
    /// namespace, for members signed in as themselves; default `imap.user`.
    pub shared_mailbox: Option<String>,
    /// What intake does with automated mail (`automated:`).
    pub automated: Automated,
    /// The key of the mark on what mailduty sends (`automated::mark_key`).
    pub mark_key: [u8; 32],
}

/// What `rotate --apply` does with automated mail it finds in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Automated {
    /// Into 対応不要, with the reason in the history.
    Dismiss,
    /// Into 未対応 as other mail, but never overdue, handed out or alerted on.
    File,
}

/// How members reach the mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMode {
    /// Everybody uses the service login of `imap:` (and `--as` says who acts).
    Shared,
    /// Each member signs in as themselves (`login.yaml`); the actor is the login.
    Personal,
}

/// `mailduty archive`: 完了 mail older than `after` goes to `folder` with `{year}`
/// replaced by its arrival year; history events likewise when `history_after` is set.
#[derive(Debug, Clone)]
pub struct ArchiveRules {
    pub after: Duration,
    pub folder: String,
    pub history_after: Option<Duration>,
    pub history_folder: String,
}

impl ArchiveRules {
    pub fn folder_for(pattern: &str, year: i32) -> String {
        pattern.replace("{year}", &year.to_string())
    }
}

/// Who gets the digest: the members on duty that day, a member, or an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Duty,
    Member(String),
    Address(String),
}

#[derive(Debug, Clone)]
pub struct SmtpAccount {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub user: Option<String>,
    pub secret: Option<Secret>,
    /// Instead of a password: the token's source (`oauth2: imap` copies the IMAP one).
    pub oauth2: Option<OAuth2>,
}

#[derive(Debug, Clone)]
pub enum Transport {
    /// Neither smtp nor sendmail in the rules: `report --send` says what to add.
    Unset,
    Smtp(SmtpAccount),
    Sendmail(PathBuf),
}

#[derive(Debug, Clone)]
pub struct DigestRules {
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    /// `Name <address>` or an address; defaults to the IMAP user when it is one.
    pub from: Option<String>,
    pub send_when_empty: bool,
    pub transport: Transport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assign {
    None,
    Duty,
}

/// A routing rule: mail whose sender and subject match goes to `owner` at intake,
/// and is held to `sla` instead of `sla.unclaimed`.
#[derive(Debug, Clone)]
pub struct Route {
    /// 1-based, as admins count the rules.
    pub number: usize,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub owner: Option<String>,
    pub sla: Option<Duration>,
    /// `action: dismiss`: matching mail goes to 対応不要 at intake.
    pub dismiss: bool,
}

impl Route {
    /// `from` with an @ is a pattern for the whole address, without one the domain;
    /// `subject` with * or ? is a pattern, otherwise a part of the subject. Case is
    /// ignored throughout.
    pub fn matches(&self, from_addr: &str, subject: &str) -> bool {
        let from_ok = self.from.as_deref().is_none_or(|p| {
            let addr = from_addr.to_lowercase();
            let p = p.to_lowercase();
            if p.contains('@') {
                glob(&p, &addr)
            } else {
                let domain = addr.rsplit_once('@').map_or("", |(_, d)| d);
                glob(&p, domain)
            }
        });
        let subject_ok = self.subject.as_deref().is_none_or(|p| {
            let (p, s) = (p.to_lowercase(), subject.to_lowercase());
            if p.contains(['*', '?']) {
                glob(&p, &s)
            } else {
                s.contains(&p)
            }
        });
        from_ok && subject_ok
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(f) = &self.from {
            parts.push(format!("from {f}"));
        }
        if let Some(s) = &self.subject {
            parts.push(format!("subject {s}"));
        }
        format!("route {}: {}", self.number, parts.join(", "))
    }
}

/// `*` any run of characters, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Rules {
    pub fn member(&self, key: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.key == key)
    }

    /// The member named by `key`, or an error that lists the configured ones.
    pub fn require_member(&self, key: &str) -> Result<&Member> {
        self.member(key).ok_or_else(|| {
            config(format!(
                "no member named {key:?} in {}; members: {}{}",
                self.path.display(),
                self.member_keys().join(", "),
                did_you_mean(key, self.members.iter().map(|m| m.key.as_str()))
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default()
            ))
        })
    }

    /// The first routing rule that matches, as at intake.
    pub fn route_for(&self, from: &str, subject: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.matches(from, subject))
    }

    /// How long unclaimed mail from this sender may wait, in business time: the
    /// matching route's sla, else sla.unclaimed.
    pub fn unclaimed_sla(&self, from: &str, subject: &str) -> Duration {
        self.route_for(from, subject)
            .and_then(|r| r.sla)
            .unwrap_or(self.sla_unclaimed)
    }

    pub fn member_keys(&self) -> Vec<&str> {
        self.members.iter().map(|m| m.key.as_str()).collect()
    }

    /// The display name of the owner of a member folder (which may belong to
    /// someone no longer in the rules).
    pub fn owner_label(&self, key: &str) -> String {
        match self.member(key) {
            Some(m) if m.name != m.key => format!("{} ({})", m.name, m.key),
            _ => key.to_string(),
        }
    }
}

/// Where the rules file is: `--rules`, `MAILDUTY_RULES`, XDG, then /etc.
pub fn locate_file(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("MAILDUTY_RULES").filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = xdg {
        let p = dir.join("mailduty/rules.yaml");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("/etc/mailduty/rules.yaml")
}

#[derive(Debug)]
pub struct Loaded {
    pub rules: Rules,
    pub warnings: Vec<String>,
}

/// Reads and validates a rules file; on failure the error lists every problem found.
pub fn load(path: &Path) -> Result<Loaded> {
    use std::io::Read;
    let cannot = |e: &dyn std::fmt::Display| {
        config(format!(
            "cannot read rules file {}: {e} (give one with --rules PATH or MAILDUTY_RULES)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    // `--rules /dev/zero` or a log file given by mistake must not be read to the end.
    let mut bytes = Vec::new();
    file.take(MAX_RULES_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_RULES_BYTES {
        return Err(config(format!(
            "{}: larger than {} KiB; a rules file is a few KiB of YAML",
            path.display(),
            MAX_RULES_BYTES / 1024
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
        config(format!(
            "{}:{line}: not UTF-8 text; save the rules file as UTF-8",
            path.display()
        ))
    })?;
    parse(path, &text, file_is_private(path))
}

/// Largest rules file read.
pub const MAX_RULES_BYTES: u64 = 1 << 20;

/// Deepest nesting of flow collections (`[`, `{`) accepted; the rules need three.
pub const MAX_DEPTH: usize = 64;

#[cfg(unix)]
fn file_is_private(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

#[cfg(not(unix))]
fn file_is_private(_: &Path) -> bool {
    true
}

pub fn parse(path: &Path, text: &str, private: bool) -> Result<Loaded> {
    let file = path.display().to_string();
    // Windows editors start UTF-8 files with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(line) = too_deep(text) {
        return Err(config(format!(
            "{file}:{line}: nested more than {MAX_DEPTH} deep; the rules need a few levels"
        )));
    }
    if let Some(d) = yamlscan::duplicate_key(text) {
        return Err(config(format!(
            "{file}:{}:{}: duplicate key {} (first at line {}); give each key once",
            d.line, d.column, d.path, d.first_line
        )));
    }
    let raw: RawRules = serde_yaml::from_str(text).map_err(|e| {
        let msg = e.to_string();
        // serde_yaml says "... at line L column C"; lead with file:line:col instead.
        let (msg, loc) = match (e.location(), msg.rfind(" at line ")) {
            (Some(l), Some(at)) => (
                msg[..at].to_string(),
                format!("{}:{}", l.line(), l.column()),
            ),
            (Some(l), None) => (msg, format!("{}:{}", l.line(), l.column())),
            _ => (msg, "1".to_string()),
        };
        config(format!("{file}:{loc}: {msg}"))
    })?;

    let mut v = Validator {
        file: &file,
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let rules = v.rules(path, raw, private);
    if !v.problems.is_empty() {
        return Err(Error::Config(v.problems.join("\n")).into());
    }
    Ok(Loaded {
        rules: rules.expect("no problems means complete rules"),
        warnings: v.warnings,
    })
}

/// The line where flow collections first nest deeper than MAX_DEPTH. Cheap and done
/// before the YAML parser, which takes minutes over 100,000 `[`.
fn too_deep(text: &str) -> Option<usize> {
    let (mut depth, mut line) = (0usize, 1);
    let mut quote: Option<char> = None;
    let mut prev = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '#' if prev.is_whitespace() => {
                    while chars.peek().is_some_and(|n| *n != '\n') {
                        chars.next();
                    }
                }
                '"' | '\'' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(c),
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Some(line);
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    None
}

struct Validator<'a> {
    file: &'a str,
    text: &'a str,
    problems: Vec<String>,
    warnings: Vec<String>,
}

#[cfg(test)]
mod tests;
