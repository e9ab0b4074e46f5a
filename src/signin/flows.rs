//! The exchanges with a provider's token endpoint, through the `oauth2` crate: refresh,
//! client credentials, and the two flows a person goes through with `mailduty login`
//! (device code; authorization code with PKCE and a loopback redirect, or the
//! redirect's address pasted on a machine without a browser).

use std::io::{BufRead, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    DeviceAuthorizationUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, ErrorResponse,
    PkceCodeChallenge, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};

use super::http::{HttpError, agent, call};
use crate::output;
use crate::rules::{Endpoints, Flow, Provider, Secret};

type Client =
    BasicClient<EndpointMaybeSet, EndpointMaybeSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// What a token endpoint gave.
pub struct Got {
    pub access: String,
    pub expires_in: Option<Duration>,
    pub refresh: Option<String>,
}

/// The longest a device sign-in is waited for.
const DEVICE_WAIT: Duration = Duration::from_secs(900);

/// How long a person has to finish signing in in the browser.
const BROWSER_WAIT: Duration = Duration::from_secs(600);

fn client_secret(s: &Secret, key: &str) -> Result<String> {
    let v = match s {
        Secret::Command(cmd) => crate::imap::secret_command(
            cmd,
            &format!("{key}.client_secret_command"),
            crate::imap::PASSWORD_COMMAND_TIMEOUT,
        )?,
        Secret::Env(var) => std::env::var(var).map_err(|_| {
            crate::error::config(format!(
                "{key}.client_secret_env: the environment variable {var} is not set"
            ))
        })?,
        Secret::File(p) => std::fs::read_to_string(p).map_err(|e| {
            crate::error::config(format!(
                "{key}.client_secret_file: cannot read {}: {}",
                p.display(),
                e.kind()
            ))
        })?,
        Secret::Plain(p) => p.clone(),
    };
    let v = v.trim().to_string();
    if v.is_empty() || v.chars().any(char::is_control) {
        bail!(crate::error::config(format!(
            "{key}: the client secret is empty or holds a control character"
        )));
    }
    Ok(v)
}

fn client(e: &Endpoints, key: &str) -> Result<Client> {
    let bad = |what: &str| crate::error::config(format!("{key}.{what} is not a URL"));
    let mut c = BasicClient::new(ClientId::new(e.client_id.clone()))
        // In the body, not as HTTP Basic: public clients have no secret to put there,
        // and Microsoft and Google take both.
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(e.token_url.clone()).map_err(|_| bad("token_url"))?)
        .set_auth_uri_option(
            e.auth_url
                .clone()
                .map(AuthUrl::new)
                .transpose()
                .map_err(|_| bad("auth_url"))?,
        )
        .set_device_authorization_url_option(
            e.device_url
                .clone()
                .map(DeviceAuthorizationUrl::new)
                .transpose()
                .map_err(|_| bad("device_url"))?,
        );
    if let Some(s) = &e.client_secret {
        c = c.set_client_secret(ClientSecret::new(client_secret(s, key)?));
    }
    Ok(c)
}

fn scopes(e: &Endpoints) -> impl Iterator<Item = Scope> + '_ {
    e.scopes.iter().map(|s| Scope::new(s.clone()))
}

fn got(t: &oauth2::basic::BasicTokenResponse) -> Got {
    Got {
        access: t.access_token().secret().clone(),
        expires_in: t.expires_in(),
        refresh: t.refresh_token().map(|r| r.secret().clone()),
    }
}

/// A token endpoint's refusal as one line: its error code and description, which
/// name the cause (`invalid_grant`, `AADSTS700082: … expired due to inactivity`).
fn refusal<T: ErrorResponse + std::fmt::Display>(
    e: RequestTokenError<HttpError, T>,
    key: &str,
    what: &str,
) -> (anyhow::Error, bool) {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let text: String = output::line(&r.to_string()).chars().take(400).collect();
            let grant = text.starts_with("invalid_grant");
            (
                anyhow!("{key}: {what}: the token endpoint refused: {text}"),
                grant,
            )
        }
        RequestTokenError::Request(h) => (anyhow!("{key}: {what}: {h}"), false),
        RequestTokenError::Parse(_, _) => (
            anyhow!("{key}: {what}: the token endpoint's answer is not a token response"),
            false,
        ),
        RequestTokenError::Other(o) => (
            anyhow!(
                "{key}: {what}: {}",
                output::line(&o).chars().take(200).collect::<String>()
            ),
            false,
        ),
    }
}

