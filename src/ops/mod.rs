//! Process-level concerns: signals.

pub mod http;
pub mod metrics;
pub mod signals;
