//! The desk's rules as pure functions: which keyword a move sets, what a keyword left
//! on a message says happened, when a keyword is stale, and which of several proven
//! copies stays. Every client applies these same rules, so they must not depend on
//! anything but their arguments.

use std::time::Duration;

use super::Dest;

/// The keyword a mover sets before it moves a message, and clears once the move's
/// event is in the history. Set first by a conditional STORE, it arbitrates between
/// concurrent movers; left on a message after a crash, it says which move was under
/// way, so the next run can finish the job. Each kind of move has its own prefix, so a
/// keyword left behind is never read as another kind of move.
pub const CLAIM: &str = "$MailDutyClaim";
/// A hand-out by `rotate --apply`: a claim by the member and a hand-out to that member
/// are different changes, which the arbitration tells apart, and the history that a
/// crash left unwritten gets the right actor.
pub const ASSIGN: &str = "$MailDutyAssign";
pub const RELEASE: &str = "$MailDutyRelease";
pub const DONE: &str = "$MailDutyDone";
pub const HOLD: &str = "$MailDutyHold";
/// `rotate --apply` giving held mail back; `_` and the member it goes to, or
/// `_unclaimed`. Its own prefix, so a run cut before its event is recorded as what it
/// was, not as a hand-out.
pub const UNHOLD: &str = "$MailDutyUnhold";
pub const DISMISS: &str = "$MailDutyDismiss";
/// Left by `release`: `rotate --apply` does not hand the message out again. Not a
/// move keyword.
pub const RELEASED: &str = "$MailDutyReleased";

/// Set together with `\Deleted` on a proven copy that `recover` removes, so that a
/// run cut before the EXPUNGE leaves a removal the next run can tell for its own
/// (a `\Deleted` alone may be a mail client's, which is never mailduty's to expunge).
/// Not a move keyword.
pub const REMOVE: &str = "$MailDutyRemove";

/// Whether a flag on a message marked `\Deleted` says mailduty set that `\Deleted`:
/// its removal mark, or a move keyword (a copy a mover removes carries its keyword).
pub fn is_own_removal(flag: &str) -> bool {
    flag.eq_ignore_ascii_case(REMOVE) || is_move_keyword(flag)
}

/// The actor `rotate --apply` writes into the history.
pub const ROTATE: &str = "rotate";

/// How long a mover may take between its keyword and its history event: a keyword
/// unchanged for longer was left by a process that died.
pub const STALE: Duration = Duration::from_secs(2);
/// How long concurrent MOVEs need to land before copies are looked for.
pub const SETTLE: Duration = Duration::from_millis(500);

/// Who moves a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    Member(&'a str),
    Rotate,
    /// `rotate --apply` giving held mail back.
    Unhold,
}

impl Actor<'_> {
    pub fn key(&self) -> &str {
        match self {
            Actor::Member(m) => m,
            Actor::Rotate | Actor::Unhold => ROTATE,
        }
    }
}

/// The keyword for a move. Movers bound for different places set different keywords,
/// so their STOREs are different changes. Member keys are lowercase ASCII (the rules
/// check it), valid in an IMAP atom.
pub fn keyword(dest: &Dest, actor: Actor<'_>) -> String {
    match (dest, actor) {
        (Dest::Unclaimed, Actor::Rotate) => CLAIM.to_string(),
        (Dest::Member(m), Actor::Rotate) => format!("{ASSIGN}_{m}"),
        (Dest::Member(m), Actor::Unhold) => format!("{UNHOLD}_{m}"),
        (Dest::Unclaimed, Actor::Unhold) => format!("{UNHOLD}_unclaimed"),
        (Dest::Member(_), Actor::Member(m)) => format!("{CLAIM}_{m}"),
        (Dest::Unclaimed, Actor::Member(m)) => format!("{RELEASE}_{m}"),
        (Dest::Done, a) => format!("{DONE}_{}", a.key()),
        (Dest::Held, a) => format!("{HOLD}_{}", a.key()),
        (Dest::Dismissed, a) => format!("{DISMISS}_{}", a.key()),
    }
}

