//! `--config PATH`: a TOML file turned into the argv argh already parses, so every long flag
//! has a key (its name with `-` turned into `_`) and a flag added later gets one for free.
//! The flag list is read from argh's own usage line. Values: `true` is a bare switch (`false`
//! leaves it off), strings and numbers are one value, arrays are a repeatable flag's values.
//! Flags on the command line override the file key by key (a repeatable flag given on the
//! command line replaces the file's whole list). Unknown keys, wrong types and values the
//! flag's own parser refuses are errors naming `PATH:LINE:COLUMN` and the key.

use super::Args;
use argh::FromArgs;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// Flags that are not settings and so have no key.
const NOT_KEYS: &[&str] = &["help", "version", "config"];

/// How a flag takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--record-all`: present or not.
    Switch,
    /// `--listen ADDR`: one value.
    Single,
    /// `--push URL`, repeatable.
    Repeated,
}

/// One long flag of `Args`, as argh describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// Without the leading `--`, e.g. `record-dir`.
    pub name: String,
    pub kind: Kind,
    /// Its help text, lines joined.
    pub help: String,
}

impl Flag {
    /// The config file key: `record_dir`.
    pub fn key(&self) -> String {
        self.name.replace('-', "_")
    }

    /// The text after `(default: ` in the help, if any.
    pub fn documented_default(&self) -> Option<&str> {
        let start = self.help.rfind("(default: ")? + "(default: ".len();
        let rest = self.help.get(start..)?;
        rest.find(')').and_then(|end| rest.get(..end))
    }
}

/// argh's help output (usage line and option descriptions).
fn help_text() -> String {
    match Args::from_args(&["rtmp-server"], &["--help"]) {
        Err(exit) => exit.output,
        Ok(_) => String::new(),
    }
}

/// Every long flag of `Args` in declaration order (argh's own `--help` is not among them).
pub fn all_flags() -> Vec<Flag> {
    let help = help_text();
    let usage = help.lines().next().unwrap_or("");
    let mut flags: Vec<Flag> = usage
        .split('[')
        .filter_map(|part| {
            let part = part.strip_prefix("--")?;
            let part = part.split(']').next().unwrap_or(part);
            let (name, value) = part.split_once(' ').unwrap_or((part, ""));
            let kind = match value {
                "" => Kind::Switch,
                v if v.contains("...>") => Kind::Repeated,
                _ => Kind::Single,
            };
            Some(Flag {
                name: name.to_owned(),
                kind,
                help: String::new(),
            })
        })
        .collect();
    // Descriptions: "  --name   text" then deeper-indented continuation lines (which may
    // themselves start with a --flag mentioned in the text).
    let mut current: Option<usize> = None;
    for line in help.lines().skip_while(|l| !l.starts_with("Options:")).skip(1) {
        let trimmed = line.trim_start();
        if let Some(rest) = line.strip_prefix("  --") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            current = flags.iter().position(|f| f.name == name);
            if let Some(flag) = current.and_then(|i| flags.get_mut(i)) {
                flag.help = text.trim().to_owned();
            }
        } else if trimmed.is_empty() || !line.starts_with("   ") {
            // A blank line, or another entry (`  -h, --help, help ...`).
            current = None;
        } else if let Some(flag) = current.and_then(|i| flags.get_mut(i)) {
            if !flag.help.is_empty() {
                flag.help.push(' ');
            }
            flag.help.push_str(trimmed);
        }
    }
    flags
}

/// The flags that have a config key (all but --help, --version and --config).
pub fn key_flags() -> Vec<Flag> {
    all_flags()
        .into_iter()
        .filter(|f| !NOT_KEYS.contains(&f.name.as_str()))
        .collect()
}

/// Where in the file: 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path, self.line, self.column)
    }
}

/// What is wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    Read {
        path: String,
        error: String,
    },
    Syntax {
        at: Location,
        message: String,
    },
    UnknownKey {
        at: Location,
        key: String,
    },
    WrongType {
        at: Location,
        key: String,
        expected: &'static str,
    },
    BadValue {
        at: Location,
        key: String,
        message: String,
    },
    MissingKey {
        at: Location,
        key: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => write!(f, "{path}: cannot read config file: {error}"),
            ConfigError::Syntax { at, message } => write!(f, "{at}: invalid TOML: {message}"),
            ConfigError::UnknownKey { at, key } => {
                write!(f, "{at}: unknown key `{key}`")?;
                if key.contains('-') {
                    write!(f, " (keys use _ for -: `{}`)", key.replace('-', "_"))?;
                }
                Ok(())
            }
            ConfigError::WrongType { at, key, expected } => {
                write!(f, "{at}: key `{key}`: wrong type, expected {expected}")
            }
            ConfigError::BadValue { at, key, message } => write!(f, "{at}: key `{key}`: bad value: {message}"),
            ConfigError::MissingKey { at, key } => write!(f, "{at}: key `{key}` is missing"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// Where it is, if in the file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Syntax { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::WrongType { at, .. }
            | ConfigError::BadValue { at, .. }
            | ConfigError::MissingKey { at, .. } => Some(at),
        }
    }
}

