//! An OAuth 2.0 authorization server of the harness's own (`oauth_server.py`, Python's
//! http.server over TLS from a CA made here) and a Dovecot whose `oauth2` passdb asks
//! it whether a token is live: XOAUTH2 and OAUTHBEARER against real servers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::{Dovecot, USER, free_port, make_certs};

pub struct OAuthServer {
    pub port: u16,
    pub http_port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// The client secret the server accepts for client_credentials.
pub const CLIENT_SECRET: &str = "app-secret-9f8e";

impl OAuthServer {
    pub fn start() -> OAuthServer {
        let dir = tempfile::Builder::new()
            .prefix("oa")
            .tempdir_in("/tmp")
            .unwrap();
        make_certs(dir.path());
        let (port, http_port) = (free_port(), free_port());
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/harness/oauth_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(http_port.to_string())
            .arg(dir.path())
            .arg(dir.path().join("server.crt"))
            .arg(dir.path().join("server.key"))
            .arg(USER)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 (scripts/deps installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the OAuth test server did not start");
        OAuthServer {
            port,
            http_port,
            dir,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn introspect_url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.http_port)
    }

    /// Flips the server's switches (see oauth_server.py): `{"lifetime": 60}`,
    /// `{"revoke": true}`, `{"expire": true}` …
    pub fn control(&self, json: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.http_port)).unwrap();
        write!(
            s,
            "POST /control HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
            "{out}"
        );
    }

    /// Every token, device and authorize request so far, as logged.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// How many token requests of `grant` were answered, and how many of those with 200.
    pub fn grants(&self, grant: &str) -> (usize, usize) {
        let r: Vec<_> = self
            .requests()
            .into_iter()
            .filter(|r| r["path"] == "/token" && r["grant_type"] == grant)
            .collect();
        let ok = r.iter().filter(|r| r["status"] == 200).count();
        (r.len(), ok)
    }

    /// A Dovecot that takes XOAUTH2 and OAUTHBEARER tokens this server vouches for
    /// (and passwords as before).
    pub fn dovecot(&self) -> Dovecot {
        let conf = self.dir.path().join("dovecot-oauth2.conf.ext");
        std::fs::write(
            &conf,
            format!(
                "introspection_url = {}\nintrospection_mode = post\nusername_attribute = username\n",
                self.introspect_url()
            ),
        )
        .unwrap();
        Dovecot::start_with(&format!(
            "auth_mechanisms = plain login xoauth2 oauthbearer\npassdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
            conf.display()
        ))
    }

    /// An access token for USER straight from the server (client_credentials), for
    /// tests of `token_command`.
    pub fn app_token(&self) -> String {
        let body =
            format!("grant_type=client_credentials&client_id=c&client_secret={CLIENT_SECRET}");
        let mut r = self
            .browser()
            .post(&self.url("/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(body.as_bytes())
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// The agent a test "browser" uses: the harness CA, no redirects followed.
    pub fn browser(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::NativeTls)
                    .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                        ureq::tls::Certificate::from_pem(&std::fs::read(self.ca()).unwrap())
                            .unwrap()
                            .to_owned(),
                    ])))
                    .build(),
            )
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// The `oauth2:` block for provider: custom with this server's endpoints; the
    /// token file is the default one, under the team's XDG_STATE_HOME.
    pub fn block(&self, flow: &str) -> String {
        format!(
            "  oauth2:\n    provider: custom\n    client_id: mailduty-test\n    flow: {flow}\n    token_url: {}\n    device_url: {}\n    auth_url: {}\n    scopes: [mail, offline_access]\n    ca_file: {}\n",
            self.url("/token"),
            self.url("/device"),
            self.url("/authorize"),
            self.ca().display(),
        )
    }
}

impl Drop for OAuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
