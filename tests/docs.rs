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
