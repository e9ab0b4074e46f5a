//! Who is on duty on a given day: fixed weekdays or a rotation, per-date overrides,
//! and no duty on holidays or days outside business hours. Pure functions over the
//! calendar; the date is always a parameter.
//!
//! A pure module: calls only `calendar`; `rules` builds a `Roster` from the file.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;

use crate::calendar::Calendar;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Day,
    Week,
}

#[derive(Debug, Clone)]
pub enum Plan {
    /// No roster in the rules: nobody is on duty.
    Nobody,
    /// Monday = index 0.
    Weekdays([Vec<String>; 7]),
    Rotation {
        members: Vec<String>,
        every: Every,
        start: NaiveDate,
    },
}

#[derive(Debug, Clone)]
pub struct Roster {
    pub plan: Plan,
    pub overrides: BTreeMap<NaiveDate, Vec<String>>,
}

/// One day of the roster.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Duty {
    pub date: NaiveDate,
    pub weekday: &'static str,
    /// The holiday's name, national or company.
    pub holiday: Option<String>,
    pub business_day: bool,
    /// Member keys on duty, in roster order.
    pub on_duty: Vec<String>,
    /// Set when a per-date override decided the day.
    pub overridden: bool,
}

pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const WEEKDAYS_JA: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

pub fn weekday_key(wd: Weekday) -> &'static str {
    WEEKDAYS[wd.num_days_from_monday() as usize]
}

pub fn weekday_ja(wd: Weekday) -> &'static str {
    WEEKDAYS_JA[wd.num_days_from_monday() as usize]
}

pub fn parse_weekday(s: &str) -> Option<Weekday> {
    WEEKDAYS
        .iter()
        .position(|w| w.eq_ignore_ascii_case(s))
        .map(|i| Weekday::try_from(i as u8).expect("0..7"))
}

impl Roster {
    pub fn nobody() -> Roster {
        Roster {
            plan: Plan::Nobody,
            overrides: BTreeMap::new(),
        }
    }

    /// The duty of one day. An override decides its date even on a holiday (someone
    /// who agreed to work it); otherwise holidays and non-business weekdays have no duty.
    pub fn duty(&self, cal: &Calendar, date: NaiveDate) -> Duty {
        self.duty_at(cal, date, None)
    }

    /// `turn`: the rotation's count for `date` when the caller has it already.
    fn duty_at(&self, cal: &Calendar, date: NaiveDate, turn: Option<i64>) -> Duty {
        let holiday = cal.holiday(date);
        let business_day = cal.is_work_weekday(date.weekday()) && holiday.is_none();
        let (on_duty, overridden) = match self.overrides.get(&date) {
            Some(m) => (m.clone(), true),
            None if !business_day => (Vec::new(), false),
            None => (self.planned(cal, date, turn), false),
        };
        Duty {
            date,
            weekday: weekday_key(date.weekday()),
            holiday,
            business_day,
            on_duty,
            overridden,
        }
    }

    fn planned(&self, cal: &Calendar, date: NaiveDate, turn: Option<i64>) -> Vec<String> {
        match &self.plan {
            Plan::Nobody => Vec::new(),
            Plan::Weekdays(days) => days[date.weekday().num_days_from_monday() as usize].clone(),
            Plan::Rotation {
                members,
                every,
                start,
            } => {
                if members.is_empty() {
                    return Vec::new();
                }
                let turn = turn.unwrap_or_else(|| turn_of(cal, *every, *start, date));
                let n = members.len() as i64;
                vec![members[turn.rem_euclid(n) as usize].clone()]
            }
        }
    }

    /// The coming `n` days from `from`. The rotation's count is taken once for `from`
    /// and carried forward: counted again for every day, a start years away costs
    /// a walk over those years per day.
    pub fn days(&self, cal: &Calendar, from: NaiveDate, n: u32) -> Vec<Duty> {
        let mut turn = match &self.plan {
            Plan::Rotation { every, start, .. } => {
                Some((*every, turn_of(cal, *every, *start, from)))
            }
            _ => None,
        };
        let mut out = Vec::with_capacity(n as usize);
        for d in from.iter_days().take(n as usize) {
            out.push(self.duty_at(cal, d, turn.map(|(_, t)| t)));
            if let Some((every, t)) = turn.as_mut() {
                *t += match every {
                    Every::Day => i64::from(business(cal, d)),
                    // Crossing into a new week passes the turn if the week ending
                    // today had work.
                    Every::Week => i64::from(
                        d.weekday() == chrono::Weekday::Sun
                            && (0..7).any(|i| business(cal, d - chrono::Duration::days(i))),
                    ),
                };
            }
        }
        out
    }
}

fn turn_of(cal: &Calendar, every: Every, start: NaiveDate, date: NaiveDate) -> i64 {
    match every {
        Every::Day => business_days_between(cal, start, date),
        Every::Week => working_weeks_between(cal, start, date),
    }
}

