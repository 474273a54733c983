//! Recording options: the validated values of the `--record-*` flags and their parsers
//! (sizes like 512M, durations like 30m, app/stream glob patterns, the file path template).

use super::naming::PathTemplate;
use std::path::PathBuf;
use std::time::Duration;

/// Default `--record-reconnect-gap`.
pub const DEFAULT_RECONNECT_GAP: Duration = Duration::from_secs(10);
/// Default `--record-min-free`: 1 GiB.
pub const DEFAULT_MIN_FREE: u64 = 1024 * 1024 * 1024;

/// Everything recording needs beyond `--record-all` and `--record-dir`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordOptions {
    pub path_template: PathTemplate,
    pub max_size: Option<u64>,
    pub max_duration: Option<Duration>,
    pub from_any_frame: bool,
    pub reconnect_gap: Duration,
    pub record: Vec<Pattern>,
    pub no_record: Vec<Pattern>,
    pub min_free: u64,
    pub retention_max: Option<u64>,
    pub retention_days: Option<u32>,
    pub on_record_done: Option<PathBuf>,
    /// A hook still running after this is killed.
    pub on_record_done_timeout: Duration,
    /// The formats each recording is written in (`--record-format`), at least one.
    pub formats: Vec<super::format::Format>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            path_template: PathTemplate::default(),
            max_size: None,
            max_duration: None,
            from_any_frame: false,
            reconnect_gap: DEFAULT_RECONNECT_GAP,
            record: Vec::new(),
            no_record: Vec::new(),
            min_free: DEFAULT_MIN_FREE,
            retention_max: None,
            retention_days: None,
            on_record_done: None,
            on_record_done_timeout: super::hook::DEFAULT_HOOK_TIMEOUT,
            formats: vec![super::format::Format::Flv],
        }
    }
}

impl RecordOptions {
    /// Whether `app/stream` records: `record_all` or a `--record` match, and no `--no-record`
    /// match (which always wins).
    pub fn should_record(&self, record_all: bool, app: &str, stream: &str) -> bool {
        let name = format!("{app}/{stream}");
        let wanted = record_all || self.record.iter().any(|p| p.matches(&name));
        wanted && !self.no_record.iter().any(|p| p.matches(&name))
    }

    /// True when any flag asks for recordings.
    pub fn records_anything(&self, record_all: bool) -> bool {
        record_all || !self.record.is_empty()
    }
}

/// A glob on `app/stream`: `*` matches any run of characters (also across `/`), `?` one
/// character, everything else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, text: &str) -> bool {
        let pattern: Vec<char> = self.0.chars().collect();
        let text: Vec<char> = text.chars().collect();
        // Iterative glob with one backtrack point: linear in practice, never recursive.
        let (mut p, mut t) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(c) if *c == '?' || Some(c) == text.get(t) => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern.get(p..).unwrap_or(&[]).iter().all(|c| *c == '*')
    }
}

/// Longest accepted pattern (bytes).
pub const MAX_PATTERN_LEN: usize = 512;

pub fn parse_pattern(value: &str) -> Result<Pattern, String> {
    if value.is_empty() || value.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "expected a glob on app/stream of 1..={MAX_PATTERN_LEN} bytes, e.g. live/*"
        ));
    }
    Ok(Pattern(value.to_owned()))
}

/// `512M`, `2G`, `100k`, `1000` (bytes; K/M/G/T are powers of 1024).
pub fn parse_size(value: &str) -> Result<u64, String> {
    let error = || "expected a size such as 512M, 2G or 1048576".to_owned();
    let trimmed = value.trim();
    let (digits, unit) = match trimmed.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => trimmed.split_at(at),
        None => (trimmed, ""),
    };
    let number: u64 = digits.parse().map_err(|_| error())?;
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(error()),
    };
    number.checked_mul(1u64 << shift).ok_or_else(error)
}

