//! A private Courier-IMAP 5.0 on free loopback ports: the server without MOVE, without
//! CONDSTORE, with the `INBOX.` prefix and the `.` separator. scripts/deps unpacks
//! Debian's packages into COURIER_ROOT; the daemons run in a private mount namespace
//! where the test's own directories cover the paths Courier has compiled in
//! (/etc/courier, /run/courier), so tests run side by side.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{PASSWORD, Server, USER, free_port, imapc, mail_owner, make_certs};

/// Where scripts/deps unpacks Courier (MAILDUTY_COURIER_ROOT overrides it).
pub fn root() -> PathBuf {
    std::env::var_os("MAILDUTY_COURIER_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/mailduty-courier"))
}

/// Courier is required wherever the tests run: a missing one fails with the fix.
fn require() -> PathBuf {
    let r = root();
    if !r.join("usr/bin/imapd").exists() || !r.join("usr/libexec/gam_server").exists() {
        panic!(
            "Courier-IMAP is not unpacked in {}: run scripts/deps as root (the tests need a real Courier)",
            r.display()
        );
    }
    r
}

fn libs(root: &Path) -> String {
    let r = root.display();
    format!(
        "{r}/usr/lib/x86_64-linux-gnu:{r}/lib/x86_64-linux-gnu:{r}/usr/lib:{r}/usr/lib/courier-authlib"
    )
}

/// Diffie-Hellman parameters take a while to make: made once, kept for later runs
/// (they are public values).
fn dhparams() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let p = std::env::temp_dir().join("mailduty-courier-dhparams.pem");
        if p.exists() {
            return p;
        }
        let tmp = std::env::temp_dir().join(format!("mailduty-dh-{}.tmp", std::process::id()));
        let st = Command::new("openssl")
            .args(["dhparam", "-dsaparam", "-out"])
            .arg(&tmp)
            .arg("2048")
            .output()
            .expect("openssl");
        assert!(st.status.success(), "openssl dhparam failed");
        // Test binaries running at once each make a file; the rename keeps one whole.
        std::fs::rename(&tmp, &p).unwrap();
        p
    })
}

