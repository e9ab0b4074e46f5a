//! Printing views: a table for people, JSON / TSV / bare IDs for scripts.
//! Commands build rows; only this module formats them. At the bottom: every layer
//! may use `line` and `text` to make text from mail safe, and it imports no other
//! module of mailduty.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

/// How `list` prints: `Table` for people, the rest for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Tsv,
    /// One ID a line, for xargs or `claim -`
    Ids,
}

/// One row of `list`; its JSON fields are documented in docs/reference.md and stay stable.
#[derive(Debug, Serialize)]
pub struct ListRow<'a> {
    pub id: &'a str,
    pub message_id: Option<&'a str>,
    pub status: &'static str,
    pub owner: Option<&'a str>,
    pub folder: &'a str,
    pub arrived: String,
    pub age_seconds: i64,
    pub overdue: bool,
    pub from: &'a str,
    pub from_name: Option<&'a str>,
    pub subject: &'a str,
    pub seen: bool,
    /// A reply was sent (found in Sent, or marked \Answered by a mail client).
    pub replied: bool,
    /// The replies recorded, oldest first.
    pub replies: Vec<ReplyView>,
    /// Two or more people replied with no customer message between (二重対応).
    pub double_reply: bool,
    /// Held mail: when `rotate --apply` gives it back (null: when someone does, or
    /// the customer writes).
    pub held_until: Option<String>,
    /// Dismissed mail: why (the automated reason and header, or the note given).
    pub reason: Option<&'a str>,
}

/// One reply in `list`'s JSON.
#[derive(Debug, Serialize)]
pub struct ReplyView {
    pub at: String,
    pub replier: String,
    pub message_id: Option<String>,
}

pub fn age(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Characters that a terminal acts on instead of showing, or that make text look
/// other than it is: C0 and C1 controls (ESC starts colour, cursor moves and OSC 8
/// links; BEL rings; CSI is U+009B), DEL, the Unicode line and paragraph separators
/// and the bidirectional overrides and isolates.
fn acts_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(c: char, out: &mut String) {
    use std::fmt::Write as _;
    let _ = match c {
        '\r' => write!(out, "\\r"),
        '\n' => write!(out, "\\n"),
        c if (c as u32) < 0x80 => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

/// Text from mail or a server, made safe to print on one line of a terminal: a tab
/// becomes a space, every other character a terminal would act on is shown as an
/// escape (`\x1b`, `\r`, `\n`, `\u{9b}`), so a Subject cannot colour the screen,
/// hide a link, or print a line break that looks like a header of its own.
pub fn line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            c if acts_on_terminal(c) => escape(c, &mut out),
            c => out.push(c),
        }
    }
    out.into()
}

/// Text of several lines from mail (a body) made safe for a terminal: line breaks
/// (CR LF, LF) and tabs stay, a bare CR and everything else a terminal acts on is
/// shown as an escape, as in `line`.
pub fn text(s: &str) -> std::borrow::Cow<'_, str> {
    let keeps = |c: char| c == '\n' || c == '\t';
    if !s.chars().any(|c| acts_on_terminal(c) && !keeps(c)) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            c if keeps(c) => out.push(c),
            c if acts_on_terminal(c) => escape(c, &mut out),
            c => out.push(c),
        }
    }
    out.into()
}

/// Pretty JSON for scripts. serde_json escapes C0 controls only; a C1 control or a
/// bidirectional override in a Subject would reach a terminal that shows the JSON,
/// so those are written as `\uXXXX` too.
pub fn json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *out,
        SafeJson(serde_json::ser::PrettyFormatter::new()),
    );
    value.serialize(&mut ser)?;
    writeln!(out)?;
    Ok(())
}

