//! AUTHENTICATE XOAUTH2 / OAUTHBEARER (RFC 7628): the token in the first message
//! (SASL-IR) where the greeting offers it, else after the server's `+`. A refusal
//! comes as a challenge holding the server's JSON: it is answered so that the server
//! ends the exchange with its NO, never left hanging. A refused token is replaced by a
//! fresh one once.

use std::collections::BTreeSet;

use anyhow::{Result, bail};

use super::collect_caps;
use super::conn::{Conn, Done, Status};
use crate::rules::{ImapAccount, OAuth2};
use crate::signin::{self, Token};

/// What `connect` signs in with, resolved before the connection is made.
pub enum SignIn<'a> {
    Password(String),
    Token(&'a OAuth2, Token),
}

/// The capabilities a greeting's `[CAPABILITY …]` code lists; empty when it has none.
fn greeting_caps(greeting: &[u8]) -> BTreeSet<String> {
    let text = String::from_utf8_lossy(greeting);
    let Some(rest) = text
        .find("[CAPABILITY ")
        .map(|i| &text[i + "[CAPABILITY ".len()..])
    else {
        return BTreeSet::new();
    };
    rest.split(']')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect()
}

pub fn authenticate(
    conn: &mut Conn,
    acct: &ImapAccount,
    o: &OAuth2,
    token: &mut Token,
    greeting: &[u8],
    caps: &mut BTreeSet<String>,
) -> Result<Done> {
    let offered = greeting_caps(greeting);
    let mech = o.mechanism.name();
    if !offered.is_empty() && !offered.contains(&format!("AUTH={mech}")) {
        let auths: Vec<&str> = offered
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH="))
            .collect();
        bail!(
            "the IMAP server {} does not offer AUTH={mech} (it offers: {}); check imap.host, or set imap.oauth2.mechanism",
            acct.host,
            if auths.is_empty() {
                "no SASL mechanisms".to_string()
            } else {
                auths.join(" ")
            }
        );
    }
    let sasl_ir = offered.contains("SASL-IR");
    let mut last = None;
    for attempt in 0..2 {
        if attempt == 1 {
            *token = signin::access_token(o, &acct.user, true)?;
        }
        let b64 = signin::sasl_b64(o.mechanism, &acct.user, &acct.host, acct.port, token);
        let (done, challenge) =
            conn.authenticate(mech, &b64, sasl_ir, signin::abort_reply(o.mechanism), |r| {
                collect_caps(r, caps)
            })?;
        if done.status == Status::Ok {
            return Ok(done);
        }
        last = Some((done, challenge));
    }
    let (done, challenge) = last.expect("two attempts were made");
    let said = match challenge {
        Some(c) => format!("{} ({})", done.text, signin::describe_challenge(&c)),
        None => done.text.clone(),
    };
    bail!(
        "IMAP sign-in as {} on {} with {mech} failed: {}\n{}",
        acct.user,
        acct.host,
        crate::output::line(&said),
        signin::refused_hint(o, &acct.user)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_capabilities() {
        let c =
            greeting_caps(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2] ready\r\n");
        assert!(c.contains("SASL-IR") && c.contains("AUTH=XOAUTH2"));
        assert!(greeting_caps(b"* OK ready\r\n").is_empty());
    }
}