/// Settings by flag name (`record-dir`), in a stable order: a switch that is on has no
/// values; an option has its values (one, or a repeatable flag's list, possibly empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub values: BTreeMap<String, Vec<String>>,
}

impl Settings {
    /// The settings as argv, in `flags` order.
    pub fn to_argv(&self, flags: &[Flag]) -> Vec<String> {
        let mut argv = Vec::new();
        for flag in flags {
            let Some(values) = self.values.get(&flag.name) else {
                continue;
            };
            if flag.kind == Kind::Switch {
                argv.push(format!("--{}", flag.name));
            }
            for value in values {
                argv.push(format!("--{}", flag.name));
                argv.push(value.clone());
            }
        }
        argv
    }

    /// These settings with every key `over` has replaced by its values there.
    pub fn overridden_by(mut self, over: Settings) -> Settings {
        self.values.extend(over.values);
        self
    }

    /// The settings of a command line argh has already accepted (unknown tokens skipped).
    pub fn from_argv(flags: &[Flag], args: &[&str]) -> Settings {
        let mut settings = Settings::default();
        let mut tokens = args.iter();
        while let Some(token) = tokens.next() {
            let Some(flag) = token
                .strip_prefix("--")
                .and_then(|n| flags.iter().find(|f| f.name == n))
            else {
                continue;
            };
            let entry = settings.values.entry(flag.name.clone()).or_default();
            match flag.kind {
                Kind::Switch => {}
                Kind::Single => *entry = tokens.next().map(|v| vec![(*v).to_owned()]).unwrap_or_default(),
                Kind::Repeated => entry.extend(tokens.next().map(|v| (*v).to_owned())),
            }
        }
        settings
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub(super) fn location(path: &str, text: &str, offset: usize) -> Location {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        path: path.to_owned(),
        line: before.matches('\n').count() + 1,
        column: before.get(line_start..).map_or(0, |l| l.chars().count()) + 1,
    }
}

/// Runs the flag's own parser on one value: argh's message without its prefix on error.
fn check_value(flag: &Flag, value: &str) -> Result<(), String> {
    let option = format!("--{}", flag.name);
    match Args::from_args(&["rtmp-server"], &[option.as_str(), value]) {
        Ok(_) => Ok(()),
        Err(exit) => {
            let line = exit.output.lines().next().unwrap_or("invalid value").trim().to_owned();
            // "Error parsing option '--x' with value 'v': message": the value may be a secret.
            Err(match line.find("': ") {
                Some(i) if line.starts_with("Error parsing option") => line.get(i + 3..).unwrap_or("").to_owned(),
                _ => line,
            })
        }
    }
}

/// A scalar as the flag's text value, or None for a non-scalar.
fn scalar_text(value: &DeValue<'_>) -> Option<String> {
    match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => match i.radix() {
            10 => Some(i.as_str().to_owned()),
            radix => i64::from_str_radix(i.as_str(), radix).ok().map(|n| n.to_string()),
        },
        DeValue::Float(f) => Some(f.as_str().to_owned()),
        _ => None,
    }
}

/// What a config file holds: top-level settings and its tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConfig {
    pub settings: Settings,
    /// `[[app]]` tables, in file order (first match wins).
    pub apps: Vec<super::apps::AppTable>,
    /// `[[source]]` tables, in file order.
    pub sources: Vec<super::sources::SourceTable>,
}

/// Parses config file text (`path` only names it in errors) into top-level settings, or
/// every error.
pub fn parse(path: &str, text: &str, flags: &[Flag]) -> Result<Settings, Vec<ConfigError>> {
    parse_file(path, text, flags).map(|file| file.settings)
}

