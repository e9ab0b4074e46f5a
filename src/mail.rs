//! The digest as mail: who gets it, its MIME shape, delivery by SMTP or sendmail, and
//! the note on this machine that it went out.
//!
//! Above `digest` (what it sends), below the commands; signs in through `signin` and
//! `secret`, never through `imap`.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use chrono::Utc;
use lettre::message::{Mailbox as Address, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SendmailTransport, SmtpTransport, Transport as _};

use crate::digest::{self, Report};
use crate::error::config;
use crate::rules::{Recipient, Rules, SmtpAccount, TlsMode, Transport};
use crate::secret::resolve_secret;
use crate::signin::{self, Token};

/// A note on this machine that today's digest went out, kept until the marker is in
/// the history: a run cut between the SMTP server's acceptance and the marker then
/// writes the marker on retry instead of mailing everyone again. In
/// `$XDG_STATE_HOME/mailduty` (else `~/.local/state/mailduty`).
pub struct SentHere(std::path::PathBuf);

impl SentHere {
    pub fn new(rules: &Rules, marker_id: &str) -> Option<SentHere> {
        let base = crate::rules::xdg_dir("XDG_STATE_HOME", ".local/state")?;
        let mailbox: String = format!("{}@{}", rules.imap.user, rules.imap.host)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Some(SentHere(
            base.join("mailduty").join(format!("{marker_id}.{mailbox}")),
        ))
    }

    pub fn read(&self) -> Option<String> {
        std::fs::read_to_string(&self.0)
            .ok()
            .map(|s| s.trim().to_string())
    }

