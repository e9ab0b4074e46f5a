//! One IMAP connection: tagged commands out, whole responses (with literals) in.
//!
//! Written on top of imap-proto's parser rather than the `imap` crate because the
//! queue needs things that crate hides: the tagged line's response code
//! (`[MODIFIED]`, `[COPYUID]`), untagged codes after MOVE, streaming of large FETCH
//! results, a count of round trips, and a verbose log that never shows a password.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use std::time::Duration;

use anyhow::{Context, Result, bail};

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

/// Bytes read from IMAP servers by this process (after TLS), for the `-v` summary
/// and the benchmark.
pub static BYTES_READ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }?;
        BYTES_READ.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// The tagged completion of a command.
#[derive(Debug)]
pub struct Done {
    pub status: Status,
    /// The bracketed response code without brackets, e.g. `MODIFIED 7`.
    pub code: Option<String>,
    pub text: String,
}

impl Done {
    pub fn code_is(&self, atom: &str) -> bool {
        self.code
            .as_deref()
            .and_then(|c| c.split_whitespace().next())
            .is_some_and(|a| a.eq_ignore_ascii_case(atom))
    }
}

pub struct Conn {
    io: BufReader<Stream>,
    tag: u32,
    verbose: bool,
    /// Commands sent, for the benchmark's round-trip count.
    pub sent: u32,
}

