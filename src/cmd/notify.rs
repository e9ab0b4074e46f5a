//! `notify`: send the pending chat notifications, or with `--test` one test message
//! to every target.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::cli::NotifyArgs;
use crate::error::{Error, config};

pub fn run(ctx: &Ctx, args: &NotifyArgs, out: &mut dyn Write) -> Result<()> {
    if ctx.rules.notify.is_empty() {
        return Err(config(format!(
            "{}: no notify: targets (see rules.example.yaml)",
            ctx.rules.path.display()
        )));
    }
    if args.test {
        let mut failed = 0;
        for (name, res) in crate::notify::test(&ctx.rules, ctx.global.verbose) {
            match res {
                Ok(()) => ctx.say(out, format!("{name}: ok"))?,
                Err(e) => {
                    failed += 1;
                    writeln!(
                        out,
                        "{name}: failed: {}",
                        crate::output::line(&format!("{e:#}"))
                    )?;
                }
            }
        }
        if failed > 0 {
            return Err(Error::Silent(crate::error::FAILURE).into());
        }
        return Ok(());
    }
    let mut desk = ctx.open()?;
    let done = crate::notify::flush(&mut desk, chrono::Utc::now(), ctx.global.verbose);
    desk.close();
    let done = done?;
    for w in &done.warnings {
        eprintln!("mailduty: warning: {}", crate::output::line(w));
    }
    let mut line = format!(
        "notify: {} sent, {} pending",
        done.delivered.len(),
        done.pending
    );
    if done.busy > 0 {
        line.push_str(&format!(
            ", {} left to another run sending at the same time",
            done.busy
        ));
    }
    ctx.say(out, line)?;
    if done.warnings.is_empty() {
        Ok(())
    } else {
        Err(Error::Silent(crate::error::FAILURE).into())
    }
}