    pub fn write(&self, at: chrono::DateTime<Utc>) {
        let res = self
            .0
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&self.0, at.to_rfc3339()));
        if let Err(e) = res {
            eprintln!(
                "mailduty: warning: cannot note the sent digest in {}: {e}",
                self.0.display()
            );
        }
    }

    pub fn clear(&self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Who gets the mail and from whom.
pub struct Plan {
    from: Address,
    to: Vec<Address>,
    cc: Vec<Address>,
    /// Resolved with the plan, before any server is contacted: a password source that
    /// fails is a configuration error, not something found after a whole IMAP session.
    smtp_password: Option<String>,
    smtp_token: Option<Token>,
}

impl Plan {
    pub fn all(&self) -> Vec<String> {
        self.to
            .iter()
            .chain(&self.cc)
            .map(|a| a.email.to_string())
            .collect()
    }
}

pub fn plan(rules: &Rules, on_duty: &[String]) -> Result<Plan> {
    let d = &rules.digest;
    if matches!(d.transport, Transport::Unset) {
        return Err(config(format!(
            "{}: no digest.smtp or digest.sendmail: add one to send the digest (see rules.example.yaml)",
            rules.path.display()
        )));
    }
    let from = match &d.from {
        Some(f) => f.clone(),
        None if rules.imap.user.contains('@') => format!("mailduty <{}>", rules.imap.user),
        None => {
            return Err(config(format!(
                "{}: set digest.from (the IMAP user {:?} is not an address)",
                rules.path.display(),
                rules.imap.user
            )));
        }
    };
    let from: Address = from
        .parse()
        .map_err(|_| config(format!("digest.from {from:?} is not an address")))?;
    let mut seen = BTreeSet::new();
    let mut resolve = |list: &[Recipient]| -> Vec<Address> {
        let mut out = Vec::new();
        for r in list {
            let members: Vec<&str> = match r {
                Recipient::Duty => on_duty.iter().map(String::as_str).collect(),
                Recipient::Member(k) => vec![k.as_str()],
                Recipient::Address(a) => {
                    if let Ok(addr) = a.parse::<Address>()
                        && seen.insert(addr.email.to_string())
                    {
                        out.push(addr);
                    }
                    continue;
                }
            };
            for k in members {
                let Some(m) = rules.member(k) else { continue };
                let Some(email) = &m.email else {
                    eprintln!(
                        "mailduty: warning: member {k} has no email; the digest cannot reach them"
                    );
                    continue;
                };
                let addr = format!("{} <{email}>", m.name);
                if let Ok(a) = addr.parse::<Address>().or_else(|_| email.parse())
                    && seen.insert(a.email.to_string())
                {
                    out.push(a);
                }
            }
        }
        out
    };
    let to = resolve(&d.to);
    let cc = resolve(&d.cc);
    if to.is_empty() && cc.is_empty() {
        return Err(anyhow!(
            "nobody to send the digest to: nobody with an email is on duty today and digest.cc is empty"
        ));
    }
    let smtp_password = match &d.transport {
        Transport::Smtp(acct) if acct.user.is_some() && acct.oauth2.is_none() => {
            let secret = acct
                .secret
                .as_ref()
                .ok_or_else(|| config("digest.smtp.user is set but no password source"))?;
            Some(resolve_secret(secret, "digest.smtp")?)
        }
        _ => None,
    };
    // The token too is had before anything is sent: "run `mailduty login`" comes first.
    let smtp_token = match &d.transport {
        Transport::Smtp(SmtpAccount {
            oauth2: Some(o),
            user: Some(user),
            ..
        }) => Some(signin::access_token(o, user, false)?),
        _ => None,
    };
    Ok(Plan {
        from,
        to,
        cc,
        smtp_password,
        smtp_token,
    })
}

pub fn compose(rules: &Rules, report: &Report, plan: &Plan) -> Result<Message> {
    use lettre::message::header::{HeaderName, HeaderValue};
    // Our own Message-ID, so that the mark can be made over it: a digest sent to the
    // shared address is then dismissed at intake, never filed as work, and RFC 3834
    // keeps out-of-office replies to it from coming back.
    let mid = format!(
        "digest.{}.{}.{}@mailduty",
        report.date,
        Utc::now().timestamp_nanos_opt().unwrap_or(0),
        std::process::id()
    );
    let raw = |name: &'static str, value: String| {
        HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
    };
    let mut b = Message::builder()
        .from(plan.from.clone())
        .subject(digest::subject(report))
        .message_id(Some(format!("<{mid}>")))
        .raw_header(raw("Auto-Submitted", "auto-generated".into()))
        .raw_header(raw("X-Auto-Response-Suppress", "All".into()))
        .raw_header(raw(
            crate::automated::MARK_HEADER,
            crate::automated::mark(&rules.mark_key, &mid),
        ))
        .date_now();
    for a in &plan.to {
        b = b.to(a.clone());
    }
    for a in &plan.cc {
        b = b.cc(a.clone());
    }
    b.multipart(MultiPart::alternative_plain_html(
        digest::text(report, rules),
        digest::html(report, rules),
    ))
    .context("cannot build the digest mail")
}

/// One line naming the transport and the cause chain, e.g. an SMTP refusal, a failed
/// AUTH or an untrusted certificate.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

pub fn send(rules: &Rules, plan: &Plan, msg: &Message) -> Result<()> {
    match &rules.digest.transport {
        Transport::Unset => unreachable!("checked in plan"),
        Transport::Sendmail(path) => {
            SendmailTransport::new_with_command(path)
                .send(msg)
                .map_err(|e| {
                    anyhow!(
                        "cannot send the digest with {}: {}",
                        path.display(),
                        chain(&e)
                    )
                })
        }
        Transport::Smtp(acct) if acct.oauth2.is_some() => {
            let token = plan.smtp_token.clone().expect("plan gets the token");
            send_with_token(acct, token, msg).map_err(|e| {
                anyhow!(
                    "cannot send the digest via SMTP {}:{}: {e:#}",
                    acct.host,
                    acct.port
                )
            })
        }
        Transport::Smtp(acct) => {
            let t = smtp(acct, plan.smtp_password.as_deref())?;
            t.send(msg).map(|_| ()).map_err(|e| {
                anyhow!(
                    "cannot send the digest via SMTP {}:{}: {}",
                    acct.host,
                    acct.port,
                    chain(&e)
                )
            })
        }
    }
}