impl Conn {
    pub fn new(stream: Stream, verbose: bool) -> Self {
        Conn {
            io: BufReader::new(stream),
            tag: 0,
            verbose,
            sent: 0,
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    pub fn into_stream(self) -> Stream {
        self.io.into_inner()
    }

    pub fn read_greeting(&mut self) -> Result<Vec<u8>> {
        let line = self.read_response()?;
        if !line.starts_with(b"* OK") && !line.starts_with(b"* PREAUTH") {
            bail!(
                "the server did not greet as an IMAP server: {}",
                crate::output::line(
                    String::from_utf8_lossy(&line[..line.len().min(200)]).trim_end()
                )
            );
        }
        Ok(line)
    }

    /// Reads one complete response, following `{n}` literals. Nothing the server
    /// says is trusted for a size: lines and literals are capped, and a literal's
    /// buffer grows only with bytes that actually arrive.
    fn read_response(&mut self) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        loop {
            let start = buf.len();
            let n = (&mut self.io)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .context("reading from the IMAP server")?;
            if n == 0 {
                bail!("the IMAP server closed the connection");
            }
            if n > MAX_LINE || buf.last() != Some(&b'\n') {
                if n > MAX_LINE {
                    bail!(
                        "the IMAP server sent a line longer than {} MiB; giving up on it",
                        MAX_LINE >> 20
                    );
                }
                bail!("the IMAP server closed the connection in the middle of a line");
            }
            if self.verbose {
                let line = String::from_utf8_lossy(&buf[start..]);
                eprintln!("S: {}", crate::output::line(line.trim_end()));
            }
            match literal_len(&buf[start..]) {
                Literal::None => return Ok(buf),
                Literal::TooLong(digits) => bail!(
                    "the IMAP server announced a literal of {digits} bytes, more than the {} MiB limit; giving up on it",
                    MAX_LITERAL >> 20
                ),
                Literal::Len(len) => {
                    if buf.len() + len > MAX_RESPONSE {
                        bail!(
                            "the IMAP server sent a response larger than {} MiB; giving up on it",
                            MAX_RESPONSE >> 20
                        );
                    }
                    let got = (&mut self.io)
                        .take(len as u64)
                        .read_to_end(&mut buf)
                        .context("reading from the IMAP server")?;
                    if got < len {
                        bail!("the IMAP server closed the connection in the middle of a literal");
                    }
                }
            }
        }
    }

    /// Writes commands in one go, each logged as its `shown` text (which hides a
    /// password, or a literal's bytes), and returns their tags.
    fn send(&mut self, cmds: &[(&[u8], &str)]) -> Result<Vec<String>> {
        let mut tags = Vec::with_capacity(cmds.len());
        let mut batch = Vec::new();
        for (cmd, shown) in cmds {
            let tag = self.next_tag();
            if self.verbose {
                eprintln!("C: {tag} {}", crate::output::line(shown));
            }
            batch.extend_from_slice(tag.as_bytes());
            batch.push(b' ');
            batch.extend_from_slice(cmd);
            batch.extend_from_slice(b"\r\n");
            tags.push(tag);
        }
        let s = self.io.get_mut();
        s.write_all(&batch)?;
        s.flush().context("writing to the IMAP server")?;
        self.sent += cmds.len() as u32;
        Ok(tags)
    }

    /// Reads the answers to `tags`; `each` gets every untagged response with the index
    /// of the first command whose tagged line is still awaited. Tagged lines may come
    /// out of order: Dovecot runs commands that do not conflict at the same time and
    /// can finish a STATUS sent behind a SEARCH first.
    fn answers(
        &mut self,
        tags: &[String],
        mut each: impl FnMut(usize, &[u8]),
    ) -> Result<Vec<Done>> {
        let mut out: Vec<Option<Done>> = tags.iter().map(|_| None).collect();
        let mut first = 0;
        while first < tags.len() {
            if out[first].is_some() {
                first += 1;
                continue;
            }
            let resp = self.read_response()?;
            if resp.starts_with(b"+") {
                bail!("the IMAP server asked for a continuation that was not expected");
            }
            let tagged = if resp.starts_with(b"* ") {
                None
            } else {
                (first..tags.len())
                    .filter(|&k| out[k].is_none())
                    .find_map(|k| Some((k, parse_tagged(&tags[k], &resp)?)))
            };
            match tagged {
                Some((k, done)) => out[k] = Some(done),
                None => each(first, &resp),
            }
        }
        Ok(out.into_iter().flatten().collect())
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("m{}", self.tag)
    }

    /// Sends a command and hands every untagged response to `each` as it arrives,
    /// so a FETCH of 100,000 messages is never held in memory twice.
    pub fn run_each(&mut self, cmd: &str, mut each: impl FnMut(&[u8])) -> Result<Done> {
        let mut dones = self.pipeline_shown(&[(cmd.as_bytes(), cmd)], |_, r| each(r))?;
        Ok(dones.remove(0))
    }

    /// Sends several commands at once and reads their answers in order: one round trip
    /// for the lot. `each` gets the index of the command whose tagged line is still
    /// awaited. A server may run commands that do not conflict at the same time
    /// (Dovecot answers a FETCH sent behind a STORE before the STORE's tagged line), so
    /// that index names the right command only where a SELECT or EXAMINE separates them.
    pub fn pipeline(
        &mut self,
        cmds: &[String],
        each: impl FnMut(usize, &[u8]),
    ) -> Result<Vec<Done>> {
        let pairs: Vec<(&[u8], &str)> = cmds.iter().map(|c| (c.as_bytes(), c.as_str())).collect();
        self.pipeline_shown(&pairs, each)
    }

    /// Like `pipeline`, each command logged as its `shown` text (LOGIN's password hidden).
    pub fn pipeline_shown(
        &mut self,
        cmds: &[(&[u8], &str)],
        each: impl FnMut(usize, &[u8]),
    ) -> Result<Vec<Done>> {
        let tags = self.send(cmds)?;
        self.answers(&tags, each)
    }

    /// AUTHENTICATE with one client message (`b64`): in the command line with SASL-IR,
    /// else after the server's empty `+`. Any further `+` is the server's failure
    /// challenge: answered with `abort` (then the server says NO), and returned so the
    /// error can show it. The client message is never logged.
    pub fn authenticate(
        &mut self,
        mech: &str,
        b64: &str,
        sasl_ir: bool,
        abort: &str,
        mut each: impl FnMut(&[u8]),
    ) -> Result<(Done, Option<String>)> {
        let shown = format!("AUTHENTICATE {mech} <token hidden>");
        let tag = if sasl_ir {
            let cmd = format!("AUTHENTICATE {mech} {b64}");
            self.send(&[(cmd.as_bytes(), &shown)])?.remove(0)
        } else {
            let cmd = format!("AUTHENTICATE {mech}");
            self.send(&[(cmd.as_bytes(), &cmd)])?.remove(0)
        };
        let mut sent_token = sasl_ir;
        let mut challenge = None;
        let mut answered = 0;
        loop {
            let resp = self.read_response()?;
            if let Some(done) = parse_tagged(&tag, &resp) {
                return Ok((done, challenge));
            }
            if !resp.starts_with(b"+") {
                each(&resp);
                continue;
            }
            let line = if !sent_token {
                sent_token = true;
                if self.verbose {
                    eprintln!("C: <token hidden>");
                }
                b64.to_string()
            } else {
                answered += 1;
                if answered > 1 {
                    // A server that keeps challenging is cancelled (RFC 3501 §6.2.2).
                    "*".to_string()
                } else {
                    let text = String::from_utf8_lossy(&resp[1..]).trim().to_string();
                    challenge = Some(text);
                    if self.verbose {
                        eprintln!("C: {abort}");
                    }
                    abort.to_string()
                }
            };
            if answered > 2 {
                bail!("the IMAP server went on challenging AUTHENTICATE {mech}; giving up");
            }
            let s = self.io.get_mut();
            s.write_all(line.as_bytes())?;
            s.write_all(b"\r\n")?;
            s.flush().context("writing to the IMAP server")?;
        }
    }

    /// Whether the server has sent something, waiting at most `wait`: a response
    /// is then read whole with the usual timeout, so a line is never cut by the wait.
    pub fn has_data_within(&mut self, wait: Duration) -> Result<bool> {
        if !self.io.buffer().is_empty() {
            return Ok(true);
        }
        self.io.get_ref().tcp().set_read_timeout(Some(wait))?;
        let got = self.io.fill_buf().map(|b| !b.is_empty());
        self.io
            .get_ref()
            .tcp()
            .set_read_timeout(Some(Duration::from_secs(120)))?;
        match got {
            Ok(true) => Ok(true),
            Ok(false) => bail!("the IMAP server closed the connection"),
            // A signal landing on this thread interrupts the wait, not the connection.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(anyhow::Error::new(e).context("reading from the IMAP server")),
        }
    }

    /// Sends a tagged command and returns its tag without reading the answer (IDLE).
    pub fn start(&mut self, cmd: &str) -> Result<String> {
        Ok(self.send(&[(cmd.as_bytes(), cmd)])?.remove(0))
    }

    /// Writes an untagged line (IDLE's DONE).
    pub fn write_line(&mut self, line: &str) -> Result<()> {
        if self.verbose {
            eprintln!("C: {line}");
        }
        let s = self.io.get_mut();
        s.write_all(line.as_bytes())?;
        s.write_all(b"\r\n")?;
        s.flush().context("writing to the IMAP server")?;
        Ok(())
    }

    /// The next response, whole.
    pub fn next_response(&mut self) -> Result<Vec<u8>> {
        self.read_response()
    }

    /// Whether `resp` is the tagged end of the command tagged `tag`.
    pub fn ends(tag: &str, resp: &[u8]) -> Option<Done> {
        parse_tagged(tag, resp)
    }

    /// Sends a command without waiting for its answer (LOGOUT: nothing is left to learn).
    pub fn send_only(&mut self, cmd: &str) -> Result<()> {
        self.send(&[(cmd.as_bytes(), cmd)]).map(|_| ())
    }

    /// Runs a command and returns its untagged responses, failing unless it ends in OK.
    pub fn run_ok(&mut self, cmd: &str) -> Result<(Vec<Vec<u8>>, Done)> {
        let mut out = Vec::new();
        let done = self.run_each(cmd, |r| out.push(r.to_vec()))?;
        if done.status != Status::Ok {
            bail!("{}", describe_failure(cmd, &done));
        }
        Ok((out, done))
    }

    /// MULTIAPPEND (RFC 3502) commands, one per group of messages, with
    /// non-synchronising literals (LITERAL+), sent together: each group is stored whole
    /// or not at all.
    pub fn multiappend(
        &mut self,
        mailbox_quoted: &str,
        flags: &str,
        groups: &[&[Vec<u8>]],
    ) -> Result<Vec<Done>> {
        let cmds: Vec<(Vec<u8>, String)> = groups
            .iter()
            .map(|msgs| {
                let mut cmd = format!("APPEND {mailbox_quoted}").into_bytes();
                for m in msgs.iter() {
                    cmd.extend_from_slice(format!(" ({flags}) {{{}+}}\r\n", m.len()).as_bytes());
                    cmd.extend_from_slice(m);
                }
                (
                    cmd,
                    format!("APPEND {mailbox_quoted} <{} messages>", msgs.len()),
                )
            })
            .collect();
        let pairs: Vec<(&[u8], &str)> = cmds
            .iter()
            .map(|(c, h)| (c.as_slice(), h.as_str()))
            .collect();
        self.pipeline_shown(&pairs, |_, _| {})
    }

    /// Several APPENDs with non-synchronising literals (LITERAL+), sent together.
    pub fn append_pipelined(
        &mut self,
        mailbox_quoted: &str,
        flags: &str,
        msgs: &[Vec<u8>],
    ) -> Result<Vec<Done>> {
        let cmds: Vec<(Vec<u8>, String)> = msgs
            .iter()
            .map(|m| {
                let head = format!("APPEND {mailbox_quoted} ({flags}) {{{}+}}", m.len());
                let mut cmd = Vec::with_capacity(head.len() + 2 + m.len());
                cmd.extend_from_slice(head.as_bytes());
                cmd.extend_from_slice(b"\r\n");
                cmd.extend_from_slice(m);
                (cmd, head)
            })
            .collect();
        let pairs: Vec<(&[u8], &str)> = cmds
            .iter()
            .map(|(c, h)| (c.as_slice(), h.as_str()))
            .collect();
        self.pipeline_shown(&pairs, |_, _| {})
    }

    /// APPEND with a synchronising literal, or with LITERAL+ a non-synchronising one
    /// that saves the round trip of waiting for the server's go-ahead.
    pub fn append(
        &mut self,
        mailbox_quoted: &str,
        flags: &str,
        data: &[u8],
        literal_plus: bool,
    ) -> Result<Done> {
        if literal_plus {
            let head = format!("APPEND {mailbox_quoted} ({flags}) {{{}+}}", data.len());
            let mut cmd = Vec::with_capacity(head.len() + 2 + data.len());
            cmd.extend_from_slice(head.as_bytes());
            cmd.extend_from_slice(b"\r\n");
            cmd.extend_from_slice(data);
            let mut dones = self.pipeline_shown(&[(&cmd, &head)], |_, _| {})?;
            return Ok(dones.remove(0));
        }
        let head = format!("APPEND {mailbox_quoted} ({flags}) {{{}}}", data.len());
        let tag = self.send(&[(head.as_bytes(), &head)])?.remove(0);
        let resp = self.read_response()?;
        if !resp.starts_with(b"+") {
            if let Some(done) = parse_tagged(&tag, &resp) {
                return Ok(done);
            }
            bail!(
                "unexpected answer to APPEND: {}",
                String::from_utf8_lossy(&resp).trim_end()
            );
        }
        let s = self.io.get_mut();
        s.write_all(data)?;
        s.write_all(b"\r\n")?;
        s.flush()?;
        loop {
            let resp = self.read_response()?;
            if let Some(done) = parse_tagged(&tag, &resp) {
                return Ok(done);
            }
        }
    }
}

pub fn describe_failure(cmd: &str, done: &Done) -> String {
    let verb: String = cmd.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    format!(
        "the IMAP server refused {verb}: {}{}",
        done.code
            .as_ref()
            .map(|c| format!("[{c}] "))
            .unwrap_or_default(),
        done.text
    )
}

/// The longest line (outside literals) taken from a server: a SEARCH answer naming a
/// few million UIDs still fits.
const MAX_LINE: usize = 64 << 20;
/// The largest literal: far above any message a mail server stores.
const MAX_LITERAL: usize = 1 << 30;
/// The largest whole response (a FETCH of one message with its literals).
const MAX_RESPONSE: usize = 1 << 30;

#[derive(Debug, PartialEq, Eq)]
enum Literal {
    None,
    Len(usize),
    /// Over the cap (or over any integer): the digits as sent, for the error.
    TooLong(String),
}

fn literal_len(line: &[u8]) -> Literal {
    let Some(line) = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
    else {
        return Literal::None;
    };
    let Some(line) = line.strip_suffix(b"}") else {
        return Literal::None;
    };
    let Some(open) = line.iter().rposition(|&b| b == b'{') else {
        return Literal::None;
    };
    let Ok(digits) = std::str::from_utf8(&line[open + 1..]) else {
        return Literal::None;
    };
    let digits = digits.strip_suffix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Literal::None;
    }
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_LITERAL => Literal::Len(n),
        _ => {
            let shown: String = digits.chars().take(40).collect();
            Literal::TooLong(shown)
        }
    }
}

