//! The checked-in man page and example rules must match what the code says.
//! Regenerate the man page with `MAILDUTY_UPDATE_DOCS=1 cargo test --test docs`.

use clap::CommandFactory;

/// The date the man page carries; bump it with the version.
const DATE: &str = "2026-11-21";

/// Every generated file: the main man page, one page per subcommand, and the
/// completion scripts for bash, zsh and fish.
fn generated() -> Vec<(String, Vec<u8>)> {
    let cmd = mailduty::cli::Cli::command();
    let render = |c: clap::Command| {
        let mut buf = Vec::new();
        clap_mangen::Man::new(c)
            .date(DATE)
            .source(concat!("mailduty ", env!("CARGO_PKG_VERSION")))
            .manual("mailduty manual")
            .render(&mut buf)
            .unwrap();
        // clap_mangen puts an empty line between two .br before "Possible values",
        // which mandoc -Tlint warns about; one paragraph break says the same.
        String::from_utf8(buf)
            .unwrap()
            .replace(".br\n\n.br\n", ".sp\n")
            .into_bytes()
    };
    let mut out = vec![("man/mailduty.1".to_string(), render(cmd.clone()))];
    for sub in cmd.get_subcommands() {
        let name = format!("mailduty-{}", sub.get_name());
        let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
        let page = sub.clone().name(leaked).version(env!("CARGO_PKG_VERSION"));
        out.push((format!("man/{name}.1"), render(page)));
    }
    for (shell, file) in [
        (clap_complete::Shell::Bash, "completions/mailduty.bash"),
        (clap_complete::Shell::Zsh, "completions/_mailduty"),
        (clap_complete::Shell::Fish, "completions/mailduty.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut cmd.clone(), "mailduty", &mut buf);
        out.push((file.to_string(), buf));
    }
    out
}

#[test]
fn man_pages_and_completions_match_the_code() {
    let root = env!("CARGO_MANIFEST_DIR");
    let update = std::env::var_os("MAILDUTY_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (rel, content) in generated() {
        let path = format!("{root}/{rel}");
        if update {
            std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
        }
        if std::fs::read(&path).unwrap_or_default() != content {
            stale.push(rel);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from the code; run MAILDUTY_UPDATE_DOCS=1 cargo test --test docs and commit them"
    );
    let main = std::fs::read_to_string(format!("{root}/man/mailduty.1")).unwrap();
    assert!(main.contains("Exit codes") && main.contains("MAILDUTY_RULES"));
    let rotate = std::fs::read_to_string(format!("{root}/man/mailduty-rotate.1")).unwrap();
    assert!(rotate.contains("\\-\\-apply"), "{rotate}");
}

#[test]
fn completion_scripts_know_the_commands() {
    for (rel, content) in generated()
        .iter()
        .filter(|(r, _)| r.starts_with("completions/"))
    {
        let text = String::from_utf8_lossy(content);
        for word in ["claim", "rotate", "history", "overdue"] {
            assert!(text.contains(word), "{rel} lacks {word}");
        }
    }
}

#[test]
fn example_rules_pass_check() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mailduty"))
        .args([
            "check",
            "--rules",
            concat!(env!("CARGO_MANIFEST_DIR"), "/rules.example.yaml"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_command_has_help_with_an_example() {
    let cmd = mailduty::cli::Cli::command();
    for sub in cmd.get_subcommands() {
        assert!(
            sub.get_about().is_some(),
            "{} has no summary",
            sub.get_name()
        );
        let after = sub
            .get_after_help()
            .map(|s| s.to_string())
            .unwrap_or_default();
        assert!(
            after.contains("mailduty "),
            "{} has no example",
            sub.get_name()
        );
    }
}

// ---------------------------------------------------------------------------
// The pages people read: every command, flag and rules key they name must exist.

/// Every page of documentation the drift test reads. `docs/` is also searched, so a
/// new page there is checked without being added here.
const PAGES: &[&str] = &[
    "README.md",
    "CONTRIBUTING.md",
    "docs/admin.md",
    "docs/reference.md",
    "docs/design.md",
    "docs/ja/guide.md",
];

/// The longest the front door may grow.
const README_MAX_LINES: usize = 180;

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// PAGES plus every `.md` under `docs/`, as paths relative to the repository.
fn pages() -> Vec<String> {
    fn walk(dir: &std::path::Path, rel: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if e.path().is_dir() {
                walk(&e.path(), &rel, out);
            } else if name.ends_with(".md") {
                out.push(rel);
            }
        }
    }
    let mut all: Vec<String> = PAGES.iter().map(|s| s.to_string()).collect();
    walk(&root().join("docs"), "docs", &mut all);
    all.sort();
    all.dedup();
    all
}

fn read_page(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The code in a Markdown page: fenced blocks (info string, first line number, lines)
/// and inline code spans (line number of their paragraph, text). A span may run over
/// a line break, so spans are read per paragraph.
struct Code {
    blocks: Vec<(String, usize, Vec<String>)>,
    spans: Vec<(usize, String)>,
}

fn code_of(text: &str) -> Code {
    let mut blocks = Vec::new();
    let mut spans = Vec::new();
    let mut fence: Option<(String, usize, Vec<String>)> = None;
    let mut para = String::new();
    let mut para_line = 0;
    let flush = |para: &mut String, line: usize, spans: &mut Vec<(usize, String)>| {
        spans.extend(inline_spans(para).into_iter().map(|s| (line, s)));
        para.clear();
    };
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match fence.take() {
                Some(b) => blocks.push(b),
                None => {
                    flush(&mut para, para_line, &mut spans);
                    fence = Some((info.trim().to_string(), n + 1, Vec::new()));
                }
            }
            continue;
        }
        if let Some((_, _, lines)) = fence.as_mut() {
            lines.push(line.to_string());
            continue;
        }
        if t.is_empty() {
            flush(&mut para, para_line, &mut spans);
            continue;
        }
        if para.is_empty() {
            para_line = n;
        }
        para.push_str(line);
        para.push(' ');
    }
    assert!(fence.is_none(), "a code block is not closed");
    flush(&mut para, para_line, &mut spans);
    Code { blocks, spans }
}

/// Inline code spans of one paragraph (runs of 1 or 2 backticks, CommonMark style).
fn inline_spans(p: &str) -> Vec<String> {
    let b = p.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'`' {
            i += 1;
            continue;
        }
        let mut run = 0;
        while i + run < b.len() && b[i + run] == b'`' {
            run += 1;
        }
        let start = i + run;
        let tick = "`".repeat(run);
        match p[start..].find(&tick) {
            Some(len) => {
                out.push(p[start..start + len].trim().to_string());
                i = start + len + run;
            }
            None => i = start,
        }
    }
    out
}

/// What the command line accepts: per subcommand, its long and short flags and the
/// possible values of each flag that has a fixed set.
struct Flags {
    global: Vec<clap::Arg>,
    subs: std::collections::BTreeMap<String, Vec<clap::Arg>>,
}

fn flags() -> Flags {
    let cmd = mailduty::cli::Cli::command();
    let global: Vec<clap::Arg> = cmd.get_arguments().cloned().collect();
    let subs = cmd
        .get_subcommands()
        .map(|s| {
            (
                s.get_name().to_string(),
                s.get_arguments().cloned().collect(),
            )
        })
        .collect();
    Flags { global, subs }
}

fn find_arg<'a>(args: &'a [clap::Arg], flag: &str) -> Option<&'a clap::Arg> {
    args.iter().find(|a| match flag.strip_prefix("--") {
        Some(long) => a.get_long() == Some(long),
        None => flag.len() == 2 && a.get_short() == flag.chars().nth(1),
    })
}

