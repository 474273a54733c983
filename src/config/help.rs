//! `rtmp-server --help` (and `-h`): argh's flags and their help text (read by
//! `file::all_flags`) grouped by topic, each under a value placeholder, then the subcommands.
//! argh cannot group options, so the grouping lives in `PLACES`; a flag missing from it fails
//! a unit test (and is shown under "Other" meanwhile, so no flag ever drops out of the help).

use super::file::{all_flags, Flag, Kind};

/// A topic of the help text, in the order shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    General,
    Listening,
    Recording,
    Upload,
    Playback,
    Security,
    Limits,
    Api,
    Hooks,
    PushTls,
    /// Flags missing from `PLACES` (a unit test keeps this empty).
    Other,
}

impl Group {
    pub const ALL: [Group; 11] = [
        Group::General,
        Group::Listening,
        Group::Recording,
        Group::Upload,
        Group::Playback,
        Group::Security,
        Group::Limits,
        Group::Api,
        Group::Hooks,
        Group::PushTls,
        Group::Other,
    ];

    /// The heading line, without its colon.
    pub fn heading(self) -> &'static str {
        match self {
            Group::General => "General",
            Group::Listening => "Listening",
            Group::Recording => "Recording",
            Group::Upload => "Upload to object storage",
            Group::Playback => "Publishing and playback",
            Group::Security => "Security",
            Group::Limits => "Limits",
            Group::Api => "HTTP API",
            Group::Hooks => "Hooks",
            Group::PushTls => "Push and TLS",
            Group::Other => "Other",
        }
    }
}

use Group::*;

/// Every flag's group and value placeholder ("" for a switch), in the order shown within
/// its group. A new flag goes here too (unit test `every_flag_has_a_place`).
pub const PLACES: &[(&str, Group, &str)] = &[
    ("config", General, "PATH"),
    ("log-level", General, "LEVEL"),
    ("version", General, ""),
    ("help", General, ""),
    ("listen", Listening, "ADDR"),
    ("chunk-size", Listening, "BYTES"),
    ("srt-listen", Listening, "ADDR"),
    ("srt-latency", Listening, "DURATION"),
    ("srt-passphrase-file", Listening, "FILE"),
    ("srt-max-connections", Listening, "N"),
    ("record-all", Recording, ""),
    ("record", Recording, "GLOB"),
    ("no-record", Recording, "GLOB"),
    ("record-dir", Recording, "DIR"),
    ("record-path", Recording, "TEMPLATE"),
    ("record-max-size", Recording, "SIZE"),
    ("record-max-duration", Recording, "DURATION"),
    ("record-from-any-frame", Recording, ""),
    ("record-reconnect-gap", Recording, "DURATION"),
    ("record-min-free", Recording, "SIZE"),
    ("record-retention-max", Recording, "SIZE"),
    ("record-retention-days", Recording, "DAYS"),
    ("publish-conflict", Playback, "MODE"),
    ("play-wait-timeout", Playback, "DURATION"),
    ("play-coalesce", Playback, "DURATION"),
    ("play-max-lag", Playback, "DURATION"),
    ("publish-keys", Security, "FILE"),
    ("play-keys", Security, "FILE"),
    ("allow-publish", Security, "CIDR"),
    ("deny", Security, "CIDR"),
    ("apps-strict", Security, ""),
    ("max-connections", Limits, "N"),
    ("max-connections-per-ip", Limits, "N"),
    ("handshake-timeout", Limits, "DURATION"),
    ("first-packet-timeout", Limits, "DURATION"),
    ("idle-timeout", Limits, "DURATION"),
    ("write-timeout", Limits, "DURATION"),
    ("max-message-size", Limits, "SIZE"),
    ("max-chunk-streams", Limits, "N"),
    ("http-listen", Api, "ADDR"),
    ("http-token-file", Api, "FILE"),
    ("http-allow-open", Api, ""),
    ("http-max-connections", Api, "N"),
    ("http-max-connections-per-ip", Api, "N"),
    ("http-timeout", Api, "DURATION"),
    ("http-cors-origin", Api, "ORIGIN"),
    ("hls", Api, ""),
    ("hls-segment", Api, "DURATION"),
    ("hls-window", Api, "N"),
    ("hls-part", Api, "DURATION"),
    ("hls-session-idle", Api, "DURATION"),
    ("on-connect", Hooks, "TARGET"),
    ("on-publish", Hooks, "TARGET"),
    ("on-publish-done", Hooks, "TARGET"),
    ("on-play", Hooks, "TARGET"),
    ("on-play-done", Hooks, "TARGET"),
    ("on-record-done", Hooks, "TARGET"),
    ("on-record-done-timeout", Hooks, "DURATION"),
    ("hook-timeout", Hooks, "DURATION"),
    ("hook-retries", Hooks, "N"),
    ("hook-secret-file", Hooks, "FILE"),
    ("record-format", Recording, "FORMAT"),
    ("upload", Upload, "s3://BUCKET[/PREFIX]"),
    ("upload-endpoint", Upload, "URL"),
    ("upload-region", Upload, "REGION"),
    ("upload-path-style", Upload, ""),
    ("upload-credentials-file", Upload, "FILE"),
    ("upload-delete", Upload, ""),
    ("upload-concurrency", Upload, "N"),
    ("upload-part-size", Upload, "SIZE"),
    ("upload-delete-unsent-when-full", Upload, ""),
    ("on-upload-done", Hooks, "TARGET"),
    ("push", PushTls, "URL"),
    ("push-ca", PushTls, "FILE"),
    ("tls-listen", PushTls, "ADDR"),
    ("tls-cert", PushTls, "FILE"),
    ("tls-key", PushTls, "FILE"),
];

