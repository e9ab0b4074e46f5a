//! A TCP relay between claimers and Dovecot that holds every client line matching a
//! pattern until `parties` of them have arrived (or a deadline passes), then lets
//! them all through at once. Without it, claimer processes reach the server one
//! after another and a race test proves nothing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub struct Relay {
    pub port: u16,
    /// Hold only each connection's first matching line (a retry passes freely).
    pub once: Arc<std::sync::atomic::AtomicBool>,
    gate: Arc<(Mutex<Gate>, Condvar)>,
}

struct Gate {
    waiting: usize,
    parties: usize,
    round: u64,
    /// How many times the gate opened with every party present.
    full_releases: u64,
}

impl Relay {
    pub fn start(server_port: u16, pattern: &'static str, parties: usize) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = Arc::new((
            Mutex::new(Gate {
                waiting: 0,
                parties,
                round: 0,
                full_releases: 0,
            }),
            Condvar::new(),
        ));
        let g = gate.clone();
        let once = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let o = once.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let g = g.clone();
                let once = o.load(std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || pipe(client, server_port, pattern, g, once));
            }
        });
        Relay { port, gate, once }
    }

    pub fn full_releases(&self) -> u64 {
        self.gate.0.lock().unwrap().full_releases
    }
}

fn pipe(
    client: TcpStream,
    server_port: u16,
    pattern: &str,
    gate: Arc<(Mutex<Gate>, Condvar)>,
    once: bool,
) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
        return;
    };
    let mut s2c_from = server.try_clone().unwrap();
    let mut s2c_to = client.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2c_from, &mut s2c_to);
        let _ = s2c_to.shutdown(std::net::Shutdown::Both);
    });
    let mut reader = BufReader::new(client);
    let mut to_server = server;
    let mut line = Vec::new();
    let mut held = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if String::from_utf8_lossy(&line).contains(pattern) && !(once && held) {
            held = true;
            hold(&gate);
        }
        if to_server.write_all(&line).is_err() {
            break;
        }
    }
    let _ = to_server.shutdown(std::net::Shutdown::Both);
}

fn hold(gate: &Arc<(Mutex<Gate>, Condvar)>) {
    let (lock, cv) = &**gate;
    let mut g = lock.lock().unwrap();
    let round = g.round;
    g.waiting += 1;
    if g.waiting == g.parties {
        g.full_releases += 1;
        g.waiting = 0;
        g.round += 1;
        cv.notify_all();
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while g.round == round {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Someone never arrived: open the gate for those who did.
            g.waiting = 0;
            g.round += 1;
            cv.notify_all();
            break;
        }
        g = cv.wait_timeout(g, left).unwrap().0;
    }
}

/// Where `Cutter` cuts: before the chosen command reaches the server, or after the
/// server got it but before its answer reaches the client (a crash or a dropped
/// connection at that instant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    Before,
    After,
}

/// A relay that counts the client's commands over all its connections and cuts the
/// connection at the N-th, so that a test can stop a command at every step.
pub struct Cutter {
    pub port: u16,
    state: Arc<Mutex<CutState>>,
}

struct CutState {
    /// Commands seen since `arm`.
    seen: usize,
    /// Cut at this command (1-based); 0: never.
    at: usize,
    how: Cut,
    fired: bool,
    /// Bumped by `arm`: a connection opened before (say, the LOGOUT an earlier run
    /// sent without waiting) is not counted.
    generation: u64,
}

impl Cutter {
    pub fn start(server_port: u16) -> Cutter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(CutState {
            seen: 0,
            at: 0,
            how: Cut::Before,
            fired: false,
            generation: 0,
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let st = st.clone();
                std::thread::spawn(move || cut_pipe(client, server_port, st));
            }
        });
        Cutter { port, state }
    }

    /// Counts from zero again and cuts at command `at` (0: never).
    pub fn arm(&self, at: usize, how: Cut) {
        let mut s = self.state.lock().unwrap();
        *s = CutState {
            seen: 0,
            at,
            how,
            fired: false,
            generation: s.generation + 1,
        };
    }

    /// Commands seen since the last `arm`.
    pub fn seen(&self) -> usize {
        self.state.lock().unwrap().seen
    }

    pub fn fired(&self) -> bool {
        self.state.lock().unwrap().fired
    }
}

/// A line that starts a command: mailduty's tags are `m` and a number.
fn is_command(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"m") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && rest.get(digits) == Some(&b' ')
}

