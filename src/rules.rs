//! rules.yaml: the serde mirror of the file, then validated `Rules` with no loose
//! options. Every problem names the file, line and key; `check` shows them all.

pub mod notify;
mod oauth;
pub mod personal;
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    timezone: Option<String>,
    imap: RawImap,
    #[serde(default)]
    folders: RawFolders,
    members: BTreeMap<String, RawMember>,
    sla: Option<RawSla>,
    roster: Option<RawRoster>,
    business_hours: Option<RawHours>,
    assign: Option<String>,
    threads: Option<bool>,
    #[serde(default)]
    routes: Vec<RawRoute>,
    digest: Option<RawDigest>,
    archive: Option<RawArchive>,
    quota: Option<RawQuota>,
    #[serde(default)]
    notify: Vec<notify::RawTarget>,
    on_reply: Option<String>,
    reply_window: Option<String>,
    sign_in: Option<String>,
    #[serde(default)]
    viewers: Vec<String>,
    automated: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchive {
    after: Option<String>,
    folder: Option<String>,
    history_after: Option<String>,
    history_folder: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuota {
    warn: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDigest {
    to: Option<Vec<String>>,
    #[serde(default)]
    cc: Vec<String>,
    from: Option<String>,
    send_when_empty: Option<bool>,
    smtp: Option<RawSmtp>,
    sendmail: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    tls: Option<TlsMode>,
    ca_file: Option<PathBuf>,
    user: Option<String>,
    password_command: Option<Hidden>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    password: Option<Hidden>,
    oauth2: Option<oauth::RawSmtpOAuth2>,
}

/// A member key or a list of them.
#[derive(Debug)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member key or a list of member keys")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = seq.next_element::<String>()? {
                    out.push(k);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoster {
    weekdays: Option<BTreeMap<String, OneOrMany>>,
    rotation: Option<RawRotation>,
    #[serde(default)]
    overrides: BTreeMap<String, OneOrMany>,
    holidays: Option<RawHolidays>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRotation {
    #[serde(default)]
    members: Vec<String>,
    every: Option<String>,
    start: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolidays {
    japan: Option<bool>,
    #[serde(default)]
    dates: Vec<String>,
    #[serde(default)]
    yearly: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    start: Option<String>,
    end: Option<String>,
    days: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(rename = "match")]
    matcher: RawMatch,
    owner: Option<String>,
    sla: Option<String>,
    action: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatch {
    from: Option<String>,
    subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImap {
    host: String,
    port: Option<u16>,
    tls: Option<TlsMode>,
    ca_file: Option<PathBuf>,
    user: String,
    password_command: Option<Hidden>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    password: Option<Hidden>,
    oauth2: Option<oauth::RawOAuth2>,
    shared_mailbox: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFolders {
    inbox: Option<String>,
    unclaimed: Option<String>,
    claimed: Option<String>,
    done: Option<String>,
    history: Option<String>,
    held: Option<String>,
    dismissed: Option<String>,
    sent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMember {
    name: Option<String>,
    email: Option<String>,
    login: Option<String>,
    sent_as: Option<OneOrMany>,
    slack: Option<String>,
    chatwork: Option<IdNumber>,
}

/// A chat user ID written as a number or a string (`chatwork: 1234567`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IdNumber {
    Number(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    unclaimed: Option<String>,
    claimed: Option<String>,
}

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

impl Validator<'_> {
    fn at(&self, keys: &[&str]) -> String {
        match locate(self.text, keys) {
            Some((line, col)) => format!("{}:{line}:{col}", self.file),
            None => self.file.to_string(),
        }
    }

    fn problem(&mut self, keys: &[&str], msg: impl AsRef<str>) {
        let p = format!("{}: {}: {}", self.at(keys), keys.join("."), msg.as_ref());
        self.problems.push(p);
    }

    fn warn(&mut self, keys: &[&str], msg: impl AsRef<str>) {
        let w = format!("{}: {}: {}", self.at(keys), keys.join("."), msg.as_ref());
        self.warnings.push(w);
    }

    /// Text that goes to a server inside a command or a header: a line break there
    /// would end the command and start one the file did not mean.
    fn one_line(&mut self, keys: &[&str], v: &str) -> bool {
        if v.chars().any(char::is_control) {
            self.problem(
                keys,
                "contains a control character (a line break, say), which would reach the server as part of a command",
            );
            return false;
        }
        true
    }

    /// A CA certificate file that TLS will be able to use, read now rather than after
    /// connecting.
    fn ca_file(&mut self, keys: &[&str], ca: &Path) -> bool {
        let msg = match std::fs::read(ca) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                format!("{} does not exist", ca.display())
            }
            Err(e) => format!("cannot read {}: {e}", ca.display()),
            Ok(pem) => match native_tls::Certificate::from_pem(&pem) {
                Ok(_) if pem.windows(11).any(|w| w == b"-----BEGIN ") => return true,
                _ => format!(
                    "{} is not a PEM certificate (a file starting -----BEGIN CERTIFICATE-----)",
                    ca.display()
                ),
            },
        };
        self.problem(keys, msg);
        false
    }

    fn rules(&mut self, path: &Path, raw: RawRules, private: bool) -> Option<Rules> {
        let timezone = match raw
            .timezone
            .as_deref()
            .unwrap_or("Asia/Tokyo")
            .parse::<chrono_tz::Tz>()
        {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.problem(
                    &["timezone"],
                    "not an IANA time zone name (e.g. Asia/Tokyo)",
                );
                None
            }
        };
        let shared_mailbox = raw.imap.shared_mailbox.clone();
        if let Some(m) = &shared_mailbox {
            self.one_line(&["imap", "shared_mailbox"], m);
        }
        let imap = self.imap(raw.imap, private);
        let sign_in = match raw.sign_in.as_deref() {
            None | Some("shared") => SignInMode::Shared,
            Some("personal") => SignInMode::Personal,
            Some(other) => {
                self.problem(
                    &["sign_in"],
                    format!("{other:?} is not a sign-in mode: shared or personal"),
                );
                SignInMode::Shared
            }
        };
        for v in &raw.viewers {
            if v.trim().is_empty() || v.chars().any(|c| c.is_control() || c == ' ') {
                self.problem(&["viewers"], format!("{v:?} is not a login"));
            }
        }
        let folders = self.folders(raw.folders);
        let members = self.members(raw.members);
        let (sla_unclaimed, sla_claimed) = self.sla(raw.sla);
        let keys: Vec<String> = members.iter().map(|m| m.key.clone()).collect();
        let raw_roster = raw.roster.unwrap_or(RawRoster {
            weekdays: None,
            rotation: None,
            overrides: BTreeMap::new(),
            holidays: None,
        });
        let calendar = self.calendar(
            timezone.unwrap_or(chrono_tz::Asia::Tokyo),
            raw.business_hours,
            raw_roster.holidays.unwrap_or_default(),
        );
        let roster = self.roster(
            raw_roster.weekdays,
            raw_roster.rotation,
            raw_roster.overrides,
            &keys,
            &calendar,
        );
        let assign = match raw.assign.as_deref() {
            None | Some("none") => Assign::None,
            Some("duty") => Assign::Duty,
            Some(other) => {
                self.problem(&["assign"], format!("{other:?} is not none or duty"));
                Assign::None
            }
        };
        if assign == Assign::Duty
            && matches!(roster.plan, Plan::Nobody)
            && roster.overrides.is_empty()
        {
            self.problem(
                &["assign"],
                "assign: duty needs a roster (roster.weekdays or roster.rotation)",
            );
        }
        let routes = self.routes(raw.routes, &keys);
        let digest = self.digest(raw.digest, &keys, private, imap.as_ref());
        let archive = self.archive(raw.archive, &folders);
        let notify = notify::targets(raw.notify, private, &mut |k, m| self.problem(k, m));
        let quota_warn = match raw.quota.and_then(|q| q.warn) {
            None => 80,
            Some(w @ 1..=100) => w,
            Some(w) => {
                self.problem(
                    &["quota", "warn"],
                    format!("{w} is not a percentage from 1 to 100"),
                );
                80
            }
        };
        let on_reply = match raw.on_reply.as_deref() {
            None | Some("mark") => OnReply::Mark,
            Some("claim") => OnReply::Claim,
            Some("done") => OnReply::Done,
            Some(other) => {
                self.problem(
                    &["on_reply"],
                    format!("{other:?} is not mark, claim or done"),
                );
                OnReply::Mark
            }
        };
        let reply_window = match raw.reply_window {
            None => Duration::from_secs(7 * 86400),
            Some(s) => match parse_duration(&s) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    self.problem(
                        &["reply_window"],
                        format!("{s:?} is not a duration above zero (like 7d, 72h)"),
                    );
                    Duration::from_secs(7 * 86400)
                }
            },
        };
        let automated = match raw.automated.as_deref() {
            None | Some("dismiss") => Automated::Dismiss,
            Some("file") => Automated::File,
            Some(other) => {
                self.problem(&["automated"], format!("{other:?} is not dismiss or file"));
                Automated::Dismiss
            }
        };
        let imap = imap?;
        let mark_key = crate::automated::mark_key(&imap.host, &imap.user);
        Some(Rules {
            on_reply,
            reply_window,
            automated,
            mark_key,
            path: path.to_path_buf(),
            timezone: timezone?,
            imap,
            folders,
            members,
            sla_unclaimed: sla_unclaimed?,
            sla_claimed: sla_claimed?,
            calendar,
            roster,
            assign,
            threads: raw.threads.unwrap_or(false),
            routes,
            digest,
            archive,
            quota_warn,
            notify,
            sign_in,
            viewers: raw.viewers,
            shared_mailbox,
        })
    }

    /// Unknown member keys in a list become problems with a suggestion.
    fn known_members(&mut self, at: &[&str], who: Vec<String>, keys: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for w in who {
            if keys.contains(&w) {
                out.push(w);
                continue;
            }
            let hint = did_you_mean(&w, keys.iter().map(String::as_str))
                .map(|s| format!("; did you mean {s:?}?"))
                .unwrap_or_else(|| format!("; members: {}", keys.join(", ")));
            self.problem(at, format!("{w:?} is not a member{hint}"));
        }
        out
    }

    fn weekday(&mut self, at: &[&str], key: &str) -> Option<Weekday> {
        if let Some(wd) = roster::parse_weekday(key) {
            return Some(wd);
        }
        let lower = key.to_lowercase();
        let hint = roster::WEEKDAYS
            .iter()
            .find(|w| lower.starts_with(*w))
            .copied()
            .or_else(|| did_you_mean(&lower, roster::WEEKDAYS))
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default();
        self.problem(
            at,
            format!("{key:?} is not a weekday (mon tue wed thu fri sat sun){hint}"),
        );
        None
    }

    fn calendar(
        &mut self,
        tz: chrono_tz::Tz,
        hours: Option<RawHours>,
        hol: RawHolidays,
    ) -> Calendar {
        let mut cal = Calendar::default_japan();
        cal.tz = tz;
        if let Some(h) = hours {
            let mut time = |key: &str, v: Option<String>, default: NaiveTime| match v {
                None => default,
                // 24:00 closes at midnight; the calendar stores it as 00:00.
                Some(s) if s.trim() == "24:00" => NaiveTime::MIN,
                Some(s) => NaiveTime::parse_from_str(s.trim(), "%H:%M").unwrap_or_else(|_| {
                    self.problem(
                        &["business_hours", key],
                        format!("{s:?} is not a time like 09:00"),
                    );
                    default
                }),
            };
            cal.start = time("start", h.start, cal.start);
            cal.end = time("end", h.end, cal.end);
            if cal.end <= cal.start && cal.end != NaiveTime::MIN {
                self.problem(&["business_hours", "end"], "must be later than start");
            }
            if let Some(days) = h.days {
                let mut set = std::collections::BTreeSet::new();
                for d in &days {
                    if let Some(wd) = self.weekday(&["business_hours", "days"], d) {
                        set.insert(wd.num_days_from_monday());
                    }
                }
                if set.is_empty() {
                    self.problem(
                        &["business_hours", "days"],
                        "no business days: list some, e.g. [mon, tue, wed, thu, fri]",
                    );
                }
                cal.days = set;
            }
        }
        let japan = hol.japan.unwrap_or(true);
        if !japan {
            let days: Vec<Weekday> = cal
                .days
                .iter()
                .map(|i| Weekday::try_from(*i as u8).expect("0..7"))
                .collect();
            cal = Calendar::new(
                tz,
                false,
                BTreeMap::new(),
                Vec::new(),
                cal.start,
                cal.end,
                &days,
            );
        }
        for d in hol.dates {
            let (date, name) = match d.trim().split_once(char::is_whitespace) {
                Some((a, b)) => (a.to_string(), b.trim().to_string()),
                None => (d.trim().to_string(), String::new()),
            };
            match NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
                Ok(day) => {
                    cal.dates.insert(day, name);
                }
                Err(_) => self.problem(
                    &["roster", "holidays", "dates"],
                    format!("{date:?} is not a date (YYYY-MM-DD, optionally followed by a name)"),
                ),
            }
        }
        for y in hol.yearly {
            match YearlyRange::parse(&y) {
                Some(r) => cal.yearly.push(r),
                None => self.problem(
                    &["roster", "holidays", "yearly"],
                    format!("{y:?} is not MM-DD or MM-DD..MM-DD (e.g. \"12-29..01-03 年末年始\")"),
                ),
            }
        }
        cal
    }

    fn roster(
        &mut self,
        weekdays: Option<BTreeMap<String, OneOrMany>>,
        rotation: Option<RawRotation>,
        overrides: BTreeMap<String, OneOrMany>,
        keys: &[String],
        cal: &Calendar,
    ) -> Roster {
        let mut plan = Plan::Nobody;
        if weekdays.is_some() && rotation.is_some() {
            self.problem(
                &["roster", "rotation"],
                "give roster.weekdays or roster.rotation, not both",
            );
        }
        if let Some(w) = weekdays {
            let mut days: [Vec<String>; 7] = Default::default();
            for (k, who) in w {
                let at = ["roster", "weekdays", k.as_str()];
                let Some(wd) = self.weekday(&at, &k) else {
                    continue;
                };
                let who = self.known_members(&at, who.into_vec(), keys);
                if !cal.is_work_weekday(wd) && !who.is_empty() {
                    self.warn(
                        &at,
                        format!("{k} is not in business_hours.days, so this duty is never used"),
                    );
                }
                days[wd.num_days_from_monday() as usize] = who;
            }
            for (i, name) in roster::WEEKDAYS.iter().enumerate() {
                let wd = Weekday::try_from(i as u8).expect("0..7");
                if cal.is_work_weekday(wd) && days[i].is_empty() {
                    self.warn(
                        &["roster", "weekdays"],
                        format!("{name} is a business day with nobody on duty"),
                    );
                }
            }
            plan = Plan::Weekdays(days);
        } else if let Some(r) = rotation {
            let at = ["roster", "rotation"];
            let members =
                self.known_members(&["roster", "rotation", "members"], r.members.clone(), keys);
            if r.members.is_empty() {
                self.problem(
                    &at,
                    "a rotation with no members: list them under members: [..]",
                );
            }
            let every = match r.every.as_deref() {
                None | Some("day") => Every::Day,
                Some("week") => Every::Week,
                Some(o) => {
                    self.problem(
                        &["roster", "rotation", "every"],
                        format!("{o:?} is not day or week"),
                    );
                    Every::Day
                }
            };
            let start = match r
                .start
                .as_deref()
                .map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
            {
                Some(Ok(d)) => d,
                Some(Err(_)) => {
                    self.problem(&["roster", "rotation", "start"], "not a date (YYYY-MM-DD)");
                    NaiveDate::default()
                }
                None => {
                    self.problem(
                        &at,
                        "a rotation needs start: YYYY-MM-DD (the first member's first day)",
                    );
                    NaiveDate::default()
                }
            };
            plan = Plan::Rotation {
                members,
                every,
                start,
            };
        }
        let mut ov = BTreeMap::new();
        for (k, who) in overrides {
            let at = ["roster", "overrides", k.as_str()];
            let Ok(date) = NaiveDate::parse_from_str(k.trim(), "%Y-%m-%d") else {
                self.problem(&at, format!("{k:?} is not a valid date (YYYY-MM-DD)"));
                continue;
            };
            let who = self.known_members(&at, who.into_vec(), keys);
            if who.is_empty() && cal.is_business_day(date) {
                self.warn(&at, "a business day with nobody on duty");
            }
            ov.insert(date, who);
        }
        Roster {
            plan,
            overrides: ov,
        }
    }

    fn recipients(&mut self, key: &str, raw: Vec<String>, keys: &[String]) -> Vec<Recipient> {
        let mut out = Vec::new();
        for r in raw {
            let r = r.trim().to_string();
            if r == "duty" {
                out.push(Recipient::Duty);
            } else if r.contains('@') {
                if r.parse::<lettre::message::Mailbox>().is_err() {
                    self.problem(&["digest", key], format!("{r:?} is not an email address"));
                    continue;
                }
                out.push(Recipient::Address(r));
            } else if let Some(k) = self.known_members(&["digest", key], vec![r], keys).pop() {
                out.push(Recipient::Member(k));
            }
        }
        out
    }

    fn digest(
        &mut self,
        raw: Option<RawDigest>,
        keys: &[String],
        private: bool,
        imap: Option<&ImapAccount>,
    ) -> DigestRules {
        let Some(raw) = raw else {
            return DigestRules {
                to: vec![Recipient::Duty],
                cc: Vec::new(),
                from: None,
                send_when_empty: false,
                transport: Transport::Unset,
            };
        };
        let to = self.recipients("to", raw.to.unwrap_or_else(|| vec!["duty".into()]), keys);
        let cc = self.recipients("cc", raw.cc, keys);
        if let Some(f) = &raw.from
            && f.parse::<lettre::message::Mailbox>().is_err()
        {
            self.problem(
                &["digest", "from"],
                format!("{f:?} is not an address like \"mailduty <noreply@example.co.jp>\""),
            );
        }
        let transport = match (raw.smtp, raw.sendmail) {
            (Some(_), Some(_)) => {
                self.problem(
                    &["digest", "sendmail"],
                    "give digest.smtp or digest.sendmail, not both",
                );
                Transport::Unset
            }
            (None, Some(path)) => Transport::Sendmail(path),
            (None, None) => Transport::Unset,
            (Some(s), None) => {
                self.one_line(&["digest", "smtp", "host"], &s.host);
                if let Some(u) = &s.user {
                    self.one_line(&["digest", "smtp", "user"], u);
                }
                let tls = s.tls.unwrap_or(TlsMode::Starttls);
                if tls == TlsMode::None && !is_loopback(&s.host) {
                    self.problem(
                        &["digest", "smtp", "tls"],
                        format!("tls: none is allowed only for a loopback host, not {:?} (use starttls or implicit)", s.host),
                    );
                }
                if let Some(ca) = &s.ca_file {
                    self.ca_file(&["digest", "smtp", "ca_file"], ca);
                }
                let mut sources: Vec<Secret> =
                    password_sources(s.password_command, s.password_env, s.password_file)
                        .into_iter()
                        .map(|(_, s)| s)
                        .collect();
                if let Some(p) = s.password {
                    if !private {
                        self.problem(
                            &["digest", "smtp", "password"],
                            "a plaintext password is refused while the rules file is readable by group or others (chmod 600 it, or use password_command, password_env or password_file)",
                        );
                    }
                    sources.push(Secret::Plain(p.0));
                }
                if sources.len() > 1 {
                    self.problem(&["digest", "smtp"], "give only one password source");
                }
                let oauth2 = match s.oauth2 {
                    None => None,
                    Some(_) if !sources.is_empty() => {
                        self.problem(
                            &["digest", "smtp", "oauth2"],
                            "give a password source or oauth2, not both",
                        );
                        None
                    }
                    Some(_) if s.user.is_none() => {
                        self.problem(
                            &["digest", "smtp", "oauth2"],
                            "needs user: the account the token signs in",
                        );
                        None
                    }
                    Some(oauth::RawSmtpOAuth2::Reuse(r)) if r == "imap" => match imap {
                        Some(ImapAccount {
                            auth: Auth::OAuth2(o),
                            ..
                        }) => Some(OAuth2 {
                            key: "digest.smtp.oauth2".into(),
                            ..o.clone()
                        }),
                        Some(_) => {
                            self.problem(
                                &["digest", "smtp", "oauth2"],
                                "oauth2: imap reuses imap.oauth2, but imap signs in with a password",
                            );
                            None
                        }
                        // imap's own problems are reported already.
                        None => None,
                    },
                    Some(oauth::RawSmtpOAuth2::Reuse(r)) => {
                        self.problem(
                            &["digest", "smtp", "oauth2"],
                            format!("{r:?}: give imap (reuse imap.oauth2) or a block of its own"),
                        );
                        None
                    }
                    Some(oauth::RawSmtpOAuth2::Own(o)) => {
                        let user = s.user.clone().unwrap_or_default();
                        self.oauth2(&["digest", "smtp", "oauth2"], *o, &user)
                    }
                };
                if s.user.is_some() && sources.is_empty() && oauth2.is_none() {
                    self.problem(&["digest", "smtp"], "user is set but no password source (password_command, password_env or password_file) or oauth2");
                }
                Transport::Smtp(SmtpAccount {
                    port: s.port.unwrap_or(match tls {
                        TlsMode::Implicit => 465,
                        TlsMode::Starttls => 587,
                        TlsMode::None => 25,
                    }),
                    host: s.host,
                    tls,
                    ca_file: s.ca_file,
                    user: s.user,
                    secret: sources.pop(),
                    oauth2,
                })
            }
        };
        if to.is_empty() && cc.is_empty() {
            self.problem(
                &["digest", "to"],
                "no recipients: list duty, member keys or addresses",
            );
        }
        DigestRules {
            to,
            cc,
            from: raw.from,
            send_when_empty: raw.send_when_empty.unwrap_or(false),
            transport,
        }
    }

    fn routes(&mut self, raw: Vec<RawRoute>, keys: &[String]) -> Vec<Route> {
        let mut out = Vec::new();
        for (i, r) in raw.into_iter().enumerate() {
            let n = i + 1;
            let at = ["routes", "match"];
            if r.matcher.from.is_none() && r.matcher.subject.is_none() {
                self.problem(
                    &at,
                    format!("route {n} matches nothing: give from: or subject:"),
                );
            }
            for (key, p) in [("from", &r.matcher.from), ("subject", &r.matcher.subject)] {
                if p.as_deref().is_some_and(|p| p.trim().is_empty()) {
                    self.problem(
                        &["routes", "match", key],
                        format!("route {n}: {key} is empty, which would match all mail: give a pattern or leave {key} out"),
                    );
                }
            }
            let owner = match r.owner {
                Some(o) => self
                    .known_members(&["routes", "owner"], vec![o], keys)
                    .pop(),
                None => None,
            };
            let sla = r.sla.and_then(|s| {
                let d = parse_duration(&s);
                if d.is_none() {
                    self.problem(
                        &["routes", "sla"],
                        format!(
                            "route {n}: {s:?} is not a duration (like 30m, 4h, 2d; at most 36500d)"
                        ),
                    );
                }
                d
            });
            let dismiss = match r.action.as_deref() {
                None | Some("file") => false,
                Some("dismiss") => true,
                Some(other) => {
                    self.problem(
                        &["routes", "action"],
                        format!("route {n}: action {other:?} is not one of dismiss, file"),
                    );
                    false
                }
            };
            if dismiss && owner.is_some() {
                self.problem(
                    &["routes", "action"],
                    format!(
                        "route {n}: action: dismiss and an owner contradict each other; give one"
                    ),
                );
            }
            out.push(Route {
                number: n,
                from: r.matcher.from,
                subject: r.matcher.subject,
                owner,
                sla,
                dismiss,
            });
        }
        out
    }

    fn imap(&mut self, raw: RawImap, private: bool) -> Option<ImapAccount> {
        let tls = raw.tls.unwrap_or(TlsMode::Implicit);
        let port = raw.port.unwrap_or(match tls {
            TlsMode::Implicit => 993,
            _ => 143,
        });
        let mut ok = true;
        if raw.host.trim().is_empty() {
            self.problem(&["imap", "host"], "is empty");
            ok = false;
        }
        ok &= self.one_line(&["imap", "host"], &raw.host);
        ok &= self.one_line(&["imap", "user"], &raw.user);
        if tls == TlsMode::None && !is_loopback(&raw.host) {
            self.problem(
                &["imap", "tls"],
                format!(
                    "tls: none sends the password in clear text; it is allowed only for a loopback host, not {:?} (use implicit or starttls)",
                    raw.host
                ),
            );
            ok = false;
        }
        if let Some(ca) = &raw.ca_file {
            ok &= self.ca_file(&["imap", "ca_file"], ca);
        }
        let mut sources =
            password_sources(raw.password_command, raw.password_env, raw.password_file);
        if let Some(p) = raw.password {
            if !private {
                self.problem(
                    &["imap", "password"],
                    "a plaintext password is refused while the rules file is readable by group or others (chmod 600 it, or use password_command, password_env or password_file)",
                );
                ok = false;
            }
            sources.push(("password", Secret::Plain(p.0)));
        }
        let oauth2 = match raw.oauth2 {
            Some(o) if sources.is_empty() => {
                let v = self.oauth2(&["imap", "oauth2"], o, &raw.user);
                ok &= v.is_some();
                v
            }
            Some(_) => {
                self.problem(
                    &["imap", "oauth2"],
                    "give a password source or oauth2, not both",
                );
                return None;
            }
            None => None,
        };
        let secret = match sources.len() {
            _ if oauth2.is_some() => None,
            1 => sources.pop().map(|(_, s)| s),
            0 if !ok => None,
            0 => {
                self.problem(
                    &["imap"],
                    "no password source: set one of password_command, password_env, password_file, or oauth2",
                );
                None
            }
            _ => {
                let names: Vec<_> = sources.iter().map(|(n, _)| *n).collect();
                self.problem(
                    &["imap", names[1]],
                    format!("give only one password source, not {}", names.join(" and ")),
                );
                None
            }
        };
        if !ok {
            return None;
        }
        Some(ImapAccount {
            host: raw.host,
            port,
            tls,
            ca_file: raw.ca_file,
            user: raw.user,
            auth: match oauth2 {
                Some(o) => Auth::OAuth2(o),
                None => Auth::Password(secret?),
            },
            shared_mailbox: None,
        })
    }

    fn folders(&mut self, raw: RawFolders) -> Folders {
        let mut pick = |key: &str, v: Option<String>, default: &str| {
            let v = v.unwrap_or_else(|| default.to_string());
            if v.trim().is_empty() {
                self.problem(&["folders", key], "is empty");
            }
            v
        };
        let f = Folders {
            inbox: pick("inbox", raw.inbox, "INBOX"),
            unclaimed: pick("unclaimed", raw.unclaimed, "未対応"),
            claimed: pick("claimed", raw.claimed, "対応中"),
            done: pick("done", raw.done, "完了"),
            history: pick("history", raw.history, "対応履歴"),
            held: pick("held", raw.held, "保留"),
            dismissed: pick("dismissed", raw.dismissed, "対応不要"),
            sent: raw.sent.filter(|s| {
                let empty = s.trim().is_empty();
                if empty {
                    self.problem(
                        &["folders", "sent"],
                        "is empty (leave it out to use the server's \\Sent folder)",
                    );
                }
                !empty
            }),
        };
        let all = [
            ("inbox", &f.inbox),
            ("unclaimed", &f.unclaimed),
            ("claimed", &f.claimed),
            ("done", &f.done),
            ("history", &f.history),
            ("held", &f.held),
            ("dismissed", &f.dismissed),
        ];
        for (k, name) in all {
            if !plain_folder_name(name) {
                self.problem(
                    &["folders", k],
                    format!("{name:?} is not a plain folder name: no * or %, no empty, . or .. parts between /, no control characters"),
                );
            }
        }
        // Servers differ in whether case matters (INBOX never does): a status folder
        // that only differs in case, or lies inside another, would be read twice or
        // emptied by the moves of the other.
        let fold = |s: &str| s.to_lowercase();
        if let Some(sent) = &f.sent
            && !plain_folder_name(sent)
        {
            self.problem(
                &["folders", "sent"],
                format!("{sent:?} is not a plain folder name: no * or %, no empty, . or .. parts between /, no control characters"),
            );
        }
        if let Some(sent) = &f.sent
            && let Some((k, _)) = all.iter().find(|(_, v)| fold(v) == fold(sent))
        {
            self.problem(
                &["folders", "sent"],
                format!("is the same folder as folders.{k} ({sent}): Sent mail is never queued"),
            );
        }
        for (i, (ka, a)) in all.iter().enumerate() {
            for (kb, b) in all.iter().skip(i + 1) {
                let (la, lb) = (fold(a), fold(b));
                if la == lb {
                    self.problem(
                        &["folders", kb],
                        format!("is the same folder as folders.{ka} ({a})"),
                    );
                } else if lb.starts_with(&format!("{la}/")) {
                    self.problem(&["folders", kb], format!("is inside folders.{ka} ({a})"));
                } else if la.starts_with(&format!("{lb}/")) {
                    self.problem(&["folders", ka], format!("is inside folders.{kb} ({b})"));
                }
            }
        }
        f
    }

    fn members(&mut self, raw: BTreeMap<String, RawMember>) -> Vec<Member> {
        if raw.is_empty() {
            self.problem(
                &["members"],
                "no members: add at least one (key: { name, email, login })",
            );
        }
        let mut out: Vec<Member> = Vec::new();
        for (key, m) in raw {
            let valid = !key.is_empty()
                && key.len() <= 64
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                self.problem(
                    &["members", &key],
                    "a member key becomes a folder name: use lowercase ASCII letters, digits, - and _",
                );
                continue;
            }
            for (field, v) in [("name", &m.name), ("login", &m.login), ("email", &m.email)] {
                if let Some(v) = v {
                    self.one_line(&["members", &key, field], v);
                }
            }
            let login = m.login.unwrap_or_else(|| key.clone());
            if let Some(other) = out.iter().find(|o| o.login == login) {
                let msg = format!("login {login:?} is already used by member {}", other.key);
                self.problem(&["members", &key], msg);
            }
            if let Some(email) = &m.email
                && email.trim().parse::<lettre::Address>().is_err()
            {
                self.problem(
                    &["members", &key, "email"],
                    format!("{email:?} is not an email address"),
                );
            }
            let sent_as = m.sent_as.map(OneOrMany::into_vec).unwrap_or_default();
            if sent_as.iter().any(|p| p.trim().is_empty()) {
                self.problem(
                    &["members", &key, "sent_as"],
                    "an empty pattern would match every sender",
                );
            }
            let slack = m.slack.filter(|id| {
                let ok = id.len() <= 20
                    && id.len() >= 2
                    && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
                if !ok {
                    self.problem(
                        &["members", &key, "slack"],
                        format!("{id:?} is not a Slack member ID (like U012AB3CD: profile → ⋮ → Copy member ID)"),
                    );
                }
                ok
            });
            let chatwork = m.chatwork.map(|c| match c {
                IdNumber::Number(n) => n.to_string(),
                IdNumber::Text(t) => t,
            });
            let chatwork = chatwork.filter(|id| {
                let ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    self.problem(
                        &["members", &key, "chatwork"],
                        format!("{id:?} is not a Chatwork account ID (digits, like 1234567)"),
                    );
                }
                ok
            });
            out.push(Member {
                slack,
                chatwork,
                sent_as,
                name: m.name.unwrap_or_else(|| key.clone()),
                email: m.email,
                login,
                key,
            });
        }
        out
    }

    fn archive(&mut self, raw: Option<RawArchive>, folders: &Folders) -> ArchiveRules {
        let raw = raw.unwrap_or(RawArchive {
            after: None,
            folder: None,
            history_after: None,
            history_folder: None,
        });
        let mut duration = |key: &str, v: Option<String>| match v {
            None => None,
            Some(s) => {
                match parse_duration(&s) {
                    Some(d) if !d.is_zero() => Some(d),
                    _ => {
                        self.problem(
                        &["archive", key],
                        format!("{s:?} is not a duration above zero (like 365d, 90d; at most 36500d)"),
                    );
                        None
                    }
                }
            }
        };
        let after = duration("after", raw.after).unwrap_or(Duration::from_secs(365 * 86400));
        let history_after = duration("history_after", raw.history_after);
        let mut pattern = |key: &str, v: Option<String>, default: &str| {
            let p = v.unwrap_or_else(|| default.to_string());
            let bad = p.matches("{year}").count() != 1
                || p.contains(['*', '%', '\\', '"'])
                || p.chars().any(char::is_control)
                || p.split('/')
                    .any(|seg| seg.is_empty() || seg == "." || seg == "..");
            // Archived mail must never land where the queue is read.
            let head = p.split("{year}").next().unwrap_or("").to_lowercase();
            let inside = [&folders.inbox, &folders.unclaimed, &folders.claimed]
                .into_iter()
                .find(|f| {
                    let f = f.to_lowercase();
                    head.trim_end_matches('/') == f || head.starts_with(&format!("{f}/"))
                });
            if let Some(f) = inside {
                self.problem(
                    &["archive", key],
                    format!("{p:?} is inside {f}, which the queue reads: archive into 完了/{{year}} or a folder of its own"),
                );
            } else if bad {
                self.problem(
                    &["archive", key],
                    format!("{p:?}: a folder pattern needs {{year}} once (like \"完了/{{year}}\"), no empty segments, no * % \\, quotes or control characters"),
                );
            }
            p
        };
        let folder = pattern("folder", raw.folder, "完了/{year}");
        let history_folder = pattern("history_folder", raw.history_folder, "対応履歴/{year}");
        if folder == history_folder {
            self.problem(
                &["archive", "history_folder"],
                "is the same as archive.folder: events and mail need folders of their own",
            );
        }
        ArchiveRules {
            after,
            folder,
            history_after,
            history_folder,
        }
    }

    fn sla(&mut self, raw: Option<RawSla>) -> (Option<Duration>, Option<Duration>) {
        let raw = raw.unwrap_or(RawSla {
            unclaimed: None,
            claimed: None,
        });
        let mut one = |key: &str, v: Option<String>, default: Duration| match v {
            None => Some(default),
            Some(s) => match parse_duration(&s) {
                Some(d) => Some(d),
                None => {
                    self.problem(
                        &["sla", key],
                        format!(
                            "{s:?} is not a duration (like 30m, 4h, 2d, 1h30m; at most 36500d)"
                        ),
                    );
                    None
                }
            },
        };
        let u = one("unclaimed", raw.unclaimed, Duration::from_secs(24 * 3600));
        let c = one("claimed", raw.claimed, Duration::from_secs(2 * 24 * 3600));
        if u.is_some_and(|d| d.is_zero()) {
            self.warn(
                &["sla", "unclaimed"],
                "is zero: every unclaimed message is overdue at once",
            );
        }
        (u, c)
    }
}

