//! Signing in with OAuth 2.0: the access token for an account, from an external helper
//! or from the provider's token endpoint (refreshed when close to expiry, with the
//! refresh token kept in a 0600 file of its own), and the SASL strings that carry it.
//!
//! Sits below `imap` and the digest's SMTP: both ask it for a token and encode it
//! with `sasl`. It reads `rules` and nothing above. A token never reaches a message,
//! a log line or a `Debug` print: `Token` hides it, errors name only the rules key.

mod flows;
mod http;
mod store;

use std::time::Duration;

use anyhow::{Result, bail};
use base64::Engine;

use crate::rules::{Endpoints, Flow, Mechanism, OAuth2, TokenSource};

pub use flows::login;
pub use store::forget;

/// An access token. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<hidden>)")
    }
}

/// How long `token_command` may take, like `password_command`.
pub const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A token this close to its expiry is refreshed before use: a command that starts
/// with one minute left must not lose its session half-way.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The access token to sign in `user` with. `fresh` asks for a new one even if the
/// stored one looks valid: the server has just refused it.
pub fn access_token(o: &OAuth2, user: &str, fresh: bool) -> Result<Token> {
    let t = match &o.source {
        TokenSource::Command(cmd) => {
            let what = format!("{}.token_command", o.key);
            crate::secret::secret_command(&cmd.0, &what, TOKEN_COMMAND_TIMEOUT)?
        }
        TokenSource::Endpoints(e) => store::current(e, &o.key, user, fresh)?,
    };
    checked(t, &o.key)
}

fn checked(t: String, key: &str) -> Result<Token> {
    let t = t.trim().to_string();
    if t.is_empty() {
        bail!(crate::error::config(format!(
            "{key}: the access token is empty; nothing was sent to the server"
        )));
    }
    // The token goes into a SASL string and then base64: a control character or a
    // space would make it a different token, or a second field.
    if t.chars().any(|c| c.is_control() || c == ' ') || !t.is_ascii() {
        bail!(crate::error::config(format!(
            "{key}: the access token holds a space, control or non-ASCII character; it is not a bearer token"
        )));
    }
    Ok(Token(t))
}

/// The SASL client response (before base64) for the mechanism.
pub fn sasl(mech: Mechanism, user: &str, host: &str, port: u16, token: &Token) -> Vec<u8> {
    match mech {
        Mechanism::Xoauth2 => format!("user={user}\x01auth=Bearer {}\x01\x01", token.0),
        Mechanism::Oauthbearer => format!(
            "n,a={},\x01host={host}\x01port={port}\x01auth=Bearer {}\x01\x01",
            gs2_name(user),
            token.0
        ),
    }
    .into_bytes()
}

/// The base64 of `sasl`.
pub fn sasl_b64(mech: Mechanism, user: &str, host: &str, port: u16, token: &Token) -> String {
    base64::engine::general_purpose::STANDARD.encode(sasl(mech, user, host, port, token))
}

/// What the client answers to a failure challenge: the server then says NO / 535.
pub fn abort_reply(mech: Mechanism) -> &'static str {
    match mech {
        Mechanism::Xoauth2 => "",
        // RFC 7628 §3.2.3: a single ^A.
        Mechanism::Oauthbearer => "AQ==",
    }
}

/// A failure challenge as text: the server's JSON (`{"status":"401",…}`), decoded
/// from base64 when it is, with nothing a terminal would obey.
pub fn describe_challenge(b64: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_else(|_| b64.trim().as_bytes().to_vec());
    let text: String = String::from_utf8_lossy(&raw)
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    text
}

/// RFC 5801 §5: `,` and `=` in the authorization identity are escaped.
fn gs2_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// One line for `init` and `login`: how this account signs in.
pub fn describe(o: &OAuth2) -> String {
    match &o.source {
        TokenSource::Command(_) => {
            format!("{} with a token from token_command", o.mechanism.name())
        }
        TokenSource::Endpoints(e) => format!(
            "{} with a token from {} ({} flow)",
            o.mechanism.name(),
            e.provider.name(),
            e.flow.name()
        ),
    }
}

/// What to say when the server refuses a token that was just refreshed.
pub fn refused_hint(o: &OAuth2, user: &str) -> String {
    match &o.source {
        TokenSource::Command(_) => format!(
            "The server refused the token that {}.token_command printed (and a second one): check that it is an access token for {user} with the mail scope.",
            o.key
        ),
        TokenSource::Endpoints(e) => {
            let scopes = e.scopes.join(" ");
            match e.flow {
                Flow::ClientCredentials => format!(
                    "The server refused a fresh token for {user}: check that the app has the scopes {scopes} and access to the mailbox {user} (Microsoft 365: a service principal with FullAccess)."
                ),
                _ => format!(
                    "The server refused a fresh token for {user} (scopes asked for: {scopes}): check the app's permissions, or run `mailduty login` again as someone with access to {user}."
                ),
            }
        }
    }
}

/// The endpoints block, for `login`; None for `token_command`.
pub fn endpoints(o: &OAuth2) -> Option<&Endpoints> {
    match &o.source {
        TokenSource::Endpoints(e) => Some(e),
        TokenSource::Command(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_strings_are_as_the_providers_document() {
        let t = Token("ya29.abc".into());
        let x = sasl(Mechanism::Xoauth2, "a@example.jp", "h", 993, &t);
        assert_eq!(x, b"user=a@example.jp\x01auth=Bearer ya29.abc\x01\x01");
        let o = sasl(Mechanism::Oauthbearer, "a,b=c@x", "imap.x", 993, &t);
        assert_eq!(
            o,
            b"n,a=a=2Cb=3Dc@x,\x01host=imap.x\x01port=993\x01auth=Bearer ya29.abc\x01\x01"
        );
    }

    #[test]
    fn a_token_is_never_printed() {
        let t = Token("sekrit-token".into());
        assert!(!format!("{t:?}").contains("sekrit"));
    }

    #[test]
    fn odd_tokens_are_refused() {
        assert!(checked("a b".into(), "k").is_err());
        assert!(checked("a\u{1b}[2J".into(), "k").is_err());
        assert!(checked("  ".into(), "k").is_err());
        assert_eq!(
            checked(" ok.tok-en_~+/= \n".into(), "k").unwrap().0,
            "ok.tok-en_~+/="
        );
    }

    #[test]
    fn challenges_are_decoded_and_tamed() {
        let b = base64::engine::general_purpose::STANDARD
            .encode(b"{\"status\":\"401\",\"schemes\":\"bearer\"}\x1b[2J");
        let d = describe_challenge(&b);
        assert!(d.starts_with("{\"status\":\"401\""), "{d}");
        assert!(!d.contains('\u{1b}'));
        assert_eq!(describe_challenge("not base64 \u{7}!"), "not base64 !");
    }
}
