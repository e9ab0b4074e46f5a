//! Duplicate keys, found before the YAML parser: serde_yaml keeps the last of two
//! equal map keys without a word, and reports a repeated struct field at 1:1. A
//! heuristic over block mappings and one-line flow mappings, which is what rules
//! files are written in; it never rejects a key that is not repeated in one mapping.

use std::collections::HashMap;

#[derive(Debug, PartialEq, Eq)]
pub struct Duplicate {
    pub line: usize,
    pub column: usize,
    /// The key with its parents, dotted: `members.tanaka`.
    pub path: String,
    pub first_line: usize,
}

struct Frame {
    indent: usize,
    path: Vec<String>,
    keys: HashMap<String, usize>,
    last: Option<String>,
}

pub fn duplicate_key(text: &str) -> Option<Duplicate> {
    let mut stack: Vec<Frame> = Vec::new();
    // A block scalar (`|`, `>`) runs while lines are indented deeper than its key.
    let mut scalar_above: Option<usize> = None;
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut indent = raw.len() - trimmed.len();
        if let Some(k) = scalar_above {
            if indent > k {
                continue;
            }
            scalar_above = None;
        }
        if trimmed.starts_with("---") || trimmed.starts_with("...") {
            stack.clear();
            continue;
        }
        let mut rest = trimmed;
        let mut item = false;
        while let Some(r) = rest
            .strip_prefix("- ")
            .or(if rest == "-" { Some("") } else { None })
        {
            let r2 = r.trim_start();
            indent += rest.len() - r2.len();
            rest = r2;
            item = true;
        }
        while stack
            .last()
            .is_some_and(|f| f.indent > indent || (item && f.indent == indent))
        {
            stack.pop();
        }
        let Some((key, after)) = block_key(rest) else {
            continue;
        };
        if stack.last().is_none_or(|f| f.indent < indent) {
            let mut path = stack.last().map(|f| f.path.clone()).unwrap_or_default();
            if let Some(parent) = stack.last().and_then(|f| f.last.clone()) {
                path.push(parent);
            }
            stack.push(Frame {
                indent,
                path,
                keys: HashMap::new(),
                last: None,
            });
        }
        let top = stack.last_mut().expect("pushed above");
        let mut path = top.path.clone();
        path.push(key.clone());
        if let Some(first) = top.keys.get(&key) {
            return Some(Duplicate {
                line: line_no,
                column: indent + 1,
                path: path.join("."),
                first_line: *first,
            });
        }
        top.keys.insert(key.clone(), line_no);
        top.last = Some(key);
        let value = after.trim();
        if value.starts_with('|') || value.starts_with('>') {
            scalar_above = Some(indent);
        } else if value.starts_with('{') || value.starts_with('[') {
            let col = raw.len() - after.trim_start().len();
            if let Some((k, c)) = flow_duplicate(value) {
                path.push(k);
                return Some(Duplicate {
                    line: line_no,
                    column: col + c + 1,
                    path: path.join("."),
                    first_line: line_no,
                });
            }
        }
    }
    None
}

/// `key: rest` at the start of a line (plain or quoted key).
fn block_key(s: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(q @ ('"' | '\'')) = s.chars().next() {
        let end = s[1..].find(q)? + 1;
        (s[1..end].to_string(), &s[end + 1..])
    } else {
        if s.starts_with(['{', '[', '#', '&', '*', '!', '|', '>']) {
            return None;
        }
        let colon = s
            .find(": ")
            .or_else(|| s.ends_with(':').then(|| s.len() - 1))?;
        let key = &s[..colon];
        if key.contains(" #") {
            return None;
        }
        (key.trim_end().to_string(), &s[colon..])
    };
    let rest = rest.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest))
}

/// A key given twice in one flow mapping on this line, with its byte column.
fn flow_duplicate(s: &str) -> Option<(String, usize)> {
    // One entry per open bracket: the keys seen when it is a mapping.
    let mut open: Vec<Option<HashMap<String, ()>>> = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if let Some(q) = quote {
            if c == '\\' && q == '"' {
                i += 1;
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '#' if i > 0 && b[i - 1] == b' ' => break,
            '{' => {
                open.push(Some(HashMap::new()));
                start = Some(i + 1);
            }
            '[' => {
                open.push(None);
                start = None;
            }
            '}' | ']' => {
                open.pop();
                start = None;
            }
            ',' => start = matches!(open.last(), Some(Some(_))).then_some(i + 1),
            ':' if start.is_some() && b.get(i + 1).is_none_or(|n| *n == b' ' || *n == b',') => {
                let from = start.take().expect("checked");
                let raw = &s[from..i];
                let key = raw.trim().trim_matches(['"', '\'']).to_string();
                let col = from + (raw.len() - raw.trim_start().len());
                if let Some(Some(keys)) = open.last_mut()
                    && keys.insert(key.clone(), ()).is_some()
                {
                    return Some((key, col));
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_and_flow() {
        let d = duplicate_key("a:\n  b: 1\n  c: |\n    b: text\n  b: 2\n").unwrap();
        assert_eq!(
            (d.line, d.column, d.path.as_str(), d.first_line),
            (5, 3, "a.b", 2)
        );
        assert_eq!(duplicate_key("a:\n  b: 1\nc:\n  b: 1\n"), None);
        assert_eq!(duplicate_key("l:\n  - x: 1\n    y: 2\n  - x: 3\n"), None);
        let d = duplicate_key("l:\n  - x: 1\n    x: 2\n").unwrap();
        assert_eq!((d.line, d.path.as_str()), (3, "l.x"));
        let d = duplicate_key("m: { a: 1, b: {a: 2}, a: 3 }\n").unwrap();
        assert_eq!((d.line, d.column, d.path.as_str()), (1, 23, "m.a"));
        assert_eq!(
            duplicate_key("m: [{a: 1}, {a: 2}]\nn: \"x: 1, x: 2\"\n"),
            None
        );
        assert_eq!(duplicate_key("url: http://x\nurl2: a:b\n"), None);
    }
}
