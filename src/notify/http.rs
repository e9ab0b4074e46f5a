//! One HTTPS POST per delivery, with ureq over native-tls (the same OpenSSL as IMAP and
//! SMTP): certificates verified (the target's `ca_file` as the trusted root when
//! given), no redirects followed (a redirect could carry the secret elsewhere), a
//! limit on the whole exchange's time and on the answer's size. Messages never hold
//! the URL's path or the token: only the target's name and host.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::https::Url;
use crate::rules::Secret;
use crate::rules::notify::Target;

/// The most of an answer that is read (an error's first line is all that is shown).
const ANSWER_LIMIT: u64 = 16 * 1024;

/// The secret from its source. Errors name the source, never the value. A command
/// gets the same time as `password_command`: a pass or gpg prompt that nobody answers
/// must not hang a cron job.
pub fn resolve(t: &Target) -> Result<String> {
    resolve_within(t, crate::secret::PASSWORD_COMMAND_TIMEOUT)
}

fn resolve_within(t: &Target, limit: Duration) -> Result<String> {
    let key = &t.secret_key;
    let v = match &t.secret {
        Secret::Plain(p) => p.clone(),
        Secret::Env(var) => std::env::var(var)
            .map_err(|_| anyhow!("{key}: the environment variable {var} is not set"))?,
        Secret::File(path) => std::fs::read_to_string(path)
            .map_err(|e| anyhow!("{key}: cannot read {}: {}", path.display(), e.kind()))?,
        Secret::Command(cmd) => crate::secret::secret_command(cmd, key, limit)?,
    };
    let v = v.trim().to_string();
    if v.is_empty() {
        bail!("{key}: the value is empty");
    }
    if v.chars().any(|c| c.is_control()) {
        bail!("{key}: the value holds a control character");
    }
    Ok(v)
}

/// A request to make: where, what, and the secrets to keep out of every message.
pub struct Post {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Where the request goes, as messages may show it (`https://hooks.slack.com`).
    pub shown: String,
    pub secrets: Vec<String>,
}

/// The URL of a webhook target: the secret URL, with the endpoint's scheme and host
/// in place of its own when one is set.
pub fn hook_url(secret_url: &str, endpoint: Option<&str>, key: &str) -> Result<(String, String)> {
    let u = Url::parse(secret_url).ok_or_else(|| {
        anyhow!("{key}: the value is not an https:// URL (the value is not shown)")
    })?;
    let base = match endpoint.and_then(Url::parse) {
        Some(e) => format!("{}{}", e.base(), e.rest.trim_end_matches('/')),
        None => {
            if !u.https && !crate::rules::is_loopback(&u.host) {
                bail!("{key}: a plain http:// URL would send the secret in clear text; use https");
            }
            u.base()
        }
    };
    Ok((format!("{base}{}", u.rest), base))
}

/// Chatwork's API base: the endpoint, else Chatwork's own.
pub fn api_base(endpoint: Option<&str>) -> String {
    endpoint
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| "https://api.chatwork.com".to_string())
}

fn agent(t: &Target) -> Result<ureq::Agent> {
    crate::https::agent(
        t.ca_file.as_deref(),
        t.timeout,
        &format!("notify.{}", t.kind.as_str()),
    )
}

/// Sends one POST; Ok with the status when the server answered 2xx. `verbose` logs
/// the method, the shown host and the status, nothing of the path or the body.
pub fn send(t: &Target, p: &Post, verbose: bool) -> Result<u16> {
    let agent = agent(t)?;
    let mut req = agent.post(&p.url).header("Content-Type", p.content_type);
    for (k, v) in &p.headers {
        req = req.header(*k, v);
    }
    if verbose {
        eprintln!(
            "notify {}: POST {}/… ({} bytes)",
            t.name,
            p.shown,
            p.body.len()
        );
    }
    let started = std::time::Instant::now();
    let res = req.send(&p.body[..]);
    let mut res = match res {
        Ok(r) => r,
        Err(e) => bail!(
            "{}",
            redact(&describe(&e, t.timeout, started.elapsed()), &p.secrets)
        ),
    };
    let status = res.status().as_u16();
    let answer = res
        .body_mut()
        .with_config()
        .limit(ANSWER_LIMIT)
        .read_to_vec()
        .unwrap_or_default();
    if verbose {
        eprintln!("notify {}: HTTP {status}", t.name);
    }
    if (200..300).contains(&status) {
        return Ok(status);
    }
    let first: String = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let why = if (300..400).contains(&status) {
        " (a redirect: mailduty does not follow them; check the URL)".to_string()
    } else if first.is_empty() {
        String::new()
    } else {
        format!(": {first}")
    };
    bail!(
        "{}",
        redact(
            &format!("{} answered HTTP {status}{why}", p.shown),
            &p.secrets
        )
    )
}

