//! Process-level concerns: signals, systemd integration, stream-key auth, address ranges,
//! the open-files limit, the HTTP API and metrics, and their settings.

pub mod auth;
pub mod cidr;
pub mod event_counts;
pub mod fd_limit;
pub mod metrics;
pub mod options;
pub mod signals;
pub mod systemd;
pub mod token;
pub mod watchdog;
