//! The HTTP client the `oauth2` crate calls: the project's HTTPS agent (no redirects:
//! a token request redirected elsewhere would carry the client secret and the code
//! with it), with a size limit on every answer. Error bodies reach the crate, so
//! `invalid_grant` and `authorization_pending` are read as what they are.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

/// The most of a token endpoint's answer that is read: a token response is a few KiB.
const ANSWER_LIMIT: u64 = 256 * 1024;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

pub fn agent(ca_file: Option<&Path>, key: &str) -> Result<ureq::Agent> {
    crate::https::agent(ca_file, TIMEOUT, key)
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
