//! Process-level concerns: signals, systemd integration, stream-key auth, address ranges.

pub mod auth;
pub mod cidr;
pub mod signals;
pub mod systemd;
