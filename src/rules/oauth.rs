//! The `oauth2:` block of `imap:` and `digest.smtp:`: where an OAuth 2.0 access token
//! comes from (an external helper, or a provider's token endpoint with a refresh token
//! kept in a file of its own), checked offline like the rest of the rules.

use std::path::PathBuf;

use serde::Deserialize;

use super::{Hidden, Secret, Validator, is_loopback};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOAuth2 {
    provider: Option<String>,
    tenant: Option<String>,
    client_id: Option<String>,
    client_secret_command: Option<Hidden>,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    flow: Option<String>,
    token_command: Option<Hidden>,
    token_url: Option<String>,
    device_url: Option<String>,
    auth_url: Option<String>,
    scopes: Option<Vec<String>>,
    ca_file: Option<PathBuf>,
    token_file: Option<PathBuf>,
    mechanism: Option<String>,
}

/// `digest.smtp.oauth2`: `imap` (the IMAP sign-in's block) or a block of its own.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawSmtpOAuth2 {
    Reuse(String),
    Own(Box<RawOAuth2>),
}

/// The SASL mechanism that carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Google's and Microsoft's `XOAUTH2`.
    Xoauth2,
    /// RFC 7628 `OAUTHBEARER`.
    Oauthbearer,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Xoauth2 => "XOAUTH2",
            Mechanism::Oauthbearer => "OAUTHBEARER",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Microsoft,
    Google,
    Custom,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Microsoft => "microsoft",
            Provider::Google => "google",
            Provider::Custom => "custom",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Device code (RFC 8628): a code to enter on another device.
    Device,
    /// Authorization code with PKCE and a loopback redirect.
    Browser,
    /// The app's own credentials, no person and no refresh token (cron).
    ClientCredentials,
}

impl Flow {
    pub fn name(self) -> &'static str {
        match self {
            Flow::Device => "device",
            Flow::Browser => "browser",
            Flow::ClientCredentials => "client_credentials",
        }
    }
}

/// A provider's endpoints and the app registered there.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub flow: Flow,
    pub token_url: String,
    pub device_url: Option<String>,
    pub auth_url: Option<String>,
    pub scopes: Vec<String>,
    pub ca_file: Option<PathBuf>,
    /// The refresh token (and the current access token) live here, mode 0600.
    pub token_file: PathBuf,
}

#[derive(Debug, Clone)]
pub enum TokenSource {
    /// An external helper prints an access token (oama, pizauth, mutt_oauth2.py).
    Command(Hidden),
    Endpoints(Box<Endpoints>),
}

#[derive(Debug, Clone)]
pub struct OAuth2 {
    pub mechanism: Mechanism,
    pub source: TokenSource,
    /// The rules key, for messages: `imap.oauth2` or `digest.smtp.oauth2`.
    pub key: String,
}

const MS_BASE: &str = "https://login.microsoftonline.com";
const MS_IMAP: &str = "https://outlook.office.com/IMAP.AccessAsUser.All";
const MS_SMTP: &str = "https://outlook.office.com/SMTP.Send";
const MS_APP: &str = "https://outlook.office365.com/.default";
const GOOGLE_AUTH: &str = "https://accounts.google.com/o/oauth2/v2/auth";
const GOOGLE_TOKEN: &str = "https://oauth2.googleapis.com/token";
const GOOGLE_MAIL: &str = "https://mail.google.com/";

/// Where the token file goes when the rules do not say: one file per account user.
pub fn default_token_file(user: &str) -> PathBuf {
    let base =
        super::xdg_dir("XDG_STATE_HOME", ".local/state").unwrap_or_else(|| PathBuf::from("."));
    let safe: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@._-+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("mailduty").join(format!("oauth2-{safe}.json"))
}