/// Problems in one command line, written in a page: `words` is the line split at
/// whitespace; every `mailduty` in it is checked up to a pipe, `;`, `&&` or comment.
fn check_command_line(f: &Flags, words: &[&str], problems: &mut Vec<String>) {
    let clean = |w: &str| {
        w.trim_matches(|c: char| matches!(c, '"' | '\'' | ',' | ')' | '(' | '`' | '.' | ':'))
            .to_string()
    };
    let always = ["--help", "-h", "--version", "-V"];
    let mut i = 0;
    while i < words.len() {
        if words[i] != "mailduty" {
            i += 1;
            continue;
        }
        i += 1;
        // Global options before the subcommand.
        while i < words.len() && words[i].starts_with('-') && words[i] != "-" {
            let w = words[i].split('=').next().unwrap();
            match find_arg(&f.global, w) {
                Some(a) if a.get_action().takes_values() && !words[i].contains('=') => i += 2,
                Some(_) => i += 1,
                None if always.contains(&w) => i += 1,
                None => {
                    problems.push(format!("`mailduty {w}`: no such global flag"));
                    i += 1;
                }
            }
        }
        let Some(sub) = words.get(i) else { break };
        // Only a plain lowercase word is a subcommand; `<command>`, `(…` and the like
        // are prose or placeholders, and `mailduty mailduty` is `sudo -u mailduty`.
        if *sub == "mailduty" || !sub.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            continue;
        }
        i += 1;
        let Some(args) = f.subs.get(*sub) else {
            problems.push(format!("`mailduty {sub}`: no such command"));
            continue;
        };
        while i < words.len() {
            let w = words[i];
            if matches!(w, "|" | "||" | "&&" | ";" | ">" | ">>" | "\\")
                || w.starts_with('#')
                || w.starts_with('>')
                || w.starts_with("2>")
            {
                break;
            }
            i += 1;
            if !w.starts_with('-') || w == "-" {
                continue;
            }
            let flag = clean(w.split('=').next().unwrap());
            // `--password-command/-env/-file` style shorthand is not used in pages.
            let Some(a) = find_arg(args, &flag).or_else(|| find_arg(&f.global, &flag)) else {
                if !always.contains(&flag.as_str()) {
                    problems.push(format!("`mailduty {sub} {flag}`: no such flag"));
                }
                continue;
            };
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_string())
                .collect();
            let given = match w.split_once('=') {
                Some((_, v)) => Some(v.to_string()),
                None => words.get(i).map(|v| v.to_string()),
            };
            if let Some(v) = given.filter(|_| !values.is_empty()) {
                for one in clean(&v).split('|') {
                    if !one.is_empty()
                        && one.chars().all(|c| c.is_ascii_lowercase())
                        && !values.iter().any(|x| x == one)
                    {
                        problems.push(format!(
                            "`mailduty {sub} {flag} {one}`: not one of {values:?}"
                        ));
                    }
                }
            }
        }
    }
}