fn cut_pipe(client: TcpStream, server_port: u16, state: Arc<Mutex<CutState>>) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
        return;
    };
    let generation = state.lock().unwrap().generation;
    let mute = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut from_server = server.try_clone().unwrap();
    let mut to_client = client.try_clone().unwrap();
    let m = mute.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 16384];
        loop {
            match from_server.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if m.load(std::sync::atomic::Ordering::SeqCst) {
                        continue;
                    }
                    if to_client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to_client.shutdown(std::net::Shutdown::Both);
    });
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut to_server = server;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let mut cut = None;
        if is_command(&line) {
            let mut s = state.lock().unwrap();
            if s.generation != generation {
                // An earlier run's connection: passes uncounted.
                drop(s);
                if to_server.write_all(&line).is_err() {
                    break;
                }
                continue;
            }
            s.seen += 1;
            if s.at != 0 && s.seen == s.at && !s.fired {
                s.fired = true;
                cut = Some(s.how);
            }
        }
        match cut {
            Some(Cut::Before) => break,
            Some(Cut::After) => {
                mute.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = to_server.write_all(&line);
                // Let the server carry the command out before the line goes dead;
                // a literal that follows it never arrives, as after a crash.
                std::thread::sleep(Duration::from_millis(300));
                break;
            }
            None => {}
        }
        if to_server.write_all(&line).is_err() {
            break;
        }
    }
    let _ = to_server.shutdown(std::net::Shutdown::Both);
    let _ = client.shutdown(std::net::Shutdown::Both);
}

/// How `NoKeywords` treats a STORE of a keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordStore {
    /// Accepted and forgotten, as RFC 3501 allows a server without `\*`.
    Ignored,
    /// Answered NO, as some such servers do.
    Refused,
}

/// A relay that makes the server look like one without custom keywords (Exchange):
/// PERMANENTFLAGS and FLAGS lose `\*` and every keyword, keywords in STORE and APPEND
/// never reach the server (or the STORE is refused).
pub struct NoKeywords {
    pub port: u16,
}

impl NoKeywords {
    pub fn start(server_port: u16, mode: KeywordStore) -> NoKeywords {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                std::thread::spawn(move || no_keywords_pipe(client, server_port, mode));
            }
        });
        NoKeywords { port }
    }
}

/// The literal length a line announces at its end (`{12}` or `{12+}`).
fn trailing_literal(line: &[u8]) -> Option<usize> {
    let l = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let l = l.strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let d = std::str::from_utf8(&l[open + 1..]).ok()?;
    d.strip_suffix('+').unwrap_or(d).parse().ok()
}

