//! `login` / `logout`: the OAuth 2.0 sign-in kept on this machine.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::LoginArgs;
use crate::error::config;
use crate::rules::{Auth, Endpoints, OAuth2, Transport};
use crate::signin;

/// The block `login` acts on, its account user and its endpoints.
fn block<'a>(ctx: &'a Ctx, a: &LoginArgs) -> Result<(&'a OAuth2, &'a str, &'a Endpoints)> {
    let (o, user) = if a.smtp {
        match &ctx.rules.digest.transport {
            Transport::Smtp(s) => match (&s.oauth2, &s.user) {
                (Some(o), Some(u)) => (o, u.as_str()),
                _ => {
                    return Err(config(
                        "digest.smtp has no oauth2: it signs in with a password",
                    ));
                }
            },
            _ => return Err(config("the rules have no digest.smtp")),
        }
    } else {
        match &ctx.rules.imap.auth {
            Auth::OAuth2(o) => (o, ctx.rules.imap.user.as_str()),
            Auth::Password(_) => {
                return Err(config(
                    "imap signs in with a password; `mailduty login` is for imap.oauth2 (see rules.example.yaml)",
                ));
            }
        }
    };
    let e = signin::endpoints(o).ok_or_else(|| {
        config(format!(
            "{} uses token_command: that helper signs in; there is nothing for `mailduty login` to keep",
            o.key
        ))
    })?;
    Ok((o, user, e))
}

pub fn run(ctx: &Ctx, a: &LoginArgs, out: &mut dyn Write) -> Result<()> {
    let (o, user, e) = block(ctx, a)?;
    let stdin = Box::new(std::io::BufReader::new(std::io::stdin()));
    signin::login(e, &o.key, user, &mut std::io::stderr(), stdin)?;
    if !a.smtp {
        // Proof that the token opens the mailbox, not only that the provider gave one.
        ctx.open()?.close();
    }
    ctx.say(
        out,
        format!(
            "signed in {user}: {}; token kept in {}",
            signin::describe(o),
            e.token_file.display()
        ),
    )
}

pub fn logout(ctx: &Ctx, a: &LoginArgs, out: &mut dyn Write) -> Result<()> {
    let (o, user, e) = block(ctx, a)?;
    if signin::forget(e, &o.key)? {
        ctx.say(out, format!("removed {} ({user})", e.token_file.display()))
    } else {
        ctx.say(
            out,
            format!(
                "no sign-in kept for {user} ({} does not exist)",
                e.token_file.display()
            ),
        )
    }
}
