//! The HTTP client the `oauth2` crate calls: ureq over native-tls, certificates
//! verified (`ca_file` as the trusted root when given), no redirects (a token request
//! redirected elsewhere would carry the client secret and the code with it), a time
//! limit on every exchange and a size limit on every answer. Error bodies reach the
//! crate (`http_status_as_error(false)`), so `invalid_grant` and
//! `authorization_pending` are read as what they are.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The most of a token endpoint's answer that is read: a token response is a few KiB.
const ANSWER_LIMIT: u64 = 256 * 1024;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

pub fn agent(ca_file: Option<&Path>, key: &str) -> Result<ureq::Agent> {
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
        .timeout_global(Some(TIMEOUT))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent(concat!("mailduty/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// One request as the `oauth2` crate hands it over. The error names the host only:
/// the body holds the client secret, a code or a refresh token.
pub fn call(
    agent: &ureq::Agent,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let host = req.uri().host().unwrap_or("?").to_string();
    let resp = agent.run(req).map_err(|e| {
        HttpError(match e {
            ureq::Error::Timeout(_) => format!("{host}: no answer within {} s", TIMEOUT.as_secs()),
            ureq::Error::HostNotFound => format!("{host}: host not found"),
            ureq::Error::ConnectionFailed => format!("{host}: connection refused or unreachable"),
            ureq::Error::Tls(t) => format!("{host}: TLS failed: {t}"),
            ureq::Error::Io(io) => format!("{host}: {}", io.kind()),
            other => format!("{host}: {other}"),
        })
    })?;
    let (parts, mut body) = resp.into_parts();
    let bytes = body
        .with_config()
        .limit(ANSWER_LIMIT)
        .read_to_vec()
        .map_err(|_| {
            HttpError(format!(
                "{host}: the answer was cut off or larger than {} KiB",
                ANSWER_LIMIT / 1024
            ))
        })?;
    Ok(oauth2::HttpResponse::from_parts(parts, bytes))
}
