//! The working calendar: Japanese national holidays computed from the law (国民の祝日に
//! 関する法律 and the one-off laws of 1959, 1989–1993 and 2019–2021), company holidays,
//! business hours, and time counted in business hours. Pure functions: "now" is always
//! a parameter. Imports no other module of mailduty.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Years the national-holiday rules are written for: the law took effect in July 1948,
/// and the equinox formula holds until 2099.
pub const FIRST_YEAR: i32 = 1949;
pub const LAST_YEAR: i32 = 2099;

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid calendar date")
}

/// The n-th (1-based) given weekday of a month.
fn nth_weekday(y: i32, m: u32, wd: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(y, m, wd, n).expect("every month has 4 of each weekday")
}

/// Day of the vernal / autumnal equinox in Japan by the usual formula, which agrees
/// with the observatory's published days for 1900–2099. The leap-year correction
/// truncates toward zero (the formula's `int()`); flooring it is off by one day for
/// several years of the 1970s.
fn equinox(y: i32, autumn: bool) -> u32 {
    let (base, from) = match (autumn, y < 1980) {
        (false, true) => (20.8357, 1983),
        (false, false) => (20.8431, 1980),
        (true, true) => (23.2588, 1983),
        (true, false) => (23.2488, 1980),
    };
    let d = base + 0.242194 * f64::from(y - 1980) - f64::from((y - from) / 4);
    d.floor() as u32
}

/// The 国民の祝日 themselves (without 振替休日 and 国民の休日) for one year.
fn festivals(y: i32) -> Vec<(NaiveDate, &'static str)> {
    use Weekday::Mon;
    let mut v = vec![(ymd(y, 1, 1), "元日")];
    v.push(if y < 2000 {
        (ymd(y, 1, 15), "成人の日")
    } else {
        (nth_weekday(y, 1, Mon, 2), "成人の日")
    });
    if y >= 1967 {
        v.push((ymd(y, 2, 11), "建国記念の日"));
    }
    if y >= 2020 {
        v.push((ymd(y, 2, 23), "天皇誕生日"));
    }
    v.push((ymd(y, 3, equinox(y, false)), "春分の日"));
    v.push((
        ymd(y, 4, 29),
        match y {
            ..=1988 => "天皇誕生日",
            1989..=2006 => "みどりの日",
            _ => "昭和の日",
        },
    ));
    v.push((ymd(y, 5, 3), "憲法記念日"));
    if y >= 2007 {
        v.push((ymd(y, 5, 4), "みどりの日"));
    }
    v.push((ymd(y, 5, 5), "こどもの日"));
    match y {
        1996..=2002 => v.push((ymd(y, 7, 20), "海の日")),
        2020 => v.push((ymd(y, 7, 23), "海の日")),
        2021 => v.push((ymd(y, 7, 22), "海の日")),
        2003.. => v.push((nth_weekday(y, 7, Mon, 3), "海の日")),
        _ => {}
    }
    match y {
        2020 => v.push((ymd(y, 8, 10), "山の日")),
        2021 => v.push((ymd(y, 8, 8), "山の日")),
        2016.. => v.push((ymd(y, 8, 11), "山の日")),
        _ => {}
    }
    match y {
        1966..=2002 => v.push((ymd(y, 9, 15), "敬老の日")),
        2003.. => v.push((nth_weekday(y, 9, Mon, 3), "敬老の日")),
        _ => {}
    }
    v.push((ymd(y, 9, equinox(y, true)), "秋分の日"));
    match y {
        1966..=1999 => v.push((ymd(y, 10, 10), "体育の日")),
        2000..=2019 => v.push((nth_weekday(y, 10, Mon, 2), "体育の日")),
        2020 => v.push((ymd(y, 7, 24), "スポーツの日")),
        2021 => v.push((ymd(y, 7, 23), "スポーツの日")),
        2022.. => v.push((nth_weekday(y, 10, Mon, 2), "スポーツの日")),
        _ => {}
    }
    v.push((ymd(y, 11, 3), "文化の日"));
    v.push((ymd(y, 11, 23), "勤労感謝の日"));
    if (1989..=2018).contains(&y) {
        v.push((ymd(y, 12, 23), "天皇誕生日"));
    }
    // Holidays by their own one-off laws.
    let once: &[(i32, u32, u32, &str)] = &[
        (1959, 4, 10, "皇太子明仁親王の結婚の儀"),
        (1989, 2, 24, "大喪の礼"),
        (1990, 11, 12, "即位礼正殿の儀"),
        (1993, 6, 9, "結婚の儀"),
        (2019, 5, 1, "天皇の即位の日"),
        (2019, 10, 22, "即位礼正殿の儀"),
    ];
    for &(oy, m, d, name) in once {
        if oy == y {
            v.push((ymd(y, m, d), name));
        }
    }
    v.sort();
    v
}

