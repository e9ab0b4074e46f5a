//! One file per command. `run` resolves the rules and "me" once and hands each
//! command what it needs; commands return errors, never print them.
//!
//! The top layer: a command parses, calls the desk (or `mail`, `digest`, `notify`,
//! `signin`) and returns a view for `output`. No IMAP here, and nothing imports it.

mod access;
mod archive;
mod check;
mod history;
mod hold;
mod init;
mod list;
mod login;
mod note;
mod notify;
mod report;
mod rotate;
mod show;
mod transition;
mod watch;

use std::io::{BufRead, Write};

use anyhow::Result;

use crate::cli::{Cli, Command, Global};
use crate::desk::{Action, Desk};
use crate::error::config;
use crate::rules::personal::{self, Session};
use crate::rules::{self, Member, Rules, SignInMode};

pub struct Ctx {
    pub rules: Rules,
    pub global: Global,
    /// Who signed in: the rules' service login, or a person as themselves.
    pub session: Session,
}

impl Ctx {
    /// The desk, connected: one per command.
    pub fn open(&self) -> Result<Desk<'_>> {
        Desk::open(&self.rules, self.global.verbose)
    }

    /// `open` for a command that reads the Sent folder (one round trip fewer).
    pub fn open_reading_sent(&self) -> Result<Desk<'_>> {
        Desk::open_reading_sent(&self.rules, self.global.verbose)
    }

    /// Who "me" is: `--as`, then `MAILDUTY_MEMBER`, then the member whose login is `$USER`.
    pub fn me(&self) -> Result<&Member> {
        if let Session::Person { login, member } = &self.session {
            let Some(m) = member.as_deref().and_then(|k| self.rules.member(k)) else {
                return Err(config(format!(
                    "signed in as {login}, a viewer: viewers may look, not take or move mail"
                )));
            };
            let asked = self.global.as_member.clone().or_else(|| {
                std::env::var("MAILDUTY_MEMBER")
                    .ok()
                    .filter(|n| !n.is_empty())
            });
            if let Some(name) = asked
                && name != m.key
            {
                return Err(config(format!(
                    "signed in as {login} ({}): acting as {name} is for the service login only",
                    m.key
                )));
            }
            return Ok(m);
        }
        if let Some(name) = &self.global.as_member {
            return self.rules.require_member(name);
        }
        if let Ok(name) = std::env::var("MAILDUTY_MEMBER")
            && !name.is_empty()
        {
            return self.rules.require_member(&name);
        }
        let user = std::env::var("USER").unwrap_or_default();
        self.rules.members.iter().find(|m| m.login == user).ok_or_else(|| {
            config(format!(
                "who are you? no member has login {user:?}; give --as NAME or set MAILDUTY_MEMBER (members: {})",
                self.rules.member_keys().join(", ")
            ))
        })
    }

    /// The time commands decide by: the clock, or `MAILDUTY_NOW` (RFC 3339), which
    /// lets a test or an admin ask what a run at another time would do without
    /// waiting for it.
    pub fn now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        match std::env::var("MAILDUTY_NOW") {
            Ok(v) if !v.is_empty() => chrono::DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    config(format!(
                        "MAILDUTY_NOW={v:?} is not an RFC 3339 time like 2026-12-10T09:00:00+09:00"
                    ))
                }),
            _ => Ok(chrono::Utc::now()),
        }
    }

    pub fn say(&self, out: &mut dyn Write, line: impl AsRef<str>) -> Result<()> {
        if !self.global.quiet {
            // Lines carry subjects and folder names from the server. One write with
            // its newline: a line-buffered stdout then makes one system call of it.
            let mut l = crate::output::line(line.as_ref()).to_string();
            l.push('\n');
            out.write_all(l.as_bytes())?;
        }
        Ok(())
    }
}

