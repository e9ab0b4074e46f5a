//! Checking who is on duty when: weekdays, the calendar (holidays, business hours)
//! and the roster with its rotation, each mistake named with a suggestion.

use super::*;

impl Validator<'_> {
    pub(super) fn weekday(&mut self, at: &[&str], key: &str) -> Option<Weekday> {
        if let Some(wd) = roster::parse_weekday(key) {
            return Some(wd);
        }
        let lower = key.to_lowercase();
        let hint = roster::WEEKDAYS
            .iter()
            .find(|w| lower.starts_with(*w))
            .copied()
            .or_else(|| did_you_mean(&lower, roster::WEEKDAYS))
            .map(|s| format!("; did you mean {s:?}?"))
            .unwrap_or_default();
        self.problem(
            at,
            format!("{key:?} is not a weekday (mon tue wed thu fri sat sun){hint}"),
        );
        None
    }

    pub(super) fn calendar(
        &mut self,
        tz: chrono_tz::Tz,
        hours: Option<RawHours>,
        hol: RawHolidays,
    ) -> Calendar {
        let mut cal = Calendar::default_japan();
        cal.tz = tz;
        if let Some(h) = hours {
            let mut time = |key: &str, v: Option<String>, default: NaiveTime| match v {
                None => default,
                // 24:00 closes at midnight; the calendar stores it as 00:00.
                Some(s) if s.trim() == "24:00" => NaiveTime::MIN,
                Some(s) => NaiveTime::parse_from_str(s.trim(), "%H:%M").unwrap_or_else(|_| {
                    self.problem(
                        &["business_hours", key],
                        format!("{s:?} is not a time like 09:00"),
                    );
                    default
                }),
            };
            cal.start = time("start", h.start, cal.start);
            cal.end = time("end", h.end, cal.end);
            if cal.end <= cal.start && cal.end != NaiveTime::MIN {
                self.problem(&["business_hours", "end"], "must be later than start");
            }
            if let Some(days) = h.days {
                let mut set = std::collections::BTreeSet::new();
                for d in &days {
                    if let Some(wd) = self.weekday(&["business_hours", "days"], d) {
                        set.insert(wd.num_days_from_monday());
                    }
                }
                if set.is_empty() {
                    self.problem(
                        &["business_hours", "days"],
                        "no business days: list some, e.g. [mon, tue, wed, thu, fri]",
                    );
                }
                cal.days = set;
            }
        }
        let japan = hol.japan.unwrap_or(true);
        if !japan {
            let days: Vec<Weekday> = cal
                .days
                .iter()
                .map(|i| Weekday::try_from(*i as u8).expect("0..7"))
                .collect();
            cal = Calendar::new(
                tz,
                false,
                BTreeMap::new(),
                Vec::new(),
                cal.start,
                cal.end,
                &days,
            );
        }
        for d in hol.dates {
            let (date, name) = match d.trim().split_once(char::is_whitespace) {
                Some((a, b)) => (a.to_string(), b.trim().to_string()),
                None => (d.trim().to_string(), String::new()),
            };
            match NaiveDate::parse_from_str(&date, "%Y-%m-%d") {
                Ok(day) => {
                    cal.dates.insert(day, name);
                }
                Err(_) => self.problem(
                    &["roster", "holidays", "dates"],
                    format!("{date:?} is not a date (YYYY-MM-DD, optionally followed by a name)"),
                ),
            }
        }
        for y in hol.yearly {
            match YearlyRange::parse(&y) {
                Some(r) => cal.yearly.push(r),
                None => self.problem(
                    &["roster", "holidays", "yearly"],
                    format!("{y:?} is not MM-DD or MM-DD..MM-DD (e.g. \"12-29..01-03 年末年始\")"),
                ),
            }
        }
        cal
    }

    pub(super) fn roster(
        &mut self,
        weekdays: Option<BTreeMap<String, OneOrMany>>,
        rotation: Option<RawRotation>,
        overrides: BTreeMap<String, OneOrMany>,
        keys: &[String],
        cal: &Calendar,
    ) -> Roster {
        let mut plan = Plan::Nobody;
        if weekdays.is_some() && rotation.is_some() {
            self.problem(
                &["roster", "rotation"],
                "give roster.weekdays or roster.rotation, not both",
            );
        }
        if let Some(w) = weekdays {
            let mut days: [Vec<String>; 7] = Default::default();
            for (k, who) in w {
                let at = ["roster", "weekdays", k.as_str()];
                let Some(wd) = self.weekday(&at, &k) else {
                    continue;
                };
                let who = self.known_members(&at, who.into_vec(), keys);
                if !cal.is_work_weekday(wd) && !who.is_empty() {
                    self.warn(
                        &at,
                        format!("{k} is not in business_hours.days, so this duty is never used"),
                    );
                }
                days[wd.num_days_from_monday() as usize] = who;
            }
            for (i, name) in roster::WEEKDAYS.iter().enumerate() {
                let wd = Weekday::try_from(i as u8).expect("0..7");
                if cal.is_work_weekday(wd) && days[i].is_empty() {
                    self.warn(
                        &["roster", "weekdays"],
                        format!("{name} is a business day with nobody on duty"),
                    );
                }
            }
            plan = Plan::Weekdays(days);
        } else if let Some(r) = rotation {
            let at = ["roster", "rotation"];
            let members =
                self.known_members(&["roster", "rotation", "members"], r.members.clone(), keys);
            if r.members.is_empty() {
                self.problem(
                    &at,
                    "a rotation with no members: list them under members: [..]",
                );
            }
            let every = match r.every.as_deref() {
                None | Some("day") => Every::Day,
                Some("week") => Every::Week,
                Some(o) => {
                    self.problem(
                        &["roster", "rotation", "every"],
                        format!("{o:?} is not day or week"),
                    );
                    Every::Day
                }
            };
            let start = match r
                .start
                .as_deref()
                .map(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d"))
            {
                Some(Ok(d)) => d,
                Some(Err(_)) => {
                    self.problem(&["roster", "rotation", "start"], "not a date (YYYY-MM-DD)");
                    NaiveDate::default()
                }
                None => {
                    self.problem(
                        &at,
                        "a rotation needs start: YYYY-MM-DD (the first member's first day)",
                    );
                    NaiveDate::default()
                }
            };
            plan = Plan::Rotation {
                members,
                every,
                start,
            };
        }
        let mut ov = BTreeMap::new();
        for (k, who) in overrides {
            let at = ["roster", "overrides", k.as_str()];
            let Ok(date) = NaiveDate::parse_from_str(k.trim(), "%Y-%m-%d") else {
                self.problem(&at, format!("{k:?} is not a valid date (YYYY-MM-DD)"));
                continue;
            };
            let who = self.known_members(&at, who.into_vec(), keys);
            if who.is_empty() && cal.is_business_day(date) {
                self.warn(&at, "a business day with nobody on duty");
            }
            ov.insert(date, who);
        }
        Roster {
            plan,
            overrides: ov,
        }
    }
}
