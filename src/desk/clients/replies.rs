//! Replies told from Sent: which customer message a reply answers (In-Reply-To,
//! References, then the subject within the window), who replied, 二重対応 when two
//! people answered with no customer message between, and what `on_reply` does then.

use super::*;

pub(super) fn bare(s: &str) -> &str {
    s.trim().trim_start_matches('<').trim_end_matches('>')
}

pub fn parse_sent(header: &[u8], uid: u32, validity: u32, internal: Option<&str>) -> Sent {
    let parsed = mail_parser::MessageParser::default().parse_headers(header);
    let internal = internal
        .and_then(|d| DateTime::parse_from_str(d, "%d-%b-%Y %H:%M:%S %z").ok())
        .map(|d| d.with_timezone(&Utc));
    let mut s = Sent {
        message_id: None,
        key: format!("uid.{validity}.{uid}"),
        from: String::new(),
        from_name: None,
        to: Vec::new(),
        subject: String::new(),
        at: internal.unwrap_or_else(Utc::now),
        in_reply_to: Vec::new(),
        references: Vec::new(),
    };
    let Some(p) = parsed else { return s };
    s.message_id = p
        .message_id()
        .map(|m| bare(m).to_string())
        .filter(|m| !m.is_empty());
    if let Some(m) = &s.message_id {
        s.key = m.clone();
    }
    if let Some(a) = p.from().and_then(|a| a.first()) {
        s.from = a.address().unwrap_or("").to_lowercase();
        s.from_name = a.name().map(str::to_string).filter(|n| !n.is_empty());
    }
    for list in [p.to(), p.cc()].into_iter().flatten() {
        s.to.extend(
            list.iter()
                .filter_map(|a| a.address())
                .map(str::to_lowercase),
        );
    }
    s.subject = p.subject().unwrap_or("").to_string();
    // The Date a client wrote, when sane; else when the server filed it.
    if let Some(d) = p
        .date()
        .filter(|d| d.is_valid())
        .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
    {
        s.at = d;
    }
    s.in_reply_to = ids(p.in_reply_to());
    s.references = ids(p.references());
    s
}

pub(super) fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![bare(t).to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| bare(t).to_string()).collect(),
        _ => Vec::new(),
    }
}

