//! Printing views: a table for people, JSON / TSV / bare IDs for scripts.
//! Commands build rows; only this module formats them.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use chrono::{DateTime, Utc};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::cli::Format;
use crate::queue::Item;

/// One row of `list`; its JSON fields are documented in the README and stay stable.
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
}

impl<'a> ListRow<'a> {
    pub fn new(it: &'a Item, now: DateTime<Utc>, overdue: bool) -> Self {
        ListRow {
            id: &it.id,
            message_id: it.message_id.as_deref(),
            status: it.status.as_str(),
            owner: it.owner.as_deref(),
            folder: &it.folder,
            arrived: it
                .arrived
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            age_seconds: (now - it.arrived).num_seconds().max(0),
            overdue,
            from: &it.from,
            from_name: it.from_name.as_deref(),
            subject: &it.subject,
            seen: it.seen,
        }
    }
}

pub fn age(secs: i64) -> String {
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
            serde_json::to_writer_pretty(
                &mut *out,
                &Streamed(std::cell::RefCell::new(Some(rows))),
            )?;
            writeln!(out)?;
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
                    one_line(r.from),
                    one_line(r.subject).replace('\t', " ")
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
                let a = age(r.age_seconds) + if r.overdue { " !" } else { "" };
                let age_cell = if r.overdue {
                    Cell::new(a).fg(Color::Red)
                } else {
                    Cell::new(a)
                };
                t.add_row(vec![
                    Cell::new(r.id),
                    Cell::new(r.status),
                    Cell::new(r.owner.unwrap_or("-")),
                    age_cell,
                    Cell::new(one_line(&from)),
                    Cell::new(one_line(r.subject)),
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
