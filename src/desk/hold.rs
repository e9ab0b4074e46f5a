//! 保留 (held) and 対応不要 (dismissed): a person's `hold` and `dismiss`, what the
//! history says about mail in those folders (who holds it, until when, why it was
//! dismissed), and `rotate --apply` giving held mail back when its time comes or the
//! customer writes in the thread.
//!
//! Held mail keeps its owner, but no folder says who that is: the hold event does,
//! in its note (`[owner=… until=…] text`), which also keeps it readable in
//! `history`. Every move goes through `take`, so a hold racing a claim or the cron
//! ends with one copy, and a hold cut part-way is finished by the next run.

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::rules::{Actor, ROTATE};
use super::{Desk, Dest, Move, Place, Taken, event};
use crate::desk::history::{self, Event};
use crate::desk::queue::{Item, Status};
use crate::error::Error;
use crate::rules::Member;

pub const HOLD: &str = "hold";
pub const UNHOLD: &str = "unhold";
pub const DISMISS: &str = "dismiss";

/// What a hold event's note says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HoldNote {
    pub owner: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub text: String,
}

impl HoldNote {
    pub fn render(&self) -> String {
        let mut head = Vec::new();
        if let Some(o) = &self.owner {
            head.push(format!("owner={o}"));
        }
        if let Some(u) = self.until {
            head.push(format!(
                "until={}",
                u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        match (head.is_empty(), self.text.is_empty()) {
            (true, _) => self.text.clone(),
            (false, true) => format!("[{}]", head.join(" ")),
            (false, false) => format!("[{}] {}", head.join(" "), self.text),
        }
    }

    pub fn parse(note: &str) -> HoldNote {
        let mut out = HoldNote::default();
        let rest = match note
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .filter(|(h, _)| h.split_whitespace().all(|w| w.contains('=')))
        {
            Some((head, rest)) => {
                for w in head.split_whitespace() {
                    match w.split_once('=') {
                        Some(("owner", o)) if !o.is_empty() => out.owner = Some(o.to_string()),
                        Some(("until", u)) => {
                            out.until = DateTime::parse_from_rfc3339(u)
                                .ok()
                                .map(|t| t.with_timezone(&Utc));
                        }
                        _ => {}
                    }
                }
                rest
            }
            None => note,
        };
        out.text = rest.trim().to_string();
        out
    }
}

/// Fills in what the folders cannot say: the owner and `held_until` of held mail,
/// and the `reason` of dismissed mail, from the latest event that put each there.
/// One search for all of them; nothing is read when there is no such mail.
pub fn annotate(desk: &mut Desk<'_>, items: &mut [Item]) -> Result<()> {
    let idx: Vec<usize> = (0..items.len())
        .filter(|&i| matches!(items[i].status, Status::Held | Status::Dismissed))
        .collect();
    if idx.is_empty() {
        return Ok(());
    }
    let refs: Vec<&Item> = idx.iter().map(|&i| &items[i]).collect();
    let folders = desk.paths.history_reads();
    let evs = history::about_each(&mut desk.mb, &folders, &refs)?;
    for (&i, evs) in idx.iter().zip(evs) {
        let it = &items[i];
        let last = evs
            .iter()
            .filter(|e| e.concerns(it))
            .rfind(|e| e.to_folder.as_deref() == Some(it.folder.as_str()))
            .cloned();
        let Some(e) = last else { continue };
        let it = &mut items[i];
        if it.status == Status::Held {
            let note = HoldNote::parse(e.note.as_deref().unwrap_or(""));
            // A drag by a mail client says no owner: the folder it came from does.
            let from_member =
                e.from_folder
                    .as_deref()
                    .and_then(|f| match desk.paths.place(f, desk.rules) {
                        Some(Place::Member(m)) => Some(m),
                        _ => None,
                    });
            let actor = desk.rules.member(&e.actor).map(|m| m.key.clone());
            it.owner = note.owner.or(from_member).or(actor);
            it.held_until = note.until;
            it.held_at = Some(e.time);
        } else {
            it.reason = Some(
                e.note
                    .clone()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| format!("dismissed by {}", e.actor)),
            );
        }
    }
    Ok(())
}

/// What `hold` or `dismiss` did.
#[derive(Debug)]
pub enum Done {
    Moved {
        to: String,
    },
    /// It was already there; a new `--until` or note was recorded.
    Updated,
    Already,
}

/// `mailduty hold`: into 保留, the owner kept (else the member who holds it).
pub fn hold(
    desk: &mut Desk<'_>,
    it: &Item,
    me: &Member,
    until: Option<DateTime<Utc>>,
    text: Option<&str>,
) -> Result<Done> {
    let owner = match (&it.owner, it.status) {
        (Some(o), Status::Claimed | Status::Held) => o.clone(),
        _ => me.key.clone(),
    };
    let note = HoldNote {
        owner: Some(owner),
        until,
        text: text.unwrap_or("").to_string(),
    }
    .render();
    if it.status == Status::Held {
        // A retry after a cut, or the same hold again: the event it needs, once.
        let last = desk
            .events_of(it)?
            .into_iter()
            .filter(|e| e.concerns(it))
            .rfind(|e| e.to_folder.as_deref() == Some(it.folder.as_str()));
        let same = last
            .as_ref()
            .is_some_and(|e| e.event == HOLD && e.note.as_deref().unwrap_or("") == note);
        if same || (until.is_none() && text.is_none()) {
            desk.complete_history(it, HOLD, &me.key)?;
            clear(desk, it)?;
            return Ok(Done::Already);
        }
        let ev = event(HOLD, &me.key, it, Some(&it.folder), Some(&note));
        desk.record(&ev, None)?;
        clear(desk, it)?;
        return Ok(Done::Updated);
    }
    let held = desk.paths.held.clone();
    desk.ensure_folder(&held)?;
    moved(desk, it, &Dest::Held, HOLD, me, Some(&note))
}

/// `mailduty dismiss`: into 対応不要.
pub fn dismiss(desk: &mut Desk<'_>, it: &Item, me: &Member, text: Option<&str>) -> Result<Done> {
    if it.status == Status::Dismissed {
        desk.complete_history(it, DISMISS, &me.key)?;
        clear(desk, it)?;
        return Ok(Done::Already);
    }
    let dismissed = desk.paths.dismissed.clone();
    desk.ensure_folder(&dismissed)?;
    moved(desk, it, &Dest::Dismissed, DISMISS, me, text)
}

/// The keywords a dismiss cut before its event leaves in 対応不要: 対応不要 is not in
/// the active queue, so `recover` asks the server for them.
pub fn dismiss_keywords(desk: &Desk<'_>) -> Vec<crate::imap::Key> {
    use super::rules::keyword;
    let mut kws: Vec<crate::imap::Key> = desk
        .rules
        .members
        .iter()
        .map(|m| crate::imap::Key::Keyword(keyword(&Dest::Dismissed, Actor::Member(&m.key))))
        .collect();
    kws.push(crate::imap::Key::Keyword(keyword(
        &Dest::Dismissed,
        Actor::Rotate,
    )));
    kws
}

/// A retry's leftover: the keyword a cut run left on the message it moved.
fn clear(desk: &mut Desk<'_>, it: &Item) -> Result<()> {
    desk.mb.store(
        &it.folder,
        &[it.uid],
        crate::imap::Flags::Remove(&it.claim_keywords),
    )
}

fn moved(
    desk: &mut Desk<'_>,
    it: &Item,
    dest: &Dest,
    kind: &str,
    me: &Member,
    note: Option<&str>,
) -> Result<Done> {
    let to = desk.paths.of(dest);
    let taken = desk.take(it, dest, Actor::Member(&me.key)).map_err(|e| {
        e.context(format!(
            "moving {} to {to} failed part-way; `mailduty list` shows where it is",
            it.id
        ))
    })?;
    match taken {
        Taken::Won(landed) => {
            let to = landed.folder.clone();
            let ev = event(kind, &me.key, it, Some(&to), note);
            desk.record(&ev, Some(&landed)).map_err(|e| {
                e.context(format!(
                    "{} was moved to {to}, but its history event was not written (the next `mailduty rotate --apply` writes it)",
                    it.id
                ))
            })?;
            Ok(Done::Moved { to })
        }
        Taken::Already => Ok(Done::Already),
        Taken::Lost { owner } => Err(Error::Conflict(match owner {
            Some(o) => format!(
                "{} was just claimed by {}",
                it.id,
                desk.rules.owner_label(&o)
            ),
            None => format!(
                "{} was moved by someone else a moment ago; run `mailduty list` again",
                it.id
            ),
        })
        .into()),
    }
}

/// `--until`: `2026-12-10` (the start of that business day), `2026-12-10 14:00`
/// (in the rules' time zone), RFC 3339 with an offset, or business time from `now`:
/// `3d` is three business days later at the same time (kept inside business hours),
/// `4h` and `30m` count business hours, and `1d4h` both.
pub fn parse_until(
    s: &str,
    cal: &crate::calendar::Calendar,
    now: DateTime<Utc>,
) -> std::result::Result<DateTime<Utc>, String> {
    use chrono::{NaiveDate, NaiveDateTime, TimeZone};
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(cal.day_start(d));
    }
    for f in ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return cal
                .tz
                .from_local_datetime(&t)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| format!("{s:?} does not exist in {} (a clock change)", cal.tz));
        }
    }
    let bad = || {
        format!(
            "{s:?} is not a time: give 2026-12-10, \"2026-12-10 14:00\", 2026-12-10T14:00:00+09:00, or business time like 3d, 4h, 1d4h"
        )
    };
    let (mut days, mut secs, mut num) = (0u32, 0i64, String::new());
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u32 = num.parse().map_err(|_| bad())?;
        num.clear();
        match c {
            'd' => days = days.checked_add(n).ok_or_else(bad)?,
            'h' => secs += i64::from(n) * 3600,
            'm' => secs += i64::from(n) * 60,
            _ => return Err(bad()),
        }
    }
    if !num.is_empty() || s.is_empty() || (days == 0 && secs == 0) {
        return Err(bad());
    }
    let t = cal.add_business_days(now, days).ok_or_else(bad)?;
    cal.add_business(t, chrono::Duration::seconds(secs))
        .ok_or_else(bad)
}

