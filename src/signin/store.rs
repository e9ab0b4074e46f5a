//! The token file: the refresh token and the current access token of one account,
//! mode 0600, never in the rules file. Every refresh happens under a lock on
//! `<file>.lock` and the new contents replace the file in one rename: providers may
//! revoke a refresh token the moment it is used, so two cron runs refreshing at once
//! must not both use it, and a crash mid-write must not leave half a file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::REFRESH_MARGIN;
use super::flows::{self, Got};
use crate::rules::{Endpoints, Flow};

/// How long a command waits for another one's refresh.
const LOCK_WAIT: Duration = Duration::from_secs(90);

#[derive(Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    /// The app the tokens belong to: a refresh token is good for its own app only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_id: Option<String>,
}

struct Lock(#[allow(dead_code)] File);

fn lock(path: &Path, key: &str) -> Result<Lock> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("{key}.token_file: cannot create {}", dir.display()))?;
    }
    let lp = lock_path(path);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lp)
        .with_context(|| format!("{key}.token_file: cannot open {}", lp.display()))?;
    let started = Instant::now();
    loop {
        match f.try_lock() {
            Ok(()) => return Ok(Lock(f)),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{key}: another mailduty has held {} for {} s; is a `mailduty login` waiting?",
                lp.display(),
                LOCK_WAIT.as_secs()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(anyhow!(e).context(format!("{key}: cannot lock {}", lp.display())));
            }
        }
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

fn read(path: &Path, key: &str) -> Result<Option<Stored>> {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!(
            "{key}.token_file: cannot read {}: {}",
            path.display(),
            e.kind()
        ),
        Ok(m) => m,
    };
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(crate::error::config(format!(
            "{key}.token_file: {} is readable by others; it holds a refresh token: chmod 600 it",
            path.display()
        )));
    }
    if meta.len() > 1 << 20 {
        bail!(
            "{key}.token_file: {} is not a token file (over 1 MiB)",
            path.display()
        );
    }
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow!(
            "{key}.token_file: cannot read {}: {}",
            path.display(),
            e.kind()
        )
    })?;
    // The error of a broken file says where, never what: its text is a token.
    serde_json::from_slice(&bytes).map(Some).map_err(|_| {
        anyhow!(
            "{key}.token_file: {} is not a token file mailduty wrote; run `mailduty login` again",
            path.display()
        )
    })
}

fn write(path: &Path, key: &str, s: &Stored) -> Result<()> {
    let tmp = {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".tmp{}", std::process::id()));
        PathBuf::from(p)
    };
    let body = serde_json::to_vec(s).expect("plain strings serialise");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("{key}.token_file: cannot write {}", tmp.display()))?;
    f.write_all(&body)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{key}.token_file: cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("{key}.token_file: cannot replace {}", path.display()))?;
    Ok(())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn keep(s: &mut Stored, e: &Endpoints, got: Got) {
    s.access_token = Some(got.access);
    // A server's lifetime is believed up to a year: more is a bad answer, not a token
    // to keep using.
    let life = got
        .expires_in
        .map_or(3600, |d| d.as_secs().min(365 * 86400) as i64);
    s.expires_at = Some(now().saturating_add(life));
    if let Some(r) = got.refresh {
        s.refresh_token = Some(r);
    }
    s.client_id = Some(e.client_id.clone());
}

/// A valid access token: the stored one while it has more than REFRESH_MARGIN left
/// (unless `fresh`), else a new one from the token endpoint, written back with the
/// refresh token the server rotated to.
pub fn current(e: &Endpoints, key: &str, user: &str, fresh: bool) -> Result<String> {
    let _held = lock(&e.token_file, key)?;
    let stored = read(&e.token_file, key)?;
    let mut s = stored.unwrap_or_default();
    if s.client_id.as_deref().is_some_and(|c| c != e.client_id) {
        bail!(
            "{key}: {} belongs to another client_id; run `mailduty login` again to sign in {user} with this one",
            e.token_file.display()
        );
    }
    if !fresh
        && let (Some(t), Some(at)) = (&s.access_token, s.expires_at)
        && at - now() > REFRESH_MARGIN.as_secs() as i64
    {
        return Ok(t.clone());
    }
    let got = match e.flow {
        Flow::ClientCredentials => flows::client_credentials(e, key)?,
        _ => {
            let Some(rt) = s.refresh_token.clone() else {
                bail!(
                    "{key}: {user} has not signed in on this machine yet ({} has no refresh token): run `mailduty login`",
                    e.token_file.display()
                );
            };
            flows::refresh(e, key, user, &rt)?
        }
    };
    let token = got.access.clone();
    keep(&mut s, e, got);
    write(&e.token_file, key, &s)?;
    Ok(token)
}

/// Stores what a sign-in flow got, replacing whatever the file held.
pub fn save(e: &Endpoints, key: &str, got: Got) -> Result<()> {
    let _held = lock(&e.token_file, key)?;
    let mut s = Stored::default();
    keep(&mut s, e, got);
    write(&e.token_file, key, &s)
}

/// Removes the token file; Ok(false) when there was none.
pub fn forget(e: &Endpoints, key: &str) -> Result<bool> {
    let _held = lock(&e.token_file, key)?;
    match std::fs::remove_file(&e.token_file) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => bail!(
            "{key}.token_file: cannot remove {}: {}",
            e.token_file.display(),
            err.kind()
        ),
    }
}