/// All national holidays of a year, with 振替休日 and 国民の休日, sorted by date.
/// Empty outside FIRST_YEAR..=LAST_YEAR.
pub fn national_holidays(y: i32) -> Vec<(NaiveDate, &'static str)> {
    if !(FIRST_YEAR..=LAST_YEAR).contains(&y) {
        return Vec::new();
    }
    // December's substitute day can fall into the next year only in theory (12-23 on a
    // Sunday gives 12-24), so one year at a time is enough.
    let fest = festivals(y);
    let is_fest = |d: NaiveDate| fest.iter().any(|(f, _)| *f == d);
    let mut all: BTreeMap<NaiveDate, &'static str> = fest.iter().copied().collect();
    // 振替休日: from 1973-04-12 the Monday after a Sunday holiday; from 2007 the first
    // following day that is not itself a holiday.
    let substitute_from = ymd(1973, 4, 12);
    for (d, _) in &fest {
        if d.weekday() != Weekday::Sun || *d < substitute_from {
            continue;
        }
        let mut s = d.succ_opt().expect("in range");
        if y >= 2007 {
            while is_fest(s) {
                s = s.succ_opt().expect("in range");
            }
        } else if is_fest(s) {
            continue;
        }
        all.entry(s).or_insert("振替休日");
    }
    // 国民の休日: from 1986 (law of 1985-12-27), a day between two 国民の祝日; until
    // 2006 not a Sunday nor a 振替休日.
    if y >= 1986 {
        for (d, _) in &fest {
            let mid = d.succ_opt().expect("in range");
            let next = mid.succ_opt().expect("in range");
            if is_fest(next) && !is_fest(mid) {
                let excluded =
                    y < 2007 && (mid.weekday() == Weekday::Sun || all.contains_key(&mid));
                if !excluded {
                    all.entry(mid).or_insert("国民の休日");
                }
            }
        }
    }
    all.into_iter().collect()
}

/// A yearly company holiday range by month and day, e.g. 12-29..01-03 (may wrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearlyRange {
    pub from: (u32, u32),
    pub to: (u32, u32),
    pub name: String,
}

impl YearlyRange {
    /// `MM-DD`, `MM-DD..MM-DD`, optionally followed by a space and a name.
    pub fn parse(s: &str) -> Option<YearlyRange> {
        let s = s.trim();
        let (span, name) = match s.split_once(char::is_whitespace) {
            Some((a, b)) => (a, b.trim().to_string()),
            None => (s, String::new()),
        };
        let md = |t: &str| -> Option<(u32, u32)> {
            let (m, d) = t.split_once('-')?;
            let (m, d) = (m.parse().ok()?, d.parse().ok()?);
            // A leap year accepts every real month-day, 02-29 included.
            NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
        };
        let (from, to) = match span.split_once("..") {
            Some((a, b)) => (md(a)?, md(b)?),
            None => (md(span)?, md(span)?),
        };
        Some(YearlyRange { from, to, name })
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        let md = (d.month(), d.day());
        if self.from <= self.to {
            self.from <= md && md <= self.to
        } else {
            md >= self.from || md <= self.to
        }
    }
}