pub fn refresh(e: &Endpoints, key: &str, user: &str, rt: &str) -> Result<Got> {
    let c = client(e, key)?;
    let a = agent(e.ca_file.as_deref(), key)?;
    let http = |r| call(&a, r);
    let rt = RefreshToken::new(rt.to_string());
    match c
        .exchange_refresh_token(&rt)
        .add_scopes(scopes(e))
        .request(&http)
    {
        Ok(t) => Ok(got(&t)),
        Err(err) => {
            let (err, grant) = refusal(err, key, "refreshing the access token");
            if grant {
                return Err(err.context(format!(
                    "the sign-in for {user} has expired or was revoked: run `mailduty login` again"
                )));
            }
            Err(err)
        }
    }
}

pub fn client_credentials(e: &Endpoints, key: &str) -> Result<Got> {
    let c = client(e, key)?;
    let a = agent(e.ca_file.as_deref(), key)?;
    let http = |r| call(&a, r);
    c.exchange_client_credentials()
        .add_scopes(scopes(e))
        .request(&http)
        .map(|t| got(&t))
        .map_err(|err| refusal(err, key, "asking for an app token (client_credentials)").0)
}

/// Runs the rules' sign-in flow for `user`, talking to the person on `tell`, and
/// stores the tokens. `paste` is where a pasted redirect address comes from (the
/// terminal) in the browser flow.
pub fn login(
    e: &Endpoints,
    key: &str,
    user: &str,
    tell: &mut dyn Write,
    paste: Box<dyn BufRead + Send>,
) -> Result<()> {
    let got = match e.flow {
        Flow::ClientCredentials => client_credentials(e, key)?,
        Flow::Device => device(e, key, user, tell)?,
        Flow::Browser => browser(e, key, user, tell, paste)?,
    };
    super::store::save(e, key, got)
}

fn device(e: &Endpoints, key: &str, user: &str, tell: &mut dyn Write) -> Result<Got> {
    let c = client(e, key)?;
    let a = agent(e.ca_file.as_deref(), key)?;
    let http = |r| call(&a, r);
    let details: oauth2::StandardDeviceAuthorizationResponse = c
        .exchange_device_code()
        .map_err(|_| crate::error::config(format!("{key}: flow: device needs device_url")))?
        .add_scopes(scopes(e))
        .request(&http)
        .map_err(|err| refusal(err, key, "starting the device sign-in").0)?;
    let url = output::line(details.verification_uri().as_str());
    let code = output::line(details.user_code().secret());
    writeln!(
        tell,
        "To sign in {user}, open {url} and enter the code {code} (valid {} minutes).",
        details.expires_in().as_secs().div_ceil(60)
    )?;
    tell.flush()?;
    let t = c
        .exchange_device_access_token(&details)
        // The server's interval and lifetime are its say, within bounds: a zero
        // interval must not hammer it, a year-long code not hang `login`.
        .request(
            &http,
            |d: Duration| std::thread::sleep(d.max(Duration::from_secs(1))),
            Some(DEVICE_WAIT),
        )
        .map_err(|err| refusal(err, key, "waiting for the device sign-in").0)?;
    Ok(got(&t))
}