impl Validator<'_> {
    /// The validated block, or None after recording its problems. `at` is the path of
    /// keys to the block (`["imap", "oauth2"]`); `user` the account it signs in.
    pub(super) fn oauth2(&mut self, at: &[&str], raw: RawOAuth2, user: &str) -> Option<OAuth2> {
        let key = at.join(".");
        let keys = |k: &'static str| -> Vec<&str> {
            let mut v = at.to_vec();
            v.push(k);
            v
        };
        let mut ok = true;
        let mechanism = match raw
            .mechanism
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("xoauth2") => Mechanism::Xoauth2,
            Some("oauthbearer") => Mechanism::Oauthbearer,
            Some(other) => {
                self.problem(
                    &keys("mechanism"),
                    format!("{other:?} is not a mechanism: xoauth2 or oauthbearer"),
                );
                ok = false;
                Mechanism::Xoauth2
            }
        };
        if let Some(cmd) = raw.token_command {
            let extra: Vec<&str> = [
                ("provider", raw.provider.is_some()),
                ("client_id", raw.client_id.is_some()),
                ("flow", raw.flow.is_some()),
                ("token_url", raw.token_url.is_some()),
                ("token_file", raw.token_file.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !extra.is_empty() {
                self.problem(
                    &keys("token_command"),
                    format!(
                        "token_command gives the token by itself; remove {} (or remove token_command to use the built-in sign-in)",
                        extra.join(", ")
                    ),
                );
                return None;
            }
            if cmd.0.trim().is_empty() {
                self.problem(&keys("token_command"), "is empty");
                return None;
            }
            return ok.then_some(OAuth2 {
                mechanism,
                source: TokenSource::Command(cmd),
                key,
            });
        }
        let provider = match raw.provider.as_deref() {
            Some("microsoft") => Provider::Microsoft,
            Some("google") => Provider::Google,
            Some("custom") => Provider::Custom,
            Some(p) => {
                let hint = hint(super::did_you_mean(p, ["microsoft", "google", "custom"]));
                self.problem(
                    &keys("provider"),
                    format!("{p:?} is not a provider: microsoft, google or custom{hint}"),
                );
                return None;
            }
            None => {
                self.problem(
                    at,
                    "give provider (microsoft, google or custom) with client_id, or token_command",
                );
                return None;
            }
        };
        let Some(client_id) = raw.client_id.filter(|c| !c.trim().is_empty()) else {
            self.problem(
                at,
                "client_id is missing: the application (client) ID of the app registered with the provider",
            );
            return None;
        };
        ok &= self.one_line(&keys("client_id"), &client_id);
        let flow = match raw.flow.as_deref() {
            None => match provider {
                Provider::Google => Flow::Browser,
                _ => Flow::Device,
            },
            Some("device") => Flow::Device,
            Some("browser") => Flow::Browser,
            Some("client_credentials") => Flow::ClientCredentials,
            Some(f) => {
                let hint = hint(super::did_you_mean(
                    f,
                    ["device", "browser", "client_credentials"],
                ));
                self.problem(
                    &keys("flow"),
                    format!("{f:?} is not a flow: device, browser or client_credentials{hint}"),
                );
                return None;
            }
        };
        let mut secrets = Vec::new();
        if let Some(c) = raw.client_secret_command {
            secrets.push(Secret::Command(c.0));
        }
        if let Some(e) = raw.client_secret_env {
            secrets.push(Secret::Env(e));
        }
        if let Some(f) = raw.client_secret_file {
            secrets.push(Secret::File(f));
        }
        if secrets.len() > 1 {
            self.problem(
                at,
                "give only one of client_secret_command, client_secret_env, client_secret_file",
            );
            ok = false;
        }
        let client_secret = secrets.pop();
        if flow == Flow::ClientCredentials && client_secret.is_none() {
            self.problem(
                &keys("flow"),
                "client_credentials needs the app's secret: set client_secret_command, client_secret_env or client_secret_file",
            );
            ok = false;
        }
        let tenant = raw.tenant.unwrap_or_default();
        if provider != Provider::Microsoft && !tenant.is_empty() {
            self.problem(&keys("tenant"), "is for provider: microsoft only");
            ok = false;
        }
        let (token_url, device_url, auth_url, scopes) = match provider {
            Provider::Microsoft => {
                let t = if tenant.is_empty() {
                    if flow == Flow::ClientCredentials {
                        self.problem(
                            at,
                            "client_credentials needs tenant: the directory (tenant) ID or domain, e.g. example.onmicrosoft.com",
                        );
                        ok = false;
                    }
                    "organizations".to_string()
                } else {
                    if !tenant
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
                    {
                        self.problem(
                            &keys("tenant"),
                            format!("{tenant:?} is not a tenant ID or domain"),
                        );
                        ok = false;
                    }
                    tenant
                };
                let scopes = match flow {
                    Flow::ClientCredentials => vec![MS_APP.to_string()],
                    _ => vec![MS_IMAP.into(), MS_SMTP.into(), "offline_access".into()],
                };
                (
                    Some(format!("{MS_BASE}/{t}/oauth2/v2.0/token")),
                    Some(format!("{MS_BASE}/{t}/oauth2/v2.0/devicecode")),
                    Some(format!("{MS_BASE}/{t}/oauth2/v2.0/authorize")),
                    scopes,
                )
            }
            Provider::Google => {
                if flow == Flow::Device {
                    self.problem(
                        &keys("flow"),
                        "Google refuses the device flow for mail (invalid_scope): use flow: browser",
                    );
                    ok = false;
                }
                if flow == Flow::ClientCredentials {
                    self.problem(
                        &keys("flow"),
                        "Google has no client_credentials sign-in for mail: use flow: browser",
                    );
                    ok = false;
                }
                (
                    Some(GOOGLE_TOKEN.to_string()),
                    None,
                    Some(GOOGLE_AUTH.to_string()),
                    vec![GOOGLE_MAIL.to_string()],
                )
            }
            Provider::Custom => (
                raw.token_url.clone(),
                raw.device_url.clone(),
                raw.auth_url.clone(),
                Vec::new(),
            ),
        };
        if provider != Provider::Custom {
            for (k, set) in [
                ("token_url", raw.token_url.is_some()),
                ("device_url", raw.device_url.is_some()),
                ("auth_url", raw.auth_url.is_some()),
                ("ca_file", raw.ca_file.is_some()),
            ] {
                if set {
                    self.problem(
                        &keys(k),
                        format!(
                            "is for provider: custom; {} has its own endpoints",
                            provider.name()
                        ),
                    );
                    ok = false;
                }
            }
        }
        let scopes = match raw.scopes {
            Some(s) => s,
            None if provider == Provider::Custom => {
                self.problem(
                    at,
                    "provider: custom needs scopes: the list of scopes to ask for (may be [])",
                );
                ok = false;
                Vec::new()
            }
            None => scopes,
        };
        for s in &scopes {
            if s.is_empty() || s.chars().any(|c| c.is_control() || c == ' ') {
                self.problem(
                    &keys("scopes"),
                    format!("{s:?} is not a scope (one word each, no spaces)"),
                );
                ok = false;
            }
        }
        let Some(token_url) = token_url else {
            self.problem(at, "provider: custom needs token_url: the token endpoint");
            return None;
        };
        for (k, url) in [
            ("token_url", Some(&token_url)),
            ("device_url", device_url.as_ref()),
            ("auth_url", auth_url.as_ref()),
        ] {
            if let Some(u) = url {
                ok &= self.endpoint(&keys(k), u);
            }
        }
        if flow == Flow::Device && device_url.is_none() {
            self.problem(&keys("device_url"), "flow: device needs device_url");
            ok = false;
        }
        if flow == Flow::Browser && auth_url.is_none() {
            self.problem(&keys("auth_url"), "flow: browser needs auth_url");
            ok = false;
        }
        if let Some(ca) = &raw.ca_file {
            ok &= self.ca_file(&keys("ca_file"), ca);
        }
        let token_file = raw.token_file.unwrap_or_else(|| default_token_file(user));
        if !ok {
            return None;
        }
        Some(OAuth2 {
            mechanism,
            source: TokenSource::Endpoints(Box::new(Endpoints {
                provider,
                client_id,
                client_secret,
                flow,
                token_url,
                device_url,
                auth_url,
                scopes,
                ca_file: raw.ca_file,
                token_file,
            })),
            key,
        })
    }

    /// An endpoint URL: https, or http on a loopback host only.
    fn endpoint(&mut self, keys: &[&str], url: &str) -> bool {
        match scheme_and_host(url) {
            Some((https, host)) if https || is_loopback(&host) => true,
            Some(_) => {
                self.problem(
                    keys,
                    format!("{url:?}: use https (plain http is allowed only for a loopback host)"),
                );
                false
            }
            None => {
                self.problem(keys, format!("{url:?} is not an https:// URL"));
                false
            }
        }
    }
}

