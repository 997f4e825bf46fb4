//! Pure types and rules of Uslugi.
//!
//! This crate does no IO, starts no tasks and never reads the clock: time comes in as a
//! parameter (see [`clock`]). Everything here is deterministic and cheap to test.

pub mod calendar;
pub mod clock;
pub mod error;
pub mod ident;

pub use calendar::{CalendarError, WorkingCalendar};
pub use clock::{Clock, ManualClock, moscow_date};
pub use error::FieldError;