/// One key of a YAML mapping and what is below it.
#[derive(Default, Debug)]
struct Node {
    kids: std::collections::BTreeMap<String, Node>,
}

/// Keys of a flow mapping's inside (`a: 1, b: { c: 2 }`), with their own keys.
fn flow_keys(s: &str, into: &mut Node) {
    let mut depth = 0;
    let mut part = String::new();
    let mut parts = Vec::new();
    for c in s.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut part));
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    parts.push(part);
    for p in parts {
        let Some((k, v)) = p.split_once(':') else {
            continue;
        };
        let k = k.trim();
        if !is_key(k) {
            continue;
        }
        let node = into.kids.entry(k.to_string()).or_default();
        let v = v.trim();
        if let Some(inner) = v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            flow_keys(inner, node);
        }
    }
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The keys of a YAML text by indentation. With `comments`, keys that are commented
/// out (`# oauth2:`, `#   provider: …`) count too, as rules.example.yaml documents
/// optional keys that way; prose comments give no key, or a harmless extra one.
fn yaml_keys(text: &str, comments: bool) -> Node {
    let mut root = Node::default();
    // The path of keys above the current line, with their indentation.
    let mut stack: Vec<(usize, String)> = Vec::new();
    for line in text.lines() {
        let mut col = line.len() - line.trim_start().len();
        let mut rest = line.trim_start();
        while let Some(r) = rest.strip_prefix('#') {
            if !comments {
                rest = "";
                break;
            }
            let r = r.strip_prefix(' ').unwrap_or(r);
            let inner = r.len() - r.trim_start().len();
            // "# " stands where the key would be: the key is that much further left.
            col += inner;
            rest = r.trim_start();
        }
        if let Some(r) = rest.strip_prefix("- ") {
            col += 2;
            rest = r.trim_start();
        }
        let Some((k, v)) = rest.split_once(':') else {
            continue;
        };
        if !is_key(k) || !(v.is_empty() || v.starts_with(' ')) {
            continue;
        }
        // Strip a trailing comment from the value.
        let v = match v.find(" #") {
            Some(p) => &v[..p],
            None => v,
        }
        .trim();
        while stack.last().is_some_and(|(c, _)| *c >= col) {
            stack.pop();
        }
        let mut node = &mut root;
        for (_, key) in &stack {
            node = node.kids.entry(key.clone()).or_default();
        }
        let node = node.kids.entry(k.to_string()).or_default();
        if let Some(inner) = v.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            flow_keys(inner, node);
        }
        stack.push((col, k.to_string()));
    }
    root
}

