//! `[[source]]` tables of the config file: supervised source commands. Each table has a
//! `name` (letters, digits, `-`, `_`, `.`; unique), a `command` (argv, no shell: the program
//! is looked up in PATH as execvp does), and optionally `on_demand = "app/stream"` (run only
//! while that stream has players) with `on_demand_idle` (how long after the last player
//! leaves it is stopped). Also the URL redaction the sources' log lines and print-config use
//! (a camera URL's `user:password@` and query are secrets).

use super::file::{location, ConfigError};
use std::collections::BTreeSet;
use std::time::Duration;
use toml::de::DeValue;
use toml::Spanned;

/// The array-of-tables key.
pub const TABLE: &str = "source";
/// How long an on-demand source keeps running after its last player left, by default.
pub const DEFAULT_ON_DEMAND_IDLE: Duration = Duration::from_secs(10);
/// Longest source name (it is a log prefix and a metrics label).
pub const MAX_NAME_LEN: usize = 64;

/// One `[[source]]` table as written (two tables are the same definition when equal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceTable {
    pub name: String,
    /// The program and its arguments; never empty.
    pub command: Vec<String>,
    /// `app/stream`: run only while this stream has players.
    pub on_demand: Option<String>,
    /// How long after the last player left an on-demand source is stopped.
    pub on_demand_idle: Duration,
}

/// Checks a source name: 1..=64 of letters, digits, `-`, `_`, `.`.
pub fn check_name(name: &str) -> Result<(), String> {
    let fine = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(fine) {
        return Err(format!("expected 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'"));
    }
    Ok(())
}

/// Checks an `on_demand` value: `app/stream`, both parts non-empty.
pub fn check_on_demand(value: &str) -> Result<(), String> {
    match value.split_once('/') {
        Some((app, stream)) if !app.is_empty() && !stream.is_empty() && !stream.contains('/') => Ok(()),
        _ => Err("expected app/stream, e.g. \"cams/door\"".to_owned()),
    }
}

/// A table being read: what it set so far.
#[derive(Default)]
struct Draft {
    name: Option<(String, usize)>,
    command: Option<Vec<String>>,
    on_demand: Option<String>,
    on_demand_idle: Option<Duration>,
}

