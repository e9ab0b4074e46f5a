//! Test harness: a private Dovecot on free loopback ports with TLS from a CA made
//! here, users in a passwd-file, stopped on drop; and the real mailduty binary.

#![allow(dead_code)]

pub mod courier;
pub mod https;
pub mod imapc;
pub mod oauth;
pub mod relay;
pub mod seed;
pub mod smtp;

#[allow(unused_imports)]
pub use courier::Courier;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const USER: &str = "support";
pub const PASSWORD: &str = "s3cret-pw";

/// Where commands write their events on a server with MOVE, until `rotate --apply`
/// moves them into 対応履歴.
pub const JOURNAL: &str = "対応履歴/新着";

/// Whether a folder (as the rules name it) holds history events: 対応履歴 or its
/// journal (the archive's year folders are not meant).
pub fn is_history(folder: &str) -> bool {
    folder == "対応履歴" || folder == JOURNAL
}

static INSTANCE: AtomicU32 = AtomicU32::new(0);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Dovecot is required under CI; elsewhere a missing one fails too, with the fix.
fn dovecot_bin() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "dovecot is not installed: apt-get install dovecot-imapd (the tests need a real server)"
    );
}

pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub conf: PathBuf,
    child: std::process::Child,
}

impl Dovecot {
    pub fn start() -> Dovecot {
        Dovecot::start_with("")
    }

    /// A Dovecot where the support account's folders can be shared with other logins:
    /// the acl plugin (RFC 4314 over IMAP), a shared namespace `shared/<owner>/` and
    /// \Seen private per login (INDEXPVT). Logins are added with `add_user`.
    pub fn start_shared() -> Dovecot {
        Dovecot::start_with(
            "mail_plugins = $mail_plugins acl\nprotocol imap {\n  mail_plugins = $mail_plugins imap_acl\n}\nplugin {\n  acl = vfile\n  acl_shared_dict = file:@DIR@/home/shared-mailboxes.db\n}\nnamespace shared {\n  type = shared\n  separator = /\n  prefix = shared/%%n/\n  location = maildir:@DIR@/home/%%n/Maildir:INDEXPVT=~/Maildir/shared/%%n\n  subscriptions = no\n  list = children\n}\n",
        )
    }