fn tls_parameters(acct: &SmtpAccount) -> Result<TlsParameters> {
    let mut params = TlsParameters::builder(acct.host.clone());
    if let Some(ca) = &acct.ca_file {
        let pem = std::fs::read(ca)
            .map_err(|e| config(format!("digest.smtp.ca_file {}: {e}", ca.display())))?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|e| config(format!("digest.smtp.ca_file {}: {e}", ca.display())))?;
        params = params.add_root_certificate(cert);
    }
    params.build().context("cannot set up TLS for SMTP")
}

fn smtp(acct: &SmtpAccount, password: Option<&str>) -> Result<SmtpTransport> {
    let params = tls_parameters(acct)?;
    let mut b = SmtpTransport::builder_dangerous(&acct.host)
        .port(acct.port)
        .timeout(Some(Duration::from_secs(30)));
    b = match acct.tls {
        TlsMode::Starttls => b.tls(Tls::Required(params)),
        TlsMode::Implicit => b.tls(Tls::Wrapper(params)),
        TlsMode::None => b.tls(Tls::None),
    };
    if let (Some(user), Some(pw)) = (&acct.user, password) {
        b = b.credentials(Credentials::new(user.clone(), pw.to_string()));
    }
    Ok(b.build())
}

/// SMTP with AUTH XOAUTH2 or OAUTHBEARER, spoken here over lettre's connection:
/// lettre's own XOAUTH2 reads the server's failure challenge as its own error and
/// never shows the 535 that follows. The challenge is answered, the server's refusal
/// is shown with it, and a refused token is replaced by a fresh one once. The login
/// (`digest.smtp.user`) may differ from the digest's From (Microsoft 365: a member
/// with Send As rights on the shared address).
fn send_with_token(acct: &SmtpAccount, mut token: Token, msg: &Message) -> Result<()> {
    use lettre::transport::smtp::client::SmtpConnection;
    use lettre::transport::smtp::extension::ClientId;
    let o = acct.oauth2.as_ref().expect("called for OAuth accounts");
    let user = acct.user.as_deref().expect("oauth2 needs user (rules)");
    let params = tls_parameters(acct)?;
    let hello = ClientId::default();
    let timeout = Some(Duration::from_secs(30));
    let wrapper = (acct.tls == TlsMode::Implicit).then_some(&params);
    let mut c = SmtpConnection::connect(
        (acct.host.as_str(), acct.port),
        timeout,
        &hello,
        wrapper,
        None,
    )
    .map_err(|e| anyhow!("{}", chain(&e)))?;
    if acct.tls == TlsMode::Starttls {
        if !c.can_starttls() {
            anyhow::bail!("the server does not offer STARTTLS (digest.smtp.tls: starttls)");
        }
        c.starttls(&params, &hello)
            .map_err(|e| anyhow!("{}", chain(&e)))?;
    }
    let mech = o.mechanism.name();
    let mut refused = String::new();
    for attempt in 0..2 {
        if attempt == 1 {
            token = signin::access_token(o, user, true)?;
        }
        let b64 = signin::sasl_b64(o.mechanism, user, &acct.host, acct.port, &token);
        match c.command(format!("AUTH {mech} {b64}\r\n")) {
            Ok(r) if r.code().to_string() == "235" => {
                refused.clear();
                break;
            }
            Ok(r) if r.code().to_string() == "334" => {
                let challenge =
                    signin::describe_challenge(&r.message().collect::<Vec<_>>().join(""));
                let end = c.command(format!("{}\r\n", signin::abort_reply(o.mechanism)));
                let said = match end {
                    Err(e) => chain(&e),
                    Ok(r) => format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" ")),
                };
                refused = format!("{said} ({challenge})");
            }
            Ok(r) => {
                refused = format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "));
            }
            Err(e) => refused = chain(&e),
        }
    }
    if !refused.is_empty() {
        c.abort();
        anyhow::bail!(
            "SMTP sign-in as {user} with {mech} failed: {}\n{}",
            crate::output::line(&refused),
            signin::refused_hint(o, user)
        );
    }
    let sent = c.send(msg.envelope(), &msg.formatted());
    let _ = c.quit();
    sent.map(|_| ()).map_err(|e| anyhow!("{}", chain(&e)))
}