/// Which days are worked and when: business hours, weekdays and holidays.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub tz: Tz,
    pub japan: bool,
    pub dates: BTreeMap<NaiveDate, String>,
    pub yearly: Vec<YearlyRange>,
    pub start: NaiveTime,
    /// 00:00 here means 24:00, the end of the day.
    pub end: NaiveTime,
    pub days: BTreeSet<u32>,
    national: BTreeMap<NaiveDate, &'static str>,
}

pub const COMPANY_HOLIDAY: &str = "会社休日";

impl Calendar {
    pub fn new(
        tz: Tz,
        japan: bool,
        dates: BTreeMap<NaiveDate, String>,
        yearly: Vec<YearlyRange>,
        start: NaiveTime,
        end: NaiveTime,
        days: &[Weekday],
    ) -> Calendar {
        let national = if japan {
            (FIRST_YEAR..=LAST_YEAR)
                .flat_map(national_holidays)
                .collect()
        } else {
            BTreeMap::new()
        };
        Calendar {
            tz,
            japan,
            dates,
            yearly,
            start,
            end,
            days: days.iter().map(|d| d.num_days_from_monday()).collect(),
            national,
        }
    }

    /// Japanese holidays, 09:00–18:00 Monday to Friday, Asia/Tokyo.
    pub fn default_japan() -> Calendar {
        use Weekday::*;
        Calendar::new(
            chrono_tz::Asia::Tokyo,
            true,
            BTreeMap::new(),
            Vec::new(),
            NaiveTime::from_hms_opt(9, 0, 0).expect("valid"),
            NaiveTime::from_hms_opt(18, 0, 0).expect("valid"),
            &[Mon, Tue, Wed, Thu, Fri],
        )
    }

    /// The holiday's name when `d` is a national or company holiday.
    pub fn holiday(&self, d: NaiveDate) -> Option<String> {
        if let Some(name) = self.dates.get(&d) {
            return Some(if name.is_empty() {
                COMPANY_HOLIDAY.to_string()
            } else {
                name.clone()
            });
        }
        if let Some(r) = self.yearly.iter().find(|r| r.contains(d)) {
            return Some(if r.name.is_empty() {
                COMPANY_HOLIDAY.to_string()
            } else {
                r.name.clone()
            });
        }
        self.national.get(&d).map(|s| s.to_string())
    }

    pub fn is_work_weekday(&self, wd: Weekday) -> bool {
        self.days.contains(&wd.num_days_from_monday())
    }

    pub fn is_business_day(&self, d: NaiveDate) -> bool {
        self.is_work_weekday(d.weekday()) && self.holiday(d).is_none()
    }