/// A folder name that means one folder on every server: no LIST wildcards, no
/// empty or relative parts, nothing that cannot go on one command line.
fn plain_folder_name(name: &str) -> bool {
    !name.contains(['*', '%'])
        && !name.chars().any(char::is_control)
        && name
            .split('/')
            .all(|seg| !seg.trim().is_empty() && seg != "." && seg != "..")
}

/// A per-user base directory: `$var` (XDG base directory spec), else `$HOME/fallback`.
pub fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(fallback))
        })
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Longest duration accepted, 36500d: beyond it date arithmetic overflows.
pub const MAX_DURATION_SECS: u64 = 36500 * 86400;

/// `4h`, `30m`, `2d`, `1h30m`, `90s`, at most 36500d.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return None,
        };
        total = n.checked_mul(unit)?.checked_add(total)?;
    }
    if !num.is_empty() || total > MAX_DURATION_SECS {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// The closest candidate by edit distance, when close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Finds the line and column of a key path in block or flow YAML, e.g.
/// `["members", "tanaka", "email"]`. A heuristic for messages, not a parser.
pub fn locate(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut parent: Option<(usize, usize)> = None;
    let mut found = None;
    for key in keys {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if let Some((pline, pindent)) = parent
                && i != pline
                && indent <= pindent
            {
                break;
            }
            let content = line.split(" #").next().unwrap_or("");
            let skip = if parent.is_some_and(|(pl, _)| pl == i) {
                found.map_or(0, |(_, c): (usize, usize)| c)
            } else {
                0
            };
            if let Some(col) = find_key(&content[skip.min(content.len())..], key) {
                hit = Some((i, col + skip, indent));
                break;
            }
        }
        let (i, col, indent) = hit?;
        found = Some((i + 1, col + 1));
        // A key that opens a flow mapping keeps its children on the same line.
        from = if lines[i][col..].contains('{') {
            i
        } else {
            i + 1
        };
        parent = Some((i, indent));
    }
    found
}

