//! Logging set-up: one line per event on stderr, `TIME LEVEL message key=value...`.

use log::LevelFilter;
use simplelog::{ConfigBuilder, WriteLogger};

/// Installs the global logger; a second call is ignored.
pub fn init(level: LevelFilter) {
    let config = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_level_padding(simplelog::LevelPadding::Off)
        .build();
    let _ = WriteLogger::init(level, config, std::io::stderr());
}