/// The subcommands: usage and what each does.
pub const SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "check-config PATH",
        "validate a config file: exit 0, or 2 with one PATH:LINE:COLUMN error per problem",
    ),
    (
        "print-config [--config PATH] [flags]",
        "print the effective configuration as TOML (defaults included, secrets redacted)",
    ),
    (
        "repair FILE...",
        "repair FLV and MP4 recordings a crash or power loss left unfinished (.part files are also renamed)",
    ),
    (
        "remux IN.flv OUT.mp4",
        "convert an FLV recording to fragmented MP4 without re-encoding (an existing OUT is refused)",
    ),
];

/// Where the help text starts (flag column width, including the two-space indent).
const COLUMN: usize = 28;
/// Lines are wrapped to this width.
const WIDTH: usize = 80;

/// The `--help` text for `program`.
pub fn render(program: &str) -> String {
    let flags: Vec<Flag> = all_flags().into_iter().filter(|f| f.name != "help").collect();
    let mut out = format!("Usage: {program} [flags]\n");
    let indent = " ".repeat("Usage: ".len());
    for (usage, _) in SUBCOMMANDS {
        out.push_str(&format!("{indent}{program} {usage}\n"));
    }
    out.push_str("\nA small, fast RTMP server that records every published stream (FLV, MP4).\n");
    out.push_str(&wrap(
        "Each long flag is also a key of the --config file, with _ for - (record_dir = \"DIR\" is \
         --record-dir DIR); flags on the command line override the file.",
        0,
        0,
    ));
    for group in Group::ALL {
        let mut entries: Vec<(String, &str)> = Vec::new();
        for (name, _, placeholder) in PLACES.iter().filter(|(_, g, _)| *g == group) {
            if *name == "help" {
                entries.push(("-h, --help".to_owned(), "print this help and exit"));
            } else if let Some(flag) = flags.iter().find(|f| f.name == *name) {
                entries.push((flag_usage(flag, placeholder), flag.help.as_str()));
            }
        }
        if group == Other {
            for flag in flags.iter().filter(|f| place(&f.name).is_none()) {
                entries.push((flag_usage(flag, "VALUE"), flag.help.as_str()));
            }
        }
        if entries.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{}:\n", group.heading()));
        for (usage, help) in entries {
            out.push_str(&entry(&usage, help));
        }
    }
    out.push_str("\nCommands:\n");
    for (usage, help) in SUBCOMMANDS {
        out.push_str(&entry(usage, help));
    }
    out
}

