//! Flag parsers for the limits (`--max-message-size`, `--max-chunk-streams` and the
//! timeouts); the defaults live in `limits`.

use crate::record::options::{parse_duration, parse_size};
use std::time::Duration;

/// Smallest `--max-message-size`: room for any command and control message.
pub const MIN_MESSAGE_SIZE_FLAG: usize = 64 * 1024;
/// Largest `--max-message-size`: the chunk header's length field has 24 bits.
pub const MAX_MESSAGE_SIZE_FLAG: usize = 0x00FF_FFFF;
/// Largest `--max-chunk-streams`: csids run from 2 to 65599.
pub const MAX_CHUNK_STREAMS_FLAG: usize = 65_598;
/// Smallest `--max-chunk-streams`: FFmpeg and librtmp use up to 8.
pub const MIN_CHUNK_STREAMS_FLAG: usize = 8;

/// A message size such as `8M` or `1048576`, 64K..=16M-1.
pub fn parse_message_size(value: &str) -> Result<usize, String> {
    let size = parse_size(value)?;
    match usize::try_from(size) {
        Ok(size) if (MIN_MESSAGE_SIZE_FLAG..=MAX_MESSAGE_SIZE_FLAG).contains(&size) => Ok(size),
        _ => Err(format!(
            "must be between {MIN_MESSAGE_SIZE_FLAG} and {MAX_MESSAGE_SIZE_FLAG} bytes"
        )),
    }
}

/// A number of chunk streams, 8..=65598.
pub fn parse_chunk_streams(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(n) if (MIN_CHUNK_STREAMS_FLAG..=MAX_CHUNK_STREAMS_FLAG).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number between {MIN_CHUNK_STREAMS_FLAG} and {MAX_CHUNK_STREAMS_FLAG}"
        )),
    }
}

/// A timeout such as `10s` or `500ms`; zero is refused (it would close every connection).
pub fn parse_timeout(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        d if d.is_zero() => Err("must be more than 0".to_owned()),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_sizes_take_units_and_stay_in_range() {
        assert_eq!(parse_message_size("8M"), Ok(8 << 20));
        assert_eq!(parse_message_size("65536"), Ok(65536));
        assert_eq!(parse_message_size("16777215"), Ok(0xFF_FFFF));
        for bad in ["16M", "1K", "0", "x", "-1", "99999999999999999999"] {
            assert!(parse_message_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn chunk_streams_stay_in_range() {
        assert_eq!(parse_chunk_streams("64"), Ok(64));
        assert_eq!(parse_chunk_streams("65598"), Ok(65598));
        for bad in ["7", "65599", "", "ten"] {
            assert!(parse_chunk_streams(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limit_flags_reach_the_config_and_show_in_help() {
        use crate::config::{parse_args, Invocation};
        let args = [
            "--max-message-size",
            "1M",
            "--max-chunk-streams",
            "16",
            "--first-packet-timeout",
            "5s",
            "--write-timeout",
            "3s",
            "--idle-timeout",
            "7s",
            "--handshake-timeout",
            "2s",
        ];
        let Invocation::Run(config) = parse_args("rtmp-server", &args) else {
            panic!("flags refused");
        };
        let limits = &config.limits;
        assert_eq!((limits.max_message_size, limits.max_partial_bytes), (1 << 20, 2 << 20));
        assert_eq!(limits.max_chunk_streams, 16);
        assert_eq!(limits.first_packet_timeout, Duration::from_secs(5));
        assert_eq!(limits.write_timeout, Duration::from_secs(3));
        assert_eq!(limits.idle_timeout, Duration::from_secs(7));
        assert_eq!(limits.handshake_timeout, Duration::from_secs(2));
        let Invocation::Run(defaults) = parse_args("rtmp-server", &[]) else {
            panic!("no flags refused");
        };
        assert_eq!(defaults.limits, crate::limits::Limits::default());
        let Invocation::Print(help) = parse_args("rtmp-server", &["--help"]) else {
            panic!("no help");
        };
        for flag in [
            "--max-message-size",
            "--max-chunk-streams",
            "--first-packet-timeout",
            "--write-timeout",
            "--idle-timeout",
            "--handshake-timeout",
        ] {
            let entry = help
                .split("\n  --")
                .find(|e| e.starts_with(&flag[2..]))
                .unwrap_or_default();
            assert!(
                entry.contains("(default: "),
                "{flag} lacks its default in --help: {entry:?}"
            );
        }
        for bad in [
            ["--write-timeout", "0"],
            ["--max-message-size", "32M"],
            ["--max-chunk-streams", "2"],
        ] {
            assert!(
                matches!(parse_args("rtmp-server", &bad), Invocation::UsageError(_)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn timeouts_refuse_zero() {
        assert_eq!(parse_timeout("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_timeout("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("0ms").is_err());
        assert!(parse_timeout("soon").is_err());
    }
}
