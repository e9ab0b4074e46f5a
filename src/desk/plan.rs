//! What `rotate --apply` does with the queue, decided without the server: intake of
//! inbox mail (thread stickiness, routes, else 未対応) and the hand-out of unclaimed
//! mail to the least-loaded member on duty.

use std::collections::HashMap;

use crate::desk::queue::{Item, Status};
use crate::rules::Rules;

/// Where one message goes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Index into the items the plan was made from.
    pub item: usize,
    /// The member it goes to; None: 未対応.
    pub owner: Option<String>,
    /// "intake", "duty", "thread", or the route's description; for automated mail
    /// the reason code and the header that told it (`automated::Verdict::note`).
    pub reason: String,
    /// Into 対応不要 instead (automated mail, a route's `action: dismiss`).
    pub dismiss: bool,
}

fn bare(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

/// Inbox mail, oldest first: automated mail and mail a route dismisses to 対応不要
/// (or, with `automated: file`, to 未対応 whatever thread it is in: an out-of-office
/// reply is nobody's follow-up), follow-ups to a member's thread to that member
/// (`threads: true`), mail matching a route to the route's owner, the rest to 未対応.
/// `busy` items (a move under way) are left for the next run.
pub fn intake(
    items: &[Item],
    rules: &Rules,
    inbox: &str,
    busy: impl Fn(&Item) -> bool,
) -> Vec<Assignment> {
    let owners: HashMap<&str, &str> = items
        .iter()
        .filter(|i| i.status == Status::Claimed)
        .filter_map(|i| Some((bare(i.message_id.as_deref()?), i.owner.as_deref()?)))
        .collect();
    let mut incoming: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].folder == inbox && !busy(&items[i]))
        .collect();
    incoming.sort_by_key(|&i| (items[i].arrived, items[i].uid));
    incoming
        .into_iter()
        .map(|i| {
            let it = &items[i];
            let dismissed_by_route = rules
                .route_for(&it.from, &it.subject)
                .filter(|r| r.dismiss)
                .map(|r| {
                    format!(
                        "{}: {}",
                        crate::automated::Reason::Route.code(),
                        r.describe()
                    )
                });
            if let Some(reason) = dismissed_by_route {
                return Assignment {
                    item: i,
                    owner: None,
                    reason,
                    dismiss: true,
                };
            }
            if let Some(v) = &it.automated {
                return Assignment {
                    item: i,
                    owner: None,
                    reason: v.note(),
                    dismiss: rules.automated == crate::rules::Automated::Dismiss,
                };
            }
            let sticky = rules
                .threads
                .then(|| {
                    it.in_reply_to
                        .iter()
                        .chain(it.references.iter().rev())
                        .find_map(|r| owners.get(bare(r)).copied())
                })
                .flatten()
                .filter(|o| rules.member(o).is_some())
                .map(|o| (o.to_string(), "thread".to_string()));
            let routed = || {
                rules
                    .route_for(&it.from, &it.subject)
                    .and_then(|r| Some((r.owner.clone()?, r.describe())))
            };
            match sticky.or_else(routed) {
                Some((owner, reason)) => Assignment {
                    item: i,
                    owner: Some(owner),
                    reason,
                    dismiss: false,
                },
                None => Assignment {
                    item: i,
                    owner: None,
                    reason: "intake".into(),
                    dismiss: false,
                },
            }
        })
        .collect()
}

/// The hand-out with the intake: human inbox mail the `intake` plan files into
/// 未対応 and the unclaimed mail already there are handed out together, oldest first,
/// each to whoever on duty holds the fewest claims. An intake entry gets its member
/// (reason "duty") and goes there straight from the inbox: one move, not two, and
/// never a moment in 未対応 for a member to take it from. Returns the hand-out of the
/// mail already in 未対応.
pub fn duty_with_intake(
    items: &[Item],
    intake: &mut [Assignment],
    unclaimed: &str,
    on_duty: &[String],
    busy: impl Fn(&Item) -> bool,
) -> Vec<Assignment> {
    let filed: HashMap<usize, usize> = intake
        .iter()
        .enumerate()
        .filter(|(_, a)| a.owner.is_none() && !a.dismiss && items[a.item].automated.is_none())
        .map(|(k, a)| (a.item, k))
        .collect();
    // Follow-ups and routed mail this intake gives to a member count as their claims.
    let given: Vec<&str> = intake.iter().filter_map(|a| a.owner.as_deref()).collect();
    let mut out = Vec::new();
    for a in hand_out_of(items, on_duty, &given, |i| {
        filed.contains_key(&i) || waits(&items[i], unclaimed, &busy)
    }) {
        match filed.get(&a.item) {
            Some(&k) => intake[k] = a,
            None => out.push(a),
        }
    }
    out
}

