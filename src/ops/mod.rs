//! Process-level concerns: signals.

pub mod signals;
