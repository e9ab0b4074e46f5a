//! The shared mailbox reached with a member's own login (the other users' namespace,
//! RFC 2342) and its access control lists (RFC 4314): MYRIGHTS, GETACL, SETACL and
//! DELETEACL. A missing right often looks like success (flags dropped silently), so
//! rights are read, not inferred from an OK.

use anyhow::{Result, bail};

use super::conn::{Status, quote};
use super::{Mailbox, mutf7, parse_quoted};

/// The sections of a NAMESPACE answer: personal, other users', shared; each a list
/// of (prefix, separator).
pub(super) fn namespace_sections(line: &str) -> [Vec<(String, Option<char>)>; 3] {
    let mut out: [Vec<(String, Option<char>)>; 3] = Default::default();
    let Some(mut rest) = line.strip_prefix("* NAMESPACE ") else {
        return out;
    };
    for section in out.iter_mut() {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("NIL") {
            rest = r;
            continue;
        }
        let Some(r) = rest.strip_prefix('(') else {
            return out;
        };
        rest = r;
        // Each namespace: ("prefix" "sep" [extensions]) — extensions are skipped.
        while let Some(r) = rest.trim_start().strip_prefix('(') {
            let Some((prefix, r)) = parse_quoted(r.trim_start()) else {
                return out;
            };
            let r = r.trim_start();
            let (sep, mut r) = if let Some(r) = r.strip_prefix("NIL") {
                (None, r)
            } else {
                match parse_quoted(r) {
                    Some((s, r)) => (s.chars().next(), r),
                    None => return out,
                }
            };
            // Skip to the namespace's closing parenthesis, past any extension data.
            let mut depth = 1;
            let mut in_quote = false;
            let mut chars = r.char_indices();
            let mut end = r.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' if in_quote => {
                        chars.next();
                    }
                    '"' => in_quote = !in_quote,
                    '(' if !in_quote => depth += 1,
                    ')' if !in_quote => {
                        depth -= 1;
                        if depth == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            r = &r[end.min(r.len())..];
            section.push((prefix, sep));
            rest = r;
        }
        rest = rest.trim_start().strip_prefix(')').unwrap_or(rest);
    }
    out
}

/// What a member may do in one folder, as MYRIGHTS or GETACL gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights(pub String);

impl Rights {
    pub fn has_all(&self, wanted: &str) -> bool {
        wanted.chars().all(|c| self.0.contains(c))
    }
}

impl Mailbox {
    /// Makes the shared mailbox `owner` this session's root: its folders are found
    /// below the other users' (or the shared) namespace, e.g. `shared/support/`.
    pub(super) fn enter_shared(
        &mut self,
        owner: &str,
        login: &str,
        namespace: &[Vec<u8>],
    ) -> Result<()> {
        let mut roots = Vec::new();
        for l in namespace {
            let [_, others, shared] = namespace_sections(&String::from_utf8_lossy(l));
            roots.extend(others);
            roots.extend(shared);
        }
        if roots.is_empty() {
            bail!(
                "signed in as {login}, but {} shows no other users' or shared namespace: the server does not share mailboxes (sign_in: shared works without)",
                self.host
            );
        }
        let local = owner.split('@').next().unwrap_or(owner);
        let mut names = vec![owner.to_string()];
        if local != owner {
            names.push(local.to_string());
        }
        for (prefix, sep) in &roots {
            let sep = sep.unwrap_or(self.sep);
            for name in &names {
                let root = format!("{prefix}{name}{sep}");
                if !self.list(&format!("{root}*"))?.is_empty() {
                    self.prefix = root.clone();
                    self.inbox = format!("{root}INBOX");
                    self.sep = sep;
                    // The LIST made with LOGIN looked for member folders before the
                    // root was known.
                    self.prelisted = None;
                    return Ok(());
                }
            }
        }
        bail!(
            "signed in as {login}, the server shares no folder of {owner} with you: ask the mailbox owner to run `mailduty init` (it grants members their rights)"
        )
    }

