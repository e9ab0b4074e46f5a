//! A real SMTP server on a free loopback port: Debian's aiosmtpd run by
//! /usr/bin/python3 with `smtp_server.py`. Under CI=true a missing aiosmtpd fails the
//! test; elsewhere too, since a digest test without a server proves nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::free_port;

pub struct Smtp {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

/// One received message: envelope recipients and the raw bytes.
pub struct Received {
    pub rcpt: Vec<String>,
    pub raw: Vec<u8>,
}

impl Smtp {
    /// `tls`: (cert, key) to offer STARTTLS; `auth`: (user, password) to require AUTH.
    pub fn start(tls: Option<(&Path, &Path)>, auth: Option<(&str, &str)>) -> Smtp {
        Smtp::start_with(tls, auth, None)
    }

    /// A server that takes AUTH XOAUTH2 for `user` only, with tokens the RFC 7662
    /// endpoint `introspect` calls live.
    pub fn start_oauth(tls: Option<(&Path, &Path)>, user: &str, introspect: &str) -> Smtp {
        Smtp::start_with(tls, Some((user, "")), Some(introspect))
    }

    fn start_with(
        tls: Option<(&Path, &Path)>,
        auth: Option<(&str, &str)>,
        introspect: Option<&str>,
    ) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/harness/smtp_server.py");
        let mut c = Command::new("/usr/bin/python3");
        c.arg(script).arg(port.to_string()).arg(dir.path());
        if let Some((crt, key)) = tls {
            c.arg("--cert").arg(crt).arg("--key").arg(key);
        }
        if let Some((u, p)) = auth {
            c.args(["--user", u, "--password", p]);
        }
        if let Some(url) = introspect {
            c.args(["--introspect", url]);
        }
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/bin/python3 (apt-get install python3-aiosmtpd; scripts/deps does it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP server did not start (is python3-aiosmtpd installed? scripts/deps installs it)"
        );
        Smtp { port, dir, child }
    }

    pub fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for n in 1.. {
            let base: PathBuf = self.dir.path().join(n.to_string());
            let Ok(raw) = std::fs::read(base.with_extension("eml")) else {
                break;
            };
            let rcpt = std::fs::read_to_string(base.with_extension("rcpt"))
                .unwrap_or_default()
                .lines()
                .map(str::to_string)
                .collect();
            out.push(Received { rcpt, raw });
        }
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
