//! Deadlines in working days, by the production calendar (`domain::WorkingCalendar`).
//!
//! A service's term runs from the day of submission: «3 рабочих дня» ends on the third
//! working day after it. While the agency waits for the applicant (a clarification) the
//! term stands still, so the due date moves on by the working days the wait took. Windows
//! for the applicant (an answer to a clarification, an appeal of a rejection) are counted
//! the same way from the day they open, their last day included.

use chrono::NaiveDate;
use domain::{CalendarError, WorkingCalendar};

/// The date by which a decision is due for an application submitted on `submitted`.
pub fn due(
    calendar: &WorkingCalendar,
    submitted: NaiveDate,
    working_days: u32,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(submitted, working_days)
}

/// The due date after a pause from `paused_on` to `resumed_on`: moved on by the working
/// days in `(paused_on, resumed_on]`.
pub fn resumed(
    calendar: &WorkingCalendar,
    due: NaiveDate,
    paused_on: NaiveDate,
    resumed_on: NaiveDate,
) -> Result<NaiveDate, CalendarError> {
    let waited = calendar.working_days_between(paused_on, resumed_on)?;
    calendar.add_working_days(due, waited)
}

/// The last day of a window of `working_days` opened on `opened` (an appeal: 5 working
/// days from the rejection).
pub fn window_end(
    calendar: &WorkingCalendar,
    opened: NaiveDate,
    working_days: u32,
) -> Result<NaiveDate, CalendarError> {
    calendar.add_working_days(opened, working_days)
}

/// Where an application stands against its term on a day: for the bar and the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Working days from submission to the due date.
    pub total: u32,
    /// Working days gone (at most `total`).
    pub used: u32,
    /// Working days left; negative when overdue (by so many).
    pub left: i64,
}

impl Progress {
    pub fn overdue(&self) -> bool {
        self.left < 0
    }

    /// How full the bar is, 0–100.
    pub fn percent(&self) -> u32 {
        (self.used * 100).checked_div(self.total).map_or(100, |p| p.min(100))
    }
}

pub fn progress(
    calendar: &WorkingCalendar,
    submitted: NaiveDate,
    due: NaiveDate,
    today: NaiveDate,
) -> Result<Progress, CalendarError> {
    let total = calendar.working_days_between(submitted, due)?;
    let used = calendar.working_days_between(submitted, today.min(due))?;
    let left = if today <= due {
        i64::from(calendar.working_days_between(today, due)?)
    } else {
        -i64::from(calendar.working_days_between(due, today)?)
    };
    Ok(Progress { total, used, left })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn terms_across_the_new_year_holidays() {
        let Ok(cal) = WorkingCalendar::builtin() else { panic!("calendar") };
        // Monday 29 December 2025: the 30th works, the 31st is off (moved from 5 January),
        // then 1–11 January 2026 are off.
        assert_eq!(due(&cal, d("2025-12-29"), 3), Ok(d("2026-01-13")));
        assert_eq!(due(&cal, d("2025-12-29"), 1), Ok(d("2025-12-30")));
        // A clarification asked on the 30th and answered on 12 January took one working day.
        assert_eq!(
            resumed(&cal, d("2026-01-13"), d("2025-12-30"), d("2026-01-12")),
            Ok(d("2026-01-14"))
        );
        // Rejected on 30 December: the appeal window of 5 working days ends on 16 January,
        // and an appeal lodged that day is decided by 21 January.
        assert_eq!(window_end(&cal, d("2025-12-30"), 5), Ok(d("2026-01-16")));
        assert_eq!(window_end(&cal, d("2026-01-16"), 3), Ok(d("2026-01-21")));
        // 22 working days over the May holidays of 2026 (1 and 11 May off).
        assert_eq!(due(&cal, d("2026-04-27"), 22), Ok(d("2026-05-29")));
        assert!(matches!(due(&cal, d("2027-12-20"), 30), Err(CalendarError::NotCovered(2028))));
    }

    #[test]
    fn progress_counts_working_days() {
        let Ok(cal) = WorkingCalendar::builtin() else { panic!("calendar") };
        let p = progress(&cal, d("2025-12-29"), d("2026-01-13"), d("2026-01-05"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, Progress { total: 3, used: 1, left: 2 });
        assert_eq!(p.percent(), 33);
        let p = progress(&cal, d("2025-12-29"), d("2026-01-13"), d("2026-01-15"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p, Progress { total: 3, used: 3, left: -2 });
        assert!(p.overdue());
        assert_eq!(p.percent(), 100);
    }
}