/// Keeps the system flags of a parenthesised list, `\*` dropped too.
fn system_flags(list: &str) -> String {
    list.split_whitespace()
        .filter(|f| f.starts_with('\\') && *f != "\\*")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Rewrites the first `(`…`)` after `from` with `system_flags`; whether a flag went.
fn strip_list(line: &str, from: usize) -> (String, bool) {
    let Some(open) = line[from..].find('(').map(|i| i + from) else {
        return (line.to_string(), false);
    };
    let Some(close) = line[open..].find(')').map(|i| i + open) else {
        return (line.to_string(), false);
    };
    let inner = &line[open + 1..close];
    let kept = system_flags(inner);
    let dropped = kept.split_whitespace().count() != inner.split_whitespace().count();
    (
        format!("{}({kept}){}", &line[..open], &line[close + 1..]),
        dropped,
    )
}

fn no_keywords_pipe(client: TcpStream, server_port: u16, mode: KeywordStore) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
        return;
    };
    let to_client = Arc::new(Mutex::new(client.try_clone().unwrap()));
    let tc = to_client.clone();
    // Refused STOREs go to the server as NOOP, whose tagged OK turns into the NO, so
    // answers keep the order of the commands.
    let refused: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
    let refused_s = refused.clone();
    let server_in = server.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut r = BufReader::new(server_in);
        let mut line = Vec::new();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line).to_string();
            let tag = text.split(' ').next().unwrap_or("").to_string();
            let out = if refused_s.lock().unwrap().remove(&tag) {
                format!("{tag} NO [CANNOT] Keywords are not supported\r\n").into_bytes()
            } else if let Some(at) = text.find("[PERMANENTFLAGS (") {
                strip_list(&text, at).0.into_bytes()
            } else if text.starts_with("* FLAGS (") {
                strip_list(&text, 0).0.into_bytes()
            } else {
                line.clone()
            };
            let mut c = tc.lock().unwrap();
            if c.write_all(&out).is_err() {
                break;
            }
            if let Some(n) = trailing_literal(&line) {
                let mut buf = vec![0u8; n];
                if std::io::Read::read_exact(&mut r, &mut buf).is_err()
                    || c.write_all(&buf).is_err()
                {
                    break;
                }
            }
        }
        let _ = tc.lock().unwrap().shutdown(std::net::Shutdown::Both);
    });
    let mut r = BufReader::new(client);
    let mut to_server = server;
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let literal = trailing_literal(&line);
        let text = String::from_utf8_lossy(&line).to_string();
        let upper = text.to_ascii_uppercase();
        let mut out = line.clone();
        if let Some(at) = upper.find(" STORE ") {
            let (rewritten, dropped) = strip_list(&text, at);
            if dropped && mode == KeywordStore::Refused {
                let tag = text.split_whitespace().next().unwrap_or("*").to_string();
                out = format!("{tag} NOOP\r\n").into_bytes();
                refused.lock().unwrap().insert(tag);
            } else {
                out = rewritten.into_bytes();
            }
        } else if let Some(at) = upper.find(" APPEND ") {
            // The flag list comes before the date and the literal.
            if upper[at..].contains('(') {
                out = strip_list(&text, at).0.into_bytes();
            }
        }
        if to_server.write_all(&out).is_err() {
            break;
        }
        if let Some(n) = literal {
            let mut buf = vec![0u8; n];
            if std::io::Read::read_exact(&mut r, &mut buf).is_err()
                || to_server.write_all(&buf).is_err()
            {
                break;
            }
        }
    }
    let _ = to_server.shutdown(std::net::Shutdown::Both);
}

/// A line edit of `Rewrite`.
pub type Edit = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The test's side of `hold_at`.
pub struct Hold {
    reached: std::sync::mpsc::Receiver<()>,
    go: std::sync::mpsc::Sender<()>,
}

/// An `up` edit of `Rewrite` that stops the first client line `at` picks until the
/// test calls `release`: the test acts on the server at that instant.
pub fn hold_at(at: impl Fn(&str) -> bool + Send + Sync + 'static) -> (Edit, Hold) {
    let (reach, reached) = std::sync::mpsc::channel::<()>();
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let (reach, wait) = (Mutex::new(reach), Mutex::new(wait));
    let once = std::sync::atomic::AtomicBool::new(false);
    let edit: Edit = Arc::new(move |l: &str| {
        if at(l) && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
            reach.lock().unwrap().send(()).unwrap();
            wait.lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(60))
                .unwrap();
        }
        l.to_string()
    });
    (edit, Hold { reached, go })
}

impl Hold {
    /// Waits until the held line has come.
    pub fn reached(&self) {
        self.reached.recv_timeout(Duration::from_secs(120)).unwrap();
    }

    /// Lets the held line go on to the server.
    pub fn release(&self) {
        self.go.send(()).unwrap();
    }
}

/// A relay that rewrites lines on their way: the client's (`up`) and the server's
/// (`down`), one line at a time; a literal a line announces passes unchanged. An
/// edit may also block (the test acting on the server at that instant).
pub struct Rewrite {
    pub port: u16,
}

impl Rewrite {
    pub fn start(server_port: u16, up: Edit, down: Edit) -> Rewrite {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { break };
                let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
                    continue;
                };
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (up, down) = (up.clone(), down.clone());
                std::thread::spawn(move || rewrite_pipe(client, server, &up));
                std::thread::spawn(move || rewrite_pipe(s2, c2, &down));
            }
        });
        Rewrite { port }
    }
}

fn rewrite_pipe(from: TcpStream, mut to: TcpStream, edit: &Edit) {
    let mut r = BufReader::new(from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let literal = trailing_literal(&line);
        let out = match std::str::from_utf8(&line) {
            Ok(text) => edit(text).into_bytes(),
            Err(_) => line.clone(),
        };
        if to.write_all(&out).is_err() {
            break;
        }
        if let Some(n) = literal {
            let mut buf = vec![0u8; n];
            if std::io::Read::read_exact(&mut r, &mut buf).is_err() || to.write_all(&buf).is_err() {
                break;
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}
