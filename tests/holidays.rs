//! The built-in Japanese holiday calendar against an independent published list
//! (tests/data/README.md says where it comes from), every day of 1970–2050.

use std::collections::BTreeMap;

use mailduty::calendar::national_holidays;

/// The source's names, mapped onto the names the law uses.
fn normalise(date: &str, name: &str) -> String {
    if name.ends_with("振替休日") {
        return "振替休日".into();
    }
    match (date, name) {
        (_, "休日") => "国民の休日".into(),
        ("2019-05-01", "休日（祝日扱い）") => "天皇の即位の日".into(),
        ("2019-10-22", "休日（祝日扱い）") => "即位礼正殿の儀".into(),
        (_, "体育の日（スポーツの日）") => "体育の日".into(),
        _ => name.into(),
    }
}

#[test]
fn national_holidays_match_the_published_list_1970_to_2050() {
    let text = include_str!("data/holidays_jp_1970_2050.tsv");
    let expected: BTreeMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (d, n) = l.split_once('\t').expect("date<TAB>name");
            (d.to_string(), normalise(d, n))
        })
        .collect();
    assert!(expected.len() > 1300, "the data file looks truncated");
    let ours: BTreeMap<String, String> = (1970..=2050)
        .flat_map(national_holidays)
        .map(|(d, n)| (d.format("%Y-%m-%d").to_string(), n.to_string()))
        .collect();
    let missing: Vec<_> = expected
        .iter()
        .filter(|(d, n)| ours.get(*d) != Some(n))
        .map(|(d, n)| format!("{d} {n} (ours: {:?})", ours.get(d)))
        .collect();
    let extra: Vec<_> = ours
        .iter()
        .filter(|(d, _)| !expected.contains_key(*d))
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "differences from the published list:\n  missing or renamed: {missing:#?}\n  extra: {extra:#?}"
    );
    assert_eq!(ours.len(), expected.len());
}