#[cfg(test)]
thread_local! {
    /// Business-day look-ups made by this module, for the cost tests.
    static LOOKUPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn business(cal: &Calendar, d: NaiveDate) -> bool {
    #[cfg(test)]
    LOOKUPS.with(|c| c.set(c.get() + 1));
    cal.is_business_day(d)
}

/// Business days in [start, date) — negative when `date` is before `start` — so a
/// holiday does not use up anyone's turn.
fn business_days_between(cal: &Calendar, start: NaiveDate, date: NaiveDate) -> i64 {
    let (a, b, sign) = if date >= start {
        (start, date, 1)
    } else {
        (date, start, -1)
    };
    let count = a
        .iter_days()
        .take_while(|d| *d < b)
        .filter(|d| business(cal, *d))
        .count() as i64;
    sign * count
}

/// Weeks (Monday to Sunday) with at least one business day, from the week of `start`
/// up to but not including the week of `date`. A week without business days (a long
/// holiday) passes nobody's turn.
fn working_weeks_between(cal: &Calendar, start: NaiveDate, date: NaiveDate) -> i64 {
    let monday =
        |d: NaiveDate| d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()));
    let (a, b) = (monday(start), monday(date));
    let (lo, hi, sign) = if b >= a { (a, b, 1) } else { (b, a, -1) };
    let mut weeks = 0;
    let mut w = lo;
    while w < hi {
        if w.iter_days().take(7).any(|d| business(cal, d)) {
            weeks += 1;
        }
        w += chrono::Duration::days(7);
    }
    sign * weeks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn weekdays() -> Roster {
        let mut days: [Vec<String>; 7] = Default::default();
        for (i, who) in ["a", "b", "a", "b", "a"].iter().enumerate() {
            days[i] = vec![who.to_string()];
        }
        Roster {
            plan: Plan::Weekdays(days),
            overrides: BTreeMap::new(),
        }
    }

    fn rotation(every: Every) -> Roster {
        Roster {
            plan: Plan::Rotation {
                members: vec!["a".into(), "b".into(), "c".into()],
                every,
                start: d("2026-11-16"),
            },
            overrides: BTreeMap::new(),
        }
    }

    #[test]
    fn fixed_weekdays_with_holidays_and_overrides() {
        let cal = Calendar::default_japan();
        let mut r = weekdays();
        assert_eq!(r.duty(&cal, d("2026-11-24")).on_duty, ["b"]); // Tue
        assert_eq!(r.duty(&cal, d("2026-11-25")).on_duty, ["a"]); // Wed
        let sat = r.duty(&cal, d("2026-11-21"));
        assert!(sat.on_duty.is_empty() && !sat.business_day);
        let holiday = r.duty(&cal, d("2026-11-23")); // 勤労感謝の日, a Monday
        assert_eq!(holiday.holiday.as_deref(), Some("勤労感謝の日"));
        assert!(holiday.on_duty.is_empty());
        r.overrides.insert(d("2026-12-24"), vec!["c".into()]);
        let ov = r.duty(&cal, d("2026-12-24"));
        assert_eq!(ov.on_duty, ["c"]);
        assert!(ov.overridden);
    }

    #[test]
    fn daily_rotation_skips_holidays_without_losing_a_turn() {
        let cal = Calendar::default_japan();
        let r = rotation(Every::Day);
        let who = |s| r.duty(&cal, d(s)).on_duty.join(",");
        // Mon 11-16 a, Tue b, Wed c, Thu a, Fri b, (weekend), Mon 11-23 holiday, Tue 11-24 c.
        assert_eq!(who("2026-11-16"), "a");
        assert_eq!(who("2026-11-18"), "c");
        assert_eq!(who("2026-11-20"), "b");
        assert_eq!(who("2026-11-23"), "");
        assert_eq!(who("2026-11-24"), "c");
        assert_eq!(who("2026-11-25"), "a");
        // Before the start date it runs backwards consistently.
        assert_eq!(who("2026-11-13"), "c");
    }

    #[test]
    fn weekly_rotation_passes_over_weeks_without_work() {
        let mut cal = Calendar::default_japan();
        let r = rotation(Every::Week);
        let who = |cal: &Calendar, s| r.duty(cal, d(s)).on_duty.join(",");
        assert_eq!(who(&cal, "2026-11-16"), "a");
        assert_eq!(who(&cal, "2026-11-20"), "a");
        assert_eq!(who(&cal, "2026-11-24"), "b");
        assert_eq!(who(&cal, "2026-12-01"), "c");
        // A company shutdown for the whole week of 11-30 keeps c's turn for the next week.
        cal.yearly
            .push(crate::calendar::YearlyRange::parse("11-30..12-04").unwrap());
        assert_eq!(who(&cal, "2026-12-07"), "c");
    }

    #[test]
    fn a_year_of_days_far_from_the_start_counts_once() {
        let cal = Calendar::default_japan();
        for every in [Every::Day, Every::Week] {
            let r = rotation(every);
            for from in [
                "2300-01-01",
                "2026-11-10",
                "2026-10-01",
                "2100-01-01",
                "1990-03-01",
            ] {
                let from = d(from);
                LOOKUPS.with(|c| c.set(0));
                let days = r.days(&cal, from, 365);
                let cost = LOOKUPS.with(|c| c.get());
                let span = (from - d("2026-11-16")).num_days().unsigned_abs();
                assert!(
                    cost <= span + 365 * 8,
                    "{every:?} from {from}: {cost} look-ups"
                );
                // The same answers as asking day by day (which walks from the start
                // each time, so only near it for every day).
                if span > 100_000 {
                    continue;
                }
                let step = if span < 1000 { 1 } else { 37 };
                for (i, x) in days.iter().enumerate().step_by(step) {
                    let day = from + chrono::Duration::days(i as i64);
                    assert_eq!(x.on_duty, r.duty(&cal, day).on_duty, "{every:?} {day}");
                }
                assert_eq!(days[364].on_duty, r.duty(&cal, days[364].date).on_duty);
            }
        }
    }

    #[test]
    fn a_table_of_days() {
        let cal = Calendar::default_japan();
        let days = weekdays().days(&cal, d("2026-11-20"), 5);
        let row: Vec<_> = days
            .iter()
            .map(|x| format!("{} {}", x.weekday, x.on_duty.join(",")))
            .collect();
        assert_eq!(row, ["fri a", "sat ", "sun ", "mon ", "tue b"]);
        assert_eq!(parse_weekday("Wed"), Some(Weekday::Wed));
        assert_eq!(parse_weekday("wednesday"), None);
    }
}