/// `1h`, `30m`, `45s`, `1500ms`, `7d`, compounds such as `1h30m` or `2m30s`, or a plain
/// number of seconds; `0` is allowed. Every number in a compound needs its unit.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let error = || "expected a duration such as 1h30m, 7d, 10s, 500ms or 30 (seconds)".to_owned();
    let trimmed = value.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let seconds: u64 = trimmed.parse().map_err(|_| error())?;
        return seconds.checked_mul(1000).map(Duration::from_millis).ok_or_else(error);
    }
    let mut rest = trimmed;
    let mut total: u64 = 0;
    if rest.is_empty() {
        return Err(error());
    }
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (digits, tail) = rest.split_at(digits_end);
        let unit_end = tail.find(|c: char| c.is_ascii_digit()).unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let number: u64 = digits.parse().map_err(|_| error())?;
        let millis = match unit {
            "ms" => Some(number),
            "s" => number.checked_mul(1000),
            "m" => number.checked_mul(60_000),
            "h" => number.checked_mul(3_600_000),
            "d" => number.checked_mul(86_400_000),
            _ => None,
        };
        total = millis.and_then(|m| total.checked_add(m)).ok_or_else(error)?;
        rest = next;
    }
    Ok(Duration::from_millis(total))
}

/// A hook timeout: a duration above zero (a hook may not run unbounded).
pub fn parse_hook_timeout(value: &str) -> Result<Duration, String> {
    match parse_duration(value) {
        Ok(timeout) if !timeout.is_zero() => Ok(timeout),
        Ok(_) => Err("must be above 0, e.g. 10m or 30s".to_owned()),
        Err(e) => Err(e),
    }
}

/// A positive whole number of days.
pub fn parse_days(value: &str) -> Result<u32, String> {
    match value.parse::<u32>() {
        Ok(days) if days > 0 => Ok(days),
        _ => Err("expected a whole number of days, at least 1".to_owned()),
    }
}

pub fn parse_template(value: &str) -> Result<PathTemplate, String> {
    PathTemplate::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(p: &str) -> Pattern {
        parse_pattern(p).unwrap()
    }

    #[test]
    fn globs_match_app_and_stream_with_star_crossing_slashes() {
        assert!(pattern("live/*").matches("live/cam1"));
        assert!(!pattern("live/*").matches("other/cam1"));
        assert!(pattern("*/cam?").matches("live/cam1"));
        assert!(!pattern("*/cam?").matches("live/cam12"));
        assert!(pattern("*").matches("a/b/c"));
        assert!(pattern("l*1").matches("live/cam/1"));
        assert!(pattern("live/cam1").matches("live/cam1"));
        assert!(!pattern("live/cam1").matches("live/cam10"));
        assert!(pattern("*a*a*a*b").matches(&format!("{}b", "a".repeat(200))));
        assert!(!pattern("*a*a*a*b").matches(&"a".repeat(200)));
    }

    #[test]
    fn no_record_wins_over_record_and_record_all() {
        let options = RecordOptions {
            record: vec![pattern("live/*")],
            no_record: vec![pattern("*/secret*")],
            ..RecordOptions::default()
        };
        assert!(options.should_record(false, "live", "cam"));
        assert!(!options.should_record(false, "other", "cam"));
        assert!(!options.should_record(false, "live", "secret1"));
        assert!(!options.should_record(true, "x", "secret"));
        assert!(options.should_record(true, "x", "y"));
    }

    #[test]
    fn sizes_and_durations_parse_with_units() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("100k"), Ok(100 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
    }

    #[test]
    fn durations_accept_compound_units() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2m30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration(" 1h30m "), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_refuse_empty_unknown_units_bare_numbers_in_compounds_and_overflow() {
        for bad in ["", " ", "h", "1x", "1h30", "1h 30m", "30mm", "1.5h", "-1s", "1H", "ms"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_duration("18446744073709551615").is_err());
        assert!(parse_duration("213503982334601d").is_err());
        assert!(parse_duration("18446744073709551615ms1ms").is_err());
        assert_eq!(parse_hook_timeout("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_hook_timeout("0").is_err());
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("0").is_err());
    }
}