/// Parses the value of the top-level `source` key: an array of tables.
pub fn parse_tables(
    path: &str,
    text: &str,
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<SourceTable>, Vec<ConfigError>> {
    let wrong = |at: usize, key: &str, expected| ConfigError::WrongType {
        at: location(path, text, at),
        key: format!("{TABLE}.{key}"),
        expected,
    };
    let bad = |at: usize, key: &str, message: String| ConfigError::BadValue {
        at: location(path, text, at),
        key: format!("{TABLE}.{key}"),
        message,
    };
    let DeValue::Array(items) = value.get_ref() else {
        return Err(vec![ConfigError::WrongType {
            at: location(path, text, value.span().start),
            key: TABLE.to_owned(),
            expected: "[[source]] tables",
        }]);
    };
    let mut tables = Vec::new();
    let mut errors = Vec::new();
    let mut names = BTreeSet::new();
    for item in items {
        let DeValue::Table(table) = item.get_ref() else {
            errors.push(ConfigError::WrongType {
                at: location(path, text, item.span().start),
                key: TABLE.to_owned(),
                expected: "[[source]] tables",
            });
            continue;
        };
        let mut draft = Draft::default();
        let earlier = errors.len();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let at = value.span().start;
            match (name, value.get_ref()) {
                ("name", DeValue::String(s)) => match check_name(s) {
                    Ok(()) => draft.name = Some((s.to_string(), at)),
                    Err(message) => errors.push(bad(at, name, message)),
                },
                ("name", _) => errors.push(wrong(at, name, "a string")),
                ("command", DeValue::Array(parts)) => {
                    let strings: Vec<Option<String>> = parts
                        .iter()
                        .map(|p| match p.get_ref() {
                            DeValue::String(s) => Some(s.to_string()),
                            _ => None,
                        })
                        .collect();
                    if strings.iter().any(Option::is_none) {
                        errors.push(wrong(at, name, "an array of strings"));
                    } else {
                        let command: Vec<String> = strings.into_iter().flatten().collect();
                        match command.first() {
                            Some(program) if !program.is_empty() => draft.command = Some(command),
                            _ => errors.push(bad(at, name, "expected a program and its arguments".to_owned())),
                        }
                    }
                }
                ("command", _) => errors.push(wrong(at, name, "an array of strings (no shell)")),
                ("on_demand", DeValue::String(s)) => match check_on_demand(s) {
                    Ok(()) => draft.on_demand = Some(s.to_string()),
                    Err(message) => errors.push(bad(at, name, message)),
                },
                ("on_demand", _) => errors.push(wrong(at, name, "a string (app/stream)")),
                ("on_demand_idle", DeValue::String(s)) => match crate::record::options::parse_duration(s) {
                    Ok(idle) => draft.on_demand_idle = Some(idle),
                    Err(message) => errors.push(bad(at, name, message)),
                },
                ("on_demand_idle", DeValue::Integer(i)) => {
                    match crate::record::options::parse_duration(i.as_str())
                        .ok()
                        .filter(|_| i.radix() == 10)
                    {
                        Some(idle) => draft.on_demand_idle = Some(idle),
                        None => errors.push(bad(at, name, "expected a number of seconds".to_owned())),
                    }
                }
                ("on_demand_idle", _) => errors.push(wrong(at, name, "a duration such as \"10s\"")),
                _ => errors.push(ConfigError::UnknownKey {
                    at: location(path, text, key.span().start),
                    key: format!("{TABLE}.{name}"),
                }),
            }
        }
        let start = item.span().start;
        let missing = |key: &str| ConfigError::MissingKey {
            at: location(path, text, start),
            key: format!("{TABLE}.{key}"),
        };
        if draft.on_demand_idle.is_some() && draft.on_demand.is_none() {
            errors.push(bad(
                start,
                "on_demand_idle",
                "only applies with on_demand = \"app/stream\"".to_owned(),
            ));
        }
        match (draft.name, draft.command) {
            (Some((name, at)), Some(command)) => {
                if !names.insert(name.clone()) {
                    errors.push(bad(at, "name", format!("duplicate source name {name:?}")));
                    continue;
                }
                tables.push(SourceTable {
                    name,
                    command,
                    on_demand: draft.on_demand,
                    on_demand_idle: draft.on_demand_idle.unwrap_or(DEFAULT_ON_DEMAND_IDLE),
                });
            }
            (name, command) => {
                let said = |errors: &[ConfigError], key| errors.iter().skip(earlier).any(|e| is_error_for(e, key));
                if name.is_none() && !said(&errors, "name") {
                    errors.push(missing("name"));
                }
                if command.is_none() && !said(&errors, "command") {
                    errors.push(missing("command"));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(tables)
    } else {
        Err(errors)
    }
}

/// True if `error` is about `source.KEY` (a bad value already said what is wrong with it).
fn is_error_for(error: &ConfigError, key: &str) -> bool {
    let full = format!("{TABLE}.{key}");
    matches!(error, ConfigError::WrongType { key: k, .. } | ConfigError::BadValue { key: k, .. } if *k == full)
}

/// `text` with every URL's `user:password@` and query replaced by `***` (a camera's password,
/// a stream key in `?key=...`), for log lines and print-config.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let url_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>'))
            .unwrap_or(tail.len());
        let (url, after) = tail.split_at(url_end);
        let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let (authority, path) = url.split_at(authority_end);
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(authority.get(at..).unwrap_or(""));
            }
            None => out.push_str(authority),
        }
        match path.split_once('?') {
            Some((path, _)) => {
                out.push_str(path);
                out.push_str("?***");
            }
            None => out.push_str(path),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::file::{all_flags, parse_file};
    use super::*;

    fn errors_of(text: &str) -> Vec<String> {
        parse_file("c.toml", text, &all_flags())
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn tables_are_read_with_defaults() {
        let text = "[[source]]\nname = \"door\"\ncommand = [\"ffmpeg\", \"-i\", \"rtsp://cam/1\"]\n\
                    [[source]]\nname = \"yard\"\ncommand = [\"cat\"]\non_demand = \"cams/yard\"\n\
                    [[source]]\nname = \"gate\"\ncommand = [\"cat\"]\non_demand = \"cams/gate\"\non_demand_idle = \"1m30s\"\n\
                    [[source]]\nname = \"dock\"\ncommand = [\"cat\"]\non_demand = \"cams/dock\"\non_demand_idle = 3\n";
        let file = parse_file("c.toml", text, &all_flags()).unwrap();
        let sources = file.sources;
        assert_eq!(sources.len(), 4);
        assert_eq!(sources[0].name, "door");
        assert_eq!(sources[0].command, vec!["ffmpeg", "-i", "rtsp://cam/1"]);
        assert_eq!(sources[0].on_demand, None);
        assert_eq!(sources[1].on_demand.as_deref(), Some("cams/yard"));
        assert_eq!(sources[1].on_demand_idle, DEFAULT_ON_DEMAND_IDLE);
        assert_eq!(sources[2].on_demand_idle, Duration::from_secs(90));
        assert_eq!(sources[3].on_demand_idle, Duration::from_secs(3));
    }

    #[test]
    fn each_error_names_its_place_and_key() {
        let lines = errors_of(
            "[[source]]\nname = \"a\"\ncommand = []\n\
             [[source]]\nname = \"a\"\ncommand = [\"x\"]\ncolour = 1\n\
             [[source]]\ncommand = [\"x\"]\n\
             [[source]]\nname = \"b\"\n\
             [[source]]\nname = \"a\"\ncommand = [\"x\"]\n\
             [[source]]\nname = \"c d\"\ncommand = \"x y\"\non_demand = \"door\"\n\
             [[source]]\nname = \"e\"\ncommand = [\"x\"]\non_demand_idle = \"soon\"\n",
        );
        let has = |prefix: &str, key: &str| {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(prefix) && l.contains(&format!("`{key}`"))),
                "{prefix} {key}: {lines:?}"
            );
        };
        has("c.toml:3:11:", "source.command"); // empty
        has("c.toml:7:1:", "source.colour"); // unknown key
        has("c.toml:8:1:", "source.name"); // missing name
        has("c.toml:10:1:", "source.command"); // missing command
        has("c.toml:13:8:", "source.name"); // duplicate
        has("c.toml:16:8:", "source.name"); // bad name
        has("c.toml:17:11:", "source.command"); // not an array
        has("c.toml:18:13:", "source.on_demand");
        has("c.toml:22:18:", "source.on_demand_idle");
        assert!(lines.iter().any(|l| l.contains("duplicate source name")), "{lines:?}");
        assert!(!errors_of("source = 3\n").is_empty());
        assert!(!errors_of("source = [1]\n").is_empty());
    }

    #[test]
    fn print_config_shows_the_tables_as_they_parse_back() {
        let text = "[[source]]\nname = \"door\"\ncommand = [\"ffmpeg\", \"-i\", \"rtsp://u:pw@cam/1\"]\n\
                    [[source]]\nname = \"yard\"\ncommand = [\"cat\", \"a \\\"b\\\"\"]\non_demand = \"cams/yard\"\non_demand_idle = \"1500ms\"\n";
        let tables = parse_file("c.toml", text, &all_flags()).unwrap().sources;
        let printed = super::super::print::render_sources(&tables);
        assert!(!printed.contains("pw"), "{printed}");
        let back = parse_file("c.toml", &printed, &all_flags()).unwrap().sources;
        assert_eq!(back[1], tables[1]);
        assert_eq!(back[0].command[2], "rtsp://***@cam/1");
    }

    #[test]
    fn urls_lose_their_passwords_and_queries() {
        assert_eq!(
            redact_urls("Input #0, rtsp, from 'rtsp://admin:pw@10.0.0.5:554/stream1?channel=1':"),
            "Input #0, rtsp, from 'rtsp://***@10.0.0.5:554/stream1?***':"
        );
        assert_eq!(redact_urls("rtmp://127.0.0.1/cams/door"), "rtmp://127.0.0.1/cams/door");
        assert_eq!(
            redact_urls("a rtmp://h/app/s?key=1 b http://u@h c"),
            "a rtmp://h/app/s?*** b http://***@h c"
        );
        assert_eq!(redact_urls("no urls here"), "no urls here");
    }
}
