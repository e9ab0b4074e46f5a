//! A small IMAP client for looking at a server from the test's side where the server
//! has no admin tool like doveadm (Courier): folder names come back as the rules
//! write them (UTF-8, `/` between levels, no personal prefix).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{PASSWORD, USER};

pub struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
    n: u32,
    pub prefix: String,
    pub sep: char,
}

impl Client {
    pub fn login(port: u16) -> Client {
        Client::login_as(port, USER, PASSWORD)
    }

    /// Signed in as another login (a member of a shared mailbox).
    pub fn login_as(port: u16, user: &str, password: &str) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(180))).unwrap();
        let mut c = Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
            n: 0,
            prefix: String::new(),
            sep: '/',
        };
        let mut greeting = String::new();
        c.r.read_line(&mut greeting).unwrap();
        assert!(greeting.starts_with("* OK"), "greeting: {greeting}");
        c.ok(&format!("LOGIN {user} {password}"));
        for l in c.ok("NAMESPACE") {
            if let Some(rest) = l.strip_prefix("* NAMESPACE ((") {
                let q: Vec<&str> = rest.split('"').collect();
                if q.len() >= 4 {
                    c.prefix = q[1].to_string();
                    c.sep = q[3].chars().next().unwrap_or('/');
                }
            }
        }
        c
    }

    /// Runs a command; returns its untagged lines and the tagged line.
    pub fn cmd(&mut self, cmd: &str) -> (Vec<String>, String) {
        self.n += 1;
        let tag = format!("t{}", self.n);
        self.w
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .unwrap();
        let mut lines = Vec::new();
        loop {
            let mut l = Vec::new();
            let n = self.r.read_until(b'\n', &mut l).unwrap();
            assert!(n > 0, "server closed the connection during {cmd}");
            let l = String::from_utf8_lossy(&l).trim_end().to_string();
            if l.starts_with(&format!("{tag} ")) {
                return (lines, l);
            }
            lines.push(l);
        }
    }

    pub fn ok(&mut self, cmd: &str) -> Vec<String> {
        let (lines, done) = self.cmd(cmd);
        let status = done.split_whitespace().nth(1).unwrap_or("");
        assert_eq!(status, "OK", "{cmd}: {done}");
        lines
    }

    /// The server's name for a folder as the rules name it.
    pub fn server_name(&self, folder: &str) -> String {
        if folder.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        let local = mailduty::imap::mutf7::encode(folder).replace('/', &self.sep.to_string());
        format!("{}{local}", self.prefix)
    }

    /// A server's folder name as the rules name it.
    pub fn rules_name(&self, server: &str) -> String {
        let local = server.strip_prefix(&self.prefix).unwrap_or(server);
        mailduty::imap::mutf7::decode_lossy(local).replace(self.sep, "/")
    }

    /// Every folder as the server names it.
    pub fn list(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for l in self.ok("LIST \"\" \"*\"") {
            let Some(rest) = l.strip_prefix("* LIST ") else {
                continue;
            };
            let Some(close) = rest.find(')') else {
                continue;
            };
            if rest[..close].to_ascii_lowercase().contains("\\noselect") {
                continue;
            }
            let rest = rest[close + 1..].trim_start();
            // The delimiter: a quoted character or NIL.
            let rest = if let Some(r) = rest.strip_prefix("NIL") {
                r
            } else {
                let mut it = rest.splitn(3, '"');
                it.next();
                it.next();
                it.next().unwrap_or("")
            }
            .trim();
            let name = rest.trim_matches('"').replace("\\\"", "\"");
            out.push(name);
        }
        out
    }

    fn uids_and_flags(&mut self, criteria: &str) -> Vec<(u32, String)> {
        let uids: Vec<u32> = self
            .ok(&format!("UID SEARCH {criteria}"))
            .iter()
            .filter_map(|l| l.strip_prefix("* SEARCH"))
            .flat_map(|r| {
                r.split_whitespace()
                    .filter_map(|u| u.parse().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        if uids.is_empty() {
            return Vec::new();
        }
        let set: Vec<String> = uids.iter().map(u32::to_string).collect();
        let mut out = Vec::new();
        for l in self.ok(&format!("UID FETCH {} (UID FLAGS)", set.join(","))) {
            let uid = l
                .split("UID ")
                .nth(1)
                .and_then(|r| r.split([' ', ')']).next())
                .and_then(|u| u.parse().ok());
            let flags = l
                .split("FLAGS (")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .unwrap_or("")
                .split_whitespace()
                // \Recent only says which session saw the message first.
                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                .collect::<Vec<_>>()
                .join(" ");
            if let Some(uid) = uid {
                out.push((uid, flags));
            }
        }
        out.sort();
        out
    }
}

pub fn folders(port: u16) -> Vec<String> {
    let mut c = Client::login(port);
    let names = c.list();
    let mut out: Vec<String> = names.iter().map(|n| c.rules_name(n)).collect();
    out.sort();
    c.cmd("LOGOUT");
    out
}

/// (folder, uid, flags) of every message whose Message-ID is `mid`, history excluded.
pub fn locate(port: u16, mid: &str) -> Vec<(String, String, String)> {
    let mut c = Client::login(port);
    let mut out = Vec::new();
    for name in c.list() {
        let folder = c.rules_name(&name);
        if super::is_history(&folder) {
            continue;
        }
        c.ok(&format!("EXAMINE \"{name}\""));
        for (uid, flags) in c.uids_and_flags(&format!("HEADER Message-ID \"<{mid}>\"")) {
            out.push((folder.clone(), uid.to_string(), flags));
        }
    }
    c.cmd("LOGOUT");
    out
}

/// Every message's (folder, flags), history excluded.
pub fn all_flags(port: u16) -> Vec<(String, String)> {
    let mut c = Client::login(port);
    let mut out = Vec::new();
    for name in c.list() {
        let folder = c.rules_name(&name);
        if super::is_history(&folder) {
            continue;
        }
        c.ok(&format!("EXAMINE \"{name}\""));
        for (_, flags) in c.uids_and_flags("ALL") {
            out.push((folder.clone(), flags));
        }
    }
    c.cmd("LOGOUT");
    out
}

pub fn count(port: u16, folder: &str) -> usize {
    let mut c = Client::login(port);
    let name = c.server_name(folder);
    c.ok(&format!("EXAMINE \"{name}\""));
    let n = c.uids_and_flags("ALL").len();
    c.cmd("LOGOUT");
    n
}

pub fn append(port: u16, folder: &str, flags: &str, date: &str, msg: &[u8]) {
    let mut c = Client::login(port);
    let name = c.server_name(folder);
    c.n += 1;
    let tag = format!("t{}", c.n);
    c.w.write_all(
        format!(
            "{tag} APPEND \"{name}\" ({flags}) \"{date}\" {{{}}}\r\n",
            msg.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut l = String::new();
    c.r.read_line(&mut l).unwrap();
    assert!(l.starts_with('+'), "APPEND to {name} refused: {l}");
    c.w.write_all(msg).unwrap();
    c.w.write_all(b"\r\n").unwrap();
    loop {
        let mut l = String::new();
        c.r.read_line(&mut l).unwrap();
        if l.starts_with(&format!("{tag} ")) {
            assert!(l.starts_with(&format!("{tag} OK")), "APPEND failed: {l}");
            break;
        }
    }
    c.cmd("LOGOUT");
}