/// Sends the pending chat notifications after a command's mailbox work: a failure is
/// a warning line on stderr, never the command's failure.
pub fn notify_after(ctx: &Ctx, desk: &mut Desk<'_>) {
    if ctx.rules.notify.is_empty() {
        return;
    }
    match crate::notify::flush(desk, chrono::Utc::now(), ctx.global.verbose) {
        Ok(f) => {
            for w in f.warnings {
                eprintln!("mailduty: warning: {}", crate::output::line(&w));
            }
        }
        Err(e) => {
            eprintln!(
                "mailduty: warning: notifications not sent ({}); the next run sends them",
                crate::output::line(&format!("{e:#}"))
            )
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let path = rules::locate_file(cli.global.rules.as_deref());
    if let Command::Check = cli.command {
        return check::run(&path, cli.global.quiet);
    }
    if let Command::Completions(a) = &cli.command {
        return completions(a.shell);
    }
    let loaded = rules::load(&path)?;
    for w in &loaded.warnings {
        eprintln!("mailduty: warning: {}", crate::output::line(w));
    }
    let mut rules = loaded.rules;
    // `login` and `logout` manage the personal sign-in, so they start from the rules
    // as written; every other command runs as the person when they have signed in.
    let manages = matches!(cli.command, Command::Login(_) | Command::Logout(_));
    let session = match personal::load(&personal::default_path())? {
        Some(p) if rules.sign_in == SignInMode::Personal && !manages => {
            personal::sign_in_as(&mut rules, p)?
        }
        _ => Session::Service,
    };
    let ctx = Ctx {
        rules,
        global: cli.global,
        session,
    };
    let mut out = crate::error::Stdout(std::io::stdout().lock());
    match cli.command {
        Command::Check => unreachable!("handled above"),
        Command::Init => init::run(&ctx, &mut out),
        Command::Access(a) => access::run(&ctx, &a, &mut out),
        Command::Login(a) => login::run(&ctx, &a, &mut out),
        Command::Logout(a) => login::logout(&ctx, &a, &mut out),
        Command::List(a) => list::run(&ctx, &a, &mut out),
        Command::Claim(a) => transition::run(&ctx, Action::Claim, &a.ids, false, &mut out),
        Command::Release(a) => {
            transition::run(&ctx, Action::Release, &a.ids.ids, a.force, &mut out)
        }
        Command::Hold(a) => hold::run(
            &ctx,
            &hold::Kind::Hold { until: a.until },
            &a.ids.ids,
            a.note.as_deref(),
            &mut out,
        ),
        Command::Dismiss(a) => hold::run(
            &ctx,
            &hold::Kind::Dismiss,
            &a.ids.ids,
            a.note.as_deref(),
            &mut out,
        ),
        Command::Rotate(a) => rotate::run(&ctx, &a, &mut out),
        Command::Watch(a) => watch::run(&ctx, &a, &mut out),
        Command::Show(a) => show::run(&ctx, &a, &mut out),
        Command::Report(a) => report::run(&ctx, &a, &mut out),
        Command::History(a) => history::run(&ctx, &a, &mut out),
        Command::Note(a) => note::run(&ctx, &a, &mut out),
        Command::Notify(a) => notify::run(&ctx, &a, &mut out),
        Command::Archive(a) => archive::run(&ctx, &a, &mut out),
        Command::Completions(_) => unreachable!("handled above"),
        Command::Done(a) => transition::run(&ctx, Action::Done, &a.ids.ids, a.force, &mut out),
    }
    .map_err(|e| refused_hint(&ctx, e))?;
    out.flush()?;
    Ok(())
}

/// A person's session refused by the server for want of rights: the server's NO
/// [NOPERM], or a folder it hides from them ("doesn't exist"), means the same here.
fn refused_hint(ctx: &Ctx, e: anyhow::Error) -> anyhow::Error {
    let Session::Person { login, .. } = &ctx.session else {
        return e;
    };
    let text = format!("{e:#}");
    if text.contains("NOPERM") || text.contains("doesn't exist") || text.contains("does not exist")
    {
        return e.context(format!(
            "{login} may not do this in the shared mailbox: ask the mailbox owner to run `mailduty init` (it grants members their rights)"
        ));
    }
    e
}

/// The completion script, written whole: clap_complete panics on a closed pipe, so it
/// renders into memory first.
fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "mailduty", &mut buf);
    crate::error::Stdout(std::io::stdout().lock()).write_all(&buf)?;
    Ok(())
}

/// One ID's failure among several: shown at once, and kept when it is the worst so
/// far (a failure outranks a conflict or a miss), for the exit code.
pub fn keep_worst(worst: &mut Option<anyhow::Error>, id: &str, e: anyhow::Error) {
    for line in format!("{e:#}").lines() {
        eprintln!(
            "mailduty: {}",
            crate::output::line(&format!("{id}: {line}"))
        );
    }
    let code = crate::error::exit_code;
    if worst
        .as_ref()
        .is_none_or(|f| code(f) != crate::error::FAILURE && code(&e) == crate::error::FAILURE)
    {
        *worst = Some(e);
    }
}

/// The exit of a command over several IDs, each failure already shown.
pub fn worst_of(worst: Option<anyhow::Error>) -> Result<()> {
    match worst {
        None => Ok(()),
        Some(e) => Err(crate::error::Error::Silent(crate::error::exit_code(&e)).into()),
    }
}

/// IDs from the arguments, where `-` stands for one ID a line (or several per line) on stdin.
pub fn expand_ids(args: &[String]) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for a in args {
        if a == "-" {
            for line in std::io::stdin().lock().lines() {
                ids.extend(line?.split_whitespace().map(str::to_string));
            }
        } else {
            ids.push(a.clone());
        }
    }
    Ok(ids)
}
