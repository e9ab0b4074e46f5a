//! Where secrets come from: a password, a client secret or a chat token read from a
//! command (no stdin, a time limit, its first line), an environment variable or a
//! file. Below every module that signs in (IMAP, SMTP, OAuth, chat), so that all of
//! them read secrets one way and none imports another for it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Where a password, webhook URL or token comes from. Debug hides a plaintext value
/// and a command (which may hold one, as in `echo …`); a variable's name and a file's
/// path are not secrets and help when reading a dump.
#[derive(Clone)]
pub enum Secret {
    Command(String),
    Env(String),
    File(PathBuf),
    Plain(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Command(_) => f.write_str("Command(<hidden>)"),
            Secret::Env(v) => f.debug_tuple("Env").field(v).finish(),
            Secret::File(p) => f.debug_tuple("File").field(p).finish(),
            Secret::Plain(_) => f.write_str("Plain(<hidden>)"),
        }
    }
}

/// A secret (or a command that may print one) as the rules file gives it: Debug
/// prints `<hidden>`, so that no `{:?}` of the parsed rules shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Hidden(pub String);

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// The password sources a block names, by their keys.
pub fn password_sources(
    command: Option<Hidden>,
    env: Option<String>,
    file: Option<PathBuf>,
) -> Vec<(&'static str, Secret)> {
    let mut sources = Vec::new();
    if let Some(c) = command {
        sources.push(("password_command", Secret::Command(c.0)));
    }
    if let Some(e) = env {
        sources.push(("password_env", Secret::Env(e)));
    }
    if let Some(f) = file {
        sources.push(("password_file", Secret::File(f)));
    }
    sources
}

/// The password from its source; `key` names the rules section in messages. An
/// empty password is refused here: sent, it fails as a wrong password, or worse
/// logs in to a server that allows empty passwords.
pub fn resolve_secret(secret: &Secret, key: &str) -> Result<String> {
    let (source, pw) = match secret {
        Secret::Plain(p) => ("password", p.clone()),
        Secret::Env(var) => (
            "password_env",
            std::env::var(var).map_err(|_| {
                crate::error::config(format!(
                    "{key}.password_env: the environment variable {var} is not set"
                ))
            })?,
        ),
        Secret::File(path) => (
            "password_file",
            std::fs::read_to_string(path)
                .map_err(|e| {
                    crate::error::config(format!(
                        "{key}.password_file: cannot read {}: {e}",
                        path.display()
                    ))
                })?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        ),
        Secret::Command(cmd) => ("password_command", password_command(cmd, key)?),
    };
    if pw.is_empty() {
        bail!(crate::error::config(format!(
            "{key}.{source} gave an empty password; nothing was sent to the server"
        )));
    }
    if pw.contains(['\r', '\n', '\0']) {
        bail!(crate::error::config(format!(
            "{key}.{source}: the password contains a line break or NUL, which a login cannot carry"
        )));
    }
    Ok(pw)
}

/// How long `password_command` may take: a password manager waiting for a person
/// must not hang a cron job.
pub const PASSWORD_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

fn password_command(cmd: &str, key: &str) -> Result<String> {
    secret_command(
        cmd,
        &format!("{key}.password_command"),
        PASSWORD_COMMAND_TIMEOUT,
    )
}

/// The first line `cmd` prints, run by sh with no standard input, within `limit`;
/// `what` names its rules key in messages. Also runs the chat targets' secret commands.
pub fn secret_command(cmd: &str, what: &str, limit: Duration) -> Result<String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group, so that a timeout ends whatever it started too.
        .process_group(0)
        .spawn()
        .with_context(|| format!("{what}: cannot run sh"))?;
    let mut stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The first line is the password; what may follow is not waited for.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while buf.len() < 1 << 16 && !buf.contains(&b'\n') {
            match stdout.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(buf);
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            bail!(crate::error::config(format!(
                "{what} did not finish within {} s; run it by hand to see why",
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        bail!(crate::error::config(format!(
            "{what} failed ({status}); run it by hand to see why"
        )));
    }
    // Something it left running may hold the pipe open: take what came by the deadline.
    let left = limit.saturating_sub(started.elapsed());
    let out = rx
        .recv_timeout(left.max(Duration::from_secs(1)))
        .unwrap_or_default();
    let first = out
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    let text = String::from_utf8(first).map_err(|_| {
        crate::error::config(format!("{what} printed something that is not UTF-8 text"))
    })?;
    Ok(text.trim_end_matches('\r').to_string())
}
