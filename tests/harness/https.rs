//! A real HTTPS server on a free loopback port (`https_server.py`, Python's own
//! http.server and ssl) with a certificate from the harness CA. It records every
//! request, and answers as told: a status, or too late.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::free_port;

pub struct Https {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// What the server answered.
    pub status: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Https {
    pub fn start(cert: &Path, key: &Path) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/harness/https_server.py");
        let mut child = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(port.to_string())
            .arg(dir.path())
            .arg(cert)
            .arg(key)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 (apt-get install python3; scripts/deps does it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the HTTPS test server did not start");
        Https { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// How the following requests are answered.
    pub fn answer(&self, status: u16, delay_secs: f64) {
        std::fs::write(
            self.dir.path().join("mode.json"),
            format!("{{\"status\": {status}, \"delay\": {delay_secs}}}"),
        )
        .unwrap();
    }

    pub fn requests(&self) -> Vec<Request> {
        let text =
            std::fs::read_to_string(self.dir.path().join("requests.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                Request {
                    method: v["method"].as_str().unwrap().to_string(),
                    path: v["path"].as_str().unwrap().to_string(),
                    headers: v["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| {
                            (
                                h[0].as_str().unwrap().to_string(),
                                h[1].as_str().unwrap().to_string(),
                            )
                        })
                        .collect(),
                    body: v["body"].as_str().unwrap().to_string(),
                    status: v["status"].as_u64().unwrap() as u16,
                }
            })
            .collect()
    }

    /// The requests that the server answered with a 2xx.
    pub fn delivered(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}

impl Drop for Https {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