/// Keys under which any name is allowed (member keys, dates, weekdays).
const ANY_NAME: &[&str] = &["members", "overrides", "weekdays"];

/// Words quoted as `word: value` in pages that are other programs' settings or
/// mailduty's output, not rules keys (Cyrus's imapd.conf, a dismissal's reason).
const NOT_RULES_KEYS: &[&str] = &["altnamespace", "auto_reply"];

/// A secret comes from `X_command`, `X_env` or `X_file`; the example shows one of them
/// as a key and names the others in a comment.
fn secret_siblings(key: &str) -> Vec<String> {
    for suffix in ["_command", "_env", "_file"] {
        if let Some(stem) = key.strip_suffix(suffix) {
            return ["_command", "_env", "_file"]
                .iter()
                .map(|s| format!("{stem}{s}"))
                .collect();
        }
    }
    vec![key.to_string()]
}

/// Whether `path` is below `node` in the example, any name standing for a member.
fn has_path(node: &Node, name: &str, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    let found = secret_siblings(first)
        .iter()
        .filter_map(|k| node.kids.get(k))
        .any(|n| has_path(n, first, rest));
    found || ANY_NAME.contains(&name) && node.kids.values().any(|n| has_path(n, "", rest))
}

/// Every node of the example by name (`oauth2` is under imap and digest.smtp).
fn nodes_named<'a>(node: &'a Node, name: &str, out: &mut Vec<&'a Node>) {
    for (k, n) in &node.kids {
        if k == name {
            out.push(n);
        }
        nodes_named(n, name, out);
    }
}

fn example_keys() -> Node {
    yaml_keys(&read_page("rules.example.yaml"), true)
}

/// Problems with one rules key written in a page as `a.b.c`: a path from the top
/// (`digest.smtp.user`) or from a section named anywhere (`oauth2.token_file`).
fn check_dotted_key(example: &Node, span: &str) -> Option<String> {
    let parts: Vec<&str> = span.split('.').collect();
    if parts.len() < 2 || !parts.iter().all(|p| is_key(p)) {
        return None;
    }
    let ext = [
        "yaml", "yml", "md", "rs", "json", "py", "pem", "db", "bash", "fish", "timer", "service",
        "toml", "tsv", "deb", "txt", "1", "com", "jp", "org", "net",
    ];
    if ext.contains(parts.last().unwrap()) {
        return None;
    }
    if example.kids.contains_key(parts[0]) {
        return (!has_path(example, "", &parts))
            .then(|| format!("rules key `{span}` is not in rules.example.yaml"));
    }
    let mut sections = Vec::new();
    nodes_named(example, parts[0], &mut sections);
    if sections.iter().all(|n| n.kids.is_empty()) {
        return None; // not a section's name: a file name or prose
    }
    (!sections.iter().any(|n| has_path(n, parts[0], &parts[1..])))
        .then(|| format!("rules key `{span}` is not in rules.example.yaml"))
}