    /// This login's rights on each folder (MYRIGHTS, pipelined); a folder it cannot
    /// see at all has no rights.
    pub fn my_rights(&mut self, folders: &[String]) -> Result<Vec<Rights>> {
        let cmds: Vec<String> = folders
            .iter()
            .map(|f| format!("MYRIGHTS {}", quote(&mutf7::encode(f))))
            .collect();
        let mut found: Vec<Option<String>> = vec![None; folders.len()];
        let dones = self.conn.pipeline(&cmds, |k, r| {
            let text = String::from_utf8_lossy(r);
            if let Some(rest) = text.trim_end().strip_prefix("* MYRIGHTS ") {
                let rights = rest.rsplit(' ').next().unwrap_or("").to_string();
                if let Some(slot) = found.get_mut(k) {
                    *slot = Some(rights);
                }
            }
        })?;
        Ok(dones
            .iter()
            .zip(found)
            .map(|(d, r)| {
                Rights(if d.status == Status::Ok {
                    r.unwrap_or_default()
                } else {
                    String::new()
                })
            })
            .collect())
    }

    /// Every (identifier, rights) pair of each folder's ACL (GETACL, pipelined). A
    /// folder whose GETACL fails gives an error naming it.
    pub fn acls(&mut self, folders: &[String]) -> Result<Vec<Vec<(String, Rights)>>> {
        let cmds: Vec<String> = folders
            .iter()
            .map(|f| format!("GETACL {}", quote(&mutf7::encode(f))))
            .collect();
        let mut found: Vec<Vec<(String, Rights)>> = vec![Vec::new(); folders.len()];
        let dones = self.conn.pipeline(&cmds, |k, r| {
            let text = String::from_utf8_lossy(r).trim_end().to_string();
            if let Some(rest) = text.strip_prefix("* ACL ") {
                let mut words = acl_words(rest).into_iter().skip(1);
                while let (Some(id), Some(rights)) = (words.next(), words.next()) {
                    if let Some(slot) = found.get_mut(k) {
                        slot.push((id, Rights(rights)));
                    }
                }
            }
        })?;
        for (f, d) in folders.iter().zip(&dones) {
            if d.status != Status::Ok {
                bail!(
                    "GETACL {f} failed: {} (mailduty init runs as the mailbox owner or an admin)",
                    crate::output::line(&d.text)
                );
            }
        }
        Ok(found)
    }

    /// Sets (Some) or deletes (None) `login`'s rights on each folder, pipelined.
    pub fn set_rights(&mut self, changes: &[(String, String, Option<String>)]) -> Result<()> {
        let cmds: Vec<String> = changes
            .iter()
            .map(|(folder, login, rights)| {
                let f = quote(&mutf7::encode(folder));
                match rights {
                    Some(r) => format!("SETACL {f} {} {}", quote(login), quote(r)),
                    None => format!("DELETEACL {f} {}", quote(login)),
                }
            })
            .collect();
        let dones = self.conn.pipeline(&cmds, |_, _| {})?;
        for ((folder, login, _), d) in changes.iter().zip(&dones) {
            if d.status != Status::Ok {
                bail!(
                    "changing {login}'s rights on {folder} failed: {}",
                    crate::output::line(&d.text)
                );
            }
        }
        Ok(())
    }
}

/// The words of an ACL response: atoms and quoted strings (mailbox names may be either).
fn acl_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('"') {
            match parse_quoted(rest) {
                Some((w, r)) => {
                    out.push(w);
                    rest = r.trim_start();
                }
                None => break,
            }
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest[..end].to_string());
            rest = rest[end..].trim_start();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces() {
        let [p, o, s] = namespace_sections(r#"* NAMESPACE (("" "/")) (("shared/" "/")) NIL"#);
        assert_eq!(p, vec![(String::new(), Some('/'))]);
        assert_eq!(o, vec![("shared/".to_string(), Some('/'))]);
        assert!(s.is_empty());
        let [_, o, s] = namespace_sections(
            r##"* NAMESPACE (("INBOX." ".")) (("#shared." "." "X-EXT" ("a" "b"))) (("Other Users/" "/")("Shared Folders/" "/"))"##,
        );
        assert_eq!(o[0].0, "#shared.");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].0, "Shared Folders/");
        // Hostile input gives up quietly.
        let _ = namespace_sections("* NAMESPACE ((\"x");
        let _ = namespace_sections("* NAMESPACE (((((");
    }

    #[test]
    fn acl_lines() {
        assert_eq!(
            acl_words(r#""shared/a b" tanaka lrswite "odd id" lr"#),
            vec!["shared/a b", "tanaka", "lrswite", "odd id", "lr"]
        );
    }
}
