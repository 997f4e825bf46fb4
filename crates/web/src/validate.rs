//! Field checks by kind: the table lives in `domain` (the service forms use it too).

pub use domain::ident::kind::{Context, Kind, check};