/// Whether a flag is any mover's keyword: `$MailDutyClaim`, or one of the prefixes
/// with `_` and a name (`$MailDutyReleased` is not one).
pub fn is_move_keyword(flag: &str) -> bool {
    if flag.eq_ignore_ascii_case(CLAIM) {
        return true;
    }
    let Some((head, who)) = flag.split_once('_') else {
        return false;
    };
    !who.is_empty()
        && [CLAIM, ASSIGN, RELEASE, DONE, HOLD, DISMISS, UNHOLD]
            .iter()
            .any(|p| head.eq_ignore_ascii_case(p))
}

/// Where a message sits, as the desk sees the folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Inbox,
    Unclaimed,
    Member(String),
    /// The 対応中 folder itself, or a subfolder that is no member's.
    ClaimedUnknown,
    Done,
    Held,
    Dismissed,
}

/// The event a stale keyword on a message in `place` stands for: what the mover was
/// doing when it stopped, if the message got there. None when the move did not happen
/// (the message is still where it started) or the keyword says nothing.
pub fn explain(place: &Place, flag: &str) -> Option<(&'static str, String)> {
    let (head, who) = match flag.split_once('_') {
        Some((h, w)) => (h, Some(w)),
        None => (flag, None),
    };
    let is = |p: &str| head.eq_ignore_ascii_case(p);
    match (place, who) {
        (Place::Unclaimed, None) if is(CLAIM) => Some(("file", ROTATE.to_string())),
        (Place::Unclaimed, Some(w)) if is(RELEASE) => Some(("release", w.to_string())),
        (Place::Member(m), Some(w)) if is(ASSIGN) && w == m => Some(("assign", ROTATE.to_string())),
        (Place::Member(m), Some(w)) if is(CLAIM) && w == m => Some(("claim", w.to_string())),
        (Place::Done, Some(w)) if is(DONE) => Some(("done", w.to_string())),
        (Place::Held, Some(w)) if is(HOLD) => Some(("hold", w.to_string())),
        (Place::Member(m), Some(w)) if is(UNHOLD) && w == m => Some(("unhold", ROTATE.to_string())),
        (Place::Unclaimed, Some(_)) if is(UNHOLD) => Some(("unhold", ROTATE.to_string())),
        (Place::Dismissed, Some(w)) if is(DISMISS) => Some(("dismiss", w.to_string())),
        _ => None,
    }
}

/// Whether a copy in `a` is kept over one in `b` by `keeper`'s rule.
pub fn precedes(a: (&Place, &str), b: (&Place, &str)) -> bool {
    (rank(a.0), a.1) < (rank(b.0), b.1)
}

fn rank(p: &Place) -> u8 {
    match p {
        Place::Member(_) => 0,
        Place::ClaimedUnknown => 1,
        Place::Held => 2,
        Place::Done => 3,
        Place::Dismissed => 4,
        Place::Unclaimed => 5,
        Place::Inbox => 6,
    }
}

/// A keyword is stale when a second look, at least `STALE` after the first, finds
/// the message unchanged: same MODSEQ (where the server has CONDSTORE) and the same
/// keywords. A live mover either moves the message or clears its keyword well within
/// that time.
pub fn is_stale(first: (u64, &[String]), second: (u64, &[String])) -> bool {
    let kw = |f: &[String]| {
        let mut v: Vec<String> = f
            .iter()
            .filter(|x| is_move_keyword(x))
            .map(|x| x.to_ascii_lowercase())
            .collect();
        v.sort();
        v
    };
    first.0 == second.0 && !kw(first.1).is_empty() && kw(first.1) == kw(second.1)
}

