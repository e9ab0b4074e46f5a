//! The checked-in man page and example rules must match what the code says.
//! Regenerate the man page with `MAILDUTY_UPDATE_DOCS=1 cargo test --test docs`.

use clap::CommandFactory;

/// The date the man page carries; bump it with the version.
const DATE: &str = "2026-11-21";

#[test]
fn man_page_matches_the_code() {
    let mut buf = Vec::new();
    clap_mangen::Man::new(mailduty::cli::Cli::command())
        .date(DATE)
        .source(concat!("mailduty ", env!("CARGO_PKG_VERSION")))
        .render(&mut buf)
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/mailduty.1");
    if std::env::var_os("MAILDUTY_UPDATE_DOCS").is_some() {
        std::fs::write(path, &buf).unwrap();
    }
    let checked_in = std::fs::read(path).unwrap_or_default();
    assert!(
        checked_in == buf,
        "man/mailduty.1 differs from the code; run MAILDUTY_UPDATE_DOCS=1 cargo test --test docs and commit it"
    );
    let text = String::from_utf8(buf).unwrap();
    assert!(text.contains("Exit codes") && text.contains("MAILDUTY_RULES"));
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