/// Every problem in one page's commands, flags and rules keys.
fn page_problems(f: &Flags, example: &Node, text: &str) -> Vec<String> {
    let code = code_of(text);
    let mut problems = Vec::new();
    let mut lines: Vec<(usize, String)> = code.spans.clone();
    for (info, first, block) in &code.blocks {
        for (k, l) in block.iter().enumerate() {
            lines.push((first + k, l.clone()));
        }
        if info == "yaml" {
            let doc = yaml_keys(&block.join("\n"), false);
            let mut paths = Vec::new();
            fn walk(n: &Node, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
                for (k, kid) in &n.kids {
                    at.push(k.clone());
                    out.push(at.clone());
                    walk(kid, at, out);
                    at.pop();
                }
            }
            walk(&doc, &mut Vec::new(), &mut paths);
            for p in paths {
                let p: Vec<&str> = p.iter().map(|s| s.as_str()).collect();
                if !has_path(example, "", &p) {
                    problems.push(format!(
                        "line {first}: yaml key `{}` is not in rules.example.yaml",
                        p.join(".")
                    ));
                }
            }
        }
    }
    for (n, l) in &lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        let mut found = Vec::new();
        check_command_line(f, &words, &mut found);
        // A span that starts with a subcommand (`rotate --apply`) is checked as if
        // `mailduty` came first, when it has a flag.
        if let Some(first) = words.first()
            && f.subs.contains_key(*first)
            && words.iter().skip(1).any(|w| w.starts_with("--"))
            && code.spans.contains(&(*n, l.clone()))
        {
            let mut with = vec!["mailduty"];
            with.extend(&words);
            check_command_line(f, &with, &mut found);
        }
        problems.extend(found.into_iter().map(|p| format!("line {n}: {p}")));
    }
    for (n, s) in &code.spans {
        if let Some(p) = check_dotted_key(example, s) {
            problems.push(format!("line {n}: {p}"));
        }
        // `key: value` names a rules key that must exist somewhere in the example.
        if let Some((k, _)) = s.split_once(": ")
            && is_key(k)
            && !k.contains('-')
            && !NOT_RULES_KEYS.contains(&k)
        {
            let mut at = Vec::new();
            for k in secret_siblings(k) {
                nodes_named(example, &k, &mut at);
            }
            if at.is_empty() {
                problems.push(format!(
                    "line {n}: rules key `{k}:` is not in rules.example.yaml"
                ));
            }
        }
    }
    problems
}

#[test]
fn pages_name_only_commands_flags_and_keys_that_exist() {
    let f = flags();
    let example = example_keys();
    // The parser of the example must see its keys, or the test checks nothing.
    for path in [
        "imap.oauth2.token_file",
        "digest.smtp.oauth2",
        "folders.held",
        "notify.slack.webhook_env",
        "members.anyone.sent_as",
        "archive.history_after",
        "business_hours.days",
    ] {
        let parts: Vec<&str> = path.split('.').collect();
        assert!(has_path(&example, "", &parts), "example lacks {path}");
    }
    let mut all = Vec::new();
    for page in pages() {
        for p in page_problems(&f, &example, &read_page(&page)) {
            all.push(format!("{page}: {p}"));
        }
    }
    assert!(
        all.is_empty(),
        "the docs drifted from the code:\n{}",
        all.join("\n")
    );
}