/// Whether a URL is https, and its host; None when it is not an http(s) URL that a
/// request could go to.
fn scheme_and_host(url: &str) -> Option<(bool, String)> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        (false, url.strip_prefix("http://")?)
    };
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?.to_string()
    } else {
        authority.split(':').next()?.to_string()
    };
    Some((https, host))
}

fn hint(near: Option<&str>) -> String {
    near.map(|n| format!(" (did you mean {n}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::{Auth, Transport, parse};

    const HEAD: &str = "imap:\n  host: outlook.office365.com\n  user: support@example.co.jp\n";
    const TAIL: &str = "members:\n  tanaka: { name: 田中 太郎 }\n";

    fn load(block: &str) -> Result<crate::rules::Rules, String> {
        parse(Path::new("r.yaml"), &format!("{HEAD}{block}{TAIL}"), true)
            .map(|l| l.rules)
            .map_err(|e| e.to_string())
    }

    fn oauth(block: &str) -> OAuth2 {
        match load(block).unwrap().imap.auth {
            Auth::OAuth2(o) => o,
            Auth::Password(_) => panic!("password"),
        }
    }

    #[test]
    fn microsoft_presets_fill_endpoints_and_scopes() {
        let o = oauth(
            "  oauth2:\n    provider: microsoft\n    tenant: example.onmicrosoft.com\n    client_id: 00000000-0000-0000-0000-000000000000\n",
        );
        let TokenSource::Endpoints(e) = o.source else {
            panic!()
        };
        assert_eq!(e.flow, Flow::Device);
        assert_eq!(
            e.token_url,
            "https://login.microsoftonline.com/example.onmicrosoft.com/oauth2/v2.0/token"
        );
        assert!(
            e.scopes
                .iter()
                .any(|s| s.ends_with("IMAP.AccessAsUser.All"))
        );
        assert!(e.scopes.contains(&"offline_access".to_string()));
        assert!(
            e.token_file
                .ends_with("mailduty/oauth2-support@example.co.jp.json")
        );
        let app = oauth(
            "  oauth2:\n    provider: microsoft\n    tenant: t1\n    client_id: c\n    flow: client_credentials\n    client_secret_env: S\n",
        );
        let TokenSource::Endpoints(e) = app.source else {
            panic!()
        };
        assert_eq!(e.scopes, vec![MS_APP.to_string()]);
    }

    #[test]
    fn google_refuses_the_device_flow_and_defaults_to_the_browser() {
        let o = oauth("  oauth2: { provider: google, client_id: x.apps.googleusercontent.com }\n");
        let TokenSource::Endpoints(e) = o.source else {
            panic!()
        };
        assert_eq!(e.flow, Flow::Browser);
        assert_eq!(e.scopes, vec![GOOGLE_MAIL.to_string()]);
        let err = load("  oauth2: { provider: google, client_id: x, flow: device }\n").unwrap_err();
        assert!(
            err.contains("r.yaml:4:") && err.contains("use flow: browser"),
            "{err}"
        );
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let cases = [
            (
                "  oauth2: { provider: microsfot, client_id: c }\n",
                "did you mean microsoft?",
            ),
            (
                "  oauth2: { provider: microsoft }\n",
                "client_id is missing",
            ),
            (
                "  password_env: P\n  oauth2: { token_command: x }\n",
                "not both",
            ),
            (
                "  oauth2: { token_command: x, client_id: c }\n",
                "remove client_id",
            ),
            (
                "  oauth2: { provider: custom, client_id: c, scopes: [a], token_url: \"http://tokens.example.com/t\", device_url: \"https://x/d\" }\n",
                "use https",
            ),
            (
                "  oauth2: { provider: custom, client_id: c, token_url: \"https://x/t\", device_url: \"https://x/d\" }\n",
                "needs scopes",
            ),
            (
                "  oauth2: { provider: custom, client_id: c, scopes: [], token_url: \"https://x/t\" }\n",
                "flow: device needs device_url",
            ),
            (
                "  oauth2: { provider: microsoft, client_id: c, flow: client_credentials }\n",
                "needs the app's secret",
            ),
            (
                "  oauth2: { provider: microsoft, client_id: c, flow: client_credentials, client_secret_env: S }\n",
                "needs tenant",
            ),
            (
                "  oauth2: { provider: microsoft, client_id: c, token_url: \"https://x\" }\n",
                "is for provider: custom",
            ),
            (
                "  oauth2: { token_command: x, mechanism: plain }\n",
                "xoauth2 or oauthbearer",
            ),
        ];
        for (block, want) in cases {
            let err = load(block).map(|_| ()).unwrap_err();
            assert!(err.contains(want), "{block}: {err}");
            assert!(err.starts_with("r.yaml:"), "{err}");
        }
    }

    #[test]
    fn smtp_reuses_the_imap_block_or_has_its_own() {
        let digest = "digest:\n  smtp: { host: smtp.office365.com, user: tanaka@example.co.jp, oauth2: imap }\n";
        let text = format!("{HEAD}  oauth2: {{ token_command: x }}\n{TAIL}{digest}");
        let r = parse(Path::new("r.yaml"), &text, true).unwrap().rules;
        let Transport::Smtp(s) = r.digest.transport else {
            panic!()
        };
        assert_eq!(s.oauth2.unwrap().key, "digest.smtp.oauth2");
        let text = format!("{HEAD}  password_env: P\n{TAIL}{digest}");
        let err = parse(Path::new("r.yaml"), &text, true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("imap signs in with a password"), "{err}");
    }

    #[test]
    fn a_token_command_is_never_printed() {
        let o = oauth("  oauth2: { token_command: \"echo sekrit-9\" }\n");
        assert!(!format!("{o:?}").contains("sekrit"));
    }
}
