//! The personal sign-in: `$XDG_CONFIG_HOME/mailduty/login.yaml`, one per person and
//! machine, apart from the team's rules. It says who signs in (`login:`) and how (a
//! password source or an `oauth2:` block); `mailduty login` writes it, `logout`
//! removes it. Without it a command uses the rules' service login.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Deserialize;

use super::oauth::RawOAuth2;
use super::{Auth, Hidden, Secret, Validator};
use crate::error::{Error, config};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersonal {
    login: String,
    password_command: Option<Hidden>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    oauth2: Option<RawOAuth2>,
}

#[derive(Debug, Clone)]
pub struct Personal {
    pub path: PathBuf,
    pub login: String,
    pub auth: Auth,
}

/// Where the file is: $XDG_CONFIG_HOME/mailduty/login.yaml, else ~/.config/….
pub fn default_path() -> PathBuf {
    let base = super::xdg_dir("XDG_CONFIG_HOME", ".config").unwrap_or_else(|| PathBuf::from("."));
    base.join("mailduty").join("login.yaml")
}

/// The personal sign-in at `path`; None when there is none.
pub fn load(path: &Path) -> Result<Option<Personal>> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(config(format!("cannot read {}: {e}", path.display())));
        }
        Ok(t) => t,
    };
    parse(path, &text).map(Some)
}

pub fn parse(path: &Path, text: &str) -> Result<Personal> {
    let file = path.display().to_string();
    let raw: RawPersonal = serde_yaml::from_str(text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("{}:{}", l.line(), l.column()))
            .unwrap_or_else(|| "1".into());
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        config(format!(
            "{file}:{loc}: {msg} (write it again with `mailduty login`)"
        ))
    })?;
    let mut v = Validator {
        file: &file,
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let login = raw.login.trim().to_string();
    if login.is_empty() || login.contains(' ') {
        v.problem(&["login"], "is not a login");
    }
    v.one_line(&["login"], &login);
    let mut sources: Vec<Secret> =
        crate::secret::password_sources(raw.password_command, raw.password_env, raw.password_file)
            .into_iter()
            .map(|(_, s)| s)
            .collect();
    let auth = match (sources.len(), raw.oauth2) {
        (0, Some(o)) => v.oauth2(&["oauth2"], o, &login).map(Auth::OAuth2),
        (1, None) => sources.pop().map(Auth::Password),
        (0, None) => {
            v.problem(
                &["login"],
                "no way to sign in: give password_command, password_env, password_file or oauth2",
            );
            None
        }
        _ => {
            v.problem(
                &["login"],
                "give one of password_command, password_env, password_file or oauth2",
            );
            None
        }
    };
    if !v.problems.is_empty() {
        return Err(Error::Config(v.problems.join("\n")).into());
    }
    Ok(Personal {
        path: path.to_path_buf(),
        login,
        auth: auth.expect("no problems means a sign-in"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_and_one_way_to_sign_in() {
        let p = parse(
            Path::new("login.yaml"),
            "login: tanaka@example.co.jp\npassword_command: pass show mail/tanaka\n",
        )
        .unwrap();
        assert_eq!(p.login, "tanaka@example.co.jp");
        assert!(matches!(p.auth, Auth::Password(Secret::Command(_))));
        let e = parse(Path::new("login.yaml"), "login: t\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("login.yaml:1:1: login: no way to sign in"),
            "{e}"
        );
        let e = parse(Path::new("login.yaml"), "login: t\npassword: x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `password`"), "{e}");
        let o = parse(
            Path::new("login.yaml"),
            "login: t@x.jp\noauth2: { provider: microsoft, client_id: c }\n",
        )
        .unwrap();
        let Auth::OAuth2(o) = o.auth else { panic!() };
        let super::super::TokenSource::Endpoints(e) = o.source else {
            panic!()
        };
        assert!(e.token_file.ends_with("oauth2-t@x.jp.json"));
    }
}

/// Who a command runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// The rules' own login (cron, `init`, every command with `sign_in: shared`).
    Service,
    /// A person signed in as themselves; `member` is the member whose login it is,
    /// None for a viewer.
    Person {
        login: String,
        member: Option<String>,
    },
}

/// The rules as a person's session sees them: the IMAP account becomes theirs,
/// reaching the team's mailbox through the server's shared namespace (or, with a
/// Microsoft 365 token, the shared address as the account itself).
pub fn sign_in_as(rules: &mut super::Rules, p: Personal) -> Result<Session> {
    let member = rules
        .members
        .iter()
        .find(|m| m.login.eq_ignore_ascii_case(&p.login))
        .map(|m| m.key.clone());
    let viewer = rules
        .viewers
        .iter()
        .any(|v| v.eq_ignore_ascii_case(&p.login));
    if member.is_none() && !viewer {
        return Err(config(format!(
            "{} signs in as {}, who is neither a member's login nor a viewer in {}: ask the admin to add them, or run `mailduty logout`",
            p.path.display(),
            p.login,
            rules.path.display()
        )));
    }
    let microsoft = matches!(
        &p.auth,
        Auth::OAuth2(o) if matches!(&o.source, super::TokenSource::Endpoints(e) if e.provider == super::Provider::Microsoft)
    );
    let mailbox = rules
        .shared_mailbox
        .clone()
        .unwrap_or_else(|| rules.imap.user.clone());
    if microsoft {
        // Microsoft 365: the member's token with the shared address as the SASL user.
        rules.imap.user = mailbox;
        rules.imap.shared_mailbox = None;
    } else {
        rules.imap.user = p.login.clone();
        rules.imap.shared_mailbox = Some(mailbox);
    }
    rules.imap.auth = p.auth;
    Ok(Session::Person {
        login: p.login,
        member,
    })
}

/// Writes a personal sign-in file, mode 0600, replacing any.
pub fn write(path: &Path, login: &str, source: &Secret) -> Result<()> {
    let q = |s: &str| serde_json::to_string(s).expect("strings serialise");
    let line = match source {
        Secret::Command(c) => format!("password_command: {}", q(c)),
        Secret::Env(v) => format!("password_env: {}", q(v)),
        Secret::File(f) => format!("password_file: {}", q(&f.display().to_string())),
        Secret::Plain(_) => unreachable!("a password is kept in a file of its own"),
    };
    let text = format!(
        "# mailduty's personal sign-in (mailduty login / logout)\nlogin: {}\n{line}\n",
        q(login)
    );
    write_private(path, text.as_bytes())
}

/// Writes `data` to a new file readable by its owner only, replacing any.
pub fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| config(format!("cannot create {}: {e}", dir.display())))?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| config(format!("cannot write {}: {e}", tmp.display())))?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
