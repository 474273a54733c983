//! Logging set-up: one line per event on stderr, `TIME [LEVEL] message key=value...`; when
//! stderr is the journal (JOURNAL_STREAM names stderr's device and inode), no time (journald
//! stamps each line itself) and a `<N>` syslog priority first, so `journalctl -p err` works.

use log::{Level, LevelFilter, Log, Metadata, Record};
use simplelog::{ConfigBuilder, WriteLogger};
use std::io::Write;

/// Set by systemd, as `device:inode`, when stderr goes to the journal.
pub const JOURNAL_STREAM_ENV: &str = "JOURNAL_STREAM";

/// `device:inode` (both decimal) from JOURNAL_STREAM; `None` for anything else.
pub fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (device, inode) = value.split_once(':')?;
    Some((device.parse().ok()?, inode.parse().ok()?))
}

/// True when stderr is the stream systemd connected to the journal: JOURNAL_STREAM is set
/// and names stderr's own device and inode (a redirected stderr keeps the variable but is
/// not the journal).
pub fn to_journal() -> bool {
    let Some(value) = std::env::var_os(JOURNAL_STREAM_ENV) else {
        return false;
    };
    let Some((device, inode)) = value.to_str().and_then(parse_journal_stream) else {
        return false;
    };
    rustix::fs::fstat(std::io::stderr()).is_ok_and(|stat| stat.st_dev == device && stat.st_ino == inode)
}

/// The syslog priority journald reads from a `<N>` line prefix.
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// One journal line: `<N>[LEVEL] message`.
fn journal_line(level: Level, message: &std::fmt::Arguments<'_>) -> String {
    format!("<{}>[{level}] {message}\n", syslog_priority(level))
}

/// The logger used when stderr is the journal.
struct JournalLogger {
    level: LevelFilter,
}

impl Log for JournalLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            // One write per line, so lines from different threads never interleave.
            let line = journal_line(record.level(), record.args());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Installs the global logger; a second call is ignored.
pub fn init(level: LevelFilter) {
    if to_journal() {
        if log::set_boxed_logger(Box::new(JournalLogger { level })).is_ok() {
            log::set_max_level(level);
        }
        return;
    }
    let mut config = ConfigBuilder::new();
    config
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .set_location_level(LevelFilter::Off)
        .set_level_padding(simplelog::LevelPadding::Off);
    let _ = WriteLogger::init(level, config.build(), std::io::stderr());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert_eq!(parse_journal_stream("8:12345"), Some((8, 12345)));
        assert_eq!(parse_journal_stream("0:1"), Some((0, 1)));
        for bad in ["", "8", "8:", ":1", "8:x", "a:1", "8:1:2", "-1:2", " 8:1"] {
            assert_eq!(parse_journal_stream(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn priorities_follow_syslog() {
        assert_eq!(syslog_priority(Level::Error), 3);
        assert_eq!(syslog_priority(Level::Warn), 4);
        assert_eq!(syslog_priority(Level::Info), 6);
        assert_eq!(syslog_priority(Level::Debug), 7);
        assert_eq!(syslog_priority(Level::Trace), 7);
    }

    #[test]
    fn journal_lines_start_with_the_priority_and_have_no_time() {
        let line = journal_line(Level::Warn, &format_args!("disk low free={}", 3));
        assert_eq!(line, "<4>[WARN] disk low free=3\n");
        let line = journal_line(Level::Error, &format_args!("x"));
        assert_eq!(line, "<3>[ERROR] x\n");
    }
}