    /// Another login with its own password (the passwd-file is read again on change).
    pub fn add_user(&self, login: &str, password: &str) {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("passwd"))
            .unwrap();
        writeln!(f, "{login}:{{PLAIN}}{password}").unwrap();
    }

    /// `extra` is appended to dovecot.conf (e.g. a reduced capability list); `@DIR@`
    /// in it stands for the server's directory.
    pub fn start_with(extra: &str) -> Dovecot {
        let bin = dovecot_bin();
        let dir = tempfile::Builder::new()
            .prefix("md")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("run")).unwrap();
        std::fs::create_dir_all(d.join("state")).unwrap();
        std::fs::create_dir_all(d.join("home")).unwrap();
        make_certs(d);
        let (uid, gid) = mail_owner();
        chown_r(&d.join("home"), uid, gid);
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let imap_port = free_port();
        let imaps_port = free_port();
        let n = INSTANCE.fetch_add(1, Ordering::SeqCst);
        let conf = d.join("dovecot.conf");
        let p = d.display();
        std::fs::write(
            &conf,
            format!(
                r#"base_dir = {p}/run
state_dir = {p}/state
instance_name = mdtest{pid}x{n}
log_path = {p}/dovecot.log
info_log_path = {p}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{p}/server.crt
ssl_key = <{p}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_max_userip_connections = 200
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {p}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={p}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  prefix =
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service imap {{
  process_limit = 200
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
service auth {{
  chroot =
}}
{extra}
"#,
                extra = extra.replace("@DIR@", &p.to_string()),
                pid = std::process::id()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .args(["-F", "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let dc = Dovecot {
            dir,
            imap_port,
            imaps_port,
            conf,
            child,
        };
        dc.wait_ready();
        dc
    }

    /// Stops the server (every session ends), as a restart or an outage would.
    pub fn stop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
        let _ = self.child.wait();
        // Let the master's children go before the ports are taken again.
        for _ in 0..50 {
            if TcpStream::connect(("127.0.0.1", self.imap_port)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Starts it again with the same configuration, ports and mail.
    pub fn restart(&mut self) {
        self.child = Command::new(dovecot_bin())
            .args(["-F", "-c"])
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        self.wait_ready();
    }

    fn wait_ready(&self) {
        if greets(self.imap_port, Duration::from_secs(15)) {
            return;
        }
        let log = std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default();
        panic!("dovecot did not start on port {}:\n{log}", self.imap_port);
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .output()
            .expect("doveadm");
        assert!(
            out.status.success(),
            "doveadm {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Folder names as the server's own tool shows them (decoded to UTF-8).
    pub fn folders(&self) -> Vec<String> {
        self.doveadm(&["mailbox", "list", "-u", USER])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// (folder, uid, flags) of every message whose Message-ID is `mid`.
    pub fn locate(&self, mid: &str) -> Vec<(String, String, String)> {
        let out = self.doveadm(&[
            "-f",
            "tab",
            "fetch",
            "-u",
            USER,
            "mailbox uid flags",
            "HEADER",
            "Message-ID",
            &format!("<{mid}>"),
        ]);
        out.lines()
            .skip(1)
            .map(|l| {
                let mut p = l.split('\t');
                (
                    p.next().unwrap_or("").into(),
                    p.next().unwrap_or("").into(),
                    p.next().unwrap_or("").into(),
                )
            })
            .filter(|(f, _, _): &(String, String, String)| !is_history(f))
            .collect()
    }

    /// Every message's (folder, flags), history excluded.
    pub fn all_flags(&self) -> Vec<(String, String)> {
        let out = self.doveadm(&["-f", "tab", "fetch", "-u", USER, "mailbox flags", "ALL"]);
        out.lines()
            .skip(1)
            .filter_map(|l| {
                l.split_once('\t')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
            .filter(|(f, _)| !is_history(f))
            .collect()
    }

    /// Every message of every folder as (folder, flags, whole text), by doveadm.
    pub fn everything(&self) -> Vec<(String, String, String)> {
        let out = self.doveadm(&[
            "-f",
            "json",
            "fetch",
            "-u",
            USER,
            "mailbox flags text",
            "mailbox",
            "*",
            "ALL",
        ]);
        let v: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        v.as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let f = |k: &str| m[k].as_str().unwrap_or("").to_string();
                (f("mailbox"), f("flags"), f("text"))
            })
            .collect()
    }

    /// Removes every message from every folder, keeping the folders.
    pub fn wipe(&self) {
        self.doveadm(&["expunge", "-u", USER, "mailbox", "*", "ALL"]);
    }

    pub fn count(&self, folder: &str) -> usize {
        let out = self.doveadm(&[
            "-f", "tab", "fetch", "-u", USER, "uid", "MAILBOX", folder, "ALL",
        ]);
        out.lines().skip(1).count()
    }

    /// Delivers messages into the inbox's Maildir as a local delivery agent would,
    /// with no server involved: works while the server is down, and takes a thousand
    /// in a moment.
    pub fn deliver_offline(&self, msgs: &[Vec<u8>]) {
        let maildir = self.dir.path().join("home").join(USER).join("Maildir");
        let new = maildir.join("new");
        std::fs::create_dir_all(&new).unwrap();
        for m in msgs {
            let n = INSTANCE.fetch_add(1, Ordering::SeqCst);
            let file = new.join(format!("1800000000.M{n}P{}.offline", std::process::id()));
            std::fs::write(&file, m).unwrap();
        }
        let (uid, gid) = mail_owner();
        chown_r(&maildir, uid, gid);
    }

    /// APPENDs a message over plain IMAP on loopback, with an INTERNALDATE.
    pub fn append(&self, folder: &str, flags: &str, date: &str, msg: &[u8]) {
        let mut s = TcpStream::connect(("127.0.0.1", self.imap_port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        read_until_tag(&mut s, "*");
        s.write_all(format!("a LOGIN {USER} {PASSWORD}\r\n").as_bytes())
            .unwrap();
        read_until_tag(&mut s, "a");
        let name = mailduty::imap::mutf7::encode(folder);
        s.write_all(
            format!(
                "b APPEND \"{name}\" ({flags}) \"{date}\" {{{}}}\r\n",
                msg.len()
            )
            .as_bytes(),
        )
        .unwrap();
        let cont = read_until_tag(&mut s, "+");
        assert!(cont.starts_with('+'), "APPEND refused: {cont}");
        s.write_all(msg).unwrap();
        s.write_all(b"\r\n").unwrap();
        let done = read_until_tag(&mut s, "b");
        assert!(done.starts_with("b OK"), "APPEND failed: {done}");
        s.write_all(b"c LOGOUT\r\n").unwrap();
    }
}

fn read_until_tag(s: &mut TcpStream, tag: &str) -> String {
    let mut all = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let mut line = Vec::new();
        loop {
            s.read_exact(&mut b).unwrap();
            line.push(b[0]);
            if b[0] == b'\n' {
                break;
            }
        }
        let l = String::from_utf8_lossy(&line).to_string();
        all.push(l.clone());
        if l.starts_with(&format!("{tag} "))
            || (tag == "*" && l.starts_with("* OK"))
            || (tag == "+" && (l.starts_with('+') || l.starts_with("b ")))
        {
            return l;
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the tests look at on any server: Dovecot through doveadm, others through
/// a plain IMAP session. Folder names are given as the rules write them.
pub trait Server {
    fn name(&self) -> &'static str;
    fn imap_port(&self) -> u16;
    fn imaps_port(&self) -> u16;
    fn ca(&self) -> PathBuf;
    fn folders(&self) -> Vec<String>;
    fn locate(&self, mid: &str) -> Vec<(String, String, String)>;
    fn all_flags(&self) -> Vec<(String, String)>;
    fn count(&self, folder: &str) -> usize;
    fn append(&self, folder: &str, flags: &str, date: &str, msg: &[u8]);
    /// History mails in 対応履歴 and in its journal (a server without MOVE has none).
    fn count_history(&self) -> usize {
        let journal = self.folders().iter().any(|f| *f == self.path(JOURNAL));
        self.count("対応履歴") + if journal { self.count(JOURNAL) } else { 0 }
    }
    /// The server's name of a folder as the rules name it (what mailduty prints).
    fn path(&self, folder: &str) -> String {
        folder.to_string()
    }
}

/// So that `&server` works where a test holds `&dyn Server` already.
impl<T: Server + ?Sized> Server for &T {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn imap_port(&self) -> u16 {
        (**self).imap_port()
    }
    fn imaps_port(&self) -> u16 {
        (**self).imaps_port()
    }
    fn ca(&self) -> PathBuf {
        (**self).ca()
    }
    fn folders(&self) -> Vec<String> {
        (**self).folders()
    }
    fn locate(&self, mid: &str) -> Vec<(String, String, String)> {
        (**self).locate(mid)
    }
    fn all_flags(&self) -> Vec<(String, String)> {
        (**self).all_flags()
    }
    fn count(&self, folder: &str) -> usize {
        (**self).count(folder)
    }
    fn append(&self, folder: &str, flags: &str, date: &str, msg: &[u8]) {
        (**self).append(folder, flags, date, msg)
    }
    fn path(&self, folder: &str) -> String {
        (**self).path(folder)
    }
}

impl Server for Dovecot {
    fn name(&self) -> &'static str {
        "dovecot"
    }
    fn imap_port(&self) -> u16 {
        self.imap_port
    }
    fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    fn ca(&self) -> PathBuf {
        Dovecot::ca(self)
    }
    fn folders(&self) -> Vec<String> {
        Dovecot::folders(self)
    }
    fn locate(&self, mid: &str) -> Vec<(String, String, String)> {
        Dovecot::locate(self, mid)
    }
    fn all_flags(&self) -> Vec<(String, String)> {
        Dovecot::all_flags(self)
    }
    fn count(&self, folder: &str) -> usize {
        Dovecot::count(self, folder)
    }
    fn append(&self, folder: &str, flags: &str, date: &str, msg: &[u8]) {
        Dovecot::append(self, folder, flags, date, msg)
    }
}

/// The unprivileged user mail processes run as (Dovecot refuses root).
fn mail_owner() -> (u32, u32) {
    let out = Command::new("id").args(["-u", "nobody"]).output().unwrap();
    let uid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(65534);
    let out = Command::new("id").args(["-g", "nobody"]).output().unwrap();
    let gid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(65534);
    (uid, gid)
}

fn chown_r(p: &Path, uid: u32, gid: u32) {
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Whether an IMAP greeting comes on `port` within `limit` (a server starting up);
/// the probe logs out so a server counting sessions is not left one open.
pub fn greets(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut buf = [0u8; 64];
            s.set_read_timeout(Some(Duration::from_secs(2))).ok();
            if s.read(&mut buf)
                .is_ok_and(|n| n > 0 && buf.starts_with(b"* OK"))
            {
                let _ = s.write_all(b"a LOGOUT\r\n");
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Runs openssl in `d`; a failure stops the test with openssl's own words.
fn openssl(d: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(d)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_certs(d: &Path) {
    let run = |args: &[&str]| openssl(d, args);
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=mailduty test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
}

/// What is wrong with a certificate that `bad_cert` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCert {
    /// Its validity ended before it was made.
    Expired,
    /// For mail.example.org only, not for 127.0.0.1 or localhost.
    WrongHost,
}

/// A CA and a server certificate signed by it with one defect; the issuer is
/// trusted once the CA is given as ca_file, so only the defect remains.
/// Returns (dir, ca.crt, server.crt, server.key).
pub fn bad_cert(kind: BadCert) -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| openssl(d, args);
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=mailduty test CA",
    ]);
    let (cn, san, days) = match kind {
        BadCert::Expired => ("localhost", "DNS:localhost,IP:127.0.0.1", "-1"),
        BadCert::WrongHost => ("mail.example.org", "DNS:mail.example.org", "2"),
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        &format!("/CN={cn}"),
    ]);
    std::fs::write(
        d.join("san.ext"),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        days,
        "-extfile",
        "san.ext",
    ]);
    // Dovecot reads the key as root before dropping privileges; the dir stays private.
    let (ca, crt, key) = (d.join("ca.crt"), d.join("server.crt"), d.join("server.key"));
    (dir, ca, crt, key)
}

/// A rules file in a temp dir, and the binary run against it.
pub struct Team {
    pub dir: tempfile::TempDir,
    pub rules: PathBuf,
}

pub const MEMBERS: &str = "members:\n  tanaka: { name: 田中 太郎, email: tanaka@example.jp, login: tanaka }\n  suzuki: { name: 鈴木 花子, email: suzuki@example.jp, login: hsuzuki }\n";

/// Business hours around the clock and no holidays, so that ages in the tests do not
/// depend on the day they run.
pub const ALWAYS_OPEN: &str = "business_hours: { start: \"00:00\", end: \"24:00\", days: [mon, tue, wed, thu, fri, sat, sun] }\nroster:\n  holidays: { japan: false }\n";

impl Team {
    /// Rules for `dc` over implicit TLS with its CA, plus `members`.
    pub fn tls(dc: &dyn Server, members: &str) -> Team {
        Team::with_imap(
            &format!(
                "  host: 127.0.0.1\n  port: {}\n  tls: implicit\n  ca_file: {}\n",
                dc.imaps_port(),
                dc.ca().display()
            ),
            members,
        )
    }

    /// Rules for plain IMAP on loopback at `port` (the server or a relay in front of it).
    pub fn plain(port: u16, members: &str) -> Team {
        Team::with_imap(
            &format!("  host: 127.0.0.1\n  port: {port}\n  tls: none\n"),
            members,
        )
    }

    pub fn with_imap(imap: &str, members: &str) -> Team {
        Team::with_tail(imap, members, ALWAYS_OPEN)
    }

    /// Rules with `tail` (YAML for the roster, routes …) instead of the always-open calendar.
    pub fn with_tail(imap: &str, members: &str, tail: &str) -> Team {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.yaml");
        std::fs::write(
            &rules,
            format!("imap:\n{imap}  user: {USER}\n  password_env: MAILDUTY_TEST_PW\n{members}sla:\n  unclaimed: 4h\n{tail}"),
        )
        .unwrap();
        Team { dir, rules }
    }

    /// A team whose rules file is `text`, whole.
    pub fn raw(text: &str) -> Team {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.yaml");
        std::fs::write(&rules, text).unwrap();
        Team { dir, rules }
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_stdin(args, "")
    }

    /// The events of the last two days as `history` reads them (a history mail may
    /// carry several), without the mail-client step's scan bookmarks.
    #[allow(dead_code)]
    pub fn events(&self) -> Vec<serde_json::Value> {
        let since = (chrono::Utc::now() - chrono::Duration::days(2))
            .date_naive()
            .to_string();
        let o = self.run(&["history", "--since", &since, "--format", "json"]);
        assert_eq!(code(&o), 0, "history: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] != "scan")
            .cloned()
            .collect()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// The command started in the background, its output piped, for a test that acts
    /// on the server while it runs.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mailduty"));
        c.arg("--rules").arg(&self.rules).args(args);
        // What the binary keeps on "this machine" stays in the team's directory.
        c.env("MAILDUTY_TEST_PW", PASSWORD)
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env_remove("MAILDUTY_MEMBER")
            .env_remove("MAILDUTY_RULES")
            .env("NO_COLOR", "1");
        c
    }
}

/// Commands and round trips in a `-v` log: a run of `C:` lines is one round trip;
/// LOGOUT is not waited for.
pub fn trips(err: &str) -> (usize, usize) {
    let lines: Vec<&str> = err.lines().filter(|l| !l.ends_with(" LOGOUT")).collect();
    let sent = lines.iter().filter(|l| l.starts_with("C: ")).count();
    let mut trips = 0;
    let mut prev = "";
    for l in &lines {
        if l.starts_with("C: ") && !prev.starts_with("C: ") {
            trips += 1;
        }
        prev = l;
    }
    (sent, trips)
}

/// An INTERNALDATE some hours ago, as APPEND takes it.
pub fn imap_date(hours_ago: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .format("%d-%b-%Y %H:%M:%S +0000")
        .to_string()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}
