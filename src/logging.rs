//! Logging set-up: one line per event on stderr, `TIME [LEVEL] message key=value...`;
//! without the time when JOURNAL_STREAM is set (journald stamps each line itself).

use log::LevelFilter;
use simplelog::{ConfigBuilder, WriteLogger};

/// Set by systemd when stderr goes to the journal.
pub const JOURNAL_STREAM_ENV: &str = "JOURNAL_STREAM";

/// True when stderr is connected to the journal.
pub fn to_journal() -> bool {
    std::env::var_os(JOURNAL_STREAM_ENV).is_some_and(|v| !v.is_empty())
}

/// Installs the global logger; a second call is ignored.
pub fn init(level: LevelFilter) {
    let mut config = ConfigBuilder::new();
    config
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_level_padding(simplelog::LevelPadding::Off);
    if to_journal() {
        config.set_time_level(LevelFilter::Off);
    }
    let _ = WriteLogger::init(level, config.build(), std::io::stderr());
}