/// Of several proven copies of one stored message, the one that stays: a member
/// folder beats 未対応 (a claim beats intake), the alphabetically first member folder
/// beats the others (concurrent claimers), 未対応 beats the inbox (intake finished),
/// and within one folder the lowest UID (the first copy to arrive). Returns the index.
pub fn keeper(copies: &[(&Place, &str, u32)]) -> Option<usize> {
    copies
        .iter()
        .enumerate()
        .min_by(|(_, a), (_, b)| (rank(a.0), a.1, a.2).cmp(&(rank(b.0), b.1, b.2)))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_name_the_move_and_explain_it_back() {
        let t = Actor::Member("tanaka");
        let cases = [
            (
                Dest::Unclaimed,
                Actor::Rotate,
                Place::Unclaimed,
                "file",
                "rotate",
            ),
            (
                Dest::Member("tanaka".into()),
                Actor::Rotate,
                Place::Member("tanaka".into()),
                "assign",
                "rotate",
            ),
            (
                Dest::Member("tanaka".into()),
                t,
                Place::Member("tanaka".into()),
                "claim",
                "tanaka",
            ),
            (Dest::Unclaimed, t, Place::Unclaimed, "release", "tanaka"),
            (Dest::Done, t, Place::Done, "done", "tanaka"),
            (Dest::Held, t, Place::Held, "hold", "tanaka"),
            (
                Dest::Dismissed,
                Actor::Rotate,
                Place::Dismissed,
                "dismiss",
                "rotate",
            ),
        ];
        for (dest, actor, place, kind, who) in cases {
            let kw = keyword(&dest, actor);
            assert!(is_move_keyword(&kw), "{kw}");
            assert_eq!(explain(&place, &kw), Some((kind, who.to_string())), "{kw}");
            // Still in the inbox: the move never happened, nothing to write.
            assert_eq!(explain(&Place::Inbox, &kw), None);
        }
        // A claim keyword in someone else's folder explains nothing.
        assert_eq!(
            explain(&Place::Member("suzuki".into()), "$MailDutyClaim_tanaka"),
            None
        );
        assert!(!is_move_keyword(RELEASED));
        assert!(!is_move_keyword("$Forwarded"));
        assert_ne!(
            keyword(&Dest::Member("a".into()), Actor::Rotate),
            keyword(&Dest::Member("a".into()), Actor::Member("a"))
        );
    }

    #[test]
    fn stale_means_unchanged_across_the_wait() {
        let k = vec!["$MailDutyClaim".to_string()];
        let none: Vec<String> = vec![];
        assert!(is_stale((7, &k), (7, &k)));
        assert!(!is_stale((7, &k), (8, &k)), "someone changed it meanwhile");
        assert!(!is_stale((7, &k), (7, &none)), "the mover cleared it");
        assert!(
            !is_stale((7, &none), (7, &none)),
            "no keyword, nothing stale"
        );
    }

    #[test]
    fn one_rule_picks_the_copy_that_stays() {
        let m_a = Place::Member("a".into());
        let m_b = Place::Member("b".into());
        let copies = [
            (&Place::Unclaimed, "未対応", 3),
            (&m_b, "対応中/b", 9),
            (&m_a, "対応中/a", 12),
            (&Place::Inbox, "INBOX", 1),
        ];
        assert_eq!(keeper(&copies), Some(2));
        let same = [
            (&Place::Unclaimed, "未対応", 8),
            (&Place::Unclaimed, "未対応", 5),
        ];
        assert_eq!(keeper(&same), Some(1));
        let intake = [
            (&Place::Inbox, "INBOX", 2),
            (&Place::Unclaimed, "未対応", 40),
        ];
        assert_eq!(keeper(&intake), Some(1));
        assert_eq!(keeper(&[]), None);
        // `take` asks the same question one pair at a time.
        assert!(precedes((&m_a, "対応中/a"), (&m_b, "対応中/b")));
        assert!(precedes(
            (&m_b, "対応中/b"),
            (&Place::ClaimedUnknown, "対応中")
        ));
        assert!(!precedes((&Place::Unclaimed, "未対応"), (&m_b, "対応中/b")));
    }
}