fn parse_tagged(tag: &str, resp: &[u8]) -> Option<Done> {
    let text = String::from_utf8_lossy(resp);
    let rest = text.strip_prefix(tag)?.strip_prefix(' ')?;
    let (status, rest) = rest.split_once(' ').unwrap_or((rest.trim_end(), ""));
    let status = match status.to_ascii_uppercase().as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        _ => Status::Bad,
    };
    let (code, text) = split_code(rest.trim_end());
    Some(Done { status, code, text })
}

/// Splits `[CODE args] text` into the code and the text.
pub fn split_code(rest: &str) -> (Option<String>, String) {
    if let Some(inner) = rest.strip_prefix('[')
        && let Some(end) = inner.find(']')
    {
        return (
            Some(inner[..end].to_string()),
            inner[end + 1..].trim().to_string(),
        );
    }
    (None, rest.to_string())
}

/// Quotes a (mUTF-7, hence ASCII) mailbox name or other string for a command.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_lengths() {
        assert_eq!(literal_len(b"* 1 FETCH (BODY[] {12}\r\n"), Literal::Len(12));
        assert_eq!(
            literal_len(b"* 1 FETCH (BODY[] {12+}\r\n"),
            Literal::Len(12)
        );
        assert_eq!(literal_len(b"* OK done\r\n"), Literal::None);
        assert_eq!(literal_len(b"* OK {}\r\n"), Literal::None);
        assert_eq!(literal_len(b"* OK {-1}\r\n"), Literal::None);
        assert_eq!(
            literal_len(b"* OK {18446744073709551615}\r\n"),
            Literal::TooLong("18446744073709551615".into())
        );
        assert_eq!(
            literal_len(b"* OK {99999999999999999999999999}\r\n"),
            Literal::TooLong("99999999999999999999999999".into())
        );
    }

    #[test]
    fn tagged_codes() {
        let d = parse_tagged("m3", b"m3 OK [MODIFIED 7] Conditional store failed\r\n").unwrap();
        assert_eq!(d.status, Status::Ok);
        assert!(d.code_is("MODIFIED"));
        assert_eq!(d.text, "Conditional store failed");
        assert!(parse_tagged("m3", b"m31 OK x\r\n").is_none());
        let d = parse_tagged(
            "m4",
            b"m4 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
        )
        .unwrap();
        assert_eq!(d.status, Status::No);
        assert!(d.code_is("AUTHENTICATIONFAILED"));
    }

    #[test]
    fn tagged_lines_out_of_order_are_each_given_to_their_command() {
        use std::io::{BufRead, BufReader};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            let mut w = sock.try_clone().unwrap();
            let mut r = BufReader::new(sock);
            for _ in 0..3 {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
            }
            // As Dovecot did: the STATUSes sent behind a SEARCH finish first.
            w.write_all(
                b"* SEARCH 4\r\n* STATUS a (UIDNEXT 5)\r\nm2 OK status\r\n\
                  * STATUS b (UIDNEXT 6)\r\nm3 OK status\r\nm1 OK search\r\n",
            )
            .unwrap();
        });
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut c = Conn::new(Stream::Plain(tcp), false);
        let cmds = ["UID SEARCH ALL", "STATUS a (UIDNEXT)", "STATUS b (UIDNEXT)"].map(String::from);
        let mut untagged = Vec::new();
        let dones = c
            .pipeline(&cmds, |i, r| {
                untagged.push((i, String::from_utf8_lossy(r).trim_end().to_string()))
            })
            .unwrap();
        server.join().unwrap();
        let texts: Vec<&str> = dones.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["search", "status", "status"]);
        assert_eq!(untagged.len(), 3, "{untagged:?}");
        assert!(untagged.iter().all(|(_, r)| r.starts_with("* ")));
    }
}