fn bare(s: &str) -> &str {
    s.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Why held mail comes back now, if it does: its time came, or the customer wrote in
/// its thread (a person's mail in the inbox naming it; an automated reply does not
/// count).
pub fn due(it: &Item, inbox: &[&Item], now: DateTime<Utc>) -> Option<String> {
    if it.status != Status::Held || !it.claim_keywords.is_empty() {
        return None;
    }
    if let Some(u) = it.held_until.filter(|u| *u <= now) {
        return Some(format!(
            "due: until {}",
            u.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    let mid = bare(it.message_id.as_deref()?);
    inbox
        .iter()
        .filter(|m| m.automated.is_none())
        .find(|m| {
            m.in_reply_to
                .iter()
                .chain(m.references.iter())
                .any(|r| bare(r) == mid)
        })
        .map(|m| {
            format!(
                "reply: the customer wrote ({})",
                m.message_id.as_deref().map(bare).unwrap_or(&m.id)
            )
        })
}

/// `rotate --apply`: held mail whose time came or whose customer wrote goes back to
/// its owner's folder (or 未対応 when the owner is no longer a member). Returns the
/// moves made and how many were left to another mover.
pub fn give_back(
    desk: &mut Desk<'_>,
    items: &[Item],
    now: DateTime<Utc>,
    failed: &mut Vec<String>,
) -> Result<(Vec<Move>, usize)> {
    let inbox: Vec<&Item> = items
        .iter()
        .filter(|i| i.folder == desk.paths.inbox)
        .collect();
    let mut moves = Vec::new();
    let mut left = 0;
    for it in items {
        let Some(why) = due(it, &inbox, now) else {
            continue;
        };
        let dest = match it.owner.as_deref().and_then(|o| desk.rules.member(o)) {
            Some(m) => Dest::Member(m.key.clone()),
            None => Dest::Unclaimed,
        };
        let taken = match desk.take(it, &dest, Actor::Unhold) {
            Ok(t) => t,
            Err(e) => {
                failed.push(format!(
                    "{}: giving it back from 保留 failed part-way (the next run finishes it): {e:#}",
                    it.id
                ));
                continue;
            }
        };
        match taken {
            Taken::Won(landed) => {
                // Events are ordered by their second: one written in the second of
                // the hold (a past --until, a reply at once) must still come after it.
                let mut ev: Event<'_> = event(UNHOLD, ROTATE, it, Some(&landed.folder), Some(&why));
                if let Some(h) = it.held_at {
                    ev.at = ev.at.max(h + chrono::Duration::seconds(1));
                }
                if let Err(e) = desk.record(&ev, Some(&landed)) {
                    failed.push(format!(
                        "{} was given back to {}, but its history event was not written (the next run writes it): {e:#}",
                        it.id, landed.folder
                    ));
                }
                moves.push(Move {
                    id: it.id.clone(),
                    message_id: it.message_id.clone(),
                    from_folder: it.folder.clone(),
                    to_folder: landed.folder.clone(),
                    event: UNHOLD,
                    owner: match &dest {
                        Dest::Member(m) => Some(m.clone()),
                        _ => None,
                    },
                    reason: why,
                    subject: it.subject.clone(),
                });
            }
            Taken::Lost { .. } | Taken::Already => left += 1,
        }
    }
    Ok((moves, left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_notes_round_trip_and_plain_notes_stay_text() {
        let until = DateTime::parse_from_rfc3339("2026-12-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = HoldNote {
            owner: Some("tanaka".into()),
            until: Some(until),
            text: "見積もり待ち [2件]".into(),
        };
        let s = n.render();
        assert_eq!(
            s,
            "[owner=tanaka until=2026-12-10T00:00:00Z] 見積もり待ち [2件]"
        );
        assert_eq!(HoldNote::parse(&s), n);
        let plain = HoldNote::parse("[重要] 電話待ち");
        assert_eq!(plain.owner, None);
        assert_eq!(plain.text, "[重要] 電話待ち");
        assert_eq!(HoldNote::parse("").render(), "");
    }

    #[test]
    fn until_is_read_in_the_rules_time_zone_and_business_time() {
        let cal = crate::calendar::Calendar::default_japan();
        let tokyo = |s: &str| {
            use chrono::TimeZone;
            chrono_tz::Asia::Tokyo
                .from_local_datetime(
                    &chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap(),
                )
                .unwrap()
                .with_timezone(&Utc)
        };
        let now = tokyo("2026-12-04 17:00");
        let p = |s: &str| parse_until(s, &cal, now);
        assert_eq!(p("2026-12-10").unwrap(), tokyo("2026-12-10 09:00"));
        assert_eq!(p("2026-12-10 14:00").unwrap(), tokyo("2026-12-10 14:00"));
        assert_eq!(
            p("2026-12-10T14:00:00+00:00").unwrap(),
            tokyo("2026-12-10 23:00")
        );
        assert_eq!(p("4h").unwrap(), tokyo("2026-12-07 12:00"));
        assert_eq!(p("3d").unwrap(), tokyo("2026-12-09 17:00"));
        assert_eq!(p("1d2h").unwrap(), tokyo("2026-12-08 10:00"));
        for bad in ["", "tomorrow", "3x", "0d", "2026-13-01", "h"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn held_mail_comes_back_when_due_or_when_a_person_replies() {
        let now = Utc::now();
        let mut held = Item::sample(Some("q@x"), "保留", 1);
        held.status = Status::Held;
        assert_eq!(due(&held, &[], now), None, "no until: stays");
        held.held_until = Some(now + chrono::Duration::hours(1));
        assert_eq!(due(&held, &[], now), None);
        let mut ooo = Item::sample(Some("o@x"), "INBOX", 2);
        ooo.in_reply_to = vec!["<q@x>".into()];
        ooo.automated =
            crate::automated::classify(b"Auto-Submitted: auto-replied\r\n", "a@b", None, &[0; 32]);
        assert_eq!(
            due(&held, &[&ooo], now),
            None,
            "an out-of-office is no reply"
        );
        let mut reply = Item::sample(Some("r@x"), "INBOX", 3);
        reply.references = vec!["<z@x>".into(), "<q@x>".into()];
        assert!(due(&held, &[&reply], now).unwrap().starts_with("reply"));
        assert!(
            due(&held, &[], now + chrono::Duration::hours(2))
                .unwrap()
                .starts_with("due")
        );
        held.claim_keywords = vec!["$MailDutyHold_tanaka".into()];
        assert_eq!(due(&held, &[&reply], now), None, "a move under way");
    }
}
