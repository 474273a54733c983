//! `[[app]]` tables of the config file: per-application policy. Each table has
//! `match = "GLOB"` (on `app/stream`, the glob rules of `--record`) and a subset of the
//! top-level keys ([`APP_KEYS`]); a key it sets replaces the top-level value (lists
//! included), a key it leaves out inherits it. The first table that matches wins.

use super::file::{location, top_level_entry, ConfigError, Flag, Location, Settings};
use std::collections::BTreeSet;
use toml::de::DeValue;
use toml::Spanned;

/// The array-of-tables key.
pub const TABLE: &str = "app";
/// The key naming which streams a table applies to.
pub const MATCH_KEY: &str = "match";

/// The top-level keys an `[[app]]` table may set.
pub const APP_KEYS: &[&str] = &[
    "record_all",
    "record_path",
    "record_max_size",
    "record_max_duration",
    "record_from_any_frame",
    "record_reconnect_gap",
    "record_format",
    "push",
    "publish_keys",
    "play_keys",
    "allow_publish",
    "publish_conflict",
    "play_wait_timeout",
    "play_coalesce",
    "on_connect",
    "on_publish",
    "on_publish_done",
    "on_play",
    "on_play_done",
    "on_record_done",
    "on_upload_done",
    "upload",
    "upload_endpoint",
    "upload_region",
    "upload_path_style",
    "upload_credentials_file",
    "upload_delete",
    "upload_concurrency",
    "upload_part_size",
    "upload_delete_unsent_when_full",
    "hls",
    "srt_passphrase_file",
];

/// One `[[app]]` table as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTable {
    /// Where the table starts (its `match` key).
    pub at: Location,
    /// The `match` glob, checked.
    pub pattern: String,
    /// The keys it sets, by flag name (a switch set to true is present with no values).
    pub settings: Settings,
    /// Switches it sets to false, by flag name.
    pub off: BTreeSet<String>,
}

impl AppTable {
    /// `base` (the effective top-level settings) with this table's keys replacing.
    pub fn apply(&self, base: &Settings) -> Settings {
        let mut settings = base.clone().overridden_by(self.settings.clone());
        for name in &self.off {
            settings.values.remove(name);
        }
        settings
    }
}

/// Parses the value of the top-level `app` key: an array of tables.
pub fn parse_tables(
    path: &str,
    text: &str,
    flags: &[Flag],
    value: &Spanned<DeValue<'_>>,
) -> Result<Vec<AppTable>, Vec<ConfigError>> {
    let wrong = |at: usize, key: &str, expected| ConfigError::WrongType {
        at: location(path, text, at),
        key: key.to_owned(),
        expected,
    };
    let DeValue::Array(items) = value.get_ref() else {
        return Err(vec![wrong(value.span().start, TABLE, "[[app]] tables")]);
    };
    let mut tables = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let DeValue::Table(table) = item.get_ref() else {
            errors.push(wrong(item.span().start, TABLE, "[[app]] tables"));
            continue;
        };
        let mut pattern = None;
        let mut app = AppTable {
            at: location(path, text, item.span().start),
            pattern: String::new(),
            settings: Settings::default(),
            off: BTreeSet::new(),
        };
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if name == MATCH_KEY {
                match value.get_ref() {
                    DeValue::String(glob) => match crate::record::options::parse_pattern(glob) {
                        Ok(_) => {
                            pattern = Some(glob.to_string());
                            app.at = location(path, text, key.span().start);
                        }
                        Err(message) => errors.push(ConfigError::BadValue {
                            at: location(path, text, value.span().start),
                            key: format!("{TABLE}.{MATCH_KEY}"),
                            message,
                        }),
                    },
                    _ => errors.push(wrong(
                        value.span().start,
                        "app.match",
                        "a string (a glob on app/stream)",
                    )),
                }
                continue;
            }
            if !APP_KEYS.contains(&name) {
                errors.push(ConfigError::UnknownKey {
                    at: location(path, text, key.span().start),
                    key: format!("{TABLE}.{name}"),
                });
                continue;
            }
            match top_level_entry(path, text, flags, key, value) {
                Ok(Some((flag, values))) => {
                    app.settings.values.insert(flag, values);
                }
                Ok(None) => {
                    app.off.insert(name.replace('_', "-"));
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        match pattern {
            Some(pattern) => {
                app.pattern = pattern;
                tables.push(app);
            }
            None => errors.push(ConfigError::MissingKey {
                at: location(path, text, item.span().start),
                key: format!("{TABLE}.{MATCH_KEY}"),
            }),
        }
    }
    if errors.is_empty() {
        Ok(tables)
    } else {
        Err(errors)
    }
}

/// One `[[app]]` table resolved: its glob and the whole configuration its streams use
/// (the effective top-level settings with the table's keys replacing).
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub pattern: crate::record::options::Pattern,
    /// Where the table is, for log lines.
    pub at: Location,
    pub config: Box<super::Config>,
}

#[cfg(test)]
mod tests {
    use super::super::file::{all_flags, parse_file};
    use super::super::{parse_args, Invocation};

    #[test]
    fn tables_keep_their_keys_and_switches_set_to_false() {
        let text = "record_all = true\n[[app]]\nmatch = \"cams/*\"\nrecord_all = false\npush = []\n";
        let file = parse_file("c.toml", text, &all_flags()).unwrap();
        assert_eq!(file.apps.len(), 1);
        let app = &file.apps[0];
        assert_eq!(app.pattern, "cams/*");
        assert_eq!(app.at.line, 3);
        assert!(app.off.contains("record-all"));
        assert_eq!(app.settings.values.get("push"), Some(&Vec::new()));
        let applied = app.apply(&file.settings);
        assert!(
            !applied.values.contains_key("record-all"),
            "false replaces the top-level true"
        );
    }

    #[test]
    fn each_error_names_its_line_and_key() {
        let text = "[[app]]\nrecord_all = 1\nlisten = \"1.2.3.4:5\"\n[[app]]\nmatch = \"\"\n";
        let errors = parse_file("c.toml", text, &all_flags()).unwrap_err();
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("c.toml:1:1:") && l.contains("app.match")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("c.toml:2:14:") && l.contains("record_all")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("c.toml:3:1:") && l.contains("app.listen")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("c.toml:5:9:") && l.contains("app.match")),
            "{lines:?}"
        );
        assert!(parse_file("c.toml", "app = 3\n", &all_flags()).is_err());
    }

    #[test]
    fn an_app_inherits_what_it_leaves_out_and_replaces_what_it_sets() {
        let dir = std::env::temp_dir().join(format!("apps-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        let text = "record_all = true\npush = [\"rtmp://h/a/{stream}\"]\nplay_wait_timeout = \"5s\"\n\
                    [[app]]\nmatch = \"cams/*\"\npush = []\n[[app]]\nmatch = \"live/*\"\nrecord_all = false\n";
        std::fs::write(&path, text).unwrap();
        let path_text = path.to_str().unwrap();
        let Invocation::Run(config) = parse_args("rtmp-server", &["--config", path_text, "--play-wait-timeout", "7s"])
        else {
            panic!("config refused")
        };
        assert_eq!(config.apps.len(), 2);
        let (cams, live) = (&config.apps[0].config, &config.apps[1].config);
        assert!(config.apps[0].pattern.matches("cams/door"));
        assert!(cams.record_all && cams.push.targets.is_empty());
        assert_eq!(
            cams.play.wait_timeout,
            std::time::Duration::from_secs(7),
            "the command line's value"
        );
        assert!(!live.record_all);
        assert_eq!(live.push.targets.len(), 1);
        assert!(config.record_all && !config.apps_strict);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