/// Parses config file text (`path` only names it in errors), tables included, or every error.
pub fn parse_file(path: &str, text: &str, flags: &[Flag]) -> Result<FileConfig, Vec<ConfigError>> {
    let table = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        vec![ConfigError::Syntax {
            at: location(path, text, offset),
            message: e.message().lines().next().unwrap_or("syntax error").trim().to_owned(),
        }]
    })?;
    let mut file = FileConfig::default();
    let mut errors = Vec::new();
    for (key, value) in table.get_ref().iter() {
        let tables = match key.get_ref().as_ref() {
            super::apps::TABLE => super::apps::parse_tables(path, text, flags, value).map(|t| file.apps = t),
            super::sources::TABLE => super::sources::parse_tables(path, text, value).map(|t| file.sources = t),
            _ => match top_level_entry(path, text, flags, key, value) {
                Ok(Some((name, values))) => {
                    file.settings.values.insert(name, values);
                    Ok(())
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
        };
        if let Err(mut e) = tables {
            errors.append(&mut e);
        }
    }
    errors.sort_by_key(|e| e.location().map(|at| (at.line, at.column)));
    if errors.is_empty() {
        Ok(file)
    } else {
        Err(errors)
    }
}

/// One top-level `key = value`: the flag's name and values (None: a switch set to false).
pub(super) fn top_level_entry(
    path: &str,
    text: &str,
    flags: &[Flag],
    key: &Spanned<std::borrow::Cow<'_, str>>,
    value: &Spanned<DeValue<'_>>,
) -> Result<Option<(String, Vec<String>)>, Vec<ConfigError>> {
    {
        let name = key.get_ref().replace('_', "-");
        let flag = flags
            .iter()
            .find(|f| f.name == name && !key.get_ref().contains('-') && !NOT_KEYS.contains(&f.name.as_str()));
        let Some(flag) = flag else {
            return Err(vec![ConfigError::UnknownKey {
                at: location(path, text, key.span().start),
                key: key.get_ref().to_string(),
            }]);
        };
        Ok(entry_values(path, text, flag, value)?.map(|values| (flag.name.clone(), values)))
    }
}

/// The values of one known key (None: a switch set to false), each checked by the flag's parser.
fn entry_values(
    path: &str,
    text: &str,
    flag: &Flag,
    value: &Spanned<DeValue<'_>>,
) -> Result<Option<Vec<String>>, Vec<ConfigError>> {
    let key = flag.key();
    let wrong = |at: usize, expected| ConfigError::WrongType {
        at: location(path, text, at),
        key: key.clone(),
        expected,
    };
    let items: Vec<&Spanned<DeValue<'_>>> = match (flag.kind, value.get_ref()) {
        (Kind::Switch, DeValue::Boolean(on)) => return Ok(on.then(Vec::new)),
        (Kind::Switch, _) => return Err(vec![wrong(value.span().start, "true or false")]),
        (Kind::Repeated, DeValue::Array(items)) => items.iter().collect(),
        (Kind::Repeated, _) => return Err(vec![wrong(value.span().start, "an array of strings")]),
        (Kind::Single, _) => vec![value],
    };
    let expected = match flag.kind {
        Kind::Repeated => "an array of strings",
        _ => "a string or number",
    };
    let mut values = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let at = item.span().start;
        match scalar_text(item.get_ref()) {
            None => errors.push(wrong(at, expected)),
            Some(text_value) => match check_value(flag, &text_value) {
                Ok(()) => values.push(text_value),
                Err(message) => errors.push(ConfigError::BadValue {
                    at: location(path, text, at),
                    key: key.clone(),
                    message,
                }),
            },
        }
    }
    if errors.is_empty() {
        Ok(Some(values))
    } else {
        Err(errors)
    }
}

/// Reads and parses the file at `path`.
pub fn load(path: &Path, flags: &[Flag]) -> Result<FileConfig, Vec<ConfigError>> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError::Read {
            path: shown.clone(),
            error: e.to_string(),
        }]
    })?;
    parse_file(&shown, &text, flags)
}

/// The file of `--config PATH` (if `args` has one) with its top-level settings overridden
/// by the rest of `args` (a command line argh has accepted).
pub fn effective(args: &[&str]) -> Result<FileConfig, Vec<ConfigError>> {
    let flags = all_flags();
    let mut cli = Settings::from_argv(&flags, args);
    let file = match cli.values.remove("config").and_then(|v| v.into_iter().last()) {
        Some(path) => load(Path::new(&path), &flags)?,
        None => FileConfig::default(),
    };
    Ok(FileConfig {
        settings: file.settings.overridden_by(cli),
        ..file
    })
}

/// The settings of `--config PATH` (if `args` has one) overridden by the rest of `args`.
pub fn effective_settings(args: &[&str]) -> Result<Settings, Vec<ConfigError>> {
    effective(args).map(|file| file.settings)
}