pub struct Courier {
    pub dir: tempfile::TempDir,
    pub imap_port: u16,
    pub imaps_port: u16,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ensure_user(name: &str) {
    let known = Command::new("getent")
        .args(["passwd", name])
        .output()
        .is_ok_and(|o| o.status.success());
    if !known {
        // Two tests may race to add it; either way it exists afterwards.
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .output();
    }
}

impl Courier {
    pub fn start() -> Courier {
        let root = require();
        let libs = libs(&root);
        let r = root.display().to_string();
        // couriertls (STARTTLS) drops to the compiled-in user "courier".
        ensure_user("courier");
        let dir = tempfile::Builder::new()
            .prefix("mdc")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        let p = d.display().to_string();
        for sub in ["etc", "run/authdaemon", "pids", "home"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // The mail user and couriertls must reach their files below the temp dir.
        run(Command::new("chmod").args(["755", &p, &format!("{p}/run")]));
        run(Command::new("chmod").args(["755", &format!("{p}/run/authdaemon")]));
        make_certs(d);
        let pem = [
            std::fs::read(d.join("server.crt")).unwrap(),
            std::fs::read(d.join("server.key")).unwrap(),
        ]
        .concat();
        std::fs::write(d.join("server.pem"), pem).unwrap();
        run(Command::new("chgrp").args(["courier", &format!("{p}/server.pem")]));
        run(Command::new("chmod").args(["640", &format!("{p}/server.pem")]));
        std::fs::write(d.join("tlscache"), b"").unwrap();
        run(Command::new("chown").args(["courier:courier", &format!("{p}/tlscache")]));

        let (uid, gid) = mail_owner();
        let home = d.join("home").join(USER);
        std::fs::create_dir_all(&home).unwrap();
        run(Command::new(root.join("usr/bin/maildirmake.courier"))
            .env("LD_LIBRARY_PATH", &libs)
            .arg(home.join("Maildir")));
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(d.join("home")));

        let hash = Command::new("openssl")
            .args(["passwd", "-6", PASSWORD])
            .output()
            .unwrap();
        let hash = String::from_utf8(hash.stdout).unwrap();
        std::fs::write(
            d.join("etc/userdb"),
            format!(
                "{USER}\tuid={uid}|gid={gid}|home={h}|mail={h}/Maildir|systempw={}\n",
                hash.trim(),
                h = home.display()
            ),
        )
        .unwrap();
        run(Command::new("chmod").args(["600", &format!("{p}/etc/userdb")]));
        // makeuserdb calls makedatprog by its compiled-in path: point it at ours.
        let makeuserdb = std::fs::read_to_string(root.join("usr/sbin/makeuserdb")).unwrap();
        std::fs::write(
            d.join("makeuserdb"),
            makeuserdb.replace(
                "/usr/lib/courier/courier-authlib/makedatprog",
                &format!("{r}/usr/lib/courier/courier-authlib/makedatprog"),
            ),
        )
        .unwrap();
        run(Command::new("perl")
            .env("LD_LIBRARY_PATH", &libs)
            .arg(d.join("makeuserdb"))
            .arg("-f")
            .arg(d.join("etc/userdb")));
        std::fs::write(
            d.join("etc/authdaemonrc"),
            "authmodulelist=\"authuserdb\"\nauthmodulelistorig=\"authuserdb\"\ndaemons=3\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=\"\"\nLOGGEROPTS=\"\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(d.join("etc/shared")).unwrap();
        std::fs::write(d.join("etc/shared/index"), b"").unwrap();

        let imap_port = free_port();
        let imaps_port = free_port();
        let caps = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE";
        let dh = dhparams().display().to_string();
        // Each instance its own gam_server, so that stopping it stops no other test's.
        let gam = gam_id(d);
        std::fs::write(
            d.join("imapd.env"),
            format!(
                r#"LD_LIBRARY_PATH={libs}
PATH=/usr/sbin:/usr/bin:/sbin:/bin
IMAP_CAPABILITY="{caps}"
IMAP_CAPABILITY_TLS="{caps} AUTH=PLAIN"
IMAP_KEYWORDS=1
IMAP_ACL=1
IMAP_PROXY=0
IMAP_IDLE_TIMEOUT=60
IMAP_MAILBOX_SANITY_CHECK=1
IMAP_DISABLETHREADSORT=0
IMAP_CHECK_ALL_FOLDERS=0
IMAP_OBSOLETE_CLIENT=0
IMAP_UMASK=022
IMAP_USELOCKS=1
IMAP_SHAREDINDEXFILE={p}/etc/shared/index
IMAP_ENHANCEDIDLE=0
IMAP_TRASHFOLDERNAME=Trash
IMAP_EMPTYTRASH=
IMAP_MOVE_EXPUNGE_TO_TRASH=0
IMAP_STARTTLS=YES
IMAP_TLS_REQUIRED=0
COURIERTLS={r}/usr/bin/couriertls
TLS_CERTFILE={p}/server.pem
TLS_DHPARAMS={dh}
TLS_VERIFYPEER=NONE
TLS_CACHEFILE={p}/tlscache
TLS_CACHESIZE=524288
MAILDIRPATH=Maildir
HEADERFROM=X-IMAP-Sender
SENDMAIL=/bin/false
GAMIN_DEBUG_SERVER={r}/usr/libexec/gam_server
GAM_CLIENT_ID={gam}
"#
            ),
        )
        .unwrap();
        // libgamin forks gam_server from a compiled-in path unless GAMIN_DEBUG_SERVER
        // names one; without it every folder-lock wait spins.
        std::fs::write(
            d.join("start-in-ns.sh"),
            format!(
                r#"#!/bin/bash
set -e
mount --make-rprivate / 2>/dev/null || true
mkdir -p /etc/courier /run/courier
mount --bind "{p}/etc" /etc/courier
mount --bind "{p}/run" /run/courier
set -a; . "{p}/imapd.env"; set +a
LOG="{r}/usr/sbin/courierlogger"
TCPD="{r}/usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=200 -maxperip=200 -nodnslookup -noidentlookup"
$LOG -pid="{p}/pids/authdaemon.pid" -start -name=mdc-authdaemond "{r}/usr/lib/courier/courier-authlib/authdaemond"
$LOG -pid="{p}/pids/imapd.pid" -start -name=mdc-imapd $TCPD {imap_port} \
    "{r}/usr/lib/courier/courier/imaplogin" "{r}/usr/bin/imapd" Maildir
IMAP_TLS=1 IMAP_STARTTLS=NO $LOG -pid="{p}/pids/imapd-ssl.pid" -start -name=mdc-imapd-ssl $TCPD {imaps_port} \
    "{r}/usr/bin/couriertls" -server -tcpd "{r}/usr/lib/courier/courier/imaplogin" "{r}/usr/bin/imapd" Maildir
"#
            ),
        )
        .unwrap();
        // The mount points must exist on the host for the namespace to cover them.
        for m in ["/etc/courier", "/run/courier"] {
            std::fs::create_dir_all(m).unwrap();
        }
        run(Command::new("env")
            .args(["-i", "unshare", "-m", "bash"])
            .arg(d.join("start-in-ns.sh")));
        let c = Courier {
            dir,
            imap_port,
            imaps_port,
        };
        c.wait_ready();
        c
    }

    fn wait_ready(&self) {
        if super::greets(self.imap_port, Duration::from_secs(20)) {
            return;
        }
        panic!("courier did not start on port {}", self.imap_port);
    }

    fn pids(&self) -> Vec<i32> {
        ["imapd", "imapd-ssl", "authdaemon"]
            .iter()
            .filter_map(|f| {
                std::fs::read_to_string(self.dir.path().join("pids").join(format!("{f}.pid")))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
            })
            .collect()
    }
}

/// The FAM client id of an instance: libgamin names its gam_server by it.
fn gam_id(dir: &Path) -> String {
    let leaf = dir.file_name().unwrap().to_string_lossy().to_string();
    format!("mailduty-{leaf}")
}

/// gam_server processes started for this instance (it detaches from the daemons).
fn gam_servers(dir: &Path) -> Vec<i32> {
    let id = gam_id(dir);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            cmd.contains("gam_server")
                && (cmd.contains(&id)
                    || String::from_utf8_lossy(&env).contains(&format!("GAM_CLIENT_ID={id}")))
        })
        .collect()
}