fn browser(
    e: &Endpoints,
    key: &str,
    user: &str,
    tell: &mut dyn Write,
    paste: Box<dyn BufRead + Send>,
) -> Result<Got> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|err| anyhow!("{key}: cannot listen on 127.0.0.1 for the browser: {err}"))?;
    let port = listener.local_addr()?.port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let c = client(e, key)?
        .set_redirect_uri(RedirectUrl::new(redirect.clone()).expect("a loopback URL is a URL"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = c
        .authorize_url(CsrfToken::new_random)
        .map_err(|_| crate::error::config(format!("{key}: flow: browser needs auth_url")))?
        .add_scopes(scopes(e))
        .set_pkce_challenge(challenge)
        .add_extra_param("login_hint", user);
    if e.provider == Provider::Google {
        // Without these Google gives no refresh token after the first consent.
        req = req
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent");
    }
    let (url, state) = req.url();
    writeln!(
        tell,
        "To sign in {user}, open this address in a browser:\n\n  {}\n\nWaiting for the browser to come back to {redirect} …\n(On a machine without a browser: open it elsewhere, then paste here the address the browser was sent to, starting {redirect}.)",
        output::line(url.as_str())
    )?;
    tell.flush()?;
    let query = wait_for_redirect(&listener, paste, key, state.secret())?;
    let found = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let Some(err) = found("error") {
        let why = found("error_description").unwrap_or_default();
        bail!(
            "{key}: the sign-in was refused: {}",
            output::line(&format!("{err} {why}")).trim()
        );
    }
    if found("state").as_deref() != Some(state.secret().as_str()) {
        bail!(
            "{key}: the address that came back is not from this sign-in (its state does not match); run `mailduty login` again"
        );
    }
    let Some(code) = found("code") else {
        bail!("{key}: the address that came back has no code; run `mailduty login` again");
    };
    let a = agent(e.ca_file.as_deref(), key)?;
    let http = |r| call(&a, r);
    let t = c
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request(&http)
        .map_err(|err| refusal(err, key, "exchanging the browser's code").0)?;
    Ok(got(&t))
}

/// The query of the redirect: from the browser reaching the loopback listener, or
/// from an address pasted on `paste`, whichever comes first.
fn wait_for_redirect(
    listener: &TcpListener,
    paste: Box<dyn BufRead + Send>,
    key: &str,
    state: &str,
) -> Result<Vec<(String, String)>> {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in paste.lines() {
            let Ok(line) = line else { return };
            if !line.trim().is_empty() && tx.send(line).is_err() {
                return;
            }
        }
    });
    listener.set_nonblocking(true)?;
    let started = Instant::now();
    while started.elapsed() < BROWSER_WAIT {
        if let Ok(line) = rx.try_recv() {
            match query_of(line.trim(), state) {
                Some(q) => return Ok(q),
                None => eprintln!(
                    "mailduty: that is not the address the browser was sent to (http://127.0.0.1:…/?code=…); paste it again"
                ),
            }
        }
        match listener.accept() {
            Ok((mut s, _)) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(Duration::from_secs(10)))?;
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf[n..]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                let target = head
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("GET "))
                    .and_then(|l| l.split(' ').next())
                    .unwrap_or("");
                let q = query_of(&format!("http://127.0.0.1{target}"), state);
                let page = if q.is_some() {
                    "mailduty: signed in. You may close this window."
                } else {
                    "mailduty: this is not a sign-in answer."
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                if let Some(q) = q {
                    return Ok(q);
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(err) => bail!("{key}: the loopback listener failed: {err}"),
        }
    }
    bail!(
        "{key}: no sign-in came back within {} minutes; run `mailduty login` again",
        BROWSER_WAIT.as_secs() / 60
    )
}

/// The query pairs of a redirect address that carries `code` or `error` for this
/// sign-in's `state`. Anything else (another page, another sign-in, a local process
/// trying its luck) is ignored and the wait goes on.
fn query_of(addr: &str, state: &str) -> Option<Vec<(String, String)>> {
    let u = oauth2::url::Url::parse(addr).ok()?;
    let q: Vec<(String, String)> = u
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let ours = q.iter().any(|(k, v)| k == "state" && v == state);
    (ours && q.iter().any(|(k, _)| k == "code" || k == "error")).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_addresses() {
        let q = query_of("http://127.0.0.1:5000/?code=abc%2F1&state=xyz", "xyz").unwrap();
        assert!(q.contains(&("code".into(), "abc/1".into())));
        assert!(query_of("http://127.0.0.1:5000/?code=abc&state=other", "xyz").is_none());
        assert!(query_of("http://127.0.0.1:5000/?error=x", "xyz").is_none());
        assert!(query_of("http://127.0.0.1:5000/favicon.ico", "xyz").is_none());
        assert!(query_of("not a url", "xyz").is_none());
        let e = query_of("http://127.0.0.1:1/?error=access_denied&state=s", "s").unwrap();
        assert!(e.iter().any(|(k, v)| k == "error" && v == "access_denied"));
    }

    #[test]
    fn refusals_keep_the_code_and_lose_control_characters() {
        let r: oauth2::basic::BasicErrorResponse = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"AADSTS700082: expired\u001b[2J"}"#,
        )
        .unwrap();
        let (e, grant) = refusal(RequestTokenError::ServerResponse(r), "imap.oauth2", "x");
        assert!(grant);
        let s = e.to_string();
        assert!(s.contains("AADSTS700082"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s}");
    }
}
