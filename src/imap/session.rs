//! The session: TCP and TLS (with a hint for each kind of certificate failure),
//! STARTTLS, sign-in by LOGIN or SASL, the capabilities and namespace read in the same
//! round trips, and LOGOUT. Calls only the connection (`conn`), `auth` and `syntax`.

use super::*;

pub(super) fn tls_connector(acct: &ImapAccount) -> Result<native_tls::TlsConnector> {
    let mut b = native_tls::TlsConnector::builder();
    if let Some(ca) = &acct.ca_file {
        let pem = std::fs::read(ca)
            .with_context(|| format!("imap.ca_file: cannot read {}", ca.display()))?;
        let cert = native_tls::Certificate::from_pem(&pem).map_err(|e| {
            crate::error::config(format!(
                "imap.ca_file: {} is not a PEM certificate: {e}",
                ca.display()
            ))
        })?;
        b.add_root_certificate(cert);
    }
    Ok(b.build()?)
}

pub(super) fn handshake(acct: &ImapAccount, tcp: TcpStream) -> Result<Stream> {
    let connector = tls_connector(acct)?;
    match connector.connect(&acct.host, tcp) {
        Ok(s) => Ok(Stream::Tls(Box::new(s))),
        Err(native_tls::HandshakeError::Failure(e)) => Err(anyhow!(
            "TLS with {}:{} failed: {e}\n{}",
            acct.host,
            acct.port,
            tls_hint(&e.to_string(), &acct.host)
        )),
        Err(native_tls::HandshakeError::WouldBlock(_)) => {
            bail!("TLS handshake with {} timed out", acct.host)
        }
    }
}

/// What to do about a failed TLS handshake, from the verifier's reason (OpenSSL's
/// names for X509_V_ERR_*): only an unknown issuer is fixed by imap.ca_file.
pub(super) fn tls_hint(error: &str, host: &str) -> String {
    let e = error.to_ascii_lowercase();
    if e.contains("certificate has expired") {
        return "The server's certificate has expired: the server needs a new one (imap.ca_file does not help).".into();
    }
    if e.contains("certificate is not yet valid") {
        return "The server's certificate is not valid yet: check the clocks of this machine and the server.".into();
    }
    if e.contains("hostname mismatch") || e.contains("ip address mismatch") {
        return format!(
            "The server's certificate is not for {host}: set imap.host to a name the certificate lists (imap.ca_file does not help)."
        );
    }
    if e.contains("unable to get local issuer")
        || e.contains("self-signed")
        || e.contains("self signed")
        || e.contains("unable to verify the first certificate")
        || e.contains("unable to get issuer")
    {
        return "The certificate's issuer is not trusted here: if the server uses a private CA, set imap.ca_file to its certificate; certificates are always verified.".into();
    }
    "Certificates are always verified; check the server's TLS set-up.".into()
}