struct SafeJson<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for SafeJson<'_> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut from = 0;
        for (i, c) in fragment.char_indices() {
            if acts_on_terminal(c) {
                w.write_all(&fragment.as_bytes()[from..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                from = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[from..])
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Rows made one at a time as they are written: at 100,000 messages a list of them
/// would cost as much memory again as a fifth of the queue.
struct Streamed<I>(std::cell::RefCell<Option<I>>);

impl<'a, I: Iterator<Item = ListRow<'a>>> serde::Serialize for Streamed<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0.borrow_mut().take() {
            Some(rows) => s.collect_seq(rows),
            None => s.collect_seq(std::iter::empty::<ListRow<'a>>()),
        }
    }
}

pub fn print_list<'a>(
    rows: impl Iterator<Item = ListRow<'a>>,
    format: Format,
    out: &mut dyn Write,
) -> Result<()> {
    // Stdout is line-buffered: 100,000 rows of pretty JSON would be a write per line.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
    let out = &mut out;
    match format {
        Format::Json => {
            json(&mut *out, &Streamed(std::cell::RefCell::new(Some(rows))))?;
        }
        Format::Ids => {
            for r in rows {
                writeln!(out, "{}", r.id)?;
            }
        }
        Format::Tsv => {
            writeln!(
                out,
                "id\tstatus\towner\tage_seconds\toverdue\tfrom\tsubject"
            )?;
            for r in rows {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.id,
                    r.status,
                    r.owner.unwrap_or(""),
                    r.age_seconds,
                    r.overdue,
                    line(r.from),
                    line(r.subject)
                )?;
            }
        }
        Format::Table => {
            let rows: Vec<ListRow<'_>> = rows.collect();
            if rows.is_empty() {
                writeln!(out, "no messages")?;
                return Ok(());
            }
            let mut t = Table::new();
            t.load_preset(presets::NOTHING);
            if !colour() {
                t.force_no_tty();
            }
            if std::io::stdout().is_terminal() {
                t.set_content_arrangement(ContentArrangement::Dynamic);
            } else {
                t.set_content_arrangement(ContentArrangement::Disabled);
            }
            t.set_header(vec!["ID", "STATUS", "OWNER", "AGE", "FROM", "SUBJECT"]);
            for r in &rows {
                let from = r
                    .from_name
                    .map(|n| format!("{n} <{}>", r.from))
                    .unwrap_or_else(|| r.from.to_string());
                let mark = match (r.overdue, r.double_reply, r.replied) {
                    (true, _, _) => " !",
                    (_, true, _) => " ↩↩",
                    (_, _, true) => " ↩",
                    _ => "",
                };
                let a = age(r.age_seconds) + mark;
                let age_cell = if r.overdue || r.double_reply {
                    Cell::new(a).fg(Color::Red)
                } else {
                    Cell::new(a)
                };
                t.add_row(vec![
                    Cell::new(r.id),
                    Cell::new(r.status),
                    Cell::new(line(r.owner.unwrap_or("-"))),
                    age_cell,
                    Cell::new(line(&from)),
                    Cell::new(line(r.subject)),
                ]);
            }
            for line in t.to_string().lines() {
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Asks on the terminal (stderr) and reads one line from stdin.
pub fn ask(prompt: &str) -> Result<String> {
    use std::io::BufRead;
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut s = String::new();
    std::io::stdin().lock().read_line(&mut s)?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

/// Like `ask`, with the terminal's echo off while the answer is typed: a password
/// never shows on the screen (nor in a terminal's scrollback).
pub fn ask_secret(prompt: &str) -> Result<String> {
    #[cfg(target_os = "linux")]
    {
        use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        if let Ok(saved) = tcgetattr(&stdin) {
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            let _ = tcsetattr(&stdin, OptionalActions::Flush, &quiet);
            let answer = ask(prompt);
            let _ = tcsetattr(&stdin, OptionalActions::Flush, &saved);
            eprintln!();
            return answer;
        }
    }
    ask(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_escapes_what_a_terminal_obeys() {
        assert_eq!(line("件名 plain"), "件名 plain");
        assert_eq!(
            line("a\r\nFake: 1\x1b[31m\x07\u{9b}2J\rb\tc\x7f\u{202e}"),
            "a\\r\\nFake: 1\\x1b[31m\\x07\\u{9b}2J\\rb c\\x7f\\u{202e}"
        );
        assert_eq!(
            line("\x1b]8;;http://x/\x1b\\t\x1b]8;;\x1b\\"),
            "\\x1b]8;;http://x/\\x1b\\t\\x1b]8;;\\x1b\\"
        );
    }

    #[test]
    fn a_body_keeps_its_lines_and_tabs() {
        assert_eq!(text("a\r\n\tb\nc"), "a\n\tb\nc");
        assert_eq!(text("a\rb\x1b[2J\u{85}"), "a\\rb\\x1b[2J\\u{85}");
    }

    #[test]
    fn json_escapes_c1_and_overrides_and_reads_back() {
        let s = "x\u{9b}y\u{202e}z\x1b\"";
        let mut out = Vec::new();
        json(&mut out, &serde_json::json!({ "s": s, "n": [1, 2] })).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("x\\u009by\\u202ez\\u001b\\\""), "{text}");
        assert!(
            !text.chars().any(|c| acts_on_terminal(c) && c != '\n'),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["s"], s);
        assert_eq!(back["n"][1], 2);
    }
}