impl Drop for Courier {
    fn drop(&mut self) {
        // courierlogger stops the daemon it wraps, which stops its children.
        let pids = self.pids();
        for pid in &pids {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for pid in &pids {
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        for pid in gam_servers(self.dir.path()) {
            let _ = Command::new("kill").arg(pid.to_string()).output();
        }
    }
}

impl Server for Courier {
    fn name(&self) -> &'static str {
        "courier"
    }
    fn imap_port(&self) -> u16 {
        self.imap_port
    }
    fn imaps_port(&self) -> u16 {
        self.imaps_port
    }
    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }
    fn folders(&self) -> Vec<String> {
        imapc::folders(self.imap_port)
    }
    fn locate(&self, mid: &str) -> Vec<(String, String, String)> {
        imapc::locate(self.imap_port, mid)
    }
    fn all_flags(&self) -> Vec<(String, String)> {
        imapc::all_flags(self.imap_port)
    }
    fn count(&self, folder: &str) -> usize {
        imapc::count(self.imap_port, folder)
    }
    fn append(&self, folder: &str, flags: &str, date: &str, msg: &[u8]) {
        imapc::append(self.imap_port, folder, flags, date, msg)
    }
    fn path(&self, folder: &str) -> String {
        if folder.eq_ignore_ascii_case("INBOX") {
            return "INBOX".into();
        }
        format!("INBOX.{}", folder.replace('/', "."))
    }
}
