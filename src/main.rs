//! Entry point: parse, run, turn the result into an exit code. Errors go to stderr.

use std::process::ExitCode;

use clap::Parser;
use mailduty::{cli, cmd, error};

fn main() -> ExitCode {
    // The password lives in this process's memory: a crash must never write it to a
    // core file, and other processes of the same user must not attach to read it.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    // With COMPLETE=<shell> set, the shell is asking for completions: answer and exit.
    clap_complete::CompleteEnv::with_factory(<cli::Cli as clap::CommandFactory>::command)
        .complete();
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::from(error::SUCCESS),
        Err(e) => {
            if error::is_stdout_closed(&e) {
                return ExitCode::from(error::SUCCESS);
            }
            let code = error::exit_code(&e);
            let msg = format!("{e:#}");
            if !msg.is_empty() {
                // Errors quote subjects, folder names and server replies.
                for line in msg.lines() {
                    eprintln!("mailduty: {}", mailduty::output::line(line));
                }
            }
            ExitCode::from(code)
        }
    }
}
