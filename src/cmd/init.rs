//! `init`: the status folders, created where missing; safe to run again.

use std::io::Write;

use anyhow::Result;

use super::Ctx;
use crate::error::config;
use crate::rules::SignInMode;
use crate::rules::personal::Session;

pub fn run(ctx: &Ctx, out: &mut dyn Write) -> Result<()> {
    if let Session::Person { login, .. } = &ctx.session {
        return Err(config(format!(
            "init runs as the mailbox owner's login (imap.user), not as {login}: run it where no personal sign-in is kept, or `mailduty logout` first"
        )));
    }
    let mut desk = ctx.open_reading_sent()?;
    let created = desk.create_folders()?;
    for name in &created {
        ctx.say(out, format!("created {name}"))?;
    }
    if created.is_empty() {
        ctx.say(out, "all status folders exist; nothing to do")?;
    }
    let manage = ctx.rules.sign_in == SignInMode::Personal || !ctx.rules.viewers.is_empty();
    if manage && !desk.has_acl() {
        eprintln!(
            "mailduty: warning: {} has no access control lists (RFC 4314 ACL): init grants no rights; on Microsoft 365 give members FullAccess in the Exchange admin center, elsewhere keep sign_in: shared",
            desk.capabilities().host
        );
    } else if manage {
        let plan = desk.access_plan()?;
        desk.apply_access(&plan, chrono::Utc::now())?;
        for c in &plan.changes {
            ctx.say(out, super::access::describe(c, false))?;
        }
        ctx.say(
            out,
            format!(
                "access: {} logins, {} changes",
                plan.logins.len(),
                plan.changes.len()
            ),
        )?;
    }
    let sent = desk.sent_folder();
    let caps = desk.capabilities();
    let quota = desk.quota()?;
    desk.close();
    let yes = |b: bool| if b { "yes" } else { "no" };
    ctx.say(
        out,
        format!(
            "server {}: separator {:?}; MOVE {}, UIDPLUS {}, CONDSTORE {}",
            caps.host,
            caps.separator,
            yes(caps.r#move),
            yes(caps.uidplus),
            yes(caps.condstore)
        ),
    )?;
    ctx.say(
        out,
        match &ctx.rules.imap.auth {
            crate::rules::Auth::Password(_) => "signed in with LOGIN (password)".to_string(),
            crate::rules::Auth::OAuth2(o) => {
                format!("signed in with {}", crate::signin::describe(o))
            }
        },
    )?;
    match quota {
        Some(q) if q.warn() => ctx.say(
            out,
            format!("quota: {q} — above quota.warn ({}%): archive old mail (`mailduty archive`) or raise the limit", q.warn_at),
        )?,
        Some(q) => ctx.say(out, format!("quota: {q}"))?,
        None => ctx.say(out, "quota: not reported by the server")?,
    }
    match sent {
        Ok(Some(f)) if ctx.rules.folders.sent.is_some() => ctx.say(
            out,
            format!("sent mail: {f} (folders.sent); replies there are recorded by rotate --apply"),
        )?,
        Ok(Some(f)) => ctx.say(
            out,
            format!(
                "sent mail: {f} (SPECIAL-USE \\Sent); replies there are recorded by rotate --apply"
            ),
        )?,
        Ok(None) => eprintln!(
            "mailduty: warning: no Sent folder: the server marks none \\Sent, so replies sent from mail clients are not seen; set folders.sent to the folder your clients file sent mail in (e.g. INBOX.Sent on Courier)"
        ),
        Err(e) => eprintln!(
            "mailduty: warning: {}",
            crate::output::line(&format!("{e:#}"))
        ),
    }
    if !caps.condstore {
        ctx.say(
            out,
            "without CONDSTORE, claims are checked for duplicates after moving",
        )?;
    }
    if !caps.r#move && !caps.uidplus {
        eprintln!(
            "mailduty: warning: the server has neither MOVE nor UIDPLUS; claim, release and done will refuse to run"
        );
    }
    Ok(())
}