impl Mailbox {
    /// Connects and logs in. `claimed` is the configured 対応中 folder: its subfolders
    /// are listed in the same round trip as LOGIN, for the first `children` call.
    /// With `list_sent`, the `\Sent` folder is listed in that round trip as well, for
    /// `sent_folder`.
    pub fn connect(
        acct: &ImapAccount,
        claimed: &str,
        list_sent: bool,
        verbose: bool,
    ) -> Result<Mailbox> {
        // Secrets first: a missing password or sign-in is a config error found
        // before connecting.
        let mut sign_in = match &acct.auth {
            Auth::Password(secret) => SignIn::Password(resolve_secret(secret, "imap")?),
            Auth::OAuth2(o) => SignIn::Token(o, signin::access_token(o, &acct.user, false)?),
        };
        let addrs: Vec<_> = (acct.host.as_str(), acct.port)
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve IMAP host {}", acct.host))?
            .collect();
        let mut last = None;
        let mut tcp = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(15)) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            anyhow!(
                "cannot connect to IMAP server {}:{}: {}",
                acct.host,
                acct.port,
                last.map(|e| e.to_string())
                    .unwrap_or_else(|| "no address".into())
            )
        })?;
        tcp.set_read_timeout(Some(Duration::from_secs(120)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(120)))?;
        tcp.set_nodelay(true)?;

        let greeting;
        let mut conn = match acct.tls {
            TlsMode::Implicit => {
                let mut c = Conn::new(handshake(acct, tcp)?, verbose);
                greeting = c.read_greeting()?;
                c
            }
            TlsMode::Starttls => {
                let mut c = Conn::new(Stream::Plain(tcp), verbose);
                c.read_greeting()?;
                // What the server offered before TLS is not what it offers after
                // (RFC 3501 §6.2.1; Dovecot hides AUTH=XOAUTH2 until TLS): the sign-in
                // then goes without knowing the mechanisms.
                greeting = Vec::new();
                let done = c.run_each("STARTTLS", |_| {})?;
                if done.status != Status::Ok {
                    bail!(
                        "the IMAP server {} refused STARTTLS: {}",
                        acct.host,
                        done.text
                    );
                }
                let Stream::Plain(tcp) = c.into_stream() else {
                    unreachable!()
                };
                Conn::new(handshake(acct, tcp)?, verbose)
            }
            TlsMode::None => {
                let mut c = Conn::new(Stream::Plain(tcp), verbose);
                greeting = c.read_greeting()?;
                c
            }
        };

        let mut caps = BTreeSet::new();
        let done = match &mut sign_in {
            SignIn::Password(password) => {
                let cmd = format!("LOGIN {} {}", quote(&acct.user), quote(password));
                let shown = format!("LOGIN {} <password hidden>", quote(&acct.user));
                // LOGIN goes alone: Courier hands the connection to a new process after
                // LOGIN and drops whatever came in the same write, so pipelining starts
                // only after LOGIN's OK.
                let mut dones = conn.pipeline_shown(&[(cmd.as_bytes(), &shown)], |_, r| {
                    collect_caps(r, &mut caps)
                })?;
                let done = dones.remove(0);
                if done.status != Status::Ok {
                    bail!(
                        "IMAP login as {} on {} failed: {}\nCheck the password that imap.password_* gives.",
                        acct.user,
                        acct.host,
                        done.text
                    );
                }
                done
            }
            SignIn::Token(o, token) => {
                authenticate(&mut conn, acct, o, token, &greeting, &mut caps)?
            }
        };
        if let Some(code) = &done.code
            && let Some(list) = code.strip_prefix("CAPABILITY ")
        {
            caps = list
                .split_whitespace()
                .map(|s| s.to_ascii_uppercase())
                .collect();
        }
        // NAMESPACE and the LIST of the member folders go together (with CAPABILITY
        // when the list before login was short, as on Dovecot and Exchange) to save
        // round trips. A server without NAMESPACE says BAD, and the separator then
        // comes from LIST; the pattern does not depend on the prefix or separator it
        // will report.
        let listing = list_cmd(&format!("*{}*", claimed.replace('/', "*")));
        let ask_caps = !caps.contains("IMAP4REV1");
        if ask_caps {
            caps.clear();
        }
        let mut cmds: Vec<(&[u8], &str)> =
            vec![(b"NAMESPACE", "NAMESPACE"), (listing.as_bytes(), &listing)];
        // The Sent folder is asked for here too when the caller will read it and the
        // server already said it can mark it; else `sent_folder` asks later.
        let ask_sent = list_sent && caps.contains("LIST-EXTENDED");
        if ask_sent {
            cmds.push((SPECIAL_USE_LIST.as_bytes(), SPECIAL_USE_LIST));
        }
        if ask_caps {
            cmds.push((b"CAPABILITY", "CAPABILITY"));
        }
        let (mut ns_lines, mut listed, mut sent) = (Vec::new(), Vec::new(), Vec::new());
        // Lines are sorted by what they are, not by the command still awaited: the
        // server may run these side by side. The `\Sent` listing adds nothing wrong to
        // `listed`, which is only read below the member folders' parent.
        let mut dones = conn
            .pipeline_shown(&cmds, |_, r| {
                if r.starts_with(b"* NAMESPACE") {
                    ns_lines.push(r.to_vec());
                } else if let Some(f) = folder_info(r) {
                    if ask_sent && f.sent && f.selectable {
                        sent.push(f.name.clone());
                    }
                    listed.push(f);
                } else {
                    collect_caps(r, &mut caps);
                }
            })?
            .into_iter();
        let (Some(ns_done), Some(list_done)) = (dones.next(), dones.next()) else {
            bail!("the IMAP server answered fewer commands than were sent");
        };
        let prelisted_sent = if ask_sent {
            let Some(done) = dones.next() else {
                bail!("the IMAP server answered fewer commands than were sent");
            };
            (done.status == Status::Ok).then(|| pick_sent(sent))
        } else {
            None
        };
        if let Some(cap_done) = dones.next()
            && cap_done.status != Status::Ok
        {
            bail!("{}", conn::describe_failure("CAPABILITY", &cap_done));
        }
        let namespace = (ns_done.status == Status::Ok).then_some(ns_lines);
        let mut mb = Mailbox {
            conn,
            caps,
            prefix: String::new(),
            inbox: "INBOX".to_string(),
            sep: '/',
            selected: None,
            highest_modseq: None,
            prelisted: (list_done.status == Status::Ok).then_some(listed),
            prelisted_sent,
            host: acct.host.clone(),
            login: acct.user.clone(),
            keeps: Default::default(),
            creatable: BTreeSet::new(),
        };
        mb.read_namespace(namespace.clone())?;
        if let Some(owner) = &acct.shared_mailbox {
            mb.enter_shared(owner, &acct.user, namespace.as_deref().unwrap_or_default())?;
        }
        Ok(mb)
    }

    /// Runs one command; also returns the response codes of its untagged OKs (where
    /// Dovecot puts a MOVE's COPYUID).
    pub(super) fn run_with_codes(&mut self, cmd: &str) -> Result<(conn::Done, Vec<String>)> {
        let mut codes = Vec::new();
        let done = self.conn.run_each(cmd, |r| {
            let text = String::from_utf8_lossy(r);
            if let Some(rest) = text.strip_prefix("* OK ")
                && let (Some(code), _) = conn::split_code(rest.trim_end())
            {
                codes.push(code);
            }
        })?;
        Ok((done, codes))
    }

    /// The personal namespace's prefix and separator, from the NAMESPACE answer that
    /// came with LOGIN, else from `LIST "" ""`.
    pub(super) fn read_namespace(&mut self, namespace: Option<Vec<Vec<u8>>>) -> Result<()> {
        if let Some(lines) = namespace {
            let mut found = None;
            for l in &lines {
                if let Some(ns) = parse_namespace(&String::from_utf8_lossy(l)) {
                    found = Some(ns);
                }
            }
            if let Some((prefix, sep)) = found {
                self.prefix = prefix;
                if let Some(sep) = sep {
                    self.sep = sep;
                    return Ok(());
                }
            }
        }
        let (lines, _) = self.conn.run_ok("LIST \"\" \"\"")?;
        for l in &lines {
            if let Ok((_, Response::MailboxData(MailboxDatum::List { delimiter, .. }))) =
                parse_response(l)
                && let Some(d) = delimiter.and_then(|d| d.chars().next())
            {
                self.sep = d;
            }
        }
        Ok(())
    }

    pub fn logout(mut self) {
        let _ = self.conn.send_only("LOGOUT");
        if self.conn.verbose() {
            eprintln!(
                "mailduty: {} bytes read from the IMAP server",
                conn::BYTES_READ.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_hints_name_the_cause() {
        let h = tls_hint("certificate verify failed: (certificate has expired)", "h");
        assert!(
            h.contains("expired") && !h.contains("set imap.ca_file"),
            "{h}"
        );
        let h = tls_hint("certificate verify failed: (Hostname mismatch)", "mail.x");
        assert!(
            h.contains("not for mail.x") && !h.contains("set imap.ca_file"),
            "{h}"
        );
        let h = tls_hint("(IP address mismatch)", "127.0.0.1");
        assert!(h.contains("not for 127.0.0.1"), "{h}");
        let h = tls_hint("(unable to get local issuer certificate)", "h");
        assert!(h.contains("set imap.ca_file"), "{h}");
        let h = tls_hint("(self-signed certificate in certificate chain)", "h");
        assert!(h.contains("set imap.ca_file"), "{h}");
        assert!(!tls_hint("handshake failure", "h").contains("ca_file"));
    }
}