fn describe(e: &ureq::Error, timeout: Duration, took: Duration) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("no answer within {}s", timeout.as_secs()),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection refused or unreachable".into(),
        ureq::Error::Io(io) if took >= timeout => {
            format!("no answer within {}s ({})", timeout.as_secs(), io.kind())
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".into()
        }
        ureq::Error::Io(io) => format!("network error: {}", io.kind()),
        ureq::Error::BadUri(_) => "the URL is not valid (not shown: it is a secret)".into(),
        ureq::Error::Tls(_) | ureq::Error::NativeTls(_) | ureq::Error::Der(_) => {
            format!("TLS failed: {e} (a private CA goes in the target's ca_file)")
        }
        other => other.to_string(),
    }
}

/// Any secret, whole or its URL path, replaced: errors from below may quote them.
pub fn redact(msg: &str, secrets: &[String]) -> String {
    let mut m = msg.to_string();
    for s in secrets {
        let mut parts = vec![s.clone()];
        if let Some(u) = Url::parse(s)
            && u.rest.len() > 1
        {
            parts.push(u.rest.clone());
        }
        for p in parts.iter().filter(|p| p.len() >= 4) {
            m = m.replace(p.as_str(), "…");
        }
    }
    m.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_and_endpoints_replace_the_host() {
        let u = Url::parse("https://hooks.slack.com/services/T0/B0/xyz").unwrap();
        assert_eq!(u.host, "hooks.slack.com");
        assert_eq!(u.rest, "/services/T0/B0/xyz");
        assert!(Url::parse("ftp://x").is_none());
        assert!(Url::parse("https://user:pw@x/y").is_none());
        assert_eq!(Url::parse("http://[::1]:80/a").unwrap().host, "::1");
        let (url, shown) = hook_url(
            "https://hooks.slack.com/services/T0/B0/xyz",
            Some("https://127.0.0.1:8443"),
            "k",
        )
        .unwrap();
        assert_eq!(url, "https://127.0.0.1:8443/services/T0/B0/xyz");
        assert_eq!(shown, "https://127.0.0.1:8443");
        let e = hook_url("http://hooks.example.jp/s3kr1t", None, "k").unwrap_err();
        assert!(!e.to_string().contains("s3kr1t"), "{e}");
        let e = hook_url("not a url SECRET", None, "k").unwrap_err();
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }

    fn command_target(cmd: &str) -> Target {
        Target {
            name: "slack".into(),
            kind: super::super::Kind::Slack,
            secret: Secret::Command(cmd.into()),
            secret_key: "notify.slack.webhook_command".into(),
            endpoint: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
            events: vec![],
        }
    }

    #[test]
    fn a_secret_command_that_hangs_is_ended_with_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("md-notify-hang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let after = dir.join("after");
        // The child of the shell writes after the sleep; the process group kill ends it too.
        let cmd = format!("(sleep 3; touch {}) & sleep 30", after.display());
        let e = resolve_within(&command_target(&cmd), Duration::from_secs(1)).unwrap_err();
        let m = format!("{e:#}");
        assert!(
            m.contains("notify.slack.webhook_command did not finish within 1 s"),
            "{m}"
        );
        std::thread::sleep(Duration::from_secs(4));
        assert!(!after.exists(), "the command's children were left running");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_secret_command_gives_its_first_line() {
        let t = command_target("printf 'https://hooks.example.jp/s/T\\nmore\\n'");
        assert_eq!(resolve(&t).unwrap(), "https://hooks.example.jp/s/T");
        let e = resolve(&command_target("exit 3")).unwrap_err();
        assert!(format!("{e:#}").contains("webhook_command failed"), "{e:#}");
    }

    #[test]
    fn redaction_removes_the_secret_and_its_path() {
        let s = vec!["https://h.example/services/T/B/tok".to_string()];
        let m = redact("bad uri: https://h.example/services/T/B/tok\n", &s);
        assert!(!m.contains("tok") && !m.contains('\n'), "{m}");
        let m = redact("GET /services/T/B/tok failed", &s);
        assert!(!m.contains("/services/T/B/tok"), "{m}");
    }
}
