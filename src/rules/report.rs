//! Checking what goes out and where mail is routed: digest recipients and its SMTP
//! account, and `routes` with their patterns and actions.

use super::*;

impl Validator<'_> {
    pub(super) fn recipients(
        &mut self,
        key: &str,
        raw: Vec<String>,
        keys: &[String],
    ) -> Vec<Recipient> {
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

    pub(super) fn digest(
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

    pub(super) fn routes(&mut self, raw: Vec<RawRoute>, keys: &[String]) -> Vec<Route> {
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
}
