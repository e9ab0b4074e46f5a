//! The HTTPS client of chat deliveries and OAuth token endpoints: ureq over
//! native-tls (the same OpenSSL as IMAP and SMTP), certificates always verified (a
//! `ca_file` as the trusted root when given), no redirects followed (a redirect could
//! carry a secret elsewhere), one time limit for a whole exchange, and error bodies
//! handed back rather than turned into errors.
//!
//! Below `rules`, `signin` and `notify`; imports no other module of mailduty.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// `key` names the rules block in messages (`notify.slack`, `imap.oauth2`).
pub fn agent(ca_file: Option<&Path>, timeout: Duration, key: &str) -> Result<ureq::Agent> {
    let roots = match ca_file {
        Some(ca) => {
            let pem = std::fs::read(ca).map_err(|e| {
                anyhow!("{key}.ca_file: cannot read {}: {}", ca.display(), e.kind())
            })?;
            let cert = Certificate::from_pem(&pem).map_err(|e| {
                anyhow!(
                    "{key}.ca_file: {} is not a PEM certificate: {e}",
                    ca.display()
                )
            })?;
            RootCerts::Specific(Arc::new(vec![cert]))
        }
        None => RootCerts::PlatformVerifier,
    };
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(roots)
        .build();
    Ok(ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("mailduty/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// The parts of a URL mailduty needs: whether TLS, where, and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Host and port as written (`127.0.0.1:8443`).
    pub authority: String,
    pub host: String,
    /// Path and query, starting with `/` (or empty).
    pub rest: String,
}

impl Url {
    pub fn parse(s: &str) -> Option<Url> {
        let (https, tail) = if let Some(t) = s.strip_prefix("https://") {
            (true, t)
        } else if let Some(t) = s.strip_prefix("http://") {
            (false, t)
        } else {
            return None;
        };
        let (authority, rest) = match tail.find(['/', '?']) {
            Some(i) => (&tail[..i], &tail[i..]),
            None => (tail, ""),
        };
        if authority.is_empty()
            || authority.contains('@')
            || s.chars().any(|c| c.is_control() || c == ' ')
        {
            return None;
        }
        let host = if authority.starts_with('[') {
            authority.split(']').next()?.trim_start_matches('[')
        } else {
            authority.split(':').next()?
        };
        Some(Url {
            https,
            authority: authority.to_string(),
            host: host.to_string(),
            rest: rest.to_string(),
        })
    }

    pub fn base(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.authority
        )
    }
}
