//! Property tests for the identifier types: for every check-digit scheme exactly one
//! control value completes a number; normalized forms parse back to the same value; no
//! input makes a parser panic.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::NaiveDate;
use domain::ident::*;
use proptest::prelude::*;

fn digits(n: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, n)
        .prop_map(|v| v.iter().map(|d| char::from(b'0' + d)).collect())
}

/// How many of the ten possible last digits make `body + digit` valid.
fn completions(body: &str, parse: impl Fn(&str) -> bool) -> usize {
    (0..10).filter(|d| parse(&format!("{body}{d}"))).count()
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

proptest! {
    #[test]
    fn inn10_has_one_control_digit(body in digits(9)) {
        prop_assert_eq!(completions(&body, |s| Inn::parse(s).is_ok()), 1);
    }

    #[test]
    fn inn12_has_one_pair_of_control_digits(body in digits(10)) {
        let valid = (0..100).filter(|n| Inn::parse(&format!("{body}{n:02}")).is_ok()).count();
        prop_assert_eq!(valid, 1);
    }

    #[test]
    fn ogrn_and_ogrnip_have_one_control_digit(b12 in digits(12), b14 in digits(14)) {
        prop_assert_eq!(completions(&b12, |s| Ogrn::parse(s).is_ok()), 1);
        prop_assert_eq!(completions(&b14, |s| Ogrnip::parse(s).is_ok()), 1);
    }

    #[test]
    fn generated_numbers_parse_back(
        inn12 in 0u64..10_000_000_000,
        inn10 in 0u64..1_000_000_000,
        ogrn in 0u64..1_000_000_000_000,
        ogrnip in 0u64..100_000_000_000_000,
        snils in 1_001_999u32..1_000_000_000,
    ) {
        let person = Inn::person_from_body(inn12);
        prop_assert_eq!(Inn::parse(person.as_str()), Ok(person.clone()));
        prop_assert_eq!(person.as_str()[..10].parse::<u64>().unwrap(), inn12);
        let org = Inn::organization_from_body(inn10);
        prop_assert_eq!(Inn::parse(org.as_str()), Ok(org.clone()));
        let o = Ogrn::from_body(ogrn);
        prop_assert_eq!(Ogrn::parse(o.as_str()), Ok(o.clone()));
        let o = Ogrnip::from_body(ogrnip);
        prop_assert_eq!(Ogrnip::parse(o.as_str()), Ok(o.clone()));
        let s = Snils::from_body(snils);
        prop_assert_eq!(Snils::parse(s.as_str()), Ok(s.clone()));
        prop_assert_eq!(s.digits()[..9].parse::<u32>().unwrap(), snils);
    }

    #[test]
    fn uin_has_one_control_digit(b19 in digits(19), b24 in digits(24)) {
        prop_assume!(b19.bytes().any(|b| b != b'0') && b24.bytes().any(|b| b != b'0'));
        prop_assert_eq!(completions(&b19, |s| Uin::parse(s).is_ok()), 1);
        prop_assert_eq!(completions(&b24, |s| Uin::parse(s).is_ok()), 1);
    }

    #[test]
    fn account_has_one_key_digit(head in digits(8), tail in digits(11), bik in digits(9)) {
        let bik = Bik::parse(&bik).unwrap();
        for kind in [AccountKind::Client, AccountKind::Correspondent] {
            let valid = (0..10)
                .filter(|k| BankAccount::parse(&format!("{head}{k}{tail}"), &bik, kind).is_ok())
                .count();
            prop_assert_eq!(valid, 1);
        }
    }

    #[test]
    fn snils_round_trips_and_has_one_control(body in digits(9)) {
        prop_assume!(body.as_str() > "001001998");
        let valid: Vec<Snils> =
            (0..100).filter_map(|n| Snils::parse(&format!("{body}{n:02}")).ok()).collect();
        prop_assert_eq!(valid.len(), 1);
        let formatted = valid[0].to_string();
        prop_assert_eq!(Snils::parse(&formatted), Ok(valid[0].clone()));
        prop_assert_eq!(valid[0].digits().len(), 11);
    }

    #[test]
    fn phone_forms_agree(rest in digits(9)) {
        let n = format!("9{rest}");
        let canonical = Phone::parse(&format!("+7{n}")).unwrap();
        let spaced = format!("8 ({}) {}-{}-{}", &n[..3], &n[3..6], &n[6..8], &n[8..]);
        prop_assert_eq!(Phone::parse(&spaced), Ok(canonical.clone()));
        prop_assert_eq!(Phone::parse(&n), Ok(canonical.clone()));
        prop_assert_eq!(Phone::parse(canonical.as_str()), Ok(canonical.clone()));
    }

    #[test]
    fn passport_round_trips(series in digits(4), number in digits(6)) {
        let p = Passport::from_parts(&series, &number).unwrap();
        prop_assert_eq!(Passport::parse(p.as_str()), Ok(p.clone()));
        prop_assert_eq!(Passport::parse(&format!("{series}{number}")), Ok(p.clone()));
    }

    #[test]
    fn birth_dates_round_trip(days in 0i64..50_000) {
        let date = today() - chrono::Duration::days(days);
        if let Ok(b) = BirthDate::new(date, today()) {
            prop_assert_eq!(BirthDate::parse(&b.to_string(), today()), Ok(b));
        }
    }

    #[test]
    fn parsers_never_panic(s in ".{0,80}") {
        let bik = Bik::parse("044525225").unwrap();
        let _ = (Inn::parse(&s), Snils::parse(&s), Ogrn::parse(&s), Ogrnip::parse(&s));
        let _ = (Kpp::parse(&s), Bik::parse(&s), Uin::parse(&s));
        let _ = BankAccount::parse_guessing_kind(&s, &bik);
        let _ = (Passport::parse(&s), DivisionCode::parse(&s), Phone::parse(&s));
        let _ = (Email::parse(&s), NamePart::parse(&s), BirthDate::parse(&s, today()));
    }

    #[test]
    fn normalized_values_parse_to_themselves(s in "[0-9 +()-]{0,30}|[a-zа-яё.@' -]{0,30}") {
        if let Ok(p) = Phone::parse(&s) {
            prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
        }
        if let Ok(e) = Email::parse(&s) {
            prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
        }
        if let Ok(n) = NamePart::parse(&s) {
            prop_assert_eq!(NamePart::parse(n.as_str()), Ok(n.clone()));
        }
    }
}
