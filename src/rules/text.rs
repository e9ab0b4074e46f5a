//! Small text helpers the rules and their callers share: durations (`2h`, `3d`),
//! did-you-mean suggestions, a key's line in the file, loopback hosts, XDG folders.

use super::*;

/// A per-user base directory: `$var` (XDG base directory spec), else `$HOME/fallback`.
pub fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| Path::new(&h).join(fallback))
        })
}

pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Longest duration accepted, 36500d: beyond it date arithmetic overflows.
pub const MAX_DURATION_SECS: u64 = 36500 * 86400;

/// `4h`, `30m`, `2d`, `1h30m`, `90s`, at most 36500d.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => return None,
        };
        total = n.checked_mul(unit)?.checked_add(total)?;
    }
    if !num.is_empty() || total > MAX_DURATION_SECS {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// The closest candidate by edit distance, when close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

pub(super) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Finds the line and column of a key path in block or flow YAML, e.g.
/// `["members", "tanaka", "email"]`. A heuristic for messages, not a parser.
pub fn locate(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0;
    let mut parent: Option<(usize, usize)> = None;
    let mut found = None;
    for key in keys {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if let Some((pline, pindent)) = parent
                && i != pline
                && indent <= pindent
            {
                break;
            }
            let content = line.split(" #").next().unwrap_or("");
            let skip = if parent.is_some_and(|(pl, _)| pl == i) {
                found.map_or(0, |(_, c): (usize, usize)| c)
            } else {
                0
            };
            if let Some(col) = find_key(&content[skip.min(content.len())..], key) {
                hit = Some((i, col + skip, indent));
                break;
            }
        }
        let (i, col, indent) = hit?;
        found = Some((i + 1, col + 1));
        // A key that opens a flow mapping keeps its children on the same line.
        from = if lines[i][col..].contains('{') {
            i
        } else {
            i + 1
        };
        parent = Some((i, indent));
    }
    found
}

pub(super) fn find_key(line: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return find_key(line, "\"\"").or_else(|| find_key(line, "''"));
    }
    let mut start = 0;
    while let Some(pos) = line[start..].find(key) {
        let at = start + pos;
        let before = line[..at].chars().last();
        let after = &line[at + key.len()..];
        let quoted = matches!(before, Some('"' | '\'')) && after.starts_with(['"', '\'']);
        let after = if quoted { &after[1..] } else { after };
        let boundary =
            before.is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '"' | '\''));
        if boundary && after.starts_with(':') {
            return Some(if quoted { at - 1 } else { at });
        }
        start = at + key.len();
    }
    None
}
