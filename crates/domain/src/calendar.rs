//! The Russian production calendar: which dates are working days.
//!
//! Days off move by government decree every year, so the calendar is data, one TOML file
//! per year (`crates/domain/calendar/YYYY.toml`, built into the binary). Operators add or
//! replace a year by dropping a file of the same format into the calendar directory; no
//! release is needed. A date outside every loaded year is an error, never a guess: a
//! deadline computed on a made-up calendar would be wrong in a way nobody notices.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

/// The years shipped with the binary.
const BUILTIN: [(&str, &str); 4] = [
    ("2024.toml", include_str!("../calendar/2024.toml")),
    ("2025.toml", include_str!("../calendar/2025.toml")),
    ("2026.toml", include_str!("../calendar/2026.toml")),
    ("2027.toml", include_str!("../calendar/2027.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("календарь {file}: {message}")]
    Parse { file: String, message: String },
    #[error("календарь {file}: дата {date} не относится к {year} году")]
    WrongYear { file: String, date: NaiveDate, year: i32 },
    #[error("календарь {file}: {date} в days_off — не будний день (там только пн–пт)")]
    NotWeekday { file: String, date: NaiveDate },
    #[error("календарь {file}: {date} в working_weekends — не суббота и не воскресенье")]
    NotWeekend { file: String, date: NaiveDate },
    #[error("нет производственного календаря на {0} год")]
    NotCovered(i32),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    source: String,
    #[serde(default)]
    provisional: bool,
    days_off: Vec<NaiveDate>,
    working_weekends: Vec<NaiveDate>,
}

/// One year of the calendar: a bit per day of the year, set for working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    year: i32,
    source: String,
    provisional: bool,
    working: [u64; 6],
}

impl YearCalendar {
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The legal basis, as written in the file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True while the year lacks its decree (operators should replace the file).
    pub fn is_provisional(&self) -> bool {
        self.provisional
    }

    pub fn working_days(&self) -> u32 {
        self.working.iter().map(|w| w.count_ones()).sum()
    }

    /// Every date of the year with whether it is a working day.
    pub fn days(&self) -> impl Iterator<Item = (NaiveDate, bool)> + '_ {
        let year = self.year;
        NaiveDate::from_ymd_opt(year, 1, 1)
            .into_iter()
            .flat_map(|first| first.iter_days())
            .take_while(move |d| d.year() == year)
            .map(|d| (d, self.is_working(d)))
    }

    /// Monday–Friday dates that are not working (holidays and transferred days off).
    pub fn weekdays_off(&self) -> Vec<NaiveDate> {
        self.days().filter(|(d, w)| !w && !is_weekend(*d)).map(|(d, _)| d).collect()
    }

    /// Saturdays and Sundays that are working by transfer.
    pub fn working_weekends(&self) -> Vec<NaiveDate> {
        self.days().filter(|(d, w)| *w && is_weekend(*d)).map(|(d, _)| d).collect()
    }

    fn is_working(&self, date: NaiveDate) -> bool {
        let i = date.ordinal0() as usize;
        self.working[i / 64] & (1 << (i % 64)) != 0
    }

    fn parse(file: &str, text: &str) -> Result<Self, CalendarError> {
        let data: YearFile = toml::from_str(text).map_err(|e| CalendarError::Parse {
            file: file.to_owned(),
            message: e.message().to_owned(),
        })?;
        let year = data.year;
        let first = NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| CalendarError::Parse {
            file: file.to_owned(),
            message: format!("год {year} вне допустимого диапазона"),
        })?;
        let check_year = |date: NaiveDate| {
            if date.year() == year {
                Ok(())
            } else {
                Err(CalendarError::WrongYear { file: file.to_owned(), date, year })
            }
        };
        let mut working = [0u64; 6];
        for date in first.iter_days().take_while(|d| d.year() == year) {
            if !is_weekend(date) {
                let i = date.ordinal0() as usize;
                working[i / 64] |= 1 << (i % 64);
            }
        }
        for &date in &data.days_off {
            check_year(date)?;
            if is_weekend(date) {
                return Err(CalendarError::NotWeekday { file: file.to_owned(), date });
            }
            let i = date.ordinal0() as usize;
            working[i / 64] &= !(1 << (i % 64));
        }
        for &date in &data.working_weekends {
            check_year(date)?;
            if !is_weekend(date) {
                return Err(CalendarError::NotWeekend { file: file.to_owned(), date });
            }
            let i = date.ordinal0() as usize;
            working[i / 64] |= 1 << (i % 64);
        }
        Ok(Self { year, source: data.source, provisional: data.provisional, working })
    }
}

/// The working-day calendar over the loaded years.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    years: BTreeMap<i32, YearCalendar>,
}

impl WorkingCalendar {
    /// The years built into the binary.
    pub fn builtin() -> Result<Self, CalendarError> {
        let mut calendar = Self::default();
        for (file, text) in BUILTIN {
            calendar.load_year(file, text)?;
        }
        Ok(calendar)
    }

    /// Adds a year from the text of its file, replacing a year already loaded.
    /// `file` names the source in error messages. Returns the year.
    pub fn load_year(&mut self, file: &str, text: &str) -> Result<i32, CalendarError> {
        let year = YearCalendar::parse(file, text)?;
        let number = year.year;
        self.years.insert(number, year);
        Ok(number)
    }

    pub fn years(&self) -> impl Iterator<Item = &YearCalendar> {
        self.years.values()
    }

