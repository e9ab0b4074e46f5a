//! `login` / `logout`: the OAuth 2.0 sign-in kept on this machine.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::LoginArgs;
use crate::error::config;
use crate::rules::personal::{self, Personal};
use crate::rules::{Auth, Endpoints, OAuth2, Secret, SignInMode, Transport};
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
    if ctx.rules.sign_in == SignInMode::Personal && !a.smtp {
        return personal_login(ctx, a, out);
    }
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
    if ctx.rules.sign_in == SignInMode::Personal && !a.smtp {
        return personal_logout(ctx, out);
    }
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

/// The password file `login` keeps beside the personal sign-in when the password was
/// typed: 0600, in the same private directory.
fn typed_password_file(login_file: &std::path::Path) -> std::path::PathBuf {
    login_file.with_file_name("password")
}

/// `login` with `sign_in: personal`: the person's own login, checked by signing in
/// to the shared mailbox before it is kept. A login file with an `oauth2:` block
/// runs that block's flow instead.
fn personal_login(ctx: &Ctx, a: &LoginArgs, out: &mut dyn Write) -> Result<()> {
    let path = personal::default_path();
    let flags = a.login.is_some()
        || a.password_command.is_some()
        || a.password_env.is_some()
        || a.password_file.is_some();
    if !flags
        && let Some(p) = personal::load(&path)?
        && let Auth::OAuth2(o) = &p.auth
    {
        let e = signin::endpoints(o).ok_or_else(|| {
            config(format!(
                "{} uses token_command: that helper signs in",
                path.display()
            ))
        })?;
        let stdin = Box::new(std::io::BufReader::new(std::io::stdin()));
        signin::login(e, &o.key, &p.login, &mut std::io::stderr(), stdin)?;
        check(ctx, p.clone())?;
        return ctx.say(
            out,
            format!("signed in {} with {}", p.login, signin::describe(o)),
        );
    }
    let login = match &a.login {
        Some(l) => l.trim().to_string(),
        None => crate::output::ask("login: ")?,
    };
    if login.is_empty() {
        return Err(config("no login given: give --login or type one"));
    }
    let source = if let Some(c) = &a.password_command {
        Secret::Command(c.clone())
    } else if let Some(v) = &a.password_env {
        Secret::Env(v.clone())
    } else if let Some(f) = &a.password_file {
        Secret::File(f.clone())
    } else {
        let pw = crate::output::ask_secret(&format!("password for {login}: "))?;
        if pw.is_empty() {
            return Err(config("no password given"));
        }
        // Beside the one in use until it is proven: a wrong password must not
        // replace a working one.
        let file = typed_password_file(&path).with_extension("new");
        personal::write_private(&file, pw.as_bytes())?;
        Secret::File(file)
    };
    let p = Personal {
        path: path.clone(),
        login: login.clone(),
        auth: Auth::Password(source.clone()),
    };
    let typed_new = typed_password_file(&path).with_extension("new");
    let typed = matches!(&source, Secret::File(f) if *f == typed_new);
    // Checked before it is kept: a wrong password or a login the rules do not know
    // leaves whatever sign-in was there.
    if let Err(e) = check(ctx, p) {
        if typed {
            let _ = std::fs::remove_file(&typed_new);
        }
        return Err(e);
    }
    let source = if typed {
        let kept = typed_password_file(&path);
        std::fs::rename(&typed_new, &kept).map_err(|e| {
            config(format!(
                "cannot keep the password in {}: {e}",
                kept.display()
            ))
        })?;
        Secret::File(kept)
    } else {
        source
    };
    personal::write(&path, &login, &source)?;
    ctx.say(
        out,
        format!("signed in {login}; kept in {}", path.display()),
    )
}

/// Signs in with `p` to the shared mailbox and out again.
fn check(ctx: &Ctx, p: Personal) -> Result<()> {
    let mut rules = ctx.rules.clone();
    personal::sign_in_as(&mut rules, p)?;
    crate::desk::Desk::open(&rules, ctx.global.verbose)?.close();
    Ok(())
}

fn personal_logout(ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    let path = personal::default_path();
    let Some(p) = personal::load(&path)? else {
        return ctx.say(
            out,
            format!(
                "not signed in on this machine ({} does not exist)",
                path.display()
            ),
        );
    };
    if let Auth::OAuth2(o) = &p.auth
        && let Some(e) = signin::endpoints(o)
    {
        signin::forget(e, &o.key)?;
    }
    let typed = typed_password_file(&path);
    if matches!(&p.auth, Auth::Password(Secret::File(f)) if *f == typed) {
        let _ = std::fs::remove_file(&typed);
    }
    std::fs::remove_file(&path)
        .map_err(|e| config(format!("cannot remove {}: {e}", path.display())))?;
    ctx.say(
        out,
        format!("signed out {}; removed {}", p.login, path.display()),
    )
}
