//! `check`: the rules file validated offline.

use std::path::Path;

use anyhow::Result;

use crate::rules;

pub fn run(path: &Path, quiet: bool) -> Result<()> {
    let loaded = rules::load(path)?;
    let secrets = crate::rules::notify::source_warnings(&loaded.rules.notify);
    for w in loaded.warnings.iter().chain(&secrets) {
        eprintln!("mailduty: warning: {}", crate::output::line(w));
    }
    if !quiet {
        let r = &loaded.rules;
        println!(
            "{}: OK ({} members; IMAP {}:{} as {}; folders {} / {} / {} / {} / {} / {})",
            path.display(),
            r.members.len(),
            r.imap.host,
            r.imap.port,
            r.imap.user,
            r.folders.unclaimed,
            r.folders.claimed,
            r.folders.held,
            r.folders.done,
            r.folders.dismissed,
            r.folders.history
        );
        match &r.folders.sent {
            Some(f) => println!("sent mail: read from {f} (folders.sent)"),
            None => println!(
                "sent mail: no folders.sent; the folder the server marks \\Sent is used (`mailduty init` shows it); servers without SPECIAL-USE, such as Courier, need folders.sent (e.g. INBOX.Sent)"
            ),
        }
    }
    Ok(())
}
