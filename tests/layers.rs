//! The source's rooms: imports run one way, from the commands down to IMAP and the
//! pure modules (docs/design.md, "Where the code lives"), and no file grows past ~800
//! lines without saying why. Read from the source text, so a new import that goes up,
//! a new module left out of the table, or a long file without a reason fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module of the library and its rank: a module may import only
/// modules of a lower rank (never one of its own rank or above).
const RANKS: &[(&str, u32)] = &[
    // The commands: parse, call below, print a view.
    ("cmd", 10),
    ("cli", 9),
    ("complete", 8),
    // What goes out: the digest by mail, chat deliveries.
    ("mail", 7),
    ("digest", 6),
    ("notify", 6),
    // The desk: status folders, the queue, the history, every move.
    ("desk", 5),
    // The one door to the server.
    ("imap", 4),
    ("signin", 3),
    // The rules and the pure modules below them.
    ("rules", 2),
    ("roster", 1),
    ("automated", 1),
    ("https", 1),
    ("secret", 1),
    ("calendar", 0),
    ("output", 0),
    ("error", 0),
];

/// Imports a rank allows that still skip a layer: the commands and what goes out
/// reach the server only through the desk.
const THROUGH_THE_DESK: &[(&str, &str)] = &[
    ("cmd", "imap"),
    ("cli", "imap"),
    ("complete", "imap"),
    ("mail", "imap"),
    ("digest", "imap"),
    ("notify", "imap"),
];

/// What only `src/imap/` may write: IMAP commands.
const IMAP_WORDS: &[&str] = &[
    "\"UID ",
    "BODY.PEEK[",
    "\"SELECT ",
    "\"EXAMINE ",
    "\"APPEND ",
];

/// Lines a source file may have before its `//!` must say why it is one file.
const LONG: usize = 800;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module a source file belongs to (`src/desk/take.rs` → `desk`).
fn top(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap();
    let first = rel.components().next().unwrap().as_os_str();
    first.to_string_lossy().trim_end_matches(".rs").to_string()
}

/// Every top-level module a file names with `crate::x` or `crate::{x, …}`.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A nested group closes at its matching brace.
            let mut depth = 1;
            let mut end = 0;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = k;
                    break;
                }
            }
            let mut depth = 0;
            let mut start = true;
            for (k, c) in group[..end].char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        let name: String = group[k..]
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        found.push(name);
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn the_import_parser_reads_groups_and_paths() {
    assert_eq!(
        imports("use crate::desk::queue::{Item, Status};\nlet x = crate::output::line(s);"),
        ["desk", "output"]
    );
    assert_eq!(
        imports("use crate::{cli::{A, B}, rules::{self, Rules}, error};"),
        ["cli", "rules", "error"]
    );
}

#[test]
fn every_module_has_a_rank() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let ranks: BTreeMap<_, _> = RANKS.iter().copied().collect();
    let mut missing = Vec::new();
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("pub mod ").or(line.strip_prefix("mod ")) {
            let m = m.trim_end_matches(';');
            if !ranks.contains_key(m) {
                missing.push(m.to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a layer in tests/layers.rs RANKS: {missing:?}"
    );
}

#[test]
fn imports_run_from_the_commands_down() {
    let ranks: BTreeMap<_, _> = RANKS.iter().copied().collect();
    // lib.rs's own items (the version line) are the crate's root: anyone may use them.
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let from = top(f);
        let Some(&rank) = ranks.get(from.as_str()) else {
            continue; // lib.rs and main.rs sit above everything
        };
        let text = std::fs::read_to_string(f).unwrap();
        for to in imports(&text) {
            if to == from {
                continue;
            }
            match ranks.get(to.as_str()) {
                Some(_) if THROUGH_THE_DESK.contains(&(from.as_str(), to.as_str())) => {
                    wrong.push(format!(
                        "{} imports {to}: {from} reaches the server through the desk",
                        f.display()
                    ))
                }
                Some(&r) if r < rank => {}
                Some(_) => wrong.push(format!(
                    "{} imports {to}: {from} is not above {to}",
                    f.display()
                )),
                None if lib.contains(&format!("pub fn {to}(")) => {}
                None => wrong.push(format!("{} imports crate::{to}: not a module", f.display())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn imap_commands_are_written_only_under_src_imap() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut found = Vec::new();
    for f in &files {
        if top(f) == "imap" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for w in IMAP_WORDS {
            if text.contains(w) {
                found.push(format!("{} writes {w}", f.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "IMAP outside src/imap/:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_long_file_says_why_it_is_one_file() {
    let mut files = Vec::new();
    sources(&src(), &mut files);
    let mut unexplained = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines = text.lines().count();
        let says_why = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .any(|l| l.contains("One file because"));
        if lines > LONG && !says_why {
            unexplained.push(format!("{} ({lines} lines)", f.display()));
        }
    }
    assert!(
        unexplained.is_empty(),
        "files over {LONG} lines whose //! does not say \"One file because …\":\n{}",
        unexplained.join("\n")
    );
}

/// Every `src/…` path the pages name (in backticks) is a file or folder that exists,
/// so a page cannot point a newcomer at a room that has moved.
#[test]
fn pages_name_only_source_paths_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = ["README.md", "CONTRIBUTING.md", "BENCHMARKS.md"]
        .iter()
        .map(|p| root.join(p))
        .collect();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    walk(&root.join("docs"), &mut pages);
    let mut named = 0;
    let mut missing = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for span in text.split('`').skip(1).step_by(2) {
            if span.starts_with("src/") && !span.contains(' ') {
                named += 1;
                if !root.join(span.trim_end_matches('/')).exists() {
                    missing.push(format!("{}: `{span}`", page.display()));
                }
            }
        }
    }
    assert!(
        named > 10,
        "only {named} source paths found: the scan is broken"
    );
    assert!(
        missing.is_empty(),
        "pages name source paths that do not exist:\n{}",
        missing.join("\n")
    );
}
