//! Time as a parameter. Code that needs "now" takes a [`Clock`]; production wires the
//! system clock (in the binary), tests a [`ManualClock`] they move by hand.

use std::sync::Mutex;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

/// The source of the current instant.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Moscow time, UTC+3 all year: the zone of official deadlines and of "today" in forms.
pub fn moscow() -> FixedOffset {
    // 3 hours is always a valid offset; the fallback is unreachable.
    FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The calendar date in Moscow at `at`.
pub fn moscow_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&moscow()).date_naive()
}