fn waits(it: &Item, unclaimed: &str, busy: impl Fn(&Item) -> bool) -> bool {
    // Automated mail filed into 未対応 is for whoever looks, never handed out.
    it.folder == unclaimed && !it.released && !busy(it) && it.automated.is_none()
}

/// The messages `waiting` picks, oldest first, each to the least-loaded member.
/// `given`: the owners of mail this run gives out besides.
fn hand_out_of(
    items: &[Item],
    on_duty: &[String],
    given: &[&str],
    waiting: impl Fn(usize) -> bool,
) -> Vec<Assignment> {
    if on_duty.is_empty() {
        return Vec::new();
    }
    let mut load: Vec<usize> = on_duty
        .iter()
        .map(|m| {
            items
                .iter()
                .filter(|i| i.status == Status::Claimed && i.owner.as_deref() == Some(m.as_str()))
                .count()
                + given.iter().filter(|g| **g == m.as_str()).count()
        })
        .collect();
    let mut waiting: Vec<usize> = (0..items.len()).filter(|&i| waiting(i)).collect();
    waiting.sort_by_key(|&i| (items[i].arrived, items[i].uid));
    waiting
        .into_iter()
        .map(|i| {
            let (k, _) = load
                .iter()
                .enumerate()
                .min_by_key(|(k, n)| (**n, *k))
                .expect("on_duty is not empty");
            load[k] += 1;
            Assignment {
                item: i,
                owner: Some(on_duty[k].clone()),
                reason: "duty".into(),
                dismiss: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn item(folder: &str, uid: u32, mid: &str, owner: Option<&str>) -> Item {
        Item {
            id: format!("id{uid}"),
            message_id: Some(mid.to_string()),
            status: if owner.is_some() {
                Status::Claimed
            } else {
                Status::Unclaimed
            },
            owner: owner.map(str::to_string),
            folder: folder.into(),
            uid,
            arrived: DateTime::from_timestamp(1_700_000_000 + i64::from(uid), 0).unwrap(),
            ..Item::default()
        }
    }

    fn rules(yaml: &str) -> Rules {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("rules.yaml");
        std::fs::write(
            &p,
            format!("imap: {{ host: 127.0.0.1, port: 1, tls: none, user: u, password_env: X }}\nmembers:\n  tanaka: {{ name: T }}\n  suzuki: {{ name: S }}\n{yaml}"),
        )
        .unwrap();
        crate::rules::load(&p).unwrap().rules
    }

    #[test]
    fn follow_ups_go_to_the_thread_owner_the_rest_to_unclaimed() {
        let r = rules("threads: true\n");
        let mut reply = item("INBOX", 5, "r@x", None);
        reply.in_reply_to = vec!["<a@x>".into()];
        let items = vec![
            item("対応中/suzuki", 1, "a@x", Some("suzuki")),
            reply,
            item("INBOX", 3, "b@x", None),
        ];
        let plan = intake(&items, &r, "INBOX", |_| false);
        assert_eq!(
            plan,
            vec![
                Assignment {
                    item: 2,
                    owner: None,
                    reason: "intake".into(),
                    dismiss: false,
                },
                Assignment {
                    item: 1,
                    owner: Some("suzuki".into()),
                    reason: "thread".into(),
                    dismiss: false,
                },
            ]
        );
        // A busy message waits for the next run.
        assert_eq!(intake(&items, &r, "INBOX", |i| i.uid == 3).len(), 1);
    }

    #[test]
    fn automated_mail_is_dismissed_or_filed_and_never_follows_a_thread() {
        let verdict = |h: &str| crate::automated::classify(h.as_bytes(), "x@y", None, &[0; 32]);
        let mut ooo = item("INBOX", 5, "r@x", None);
        ooo.in_reply_to = vec!["<a@x>".into()];
        ooo.automated = verdict("Auto-Submitted: auto-replied\r\n");
        let mut news = item("INBOX", 6, "n@x", None);
        news.from = "info@news.example".into();
        let items = vec![
            item("対応中/suzuki", 1, "a@x", Some("suzuki")),
            ooo,
            news,
            item("INBOX", 7, "p@x", None),
        ];
        let routes = "routes:\n  - match: { from: news.example }\n    action: dismiss\n";
        let r = rules(&format!("threads: true\n{routes}"));
        let plan = intake(&items, &r, "INBOX", |_| false);
        let by = |i: usize| plan.iter().find(|a| a.item == i).unwrap();
        assert!(by(1).dismiss && by(1).owner.is_none());
        assert_eq!(by(1).reason, "auto_reply: Auto-Submitted: auto-replied");
        assert!(by(2).dismiss && by(2).reason.starts_with("route: route 1"));
        assert!(!by(3).dismiss);
        let r = rules(&format!("threads: true\nautomated: file\n{routes}"));
        let plan = intake(&items, &r, "INBOX", |_| false);
        let by = |i: usize| plan.iter().find(|a| a.item == i).unwrap();
        assert!(
            !by(1).dismiss && by(1).owner.is_none(),
            "not the thread's owner"
        );
        // Filed automated mail is never handed out.
        let mut filed = items[1].clone();
        filed.folder = "未対応".into();
        assert!(
            duty_with_intake(
                &[filed],
                &mut [],
                "未対応",
                &["tanaka".to_string()],
                |_| false
            )
            .is_empty()
        );
    }

    #[test]
    fn hand_out_balances_the_duty() {
        let items = vec![
            item("対応中/tanaka", 1, "a@x", Some("tanaka")),
            item("未対応", 2, "b@x", None),
            item("未対応", 3, "c@x", None),
            item("未対応", 4, "d@x", None),
        ];
        let duty = vec!["tanaka".to_string(), "suzuki".to_string()];
        let hand_out = |items: &[Item], duty: &[String]| {
            duty_with_intake(items, &mut [], "未対応", duty, |_| false)
        };
        let who: Vec<String> = hand_out(&items, &duty)
            .into_iter()
            .map(|a| a.owner.unwrap())
            .collect();
        assert_eq!(who, ["suzuki", "tanaka", "suzuki"]);
        assert!(hand_out(&items, &[]).is_empty());
        let mut released = items.clone();
        released[1].released = true;
        assert_eq!(hand_out(&released, &duty).len(), 2);
    }

    #[test]
    fn new_human_mail_goes_to_the_duty_from_the_inbox_with_the_waiting_mail() {
        let r = rules("threads: true\n");
        let mut reply = item("INBOX", 9, "r@x", None);
        reply.in_reply_to = vec!["<a@x>".into()];
        let mut ooo = item("INBOX", 8, "o@x", None);
        ooo.automated =
            crate::automated::classify(b"Auto-Submitted: auto-replied\r\n", "x@y", None, &[0; 32]);
        let items = vec![
            item("対応中/suzuki", 1, "a@x", Some("suzuki")),
            item("未対応", 2, "b@x", None),
            item("INBOX", 3, "c@x", None),
            ooo,
            reply,
            item("INBOX", 10, "d@x", None),
        ];
        let duty = vec!["tanaka".to_string(), "suzuki".to_string()];
        let mut plan = intake(&items, &r, "INBOX", |_| false);
        let later = duty_with_intake(&items, &mut plan, "未対応", &duty, |_| false);
        // The follow-up counts as suzuki's claim: tanaka takes all three (without it,
        // suzuki would get the last).
        let owner = |k: usize| {
            let a = plan.iter().chain(&later).find(|a| a.item == k).unwrap();
            (a.owner.clone(), a.reason.clone())
        };
        assert_eq!(owner(1), (Some("tanaka".into()), "duty".into()));
        assert_eq!(owner(2), (Some("tanaka".into()), "duty".into()));
        assert_eq!(owner(5), (Some("tanaka".into()), "duty".into()));
        assert_eq!(owner(4), (Some("suzuki".into()), "thread".into()));
        // Automated mail stays for whoever looks; only 未対応's own mail is left for
        // the hand-out step.
        assert_eq!(owner(3).0, None);
        assert_eq!(later.iter().map(|a| a.item).collect::<Vec<_>>(), [1]);
        // Nobody on duty: the intake files as before.
        let mut plain = intake(&items, &r, "INBOX", |_| false);
        assert!(duty_with_intake(&items, &mut plain, "未対応", &[], |_| false).is_empty());
        assert_eq!(plain, intake(&items, &r, "INBOX", |_| false));
    }
}
