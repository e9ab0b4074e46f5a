//! From the mirror to `Rules`: the `Validator` collects every problem with its file,
//! line and key (and warnings), so `check` can show them all at once. This file walks
//! the top level; the blocks are checked in `mailbox`, `schedule`, `report`, `notify`
//! and `oauth`.

use super::*;

impl Validator<'_> {
    pub(super) fn at(&self, keys: &[&str]) -> String {
        match locate(self.text, keys) {
            Some((line, col)) => format!("{}:{line}:{col}", self.file),
            None => self.file.to_string(),
        }
    }

    pub(super) fn problem(&mut self, keys: &[&str], msg: impl AsRef<str>) {
        let p = format!("{}: {}: {}", self.at(keys), keys.join("."), msg.as_ref());
        self.problems.push(p);
    }

    pub(super) fn warn(&mut self, keys: &[&str], msg: impl AsRef<str>) {
        let w = format!("{}: {}: {}", self.at(keys), keys.join("."), msg.as_ref());
        self.warnings.push(w);
    }

    /// Text that goes to a server inside a command or a header: a line break there
    /// would end the command and start one the file did not mean.
    pub(super) fn one_line(&mut self, keys: &[&str], v: &str) -> bool {
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
    pub(super) fn ca_file(&mut self, keys: &[&str], ca: &Path) -> bool {
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

    pub(super) fn rules(&mut self, path: &Path, raw: RawRules, private: bool) -> Option<Rules> {
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
    pub(super) fn known_members(
        &mut self,
        at: &[&str],
        who: Vec<String>,
        keys: &[String],
    ) -> Vec<String> {
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
}