/// The subject without the reply prefixes clients add ("Re:", "RE:", "Re[2]:",
/// "返信:", full-width "Ｒｅ：", "AW:", "Fwd:" is not one), repeated ones too,
/// and with runs of white space made one.
pub fn base_subject(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| match c {
            // Full-width ASCII (Ｒｅ：) as ASCII.
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    // Matched on the text itself, never on a lowercased copy: lowercasing changes byte
    // lengths (İ grows, the Kelvin sign shrinks), so offsets into a copy would not fit.
    loop {
        let trimmed = t.trim_start();
        let cut = ["re", "aw", "sv", "返信", "回答"].iter().find_map(|p| {
            let head = trimmed.as_bytes().get(..p.len())?;
            let same = if p.is_ascii() {
                head.eq_ignore_ascii_case(p.as_bytes())
            } else {
                head == p.as_bytes()
            };
            if !same {
                return None;
            }
            // A prefix ends on a char boundary: it matched whole chars of `trimmed`.
            let rest = trimmed.get(p.len()..)?;
            // "Re[2]:" / "Re(2):" / "Re:"
            let rest_t = rest.trim_start_matches(|c: char| {
                c == '[' || c == ']' || c == '(' || c == ')' || c.is_ascii_digit()
            });
            let after = rest_t.strip_prefix(':')?;
            Some(trimmed.len() - after.len())
        });
        match cut {
            // At least the prefix and its colon come off, so this ends.
            Some(n) => t = trimmed[n..].to_string(),
            None => break,
        }
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The queued message a sent one answers, and how it was matched: In-Reply-To, else
/// the last References entry that is queued; else a reply-prefixed subject sent to
/// the message's sender within the window after it arrived (the latest such).
pub(super) fn target(
    items: &[Item],
    s: &Sent,
    window: chrono::Duration,
) -> Option<(usize, &'static str)> {
    let by_id = |mid: &str| {
        items
            .iter()
            .position(|i| i.message_id.as_deref().map(bare) == Some(mid))
    };
    for mid in s.in_reply_to.iter().chain(s.references.iter().rev()) {
        if let Some(i) = by_id(bare(mid)) {
            return Some((i, "header"));
        }
    }
    let base = base_subject(&s.subject);
    if base.is_empty() || base == s.subject.split_whitespace().collect::<Vec<_>>().join(" ") {
        // Not a reply-prefixed subject: a new message to a customer, not an answer.
        return None;
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.status != Status::Done)
        .filter(|(_, i)| !i.from.is_empty() && s.to.contains(&i.from.to_lowercase()))
        .filter(|(_, i)| s.at >= i.arrived && s.at - i.arrived <= window)
        .filter(|(_, i)| base_subject(&i.subject) == base)
        .max_by_key(|(_, i)| i.arrived)
        .map(|(n, _)| (n, "subject"))
}

/// Who sent a reply: the member whose `sent_as` matches its From, else the owner of
/// the message, else unknown. A match wins over the owner: on a shared account
/// another member's name in the From is the only sign of a second replier.
pub(super) fn replier(desk: &Desk<'_>, it: &Item, s: &Sent) -> String {
    if let Some(m) = desk
        .rules
        .members
        .iter()
        .find(|m| m.sent_it(&s.from, s.from_name.as_deref()))
    {
        return m.key.clone();
    }
    it.owner.clone().unwrap_or_else(|| UNKNOWN.to_string())
}

pub(super) fn short(data: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data.as_bytes())[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn reply_id(s: &Sent, it: &Item) -> String {
    format!("reply.{}.{}@mailduty", short(&s.key), it.hash)
}

/// Records each reply once, a double reply where there is one, marks the messages
/// answered and applies `on_reply`. The lookups are batched: which replies are
/// already recorded and the earlier replies of every message take a few round trips
/// together; then one APPEND per event and one STORE per folder.
pub(super) fn replies(
    desk: &mut Desk<'_>,
    items: &[Item],
    found: &[(Sent, usize, &'static str)],
    doubles: &mut usize,
    failed: &mut Vec<String>,
) -> Result<(Vec<Replied>, bool)> {
    if found.is_empty() {
        return Ok((Vec::new(), false));
    }
    let history_folder = desk.paths.history_reads();
    let ids: Vec<String> = found
        .iter()
        .map(|(s, i, _)| reply_id(s, &items[*i]))
        .collect();
    let recorded = history::recorded(&mut desk.mb, &history_folder, &ids)?;
    let mut targets: Vec<usize> = found
        .iter()
        .zip(&ids)
        .filter(|(_, id)| !recorded.contains(*id))
        .map(|((_, i, _), _)| *i)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    let of: Vec<&Item> = targets.iter().map(|&i| &items[i]).collect();
    let mut earlier: HashMap<usize, Vec<Stored>> = targets
        .iter()
        .copied()
        .zip(history::about_each(&mut desk.mb, &history_folder, &of)?)
        .map(|(i, evs)| {
            let it = &items[i];
            let evs = evs
                .into_iter()
                .filter(|e| e.event == REPLY && e.concerns(it))
                .collect();
            (i, evs)
        })
        .collect();
    let mut out = Vec::new();
    let mut answered: HashMap<String, Vec<u32>> = HashMap::new();
    // Every message a reply was matched to, recorded now or by an earlier run that
    // stopped before marking it answered or applying on_reply: those are done from
    // these, so a cut anywhere is finished by the next run (which reads the same Sent
    // messages again, its scan mark not having been written).
    let mut matched: Vec<(usize, String, bool)> = Vec::new();
    for ((s, t, matched_by), own) in found.iter().zip(ids) {
        let it = &items[*t];
        let who = replier(desk, it, s);
        // Only a header naming exactly one queued message is evidence enough to move
        // it: a subject may be shared, and a Message-ID is not an identity.
        let strong = *matched_by == "header"
            && it.message_id.as_deref().is_some_and(|m| {
                items
                    .iter()
                    .filter(|o| o.message_id.as_deref().map(bare) == Some(bare(m)))
                    .count()
                    == 1
            });
        // The first reply says who moves it; the first strong one, when the first is
        // not.
        match matched.iter_mut().find(|(k, _, _)| k == t) {
            None => matched.push((*t, who.clone(), strong)),
            Some(m) if strong && !m.2 => *m = (*t, who.clone(), true),
            Some(_) => {}
        }
        if recorded.contains(&own) || out.iter().any(|r: &(Replied, usize)| r.0.id == own) {
            continue;
        }
        // A client's clock may be wrong: a reply is never before the message nor in
        // the future, so that it sorts and is found by date where it belongs.
        let at = s.at.max(it.arrived).min(Utc::now().max(it.arrived));
        let before = earlier.entry(*t).or_default();
        if let Some(prev) = before
            .iter()
            .filter(|e| e.time <= at)
            .max_by_key(|e| e.time)
        {
            let different = prev.actor != who || who == UNKNOWN;
            if different && !customer_between(items, it, prev.time, at) {
                let note = format!(
                    "{} at {}, {} at {}",
                    prev.actor,
                    prev.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    who,
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                let double = Event {
                    message_id: Some(format!("double.{}.{}@mailduty", short(&s.key), it.hash)),
                    at,
                    ..event(DOUBLE_REPLY, &who, it, None, Some(&note))
                };
                // Written before the reply: the reply's own ID is what says both were
                // counted, so a cut in between writes the double again at worst, and
                // its fixed ID lets readers count it once.
                desk.record(&double, None)?;
                *doubles += 1;
            }
        }
        let mid_note = s
            .message_id
            .as_ref()
            .map(|m| format!("<{m}>"))
            .unwrap_or_else(|| "(no Message-ID)".to_string());
        let ev = Event {
            message_id: Some(own.clone()),
            at,
            ..event(REPLY, &who, it, None, Some(&mid_note))
        };
        desk.record(&ev, None)?;
        before.push(Stored {
            login: None,
            time: at,
            event: REPLY.to_string(),
            actor: who.clone(),
            id: it.id.clone(),
            message_id: it.message_id.clone(),
            subject: None,
            from_folder: None,
            to_folder: None,
            note: None,
            arrived: Some(it.arrived),
            size: Some(it.size),
            own_id: Some(own.clone()),
            sender: None,
            hash: Some(it.hash.clone()),
            notify: Vec::new(),
        });
        out.push((
            Replied {
                id: own,
                replier: who,
                reply_message_id: s.message_id.clone(),
                at,
                matched_by,
                action: "mark",
            },
            *t,
        ));
    }
    for (t, _, _) in &matched {
        let it = &items[*t];
        if !it.answered {
            answered.entry(it.folder.clone()).or_default().push(it.uid);
        }
    }
    for (folder, uids) in &answered {
        desk.mb
            .store(folder, uids, Flags::Add(&[ANSWERED.to_string()]))?;
    }
    // One move per message, for its first reply, on strong evidence only. A move that
    // fails is that message's warning; the rest go on.
    for (t, who, strong) in &matched {
        if !*strong {
            continue;
        }
        let mut it = items[*t].clone();
        it.answered = true;
        let action = match on_reply(desk, &it, who) {
            Ok(a) => a,
            Err(e) => {
                failed.push(format!("{}: on_reply: {e:#}", it.id));
                "mark"
            }
        };
        if let Some((r, _)) = out.iter_mut().find(|(_, k)| k == t) {
            r.action = action;
        }
    }
    for (r, t) in &mut out {
        r.id = items[*t].id.clone();
    }
    Ok((
        out.into_iter().map(|(r, _)| r).collect(),
        !answered.is_empty(),
    ))
}

/// Whether the customer wrote again (a message in the thread of `it`) between two
/// replies: then the second answers that, and is no double reply.
pub(super) fn customer_between(
    items: &[Item],
    it: &Item,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    let Some(mid) = it.message_id.as_deref().map(bare) else {
        return false;
    };
    // An out-of-office reply is not the customer writing again.
    items.iter().any(|o| {
        o.message_id.as_deref().map(bare) != Some(mid)
            && o.automated.is_none()
            && o.in_reply_to
                .iter()
                .chain(&o.references)
                .any(|r| bare(r) == mid)
            && o.arrived > from
            && o.arrived < to
    })
}

/// `on_reply: claim | done`, through `take` like the commands.
pub(super) fn on_reply(desk: &mut Desk<'_>, it: &Item, who: &str) -> Result<&'static str> {
    let member = desk.rules.member(who).map(|m| m.key.clone());
    let (dest, kind) = match (desk.rules.on_reply, &member) {
        (OnReply::Claim, Some(m)) if it.contested() => (Dest::Member(m.clone()), "claim"),
        (OnReply::Done, _) if it.status != Status::Done => (Dest::Done, "done"),
        _ => return Ok("mark"),
    };
    let actor = match &member {
        Some(m) => Actor::Member(m),
        None => Actor::Rotate,
    };
    let name = actor.key().to_string();
    match desk.take(it, &dest, actor)? {
        Taken::Won(landed) => {
            let ev = event(
                kind,
                &name,
                it,
                Some(&landed.folder),
                Some("on_reply: a reply was found in Sent"),
            );
            desk.record(&ev, Some(&landed))?;
            Ok(kind)
        }
        Taken::Lost { .. } | Taken::Already => Ok("mark"),
    }
}

/// Reply events about the given messages: `replies` per Message-ID, and which of
/// them had a double reply. Read only when some message is marked answered, from the
/// arrival of the oldest such message on.
pub fn replies_of(desk: &mut Desk<'_>, items: &[Item]) -> Result<HashMap<String, Vec<Stored>>> {
    let Some(oldest) = items.iter().filter(|i| i.answered).map(|i| i.arrived).min() else {
        return Ok(HashMap::new());
    };
    let history = desk.paths.history_reads();
    let evs = history::kind_since(&mut desk.mb, &history, REPLY, oldest)?;
    let mut out: HashMap<String, Vec<Stored>> = HashMap::new();
    for e in evs {
        if (e.event == REPLY || e.event == DOUBLE_REPLY)
            && let Some(m) = &e.message_id
        {
            out.entry(bare(m).to_string()).or_default().push(e);
        }
    }
    Ok(out)
}