    /// The local date of an instant in the calendar's time zone.
    pub fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }

    fn at(&self, d: NaiveDate, t: NaiveTime) -> DateTime<Utc> {
        let local = d.and_time(t);
        // A clock time that a DST change skips or repeats: take the earliest instant
        // that exists, or the next hour.
        match self.tz.from_local_datetime(&local).earliest() {
            Some(x) => x.with_timezone(&Utc),
            None => self
                .tz
                .from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
                .map_or_else(|| local.and_utc(), |x| x.with_timezone(&Utc)),
        }
    }

    /// Business time between two instants: the part of [from, to) that falls inside
    /// business hours on business days. Zero when `to` is not after `from`.
    pub fn business_time(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        let midnight = NaiveTime::MIN;
        if to <= from || (self.end <= self.start && self.end != midnight) {
            return Duration::zero();
        }
        let mut total = Duration::zero();
        let mut d = self.local_date(from);
        let last = self.local_date(to);
        while d <= last {
            if self.is_business_day(d) {
                let open = self.at(d, self.start).max(from);
                let close = if self.end == midnight {
                    self.at(d.succ_opt().unwrap_or(d), midnight)
                } else {
                    self.at(d, self.end)
                }
                .min(to);
                if close > open {
                    total += close - open;
                }
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        total
    }
}

impl Calendar {
    /// When business day `d` opens; a day that is not one opens with the next
    /// business day (within ten years, else at `d`'s opening hour).
    pub fn day_start(&self, d: NaiveDate) -> DateTime<Utc> {
        let mut day = d;
        for _ in 0..3660 {
            if self.is_business_day(day) {
                return self.at(day, self.start);
            }
            match day.succ_opt() {
                Some(n) => day = n,
                None => break,
            }
        }
        self.at(d, self.start)
    }

    /// The same clock time `n` business days after `from`'s day, kept inside
    /// business hours.
    pub fn add_business_days(&self, from: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        let mut d = self.local_date(from);
        let mut left = n;
        let mut guard = 0;
        while left > 0 {
            d = d.succ_opt()?;
            if self.is_business_day(d) {
                left -= 1;
            }
            guard += 1;
            if guard > 36600 {
                return None;
            }
        }
        let time = from.with_timezone(&self.tz).time().max(self.start);
        let time = if self.end != NaiveTime::MIN && time > self.end {
            self.end
        } else {
            time
        };
        Some(self.at(d, time))
    }

    /// The instant `amount` of business time after `from`: the inverse of
    /// `business_time`. None when that lies more than ten years ahead.
    pub fn add_business(&self, from: DateTime<Utc>, amount: Duration) -> Option<DateTime<Utc>> {
        let midnight = NaiveTime::MIN;
        if self.end <= self.start && self.end != midnight {
            return None;
        }
        let mut left = amount;
        let mut d = self.local_date(from);
        for _ in 0..3660 {
            if self.is_business_day(d) {
                let open = self.at(d, self.start).max(from);
                let close = if self.end == midnight {
                    self.at(d.succ_opt()?, midnight)
                } else {
                    self.at(d, self.end)
                };
                if close > open {
                    if close - open >= left {
                        return Some(open + left);
                    }
                    left -= close - open;
                }
            }
            d = d.succ_opt()?;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_time_added_is_business_time_measured() {
        let cal = Calendar::default_japan();
        // Friday 17:00 plus 2h: Monday 10:00 (Saturday, Sunday closed).
        let fri = tokyo("2026-12-04 17:00");
        let t = cal.add_business(fri, Duration::hours(2)).unwrap();
        assert_eq!(t, tokyo("2026-12-07 10:00"));
        assert_eq!(cal.business_time(fri, t), Duration::hours(2));
        assert_eq!(
            cal.day_start(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()),
            tokyo("2026-12-07 09:00")
        );
        // Three business days after Friday 20:00 is Wednesday, at closing time.
        let t = cal.add_business_days(tokyo("2026-12-04 20:00"), 3).unwrap();
        assert_eq!(t, tokyo("2026-12-09 18:00"));
        let t = cal.add_business_days(tokyo("2026-12-04 07:00"), 1).unwrap();
        assert_eq!(t, tokyo("2026-12-07 09:00"));
    }

    fn tokyo(s: &str) -> DateTime<Utc> {
        let local = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::Asia::Tokyo
            .from_local_datetime(&local)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn names(y: i32) -> Vec<String> {
        national_holidays(y)
            .into_iter()
            .map(|(d, n)| format!("{} {n}", d.format("%m-%d")))
            .collect()
    }

    #[test]
    fn year_2026_with_a_sandwiched_day() {
        let n = names(2026);
        assert!(n.contains(&"05-06 振替休日".to_string()), "{n:?}");
        assert!(n.contains(&"09-22 国民の休日".to_string()), "{n:?}");
        assert!(n.contains(&"03-20 春分の日".to_string()), "{n:?}");
        assert_eq!(n.len(), 18, "{n:?}");
    }

    #[test]
    fn the_moved_holidays_of_2019_to_2021() {
        let n19 = names(2019);
        for d in [
            "04-30 国民の休日",
            "05-01 天皇の即位の日",
            "05-02 国民の休日",
            "10-22 即位礼正殿の儀",
        ] {
            assert!(n19.contains(&d.to_string()), "{d} in {n19:?}");
        }
        assert!(!n19.iter().any(|s| s.contains("天皇誕生日")), "{n19:?}");
        let n20 = names(2020);
        assert!(n20.contains(&"07-24 スポーツの日".to_string()), "{n20:?}");
        assert!(n20.contains(&"08-10 山の日".to_string()), "{n20:?}");
        let n21 = names(2021);
        assert!(n21.contains(&"08-09 振替休日".to_string()), "{n21:?}");
    }

    #[test]
    fn yearly_ranges_wrap_the_year() {
        let r = YearlyRange::parse("12-29..01-03 年末年始").unwrap();
        assert_eq!(r.name, "年末年始");
        assert!(r.contains(ymd(2026, 12, 31)) && r.contains(ymd(2027, 1, 3)));
        assert!(!r.contains(ymd(2027, 1, 4)) && !r.contains(ymd(2026, 12, 28)));
        assert!(YearlyRange::parse("02-30").is_none());
        assert!(YearlyRange::parse("13-01..01-02").is_none());
        assert!(
            YearlyRange::parse("08-13..08-15")
                .unwrap()
                .contains(ymd(2026, 8, 14))
        );
    }

    #[test]
    fn business_time_skips_nights_weekends_and_holidays() {
        let cal = Calendar::default_japan();
        let h = |a, b| cal.business_time(tokyo(a), tokyo(b)).num_minutes() as f64 / 60.0;
        // Within one day.
        assert_eq!(h("2026-11-24 10:00", "2026-11-24 12:30"), 2.5);
        // Overnight: 17:00–18:00 then 09:00–10:00.
        assert_eq!(h("2026-11-24 17:00", "2026-11-25 10:00"), 2.0);
        // Arrived at night: nothing counts until 09:00.
        assert_eq!(h("2026-11-24 22:00", "2026-11-25 09:30"), 0.5);
        // Friday evening to Monday morning: the weekend does not count.
        assert_eq!(h("2026-11-27 17:00", "2026-11-30 10:00"), 2.0);
        // Sat 11-21 to Tue 11-24 10:00: Mon 11-23 is 勤労感謝の日.
        assert_eq!(h("2026-11-21 12:00", "2026-11-24 10:00"), 1.0);
        // Year end with a company range 12-29..01-03: Mon 12-28 17:00 → Mon 01-04 10:00.
        let mut ye = Calendar::default_japan();
        ye.yearly.push(YearlyRange::parse("12-29..01-03").unwrap());
        let ye_h = ye
            .business_time(tokyo("2026-12-28 17:00"), tokyo("2027-01-04 10:00"))
            .num_minutes();
        assert_eq!(ye_h, 120);
        assert_eq!(h("2026-11-25 10:00", "2026-11-24 10:00"), 0.0);
        // Open around the clock, every day: business time is wall-clock time.
        let mut always = Calendar::new(
            chrono_tz::Asia::Tokyo,
            false,
            BTreeMap::new(),
            Vec::new(),
            NaiveTime::MIN,
            NaiveTime::MIN,
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
        );
        let t = always.business_time(tokyo("2026-11-20 22:30"), tokyo("2026-11-23 10:00"));
        assert_eq!(t.num_minutes(), (2 * 24 + 11) * 60 + 30);
        always.tz = chrono_tz::UTC;
        assert_eq!(
            always.business_time(tokyo("2026-11-20 22:30"), tokyo("2026-11-23 10:00")),
            t
        );
    }

    #[test]
    fn company_dates_name_themselves() {
        let mut cal = Calendar::default_japan();
        cal.dates.insert(ymd(2026, 8, 13), String::new());
        cal.dates.insert(ymd(2026, 8, 14), "お盆".into());
        assert_eq!(
            cal.holiday(ymd(2026, 8, 13)).as_deref(),
            Some(COMPANY_HOLIDAY)
        );
        assert_eq!(cal.holiday(ymd(2026, 8, 14)).as_deref(), Some("お盆"));
        assert!(!cal.is_business_day(ymd(2026, 8, 14)));
        assert!(cal.is_business_day(ymd(2026, 8, 12)));
        assert!(!cal.is_business_day(ymd(2026, 11, 22)));
    }
}