/// The group and placeholder of flag `name`, if placed.
pub fn place(name: &str) -> Option<(Group, &'static str)> {
    PLACES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, group, placeholder)| (*group, *placeholder))
}

/// `--name PLACEHOLDER` (a switch has none; a repeatable flag's ends in `...`).
fn flag_usage(flag: &Flag, placeholder: &str) -> String {
    match flag.kind {
        Kind::Switch => format!("--{}", flag.name),
        Kind::Single => format!("--{} {placeholder}", flag.name),
        Kind::Repeated => format!("--{} {placeholder}...", flag.name),
    }
}

/// One entry: `  usage   help` with the help wrapped into the column, or starting on the next
/// line when the usage is too wide.
fn entry(usage: &str, help: &str) -> String {
    let head = format!("  {usage}");
    if head.len() + 1 >= COLUMN {
        format!("{head}\n{}", wrap(help, 0, COLUMN))
    } else {
        format!("{head}{}", wrap(help, head.len(), COLUMN))
    }
}

/// `text` wrapped to `WIDTH` columns, each line starting at column `indent` (the first line
/// has `used` columns taken already); "(default: X)" is never split. Ends with a newline.
fn wrap(text: &str, used: usize, indent: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match words.last_mut() {
            Some(last) if last == "(default:" => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
    }
    let mut out = " ".repeat(indent.saturating_sub(used));
    let mut width = used.max(indent);
    let mut line_empty = true;
    for word in words {
        if !line_empty && width + 1 + word.len() > WIDTH {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            width = indent;
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            width += 1;
        }
        out.push_str(&word);
        width += word.len();
        line_empty = false;
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_a_place() {
        let unplaced: Vec<String> = all_flags()
            .into_iter()
            .filter(|f| place(&f.name).is_none())
            .map(|f| f.name)
            .collect();
        assert!(
            unplaced.is_empty(),
            "add these flags to PLACES in src/config/help.rs: {unplaced:?}"
        );
    }

    #[test]
    fn places_name_only_existing_flags_once_with_a_placeholder_for_each_option() {
        let flags = all_flags();
        for (name, _, placeholder) in PLACES {
            assert_eq!(PLACES.iter().filter(|(n, _, _)| n == name).count(), 1, "{name} twice");
            if *name == "help" {
                continue;
            }
            let flag = flags.iter().find(|f| f.name == *name);
            let flag = flag.unwrap_or_else(|| panic!("PLACES names --{name}, which does not exist"));
            assert_eq!(
                flag.kind == Kind::Switch,
                placeholder.is_empty(),
                "--{name}: {placeholder:?}"
            );
        }
    }

    #[test]
    fn rendered_help_has_each_flag_once_under_its_heading_and_nothing_under_other() {
        let help = render("rtmp-server");
        assert!(!help.contains("\nOther:\n"), "{help}");
        for flag in all_flags().into_iter().filter(|f| f.name != "help") {
            let starts = help
                .lines()
                .filter(|l| l.strip_prefix("  --").and_then(|r| r.split_whitespace().next()) == Some(&flag.name))
                .count();
            assert_eq!(starts, 1, "--{}: {help}", flag.name);
        }
        assert!(help.contains("\n  -h, --help "), "{help}");
        for line in help.lines() {
            assert!(line.len() <= WIDTH || !line.contains(' '), "too wide: {line}");
        }
    }

    #[test]
    fn long_usage_goes_on_its_own_line_and_help_wraps_in_the_column() {
        let text = entry("--record-reconnect-gap DURATION", &"word ".repeat(30));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  --record-reconnect-gap DURATION");
        assert!(lines[1..]
            .iter()
            .all(|l| l.starts_with(&" ".repeat(COLUMN)) && l.len() <= WIDTH));
        let short = entry("--listen ADDR", "address");
        assert_eq!(short, format!("  --listen ADDR{}address\n", " ".repeat(COLUMN - 15)));
    }
}