    pub fn year(&self, year: i32) -> Result<&YearCalendar, CalendarError> {
        self.years.get(&year).ok_or(CalendarError::NotCovered(year))
    }

    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        Ok(self.year(date.year())?.is_working(date))
    }

    /// The `n`-th working day after `start` (`start` itself is not counted; `n = 0`
    /// gives `start`). A deadline of "10 working days from submission" is
    /// `add_working_days(submitted_on, 10)`.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut date = start;
        let mut left = n;
        while left > 0 {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                left -= 1;
            }
        }
        Ok(date)
    }

    /// The number of working days in `(from, to]`: after `from`, up to and including `to`;
    /// zero when `to` is not after `from`. The inverse of [`Self::add_working_days`].
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        let mut count = 0;
        let mut date = from;
        while date < to {
            date = next_day(date)?;
            if self.is_working_day(date)? {
                count += 1;
            }
        }
        Ok(count)
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_day(date: NaiveDate) -> Result<NaiveDate, CalendarError> {
    date.checked_add_days(Days::new(1)).ok_or(CalendarError::NotCovered(date.year() + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::builtin().unwrap()
    }

    #[test]
    fn working_days_per_year_match_the_decrees() {
        let c = cal();
        assert_eq!(c.year(2024).unwrap().working_days(), 248);
        assert_eq!(c.year(2025).unwrap().working_days(), 247);
        assert_eq!(c.year(2026).unwrap().working_days(), 247);
        assert!(c.year(2027).unwrap().is_provisional());
        assert!(!c.year(2025).unwrap().is_provisional());
    }

    #[test]
    fn transfers_of_2025() {
        let c = cal();
        assert_eq!(c.is_working_day(d("2025-11-01")), Ok(true), "Saturday worked by decree");
        assert_eq!(c.is_working_day(d("2025-05-02")), Ok(false));
        assert_eq!(c.is_working_day(d("2025-12-31")), Ok(false));
        assert_eq!(c.is_working_day(d("2025-11-03")), Ok(false));
        assert_eq!(c.is_working_day(d("2025-11-05")), Ok(true));
        assert_eq!(c.is_working_day(d("2025-11-08")), Ok(false), "an ordinary Saturday");
        let y = c.year(2025).unwrap();
        assert_eq!(y.working_weekends(), vec![d("2025-11-01")]);
        assert_eq!(y.weekdays_off().len(), 15);
        assert!(y.weekdays_off().contains(&d("2025-05-02")));
    }

    #[test]
    fn adding_and_counting() {
        let c = cal();
        // Friday 31 October 2025 + 1 → Saturday 1 November (a working day);
        // + 2 → Wednesday 5 November (3 and 4 November are off).
        assert_eq!(c.add_working_days(d("2025-10-31"), 1), Ok(d("2025-11-01")));
        assert_eq!(c.add_working_days(d("2025-10-31"), 2), Ok(d("2025-11-05")));
        assert_eq!(c.add_working_days(d("2025-10-31"), 0), Ok(d("2025-10-31")));
        // Across the new year: 30 December 2025 → 31 Dec and 1–11 January are off.
        assert_eq!(c.add_working_days(d("2025-12-30"), 1), Ok(d("2026-01-12")));
        assert_eq!(c.working_days_between(d("2024-12-31"), d("2025-12-31")), Ok(247));
        assert_eq!(c.working_days_between(d("2025-11-05"), d("2025-10-31")), Ok(0));
    }

    #[test]
    fn years_outside_the_data_are_errors() {
        let c = cal();
        assert_eq!(c.is_working_day(d("2031-03-03")), Err(CalendarError::NotCovered(2031)));
        assert_eq!(c.add_working_days(d("2027-12-30"), 5), Err(CalendarError::NotCovered(2028)));
    }

    #[test]
    fn operators_add_and_replace_years() {
        let mut c = cal();
        let year = c
            .load_year("2028.toml", "year = 2028\nsource = \"x\"\ndays_off = [\"2028-01-03\"]\nworking_weekends = [\"2028-01-08\"]\n")
            .unwrap();
        assert_eq!(year, 2028);
        assert_eq!(c.is_working_day(d("2028-01-03")), Ok(false));
        assert_eq!(c.is_working_day(d("2028-01-08")), Ok(true));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let mut c = WorkingCalendar::default();
        let weekend_off =
            "year = 2025\nsource = \"x\"\ndays_off = [\"2025-11-01\"]\nworking_weekends = []\n";
        assert!(matches!(c.load_year("f", weekend_off), Err(CalendarError::NotWeekday { .. })));
        let weekday_work =
            "year = 2025\nsource = \"x\"\ndays_off = []\nworking_weekends = [\"2025-11-05\"]\n";
        assert!(matches!(c.load_year("f", weekday_work), Err(CalendarError::NotWeekend { .. })));
        let other_year =
            "year = 2025\nsource = \"x\"\ndays_off = [\"2024-11-05\"]\nworking_weekends = []\n";
        assert!(matches!(c.load_year("f", other_year), Err(CalendarError::WrongYear { .. })));
        let typo = "year = 2025\nsource = \"x\"\ndays_of = []\nworking_weekends = []\n";
        assert!(matches!(c.load_year("f", typo), Err(CalendarError::Parse { .. })));
    }

    proptest! {
        #[test]
        fn adding_then_counting_round_trips(offset in 0u32..1000, n in 0u32..120) {
            let c = cal();
            let start = d("2024-01-01") + Days::new(u64::from(offset));
            let end = c.add_working_days(start, n).unwrap();
            prop_assert_eq!(c.working_days_between(start, end), Ok(n));
            if n > 0 {
                prop_assert_eq!(c.is_working_day(end), Ok(true));
            }
        }
    }
}