#[test]
fn the_drift_check_catches_typos() {
    let f = flags();
    let example = example_keys();
    for (bad, want) in [
        ("`mailduty clam 4k2q9x7m`", "no such command"),
        ("```sh\nmailduty list --overdu\n```", "no such flag"),
        ("`mailduty --rules x rotate --aply`", "no such flag"),
        ("`rotate --days 3 --apply --dry-run`", "no such flag"),
        ("`list --format xml`", "not one of"),
        ("`digest.smpt.user`", "not in rules.example.yaml"),
        ("`oauth2.tokenfile`", "not in rules.example.yaml"),
        ("`folders.hold`", "not in rules.example.yaml"),
        ("`signin: personal`", "not in rules.example.yaml"),
        (
            "```yaml\ndigest:\n  smtp: { hots: x }\n```",
            "not in rules.example.yaml",
        ),
    ] {
        let p = page_problems(&f, &example, bad);
        assert!(p.iter().any(|p| p.contains(want)), "{bad}: {p:?}");
    }
    for good in [
        "`mailduty --rules /etc/mailduty/rules.yaml rotate --apply --quiet`",
        "```sh\nsudo -u mailduty mailduty check\nmailduty list --overdue --format ids | mailduty claim -\n```",
        "`digest.smtp.user`, `oauth2.token_file`, `folders.held`, `login.yaml`, `sign_in: personal`",
        "`imap.oauth2.client_secret_file`, `client_secret_env: VAR`, `altnamespace: yes`",
        "```yaml\nmembers:\n  arimura: { name: 有村 健, slack: U1 }\n```",
    ] {
        let p = page_problems(&f, &example, good);
        assert!(p.is_empty(), "{good}: {p:?}");
    }
}

#[test]
fn readme_is_a_short_front_door_with_working_links() {
    let readme = read_page("README.md");
    let n = readme.lines().count();
    assert!(
        n <= README_MAX_LINES,
        "README.md has {n} lines, at most {README_MAX_LINES}"
    );
    // The two commands come first.
    let first = code_of(&readme)
        .blocks
        .into_iter()
        .next()
        .expect("a code block");
    let text = first.2.join("\n");
    assert!(
        text.contains("bash scripts/demo") && text.contains("bash scripts/test"),
        "README's first code block is not the two commands: {text}"
    );
    for page in PAGES.iter().filter(|p| **p != "README.md") {
        assert!(
            readme.contains(&format!("]({page})")),
            "README does not link {page}"
        );
    }
    // The command table names every subcommand.
    for sub in mailduty::cli::Cli::command().get_subcommands() {
        let name = sub.get_name();
        assert!(
            readme.contains(&format!("`mailduty {name}")),
            "README's command table lacks {name}"
        );
    }
}

/// GitHub's anchor for a heading: lowercase, letters, digits, `-` and `_` kept,
/// spaces made `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown page's headings (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn relative_links_in_every_page_exist() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = read_page(&page);
        let dir = std::path::Path::new(&page).parent().unwrap().to_path_buf();
        let mut rest = text.as_str();
        while let Some(p) = rest.find("](") {
            rest = &rest[p + 2..];
            let Some(end) = rest.find(')') else { break };
            let link = &rest[..end];
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (target, anchor) = link.split_once('#').unwrap_or((link, ""));
            let path = if target.is_empty() {
                root().join(&page)
            } else {
                root().join(&dir).join(target)
            };
            if !path.exists() {
                broken.push(format!("{page}: {link}"));
            } else if !anchor.is_empty()
                && path.extension().is_some_and(|e| e == "md")
                && !anchors(&std::fs::read_to_string(&path).unwrap()).contains(&anchor.to_string())
            {
                broken.push(format!("{page}: {link} (no such heading)"));
            }
        }
    }
    assert!(broken.is_empty(), "broken links: {broken:?}");
}
