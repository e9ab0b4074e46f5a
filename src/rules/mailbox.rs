//! Checking the mailbox's side: the IMAP account and how it signs in, the status
//! folders (apart, plain, none inside another), the members, the archive and SLAs.

use super::*;

impl Validator<'_> {
    pub(super) fn imap(&mut self, raw: RawImap, private: bool) -> Option<ImapAccount> {
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

    pub(super) fn folders(&mut self, raw: RawFolders) -> Folders {
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

    pub(super) fn members(&mut self, raw: BTreeMap<String, RawMember>) -> Vec<Member> {
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

    pub(super) fn archive(&mut self, raw: Option<RawArchive>, folders: &Folders) -> ArchiveRules {
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

    pub(super) fn sla(&mut self, raw: Option<RawSla>) -> (Option<Duration>, Option<Duration>) {
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
pub(super) fn plain_folder_name(name: &str) -> bool {
    !name.contains(['*', '%'])
        && !name.chars().any(char::is_control)
        && name
            .split('/')
            .all(|seg| !seg.trim().is_empty() && seg != "." && seg != "..")
}