fn find_key(line: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return find_key(line, "\"\"").or_else(|| find_key(line, "''"));
    }
    let mut start = 0;
    while let Some(pos) = line[start..].find(key) {
        let at = start + pos;
        let before = line[..at].chars().last();
        let after = &line[at + key.len()..];
        let quoted = matches!(before, Some('"' | '\'')) && after.starts_with(['"', '\'']);
        let after = if quoted { &after[1..] } else { after };
        let boundary =
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''));
        if boundary && after.starts_with(':') {
            return Some(if quoted { at - 1 } else { at });
        }
        start = at + key.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "imap:\n  host: 127.0.0.1\n  tls: none\n  user: support\n  password_env: PW\nmembers:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, login: tanaka }\n  suzuki: { name: 鈴木 花子, login: hsuzuki }\n";

    fn problems(text: &str) -> String {
        match parse(Path::new("r.yaml"), text, true) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn held_dismissed_automated_and_route_actions_are_checked() {
        for (yaml, want) in [
            (
                "folders: { held: 完了 }",
                "folders.held: is the same folder as folders.done",
            ),
            (
                "folders: { dismissed: 対応中/x }",
                "folders.dismissed: is inside folders.claimed",
            ),
            (
                "automated: delete",
                "automated: \"delete\" is not dismiss or file",
            ),
            (
                "routes:\n  - match: { from: x.jp }\n    action: delete",
                "route 1: action \"delete\" is not one of dismiss, file",
            ),
            (
                "routes:\n  - match: { from: x.jp }\n    action: dismiss\n    owner: tanaka",
                "route 1: action: dismiss and an owner contradict each other",
            ),
        ] {
            let p = problems(&format!("{GOOD}{yaml}\n"));
            assert!(p.contains(want), "{yaml}: {p}");
        }
        let text = format!(
            "{GOOD}automated: file\nroutes:\n  - match: {{ subject: ニュース }}\n    action: dismiss\n"
        );
        let r = parse(Path::new("r.yaml"), &text, true).unwrap().rules;
        assert_eq!(r.automated, Automated::File);
        assert!(r.routes[0].dismiss);
        assert_eq!(
            (r.folders.held.as_str(), r.folders.dismissed.as_str()),
            ("保留", "対応不要")
        );
    }

    #[test]
    fn good_file_loads_with_defaults() {
        let l = parse(Path::new("r.yaml"), GOOD, true).unwrap();
        assert_eq!(l.rules.folders.unclaimed, "未対応");
        assert_eq!(l.rules.imap.port, 143);
        assert_eq!(l.rules.member("suzuki").unwrap().login, "hsuzuki");
        assert_eq!(l.rules.timezone, chrono_tz::Asia::Tokyo);
    }

    #[test]
    fn yaml_errors_name_file_line_column() {
        let e = problems("imap:\n  host: x\n  hots: y\n");
        assert!(e.starts_with("r.yaml:3:"), "{e}");
        assert!(e.contains("hots"), "{e}");
    }

    #[test]
    fn semantic_errors_are_all_listed_with_lines() {
        let bad = GOOD
            .replace("tanaka@example.jp", "not-an-address")
            .replace("host: 127.0.0.1", "host: mail.example.jp");
        let e = problems(&bad);
        assert!(e.contains("r.yaml:3:3: imap.tls:"), "{e}");
        assert!(
            e.contains("r.yaml:7:") && e.contains("members.tanaka.email"),
            "{e}"
        );
    }

    #[test]
    fn plaintext_password_needs_a_private_file() {
        let text = GOOD.replace("password_env: PW", "password: hunter2");
        let e = parse(Path::new("r.yaml"), &text, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("chmod 600"), "{e}");
        assert!(!e.contains("hunter2"));
        assert!(parse(Path::new("r.yaml"), &text, true).is_ok());
    }

    #[test]
    fn roster_mistakes_are_named_with_lines_and_suggestions() {
        let text = format!(
            "{GOOD}roster:\n  weekdays:\n    mon: [tanaka]\n    tues: [suzuki]\n    wed: [tanka]\n    thu: suzuki\n  overrides:\n    2026-02-30: [suzuki]\n"
        );
        let e = problems(&text);
        assert!(
            e.contains("r.yaml:12:5: roster.weekdays.tues: \"tues\" is not a weekday"),
            "{e}"
        );
        assert!(e.contains("did you mean \"tue\"?"), "{e}");
        assert!(e.contains("r.yaml:13:5: roster.weekdays.wed: \"tanka\" is not a member; did you mean \"tanaka\"?"), "{e}");
        assert!(
            e.contains(
                "r.yaml:16:5: roster.overrides.2026-02-30: \"2026-02-30\" is not a valid date"
            ),
            "{e}"
        );
        let e = problems(&format!(
            "{GOOD}roster:\n  rotation:\n    members: []\n    start: 2026-11-02\n"
        ));
        assert!(
            e.contains("r.yaml:10:3: roster.rotation: a rotation with no members"),
            "{e}"
        );
    }

    #[test]
    fn a_business_day_without_duty_is_a_warning() {
        let text = format!(
            "{GOOD}roster:\n  weekdays:\n    mon: [tanaka]\n    tue: [suzuki]\n    wed: tanaka\n    thu: suzuki\n    sat: tanaka\n"
        );
        let l = parse(Path::new("r.yaml"), &text, true).unwrap();
        let w = l.warnings.join("\n");
        assert!(
            w.contains("roster.weekdays: fri is a business day with nobody on duty"),
            "{w}"
        );
        assert!(
            w.contains("r.yaml:15:5: roster.weekdays.sat: sat is not in business_hours.days"),
            "{w}"
        );
        let d = l.rules.roster.duty(
            &l.rules.calendar,
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap(),
        );
        assert_eq!(d.on_duty, ["tanaka"]);
    }

    #[test]
    fn routes_and_globs() {
        let text = format!(
            "{GOOD}routes:\n  - match: {{ from: \"*@bigclient.co.jp\" }}\n    owner: tanaka\n    sla: 1h\n  - match: {{ subject: 請求書 }}\n    owner: suzuki\n"
        );
        let r = parse(Path::new("r.yaml"), &text, true).unwrap().rules;
        assert!(r.routes[0].matches("Yamada@BigClient.co.jp", "x"));
        assert!(!r.routes[0].matches("a@bigclient.co.jp.evil", "x"));
        assert!(r.routes[1].matches("a@b.jp", "【至急】請求書の件"));
        assert_eq!(r.routes[0].sla, Some(Duration::from_secs(3600)));
        assert!(glob("a*b?c", "aXXbYc") && !glob("a*b?c", "aXXbc"));
        let bad = text.replace("owner: suzuki", "owner: suzuk");
        assert!(problems(&bad).contains("did you mean \"suzuki\"?"));
    }

    #[test]
    fn archive_patterns_stay_out_of_the_queue() {
        for (yaml, want) in [
            ("archive: { folder: \"対応中/{year}\" }", "inside 対応中"),
            (
                "archive: { folder: \"未対応/old/{year}\" }",
                "inside 未対応",
            ),
            ("archive: { folder: \"完了\" }", "needs {year} once"),
            (
                "archive: { folder: \"a/{year}/{year}\" }",
                "needs {year} once",
            ),
            (
                "archive: { folder: \"x/{year}\", history_folder: \"x/{year}\" }",
                "the same as archive.folder",
            ),
            ("archive: { after: 0d }", "above zero"),
            (
                "archive: { folder: \"a\\r\\n{year}\" }",
                "needs {year} once",
            ),
            ("quota: { warn: 0 }", "not a percentage"),
        ] {
            let e = problems(&format!("{GOOD}{yaml}\n"));
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn status_folders_are_apart_and_plain() {
        for (yaml, want) in [
            (
                "folders: { unclaimed: 対応中/alice }",
                "folders.unclaimed: is inside folders.claimed (対応中)",
            ),
            (
                "folders: { done: 対応中/bob }",
                "folders.done: is inside folders.claimed (対応中)",
            ),
            (
                "folders: { history: Inbox }",
                "folders.history: is the same folder as folders.inbox (INBOX)",
            ),
            (
                "folders: { unclaimed: inbox }",
                "is the same folder as folders.inbox",
            ),
            (
                "folders: { claimed: 未対応/x }",
                "folders.claimed: is inside folders.unclaimed",
            ),
            (
                "folders: { unclaimed: 完了/新着 }",
                "is inside folders.done",
            ),
            (
                "folders: { done: \"*\" }",
                "folders.done: \"*\" is not a plain folder name",
            ),
            ("folders: { done: \"完了%\" }", "not a plain folder name"),
            ("folders: { done: \"a//b\" }", "not a plain folder name"),
            ("folders: { done: \"a/../b\" }", "not a plain folder name"),
            ("folders: { done: \"/完了\" }", "not a plain folder name"),
            ("folders: { done: \"完了/\" }", "not a plain folder name"),
            ("folders: { done: \"a\\r\\nb\" }", "not a plain folder name"),
        ] {
            let e = problems(&format!("{GOOD}{yaml}\n"));
            assert!(e.contains(want), "{yaml}: {e}");
            assert!(e.contains("r.yaml:9:"), "{yaml}: {e}");
        }
        assert_eq!(
            problems(&format!("{GOOD}folders: {{ done: 完了/2026 }}\n")),
            ""
        );
    }

    #[test]
    fn empty_keys_are_named_not_spun_on() {
        let e = problems(&GOOD.replace("members:\n", "members:\n  \"\": {}\n"));
        assert!(e.contains("r.yaml:7:3: members.: a member key"), "{e}");
        let e = problems(&format!("{GOOD}roster:\n  overrides: {{\"\": [tanaka]}}\n"));
        assert!(e.contains("\"\" is not a valid date"), "{e}");
        let e = problems(&format!("{GOOD}roster:\n  weekdays: {{\"\": tanaka}}\n"));
        assert!(e.contains("\"\" is not a weekday"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_reported_at_their_line() {
        let e = problems(&format!("{GOOD}  tanaka: {{ name: 別人 }}\n"));
        assert!(
            e.starts_with("r.yaml:9:3: duplicate key members.tanaka (first at line 7)"),
            "{e}"
        );
        let e = problems(&format!("{GOOD}imap:\n  host: x\n"));
        assert!(
            e.starts_with("r.yaml:9:1: duplicate key imap (first at line 1)"),
            "{e}"
        );
        let e = problems(&GOOD.replace("login: tanaka }", "login: tanaka, login: t2 }"));
        assert!(e.starts_with("r.yaml:7:"), "{e}");
        assert!(e.contains("duplicate key members.tanaka.login"), "{e}");
        // The same key in different mappings, and in a list of mappings, is no duplicate.
        let ok = format!(
            "{GOOD}routes:\n  - match: {{ subject: a }}\n    owner: tanaka\n  - match: {{ subject: b }}\n    owner: tanaka\n"
        );
        assert_eq!(problems(&ok), "");
    }

    #[test]
    fn addresses_are_checked_as_addresses() {
        let e = problems(&GOOD.replace("tanaka@example.jp", "bob@@x"));
        assert!(
            e.contains("members.tanaka.email: \"bob@@x\" is not an email address"),
            "{e}"
        );
        let e = problems(&format!(
            "{GOOD}digest:\n  to: [duty, \"carol@example@co.jp\"]\n"
        ));
        assert!(
            e.contains("digest.to: \"carol@example@co.jp\" is not an email address"),
            "{e}"
        );
        let e = problems(&format!("{GOOD}digest:\n  cc: [\"a b@x.jp\"]\n"));
        assert!(
            e.contains("digest.cc: \"a b@x.jp\" is not an email address"),
            "{e}"
        );
        assert_eq!(
            problems(&format!(
                "{GOOD}digest:\n  to: [duty, 上司 <boss@example.jp>]\n"
            )),
            ""
        );
    }

    #[test]
    fn no_line_breaks_reach_the_wire() {
        for (from, to) in [
            ("user: support", "user: \"support\\r\\nA LOGOUT\""),
            ("host: 127.0.0.1", "host: \"127.0.0.1\\n\""),
            ("name: 田中 太郎", "name: \"田中\\u001b[31m\""),
        ] {
            let e = problems(&GOOD.replace(from, to));
            assert!(e.contains("control character"), "{to}: {e}");
        }
        let e = problems(&format!(
            "{GOOD}digest:\n  smtp: {{ host: \"mx\\r\", user: \"u\\n\", password_env: X }}\n"
        ));
        assert!(
            e.contains("digest.smtp.host") && e.contains("digest.smtp.user"),
            "{e}"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let l = parse(Path::new("r.yaml"), &format!("\u{feff}{GOOD}"), true).unwrap();
        assert_eq!(l.rules.imap.user, "support");
    }

    #[test]
    fn huge_durations_are_refused_not_wrapped() {
        let e = problems(&format!("{GOOD}sla: {{ unclaimed: 5124095576030432h }}\n"));
        assert!(
            e.contains("sla.unclaimed: \"5124095576030432h\" is not a duration"),
            "{e}"
        );
        assert!(e.contains("at most 36500d"), "{e}");
        assert_eq!(parse_duration("99999999999999999999d"), None);
        assert_eq!(
            parse_duration("36500d"),
            Some(Duration::from_secs(36500 * 86400))
        );
        assert_eq!(parse_duration("36501d"), None);
    }

    #[test]
    fn a_roster_value_of_the_wrong_kind_says_what_is_wanted() {
        let e = problems(&format!("{GOOD}roster:\n  weekdays: {{ mon: 5 }}\n"));
        assert!(!e.contains("untagged"), "{e}");
        assert!(
            e.contains("expected a member key or a list of member keys"),
            "{e}"
        );
        assert!(e.starts_with("r.yaml:10:"), "{e}");
    }

    #[test]
    fn empty_route_patterns_are_refused() {
        for m in [
            "{ subject: \"\" }",
            "{ from: \"  \" }",
            "{ from: \"\", subject: x }",
        ] {
            let e = problems(&format!(
                "{GOOD}routes:\n  - match: {m}\n    owner: tanaka\n"
            ));
            assert!(
                e.contains("is empty, which would match all mail"),
                "{m}: {e}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_at_once() {
        let deep = format!("{GOOD}x: {}\n", "[".repeat(100_000));
        let e = problems(&deep);
        assert!(e.contains("nested more than 64 deep"), "{e}");
        let e = problems(&format!(
            "{GOOD}x: {}{}\n",
            "{a: ".repeat(70),
            "}".repeat(70)
        ));
        assert!(e.contains("nested more than 64 deep"), "{e}");
        // Brackets inside quotes and comments are text.
        let text = format!("{GOOD}timezone: Asia/Tokyo # {}\n", "[".repeat(100));
        assert_eq!(problems(&text), "");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("4h"), Some(Duration::from_secs(4 * 3600)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Some(Duration::from_secs(172800)));
        assert_eq!(parse_duration("4"), None);
        assert_eq!(parse_duration("4x"), None);
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("tanka", ["tanaka", "suzuki"]), Some("tanaka"));
        assert_eq!(did_you_mean("zzz", ["tanaka", "suzuki"]), None);
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("::1"));
        assert!(!is_loopback("mail.example.jp") && !is_loopback("10.0.0.1"));
    }
}
